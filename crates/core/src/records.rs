//! The things that change hands during an engagement: workshops, letters,
//! documents and Deploy's delivery artefacts. Each lives in the engagement's
//! state and changes only through events, like everything else there.

use serde::{Deserialize, Serialize};

use crate::command::{named, takes_part};
use crate::engagement::{Engagement, Event};
use crate::error::DomainError;
use crate::people::{Email, Person, PersonId};
use crate::text::{Line, Text};

/// The headings the model gives the initial workshop's notes.
pub const WORKSHOP_HEADINGS: [(&str, &str); 5] = [
    ("sponsorship", "Sponsorship arrangements"),
    ("strategy", "High-level strategy"),
    ("business_need", "Business need"),
    ("budget", "Budget"),
    ("governance", "Governance"),
];

/// Someone invited to a workshop: a person in the system, or an outside email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attendee {
    /// For a person in Waymark, the directory's address replaces this.
    pub email: Line<254>,
    pub name: Option<Line<200>>,
    pub person: Option<PersonId>,
}

/// What is planned for a workshop. Local date and time in an IANA timezone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkshopPlan {
    pub title: Line<200>,
    /// `YYYY-MM-DD`
    pub date: Line<10>,
    /// `HH:MM`, 24-hour
    pub time: Line<5>,
    /// For example `Australia/Canberra`.
    pub timezone: Line<64>,
    pub minutes: u32,
    pub location: Option<Line<500>>,
    pub link: Option<Line<1000>>,
    pub agenda: Text<8000>,
    pub attendees: Vec<Attendee>,
    /// A retrospective: its lessons are recorded against the model's
    /// stages and steps (`lesson`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retro: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkshopNotes {
    pub sponsorship: Text<8000>,
    pub strategy: Text<8000>,
    pub business_need: Text<8000>,
    pub budget: Text<8000>,
    pub governance: Text<8000>,
}

impl WorkshopNotes {
    pub fn get(&self, key: &str) -> &str {
        match key {
            "sponsorship" => &self.sponsorship,
            "strategy" => &self.strategy,
            "business_need" => &self.business_need,
            "budget" => &self.budget,
            "governance" => &self.governance,
            _ => "",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Workshop {
    pub id: u32,
    pub plan: WorkshopPlan,
    /// iCalendar SEQUENCE: 0 when scheduled, one more on every change.
    pub sequence: u32,
    pub cancelled: bool,
    pub notes: WorkshopNotes,
    /// Attendees' answers to the invitation, by address, as their calendars
    /// sent them (the newest answer of each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<WorkshopAnswer>,
}

/// One attendee's answer to a workshop invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkshopAnswer {
    pub email: String,
    pub answer: crate::mailbox::Answer,
}

impl Workshop {
    /// The answer `email` gave, if any.
    pub fn answer_of(&self, email: &str) -> Option<crate::mailbox::Answer> {
        self.answers
            .iter()
            .find(|a| a.email.eq_ignore_ascii_case(email))
            .map(|a| a.answer)
    }
}

/// The event that records `email`'s answer to workshop `id`'s invitation,
/// which came by mail from `sender`; `None` when it is the answer already
/// recorded. Only an invited attendee answers, for themself, and only for a
/// workshop that is still on.
pub fn answer(
    e: &Engagement,
    id: u32,
    email: &str,
    sender: &str,
    reply: crate::mailbox::Answer,
) -> Result<Option<Event>, DomainError> {
    if !email.trim().eq_ignore_ascii_case(sender.trim()) {
        return Err(DomainError::rule(format!(
            "a calendar answer for {} sent by {}, who is not that attendee",
            email.trim(),
            sender.trim()
        )));
    }
    let w = e
        .workshops
        .iter()
        .find(|w| w.id == id)
        .ok_or(DomainError::NotFound)?;
    if w.cancelled {
        return Err(DomainError::rule("this workshop was cancelled"));
    }
    let email = Email::parse(email.trim())?;
    let invited = w
        .plan
        .attendees
        .iter()
        .any(|a| a.email.eq_ignore_ascii_case(email.as_str()));
    if !invited {
        return Err(DomainError::rule(format!(
            "{} was not invited to this workshop",
            email.as_str()
        )));
    }
    if w.answer_of(email.as_str()) == Some(reply) {
        return Ok(None);
    }
    Ok(Some(Event::WorkshopAnswered {
        id,
        email: email.as_str().to_string(),
        answer: reply,
    }))
}

/// The letters the programme issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LetterKind {
    LetterOfIntent,
    ClosureLetter,
}

impl LetterKind {
    pub const ALL: [LetterKind; 2] = [LetterKind::LetterOfIntent, LetterKind::ClosureLetter];

