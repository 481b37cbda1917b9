//! Safe opening of root-owned configuration, log and state files.
//!
//! Every path is walked from `/` one component at a time with
//! `O_NOFOLLOW`, and each directory is checked on its open fd (never by
//! path): owned by root, not writable by group or others. This is sudo's
//! rule for sudoers, applied to every file bdexec trusts.
#![forbid(unsafe_code)]

use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{FileStat, Mode, fstat, mkdirat};
use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Why a trusted file or directory was refused.
#[derive(Debug)]
pub enum SecureFsError {
    /// The path is not absolute or has `..`/`.` components.
    BadPath(PathBuf),
    /// A system call failed.
    Io {
        path: PathBuf,
        op: &'static str,
        err: nix::Error,
    },
    /// A component is a symbolic link.
    Symlink(PathBuf),
    /// Wrong owner (must be root).
    Owner { path: PathBuf, uid: u32 },
    /// Writable by group or others.
    Writable { path: PathBuf, mode: u32 },
    /// Not the expected kind of file.
    Kind {
        path: PathBuf,
        expected: &'static str,
    },
}

impl fmt::Display for SecureFsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecureFsError::BadPath(p) => write!(f, "{}: not a clean absolute path", p.display()),
            SecureFsError::Io { path, op, err } => {
                write!(f, "{}: {op}: {}", path.display(), err.desc())
            }
            SecureFsError::Symlink(p) => write!(f, "{}: is a symbolic link (refused)", p.display()),
            SecureFsError::Owner { path, uid } => {
                write!(
                    f,
                    "{}: owned by uid {uid}, must be owned by root",
                    path.display()
                )
            }
            SecureFsError::Writable { path, mode } => write!(
                f,
                "{}: mode {:04o} is writable by group or others (must not be)",
                path.display(),
                mode & 0o7777
            ),
            SecureFsError::Kind { path, expected } => {
                write!(f, "{}: not a {expected}", path.display())
            }
        }
    }
}

impl std::error::Error for SecureFsError {}

impl SecureFsError {
    /// The errno behind an I/O failure, if any.
    pub fn errno(&self) -> Option<nix::Error> {
        match self {
            SecureFsError::Io { err, .. } => Some(*err),
            _ => None,
        }
    }

    /// True when the failure is "does not exist".
    pub fn is_not_found(&self) -> bool {
        self.errno() == Some(nix::Error::ENOENT)
    }
}

fn io(path: &Path, op: &'static str, err: nix::Error) -> SecureFsError {
    SecureFsError::Io {
        path: path.to_path_buf(),
        op,
        err,
    }
}

/// Check that `st` is root-owned and not writable by group or others.
pub fn check_trusted(path: &Path, st: &FileStat) -> Result<(), SecureFsError> {
    if st.st_uid != 0 {
        return Err(SecureFsError::Owner {
            path: path.to_path_buf(),
            uid: st.st_uid,
        });
    }
    if st.st_mode & 0o022 != 0 {
        return Err(SecureFsError::Writable {
            path: path.to_path_buf(),
            mode: st.st_mode,
        });
    }
    Ok(())
}

fn is_dir(st: &FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

fn is_reg(st: &FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFREG
}

/// Open one component below `dir` as a directory, refusing symlinks,
/// and check it is trusted.
pub fn open_subdir(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    shown: &Path,
) -> Result<OwnedFd, SecureFsError> {
    single_component(name, shown)?;
    let fd = openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        nix::Error::ELOOP | nix::Error::ENOTDIR => symlink_or_kind(dir, name, shown),
        e => io(shown, "open", e),
    })?;
    let st = fstat(&fd).map_err(|e| io(shown, "fstat", e))?;
    if !is_dir(&st) {
        return Err(SecureFsError::Kind {
            path: shown.to_path_buf(),
            expected: "directory",
        });
    }
    check_trusted(shown, &st)?;
    Ok(fd)
}

/// `openat` with a multi-component name would pass through directories
/// nobody checked; only single components are accepted.
fn single_component(name: &OsStr, shown: &Path) -> Result<(), SecureFsError> {
    let b = name.as_bytes();
    if b.is_empty() || b.contains(&b'/') || b == b"." || b == b".." {
        return Err(SecureFsError::BadPath(shown.to_path_buf()));
    }
    Ok(())
}

fn symlink_or_kind(dir: BorrowedFd<'_>, name: &OsStr, shown: &Path) -> SecureFsError {
    match nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
            SecureFsError::Symlink(shown.to_path_buf())
        }
        _ => SecureFsError::Kind {
            path: shown.to_path_buf(),
            expected: "directory",
        },
    }
}

