//! The audit log under faults (DESIGN 7, 13): a full disk, a torn last
//! line, kill -9 between write() and fdatasync(), 50 concurrent writers,
//! and an insecure log path. Nothing already written is lost; nothing
//! runs without its record.

#[macro_use]
mod common;
use common::*;
use std::collections::BTreeMap;
use std::time::Duration;

const TOUCH: [&str; 3] = ["--", "/usr/bin/touch", "/var/lib/marker"];

/// Parse `key=value` words of a script's output lines into a map per
/// line prefix (first word).
fn kv(line: &str) -> BTreeMap<String, String> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The log fills up (a 16 KiB tmpfs on /var/log/belladonna): calls succeed
/// while records fit, then exit 4 with one line and nothing run; the
/// records written before are untouched and verify; after space is freed
/// the next call works and the chain is valid.
#[test]
fn full_disk_for_the_audit_log() {
    let env = test_env!("full_disk_for_the_audit_log");
    env.policy(STD_POLICY);
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "first record");
    env.run_as_user("mallory", &["--", "/usr/bin/id", "-u"])
        .expect_refusal(1, "second record");
    let o = env.sh_in_ns(
        "root",
        r#"set -u
cp /var/log/belladonna/audit.jsonl "$SCRATCH/saved.jsonl"
mount -t tmpfs -o size=16k,mode=0700 tmpfs /var/log/belladonna || { echo "mount-failed"; exit 0; }
cp "$SCRATCH/saved.jsonl" /var/log/belladonna/audit.jsonl
chmod 600 /var/log/belladonna/audit.jsonl
dd if=/dev/zero of=/var/log/belladonna/fill bs=1024 2>/dev/null
i=0; rc=0
while [ $i -lt 60 ]; do
  i=$((i+1))
  rm -f /var/lib/marker
  as_user alice "$BDEXEC" -- /usr/bin/touch /var/lib/marker 2>"$SCRATCH/err" >"$SCRATCH/out"; rc=$?
  m=no; [ -e /var/lib/marker ] && m=yes
  echo "call n=$i rc=$rc marker=$m"
  [ $rc -ne 0 ] && break
done
printf 'ERR:'; cat "$SCRATCH/err"
printf 'OUT:'; cat "$SCRATCH/out"; echo
"$BDCTL" audit verify >"$SCRATCH/verify.out" 2>&1; echo "verify rc=$?"
cp /var/log/belladonna/audit.jsonl "$SCRATCH/full.jsonl"
rm -f /var/log/belladonna/fill /var/lib/marker
as_user alice "$BDEXEC" -- /usr/bin/touch /var/lib/marker; rc=$?
m=no; [ -e /var/lib/marker ] && m=yes
echo "freed rc=$rc marker=$m"
"$BDCTL" audit verify >"$SCRATCH/verify2.out" 2>&1; echo "verify2 rc=$?"
cp /var/log/belladonna/audit.jsonl "$SCRATCH/after.jsonl"
"#,
    );
    o.expect_code(0, "the full-disk script");
    let out = o.stdout_str();
    assert!(
        !out.contains("mount-failed"),
        "could not mount a tmpfs\n{o}"
    );
    let calls: Vec<_> = out
        .lines()
        .filter(|l| l.starts_with("call "))
        .map(kv)
        .collect();
    let last = calls.last().unwrap_or_else(|| panic!("no call ran\n{o}"));
    assert_eq!(
        last["rc"],
        "4",
        "the disk-full call must exit 4 (after {} calls)\n{o}",
        calls.len()
    );
    assert_eq!(last["marker"], "no", "nothing runs without its record\n{o}");
    for c in &calls[..calls.len() - 1] {
        assert_eq!(
            (c["rc"].as_str(), c["marker"].as_str()),
            ("0", "yes"),
            "calls before the disk is full work\n{o}"
        );
    }
    let err = out
        .lines()
        .find_map(|l| l.strip_prefix("ERR:"))
        .unwrap_or("");
    assert!(
        err.starts_with("bdexec: "),
        "one clear line on stderr: {err:?}\n{o}"
    );
    let err_file = std::fs::read(env.scratch().join("err")).unwrap();
    assert_eq!(
        err_file.iter().filter(|b| **b == b'\n').count(),
        1,
        "exactly one line: {err:?}"
    );

    let saved = std::fs::read(env.scratch().join("saved.jsonl")).unwrap();
    let full = std::fs::read(env.scratch().join("full.jsonl")).unwrap();
    assert!(
        full.starts_with(&saved),
        "the records written before are untouched"
    );
    let v = kv(out.lines().find(|l| l.starts_with("verify ")).unwrap());
    let vout = std::fs::read_to_string(env.scratch().join("verify.out")).unwrap_or_default();
    assert!(
        v["rc"] == "0" || v["rc"] == "3",
        "the full log still verifies (0, or 3 = torn tail pending recovery):\n{vout}\n{o}"
    );
    let f = kv(out.lines().find(|l| l.starts_with("freed ")).unwrap());
    assert_eq!(
        (f["rc"].as_str(), f["marker"].as_str()),
        ("0", "yes"),
        "works again after space is freed\n{o}"
    );
    let v2 = kv(out.lines().find(|l| l.starts_with("verify2 ")).unwrap());
    let v2out = std::fs::read_to_string(env.scratch().join("verify2.out")).unwrap_or_default();
    assert_eq!(
        v2["rc"], "0",
        "the chain is valid after recovery:\n{v2out}\n{o}"
    );
    let after = std::fs::read(env.scratch().join("after.jsonl")).unwrap();
    assert!(
        after.starts_with(&full),
        "append-only: nothing before is rewritten"
    );
    // The real directory (under the tmpfs) was never touched.
    assert_eq!(
        env.audit_bytes(),
        saved,
        "the log outside the namespace's tmpfs is unchanged"
    );
}

