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

/// Builds a model from `(name, text)` pages.
pub fn load(pages: &[(&str, &str)]) -> Loaded {
    let files: Vec<SourceFile> = pages
        .iter()
        .map(|(name, text)| SourceFile {
            path: (*name).to_string(),
            name: (*name).to_string(),
            text: (*text).to_string(),
        })
        .collect();
    build(files)
}

/// `(code, path, line)` of every finding, for exact comparisons.
pub fn found(pages: &[(&str, &str)]) -> Vec<(String, String, u32)> {
    codes(&waymark_model::lint(&load(pages)))
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
