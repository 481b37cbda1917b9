//! The clock for expiry checks: wall time that cannot be moved back.
//!
//! A per-boot anchor `clock.anchor` in the state directory pairs a wall
//! time with a `CLOCK_BOOTTIME` reading and the kernel's boot id. The
//! effective now is `max(wall now, anchor_wall + (boottime now -
//! anchor_boottime))`: setting the wall clock back does not move it back,
//! so an expired token stays expired and a used nonce stays used.
//!
//! Why `CLOCK_BOOTTIME` and not `CLOCK_MONOTONIC`: both are per boot,
//! start near zero and cannot be set (not even by root, unlike the wall
//! clock). `CLOCK_MONOTONIC` stops while the machine is suspended, so
//! after a suspend the anchor-derived time would lag behind real time by
//! the suspend's length, every wall/monotonic comparison would report a
//! false skew, and a wall clock set back after a resume could revive a
//! token that expired during the suspend. `CLOCK_BOOTTIME` counts the
//! suspend and has neither problem.
//!
//! Skew: the offset `wall - boottime` is compared with the anchor's; a
//! difference over 2 s is reported in [`Clock::skew`] (positive: the wall
//! clock was set forward). A forward jump over 1 s moves the anchor
//! forward (never back), so the effective now never goes backwards by
//! more than 1 s between calls and a forward jump is reported once; a
//! backward jump is reported on every call until the wall clock is fixed.
//!
//! A corrupt or truncated anchor is an error (the remedy, after checking
//! the clock, is for root to remove the file), never a silent reset; an
//! anchor from another boot (different boot id) is replaced and the
//! replacement is reported in [`Clock::anchor`].
#![forbid(unsafe_code)]

use super::StateError;
use super::file;
use nix::time::{ClockId, clock_gettime};
use std::fmt;
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The anchor's file name in the state directory.
pub const ANCHOR_NAME: &str = "clock.anchor";
/// Its lock file.
pub const ANCHOR_LOCK: &str = "clock.lock";
/// A wall/boottime offset change over this is reported as skew.
pub const SKEW_REPORT: Duration = Duration::from_secs(2);
/// A forward jump over this moves the anchor forward.
pub const ADVANCE_AFTER: Duration = Duration::from_secs(1);

const MAGIC: &str = "belladonna-clock-anchor 1";
const MAX_ANCHOR: u64 = 512;
const NS: i128 = 1_000_000_000;

/// One reading of the system clocks (injectable for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Wall time since the epoch (`CLOCK_REALTIME`; before 1970 reads 0).
    pub wall: Duration,
    /// `CLOCK_BOOTTIME`.
    pub mono: Duration,
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot_id: [u8; 16],
}

impl Sample {
    /// Read the system clocks and the boot id.
    pub fn system() -> Result<Sample, StateError> {
        let boot_id = read_boot_id()?;
        let ts = clock_gettime(ClockId::CLOCK_BOOTTIME)
            .map_err(|e| StateError(format!("clock_gettime(CLOCK_BOOTTIME): {}", e.desc())))?;
        let mono = Duration::from(ts);
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Ok(Sample {
            wall,
            mono,
            boot_id,
        })
    }
}

/// What happened to the anchor during [`now`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorStatus {
    /// The existing anchor of this boot was used.
    Existing,
    /// There was none: one was created from this reading.
    Created,
    /// The anchor was from another boot and was replaced.
    Replaced {
        /// The boot id found in the old anchor.
        previous_boot: [u8; 16],
    },
    /// The wall clock had jumped forward: the anchor was moved forward.
    Advanced,
}

/// The time to use for expiry checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Wall clock now, seconds since the epoch.
    pub wall: u64,
    /// `CLOCK_BOOTTIME` now (use it for every duration).
    pub mono: Duration,
    /// `max(wall, anchor-derived wall)`, seconds since the epoch: compare
    /// token expiry (`exp >= effective_now` = still valid) with this.
    pub effective_now: u64,
    /// Wall/boottime offset change since the anchor, in seconds, when it
    /// exceeds 2 s (positive: the wall clock was set forward).
    pub skew: Option<i64>,
    /// The boot id of this boot.
    pub boot_id: [u8; 16],
    /// What happened to the anchor.
    pub anchor: AnchorStatus,
}

