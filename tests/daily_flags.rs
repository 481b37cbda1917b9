//! sudo's daily flags (issue 13 items 4 and 6) through the real bdexec as
//! unprivileged users, each in its own namespace: `-l COMMAND`, `-l -U`,
//! `-v`, `-K`, `-g` (`run_as_groups`), `-D` (`chdir`), `-s` and `-i`,
//! with the bad inputs the issue names.

#[macro_use]
mod common;
use common::*;

use std::fs;
use std::os::unix::fs::PermissionsExt;

/// alice may run `id -u` and `id -g` as root or bob without a password,
/// and `/usr/bin/cal` with a password; a decoy offers `/usr/bin/base32`.
const POLICY: &str = r#"version = 1
[defaults]
secure_path = "/usr/sbin:/usr/bin:/sbin:/bin"
env_keep = ["TERM", "LANG"]

[[rule]]
name = "alice-id"
users = ["alice"]
run_as = ["root", "bob"]
commands = ["/usr/bin/id -u", "/usr/bin/id -g", "/usr/bin/id -G"]
auth = "none"
run_as_groups = ["ops"]

[[rule]]
name = "alice-cal"
users = ["alice"]
commands = ["/usr/bin/cal"]

[[decoy]]
name = "base32"
users = ["alice"]
commands = ["/usr/bin/base32"]
auth = "none"
"#;

fn env_with(name: &str, policy: &str) -> Option<TestEnv> {
    let env = TestEnv::new(&format!("daily_flags::{name}"))?;
    env.policy(policy);
    Some(env)
}

/// Exit `code` and nothing at all on stdout or stderr.
fn silent(o: &Out, code: i32, ctx: &str) {
    assert_eq!(o.code(), Some(code), "{ctx}\n{o}");
    assert!(
        o.stdout.is_empty() && o.stderr.is_empty(),
        "{ctx}: nothing on stdout or stderr\n{o}"
    );
}

#[test]
fn list_a_command_answers_for_scripts() {
    let Some(env) = env_with("list_a_command", POLICY) else {
        return;
    };
    // Allowed: exit 0, one line, the resolved path and the arguments.
    env.run_as_user("alice", &["-l", "--", "/usr/bin/id", "-u"])
        .expect_stdout("/usr/bin/id -u\n", "-l -- /usr/bin/id -u");
    env.run_as_user("alice", &["-l", "id", "-u"])
        .expect_stdout("/usr/bin/id -u\n", "-l id -u (secure_path)");
    env.run_as_user("alice", &["-l", "-u", "bob", "--", "id", "-g"])
        .expect_stdout("/usr/bin/id -g\n", "-l -u bob");
    // A decoy answers exactly as a grant does.
    env.run_as_user("alice", &["-l", "--", "/usr/bin/base32"])
        .expect_stdout("/usr/bin/base32\n", "-l decoy");
    // Not allowed, whatever the reason: exit 1 and nothing at all.
    for args in [
        &["-l", "--", "/usr/bin/id", "-n"][..],
        &["-l", "--", "/usr/bin/id"],
        &["-l", "--", "/no/such/command"],
        &["-l", "-u", "carol", "--", "/usr/bin/id", "-u"],
        &["-l", "-u", "nosuchuser", "--", "/usr/bin/id", "-u"],
        &["-l", "-g", "mallory", "--", "/usr/bin/id", "-u"],
    ] {
        silent(&env.run_as_user("alice", args), 1, &format!("{args:?}"));
    }
    silent(
        &env.run_as_user("mallory", &["-l", "--", "/usr/bin/id", "-u"]),
        1,
        "mallory has no rule",
    );
    // Nothing ran, nothing alerted: -l is a question.
    assert!(env.audit_events("accept").is_empty());
    assert!(env.audit_events("alert").is_empty());
}

