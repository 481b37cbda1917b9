//! The audit log under device faults (issue 16 item 5, docs/durability.md),
//! beside tests/audit_faults.rs (tiny tmpfs, torn line, kill -9 between
//! write and fdatasync, 50 callers): a nearly full loop-mounted ext4
//! (ENOSPC at write), ext4 on a loop device over a full tmpfs (ENOSPC at
//! fdatasync, as on a thin-provisioned volume), EIO at write and at
//! fdatasync and a power cut by the ext4 shutdown ioctl
//! (`EXT4_IOC_SHUTDOWN` via `xfs_io -x -c shutdown`: these machines have
//! no device-mapper, so no dm-error / dm-flakey), the audit and sync locks
//! held by a stopped process, kill -9 at each step of an append, and the
//! degrade ladder's `journald` sink and `critical_space`. Every fault ends
//! in exit 4 with one stderr line and nothing run; `bdctl audit verify`
//! passes; no record of a call that ran is lost. `make test-faults`.
//! Needs root, losetup, mkfs.ext4 and xfs_io (xfsprogs).

#[macro_use]
mod common;
use common::*;
use std::time::{Duration, Instant};

const TOUCH: [&str; 3] = ["--", "/usr/bin/touch", "/var/lib/marker"];

/// Shell functions for the fault scripts (root, inside the test's
/// namespace):
/// * `mount_log IMG MiB [mkfs options]`: a fresh ext4 image on a loop
///   device mounted on /var/log/belladonna (0700) holding the log as it
///   was; sets `$loop`; unmounts and detaches on exit. With
///   `LOOP_MAX_KB=N` the loop device's requests are at most N KiB
///   (`queue/max_sectors_kb`, restored on exit);
/// * `remount_log`: unmount and mount the image again (journal replay;
///   `MOUNT_OPTS` as for `mount_log`);
/// * `call NAME`: alice runs `touch /var/lib/NAME`; prints
///   `call name=NAME rc=RC ran=yes|no` and keeps stderr in `$SCRATCH/err`;
/// * `wait_stopped PID`: until the process is stopped (SIGSTOP);
/// * `shutdown_log`: EXT4_IOC_SHUTDOWN with NOLOGFLUSH (a power cut).
const PRELUDE: &str = r#"set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH
loop=
pid=
maxkb0=
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; umount /var/log/belladonna 2>/dev/null
  [ -n "$loop" ] && [ -n "$maxkb0" ] && echo "$maxkb0" > "/sys/block/${loop#/dev/}/queue/max_sectors_kb" 2>/dev/null
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null; true
}
trap cleanup EXIT
mount_log() {
  img=$1; mib=$2; shift 2
  mkdir -p "$SCRATCH/saved"; cp -a /var/log/belladonna/. "$SCRATCH/saved/"
  if [ -n "${PREALLOC:-}" ]; then dd if=/dev/zero of="$img" bs=1M count="$mib" 2>/dev/null; else truncate -s "${mib}M" "$img"; fi
  mkfs.ext4 -q -F "$@" "$img" >/dev/null 2>&1 || { echo "setup-failed mkfs"; exit 0; }
  loop=$(losetup -f --show "$img") || { echo "setup-failed losetup"; exit 0; }
  if [ -n "${LOOP_MAX_KB:-}" ]; then
    maxkb0=$(cat "/sys/block/${loop#/dev/}/queue/max_sectors_kb") &&
      echo "$LOOP_MAX_KB" > "/sys/block/${loop#/dev/}/queue/max_sectors_kb" || { echo "setup-failed max_sectors_kb"; exit 0; }
  fi
  mount -t ext4 -o "${MOUNT_OPTS:-defaults}" "$loop" /var/log/belladonna || { echo "setup-failed mount"; exit 0; }
  chmod 0700 /var/log/belladonna; rmdir /var/log/belladonna/lost+found
  cp -a "$SCRATCH/saved/." /var/log/belladonna/
}
remount_log() {
  umount /var/log/belladonna || { echo "umount-failed"; exit 0; }
  mount -t ext4 -o "${MOUNT_OPTS:-defaults}" "$loop" /var/log/belladonna || { echo "remount-failed"; exit 0; }
}
call() {
  rm -f "/var/lib/$1"
  as_user alice "$BDEXEC" -- /usr/bin/touch "/var/lib/$1" 2>"$SCRATCH/err" >/dev/null; rc=$?
  ran=no; [ -e "/var/lib/$1" ] && ran=yes
  echo "call name=$1 rc=$rc ran=$ran"
}
wait_stopped() {
  for _ in $(seq 1200); do
    [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = T ] && return 0; sleep 0.05
  done; return 1
}
shutdown_log() { xfs_io -x -c shutdown /var/log/belladonna; }
"#;