    pub fn slug(self) -> &'static str {
        match self {
            LetterKind::LetterOfIntent => "letter-of-intent",
            LetterKind::ClosureLetter => "closure-letter",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            LetterKind::LetterOfIntent => "Letter of Intent",
            LetterKind::ClosureLetter => "Closure letter",
        }
    }

    pub fn from_slug(slug: &str) -> Option<LetterKind> {
        Self::ALL.into_iter().find(|k| k.slug() == slug)
    }
}

/// One issued version of a letter. The PDF's bytes are kept by the store;
/// the state keeps their hash, which is what a sign-off names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LetterRecord {
    pub kind: LetterKind,
    pub version: u32,
    pub sha256: String,
    pub by: PersonId,
    pub at: crate::Timestamp,
}

/// A file attached to the engagement (kept by the store, named here by hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentRecord {
    pub file: i64,
    pub title: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub by: PersonId,
    pub at: crate::Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WorkStatus {
    Planned,
    InProgress,
    Done,
    Dropped,
}

impl WorkStatus {
    pub const ALL: [WorkStatus; 4] = [
        WorkStatus::Planned,
        WorkStatus::InProgress,
        WorkStatus::Done,
        WorkStatus::Dropped,
    ];

    pub fn label(self) -> &'static str {
        match self {
            WorkStatus::Planned => "Planned",
            WorkStatus::InProgress => "In progress",
            WorkStatus::Done => "Done",
            WorkStatus::Dropped => "Dropped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sprint {
    pub id: u32,
    pub name: String,
    /// `YYYY-MM-DD`
    pub starts: String,
    pub ends: String,
    pub goal: String,
}

/// A Microsoft 365 capability in the feature log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Feature {
    pub id: u32,
    pub capability: String,
    pub status: WorkStatus,
    /// The sprint it shipped in.
    pub sprint: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Story {
    pub id: u32,
    pub as_a: String,
    pub i_want: String,
    pub so_that: String,
    pub acceptance: String,
    pub status: WorkStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Guide {
    pub id: u32,
    pub title: String,
    /// Markdown; rendered only through the sanitiser.
    pub markdown: String,
}

/// Deploy's delivery artefacts, as records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    /// What is to be acquired and implemented (markdown).
    pub execution_plan: Option<String>,
    pub sprints: Vec<Sprint>,
    pub features: Vec<Feature>,
    pub stories: Vec<Story>,
    pub guides: Vec<Guide>,
}

/// One artefact to save: `id: None` adds, `Some` replaces that one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "artefact", rename_all = "snake_case")]
pub enum Artefact {
    ExecutionPlan {
        text: Text<50_000>,
    },
    Sprint {
        id: Option<u32>,
        name: Line<200>,
        starts: Line<10>,
        ends: Line<10>,
        goal: Text<2000>,
    },
    Feature {
        id: Option<u32>,
        capability: Line<300>,
        status: WorkStatus,
        sprint: Option<u32>,
    },
    Story {
        id: Option<u32>,
        as_a: Line<300>,
        i_want: Text<1000>,
        so_that: Text<1000>,
        acceptance: Text<4000>,
        status: WorkStatus,
    },
    Guide {
        id: Option<u32>,
        title: Line<200>,
        markdown: Text<100_000>,
    },
}

/// What a message quotes of a value it refused: one line, and no more
/// than 40 characters (a 2 MB value is not sent back twice).
pub(crate) fn shown(raw: &str) -> String {
    let line = crate::text::one_line(raw);
    match line.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line,
    }
}

