//! `bdctl audit rotate` with the real bdexec (issue 11 item 2): the chain
//! continues across files, `bdctl audit verify` names a missing, reordered
//! or altered file and tells recorded retention from deletion, a rotation
//! killed at each step loses nothing, and rotations racing concurrent
//! callers leave one chain with every caller's record.

#[macro_use]
mod common;
use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

const ID: [&str; 3] = ["--", "/usr/bin/id", "-u"];

fn log_dir(env: &TestEnv) -> PathBuf {
    env.audit_path().parent().expect("log dir").to_path_buf()
}

fn rotated(env: &TestEnv, n: u64) -> PathBuf {
    log_dir(env).join(format!("audit.jsonl.{n}"))
}

/// Every record of every file in the log directory, by seq.
fn all_records(env: &TestEnv) -> Vec<Value> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(log_dir(env)).expect("log dir") {
        let p = e.expect("entry").path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name == "audit.jsonl" || name.starts_with("audit.jsonl.") && name != "audit.jsonl.next" {
            for l in std::fs::read(&p).expect("read").split(|b| *b == b'\n') {
                if let Ok(r) = serde_json::from_slice::<Value>(l) {
                    v.push(r);
                }
            }
        }
    }
    v.sort_by_key(|r| num(&r["seq"]));
    v.dedup_by_key(|r| num(&r["seq"]));
    v
}

fn calls(env: &TestEnv, n: usize) {
    for _ in 0..n {
        env.run_as_user("alice", &ID).expect_stdout("0\n", "call");
    }
}

fn verify_fails(env: &TestEnv, what: &str) {
    let v = env.verify();
    assert_eq!(v.code(), Some(1), "verify must fail ({what})\n{v}");
    assert!(v.stderr_str().contains(what), "verify names {what:?}\n{v}");
}

#[test]
fn rotate_then_more_calls_verify_across_files() {
    let env = test_env!("rotate_then_more_calls_verify_across_files");
    env.policy(STD_POLICY);
    calls(&env, 2);
    env.bdctl(&["audit", "rotate"]).expect_code(0, "rotate 1");
    calls(&env, 2);
    env.run_as_user("mallory", &ID).expect_refusal(1, "refusal");
    env.bdctl(&["audit", "rotate"]).expect_code(0, "rotate 2");
    calls(&env, 1);
    env.assert_verify_ok("across three files");
    let v = env.verify();
    assert!(v.stdout_str().contains("audit.jsonl.1: valid"), "{v}");
    assert!(v.stdout_str().contains("audit.jsonl.2: valid"), "{v}");
    let recs = all_records(&env);
    let seqs: Vec<u64> = recs.iter().filter_map(|r| num(&r["seq"])).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let ev = |e: &str| recs.iter().filter(|r| r["event"] == e).count();
    assert_eq!((ev("accept"), ev("reject"), ev("rotate")), (5, 1, 4));
    // The current file starts with the opening record linked to .2's end.
    let first = &env.audit_lines()[0];
    assert_eq!(first["rotate"], "open");
    assert_eq!(first["rotate_index"], 2);
}

#[test]
fn verify_names_missing_reordered_and_altered_files() {
    let env = test_env!("verify_names_missing_reordered_and_altered_files");
    env.policy(STD_POLICY);
    for _ in 0..3 {
        calls(&env, 1);
        env.bdctl(&["audit", "rotate"]).expect_code(0, "rotate");
    }
    env.assert_verify_ok("three rotations");
    let (p1, p2, tmp) = (rotated(&env, 1), rotated(&env, 2), log_dir(&env).join("x"));
    // A missing middle file.
    std::fs::rename(&p2, &tmp).expect("mv");
    verify_fails(&env, "audit.jsonl.2 missing");
    std::fs::rename(&tmp, &p2).expect("mv back");
    env.assert_verify_ok("restored");
    // Two files swapped.
    std::fs::rename(&p1, &tmp).expect("mv");
    std::fs::rename(&p2, &p1).expect("mv");
    std::fs::rename(&tmp, &p2).expect("mv");
    verify_fails(&env, "renamed or reordered");
    std::fs::rename(&p1, &tmp).expect("mv");
    std::fs::rename(&p2, &p1).expect("mv");
    std::fs::rename(&tmp, &p2).expect("mv");
    env.assert_verify_ok("unswapped");
    // An altered rotated file.
    let b = std::fs::read_to_string(&p1).expect("read");
    std::fs::write(&p1, b.replacen("\"alice\"", "\"alicf\"", 1)).expect("write");
    verify_fails(&env, "audit.jsonl.1: line 1");
}

#[test]
fn retention_is_recorded_not_tampering() {
    let env = test_env!("retention_is_recorded_not_tampering");
    env.policy(STD_POLICY);
    for _ in 0..3 {
        calls(&env, 1);
        let o = env.bdctl(&["audit", "rotate", "--keep", "1"]);
        o.expect_code(0, "rotate --keep 1");
    }
    assert!(!rotated(&env, 1).exists() && !rotated(&env, 2).exists());
    assert!(rotated(&env, 3).exists());
    env.assert_verify_ok("retention");
    let v = env.verify();
    assert!(v.stdout_str().contains("deleted by retention"), "{v}");
    let first = &env.audit_lines()[0];
    assert_eq!(first["retired_index"], 2);
    // The kept file deleted by hand is not retention.
    std::fs::remove_file(rotated(&env, 3)).expect("rm");
    verify_fails(&env, "retention deleted only up to audit.jsonl.2");
    env.bdctl(&["audit", "rotate", "--keep", "0"])
        .expect_code(2, "--keep 0 is a usage error");
}

