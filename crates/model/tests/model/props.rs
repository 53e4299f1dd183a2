//! No input makes the parser, the model builder or the lint panic.

use proptest::prelude::*;
use waymark_model::page::parse_page;

use crate::load;

fn page_like() -> impl Strategy<Value = String> {
    // Pieces real pages are made of, shuffled into nonsense.
    let piece = prop_oneof![
        Just("---\n".to_string()),
        Just("...\n".to_string()),
        Just("timeline:\n".to_string()),
        Just("- title: Step 1 – A\n".to_string()),
        Just("- title: 1. Stage\n".to_string()),
        Just("- title: Decision point - Q?\n".to_string()),
        Just("  body: | \n".to_string()),
        Just("    * [x]()\n".to_string()),
        Just("    text [y](/z.md)\n".to_string()),
        Just("## Roles\n".to_string()),
        Just("* item\n".to_string()),
        Just("1.\titem\n".to_string()),
        Just("&a [*a, *a]\n".to_string()),
        Just("\t\u{a0}\r\n".to_string()),
        "[ -~]{0,20}\n",
    ];
    prop::collection::vec(piece, 0..30).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_page(&text);
        let mut with_fence = String::from("---\n");
        with_fence.push_str(&text);
        let _ = parse_page(&with_fence);
    }

    #[test]
    fn page_like_text_never_panics(a in page_like(), b in page_like()) {
        let loaded = load(&[("a.md", &a), ("b.md", &b)]);
        let findings = waymark_model::lint(&loaded);
        for f in &findings {
            prop_assert!(f.line >= 1 && f.column >= 1, "{f:?}");
        }
        prop_assert_eq!(&crate::lint_light(&[("a.md", &a), ("b.md", &b)]), &findings);
        let _ = waymark_model::outline::to_text(&loaded.model);
        let _ = serde_json::to_string(&waymark_model::outline::to_json(&loaded.model)).unwrap();
    }

    #[test]
    fn text_that_is_not_a_page_is_an_error(s in "[^-\u{feff}][ -~\n]{0,200}") {
        prop_assert!(parse_page(&s).is_err());
    }
}

#[test]
fn deep_nesting_and_alias_bombs_are_refused() {
    let deep = format!(
        "---\ntitle: {}{}\n---\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    assert!(parse_page(&deep).is_err());
    let mut bomb = String::from("---\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    bomb.push_str("---\n");
    assert!(parse_page(&bomb).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A finding's line, found through the line index, is the line
    /// `str::lines` gives: CRLF, a byte-order mark, a final line ending or
    /// none, and lines past the end.
    #[test]
    fn indexed_lines_are_the_lines_people_read(text in "(\u{feff})?([a-c \t\r]{0,6}\n?){0,8}", line in 0u32..12) {
        let plain = text.strip_prefix('\u{feff}').unwrap_or(&text);
        // Compared as shown: the rendering trims the end of the line, and a
        // lone `\r` ends a line for the index but not for `str::lines`.
        let expected = (line as usize).checked_sub(1).and_then(|i| plain.lines().nth(i)).map(str::trim_end);
        let found = waymark_model::diagnostic::Source::new(&text).line(line).map(str::trim_end);
        prop_assert_eq!(found, expected);
    }
}

/// Streaming the findings file by file gives each file once, in path order,
/// each file's findings sorted: the order `lint` has always had, with files
/// that are not pages (their findings come from loading) in their places.
#[test]
fn findings_stream_file_by_file_in_reading_order() {
    let mut files: Vec<(String, String)> =
        waymark_model::synth::corpus_of(waymark_model::synth::Shape::Flat, 1200, 5);
    files.push(("page-00010a.md".into(), "no front matter here\n".into()));
    files.push(("aaa.md".into(), "---\ntitle: [unclosed\n---\n".into()));
    files.push(("zzz.md".into(), "---\ntitle: Z\n".into()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let loaded = load(&refs);
    let mut paths: Vec<String> = Vec::new();
    let mut all = Vec::new();
    waymark_model::lint_each(&loaded, |file| {
        assert!(!file.is_empty());
        assert!(
            file.iter().all(|f| f.path == file[0].path),
            "one file at a time"
        );
        paths.push(file[0].path.clone());
        all.extend_from_slice(file);
        Ok::<(), ()>(())
    })
    .unwrap();
    let mut sorted_paths = paths.clone();
    sorted_paths.sort();
    sorted_paths.dedup();
    assert_eq!(paths, sorted_paths, "each file once, in path order");
    for p in ["aaa.md", "page-00010a.md", "zzz.md"] {
        assert!(paths.iter().any(|x| x == p), "{p} is reported");
    }
    let mut expected = all.clone();
    waymark_model::diagnostic::sort(&mut expected);
    assert_eq!(all, expected);
    assert_eq!(all, waymark_model::lint(&loaded));
    assert_eq!(all, crate::lint_light(&refs), "the lint's own load");
    // Far more than one batch of pages, with findings on most of them.
    assert!(paths.len() > 1000, "{}", paths.len());
}

/// The lint's own load finds what the full model's lint finds on the
/// bundled model, the user's pages and both corpus shapes: with an
/// overview (stages found through its links and titles) and without.
#[test]
fn the_lints_own_load_finds_what_the_full_lint_finds() {
    let mut sets: Vec<Vec<(String, String)>> = vec![
        waymark_model::synth::corpus_of(waymark_model::synth::Shape::Staged, 700, 3),
        waymark_model::synth::corpus_of(waymark_model::synth::Shape::Flat, 300, 4),
        waymark_model::bundled()
            .into_iter()
            .map(|f| (f.path, f.text))
            .collect(),
    ];
    let seeds = [
        "000_c5445e08139d21c5.txt",
        "001_149ec0c6737c7f1c.txt",
        "002_da98149f46203ec6.txt",
    ];
    sets.push(
        seeds
            .iter()
            .map(|s| (format!("seeds/{s}"), crate::fixture(&format!("seeds/{s}"))))
            .collect(),
    );
    for set in &sets {
        let refs: Vec<(&str, &str)> = set.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let full = waymark_model::lint(&load(&refs));
        assert_eq!(crate::lint_light(&refs), full);
    }
}
