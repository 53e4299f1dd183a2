//! The page parser on arbitrary bytes: it may refuse, it must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = waymark_model::page::parse_page(&text);
});
