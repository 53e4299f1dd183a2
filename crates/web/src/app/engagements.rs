//! Home (what waits for me, what needs attention), starting an engagement,
//! an engagement's pages, its commands, its history, and daily digests.
//!
//! An engagement shows against the model version it pinned: an overview
//! (what's next, the journey, people), one page per stage (steps with the
//! model's guidance, decisions shown as decided or as forms whose options
//! come from the model, success criteria), and pages for risks, benefits,
//! decisions and people. Every form posts one command to the engagement's
//! address and comes back to the page it lives on; the core judges it,
//! exactly as for the API.

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
use super::{AgencyRow, AppState, FieldError, PageError, PersonRow, view_page};
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
    /// What waits for this person, engagement by engagement: the first
    /// [`HOME_WAITING`].
    waiting: Vec<Waiting>,
    /// How many more engagements have something waiting.
    waiting_more: usize,
    /// Open enquiries, for those who triage them.
    triage: Vec<TriageRow>,
    /// Knowledge articles whose review date has come, for the programme.
    reviews: Vec<ReviewRow>,
    /// Agencies whose self-assessment waits for this sponsor.
    assess: Vec<super::AgencyRow>,
    /// Messages from the mailbox the programme must look at (unreadable,
    /// too large).
    mail: i64,
}

/// An article whose review date has come.
#[derive(Serialize)]
struct ReviewRow {
    id: i64,
    title: String,
    review_by: String,
    owner: String,
}

/// One engagement's items in "Waiting for you" (or, on a person's page,
/// what waits on them).
#[derive(Serialize)]
pub(super) struct Waiting {
    id: i64,
    agency: String,
    /// Whether another engagement of theirs is the same agency's, so the
    /// heading names the engagement too.
    same_agency: bool,
    items: Vec<NextView>,
    overdue: Vec<String>,
}

/// An enquiry waiting to be triaged.
#[derive(Serialize)]
struct TriageRow {
    id: i64,
    agency: String,
    subject: String,
    at: i64,
}

/// How many engagements "Waiting for you" looks through: a person takes
/// part in few; the lists below the box have the rest.
const WAITING_ENGAGEMENTS: u32 = 50;

