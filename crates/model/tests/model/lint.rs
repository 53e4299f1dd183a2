//! Each lint finding on the smallest page that shows it, with its exact place.

use waymark_model::Severity;

use crate::{found, load};

fn one(code: &str, line: u32, pages: &[(&str, &str)]) {
    let got = found(pages);
    let hits: Vec<_> = got.iter().filter(|(c, _, _)| c == code).collect();
    assert_eq!(hits.len(), 1, "expected one {code}; got {got:#?}");
    assert_eq!(hits[0].2, line, "{code} on the wrong line; got {got:#?}");
}

fn none(pages: &[(&str, &str)]) {
    assert_eq!(found(pages), [], "expected no findings");
}

#[test]
fn a_clean_page_has_no_findings() {
    none(&[(
        "a.md",
        "---\ntitle: A\ntimeline:\n- title: Step 1 - Start\n  body: |\n    Begin with the [docs](https://example.org).\n---\n\nIntro.\n\n## Roles\n\n* The agency\n",
    )]);
}

#[test]
fn invalid_yaml_gives_line_and_column() {
    let loaded = load(&[(
        "bad.md",
        "---\ntitle: ok\ntimeline:\n- title: [unclosed\n  body: x\n---\nBody\n",
    )]);
    let f = waymark_model::lint(&loaded);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].code.as_str(), "yaml-invalid");
    assert_eq!(f[0].severity, Severity::Error);
    assert!(f[0].line >= 4, "line {}", f[0].line);
    assert!(f[0].column >= 1);
    assert!(
        f[0].message
            .starts_with("the front matter is not valid YAML: "),
        "{}",
        f[0].message
    );
    assert!(
        !f[0].message.contains(" at line "),
        "no second, YAML-relative position: {}",
        f[0].message
    );
}

/// Sound YAML whose values are of the wrong kind is not called invalid
/// YAML: the finding names the key (and the item) and what it should be.
#[test]
fn a_value_of_the_wrong_kind_is_named_in_the_authors_terms() {
    let cases: [(&str, u32, &str); 7] = [
        ("title: []\n", 2, "`title` must be text, not a list"),
        ("title:\n  - a\n", 3, "`title` must be text, not a list"),
        (
            "layout: {a: b}\n",
            2,
            "`layout` must be text, not a set of `key: value` lines",
        ),
        (
            "title: x\ntimeline:\n  title: y\n",
            4,
            "`timeline` must be a list of items, each starting `- title:`, not a set of `key: value` lines",
        ),
        (
            "title: x\ntimeline:\n- just text\n",
            4,
            "timeline item 1 must be `title:` and `body:` lines, not a single value",
        ),
        (
            "title: x\ntimeline:\n- title: a\n  body: b\n- title: [a]\n",
            6,
            "timeline item 2's `title` must be text, not a list",
        ),
        (
            "title: x\ntimeline:\n- title: y\n  body:\n    k: v\n",
            6,
            "timeline item 1's `body` must be text (write `body: |` and the text indented on the lines below), not a set of `key: value` lines",
        ),
    ];
    for (yaml, line, message) in cases {
        let loaded = load(&[("a.md", &format!("---\n{yaml}---\n\nBody.\n"))]);
        let f = waymark_model::lint(&loaded);
        assert_eq!(f.len(), 1, "{yaml}: {f:#?}");
        assert_eq!(f[0].code.as_str(), "front-matter-shape", "{yaml}");
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(f[0].message, message, "{yaml}");
        assert_eq!(f[0].line, line, "{yaml}: {}", f[0].message);
    }
    // A list where the mapping of keys belongs.
    let f = waymark_model::lint(&load(&[("a.md", "---\n- a\n- b\n---\n")]));
    assert_eq!(f[0].code.as_str(), "front-matter-shape", "{f:#?}");
    assert!(
        f[0].message.contains("must be `key: value` lines"),
        "{f:#?}"
    );
    // A number or a yes is text enough for a title, as before.
    none(&[("a.md", "---\ntitle: 2024\n---\n\nBody.\n")]);
}

