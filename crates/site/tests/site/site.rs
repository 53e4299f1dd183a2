//! The static export.

use std::collections::HashMap;
use std::path::Path;

use waymark_model::markdown::plain_text;
use waymark_site::{self as site, Dates, Published};

use crate::{attrs, load, pages, seeds, tempdir, text_of};

fn fixed(n: usize) -> Dates {
    Dates::fixed(vec![Some("2026-11-22".to_string()); n])
}

fn export(loaded: &waymark_model::Loaded, name: &str) -> std::path::PathBuf {
    let built = site::build(
        &loaded.model,
        &fixed(loaded.model.pages.len()),
        None,
        &Published::default(),
    )
    .unwrap();
    let dir = tempdir(name);
    built.write(&dir).unwrap();
    dir
}

/// Every internal `href` and `src` of every page resolves to a file, and
/// every `#fragment` to an element with that id.
pub fn check_links(dir: &Path) -> usize {
    let mut ids: HashMap<String, Vec<String>> = HashMap::new();
    let htmls: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    for (name, html) in &htmls {
        ids.insert(name.clone(), attrs(html, "id"));
    }
    let mut checked = 0;
    for (name, html) in &htmls {
        for target in attrs(html, "href").into_iter().chain(attrs(html, "src")) {
            if target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with("mailto:")
            {
                continue;
            }
            assert!(!target.is_empty(), "{name}: an empty href");
            let (file, frag) = target.split_once('#').unwrap_or((&target, ""));
            let file = if file.is_empty() { name.as_str() } else { file };
            assert!(!file.starts_with('/'), "{name}: {target} is not relative");
            assert!(dir.join(file).is_file(), "{name}: {target} does not exist");
            if !frag.is_empty() {
                assert!(
                    ids.get(file)
                        .is_some_and(|ids| ids.iter().any(|i| i == frag)),
                    "{name}: {target} names no element"
                );
            }
            checked += 1;
        }
    }
    checked
}

