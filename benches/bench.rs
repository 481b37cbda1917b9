//! `make bench`: per-call wall time and peak RSS of
//! `bdexec -n -- /bin/true` side by side with `sudo -n /bin/true` and
//! `doas -n /bin/true` (and plain `/bin/true` as the floor), called by an
//! unprivileged user with a NOPASSWD-style rule, no tty.
//!
//! This program is the measuring half; `scripts/bench.sh` is the setup
//! half: it builds a private mount namespace whose /etc has the bench
//! user, the Belladonna policy, a sudoers drop-in and doas.conf (the
//! host's configuration is never touched), then runs this program inside
//! it with:
//!
//!   BELLADONNA_BENCH_BDEXEC   the capability-carrying bdexec copy
//!   BELLADONNA_BENCH_UID/GID  the bench user
//!   BELLADONNA_BENCH_ROUNDS   paired rounds (default 500)
//!   BELLADONNA_BENCH_PAR      calls per worker for the 4-caller run (default 250)
//!   BELLADONNA_BENCH_FLOOR    scripts/bench-floor built, and
//!   BELLADONNA_BENCH_FLOOR_LOG  its log on the audit log's disk: the
//!                             physical floor, measured as one more tool
//!   BELLADONNA_BENCH_FLOOR_MUSL the same floor built on musl (musl-gcc),
//!                             measured too where present
//!
//! Then the journald copy's cost: bdexec with and without a running
//! systemd-journald (paired rounds), and one entry built and sent
//! in-process; last, the policy cache's steps in-process.
//!
//! Method: every round runs each tool once, in a rotating order (pairs
//! share the machine's state of the moment); the paired ratio of a round
//! is bdexec's time over the other tool's, and the median of those ratios
//! is reported with the percentiles of each tool. Wall time covers
//! fork + exec + the tool's whole run + wait4; RSS is wait4's ru_maxrss
//! (the peak of the process over its life, bdexec's part included since
//! it execs /bin/true in place). Only std is used (wait4 through FFI), so
//! the program also builds with plain rustc. Register it with
//! `[[bench]] name = "bench" harness = false`.
#![cfg_attr(test, allow(dead_code, unused))]

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[repr(C)]
#[derive(Default)]
struct Rusage {
    utime: [i64; 2],
    stime: [i64; 2],
    maxrss: i64,
    rest: [i64; 13],
}

unsafe extern "C" {
    fn wait4(pid: i32, status: *mut i32, options: i32, rusage: *mut Rusage) -> i32;
}

struct Tool {
    name: &'static str,
    argv: Vec<String>,
    times: Vec<Duration>,
    rss_kib: Vec<i64>,
}

struct Caller {
    uid: u32,
    gid: u32,
}

/// Run argv once as the caller; (wall time, peak RSS KiB, exit status).
/// The child is reaped with wait4 (for its rusage), not Child::wait.
#[allow(clippy::zombie_processes)]
fn call(argv: &[String], who: &Caller) -> (Duration, i64, i32) {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LANG", "C")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .uid(who.uid)
        .gid(who.gid);
    let start = Instant::now();
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", argv[0]));
    let mut status = 0;
    let mut ru = Rusage::default();
    // SAFETY: wait4 on our own child's pid with valid out-pointers.
    let r = unsafe { wait4(child.id() as i32, &mut status, 0, &mut ru) };
    let took = start.elapsed();
    assert_eq!(r, child.id() as i32, "wait4 failed");
    (took, ru.maxrss, status)
}

