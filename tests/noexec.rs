//! `noexec = true` (sudo's NOEXEC, issue 12 item 4) through the real
//! bdexec on the real kernel: the command runs, every exec it or a
//! descendant tries fails with EACCES and is counted in the exit record,
//! a `#!` script still starts, a rule without noexec is unaffected, a
//! root target keeps no capability, a killed monitor fails later execs
//! (ENOSYS) and an i386 exec kills the process. The helper
//! (tests/noexec/execer.c) prints what the kernel answered.

#[macro_use]
mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

const EXECER_SRC: &str = include_str!("noexec/execer.c");

fn policy(execer: &Path, script: &str, keys: &str) -> String {
    format!(
        r#"version = 1

[[rule]]
name = "nox"
users = ["alice"]
run_as = ["bob", "root"]
commands = ["/bin/sh *", "{execer} *", "{script}"]
auth = "none"
{keys}
"#,
        execer = execer.display()
    )
}

struct Setup {
    env: TestEnv,
    execer: PathBuf,
    script: String,
}

fn setup(name: &str, keys: &str) -> Option<Setup> {
    let env = TestEnv::new(&format!("noexec::{name}"))?;
    let execer = env.compile_c("execer", EXECER_SRC);
    let script = env.etc_executable(
        "script.sh",
        b"#!/bin/sh\necho script-ran\nexec /bin/echo EXECUTED\n",
    );
    env.policy(&policy(&execer, &script, keys));
    let scratch = env.scratch();
    std::fs::create_dir_all(&scratch).unwrap();
    mkdir_mode(&scratch, 0o777);
    Some(Setup {
        env,
        execer,
        script,
    })
}

impl Setup {
    fn run(&self, target: &str, args: &[&str]) -> Out {
        let mut v = vec!["-u", target, "--"];
        v.extend_from_slice(args);
        self.env.run_as_user("alice", &v)
    }

    fn execer(&self, target: &str, args: &[&str]) -> Out {
        let e = self.execer.display().to_string();
        let mut v = vec![e.as_str()];
        v.extend_from_slice(args);
        self.run(target, &v)
    }

    fn last_exit(&self) -> Value {
        self.env
            .audit_events("exit")
            .last()
            .cloned()
            .expect("an exit record")
    }
}

/// Every way to exec from a noexec command fails with EACCES, for a
/// non-root and a root target; the command itself ran; the exit record
/// counts the refusals; the accept record says monitor and noexec.
#[test]
fn exec_is_refused_and_counted() {
    let Some(s) = setup("exec_is_refused_and_counted", "noexec = true") else {
        return;
    };
    for target in ["bob", "root"] {
        for mode in ["execve", "execveat", "child"] {
            let o = s.execer(target, &[mode, "/bin/echo"]);
            assert_eq!(o.stdout_str().trim(), "EACCES", "{target} {mode}: {o}");
            assert_eq!(o.code(), Some(1), "{target} {mode}: {o}");
            let ex = s.last_exit();
            assert_eq!(ex["exec_refused"], 1, "{target} {mode}: {ex:#}");
            assert_eq!(ex["status"], 1, "{ex:#}");
        }
        // A shell: its own output appears, its exec is refused.
        let o = s.run(
            target,
            &[
                "/bin/sh",
                "-c",
                "echo ran; /bin/echo EXECUTED; exec /bin/true",
            ],
        );
        assert!(o.stdout_str().contains("ran"), "{target}: {o}");
        assert!(!o.stdout_str().contains("EXECUTED"), "{target}: {o}");
        assert!(
            o.stderr_str().contains("Permission denied"),
            "{target}: {o}"
        );
        assert_ne!(o.code(), Some(0), "{o}");
        assert_eq!(s.last_exit()["exec_refused"], 2, "{target}");
    }
    let acc = s.env.audit_events("accept");
    let last = acc.last().expect("accept records");
    assert_eq!(last["monitor"], true, "noexec implies monitor: {last:#}");
    let conf = last["confinement"].as_str().unwrap_or_default();
    assert!(conf.contains("noexec"), "{last:#}");
    s.env.assert_verify_ok("after noexec runs");
    let show = s.env.bdctl(&["audit", "show"]);
    assert!(
        show.stdout_str().contains(", 2 exec refused (noexec)"),
        "{show}"
    );
}