/// A calendar date `YYYY-MM-DD`, checked (leap years included).
pub fn parse_date(field: &'static str, raw: &str) -> Result<(i32, u32, u32), DomainError> {
    let bad = || {
        Err(DomainError::invalid(
            field,
            format!("“{}” is not a date like 2026-12-01", shown(raw)),
        ))
    };
    let parts: Vec<&str> = raw.trim().split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return bad();
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return bad();
    }
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i32>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return bad();
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return bad(),
    };
    if !(2000..=2999).contains(&y) {
        return Err(DomainError::invalid(
            field,
            format!(
                "“{}” is outside the years Waymark keeps: give a date from 2000 to 2999",
                shown(raw)
            ),
        ));
    }
    if !(1..=days).contains(&d) {
        return bad();
    }
    Ok((y, m, d))
}

/// A time of day `HH:MM`.
pub fn parse_time(field: &'static str, raw: &str) -> Result<(u32, u32), DomainError> {
    let bad = || {
        Err(DomainError::invalid(
            field,
            format!("“{}” is not a time like 09:30", shown(raw)),
        ))
    };
    let Some((h, m)) = raw.trim().split_once(':') else {
        return bad();
    };
    let digits = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 1..=2) || !digits(m, 2..=2) {
        return bad();
    }
    match (h.parse::<u32>(), m.parse::<u32>()) {
        (Ok(h), Ok(m)) if h < 24 && m < 60 => Ok((h, m)),
        _ => bad(),
    }
}

/// When a workshop happens, typed: its local date and time in its zone,
/// and the instants it starts and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When {
    pub local: chrono::NaiveDateTime,
    pub zone: chrono_tz::Tz,
    pub start: chrono::DateTime<chrono::Utc>,
    pub end: chrono::DateTime<chrono::Utc>,
}

impl WorkshopPlan {
    /// The plan's date, time, zone and length as one typed moment, or why
    /// they are not one: the core's check, and what invitations are made
    /// from (nothing parses the strings again).
    pub fn when(&self) -> Result<When, DomainError> {
        use chrono::TimeZone;
        let (y, m, d) = parse_date("date", &self.date.required("date")?)?;
        let (h, min) = parse_time("time", &self.time.required("time")?)?;
        let timezone = self.timezone.required("timezone")?;
        let zone: chrono_tz::Tz = timezone.parse().map_err(|_| {
            DomainError::invalid(
                "timezone",
                format!("“{timezone}” is not a timezone name such as Australia/Canberra"),
            )
        })?;
        if !(15..=600).contains(&self.minutes) {
            return Err(DomainError::invalid(
                "minutes",
                "a workshop lasts between 15 minutes and 10 hours",
            ));
        }
        let local = chrono::NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|day| day.and_hms_opt(h, min, 0))
            .ok_or_else(|| DomainError::invalid("date", "is not a day of the calendar"))?;
        // In a spring-forward gap the local time does not exist; in an
        // autumn overlap the earlier of the two is meant.
        let start = zone
            .from_local_datetime(&local)
            .earliest()
            .ok_or_else(|| {
                DomainError::invalid(
                    "time",
                    format!(
                        "{} {} does not exist in {timezone} (the clocks change then)",
                        self.date, self.time
                    ),
                )
            })?
            .with_timezone(&chrono::Utc);
        Ok(When {
            local,
            zone,
            start,
            end: start + chrono::Duration::minutes(i64::from(self.minutes)),
        })
    }
}

