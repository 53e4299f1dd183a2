//! An agency's self-assessment page: the questionnaire of the current
//! model, the type and where it came from, the programme's setting of it,
//! and the history of both. The core decides; these handlers translate.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use waymark_core::assessment::{self, AgencyEvent};
use waymark_core::{AgencyId, AgencyType, Line, PersonId};
use waymark_model::{Level, Questionnaire};
use waymark_store::{AgencyRecord, StoreError, now};

use super::auth::{SignedIn, UserView};
use super::{AgencyRow, AppState, FieldError, PageError, field_error, form_error, view_page};

#[derive(Serialize)]
struct AssessmentPage<'a> {
    title: String,
    user: UserView,
    agency: AgencyRow,
    /// The type now, and what gave it.
    kind: Option<&'static str>,
    source: Option<String>,
    /// The programme's setting is what gives the type now.
    set_by_programme: bool,
    questionnaire: Option<QuestionnaireView>,
    may_assess: bool,
    may_set: bool,
    history: Option<Vec<RecordView>>,
    types: Vec<TypeView>,
    errors: Vec<FieldError>,
    /// What a refused form sent: question key → answer index, and the
    /// setting's fields.
    chosen: BTreeMap<String, String>,
    typed_type: &'a str,
    typed_reason: &'a str,
    saved: Option<String>,
    engagements: Vec<i64>,
}

#[derive(Serialize)]
struct QuestionnaireView {
    version: String,
    factors: Vec<FactorView>,
    count: usize,
}

#[derive(Serialize)]
struct FactorView {
    name: String,
    questions: Vec<QuestionView>,
}

#[derive(Serialize)]
struct QuestionView {
    key: String,
    text: String,
    hint: Option<String>,
    answers: Vec<String>,
}

#[derive(Serialize)]
struct TypeView {
    slug: &'static str,
    label: &'static str,
    levels: String,
    description: Option<String>,
}

#[derive(Serialize)]
struct RecordView {
    at: i64,
    by: String,
    what: String,
    reason: Option<String>,
    answers: Vec<(String, String)>,
    questionnaire: Option<String>,
}

