//! Group commit: concurrent writers share fdatasyncs.
//!
//! A writer appends its line under the log's lock, releases it, and only
//! then makes the line durable, under a second lock: the *sync group*
//! file (`/run/belladonna/audit-synced`, tmpfs, root 0600). The file says,
//! for one log file, up to which offset a completed fdatasync covers the
//! log, and whether an fdatasync of it ever failed. Under the sync lock a
//! writer whose line ends at or below the covered offset skips its own
//! fdatasync: a sync that started after its line was in the page cache
//! has already made it durable. Otherwise it reads how far appends have
//! *completed* (the *written* mark: the end of the last line whose
//! write(2) returned, set under the log lock), runs fdatasync (which
//! covers every line appended so far, its own and those of the writers
//! queued behind it) and records that offset as covered.
//!
//! Why the written mark and not the file's size: on ext4 a write(2)
//! raises `i_size` (what fstat shows) before it journals the on-disk size
//! and marks the inode for fdatasync; an fdatasync that starts in that
//! window makes the data durable but not the size that covers it, so a
//! power cut loses the line although fstat had shown it. Only a write(2)
//! that has returned is covered by an fdatasync that starts after it
//! (the power-cut test in tests/audit_faults_dev.rs lost records when the
//! size from fstat was used). So while
//! one fdatasync runs, the next writers append; the first of them to get
//! the sync lock syncs for all of them. Every writer still returns only
//! once its own line is durable.
//!
//! Identity: a log file is named by (device, inode, birth time). The birth
//! time (statx `btime`) matters: after a rotation the old inode number can
//! be reused by the next file, and (device, inode) alone would let a new
//! file inherit the old one's covered offset or its failed sync. Where the
//! file system reports no birth time the writer does not use the group
//! file at all and fdatasyncs under the log's lock, as before.
//!
//! A writer that finds the sync lock held waits on its bell
//! (writer::bell), which whoever lets go of it rings.
//!
//! A failed fdatasync is never retried on the same file (DESIGN 7): the
//! page cache may mark the lost pages clean, so a later fdatasync can
//! succeed although the data never reached the disk, and a file opened
//! after the error may not even see it. The failure is recorded in the
//! group file, and every later append to that file (checked under the log
//! lock, and again under the sync lock) is refused until the log is
//! rotated to a new file.
#![forbid(unsafe_code)]

use super::super::AuditError;
use super::bell::Lock;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

/// A log file's identity: device, inode and birth time (seconds, nanos).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ident {
    dev: u64,
    ino: u64,
    btime: (u64, u32),
}

/// The identity of `f`, or `None` when the file system has no birth time.
/// One statx of our own: on musl the standard library's metadata has no
/// birth time, and the static bdexec would lose group commit.
pub(crate) fn ident(f: &File) -> Option<Ident> {
    use std::os::fd::AsFd;
    let d = crate::sys::fs::dev_ino_birth(f.as_fd()).ok()?;
    Some(Ident {
        dev: d.dev,
        ino: d.ino,
        btime: d.birth?,
    })
}

const MAGIC: &[u8; 8] = b"BDSYNC01";
const LEN: usize = 56;
/// Where the written mark lives (after the state): dev, ino, btime,
/// offset, and a check over them (a torn read fails the check).
const MARK_AT: u64 = 64;
const MARK_LEN: usize = 48;

/// What the group file says about one log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct State {
    pub(crate) id: Ident,
    /// Every byte below this offset is durable.
    pub(crate) synced: u64,
    /// An fdatasync of this file failed.
    pub(crate) failed: bool,
}

impl State {
    fn encode(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[..8].copy_from_slice(MAGIC);
        let words = [
            self.id.dev,
            self.id.ino,
            self.id.btime.0,
            u64::from(self.id.btime.1),
            self.synced,
            u64::from(self.failed),
        ];
        for (i, w) in words.iter().enumerate() {
            b[8 + 8 * i..16 + 8 * i].copy_from_slice(&w.to_le_bytes());
        }
        b
    }

    fn decode(b: &[u8; LEN]) -> Option<State> {
        if &b[..8] != MAGIC {
            return None;
        }
        let w = |i: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[8 + 8 * i..16 + 8 * i]);
            u64::from_le_bytes(x)
        };
        Some(State {
            id: Ident {
                dev: w(0),
                ino: w(1),
                btime: (w(2), u32::try_from(w(3)).ok()?),
            },
            synced: w(4),
            failed: match w(5) {
                0 => false,
                1 => true,
                _ => return None,
            },
        })
    }
}

/// The open sync group file.
pub(crate) struct Group {
    file: File,
    path: std::path::PathBuf,
}