#[test]
fn list_for_another_user_is_for_root_only() {
    let Some(env) = env_with("list_other_user", POLICY) else {
        return;
    };
    for args in [
        &["-l", "-U", "bob"][..],
        &["-l", "-U", "alice"],
        &["-l", "-U", "alice", "--", "/usr/bin/id", "-u"],
    ] {
        env.run_as_user("bob", args)
            .expect_refusal(1, &format!("bob {args:?}"));
    }
    let rejects = env.audit_events("reject");
    assert!(
        rejects
            .iter()
            .all(|r| r["reason"] == "-l -U by a caller other than root"),
        "{rejects:?}"
    );
    // -U without -l is a usage error.
    env.run_as_user("alice", &["-U", "bob", "/usr/bin/id", "-u"])
        .expect_refusal(2, "-U without -l");
    // Root asks for alice: her rules and decoys, as she would see them.
    let o = env.run_as_root(&["-l", "-U", "alice"]);
    o.expect_code(0, "root -l -U alice");
    let text = o.stdout_str();
    assert!(text.starts_with("alice may run"), "{o}");
    assert!(text.contains("/usr/bin/id -u"), "{o}");
    assert!(text.contains("/usr/bin/base32"), "decoy listed\n{o}");
    assert!(
        text.contains("    (root, bob : ops) auth=none /usr/bin/id -u"),
        "run_as_groups listed as sudo does\n{o}"
    );
    env.run_as_root(&["-l", "-U", "alice", "--", "id", "-u"])
        .expect_stdout("/usr/bin/id -u\n", "root -l -U alice CMD");
    silent(
        &env.run_as_root(&["-l", "-U", "bob", "--", "id", "-u"]),
        1,
        "root -l -U bob CMD",
    );
    let o = env.run_as_root(&["-l", "-U", "bob"]);
    o.expect_code(1, "bob has no rule");
    assert!(o.stdout_str().contains("bob may not run"), "{o}");
    env.run_as_root(&["-l", "-U", "nosuchuser"])
        .expect_refusal(1, "unknown user");
}

#[test]
fn remove_all_timestamps_and_its_usage_errors() {
    let Some(env) = env_with("remove_all", POLICY) else {
        return;
    };
    for args in [
        &["-K", "/usr/bin/id", "-u"][..],
        &["-K", "--", "/usr/bin/id"],
        &["-K", "-u", "root"],
        &["-K", "-g", "ops"],
        &["-K", "-s"],
        &["-K", "-i"],
        &["-K", "-D", "/"],
        &["-K", "-k"],
        &["-K", "-n"],
        &["-K", "-l"],
        &["-K", "-v"],
    ] {
        env.run_as_user("alice", args)
            .expect_refusal(2, &format!("{args:?}"));
    }
    // -K removes the caller's timestamp file, whatever session wrote it.
    env.run_as_user("alice", &["-k"]).expect_code(0, "-k");
    let ts = env.run_dir().join("belladonna/ts");
    mkdir_mode(&ts, 0o700);
    let mine = ts.join(ALICE.uid.to_string());
    let bobs = ts.join(BOB.uid.to_string());
    write_mode(&mine, b"{}", 0o600);
    write_mode(&bobs, b"{}", 0o600);
    env.run_as_user("alice", &["-K"]).expect_code(0, "-K");
    assert!(!mine.exists(), "-K removed alice's timestamps");
    assert!(bobs.exists(), "and only hers");
    assert!(env.audit_events("accept").is_empty());
}

#[test]
fn validate_authenticates_and_runs_nothing() {
    let Some(env) = env_with("validate", POLICY) else {
        return;
    };
    // A password rule and -n: the password would be needed, refused.
    let o = env.run_as_user("alice", &["-v", "-n"]);
    o.expect_refusal(1, "-v -n with a password rule");
    assert!(env.audit_events("validate").is_empty());
    // Only rules without a password: nothing to ask, recorded.
    let none_only = POLICY.replace(
        "name = \"alice-cal\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/cal\"]",
        "name = \"alice-cal\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/cal\"]\nauth = \"none\"",
    );
    env.policy(&none_only);
    let o = env.run_as_user("alice", &["-v"]);
    o.expect_code(0, "-v");
    assert!(o.stdout.is_empty() && o.stderr.is_empty(), "{o}");
    let v = env.audit_events("validate");
    assert_eq!(v.len(), 1, "one validate record");
    assert_eq!(v[0]["submituser"], "alice");
    assert!(v[0]["command"].is_null(), "nothing ran: {:?}", v[0]);
    assert!(env.audit_events("accept").is_empty());
    // No rule at all: refused.
    env.run_as_user("mallory", &["-v"])
        .expect_refusal(1, "mallory -v");
    // -v with a command or a run option: usage errors.
    for args in [
        &["-v", "/usr/bin/id"][..],
        &["-v", "-u", "root"],
        &["-v", "-s"],
        &["-v", "-l"],
    ] {
        env.run_as_user("alice", args)
            .expect_refusal(2, &format!("{args:?}"));
    }
    env.assert_verify_ok("validate records verify");
    let o = env.bdctl(&["audit", "show"]);
    assert!(o.stdout_str().contains("validate"), "{o}");
}

