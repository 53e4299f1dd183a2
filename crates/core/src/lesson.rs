//! Lessons from retrospectives: what went well, what to improve and what
//! to try next, each tagged to a stage (and a step) of the model the
//! engagement runs on, so the programme can see which steps cause the
//! most trouble across every engagement.

use serde::{Deserialize, Serialize};
use waymark_model::Model;

use crate::engagement::{Engagement, Event, Timestamp};
use crate::error::DomainError;
use crate::people::PersonId;
use crate::text::Text;

/// The most characters a lesson may have.
pub const TEXT_MAX: usize = 2000;

/// What a lesson says of the journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LessonKind {
    WentWell,
    ToImprove,
    TryNext,
}

impl LessonKind {
    pub const ALL: [LessonKind; 3] = [
        LessonKind::WentWell,
        LessonKind::ToImprove,
        LessonKind::TryNext,
    ];

    pub fn label(self) -> &'static str {
        match self {
            LessonKind::WentWell => "Went well",
            LessonKind::ToImprove => "To improve",
            LessonKind::TryNext => "Try next",
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            LessonKind::WentWell => "went_well",
            LessonKind::ToImprove => "to_improve",
            LessonKind::TryNext => "try_next",
        }
    }

    pub fn from_slug(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.slug() == s)
    }
}

/// What a lesson is proposed to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProposedFor {
    /// The desktop design itself.
    Blueprint,
    /// The engagement model's guidance.
    Guidance,
}

impl ProposedFor {
    pub fn label(self) -> &'static str {
        match self {
            ProposedFor::Blueprint => "the blueprint",
            ProposedFor::Guidance => "the guidance",
        }
    }

    pub fn from_slug(s: &str) -> Option<Self> {
        match s {
            "blueprint" => Some(Self::Blueprint),
            "guidance" => Some(Self::Guidance),
            _ => None,
        }
    }
}

/// The programme's answer to a proposed lesson.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    /// It became a knowledge-article draft (the article's id).
    Accepted {
        article: i64,
    },
    /// It became a question in the community (the question's id).
    Posted {
        question: i64,
    },
    Declined {
        reason: String,
    },
}

/// A lesson put to the programme for the blueprint or the guidance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Proposal {
    pub target: ProposedFor,
    pub by: PersonId,
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<PersonId>,
}

/// A lesson on the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lesson {
    pub id: u32,
    /// The retrospective it came from.
    pub workshop: u32,
    pub kind: LessonKind,
    pub text: String,
    /// The model stage it is about, and the step when it is about one.
    pub stage: String,
    pub step: Option<u32>,
    pub by: PersonId,
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal: Option<Proposal>,
}

fn lesson(e: &Engagement, id: u32) -> Result<&Lesson, DomainError> {
    e.lessons
        .iter()
        .find(|l| l.id == id)
        .ok_or_else(|| DomainError::invalid("id", format!("there is no lesson {id}")))
}

/// Proposing lesson `id` for `target`: once.
pub(crate) fn propose(e: &Engagement, id: u32, target: ProposedFor) -> Result<Event, DomainError> {
    let l = lesson(e, id)?;
    if let Some(p) = &l.proposal {
        return Err(DomainError::rule(format!(
            "lesson {id} is already proposed for {}",
            p.target.label()
        )));
    }
    Ok(Event::LessonProposed { id, target })
}

/// The proposed, unanswered lesson `id`, for the programme to answer.
fn waiting(e: &Engagement, id: u32) -> Result<&Lesson, DomainError> {
    let l = lesson(e, id)?;
    match &l.proposal {
        None => Err(DomainError::rule(format!(
            "lesson {id} has not been proposed for the blueprint or the guidance"
        ))),
        Some(Proposal {
            answer: Some(_), ..
        }) => Err(DomainError::rule(format!(
            "lesson {id} is already answered"
        ))),
        Some(_) => Ok(l),
    }
}

/// Accepting lesson `id` as the draft `article`, or the community
/// `question`, the store has just written.
pub(crate) fn accept(
    e: &Engagement,
    id: u32,
    article: Option<i64>,
    question: Option<i64>,
) -> Result<Event, DomainError> {
    waiting(e, id)?;
    let answer = match (question, article) {
        (Some(question), _) => Answer::Posted { question },
        (None, Some(article)) => Answer::Accepted { article },
        (None, None) => {
            return Err(DomainError::rule(
                "a lesson is accepted with the article draft or community question the store writes for it",
            ));
        }
    };
    Ok(Event::LessonAnswered { id, answer })
}

/// Declining lesson `id`, saying why.
pub(crate) fn decline(
    e: &Engagement,
    id: u32,
    reason: &Text<TEXT_MAX>,
) -> Result<Event, DomainError> {
    waiting(e, id)?;
    let reason = reason.required("reason")?.into_string();
    Ok(Event::LessonAnswered {
        id,
        answer: Answer::Declined { reason },
    })
}

/// What a lesson is about, as people read it: "Discovery, step 5:
/// Security analysis", or the stage's name; a stage `model` does not know
/// is named by its slug.
pub fn about(model: &Model, stage: &str, step: Option<u32>) -> String {
    let Some(s) = model.stage(stage) else {
        return match step {
            Some(n) => format!("{stage}, step {n}"),
            None => stage.to_string(),
        };
    };
    match step.and_then(|n| s.steps.iter().find(|x| x.number == n)) {
        Some(x) => format!("{}, step {}: {}", s.name, x.number, x.title),
        None => s.name.clone(),
    }
}