/// [`STD_POLICY`] and alice may touch any marker (`call NAME`).
fn touch_policy() -> String {
    format!(
        "{STD_POLICY}\n[[rule]]\nname = \"alice-touch\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/touch *\"]\nauth = \"none\"\n"
    )
}

/// The `call` lines of a script's output: (name, rc, ran).
fn calls(out: &str) -> Vec<(String, String, bool)> {
    out.lines()
        .filter(|l| l.starts_with("call "))
        .map(|l| {
            let kv: std::collections::BTreeMap<&str, &str> = l
                .split_whitespace()
                .filter_map(|w| w.split_once('='))
                .collect();
            (
                kv["name"].to_string(),
                kv["rc"].to_string(),
                kv["ran"] == "yes",
            )
        })
        .collect()
}

/// The (rc, ran) of the call named `name` among [`calls`].
fn outcome<'c>(c: &'c [(String, String, bool)], name: &str) -> (&'c str, bool) {
    let x = c
        .iter()
        .find(|x| x.0 == name)
        .unwrap_or_else(|| panic!("no call named {name}"));
    (x.1.as_str(), x.2)
}

fn setup_ok(o: &Out) {
    assert!(
        !o.stdout_str().contains("setup-failed") && !o.stdout_str().contains("mount-failed"),
        "could not set up the file system (root, losetup, mkfs.ext4, xfs_io needed)\n{o}"
    );
}

/// Every call that ran has its accept record in `log`, whole: a line
/// that parses as a JSON object with `"event":"accept"` and the command's
/// marker name in its runargv. (A record whose head survived but whose
/// tail is zeros, covered by a recovery record, is lost too: matching
/// the head alone let such a loss pass.)
fn nothing_lost(log: &str, out: &str) {
    let mut ran = 0;
    for (name, rc, r) in calls(out) {
        if r {
            ran += 1;
            let marker = format!("/var/lib/{name}\"");
            assert!(
                log.lines().any(|l| l.contains(&marker)
                    && serde_json::from_str::<serde_json::Value>(l)
                        .is_ok_and(|v| v["event"] == "accept")),
                "the call {name} ran (rc {rc}) but its accept record is lost or torn"
            );
        }
    }
    assert!(ran > 0, "no call ran at all: the test proves nothing");
}

/// One refusal line naming the fault, from a script's `$SCRATCH/err`.
fn one_line(err: &str, want: &str, o: &Out) {
    assert!(
        err.starts_with("bdexec: ") && err.ends_with('\n') && err.matches('\n').count() == 1,
        "one line on stderr: {err:?}\n{o}"
    );
    assert!(err.contains(want), "{want:?} in {err:?}\n{o}");
}

/// A test environment with [`touch_policy`] and one call made, and the
/// output of `body` run as root after [`PRELUDE`] (set-up checked).
fn fault_script(env: &TestEnv, body: &str) -> (Out, String) {
    env.policy(&touch_policy());
    env.run_as_user("alice", &TOUCH).expect_code(0, "first");
    let o = env.sh_in_ns("root", &format!("{PRELUDE}\n{body}"));
    o.expect_code(0, "script");
    setup_ok(&o);
    let out = o.stdout_str();
    (o, out)
}

/// The text between `tag` and `:END` in a script's output.
fn part(out: &str, tag: &str) -> String {
    out.split(tag)
        .nth(1)
        .and_then(|s| s.split(":END").next())
        .unwrap_or("")
        .to_string()
}

/// [`nothing_lost`] against the log the script saved in `$SCRATCH/log.jsonl`.
fn nothing_lost_in(env: &TestEnv, out: &str) {
    let log = std::fs::read_to_string(env.scratch().join("log.jsonl")).unwrap_or_default();
    nothing_lost(&log, out);
}

