//! The JSON API under `/api/v1`, for programs: every read and every command
//! of the engagement records, agencies and people. Its OpenAPI 3.1 document
//! is generated from these handlers and the domain's own types, and served
//! at `/api/openapi.json`, with Swagger UI (vendored) at `/api/docs`.
//!
//! Authentication is a personal access token (`Authorization: Bearer …`,
//! made with `waymark token create`). Errors are RFC 9457
//! `application/problem+json` with a stable `code`; another agency's record
//! answers 404, so the API never reveals which records exist.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_swagger_ui::SwaggerUi;
use waymark_core::{
    Abbreviation, Actor, Agency, AgencyId, AgencyType, Command, DomainError, Engagement,
    EngagementId, LetterKind, Mode, NewAgency, NewPerson, Person, PersonId, Role, Summary, Warning,
};
use waymark_model::SourceFile;
use waymark_store::{ListFilter, Store, StoreError, StoredEvent, now};

use crate::actions::{ActionError, Actions};

mod community;
mod contract;
mod portfolio;
mod surveys;
mod webhooks;

use contract::{Body, Problems};

/// What the API needs: the records, and the current model's pages (new
/// engagements pin them).
#[derive(Debug, Clone)]
pub struct ApiState {
    pub store: Store,
    pub pages: Arc<Vec<SourceFile>>,
    /// The current model, built from `pages` once.
    pub model: Arc<waymark_model::Model>,
    /// The same actions the workspace runs (workshops with invitations,
    /// letters, uploads).
    pub actions: Actions,
}

impl ApiState {
    /// The API over `store` and the current model (built from `pages` once,
    /// by the caller); links and invitations name `http://localhost` and the
    /// programme's mailbox until [`ApiState::with_addresses`].
    pub fn new(
        store: Store,
        pages: Arc<Vec<SourceFile>>,
        model: Arc<waymark_model::Model>,
    ) -> Self {
        ApiState {
            actions: Actions {
                guide: None,
                store: store.clone(),
                public_url: "http://localhost".into(),
                mail_from: crate::app::PROGRAMME_MAILBOX.into(),
                webhook_allow: Arc::default(),
            },
            store,
            pages,
            model,
        }
    }

    /// Where people reach Waymark, and the programme's address.
    pub fn with_addresses(mut self, public_url: &str, mail_from: &str) -> Self {
        self.actions.public_url = public_url.trim_end_matches('/').to_string();
        self.actions.mail_from = mail_from.to_string();
        self
    }
}

/// The API's routes, its OpenAPI document and Swagger UI.
/// Whether a request's body is marked as compressed (any `Content-Encoding`
/// but `identity`): neither the API nor the pages read one.
pub(crate) fn encoded_body(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
}

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/api/v1/me", get(me))
        .route("/api/v1/engagements", get(list).post(start))
        .route("/api/v1/engagements/{id}", get(show))
        .route("/api/v1/engagements/{id}/history", get(history))
        .route("/api/v1/engagements/{id}/benefits", get(benefits))
        .route("/api/v1/lessons", get(lessons))
        .route(
            "/api/v1/surveys",
            get(surveys::surveys).post(surveys::create),
        )
        .route("/api/v1/surveys/template", get(surveys::template))
        .route(
            "/api/v1/surveys/{id}",
            get(surveys::show).post(surveys::change),
        )
        .route("/api/v1/surveys/{id}/send", post(surveys::send))
        .route("/api/v1/surveys/{id}/close", post(surveys::close))
        .route("/api/v1/surveys/{id}/results", get(surveys::results))
        .route("/api/v1/surveys/{id}/history", get(surveys::history))
        .route("/api/v1/engagements/{id}/discussion", get(discussion))
        .route("/api/v1/engagements/{id}/commands", post(command))
        .route(
            "/api/v1/engagements/{id}/letters/{kind}",
            post(issue_letter),
        )
        .route(
            "/api/v1/engagements/{id}/documents",
            post(upload_document).layer(axum::extract::DefaultBodyLimit::max(
                waymark_store::MAX_FILE_BYTES + 64 * 1024,
            )),
        )
        .route("/api/v1/dashboard", get(dashboard))
        .route("/api/v1/portfolio", get(portfolio::figures))
        .route(
            "/api/v1/portfolio/capacity",
            get(portfolio::capacity).put(portfolio::set_capacity),
        )
        .route("/api/v1/search", get(search))
        .route("/api/v1/articles", get(articles).post(create_article))
        .route("/api/v1/articles/drafts", get(article_drafts))
        .route("/api/v1/articles/{id}", post(update_article))
        .route("/api/v1/articles/{id}/versions", get(article_versions))
        .route("/api/v1/articles/{id}/feedback", post(article_feedback))
        .route(
            "/api/v1/blueprint/releases",
            get(releases).post(add_release),
        )
        .route("/api/v1/adopters", get(adopters))
        .route(
            "/api/v1/community/categories",
            get(community::categories).post(community::add_category),
        )
        .route(
            "/api/v1/community/categories/{slug}/questions",
            get(community::category_questions),
        )
        .route(
            "/api/v1/community/questions",
            get(community::tagged).post(community::ask),
        )
        .route("/api/v1/community/questions/{id}", get(community::question))
        .route(
            "/api/v1/community/questions/{id}/answers",
            post(community::answer),
        )
        .route(
            "/api/v1/community/questions/{id}/accept",
            post(community::accept),
        )
        .route("/api/v1/community/posts/{id}/edit", post(community::edit))
        .route(
            "/api/v1/community/posts/{id}/revisions",
            get(community::revisions),
        )
        .route("/api/v1/community/posts/{id}/vote", post(community::vote))
        .route(
            "/api/v1/community/questions/{id}/promote",
            post(community::promote),
        )
        .route("/api/v1/faq", get(community::faq))
        .route(
            "/api/v1/community/questions/{id}/watch",
            put(community::watch_question).delete(community::unwatch_question),
        )
        .route(
            "/api/v1/community/categories/{slug}/watch",
            put(community::watch_category).delete(community::unwatch_category),
        )
        .route("/api/v1/community/watching", get(community::watching))
        .route("/api/v1/community/posts/{id}/flag", post(community::flag))
        .route("/api/v1/community/flags", get(community::flags))
        .route(
            "/api/v1/community/posts/{id}/flags/dismiss",
            post(community::dismiss),
        )
        .route(
            "/api/v1/community/questions/{id}/moderate",
            post(community::moderate),
        )
        .route("/api/v1/faq/{article}/position", put(community::move_faq))
        .route("/api/v1/agencies/{id}/directory", post(set_directory))
        .route("/api/v1/agencies", get(agencies).post(add_agency))
        .route("/api/v1/agencies/{id}", get(agency))
        .route("/api/v1/assessment", get(questionnaire))
        .route(
            "/api/v1/agencies/{id}/assessments",
            get(assessments).post(assess),
        )
        .route("/api/v1/agencies/{id}/type", post(set_agency_type))
        .route("/api/v1/engagements/{id}/journey", get(journey))
        .route("/api/v1/models", get(model_versions))
        .route("/api/v1/migrations/proposal", get(migration_proposal))
        .route("/api/v1/migrations/preview", post(migration_preview))
        .route("/api/v1/migrations", post(migration_apply))
        .route("/api/v1/files/{id}", get(file))
        .route(
            "/api/v1/engagements/{id}/letters/{kind}/{version}/pdf",
            get(letter_pdf),
        )
        .route(
            "/api/v1/engagements/{id}/workshops/{workshop}/invitation",
            get(workshop_invitation),
        )
        .route(
            "/api/v1/engagements/{id}/delivery/{file}",
            get(delivery_export),
        )
        .route("/api/v1/outbox", get(outbox))
        .route("/api/v1/retention", get(retention).put(set_retention))
        .route("/api/v1/retention/run", post(run_retention))
        .route(
            "/api/v1/letter-templates/{kind}",
            get(letter_template).post(save_letter_template),
        )
        .route("/api/v1/mailbox/{record}/review", post(review_mail))
        .route("/api/v1/enquiries", get(enquiries))
        .route("/api/v1/enquiries/{id}", get(enquiry))
        .route("/api/v1/enquiries/{id}/triage", post(triage))
        .route("/api/v1/enquiries/{id}/conversation", get(conversation))
        .route("/api/v1/enquiries/{id}/replies", post(reply))
        .route("/api/v1/mailbox", get(mailbox))
        .route("/api/v1/people", get(people).post(add_person))
        .route("/api/v1/people/{id}", get(person))
        .route("/api/v1/people/{id}/data", get(personal_data))
        .route("/api/v1/people/{id}/roles", post(add_role))
        .route("/api/v1/people/{id}/deactivate", post(deactivate_person))
        .route("/api/v1/people/{id}/reactivate", post(reactivate_person))
        .route(
            "/api/v1/people/{id}/remove-personal-data",
            post(remove_personal_data),
        )
        .route(
            "/api/v1/people/{id}/tokens",
            get(person_tokens).post(create_token),
        )
        .route(
            "/api/v1/people/{id}/tokens/{token}/revoke",
            post(revoke_token),
        )
        .route("/api/v1/people/{id}/sessions", get(person_sessions))
        .route("/api/v1/people/{id}/details", post(correct_person))
        .route(
            "/api/v1/people/{id}/sessions/{reference}/end",
            post(end_person_session),
        )
        .route("/api/v1/people/{id}/second-factor", get(second_factor))
        .route(
            "/api/v1/people/{id}/sign-in-accounts",
            get(sign_in_accounts),
        )
        .route(
            "/api/v1/people/{id}/second-factor/reset",
            post(reset_second_factor),
        )
        .route(
            "/api/v1/people/{id}/sign-in-accounts/unlink",
            post(unlink_sign_in_account),
        )
        .route(
            "/api/v1/people/{id}/password-link",
            post(send_password_link),
        )
        .route(
            "/api/v1/webhooks",
            get(webhooks::webhooks).post(webhooks::subscribe),
        )
        .route("/api/v1/webhook-event-types", get(webhooks::event_types))
        .route("/api/v1/webhooks/{id}", get(webhooks::webhook))
        .route("/api/v1/webhooks/{id}/enable", post(webhooks::enable))
        .route("/api/v1/webhooks/{id}/disable", post(webhooks::disable))
        .route(
            "/api/v1/webhooks/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/api/v1/webhooks/{id}/deliveries/{delivery}/resend",
            post(webhooks::resend),
        )
        .route("/api/{*rest}", axum::routing::any(no_such_route))
        .layer(axum::middleware::map_response(problem_for_bare_errors))
        .with_state(state)
        .merge(
            Router::new()
                .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", ApiDoc::openapi()))
                .layer(axum::middleware::map_response(docs_headers)),
        )
}

/// Swagger UI runs its own scripts and styles from this site, and talks
/// only to this site; nothing may frame it.
async fn docs_headers(mut r: Response) -> Response {
    waymark_site::server::with_policy(
        r.headers_mut(),
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    );
    r
}

/// The OpenAPI 3.1 document, generated from the handlers below.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Waymark API",
        description = "Engagement records of the Protected Utility engagement model. Every change is a command checked by the engagement rules; errors are RFC 9457 problems with a stable `code`."
    ),
    paths(
        me, list, start, show, history, benefits, lessons, discussion, command, issue_letter, upload_document, dashboard, agencies,
        agency, add_agency, people, person, personal_data, add_person, add_role, deactivate_person,
        reactivate_person, remove_personal_data, search, articles,
        article_drafts, create_article, update_article, article_versions, article_feedback,
        releases, add_release, adopters, set_directory, questionnaire, assessments, assess,
        set_agency_type, journey, model_versions, migration_proposal, migration_preview,
        migration_apply, conversation, reply, mailbox, person_tokens, create_token, revoke_token,
        person_sessions, end_person_session, correct_person, second_factor, reset_second_factor, sign_in_accounts, unlink_sign_in_account, send_password_link, retention,
        set_retention, run_retention,
        enquiries, enquiry, triage, file, letter_pdf, workshop_invitation, delivery_export, outbox,
        letter_template, save_letter_template, review_mail, webhooks::webhooks,
        webhooks::event_types, webhooks::subscribe, webhooks::webhook, webhooks::enable,
        webhooks::disable, webhooks::deliveries, webhooks::resend, community::categories,
        community::add_category, community::category_questions, community::tagged, community::ask,
        community::question, community::answer, community::accept, community::edit,
        community::revisions, community::vote, community::promote, community::faq,
        community::move_faq, community::watch_question, community::unwatch_question,
        community::watch_category, community::unwatch_category, community::watching,
        community::flag, community::flags, community::dismiss, community::moderate,
        surveys::surveys, surveys::template, surveys::create, surveys::show, surveys::change,
        surveys::send, surveys::close, surveys::results, surveys::history, portfolio::figures,
        portfolio::capacity, portfolio::set_capacity
    ),
    modifiers(&BearerToken, &Problems),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A personal access token from `waymark token create EMAIL`",
                    ))
                    .build(),
            ),
        );
    }
}

