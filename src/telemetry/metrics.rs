//! `bdctl metrics`: Prometheus metrics derived from the audit log and the
//! state directories (DESIGN section 11).
//!
//! [`collect`] reads the records past the metrics cursor
//! (`/var/lib/belladonna/metrics.state`), adds them to the persisted
//! counters and histograms, reads the live values (policy, lint, drift,
//! nonce counters, Landlock ABI, clock skew, OTLP export state) and
//! returns [`Family`]s: one model rendered as Prometheus text
//! ([`render`]) or sent over OTLP ([`super::otlp::encode_metrics`]).
//!
//! Label values are bounded: event kinds from a fixed list, severities,
//! segments, reset reasons, and the policy's own hashes; never argv, user
//! or host names.
#![forbid(unsafe_code)]

use super::TelemetryError;
use super::cursor::{self, Cursor, Reset};
use super::store::{self, Locked};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::fd::AsFd;
use std::path::Path;

/// The metrics state document in `/var/lib/belladonna`.
pub const STATE: &str = "metrics";
/// Upper bounds (seconds) of the decision latency buckets.
pub const LATENCY_BOUNDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Upper bounds (seconds) of the audit append (fsync) buckets.
pub const FSYNC_BOUNDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
/// The `event` label values; anything else is `other`.
pub const EVENTS: &[&str] = &[
    "accept",
    "reject",
    "recovery",
    "seal",
    "exit",
    "alert",
    "freeze",
    "unfreeze",
    "unfreeze-refused",
];
/// Window of the replay eviction ratio, seconds.
pub const RATIO_WINDOW: u64 = 600;
const MAX_RATIO_SAMPLES: usize = 128;

/// A histogram as persisted: per-bucket counts (the last is +Inf).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hist {
    pub counts: Vec<u64>,
    pub sum_us: u64,
    pub count: u64,
}

impl Hist {
    fn observe(&mut self, bounds: &[f64], us: u64) {
        if self.counts.len() != bounds.len() + 1 {
            // Bounds changed with a new version: start over.
            *self = Hist {
                counts: vec![0; bounds.len() + 1],
                ..Hist::default()
            };
        }
        let secs = us as f64 / 1e6;
        let i = bounds
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(bounds.len());
        self.counts[i] += 1;
        self.sum_us = self.sum_us.saturating_add(us);
        self.count += 1;
    }
}

/// `metrics.state`: the cursor and everything counted so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub cursor: Cursor,
    pub decisions: BTreeMap<String, u64>,
    pub latency: Hist,
    pub fsync: Hist,
    /// Cursor resets by reason (`truncated`, `rotated`).
    pub resets: BTreeMap<String, u64>,
    /// Records of the current log seen (the backlog without an export
    /// cursor in this log).
    pub file_records: u64,
    /// (wall seconds, evictions, insertions) samples for the ratio.
    pub replay: Vec<(u64, u64, u64)>,
}

/// Metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One sample's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Num(f64),
    /// Per-bucket counts (last = +Inf), sum in seconds.
    Hist {
        bounds: &'static [f64],
        counts: Vec<u64>,
        sum: f64,
        count: u64,
    },
}

/// One sample: labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Vec<(&'static str, String)>,
    pub value: Value,
}

/// A metric family.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub samples: Vec<Sample>,
}

impl Family {
    fn one(name: &'static str, help: &'static str, kind: Kind, v: f64) -> Family {
        Family {
            name,
            help,
            kind,
            samples: vec![Sample {
                labels: Vec::new(),
                value: Value::Num(v),
            }],
        }
    }
}

/// What one collection did besides counting.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    pub families: Vec<Family>,
    /// One line per problem worth telling the operator (cursor reset,
    /// unreadable state); the metrics are still produced.
    pub notes: Vec<String>,
}

/// The event label of a record.
pub fn event_label(v: &serde_json::Value) -> &'static str {
    let e = v.get("event").and_then(|e| e.as_str()).unwrap_or("");
    EVENTS.iter().find(|k| **k == e).copied().unwrap_or("other")
}

pub use super::cursor::timing;

