//! Integration tests for waymark-site: the static export and the live guide.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod scale;
mod server;
mod site;

use std::path::{Path, PathBuf};

use waymark_model::{Loaded, SourceFile};

pub fn seeds() -> Vec<SourceFile> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures/seeds");
    waymark_model::read_paths(&[dir]).unwrap().0
}

pub fn load(files: Vec<SourceFile>) -> Loaded {
    waymark_model::build(files)
}

pub fn pages(pages: &[(&str, &str)]) -> Loaded {
    load(
        pages
            .iter()
            .map(|(n, t)| SourceFile {
                path: (*n).into(),
                name: (*n).into(),
                text: (*t).into(),
            })
            .collect(),
    )
}

/// Runs a Python script with `input` on its standard input and returns
/// what it printed; a script that fails fails the test, with its error.
pub fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("waymark-site-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Decodes the entities our templates and pulldown-cmark write.
pub fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The visible text of an HTML page, whitespace normalised. Block-level tags
/// separate words; inline ones (`a`, `strong`, `span`, …) do not.
pub fn text_of(html: &str) -> String {
    const INLINE: &[&str] = &[
        "a", "strong", "em", "span", "code", "b", "i", "time", "abbr",
    ];
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let tag = &rest[open + 1..open + close];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        if !INLINE.contains(&name.as_str()) {
            out.push(' ');
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    waymark_model::text::normalize(&unescape(&out))
}

/// Every value of `attr="…"` in `html`, unescaped.
pub fn attrs(html: &str, attr: &str) -> Vec<String> {
    let needle = format!(" {attr}=\"");
    html.match_indices(&needle)
        .filter_map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest.find('"').map(|end| unescape(&rest[..end]))
        })
        .collect()
}