/// An RFC 9457 problem.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
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
        // The request's id, as its log lines carry it, to quote in a report.
        let mut body = serde_json::to_value(&self).unwrap_or_default();
        if let (Some(id), Some(o)) = (crate::ops::request_id(), body.as_object_mut()) {
            o.insert("request_id".into(), serde_json::Value::String(id));
        }
        let mut r = (status, Json(body)).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if unauthorized {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // Every limit here is counted over the last hour.
        if status == StatusCode::TOO_MANY_REQUESTS {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
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
            StoreError::Fields(problems) => invalid_fields(&problems),
            StoreError::Answers(problems) => {
                let mut p = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    "Invalid input",
                    "the self-assessment is not complete: see `errors`".to_string(),
                );
                p.errors = problems
                    .into_iter()
                    .map(|a| FieldError {
                        field: match a.question.as_str() {
                            "" => "answers".to_string(),
                            q => format!("answers.{q}"),
                        },
                        message: a.message,
                    })
                    .collect();
                p
            }
            StoreError::Missing { .. } | StoreError::NoSuchPerson(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "missing",
                "Refers to nothing",
                e.to_string(),
            ),
            other => {
                tracing::error!("api: {other}");
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

/// A request that could not be read at all (400). The reader's message may
/// quote what was sent; a long one is cut, never echoed whole.
fn unreadable(detail: String) -> Problem {
    const MOST: usize = 500;
    let detail = if detail.chars().count() > MOST {
        detail.chars().take(MOST).collect::<String>() + "…"
    } else {
        detail
    };
    Problem::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "Unreadable request",
        detail,
    )
}

/// A query string read, or the problem it has.
fn query<T>(q: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, Problem> {
    q.map(|Query(v)| v).map_err(|e| unreadable(e.body_text()))
}

/// Any other address under `/api/`: a problem, not the workspace's page.
async fn no_such_route() -> Problem {
    not_found("route")
}

/// A known address with the wrong method answers as a problem too.
async fn problem_for_bare_errors(r: Response) -> Response {
    if r.status() == StatusCode::METHOD_NOT_ALLOWED
        && r.headers().get(header::CONTENT_TYPE).is_none()
    {
        let allow = r.headers().get(header::ALLOW).cloned();
        let mut p = Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed",
            "this address does not take that method; see /api/openapi.json",
        )
        .into_response();
        if let Some(a) = allow {
            p.headers_mut().insert(header::ALLOW, a);
        }
        return p;
    }
    r
}

/// A path's parameters; one that cannot be read (`/engagements/abc`) is a
/// problem like any other, not plain text.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<S, T> FromRequestParts<S> for Params<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(Params(v)),
            Err(e) => Err(unreadable(format!(
                "the address is not one the API serves: {}",
                e.body_text()
            ))),
        }
    }
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
        let token = crate::ops::bearer(&parts.headers).ok_or_else(|| {
            unauthorized("send a personal access token: Authorization: Bearer wmk_…")
        })?;
        match state.store.actor_for_token(token, now()).await? {
            Some((actor, scope)) => {
                // Only GET reads; every other method may change something.
                let writes = !matches!(parts.method, Method::GET | Method::HEAD);
                scope.permits(writes)?;
                Ok(Caller(actor))
            }
            None => {
                crate::ops::METRICS.sign_in_failed("token");
                Err(unauthorized(
                    "that token is not valid (it may have been revoked, or have ended)",
                ))
            }
        }
    }
}

fn unprocessable(field: &str, detail: String) -> Problem {
    let mut p = Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "Invalid input",
        detail.clone(),
    );
    p.errors.push(FieldError {
        field: field.into(),
        message: detail,
    });
    p
}

fn not_found(what: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "Not found",
        format!("no such {what}"),
    )
}

/// The signed-in person, with their roles.
#[utoipa::path(get, path = "/api/v1/me", responses(
    (status = 200, body = Actor),
    (status = 401, body = Problem),
))]
async fn me(Caller(actor): Caller) -> Json<Actor> {
    Json(actor)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this agency's engagements (its abbreviation).
    agency: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// How many to pass over, at most 1,000,000 (default 0). Prefer `cursor`.
    #[param(minimum = 0, maximum = 1_000_000)]
    offset: Option<u32>,
    /// The page after the one whose `next_cursor` this is: a walk by
    /// cursor neither skips nor repeats an engagement while others are
    /// started. Not with `offset`.
    #[param(pattern = "^[0-9a-f]{1,64}$")]
    cursor: Option<String>,
}

/// One page of engagements.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct EngagementPage {
    items: Vec<Summary>,
    /// How many engagements match, on all pages.
    total: u64,
    limit: u32,
    offset: u32,
    /// The next page's `cursor`; absent on the last page.
    next_cursor: Option<String>,
}

/// An opaque cursor for the page after engagement `last`.
fn cursor_after(last: EngagementId) -> String {
    cursor_of(&[last.0])
}

/// The engagement a cursor follows, or the problem with it.
fn read_cursor(cursor: &str) -> Result<EngagementId, Problem> {
    match cursor_keys(Some(cursor))? {
        Some([id]) if id > 0 => Ok(EngagementId(id)),
        _ => Err(bad_cursor()),
    }
}

/// A list's cursor, if one was sent, as the `N` sort keys its list makes
/// (a cursor from another list has another number of keys: refused).
fn cursor_keys<const N: usize>(cursor: Option<&str>) -> Result<Option<[i64; N]>, Problem> {
    cursor
        .map(|c| <[i64; N]>::try_from(read_cursor_of(c)?).map_err(|_| bad_cursor()))
        .transpose()
}

fn bad_cursor() -> Problem {
    unprocessable(
        "cursor",
        "this cursor was not made by this list; start again without one".into(),
    )
}

/// An opaque cursor for the page after the item whose sort keys are
/// `keys` (hex, so it is safe in any address).
fn cursor_of(keys: &[i64]) -> String {
    let text: Vec<String> = keys.iter().map(i64::to_string).collect();
    format!("v1:{}", text.join(":"))
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The sort keys a cursor holds, or the problem with it.
fn read_cursor_of(cursor: &str) -> Result<Vec<i64>, Problem> {
    let bad = bad_cursor;
    // Hex digits only, before any slicing: `&cursor[i..i + 2]` inside a
    // multi-byte character would panic.
    if !cursor.len().is_multiple_of(2)
        || cursor.len() > 64
        || !cursor.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(bad());
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&cursor[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    std::str::from_utf8(&bytes)
        .ok()
        .and_then(|t| t.strip_prefix("v1:"))
        .and_then(|keys| {
            keys.split(':')
                .map(|k| k.parse::<i64>().ok())
                .collect::<Option<Vec<i64>>>()
        })
        .ok_or_else(bad)
}

/// A list answered as an array carries the next page's address in a
/// `Link: <…>; rel="next"` header (RFC 8288), when there may be one.
fn with_next_link(mut r: Response, path: &str, cursor: Option<String>, extra: &str) -> Response {
    if let Some(c) = cursor
        && let Ok(v) = HeaderValue::from_str(&format!("<{path}?cursor={c}{extra}>; rel=\"next\""))
    {
        r.headers_mut().insert(header::LINK, v);
    }
    r
}

/// The engagements the caller may see, newest first, as summaries.
#[utoipa::path(get, path = "/api/v1/engagements", params(ListQuery), responses(
    (status = 200, body = EngagementPage),
    (status = 401, body = Problem),
    (status = 422, body = Problem),
))]
async fn list(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let q = query(q)?;
    let (limit, offset) = page_bounds(q.limit, q.offset, 50)?;
    let before = match q.cursor.as_deref() {
        Some(_) if offset > 0 => {
            return Err(unprocessable(
                "cursor",
                "give a cursor or an offset, not both".into(),
            ));
        }
        Some(c) => Some(read_cursor(c)?),
        None => None,
    };
    let agency = match q.agency.as_deref() {
        Some(a) => Some(agency_id(&s.store, a).await?),
        None => None,
    };
    let filter = ListFilter {
        agency,
        limit,
        offset,
        before,
    };
    // The stored summaries are passed on as they are, not decoded and
    // encoded again: this is the API's busiest list.
    let (items, total, last) = s.store.summaries_json(&actor, &filter).await?;
    let mut body = String::with_capacity(64 + items.iter().map(|i| i.len() + 1).sum::<usize>());
    body.push_str("{\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(item);
    }
    let next = match last {
        Some(l) => format!("\"{}\"", cursor_after(l)),
        None => "null".into(),
    };
    body.push_str(&format!(
        "],\"total\":{total},\"limit\":{},\"offset\":{},\"next_cursor\":{next}}}",
        filter.limit, filter.offset
    ));
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// The furthest a list may be paged by offset (cursors go further).
const MAX_OFFSET: u32 = 1_000_000;

/// A list's page size and offset, within the bounds the document declares.
fn page_bounds(
    limit: Option<u32>,
    offset: Option<u32>,
    default: u32,
) -> Result<(u32, u32), Problem> {
    let limit = limit.unwrap_or(default);
    if !(1..=waymark_store::MAX_PAGE).contains(&limit) {
        return Err(unprocessable(
            "limit",
            format!("choose between 1 and {}", waymark_store::MAX_PAGE),
        ));
    }
    let offset = offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err(unprocessable(
            "offset",
            format!("choose between 0 and {MAX_OFFSET}"),
        ));
    }
    Ok((limit, offset))
}

async fn agency_id(store: &Store, abbreviation: &str) -> Result<AgencyId, Problem> {
    let abbr = Abbreviation::parse(abbreviation)?;
    store.agency_by_abbreviation(&abbr).await?.ok_or_else(|| {
        unprocessable(
            "agency",
            format!("no agency is abbreviated {}", abbr.as_str()),
        )
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StartRequest {
    /// The agency's abbreviation.
    agency: String,
    #[serde(default = "default_mode")]
    mode: Mode,
}

fn default_mode() -> Mode {
    Mode::DoItWithYou
}

/// Starts an engagement for an agency on the current model, which it pins.
#[utoipa::path(post, path = "/api/v1/engagements", request_body = StartRequest, responses(
    (status = 201, body = Engagement),
    (status = 403, body = Problem),
    (status = 422, body = Problem),
))]
async fn start(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Body(req): Body<StartRequest>,
) -> Result<Response, Problem> {
    let agency = agency_id(&s.store, &req.agency).await?;
    let hash = s.store.pin_model(&s.pages, now()).await?;
    let e = s
        .store
        .start_engagement(&actor, agency, req.mode, &hash, now())
        .await?;
    Ok(created(&format!("/api/v1/engagements/{}", e.id), &e))
}

/// An engagement with what needs attention now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct EngagementView {
    #[serde(flatten)]
    engagement: Engagement,
    warnings: Vec<Warning>,
}

/// One engagement; another agency's answers 404.
#[utoipa::path(get, path = "/api/v1/engagements/{id}", params(("id" = i64, Path)), responses(
    (status = 200, body = EngagementView),
    (status = 404, body = Problem),
))]
async fn show(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Response, Problem> {
    let e = s.store.engagement(&actor, EngagementId(id)).await?;
    // By the current model's timeboxes, as the dashboard and lists judge.
    Ok(Json(EngagementView {
        warnings: e.warnings(&s.model, now()),
        engagement: e,
    })
    .into_response())
}

/// A benefit on the register with its number and its status today.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct BenefitView {
    /// Its place on the register, from 1: what `change_benefit` and
    /// `record_reading` name.
    id: u32,
    #[serde(flatten)]
    benefit: waymark_core::Benefit,
    /// Derived from the plan and the readings, never set.
    assessment: waymark_core::benefit::Assessment,
}

