//! Every command against every kind of actor. Each command is valid in its
//! setting, so the outcome shows the permission rule alone.

use waymark_core::*;

use crate::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Forbidden,
    NotFound,
}
use Outcome::*;

fn commands() -> Vec<Command> {
    vec![
        Command::StartStage {
            stage: "discovery".into(),
        },
        Command::CompleteStage {
            stage: "engagement".into(),
        },
        Command::SetStep {
            stage: "engagement".into(),
            step: 1,
            status: StepStatus::Done,
        },
        Command::SkipStep {
            stage: "engagement".into(),
            step: 1,
            reason: "done elsewhere".into(),
        },
        Command::Decide {
            stage: "engagement".into(),
            at: DecisionAt::Point { index: 0 },
            option: 0,
            rationale: "why".into(),
            funded_by: Funder::Dta,
            note: None,
        },
        Command::CheckSuccess {
            stage: "engagement".into(),
            criterion: 1,
            evidence: "minutes".into(),
        },
        Command::AddRisk {
            text: "risk".into(),
            stage: None,
        },
        Command::CloseRisk {
            id: 1,
            note: "handled".into(),
        },
        Command::AddBenefit {
            text: "benefit".into(),
            measure: None,
            plan: Default::default(),
        },
        Command::ChangeBenefit {
            id: 1,
            text: "Less time patching, and fewer late patches".into(),
            measure: None,
            plan: crate::measured_plan(),
        },
        Command::RecordReading {
            id: 1,
            value: "80 hours".into(),
            date: "2026-06-01".into(),
            note: None,
        },
        Command::AdoptBenefits {
            stage: "engagement".into(),
        },
        Command::RecordLesson {
            workshop: 2,
            kind: waymark_core::lesson::LessonKind::ToImprove,
            text: "Book the security assessor earlier.".into(),
            stage: "discovery".into(),
            step: Some(5),
        },
        Command::ProposeLesson {
            id: 2,
            target: waymark_core::lesson::ProposedFor::Blueprint,
        },
        Command::AcceptLesson {
            id: 1,
            post_in: None,
            article: Some(7),
            question: None,
        },
        Command::DeclineLesson {
            id: 1,
            reason: "The guidance says this already.".into(),
        },
        Command::LinkInitiative {
            name: "Records uplift".into(),
            description: String::new().into(),
        },
        Command::SetSponsor { person: SPONSOR },
        Command::Assign {
            person: PersonId(31),
            partner: None,
        },
        Command::Unassign { person: PARTNER },
        Command::PlanDiscovery { weeks: 6 },
        Command::SignOff {
            document: "loi".into(),
            sha256: "d".repeat(64).into(),
        },
        Command::ReturnToProgramme,
        Command::SetOwner {
            item: Item::Risk { id: 1 },
            owner: Some(SPONSOR),
            due: Some("2027-01-15".into()),
        },
        Command::ScheduleWorkshop {
            id: None,
            plan: crate::workshop_plan(),
        },
        Command::CancelWorkshop { id: 1 },
        Command::RecordWorkshopNotes {
            id: 1,
            notes: WorkshopNotes {
                budget: "Funded from the ICT capital budget".into(),
                ..WorkshopNotes::default()
            },
        },
        Command::SaveArtefact {
            artefact: Artefact::ExecutionPlan {
                text: "Acquire E5 licences".into(),
            },
        },
        Command::IssueLetter {
            kind: LetterKind::LetterOfIntent,
            sha256: "e".repeat(64).into(),
        },
        Command::AttachDocument {
            file: 1,
            title: "Business case".into(),
            name: "case.pdf".into(),
            content_type: "application/pdf".into(),
            size: 10,
            sha256: "f".repeat(64).into(),
        },
        Command::Comment {
            about: waymark_core::discussion::Anchor::Step {
                stage: "engagement".into(),
                step: 1,
            },
            body: "Who runs the kick-off?".into(),
        },
        Command::EditComment {
            id: 1,
            body: "A better first word".into(),
        },
        Command::HideComment {
            id: 1,
            reason: "Off topic".into(),
        },
    ]
}

/// The engagement each command is tried on: one open risk to close, and
/// Do it Yourself for the command that brings it back.
fn setting(cmd: &Command) -> Engagement {
    crate::setting(cmd, &directory(), &[])
}

fn outcome(actor: &Actor, cmd: &Command) -> Outcome {
    match decide(model(), &setting(cmd), actor, &directory(), cmd) {
        Ok(_) => Allowed,
        Err(DomainError::Forbidden { .. }) => Forbidden,
        Err(DomainError::NotFound) => NotFound,
        Err(other) => panic!(
            "{} by {:?} failed on something other than permission: {other}",
            cmd.name(),
            actor.roles
        ),
    }
}

