//! `model diff` on the two bundled-style models: the five-stage model and
//! the engagement framework that replaced it (content/framework).

use waymark_model::diff::{Kind, diff, similarity};
use waymark_model::{Model, bundled};

use crate::load;

fn five_stage() -> Model {
    waymark_model::build(bundled()).model
}

fn framework() -> Model {
    let dir = format!("{}/../../content/framework", env!("CARGO_MANIFEST_DIR"));
    let (files, problems) = waymark_model::read_paths(&[dir.into()]).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    waymark_model::build(files).model
}

#[test]
fn a_model_against_itself_has_no_changes() {
    let d = diff(&five_stage(), &five_stage());
    assert!(d.is_empty(), "{d:?}");
    assert!(d.to_text().contains("the same stages"));
    assert!(
        d.step_map
            .iter()
            .all(|m| m.new == Some((m.old_stage.clone(), m.old_step)))
    );
}

#[test]
fn the_framework_renames_every_stage_by_its_words() {
    let d = diff(&five_stage(), &framework());
    let map: Vec<(&str, Option<&str>)> = d
        .stage_map
        .iter()
        .map(|(o, n)| (o.as_str(), n.as_deref()))
        .collect();
    assert_eq!(
        map,
        [
            ("engagement", Some("connect-align")),
            ("discovery", Some("prepare-design")),
            ("deploy", Some("deploy-embed")),
            ("transition", Some("adopt-engage")),
            ("adoption-evaluation", Some("assess-advocate")),
        ]
    );
    assert!(d.stages.iter().all(|c| c.change == Kind::Renamed));
    assert_eq!(d.stages.len(), 5);
}

#[test]
fn steps_are_kept_renamed_moved_added_or_removed() {
    let d = diff(&five_stage(), &framework());
    let to = |stage: &str, step: u32| {
        d.step_map
            .iter()
            .find(|m| m.old_stage == stage && m.old_step == step)
            .unwrap()
            .new
            .clone()
    };
    // The same title: kept, renumbered.
    assert_eq!(to("engagement", 1), Some(("connect-align".into(), 3)));
    // Retitled within its stage.
    assert_eq!(
        to("adoption-evaluation", 2),
        Some(("assess-advocate".into(), 4))
    );
    assert_eq!(to("transition", 6), Some(("adopt-engage".into(), 2)));
    // To another stage than its own stage's counterpart.
    assert_eq!(to("transition", 5), Some(("deploy-embed".into(), 6)));
    // No counterpart.
    assert_eq!(to("discovery", 6), None);
    let kind = |stage: &str, step: u32| {
        d.steps
            .iter()
            .find(|c| {
                c.old
                    .as_ref()
                    .is_some_and(|p| p.stage == stage && p.number == Some(step))
            })
            .map(|c| (c.change, c.details.clone()))
    };
    assert_eq!(
        kind("engagement", 1),
        Some((Kind::Changed, vec!["number", "body"]))
    );
    assert_eq!(kind("adoption-evaluation", 2).unwrap().0, Kind::Renamed);
    assert_eq!(kind("transition", 5).unwrap().0, Kind::Moved);
    assert_eq!(kind("discovery", 6).unwrap().0, Kind::Removed);
    // Every new step is either some old step's counterpart or added.
    let framework = framework();
    let new_steps: usize = framework.stages.iter().map(|s| s.steps.len()).sum();
    let matched = d.step_map.iter().filter(|m| m.new.is_some()).count();
    let added = d.steps.iter().filter(|c| c.change == Kind::Added).count();
    assert_eq!(matched + added, new_steps);
    assert_eq!(new_steps, 29);
}

#[test]
fn decision_points_and_options_follow_the_stages() {
    let d = diff(&five_stage(), &framework());
    // The framework decides by its next steps only.
    assert_eq!(d.decisions.len(), 1);
    assert_eq!(d.decisions[0].change, Kind::Removed);
    // "Start building in Deploy" leads where "Begins Deploy and Embed" does.
    let start = d
        .options
        .iter()
        .find(|c| {
            c.old
                .as_ref()
                .is_some_and(|p| p.text == "Start building in Deploy.")
        })
        .unwrap();
    assert_eq!(start.change, Kind::Renamed);
    assert_eq!(start.new.as_ref().unwrap().text, "Begins Deploy and Embed.");
    assert!(!start.details.contains(&"effect"));
}

#[test]
fn the_json_names_each_change_and_its_places() {
    let d = diff(&five_stage(), &framework());
    let v = serde_json::to_value(&d).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["decisions", "options", "stages", "steps"]);
    let first = &v["stages"][0];
    assert_eq!(first["change"], "renamed");
    assert_eq!(first["old"]["stage"], "engagement");
    assert_eq!(first["new"]["text"], "Connect and Align");
    assert!(first["similarity"].as_f64().unwrap() >= 0.3);
}

#[test]
fn small_edits_are_named_for_what_they_are() {
    let overview =
        "---\ntitle: M\ntimeline:\n- title: Stage 1 – Plan\n  body: Plan.\n---\n\nThe model.\n";
    let stage = |steps: &str| format!("---\ntitle: Plan\ntimeline:\n{steps}---\n\nA stage.\n");
    let old = stage(
        "- title: Step 1 – Gather the team\n  body: Bring the people together.\n- title: Step 2 – Write the plan\n  body: Write it down.\n- title: Step 3 – Celebrate\n  body: Have cake.\n",
    );
    let new = stage(
        "- title: Step 1 – Gather the whole team\n  body: Bring the people together.\n- title: Step 2 – Write the plan\n  body: Write it all down.\n- title: Step 3 – Review the budget\n  body: Count the money.\n",
    );
    let a = load(&[("index.md", overview), ("plan.md", &old)]).model;
    let b = load(&[("index.md", overview), ("plan.md", &new)]).model;
    let d = diff(&a, &b);
    let kinds: Vec<(Kind, Option<u32>, Option<u32>)> = d
        .steps
        .iter()
        .map(|c| {
            (
                c.change,
                c.old.as_ref().and_then(|p| p.number),
                c.new.as_ref().and_then(|p| p.number),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (Kind::Renamed, Some(1), Some(1)),
            (Kind::Changed, Some(2), Some(2)),
            (Kind::Removed, Some(3), None),
            (Kind::Added, None, Some(3)),
        ]
    );
    assert!(d.stages.is_empty());
}

#[test]
fn similarity_is_symmetric_and_bounded() {
    for (a, b) in [
        ("Review the blueprint", "Review the blueprint"),
        ("Knowledge sharing", "Share knowledge"),
        ("Deploy", "Deploy and Embed"),
        ("", "Anything"),
        ("Cake", "Money"),
    ] {
        let s = similarity(a, b);
        assert_eq!(s, similarity(b, a));
        assert!((0.0..=1.0).contains(&s), "{a} / {b}: {s}");
    }
    assert_eq!(
        similarity("Review the blueprint", "the blueprint: review"),
        1.0
    );
    assert_eq!(similarity("Workshops", "workshop"), 1.0);
    assert_eq!(similarity("Cake", "Money"), 0.0);
}

#[test]
fn the_framework_model_lints_clean() {
    let dir = format!("{}/../../content/framework", env!("CARGO_MANIFEST_DIR"));
    let (files, _) = waymark_model::read_paths(&[dir.into()]).unwrap();
    let findings = waymark_model::lint(&waymark_model::build(files));
    assert_eq!(crate::codes(&findings), []);
}