impl Clock {
    /// A clock with no anchor history (for callers that construct one
    /// directly, e.g. tests): effective now = wall.
    pub fn unanchored(wall: u64, mono: Duration, boot_id: [u8; 16]) -> Clock {
        Clock {
            wall,
            mono,
            effective_now: wall,
            skew: None,
            boot_id,
            anchor: AnchorStatus::Existing,
        }
    }
}

/// The anchor as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Anchor {
    boot_id: [u8; 16],
    wall_ns: u64,
    mono_ns: u64,
}

fn shown() -> std::path::PathBuf {
    Path::new(crate::base::paths::RUN_DIR).join(ANCHOR_NAME)
}

/// Read the clocks and compute the effective now against the anchor in
/// `state_dir` (creating, replacing or advancing it as needed).
///
/// The clocks are read after each read of the anchor, never before: a
/// concurrent call may write an anchor (created or advanced) at any
/// moment, and a reading taken before it would look like an anchor from
/// the future (refused as corrupt).
pub fn now(state_dir: BorrowedFd<'_>) -> Result<Clock, StateError> {
    now_sampled(state_dir, &Sample::system)
}

/// [`now`] with an injected reading.
pub fn now_from(state_dir: BorrowedFd<'_>, s: &Sample) -> Result<Clock, StateError> {
    now_sampled(state_dir, &|| Ok(*s))
}

fn now_sampled(
    state_dir: BorrowedFd<'_>,
    sample: &dyn Fn() -> Result<Sample, StateError>,
) -> Result<Clock, StateError> {
    let run = Path::new(crate::base::paths::RUN_DIR);
    // Fast path without the lock: the anchor is replaced atomically.
    if let Some(a) = load(state_dir)? {
        let s = sample()?;
        if a.boot_id == s.boot_id {
            let c = evaluate(&a, &s)?;
            if !needs_advance(&a, &s) {
                return Ok(c);
            }
        }
    }
    let _l = file::lock(state_dir, run, ANCHOR_LOCK, file::LOCK_TIMEOUT)?;
    let found = load(state_dir)?;
    let s = &sample()?;
    let (anchor, status) = match found {
        None => (None, AnchorStatus::Created),
        Some(a) if a.boot_id != s.boot_id => (
            None,
            AnchorStatus::Replaced {
                previous_boot: a.boot_id,
            },
        ),
        Some(a) => (Some(a), AnchorStatus::Existing),
    };
    let fresh = Anchor {
        boot_id: s.boot_id,
        wall_ns: dur_ns(s.wall),
        mono_ns: dur_ns(s.mono),
    };
    match anchor {
        None => {
            file::replace(state_dir, run, ANCHOR_NAME, &encode(&fresh))?;
            let mut c = evaluate(&fresh, s)?;
            c.anchor = status;
            Ok(c)
        }
        Some(a) => {
            let mut c = evaluate(&a, s)?;
            if needs_advance(&a, s) {
                file::replace(state_dir, run, ANCHOR_NAME, &encode(&fresh))?;
                c.anchor = AnchorStatus::Advanced;
            }
            Ok(c)
        }
    }
}

fn dur_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `(wall - mono) - (anchor_wall - anchor_mono)` in nanoseconds.
fn offset_change(a: &Anchor, s: &Sample) -> i128 {
    let now = dur_ns(s.wall) as i128 - dur_ns(s.mono) as i128;
    let then = a.wall_ns as i128 - a.mono_ns as i128;
    now - then
}

fn needs_advance(a: &Anchor, s: &Sample) -> bool {
    offset_change(a, s) > ADVANCE_AFTER.as_nanos() as i128
}

