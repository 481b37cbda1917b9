//! The adaptive decoy-rate alarm (docs/incident-response.md, "The decoy
//! alarm"). Time is cut into windows of `[incident] decoy_window`
//! seconds on the anchored effective clock (`state::clock`: it never
//! goes back, so setting the wall clock back cannot reopen or refill a
//! window). The alarm fires on the hit that makes the current window's
//! count exceed
//!
//! ```text
//! threshold = max(decoy_floor, decoy_factor x p95(counts of the previous HISTORY windows))
//! ```
//!
//! where windows without hits count 0. State:
//! `/var/lib/belladonna/incident/decoy-windows.json`
//! (`{"window":600,"counts":[[index,count],...]}`, the last
//! [`HISTORY`] + 1 windows with hits); a corrupt file restarts empty
//! (the floor still applies).
#![forbid(unsafe_code)]

use crate::base::paths::LIB_DIR;
use crate::state::file;
use serde::{Deserialize, Serialize};
use std::os::fd::AsFd;
use std::path::Path;

/// Previous windows the percentile looks at.
pub const HISTORY: u64 = 48;
/// The file in `/var/lib/belladonna/incident/`.
pub const NAME: &str = "decoy-windows.json";

/// The persisted windows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Windows {
    /// Window length the counts were made with (a change starts over).
    pub window: u64,
    /// (window index = now / window, hits), ascending.
    pub counts: Vec<(u64, u64)>,
}

/// What one hit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Hits in the current window, this one included.
    pub count: u64,
    /// The threshold in millionths of a hit.
    pub threshold_ppm: u64,
    /// This hit crossed the threshold (fires once per window).
    pub fired: bool,
}

/// The 95th percentile (nearest rank) of `v`, 0 for an empty slice.
pub fn p95(v: &mut [u64]) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    // Nearest rank: ceil(0.95 n), 1-based.
    let rank = (v.len() * 95).div_ceil(100).max(1);
    v[rank - 1]
}

/// The threshold (millionths) from the previous windows' counts.
pub fn threshold_ppm(prev: &mut [u64], floor: u32, factor_ppm: u32) -> u64 {
    let floor = u64::from(floor) * 1_000_000;
    floor.max(p95(prev).saturating_mul(u64::from(factor_ppm)))
}

/// Count one hit at `now` (effective seconds) and decide. Pure.
pub fn hit(w: &mut Windows, now: u64, window: u64, floor: u32, factor_ppm: u32) -> Outcome {
    let window = window.max(1);
    if w.window != window {
        *w = Windows {
            window,
            counts: Vec::new(),
        };
    }
    let idx = now / window;
    // The anchored clock does not go back; should a file from a later
    // time be found, its windows count as the current one's past.
    let idx = w.counts.last().map_or(idx, |(i, _)| idx.max(*i));
    let lo = idx.saturating_sub(HISTORY);
    w.counts.retain(|(i, _)| *i >= lo);
    let mut prev: Vec<u64> = (lo..idx)
        .map(|i| {
            w.counts
                .iter()
                .find(|(j, _)| *j == i)
                .map_or(0, |(_, c)| *c)
        })
        .collect();
    let t = threshold_ppm(&mut prev, floor, factor_ppm);
    let count = match w.counts.last_mut() {
        Some((i, c)) if *i == idx => {
            *c = c.saturating_add(1);
            *c
        }
        _ => {
            w.counts.push((idx, 1));
            1
        }
    };
    let over = |n: u64| u128::from(n) * 1_000_000 > u128::from(t);
    Outcome {
        count,
        threshold_ppm: t,
        fired: over(count) && !over(count - 1),
    }
}

/// [`hit`] on the persisted windows (under their lock). `None` when the
/// state cannot be used (the hit is still recorded by the caller).
pub fn hit_persisted(now: u64, window: u64, floor: u32, factor_ppm: u32) -> Option<Outcome> {
    let lib = crate::base::secure_fs::ensure_trusted_dir(Path::new(LIB_DIR), 0o700).ok()?;
    let shown = Path::new(LIB_DIR).join(crate::incident::counters::DIR);
    let dir = file::ensure_subdir(
        lib.as_fd(),
        Path::new(LIB_DIR),
        crate::incident::counters::DIR,
    )
    .ok()?;
    let _l = file::lock(
        dir.as_fd(),
        &shown,
        "decoy-windows.lock",
        file::LOCK_TIMEOUT,
    )
    .ok()?;
    let mut w: Windows = file::read(dir.as_fd(), &shown, NAME, 64 * 1024)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let out = hit(&mut w, now, window, floor, factor_ppm);
    let json = serde_json::to_vec(&w).ok()?;
    file::replace(dir.as_fd(), &shown, NAME, &json).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_nearest_rank() {
        assert_eq!(p95(&mut []), 0);
        assert_eq!(p95(&mut [7]), 7);
        let mut v: Vec<u64> = (1..=20).collect();
        assert_eq!(p95(&mut v), 19);
        let mut z = vec![0; 47];
        z.push(10);
        assert_eq!(p95(&mut z), 0, "one busy window in 48 is above p95");
    }

    #[test]
    fn floor_applies_on_a_quiet_history() {
        let mut w = Windows::default();
        let f: Vec<bool> = (0..5)
            .map(|_| hit(&mut w, 1000, 600, 3, 3_000_000).fired)
            .collect();
        assert_eq!(
            f,
            [false, false, false, true, false],
            "4th hit > floor 3 fires once"
        );
    }

    #[test]
    fn busy_history_raises_the_threshold() {
        let mut w = Windows::default();
        // 48 windows with 2 hits each: p95 = 2, x3 = 6 > floor 3.
        for i in 0..48u64 {
            for _ in 0..2 {
                hit(&mut w, i * 600, 600, 3, 3_000_000);
            }
        }
        let now = 48 * 600;
        let f: Vec<bool> = (0..8)
            .map(|_| hit(&mut w, now, 600, 3, 3_000_000).fired)
            .collect();
        assert_eq!(f.iter().position(|x| *x), Some(6), "7th hit > 6 fires");
    }

    #[test]
    fn clock_back_does_not_reopen_a_window() {
        let mut w = Windows::default();
        for _ in 0..3 {
            hit(&mut w, 6000, 600, 3, 3_000_000);
        }
        // The wall clock jumped back an hour: still counted in window 10.
        let o = hit(&mut w, 6000 - 3600, 600, 3, 3_000_000);
        assert_eq!(o.count, 4);
        assert!(o.fired);
    }

    #[test]
    fn clock_forward_starts_a_fresh_window() {
        let mut w = Windows::default();
        for _ in 0..3 {
            hit(&mut w, 6000, 600, 3, 3_000_000);
        }
        let o = hit(&mut w, 6000 + 86_400, 600, 3, 3_000_000);
        assert_eq!(o.count, 1);
        assert!(!o.fired);
        assert!(w.counts.len() <= HISTORY as usize + 1);
    }
}
