//! Where pages come from: files and directories named by the user, or the
//! default model embedded in the binary.

use std::fs;
use std::path::{Path, PathBuf};

use crate::build::SourceFile;
use crate::diagnostic::{Code, Finding};
use crate::par::par_map;

/// A path that could not be read at all. Unlike a bad page, this stops the
/// command: the user named something that is not there.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    #[error("{path}: cannot read it: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no pages here (pages are files ending in .md, .markdown or .txt)")]
    NoPages { path: String },
}

/// Extensions read when a directory is named. Single files are read whatever
/// their name.
const PAGE_EXTENSIONS: [&str; 3] = ["md", "markdown", "txt"];
const MAX_DEPTH: usize = 16;

/// Reads the named files and directories. Directories are searched
/// recursively, skipping hidden and `_`-prefixed folders (Jekyll's own).
pub fn read_paths(paths: &[PathBuf]) -> Result<(Vec<SourceFile>, Vec<Finding>), SourceError> {
    // Find every file first, then read them on all cores.
    let mut wanted: Vec<(PathBuf, String)> = Vec::new();
    for path in paths {
        let shown = path.display().to_string();
        let meta = fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SourceError::NotFound {
                path: shown.clone(),
            },
            _ => SourceError::Io {
                path: shown.clone(),
                source: e,
            },
        })?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(path, 0, &mut found)?;
            if found.is_empty() {
                return Err(SourceError::NoPages { path: shown });
            }
            found.sort();
            for f in found {
                let name = f
                    .strip_prefix(path)
                    .unwrap_or(&f)
                    .to_string_lossy()
                    .replace('\\', "/");
                wanted.push((f, name));
            }
        } else {
            let name = path
                .file_name()
                .map_or_else(|| shown.clone(), |n| n.to_string_lossy().into_owned());
            wanted.push((path.clone(), name));
        }
    }
    // A file named twice (`a.md ./a.md`, or a folder and a file in it) is
    // read once, where it is first named: otherwise it would conflict with
    // itself.
    let mut seen = std::collections::HashSet::new();
    wanted.retain(|(path, _)| {
        seen.insert(
            path.components()
                .filter(|c| *c != std::path::Component::CurDir)
                .collect::<PathBuf>(),
        )
    });
    let mut files = Vec::with_capacity(wanted.len());
    let mut findings = Vec::new();
    for read in par_map(&wanted, |(path, name)| read_one(path, name)) {
        match read? {
            Ok(file) => files.push(file),
            Err(finding) => findings.push(finding),
        }
    }
    Ok((files, findings))
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), SourceError> {
    let io = |e| SourceError::Io {
        path: dir.display().to_string(),
        source: e,
    };
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        // The entry's own type needs no extra system call; only links are
        // followed to see what they point at.
        let mut ty = entry.file_type().map_err(io)?;
        if ty.is_symlink() {
            ty = fs::metadata(&path).map_err(io)?.file_type();
        }
        if ty.is_dir() {
            if !name.starts_with('_') && depth < MAX_DEPTH {
                walk(&path, depth + 1, out)?;
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| PAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// One file: its text, or a finding when it is not UTF-8.
fn read_one(path: &Path, name: &str) -> Result<Result<SourceFile, Finding>, SourceError> {
    let shown = path.display().to_string();
    let bytes = fs::read(path).map_err(|e| SourceError::Io {
        path: shown.clone(),
        source: e,
    })?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile {
            path: shown,
            name: name.to_string(),
            text,
        }),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
            let column =
                (valid.len() - valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)) as u32
                    + 1;
            Err(Finding::new(
                Code::NotUtf8,
                &shown,
                line,
                column,
                "this file is not UTF-8 text; save it as UTF-8",
            ))
        }
    })
}

macro_rules! bundled_pages {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../content/model/", $name)))),*]
    };
}

/// The default model, compiled in so Waymark works from any directory.
const BUNDLED: &[(&str, &str)] = bundled_pages![
    "index.md",
    "engagement.md",
    "discovery.md",
    "deploy.md",
    "transition.md",
    "adoption-evaluation.md",
    "faq.md",
    "self-assessment.md",
];

/// The bundled model's pages, labelled with their place in the repository.
pub fn bundled() -> Vec<SourceFile> {
    BUNDLED
        .iter()
        .map(|(name, text)| SourceFile {
            path: format!("content/model/{name}"),
            name: (*name).to_string(),
            text: (*text).to_string(),
        })
        .collect()
}
