//! Replay guard: namespaced sets of used token nonces.
//!
//! One file per namespace (an isolation domain: tenant or purpose, e.g.
//! `exec`, `unfreeze`), `nonces/<ns>.set` in the state directory, holding
//! (nonce, expiry) pairs, updated under `nonces/<ns>.lock` (deadline) and
//! replaced atomically. Expiries are in effective-now seconds
//! ([`Clock::effective_now`]).
//!
//! Each set also keeps a *watermark*: the highest effective now it was
//! ever used with. [`consume`] evaluates at `max(clock.effective_now,
//! watermark)`, so the set's own time never goes backwards whatever the
//! clocks do: an entry is evicted only once that time is past its expiry,
//! and a token whose expiry is before that time is refused as expired
//! (it might have been evicted already). Hence:
//!
//! * a (nonce, expiry) pair is accepted at most once, ever;
//! * a nonce is not accepted again while an earlier token with it could
//!   still verify at the set's time;
//! * live entries (expiry >= the set's time) are never evicted: a full
//!   set refuses new tokens ([`NonceError::Full`], fail closed);
//! * the set never holds more than `cap` entries after an accepted call.
//!
//! File format (little endian): `"BDNONCE\x02"`, watermark u64, the
//! counters evictions u64 and insertions u64 (metrics: `bdctl metrics`
//! reads them), count u32, `count` entries of nonce `[u8; 16]` + expiry
//! u64 sorted by nonce with no duplicates, then the BLAKE3 hash of all
//! preceding bytes. A version 1 file (`"BDNONCE\x01"`, no counters) is
//! read with both counters 0 and written back as version 2. Anything
//! else (truncation, a flipped bit, unsorted or duplicate entries) is a
//! corrupt-file error, never a reset.
#![forbid(unsafe_code)]

use super::StateError;
use super::clock::Clock;
use super::file;
use crate::policy::names::is_namespace;
use std::collections::BTreeMap;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

/// Subdirectory of the state directory holding the sets.
pub const NONCE_DIR: &str = "nonces";
/// Default capacity of one namespace.
pub const DEFAULT_CAP: usize = 4096;
/// Largest capacity accepted (bounds the file size and memory).
pub const MAX_CAP: usize = 65536;

const MAGIC: &[u8; 8] = b"BDNONCE\x02";
const MAGIC_V1: &[u8; 8] = b"BDNONCE\x01";
const HEADER: usize = 8 + 8 + 8 + 8 + 4;
const HEADER_V1: usize = 8 + 8 + 4;
const ENTRY: usize = 16 + 8;
const SUM: usize = 32;
const MAX_FILE: u64 = (HEADER + MAX_CAP * ENTRY + SUM) as u64;

/// A nonce was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consumed {
    /// Expired entries evicted on the way (a metric).
    pub evicted: usize,
}

/// Why a nonce was not recorded.
#[derive(Debug)]
pub enum NonceError {
    /// Already used by a token that can still verify.
    Replay,
    /// The set holds `cap` live entries: refused (fail closed).
    Full { cap: usize },
    /// The token expired at the set's time (`now`), which may be ahead of
    /// the caller's clock after the clock went back.
    Expired { exp: u64, now: u64 },
    /// The namespace is not `[a-z0-9_-]{1,64}`.
    BadNamespace(String),
    /// `cap` is 0 or over [`MAX_CAP`].
    BadCap(usize),
    /// The state could not be read, locked or written (including a
    /// corrupt set file).
    State(StateError),
}

impl fmt::Display for NonceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NonceError::Replay => f.write_str("token nonce already used (replay refused)"),
            NonceError::Full { cap } => write!(
                f,
                "nonce set full ({cap} unexpired entries): new tokens are refused until some expire"
            ),
            NonceError::Expired { exp, now } => {
                write!(f, "token expired (exp {exp} < now {now})")
            }
            NonceError::BadNamespace(ns) => {
                write!(f, "nonce namespace {ns:?} is not 1 to 64 of [a-z0-9_-]")
            }
            NonceError::BadCap(c) => write!(f, "nonce set capacity {c} not in 1..={MAX_CAP}"),
            NonceError::State(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for NonceError {}

impl From<StateError> for NonceError {
    fn from(e: StateError) -> Self {
        NonceError::State(e)
    }
}

/// The contents of one set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NonceSet {
    /// Highest effective now the set was used with.
    pub watermark: u64,
    /// Nonce -> expiry.
    pub entries: BTreeMap<[u8; 16], u64>,
    /// Expired entries evicted so far (a counter for metrics; wraps
    /// never in practice, saturates).
    pub evictions: u64,
    /// Nonces recorded so far (the eviction ratio's denominator).
    pub insertions: u64,
}

