//! The user's own pages, copied verbatim into tests/fixtures/seeds.

use waymark_model::{Effect, ItemKind, Severity, outline};

use crate::{codes, fixture, load};

const OVERVIEW: &str = "seeds/000_c5445e08139d21c5.txt";
const ENGAGEMENT: &str = "seeds/001_149ec0c6737c7f1c.txt";
const DEPLOY: &str = "seeds/002_da98149f46203ec6.txt";

fn seeds() -> waymark_model::Loaded {
    let texts: Vec<(String, String)> = [OVERVIEW, ENGAGEMENT, DEPLOY]
        .iter()
        .map(|p| (p.to_string(), fixture(p)))
        .collect();
    let pages: Vec<(&str, &str)> = texts
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    load(&pages)
}

#[test]
fn the_overview_gives_the_stage_order() {
    let m = seeds().model;
    let names: Vec<_> = m.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Engagement",
            "Discovery",
            "Deploy",
            "Transition",
            "Adoption and Evaluation"
        ]
    );
    assert_eq!(m.page(m.overview.unwrap()).path, OVERVIEW);
    // Only Engagement and Deploy have pages among the seeds.
    let with_pages: Vec<_> = m
        .stages
        .iter()
        .filter(|s| s.page.is_some())
        .map(|s| s.slug.as_str())
        .collect();
    assert_eq!(with_pages, ["engagement", "deploy"]);
    assert_eq!(m.principles.len(), 6);
    assert_eq!(m.principles[4].name, "Executive-championed");
}

#[test]
fn engagement_has_three_steps_and_the_discovery_decision() {
    let m = seeds().model;
    let e = m.stage("engagement").unwrap();
    let steps: Vec<_> = e
        .steps
        .iter()
        .map(|s| (s.number, s.title.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            (1, "Review the blueprint"),
            (2, "Request support"),
            (3, "Initial workshop")
        ]
    );
    assert_eq!(e.decisions.len(), 1);
    let d = &e.decisions[0];
    assert_eq!(d.question, "Undertake discovery?");
    assert_eq!(d.choices.options.len(), 3);
    assert!(
        d.choices.options[0]
            .text()
            .starts_with("Undertake a 4-8 week discovery phase")
    );
    assert!(
        d.choices.options[1]
            .text()
            .starts_with("Undertake a change management and planning phase")
    );
    assert!(
        d.choices.options[2]
            .text()
            .starts_with("Discontinue engagement with the PU")
    );
    let effects: Vec<_> = d.choices.options.iter().map(|o| o.effect.clone()).collect();
    assert_eq!(
        effects,
        [
            Effect::EnterStage {
                stage: "discovery".into()
            },
            Effect::EnterStage {
                stage: "transition".into()
            },
            Effect::DoItYourself,
        ]
    );
    assert!(d.choices.intro.starts_with("Based on the initial workshop"));
    assert!(
        d.choices
            .outro
            .starts_with("The DTA will provide a [Letter of Intent]()")
    );
    assert_eq!(e.roles.len(), 2);
    assert_eq!(e.enabling_services.len(), 3);
    assert_eq!(e.benefits.len(), 3);
    assert_eq!(e.risks.len(), 3);
    assert_eq!(e.success.len(), 3);
    assert!(e.success[2].text().contains("signed letter of intent"));
}

#[test]
fn deploy_has_its_exits() {
    let m = seeds().model;
    let d = m.stage("deploy").unwrap();
    assert_eq!(d.steps.len(), 2);
    assert_eq!(
        d.steps[1].title,
        "Product analysis, build, deploy, and evaluate"
    );
    let exits: Vec<_> = d
        .exits
        .iter()
        .map(|o| (o.text(), o.effect.clone()))
        .collect();
    assert_eq!(
        exits,
        [
            (
                "Undergoing business change planning in Transition.",
                Effect::EnterStage {
                    stage: "transition".into()
                }
            ),
            (
                "Acquiring and deploying more relevant technology (i.e undertaking Deploy again and implementing more features).",
                Effect::EnterStage {
                    stage: "deploy".into()
                }
            ),
            ("Discontinue the process (exit).", Effect::Exit),
        ]
    );
    let artefacts: Vec<_> = d.artefacts.iter().map(|a| a.text()).collect();
    assert_eq!(
        artefacts,
        ["User guides", "User stories", "Sprint plan", "Feature log"]
    );
    assert_eq!(d.roles[2].text(), "Technology partner (optional)");
}

