//! Frozen mode: the persisted flag and its check.
//!
//! The source of truth is `/var/lib/belladonna/frozen` (persistent: it
//! survives a reboot and the loss of `/run`). `bdctl freeze` writes it,
//! then the marker `/run/belladonna/frozen`; unfreezing removes the
//! marker, then the file. bdexec checks on every call with one `open` of
//! the file and, when the file is absent, one `stat` of the marker:
//!
//! | `/var/lib/.../frozen`        | `/run/.../frozen` | state                  |
//! |------------------------------|-------------------|------------------------|
//! | absent                       | absent            | not frozen             |
//! | a valid freeze record        | any               | frozen (its reason)    |
//! | corrupt, unreadable, foreign | any               | frozen (fail closed)   |
//! | absent                       | present           | frozen (fail closed)   |
//!
//! The last row: the marker is only written after the persistent file,
//! and removed before it, so a marker without the file means the file was
//! deleted behind Belladonna's back; that is refused like a corrupt file
//! and needs an ordinary unfreeze (which removes both). A crash between
//! the two steps of an unfreeze leaves the host frozen (fail closed).
#![forbid(unsafe_code)]

use crate::base::paths::{LIB_DIR, RUN_DIR};
use crate::state::file;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use serde::{Deserialize, Serialize};
use std::io::Read as _;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

/// The file name, in [`LIB_DIR`] (persistent) and [`RUN_DIR`] (marker).
pub const FROZEN_NAME: &str = "frozen";
/// Largest freeze file read.
pub const MAX_FREEZE_BYTES: u64 = 4096;

/// What started a freeze (`cause` in the record and the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// `bdctl freeze`.
    Manual,
    /// A uid's hydra score crossed `[incident] freeze_score`.
    Hydra,
    /// The decoy-hit rate crossed the adaptive threshold.
    DecoyRate,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Manual => "manual",
            Cause::Hydra => "hydra",
            Cause::DecoyRate => "decoy-rate",
        }
    }
}

/// The content of the freeze file (one JSON object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeInfo {
    /// Unix seconds.
    pub since: u64,
    pub reason: String,
    pub cause: Cause,
    /// The uid whose call froze the host (root for `bdctl freeze`).
    pub uid: u32,
}

/// The result of [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Thawed,
    /// Frozen; `info` when the file could be read, `problem` when the
    /// state is frozen because something is wrong (corrupt or missing
    /// file: fail closed).
    Frozen {
        info: Option<FreezeInfo>,
        problem: Option<String>,
    },
}

impl State {
    pub fn is_frozen(&self) -> bool {
        matches!(self, State::Frozen { .. })
    }
}

fn frozen_problem(p: String) -> State {
    State::Frozen {
        info: None,
        problem: Some(p),
    }
}

/// Parse the freeze file's bytes.
pub fn decode(bytes: &[u8]) -> Result<FreezeInfo, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("corrupt freeze file: {e}"))
}

/// Is the host frozen? `lib_dir` is the persistent directory (by path:
/// one `open`), `run` the open state directory (one `fstatat` when the
/// file is absent). Every error is "frozen".
pub fn check_at(lib_dir: &Path, run: BorrowedFd<'_>) -> State {
    let path = lib_dir.join(FROZEN_NAME);
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY;
    match nix::fcntl::open(&path, flags | OFlag::O_CLOEXEC, Mode::empty()) {
        Err(Errno::ENOENT) => {
            match nix::sys::stat::fstatat(
                run,
                FROZEN_NAME,
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            ) {
                Err(Errno::ENOENT) => State::Thawed,
                Ok(_) => frozen_problem(format!(
                    "{} is missing while {}/{FROZEN_NAME} says frozen (the persistent flag was removed)",
                    path.display(),
                    RUN_DIR
                )),
                Err(e) => frozen_problem(format!("{RUN_DIR}/{FROZEN_NAME}: {}", e.desc())),
            }
        }
        Err(e) => frozen_problem(format!("{}: {}", path.display(), e.desc())),
        Ok(fd) => {
            let f = std::fs::File::from(fd);
            let st = match nix::sys::stat::fstat(f.as_fd()) {
                Ok(s) => s,
                Err(e) => return frozen_problem(format!("{}: {}", path.display(), e.desc())),
            };
            if st.st_mode & libc::S_IFMT != libc::S_IFREG || st.st_uid != 0 {
                return frozen_problem(format!(
                    "{}: not a regular file owned by root",
                    path.display()
                ));
            }
            let mut buf = Vec::new();
            if let Err(e) = f.take(MAX_FREEZE_BYTES + 1).read_to_end(&mut buf) {
                return frozen_problem(format!("{}: {e}", path.display()));
            }
            if buf.len() as u64 > MAX_FREEZE_BYTES {
                return frozen_problem(format!("{}: too large (corrupt)", path.display()));
            }
            match decode(&buf) {
                Ok(info) => State::Frozen {
                    info: Some(info),
                    problem: None,
                },
                Err(e) => frozen_problem(format!("{}: {e}", path.display())),
            }
        }
    }
}

/// [`check_at`] on the system paths.
pub fn check(run: BorrowedFd<'_>) -> State {
    check_at(Path::new(LIB_DIR), run)
}

/// The persistent directory, created 0700 when missing.
fn lib_dir() -> Result<std::os::fd::OwnedFd, String> {
    crate::base::secure_fs::ensure_trusted_dir(Path::new(LIB_DIR), 0o700).map_err(|e| e.to_string())
}

