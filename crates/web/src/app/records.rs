//! An engagement's workshops (with iCalendar invitations), its letters
//! (versioned, typeset, signed), Deploy's delivery artefacts (with CSV and
//! markdown exports), uploaded documents, and the admins' view of the
//! outbox. Each form becomes one core command, judged like any other.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Multipart, Path, RawForm, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use serde::Deserialize;
use waymark_core::{
    Agency, Artefact, Attendee, Command, DomainError, Engagement, EngagementId, LetterKind,
    PersonId, WORKSHOP_HEADINGS, WorkStatus, Workshop, WorkshopNotes, WorkshopPlan,
};
use waymark_store::{StoreError, now};

use super::auth::SignedIn;
use super::{AppState, PageError, field_label, form_error as error, page};
use crate::actions::ActionError;
use crate::{ics, letter};

fn ser<T: serde::Serialize>(v: &T) -> Value {
    Value::from(minijinja::value::Serde(v))
}

/// A refused command as (field, message) for the form's error summary.
fn problem(e: &DomainError) -> (String, String) {
    match e {
        DomainError::Invalid { field, message } => (
            field.to_string(),
            format!("{}: {message}", field_label(field)),
        ),
        other => ("action".to_string(), other.to_string()),
    }
}

/// The engagement, its agency, and who it may name (for forms and letters).
struct Loaded {
    e: Engagement,
    agency: Agency,
    names: HashMap<PersonId, String>,
}

