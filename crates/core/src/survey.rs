//! Surveys: what a survey may ask, who it goes to, when it takes answers,
//! what an answer must be, and its results.
//!
//! The programme builds a survey from five kinds of question. A survey goes
//! to one audience (an engagement's people, every member of the community,
//! or anyone with its public link) and takes answers from its open date to
//! its close date, both counted in the programme's time zone. It is
//! anonymous or named, as it says from the start: an anonymous answer keeps
//! its date and its answers and nothing else (the store keeps that promise;
//! the rules here say what an answer is).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::people::{AgencyId, EngagementId};
use crate::text::{check_line, check_text};
use crate::{Actor, parse_date};

pub const MAX_TITLE: usize = 150;
pub const MAX_INTRO: usize = 2_000;
pub const MAX_QUESTIONS: usize = 40;
pub const MAX_QUESTION: usize = 300;
pub const MAX_HINT: usize = 300;
pub const MAX_CHOICES: usize = 12;
pub const MAX_CHOICE: usize = 120;
/// The most characters a free-text answer may have.
pub const MAX_ANSWER: usize = 5_000;

/// Each question's field name in errors and forms ("q1" is the first), so
/// that an error names the question it is about.
pub const FIELDS: [&str; MAX_QUESTIONS] = [
    "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11", "q12", "q13", "q14", "q15",
    "q16", "q17", "q18", "q19", "q20", "q21", "q22", "q23", "q24", "q25", "q26", "q27", "q28",
    "q29", "q30", "q31", "q32", "q33", "q34", "q35", "q36", "q37", "q38", "q39", "q40",
];

/// What a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SurveyQuestionKind))]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// 1 (lowest) to 5 (highest).
    Rating,
    /// Net Promoter: 0 to 10, "how likely are you to recommend".
    Nps,
    /// One of its choices.
    Single,
    /// Any of its choices.
    Multiple,
    /// Words.
    Text,
}

impl QuestionKind {
    pub const ALL: [QuestionKind; 5] = [
        QuestionKind::Rating,
        QuestionKind::Nps,
        QuestionKind::Single,
        QuestionKind::Multiple,
        QuestionKind::Text,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            QuestionKind::Rating => "rating",
            QuestionKind::Nps => "nps",
            QuestionKind::Single => "single",
            QuestionKind::Multiple => "multiple",
            QuestionKind::Text => "text",
        }
    }

    pub fn from_slug(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.slug() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            QuestionKind::Rating => "Rating, 1 to 5",
            QuestionKind::Nps => "Likely to recommend, 0 to 10",
            QuestionKind::Single => "One choice",
            QuestionKind::Multiple => "Any number of choices",
            QuestionKind::Text => "Free text",
        }
    }

    /// Whether the question lists its own choices.
    pub fn has_choices(self) -> bool {
        matches!(self, QuestionKind::Single | QuestionKind::Multiple)
    }

    /// The scale's values, for the two kinds that have one.
    pub fn scale(self) -> Option<std::ops::RangeInclusive<u8>> {
        match self {
            QuestionKind::Rating => Some(1..=5),
            QuestionKind::Nps => Some(0..=10),
            _ => None,
        }
    }
}

/// One question of a survey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SurveyQuestion))]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub kind: QuestionKind,
    #[cfg_attr(feature = "openapi", schema(max_length = 300))]
    pub text: String,
    /// Shown under the question; may be empty.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 300))]
    pub hint: String,
    #[serde(default)]
    pub required: bool,
    /// A single or multiple choice question's choices, 2 to 12; none for
    /// the other kinds.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 12))]
    pub choices: Vec<String>,
}

/// What a survey asks and when. The same shape arrives from a form or the
/// API and is kept once checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SurveyDefinition))]
#[serde(deny_unknown_fields)]
pub struct Definition {
    #[cfg_attr(feature = "openapi", schema(max_length = 150))]
    pub title: String,
    /// What respondents read first; may be empty.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub intro: String,
    /// Answers keep nothing that says who gave them.
    pub anonymous: bool,
    /// The first day answers are taken (`YYYY-MM-DD`).
    pub opens_on: String,
    /// The last day answers are taken.
    pub closes_on: String,
    #[cfg_attr(feature = "openapi", schema(max_items = 40))]
    pub questions: Vec<Question>,
}

