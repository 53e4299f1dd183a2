//! No page grows with the site: the navigation, the contents and the visual
//! are bounded, so a site of many pages is many pages of the same size.

use proptest::prelude::*;
use waymark_model::SourceFile;
use waymark_model::synth::{Shape, corpus_of};
use waymark_site::{self as site, Dates, Published};

/// A generated page set, loaded.
fn corpus(shape: Shape, pages: usize, seed: u64) -> waymark_model::Loaded {
    let files = corpus_of(shape, pages, seed)
        .into_iter()
        .map(|(name, text)| SourceFile {
            path: name.clone(),
            name,
            text,
        })
        .collect();
    waymark_model::build(files)
}

fn largest_file(shape: Shape, pages: usize, seed: u64) -> (String, usize) {
    let loaded = corpus(shape, pages, seed);
    let dates = Dates::fixed(vec![None; loaded.model.pages.len()]);
    let built = site::build(&loaded.model, &dates, None, &Published::default()).unwrap();
    built
        .files
        .iter()
        .map(|(name, bytes)| (name.clone(), bytes.len()))
        .max_by_key(|(_, len)| *len)
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3, ..ProptestConfig::default() })]

    /// Pages of the same generator and seed: the largest file built from
    /// 1,000 pages is at most twice the largest built from 10, in both
    /// shapes (the flat one has 1,000 stages and no overview).
    #[test]
    fn the_largest_page_does_not_grow_with_the_site(seed in any::<u64>(), flat in any::<bool>()) {
        let shape = if flat { Shape::Flat } else { Shape::Staged };
        let (small_name, small) = largest_file(shape, 10, seed);
        let (large_name, large) = largest_file(shape, 1000, seed);
        prop_assert!(
            large <= 2 * small,
            "{shape:?}: {large_name} is {large} bytes at 1,000 pages; {small_name} was {small} at 10"
        );
    }
}

#[test]
fn a_thousand_stages_without_an_overview_get_paged_contents_and_a_short_navigation() {
    let loaded = corpus(Shape::Flat, 1000, 1);
    assert_eq!(loaded.model.stages.len(), 1000);
    let dates = Dates::fixed(vec![None; 1000]);
    let built = site::build(&loaded.model, &dates, None, &Published::default()).unwrap();
    let text = |name: &str| String::from_utf8(built.get(name).unwrap().to_vec()).unwrap();
    // A stage page: its number among all, its neighbours, and the contents
    // page that lists it.
    let page = text("page-00500.html");
    assert!(page.contains("Stage 501 of 1000"), "{page}");
    assert!(
        page.contains("<a href=\"contents-6.html\">All pages</a>"),
        "{page}"
    );
    for near in ["page-00498", "page-00499", "page-00501", "page-00502"] {
        assert!(
            page.contains(&format!("<a href=\"{near}.html\">")),
            "{near}"
        );
    }
    assert!(page.contains("<a href=\"page-00500.html\" aria-current=\"page\">"));
    for far in ["page-00497", "page-00503", "page-00000"] {
        assert!(
            !page.contains(&format!("<a href=\"{far}.html\">")),
            "{far} is not listed"
        );
    }
    // Ten contents pages of a hundred, each linking its neighbours.
    let first = text("index.html");
    assert!(first.contains("Pages 1 to 100 of 1000"));
    assert!(first.contains("<span class=\"nav-label\">Stage 1<"));
    assert!(first.contains("href=\"contents-2.html\" rel=\"next\""));
    let fifth = text("contents-5.html");
    // There, "All pages" is this contents page, and marked so.
    assert!(fifth.contains("<a href=\"contents-5.html\" aria-current=\"page\">All pages</a>"));
    assert!(fifth.contains("Pages 401 to 500 of 1000"));
    assert!(fifth.contains("href=\"contents-4.html\" rel=\"prev\""));
    assert!(fifth.contains("href=\"contents-10.html\""));
    assert!(
        fifth.contains(
            "aria-current=\"page\"><span class=\"visually-hidden\">Contents page </span>5<"
        )
    );
    assert!(built.get("contents-10.html").is_some() && built.get("contents-11.html").is_none());
    // The visual draws seven stages and counts the rest.
    let svg = text("engagement-model.svg");
    assert_eq!(svg.matches("class=\"num\"").count(), 7);
    assert!(svg.contains("and 993</text>"));
    assert!(svg.contains(", and 993 more."));
    let dir = crate::tempdir("flat-1000");
    built.write(&dir).unwrap();
    crate::site::check_links(&dir);
}
