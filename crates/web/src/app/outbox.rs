//! The admins' view of the mail outbox.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::auth::{SignedIn, UserView};
use super::{AppState, PageError, view_page};

/// What `outbox.html` reads.
#[derive(Serialize)]
struct OutboxPage {
    title: &'static str,
    user: UserView,
    mail: Vec<MailRow>,
    /// Whether an SMTP server is configured.
    smtp: bool,
}

#[derive(Serialize)]
struct MailRow {
    to: String,
    subject: String,
    body: String,
    attachment: Option<String>,
    created: i64,
    sent: Option<i64>,
    attempts: i64,
    error: Option<String>,
    /// The server refused it for good: not tried again.
    refused: Option<i64>,
}

pub async fn outbox(State(s): State<Arc<AppState>>, who: SignedIn) -> Result<Response, PageError> {
    let mail = s.store.outbox(&who.actor, 200).await?;
    let mail = mail
        .into_iter()
        .map(|m| MailRow {
            to: m.recipient,
            subject: m.subject,
            body: m.body,
            attachment: m.attachment_name,
            created: m.created_at.0,
            sent: m.sent_at.map(|t| t.0),
            attempts: m.attempts,
            error: m.last_error,
            refused: m.gave_up_at.map(|t| t.0),
        })
        .collect();
    view_page(
        &s,
        StatusCode::OK,
        "outbox.html",
        &OutboxPage {
            title: "Outbox",
            user: who.view(),
            mail,
            smtp: s.smtp,
        },
    )
}