/// Add one record to the state.
pub fn ingest(st: &mut State, v: &serde_json::Value) {
    *st.decisions.entry(event_label(v).to_string()).or_insert(0) += 1;
    st.file_records += 1;
    if let (Some(r), Some(a), Some(va)) =
        (timing(v, "recv"), timing(v, "auth"), timing(v, "validate"))
    {
        st.latency
            .observe(LATENCY_BOUNDS, r.saturating_add(a).saturating_add(va));
    }
    // A record cannot time its own durable write: the next record
    // carries it (`sync_prev_us`, docs/audit-format.md 1.6).
    if let Some(us) = v.get("sync_prev_us").and_then(serde_json::Value::as_u64) {
        st.fsync.observe(FSYNC_BOUNDS, us);
    }
}

/// Records read per batch (bounds memory on a large log).
const BATCH: usize = 4096;

/// Read the records past the cursor into `st`, batch by batch; returns a
/// note when the cursor had to be reset.
pub fn advance(st: &mut State, log: &Path) -> Result<Option<String>, TelemetryError> {
    let mut note = None;
    loop {
        let batch = cursor::read_new(log, &st.cursor, Some(BATCH))?;
        if let Some(r) = batch.reset {
            *st.resets.entry(r.as_str().to_string()).or_insert(0) += 1;
            note = Some(match r {
                Reset::Truncated => format!(
                    "audit log {} was truncated or rewritten under the metrics cursor \
                     (byte {}, seq {}): records already counted are not counted again",
                    log.display(),
                    st.cursor.offset,
                    st.cursor.seq.map_or("-".into(), |s| s.to_string())
                ),
                Reset::Rotated => {
                    st.file_records = 0;
                    format!(
                        "audit log {} was rotated or replaced: counting its records from the start",
                        log.display()
                    )
                }
            });
        }
        for r in &batch.records {
            ingest(st, &r.value);
        }
        st.cursor = batch.end;
        if !batch.more {
            return Ok(note);
        }
    }
}