/// Who a survey goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SurveyAudience))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Audience {
    /// The people taking part in one engagement, each invited by mail.
    Engagement {
        #[cfg_attr(feature = "openapi", schema(value_type = i64))]
        engagement: EngagementId,
    },
    /// Every person with an account, each invited by mail.
    Community,
    /// Anyone with its link: one answer per browser session.
    Public,
}

impl Audience {
    pub fn label(&self) -> String {
        match self {
            Audience::Engagement { engagement } => {
                format!("The people of engagement {}", engagement.0)
            }
            Audience::Community => "Every member of the community".into(),
            Audience::Public => "Anyone with the public link".into(),
        }
    }

    /// Whether invitations go by mail, each with its own link.
    pub fn invites(&self) -> bool {
        !matches!(self, Audience::Public)
    }
}

/// Checks a survey's definition, naming every problem at once. A draft may
/// have no questions yet; [`ready`] says whether it may be sent.
pub fn check(d: &Definition) -> Result<Definition, Vec<DomainError>> {
    let mut problems = Vec::new();
    let mut keep = |r: Result<String, DomainError>| match r {
        Ok(v) => v,
        Err(e) => {
            problems.push(e);
            String::new()
        }
    };
    let title = keep(check_line("title", &d.title, MAX_TITLE));
    let intro = keep(check_text("intro", &d.intro, MAX_INTRO));
    let opens = keep(date("opens_on", &d.opens_on));
    let closes = keep(date("closes_on", &d.closes_on));
    if title.is_empty() && !problems.iter().any(|p| field_of(p) == Some("title")) {
        problems.push(DomainError::invalid("title", "Give the survey a title"));
    }
    if !opens.is_empty() && !closes.is_empty() && closes < opens {
        problems.push(DomainError::invalid(
            "closes_on",
            format!(
                "closes before it opens: choose a day on or after {}",
                crate::benefit::spoken(&opens)
            ),
        ));
    }
    if d.questions.len() > MAX_QUESTIONS {
        problems.push(DomainError::invalid(
            "questions",
            format!(
                "has {} questions: a survey has at most {MAX_QUESTIONS}",
                d.questions.len()
            ),
        ));
    }
    let mut questions = Vec::new();
    for (q, field) in d.questions.iter().zip(FIELDS) {
        match question(field, q) {
            Ok(q) => questions.push(q),
            Err(e) => problems.push(e),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Definition {
        title,
        intro,
        anonymous: d.anonymous,
        opens_on: opens,
        closes_on: closes,
        questions,
    })
}

fn field_of(e: &DomainError) -> Option<&'static str> {
    match e {
        DomainError::Invalid { field, .. } => Some(field),
        _ => None,
    }
}

fn date(field: &'static str, raw: &str) -> Result<String, DomainError> {
    let (y, m, d) = parse_date(field, raw)?;
    Ok(format!("{y:04}-{m:02}-{d:02}"))
}

/// One question checked; its problem names the question ("q3") and says
/// what is wrong with which part.
fn question(field: &'static str, q: &Question) -> Result<Question, DomainError> {
    let bad = |what: String| DomainError::invalid(field, what);
    let text = check_line(field, &q.text, MAX_QUESTION)
        .map_err(|e| bad(format!("its question {}", message_of(&e))))?;
    if text.is_empty() {
        return Err(bad("write the question".into()));
    }
    let hint = check_line(field, &q.hint, MAX_HINT)
        .map_err(|e| bad(format!("its hint {}", message_of(&e))))?;
    let mut choices: Vec<String> = Vec::new();
    if q.kind.has_choices() {
        if q.choices.len() > MAX_CHOICES {
            return Err(bad(format!(
                "has {} choices: at most {MAX_CHOICES}",
                q.choices.len()
            )));
        }
        for c in &q.choices {
            let c = check_line(field, c, MAX_CHOICE)
                .map_err(|e| bad(format!("a choice {}", message_of(&e))))?;
            if c.is_empty() {
                continue;
            }
            if choices.iter().any(|x| x.to_lowercase() == c.to_lowercase()) {
                return Err(bad(format!("lists the choice “{c}” twice")));
            }
            choices.push(c);
        }
        if choices.len() < 2 {
            return Err(bad("give at least two choices, one a line".into()));
        }
    } else if q.choices.iter().any(|c| !c.trim().is_empty()) {
        return Err(bad(format!(
            "is a “{}” question, which has no choices of its own",
            q.kind.label()
        )));
    }
    Ok(Question {
        kind: q.kind,
        text,
        hint,
        required: q.required,
        choices,
    })
}

