//! The benefits register: measured benefits, readings, adoption from the
//! model, and the status derived from them.

use proptest::prelude::*;
use waymark_core::benefit::{Amount, PlanInput, Status, assess};
use waymark_core::*;

use crate::*;

fn field(r: Result<Vec<Event>, DomainError>) -> String {
    match r {
        Err(DomainError::Invalid { field, message }) => format!("{field}: {message}"),
        other => panic!("expected a field error, got {other:?}"),
    }
}

fn with_benefit() -> Engagement {
    let mut e = engagement();
    run(
        &mut e,
        &sponsor(),
        Command::AddBenefit {
            text: "Less time patching".into(),
            measure: Some("Hours a month spent patching desktops".into()),
            plan: PlanInput {
                owner: Some(SPONSOR),
                ..measured_plan()
            },
        },
        10,
    )
    .unwrap();
    e
}

fn reading(id: u32, value: &str, date: &str) -> Command {
    Command::RecordReading {
        id,
        value: value.into(),
        date: date.into(),
        note: None,
    }
}

#[test]
fn a_sponsor_measures_a_benefit_from_baseline_to_target() {
    let mut e = with_benefit();
    let b = e.benefit(1).unwrap();
    assert_eq!(b.plan.unit.as_deref(), Some("hours"));
    assert_eq!(b.plan.owner, Some(SPONSOR));
    assert_eq!(assess(b, "2026-02-01").status, Status::NotStarted);
    run(&mut e, &sponsor(), reading(1, "90 hours", "2026-03-01"), 11).unwrap();
    run(&mut e, &sponsor(), reading(1, "75", "2026-06-01"), 12).unwrap();
    let b = e.benefit(1).unwrap();
    assert_eq!(b.readings.len(), 2);
    assert_eq!(b.readings[1].by, SPONSOR);
    let a = assess(b, "2026-06-02");
    assert_eq!(a.status, Status::OnTrack, "{}", a.why);
    assert!(a.why.contains("2 readings"), "{}", a.why);
    // A correction for the same date replaces it in the status; both stay.
    run(&mut e, &sponsor(), reading(1, "99", "2026-06-01"), 13).unwrap();
    let b = e.benefit(1).unwrap();
    assert_eq!(b.readings.len(), 3);
    assert_eq!(assess(b, "2026-06-02").status, Status::AtRisk);
    run(&mut e, &sponsor(), reading(1, "48", "2027-01-01"), 14).unwrap();
    assert_eq!(
        assess(e.benefit(1).unwrap(), "2027-01-02").status,
        Status::Realised
    );
}

#[test]
fn readings_are_numbers_in_the_benefits_unit_after_its_baseline() {
    let e = with_benefit();
    let try_ = |c: Command| decide(model(), &e, &sponsor(), &directory(), &c);
    assert!(
        field(try_(reading(1, "12 days", "2026-03-01")))
            .starts_with("value: “12 days” is not a number of hours")
    );
    assert!(field(try_(reading(1, "lots", "2026-03-01"))).starts_with("value:"));
    assert!(field(try_(reading(1, "", "2026-03-01"))).starts_with("value: give a number"));
    assert!(
        field(try_(reading(1, "12", "2025-12-31")))
            .starts_with("date: a reading is dated on or after the baseline date (2026-01-01)")
    );
    assert!(field(try_(reading(1, "12", "31/12/2026"))).starts_with("date:"));
    assert!(field(try_(reading(1, "12", ""))).starts_with("date:"));
    assert!(
        field(try_(reading(2, "12", "2026-03-01")))
            .starts_with("id: there is no benefit 2: the register numbers them 1 to 1")
    );
    assert!(field(try_(reading(0, "12", "2026-03-01"))).starts_with("id:"));
    assert!(try_(reading(1, "12.5 Hours", "2026-03-01")).is_ok());
}