async fn load(s: &AppState, who: &SignedIn, id: EngagementId) -> Result<Loaded, PageError> {
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

fn outcome_to_page<T>(
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

// ---------------------------------------------------------------- workshops

const TIMEZONES: [&str; 9] = [
    "Australia/Canberra",
    "Australia/Sydney",
    "Australia/Melbourne",
    "Australia/Brisbane",
    "Australia/Adelaide",
    "Australia/Darwin",
    "Australia/Perth",
    "Australia/Hobart",
    "UTC",
];

#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct WorkshopForm {
    csrf: String,
    version: String,
    action: String,
    id: String,
    title: String,
    date: String,
    time: String,
    timezone: String,
    minutes: String,
    location: String,
    link: String,
    agenda: String,
    /// People in the system, by id (checkboxes).
    #[serde(default)]
    people: Vec<String>,
    /// Outside emails, one per line.
    emails: String,
    sponsorship: String,
    strategy: String,
    business_need: String,
    budget: String,
    governance: String,
}

async fn invitable(s: &AppState, e: &Engagement) -> Result<Vec<waymark_core::Person>, PageError> {
    let mut people = s.store.members_of(e.agency).await?;
    let mut more: Vec<PersonId> = e.assigned.iter().map(|a| a.person).collect();
    more.extend(e.sponsor);
    for id in more {
        if !people.iter().any(|p| p.id == id)
            && let Some(p) = s.store.person(id).await?
        {
            people.push(p);
        }
    }
    for p in s
        .store
        .people_with_roles(&[
            waymark_core::Role::ProgrammeStaff,
            waymark_core::Role::ProgrammeAdmin,
        ])
        .await?
    {
        if !people.iter().any(|q| q.id == p.id) {
            people.push(p);
        }
    }
    Ok(people)
}

impl WorkshopForm {
    fn plan(&self, people: &[waymark_core::Person]) -> Result<WorkshopPlan, DomainError> {
        let mut attendees = Vec::new();
        for raw in &self.people {
            let id: i64 = raw
                .parse()
                .map_err(|_| DomainError::invalid("attendees", "choose people from the list"))?;
            let p = people
                .iter()
                .find(|p| p.id.0 == id)
                .ok_or_else(|| DomainError::invalid("attendees", "choose people from the list"))?;
            attendees.push(Attendee {
                email: p.email.as_str().to_string().into(),
                name: Some(p.name.clone().into()),
                person: Some(p.id),
            });
        }
        for line in self.emails.split(['\n', ',', ';']) {
            let t = line.trim();
            if !t.is_empty() {
                attendees.push(Attendee {
                    email: t.to_string().into(),
                    name: None,
                    person: None,
                });
            }
        }
        fn opt<const N: usize>(v: &str) -> Option<waymark_core::Line<N>> {
            (!v.trim().is_empty()).then(|| v.into())
        }
        Ok(WorkshopPlan {
            title: self.title.clone().into(),
            date: self.date.clone().into(),
            time: self.time.clone().into(),
            timezone: self.timezone.clone().into(),
            minutes: self.minutes.trim().parse().map_err(|_| {
                DomainError::invalid("minutes", "give the length in whole minutes, such as 90")
            })?,
            location: opt(&self.location),
            link: opt(&self.link),
            agenda: self.agenda.clone().into(),
            attendees,
        })
    }

    fn workshop_id(&self) -> Result<u32, DomainError> {
        self.id.trim().parse().map_err(|_| {
            DomainError::invalid("id", "the form did not say which workshop; reload the page")
        })
    }
}

fn workshop_view(e: &Engagement, w: &Workshop) -> Value {
    let notes: Vec<Value> = WORKSHOP_HEADINGS
        .iter()
        .map(|(k, l)| context! { key => *k, label => *l, text => w.notes.get(k) })
        .collect();
    context! { id => w.id, plan => ser(&w.plan), sequence => w.sequence, cancelled => w.cancelled,
    notes => notes, ics => format!("/engagements/{}/workshops/{}.ics", e.id, w.id),
    people => w.plan.attendees.iter().filter_map(|a| a.person.map(|p| p.0.to_string())).collect::<Vec<_>>(),
    emails => w.plan.attendees.iter().filter(|a| a.person.is_none()).map(|a| a.email.as_str()).collect::<Vec<_>>().join("\n") }
}

async fn workshops_page(
    s: &AppState,
    who: &SignedIn,
    id: EngagementId,
    status: StatusCode,
    errors: Vec<Value>,
    form: Option<&WorkshopForm>,
) -> Result<Response, PageError> {
    let l = load(s, who, id).await?;
    let people: Vec<Value> = invitable(s, &l.e)
        .await?
        .iter()
        .map(|p| context! { id => p.id.0, name => p.name.clone(), email => p.email.as_str() })
        .collect();
    let workshops: Vec<Value> =
        l.e.workshops
            .iter()
            .map(|w| workshop_view(&l.e, w))
            .collect();
    let blank = WorkshopForm {
        title: if l.e.workshops.is_empty() {
            "Initial workshop".into()
        } else {
            String::new()
        },
        timezone: "Australia/Canberra".into(),
        minutes: "90".into(),
        ..WorkshopForm::default()
    };
    page(
        s,
        status,
        "workshops.html",
        context! { title => format!("Workshops: {}", l.agency.name), user => who.view(), id => id.0,
        agency => l.agency.name.clone(), version => l.e.version, workshops => workshops, people => people,
        timezones => TIMEZONES, errors => errors, form => ser(&form.cloned().unwrap_or(blank)),
        headings => WORKSHOP_HEADINGS.iter().map(|(k, l)| context! { key => *k, label => *l }).collect::<Vec<_>>() },
    )
}

pub async fn workshops(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> Response {
    workshops_page(&s, &who, EngagementId(id), StatusCode::OK, Vec::new(), None)
        .await
        .unwrap_or_else(|e| e.render(&s.views))
}

pub async fn workshop_command(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    RawForm(raw): RawForm,
) -> Response {
    let id = EngagementId(id);
    let run = async {
        // Checkboxes repeat a name (people=4&people=7): serde_html_form
        // gathers them, where plain urlencoded forms keep only one.
        let f: WorkshopForm = serde_html_form::from_bytes(&raw).map_err(|e| {
            PageError::Forbidden(format!(
                "The form could not be read ({e}); reload the page and try again."
            ))
        })?;
        who.check(&f.csrf)?;
        let l = load(&s, &who, id).await?;
        let people = invitable(&s, &l.e).await?;
        let cmd = (|| -> Result<Command, DomainError> {
            Ok(match f.action.as_str() {
                "schedule" => Command::ScheduleWorkshop {
                    id: None,
                    plan: f.plan(&people)?,
                },
                "change" => Command::ScheduleWorkshop {
                    id: Some(f.workshop_id()?),
                    plan: f.plan(&people)?,
                },
                "cancel" => Command::CancelWorkshop {
                    id: f.workshop_id()?,
                },
                "notes" => Command::RecordWorkshopNotes {
                    id: f.workshop_id()?,
                    notes: WorkshopNotes {
                        sponsorship: f.sponsorship.clone().into(),
                        strategy: f.strategy.clone().into(),
                        business_need: f.business_need.clone().into(),
                        budget: f.budget.clone().into(),
                        governance: f.governance.clone().into(),
                    },
                },
                _ => {
                    return Err(DomainError::invalid(
                        "action",
                        "reload the page and try again",
                    ));
                }
            })
        })();
        let version: Result<u64, DomainError> = f
            .version
            .trim()
            .parse()
            .map_err(|_| DomainError::invalid("version", "reload the page and try again"));
        let result = match (cmd, version) {
            (Ok(cmd), Ok(version)) => {
                outcome_to_page(s.actions().run(&who.actor, id, version, &cmd).await)?
            }
            (Err(e), _) | (_, Err(e)) => Err(problem(&e)),
        };
        match result {
            Ok(_) => Ok(Redirect::to(&format!("/engagements/{id}/workshops")).into_response()),
            Err((field, message)) => {
                let field = if field == "email" {
                    "emails".to_string()
                } else {
                    field
                };
                // An existing workshop's forms prefix their fields' ids.
                let field = match (f.action.as_str(), f.workshop_id()) {
                    ("change" | "notes", Ok(n)) if field != "action" => format!("w{n}-{field}"),
                    _ => field,
                };
                workshops_page(
                    &s,
                    &who,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    vec![error(&field, message)],
                    Some(&f),
                )
                .await
            }
        }
    };
    run.await.unwrap_or_else(|e| e.render(&s.views))
}

pub async fn workshop_ics(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path((id, file)): Path<(i64, String)>,
) -> Response {
    let run = async {
        let wid: u32 = file
            .strip_suffix(".ics")
            .and_then(|n| n.parse().ok())
            .ok_or(PageError::NotFound)?;
        let l = load(&s, &who, EngagementId(id)).await?;
        let w =
            l.e.workshops
                .iter()
                .find(|w| w.id == wid)
                .ok_or(PageError::NotFound)?;
        let text = ics::invitation(
            l.e.id,
            &l.agency.name,
            w,
            &s.actions().host(),
            &s.mail_from,
            chrono::Utc::now(),
        )
        .map_err(PageError::Internal)?;
        let mut r = text.into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/calendar; charset=utf-8"),
        );
        if let Ok(v) =
            HeaderValue::from_str(&format!("attachment; filename=\"workshop-{id}-{wid}.ics\""))
        {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        Ok(r)
    };
    run.await.unwrap_or_else(|e: PageError| e.render(&s.views))
}

// ------------------------------------------------------------------ letters

fn kind_of(slug: &str) -> Result<LetterKind, PageError> {
    LetterKind::from_slug(slug).ok_or(PageError::NotFound)
}

async fn template(s: &AppState, kind: LetterKind) -> Result<(String, i64), PageError> {
    Ok(s.actions().template(kind).await?)
}

async fn letter_page(
    s: &AppState,
    who: &SignedIn,
    id: EngagementId,
    kind: LetterKind,
    status: StatusCode,
    errors: Vec<Value>,
) -> Result<Response, PageError> {
    let l = load(s, who, id).await?;
    let model = s.store.model(&l.e.model_hash).await?;
    let versions = s.store.letters(&who.actor, id, kind).await?;
    let latest = versions.last();
    let sponsor = match l.e.sponsor {
        Some(p) => s.store.person(p).await?,
        None => None,
    };
    let next = latest.map_or(1, |v| v.version + 1);
    let ctx = letter::Context {
        engagement: &l.e,
        model: &model,
        agency: &l.agency,
        sponsor: sponsor.as_ref(),
        names: &l.names,
        today: now(),
    };
    let (body, template_version) = template(s, kind).await?;
    let current = letter::facts(kind, &ctx, next);
    let (blocked, changed) = match (&current, latest) {
        (Err(why), _) => (Some(why.clone()), false),
        (Ok(f), Some(v)) => {
            let now_json = serde_json::to_string(f).unwrap_or_default();
            (
                None,
                crate::actions::substance(&now_json) != crate::actions::substance(&v.facts)
                    || v.template_version != template_version,
            )
        }
        (Ok(_), None) => (None, true),
    };
    // What the next version would say, so the programme reads before issuing.
    let draft = match &current {
        Ok(f) if changed => letter::render(&body, f).ok().map(|m| letter::html(&m)),
        _ => None,
    };
    let signoffs: Vec<Value> =
        l.e.signoffs
            .iter()
            .filter(|x| x.document == kind.slug())
            .map(|x| {
                let v = versions
                    .iter()
                    .find(|v| v.sha256 == x.sha256)
                    .map(|v| v.version);
                context! { by => l.names.get(&x.by).cloned().unwrap_or_default(), at => x.at.0,
                sha256 => x.sha256.clone(), superseded => x.superseded, version => v }
            })
            .collect();
    let latest_signed = latest.is_some_and(|v| {
        l.e.signoffs
            .iter()
            .any(|x| !x.superseded && x.document == kind.slug() && x.sha256 == v.sha256)
    });
    let may_sign = who.actor.is_programme()
        || matches!(
            who.actor.access(&l.e),
            waymark_core::Access::Agency { sponsor: true }
        );
    let list: Vec<Value> = versions
        .iter()
        .rev()
        .map(|v| {
            context! { version => v.version, sha256 => v.sha256.clone(), at => v.created_at.0,
            by => l.names.get(&v.created_by).cloned().unwrap_or_else(|| format!("person {}", v.created_by)),
            pdf => format!("/engagements/{}/letters/{}/v{}.pdf", id, kind.slug(), v.version) }
        })
        .collect();
    page(
        s,
        status,
        "letter.html",
        context! { title => format!("{}: {}", kind.title(), l.agency.name), user => who.view(), id => id.0,
        kind => kind.slug(), kind_title => kind.title(), agency => l.agency.name.clone(), version => l.e.version,
        latest => latest.map(|v| context! { version => v.version, html => v.html.clone(), sha256 => v.sha256.clone(),
            pdf => format!("/engagements/{}/letters/{}/v{}.pdf", id, kind.slug(), v.version) }),
        versions => list, blocked => blocked, changed => changed, draft => draft, signoffs => signoffs,
        latest_signed => latest_signed, may_issue => who.actor.is_programme(), may_sign => may_sign,
        errors => errors },
    )
}

pub async fn letter(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path((id, kind)): Path<(i64, String)>,
) -> Response {
    let run = async {
        let kind = kind_of(&kind)?;
        letter_page(&s, &who, EngagementId(id), kind, StatusCode::OK, Vec::new()).await
    };
    run.await.unwrap_or_else(|e| e.render(&s.views))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LetterForm {
    csrf: String,
    version: String,
    action: String,
    sha256: String,
}

pub async fn letter_command(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path((id, kind)): Path<(i64, String)>,
    Form(f): Form<LetterForm>,
) -> Response {
    let id = EngagementId(id);
    let run = async {
        who.check(&f.csrf)?;
        let kind = kind_of(&kind)?;
        let version: u64 = f.version.trim().parse().map_err(|_| {
            PageError::Forbidden(
                "The form did not say which version it showed; reload the page.".into(),
            )
        })?;
        let result = match f.action.as_str() {
            "issue" => issue(&s, &who, id, kind, version).await?,
            "sign" => outcome_to_page(
                s.store
                    .execute(
                        &who.actor,
                        id,
                        version,
                        &Command::SignOff {
                            document: kind.slug().to_string().into(),
                            sha256: f.sha256.trim().to_string().into(),
                        },
                        now(),
                    )
                    .await,
            )?
            .map(|_| ()),
            _ => Err(("action".into(), "Reload the page and try again".into())),
        };
        match result {
            Ok(()) => Ok(
                Redirect::to(&format!("/engagements/{id}/letters/{}", kind.slug())).into_response(),
            ),
            Err((field, message)) => {
                letter_page(
                    &s,
                    &who,
                    id,
                    kind,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    vec![error(&field, message)],
                )
                .await
            }
        }
    };
    run.await.unwrap_or_else(|e| e.render(&s.views))
}

/// Issues the next version of a letter through the one path the API uses too.
async fn issue(
    s: &AppState,
    who: &SignedIn,
    id: EngagementId,
    kind: LetterKind,
    version: u64,
) -> Result<Result<(), (String, String)>, PageError> {
    match s
        .actions()
        .issue_letter(&who.actor, id, version, kind)
        .await
    {
        Ok(_) => Ok(Ok(())),
        Err(ActionError::Store(e)) => Ok(outcome_to_page::<()>(Err(e))?),
        Err(ActionError::Internal(e)) => Err(PageError::Internal(e)),
    }
}

pub async fn letter_pdf(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path((id, kind, file)): Path<(i64, String, String)>,
) -> Response {
    let run = async {
        let kind = kind_of(&kind)?;
        let v: u32 = file
            .strip_prefix('v')
            .and_then(|f| f.strip_suffix(".pdf"))
            .and_then(|n| n.parse().ok())
            .ok_or(PageError::NotFound)?;
        let (_, pdf) = s
            .store
            .letter_pdf(&who.actor, EngagementId(id), kind, v)
            .await?;
        Ok(download(
            pdf,
            "application/pdf",
            &format!("{}-{id}-v{v}.pdf", kind.slug()),
            true,
        ))
    };
    run.await.unwrap_or_else(|e: PageError| e.render(&s.views))
}

fn download(bytes: Vec<u8>, kind: &str, name: &str, inline: bool) -> Response {
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

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TemplateForm {
    csrf: String,
    body: String,
}

async fn template_page(
    s: &AppState,
    who: &SignedIn,
    kind: LetterKind,
    status: StatusCode,
    errors: Vec<Value>,
    typed: Option<&str>,
) -> Result<Response, PageError> {
    if !who.actor.is_programme() {
        return Err(PageError::NotFound);
    }
    let (body, version) = template(s, kind).await?;
    let shown = typed.unwrap_or(&body).to_string();
    let preview = letter::check(&shown)
        .map(|m| letter::html(&m))
        .unwrap_or_default();
    page(
        s,
        status,
        "letter-template.html",
        context! { title => format!("{} template", kind.title()), user => who.view(), kind => kind.slug(),
        kind_title => kind.title(), body => shown, version => version, preview => preview, errors => errors },
    )
}

pub async fn letter_template(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(kind): Path<String>,
) -> Response {
    let run = async {
        let kind = kind_of(&kind)?;
        template_page(&s, &who, kind, StatusCode::OK, Vec::new(), None).await
    };
    run.await.unwrap_or_else(|e| e.render(&s.views))
}

pub async fn save_letter_template(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(kind): Path<String>,
    Form(f): Form<TemplateForm>,
) -> Response {
    let run = async {
        who.check(&f.csrf)?;
        let kind = kind_of(&kind)?;
        if !who.actor.is_programme() {
            return Err(PageError::NotFound);
        }
        if let Err(why) = letter::check(&f.body) {
            return template_page(
                &s,
                &who,
                kind,
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![error("body", format!("Template: {why}"))],
                Some(&f.body),
            )
            .await;
        }
        s.store
            .save_letter_template(&who.actor, kind, &f.body, now())
            .await?;
        Ok(Redirect::to(&format!("/letter-templates/{}", kind.slug())).into_response())
    };
    run.await.unwrap_or_else(|e| e.render(&s.views))
}

// ----------------------------------------------------------------- delivery

#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ArtefactForm {
    csrf: String,
    version: String,
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

async fn delivery_page(
    s: &AppState,
    who: &SignedIn,
    id: EngagementId,
    status: StatusCode,
    errors: Vec<Value>,
    form: Option<&ArtefactForm>,
) -> Result<Response, PageError> {
    let l = load(s, who, id).await?;
    let d = &l.e.delivery;
    let statuses: Vec<Value> = WorkStatus::ALL
        .iter()
        .map(|s| context! { value => ser(s), label => s.label() })
        .collect();
    let sprint_name = |n: Option<u32>| {
        n.and_then(|n| d.sprints.iter().find(|s| s.id == n))
            .map(|s| s.name.clone())
    };
    let features: Vec<Value> = d
        .features
        .iter()
        .map(|f| context! { id => f.id, capability => f.capability.clone(), status => f.status.label(), sprint => sprint_name(f.sprint) })
        .collect();
    let stories: Vec<Value> = d
        .stories
        .iter()
        .map(|x| context! { id => x.id, as_a => x.as_a.clone(), i_want => x.i_want.clone(), so_that => x.so_that.clone(), acceptance => x.acceptance.clone(), status => x.status.label() })
        .collect();
    let documents: Vec<Value> = l
        .e
        .documents
        .iter()
        .map(|x| context! { file => x.file, title => x.title.clone(), name => x.name.clone(), size => x.size,
            kind => x.content_type.clone(), at => x.at.0, sha256 => x.sha256.clone(),
            by => l.names.get(&x.by).cloned().unwrap_or_default() })
        .collect();
    page(
        s,
        status,
        "delivery.html",
        context! { title => format!("Delivery: {}", l.agency.name), user => who.view(), id => id.0,
        agency => l.agency.name.clone(), version => l.e.version,
        plan => d.execution_plan.as_deref().map(letter::html), plan_text => d.execution_plan.clone(),
        sprints => ser(&d.sprints), features => features, stories => stories, guides => ser(&d.guides),
        documents => documents, statuses => statuses, errors => errors, form => ser(&form.cloned().unwrap_or_default()),
        accept => waymark_store::accepted_extensions().iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(","),
        max_mb => waymark_store::MAX_FILE_BYTES / (1024 * 1024) },
    )
}

pub async fn delivery(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> Response {
    delivery_page(&s, &who, EngagementId(id), StatusCode::OK, Vec::new(), None)
        .await
        .unwrap_or_else(|e| e.render(&s.views))
}

pub async fn save_artefact(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<ArtefactForm>,
) -> Response {
    let id = EngagementId(id);
    let run = async {
        who.check(&f.csrf)?;
        let version: Result<u64, DomainError> = f
            .version
            .trim()
            .parse()
            .map_err(|_| DomainError::invalid("version", "reload the page and try again"));
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
    };
    run.await.unwrap_or_else(|e| e.render(&s.views))
}

pub async fn guide(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path((id, gid)): Path<(i64, u32)>,
) -> Response {
    let run = async {
        let l = load(&s, &who, EngagementId(id)).await?;
        let g =
            l.e.delivery
                .guides
                .iter()
                .find(|g| g.id == gid)
                .ok_or(PageError::NotFound)?;
        page(
            &s,
            StatusCode::OK,
            "guide.html",
            context! { title => g.title.clone(), user => who.view(), id => id, agency => l.agency.name.clone(),
            html => letter::html(&g.markdown) },
        )
    };
    run.await.unwrap_or_else(|e| e.render(&s.views))
}

pub async fn delivery_export(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path((id, file)): Path<(i64, String)>,
) -> Response {
    let run = async {
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
        let bytes = bytes.map_err(PageError::Internal)?;
        Ok(download(
            bytes,
            kind,
            &format!("engagement-{id}-{file}"),
            false,
        ))
    };
    run.await.unwrap_or_else(|e: PageError| e.render(&s.views))
}

// ---------------------------------------------------------------- documents

/// What the upload form sends.
struct Upload {
    csrf: String,
    version: String,
    title: String,
    /// (file name, bytes)
    file: Option<(String, Vec<u8>)>,
}

/// Reads the upload form; a body cut short (too large, or broken) is a
/// message for the person.
async fn read_upload(form: &mut Multipart) -> Result<Upload, String> {
    let broken = |e: axum::extract::multipart::MultipartError| {
        format!(
            "File: the upload did not arrive whole ({}); the limit is {} MB",
            e.body_text(),
            waymark_store::MAX_FILE_BYTES / (1024 * 1024)
        )
    };
    let mut u = Upload {
        csrf: String::new(),
        version: String::new(),
        title: String::new(),
        file: None,
    };
    while let Some(field) = form.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let data = field.bytes().await.map_err(broken)?;
        let text = || String::from_utf8_lossy(&data).into_owned();
        match name.as_str() {
            "csrf" => u.csrf = text(),
            "version" => u.version = text(),
            "title" => u.title = text(),
            "file" => u.file = Some((filename.unwrap_or_default(), data.to_vec())),
            _ => {}
        }
    }
    Ok(u)
}

pub async fn upload(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    mut form: Multipart,
) -> Response {
    let id = EngagementId(id);
    let run = async {
        let upload = match read_upload(&mut form).await {
            Ok(u) => u,
            Err(message) => {
                return delivery_page(
                    &s,
                    &who,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    vec![error("document-file", message)],
                    None,
                )
                .await;
            }
        };
        let Upload {
            csrf,
            version,
            title,
            file,
        } = upload;
        who.check(&csrf)?;
        let refuse = async |field: &str, message: String| {
            delivery_page(
                &s,
                &who,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![error(field, message)],
                None,
            )
            .await
        };
        let Some((raw_name, bytes)) = file.filter(|(n, _)| !n.is_empty()) else {
            return refuse("document-file", "File: choose a file to upload".into()).await;
        };
        let Ok(version) = version.trim().parse::<u64>() else {
            return refuse("document-file", "Reload the page and try again".into()).await;
        };
        let done = s
            .actions()
            .upload(&who.actor, id, version, &title, &raw_name, bytes)
            .await;
        if let Err(StoreError::Domain(DomainError::Invalid {
            field: "file",
            message,
        })) = &done
        {
            return refuse("document-file", format!("File: {message}")).await;
        }
        match outcome_to_page(done)? {
            Ok(_) => {
                Ok(Redirect::to(&format!("/engagements/{id}/delivery#documents")).into_response())
            }
            Err((field, message)) => {
                let field = if field == "action" {
                    "document-file".to_string()
                } else {
                    format!("document-{field}")
                };
                refuse(&field, message).await
            }
        }
    };
    run.await.unwrap_or_else(|e| e.render(&s.views))
}

pub async fn file(State(s): State<Arc<AppState>>, who: SignedIn, Path(id): Path<i64>) -> Response {
    let run = async {
        let (row, bytes) = s.store.file(&who.actor, id).await?;
        // Only PDFs and images open in the browser; everything else downloads.
        let inline =
            row.content_type == "application/pdf" || row.content_type.starts_with("image/");
        Ok(download(bytes, &row.content_type, &row.name, inline))
    };
    run.await.unwrap_or_else(|e: PageError| e.render(&s.views))
}

// ------------------------------------------------------------------- outbox

pub async fn outbox(State(s): State<Arc<AppState>>, who: SignedIn) -> Response {
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
    run.await.unwrap_or_else(|e| e.render(&s.views))
}
