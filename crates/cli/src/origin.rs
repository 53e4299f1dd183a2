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
        let (files, read_findings) = match self {
            Origin::Bundled => (waymark_model::bundled(), Vec::new()),
            Origin::Paths(p) => waymark_model::read_paths(p)?,
        };
        let mut loaded = waymark_model::build(files);
        // Files that could not even be read as text still count as read.
        loaded.sources += read_findings.len();
        loaded.findings.extend(read_findings);
        Ok(loaded)
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

    /// Folders and files to watch for changes (none for the bundled model).
    pub fn watched(&self) -> Vec<PathBuf> {
        match self {
            Origin::Bundled => Vec::new(),
            Origin::Paths(p) => p.clone(),
        }
    }
}
