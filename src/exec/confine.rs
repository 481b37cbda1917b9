//! Glue between a rule and the sandbox layer: which profile and grants
//! apply, building them before the TOCTOU check, and applying them in
//! DESIGN section 4's order after the identity switch.
//!
//! * A rule's profile is its `sandbox`, else `[defaults] sandbox`.
//! * A rule with neither a profile nor `caps` nor `noexec` is not
//!   confined: a root target gets full root from exec, a non-root target
//!   nothing.
//! * A `noexec` rule is confined like one with `caps`: its seccomp
//!   filter needs no_new_privs (src/exec/noexec.rs), so a root target
//!   keeps exactly `caps`, never full root.
//! * With a profile or `caps`, the target keeps exactly `caps` (empty:
//!   none): the bounding set is cut to them and, for a uid-0 target,
//!   SECBIT_NOROOT is locked so exec grants nothing more.
//! * With a profile, no_new_privs is set, then Landlock (when the profile
//!   has a `[landlock]` table; its scopes depend on the target uid, see
//!   `LandlockSpec::scopes_for`), then the seccomp filter (always: at
//!   least the baseline denials), last.
#![forbid(unsafe_code)]

use crate::policy::model::{Policy, Rule, SandboxProfile};
use crate::sandbox::SandboxError;
use crate::sandbox::capgrant::{self, CapsSet};
use crate::sandbox::landlock::{self, PreparedLandlock};
use crate::sandbox::seccomp::{self, Program};
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Why a rule's confinement cannot be built or applied. `Display` is one
/// line, ready for the refusal message.
#[derive(Debug)]
pub enum ConfineError {
    /// The sandbox layer (grant, Landlock, seccomp, no_new_privs).
    Sandbox(SandboxError),
    /// The rule grants capabilities bdexec's own file capabilities lack.
    NotHeld(Vec<String>),
    /// Clearing a capability set failed.
    Clear(caps::CapSet, nix::Error),
    /// Reading a capability set failed.
    Read(nix::Error),
    /// A capability set was not empty after clearing it.
    Left(&'static str),
}

impl fmt::Display for ConfineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfineError::Sandbox(e) => write!(f, "{e}"),
            ConfineError::NotHeld(names) => write!(
                f,
                "rule grants capabilities bdexec itself does not hold ({}): ask the administrator to add them to bdexec's file capabilities",
                names.join(",")
            ),
            ConfineError::Clear(set, e) => {
                write!(f, "clearing {set:?} capabilities: {}", e.desc())
            }
            ConfineError::Read(e) => write!(f, "reading capabilities: {}", e.desc()),
            ConfineError::Left(set) => write!(f, "capabilities left in {set}"),
        }
    }
}

impl std::error::Error for ConfineError {}

impl From<SandboxError> for ConfineError {
    fn from(e: SandboxError) -> Self {
        ConfineError::Sandbox(e)
    }
}

/// A rule's confinement, built but not applied.
pub struct Confinement {
    profile: Option<String>,
    landlock: Option<PreparedLandlock>,
    seccomp: Option<Program>,
    grant: CapsSet,
    summary: String,
}

/// The profile that applies to `rule`, if any.
pub fn profile_for<'p>(policy: &'p Policy, rule: &Rule) -> Option<&'p SandboxProfile> {
    let name = rule
        .sandbox
        .as_deref()
        .or(policy.defaults.sandbox.as_deref())?;
    policy.sandboxes.iter().find(|s| s.name == name)
}

/// Cache key of a profile's seccomp program: BLAKE3 of its canonical
/// form (so only a change to this profile's filter recompiles it).
fn seccomp_key(p: &SandboxProfile) -> [u8; 32] {
    let canon = serde_json::to_vec(&p.seccomp).unwrap_or_default();
    let mut h = blake3::Hasher::new();
    h.update(b"belladonna-seccomp-key-v1\0");
    h.update(&canon);
    *h.finalize().as_bytes()
}

