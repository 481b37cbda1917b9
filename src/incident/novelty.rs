//! The hydra's `novelty` head as bdexec sees it (docs/incident-response.md,
//! "Hydra score"): with `[incident] auto_freeze` on, an allowed command
//! the caller has never run before counts one `novelty` event, so that a
//! burst of first-time commands (an attacker exploring what a stolen
//! account may do) can freeze the host like denials and decoy hits do.
//!
//! The history is a per-uid set of command fingerprints (the first 16
//! bytes of the BLAKE3 of the resolved path) in
//! `/var/lib/belladonna/incident/seen-UID` (root, 0600), oldest first, at
//! most [`MAX_SEEN`] entries (the oldest are forgotten). Reading it is one
//! small read per allowed call, and only when `auto_freeze` is on; a
//! command already seen costs no write. A file that cannot be used fails
//! towards "not novel" (the head only raises a score; denying a call
//! because bookkeeping failed would let anyone who fills the disk lock
//! administrators out), and says so in syslog.
#![forbid(unsafe_code)]

use crate::base::paths::LIB_DIR;
use crate::state::file;
use std::os::fd::AsFd;
use std::path::Path;

/// Fingerprint length in bytes.
pub const FP_LEN: usize = 16;
/// Most fingerprints kept per uid.
pub const MAX_SEEN: usize = 4096;

/// The fingerprint of a command (its resolved path).
pub fn fingerprint(command: &[u8]) -> [u8; FP_LEN] {
    let h = blake3::hash(command);
    let mut fp = [0u8; FP_LEN];
    fp.copy_from_slice(&h.as_bytes()[..FP_LEN]);
    fp
}

/// Pure: `fp` added to the history `seen` (whole entries only, a torn
/// tail is dropped); `None` when it was already there.
pub fn insert(seen: &[u8], fp: &[u8; FP_LEN]) -> Option<Vec<u8>> {
    let whole = seen.len() - seen.len() % FP_LEN;
    if seen[..whole].chunks_exact(FP_LEN).any(|c| c == fp) {
        return None;
    }
    let keep = (MAX_SEEN - 1) * FP_LEN;
    let start = whole.saturating_sub(keep);
    let mut out = Vec::with_capacity(whole - start + FP_LEN);
    out.extend_from_slice(&seen[start..whole]);
    out.extend_from_slice(fp);
    Some(out)
}

/// The file name of `uid`'s history.
pub fn file_name(uid: u32) -> String {
    format!("seen-{uid}")
}

/// True when `command` is new for `uid` (and now remembered). Errors
/// (unusable state) answer false, after a syslog line.
pub fn first_time(uid: u32, command: &[u8]) -> bool {
    match try_first_time(uid, command) {
        Ok(new) => new,
        Err(e) => {
            crate::audit::alert::syslog(&format!("uid {uid}: novelty history not used: {e}"));
            false
        }
    }
}

fn try_first_time(uid: u32, command: &[u8]) -> Result<bool, String> {
    let lib = crate::base::secure_fs::ensure_trusted_dir(Path::new(LIB_DIR), 0o700)
        .map_err(|e| e.to_string())?;
    let shown = Path::new(LIB_DIR).join(crate::incident::counters::DIR);
    let dir = file::ensure_subdir(
        lib.as_fd(),
        Path::new(LIB_DIR),
        crate::incident::counters::DIR,
    )
    .map_err(|e| e.to_string())?;
    let name = file_name(uid);
    let fp = fingerprint(command);
    let max = (MAX_SEEN * FP_LEN) as u64;
    // Seen before: one read, no lock, no write (the file is only ever
    // replaced whole, so a read sees one version or the other).
    let seen = file::read(dir.as_fd(), &shown, &name, max)
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    if insert(&seen, &fp).is_none() {
        return Ok(false);
    }
    let _l = file::lock(dir.as_fd(), &shown, "seen.lock", file::LOCK_TIMEOUT)
        .map_err(|e| e.to_string())?;
    let seen = file::read(dir.as_fd(), &shown, &name, max)
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let Some(next) = insert(&seen, &fp) else {
        return Ok(false);
    };
    file::replace(dir.as_fd(), &shown, &name, &next).map_err(|e| e.to_string())?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remembers_once() {
        let a = fingerprint(b"/usr/bin/id");
        let b = fingerprint(b"/usr/bin/nproc");
        let s1 = insert(&[], &a).unwrap_or_default();
        assert_eq!(s1.len(), FP_LEN);
        assert_eq!(insert(&s1, &a), None);
        let s2 = insert(&s1, &b).unwrap_or_default();
        assert_eq!(s2.len(), 2 * FP_LEN);
        assert_eq!(insert(&s2, &b), None);
        assert_eq!(insert(&s2, &a), None);
    }

    #[test]
    fn torn_tail_is_dropped_and_history_is_bounded() {
        let a = fingerprint(b"a");
        let mut torn = insert(&[], &a).unwrap_or_default();
        torn.extend_from_slice(&[1, 2, 3]);
        let s = insert(&torn, &fingerprint(b"b")).unwrap_or_default();
        assert_eq!(s.len(), 2 * FP_LEN);
        let mut full = Vec::new();
        for i in 0..MAX_SEEN {
            full.extend_from_slice(&fingerprint(format!("/c/{i}").as_bytes()));
        }
        let next = insert(&full, &fingerprint(b"new")).unwrap_or_default();
        assert_eq!(next.len(), MAX_SEEN * FP_LEN);
        // The oldest is forgotten, the newest kept.
        assert_eq!(&next[..FP_LEN], &fingerprint(b"/c/1")[..]);
        assert_eq!(&next[next.len() - FP_LEN..], &fingerprint(b"new")[..]);
    }
}
