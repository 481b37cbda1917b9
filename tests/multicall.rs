//! Multi-call binaries and aliases (issue 8, item 1): one file often has
//! several personalities, chosen by the name it is called by (vim/rview,
//! bzcat/bunzip2, sh/dash, systemctl/reboot, busybox applets). An allow
//! rule grants the name it writes: the caller's path must have the rule's
//! base name and directory (symlinks in the directory part followed) and
//! open the rule's file; the target's argv[0] is the rule's path as
//! written; a deny rule denies every name of its file (DESIGN 5).
//!
//! Real binaries and real links on the real filesystem, through the real
//! bdexec as unprivileged users. Links a caller could make are made by the
//! caller itself (alice) in a directory of its own.

#[macro_use]
mod common;
use common::*;
use std::os::unix::fs::symlink;
use std::path::Path;

/// Prints its argv[0], effective uid and argument count.
const PROBE_C: &str = r#"
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    printf("argv0=%s euid=%d argc=%d\n", argc > 0 ? argv[0] : "(none)", (int)geteuid(), argc);
    return 0;
}
"#;

/// The argv[0] probe as `/etc/bdtest/bin/systemctl`, with a symlink
/// `/etc/bdtest/sbin/reboot` to it (systemd's layout in miniature).
/// Returns the probe's path.
fn install_probe(env: &TestEnv) -> String {
    let probe = env.compile_c("probe", PROBE_C);
    let bin = env.etc_executable("bdtest/bin/systemctl", &std::fs::read(&probe).unwrap());
    std::fs::create_dir_all(env.etc("bdtest/sbin")).unwrap();
    symlink(&bin, env.etc("bdtest/sbin/reboot")).unwrap();
    bin
}

/// True on a merged-/usr system (/bin is /usr/bin).
fn merged_usr() -> bool {
    std::fs::canonicalize("/bin").ok() == std::fs::canonicalize("/usr/bin").ok()
}

/// Run a shell script as alice (in the test's namespace).
fn as_alice(env: &TestEnv, script: &str) {
    env.sh_in_ns("alice", &format!("set -e\n{script}"))
        .expect_code(0, "alice's set-up script");
}

/// A symbolic link `NAME -> TARGET` that alice makes in a new directory
/// `DIR` of her own under the scratch directory: what any caller can do.
/// Returns the link's path.
fn alice_link(env: &TestEnv, dir: &str, name: &str, target: &str) -> String {
    let d = env.scratch().join(dir);
    as_alice(
        env,
        &format!("mkdir -p {d}\nln -s {target} {d}/{name}", d = d.display()),
    );
    format!("{}/{name}", d.display())
}

/// The policy: one allow rule for alice (auth none) with these commands,
/// then `more` (further TOML).
fn alice_may(env: &TestEnv, commands: &[&str], more: &str) {
    let list: Vec<String> = commands.iter().map(|c| format!("{c:?}")).collect();
    env.policy(&format!(
        "version = 1\n[[rule]]\nname = \"alice\"\nusers = [\"alice\"]\ncommands = [{}]\nauth = \"none\"\n{more}",
        list.join(", ")
    ));
}

/// Each of `cmds`, with `args`, is refused for alice (exit 1, one line).
fn refused(env: &TestEnv, cmds: &[&str], args: &[&str]) {
    for cmd in cmds {
        let mut argv = vec!["--", cmd];
        argv.extend_from_slice(args);
        env.run_as_user("alice", &argv)
            .expect_refusal(1, &format!("{cmd} {args:?}: another name"));
    }
}

/// The last record's `reason`.
fn last_reason(env: &TestEnv) -> String {
    env.audit_lines()
        .last()
        .and_then(|r| r["reason"].as_str().map(String::from))
        .unwrap_or_default()
}

