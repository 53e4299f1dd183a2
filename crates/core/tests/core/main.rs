//! The engagement rules, on the bundled model.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod assessment;
mod benefits;
mod community;
mod discussion;
mod enquiry;
mod factor;
mod journey;
mod lessons;
mod migration;
mod next;
mod permissions;
mod portfolio;
mod records;
mod rules;
mod scope;
mod surveys;
mod webhook;

use std::sync::OnceLock;

use waymark_core::*;
use waymark_model::Model;

pub fn model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| waymark_model::build(waymark_model::bundled()).model)
}

pub const AGENCY: AgencyId = AgencyId(1);
pub const OTHER_AGENCY: AgencyId = AgencyId(2);
pub const STAFF: PersonId = PersonId(10);
pub const MEMBER: PersonId = PersonId(20);
pub const SPONSOR: PersonId = PersonId(21);
pub const PARTNER: PersonId = PersonId(30);

pub fn staff() -> Actor {
    Actor {
        person: STAFF,
        roles: vec![Role::ProgrammeStaff],
    }
}
pub fn admin() -> Actor {
    Actor {
        person: PersonId(11),
        roles: vec![Role::ProgrammeAdmin],
    }
}
pub fn member() -> Actor {
    Actor {
        person: MEMBER,
        roles: vec![Role::AgencyMember {
            agency: AGENCY,
            sponsor: false,
        }],
    }
}
pub fn sponsor() -> Actor {
    Actor {
        person: SPONSOR,
        roles: vec![Role::AgencyMember {
            agency: AGENCY,
            sponsor: true,
        }],
    }
}
pub fn other_member() -> Actor {
    Actor {
        person: PersonId(40),
        roles: vec![Role::AgencyMember {
            agency: OTHER_AGENCY,
            sponsor: true,
        }],
    }
}
pub fn partner() -> Actor {
    Actor {
        person: PARTNER,
        roles: vec![Role::Partner {
            kind: PartnerKind::Technology,
        }],
    }
}
pub fn stranger_partner() -> Actor {
    Actor {
        person: PersonId(31),
        roles: vec![Role::Partner {
            kind: PartnerKind::Strategy,
        }],
    }
}

/// Everyone above as the directory holds them: what the store would load
/// for the commands that name people.
pub fn directory() -> Vec<Person> {
    [
        ("Sam Staff", staff()),
        ("Ada Admin", admin()),
        ("Mia Member", member()),
        ("Sid Sponsor", sponsor()),
        ("Olu Other", other_member()),
        ("Pat Partner", partner()),
        ("Sue Stranger", stranger_partner()),
    ]
    .into_iter()
    .map(|(name, a)| Person {
        id: a.person,
        name: name.into(),
        email: Email::parse(&format!("p{}@example.gov.au", a.person)).unwrap(),
        deactivated_at: None,
        roles: a.roles,
    })
    .collect()
}

/// A started engagement with the partner assigned.
pub fn engagement() -> Engagement {
    let mut e = Engagement::new(EngagementId(1), AGENCY);
    let mut at = 1_700_000_000;
    for ev in start(model(), "hash-1", AGENCY, &staff(), Mode::DoItWithYou).unwrap() {
        e.apply(&ev, STAFF, Timestamp(at));
    }
    at += 1;
    run(
        &mut e,
        &staff(),
        Command::Assign {
            person: PARTNER,
            partner: Some(PartnerKind::Technology),
        },
        at,
    )
    .unwrap();
    e
}

/// Documents on the record whose SHA-256 is each letter repeated 64 times,
/// for sign-offs of documents that are not letters.
pub fn attach(e: &mut Engagement, shas: &[&str]) {
    for (i, c) in shas.iter().enumerate() {
        e.apply(
            &Event::DocumentAttached {
                file: i as i64 + 1,
                title: format!("Document {c}"),
                name: format!("{c}.pdf"),
                content_type: "application/pdf".into(),
                size: 1,
                sha256: c.repeat(64),
            },
            STAFF,
            Timestamp(1),
        );
    }
}

