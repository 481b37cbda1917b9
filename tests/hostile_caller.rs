//! A hostile caller against the shared parts of the host (issue 8 items
//! 3, 4, 7 and 10): holding the audit lock by stopping its own bdexec,
//! flooding the audit log, reading the policy through its load errors,
//! and making bdexec panic through its own stdout/stderr.

#[macro_use]
mod common;
use belladonna::audit::record::{RECORD_MAX, argv_blake3};
use belladonna::state::refusals::BURST;
use common::*;
use std::time::Duration;

/// SigBlk bits of SIGTSTP, SIGTTIN and SIGTTOU (20, 21, 22).
const JOB_CONTROL_BITS: u64 = (1 << 19) | (1 << 20) | (1 << 21);

fn proc_status(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status")
}

fn sig_blk(status: &str) -> u64 {
    u64::from_str_radix(status_field(status, "SigBlk").expect("SigBlk"), 16).expect("hex")
}

/// Item 3. mallory's refused call stops (test-hooks pause) while it
/// holds the audit lock, right after its write. mallory, from another
/// process of her own, then tries to stop and kill it: before the fix
/// that succeeded (and a stopped lock holder refused every other call on
/// the host, root's included, with exit 4); now the kernel refuses with
/// EPERM, because the real and saved uids are 0 and job-control signals
/// are blocked. Once continued it finishes and alice gets through.
#[test]
fn lock_holder_cannot_be_stopped_by_its_caller() {
    let env = std_env!("lock_holder_cannot_be_stopped_by_its_caller");
    let mut m = env
        .bdexec("mallory")
        .args(["--", "/usr/bin/id", "-u"])
        .env("BELLADONNA_TEST_PAUSE", "audit-after-write")
        .spawn();
    assert!(
        m.wait_stopped(Duration::from_secs(60)),
        "bdexec never stopped at `audit-after-write` (built with --features test-hooks?)"
    );
    let pid = m.pid();
    let script = format!(
        "kill -STOP {pid}; echo stop=$?\nkill -TSTP {pid}; echo tstp=$?\n\
         kill -0 {pid}; echo probe=$?\nkill -KILL {pid}; echo kill=$?\n"
    );
    let o = env.sh_in_ns("mallory", &script);
    for w in ["stop=1", "tstp=1", "probe=1", "kill=1"] {
        assert!(
            o.stdout_str().lines().any(|l| l == w),
            "the caller cannot signal its bdexec ({w})\n{o}"
        );
    }
    assert!(
        o.stderr_str().contains("not permitted"),
        "EPERM from the kernel\n{o}"
    );
    let st = proc_status(pid);
    assert_eq!(
        status_field(&st, "Uid").map(|u| u.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["0", "0", "0", "0"]),
        "real, effective, saved and fs uid are 0 while the lock is held\n{st}"
    );
    assert_eq!(
        sig_blk(&st) & JOB_CONTROL_BITS,
        JOB_CONTROL_BITS,
        "SIGTSTP, SIGTTIN and SIGTTOU are blocked while the lock is held\n{st}"
    );
    // SAFETY: kill(2) on our own child's pid (not yet reaped).
    unsafe {
        libc::kill(pid, libc::SIGCONT);
    }
    m.wait().expect_refusal(1, "mallory, continued");
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "alice after mallory's attempt");
    let r = env.run_as_root(&["--", "/usr/bin/id", "-u"]);
    assert_ne!(r.code(), Some(4), "root is answered, not exit 4\n{r}");
    env.assert_verify_ok("after the lock attack");
}

/// Item 3: the shield ends with the switch to the target: the command
/// does not inherit blocked job-control signals.
#[test]
fn command_starts_with_job_control_unblocked() {
    let env = std_env!("command_starts_with_job_control_unblocked");
    let o = env.run_as_user("alice", &["--", "/usr/bin/cat", "/proc/self/status"]);
    o.expect_code(0, "cat /proc/self/status");
    let st = o.stdout_str();
    assert_eq!(sig_blk(&st) & JOB_CONTROL_BITS, 0, "{st}");
}

/// Signals the caller ignores (SIGINT, SIGTERM, SIGUSR1 and a real-time
/// one) are the default again for the command: bdexec resets every
/// disposition that is not the default (read from /proc/self/status).
#[test]
fn command_starts_with_default_signal_dispositions() {
    let env = std_env!("command_starts_with_default_signal_dispositions");
    let script = format!(
        "trap '' INT TERM USR1 40; exec {} -- /usr/bin/cat /proc/self/status",
        env.bdexec_path().display()
    );
    let o = env.sh_in_ns("alice", &script);
    o.expect_code(0, "cat /proc/self/status under ignored signals");
    let st = o.stdout_str();
    let ign = st
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).expect("hex"))
        .expect("SigIgn");
    // Signals 2, 10, 15 and 40. (32 and 33 are glibc's own, which its
    // sigaction refuses to change: a caller that ignores them passes that
    // on, as before; not signals a command is sent.)
    const TRAPPED: u64 = 0x80_0000_4202;
    assert_eq!(
        ign & TRAPPED,
        0,
        "none of them ignored for the command\n{st}"
    );
    // And the caller's shell did ignore them: the same trap, cat alone.
    let o = env.sh_in_ns(
        "alice",
        "trap '' INT TERM USR1 40; exec /usr/bin/cat /proc/self/status",
    );
    let caller = o
        .stdout_str()
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:").map(str::to_string))
        .map(|v| u64::from_str_radix(v.trim(), 16).expect("hex"))
        .expect("SigIgn");
    assert_eq!(caller & TRAPPED, TRAPPED, "{o}");
}

