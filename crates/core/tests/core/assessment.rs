//! The self-assessment's rules and the journey it tailors, on the bundled
//! model (Discovery's step 6 is optional for Aligned and does not apply to
//! Lean; its step 3 is optional for Lean).

use std::collections::BTreeMap;

use waymark_core::assessment::{self, AgencyEvent};
use waymark_core::*;
use waymark_model::Relevance;

use crate::*;

fn questionnaire() -> &'static waymark_model::Questionnaire {
    model()
        .questionnaire()
        .expect("the bundled self-assessment")
}

/// Every question answered with the answer at `pick(question's position)`.
fn answers(pick: impl Fn(usize) -> usize) -> BTreeMap<String, usize> {
    questionnaire()
        .questions()
        .enumerate()
        .map(|(i, q)| (q.key.clone(), pick(i)))
        .collect()
}

fn in_discovery(kind: Option<AgencyType>) -> Engagement {
    let mut e = engagement();
    for ev in assessment::tailor(&e, model(), kind, "a test") {
        e.apply(&ev, STAFF, Timestamp(1));
    }
    run(
        &mut e,
        &staff(),
        Command::StartStage {
            stage: "discovery".into(),
        },
        2,
    )
    .unwrap();
    e
}

fn skip(e: &mut Engagement, step: u32) -> Vec<Event> {
    run(
        e,
        &member(),
        Command::SkipStep {
            stage: "discovery".into(),
            step,
            reason: "not for us".into(),
        },
        3,
    )
    .unwrap()
}

fn risks_raised(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::RiskRaised { .. }))
        .count()
}

#[test]
fn the_sponsor_and_the_programme_assess_and_nobody_else() {
    let all_low = answers(|_| 0);
    for actor in [sponsor(), staff(), admin()] {
        let ev = assessment::assess(&actor, AGENCY, Some(questionnaire()), &all_low).unwrap();
        assert_eq!(ev.agency_type(), AgencyType::Lean);
    }
    for actor in [member(), other_member(), partner(), stranger_partner()] {
        let problems =
            assessment::assess(&actor, AGENCY, Some(questionnaire()), &all_low).unwrap_err();
        assert_eq!(problems.len(), 1, "{actor:?}");
        assert!(problems[0].message.contains("sponsor"), "{problems:?}");
    }
    // Another agency's sponsor is no sponsor here.
    assert!(assessment::may_assess(&other_member(), AGENCY).is_err());
    assert!(assessment::may_assess(&other_member(), OTHER_AGENCY).is_ok());
}

#[test]
fn the_result_records_each_answer_as_asked_and_the_version() {
    let ev =
        assessment::assess(&sponsor(), AGENCY, Some(questionnaire()), &answers(|_| 2)).unwrap();
    let AgencyEvent::Assessed {
        questionnaire: version,
        answers,
        placement,
    } = ev
    else {
        panic!("an assessment");
    };
    assert_eq!(version, questionnaire().version);
    assert_eq!(answers.len(), 8);
    assert!(
        answers
            .iter()
            .all(|a| a.answer == 2 && !a.answer_text.is_empty())
    );
    assert_eq!(placement.kind, AgencyType::Complex);
    assert_eq!(placement.scores[0].score, 12);
}

#[test]
fn every_combination_of_levels_gives_its_type() {
    // Complexity questions come first (six), then barriers (two).
    let cases = [
        (0, 0, AgencyType::Lean),
        (0, 2, AgencyType::Aligned),
        (2, 0, AgencyType::SelfDirected),
        (2, 2, AgencyType::Complex),
    ];
    for (needs, barriers, kind) in cases {
        let a = answers(|i| if i < 6 { needs } else { barriers });
        let ev = assessment::assess(&staff(), AGENCY, Some(questionnaire()), &a).unwrap();
        assert_eq!(ev.agency_type(), kind);
    }
    // On the threshold: 6 of 12 is high.
    let a = answers(|i| usize::from(i < 6));
    let ev = assessment::assess(&staff(), AGENCY, Some(questionnaire()), &a).unwrap();
    assert_eq!(ev.agency_type(), AgencyType::SelfDirected);
}

#[test]
fn incomplete_or_impossible_answers_name_each_question() {
    let mut a = answers(|_| 0);
    a.remove("dispersed");
    a.insert("access".into(), 9);
    a.insert("not-a-question".into(), 0);
    let problems = assessment::assess(&staff(), AGENCY, Some(questionnaire()), &a).unwrap_err();
    let named: Vec<&str> = problems.iter().map(|p| p.question.as_str()).collect();
    assert_eq!(named, ["not-a-question", "dispersed", "access"]);
    // No questionnaire: nothing to answer.
    let problems = assessment::assess(&staff(), AGENCY, None, &a).unwrap_err();
    assert!(problems[0].message.contains("no self-assessment"));
}