fn message_of(e: &DomainError) -> String {
    match e {
        DomainError::Invalid { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// A new survey's dates: open from `today` for four weeks.
pub fn default_dates(today: &str) -> (String, String) {
    let closes = chrono::NaiveDate::parse_from_str(today, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.checked_add_days(chrono::Days::new(27)))
        .map_or_else(|| today.to_string(), |d| d.format("%Y-%m-%d").to_string());
    (today.to_string(), closes)
}

/// Whether a survey may be sent on `today`: it asks something, and its
/// close date has not passed (an invitation no one can answer is noise).
pub fn ready(d: &Definition, today: &str) -> Result<(), DomainError> {
    if d.questions.is_empty() {
        return Err(DomainError::invalid(
            "questions",
            "add at least one question before sending the survey",
        ));
    }
    if d.closes_on.as_str() < today {
        return Err(DomainError::invalid(
            "closes_on",
            format!(
                "it closed on {}: move the close date to today or later before sending it",
                crate::benefit::spoken(&d.closes_on)
            ),
        ));
    }
    Ok(())
}

/// The fewest answers an anonymous survey's results are shown with: with
/// fewer, one respondent could tell another's answers from their own.
pub const MIN_ANONYMOUS: u64 = 3;

/// Why results are not shown yet, if they are not. An anonymous survey's
/// wait for [`MIN_ANONYMOUS`] answers; an agency sees an anonymous survey's
/// results once it has closed, so no answer can be matched to when it
/// came by watching them change.
pub fn withheld(d: &Definition, responses: u64, programme: bool, phase: Phase) -> Option<String> {
    if !d.anonymous {
        return None;
    }
    if responses < MIN_ANONYMOUS {
        return Some(format!(
            "The results appear once at least {MIN_ANONYMOUS} people have answered, so that no one's answers can be told apart ({responses} so far)."
        ));
    }
    if !programme && phase != Phase::Closed {
        return Some(format!(
            "Your agency sees the results once the survey closes after {}, so that no answer can be matched to when it came.",
            crate::benefit::spoken(&d.closes_on)
        ));
    }
    None
}

/// Who may build, send, close and see every survey: the programme.
pub fn may_manage(actor: &Actor) -> Result<(), DomainError> {
    if actor.is_programme() {
        Ok(())
    } else {
        Err(DomainError::Forbidden {
            action: "manage surveys",
            why: "only the programme builds and sends surveys",
        })
    }
}

/// Who may see a survey's results: the programme, and for a survey sent to
/// an engagement's people, the members of that engagement's agency.
pub fn may_see_results(actor: &Actor, agency: Option<AgencyId>) -> bool {
    actor.is_programme() || agency.is_some_and(|a| actor.member_of(a))
}

/// Who a survey's invitations go to, of `people` (read by the store for the
/// audience): for an engagement, those taking part in it other than the
/// programme, whose work the survey asks about; for the community, every
/// person with an account. Never anyone who has left.
pub fn invitees<'p>(
    audience: &Audience,
    engagement: Option<&crate::Engagement>,
    people: &'p [crate::Person],
) -> Vec<&'p crate::Person> {
    people
        .iter()
        .filter(|p| p.deactivated_at.is_none())
        .filter(|p| match (audience, engagement) {
            (Audience::Engagement { .. }, Some(e)) => {
                crate::command::takes_part(e, p)
                    && !p.roles.iter().any(|r| {
                        matches!(r, crate::Role::ProgrammeAdmin | crate::Role::ProgrammeStaff)
                    })
            }
            (Audience::Community, _) => true,
            _ => false,
        })
        .collect()
}

/// Where a survey is in its life, on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SurveyPhase))]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Being built: not sent, and changeable.
    Draft,
    /// Sent, and its open date is still to come.
    Scheduled,
    /// Taking answers.
    Open,
    /// Past its close date, or closed early.
    Closed,
}

