//! Generated checks of who may do what, and of what a command may name.
//!
//! `expected` is written from the rules as the programme states them (who
//! may give each command; who may be named sponsor, assigned, or invited),
//! not from the core's code. proptest then tries every kind of command,
//! every kind of actor, and people in scope, out of scope and missing, and
//! the core's answer must match. A reference out of scope is never accepted.
//!
//! The second half walks every text field of every command, as an API
//! client would send it, with 2 MB of text and with control characters:
//! each is refused, naming its field.

use proptest::prelude::*;
use serde_json::Value;
use waymark_core::*;

use crate::*;

/// A person named sponsor of the engagement who does not hold the agency's
/// sponsor role.
const NAMED_SPONSOR: PersonId = PersonId(22);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Admin,
    Staff,
    Member,
    /// Holds the agency's sponsor role.
    AgencySponsor,
    /// Named sponsor of this engagement, without the role.
    NamedSponsor,
    OtherAgency,
    AssignedPartner,
    UnassignedPartner,
}

const EVERYONE: [Who; 8] = [
    Who::Admin,
    Who::Staff,
    Who::Member,
    Who::AgencySponsor,
    Who::NamedSponsor,
    Who::OtherAgency,
    Who::AssignedPartner,
    Who::UnassignedPartner,
];

fn actor(w: Who) -> Actor {
    match w {
        Who::Admin => admin(),
        Who::Staff => staff(),
        Who::Member => member(),
        Who::AgencySponsor => sponsor(),
        Who::NamedSponsor => Actor {
            person: NAMED_SPONSOR,
            roles: vec![Role::AgencyMember {
                agency: AGENCY,
                sponsor: false,
            }],
        },
        Who::OtherAgency => other_member(),
        Who::AssignedPartner => partner(),
        Who::UnassignedPartner => stranger_partner(),
    }
}

fn people() -> Vec<Person> {
    let mut p = directory();
    p.push(Person {
        id: NAMED_SPONSOR,
        name: "Nia Named".into(),
        email: Email::parse("nia@agency.gov.au").unwrap(),
        deactivated_at: None,
        roles: actor(Who::NamedSponsor).roles,
    });
    p
}

/// The engagement every command is tried on: the partner assigned, a named
/// sponsor, an open risk, a workshop; Do it Yourself for the command that
/// brings it back.
fn setting(cmd: &Command) -> Engagement {
    crate::setting(
        cmd,
        &people(),
        &[Command::SetSponsor {
            person: NAMED_SPONSOR,
        }],
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Forbidden,
    NotFound,
    /// Refused for the person it names.
    BadReference,
}

/// How an actor stands on the engagement, from the rules: the programme sees
/// every engagement; the agency's people see their own; a partner sees only
/// what they are assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Programme,
    Agency { sponsor: bool },
    Partner,
    Outsider,
}

fn standing(w: Who) -> Standing {
    match w {
        Who::Admin | Who::Staff => Standing::Programme,
        Who::Member => Standing::Agency { sponsor: false },
        Who::AgencySponsor | Who::NamedSponsor => Standing::Agency { sponsor: true },
        Who::AssignedPartner => Standing::Partner,
        Who::OtherAgency | Who::UnassignedPartner => Standing::Outsider,
    }
}

/// Who may give each command, as the programme states it.
fn may(s: Standing, command: &str) -> bool {
    // Partners record progress and what they find; they do not decide,
    // sign, plan, schedule or change who takes part.
    const PARTNER: [&str; 16] = [
        "set_step",
        "set_owner",
        "skip_step",
        "check_success",
        "add_risk",
        "add_benefit",
        "change_benefit",
        "record_reading",
        "adopt_benefits",
        "record_lesson",
        "propose_lesson",
        "link_initiative",
        "record_workshop_notes",
        "save_artefact",
        "attach_document",
        "comment",
    ];
    // Only the programme assigns partners, issues letters, brings a Do it
    // Yourself engagement back, and hides a comment.
    const PROGRAMME: [&str; 7] = [
        "accept_lesson",
        "decline_lesson",
        "assign",
        "unassign",
        "issue_letter",
        "return_to_programme",
        "hide_comment",
    ];
    // The executive sponsor's own: signing, and handing the role over.
    const SPONSOR: [&str; 2] = ["sign_off", "set_sponsor"];
    match s {
        Standing::Programme => true,
        Standing::Agency { sponsor } => {
            !PROGRAMME.contains(&command) && (sponsor || !SPONSOR.contains(&command))
        }
        Standing::Partner => PARTNER.contains(&command),
        Standing::Outsider => false,
    }
}