/// `/usr/bin/rview` (read-only, restricted vim) and `/usr/bin/vim` are one
/// file through the alternatives symlinks: a grant of rview is not a grant
/// of vim, under any name the caller can give it.
#[test]
fn rview_rule_does_not_allow_vim() {
    let env = test_env!("rview_rule_does_not_allow_vim");
    assert!(
        Path::new("/usr/bin/rview").exists() && Path::new("/usr/bin/vim").exists(),
        "vim is not installed (make deps, or apt-get install -y vim)"
    );
    let rview = std::fs::metadata("/usr/bin/rview").unwrap();
    let vim = std::fs::metadata("/usr/bin/vim").unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (rview.dev(), rview.ino()),
        (vim.dev(), vim.ino()),
        "rview and vim are one file here (the case under test)"
    );
    alice_may(
        &env,
        &["/usr/bin/rview /etc/hostname", "/usr/bin/rview --version"],
        "",
    );
    let vim_link = alice_link(&env, "v", "vim", "/usr/bin/rview");
    let rview_link = alice_link(&env, "w", "rview", "/usr/bin/vim");
    let real = std::fs::canonicalize("/usr/bin/vim").unwrap();
    let real = real.to_str().unwrap();
    for cmd in ["/usr/bin/vim", "vim", real, &vim_link, &rview_link] {
        env.run_as_user("alice", &["--", cmd, "/etc/hostname"])
            .expect_refusal(1, &format!("{cmd} is not rview"));
        assert_eq!(last_reason(&env), "no rule allows this command", "{cmd}");
    }
    // The rule's own name runs, as rview (vim reports its version and
    // exits without a terminal).
    let o = env.run_as_user("alice", &["--", "rview", "--version"]);
    o.expect_code(0, "rview --version");
    assert!(o.stdout_str().starts_with("VIM - Vi IMproved"), "{o}");
    env.assert_verify_ok("after the vim calls");
}

/// bzcat, bunzip2 and bzip2 are hard links of one file: a grant of the
/// read-only bzcat does not let bunzip2 write and delete files as root.
#[test]
fn bzcat_rule_does_not_allow_bunzip2() {
    let env = test_env!("bzcat_rule_does_not_allow_bunzip2");
    assert!(
        Path::new("/usr/bin/bzcat").exists() && Path::new("/usr/bin/bunzip2").exists(),
        "bzip2 is not installed (make deps, or apt-get install -y bzip2)"
    );
    alice_may(&env, &["/usr/bin/bzcat *"], "");
    let d = env.scratch().join("bz");
    let file = d.join("data.bz2");
    as_alice(
        &env,
        &format!(
            "mkdir {d}\necho secret-data | bzip2 > {f}",
            d = d.display(),
            f = file.display(),
        ),
    );
    let f = file.to_str().unwrap();
    let link = alice_link(&env, "link", "bzcat", "/usr/bin/bunzip2");
    for cmd in [
        "/usr/bin/bunzip2",
        "bunzip2",
        "/usr/bin/bzip2",
        "/bin/bunzip2",
        &link,
    ] {
        env.run_as_user("alice", &["--", cmd, f])
            .expect_refusal(1, &format!("{cmd} is not bzcat"));
        assert!(file.exists(), "{cmd}: the .bz2 is still there");
        assert!(!d.join("data").exists(), "{cmd}: nothing was decompressed");
    }
    env.run_as_user("alice", &["--", "/usr/bin/bzcat", f])
        .expect_stdout("secret-data\n", "bzcat itself");
    // Merged /usr: /bin/bzcat is the rule's directory entry.
    let o = env.run_as_user("alice", &["--", "/bin/bzcat", f]);
    if merged_usr() {
        o.expect_stdout("secret-data\n", "/bin/bzcat is /usr/bin/bzcat here");
    } else {
        o.expect_refusal(1, "/bin is another directory here");
    }
    assert!(file.exists() && !d.join("data").exists());
}

/// /bin/sh is dash: `/bin/sh -c id` does not allow `/usr/bin/dash -c id`;
/// the bare name `sh` (secure_path finds /usr/bin/sh) is the rule's entry
/// on merged /usr.
#[test]
fn sh_rule_does_not_allow_dash() {
    let env = test_env!("sh_rule_does_not_allow_dash");
    let sh = std::fs::canonicalize("/bin/sh").unwrap();
    assert_eq!(
        sh.file_name().and_then(|n| n.to_str()),
        Some("dash"),
        "/bin/sh is dash here (the case under test)"
    );
    alice_may(&env, &["/bin/sh -c id"], "");
    let link = alice_link(&env, "x", "sh", "/bin/sh");
    refused(
        &env,
        &["/usr/bin/dash", "/bin/dash", "dash", &link],
        &["-c", "id"],
    );
    let o = env.run_as_user("alice", &["--", "/bin/sh", "-c", "id"]);
    o.expect_code(0, "/bin/sh -c id");
    assert!(o.stdout_str().starts_with("uid=0(root)"), "{o}");
    let o = env.run_as_user("alice", &["--", "sh", "-c", "id"]);
    if merged_usr() {
        o.expect_code(0, "sh -> /usr/bin/sh, the rule's entry on merged /usr");
        let a = env.audit_events("accept");
        let last = a.last().unwrap();
        assert_eq!(last["command"], "/usr/bin/sh", "{last:#}");
        assert_eq!(
            last["runargv"][0], "/bin/sh",
            "argv[0] is the rule's: {last:#}"
        );
    } else {
        o.expect_refusal(1, "sh -> /usr/bin/sh, another directory here");
    }
}

