//! Reading and writing key files on disk: opened below a checked
//! directory without following links, checked on the fd (kind, owner,
//! mode), bounded reads, atomic writes; [`KeyPaths`] names the places.
#![forbid(unsafe_code)]

use super::format::KEYS_DIR_NAME;
use super::format::{KeyError, KeyErrorKind, KeyFile, MAX_KEY_FILE, with_path};
use super::{AUDIT_KEY_NAME, EPOCH_MARKER_NAME, KEK_NAME, KEYS_DIR};
use crate::base::atomic_file::{Replace, ReplaceError, Temp, replace_at};
use crate::base::secure_fs::{FileOwner, ModeRule, PrivateError, PrivateRead, read_private_at};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Who may own a key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Exactly this uid (root for host keys).
    Exactly(u32),
    /// Root or the caller (approver keys, files named on the command line).
    RootOrCaller,
}

/// Open `name` below `dir` without following symlinks and without
/// hanging on a FIFO; check kind, owner and mode on the fd; read it
/// (at most [`MAX_KEY_FILE`] bytes) and parse it
/// ([`crate::base::secure_fs::read_private_at`]).
pub fn read_key_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    shown: &Path,
    owner: Owner,
) -> Result<KeyFile, KeyError> {
    let rules = PrivateRead {
        owner: match owner {
            Owner::Exactly(u) => FileOwner::Uid(u),
            Owner::RootOrCaller => FileOwner::RootOrEuid,
        },
        // Nobody but the owner may write any key file.
        mode: ModeRule::Forbid(0o022),
        single_link: false,
        max_len: MAX_KEY_FILE as u64,
    };
    let (buf, st) = read_private_at(dir, name, &rules).map_err(|e| match e {
        PrivateError::Symlink => KeyError::new(
            KeyErrorKind::Symlink,
            Some(shown),
            "is a symbolic link (refused; key files are never followed)",
        ),
        PrivateError::Io {
            op, errno: Some(e), ..
        } if op != "read" => KeyError::io(shown, op, e),
        PrivateError::Io { op, err, .. } => {
            KeyError::new(KeyErrorKind::Io, Some(shown), format!("{op}: {err}"))
        }
        PrivateError::NotRegular => KeyError::new(
            KeyErrorKind::NotRegular,
            Some(shown),
            "not a regular file (refused)",
        ),
        PrivateError::Owner { uid } => {
            let who = match owner {
                Owner::Exactly(0) => "root".to_string(),
                Owner::Exactly(u) => format!("uid {u}"),
                Owner::RootOrCaller => "root or you".to_string(),
            };
            KeyError::new(
                KeyErrorKind::Permissions,
                Some(shown),
                format!("owned by uid {uid}, must be owned by {who} (refused)"),
            )
        }
        PrivateError::Mode { mode } => KeyError::new(
            KeyErrorKind::Permissions,
            Some(shown),
            format!("mode {mode:04o} is writable by group or others (refused)"),
        ),
        PrivateError::Links(n) => KeyError::new(
            KeyErrorKind::Permissions,
            Some(shown),
            format!("{n} hard links (refused)"),
        ),
        PrivateError::TooLarge => KeyError::new(
            KeyErrorKind::Malformed,
            Some(shown),
            format!("longer than {MAX_KEY_FILE} bytes: not a key file"),
        ),
    })?;
    let kf = KeyFile::parse(&buf).map_err(|e| with_path(e, shown))?;
    if kf.ty.is_secret() && st.st_mode & 0o077 != 0 {
        return Err(KeyError::new(
            KeyErrorKind::Permissions,
            Some(shown),
            format!(
                "mode {:04o}: a {} key must not be accessible to group or others (chmod 600; \
                 consider it exposed)",
                st.st_mode & 0o7777,
                kf.ty
            ),
        ));
    }
    Ok(kf)
}

/// Read a key file named on the command line (any directory; the file
/// itself is checked: not a symlink, regular, owned by root or the
/// caller, secret keys mode 0600 or stricter).
pub fn read_key_path(path: &Path) -> Result<KeyFile, KeyError> {
    let (dir, name) = split(path)?;
    let dfd = open_dir_plain(&dir)?;
    read_key_at(dfd.as_fd(), name, path, Owner::RootOrCaller)
}

fn split(path: &Path) -> Result<(PathBuf, &OsStr), KeyError> {
    let name = path
        .file_name()
        .ok_or_else(|| KeyError::new(KeyErrorKind::Other, Some(path), "not a file name"))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name))
}

/// Open a directory named on the command line (no ownership checks: the
/// files in it are checked one by one).
pub fn open_dir_plain(dir: &Path) -> Result<OwnedFd, KeyError> {
    nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| KeyError::io(dir, "open directory", e))
}