fn components(path: &Path) -> Result<Vec<&OsStr>, SecureFsError> {
    let mut out = Vec::new();
    let mut comps = path.components();
    if comps.next() != Some(Component::RootDir) {
        return Err(SecureFsError::BadPath(path.to_path_buf()));
    }
    for c in comps {
        match c {
            Component::Normal(n) => out.push(n),
            _ => return Err(SecureFsError::BadPath(path.to_path_buf())),
        }
    }
    Ok(out)
}

/// `/` for a walk: opened once per process and kept (close-on-exec, so
/// a command never inherits it), checked at every walk on the kept fd
/// (root-owned, not group/world-writable, and still the directory first
/// opened: the monitor closes every fd it does not name, and a number
/// closed under us may since name another file: tests/monitor.rs fails
/// without that check, the exit record's walk starting from a stranger).
/// One `fstat` per walk instead of an open, an `fstat` and a close.
enum Root {
    Kept(BorrowedFd<'static>),
    Fresh(OwnedFd),
}

impl Root {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Root::Kept(fd) => *fd,
            Root::Fresh(fd) => fd.as_fd(),
        }
    }
}

fn root_dir() -> Result<Root, SecureFsError> {
    static ROOT: std::sync::OnceLock<(OwnedFd, u64, u64)> = std::sync::OnceLock::new();
    let root = Path::new("/");
    if let Some((fd, dev, ino)) = ROOT.get()
        && let Ok(st) = fstat(fd)
        && is_dir(&st)
        && (st.st_dev, st.st_ino) == (*dev, *ino)
    {
        check_trusted(root, &st)?;
        return Ok(Root::Kept(fd.as_fd()));
    }
    let fd = nix::fcntl::open(
        root,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io(root, "open", e))?;
    let st = fstat(&fd).map_err(|e| io(root, "fstat", e))?;
    check_trusted(root, &st)?;
    if ROOT.get().is_some() {
        // The kept one no longer names `/`: this walk uses its own.
        return Ok(Root::Fresh(fd));
    }
    // A concurrent first walk may have kept its own: either is `/`.
    let (fd, _, _) = ROOT.get_or_init(|| (fd, st.st_dev, st.st_ino));
    Ok(Root::Kept(fd.as_fd()))
}

/// Open an absolute directory path, checking `/` and every component on
/// the way (root-owned, not group/world-writable, no symlinks).
pub fn open_trusted_dir(path: &Path) -> Result<OwnedFd, SecureFsError> {
    let parts = components(path)?;
    let root = root_dir()?;
    let mut fd: Option<OwnedFd> = None;
    let mut shown = PathBuf::from("/");
    for p in parts {
        shown.push(p);
        let below = fd.as_ref().map_or(root.fd(), |f| f.as_fd());
        fd = Some(open_subdir(below, p, &shown)?);
    }
    match (fd, root) {
        (Some(fd), _) | (None, Root::Fresh(fd)) => Ok(fd),
        (None, Root::Kept(fd)) => nix::unistd::dup(fd).map_err(|e| io(Path::new("/"), "dup", e)),
    }
}

/// Like [`open_trusted_dir`], but creates the last component with `mode`
/// when it is missing (its parent must already be trusted).
pub fn ensure_trusted_dir(path: &Path, mode: u32) -> Result<OwnedFd, SecureFsError> {
    match open_trusted_dir(path) {
        Err(e) if e.is_not_found() => {}
        other => return other,
    }
    let parent = path
        .parent()
        .ok_or_else(|| SecureFsError::BadPath(path.to_path_buf()))?;
    let name = path
        .file_name()
        .ok_or_else(|| SecureFsError::BadPath(path.to_path_buf()))?;
    let pfd = open_trusted_dir(parent)?;
    match mkdirat(
        pfd.as_fd(),
        name,
        Mode::from_bits_truncate(mode as libc::mode_t),
    ) {
        Ok(()) | Err(nix::Error::EEXIST) => {}
        Err(e) => return Err(io(path, "mkdir", e)),
    }
    open_subdir(pfd.as_fd(), name, path)
}