/// The engagement a command is tried on in the permission tests: the
/// partner assigned, `more` given by the programme, an open risk to close, a
/// workshop to cancel, a document on the record to sign off; Do it Yourself
/// for the command that brings it back. `people` is the directory.
pub fn setting(cmd: &Command, people: &[Person], more: &[Command]) -> Engagement {
    let mut e = engagement();
    let everything = more.iter().cloned().chain([
        Command::AddRisk {
            text: "open".into(),
            stage: None,
        },
        Command::ScheduleWorkshop {
            id: None,
            plan: workshop_plan(),
        },
        Command::AttachDocument {
            file: 1,
            title: "Business case".into(),
            name: "case.pdf".into(),
            content_type: "application/pdf".into(),
            size: 10,
            sha256: "d".repeat(64).into(),
        },
        // Workshop 2, a retrospective, for lessons.
        Command::ScheduleWorkshop {
            id: None,
            plan: WorkshopPlan {
                title: "Discovery retro".into(),
                retro: true,
                ..workshop_plan()
            },
        },
        // Lessons 1 (proposed, to answer) and 2 (to propose).
        Command::RecordLesson {
            workshop: 2,
            kind: lesson::LessonKind::ToImprove,
            text: "Book the security assessor earlier.".into(),
            stage: "discovery".into(),
            step: Some(5),
        },
        Command::RecordLesson {
            workshop: 2,
            kind: lesson::LessonKind::WentWell,
            text: "The sponsor came to every workshop.".into(),
            stage: "engagement".into(),
            step: None,
        },
        Command::ProposeLesson {
            id: 1,
            target: lesson::ProposedFor::Guidance,
        },
        // Benefit 1, measured, to change and to read.
        Command::AddBenefit {
            text: "Less time patching".into(),
            measure: None,
            plan: measured_plan(),
        },
        // Comment 1, by the programme, to edit or hide.
        Command::Comment {
            about: waymark_core::discussion::Anchor::Engagement,
            body: "A first word".into(),
        },
    ]);
    for c in everything {
        for ev in decide(model(), &e, &staff(), people, &c).unwrap() {
            e.apply(&ev, STAFF, Timestamp(2));
        }
    }
    if matches!(cmd, Command::ReturnToProgramme) {
        e.apply(
            &Event::ModeChanged {
                mode: Mode::DoItYourself,
            },
            STAFF,
            Timestamp(3),
        );
    }
    e
}

/// A benefit's plan: 100 hours on 1 January 2026 down to 50 by the end
/// of June 2027.
pub fn measured_plan() -> waymark_core::benefit::PlanInput {
    waymark_core::benefit::PlanInput {
        unit: Some("hours".into()),
        baseline: Some("100".into()),
        baseline_date: Some("2026-01-01".into()),
        target: Some("50".into()),
        target_date: Some("2027-06-30".into()),
        owner: None,
    }
}

/// Decides and applies, as the store would (minus persistence).
pub fn run(
    e: &mut Engagement,
    actor: &Actor,
    cmd: Command,
    at: i64,
) -> Result<Vec<Event>, DomainError> {
    let events = decide(model(), e, actor, &directory(), &cmd)?;
    for ev in &events {
        e.apply(ev, actor.person, Timestamp(at));
    }
    e.version += 1;
    Ok(events)
}

/// A valid workshop: a morning in Canberra, on site and online.
pub fn workshop_plan() -> WorkshopPlan {
    WorkshopPlan {
        retro: false,
        title: "Initial workshop".into(),
        date: "2026-12-01".into(),
        time: "10:00".into(),
        timezone: "Australia/Canberra".into(),
        minutes: 90,
        location: Some("Level 2, 50 Marcus Clarke St".into()),
        link: Some("https://meet.example.gov.au/abc".into()),
        agenda: "Sponsorship, strategy, need, budget, governance".into(),
        attendees: vec![Attendee {
            email: "Sam@Agency.gov.au".into(),
            name: Some("Sam".into()),
            person: None,
        }],
    }
}