/// Freeze: write the persistent file (atomically, fsynced), then the
/// marker. Freezing a frozen host keeps the first freeze's file (its
/// reason and time) and only makes sure the marker exists; returns
/// whether this call froze the host.
pub fn freeze(run: BorrowedFd<'_>, info: &FreezeInfo) -> Result<bool, String> {
    let dir = lib_dir()?;
    let shown = Path::new(LIB_DIR);
    let _l = file::lock(dir.as_fd(), shown, "frozen.lock", file::LOCK_TIMEOUT)
        .map_err(|e| e.to_string())?;
    let fresh = !file::exists(dir.as_fd(), FROZEN_NAME);
    if fresh {
        let json = serde_json::to_vec(info).map_err(|e| e.to_string())?;
        file::replace(dir.as_fd(), shown, FROZEN_NAME, &json).map_err(|e| e.to_string())?;
    }
    file::replace(run, Path::new(RUN_DIR), FROZEN_NAME, b"frozen\n").map_err(|e| e.to_string())?;
    Ok(fresh)
}

/// Leave frozen mode (after the tokens were checked and consumed):
/// remove the marker, then the persistent file.
pub fn thaw(run: BorrowedFd<'_>) -> Result<(), String> {
    let dir = lib_dir()?;
    let shown = Path::new(LIB_DIR);
    let _l = file::lock(dir.as_fd(), shown, "frozen.lock", file::LOCK_TIMEOUT)
        .map_err(|e| e.to_string())?;
    file::remove(run, Path::new(RUN_DIR), FROZEN_NAME).map_err(|e| e.to_string())?;
    nix::unistd::fsync(run).map_err(|e| format!("{RUN_DIR}: fsync: {}", e.desc()))?;
    file::remove(dir.as_fd(), shown, FROZEN_NAME).map_err(|e| e.to_string())?;
    nix::unistd::fsync(dir.as_fd()).map_err(|e| format!("{LIB_DIR}: fsync: {}", e.desc()))?;
    Ok(())
}

/// Wall-clock now in unix seconds.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dirs() -> (tempfile::TempDir, tempfile::TempDir, std::fs::File) {
        let lib = tempfile::tempdir().expect("tmp");
        let run = tempfile::tempdir().expect("tmp");
        let fd = std::fs::File::open(run.path()).expect("open");
        (lib, run, fd)
    }

    fn am_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    #[test]
    fn absent_both_is_thawed() {
        let (lib, _run, fd) = dirs();
        assert_eq!(check_at(lib.path(), fd.as_fd()), State::Thawed);
    }

    #[test]
    fn valid_file_is_frozen_with_its_reason() {
        if !am_root() {
            return;
        }
        let (lib, _run, fd) = dirs();
        let info = FreezeInfo {
            since: 5,
            reason: "r".into(),
            cause: Cause::Manual,
            uid: 0,
        };
        std::fs::write(
            lib.path().join(FROZEN_NAME),
            serde_json::to_vec(&info).expect("json"),
        )
        .expect("write");
        assert_eq!(
            check_at(lib.path(), fd.as_fd()),
            State::Frozen {
                info: Some(info),
                problem: None
            }
        );
    }

    #[test]
    fn corrupt_file_stays_frozen() {
        let (lib, _run, fd) = dirs();
        for bad in [&b"{not json"[..], b"", b"{\"since\":1}", &[b'x'; 5000][..]] {
            std::fs::write(lib.path().join(FROZEN_NAME), bad).expect("write");
            let s = check_at(lib.path(), fd.as_fd());
            assert!(s.is_frozen(), "{bad:?}");
        }
    }

    #[test]
    fn unreadable_file_stays_frozen() {
        let (lib, _run, fd) = dirs();
        // A directory in its place: open succeeds or fails, but it is
        // never a valid freeze file.
        std::fs::create_dir(lib.path().join(FROZEN_NAME)).expect("mkdir");
        assert!(check_at(lib.path(), fd.as_fd()).is_frozen());
        // A symlink (O_NOFOLLOW: ELOOP).
        let lib2 = tempfile::tempdir().expect("tmp");
        std::os::unix::fs::symlink("/etc/hostname", lib2.path().join(FROZEN_NAME)).expect("ln");
        assert!(check_at(lib2.path(), fd.as_fd()).is_frozen());
        // Permission denied on the directory (as root this still reads:
        // only meaningful unprivileged).
        let lib3 = tempfile::tempdir().expect("tmp");
        std::fs::write(lib3.path().join(FROZEN_NAME), b"{}").expect("write");
        std::fs::set_permissions(lib3.path(), std::fs::Permissions::from_mode(0o000))
            .expect("chmod");
        assert!(check_at(lib3.path(), fd.as_fd()).is_frozen());
        std::fs::set_permissions(lib3.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
    }

    #[test]
    fn marker_without_file_stays_frozen() {
        let (lib, run, fd) = dirs();
        std::fs::write(run.path().join(FROZEN_NAME), b"frozen\n").expect("write");
        match check_at(lib.path(), fd.as_fd()) {
            State::Frozen {
                info: None,
                problem: Some(p),
            } => assert!(p.contains("persistent flag was removed"), "{p}"),
            other => panic!("{other:?}"),
        }
    }
}