#[test]
fn every_command_for_every_role() {
    let actors = [
        ("programme admin", admin()),
        ("programme staff", staff()),
        ("agency member", member()),
        ("executive sponsor", sponsor()),
        ("other agency", other_member()),
        ("assigned partner", partner()),
        ("unassigned partner", stranger_partner()),
    ];
    // Columns in the order of `actors`.
    let expected: &[(&str, [Outcome; 7])] = &[
        (
            "start_stage",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Forbidden, NotFound,
            ],
        ),
        (
            "complete_stage",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Forbidden, NotFound,
            ],
        ),
        (
            "set_step",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        (
            "skip_step",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        (
            "decide",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Forbidden, NotFound,
            ],
        ),
        (
            "check_success",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        (
            "add_risk",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        (
            "close_risk",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Forbidden, NotFound,
            ],
        ),
        (
            "add_benefit",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        (
            "change_benefit",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        (
            "record_reading",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        (
            "adopt_benefits",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        (
            "record_lesson",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        (
            "propose_lesson",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        (
            "accept_lesson",
            [
                Allowed, Allowed, Forbidden, Forbidden, NotFound, Forbidden, NotFound,
            ],
        ),
        (
            "decline_lesson",
            [
                Allowed, Allowed, Forbidden, Forbidden, NotFound, Forbidden, NotFound,
            ],
        ),
        (
            "link_initiative",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        (
            "set_sponsor",
            [
                Allowed, Allowed, Forbidden, Allowed, NotFound, Forbidden, NotFound,
            ],
        ),
        (
            "assign",
            [
                Allowed, Allowed, Forbidden, Forbidden, NotFound, Forbidden, NotFound,
            ],
        ),
        (
            "unassign",
            [
                Allowed, Allowed, Forbidden, Forbidden, NotFound, Forbidden, NotFound,
            ],
        ),
        (
            "plan_discovery",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Forbidden, NotFound,
            ],
        ),
        (
            "sign_off",
            [
                Allowed, Allowed, Forbidden, Allowed, NotFound, Forbidden, NotFound,
            ],
        ),
        (
            "return_to_programme",
            [
                Allowed, Allowed, Forbidden, Forbidden, NotFound, Forbidden, NotFound,
            ],
        ),
        (
            "set_owner",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        (
            "schedule_workshop",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Forbidden, NotFound,
            ],
        ),
        (
            "cancel_workshop",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Forbidden, NotFound,
            ],
        ),
        (
            "record_workshop_notes",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        (
            "save_artefact",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        (
            "issue_letter",
            [
                Allowed, Allowed, Forbidden, Forbidden, NotFound, Forbidden, NotFound,
            ],
        ),
        (
            "attach_document",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        (
            "comment",
            [
                Allowed, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        // Comment 1 is the programme staff's own.
        (
            "edit_comment",
            [
                Forbidden, Allowed, Forbidden, Forbidden, NotFound, Forbidden, NotFound,
            ],
        ),
        (
            "hide_comment",
            [
                Allowed, Allowed, Forbidden, Forbidden, NotFound, Forbidden, NotFound,
            ],
        ),
    ];
    let cmds = commands();
    assert_eq!(cmds.len(), expected.len());
    let mut mismatches = Vec::new();
    for (cmd, (name, row)) in cmds.iter().zip(expected) {
        assert_eq!(cmd.name(), *name);
        for ((who, actor), want) in actors.iter().zip(row) {
            let got = outcome(actor, cmd);
            if got != *want {
                mismatches.push(format!("{name} by {who}: expected {want:?}, got {got:?}"));
            }
            // What views ask (`may`, and the table of every kind) is what
            // `decide` enforces.
            if waymark_core::may(actor, &setting(cmd), cmd) != (got == Allowed) {
                mismatches.push(format!("{name} by {who}: `may` disagrees with `decide`"));
            }
            // Pages offer "Edit" only beside one's own comments: the table
            // answers for an own comment, this setting's is the staff's.
            let own = *name == "edit_comment";
            if !own
                && waymark_core::allowed_commands(actor, &setting(cmd)).get(name)
                    != Some(&(got == Allowed))
            {
                mismatches.push(format!(
                    "{name} by {who}: `allowed_commands` disagrees with `decide`"
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    // Every command kind is in the table (plus `start`, tested below).
    let mut names: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
    names.push("start");
    names.sort_unstable();
    let mut all = Command::NAMES.to_vec();
    all.sort_unstable();
    assert_eq!(names, all);
    // The table pages read has every kind but `start` (asked by `may_start`).
    let mut asked: Vec<&str> = waymark_core::allowed_commands(&staff(), &setting(&cmds[0]))
        .into_keys()
        .collect();
    asked.push("start");
    asked.sort_unstable();
    assert_eq!(asked, all);
}

#[test]
fn starting_an_engagement() {
    let ok = |a: &Actor, agency| start(model(), "h", agency, a, Mode::DoItWithYou).is_ok();
    assert!(ok(&staff(), AGENCY));
    assert!(ok(&member(), AGENCY));
    assert!(!ok(&member(), OTHER_AGENCY));
    assert!(!ok(&partner(), AGENCY));
    // What the agency page asks is what `start` enforces.
    for a in [staff(), member(), sponsor(), other_member(), partner()] {
        for agency in [AGENCY, OTHER_AGENCY] {
            assert_eq!(waymark_core::may_start(&a, agency), ok(&a, agency));
        }
    }
}

#[test]
fn other_agencies_cannot_tell_a_record_exists() {
    let e = engagement();
    let err = decide(
        model(),
        &e,
        &other_member(),
        &directory(),
        &Command::AddRisk {
            text: "x".into(),
            stage: None,
        },
    )
    .unwrap_err();
    assert_eq!(err, DomainError::NotFound);
    assert_eq!(err.code(), "not_found");
    assert_eq!(err.to_string(), "no such engagement");
}

#[test]
fn downloads_of_personal_data_are_limited_except_for_admins() {
    assert_eq!(admin().personal_data_limit(), None);
    for a in [staff(), member(), sponsor(), partner()] {
        assert_eq!(a.personal_data_limit(), Some(10), "{:?}", a.roles);
    }
    // Who may download whose: themselves, or an admin for anyone.
    assert!(member().may_see_personal_data(MEMBER).is_ok());
    assert!(admin().may_see_personal_data(MEMBER).is_ok());
    assert!(staff().may_see_personal_data(MEMBER).is_err());
}