fn questionnaire_view(q: &Questionnaire) -> QuestionnaireView {
    QuestionnaireView {
        version: q.version.chars().take(12).collect(),
        count: q.questions().count(),
        factors: q
            .factors
            .iter()
            .map(|f| FactorView {
                name: f.name.clone(),
                questions: f
                    .questions
                    .iter()
                    .map(|q| QuestionView {
                        key: q.key.clone(),
                        text: q.text.clone(),
                        hint: q.hint.clone(),
                        answers: q.answers.iter().map(|a| a.text.clone()).collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn level(l: Level) -> &'static str {
    match l {
        Level::Low => "low",
        Level::High => "high",
    }
}

/// "Aligned: Complexity of needs 3 (low), Barriers to change 3 (high)".
pub(crate) fn describe(event: &AgencyEvent, q: Option<&Questionnaire>) -> String {
    match event {
        AgencyEvent::Assessed { placement, .. } => {
            let scores: Vec<String> = placement
                .scores
                .iter()
                .map(|s| {
                    let name = q
                        .and_then(|q| q.factors.iter().find(|f| f.key == s.factor))
                        .map_or(s.factor.as_str(), |f| f.name.as_str());
                    format!("{name} {} ({})", s.score, level(s.level))
                })
                .collect();
            format!(
                "Assessed as {}: {}",
                placement.kind.label(),
                scores.join(", ")
            )
        }
        AgencyEvent::TypeSet { agency_type, .. } => {
            format!("The programme set the type to {}", agency_type.label())
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn page(
    s: &AppState,
    who: &SignedIn,
    id: AgencyId,
    status: StatusCode,
    errors: Vec<FieldError>,
    chosen: BTreeMap<String, String>,
    typed: (&str, &str),
    saved: Option<String>,
) -> Result<Response, PageError> {
    let a = s.store.agency(id).await?.ok_or(PageError::NotFound)?;
    let q = s.model.questionnaire();
    let history = if assessment::may_see_history(&who.actor, id) {
        Some(s.store.agency_history(&who.actor, id).await?)
    } else {
        None
    };
    let ids: Vec<PersonId> = history.iter().flatten().map(|r| r.actor).collect();
    let names = s.store.person_names(&ids).await?;
    let name = |p: PersonId| match p.0 {
        0 => "Waymark".to_string(),
        _ => super::engagements::person_name(&names, p),
    };
    let last = history.as_ref().and_then(|h| h.last());
    let source = last.map(|r: &AgencyRecord| match &r.event {
        AgencyEvent::Assessed { .. } => "from its self-assessment".to_string(),
        AgencyEvent::TypeSet { reason, .. } => format!("set by the programme: {reason}"),
    });
    let engagements = if saved.is_some() {
        s.store
            .engagements(
                &who.actor,
                &waymark_store::ListFilter {
                    agency: Some(id),
                    limit: 20,
                    offset: 0,
                    before: None,
                },
            )
            .await?
            .items
            .iter()
            .map(|e| e.id.0)
            .collect()
    } else {
        Vec::new()
    };
    let set_by_programme = matches!(last.map(|r| &r.event), Some(AgencyEvent::TypeSet { .. }));
    let may_assess = assessment::may_assess(&who.actor, id).is_ok();
    let may_set = assessment::may_set_type(&who.actor).is_ok();
    // "Recorded" is said only to those who could have recorded it.
    let saved = saved.filter(|_| may_assess || may_set);
    let view = AssessmentPage {
        set_by_programme,
        title: format!("Self-assessment: {}", a.name),
        user: who.view(),
        agency: AgencyRow::from(&a),
        kind: a.agency_type.map(AgencyType::label),
        source,
        questionnaire: q.map(questionnaire_view),
        may_assess,
        may_set,
        history: history.map(|h| {
            h.iter()
                .rev()
                .map(|r| RecordView {
                    at: r.at.0,
                    by: name(r.actor),
                    what: describe(&r.event, q),
                    reason: match &r.event {
                        AgencyEvent::TypeSet { reason, .. } => Some(reason.clone()),
                        AgencyEvent::Assessed { .. } => None,
                    },
                    answers: match &r.event {
                        AgencyEvent::Assessed { answers, .. } => answers
                            .iter()
                            .map(|a| (a.text.clone(), a.answer_text.clone()))
                            .collect(),
                        AgencyEvent::TypeSet { .. } => Vec::new(),
                    },
                    questionnaire: match &r.event {
                        AgencyEvent::Assessed { questionnaire, .. } => {
                            Some(questionnaire.chars().take(12).collect())
                        }
                        AgencyEvent::TypeSet { .. } => None,
                    },
                })
                .collect()
        }),
        types: q
            .map(|q| {
                q.types
                    .iter()
                    .map(|t| TypeView {
                        slug: t.kind.slug(),
                        label: t.kind.label(),
                        levels: q
                            .factors
                            .iter()
                            .zip(&t.levels)
                            .map(|(f, l)| format!("{} {}", f.name.to_lowercase(), level(*l)))
                            .collect::<Vec<_>>()
                            .join(", "),
                        description: t.description.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        errors,
        chosen,
        typed_type: typed.0,
        typed_reason: typed.1,
        saved,
        engagements,
    };
    view_page(s, status, "assessment.html", &view)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Saved {
    saved: Option<String>,
}

pub async fn assessment(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Query(q): Query<Saved>,
) -> Result<Response, PageError> {
    let saved = match q.saved.as_deref() {
        Some("assessed") => Some("The assessment is recorded.".to_string()),
        Some("set") => Some("The type is set.".to_string()),
        _ => None,
    };
    page(
        &s,
        &who,
        AgencyId(id),
        StatusCode::OK,
        Vec::new(),
        BTreeMap::new(),
        ("", ""),
        saved,
    )
    .await
}

/// The form's answers: `answer-KEY=INDEX`. A value that is not a position,
/// or a question answered twice, is no answer the question offers, which
/// the core says with the rest.
fn answers(fields: &[(String, String)]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (name, value) in fields {
        let Some(key) = name.strip_prefix("answer-") else {
            continue;
        };
        let given = value.trim().parse().unwrap_or(usize::MAX);
        out.entry(key.to_string())
            .and_modify(|v| *v = usize::MAX)
            .or_insert(given);
    }
    out
}

pub async fn assess(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map_or("", |(_, v)| v.as_str());
    who.check(csrf)?;
    let agency = AgencyId(id);
    let given = answers(&fields);
    let mut errors = Vec::new();
    {
        match s
            .store
            .assess_agency(&who.actor, agency, s.model.questionnaire(), &given, now())
            .await
        {
            Ok(_) => {
                return Ok(Redirect::to(&format!(
                    "/agencies/{id}/assessment?saved=assessed#result"
                ))
                .into_response());
            }
            Err(StoreError::Answers(problems)) => {
                let q = s.model.questionnaire();
                for p in problems {
                    let text = q
                        .and_then(|q| q.questions().find(|x| x.key == p.question))
                        .map_or(p.question.clone(), |x| x.text.clone());
                    let (field, message) = match p.question.as_str() {
                        "" => ("assessment".to_string(), p.message),
                        k => (
                            format!("answer-{k}"),
                            format!("{text} {}", super::capitalised(&p.message)),
                        ),
                    };
                    errors.push(form_error(&field, message));
                }
            }
            Err(StoreError::Missing { .. }) => return Err(PageError::NotFound),
            Err(e) => return Err(e.into()),
        }
    }
    let chosen = fields
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("answer-")?.to_string(), v.clone())))
        .collect();
    page(
        &s,
        &who,
        agency,
        StatusCode::UNPROCESSABLE_ENTITY,
        errors,
        chosen,
        ("", ""),
        None,
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TypeForm {
    csrf: String,
    agency_type: String,
    reason: String,
}

pub async fn set_type(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<TypeForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let agency = AgencyId(id);
    s.store.agency(agency).await?.ok_or(PageError::NotFound)?;
    assessment::may_set_type(&who.actor)?;
    let mut errors = Vec::new();
    let kind = AgencyType::from_slug(&f.agency_type);
    if kind.is_none() {
        errors.push(form_error(
            "agency_type",
            "Type: choose one of the four types",
        ));
    }
    if let Some(kind) = kind {
        let reason = Line::<500>::from(f.reason.clone());
        match s
            .store
            .set_agency_type(&who.actor, agency, kind, &reason, now())
            .await
        {
            Ok(_) => {
                return Ok(
                    Redirect::to(&format!("/agencies/{id}/assessment?saved=set#result"))
                        .into_response(),
                );
            }
            Err(StoreError::Domain(d)) if field_error(&d).is_some() => {
                errors.extend(field_error(&d));
            }
            Err(e) => return Err(e.into()),
        }
    } else if f.reason.trim().is_empty() {
        errors.push(form_error("reason", "Reason: is required"));
    }
    page(
        &s,
        &who,
        agency,
        StatusCode::UNPROCESSABLE_ENTITY,
        errors,
        BTreeMap::new(),
        (&f.agency_type, &f.reason),
        None,
    )
    .await
}