#[test]
fn a_plan_is_checked_field_by_field() {
    let e = engagement();
    let add = |plan: PlanInput| {
        let cmd = Command::AddBenefit {
            text: "Faster onboarding".into(),
            measure: None,
            plan,
        };
        let all: Vec<String> = cmd
            .text_problems()
            .iter()
            .map(|p| match p {
                DomainError::Invalid { field, .. } => field.to_string(),
                other => other.to_string(),
            })
            .collect();
        (all, decide(model(), &e, &sponsor(), &directory(), &cmd))
    };
    let (all, r) = add(PlanInput {
        target_date: Some("2025-06-30".into()),
        ..measured_plan()
    });
    assert_eq!(all, ["target_date"]);
    assert!(field(r).contains("after the baseline date (2026-01-01)"));
    let (all, _) = add(PlanInput {
        baseline: Some("a hundred".into()),
        target: Some("50 days".into()),
        target_date: Some("2026-02-30".into()),
        ..measured_plan()
    });
    assert_eq!(all, ["baseline", "target", "target_date"]);
    // An owner must take part in the engagement.
    let (_, r) = add(PlanInput {
        owner: Some(PersonId(40)),
        ..measured_plan()
    });
    assert!(field(r).starts_with("owner:"));
}

#[test]
fn a_change_keeps_what_readings_rely_on() {
    let mut e = with_benefit();
    run(&mut e, &sponsor(), reading(1, "90", "2026-03-01"), 11).unwrap();
    let change = |plan: PlanInput, text: &str| Command::ChangeBenefit {
        id: 1,
        text: text.into(),
        measure: Some("Hours a month spent patching desktops".into()),
        plan,
    };
    let try_ = |c: Command| decide(model(), &e, &sponsor(), &directory(), &c);
    let days = PlanInput {
        unit: Some("days".into()),
        owner: Some(SPONSOR),
        ..measured_plan()
    };
    assert!(
        field(try_(change(days, "Less time patching")))
            .starts_with("unit: benefit 1 already has readings in hours")
    );
    let later = PlanInput {
        baseline_date: Some("2026-04-01".into()),
        owner: Some(SPONSOR),
        ..measured_plan()
    };
    assert!(field(try_(change(later, "Less time patching"))).starts_with("baseline_date:"));
    let same = PlanInput {
        owner: Some(SPONSOR),
        ..measured_plan()
    };
    assert!(matches!(
        try_(change(same.clone(), "Less time patching")),
        Err(DomainError::Rule(_))
    ));
    let events = run(
        &mut e,
        &member(),
        change(same, "Less time patching, measured monthly"),
        12,
    )
    .unwrap();
    assert_eq!(events[0].kind(), "benefit_changed");
    assert_eq!(
        e.benefit(1).unwrap().text,
        "Less time patching, measured monthly"
    );
    assert_eq!(e.benefit(1).unwrap().readings.len(), 1);
}

#[test]
fn the_models_benefits_are_adopted_in_one_step_and_once() {
    let mut e = engagement();
    let stage = model().stage("engagement").unwrap();
    let events = run(
        &mut e,
        &sponsor(),
        Command::AdoptBenefits {
            stage: "engagement".into(),
        },
        10,
    )
    .unwrap();
    assert_eq!(events.len(), stage.benefits.len());
    assert!(events.len() >= 2);
    assert_eq!(e.benefits[0].text, stage.benefits[0].text().trim());
    assert_eq!(e.benefits[0].source.as_ref().unwrap().stage, "engagement");
    let again = decide(
        model(),
        &e,
        &sponsor(),
        &directory(),
        &Command::AdoptBenefits {
            stage: "engagement".into(),
        },
    );
    assert!(matches!(again, Err(DomainError::Rule(m)) if m.contains("already on the register")));
    let unknown = decide(
        model(),
        &e,
        &sponsor(),
        &directory(),
        &Command::AdoptBenefits {
            stage: "nowhere".into(),
        },
    );
    assert!(field(unknown).starts_with("stage:"));
}

