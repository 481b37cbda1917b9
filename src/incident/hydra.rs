//! The hydra score (docs/incident-response.md, "Hydra score"): a per-uid
//! risk in [0, 1] from several heads, each a count of events that decays
//! with a half-life of [`HALF_LIFE_SECS`]:
//!
//! ```text
//! score = 1 - exp(-(sum over heads of WEIGHT[h] x decayed_count[h]))
//! ```
//!
//! Bounded in [0, 1) by construction, monotone in each head (weights are
//! positive), decaying to 0 without new events. Time is measured on
//! `CLOCK_BOOTTIME` within a boot (setting the wall clock, either way,
//! changes nothing); across a reboot the wall-clock difference counts,
//! never negative. State: `/var/lib/belladonna/incident/hydra.json`
//! (persisted across reboots); a corrupt file starts over.
#![forbid(unsafe_code)]

use crate::base::paths::LIB_DIR;
use crate::state::file;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::path::Path;

/// The heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    Denial = 0,
    DecoyHit = 1,
    Replay = 2,
    RateLimit = 3,
    RefusedToken = 4,
    Novelty = 5,
}

/// Number of heads.
pub const HEADS: usize = 6;
/// Names, in [`Head`] order (JSON, `bdctl hydra`).
pub const HEAD_NAMES: [&str; HEADS] = [
    "denials",
    "decoy_hits",
    "replays",
    "rate_limit_hits",
    "refused_tokens",
    "novelty",
];
/// What one event of each head adds to the exponent.
pub const WEIGHT: [f64; HEADS] = [0.05, 0.5, 0.3, 0.05, 0.2, 0.02];
/// Half-life of every head.
pub const HALF_LIFE_SECS: f64 = 3600.0;
/// Most uids kept (the lowest scores are dropped first).
pub const MAX_USERS: usize = 4096;

/// When a uid's heads were last brought up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Stamp {
    /// Boot id of the boot `mono_ns` belongs to.
    pub boot: [u8; 16],
    pub mono_ns: u64,
    /// Wall clock (seconds), only used across a reboot.
    pub wall: u64,
}

/// One uid's heads.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Heads {
    pub counts: [f64; HEADS],
    pub at: Stamp,
}

/// Seconds from `a` to `b`: boottime within a boot, wall time across
/// boots, never negative.
pub fn elapsed(a: &Stamp, b: &Stamp) -> f64 {
    if a.boot == b.boot {
        b.mono_ns.saturating_sub(a.mono_ns) as f64 / 1e9
    } else {
        b.wall.saturating_sub(a.wall) as f64
    }
}

impl Heads {
    /// Decay to `now`.
    pub fn decay_to(&mut self, now: &Stamp) {
        let dt = elapsed(&self.at, now);
        if dt > 0.0 {
            let f = libm::exp(-dt * std::f64::consts::LN_2 / HALF_LIFE_SECS);
            for c in &mut self.counts {
                *c *= f;
                if *c < 1e-9 {
                    *c = 0.0;
                }
            }
        }
        self.at = *now;
    }

    /// Count one event of `head` at `now`.
    pub fn add(&mut self, head: Head, now: &Stamp) {
        self.decay_to(now);
        let c = &mut self.counts[head as usize];
        *c = (*c + 1.0).min(1e6);
    }

    /// The score now (without changing the heads).
    pub fn score_at(&self, now: &Stamp) -> f64 {
        let mut h = *self;
        h.decay_to(now);
        score(&h.counts)
    }
}

/// The score of decayed counts.
pub fn score(counts: &[f64; HEADS]) -> f64 {
    let x: f64 = counts
        .iter()
        .zip(WEIGHT)
        .map(|(c, w)| {
            if c.is_finite() && *c > 0.0 {
                c * w
            } else {
                0.0
            }
        })
        .sum();
    (1.0 - libm::exp(-x)).clamp(0.0, 1.0)
}

/// The persisted state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hydra {
    pub version: u32,
    pub users: BTreeMap<u32, Heads>,
}

/// Nearest-rank percentile `q` (0..=100) of `v`.
pub fn percentile(v: &mut [f64], q: usize) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let rank = (v.len() * q).div_ceil(100).max(1);
    v[rank - 1]
}

/// The stamp of now (boottime, boot id, wall).
pub fn now_stamp() -> Stamp {
    let s = crate::state::clock::Sample::system().ok();
    Stamp {
        boot: s.as_ref().map_or([0; 16], |s| s.boot_id),
        mono_ns: s
            .as_ref()
            .map_or(0, |s| u64::try_from(s.mono.as_nanos()).unwrap_or(u64::MAX)),
        wall: crate::incident::freeze::now_secs(),
    }
}

fn shown() -> std::path::PathBuf {
    Path::new(LIB_DIR).join(crate::incident::counters::DIR)
}

/// The file name.
pub const NAME: &str = "hydra.json";

