//! Where the model's pages come from, for every command that reads them.

use std::path::{Path, PathBuf};

/// Where the pages come from: paths on the command line win, then `--model`,
/// then the bundled model.
#[derive(Debug, Clone)]
pub enum Origin {
    Bundled,
    Paths(Vec<PathBuf>),
}

impl Origin {
    pub fn choose(model: Option<&Path>, paths: &[PathBuf]) -> Self {
        if !paths.is_empty() {
            Origin::Paths(paths.to_vec())
        } else if let Some(m) = model {
            Origin::Paths(vec![m.to_path_buf()])
        } else {
            Origin::Bundled
        }
    }

    pub fn load(&self) -> anyhow::Result<waymark_model::Loaded> {
        let (files, unread) = self.files()?;
        let mut loaded = waymark_model::build(files);
        loaded.add_unread(unread);
        Ok(loaded)
    }

    /// The files that are pages, and findings for those that could not be
    /// read as text.
    fn files(
        &self,
    ) -> anyhow::Result<(Vec<waymark_model::SourceFile>, Vec<waymark_model::Finding>)> {
        Ok(match self {
            Origin::Bundled => (waymark_model::bundled(), Vec::new()),
            Origin::Paths(p) => waymark_model::read_paths(p)?,
        })
    }

    /// The pages loaded for the lint alone: each page checked as it is
    /// parsed, keeping only what the checks across pages need
    /// ([`waymark_model::load_for_lint`]).
    pub fn load_for_lint(&self) -> anyhow::Result<waymark_model::Linting> {
        let (files, unread) = self.files()?;
        let mut linting = waymark_model::load_for_lint(files);
        linting.add_unread(unread);
        Ok(linting)
    }

    /// A page's text again, for showing the line a finding points at. The
    /// model keeps no sources (they would double its memory on large sets),
    /// so files are read back, and only those with findings.
    pub fn text(&self, path: &str) -> Option<String> {
        match self {
            Origin::Bundled => waymark_model::bundled()
                .into_iter()
                .find(|f| f.path == path)
                .map(|f| f.text),
            Origin::Paths(_) => std::fs::read_to_string(path).ok(),
        }
    }

    /// The raw pages, for pinning a model version.
    pub fn pages(&self) -> anyhow::Result<Vec<waymark_model::SourceFile>> {
        Ok(match self {
            Origin::Bundled => waymark_model::bundled(),
            Origin::Paths(p) => waymark_model::read_paths(p)?.0,
        })
    }

    /// Knowledge articles kept as files: each `_articles/*.md` in a folder
    /// of pages (Jekyll's underscore folders are not pages of the model),
    /// as (path, text, `YYYY-MM-DD` it last changed), by path.
    pub fn article_files(&self) -> Vec<(String, String, String)> {
        let Origin::Paths(paths) = self else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for dir in paths.iter().map(|p| p.join("_articles")) {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "md"))
                .collect();
            files.sort();
            for f in files {
                let Ok(text) = std::fs::read_to_string(&f) else {
                    eprintln!(
                        "note: {} could not be read as text; it is not on the site",
                        f.display()
                    );
                    continue;
                };
                let changed = std::fs::metadata(&f)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs() as i64);
                out.push((
                    f.display().to_string(),
                    text,
                    waymark_core::today(waymark_core::Timestamp(changed)),
                ));
            }
        }
        out
    }

    /// The content folder's articles, with a note for each file that is not
    /// on the site and why.
    pub fn articles(&self, model: &waymark_model::Model) -> Vec<waymark_site::ArticlePage> {
        let (pages, problems) = waymark_web::app::file_articles(&self.article_files(), model);
        for p in problems {
            eprintln!("note: {p}");
        }
        pages
    }

    /// Folders and files to watch for changes (none for the bundled model).
    pub fn watched(&self) -> Vec<PathBuf> {
        match self {
            Origin::Bundled => Vec::new(),
            Origin::Paths(p) => p.clone(),
        }
    }
}
