//! Any text as a Python repr: a clear error, or JSON that parses.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(json) = chatql::ingest::pyrepr::to_json(text) {
            serde_json::from_str::<serde_json::Value>(&json).expect("valid JSON");
        }
    }
});
