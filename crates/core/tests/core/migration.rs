//! Moving live engagements from the five-stage model to the framework.

use std::sync::OnceLock;

use waymark_core::migration::{Mapping, StepMove, StepRef, migrate};
use waymark_core::*;
use waymark_model::Model;

use crate::*;

fn framework() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| {
        let dir = format!("{}/../../content/framework", env!("CARGO_MANIFEST_DIR"));
        let (files, _) = waymark_model::read_paths(&[dir.into()]).unwrap();
        waymark_model::build(files).model
    })
}

fn proposal() -> Mapping {
    let d = waymark_model::diff::diff(model(), framework());
    Mapping::propose("hash-1", "hash-2", &d)
}

fn set(e: &mut Engagement, stage: &str, step: u32, status: StepStatus) {
    let cmd = match status {
        StepStatus::Skipped { reason } => Command::SkipStep {
            stage: stage.into(),
            step,
            reason: reason.into(),
        },
        status => Command::SetStep {
            stage: stage.into(),
            step,
            status,
        },
    };
    run(e, &staff(), cmd, 5).unwrap();
}

/// An engagement whose `stage` is active, with its first step done.
fn at(stage: &str) -> Engagement {
    let mut e = engagement();
    if stage != "engagement" {
        run(
            &mut e,
            &staff(),
            Command::StartStage {
                stage: stage.into(),
            },
            3,
        )
        .unwrap();
    }
    set(&mut e, stage, 1, StepStatus::Done);
    e
}

fn moved(e: &mut Engagement, mapping: &Mapping) -> Vec<String> {
    let ev = migrate(&staff(), e, model(), framework(), mapping)
        .unwrap()
        .expect("an event");
    let Event::Migrated { archived, .. } = &ev else {
        panic!("{ev:?}")
    };
    let archived = archived.clone();
    e.apply(&ev, STAFF, Timestamp(100));
    archived
}

#[test]
fn an_engagement_at_every_stage_moves_to_the_framework() {
    let cases = [
        ("engagement", "connect-align"),
        ("discovery", "prepare-design"),
        ("deploy", "deploy-embed"),
        ("transition", "adopt-engage"),
        ("adoption-evaluation", "assess-advocate"),
    ];
    let mapping = proposal();
    for (old, new) in cases {
        let mut e = at(old);
        let before_risks = e.risks.clone();
        moved(&mut e, &mapping);
        assert_eq!(e.model_hash, "hash-2");
        let slugs: Vec<&str> = e.stages.iter().map(|s| s.stage.as_str()).collect();
        assert_eq!(
            slugs,
            [
                "connect-align",
                "prepare-design",
                "deploy-embed",
                "adopt-engage",
                "assess-advocate"
            ]
        );
        assert_eq!(e.stage(new).unwrap().status, StageStatus::Active, "{old}");
        // Step 1's state follows it where it has a counterpart.
        let m = mapping
            .steps
            .iter()
            .find(|m| m.from.stage == old && m.from.step == 1)
            .unwrap();
        match &m.to {
            Some(to) => assert_eq!(e.step(&to.stage, to.step), StepStatus::Done, "{old}"),
            None => assert!(
                e.archived.iter().any(|a| a.text.starts_with("Step 1 of")),
                "{old}: {:?}",
                e.archived
            ),
        }
        assert_eq!(e.risks.len(), before_risks.len(), "risks are never lost");
    }
}

#[test]
fn what_has_no_place_is_kept_as_from_the_previous_model() {
    let mut e = at("engagement");
    set(&mut e, "engagement", 2, StepStatus::Done);
    run(
        &mut e,
        &staff(),
        Command::Decide {
            stage: "engagement".into(),
            at: DecisionAt::Point { index: 0 },
            option: 0,
            rationale: "We want to know our readiness.".into(),
            funded_by: Funder::Dta,
            note: None,
        },
        6,
    )
    .unwrap();
    let archived = moved(&mut e, &proposal());
    // "Request support" has no counterpart; the framework has no decision
    // points, so the decision is kept in words.
    assert!(
        archived
            .iter()
            .any(|a| a.contains("Request support") && a.contains("done")),
        "{archived:?}"
    );
    assert!(
        archived
            .iter()
            .any(|a| a.contains("Undertake discovery?") && a.contains("readiness")),
        "{archived:?}"
    );
    assert_eq!(e.archived.len(), archived.len());
    assert!(e.decisions.is_empty());
    // Discovery, entered by the decision, is Prepare and Design now.
    assert_eq!(
        e.stage("prepare-design").unwrap().status,
        StageStatus::Active
    );
}

#[test]
fn a_second_run_changes_nothing() {
    let mut e = at("discovery");
    let mapping = proposal();
    moved(&mut e, &mapping);
    assert_eq!(
        migrate(&staff(), &e, model(), framework(), &mapping).unwrap(),
        None
    );
}

