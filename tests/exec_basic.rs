//! The core flow: decide, record, switch identity, exec (DESIGN 4, 5, 5a).
//! Run as real users through the file-capability copy of bdexec.

#[macro_use]
mod common;
use common::*;
use serde_json::Value;

/// The issue's "Done when": alice gets root, mallory is refused with a
/// reject record, the log verifies, and one changed byte is found by line.
#[test]
fn done_when_flow() {
    let env = std_env!("done_when_flow");

    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "alice runs id -u as root");
    let recs = env.audit_lines();
    assert_eq!(
        recs.len(),
        1,
        "one accept record after one allowed call: {recs:#?}"
    );
    assert_eq!(recs[0]["event"], "accept", "{:#}", recs[0]);
    assert_eq!(recs[0]["submituser"], "alice", "{:#}", recs[0]);

    let m = env.run_as_user("mallory", &["--", "/usr/bin/id", "-u"]);
    m.expect_refusal(1, "mallory has no rule");
    let recs = env.audit_lines();
    assert_eq!(recs.len(), 2, "the refusal appends a record: {recs:#?}");
    let rej = &recs[1];
    assert_eq!(rej["event"], "reject", "{rej:#}");
    assert_eq!(rej["submituser"], "mallory", "{rej:#}");
    assert_eq!(num(&rej["submituid"]), Some(MALLORY.uid as u64), "{rej:#}");
    assert!(
        !m.stderr_str().contains("alice-basic"),
        "a refusal must not reveal other users' rules\n{m}"
    );

    env.assert_verify_ok("after one accept and one reject");

    // Change one byte of line 2 (mallory -> mallorz): verify must fail and
    // name line 2 and that record's seq.
    let seq2 = num(&rej["seq"]).expect("seq is a number");
    let mut log = env.audit_bytes();
    let l1_end = log.iter().position(|b| *b == b'\n').unwrap();
    let pos = l1_end
        + 1
        + log[l1_end + 1..]
            .windows(7)
            .position(|w| w == b"mallory")
            .expect("line 2 names mallory");
    log[pos + 6] = b'z';
    std::fs::write(env.audit_path(), &log).unwrap();
    let v = env.verify();
    assert_eq!(
        v.code(),
        Some(1),
        "verify must fail after a changed byte\n{v}"
    );
    let text = v.all_output();
    assert!(
        mentions_number(&text, "line", 2),
        "verify must name line 2\n{v}"
    );
    assert!(
        mentions_number(&text, "seq", seq2),
        "verify must name seq {seq2}\n{v}"
    );
}

/// A changed byte in the first line is reported as line 1.
#[test]
fn verify_names_first_line() {
    let env = std_env!("verify_names_first_line");
    for _ in 0..3 {
        env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
            .expect_stdout("0\n", "alice");
    }
    env.assert_verify_ok("three accepts");
    let mut log = env.audit_bytes();
    let pos = log.windows(5).position(|w| w == b"alice").unwrap();
    log[pos] = b'A';
    std::fs::write(env.audit_path(), &log).unwrap();
    let v = env.verify();
    assert_eq!(v.code(), Some(1), "{v}");
    assert!(
        mentions_number(&v.all_output(), "line", 1),
        "must name line 1\n{v}"
    );
}

/// Deleting or swapping whole lines breaks the chain too.
#[test]
fn verify_detects_removed_and_reordered_lines() {
    let env = std_env!("verify_detects_removed_and_reordered_lines");
    for _ in 0..4 {
        env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
            .expect_stdout("0\n", "alice");
    }
    let orig = env.audit_bytes();
    let lines = raw_lines(&orig);
    assert_eq!(lines.len(), 4);

    let mut removed = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if i != 1 {
            removed.extend_from_slice(l);
            removed.push(b'\n');
        }
    }
    std::fs::write(env.audit_path(), &removed).unwrap();
    let v = env.verify();
    assert_eq!(v.code(), Some(1), "line 2 removed\n{v}");
    assert!(
        mentions_number(&v.all_output(), "line", 2),
        "the gap shows at line 2\n{v}"
    );

    let mut swapped = Vec::new();
    for i in [0, 2, 1, 3] {
        swapped.extend_from_slice(lines[i]);
        swapped.push(b'\n');
    }
    std::fs::write(env.audit_path(), &swapped).unwrap();
    let v = env.verify();
    assert_eq!(v.code(), Some(1), "lines 2 and 3 swapped\n{v}");
    assert!(
        mentions_number(&v.all_output(), "line", 2),
        "the swap shows at line 2\n{v}"
    );
}

