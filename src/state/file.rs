//! Safe state-file primitives shared by the clock anchor, nonce sets and
//! rate buckets (and usable for any root-only state directory, e.g.
//! `/var/lib/belladonna`).
//!
//! * Every file is opened with `openat` + `O_NOFOLLOW` relative to a
//!   checked directory fd (never by path), and checked on the fd: a
//!   regular file, owned by root, no permission bits for group or others
//!   (0600 or stricter).
//! * Updates are made under an exclusive `flock` on a separate lock file
//!   (`NAME.lock`), taken with a deadline: `LOCK_NB` polled with back-off
//!   until a monotonic deadline, the same scheme as the audit writer (no
//!   signal, no timer, no `unsafe`, correct with threads). A separate
//!   lock file is needed because data files are replaced by rename: a
//!   lock on the replaced inode would protect nothing.
//! * Data files are replaced atomically: a temporary `.NAME.tmp` (created
//!   `O_EXCL`, 0600) is written, fsynced, renamed over `NAME`, then the
//!   directory is fsynced. A reader sees the old or the new contents,
//!   never a mix; a crash leaves at worst a stale temporary, removed by
//!   the next writer (who holds the lock).
//! * Reads are bounded (`max_len`): a huge file is an error, not an
//!   allocation.
#![forbid(unsafe_code)]

use super::StateError;
use crate::base::atomic_file::{Replace, ReplaceError, Temp, replace_at};
use crate::base::deadline_lock::{Owned, lock_owned};
use crate::base::secure_fs::{SecureFsError, open_subdir, open_trusted_file};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, fstat, mkdirat};
use nix::unistd::{UnlinkatFlags, unlinkat};
use std::ffi::OsStr;
use std::fmt;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

/// Default deadline for state locks (the audit log uses the same).
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(3);

/// A held state lock; dropping it unlocks.
#[derive(Debug)]
pub struct StateLock {
    _lock: Owned,
}

fn err(shown: &Path, what: impl fmt::Display) -> StateError {
    StateError(format!("{}: {what}", shown.display()))
}

fn sys(shown: &Path, op: &str, e: Errno) -> StateError {
    err(shown, format_args!("{op}: {}", e.desc()))
}

fn fs_err(e: SecureFsError) -> StateError {
    StateError(e.to_string())
}

/// Refuse anything but a root-owned regular file with no group/other
/// permission bits (`open_trusted_file` already checked regular, root,
/// not group/world-writable).
fn check_private(shown: &Path, st: &FileStat) -> Result<(), StateError> {
    if st.st_mode & 0o077 != 0 {
        return Err(err(
            shown,
            format_args!(
                "mode {:04o} must be 0600 (state files are root's alone)",
                st.st_mode & 0o7777
            ),
        ));
    }
    Ok(())
}

/// Open (creating 0700 if missing) the subdirectory `name` of `dir` and
/// check it on its fd: a real directory (no symlink), root-owned, mode
/// 0700 or stricter.
pub fn ensure_subdir(
    dir: BorrowedFd<'_>,
    shown_dir: &Path,
    name: &str,
) -> Result<OwnedFd, StateError> {
    let shown = shown_dir.join(name);
    match mkdirat(dir, OsStr::new(name), Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(sys(&shown, "mkdir", e)),
    }
    let fd = open_subdir(dir, OsStr::new(name), &shown).map_err(fs_err)?;
    let st = fstat(&fd).map_err(|e| sys(&shown, "fstat", e))?;
    if st.st_mode & 0o077 != 0 {
        return Err(err(
            &shown,
            format_args!(
                "mode {:04o} must be 0700 (state is root's alone)",
                st.st_mode & 0o7777
            ),
        ));
    }
    Ok(fd)
}