impl Phase {
    pub fn of(sent: bool, closed_early: bool, d: &Definition, today: &str) -> Phase {
        if !sent {
            Phase::Draft
        } else if closed_early || today > d.closes_on.as_str() {
            Phase::Closed
        } else if today < d.opens_on.as_str() {
            Phase::Scheduled
        } else {
            Phase::Open
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Phase::Draft => "Draft",
            Phase::Scheduled => "Sent, opens later",
            Phase::Open => "Open",
            Phase::Closed => "Closed",
        }
    }
}

/// Whether an answer may be given now, and if not, why in words.
pub fn may_answer(phase: Phase, d: &Definition, closed_early: bool) -> Result<(), DomainError> {
    match phase {
        Phase::Closed if closed_early => Err(DomainError::rule(
            "The programme has closed this survey, so it takes no more answers.",
        )),
        Phase::Open => Ok(()),
        Phase::Draft => Err(DomainError::NotFound),
        Phase::Scheduled => Err(DomainError::rule(format!(
            "This survey opens on {}: come back then.",
            crate::benefit::spoken(&d.opens_on)
        ))),
        Phase::Closed => Err(DomainError::rule(format!(
            "This survey closed on {}, so it takes no more answers.",
            crate::benefit::spoken(&d.closes_on)
        ))),
    }
}

/// Whether a draft may change, or be sent.
pub fn may_change(sent: bool) -> Result<(), DomainError> {
    if sent {
        Err(DomainError::rule(
            "This survey has been sent, so its questions stay as they were asked. Copy it to ask something else.",
        ))
    } else {
        Ok(())
    }
}

/// Whether a closed survey may take answers again. An anonymous one may
/// not: its results, seen before and after, would tell a late answer apart.
pub fn may_reopen(d: &Definition, phase: Phase) -> Result<(), DomainError> {
    if d.anonymous && phase == Phase::Closed {
        Err(DomainError::rule(
            "An anonymous survey stays closed once it has closed: its results seen before and after would show what a late answer said. Start a new survey instead.",
        ))
    } else {
        Ok(())
    }
}

/// A close date moved once sent: it may only be on or after today, so no
/// one is shut out by surprise, and on or after the open date.
pub fn check_close(d: &Definition, raw: &str, today: &str) -> Result<String, DomainError> {
    let closes = date("closes_on", raw)?;
    let floor = d.opens_on.as_str().max(today);
    if closes.as_str() < floor {
        return Err(DomainError::invalid(
            "closes_on",
            format!("choose a day on or after {}", crate::benefit::spoken(floor)),
        ));
    }
    Ok(closes)
}

/// One question's answer, as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SurveyAnswer))]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// An optional question left empty.
    Skipped,
    /// A rating or a likelihood to recommend.
    Score(u8),
    /// The chosen choice's place, from 0.
    Choice(u16),
    /// The chosen choices' places, from 0, in order.
    Choices(Vec<u16>),
    Text(String),
}