/// ENOSPC at write on a nearly full ext4 (a loop device): calls succeed
/// while records fit, then exit 4 with one line and nothing run; after
/// space is freed the next call works and the log verifies.
#[test]
fn enospc_at_write_on_a_nearly_full_ext4() {
    let env = test_env!("enospc_at_write_on_a_nearly_full_ext4");
    let (o, out) = fault_script(
        &env,
        r#"mount_log "$SCRATCH/log.img" 8
dd if=/dev/zero of=/var/log/belladonna/fill bs=4k 2>/dev/null
i=0; rc=0
while [ $i -lt 40 ] && [ $rc -eq 0 ]; do i=$((i+1)); call "m$i"; done
printf 'ERR:'; cat "$SCRATCH/err"
"$BDCTL" audit verify >/dev/null 2>&1; echo "verify rc=$?"
rm -f /var/log/belladonna/fill
call after
"$BDCTL" audit verify >/dev/null 2>&1; echo "verify2 rc=$?"
cat /var/log/belladonna/audit.jsonl > "$SCRATCH/log.jsonl"
"#,
    );
    let c = calls(&out);
    let failed = &c[c.len() - 2];
    assert_eq!(
        (failed.1.as_str(), failed.2),
        ("4", false),
        "exit 4, not run\n{o}"
    );
    let err = out
        .split("ERR:")
        .nth(1)
        .and_then(|s| s.split("verify").next())
        .unwrap_or("");
    one_line(err, "no space left on device", &o);
    assert!(
        out.contains("verify rc=0") && out.contains("verify2 rc=0"),
        "{o}"
    );
    assert_eq!(
        c.last().map(|l| (l.1.as_str(), l.2)),
        Some(("0", true)),
        "{o}"
    );
    nothing_lost_in(&env, &out);
}

/// ENOSPC at fdatasync: ext4 on a loop device whose backing file is on a
/// full tmpfs (the write lands in the page cache; writeback fails, as on
/// a thin-provisioned volume). The call exits 4 with one line and does
/// not run; the failed fdatasync is never retried on that file: after a
/// remount the next call is refused too until `bdctl audit rotate`, then
/// calls work, the log verifies and every call that ran has its record.
///
/// The loop device must fail a write whole or not at all: on 6.18 a
/// write request that spans a tmpfs page that exists and one that is a
/// hole (no space for it) stores the first, drops the second and reports
/// success (the loop driver takes a short write of its backing file for
/// a complete one), so an fdatasync "succeeds" whose record's tail was
/// never stored, and the remount finds zeros there. Hence 4 KiB ext4
/// blocks (one block, one tmpfs page) and loop requests of at most 4 KiB
/// (`LOOP_MAX_KB=4`): each request is one page, stored or refused with
/// ENOSPC. The remount before `fstrim` drops ext4's block preallocations
/// (not free, so never trimmed), so the first record that needs a new
/// block is the one refused, in every run, and its writeback is exactly
/// such a spanning request: without `LOOP_MAX_KB=4` the record before it
/// is lost in every run (20 of 20). docs/durability.md.
#[test]
fn enospc_at_fdatasync_is_never_retried() {
    let env = test_env!("enospc_at_fdatasync_is_never_retried");
    let (o, out) = fault_script(
        &env,
        r#"mkdir -p "$SCRATCH/t"; mount -t tmpfs -o size=40m tmpfs "$SCRATCH/t" || { echo setup-failed tmpfs; exit 0; }
# A fully written image (every page exists in the tmpfs), mkfs that
# neither discards nor zeroes (a loop device punches holes for both),
# then fstrim: only the free blocks become holes, so the journal and the
# metadata have their pages and a new data block needs space: ENOSPC at
# writeback, as on a thin-provisioned volume. One block per tmpfs page
# and one page per request, so that a request is stored or refused whole;
# the remount drops the preallocated blocks, which fstrim would not trim.
LOOP_MAX_KB=4 PREALLOC=1 MOUNT_OPTS=noinit_itable mount_log "$SCRATCH/t/log.img" 32 -b 4096 -E nodiscard,lazy_journal_init=1,lazy_itable_init=1
call m0; MOUNT_OPTS=noinit_itable remount_log; fstrim /var/log/belladonna || { echo setup-failed fstrim; exit 0; }
dd if=/dev/zero of="$SCRATCH/t/fill" bs=64k 2>/dev/null
i=0; rc=0
while [ $i -lt 40 ] && [ $rc -eq 0 ]; do i=$((i+1)); call "m$i"; done
printf 'ERR:'; cat "$SCRATCH/err"; echo ':END'
rm -f "$SCRATCH/t/fill"
remount_log
call again
printf 'ERR2:'; cat "$SCRATCH/err"; echo ':END'
"$BDCTL" audit rotate >"$SCRATCH/rot" 2>&1; echo "rotate rc=$?"
call rotated
cat /var/log/belladonna/audit.jsonl.1 /var/log/belladonna/audit.jsonl > "$SCRATCH/log.jsonl" 2>/dev/null
"$BDCTL" audit verify >"$SCRATCH/v" 2>&1; echo "verify rc=$?"; cat "$SCRATCH/v" "$SCRATCH/rot"
cleanup; umount "$SCRATCH/t" 2>/dev/null; true
"#,
    );
    let c = calls(&out);
    let failed = c
        .iter()
        .find(|x| x.1 != "0")
        .unwrap_or_else(|| panic!("no call failed\n{o}"));
    assert_eq!((failed.1.as_str(), failed.2), ("4", false), "{o}");
    one_line(
        &part(&out, "ERR:"),
        "fdatasync failed: no space left on device",
        &o,
    );
    assert_eq!(outcome(&c, "again"), ("4", false), "{o}");
    one_line(&part(&out, "ERR2:"), "never retried", &o);
    assert!(out.contains("rotate rc=0"), "{o}");
    assert_eq!(outcome(&c, "rotated"), ("0", true), "{o}");
    assert!(out.contains("verify rc=0"), "{o}");
    nothing_lost_in(&env, &out);
}

