//! The bells on the writer's two locks: a writer that finds the log's
//! lock or the sync lock held waits on a futex in the sync group file's
//! own page (sys::futex), and whoever lets go of that lock while someone
//! listens rings it.
//!
//! Why: without a bell a waiter slept out deadline_lock's back-off (100
//! us doubling to 5 ms) between tries. Under `make load` at 4 callers on
//! 2 cores half the writers found the sync lock held by another's
//! fdatasync (1-2 ms under load) and, losing the race to the lock again
//! and again, waited 8-64 ms; one in twenty found the log's lock held
//! (40-60 us of work, longer when its holder is preempted) and overslept
//! it by up to a millisecond and a half. Those waits were the slowest
//! percent of calls (docs/performance.md, session 22).
//!
//! A bell only ends a wait early: the lock is still the `flock`, and a
//! holder that never rings (stopped, killed; `bdctl audit rotate`, which
//! takes the log's lock without the group file) costs the back-off and
//! the deadline as before.
//!
//! The words (after the group file's state and written mark), per lock:
//! how many times it was let go with someone listening (`rung`), and how
//! many wait for it now (`listening`). A ringer reads `listening` with
//! one pread and does nothing more when it is 0; a waiter counts itself
//! in before its next try, so a release between its failed try and its
//! wait is never missed (the ringer then sees it, and the futex's value
//! has moved on).
#![forbid(unsafe_code)]

use super::super::AuditError;
use crate::base::deadline_lock::{Bell, Held};
use crate::sys::futex::SharedWords;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Which of the writer's locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    /// The log file's own lock (append).
    Log,
    /// The sync group file's lock (fdatasync).
    Sync,
}

impl Lock {
    /// Where its `rung` word is in the group file; `listening` follows.
    fn at(self) -> usize {
        match self {
            Lock::Sync => 128,
            Lock::Log => 136,
        }
    }
}

/// How much of the group file the bells map (and make sure is there).
const LEN: usize = 144;

/// A lock taken through its bell: unlocked when dropped, then rung when
/// someone listens.
pub(crate) struct Ringing<'a> {
    held: Option<Held<'a>>,
    bells: Option<&'a File>,
    lock: Lock,
}

impl Drop for Ringing<'_> {
    fn drop(&mut self) {
        drop(self.held.take());
        if let Some(b) = self.bells {
            ring(b, self.lock);
        }
    }
}

/// Take `lock` (the flock on `file`; `shown` names it in errors) within
/// `timeout`, waiting between tries on its bell in `bells` (the sync
/// group file; without one, plain back-off and no ring).
pub(crate) fn take<'a>(
    bells: Option<&'a File>,
    lock: Lock,
    file: &'a File,
    shown: &Path,
    timeout: Duration,
) -> Result<Ringing<'a>, AuditError> {
    let held = match bells {
        Some(b) => {
            let mut l = Listener {
                bells: b,
                lock,
                words: None,
            };
            super::lock_with_bell(file, shown, timeout, &mut l)?
        }
        None => super::lock_with_deadline(file, shown, timeout)?,
    };
    Ok(Ringing {
        held: Some(held),
        bells,
        lock,
    })
}

/// After letting go of `lock`: when someone listens, ring its bell and
/// wake them. One pread when no one does.
fn ring(bells: &File, lock: Lock) {
    let mut n = [0u8; 4];
    let listening = bells
        .read_exact_at(&mut n, (lock.at() + 4) as u64)
        .is_ok_and(|()| u32::from_ne_bytes(n) != 0);
    if !listening {
        return;
    }
    if let Some(words) = words(bells)
        && let Some(rung) = words.word(lock.at())
    {
        rung.fetch_add(1, Ordering::SeqCst);
        let _ = crate::sys::futex::wake_all(rung);
    }
}

/// The bells' words, mapped; the file is first made long enough to hold
/// them (it only ever grows: `set_len` to more than it has).
fn words(bells: &File) -> Option<SharedWords> {
    use std::os::fd::AsFd;
    if bells.metadata().ok()?.len() < LEN as u64 {
        bells.set_len(LEN as u64).ok()?;
    }
    SharedWords::of(bells.as_fd(), LEN).ok()
}

/// A writer waiting for a lock, listening for its bell. Counted in the
/// lock's `listening` from its first `listen` until dropped.
struct Listener<'g> {
    bells: &'g File,
    lock: Lock,
    words: Option<SharedWords>,
}

impl Bell for Listener<'_> {
    fn listen(&mut self) -> Option<u32> {
        if self.words.is_none() {
            let words = words(self.bells)?;
            words
                .word(self.lock.at() + 4)?
                .fetch_add(1, Ordering::SeqCst);
            self.words = Some(words);
        }
        Some(
            self.words
                .as_ref()?
                .word(self.lock.at())?
                .load(Ordering::SeqCst),
        )
    }

    fn wait(&mut self, heard: u32, most: Duration) {
        match self.words.as_ref().and_then(|w| w.word(self.lock.at())) {
            Some(rung) if crate::sys::futex::wait(rung, heard, most).is_ok() => {}
            _ => std::thread::sleep(most),
        }
    }
}

impl Drop for Listener<'_> {
    fn drop(&mut self) {
        if let Some(l) = self.words.as_ref().and_then(|w| w.word(self.lock.at() + 4)) {
            // Never below 0: a file replaced under us reads as 0.
            let _ = l.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        }
    }
}