/// The engagement's benefits register: each benefit's plan, every reading
/// (corrections too), and its status today, worked out as the core's
/// `benefit::assess` says: realised when the latest reading reaches the
/// target, missed when the target date has passed short of it, and
/// otherwise on track or at risk by a least-squares line through the
/// baseline and the readings, carried on to the target date.
#[utoipa::path(get, path = "/api/v1/engagements/{id}/benefits", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<BenefitView>),
    (status = 404, body = Problem),
))]
async fn benefits(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Response, Problem> {
    let e = s.store.engagement(&actor, EngagementId(id)).await?;
    let today = waymark_core::today(now());
    let out: Vec<BenefitView> = e
        .benefits
        .into_iter()
        .enumerate()
        .map(|(i, b)| BenefitView {
            id: i as u32 + 1,
            assessment: waymark_core::benefit::assess(&b, &today),
            benefit: b,
        })
        .collect();
    Ok(Json(out).into_response())
}

/// Lessons from retrospectives.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct LessonsView {
    /// How many lessons the caller may see in all.
    total: u64,
    /// The first (at most 2000), by the model's stage and step.
    lessons: Vec<waymark_store::LessonRow>,
}

/// Every lesson the caller may see, from every retrospective, ordered by
/// the stage and step of the model it is about: the programme sees every
/// engagement's, an agency its own, a partner those they are assigned to.
/// Lessons are recorded with the `record_lesson` command at a workshop
/// scheduled as a retrospective (`retro: true`).
#[utoipa::path(get, path = "/api/v1/lessons", responses(
    (status = 200, body = LessonsView),
))]
async fn lessons(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
) -> Result<Response, Problem> {
    let (lessons, total) = s.store.lessons(&actor, waymark_store::LESSONS_MAX).await?;
    Ok(Json(LessonsView { total, lessons }).into_response())
}

/// Every event of the engagement, oldest first, with its place in the audit chain.
#[utoipa::path(get, path = "/api/v1/engagements/{id}/history", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<StoredEvent>),
    (status = 404, body = Problem),
))]
async fn history(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Response, Problem> {
    Ok(Json(s.store.history(&actor, EngagementId(id)).await?).into_response())
}

/// An engagement's discussion, as the caller may read it.
#[derive(Serialize, utoipa::ToSchema)]
struct DiscussionView {
    /// Every comment, oldest first. Post one with the `comment` command;
    /// its author edits it with `edit_comment`; the programme hides one
    /// with `hide_comment`.
    comments: Vec<DiscussionComment>,
    /// Who a comment may mention (`@` and their name).
    people: Vec<PersonRef>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct DiscussionComment {
    #[serde(flatten)]
    comment: waymark_core::discussion::Comment,
    /// What it is about, in words.
    about: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct PersonRef {
    id: i64,
    name: String,
}

/// The engagement's discussion: comments beside its steps, decisions and
/// risks, read by exactly those who may read the engagement.
#[utoipa::path(get, path = "/api/v1/engagements/{id}/discussion", params(("id" = i64, Path)), responses(
    (status = 200, body = DiscussionView),
    (status = 404, body = Problem),
))]
async fn discussion(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Response, Problem> {
    let (e, comments) = s.store.discussion(&actor, EngagementId(id)).await?;
    let model = s.store.model(&e.model_hash).await?;
    let people = s.store.participants_of(&actor, &e).await?;
    Ok(Json(DiscussionView {
        comments: comments
            .into_iter()
            .map(|c| DiscussionComment {
                about: c.anchor.label(&model, &e),
                comment: c,
            })
            .collect(),
        people: people
            .into_iter()
            .map(|p| PersonRef {
                id: p.id.0,
                name: p.name,
            })
            .collect(),
    })
    .into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CommandRequest {
    /// The version the caller last saw; a newer one means someone else
    /// changed the engagement, and the command is refused with 409.
    expected_version: u64,
    command: Command,
}

/// Runs one command on the engagement, if the caller saw its latest version.
#[utoipa::path(post, path = "/api/v1/engagements/{id}/commands", params(("id" = i64, Path)), request_body = CommandRequest, responses(
    (status = 200, body = Engagement, description = "The engagement after the command"),
    (status = 403, body = Problem, description = "The caller's role may not give this command"),
    (status = 404, body = Problem),
    (status = 409, body = Problem, description = "`conflict`: a stale version; `rule_violated`: not possible now"),
    (status = 422, body = Problem, description = "A field is invalid; see `errors`"),
))]
async fn command(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(req): Body<CommandRequest>,
) -> Result<Response, Problem> {
    let e = s
        .actions
        .run(&actor, EngagementId(id), req.expected_version, &req.command)
        .await
        .map_err(|err| match err {
            // A field refused: every problem with what was typed, at once,
            // as the workspace's forms show them (the core judged access
            // first, so this says nothing of a record the caller may not see).
            StoreError::Domain(DomainError::Invalid { .. }) => match req.command.text_problems() {
                all if all.len() > 1 => invalid_fields(&all),
                _ => Problem::from(err),
            },
            other => Problem::from(other),
        })?;
    Ok(Json(e).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct IssueRequest {
    /// The version the caller last saw.
    expected_version: u64,
}

/// Issues the next version of a letter (`letter-of-intent` or
/// `closure-letter`): written from the programme's template, typeset as a
/// tagged PDF, kept with its bytes, and sent to the executive sponsor for
/// signature. The programme only.
#[utoipa::path(post, path = "/api/v1/engagements/{id}/letters/{kind}",
    params(("id" = i64, Path), ("kind" = String, Path, description = "letter-of-intent or closure-letter")),
    request_body = IssueRequest, responses(
    (status = 200, body = Engagement, description = "The engagement, with the new version in `letters`"),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 409, body = Problem, description = "`conflict`: a stale version; `rule_violated`: nothing changed, or the letter cannot be written yet"),
))]
async fn issue_letter(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params((id, kind)): Params<(i64, String)>,
    Body(req): Body<IssueRequest>,
) -> Result<Response, Problem> {
    let kind = LetterKind::from_slug(&kind).ok_or_else(|| not_found("letter"))?;
    let e = s
        .actions
        .issue_letter(&actor, EngagementId(id), req.expected_version, kind)
        .await
        .map_err(|e| match e {
            ActionError::Store(e) => Problem::from(e),
            ActionError::Internal(e) => StoreError::Corrupt(e).into(),
        })?;
    Ok(Json(e).into_response())
}

/// A document to upload, as `multipart/form-data`.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
struct DocumentUpload {
    /// The version the caller last saw.
    expected_version: u64,
    /// What the document is; the file's name if blank.
    title: Option<String>,
    /// The file: PDF, Word, Excel, PowerPoint, PNG, JPEG, text, markdown or CSV, at most 20 MB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Uploads a document to the engagement. Its type is read from its bytes,
/// which must match its name's extension.
#[utoipa::path(post, path = "/api/v1/engagements/{id}/documents", params(("id" = i64, Path)),
    request_body(content = DocumentUpload, content_type = "multipart/form-data"), responses(
    (status = 200, body = Engagement, description = "The engagement, with the file in `documents`"),
    (status = 404, body = Problem),
    (status = 409, body = Problem),
    (status = 422, body = Problem, description = "The file is missing, empty, too large or not what its name says"),
))]
async fn upload_document(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    form: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, Problem> {
    let mut form = form.map_err(|e| unreadable(e.body_text()))?;
    let upload = crate::actions::read_upload(&mut form)
        .await
        .map_err(|why| unreadable(why.to_string()))?;
    let version = match upload.field("expected_version").trim() {
        "" => None,
        v => Some(v.parse::<u64>().map_err(|_| {
            unprocessable(
                "expected_version",
                "give the version as a whole number".into(),
            )
        })?),
    };
    let title = upload.field("title").to_string();
    let file = upload.file;
    let version = version
        .ok_or_else(|| unprocessable("expected_version", "give the version you last saw".into()))?;
    let (name, bytes) = file
        .filter(|(n, _)| !n.is_empty())
        .ok_or_else(|| unprocessable("file", "attach the file, with its name".into()))?;
    let e = s
        .actions
        .upload(&actor, EngagementId(id), version, &title, &name, bytes)
        .await?;
    Ok(Json(e).into_response())
}

/// Every agency (the directory of adopting agencies is open to every caller).
#[utoipa::path(get, path = "/api/v1/agencies", responses((status = 200, body = Vec<Agency>)))]
async fn agencies(
    State(s): State<Arc<ApiState>>,
    Caller(_): Caller,
) -> Result<Json<Vec<Agency>>, Problem> {
    Ok(Json(s.store.agencies().await?))
}

#[utoipa::path(get, path = "/api/v1/agencies/{id}", params(("id" = i64, Path)), responses(
    (status = 200, body = Agency),
    (status = 404, body = Problem),
))]
async fn agency(
    State(s): State<Arc<ApiState>>,
    Caller(_): Caller,
    Params(id): Params<i64>,
) -> Result<Json<Agency>, Problem> {
    s.store
        .agency(AgencyId(id))
        .await?
        .map(Json)
        .ok_or_else(|| not_found("agency"))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AgencyRequest {
    name: String,
    /// Short name, such as DTA: 2 to 16 letters, digits or hyphens; unique.
    abbreviation: String,
    portfolio: String,
    agency_type: Option<AgencyType>,
}

/// Registers an agency (programme team only).
#[utoipa::path(post, path = "/api/v1/agencies", request_body = AgencyRequest, responses(
    (status = 201, body = Agency),
    (status = 403, body = Problem),
    (status = 409, body = Problem, description = "`duplicate`: the abbreviation is taken"),
    (status = 422, body = Problem),
))]
async fn add_agency(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Body(req): Body<AgencyRequest>,
) -> Result<Response, Problem> {
    actor.may_add_agency()?;
    let new = NewAgency::parse(
        &req.name,
        &req.abbreviation,
        &req.portfolio,
        req.agency_type,
    )?;
    let id = s.store.add_agency(&new, now()).await?;
    let a = s
        .store
        .agency(id)
        .await?
        .ok_or_else(|| not_found("agency"))?;
    Ok(created(&format!("/api/v1/agencies/{id}"), &a))
}

fn created<T: Serialize>(location: &str, body: &T) -> Response {
    let mut r = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// The people the caller may see: everyone for the programme team; oneself
/// and one's own agencies' people for everyone else.
#[utoipa::path(get, path = "/api/v1/people", responses((status = 200, body = Vec<Person>)))]
async fn people(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
) -> Result<Json<Vec<Person>>, Problem> {
    let mut all = s.store.people().await?;
    all.retain(|p| actor.sees_person(p));
    Ok(Json(all))
}

#[utoipa::path(get, path = "/api/v1/people/{id}", params(("id" = i64, Path)), responses(
    (status = 200, body = Person),
    (status = 404, body = Problem),
))]
async fn person(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Json<Person>, Problem> {
    match s.store.person(PersonId(id)).await? {
        Some(p) if actor.sees_person(&p) => Ok(Json(p)),
        _ => Err(not_found("person")),
    }
}

/// Everything Waymark holds about a person (Australian Privacy Principle
/// 12): the person themself, or a programme admin for them. Each place is
/// a table, what it holds in words, and its rows; secrets (password and
/// token hashes, session ids, unsubscribe keys, webhook secrets) are never
/// part of it.
#[utoipa::path(get, path = "/api/v1/people/{id}/data", params(("id" = i64, Path)), responses(
    (status = 200, body = waymark_store::PersonalData),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 429, body = Problem, description = "More than ten downloads in the last hour by a caller who is not a programme admin"),
))]
async fn personal_data(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Response, Problem> {
    let t = now();
    if let Some(limit) = actor.personal_data_limit()
        && crate::app::limited(
            &s.store,
            "personal_data",
            &actor.person.0.to_string(),
            limit,
            t,
        )
        .await?
    {
        return Err(Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Too many downloads",
            "you have downloaded this several times in the last hour; wait an hour",
        ));
    }
    match s.store.personal_data(&actor, PersonId(id), t).await {
        Err(StoreError::NoSuchPerson(_)) => Err(not_found("person")),
        other => {
            let mut r = Json(other?).into_response();
            r.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            Ok(r)
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PersonRequest {
    name: String,
    email: String,
    #[serde(default)]
    roles: Vec<Role>,
}

/// Adds a person with their roles (programme admins only).
#[utoipa::path(post, path = "/api/v1/people", request_body = PersonRequest, responses(
    (status = 201, body = Person),
    (status = 403, body = Problem),
    (status = 409, body = Problem, description = "`duplicate`: the email is taken"),
    (status = 422, body = Problem),
))]
async fn add_person(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Body(req): Body<PersonRequest>,
) -> Result<Response, Problem> {
    actor.may_manage_people()?;
    let new = NewPerson::parse(&req.name, &req.email)?;
    let id = s
        .store
        .add_person_with_roles(&new, &req.roles, now())
        .await?;
    let p = s
        .store
        .person(id)
        .await?
        .ok_or_else(|| not_found("person"))?;
    Ok(created(&format!("/api/v1/people/{id}"), &p))
}

