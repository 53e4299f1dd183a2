//! The JSON API under `/api/v1`, for programs: every read and every command
//! of the engagement records.
//!
//! Authentication is a personal access token (`Authorization: Bearer …`,
//! made with `waymark token create`). Errors are RFC 9457
//! `application/problem+json` with a stable `code`; another agency's record
//! answers 404, so the API never reveals which records exist.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use waymark_core::{Abbreviation, Actor, Command, DomainError, EngagementId, Mode, Timestamp};
use waymark_model::SourceFile;
use waymark_store::{Store, StoreError};

/// What the API needs: the records, and the current model's pages (new
/// engagements pin them).
#[derive(Debug, Clone)]
pub struct ApiState {
    pub store: Store,
    pub pages: Arc<Vec<SourceFile>>,
}

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/api/v1/me", get(me))
        .route("/api/v1/engagements", get(list).post(start))
        .route("/api/v1/engagements/{id}", get(show))
        .route("/api/v1/engagements/{id}/history", get(history))
        .route("/api/v1/engagements/{id}/commands", post(command))
        .with_state(state)
}

fn now() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    )
}

/// An RFC 9457 problem.
#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    detail: String,
    /// Stable, snake_case: what programs match on.
    code: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
}

#[derive(Debug, Serialize)]
struct FieldError {
    field: String,
    message: String,
}

impl Problem {
    fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            kind: "about:blank",
            title,
            status: status.as_u16(),
            detail: detail.into(),
            code,
            errors: Vec::new(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let unauthorized = status == StatusCode::UNAUTHORIZED;
        let mut r = (status, Json(self)).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if unauthorized {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

impl From<DomainError> for Problem {
    fn from(e: DomainError) -> Self {
        let detail = e.to_string();
        match e {
            DomainError::NotFound => {
                Problem::new(StatusCode::NOT_FOUND, e.code(), "Not found", detail)
            }
            DomainError::Forbidden { .. } => {
                Problem::new(StatusCode::FORBIDDEN, e.code(), "Not allowed", detail)
            }
            DomainError::Invalid { field, ref message } => {
                let mut p = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    e.code(),
                    "Invalid input",
                    detail.clone(),
                );
                p.errors.push(FieldError {
                    field: field.to_string(),
                    message: message.clone(),
                });
                p
            }
            DomainError::Rule(_) => {
                Problem::new(StatusCode::CONFLICT, e.code(), "Not possible now", detail)
            }
            DomainError::Conflict { .. } => Problem::new(
                StatusCode::CONFLICT,
                e.code(),
                "Changed by someone else",
                detail,
            ),
        }
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => d.into(),
            StoreError::Duplicate { field, .. } => {
                let mut p = Problem::new(
                    StatusCode::CONFLICT,
                    "duplicate",
                    "Already exists",
                    e.to_string(),
                );
                p.errors.push(FieldError {
                    field: field.to_string(),
                    message: e.to_string(),
                });
                p
            }
            StoreError::Missing { .. } | StoreError::NoSuchPerson(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "missing",
                "Refers to nothing",
                e.to_string(),
            ),
            other => {
                eprintln!("api: {other}");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "something went wrong on our side; nothing was changed",
                )
            }
        }
    }
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, Problem> {
    b.map(|Json(v)| v).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Unreadable request",
            e.body_text(),
        )
    })
}

/// The caller, from their bearer token.
#[derive(Debug)]
pub struct Caller(pub Actor);

impl FromRequestParts<Arc<ApiState>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<ApiState>) -> Result<Self, Problem> {
        let unauthorized = |detail: &str| {
            Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Sign-in needed",
                detail,
            )
        };
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                unauthorized("send a personal access token: Authorization: Bearer wmk_…")
            })?;
        match state.store.actor_for_token(token).await? {
            Some(actor) => Ok(Caller(actor)),
            None => Err(unauthorized(
                "that token is not valid (it may have been revoked)",
            )),
        }
    }
}

async fn me(Caller(actor): Caller) -> Json<Actor> {
    Json(actor)
}

async fn list(State(s): State<Arc<ApiState>>, Caller(actor): Caller) -> Result<Response, Problem> {
    Ok(Json(s.store.engagements(&actor).await?).into_response())
}

#[derive(Debug, Deserialize)]
struct StartRequest {
    /// The agency's abbreviation.
    agency: String,
    #[serde(default = "default_mode")]
    mode: Mode,
}

fn default_mode() -> Mode {
    Mode::DoItWithYou
}

async fn start(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    req: Result<Json<StartRequest>, JsonRejection>,
) -> Result<Response, Problem> {
    let req = body(req)?;
    let abbr = Abbreviation::parse(&req.agency)?;
    let agency = s
        .store
        .agency_by_abbreviation(&abbr)
        .await?
        .ok_or_else(|| {
            let mut p = Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "Invalid input",
                format!("no agency is abbreviated {}", abbr.as_str()),
            );
            p.errors.push(FieldError {
                field: "agency".into(),
                message: "no such agency".into(),
            });
            p
        })?;
    let hash = s.store.pin_model(&s.pages, now()).await?;
    let e = s
        .store
        .start_engagement(&actor, agency, req.mode, &hash, now())
        .await?;
    let mut r = (StatusCode::CREATED, Json(&e)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/engagements/{}", e.id)) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

async fn show(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    let e = s.store.engagement(&actor, EngagementId(id)).await?;
    #[derive(Serialize)]
    struct View<'a> {
        #[serde(flatten)]
        engagement: &'a waymark_core::Engagement,
        warnings: Vec<waymark_core::Warning>,
    }
    Ok(Json(View {
        warnings: e.warnings(now()),
        engagement: &e,
    })
    .into_response())
}

async fn history(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    Ok(Json(s.store.history(&actor, EngagementId(id)).await?).into_response())
}

#[derive(Debug, Deserialize)]
struct CommandRequest {
    /// The version the caller last saw; a newer one means someone else
    /// changed the engagement, and the command is refused with 409.
    expected_version: u64,
    command: Command,
}

async fn command(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
    req: Result<Json<CommandRequest>, JsonRejection>,
) -> Result<Response, Problem> {
    let req = body(req)?;
    let e = s
        .store
        .execute(
            &actor,
            EngagementId(id),
            req.expected_version,
            &req.command,
            now(),
        )
        .await?;
    Ok(Json(e).into_response())
}
