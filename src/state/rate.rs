//! Rate limits: a token bucket per (rule, uid), `rate = "10/1m"`.
//!
//! A bucket holds up to `count` tokens and refills continuously at
//! `count` per `per`, measured on `CLOCK_BOOTTIME` ([`Clock::mono`]):
//! setting the wall clock has no effect. Each allowed run takes one
//! token; an empty bucket answers [`RateDecision::Limited`] with the time
//! until the next token, and is left unchanged.
//!
//! One file per (rule, uid): `rate/<h>.bucket` with its lock
//! `rate/<h>.lock`, where `<h>` is the first 16 bytes (hex) of
//! BLAKE3("belladonna-rate\0" rule "\0" uid-LE). The file repeats the
//! rule and uid (a mismatch is an error) and the boot id: a bucket from
//! another boot (the boottime clock restarted) starts full; a bucket of
//! this boot whose last update is ahead of the clock is corrupt. Counts
//! are exact integers: one token is `per` in nanoseconds of "units", the
//! refill adds `count` units per elapsed nanosecond.
//!
//! File format (little endian): `"BDRATE\x00\x01"`, boot id `[u8; 16]`,
//! uid u32, rule length u16 + rule bytes, count u32, per_ns u64, units
//! u128, last boottime ns u64, BLAKE3 of all preceding bytes.
#![forbid(unsafe_code)]

use super::StateError;
use super::clock::Clock;
use super::file;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Subdirectory of the state directory holding the buckets.
pub const RATE_DIR: &str = "rate";
/// Longest period accepted by [`parse_rate`].
pub const MAX_PER: Duration = Duration::from_secs(366 * 86400);
/// Longest rule name stored in a bucket.
pub const MAX_RULE: usize = 256;

const MAGIC: &[u8; 8] = b"BDRATE\x00\x01";
const SUM: usize = 32;
const MAX_FILE: u64 = (8 + 16 + 4 + 2 + MAX_RULE + 4 + 8 + 16 + 8 + SUM) as u64;

/// `count` runs per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.per.as_secs();
        let (n, u) = if s.is_multiple_of(86400) {
            (s / 86400, 'd')
        } else if s.is_multiple_of(3600) {
            (s / 3600, 'h')
        } else if s.is_multiple_of(60) {
            (s / 60, 'm')
        } else {
            (s, 's')
        };
        write!(f, "{}/{n}{u}", self.count)
    }
}

/// Parse `COUNT/[N]UNIT` (unit `s`, `m`, `h` or `d`; N defaults to 1):
/// `"10/1m"`, `"3/h"`, `"100/30s"`. COUNT is 1 to 2^32-1, the period is
/// 1 s to 366 d. No spaces, signs or leading zeros.
pub fn parse_rate(s: &str) -> Result<Rate, String> {
    let bad = |why: &str| {
        format!("rate {s:?}: {why} (expected COUNT/[N]UNIT, e.g. \"10/1m\"; units s, m, h, d)")
    };
    let (c, p) = s.split_once('/').ok_or_else(|| bad("no '/'"))?;
    let count = digits(c).ok_or_else(|| bad("count is not a number"))?;
    let count = u32::try_from(count).map_err(|_| bad("count too large"))?;
    if count == 0 {
        return Err(bad("count must be at least 1"));
    }
    let unit = p.chars().last().ok_or_else(|| bad("no period"))?;
    let mult: u64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        _ => return Err(bad("unknown unit")),
    };
    let n = &p[..p.len() - unit.len_utf8()];
    let n = if n.is_empty() {
        1
    } else {
        digits(n).ok_or_else(|| bad("period is not a number"))?
    };
    if n == 0 {
        return Err(bad("period must be positive"));
    }
    let secs = n
        .checked_mul(mult)
        .filter(|x| *x <= MAX_PER.as_secs())
        .ok_or_else(|| bad("period longer than 366d"))?;
    Ok(Rate {
        count,
        per: Duration::from_secs(secs),
    })
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// The answer of [`take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// A token was taken: run.
    Allowed,
    /// The bucket is empty: refuse; the next token comes after
    /// `retry_after`.
    Limited { retry_after: Duration },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Bucket {
    boot_id: [u8; 16],
    uid: u32,
    rule: Vec<u8>,
    count: u32,
    per_ns: u64,
    units: u128,
    last_ns: u64,
}

fn shown_dir() -> PathBuf {
    Path::new(crate::base::paths::RUN_DIR).join(RATE_DIR)
}

