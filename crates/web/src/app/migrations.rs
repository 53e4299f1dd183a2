//! The programme's migration page: the model versions engagements run on,
//! the mapping `model diff` proposes from one to the current model (every
//! old stage and step, each with a choice), a preview of every engagement
//! before and after, and applying it. The core judges and the store
//! writes; this page only turns the form into a mapping and back.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use waymark_core::migration::{self, Mapping, StageMove, StepMove, StepRef};
use waymark_model::Model;
use waymark_store::{Outcome, StoreError, now};

use super::auth::{SignedIn, UserView};
use super::{AppState, FieldError, PageError, form_error, view_page};

#[derive(Serialize)]
struct Page {
    title: &'static str,
    user: UserView,
    current: String,
    versions: Vec<VersionView>,
    plan: Option<PlanView>,
    outcomes: Option<Vec<OutcomeView>>,
    applied: bool,
    errors: Vec<FieldError>,
}

#[derive(Serialize)]
struct VersionView {
    hash: String,
    short: String,
    pinned_at: i64,
    engagements: i64,
    current: bool,
}

#[derive(Serialize)]
struct PlanView {
    from: String,
    to: String,
    short_from: String,
    engagements: i64,
    stages: Vec<StageRow>,
    /// Every new stage (value, label), and every new step.
    new_stages: Vec<(String, String)>,
    new_steps: Vec<(String, String)>,
}

#[derive(Serialize)]
struct StageRow {
    slug: String,
    name: String,
    to: String,
    steps: Vec<StepRow>,
}

#[derive(Serialize)]
struct StepRow {
    field: String,
    label: String,
    to: String,
}

#[derive(Serialize)]
struct OutcomeView {
    id: i64,
    result: &'static str,
    reason: Option<String>,
    before: String,
    after: String,
    archived: Vec<String>,
}

fn step_value(r: &StepRef) -> String {
    format!("{}:{}", r.stage, r.step)
}

fn active(stages: &[waymark_core::StageRecord], model: &Model) -> String {
    let names: Vec<String> = stages
        .iter()
        .filter(|s| s.status == waymark_core::StageStatus::Active)
        .map(|s| {
            model
                .stage(&s.stage)
                .map_or(s.stage.clone(), |m| m.name.clone())
        })
        .collect();
    if names.is_empty() {
        "no active stage".into()
    } else {
        names.join(", ")
    }
}

