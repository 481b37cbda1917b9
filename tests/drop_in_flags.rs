//! The flags of the programs that drive sudo (issue 14), through the real
//! bdexec as unprivileged users without a controlling terminal (as
//! Ansible runs it): -H, -S with -p, the exit behaviour, and each flag's
//! bad input. The password is checked by real PAM (a test service with
//! pam_unix and a password for alice in the layer's /etc/shadow).

#[macro_use]
mod common;
use common::*;

use std::os::unix::process::ExitStatusExt;

const SERVICE: &str = "belladonna-test";
const PASSWORD: &str = "Correct horse 42";
/// Ansible's prompt, byte for byte.
const ANSIBLE_PROMPT: &str = "[sudo via ansible, key=abcdefghijklmnopqrstuvwxyzabcdef] password:";

/// A password rule and a no-password rule, both for /bin/sh and id.
const POLICY: &str = r#"version = 1
[[rule]]
name = "alice-pw"
users = ["alice"]
run_as = ["root", "bob"]
commands = ["/usr/bin/id *", "/bin/sh *"]
auth = "password"

[[rule]]
name = "bob-none"
users = ["bob"]
commands = ["/usr/bin/id *", "/bin/sh *", "/usr/bin/env"]
auth = "none"

[[rule]]
name = "carol-opts"
users = ["carol"]
commands = ["/usr/bin/id *", "/usr/bin/env", "/bin/sleep *", "/bin/sh *"]
auth = "none"
preserve_env = ["HTTP_PROXY", "APP_*"]
caller_options = ["preserve_groups"]
timeout = "3s"

[[rule]]
name = "mallory-all-env"
users = ["mallory"]
commands = ["/usr/bin/env"]
auth = "none"
preserve_env = true
"#;

/// The policy, PAM's test service and alice's password.
fn setup(env: &TestEnv) {
    env.policy(POLICY);
    pam_password_setup(env, SERVICE, "alice", PASSWORD, false);
}

fn call<'a>(env: &'a TestEnv, user: &str, args: &[&str]) -> Call<'a> {
    env.bdexec(user)
        .env("BELLADONNA_TEST_PAM_SERVICE", SERVICE)
        .args(args)
}

/// The default prompt bdexec writes to stderr with -S.
const DEFAULT_PROMPT: &str = "[bdexec] password for alice: ";

/// A refusal after the -S prompt: exit 1, stderr the prompt then exactly
/// one `bdexec:` line containing `why`, nothing on stdout.
fn refused_after_prompt(o: &Out, prompt: &str, why: &str, ctx: &str) {
    assert_eq!(o.code(), Some(1), "{ctx}\n{o}");
    let err = o.stderr_str();
    assert_eq!(err.matches(prompt).count(), 1, "{ctx}: asked once\n{o}");
    let rest = err.strip_prefix(prompt).unwrap_or_default();
    assert!(
        rest.starts_with("bdexec: ") && rest.ends_with('\n') && rest.lines().count() == 1,
        "{ctx}: one line after the prompt\n{o}"
    );
    assert!(rest.contains(why), "{ctx}: says {why:?}\n{o}");
    assert!(o.stdout.is_empty(), "{ctx}: nothing on stdout\n{o}");
}

fn accepts(env: &TestEnv) -> usize {
    env.audit_events("accept").len()
}

/// Ansible's call with a become password: `-H -S -p PROMPT -u root
/// /bin/sh -c '...'`, the password on stdin. The prompt reaches stderr
/// byte for byte, the command runs; a wrong password ends the call with
/// exit 1 and one line, asked once only.
#[test]
fn stdin_password_with_ansibles_prompt() {
    let env = test_env!("stdin_password_with_ansibles_prompt");
    setup(&env);
    let args = [
        "-H",
        "-S",
        "-p",
        ANSIBLE_PROMPT,
        "-u",
        "root",
        "/bin/sh",
        "-c",
        "echo BECOME-SUCCESS-xyz; /usr/bin/id -u",
    ];
    let o = call(&env, "alice", &args)
        .stdin(format!("{PASSWORD}\n").as_bytes())
        .run();
    o.expect_code(0, "right password on stdin");
    assert_eq!(o.stdout_str(), "BECOME-SUCCESS-xyz\n0\n", "{o}");
    assert_eq!(
        o.stderr_str(),
        ANSIBLE_PROMPT,
        "the prompt, byte for byte\n{o}"
    );
    assert_eq!(accepts(&env), 1);

    // Without the final newline (printf pw |) it still counts.
    let o = call(&env, "alice", &["-S", "/usr/bin/id", "-u"])
        .stdin(PASSWORD.as_bytes())
        .run();
    o.expect_stdout("0\n", "password without newline");
    assert_eq!(
        o.stderr_str(),
        DEFAULT_PROMPT,
        "default prompt on stderr\n{o}"
    );

    // Wrong: exit 1, one bdexec line after the one prompt; the second
    // line on stdin (the right password) is not read as a second try.
    let o = call(&env, "alice", &args)
        .stdin(format!("wrong\n{PASSWORD}\n").as_bytes())
        .run();
    refused_after_prompt(
        &o,
        ANSIBLE_PROMPT,
        "1 incorrect password attempt",
        "wrong password on stdin",
    );
    assert_eq!(accepts(&env), 2, "nothing more ran");
    assert!(!env.audit_events("reject").is_empty());
    env.assert_verify_ok("after -S calls");
}

