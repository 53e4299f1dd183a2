//! The default model shipped in the binary.

use waymark_model::{Effect, bundled};

#[test]
fn lints_with_no_findings() {
    let loaded = waymark_model::build(bundled());
    assert_eq!(waymark_model::lint(&loaded), []);
}

#[test]
fn has_all_five_stages_each_complete() {
    let m = waymark_model::build(bundled()).model;
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
    for s in &m.stages {
        assert!(s.page.is_some(), "{} has a page", s.name);
        assert!(!s.steps.is_empty(), "{} has steps", s.name);
        assert!(!s.roles.is_empty(), "{} has roles", s.name);
        assert!(!s.artefacts.is_empty(), "{} has artefacts", s.name);
        assert!(!s.benefits.is_empty(), "{} has benefits", s.name);
        assert!(!s.risks.is_empty(), "{} has risks", s.name);
        assert!(!s.success.is_empty(), "{} has success criteria", s.name);
        assert!(!s.exits.is_empty(), "{} has exit options", s.name);
        for o in s
            .exits
            .iter()
            .chain(s.decisions.iter().flat_map(|d| &d.choices.options))
        {
            assert_ne!(
                o.effect,
                Effect::Unspecified,
                "{}: {:?} has an effect",
                s.name,
                o.text()
            );
        }
    }
    assert_eq!(m.stage("discovery").unwrap().steps.len(), 6);
    assert_eq!(m.stage("transition").unwrap().steps.len(), 6);
    assert_eq!(m.principles.len(), 6);
}

#[test]
fn engagement_decides_on_discovery_with_three_options() {
    let m = waymark_model::build(bundled()).model;
    let e = m.stage("engagement").unwrap();
    assert_eq!(e.decisions.len(), 1);
    let d = &e.decisions[0];
    assert_eq!(d.question, "Undertake discovery?");
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
    let deploy = m.stage("deploy").unwrap();
    assert!(deploy.exits.iter().any(|o| o.effect
        == Effect::EnterStage {
            stage: "deploy".into()
        }));
}

#[test]
fn has_an_faq_on_both_adoption_modes() {
    let m = waymark_model::build(bundled()).model;
    let faq: Vec<_> = m.other_pages().filter(|p| p.slug == "faq").collect();
    assert_eq!(faq.len(), 1);
    let text: String = faq[0]
        .sections
        .iter()
        .map(|s| s.markdown().to_string())
        .collect();
    assert!(text.contains("Do it With You") && text.contains("Do it Yourself"));
}
