//! What's next on an engagement, what waits for whom, and success criteria
//! met by recorded facts.

use waymark_core::*;
use waymark_model::Fact;

use crate::*;

const SHA_1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const SHA_2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn decide_discovery(e: &mut Engagement, at: i64) {
    run(
        e,
        &member(),
        Command::Decide {
            stage: "engagement".into(),
            at: DecisionAt::Point { index: 0 },
            option: 0,
            rationale: "We need to understand our readiness.".into(),
            funded_by: Funder::Dta,
            note: None,
        },
        at,
    )
    .unwrap();
}

fn kinds(items: &[Next]) -> Vec<String> {
    items
        .iter()
        .map(|n| match n {
            Next::Sign(l) => format!("sign {}", l.kind.slug()),
            Next::Decide { stage, at, .. } => format!("decide {stage} {at:?}"),
            Next::Step { stage, number, .. } => format!("step {stage} {number}"),
            Next::Workshop { workshop, .. } => format!("workshop {}", workshop.id),
            Next::Risk { id, .. } => format!("risk {id}"),
        })
        .collect()
}

#[test]
fn whats_next_follows_the_engagement() {
    let mut e = engagement();
    let now = Timestamp(1_700_000_000);
    // Engagement's decision point already leads where its next steps do,
    // so it is asked once, not twice.
    assert_eq!(model().stage("engagement").unwrap().exit_point(), Some(0));
    assert_eq!(
        kinds(&next_up(&e, model(), now)),
        [
            "decide engagement Point { index: 0 }",
            "step engagement 1",
            "step engagement 2",
            "step engagement 3"
        ]
    );
    decide_discovery(&mut e, 1_700_000_100);
    let d = e
        .standing_decision("engagement", DecisionAt::Point { index: 0 })
        .unwrap();
    assert_eq!(d.option, 0);
    let next = kinds(&next_up(&e, model(), now));
    assert!(
        !next.iter().any(|n| n.starts_with("decide engagement")),
        "{next:?}"
    );
    // Discovery began: its steps and its next steps are open.
    assert!(next.contains(&"step discovery 1".to_string()), "{next:?}");
    assert!(
        next.contains(&"decide discovery Exit".to_string()),
        "{next:?}"
    );
}

#[test]
fn a_new_cycle_opens_its_exit_again() {
    let mut e = engagement();
    decide_discovery(&mut e, 1_700_000_100);
    let deploy = model()
        .stage("discovery")
        .unwrap()
        .exits
        .iter()
        .position(|o| {
            o.effect
                == waymark_model::Effect::EnterStage {
                    stage: "deploy".into(),
                }
        })
        .unwrap();
    let exit = |option: usize| Command::Decide {
        stage: "deploy".into(),
        at: DecisionAt::Exit,
        option,
        rationale: "Again.".into(),
        funded_by: Funder::Agency,
        note: None,
    };
    run(
        &mut e,
        &member(),
        Command::Decide {
            stage: "discovery".into(),
            at: DecisionAt::Exit,
            option: deploy,
            rationale: "Go.".into(),
            funded_by: Funder::Dta,
            note: None,
        },
        1_700_000_200,
    )
    .unwrap();
    assert!(e.standing_decision("discovery", DecisionAt::Exit).is_some());
    // "Deploy again" ends this cycle; the next cycle's exit is open.
    let again = model()
        .stage("deploy")
        .unwrap()
        .exits
        .iter()
        .position(|o| {
            o.effect
                == waymark_model::Effect::EnterStage {
                    stage: "deploy".into(),
                }
        })
        .unwrap();
    run(&mut e, &member(), exit(again), 1_700_000_300).unwrap();
    assert_eq!(e.stage("deploy").unwrap().cycles, 2);
    assert_eq!(e.standing_decision("deploy", DecisionAt::Exit), None);
}

