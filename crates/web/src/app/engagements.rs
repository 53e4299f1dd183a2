//! Home (what needs my attention), starting an engagement, the engagement
//! workspace, its commands and its history.
//!
//! The workspace shows the engagement against the model version it pinned:
//! its stages as a journey, each stage's steps with the model's guidance
//! beside them, decisions and exits as forms whose options come from the
//! model, success criteria, the registers, people and sign-offs. Every form
//! posts one command; the core judges it, exactly as for the API.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::Value;
use serde::{Deserialize, Serialize};
use waymark_core::{
    AgencyId, Artefact, DecisionAt, DomainError, Engagement, EngagementId, Event, LetterKind, Mode,
    PartnerKind, PersonId, RiskSource, Role, StageStatus, StepStatus, Summary,
};
use waymark_model::{Effect, Model};
use waymark_store::{ListFilter, now};

use super::auth::{SignedIn, UserView};
use super::forms::CommandForm;
use super::{AgencyRow, AppState, PageError, PersonRow, view_page};
use waymark_site::{Hrefs, guidance_html, step_anchors};

fn stage_name<'m>(model: Option<&'m Model>, slug: &'m str) -> &'m str {
    model
        .and_then(|m| m.stage(slug))
        .map_or(slug, |s| s.name.as_str())
}