/// Build (without applying) what `rule` needs for a target with
/// `target_uid`; `Ok(None)` when nothing.
pub fn prepare(
    policy: &Policy,
    rule: &Rule,
    exec_path: &Path,
    target_uid: u32,
    state_dir: &OwnedFd,
) -> Result<Option<Confinement>, ConfineError> {
    let profile = profile_for(policy, rule);
    let noexec = rule.session.or(policy.defaults.session).noexec == Some(true);
    if profile.is_none() && rule.caps.is_empty() && !noexec {
        return Ok(None);
    }
    let grant = capgrant::parse_caps(&rule.caps)?;
    let missing = capgrant::missing_from_binary(&grant);
    if !missing.is_empty() {
        return Err(ConfineError::NotHeld(capgrant::names(&missing)));
    }
    let mut parts = Vec::new();
    let mut ll = None;
    let mut sc = None;
    if let Some(p) = profile {
        if let Some(spec) = &p.landlock {
            let prepared = landlock::prepare(spec, exec_path, target_uid)?;
            parts.push(prepared.report().summary());
            ll = Some(prepared);
        }
        let cached = seccomp::cached(state_dir.as_fd(), &seccomp_key(p), p.seccomp.as_ref())?;
        let mode = match &p.seccomp {
            None => "baseline".to_string(),
            Some(s) => format!(
                "{} {}",
                if s.allow.is_empty() {
                    "deny-list"
                } else {
                    "allow-list"
                },
                match s.action {
                    crate::policy::model::SeccompAction::Kill => "kill",
                    crate::policy::model::SeccompAction::Errno => "errno",
                    crate::policy::model::SeccompAction::Log => "log",
                }
            ),
        };
        parts.push(format!(
            "seccomp {mode}{}",
            if cached.hit { " (cached)" } else { "" }
        ));
        sc = Some(cached.program);
    }
    parts.push(if rule.caps.is_empty() {
        "caps none".to_string()
    } else {
        format!("caps {}", rule.caps.join(","))
    });
    if noexec {
        parts.push("noexec".to_string());
    }
    Ok(Some(Confinement {
        profile: profile.map(|p| p.name.clone()),
        landlock: ll,
        seccomp: sc,
        grant,
        summary: parts.join("; "),
    }))
}

impl Confinement {
    /// The profile's name, for the audit record.
    pub fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// What will be enforced, one line for the audit record.
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// True when capabilities must survive the uid switch.
    pub fn grant_follows(&self) -> bool {
        !self.grant.is_empty()
    }

    /// Bounding set and securebits, before setgroups/setresgid/setresuid.
    pub fn before_id_switch(&self, target_uid: u32) -> Result<(), ConfineError> {
        Ok(capgrant::before_id_switch(&self.grant, target_uid)?)
    }

    /// After the uid switch: the grant (or nothing), no_new_privs,
    /// Landlock, seccomp, in that order. Any error: the caller `_exit`s.
    pub fn apply(self) -> Result<(), ConfineError> {
        if self.grant.is_empty() {
            drop_all_caps()?;
        } else {
            capgrant::after_id_switch(&self.grant)?;
        }
        if self.profile.is_none() {
            return Ok(());
        }
        crate::sandbox::set_no_new_privs()?;
        if let Some(ll) = self.landlock {
            ll.apply()?;
        }
        if let Some(p) = &self.seccomp {
            seccomp::load(p)?;
        }
        Ok(())
    }
}

/// No grant: every capability set empty (a uid-0 target still holds
/// bdexec's permitted set at this point), verified
/// ([`crate::sys::caps::clear_all`]).
fn drop_all_caps() -> Result<(), ConfineError> {
    let left = crate::sys::caps::clear_all()
        .map_err(|e| ConfineError::Clear(caps::CapSet::Permitted, e))?;
    match left.first_held() {
        Some(set) => Err(ConfineError::Left(set)),
        None => Ok(()),
    }
}