/// Reads what someone answered: `given[i]` holds what was sent for the
/// i-th question (a form's values, or the API's). Every problem is named
/// at once, each by its question's field.
pub fn answers(d: &Definition, given: &[Vec<String>]) -> Result<Vec<Answer>, Vec<DomainError>> {
    let mut out = Vec::with_capacity(d.questions.len());
    let mut problems = Vec::new();
    if given.len() > d.questions.len() {
        problems.push(DomainError::invalid(
            "answers",
            format!(
                "has {} answers, but the survey asks {} questions",
                given.len(),
                d.questions.len()
            ),
        ));
    }
    let none = Vec::new();
    for (i, (q, field)) in d.questions.iter().zip(FIELDS).enumerate() {
        let values: Vec<&str> = given
            .get(i)
            .unwrap_or(&none)
            .iter()
            .map(|v| v.as_str())
            .filter(|v| !v.trim().is_empty())
            .collect();
        match one(field, q, &values) {
            Ok(a) => out.push(a),
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn one(field: &'static str, q: &Question, values: &[&str]) -> Result<Answer, DomainError> {
    if values.is_empty() {
        return if q.required {
            Err(DomainError::invalid(
                field,
                "answer this question: it is required",
            ))
        } else {
            Ok(Answer::Skipped)
        };
    }
    let single = || match values {
        [v] => Ok(*v),
        _ => Err(DomainError::invalid(field, "choose one answer")),
    };
    match q.kind {
        QuestionKind::Rating | QuestionKind::Nps => {
            let range = q.kind.scale().unwrap_or(0..=0);
            let v = single()?;
            match v.trim().parse::<u8>() {
                Ok(n) if range.contains(&n) => Ok(Answer::Score(n)),
                _ => Err(DomainError::invalid(
                    field,
                    format!("choose a number from {} to {}", range.start(), range.end()),
                )),
            }
        }
        QuestionKind::Single => Ok(Answer::Choice(choice(field, q, single()?)?)),
        QuestionKind::Multiple => {
            let mut picked = Vec::new();
            for v in values {
                let c = choice(field, q, v)?;
                if !picked.contains(&c) {
                    picked.push(c);
                }
            }
            picked.sort_unstable();
            Ok(Answer::Choices(picked))
        }
        QuestionKind::Text => {
            let words = values.join("\n");
            let text = check_text(field, &words, MAX_ANSWER)?;
            if text.is_empty() && q.required {
                return Err(DomainError::invalid(
                    field,
                    "answer this question: it is required",
                ));
            }
            Ok(if text.is_empty() {
                Answer::Skipped
            } else {
                Answer::Text(text)
            })
        }
    }
}

fn choice(field: &'static str, q: &Question, v: &str) -> Result<u16, DomainError> {
    v.trim()
        .parse::<u16>()
        .ok()
        .filter(|n| usize::from(*n) < q.choices.len())
        .ok_or_else(|| DomainError::invalid(field, "choose from the choices listed"))
}

/// How one question was answered over every response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SurveyQuestionResult))]
pub struct QuestionResult {
    /// From 1.
    pub number: usize,
    pub text: String,
    pub kind: QuestionKind,
    /// Responses that answered it.
    pub answered: u64,
    /// Responses that left it empty.
    pub skipped: u64,
    /// Each value of a scale, or each choice, with how many chose it, in
    /// the scale's or the question's order. Empty for free text.
    pub counts: Vec<Count>,
    /// A rating's mean, to one decimal place.
    pub mean: Option<String>,
    /// The Net Promoter Score: the percentage of 9s and 10s less the
    /// percentage of 0s to 6s, from -100 to 100.
    pub nps: Option<i64>,
    /// Free-text answers, sorted (never in the order they came), at most
    /// as many as the reader asked for.
    pub texts: Vec<String>,
    /// Free-text answers not in `texts` (the CSV has them all).
    pub texts_left_out: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SurveyCount))]
pub struct Count {
    pub label: String,
    pub count: u64,
}

/// A survey's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SurveyTally))]
pub struct Results {
    pub responses: u64,
    /// Why the answers are not shown yet, when they are not (then
    /// `questions` is empty): see [`withheld`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<String>,
    pub questions: Vec<QuestionResult>,
}

/// What one response adds to the kept counts ([`marks`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    /// (question from 0, value) for each count it adds one to.
    pub counts: Vec<(usize, i64)>,
    /// (question from 0, words) for each free-text answer.
    pub texts: Vec<(usize, String)>,
}

/// The value a question's count keeps for a response that left it empty
/// (or gave what does not fit it).
pub const SKIPPED: i64 = -1;

