//! Times each phase of `waymark site build` on a directory of pages, best of
//! `RUNS` (5 unless given), writing to `OUT` (use a memory file system, such
//! as /dev/shm). With `RUNS` of 1 each process starts cold, as the command does:
//!
//! ```sh
//! cargo run --release -p waymark-site --example phases -- /tmp/flat-10000 /dev/shm/phases-out [RUNS]
//! ```
//!
//! The command does the same work end to end (with the database's articles
//! besides); this splits it so a slowdown can be pinned on reading,
//! parsing and building the model, dates, or rendering and writing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

const RUNS: usize = 5;

// The allocator the command uses, so memory costs the same.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("usage: phases DIR OUT [RUNS]"));
    let out = PathBuf::from(args.next().expect("usage: phases DIR OUT [RUNS]"));
    let runs: usize = args
        .next()
        .map_or(RUNS, |r| r.parse().expect("RUNS is a number"));
    let mut best = [Duration::MAX; 4];
    let mut files = 0;
    for _ in 0..runs {
        let _ = std::fs::remove_dir_all(&out);
        let mut took = [Duration::ZERO; 4];
        let t = Instant::now();
        let (sources, _) = waymark_model::read_paths(std::slice::from_ref(&dir)).unwrap();
        took[0] = t.elapsed();
        let t = Instant::now();
        let loaded = waymark_model::build(sources);
        took[1] = t.elapsed();
        let t = Instant::now();
        let dates = waymark_site::last_modified(&loaded.model);
        took[2] = t.elapsed();
        let t = Instant::now();
        files = waymark_site::export(
            &loaded.model,
            &dates,
            None,
            &waymark_site::Published::default(),
            &out,
        )
        .unwrap();
        took[3] = t.elapsed();
        for (b, t) in best.iter_mut().zip(took) {
            *b = (*b).min(t);
        }
    }
    let [read, build, dates, render] = best;
    let total: Duration = best.iter().sum();
    println!(
        "files={files} read={read:.1?} parse+build={build:.1?} dates={dates:.1?} render+write={render:.1?} total={total:.1?} (best of {runs} each)"
    );
}