/// Accept and reject records carry the fixed fields in the fixed order,
/// with the caller's identity from the kernel.
#[test]
fn audit_record_fields_and_order() {
    let env = std_env!("audit_record_fields_and_order");
    env.bdexec("alice")
        .args(["--", "/usr/bin/id", "-u"])
        .cwd("/usr")
        .env("USER", "root")
        .env("LOGNAME", "root")
        .run()
        .expect_stdout("0\n", "alice");
    env.run_as_user("alice", &["--", "/usr/bin/id", "-G"])
        .expect_refusal(1, "id -G is not allowed");

    let log = env.audit_bytes();
    let lines = raw_lines(&log);
    assert_eq!(lines.len(), 2, "{}", String::from_utf8_lossy(&log));
    for l in &lines {
        let keys = key_order(l);
        let mut last = None;
        for f in RECORD_FIELDS {
            let i = keys
                .iter()
                .position(|k| k == f)
                .unwrap_or_else(|| panic!("field {f} missing in {}", String::from_utf8_lossy(l)));
            if let Some(prev) = last {
                assert!(
                    i > prev,
                    "field {f} out of order in {}",
                    String::from_utf8_lossy(l)
                );
            }
            last = Some(i);
        }
    }
    let recs = env.audit_lines();
    let a = &recs[0];
    assert_eq!(a["event"], "accept", "{a:#}");
    assert_eq!(
        a["submituser"], "alice",
        "the caller comes from the kernel, not $USER: {a:#}"
    );
    assert_eq!(num(&a["submituid"]), Some(ALICE.uid as u64), "{a:#}");
    assert_eq!(num(&a["submitgid"]), Some(ALICE.gid as u64), "{a:#}");
    assert_eq!(a["submitcwd"], "/usr", "{a:#}");
    assert_eq!(a["runuser"], "root", "{a:#}");
    assert_eq!(num(&a["runuid"]), Some(0), "{a:#}");
    assert_eq!(num(&a["rungid"]), Some(0), "{a:#}");
    assert_eq!(a["command"], "/usr/bin/id", "{a:#}");
    let argv: Vec<&str> = a["runargv"]
        .as_array()
        .expect("runargv is an array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(argv.last(), Some(&"-u"), "{a:#}");
    assert_eq!(a["rule"], "alice-basic", "{a:#}");
    assert!(
        a["policy_hash"].as_str().is_some_and(|s| !s.is_empty()),
        "{a:#}"
    );
    assert!(a["h"].as_str().is_some_and(|s| !s.is_empty()), "{a:#}");
    assert_eq!(num(&a["pid"]).map(|p| p > 1), Some(true), "{a:#}");
    let r = &recs[1];
    assert_eq!(r["event"], "reject", "{r:#}");
    assert!(
        r["reason"].as_str().is_some_and(|s| !s.is_empty()),
        "a reject says why: {r:#}"
    );
    assert_eq!(r["prev"], a["h"], "the chain links record 2 to record 1");
    assert_eq!(
        num(&r["seq"]),
        num(&a["seq"]).map(|s| s + 1),
        "seq increases by one"
    );
    assert_ne!(a["uuid"], r["uuid"], "every record has its own uuid");
}

/// `-u bob` runs as bob, with no capabilities at all; `-u '#61002'` too.
#[test]
fn run_as_bob_has_no_capabilities() {
    let env = std_env!("run_as_bob_has_no_capabilities");
    env.run_as_user("alice", &["-u", "bob", "--", "/usr/bin/id", "-u"])
        .expect_stdout(&format!("{}\n", BOB.uid), "-u bob");
    env.run_as_user("alice", &["-u", "#61002", "--", "/usr/bin/id", "-u"])
        .expect_stdout(&format!("{}\n", BOB.uid), "-u #61002");
    env.run_as_user("alice", &["-u", "bob", "--", "/usr/bin/id", "-un"])
        .expect_stdout("bob\n", "-u bob name");
    let o = env.run_as_user(
        "alice",
        &["-u", "bob", "--", "/usr/bin/cat", "/proc/self/status"],
    );
    o.expect_code(0, "cat status as bob");
    let s = o.stdout_str();
    for key in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(
            status_field(&s, key),
            Some("0000000000000000"),
            "{key} must be 0 for bob\n{o}"
        );
    }
    let uids = status_field(&s, "Uid")
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>();
    assert!(
        uids.iter().all(|u| *u == "61002"),
        "real, effective, saved, fs uid are bob's: {uids:?}\n{o}"
    );
    let gids = status_field(&s, "Gid")
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>();
    assert!(
        gids.iter().all(|g| *g == "61002"),
        "all gids are bob's: {gids:?}\n{o}"
    );
    assert_eq!(
        status_field(&s, "Groups"),
        Some("61002"),
        "bob's groups only\n{o}"
    );
    let recs = env.audit_events("accept");
    assert_eq!(
        recs.last().unwrap()["runuser"],
        "bob",
        "{:#}",
        recs.last().unwrap()
    );
    assert_eq!(num(&recs.last().unwrap()["runuid"]), Some(BOB.uid as u64));
}

/// A root target gets full root: uid 0 everywhere and every capability
/// of the bounding set effective.
#[test]
fn root_target_is_full_root() {
    let env = std_env!("root_target_is_full_root");
    let o = env.run_as_user("alice", &["--", "/usr/bin/cat", "/proc/self/status"]);
    o.expect_code(0, "cat status as root");
    let s = o.stdout_str();
    let bnd = status_field(&s, "CapBnd").unwrap();
    assert_ne!(bnd, "0000000000000000", "{o}");
    assert_eq!(
        status_field(&s, "CapEff"),
        Some(bnd),
        "effective = bounding set\n{o}"
    );
    assert_eq!(
        status_field(&s, "CapPrm"),
        Some(bnd),
        "permitted = bounding set\n{o}"
    );
    let uids = status_field(&s, "Uid")
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>();
    assert_eq!(uids, ["0", "0", "0", "0"], "{o}");
    let gids = status_field(&s, "Gid")
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>();
    assert_eq!(gids, ["0", "0", "0", "0"], "{o}");
    assert!(
        !status_field(&s, "Groups")
            .unwrap_or("")
            .split_whitespace()
            .any(|g| g == "61001"),
        "alice's groups are gone\n{o}"
    );
    // The marker is created by root (the command really ran as root).
    env.run_as_user("alice", &["--", "/usr/bin/touch", "/var/lib/marker"])
        .expect_code(0, "touch");
    let md = std::fs::metadata(env.var_lib().join("marker")).expect("marker exists");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (md.uid(), md.gid()),
        (0, 0),
        "file created by the command is root's"
    );
}