/// Who a command may name, as the programme states it: the sponsor is one of
/// the agency's people; only a partner is assigned, and only with a kind they
/// hold; a workshop invites only people who take part in the engagement.
fn in_scope(cmd: &Command, p: Option<&Person>, e: &Engagement) -> bool {
    let Some(p) = p else { return false };
    let agency_person = p
        .roles
        .iter()
        .any(|r| matches!(r, Role::AgencyMember { agency, .. } if *agency == AGENCY));
    match cmd {
        Command::SetSponsor { .. } => agency_person,
        Command::Assign { partner, .. } => p.roles.iter().any(|r| match (r, partner) {
            (Role::Partner { kind }, Some(k)) => kind == k,
            (Role::Partner { .. }, None) => true,
            _ => false,
        }),
        Command::ScheduleWorkshop { .. }
        | Command::SetOwner { .. }
        | Command::AddBenefit { .. }
        | Command::ChangeBenefit { .. } => {
            agency_person
                || p.roles
                    .iter()
                    .any(|r| matches!(r, Role::ProgrammeAdmin | Role::ProgrammeStaff))
                || e.assigned.iter().any(|a| a.person == p.id)
        }
        _ => true,
    }
}

fn expected(w: Who, cmd: &Command, e: &Engagement, named: Option<PersonId>) -> Outcome {
    let s = standing(w);
    if s == Standing::Outsider {
        return Outcome::NotFound;
    }
    // A comment's words are its author's alone (comment 1 in the setting
    // is the programme staff member's), whoever else may talk.
    if matches!(cmd, Command::EditComment { .. }) {
        return if actor(w).person == STAFF {
            Outcome::Allowed
        } else {
            Outcome::Forbidden
        };
    }
    if !may(s, cmd.name()) {
        return Outcome::Forbidden;
    }
    // With a sponsor named (as in the setting), only that person hands the
    // role over on the agency's side; a holder of the sponsor role cannot
    // take it from them.
    if matches!(cmd, Command::SetSponsor { .. })
        && matches!(s, Standing::Agency { .. })
        && e.sponsor.is_some()
        && e.sponsor != Some(actor(w).person)
    {
        return Outcome::Forbidden;
    }
    match named {
        Some(id) if !in_scope(cmd, people().iter().find(|p| p.id == id), e) => {
            Outcome::BadReference
        }
        _ => Outcome::Allowed,
    }
}

fn got(w: Who, cmd: &Command, e: &Engagement) -> Outcome {
    match decide(model(), e, &actor(w), &people(), cmd) {
        Ok(_) => Outcome::Allowed,
        Err(DomainError::Forbidden { .. }) => Outcome::Forbidden,
        Err(DomainError::NotFound) => Outcome::NotFound,
        Err(DomainError::Invalid {
            field: "person" | "attendees" | "owner",
            ..
        }) => Outcome::BadReference,
        Err(other) => panic!(
            "{} by {w:?} failed on something the test did not vary: {other}",
            cmd.name()
        ),
    }
}

