//! Workshops, letters, documents and delivery artefacts.

use waymark_core::*;

use crate::*;

#[test]
fn a_workshop_change_increments_its_sequence_and_cancel_ends_it() {
    let mut e = engagement();
    run(
        &mut e,
        &staff(),
        Command::ScheduleWorkshop {
            id: None,
            plan: workshop_plan(),
        },
        1,
    )
    .unwrap();
    let w = &e.workshops[0];
    assert_eq!((w.id, w.sequence, w.cancelled), (1, 0, false));
    // Emails are kept in one form, so the same person is not invited twice.
    assert_eq!(w.plan.attendees[0].email, "sam@agency.gov.au");

    // The same plan again changes nothing and is refused.
    let same = run(
        &mut e,
        &staff(),
        Command::ScheduleWorkshop {
            id: Some(1),
            plan: workshop_plan(),
        },
        2,
    );
    assert!(matches!(same, Err(DomainError::Rule(_))), "{same:?}");

    let mut later = workshop_plan();
    later.time = "14:30".into();
    run(
        &mut e,
        &staff(),
        Command::ScheduleWorkshop {
            id: Some(1),
            plan: later,
        },
        3,
    )
    .unwrap();
    assert_eq!(e.workshops[0].sequence, 1);
    assert_eq!(e.workshops[0].plan.time, "14:30");

    run(&mut e, &staff(), Command::CancelWorkshop { id: 1 }, 4).unwrap();
    assert!(e.workshops[0].cancelled);
    assert_eq!(e.workshops[0].sequence, 2);
    let again = run(&mut e, &staff(), Command::CancelWorkshop { id: 1 }, 5);
    assert!(again.is_err());

    // A second workshop gets the next id.
    run(
        &mut e,
        &staff(),
        Command::ScheduleWorkshop {
            id: None,
            plan: workshop_plan(),
        },
        6,
    )
    .unwrap();
    assert_eq!(e.workshops[1].id, 2);
}

