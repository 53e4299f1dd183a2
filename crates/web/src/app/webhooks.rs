//! Webhook subscriptions in the workspace: subscribe an address, see the
//! secret once, read each subscription's delivery log, resend, stop and
//! start. The API's operations call the same store functions and rules.

use std::sync::Arc;

use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use waymark_core::webhook::{self, Subscription};
use waymark_store::{Delivery, StoreError, now};

use super::auth::{SignedIn, UserView};
use super::{AppState, FieldError, PageError, form_error, view_page};

/// The event types the form offers, with what people call them; the API
/// takes every type (`/api/v1/webhook-event-types`).
const OFFERED: &[(&str, &str, bool)] = &[
    (
        "engagement.*",
        "Everything that happens in an engagement",
        false,
    ),
    (
        "engagement.signed_off",
        "A letter or document is signed",
        false,
    ),
    (
        "engagement.letter_issued",
        "A letter is issued for signature",
        false,
    ),
    (
        "engagement.stage_entered",
        "An engagement enters a stage",
        false,
    ),
    ("engagement.stage_completed", "A stage is completed", false),
    ("engagement.decided", "A decision is recorded", false),
    ("engagement.risk_raised", "A risk is raised", false),
    (
        "engagement.workshop_scheduled",
        "A workshop is scheduled",
        false,
    ),
    ("enquiry.*", "Everything that happens to an enquiry", true),
    ("enquiry.received", "A new enquiry arrives", true),
];

