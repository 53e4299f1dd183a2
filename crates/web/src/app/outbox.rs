//! The admins' view of the mail outbox.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};

use super::auth::SignedIn;
use super::{AppState, PageError, page};

pub async fn outbox(State(s): State<Arc<AppState>>, who: SignedIn) -> Result<Response, PageError> {
    let run = async {
        let mail = s.store.outbox(&who.actor, 200).await?;
        let rows: Vec<Value> = mail
            .iter()
            .map(|m| context! { id => m.id, kind => m.kind.clone(), to => m.recipient.clone(), subject => m.subject.clone(),
                body => m.body.clone(), attachment => m.attachment_name.clone(), created => m.created_at.0,
                sent => m.sent_at.map(|t| t.0), attempts => m.attempts, error => m.last_error.clone() })
            .collect();
        page(
            &s,
            StatusCode::OK,
            "outbox.html",
            context! { title => "Outbox", user => who.view(), mail => rows, smtp => s.smtp },
        )
    };
    run.await
}
