//! Surveys: the programme's list and builder, sending, the results with
//! their charts and CSV, and the pages where people answer (by their own
//! invitation's link, or by a public link). The core says what a survey
//! and an answer must be; the store keeps anonymity; these handlers
//! translate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{Path, RawForm, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use waymark_core::survey::{
    self, Audience, Definition, Phase, Question, QuestionKind, QuestionResult, Results,
};
use waymark_core::{DomainError, EngagementId, PersonId, Timestamp, today};
use waymark_store::{Questionnaire, StoreError, SurveyRow, now};

use super::auth::{SignedIn, UserView};
use super::{AppState, FieldError, PageError, form_error, view_page};
use crate::chart::BarChart;

/// Answers a network may give through one public link in an hour. Counted
/// in this instance's memory, never written down: a stored count with its
/// time and address would say when an anonymous answer came from where.
const PUBLIC_PER_HOUR: usize = 20;

/// Who a named survey's invitation keeps answers as.
const INVITED: &str = "the person this invitation was sent to";

/// Free-text answers a results page shows; the CSV has them all.
const TEXTS_SHOWN: u32 = 200;

#[derive(Serialize)]
struct SurveyLine {
    id: i64,
    title: String,
    audience: String,
    phase: &'static str,
    phase_slug: Phase,
    dates: String,
    responses: i64,
    invited: i64,
    answered: i64,
    anonymous: bool,
}

/// Agencies' names by id, to say whose engagement a survey goes to.
async fn agency_names(s: &AppState) -> Result<HashMap<i64, String>, PageError> {
    Ok(s.store
        .agencies()
        .await?
        .into_iter()
        .map(|a| (a.id.0, a.name))
        .collect())
}

fn line(s: &SurveyRow, agencies: &HashMap<i64, String>) -> SurveyLine {
    let audience = match s.agency.and_then(|a| agencies.get(&a.0)) {
        Some(name) => format!("{} ({name})", s.audience.label()),
        None => s.audience.label(),
    };
    SurveyLine {
        id: s.id,
        title: s.definition.title.clone(),
        audience,
        phase: s.phase.label(),
        phase_slug: s.phase,
        dates: dates(&s.definition),
        responses: s.responses,
        invited: s.invited,
        answered: s.answered,
        anonymous: s.definition.anonymous,
    }
}

fn dates(d: &Definition) -> String {
    if d.opens_on.is_empty() {
        return String::new();
    }
    format!(
        "{} to {}",
        waymark_core::benefit::spoken(&d.opens_on),
        waymark_core::benefit::spoken(&d.closes_on)
    )
}

/// An engagement a survey can go to, as the picker shows it.
#[derive(Serialize)]
struct EngagementChoice {
    id: i64,
    label: String,
}

#[derive(Serialize)]
struct ListPage {
    title: &'static str,
    user: UserView,
    manage: bool,
    /// The newest engagements, for the programme's picker.
    engagements: Vec<EngagementChoice>,
    surveys: Vec<SurveyLine>,
    errors: Vec<FieldError>,
    form: NewForm,
}

/// What "Start a survey" sent (or its defaults).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NewForm {
    csrf: String,
    /// `template` (the Protected Utility survey) or `blank`.
    start: String,
    title: String,
    /// `engagement`, `community` or `public`.
    audience: String,
    engagement: String,
    opens_on: String,
    closes_on: String,
}

impl NewForm {
    fn defaults(t: Timestamp) -> Self {
        let (opens, closes) = survey::default_dates(&today(t));
        NewForm {
            start: "template".into(),
            audience: "engagement".into(),
            opens_on: opens,
            closes_on: closes,
            ..NewForm::default()
        }
    }
}

pub async fn list(State(s): State<Arc<AppState>>, who: SignedIn) -> Result<Response, PageError> {
    list_page(
        &s,
        &who,
        StatusCode::OK,
        Vec::new(),
        NewForm::defaults(now()),
    )
    .await
}