#[derive(Serialize)]
struct Offered {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

/// What `webhooks.html` reads.
#[derive(Serialize)]
struct ListPage {
    title: &'static str,
    user: UserView,
    may_subscribe: bool,
    /// The programme receives every engagement's events.
    programme: bool,
    subscriptions: Vec<Subscription>,
    offered: Vec<Offered>,
    url: String,
    description: String,
    errors: Vec<FieldError>,
    /// Just made: its id and secret, shown this once.
    created: Option<(i64, String)>,
    all: bool,
}

fn offered(actor: &waymark_core::Actor, chosen: &[String]) -> Vec<Offered> {
    OFFERED
        .iter()
        .filter(|(_, _, programme)| !programme || actor.is_programme())
        .map(|(value, label, _)| Offered {
            value,
            label,
            checked: chosen.iter().any(|c| c == value),
        })
        .collect()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    all: String,
}

pub async fn webhooks(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    axum::extract::Query(q): axum::extract::Query<ListQuery>,
) -> Result<Response, PageError> {
    let all = q.all == "1" && who.actor.is_admin();
    list_page(
        &s,
        &who,
        StatusCode::OK,
        Form::default(),
        Vec::new(),
        None,
        all,
    )
    .await
}

async fn list_page(
    s: &AppState,
    who: &SignedIn,
    status: StatusCode,
    f: Form,
    errors: Vec<FieldError>,
    created: Option<(i64, String)>,
    all: bool,
) -> Result<Response, PageError> {
    let view = ListPage {
        title: "Webhooks",
        user: who.view(),
        may_subscribe: webhook::may_subscribe(&who.actor).is_ok(),
        programme: who.actor.is_programme(),
        subscriptions: s.store.webhooks(&who.actor, all).await?,
        offered: offered(&who.actor, &f.events),
        url: f.url,
        description: f.description,
        errors,
        created,
        all,
    };
    view_page(s, status, "webhooks.html", &view)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Form {
    csrf: String,
    url: String,
    description: String,
    events: Vec<String>,
}

fn read<T: for<'de> Deserialize<'de>>(raw: &[u8]) -> Result<T, PageError> {
    // Checkboxes repeat a name (events=a&events=b): serde_html_form
    // gathers them, where plain urlencoded forms keep only one.
    serde_html_form::from_bytes(raw).map_err(|e| {
        PageError::Forbidden(format!(
            "The form could not be read ({e}); reload the page and try again."
        ))
    })
}

/// Subscribes an address; the page then shows its secret, once.
pub async fn subscribe(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    RawForm(raw): RawForm,
) -> Result<Response, PageError> {
    let f: Form = read(&raw)?;
    who.check(&f.csrf)?;
    let done = s
        .actions()
        .subscribe(&who.actor, &f.url, &f.events, &f.description, now())
        .await;
    match done {
        Ok((sub, secret)) => {
            list_page(
                &s,
                &who,
                StatusCode::CREATED,
                Form::default(),
                Vec::new(),
                Some((sub.id, secret)),
                false,
            )
            .await
        }
        Err(StoreError::Domain(waymark_core::DomainError::Invalid { field, message })) => {
            let label = match field {
                "url" => "Address",
                "events" => "Which events",
                _ => "What it is for",
            };
            let errors = vec![form_error(field, format!("{label}: {message}"))];
            list_page(
                &s,
                &who,
                StatusCode::UNPROCESSABLE_ENTITY,
                f,
                errors,
                None,
                false,
            )
            .await
        }
        Err(StoreError::Domain(e @ waymark_core::DomainError::Rule(_))) => {
            let errors = vec![form_error("url", e.to_string())];
            list_page(&s, &who, StatusCode::CONFLICT, f, errors, None, false).await
        }
        Err(e) => Err(e.into()),
    }
}

/// What `webhook.html` reads.
#[derive(Serialize)]
struct DetailPage {
    title: String,
    user: UserView,
    subscription: Subscription,
    deliveries: Vec<Delivery>,
    /// The last delivery shown, for the next page.
    more: Option<i64>,
    saved: Option<String>,
    problem: Option<String>,
    mine: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DetailQuery {
    before: Option<i64>,
    saved: String,
}

/// How many deliveries a page of the log shows.
const PAGE: u32 = 50;

pub async fn webhook_page(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<DetailQuery>,
) -> Result<Response, PageError> {
    let saved = match q.saved.as_str() {
        "enabled" => Some("The subscription is started. Deliveries that waited go out now."),
        "disabled" => Some("The subscription is stopped. Nothing more is queued for it."),
        "resent" => Some("Queued again: it goes out within seconds."),
        _ => None,
    };
    detail(
        &s,
        &who,
        id,
        q.before,
        StatusCode::OK,
        saved.map(str::to_string),
        None,
    )
    .await
}

async fn detail(
    s: &AppState,
    who: &SignedIn,
    id: i64,
    before: Option<i64>,
    status: StatusCode,
    saved: Option<String>,
    problem: Option<String>,
) -> Result<Response, PageError> {
    let subscription = s.store.webhook(&who.actor, id).await?;
    let deliveries = s
        .store
        .webhook_deliveries(&who.actor, id, PAGE, before.filter(|b| *b > 0))
        .await?;
    let more = (deliveries.len() == PAGE as usize)
        .then(|| deliveries.last().map(|d| d.id))
        .flatten();
    let view = DetailPage {
        title: format!("Webhook {}", subscription.id),
        user: who.view(),
        mine: subscription.owner == who.actor.person,
        subscription,
        deliveries,
        more,
        saved,
        problem,
    };
    view_page(s, status, "webhook.html", &view)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActionForm {
    csrf: String,
    action: String,
    delivery: String,
}

/// Starts, stops, or resends one delivery.
pub async fn webhook_action(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    RawForm(raw): RawForm,
) -> Result<Response, PageError> {
    let f: ActionForm = read(&raw)?;
    who.check(&f.csrf)?;
    // To anyone but its owner and the admins, it does not exist.
    s.store.webhook(&who.actor, id).await?;
    let t = now();
    let done = match f.action.as_str() {
        "enable" => s
            .store
            .set_webhook_enabled(&who.actor, id, true, t)
            .await
            .map(|_| "enabled"),
        "disable" => s
            .store
            .set_webhook_enabled(&who.actor, id, false, t)
            .await
            .map(|_| "disabled"),
        "resend" => match f.delivery.trim().parse::<i64>() {
            Ok(d) => s
                .store
                .resend_webhook(&who.actor, id, d, t)
                .await
                .map(|_| "resent"),
            Err(_) => Err(StoreError::Missing {
                what: "delivery",
                value: f.delivery.chars().take(20).collect(),
            }),
        },
        _ => {
            return Err(PageError::Forbidden(
                "That is not something this page does; reload it and try again.".into(),
            ));
        }
    };
    match done {
        Ok(saved) => {
            Ok(Redirect::to(&format!("/settings/webhooks/{id}?saved={saved}")).into_response())
        }
        Err(StoreError::Domain(e @ waymark_core::DomainError::Rule(_))) => {
            detail(
                &s,
                &who,
                id,
                None,
                StatusCode::CONFLICT,
                None,
                Some(e.to_string()),
            )
            .await
        }
        Err(e @ StoreError::Missing { .. }) => {
            detail(
                &s,
                &who,
                id,
                None,
                StatusCode::NOT_FOUND,
                None,
                Some(e.to_string()),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