fn per_ns(r: &Rate) -> Result<u64, StateError> {
    let ns = u64::try_from(r.per.as_nanos()).unwrap_or(u64::MAX);
    if r.count == 0 || ns == 0 || r.per > MAX_PER {
        return Err(StateError(format!(
            "rate {}/{:?}: count and period must be positive (period at most 366d)",
            r.count, r.per
        )));
    }
    Ok(ns)
}

/// The bucket's file stem for (rule, uid).
pub fn bucket_stem(rule: &str, uid: u32) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"belladonna-rate\0");
    h.update(rule.as_bytes());
    h.update(b"\0");
    h.update(&uid.to_le_bytes());
    crate::base::hex::encode(&h.finalize().as_bytes()[..16])
}

/// Take one token from the bucket of (`rule`, `uid`) for `limit`.
pub fn take(
    state_dir: BorrowedFd<'_>,
    rule: &str,
    uid: u32,
    limit: &Rate,
    clock: &Clock,
) -> Result<RateDecision, StateError> {
    let pns = per_ns(limit)?;
    if rule.is_empty() || rule.len() > MAX_RULE {
        return Err(StateError(format!(
            "rate limit: rule name must be 1 to {MAX_RULE} bytes"
        )));
    }
    let sd = shown_dir();
    let dir = file::ensure_subdir(state_dir, Path::new(crate::base::paths::RUN_DIR), RATE_DIR)?;
    let stem = bucket_stem(rule, uid);
    let _l = file::lock(
        dir.as_fd(),
        &sd,
        &format!("{stem}.lock"),
        file::LOCK_TIMEOUT,
    )?;
    let name = format!("{stem}.bucket");
    let now_ns = u64::try_from(clock.mono.as_nanos()).unwrap_or(u64::MAX);
    let stored = match file::read(dir.as_fd(), &sd, &name, MAX_FILE)? {
        None => None,
        Some(b) => Some(decode(&b).map_err(|why| corrupt(&sd, &name, &why))?),
    };
    let full = limit.count as u128 * pns as u128;
    let mut b = match stored {
        Some(b) if b.boot_id == clock.boot_id => {
            if b.uid != uid || b.rule != rule.as_bytes() {
                return Err(corrupt(&sd, &name, "holds another rule or uid"));
            }
            if b.last_ns > now_ns {
                return Err(corrupt(
                    &sd,
                    &name,
                    "last update is ahead of the boottime clock",
                ));
            }
            // Refill since the last update; a changed limit keeps the
            // whole tokens left (never more than the new capacity).
            let units = if b.count == limit.count && b.per_ns == pns {
                b.units
            } else {
                (b.units / b.per_ns.max(1) as u128) * pns as u128
            };
            let refill = (now_ns - b.last_ns) as u128 * limit.count as u128;
            Bucket {
                count: limit.count,
                per_ns: pns,
                units: units.saturating_add(refill).min(full),
                last_ns: now_ns,
                ..b
            }
        }
        // None, or a bucket from another boot: start full.
        _ => Bucket {
            boot_id: clock.boot_id,
            uid,
            rule: rule.as_bytes().to_vec(),
            count: limit.count,
            per_ns: pns,
            units: full,
            last_ns: now_ns,
        },
    };
    if b.units < pns as u128 {
        let missing = pns as u128 - b.units;
        let ns = missing.div_ceil(limit.count as u128);
        let retry_after = Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX));
        return Ok(RateDecision::Limited { retry_after });
    }
    b.units -= pns as u128;
    file::replace(dir.as_fd(), &sd, &name, &encode(&b))?;
    Ok(RateDecision::Allowed)
}

fn corrupt(sd: &Path, name: &str, why: &str) -> StateError {
    StateError(format!(
        "{}: corrupt rate bucket ({why}); remove it to reset this limit",
        sd.join(name).display()
    ))
}

fn encode(b: &Bucket) -> Vec<u8> {
    let mut v = Vec::with_capacity(MAX_FILE as usize);
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&b.boot_id);
    v.extend_from_slice(&b.uid.to_le_bytes());
    // The rule length is checked (<= MAX_RULE) before a bucket is made.
    v.extend_from_slice(&u16::try_from(b.rule.len()).unwrap_or(0).to_le_bytes());
    v.extend_from_slice(&b.rule);
    v.extend_from_slice(&b.count.to_le_bytes());
    v.extend_from_slice(&b.per_ns.to_le_bytes());
    v.extend_from_slice(&b.units.to_le_bytes());
    v.extend_from_slice(&b.last_ns.to_le_bytes());
    let s = blake3::hash(&v);
    v.extend_from_slice(s.as_bytes());
    v
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated".into());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], String> {
        self.take(N)?
            .try_into()
            .map_err(|_| "truncated".to_string())
    }
}