/// Open a regular file below a trusted directory fd with `O_NOFOLLOW`,
/// and check it on the fd: regular, root-owned, not group/world-writable.
/// `extra` adds flags (e.g. `O_RDWR | O_APPEND | O_CREAT`); `O_CLOEXEC`
/// and `O_NOFOLLOW` are always set. `create_mode` is used with `O_CREAT`.
pub fn open_trusted_file(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    shown: &Path,
    extra: OFlag,
    create_mode: u32,
) -> Result<(File, FileStat), SecureFsError> {
    single_component(name, shown)?;
    let flags = extra | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK;
    let flags = if extra.intersects(OFlag::O_WRONLY | OFlag::O_RDWR) {
        flags
    } else {
        flags | OFlag::O_RDONLY
    };
    let fd = openat(
        dir,
        name,
        flags,
        Mode::from_bits_truncate(create_mode as libc::mode_t),
    )
    .map_err(|e| match e {
        nix::Error::ELOOP => SecureFsError::Symlink(shown.to_path_buf()),
        e => io(shown, "open", e),
    })?;
    let st = fstat(&fd).map_err(|e| io(shown, "fstat", e))?;
    if !is_reg(&st) {
        return Err(SecureFsError::Kind {
            path: shown.to_path_buf(),
            expected: "regular file",
        });
    }
    check_trusted(shown, &st)?;
    // O_NONBLOCK only served to not hang on a FIFO planted in place of the
    // file; regular files ignore it, but clear it for clarity. F_SETFL
    // sets exactly the changeable status flags (O_APPEND, O_ASYNC,
    // O_DIRECT, O_NOATIME, O_NONBLOCK), and the open set no more of them
    // than `extra` asked for: one call, no F_GETFL first.
    let keep = extra & (OFlag::O_APPEND | OFlag::O_ASYNC | OFlag::O_DIRECT | OFlag::O_NOATIME);
    nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFL(keep))
        .map_err(|e| io(shown, "fcntl", e))?;
    Ok((File::from(fd), st))
}

/// Split an absolute file path into its (trusted) directory and name and
/// open it read-only with [`open_trusted_file`].
pub fn open_trusted_path(path: &Path) -> Result<(File, FileStat), SecureFsError> {
    let parent = path
        .parent()
        .ok_or_else(|| SecureFsError::BadPath(path.to_path_buf()))?;
    let name = path
        .file_name()
        .ok_or_else(|| SecureFsError::BadPath(path.to_path_buf()))?;
    let dir = open_trusted_dir(parent)?;
    open_trusted_file(dir.as_fd(), name, path, OFlag::empty(), 0)
}

/// A file name is acceptable inside a trusted directory listing.
pub fn plain_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    !b.is_empty() && !b.contains(&b'/') && b[0] != b'.'
}

/// Who must own a file read with [`read_private_at`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOwner {
    /// Exactly this uid (root for host files).
    Uid(u32),
    /// Root or the effective uid (files named on the command line).
    RootOrEuid,
    /// Anyone (a caller's own file, opened with the caller's ids).
    Any,
}

/// What the permission bits of a private file must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeRule {
    /// None of these bits may be set (e.g. `0o022`, `0o077`).
    Forbid(u32),
    /// Exactly these permission bits (e.g. `0o600`).
    Exactly(u32),
}

/// The checks of [`read_private_at`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrivateRead {
    pub owner: FileOwner,
    pub mode: ModeRule,
    /// Refuse a file with more than one hard link.
    pub single_link: bool,
    /// Largest size read; a longer file is [`PrivateError::TooLarge`].
    pub max_len: u64,
}

/// Why a private file was not read. The checks run in this order:
/// open, kind, owner, mode, links, size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrivateError {
    /// The last component is a symbolic link (never followed).
    Symlink,
    /// open, fstat or read failed (`ENOENT` included: see
    /// [`PrivateError::is_not_found`]).
    Io {
        op: &'static str,
        err: String,
        errno: Option<nix::Error>,
    },
    /// Not a regular file.
    NotRegular,
    /// Owned by `uid`, not by the required owner.
    Owner { uid: u32 },
    /// Its permission bits (`mode & 0o7777`) break the [`ModeRule`].
    Mode { mode: u32 },
    /// It has `n` hard links.
    Links(u64),
    /// Longer than `max_len`.
    TooLarge,
}

impl PrivateError {
    /// True when the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            PrivateError::Io {
                errno: Some(nix::Error::ENOENT),
                ..
            }
        )
    }
}