/// Item 4. The review's flood: a user with no rule, a huge non-UTF-8
/// argv (each byte escaped four-fold). The record stays under
/// RECORD_MAX, says it was cut, and carries the whole argv's size and
/// BLAKE3; the log verifies.
#[test]
fn huge_non_utf8_argv_makes_a_bounded_record() {
    let env = std_env!("huge_non_utf8_argv_makes_a_bounded_record");
    let arg = vec![0xffu8; 100 * 1024];
    let mut call = env.bdexec("mallory").arg("--").arg("/usr/bin/id");
    for _ in 0..15 {
        call = call.arg_bytes(&arg);
    }
    call.run().expect_refusal(1, "no rule");
    let log = env.audit_bytes();
    let lines = raw_lines(&log);
    assert_eq!(lines.len(), 1, "one record");
    assert!(
        lines[0].len() <= RECORD_MAX,
        "record of {} bytes (the review saw 28.8 MB)",
        lines[0].len()
    );
    let rec = &env.audit_lines()[0];
    let mut argv = vec![b"/usr/bin/id".to_vec()];
    argv.extend(std::iter::repeat_n(arg.clone(), 15));
    assert_eq!(num(&rec["runargv_argc"]), Some(16), "{rec}");
    assert_eq!(
        num(&rec["runargv_bytes"]),
        Some(11 + 15 * 100 * 1024),
        "{rec}"
    );
    let mut want = String::new();
    for b in argv_blake3(&argv) {
        want.push_str(&format!("{b:02x}"));
    }
    assert_eq!(rec["runargv_blake3"], want.as_str());
    env.assert_verify_ok("bounded record");
    let s = env.bdctl(&["audit", "show"]);
    s.expect_code(0, "audit show");
    assert!(s.stdout_str().contains("(argv cut: 16 arguments"), "{s}");
}

/// The state file of a uid's refusal bucket, refilled to a full bucket
/// (as REFILL * BURST seconds of waiting would), count kept.
fn refill_bucket(env: &TestEnv, uid: u32) {
    let p = env.run_dir().join(format!("belladonna/refusals/{uid}"));
    let text = std::fs::read_to_string(&p).expect("refusal bucket");
    let w: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(w.len(), 5, "{text}");
    std::fs::write(
        &p,
        format!("{} {} {} {} {}\n", w[0], w[1], u64::MAX, w[3], w[4]),
    )
    .unwrap();
}

/// Item 4. A burst of refusals: the first BURST are recorded, the rest
/// only counted (each still refused with its one line and exit 1); the
/// uid's next recorded refusal says how many were left out; a call that
/// runs in between is recorded all the same.
#[test]
fn refusal_burst_is_bounded_with_a_summary() {
    let env = std_env!("refusal_burst_is_bounded_with_a_summary");
    let extra = 7;
    for i in 0..BURST + extra {
        env.run_as_user("alice", &["--", "/usr/bin/id", "-G"])
            .expect_refusal(1, &format!("refusal {i}"));
    }
    let rejects = env.audit_events("reject");
    assert_eq!(rejects.len() as u64, BURST, "only the burst is recorded");
    assert!(rejects.iter().all(|r| r.get("suppressed").is_none()));
    for i in 0..3 {
        env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
            .expect_stdout(
                "0\n",
                &format!("allowed call {i} while refusals are suppressed"),
            );
    }
    assert_eq!(env.audit_events("accept").len(), 3, "every accept recorded");
    // mallory's bucket is her own.
    env.run_as_user("mallory", &["--", "/usr/bin/id"])
        .expect_refusal(1, "mallory");
    assert_eq!(env.audit_events("reject").len() as u64, BURST + 1);
    refill_bucket(&env, ALICE.uid);
    env.run_as_user("alice", &["--", "/usr/bin/id", "-G"])
        .expect_refusal(1, "after the refill");
    let rejects = env.audit_events("reject");
    let last = rejects.last().unwrap();
    assert_eq!(last["submituser"], "alice");
    assert_eq!(num(&last["suppressed"]), Some(extra), "{last}");
    env.run_as_user("alice", &["--", "/usr/bin/id", "-G"])
        .expect_refusal(1, "the count is handed over once");
    assert!(
        env.audit_events("reject")
            .last()
            .unwrap()
            .get("suppressed")
            .is_none()
    );
    env.assert_verify_ok("after the burst");
    let s = env.bdctl(&["audit", "show"]);
    assert!(
        s.stdout_str().contains(&format!(
            "({extra} earlier refusals of this user not recorded)"
        )),
        "{s}"
    );
}