/// `-u` limited to `run_as`; -u root/#0 allowed as listed.
#[test]
fn target_must_be_in_run_as() {
    let env = std_env!("target_must_be_in_run_as");
    env.run_as_user("alice", &["-u", "carol", "--", "/usr/bin/id", "-u"])
        .expect_refusal(1, "-u carol not in run_as");
    env.run_as_user("alice", &["-u", "root", "--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "-u root");
    env.run_as_user("alice", &["-u", "#0", "--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "-u #0");
    env.run_as_user("alice", &["-u", "nosuchuser", "--", "/usr/bin/id", "-u"])
        .expect_refusal(1, "unknown target");
    // bob's rule has the default run_as = ["root"].
    env.run_as_user("bob", &["-u", "alice", "--", "/usr/bin/id", "-u"])
        .expect_refusal(1, "bob may not -u alice");
    let rej = env.audit_events("reject");
    assert_eq!(rej.len(), 3, "each refused target is recorded: {rej:#?}");
    assert_eq!(rej[0]["submituser"], "alice");
    env.assert_verify_ok("after target refusals");
}

/// users = ["#uid"] and groups = ["ops"] (supplementary group) match.
#[test]
fn users_by_uid_and_groups_match() {
    let env = std_env!("users_by_uid_and_groups_match");
    env.run_as_user("bob", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "bob via #61002");
    env.run_as_user("bob", &["--", "/usr/bin/id", "-g"])
        .expect_refusal(1, "bob is not in ops");
    env.run_as_user("carol", &["--", "/usr/bin/id", "-g"])
        .expect_stdout("0\n", "carol via group ops");
    env.run_as_user("carol", &["--", "/usr/bin/id", "-u"])
        .expect_refusal(1, "carol has no id -u rule");
    let a = env.audit_events("accept");
    assert_eq!(a.len(), 2);
    assert_eq!(a[0]["rule"], "bob-by-uid");
    assert_eq!(a[1]["rule"], "ops-group");
}

/// A group given as "#gid" matches too.
#[test]
fn groups_by_gid_match() {
    let env = test_env!("groups_by_gid_match");
    env.policy(
        r##"version = 1
[[rule]]
name = "ops-by-gid"
groups = ["#61100"]
commands = ["/usr/bin/id -u"]
auth = "none"
"##,
    );
    env.run_as_user("carol", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "carol via #61100");
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_refusal(1, "alice is not in #61100");
}

/// No rule matching = denied, with a reject record.
#[test]
fn no_rule_is_denied() {
    let env = std_env!("no_rule_is_denied");
    env.run_as_user("alice", &["--", "/usr/bin/cat", "/etc/shadow"])
        .expect_refusal(1, "cat /etc/shadow");
    let r = env.audit_events("reject");
    assert!(!r.is_empty(), "a reject record for the refused cat");
    assert_eq!(r[0]["submituser"], "alice");
    assert_eq!(r[0]["command"], "/usr/bin/cat", "{:#}", r[0]);
}

/// Exact arguments, trailing `*`, bare path = no arguments.
#[test]
fn argument_matching() {
    let env = std_env!("argument_matching");
    // exact
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "exact id -u");
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u", "-n"])
        .expect_refusal(1, "extra argument");
    env.run_as_user("alice", &["--", "/usr/bin/id"])
        .expect_refusal(1, "missing argument");
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u "])
        .expect_refusal(1, "argument with a trailing space");
    env.run_as_user("alice", &["--", "/usr/bin/id", "-U"])
        .expect_refusal(1, "case differs");
    // trailing *
    env.run_as_user("alice", &["--", "/usr/bin/echo", "a", "b c", "*"])
        .expect_stdout("a b c *\n", "echo *");
    env.run_as_user("alice", &["--", "/usr/bin/echo", "-n", "x"])
        .expect_stdout("x", "echo -n x");
    // bare path = no arguments at all
    env.run_as_user("alice", &["--", "/usr/bin/whoami"])
        .expect_stdout("root\n", "bare whoami");
    env.run_as_user("alice", &["--", "/usr/bin/whoami", "--version"])
        .expect_refusal(1, "bare path takes no args");
    env.run_as_user("alice", &["--", "/usr/bin/whoami", ""])
        .expect_refusal(1, "an empty argument is an argument");
    // quoted argument holding spaces; the command's own exit status
    let o = env.run_as_user("alice", &["--", "/bin/sh", "-c", "exit 42"]);
    o.expect_code(42, "the command's own exit status comes back");
    assert!(o.stderr.is_empty(), "{o}");
    env.run_as_user("alice", &["--", "/bin/sh", "-c", "exit", "42"])
        .expect_refusal(1, "split differently");
    env.assert_verify_ok("after the matching tests");
}

/// Commands are compared by file identity: on a merged-/usr system
/// /bin/id and /usr/bin/id are one file (DESIGN 5).
#[test]
fn same_file_by_another_path_matches() {
    let env = std_env!("same_file_by_another_path_matches");
    let same = std::fs::canonicalize("/bin/id").ok() == std::fs::canonicalize("/usr/bin/id").ok();
    let o = env.run_as_user("alice", &["--", "/bin/id", "-u"]);
    if same {
        o.expect_stdout("0\n", "/bin/id is /usr/bin/id here");
    } else {
        o.expect_refusal(1, "/bin/id is another file here");
    }
}

/// A bare command name is resolved through secure_path, never the
/// caller's PATH; a relative path is refused.
#[test]
fn bare_name_uses_secure_path() {
    let env = std_env!("bare_name_uses_secure_path");
    let evil = env.scratch().join("evil");
    std::fs::create_dir(&evil).unwrap();
    write_mode(&evil.join("id"), b"#!/bin/sh\necho EVIL\n", 0o755);
    let o = env
        .bdexec("alice")
        .args(["--", "id", "-u"])
        .env("PATH", format!("{}:/usr/bin", evil.display()))
        .run();
    o.expect_stdout(
        "0\n",
        "bare `id` resolves to /usr/bin/id through secure_path",
    );
    let a = env.audit_events("accept");
    assert_eq!(
        a.last().unwrap()["command"],
        "/usr/bin/id",
        "the record names the resolved path"
    );
    let o = env
        .bdexec("alice")
        .args(["--", "./id", "-u"])
        .cwd(&evil)
        .run();
    o.expect_refusal(1, "relative path");
    assert!(!o.stdout_str().contains("EVIL"));
}

/// Nonexistent commands are refused (exit 1) with a record.
#[test]
fn command_not_found() {
    let env = std_env!("command_not_found");
    env.run_as_user("alice", &["--", "/usr/bin/definitely-not-here"])
        .expect_refusal(1, "absolute, missing");
    env.run_as_user("alice", &["--", "definitely-not-here"])
        .expect_refusal(1, "bare name, missing");
    env.run_as_user("alice", &["--", "/usr/bin"])
        .expect_refusal(1, "a directory");
    assert!(
        env.audit_events("reject").len() >= 2,
        "refusals are recorded"
    );
    env.assert_verify_ok("after not-found refusals");
}

/// Deny beats allow, wherever the deny rule is (before, after, drop-in).
#[test]
fn deny_beats_allow() {
    let env = test_env!("deny_beats_allow");
    let allow = r##"
[[rule]]
name = "alice-id"
users = ["alice"]
commands = ["/usr/bin/id *", "/usr/bin/whoami"]
auth = "none"
"##;
    let deny = r##"
[[rule]]
name = "no-id-g"
users = ["alice"]
commands = ["/usr/bin/id -g"]
action = "deny"
"##;
    for (i, policy) in [
        format!("version = 1\n{allow}{deny}"),
        format!("version = 1\n{deny}{allow}"),
    ]
    .iter()
    .enumerate()
    {
        env.policy(policy);
        env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
            .expect_stdout("0\n", &format!("order {i}: id -u allowed"));
        let o = env.run_as_user("alice", &["--", "/usr/bin/id", "-g"]);
        o.expect_refusal(1, &format!("order {i}: deny wins"));
        let r = env.audit_events("reject");
        assert_eq!(
            r.last().unwrap()["rule"],
            "no-id-g",
            "the reject names the deny rule: {:#}",
            r.last().unwrap()
        );
    }
    // deny in a drop-in beats an allow in the main file
    env.policy(&format!("version = 1\n{allow}"));
    env.dropin(
        "50-deny.toml",
        r##"version = 1
[[rule]]
name = "no-whoami"
groups = ["#61001"]
commands = ["/usr/bin/whoami"]
action = "deny"
"##,
    );
    env.run_as_user("alice", &["--", "/usr/bin/whoami"])
        .expect_refusal(1, "drop-in deny wins");
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "other commands still allowed");
    env.assert_verify_ok("after deny tests");
}

/// Rules in policy.d/ are loaded.
#[test]
fn dropins_are_loaded() {
    let env = test_env!("dropins_are_loaded");
    env.policy("version = 1\n");
    env.run_as_user("bob", &["--", "/usr/bin/id", "-un"])
        .expect_refusal(1, "nothing yet");
    env.dropin(
        "10-bob.toml",
        r##"version = 1
[[rule]]
name = "bob-from-dropin"
users = ["bob"]
commands = ["/usr/bin/id -un"]
auth = "none"
"##,
    );
    env.run_as_user("bob", &["--", "/usr/bin/id", "-un"])
        .expect_stdout("root\n", "rule from the drop-in");
    assert_eq!(
        env.audit_events("accept").last().unwrap()["rule"],
        "bob-from-dropin"
    );
}

/// `auth = "password"` with `-n` (no prompt) and `"approval"` without
/// tokens are refused, clearly, with a record; a rule without `auth`
/// defaults to password.
#[test]
fn unavailable_auth_methods_refuse() {
    let env = test_env!("unavailable_auth_methods_refuse");
    env.policy(
        r##"version = 1
[[rule]]
name = "pw"
users = ["alice"]
commands = ["/usr/bin/id -u"]
auth = "password"

[[rule]]
name = "appr"
users = ["bob"]
commands = ["/usr/bin/id -u"]
auth = "approval"

[[rule]]
name = "default-auth"
users = ["carol"]
commands = ["/usr/bin/id -u"]
"##,
    );
    for u in ["alice", "bob", "carol"] {
        env.run_as_user(u, &["-n", "--", "/usr/bin/id", "-u"])
            .expect_refusal(1, &format!("{u}: auth not available"));
    }
    let r = env.audit_events("reject");
    assert_eq!(r.len(), 3, "{r:#?}");
    assert!(env.audit_events("accept").is_empty());
}

/// The `--` is optional; options after the command belong to the command.
#[test]
fn double_dash_is_optional() {
    let env = std_env!("double_dash_is_optional");
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_stdout("0\n", "no --: -u goes to id");
    env.run_as_user("alice", &["-n", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "-n then the command");
    env.run_as_user("alice", &["-u", "bob", "/usr/bin/id", "-u"])
        .expect_stdout(&format!("{}\n", BOB.uid), "-u bob then the command");
}

/// `-l` lists what the caller may run, and nothing of other users' rules.
#[test]
fn list_shows_callers_rules_only() {
    let env = std_env!("list_shows_callers_rules_only");
    let o = env.run_as_user("alice", &["-l"]);
    o.expect_code(0, "alice -l");
    let s = o.stdout_str();
    for c in ["/usr/bin/id -u", "/usr/bin/whoami", "/usr/bin/echo"] {
        assert!(s.contains(c), "-l shows {c}\n{o}");
    }
    assert!(
        !s.contains("ops-group") && !s.contains("/usr/bin/id -g"),
        "alice is not in ops\n{o}"
    );
    let o = env.run_as_user("carol", &["-l"]);
    assert!(
        o.stdout_str().contains("/usr/bin/id -g"),
        "carol sees the ops rule\n{o}"
    );
    assert!(
        !o.stdout_str().contains("/usr/bin/whoami"),
        "carol doesn't see alice's rule\n{o}"
    );
    let o = env.run_as_user("mallory", &["-l"]);
    assert!(
        !o.stdout_str().contains("/usr/bin/") && !o.stderr_str().contains("/usr/bin/"),
        "mallory sees no command\n{o}"
    );
    // -l never runs anything
    assert!(env.audit_events("accept").is_empty(), "-l runs nothing");
}

/// The command runs in the caller's working directory; stdin is passed.
#[test]
fn cwd_and_stdin_are_the_callers() {
    let env = test_env!("cwd_and_stdin_are_the_callers");
    env.policy(
        r##"version = 1
[[rule]]
name = "alice"
users = ["alice"]
commands = ["/usr/bin/pwd", "/usr/bin/cat"]
auth = "none"
"##,
    );
    env.bdexec("alice")
        .args(["--", "/usr/bin/pwd"])
        .cwd("/usr/share")
        .run()
        .expect_stdout("/usr/share\n", "cwd");
    env.bdexec("alice")
        .args(["--", "/usr/bin/cat"])
        .stdin(b"hello through stdin\n")
        .run()
        .expect_stdout("hello through stdin\n", "stdin");
}

/// The command's umask is the caller's OR the policy's umask.
#[test]
fn umask_is_callers_or_policy() {
    let env = test_env!("umask_is_callers_or_policy");
    env.policy(
        r##"version = 1
[defaults]
umask = "0022"
[[rule]]
name = "alice"
users = ["alice"]
commands = ["/bin/sh -c umask"]
auth = "none"
"##,
    );
    env.bdexec("alice")
        .args(["--", "/bin/sh", "-c", "umask"])
        .umask(0o002)
        .run()
        .expect_stdout("0022\n", "002|022");
    env.bdexec("alice")
        .args(["--", "/bin/sh", "-c", "umask"])
        .umask(0o077)
        .run()
        .expect_stdout("0077\n", "077|022");
    env.bdexec("alice")
        .args(["--", "/bin/sh", "-c", "umask"])
        .umask(0o000)
        .run()
        .expect_stdout("0022\n", "000|022");
}

/// File descriptors other than 0-2 are closed before exec.
#[test]
fn other_fds_are_closed() {
    let env = test_env!("other_fds_are_closed");
    env.policy(
        r##"version = 1
[[rule]]
name = "alice"
users = ["alice"]
commands = ["/usr/bin/ls /proc/self/fd"]
auth = "none"
"##,
    );
    let o = env.sh_in_ns(
        "alice",
        "exec 5</etc/hostname 7>/dev/null 9</dev/null; \"$BDEXEC\" -- /usr/bin/ls /proc/self/fd",
    );
    o.expect_code(0, "ls fds");
    let fds: Vec<u32> = o
        .stdout_str()
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // 0, 1, 2 and ls's own directory fd (3).
    assert_eq!(
        fds,
        [0, 1, 2, 3],
        "only 0-2 (and ls's own dir fd) are open\n{o}"
    );
}

/// A `#!` script runs (the execveat-of-a-cloexec-fd trap, DESIGN 4).
#[test]
fn shebang_script_runs() {
    let env = test_env!("shebang_script_runs");
    let script = env.etc_executable(
        "bdtest/hello.sh",
        b"#!/bin/sh\necho \"script ran as $(id -u) with $# args: $*\"\n",
    );
    env.policy(&format!(
        r##"version = 1
[[rule]]
name = "script"
users = ["alice"]
commands = ["{script} *"]
auth = "none"
"##
    ));
    env.run_as_user("alice", &["--", &script, "a", "b"])
        .expect_stdout("script ran as 0 with 2 args: a b\n", "script");
}

/// Exec failing after the decision is exit 126 with one line; the accept
/// was recorded.
#[test]
fn exec_failure_is_126() {
    let env = test_env!("exec_failure_is_126");
    let bad = env.etc_executable("bdtest/not-an-executable", b"this is not a program\n");
    env.policy(&format!(
        r##"version = 1
[[rule]]
name = "bad"
users = ["alice"]
commands = ["{bad}"]
auth = "none"
"##
    ));
    env.run_as_user("alice", &["--", &bad])
        .expect_refusal(126, "exec of a non-executable format");
    env.assert_verify_ok("after exec failure");
}

/// `-n` (non-interactive) is accepted.
#[test]
fn non_interactive_flag() {
    let env = std_env!("non_interactive_flag");
    env.run_as_user("alice", &["-n", "--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "-n");
}

/// Every decision appends exactly one record, and the chain stays valid.
#[test]
fn every_decision_appends_one_record() {
    let env = std_env!("every_decision_appends_one_record");
    let calls: &[(&str, &[&str], i32)] = &[
        ("alice", &["--", "/usr/bin/id", "-u"], 0),
        ("mallory", &["--", "/usr/bin/id", "-u"], 1),
        ("alice", &["--", "/usr/bin/id", "-G"], 1),
        ("alice", &["-u", "bob", "--", "/usr/bin/id", "-u"], 0),
        ("alice", &["-u", "carol", "--", "/usr/bin/id", "-u"], 1),
        ("bob", &["--", "/usr/bin/id", "-u"], 0),
        ("carol", &["--", "/usr/bin/nonexistent"], 1),
    ];
    for (i, (u, args, code)) in calls.iter().enumerate() {
        let o = env.run_as_user(u, args);
        o.expect_code(*code, &format!("call {i}"));
        let recs = env.audit_lines();
        assert_eq!(
            recs.len(),
            i + 1,
            "call {i} ({u} {args:?}) appends exactly one record\n{o}\n{recs:#?}"
        );
        let want = if *code == 0 { "accept" } else { "reject" };
        assert_eq!(recs[i]["event"], want, "call {i}: {:#}", recs[i]);
        assert_eq!(recs[i]["submituser"], *u, "call {i}");
    }
    env.assert_verify_ok("after mixed decisions");
}

/// A deny rule that matches is named in the reject record, also when no
/// allow rule competes (the administrator sees which rule refused).
#[test]
fn deny_rule_is_named_in_the_record() {
    let env = test_env!("deny_rule_is_named_in_the_record");
    env.policy(
        r##"version = 1
[[rule]]
name = "no-shells"
groups = ["#61001"]
commands = ["/usr/bin/bash *"]
action = "deny"
"##,
    );
    env.run_as_user("alice", &["--", "/usr/bin/bash", "-c", "id"])
        .expect_refusal(1, "deny rule, no allow rule");
    let r = env.audit_events("reject");
    assert_eq!(r.len(), 1, "{r:#?}");
    assert_eq!(
        r[0]["rule"], "no-shells",
        "the deny rule is named: {:#}",
        r[0]
    );
}
