//! `waymark model …` and `waymark dev corpus`: loading pages from the place the
//! user chose and presenting findings or the model.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use waymark_model::{Severity, diagnostic, outline};

use crate::origin::Origin;

pub fn lint(
    model: Option<&Path>,
    paths: &[PathBuf],
    json: bool,
    deny_warnings: bool,
) -> anyhow::Result<ExitCode> {
    let origin = Origin::choose(model, paths);
    let loaded = origin.load()?;
    let findings = waymark_model::lint(&loaded);
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&findings)?)?;
    } else {
        let mut texts: HashMap<&str, Option<String>> = HashMap::new();
        for f in &findings {
            let text = texts
                .entry(f.path.as_str())
                .or_insert_with(|| origin.text(&f.path));
            writeln!(out, "{}", diagnostic::render(f, text.as_deref()))?;
        }
        let pages = loaded.sources;
        let noun = if pages == 1 { "page" } else { "pages" };
        match diagnostic::summary(&findings) {
            Some(s) => writeln!(out, "lint: {s} in {pages} {noun}")?,
            None => writeln!(out, "lint: no findings in {pages} {noun}")?,
        }
    }
    let fails = findings.iter().any(|f| {
        f.severity == Severity::Error || (deny_warnings && f.severity == Severity::Warning)
    });
    Ok(if fails {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub fn show(model: Option<&Path>, paths: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let loaded = Origin::choose(model, paths).load()?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&outline::to_json(&loaded.model))?
        )?;
    } else {
        write!(out, "{}", outline::to_text(&loaded.model))?;
    }
    let problems = waymark_model::lint(&loaded)
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    if problems > 0 {
        eprintln!("note: these pages have {problems} error(s); `waymark model lint` lists them");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn corpus(pages: usize, seed: u64, shape: &str, out: &Path) -> anyhow::Result<ExitCode> {
    let shape = waymark_model::synth::Shape::parse(shape)
        .with_context(|| format!("unknown shape `{shape}`: use staged or flat"))?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for (name, text) in waymark_model::synth::corpus_of(shape, pages, seed) {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!("wrote {pages} pages to {}", out.display());
    Ok(ExitCode::SUCCESS)
}