/// What one response adds to a survey's kept counts: each (question from
/// 0, value) it counts for (a scale's number, or a choice's place;
/// [`SKIPPED`] when it counts for none), and its free text (question,
/// words). The store keeps these in the response's transaction, so results
/// never read every response.
pub fn marks(d: &Definition, r: &[Answer]) -> Marks {
    let mut counts = Vec::new();
    let mut texts = Vec::new();
    for (i, q) in d.questions.iter().enumerate() {
        let fits = |v: i64| match q.kind.scale() {
            Some(range) => range.contains(&u8::try_from(v).unwrap_or(u8::MAX)),
            None => usize::try_from(v).is_ok_and(|v| v < q.choices.len()),
        };
        let before = counts.len();
        match r.get(i) {
            Some(Answer::Score(v)) if q.kind.scale().is_some() && fits(i64::from(*v)) => {
                counts.push((i, i64::from(*v)));
            }
            Some(Answer::Choice(c)) if q.kind == QuestionKind::Single && fits(i64::from(*c)) => {
                counts.push((i, i64::from(*c)));
            }
            Some(Answer::Choices(cs)) if q.kind == QuestionKind::Multiple => {
                for c in cs.iter().map(|c| i64::from(*c)).filter(|c| fits(*c)) {
                    counts.push((i, c));
                }
            }
            Some(Answer::Text(t)) if q.kind == QuestionKind::Text => {
                texts.push((i, t.clone()));
                continue;
            }
            _ => {}
        }
        if counts.len() == before {
            counts.push((i, SKIPPED));
        }
    }
    Marks { counts, texts }
}

/// A survey's results from its kept counts: `counts` holds (question,
/// value, how many), `texts` the free text to show (question, words, in
/// the order to show them: the store sorts them), of `responses` in all.
pub fn results(
    d: &Definition,
    responses: u64,
    counts: &[(usize, i64, u64)],
    texts: Vec<(usize, String)>,
) -> Results {
    let mut out: Vec<QuestionResult> = d
        .questions
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let start = q.kind.scale().map_or(0, |s| i64::from(*s.start()));
            let count_of = |v: i64| {
                counts
                    .iter()
                    .filter(|c| c.0 == i && c.1 == v)
                    .map(|c| c.2)
                    .sum::<u64>()
            };
            let labels: Vec<String> = match q.kind.scale() {
                Some(r) => r.map(|v| v.to_string()).collect(),
                None => q.choices.clone(),
            };
            let skipped = count_of(SKIPPED).min(responses);
            QuestionResult {
                number: i + 1,
                text: q.text.clone(),
                kind: q.kind,
                answered: responses - skipped,
                skipped,
                counts: labels
                    .into_iter()
                    .enumerate()
                    .map(|(k, label)| Count {
                        label,
                        count: count_of(start + k as i64),
                    })
                    .collect(),
                mean: None,
                nps: None,
                texts: Vec::new(),
                texts_left_out: 0,
            }
        })
        .collect();
    for (i, t) in texts {
        if let Some(res) = out.get_mut(i) {
            res.texts.push(t);
        }
    }
    for (res, q) in out.iter_mut().zip(&d.questions) {
        if q.kind == QuestionKind::Text {
            res.texts_left_out = res.answered.saturating_sub(res.texts.len() as u64);
        }
        if res.answered == 0 {
            continue;
        }
        let total = |pick: &dyn Fn(u64) -> bool| -> u64 {
            res.counts
                .iter()
                .filter(|c| c.label.parse::<u64>().is_ok_and(pick))
                .map(|c| c.count)
                .sum()
        };
        match q.kind {
            QuestionKind::Rating => {
                let sum: u64 = res
                    .counts
                    .iter()
                    .map(|c| c.label.parse::<u64>().unwrap_or(0) * c.count)
                    .sum();
                // Tenths, rounded half up, in whole numbers.
                let tenths = (sum * 20 + res.answered) / (res.answered * 2);
                res.mean = Some(format!("{}.{}", tenths / 10, tenths % 10));
            }
            QuestionKind::Nps => {
                let promoters = total(&|v| v >= 9) as i64;
                let detractors = total(&|v| v <= 6) as i64;
                let n = res.answered as i64;
                let diff = (promoters - detractors) * 100;
                // Rounded half away from zero.
                res.nps = Some((diff + diff.signum() * n / 2) / n);
            }
            _ => {}
        }
    }
    Results {
        responses,
        withheld: None,
        questions: out,
    }
}