/// EIO at fdatasync (the file system shut down while a writer is between
/// its write and its fdatasync) and then at write: exit 4, one line,
/// nothing run; after a remount the log verifies and nothing that ran is
/// lost.
#[test]
fn eio_at_fdatasync_and_at_write() {
    let env = test_env!("eio_at_fdatasync_and_at_write");
    let (o, out) = fault_script(
        &env,
        r#"mount_log "$SCRATCH/log.img" 32
call m1; call m2
rm -f /var/lib/paused
setpriv --reuid alice --regid "$(id -g alice)" --init-groups -- env BELLADONNA_TEST_PAUSE=audit-before-sync "$BDEXEC" -- /usr/bin/touch /var/lib/paused 2>"$SCRATCH/err" >/dev/null &
pid=$!
wait_stopped $pid || { echo "never-stopped"; kill -9 $pid; exit 0; }
shutdown_log
kill -CONT $pid; wait $pid; rc=$?
ran=no; [ -e /var/lib/paused ] && ran=yes
echo "sync rc=$rc ran=$ran"
printf 'ERR:'; cat "$SCRATCH/err"; echo ':END'
call m3
printf 'ERR2:'; cat "$SCRATCH/err"; echo ':END'
remount_log
"$BDCTL" audit verify >"$SCRATCH/v" 2>&1; echo "verify rc=$?"; cat "$SCRATCH/v"
cat /var/log/belladonna/audit.jsonl > "$SCRATCH/log.jsonl"
"#,
    );
    assert!(
        !out.contains("never-stopped"),
        "built with test-hooks?\n{o}"
    );
    assert!(out.contains("sync rc=4 ran=no"), "{o}");
    one_line(&part(&out, "ERR:"), "fdatasync failed: I/O error", &o);
    assert_eq!(outcome(&calls(&out), "m3"), ("4", false), "{o}");
    // Refused before writing (the failed sync is remembered) or by the
    // write itself: either way an I/O error, one line.
    let e2 = part(&out, "ERR2:");
    assert!(
        e2.contains("never retried") || e2.contains("I/O error"),
        "{e2}\n{o}"
    );
    one_line(&e2, "audit log", &o);
    assert!(out.contains("verify rc=0"), "{o}");
    nothing_lost_in(&env, &out);
}

