//! `waymark model …` and `waymark dev corpus`: loading pages from the place the
//! user chose and presenting findings or the model.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use waymark_model::{Severity, diagnostic, outline};

use crate::origin::Origin;

pub fn lint(
    model: Option<&Path>,
    paths: &[PathBuf],
    json: bool,
    deny_warnings: bool,
) -> anyhow::Result<ExitCode> {
    use serde::ser::{SerializeSeq, Serializer};
    let origin = Origin::choose(model, paths);
    // Each page is checked as it is parsed and keeps only what the checks
    // across pages need, and findings are written file by file as the lint
    // finds them, never all held at once: a large set may have a million.
    // A reader that stops early (`| head`) does not stop the lint: the rest
    // is checked unseen, so the exit code still says whether there are errors;
    // but nothing more is rendered for it.
    let closed = AtomicBool::new(false);
    let mut out = std::io::BufWriter::new(UntilClosed {
        inner: std::io::stdout().lock(),
        closed: &closed,
    });
    let mut tally = diagnostic::Tally::default();
    let linting = origin.load_for_lint()?;
    let articles = article_findings(&origin, linting.model());
    if json {
        let mut ser = serde_json::Serializer::with_formatter(
            &mut out,
            serde_json::ser::PrettyFormatter::new(),
        );
        let mut seq = ser.serialize_seq(None)?;
        linting.each(|file| {
            for f in file {
                tally.add(f);
                seq.serialize_element(f)?;
            }
            Ok::<(), serde_json::Error>(())
        })?;
        for f in &articles {
            tally.add(f);
            seq.serialize_element(f)?;
        }
        seq.end()?;
        writeln!(out)?;
    } else {
        linting.each_rendered(
            |file| {
                if closed.load(Ordering::Relaxed) {
                    return String::new();
                }
                // Each file with findings is read once, its lines indexed
                // once; files are rendered on all cores, written in order.
                let text = file.first().and_then(|f| origin.text(&f.path));
                let source = text.as_deref().map(diagnostic::Source::new);
                let mut shown = String::new();
                for f in file {
                    let line = source.as_ref().and_then(|s| s.line(f.line));
                    shown.push_str(&diagnostic::render_line(f, line));
                    shown.push('\n');
                }
                shown
            },
            |file, shown| {
                file.iter().for_each(|f| tally.add(f));
                out.write_all(shown.as_bytes())
            },
        )?;
        for f in &articles {
            tally.add(f);
            writeln!(out, "{}", diagnostic::render_line(f, None))?;
        }
        let pages = linting.sources();
        let noun = if pages == 1 { "page" } else { "pages" };
        match tally.summary() {
            Some(s) => writeln!(out, "lint: {s} in {pages} {noun}")?,
            None => writeln!(out, "lint: no findings in {pages} {noun}")?,
        }
    }
    out.flush()?;
    let fails = tally.errors > 0 || (deny_warnings && tally.warnings > 0);
    Ok(if fails {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A writer that, once its reader has gone (a broken pipe), quietly drops
/// what follows instead of failing.
struct UntilClosed<'a, W> {
    inner: W,
    /// Set once the reader has gone, for whoever prepares what is written.
    closed: &'a AtomicBool,
}

impl<W: Write> Write for UntilClosed<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed.load(Ordering::Relaxed) {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed.store(true, Ordering::Relaxed);
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed.store(true, Ordering::Relaxed);
                Ok(())
            }
            other => other,
        }
    }
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

/// `waymark model diff OLD NEW`: exit 0 when the models are the same, 1
/// when they differ (as `diff` does), 2 when either cannot be compared.
pub fn diff(old: &Path, new: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let load = |p: &Path, which: &str| -> anyhow::Result<waymark_model::Loaded> {
        let origin = if p == Path::new("bundled") {
            Origin::Bundled
        } else {
            Origin::Paths(vec![p.to_path_buf()])
        };
        let loaded = origin
            .load()
            .with_context(|| format!("the {which} page set ({}) does not load", p.display()))?;
        if loaded.model.stages.is_empty() {
            anyhow::bail!(
                "the {which} page set ({}) has no stages, so there is nothing to compare: give a folder of model pages (`waymark model lint {}` says what it found)",
                p.display(),
                p.display()
            );
        }
        Ok(loaded)
    };
    let (a, b) = (load(old, "old")?, load(new, "new")?);
    let d = waymark_model::diff::diff(&a.model, &b.model);
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&d)?)?;
    } else {
        write!(out, "{}", d.to_text())?;
    }
    Ok(if d.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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

/// The content folder's articles (`_articles/*.md`), checked by the same
/// rules as the workspace's: a file that cannot be an article is an error
/// (it is left off the site); a link that goes nowhere, a warning.
fn article_findings(origin: &Origin, model: &waymark_model::Model) -> Vec<diagnostic::Finding> {
    use diagnostic::{Code, Finding};
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (path, text, _) in origin.article_files() {
        match waymark_core::knowledge::from_file(&path, &text, model) {
            Err(e) => out.push(Finding::new(
                Code::ArticleInvalid,
                &path,
                1,
                1,
                format!("this article is not on the site: {e}"),
            )),
            Ok(a) if seen.contains(&a.slug) => out.push(Finding::new(
                Code::ArticleInvalid,
                &path,
                1,
                1,
                format!(
                    "another article file already has the address {}; this one is not on the site",
                    a.slug
                ),
            )),
            Ok(a) => {
                for p in waymark_core::knowledge::link_problems(&a.body, model, &[]) {
                    out.push(Finding::new(Code::ArticleLink, &path, 1, 1, p));
                }
                seen.push(a.slug);
            }
        }
    }
    out
}