#[test]
fn only_the_programme_sets_a_type_and_it_needs_a_reason() {
    let reason: Line<500> = "We know them well".to_string().into();
    let ev = assessment::set_type(&staff(), AgencyType::Complex, &reason).unwrap();
    assert_eq!(ev.agency_type(), AgencyType::Complex);
    assert!(assessment::set_type(&sponsor(), AgencyType::Lean, &reason).is_err());
    let blank: Line<500> = "  ".to_string().into();
    assert!(matches!(
        assessment::set_type(&staff(), AgencyType::Lean, &blank),
        Err(DomainError::Invalid {
            field: "reason",
            ..
        })
    ));
    let long: Line<500> = "x".repeat(501).into();
    assert!(assessment::set_type(&staff(), AgencyType::Lean, &long).is_err());
}

#[test]
fn tailoring_is_an_event_only_when_the_type_changes() {
    let mut e = engagement();
    assert_eq!(assessment::tailor(&e, model(), None, "x"), []);
    for ev in assessment::tailor(&e, model(), Some(AgencyType::Lean), "x") {
        e.apply(&ev, STAFF, Timestamp(1));
    }
    assert_eq!(e.agency_type, Some(AgencyType::Lean));
    assert_eq!(
        assessment::tailor(&e, model(), Some(AgencyType::Lean), "y"),
        []
    );
    assert_eq!(
        assessment::tailor(&e, model(), Some(AgencyType::Aligned), "y").len(),
        1
    );
}

#[test]
fn a_skipped_step_the_new_type_needs_raises_its_risks_then() {
    // Lean: step 3 optional and step 6 not applicable; both skipped, no risk.
    let mut e = in_discovery(Some(AgencyType::Lean));
    skip(&mut e, 3);
    skip(&mut e, 6);
    assert!(e.risks.is_empty());
    // Complex needs both: the stage's risks are raised once, for the first.
    let events = assessment::tailor(&e, model(), Some(AgencyType::Complex), "reconsidered");
    for ev in &events {
        e.apply(ev, STAFF, Timestamp(4));
    }
    let risks = model().stage("discovery").unwrap().risks.len();
    assert_eq!(risks_raised(&events), risks);
    assert!(e.risks.iter().all(|r| r.open
        && r.source
            == RiskSource::Skipped {
                stage: "discovery".into(),
                step: 3
            }));
    // Back to Lean and to Complex again: nothing more, the risks are open.
    for kind in [AgencyType::Lean, AgencyType::Complex] {
        for ev in assessment::tailor(&e, model(), Some(kind), "again") {
            e.apply(&ev, STAFF, Timestamp(5));
        }
    }
    assert_eq!(e.risks.len(), risks);
}

#[test]
fn skipping_an_optional_step_raises_no_risks_and_an_essential_one_does() {
    // Step 6 (business case) is optional for Aligned, essential for Complex.
    let mut aligned = in_discovery(Some(AgencyType::Aligned));
    assert_eq!(risks_raised(&skip(&mut aligned, 6)), 0);
    assert!(aligned.risks.is_empty());
    let mut complex = in_discovery(Some(AgencyType::Complex));
    assert!(risks_raised(&skip(&mut complex, 6)) > 0);
    // Not assessed: every step is essential, as before tailoring.
    let mut unknown = in_discovery(None);
    assert!(risks_raised(&skip(&mut unknown, 6)) > 0);
    // A step that does not apply raises none either.
    let mut lean = in_discovery(Some(AgencyType::Lean));
    assert_eq!(risks_raised(&skip(&mut lean, 6)), 0);
}

#[test]
fn a_step_that_does_not_apply_waits_for_no_one() {
    let steps = |e: &Engagement| -> Vec<u32> {
        next_up(e, model(), Timestamp(10))
            .into_iter()
            .filter_map(|n| match n {
                Next::Step {
                    stage: "discovery",
                    number,
                    ..
                } => Some(number),
                _ => None,
            })
            .collect()
    };
    let lean = in_discovery(Some(AgencyType::Lean));
    let aligned = in_discovery(Some(AgencyType::Aligned));
    assert!(!steps(&lean).contains(&6));
    assert!(steps(&aligned).contains(&6));
    let discovery = model().stage("discovery").unwrap();
    let six = discovery.steps.iter().find(|s| s.number == 6).unwrap();
    assert!(matches!(
        lean.relevance(six),
        Relevance::NotApplicable { .. }
    ));
    assert_eq!(aligned.relevance(six), Relevance::Optional);
}
