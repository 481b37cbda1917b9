//! The one atomic file replacement: write a temporary file next to the
//! target, fsync it, rename it over the target, and (when asked) fsync
//! the directory. A reader sees the old or the new contents, never a mix.
//!
//! The contract, chosen by the caller in [`Replace`]:
//!
//! * `temp`: with [`Temp::Fixed`] the caller holds a lock that serialises
//!   every writer of this file, so a leftover temporary of that name is a
//!   crashed writer's and is removed first; with [`Temp::Random`] no lock
//!   is held, and a random name (`.NAME.tmp-<16 hex>`) keeps concurrent
//!   writers apart.
//! * `overwrite`: false refuses when the target exists, checked before
//!   writing and again just before the rename ([`ReplaceError::Exists`]).
//! * `fsync_dir`: fsync the directory after the rename, so the new name
//!   survives a power cut.
//!
//! Always: the temporary is created `O_CREAT | O_EXCL | O_NOFOLLOW`
//! relative to the directory fd (never by path), gets exactly `mode`
//! (fchmod after the umask), and is removed again on any failure.
#![forbid(unsafe_code)]

use nix::fcntl::{AtFlags, OFlag, openat, renameat};
use nix::sys::stat::{Mode, fchmod};
use nix::unistd::{UnlinkatFlags, fsync, unlinkat};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::os::fd::BorrowedFd;

/// How the temporary file is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temp<'a> {
    /// This name; the caller holds the lock of the file, so a leftover of
    /// this name is stale and is removed first.
    Fixed(&'a str),
    /// `.NAME.tmp-<random>`: no lock held.
    Random,
}

/// What [`replace_at`] promises (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replace<'a> {
    /// Mode of the new file.
    pub mode: u32,
    /// How the temporary is named (lock held or not).
    pub temp: Temp<'a>,
    /// Replace an existing target (false: refuse).
    pub overwrite: bool,
    /// fsync the directory after the rename.
    pub fsync_dir: bool,
}

impl Replace<'static> {
    /// A root-private file in the tmpfs state directory that only saves
    /// work (the policy cache, the memos): mode 0600, a random temporary
    /// (no lock), replaced, no directory fsync (a lost file is rebuilt).
    pub const SCRATCH: Replace<'static> = Replace {
        mode: 0o600,
        temp: Temp::Random,
        overwrite: true,
        fsync_dir: false,
    };
}

/// Why the file was not replaced (nothing was changed, and the
/// temporary is gone, unless the failure was the directory fsync after
/// the rename).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaceError {
    /// The target exists and `overwrite` is false.
    Exists,
    /// A system call failed: `op` names it, `on_temp` says whether it was
    /// about the temporary (named `temp`) rather than the target.
    Sys {
        op: &'static str,
        temp: OsString,
        on_temp: bool,
        err: nix::Error,
    },
    /// Writing or syncing the data failed.
    Write { temp: OsString, err: String },
}

impl fmt::Display for ReplaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplaceError::Exists => f.write_str("already exists (refusing to overwrite)"),
            ReplaceError::Sys { op, err, .. } => write!(f, "{op}: {}", err.desc()),
            ReplaceError::Write { err, .. } => write!(f, "write: {err}"),
        }
    }
}

impl std::error::Error for ReplaceError {}

