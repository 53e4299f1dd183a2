//! Deploy's delivery artefacts, their CSV and markdown exports, and the
//! user guides.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use waymark_core::{Artefact, Command, DomainError, EngagementId, WorkStatus};
use waymark_store::now;

use super::auth::{SignedIn, UserView};
use super::forms::Version;
use super::records::{download, load, outcome_to_page, problem};
use super::{AppState, FieldError, PageError, form_error as error, view_page};
use crate::letter;

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ArtefactForm {
    csrf: String,
    version: Version,
    artefact: String,
    id: String,
    text: String,
    name: String,
    starts: String,
    ends: String,
    goal: String,
    capability: String,
    status: String,
    sprint: String,
    as_a: String,
    i_want: String,
    so_that: String,
    acceptance: String,
    title: String,
    markdown: String,
}

fn status_of(raw: &str) -> Result<WorkStatus, DomainError> {
    WorkStatus::ALL
        .into_iter()
        .find(|s| {
            serde_json::to_value(s)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .as_deref()
                == Some(raw)
        })
        .ok_or_else(|| DomainError::invalid("status", "choose a status"))
}

impl ArtefactForm {
    fn artefact(&self) -> Result<Artefact, DomainError> {
        let id = match self.id.trim() {
            "" | "new" => None,
            n => Some(
                n.parse()
                    .map_err(|_| DomainError::invalid("id", "choose one from the list"))?,
            ),
        };
        Ok(match self.artefact.as_str() {
            "execution_plan" => Artefact::ExecutionPlan {
                text: self.text.clone().into(),
            },
            "sprint" => Artefact::Sprint {
                id,
                name: self.name.clone().into(),
                starts: self.starts.clone().into(),
                ends: self.ends.clone().into(),
                goal: self.goal.clone().into(),
            },
            "feature" => Artefact::Feature {
                id,
                capability: self.capability.clone().into(),
                status: status_of(&self.status)?,
                sprint: match self.sprint.trim() {
                    "" => None,
                    n => Some(
                        n.parse()
                            .map_err(|_| DomainError::invalid("sprint", "choose a sprint"))?,
                    ),
                },
            },
            "story" => Artefact::Story {
                id,
                as_a: self.as_a.clone().into(),
                i_want: self.i_want.clone().into(),
                so_that: self.so_that.clone().into(),
                acceptance: self.acceptance.clone().into(),
                status: status_of(&self.status)?,
            },
            "guide" => Artefact::Guide {
                id,
                title: self.title.clone().into(),
                markdown: self.markdown.clone().into(),
            },
            _ => {
                return Err(DomainError::invalid(
                    "artefact",
                    "reload the page and try again",
                ));
            }
        })
    }
}

/// What `delivery.html` reads.
#[derive(Serialize)]
struct DeliveryPage<'a> {
    title: String,
    user: UserView,
    id: i64,
    agency: String,
    version: u64,
    can: std::collections::BTreeMap<&'static str, bool>,
    /// The execution plan as HTML, and as typed.
    plan: Option<String>,
    plan_text: Option<&'a str>,
    sprints: &'a [waymark_core::Sprint],
    features: Vec<FeatureRow>,
    stories: Vec<StoryRow>,
    guides: &'a [waymark_core::Guide],
    documents: Vec<DocumentRow>,
    statuses: Vec<StatusOption>,
    errors: Vec<FieldError>,
    /// The artefact form as typed, or empty.
    form: ArtefactForm,
    /// The upload form's accepted extensions and size limit.
    accept: String,
    max_mb: usize,
}

#[derive(Serialize)]
struct StatusOption {
    value: WorkStatus,
    label: &'static str,
}

#[derive(Serialize)]
struct FeatureRow {
    id: u32,
    capability: String,
    status: &'static str,
    sprint: Option<String>,
}

#[derive(Serialize)]
struct StoryRow {
    id: u32,
    as_a: String,
    i_want: String,
    so_that: String,
    acceptance: String,
    status: &'static str,
}

#[derive(Serialize)]
struct DocumentRow {
    file: i64,
    title: String,
    name: String,
    size: u64,
    kind: String,
    at: i64,
    sha256: String,
    by: String,
}

/// What `guide.html` reads.
#[derive(Serialize)]
struct GuidePage {
    title: String,
    user: UserView,
    id: i64,
    agency: String,
    html: String,
}