/// A row of a list of engagements: agency, active stages, warnings.
#[derive(Serialize)]
pub struct SummaryRow {
    id: i64,
    agency: Option<String>,
    abbreviation: Option<String>,
    diy: bool,
    active: Vec<ActiveStage>,
    open_risks: u32,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct ActiveStage {
    name: String,
    cycles: u32,
}

/// Rows for lists of engagements.
pub async fn summary_rows(s: &AppState, items: &[Summary]) -> Result<Vec<SummaryRow>, PageError> {
    let agencies = s
        .store
        .agencies_by_id(&items.iter().map(|e| e.agency).collect::<Vec<_>>())
        .await?;
    Ok(rows_with(s, items, &agencies))
}

/// Rows for lists of engagements whose agencies are already looked up.
fn rows_with(
    s: &AppState,
    items: &[Summary],
    agencies: &std::collections::HashMap<AgencyId, waymark_core::Agency>,
) -> Vec<SummaryRow> {
    let model = Some(&*s.model);
    let t = now();
    items
        .iter()
        .map(|e| {
            let a = agencies.get(&e.agency);
            let active = e
                .active_stages()
                .map(|st| ActiveStage {
                    name: stage_name(model, &st.stage).to_string(),
                    cycles: st.cycles,
                })
                .collect();
            let warnings: Vec<String> = e
                .warnings(&s.model, t)
                .iter()
                .map(|w| w.describe(&s.model))
                .collect();
            SummaryRow {
                id: e.id.0,
                agency: a.map(|a| a.name.clone()),
                abbreviation: a.map(|a| a.abbreviation.as_str().to_string()),
                diy: e.mode == Mode::DoItYourself,
                active,
                open_risks: e.open_risks,
                warnings,
            }
        })
        .collect()
}

#[derive(Debug, Deserialize)]
pub struct HomeQuery {
    #[serde(default)]
    page: u32,
}

const PAGE: u32 = 25;

/// What `home.html` reads.
#[derive(Serialize)]
struct HomePage {
    title: &'static str,
    user: UserView,
    engagements: Vec<SummaryRow>,
    total: u64,
    page: u32,
    pages: u64,
    board: Vec<BoardColumn>,
    overdue: Vec<SummaryRow>,
    recent: Vec<Activity>,
    startable: Vec<AgencyRow>,
}

/// A stage's column on the home page's board.
#[derive(Serialize)]
struct BoardColumn {
    slug: String,
    name: String,
    timebox: Option<String>,
    count: u64,
    items: Vec<SummaryRow>,
}

/// A line of the activity feed.
#[derive(Serialize)]
struct Activity {
    engagement: i64,
    at: i64,
    who: String,
    what: String,
}

pub async fn home(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Query(q): Query<HomeQuery>,
) -> Result<Response, PageError> {
    home_page(&s, &who, q.page).await
}

async fn home_page(s: &AppState, who: &SignedIn, page_no: u32) -> Result<Response, PageError> {
    let actor = &who.actor;
    let t = now();
    let listing = s
        .store
        .engagements(
            actor,
            &ListFilter {
                agency: None,
                limit: PAGE,
                offset: page_no.saturating_mul(PAGE),
            },
        )
        .await?;
    let current = &s.model;
    let dash = s.store.dashboard(actor, current, t).await?;
    // Every list's agencies in one lookup.
    let ids: Vec<AgencyId> = listing
        .items
        .iter()
        .chain(dash.by_stage.iter().flat_map(|c| &c.newest))
        .chain(&dash.overdue)
        .map(|e| e.agency)
        .collect();
    let agencies = s.store.agencies_by_id(&ids).await?;
    let rows = rows_with(s, &listing.items, &agencies);
    // By stage: stages run side by side, so one engagement may be in
    // several columns.
    let mut board = Vec::new();
    for col in &dash.by_stage {
        board.push(BoardColumn {
            slug: col.stage.clone(),
            name: stage_name(Some(current), &col.stage).to_string(),
            timebox: current
                .stage(&col.stage)
                .and_then(|st| st.timebox)
                .map(|t| t.describe()),
            count: col.active,
            items: rows_with(s, &col.newest, &agencies),
        });
    }
    let overdue = rows_with(s, &dash.overdue, &agencies);
    let names = s
        .store
        .person_names(&dash.recent.iter().map(|e| e.actor).collect::<Vec<_>>())
        .await?;
    let recent = dash
        .recent
        .iter()
        .map(|e| Activity {
            engagement: e.engagement.0,
            at: e.at.0,
            who: names
                .get(&e.actor)
                .cloned()
                .unwrap_or_else(|| format!("person {}", e.actor)),
            what: describe(&e.event, Some(current)),
        })
        .collect();
    // Agency members start their own agency's engagements here; the
    // programme starts them from an agency's page.
    let own: Vec<AgencyId> = actor.agencies().collect();
    let startable = s
        .store
        .agencies_by_id(&own)
        .await?
        .values()
        .map(AgencyRow::from)
        .collect();
    let view = HomePage {
        title: "Your engagements",
        user: who.view(),
        engagements: rows,
        total: listing.total,
        page: page_no,
        pages: listing.total.div_ceil(u64::from(PAGE)),
        board,
        overdue,
        recent,
        startable,
    };
    view_page(s, StatusCode::OK, "home.html", &view)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StartForm {
    csrf: String,
    agency: String,
    mode: String,
}

pub async fn start(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Form(f): Form<StartForm>,
) -> Result<Response, PageError> {
    who.check(&f.csrf)?;
    let agency = f
        .agency
        .trim()
        .parse::<i64>()
        .map(AgencyId)
        .map_err(|_| PageError::NotFound)?;
    if s.store.agency(agency).await?.is_none() {
        return Err(PageError::NotFound);
    }
    let mode = if f.mode == "do_it_yourself" {
        Mode::DoItYourself
    } else {
        Mode::DoItWithYou
    };
    let t = now();
    let hash = s.store.pin_model(&s.pages, t).await?;
    let e = s
        .store
        .start_engagement(&who.actor, agency, mode, &hash, t)
        .await?;
    Ok(Redirect::to(&format!("/engagements/{}", e.id)).into_response())
}

pub async fn workspace(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    workspace_page(&s, &who, EngagementId(id), StatusCode::OK, None).await
}

/// A form error to show beside its field, and what was typed.
struct Problem {
    form: CommandForm,
    field: String,
    message: String,
}

async fn workspace_page(
    s: &AppState,
    who: &SignedIn,
    id: EngagementId,
    status: StatusCode,
    problem: Option<Problem>,
) -> Result<Response, PageError> {
    let e = s.store.engagement(&who.actor, id).await?;
    let model = s.store.model(&e.model_hash).await?;
    let agency = s.store.agency(e.agency).await?;
    let mut ids: Vec<PersonId> = e.assigned.iter().map(|a| a.person).collect();
    ids.extend(e.sponsor);
    ids.extend(e.decisions.iter().map(|d| d.decided_by));
    ids.extend(e.risks.iter().map(|r| r.raised_by));
    ids.extend(e.success.iter().map(|c| c.checked_by));
    ids.extend(e.signoffs.iter().map(|c| c.by));
    let names = s.store.person_names(&ids).await?;
    let name = |p: PersonId| {
        names
            .get(&p)
            .cloned()
            .unwrap_or_else(|| format!("person {p}"))
    };
    // Each control is offered when the core would accept the command it sends.
    let can = waymark_core::allowed_commands(&who.actor, &e);
    let may_assign = can.get("assign") == Some(&true);
    let members = s.store.members_of(e.agency).await?;
    // Who may be assigned: programme staff, and partners of each kind.
    let assignable = if may_assign {
        s.store
            .people_with_roles(&[
                Role::ProgrammeStaff,
                Role::Partner {
                    kind: PartnerKind::Strategy,
                },
                Role::Partner {
                    kind: PartnerKind::Technology,
                },
                Role::Partner {
                    kind: PartnerKind::ChangeManagement,
                },
            ])
            .await?
    } else {
        Vec::new()
    };
    let view = WorkspacePage {
        title: format!(
            "{} engagement {}",
            agency.as_ref().map_or("An agency", |a| a.name.as_str()),
            e.id
        ),
        user: who.view(),
        agency: agency.as_ref().map(AgencyRow::from),
        error: problem.as_ref().map(|p| FormProblem {
            form: &p.form.form,
            field: &p.field,
            message: &p.message,
            id: format!("{}-{}", p.form.form, p.field),
        }),
        typed: problem.as_ref().map(|p| &p.form),
        can,
        assignable: assignable.iter().map(PersonRow::from).collect(),
        members: members.iter().map(PersonRow::from).collect(),
        record: workspace_view(&e, &model, &s.model, &name),
    };
    view_page(s, status, "workspace.html", &view)
}

/// What `workspace.html` reads.
#[derive(Serialize)]
struct WorkspacePage<'a> {
    title: String,
    user: UserView,
    agency: Option<AgencyRow>,
    /// The refused form's error, beside its field.
    error: Option<FormProblem<'a>>,
    /// What the refused form held, shown again.
    typed: Option<&'a CommandForm>,
    /// Which commands the core would accept from this person.
    can: std::collections::BTreeMap<&'static str, bool>,
    assignable: Vec<PersonRow>,
    members: Vec<PersonRow>,
    #[serde(flatten)]
    record: WorkspaceView,
}

#[derive(Serialize)]
struct FormProblem<'a> {
    form: &'a str,
    field: &'a str,
    message: &'a str,
    id: String,
}

