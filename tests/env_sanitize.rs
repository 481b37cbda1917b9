//! The command's environment is built from scratch (DESIGN 4 step 3):
//! allow-list, PATH = secure_path, the target's HOME/USER/LOGNAME/SHELL,
//! BDEXEC_* and SUDO_* from the kernel's view of the caller; never LD_*,
//! BASH_FUNC_*, or a TZ that is a path.

#[macro_use]
mod common;
use common::*;
use std::collections::BTreeMap;

const SECURE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn policy(env_keep: &str) -> String {
    format!(
        r##"version = 1

[defaults]
secure_path = "{SECURE_PATH}"
env_keep = {env_keep}

[[rule]]
name = "env"
users = ["alice"]
run_as = ["root", "bob"]
commands = ["/usr/bin/env"]
auth = "none"
"##
    )
}

/// A policy without `[defaults]`: the default secure_path and env_keep.
const NO_DEFAULTS_POLICY: &str = r##"version = 1
[[rule]]
name = "env"
users = ["alice"]
commands = ["/usr/bin/env"]
auth = "none"
"##;

/// Parse `env` output (NAME=value per line).
fn parse_env(o: &Out) -> BTreeMap<String, String> {
    o.stdout_str()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn root_shell() -> String {
    std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("root:"))
        .and_then(|l| l.rsplit(':').next())
        .unwrap()
        .to_string()
}

/// Hostile caller variables that must never reach the command.
const HOSTILE: &[(&str, &str)] = &[
    ("LD_PRELOAD", "/tmp/evil.so"),
    ("LD_LIBRARY_PATH", "/tmp/evil"),
    ("LD_AUDIT", "/tmp/evil.so"),
    ("LD_FOO", "not stripped by the loader"),
    ("BASH_FUNC_x%%", "() { echo pwned; }"),
    ("BASH_FUNC_ls()", "() { echo pwned; }"),
    ("BASH_ENV", "/tmp/evil.sh"),
    ("ENV", "/tmp/evil.sh"),
    ("IFS", "x"),
    ("PS4", "$(touch /tmp/pwned)"),
    ("SHELLOPTS", "xtrace"),
    ("PYTHONPATH", "/tmp/evil"),
    ("PERL5LIB", "/tmp/evil"),
    ("GCONV_PATH", "/tmp/evil"),
    ("FOO", "bar"),
    ("LANGUAGE", "xx"),
    ("TZ", "/etc/shadow"),
    ("BDEXEC_USER", "root"),
    ("BDEXEC_UID", "0"),
    ("SUDO_USER", "root"),
    ("SUDO_UID", "0"),
    ("SUDO_COMMAND", "/bin/forged"),
    ("HOME", "/tmp/evilhome"),
    ("SHELL", "/tmp/evilshell"),
    ("USER", "root"),
    ("PATH", "/tmp/evil:/usr/bin:/bin"),
];

