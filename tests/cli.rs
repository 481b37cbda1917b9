//! The fixed command-line surface (DESIGN 5a): bdexec's -h/-V/usage
//! errors, and bdctl's audit verify/show.

#[macro_use]
mod common;
use common::*;

#[test]
fn bdexec_help_and_version() {
    let env = test_env!("bdexec_help_and_version");
    env.policy(STD_POLICY);
    let o = env.run_as_user("alice", &["-h"]);
    o.expect_code(0, "-h");
    let s = o.stdout_str();
    assert!(
        s.contains("-u") && s.contains("-l") && s.contains("-n"),
        "-h documents the options\n{o}"
    );
    let o = env.run_as_user("alice", &["-V"]);
    o.expect_code(0, "-V");
    assert!(
        o.stdout_str().contains(env!("CARGO_PKG_VERSION")),
        "-V prints the version\n{o}"
    );
    assert!(env.audit_events("accept").is_empty(), "-h/-V run nothing");
}

#[test]
fn bdexec_usage_errors_exit_2() {
    let env = test_env!("bdexec_usage_errors_exit_2");
    env.policy(STD_POLICY);
    let cases: &[&[&str]] = &[
        &[],
        &["--"],
        &["-n"],
        &["-u"],
        &["-u", "bob"],
        &["-Z"],
        &["--no-such-option"],
        &["-u", "bob", "--"],
    ];
    for args in cases {
        let o = env.run_as_user("alice", args);
        o.expect_refusal(2, &format!("usage error: bdexec {args:?}"));
    }
    let o = env.run_as_user("alice", &["-l", "--", "/usr/bin/id"]);
    assert!(
        matches!(o.code(), Some(0 | 1)),
        "-l with a command: whether it is allowed (tests/daily_flags.rs)\n{o}"
    );
    assert!(
        !o.stdout_str().trim().eq("0"),
        "-l never runs the command\n{o}"
    );
    assert!(
        env.audit_events("accept").is_empty(),
        "usage errors run nothing"
    );
}

#[test]
fn bdctl_audit_show_and_json() {
    let env = test_env!("bdctl_audit_show_and_json");
    env.policy(STD_POLICY);
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "alice");
    env.run_as_user("mallory", &["--", "/usr/bin/id", "-u"])
        .expect_refusal(1, "mallory");
    env.bdexec("alice")
        .args(["--", "/usr/bin/echo"])
        .arg_bytes(b"\x1b[2J\xff")
        .run()
        .expect_code(0, "echo escape");

    let o = env.bdctl(&["audit", "show"]);
    o.expect_code(0, "audit show");
    let s = o.stdout_str();
    assert!(
        s.contains("alice") && s.contains("mallory"),
        "human view names the callers\n{o}"
    );
    assert!(s.contains("/usr/bin/id"), "and the command\n{o}");
    assert!(
        !o.stdout.contains(&0x1b),
        "no raw escape reaches the terminal\n{o}"
    );

    let o = env.bdctl(&["audit", "show", "--json"]);
    o.expect_code(0, "audit show --json");
    let lines: Vec<serde_json::Value> = o
        .stdout_str()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("--json line is not JSON ({e}): {l}\n{o}"))
        })
        .collect();
    assert_eq!(lines.len(), 3, "one JSON object per record\n{o}");
    assert_eq!(lines[1]["submituser"], "mallory", "{o}");
}

#[test]
fn bdctl_audit_verify_with_file() {
    let env = test_env!("bdctl_audit_verify_with_file");
    env.policy(STD_POLICY);
    for _ in 0..3 {
        env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
            .expect_stdout("0\n", "alice");
    }
    let copy = env.scratch().join("copy.jsonl");
    std::fs::copy(env.audit_path(), &copy).unwrap();
    let p = copy.to_str().unwrap();
    env.bdctl(&["audit", "verify", "--file", p])
        .expect_code(0, "verify --file on a good copy");
    // Outside any namespace too: bdctl needs no privilege to verify a file.
    let o = std::process::Command::new(env.bdctl_path())
        .args(["audit", "verify", "--file", p])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    env.bdctl(&["audit", "show", "--file", p])
        .expect_code(0, "show --file");

    let mut b = std::fs::read(&copy).unwrap();
    let lines = raw_lines(&b).len();
    assert_eq!(lines, 3);
    // Change one byte in line 3's h value.
    let third = b
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == b'\n')
        .nth(1)
        .unwrap()
        .0
        + 1;
    let hpos = third
        + b[third..]
            .windows(5)
            .position(|w| w == b"\"h\":\"")
            .expect("h field")
        + 5;
    b[hpos] = if b[hpos] == b'0' { b'1' } else { b'0' };
    std::fs::write(&copy, &b).unwrap();
    let o = env.bdctl(&["audit", "verify", "--file", p]);
    assert_eq!(o.code(), Some(1), "a changed h is found\n{o}");
    assert!(
        mentions_number(&o.all_output(), "line", 3),
        "names line 3\n{o}"
    );

    let missing = env.scratch().join("missing.jsonl");
    let o = env.bdctl(&["audit", "verify", "--file", missing.to_str().unwrap()]);
    assert_ne!(o.code(), Some(0), "a missing file is not a valid log\n{o}");

    let empty = env.scratch().join("empty.jsonl");
    std::fs::write(&empty, b"").unwrap();
    env.bdctl(&["audit", "verify", "--file", empty.to_str().unwrap()])
        .expect_code(0, "an empty log is a valid (empty) chain");

    let garbage = env.scratch().join("garbage.jsonl");
    std::fs::write(&garbage, b"not json at all\n").unwrap();
    let o = env.bdctl(&["audit", "verify", "--file", garbage.to_str().unwrap()]);
    assert_eq!(o.code(), Some(1), "{o}");
    assert!(
        mentions_number(&o.all_output(), "line", 1),
        "names line 1\n{o}"
    );
}

#[test]
fn bdctl_usage() {
    let env = test_env!("bdctl_usage");
    let o = env.bdctl(&["--help"]);
    o.expect_code(0, "bdctl --help");
    assert!(
        o.stdout_str().contains("policy") && o.stdout_str().contains("audit"),
        "{o}"
    );
    let o = env.bdctl(&["no-such-command"]);
    assert_eq!(
        o.code(),
        Some(2),
        "unknown subcommand is a usage error\n{o}"
    );
}

/// `bdctl audit verify | true` and the like: a printing command whose
/// reader has gone ends quietly by SIGPIPE (like any Unix filter), never
/// with a panic about a broken pipe.
#[test]
fn bdctl_printing_commands_end_quietly_on_a_closed_pipe() {
    use std::os::unix::process::ExitStatusExt;
    let env = test_env!("bdctl_printing_commands_end_quietly_on_a_closed_pipe");
    env.policy(STD_POLICY);
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "alice");
    let copy = env.scratch().join("copy.jsonl");
    std::fs::copy(env.audit_path(), &copy).unwrap();
    let p = copy.to_str().unwrap();
    for args in [
        vec!["audit", "verify", "--file", p],
        vec!["audit", "show", "--file", p],
        vec!["audit", "show", "--json", "--file", p],
    ] {
        let (r, w) = std::io::pipe().unwrap();
        drop(r);
        let o = std::process::Command::new(env.bdctl_path())
            .args(&args)
            .stdout(w)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            o.status.signal() == Some(libc::SIGPIPE) || o.status.success(),
            "{args:?}: {:?} {err}",
            o.status
        );
    }
}
