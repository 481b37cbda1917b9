//! Command resolution: find the file, open it once (`O_PATH`), check it on
//! that fd, and keep the fd. The decision compares the name the caller
//! used (base name, and the directory by identity, opened first and the
//! file opened from it) and the fd's device and inode with the policy's
//! paths; the digest pin is computed by reopening the same fd; the exec
//! runs the same fd. No path is looked up twice.
#![forbid(unsafe_code)]

use crate::request::{FileId, FileIds, Invoked, split_name};
use nix::fcntl::{OFlag, open, openat};
use nix::sys::stat::{FileStat, Mode, fstat, stat};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Why a command could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    Empty,
    NotFound(String),
    Io(String, nix::Error),
    NotRegular(String),
    NotExecutable(String),
    Writable(String, u32),
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::Empty => write!(f, "empty command name"),
            ResolveError::NotFound(c) => write!(f, "{c}: command not found"),
            ResolveError::Io(c, e) => write!(f, "{c}: {}", e.desc()),
            ResolveError::NotRegular(c) => write!(f, "{c}: not a regular file"),
            ResolveError::NotExecutable(c) => write!(f, "{c}: not executable"),
            ResolveError::Writable(c, m) => write!(
                f,
                "{c}: refusing a command that is writable by group or others (mode {:04o})",
                m & 0o7777
            ),
        }
    }
}

/// The command, opened and checked.
#[derive(Debug)]
pub struct Resolved {
    /// `O_PATH` fd of the file (close-on-exec).
    pub fd: OwnedFd,
    /// Absolute path it was found at, as named (not canonicalised): the
    /// decision compares its base name with the rule's; messages and the
    /// audit record show it.
    pub path: PathBuf,
    /// Identity of the directory the path names (symlinks followed).
    pub dir: FileId,
    /// Identity of the file.
    pub id: FileId,
}

impl Resolved {
    /// The command as the decision sees it.
    pub fn invoked(&self) -> Invoked<'_> {
        Invoked {
            path: &self.path,
            dir: self.dir,
            file: self.id,
        }
    }
}

fn shown(p: &Path) -> String {
    crate::base::escape::display(p.as_os_str().as_bytes())
}

fn file_id(st: &FileStat) -> FileId {
    FileId {
        dev: st.st_dev,
        ino: st.st_ino,
    }
}

/// Open the directory part of `path`, then the base name from that
/// directory's fd: the file is an entry (or the target of a symlink
/// entry) of exactly the directory whose identity is recorded, with no
/// second lookup of the directory part in between.
fn open_checked(path: &Path) -> Result<Resolved, ResolveError> {
    let not_found = |e| match e {
        nix::Error::ENOENT | nix::Error::ENOTDIR => ResolveError::NotFound(shown(path)),
        e => ResolveError::Io(shown(path), e),
    };
    // A path ending in '/', "." or ".." names a directory, not a command.
    let (dir_path, name) = split_name(path).ok_or_else(|| ResolveError::NotRegular(shown(path)))?;
    let dir = open(
        dir_path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(not_found)?;
    let dir_st = fstat(&dir).map_err(|e| ResolveError::Io(shown(path), e))?;
    let fd =
        openat(&dir, name, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).map_err(not_found)?;
    let st = fstat(&fd).map_err(|e| ResolveError::Io(shown(path), e))?;
    check_file(path, &st)?;
    Ok(Resolved {
        fd,
        path: path.to_path_buf(),
        dir: file_id(&dir_st),
        id: file_id(&st),
    })
}

fn check_file(path: &Path, st: &FileStat) -> Result<(), ResolveError> {
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(ResolveError::NotRegular(shown(path)));
    }
    if st.st_mode & 0o111 == 0 {
        return Err(ResolveError::NotExecutable(shown(path)));
    }
    let world_w = st.st_mode & 0o002 != 0;
    let group_w = st.st_mode & 0o020 != 0 && st.st_gid != 0;
    if world_w || group_w {
        return Err(ResolveError::Writable(shown(path), st.st_mode));
    }
    Ok(())
}

