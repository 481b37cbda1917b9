//! `auth = "approval"` end to end: approver keys from `bdctl key gen`,
//! tokens from `bdctl token sign`, a 2-of-2 rule, single use through the
//! nonce set, and every bad token refused with a record.

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

fn setup(name: &str) -> Option<Setup> {
    let env = TestEnv::new(&format!("approval::{name}"))?;
    let keys = env.scratch().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let k = keys.display().to_string();
    let p1 = pubkey(&env.bdctl(&["key", "gen", "--approver", "sec1", "--out", &k]));
    let p2 = pubkey(&env.bdctl(&["key", "gen", "--approver", "sec2", "--out", &k]));
    let p3 = pubkey(&env.bdctl(&["key", "gen", "--approver", "sec3", "--out", &k]));
    env.policy(&format!(
        r#"version = 1
[approvers.sec1]
key = "{p1}"
epoch = 0
[approvers.sec2]
key = "{p2}"
epoch = 0
[approvers.sec3]
key = "{p3}"
epoch = 0

[[rule]]
name = "two-man"
users = ["alice"]
commands = ["/usr/bin/id -u"]
auth = "approval"
approvals = 2
approvers = ["sec1", "sec2"]
"#
    ));
    Some(Setup { env, keys })
}

impl Setup {
    /// Sign a token with `approver`'s key (file name `key_of`) and write it
    /// to a file alice can read; returns the path.
    fn token(&self, file: &str, key_of: &str, approver: &str, extra: &[&str]) -> String {
        let key = self
            .keys
            .join(format!("{key_of}.key"))
            .display()
            .to_string();
        let mut args = vec![
            "token",
            "sign",
            "--key",
            &key,
            "--approver",
            approver,
            "--user",
            "alice",
        ];
        args.extend_from_slice(extra);
        if !extra.contains(&"--argv") {
            args.extend_from_slice(&["--argv", "/usr/bin/id", "-u"]);
        }
        let o = self.env.bdctl(&args);
        o.expect_code(0, "token sign");
        let path = self.env.scratch().join(file);
        write_mode(&path, o.stdout.as_slice(), 0o644);
        path.display().to_string()
    }

    fn run(&self, tokens: &[&str]) -> Out {
        let mut args: Vec<&str> = Vec::new();
        for t in tokens {
            args.push("--token");
            args.push(t);
        }
        args.extend_from_slice(&["--", "/usr/bin/id", "-u"]);
        self.env.run_as_user("alice", &args)
    }
}

#[test]
fn two_approvers_then_single_use() {
    let Some(s) = setup("two_approvers_then_single_use") else {
        return;
    };
    let t1 = s.token("t1", "sec1", "sec1", &[]);
    let t2 = s.token("t2", "sec2", "sec2", &[]);
    s.run(&[&t1]).expect_refusal(1, "one approval of two");
    s.run(&[&t1, &t2])
        .expect_stdout("0\n", "two distinct approvers");
    let acc = s.env.audit_events("accept");
    let reason = acc.last().unwrap()["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.contains("sec1") && reason.contains("sec2"),
        "{reason}"
    );
    // Replay of the same pair: refused.
    let o = s.run(&[&t1, &t2]);
    o.expect_refusal(1, "replayed tokens");
    // Fresh tokens work again.
    let t3 = s.token("t3", "sec1", "sec1", &[]);
    let t4 = s.token("t4", "sec2", "sec2", &[]);
    s.run(&[&t3, &t4]).expect_stdout("0\n", "fresh pair");
    s.env.assert_verify_ok("after approvals");
}

/// Issue 8 item 11: a fresh token with a replayed one is refused, and the
/// fresh one is not consumed (all or none); the refusal names no approver
/// (docs/approval-tokens.md, Errors).
#[test]
fn replay_in_a_set_consumes_nothing_and_names_no_approver() {
    let Some(s) = setup("replay_in_a_set_consumes_nothing_and_names_no_approver") else {
        return;
    };
    let t1 = s.token("t1", "sec1", "sec1", &[]);
    let t2 = s.token("t2", "sec2", "sec2", &[]);
    s.run(&[&t1, &t2]).expect_stdout("0\n", "first use");
    // sec1's fresh token is checked first; sec2's is the replay.
    let fresh = s.token("fresh", "sec1", "sec1", &[]);
    let o = s.run(&[&fresh, &t2]);
    o.expect_refusal(1, "second token replayed");
    let err = o.stderr_str();
    assert!(err.contains("replay refused"), "{o}");
    assert!(
        !err.contains("sec1") && !err.contains("sec2"),
        "a refusal names no approver\n{o}"
    );
    let rej = s.env.audit_events("reject");
    let reason = rej.last().unwrap()["reason"].as_str().unwrap_or_default();
    assert!(!reason.contains("sec2"), "{reason}");
    // The fresh token is still usable with a fresh second approval.
    let t3 = s.token("t3", "sec2", "sec2", &[]);
    s.run(&[&fresh, &t3])
        .expect_stdout("0\n", "the first token was not consumed");
    s.env.assert_verify_ok("after the partial replay");
}

