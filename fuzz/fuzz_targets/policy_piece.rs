//! Fuzz the policy cache's binary form of a parsed piece
//! (src/policy/cache/wire.rs): any bytes must be refused or read as a
//! piece, never a panic, a hang or a huge allocation; a piece read must
//! write back to exactly the bytes it was read from (the form is
//! canonical: one piece, one encoding); and merging it as the main file
//! must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let file = Path::new("/etc/belladonna/policy.toml");
    if let Some((piece, again)) = belladonna::policy::cache::piece_round_trip(data, file) {
        assert_eq!(again, data, "a piece writes back to its own bytes");
        if let Err(e) = belladonna::policy::parse::merge(piece, Vec::new()) {
            let shown = e.to_string();
            assert!(!shown.contains('\n'), "multi-line error: {shown:?}");
        }
    }
});