#[test]
fn bundled_site_has_every_page_and_no_broken_link() {
    let loaded = load(waymark_model::bundled());
    let dir = export(&loaded, "bundled");
    for f in [
        "index.html",
        "engagement.html",
        "discovery.html",
        "deploy.html",
        "transition.html",
        "adoption-evaluation.html",
        "faq.html",
        "assets/site.css",
        "engagement-model.svg",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert!(check_links(&dir) > 100);
}

#[test]
fn seed_site_has_no_broken_link_and_dead_links_are_text() {
    let loaded = load(seeds());
    let dir = export(&loaded, "seeds");
    check_links(&dir);
    let engagement = std::fs::read_to_string(dir.join("engagement.html")).unwrap();
    // `[Letter of Intent]()` and `faq.html` (not in the set) become plain text.
    assert!(
        text_of(&engagement)
            .contains("The DTA will provide a Letter of Intent to formalise the agreement.")
    );
    assert!(!engagement.contains(">Letter of Intent</a>"));
    assert!(!engagement.contains("faq.html"));
    // The link to a page that is in the set works.
    let overview = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(overview.contains("href=\"deploy.html\""));
    assert!(overview.contains("href=\"engagement.html\""));
}

#[test]
fn every_seed_title_and_paragraph_is_on_its_page() {
    let loaded = load(seeds());
    let dir = export(&loaded, "seed-text");
    let hrefs = site::Hrefs::new(&loaded.model);
    let mut checked = 0;
    for (i, p) in loaded.model.pages.iter().enumerate() {
        let html = std::fs::read_to_string(dir.join(hrefs.page(waymark_model::PageId(i)))).unwrap();
        let text = text_of(&html);
        for t in &p.timeline {
            assert!(text.contains(&t.title), "{}: title {:?}", p.path, t.title);
            checked += 1;
            for para in t.body.as_deref().unwrap_or("").split("\n\n") {
                let para = plain_text(para);
                if !para.is_empty() {
                    assert!(text.contains(&para), "{}: paragraph {:?}", p.path, para);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 20, "{checked}");
}

#[test]
fn decisions_and_next_steps_are_distinct_panels_with_option_lists() {
    let loaded = load(waymark_model::bundled());
    let dir = export(&loaded, "panels");
    let html = std::fs::read_to_string(dir.join("engagement.html")).unwrap();
    assert_eq!(html.matches("class=\"panel panel-step\"").count(), 3);
    assert_eq!(html.matches("class=\"panel panel-decision\"").count(), 1);
    assert_eq!(html.matches("class=\"panel panel-next_steps\"").count(), 1);
    assert_eq!(html.matches("<ul class=\"options\">").count(), 2);
    assert!(html.contains("<a href=\"engagement.html\" aria-current=\"page\">"));
    assert!(html.contains("<h2 id=\"toc-title\">On this page</h2>"));
    assert!(html.contains("<time datetime=\"2026-11-22\">22 November 2026</time>"));
}

#[test]
fn the_overview_embeds_the_visual_and_says_it_in_words() {
    let loaded = load(waymark_model::bundled());
    let dir = export(&loaded, "visual");
    let svg = std::fs::read_to_string(dir.join("engagement-model.svg")).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains("role=\"img\""));
    assert!(svg.contains("<title id=\"model-visual-title\">The engagement model</title>"));
    for name in [
        "Engagement",
        "Discovery",
        "Deploy",
        "Transition",
        "Adoption and Evaluation",
    ] {
        assert!(svg.contains(name), "{name}");
    }
    assert!(svg.contains("Repeat this stage"));
    let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(index.contains("<svg"));
    assert!(index.contains("href=\"engagement-model.svg\" download"));
    let text = text_of(&index);
    assert!(
        text.contains("Deploy: then To Transition; Repeat this stage; Exit"),
        "{text}"
    );
}

#[test]
fn markup_in_content_is_shown_not_run() {
    let loaded = pages(&[(
        "a.md",
        "---\ntitle: <b>Bold</b> & co\ntimeline:\n- title: Step 1 - <img src=x onerror=alert(1)>\n  body: |\n    <script>alert(1)</script> and [x](javascript:alert(1))\n---\n<iframe src=\"https://evil.example\"></iframe>\n",
    )]);
    let built = site::build(&loaded.model, &fixed(1), None, &Published::default()).unwrap();
    let html = String::from_utf8(built.get("a.html").unwrap().to_vec()).unwrap();
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"));
    assert!(!html.contains("<iframe"));
    assert!(!html.contains("<b>Bold</b>"));
    assert!(html.contains("&lt;script&gt;"));
    assert!(
        html.contains("&lt;b&gt;Bold&lt;&#x2f;b&gt; &amp; co")
            || html.contains("&lt;b&gt;Bold&lt;/b&gt; &amp; co"),
        "{html}"
    );
    assert!(!html.contains("href=\"javascript:"), "{html}");
}

/// Headings without text (`## ` or `### ` alone, an item without a title)
/// never reach the page as empty headings or empty contents links: a screen
/// reader's list of headings and links would have blanks. Their content
/// stays.
/// A NUL anywhere in a page's markdown is shown as U+FFFD, as CommonMark
/// says, never written into the HTML.
#[test]
fn a_nul_in_markdown_never_reaches_the_html() {
    let loaded = pages(&[(
        "a.md",
        "---\ntitle: A\n---\nIntro \u{0} here, `code \u{0}`, [link \u{0}](https://example.gov.au).\n\n## Roles\n\n* a \u{0} b\n",
    )]);
    let built = site::build(&loaded.model, &fixed(1), None, &Published::default()).unwrap();
    let html = String::from_utf8(built.get("a.html").unwrap().to_vec()).unwrap();
    assert!(!html.contains('\0'), "{html}");
    for shown in [
        "Intro \u{fffd} here",
        "code \u{fffd}",
        "link \u{fffd}",
        "a \u{fffd} b",
    ] {
        assert!(html.contains(shown), "{shown} missing from {html}");
    }
}

#[test]
fn headings_without_text_are_not_shown_empty() {
    let loaded = pages(&[(
        "a.md",
        "---\ntitle: A\ntimeline:\n- body: |\n    An item without a title.\n- title: Step 1 - Start\n  body: |\n    Begin.\n\n    ### \n\n    After an empty heading.\n---\nIntro.\n\n## \n\n* one item\n\n## \u{200b}\n\nAfter an invisible heading.\n\n## Roles\n\n* Sponsor\n",
    )]);
    let built = site::build(&loaded.model, &fixed(1), None, &Published::default()).unwrap();
    let html = String::from_utf8(built.get("a.html").unwrap().to_vec()).unwrap();
    for empty in ["></h2>", "></h3>", "\"></a>", "\u{200b}</"] {
        assert!(!html.contains(empty), "{empty} in {html}");
    }
    for kept in [
        "An item without a title.",
        "After an empty heading.",
        "After an invisible heading.",
        "<li>one item</li>",
        "<h2 id=\"roles\">Roles</h2>",
        "<li><a href=\"#roles\">Roles</a></li>",
        "<li><a href=\"#step-1-start\">Step 1 - Start</a></li>",
    ] {
        assert!(html.contains(kept), "{kept} missing from {html}");
    }
    assert!(
        html.contains("<section class=\"section\">\n<ul>\n<li>one item"),
        "{html}"
    );
}

/// What the caller publishes reaches every page as data: shown, escaped,
/// and absent from an export that publishes nothing.
#[test]
fn published_links_are_on_every_page_and_escaped() {
    let loaded = load(waymark_model::bundled());
    let n = loaded.model.pages.len();
    let plain = site::build(&loaded.model, &fixed(n), None, &Published::default()).unwrap();
    let index = String::from_utf8(plain.get("index.html").unwrap().to_vec()).unwrap();
    assert!(!index.contains("header-links"), "an export links nowhere");
    let published = Published {
        links: vec![
            site::Link {
                text: "Sign <in> & \"go\"".into(),
                href: "/login?next=\"x\"".into(),
            },
            site::Link {
                text: "Request support".into(),
                href: "/request-support".into(),
            },
        ],
        request_support: Some("https://w.example/request-support?a=\"b\"".into()),
        search: Some("https://w.example/search?x=\"y\"".into()),
        ..Published::default()
    };
    let built = site::build(&loaded.model, &fixed(n), None, &published).unwrap();
    // The way in: a start button on the overview and on the step whose
    // `action:` is `request-support` (Engagement's step 2), nowhere else.
    let starts = |name: &str| {
        let html = String::from_utf8(built.get(name).unwrap().to_vec()).unwrap();
        let n = html.matches("class=\"button button-start\"").count();
        assert_eq!(
            n > 0,
            attrs(&html, "href").contains(&"https://w.example/request-support?a=\"b\"".to_string()),
            "{name}"
        );
        n
    };
    assert_eq!(starts("index.html"), 1);
    assert_eq!(starts("engagement.html"), 1);
    assert_eq!(starts("discovery.html"), 0);
    assert!(
        !index.contains("button-start"),
        "an export without a public URL offers no button"
    );
    for (name, bytes) in &built.files {
        if !name.ends_with(".html") {
            continue;
        }
        let html = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            attrs(&html, "href").contains(&"/request-support".to_string()),
            "{name}"
        );
        assert!(text_of(&html).contains("Sign <in> & \"go\""), "{name}");
        assert!(!html.contains("<in>"), "{name}: markup is escaped");
        assert!(
            attrs(&html, "href").contains(&"/login?next=\"x\"".to_string()),
            "{name}"
        );
        assert!(
            attrs(&html, "action").contains(&"https://w.example/search?x=\"y\"".to_string()),
            "{name}: the search box goes to the live search"
        );
    }
    assert!(
        !index.contains("role=\"search\""),
        "an export alone has no search box"
    );
}

#[test]
fn a_templates_folder_overrides_by_name() {
    let loaded = load(waymark_model::bundled());
    let dir = tempdir("templates");
    std::fs::write(
        dir.join("page.html"),
        "{% extends \"base.html\" %}{% block content %}<p class=\"custom\">{{ title }}</p>{% endblock %}",
    )
    .unwrap();
    let built = site::build(
        &loaded.model,
        &fixed(loaded.model.pages.len()),
        Some(&dir),
        &Published::default(),
    )
    .unwrap();
    let faq = String::from_utf8(built.get("faq.html").unwrap().to_vec()).unwrap();
    assert!(faq.contains("<p class=\"custom\">Frequently asked questions</p>"));
    let deploy = String::from_utf8(built.get("deploy.html").unwrap().to_vec()).unwrap();
    assert!(
        deploy.contains("panel-step"),
        "other templates are unchanged"
    );
    std::fs::write(dir.join("page.html"), "{% if %}").unwrap();
    let err = site::build(
        &loaded.model,
        &fixed(loaded.model.pages.len()),
        Some(&dir),
        &Published::default(),
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("template page.html:"), "{err}");
}

#[test]
fn snapshot_of_the_seed_engagement_page() {
    let loaded = load(seeds());
    let built = site::build(
        &loaded.model,
        &fixed(loaded.model.pages.len()),
        None,
        &Published::default(),
    )
    .unwrap();
    insta::assert_snapshot!(
        String::from_utf8(built.get("engagement.html").unwrap().to_vec()).unwrap()
    );
}

#[test]
fn snapshot_of_the_bundled_overview() {
    let loaded = load(waymark_model::bundled());
    let built = site::build(
        &loaded.model,
        &fixed(loaded.model.pages.len()),
        None,
        &Published::default(),
    )
    .unwrap();
    insta::assert_snapshot!(String::from_utf8(built.get("index.html").unwrap().to_vec()).unwrap());
}

#[test]
fn without_an_overview_the_index_lists_the_pages() {
    let loaded = pages(&[
        ("one.md", "---\ntitle: One\n---\nText\n"),
        ("two.md", "---\ntitle: Two\n---\nText\n"),
    ]);
    let built = site::build(&loaded.model, &fixed(2), None, &Published::default()).unwrap();
    let index = String::from_utf8(built.get("index.html").unwrap().to_vec()).unwrap();
    assert!(index.contains("href=\"one.html\"") && index.contains("href=\"two.html\""));
}

#[test]
fn dates_come_from_front_matter_first() {
    let loaded = pages(&[(
        "a.md",
        "---\ntitle: A\nlast_modified_at: 2024-05-01 10:00:00 +1000\n---\n",
    )]);
    let dates = site::last_modified(&loaded.model);
    assert_eq!(dates.get(waymark_model::PageId(0)), Some("2024-05-01"));
}

#[test]
fn many_other_pages_get_one_all_pages_link_instead_of_a_long_navigation() {
    let mut files = vec![(
        "index.md".to_string(),
        "---\ntitle: Overview\ntimeline:\n- title: 1. One\n  body: a\n---\n".to_string(),
    )];
    files.push(("one.md".into(), "---\ntitle: One\n---\n".into()));
    for i in 0..13 {
        files.push((
            format!("extra-{i:02}.md"),
            format!("---\ntitle: Extra {i}\n---\nText {i}.\n"),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let loaded = pages(&refs);
    let dir = export(&loaded, "many");
    let one = std::fs::read_to_string(dir.join("one.html")).unwrap();
    assert!(one.contains("<a href=\"contents.html\">All pages</a>"));
    assert!(
        !one.contains("extra-00.html"),
        "other pages are not listed on every page"
    );
    let contents = std::fs::read_to_string(dir.join("contents.html")).unwrap();
    for i in 0..13 {
        assert!(contents.contains(&format!("href=\"extra-{i:02}.html\"")));
    }
    assert!(contents.contains("<a href=\"contents.html\" aria-current=\"page\">All pages</a>"));
    check_links(&dir);
}

#[test]
fn export_writes_exactly_what_build_renders() {
    let loaded = load(waymark_model::bundled());
    let dates = fixed(loaded.model.pages.len());
    let built = site::build(&loaded.model, &dates, None, &Published::default()).unwrap();
    let dir = tempdir("export");
    let written = site::export(&loaded.model, &dates, None, &Published::default(), &dir).unwrap();
    assert_eq!(written, built.files.len());
    for (name, bytes) in &built.files {
        assert_eq!(&std::fs::read(dir.join(name)).unwrap(), bytes, "{name}");
    }
}

/// A link that could run script or open local files is shown as its text:
/// the static site works from any server and from `file://`, without the
/// live server's content security policy.
#[test]
fn script_and_data_links_are_published_as_text() {
    let loaded = pages(&[(
        "a.md",
        "---\ntitle: A\ntimeline:\n- title: Step 1 - Go\n  body: Open [the data](data:text/html,<script>x</script>).\n---\nRead [this](javascript:alert(4)) and [that](https://example.org).\n",
    )]);
    let dir = export(&loaded, "unsafe-links");
    let html = std::fs::read_to_string(dir.join("a.html")).unwrap();
    assert!(!html.contains("javascript:"), "{html}");
    assert!(!html.contains("data:text"), "{html}");
    assert!(html.contains("this") && html.contains("the data"));
    assert!(html.contains("href=\"https://example.org\""));
}

/// The list of articles is paged, and stage pages list at most a few, so no
/// page grows with the number of articles.
#[test]
fn no_page_grows_with_the_articles() {
    let loaded = load(waymark_model::bundled());
    let n = loaded.model.pages.len();
    let largest = |count: usize| {
        let published = Published {
            articles: (0..count)
                .map(|i| site::ArticlePage {
                    slug: format!("a{i:05}"),
                    title: format!("Article {i:05}"),
                    summary: "A summary of some length for the list.".into(),
                    body: "Body.".into(),
                    stages: vec!["deploy".into()],
                    tags: Vec::new(),
                    version: 1,
                    published_on: "1 December 2026".into(),
                    changes: None,
                    feedback: None,
                    faq: None,
                    asked: None,
                })
                .collect(),
            ..Published::default()
        };
        let built = site::build(&loaded.model, &fixed(n), None, &published).unwrap();
        built.files.iter().map(|(_, b)| b.len()).max().unwrap()
    };
    let (small, big) = (largest(10), largest(1_000));
    assert!(big <= 2 * small, "10 articles: {small} bytes; 1,000: {big}");
}

#[test]
fn tailored_stages_are_marked_and_have_a_journey_per_type_without_script() {
    let loaded = load(waymark_model::bundled());
    let dir = export(&loaded, "tailored");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    // The page for every agency marks each tailored step for each type.
    let all = read("discovery.html");
    assert!(all.contains("Optional for Lean"), "{all}");
    assert!(all.contains("Not needed for Lean: A Lean agency adopts"));
    assert!(all.contains("<a href=\"discovery.html\" aria-current=\"page\">Every agency</a>"));
    // One page per type, linked from each, the reader's type current.
    for (slug, label) in [
        ("lean", "Lean"),
        ("aligned", "Aligned"),
        ("self-directed", "Self-directed"),
        ("complex", "Complex"),
    ] {
        let file = format!("discovery--for-{slug}.html");
        let html = read(&file);
        assert!(
            html.contains(&format!(": for a {label} agency</span></h1>")),
            "{file}"
        );
        assert!(html.contains(&format!(
            "<a href=\"{file}\" aria-current=\"page\">{label}</a>"
        )));
        assert!(all.contains(&format!("<a href=\"{file}\">{label}</a>")));
        assert!(!html.contains("<script"), "{file}");
        // The side navigation still marks the stage.
        assert!(
            html.contains("<a href=\"discovery.html\" aria-current=\"page\">"),
            "{file}"
        );
    }
    // Lean: the business case is folded away with why, step 3 optional.
    let lean = read("discovery--for-lean.html");
    assert_eq!(lean.matches("class=\"panel panel-step\"").count(), 5);
    assert!(lean.contains("1 step that does not apply to a Lean agency"));
    assert!(lean.contains("<strong>Step 6 – Business case</strong>. A Lean agency adopts"));
    assert!(lean.contains("Optional for a Lean agency"));
    // Complex: every Discovery step applies and is essential.
    let complex = read("discovery--for-complex.html");
    assert_eq!(complex.matches("class=\"panel panel-step\"").count(), 6);
    assert!(!complex.contains("tag-optional"));
    // A stage with no tailored step has no such links or pages.
    assert!(!read("deploy.html").contains("journey-types"));
    assert!(!dir.join("deploy--for-lean.html").exists());
    assert!(check_links(&dir) > 100);
}

#[test]
fn pages_without_tailoring_get_no_type_pages() {
    let loaded = load(seeds());
    let built = site::build(
        &loaded.model,
        &fixed(loaded.model.pages.len()),
        None,
        &Published::default(),
    )
    .unwrap();
    let dir = tempdir("untailored");
    built.write(&dir).unwrap();
    let typed = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("--for-")
        })
        .count();
    assert_eq!(typed, 0);
}
