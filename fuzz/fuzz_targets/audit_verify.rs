//! Fuzz the audit log verifier: arbitrary bytes written to a file must be
//! reported as valid, invalid (with a line and seq) or a torn tail, never
//! make the verifier panic, hang or crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Write;
use std::path::PathBuf;

/// One scratch file per fuzzing process (libFuzzer runs inputs one after
/// another in a process; parallel jobs are separate processes).
fn scratch() -> PathBuf {
    let name = format!("belladonna-fuzz-audit-{}.jsonl", std::process::id());
    std::env::temp_dir().join(name)
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    let written = std::fs::File::create(&path).and_then(|mut f| f.write_all(data));
    if written.is_err() {
        return;
    }
    let _ = belladonna::audit::verify::verify_file(&path);
    let _ = std::fs::remove_file(&path);
});
