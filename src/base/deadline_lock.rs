//! The one lock with a deadline: an exclusive `flock` taken with
//! `LOCK_NB` in a polling loop (exponential back-off from 100 us to 5 ms)
//! until a monotonic deadline. No signal handler or interval timer is
//! involved, so there is no `unsafe`, no process-wide state, nothing a
//! caller-supplied signal mask could defeat, and it is correct with
//! threads. Used by the audit writer, the state files and the password
//! timestamps.
#![forbid(unsafe_code)]

use nix::errno::Errno;
use std::fmt;
use std::fs::File;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// Why a lock was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockError {
    /// Still held by someone else at the deadline.
    Timeout(Duration),
    /// `flock` failed.
    Sys(Errno),
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Timeout(t) => write!(
                f,
                "lock not acquired within {t:?} (another process holds it)"
            ),
            LockError::Sys(e) => write!(f, "flock: {}", e.desc()),
        }
    }
}

/// The lock [`lock_owned`] holds: the file itself, unlocked (`LOCK_UN`)
/// when dropped, then closed.
#[derive(Debug)]
pub struct Owned(File);

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = crate::sys::fs::flock(self.0.as_fd(), libc::LOCK_UN);
    }
}

/// Exclusive `flock` on `file`, polling `LOCK_NB` with exponential
/// back-off (100 us to 5 ms) until `timeout` has passed on the monotonic
/// clock. The lock keeps the file; dropping it unlocks and closes. For
/// lock files opened only to be locked (the state files, the password
/// timestamps).
pub fn lock_owned(file: File, timeout: Duration) -> Result<Owned, LockError> {
    poll(timeout, || try_exclusive(&file))?;
    Ok(Owned(file))
}

/// The lock [`lock_in_place`] holds: `file`'s own open file description,
/// unlocked (`LOCK_UN`) when dropped.
#[derive(Debug)]
pub struct Held<'a>(&'a File);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let _ = crate::sys::fs::flock(self.0.as_fd(), libc::LOCK_UN);
    }
}

/// [`lock_owned`] on a file the caller keeps: the lock is taken and
/// released on `file` itself and lives no longer than the borrow (the
/// audit writer's two locks on every call).
pub fn lock_in_place(file: &File, timeout: Duration) -> Result<Held<'_>, LockError> {
    poll(timeout, || try_exclusive(file))?;
    Ok(Held(file))
}

/// One `flock(LOCK_EX | LOCK_NB)`: `Some` when taken, `None` when held
/// elsewhere (or interrupted: tried again).
fn try_exclusive(file: &File) -> Result<Option<()>, Errno> {
    match crate::sys::fs::flock(file.as_fd(), libc::LOCK_EX | libc::LOCK_NB) {
        Ok(()) => Ok(Some(())),
        Err(Errno::EWOULDBLOCK | Errno::EINTR) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Call `once` until it gives a lock (`Some`) or fails, sleeping with
/// exponential back-off (100 us to 5 ms) between tries while it answers
/// `None` (held elsewhere), until `timeout` has passed.
fn poll<T>(
    timeout: Duration,
    mut once: impl FnMut() -> Result<Option<T>, Errno>,
) -> Result<T, LockError> {
    let start = Instant::now();
    let mut delay = Duration::from_micros(100);
    loop {
        if let Some(l) = once().map_err(LockError::Sys)? {
            return Ok(l);
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(LockError::Timeout(timeout));
        }
        std::thread::sleep(delay.min(timeout - waited));
        delay = (delay * 2).min(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("lock");
        std::fs::write(&p, b"").expect("write");
        (d, p)
    }

    /// Both locks exclude each other across open file descriptions, time
    /// out at the deadline, and are free again once dropped.
    #[test]
    fn in_place_and_owned_locks_exclude_each_other() {
        let (_d, p) = temp();
        let a = File::open(&p).expect("open");
        let t = Duration::from_millis(30);
        let held = lock_in_place(&a, t).expect("free");
        assert_eq!(
            lock_in_place(&File::open(&p).expect("open"), t).err(),
            Some(LockError::Timeout(t))
        );
        assert_eq!(
            lock_owned(File::open(&p).expect("open"), t).err(),
            Some(LockError::Timeout(t))
        );
        drop(held);
        let owned =
            lock_owned(File::open(&p).expect("open"), t).expect("free after the guard dropped");
        assert_eq!(lock_in_place(&a, t).err(), Some(LockError::Timeout(t)));
        drop(owned);
        let again = lock_in_place(&a, t).expect("free after the owned lock dropped");
        drop(again);
        drop(lock_owned(File::open(&p).expect("open"), t).expect("free"));
    }

    /// A lock released by its holder while another waits is taken before
    /// the deadline.
    #[test]
    fn a_waiter_gets_the_lock_when_it_is_released() {
        let (_d, p) = temp();
        let (tx, rx) = std::sync::mpsc::channel();
        let q = p.clone();
        let holder = std::thread::spawn(move || {
            let f = File::open(&q).expect("open");
            let held = lock_in_place(&f, Duration::from_secs(1)).expect("lock");
            tx.send(()).expect("send");
            std::thread::sleep(Duration::from_millis(50));
            drop(held);
        });
        rx.recv().expect("held");
        let f = File::open(&p).expect("open");
        let t0 = Instant::now();
        let held = lock_in_place(&f, Duration::from_secs(10)).expect("taken once released");
        assert!(t0.elapsed() >= Duration::from_millis(20), "it waited");
        drop(held);
        holder.join().expect("join");
    }
}