/// Every command, with `person` where a command names someone. Each is
/// otherwise valid in [`setting`], so the outcome shows access and scope.
fn command(kind: usize, person: PersonId, partner: Option<PartnerKind>) -> Command {
    let sha = |c: &str| Sha256::from(c.repeat(64));
    let stage = || Slug::from("engagement");
    match kind {
        0 => Command::StartStage {
            stage: "discovery".into(),
        },
        1 => Command::CompleteStage { stage: stage() },
        2 => Command::SetStep {
            stage: stage(),
            step: 1,
            status: StepStatus::Done,
        },
        3 => Command::SkipStep {
            stage: stage(),
            step: 1,
            reason: "done elsewhere".into(),
        },
        4 => Command::Decide {
            stage: stage(),
            at: DecisionAt::Point { index: 0 },
            option: 0,
            rationale: "why".into(),
            funded_by: Funder::Dta,
            note: None,
        },
        5 => Command::CheckSuccess {
            stage: stage(),
            criterion: 1,
            evidence: "minutes".into(),
        },
        6 => Command::AddRisk {
            text: "risk".into(),
            stage: None,
        },
        7 => Command::CloseRisk {
            id: 1,
            note: "handled".into(),
        },
        8 => Command::AddBenefit {
            text: "benefit".into(),
            measure: None,
            plan: waymark_core::benefit::PlanInput {
                owner: Some(person),
                ..Default::default()
            },
        },
        26 => Command::ChangeBenefit {
            id: 1,
            text: "Less time patching, and fewer late patches".into(),
            measure: None,
            plan: waymark_core::benefit::PlanInput {
                owner: Some(person),
                ..crate::measured_plan()
            },
        },
        27 => Command::RecordReading {
            id: 1,
            value: "80 hours".into(),
            date: "2026-06-01".into(),
            note: None,
        },
        28 => Command::AdoptBenefits {
            stage: "engagement".into(),
        },
        29 => Command::RecordLesson {
            workshop: 2,
            kind: waymark_core::lesson::LessonKind::ToImprove,
            text: "Book the security assessor earlier.".into(),
            stage: "discovery".into(),
            step: Some(5),
        },
        30 => Command::ProposeLesson {
            id: 2,
            target: waymark_core::lesson::ProposedFor::Blueprint,
        },
        31 => Command::AcceptLesson {
            id: 1,
            post_in: Some("ideas".into()),
            article: None,
            question: Some(7),
        },
        32 => Command::DeclineLesson {
            id: 1,
            reason: "The guidance says this already.".into(),
        },
        9 => Command::LinkInitiative {
            name: "Records uplift".into(),
            description: Text::default(),
        },
        10 => Command::SetSponsor { person },
        11 => Command::Assign { person, partner },
        12 => Command::Unassign { person: PARTNER },
        13 => Command::PlanDiscovery { weeks: 6 },
        14 => Command::SignOff {
            document: "business-case".into(),
            sha256: sha("d"),
        },
        15 => Command::ReturnToProgramme,
        16 => Command::ScheduleWorkshop {
            id: None,
            plan: WorkshopPlan {
                attendees: vec![Attendee {
                    email: "someone@agency.gov.au".into(),
                    name: None,
                    person: Some(person),
                }],
                ..workshop_plan()
            },
        },
        17 => Command::CancelWorkshop { id: 1 },
        18 => Command::RecordWorkshopNotes {
            id: 1,
            notes: WorkshopNotes {
                budget: "Funded from the ICT capital budget".into(),
                ..WorkshopNotes::default()
            },
        },
        19 => Command::SaveArtefact {
            artefact: Artefact::ExecutionPlan {
                text: "Acquire E5 licences".into(),
            },
        },
        20 => Command::IssueLetter {
            kind: LetterKind::LetterOfIntent,
            sha256: sha("e"),
        },
        21 => Command::SetOwner {
            item: Item::Step {
                stage: "engagement".into(),
                step: 2,
            },
            owner: Some(person),
            due: Some("2027-01-15".into()),
        },
        22 => Command::Comment {
            about: waymark_core::discussion::Anchor::Step {
                stage: "engagement".into(),
                step: 1,
            },
            body: "Who runs the kick-off? @Mia Member".into(),
        },
        23 => Command::EditComment {
            id: 1,
            body: "A better first word".into(),
        },
        24 => Command::HideComment {
            id: 1,
            reason: "Off topic".into(),
        },
        _ => Command::AttachDocument {
            file: 1,
            title: "Business case".into(),
            name: "case.pdf".into(),
            content_type: "application/pdf".into(),
            size: 10,
            sha256: sha("f"),
        },
    }
}

const KINDS: usize = 33;

#[test]
fn the_command_list_covers_every_kind() {
    let mut names: Vec<&str> = (0..KINDS)
        .map(|k| command(k, MEMBER, None).name())
        .collect();
    names.push("start");
    names.sort_unstable();
    let mut all = Command::NAMES.to_vec();
    all.sort_unstable();
    assert_eq!(names, all);
}

/// People a command may try to name: everyone in the directory, a current
/// sponsor, and ids that name nobody.
fn any_person() -> impl Strategy<Value = PersonId> {
    prop_oneof![
        prop::sample::select(vec![10, 11, 20, 21, 30, 31, 40]).prop_map(PersonId),
        (-5i64..0).prop_map(PersonId),
        (100i64..1_000_000).prop_map(PersonId),
    ]
}