/// Gives a person another role (programme admins only).
#[utoipa::path(post, path = "/api/v1/people/{id}/roles", params(("id" = i64, Path)), request_body = Role, responses(
    (status = 200, body = Person),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 409, body = Problem, description = "`duplicate`: the person has this role"),
))]
async fn add_role(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(role): Body<Role>,
) -> Result<Json<Person>, Problem> {
    actor.may_manage_people()?;
    let id = existing_person(&s.store, PersonId(id)).await?;
    s.store.add_role(id, role).await?;
    s.store
        .person(id)
        .await?
        .map(Json)
        .ok_or_else(|| not_found("person"))
}

/// Deactivates a person who has left (programme admins, never themselves):
/// they cannot sign in, their API tokens and unused invites end at once,
/// their sessions on their next request, and their name stays on the
/// history.
#[utoipa::path(post, path = "/api/v1/people/{id}/deactivate", params(("id" = i64, Path)), responses(
    (status = 200, body = Person),
    (status = 403, body = Problem, description = "not an admin, or deactivating oneself"),
    (status = 404, body = Problem),
    (status = 409, body = Problem, description = "`duplicate`: already deactivated"),
))]
async fn deactivate_person(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Json<Person>, Problem> {
    let id = PersonId(id);
    actor.may_deactivate(id)?;
    let id = existing_person(&s.store, id).await?;
    Ok(Json(s.store.deactivate_person(&actor, id, now()).await?))
}

/// Removes a person's personal data at their request (programme admins,
/// never their own; it cannot be undone): they are deactivated, their
/// name and address are replaced everywhere Waymark holds them, their
/// credentials go, and `audit verify` still passes. docs/security.md says
/// what is searched and what is kept.
#[utoipa::path(post, path = "/api/v1/people/{id}/remove-personal-data", params(("id" = i64, Path)), request_body = RemoveRequest, responses(
    (status = 200, body = waymark_store::PersonRemoval),
    (status = 403, body = Problem, description = "not an admin, or one's own"),
    (status = 404, body = Problem),
    (status = 409, body = Problem, description = "`duplicate`: removed already"),
    (status = 422, body = Problem, description = "`invalid`: an earlier address or name in `also` is not one"),
))]
async fn remove_personal_data(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(r): Body<RemoveRequest>,
) -> Result<Json<waymark_store::PersonRemoval>, Problem> {
    let id = PersonId(id);
    actor.may_remove_personal_data(id)?;
    let id = existing_person(&s.store, id).await?;
    Ok(Json(
        s.store
            .remove_personal_data(&actor, id, &r.also, now())
            .await?,
    ))
}

/// What a removal also searches for: earlier addresses and names the
/// person used (Waymark keeps no old values when details are corrected).
/// Send `{}` for none.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RemoveRequest {
    /// At most 10; an address, or a name of two words or more.
    #[serde(default)]
    #[schema(max_items = 10)]
    also: Vec<String>,
}

/// Lets a deactivated person sign in again (programme admins).
#[utoipa::path(post, path = "/api/v1/people/{id}/reactivate", params(("id" = i64, Path)), responses(
    (status = 200, body = Person),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
))]
async fn reactivate_person(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Json<Person>, Problem> {
    let id = PersonId(id);
    actor.may_deactivate(id)?;
    let id = existing_person(&s.store, id).await?;
    Ok(Json(s.store.reactivate_person(&actor, id).await?))
}

/// The person a path names, or 404 (a body's reference to nobody is 422).
async fn existing_person(store: &Store, id: PersonId) -> Result<PersonId, Problem> {
    match store.person(id).await? {
        Some(_) => Ok(id),
        None => Err(not_found("person")),
    }
}

/// What needs the caller's attention (the workspace's home page): each
/// stage's active count and newest engagements, engagements past a stage's
/// timebox, and
/// recent activity, over the engagements the caller may see.
#[utoipa::path(get, path = "/api/v1/dashboard", responses(
    (status = 200, body = waymark_store::Dashboard),
    (status = 401, body = Problem),
))]
async fn dashboard(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
) -> Result<Json<waymark_store::Dashboard>, Problem> {
    Ok(Json(s.store.dashboard(&actor, &s.model, now()).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchQuery {
    /// Words to find; text in double quotes is a phrase. Operators and
    /// punctuation are read as plain separators, never as syntax.
    q: String,
    /// Only this kind of result, a page at a time: guide, article,
    /// engagement, agency or enquiry.
    #[param(pattern = "^(guide|article|engagement|agency|enquiry|question)$")]
    kind: Option<String>,
    /// With `kind`: the page, 1 to 20 (10 results a page; a kind's 200
    /// newest matches are ranked, see `exact`).
    #[param(minimum = 1, maximum = 20)]
    page: Option<u32>,
}

/// Search results, in groups by kind.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct SearchResults {
    /// The words and phrases searched for, as understood.
    query: String,
    groups: Vec<waymark_store::Group>,
}

/// Searches the guide, articles, and the records the caller may see. A
/// record out of the caller's reach is never counted or shown.
#[utoipa::path(get, path = "/api/v1/search", params(SearchQuery), responses(
    (status = 200, body = SearchResults),
    (status = 400, body = Problem),
    (status = 401, body = Problem),
    (status = 422, body = Problem),
))]
async fn search(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    q: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SearchResults>, Problem> {
    use waymark_core::search::{Kind, MAX_PAGE};
    let q = query(q)?;
    let kind = match q.kind.as_deref() {
        None => None,
        Some(k) => Some(Kind::parse(k).ok_or_else(|| {
            let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            unprocessable("kind", format!("choose one of {}", kinds.join(", ")))
        })?),
    };
    let page = q.page.unwrap_or(1);
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(unprocessable(
            "page",
            format!("choose between 1 and {MAX_PAGE}"),
        ));
    }
    let query = waymark_core::search::Query::parse(&q.q);
    let groups = s.store.search(Some(&actor), &query, kind, page).await?;
    Ok(Json(SearchResults {
        query: query.describe(),
        groups,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// How many to pass over, at most 1,000,000 (default 0).
    #[param(minimum = 0, maximum = 1_000_000)]
    offset: Option<u32>,
}

/// One page of the published articles, by title.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ArticlePage {
    items: Vec<waymark_store::PublishedArticle>,
    /// How many are published, on all pages.
    total: u64,
    limit: u32,
    offset: u32,
}

/// Published knowledge articles, each one's newest published version, a
/// page at a time.
#[utoipa::path(get, path = "/api/v1/articles", params(PageQuery), responses(
    (status = 200, body = ArticlePage),
    (status = 400, body = Problem),
    (status = 401, body = Problem),
    (status = 422, body = Problem),
))]
async fn articles(
    State(s): State<Arc<ApiState>>,
    Caller(_): Caller,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ArticlePage>, Problem> {
    let q = query(q)?;
    let (limit, offset) = page_bounds(q.limit, q.offset, 100)?;
    let (items, total) = s.store.published_page(limit, offset).await?;
    Ok(Json(ArticlePage {
        items,
        total,
        limit,
        offset,
    }))
}

/// Every article with its working copy and status (the programme only).
#[utoipa::path(get, path = "/api/v1/articles/drafts", responses(
    (status = 200, body = Vec<waymark_store::ArticleRow>),
    (status = 401, body = Problem),
    (status = 403, body = Problem),
))]
async fn article_drafts(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
) -> Result<Json<Vec<waymark_store::ArticleRow>>, Problem> {
    waymark_core::knowledge::may_write(&actor)?;
    Ok(Json(s.store.articles().await?))
}

/// An article to write: its fields as a person types them, and what to do.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ArticleRequest {
    article: waymark_core::knowledge::ArticleInput,
    action: waymark_core::knowledge::ArticleAction,
    /// For a change: the `version` of the article you read.
    expected_version: Option<i64>,
    /// The person who answers for the article (someone of the programme);
    /// the writer when absent on a new one, unchanged on a change.
    owner: Option<i64>,
}

/// What was written.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ArticleWritten {
    id: i64,
}

/// Every problem with a request's fields, each named (422).
fn invalid_fields(problems: &[waymark_core::DomainError]) -> Problem {
    invalid_fields_in("", problems)
}

/// Every problem with the fields of the object at `prefix` in the request
/// (`article.`): `errors` names each by its path in the request body.
fn invalid_fields_in(prefix: &str, problems: &[waymark_core::DomainError]) -> Problem {
    let mut p = Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "Invalid input",
        problems
            .first()
            .map_or_else(String::new, ToString::to_string),
    );
    for d in problems {
        if let waymark_core::DomainError::Invalid { field, message } = d {
            p.errors.push(FieldError {
                field: format!("{prefix}{field}"),
                message: message.clone(),
            });
        }
    }
    p
}

fn article_problem(e: crate::actions::ArticleError) -> Problem {
    use crate::actions::ArticleError;
    match e {
        // `owner` is the request's own; the rest are the article's fields.
        ArticleError::Fields(problems) => {
            let (owner, article): (Vec<_>, Vec<_>) = problems.into_iter().partition(|d| {
                matches!(d, waymark_core::DomainError::Invalid { field: "owner", .. })
            });
            let mut p = invalid_fields_in("article.", &article);
            p.errors.extend(invalid_fields(&owner).errors);
            if p.detail.is_empty() {
                p.detail = owner.first().map_or_else(String::new, ToString::to_string);
            }
            p
        }
        ArticleError::Store(StoreError::Domain(waymark_core::DomainError::Conflict {
            actual,
            ..
        })) => Problem::new(
            StatusCode::CONFLICT,
            "conflict",
            "Changed since you read it",
            format!(
                "this article changed since you read it (it is now version {actual}); read it again and make your change to that version"
            ),
        ),
        ArticleError::Store(e) => e.into(),
        ArticleError::Internal(e) => {
            tracing::error!("api: {e}");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "the article is saved, but the guide could not be rendered again; it will be at the next publication check",
            )
        }
    }
}

/// Writes a new article (the programme only): saved as a draft, or published.
#[utoipa::path(post, path = "/api/v1/articles", request_body = ArticleRequest, responses(
    (status = 201, body = ArticleWritten),
    (status = 400, body = Problem),
    (status = 401, body = Problem),
    (status = 403, body = Problem),
    (status = 409, body = Problem),
    (status = 422, body = Problem),
))]
async fn create_article(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Body(r): Body<ArticleRequest>,
) -> Result<Response, Problem> {
    waymark_core::knowledge::may_write(&actor)?;
    let id = s
        .actions
        .write_article(
            &actor,
            &s.model,
            crate::actions::ArticleWrite {
                id: None,
                expected: None,
                input: &r.article,
                owner: r.owner.map(PersonId),
                action: r.action,
            },
        )
        .await
        .map_err(article_problem)?;
    Ok((StatusCode::CREATED, Json(ArticleWritten { id })).into_response())
}

/// Changes an article (the programme only): save its working copy, publish
/// it as a new version, or archive it. `expected_version` is required.
#[utoipa::path(post, path = "/api/v1/articles/{id}", params(("id" = i64, Path)), request_body = ArticleRequest, responses(
    (status = 200, body = ArticleWritten),
    (status = 400, body = Problem),
    (status = 401, body = Problem),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 409, body = Problem),
    (status = 422, body = Problem),
))]
async fn update_article(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(r): Body<ArticleRequest>,
) -> Result<Json<ArticleWritten>, Problem> {
    waymark_core::knowledge::may_write(&actor)?;
    let expected = r.expected_version.filter(|v| *v >= 1).ok_or_else(|| {
        unprocessable(
            "expected_version",
            "give the version you read (1 or more)".into(),
        )
    })?;
    let id = s
        .actions
        .write_article(
            &actor,
            &s.model,
            crate::actions::ArticleWrite {
                id: Some(id),
                expected: Some(expected),
                input: &r.article,
                owner: r.owner.map(PersonId),
                action: r.action,
            },
        )
        .await
        .map_err(article_problem)?;
    Ok(Json(ArticleWritten { id }))
}

