//! The memo of root's group list (docs/performance.md "The group memo").
//!
//! The command gets its target's groups as NSS reports them
//! (`getgrouplist`, then a name for each gid). On Debian, nsswitch.conf
//! says `group: files systemd`, and glibc asks every source for a group
//! list, so every call loaded libnss_systemd with libcap and libm only
//! for nss-systemd to answer "not found": it refuses to extend root's
//! list ("Don't allow extending these two special users", in
//! `_nss_systemd_initgroups_dyn`). Loading it was a fifth of a call's
//! CPU time.
//!
//! When the sources of the group databases are the files, followed at
//! most by `systemd` for root, root's list and its names are a function
//! of /etc/group alone. They are then memoised under a key made of the
//! settled stamps (the policy cache's rule: src/policy/stamp.rs) of
//! /etc/group and /etc/nsswitch.conf, the target's name and primary gid
//! and this build. A change to either file, a file changed in the last
//! 3 s, nscd running (its cache answers instead of the files), another
//! source, another target or anything this parser does not know asks NSS
//! as before. The key taken before NSS must equal the key taken after,
//! or nothing is stored.
//!
//! The memo file is root's 0600 file in /run/belladonna; one that is not
//! is ignored, and every error only costs a call the NSS lookup.
#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::os::fd::BorrowedFd;
use std::path::Path;

use crate::base::atomic_file::{Replace, replace_at};
use crate::base::secure_fs::{FileOwner, ModeRule, PrivateRead, read_private_at};
use crate::policy::stamp::{self, Stamp};

/// The memo file in the state directory (/run/belladonna), root 0600.
pub const MEMO_NAME: &str = "groups.memo";
/// Entries kept; the oldest go first.
pub const MAX_ENTRIES: usize = 16;
/// Largest memo file read.
const MAX_FILE: usize = 256 * 1024;
/// Most groups one entry holds (above: not memoised).
const MAX_GROUPS: usize = 4096;

/// Targets whose group list no source after the files extends, when the
/// only other source is `systemd`: nss-systemd refuses to extend root.
const FIXED: &[&str] = &["root"];

/// The files whose bytes decide the list and the names: this and
/// nsswitch.conf (read once per process, [`super::nsswitch`]).
const GROUP: &str = "/etc/group";

/// Whether the list NSS gives for `user` and the names of its groups come
/// from /etc/group alone: the one `group` line (and the `initgroups` line,
/// if there is one) is `files`, then at most `systemd` when `user` is one
/// whose list nss-systemd does not extend. No actions
/// (`[NOTFOUND=return]`), no other source; a missing or repeated line is
/// not guessed at.
pub fn files_only(nsswitch: &str, user: &str) -> bool {
    let ok = |list: &Vec<&str>| {
        list.first() == Some(&"files")
            && list[1..]
                .iter()
                .all(|s| *s == "systemd" && FIXED.contains(&user))
    };
    let group = super::nss::lines_of(nsswitch, "group");
    let initgroups = super::nss::lines_of(nsswitch, "initgroups");
    matches!(group.as_slice(), [g] if ok(g))
        && match initgroups.as_slice() {
            [] => true,
            [i] => ok(i),
            _ => false,
        }
}

/// The memo key: this build, the target's name and primary gid, and the
/// stamps of the files that decide.
pub fn key(build: &[u8; 32], user: &str, gid: u32, stamps: &[Stamp]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"belladonna groups memo v1\0");
    h.update(build);
    h.update(&(user.len() as u64).to_le_bytes());
    h.update(user.as_bytes());
    h.update(&gid.to_le_bytes());
    h.update(&stamp::encode_all(stamps));
    *h.finalize().as_bytes()
}

/// One memoised answer: the gids (primary first) and each one's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: [u8; 32],
    pub groups: Vec<(u32, String)>,
}

/// The entries as bytes: key, count (u32), then per group its gid (u32),
/// its name's length (u8) and the name.
pub fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&e.key);
        out.extend_from_slice(&(e.groups.len() as u32).to_le_bytes());
        for (gid, name) in &e.groups {
            out.extend_from_slice(&gid.to_le_bytes());
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
        }
    }
    out
}

