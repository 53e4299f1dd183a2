//! Specific rules, one test each.

use waymark_core::*;
use waymark_model::Effect;

use crate::*;

#[test]
fn skipping_needs_a_reason() {
    let mut e = engagement();
    for reason in ["", "   "] {
        let err = run(
            &mut e,
            &member(),
            Command::SkipStep {
                stage: "engagement".into(),
                step: 1,
                reason: reason.into(),
            },
            1,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                DomainError::Invalid {
                    field: "reason",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

#[test]
fn a_second_skip_does_not_raise_the_same_open_risks_again() {
    let mut e = engagement();
    run(
        &mut e,
        &member(),
        Command::SkipStep {
            stage: "engagement".into(),
            step: 1,
            reason: "a".into(),
        },
        1,
    )
    .unwrap();
    let n = e.risks.len();
    assert!(n > 0);
    run(
        &mut e,
        &member(),
        Command::SkipStep {
            stage: "engagement".into(),
            step: 2,
            reason: "b".into(),
        },
        2,
    )
    .unwrap();
    assert_eq!(e.risks.len(), n);
}

#[test]
fn do_it_yourself_ends_support_but_keeps_the_record() {
    let mut e = engagement();
    run(
        &mut e,
        &member(),
        Command::SetStep {
            stage: "engagement".into(),
            step: 1,
            status: StepStatus::Done,
        },
        1,
    )
    .unwrap();
    let diy = model().stage("engagement").unwrap().decisions[0]
        .choices
        .options
        .iter()
        .position(|o| o.effect == Effect::DoItYourself)
        .unwrap();
    run(
        &mut e,
        &sponsor(),
        Command::Decide {
            stage: "engagement".into(),
            at: DecisionAt::Point { index: 0 },
            option: diy,
            rationale: "We have the people.".into(),
            funded_by: Funder::Agency,
            note: None,
        },
        2,
    )
    .unwrap();
    assert_eq!(e.mode, Mode::DoItYourself);
    assert_eq!(e.stage("engagement").unwrap().status, StageStatus::Exited);
    assert_eq!(
        e.step("engagement", 1),
        StepStatus::Done,
        "the record stays"
    );
    let err = run(
        &mut e,
        &staff(),
        Command::AddRisk {
            text: "x".into(),
            stage: None,
        },
        3,
    )
    .unwrap_err();
    assert!(
        matches!(err, DomainError::Rule(ref m) if m.contains("Do it Yourself")),
        "{err:?}"
    );
    // The programme team can bring it back.
    assert!(run(&mut e, &member(), Command::ReturnToProgramme, 4).is_err());
    run(&mut e, &staff(), Command::ReturnToProgramme, 4).unwrap();
    assert_eq!(e.mode, Mode::DoItWithYou);
}

#[test]
fn options_come_from_the_model() {
    let mut e = engagement();
    let err = run(
        &mut e,
        &staff(),
        Command::Decide {
            stage: "engagement".into(),
            at: DecisionAt::Point { index: 0 },
            option: 3,
            rationale: "x".into(),
            funded_by: Funder::Dta,
            note: None,
        },
        1,
    )
    .unwrap_err();
    assert_eq!(
        err,
        DomainError::Invalid {
            field: "option",
            message: "choose one of the 3 options the model offers here".into()
        }
    );
    let err = run(
        &mut e,
        &staff(),
        Command::Decide {
            stage: "engagement".into(),
            at: DecisionAt::Point { index: 1 },
            option: 0,
            rationale: "x".into(),
            funded_by: Funder::Dta,
            note: None,
        },
        1,
    )
    .unwrap_err();
    assert!(matches!(err, DomainError::Invalid { field: "at", .. }));
    let err = run(
        &mut e,
        &staff(),
        Command::SetStep {
            stage: "nowhere".into(),
            step: 1,
            status: StepStatus::Done,
        },
        1,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("there is no stage “nowhere”"),
        "{err}"
    );
    let err = run(
        &mut e,
        &staff(),
        Command::SetStep {
            stage: "deploy".into(),
            step: 9,
            status: StepStatus::Done,
        },
        1,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "step: Deploy has no step 9 (its steps: 1, 2)"
    );
    let err = run(
        &mut e,
        &staff(),
        Command::Decide {
            stage: "engagement".into(),
            at: DecisionAt::Point { index: 0 },
            option: 0,
            rationale: " ".into(),
            funded_by: Funder::Dta,
            note: None,
        },
        1,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        DomainError::Invalid {
            field: "rationale",
            ..
        }
    ));
}

#[test]
fn a_completed_stage_can_be_entered_again() {
    let mut e = engagement();
    run(
        &mut e,
        &staff(),
        Command::CompleteStage {
            stage: "engagement".into(),
        },
        1,
    )
    .unwrap();
    assert!(
        run(
            &mut e,
            &staff(),
            Command::CompleteStage {
                stage: "engagement".into()
            },
            2
        )
        .is_err()
    );
    run(
        &mut e,
        &staff(),
        Command::StartStage {
            stage: "engagement".into(),
        },
        3,
    )
    .unwrap();
    assert_eq!(e.stage("engagement").unwrap().cycles, 2);
    assert!(
        run(
            &mut e,
            &staff(),
            Command::StartStage {
                stage: "engagement".into()
            },
            4
        )
        .is_err()
    );
}

#[test]
fn discovery_past_eight_weeks_is_flagged() {
    let mut e = engagement();
    let week = 7 * 24 * 3600;
    run(
        &mut e,
        &staff(),
        Command::StartStage {
            stage: "discovery".into(),
        },
        0,
    )
    .unwrap();
    // The bundled model's Discovery page says `timebox_weeks: [4, 8]`.
    let timebox = waymark_model::Timebox {
        min_weeks: Some(4),
        max_weeks: 8,
    };
    assert_eq!(model().stage("discovery").unwrap().timebox, Some(timebox));
    assert_eq!(e.warnings(model(), Timestamp(8 * week)), []);
    assert_eq!(
        e.warnings(model(), Timestamp(9 * week)),
        [Warning::Overrun {
            stage: "discovery".into(),
            timebox,
            planned_weeks: None,
            elapsed_weeks: 9
        }]
    );
    assert_eq!(
        e.warnings(model(), Timestamp(9 * week))[0].describe(model()),
        "Discovery has run 9 weeks; it is meant to take 4 to 8 weeks"
    );
    run(&mut e, &staff(), Command::PlanDiscovery { weeks: 10 }, 0).unwrap();
    assert_eq!(
        e.warnings(model(), Timestamp(week)),
        [Warning::Overrun {
            stage: "discovery".into(),
            timebox,
            planned_weeks: Some(10),
            elapsed_weeks: 1
        }]
    );
    assert!(run(&mut e, &staff(), Command::PlanDiscovery { weeks: 0 }, 0).is_err());
    // Once Discovery is over, its plan no longer warns; its real length does.
    run(
        &mut e,
        &staff(),
        Command::CompleteStage {
            stage: "discovery".into(),
        },
        2 * week,
    )
    .unwrap();
    assert_eq!(e.warnings(model(), Timestamp(20 * week)), []);
}

/// Any stage whose page gives a timebox is watched, and the cutoff lists
/// use agrees with the warning to the second.
#[test]
fn any_stage_with_a_timebox_is_watched_and_lists_agree() {
    let mut files = waymark_model::bundled();
    for f in &mut files {
        if f.name.ends_with("transition.md") {
            f.text = f.text.replacen(
                "title: Transition",
                "title: Transition\ntimebox_weeks: 3",
                1,
            );
        }
    }
    let loaded = waymark_model::build(files);
    let m = &loaded.model;
    let timebox = m.stage("transition").unwrap().timebox.unwrap();
    assert_eq!(timebox.describe(), "up to 3 weeks");
    let mut e = engagement();
    let start = 1_000_000;
    run(
        &mut e,
        &staff(),
        Command::StartStage {
            stage: "transition".into(),
        },
        start,
    )
    .unwrap();
    let week = 7 * 24 * 3600;
    for now in [start + 4 * week - 1, start + 4 * week, start + 4 * week + 1] {
        let warned = e
            .warnings(m, Timestamp(now))
            .iter()
            .any(|w| matches!(w, Warning::Overrun { stage, .. } if stage == "transition"));
        let listed = start < waymark_core::overrun_if_started_before(timebox, Timestamp(now)).0;
        assert_eq!(warned, listed, "at {now}");
    }
    assert!(
        e.warnings(m, Timestamp(start + 4 * week))
            .iter()
            .any(|w| matches!(w, Warning::Overrun { stage, .. } if stage == "transition"))
    );
}

#[test]
fn a_new_sign_off_supersedes_the_old_one() {
    let mut e = engagement();
    attach(&mut e, &["a", "b"]);
    run(
        &mut e,
        &sponsor(),
        Command::SignOff {
            document: "loi".into(),
            sha256: "a".repeat(64).into(),
        },
        1,
    )
    .unwrap();
    run(
        &mut e,
        &staff(),
        Command::SignOff {
            document: "loi".into(),
            sha256: "b".repeat(64).into(),
        },
        2,
    )
    .unwrap();
    assert_eq!(e.signoffs.len(), 2);
    assert!(e.signoffs[0].superseded && !e.signoffs[1].superseded);
    assert!(
        run(
            &mut e,
            &staff(),
            Command::SignOff {
                document: "loi".into(),
                sha256: "XYZ".into()
            },
            3
        )
        .is_err()
    );
}

#[test]
fn the_sponsor_named_on_the_engagement_may_sign() {
    let mut e = engagement();
    attach(&mut e, &["c"]);
    run(&mut e, &staff(), Command::SetSponsor { person: MEMBER }, 1).unwrap();
    run(
        &mut e,
        &member(),
        Command::SignOff {
            document: "loi".into(),
            sha256: "c".repeat(64).into(),
        },
        2,
    )
    .unwrap();
}

#[test]
fn nobody_who_has_left_is_named_sponsor_or_given_work() {
    let mut e = engagement();
    let mut people = directory();
    for p in &mut people {
        if p.id == MEMBER {
            p.deactivated_at = Some(Timestamp(1));
        }
    }
    let refused = decide(
        model(),
        &e,
        &staff(),
        &people,
        &Command::SetSponsor { person: MEMBER },
    );
    match refused {
        Err(DomainError::Invalid { message, .. }) => {
            assert!(message.contains("has left"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    // The same command names an active person.
    run(&mut e, &staff(), Command::SetSponsor { person: MEMBER }, 1).unwrap();
}
