//! The one lock with a deadline: an exclusive `flock` taken with
//! `LOCK_NB` in a polling loop (exponential back-off from 100 us to 5 ms)
//! until a monotonic deadline. No signal handler or interval timer is
//! involved, so there is no `unsafe`, no process-wide state, nothing a
//! caller-supplied signal mask could defeat, and it is correct with
//! threads. Used by the audit writer, the state files and the password
//! timestamps.
//!
//! A lock whose holder rings a [`Bell`] when it lets go (the audit
//! writer's two locks, audit::writer::bell) is waited for on the bell
//! instead of by sleeping: the waiter wakes when the lock is free, not
//! at the end of its back-off (which under load turned 1-2 ms syncs
//! into waits of 8-64 ms: docs/performance.md, session 22). The back-off
//! and the deadline stay, so a holder that never rings (stopped, killed)
//! costs what it cost before.
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
    poll(timeout, BACKOFF, None, || try_exclusive(&file))?;
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
    poll(timeout, BACKOFF, None, || try_exclusive(file))?;
    Ok(Held(file))
}

/// What a holder rings when it lets go of a lock, and a waiter waits on
/// between its tries ([`lock_in_place_rung`]).
pub trait Bell {
    /// How many times the bell has rung so far, read after a failed try
    /// and before the next one (so a ring between the two is not missed);
    /// the first call also tells ringers that someone listens. `None`:
    /// no bell now (the waiter sleeps out its back-off).
    fn listen(&mut self) -> Option<u32>;
    /// Wait until the bell has rung past `heard`, or `most` has passed.
    fn wait(&mut self, heard: u32, most: Duration);
}

/// [`lock_in_place`], waiting on `bell` between tries instead of
/// sleeping (the back-off bounds each wait, the deadline the whole).
pub fn lock_in_place_rung<'a>(
    file: &'a File,
    timeout: Duration,
    bell: &mut dyn Bell,
) -> Result<Held<'a>, LockError> {
    poll(timeout, BACKOFF, Some(bell), || try_exclusive(file))?;
    Ok(Held(file))
}

/// The waits between tries: from `first`, doubling up to `most`.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    first: Duration,
    most: Duration,
}

const BACKOFF: Backoff = Backoff {
    first: Duration::from_micros(100),
    most: Duration::from_millis(5),
};

/// One `flock(LOCK_EX | LOCK_NB)`: `Some` when taken, `None` when held
/// elsewhere (or interrupted: tried again).
fn try_exclusive(file: &File) -> Result<Option<()>, Errno> {
    match crate::sys::fs::flock(file.as_fd(), libc::LOCK_EX | libc::LOCK_NB) {
        Ok(()) => Ok(Some(())),
        Err(Errno::EWOULDBLOCK | Errno::EINTR) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Call `once` until it gives a lock (`Some`) or fails, waiting with
/// exponential back-off between tries while it answers `None` (held
/// elsewhere), until `timeout` has passed. Each wait is on `bell` when
/// there is one (ended early by a ring), else a sleep.
fn poll<T>(
    timeout: Duration,
    backoff: Backoff,
    mut bell: Option<&mut dyn Bell>,
    mut once: impl FnMut() -> Result<Option<T>, Errno>,
) -> Result<T, LockError> {
    let start = Instant::now();
    let mut delay = backoff.first;
    loop {
        if let Some(l) = once().map_err(LockError::Sys)? {
            return Ok(l);
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(LockError::Timeout(timeout));
        }
        let most = delay.min(timeout - waited);
        match bell.as_deref_mut().and_then(|b| b.listen().map(|h| (b, h))) {
            Some((b, heard)) => {
                // The holder may have let go (and rung, or not yet seen
                // us listening) since the failed try: try once more.
                if let Some(l) = once().map_err(LockError::Sys)? {
                    return Ok(l);
                }
                b.wait(heard, most);
            }
            None => std::thread::sleep(most),
        }
        delay = (delay * 2).min(backoff.most);
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

    /// A bell in memory: the rings so far, and whether anyone listened.
    #[derive(Clone, Default)]
    struct TestBell {
        rung: std::sync::Arc<(std::sync::Mutex<u32>, std::sync::Condvar)>,
        listened: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }

    impl TestBell {
        fn ring(&self) {
            let (m, cv) = &*self.rung;
            *m.lock().expect("mutex") += 1;
            cv.notify_all();
        }
    }

    impl Bell for TestBell {
        fn listen(&mut self) -> Option<u32> {
            self.listened
                .store(true, std::sync::atomic::Ordering::SeqCst);
            Some(*self.rung.0.lock().expect("mutex"))
        }
        fn wait(&mut self, heard: u32, most: Duration) {
            let (m, cv) = &*self.rung;
            let g = m.lock().expect("mutex");
            let _ = cv.wait_timeout_while(g, most, |n| *n == heard);
        }
    }

    /// A waiter on a bell takes the lock when the holder lets go and
    /// rings, not at the end of its back-off (here 20 s: without the
    /// bell the test would take that long and fail).
    #[test]
    fn a_ring_ends_the_wait_before_the_back_off() {
        let (_d, p) = temp();
        let bell = TestBell::default();
        let held = lock_owned(File::open(&p).expect("open"), Duration::from_secs(1)).expect("lock");
        let ringer = bell.clone();
        let releaser = std::thread::spawn(move || {
            while !ringer.listened.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(20));
            drop(held);
            ringer.ring();
        });
        let f = File::open(&p).expect("open");
        let slow = Backoff {
            first: Duration::from_secs(20),
            most: Duration::from_secs(20),
        };
        let t0 = Instant::now();
        let mut b = bell.clone();
        poll(Duration::from_secs(60), slow, Some(&mut b), || {
            try_exclusive(&f)
        })
        .expect("taken once released");
        assert!(
            t0.elapsed() < slow.first,
            "woken by the ring, not the back-off ({:?})",
            t0.elapsed()
        );
        releaser.join().expect("join");
    }

    /// A holder that never rings (stopped, killed while holding) still
    /// ends the wait at the deadline; a bell that is not there (`None`)
    /// is a sleep.
    #[test]
    fn a_bell_that_never_rings_keeps_the_deadline() {
        let (_d, p) = temp();
        let a = File::open(&p).expect("open");
        let _held = lock_in_place(&a, Duration::from_secs(1)).expect("lock");
        let f = File::open(&p).expect("open");
        let t = Duration::from_millis(40);
        let mut bell = TestBell::default();
        assert_eq!(
            lock_in_place_rung(&f, t, &mut bell).err(),
            Some(LockError::Timeout(t))
        );
        assert!(bell.listened.load(std::sync::atomic::Ordering::SeqCst));
        struct Silent;
        impl Bell for Silent {
            fn listen(&mut self) -> Option<u32> {
                None
            }
            fn wait(&mut self, _: u32, _: Duration) {
                unreachable!("no bell: a sleep")
            }
        }
        assert_eq!(
            lock_in_place_rung(&f, t, &mut Silent).err(),
            Some(LockError::Timeout(t))
        );
    }
}