fn decode(v: &[u8]) -> Result<Bucket, String> {
    if v.len() < MAGIC.len() + SUM {
        return Err("truncated".into());
    }
    let (body, sum) = v.split_at(v.len() - SUM);
    if blake3::hash(body).as_bytes() != sum {
        return Err("checksum mismatch (truncated or altered)".into());
    }
    let mut r = Reader(body);
    if r.take(8)? != MAGIC {
        return Err("bad magic".into());
    }
    let boot_id = r.arr::<16>()?;
    let uid = u32::from_le_bytes(r.arr()?);
    let len = u16::from_le_bytes(r.arr()?) as usize;
    if len == 0 || len > MAX_RULE {
        return Err("bad rule length".into());
    }
    let rule = r.take(len)?.to_vec();
    let count = u32::from_le_bytes(r.arr()?);
    let per_ns = u64::from_le_bytes(r.arr()?);
    let units = u128::from_le_bytes(r.arr()?);
    let last_ns = u64::from_le_bytes(r.arr()?);
    if !r.0.is_empty() {
        return Err("trailing bytes".into());
    }
    if count == 0 || per_ns == 0 || units > count as u128 * per_ns as u128 {
        return Err("inconsistent counts".into());
    }
    Ok(Bucket {
        boot_id,
        uid,
        rule,
        count,
        per_ns,
        units,
        last_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::file::tests::dir;
    use proptest::prelude::*;

    const B1: [u8; 16] = [1; 16];

    fn at(wall: u64, mono_ms: u64) -> Clock {
        Clock::unanchored(wall, Duration::from_millis(mono_ms), B1)
    }

    #[test]
    fn parse() {
        let ok = [
            ("10/1m", 10, 60),
            ("10/m", 10, 60),
            ("3/h", 3, 3600),
            ("100/30s", 100, 30),
            ("1/1d", 1, 86400),
            ("4294967295/366d", u32::MAX, 366 * 86400),
        ];
        for (s, c, p) in ok {
            assert_eq!(
                parse_rate(s),
                Ok(Rate {
                    count: c,
                    per: Duration::from_secs(p)
                }),
                "{s}"
            );
        }
        for s in [
            "",
            "10",
            "10/",
            "/1m",
            "0/1m",
            "10/0m",
            "10/1w",
            "10/1M",
            " 10/1m",
            "10/1m ",
            "+1/1m",
            "-1/1m",
            "01/1m",
            "10/01m",
            "4294967296/1m",
            "1/367d",
            "1/99999999999999999999d",
            "1/1é",
            "1/1m/1s",
            "1.5/1m",
        ] {
            let e = parse_rate(s).expect_err(s);
            assert!(e.starts_with(&format!("rate {s:?}: ")), "{e}");
        }
        for s in ["10/1m", "3/1h", "100/30s", "1/1d", "5/90s", "2/36h"] {
            let r = parse_rate(s).expect("parse");
            assert_eq!(parse_rate(&r.to_string()), Ok(r));
        }
        assert_eq!(parse_rate("5/90s").expect("p").to_string(), "5/90s");
        assert_eq!(parse_rate("2/120m").expect("p").to_string(), "2/2h");
    }

    #[test]
    fn bucket_limits_and_refills() {
        let Some((_d, fd)) = dir() else { return };
        let f = fd.as_fd();
        let r = parse_rate("3/1m").expect("rate");
        for _ in 0..3 {
            assert_eq!(
                take(f, "web", 1000, &r, &at(0, 5_000)).expect("take"),
                RateDecision::Allowed
            );
        }
        assert_eq!(
            take(f, "web", 1000, &r, &at(0, 5_000)).expect("take"),
            RateDecision::Limited {
                retry_after: Duration::from_secs(20)
            }
        );
        // Other uid and other rule: own buckets.
        assert_eq!(
            take(f, "web", 1001, &r, &at(0, 5_000)).expect("take"),
            RateDecision::Allowed
        );
        assert_eq!(
            take(f, "db", 1000, &r, &at(0, 5_000)).expect("take"),
            RateDecision::Allowed
        );
        // 15 s later: 5 s to go.
        assert_eq!(
            take(f, "web", 1000, &r, &at(0, 20_000)).expect("take"),
            RateDecision::Limited {
                retry_after: Duration::from_secs(5)
            }
        );
        assert_eq!(
            take(f, "web", 1000, &r, &at(0, 25_000)).expect("take"),
            RateDecision::Allowed
        );
        // Wall clock moved (either way): no effect, only boottime counts.
        assert!(matches!(
            take(f, "web", 1000, &r, &at(1_900_000_000, 25_000)).expect("take"),
            RateDecision::Limited { .. }
        ));
        // A long pause refills to the capacity, not more.
        for _ in 0..3 {
            assert_eq!(
                take(f, "web", 1000, &r, &at(0, 3_600_000)).expect("take"),
                RateDecision::Allowed
            );
        }
        assert!(matches!(
            take(f, "web", 1000, &r, &at(0, 3_600_000)).expect("take"),
            RateDecision::Limited { .. }
        ));
        // A new boot starts full.
        let c = Clock::unanchored(0, Duration::from_millis(1), [2; 16]);
        assert_eq!(
            take(f, "web", 1000, &r, &c).expect("take"),
            RateDecision::Allowed
        );
    }

    #[test]
    fn changed_limit_keeps_whole_tokens() {
        let Some((_d, fd)) = dir() else { return };
        let f = fd.as_fd();
        let r = parse_rate("5/1h").expect("rate");
        for _ in 0..4 {
            take(f, "x", 0, &r, &at(0, 1000)).expect("take");
        }
        // One token left; under 1/1m the bucket (capacity 1) has 1.
        let r2 = parse_rate("1/1m").expect("rate");
        assert_eq!(
            take(f, "x", 0, &r2, &at(0, 1000)).expect("take"),
            RateDecision::Allowed
        );
        assert!(matches!(
            take(f, "x", 0, &r2, &at(0, 1000)).expect("take"),
            RateDecision::Limited { .. }
        ));
    }

    #[test]
    fn corrupt_bucket_is_an_error() {
        let Some((d, fd)) = dir() else { return };
        let f = fd.as_fd();
        let r = parse_rate("2/1m").expect("rate");
        take(f, "web", 7, &r, &at(0, 10_000)).expect("take");
        let p = d
            .path()
            .join(RATE_DIR)
            .join(format!("{}.bucket", bucket_stem("web", 7)));
        let good = std::fs::read(&p).expect("read");
        for (bytes, why) in [
            (good[..good.len() - 1].to_vec(), "checksum mismatch"),
            (good[..5].to_vec(), "truncated"),
            (Vec::new(), "truncated"),
        ] {
            std::fs::write(&p, &bytes).expect("write");
            let e = take(f, "web", 7, &r, &at(0, 10_000)).expect_err("corrupt");
            assert!(e.to_string().contains("corrupt rate bucket"), "{e}");
            assert!(e.to_string().contains(why), "{why}: {e}");
            assert_eq!(std::fs::read(&p).expect("read"), bytes);
        }
        std::fs::write(&p, &good).expect("write");
        let e = take(f, "web", 7, &r, &at(0, 9_000)).expect_err("ahead");
        assert!(e.to_string().contains("ahead of the boottime clock"), "{e}");
        // A bucket copied under another (rule, uid)'s name.
        let q = d
            .path()
            .join(RATE_DIR)
            .join(format!("{}.bucket", bucket_stem("web", 8)));
        crate::state::file::tests::put(&q, &good);
        let e = take(f, "web", 8, &r, &at(0, 10_000)).expect_err("other");
        assert!(e.to_string().contains("another rule or uid"), "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        /// Over any window, no more than count + count * window / per
        /// runs are allowed, whatever the wall clock does; and a caller
        /// told to retry after t is allowed at t.
        #[test]
        fn never_more_than_the_rate(count in 1u32..5, per_s in 1u64..120, steps in proptest::collection::vec((0u64..30_000, any::<u64>()), 1..60)) {
            let Some((_d, fd)) = dir() else { return Ok(()) };
            let f = fd.as_fd();
            let r = Rate { count, per: Duration::from_secs(per_s) };
            let mut mono = 1_000u64;
            let start = mono;
            let mut allowed = 0u64;
            for (dt, wall) in steps {
                mono += dt;
                match take(f, "p", 1, &r, &at(wall, mono)).map_err(|e| TestCaseError::fail(e.to_string()))? {
                    RateDecision::Allowed => allowed += 1,
                    RateDecision::Limited { retry_after } => {
                        prop_assert!(retry_after > Duration::ZERO && retry_after <= r.per);
                        let later = mono + u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX) + 1;
                        prop_assert_eq!(take(f, "p", 1, &r, &at(0, later)).map_err(|e| TestCaseError::fail(e.to_string()))?, RateDecision::Allowed);
                        allowed += 1;
                        mono = later;
                    }
                }
                let window_ms = mono - start;
                let bound = count as u64 + (count as u64 * window_ms) / (per_s * 1000);
                prop_assert!(allowed <= bound, "{} allowed > {}", allowed, bound);
            }
        }
    }
}