/// Every published version of an article, newest first (public record:
/// archived articles' versions stay readable).
#[utoipa::path(get, path = "/api/v1/articles/{id}/versions", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<waymark_store::ArticleVersion>),
    (status = 401, body = Problem),
    (status = 404, body = Problem),
))]
async fn article_versions(
    State(s): State<Arc<ApiState>>,
    Caller(_): Caller,
    Params(id): Params<i64>,
) -> Result<Json<Vec<waymark_store::ArticleVersion>>, Problem> {
    let a = s
        .store
        .article(id)
        .await?
        .ok_or_else(|| not_found("article"))?;
    let versions = s.store.article_versions(&a.article.slug).await?;
    if versions.is_empty() {
        // A draft never published is the programme's alone.
        return Err(not_found("article"));
    }
    Ok(Json(versions))
}

/// A reader's answer to "Was this helpful?".
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct FeedbackRequest {
    helpful: bool,
    #[serde(default)]
    comment: String,
}

/// Answers "Was this helpful?" for a published article; answering again
/// replaces the caller's answer.
#[utoipa::path(post, path = "/api/v1/articles/{id}/feedback", params(("id" = i64, Path)), request_body = FeedbackRequest, responses(
    (status = 204),
    (status = 400, body = Problem),
    (status = 401, body = Problem),
    (status = 404, body = Problem),
    (status = 422, body = Problem),
))]
async fn article_feedback(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(r): Body<FeedbackRequest>,
) -> Result<StatusCode, Problem> {
    let a = s
        .store
        .article(id)
        .await?
        .ok_or_else(|| not_found("article"))?;
    let answer =
        waymark_core::knowledge::feedback(if r.helpful { "yes" } else { "no" }, &r.comment)
            .map_err(|p| invalid_fields(&p))?;
    s.store
        .record_feedback(&actor, &a.article.slug, &answer, now())
        .await
        .map_err(|e| match e {
            StoreError::Domain(waymark_core::DomainError::NotFound) => not_found("article"),
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

/// Blueprint releases, the newest first.
#[utoipa::path(get, path = "/api/v1/blueprint/releases", responses(
    (status = 200, body = Vec<waymark_core::knowledge::Release>),
    (status = 401, body = Problem),
))]
async fn releases(
    State(s): State<Arc<ApiState>>,
    Caller(_): Caller,
) -> Result<Json<Vec<waymark_core::knowledge::Release>>, Problem> {
    Ok(Json(s.store.releases().await?))
}

/// Records a blueprint release (the programme only); every guide page then names it.
#[utoipa::path(post, path = "/api/v1/blueprint/releases", request_body = waymark_core::knowledge::Release, responses(
    (status = 201, body = waymark_core::knowledge::Release),
    (status = 400, body = Problem),
    (status = 401, body = Problem),
    (status = 403, body = Problem),
    (status = 409, body = Problem),
    (status = 422, body = Problem),
))]
async fn add_release(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Body(r): Body<waymark_core::knowledge::Release>,
) -> Result<Response, Problem> {
    waymark_core::knowledge::may_write(&actor)?;
    let release = waymark_core::knowledge::release(
        &r.version,
        &r.released_on,
        &r.notes,
        &r.link,
        &waymark_core::today(now()),
    )
    .map_err(|p| invalid_fields(&p))?;
    s.store.add_release(&actor, &release, now()).await?;
    if let Err(e) = s.actions.refresh_guide(None).await {
        tracing::error!("api: the release is recorded, but {e}");
    }
    Ok((StatusCode::CREATED, Json(release)).into_response())
}

/// An agency in the directory of agencies using the blueprint.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AdopterEntry {
    agency: String,
    abbreviation: String,
    /// The highest-numbered stage its engagements ever entered (its name).
    furthest: Option<String>,
    /// When it first entered that stage.
    since: Option<waymark_core::Timestamp>,
    /// Stages active now and completed, by name.
    active: Vec<String>,
    completed: Vec<String>,
    /// It adopts the blueprint on its own (Do it Yourself).
    independent: bool,
    contact: String,
    case_study: String,
}

/// The agencies that chose to be listed, with how far each has come, from
/// their engagements' records.
#[utoipa::path(get, path = "/api/v1/adopters", responses(
    (status = 200, body = Vec<AdopterEntry>),
    (status = 401, body = Problem),
))]
async fn adopters(
    State(s): State<Arc<ApiState>>,
    Caller(_): Caller,
) -> Result<Json<Vec<AdopterEntry>>, Problem> {
    let out = s
        .store
        .adopters()
        .await?
        .into_iter()
        .map(|a| {
            let st = waymark_core::adopters::standing(&a.engagements, &s.model);
            AdopterEntry {
                agency: a.agency.name,
                abbreviation: a.agency.abbreviation.as_str().to_string(),
                furthest: st.furthest.map(|(_, name)| name),
                since: st.since,
                active: st.active,
                completed: st.completed,
                independent: st.independent,
                contact: a.listing.contact,
                case_study: a.listing.case_study,
            }
        })
        .collect();
    Ok(Json(out))
}

/// Whether an agency is listed, and what it shows.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DirectoryRequest {
    listed: bool,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    case_study: String,
}

/// Lists an agency in the directory (or changes its entry), or takes it
/// off: its executive sponsor or the programme.
#[utoipa::path(post, path = "/api/v1/agencies/{id}/directory", params(("id" = i64, Path)), request_body = DirectoryRequest, responses(
    (status = 204),
    (status = 400, body = Problem),
    (status = 401, body = Problem),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 422, body = Problem),
))]
async fn set_directory(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(r): Body<DirectoryRequest>,
) -> Result<StatusCode, Problem> {
    let agency = AgencyId(id);
    s.store
        .agency(agency)
        .await?
        .ok_or_else(|| not_found("agency"))?;
    if r.listed {
        let listing = waymark_core::adopters::listing(&r.contact, &r.case_study)
            .map_err(|p| invalid_fields(&p))?;
        s.store
            .list_adopter(&actor, agency, &listing, now())
            .await?;
    } else {
        s.store.unlist_adopter(&actor, agency).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The current model's self-assessment: its factors, questions, answers'
/// weights and which levels give each type (`docs/tailoring.md`).
#[utoipa::path(get, path = "/api/v1/assessment", responses(
    (status = 200, body = waymark_model::Questionnaire),
    (status = 401, body = Problem),
    (status = 404, body = Problem, description = "the current model has no self-assessment"),
))]
async fn questionnaire(
    State(s): State<Arc<ApiState>>,
    Caller(_): Caller,
) -> Result<Json<waymark_model::Questionnaire>, Problem> {
    s.model
        .questionnaire()
        .cloned()
        .map(Json)
        .ok_or_else(|| not_found("self-assessment in the current model"))
}

/// The agency's assessments and the programme's settings of its type,
/// oldest first: for the programme and the agency's own people.
#[utoipa::path(get, path = "/api/v1/agencies/{id}/assessments", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<waymark_store::AgencyRecord>),
    (status = 401, body = Problem),
    (status = 404, body = Problem),
))]
async fn assessments(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Response, Problem> {
    match s.store.agency_history(&actor, AgencyId(id)).await {
        Err(StoreError::Missing { .. }) => Err(not_found("agency")),
        r => Ok(Json(r?).into_response()),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AssessRequest {
    /// Each question's key with the position (from 0) of the chosen answer,
    /// as `GET /api/v1/assessment` lists them; every question, once.
    answers: std::collections::BTreeMap<String, u32>,
}

/// Records the agency's self-assessment (its executive sponsor or the
/// programme): the agency's type becomes the result, and each of its
/// engagements is tailored for it, with an event in its history.
#[utoipa::path(post, path = "/api/v1/agencies/{id}/assessments", params(("id" = i64, Path)), request_body = AssessRequest, responses(
    (status = 201, body = waymark_store::AgencyRecord),
    (status = 400, body = Problem),
    (status = 401, body = Problem),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 422, body = Problem, description = "a question unanswered, unknown, or answered with an answer it does not offer (`errors` names each as `answers.KEY`)"),
))]
async fn assess(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(r): Body<AssessRequest>,
) -> Result<Response, Problem> {
    let answers = r
        .answers
        .into_iter()
        .map(|(question, answer)| (question, answer as usize))
        .collect();
    let done = s
        .store
        .assess_agency(
            &actor,
            AgencyId(id),
            s.model.questionnaire(),
            &answers,
            now(),
        )
        .await;
    match done {
        Err(StoreError::Missing { .. }) => Err(not_found("agency")),
        r => Ok(created(&format!("/api/v1/agencies/{id}/assessments"), &r?)),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TypeRequest {
    agency_type: AgencyType,
    /// Why the programme sets this type over the assessment (up to 500 characters).
    reason: String,
}

/// The programme sets an agency's type over its self-assessment, with a
/// reason; the agency's engagements are tailored for it.
#[utoipa::path(post, path = "/api/v1/agencies/{id}/type", params(("id" = i64, Path)), request_body = TypeRequest, responses(
    (status = 201, body = waymark_store::AgencyRecord),
    (status = 400, body = Problem),
    (status = 401, body = Problem),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 422, body = Problem),
))]
async fn set_agency_type(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(r): Body<TypeRequest>,
) -> Result<Response, Problem> {
    let reason = waymark_core::Line::<500>::from(r.reason);
    let done = s
        .store
        .set_agency_type(&actor, AgencyId(id), r.agency_type, &reason, now())
        .await;
    match done {
        Err(StoreError::Missing { .. }) => Err(not_found("agency")),
        r => Ok(created(&format!("/api/v1/agencies/{id}/assessments"), &r?)),
    }
}

/// An engagement's journey as tailored for its agency's type.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Journey {
    /// The type the journey is tailored for (none: every step is essential).
    agency_type: Option<AgencyType>,
    stages: Vec<JourneyStage>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct JourneyStage {
    slug: String,
    name: String,
    status: waymark_core::StageStatus,
    steps: Vec<JourneyStep>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct JourneyStep {
    number: u32,
    title: String,
    status: waymark_core::StepStatus,
    #[serde(flatten)]
    relevance: waymark_model::Relevance,
}

/// Each stage's steps with their status and how much they matter to the
/// agency's type (`essential`, `optional`, or `not_applicable` with the
/// reason), by the model version the engagement runs on.
#[utoipa::path(get, path = "/api/v1/engagements/{id}/journey", params(("id" = i64, Path)), responses(
    (status = 200, body = Journey),
    (status = 401, body = Problem),
    (status = 404, body = Problem),
))]
async fn journey(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Response, Problem> {
    let e = s.store.engagement(&actor, EngagementId(id)).await?;
    let model = s.store.model(&e.model_hash).await?;
    let stages = model
        .stages
        .iter()
        .map(|st| JourneyStage {
            slug: st.slug.clone(),
            name: st.name.clone(),
            status: e
                .stage(&st.slug)
                .map_or(waymark_core::StageStatus::NotStarted, |r| r.status),
            steps: st
                .steps
                .iter()
                .map(|step| JourneyStep {
                    number: step.number,
                    title: step.title.clone(),
                    status: e.step(&st.slug, step.number),
                    relevance: e.relevance(step),
                })
                .collect(),
        })
        .collect();
    Ok(Json(Journey {
        agency_type: e.agency_type,
        stages,
    })
    .into_response())
}

/// Every model version an engagement has pinned, newest first, with how
/// many engagements run on it; `current` is the one new engagements pin.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ModelVersions {
    current: String,
    versions: Vec<waymark_store::ModelVersion>,
}

#[utoipa::path(get, path = "/api/v1/models", responses(
    (status = 200, body = ModelVersions),
    (status = 401, body = Problem),
    (status = 403, body = Problem),
))]
async fn model_versions(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
) -> Result<Json<ModelVersions>, Problem> {
    waymark_core::migration::may_migrate(&actor)?;
    let current = s.store.pin_model(&s.pages, now()).await?;
    Ok(Json(ModelVersions {
        current,
        versions: s.store.model_versions().await?,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ProposalQuery {
    /// The model version (hash) engagements move from.
    from: String,
}

/// The mapping `model diff` proposes from a pinned version to the current
/// model: every old stage and step to its counterpart, or archived. Edit it
/// and send it to the preview, then to the migration.
#[utoipa::path(get, path = "/api/v1/migrations/proposal", params(ProposalQuery), responses(
    (status = 200, body = waymark_core::migration::Mapping),
    (status = 400, body = Problem),
    (status = 401, body = Problem),
    (status = 403, body = Problem),
    (status = 404, body = Problem, description = "no pinned model version has that hash"),
))]
async fn migration_proposal(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    q: Result<Query<ProposalQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<waymark_core::migration::Mapping>, Problem> {
    waymark_core::migration::may_migrate(&actor)?;
    let q = query(q)?;
    match crate::actions::propose_migration(&s.store, &s.pages, &q.from).await {
        Err(StoreError::Missing { .. }) => Err(not_found("model version")),
        r => Ok(Json(r?)),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct MigrationRequest {
    mapping: waymark_core::migration::Mapping,
    /// Only these engagements (default: every engagement on `mapping.from`).
    #[serde(default)]
    engagements: Option<Vec<i64>>,
}

/// What the mapping would do to each engagement: its stages before and
/// after, what would be kept as from the previous model, or why it would be
/// refused. Writes nothing.
#[utoipa::path(post, path = "/api/v1/migrations/preview", request_body = MigrationRequest, responses(
    (status = 200, body = Vec<waymark_store::Outcome>),
    (status = 400, body = Problem),
    (status = 401, body = Problem),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 422, body = Problem, description = "the mapping names a stage or step the models do not have, or one twice"),
))]
async fn migration_preview(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Body(req): Body<MigrationRequest>,
) -> Result<Json<Vec<waymark_store::Outcome>>, Problem> {
    run_migration(&s, &actor, req, true).await
}