/// Front matter past the parser's limits says which, in words, never the
/// parser's own type names.
#[test]
fn front_matter_past_a_limit_says_which() {
    let deep = format!("title: {}x{}\n", "[".repeat(40), "]".repeat(40));
    let many = format!("title: [{}]\n", vec!["a"; 120_000].join(", "));
    for (yaml, says) in [
        (deep.as_str(), "nests lists and mappings more than 32 deep"),
        (many.as_str(), "holds more than 100,000 values"),
    ] {
        let loaded = load(&[("a.md", &format!("---\n{yaml}---\n\nBody.\n"))]);
        let f = waymark_model::lint(&loaded);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].code.as_str(), "front-matter-limit");
        assert_eq!(f[0].severity, Severity::Error);
        assert!(f[0].message.contains(says), "{}", f[0].message);
        assert!(
            !f[0].message.contains('{'),
            "no Rust in it: {}",
            f[0].message
        );
        assert_eq!(f[0].line, 2, "{}", f[0].message);
    }
}

#[test]
fn tab_indentation_is_invalid_yaml_on_its_line() {
    let got = found(&[("t.md", "---\ntitle: T\ntimeline:\n\t- title: x\n---\n")]);
    assert_eq!(got, [("yaml-invalid".to_string(), "t.md".to_string(), 4)]);
}

#[test]
fn a_link_with_an_empty_target() {
    one(
        "link-empty",
        4,
        &[(
            "a.md",
            "---\ntitle: A\n---\nThe [Letter of Intent]() formalises it.\n",
        )],
    );
    one(
        "link-empty",
        6,
        &[(
            "a.md",
            "---\ntitle: A\ntimeline:\n- title: Step 1 - X\n  body: |\n    See [here]().\n---\n",
        )],
    );
}

#[test]
fn empty_link_line_counts_from_the_body() {
    // Line 1 `---`, 2 title, 3 `---`, 4 blank, 5 text.
    one(
        "link-empty",
        5,
        &[(
            "a.md",
            "---\ntitle: A\n---\n\nThe [Letter of Intent]() formalises it.\n",
        )],
    );
}

#[test]
fn a_link_to_a_page_not_in_the_set() {
    let pages = [
        (
            "a.md",
            "---\ntitle: A\n---\nSee [B](/b.md), [C](c.html) and [the FAQ](/faq).\n",
        ),
        ("b.md", "---\ntitle: B\n---\nBack to [A](a.html#top).\n"),
    ];
    let got = found(&pages);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(
        got.iter()
            .all(|(c, p, l)| c == "link-unknown-page" && p == "a.md" && *l == 4)
    );
}

#[test]
fn pages_resolve_by_file_name_title_or_slug() {
    none(&[
        (
            "index.md",
            "---\ntitle: Home\n---\n[x](/adoption-evaluation.md) [y](adoption-and-evaluation.html) [z](/stage-two/) [h](/)\n",
        ),
        (
            "adoption-evaluation.md",
            "---\ntitle: Adoption and Evaluation\n---\n",
        ),
        ("0001_abc.txt", "---\ntitle: Stage Two\n---\n"),
    ]);
}

#[test]
fn links_that_could_run_script_or_open_files_are_errors() {
    for target in [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,x",
        "vbscript:x",
        "file:///etc/passwd",
    ] {
        let page = format!("---\ntitle: A\n---\nSee [this]({target}).\n");
        one("link-unsafe-scheme", 4, &[("a.md", page.as_str())]);
    }
    // The schemes people publish are not.
    let ok = crate::found(&[(
        "a.md",
        "---\ntitle: A\n---\n[w](https://example.org) [m](mailto:a@b.gov.au) [t](tel:+61262000000) [h](http://example.org)\n",
    )]);
    assert!(ok.is_empty(), "{ok:?}");
}

#[test]
fn a_web_link_without_a_scheme() {
    one(
        "link-no-scheme",
        4,
        &[(
            "a.md",
            "---\ntitle: A\n---\nJoin the [portal](www.community.example.org).\n",
        )],
    );
}

#[test]
fn an_item_without_a_body() {
    one(
        "item-no-body",
        4,
        &[(
            "a.md",
            "---\ntitle: A\ntimeline:\n- title: Step 1 - Alone\n---\n",
        )],
    );
    one(
        "item-no-body",
        4,
        &[(
            "a.md",
            "---\ntitle: A\ntimeline:\n- title: Step 1 - Blank\n  body: \"  \"\n---\n",
        )],
    );
}

#[test]
fn an_item_without_a_title() {
    one(
        "title-missing",
        4,
        &[("a.md", "---\ntitle: A\ntimeline:\n- body: text\n---\n")],
    );
}

const TEXT: &str =
    "The agency and the DTA agree a plan for adopting the blueprint across every division";

#[test]
fn near_duplicate_bodies_on_one_page() {
    let page = format!(
        "---\ntitle: A\ntimeline:\n- title: Step 1 - One\n  body: |\n    {TEXT}.\n- title: Step 2 - Two\n  body: |\n    {TEXT}, with training.\n---\n"
    );
    one("duplicate-text", 9, &[("a.md", &page)]);
}

