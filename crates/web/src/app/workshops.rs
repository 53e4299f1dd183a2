//! An engagement's workshops: scheduling, invitations (iCalendar, sent as
//! mail) and the initial workshop's notes.

use std::sync::Arc;

use axum::extract::{Path, RawForm, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use waymark_core::lesson::LessonKind;
use waymark_core::{
    Attendee, Command, DomainError, Engagement, EngagementId, PersonId, WORKSHOP_HEADINGS,
    Workshop, WorkshopNotes, WorkshopPlan,
};
use waymark_model::Model;

use super::auth::{SignedIn, UserView};
use super::forms::Version;
use super::records::{load, outcome_to_page, problem};
use super::{AppState, FieldError, PageError, form_error as error, view_page};
use crate::ics;

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

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct WorkshopForm {
    csrf: String,
    version: Version,
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
    /// "on" when the workshop is a retrospective.
    retro: String,
    /// A lesson: went_well, to_improve or try_next; what it is about
    /// (`stage` or `stage:step`); its words.
    kind: String,
    about: String,
    text: String,
    /// A lesson's number, what it is proposed for (blueprint, guidance),
    /// and why the programme declines it.
    lesson: String,
    target: String,
    reason: String,
    /// The community category an accepted lesson is posted in (empty: an
    /// article draft).
    category: String,
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
            retro: !self.retro.trim().is_empty(),
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

    /// The lesson this form records.
    fn lesson(&self) -> Result<Command, DomainError> {
        let kind = LessonKind::from_slug(self.kind.trim()).ok_or_else(|| {
            DomainError::invalid(
                "kind",
                "choose whether it went well, is to improve or is to try next",
            )
        })?;
        let (stage, step) = match self.about.trim().split_once(':') {
            Some((stage, step)) => (
                stage,
                Some(step.parse().map_err(|_| {
                    DomainError::invalid("about", "choose a stage or step from the list")
                })?),
            ),
            None => (self.about.trim(), None),
        };
        if stage.is_empty() {
            return Err(DomainError::invalid(
                "about",
                "choose the stage or step of the model it is about",
            ));
        }
        Ok(Command::RecordLesson {
            workshop: self.workshop_id()?,
            kind,
            text: self.text.clone().into(),
            stage: stage.into(),
            step,
        })
    }

    fn lesson_id(&self) -> Result<u32, DomainError> {
        self.lesson.trim().parse().map_err(|_| {
            DomainError::invalid(
                "lesson",
                "the form did not say which lesson; reload the page",
            )
        })
    }

    fn workshop_id(&self) -> Result<u32, DomainError> {
        self.id.trim().parse().map_err(|_| {
            DomainError::invalid("id", "the form did not say which workshop; reload the page")
        })
    }
}

/// What `workshops.html` reads.
#[derive(Serialize)]
struct WorkshopsPage<'a> {
    title: String,
    user: UserView,
    id: i64,
    agency: String,
    version: u64,
    workshops: Vec<WorkshopView<'a>>,
    /// Who may be invited.
    people: Vec<Invitee>,
    can: std::collections::BTreeMap<&'static str, bool>,
    timezones: [&'static str; 9],
    errors: Vec<FieldError>,
    /// The scheduling form as typed, or its defaults.
    form: WorkshopForm,
    headings: Vec<Heading>,
    /// The model's stages and steps, for what a lesson is about.
    about: Vec<AboutGroup>,
    kinds: Vec<(&'static str, &'static str)>,
    /// The community's categories (slug, name), where the programme may
    /// post an accepted lesson.
    categories: Vec<(String, String)>,
}

#[derive(Serialize)]
struct WorkshopView<'a> {
    id: u32,
    plan: &'a WorkshopPlan,
    sequence: u32,
    cancelled: bool,
    notes: Vec<Note<'a>>,
    ics: String,
    /// Invited people's ids, as the form's checkboxes hold them.
    people: Vec<String>,
    /// Invited outside addresses, one per line.
    emails: String,
    /// Whether it is a retrospective, and its lessons, newest last.
    retro: bool,
    lessons: Vec<LessonView>,
}

#[derive(Serialize)]
struct LessonView {
    id: u32,
    kind: &'static str,
    kind_slug: &'static str,
    text: String,
    about: String,
    /// "the blueprint" or "the guidance", once proposed.
    proposed_for: Option<&'static str>,
    /// Accepted: the article draft's id.
    article: Option<i64>,
    /// Accepted as a community question: its id.
    question: Option<i64>,
    /// Declined: why.
    declined: Option<String>,
}

/// What a lesson may be about: a stage, or one of its steps.
#[derive(Serialize)]
struct AboutGroup {
    name: String,
    /// (value, label): the stage first, then its steps.
    options: Vec<(String, String)>,
}

fn about_groups(model: &Model) -> Vec<AboutGroup> {
    model
        .stages
        .iter()
        .map(|s| AboutGroup {
            name: s.name.clone(),
            options: std::iter::once((s.slug.clone(), format!("{} as a whole", s.name)))
                .chain(s.steps.iter().map(|x| {
                    (
                        format!("{}:{}", s.slug, x.number),
                        format!("Step {}: {}", x.number, x.title),
                    )
                }))
                .collect(),
        })
        .collect()
}

/// One heading of a workshop's notes and what was recorded under it.
#[derive(Serialize)]
struct Note<'a> {
    key: &'static str,
    label: &'static str,
    text: &'a str,
}

#[derive(Serialize)]
struct Heading {
    key: &'static str,
    label: &'static str,
}

#[derive(Serialize)]
struct Invitee {
    id: i64,
    name: String,
    email: String,
}