/// Run once with stderr captured, to explain a failing tool.
fn diagnose(argv: &[String], who: &Caller) -> String {
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .uid(who.uid)
        .gid(who.gid)
        .output();
    match out {
        Ok(o) => format!(
            "{}; stderr: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => e.to_string(),
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:8.3}", d.as_secs_f64() * 1e3)
}

fn median_f(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let Ok(bdexec) = std::env::var("BELLADONNA_BENCH_BDEXEC") else {
        eprintln!(
            "bench: run through `make bench` (scripts/bench.sh sets up the namespace); nothing to do here."
        );
        return;
    };
    let who = Caller {
        uid: env_num("BELLADONNA_BENCH_UID", 61900) as u32,
        gid: env_num("BELLADONNA_BENCH_GID", 61900) as u32,
    };
    let rounds = env_num("BELLADONNA_BENCH_ROUNDS", 500);
    let par_calls = env_num("BELLADONNA_BENCH_PAR", 250);

    let candidates: Vec<(&'static str, Vec<String>)> = vec![
        (
            "bdexec",
            vec![bdexec.clone(), "-n".into(), "--".into(), "/bin/true".into()],
        ),
        (
            // The same call through a rule with a sandbox profile (Landlock
            // + an allow-list seccomp filter): NNP, Landlock and the
            // filter loaded from the tmpfs cache on every call.
            "bdexec+sb",
            vec![
                bdexec.clone(),
                "-n".into(),
                "--".into(),
                "/bin/true".into(),
                "sandboxed".into(),
            ],
        ),
        (
            "sudo",
            vec!["/usr/bin/sudo".into(), "-n".into(), "/bin/true".into()],
        ),
        (
            "doas",
            vec!["/usr/bin/doas".into(), "-n".into(), "/bin/true".into()],
        ),
        ("plain", vec!["/bin/true".into()]),
    ];
    let mut candidates = candidates;
    // The physical floor (scripts/bench-floor.c): one fdatasync'd 300-byte
    // append to a file on the audit log's disk, then exec.
    if let (Ok(floor), Ok(log)) = (
        std::env::var("BELLADONNA_BENCH_FLOOR"),
        std::env::var("BELLADONNA_BENCH_FLOOR_LOG"),
    ) {
        candidates.insert(4, ("floor", vec![floor, log.clone(), "/bin/true".into()]));
        // The same program on musl (scripts/bench.sh builds it where
        // musl-gcc is installed): the C library the static bdexec uses,
        // without glibc's static start-up (docs/performance.md, session 20).
        if let Ok(m) = std::env::var("BELLADONNA_BENCH_FLOOR_MUSL") {
            candidates.insert(5, ("floor-musl", vec![m, log, "/bin/true".into()]));
        }
    }
    let mut tools: Vec<Tool> = Vec::new();
    for (name, argv) in candidates {
        if !std::path::Path::new(&argv[0]).exists() {
            println!(
                "bench: {name}: {} not installed, skipped (make deps installs it)",
                argv[0]
            );
            continue;
        }
        let (_, _, st) = call(&argv, &who);
        if st != 0 {
            println!(
                "bench: {name}: `{}` fails as the bench user, skipped: {}",
                argv.join(" "),
                diagnose(&argv, &who)
            );
            if name == "bdexec" {
                std::process::exit(1);
            }
            continue;
        }
        tools.push(Tool {
            name,
            argv,
            times: Vec::with_capacity(rounds),
            rss_kib: Vec::with_capacity(rounds),
        });
    }

    // Warm-up (page cache, sudo's timestamp dir, the audit log's first block).
    for _ in 0..20 {
        for t in &tools {
            call(&t.argv, &who);
        }
    }

    println!(
        "bench: {rounds} paired rounds, caller uid {}, {} tools",
        who.uid,
        tools.len()
    );
    let n = tools.len();
    for r in 0..rounds {
        for k in 0..n {
            let t = &mut tools[(r + k) % n];
            let (d, rss, st) = call(&t.argv, &who);
            assert_eq!(st, 0, "{} failed during the run", t.name);
            t.times.push(d);
            t.rss_kib.push(rss);
        }
    }

    println!();
    println!("per-call wall time (ms), whole process, {rounds} calls each:");
    println!(
        "  {:<10} {:>8} {:>8} {:>8} {:>8}   {:>14}",
        "tool", "p50", "p95", "p99", "mean", "peak RSS MiB"
    );
    for t in &tools {
        let mut s = t.times.clone();
        s.sort();
        let mean = s.iter().sum::<Duration>() / s.len() as u32;
        let mut rss = t.rss_kib.clone();
        rss.sort();
        println!(
            "  {:<10} {} {} {} {}   {:>6.2} (max {:.2})",
            t.name,
            ms(pct(&s, 0.50)),
            ms(pct(&s, 0.95)),
            ms(pct(&s, 0.99)),
            ms(mean),
            rss[rss.len() / 2] as f64 / 1024.0,
            *rss.last().unwrap() as f64 / 1024.0
        );
    }

    let bd = tools
        .iter()
        .find(|t| t.name == "bdexec")
        .expect("bdexec measured");
    println!();
    println!(
        "paired ratios (median over rounds of bdexec's time / the other's; < 1 = bdexec faster):"
    );
    for other in tools
        .iter()
        .filter(|t| t.name != "bdexec" && t.name != "bdexec+sb")
        .chain(tools.iter().filter(|t| t.name == "bdexec+sb"))
    {
        let ratios: Vec<f64> = bd
            .times
            .iter()
            .zip(&other.times)
            .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
            .collect();
        let wins = ratios.iter().filter(|r| **r < 1.0).count();
        println!(
            "  bdexec/{:<10} {:6.3}   (bdexec faster in {wins}/{} rounds)",
            other.name,
            median_f(ratios.clone()),
            ratios.len()
        );
    }

    // Four callers at once on the machine's cores.
    let workers = 4;
    println!();
    println!("4 callers in parallel, {par_calls} calls each, bdexec:");
    let start = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let argv = bd.argv.clone();
            let (uid, gid) = (who.uid, who.gid);
            std::thread::spawn(move || {
                let who = Caller { uid, gid };
                (0..par_calls)
                    .map(|_| {
                        let (d, _, st) = call(&argv, &who);
                        assert_eq!(st, 0, "bdexec failed in the parallel run");
                        d
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let wall = start.elapsed();
    all.sort();
    println!(
        "  p50 {} ms  p95 {} ms  p99 {} ms  ({} calls in {:.2} s, {:.0} calls/s)",
        ms(pct(&all, 0.50)).trim(),
        ms(pct(&all, 0.95)).trim(),
        ms(pct(&all, 0.99)).trim(),
        all.len(),
        wall.as_secs_f64(),
        all.len() as f64 / wall.as_secs_f64()
    );

    sandbox_costs();
    // Before the policy cache's in-process steps: they leave this driver
    // with a heap of a 10,000-rule policy, and every call after them
    // forks that (the journald block's calls measured 5.3 ms where the
    // main table's measure 2.8).
    journald_costs(&bd.argv, &who, rounds.min(200));
    policy_cache_costs();
}

/// The policy cache's steps in-process (issue 16, docs/performance.md),
/// for a policy of 10,000 rules and of 1: the full parse a call without
/// the cache makes, the raw digest every call makes, building the cache
/// (once per change), and a call's cache work (check the blob, find the
/// caller's rules, parse them). Beside it, the chunk table as JSON, the
/// format the binary blob was chosen over.
fn policy_cache_costs() {
    use belladonna::policy::cache::{Compiled, compile};
    use belladonna::policy::load::{parse_sources, raw_digest};
    use belladonna::request::Caller;
    let caller = Caller {
        uid: 61900,
        gid: 61900,
        name: Some("bdbench".into()),
        gids: vec![61900],
        group_names: vec![],
    };
    println!();
    println!("policy cache, in-process (mean per operation, us):");
    println!(
        "  {:>6} {:>11} {:>10} {:>11} {:>11} {:>10} {:>12}",
        "rules", "full parse", "raw hash", "build", "cache call", "blob KiB", "JSON decode"
    );
    for n in [1usize, 10_000] {
        let mut text = String::from("version = 1\n");
        for i in 0..n.saturating_sub(1) {
            text.push_str(&format!(
                "[[rule]]\nname = \"bulk-{i}\"\nusers = [\"bdbulk{i}\"]\ncommands = [\"/usr/bin/true bulk{i}\"]\nauth = \"none\"\n\n"
            ));
        }
        text.push_str("[[rule]]\nname = \"bench-true\"\nusers = [\"bdbench\"]\ncommands = [\"/usr/bin/true\"]\nauth = \"none\"\n");
        let src = vec![(
            std::path::PathBuf::from("/etc/belladonna/policy.toml"),
            text,
        )];
        let reps = if n > 1 { 5 } else { 500 };
        let mean = |f: &mut dyn FnMut()| {
            let t = Instant::now();
            for _ in 0..reps {
                f();
            }
            t.elapsed().as_secs_f64() * 1e6 / reps as f64
        };
        let full = parse_sources(&src).expect("bench policy parses");
        let t_full = mean(&mut || {
            let _ = parse_sources(&src);
        });
        let t_raw = mean(&mut || {
            let _ = raw_digest(&src);
        });
        let mut blob = Vec::new();
        let t_build = mean(&mut || blob = compile(&src, &full, &[7; 32]));
        let reps_call = if n > 1 { 50 } else { 500 };
        let t = Instant::now();
        for _ in 0..reps_call {
            let c = Compiled::parse(blob.clone()).expect("valid blob");
            let ids = c.candidates(&caller);
            let p = c.assemble(&ids).expect("assembles");
            assert_eq!(p.rules.len(), 1);
        }
        let t_call = t.elapsed().as_secs_f64() * 1e6 / reps_call as f64;
        // The same chunks as JSON records (file, line, text), decoded.
        let chunks: Vec<(u32, u32, String)> = full
            .policy
            .rules
            .iter()
            .map(|r| (0, r.origin.line, r.name.clone() + "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"))
            .collect();
        let json = serde_json::to_vec(&chunks).expect("json");
        let t = Instant::now();
        for _ in 0..reps_call {
            let v: Vec<(u32, u32, String)> = serde_json::from_slice(&json).expect("json");
            assert_eq!(v.len(), chunks.len());
        }
        let t_json = t.elapsed().as_secs_f64() * 1e6 / reps_call as f64;
        println!(
            "  {n:>6} {t_full:>11.0} {t_raw:>10.0} {t_build:>11.0} {t_call:>11.0} {:>10.0} {t_json:>12.0}",
            blob.len() as f64 / 1024.0
        );
    }
}

/// The journald copy's cost per call: paired rounds of bdexec with a
/// running systemd-journald (started here, in the bench's namespace, on
/// the bench's /run) and without one (its socket directory renamed away,
/// so the send fails at once with ENOENT, as on a host without journald),
/// and the in-process cost of building and sending one entry.
fn journald_costs(argv: &[String], who: &Caller, rounds: usize) {
    use std::path::Path;
    const JOURNALD: &str = "/lib/systemd/systemd-journald";
    println!();
    if !Path::new(JOURNALD).exists() {
        println!("bench: journald cost skipped: {JOURNALD} missing (make deps installs systemd)");
        return;
    }
    let on = Path::new("/run/systemd/journal");
    let off = Path::new("/run/systemd/journal.off");
    let _ = std::fs::create_dir_all(on);
    let mut jd = match Command::new(JOURNALD)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            println!("bench: journald cost skipped: cannot start {JOURNALD}: {e}");
            return;
        }
    };
    let t0 = Instant::now();
    while !on.join("socket").exists() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let set = |enabled: bool| {
        let (from, to) = if enabled { (off, on) } else { (on, off) };
        if from.exists() {
            std::fs::rename(from, to).expect("rename the journal socket directory");
        }
    };
    for _ in 0..20 {
        set(true);
        call(argv, who);
        set(false);
        call(argv, who);
    }
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        for k in 0..2 {
            let enabled = (r + k) % 2 == 0;
            set(enabled);
            let (d, _, st) = call(argv, who);
            assert_eq!(st, 0, "bdexec failed in the journald run");
            if enabled {
                with.push(d)
            } else {
                without.push(d)
            }
        }
    }
    set(true);
    let diffs: Vec<f64> = with
        .iter()
        .zip(&without)
        .map(|(a, b)| (a.as_secs_f64() - b.as_secs_f64()) * 1e6)
        .collect();
    with.sort();
    without.sort();
    // In-process: one accept record's entry built and sent, mean of n.
    let argv_rec: Vec<Vec<u8>> = vec![b"/bin/true".to_vec()];
    let rec = belladonna::audit::Record {
        event: belladonna::audit::Event::Accept,
        time: std::time::SystemTime::now(),
        uuid: [0x42; 16],
        host: b"bench",
        pid: std::process::id(),
        submituser: Some("bdbench"),
        submituid: who.uid,
        submitgid: who.gid,
        ttyname: None,
        submitcwd: Some(b"/"),
        runuser: Some("root"),
        runuid: Some(0),
        rungid: Some(0),
        command: Some(b"/usr/bin/true"),
        runargv: &argv_rec,
        rule: Some("bench-true"),
        reason: "allowed",
        policy_hash: Some([1; 32]),
        sandbox: None,
        confinement: None,
        drift: None,
        clock_skew: None,
        suppressed: None,
        env_dropped: &[],
        timing: Some(belladonna::audit::timing::Timing::default()),
        traceparent: None,
        monitor: false,
        edit: None,
    };
    let appended = belladonna::audit::Appended {
        seq: 1,
        h: [2; 32],
        recovered: None,
        append_us: Some(100),
        epoch: None,
        sync_prev_us: None,
    };
    let n = 2000u32;
    let t = Instant::now();
    for _ in 0..n {
        belladonna::audit::journal::forward(&rec, &appended);
    }
    let per = t.elapsed() / n;
    let _ = jd.kill();
    let _ = jd.wait();
    println!(
        "journald copy, {rounds} paired rounds of bdexec with and without a running journald:"
    );
    println!(
        "  with journald     p50 {} ms  p95 {} ms",
        ms(pct(&with, 0.50)).trim(),
        ms(pct(&with, 0.95)).trim()
    );
    println!(
        "  without journald  p50 {} ms  p95 {} ms",
        ms(pct(&without, 0.50)).trim(),
        ms(pct(&without, 0.95)).trim()
    );
    println!(
        "  paired difference (with - without), median {:.0} us per call",
        median_f(diffs)
    );
    println!(
        "  in-process: one record's entry built and sent {:.1} us (mean of {n})",
        per.as_secs_f64() * 1e6
    );
}

/// In-process cost of the sandbox steps bdexec takes per call (run as
/// root inside the bench namespace, whose /run is the bench's own):
/// compiling the seccomp filter (the cache-miss path), loading it from the
/// verified tmpfs cache (the steady state), and preparing the Landlock
/// ruleset.
fn sandbox_costs() {
    use belladonna::policy::model::{LandlockSpec, SeccompAction, SeccompSpec};
    use belladonna::sandbox::{landlock, seccomp};
    let spec = SeccompSpec {
        allow: vec!["@system-service".into()],
        deny: vec![],
        action: SeccompAction::Errno,
    };
    let n = 300u32;
    let t = Instant::now();
    for _ in 0..n {
        let _ = seccomp::compile(Some(&spec));
    }
    let compile = t.elapsed() / n;
    let state = match belladonna::state::open_state_dir() {
        Ok(fd) => fd,
        Err(e) => {
            println!("bench: sandbox step costs skipped: {e}");
            return;
        }
    };
    use std::os::fd::AsFd;
    let key = [7u8; 32];
    let _ = seccomp::cached(state.as_fd(), &key, Some(&spec));
    let t = Instant::now();
    let mut hits = 0;
    for _ in 0..n {
        if let Ok(c) = seccomp::cached(state.as_fd(), &key, Some(&spec)) {
            hits += usize::from(c.hit);
        }
    }
    let cached = t.elapsed() / n;
    let ll = LandlockSpec {
        read: vec!["/usr".into()],
        write: vec![],
        exec: vec![],
        bind_tcp: None,
        connect_tcp: None,
        scope_abstract_unix: false,
        scope_signals: false,
        scope_default: true,
        min_abi: None,
    };
    let t = Instant::now();
    for _ in 0..n {
        let _ = landlock::prepare(&ll, std::path::Path::new("/bin/true"), 0);
    }
    let prep = t.elapsed() / n;
    println!();
    println!("sandbox steps in-process (mean of {n}):");
    println!(
        "  seccomp filter compiled (cache miss)   {:8.1} us",
        compile.as_secs_f64() * 1e6
    );
    println!(
        "  seccomp filter from tmpfs cache (hit)  {:8.1} us  ({hits}/{n} hits)",
        cached.as_secs_f64() * 1e6
    );
    println!(
        "  landlock ruleset prepared              {:8.1} us",
        prep.as_secs_f64() * 1e6
    );
}