/// The engagement itself, as the workspace shows it.
#[derive(Serialize)]
struct WorkspaceView {
    engagement: EngagementHead,
    journey: Vec<JourneyStage>,
    stages: Vec<StageView>,
    risks: Vec<RiskView>,
    decisions: Vec<DecisionView>,
    open_risks: usize,
    benefits: Vec<BenefitView>,
    initiatives: Vec<InitiativeView>,
    assigned: Vec<AssignedView>,
    signoffs: Vec<SignOffView>,
}

#[derive(Serialize)]
struct EngagementHead {
    id: i64,
    version: u64,
    diy: bool,
    sponsor: Option<String>,
    discovery_weeks: Option<u32>,
    warnings: Vec<String>,
    workshops: usize,
    documents: usize,
}

/// A stage on the journey strip.
#[derive(Serialize)]
struct JourneyStage {
    slug: String,
    name: String,
    number: u32,
    status: &'static str,
    key: String,
    cycles: u32,
}

/// A stage with its steps, decisions, exits and success criteria.
#[derive(Serialize)]
struct StageView {
    slug: String,
    name: String,
    number: u32,
    status: &'static str,
    active: bool,
    cycles: u32,
    guide: Option<String>,
    steps: Vec<StepView>,
    decisions: Vec<DecisionPoint>,
    exits: Vec<ChoiceView>,
    success: Vec<CriterionView>,
    risks_if_ignored: Vec<String>,
}