fn evaluate(a: &Anchor, s: &Sample) -> Result<Clock, StateError> {
    let mono_ns = dur_ns(s.mono);
    if mono_ns < a.mono_ns {
        return Err(StateError(format!(
            "{}: anchor boottime {} ns is ahead of the clock ({} ns) in the same boot \
             (corrupt or forged anchor; remove it after checking the clock)",
            shown().display(),
            a.mono_ns,
            mono_ns
        )));
    }
    let derived_ns = (a.wall_ns as u128).saturating_add((mono_ns - a.mono_ns) as u128);
    let derived = u64::try_from(derived_ns / NS as u128).unwrap_or(u64::MAX);
    let wall = s.wall.as_secs();
    let d = offset_change(a, s);
    let skew = (d.abs() > SKEW_REPORT.as_nanos() as i128)
        .then(|| i64::try_from(d / NS).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX }));
    Ok(Clock {
        wall,
        mono: s.mono,
        effective_now: wall.max(derived),
        skew,
        boot_id: s.boot_id,
        anchor: AnchorStatus::Existing,
    })
}

fn load(state_dir: BorrowedFd<'_>) -> Result<Option<Anchor>, StateError> {
    let run = Path::new(crate::base::paths::RUN_DIR);
    match file::read(state_dir, run, ANCHOR_NAME, MAX_ANCHOR)? {
        None => Ok(None),
        Some(b) => decode(&b).map(Some).map_err(|why| {
            StateError(format!(
                "{}: corrupt clock anchor ({why}); refusing to reset it silently \
                 (it guards token expiry and replay): remove it after checking the clock",
                shown().display()
            ))
        }),
    }
}

fn body(a: &Anchor) -> String {
    format!(
        "{MAGIC}\nboot_id {}\nwall_ns {}\nmono_ns {}\n",
        fmt_uuid(&a.boot_id),
        a.wall_ns,
        a.mono_ns
    )
}

fn encode(a: &Anchor) -> Vec<u8> {
    let b = body(a);
    let sum = blake3::hash(b.as_bytes());
    format!("{b}sum {}\n", sum.to_hex()).into_bytes()
}

fn decode(b: &[u8]) -> Result<Anchor, String> {
    let s = std::str::from_utf8(b).map_err(|_| "not UTF-8".to_string())?;
    if !s.ends_with('\n') {
        return Err("truncated: no final newline".into());
    }
    let lines: Vec<&str> = s[..s.len() - 1].split('\n').collect();
    if lines.len() != 5 {
        return Err(format!("{} lines, expected 5", lines.len()));
    }
    if lines[0] != MAGIC {
        return Err("bad header".into());
    }
    let field = |i: usize, k: &str| -> Result<&str, String> {
        lines[i]
            .strip_prefix(k)
            .and_then(|v| v.strip_prefix(' '))
            .ok_or_else(|| format!("line {}: expected `{k}`", i + 1))
    };
    let boot_id = parse_uuid(field(1, "boot_id")?).ok_or("bad boot_id")?;
    let num = |i: usize, k: &str| -> Result<u64, String> {
        let v = field(i, k)?;
        if v.is_empty()
            || !v.bytes().all(|c| c.is_ascii_digit())
            || (v.len() > 1 && v.starts_with('0'))
        {
            return Err(format!("bad {k}"));
        }
        v.parse().map_err(|_| format!("bad {k}"))
    };
    let a = Anchor {
        boot_id,
        wall_ns: num(2, "wall_ns")?,
        mono_ns: num(3, "mono_ns")?,
    };
    let sum = field(4, "sum")?;
    if sum != blake3::hash(body(&a).as_bytes()).to_hex().as_str() {
        return Err("checksum mismatch".into());
    }
    Ok(a)
}

fn fmt_uuid(b: &[u8; 16]) -> String {
    let h = crate::base::hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Parse a lowercase or uppercase `8-4-4-4-12` hex UUID.
fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut n = 0;
    let mut i = 0;
    while i < 36 {
        if matches!(i, 8 | 13 | 18 | 23) {
            if b[i] != b'-' {
                return None;
            }
            i += 1;
            continue;
        }
        let hi = (b[i] as char).to_digit(16)?;
        let lo = (*b.get(i + 1)? as char).to_digit(16)?;
        *out.get_mut(n)? = (hi * 16 + lo) as u8;
        n += 1;
        i += 2;
    }
    (n == 16).then_some(out)
}

/// A boot id formatted as the kernel shows it.
pub struct BootId<'a>(pub &'a [u8; 16]);

impl fmt::Display for BootId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&fmt_uuid(self.0))
    }
}