#[test]
fn workshop_plans_are_checked() {
    let e = engagement();
    let bad = |f: fn(&mut WorkshopPlan), field: &str| {
        let mut p = workshop_plan();
        f(&mut p);
        match decide(
            model(),
            &e,
            &staff(),
            &directory(),
            &Command::ScheduleWorkshop { id: None, plan: p },
        ) {
            Err(DomainError::Invalid { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: expected invalid, got {other:?}"),
        }
    };
    bad(|p| p.date = "2026-02-30".into(), "date");
    bad(|p| p.date = "1/12/2026".into(), "date");
    bad(|p| p.time = "25:00".into(), "time");
    bad(|p| p.time = "9:5".into(), "time");
    bad(|p| p.timezone = "Mars; DROP".into(), "timezone");
    bad(|p| p.minutes = 5, "minutes");
    bad(|p| p.link = Some("javascript:alert(1)".into()), "link");
    bad(
        |p| {
            p.location = None;
            p.link = None;
        },
        "location",
    );
    bad(|p| p.attendees[0].email = "not-an-email".into(), "email");
    bad(|p| p.agenda = "  ".into(), "agenda");
    // Half past two does not exist in Sydney the morning the clocks go forward.
    bad(
        |p| {
            p.date = "2026-10-04".into();
            p.time = "02:30".into();
            p.timezone = "Australia/Sydney".into();
        },
        "time",
    );
    // A checked plan is one typed moment: local time, zone and instants.
    let when = workshop_plan().when().unwrap();
    assert_eq!(
        when.end - when.start,
        chrono::Duration::minutes(i64::from(workshop_plan().minutes))
    );
}

#[test]
fn notes_go_under_the_models_headings() {
    let mut e = engagement();
    run(
        &mut e,
        &staff(),
        Command::ScheduleWorkshop {
            id: None,
            plan: workshop_plan(),
        },
        1,
    )
    .unwrap();
    let empty = run(
        &mut e,
        &staff(),
        Command::RecordWorkshopNotes {
            id: 1,
            notes: WorkshopNotes::default(),
        },
        2,
    );
    assert!(empty.is_err());
    let notes = WorkshopNotes {
        sponsorship: " The Deputy Secretary sponsors it. ".into(),
        governance: "Monthly steering committee".into(),
        ..WorkshopNotes::default()
    };
    run(
        &mut e,
        &partner(),
        Command::RecordWorkshopNotes { id: 1, notes },
        3,
    )
    .unwrap();
    assert_eq!(
        e.workshops[0].notes.get("sponsorship"),
        "The Deputy Secretary sponsors it."
    );
    assert_eq!(WORKSHOP_HEADINGS.len(), 5);
}

#[test]
fn letters_are_versioned_and_a_new_version_needs_a_new_sign_off() {
    let mut e = engagement();
    run(&mut e, &staff(), Command::SetSponsor { person: SPONSOR }, 1).unwrap();
    let loi = LetterKind::LetterOfIntent.slug().to_string();
    let sign = |sha: &str| Command::SignOff {
        document: loi.clone().into(),
        sha256: sha.into(),
    };
    // Nothing to sign before a letter is issued.
    assert!(run(&mut e, &sponsor(), sign(&"a".repeat(64)), 1).is_err());

    let issue = |sha: &str| Command::IssueLetter {
        kind: LetterKind::LetterOfIntent,
        sha256: sha.into(),
    };
    run(&mut e, &staff(), issue(&"a".repeat(64)), 2).unwrap();
    // The same bytes again are not a new version.
    assert!(run(&mut e, &staff(), issue(&"a".repeat(64)), 3).is_err());
    run(&mut e, &sponsor(), sign(&"a".repeat(64)), 4).unwrap();
    assert!(!e.signoffs[0].superseded);
    assert!(e.is_signed(&loi, &"a".repeat(64)));
    // Signing the same version twice is refused.
    assert!(run(&mut e, &sponsor(), sign(&"a".repeat(64)), 5).is_err());

    run(&mut e, &staff(), issue(&"b".repeat(64)), 6).unwrap();
    assert_eq!(
        e.letters.iter().map(|l| l.version).collect::<Vec<_>>(),
        [1, 2]
    );
    // The one count of versions, as the letter page and issuing use it.
    assert_eq!(
        waymark_core::letter::next_version(&e, LetterKind::LetterOfIntent),
        3
    );
    assert_eq!(
        waymark_core::letter::next_version(&e, LetterKind::ClosureLetter),
        1
    );
    assert!(
        e.signoffs[0].superseded,
        "a new version supersedes the old sign-off"
    );
    assert!(!e.is_signed(&loi, &"a".repeat(64)));
    assert!(!e.is_signed(&loi, &"b".repeat(64)));
    // Only the latest version can be signed.
    let old = run(&mut e, &sponsor(), sign(&"a".repeat(64)), 7);
    assert!(
        matches!(old, Err(DomainError::Rule(ref m)) if m.contains("version 2")),
        "{old:?}"
    );
    run(&mut e, &sponsor(), sign(&"b".repeat(64)), 8).unwrap();
    assert_eq!(e.signoffs.iter().filter(|s| !s.superseded).count(), 1);

    // Closure letters are versioned on their own.
    run(
        &mut e,
        &staff(),
        Command::IssueLetter {
            kind: LetterKind::ClosureLetter,
            sha256: "c".repeat(64).into(),
        },
        9,
    )
    .unwrap();
    assert_eq!(e.letters.last().map(|l| l.version), Some(1));
    assert!(!e.signoffs[1].superseded);
}

#[test]
fn artefacts_get_ids_and_updates_replace_them() {
    let mut e = engagement();
    let sprint = |id, goal: &str| Command::SaveArtefact {
        artefact: Artefact::Sprint {
            id,
            name: "Sprint 1".into(),
            starts: "2027-01-04".into(),
            ends: "2027-01-15".into(),
            goal: goal.into(),
        },
    };
    run(&mut e, &partner(), sprint(None, "Pilot Teams"), 1).unwrap();
    run(
        &mut e,
        &partner(),
        sprint(Some(1), "Pilot Teams and OneDrive"),
        2,
    )
    .unwrap();
    assert_eq!(e.delivery.sprints.len(), 1);
    assert_eq!(e.delivery.sprints[0].goal, "Pilot Teams and OneDrive");
    assert!(run(&mut e, &partner(), sprint(Some(9), "x"), 3).is_err());

    let feature = |sprint| Command::SaveArtefact {
        artefact: Artefact::Feature {
            id: None,
            capability: "Microsoft Teams".into(),
            status: WorkStatus::Done,
            sprint,
        },
    };
    assert!(
        run(&mut e, &partner(), feature(Some(7)), 4).is_err(),
        "an unknown sprint"
    );
    run(&mut e, &partner(), feature(Some(1)), 5).unwrap();
    assert_eq!(e.delivery.features[0].sprint, Some(1));

    let backwards = Command::SaveArtefact {
        artefact: Artefact::Sprint {
            id: None,
            name: "S".into(),
            starts: "2027-02-01".into(),
            ends: "2027-01-01".into(),
            goal: "g".into(),
        },
    };
    assert!(run(&mut e, &partner(), backwards, 6).is_err());

    run(
        &mut e,
        &member(),
        Command::SaveArtefact {
            artefact: Artefact::Story {
                id: None,
                as_a: "records officer".into(),
                i_want: "to find files in Teams".into(),
                so_that: "I stop emailing attachments".into(),
                acceptance: "Search finds a file by title".into(),
                status: WorkStatus::Planned,
            },
        },
        7,
    )
    .unwrap();
    assert_eq!(e.delivery.stories[0].id, 1);
}

#[test]
fn old_records_without_the_new_fields_still_load() {
    let e = engagement();
    let mut v = serde_json::to_value(&e).unwrap();
    for k in ["workshops", "letters", "documents", "delivery"] {
        v.as_object_mut().unwrap().remove(k);
    }
    let back: Engagement = serde_json::from_value(v).unwrap();
    assert_eq!(back, e);
}

#[test]
fn only_an_invited_attendee_answers_a_workshop_that_is_on() {
    use waymark_core::mailbox::Answer;
    let mut e = engagement();
    run(
        &mut e,
        &staff(),
        Command::ScheduleWorkshop {
            id: None,
            plan: workshop_plan(),
        },
        1,
    )
    .unwrap();
    let ev = answer_invitation(
        &e,
        1,
        " SAM@agency.gov.au ",
        "sam@agency.gov.au",
        Answer::Declined,
    )
    .unwrap()
    .unwrap();
    e.apply(&ev, PersonId(0), Timestamp(0));
    assert_eq!(
        e.workshops[0].answer_of("sam@agency.gov.au"),
        Some(Answer::Declined)
    );
    // A newer answer replaces it.
    let ev = answer_invitation(
        &e,
        1,
        "sam@agency.gov.au",
        "sam@agency.gov.au",
        Answer::Accepted,
    )
    .unwrap()
    .unwrap();
    e.apply(&ev, PersonId(0), Timestamp(0));
    assert_eq!(e.workshops[0].answers.len(), 1);
    assert_eq!(
        e.workshops[0].answer_of("sam@agency.gov.au"),
        Some(Answer::Accepted)
    );
    assert!(matches!(
        answer_invitation(
            &e,
            1,
            "mallory@evil.example",
            "mallory@evil.example",
            Answer::Accepted
        ),
        Err(DomainError::Rule(_))
    ));
    assert!(matches!(
        answer_invitation(
            &e,
            2,
            "sam@agency.gov.au",
            "sam@agency.gov.au",
            Answer::Accepted
        ),
        Err(DomainError::NotFound)
    ));
    assert!(
        answer_invitation(&e, 1, "not an address", "not an address", Answer::Accepted).is_err()
    );
    run(&mut e, &staff(), Command::CancelWorkshop { id: 1 }, 2).unwrap();
    assert!(matches!(
        answer_invitation(
            &e,
            1,
            "sam@agency.gov.au",
            "sam@agency.gov.au",
            Answer::Accepted
        ),
        Err(DomainError::Rule(_))
    ));
}