/// -S with no input, an empty line, 1 MiB of input: refused with exit 1
/// and one clear line; nothing runs.
#[test]
fn stdin_bad_input() {
    let env = test_env!("stdin_bad_input");
    setup(&env);
    let cmd = ["-S", "/usr/bin/id", "-u"];
    // No stdin at all (the harness gives /dev/null).
    let o = call(&env, "alice", &cmd).run();
    refused_after_prompt(&o, DEFAULT_PROMPT, "end of input", "-S without input");
    // Closed stdin: bdexec opens /dev/null in its place.
    let o = call(&env, "alice", &cmd).close_fd(0).run();
    refused_after_prompt(&o, DEFAULT_PROMPT, "standard input", "-S, stdin closed");
    let o = call(&env, "alice", &cmd).stdin(b"\n").run();
    refused_after_prompt(&o, DEFAULT_PROMPT, "empty line", "-S, an empty line");
    let big = vec![b'x'; 1 << 20];
    let o = call(&env, "alice", &cmd).stdin(&big).run();
    refused_after_prompt(&o, DEFAULT_PROMPT, "too long", "-S, 1 MiB");
    // -n wins over -S: never asks.
    let o = call(&env, "alice", &["-n", "-S", "/usr/bin/id", "-u"])
        .stdin(format!("{PASSWORD}\n").as_bytes())
        .run();
    o.expect_refusal(1, "-n -S on a password rule");
    assert!(o.stderr_str().contains("a password is required"), "{o}");
    assert_eq!(accepts(&env), 0, "nothing ran");
    env.assert_verify_ok("after bad -S input");
}

/// -p: sudo's escapes expanded; control characters in the prompt (or in
/// what it expands to) are shown escaped, never sent raw.
#[test]
fn prompt_escapes_and_expansions() {
    let env = test_env!("prompt_escapes_and_expansions");
    setup(&env);
    let o = call(
        &env,
        "alice",
        &[
            "-S",
            "-p",
            "\x1b]0;owned\x07\x1b[2J%u->%U %p 100%%:",
            "-u",
            "bob",
            "/usr/bin/id",
            "-u",
        ],
    )
    .stdin(format!("{PASSWORD}\n").as_bytes())
    .run();
    o.expect_stdout(&format!("{}\n", BOB.uid), "custom prompt, -u bob");
    assert_eq!(
        o.stderr_str(),
        "\\x1b]0;owned\\x07\\x1b[2Jalice->bob alice 100%:",
        "{o}"
    );
    assert!(
        !o.stderr.contains(&0x1b) && !o.stderr.contains(&0x07),
        "{o}"
    );
}

/// Ansible without a password: `-H -S -n -u root /bin/sh -c ...` on an
/// auth = "none" rule. -H: HOME is the target's. Stdin is the command's
/// (nothing is read from it without a password step).
#[test]
fn ansible_call_without_password() {
    let env = test_env!("ansible_call_without_password");
    setup(&env);
    let o = call(
        &env,
        "bob",
        &[
            "-H",
            "-S",
            "-n",
            "-u",
            "root",
            "/bin/sh",
            "-c",
            "echo BECOME-SUCCESS-1; echo \"$HOME\"; read l; echo \"got $l\"",
        ],
    )
    .env("HOME", "/home/bob")
    .stdin(b"input line\n")
    .run();
    o.expect_code(0, "ansible-style call");
    assert_eq!(
        o.stdout_str(),
        "BECOME-SUCCESS-1\n/root\ngot input line\n",
        "{o}"
    );
    assert!(o.stderr_str().is_empty(), "nothing on stderr\n{o}");
}