/// Resolve `cmd`: a name containing '/' is used as given (relative to
/// `cwd` when relative); a bare name is searched in `secure_path` only,
/// never in the caller's PATH.
pub fn resolve(
    cmd: &OsStr,
    secure_path: &[PathBuf],
    cwd: Option<&Path>,
) -> Result<Resolved, ResolveError> {
    let bytes = cmd.as_bytes();
    if bytes.is_empty() {
        return Err(ResolveError::Empty);
    }
    if bytes.contains(&b'/') {
        let p = Path::new(cmd);
        let full = match (p.is_absolute(), cwd) {
            (true, _) => p.to_path_buf(),
            (false, Some(c)) => c.join(p),
            (false, None) => return Err(ResolveError::NotFound(shown(p))),
        };
        return open_checked(&full);
    }
    let mut last = None;
    for dir in secure_path {
        match open_checked(&dir.join(cmd)) {
            Ok(r) => return Ok(r),
            Err(ResolveError::NotFound(_)) => {}
            // Keep searching (as execvp does), but report the first real
            // problem if nothing usable is found.
            Err(e) => {
                last.get_or_insert(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| ResolveError::NotFound(crate::base::escape::display(bytes))))
}

/// BLAKE3 of the file behind an `O_PATH` fd, read through a fresh
/// read-only open of that same fd (checked to be the same inode).
pub fn digest_fd(r: &Resolved) -> Result<[u8; 32], ResolveError> {
    let proc_path = format!("/proc/self/fd/{}", r.fd.as_raw_fd());
    let fd = open(
        proc_path.as_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ResolveError::Io(shown(&r.path), e))?;
    let st = fstat(&fd).map_err(|e| ResolveError::Io(shown(&r.path), e))?;
    if (FileId {
        dev: st.st_dev,
        ino: st.st_ino,
    }) != r.id
    {
        return Err(ResolveError::Io(shown(&r.path), nix::Error::ESTALE));
    }
    let mut f = std::fs::File::from(fd);
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(|e| {
            ResolveError::Io(
                shown(&r.path),
                nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            )
        })?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(*h.finalize().as_bytes())
}

/// File identities of policy paths by `stat` (following symlinks, as the
/// policy names files), memoised for the duration of one call (an
/// ordered map: a call asks about a few paths, and a hash map's random
/// keys would cost a getrandom on every call).
#[derive(Default)]
pub struct StatFileIds {
    memo: RefCell<BTreeMap<PathBuf, Option<FileId>>>,
}

impl FileIds for StatFileIds {
    fn id_of(&self, path: &Path) -> Option<FileId> {
        if let Some(v) = self.memo.borrow().get(path) {
            return *v;
        }
        let v = stat(path).ok().map(|st| FileId {
            dev: st.st_dev,
            ino: st.st_ino,
        });
        self.memo.borrow_mut().insert(path.to_path_buf(), v);
        v
    }

    /// Open `dir` (following symlinks), check it is a directory owned by
    /// root without group or other write permission, then lstat `name` in
    /// it through the open fd: a regular file only (a symlink in a command
    /// directory leads out of it and is refused).
    fn dir_entry(&self, dir: &Path, name: &OsStr) -> Option<FileId> {
        use nix::fcntl::AtFlags;
        use nix::sys::stat::fstatat;
        let fd = open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let d = fstat(&fd).ok()?;
        if d.st_uid != 0 || d.st_mode & 0o022 != 0 {
            return None;
        }
        let st = fstatat(&fd, name, AtFlags::AT_SYMLINK_NOFOLLOW).ok()?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return None;
        }
        Some(FileId {
            dev: st.st_dev,
            ino: st.st_ino,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_in_secure_path_only() {
        let sp = vec![
            PathBuf::from("/nonexistent"),
            PathBuf::from("/bin"),
            PathBuf::from("/usr/bin"),
        ];
        let r = resolve(OsStr::new("sh"), &sp, None).expect("sh");
        assert!(r.path.ends_with("sh"));
        assert!(matches!(
            resolve(OsStr::new("sh"), &[], None),
            Err(ResolveError::NotFound(_))
        ));
        assert!(matches!(
            resolve(OsStr::new(""), &sp, None),
            Err(ResolveError::Empty)
        ));
    }

    #[test]
    fn refuses_directories_and_writable() {
        assert!(matches!(
            resolve(OsStr::new("/usr"), &[], None),
            Err(ResolveError::NotRegular(_))
        ));
        let d = tempfile::tempdir().expect("tmp");
        let p = d.path().join("x");
        std::fs::write(&p, b"#!/bin/sh\n").expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o757)).expect("chmod");
        assert!(matches!(
            resolve(p.as_os_str(), &[], None),
            Err(ResolveError::Writable(..))
        ));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(
            resolve(p.as_os_str(), &[], None),
            Err(ResolveError::NotExecutable(..))
        ));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let r = resolve(p.as_os_str(), &[], None).expect("ok");
        assert_eq!(
            digest_fd(&r).expect("digest"),
            *blake3::hash(b"#!/bin/sh\n").as_bytes()
        );
    }

    #[test]
    fn one_file_two_paths() {
        let ids = StatFileIds::default();
        let a = resolve(OsStr::new("/bin/sh"), &[], None).expect("sh");
        assert_eq!(ids.id_of(Path::new("/bin/sh")), Some(a.id));
        assert_eq!(ids.id_of(Path::new("/bin")), Some(a.dir));
        assert_eq!(ids.id_of(Path::new("/no/such")), None);
    }

    /// A command directory: plain files only, in a directory owned by root
    /// that no one else can write.
    #[test]
    fn dir_entry_refuses_symlinks_and_writable_directories() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().expect("tmp");
        let dir = d.path().join("plugins");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(dir.join("check_a"), "#!/bin/sh\n").expect("write");
        std::os::unix::fs::symlink("/bin/sh", dir.join("link")).expect("symlink");
        std::fs::create_dir(dir.join("sub")).expect("mkdir");
        let mode = |m| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(m));
        mode(0o755).expect("chmod");
        let ids = StatFileIds::default();
        let want = ids.id_of(&dir.join("check_a"));
        let root = nix::unistd::geteuid().is_root();
        let got = ids.dir_entry(&dir, OsStr::new("check_a"));
        if root {
            assert_eq!(got, want);
        } else {
            // Not owned by root: nothing in it matches.
            assert_eq!(got, None);
        }
        assert_eq!(ids.dir_entry(&dir, OsStr::new("link")), None);
        assert_eq!(ids.dir_entry(&dir, OsStr::new("sub")), None);
        assert_eq!(ids.dir_entry(&dir, OsStr::new("missing")), None);
        for m in [0o775, 0o757, 0o777] {
            mode(m).expect("chmod");
            assert_eq!(ids.dir_entry(&dir, OsStr::new("check_a")), None, "{m:o}");
        }
    }

    /// A symlink keeps its own name and directory; the file is its target.
    #[test]
    fn symlink_is_named_as_called() {
        let d = tempfile::tempdir().expect("tmp");
        let link = d.path().join("vim");
        std::os::unix::fs::symlink("/bin/sh", &link).expect("symlink");
        let r = resolve(link.as_os_str(), &[], None).expect("link");
        let ids = StatFileIds::default();
        assert_eq!(r.path, link);
        assert_eq!(Some(r.id), ids.id_of(Path::new("/bin/sh")));
        assert_eq!(Some(r.dir), ids.id_of(d.path()));
        assert_ne!(Some(r.dir), ids.id_of(Path::new("/bin")));
        assert_eq!(r.invoked().path, link.as_path());
        // Relative names resolve against the working directory.
        let r = resolve(OsStr::new("./vim"), &[], Some(d.path())).expect("relative");
        assert_eq!(Some(r.dir), ids.id_of(d.path()));
        for dirlike in ["/usr/bin/", "/usr/bin/.", "/usr/bin/.."] {
            assert!(
                matches!(
                    resolve(OsStr::new(dirlike), &[], None),
                    Err(ResolveError::NotRegular(_))
                ),
                "{dirlike}"
            );
        }
    }
}