/// True when `name` exists in `dir` (a symlink counts; never followed).
pub fn exists_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<bool, nix::Error> {
    match nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(_) => Ok(true),
        Err(nix::Error::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

fn random_suffix() -> Result<String, nix::Error> {
    let mut rnd = [0u8; 8];
    getrandom::fill(&mut rnd).map_err(|_| nix::Error::EIO)?;
    Ok(crate::base::hex::encode(&rnd))
}

/// Replace `name` in `dir` with `data` atomically, as `how` says.
pub fn replace_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    data: &[u8],
    how: &Replace<'_>,
) -> Result<(), ReplaceError> {
    let sys = |op, temp: &OsStr, on_temp, err| ReplaceError::Sys {
        op,
        temp: temp.to_os_string(),
        on_temp,
        err,
    };
    let refuse_existing = || -> Result<(), ReplaceError> {
        if !how.overwrite && exists_at(dir, name).map_err(|e| sys("stat", name, false, e))? {
            return Err(ReplaceError::Exists);
        }
        Ok(())
    };
    refuse_existing()?;
    let tmp: OsString = match how.temp {
        Temp::Fixed(t) => {
            // A leftover of a crashed writer; the caller holds the lock.
            match unlinkat(dir, t, UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(nix::Error::ENOENT) => {}
                Err(e) => return Err(sys("unlink", OsStr::new(t), true, e)),
            }
            OsString::from(t)
        }
        Temp::Random => {
            let suffix = random_suffix().map_err(|e| sys("random", name, true, e))?;
            OsString::from(format!(".{}.tmp-{suffix}", name.to_string_lossy()))
        }
    };
    let mode = Mode::from_bits_truncate(how.mode as libc::mode_t);
    let fd = openat(
        dir,
        tmp.as_os_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        mode,
    )
    .map_err(|e| sys("create", &tmp, true, e))?;
    let mut f = File::from(fd);
    let res = (|| {
        // The umask may have narrowed the mode; widen never.
        fchmod(&f, mode).map_err(|e| sys("fchmod", &tmp, true, e))?;
        f.write_all(data)
            .and_then(|()| f.sync_all())
            .map_err(|e| ReplaceError::Write {
                temp: tmp.clone(),
                err: e.to_string(),
            })?;
        refuse_existing()?;
        renameat(dir, tmp.as_os_str(), dir, name).map_err(|e| sys("rename", &tmp, false, e))
    })();
    if res.is_err() {
        let _ = unlinkat(dir, tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        return res;
    }
    if how.fsync_dir {
        fsync(dir).map_err(|e| sys("fsync directory", &tmp, false, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::fs::PermissionsExt;

    fn dir() -> (tempfile::TempDir, File) {
        let d = tempfile::tempdir().expect("tempdir");
        let f = File::open(d.path()).expect("open dir");
        (d, f)
    }

    const RANDOM: Replace<'static> = Replace {
        mode: 0o600,
        temp: Temp::Random,
        overwrite: false,
        fsync_dir: true,
    };

    #[test]
    fn refuses_overwrite_and_leaves_no_temporary() {
        let (d, f) = dir();
        replace_at(f.as_fd(), OsStr::new("k"), b"one", &RANDOM).expect("create");
        assert_eq!(
            replace_at(f.as_fd(), OsStr::new("k"), b"two", &RANDOM),
            Err(ReplaceError::Exists)
        );
        assert_eq!(std::fs::read(d.path().join("k")).expect("read"), b"one");
        let over = Replace {
            overwrite: true,
            mode: 0o644,
            ..RANDOM
        };
        replace_at(f.as_fd(), OsStr::new("k"), b"two", &over).expect("replace");
        assert_eq!(std::fs::read(d.path().join("k")).expect("read"), b"two");
        let md = std::fs::metadata(d.path().join("k")).expect("stat");
        assert_eq!(md.permissions().mode() & 0o7777, 0o644);
        let names: Vec<_> = std::fs::read_dir(d.path()).expect("ls").collect();
        assert_eq!(names.len(), 1, "a temporary was left behind");
    }

    #[test]
    fn fixed_temporary_replaces_a_stale_one_and_never_follows_links() {
        let (d, f) = dir();
        std::fs::write(d.path().join(".x.tmp"), b"junk").expect("stale");
        let fixed = Replace {
            temp: Temp::Fixed(".x.tmp"),
            overwrite: true,
            ..RANDOM
        };
        replace_at(f.as_fd(), OsStr::new("x"), b"data", &fixed).expect("replace");
        assert_eq!(std::fs::read(d.path().join("x")).expect("read"), b"data");
        assert!(!d.path().join(".x.tmp").exists());
        // The target a symlink: replaced by the rename, the link's target
        // untouched.
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"keep").expect("victim");
        std::os::unix::fs::symlink(&victim, d.path().join("y")).expect("symlink");
        replace_at(f.as_fd(), OsStr::new("y"), b"new", &fixed_for("y")).expect("replace");
        assert_eq!(std::fs::read(&victim).expect("read"), b"keep");
        assert_eq!(std::fs::read(d.path().join("y")).expect("read"), b"new");
        // Refusing to overwrite counts a dangling symlink as existing.
        std::os::unix::fs::symlink("/nonexistent", d.path().join("z")).expect("symlink");
        assert_eq!(
            replace_at(f.as_fd(), OsStr::new("z"), b"n", &RANDOM),
            Err(ReplaceError::Exists)
        );
    }

    fn fixed_for(_: &str) -> Replace<'static> {
        Replace {
            temp: Temp::Fixed(".y.tmp"),
            overwrite: true,
            ..RANDOM
        }
    }
}