/// Moves the engagements to the mapping's version: one audited event each;
/// an engagement the mapping cannot apply to is refused alone, with the
/// reason, and the rest go ahead. Running it again changes nothing.
#[utoipa::path(post, path = "/api/v1/migrations", request_body = MigrationRequest, responses(
    (status = 200, body = Vec<waymark_store::Outcome>),
    (status = 400, body = Problem),
    (status = 401, body = Problem),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 422, body = Problem),
))]
async fn migration_apply(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Body(req): Body<MigrationRequest>,
) -> Result<Json<Vec<waymark_store::Outcome>>, Problem> {
    run_migration(&s, &actor, req, false).await
}

async fn run_migration(
    s: &ApiState,
    actor: &Actor,
    r: MigrationRequest,
    preview: bool,
) -> Result<Json<Vec<waymark_store::Outcome>>, Problem> {
    waymark_core::migration::may_migrate(actor)?;
    let only: Option<Vec<EngagementId>> = r
        .engagements
        .map(|ids| ids.into_iter().map(EngagementId).collect());
    let outcomes = s
        .store
        .migrate_engagements(actor, &r.mapping, only.as_deref(), preview, now())
        .await
        .map_err(|e| match e {
            StoreError::Missing {
                what: "model version",
                ..
            } => not_found("model version"),
            other => other.into(),
        })?;
    // Articles' stage tags followed the mapping: the guide's stage pages list them.
    if !preview && let Err(e) = s.actions.refresh_guide(None).await {
        tracing::error!("api: the migration is recorded, but {e}");
    }
    Ok(Json(outcomes))
}

/// An enquiry's conversation after the message that opened it, oldest
/// first: replies that came in and the programme's answers (the programme
/// only).
#[utoipa::path(get, path = "/api/v1/enquiries/{id}/conversation", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<waymark_store::Message>),
    (status = 401, body = Problem),
    (status = 404, body = Problem),
))]
async fn conversation(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Response, Problem> {
    let messages = s
        .store
        .conversation(&actor, id)
        .await
        .map_err(enquiry_problem)?;
    Ok(Json(messages).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReplyRequest {
    /// The answer's text (up to 20,000 characters); the programme's
    /// signature is added.
    body: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ReplyCreated {
    /// The conversation message it became.
    message: i64,
}

/// The programme answers an enquiry's sender by mail, through the outbox,
/// threaded on the conversation (the same path as the enquiry's page).
#[utoipa::path(post, path = "/api/v1/enquiries/{id}/replies", params(("id" = i64, Path)), request_body = ReplyRequest, responses(
    (status = 201, body = ReplyCreated),
    (status = 400, body = Problem),
    (status = 401, body = Problem),
    (status = 404, body = Problem),
    (status = 422, body = Problem, description = "an empty or over-long body"),
))]
async fn reply(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(r): Body<ReplyRequest>,
) -> Result<Response, Problem> {
    let text: waymark_core::Text<20000> = r.body.as_str().into();
    let message = s
        .store
        .reply_to_enquiry(
            &actor,
            id,
            &text,
            &s.actions.mail_from,
            crate::mail::SIGNATURE,
            now(),
        )
        .await?;
    Ok(created(
        &format!("/api/v1/enquiries/{id}/conversation"),
        &ReplyCreated { message },
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct MailboxReport {
    /// Each mailbox read, and how its reader is doing.
    mailboxes: Vec<waymark_store::MailboxStatus>,
    /// The newest 100 messages taken, whatever became of them.
    taken: Vec<waymark_store::InboundRecord>,
    /// Those the programme has still to look at (unreadable, too large).
    waiting: Vec<waymark_store::InboundRecord>,
}

/// The programme's mailbox: its readers' state and what they took.
#[utoipa::path(get, path = "/api/v1/mailbox", responses(
    (status = 200, body = MailboxReport),
    (status = 401, body = Problem),
    (status = 404, body = Problem),
))]
async fn mailbox(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
) -> Result<Response, Problem> {
    Ok(Json(MailboxReport {
        mailboxes: s.store.mailboxes(&actor).await?,
        taken: s.store.inbound_mail(&actor, false, 100).await?,
        waiting: s.store.inbound_mail(&actor, true, 200).await?,
    })
    .into_response())
}

/// A person's API tokens, newest first (never the tokens themselves): your
/// own, or anyone's for a programme admin. Ended tokens are listed until
/// revoked.
#[utoipa::path(get, path = "/api/v1/people/{id}/tokens", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<waymark_store::TokenInfo>),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
))]
async fn person_tokens(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Json<Vec<waymark_store::TokenInfo>>, Problem> {
    // Permission first: nobody learns which people exist by asking.
    waymark_core::token::may_manage_tokens_of(&actor, PersonId(id))?;
    let id = existing_person(&s.store, PersonId(id)).await?;
    Ok(Json(s.store.tokens_of(id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    /// What the token is for, such as "Power BI refresh" (1 to 80 characters, one line).
    name: String,
    /// `read` (refused on every request but GET) or `read_write` (the default).
    #[serde(default)]
    scope: Option<waymark_core::token::TokenScope>,
    /// The token stops working after this many days; without it, it has no end.
    #[schema(minimum = 1, maximum = 366)]
    #[serde(default)]
    expires_in_days: Option<u16>,
}

/// A new token: shown this once, stored only as a hash.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct NewTokenView {
    token: String,
    #[serde(flatten)]
    info: waymark_store::TokenInfo,
}

/// Makes an API token for yourself (never for another person: a token acts
/// as its owner). The token is in the answer once.
#[utoipa::path(post, path = "/api/v1/people/{id}/tokens", params(("id" = i64, Path)), request_body = TokenRequest, responses(
    (status = 201, body = NewTokenView),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 422, body = Problem),
))]
async fn create_token(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(r): Body<TokenRequest>,
) -> Result<Response, Problem> {
    waymark_core::token::may_create_token_for(&actor, PersonId(id))?;
    let id = PersonId(id);
    let scope = r
        .scope
        .unwrap_or(waymark_core::token::TokenScope::ReadWrite);
    let days = r.expires_in_days.map(|d| d.to_string()).unwrap_or_default();
    let new = waymark_core::token::NewToken::parse(&r.name, scope.as_str(), &days, now())
        .map_err(|p| invalid_fields(&p))?;
    let token = s.store.create_token_with(id, &new, now()).await?;
    let hash = waymark_store::token_id(&token);
    let info = s
        .store
        .tokens_of(id)
        .await?
        .into_iter()
        .find(|t| t.id == hash)
        .ok_or_else(|| not_found("token"))?;
    Ok(created(
        &format!("/api/v1/people/{id}/tokens"),
        &NewTokenView { token, info },
    ))
}

/// Ends one of a person's tokens at once, by its id: your own, or anyone's
/// for a programme admin.
#[utoipa::path(post, path = "/api/v1/people/{id}/tokens/{token}/revoke",
    params(("id" = i64, Path), ("token" = String, Path, description = "The token's id, as the list shows it")),
    responses(
    (status = 204, description = "Revoked: the next request that sends it is refused"),
    (status = 403, body = Problem),
    (status = 404, body = Problem, description = "no such person, or they have no token with that id"),
))]
async fn revoke_token(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params((id, token)): Params<(i64, String)>,
) -> Result<Response, Problem> {
    // Permission first: nobody learns which people exist by asking.
    waymark_core::token::may_manage_tokens_of(&actor, PersonId(id))?;
    let id = existing_person(&s.store, PersonId(id)).await?;
    if s.store.revoke_token(id, &token).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found("token"))
    }
}

/// Where a person is signed in in a browser, most recently used first:
/// your own, or anyone's for a programme admin. (API tokens are listed
/// under `tokens`.)
#[utoipa::path(get, path = "/api/v1/people/{id}/sessions", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<crate::app::SessionInfo>),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
))]
async fn person_sessions(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Json<Vec<crate::app::SessionInfo>>, Problem> {
    // Permission first: nobody learns which people exist by asking.
    actor.may_manage_sign_in_of(PersonId(id))?;
    let id = existing_person(&s.store, PersonId(id)).await?;
    Ok(Json(crate::app::sessions_of_person(&s.store, id).await?))
}

/// Signs a person out of one browser at once (a lost phone, a shared
/// computer): your own, or anyone's for a programme admin.
#[utoipa::path(post, path = "/api/v1/people/{id}/sessions/{reference}/end",
    params(("id" = i64, Path), ("reference" = String, Path, description = "The session's reference, as the list shows it")),
    responses(
    (status = 204, description = "Ended: that browser's next request goes to sign-in"),
    (status = 403, body = Problem),
    (status = 404, body = Problem, description = "no such person, or no live session of theirs with that reference"),
))]
async fn end_person_session(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params((id, reference)): Params<(i64, String)>,
) -> Result<Response, Problem> {
    actor.may_manage_sign_in_of(PersonId(id))?;
    let id = existing_person(&s.store, PersonId(id)).await?;
    if crate::app::end_session_by_reference(&s.store, id, &reference, None).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found("session"))
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DetailsRequest {
    /// Their full name (1 to 200 characters, one line).
    name: String,
    /// Their email address; only a programme admin changes one.
    email: String,
}

/// Corrects a person's name and email address (Australian Privacy
/// Principle 13): your own name, or anyone's details for a programme admin.
/// Events name people by id, so the history shows the corrected details;
/// which fields were corrected, by whom and when is recorded, never the old
/// values.
#[utoipa::path(post, path = "/api/v1/people/{id}/details", params(("id" = i64, Path)), request_body = DetailsRequest, responses(
    (status = 200, body = Person),
    (status = 403, body = Problem, description = "another person's, or your own address, and you are not an admin"),
    (status = 404, body = Problem),
    (status = 409, body = Problem, description = "`duplicate`: another person has this address"),
    (status = 422, body = Problem),
))]
async fn correct_person(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(req): Body<DetailsRequest>,
) -> Result<Json<Person>, Problem> {
    let new = NewPerson::parse(&req.name, &req.email)?;
    match s
        .store
        .correct_person(&actor, PersonId(id), &new, now())
        .await
    {
        Err(StoreError::NoSuchPerson(_)) => Err(not_found("person")),
        other => {
            let corrected = other?;
            crate::app::tell_corrected(&s.store, &s.actions.public_url, &corrected).await;
            Ok(Json(corrected.after))
        }
    }
}

/// Whether a person signs in with a second factor (never its key, codes
/// or public keys).
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct SecondFactorView {
    /// Whether they have one of any kind: an authenticator app, or a passkey.
    enabled: bool,
    /// Whether they have an authenticator app.
    app: bool,
    /// When they set up the app (seconds since 1970).
    enrolled_at: Option<i64>,
    /// Recovery codes they have not used yet (when they have a factor).
    recovery_codes_left: Option<i64>,
    /// Their passkeys, oldest first.
    passkeys: Vec<waymark_store::PasskeyInfo>,
    /// Whether they must have one (programme admins): without it, they set
    /// one up before anything else when they next sign in.
    required: bool,
}

