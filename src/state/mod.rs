//! The per-boot state directory (`/run/belladonna`, tmpfs).
//!
//! Created by bdexec when missing (0700 root, parent checked), refused when
//! it exists but is not root's alone: a directory that anyone else can
//! write or read could hold forged replay, rate or timestamp state. Later
//! state files (clock anchor, nonces, rate buckets, timestamps) are opened
//! relative to the fd returned here, never by path.
#![forbid(unsafe_code)]

pub mod clock;
pub mod file;
pub mod nonce;
pub mod rate;
pub mod refusals;

use crate::base::secure_fs::{SecureFsError, ensure_trusted_dir};
use std::fmt;
use std::os::fd::OwnedFd;
use std::path::Path;

/// The state directory could not be used.
#[derive(Debug)]
pub struct StateError(pub String);

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StateError {}

impl From<SecureFsError> for StateError {
    fn from(e: SecureFsError) -> Self {
        StateError(format!("state directory: {e}"))
    }
}

/// Open (creating if missing) the state directory and check it.
pub fn open_state_dir() -> Result<OwnedFd, StateError> {
    open_dir(Path::new(crate::base::paths::RUN_DIR))
}

fn open_dir(path: &Path) -> Result<OwnedFd, StateError> {
    let fd = ensure_trusted_dir(path, 0o700)?;
    let st = nix::sys::stat::fstat(&fd)
        .map_err(|e| StateError(format!("{}: fstat: {}", path.display(), e.desc())))?;
    if st.st_mode & 0o077 != 0 {
        return Err(StateError(format!(
            "{}: mode {:04o} must be 0700 (state is root's alone)",
            path.display(),
            st.st_mode & 0o7777
        )));
    }
    Ok(fd)
}