fn check_plan(
    e: &Engagement,
    people: &[Person],
    plan: &WorkshopPlan,
) -> Result<WorkshopPlan, DomainError> {
    let title = plan.title.required("title")?;
    plan.when()?;
    let date = plan.date.required("date")?;
    let time = plan.time.required("time")?;
    let timezone = plan.timezone.required("timezone")?;
    let location = Line::optional(&plan.location, "location")?;
    let link = Line::optional(&plan.link, "link")?;
    if let Some(l) = &link
        && !(l.starts_with("https://") || l.starts_with("http://"))
    {
        return Err(DomainError::invalid(
            "link",
            "an online link starts with https:// (or http://)",
        ));
    }
    if location.is_none() && link.is_none() {
        return Err(DomainError::invalid(
            "location",
            "give a location, an online link, or both",
        ));
    }
    if plan.attendees.len() > 200 {
        return Err(DomainError::invalid(
            "attendees",
            "invite at most 200 people to one workshop",
        ));
    }
    let mut attendees: Vec<Attendee> = Vec::new();
    for a in &plan.attendees {
        let name = Line::optional(&a.name, "attendees")?;
        // A person in Waymark is invited at the address the directory has
        // for them, and only if they take part in this engagement.
        let (email, name) = match a.person {
            Some(id) => {
                let p = named(
                    people,
                    id,
                    "attendees",
                    |p| takes_part(e, p),
                    "someone who takes part in this engagement",
                )?;
                // Their name as the directory has it, whatever was sent.
                (
                    p.email.as_str().to_string(),
                    Some(Line::from(p.name.as_str())),
                )
            }
            None => {
                let raw = a.email.check("attendees")?;
                (Email::parse(&raw)?.as_str().to_string(), name)
            }
        };
        if !attendees.iter().any(|b| b.email == email.as_str()) {
            attendees.push(Attendee {
                email: Line::from(email),
                // A directory name is checked like a typed one.
                name: Line::optional(&name, "attendees")?,
                person: a.person,
            });
        }
    }
    Ok(WorkshopPlan {
        title,
        date,
        time,
        timezone,
        minutes: plan.minutes,
        location,
        link,
        agenda: plan.agenda.required("agenda")?,
        attendees,
        retro: plan.retro,
    })
}

pub(crate) fn schedule(
    e: &Engagement,
    people: &[Person],
    id: Option<u32>,
    plan: &WorkshopPlan,
) -> Result<Event, DomainError> {
    let plan = check_plan(e, people, plan)?;
    match id {
        None => Ok(Event::WorkshopScheduled {
            id: e.workshops.iter().map(|w| w.id).max().unwrap_or(0) + 1,
            plan,
            sequence: 0,
        }),
        Some(id) => {
            let w = workshop(e, id)?;
            // Its lessons are a retrospective's: it stays one.
            if w.plan.retro && !plan.retro && e.lessons.iter().any(|l| l.workshop == id) {
                return Err(DomainError::invalid(
                    "retro",
                    format!("workshop {id} has lessons recorded, so it stays a retrospective"),
                ));
            }
            if w.plan == plan {
                return Err(DomainError::rule("nothing about the workshop has changed"));
            }
            Ok(Event::WorkshopScheduled {
                id,
                plan,
                sequence: w.sequence + 1,
            })
        }
    }
}

pub(crate) fn workshop(e: &Engagement, id: u32) -> Result<&Workshop, DomainError> {
    match e.workshops.iter().find(|w| w.id == id) {
        None => Err(DomainError::invalid(
            "id",
            format!("there is no workshop {id}"),
        )),
        Some(w) if w.cancelled => Err(DomainError::rule(format!(
            "workshop {id} was cancelled; schedule a new one instead"
        ))),
        Some(w) => Ok(w),
    }
}

pub(crate) fn notes(notes: &WorkshopNotes) -> Result<WorkshopNotes, DomainError> {
    let n = WorkshopNotes {
        sponsorship: notes.sponsorship.check("sponsorship")?,
        strategy: notes.strategy.check("strategy")?,
        business_need: notes.business_need.check("business_need")?,
        budget: notes.budget.check("budget")?,
        governance: notes.governance.check("governance")?,
    };
    if WORKSHOP_HEADINGS.iter().all(|(k, _)| n.get(k).is_empty()) {
        return Err(DomainError::invalid(
            "sponsorship",
            "write notes under at least one heading",
        ));
    }
    Ok(n)
}

fn next_id<T>(items: &[T], id: impl Fn(&T) -> u32) -> u32 {
    items.iter().map(id).max().unwrap_or(0) + 1
}

fn existing<T>(
    items: &[T],
    wanted: Option<u32>,
    id: impl Fn(&T) -> u32,
    what: &str,
) -> Result<u32, DomainError> {
    match wanted {
        None => Ok(next_id(items, id)),
        Some(w) if items.iter().any(|i| id(i) == w) => Ok(w),
        Some(w) => Err(DomainError::invalid(
            "id",
            format!("there is no {what} {w}"),
        )),
    }
}