/// The replay eviction ratio over [`RATIO_WINDOW`], after adding the
/// sample (`now`, `ev`, `ins`) to `samples`: the change of the counters
/// since the newest sample at least a window old, or since boot (the
/// counters are per boot) while there is none.
pub fn eviction_ratio(samples: &mut Vec<(u64, u64, u64)>, now: u64, ev: u64, ins: u64) -> f64 {
    // Counters went down: a reboot emptied the per-boot state.
    if samples.last().is_some_and(|l| l.1 > ev || l.2 > ins) {
        samples.clear();
    }
    samples.push((now, ev, ins));
    let cut = now.saturating_sub(RATIO_WINDOW);
    let base = match samples.iter().rposition(|s| s.0 <= cut) {
        Some(i) => {
            samples.drain(..i);
            samples[0]
        }
        None => (0, 0, 0),
    };
    if samples.len() > MAX_RATIO_SAMPLES {
        let extra = samples.len() - MAX_RATIO_SAMPLES;
        samples.drain(1..=extra);
    }
    let d_ins = ins.saturating_sub(base.2);
    if d_ins == 0 {
        return 0.0;
    }
    ev.saturating_sub(base.1) as f64 / d_ins as f64
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Collect every metric: advance the cursor (persisted), then read the
/// live values. `log` is the audit log.
pub fn collect(log: &Path) -> Result<Collected, TelemetryError> {
    let lib = store::lib_dir()?;
    let export = store::read::<store::ExportState>(lib.as_fd(), store::EXPORT_STATE_FILE);
    let locked = Locked::open(lib, STATE)?;
    let mut st: State = locked.load()?;
    let mut notes = Vec::new();
    if let Some(n) = advance(&mut st, log)? {
        notes.push(n);
    }
    let (evictions, insertions) = match replay_counters() {
        Ok(c) => c,
        Err(e) => {
            notes.push(format!("replay counters: {e}"));
            (0, 0)
        }
    };
    let ratio = eviction_ratio(&mut st.replay, now_secs(), evictions, insertions);
    locked.save(&st)?;
    drop(locked);
    let (export_errors, backlog) = match export {
        Ok(ex) => (ex.errors, backlog(&st, Some(&ex.cursor))),
        Err(e) => {
            notes.push(e.0);
            (0, backlog(&st, None))
        }
    };
    let mut f = log_families(&st);
    let live: [(&'static str, &'static str, Kind, f64); 4] = [
        (
            "belladonna_audit_backlog_depth",
            "Audit records not yet exported over OTLP (bdctl export otlp).",
            Kind::Gauge,
            backlog as f64,
        ),
        (
            "belladonna_otel_export_errors_total",
            "Failed OTLP export attempts (bdctl export otlp, doctor excluded).",
            Kind::Counter,
            export_errors as f64,
        ),
        (
            "belladonna_replay_evictions_total",
            "Expired nonces evicted from the replay sets (this boot).",
            Kind::Counter,
            evictions as f64,
        ),
        (
            "belladonna_replay_eviction_ratio",
            "Nonce evictions over insertions in the last 10 minutes.",
            Kind::Gauge,
            ratio,
        ),
    ];
    f.extend(
        live.into_iter()
            .map(|(name, help, kind, v)| Family::one(name, help, kind, v)),
    );
    f.extend(policy_families(&mut notes));
    f.extend(incident_families());
    f.push(Family::one(
        "belladonna_landlock_abi",
        "The running kernel's Landlock ABI version (0: none).",
        Kind::Gauge,
        f64::from(crate::sandbox::landlock::kernel_abi()),
    ));
    match clock_skew() {
        Ok(s) => f.push(Family::one(
            "belladonna_clock_skew_seconds",
            "Wall clock movement against the monotonic clock since this boot's anchor (0 under 2 s).",
            Kind::Gauge,
            s as f64,
        )),
        Err(e) => notes.push(format!("clock skew: {e}")),
    }
    Ok(Collected { families: f, notes })
}

/// Frozen mode, the hydra score quantiles over users and the incident
/// counters (docs/incident-response.md). A freeze state that cannot be
/// read counts as frozen, as bdexec counts it.
fn incident_families() -> Vec<Family> {
    use crate::incident::{counters, freeze, hydra};
    let frozen = match crate::state::open_state_dir() {
        Ok(run) => freeze::check(std::os::fd::AsFd::as_fd(&run)).is_frozen(),
        Err(_) => true,
    };
    let now = hydra::now_stamp();
    let mut scores: Vec<f64> = hydra::read()
        .users
        .values()
        .map(|h| h.score_at(&now))
        .collect();
    // A gauge may not carry `quantile` (reserved for summaries).
    let quantiles = [("50", 50), ("95", 95), ("99", 99)]
        .iter()
        .map(|(q, p)| Sample {
            labels: vec![("percentile", (*q).to_string())],
            value: Value::Num(hydra::percentile(&mut scores, *p)),
        })
        .collect();
    let c = counters::read();
    let n = |k: &str| c.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0) as f64;
    let labelled = |label: &'static str, pairs: &[(&str, f64)]| -> Vec<Sample> {
        pairs
            .iter()
            .map(|(l, v)| Sample {
                labels: vec![(label, (*l).to_string())],
                value: Value::Num(*v),
            })
            .collect()
    };
    vec![
        Family::one(
            "belladonna_frozen",
            "1 while the host is in frozen mode (only break-glass rules run).",
            Kind::Gauge,
            if frozen { 1.0 } else { 0.0 },
        ),
        Family {
            name: "belladonna_hydra_score",
            help: "Hydra risk score over users (nearest-rank percentiles 50, 95, 99; 0..1).",
            kind: Kind::Gauge,
            samples: quantiles,
        },
        Family {
            name: "belladonna_freezes_total",
            help: "Freezes by cause.",
            kind: Kind::Counter,
            samples: labelled(
                "cause",
                &[
                    ("manual", n("freezes_manual")),
                    ("hydra", n("freezes_hydra")),
                    ("decoy-rate", n("freezes_decoy_rate")),
                ],
            ),
        },
        Family {
            name: "belladonna_unfreezes_total",
            help: "Unfreezes by the kind of freeze they lifted.",
            kind: Kind::Counter,
            samples: labelled(
                "freeze",
                &[
                    ("manual", n("unfreezes_manual")),
                    ("automatic", n("unfreezes_automatic")),
                ],
            ),
        },
        Family::one(
            "belladonna_decoy_hits_total",
            "Decoys run (alert records).",
            Kind::Counter,
            n("decoy_hits"),
        ),
    ]
}

/// Records after the export cursor.
fn backlog(st: &State, export: Option<&Cursor>) -> u64 {
    match (export, &st.cursor.seq) {
        (Some(ex), Some(last)) if ex.first_h.is_some() && ex.first_h == st.cursor.first_h => {
            last.saturating_sub(ex.seq.unwrap_or(0))
        }
        _ => st.file_records,
    }
}

