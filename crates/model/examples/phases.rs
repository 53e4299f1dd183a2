//! Times each phase of linting a directory of pages, best of `RUNS`:
//!
//! ```sh
//! cargo run --release -p waymark-model --example phases -- /tmp/corpus-10000
//! ```
//!
//! `waymark model lint` does the same work end to end; this splits it so a
//! slowdown can be pinned on reading, parsing and building, or checking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

const RUNS: usize = 5;

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: phases DIR"));
    let (mut read, mut build, mut lint) = (Duration::MAX, Duration::MAX, Duration::MAX);
    let mut pages = 0;
    let mut findings = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let (files, _) = waymark_model::read_paths(std::slice::from_ref(&dir)).unwrap();
        read = read.min(t.elapsed());
        let t = Instant::now();
        let loaded = waymark_model::build(files);
        build = build.min(t.elapsed());
        let t = Instant::now();
        findings = waymark_model::lint(&loaded).len();
        lint = lint.min(t.elapsed());
        pages = loaded.model.pages.len();
    }
    let total = read + build + lint;
    let rate = pages as f64 / total.as_secs_f64();
    println!(
        "pages={pages} findings={findings} read={read:.1?} parse+build={build:.1?} lint={lint:.1?} total={total:.1?} ({rate:.0} pages/s)"
    );
}