#[derive(Serialize)]
struct StepView {
    number: u32,
    title: String,
    status: &'static str,
    status_text: &'static str,
    reason: Option<String>,
    /// The model's guidance, rendered by the site's markdown renderer.
    guidance: Option<Value>,
    href: Option<String>,
}

/// One option of a decision or an exit, with what choosing it does.
#[derive(Serialize)]
struct ChoiceView {
    index: usize,
    text: String,
    effect: String,
}

#[derive(Serialize)]
struct DecisionPoint {
    index: usize,
    question: String,
    options: Vec<ChoiceView>,
}

#[derive(Serialize)]
struct CriterionView {
    index: usize,
    text: String,
    evidence: Option<String>,
    by: Option<String>,
    at: Option<i64>,
}

#[derive(Serialize)]
struct RiskView {
    id: u32,
    text: String,
    open: bool,
    note: Option<String>,
    stage: Option<String>,
    source: String,
    by: String,
    at: i64,
}

#[derive(Serialize)]
struct DecisionView {
    stage: String,
    question: String,
    option: String,
    effect: String,
    rationale: String,
    funded_by: &'static str,
    note: Option<String>,
    by: String,
    at: i64,
    exit: bool,
}

#[derive(Serialize)]
struct BenefitView {
    text: String,
    measure: Option<String>,
}

#[derive(Serialize)]
struct InitiativeView {
    name: String,
    description: String,
}

#[derive(Serialize)]
struct AssignedView {
    id: i64,
    name: String,
    role: String,
}

#[derive(Serialize)]
struct SignOffView {
    document: String,
    title: String,
    sha256: String,
    by: String,
    at: i64,
    superseded: bool,
}

fn effect_text(effect: &Effect, model: &Model) -> String {
    match effect {
        Effect::EnterStage { stage } => format!("Starts {}", stage_name(Some(model), stage)),
        Effect::DoItYourself => {
            "Ends programme support: the agency carries on under Do it Yourself, and this record becomes read-only".into()
        }
        Effect::Exit => "Closes every active stage: the engagement leaves the programme".into(),
        Effect::Unspecified => "Records the choice; no stage starts".into(),
    }
}