#[test]
fn group_flag_follows_run_as_groups() {
    let Some(env) = env_with("group", POLICY) else {
        return;
    };
    // -g without -u: the target is alice herself, gid ops, her groups
    // after it (alice is not in run_as).
    env.run_as_user("alice", &["-g", "ops", "/usr/bin/id", "-u"])
        .expect_stdout("61001\n", "-g ops: the caller");
    env.run_as_user("alice", &["-g", "ops", "/usr/bin/id", "-g"])
        .expect_stdout("61100\n", "-g ops: gid");
    env.run_as_user("alice", &["-g", "ops", "/usr/bin/id", "-G"])
        .expect_stdout("61100 61001\n", "-g ops: groups");
    env.run_as_user("alice", &["-g", "#61100", "/usr/bin/id", "-g"])
        .expect_stdout("61100\n", "-g #gid");
    // With -u: the target with the group first.
    env.run_as_user("alice", &["-u", "bob", "-g", "ops", "/usr/bin/id", "-G"])
        .expect_stdout("61100 61002\n", "-u bob -g ops");
    // The target's own primary group needs no listing.
    env.run_as_user("alice", &["-u", "bob", "-g", "bob", "/usr/bin/id", "-g"])
        .expect_stdout("61002\n", "-u bob -g bob");
    let acc = env.audit_events("accept");
    assert_eq!(acc[0]["runuid"], 61001, "{:?}", acc[0]);
    assert_eq!(acc[0]["rungid"], 61100, "{:?}", acc[0]);
    // A group the rule does not grant, an unknown group, -1: refused.
    let before = env.audit_events("accept").len();
    for args in [
        &["-g", "mallory", "/usr/bin/id", "-g"][..],
        &["-u", "bob", "-g", "mallory", "/usr/bin/id", "-g"],
        &["-u", "root", "-g", "carol", "/usr/bin/id", "-g"],
        &["-g", "nosuchgroup", "/usr/bin/id", "-g"],
        &["-u", "#-1", "-g", "ops", "/usr/bin/id", "-g"],
        &["-u", "#4294967295", "-g", "ops", "/usr/bin/id", "-g"],
        &["-g", "#-1", "/usr/bin/id", "-g"],
        &["-g", "#4294967295", "/usr/bin/id", "-g"],
    ] {
        env.run_as_user("alice", args)
            .expect_refusal(1, &format!("{args:?}"));
    }
    assert_eq!(env.audit_events("accept").len(), before, "nothing ran");
    // A rule without run_as_groups grants no group.
    let no_groups = POLICY.replace("run_as_groups = [\"ops\"]\n", "");
    env.policy(&no_groups);
    env.run_as_user("alice", &["-g", "ops", "/usr/bin/id", "-g"])
        .expect_refusal(1, "no run_as_groups");
}