#[test]
fn environment_is_built_from_scratch() {
    let env = test_env!("environment_is_built_from_scratch");
    env.policy(&policy(r#"["TERM", "LANG", "LC_*"]"#));
    let mut call = env.bdexec("alice").args(["--", "/usr/bin/env"]);
    for (k, v) in HOSTILE {
        call = call.env(k, v);
    }
    let call = call
        .env("TERM", "xterm-test")
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C")
        .env("LC_MESSAGES", "C");
    let o = call.run();
    o.expect_code(0, "env");
    let e = parse_env(&o);

    assert_eq!(
        e.get("PATH").map(String::as_str),
        Some(SECURE_PATH),
        "PATH = secure_path\n{o}"
    );
    assert_eq!(
        e.get("HOME").map(String::as_str),
        Some("/root"),
        "target's HOME\n{o}"
    );
    assert_eq!(e.get("USER").map(String::as_str), Some("root"), "{o}");
    assert_eq!(e.get("LOGNAME").map(String::as_str), Some("root"), "{o}");
    assert_eq!(e.get("SHELL"), Some(&root_shell()), "target's shell\n{o}");
    let uid = ALICE.uid.to_string();
    let gid = ALICE.gid.to_string();
    for (k, v) in [
        ("BDEXEC_USER", "alice"),
        ("BDEXEC_UID", uid.as_str()),
        ("BDEXEC_GID", gid.as_str()),
        ("BDEXEC_COMMAND", "/usr/bin/env"),
        ("SUDO_USER", "alice"),
        ("SUDO_UID", uid.as_str()),
        ("SUDO_GID", gid.as_str()),
        ("SUDO_COMMAND", "/usr/bin/env"),
    ] {
        assert_eq!(
            e.get(k).map(String::as_str),
            Some(v),
            "{k} from the kernel's view of the caller\n{o}"
        );
    }
    for (k, v) in [
        ("TERM", "xterm-test"),
        ("LANG", "C.UTF-8"),
        ("LC_ALL", "C"),
        ("LC_MESSAGES", "C"),
    ] {
        assert_eq!(
            e.get(k).map(String::as_str),
            Some(v),
            "{k} is kept by env_keep\n{o}"
        );
    }
    for k in e.keys() {
        assert!(!k.starts_with("LD_"), "{k} must never pass\n{o}");
        assert!(!k.starts_with("BASH_FUNC_"), "{k} must never pass\n{o}");
    }
    for k in [
        "BASH_ENV",
        "ENV",
        "IFS",
        "PS4",
        "SHELLOPTS",
        "PYTHONPATH",
        "PERL5LIB",
        "GCONV_PATH",
        "FOO",
        "LANGUAGE",
        "TZ",
    ] {
        assert!(
            !e.contains_key(k),
            "{k} is not in env_keep and must be dropped\n{o}"
        );
    }
    // Nothing beyond what the design lists (MAIL tolerated: sudo sets it).
    let allowed = |k: &str| {
        matches!(
            k,
            "PATH" | "HOME" | "USER" | "LOGNAME" | "SHELL" | "TERM" | "LANG" | "MAIL"
        ) || k.starts_with("LC_")
            || k.starts_with("BDEXEC_")
            || k.starts_with("SUDO_")
    };
    let extra: Vec<_> = e.keys().filter(|k| !allowed(k)).collect();
    assert!(extra.is_empty(), "unexpected variables {extra:?}\n{o}");
    assert!(
        !o.stdout_str().contains("pwned") && !o.stdout_str().contains("/tmp/evil"),
        "{o}"
    );
}

/// BDEXEC_COMMAND holds the command with its arguments (as SUDO_COMMAND).
#[test]
fn command_variable_has_arguments() {
    let env = test_env!("command_variable_has_arguments");
    env.policy(
        r##"version = 1
[[rule]]
name = "env"
users = ["alice"]
commands = ["/usr/bin/env *"]
auth = "none"
"##,
    );
    let o = env.run_as_user("alice", &["--", "/usr/bin/env", "-u", "NOTHING"]);
    o.expect_code(0, "env -u NOTHING");
    let e = parse_env(&o);
    assert_eq!(
        e.get("BDEXEC_COMMAND").map(String::as_str),
        Some("/usr/bin/env -u NOTHING"),
        "{o}"
    );
    assert_eq!(
        e.get("SUDO_COMMAND").map(String::as_str),
        Some("/usr/bin/env -u NOTHING"),
        "{o}"
    );
}

/// With `-u bob` the command gets bob's HOME, USER, LOGNAME and SHELL.
#[test]
fn target_identity_variables() {
    let env = test_env!("target_identity_variables");
    env.policy(&policy(r#"["TERM"]"#));
    let o = env
        .bdexec("alice")
        .args(["-u", "bob", "--", "/usr/bin/env"])
        .env("HOME", "/home/alice")
        .run();
    o.expect_code(0, "env as bob");
    let e = parse_env(&o);
    for (k, v) in [
        ("HOME", BOB.home),
        ("USER", "bob"),
        ("LOGNAME", "bob"),
        ("SHELL", BOB.shell),
        ("BDEXEC_USER", "alice"),
    ] {
        assert_eq!(e.get(k).map(String::as_str), Some(v), "{k}\n{o}");
    }
    assert_eq!(e.get("PATH").map(String::as_str), Some(SECURE_PATH), "{o}");
}

/// TZ listed in env_keep still never passes as a path (sudo's tz check).
#[test]
fn tz_that_is_a_path_is_dropped() {
    let env = test_env!("tz_that_is_a_path_is_dropped");
    env.policy(&policy(r#"["TERM", "TZ"]"#));
    for tz in [
        "/etc/shadow",
        ":/etc/shadow",
        "../../../../etc/shadow",
        ":../../etc/shadow",
        "UTC/../../../../etc/shadow",
    ] {
        let o = env
            .bdexec("alice")
            .args(["--", "/usr/bin/env"])
            .env("TZ", tz)
            .run();
        o.expect_code(0, &format!("TZ={tz}"));
        assert!(
            !parse_env(&o).contains_key("TZ"),
            "TZ={tz} must be dropped\n{o}"
        );
    }
    for tz in ["UTC", "CET-1CEST"] {
        let o = env
            .bdexec("alice")
            .args(["--", "/usr/bin/env"])
            .env("TZ", tz)
            .run();
        o.expect_code(0, &format!("TZ={tz}"));
        assert_eq!(
            parse_env(&o).get("TZ").map(String::as_str),
            Some(tz),
            "TZ={tz} is kept\n{o}"
        );
    }
}

/// env_keep cannot let LD_* or BASH_FUNC_* through: the policy is either
/// refused (exit 3, one line) or the variables are still dropped.
#[test]
fn env_keep_cannot_whitelist_loader_or_bash_functions() {
    let env = test_env!("env_keep_cannot_whitelist_loader_or_bash_functions");
    env.policy(&policy(r#"["TERM", "LD_PRELOAD", "LD_*", "BASH_FUNC_*"]"#));
    let o = env
        .bdexec("alice")
        .args(["--", "/usr/bin/env"])
        .env("LD_PRELOAD", "/tmp/evil.so")
        .env("LD_FOO", "x")
        .env("BASH_FUNC_x%%", "() { echo pwned; }")
        .env("TERM", "xterm")
        .run();
    match o.code() {
        Some(3) => {
            o.expect_refusal(3, "policy that keeps LD_* refused");
        }
        Some(0) => {
            let e = parse_env(&o);
            assert!(
                e.keys()
                    .all(|k| !k.starts_with("LD_") && !k.starts_with("BASH_FUNC_")),
                "LD_*/BASH_FUNC_* must never pass, even listed in env_keep\n{o}"
            );
            assert_eq!(e.get("TERM").map(String::as_str), Some("xterm"), "{o}");
        }
        _ => panic!("expected exit 0 (vars dropped) or 3 (policy refused)\n{o}"),
    }
}

/// With no [defaults], PATH is the default secure_path and terminal and
/// locale variables are kept.
#[test]
fn defaults_when_omitted() {
    let env = test_env!("defaults_when_omitted");
    env.policy(NO_DEFAULTS_POLICY);
    let o = env
        .bdexec("alice")
        .args(["--", "/usr/bin/env"])
        .env("TERM", "vt100")
        .env("LANG", "C.UTF-8")
        .env("LC_TIME", "C")
        .env("TZ", "UTC")
        .env("EDITOR", "vi")
        .run();
    o.expect_code(0, "env");
    let e = parse_env(&o);
    assert_eq!(e.get("PATH").map(String::as_str), Some(SECURE_PATH), "{o}");
    for (k, v) in [("TERM", "vt100"), ("LANG", "C.UTF-8"), ("LC_TIME", "C")] {
        assert_eq!(
            e.get(k).map(String::as_str),
            Some(v),
            "{k} kept by default\n{o}"
        );
    }
    assert!(!e.contains_key("EDITOR"), "{o}");
    assert!(
        !e.contains_key("TZ"),
        "TZ is not in the default env_keep\n{o}"
    );
}

/// Issue 8 item 2: with the default env_keep, a LANGUAGE into the caller's
/// directory made a root `ls` load the caller's catalog, and `%` format
/// strings leaked pointers. Locale and terminal values holding `/` or `%`
/// are dropped, and the accept record names them.
#[test]
fn locale_and_terminal_paths_and_format_strings_dropped() {
    let env = test_env!("locale_and_terminal_paths_and_format_strings_dropped");
    env.policy(NO_DEFAULTS_POLICY);
    let o = env
        .bdexec("alice")
        .args(["--", "/usr/bin/env"])
        .env("LANGUAGE", "../../../../home/alice/evil")
        .env("LANG", "C.UTF-8")
        .env("LC_MESSAGES", "/home/alice/locale")
        .env("LC_TIME", "%p%p%p")
        .env("TERM", "../../home/alice/terminfo")
        .env("COLORTERM", "truecolor")
        .env("LINES", "%n")
        .run();
    o.expect_code(0, "env");
    let e = parse_env(&o);
    for k in ["LANGUAGE", "LC_MESSAGES", "LC_TIME", "LINES"] {
        assert!(!e.contains_key(k), "{k} must be dropped\n{o}");
    }
    // The caller's TERM is dropped; the command gets sudo's stand-in.
    assert_eq!(e.get("TERM").map(String::as_str), Some("unknown"), "{o}");
    assert_eq!(e.get("LANG").map(String::as_str), Some("C.UTF-8"), "{o}");
    assert_eq!(
        e.get("COLORTERM").map(String::as_str),
        Some("truecolor"),
        "{o}"
    );
    let acc = env.audit_events("accept");
    let last = acc.last().expect("an accept record");
    let mut dropped: Vec<&str> = last["env_dropped"]
        .as_array()
        .unwrap_or_else(|| panic!("env_dropped in {last}"))
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    dropped.sort_unstable();
    assert_eq!(
        dropped,
        ["LANGUAGE", "LC_MESSAGES", "LC_TIME", "LINES", "TERM"],
        "{last}"
    );
    env.assert_verify_ok("after env_dropped");
}

/// Ten thousand caller variables: handled, none of them passes.
#[test]
fn ten_thousand_environment_variables() {
    let env = test_env!("ten_thousand_environment_variables");
    env.policy(&policy(r#"["TERM", "LC_*"]"#));
    let mut call = env.bdexec("alice").args(["--", "/usr/bin/env"]);
    for i in 0..10_000 {
        call = call.env(format!("JUNK_{i}"), format!("value-{i}"));
    }
    let o = call.env("TERM", "xterm").run();
    o.expect_code(0, "10,000 variables");
    let e = parse_env(&o);
    assert!(e.keys().all(|k| !k.starts_with("JUNK_")), "{o}");
    assert_eq!(e.get("TERM").map(String::as_str), Some("xterm"), "{o}");
    assert!(
        e.len() < 40,
        "a small, rebuilt environment ({} vars)\n{o}",
        e.len()
    );
    assert_eq!(env.audit_events("accept").len(), 1);
    env.assert_verify_ok("after 10,000 variables");
}

/// Issue 12 item 4: a rule's own `env_keep` adds to `[defaults]
/// env_keep` for that rule only, and its `secure_path` is that rule's
/// `PATH` (the bare command name is still resolved with `[defaults]
/// secure_path`).
#[test]
fn a_rules_env_keep_and_secure_path_are_its_own() {
    let env = test_env!("a_rules_env_keep_and_secure_path_are_its_own");
    env.policy(&format!(
        r##"version = 1

[defaults]
secure_path = "{SECURE_PATH}"
env_keep = ["TERM"]

[[rule]]
name = "agent"
users = ["alice"]
commands = ["/usr/bin/env"]
auth = "none"
env_keep = ["SSH_AUTH_SOCK"]
secure_path = "/usr/bin:/bin"

[[rule]]
name = "plain"
users = ["alice"]
commands = ["/usr/bin/printenv"]
auth = "none"
"##
    ));
    let run = |cmd: &str| {
        let o = env
            .bdexec("alice")
            .args(["--", cmd])
            .env("SSH_AUTH_SOCK", "/tmp/ssh-agent.sock")
            .env("TERM", "vt100")
            .env("EDITOR", "vi")
            .run();
        o.expect_code(0, cmd);
        let e = parse_env(&o);
        (e, o)
    };
    // A bare name: resolved with [defaults] secure_path.
    let (e, o) = run("env");
    assert_eq!(
        e.get("SSH_AUTH_SOCK").map(String::as_str),
        Some("/tmp/ssh-agent.sock"),
        "the rule's env_keep keeps it\n{o}"
    );
    assert_eq!(e.get("TERM").map(String::as_str), Some("vt100"), "{o}");
    assert!(!e.contains_key("EDITOR"), "{o}");
    assert_eq!(
        e.get("PATH").map(String::as_str),
        Some("/usr/bin:/bin"),
        "the rule's secure_path is its PATH\n{o}"
    );
    let (e, o) = run("/usr/bin/printenv");
    assert!(
        !e.contains_key("SSH_AUTH_SOCK"),
        "another rule does not keep it\n{o}"
    );
    assert_eq!(e.get("TERM").map(String::as_str), Some("vt100"), "{o}");
    assert_eq!(e.get("PATH").map(String::as_str), Some(SECURE_PATH), "{o}");
}