/// The workspace's data: the engagement as its pinned model describes it,
/// with warnings by the current model's timeboxes, as lists show them.
fn workspace_view(
    e: &Engagement,
    model: &Model,
    current: &Model,
    name: &dyn Fn(PersonId) -> String,
) -> WorkspaceView {
    let hrefs = Hrefs::prefixed(model, "/guide/");
    let t = now();
    let status_of = |slug: &str| e.stage(slug).map_or(StageStatus::NotStarted, |r| r.status);
    let cycles_of = |slug: &str| e.stage(slug).map_or(0, |r| r.cycles);
    let journey = model
        .stages
        .iter()
        .map(|st| {
            let status = status_of(&st.slug);
            JourneyStage {
                slug: st.slug.clone(),
                name: st.name.clone(),
                number: st.number,
                status: status.label(),
                key: format!("{status:?}").to_lowercase(),
                cycles: cycles_of(&st.slug),
            }
        })
        .collect();
    let choices = |choices: &[waymark_model::Choice]| -> Vec<ChoiceView> {
        choices
            .iter()
            .enumerate()
            .map(|(index, c)| ChoiceView {
                index,
                text: c.text().to_string(),
                effect: effect_text(&c.effect, model),
            })
            .collect()
    };
    let stages = model
        .stages
        .iter()
        .map(|st| {
            let status = status_of(&st.slug);
            let anchors = step_anchors(model, st);
            let guide = st.page.map(|p| hrefs.page(p).to_string());
            let steps = st
                .steps
                .iter()
                .map(|step| {
                    let (key, text, reason) = match e.step(&st.slug, step.number) {
                        StepStatus::Todo => ("todo", "To do", None),
                        StepStatus::InProgress => ("in_progress", "In progress", None),
                        StepStatus::Done => ("done", "Done", None),
                        StepStatus::Skipped { reason } => ("skipped", "Skipped", Some(reason)),
                    };
                    let anchor = anchors
                        .iter()
                        .find(|(n, _)| *n == step.number)
                        .map(|(_, a)| a);
                    StepView {
                        number: step.number,
                        title: step.title.clone(),
                        status: key,
                        status_text: text,
                        reason,
                        guidance: step
                            .body
                            .as_deref()
                            .map(|b| Value::from_safe_string(guidance_html(b, model, &hrefs))),
                        href: guide.as_ref().map(|g| match anchor {
                            Some(a) => format!("{g}#{a}"),
                            None => g.clone(),
                        }),
                    }
                })
                .collect();
            let decisions = st
                .decisions
                .iter()
                .enumerate()
                .map(|(index, d)| DecisionPoint {
                    index,
                    question: d.question.clone(),
                    options: choices(&d.choices.options),
                })
                .collect();
            let success = st
                .success
                .iter()
                .enumerate()
                .map(|(index, c)| {
                    let check = e
                        .success
                        .iter()
                        .rev()
                        .find(|s| s.stage == st.slug && s.criterion == index);
                    CriterionView {
                        index,
                        text: c.text().to_string(),
                        evidence: check.map(|c| c.evidence.clone()),
                        by: check.map(|c| name(c.checked_by)),
                        at: check.map(|c| c.checked_at.0),
                    }
                })
                .collect();
            StageView {
                slug: st.slug.clone(),
                name: st.name.clone(),
                number: st.number,
                status: status.label(),
                active: status == StageStatus::Active,
                cycles: cycles_of(&st.slug),
                guide,
                steps,
                decisions,
                exits: choices(&st.exits),
                success,
                risks_if_ignored: st.risks.iter().map(|r| r.text().to_string()).collect(),
            }
        })
        .collect();
    let risks = e
        .risks
        .iter()
        .map(|r| RiskView {
            id: r.id,
            text: r.text.clone(),
            open: r.open,
            note: r.closing_note.clone(),
            stage: r
                .stage
                .as_deref()
                .map(|s| stage_name(Some(model), s).to_string()),
            source: match &r.source {
                RiskSource::Skipped { stage, step } => format!(
                    "Raised when step {step} of {} was skipped",
                    stage_name(Some(model), stage)
                ),
                RiskSource::Manual => "Added by hand".into(),
            },
            by: name(r.raised_by),
            at: r.raised_at.0,
        })
        .collect();
    let decisions = e
        .decisions
        .iter()
        .map(|d| DecisionView {
            stage: stage_name(Some(model), &d.stage).to_string(),
            question: d.question.clone(),
            option: d.option_text.clone(),
            effect: effect_text(&d.effect, model),
            rationale: d.rationale.clone(),
            funded_by: d.funded_by.label(),
            note: d.note.clone(),
            by: name(d.decided_by),
            at: d.decided_at.0,
            exit: matches!(d.at, DecisionAt::Exit),
        })
        .collect();
    WorkspaceView {
        engagement: EngagementHead {
            id: e.id.0,
            version: e.version,
            diy: e.mode == Mode::DoItYourself,
            sponsor: e.sponsor.map(name),
            discovery_weeks: e.discovery_weeks,
            warnings: e
                .warnings(current, t)
                .iter()
                .map(|w| w.describe(current))
                .collect(),
            workshops: e.workshops.iter().filter(|w| !w.cancelled).count(),
            documents: e.documents.len(),
        },
        journey,
        stages,
        risks,
        decisions,
        open_risks: e.risks.iter().filter(|r| r.open).count(),
        benefits: e
            .benefits
            .iter()
            .map(|b| BenefitView {
                text: b.text.clone(),
                measure: b.measure.clone(),
            })
            .collect(),
        initiatives: e
            .initiatives
            .iter()
            .map(|i| InitiativeView {
                name: i.name.clone(),
                description: i.description.clone(),
            })
            .collect(),
        assigned: e
            .assigned
            .iter()
            .map(|a| AssignedView {
                id: a.person.0,
                name: name(a.person),
                role: a
                    .partner
                    .map_or("Programme officer", PartnerKind::label)
                    .to_string(),
            })
            .collect(),
        signoffs: e
            .signoffs
            .iter()
            .map(|so| SignOffView {
                document: so.document.clone(),
                title: LetterKind::from_slug(&so.document)
                    .map_or(so.document.as_str(), |k| k.title())
                    .to_string(),
                sha256: so.sha256.clone(),
                by: name(so.by),
                at: so.at.0,
                superseded: so.superseded,
            })
            .collect(),
    }
}