fn shown_dir() -> PathBuf {
    Path::new(crate::base::paths::RUN_DIR).join(NONCE_DIR)
}

/// Record `nonce` (of a token valid until `exp`, in effective-now
/// seconds) in namespace `ns`, unless it is a replay, the token has
/// expired at the set's time, or the set holds `cap` live entries.
pub fn consume(
    state_dir: BorrowedFd<'_>,
    ns: &str,
    nonce: &[u8; 16],
    exp: u64,
    now: &Clock,
    cap: usize,
) -> Result<Consumed, NonceError> {
    consume_all(state_dir, ns, &[(*nonce, exp)], now, cap)
}

/// Record every (nonce, expiry) of `items` in namespace `ns`, or none:
/// all are checked against the set under one lock first (a replay, an
/// expired token, a full set, or the same nonce twice in `items` refuses
/// the whole call), and only then written, in one atomic replace. So a
/// refused call consumes no token, and the tokens checked before a replay
/// stay usable. A refused call still saves the set's advance (watermark
/// and evicted expired entries), as a single [`consume`] always did.
pub fn consume_all(
    state_dir: BorrowedFd<'_>,
    ns: &str,
    items: &[([u8; 16], u64)],
    now: &Clock,
    cap: usize,
) -> Result<Consumed, NonceError> {
    if !is_namespace(ns) {
        return Err(NonceError::BadNamespace(ns.to_string()));
    }
    if cap == 0 || cap > MAX_CAP {
        return Err(NonceError::BadCap(cap));
    }
    let sd = shown_dir();
    let dir = file::ensure_subdir(state_dir, Path::new(crate::base::paths::RUN_DIR), NONCE_DIR)?;
    let _l = file::lock(dir.as_fd(), &sd, &format!("{ns}.lock"), file::LOCK_TIMEOUT)?;
    let name = format!("{ns}.set");
    let mut set = read_set(dir.as_fd(), &sd, &name)?;
    let (set_now, evicted, advanced) = advance(&mut set, now.effective_now);
    let mut trial = set.clone();
    for (nonce, exp) in items {
        if let Err(e) = insert(&mut trial, nonce, *exp, set_now, cap) {
            if advanced {
                file::replace(dir.as_fd(), &sd, &name, &encode(&set))?;
            }
            return Err(e);
        }
    }
    if advanced || !items.is_empty() {
        file::replace(dir.as_fd(), &sd, &name, &encode(&trial))?;
    }
    Ok(Consumed { evicted })
}

/// The set's time moves to `max(effective_now, watermark)` and entries
/// expired at that time are evicted. Returns (the set's time, entries
/// evicted, whether the set changed).
fn advance(set: &mut NonceSet, effective_now: u64) -> (u64, usize, bool) {
    let now = effective_now.max(set.watermark);
    let before = set.entries.len();
    set.entries.retain(|_, e| *e >= now);
    let evicted = before - set.entries.len();
    set.evictions = set.evictions.saturating_add(evicted as u64);
    let changed = evicted > 0 || now != set.watermark;
    set.watermark = now;
    (now, evicted, changed)
}

/// Add one nonce at the set's time `now` (after [`advance`]).
fn insert(
    set: &mut NonceSet,
    nonce: &[u8; 16],
    exp: u64,
    now: u64,
    cap: usize,
) -> Result<(), NonceError> {
    if set.entries.contains_key(nonce) {
        return Err(NonceError::Replay);
    }
    if exp < now {
        return Err(NonceError::Expired { exp, now });
    }
    if set.entries.len() >= cap {
        return Err(NonceError::Full { cap });
    }
    set.entries.insert(*nonce, exp);
    set.insertions = set.insertions.saturating_add(1);
    Ok(())
}