/// sudo's exit behaviour: the command's status when it ran (also 128+N
/// for a signal, through the shell), 1 with one line for a refusal;
/// options outside the synopsis are usage errors (2).
#[test]
fn exit_behaviour() {
    let env = test_env!("exit_behaviour");
    setup(&env);
    let o = call(&env, "bob", &["-n", "/bin/sh", "-c", "exit 7"]).run();
    o.expect_code(7, "the command's status");
    let o = call(&env, "bob", &["-n", "/bin/sh", "-c", "kill -TERM $$"]).run();
    assert!(
        o.code() == Some(128 + 15) || o.status.signal() == Some(15),
        "killed by TERM: {o}"
    );
    // A refusal: no rule for carol's command.
    let o = call(&env, "carol", &["-n", "/usr/bin/whoami"]).run();
    o.expect_refusal(1, "no rule");
    // A target outside run_as.
    let o = call(
        &env,
        "bob",
        &["-S", "-n", "-u", "carol", "/usr/bin/id", "-u"],
    )
    .run();
    o.expect_refusal(1, "target outside run_as");
    for args in [
        &["-l", "-S"][..],
        &["-l", "-H"],
        &["-k", "-H"],
        &["-k", "-p", "x"],
    ] {
        let o = call(&env, "bob", args).run();
        o.expect_code(2, &format!("{args:?}"));
    }
}

fn env_lines(o: &Out) -> Vec<String> {
    o.stdout_str().lines().map(str::to_string).collect()
}