#[test]
fn different_bodies_are_not_duplicates() {
    none(&[(
        "a.md",
        "---\ntitle: A\ntimeline:\n- title: Step 1 - One\n  body: |\n    The agency reviews the blueprint to learn what it offers and how others use it.\n- title: Step 2 - Two\n  body: |\n    The DTA runs a first workshop about sponsorship, strategy, business need and budget.\n---\n",
    )]);
}

#[test]
fn identical_bodies_on_two_pages() {
    let a = format!("---\ntitle: A\ntimeline:\n- title: Step 1 - One\n  body: {TEXT}\n---\n");
    let b = format!("---\ntitle: B\ntimeline:\n- title: Step 1 - Copy\n  body: {TEXT}\n---\n");
    let got = found(&[("a.md", &a), ("b.md", &b)]);
    assert_eq!(got, [("duplicate-text".to_string(), "b.md".to_string(), 5)]);
}

#[test]
fn the_same_list_entry_twice() {
    one(
        "duplicate-item",
        8,
        &[(
            "a.md",
            "---\ntitle: A\n---\n## Roles\n\n* The DTA\n* The agency\n* the  DTA\n",
        )],
    );
}

/// Entries are the same in any case, Unicode's included (`É`/`é`, the
/// Kelvin sign `K` and `k`); the finding names the first entry's line. A
/// section of thousands of entries is checked in one pass.
#[test]
fn the_same_list_entry_in_another_case() {
    let page = "---\ntitle: A\n---\n## Roles\n\n* Équipe\n* 5 \u{212A}\n* ÉQUIPE\n* 5 k\n* 5 K\n";
    let f = waymark_model::lint(&crate::load(&[("a.md", page)]));
    let got: Vec<_> = f
        .iter()
        .map(|f| (f.code.as_str(), f.line, f.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "duplicate-item",
                8,
                "“ÉQUIPE” is listed twice; it first appears on line 6"
            ),
            (
                "duplicate-item",
                9,
                "“5 k” is listed twice; it first appears on line 7"
            ),
            (
                "duplicate-item",
                10,
                "“5 K” is listed twice; it first appears on line 7"
            ),
        ]
    );
    let mut many = String::from("---\ntitle: A\n---\n## Roles\n\n");
    for i in 0..20_000 {
        many.push_str(&format!("* Role {i} é\n"));
    }
    many.push_str("* ROLE 7 É\n");
    let f = waymark_model::lint(&crate::load(&[("a.md", many.as_str())]));
    assert_eq!(f.len(), 1, "{:?}", f.first());
    assert_eq!(f[0].line, 20_006);
}

#[test]
fn a_step_among_the_overview_stages() {
    let ov = "---\ntitle: Overview\ntimeline:\n- title: 1. One\n  body: a\n- title: Step 1 – Stray\n  body: b\n- title: 2. Two\n  body: c\n---\n";
    let got = found(&[
        ("index.md", ov),
        ("one.md", "---\ntitle: One\n---\n"),
        ("two.md", "---\ntitle: Two\n---\n"),
    ]);
    assert_eq!(
        got,
        [("item-misplaced".to_string(), "index.md".to_string(), 6)]
    );
}

#[test]
fn a_stage_entry_on_a_stage_page() {
    let ov = "---\ntitle: Overview\ntimeline:\n- title: 1. One\n  body: a\n- title: 2. Two\n  body: c\n---\n";
    let one_page = "---\ntitle: One\ntimeline:\n- title: 3. Three\n  body: x\n---\n";
    let got = found(&[
        ("index.md", ov),
        ("one.md", one_page),
        ("two.md", "---\ntitle: Two\n---\n"),
    ]);
    assert_eq!(
        got,
        [("item-misplaced".to_string(), "one.md".to_string(), 4)]
    );
}

#[test]
fn an_overview_stage_without_a_page() {
    let ov = "---\ntitle: Overview\ntimeline:\n- title: 1. One\n  body: a\n- title: 2. Missing\n  body: c\n---\n";
    let got = found(&[("index.md", ov), ("one.md", "---\ntitle: One\n---\n")]);
    assert_eq!(
        got,
        [("stage-no-page".to_string(), "index.md".to_string(), 6)]
    );
}