fn read_boot_id() -> Result<[u8; 16], StateError> {
    const P: &str = "/proc/sys/kernel/random/boot_id";
    let s = crate::base::procfs::read_to_string(P).map_err(|e| StateError(format!("{P}: {e}")))?;
    parse_uuid(s.trim_end_matches('\n'))
        .ok_or_else(|| StateError(format!("{P}: not a UUID: {:?}", s.trim_end())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::file::tests::dir;
    use std::os::fd::AsFd;

    const B1: [u8; 16] = [1; 16];
    const B2: [u8; 16] = [2; 16];
    const T0: u64 = 1_700_000_000;

    fn s(wall: u64, mono: u64, boot: [u8; 16]) -> Sample {
        Sample {
            wall: Duration::from_secs(wall),
            mono: Duration::from_secs(mono),
            boot_id: boot,
        }
    }

    #[test]
    fn system_sample() {
        let a = Sample::system().expect("sample");
        let b = Sample::system().expect("sample");
        assert_eq!(a.boot_id, b.boot_id);
        assert!(b.mono >= a.mono);
        let shown = BootId(&a.boot_id).to_string();
        assert_eq!(parse_uuid(&shown), Some(a.boot_id));
        let Some((_d, fd)) = dir() else { return };
        let c = now(fd.as_fd()).expect("now");
        assert_eq!(c.anchor, AnchorStatus::Created);
        let c = now(fd.as_fd()).expect("now");
        assert_eq!(c.anchor, AnchorStatus::Existing);
        assert_eq!(c.skew, None);
    }

    /// Concurrent first calls: each must read the clocks after the anchor
    /// another call may just have written (a reading taken before it
    /// would see an anchor from the future and refuse).
    #[test]
    fn concurrent_first_calls_agree() {
        for _ in 0..40 {
            let Some((_d, fd)) = dir() else { return };
            let barrier = std::sync::Barrier::new(4);
            std::thread::scope(|sc| {
                let hs: Vec<_> = (0..4)
                    .map(|_| {
                        sc.spawn(|| {
                            barrier.wait();
                            now(fd.as_fd())
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().expect("thread").expect("now");
                }
            });
        }
    }

    #[test]
    fn created_then_existing() {
        let Some((_d, fd)) = dir() else { return };
        let c = now_from(fd.as_fd(), &s(T0, 100, B1)).expect("now");
        assert_eq!(c.anchor, AnchorStatus::Created);
        assert_eq!((c.wall, c.effective_now, c.skew), (T0, T0, None));
        let c = now_from(fd.as_fd(), &s(T0 + 10, 110, B1)).expect("now");
        assert_eq!(c.anchor, AnchorStatus::Existing);
        assert_eq!((c.effective_now, c.skew), (T0 + 10, None));
    }

    #[test]
    fn clock_set_back_an_hour() {
        let Some((_d, fd)) = dir() else { return };
        now_from(fd.as_fd(), &s(T0, 100, B1)).expect("now");
        // 60 s later the wall clock is set back by an hour.
        let c = now_from(fd.as_fd(), &s(T0 + 60 - 3600, 160, B1)).expect("now");
        assert_eq!(c.wall, T0 + 60 - 3600);
        assert_eq!(c.effective_now, T0 + 60);
        assert_eq!(c.skew, Some(-3600));
        assert_eq!(c.anchor, AnchorStatus::Existing);
        // Still reported (the anchor never moves back).
        let c = now_from(fd.as_fd(), &s(T0 + 70 - 3600, 170, B1)).expect("now");
        assert_eq!((c.effective_now, c.skew), (T0 + 70, Some(-3600)));
    }

    #[test]
    fn forward_jump_advances_once() {
        let Some((_d, fd)) = dir() else { return };
        now_from(fd.as_fd(), &s(T0, 100, B1)).expect("now");
        let c = now_from(fd.as_fd(), &s(T0 + 3600 + 10, 110, B1)).expect("now");
        assert_eq!((c.effective_now, c.skew), (T0 + 3610, Some(3600)));
        assert_eq!(c.anchor, AnchorStatus::Advanced);
        let c = now_from(fd.as_fd(), &s(T0 + 3620, 120, B1)).expect("now");
        assert_eq!(
            (c.effective_now, c.skew, c.anchor),
            (T0 + 3620, None, AnchorStatus::Existing)
        );
        // Set back to the true time: the effective now does not go back.
        let c = now_from(fd.as_fd(), &s(T0 + 30, 130, B1)).expect("now");
        assert_eq!((c.effective_now, c.skew), (T0 + 3630, Some(-3600)));
    }

    #[test]
    fn small_drift_is_not_skew() {
        let Some((_d, fd)) = dir() else { return };
        now_from(fd.as_fd(), &s(T0, 100, B1)).expect("now");
        let c = now_from(fd.as_fd(), &s(T0 + 8, 110, B1)).expect("now");
        assert_eq!((c.effective_now, c.skew), (T0 + 10, None));
        let c = now_from(fd.as_fd(), &s(T0 + 12, 110, B1)).expect("now");
        assert_eq!((c.effective_now, c.skew), (T0 + 12, None));
        assert_eq!(c.anchor, AnchorStatus::Advanced);
    }

    #[test]
    fn other_boot_is_replaced_and_reported() {
        let Some((_d, fd)) = dir() else { return };
        now_from(fd.as_fd(), &s(T0, 100_000, B1)).expect("now");
        let c = now_from(fd.as_fd(), &s(T0 + 50, 5, B2)).expect("now");
        assert_eq!(c.anchor, AnchorStatus::Replaced { previous_boot: B1 });
        assert_eq!((c.effective_now, c.skew), (T0 + 50, None));
        let c = now_from(fd.as_fd(), &s(T0 + 55, 10, B2)).expect("now");
        assert_eq!(c.anchor, AnchorStatus::Existing);
    }

    #[test]
    fn corrupt_anchor_is_an_error_not_a_reset() {
        let Some((d, fd)) = dir() else { return };
        now_from(fd.as_fd(), &s(T0, 100, B1)).expect("now");
        let p = d.path().join(ANCHOR_NAME);
        let good = std::fs::read(&p).expect("read");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (good[..good.len() - 1].to_vec(), "truncated"),
            (good[..40].to_vec(), "truncated"),
            (Vec::new(), "truncated"),
            (
                String::from_utf8(good.clone())
                    .expect("utf8")
                    .replace("mono_ns 100000000000", "mono_ns 100000000001")
                    .into_bytes(),
                "checksum mismatch",
            ),
            (b"\xff\xfe\n".to_vec(), "not UTF-8"),
            (vec![b'a'; 600], "larger than 512 bytes"),
        ];
        for (bytes, why) in cases {
            std::fs::write(&p, &bytes).expect("write");
            let e = now_from(fd.as_fd(), &s(T0 + 1, 101, B1)).expect_err("corrupt");
            let m = e.to_string();
            assert!(m.contains(why), "{why}: {m}");
            assert!(m.contains("/run/belladonna/clock.anchor"), "{m}");
            // Not reset: the bad bytes are still there.
            assert_eq!(std::fs::read(&p).expect("read"), bytes);
        }
        // Anchor ahead of boottime within one boot.
        let fwd = encode(&Anchor {
            boot_id: B1,
            wall_ns: T0 * 1_000_000_000,
            mono_ns: 500 * 1_000_000_000,
        });
        std::fs::write(&p, fwd).expect("write");
        let e = now_from(fd.as_fd(), &s(T0 + 1, 101, B1)).expect_err("ahead");
        assert!(e.to_string().contains("ahead of the clock"), "{e}");
    }

    #[test]
    fn uuid_round_trip() {
        let u = "5c9a3f4e-0b1d-4e2f-9a8b-7c6d5e4f3a2b";
        let b = parse_uuid(u).expect("uuid");
        assert_eq!(fmt_uuid(&b), u);
        for bad in [
            "",
            "5c9a3f4e0b1d4e2f9a8b7c6d5e4f3a2b",
            "5c9a3f4e-0b1d-4e2f-9a8b-7c6d5e4f3a2g",
            "5c9a3f4e-0b1d-4e2f-9a8b-7c6d5e4f3a2b0",
        ] {
            assert_eq!(parse_uuid(bad), None, "{bad}");
        }
    }
}