/// Whether a person has a second factor: your own, or anyone's for a
/// programme admin. Setting one up happens in the browser
/// (`/settings/second-factor`), where the QR code is.
#[utoipa::path(get, path = "/api/v1/people/{id}/second-factor", params(("id" = i64, Path)), responses(
    (status = 200, body = SecondFactorView),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
))]
async fn second_factor(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Json<SecondFactorView>, Problem> {
    actor.may_manage_sign_in_of(PersonId(id))?;
    let person = s
        .store
        .person(PersonId(id))
        .await?
        .ok_or_else(|| not_found("person"))?;
    let factor = s.store.second_factor(person.id).await?;
    let passkeys = s.store.passkeys_of(person.id).await?;
    let them = Actor {
        person: person.id,
        roles: person.roles,
    };
    let enabled = factor.is_some() || !passkeys.is_empty();
    Ok(Json(SecondFactorView {
        enabled,
        app: factor.is_some(),
        enrolled_at: factor.as_ref().map(|f| f.enrolled_at.0),
        recovery_codes_left: if enabled {
            Some(s.store.recovery_left(person.id).await?)
        } else {
            None
        },
        passkeys: passkeys.iter().map(waymark_store::Passkey::info).collect(),
        required: them.needs_second_factor(),
    }))
}

/// The accounts at OpenID providers a person signs in with: your own, or
/// anyone's for a programme admin. Each is linked at its first sign-in
/// (docs/operations.md, "Sign-in with the agency's own accounts").
#[utoipa::path(get, path = "/api/v1/people/{id}/sign-in-accounts", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<waymark_store::LinkedIdentity>),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
))]
async fn sign_in_accounts(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Json<Vec<waymark_store::LinkedIdentity>>, Problem> {
    actor.may_manage_sign_in_of(PersonId(id))?;
    let person = s
        .store
        .person(PersonId(id))
        .await?
        .ok_or_else(|| not_found("person"))?;
    Ok(Json(s.store.identities_of(person.id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UnlinkRequest {
    /// The provider's issuer, as `sign-in-accounts` lists it.
    issuer: String,
    /// The person's subject at that provider, as `sign-in-accounts` lists it.
    subject: String,
}

/// Unlinks one of a person's accounts at an OpenID provider: your own while
/// you keep another way to sign in (a password, or another account), or
/// anyone's for a programme admin, which also signs them out everywhere,
/// ends their API tokens and tells them by mail (with a link to set a
/// password, when it was their only way in). It is linked again only when
/// its owner next signs in with their password.
#[utoipa::path(post, path = "/api/v1/people/{id}/sign-in-accounts/unlink", params(("id" = i64, Path)), request_body = UnlinkRequest, responses(
    (status = 204, description = "Unlinked"),
    (status = 403, body = Problem, description = "another person's, and you are not an admin"),
    (status = 404, body = Problem, description = "no such person, or no such account linked to them"),
    (status = 400, body = Problem, description = "the body is not an issuer and a subject"),
    (status = 409, body = Problem, description = "`rule_violated`: it is your only way to sign in"),
))]
async fn unlink_sign_in_account(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(req): Body<UnlinkRequest>,
) -> Result<Response, Problem> {
    let done = match crate::app::unlink_sign_in(
        &s.store,
        &s.actions.public_url,
        &actor,
        PersonId(id),
        &req.issuer,
        &req.subject,
    )
    .await
    {
        Err(StoreError::NoSuchPerson(_)) => return Err(not_found("person")),
        other => other?,
    };
    match done {
        waymark_store::Unlinked::NotLinked => Err(not_found("sign-in account")),
        waymark_store::Unlinked::Done { .. } => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// Mails a person a new link to set a Waymark password (once, within 14
/// days): programme admins, for someone active who has none (made by their
/// agency's sign-in, cut off from it, or whose invitation lapsed).
#[utoipa::path(post, path = "/api/v1/people/{id}/password-link", params(("id" = i64, Path)), responses(
    (status = 204, description = "Sent"),
    (status = 403, body = Problem, description = "not a programme admin"),
    (status = 404, body = Problem, description = "no such person"),
    (status = 409, body = Problem, description = "`rule_violated`: they have a password, or are deactivated"),
))]
async fn send_password_link(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Response, Problem> {
    match crate::app::send_password_link(&s.store, &s.actions.public_url, &actor, PersonId(id))
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(StoreError::NoSuchPerson(_)) => Err(not_found("person")),
        Err(e) => Err(e.into()),
    }
}

/// Turns off another person's second factor, when they lost their phone
/// and recovery codes (programme admins, never for themselves): every
/// session of theirs ends, and they set up a new one when they next sign in.
#[utoipa::path(post, path = "/api/v1/people/{id}/second-factor/reset", params(("id" = i64, Path)), responses(
    (status = 204, description = "Reset"),
    (status = 403, body = Problem, description = "not an admin, or your own"),
    (status = 404, body = Problem, description = "no such person"),
    (status = 409, body = Problem, description = "they have no second factor to reset"),
))]
async fn reset_second_factor(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Response, Problem> {
    let reset = match s.store.reset_second_factor(&actor, PersonId(id)).await {
        Err(StoreError::NoSuchPerson(_)) => return Err(not_found("person")),
        other => other?,
    };
    if reset {
        tracing::warn!(
            by = actor.person.0,
            person = id,
            "second factor reset by a programme admin"
        );
        let admin = s
            .store
            .person(actor.person)
            .await?
            .map(|p| p.name)
            .unwrap_or_default();
        crate::app::tell_person(
            &s.store,
            &s.actions.public_url,
            PersonId(id),
            &crate::app::reset_notice(&admin),
        )
        .await;
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Problem::new(
            StatusCode::CONFLICT,
            "no_second_factor",
            "Nothing to reset",
            "this person has no second factor set up, so there is nothing to reset",
        ))
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct EnquiryQuery {
    /// `open` (the default), `converted`, `attached`, `closed`, or `all`.
    #[param(pattern = "^(open|converted|attached|closed|all)$")]
    status: Option<String>,
    /// How many, newest first: 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The page after the one whose `Link: rel="next"` header gave it.
    #[param(pattern = "^[0-9a-f]{1,64}$")]
    cursor: Option<String>,
}

/// Enquiries, newest first (the programme only): open ones unless `status`
/// says otherwise. A full page's `Link` header names the next page.
#[utoipa::path(get, path = "/api/v1/enquiries", params(EnquiryQuery), responses(
    (status = 200, body = Vec<waymark_store::Enquiry>, headers(
        ("link" = String, description = "`<…?cursor=…>; rel=\"next\"` when there may be more")
    )),
    (status = 404, body = Problem, description = "to anyone outside the programme, enquiries do not exist"),
))]
async fn enquiries(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    q: Result<Query<EnquiryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let q = query(q)?;
    let status = match q.status.as_deref().unwrap_or("open") {
        "all" => None,
        other => Some(waymark_store::EnquiryStatus::parse(other).ok_or_else(|| {
            unprocessable("status", "choose open, converted, attached or all".into())
        })?),
    };
    let (limit, _) = page_bounds(q.limit, None, 100)?;
    let after = cursor_keys(q.cursor.as_deref())?.map(|[at, id]| (waymark_core::Timestamp(at), id));
    let list = s
        .store
        .enquiries_after(&actor, status, limit, after)
        .await
        .map_err(enquiry_problem)?;
    let next = (list.len() == limit as usize)
        .then(|| list.last().map(|e| cursor_of(&[e.received_at.0, e.id])))
        .flatten();
    let extra = format!(
        "&limit={limit}&status={}",
        q.status.as_deref().unwrap_or("open")
    );
    Ok(with_next_link(
        Json(list).into_response(),
        "/api/v1/enquiries",
        next,
        &extra,
    ))
}

/// A store error about an enquiry: "no such enquiry" rather than the
/// store's generic words (to anyone outside the programme, no enquiry
/// exists).
fn enquiry_problem(e: StoreError) -> Problem {
    match e {
        StoreError::Domain(DomainError::NotFound) => not_found("enquiry"),
        e => e.into(),
    }
}

/// An enquiry with its history and attachments.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct EnquiryView {
    enquiry: waymark_store::Enquiry,
    /// Every event of its chain, oldest first.
    events: Vec<waymark_store::EnquiryEvent>,
    attachments: Vec<waymark_store::FileRow>,
}

/// One enquiry, its history and its attachments (the programme only).
#[utoipa::path(get, path = "/api/v1/enquiries/{id}", params(("id" = i64, Path)), responses(
    (status = 200, body = EnquiryView),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
))]
async fn enquiry(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Response, Problem> {
    let (enquiry, events, attachments) =
        s.store.enquiry(&actor, id).await.map_err(enquiry_problem)?;
    Ok(Json(EnquiryView {
        enquiry,
        events,
        attachments,
    })
    .into_response())
}

/// What to do with an enquiry.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
enum TriageAction {
    /// A note on its history, at any time (`text`).
    Note,
    /// Nothing more will come of it, and why (`reason`).
    Close,
    /// It belongs to an engagement that exists (`engagement`): its
    /// attachments move there.
    Attach,
    /// It becomes a new engagement: of the agency abbreviated `agency`, or
    /// of `new_agency`, added first.
    Convert,
}

/// An action on an enquiry and the fields it takes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TriageRequest {
    action: TriageAction,
    /// For `note`.
    #[serde(default)]
    text: Option<String>,
    /// For `close`.
    #[serde(default)]
    reason: Option<String>,
    /// For `attach`: the engagement's id.
    #[serde(default)]
    engagement: Option<i64>,
    /// For `convert`: an agency's abbreviation ...
    #[serde(default)]
    agency: Option<String>,
    /// ... or a new agency.
    #[serde(default)]
    new_agency: Option<AgencyRequest>,
    /// For `convert` (default `do_it_with_you`).
    #[serde(default)]
    mode: Option<Mode>,
    /// For `convert`: invite the enquiry's contact as the agency's executive sponsor.
    #[serde(default)]
    invite_sponsor: bool,
}

/// What triage did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Triaged {
    enquiry: waymark_store::Enquiry,
    /// For `convert`: the new engagement, its agency, and the sponsor's invitation.
    #[serde(skip_serializing_if = "Option::is_none")]
    conversion: Option<crate::actions::Conversion>,
}

/// Triages an enquiry as its page does (the programme only): a note,
/// closing it, attaching it to an engagement, or converting it into one.
#[utoipa::path(post, path = "/api/v1/enquiries/{id}/triage", params(("id" = i64, Path)), request_body = TriageRequest, responses(
    (status = 200, body = Triaged),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 409, body = Problem, description = "`rule_violated`: the enquiry is no longer open; `duplicate`: the new agency's abbreviation is taken"),
    (status = 422, body = Problem),
))]
async fn triage(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    Body(r): Body<TriageRequest>,
) -> Result<Response, Problem> {
    use waymark_store::EnquiryCommand;
    let t = now();
    // Outside the programme, no enquiry exists: said before anything else.
    waymark_core::enquiry::visible(&actor).map_err(|_| not_found("enquiry"))?;
    let needed = |field: &str, value: Option<String>| {
        value.ok_or_else(|| unprocessable(field, format!("give `{field}` for this action")))
    };
    let step = match r.action {
        TriageAction::Note => EnquiryCommand::Note {
            text: needed("text", r.text)?.as_str().into(),
        },
        TriageAction::Close => EnquiryCommand::Close {
            reason: needed("reason", r.reason)?.as_str().into(),
        },
        TriageAction::Attach => EnquiryCommand::Attach {
            engagement: EngagementId(r.engagement.ok_or_else(|| {
                unprocessable("engagement", "give `engagement` for this action".into())
            })?),
        },
        TriageAction::Convert => {
            let target = match (r.agency, r.new_agency) {
                (Some(a), None) => {
                    crate::actions::ConvertAgency::Existing(agency_id(&s.store, &a).await?)
                }
                (None, Some(n)) => crate::actions::ConvertAgency::New(
                    waymark_core::NewAgency::parse_all(
                        &n.name,
                        &n.abbreviation,
                        &n.portfolio,
                        n.agency_type,
                    )
                    .map_err(|p| invalid_fields_in("new_agency.", &p))?,
                ),
                _ => {
                    return Err(unprocessable(
                        "agency",
                        "give either `agency` (an abbreviation) or `new_agency`".into(),
                    ));
                }
            };
            let mode = r.mode.unwrap_or(Mode::DoItWithYou);
            let conversion = s
                .actions
                .convert_enquiry(
                    &actor,
                    &s.pages,
                    id,
                    crate::actions::Convert {
                        agency: target,
                        mode,
                        invite_sponsor: r.invite_sponsor,
                    },
                    t,
                )
                .await
                .map_err(enquiry_problem)?;
            let (enquiry, _, _) = s.store.enquiry(&actor, id).await?;
            return Ok(Json(Triaged {
                enquiry,
                conversion: Some(conversion),
            })
            .into_response());
        }
    };
    match s.store.triage(&actor, id, &step, t).await {
        // An engagement that does not exist, or that the caller may not
        // see, is a field problem, not a missing enquiry.
        Err(StoreError::Domain(DomainError::NotFound))
            if matches!(step, EnquiryCommand::Attach { .. })
                && s.store.enquiry(&actor, id).await.is_ok() =>
        {
            return Err(unprocessable(
                "engagement",
                "there is no engagement with that number".into(),
            ));
        }
        r => r.map_err(enquiry_problem)?,
    }
    let (enquiry, _, _) = s.store.enquiry(&actor, id).await?;
    Ok(Json(Triaged {
        enquiry,
        conversion: None,
    })
    .into_response())
}