#[test]
fn an_empty_section() {
    one(
        "section-empty",
        4,
        &[(
            "a.md",
            "---\ntitle: A\n---\n## Benefits\n\n## Risks if ignored\n\n* Some\n",
        )],
    );
    one(
        "section-empty",
        6,
        &[(
            "a.md",
            "---\ntitle: A\n---\n## Benefits\n* One\n## Tasks and activities \n",
        )],
    );
}

#[test]
fn a_heading_without_text() {
    // Its items still belong to a section, shown without a heading.
    one(
        "heading-empty",
        5,
        &[(
            "a.md",
            "---\ntitle: A\n---\nIntro.\n## \n\n* one\n* two\n## Roles\n\n* Sponsor\n",
        )],
    );
    none(&[("a.md", "---\ntitle: A\n---\n## Roles\n\n* Sponsor\n")]);
    // A heading of characters that take no room reads as empty too.
    one(
        "heading-empty",
        4,
        &[(
            "a.md",
            "---\ntitle: A\n---\n## \u{200b}&#8203;\u{feff}\n\n* one\n",
        )],
    ); // Indented, it is pointed at where its `#` is.
    let loaded = load(&[("a.md", "---\ntitle: A\n---\nIntro.\n   ## \n\n* one\n")]);
    let f: Vec<_> = waymark_model::lint(&loaded)
        .into_iter()
        .filter(|f| f.code.as_str() == "heading-empty")
        .map(|f| (f.line, f.column))
        .collect();
    assert_eq!(f, [(5, 4)]);
}

#[test]
fn a_page_without_a_title() {
    let page = "---\nlayout: engagement\n---\nText.\n";
    one("page-untitled", 1, &[("notes.md", page)]);
    one(
        "page-untitled",
        1,
        &[("notes.md", "---\ntitle: \"  \"\n---\nText.\n")],
    );
    let loaded = load(&[("notes.md", page)]);
    let f = waymark_model::lint(&loaded);
    assert!(f[0].message.contains("“notes”"), "{}", f[0].message);
    // A file name without a letter or digit still gives an address.
    let loaded = load(&[("!!!.md", page), ("---.md", page)]);
    let slugs: Vec<&str> = loaded.model.pages.iter().map(|p| p.slug.as_str()).collect();
    assert_eq!(slugs, ["page-212121", "page-2d2d2d"]);
    assert_eq!(crate::codes(&waymark_model::lint(&loaded)).len(), 2);
}

#[test]
fn a_file_without_front_matter_does_not_stop_the_load() {
    let loaded = load(&[
        ("notes.md", "# Notes\n\nJust text.\n"),
        ("a.md", "---\ntitle: A\n---\nFine.\n"),
    ]);
    assert_eq!(loaded.model.pages.len(), 1);
    let got = crate::codes(&waymark_model::lint(&loaded));
    assert_eq!(
        got,
        [("no-front-matter".to_string(), "notes.md".to_string(), 1)]
    );
}

#[test]
fn unclosed_front_matter() {
    one(
        "front-matter-unclosed",
        1,
        &[("a.md", "---\ntitle: A\nBody without a closing line\n")],
    );
}

#[test]
fn mixed_dash_styles_are_info() {
    let page = "---\ntitle: A\ntimeline:\n- title: Step 1 – One\n  body: a\n- title: Step 2 - Two\n  body: b\n---\n";
    let loaded = load(&[("a.md", page)]);
    let f = waymark_model::lint(&loaded);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].code.as_str(), "mixed-dashes");
    assert_eq!(f[0].severity, Severity::Info);
    assert_eq!(f[0].line, 6);
    assert!(
        f[0].message.contains("hyphen") && f[0].message.contains("en dash"),
        "{}",
        f[0].message
    );
}

#[test]
fn step_numbers_out_of_order() {
    one(
        "step-numbering",
        6,
        &[(
            "a.md",
            "---\ntitle: A\ntimeline:\n- title: Step 1 - A\n  body: a\n- title: Step 3 - C\n  body: c\n---\n",
        )],
    );
}

#[test]
fn a_decision_without_options() {
    one(
        "decision-no-options",
        4,
        &[(
            "a.md",
            "---\ntitle: A\ntimeline:\n- title: Decision point - Go?\n  body: We decide later.\n---\n",
        )],
    );
}