/// A `#!` script runs (its start goes through bdexec's retry of the
/// exec, still before the first exec), but what it executes is refused.
#[test]
fn script_starts_but_cannot_exec() {
    let Some(s) = setup("script_starts_but_cannot_exec", "noexec = true") else {
        return;
    };
    let o = s.run("bob", &[&s.script]);
    assert!(o.stdout_str().contains("script-ran"), "{o}");
    assert!(!o.stdout_str().contains("EXECUTED"), "{o}");
    assert_eq!(s.last_exit()["exec_refused"], 1);
}

/// A root target of a noexec rule gets only the rule's caps (none here)
/// and no_new_privs: the filter needs it.
#[test]
fn root_target_keeps_no_capability() {
    let Some(s) = setup("root_target_keeps_no_capability", "noexec = true") else {
        return;
    };
    let o = s.run(
        "root",
        &[
            "/bin/sh",
            "-c",
            "while read l; do echo \"$l\"; done < /proc/self/status",
        ],
    );
    let st = o.stdout_str();
    assert_eq!(status_field(&st, "CapEff"), Some("0000000000000000"), "{o}");
    assert_eq!(status_field(&st, "CapBnd"), Some("0000000000000000"), "{o}");
    assert_eq!(status_field(&st, "NoNewPrivs"), Some("1"), "{o}");
    assert_eq!(status_field(&st, "Seccomp"), Some("2"), "{o}");
}

/// The same commands without noexec (in [defaults] off, rule unset;
/// then noexec in [defaults] applies to the rule): the exec works and
/// no count is recorded; then it is refused again.
#[test]
fn rule_without_noexec_is_unaffected() {
    let Some(s) = setup("rule_without_noexec_is_unaffected", "") else {
        return;
    };
    for mode in ["execve", "execveat", "child"] {
        let o = s.execer("bob", &[mode, "/bin/echo"]);
        assert_eq!(o.stdout_str().trim(), "EXECUTED", "{mode}: {o}");
    }
    assert!(s.env.audit_events("exit").is_empty(), "no monitor");
    let o = s.run("bob", &[&s.script]);
    assert!(o.stdout_str().contains("EXECUTED"), "{o}");
    // noexec in [defaults] reaches the rule; `noexec = false` in the
    // rule turns it off again.
    let p = policy(&s.execer, &s.script, "");
    s.env
        .policy(&p.replace("version = 1\n", "version = 1\n[defaults]\nnoexec = true\n"));
    let o = s.execer("bob", &["execve", "/bin/echo"]);
    assert_eq!(o.stdout_str().trim(), "EACCES", "{o}");
    let p = policy(&s.execer, &s.script, "noexec = false");
    s.env
        .policy(&p.replace("version = 1\n", "version = 1\n[defaults]\nnoexec = true\n"));
    let o = s.execer("bob", &["execve", "/bin/echo"]);
    assert_eq!(o.stdout_str().trim(), "EXECUTED", "{o}");
}

/// SIGKILL of the monitor (root only): the supervisor is gone, and the
/// kernel fails the command's next exec with ENOSYS: closed, not open.
#[test]
fn killed_monitor_fails_closed() {
    let Some(s) = setup("killed_monitor_fails_closed", "noexec = true") else {
        return;
    };
    let d = s.env.scratch();
    let (ready, go, out) = (d.join("ready"), d.join("go"), d.join("out"));
    let e = s.execer.display().to_string();
    let (r, g, o) = (
        ready.display().to_string(),
        go.display().to_string(),
        out.display().to_string(),
    );
    let run = s
        .env
        .bdexec("alice")
        .args(["-u", "bob", "--", &e, "later", &r, &g, &o, "/bin/echo"])
        .spawn();
    let pids = wait_for_file(&ready, "command start");
    let monitor: i32 = pids.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(monitor, run.pid(), "the monitor is bdexec");
    // SAFETY: kill(2), no memory involved.
    assert_eq!(unsafe { libc::kill(monitor, libc::SIGKILL) }, 0);
    let _ = run.wait();
    std::fs::write(&go, b"").unwrap();
    assert_eq!(wait_for_file(&out, "the exec's result").trim(), "ENOSYS");
    assert!(s.env.audit_events("exit").is_empty());
}

