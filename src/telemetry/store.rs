//! Persistent telemetry state in `/var/lib/belladonna` (DESIGN section 6):
//! small JSON documents (`metrics.state`, `otlp.state`), each read and
//! replaced atomically under its own lock with a deadline, with the state
//! primitives of [`crate::state::file`] (root-owned, 0600, no symlinks).
//! A corrupt document is an error, never a silent reset (a reset would
//! count every record again).
#![forbid(unsafe_code)]

use super::TelemetryError;
use crate::state::file;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Largest state document accepted.
const MAX_STATE: u64 = 1 << 20;

/// The OTLP export state document (lock name; the file is `otlp.state`).
pub const EXPORT_STATE: &str = "otlp";
/// Its file name.
pub const EXPORT_STATE_FILE: &str = "otlp.state";

/// `otlp.state`: kept here, below both `export` (which writes it) and
/// `metrics` (which reads the backlog and error count from it).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ExportState {
    pub cursor: super::cursor::Cursor,
    /// Failed export attempts, ever.
    pub errors: u64,
    /// Records past the cursor so far (sampled out ones included).
    pub exported: u64,
}

/// The persistent state directory, opened and checked (created 0700 when
/// missing).
pub fn lib_dir() -> Result<OwnedFd, TelemetryError> {
    let p = Path::new(crate::base::paths::LIB_DIR);
    crate::base::secure_fs::ensure_trusted_dir(p, 0o700)
        .map_err(|e| TelemetryError(format!("state directory: {e}")))
}

/// A state document `NAME.state` held under `NAME.lock` for as long as
/// this value lives.
pub struct Locked {
    dir: OwnedFd,
    name: String,
    _lock: file::StateLock,
}

impl Locked {
    /// Take the lock of document `name` in `dir` (deadline
    /// [`file::LOCK_TIMEOUT`]).
    pub fn open(dir: OwnedFd, name: &str) -> Result<Self, TelemetryError> {
        let shown = Path::new(crate::base::paths::LIB_DIR);
        let lock = file::lock(
            dir.as_fd(),
            shown,
            &format!("{name}.lock"),
            file::LOCK_TIMEOUT,
        )?;
        Ok(Locked {
            dir,
            name: format!("{name}.state"),
            _lock: lock,
        })
    }

    /// Read the document; the default when it does not exist yet.
    pub fn load<T: DeserializeOwned + Default>(&self) -> Result<T, TelemetryError> {
        read(self.dir.as_fd(), &self.name)
    }

    /// Replace the document atomically.
    pub fn save<T: Serialize>(&self, v: &T) -> Result<(), TelemetryError> {
        let shown = Path::new(crate::base::paths::LIB_DIR);
        let data = serde_json::to_vec(v)
            .map_err(|e| TelemetryError(format!("{}: encode: {e}", self.name)))?;
        Ok(file::replace(self.dir.as_fd(), shown, &self.name, &data)?)
    }
}

/// Read document `name` (a `.state` file name) without its lock: files
/// are replaced atomically, so a reader sees the old or the new one.
pub fn read<T: DeserializeOwned + Default>(
    dir: std::os::fd::BorrowedFd<'_>,
    name: &str,
) -> Result<T, TelemetryError> {
    let shown = Path::new(crate::base::paths::LIB_DIR);
    match file::read(dir, shown, name, MAX_STATE)? {
        None => Ok(T::default()),
        Some(b) => serde_json::from_slice(&b).map_err(|e| {
            TelemetryError(format!(
                "{}: corrupt telemetry state ({e}); remove it to start over \
                 (counters restart and records are counted again)",
                shown.join(name).display()
            ))
        }),
    }
}