fn any_partner_kind() -> impl Strategy<Value = Option<PartnerKind>> {
    prop::option::of(prop::sample::select(vec![
        PartnerKind::Strategy,
        PartnerKind::Technology,
        PartnerKind::ChangeManagement,
    ]))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn answers_follow_the_rules(
        who in prop::sample::select(EVERYONE.to_vec()),
        kind in 0..KINDS,
        person in any_person(),
        partner in any_partner_kind(),
    ) {
        let cmd = command(kind, person, partner);
        let e = setting(&cmd);
        // The partner already assigned, and the sponsor already named, are
        // refused as rules, not references: leave them out.
        prop_assume!(!(matches!(cmd, Command::Assign { .. }) && person == PARTNER));
        let named = (!cmd.people().is_empty()).then_some(person);
        let want = expected(who, &cmd, &e, named);
        let have = got(who, &cmd, &e);
        prop_assert_eq!(have, want, "{} by {:?} naming {:?}", cmd.name(), who, named);
        if named.is_some() && have == Outcome::Allowed {
            // Never accepted out of scope.
            prop_assert!(in_scope(&cmd, people().iter().find(|p| p.id == person), &e));
        }
    }
}

#[test]
fn every_actor_and_command_once_with_each_kind_of_reference() {
    let e_for = |c: &Command| setting(c);
    // In scope, in the directory but out of scope, and missing.
    for (person, partner) in [
        (MEMBER, None),
        (PersonId(31), Some(PartnerKind::Strategy)),
        (PersonId(40), None),
        (PersonId(31), Some(PartnerKind::Technology)),
        (PersonId(987_654), None),
    ] {
        for kind in 0..KINDS {
            let cmd = command(kind, person, partner);
            let e = e_for(&cmd);
            let named = (!cmd.people().is_empty()).then_some(person);
            for who in EVERYONE {
                assert_eq!(
                    got(who, &cmd, &e),
                    expected(who, &cmd, &e, named),
                    "{} by {who:?} naming {person}",
                    cmd.name()
                );
            }
        }
    }
}

#[test]
fn a_named_attendee_is_invited_at_the_directory_address() {
    let cmd = Command::ScheduleWorkshop {
        id: None,
        plan: WorkshopPlan {
            attendees: vec![Attendee {
                email: "attacker@evil.example".into(),
                name: Some("Pat Forged".into()),
                person: Some(SPONSOR),
            }],
            ..workshop_plan()
        },
    };
    let events = decide(model(), &setting(&cmd), &staff(), &people(), &cmd).unwrap();
    let Event::WorkshopScheduled { plan, .. } = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(plan.attendees[0].email, "p21@example.gov.au");
    // And named as the directory names them, whatever the request said.
    assert_eq!(
        plan.attendees[0].name.as_ref().map(|n| n.as_str()),
        Some("Sid Sponsor")
    );
}

// ------------------------------------------------------------- text walk

