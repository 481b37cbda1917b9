//! Authentication: approver Ed25519 keys, approval tokens, PAM, the
//! terminal conversation and timestamps. The key file format, the epoch
//! marker and KEK/TPM wrapping are in [`crate::keystore`]; the audit
//! key's lifecycle in [`crate::audit::key`].
//!
//! See `docs/keys.md`.

pub mod account;
pub mod askpass;
pub mod error;
pub mod keys;
pub mod memo;
pub mod pam;
pub mod source;
pub mod timestamp;
pub mod tokens;
pub mod tty;

pub use error::AuthError;
