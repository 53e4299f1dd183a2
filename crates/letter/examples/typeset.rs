//! Benchmark: how long one letter takes to typeset, and how large it is.
//! `cargo run -p waymark-letter --example typeset --release -- 50`
//! (the number of letters; 20 by default). Prints figures, asserts nothing.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

const BODY: &str = "# Letter of Intent

**Bureau of Examples (BOE)**\\
24 November 2026

Dear Alex Example,

This letter records what Bureau of Examples and the Digital Transformation Agency (DTA) agreed
after the initial engagement on the Protected Utility blueprint, discussed at 2 workshops.

## The decision

Undertake discovery? The agency and the DTA chose: **Run a Discovery of four to eight weeks**.

The agency needs a business case and a readiness assessment first.

## What the DTA will provide

- Programme staff to lead the discovery with the agency
- Funding for the discovery, including a strategy partner if one is engaged
- The blueprint, its templates and access to the community of adopting agencies

## Funding

What follows this decision is funded by the DTA.

Protected Utility programme\\
Digital Transformation Agency
";

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    // Each letter differs (typst memoises identical work, which a real
    // new version never is).
    let bodies: Vec<String> = (0..=n)
        .map(|i| format!("{BODY}\nReference {i}.\n"))
        .collect();
    let letter = |i: u32| waymark_letter::Letter {
        title: "Letter of Intent",
        author: "Protected Utility programme",
        markdown: &bodies[i as usize],
        date: (2026, 11, 24),
        ident: "bench",
    };
    let first = Instant::now();
    let pdf = waymark_letter::typeset(&letter(0)).unwrap();
    let cold = first.elapsed();
    let start = Instant::now();
    for i in 1..=n {
        waymark_letter::typeset(&letter(i)).unwrap();
    }
    let warm = start.elapsed() / n;
    println!(
        "first letter (fonts loaded, caches cold): {:.1} ms; then {:.1} ms per letter over {n}; PDF {} bytes",
        cold.as_secs_f64() * 1000.0,
        warm.as_secs_f64() * 1000.0,
        pdf.len()
    );
}