pub async fn command(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<CommandForm>,
) -> Result<Response, PageError> {
    let id = EngagementId(id);
    who.check(&f.csrf)?;
    let parsed = f.version().and_then(|v| Ok((v, f.command()?)));
    let result = match parsed {
        Ok((version, cmd)) => s.store.execute(&who.actor, id, version, &cmd, now()).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => {
            // Back to where the form was; only characters ids use, so
            // nothing sent can bend the Location header.
            let anchor: String = if f.stage.is_empty() {
                f.form.clone()
            } else {
                format!("stage-{}", f.stage)
            }
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
            Ok(Redirect::to(&format!("/engagements/{id}#{anchor}")).into_response())
        }
        Err(waymark_store::StoreError::Domain(DomainError::Conflict { expected, actual })) => {
            let typed = f
                .typed()
                .into_iter()
                .map(|(label, text)| Typed { label, text })
                .collect();
            view_page(
                &s,
                StatusCode::CONFLICT,
                "conflict.html",
                &ConflictPage {
                    title: "Someone else changed this engagement",
                    user: who.view(),
                    id: id.0,
                    expected,
                    actual,
                    typed,
                },
            )
        }
        Err(waymark_store::StoreError::Domain(
            e @ (DomainError::Invalid { .. } | DomainError::Rule(_)),
        )) => {
            let (field, message) = match &e {
                DomainError::Invalid { field, message } => (field.to_string(), message.clone()),
                other => ("command".to_string(), other.to_string()),
            };
            let problem = Problem {
                form: f.clone(),
                field,
                message,
            };
            workspace_page(
                &s,
                &who,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(problem),
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn history(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let id = EngagementId(id);
    let e = s.store.engagement(&who.actor, id).await?;
    let model = s.store.model(&e.model_hash).await?;
    let events = s.store.history(&who.actor, id).await?;
    let names = s
        .store
        .person_names(&events.iter().map(|e| e.actor).collect::<Vec<_>>())
        .await?;
    let rows = events
        .iter()
        .rev()
        .map(|ev| HistoryRow {
            seq: ev.seq,
            at: ev.at.0,
            command: ev.command.clone(),
            who: names
                .get(&ev.actor)
                .cloned()
                .unwrap_or_else(|| format!("person {}", ev.actor)),
            what: describe(&ev.event, Some(&model)),
            hash: ev.hash.clone(),
        })
        .collect();
    let agency = s.store.agency(e.agency).await?;
    view_page(
        &s,
        StatusCode::OK,
        "history.html",
        &HistoryPage {
            title: format!("History of engagement {}", id.0),
            user: who.view(),
            id: id.0,
            agency: agency.map(|a| a.name),
            events: rows,
        },
    )
}

/// One event in plain words, for the history and the activity feed.
pub fn describe(e: &Event, model: Option<&Model>) -> String {
    let stage = |s: &str| stage_name(model, s).to_string();
    match e {
        Event::Started { mode, .. } => match mode {
            Mode::DoItWithYou => "Started the engagement (Do it With You)".into(),
            Mode::DoItYourself => "Started the engagement (Do it Yourself)".into(),
        },
        Event::StageEntered { stage: s, cycle } if *cycle > 1 => {
            format!("{} began again (cycle {cycle})", stage(s))
        }
        Event::StageEntered { stage: s, .. } => format!("{} began", stage(s)),
        Event::StageCompleted { stage: s } => format!("{} was completed", stage(s)),
        Event::StageExited { stage: s } => format!("{} was closed", stage(s)),
        Event::StepSet {
            stage: s,
            step,
            status,
            ..
        } => match status {
            StepStatus::Todo => format!("Step {step} of {} was set back to to do", stage(s)),
            StepStatus::InProgress => format!("Step {step} of {} is in progress", stage(s)),
            StepStatus::Done => format!("Step {step} of {} was done", stage(s)),
            StepStatus::Skipped { reason } => {
                format!("Step {step} of {} was skipped: {reason}", stage(s))
            }
        },
        Event::RiskRaised { id, text, .. } => format!("Risk {id} was raised: {text}"),
        Event::RiskClosed { id, note } => format!("Risk {id} was closed: {note}"),
        Event::Decided {
            question,
            option_text,
            rationale,
            ..
        } => format!("Decided “{question}”: {option_text} Because: {rationale}"),
        Event::ModeChanged { mode } => match mode {
            Mode::DoItYourself => "Programme support ended: Do it Yourself".into(),
            Mode::DoItWithYou => "The engagement returned to the programme".into(),
        },
        Event::SuccessChecked { text, evidence, .. } => {
            format!("Success criterion met: {text} Evidence: {evidence}")
        }
        Event::BenefitAdded { text, .. } => format!("Benefit added: {text}"),
        Event::InitiativeLinked { name, .. } => format!("Linked to the initiative {name}"),
        Event::SponsorSet { person } => format!("Executive sponsor set (person {person})"),
        Event::Assigned { person, .. } => format!("Person {person} was assigned"),
        Event::Unassigned { person } => format!("Person {person} was unassigned"),
        Event::DiscoveryPlanned { weeks } => format!("Discovery planned for {weeks} weeks"),
        Event::SignedOff { document, sha256 } => {
            let name = LetterKind::from_slug(document).map_or(document.as_str(), |k| k.title());
            format!("{name} was signed off (SHA-256 {})", short(sha256))
        }
        Event::WorkshopScheduled {
            plan, sequence: 0, ..
        } => format!(
            "Workshop “{}” was scheduled for {} {} ({})",
            plan.title, plan.date, plan.time, plan.timezone
        ),
        Event::WorkshopScheduled { plan, .. } => format!(
            "Workshop “{}” was changed: now {} {} ({})",
            plan.title, plan.date, plan.time, plan.timezone
        ),
        Event::WorkshopCancelled { id, .. } => format!("Workshop {id} was cancelled"),
        Event::WorkshopNotesRecorded { id, .. } => format!("Notes of workshop {id} were recorded"),
        Event::ArtefactSaved { artefact } => match artefact {
            Artefact::ExecutionPlan { .. } => "The execution plan was saved".into(),
            Artefact::Sprint { name, .. } => format!("Sprint “{name}” was saved"),
            Artefact::Feature {
                capability, status, ..
            } => {
                format!("Feature “{capability}” was saved ({})", status.label())
            }
            Artefact::Story { i_want, status, .. } => {
                format!("User story “{i_want}” was saved ({})", status.label())
            }
            Artefact::Guide { title, .. } => format!("User guide “{title}” was saved"),
        },
        Event::LetterIssued {
            kind,
            version,
            sha256,
        } => format!(
            "{} version {version} was issued (SHA-256 {})",
            kind.title(),
            short(sha256)
        ),
        Event::DocumentAttached {
            title, name, size, ..
        } => format!("Document “{title}” was attached ({name}, {size} bytes)"),
    }
}

fn short(sha256: &str) -> &str {
    &sha256[..12.min(sha256.len())]
}

/// What `conflict.html` reads: the versions that crossed, and what the
/// person typed, so nothing is lost.
#[derive(Serialize)]
struct ConflictPage<'a> {
    title: &'static str,
    user: UserView,
    id: i64,
    expected: u64,
    actual: u64,
    typed: Vec<Typed<'a>>,
}

/// A field of a form as the person typed it.
#[derive(Serialize)]
struct Typed<'a> {
    label: &'static str,
    text: &'a str,
}

/// What `history.html` reads.
#[derive(Serialize)]
struct HistoryPage {
    title: String,
    user: UserView,
    id: i64,
    agency: Option<String>,
    events: Vec<HistoryRow>,
}

/// An event of the audit trail.
#[derive(Serialize)]
struct HistoryRow {
    seq: i64,
    at: i64,
    command: String,
    who: String,
    what: String,
    hash: String,
}
