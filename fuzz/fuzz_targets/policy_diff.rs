//! Fuzz the privilege diff: the input is split in two policy texts (at the
//! first NUL byte, or in the middle), both parsed as main policies; every
//! pair that parses is diffed both ways and rendered as text and JSON. It
//! must never panic, hang or produce a multi-line change.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let (a, b) = match data.iter().position(|&c| c == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => data.split_at(data.len() / 2),
    };
    let (Ok(a), Ok(b)) = (std::str::from_utf8(a), std::str::from_utf8(b)) else {
        return;
    };
    let parse = |s: &str| belladonna::policy::parse::parse_main(s, Path::new("/fuzz.toml"));
    let (Ok(pa), Ok(pb)) = (parse(a), parse(b)) else {
        return;
    };
    for (x, y) in [(&pa, &pb), (&pb, &pa), (&pa, &pa)] {
        let d = belladonna::review::diff::diff(x, y);
        let text = d.render_text();
        let json = d.render_json();
        assert!(serde_json_is_object(&json));
        // One line per change plus the hash and summary lines.
        assert_eq!(text.lines().count(), d.changes.len() + 2, "{text}");
        if std::ptr::eq(x, y) {
            assert!(d.changes.is_empty());
        }
    }
});

fn serde_json_is_object(s: &str) -> bool {
    s.starts_with('{') && s.ends_with('}')
}
