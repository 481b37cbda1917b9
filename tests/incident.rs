//! Incident response end to end (issue 15, docs/incident-response.md):
//! decoys listed as grants and answered as denials, the decoy alarm
//! freezing the host, frozen mode refusing all but break-glass rules,
//! M-of-N single-use unfreeze tokens, and every bad unfreeze refused
//! with a record.

#[macro_use]
mod common;
use common::*;
use std::path::PathBuf;

struct Setup {
    env: TestEnv,
    keys: PathBuf,
}

fn pubkey(out: &Out) -> String {
    out.stdout_str()
        .split_whitespace()
        .find(|w| w.starts_with("ed25519:"))
        .unwrap_or_else(|| panic!("no public key printed\n{out}"))
        .to_string()
}

const RULES: &str = r#"
[[rule]]
name = "id"
users = ["alice"]
commands = ["/usr/bin/id -u"]
auth = "none"

[[rule]]
name = "glass"
users = ["alice"]
commands = ["/usr/bin/whoami"]
auth = "none"
break_glass = true

[[decoy]]
name = "shred-disks"
users = ["alice"]
commands = ["/usr/bin/shred *"]
auth = "none"

[[decoy]]
name = "base32"
users = ["alice"]
commands = ["/usr/bin/base32"]
auth = "none"
"#;

fn setup(name: &str, incident: &str) -> Option<Setup> {
    let env = TestEnv::new(&format!("incident::{name}"))?;
    let keys = env.scratch().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let k = keys.display().to_string();
    let mut approvers = String::new();
    for a in ["sec1", "sec2", "sec3", "other"] {
        let p = pubkey(&env.bdctl(&["key", "gen", "--approver", a, "--out", &k]));
        approvers.push_str(&format!("[approvers.{a}]\nkey = \"{p}\"\nepoch = 0\n"));
    }
    env.policy(&format!("version = 1\n{approvers}\n{incident}\n{RULES}"));
    Some(Setup { env, keys })
}

