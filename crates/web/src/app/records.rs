//! What the record pages share: an engagement loaded with its agency and
//! names, and a refused command turned into a form's error. The pages are
//! `workshops`, `letters`, `delivery`, `documents` and `outbox`; each form
//! becomes one core command, judged like any other.

use std::collections::HashMap;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use waymark_core::{Agency, DomainError, Engagement, EngagementId, PersonId};
use waymark_store::StoreError;

use super::auth::SignedIn;
use super::{AppState, PageError, field_label};

/// A refused command as (field, message) for the form's error summary.
pub(crate) fn problem(e: &DomainError) -> (String, String) {
    match e {
        DomainError::Invalid { field, message } => (
            field.to_string(),
            format!("{}: {message}", field_label(field)),
        ),
        other => ("action".to_string(), other.to_string()),
    }
}

/// The engagement, its agency, and who it may name (for forms and letters).
pub(crate) struct Loaded {
    pub e: Engagement,
    pub agency: Agency,
    pub names: HashMap<PersonId, String>,
}

pub(crate) async fn load(
    s: &AppState,
    who: &SignedIn,
    id: EngagementId,
) -> Result<Loaded, PageError> {
    let e = s.store.engagement(&who.actor, id).await?;
    let agency = s.store.agency(e.agency).await?.ok_or(PageError::NotFound)?;
    let mut ids: Vec<PersonId> = e.decisions.iter().map(|d| d.decided_by).collect();
    ids.extend(e.signoffs.iter().map(|x| x.by));
    ids.extend(e.letters.iter().map(|x| x.by));
    ids.extend(e.documents.iter().map(|x| x.by));
    ids.extend(e.sponsor);
    let names = s.store.person_names(&ids).await?;
    Ok(Loaded { e, agency, names })
}

pub(crate) fn outcome_to_page<T>(
    result: Result<T, StoreError>,
) -> Result<Result<T, (String, String)>, PageError> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(StoreError::Domain(DomainError::Conflict { .. })) => Ok(Err((
            "action".into(),
            "Someone else changed this engagement while you were working; nothing was saved. Check the page and try again.".into(),
        ))),
        Err(StoreError::Domain(e @ (DomainError::Invalid { .. } | DomainError::Rule(_)))) => {
            Ok(Err(problem(&e)))
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn download(bytes: Vec<u8>, kind: &str, name: &str, inline: bool) -> Response {
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(kind).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "{}; filename=\"{safe}\"",
        if inline { "inline" } else { "attachment" }
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}