#[test]
fn bad_tokens_are_refused_with_a_record() {
    let Some(s) = setup("bad_tokens_are_refused_with_a_record") else {
        return;
    };
    let good2 = || s.token("g2", "sec2", "sec2", &[]);
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong argv",
            s.token("a", "sec1", "sec1", &["--argv", "/usr/bin/id", "-g"]),
        ),
        ("wrong user", {
            let key = s.keys.join("sec1.key").display().to_string();
            let o = s.env.bdctl(&[
                "token",
                "sign",
                "--key",
                &key,
                "--approver",
                "sec1",
                "--user",
                "bob",
                "--argv",
                "/usr/bin/id",
                "-u",
            ]);
            let p = s.env.scratch().join("b");
            write_mode(&p, &o.stdout, 0o644);
            p.display().to_string()
        }),
        (
            "wrong host",
            s.token(
                "c",
                "sec1",
                "sec1",
                &[
                    "--host",
                    "elsewhere",
                    "--machine-id",
                    "0123456789abcdef0123456789abcdef",
                ],
            ),
        ),
        (
            "wrong target",
            s.token("d", "sec1", "sec1", &["--run-as", "bob"]),
        ),
        ("unknown key", {
            let k = s.keys.display().to_string();
            s.env
                .bdctl(&["key", "gen", "--approver", "stranger", "--out", &k])
                .expect_code(0, "gen stranger");
            s.token("e", "stranger", "stranger", &[])
        }),
        (
            "approver not allowed by the rule",
            s.token("f", "sec3", "sec3", &[]),
        ),
        ("tampered signature", {
            let p = s.token("g", "sec1", "sec1", &[]);
            let t = std::fs::read_to_string(&p).unwrap();
            let mut t: Vec<char> = t.trim().chars().collect();
            let last = t.len() - 2;
            t[last] = if t[last] == 'A' { 'B' } else { 'A' };
            let t: String = t.into_iter().collect();
            write_mode(std::path::Path::new(&p), format!("{t}\n").as_bytes(), 0o644);
            p
        }),
        ("malformed", {
            let p = s.env.scratch().join("h");
            write_mode(&p, b"not.a.token!!\n", 0o644);
            p.display().to_string()
        }),
    ];
    for (what, t) in &cases {
        let g = good2();
        let o = s.run(&[t, &g]);
        o.expect_refusal(1, what);
    }
    // The same approver twice does not make two approvals.
    let a = s.token("i", "sec1", "sec1", &[]);
    let b = s.token("j", "sec1", "sec1", &[]);
    s.run(&[&a, &b]).expect_refusal(1, "duplicate approver");
    // Token files: a symlink, a FIFO, a huge file.
    let good1 = s.token("k", "sec1", "sec1", &[]);
    let link = s.env.scratch().join("link");
    std::os::unix::fs::symlink(&good1, &link).unwrap();
    let fifo = s.env.scratch().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let huge = s.env.scratch().join("huge");
    write_mode(&huge, &vec![b'A'; 1 << 20], 0o644);
    for (what, p) in [("symlink", &link), ("fifo", &fifo), ("huge", &huge)] {
        let g = good2();
        s.run(&[&p.display().to_string(), &g])
            .expect_refusal(1, what);
    }
    assert!(s.env.audit_events("accept").is_empty(), "nothing ran");
    assert!(s.env.audit_events("reject").len() >= cases.len() + 4);
    s.env.assert_verify_ok("after bad tokens");
}

/// Two callers presenting the same tokens at once: exactly one runs.
#[test]
fn concurrent_replay_exactly_one_wins() {
    let Some(s) = setup("concurrent_replay_exactly_one_wins") else {
        return;
    };
    let t1 = s.token("t1", "sec1", "sec1", &[]);
    let t2 = s.token("t2", "sec2", "sec2", &[]);
    let args = ["--token", &t1, "--token", &t2, "--", "/usr/bin/id", "-u"];
    let a = s.env.bdexec("alice").args(args).spawn();
    let b = s.env.bdexec("alice").args(args).spawn();
    let (oa, ob) = (a.wait(), b.wait());
    let wins = [&oa, &ob].iter().filter(|o| o.code() == Some(0)).count();
    assert_eq!(wins, 1, "exactly one wins\n{oa}\n{ob}");
}

/// PAM's account stage holds for approval rules too: with a stack whose
/// account stage is pam_deny, valid tokens are refused and not used up.
#[test]
fn pam_account_stage_refuses_before_the_tokens() {
    let Some(s) = setup("pam_account_stage_refuses_before_the_tokens") else {
        return;
    };
    let pamd = s.env.etc("pam.d");
    std::fs::create_dir_all(&pamd).unwrap();
    let deny = pamd.join("belladonna");
    write_mode(
        &deny,
        b"auth required pam_unix.so\naccount required pam_deny.so\n",
        0o644,
    );
    let t1 = s.token("t1", "sec1", "sec1", &[]);
    let t2 = s.token("t2", "sec2", "sec2", &[]);
    let o = s.run(&[&t1, &t2]);
    o.expect_refusal(1, "account stage pam_deny");
    assert!(o.stderr_str().contains("PAM account stage"), "{o}");
    assert!(s.env.audit_events("accept").is_empty());
    std::fs::remove_file(&deny).unwrap();
    s.run(&[&t1, &t2])
        .expect_stdout("0\n", "the same tokens, account stage passing");
}
