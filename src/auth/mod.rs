//! Authentication material: keys (approver Ed25519 keypairs, the host's
//! audit MAC key and its epochs), optional KEK wrapping of host secrets,
//! and (added by other modules) approval tokens and PAM.
//!
//! See `docs/keys.md`.

pub mod kek;
pub mod keys;
pub mod pam;
pub mod timestamp;
pub mod tokens;
#[cfg(feature = "belladonna_tpm_real")]
pub mod tpm;
pub mod tty;