#[test]
fn replaying_the_event_gives_the_same_state() {
    let mut a = at("transition");
    let b = a.clone();
    let ev = migrate(&staff(), &a, model(), framework(), &proposal())
        .unwrap()
        .unwrap();
    a.apply(&ev, STAFF, Timestamp(9));
    let mut c = b.clone();
    c.apply(&ev, STAFF, Timestamp(9));
    assert_eq!(
        serde_json::to_value(&a).unwrap(),
        serde_json::to_value(&c).unwrap()
    );
}

#[test]
fn two_steps_sent_to_one_in_conflicting_states_are_refused_with_why() {
    let mut e = at("engagement");
    set(&mut e, "engagement", 3, StepStatus::InProgress);
    let mut mapping = proposal();
    let target = StepRef {
        stage: "connect-align".into(),
        step: 3,
    };
    for m in &mut mapping.steps {
        if m.from.stage == "engagement" && m.from.step == 3 {
            m.to = Some(target.clone());
        }
    }
    let err = migrate(&staff(), &e, model(), framework(), &mapping).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("both map to step 3 of “connect-align”"),
        "{text}"
    );
    assert!(
        text.contains("done") && text.contains("in progress"),
        "{text}"
    );
    // In the same state they merge.
    set(&mut e, "engagement", 3, StepStatus::Done);
    assert!(migrate(&staff(), &e, model(), framework(), &mapping).is_ok());
}

#[test]
fn a_mapping_that_names_what_does_not_exist_or_repeats_is_refused() {
    let e = at("engagement");
    let mut bad = proposal();
    bad.steps.push(StepMove {
        from: StepRef {
            stage: "engagement".into(),
            step: 99,
        },
        to: None,
    });
    assert!(
        migrate(&staff(), &e, model(), framework(), &bad)
            .unwrap_err()
            .to_string()
            .contains("no step 99")
    );
    let mut bad = proposal();
    bad.steps[0].to = Some(StepRef {
        stage: "nowhere".into(),
        step: 1,
    });
    assert!(
        migrate(&staff(), &e, model(), framework(), &bad)
            .unwrap_err()
            .to_string()
            .contains("nowhere")
    );
    let mut bad = proposal();
    let first = bad.steps[0].clone();
    bad.steps.push(first);
    assert!(
        migrate(&staff(), &e, model(), framework(), &bad)
            .unwrap_err()
            .to_string()
            .contains("mapped twice")
    );
}

#[test]
fn only_the_programme_migrates_and_only_from_the_mapped_version() {
    let e = at("engagement");
    for actor in [member(), sponsor(), partner()] {
        assert!(matches!(
            migrate(&actor, &e, model(), framework(), &proposal()),
            Err(DomainError::Forbidden { .. })
        ));
    }
    let mut other = proposal();
    other.from = "some-other-version".into();
    let err = migrate(&staff(), &e, model(), framework(), &other).unwrap_err();
    assert!(err.to_string().contains("runs on model version"), "{err}");
}

#[test]
fn owners_follow_their_steps() {
    let mut e = at("adoption-evaluation");
    run(
        &mut e,
        &staff(),
        Command::SetOwner {
            item: Item::Step {
                stage: "adoption-evaluation".into(),
                step: 2,
            },
            owner: Some(MEMBER),
            due: None,
        },
        7,
    )
    .unwrap();
    moved(&mut e, &proposal());
    assert_eq!(
        e.owners[0].item,
        Item::Step {
            stage: "assess-advocate".into(),
            step: 4
        }
    );
}

#[test]
fn lessons_follow_their_steps_even_where_no_step_was_recorded() {
    let mut e = at("engagement");
    run(
        &mut e,
        &member(),
        Command::ScheduleWorkshop {
            id: None,
            plan: WorkshopPlan {
                retro: true,
                ..workshop_plan()
            },
        },
        6,
    )
    .unwrap();
    let mapping = proposal();
    // A step of a stage that never started, with a counterpart.
    let mapped = mapping
        .steps
        .iter()
        .find(|m| m.from.stage == "discovery" && m.to.is_some())
        .unwrap()
        .clone();
    run(
        &mut e,
        &member(),
        Command::RecordLesson {
            workshop: 1,
            kind: lesson::LessonKind::ToImprove,
            text: "Book the assessor earlier.".into(),
            stage: "discovery".into(),
            step: Some(mapped.from.step),
        },
        7,
    )
    .unwrap();
    moved(&mut e, &mapping);
    let to = mapped.to.unwrap();
    assert_eq!(
        (e.lessons[0].stage.as_str(), e.lessons[0].step),
        (to.stage.as_str(), Some(to.step))
    );
}