/// A directory tree for -D: srv/a (0755), srv/bob (0700 bob), srv/carol
/// (0700 carol), srv/link -> /etc. Returns the scratch path as text.
fn dirs(env: &TestEnv) -> String {
    let s = env.scratch();
    for (d, mode, owner) in [
        ("srv", 0o755, 0),
        ("srv/a", 0o755, 0),
        ("srv/bob", 0o700, BOB.uid),
        ("srv/carol", 0o700, CAROL.uid),
    ] {
        let p = s.join(d);
        fs::create_dir_all(&p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        std::os::unix::fs::chown(&p, Some(owner), Some(owner)).unwrap();
    }
    std::os::unix::fs::symlink("/etc", s.join("srv/link")).unwrap();
    s.display().to_string()
}

#[test]
fn chdir_follows_the_rule_and_the_targets_rights() {
    let env = test_env!("chdir");
    let s = dirs(&env);
    env.policy(&format!(
        r#"version = 1
[[rule]]
name = "pwd"
users = ["alice"]
run_as = ["root", "bob"]
commands = ["/usr/bin/pwd"]
auth = "none"
chdir = ["{s}/srv/*"]

[[rule]]
name = "id"
users = ["alice"]
commands = ["/usr/bin/id -u"]
auth = "none"
"#
    ));
    env.run_as_user("alice", &["-D", &format!("{s}/srv/a"), "/usr/bin/pwd"])
        .expect_stdout(&format!("{s}/srv/a\n"), "-D srv/a");
    env.run_as_user("alice", &["--chdir", &format!("{s}/srv/a"), "/usr/bin/pwd"])
        .expect_stdout(&format!("{s}/srv/a\n"), "--chdir srv/a");
    // The target's rights: bob enters his 0700 directory that alice
    // cannot read.
    env.run_as_user(
        "alice",
        &["-u", "bob", "-D", &format!("{s}/srv/bob"), "/usr/bin/pwd"],
    )
    .expect_stdout(&format!("{s}/srv/bob\n"), "-u bob -D srv/bob");
    // Not named by the rule's chdir, or not clean: refused and recorded.
    for d in [
        format!("{s}/srv"),
        format!("{s}/srv/a/.."),
        format!("{s}/srv/a/../a"),
        format!("{s}/srv/a/"),
        "srv/a".to_string(),
        "/etc".to_string(),
    ] {
        env.run_as_user("alice", &["-D", &d, "/usr/bin/pwd"])
            .expect_refusal(1, &format!("-D {d}"));
    }
    let rejects = env.audit_events("reject");
    assert!(
        rejects
            .iter()
            .any(|r| r["reason"] == "directory not allowed by the rule's chdir"),
        "{rejects:?}"
    );
    // A rule without chdir: -D is not allowed.
    env.run_as_user("alice", &["-D", &format!("{s}/srv/a"), "/usr/bin/id", "-u"])
        .expect_refusal(1, "rule without chdir");
    // The target cannot enter it (carol's 0700 directory, as bob): the
    // command does not run.
    let o = env.run_as_user(
        "alice",
        &["-u", "bob", "-D", &format!("{s}/srv/carol"), "/usr/bin/pwd"],
    );
    o.expect_refusal(126, "-u bob -D srv/carol");
    assert!(o.stderr_str().contains("Permission denied"), "{o}");
    // A symbolic link the pattern matches but that leads elsewhere.
    let o = env.run_as_user("alice", &["-D", &format!("{s}/srv/link"), "/usr/bin/pwd"]);
    o.expect_refusal(126, "-D srv/link -> /etc");
    // Monitor mode: the directory is entered in the monitor's child.
    let policy = fs::read_to_string(env.policy_path()).unwrap();
    env.policy(&policy.replace(
        "auth = \"none\"\nchdir",
        "auth = \"none\"\nmonitor = true\nchdir",
    ));
    env.run_as_user("alice", &["-D", &format!("{s}/srv/a"), "/usr/bin/pwd"])
        .expect_stdout(&format!("{s}/srv/a\n"), "-D in monitor mode");
    let exits = env.audit_events("exit");
    assert_eq!(exits.len(), 1, "{exits:?}");
    assert_eq!(exits[0]["status"], 0);
}

/// alice may run /bin/sh as root, alone or with `-c` and anything after
/// it; and bash (root's login shell) the same way.
const SHELLS: &str = r#"version = 1
[defaults]
env_keep = ["TERM", "LANG"]

[[rule]]
name = "sh"
users = ["alice"]
commands = ["/bin/sh", "/bin/sh -c *", "/bin/bash", "/bin/bash -c *"]
auth = "none"
run_as = ["root", "bob"]
"#;

#[test]
fn shell_flag_runs_an_allowed_shell_only() {
    let Some(env) = env_with("shell", SHELLS) else {
        return;
    };
    // -s -- CMD ARGS: SHELL -c 'CMD ARGS' with sudo's escaping: the
    // arguments stay words, `$` still expands.
    env.bdexec("alice")
        .env("SHELL", "/bin/sh")
        .args(["-s", "--", "echo", "a;b  c", "$USER", "x'y"])
        .run()
        .expect_stdout("a;b  c root x'y\n", "-s -- echo ...");
    // -s alone reads the commands from stdin.
    env.bdexec("alice")
        .env("SHELL", "/bin/sh")
        .arg("-s")
        .stdin(b"id -u\n")
        .run()
        .expect_stdout("0\n", "-s");
    // SHELL not absolute or unset: alice's login shell (/bin/sh).
    for shell in [Some("sh"), None] {
        let mut c = env.bdexec("alice").args(["-s", "--", "id", "-u"]);
        if let Some(s) = shell {
            c = c.env("SHELL", s);
        }
        c.run().expect_stdout("0\n", &format!("SHELL={shell:?}"));
    }
    let acc = env.audit_events("accept");
    assert_eq!(acc[0]["command"], "/bin/sh", "{:?}", acc[0]);
    assert_eq!(acc[0]["runargv"][1], "-c", "{:?}", acc[0]);
    // SHELL=/tmp/evil: not allowed, refused; no fallback to another shell.
    let evil = env.scratch().join("evil");
    let marker = env.scratch().join("evil-ran");
    write_mode(
        &evil,
        format!("#!/bin/sh\ntouch {}\n", marker.display()).as_bytes(),
        0o755,
    );
    let before = env.audit_events("accept").len();
    for args in [&["-s"][..], &["-s", "--", "id", "-u"]] {
        let o = env.bdexec("alice").env("SHELL", &evil).args(args).run();
        o.expect_refusal(1, &format!("SHELL=evil {args:?}"));
        assert!(o.stderr_str().contains("evil"), "names the shell\n{o}");
    }
    assert!(!marker.exists(), "the evil shell never ran");
    assert_eq!(env.audit_events("accept").len(), before);
    // A shell the policy allows runs, whatever its path.
    let other = env.etc_executable("other-shell", b"#!/bin/sh\necho other \"$@\"\n");
    env.policy(&format!(
        "{SHELLS}\n[[rule]]\nname = \"other\"\nusers = [\"alice\"]\ncommands = [\"{other} -c *\"]\nauth = \"none\"\n"
    ));
    env.bdexec("alice")
        .env("SHELL", &other)
        .args(["-s", "--", "x", "y"])
        .run()
        .expect_stdout("other -c x y\n", "allowed SHELL");
}

#[test]
fn login_flag_runs_the_targets_login_shell_at_home() {
    let Some(env) = env_with("login", SHELLS) else {
        return;
    };
    // root's login shell (/bin/bash) as a login shell, in /root, with
    // the login environment: alice's LANG is not passed on.
    let o = env
        .bdexec("alice")
        .env("LANG", "C.UTF-8")
        .args([
            "-i",
            "--",
            "echo",
            "$0",
            "$HOME",
            "$USER",
            "$LOGNAME",
            "$SHELL",
            "x${LANG}x",
        ])
        .run();
    o.expect_code(0, "-i -- echo");
    let last = o
        .stdout_str()
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert_eq!(last, "-bash /root root root /bin/bash x${LANG}x", "{o}");
    let o = env
        .bdexec("alice")
        .env("LANG", "C.UTF-8")
        .env("TERM", "xterm-256color")
        .args(["-i", "--", "env"])
        .run();
    o.expect_code(0, "-i -- env");
    let vars = o.stdout_str();
    for want in [
        "HOME=/root",
        "USER=root",
        "LOGNAME=root",
        "SHELL=/bin/bash",
        "TERM=xterm-256color",
    ] {
        assert!(vars.lines().any(|l| l == want), "{want}\n{o}");
    }
    assert!(!vars.lines().any(|l| l.starts_with("LANG=")), "{o}");
    let o = env.bdexec("alice").args(["-i", "--", "pwd"]).run();
    o.expect_code(0, "-i -- pwd");
    assert_eq!(o.stdout_str().lines().last(), Some("/root"), "{o}");
    let acc = env.audit_events("accept");
    assert_eq!(acc[0]["runargv"][0], "-bash", "{:?}", acc[0]);
    assert_eq!(acc[0]["runuser"], "root", "{:?}", acc[0]);
    // bob's home does not exist in the test's world: nothing runs.
    let o = env
        .bdexec("alice")
        .args(["-i", "-u", "bob", "--", "id"])
        .run();
    o.expect_refusal(126, "-i -u bob without a home");
    // The target's shell must be allowed like any command.
    env.policy(&SHELLS.replace(", \"/bin/bash\", \"/bin/bash -c *\"", ""));
    env.bdexec("alice")
        .args(["-i", "--", "pwd"])
        .run()
        .expect_refusal(1, "bash not allowed");
}