/// Read namespace `ns` (empty when it has never been used). For
/// inspection (`bdctl`) and tests; takes no lock (files are replaced
/// atomically).
pub fn load(state_dir: BorrowedFd<'_>, ns: &str) -> Result<NonceSet, NonceError> {
    if !is_namespace(ns) {
        return Err(NonceError::BadNamespace(ns.to_string()));
    }
    let sd = shown_dir();
    if !file::exists(state_dir, NONCE_DIR) {
        return Ok(NonceSet::default());
    }
    let dir = file::ensure_subdir(state_dir, Path::new(crate::base::paths::RUN_DIR), NONCE_DIR)?;
    Ok(read_set(dir.as_fd(), &sd, &format!("{ns}.set"))?)
}

fn read_set(dir: BorrowedFd<'_>, sd: &Path, name: &str) -> Result<NonceSet, StateError> {
    match file::read(dir, sd, name, MAX_FILE)? {
        None => Ok(NonceSet::default()),
        Some(b) => decode(&b).map_err(|why| {
            StateError(format!(
                "{}: corrupt nonce set ({why}); refusing to reset it (that could re-open \
                 replays): tokens of this namespace are refused until root repairs or \
                 removes it",
                sd.join(name).display()
            ))
        }),
    }
}

fn encode(set: &NonceSet) -> Vec<u8> {
    let mut b = Vec::with_capacity(HEADER + set.entries.len() * ENTRY + SUM);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&set.watermark.to_le_bytes());
    b.extend_from_slice(&set.evictions.to_le_bytes());
    b.extend_from_slice(&set.insertions.to_le_bytes());
    // Bounded by MAX_CAP (checked before inserting).
    b.extend_from_slice(
        &u32::try_from(set.entries.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    for (n, e) in &set.entries {
        b.extend_from_slice(n);
        b.extend_from_slice(&e.to_le_bytes());
    }
    let sum = blake3::hash(&b);
    b.extend_from_slice(sum.as_bytes());
    b
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn decode(b: &[u8]) -> Result<NonceSet, String> {
    let header = match b.get(..8) {
        Some(m) if m == MAGIC => HEADER,
        Some(m) if m == MAGIC_V1 => HEADER_V1,
        Some(_) => return Err("bad magic".into()),
        None => return Err(format!("truncated: {} bytes", b.len())),
    };
    if b.len() < header + SUM {
        return Err(format!("truncated: {} bytes", b.len()));
    }
    let (body, sum) = b.split_at(b.len() - SUM);
    if blake3::hash(body).as_bytes() != sum {
        return Err("checksum mismatch (truncated or altered)".into());
    }
    let watermark = u64_at(b, 8).ok_or("truncated header")?;
    let (evictions, insertions) = if header == HEADER {
        (
            u64_at(b, 16).ok_or("truncated header")?,
            u64_at(b, 24).ok_or("truncated header")?,
        )
    } else {
        (0, 0)
    };
    let count = u32::from_le_bytes(
        b[header - 4..header]
            .try_into()
            .map_err(|_| "truncated header")?,
    ) as usize;
    if count > MAX_CAP || body.len() != header + count * ENTRY {
        return Err(format!("count {count} does not match the size {}", b.len()));
    }
    let mut entries = BTreeMap::new();
    let mut prev: Option<[u8; 16]> = None;
    for rec in body[header..].chunks_exact(ENTRY) {
        let n: [u8; 16] = rec[..16].try_into().map_err(|_| "short entry")?;
        let e = u64_at(rec, 16).ok_or("short entry")?;
        if prev.is_some_and(|p| p >= n) {
            return Err("entries not sorted or duplicated".into());
        }
        prev = Some(n);
        entries.insert(n, e);
    }
    Ok(NonceSet {
        watermark,
        entries,
        evictions,
        insertions,
    })
}

/// The namespaces that have a set file, sorted (for `bdctl metrics`).
/// A missing `nonces/` directory is no namespace.
pub fn namespaces(state_dir: BorrowedFd<'_>) -> Result<Vec<String>, NonceError> {
    if !file::exists(state_dir, NONCE_DIR) {
        return Ok(Vec::new());
    }
    let dir = file::ensure_subdir(state_dir, Path::new(crate::base::paths::RUN_DIR), NONCE_DIR)?;
    let mut d = nix::dir::Dir::from_fd(dir)
        .map_err(|e| StateError(format!("{}: {}", shown_dir().display(), e.desc())))?;
    let mut out = Vec::new();
    for ent in d.iter().flatten() {
        let name = ent.file_name().to_bytes();
        if let Some(ns) = name.strip_suffix(b".set")
            && let Ok(ns) = std::str::from_utf8(ns)
            && is_namespace(ns)
        {
            out.push(ns.to_string());
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::clock::{Sample, now_from};
    use crate::state::file::tests::dir;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use std::os::fd::OwnedFd;
    use std::time::Duration;

    const T0: u64 = 1_700_000_000;
    const BOOT: [u8; 16] = [7; 16];

    fn clk(eff: u64) -> Clock {
        Clock::unanchored(eff, Duration::from_secs(1), BOOT)
    }

    fn n(i: u8) -> [u8; 16] {
        [i; 16]
    }

    #[test]
    fn replay_expiry_full() {
        let Some((_d, fd)) = dir() else { return };
        let f = fd.as_fd();
        let c = clk(T0);
        assert_eq!(
            consume(f, "exec", &n(1), T0 + 60, &c, 2).expect("first"),
            Consumed { evicted: 0 }
        );
        assert!(matches!(
            consume(f, "exec", &n(1), T0 + 60, &c, 2),
            Err(NonceError::Replay)
        ));
        // Other namespace: isolated.
        consume(f, "unfreeze", &n(1), T0 + 60, &c, 2).expect("other ns");
        consume(f, "exec", &n(2), T0 + 10, &c, 2).expect("second");
        let e = consume(f, "exec", &n(3), T0 + 60, &c, 2).expect_err("full");
        assert!(matches!(e, NonceError::Full { cap: 2 }), "{e}");
        assert!(
            e.to_string()
                .contains("nonce set full (2 unexpired entries)")
        );
        // Expired token.
        let e = consume(f, "exec", &n(4), T0 - 1, &c, 2).expect_err("expired");
        assert!(matches!(e, NonceError::Expired { exp, now } if exp == T0 - 1 && now == T0));
        // exp == now is still valid; after T0+10, n(2) is evicted.
        let c = clk(T0 + 11);
        assert_eq!(
            consume(f, "exec", &n(3), T0 + 11, &c, 2).expect("room"),
            Consumed { evicted: 1 }
        );
        let s = load(f, "exec").expect("load");
        assert_eq!(s.watermark, T0 + 11);
        assert_eq!(
            s.entries.keys().copied().collect::<Vec<_>>(),
            vec![n(1), n(3)]
        );
    }

    /// Issue 8 item 11: a replay among several tokens consumed the ones
    /// checked before it. All or none.
    #[test]
    fn consume_all_is_all_or_none() {
        let Some((_d, fd)) = dir() else { return };
        let f = fd.as_fd();
        let c = clk(T0);
        consume(f, "exec", &n(2), T0 + 60, &c, 8).expect("n2 used once");
        let e = consume_all(f, "exec", &[(n(1), T0 + 60), (n(2), T0 + 60)], &c, 8)
            .expect_err("second is a replay");
        assert!(matches!(e, NonceError::Replay), "{e}");
        assert!(!load(f, "exec").expect("load").entries.contains_key(&n(1)));
        // The same nonce twice in one call: refused, nothing consumed.
        let e = consume_all(f, "exec", &[(n(3), T0 + 60), (n(3), T0 + 60)], &c, 8)
            .expect_err("duplicate");
        assert!(matches!(e, NonceError::Replay), "{e}");
        // An expired or over-capacity item refuses the whole call too.
        let e =
            consume_all(f, "exec", &[(n(4), T0 + 60), (n(5), T0 - 1)], &c, 8).expect_err("expired");
        assert!(matches!(e, NonceError::Expired { .. }), "{e}");
        let e =
            consume_all(f, "exec", &[(n(6), T0 + 60), (n(7), T0 + 60)], &c, 2).expect_err("full");
        assert!(matches!(e, NonceError::Full { cap: 2 }), "{e}");
        assert_eq!(
            load(f, "exec")
                .expect("load")
                .entries
                .keys()
                .collect::<Vec<_>>(),
            [&n(2)]
        );
        // The first token is still usable, and both go in together.
        consume_all(f, "exec", &[(n(1), T0 + 60), (n(3), T0 + 60)], &c, 8).expect("fresh pair");
        assert_eq!(load(f, "exec").expect("load").entries.len(), 3);
    }

    #[test]
    fn eviction_and_insertion_counters_persist() {
        let Some((_d, fd)) = dir() else { return };
        let f = fd.as_fd();
        consume(f, "exec", &n(1), T0 + 5, &clk(T0), 8).expect("1");
        consume(f, "exec", &n(2), T0 + 5, &clk(T0), 8).expect("2");
        // Both expire; a refused replay of nothing still evicts them.
        consume(f, "exec", &n(3), T0 + 100, &clk(T0 + 10), 8).expect("3");
        let s = load(f, "exec").expect("load");
        assert_eq!((s.evictions, s.insertions), (2, 3));
        assert!(matches!(
            consume(f, "exec", &n(3), T0 + 100, &clk(T0 + 20), 8),
            Err(NonceError::Replay)
        ));
        let s = load(f, "exec").expect("load");
        assert_eq!((s.evictions, s.insertions), (2, 3));
        assert_eq!(namespaces(f).expect("list"), vec!["exec".to_string()]);
    }

    #[test]
    fn version_1_file_reads_with_zero_counters() {
        let mut b = MAGIC_V1.to_vec();
        b.extend_from_slice(&T0.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&n(9));
        b.extend_from_slice(&(T0 + 1).to_le_bytes());
        let sum = blake3::hash(&b);
        b.extend_from_slice(sum.as_bytes());
        let s = decode(&b).expect("v1");
        assert_eq!((s.watermark, s.evictions, s.insertions), (T0, 0, 0));
        assert_eq!(s.entries.get(&n(9)), Some(&(T0 + 1)));
        // Written back as version 2.
        assert_eq!(&encode(&s)[..8], MAGIC);
    }

    #[test]
    fn bad_arguments() {
        let Some((_d, fd)) = dir() else { return };
        let f = fd.as_fd();
        for ns in ["", "Exec", "a/b", "..", "a.set", &"x".repeat(65), "é"] {
            assert!(
                matches!(
                    consume(f, ns, &n(1), T0, &clk(T0), 4),
                    Err(NonceError::BadNamespace(_))
                ),
                "{ns}"
            );
        }
        assert!(is_namespace(&"a-_9".repeat(16)));
        assert!(matches!(
            consume(f, "x", &n(1), T0, &clk(T0), 0),
            Err(NonceError::BadCap(0))
        ));
        assert!(matches!(
            consume(f, "x", &n(1), T0, &clk(T0), MAX_CAP + 1),
            Err(NonceError::BadCap(_))
        ));
    }

    #[test]
    fn clock_set_back_an_hour_keeps_used_nonce_used() {
        let Some((_d, fd)) = dir() else { return };
        let f = fd.as_fd();
        let s = |wall: u64, mono: u64| Sample {
            wall: Duration::from_secs(wall),
            mono: Duration::from_secs(mono),
            boot_id: BOOT,
        };
        let c = now_from(f, &s(T0, 1000)).expect("clock");
        // A token valid for 5 minutes is used.
        consume(f, "exec", &n(9), T0 + 300, &c, 16).expect("first use");
        // 10 minutes later (expired, and evicted by a later call)...
        let c = now_from(f, &s(T0 + 600, 1600)).expect("clock");
        assert!(matches!(
            consume(f, "exec", &n(8), T0 + 900, &c, 16),
            Ok(Consumed { evicted: 1 })
        ));
        // ...the wall clock is set back by an hour: the token is still
        // expired, and the used nonce cannot be replayed.
        let c = now_from(f, &s(T0 + 610 - 3600, 1610)).expect("clock");
        assert_eq!(c.skew, Some(-3600));
        assert!(c.effective_now > T0 + 300);
        let e = consume(f, "exec", &n(9), T0 + 300, &c, 16).expect_err("replay");
        assert!(matches!(e, NonceError::Expired { .. }), "{e}");
        // Even a caller handing in a raw wall clock gets the set's time.
        let e = consume(f, "exec", &n(9), T0 + 300, &clk(T0 - 3000), 16).expect_err("raw");
        assert!(
            matches!(e, NonceError::Expired { now, .. } if now == T0 + 610),
            "{e}"
        );
        // A still-live token used before the set-back stays used.
        let e = consume(f, "exec", &n(8), T0 + 900, &c, 16).expect_err("live replay");
        assert!(matches!(e, NonceError::Replay), "{e}");
    }

    #[test]
    fn corrupt_set_is_an_error_not_a_reset() {
        let Some((d, fd)) = dir() else { return };
        let f = fd.as_fd();
        consume(f, "exec", &n(1), T0 + 60, &clk(T0), 8).expect("use");
        consume(f, "exec", &n(2), T0 + 60, &clk(T0), 8).expect("use");
        let p = d.path().join("nonces/exec.set");
        let good = std::fs::read(&p).expect("read");
        let mut flipped = good.clone();
        flipped[HEADER + 3] ^= 1;
        // A well-formed file with unsorted entries (correct checksum).
        let mut unsorted = good[..HEADER].to_vec();
        unsorted.extend_from_slice(&good[HEADER + ENTRY..HEADER + 2 * ENTRY]);
        unsorted.extend_from_slice(&good[HEADER..HEADER + ENTRY]);
        let s = *blake3::hash(&unsorted).as_bytes();
        unsorted.extend_from_slice(&s);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (good[..good.len() - 1].to_vec(), "checksum mismatch"),
            (good[..HEADER + ENTRY].to_vec(), "truncated: 60 bytes"),
            (good[..good.len() - ENTRY].to_vec(), "checksum mismatch"),
            (good[..10].to_vec(), "truncated"),
            (Vec::new(), "truncated"),
            (flipped, "checksum mismatch"),
            (unsorted, "not sorted"),
        ];
        for (bytes, why) in cases {
            std::fs::write(&p, &bytes).expect("write");
            let e = consume(f, "exec", &n(1), T0 + 60, &clk(T0), 8).expect_err("corrupt");
            let m = e.to_string();
            assert!(matches!(e, NonceError::State(_)), "{m}");
            assert!(
                m.contains("/run/belladonna/nonces/exec.set: corrupt nonce set"),
                "{m}"
            );
            assert!(m.contains(why), "{why}: {m}");
            assert_eq!(std::fs::read(&p).expect("read"), bytes, "not reset");
        }
    }

    #[test]
    fn concurrent_consumers_exactly_one_wins() {
        let Some((_d, fd)) = dir() else { return };
        for round in 0..5u8 {
            let results: Vec<_> = std::thread::scope(|sc| {
                let hs: Vec<_> = (0..8)
                    .map(|_| {
                        let fd: &OwnedFd = &fd;
                        sc.spawn(move || {
                            consume(fd.as_fd(), "race", &n(round), T0 + 60, &clk(T0), 64)
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().expect("join")).collect()
            });
            let won = results.iter().filter(|r| r.is_ok()).count();
            let replays = results
                .iter()
                .filter(|r| matches!(r, Err(NonceError::Replay)))
                .count();
            assert_eq!((won, replays), (1, 7), "{results:?}");
        }
    }

    /// One step of a property test.
    #[derive(Debug, Clone)]
    enum Op {
        /// Boottime advances (never back).
        Tick(u64),
        /// The wall clock jumps (relative to true time), either way.
        Jump(i64),
        /// Present nonce `i` with a lifetime relative to the effective
        /// now (negative: already expired).
        Use(u8, i64),
        /// Replay the `k`-th accepted token again (same nonce and exp).
        Replay(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            2 => (0u64..400).prop_map(Op::Tick),
            1 => (-7200i64..7200).prop_map(Op::Jump),
            5 => (0u8..24, -30i64..600).prop_map(|(i, l)| Op::Use(i, l)),
            2 => any::<usize>().prop_map(Op::Replay),
        ]
    }

    /// Check every invariant of one `consume` call from outside: the set
    /// before and after, the result, and the effective nows seen so far.
    fn check(
        before: &NonceSet,
        after: &NonceSet,
        r: &Result<Consumed, NonceError>,
        (nonce, exp): (&[u8; 16], u64),
        cap: usize,
        accepted: &mut Vec<([u8; 16], u64)>,
        max_eff: u64,
    ) -> Result<(), TestCaseError> {
        // The set's time never goes back and is at least every clock it saw.
        prop_assert!(after.watermark >= before.watermark);
        prop_assert_eq!(after.watermark, max_eff);
        let now = after.watermark;
        prop_assert!(after.entries.len() <= cap.max(before.entries.len()));
        // Live entries are never evicted; evictions only remove expired ones.
        let expired: BTreeSet<_> = before
            .entries
            .iter()
            .filter(|(_, e)| **e < now)
            .map(|(n, _)| *n)
            .collect();
        for (n, e) in &before.entries {
            if *e >= now {
                prop_assert_eq!(after.entries.get(n), Some(e), "live entry evicted");
            } else {
                prop_assert!(!after.entries.contains_key(n) || (r.is_ok() && n == nonce));
            }
        }
        match r {
            Ok(c) => {
                prop_assert_eq!(c.evicted, expired.len());
                prop_assert!(exp >= now);
                // Never accepted twice while an earlier token with this
                // nonce could still verify at the set's time, and a
                // (nonce, exp) pair at most once.
                for (pn, pe) in accepted.iter() {
                    if pn == nonce {
                        prop_assert!(*pe < now, "nonce accepted again while live");
                        prop_assert!(*pe != exp, "same token accepted twice");
                    }
                }
                prop_assert!(after.entries.len() <= cap);
                prop_assert_eq!(after.entries.get(nonce), Some(&exp));
                prop_assert_eq!(
                    after.entries.len(),
                    before.entries.len() - expired.len() + 1
                );
                accepted.push((*nonce, exp));
            }
            Err(NonceError::Replay) => {
                prop_assert!(after.entries.contains_key(nonce));
            }
            Err(NonceError::Expired { exp: e, now: n }) => {
                prop_assert!(*e < *n && *n == now);
            }
            Err(NonceError::Full { .. }) => {
                // Refused only when the live entries fill the set.
                prop_assert!(after.entries.len() >= cap);
                prop_assert!(after.entries.values().all(|e| *e >= now));
            }
            Err(e) => prop_assert!(false, "unexpected error {}", e),
        }
        Ok(())
    }

    fn run_ops(ops: &[Op], cap: usize, through_anchor: bool) -> Result<(), TestCaseError> {
        let Some((_d, fd)) = dir() else { return Ok(()) };
        let f = fd.as_fd();
        let mut mono = 1000u64;
        let mut offset = 0i64;
        let mut accepted: Vec<([u8; 16], u64)> = Vec::new();
        let mut max_eff = 0u64;
        for o in ops {
            let eff_clock = |mono: u64, offset: i64| -> Result<Clock, TestCaseError> {
                let wall = (T0 as i64 + mono as i64 + offset) as u64;
                if through_anchor {
                    now_from(
                        f,
                        &Sample {
                            wall: Duration::from_secs(wall),
                            mono: Duration::from_secs(mono),
                            boot_id: BOOT,
                        },
                    )
                    .map_err(|e| TestCaseError::fail(e.to_string()))
                } else {
                    // Raw wall clock: effective now jumps back and forth.
                    Ok(clk(wall))
                }
            };
            let (nonce, exp, c) = match *o {
                Op::Tick(d) => {
                    mono += d;
                    continue;
                }
                Op::Jump(j) => {
                    offset = j;
                    continue;
                }
                Op::Use(i, life) => {
                    let c = eff_clock(mono, offset)?;
                    (n(i), (c.effective_now as i64 + life) as u64, c)
                }
                Op::Replay(k) => {
                    if accepted.is_empty() {
                        continue;
                    }
                    let (nn, e) = accepted[k % accepted.len()];
                    (nn, e, eff_clock(mono, offset)?)
                }
            };
            max_eff = max_eff.max(c.effective_now);
            let before = load(f, "p").map_err(|e| TestCaseError::fail(e.to_string()))?;
            let r = consume(f, "p", &nonce, exp, &c, cap);
            let after = load(f, "p").map_err(|e| TestCaseError::fail(e.to_string()))?;
            check(
                &before,
                &after,
                &r,
                (&nonce, exp),
                cap,
                &mut accepted,
                max_eff,
            )?;
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn invariants_under_jitter_via_anchor(ops in proptest::collection::vec(op(), 1..80), cap in 1usize..10) {
            run_ops(&ops, cap, true)?;
        }

        #[test]
        fn invariants_under_raw_jitter(ops in proptest::collection::vec(op(), 1..80), cap in 1usize..10) {
            run_ops(&ops, cap, false)?;
        }

        #[test]
        fn encode_decode_round_trip(w in any::<u64>(), ev in any::<u64>(), ins in any::<u64>(), es in proptest::collection::btree_map(any::<[u8; 16]>(), any::<u64>(), 0..40)) {
            let s = NonceSet { watermark: w, entries: es, evictions: ev, insertions: ins };
            prop_assert_eq!(decode(&encode(&s)), Ok(s));
        }

        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&b);
        }
    }
}