/// The entries of a memo file; `None` for anything that is not exactly
/// what [`encode`] writes.
pub fn decode(mut b: &[u8]) -> Option<Vec<Entry>> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (b.get(..n)?, b.get(n..)?);
        *b = rest;
        Some(head)
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key: [u8; 32] = take(&mut b, 32)?.try_into().ok()?;
        let n = u32::from_le_bytes(take(&mut b, 4)?.try_into().ok()?) as usize;
        if n == 0 || n > MAX_GROUPS {
            return None;
        }
        let mut groups = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            let gid = u32::from_le_bytes(take(&mut b, 4)?.try_into().ok()?);
            let len = usize::from(*take(&mut b, 1)?.first()?);
            let name = std::str::from_utf8(take(&mut b, len)?).ok()?;
            groups.push((gid, name.to_string()));
        }
        out.push(Entry { key, groups });
    }
    Some(out)
}

/// Whether `groups` can be memoised: not empty, not too many, every name
/// present and short enough for [`encode`].
pub fn storable(groups: &[(u32, String)]) -> bool {
    !groups.is_empty()
        && groups.len() <= MAX_GROUPS
        && groups
            .iter()
            .all(|(_, n)| !n.is_empty() && n.len() <= usize::from(u8::MAX))
}

/// The key of `user`'s (primary gid `gid`) groups now, or `None`: not
/// memoisable (see [`files_only`]), nscd running, a file missing or
/// changed in the last 3 s, or on a file system whose times are not the
/// local kernel's.
pub fn probe(user: &str, gid: u32) -> Option<[u8; 32]> {
    let t0 = stamp::now();
    if super::nscd_running() {
        return None;
    }
    let (nss, nss_stamp) = super::nsswitch()?;
    if !files_only(nss, user) {
        return None;
    }
    let stamps = [stamp::of_path(Path::new(GROUP))?, nss_stamp.clone()];
    if !stamp::settled(&stamps, t0) {
        return None;
    }
    Some(key(
        &crate::policy::cache::build_identity(),
        user,
        gid,
        &stamps,
    ))
}

/// The memo's entries; empty when it is missing, not root's 0600
/// single-link regular file, or not what [`encode`] writes.
pub fn read(dir: BorrowedFd<'_>) -> Vec<Entry> {
    let rules = PrivateRead {
        owner: FileOwner::Uid(0),
        mode: ModeRule::Exactly(0o600),
        single_link: true,
        max_len: MAX_FILE as u64,
    };
    match read_private_at(dir, OsStr::new(MEMO_NAME), &rules) {
        Ok((blob, _)) => decode(&blob).unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

/// The groups memoised under `key` for primary gid `gid`.
pub fn lookup(dir: BorrowedFd<'_>, key: &[u8; 32], gid: u32) -> Option<Vec<(u32, String)>> {
    read(dir)
        .into_iter()
        .find(|e| &e.key == key)
        .map(|e| e.groups)
        .filter(|g| g.first().map(|(g, _)| *g) == Some(gid))
}

/// Add an entry (atomically; the oldest go past [`MAX_ENTRIES`] or when
/// the file would grow past its limit). A failure only costs the next
/// call an NSS lookup.
pub fn insert(dir: BorrowedFd<'_>, key: &[u8; 32], groups: &[(u32, String)]) {
    if !storable(groups) {
        return;
    }
    let mut entries = read(dir);
    entries.retain(|e| &e.key != key);
    entries.push(Entry {
        key: *key,
        groups: groups.to_vec(),
    });
    let skip = entries.len().saturating_sub(MAX_ENTRIES);
    let mut blob = encode(&entries[skip..]);
    let mut from = skip;
    while blob.len() > MAX_FILE && from + 1 < entries.len() {
        from += 1;
        blob = encode(&entries[from..]);
    }
    if blob.len() > MAX_FILE {
        return;
    }
    let _ = replace_at(dir, OsStr::new(MEMO_NAME), &blob, &Replace::SCRATCH);
}

#[cfg(test)]
mod tests;