#[test]
fn the_stray_step_on_the_overview_is_kept_as_a_step() {
    let m = seeds().model;
    let ov = m.page(m.overview.unwrap());
    let kinds: Vec<_> = ov.timeline.iter().map(|t| t.kind.name()).collect();
    assert_eq!(kinds, ["stage", "stage", "step", "stage", "stage", "stage"]);
    assert!(
        matches!(&ov.timeline[2].kind, ItemKind::Step { number: 1, title } if title == "Enact continual service improvements")
    );
    assert!(ov.timeline[2].body.is_none());
}

#[test]
fn lint_names_each_real_defect_of_the_seeds() {
    let findings = waymark_model::lint(&seeds());
    let got = codes(&findings);
    let has = |code: &str, path: &str, line: u32| {
        assert!(
            got.iter()
                .any(|(c, p, l)| c == code && p == path && *l == line),
            "expected {code} at {path}:{line}; got {got:#?}"
        );
    };
    // The overview.
    has("link-no-scheme", OVERVIEW, 7); // [Community Portal](www.community.desktop.gov.au)
    has("item-misplaced", OVERVIEW, 11); // "Step 1 – Enact continual service improvements"
    has("item-no-body", OVERVIEW, 11);
    has("duplicate-text", OVERVIEW, 20); // stage 5 repeats stage 4
    has("link-empty", OVERVIEW, 23); // [downloadable visual of the Engagement model]()
    // The Engagement page: four empty links and an empty section.
    has("link-empty", ENGAGEMENT, 10); // [initial request email]()
    has("link-empty", ENGAGEMENT, 18); // [discovery phase]()
    has("link-empty", ENGAGEMENT, 19); // [change management and planning]()
    has("link-empty", ENGAGEMENT, 22); // [Letter of Intent]()
    has("section-empty", ENGAGEMENT, 60); // ## Tasks and activities
    // Links to pages the seeds only point at.
    has("link-unknown-page", DEPLOY, 15); // transition.html
    has("link-unknown-page", ENGAGEMENT, 20); // faq.html
    has("stage-no-page", OVERVIEW, 8);

    let errors: Vec<_> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 7, "{errors:#?}");
    // The duplicate is reported once, on the copy, not on the original.
    assert_eq!(
        got.iter().filter(|(c, _, _)| c == "duplicate-text").count(),
        1
    );
    // Links that do resolve are not reported: /deploy.md and /engagement.md.
    assert!(
        !findings
            .iter()
            .any(|f| f.message.contains("/deploy.md") || f.message.contains("/engagement.md"))
    );
    // Columns point at the link itself.
    let loi = findings
        .iter()
        .find(|f| f.path == ENGAGEMENT && f.line == 22)
        .unwrap();
    assert_eq!(loi.column, 28);
}

#[test]
fn outline_snapshot() {
    insta::assert_snapshot!(outline::to_text(&seeds().model));
}

#[test]
fn json_has_the_documented_shape() {
    let m = seeds().model;
    let v = serde_json::to_value(outline::to_json(&m)).unwrap();
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["assessment", "pages", "principles", "stages"]);
    let engagement = &v["pages"][1];
    assert_eq!(engagement["path"], ENGAGEMENT);
    assert_eq!(engagement["title"], "Engagement");
    assert_eq!(engagement["layout"], "engagement");
    let kinds: Vec<_> = engagement["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["step", "step", "step", "decision"]);
    assert_eq!(
        engagement["timeline"][0]["title"],
        "Step 1 - Review the blueprint"
    );
    let headings: Vec<_> = engagement["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["heading"].as_str().unwrap())
        .collect();
    assert_eq!(
        headings,
        [
            "Roles",
            "Tools, templates and guidance",
            "Enabling services",
            "Benefits",
            "Risks if ignored",
            "What success looks like",
            "Tasks and activities"
        ]
    );
    assert_eq!(
        engagement["sections"][0]["items"][0],
        "The DTA Protected Utility Program team."
    );
    assert_eq!(
        v["stages"][0]["decisions"][0]["options"][2]["effect"]["kind"],
        "do_it_yourself"
    );
    assert_eq!(v["stages"][2]["page"], DEPLOY);
    assert_eq!(v["stages"][1]["page"], serde_json::Value::Null);
}
