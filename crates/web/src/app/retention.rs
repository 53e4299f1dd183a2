//! Retention, as the programme sees and sets it: how long closed enquiries
//! that never became engagements are kept (with their mail), what the
//! next run would remove, and every run with what it removed. The rules
//! are `waymark_core::enquiry`'s; the removal is the store's; the daily job
//! is [`run_daily`].

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use waymark_core::enquiry::{
    RETENTION_RANGE, may_see_retention, may_set_retention, parse_retention,
};
use waymark_store::{Removal, RetentionRun, RetentionSetting, Store, now};

use super::auth::{SignedIn, UserView};
use super::{AppState, FieldError, PageError, form_error, view_page};

/// Seconds between the daily job's runs.
pub const EVERY_SECS: i64 = 24 * 60 * 60;

/// Runs retention if no run happened in the last day: the job every
/// instance starts; two starting together both run, and the second finds
/// nothing left to remove.
pub async fn run_daily(store: &Store) -> Result<Option<RetentionRun>, waymark_store::StoreError> {
    let t = now();
    match store.last_retention_run().await? {
        Some(last) if t.0 - last.0 < EVERY_SECS => Ok(None),
        _ => store.run_retention(None, t).await.map(Some),
    }
}

/// A run and what it removed.
#[derive(Serialize)]
struct RunView {
    #[serde(flatten)]
    run: RetentionRun,
    removals: Vec<Removal>,
}

/// What `retention.html` reads.
#[derive(Serialize)]
struct RetentionPage {
    title: &'static str,
    user: UserView,
    setting: RetentionSetting,
    /// Closed enquiries the next run would remove.
    due: i64,
    runs: Vec<RunView>,
    /// Whether this visitor sets the period and runs it (admins).
    may_set: bool,
    min: u32,
    max: u32,
    /// What the period field shows (what was typed, after an error).
    months: String,
    errors: Vec<FieldError>,
    saved: Option<&'static str>,
}

async fn page(
    s: &AppState,
    who: &SignedIn,
    status: StatusCode,
    months: Option<String>,
    errors: Vec<FieldError>,
    saved: Option<&'static str>,
) -> Result<Response, PageError> {
    may_see_retention(&who.actor)?;
    let setting = s.store.retention().await?;
    let mut runs = Vec::new();
    for run in s.store.retention_runs(&who.actor, 50).await? {
        let removals = if run.removed > 0 {
            s.store.retention_removals(&who.actor, run.id).await?
        } else {
            Vec::new()
        };
        runs.push(RunView { run, removals });
    }
    let view = RetentionPage {
        title: "Retention",
        user: who.view(),
        months: months.unwrap_or_else(|| setting.months.to_string()),
        setting,
        due: s.store.due_for_removal(now()).await?,
        runs,
        may_set: may_set_retention(&who.actor).is_ok(),
        min: *RETENTION_RANGE.start(),
        max: *RETENTION_RANGE.end(),
        errors,
        saved,
    };
    view_page(s, status, "retention.html", &view)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SavedQuery {
    saved: String,
}

pub async fn retention(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Query(q): Query<SavedQuery>,
) -> Result<Response, PageError> {
    let saved = match q.saved.as_str() {
        "period" => Some("The retention period is saved. The next run uses it."),
        "run" => Some("Retention ran: what it removed is listed below."),
        _ => None,
    };
    page(&s, &who, StatusCode::OK, None, Vec::new(), saved).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RetentionForm {
    csrf: String,
    /// `period` or `run`.
    action: String,
    months: String,
}

pub async fn change(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<RetentionForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    may_set_retention(&who.actor)?;
    match f.action.as_str() {
        "period" => match parse_retention(&f.months) {
            Ok(months) => {
                s.store.set_retention(&who.actor, months, now()).await?;
                Ok(Redirect::to("/retention?saved=period").into_response())
            }
            Err(waymark_core::DomainError::Invalid { message, .. }) => {
                let errors = vec![form_error(
                    "months",
                    super::field_label("months") + ": " + &message,
                )];
                page(
                    &s,
                    &who,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(super::typed_back(&f.months)),
                    errors,
                    None,
                )
                .await
            }
            Err(e) => Err(e.into()),
        },
        "run" => {
            s.store.run_retention(Some(&who.actor), now()).await?;
            Ok(Redirect::to("/retention?saved=run").into_response())
        }
        _ => Err(PageError::Refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose to save the period or to run retention now.".into(),
        )),
    }
}
