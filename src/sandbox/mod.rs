//! Per-rule confinement of the target command: Landlock, seccomp and
//! capability-only grants (DESIGN section 4 step 4, issue 3).
//!
//! # Order of calls (the pipeline must follow it exactly)
//!
//! 1. **Build, don't apply** (still privileged, before the TOCTOU check):
//!    [`landlock::prepare`] (opens the rule paths, creates the ruleset fd)
//!    and [`seccomp::cached`] (load-from-cache or compile-and-store the
//!    BPF program). Both may fail: deny.
//! 2. The pipeline recomputes the policy hash and compares it with the
//!    decision's (mismatch denies). Nothing has been applied yet, so a
//!    deny here leaves nothing half-done.
//! 3. [`capgrant::before_id_switch`] (only for a rule with `caps`):
//!    KEEPCAPS, bounding set reduced to the grant, securebits for a uid-0
//!    target.
//! 4. `setgroups` -> `setresgid` -> `setresuid` (checked).
//! 5. [`capgrant::after_id_switch`] (only with `caps`): permitted =
//!    effective = inheritable = ambient = grant, verified.
//! 6. `PR_SET_NO_NEW_PRIVS` (the caller does it; [`set_no_new_privs`] is
//!    provided).
//! 7. [`landlock::PreparedLandlock::apply`].
//! 8. [`seccomp::load`] — always last before exec: after it, only the
//!    system calls the profile allows work (see [`seccomp::EXEC_NEEDS`]
//!    for what is added to every allow-list so that the exec itself works:
//!    `execveat`, `fcntl`, `exit_group`, nothing more).
//! 9. `execveat` of the verified fd. Inherited fds were closed at the
//!    start (src/exec/hygiene.rs) and bdexec never changes directory (the
//!    command runs in the caller's), so nothing else runs under the
//!    filter before the target.
//!
//! With `noexec` (src/exec/noexec.rs), no_new_privs and the noexec
//! filter come right after step 4, before the grant: the filter's
//! listener goes to the monitor over a socket, which a profile's
//! allow-list (step 8) may not permit. Filters stack (the strictest
//! answer wins), so the order of the two filters changes no verdict.
//!
//! Any error after step 3 means a half-privileged process: `_exit`.

pub mod capgrant;
pub mod landlock;
pub mod seccomp;

use std::fmt;

pub use capgrant::{CapsSet, after_id_switch, before_id_switch, missing_from_binary, parse_caps};
pub use landlock::{PreparedLandlock, Report as LandlockReport, prepare as prepare_landlock};
pub use seccomp::{Cached as CachedSeccomp, Program as SeccompProgram};

/// A sandbox step failed. The message is one actionable line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxError {
    /// A profile names something invalid (syscall, capability, path).
    Profile(String),
    /// Building or loading the seccomp filter failed.
    Seccomp(String),
    /// The compiled-filter cache could not be used (not fatal for
    /// [`seccomp::cached`], which recompiles; reported by its helpers).
    Cache(String),
    /// Landlock could not be set up or applied.
    Landlock(String),
    /// The kernel's Landlock ABI is older than the profile's `min_abi`.
    LandlockAbi { need: u32, have: u32 },
    /// A capability operation failed or did not verify.
    Caps(String),
    /// `PR_SET_NO_NEW_PRIVS` must be set before this step.
    NoNewPrivs(&'static str),
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SandboxError::Profile(m) => write!(f, "sandbox profile: {m}"),
            SandboxError::Seccomp(m) => write!(f, "seccomp: {m}"),
            SandboxError::Cache(m) => write!(f, "seccomp cache: {m}"),
            SandboxError::Landlock(m) => write!(f, "landlock: {m}"),
            SandboxError::LandlockAbi { need, have: 0 } => write!(
                f,
                "landlock: the profile requires ABI >= {need} but Landlock is not available on this kernel (enable it with lsm=...,landlock or relax min_abi)"
            ),
            SandboxError::LandlockAbi { need, have } => write!(
                f,
                "landlock: the profile requires ABI >= {need} but this kernel provides ABI {have} (upgrade the kernel or lower min_abi)"
            ),
            SandboxError::Caps(m) => write!(f, "capabilities: {m}"),
            SandboxError::NoNewPrivs(step) => write!(
                f,
                "{step}: no_new_privs is not set (the pipeline must call PR_SET_NO_NEW_PRIVS first)"
            ),
        }
    }
}

impl std::error::Error for SandboxError {}

/// What a profile would enforce on this kernel, one line (`bdctl doctor`):
/// the Landlock part ([`landlock::describe`]) and the seccomp mode.
pub fn describe(p: &crate::policy::model::SandboxProfile) -> String {
    use crate::policy::model::SeccompAction;
    let mut parts = Vec::new();
    match &p.landlock {
        Some(l) => parts.push(landlock::describe(l)),
        None => parts.push("landlock off".to_string()),
    }
    let sc = match &p.seccomp {
        None => "seccomp baseline only (errno)".to_string(),
        Some(s) => {
            let action = match s.action {
                SeccompAction::Kill => "kill",
                SeccompAction::Errno => "errno",
                SeccompAction::Log => "log",
            };
            match seccomp::compile(Some(s)) {
                Ok(prog) => format!(
                    "seccomp {} {action} + baseline ({} BPF instructions)",
                    if s.allow.is_empty() {
                        "deny-list"
                    } else {
                        "allow-list"
                    },
                    prog.insns().len()
                ),
                Err(e) => format!("seccomp INVALID: {e}"),
            }
        }
    };
    parts.push(sc);
    parts.join("; ")
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`, verified.
pub fn set_no_new_privs() -> Result<(), SandboxError> {
    nix::sys::prctl::set_no_new_privs()
        .map_err(|e| SandboxError::Seccomp(format!("PR_SET_NO_NEW_PRIVS: {}", e.desc())))?;
    if !no_new_privs() {
        return Err(SandboxError::NoNewPrivs("PR_SET_NO_NEW_PRIVS"));
    }
    Ok(())
}

/// Whether `no_new_privs` is set for this thread.
pub fn no_new_privs() -> bool {
    nix::sys::prctl::get_no_new_privs().unwrap_or(false)
}
