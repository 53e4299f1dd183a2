//! The self-assessment and step tailoring, as content writes them: what is
//! read, what the lint says about bad input, and how answers place an agency.

use std::collections::BTreeMap;

use waymark_model::{AgencyType, Level, Relevance, bundled};

use crate::{found, load};

/// A stage page whose step 2 is tailored by `tailoring` (YAML, indented
/// under the item).
fn stage(tailoring: &str) -> String {
    format!(
        "---\ntitle: Discovery\ntimeline:\n- title: Step 1 – Look\n  body: Look around.\n- title: Step 2 – Plan\n{tailoring}  body: Make a plan.\n---\n\nA stage.\n"
    )
}

fn overview() -> &'static str {
    "---\ntitle: Model\ntimeline:\n- title: Stage 1 – Discovery\n  body: Find out.\n---\n\nThe model.\n"
}

/// A questionnaire page from its `assessment:` YAML (indented by two).
fn questionnaire(yaml: &str) -> String {
    format!("---\ntitle: Self-assessment\nlayout: page\nassessment:\n{yaml}---\n\nAnswer these.\n")
}

const GOOD: &str = "  factors:
  - key: needs
    name: Needs
    high_from: 2
    questions:
    - key: a
      text: Question A?
      answers:
      - {text: Little, weight: 0}
      - {text: Much, weight: 2}
    - key: b
      text: Question B?
      answers:
      - {text: Little, weight: 0}
      - {text: Some, weight: 1}
  - key: barriers
    name: Barriers
    high_from: 1
    questions:
    - key: c
      text: Question C?
      answers:
      - {text: \"No\", weight: 0}
      - {text: \"Yes\", weight: 1}
  types:
    lean: {needs: low, barriers: low}
    aligned: {needs: low, barriers: high}
    self-directed: {needs: high, barriers: low, description: Leads itself.}
    Complex: {needs: high, barriers: high}
";

#[test]
fn a_tailored_step_is_read_for_each_type() {
    let page = stage(
        "  tailoring:\n    optional: [lean, Self-directed]\n    not_applicable:\n      complex: They already have one.\n",
    );
    let loaded = load(&[("index.md", overview()), ("discovery.md", &page)]);
    assert_eq!(
        found(&[("index.md", overview()), ("discovery.md", &page)]),
        []
    );
    let steps = &loaded.model.stage("discovery").unwrap().steps;
    assert!(steps[0].tailoring.is_empty());
    let t = &steps[1].tailoring;
    assert_eq!(t.for_type(None), Relevance::Essential);
    assert_eq!(t.for_type(Some(AgencyType::Lean)), Relevance::Optional);
    assert_eq!(
        t.for_type(Some(AgencyType::SelfDirected)),
        Relevance::Optional
    );
    assert_eq!(t.for_type(Some(AgencyType::Aligned)), Relevance::Essential);
    assert_eq!(
        t.for_type(Some(AgencyType::Complex)),
        Relevance::NotApplicable {
            reason: "They already have one.".into()
        }
    );
}

#[test]
fn bad_tailoring_is_an_error_on_its_line_and_is_not_applied() {
    let cases = [
        // An unknown type.
        "  tailoring:\n    optional: [lean, tiny]\n",
        // A type named twice.
        "  tailoring:\n    optional: [lean]\n    not_applicable:\n      lean: Because.\n",
        // No reason.
        "  tailoring:\n    not_applicable:\n      lean: \"\"\n",
        // An unknown key.
        "  tailoring:\n    mandatory: [lean]\n",
        // Not a mapping.
        "  tailoring: lean\n",
    ];
    for case in cases {
        let page = stage(case);
        let findings = found(&[("index.md", overview()), ("discovery.md", &page)]);
        assert_eq!(
            findings,
            [("tailoring-invalid".into(), "discovery.md".into(), 6)],
            "{case}"
        );
    }
    // What is wrong is left out: `tiny` is dropped, `lean` still read.
    let page = stage(cases[0]);
    let loaded = load(&[("index.md", overview()), ("discovery.md", &page)]);
    let t = &loaded.model.stage("discovery").unwrap().steps[1].tailoring;
    assert_eq!(t.optional, [AgencyType::Lean]);
}

#[test]
fn tailoring_on_an_item_that_is_not_a_step_is_reported() {
    let page = "---\ntitle: Discovery\ntimeline:\n- title: Step 1 – Look\n  body: Look.\n- title: Next steps\n  tailoring:\n    optional: [lean]\n  body: |\n    * Go on to [Discovery](discovery.md).\n---\n\nA stage.\n";
    let findings = found(&[("index.md", overview()), ("discovery.md", page)]);
    assert!(findings.contains(&("tailoring-invalid".into(), "discovery.md".into(), 6)));
}

#[test]
fn a_questionnaire_places_every_pair_of_levels() {
    let page = questionnaire(GOOD);
    assert_eq!(found(&[("self.md", &page)]), []);
    let m = load(&[("self.md", &page)]).model;
    let q = m.questionnaire().expect("read");
    assert_eq!(q.version.len(), 64);
    assert_eq!(q.factors[0].range(), (0, 3));
    let place = |a: usize, b: usize, c: usize| {
        let answers = BTreeMap::from([("a".into(), a), ("b".into(), b), ("c".into(), c)]);
        q.place(&answers).unwrap()
    };
    assert_eq!(place(0, 1, 0).kind, AgencyType::Lean);
    assert_eq!(place(0, 0, 1).kind, AgencyType::Aligned);
    assert_eq!(place(1, 0, 0).kind, AgencyType::SelfDirected);
    assert_eq!(place(1, 1, 1).kind, AgencyType::Complex);
    let p = place(1, 1, 0);
    assert_eq!(p.scores[0].score, 3);
    assert_eq!(p.scores[0].level, Level::High);
    assert_eq!(p.scores[1].level, Level::Low);
    // A description is kept; the type's spelling does not matter.
    assert_eq!(
        q.types
            .iter()
            .find(|t| t.kind == AgencyType::SelfDirected)
            .and_then(|t| t.description.as_deref()),
        Some("Leads itself.")
    );
}

#[test]
fn answers_missing_unknown_or_out_of_range_are_each_named() {
    let m = load(&[("self.md", &questionnaire(GOOD))]).model;
    let q = m.questionnaire().unwrap();
    let answers = BTreeMap::from([("a".into(), 5), ("zzz".into(), 0), ("c".into(), 1)]);
    let problems = q.place(&answers).unwrap_err();
    let named: Vec<&str> = problems.iter().map(|p| p.question.as_str()).collect();
    assert_eq!(named, ["zzz", "a", "b"]);
}

#[test]
fn the_version_follows_the_questionnaire_not_the_page() {
    let a = load(&[("self.md", &questionnaire(GOOD))]).model;
    let prose = questionnaire(GOOD).replace("Answer these.", "Answer these, please.");
    let b = load(&[("self.md", &prose)]).model;
    let reworded = questionnaire(&GOOD.replace("Question A?", "Question A, reworded?"));
    let c = load(&[("self.md", &reworded)]).model;
    let v = |m: &waymark_model::Model| m.questionnaire().unwrap().version.clone();
    assert_eq!(v(&a), v(&b));
    assert_ne!(v(&a), v(&c));
}

#[test]
fn a_questionnaire_that_cannot_place_every_agency_is_refused_with_why() {
    let cases: [(&str, String, &str); 8] = [
        (
            "weights never reach the threshold",
            GOOD.replace("high_from: 2", "high_from: 9"),
            "can never be high",
        ),
        (
            "weights always reach the threshold",
            GOOD.replace("high_from: 1", "high_from: 0"),
            "always high",
        ),
        (
            "a negative weight",
            GOOD.replace("weight: 2}", "weight: -2}"),
            "whole number from 0 to 100",
        ),
        (
            "a fractional weight",
            GOOD.replace("weight: 2}", "weight: 1.5}"),
            "whole number from 0 to 100",
        ),
        (
            "a type missing",
            GOOD.replace("    Complex: {needs: high, barriers: high}\n", ""),
            "`complex`",
        ),
        (
            "two types on the same levels",
            GOOD.replace(
                "Complex: {needs: high, barriers: high}",
                "Complex: {needs: low, barriers: low}",
            ),
            "same levels",
        ),
        (
            "an unknown type",
            GOOD.replace("Complex:", "Huge:"),
            "not an agency type",
        ),
        (
            "a misspelt key",
            GOOD.replace("weight: 0}", "weigth: 0}"),
            "weigth",
        ),
    ];
    for (what, yaml, says) in cases {
        let page = questionnaire(&yaml);
        let loaded = load(&[("self.md", &page)]);
        assert!(
            loaded.model.questionnaire().is_none(),
            "{what}: not offered"
        );
        let findings = waymark_model::lint(&loaded);
        assert!(
            findings
                .iter()
                .any(|f| f.code.as_str() == "assessment-invalid" && f.message.contains(says)),
            "{what}: {findings:?}"
        );
    }
}

#[test]
fn a_bare_no_is_explained() {
    let page = questionnaire(&GOOD.replace("\"No\"", "No"));
    let findings = waymark_model::lint(&load(&[("self.md", &page)]));
    assert!(
        findings.iter().any(|f| f.message.contains("in quotes")),
        "{findings:?}"
    );
}

#[test]
fn only_the_first_questionnaire_is_used_and_the_second_is_named() {
    let page = questionnaire(GOOD);
    let loaded = load(&[("a.md", &page), ("b.md", &page)]);
    assert!(loaded.model.questionnaire().is_some());
    assert_eq!(
        crate::codes(&waymark_model::lint(&loaded)),
        [("assessment-invalid".into(), "b.md".into(), 1)]
    );
}

#[test]
fn the_bundled_model_has_a_questionnaire_and_tailored_steps() {
    let m = waymark_model::build(bundled()).model;
    let q = m.questionnaire().expect("the bundled self-assessment");
    assert_eq!(q.factors.len(), 2);
    assert_eq!(q.factors[0].questions.len(), 6);
    assert_eq!(q.factors[1].questions.len(), 2);
    let tailored = m
        .stages
        .iter()
        .flat_map(|s| &s.steps)
        .filter(|s| !s.tailoring.is_empty())
        .count();
    assert!(tailored >= 4, "{tailored}");
    // Every type is somewhere more than essential, so each journey differs.
    for t in AgencyType::ALL {
        assert!(
            m.stages
                .iter()
                .flat_map(|s| &s.steps)
                .any(|s| s.tailoring.for_type(Some(t)) != Relevance::Essential),
            "{t:?}"
        );
    }
}