/// systemctl-style aliases: `reboot` and `halt` are symlinks to one
/// program that acts on the name it is called by. A grant of `reboot *`
/// allows neither the program's own name, nor a sibling alias, nor a
/// caller-made link to the file in the caller's own directory; the
/// program always sees the rule's path as argv[0], also when the caller
/// names the rule's entry through a symlinked directory (the merged-/usr
/// case, or a link the caller made to the rule's directory) or a relative
/// path.
#[test]
fn symlink_alias_gets_the_rules_name() {
    let env = test_env!("symlink_alias_gets_the_rules_name");
    let bin = install_probe(&env);
    symlink(&bin, env.etc("bdtest/sbin/halt")).unwrap();
    // /etc/bdtest/usr-sbin is /etc/bdtest/sbin, as /sbin is /usr/sbin.
    symlink("sbin", env.etc("bdtest/usr-sbin")).unwrap();
    alice_may(&env, &["/etc/bdtest/sbin/reboot *"], "");
    let mine = alice_link(&env, "a", "reboot", "/etc/bdtest/bin/systemctl");
    let mine_halt = alice_link(&env, "b", "halt", "/etc/bdtest/sbin/reboot");
    refused(
        &env,
        &[
            "/etc/bdtest/bin/systemctl",
            "/etc/bdtest/sbin/halt",
            "/etc/bdtest/usr-sbin/halt",
            &mine,
            &mine_halt,
        ],
        &["start", "x"],
    );
    let want = "argv0=/etc/bdtest/sbin/reboot euid=0 argc=3\n";
    env.run_as_user("alice", &["--", "/etc/bdtest/sbin/reboot", "now", "x"])
        .expect_stdout(want, "the rule's own path");
    env.run_as_user("alice", &["--", "/etc/bdtest/usr-sbin/reboot", "now", "x"])
        .expect_stdout(
            want,
            "through the symlinked directory: argv[0] is the rule's",
        );
    // A directory link alice makes to the rule's directory names the same
    // directory entry (as in sudo, which compares canonical directories):
    // allowed, with the rule's argv[0].
    let dir_link = alice_link(&env, "c", "sbin", "/etc/bdtest/sbin");
    env.run_as_user("alice", &["--", &format!("{dir_link}/reboot"), "now", "x"])
        .expect_stdout(want, "through alice's link to the rule's directory");
    env.bdexec("alice")
        .args(["--", "./reboot", "now", "x"])
        .cwd("/etc/bdtest/sbin")
        .run()
        .expect_stdout(want, "a relative path: argv[0] is the rule's");
    env.bdexec("alice")
        .args(["--", "../usr-sbin/./reboot", "now", "x"])
        .cwd("/etc/bdtest/bin")
        .run()
        .expect_stdout(want, "a relative path through the link");
    // The accept record: the path as named, the argv as run.
    let a = env.audit_events("accept");
    let last = a.last().unwrap();
    assert_eq!(
        last["command"], "/etc/bdtest/bin/../usr-sbin/./reboot",
        "{last:#}"
    );
    let argv: Vec<&str> = last["runargv"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(argv, ["/etc/bdtest/sbin/reboot", "now", "x"], "{last:#}");
}

/// The host's own systemctl aliases, where systemd provides them: the
/// rule's name is the personality (reboot's help, not systemctl's), and
/// systemctl itself is refused.
#[test]
fn systemd_reboot_rule_does_not_allow_systemctl() {
    let env = test_env!("systemd_reboot_rule_does_not_allow_systemctl");
    let same = |a: &str, b: &str| {
        std::fs::canonicalize(a).is_ok()
            && std::fs::canonicalize(a).ok() == std::fs::canonicalize(b).ok()
    };
    if !same("/usr/sbin/reboot", "/usr/bin/systemctl") {
        loud(
            "systemd_reboot_rule_does_not_allow_systemctl: /usr/sbin/reboot is not systemctl on this host: nothing to check (the symlink_alias test covers the case)",
        );
        return;
    }
    alice_may(&env, &["/usr/sbin/reboot --help"], "");
    refused(
        &env,
        &[
            "/usr/bin/systemctl",
            "systemctl",
            "/usr/sbin/halt",
            "/usr/sbin/poweroff",
        ],
        &["--help"],
    );
    let o = env.run_as_user("alice", &["--", "/usr/sbin/reboot", "--help"]);
    o.expect_code(0, "reboot --help");
    assert!(
        o.stdout_str().contains("reboot [OPTIONS...]"),
        "reboot's own help: {o}"
    );
}

/// busybox: one file, every applet. A grant of one applet link is not a
/// grant of busybox itself, of a sibling applet, or of a caller-made
/// link; the granted applet runs as itself.
#[test]
fn busybox_applet_rule_is_one_applet() {
    let env = test_env!("busybox_applet_rule_is_one_applet");
    let bb = ["/usr/bin/busybox", "/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox is not installed (make deps, or apt-get install -y busybox)");
    std::fs::create_dir_all(env.etc("bdtest/bb")).unwrap();
    symlink(bb, env.etc("bdtest/bb/echo")).unwrap();
    symlink(bb, env.etc("bdtest/bb/sh")).unwrap();
    alice_may(&env, &["/etc/bdtest/bb/echo *"], "");
    let mine = alice_link(&env, "b", "echo", bb);
    env.run_as_user("alice", &["--", bb, "sh", "-c", "id"])
        .expect_refusal(1, "busybox itself");
    env.run_as_user("alice", &["--", "/etc/bdtest/bb/sh", "-c", "id"])
        .expect_refusal(1, "a sibling applet");
    env.run_as_user("alice", &["--", &mine, "hi"])
        .expect_refusal(1, "a caller-made applet link");
    env.run_as_user("alice", &["--", "/etc/bdtest/bb/echo", "hi", "there"])
        .expect_stdout("hi there\n", "the granted applet, as echo");
}

/// Deny rules match by the file alone: denying any name of a file denies
/// all of them, whatever name an allow rule or the caller uses.
#[test]
fn deny_rule_covers_every_name_of_the_file() {
    let env = test_env!("deny_rule_covers_every_name_of_the_file");
    let sh = std::fs::canonicalize("/bin/sh").unwrap();
    assert_eq!(
        sh,
        Path::new("/usr/bin/dash"),
        "/bin/sh is /usr/bin/dash here (the case under test)"
    );
    install_probe(&env);
    alice_may(
        &env,
        &["/etc/bdtest/sbin/reboot *", "/bin/sh -c id"],
        r##"
[[rule]]
name = "no-systemctl"
users = ["alice"]
action = "deny"
commands = ["/etc/bdtest/bin/systemctl *"]

[[rule]]
name = "no-dash"
users = ["alice"]
action = "deny"
commands = ["/usr/bin/dash *"]
"##,
    );
    let mine = alice_link(&env, "d", "reboot", "/etc/bdtest/sbin/reboot");
    for (cmd, rule) in [
        ("/etc/bdtest/sbin/reboot", "no-systemctl"),
        ("/etc/bdtest/bin/systemctl", "no-systemctl"),
        (mine.as_str(), "no-systemctl"),
    ] {
        env.run_as_user("alice", &["--", cmd, "now"])
            .expect_refusal(1, &format!("{cmd}: denied"));
        let r = env.audit_events("reject");
        assert_eq!(r.last().unwrap()["rule"], rule, "{cmd}");
        assert_eq!(r.last().unwrap()["reason"], "denied by rule", "{cmd}");
    }
    for cmd in ["/bin/sh", "sh", "/usr/bin/dash"] {
        env.run_as_user("alice", &["--", cmd, "-c", "id"])
            .expect_refusal(1, &format!("{cmd}: dash is denied"));
        let r = env.audit_events("reject");
        assert_eq!(r.last().unwrap()["rule"], "no-dash", "{cmd}");
    }
}
