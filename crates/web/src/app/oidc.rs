//! Signing in with an organisation's own account: the button's address
//! sends the visitor to the provider, and the provider sends them back to
//! the callback, which proves who they are (`crate::oidc`), asks the core
//! what that means (`waymark_core::oidc::decide`), has the store carry it
//! out, and then continues as a right password does: the second factor's
//! code if they have one, else signed in.
//!
//! The started sign-in lives in the visitor's session and is taken out of
//! it before anything else is checked, so an answer (its `state`) is used
//! once. A provider account whose address belongs to a Waymark account
//! waits in the session until that account's owner signs in with its
//! password (and code): only then is it linked ([`link_waiting`]), and the
//! owner is told by mail. Refusals count against the visitor's address
//! like wrong passwords, and are logged by kind, never with the address.
//! One page waits at most [`DEADLINE`] for the provider, all its requests
//! together.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;
use waymark_core::oidc::{Outcome, decide};
use waymark_core::{PersonId, Timestamp};
use waymark_store::{StoreError, now};

use super::auth::{
    ADDRESS_LIMIT, ClientIp, NextQuery, after_first_factor, login_page, login_page_saying,
    safe_next, throttle,
};
use super::{AppState, PageError};
use crate::oidc::{Callback, Configured, Failure, Pending};

/// The session key of a started sign-in.
const STARTED: &str = "oidc";
/// The session key of a provider account waiting for its Waymark account's
/// owner to prove the account before it is linked.
const WAITING: &str = "oidc_link";
/// Sign-ins one address may start in the sign-in window (each keeps a
/// short session): many people behind one agency gateway stay well inside.
const STARTS_PER_ADDRESS: u32 = 300;
/// The most one page waits for a provider, all its requests together.
pub const DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// A provider account its provider vouched for, waiting for the owner of
/// the Waymark account with its address.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Waiting {
    provider: String,
    issuer: String,
    subject: String,
    person: i64,
    at: i64,
}

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

/// What a visitor is told when the provider cannot be reached (the detail
/// goes to the log).
fn unreachable(p: &Configured) -> String {
    format!(
        "Waymark could not reach {}. Try again in a few minutes, or sign in with your Waymark password.",
        p.rules.label.trim()
    )
}

fn session_error(e: tower_sessions::session::Error) -> PageError {
    PageError::Internal(e.to_string())
}