/// Write `data` as `name` in `dir` atomically ([`crate::base::atomic_file`]:
/// a random temporary, mode `mode`, fsync, rename, fsync the directory),
/// refused when `name` exists and `replace` is false.
pub fn write_atomic(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    shown: &Path,
    data: &[u8],
    mode: u32,
    replace: bool,
) -> Result<(), KeyError> {
    let how = Replace {
        mode,
        temp: Temp::Random,
        overwrite: replace,
        fsync_dir: true,
    };
    replace_at(dir, name, data, &how).map_err(|e| match e {
        ReplaceError::Exists => KeyError::new(
            KeyErrorKind::Exists,
            Some(shown),
            "already exists (refusing to overwrite)",
        ),
        ReplaceError::Sys {
            op: "create", err, ..
        } => KeyError::io(shown, "create temporary file", err),
        ReplaceError::Sys { op, err, .. } => KeyError::io(shown, op, err),
        ReplaceError::Write { err, .. } => {
            KeyError::new(KeyErrorKind::Io, Some(shown), format!("write: {err}"))
        }
    })
}

/// True when `name` exists in `dir` (a symlink counts; never followed).
pub fn exists_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<bool, KeyError> {
    match nix::sys::stat::fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(_) => Ok(true),
        Err(nix::Error::ENOENT) => Ok(false),
        Err(e) => Err(KeyError::io(Path::new(name), "stat", e)),
    }
}

/// Where host keys and the epoch marker live, and who must own them.
#[derive(Debug, Clone)]
pub struct KeyPaths {
    /// Host keys (`/etc/belladonna/keys`).
    pub keys_dir: PathBuf,
    /// Persistent state holding the epoch marker (`/var/lib/belladonna`).
    pub lib_dir: PathBuf,
    /// Owner of host key files and the marker (root).
    pub owner: u32,
    /// Open the directories with `secure_fs` (every component root-owned,
    /// not group/world-writable). Only unit tests turn this off.
    pub trusted: bool,
}

impl KeyPaths {
    /// The installed locations.
    pub fn system() -> Self {
        KeyPaths {
            keys_dir: PathBuf::from(KEYS_DIR),
            lib_dir: PathBuf::from(crate::base::paths::LIB_DIR),
            owner: 0,
            trusted: true,
        }
    }

    /// The audit key's path (for messages).
    pub fn audit_key_path(&self) -> PathBuf {
        self.keys_dir.join(AUDIT_KEY_NAME)
    }

    /// The KEK's path.
    pub fn kek_path(&self) -> PathBuf {
        self.keys_dir.join(KEK_NAME)
    }

    /// The epoch marker's path.
    pub fn marker_path(&self) -> PathBuf {
        self.lib_dir.join(EPOCH_MARKER_NAME)
    }

    pub(super) fn open_dir(&self, dir: &Path, create: bool) -> Result<OwnedFd, KeyError> {
        if self.trusted {
            if create {
                crate::base::secure_fs::ensure_trusted_dir(dir, 0o700)
            } else {
                crate::base::secure_fs::open_trusted_dir(dir)
            }
            .map_err(KeyError::sfs)
        } else {
            if create && !dir.exists() {
                std::fs::create_dir(dir).map_err(|e| {
                    KeyError::new(KeyErrorKind::Io, Some(dir), format!("mkdir: {e}"))
                })?;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(
                    |e| KeyError::new(KeyErrorKind::Io, Some(dir), format!("chmod: {e}")),
                )?;
            }
            open_dir_plain(dir)
        }
    }

    /// The keys directory (created 0700 when `create`).
    pub fn keys_dir_fd(&self, create: bool) -> Result<OwnedFd, KeyError> {
        self.open_dir(&self.keys_dir, create)
    }

    /// The host's keys directory opened below `conf`, the policy
    /// directory (`CONF_DIR`) the caller already opened with the
    /// secure_fs checks: the same checks on `keys` itself, without
    /// walking the path from `/` again. Only for [`KeyPaths::system`]'s
    /// directory; other paths are opened by path.
    pub fn keys_dir_fd_below(&self, conf: BorrowedFd<'_>) -> Result<OwnedFd, KeyError> {
        if !self.trusted || self.keys_dir != Path::new(KEYS_DIR) {
            return self.keys_dir_fd(false);
        }
        crate::base::secure_fs::open_subdir(conf, OsStr::new(KEYS_DIR_NAME), &self.keys_dir)
            .map_err(KeyError::sfs)
    }

    /// Read a host key file from the keys directory (owner: `self.owner`).
    pub fn read_host_key(&self, dir: BorrowedFd<'_>, name: &str) -> Result<KeyFile, KeyError> {
        read_key_at(
            dir,
            OsStr::new(name),
            &self.keys_dir.join(name),
            Owner::Exactly(self.owner),
        )
    }
}

/// 32 bytes from the kernel's random number generator.
pub fn random32() -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let mut k = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut k[..]).map_err(|e| {
        KeyError::new(
            KeyErrorKind::Other,
            None,
            format!("random number generator failed: {e}"),
        )
    })?;
    Ok(k)
}

/// Write a key file to an arbitrary path (exclusive create, mode `mode`).
pub fn write_new_file(path: &Path, data: &[u8], mode: u32) -> Result<(), KeyError> {
    let (dir, name) = split(path)?;
    let dfd = open_dir_plain(&dir)?;
    write_atomic(dfd.as_fd(), name, path, data, mode, false)
}