pub(crate) async fn delivery_page(
    s: &AppState,
    who: &SignedIn,
    id: EngagementId,
    status: StatusCode,
    errors: Vec<FieldError>,
    form: Option<&ArtefactForm>,
) -> Result<Response, PageError> {
    let l = load(s, who, id).await?;
    let d = &l.e.delivery;
    let statuses = WorkStatus::ALL
        .iter()
        .map(|&value| StatusOption {
            value,
            label: value.label(),
        })
        .collect();
    let sprint_name = |n: Option<u32>| {
        n.and_then(|n| d.sprints.iter().find(|s| s.id == n))
            .map(|s| s.name.clone())
    };
    let features = d
        .features
        .iter()
        .map(|f| FeatureRow {
            id: f.id,
            capability: f.capability.clone(),
            status: f.status.label(),
            sprint: sprint_name(f.sprint),
        })
        .collect();
    let stories = d
        .stories
        .iter()
        .map(|x| StoryRow {
            id: x.id,
            as_a: x.as_a.clone(),
            i_want: x.i_want.clone(),
            so_that: x.so_that.clone(),
            acceptance: x.acceptance.clone(),
            status: x.status.label(),
        })
        .collect();
    let documents =
        l.e.documents
            .iter()
            .map(|x| DocumentRow {
                file: x.file,
                title: x.title.clone(),
                name: x.name.clone(),
                size: x.size,
                kind: x.content_type.clone(),
                at: x.at.0,
                sha256: x.sha256.clone(),
                by: l.names.get(&x.by).cloned().unwrap_or_default(),
            })
            .collect();
    let view = DeliveryPage {
        title: format!("Delivery: {}", l.agency.name),
        user: who.view(),
        id: id.0,
        agency: l.agency.name.clone(),
        version: l.e.version,
        can: waymark_core::allowed_commands(&who.actor, &l.e),
        plan: d.execution_plan.as_deref().map(letter::html),
        plan_text: d.execution_plan.as_deref(),
        sprints: &d.sprints,
        features,
        stories,
        guides: &d.guides,
        documents,
        statuses,
        errors,
        form: form.cloned().unwrap_or_default(),
        accept: waymark_store::accepted_extensions()
            .iter()
            .map(|e| format!(".{e}"))
            .collect::<Vec<_>>()
            .join(","),
        max_mb: waymark_store::MAX_FILE_BYTES / (1024 * 1024),
    };
    view_page(s, status, "delivery.html", &view)
}

pub async fn delivery(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    delivery_page(&s, &who, EngagementId(id), StatusCode::OK, Vec::new(), None).await
}

pub async fn save_artefact(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<ArtefactForm>,
) -> Result<Response, PageError> {
    let id = EngagementId(id);
    who.check(&f.csrf)?;
    let version = f.version.get();
    let result = match (f.artefact(), version) {
        (Ok(artefact), Ok(v)) => outcome_to_page(
            s.store
                .execute(
                    &who.actor,
                    id,
                    v,
                    &Command::SaveArtefact { artefact },
                    now(),
                )
                .await,
        )?
        .map(|_| ()),
        (Err(e), _) | (_, Err(e)) => Err(problem(&e)),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!(
            "/engagements/{id}/delivery#{}",
            f.artefact.replace('_', "-")
        ))
        .into_response()),
        Err((field, message)) => {
            delivery_page(
                &s,
                &who,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![error(&format!("{}-{field}", f.artefact), message)],
                Some(&f),
            )
            .await
        }
    }
}

pub async fn guide(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path((id, gid)): Path<(i64, u32)>,
) -> Result<Response, PageError> {
    let l = load(&s, &who, EngagementId(id)).await?;
    let g =
        l.e.delivery
            .guides
            .iter()
            .find(|g| g.id == gid)
            .ok_or(PageError::NotFound)?;
    let view = GuidePage {
        title: g.title.clone(),
        user: who.view(),
        id,
        agency: l.agency.name.clone(),
        html: letter::html(&g.markdown),
    };
    view_page(&s, StatusCode::OK, "guide.html", &view)
}

pub async fn delivery_export(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path((id, file)): Path<(i64, String)>,
) -> Result<Response, PageError> {
    let l = load(&s, &who, EngagementId(id)).await?;
    let d = &l.e.delivery;
    let (bytes, kind) = match file.as_str() {
        "sprints.csv" => (crate::export::sprints_csv(d), "text/csv; charset=utf-8"),
        "features.csv" => (crate::export::features_csv(d), "text/csv; charset=utf-8"),
        "stories.csv" => (crate::export::stories_csv(d), "text/csv; charset=utf-8"),
        "delivery.md" => (
            Ok(crate::export::markdown(&l.agency.name, d).into_bytes()),
            "text/markdown; charset=utf-8",
        ),
        _ => return Err(PageError::NotFound),
    };
    let bytes = bytes.map_err(|e| PageError::Internal(e.to_string()))?;
    Ok(download(
        bytes,
        kind,
        &format!("engagement-{id}-{file}"),
        false,
    ))
}