async fn list_page(
    s: &AppState,
    who: &SignedIn,
    status: StatusCode,
    errors: Vec<FieldError>,
    form: NewForm,
) -> Result<Response, PageError> {
    let rows = s.store.surveys(&who.actor, now()).await?;
    let agencies = agency_names(s).await?;
    let manage = survey::may_manage(&who.actor).is_ok();
    let engagements = if manage {
        let filter = waymark_store::ListFilter {
            limit: waymark_store::MAX_PAGE,
            ..Default::default()
        };
        s.store
            .engagements(&who.actor, &filter)
            .await?
            .items
            .iter()
            .map(|e| EngagementChoice {
                id: e.id.0,
                label: format!(
                    "Engagement {}: {}",
                    e.id.0,
                    agencies.get(&e.agency.0).map_or("", String::as_str)
                ),
            })
            .collect()
    } else {
        Vec::new()
    };
    view_page(
        s,
        status,
        "surveys.html",
        &ListPage {
            title: "Surveys",
            user: who.view(),
            manage,
            engagements,
            surveys: rows.iter().map(|r| line(r, &agencies)).collect(),
            errors,
            form,
        },
    )
}

/// Starts a draft from the bundled template or blank.
pub async fn create(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    axum::Form(f): axum::Form<NewForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    survey::may_manage(&who.actor)?;
    let mut errors = Vec::new();
    let audience = match f.audience.as_str() {
        "community" => Some(Audience::Community),
        "public" => Some(Audience::Public),
        "engagement" => match f.engagement.trim().parse::<i64>() {
            Ok(n) if n > 0 => Some(Audience::Engagement {
                engagement: EngagementId(n),
            }),
            _ => {
                errors.push(form_error(
                    "engagement",
                    "Engagement: choose the engagement whose people it goes to",
                ));
                None
            }
        },
        _ => {
            errors.push(form_error("audience", "Who it goes to: choose one"));
            None
        }
    };
    let mut d = if f.start == "blank" {
        Definition {
            title: f.title.clone(),
            intro: String::new(),
            anonymous: true,
            opens_on: f.opens_on.clone(),
            closes_on: f.closes_on.clone(),
            questions: Vec::new(),
        }
    } else {
        survey::template(&f.opens_on, &f.closes_on).map_err(PageError::Internal)?
    };
    if !f.title.trim().is_empty() {
        d.title = f.title.clone();
    }
    if let Err(problems) = survey::check(&d) {
        errors.extend(problems.iter().filter_map(error_of));
    }
    let Some(audience) = audience.filter(|_| errors.is_empty()) else {
        return list_page(&s, &who, StatusCode::UNPROCESSABLE_ENTITY, errors, f).await;
    };
    match s.store.create_survey(&who.actor, &d, audience, now()).await {
        Ok(id) => Ok(Redirect::to(&format!("/surveys/{id}")).into_response()),
        Err(StoreError::Domain(e @ DomainError::Invalid { .. })) => {
            list_page(
                &s,
                &who,
                StatusCode::UNPROCESSABLE_ENTITY,
                error_of(&e).into_iter().collect(),
                f,
            )
            .await
        }
        Err(StoreError::Fields(problems)) => {
            let errors = problems.iter().filter_map(error_of).collect();
            list_page(&s, &who, StatusCode::UNPROCESSABLE_ENTITY, errors, f).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A core refusal as a form's error, a question's named "Question 3".
fn error_of(e: &DomainError) -> Option<FieldError> {
    match e {
        DomainError::Invalid { field, message } => {
            let label = match field
                .strip_prefix('q')
                .and_then(|n| n.parse::<usize>().ok())
            {
                Some(n) => format!("Question {n}"),
                None => match *field {
                    "opens_on" => "Opens on".into(),
                    "closes_on" => "Closes on".into(),
                    "intro" => "Introduction".into(),
                    "audience" => "Who it goes to".into(),
                    "text" => "Question".into(),
                    "kind" => "Kind of question".into(),
                    other => super::field_label(other),
                },
            };
            let id = match *field {
                "audience" => "engagement",
                other => other,
            };
            Some(form_error(id, format!("{label}: {message}")))
        }
        _ => None,
    }
}

#[derive(Serialize)]
struct QuestionView {
    number: usize,
    kind: &'static str,
    text: String,
    hint: String,
    required: bool,
    choices: Vec<String>,
}

fn question_views(d: &Definition) -> Vec<QuestionView> {
    d.questions
        .iter()
        .enumerate()
        .map(|(i, q)| QuestionView {
            number: i + 1,
            kind: q.kind.label(),
            text: q.text.clone(),
            hint: q.hint.clone(),
            required: q.required,
            choices: q.choices.clone(),
        })
        .collect()
}

#[derive(Serialize)]
struct KindView {
    slug: &'static str,
    label: &'static str,
}

#[derive(Serialize)]
struct HistoryLine {
    at: i64,
    by: String,
    what: String,
}

#[derive(Serialize)]
struct SurveyPage {
    title: String,
    user: UserView,
    survey: SurveyLine,
    version: i64,
    draft: bool,
    open_or_scheduled: bool,
    /// Closed, and may take answers again (a named survey).
    reopen: bool,
    invites: bool,
    definition: Definition,
    questions: Vec<QuestionView>,
    kinds: Vec<KindView>,
    public_link: Option<String>,
    history: Vec<HistoryLine>,
    errors: Vec<FieldError>,
    /// What a refused form sent, to show it again.
    typed: EditForm,
    done: Option<String>,
}

/// Every field any of the survey page's forms sends.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EditForm {
    csrf: String,
    version: String,
    action: String,
    title: String,
    intro: String,
    anonymous: String,
    opens_on: String,
    closes_on: String,
    kind: String,
    text: String,
    hint: String,
    required: String,
    choices: String,
    question: String,
}

pub async fn page(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    if survey::may_manage(&who.actor).is_err() {
        // Those who may see it see its results.
        s.store.survey(&who.actor, id, now()).await?;
        return Ok(Redirect::to(&format!("/surveys/{id}/results")).into_response());
    }
    survey_page(&s, &who, id, StatusCode::OK, Vec::new(), None, None).await
}

async fn survey_page(
    s: &AppState,
    who: &SignedIn,
    id: i64,
    status: StatusCode,
    errors: Vec<FieldError>,
    typed: Option<EditForm>,
    done: Option<String>,
) -> Result<Response, PageError> {
    let row = s.store.survey(&who.actor, id, now()).await?;
    let history = s.store.survey_history(&who.actor, id).await?;
    let ids: Vec<PersonId> = history.iter().map(|r| r.actor).collect();
    let names = s.store.person_names(&ids).await?;
    let d = &row.definition;
    let typed = typed.unwrap_or_else(|| EditForm {
        title: d.title.clone(),
        intro: d.intro.clone(),
        anonymous: if d.anonymous {
            "yes".into()
        } else {
            String::new()
        },
        opens_on: d.opens_on.clone(),
        closes_on: d.closes_on.clone(),
        kind: "rating".into(),
        ..EditForm::default()
    });
    let base = s.public_url.trim_end_matches('/');
    let agencies = agency_names(s).await?;
    view_page(
        s,
        status,
        "survey.html",
        &SurveyPage {
            title: d.title.clone(),
            user: who.view(),
            survey: line(&row, &agencies),
            version: row.version,
            draft: !row.sent,
            open_or_scheduled: matches!(row.phase, Phase::Open | Phase::Scheduled),
            reopen: row.phase == Phase::Closed && survey::may_reopen(d, row.phase).is_ok(),
            invites: row.audience.invites(),
            definition: d.clone(),
            questions: question_views(d),
            kinds: QuestionKind::ALL
                .into_iter()
                .map(|k| KindView {
                    slug: k.slug(),
                    label: k.label(),
                })
                .collect(),
            public_link: row
                .public_key
                .as_ref()
                .map(|k| format!("{base}/answer/link/{k}")),
            history: history
                .iter()
                .map(|r| HistoryLine {
                    at: r.at.0,
                    by: super::engagements::person_name(&names, r.actor),
                    what: r.event.describe(),
                })
                .collect(),
            errors,
            typed,
            done,
        },
    )
}

/// One form of the survey page: `action` says which.
pub async fn act(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<EditForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    survey::may_manage(&who.actor)?;
    let t = now();
    let row = s.store.survey(&who.actor, id, t).await?;
    let version = f.version.trim().parse::<i64>().unwrap_or(-1);
    let outcome: Result<String, StoreError> = match f.action.as_str() {
        "send" => {
            let base = s.public_url.trim_end_matches('/').to_string();
            let mail = move |p: &waymark_core::Person, d: &Definition, token: &str| {
                crate::mail::survey_invitation(
                    p.email.as_str(),
                    &p.name,
                    d,
                    &format!("{base}/answer/{token}"),
                )
            };
            s.store
                .send_survey(&who.actor, id, &mail, t)
                .await
                .map(|n| match (row.audience.invites(), n) {
                    (false, _) => {
                        "The public link is open: share it where people will see it.".into()
                    }
                    (true, 1) => "Sent: 1 invitation is on its way.".into(),
                    (true, n) => format!("Sent: {n} invitations are on their way."),
                })
        }
        "close" => s
            .store
            .close_survey(&who.actor, id, None, t)
            .await
            .map(|()| "Closed: it takes no more answers.".into()),
        "move_close" => s
            .store
            .close_survey(&who.actor, id, Some(&f.closes_on), t)
            .await
            .map(|()| "The close date moved.".into()),
        action => match edited(&row.definition, action, &f) {
            Ok(d) => s
                .store
                .change_survey(&who.actor, id, version, &d, t)
                .await
                .map(|()| "Saved.".into()),
            Err(e) => Err(e),
        },
    };
    match outcome {
        Ok(done) => survey_page(&s, &who, id, StatusCode::OK, Vec::new(), None, Some(done)).await,
        Err(StoreError::Fields(problems)) => {
            let errors = problems.iter().filter_map(error_of).collect();
            survey_page(
                &s,
                &who,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
                Some(f),
                None,
            )
            .await
        }
        Err(StoreError::Domain(e)) if !matches!(e, DomainError::NotFound) => {
            let (status, error) = match &e {
                DomainError::Conflict { .. } => (
                    StatusCode::CONFLICT,
                    form_error(
                        "survey-title",
                        "Someone changed this survey since you loaded it: what they saved is below. Make your change again.",
                    ),
                ),
                DomainError::Invalid { .. } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    error_of(&e).unwrap_or_else(|| form_error("survey-title", e.to_string())),
                ),
                _ => (
                    StatusCode::CONFLICT,
                    form_error("survey-title", e.to_string()),
                ),
            };
            let typed = (!matches!(e, DomainError::Conflict { .. })).then_some(f);
            survey_page(&s, &who, id, status, vec![error], typed, None).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The definition after one of the builder's edits, to be checked whole
/// by the core.
fn edited(d: &Definition, action: &str, f: &EditForm) -> Result<Definition, StoreError> {
    let mut d = d.clone();
    let at = || -> Result<usize, StoreError> {
        f.question
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=d.questions.len()).contains(n))
            .map(|n| n - 1)
            .ok_or_else(|| {
                StoreError::Domain(DomainError::rule(
                    "That question is no longer in the survey: reload the page.",
                ))
            })
    };
    match action {
        "settings" => {
            d.title = f.title.clone();
            d.intro = f.intro.clone();
            d.anonymous = !f.anonymous.is_empty();
            d.opens_on = f.opens_on.clone();
            d.closes_on = f.closes_on.clone();
        }
        "add" => {
            let kind = QuestionKind::from_slug(f.kind.trim()).ok_or_else(|| {
                StoreError::Domain(DomainError::invalid("kind", "choose a kind of question"))
            })?;
            if d.questions.len() >= survey::MAX_QUESTIONS {
                return Err(StoreError::Domain(DomainError::invalid(
                    "text",
                    format!("a survey has at most {} questions", survey::MAX_QUESTIONS),
                )));
            }
            let choices = if kind.has_choices() {
                f.choices.lines().map(str::to_string).collect()
            } else {
                Vec::new()
            };
            d.questions.push(Question {
                kind,
                text: f.text.clone(),
                hint: f.hint.clone(),
                required: !f.required.is_empty(),
                choices,
            });
            // The new question's problems are said beside the form that
            // adds it.
            let n = d.questions.len();
            if let Err(problems) = survey::check(&d) {
                let field = survey::FIELDS[n - 1];
                let own: Vec<DomainError> = problems
                    .into_iter()
                    .filter_map(|p| match p {
                        DomainError::Invalid { field: f, message } if f == field => {
                            Some(DomainError::invalid("text", message))
                        }
                        _ => None,
                    })
                    .collect();
                if !own.is_empty() {
                    return Err(StoreError::Fields(own));
                }
            }
        }
        "remove" => {
            let i = at()?;
            d.questions.remove(i);
        }
        "up" | "down" => {
            let i = at()?;
            let j = if action == "up" {
                i.checked_sub(1)
            } else {
                Some(i + 1).filter(|j| *j < d.questions.len())
            };
            let j = j.ok_or_else(|| {
                StoreError::Domain(DomainError::rule("That question cannot move further."))
            })?;
            d.questions.swap(i, j);
        }
        _ => {
            return Err(StoreError::Domain(DomainError::rule(
                "This form's action is not one this page knows: reload the page.",
            )));
        }
    }
    Ok(d)
}

#[derive(Serialize)]
struct ResultView {
    number: usize,
    text: String,
    kind: &'static str,
    answered: u64,
    skipped: u64,
    counts: Vec<(String, u64)>,
    summary: Option<String>,
    chart: Option<String>,
    texts: Vec<String>,
    more_texts: u64,
}

fn result_view(survey_id: i64, q: &QuestionResult) -> ResultView {
    let summary = match (q.kind, &q.mean, q.nps) {
        (_, Some(mean), _) => Some(format!("Mean rating {mean} out of 5")),
        (_, _, Some(nps)) => Some(format!(
            "Net Promoter Score {nps} (the share of 9s and 10s less the share of 0s to 6s)"
        )),
        _ => None,
    };
    let counts: Vec<(String, u64)> = q
        .counts
        .iter()
        .map(|c| (c.label.clone(), c.count))
        .collect();
    let chart = (!counts.is_empty()).then(|| {
        let desc = counts
            .iter()
            .map(|(l, n)| format!("{l}: {n}"))
            .collect::<Vec<_>>()
            .join("; ");
        BarChart {
            id: format!("s{survey_id}-q{}", q.number),
            title: format!("Answers to question {}: {}", q.number, q.text),
            desc: format!(
                "{} answered, {} left it empty. {desc}.",
                q.answered, q.skipped
            ),
            bars: counts.clone(),
        }
        .svg()
    });
    ResultView {
        number: q.number,
        text: q.text.clone(),
        kind: q.kind.label(),
        answered: q.answered,
        skipped: q.skipped,
        counts,
        summary,
        chart,
        texts: q.texts.clone(),
        more_texts: q.texts_left_out,
    }
}

#[derive(Serialize)]
struct ResultsPage {
    title: String,
    user: UserView,
    survey: SurveyLine,
    manage: bool,
    responses: u64,
    withheld: Option<String>,
    questions: Vec<ResultView>,
}

pub async fn results(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (row, r): (SurveyRow, Results) = s
        .store
        .survey_results(&who.actor, id, Some(TEXTS_SHOWN), now())
        .await?;
    let agencies = agency_names(&s).await?;
    view_page(
        &s,
        StatusCode::OK,
        "survey-results.html",
        &ResultsPage {
            title: format!("Results: {}", row.definition.title),
            user: who.view(),
            manage: survey::may_manage(&who.actor).is_ok(),
            survey: line(&row, &agencies),
            responses: r.responses,
            withheld: r.withheld.clone(),
            questions: r.questions.iter().map(|q| result_view(id, q)).collect(),
        },
    )
}

/// `GET /surveys/{id}/results.csv`: each question's counts, and each
/// free-text answer with how many gave it.
pub async fn results_csv(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (_, r) = s.store.survey_results(&who.actor, id, None, now()).await?;
    if let Some(why) = r.withheld {
        return Err(PageError::Refused(StatusCode::CONFLICT, why));
    }
    let body = crate::export::survey_csv(&r).map_err(|e| PageError::Internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"survey-{id}-results.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[derive(Serialize)]
struct AnswerPage {
    title: String,
    user: Option<UserView>,
    definition: Definition,
    questions: Vec<AnswerQuestion>,
    action: String,
    /// Why it takes no answer, when it does not.
    closed: Option<String>,
    answered: bool,
    thanks: bool,
    named_as: Option<String>,
    errors: Vec<FieldError>,
    /// Free text typed into a survey that closed meanwhile.
    kept: Vec<String>,
}

#[derive(Serialize)]
struct AnswerQuestion {
    field: &'static str,
    number: usize,
    kind: QuestionKind,
    text: String,
    hint: String,
    required: bool,
    /// (value, label) for each option: a scale's numbers or the choices.
    options: Vec<(String, String)>,
    /// What a refused form sent for it.
    given: Vec<String>,
}

fn answer_questions(d: &Definition, given: &[Vec<String>]) -> Vec<AnswerQuestion> {
    d.questions
        .iter()
        .zip(survey::FIELDS)
        .enumerate()
        .map(|(i, (q, field))| AnswerQuestion {
            field,
            number: i + 1,
            kind: q.kind,
            text: q.text.clone(),
            hint: q.hint.clone(),
            required: q.required,
            options: match q.kind.scale() {
                Some(r) => r.map(|v| (v.to_string(), v.to_string())).collect(),
                None => q
                    .choices
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (i.to_string(), c.clone()))
                    .collect(),
            },
            given: given
                .get(i)
                .map(|v| {
                    v.iter()
                        .map(|s| s.chars().take(survey::MAX_ANSWER).collect())
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// How an answer page is drawn: the questions, or why none are asked.
struct Answering<'a> {
    q: &'a Questionnaire,
    action: String,
    named_as: Option<String>,
    thanks: bool,
    answered: bool,
    errors: Vec<FieldError>,
    given: Vec<Vec<String>>,
}

fn answer_page(
    s: &AppState,
    who: Option<&SignedIn>,
    status: StatusCode,
    a: Answering<'_>,
) -> Result<Response, PageError> {
    let closed = survey::may_answer(a.q.phase, &a.q.definition, a.q.closed_early)
        .err()
        .map(|e| e.to_string());
    // Words typed into a survey that closed meanwhile are shown back, to
    // keep.
    let kept: Vec<String> = if closed.is_some() {
        a.q.definition
            .questions
            .iter()
            .zip(&a.given)
            .filter(|(q, _)| q.kind == QuestionKind::Text)
            .flat_map(|(_, v)| v.iter())
            .filter(|t| !t.trim().is_empty())
            .map(|t| t.chars().take(survey::MAX_ANSWER).collect())
            .collect()
    } else {
        Vec::new()
    };
    view_page(
        s,
        status,
        "survey-answer.html",
        &AnswerPage {
            title: a.q.definition.title.clone(),
            user: who.map(SignedIn::view),
            definition: a.q.definition.clone(),
            questions: answer_questions(&a.q.definition, &a.given),
            action: a.action,
            closed,
            answered: a.answered || a.q.answered,
            thanks: a.thanks,
            named_as: a.named_as,
            errors: a.errors,
            kept,
        },
    )
}

/// What an answer form sent: `given[i]` holds question i+1's values
/// (`q1`, `q2` …; a multiple choice repeats its name).
fn given_of(raw: &[u8]) -> Vec<Vec<String>> {
    let mut given: Vec<Vec<String>> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        let Some(i) = survey::FIELDS.iter().position(|f| *f == k) else {
            continue;
        };
        if given.len() <= i {
            given.resize(i + 1, Vec::new());
        }
        given[i].push(v.into_owned());
    }
    given
}

fn answer_errors(problems: &[DomainError]) -> Vec<FieldError> {
    problems
        .iter()
        .filter_map(|p| match p {
            DomainError::Invalid { field, message } => {
                let n = field.trim_start_matches('q');
                Some(form_error(
                    &format!("{field}-0"),
                    format!("Question {n}: {message}"),
                ))
            }
            _ => None,
        })
        .collect()
}

/// `GET /answer/{token}`: the survey an invitation opens.
pub async fn invitation_form(
    State(s): State<Arc<AppState>>,
    who: Option<SignedIn>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let q = s.store.invitation(&token, now()).await?;
    let named_as = (!q.definition.anonymous).then(|| INVITED.to_string());
    answer_page(
        &s,
        who.as_ref(),
        StatusCode::OK,
        Answering {
            q: &q,
            action: format!("/answer/{token}"),
            named_as,
            thanks: false,
            answered: false,
            errors: Vec::new(),
            given: Vec::new(),
        },
    )
    .map(no_store)
}

/// `POST /answer/{token}`: keeps the answer, once.
pub async fn answer_invitation(
    State(s): State<Arc<AppState>>,
    who: Option<SignedIn>,
    Path(token): Path<String>,
    RawForm(raw): RawForm,
) -> Result<Response, PageError> {
    let t = now();
    let given = given_of(&raw);
    let q = s.store.invitation(&token, t).await?;
    let result = s.store.answer_invitation(&token, &given, t).await;
    let named_as = (!q.definition.anonymous).then(|| INVITED.to_string());
    answered(
        &s,
        who.as_ref(),
        &q,
        (format!("/answer/{token}"), named_as),
        given,
        result.map(|_| ()),
    )
}

/// The page after an answer was sent: thanks, or what to put right.
fn answered(
    s: &AppState,
    who: Option<&SignedIn>,
    q: &Questionnaire,
    (action, named_as): (String, Option<String>),
    given: Vec<Vec<String>>,
    result: Result<(), StoreError>,
) -> Result<Response, PageError> {
    let mut a = Answering {
        q,
        action,
        named_as,
        thanks: false,
        answered: false,
        errors: Vec::new(),
        given: Vec::new(),
    };
    let status = match result {
        Ok(()) => {
            a.thanks = true;
            StatusCode::OK
        }
        Err(StoreError::Fields(problems)) => {
            a.errors = answer_errors(&problems);
            a.given = given;
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(StoreError::Domain(DomainError::Rule(why))) => {
            if why.contains("already") {
                a.answered = true;
            }
            a.errors = vec![form_error("survey-answer", why)];
            a.given = given;
            StatusCode::CONFLICT
        }
        Err(e) => return Err(e.into()),
    };
    answer_page(s, who, status, a).map(no_store)
}

/// The cookie that says this browser answered public survey `id`.
fn answered_cookie(id: i64) -> String {
    format!("waymark_survey_{id}")
}

fn has_answered(headers: &HeaderMap, id: i64) -> bool {
    let name = answered_cookie(id);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| c.trim().split_once('=').is_some_and(|(k, _)| k == name))
}

/// `GET /answer/link/{key}`: a public survey.
pub async fn public_form(
    State(s): State<Arc<AppState>>,
    who: Option<SignedIn>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Result<Response, PageError> {
    let q = s.store.public_survey(&key, now()).await?;
    let named_as = named_as(&q, who.as_ref());
    answer_page(
        &s,
        who.as_ref(),
        StatusCode::OK,
        Answering {
            answered: has_answered(&headers, q.survey),
            q: &q,
            action: format!("/answer/link/{key}"),
            named_as,
            thanks: false,
            errors: Vec::new(),
            given: Vec::new(),
        },
    )
    .map(no_store)
}

fn named_as(q: &Questionnaire, who: Option<&SignedIn>) -> Option<String> {
    if q.definition.anonymous {
        return None;
    }
    Some(who.map_or_else(
        || "no one: you are not signed in, so no name is kept".into(),
        |w| w.person.name.clone(),
    ))
}

/// `POST /answer/link/{key}`: one answer per browser session, and a limit
/// per network.
pub async fn answer_public(
    State(s): State<Arc<AppState>>,
    who: Option<SignedIn>,
    headers: HeaderMap,
    Path(key): Path<String>,
    super::auth::ClientIp(client): super::auth::ClientIp,
    RawForm(raw): RawForm,
) -> Result<Response, PageError> {
    let t = now();
    let q = s.store.public_survey(&key, t).await?;
    let action = (format!("/answer/link/{key}"), named_as(&q, who.as_ref()));
    if has_answered(&headers, q.survey) {
        return answered(
            &s,
            who.as_ref(),
            &q,
            action,
            Vec::new(),
            Err(StoreError::Domain(DomainError::rule(
                "You have already answered this survey in this browser: it takes one answer from each.",
            ))),
        );
    }
    // Counted by person when signed in, so a colleague behind the same
    // address does not use up another's turn.
    let by = match &who {
        Some(w) => format!("person:{}", w.person.id.0),
        None => crate::ops::limit_key(client),
    };
    if over_public_limit(q.survey, &by) {
        crate::ops::METRICS.rate_limited("survey_public");
        return Err(PageError::Refused(
            StatusCode::TOO_MANY_REQUESTS,
            "This survey has had many answers from your network in the last hour. Wait an hour and try again, or sign in first.".into(),
        ));
    }
    let given = given_of(&raw);
    let result = s
        .store
        .answer_public(&key, who.as_ref().map(|w| w.person.id), &given, t)
        .await;
    let ok = result.is_ok();
    let mut response = answered(&s, who.as_ref(), &q, action, given, result.map(|_| ()))?;
    if ok {
        let secure = if s.public_url.starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "{}=answered; Path=/answer/link/{key}; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}",
            answered_cookie(q.survey)
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

/// Counts one public answer from `network` to survey `id` in this
/// instance's memory; whether it is past [`PUBLIC_PER_HOUR`].
fn over_public_limit(id: i64, network: &str) -> bool {
    /// When each (survey, network) answered in the last hour.
    type Seen = HashMap<(i64, String), Vec<Instant>>;
    static SEEN: OnceLock<Mutex<Seen>> = OnceLock::new();
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let hour = Duration::from_secs(3600);
    let now = Instant::now();
    // Forget what is past the hour, so memory stays bounded by an hour's
    // traffic.
    seen.retain(|_, times| {
        times.retain(|t| now.duration_since(*t) < hour);
        !times.is_empty()
    });
    let times = seen.entry((id, network.to_string())).or_default();
    if times.len() >= PUBLIC_PER_HOUR {
        return true;
    }
    times.push(now);
    false
}

/// Answer pages are never cached: a shared computer's back button must not
/// show someone's answers.
fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_link_takes_twenty_answers_an_hour_from_each_network_or_person() {
        // A survey id no other test uses: the count is this process's.
        let id = -7;
        for _ in 0..PUBLIC_PER_HOUR {
            assert!(!over_public_limit(id, "192.0.2.1"));
        }
        assert!(over_public_limit(id, "192.0.2.1"));
        // Another network, or a person signed in, has a turn of their own.
        assert!(!over_public_limit(id, "192.0.2.2"));
        assert!(!over_public_limit(id, "person:3"));
        // And so has another survey.
        assert!(!over_public_limit(id - 1, "192.0.2.1"));
    }
}