impl Group {
    /// Open (create) the group file ([`super::open_own_file`]); `None`
    /// when it is not ours (the writer then syncs under the log lock, as
    /// without group commit).
    pub(crate) fn open(path: &Path) -> Option<Group> {
        super::open_own_file(path).map(|file| Group {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The state, when the file holds a valid one (a torn or foreign
    /// content reads as none).
    pub(crate) fn read(&self) -> Option<State> {
        let mut b = [0u8; LEN];
        self.file.read_exact_at(&mut b, 0).ok()?;
        State::decode(&b)
    }

    pub(crate) fn write(&self, st: &State) -> Result<(), AuditError> {
        self.file
            .write_all_at(&st.encode(), 0)
            .map_err(|e| AuditError::write(&self.path, &e))
    }

    /// Set the written mark: every write(2) to the log `id` below `end`
    /// has returned. Call under the log lock, after the write.
    pub(crate) fn mark_written(&self, id: Ident, end: u64) {
        let b = encode_mark(id, end);
        // Best effort: without the mark the next syncer covers only its
        // own line.
        let _ = self.file.write_all_at(&b, MARK_AT);
    }

    /// The written mark for the log `id`, when it is about that file
    /// and whole.
    fn written(&self, id: Ident) -> Option<u64> {
        let mut b = [0u8; MARK_LEN];
        self.file.read_exact_at(&mut b, MARK_AT).ok()?;
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[32..40]);
        let end = u64::from_le_bytes(w);
        (encode_mark(id, end) == b).then_some(end)
    }

    /// Has an fdatasync of the log `id` failed? Read without the sync
    /// lock (under the log lock, before appending): a torn read is
    /// "unknown", and [`Group::sync_to`] checks again under its lock.
    pub(crate) fn failed(&self, id: Ident) -> bool {
        self.read().is_some_and(|s| s.id == id && s.failed)
    }

    /// Make the log `log` (identity `id`) durable up to `end`, sharing the
    /// fdatasync with the writers around: see the module comment. Returns
    /// whether this writer ran the fdatasync itself.
    pub(crate) fn sync_to(
        &self,
        log: &File,
        shown: &Path,
        id: Ident,
        end: u64,
        timeout: Duration,
    ) -> Result<bool, AuditError> {
        let bells = Some(&self.file);
        let _lock = super::bell::take(bells, Lock::Sync, &self.file, &self.path, timeout)?;
        self.sync_held(log, shown, id, end)
    }

    /// The file the bells of both locks live in (writer::bell).
    pub(crate) fn bells(&self) -> &File {
        &self.file
    }

    /// [`Group::sync_to`] under the sync lock.
    fn sync_held(&self, log: &File, shown: &Path, id: Ident, end: u64) -> Result<bool, AuditError> {
        let prev = self.read().filter(|s| s.id == id);
        if let Some(s) = prev {
            if s.failed {
                return Err(AuditError::sync_failed_before(shown));
            }
            if s.synced >= end {
                return Ok(false);
            }
        }
        // Every write(2) below the written mark has returned, so the sync
        // covers it; our own line ends at `end`.
        let size = self.written(id).unwrap_or(0).max(end);
        crate::base::testhook::point("audit-before-sync");
        match log
            .sync_data()
            .and_then(|()| super::still_answers(log, end))
        {
            Ok(()) => {
                // Best effort: a failed note only costs the next writer
                // its own fdatasync.
                let _ = self.write(&State {
                    id,
                    synced: size,
                    failed: false,
                });
                crate::base::testhook::point("audit-after-sync");
                Ok(true)
            }
            Err(e) => {
                // Recorded before anyone else can take the lock. If the
                // note fails, the next writer would sync again: say so in
                // this writer's error (bdexec alerts with it).
                let noted = self.write(&State {
                    id,
                    synced: prev.map_or(0, |s| s.synced),
                    failed: true,
                });
                if noted.is_err() {
                    return Err(AuditError::sync_unnoted(shown, &e, &self.path));
                }
                Err(AuditError::sync(shown, &e))
            }
        }
    }
}

/// The written mark's bytes: dev, ino, btime seconds, btime nanos,
/// offset (little endian), then the first 8 bytes of their BLAKE3.
fn encode_mark(id: Ident, end: u64) -> [u8; MARK_LEN] {
    let mut b = [0u8; MARK_LEN];
    for (i, w) in [id.dev, id.ino, id.btime.0, u64::from(id.btime.1), end]
        .iter()
        .enumerate()
    {
        b[8 * i..8 * i + 8].copy_from_slice(&w.to_le_bytes());
    }
    let h = blake3::hash(&b[..40]);
    b[40..].copy_from_slice(&h.as_bytes()[..8]);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_rejects_garbage() {
        let s = State {
            id: Ident {
                dev: 7,
                ino: 9,
                btime: (1_800_000_000, 999_999_999),
            },
            synced: 12345,
            failed: true,
        };
        assert_eq!(State::decode(&s.encode()), Some(s));
        let mut b = s.encode();
        b[0] = b'X';
        assert_eq!(State::decode(&b), None);
        let mut b = s.encode();
        b[48] = 2;
        assert_eq!(State::decode(&b), None);
    }

    #[test]
    fn identity_includes_the_birth_time() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("log");
        let f = File::create(&p).expect("create");
        let Some(a) = ident(&f) else {
            crate::base::testhook::skipped(
                "identity_includes_the_birth_time",
                "no birth time on this file system",
            );
            return;
        };
        // The same inode number with another birth time is another file.
        let b = Ident {
            btime: (a.btime.0, a.btime.1.wrapping_add(1)),
            ..a
        };
        assert_ne!(a, b);
        assert_eq!(ident(&f), Some(a));
    }
}