/// Killed at each step of a rotation: verify passes, the next rotate
/// finishes it, and no record is lost.
#[test]
fn rotation_killed_at_each_step() {
    let env = test_env!("rotation_killed_at_each_step");
    env.policy(STD_POLICY);
    for point in [
        "rotate-linked",
        "rotate-closed",
        "rotate-next-written",
        "rotate-renamed",
    ] {
        calls(&env, 1);
        let before: Vec<Value> = all_records(&env)
            .into_iter()
            .filter(|r| r["event"] == "accept")
            .collect();
        let mut r = env
            .program("root", env.bdctl_path())
            .args(["audit", "rotate"])
            .env("BELLADONNA_TEST_PAUSE", point)
            .spawn();
        assert!(
            r.wait_stopped(Duration::from_secs(60)),
            "{point}: bdctl never stopped (built with --features test-hooks?)\n{}",
            r.wait()
        );
        r.kill9();
        r.wait();
        env.assert_verify_ok(&format!("killed at {point}"));
        let o = env.run_as_user("alice", &ID);
        if point == "rotate-linked" || point == "rotate-renamed" {
            o.expect_stdout("0\n", "nothing closed yet, or the new file in place");
        } else {
            o.expect_code(4, "a file closed by an interrupted rotation is refused");
            assert!(o.stderr_str().contains("interrupted rotation"), "{o}");
        }
        env.bdctl(&["audit", "rotate"])
            .expect_code(0, &format!("{point}: rotate again"));
        calls(&env, 1);
        env.assert_verify_ok(&format!("{point}: finished"));
        let after = all_records(&env);
        for b in &before {
            assert!(
                after
                    .iter()
                    .any(|a| a["uuid"] == b["uuid"] && a["h"] == b["h"]),
                "{point}: record {} lost",
                b["seq"]
            );
        }
    }
}

/// Rotations racing 8 concurrent callers (each calling 5 times): one
/// chain, every caller's record there.
#[test]
fn rotate_racing_eight_callers() {
    let env = test_env!("rotate_racing_eight_callers");
    env.policy(STD_POLICY);
    calls(&env, 1);
    let o = env.sh_in_ns(
        "root",
        r#"c=0
while [ $c -lt 8 ]; do
  c=$((c+1))
  ( j=0; while [ $j -lt 5 ]; do j=$((j+1))
      as_user alice "$BDEXEC" -- /usr/bin/id -u >/dev/null 2>"$SCRATCH/err.$c.$j" || echo "caller $c.$j failed: $(cat "$SCRATCH/err.$c.$j")"
    done ) &
done
i=0; while [ $i -lt 6 ]; do i=$((i+1)); "$BDCTL" audit rotate >/dev/null || echo "rotate $i failed"; done
wait
echo done"#,
    );
    o.expect_stdout("done\n", "every call and rotation succeeded");
    env.assert_verify_ok("after the race");
    let recs = all_records(&env);
    let seqs: Vec<u64> = recs.iter().filter_map(|r| num(&r["seq"])).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(recs.iter().filter(|r| r["event"] == "accept").count(), 41);
    assert_eq!(recs.iter().filter(|r| r["event"] == "rotate").count(), 12);
}

/// With an audit key: epochs sealed before and after rotations, MACs
/// verified with K_0 across every file.
#[test]
fn mac_epochs_verify_across_rotated_files() {
    let env = test_env!("mac_epochs_verify_across_rotated_files");
    env.policy(STD_POLICY);
    mkdir_mode(&env.etc("belladonna/keys"), 0o700);
    let o = env.sh_in_ns(
        "root",
        r#"mount --bind "$TESTDIR/etc/belladonna/keys" /etc/belladonna/keys || exit 99
set -e
call() { as_user alice "$BDEXEC" -- /usr/bin/id -u >/dev/null; }
"$BDCTL" key gen --audit --export-verify-key "$SCRATCH/k0" >/dev/null
call; "$BDCTL" key rotate --audit >/dev/null
call; "$BDCTL" audit rotate >/dev/null
call; "$BDCTL" key rotate --audit >/dev/null
"$BDCTL" audit rotate >/dev/null
call
"$BDCTL" audit verify --key "$SCRATCH/k0"
echo ok"#,
    );
    assert_eq!(o.code(), Some(0), "keyed rotation\n{o}");
    assert!(o.stdout_str().contains("audit.jsonl.2: valid"), "{o}");
    let recs = all_records(&env);
    assert!(
        recs.iter().all(|r| r["mac"].is_string()),
        "every line MAC'd"
    );
    assert_eq!(recs.iter().filter(|r| r["event"] == "seal").count(), 2);
}
