//! Build and lint a two-page model from arbitrary bytes: every step after
//! parsing (links, stages, effects, lint, outline) must hold up too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use waymark_model::SourceFile;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut mid = text.len() / 2;
    while !text.is_char_boundary(mid) {
        mid -= 1;
    }
    let (a, b) = text.split_at(mid);
    let files: Vec<SourceFile> = [("a.md", a), ("b.md", b)]
        .iter()
        .map(|(n, t)| SourceFile { path: n.to_string(), name: n.to_string(), text: format!("---\n{t}") })
        .collect();
    let loaded = waymark_model::build(files);
    let _ = waymark_model::lint(&loaded);
    let _ = waymark_model::outline::to_text(&loaded.model);
});
