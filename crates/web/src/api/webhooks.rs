//! Webhook subscriptions through the API: subscribe, list, start and stop,
//! read the delivery log, resend. The same store calls and core rules as
//! the workspace's settings pages.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use waymark_core::webhook::Subscription;
use waymark_store::{Delivery, StoreError, now};

use super::contract::Body;
use super::{ApiState, Caller, Params, Problem, created, not_found, query, unprocessable};

/// "no such webhook subscription" rather than the store's generic words.
fn webhook_problem(e: StoreError) -> Problem {
    match e {
        StoreError::Domain(waymark_core::DomainError::NotFound) => {
            not_found("webhook subscription")
        }
        StoreError::Missing {
            what: "delivery", ..
        } => not_found("delivery"),
        e => e.into(),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct WebhookQuery {
    /// Programme admins: `true` lists everyone's subscriptions.
    all: Option<bool>,
}

/// Your webhook subscriptions (everyone's for an admin who asks for `all`).
#[utoipa::path(get, path = "/api/v1/webhooks", params(WebhookQuery), responses(
    (status = 200, body = Vec<Subscription>),
))]
pub(super) async fn webhooks(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    q: Result<Query<WebhookQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Subscription>>, Problem> {
    let q = query(q)?;
    Ok(Json(
        s.store.webhooks(&actor, q.all.unwrap_or(false)).await?,
    ))
}

/// Every event type a subscription may name: `*`, `engagement.*`,
/// `enquiry.*`, then each type.
#[utoipa::path(get, path = "/api/v1/webhook-event-types", responses(
    (status = 200, body = Vec<String>),
))]
pub(super) async fn event_types(Caller(_): Caller) -> Json<Vec<String>> {
    Json(waymark_core::webhook::known_types())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct WebhookRequest {
    /// Where to POST each event: `https://…` (or `http://…`), a public
    /// address unless the operator allows its network.
    #[schema(max_length = 2000, example = "https://hooks.example.gov.au/waymark")]
    url: String,
    /// Event types or wildcards (`engagement.*`); see
    /// `/api/v1/webhook-event-types`.
    #[schema(example = json!(["engagement.signed_off", "engagement.stage_entered"]))]
    events: Vec<String>,
    /// What it is for (at most 200 characters, one line).
    #[serde(default)]
    #[schema(max_length = 200)]
    description: String,
}

/// A new subscription and its signing secret, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct NewWebhook {
    /// `whsec_…`: verify each delivery's `webhook-signature` with it, as
    /// Standard Webhooks describes.
    secret: String,
    subscription: Subscription,
}

/// Subscribes an address to event types: the programme team, or an
/// agency's executive sponsor (who receives only their agency's events).
/// Deliveries are signed following Standard Webhooks.
#[utoipa::path(post, path = "/api/v1/webhooks", request_body = WebhookRequest, responses(
    (status = 201, body = NewWebhook),
    (status = 409, body = Problem, description = "you hold the most subscriptions one person may"),
))]
pub(super) async fn subscribe(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Body(r): Body<WebhookRequest>,
) -> Result<Response, Problem> {
    if r.events.len() > 4 * waymark_core::webhook::TYPES_MAX {
        return Err(unprocessable("events", "too many event types".into()));
    }
    let (subscription, secret) = s
        .actions
        .subscribe(&actor, &r.url, &r.events, &r.description, now())
        .await?;
    Ok(created(
        &format!("/api/v1/webhooks/{}", subscription.id),
        &NewWebhook {
            secret,
            subscription,
        },
    ))
}

/// One subscription.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", params(("id" = i64, Path)), responses(
    (status = 200, body = Subscription),
))]
pub(super) async fn webhook(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Json<Subscription>, Problem> {
    Ok(Json(
        s.store.webhook(&actor, id).await.map_err(webhook_problem)?,
    ))
}

/// Starts a stopped subscription; deliveries that waited are sent.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/enable", params(("id" = i64, Path)), responses(
    (status = 200, body = Subscription),
    (status = 409, body = Problem, description = "its owner no longer may subscribe"),
))]
pub(super) async fn enable(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Json<Subscription>, Problem> {
    let w = s.store.set_webhook_enabled(&actor, id, true, now()).await;
    Ok(Json(w.map_err(webhook_problem)?))
}

/// Stops a subscription: nothing more is queued for it until it starts
/// again. Subscriptions are never deleted, so their log stays.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/disable", params(("id" = i64, Path)), responses(
    (status = 200, body = Subscription),
))]
pub(super) async fn disable(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
) -> Result<Json<Subscription>, Problem> {
    let w = s.store.set_webhook_enabled(&actor, id, false, now()).await;
    Ok(Json(w.map_err(webhook_problem)?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct DeliveryQuery {
    /// How many, newest first: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// Only deliveries older than this one (the last id of the page before).
    #[param(minimum = 1)]
    before: Option<i64>,
}

/// A subscription's deliveries, newest first, each with every attempt. A
/// full page's `Link` header names the next page.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", params(("id" = i64, Path), DeliveryQuery), responses(
    (status = 200, body = Vec<Delivery>, headers(
        ("link" = String, description = "`<…?before=…>; rel=\"next\"` when there may be more")
    )),
))]
pub(super) async fn deliveries(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params(id): Params<i64>,
    q: Result<Query<DeliveryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(unprocessable("limit", "choose between 1 and 200".into()));
    }
    if q.before.is_some_and(|b| b < 1) {
        return Err(unprocessable("before", "a delivery's id, 1 or more".into()));
    }
    let list = s
        .store
        .webhook_deliveries(&actor, id, limit, q.before)
        .await
        .map_err(webhook_problem)?;
    let next = (list.len() == limit as usize)
        .then(|| list.last().map(|d| d.id))
        .flatten();
    let mut r = Json(list).into_response();
    if let Some(before) = next
        && let Ok(v) = axum::http::HeaderValue::from_str(&format!(
            "</api/v1/webhooks/{id}/deliveries?before={before}&limit={limit}>; rel=\"next\""
        ))
    {
        r.headers_mut().insert(axum::http::header::LINK, v);
    }
    Ok(r)
}

/// Sends a delivery again (same `webhook-id`, so a receiver that already
/// has it can tell), due now. Refused while the subscription is stopped.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery}/resend",
    params(("id" = i64, Path), ("delivery" = i64, Path)), responses(
    (status = 201, body = Delivery),
    (status = 409, body = Problem, description = "the subscription is stopped"),
))]
pub(super) async fn resend(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Params((id, delivery)): Params<(i64, i64)>,
) -> Result<Response, Problem> {
    let d = s
        .store
        .resend_webhook(&actor, id, delivery, now())
        .await
        .map_err(webhook_problem)?;
    Ok(created(&format!("/api/v1/webhooks/{id}/deliveries"), &d).into_response())
}