/// How many engagements' waiting things the home page lists: on a phone,
/// fifty took screens of scrolling before anything else.
const HOME_WAITING: usize = 10;

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
    /// The engagement's agency, as the feed names it.
    agency: String,
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
                before: None,
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
        .person_names(&people_in(dash.recent.iter().map(|e| (e.actor, &e.event))))
        .await?;
    let name = |p: PersonId| person_name(&names, p);
    let of = s
        .store
        .engagement_agencies(&dash.recent.iter().map(|e| e.engagement).collect::<Vec<_>>())
        .await?;
    let recent = dash
        .recent
        .iter()
        .map(|e| Activity {
            engagement: e.engagement.0,
            agency: of
                .get(&e.engagement)
                .map_or_else(|| "An agency".to_string(), |a| a.name.clone()),
            at: e.at.0,
            who: name(e.actor),
            what: describe(&e.event, Some(current), &name),
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
    let (mut waiting, triage) = waiting_for(s, who, &agencies, t).await?;
    // The first few engagements (the store lists the latest first); the
    // table below says which others need attention.
    let waiting_more = waiting.len().saturating_sub(HOME_WAITING);
    waiting.truncate(HOME_WAITING);
    let reviews = if waymark_core::knowledge::may_write(actor).is_ok() {
        s.store
            .articles_due(&waymark_core::today(t))
            .await?
            .into_iter()
            .map(|a| ReviewRow {
                id: a.id,
                title: a.article.title,
                review_by: a.article.review_by,
                owner: a.owner_name,
            })
            .collect()
    } else {
        Vec::new()
    };
    let mine: Vec<waymark_core::Agency> = {
        let mut out = Vec::new();
        for id in actor.agencies() {
            out.extend(s.store.agency(id).await?);
        }
        out
    };
    let assess = waymark_core::assessment::waiting(actor, &mine, s.model.questionnaire().is_some())
        .into_iter()
        .filter_map(|id| mine.iter().find(|a| a.id == id))
        .map(super::AgencyRow::from)
        .collect();
    let mail = s.store.mail_waiting(actor).await?;
    let view = HomePage {
        assess,
        mail,
        title: "Your engagements",
        waiting,
        waiting_more,
        triage,
        reviews,
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

/// "Waiting for you": the core's items for each engagement this person
/// takes part in, and open enquiries for those who triage them.
async fn waiting_for(
    s: &AppState,
    who: &SignedIn,
    known: &std::collections::HashMap<AgencyId, waymark_core::Agency>,
    t: waymark_core::Timestamp,
) -> Result<(Vec<Waiting>, Vec<TriageRow>), PageError> {
    let waiting = waiting(&s.store, &s.model, &who.actor, "you", known, t).await?;
    let triage = if waymark_core::enquiry::may_see(&who.actor) {
        s.store
            .enquiries(
                &who.actor,
                Some(waymark_core::enquiry::EnquiryStatus::Open),
                10,
            )
            .await?
            .into_iter()
            .map(|q| TriageRow {
                id: q.id,
                agency: q.agency_name,
                subject: q.subject,
                at: q.received_at.0,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok((waiting, triage))
}

/// What waits for `actor`, engagement by engagement: the home page's list,
/// the daily digest's, and a person's page (what to hand on when they
/// leave). Their own items are labelled `me` ("you", or their name);
/// `known` are agencies already looked up.
pub(super) async fn waiting(
    store: &waymark_store::Store,
    current: &Model,
    actor: &waymark_core::Actor,
    me_label: &str,
    known: &std::collections::HashMap<AgencyId, waymark_core::Agency>,
    t: waymark_core::Timestamp,
) -> Result<Vec<Waiting>, waymark_store::StoreError> {
    let mine = store.involving(actor, WAITING_ENGAGEMENTS).await?;
    let missing: Vec<AgencyId> = mine
        .iter()
        .map(|e| e.agency)
        .filter(|a| !known.contains_key(a))
        .collect();
    let more = store.agencies_by_id(&missing).await?;
    let today = waymark_core::today(t);
    // What waits for someone is theirs, or on their engagement.
    let me = actor.person;
    let yours = move |p: PersonId| {
        if p == me {
            me_label.to_string()
        } else {
            "someone else".to_string()
        }
    };
    let mut waiting = Vec::new();
    for e in &mine {
        let model = store.model(&e.model_hash).await?;
        let (items, overdue) = waymark_core::waiting_for(actor, e, &model, current, t);
        if items.is_empty() && overdue.is_empty() {
            continue;
        }
        waiting.push(Waiting {
            id: e.id.0,
            agency: known
                .get(&e.agency)
                .or_else(|| more.get(&e.agency))
                .map_or_else(|| "An agency".to_string(), |a| a.name.clone()),
            same_agency: mine.iter().filter(|o| o.agency == e.agency).count() > 1,
            items: next_links(e, &model, &items, &yours, &today),
            overdue: overdue.iter().map(|w| w.describe(current)).collect(),
        });
    }
    Ok(waiting)
}

/// When digests are written: from this hour of the reader's morning.
const DIGEST_HOUR: u32 = 8;

/// Writes today's digest for every reader who asked for one, whose morning
/// has come, and for whom something waits; each at most once a day, even
/// with several servers (the store records the day in the same
/// transaction as the mail). Returns how many were written.
pub async fn write_digests(
    store: &waymark_store::Store,
    current: &Model,
    base: &str,
    t: waymark_core::Timestamp,
) -> Result<usize, waymark_store::StoreError> {
    use chrono::Timelike;
    let mut written = 0;
    for (person, settings) in store.digest_readers().await? {
        let zone: chrono_tz::Tz = settings
            .time_zone
            .parse()
            .unwrap_or(super::views::DEFAULT_ZONE);
        let Some(local) = chrono::DateTime::from_timestamp(t.0, 0).map(|d| d.with_timezone(&zone))
        else {
            continue;
        };
        if local.hour() < DIGEST_HOUR {
            continue;
        }
        let actor = store.actor(person.id).await?;
        let mut lines: Vec<String> = waiting(store, current, &actor, "you", &Default::default(), t)
            .await?
            .iter()
            .flat_map(|w| {
                w.items
                    .iter()
                    .map(move |n| {
                        let mut line = format!("{}: {} ({}{})", w.agency, n.text, base, n.href);
                        if n.kind == "Overdue" {
                            line = format!("Overdue: {line}");
                        }
                        line
                    })
                    .chain(w.overdue.iter().map(move |o| format!("{}: {o}", w.agency)))
            })
            .collect();
        // The articles this person owns whose review date has come.
        if waymark_core::knowledge::may_write(&actor).is_ok() {
            for a in store.articles_due(&waymark_core::today(t)).await? {
                if a.owner == person.id {
                    lines.push(format!(
                        "Review the article “{}” (review by {}): {base}/articles/{}",
                        a.article.title, a.article.review_by, a.id
                    ));
                }
            }
        }
        // What happened on what they watch in the community since their
        // last digest (or the day before).
        let since = store
            .last_digest(person.id)
            .await?
            .unwrap_or(waymark_core::Timestamp(t.0 - 24 * 60 * 60));
        for l in store.community_digest(person.id, since, t).await? {
            let times = if l.count > 1 {
                format!(" ({} times)", l.count)
            } else {
                String::new()
            };
            lines.push(format!(
                "Community: {}{times}: {base}/community/q/{}",
                l.kind.headline(&l.title),
                l.topic
            ));
        }
        // Who mentioned them in an engagement's discussion.
        for l in store.mentions_since(person.id, since, t).await? {
            lines.push(format!(
                "{}: {} mentioned you: {base}/engagements/{}/discussion?about={}#comment-{}",
                l.agency, l.actor_name, l.engagement, l.anchor, l.comment
            ));
        }
        // Their own posts the programme hid (others are told by mail).
        for h in store.hidden_since(person.id, since, t).await? {
            let reason = waymark_core::one_line(&h.reason);
            lines.push(match h.title {
                Some(title) => format!(
                    "Community: the programme hid your post on “{title}” (the reason given: {reason}): {base}/community/q/{}",
                    h.question
                ),
                None => format!(
                    "Community: the programme hid your answer to a question that is hidden too (the reason given: {reason})"
                ),
            });
        }
        if lines.is_empty() {
            continue;
        }
        let day = local.format("%Y-%m-%d").to_string();
        let mail = crate::mail::digest(person.email.as_str(), &person.name, &day, &lines, base);
        if store.write_digest(person.id, &day, &mail, t).await? {
            written += 1;
        }
    }
    Ok(written)
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

/// The pages of one engagement: its overview, one page per stage, and its
/// registers. Every workspace form posts to the engagement's address and
/// comes back to the page it lives on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Section {
    Overview,
    Stage,
    Risks,
    Benefits,
    Decisions,
    People,
    Discussion,
}

impl Section {
    fn key(self) -> &'static str {
        match self {
            Section::Overview => "overview",
            Section::Stage => "stage",
            Section::Risks => "risks",
            Section::Benefits => "benefits",
            Section::Decisions => "decisions",
            Section::People => "people",
            Section::Discussion => "discussion",
        }
    }

    fn template(self) -> &'static str {
        match self {
            Section::Overview => "engagement.html",
            Section::Stage => "stage.html",
            Section::Risks => "risks.html",
            Section::Benefits => "benefits.html",
            Section::Decisions => "decisions.html",
            Section::People => "engagement-people.html",
            Section::Discussion => "discussion.html",
        }
    }

    /// The page a command's form lives on.
    fn of(command: &str) -> Section {
        match command {
            "start_stage" | "complete_stage" | "set_step" | "skip_step" | "decide"
            | "check_success" | "set_owner" => Section::Stage,
            "add_risk" | "close_risk" => Section::Risks,
            "add_benefit" | "change_benefit" | "record_reading" | "adopt_benefits"
            | "link_initiative" => Section::Benefits,
            "set_sponsor" | "assign" | "unassign" | "plan_discovery" => Section::People,
            "comment" | "edit_comment" | "hide_comment" => Section::Discussion,
            _ => Section::Overview,
        }
    }

    fn path(self, id: EngagementId, stage: &str) -> String {
        match self {
            Section::Overview => format!("/engagements/{id}"),
            Section::Stage => format!("/engagements/{id}/stages/{stage}"),
            // `stage` is the thread's anchor key here.
            Section::Discussion if !stage.is_empty() => {
                format!("/engagements/{id}/discussion?about={stage}")
            }
            other => format!("/engagements/{id}/{}", other.key()),
        }
    }
}

/// What the banner says after a change was saved, by the command's name.
fn saved_message(command: &str) -> Option<&'static str> {
    Some(match command {
        "start_stage" => "The stage has started.",
        "complete_stage" => "The stage is marked complete.",
        "set_step" => "The step's status is saved.",
        "skip_step" => "The step is skipped, and the stage's risks are on the risk register.",
        "decide" => "The decision is recorded.",
        "check_success" => "The success criterion is marked as met.",
        "add_risk" => "The risk is on the register.",
        "close_risk" => "The risk is closed.",
        "add_benefit" => "The benefit is on the register.",
        "change_benefit" => "The benefit is changed; the earlier plan stays in the record.",
        "record_reading" => "The reading is recorded, and the benefit's status follows it.",
        "adopt_benefits" => {
            "The model's benefits are on the register. Give each a baseline and a target to measure it."
        }
        "link_initiative" => "The initiative is linked.",
        "set_sponsor" => "The executive sponsor is set.",
        "assign" => "The person is assigned.",
        "unassign" => "The person is no longer assigned.",
        "plan_discovery" => "The plan for Discovery is saved.",
        "return_to_programme" => "The engagement is back in the programme.",
        "set_owner" => "The owner and due date are saved.",
        "comment" => "Your comment is posted. Anyone it mentions is told.",
        "edit_comment" => "Your comment is changed; the earlier words stay in its history.",
        "hide_comment" => "The comment is hidden; its author can still read it.",
        _ => return None,
    })
}

/// `?saved=<command>` after a change: which banner to show.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SavedQuery {
    saved: String,
}

pub async fn workspace(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Query(q): Query<SavedQuery>,
) -> Result<Response, PageError> {
    let at = Place::new(EngagementId(id), Section::Overview, "");
    section_page(&s, &who, at, StatusCode::OK, None, &q.saved).await
}

pub async fn stage(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path((id, stage)): Path<(i64, String)>,
    Query(q): Query<SavedQuery>,
) -> Result<Response, PageError> {
    let at = Place::new(EngagementId(id), Section::Stage, &stage);
    section_page(&s, &who, at, StatusCode::OK, None, &q.saved).await
}

macro_rules! register_page {
    ($name:ident, $section:expr) => {
        pub async fn $name(
            State(s): State<Arc<AppState>>,
            who: SignedIn,
            Path(id): Path<i64>,
            Query(q): Query<SavedQuery>,
        ) -> Result<Response, PageError> {
            let at = Place::new(EngagementId(id), $section, "");
            section_page(&s, &who, at, StatusCode::OK, None, &q.saved).await
        }
    };
}
register_page!(risks, Section::Risks);
register_page!(benefits, Section::Benefits);
register_page!(decisions, Section::Decisions);
register_page!(people, Section::People);

/// `?about=<anchor key>&saved=<command>`: which thread, and the banner.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DiscussionQuery {
    about: String,
    saved: String,
}

/// The engagement's discussion: every thread, or the one `about` names.
pub async fn discussion(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Query(q): Query<DiscussionQuery>,
) -> Result<Response, PageError> {
    let at = Place::new(EngagementId(id), Section::Discussion, &q.about);
    section_page(&s, &who, at, StatusCode::OK, None, &q.saved).await
}

/// Which page of which engagement.
struct Place {
    id: EngagementId,
    section: Section,
    stage: String,
}

impl Place {
    fn new(id: EngagementId, section: Section, stage: &str) -> Self {
        Place {
            id,
            section,
            stage: stage.to_string(),
        }
    }
}

/// A form error to show beside its field, and what was typed.
struct Problem {
    form: CommandForm,
    /// Every problem with it: (field, message in people's words).
    fields: Vec<(String, String)>,
}

impl Problem {
    fn new(form: &CommandForm, errors: Vec<DomainError>) -> Problem {
        let fields = errors
            .into_iter()
            .map(|e| match e {
                DomainError::Invalid { field, message } => {
                    (field.to_string(), say(&form.command, field, &message))
                }
                other => ("command".to_string(), other.to_string()),
            })
            .collect();
        Problem {
            form: form.clone(),
            fields,
        }
    }
}

/// A field's problem as people read it: what to do, not what failed.
fn say(command: &str, field: &str, message: &str) -> String {
    if message == "is required" {
        return match (command, field) {
            ("decide", "rationale") => "Say why this option was chosen".into(),
            ("check_success", "evidence") => "Give the evidence that this is met".into(),
            ("add_risk", "text") => "Describe the risk".into(),
            ("close_risk", "note") => "Say how the risk was dealt with".into(),
            ("add_benefit" | "change_benefit", "text") => "Describe the benefit".into(),
            ("record_reading", "date") => "Give the date of the reading".into(),
            ("link_initiative", "name") => "Give the initiative's name".into(),
            ("comment" | "edit_comment", "body") => "Write your comment".into(),
            ("hide_comment", "reason") => "Say why the comment is hidden".into(),
            (_, field) => format!("Enter the {}", field.replace('_', " ")),
        };
    }
    super::capitalised(message)
}

async fn section_page(
    s: &AppState,
    who: &SignedIn,
    at: Place,
    status: StatusCode,
    problem: Option<Problem>,
    saved: &str,
) -> Result<Response, PageError> {
    let e = s.store.engagement(&who.actor, at.id).await?;
    let model = s.store.model(&e.model_hash).await?;
    if at.section == Section::Stage && model.stage(&at.stage).is_none() {
        return Err(PageError::NotFound);
    }
    let agency = s.store.agency(e.agency).await?;
    let mut ids: Vec<PersonId> = e.assigned.iter().map(|a| a.person).collect();
    ids.extend(e.sponsor);
    ids.extend(e.decisions.iter().map(|d| d.decided_by));
    ids.extend(e.risks.iter().map(|r| r.raised_by));
    ids.extend(e.success.iter().map(|c| c.checked_by));
    ids.extend(e.signoffs.iter().map(|c| c.by));
    ids.extend(e.owners.iter().filter_map(|o| o.owner));
    ids.extend(super::benefits::people(&e));
    let names = s.store.person_names(&ids).await?;
    let name = |p: PersonId| person_name(&names, p);
    // Each control is offered when the core would accept the command it sends.
    let can = waymark_core::allowed_commands(&who.actor, &e);
    let on_people = at.section == Section::People;
    let members = if on_people && can.get("set_sponsor") == Some(&true) {
        s.store.members_of(e.agency).await?
    } else {
        Vec::new()
    };
    // Who may be assigned: programme staff, and partners of each kind.
    let assignable = if on_people && can.get("assign") == Some(&true) {
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
    // Who may own steps and risks: the agency's people and those assigned.
    let owners = if matches!(
        at.section,
        Section::Stage | Section::Risks | Section::Benefits
    ) && can.get("set_owner") == Some(&true)
    {
        let mut rows: Vec<PersonRow> = s
            .store
            .members_of(e.agency)
            .await?
            .iter()
            .map(PersonRow::from)
            .collect();
        for a in &e.assigned {
            if !rows.iter().any(|r| r.id == a.person.0) {
                rows.push(PersonRow {
                    id: a.person.0,
                    name: name(a.person),
                });
            }
        }
        rows
    } else {
        Vec::new()
    };
    let blueprint = match (&e.blueprint, at.section) {
        (Some(recorded), Section::Overview) => {
            let newest = s
                .store
                .releases()
                .await?
                .into_iter()
                .next()
                .map(|r| r.version);
            Some((recorded.clone(), newest.filter(|n| n != recorded)))
        }
        _ => None,
    };
    let enquiries = match at.section {
        Section::Overview => s.store.enquiries_of(&who.actor, e.id).await?,
        _ => Vec::new(),
    };
    let agency_name = agency.as_ref().map_or("An agency", |a| a.name.as_str());
    let heading = format!("{agency_name} — Protected Utility");
    let record = workspace_view(&e, &model, &s.model, &name);
    let discussion = match at.section {
        Section::Discussion => {
            Some(super::discussion::view(s, &who.actor, &e, &model, &at.stage).await?)
        }
        _ => None,
    };
    let title = match at.section {
        Section::Overview => heading.clone(),
        Section::Stage => format!("{}: {heading}", stage_name(Some(&model), &at.stage)),
        other => format!("{}: {heading}", super::field_label(other.key())),
    };
    let view = WorkspacePage {
        title,
        heading,
        section: at.section.key(),
        current: at.stage.clone(),
        saved: if problem.is_none() {
            saved_message(saved)
        } else {
            None
        },
        user: who.view(),
        agency: agency.as_ref().map(AgencyRow::from),
        error: problem.as_ref().and_then(|p| {
            p.fields.first().map(|(field, message)| FormProblem {
                form: &p.form.form,
                field,
                message,
                id: format!("{}-{}", p.form.form, field),
            })
        }),
        errors: problem
            .as_ref()
            .map(|p| {
                p.fields
                    .iter()
                    .map(|(field, message)| FieldError {
                        id: format!("{}-{}", p.form.form, field),
                        message: message.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        typed: problem.as_ref().map(|p| &p.form),
        next: next_views(&e, &model, now(), &name),
        can,
        assignable: assignable.iter().map(PersonRow::from).collect(),
        members: members.iter().map(PersonRow::from).collect(),
        owners,
        blueprint,
        enquiries,
        talk: super::discussion::counts(&e),
        discussion,
        record,
    };
    view_page(s, status, at.section.template(), &view)
}

/// What the engagement pages read.
#[derive(Serialize)]
struct WorkspacePage<'a> {
    title: String,
    /// "Agency — Protected Utility".
    heading: String,
    /// Which page: overview, stage, risks, benefits, decisions, people.
    section: &'static str,
    /// The stage a stage page shows.
    current: String,
    /// The banner after a change was saved.
    saved: Option<&'static str>,
    user: UserView,
    agency: Option<AgencyRow>,
    /// The refused form's first error (which form it was, to open it).
    error: Option<FormProblem<'a>>,
    /// Every problem with the refused form, for the summary and each field.
    errors: Vec<FieldError>,
    /// What the refused form held, shown again.
    typed: Option<&'a CommandForm>,
    /// What's next, for the overview.
    next: Vec<NextView>,
    /// Which commands the core would accept from this person.
    can: std::collections::BTreeMap<&'static str, bool>,
    assignable: Vec<PersonRow>,
    members: Vec<PersonRow>,
    /// Who may own a step or a risk: the agency's people and those assigned.
    owners: Vec<PersonRow>,
    /// The blueprint this engagement deploys, and a newer release if any:
    /// (recorded, newer).
    blueprint: Option<(String, Option<String>)>,
    /// The enquiries it came from, for the programme (their conversations).
    enquiries: Vec<(i64, String)>,
    /// How many comments stand beside each step, decision and risk (by
    /// anchor key).
    talk: std::collections::BTreeMap<String, usize>,
    /// The discussion page's threads and comments.
    discussion: Option<super::discussion::DiscussionView>,
    #[serde(flatten)]
    record: WorkspaceView,
}

/// One line of "What's next" or "Waiting for you".
#[derive(Serialize, Default)]
pub struct NextView {
    /// What kind of thing: "Sign", "Decide", "Step", "Risk", "Workshop",
    /// or "Overdue" for a step or risk past its due date.
    kind: &'static str,
    text: String,
    href: String,
    /// When it happens (workshops).
    at: Option<i64>,
    /// Who owns it, and by when (`YYYY-MM-DD`).
    owner: Option<String>,
    due: Option<String>,
}

/// The core's next things on `e`, as links.
fn next_views(
    e: &Engagement,
    model: &Model,
    t: waymark_core::Timestamp,
    name: &dyn Fn(PersonId) -> String,
) -> Vec<NextView> {
    // The overview names the first few open steps of each active stage;
    // the stage's page has the rest.
    let mut shown: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let items: Vec<_> = waymark_core::next_up(e, model, t)
        .into_iter()
        .filter(|n| match n {
            waymark_core::Next::Step { stage, .. } => {
                let c = shown.entry(stage).or_default();
                *c += 1;
                *c <= STEPS_ON_OVERVIEW
            }
            _ => true,
        })
        .collect();
    next_links(e, model, &items, name, &waymark_core::today(t))
}

/// How many open steps of each active stage the overview names.
const STEPS_ON_OVERVIEW: usize = 3;

/// Links for the core's next things on `e`; `name` names owners, and an
/// item due before `today` says it is overdue.
pub fn next_links(
    e: &Engagement,
    model: &Model,
    items: &[waymark_core::Next],
    name: &dyn Fn(PersonId) -> String,
    today: &str,
) -> Vec<NextView> {
    use waymark_core::Next;
    items
        .iter()
        .map(|n| {
            let mut v = next_link(e.id, model, n);
            if let Next::Step { owner, due, .. } | Next::Risk { owner, due, .. } = n {
                v.owner = owner.map(name);
                v.due = due.map(str::to_string);
                if n.overdue(today) {
                    v.kind = "Overdue";
                }
            }
            v
        })
        .collect()
}

/// One next thing as a link.
fn next_link(id: EngagementId, model: &Model, n: &waymark_core::Next) -> NextView {
    use waymark_core::Next;
    match n {
        Next::Sign(l) => NextView {
            kind: "Sign",
            text: format!(
                "Read and sign the {} (version {})",
                l.kind.title(),
                l.version
            ),
            href: format!("/engagements/{id}/letters/{}", l.kind.slug()),
            ..NextView::default()
        },
        Next::Decide {
            stage,
            at,
            question,
        } => {
            let (anchor, text) = match at {
                DecisionAt::Point { index } => (
                    format!("decide-{stage}-{index}-title"),
                    question.to_string(),
                ),
                DecisionAt::Exit => (
                    format!("exit-{stage}-title"),
                    format!("Where does the engagement go after {question}?"),
                ),
            };
            NextView {
                kind: "Decide",
                text,
                href: format!("/engagements/{id}/stages/{stage}#{anchor}"),
                ..NextView::default()
            }
        }
        Next::Step {
            stage,
            number,
            title,
            started,
            ..
        } => NextView {
            kind: if *started { "In progress" } else { "Step" },
            text: format!("{}, step {number}: {title}", stage_name(Some(model), stage)),
            href: format!("/engagements/{id}/stages/{stage}#step-{stage}-{number}"),
            ..NextView::default()
        },
        Next::Risk { id: risk, text, .. } => NextView {
            kind: "Risk",
            text: format!("Risk {risk}: {text}"),
            href: format!("/engagements/{id}/risks#risk-{risk}"),
            ..NextView::default()
        },
        Next::Workshop { workshop, start } => NextView {
            kind: "Workshop",
            text: workshop.plan.title.to_string(),
            href: format!("/engagements/{id}/workshops#workshop-{}", workshop.id),
            at: Some(*start),
            ..NextView::default()
        },
    }
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
    /// How many benefits have each status ("2 on track").
    benefit_summary: Vec<(usize, &'static str)>,
    benefits: Vec<super::benefits::BenefitView>,
    /// Stages whose model benefits are not all on the register.
    adoptable: Vec<super::benefits::AdoptView>,
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
    sponsor_id: Option<i64>,
    discovery_weeks: Option<u32>,
    warnings: Vec<String>,
    workshops: usize,
    documents: usize,
    /// Facts from an earlier model version with no place in this one.
    archived: Vec<String>,
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
    /// Steps of the current cycle: done, skipped, all.
    done: usize,
    skipped: usize,
    steps: usize,
    /// Whole weeks since the stage began (while it runs).
    weeks: Option<i64>,
    /// The model's timebox, in words ("4 to 8 weeks").
    timebox: Option<String>,
}

/// A stage with its steps, decisions, exits and success criteria.
#[derive(Serialize)]
struct StageView {
    slug: String,
    name: String,
    number: u32,
    status: &'static str,
    active: bool,
    /// Whether the stage has ever begun (a stage not started shows no forms).
    started: bool,
    cycles: u32,
    guide: Option<String>,
    /// The stage's page in the guide, as the guide summarises it.
    summary: Option<String>,
    steps: Vec<StepView>,
    /// The agency type the steps are tailored for, and where it comes from.
    tailored: Option<&'static str>,
    assessment: String,
    /// Whether any step of the stage is tailored to some type.
    tailorable: bool,
    decisions: Vec<DecisionPoint>,
    exits: Vec<ChoiceView>,
    /// Whether the next steps need their own form (no decision point
    /// already leads the same ways).
    exit_form: bool,
    /// The standing decision on the next steps.
    exit_decided: Option<DecisionView>,
    success: Vec<CriterionView>,
    risks_if_ignored: Vec<String>,
}

#[derive(Serialize)]
struct StepView {
    number: u32,
    title: String,
    #[serde(flatten)]
    owned: OwnedView,
    status: &'static str,
    status_text: &'static str,
    reason: Option<String>,
    /// How much the step matters to the agency's type: `essential`,
    /// `optional` or `not_applicable`, and why it does not apply.
    relevance: &'static str,
    not_applicable: Option<String>,
    /// The model's guidance, rendered by the site's markdown renderer.
    guidance: Option<Value>,
    href: Option<String>,
    /// The community's questions about this step.
    questions: String,
}

/// Who owns a step or a risk, and by when.
#[derive(Serialize)]
struct OwnedView {
    owner: Option<String>,
    owner_id: Option<i64>,
    due: Option<String>,
    /// The due date has passed (in the programme's calendar).
    overdue: bool,
}

impl OwnedView {
    fn of(
        e: &Engagement,
        item: &waymark_core::Item,
        name: &dyn Fn(PersonId) -> String,
        today: &str,
    ) -> Self {
        let owned = e.ownership(item);
        let due = owned.and_then(|o| o.due.clone());
        OwnedView {
            owner: owned.and_then(|o| o.owner).map(name),
            owner_id: owned.and_then(|o| o.owner).map(|p| p.0),
            overdue: due
                .as_deref()
                .is_some_and(|d| waymark_core::past_due(d, today)),
            due,
        }
    }
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
    /// The standing decision, shown as decided with a way to change it.
    decided: Option<DecisionView>,
}

#[derive(Serialize)]
struct CriterionView {
    index: usize,
    text: String,
    evidence: Option<String>,
    /// Where the evidence is, when a recorded fact met the criterion.
    href: Option<String>,
    /// The fact that meets this criterion by itself, in words.
    auto: Option<String>,
    by: Option<String>,
    at: Option<i64>,
}

#[derive(Serialize)]
struct RiskView {
    id: u32,
    text: String,
    #[serde(flatten)]
    owned: OwnedView,
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
    slug: String,
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

/// What meets a criterion by itself, as "Met when …" finishes it.
fn fact_text(fact: &waymark_model::Fact, st: &waymark_model::Stage) -> String {
    match fact {
        waymark_model::Fact::Signed { letter } => format!(
            "the {} is signed",
            LetterKind::from_slug(letter).map_or(letter.as_str(), |k| k.title())
        ),
        waymark_model::Fact::Decided { point: Some(i) } => format!(
            "“{}” is decided",
            st.decisions
                .get(*i)
                .map_or("the decision", |d| d.question.as_str())
        ),
        waymark_model::Fact::Decided { point: None } => {
            format!("where to go after {} is decided", st.name)
        }
    }
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
    let today = waymark_core::today(t);
    let status_of = |slug: &str| e.stage(slug).map_or(StageStatus::NotStarted, |r| r.status);
    let cycles_of = |slug: &str| e.stage(slug).map_or(0, |r| r.cycles);
    let journey = model
        .stages
        .iter()
        .map(|st| {
            let status = status_of(&st.slug);
            // Steps that do not apply to the agency's type are not counted.
            let steps: Vec<StepStatus> = st
                .steps
                .iter()
                .filter(|step| {
                    !matches!(
                        e.relevance(step),
                        waymark_model::Relevance::NotApplicable { .. }
                    )
                })
                .map(|step| e.step(&st.slug, step.number))
                .collect();
            JourneyStage {
                slug: st.slug.clone(),
                name: st.name.clone(),
                number: st.number,
                status: status.label(),
                key: format!("{status:?}").to_lowercase(),
                cycles: cycles_of(&st.slug),
                done: steps.iter().filter(|s| **s == StepStatus::Done).count(),
                skipped: steps
                    .iter()
                    .filter(|s| matches!(s, StepStatus::Skipped { .. }))
                    .count(),
                steps: steps.len(),
                weeks: e
                    .stage(&st.slug)
                    .filter(|r| r.status == StageStatus::Active)
                    .and_then(|r| r.started_at)
                    .map(|start| (t.0 - start.0).max(0) / (7 * 24 * 3600)),
                timebox: st.timebox.map(|t| t.describe()),
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
    let decision_view = |d: &waymark_core::Decision| DecisionView {
        stage: stage_name(Some(model), &d.stage).to_string(),
        slug: d.stage.clone(),
        question: d.question.clone(),
        option: d.option_text.clone(),
        effect: effect_text(&d.effect, model),
        rationale: d.rationale.clone(),
        funded_by: d.funded_by.label(),
        note: d.note.clone(),
        by: name(d.decided_by),
        at: d.decided_at.0,
        exit: matches!(d.at, DecisionAt::Exit),
    };
    let stages = model
        .stages
        .iter()
        .map(|st| {
            let status = status_of(&st.slug);
            let anchors = step_anchors(model, st);
            let guide = st.page.map(|p| hrefs.page(p).to_string());
            let mut steps: Vec<StepView> = st
                .steps
                .iter()
                .map(|step| {
                    let relevance = e.relevance(step);
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
                    let item = waymark_core::Item::Step {
                        stage: st.slug.clone(),
                        step: step.number,
                    };
                    StepView {
                        number: step.number,
                        title: step.title.clone(),
                        owned: OwnedView::of(e, &item, name, &today),
                        status: key,
                        status_text: text,
                        reason,
                        relevance: relevance.key(),
                        not_applicable: match relevance {
                            waymark_model::Relevance::NotApplicable { reason } => Some(reason),
                            _ => None,
                        },
                        guidance: step
                            .body
                            .as_deref()
                            .map(|b| Value::from_safe_string(guidance_html(b, model, &hrefs))),
                        href: guide.as_ref().map(|g| match anchor {
                            Some(a) => format!("{g}#{a}"),
                            None => g.clone(),
                        }),
                        questions: super::community::questions_href(
                            &waymark_core::community::StepTag {
                                stage: st.slug.clone(),
                                step: Some(step.number),
                            },
                        ),
                    }
                })
                .collect();
            // Tailored: essential steps first, then optional ones, then
            // those that do not apply (the page folds them away).
            steps.sort_by_key(|s| match s.relevance {
                "essential" => 0,
                "optional" => 1,
                _ => 2,
            });
            let decisions = st
                .decisions
                .iter()
                .enumerate()
                .map(|(index, d)| DecisionPoint {
                    index,
                    question: d.question.clone(),
                    options: choices(&d.choices.options),
                    decided: e
                        .standing_decision(&st.slug, DecisionAt::Point { index })
                        .map(&decision_view),
                })
                .collect();
            let success = st
                .success
                .iter()
                .enumerate()
                .map(|(index, c)| {
                    // A criterion a recorded fact meets shows that fact;
                    // the rest are ticked by hand, with evidence.
                    if let Some(m) = st.met_by.iter().find(|m| m.criterion == index) {
                        let ev = e.evidence(&st.slug, &m.fact);
                        return CriterionView {
                            index,
                            text: c.text().to_string(),
                            auto: Some(fact_text(&m.fact, st)),
                            href: ev.as_ref().map(|v| match v.letter {
                                Some(k) => format!("/engagements/{}/letters/{}", e.id, k.slug()),
                                None => format!("/engagements/{}/decisions", e.id),
                            }),
                            by: ev.as_ref().map(|v| name(v.by)),
                            at: ev.as_ref().map(|v| v.at.0),
                            evidence: ev.map(|v| v.text),
                        };
                    }
                    let check = e
                        .success
                        .iter()
                        .rev()
                        .find(|s| s.stage == st.slug && s.criterion == index);
                    CriterionView {
                        index,
                        text: c.text().to_string(),
                        auto: None,
                        evidence: check.map(|c| c.evidence.clone()),
                        href: None,
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
                started: status != StageStatus::NotStarted,
                cycles: cycles_of(&st.slug),
                // The guide as it reads for the agency's type, where it differs.
                guide: match (
                    e.agency_type,
                    st.steps.iter().any(|s| !s.tailoring.is_empty()),
                ) {
                    (Some(k), true) => guide.map(|g| waymark_site::type_href(&g, k)),
                    _ => guide,
                },
                summary: st.summary.clone(),
                steps,
                tailored: e.agency_type.map(waymark_core::AgencyType::label),
                assessment: format!("/agencies/{}/assessment", e.agency.0),
                tailorable: st.steps.iter().any(|s| !s.tailoring.is_empty()),
                decisions,
                exits: choices(&st.exits),
                exit_form: st.exit_point().is_none(),
                exit_decided: e
                    .standing_decision(&st.slug, DecisionAt::Exit)
                    .map(&decision_view),
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
            owned: OwnedView::of(e, &waymark_core::Item::Risk { id: r.id }, name, &today),
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
    let decisions = e.decisions.iter().rev().map(&decision_view).collect();
    let benefits = super::benefits::views(e, model, &today, name);
    WorkspaceView {
        engagement: EngagementHead {
            id: e.id.0,
            version: e.version,
            diy: e.mode == Mode::DoItYourself,
            sponsor: e.sponsor.map(name),
            sponsor_id: e.sponsor.map(|p| p.0),
            discovery_weeks: e.discovery_weeks,
            warnings: e
                .warnings(current, t)
                .iter()
                .map(|w| w.describe(current))
                .collect(),
            workshops: e.workshops.iter().filter(|w| !w.cancelled).count(),
            documents: e.documents.len(),
            archived: e.archived.iter().map(|a| a.text.clone()).collect(),
        },
        journey,
        stages,
        risks,
        decisions,
        open_risks: e.risks.iter().filter(|r| r.open).count(),
        benefit_summary: super::benefits::summary(&benefits),
        benefits,
        adoptable: super::benefits::adoptable(e, model),
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
    let (version, cmd) = match (f.version(), f.command_all()) {
        (Ok(v), Ok(cmd)) => (v, cmd),
        (v, cmd) => {
            let mut errors: Vec<DomainError> = v.err().into_iter().collect();
            errors.extend(cmd.err().unwrap_or_default());
            return refused(&s, &who, id, Problem::new(&f, errors)).await;
        }
    };
    // The one path the API takes too (it mails a new owner).
    let result = s.actions().run(&who.actor, id, version, &cmd).await;
    match result {
        Ok(e) => {
            // Back to the page and the place the form was, with the banner;
            // only characters ids, slugs and anchor keys use, so nothing
            // sent can bend the Location header.
            let kept = |t: &str, also: &[char]| -> String {
                t.chars()
                    .filter(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '-' | '_') || also.contains(c)
                    })
                    .collect()
            };
            let clean = |t: &str| kept(t, &[]);
            let section = place_of(&f);
            // An edited or hidden comment's thread is where the record
            // keeps it, whatever the form said; an anchor key
            // (`step:discovery:2`) keeps its colons.
            let thread = match &cmd {
                waymark_core::Command::EditComment { id, .. }
                | waymark_core::Command::HideComment { id, .. } => e
                    .comments
                    .iter()
                    .find(|c| c.id == *id)
                    .map(|c| c.anchor.key()),
                _ => None,
            };
            let key = thread.unwrap_or_else(|| place_key(&f).to_string());
            let page = section.path(id, &kept(&key, &[':']));
            let joiner = if page.contains('?') { '&' } else { '?' };
            let saved = clean(&f.command);
            // A decision comes back to its heading: its form now sits in a
            // closed "Change" disclosure, which the browser would open to
            // show a fragment inside it. A new comment comes back to itself.
            let anchor = match f.command.as_str() {
                "decide" => format!("{}-title", clean(&f.form)),
                "comment" => e
                    .comments
                    .last()
                    .map_or_else(|| clean(&f.form), |c| format!("comment-{}", c.id)),
                "edit_comment" | "hide_comment" => format!("comment-{}", clean(&f.id)),
                _ => clean(&f.form),
            };
            Ok(Redirect::to(&format!("{page}{joiner}saved={saved}#{anchor}")).into_response())
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
        )) => refused(&s, &who, id, Problem::new(&f, vec![e])).await,
        Err(other) => Err(other.into()),
    }
}

/// The page the refused form lives on, with every problem beside its field.
async fn refused(
    s: &AppState,
    who: &SignedIn,
    id: EngagementId,
    problem: Problem,
) -> Result<Response, PageError> {
    let section = place_of(&problem.form);
    // A comment about nothing this engagement has comes back to the list
    // of discussions, whose choice of what it is about shows the error.
    let lost = problem.fields.iter().any(|(f, _)| f == "about")
        || waymark_core::discussion::Anchor::parse_key(&problem.form.about).is_none();
    let stage = if section == Section::Discussion && lost {
        String::new()
    } else {
        place_key(&problem.form).to_string()
    };
    section_page(
        s,
        who,
        Place::new(id, section, &stage),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(problem),
        "",
    )
    .await
}

/// What the form's page is about: the stage of a stage page, the thread
/// (anchor key) of a discussion.
fn place_key(f: &CommandForm) -> &str {
    match place_of(f) {
        Section::Discussion => &f.about,
        _ => &f.stage,
    }
}

/// The page a sent form lives on: a stage's command goes back to that
/// stage's page when it names one.
fn place_of(f: &CommandForm) -> Section {
    if f.command == "set_owner" && f.item == "risk" {
        return Section::Risks;
    }
    match Section::of(&f.command) {
        Section::Stage if f.stage.is_empty() => Section::Overview,
        other => other,
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
        .person_names(&people_in(events.iter().map(|e| (e.actor, &e.event))))
        .await?;
    let name = |p: PersonId| person_name(&names, p);
    let rows = events
        .iter()
        .rev()
        .map(|ev| HistoryRow {
            seq: ev.seq,
            at: ev.at.0,
            command: ev.command.clone(),
            who: name(ev.actor),
            what: describe(&ev.event, Some(&model), &name),
            hash: ev.hash.clone(),
        })
        .collect();
    let agency = s.store.agency(e.agency).await?;
    view_page(
        &s,
        StatusCode::OK,
        "history.html",
        &HistoryPage {
            title: format!(
                "History: {} — Protected Utility",
                agency.as_ref().map_or("An agency", |a| a.name.as_str())
            ),
            user: who.view(),
            id: id.0,
            agency: agency.map(|a| a.name),
            events: rows,
        },
    )
}

/// Everyone a run of events names: who acted, and whom they named.
fn people_in<'a>(events: impl Iterator<Item = (PersonId, &'a Event)>) -> Vec<PersonId> {
    let mut out = Vec::new();
    for (actor, e) in events {
        out.push(actor);
        match e {
            Event::SponsorSet { person }
            | Event::Assigned { person, .. }
            | Event::Unassigned { person }
            | Event::OwnerSet {
                owner: Some(person),
                ..
            } => out.push(*person),
            _ => {}
        }
    }
    out
}

/// A person's name, or plain words when they are no longer on record.
pub(super) fn person_name(
    names: &std::collections::HashMap<PersonId, String>,
    p: PersonId,
) -> String {
    names
        .get(&p)
        .cloned()
        .unwrap_or_else(|| "someone no longer on record".to_string())
}

/// One event in plain words, for the history and the activity feed.
pub fn describe(e: &Event, model: Option<&Model>, name: &dyn Fn(PersonId) -> String) -> String {
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
        Event::BlueprintRecorded { version } => {
            format!("Deploys blueprint version {version}, the newest release then")
        }
        Event::Tailored {
            agency_type: Some(t),
            because,
        } => format!(
            "The journey was tailored for a {} agency, from {because}",
            t.label()
        ),
        Event::Tailored {
            agency_type: None, ..
        } => "The journey is no longer tailored: every step is essential".into(),
        // The words are on the discussion's page, for those who may read
        // them; the history says only that something was said.
        Event::Commented { id, mentions, .. } => match mentions.len() {
            0 => format!("Comment {id} in the discussion"),
            n => format!("Comment {id} in the discussion, mentioning {n} person(s)"),
        },
        Event::CommentEdited { id, .. } => format!("Comment {id} was edited"),
        Event::CommentHidden { id, .. } => format!("Comment {id} was hidden by the programme"),
        Event::Migrated { to, archived, .. } => {
            let version = to.get(..12).unwrap_or(to);
            match archived.len() {
                0 => format!("Moved to model version {version}; everything recorded has its place"),
                n => format!(
                    "Moved to model version {version}; {n} fact(s) with no place in it are kept as from the previous model"
                ),
            }
        }
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
        Event::BenefitAdded {
            text,
            source: Some(from),
            ..
        } => format!(
            "Benefit added from the model's {}: {text}",
            stage_name(model, &from.stage)
        ),
        Event::BenefitAdded { text, .. } => format!("Benefit added: {text}"),
        Event::BenefitChanged { id, text, plan, .. } => {
            let goal = match (&plan.baseline, &plan.target) {
                (Some(b), Some(t)) => format!(
                    " From {} on {} to {} by {}.",
                    b.value.with_unit(plan.unit.as_deref()),
                    b.date,
                    t.value.with_unit(plan.unit.as_deref()),
                    t.date
                ),
                _ => String::new(),
            };
            format!("Benefit {id} changed: {text}{goal}")
        }
        Event::BenefitReadingRecorded {
            id, value, date, ..
        } => format!("Benefit {id}: a reading of {value} on {date}"),
        Event::LessonProposed { id, target } => {
            format!("Lesson {id} was proposed for {}", target.label())
        }
        Event::LessonAnswered { id, answer } => match answer {
            waymark_core::lesson::Answer::Accepted { article } => {
                format!("Lesson {id} was accepted: article draft {article}")
            }
            waymark_core::lesson::Answer::Posted { question } => {
                format!("Lesson {id} was accepted: community question {question}")
            }
            waymark_core::lesson::Answer::Declined { reason } => {
                format!("Lesson {id} was declined: {reason}")
            }
        },
        Event::LessonRecorded {
            kind,
            text,
            stage,
            step,
            ..
        } => format!(
            "Lesson ({}) about {}: {text}",
            kind.label().to_lowercase(),
            match model {
                Some(m) => waymark_core::lesson::about(m, stage, *step),
                None => stage.clone(),
            }
        ),
        Event::InitiativeLinked { name, .. } => format!("Linked to the initiative {name}"),
        Event::SponsorSet { person } => format!("{} became the executive sponsor", name(*person)),
        Event::Assigned { person, partner } => format!(
            "{} was assigned as {}",
            name(*person),
            partner
                .map_or("programme officer", PartnerKind::label)
                .to_lowercase()
        ),
        Event::Unassigned { person } => format!("{} was unassigned", name(*person)),
        Event::DiscoveryPlanned { weeks } => format!("Discovery planned for {weeks} weeks"),
        Event::OwnerSet { item, owner, due } => {
            let what = match item {
                waymark_core::Item::Step { stage: s, step } => {
                    format!("Step {step} of {}", stage(s))
                }
                waymark_core::Item::Risk { id } => format!("Risk {id}"),
            };
            match (owner, due) {
                (Some(p), Some(d)) => format!("{what} is owned by {}, due {d}", name(*p)),
                (Some(p), None) => format!("{what} is owned by {}", name(*p)),
                (None, Some(d)) => format!("{what} is due {d}, with no owner"),
                (None, None) => format!("{what} has no owner or due date now"),
            }
        }
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
        Event::WorkshopAnswered { id, email, answer } => format!(
            "{email} answered the invitation to workshop {id}: {}",
            answer.label()
        ),
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