/// The one secure read of a private file: open `name` below `dir` with
/// `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC` (no symlink followed,
/// no hang on a FIFO, no controlling terminal acquired), check on the fd
/// that it is a regular file, its owner, its mode and (optionally) its
/// link count, then read at most `max_len` bytes. Used for key files, the
/// epoch marker, the sealed KEK, password timestamps and token files.
pub fn read_private_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    rules: &PrivateRead,
) -> Result<(zeroize::Zeroizing<Vec<u8>>, FileStat), PrivateError> {
    let (fd, st) = open_private_at(dir, name, rules)?;
    read_private_fd(fd, &st, rules.max_len).map(|buf| (buf, st))
}

/// The read half of [`read_private_at`]: at most `max_len` bytes of a
/// file [`open_private_at`] opened and checked (`st`: its fstat).
pub fn read_private_fd(
    fd: OwnedFd,
    st: &FileStat,
    max_len: u64,
) -> Result<zeroize::Zeroizing<Vec<u8>>, PrivateError> {
    // Sized once from fstat: no doubling buffer (and no copies of a
    // secret left behind by its reallocations).
    let size = (st.st_size.max(0) as u64).min(max_len);
    let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(size as usize + 1));
    std::io::Read::read_to_end(
        &mut std::io::Read::take(File::from(fd), max_len.saturating_add(1)),
        &mut buf,
    )
    .map_err(|e| PrivateError::Io {
        op: "read",
        err: e.to_string(),
        errno: None,
    })?;
    if buf.len() as u64 > max_len {
        return Err(PrivateError::TooLarge);
    }
    Ok(buf)
}

/// [`read_private_at`] up to the read: the open fd, checked, and its
/// fstat (taken before anything is read). A file longer than `max_len`
/// is [`PrivateError::TooLarge`].
pub fn open_private_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    rules: &PrivateRead,
) -> Result<(OwnedFd, FileStat), PrivateError> {
    let sys = |op, e: nix::Error| PrivateError::Io {
        op,
        err: e.desc().to_string(),
        errno: Some(e),
    };
    let fd = openat(
        dir,
        name,
        OFlag::O_RDONLY
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_NOCTTY
            | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        nix::Error::ELOOP => PrivateError::Symlink,
        e => sys("open", e),
    })?;
    let st = fstat(&fd).map_err(|e| sys("fstat", e))?;
    if !is_reg(&st) {
        return Err(PrivateError::NotRegular);
    }
    let owner_ok = match rules.owner {
        FileOwner::Uid(u) => st.st_uid == u,
        FileOwner::RootOrEuid => st.st_uid == 0 || st.st_uid == nix::unistd::geteuid().as_raw(),
        FileOwner::Any => true,
    };
    if !owner_ok {
        return Err(PrivateError::Owner { uid: st.st_uid });
    }
    let mode = st.st_mode & 0o7777;
    let mode_ok = match rules.mode {
        ModeRule::Forbid(bits) => mode & bits == 0,
        ModeRule::Exactly(m) => mode == m,
    };
    if !mode_ok {
        return Err(PrivateError::Mode { mode });
    }
    if rules.single_link && st.st_nlink != 1 {
        return Err(PrivateError::Links(st.st_nlink));
    }
    if st.st_size.max(0) as u64 > rules.max_len {
        return Err(PrivateError::TooLarge);
    }
    Ok((fd, st))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// The descriptor `open_trusted_file` returns has exactly the status
    /// flags the caller asked for: O_APPEND kept, O_NONBLOCK (used only
    /// to not hang on a planted FIFO) cleared, with one F_SETFL.
    #[test]
    fn a_trusted_file_keeps_append_and_loses_nonblock() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED (needs root: a trusted file must be root's)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(b"x")
            .unwrap();
        let dfd = File::open(dir.path()).unwrap();
        let flags_of = |f: &File| {
            OFlag::from_bits_truncate(nix::fcntl::fcntl(f, nix::fcntl::FcntlArg::F_GETFL).unwrap())
        };
        let name = OsStr::new("f");
        let (ro, _) = open_trusted_file(dfd.as_fd(), name, &path, OFlag::empty(), 0).unwrap();
        let fl = flags_of(&ro);
        assert!(!fl.contains(OFlag::O_NONBLOCK), "{fl:?}");
        assert!(!fl.contains(OFlag::O_APPEND), "{fl:?}");
        let extra = OFlag::O_RDWR | OFlag::O_APPEND;
        let (rw, _) = open_trusted_file(dfd.as_fd(), name, &path, extra, 0).unwrap();
        let fl = flags_of(&rw);
        assert!(!fl.contains(OFlag::O_NONBLOCK), "{fl:?}");
        assert!(fl.contains(OFlag::O_APPEND | OFlag::O_RDWR), "{fl:?}");
    }
}
