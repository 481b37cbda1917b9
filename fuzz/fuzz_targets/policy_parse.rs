//! Fuzz the policy parser: any UTF-8 text must give a policy or a
//! one-line `file:line:col` error, never a panic, a hang or a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    // The loader refuses non-UTF-8 files before parsing, so the parser
    // only ever sees text.
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let file = Path::new("/etc/belladonna/policy.d/fuzz.toml");
    match belladonna::policy::parse::parse_policy(src, file) {
        Ok(fragment) => {
            // Merging as the main file exercises the role checks
            // (version required, duplicate names across the file).
            let _ = belladonna::policy::parse::merge(fragment, Vec::new());
        }
        Err(e) => {
            // Errors are always one line: a hostile policy cannot forge
            // extra lines in `bdctl policy check` output or in logs.
            let shown = e.to_string();
            assert!(!shown.contains('\n'), "multi-line error: {shown:?}");
        }
    }
});