/// A torn last line (a crash mid-append): verify says 3 (pending
/// recovery); the next call appends a `recovery` record, keeps the file
/// append-only, and verify passes.
#[test]
fn torn_last_line_is_recovered() {
    let env = test_env!("torn_last_line_is_recovered");
    env.policy(STD_POLICY);
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "record 1");
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "record 2");
    let mut log = env.audit_bytes();
    log.extend_from_slice(b"{\"seq\":3,\"event\":\"acc\xff\x1b");
    let torn = log.clone();
    std::fs::write(env.audit_path(), &log).unwrap();

    let v = env.verify();
    assert_eq!(
        v.code(),
        Some(3),
        "a torn tail is reported as pending recovery (exit 3)\n{v}"
    );

    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "the call after the crash");
    let after = env.audit_bytes();
    assert!(
        after.starts_with(&torn),
        "append-only: the torn fragment stays, nothing is rewritten"
    );
    let rec = env.audit_events("recovery");
    assert_eq!(
        rec.len(),
        1,
        "one recovery record\n{}",
        String::from_utf8_lossy(&after)
    );
    let accepts = env.audit_events("accept");
    assert_eq!(
        accepts.len(),
        3,
        "the new accept follows the recovery record"
    );
    env.assert_verify_ok("after recovery");
    env.run_as_user("mallory", &["--", "/usr/bin/id", "-u"])
        .expect_refusal(1, "later refusal");
    assert_eq!(env.audit_events("recovery").len(), 1, "recovered once");
    env.assert_verify_ok("after a later record");
}

/// kill -9 right after write() and before fdatasync() (test-hooks pause):
/// the command did not run, the log verifies, the next call works.
#[test]
fn kill9_between_write_and_fdatasync() {
    let env = test_env!("kill9_between_write_and_fdatasync");
    env.policy(STD_POLICY);
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "a first record");
    for (user, ev) in [("alice", "accept"), ("mallory", "reject")] {
        let before = env.audit_lines().len();
        let mut r = env
            .bdexec(user)
            .args(TOUCH)
            .env("BELLADONNA_TEST_PAUSE", "audit-after-write")
            .spawn();
        assert!(
            r.wait_stopped(Duration::from_secs(60)),
            "{user}: bdexec never stopped at the `audit-after-write` pause point \
             (are the tests built with --features test-hooks?)\n{}",
            r.wait()
        );
        let recs = env.audit_lines();
        assert_eq!(
            recs.len(),
            before + 1,
            "{user}: the record is written before the pause"
        );
        assert_eq!(recs.last().unwrap()["event"], ev);
        r.kill9();
        let o = r.wait();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&o.status),
            Some(9),
            "{user}: killed\n{o}"
        );
        assert!(
            !env.marker_exists("marker"),
            "{user}: the command must not run before the record is durable"
        );
        env.assert_verify_ok(&format!("{user}: after kill -9"));
    }
    env.run_as_user("alice", &TOUCH)
        .expect_code(0, "the next call works");
    assert!(env.marker_exists("marker"));
    env.assert_verify_ok("after the next call");
}