/// An i386 system call (int 0x80: execve is 11 there) kills the
/// process: the filter does not let a foreign ABI past it.
#[test]
fn foreign_abi_is_killed() {
    let Some(s) = setup("foreign_abi_is_killed", "noexec = true") else {
        return;
    };
    let o = s.execer("bob", &["i386"]);
    assert!(!o.stdout_str().contains("returned"), "{o}");
    assert_eq!(s.last_exit()["signal"], "SYS", "{:#}", s.last_exit());
}

/// With a sandbox profile: both filters stack, the strictest answer
/// wins (the profile's EPERM for execve), noexec's EACCES for execveat;
/// the command still starts (noexec's filter goes in before the
/// profile's).
#[test]
fn with_a_sandbox_profile() {
    let Some(s) = setup("with_a_sandbox_profile", "noexec = true\nsandbox = \"box\"") else {
        return;
    };
    let p = policy(&s.execer, &s.script, "noexec = true\nsandbox = \"box\"");
    s.env.policy(&p.replace(
        "version = 1\n",
        "version = 1\n[sandbox.box.seccomp]\ndeny = [\"execve\"]\n",
    ));
    let o = s.execer("bob", &["execve", "/bin/echo"]);
    assert_eq!(o.stdout_str().trim(), "EPERM", "{o}");
    let o = s.execer("root", &["execveat", "/bin/echo"]);
    assert_eq!(o.stdout_str().trim(), "EACCES", "{o}");
    assert_eq!(s.last_exit()["exec_refused"], 1);
}

/// sudoers' NOEXEC through `bdctl import sudoers`: the imported rule is
/// enforced (EACCES), the line without the tag is not, and the report
/// says the NOEXEC line was narrowed.
#[test]
fn imported_noexec_is_enforced() {
    let Some(s) = setup("imported_noexec_is_enforced", "") else {
        return;
    };
    let sudoers = s.env.scratch().join("sudoers");
    std::fs::write(
        &sudoers,
        format!(
            "alice ALL = (bob) NOPASSWD: NOEXEC: {}\nalice ALL = (bob) NOPASSWD: /bin/sh\n",
            s.execer.display()
        ),
    )
    .unwrap();
    let path = sudoers.display().to_string();
    let out = s
        .env
        .bdctl(&["import", "sudoers", &path, "--host", "bdhost"]);
    assert_eq!(out.code(), Some(0), "{out}");
    s.env.policy(&out.stdout_str());
    let o = s.execer("bob", &["execve", "/bin/echo"]);
    assert_eq!(o.stdout_str().trim(), "EACCES", "{o}");
    let o = s.run("bob", &["/bin/sh", "-c", "/bin/echo EXECUTED"]);
    assert_eq!(o.stdout_str().trim(), "EXECUTED", "{o}");
    let rep = s
        .env
        .bdctl(&["import", "sudoers", &path, "--host", "bdhost", "--report"]);
    let t = rep.stdout_str();
    assert!(
        t.lines()
            .any(|l| l.contains(":1 ") && l.contains("narrowed")),
        "{t}"
    );
    assert!(t.contains("tag NOEXEC"), "{t}");
}

/// A noexec command may load a seccomp filter of its own, but not one
/// with a listener (it would get, and could allow, its own execs: the
/// newest filter wins a tie).
#[test]
fn own_listener_is_refused() {
    let Some(s) = setup("own_listener_is_refused", "noexec = true") else {
        return;
    };
    let o = s.execer("bob", &["seccomp", "plain"]);
    assert_eq!(o.stdout_str().trim(), "ok", "{o}");
    let o = s.execer("bob", &["seccomp", "listener"]);
    assert_eq!(o.stdout_str().trim(), "EPERM", "{o}");
}