/// A power cut (ext4 shutdown without flushing its journal) while six
/// callers run concurrently, then a remount and one more call (which
/// covers a torn tail with a recovery record): `bdctl audit verify`
/// passes and every call whose command ran has its record.
///
/// This failed in about half of the runs until the writer checked, after
/// each fdatasync, that the file system still answers
/// (`audit::writer::still_answers`): the lost record was always one whose
/// fdatasync returned success after the shutdown (ext4 does not wait for
/// a transaction the journal abort has already ended), so its command ran
/// "after the power cut". docs/durability.md.
#[test]
fn power_cut_during_concurrent_calls() {
    let env = test_env!("power_cut_during_concurrent_calls");
    let (o, out) = fault_script(
        &env,
        r#"mount_log "$SCRATCH/log.img" 64
# Each worker calls until its first refusal (the power cut), at most 3000
# times: no machine is fast enough to finish before the cut.
worker() { i=0; while [ $i -lt 3000 ]; do i=$((i+1)); call "pc-$1-$i"; [ "$rc" = 0 ] || break; done > "$SCRATCH/w$1"; }
for w in 1 2 3 4 5 6; do worker $w & done
sleep 2
shutdown_log
wait
cat "$SCRATCH"/w?
remount_log
# The power cut also empties /run (tmpfs): the writer's notes go with it.
rm -f /run/belladonna/audit-sync /run/belladonna/audit-synced
call after
"$BDCTL" audit verify >"$SCRATCH/v" 2>&1; echo "verify rc=$?"; cat "$SCRATCH/v"
cat /var/log/belladonna/audit.jsonl > "$SCRATCH/log.jsonl"
"#,
    );
    let c = calls(&out);
    // The first call after the remount runs and covers a torn tail (a
    // record cut by the power cut, its call refused) with a recovery
    // record, as on a real host after a crash.
    assert_eq!(outcome(&c, "after"), ("0", true), "{o}");
    assert!(
        c.iter().any(|x| x.1 == "4"),
        "the power cut came after every call had finished: the test proves nothing\n{o}"
    );
    assert!(
        c.iter().all(|x| (x.1 == "0") == x.2),
        "a call ran without exit 0 or exited 0 without running\n{o}"
    );
    assert!(out.contains("verify rc=0"), "{o}");
    nothing_lost_in(&env, &out);
}

/// The audit lock held by a stopped writer: the next call waits for the
/// deadline (3 s) and exits 4, nothing run; the same for the sync group
/// lock (a writer stopped before its fdatasync). After they are killed
/// the next call works and the log verifies.
#[test]
fn locks_held_by_a_stopped_process() {
    let env = test_env!("locks_held_by_a_stopped_process");
    env.policy(STD_POLICY);
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "first");
    for (point, want) in [
        (
            "audit-after-write",
            "audit.jsonl: lock not acquired within 3s",
        ),
        (
            "audit-before-sync",
            "audit-synced: lock not acquired within 3s",
        ),
    ] {
        let mut r = env
            .bdexec("alice")
            .args(["--", "/usr/bin/id", "-u"])
            .env("BELLADONNA_TEST_PAUSE", point)
            .spawn();
        assert!(
            r.wait_stopped(Duration::from_secs(60)),
            "{point}: never stopped (test-hooks?)\n{}",
            r.wait()
        );
        let t = Instant::now();
        let o = env.run_as_user("alice", &TOUCH);
        o.expect_refusal(4, point);
        assert!(o.stderr_str().contains(want), "{point}\n{o}");
        assert!(
            t.elapsed() >= Duration::from_secs(3),
            "{point}: the deadline"
        );
        assert!(!env.marker_exists("marker"), "{point}: nothing ran");
        r.kill9();
        r.wait();
        env.assert_verify_ok(point);
    }
    env.run_as_user("alice", &TOUCH).expect_code(0, "after");
    assert!(env.marker_exists("marker"));
    env.assert_verify_ok("after");
}

/// kill -9 at each step of an append (before the write, after it, before
/// and after the fdatasync, before exec): the command never runs, the log
/// verifies, and the next call works.
#[test]
fn kill9_at_every_step_of_an_append() {
    let env = test_env!("kill9_at_every_step_of_an_append");
    env.policy(STD_POLICY);
    env.run_as_user("alice", &TOUCH).expect_code(0, "first");
    for point in [
        "audit-before-write",
        "audit-after-write",
        "audit-before-sync",
        "audit-after-sync",
        "before-exec",
    ] {
        std::fs::remove_file(env.var_lib().join("marker")).ok();
        let mut r = env
            .bdexec("alice")
            .args(TOUCH)
            .env("BELLADONNA_TEST_PAUSE", point)
            .spawn();
        assert!(
            r.wait_stopped(Duration::from_secs(60)),
            "{point}: never stopped (test-hooks?)\n{}",
            r.wait()
        );
        r.kill9();
        r.wait();
        assert!(!env.marker_exists("marker"), "{point}: nothing ran");
        env.assert_verify_ok(point);
        env.run_as_user("alice", &TOUCH)
            .expect_code(0, &format!("after a kill at {point}"));
        assert!(env.marker_exists("marker"), "{point}: the next call ran");
        env.assert_verify_ok(point);
    }
}

