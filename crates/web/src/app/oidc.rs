//! Signing in with an organisation's own account: the button's address
//! sends the visitor to the provider, and the provider sends them back to
//! the callback, which proves who they are (`crate::oidc`), asks the core
//! what that means (`waymark_core::oidc::decide`), has the store carry it
//! out, and then continues as a right password does: the second factor's
//! code if they have one, else signed in.
//!
//! The started sign-in lives in the visitor's session and is taken out of
//! it before anything else is checked, so an answer (its `state`) is used
//! once. Refusals count against the visitor's address like wrong
//! passwords, and are logged for the security log without the address.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;
use waymark_core::Timestamp;
use waymark_core::oidc::{Outcome, decide};
use waymark_store::{StoreError, now};

use super::auth::{
    ADDRESS_LIMIT, ClientIp, NextQuery, after_first_factor, login_page, safe_next, throttle,
};
use super::{AppState, PageError};
use crate::oidc::{Callback, Configured, Failure, Pending};

/// The session key of a started sign-in.
const STARTED: &str = "oidc";

fn redirect_uri(s: &AppState, p: &Configured) -> String {
    format!(
        "{}/login/oidc/{}/callback",
        s.public_url.trim_end_matches('/'),
        p.rules.name
    )
}

fn refused(s: &AppState, status: StatusCode, next: &str, message: &str) -> Response {
    login_page(s, status, "", next, Some(("providers", message)))
}

/// `GET /login/oidc/{provider}`: off to the provider.
pub async fn start(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path(name): Path<String>,
    Query(q): Query<NextQuery>,
) -> Result<Response, PageError> {
    let Some(p) = s.oidc.get(&name) else {
        return Err(PageError::NotFound);
    };
    let next = safe_next(q.next.as_deref()).to_string();
    match s.oidc.start(p, &redirect_uri(&s, p), &next, now()).await {
        Ok((url, pending)) => {
            session
                .insert(STARTED, pending)
                .await
                .map_err(|e| PageError::Internal(e.to_string()))?;
            Ok(Redirect::to(&url).into_response())
        }
        Err(f) => {
            tracing::warn!(provider = %name, "sign-in with a provider could not start: {f}");
            Ok(refused(
                &s,
                StatusCode::BAD_GATEWAY,
                &next,
                &format!("{f}. Try again in a few minutes, or sign in with your Waymark password."),
            ))
        }
    }
}

/// `GET /login/oidc/{provider}/callback`: the provider's answer.
pub async fn callback(
    State(s): State<Arc<AppState>>,
    ClientIp(addr): ClientIp,
    session: Session,
    Path(name): Path<String>,
    Query(answer): Query<Callback>,
) -> Result<Response, PageError> {
    let t = now();
    let address = format!("address:{}", crate::ops::limit_key(addr));
    throttle(&s, &[(&address, ADDRESS_LIMIT)], t, "sign_in", Some(addr)).await?;
    let Some(p) = s.oidc.get(&name) else {
        return Err(PageError::NotFound);
    };
    let started = session
        .remove::<Pending>(STARTED)
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let fail = |status: StatusCode, next: &str, why: &str, message: &str| {
        let s = Arc::clone(&s);
        let address = address.clone();
        let (next, why, message) = (next.to_string(), why.to_string(), message.to_string());
        let name = name.clone();
        async move {
            crate::ops::METRICS.sign_in_failed("provider");
            tracing::warn!(client = %addr, provider = %name, "sign-in with a provider refused: {why}");
            s.store
                .record_sign_in_failure(&address, t)
                .await
                .map_err(PageError::from)?;
            Ok::<_, PageError>(refused(&s, status, &next, &message))
        }
    };
    let Some(pending) = started else {
        return fail(
            StatusCode::BAD_REQUEST,
            "",
            "no sign-in was started in this browser, or its answer was used already",
            "This sign-in has already been used, or was started in another browser. Start again.",
        )
        .await;
    };
    let label = p.rules.label.trim();
    let identity = match s
        .oidc
        .finish(p, &pending, &answer, &redirect_uri(&s, p), t)
        .await
    {
        Ok(i) => i,
        Err(f) => {
            let (status, message) = match &f {
                Failure::Unreachable(_) => (
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "{f}. Try again in a few minutes, or sign in with your Waymark password."
                    ),
                ),
                Failure::Refused(why) => (
                    StatusCode::BAD_REQUEST,
                    format!("{label} did not prove who you are ({why}), so you are not signed in."),
                ),
                Failure::Stopped(said) => (
                    StatusCode::BAD_REQUEST,
                    format!("The sign-in with {label} did not finish ({said})."),
                ),
            };
            return fail(status, &pending.next, &f.to_string(), &message).await;
        }
    };
    // Twice at most: a first sign-in racing another for the same address
    // finds the account the other made.
    let mut person = None;
    for _ in 0..2 {
        let linked = s
            .store
            .identity_account(&p.rules.issuer, &identity.subject)
            .await?;
        let by_email = match &identity.email {
            Some(e) => s.store.account_by_email(e).await?,
            None => None,
        };
        let outcome = match decide(&p.rules, &identity, linked, by_email) {
            Ok(o) => o,
            Err(refusal) => {
                return fail(
                    StatusCode::FORBIDDEN,
                    &pending.next,
                    &format!("{refusal:?}"),
                    &refusal.to_string(),
                )
                .await;
            }
        };
        match s
            .store
            .sign_in_as(&p.rules.issuer, &identity.subject, &outcome, t)
            .await
        {
            Ok(who) => {
                log_outcome(&name, &outcome, who, t);
                person = Some(who);
                break;
            }
            Err(StoreError::Duplicate { field: "email", .. }) => continue,
            Err(StoreError::Missing {
                what: "agency",
                value,
            }) => {
                tracing::error!(
                    provider = %name,
                    "the provider's configuration maps a domain to {value}, which is not an agency here"
                );
                return fail(
                    StatusCode::FORBIDDEN,
                    &pending.next,
                    "the mapped agency does not exist",
                    "Your agency is not set up in Waymark yet. Ask the programme to add it.",
                )
                .await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let Some(person) = person else {
        return Err(PageError::Internal(
            "a first sign-in raced another twice".into(),
        ));
    };
    after_first_factor(&s, &session, person, safe_next(Some(&pending.next))).await
}

fn log_outcome(provider: &str, outcome: &Outcome, who: waymark_core::PersonId, t: Timestamp) {
    let what = match outcome {
        Outcome::SignIn(_) => "signed in",
        Outcome::Link(_) => "linked an existing account and signed in",
        Outcome::Create { .. } => "made a member of the mapped agency and signed in",
    };
    tracing::info!(
        provider,
        person = who.0,
        at = t.0,
        "sign-in with a provider: {what}"
    );
}
