//! Fuzz the sudoers importer (`bdctl import sudoers`): any UTF-8 text
//! must give a policy or a one-line `file:line` refusal, never a panic or
//! a hang; and a policy it writes must load (the importer never emits a
//! policy `bdctl policy check` would refuse).
#![no_main]

use belladonna::policy::import::{import_str, Options};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    // `bdctl import sudoers` refuses non-UTF-8 files before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let opts = Options {
        hostname: "host1".to_string(),
    };
    match import_str(text, "sudoers", &opts) {
        Ok(imported) => {
            let file = Path::new("/etc/belladonna/policy.toml");
            if let Err(e) = belladonna::policy::parse::parse_main(&imported.toml, file) {
                panic!(
                    "imported policy does not load: {e}\n--- sudoers\n{text}\n--- policy\n{}",
                    imported.toml
                );
            }
            for w in &imported.warnings {
                let shown = w.to_string();
                assert!(!shown.contains('\n'), "multi-line warning: {shown:?}");
            }
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.contains('\n'), "multi-line error: {shown:?}");
        }
    }
});