/// A change of bullet starts a second list, whose entries are not options:
/// said, not dropped in silence. Text after the one list is not a finding.
#[test]
fn options_in_a_second_list() {
    let page = |body: &str| {
        format!(
            "---\ntitle: A\ntimeline:\n- title: Decision point - Go?\n  body: |\n{body}---\n\nIntro.\n"
        )
    };
    one(
        "decision-second-list",
        4,
        &[(
            "a.md",
            &page("    Choose:\n\n    * Go on\n    * Wait\n    - Stop\n"),
        )],
    );
    one(
        "decision-second-list",
        4,
        &[(
            "a.md",
            &page("    * Go on\n\n    Or else:\n\n    1. Stop\n"),
        )],
    );
    let got = found(&[(
        "a.md",
        &page("    * Go on\n    * Wait\n\n    Then write to [us](https://example.org).\n"),
    )]);
    assert!(
        !got.iter().any(|(c, _, _)| c == "decision-second-list"),
        "{got:#?}"
    );
}

#[test]
fn two_pages_with_one_slug() {
    let got = found(&[
        ("a/deploy.md", "---\ntitle: One\n---\n"),
        ("b/deploy.md", "---\ntitle: Two\n---\n"),
    ]);
    assert_eq!(
        got,
        [("slug-conflict".to_string(), "b/deploy.md".to_string(), 1)]
    );
}

#[test]
fn a_timebox_is_weeks_or_least_and_most() {
    let page = |v: &str| {
        format!(
            "---\ntitle: A\ntimebox_weeks: {v}\ntimeline:\n- title: Step 1 - Start\n  body: |\n    Begin.\n---\n\nIntro.\n"
        )
    };
    for good in ["8", "[4, 8]", "[6, 6]"] {
        none(&[("a.md", &page(good))]);
    }
    for bad in ["0", "[8, 4]", "eight", "[4]", "[4, 8, 12]", "105", "-3"] {
        one("timebox-invalid", 1, &[("a.md", &page(bad))]);
    }
    let read = |v: serde_json::Value| waymark_model::Timebox::from_front_matter(&v);
    assert_eq!(
        read(serde_json::json!([4, 8])).unwrap().describe(),
        "4 to 8 weeks"
    );
    assert_eq!(
        read(serde_json::json!(8)).unwrap().describe(),
        "up to 8 weeks"
    );
    assert_eq!(
        read(serde_json::json!([8, 4])),
        Err(waymark_model::TimeboxError::Reversed)
    );
}

#[test]
fn a_success_criterion_is_met_by_a_fact_the_page_can_name() {
    let page = |v: &str| {
        format!(
            "---\ntitle: A\nsuccess_met_by:\n  {v}\ntimeline:\n- title: Step 1 - Start\n  body: |\n    Begin.\n- title: Decision point - Go?\n  body: |\n    * Stop.\n---\n\nIntro.\n\n## What success looks like\n\n* A letter is signed.\n* A path is agreed.\n"
        )
    };
    for good in [
        "\"A letter is signed.\": signed letter-of-intent",
        "\"A path is agreed.\": decided 1",
        "\"A path is agreed.\": decided exit",
    ] {
        none(&[("a.md", &page(good))]);
    }
    for bad in [
        "\"A letter is sealed.\": signed letter-of-intent",
        "\"A letter is signed.\": signed a-postcard",
        "\"A path is agreed.\": decided 0",
        "\"A path is agreed.\": agreed",
        "\"A path is agreed.\": [decided]",
    ] {
        one("success-met-by-invalid", 1, &[("a.md", &page(bad))]);
    }
    let loaded = crate::load(&[(
        "a.md",
        &page("\"A letter is signed.\": signed closure-letter"),
    )]);
    let stage = &loaded.model.stages[0];
    assert_eq!(
        stage.met_by,
        vec![waymark_model::MetBy {
            criterion: 0,
            fact: waymark_model::Fact::Signed {
                letter: "closure-letter".into()
            }
        }]
    );
}

#[test]
fn a_step_offers_only_actions_waymark_knows() {
    let page = |action: &str, title: &str| {
        format!(
            "---\ntitle: A\ntimeline:\n- title: {title}\n  action: {action}\n  body: |\n    Ask.\n---\n\nIntro.\n"
        )
    };
    none(&[("a.md", &page("request-support", "Step 1 - Ask"))]);
    one(
        "action-unknown",
        4,
        &[("a.md", &page("launch-rockets", "Step 1 - Ask"))],
    );
    one(
        "action-unknown",
        4,
        &[("a.md", &page("request-support", "Background"))],
    );
    let loaded = crate::load(&[("a.md", &page("request-support", "Step 1 - Ask"))]);
    assert_eq!(
        loaded.model.stages[0].steps[0].action,
        Some(waymark_model::StepAction::RequestSupport)
    );
}