/// The families counted from the log.
pub fn log_families(st: &State) -> Vec<Family> {
    let mut decisions = Family {
        name: "belladonna_decisions_total",
        help: "Audit records by event.",
        kind: Kind::Counter,
        samples: Vec::new(),
    };
    for e in EVENTS.iter().chain(["other"].iter()) {
        decisions.samples.push(Sample {
            labels: vec![("event", (*e).to_string())],
            value: Value::Num(st.decisions.get(*e).copied().unwrap_or(0) as f64),
        });
    }
    let hist = |name, help, bounds: &'static [f64], h: &Hist| {
        let counts = if h.counts.len() == bounds.len() + 1 {
            h.counts.clone()
        } else {
            vec![0; bounds.len() + 1]
        };
        Family {
            name,
            help,
            kind: Kind::Histogram,
            samples: vec![Sample {
                labels: Vec::new(),
                value: Value::Hist {
                    bounds,
                    counts,
                    sum: h.sum_us as f64 / 1e6,
                    count: h.count,
                },
            }],
        }
    };
    let mut resets = Family {
        name: "belladonna_audit_cursor_resets_total",
        help: "Times the audit log was found truncated or rotated under the metrics cursor.",
        kind: Kind::Counter,
        samples: Vec::new(),
    };
    for r in [Reset::Truncated, Reset::Rotated] {
        resets.samples.push(Sample {
            labels: vec![("reason", r.as_str().to_string())],
            value: Value::Num(st.resets.get(r.as_str()).copied().unwrap_or(0) as f64),
        });
    }
    vec![
        decisions,
        hist(
            "belladonna_decision_latency_seconds",
            "Decision latency: recv + auth + validate stages of bdexec.",
            LATENCY_BOUNDS,
            &st.latency,
        ),
        hist(
            "belladonna_audit_fsync_seconds",
            "Durable audit append (write + fdatasync) latency.",
            FSYNC_BOUNDS,
            &st.fsync,
        ),
        resets,
    ]
}

/// Sum of the nonce sets' counters.
fn replay_counters() -> Result<(u64, u64), TelemetryError> {
    use crate::state::nonce;
    let sd = crate::state::open_state_dir()?;
    let (mut ev, mut ins) = (0u64, 0u64);
    for ns in nonce::namespaces(sd.as_fd()).map_err(|e| TelemetryError(e.to_string()))? {
        let s = nonce::load(sd.as_fd(), &ns).map_err(|e| TelemetryError(e.to_string()))?;
        ev = ev.saturating_add(s.evictions);
        ins = ins.saturating_add(s.insertions);
    }
    Ok((ev, ins))
}

fn clock_skew() -> Result<i64, TelemetryError> {
    let sd = crate::state::open_state_dir()?;
    Ok(crate::state::clock::now(sd.as_fd())?.skew.unwrap_or(0))
}