/// Every string in `v` with the path of keys that leads to it.
fn leaves(v: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::String(_) => out.push(path.clone()),
        Value::Object(m) => {
            for (k, x) in m {
                path.push(k.clone());
                leaves(x, path, out);
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                path.push(i.to_string());
                leaves(x, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn set(v: &mut Value, path: &[String], to: &str) {
    let mut at = v;
    for k in path {
        at = match at {
            Value::Object(m) => m.get_mut(k).unwrap(),
            Value::Array(a) => a.get_mut(k.parse::<usize>().unwrap()).unwrap(),
            _ => unreachable!(),
        };
    }
    *at = Value::String(to.to_string());
}

/// The field a refusal should name for the leaf at `path`: its own key, or
/// for an attendee's fields, the list.
fn field_for(path: &[String]) -> &str {
    if path.iter().any(|k| k == "attendees") {
        "attendees"
    } else if path.first().is_some_and(|k| k == "about") {
        // What a comment is about is one choice, refused as a whole.
        "about"
    } else {
        path.last().map_or("", String::as_str)
    }
}

/// Every command with every optional text present, so the walk reaches it.
fn full_commands() -> Vec<Command> {
    let mut cmds: Vec<Command> = (0..KINDS)
        .map(|k| command(k, if k == 11 { PersonId(31) } else { MEMBER }, None))
        .map(|c| match c {
            Command::Decide {
                stage,
                at,
                option,
                rationale,
                funded_by,
                ..
            } => Command::Decide {
                stage,
                at,
                option,
                rationale,
                funded_by,
                note: Some("a note".into()),
            },
            Command::AddRisk { text, .. } => Command::AddRisk {
                text,
                stage: Some("engagement".into()),
            },
            Command::AddBenefit { text, .. } => Command::AddBenefit {
                text,
                measure: Some("builds a year".into()),
                plan: crate::measured_plan(),
            },
            Command::ChangeBenefit { id, text, .. } => Command::ChangeBenefit {
                id,
                text,
                measure: Some("hours a month".into()),
                plan: crate::measured_plan(),
            },
            Command::RecordReading {
                id, value, date, ..
            } => Command::RecordReading {
                id,
                value,
                date,
                note: Some("from the service desk".into()),
            },
            Command::LinkInitiative { name, .. } => Command::LinkInitiative {
                name,
                description: "desktop refresh".into(),
            },
            Command::ScheduleWorkshop { id, .. } => Command::ScheduleWorkshop {
                id,
                plan: WorkshopPlan {
                    attendees: vec![Attendee {
                        email: "guest@example.org".into(),
                        name: Some("Guest".into()),
                        person: None,
                    }],
                    ..workshop_plan()
                },
            },
            Command::RecordWorkshopNotes { id, .. } => Command::RecordWorkshopNotes {
                id,
                notes: WorkshopNotes {
                    sponsorship: "s".into(),
                    strategy: "s".into(),
                    business_need: "n".into(),
                    budget: "b".into(),
                    governance: "g".into(),
                },
            },
            other => other,
        })
        .collect();
    for artefact in [
        Artefact::Sprint {
            id: None,
            name: "Sprint 1".into(),
            starts: "2026-12-01".into(),
            ends: "2026-12-14".into(),
            goal: "Pilot".into(),
        },
        Artefact::Feature {
            id: None,
            capability: "Intune".into(),
            status: WorkStatus::Planned,
            sprint: None,
        },
        Artefact::Story {
            id: None,
            as_a: "user".into(),
            i_want: "a desktop".into(),
            so_that: "I work".into(),
            acceptance: "it boots".into(),
            status: WorkStatus::Planned,
        },
        Artefact::Guide {
            id: None,
            title: "Guide".into(),
            markdown: "# Guide".into(),
        },
    ] {
        cmds.push(Command::SaveArtefact { artefact });
    }
    cmds
}

#[test]
fn every_text_field_of_every_command_is_bounded_and_clean() {
    let huge = "x".repeat(2 * 1024 * 1024);
    let mut walked = 0;
    for cmd in full_commands() {
        let e = setting(&cmd);
        // Each command as sent is accepted, so a refusal below is the value's.
        decide(model(), &e, &staff(), &people(), &cmd)
            .unwrap_or_else(|err| panic!("{} as sent: {err}", cmd.name()));
        let json = serde_json::to_value(&cmd).unwrap();
        let mut paths = Vec::new();
        leaves(&json, &mut Vec::new(), &mut paths);
        for path in paths {
            for bad in [
                huge.as_str(),
                "a\u{1b}[2Jb",
                "Guest\r\nORGANIZER:mailto:x@evil.example",
            ] {
                let mut v = json.clone();
                set(&mut v, &path, bad);
                // Tags and choices (the command, a status) refuse any
                // value they do not know when read.
                let Ok(c) = serde_json::from_value::<Command>(v) else {
                    continue;
                };
                match decide(model(), &e, &staff(), &people(), &c) {
                    Err(DomainError::Invalid { field, .. }) => {
                        assert_eq!(field, field_for(&path), "{} at {path:?}", cmd.name())
                    }
                    // Multi-line text may hold CR LF: it is kept as LF.
                    Ok(events) if bad.starts_with("Guest") => {
                        let text = serde_json::to_string(&events).unwrap();
                        assert!(!text.contains("\\r"), "{} at {path:?}", cmd.name());
                    }
                    other => panic!(
                        "{} at {path:?} with {} bytes: expected a field error, got {other:?}",
                        cmd.name(),
                        bad.len()
                    ),
                }
                walked += 1;
            }
        }
    }
    // 76 text fields across the commands, each tried with three values.
    assert_eq!(walked, 228);
}
