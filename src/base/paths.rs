//! Fixed file locations. They are a compile-time prefix, never a runtime
//! flag: a caller must not be able to point bdexec at another policy.
//! Tests never change them: they run bdexec in a private mount namespace
//! with their own directories mounted on these paths.
#![forbid(unsafe_code)]

/// Directory holding the policy, drop-ins, the lock file and keys.
pub const CONF_DIR: &str = "/etc/belladonna";
/// The main policy file.
pub const POLICY_FILE: &str = "/etc/belladonna/policy.toml";
/// Name of the policy file inside [`CONF_DIR`].
pub const POLICY_NAME: &str = "policy.toml";
/// Name of the drop-in directory inside [`CONF_DIR`].
pub const DROPIN_NAME: &str = "policy.d";
/// Directory of the audit log.
pub const LOG_DIR: &str = "/var/log/belladonna";
/// Name of the audit log inside [`LOG_DIR`].
pub const AUDIT_NAME: &str = "audit.jsonl";
/// The audit log.
pub const AUDIT_FILE: &str = "/var/log/belladonna/audit.jsonl";
/// Per-boot state (tmpfs).
pub const RUN_DIR: &str = "/run/belladonna";
/// Persistent state.
pub const LIB_DIR: &str = "/var/lib/belladonna";
