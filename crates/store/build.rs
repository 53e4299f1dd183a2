//! Lists the migrations folders at build time, so the binary carries every
//! migration's SQL (`include_str!`) without sqlx's `migrate!` macro: that
//! macro compiles sqlx, both drivers, tokio and SQLite's C source a second
//! time, for the compiler's own use (about a fifth of a cold release build).
//! `migrator::tests` checks the list against sqlx's own reading of the folders.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut out = String::new();
    for (name, folder) in [("SQLITE", "sqlite"), ("POSTGRES", "postgres")] {
        let dir = root.join(folder);
        println!("cargo::rerun-if-changed={}", dir.display());
        let mut files: Vec<String> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| entry.unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())))
            .filter(|entry| entry.path().is_file())
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|file| file.ends_with(".sql"))
            .collect();
        files.sort();
        let _ = writeln!(out, "pub(crate) const {name}: &[(&str, &str)] = &[");
        for file in files {
            let path = dir.join(&file);
            let _ = writeln!(
                out,
                "    ({file:?}, include_str!({:?})),",
                path.display().to_string()
            );
        }
        out.push_str("];\n");
    }
    let out_dir = env::var("OUT_DIR").unwrap_or_else(|e| panic!("OUT_DIR: {e}"));
    let target = Path::new(&out_dir).join("migrations.rs");
    fs::write(&target, out).unwrap_or_else(|e| panic!("writing {}: {e}", target.display()));
}