/// A kept file's bytes: a document uploaded to an engagement, or an
/// enquiry's attachment (the programme's), checked against the SHA-256 its
/// chain recorded before it is served.
#[utoipa::path(get, path = "/api/v1/files/{id}", params(("id" = i64, Path)), responses(
    (status = 200, description = "The file, with its own type", content_type = "*/*", body = Vec<u8>),
    (status = 404, body = Problem),
))]
async fn file(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Response, Problem> {
    let (row, bytes) = s.store.file(&actor, id).await?;
    Ok(crate::app::records::download(
        bytes,
        &row.content_type,
        &row.name,
        false,
    ))
}

/// One version of a letter as the tagged PDF that was issued.
#[utoipa::path(get, path = "/api/v1/engagements/{id}/letters/{kind}/{version}/pdf",
    params(("id" = i64, Path), ("kind" = String, Path, description = "letter-of-intent or closure-letter"), ("version" = u32, Path, minimum = 1)),
    responses(
    (status = 200, content_type = "application/pdf", body = Vec<u8>),
    (status = 404, body = Problem),
))]
async fn letter_pdf(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params((id, kind, version)): Params<(i64, String, u32)>,
) -> Result<Response, Problem> {
    let kind = LetterKind::from_slug(&kind).ok_or_else(|| not_found("letter"))?;
    let (_, pdf) = s
        .store
        .letter_pdf(&actor, EngagementId(id), kind, version)
        .await?;
    Ok(crate::app::records::download(
        pdf,
        "application/pdf",
        &format!("{}-{id}-v{version}.pdf", kind.slug()),
        false,
    ))
}

/// A workshop's invitation as iCalendar (RFC 5545), as its attendees got it.
#[utoipa::path(get, path = "/api/v1/engagements/{id}/workshops/{workshop}/invitation",
    params(("id" = i64, Path), ("workshop" = u32, Path)),
    responses(
    (status = 200, content_type = "text/calendar", body = String),
    (status = 404, body = Problem),
))]
async fn workshop_invitation(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params((id, workshop)): Params<(i64, u32)>,
) -> Result<Response, Problem> {
    let e = s.store.engagement(&actor, EngagementId(id)).await?;
    let w = e
        .workshops
        .iter()
        .find(|w| w.id == workshop)
        .ok_or_else(|| not_found("workshop"))?;
    let agency = s
        .store
        .agency(e.agency)
        .await?
        .ok_or_else(|| not_found("agency"))?;
    let text = crate::ics::invitation(
        e.id,
        &agency.name,
        w,
        &s.actions.host(),
        &s.actions.mail_from,
        chrono::Utc::now(),
    )
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(crate::app::records::download(
        text.into_bytes(),
        "text/calendar; charset=utf-8",
        &format!("workshop-{id}-{workshop}.ics"),
        false,
    ))
}

/// Deploy's delivery artefacts as CSV (sprints, features, stories) or
/// markdown (all of them), as the workspace exports them.
#[utoipa::path(get, path = "/api/v1/engagements/{id}/delivery/{file}",
    params(("id" = i64, Path), ("file" = String, Path, pattern = "^(sprints\\.csv|features\\.csv|stories\\.csv|delivery\\.md)$")),
    responses(
    (status = 200, content((String = "text/csv"), (String = "text/markdown"))),
    (status = 404, body = Problem),
))]
async fn delivery_export(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params((id, file)): Params<(i64, String)>,
) -> Result<Response, Problem> {
    let e = s.store.engagement(&actor, EngagementId(id)).await?;
    let d = &e.delivery;
    let (bytes, kind) = match file.as_str() {
        "sprints.csv" => (crate::export::sprints_csv(d), "text/csv; charset=utf-8"),
        "features.csv" => (crate::export::features_csv(d), "text/csv; charset=utf-8"),
        "stories.csv" => (crate::export::stories_csv(d), "text/csv; charset=utf-8"),
        "delivery.md" => {
            let agency = s
                .store
                .agency(e.agency)
                .await?
                .ok_or_else(|| not_found("agency"))?;
            (
                Ok(crate::export::markdown(&agency.name, d).into_bytes()),
                "text/markdown; charset=utf-8",
            )
        }
        _ => return Err(not_found("export")),
    };
    let bytes = bytes.map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(crate::app::records::download(
        bytes,
        kind,
        &format!("engagement-{id}-{file}"),
        false,
    ))
}

/// One message of the outbox, as the admins' page shows it (without the
/// attachment's bytes).
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct OutboxMessage {
    id: i64,
    kind: String,
    recipient: String,
    subject: String,
    body: String,
    attachment_name: Option<String>,
    created_at: i64,
    attempts: i64,
    sent_at: Option<i64>,
    last_error: Option<String>,
    /// The mail server refused it for good: it is not tried again.
    gave_up_at: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct OutboxQuery {
    /// How many, newest first: 1 to 500 (default 200).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The page after the one whose `Link: rel="next"` header gave it.
    #[param(pattern = "^[0-9a-f]{1,64}$")]
    cursor: Option<String>,
}

/// Retention as it stands: the period, what the next run would remove,
/// and the newest runs (at most 50) with what each removed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RetentionView {
    setting: waymark_store::RetentionSetting,
    /// Closed enquiries the next run would remove now.
    due: i64,
    runs: Vec<RetentionRunView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RetentionRunView {
    #[serde(flatten)]
    run: waymark_store::RetentionRun,
    /// Enquiries it removed: their numbers and dates, nothing they said.
    removals: Vec<waymark_store::Removal>,
}

/// How long closed enquiries that never became engagements are kept, and
/// what retention removed (the programme; to others it does not exist).
#[utoipa::path(get, path = "/api/v1/retention", responses(
    (status = 200, body = RetentionView),
    (status = 404, body = Problem),
))]
async fn retention(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
) -> Result<Json<RetentionView>, Problem> {
    waymark_core::enquiry::may_see_retention(&actor)?;
    let mut runs = Vec::new();
    for run in s.store.retention_runs(&actor, 50).await? {
        // A run that removed nothing has nothing to read.
        let removals = if run.removed > 0 {
            s.store.retention_removals(&actor, run.id).await?
        } else {
            Vec::new()
        };
        runs.push(RetentionRunView { run, removals });
    }
    Ok(Json(RetentionView {
        setting: s.store.retention().await?,
        due: s.store.due_for_removal(now()).await?,
        runs,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RetentionRequest {
    /// Months to keep closed enquiries after their last change: 1 to 120.
    #[schema(minimum = 1, maximum = 120)]
    months: u32,
}

/// Sets the retention period (programme admins).
#[utoipa::path(put, path = "/api/v1/retention", request_body = RetentionRequest, responses(
    (status = 200, body = waymark_store::RetentionSetting),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
    (status = 422, body = Problem),
))]
async fn set_retention(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Body(req): Body<RetentionRequest>,
) -> Result<Json<waymark_store::RetentionSetting>, Problem> {
    waymark_core::enquiry::may_set_retention(&actor)?;
    let months = waymark_core::enquiry::parse_retention(&req.months.to_string())?;
    Ok(Json(s.store.set_retention(&actor, months, now()).await?))
}

/// Runs retention now, as the daily job would (programme admins): the run,
/// recorded with who ran it.
#[utoipa::path(post, path = "/api/v1/retention/run", responses(
    (status = 200, body = waymark_store::RetentionRun),
    (status = 403, body = Problem),
    (status = 404, body = Problem),
))]
async fn run_retention(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
) -> Result<Json<waymark_store::RetentionRun>, Problem> {
    Ok(Json(s.store.run_retention(Some(&actor), now()).await?))
}

/// The outbox, newest first: every message Waymark has queued, sent or
/// given up on (programme admins only; to others it does not exist). A
/// full page's `Link` header names the next page.
#[utoipa::path(get, path = "/api/v1/outbox", params(OutboxQuery), responses(
    (status = 200, body = Vec<OutboxMessage>, headers(
        ("link" = String, description = "`<…?cursor=…>; rel=\"next\"` when there may be more")
    )),
    (status = 404, body = Problem),
))]
async fn outbox(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    q: Result<Query<OutboxQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let q = query(q)?;
    let (limit, _) = page_bounds(q.limit, None, 200)?;
    let before = cursor_keys(q.cursor.as_deref())?.map(|[id]| id);
    let mail = s.store.outbox_before(&actor, limit, before).await?;
    let next = (mail.len() == limit as usize)
        .then(|| mail.last().map(|m| cursor_of(&[m.id])))
        .flatten();
    let page = Json(
        mail.into_iter()
            .map(|m| OutboxMessage {
                id: m.id,
                kind: m.kind,
                recipient: m.recipient,
                subject: m.subject,
                body: m.body,
                attachment_name: m.attachment_name,
                created_at: m.created_at.0,
                attempts: m.attempts,
                sent_at: m.sent_at.map(|t| t.0),
                last_error: m.last_error,
                gave_up_at: m.gave_up_at.map(|t| t.0),
            })
            .collect::<Vec<_>>(),
    );
    Ok(with_next_link(
        page.into_response(),
        "/api/v1/outbox",
        next,
        &format!("&limit={limit}"),
    ))
}

/// A letter template: its text and version (0: the built-in one).
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct LetterTemplate {
    body: String,
    version: i64,
}

/// The programme's template for a letter kind (the programme only; to
/// others it does not exist).
#[utoipa::path(get, path = "/api/v1/letter-templates/{kind}",
    params(("kind" = String, Path, description = "letter-of-intent or closure-letter")),
    responses(
    (status = 200, body = LetterTemplate),
    (status = 404, body = Problem),
))]
async fn letter_template(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(kind): Params<String>,
) -> Result<Json<LetterTemplate>, Problem> {
    let kind = LetterKind::from_slug(&kind).ok_or_else(|| not_found("letter template"))?;
    actor
        .may_edit_templates()
        .map_err(|_| not_found("letter template"))?;
    let (body, version) = s.actions.template(kind).await?;
    Ok(Json(LetterTemplate { body, version }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TemplateRequest {
    /// The template's text, with its `{{ placeholders }}`; checked as the
    /// workspace's form checks it.
    body: String,
}

/// Saves a new version of a letter template (the programme only); letters
/// issued from now on use it.
#[utoipa::path(post, path = "/api/v1/letter-templates/{kind}",
    params(("kind" = String, Path, description = "letter-of-intent or closure-letter")),
    request_body = TemplateRequest,
    responses(
    (status = 200, body = LetterTemplate),
    (status = 404, body = Problem),
    (status = 422, body = Problem),
))]
async fn save_letter_template(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(kind): Params<String>,
    Body(r): Body<TemplateRequest>,
) -> Result<Json<LetterTemplate>, Problem> {
    let kind = LetterKind::from_slug(&kind).ok_or_else(|| not_found("letter template"))?;
    actor
        .may_edit_templates()
        .map_err(|_| not_found("letter template"))?;
    crate::letter::check_typeset(kind, &r.body)
        .await
        .map_err(|why| unprocessable("body", why.to_string()))?;
    s.store
        .save_letter_template(&actor, kind, &r.body, now())
        .await?;
    let (body, version) = s.actions.template(kind).await?;
    Ok(Json(LetterTemplate { body, version }))
}

/// Marks a message the mailbox kept (unreadable, too large, automatic) as
/// looked at, as `/mailbox` does (the programme only).
#[utoipa::path(post, path = "/api/v1/mailbox/{record}/review",
    params(("record" = i64, Path, description = "The message's record, as `GET /api/v1/mailbox` lists it")),
    responses(
    (status = 204, description = "Marked as looked at"),
    (status = 404, body = Problem, description = "no such record, or it was looked at already"),
))]
async fn review_mail(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(record): Params<i64>,
) -> Result<Response, Problem> {
    s.store.review_inbound(&actor, record, now()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
