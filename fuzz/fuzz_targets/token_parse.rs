//! Fuzz the approval-token parser: any input must give a parsed token or
//! a one-line error, never a panic, a hang or a crash. A parsed token is
//! also run through signature verification against a fixed approver.
#![no_main]

use belladonna::auth::tokens;
use belladonna::policy::model::{Approver, Origin};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Token files are read as UTF-8; anything else is refused before parse.
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match tokens::parse(s) {
        Ok(u) => {
            let approvers = [Approver {
                name: u.kid().to_string(),
                // The Ed25519 base point: a valid key nobody fuzzes a
                // signature for.
                key: [
                    0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                    0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                ],
                epoch: u.claims().epoch,
                origin: Origin::default(),
            }];
            let _ = tokens::verify_signature(&u, &approvers);
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.contains('\n'), "multi-line error: {shown:?}");
        }
    }
});