/// Open (creating 0600 if missing) the lock file `name` in `dir` and take
/// an exclusive lock on it within `timeout`.
pub fn lock(
    dir: BorrowedFd<'_>,
    shown_dir: &Path,
    name: &str,
    timeout: Duration,
) -> Result<StateLock, StateError> {
    let shown = shown_dir.join(name);
    let (file, st) = open_trusted_file(
        dir,
        OsStr::new(name),
        &shown,
        OFlag::O_RDWR | OFlag::O_CREAT,
        0o600,
    )
    .map_err(fs_err)?;
    check_private(&shown, &st)?;
    let l = lock_owned(file, timeout).map_err(|e| err(&shown, e))?;
    Ok(StateLock { _lock: l })
}

/// Read the whole file `name` in `dir`, or `None` when it does not exist.
/// Checked on the fd (regular, root, 0600 or stricter); more than
/// `max_len` bytes is an error.
pub fn read(
    dir: BorrowedFd<'_>,
    shown_dir: &Path,
    name: &str,
    max_len: u64,
) -> Result<Option<Vec<u8>>, StateError> {
    let shown = shown_dir.join(name);
    let (file, st) = match open_trusted_file(dir, OsStr::new(name), &shown, OFlag::empty(), 0) {
        Ok(x) => x,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(fs_err(e)),
    };
    check_private(&shown, &st)?;
    let buf = crate::base::bounded_read::read_up_to(file, st.st_size.max(0) as u64, max_len)
        .map_err(|e| err(&shown, format_args!("read: {e}")))?;
    if buf.len() as u64 > max_len {
        return Err(err(
            &shown,
            format_args!("larger than {max_len} bytes (corrupt state file)"),
        ));
    }
    Ok(Some(buf))
}

/// Atomically replace (or create) `name` in `dir` with `data`
/// ([`crate::base::atomic_file`]): write `.NAME.tmp` (0600, `O_EXCL`), fsync it,
/// rename it over `name`, fsync the directory. The caller holds the
/// file's lock.
pub fn replace(
    dir: BorrowedFd<'_>,
    shown_dir: &Path,
    name: &str,
    data: &[u8],
) -> Result<(), StateError> {
    let tmp = format!(".{name}.tmp");
    let how = Replace {
        mode: 0o600,
        temp: Temp::Fixed(&tmp),
        overwrite: true,
        fsync_dir: true,
    };
    replace_at(dir, OsStr::new(name), data, &how).map_err(|e| match e {
        ReplaceError::Sys {
            op: "fsync directory",
            err,
            ..
        } => sys(shown_dir, "fsync", err),
        ReplaceError::Sys {
            op,
            on_temp: true,
            err,
            ..
        } => sys(&shown_dir.join(&tmp), op, err),
        ReplaceError::Sys { op, err, .. } => sys(&shown_dir.join(name), op, err),
        e => err(&shown_dir.join(&tmp), e),
    })
}

/// Remove `name` from `dir` (missing is fine). The caller holds the lock.
pub fn remove(dir: BorrowedFd<'_>, shown_dir: &Path, name: &str) -> Result<(), StateError> {
    match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(sys(&shown_dir.join(name), "unlink", e)),
    }
}

