//! The one lock with a deadline: an exclusive `flock` taken with
//! `LOCK_NB` in a polling loop (exponential back-off from 100 us to 5 ms)
//! until a monotonic deadline. No signal handler or interval timer is
//! involved, so there is no `unsafe`, no process-wide state, nothing a
//! caller-supplied signal mask could defeat, and it is correct with
//! threads. Used by the audit writer, the state files and the password
//! timestamps.
#![forbid(unsafe_code)]

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fmt;
use std::fs::File;
use std::time::{Duration, Instant};

/// Why a lock was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockError {
    /// Still held by someone else at the deadline.
    Timeout(Duration),
    /// `flock` (or duplicating the fd) failed.
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

/// Exclusive `flock` on the open file description of `file`, polling
/// `LOCK_NB` with exponential back-off (100 us to 5 ms) until `timeout`
/// has passed on the monotonic clock. Dropping the result unlocks.
pub fn lock_with_deadline(file: &File, timeout: Duration) -> Result<Flock<File>, LockError> {
    // A duplicate shares the open file description, hence the lock.
    let mut f = file
        .try_clone()
        .map_err(|e| LockError::Sys(e.raw_os_error().map_or(Errno::EBADF, Errno::from_raw)))?;
    let start = Instant::now();
    let mut delay = Duration::from_micros(100);
    loop {
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(l) => return Ok(l),
            Err((back, Errno::EWOULDBLOCK | Errno::EINTR)) => f = back,
            Err((_, e)) => return Err(LockError::Sys(e)),
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(LockError::Timeout(timeout));
        }
        std::thread::sleep(delay.min(timeout - waited));
        delay = (delay * 2).min(Duration::from_millis(5));
    }
}