/// Policy, lint and segment families of the installed policy.
fn policy_families(notes: &mut Vec<String>) -> Vec<Family> {
    use crate::policy::{hash, lint, load, lock};
    let loaded = match load::load_policy() {
        Ok(l) => l,
        Err(e) => {
            notes.push(format!("policy: {e}"));
            return vec![Family::one(
                "belladonna_policy_loaded",
                "1 when the installed policy loads, 0 when it does not.",
                Kind::Gauge,
                0.0,
            )];
        }
    };
    let p = &loaded.policy;
    let mut findings = lint::lint(p);
    findings.extend(lint::lint_paths(p));
    findings.extend(lint::lint_accounts(p));
    let counts = lint::counts(&findings);
    let lint_f = Family {
        name: "belladonna_lint_findings",
        help: "Lint findings of the installed policy by severity.",
        kind: Kind::Gauge,
        samples: counts
            .samples()
            .iter()
            .map(|(sev, n)| Sample {
                labels: vec![("severity", (*sev).to_string())],
                value: Value::Num(*n as f64),
            })
            .collect(),
    };
    let info = Family {
        name: "belladonna_policy_info",
        help: "The installed policy: canonical hash and format version.",
        kind: Kind::Gauge,
        samples: vec![Sample {
            labels: vec![
                ("hash", hash::hex(&loaded.hash)),
                ("version", p.version.to_string()),
            ],
            value: Value::Num(1.0),
        }],
    };
    let pinned = match lock::read_lock() {
        Ok(l) => l.map(|l| l.segments),
        Err(e) => {
            notes.push(format!("policy lock: {e}"));
            None
        }
    };
    let cur = hash::segment_hashes(p);
    let segs = [
        ("auth", cur.auth, pinned.map(|s| s.auth)),
        ("rate", cur.rate, pinned.map(|s| s.rate)),
        ("sandbox", cur.sandbox, pinned.map(|s| s.sandbox)),
        ("decoy", cur.decoy, pinned.map(|s| s.decoy)),
    ];
    let seg_f = Family {
        name: "belladonna_policy_segment_info",
        help: "Segment hashes of the installed policy; drift: differs from the pin (unpinned: no policy.lock).",
        kind: Kind::Gauge,
        samples: segs
            .iter()
            .map(|(name, h, pin)| Sample {
                labels: vec![
                    ("segment", (*name).to_string()),
                    ("hash", hash::hex(h)),
                    (
                        "drift",
                        match pin {
                            None => "unpinned",
                            Some(x) if x == h => "false",
                            Some(_) => "true",
                        }
                        .to_string(),
                    ),
                ],
                value: Value::Num(1.0),
            })
            .collect(),
    };
    vec![
        Family::one(
            "belladonna_policy_loaded",
            "1 when the installed policy loads, 0 when it does not.",
            Kind::Gauge,
            1.0,
        ),
        info,
        seg_f,
        lint_f,
    ]
}

fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn fmt_num(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else if v.is_nan() {
        "NaN".to_string()
    } else {
        format!("{v}")
    }
}

fn labels(ls: &[(&str, String)], extra: Option<(&str, String)>) -> String {
    let all: Vec<String> = ls
        .iter()
        .map(|(k, v)| (*k, v.clone()))
        .chain(extra)
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(&v)))
        .collect();
    if all.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", all.join(","))
    }
}

/// The Prometheus text exposition (format 0.0.4) of `families`.
pub fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for f in families {
        let ty = match f.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {ty}", f.name);
        for s in &f.samples {
            match &s.value {
                Value::Num(v) => {
                    let _ = writeln!(out, "{}{} {}", f.name, labels(&s.labels, None), fmt_num(*v));
                }
                Value::Hist {
                    bounds,
                    counts,
                    sum,
                    count,
                } => {
                    let mut cum = 0u64;
                    for (i, c) in counts.iter().enumerate() {
                        cum += c;
                        let le = bounds.get(i).copied().unwrap_or(f64::INFINITY);
                        let _ = writeln!(
                            out,
                            "{}_bucket{} {cum}",
                            f.name,
                            labels(&s.labels, Some(("le", fmt_num(le))))
                        );
                    }
                    let l = labels(&s.labels, None);
                    let _ = writeln!(out, "{}_sum{l} {}", f.name, fmt_num(*sum));
                    let _ = writeln!(out, "{}_count{l} {count}", f.name);
                }
            }
        }
    }
    out
}