/// True when `name` exists in `dir` (without following a symlink).
pub fn exists(dir: BorrowedFd<'_>, name: &str) -> bool {
    nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
    use std::time::Instant;

    /// A private tempdir opened as a directory fd. Root only: state files
    /// must be root-owned.
    pub(crate) fn dir() -> Option<(tempfile::TempDir, OwnedFd)> {
        if !nix::unistd::geteuid().is_root() {
            crate::base::testhook::skipped(
                "state::file",
                "needs root: state files must be root-owned",
            );
            return None;
        }
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let fd = nix::fcntl::open(
            d.path(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .expect("open dir");
        Some((d, fd))
    }

    /// Write a test file as a state file would be (root, 0600).
    pub(crate) fn put(p: &Path, bytes: &[u8]) {
        std::fs::write(p, bytes).expect("write");
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    const S: &str = "/run/belladonna";

    #[test]
    fn replace_and_read() {
        let Some((d, fd)) = dir() else { return };
        assert_eq!(read(fd.as_fd(), Path::new(S), "x", 10).expect("read"), None);
        replace(fd.as_fd(), Path::new(S), "x", b"hello").expect("replace");
        replace(fd.as_fd(), Path::new(S), "x", b"world").expect("replace");
        assert_eq!(
            read(fd.as_fd(), Path::new(S), "x", 10).expect("read"),
            Some(b"world".to_vec())
        );
        let m = std::fs::metadata(d.path().join("x")).expect("stat");
        assert_eq!(m.mode() & 0o7777, 0o600);
        assert!(!d.path().join(".x.tmp").exists());
        let e = read(fd.as_fd(), Path::new(S), "x", 4).expect_err("too big");
        assert!(e.to_string().contains("larger than 4 bytes"), "{e}");
    }

    #[test]
    fn stale_temp_is_replaced() {
        let Some((d, fd)) = dir() else { return };
        std::fs::write(d.path().join(".x.tmp"), b"junk").expect("write");
        replace(fd.as_fd(), Path::new(S), "x", b"ok").expect("replace");
        assert_eq!(std::fs::read(d.path().join("x")).expect("read"), b"ok");
    }

    #[test]
    fn refuses_symlink_fifo_and_loose_modes() {
        let Some((d, fd)) = dir() else { return };
        std::fs::write(d.path().join("target"), b"x").expect("write");
        symlink(d.path().join("target"), d.path().join("link")).expect("symlink");
        let e = read(fd.as_fd(), Path::new(S), "link", 10).expect_err("symlink");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        nix::unistd::mkfifo(&d.path().join("fifo"), Mode::from_bits_truncate(0o600))
            .expect("mkfifo");
        let e = read(fd.as_fd(), Path::new(S), "fifo", 10).expect_err("fifo");
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let p = d.path().join("loose");
        std::fs::write(&p, b"x").expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = read(fd.as_fd(), Path::new(S), "loose", 10).expect_err("mode");
        assert!(e.to_string().contains("must be 0600"), "{e}");
        std::os::unix::fs::chown(&p, Some(1), None).expect("chown");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let e = read(fd.as_fd(), Path::new(S), "loose", 10).expect_err("owner");
        assert!(e.to_string().contains("owned by uid 1"), "{e}");
    }

    #[test]
    fn subdir_checks() {
        let Some((d, fd)) = dir() else { return };
        let sub = ensure_subdir(fd.as_fd(), Path::new(S), "nonces").expect("mkdir");
        drop(sub);
        ensure_subdir(fd.as_fd(), Path::new(S), "nonces").expect("again");
        std::fs::set_permissions(
            d.path().join("nonces"),
            std::fs::Permissions::from_mode(0o755),
        )
        .expect("chmod");
        let e = ensure_subdir(fd.as_fd(), Path::new(S), "nonces").expect_err("mode");
        assert!(e.to_string().contains("must be 0700"), "{e}");
        symlink("/tmp", d.path().join("rate")).expect("symlink");
        let e = ensure_subdir(fd.as_fd(), Path::new(S), "rate").expect_err("link");
        assert!(e.to_string().contains("symbolic link"), "{e}");
    }

    #[test]
    fn lock_deadline() {
        let Some((_d, fd)) = dir() else { return };
        let held = lock(fd.as_fd(), Path::new(S), "x.lock", LOCK_TIMEOUT).expect("lock");
        let t0 = Instant::now();
        let e = lock(
            fd.as_fd(),
            Path::new(S),
            "x.lock",
            Duration::from_millis(150),
        )
        .expect_err("held");
        assert!(t0.elapsed() >= Duration::from_millis(150));
        assert_eq!(
            e.to_string(),
            "/run/belladonna/x.lock: lock not acquired within 150ms (another process holds it)"
        );
        drop(held);
        lock(
            fd.as_fd(),
            Path::new(S),
            "x.lock",
            Duration::from_millis(150),
        )
        .expect("free");
    }
}
