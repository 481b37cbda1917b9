//! Refusal rate limit: how many `reject` records one uid may cause.
//!
//! A refused call costs the caller nothing, and each one appends a record
//! to the audit log; without a limit one user could fill the disk and so
//! stop every privileged call on the host. Each uid has a token bucket of
//! [`BURST`] refusals, refilled by one every [`REFILL`] (on
//! `CLOCK_BOOTTIME`: setting the wall clock does not refill it). A refusal
//! that finds the bucket empty is still refused, with its stderr line and
//! exit code, but not recorded: the bucket counts it instead, and the
//! uid's next recorded refusal carries the count (`"suppressed":N`). The
//! first refusal suppressed after a recorded one also goes to syslog.
//! Accept records never pass through here: a call that runs is always
//! recorded. Root (uid 0) is not limited (bdexec's caller decides).
//!
//! One file per uid: `refusals/<uid>` (`BDREFUSALS 1 <uid> <units>
//! <last boottime ns> <suppressed>`, one line) with its lock
//! `refusals/<uid>.lock`, under [`file::lock`]'s deadline. `/run` is a
//! tmpfs, so a reboot starts every bucket full. A file that does not
//! decode is replaced by a full bucket: the limit fails towards
//! recording, never towards silence.
#![forbid(unsafe_code)]

use super::StateError;
use super::file::{self, StateLock};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Subdirectory of the state directory holding the buckets.
pub const REFUSAL_DIR: &str = "refusals";
/// Refusals recorded in a burst.
pub const BURST: u64 = 20;
/// One more refusal may be recorded per this much time.
pub const REFILL: Duration = Duration::from_secs(6);

const MAGIC: &str = "BDREFUSALS 1";
const MAX_FILE: u64 = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bucket {
    units: u64,
    last_ns: u64,
    suppressed: u64,
}

fn refill_ns() -> u64 {
    REFILL.as_nanos() as u64
}

fn full() -> u64 {
    BURST * refill_ns()
}

/// What to do with one refusal.
#[derive(Debug)]
pub enum Gate {
    /// Record it, with `suppressed` refusals not recorded before it;
    /// then [`Pending::commit`] once the record is durable.
    Record(Pending),
    /// Do not record it. `first`: the first one since the last record.
    Suppress { first: bool },
}

/// A refusal allowed into the log; the bucket's lock is held until
/// [`Pending::commit`] (or drop, which changes nothing: a record that
/// could not be written leaves the token and the count in place).
#[derive(Debug)]
pub struct Pending {
    /// Refusals of this uid not recorded since its last recorded one.
    pub suppressed: u64,
    dir: OwnedFd,
    name: String,
    next: Bucket,
    _lock: StateLock,
}

impl Pending {
    /// The record is durable: take the token and reset the count.
    pub fn commit(self) -> Result<(), StateError> {
        file::replace(
            self.dir.as_fd(),
            &shown_dir(),
            &self.name,
            encode(&self.next).as_bytes(),
        )
    }
}

fn shown_dir() -> PathBuf {
    Path::new(crate::base::paths::RUN_DIR).join(REFUSAL_DIR)
}

fn boottime_ns() -> Result<u64, StateError> {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)
        .map_err(|e| StateError(format!("clock_gettime: {}", e.desc())))?;
    Ok(u64::try_from(Duration::from(t).as_nanos()).unwrap_or(u64::MAX))
}

fn encode(b: &Bucket) -> String {
    format!("{MAGIC} {} {} {}\n", b.units, b.last_ns, b.suppressed)
}

fn decode(data: &[u8]) -> Option<Bucket> {
    let text = std::str::from_utf8(data).ok()?.strip_suffix('\n')?;
    let rest = text.strip_prefix(MAGIC)?.strip_prefix(' ')?;
    let mut it = rest.split(' ').map(str::parse::<u64>);
    let (units, last_ns, suppressed) = (it.next()?.ok()?, it.next()?.ok()?, it.next()?.ok()?);
    if it.next().is_some() {
        return None;
    }
    Some(Bucket {
        units,
        last_ns,
        suppressed,
    })
}

/// The bucket after refilling up to `now_ns` (a bucket "from the
/// future", or none, is full).
fn refilled(stored: Option<Bucket>, now_ns: u64) -> Bucket {
    match stored {
        Some(b) if b.last_ns <= now_ns => Bucket {
            units: b
                .units
                .min(full())
                .saturating_add(now_ns - b.last_ns)
                .min(full()),
            last_ns: now_ns,
            suppressed: b.suppressed,
        },
        Some(b) => Bucket {
            units: full(),
            last_ns: now_ns,
            suppressed: b.suppressed,
        },
        None => Bucket {
            units: full(),
            last_ns: now_ns,
            suppressed: 0,
        },
    }
}