#[test]
fn a_stale_reading_conflicts_with_a_change_to_its_benefit_only() {
    let changed = [Event::BenefitChanged {
        id: 1,
        text: "x".into(),
        measure: None,
        plan: Default::default(),
    }];
    assert!(conflicts(&reading(1, "1", "2026-03-01"), &changed));
    assert!(!conflicts(&reading(2, "1", "2026-03-01"), &changed));
    let read = [Event::BenefitReadingRecorded {
        id: 1,
        value: Amount::whole(1),
        date: "2026-03-01".into(),
        note: None,
    }];
    assert!(!conflicts(&reading(1, "2", "2026-03-02"), &read));
}

#[test]
fn events_from_before_the_register_measured_still_replay() {
    let old = r#"{"type":"benefit_added","text":"Faster onboarding","measure":"days"}"#;
    let ev: Event = serde_json::from_str(old).unwrap();
    let mut e = engagement();
    e.apply(&ev, STAFF, Timestamp(5));
    assert_eq!(e.benefits[0].text, "Faster onboarding");
    assert!(e.benefits[0].plan.is_empty());
    // And an event without a plan is written as before.
    assert_eq!(serde_json::to_string(&ev).unwrap(), old);
    // A saved state from before has no plan or readings either.
    let state = r#"{"text":"Faster onboarding","measure":null}"#;
    let b: Benefit = serde_json::from_str(state).unwrap();
    assert!(b.readings.is_empty());
}

proptest! {
    #[test]
    fn an_amount_reads_back_what_it_writes(
        whole in 0i64..1_000_000_000_000, part in 0u32..10_000, negative: bool,
    ) {
        let typed = format!("{}{whole}.{part:04}", if negative { "-" } else { "" });
        let a = Amount::parse("value", &typed, None).unwrap();
        let text = a.to_string();
        prop_assert_eq!(text.parse::<f64>().unwrap(), typed.parse::<f64>().unwrap());
        let back = Amount::parse("value", &text, None).unwrap();
        prop_assert_eq!(back, a);
        // As JSON, and grouped with a unit, it still reads back.
        let json: Amount = serde_json::from_value(serde_json::to_value(a).unwrap()).unwrap();
        prop_assert_eq!(json, a);
        for unit in ["hours", "$", "%"] {
            let shown = a.with_unit(Some(unit));
            prop_assert_eq!(Amount::parse("value", &shown, Some(unit)).unwrap(), a);
        }
    }

    #[test]
    fn any_typed_value_is_a_number_or_a_field_error(raw in "\\PC{0,60}") {
        match Amount::parse("value", &raw, Some("hours")) {
            Ok(a) => prop_assert!(a.to_string().parse::<f64>().is_ok()),
            Err(DomainError::Invalid { field, message }) => {
                prop_assert_eq!(field, "value");
                prop_assert!(message.chars().count() < 220);
            }
            Err(other) => prop_assert!(false, "{other}"),
        }
    }
}

#[test]
fn an_owner_who_has_left_stays_until_someone_is_chosen_instead() {
    let mut e = with_benefit();
    let mut people = directory();
    for p in &mut people {
        if p.id == SPONSOR {
            p.deactivated_at = Some(Timestamp(20));
        }
    }
    let change = |owner: Option<PersonId>, text: &str| Command::ChangeBenefit {
        id: 1,
        text: text.into(),
        measure: Some("Hours a month spent patching desktops".into()),
        plan: PlanInput {
            owner,
            ..measured_plan()
        },
    };
    // Fixing the words keeps the owner who has left.
    let events = decide(
        model(),
        &e,
        &staff(),
        &people,
        &change(Some(SPONSOR), "Less patching"),
    )
    .unwrap();
    for ev in &events {
        e.apply(ev, STAFF, Timestamp(21));
    }
    assert_eq!(e.benefit(1).unwrap().plan.owner, Some(SPONSOR));
    // Naming someone who has left as a new owner is refused.
    e.benefits[0].plan.owner = Some(MEMBER);
    let r = decide(
        model(),
        &e,
        &staff(),
        &people,
        &change(Some(SPONSOR), "Less patching again"),
    );
    assert!(field(r).starts_with("owner:"));
}