fn workshop_view<'a>(e: &Engagement, model: &Model, w: &'a Workshop) -> WorkshopView<'a> {
    WorkshopView {
        retro: w.plan.retro,
        lessons: e
            .lessons
            .iter()
            .filter(|l| l.workshop == w.id)
            .map(|l| {
                let answer = l.proposal.as_ref().and_then(|p| p.answer.as_ref());
                LessonView {
                    id: l.id,
                    kind: l.kind.label(),
                    kind_slug: l.kind.slug(),
                    text: l.text.clone(),
                    about: waymark_core::lesson::about(model, &l.stage, l.step),
                    proposed_for: l.proposal.as_ref().map(|p| p.target.label()),
                    article: match answer {
                        Some(waymark_core::lesson::Answer::Accepted { article }) => Some(*article),
                        _ => None,
                    },
                    question: match answer {
                        Some(waymark_core::lesson::Answer::Posted { question }) => Some(*question),
                        _ => None,
                    },
                    declined: match answer {
                        Some(waymark_core::lesson::Answer::Declined { reason }) => {
                            Some(reason.clone())
                        }
                        _ => None,
                    },
                }
            })
            .collect(),
        id: w.id,
        plan: &w.plan,
        sequence: w.sequence,
        cancelled: w.cancelled,
        notes: WORKSHOP_HEADINGS
            .iter()
            .map(|&(key, label)| Note {
                key,
                label,
                text: w.notes.get(key),
            })
            .collect(),
        ics: format!("/engagements/{}/workshops/{}.ics", e.id, w.id),
        people: w
            .plan
            .attendees
            .iter()
            .filter_map(|a| a.person.map(|p| p.0.to_string()))
            .collect(),
        emails: w
            .plan
            .attendees
            .iter()
            .filter(|a| a.person.is_none())
            .map(|a| a.email.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

async fn workshops_page(
    s: &AppState,
    who: &SignedIn,
    id: EngagementId,
    status: StatusCode,
    errors: Vec<FieldError>,
    form: Option<&WorkshopForm>,
) -> Result<Response, PageError> {
    let l = load(s, who, id).await?;
    let model = s.store.model(&l.e.model_hash).await?;
    let people = invitable(s, &l.e)
        .await?
        .iter()
        .map(|p| Invitee {
            id: p.id.0,
            name: p.name.clone(),
            email: p.email.as_str().to_string(),
        })
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
    let can = waymark_core::allowed_commands(&who.actor, &l.e);
    let categories = if can.get("accept_lesson").copied().unwrap_or(false) {
        s.store
            .categories(Some(&who.actor))
            .await?
            .into_iter()
            .filter(|c| waymark_core::community::may_ask(&who.actor, c).is_ok())
            .map(|c| (c.slug, c.name))
            .collect()
    } else {
        Vec::new()
    };
    let view = WorkshopsPage {
        categories,
        title: format!("Workshops: {}", l.agency.name),
        user: who.view(),
        id: id.0,
        agency: l.agency.name.clone(),
        version: l.e.version,
        workshops: l
            .e
            .workshops
            .iter()
            .map(|w| workshop_view(&l.e, &model, w))
            .collect(),
        people,
        can,
        timezones: TIMEZONES,
        errors,
        form: form.cloned().unwrap_or(blank),
        headings: WORKSHOP_HEADINGS
            .iter()
            .map(|&(key, label)| Heading { key, label })
            .collect(),
        about: about_groups(&model),
        kinds: LessonKind::ALL
            .iter()
            .map(|k| (k.slug(), k.label()))
            .collect(),
    };
    view_page(s, status, "workshops.html", &view)
}

pub async fn workshops(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    workshops_page(&s, &who, EngagementId(id), StatusCode::OK, Vec::new(), None).await
}

pub async fn workshop_command(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
    RawForm(raw): RawForm,
) -> Result<Response, PageError> {
    let id = EngagementId(id);
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
            "lesson" => f.lesson()?,
            "propose" => Command::ProposeLesson {
                id: f.lesson_id()?,
                target: waymark_core::lesson::ProposedFor::from_slug(f.target.trim()).ok_or_else(
                    || DomainError::invalid("target", "choose the blueprint or the guidance"),
                )?,
            },
            "accept" => Command::AcceptLesson {
                id: f.lesson_id()?,
                post_in: Some(f.category.trim())
                    .filter(|c| !c.is_empty())
                    .map(Into::into),
                article: None,
                question: None,
            },
            "decline" => Command::DeclineLesson {
                id: f.lesson_id()?,
                reason: f.reason.clone().into(),
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
    let version = f.version.get();
    let result = match (cmd, version) {
        (Ok(cmd), Ok(version)) => {
            outcome_to_page(s.actions().run(&who.actor, id, version, &cmd).await)?
        }
        (Err(e), _) | (_, Err(e)) => Err(problem(&e)),
    };
    match result {
        Ok(_)
            if matches!(
                f.action.as_str(),
                "lesson" | "propose" | "accept" | "decline"
            ) =>
        {
            Ok(Redirect::to(&format!(
                "/engagements/{id}/workshops#lessons-{}",
                f.workshop_id().unwrap_or(0)
            ))
            .into_response())
        }
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
                ("propose" | "accept" | "decline", _) if field != "action" => {
                    format!("l{}-{field}", f.lesson.trim())
                }
                ("lesson", Ok(n)) if field != "action" => {
                    // The stage and step are one choice on the form.
                    let field = if matches!(field.as_str(), "stage" | "step") {
                        "about"
                    } else {
                        field.as_str()
                    };
                    format!("w{n}-lesson-{field}")
                }
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
}

pub async fn workshop_ics(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path((id, file)): Path<(i64, String)>,
) -> Result<Response, PageError> {
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
    )?;
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
}
