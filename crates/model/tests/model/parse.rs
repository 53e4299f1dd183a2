//! How real pages are written: everything here must load without findings.

use waymark_model::{ItemKind, SectionKind};

use crate::{found, load};

#[test]
fn messy_but_valid_pages_load_cleanly() {
    // En dash and hyphen on different pages, `body: | ` with trailing spaces,
    // no-break spaces, `1.<TAB>` markers, a heading in title case, trailing
    // spaces on fences, and no final newline.
    let a = "--- \nlayout: engagement \ntitle: Deploy\u{a0}stage \ntimeline: \n- title: Step\u{a0}1 – Execution plan\n  body: | \n    The agency plans.  \n- title: Next steps  \n  body: | \n    Then:\n\n    * Go to [B](b.html).  \n    * Exit.\n--- \n\nIntro.\n\n## Tools, Templates and Guidance \n\n1.\tSprint plan\n2.\tFeature log";
    let b = "---\ntitle: B\ntimeline:\n- title: Step 1 - Only\n  body: Plain scalar body\n...\n";
    assert_eq!(found(&[("a.md", a), ("b.md", b)]), []);
    let m = load(&[("a.md", a), ("b.md", b)]).model;
    let p = &m.pages[0];
    assert_eq!(p.title, "Deploy stage");
    assert_eq!(p.layout.as_deref(), Some("engagement"));
    assert!(
        matches!(&p.timeline[0].kind, ItemKind::Step { number: 1, title } if title == "Execution plan")
    );
    assert_eq!(p.timeline[0].body.as_deref(), Some("The agency plans.  \n"));
    let ItemKind::NextSteps(c) = &p.timeline[1].kind else {
        panic!("{:?}", p.timeline[1].kind)
    };
    assert_eq!(c.intro, "Then:");
    let opts: Vec<_> = c.options.iter().map(|o| o.markdown()).collect();
    assert_eq!(opts, ["Go to [B](b.html).", "Exit."]);
    let tools = p.section(SectionKind::Artefacts).unwrap();
    assert_eq!(tools.heading, "Tools, Templates and Guidance");
    let items: Vec<_> = tools.items.iter().map(|e| e.text()).collect();
    assert_eq!(items, ["Sprint plan", "Feature log"]);
    assert_eq!(tools.items[1].line, 21);
}

#[test]
fn every_section_heading_is_matched_by_meaning() {
    for (heading, kind) in [
        ("Roles", SectionKind::Roles),
        ("ROLES", SectionKind::Roles),
        ("Tools, templates and guidance", SectionKind::Artefacts),
        ("Tools and Templates", SectionKind::Artefacts),
        ("Enabling services", SectionKind::EnablingServices),
        ("Benefits", SectionKind::Benefits),
        ("Risks if ignored", SectionKind::Risks),
        ("What success looks like", SectionKind::Success),
        ("What Success Looks Like?", SectionKind::Success),
        ("Tasks and activities", SectionKind::Tasks),
        ("Design Principles", SectionKind::Principles),
        ("Something else", SectionKind::Other),
    ] {
        assert_eq!(SectionKind::from_heading(heading), kind, "{heading}");
    }
}

#[test]
fn unknown_sections_and_keys_are_kept() {
    let m = load(&[("a.md", "---\ntitle: A\nlast_modified_at: 2024-05-01\npermalink: /a/\n---\nIntro\n\n## Background\n\nSome history.\n")]).model;
    let p = &m.pages[0];
    assert_eq!(p.extra["last_modified_at"], "2024-05-01");
    assert_eq!(p.extra["permalink"], "/a/");
    assert_eq!(p.sections[0].kind, SectionKind::Other);
    assert_eq!(p.sections[0].heading, "Background");
    assert_eq!(p.sections[0].markdown(), "Some history.");
    assert_eq!(p.intro, "Intro");
}

#[test]
fn a_decision_keeps_the_text_around_its_options() {
    let page = "---\ntitle: A\ntimeline:\n- title: Decision point - Go?\n  body: |\n    Before.\n\n    * Yes, [start](/a.md).\n    * No.\n\n    After.\n---\n";
    let m = load(&[("a.md", page)]).model;
    let ItemKind::Decision(d) = &m.pages[0].timeline[0].kind else {
        panic!()
    };
    assert_eq!(d.question, "Go?");
    assert_eq!(d.choices.intro, "Before.");
    assert_eq!(d.choices.outro, "After.");
    assert_eq!(d.choices.options[0].text(), "Yes, start.");
    assert_eq!(d.choices.options[0].line, 8);
    assert_eq!(d.choices.options[0].links, ["/a.md"]);
}

#[test]
fn without_an_overview_stages_are_pages_with_steps() {
    let m = load(&[
        ("faq.md", "---\ntitle: FAQ\n---\n## Q?\n\nA.\n"),
        (
            "one.md",
            "---\ntitle: One\ntimeline:\n- title: Step 1 - A\n  body: a\n---\n",
        ),
    ])
    .model;
    assert!(m.overview.is_none());
    assert_eq!(m.stages.len(), 1);
    assert_eq!(m.stages[0].name, "One");
    assert_eq!(
        m.other_pages()
            .map(|p| p.title.as_str())
            .collect::<Vec<_>>(),
        ["FAQ"]
    );
}

#[test]
fn a_byte_order_mark_is_not_content() {
    assert_eq!(found(&[("a.md", "\u{feff}---\ntitle: A\n---\nBody\n")]), []);
}

#[test]
fn crlf_line_endings() {
    let page = "---\r\ntitle: A\r\ntimeline:\r\n- title: Step 1 - X\r\n  body: |\r\n    See [y]().\r\n---\r\nBody\r\n";
    let got = found(&[("a.md", page)]);
    assert_eq!(got, [("link-empty".to_string(), "a.md".to_string(), 6)]);
}