/// The bells of the writer's two locks (src/audit/writer/bell.rs): the
/// words of the sync group file at `at` (rung) and `at + 4` (listening),
/// 0 when the file is shorter.
fn bell(env: &TestEnv, at: usize) -> (u32, u32) {
    let g = std::fs::read(env.run_dir().join("belladonna/audit-synced")).unwrap_or_default();
    let w = |at: usize| {
        g.get(at..at + 4)
            .map_or(0, |b| u32::from_ne_bytes(b.try_into().expect("4 bytes")))
    };
    (w(at), w(at + 4))
}

/// A call that finds one of the writer's locks held waits listening on
/// its bell, and the writer that lets go rings it: the log's lock (the
/// first call stopped right after its write, still holding it: the
/// second has written nothing yet) and the sync lock (stopped before its
/// fdatasync: the second has appended its line). The second listens and
/// does not finish; the first, continued, lets go and rings; both finish,
/// nobody listens any more, one chain. Without the ring the rung count
/// would not move (the second would still finish, by its back-off).
#[test]
fn a_writer_waiting_for_a_lock_is_rung_awake() {
    let env = test_env!("a_writer_waiting_for_a_lock_is_rung_awake");
    env.policy(STD_POLICY);
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "a first record");
    if !env.run_dir().join("belladonna/audit-synced").exists() {
        loud(
            "SKIPPED (the log's file system reports no birth time: no group commit): \
             a_writer_waiting_for_a_lock_is_rung_awake",
        );
        return;
    }
    for (point, at, written) in [("audit-after-write", 136, 0), ("audit-before-sync", 128, 1)] {
        std::fs::remove_file(env.var_lib().join("marker")).ok();
        let (rung0, listening0) = bell(&env, at);
        assert_eq!(listening0, 0, "{point}: nobody listens between calls");
        let mut holder = env
            .bdexec("alice")
            .args(["--", "/usr/bin/id", "-u"])
            .env("BELLADONNA_TEST_PAUSE", point)
            .spawn();
        assert!(
            holder.wait_stopped(Duration::from_secs(60)),
            "{point}: never stopped (test-hooks?)\n{}",
            holder.wait()
        );
        let lines = env.audit_lines().len();
        let waiter = env.bdexec("alice").args(TOUCH).spawn();
        // The waiter's deadline for the lock is 3 s: look for it
        // listening well within that.
        let start = std::time::Instant::now();
        while bell(&env, at).1 == 0 && start.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(bell(&env, at).1, 1, "{point}: the second call listens");
        assert_eq!(
            env.audit_lines().len(),
            lines + written,
            "{point}: what the second call wrote before it waits"
        );
        assert!(!env.marker_exists("marker"), "{point}: nothing ran yet");
        holder.resume();
        holder.wait().expect_stdout("0\n", point);
        waiter.wait().expect_code(0, point);
        assert!(env.marker_exists("marker"), "{point}");
        let (rung, listening) = bell(&env, at);
        assert!(rung > rung0, "{point}: the holder rang ({rung0} -> {rung})");
        assert_eq!(listening, 0, "{point}: nobody listens any more");
        env.assert_verify_ok(point);
    }
}