/// Decide one refusal of `uid` (see the module docs).
pub fn gate(state_dir: BorrowedFd<'_>, uid: u32) -> Result<Gate, StateError> {
    let sd = shown_dir();
    let dir = file::ensure_subdir(
        state_dir,
        Path::new(crate::base::paths::RUN_DIR),
        REFUSAL_DIR,
    )?;
    let name = uid.to_string();
    let lock = file::lock(
        dir.as_fd(),
        &sd,
        &format!("{name}.lock"),
        file::LOCK_TIMEOUT,
    )?;
    let stored = file::read(dir.as_fd(), &sd, &name, MAX_FILE)?;
    let b = refilled(stored.as_deref().and_then(decode), boottime_ns()?);
    if b.units < refill_ns() {
        let next = Bucket {
            suppressed: b.suppressed.saturating_add(1),
            ..b
        };
        file::replace(dir.as_fd(), &sd, &name, encode(&next).as_bytes())?;
        return Ok(Gate::Suppress {
            first: b.suppressed == 0,
        });
    }
    Ok(Gate::Record(Pending {
        suppressed: b.suppressed,
        next: Bucket {
            units: b.units - refill_ns(),
            suppressed: 0,
            ..b
        },
        dir,
        name,
        _lock: lock,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_round_trip_and_strict() {
        let b = Bucket {
            units: 5,
            last_ns: 7,
            suppressed: 9,
        };
        assert_eq!(decode(encode(&b).as_bytes()), Some(b));
        for bad in [
            &b""[..],
            b"BDREFUSALS 1 5 7 9",
            b"BDREFUSALS 1 5 7\n",
            b"BDREFUSALS 1 5 7 9 1\n",
            b"BDREFUSALS 2 5 7 9\n",
            b"BDREFUSALS 1 -5 7 9\n",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn refill_is_bounded_and_monotonic() {
        let r = refill_ns();
        assert_eq!(refilled(None, 10).units, full());
        let empty = Bucket {
            units: 0,
            last_ns: 100,
            suppressed: 3,
        };
        assert_eq!(refilled(Some(empty), 100 + r).units, r);
        assert_eq!(refilled(Some(empty), 100 + r).suppressed, 3);
        assert_eq!(refilled(Some(empty), u64::MAX).units, full());
        // Last update ahead of the clock (not this boot's): full.
        assert_eq!(refilled(Some(empty), 50).units, full());
        let huge = Bucket {
            units: u64::MAX,
            ..empty
        };
        assert_eq!(refilled(Some(huge), 100).units, full());
    }

    /// The burst, then suppression with a count, then the count handed
    /// to the next recorded refusal (root only: state files are root's).
    #[test]
    fn burst_then_suppressed_count() {
        let Some((_t, dir)) = super::file::tests::dir() else {
            return;
        };
        let uid = 61_999;
        for i in 0..BURST {
            match gate(dir.as_fd(), uid).unwrap() {
                Gate::Record(p) => {
                    assert_eq!(p.suppressed, 0, "refusal {i}");
                    p.commit().unwrap();
                }
                g => panic!("refusal {i}: {g:?}"),
            }
        }
        for i in 0..5 {
            match gate(dir.as_fd(), uid).unwrap() {
                Gate::Suppress { first } => assert_eq!(first, i == 0),
                g => panic!("over the burst: {g:?}"),
            }
        }
        // An uncommitted record (the log failed) changes nothing.
        let name = uid.to_string();
        let d = file::ensure_subdir(dir.as_fd(), Path::new("/x"), REFUSAL_DIR).unwrap();
        let raw = file::read(d.as_fd(), Path::new("/x"), &name, MAX_FILE)
            .unwrap()
            .unwrap();
        let mut b = decode(&raw).unwrap();
        assert_eq!(b.suppressed, 5);
        b.units = full();
        file::replace(d.as_fd(), Path::new("/x"), &name, encode(&b).as_bytes()).unwrap();
        match gate(dir.as_fd(), uid).unwrap() {
            Gate::Record(p) => {
                assert_eq!(p.suppressed, 5);
                drop(p);
            }
            g => panic!("{g:?}"),
        }
        match gate(dir.as_fd(), uid).unwrap() {
            Gate::Record(p) => {
                assert_eq!(p.suppressed, 5, "not committed: still pending");
                p.commit().unwrap();
            }
            g => panic!("{g:?}"),
        }
        match gate(dir.as_fd(), uid).unwrap() {
            Gate::Record(p) => assert_eq!(p.suppressed, 0, "handed over once"),
            g => panic!("{g:?}"),
        }
    }
}
