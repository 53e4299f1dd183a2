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