/// Checks an artefact and gives it its id.
pub(crate) fn artefact(e: &Engagement, a: &Artefact) -> Result<Artefact, DomainError> {
    let d = &e.delivery;
    Ok(match a {
        Artefact::ExecutionPlan { text } => Artefact::ExecutionPlan {
            text: text.required("text")?,
        },
        Artefact::Sprint {
            id,
            name,
            starts,
            ends,
            goal,
        } => {
            let starts = starts.required("starts")?;
            let ends = ends.required("ends")?;
            let s = parse_date("starts", &starts)?;
            let f = parse_date("ends", &ends)?;
            if f < s {
                return Err(DomainError::invalid(
                    "ends",
                    "a sprint ends after it starts",
                ));
            }
            Artefact::Sprint {
                id: Some(existing(&d.sprints, *id, |s| s.id, "sprint")?),
                name: name.required("name")?,
                starts,
                ends,
                goal: goal.required("goal")?,
            }
        }
        Artefact::Feature {
            id,
            capability,
            status,
            sprint,
        } => {
            if let Some(s) = sprint
                && !d.sprints.iter().any(|x| x.id == *s)
            {
                return Err(DomainError::invalid(
                    "sprint",
                    format!("there is no sprint {s}"),
                ));
            }
            Artefact::Feature {
                id: Some(existing(&d.features, *id, |f| f.id, "feature")?),
                capability: capability.required("capability")?,
                status: *status,
                sprint: *sprint,
            }
        }
        Artefact::Story {
            id,
            as_a,
            i_want,
            so_that,
            acceptance,
            status,
        } => Artefact::Story {
            id: Some(existing(&d.stories, *id, |s| s.id, "user story")?),
            as_a: as_a.required("as_a")?,
            i_want: i_want.required("i_want")?,
            so_that: so_that.required("so_that")?,
            acceptance: acceptance.required("acceptance")?,
            status: *status,
        },
        Artefact::Guide {
            id,
            title,
            markdown,
        } => Artefact::Guide {
            id: Some(existing(&d.guides, *id, |g| g.id, "user guide")?),
            title: title.required("title")?,
            markdown: markdown.required("markdown")?,
        },
    })
}

fn put<T>(items: &mut Vec<T>, item: T, id: impl Fn(&T) -> u32) {
    match items.iter_mut().find(|i| id(i) == id(&item)) {
        Some(slot) => *slot = item,
        None => items.push(item),
    }
}

impl Delivery {
    /// Folds a checked artefact (ids assigned) into the record.
    pub(crate) fn save(&mut self, a: &Artefact) {
        match a.clone() {
            Artefact::ExecutionPlan { text } => self.execution_plan = Some(text.into_string()),
            Artefact::Sprint {
                id,
                name,
                starts,
                ends,
                goal,
            } => put(
                &mut self.sprints,
                Sprint {
                    id: id.unwrap_or(0),
                    name: name.into_string(),
                    starts: starts.into_string(),
                    ends: ends.into_string(),
                    goal: goal.into_string(),
                },
                |s| s.id,
            ),
            Artefact::Feature {
                id,
                capability,
                status,
                sprint,
            } => put(
                &mut self.features,
                Feature {
                    id: id.unwrap_or(0),
                    capability: capability.into_string(),
                    status,
                    sprint,
                },
                |f| f.id,
            ),
            Artefact::Story {
                id,
                as_a,
                i_want,
                so_that,
                acceptance,
                status,
            } => put(
                &mut self.stories,
                Story {
                    id: id.unwrap_or(0),
                    as_a: as_a.into_string(),
                    i_want: i_want.into_string(),
                    so_that: so_that.into_string(),
                    acceptance: acceptance.into_string(),
                    status,
                },
                |s| s.id,
            ),
            Artefact::Guide {
                id,
                title,
                markdown,
            } => put(
                &mut self.guides,
                Guide {
                    id: id.unwrap_or(0),
                    title: title.into_string(),
                    markdown: markdown.into_string(),
                },
                |g| g.id,
            ),
        }
    }
}