/// Wait (up to 5 s) for what the detached bookkeeping child of a
/// refusal writes after the caller has its answer.
fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let t = std::time::Instant::now();
    while !f() {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `bdctl status --json`'s `frozen`.
fn is_frozen(env: &TestEnv) -> bool {
    let o = env.bdctl(&["status", "--json"]);
    o.expect_code(0, "status");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("status json");
    v["frozen"].as_bool().expect("frozen bool")
}

fn decoy_hits(env: &TestEnv) -> usize {
    env.audit_events("alert")
        .iter()
        .filter(|a| a["reason"] == "decoy hit")
        .count()
}

const INCIDENT: &str = r#"[incident]
auto_freeze = true
decoy_floor = 2
decoy_window = "1h"
unfreeze_approvals = 2
unfreeze_approvers = ["sec1", "sec2", "sec3"]
"#;

impl Setup {
    /// An unfreeze token signed by `who`, written to a file; extra args
    /// go to `bdctl token sign`.
    fn token(&self, file: &str, who: &str, extra: &[&str]) -> String {
        let key = self.keys.join(format!("{who}.key")).display().to_string();
        let mut args = vec!["token", "sign", "--key", &key, "--purpose", "unfreeze"];
        args.extend_from_slice(extra);
        let o = self.env.bdctl(&args);
        o.expect_code(0, "token sign");
        let path = self.env.scratch().join(file);
        write_mode(&path, o.stdout.as_slice(), 0o600);
        path.display().to_string()
    }

    fn unfreeze(&self, tokens: &[&str]) -> Out {
        let mut args = vec!["unfreeze"];
        for t in tokens {
            args.push("--token");
            args.push(t);
        }
        self.env.bdctl(&args)
    }

    fn freeze(&self) {
        self.env
            .bdctl(&["freeze", "--reason", "test"])
            .expect_code(0, "freeze");
    }

    fn frozen(&self) -> bool {
        is_frozen(&self.env)
    }

    fn last_refused_reason(&self) -> String {
        let r = self.env.audit_events("unfreeze-refused");
        r.last().expect("an unfreeze-refused record")["reason"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// The issue's "Done when" scenario.
#[test]
fn attack_freeze_unfreeze_story() {
    let Some(s) = setup("attack_freeze_unfreeze_story", INCIDENT) else {
        return;
    };
    let env = &s.env;
    // The attacker lists its grants: decoys look like grants.
    let l = env.run_as_user("alice", &["-l"]);
    l.expect_code(0, "list");
    let text = l.stdout_str();
    assert_eq!(
        text,
        "alice may run the following commands with bdexec:\n    (root) auth=none /usr/bin/id -u\n    (root) auth=none /usr/bin/whoami\n    (root) auth=none /usr/bin/shred *\n    (root) auth=none /usr/bin/base32\n"
    );
    assert!(
        text.contains("    (root) auth=none /usr/bin/shred *\n")
            && text.contains("    (root) auth=none /usr/bin/base32\n")
            && text.contains("    (root) auth=none /usr/bin/id -u\n"),
        "{text}"
    );
    // Probes: a real command runs, an unknown one is denied, decoys are
    // denied alike.
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_stdout("0\n", "real rule before the freeze");
    env.run_as_user("alice", &["/usr/bin/nproc"])
        .expect_refusal(1, "no rule");
    env.run_as_user("alice", &["/usr/bin/shred", "/dev/sda"])
        .expect_refusal(1, "decoy 1");
    env.run_as_user("alice", &["/usr/bin/base32"])
        .expect_refusal(1, "decoy 2");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!s.frozen(), "two hits: at the floor, no alarm");
    // The third hit crosses the floor (2): alarm, automatic freeze.
    env.run_as_user("alice", &["/usr/bin/base32"])
        .expect_refusal(1, "decoy 3");
    wait_until("the automatic freeze", || {
        s.frozen() && !env.audit_events("freeze").is_empty()
    });
    // Every rule but break-glass is refused, with the ordinary denial.
    let o = env.run_as_user("alice", &["/usr/bin/id", "-u"]);
    o.expect_refusal(1, "frozen");
    assert_eq!(
        o.stderr_str(),
        "bdexec: alice is not allowed to run /usr/bin/id as root\n"
    );
    env.run_as_user("alice", &["/usr/bin/whoami"])
        .expect_stdout("root\n", "break-glass runs while frozen");
    // 2 of 3 approvers sign; unfreeze succeeds.
    let t1 = s.token("t1", "sec1", &[]);
    let t2 = s.token("t2", "sec3", &[]);
    s.unfreeze(&[&t1]).expect_code(1, "one of two");
    assert!(s.last_refused_reason().contains("not enough approvals"));
    s.unfreeze(&[&t1, &t2]).expect_code(0, "two of three");
    assert!(!s.frozen());
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_stdout("0\n", "after the unfreeze");
    // Replaying one token (with a fresh one) is refused, after freezing again.
    s.freeze();
    let t3 = s.token("t3", "sec2", &[]);
    s.unfreeze(&[&t3, &t2]).expect_code(1, "replay");
    assert!(
        s.last_refused_reason().contains("replay"),
        "{}",
        s.last_refused_reason()
    );
    assert!(s.frozen());
    env.assert_verify_ok("the story");
    // bdctl metrics tells it too: frozen, one automatic freeze by the
    // decoy rate, one manual; one unfreeze of the automatic one.
    let m = env.bdctl(&["metrics"]);
    let text = String::from_utf8_lossy(&m.stdout).to_string();
    for line in [
        "belladonna_frozen 1\n",
        "belladonna_freezes_total{cause=\"decoy-rate\"} 1\n",
        "belladonna_freezes_total{cause=\"manual\"} 1\n",
        "belladonna_unfreezes_total{freeze=\"automatic\"} 1\n",
        "belladonna_decoy_hits_total 3\n",
        "belladonna_decisions_total{event=\"freeze\"} 2\n",
    ] {
        assert!(text.contains(line), "{line} in:\n{text}");
    }
    // The log tells the story in order.
    let story: Vec<String> = env
        .audit_lines()
        .iter()
        .map(|v| v["event"].as_str().unwrap_or_default().to_string())
        .collect();
    let want = [
        "accept",
        "reject",
        "alert",
        "alert",
        "alert",
        "alert",
        "freeze",
        "reject",
        "accept",
        "unfreeze-refused",
        "unfreeze",
        "accept",
        "freeze",
        "unfreeze-refused",
    ];
    assert_eq!(story, want);
    let freeze = &env.audit_events("freeze")[0];
    assert!(
        freeze["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("cause=decoy-rate; "),
        "{freeze}"
    );
    let unfreeze = &env.audit_events("unfreeze")[0];
    let r = unfreeze["reason"].as_str().unwrap_or_default();
    assert!(r.contains("sec1") && r.contains("sec3"), "{r}");
    let alerts = env.audit_events("alert");
    assert_eq!(alerts[0]["rule"], "shred-disks");
    assert!(
        alerts[3]["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("decoy alarm: 3 hits in this window, threshold 2"),
        "{}",
        alerts[3]
    );
    let c = env.bdctl(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&c.stdout).unwrap();
    assert_eq!(v["counters"]["decoy_hits"], 3);
    assert_eq!(v["counters"]["freezes_decoy_rate"], 1);
    assert_eq!(v["counters"]["freezes_manual"], 1);
    assert_eq!(v["counters"]["unfreezes_automatic"], 1);
}

/// Haze, bytes: a decoy hit and an ordinary denial print the same line
/// apart from the command named, with the same exit code and no stdout.
#[test]
fn decoy_and_denial_look_alike() {
    let Some(s) = setup("decoy_and_denial_look_alike", "") else {
        return;
    };
    let d = s.env.run_as_user("alice", &["/usr/bin/base32"]);
    let n = s.env.run_as_user("alice", &["/usr/bin/nproc"]);
    d.expect_refusal(1, "decoy");
    n.expect_refusal(1, "denial");
    assert_eq!(
        d.stderr_str().replace("/usr/bin/base32", "CMD"),
        n.stderr_str().replace("/usr/bin/nproc", "CMD")
    );
    let du = s
        .env
        .run_as_user("alice", &["-u", "root", "/usr/bin/base32"]);
    let nu = s
        .env
        .run_as_user("alice", &["-u", "root", "/usr/bin/nproc"]);
    assert_eq!(
        du.stderr_str().replace("/usr/bin/base32", "CMD"),
        nu.stderr_str().replace("/usr/bin/nproc", "CMD")
    );
    assert_eq!(du.code(), nu.code());
    // Without [incident] auto_freeze the alarm does not freeze.
    for _ in 0..5 {
        s.env.run_as_user("alice", &["/usr/bin/base32"]);
    }
    wait_until("the alarm record", || {
        s.env.audit_events("alert").len() == 8
    });
    assert_eq!(decoy_hits(&s.env), 7);
    assert!(!s.frozen());
    // bdctl tune: the current floor (3) fired once; the recommendation
    // (the busiest window) would not have; its drop-in changes the decoy
    // segment only.
    let out = s.env.scratch().join("90-tune.toml");
    let t = s
        .env
        .bdctl(&["tune", "--write", &out.display().to_string()]);
    t.expect_code(0, "tune");
    let text = t.stdout_str();
    assert!(
        text.contains("decoy hits in /var/log/belladonna/audit.jsonl: 7"),
        "{text}"
    );
    assert!(text.contains("current: decoy_floor = 3, decoy_factor = 3, decoy_window = 600s: the alarm would have fired 1 times"), "{text}");
    assert!(text.contains("recommended: decoy_floor = 7, decoy_factor = 3, decoy_window = 600s: the alarm would have fired 0 times"), "{text}");
    // Sampling advice: every call fits the default budget (600 a minute).
    assert!(text.contains("current trace_sample_rate = 1.000"), "{text}");
    assert!(text.contains("recommended 1.000"), "{text}");
    // A budget of one trace a minute: a rate under 1, written as a key of
    // the drop-in's [incident] (the decoy segment).
    let small = s.env.scratch().join("91-tune.toml");
    let t2 = s.env.bdctl(&[
        "tune",
        "--trace-budget",
        "1",
        "--write",
        &small.display().to_string(),
    ]);
    t2.expect_code(0, "tune --trace-budget 1");
    let written = std::fs::read_to_string(&small).unwrap();
    assert!(written.contains("trace_sample_rate = 0."), "{written}");
    s.env
        .bdctl(&["tune", "--trace-budget", "0"])
        .expect_code(2, "a budget of 0 is a usage error");
    let hash = |env: &TestEnv| -> serde_json::Value {
        serde_json::from_slice(&env.bdctl(&["policy", "hash", "--json"]).stdout).unwrap()
    };
    let before = hash(&s.env);
    s.env
        .dropin("90-tune.toml", &std::fs::read_to_string(&out).unwrap());
    let after = hash(&s.env);
    assert_ne!(
        before["segments"]["decoy"], after["segments"]["decoy"],
        "{after}"
    );
    assert_eq!(before["segments"]["auth"], after["segments"]["auth"]);
}

/// Decoy alerts are recorded even when the caller's refusals are over
/// the refusal rate limit.
#[test]
fn decoy_alerts_are_never_suppressed() {
    let Some(s) = setup("decoy_alerts_are_never_suppressed", "") else {
        return;
    };
    for _ in 0..25 {
        s.env.run_as_user("alice", &["/usr/bin/nproc"]);
    }
    let rejects = s.env.audit_events("reject").len();
    assert!(rejects < 25, "the limit engaged ({rejects})");
    s.env
        .run_as_user("alice", &["/usr/bin/base32"])
        .expect_refusal(1, "decoy over the limit");
    wait_until("the alert over the limit", || decoy_hits(&s.env) == 1);
}

#[test]
fn unfreeze_bad_tokens_are_refused_and_recorded() {
    let Some(s) = setup("unfreeze_bad_tokens_are_refused_and_recorded", INCIDENT) else {
        return;
    };
    s.freeze();
    let good = s.token("good", "sec1", &[]);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "another host",
            s.token(
                "host",
                "sec2",
                &[
                    "--host",
                    "elsewhere",
                    "--machine-id",
                    "0123456789abcdef0123456789abcdef",
                ],
            ),
            "another host",
        ),
        (
            "not an unfreeze approver",
            s.token("other", "other", &[]),
            "may not approve",
        ),
        (
            "same approver twice",
            s.token("dup", "sec1", &[]),
            "same approver",
        ),
    ];
    for (what, t, want) in &cases {
        s.unfreeze(&[&good, t]).expect_code(1, what);
        let r = s.last_refused_reason();
        assert!(r.contains(want), "{what}: {r}");
        assert!(s.frozen(), "{what}");
    }
    // Wrong purpose: an exec token.
    let key = s.keys.join("sec2.key").display().to_string();
    let o = s.env.bdctl(&[
        "token",
        "sign",
        "--key",
        &key,
        "--user",
        "alice",
        "--argv",
        "/usr/bin/id",
    ]);
    o.expect_code(0, "exec token");
    let exec = s.env.scratch().join("exec");
    write_mode(&exec, &o.stdout, 0o600);
    s.unfreeze(&[&good, &exec.display().to_string()])
        .expect_code(1, "wrong purpose");
    assert!(s.last_refused_reason().contains("another purpose"));
    // Expired.
    let old = s.token("old", "sec2", &["--ttl", "1s"]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    s.unfreeze(&[&good, &old]).expect_code(1, "expired");
    assert!(s.last_refused_reason().contains("expired"));
    // None of those consumed the good token: it still works.
    let fresh = s.token("fresh", "sec3", &[]);
    s.unfreeze(&[&good, &fresh]).expect_code(0, "good pair");
    // Unfreezing a host that is not frozen is refused too.
    s.unfreeze(&[&good, &fresh]).expect_code(1, "not frozen");
    assert!(s.last_refused_reason().contains("not frozen"));
    // Unfreeze tokens take no --user / --argv.
    let o = s.env.bdctl(&[
        "token",
        "sign",
        "--key",
        &key,
        "--purpose",
        "unfreeze",
        "--user",
        "alice",
    ]);
    o.expect_code(2, "unfreeze token with --user");
    s.env.assert_verify_ok("bad tokens");
    assert_eq!(s.env.audit_events("unfreeze-refused").len(), 6);
}

#[test]
fn freeze_file_corrupt_or_missing_fails_closed() {
    let Some(s) = setup("freeze_file_corrupt_or_missing_fails_closed", INCIDENT) else {
        return;
    };
    let env = &s.env;
    let lib = env.var_lib().join("belladonna/frozen");
    let run = env.run_dir().join("belladonna/frozen");
    s.freeze();
    assert!(lib.exists() && run.exists());
    // Corrupt persistent file: still frozen.
    std::fs::write(&lib, b"{garbage").unwrap();
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_refusal(1, "corrupt freeze file");
    env.run_as_user("alice", &["/usr/bin/whoami"])
        .expect_stdout("root\n", "break-glass still runs");
    // Unreadable (a directory in its place): still frozen.
    std::fs::remove_file(&lib).unwrap();
    std::fs::create_dir(&lib).unwrap();
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_refusal(1, "unreadable freeze file");
    std::fs::remove_dir(&lib).unwrap();
    // The persistent file removed while /run says frozen: still frozen.
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_refusal(1, "freeze file removed behind our back");
    let st = env.bdctl(&["status"]);
    assert!(
        st.stdout_str().contains("persistent flag was removed"),
        "{st}"
    );
    // Loss of /run (a reboot) with the persistent file: still frozen.
    s.freeze();
    std::fs::remove_file(&run).unwrap();
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_refusal(1, "after a reboot");
    let frozen = env.audit_events("reject");
    assert!(
        frozen
            .iter()
            .all(|r| r["reason"].as_str().unwrap_or_default().contains("frozen"))
    );
    // Unfreeze removes both.
    let t1 = s.token("a", "sec1", &[]);
    let t2 = s.token("b", "sec2", &[]);
    s.unfreeze(&[&t1, &t2]).expect_code(0, "unfreeze");
    assert!(!lib.exists() && !run.exists());
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_stdout("0\n", "thawed");
}

#[test]
fn freeze_needs_root_and_a_reason() {
    let Some(s) = setup("freeze_needs_root_and_a_reason", "") else {
        return;
    };
    s.env
        .bdctl(&["freeze", "--reason", ""])
        .expect_code(2, "empty");
    s.env
        .bdctl(&["freeze", "--reason", "a\nb"])
        .expect_code(2, "control character");
    let o = s.env.sh_in_ns(
        "alice",
        &format!("{} freeze --reason x", s.env.bdctl_path().display()),
    );
    assert_ne!(o.code(), Some(0), "{o}");
    assert!(!s.frozen());
}

/// The hydra score: denials raise alice's score; the one that crosses
/// `freeze_score` freezes the host (cause hydra); `bdctl hydra` shows it.
#[test]
fn hydra_score_freezes_the_host() {
    let Some(s) = setup(
        "hydra_score_freezes_the_host",
        "[incident]\nauto_freeze = true\nfreeze_score = 0.2\ndecoy_floor = 100\n",
    ) else {
        return;
    };
    let env = &s.env;
    // Each denial adds 0.05 to the exponent: 1 - e^(-0.05 n) >= 0.2 at n = 5.
    for i in 0..4 {
        env.run_as_user("alice", &["/usr/bin/nproc"])
            .expect_refusal(1, &format!("denial {i}"));
    }
    wait_until("four scored denials", || {
        let o = env.bdctl(&["hydra", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        v["users"][0]["denials"].as_f64().unwrap_or(0.0) > 3.99
    });
    assert!(!s.frozen(), "score under 0.2");
    env.run_as_user("alice", &["/usr/bin/nproc"])
        .expect_refusal(1, "denial 5");
    wait_until("the hydra freeze", || {
        s.frozen() && !env.audit_events("freeze").is_empty()
    });
    let f = env.audit_events("freeze");
    let r = f[0]["reason"].as_str().unwrap_or_default();
    assert!(
        r.starts_with("cause=hydra; hydra score of uid 61001 is 0.22"),
        "{r}"
    );
    let o = env.bdctl(&["hydra", "--json"]);
    o.expect_code(0, "hydra");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["users"][0]["uid"], 61001);
    assert!(v["p50"].as_f64().unwrap() > 0.2, "{v}");
    let t = env.bdctl(&["hydra"]);
    assert!(t.stdout_str().contains("alice"), "{t}");
    // Novelty (computed by bdctl from the log): bob's first accepted
    // command counts, the repeat does not.
    s.env.policy(&format!(
        "{}\n[[rule]]\nname = \"bob-id\"\nusers = [\"bob\"]\ncommands = [\"/usr/bin/id -u\"]\nauth = \"none\"\n",
        std::fs::read_to_string(s.env.policy_path()).unwrap()
    ));
    s.env.bdctl(&[
        "unfreeze",
        "--token",
        &s.token("u1", "sec1", &[]),
        "--token",
        &s.token("u2", "sec2", &[]),
    ]);
    for _ in 0..2 {
        env.run_as_user("bob", &["/usr/bin/id", "-u"])
            .expect_stdout("0\n", "bob");
    }
    let v: serde_json::Value =
        serde_json::from_slice(&env.bdctl(&["hydra", "--json"]).stdout).unwrap();
    let bob = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["uid"] == BOB.uid)
        .cloned()
        .unwrap_or_else(|| panic!("{v}"));
    let n = bob["novelty"].as_f64().unwrap();
    assert!((0.99..=1.0).contains(&n), "{bob}");
    env.assert_verify_ok("hydra");
}

/// A pinned policy with [incident] and decoys round-trips through the
/// lock; changing a decoy setting is drift of the decoy segment only.
#[test]
fn pin_and_drift_of_the_decoy_segment() {
    let Some(s) = setup("pin_and_drift_of_the_decoy_segment", INCIDENT) else {
        return;
    };
    let env = &s.env;
    // /etc is read-only inside the namespace (as in tests/drift.rs).
    env.sh_in_ns(
        "root",
        "mount --bind \"$TESTDIR/etc/belladonna\" /etc/belladonna && \"$BDCTL\" policy pin",
    )
    .expect_code(0, "pin");
    // The lock's copy of the policy decodes and hashes to the pin.
    env.bdctl(&["policy", "pin", "--show"])
        .expect_code(0, "pin --show");
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_stdout("0\n", "pinned");
    let acc = env.audit_events("accept");
    assert!(acc[0].get("drift").is_none(), "{}", acc[0]);
    env.dropin("50-tune.toml", "[incident]\ndecoy_floor = 9\n");
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_stdout("0\n", "drifted");
    let acc = env.audit_events("accept");
    let d = acc[1]["drift"].as_str().unwrap_or_default();
    assert!(d.starts_with("drift decoy"), "{d}");
}

/// The novelty head (docs/incident-response.md): with auto_freeze on, a
/// burst of first-time commands carries the caller's hydra score over
/// `freeze_score` and freezes the host on the call that crosses it (that
/// call is refused); repeating a known command never counts; break-glass
/// still runs.
#[test]
fn novel_command_burst_freezes_but_repeats_do_not() {
    let Some(env) = TestEnv::new("incident::novel_command_burst_freezes_but_repeats_do_not") else {
        return;
    };
    env.policy(
        r#"version = 1
[incident]
auto_freeze = true
freeze_score = 0.1

[[rule]]
name = "glass"
users = ["alice"]
commands = ["/usr/bin/whoami"]
auth = "none"
break_glass = true

[[rule]]
name = "any"
users = ["alice"]
commands = ["ALL"]
run_as = ["root"]
auth = "none"
"#,
    );
    let frozen = || is_frozen(&env);
    // One novel command, repeated: counted once (score 1 - e^-0.02).
    for _ in 0..20 {
        env.run_as_user("alice", &["/usr/bin/id", "-u"])
            .expect_stdout("0\n", "a known command runs");
    }
    // Four more first-time commands: five in all, exponent 0.10, under
    // freeze_score 0.1 (exponent 0.105).
    for cmd in [
        "/usr/bin/true",
        "/usr/bin/nproc",
        "/usr/bin/uname",
        "/usr/bin/pwd",
    ] {
        env.run_as_user("alice", &[cmd]).expect_code(0, cmd);
    }
    assert!(!frozen(), "five first-time commands stay under the score");
    // Known commands again: still nothing counted.
    env.run_as_user("alice", &["/usr/bin/true"])
        .expect_code(0, "known");
    assert!(!frozen());
    // The sixth first-time command crosses the score: frozen, and this
    // very call is refused.
    let o = env.run_as_user("alice", &["/usr/bin/hostname"]);
    o.expect_refusal(1, "/usr/bin/hostname");
    assert!(frozen(), "the crossing call froze the host");
    let f = env.audit_events("freeze");
    assert_eq!(f.len(), 1, "one freeze record");
    assert!(
        f[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("cause=hydra"),
        "{}",
        f[0]
    );
    // Frozen: everything but break-glass is refused.
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_refusal(1, "/usr/bin/id");
    env.run_as_user("alice", &["/usr/bin/whoami"])
        .expect_stdout("root\n", "break-glass runs while frozen");
    env.bdctl(&["audit", "verify"]).expect_code(0, "verify");
}
