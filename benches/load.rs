//! `make load`: closed-loop load at 1x and 2x the core count, bdexec side
//! by side with sudo and doas in the same run (issue 16 item 4,
//! docs/slo.md).
//!
//! `scripts/load.sh` runs this program through `scripts/bench.sh`'s
//! namespace (the bench user, the policy, the sudoers drop-in and
//! doas.conf; the host's configuration is never touched) with:
//!
//!   BELLADONNA_BENCH_BDEXEC   the capability-carrying bdexec copy
//!   BELLADONNA_BENCH_UID/GID  the bench user
//!   BELLADONNA_LOAD_SECONDS   seconds per tool and level (default 5)
//!   BELLADONNA_LOAD_LEVELS    caller counts as multiples of the cores
//!                             (default "1 2")
//!   BELLADONNA_LOAD_TOOLS     only these rows (names, space-separated;
//!                             default all)
//!   BELLADONNA_LOAD_BDEXEC_B  another bdexec build, as the row
//!                             `bdexec-b` (`make load-ab`)
//!
//! Beside the three tools, two rows for the machine itself under the
//! same load: `floor` (`make bench`'s physical floor: one fdatasync'd
//! line on the audit log's disk, then exec; given BELLADONNA_BENCH_FLOOR
//! and BELLADONNA_BENCH_FLOOR_LOG, as `scripts/bench.sh` sets them) and
//! `plain` (/bin/true run directly). Their tail amplification is what
//! the scheduler and the disk add on this machine, below which no
//! privileged tool can go.
//!
//! Closed loop: each caller runs `TOOL -n /bin/true` as the bench user,
//! waits for it, and starts the next call at once, for the set time.
//! Per tool and level it prints the calls, the failures, the calls per
//! second, P50/P95/P99 of the per-call wall time (fork + exec + the
//! tool's whole run + wait), the tail amplification (p99 at the highest
//! level over p99 at 1x) and, for bdexec, the audit records appended per
//! second (lines of the audit log before and after). Last it checks the
//! chain with `bdctl audit verify`: load must not cost a record. The
//! verdict line compares bdexec's P99 at 2x with the SLO of docs/slo.md
//! (5 ms); it is a report, never a test (no timed tests).
//!
//! Only std is used, so `scripts/load.sh` builds it with plain rustc in
//! seconds; Cargo knows it as `[[bench]] name = "load"` for clippy.
#![cfg_attr(test, allow(dead_code, unused))]

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The SLO of docs/slo.md: bdexec's P99 at 2x load.
const SLO_P99: Duration = Duration::from_millis(5);
const AUDIT_LOG: &str = "/var/log/belladonna/audit.jsonl";

#[derive(Clone, Copy)]
struct Caller {
    uid: u32,
    gid: u32,
}

