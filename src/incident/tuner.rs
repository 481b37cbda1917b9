//! `bdctl tune` (docs/incident-response.md, "Tuning"): reads the audit
//! log's decoy hits, replays the decoy alarm over them under the current
//! and the recommended settings, and can write the recommendation as a
//! policy drop-in (which then goes through diff, lint, pin and drift: the
//! decoy segment changes).
#![forbid(unsafe_code)]

use crate::audit::record::LineView;
use crate::incident::alarm;
use crate::policy::model::IncidentSettings;
use std::io::BufRead as _;
use std::path::Path;

/// Unix seconds of an RFC 3339 UTC time as records write it
/// (`2026-11-29T17:37:19.123456789Z`); `None` for anything else.
pub fn parse_time(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !s.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

/// The times of the decoy hits in the log at `path`.
pub fn decoy_hits(path: &Path) -> Result<Vec<u64>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for line in std::io::BufReader::new(f).split(b'\n') {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        let Ok(v) = LineView::parse(&line) else {
            continue;
        };
        let is_hit = v.text("event").as_deref() == Some(b"alert".as_slice())
            && v.text("reason").as_deref() == Some(b"decoy hit".as_slice());
        if let Some(t) = is_hit
            .then(|| v.text("time"))
            .flatten()
            .and_then(|t| parse_time(&String::from_utf8_lossy(&t)))
        {
            out.push(t);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Novelty events from the log at `path`: (uid, time) of each accepted
/// command the uid had never had accepted before in that log (the
/// hydra's `novelty` head, computed here so that bdexec pays nothing for
/// it on accepted calls).
pub fn novelty(path: &Path) -> Result<Vec<(u32, u64)>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut seen: std::collections::HashSet<(u64, Vec<u8>)> = std::collections::HashSet::new();
    let mut out = Vec::new();
    for line in std::io::BufReader::new(f).split(b'\n') {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        let Ok(v) = LineView::parse(&line) else {
            continue;
        };
        if v.text("event").as_deref() != Some(b"accept".as_slice()) {
            continue;
        }
        let uid = match v.get("submituid") {
            Some(crate::audit::record::Value::Int(n)) => *n,
            _ => continue,
        };
        let (Some(cmd), Some(t)) = (v.text("command"), v.text("time")) else {
            continue;
        };
        let Some(t) = parse_time(&String::from_utf8_lossy(&t)) else {
            continue;
        };
        if seen.insert((uid, cmd))
            && let Ok(u) = u32::try_from(uid)
        {
            out.push((u, t));
        }
    }
    Ok(out)
}

/// When the alarm would have fired (window start times) for `hits`.
pub fn replay(hits: &[u64], s: &IncidentSettings) -> Vec<u64> {
    let mut w = alarm::Windows::default();
    hits.iter()
        .filter(|t| {
            alarm::hit(
                &mut w,
                **t,
                s.decoy_window,
                s.decoy_floor,
                s.decoy_factor_ppm,
            )
            .fired
        })
        .map(|t| t - t % s.decoy_window.max(1))
        .collect()
}

/// The recommendation: the same window and factor, a floor at the
/// busiest window seen (so that history as it was would not have fired),
/// at least 1.
pub fn recommend(hits: &[u64], cur: &IncidentSettings) -> IncidentSettings {
    let win = cur.decoy_window.max(1);
    let mut per: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
    for t in hits {
        *per.entry(t / win).or_default() += 1;
    }
    let busiest = per.values().copied().max().unwrap_or(0);
    IncidentSettings {
        decoy_floor: u32::try_from(busiest.max(1)).unwrap_or(u32::MAX),
        ..cur.clone()
    }
}

/// The busiest minute of the log at `path`: the most records (calls,
/// traces for `bdctl export otlp`) with a time in one UTC minute.
pub fn busiest_minute(path: &Path) -> Result<u64, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut per: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    for line in std::io::BufReader::new(f).split(b'\n') {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        let Ok(v) = LineView::parse(&line) else {
            continue;
        };
        if let Some(t) = v
            .text("time")
            .and_then(|t| parse_time(&String::from_utf8_lossy(&t)))
        {
            *per.entry(t / 60).or_default() += 1;
        }
    }
    Ok(per.values().copied().max().unwrap_or(0))
}

/// The trace sampling rate (millionths) that keeps the busiest minute
/// seen (`peak` calls) within `budget` traces per minute: every call when
/// it already fits, else `budget / peak` rounded down to a thousandth
/// (never 0: at least one call in a thousand is kept).
pub fn recommend_sampling(peak: u64, budget: u64) -> u32 {
    if peak <= budget {
        return 1_000_000;
    }
    let ppm = budget.saturating_mul(1_000_000) / peak;
    u32::try_from((ppm / 1000 * 1000).max(1000)).unwrap_or(1_000_000)
}

/// The drop-in text for `s`.
pub fn dropin(s: &IncidentSettings) -> String {
    format!(
        "# Written by `bdctl tune` from the audit log's decoy hits.\n\
         # Review with `bdctl policy diff` and `bdctl policy check`, then pin.\n\
         [incident]\ndecoy_floor = {}\ndecoy_factor = {}\ndecoy_window = \"{}s\"\n{}",
        s.decoy_floor,
        crate::incident::ppm_text(u64::from(s.decoy_factor_ppm)),
        s.decoy_window,
        s.trace_sample_ppm.map_or(String::new(), |p| format!(
            "trace_sample_rate = {:.3}\n",
            f64::from(p) / 1e6
        ))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_record_times() {
        assert_eq!(parse_time("1970-01-01T00:00:00.000000000Z"), Some(0));
        assert_eq!(
            parse_time("2026-11-29T17:37:19.123456789Z"),
            Some(1_795_973_839)
        );
        assert_eq!(parse_time("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-11-29 17:37:19Z",
            "x026-11-29T17:37:19Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn recommendation_would_not_have_fired() {
        let cur = IncidentSettings {
            decoy_floor: 2,
            decoy_window: 600,
            ..IncidentSettings::default()
        };
        // A job that runs a decoy 5 times in one window.
        let hits: Vec<u64> = (0..5).map(|i| 6000 + i).collect();
        assert_eq!(replay(&hits, &cur), vec![6000]);
        let rec = recommend(&hits, &cur);
        assert_eq!(rec.decoy_floor, 5);
        assert!(replay(&hits, &rec).is_empty());
        let text = dropin(&rec);
        let p = crate::policy::parse::parse_policy(&text, Path::new("90-tune.toml"))
            .expect("the drop-in parses");
        assert_eq!(p.incident.decoy_floor, Some(5));
        assert_eq!(p.incident.decoy_window, Some(600));
        assert_eq!(p.incident.trace_sample_ppm, None);
        let text = dropin(&IncidentSettings {
            trace_sample_ppm: Some(125_000),
            ..rec
        });
        let p = crate::policy::parse::parse_policy(&text, Path::new("90-tune.toml"))
            .expect("the drop-in parses");
        assert_eq!(p.incident.trace_sample_ppm, Some(125_000));
    }

    #[test]
    fn sampling_keeps_the_busiest_minute_within_the_budget() {
        assert_eq!(recommend_sampling(0, 600), 1_000_000);
        assert_eq!(recommend_sampling(600, 600), 1_000_000);
        assert_eq!(recommend_sampling(1200, 600), 500_000);
        // Rounded down to a thousandth: 600/1801 = 0.3331... -> 0.333.
        assert_eq!(recommend_sampling(1801, 600), 333_000);
        for peak in [601, 999, 12_345, 500_000] {
            let p = recommend_sampling(peak, 600);
            assert!(u64::from(p) * peak / 1_000_000 <= 600, "{peak}: {p}");
        }
        // Never 0.
        assert_eq!(recommend_sampling(u64::MAX, 1), 1000);
    }
}
