//! The decision: (policy, request, file identities) -> allow or deny.
//! Pure: no I/O, no clock, no globals. Everything it needs is passed in,
//! so it is unit-tested exhaustively without root.
#![forbid(unsafe_code)]

use crate::policy::model::{Auth, CommandSpec, Policy, Principal, Rule};
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
}
