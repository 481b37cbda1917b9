//! The request vocabulary: who asks (Caller), as whom (Target), for which
//! command (Invoked, by name and file identity: FileId, FileIds) with
//! which arguments (Request). Pure data and path arithmetic: no I/O, no
//! policy. The lowest layer of the decision: decide, policy, identity and
//! exec all import it, and it imports nothing of the crate.
#![forbid(unsafe_code)]

use std::path::Path;

/// A file's identity: device and inode, as sudo compares commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

/// Looks up the identity of a path named in the policy (stat, following
/// symlinks). `None` when it does not exist. bdexec passes a memoising
/// stat; tests pass a map.
pub trait FileIds {
    fn id_of(&self, path: &Path) -> Option<FileId>;

    /// For a command directory: the identity of the entry `name` directly
    /// in `dir` when that entry is a regular file (not a symlink: lstat)
    /// and `dir` is owned by root and writable by no one else (no group or
    /// other write bit); `None` otherwise. The default answers `None`, so
    /// an implementation that cannot check this matches no directory.
    fn dir_entry(&self, _dir: &Path, _name: &std::ffi::OsStr) -> Option<FileId> {
        None
    }
}

/// The caller, as the kernel reports it (names via NSS where they exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
    /// User name; `None` when the uid has no passwd entry.
    pub name: Option<String>,
    /// Every group id the process has: the primary gid first, then the
    /// supplementary groups.
    pub gids: Vec<u32>,
    /// Names of those groups that have one.
    pub group_names: Vec<String>,
}

/// The account a command would run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub uid: u32,
    pub gid: u32,
    pub name: String,
    /// The target's current groups (primary gid first, then its
    /// supplementary groups from NSS): what `run_as = ["%group"]` is
    /// checked against, and exactly the groups the command gets.
    pub gids: Vec<u32>,
    /// Names of those groups that have one.
    pub group_names: Vec<String>,
}

/// The command as the caller named it: the path after `secure_path`
/// resolution (not canonicalised: a symlink keeps its own name), the
/// directory that path names and the file it opened, by identity.
///
/// An allow rule matches only if the rule's path has the same base name,
/// its directory is the same directory (symlinks in the directory part
/// followed, so `/bin/ls` and `/usr/bin/ls` on merged /usr are one entry)
/// and it names the same file: the comparison `sudo` makes (base name,
/// canonical parent directory, device and inode). One inode often has
/// several personalities chosen by its name (vim/rview, bzip2/bunzip2,
/// systemctl/reboot, busybox applets): the name the caller used must be
/// the rule's. A deny rule matches by the file alone (any name of a
/// denied file is denied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invoked<'a> {
    /// The path as resolved (absolute).
    pub path: &'a Path,
    /// Identity of the directory `path` names (the part before its last
    /// '/', symlinks followed).
    pub dir: FileId,
    /// Identity of the opened file (a final symlink followed).
    pub file: FileId,
}

impl<'a> Invoked<'a> {
    /// The identities of `path`'s directory and file through `files`, for
    /// callers that name a path without opening it (the privilege diff,
    /// tests). `None` when either does not exist.
    pub fn named(path: &'a Path, files: &dyn FileIds) -> Option<Invoked<'a>> {
        let (dir, _) = split_name(path)?;
        Some(Invoked {
            path,
            dir: files.id_of(dir)?,
            file: files.id_of(path)?,
        })
    }
}

/// A path's directory part and base name, split at its last '/' (the
/// directory of `/x` is `/`). `None` when the path has no '/' or its base
/// name is empty, `.` or `..` (it names no file of a directory).
pub fn split_name(path: &Path) -> Option<(&Path, &std::ffi::OsStr)> {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let b = path.as_os_str().as_bytes();
    let i = b.iter().rposition(|&c| c == b'/')?;
    let name = &b[i + 1..];
    if name.is_empty() || name == b"." || name == b".." {
        return None;
    }
    let dir = if i == 0 { &b[..1] } else { &b[..i] };
    Some((Path::new(OsStr::from_bytes(dir)), OsStr::from_bytes(name)))
}

/// One request to decide: who asks, as whom, which command (the name the
/// caller used and the opened file, by identity), with which arguments
/// (argv[1..], raw bytes).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub caller: &'a Caller,
    pub target: &'a Target,
    pub command: Invoked<'a>,
    pub args: &'a [Vec<u8>],
}