#[test]
fn letters_wait_for_the_sponsor_and_meet_their_criterion() {
    let mut e = engagement();
    let now = Timestamp(1_700_000_000);
    let criterion = Fact::Signed {
        letter: "letter-of-intent".into(),
    };
    let issue = |sha: &str| Command::IssueLetter {
        kind: LetterKind::LetterOfIntent,
        sha256: sha.into(),
    };
    let sign = |sha: &str| Command::SignOff {
        document: "letter-of-intent".into(),
        sha256: sha.into(),
    };
    run(
        &mut e,
        &staff(),
        Command::SetSponsor { person: SPONSOR },
        1_700_000_050,
    )
    .unwrap();
    run(&mut e, &staff(), issue(SHA_1), 1_700_000_100).unwrap();
    assert_eq!(e.letters_awaiting_signature().len(), 1);
    // The programme does not sign a letter on the agency's behalf.
    assert!(matches!(
        run(&mut e, &admin(), sign(SHA_1), 1_700_000_150),
        Err(DomainError::Forbidden { .. })
    ));
    assert_eq!(e.evidence("engagement", &criterion), None);
    // It waits for the sponsor, not for a member or the programme.
    let waiting =
        |who: &Actor, e: &Engagement| kinds(&waiting_for(who, e, model(), model(), now).0);
    assert_eq!(waiting(&sponsor(), &e), ["sign letter-of-intent"]);
    assert!(waiting(&member(), &e).is_empty());
    run(&mut e, &sponsor(), sign(SHA_1), 1_700_000_200).unwrap();
    assert!(e.letters_awaiting_signature().is_empty());
    assert!(waiting(&sponsor(), &e).is_empty());
    let ev = e.evidence("engagement", &criterion).unwrap();
    assert_eq!(ev.text, "Letter of Intent version 1 is signed");
    assert_eq!(ev.letter, Some(LetterKind::LetterOfIntent));
    // A new version waits again, and the criterion is not met by the old
    // signature.
    run(&mut e, &staff(), issue(SHA_2), 1_700_000_300).unwrap();
    assert_eq!(waiting(&sponsor(), &e), ["sign letter-of-intent"]);
    assert_eq!(e.evidence("engagement", &criterion), None);
    // The decision criterion follows the standing decision.
    let decided = Fact::Decided { point: Some(0) };
    assert_eq!(e.evidence("engagement", &decided), None);
    decide_discovery(&mut e, 1_700_000_400);
    assert_eq!(
        e.evidence("engagement", &decided).map(|v| v.text),
        Some(format!(
            "Decided: {}",
            model().stage("engagement").unwrap().decisions[0]
                .choices
                .options[0]
                .text()
        ))
    );
}

#[test]
fn the_model_and_the_core_name_the_same_letters() {
    let core: Vec<&str> = LetterKind::ALL.iter().map(|k| k.slug()).collect();
    assert_eq!(core, waymark_model::LETTERS);
}

#[test]
fn a_criterion_a_fact_meets_is_not_ticked_by_hand() {
    let mut e = engagement();
    let st = model().stage("engagement").unwrap();
    let auto = st.met_by[0].criterion;
    let by_hand = (0..st.success.len())
        .find(|i| !st.met_by.iter().any(|m| m.criterion == *i))
        .unwrap();
    let check = |criterion| Command::CheckSuccess {
        stage: "engagement".into(),
        criterion,
        evidence: "We say so.".into(),
    };
    assert!(matches!(
        run(&mut e, &staff(), check(auto), 1_700_000_100),
        Err(DomainError::Invalid {
            field: "criterion",
            ..
        })
    ));
    run(&mut e, &staff(), check(by_hand), 1_700_000_100).unwrap();
}

#[test]
fn owned_steps_and_risks_wait_for_their_owner_and_fall_due() {
    let mut e = engagement();
    let owner = |item, owner, due: Option<&str>| Command::SetOwner {
        item,
        owner,
        due: due.map(Into::into),
    };
    let step2 = Item::Step {
        stage: "engagement".into(),
        step: 2,
    };
    run(
        &mut e,
        &staff(),
        owner(step2.clone(), Some(MEMBER), Some("2027-01-15")),
        1_700_000_100,
    )
    .unwrap();
    run(
        &mut e,
        &staff(),
        Command::AddRisk {
            text: "Licences arrive late".into(),
            stage: None,
        },
        1_700_000_200,
    )
    .unwrap();
    run(
        &mut e,
        &member(),
        owner(Item::Risk { id: 1 }, Some(SPONSOR), None),
        1_700_000_300,
    )
    .unwrap();
    // Saying the same again changes nothing, and is said so.
    assert!(matches!(
        run(
            &mut e,
            &staff(),
            owner(step2.clone(), Some(MEMBER), Some("2027-01-15")),
            1_700_000_400
        ),
        Err(DomainError::Rule(_))
    ));
    // Someone outside the engagement cannot own it; nor can a bad date be due.
    assert!(matches!(
        run(
            &mut e,
            &staff(),
            owner(step2.clone(), Some(PersonId(40)), None),
            1_700_000_400
        ),
        Err(DomainError::Invalid { field: "owner", .. })
    ));
    assert!(matches!(
        run(
            &mut e,
            &staff(),
            owner(step2.clone(), None, Some("15/01/2027")),
            1_700_000_400
        ),
        Err(DomainError::Invalid { field: "due", .. })
    ));
    let now = Timestamp(1_700_000_500);
    let waiting = |who: &Actor| kinds(&waiting_for(who, &e, model(), model(), now).0);
    assert_eq!(waiting(&member()), ["step engagement 2"]);
    assert_eq!(waiting(&sponsor()), ["risk 1"]);
    assert!(waiting(&staff()).is_empty());
    // Due in January 2027: overdue from the 16th, in Canberra.
    let items = next_up(&e, model(), now);
    let step = items
        .iter()
        .find(|n| matches!(n, Next::Step { number: 2, .. }))
        .unwrap();
    assert!(!step.overdue("2027-01-15"));
    assert!(step.overdue("2027-01-16"));
    assert_eq!(today(Timestamp(1_768_482_000)), "2026-01-16"); // 2026-01-15 13:00 UTC
    // Clearing both removes the ownership.
    run(
        &mut e,
        &staff(),
        owner(step2.clone(), None, None),
        1_700_000_600,
    )
    .unwrap();
    assert_eq!(e.ownership(&step2), None);
}