/// One call, as the caller, all output discarded: (wall time, success).
fn one_call(argv: &[String], who: Caller) -> (Duration, bool) {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .uid(who.uid)
        .gid(who.gid)
        .current_dir("/");
    cmd.env_clear()
        .envs([("PATH", "/usr/bin:/bin"), ("LANG", "C")]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let start = Instant::now();
    let ok = cmd.status().is_ok_and(|s| s.success());
    (start.elapsed(), ok)
}

/// What one tool did at one level.
struct Run {
    callers: usize,
    wall: Duration,
    /// Successful calls' latencies, sorted.
    lat: Vec<Duration>,
    failed: usize,
    records: Option<u64>,
}

impl Run {
    fn quantile(&self, q: f64) -> Duration {
        match self.lat.len() {
            0 => Duration::ZERO,
            n => self.lat[(((n - 1) as f64) * q).round() as usize],
        }
    }
}

fn audit_lines() -> Option<u64> {
    let text = std::fs::read(AUDIT_LOG).ok()?;
    Some(text.iter().filter(|&&c| c == b'\n').count() as u64)
}

/// `callers` closed loops of `argv` for `secs`.
fn closed_loop(argv: &[String], who: Caller, callers: usize, secs: Duration, audited: bool) -> Run {
    let before = if audited { audit_lines() } else { None };
    let start = Instant::now();
    let deadline = start + secs;
    let handles: Vec<_> = (0..callers)
        .map(|_| {
            let argv = argv.to_vec();
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut failed = 0;
                while Instant::now() < deadline {
                    match one_call(&argv, who) {
                        (d, true) => lat.push(d),
                        (_, false) => failed += 1,
                    }
                }
                (lat, failed)
            })
        })
        .collect();
    let mut run = Run {
        callers,
        wall: Duration::ZERO,
        lat: Vec::new(),
        failed: 0,
        records: None,
    };
    for h in handles {
        let (lat, failed) = h.join().unwrap_or_default();
        run.lat.extend(lat);
        run.failed += failed;
    }
    run.wall = start.elapsed();
    run.lat.sort();
    if let (Some(b), Some(a)) = (before, audit_lines()) {
        run.records = Some(a.saturating_sub(b));
    }
    run
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn msf(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let Ok(bdexec) = std::env::var("BELLADONNA_BENCH_BDEXEC") else {
        eprintln!("load: run through `make load` (scripts/load.sh sets up the namespace)");
        return;
    };
    let num = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let who = Caller {
        uid: num("BELLADONNA_BENCH_UID", 61900) as u32,
        gid: num("BELLADONNA_BENCH_GID", 61900) as u32,
    };
    let secs = Duration::from_secs_f64(
        std::env::var("BELLADONNA_LOAD_SECONDS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| *s > 0.0)
            .unwrap_or(5.0),
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let levels: Vec<usize> = std::env::var("BELLADONNA_LOAD_LEVELS")
        .unwrap_or_else(|_| "1 2".into())
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .filter(|m| *m > 0)
        .collect();

    let mut tools: Vec<(&str, Vec<String>)> = Vec::new();
    let mut candidates = vec![("bdexec", vec![bdexec.clone(), "-n".into(), "--".into()])];
    // Another build of bdexec in the same run (`make load-ab`), the
    // same log and /run: the two alternate level by level.
    if let Ok(b) = std::env::var("BELLADONNA_LOAD_BDEXEC_B") {
        candidates.push(("bdexec-b", vec![b, "-n".into(), "--".into()]));
    }
    candidates.push(("sudo", vec!["/usr/bin/sudo".into(), "-n".into()]));
    candidates.push(("doas", vec!["/usr/bin/doas".into(), "-n".into()]));
    // What the machine itself does under the same load: the physical
    // floor (one durable line, then exec; `make bench`'s) and a plain
    // exec of the command. Their tail amplification is the scheduler's
    // and the disk's share, which no privileged tool can go below.
    if let (Ok(floor), Ok(log)) = (
        std::env::var("BELLADONNA_BENCH_FLOOR"),
        std::env::var("BELLADONNA_BENCH_FLOOR_LOG"),
    ) {
        candidates.push(("floor", vec![floor, log]));
    }
    candidates.push(("plain", vec![]));
    let only: Option<Vec<String>> = std::env::var("BELLADONNA_LOAD_TOOLS")
        .ok()
        .map(|v| v.split_whitespace().map(String::from).collect())
        .filter(|v: &Vec<String>| !v.is_empty());
    candidates.retain(|(name, _)| only.as_ref().is_none_or(|o| o.iter().any(|n| n == name)));
    for (name, argv) in candidates {
        let mut argv = argv;
        argv.push("/bin/true".into());
        if !Path::new(&argv[0]).exists() {
            println!("load: {name}: {} not installed, skipped", argv[0]);
            continue;
        }
        if !one_call(&argv, who).1 {
            println!(
                "load: {name}: `{}` fails as the bench user, skipped",
                argv.join(" ")
            );
            if name.starts_with("bdexec") {
                std::process::exit(1);
            }
            continue;
        }
        // Warm-up: page cache, sudo's timestamp dir, the log's last block.
        for _ in 0..20 {
            one_call(&argv, who);
        }
        tools.push((name, argv));
    }

    println!(
        "load: {cores} cores, levels {levels:?} x cores, {:.1} s per tool and level, closed loop; load average before: {}",
        secs.as_secs_f64(),
        loadavg()
    );
    // Levels outside, tools inside: the tools of one level share the
    // machine's state of the moment; the order rotates by level so that
    // no tool always goes first.
    let mut results: Vec<(&str, Vec<Run>)> = tools.iter().map(|(n, _)| (*n, Vec::new())).collect();
    for (li, m) in levels.iter().enumerate() {
        for k in 0..tools.len() {
            let i = (li + k) % tools.len();
            let (name, argv) = &tools[i];
            let run = closed_loop(argv, who, m * cores, secs, name.starts_with("bdexec"));
            results[i].1.push(run);
        }
    }
    println!("load: load average after: {}", loadavg());
    println!();
    println!(
        "  {:<7} {:>7} {:>7} {:>6} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "tool", "callers", "calls", "fail", "calls/s", "p50 ms", "p95 ms", "p99 ms", "records/s"
    );
    for (name, runs) in &results {
        for r in runs {
            let rate = r.lat.len() as f64 / r.wall.as_secs_f64();
            let recs = r.records.map_or("-".into(), |n| {
                format!("{:.0}", n as f64 / r.wall.as_secs_f64())
            });
            println!(
                "  {:<7} {:>7} {:>7} {:>6} {:>8.0} {:>8.3} {:>8.3} {:>8.3} {:>10}",
                name,
                r.callers,
                r.lat.len(),
                r.failed,
                rate,
                msf(r.quantile(0.50)),
                msf(r.quantile(0.95)),
                msf(r.quantile(0.99)),
                recs
            );
        }
    }
    println!();
    println!("tail amplification (p99 at the highest level / p99 at the lowest):");
    for (name, runs) in &results {
        if let (Some(lo), Some(hi)) = (runs.first(), runs.last())
            && runs.len() > 1
        {
            println!(
                "  {name:<7} {:.2}  ({} -> {} callers)",
                hi.quantile(0.99).as_secs_f64() / lo.quantile(0.99).as_secs_f64().max(1e-9),
                lo.callers,
                hi.callers
            );
        }
    }
    // `make load-ab`: the two builds round by round (same level, the
    // same minutes), then the median of the rounds' ratios.
    if let (Some((_, a)), Some((_, b))) = (
        results.iter().find(|(n, _)| *n == "bdexec"),
        results.iter().find(|(n, _)| *n == "bdexec-b"),
    ) {
        println!();
        println!("A/B, round by round (bdexec = this build, bdexec-b = the base):");
        let mut p50 = Vec::new();
        let mut p99 = Vec::new();
        for (i, (ra, rb)) in a.iter().zip(b).enumerate() {
            let r = |q: f64| ra.quantile(q).as_secs_f64() / rb.quantile(q).as_secs_f64().max(1e-9);
            println!(
                "  round {} ({} callers): p50 {:.3}/{:.3} ms = {:.3}, p99 {:.3}/{:.3} ms = {:.3}",
                i + 1,
                ra.callers,
                msf(ra.quantile(0.50)),
                msf(rb.quantile(0.50)),
                r(0.50),
                msf(ra.quantile(0.99)),
                msf(rb.quantile(0.99)),
                r(0.99)
            );
            p50.push(r(0.50));
            p99.push(r(0.99));
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            match v.len() {
                0 => f64::NAN,
                n if n % 2 == 1 => v[n / 2],
                n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
            }
        };
        println!(
            "  median ratio (this build / the base): p50 {:.3}, p99 {:.3}",
            median(&mut p50),
            median(&mut p99)
        );
    }
    if let Some((_, runs)) = results.iter().find(|(n, _)| *n == "bdexec")
        && let Some(r) = runs.iter().find(|r| r.callers == 2 * cores)
    {
        let p99 = r.quantile(0.99);
        println!();
        println!(
            "SLO (docs/slo.md: bdexec P99 under {} ms at 2x load): p99 {:.3} ms, {} failed calls: {}",
            SLO_P99.as_millis(),
            msf(p99),
            r.failed,
            if p99 < SLO_P99 && r.failed == 0 {
                "MET"
            } else {
                "MISSED"
            }
        );
    }
    // The same load on the machine alone: when even the floor misses
    // the SLO, the SLO is below what this machine does.
    for name in ["floor", "plain"] {
        if let Some((_, runs)) = results.iter().find(|(n, _)| *n == name)
            && let Some(r) = runs.iter().find(|r| r.callers == 2 * cores)
        {
            println!(
                "  the machine alone ({name}) at 2x load: p99 {:.3} ms ({} the SLO)",
                msf(r.quantile(0.99)),
                if r.quantile(0.99) < SLO_P99 {
                    "within"
                } else {
                    "above"
                }
            );
        }
    }
    let bdctl = Path::new(&bdexec).with_file_name("bdctl");
    let verified = Command::new(&bdctl)
        .args(["audit", "verify"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    println!(
        "load: bdctl audit verify after the load: {}",
        if verified {
            "the chain is valid"
        } else {
            "FAILED"
        }
    );
    if !verified {
        std::process::exit(1);
    }
}
