//! Stage timings and the caller's trace context, as recorded in each
//! `accept`/`reject` record (DESIGN section 11; the exact definitions are
//! in docs/audit-format.md, "Timing and trace context").
//!
//! * [`Stopwatch`]: CLOCK_MONOTONIC marks at the stage boundaries of one
//!   bdexec call (`recv` -> `auth` -> `validate`); [`Stopwatch::timing`]
//!   reads the clock once and attributes the time so far, so a refusal in
//!   the middle of a stage is charged to that stage and the stages not
//!   reached are 0.
//! * [`Timing::append`] is filled in by the writer (see
//!   [`super::writer::append`]): from the start of the append to the
//!   encoding of this line under the lock. A record cannot hold the time
//!   of its own write and fdatasync.
//! * [`traceparent`]: the strict W3C `traceparent` check. A malformed
//!   value is recorded as `"invalid"`, never its bytes.
#![forbid(unsafe_code)]

use std::cell::Cell;
use std::time::{Duration, Instant};

/// The recorded durations, in microseconds (`"timing"` in the record).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    pub recv: u64,
    pub auth: u64,
    pub validate: u64,
    pub append: u64,
    /// Not part of the `"timing"` object: the write + fdatasync time of
    /// the record before this one, as its writer noted it (written as the
    /// top-level `"sync_prev_us"`, docs/audit-format.md 1.6). A record
    /// cannot time its own durable write; the next one carries it.
    pub sync_prev: Option<u64>,
}

/// The key names, in the order written (part of the record format).
pub const KEYS: [&str; 4] = ["recv", "auth", "validate", "append"];

impl Timing {
    /// The values in [`KEYS`] order.
    pub fn values(&self) -> [u64; 4] {
        [self.recv, self.auth, self.validate, self.append]
    }
}

/// Whole microseconds, saturating.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The stage boundaries of one call on the monotonic clock.
/// Marks take `&self` (interior mutability) so they fit a pipeline that
/// holds shared borrows of its context.
#[derive(Debug, Clone)]
pub struct Stopwatch {
    start: Instant,
    recv_end: Cell<Option<Instant>>,
    auth_end: Cell<Option<Instant>>,
}

impl Stopwatch {
    /// Start of `recv` (the process's first step).
    pub fn start() -> Self {
        Stopwatch {
            start: Instant::now(),
            recv_end: Cell::new(None),
            auth_end: Cell::new(None),
        }
    }

    /// `recv` is over; `auth` begins (the first mark counts).
    pub fn end_recv(&self) {
        if self.recv_end.get().is_none() {
            self.recv_end.set(Some(Instant::now()));
        }
    }

    /// `auth` is over; `validate` begins (the first mark counts).
    pub fn end_auth(&self) {
        self.end_recv();
        if self.auth_end.get().is_none() {
            self.auth_end.set(Some(Instant::now()));
        }
    }

    /// The timings up to now (`append` 0: the writer fills it).
    pub fn timing(&self) -> Timing {
        Self::split(
            self.start,
            self.recv_end.get(),
            self.auth_end.get(),
            Instant::now(),
        )
    }

    fn split(start: Instant, r: Option<Instant>, a: Option<Instant>, now: Instant) -> Timing {
        let d = |from: Instant, to: Instant| micros(to.saturating_duration_since(from));
        match (r, a) {
            (None, _) => Timing {
                recv: d(start, now),
                ..Timing::default()
            },
            (Some(r), None) => Timing {
                recv: d(start, r),
                auth: d(r, now),
                ..Timing::default()
            },
            (Some(r), Some(a)) => Timing {
                recv: d(start, r),
                auth: d(r, a),
                validate: d(a, now),
                ..Timing::default()
            },
        }
    }
}

/// The value recorded for a malformed `TRACEPARENT`.
pub const INVALID: &str = "invalid";

