//! The adopter directory: the public list of agencies using the blueprint,
//! and the form on an agency's page that lists it or takes it off. How far
//! each has come is the core's `adopters::standing`; this only lays it out.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use waymark_core::AgencyId;
use waymark_core::adopters::{self, Listing};
use waymark_store::now;

use super::auth::{SignedIn, UserView};
use super::{AppState, PageError, field_error, view_page};

/// One agency in the directory, as readers see it.
#[derive(Serialize)]
pub struct EntryView {
    name: String,
    abbreviation: String,
    /// "In Deploy and Transition; Discovery completed", or how it adopts.
    standing: String,
    /// The furthest stage and since when (`YYYY-MM-DD`).
    furthest: Option<String>,
    since: Option<String>,
    contact: String,
    case_study: String,
}

/// The entry's sentence: where the agency is now.
fn describe(s: &adopters::Standing) -> String {
    let mut parts = Vec::new();
    if !s.active.is_empty() {
        parts.push(format!("In {}", join(&s.active)));
    }
    if !s.completed.is_empty() {
        parts.push(format!("{} completed", join(&s.completed)));
    }
    if s.independent {
        parts.push("Using the blueprint independently".to_string());
    }
    if parts.is_empty() {
        "Getting started".to_string()
    } else {
        parts.join("; ")
    }
}

fn join(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[derive(Serialize)]
struct DirectoryPage {
    title: &'static str,
    user: Option<UserView>,
    entries: Vec<EntryView>,
}

/// Which agencies use the blueprint: public.
pub async fn directory(
    State(s): State<Arc<AppState>>,
    who: Option<SignedIn>,
) -> Result<Response, PageError> {
    let entries = s
        .store
        .adopters()
        .await?
        .into_iter()
        .map(|a| {
            let st = adopters::standing(&a.engagements, &s.model);
            EntryView {
                standing: describe(&st),
                furthest: st.furthest.map(|(_, name)| name),
                since: st.since.map(waymark_core::today),
                name: a.agency.name,
                abbreviation: a.agency.abbreviation.as_str().to_string(),
                contact: a.listing.contact,
                case_study: a.listing.case_study,
            }
        })
        .collect();
    view_page(
        &s,
        StatusCode::OK,
        "adopters.html",
        &DirectoryPage {
            title: "Agencies using the blueprint",
            user: who.as_ref().map(SignedIn::view),
            entries,
        },
    )
}

#[derive(Serialize)]
struct PrivacyPage {
    title: &'static str,
    user: Option<UserView>,
    /// The programme is told how to replace the built-in text.
    programme: bool,
}

/// The privacy notice every form that collects personal information links
/// to: the programme's own, a knowledge article at the address `privacy`
/// once published (one publishing path, with its versions), else the
/// built-in notice.
pub async fn privacy(
    State(s): State<Arc<AppState>>,
    who: Option<SignedIn>,
) -> Result<Response, PageError> {
    if s.store.published_article(PRIVACY_SLUG).await?.is_some() {
        let href = format!("/guide/{}", waymark_site::article_href(PRIVACY_SLUG));
        return Ok(Redirect::to(&href).into_response());
    }
    view_page(
        &s,
        StatusCode::OK,
        "privacy.html",
        &PrivacyPage {
            title: "Privacy",
            user: who.as_ref().map(SignedIn::view),
            programme: who.as_ref().is_some_and(|w| w.actor.is_programme()),
        },
    )
}

/// The knowledge article that replaces the built-in privacy notice.
pub const PRIVACY_SLUG: &str = "privacy";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListingForm {
    csrf: String,
    /// "list" or "unlist".
    action: String,
    contact: String,
    case_study: String,
}

/// Lists the agency in the directory, changes its entry, or takes it off.
pub async fn save(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<ListingForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let agency = AgencyId(id);
    s.store.agency(agency).await?.ok_or(PageError::NotFound)?;
    adopters::may_list(&who.actor, agency)?;
    if f.action == "unlist" {
        s.store.unlist_adopter(&who.actor, agency).await?;
        return Ok(Redirect::to(&format!("/agencies/{id}?directory=unlisted")).into_response());
    }
    match adopters::listing(&f.contact, &f.case_study) {
        Ok(l) => {
            s.store.list_adopter(&who.actor, agency, &l, now()).await?;
            Ok(Redirect::to(&format!("/agencies/{id}?directory=listed")).into_response())
        }
        Err(problems) => {
            let errors = problems.iter().filter_map(field_error).collect();
            super::directory::agency_page(
                &s,
                &who,
                agency,
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
                Some(Listing {
                    contact: f.contact.clone(),
                    case_study: f.case_study.clone(),
                }),
                None,
            )
            .await
        }
    }
}
