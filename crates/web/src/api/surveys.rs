//! Surveys through the API: the programme builds, sends and closes them;
//! the programme and an engagement's agency read results. The same store
//! calls and core rules as the survey pages. Answers are given through
//! each invitation's own link or a public link, on the pages.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use waymark_core::survey::{self, Audience, Definition, Results};
use waymark_core::{DomainError, today};
use waymark_store::{StoreError, SurveyRecord, SurveyRow, now};

use super::contract::Body;
use super::{ApiState, Caller, Params, Problem, created, invalid_fields, not_found};

/// Free-text answers a question's results carry at most.
const TEXTS: u32 = 500;

fn problem(e: StoreError) -> Problem {
    match e {
        StoreError::Domain(DomainError::NotFound) => not_found("survey"),
        StoreError::Fields(p) => invalid_fields(&p),
        e => e.into(),
    }
}

/// The surveys the caller may see, newest first: every one for the
/// programme; the sent surveys of their engagements for an agency's
/// members (at most 500).
#[utoipa::path(get, path = "/api/v1/surveys", responses(
    (status = 200, body = Vec<SurveyRow>),
))]
pub(super) async fn surveys(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
) -> Result<Json<Vec<SurveyRow>>, Problem> {
    Ok(Json(s.store.surveys(&actor, now()).await?))
}

/// The bundled Protected Utility survey, dated to open today for four
/// weeks: a starting point for `POST /api/v1/surveys`.
#[utoipa::path(get, path = "/api/v1/surveys/template", responses(
    (status = 200, body = Definition),
))]
pub(super) async fn template(Caller(_): Caller) -> Result<Json<Definition>, Problem> {
    let (opens, closes) = survey::default_dates(&today(now()));
    survey::template(&opens, &closes)
        .map(Json)
        .map_err(|e| problem(StoreError::Corrupt(e)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewSurvey {
    definition: Definition,
    audience: Audience,
}

/// The new survey's id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct SurveyMade {
    id: i64,
}

/// Creates a draft survey (the programme only). A draft may have no
/// questions yet; it is sent with at least one.
#[utoipa::path(post, path = "/api/v1/surveys", request_body = NewSurvey, responses(
    (status = 201, body = SurveyMade),
    (status = 403, body = Problem),
    (status = 422, body = Problem, description = "Every problem with the definition, each by its field (`q3` is the third question)"),
))]
pub(super) async fn create(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Body(r): Body<NewSurvey>,
) -> Result<Response, Problem> {
    survey::may_manage(&actor)?;
    let id = s
        .store
        .create_survey(&actor, &r.definition, r.audience, now())
        .await
        .map_err(problem)?;
    Ok(created(
        &format!("/api/v1/surveys/{id}"),
        &SurveyMade { id },
    ))
}

/// One survey, if the caller may see it.
#[utoipa::path(get, path = "/api/v1/surveys/{id}", params(("id" = i64, Path)), responses(
    (status = 200, body = SurveyRow),
    (status = 404, body = Problem),
))]
pub(super) async fn show(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Json<SurveyRow>, Problem> {
    Ok(Json(
        s.store.survey(&actor, id, now()).await.map_err(problem)?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ChangeSurvey {
    /// The version the caller last saw.
    expected_version: i64,
    definition: Definition,
}

/// Replaces a draft's definition (the programme only). A sent survey's
/// questions stay as they were asked.
#[utoipa::path(post, path = "/api/v1/surveys/{id}", params(("id" = i64, Path)), request_body = ChangeSurvey, responses(
    (status = 200, body = SurveyRow),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 409, body = Problem, description = "`conflict`: a stale version; `rule_violated`: sent already, or nothing changed"),
    (status = 422, body = Problem),
))]
pub(super) async fn change(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(r): Body<ChangeSurvey>,
) -> Result<Json<SurveyRow>, Problem> {
    let t = now();
    s.store
        .change_survey(&actor, id, r.expected_version, &r.definition, t)
        .await
        .map_err(problem)?;
    Ok(Json(s.store.survey(&actor, id, t).await.map_err(problem)?))
}

/// How many were invited.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Sent {
    invited: u64,
    survey: SurveyRow,
}

/// Sends a survey (the programme only): each person of its audience not
/// yet invited gets an email with a link of their own, which takes one
/// answer; a public survey's link opens (`public_key` in the survey).
#[utoipa::path(post, path = "/api/v1/surveys/{id}/send", params(("id" = i64, Path)), responses(
    (status = 200, body = Sent),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 409, body = Problem, description = "`rule_violated`: closed, no questions, or everyone invited already"),
    (status = 422, body = Problem),
))]
pub(super) async fn send(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Json<Sent>, Problem> {
    let t = now();
    let base = s.actions.public_url.clone();
    let mail = move |p: &waymark_core::Person, d: &Definition, token: &str| {
        crate::mail::survey_invitation(
            p.email.as_str(),
            &p.name,
            d,
            &format!("{base}/answer/{token}"),
        )
    };
    let invited = s
        .store
        .send_survey(&actor, id, &mail, t)
        .await
        .map_err(problem)?;
    let survey = s.store.survey(&actor, id, t).await.map_err(problem)?;
    Ok(Json(Sent { invited, survey }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CloseSurvey {
    /// A new close date (today or later; it opens a closed survey again);
    /// without one, the survey closes now.
    #[serde(default)]
    #[schema(max_length = 10)]
    closes_on: Option<String>,
}

/// Closes a sent survey now, or moves its close date (the programme only).
#[utoipa::path(post, path = "/api/v1/surveys/{id}/close", params(("id" = i64, Path)), request_body = CloseSurvey, responses(
    (status = 200, body = SurveyRow),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 409, body = Problem, description = "`rule_violated`: not sent, or closed already"),
    (status = 422, body = Problem),
))]
pub(super) async fn close(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(r): Body<CloseSurvey>,
) -> Result<Json<SurveyRow>, Problem> {
    let t = now();
    s.store
        .close_survey(&actor, id, r.closes_on.as_deref(), t)
        .await
        .map_err(problem)?;
    Ok(Json(s.store.survey(&actor, id, t).await.map_err(problem)?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct SurveyResults {
    survey: SurveyRow,
    results: Results,
}

/// A survey's results: per question, how many chose each answer, a
/// rating's mean, the Net Promoter Score, and up to 500 free-text answers
/// (sorted; `texts_left_out` says how many more, all in the page's CSV).
/// For the programme, and an engagement survey's agency; an anonymous
/// survey's wait for 3 answers (`withheld` says why).
#[utoipa::path(get, path = "/api/v1/surveys/{id}/results", params(("id" = i64, Path)), responses(
    (status = 200, body = SurveyResults),
    (status = 404, body = Problem),
))]
pub(super) async fn results(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Response, Problem> {
    let (survey, results) = s
        .store
        .survey_results(&actor, id, Some(TEXTS), now())
        .await
        .map_err(problem)?;
    Ok(Json(SurveyResults { survey, results }).into_response())
}

/// A survey's history from its chain (the programme only): created,
/// changed, sent, closed. Answers are never in it.
#[utoipa::path(get, path = "/api/v1/surveys/{id}/history", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<SurveyRecord>),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
))]
pub(super) async fn history(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Json<Vec<SurveyRecord>>, Problem> {
    s.store.survey(&actor, id, now()).await.map_err(problem)?;
    Ok(Json(
        s.store.survey_history(&actor, id).await.map_err(problem)?,
    ))
}