fn plan_view(mapping: &Mapping, old: &Model, new: &Model, engagements: i64) -> PlanView {
    let stage_to = |slug: &str| {
        mapping
            .stages
            .iter()
            .find(|m| m.from == slug)
            .and_then(|m| m.to.clone())
            .unwrap_or_default()
    };
    PlanView {
        from: mapping.from.clone(),
        to: mapping.to.clone(),
        short_from: mapping.from.chars().take(12).collect(),
        engagements,
        stages: old
            .stages
            .iter()
            .map(|s| StageRow {
                slug: s.slug.clone(),
                name: s.name.clone(),
                to: stage_to(&s.slug),
                steps: s
                    .steps
                    .iter()
                    .map(|st| StepRow {
                        field: format!("step-{}-{}", s.slug, st.number),
                        label: format!("Step {}: {}", st.number, st.title),
                        to: mapping
                            .steps
                            .iter()
                            .find(|m| m.from.stage == s.slug && m.from.step == st.number)
                            .and_then(|m| m.to.as_ref())
                            .map(step_value)
                            .unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect(),
        new_stages: new
            .stages
            .iter()
            .map(|s| (s.slug.clone(), s.name.clone()))
            .collect(),
        new_steps: new
            .stages
            .iter()
            .flat_map(|s| {
                s.steps.iter().map(move |st| {
                    (
                        format!("{}:{}", s.slug, st.number),
                        format!("{} – step {}: {}", s.name, st.number, st.title),
                    )
                })
            })
            .collect(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn render(
    s: &AppState,
    who: &SignedIn,
    status: StatusCode,
    mapping: Option<&Mapping>,
    outcomes: Option<Vec<Outcome>>,
    applied: bool,
    errors: Vec<FieldError>,
) -> Result<Response, PageError> {
    let current = s.store.pin_model(&s.pages, now()).await?;
    let versions = s.store.model_versions().await?;
    let plan = match mapping {
        Some(m) => {
            let old = s.store.pinned(&m.from).await?;
            let n = versions
                .iter()
                .find(|v| v.hash == m.from)
                .map_or(0, |v| v.engagements);
            Some((plan_view(m, &old, &s.model, n), old))
        }
        None => None,
    };
    let outcomes = outcomes.map(|list| {
        list.into_iter()
            .map(|o| OutcomeView {
                id: o.engagement.0,
                result: o.result,
                reason: o.reason,
                before: plan
                    .as_ref()
                    .map_or(String::new(), |(_, old)| active(&o.before, old)),
                after: if o.result == "migrated" {
                    active(&o.after, &s.model)
                } else {
                    String::new()
                },
                archived: o.archived,
            })
            .collect()
    });
    let view = Page {
        title: "Model versions",
        user: who.view(),
        versions: versions
            .iter()
            .map(|v| VersionView {
                hash: v.hash.clone(),
                short: v.hash.chars().take(12).collect(),
                pinned_at: v.pinned_at.0,
                engagements: v.engagements,
                current: v.hash == current,
            })
            .collect(),
        current,
        plan: plan.map(|(p, _)| p),
        outcomes,
        applied,
        errors,
    };
    view_page(s, status, "migrations.html", &view)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct From {
    from: Option<String>,
}

pub async fn migrations(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Query(q): Query<From>,
) -> Result<Response, PageError> {
    // To anyone else the page does not exist.
    migration::may_migrate(&who.actor).map_err(|_| PageError::NotFound)?;
    let mapping = match q.from.as_deref() {
        Some(from) => match crate::actions::propose_migration(&s.store, &s.pages, from).await {
            Ok(m) => Some(m),
            Err(StoreError::Missing { .. }) => return Err(PageError::NotFound),
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    render(
        &s,
        &who,
        StatusCode::OK,
        mapping.as_ref(),
        None,
        false,
        Vec::new(),
    )
    .await
}

/// The form as a mapping: `stage-SLUG` = new stage or empty (archive),
/// `step-SLUG-N` = `STAGE:N` or empty, over the old model's stages and
/// steps (names the form did not send are archived).
fn mapping_from(fields: &HashMap<String, String>, from: &str, to: &str, old: &Model) -> Mapping {
    let value = |k: &str| fields.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    Mapping {
        from: from.to_string(),
        to: to.to_string(),
        stages: old
            .stages
            .iter()
            .map(|s| StageMove {
                from: s.slug.clone(),
                to: value(&format!("stage-{}", s.slug)).map(str::to_string),
            })
            .collect(),
        steps: old
            .stages
            .iter()
            .flat_map(|s| {
                s.steps.iter().map(move |st| StepMove {
                    from: StepRef {
                        stage: s.slug.clone(),
                        step: st.number,
                    },
                    to: value(&format!("step-{}-{}", s.slug, st.number)).and_then(|v| {
                        let (stage, n) = v.rsplit_once(':')?;
                        Some(StepRef {
                            stage: stage.to_string(),
                            step: n.parse().ok()?,
                        })
                    }),
                })
            })
            .collect(),
    }
}

pub async fn run(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    // The preview's table lets the programme pick engagements: only those
    // ticked move (`chosen` says the table was there).
    let chosen: Option<Vec<waymark_core::EngagementId>> =
        pairs.iter().any(|(k, _)| k == "chosen").then(|| {
            pairs
                .iter()
                .filter(|(k, _)| k == "engagement")
                .filter_map(|(_, v)| v.parse().ok().map(waymark_core::EngagementId))
                .collect()
        });
    let fields: HashMap<String, String> = pairs.into_iter().collect();
    who.check(fields.get("csrf").map_or("", String::as_str))?;
    migration::may_migrate(&who.actor).map_err(|_| PageError::NotFound)?;
    let from = fields.get("from").cloned().unwrap_or_default();
    let old = match s.store.pinned(&from).await {
        Ok(m) => m,
        Err(StoreError::Missing { .. }) => return Err(PageError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let to = s.store.pin_model(&s.pages, now()).await?;
    let mapping = mapping_from(&fields, &from, &to, &old);
    let preview = fields.get("action").map(String::as_str) != Some("apply");
    match s
        .store
        // A preview shows every engagement on the version; applying moves the ticked.
        .migrate_engagements(
            &who.actor,
            &mapping,
            if preview { None } else { chosen.as_deref() },
            preview,
            now(),
        )
        .await
    {
        Ok(outcomes) => {
            // Articles' stage tags followed the mapping: the guide lists them there.
            if !preview {
                s.actions()
                    .refresh_guide(None)
                    .await
                    .map_err(PageError::Internal)?;
            }
            render(
                &s,
                &who,
                StatusCode::OK,
                Some(&mapping),
                Some(outcomes),
                !preview,
                Vec::new(),
            )
            .await
        }
        Err(StoreError::Domain(waymark_core::DomainError::Invalid { message, .. })) => {
            let errors = vec![form_error("mapping", message)];
            render(
                &s,
                &who,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&mapping),
                None,
                false,
                errors,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
