//! Integration tests for waymark-model: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bundled;
mod diff;
mod lint;
mod parse;
mod props;
mod seeds;
mod tailoring;

use waymark_model::{Finding, Loaded, SourceFile, build};

fn sources(pages: &[(&str, &str)]) -> Vec<SourceFile> {
    pages
        .iter()
        .map(|(name, text)| SourceFile {
            path: (*name).to_string(),
            name: (*name).to_string(),
            text: (*text).to_string(),
        })
        .collect()
}

/// Builds a model from `(name, text)` pages.
pub fn load(pages: &[(&str, &str)]) -> Loaded {
    build(sources(pages))
}

/// The findings of the lint's own load (`load_for_lint`), which checks
/// each page as it is parsed and keeps only what the checks across pages
/// need: every test that compares findings checks they are the full lint's.
/// They are also rendered (here, copied) on all cores as the command does
/// (`each_rendered`), which must hand over the same files in the same order.
pub fn lint_light(pages: &[(&str, &str)]) -> Vec<Finding> {
    let linting = waymark_model::load_for_lint(sources(pages));
    let mut out = Vec::new();
    linting
        .each(|file| {
            out.extend_from_slice(file);
            Ok::<(), ()>(())
        })
        .unwrap();
    let mut rendered = Vec::new();
    linting
        .each_rendered(
            |file| file.to_vec(),
            |file, copy| {
                assert_eq!(file, copy.as_slice(), "each file with its own rendering");
                rendered.extend(copy);
                Ok::<(), ()>(())
            },
        )
        .unwrap();
    assert_eq!(rendered, out, "rendered on all cores, in the same order");
    out
}

/// `(code, path, line)` of every finding, for exact comparisons; the lint's
/// own load must find exactly what the full model's lint finds.
pub fn found(pages: &[(&str, &str)]) -> Vec<(String, String, u32)> {
    let full = waymark_model::lint(&load(pages));
    assert_eq!(lint_light(pages), full, "the lint's own load differs");
    codes(&full)
}

pub fn codes(findings: &[Finding]) -> Vec<(String, String, u32)> {
    findings
        .iter()
        .map(|f| (f.code.as_str().to_string(), f.path.clone(), f.line))
        .collect()
}

pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
