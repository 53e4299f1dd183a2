//! Where pages come from: files and directories named by the user, or the
//! default model embedded in the binary.

use std::collections::HashSet;
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
/// A file is read once however often it is named (`a.md ./a.md`, a folder
/// and a file in it, a link to either), where it is first named: read twice,
/// it would conflict with itself. Folders are followed through links at most
/// once, so a link to a parent folder does not loop.
pub fn read_paths(paths: &[PathBuf]) -> Result<(Vec<SourceFile>, Vec<Finding>), SourceError> {
    // Find every file first, then read them on all cores.
    let mut wanted: Vec<(PathBuf, String)> = Vec::new();
    // Where each folder and file really is, to see one named twice.
    let mut folders = HashSet::new();
    let mut files = HashSet::new();
    for path in paths {
        let shown = path.display().to_string();
        let io = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::NotFound => SourceError::NotFound {
                path: shown.clone(),
            },
            _ => SourceError::Io {
                path: shown.clone(),
                source: e,
            },
        };
        let meta = fs::metadata(path).map_err(io)?;
        let real = fs::canonicalize(path).map_err(io)?;
        if meta.is_dir() {
            if folders.contains(&real) {
                continue;
            }
            let mut found = Vec::new();
            walk(path, real, 0, &mut found, &mut folders)?;
            if found.is_empty() {
                return Err(SourceError::NoPages { path: shown });
            }
            found.sort();
            for (f, real) in found {
                if !files.insert(real) {
                    continue;
                }
                let name = f
                    .strip_prefix(path)
                    .unwrap_or(&f)
                    .to_string_lossy()
                    .replace('\\', "/");
                wanted.push((f, name));
            }
        } else if files.insert(real) {
            let name = path
                .file_name()
                .map_or_else(|| shown.clone(), |n| n.to_string_lossy().into_owned());
            wanted.push((path.clone(), name));
        }
    }
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

/// Adds the page files under `dir` to `out`, each with where it really is.
/// `real` is where `dir` really is; a folder already in `folders` is not
/// searched again. Only links cost a system call (to see where they lead):
/// a folder's other entries are where the folder is.
fn walk(
    dir: &Path,
    real: PathBuf,
    depth: usize,
    out: &mut Vec<(PathBuf, PathBuf)>,
    folders: &mut HashSet<PathBuf>,
) -> Result<(), SourceError> {
    let io = |e| SourceError::Io {
        path: dir.display().to_string(),
        source: e,
    };
    if !folders.insert(real.clone()) {
        return Ok(());
    }
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let name = entry.file_name();
        let shown = name.to_string_lossy();
        if shown.starts_with('.') {
            continue;
        }
        let mut ty = entry.file_type().map_err(io)?;
        let target = if ty.is_symlink() {
            ty = fs::metadata(&path).map_err(io)?.file_type();
            fs::canonicalize(&path).map_err(io)?
        } else {
            real.join(&name)
        };
        if ty.is_dir() {
            if !shown.starts_with('_') && depth < MAX_DEPTH {
                walk(&path, target, depth + 1, out, folders)?;
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| PAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
        {
            out.push((path, target));
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