/// `GET /login/oidc/{provider}`: off to the provider.
pub async fn start(
    State(s): State<Arc<AppState>>,
    ClientIp(addr): ClientIp,
    session: Session,
    Path(name): Path<String>,
    Query(q): Query<NextQuery>,
) -> Result<Response, PageError> {
    let Some(p) = s.oidc.get(&name) else {
        return Err(PageError::NotFound);
    };
    let t = now();
    // Each start keeps a session: one address may start many, but not
    // without end.
    let starts = format!("oidc_start:{}", crate::ops::limit_key(addr));
    throttle(
        &s,
        &[(&starts, STARTS_PER_ADDRESS)],
        t,
        "sign_in_start",
        Some(addr),
    )
    .await?;
    s.store.record_sign_in_failure(&starts, t).await?;
    let next = safe_next(q.next.as_deref()).to_string();
    let started = tokio::time::timeout(DEADLINE, s.oidc.start(p, &redirect_uri(&s, p), &next, t))
        .await
        .unwrap_or_else(|_| {
            Err(Failure::Unreachable(format!(
                "{}: no answer in time",
                p.rules.label.trim()
            )))
        });
    match started {
        Ok((url, pending)) => {
            session
                .insert(STARTED, pending)
                .await
                .map_err(session_error)?;
            // A visitor who is not signed in keeps this session only as
            // long as the sign-in may take.
            if session
                .get::<i64>("person")
                .await
                .map_err(session_error)?
                .is_none()
            {
                session.set_expiry(Some(tower_sessions::Expiry::OnInactivity(
                    time::Duration::seconds(waymark_core::oidc::PENDING_SECS),
                )));
            }
            Ok(Redirect::to(&url).into_response())
        }
        Err(f) => {
            tracing::warn!(provider = %name, "sign-in with a provider could not start: {f}");
            Ok(refused(&s, StatusCode::BAD_GATEWAY, &next, &unreachable(p)))
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
        .map_err(session_error)?;
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
    let finished = tokio::time::timeout(
        DEADLINE,
        s.oidc.finish(p, &pending, &answer, &redirect_uri(&s, p), t),
    )
    .await
    .unwrap_or_else(|_| Err(Failure::Unreachable(format!("{label}: no answer in time"))));
    let identity = match finished {
        Ok(i) => i,
        Err(f) => {
            let (status, message) = match &f {
                Failure::Unreachable(_) => (StatusCode::BAD_GATEWAY, unreachable(p)),
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
        // The address first, then the link: a first sign-in racing this
        // one commits its account and link together, so whenever this sees
        // the account it also sees the link, and signs in by it.
        let by_email = match &identity.email {
            Some(e) => s.store.account_by_email(e).await?,
            None => None,
        };
        let linked = s
            .store
            .identity_account(&p.rules.issuer, &identity.subject)
            .await?;
        let outcome = match decide(&p.rules, &identity, linked, by_email) {
            Ok(o) => o,
            Err(refusal) => {
                return fail(
                    StatusCode::FORBIDDEN,
                    &pending.next,
                    refusal.kind(),
                    &refusal.to_string(),
                )
                .await;
            }
        };
        if let Outcome::Confirm(owner) = outcome {
            // The account's owner proves it here, once, before the
            // provider's word for its address links it.
            let waiting = Waiting {
                provider: name.clone(),
                issuer: p.rules.issuer.clone(),
                subject: identity.subject.clone(),
                person: owner.0,
                at: t.0,
            };
            session
                .insert(WAITING, waiting)
                .await
                .map_err(session_error)?;
            tracing::info!(provider = %name, person = owner.0, "a provider account waits for its Waymark account's owner to sign in");
            let email = identity.email.as_ref().map_or("", |e| e.as_str());
            return Ok(login_page_saying(
                &s,
                StatusCode::OK,
                email,
                &pending.next,
                None,
                Some(format!(
                    "{} says you are {email}, which has a Waymark account. Sign in with its password below (and its code, if it has one) once, to link the two; after that, “Sign in with {label}” signs you in. If you have not set a password yet, use the link in your invitation first.",
                    capitalised(label)
                )),
            ));
        }
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

/// Links the provider account waiting in this browser to `person`, who has
/// just proven their account, when it waits for them; tells them by mail.
pub(super) async fn link_waiting(
    s: &AppState,
    session: &Session,
    person: PersonId,
) -> Result<(), PageError> {
    let Some(w) = session
        .remove::<Waiting>(WAITING)
        .await
        .map_err(session_error)?
    else {
        return Ok(());
    };
    let t = now();
    if w.person != person.0 || t.0 - w.at > waymark_core::oidc::PENDING_SECS || t.0 < w.at {
        return Ok(());
    }
    let linked = s
        .store
        .sign_in_as(&w.issuer, &w.subject, &Outcome::Link(person), t)
        .await?;
    if linked == person {
        log_outcome(&w.provider, &Outcome::Link(person), person, t);
        let label = s
            .oidc
            .get(&w.provider)
            .map_or(w.provider.clone(), |p| p.rules.label.trim().to_string());
        super::factor::tell_person(
            &s.store,
            &s.public_url,
            person,
            &format!(
                "You linked {label} to your Waymark account: its button on the sign-in page now signs you in."
            ),
        )
        .await;
    }
    Ok(())
}

fn log_outcome(provider: &str, outcome: &Outcome, who: PersonId, t: Timestamp) {
    let what = match outcome {
        Outcome::SignIn(_) => "signed in",
        Outcome::Link(_) => "linked to the account whose owner signed in",
        Outcome::Confirm(_) => "waits for the account's owner",
        Outcome::Create { .. } => "made a member of the mapped agency and signed in",
    };
    tracing::info!(
        provider,
        person = who.0,
        at = t.0,
        "sign-in with a provider: {what}"
    );
}

/// `text` with its first letter a capital, to begin a sentence.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