/// Write `text` to `DIR/belladonna.prom` atomically (a temporary file in
/// DIR, fsync, rename), mode 0644 so node_exporter's textfile collector
/// (an unprivileged user) can read it. The temporary name does not end
/// in `.prom`, so the collector never reads a partial file. DIR may
/// belong to that user: everything happens relative to one fd of DIR
/// (opened without following a symlink as its last component), the
/// temporary file is created exclusively without following symlinks,
/// and its mode is set on the fd; a rename replaces a symlink, never
/// follows it.
pub fn write_textfile(dir: &Path, text: &str) -> Result<(), TelemetryError> {
    use nix::fcntl::{OFlag, open, openat, renameat};
    use nix::sys::stat::{Mode, fchmod};
    use nix::unistd::{UnlinkatFlags, fsync, unlinkat};
    use std::io::Write as _;
    const NAME: &str = "belladonna.prom";
    let tmp = format!(".{NAME}.{}.tmp", std::process::id());
    let e = |what: &str, name: &str, x: nix::Error| {
        TelemetryError(format!(
            "{}: {what}: {}",
            dir.join(name).display(),
            x.desc()
        ))
    };
    let d = open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|x| e("open", "", x))?;
    let _ = unlinkat(&d, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
    let fd = openat(
        &d,
        tmp.as_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    )
    .map_err(|x| e("create", &tmp, x))?;
    let r = (|| {
        // The umask may have removed bits the collector needs.
        fchmod(&fd, Mode::from_bits_truncate(0o644)).map_err(|x| e("chmod", &tmp, x))?;
        let mut f = std::fs::File::from(fd);
        f.write_all(text.as_bytes())
            .map_err(|x| TelemetryError(format!("{}: write: {x}", dir.join(&tmp).display())))?;
        f.sync_all()
            .map_err(|x| TelemetryError(format!("{}: fsync: {x}", dir.join(&tmp).display())))?;
        renameat(&d, tmp.as_str(), &d, NAME).map_err(|x| e("rename", NAME, x))
    })();
    if r.is_err() {
        let _ = unlinkat(&d, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
    }
    r?;
    let _ = fsync(&d);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textfile_is_replaced_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().expect("tmp");
        let victim = d.path().join("victim");
        std::fs::write(&victim, "keep").expect("victim");
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let dir = d.path().join("textfile");
        std::fs::create_dir(&dir).expect("mkdir");
        // The collector's user planted symlinks at both names.
        std::os::unix::fs::symlink(&victim, dir.join("belladonna.prom")).expect("ln");
        std::os::unix::fs::symlink(
            &victim,
            dir.join(format!(".belladonna.prom.{}.tmp", std::process::id())),
        )
        .expect("ln");
        write_textfile(&dir, "x 1\n").expect("write");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep");
        let m = std::fs::symlink_metadata(&victim).expect("stat");
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        let t = std::fs::symlink_metadata(dir.join("belladonna.prom")).expect("stat");
        assert!(t.is_file());
        assert_eq!(t.permissions().mode() & 0o777, 0o644);
        assert_eq!(
            std::fs::read_dir(&dir).expect("ls").count(),
            1,
            "no temporary left"
        );
        // A symlinked directory is refused.
        let link = d.path().join("dirlink");
        std::os::unix::fs::symlink(&dir, &link).expect("ln");
        assert!(write_textfile(&link, "x 1\n").is_err());
    }

    #[test]
    fn eviction_ratio_over_the_window() {
        let mut s = Vec::new();
        // No sample a window old yet: since boot.
        assert_eq!(eviction_ratio(&mut s, 1000, 1, 4), 0.25);
        assert_eq!(eviction_ratio(&mut s, 1100, 2, 100), 0.02);
        // A window later, the base moves to the newest sample a window
        // old: only what happened since counts.
        assert_eq!(eviction_ratio(&mut s, 1700, 12, 200), 0.1);
        assert_eq!(eviction_ratio(&mut s, 2400, 12, 300), 0.0);
        // Counters went down (reboot): start over, since boot.
        assert_eq!(eviction_ratio(&mut s, 2500, 1, 10), 0.1);
        assert_eq!(s.len(), 1);
        for i in 0..1000u64 {
            eviction_ratio(&mut s, 3000 + i / 10, i, i * 10);
        }
        assert!(s.len() <= MAX_RATIO_SAMPLES);
    }

    #[test]
    fn histogram_and_labels_render_as_exposition() {
        let mut st = State::default();
        for v in [
            serde_json::json!({"event": "accept", "timing": {"recv": 1, "auth": 2, "validate": 3, "append": 4}, "sync_prev_us": 250}),
            serde_json::json!({"event": "bogus\n\"x", "timing": {"recv": 1000000, "auth": 0, "validate": 0}}),
            serde_json::json!({"event": "reject"}),
        ] {
            ingest(&mut st, &v);
        }
        let t = render(&log_families(&st));
        assert!(
            t.contains("belladonna_decisions_total{event=\"other\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("belladonna_decision_latency_seconds_bucket{le=\"0.0005\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("belladonna_decision_latency_seconds_bucket{le=\"1\"} 2\n"),
            "{t}"
        );
        assert!(
            t.contains("belladonna_decision_latency_seconds_bucket{le=\"+Inf\"} 2\n"),
            "{t}"
        );
        assert!(
            t.contains("belladonna_decision_latency_seconds_sum 1.000006\n"),
            "{t}"
        );
        assert!(
            t.contains("belladonna_audit_fsync_seconds_count 1\n"),
            "{t}"
        );
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