/// Read the state (empty when missing or corrupt).
pub fn read() -> Hydra {
    crate::base::secure_fs::open_trusted_dir(&shown())
        .ok()
        .and_then(|d| {
            file::read(d.as_fd(), &shown(), NAME, 4 << 20)
                .ok()
                .flatten()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Count one event of `head` for `uid` now; returns the uid's new score
/// (`None` when the state cannot be used).
pub fn record(uid: u32, head: Head) -> Option<f64> {
    let lib = crate::base::secure_fs::ensure_trusted_dir(Path::new(LIB_DIR), 0o700).ok()?;
    let sd = shown();
    let dir = file::ensure_subdir(
        lib.as_fd(),
        Path::new(LIB_DIR),
        crate::incident::counters::DIR,
    )
    .ok()?;
    let _l = file::lock(dir.as_fd(), &sd, "hydra.lock", file::LOCK_TIMEOUT).ok()?;
    let mut h: Hydra = file::read(dir.as_fd(), &sd, NAME, 4 << 20)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    h.version = 1;
    let now = now_stamp();
    let e = h.users.entry(uid).or_insert(Heads {
        counts: [0.0; HEADS],
        at: now,
    });
    e.add(head, &now);
    let s = e.score_at(&now);
    if h.users.len() > MAX_USERS {
        // Drop the lowest score (never the one just counted).
        if let Some(low) = h
            .users
            .iter()
            .filter(|(u, _)| **u != uid)
            .min_by(|a, b| a.1.score_at(&now).total_cmp(&b.1.score_at(&now)))
            .map(|(u, _)| *u)
        {
            h.users.remove(&low);
        }
    }
    let json = serde_json::to_vec(&h).ok()?;
    file::replace(dir.as_fd(), &sd, NAME, &json).ok()?;
    Some(s)
}

/// The head a refusal's reason counts towards.
pub fn head_of_reason(reason: &str) -> Head {
    if reason.contains("replay") {
        Head::Replay
    } else if reason.starts_with("approval token") {
        Head::RefusedToken
    } else if reason.contains("rate limit") || reason.starts_with("rate:") {
        Head::RateLimit
    } else {
        Head::Denial
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn st(boot: u8, mono_s: u64, wall: u64) -> Stamp {
        Stamp {
            boot: [boot; 16],
            mono_ns: mono_s * 1_000_000_000,
            wall,
        }
    }

    fn heads(counts: [f64; HEADS]) -> Heads {
        Heads {
            counts,
            at: st(1, 0, 0),
        }
    }

    proptest! {
        #[test]
        fn bounded(counts in proptest::array::uniform6(0.0f64..1e7)) {
            let s = score(&counts);
            prop_assert!((0.0..=1.0).contains(&s));
        }

        #[test]
        fn monotone_in_each_head(
            counts in proptest::array::uniform6(0.0f64..50.0),
            head in 0usize..HEADS,
            more in 0.0f64..50.0,
        ) {
            let mut b = counts;
            b[head] += more;
            prop_assert!(score(&b) >= score(&counts));
        }

        #[test]
        fn an_event_never_lowers_the_score(
            counts in proptest::array::uniform6(0.0f64..50.0),
            head in 0usize..HEADS,
        ) {
            let hs = [Head::Denial, Head::DecoyHit, Head::Replay, Head::RateLimit, Head::RefusedToken, Head::Novelty];
            let mut h = heads(counts);
            let before = h.score_at(&st(1, 10, 10));
            h.add(hs[head], &st(1, 10, 10));
            prop_assert!(h.score_at(&st(1, 10, 10)) >= before);
        }

        #[test]
        fn decays_to_zero(counts in proptest::array::uniform6(0.0f64..1e6)) {
            let h = heads(counts);
            // 100 half-lives, then some.
            prop_assert_eq!(h.score_at(&st(1, 400 * 3600, 0)), 0.0);
            // And never rises while time passes.
            let a = h.score_at(&st(1, 60, 0));
            let b = h.score_at(&st(1, 7200, 0));
            prop_assert!(b <= a);
        }

        #[test]
        fn wall_clock_jumps_change_nothing(
            counts in proptest::array::uniform6(0.0f64..100.0),
            mono in 0u64..100_000,
            jump in -1_000_000_000i64..1_000_000_000,
        ) {
            let h = heads(counts);
            let wall = (1_000_000_000i64 + jump) as u64;
            let plain = h.score_at(&st(1, mono, 1_000_000_000));
            let jumped = h.score_at(&st(1, mono, wall));
            prop_assert_eq!(plain, jumped);
        }

        #[test]
        fn across_a_reboot_time_never_runs_back(
            counts in proptest::array::uniform6(0.0f64..100.0),
            back in 0u64..1_000_000,
        ) {
            let mut h = heads(counts);
            h.at = st(1, 50, 2_000_000);
            let before = h.score_at(&h.at.clone());
            // A new boot whose wall clock is behind the last stamp.
            let after = h.score_at(&st(2, 1, 2_000_000 - back));
            prop_assert_eq!(before, after);
        }
    }

    #[test]
    fn percentiles() {
        let mut v = vec![0.1, 0.9, 0.5, 0.3];
        assert_eq!(percentile(&mut v, 50), 0.3);
        assert_eq!(percentile(&mut v, 99), 0.9);
        assert_eq!(percentile(&mut [], 95), 0.0);
    }

    #[test]
    fn five_decoy_hits_cross_the_default_freeze_score() {
        let mut h = heads([0.0; HEADS]);
        for _ in 0..4 {
            h.add(Head::DecoyHit, &st(1, 0, 0));
        }
        assert!(h.score_at(&st(1, 0, 0)) < 0.9);
        h.add(Head::DecoyHit, &st(1, 0, 0));
        assert!(h.score_at(&st(1, 0, 0)) > 0.9);
    }
}