/// 50 concurrent callers: one valid chain, one record each, none lost.
#[test]
fn fifty_concurrent_callers() {
    let env = test_env!("fifty_concurrent_callers");
    env.policy(STD_POLICY);
    let mut running = Vec::new();
    for i in 0..50 {
        let user = match i % 5 {
            0 => "mallory",
            1 => "bob",
            _ => "alice",
        };
        running.push((
            user,
            env.bdexec(user).args(["--", "/usr/bin/id", "-u"]).spawn(),
        ));
    }
    let mut accepts = 0;
    for (user, r) in running {
        let o = r.wait();
        if user == "mallory" {
            o.expect_refusal(1, "mallory");
        } else {
            o.expect_stdout("0\n", user);
            accepts += 1;
        }
    }
    let recs = env.audit_lines();
    assert_eq!(
        recs.len(),
        50,
        "one record per call, none lost:\n{}",
        String::from_utf8_lossy(&env.audit_bytes())
    );
    assert_eq!(
        recs.iter().filter(|r| r["event"] == "accept").count(),
        accepts
    );
    let seqs: Vec<u64> = recs.iter().map(|r| num(&r["seq"]).expect("seq")).collect();
    for w in seqs.windows(2) {
        assert_eq!(w[1], w[0] + 1, "seq is contiguous: {seqs:?}");
    }
    for w in recs.windows(2) {
        assert_eq!(
            w[1]["prev"], w[0]["h"],
            "each record chains to the previous one"
        );
    }
    env.assert_verify_ok("after 50 concurrent callers");
}

/// The audit log is created 0600 root.
#[test]
fn audit_log_mode() {
    let env = test_env!("audit_log_mode");
    env.policy(STD_POLICY);
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "alice");
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(env.audit_path()).unwrap();
    assert_eq!(
        (m.mode() & 0o7777, m.uid()),
        (0o600, 0),
        "audit.jsonl is 0600 root"
    );
}

/// bdexec creates /run/belladonna 0700 root itself when it is missing
/// (/run is a tmpfs: a directory made by the installer is gone after a
/// reboot).
#[test]
fn state_dir_is_created() {
    let env = test_env!("state_dir_is_created");
    env.policy(STD_POLICY);
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "alice");
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(env.run_dir().join("belladonna"))
        .expect("bdexec creates /run/belladonna");
    assert!(m.is_dir());
    assert_eq!(
        (m.mode() & 0o7777, m.uid()),
        (0o700, 0),
        "/run/belladonna is 0700 root"
    );
}

/// A symlinked audit log, or a log directory others can write: exit 4,
/// nothing runs, the symlink's target is not written.
#[test]
fn insecure_audit_log_path_is_refused() {
    let env = test_env!("insecure_audit_log_path_is_refused");
    env.policy(STD_POLICY);
    let elsewhere = env.dir.join("log/elsewhere.jsonl");
    std::fs::write(&elsewhere, b"").unwrap();
    std::os::unix::fs::symlink("../elsewhere.jsonl", env.audit_path()).unwrap();
    let o = env.run_as_user("alice", &TOUCH);
    o.expect_refusal(4, "audit.jsonl is a symlink");
    assert!(!env.marker_exists("marker"), "{o}");
    assert_eq!(
        std::fs::read(&elsewhere).unwrap(),
        b"",
        "nothing written through the symlink"
    );
    std::fs::remove_file(env.audit_path()).unwrap();

    let logdir = env.dir.join("log/belladonna");
    for mode in [0o777, 0o770, 0o1777] {
        std::fs::set_permissions(&logdir, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .unwrap();
        let o = env.run_as_user("alice", &TOUCH);
        o.expect_refusal(4, &format!("log dir mode {mode:o}"));
        assert!(!env.marker_exists("marker"), "{o}");
    }
    std::fs::set_permissions(&logdir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    env.run_as_user("alice", &TOUCH)
        .expect_code(0, "a safe log dir works again");
    env.assert_verify_ok("after the insecure log path cases");
}

/// A /run/belladonna made by someone else (owned by alice, world
/// writable) is refused, not trusted.
#[test]
fn foreign_state_dir_is_refused() {
    let env = test_env!("foreign_state_dir_is_refused");
    env.policy(STD_POLICY);
    let st = env.run_dir().join("belladonna");
    mkdir_mode(&st, 0o777);
    std::os::unix::fs::chown(&st, Some(ALICE.uid), Some(ALICE.gid)).unwrap();
    let o = env.run_as_user("alice", &TOUCH);
    let code = o.code().expect("exit code");
    assert!(
        [1, 3, 4, 5].contains(&code),
        "a foreign state dir is refused\n{o}"
    );
    assert_one_bdexec_line(&o, "foreign /run/belladonna");
    assert!(!env.marker_exists("marker"), "{o}");
}
