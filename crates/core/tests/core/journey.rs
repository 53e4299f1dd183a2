//! One engagement from start to finish, as the issue describes it.

use waymark_core::*;
use waymark_model::Effect;

use crate::*;

/// The index of `stage`'s exit option that enters `target`.
fn exit_to(stage: &str, target: &str) -> usize {
    model()
        .stage(stage)
        .unwrap()
        .exits
        .iter()
        .position(|o| {
            o.effect
                == Effect::EnterStage {
                    stage: target.into(),
                }
        })
        .unwrap()
}

fn status(e: &Engagement, stage: &str) -> (StageStatus, u32) {
    let s = e.stage(stage).unwrap();
    (s.status, s.cycles)
}

#[test]
fn a_whole_engagement() {
    let mut e = engagement();
    let mut t = 1_700_000_100;
    let mut tick = || {
        t += 3600;
        t
    };
    assert_eq!(status(&e, "engagement"), (StageStatus::Active, 1));

    // Engagement: the agency does its steps.
    for step in 1..=3 {
        run(
            &mut e,
            &member(),
            Command::SetStep {
                stage: "engagement".into(),
                step,
                status: StepStatus::Done,
            },
            tick(),
        )
        .unwrap();
    }
    assert_eq!(e.step("engagement", 2), StepStatus::Done);

    // The discovery decision: Discovery, funded by the DTA.
    let events = run(
        &mut e,
        &sponsor(),
        Command::Decide {
            stage: "engagement".into(),
            at: DecisionAt::Point { index: 0 },
            option: 0,
            rationale: "We need to understand our readiness first.".into(),
            funded_by: Funder::Dta,
            note: None,
        },
        tick(),
    )
    .unwrap();
    assert!(events.contains(&Event::StageEntered {
        stage: "discovery".into(),
        cycle: 1
    }));
    assert_eq!(e.decisions[0].question, "Undertake discovery?");
    assert_eq!(
        e.decisions[0].effect,
        Effect::EnterStage {
            stage: "discovery".into()
        }
    );
    assert_eq!(e.decisions[0].decided_by, SPONSOR);
    run(
        &mut e,
        &staff(),
        Command::CompleteStage {
            stage: "engagement".into(),
        },
        tick(),
    )
    .unwrap();

    // Discovery: steps done, one skipped with a reason, which raises risks.
    run(
        &mut e,
        &staff(),
        Command::PlanDiscovery { weeks: 6 },
        tick(),
    )
    .unwrap();
    for step in [1, 2, 3, 4, 6] {
        run(
            &mut e,
            &partner(),
            Command::SetStep {
                stage: "discovery".into(),
                step,
                status: StepStatus::Done,
            },
            tick(),
        )
        .unwrap();
    }
    let raised = run(
        &mut e,
        &member(),
        Command::SkipStep {
            stage: "discovery".into(),
            step: 5,
            reason: "Security was assessed last quarter.".into(),
        },
        tick(),
    )
    .unwrap();
    let discovery_risks = model().stage("discovery").unwrap().risks.len();
    assert_eq!(raised.len(), 1 + discovery_risks);
    assert_eq!(e.risks.iter().filter(|r| r.open).count(), discovery_risks);
    assert!(
        matches!(&e.risks[0].source, RiskSource::Skipped { stage, step: 5 } if stage == "discovery")
    );

    // Discovery's exit: on to Deploy.
    let deploy = exit_to("discovery", "deploy");
    run(
        &mut e,
        &sponsor(),
        Command::Decide {
            stage: "discovery".into(),
            at: DecisionAt::Exit,
            option: deploy,
            rationale: "Business case approved.".into(),
            funded_by: Funder::Agency,
            note: None,
        },
        tick(),
    )
    .unwrap();
    assert_eq!(status(&e, "discovery"), (StageStatus::Completed, 1));
    assert_eq!(status(&e, "deploy"), (StageStatus::Active, 1));

    // A Deploy cycle, then Deploy again: a new cycle with fresh steps.
    for step in 1..=2 {
        run(
            &mut e,
            &partner(),
            Command::SetStep {
                stage: "deploy".into(),
                step,
                status: StepStatus::Done,
            },
            tick(),
        )
        .unwrap();
    }
    let again = exit_to("deploy", "deploy");
    run(
        &mut e,
        &staff(),
        Command::Decide {
            stage: "deploy".into(),
            at: DecisionAt::Exit,
            option: again,
            rationale: "More features next.".into(),
            funded_by: Funder::Agency,
            note: Some("Teams phone".into()),
        },
        tick(),
    )
    .unwrap();
    assert_eq!(status(&e, "deploy"), (StageStatus::Active, 2));
    assert_eq!(
        e.step("deploy", 1),
        StepStatus::Todo,
        "a new cycle starts its steps afresh"
    );

    // Transition alongside Deploy: stages run at the same time.
    run(
        &mut e,
        &staff(),
        Command::StartStage {
            stage: "transition".into(),
        },
        tick(),
    )
    .unwrap();
    assert_eq!(e.active_stages().count(), 2);
    for step in 1..=6 {
        run(
            &mut e,
            &member(),
            Command::SetStep {
                stage: "transition".into(),
                step,
                status: StepStatus::Done,
            },
            tick(),
        )
        .unwrap();
    }
    run(
        &mut e,
        &staff(),
        Command::CompleteStage {
            stage: "deploy".into(),
        },
        tick(),
    )
    .unwrap();
    let adoption = exit_to("transition", "adoption-evaluation");
    run(
        &mut e,
        &sponsor(),
        Command::Decide {
            stage: "transition".into(),
            at: DecisionAt::Exit,
            option: adoption,
            rationale: "Change embedded.".into(),
            funded_by: Funder::CoFunded,
            note: None,
        },
        tick(),
    )
    .unwrap();

    // Adoption and Evaluation to completion, with success checked off.
    for step in 1..=2 {
        run(
            &mut e,
            &member(),
            Command::SetStep {
                stage: "adoption-evaluation".into(),
                step,
                status: StepStatus::Done,
            },
            tick(),
        )
        .unwrap();
    }
    run(
        &mut e,
        &member(),
        Command::CheckSuccess {
            stage: "adoption-evaluation".into(),
            criterion: 0,
            evidence: "Posted three articles on the portal.".into(),
        },
        tick(),
    )
    .unwrap();
    run(
        &mut e,
        &staff(),
        Command::CompleteStage {
            stage: "adoption-evaluation".into(),
        },
        tick(),
    )
    .unwrap();

    assert_eq!(e.active_stages().count(), 0);
    for s in [
        "engagement",
        "discovery",
        "deploy",
        "transition",
        "adoption-evaluation",
    ] {
        assert_eq!(e.stage(s).unwrap().status, StageStatus::Completed, "{s}");
    }
    assert_eq!(e.decisions.len(), 4);
    assert_eq!(e.mode, Mode::DoItWithYou);
}

