//! The programme's mailbox as Waymark reads it: how the reader is doing
//! (`crate::imap` writes it), and every message taken, with those that
//! could not be taken (unreadable, too large) waiting to be marked dealt
//! with.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use waymark_store::{InboundRecord, MailboxStatus};

use super::auth::{SignedIn, UserView};
use super::{AppState, PageError, view_page};
use axum::Form;

/// What `mailbox.html` reads.
#[derive(Serialize)]
struct MailboxPage {
    title: &'static str,
    user: UserView,
    mailboxes: Vec<MailboxView>,
    waiting: Vec<InboundRecord>,
    recent: Vec<InboundRecord>,
    now: i64,
}

#[derive(Serialize)]
struct MailboxView {
    #[serde(flatten)]
    status: MailboxStatus,
    /// The holder's lease ran out: no instance is reading it now.
    stale: bool,
}

pub async fn mailbox(State(s): State<Arc<AppState>>, who: SignedIn) -> Result<Response, PageError> {
    let now = waymark_store::now();
    let mailboxes = s
        .store
        .mailboxes(&who.actor)
        .await?
        .into_iter()
        .map(|m| MailboxView {
            stale: m.expires_at.0 < now.0,
            status: m,
        })
        .collect();
    let waiting = s.store.inbound_mail(&who.actor, true, 200).await?;
    let recent = s.store.inbound_mail(&who.actor, false, 100).await?;
    view_page(
        &s,
        StatusCode::OK,
        "mailbox.html",
        &MailboxPage {
            title: "Mailbox",
            user: who.view(),
            mailboxes,
            waiting,
            recent,
            now: now.0,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReviewForm {
    csrf: String,
    record: i64,
}

/// Marks a message that could not be taken as dealt with.
pub async fn review(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<ReviewForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    s.store
        .review_inbound(&who.actor, f.record, waymark_store::now())
        .await?;
    Ok(Redirect::to("/mailbox").into_response())
}