/// Check a W3C trace-context `traceparent` strictly: exactly 55 bytes,
/// `00-<32 lowercase hex, not all zero>-<16 lowercase hex, not all
/// zero>-<2 lowercase hex>`. Returns the value to record: the header
/// itself when valid, else [`INVALID`].
pub fn traceparent(raw: &[u8]) -> &str {
    fn hex(b: &[u8]) -> bool {
        b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
    }
    fn nonzero(b: &[u8]) -> bool {
        b.iter().any(|c| *c != b'0')
    }
    let ok = raw.len() == 55
        && raw.starts_with(b"00-")
        && raw[35] == b'-'
        && raw[52] == b'-'
        && hex(&raw[3..35])
        && nonzero(&raw[3..35])
        && hex(&raw[36..52])
        && nonzero(&raw[36..52])
        && hex(&raw[53..55]);
    match std::str::from_utf8(raw) {
        Ok(s) if ok => s,
        _ => INVALID,
    }
}

/// Is `s` a value a record may carry in `"traceparent"`?
pub fn traceparent_recordable(s: &[u8]) -> bool {
    s == INVALID.as_bytes() || traceparent(s) != INVALID
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn strict_traceparent() {
        assert_eq!(traceparent(GOOD.as_bytes()), GOOD);
        let bad: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            GOOD.as_bytes()[..54].to_vec(),
            format!("{GOOD}0").into_bytes(),
            GOOD.replacen("00-", "01-", 1).into_bytes(),
            GOOD.replacen("00-", "ff-", 1).into_bytes(),
            GOOD.to_uppercase().into_bytes(),
            format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)).into_bytes(),
            format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01", "0".repeat(16)).into_bytes(),
            GOOD.replace('-', "_").into_bytes(),
            GOOD.replacen("4bf9", "4bg9", 1).into_bytes(),
            GOOD.replacen("-01", "-0x", 1).into_bytes(),
            GOOD.replacen("4b", "\n\"", 1).into_bytes(),
            {
                let mut v = GOOD.as_bytes().to_vec();
                v[10] = 0xff;
                v
            },
        ];
        for b in bad {
            assert_eq!(traceparent(&b), INVALID, "{}", String::from_utf8_lossy(&b));
        }
        assert!(traceparent_recordable(b"invalid"));
        assert!(traceparent_recordable(GOOD.as_bytes()));
        assert!(!traceparent_recordable(b"00-zz"));
    }

    /// Every reader takes timed records: `show` (human and `--json`,
    /// which passes the line unchanged) and the verifier.
    #[test]
    fn readers_take_timed_records() {
        use crate::audit::chain::GENESIS;
        use crate::audit::record::encode_record;
        use crate::audit::testutil::sample;
        let argv = vec![b"id".to_vec()];
        let mut r = sample(&argv);
        r.timing = Some(Timing {
            recv: 10,
            append: 40,
            ..Timing::default()
        });
        r.traceparent = Some(GOOD);
        let mut line = Vec::new();
        encode_record(&mut line, &r, 1, &GENESIS);
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("log");
        std::fs::write(&p, &line).expect("write");
        let mut json = Vec::new();
        crate::audit::show::show(&p, true, &mut json).expect("show --json");
        assert_eq!(json, line);
        let mut human = Vec::new();
        crate::audit::show::show(&p, false, &mut human).expect("show");
        let human = String::from_utf8(human).expect("utf8");
        assert!(
            human.ends_with("#1 accept alice -> root: /usr/bin/systemctl [rule web] matched\n"),
            "{human}"
        );
        crate::audit::verify::verify_file(&p).expect("verifies");
    }

    #[test]
    fn stages_split_the_time() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        assert_eq!(
            Stopwatch::split(t0, None, None, ms(3)),
            Timing {
                recv: 3000,
                ..Timing::default()
            }
        );
        assert_eq!(
            Stopwatch::split(t0, Some(ms(1)), None, ms(4)),
            Timing {
                recv: 1000,
                auth: 3000,
                ..Timing::default()
            }
        );
        assert_eq!(
            Stopwatch::split(t0, Some(ms(1)), Some(ms(5)), ms(7)),
            Timing {
                recv: 1000,
                auth: 4000,
                validate: 2000,
                append: 0,
                sync_prev: None,
            }
        );
        let s = Stopwatch::start();
        s.end_auth();
        let t = s.timing();
        assert_eq!(t.append, 0);
    }
}
