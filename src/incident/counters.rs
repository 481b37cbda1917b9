//! Tracking counters for `bdctl metrics` and `bdctl status`:
//! `/var/lib/belladonna/incident/counters.json` (format in
//! docs/incident-response.md, "Counters"). Advisory: a counter that
//! cannot be updated never changes a decision (the audit log is the
//! record); a corrupt file restarts from zero.
#![forbid(unsafe_code)]

use crate::base::paths::LIB_DIR;
use crate::incident::freeze::Cause;
use crate::state::file;
use serde::{Deserialize, Serialize};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// The subdirectory of [`LIB_DIR`].
pub const DIR: &str = "incident";
/// The file name.
pub const NAME: &str = "counters.json";

/// The counters (all monotonic).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Format version (1).
    pub version: u32,
    /// Freezes by cause.
    pub freezes_manual: u64,
    pub freezes_hydra: u64,
    pub freezes_decoy_rate: u64,
    /// Unfreezes, by the cause of the freeze they lifted: `manual` (a
    /// `bdctl freeze`) or `automatic` (hydra or decoy rate).
    pub unfreezes_manual: u64,
    pub unfreezes_automatic: u64,
    /// Decoy hits (`alert` records).
    pub decoy_hits: u64,
}

fn shown() -> PathBuf {
    Path::new(LIB_DIR).join(DIR)
}

fn update(f: impl FnOnce(&mut Counters)) {
    let Ok(lib) = crate::base::secure_fs::ensure_trusted_dir(Path::new(LIB_DIR), 0o700) else {
        return;
    };
    let sd = shown();
    let Ok(dir) = file::ensure_subdir(lib.as_fd(), Path::new(LIB_DIR), DIR) else {
        return;
    };
    let Ok(_l) = file::lock(dir.as_fd(), &sd, "counters.lock", file::LOCK_TIMEOUT) else {
        return;
    };
    let mut c: Counters = file::read(dir.as_fd(), &sd, NAME, 64 * 1024)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    c.version = 1;
    f(&mut c);
    if let Ok(json) = serde_json::to_vec(&c) {
        let _ = file::replace(dir.as_fd(), &sd, NAME, &json);
    }
}

/// Count a freeze.
pub fn bump_freeze(cause: Cause) {
    update(|c| match cause {
        Cause::Manual => c.freezes_manual += 1,
        Cause::Hydra => c.freezes_hydra += 1,
        Cause::DecoyRate => c.freezes_decoy_rate += 1,
    });
}

/// Count an unfreeze of a freeze of `cause` (`None`: unknown, a
/// corrupt or missing freeze file: counted as manual).
pub fn bump_unfreeze(cause: Option<Cause>) {
    update(|c| match cause {
        Some(Cause::Hydra | Cause::DecoyRate) => c.unfreezes_automatic += 1,
        Some(Cause::Manual) | None => c.unfreezes_manual += 1,
    });
}

/// Count a decoy hit.
pub fn bump_decoy_hit() {
    update(|c| c.decoy_hits += 1);
}

/// The counters as JSON (all zero when the file is missing or corrupt).
pub fn read() -> serde_json::Value {
    let c = crate::base::secure_fs::open_trusted_dir(&shown())
        .ok()
        .and_then(|d| {
            file::read(d.as_fd(), &shown(), NAME, 64 * 1024)
                .ok()
                .flatten()
        })
        .and_then(|b| serde_json::from_slice::<Counters>(&b).ok())
        .unwrap_or_default();
    serde_json::to_value(c).unwrap_or(serde_json::Value::Null)
}