/// The knowledge-article draft an accepted lesson becomes: its words, what
/// it is about, tagged to its stage or step, to review within 90 days,
/// at `slug`. It names no agency (the guide is public once it is
/// published; where it came from is in the engagement's record). `today`
/// is `YYYY-MM-DD`; the store checks it as any article is checked.
pub fn draft(model: &Model, l: &Lesson, slug: &str, today: &str) -> crate::knowledge::ArticleInput {
    let first = crate::text::one_line(&l.text);
    let mut title: String = first.chars().take(120).collect();
    if title.len() < first.len() {
        title.push('…');
    }
    let about = about(model, &l.stage, l.step);
    let proposed = l.proposal.as_ref().map_or("", |p| p.target.label());
    let review = chrono::NaiveDate::parse_from_str(today, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.checked_add_days(chrono::Days::new(90)))
        .map_or_else(|| today.to_string(), |d| d.format("%Y-%m-%d").to_string());
    crate::knowledge::ArticleInput {
        slug: slug.to_string(),
        title: format!("Lesson: {title}"),
        summary: crate::text::one_line(&format!(
            "{} at an agency's retrospective, about {about}, proposed for {proposed}.",
            l.kind.label()
        ))
        .chars()
        .take(crate::knowledge::MAX_SUMMARY)
        .collect(),
        body: format!(
            "{}\n\n*A lesson from an agency's retrospective, about {about} ({}). Edit it before publishing.*",
            l.text,
            l.kind.label().to_lowercase()
        ),
        tags: match l.step {
            Some(n) => format!("{}/{n}", l.stage),
            None => l.stage.clone(),
        },
        review_by: review,
    }
}

/// The community question an accepted lesson becomes: (title, body, tag)
/// for `community::Question::parse`. Like the article draft, it names no
/// agency, and its tag is the lesson's stage or step.
pub fn post(model: &Model, l: &Lesson) -> (String, String, String) {
    let first = crate::text::one_line(&l.text);
    let mut title: String = first.chars().take(150).collect();
    if title.len() < first.len() {
        title.push('…');
    }
    let about = about(model, &l.stage, l.step);
    let proposed = l.proposal.as_ref().map_or("", |p| p.target.label());
    (
        format!("Lesson: {title}"),
        format!(
            "{}\n\n*{} at an agency's retrospective, about {about}, proposed for {proposed}. What has your agency found?*",
            l.text,
            l.kind.label()
        ),
        match l.step {
            Some(n) => format!("{}/{n}", l.stage),
            None => l.stage.clone(),
        },
    )
}

/// The event that records a lesson from retrospective `workshop`, checked
/// against the engagement and its model.
pub(crate) fn record(
    model: &Model,
    e: &Engagement,
    workshop: u32,
    kind: LessonKind,
    text: &Text<TEXT_MAX>,
    stage: &crate::command::Slug,
    step: Option<u32>,
) -> Result<Event, DomainError> {
    let w = crate::records::workshop(e, workshop).map_err(|err| match err {
        DomainError::Invalid { .. } => {
            DomainError::invalid("workshop", format!("there is no workshop {workshop}"))
        }
        other => other,
    })?;
    if !w.plan.retro {
        return Err(DomainError::invalid(
            "workshop",
            format!(
                "“{}” is not a retrospective: lessons are recorded at a retro",
                w.plan.title
            ),
        ));
    }
    let text = text.required("text")?.into_string();
    let slug = stage.required("stage")?;
    let s = model.stage(slug.as_str()).ok_or_else(|| {
        DomainError::invalid(
            "stage",
            format!(
                "there is no stage “{}” in this engagement's model",
                slug.as_str()
            ),
        )
    })?;
    if let Some(n) = step
        && !s.steps.iter().any(|x| x.number == n)
    {
        return Err(DomainError::invalid(
            "step",
            format!("{} has no step {n}", s.name),
        ));
    }
    Ok(Event::LessonRecorded {
        id: e.lessons.iter().map(|l| l.id).max().unwrap_or(0) + 1,
        workshop,
        kind,
        text,
        stage: s.slug.clone(),
        step,
    })
}

/// Folds a lesson event into the engagement.
pub(crate) fn apply(e: &mut Engagement, event: &Event, by: PersonId, at: Timestamp) {
    match event {
        Event::LessonRecorded {
            id,
            workshop,
            kind,
            text,
            stage,
            step,
        } => e.lessons.push(Lesson {
            id: *id,
            workshop: *workshop,
            kind: *kind,
            text: text.clone(),
            stage: stage.clone(),
            step: *step,
            by,
            at,
            proposal: None,
        }),
        Event::LessonProposed { id, target } => {
            if let Some(l) = e.lessons.iter_mut().find(|l| l.id == *id) {
                l.proposal = Some(Proposal {
                    target: *target,
                    by,
                    at,
                    answer: None,
                    answered_by: None,
                });
            }
        }
        Event::LessonAnswered { id, answer } => {
            if let Some(p) = e
                .lessons
                .iter_mut()
                .find(|l| l.id == *id)
                .and_then(|l| l.proposal.as_mut())
            {
                p.answer = Some(answer.clone());
                p.answered_by = Some(by);
            }
        }
        _ => {}
    }
}