/// -E / --preserve-env: only where the rule's preserve_env allows, the
/// value checks still applied; refused (never ignored) elsewhere.
#[test]
fn preserve_env() {
    let env = test_env!("preserve_env");
    setup(&env);
    let vars = [
        ("HTTP_PROXY", "http://proxy:3128"),
        ("APP_MODE", "blue"),
        ("EDITOR", "vi"),
        ("LD_PRELOAD", "/tmp/evil.so"),
        ("BASH_FUNC_x%%", "() { id; }"),
        ("LANG", "/tmp/evil"),
        ("FUNCY", "() { id; }"),
        ("PYTHONPATH", "/tmp/evil"),
        ("BASH_ENV", "/tmp/evil.sh"),
    ];
    let with_vars = |user: &str, args: &[&str]| {
        let mut c = call(&env, user, args);
        for (k, v) in vars {
            c = c.env(k, v);
        }
        c.run()
    };
    // No preserve_env in bob's rule: -E and --preserve-env refuse.
    for args in [
        &["-E", "/usr/bin/env"][..],
        &["--preserve-env=EDITOR", "/usr/bin/env"],
    ] {
        let o = with_vars("bob", args);
        o.expect_refusal(1, &format!("bob {args:?}"));
        assert!(o.stderr_str().contains("does not allow -E"), "{o}");
    }
    // Without -E nothing of the list is kept.
    let o = with_vars("carol", &["/usr/bin/env"]);
    o.expect_code(0, "carol env");
    let l = env_lines(&o);
    assert!(!l.iter().any(|x| x.starts_with("HTTP_PROXY=")), "{o}");
    // -E: the rule's list.
    let o = with_vars("carol", &["-E", "/usr/bin/env"]);
    o.expect_code(0, "carol -E");
    let l = env_lines(&o);
    assert!(
        l.contains(&"HTTP_PROXY=http://proxy:3128".to_string()),
        "{o}"
    );
    assert!(l.contains(&"APP_MODE=blue".to_string()), "{o}");
    assert!(!l.iter().any(|x| x.starts_with("EDITOR=")), "{o}");
    assert!(
        l.contains(&"HOME=/root".to_string()),
        "HOME stays the target's\n{o}"
    );
    // --preserve-env=NAME: that one only; a name outside the list refuses.
    let o = with_vars("carol", &["--preserve-env=HTTP_PROXY", "/usr/bin/env"]);
    o.expect_code(0, "carol --preserve-env=HTTP_PROXY");
    let l = env_lines(&o);
    assert!(
        l.contains(&"HTTP_PROXY=http://proxy:3128".to_string()),
        "{o}"
    );
    assert!(!l.iter().any(|x| x.starts_with("APP_MODE=")), "{o}");
    for bad in ["EDITOR", "LD_PRELOAD", "HTTP_PROXY,EDITOR", "1X"] {
        let o = with_vars("carol", &[&format!("--preserve-env={bad}"), "/usr/bin/env"]);
        o.expect_refusal(1, &format!("--preserve-env={bad}"));
    }
    // preserve_env = true: everything that passes the value checks,
    // but what would run the caller's code (EDITOR, PYTHONPATH, BASH_ENV).
    let o = with_vars("mallory", &["-E", "/usr/bin/env"]);
    o.expect_code(0, "mallory -E");
    let l = env_lines(&o);
    assert!(
        l.contains(&"HTTP_PROXY=http://proxy:3128".to_string()),
        "{o}"
    );
    assert!(l.contains(&"APP_MODE=blue".to_string()), "{o}");
    for never in [
        "EDITOR=",
        "LD_PRELOAD=",
        "BASH_FUNC_",
        "LANG=/tmp",
        "FUNCY=",
        "PYTHONPATH=",
        "BASH_ENV=",
    ] {
        assert!(!l.iter().any(|x| x.starts_with(never)), "{never}\n{o}");
    }
    // ... and the record names the variables -E withheld.
    let acc = env.audit_events("accept").pop().unwrap();
    let reason = acc["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("-E (preserve_env = true) withheld")
            && reason.contains("PYTHONPATH")
            && reason.contains("BASH_ENV")
            && reason.contains("EDITOR"),
        "{acc}"
    );
    // Named explicitly, a code-running variable is refused under `true`.
    let o = with_vars("mallory", &["--preserve-env=PYTHONPATH", "/usr/bin/env"]);
    o.expect_refusal(1, "--preserve-env=PYTHONPATH under preserve_env = true");
    assert!(o.stderr_str().contains("python imports modules"), "{o}");
    let accepts = env.audit_events("accept");
    assert!(
        accepts.iter().any(|r| r["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("caller options: -E")),
        "the record names -E: {accepts:#?}"
    );
    env.assert_verify_ok("after -E calls");
}

/// -P: the caller's groups, only where the rule allows it.
#[test]
fn preserve_groups() {
    let env = test_env!("preserve_groups");
    setup(&env);
    let o = call(&env, "carol", &["/usr/bin/id", "-G"]).run();
    o.expect_code(0, "carol id -G");
    assert!(!o.stdout_str().contains(&OPS_GID.to_string()), "{o}");
    let o = call(&env, "carol", &["-P", "/usr/bin/id", "-G"]).run();
    o.expect_code(0, "carol -P id -G");
    let groups = o.stdout_str();
    assert!(
        groups.contains(&OPS_GID.to_string()),
        "caller's ops group\n{o}"
    );
    assert!(
        groups.starts_with("0 "),
        "primary group stays the target's\n{o}"
    );
    let o = call(&env, "bob", &["-P", "/usr/bin/id", "-G"]).run();
    o.expect_refusal(1, "bob -P");
    assert!(o.stderr_str().contains("does not allow -P"), "{o}");
    assert_eq!(env.audit_events("accept").len(), 2);
    // -l shows what the rule lets the caller ask for.
    let o = call(&env, "carol", &["-l"]).run();
    o.expect_code(0, "carol -l");
    assert!(
        o.stdout_str().contains(
            "(root) auth=none preserve_env=HTTP_PROXY,APP_* preserve_groups timeout=3s /usr/bin/env"
        ),
        "{o}"
    );
}

/// -A: the helper named by SUDO_ASKPASS (or BDEXEC_ASKPASS) runs as the
/// caller without privileges, with the prompt as its argument; a missing,
/// non-executable or failing helper is a clear refusal.
#[test]
fn askpass() {
    let env = test_env!("askpass");
    setup(&env);
    let good = env.etc_executable(
        "askpass-good",
        format!(
            "#!/bin/sh\necho \"HELPER [$1] uid=$(id -u) $(grep CapPrm /proc/self/status) \
             bdfds=$(ls -l /proc/$$/fd | grep -c belladonna)\" >&2\necho '{PASSWORD}'\n"
        )
        .as_bytes(),
    );
    let wrong = env.etc_executable("askpass-wrong", b"#!/bin/sh\necho nope\n");
    let failing = env.etc_executable("askpass-failing", b"#!/bin/sh\necho x\nexit 3\n");
    let silent = env.etc_executable("askpass-silent", b"#!/bin/sh\nexit 0\n");
    let not_exec = env.etc("askpass-not-exec");
    write_mode(&not_exec, b"#!/bin/sh\necho pw\n", 0o644);
    let not_exec = not_exec.to_string_lossy().into_owned();
    let cmd = ["-A", "-p", "pw for %u:", "/usr/bin/id", "-u"];

    let o = call(&env, "alice", &cmd).env("SUDO_ASKPASS", &good).run();
    o.expect_stdout("0\n", "-A with a good helper");
    let err = o.stderr_str();
    assert!(
        err.contains("HELPER [pw for alice:]"),
        "prompt as argument\n{o}"
    );
    assert!(
        err.contains(&format!("uid={}", ALICE.uid)),
        "runs as alice\n{o}"
    );
    assert!(
        err.contains("CapPrm:\t0000000000000000"),
        "no capability\n{o}"
    );
    // BDEXEC_ASKPASS comes first.
    let o = call(&env, "alice", &cmd)
        .env("SUDO_ASKPASS", &failing)
        .env("BDEXEC_ASKPASS", &good)
        .run();
    o.expect_stdout("0\n", "BDEXEC_ASKPASS first");
    assert_eq!(env.audit_events("accept").len(), 2);

    for (helper, why) in [
        (None, "no askpass helper"),
        (Some("askpass-good"), "not an absolute path"),
        (Some("/nonexistent/askpass"), "No such file"),
        (Some(not_exec.as_str()), "Permission denied"),
        (Some(failing.as_str()), "failed (exit status 3)"),
        (Some(silent.as_str()), "gave no password"),
        (Some(wrong.as_str()), "1 incorrect password attempt"),
    ] {
        let mut c = call(&env, "alice", &cmd);
        if let Some(h) = helper {
            c = c.env("SUDO_ASKPASS", h);
        }
        let o = c.run();
        o.expect_refusal(1, &format!("-A with {helper:?}"));
        assert!(
            o.stderr_str().contains(why),
            "{helper:?}: says {why:?}\n{o}"
        );
    }
    assert_eq!(env.audit_events("accept").len(), 2, "nothing more ran");
    // -A and -S together: a usage error.
    call(&env, "alice", &["-A", "-S", "/usr/bin/id", "-u"])
        .run()
        .expect_code(2, "-A -S");
    env.assert_verify_ok("after -A calls");
}

/// The exit record of the accept record `accept` (its uuid), if any.
fn exit_of(env: &TestEnv, accept: &serde_json::Value) -> Option<serde_json::Value> {
    env.audit_events("exit")
        .into_iter()
        .find(|e| e["accept"] == accept["uuid"])
}

/// The rule's `timeout` and -T: TERM at the time, KILL after the grace
/// period, `timed_out` in the exit record; -T may shorten the rule's
/// timeout, never lengthen it.
#[test]
fn command_timeout() {
    let env = test_env!("command_timeout");
    setup(&env);
    let timed = |user: &str, args: &[&str]| {
        let t = std::time::Instant::now();
        let o = call(&env, user, args).run();
        (o, t.elapsed().as_secs_f64())
    };
    // The rule's 3 s.
    let (o, took) = timed("carol", &["/bin/sleep", "30"]);
    assert_eq!(o.status.signal(), Some(15), "ended by TERM\n{o}");
    assert!((2.5..10.0).contains(&took), "took {took} s\n{o}");
    assert!(o.stderr_str().contains("timed out after 3 s"), "{o}");
    let acc = env.audit_events("accept").pop().unwrap();
    let ex = exit_of(&env, &acc).expect("an exit record");
    assert_eq!(ex["timed_out"], true, "{ex}");
    assert_eq!(ex["signal"], "TERM", "{ex}");
    // -T 1: shorter, allowed, named in the accept record.
    let (o, took) = timed("carol", &["-T", "1", "/bin/sleep", "30"]);
    assert_eq!(o.status.signal(), Some(15), "{o}");
    assert!(took < 2.9, "-T 1 took {took} s\n{o}");
    let acc = env.audit_events("accept").pop().unwrap();
    assert!(acc["reason"].as_str().unwrap().contains("-T 1s"), "{acc}");
    // A command that ignores TERM is killed after the grace period.
    let (o, took) = timed(
        "carol",
        &["-T1", "/bin/sh", "-c", "trap '' TERM; exec /bin/sleep 30"],
    );
    assert_eq!(o.status.signal(), Some(9), "KILL after the grace\n{o}");
    assert!((5.5..15.0).contains(&took), "took {took} s\n{o}");
    let acc = env.audit_events("accept").pop().unwrap();
    let ex = exit_of(&env, &acc).expect("an exit record");
    assert_eq!(
        (ex["timed_out"].clone(), ex["signal"].clone()),
        (true.into(), "KILL".into())
    );
    // A command that ends in time: no timed_out.
    let o = call(&env, "carol", &["--command-timeout=2s", "/bin/sleep", "0"]).run();
    o.expect_code(0, "ends in time");
    let acc = env.audit_events("accept").pop().unwrap();
    assert!(exit_of(&env, &acc).expect("exit")["timed_out"].is_null());
    // Longer than the rule's: refused before anything runs.
    let n = env.audit_events("accept").len();
    let o = call(&env, "carol", &["-T", "10", "/bin/sleep", "0"]).run();
    o.expect_refusal(1, "-T longer than the rule's");
    assert!(o.stderr_str().contains("only shorten"), "{o}");
    assert_eq!(env.audit_events("accept").len(), n);
    // No timeout in bob's rule: -T limits his own command.
    let (o, took) = timed("bob", &["-T", "1s", "/bin/sh", "-c", "exec /bin/sleep 30"]);
    assert_eq!(o.status.signal(), Some(15), "{o}");
    assert!(took < 2.9, "{took}");
    for bad in ["0", "soon", "-1", ""] {
        call(&env, "bob", &["-T", bad, "/usr/bin/id"])
            .run()
            .expect_code(2, &format!("-T {bad:?}"));
    }
    env.assert_verify_ok("after timeouts");
}

/// -b: bdexec returns 0 at once; the command goes on and its exit is
/// recorded by the monitor.
#[test]
fn background() {
    let env = test_env!("background");
    setup(&env);
    let out = env.dir.join("tmp/bg-out");
    let o = env
        .sh_call(
            "bob",
            &format!(
                "s=$(date +%s%N); \"$BDEXEC\" -b /bin/sh -c 'sleep 2; id -u > {}' </dev/null >/dev/null 2>&1; \
                 echo \"rc=$? ms=$(( ($(date +%s%N) - s) / 1000000 ))\"",
                out.display()
            ),
        )
        .run();
    o.expect_code(0, "sh");
    let line = o.stdout_str();
    assert!(line.starts_with("rc=0 "), "{o}");
    let ms: u64 = line.trim().rsplit('=').next().unwrap().parse().unwrap();
    assert!(ms < 1500, "returned at once ({ms} ms)\n{o}");
    let acc = env.audit_events("accept").pop().expect("accept");
    assert!(acc["reason"].as_str().unwrap().contains("-b"), "{acc}");
    let start = std::time::Instant::now();
    let ex = loop {
        if let Some(e) = exit_of(&env, &acc) {
            break e;
        }
        assert!(start.elapsed().as_secs() < 20, "no exit record");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(ex["status"], 0, "{ex}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "0\n");
    env.assert_verify_ok("after -b");
}

/// -S and the timestamp cache: with a controlling terminal (script(1)
/// gives the shell one), a password read with -S leaves a timestamp, and
/// the next call (-S -n) runs without reading anything.
#[test]
fn stdin_password_and_the_timestamp() {
    let env = test_env!("stdin_password_and_the_timestamp");
    setup(&env);
    let inner = env.dir.join("tmp/inner.sh");
    write_mode(
        &inner,
        format!(
            "printf '%s\\n' '{PASSWORD}' | \"$BDEXEC\" -S /usr/bin/id -u\n\
             echo second\n\"$BDEXEC\" -S -n /usr/bin/id -u </dev/null\necho rc=$?\n"
        )
        .as_bytes(),
        0o755,
    );
    let o = env
        .sh_call(
            "alice",
            &format!("script -qec '/bin/sh {}' /dev/null", inner.display()),
        )
        .env("BELLADONNA_TEST_PAM_SERVICE", SERVICE)
        .run();
    o.expect_code(0, "script");
    let out = o.stdout_str().replace('\r', "");
    assert_eq!(out.matches(DEFAULT_PROMPT).count(), 1, "one prompt\n{o}");
    assert!(out.contains("second\n0\nrc=0"), "cached: no password\n{o}");
    assert_eq!(env.audit_events("accept").len(), 2);
}