/// Item 7. A policy that fails to load: alice sees that it could not be
/// loaded and where the administrator looks, nothing of its contents;
/// root sees the error; the record holds it.
#[test]
fn policy_errors_are_shown_to_root_only() {
    let env = test_env!("policy_errors_are_shown_to_root_only");
    let cases = [
        (
            "--password=hunter2",
            "version = 1\n[[rule]]\nname = \"db\"\nusers = [\"alice\"]\n\
             commands = [\"/usr/bin/mysql --password=hunter2 \\\"unterminated\"]\nauth = \"none\"\n",
        ),
        (
            "secret user",
            "version = 1\n[[rule]]\nname = \"db\"\nusers = [\"secret user\"]\n\
             commands = [\"/usr/bin/id\"]\nauth = \"none\"\n",
        ),
    ];
    for (secret, policy) in cases {
        env.policy(policy);
        let o = env.run_as_user("alice", &["--", "/usr/bin/id", "-u"]);
        o.expect_refusal(3, secret);
        assert!(!o.all_output().contains(secret), "{secret} leaked\n{o}");
        assert_eq!(
            o.stderr_str(),
            format!("bdexec: {}\n", belladonna::bdexec::POLICY_NOT_SHOWN)
        );
        let l = env.run_as_user("alice", &["-l"]);
        l.expect_refusal(3, "-l");
        assert!(
            !l.all_output().contains(secret),
            "{secret} leaked by -l\n{l}"
        );
        let r = env.run_as_root(&["--", "/usr/bin/id", "-u"]);
        r.expect_refusal(3, "root");
        assert!(r.stderr_str().contains(secret), "root sees the error\n{r}");
        let rec = env.audit_events("reject");
        let alice = rec
            .iter()
            .rev()
            .find(|r| r["submituser"] == "alice")
            .unwrap();
        assert!(
            alice["reason"].as_str().unwrap().contains(secret),
            "the record holds the error\n{alice}"
        );
    }
}

/// Item 10. stdout and stderr on /dev/full (writes fail with ENOSPC):
/// never a panic (exit 134 before the fix), the documented exit codes,
/// the records still written.
#[test]
fn dev_full_never_panics() {
    let env = std_env!("dev_full_never_panics");
    let o = env.sh_in_ns(
        "alice",
        "\"$BDEXEC\" -- /usr/bin/id -G >/dev/full 2>/dev/full; echo refused=$?\n\
         \"$BDEXEC\" -- /bin/sh -c 'exit 42' >/dev/full 2>/dev/full; echo allowed=$?\n\
         \"$BDEXEC\" -l >/dev/full 2>/dev/full; echo list_full=$?\n\
         \"$BDEXEC\" -l 2>/dev/full; echo list_err_full=$?\n\
         \"$BDEXEC\" -h >/dev/full 2>/dev/full; echo help_full=$?\n\
         \"$BDEXEC\" -V >/dev/full; echo version_full=$?\n\
         \"$BDEXEC\" --no-such-option 2>/dev/full; echo usage=$?\n",
    );
    o.expect_code(0, "script");
    let out = o.stdout_str();
    for want in [
        "refused=1",
        "allowed=42",
        "list_full=6",
        "list_err_full=0",
        "help_full=6",
        "version_full=6",
        "usage=2",
    ] {
        assert!(out.lines().any(|l| l == want), "{want}\n{o}");
    }
    assert!(out.contains("may run the following commands"), "{o}");
    assert_eq!(env.audit_events("reject").len(), 1, "refusal recorded");
    assert_eq!(env.audit_events("accept").len(), 1, "accept recorded");
}

/// Item 10. A panic (test-hooks: forced before the recheck) prints one
/// fixed line, ignores the caller's RUST_BACKTRACE, exits 70, and nothing
/// runs.
#[test]
fn a_panic_prints_one_line_and_exits_70() {
    let env = std_env!("a_panic_prints_one_line_and_exits_70");
    let o = env
        .bdexec("alice")
        .args(["--", "/usr/bin/touch", "/var/lib/marker"])
        .env("BELLADONNA_TEST_PANIC", "before-recheck")
        .env("RUST_BACKTRACE", "full")
        .run();
    assert_eq!(o.code(), Some(70), "{o}");
    assert_eq!(
        o.stderr,
        belladonna::base::stdio::PANIC_LINE,
        "one fixed line, no backtrace\n{o}"
    );
    assert!(o.stdout.is_empty());
    assert!(!env.marker_exists("marker"), "nothing ran");
}