/// `[audit] on_full = "journald"`: with the log's file system full the
/// call runs, its record goes to journald (BD_SINK=journald), and stderr
/// has one warning line; with the default ("deny") the same call exits
/// 4. `critical_space` refuses every rule but a break_glass one.
#[test]
fn ladder_journald_sink_and_critical_space() {
    let env = test_env!("ladder_journald_sink_and_critical_space");
    if !std::path::Path::new(common::journald::JOURNALD).exists() {
        loud("SKIPPED (no systemd-journald): ladder_journald_sink_and_critical_space");
        return;
    }
    let j = env.start_journald();
    let policy = |audit: &str| {
        format!(
            "{audit}\n{STD_POLICY}\n[[rule]]\nname = \"glass\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/true\"]\nauth = \"none\"\nbreak_glass = true\n"
        )
        .replacen("version = 1\n", "", 1)
    };
    let with_version = |s: String| format!("version = 1\n{s}");
    env.policy(&with_version(policy("[audit]\non_full = \"journald\"\n")));
    env.run_as_user("alice", &TOUCH).expect_code(0, "first");
    let script = r#"set -u
mount -t tmpfs -o size=12k,mode=0700 tmpfs /var/log/belladonna || { echo setup-failed; exit 0; }
dd if=/dev/zero of=/var/log/belladonna/fill bs=1024 2>/dev/null
rm -f /var/lib/marker
as_user alice "$BDEXEC" -- /usr/bin/touch /var/lib/marker 2>"$SCRATCH/err"; echo "rc=$?"
[ -e /var/lib/marker ] && echo ran
printf 'ERR:'; cat "$SCRATCH/err"
"#;
    let o = env.sh_in_ns("root", script);
    setup_ok(&o);
    let out = o.stdout_str();
    assert!(out.contains("rc=0") && out.contains("ran"), "{o}");
    let err = out.split("ERR:").nth(1).unwrap_or("");
    assert!(
        err.starts_with("bdexec: warning: ") && err.matches('\n').count() == 1,
        "{o}"
    );
    assert!(err.contains("on_full = \"journald\""), "{o}");
    // journald writes asynchronously: wait for the entry (20 s at most).
    let sunk = |e: &serde_json::Value| {
        e["BD_SINK"] == "journald"
            && e["BD_EVENT"] == "accept"
            && e["BD_RUNARGV"]
                .as_str()
                .is_some_and(|a| a.contains("/var/lib/marker"))
    };
    let t0 = Instant::now();
    let mut entries = j.entries_now();
    while !entries.iter().any(sunk) && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
        entries = j.entries_now();
    }
    assert!(
        entries.iter().any(sunk),
        "the record is in journald: {entries:?}"
    );
    // The default: deny.
    env.policy(&with_version(policy("")));
    let o = env.sh_in_ns("root", script);
    let out = o.stdout_str();
    assert!(out.contains("rc=4") && !out.contains("ran"), "{o}");
    // critical_space: 99% free space is always "critical" here.
    env.policy(&with_version(policy("[audit]\ncritical_space = \"99%\"\n")));
    let o = env.run_as_user("alice", &TOUCH);
    o.expect_refusal(4, "critical");
    assert!(o.stderr_str().contains("only break_glass rules run"), "{o}");
    assert!(!env.marker_exists("marker"));
    let o = env.run_as_user("alice", &["--", "/usr/bin/true"]);
    o.expect_code(0, "break glass runs");
    assert!(
        o.stderr_str().contains("warning: audit log space critical"),
        "{o}"
    );
    // low_space: a warning, the call runs.
    env.policy(&with_version(policy("[audit]\nlow_space = \"99%\"\n")));
    let o = env.run_as_user("alice", &TOUCH);
    o.expect_code(0, "low space runs");
    assert!(
        o.stderr_str().contains("warning: audit log space low"),
        "{o}"
    );
    env.assert_verify_ok("ladder");
}