#[test]
fn replaying_the_events_gives_the_same_state() {
    let mut e = engagement();
    let mut log: Vec<(Event, PersonId, i64)> = Vec::new();
    let mut fresh = Engagement::new(EngagementId(1), AGENCY);
    for ev in start(model(), "hash-1", AGENCY, &staff(), Mode::DoItWithYou).unwrap() {
        log.push((ev, STAFF, 1_700_000_000));
    }
    log.push((
        Event::Assigned {
            person: PARTNER,
            partner: Some(PartnerKind::Technology),
        },
        STAFF,
        1_700_000_001,
    ));
    let cmds = [
        (
            member(),
            Command::SkipStep {
                stage: "engagement".into(),
                step: 1,
                reason: "Read it already.".into(),
            },
        ),
        (
            staff(),
            Command::AddRisk {
                text: "Budget not confirmed".into(),
                stage: None,
            },
        ),
        (
            staff(),
            Command::CloseRisk {
                id: 1,
                note: "Accepted.".into(),
            },
        ),
        (
            partner(),
            Command::AttachDocument {
                file: 1,
                title: "Business case".into(),
                name: "case.pdf".into(),
                content_type: "application/pdf".into(),
                size: 10,
                sha256: "a".repeat(64).into(),
            },
        ),
        (
            sponsor(),
            Command::SignOff {
                document: "letter-of-intent-v1".into(),
                sha256: "a".repeat(64).into(),
            },
        ),
    ];
    for (i, (actor, cmd)) in cmds.into_iter().enumerate() {
        for ev in run(&mut e, &actor, cmd, 1_700_000_100 + i as i64).unwrap() {
            log.push((ev, actor.person, 1_700_000_100 + i as i64));
        }
    }
    for (ev, by, at) in &log {
        fresh.apply(ev, *by, Timestamp(*at));
    }
    fresh.version = e.version;
    assert_eq!(fresh, e);
    // And events survive a JSON round trip unchanged (the store keeps JSON).
    for (ev, _, _) in &log {
        let back: Event = serde_json::from_str(&serde_json::to_string(ev).unwrap()).unwrap();
        assert_eq!(&back, ev);
    }
}