/// Counts every response's answers, question by question, as the store's
/// kept counts would: [`marks`] of each, then [`results`], with every free
/// text in no particular order (sorted, not as they came). A response that
/// does not fit the survey counts as skipped where it does not.
pub fn tally<'a>(d: &Definition, responses: impl IntoIterator<Item = &'a [Answer]>) -> Results {
    let mut counts: BTreeMap<(usize, i64), u64> = BTreeMap::new();
    let mut texts = Vec::new();
    let mut n = 0;
    for r in responses {
        n += 1;
        let m = marks(d, r);
        for c in m.counts {
            *counts.entry(c).or_default() += 1;
        }
        texts.extend(m.texts);
    }
    texts.sort();
    let counts: Vec<(usize, i64, u64)> = counts.into_iter().map(|((q, v), c)| (q, v, c)).collect();
    results(d, n, &counts, texts)
}

/// The Protected Utility survey, as the bundled content ships it: a
/// definition whose dates the programme fills in.
pub const TEMPLATE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../content/surveys/protected-utility.json"
));

/// The bundled template with its dates set.
pub fn template(opens_on: &str, closes_on: &str) -> Result<Definition, String> {
    let mut d: Definition = serde_json::from_str(TEMPLATE)
        .map_err(|e| format!("the bundled survey template cannot be read: {e}"))?;
    d.opens_on = opens_on.into();
    d.closes_on = closes_on.into();
    Ok(d)
}

/// What a survey's chain records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SurveyEvent {
    Created {
        definition: Definition,
        audience: Audience,
    },
    Changed {
        definition: Definition,
    },
    /// Invitations were queued for this many more people (none for a
    /// public survey, whose link opened).
    Sent {
        invited: u64,
    },
    CloseMoved {
        closes_on: String,
    },
    ClosedEarly,
}

impl SurveyEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            SurveyEvent::Created { .. } => "survey_created",
            SurveyEvent::Changed { .. } => "survey_changed",
            SurveyEvent::Sent { .. } => "survey_sent",
            SurveyEvent::CloseMoved { .. } => "survey_close_moved",
            SurveyEvent::ClosedEarly => "survey_closed_early",
        }
    }

    /// What happened, in words, for the survey's history.
    pub fn describe(&self) -> String {
        match self {
            SurveyEvent::Created { audience, .. } => {
                format!("Created, for {}", audience.label().to_lowercase())
            }
            SurveyEvent::Changed { .. } => "Changed".into(),
            SurveyEvent::Sent { invited: 0 } => "Sent: no one new to invite".into(),
            SurveyEvent::Sent { invited } => format!(
                "Sent: {invited} invitation{} queued",
                if *invited == 1 { "" } else { "s" }
            ),
            SurveyEvent::CloseMoved { closes_on } => {
                format!("Close date moved to {}", crate::benefit::spoken(closes_on))
            }
            SurveyEvent::ClosedEarly => "Closed early".into(),
        }
    }
}

/// Counts of answers by question for a CSV's rows: the question's number,
/// its text, what was chosen (or a free-text answer), and how many.
pub fn rows(r: &Results) -> Vec<[String; 4]> {
    let mut out = Vec::new();
    for q in &r.questions {
        for c in &q.counts {
            out.push([
                q.number.to_string(),
                q.text.clone(),
                c.label.clone(),
                c.count.to_string(),
            ]);
        }
        let mut texts: BTreeMap<&str, u64> = BTreeMap::new();
        for t in &q.texts {
            *texts.entry(t).or_default() += 1;
        }
        for (t, n) in texts {
            out.push([
                q.number.to_string(),
                q.text.clone(),
                t.into(),
                n.to_string(),
            ]);
        }
        out.push([
            q.number.to_string(),
            q.text.clone(),
            "(left empty)".into(),
            q.skipped.to_string(),
        ]);
    }
    out
}
