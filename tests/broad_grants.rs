//! The broad grants real sudoers files use (issue 12): `commands =
//! ["ALL"]`, `run_as = ["ALL"]`, group targets (`run_as = ["%ops"]`,
//! checked on the target's current groups) and command directories
//! (`"/dir/ *"`), through the real bdexec as unprivileged users.

#[macro_use]
mod common;
use common::*;
use std::os::unix::fs::{PermissionsExt, symlink};

/// Prints its argv[0], real and effective uid and its groups count.
const PROBE_C: &str = r#"
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    printf("argv0=%s uid=%d euid=%d\n", argc > 0 ? argv[0] : "(none)", (int)getuid(), (int)geteuid());
    return 0;
}
"#;

/// The last record's `reason` ("" when none).
fn last_reason(env: &TestEnv) -> String {
    let mut lines = env.audit_lines();
    let last = lines.pop().unwrap_or_default();
    last["reason"].as_str().unwrap_or_default().to_string()
}

/// `ALL` (password-less here) runs any command as any target, records it,
/// gives argv[0] as the caller's resolved path; a deny rule naming a shell
/// still wins, by inode, under another name.
#[test]
fn all_runs_any_command_and_deny_still_wins() {
    let env = test_env!("all_runs_any_command_and_deny_still_wins");
    let probe = env.compile_c("probe", PROBE_C);
    let probe = env.etc_executable("bdtest/bin/probe", &std::fs::read(&probe).unwrap());
    env.policy(
        "version = 1\n\
         [[rule]]\nname = \"admins\"\nusers = [\"alice\"]\nrun_as = [\"ALL\"]\ncommands = [\"ALL\"]\nauth = \"none\"\n\
         [[rule]]\nname = \"no-shells\"\nusers = [\"alice\"]\naction = \"deny\"\ncommands = [\"/usr/bin/dash *\"]\n",
    );
    // Without -u: root (sudo's default for ALL).
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "ALL as root");
    env.run_as_user("alice", &["-u", "bob", "--", "/usr/bin/id", "-un"])
        .expect_stdout("bob\n", "ALL as bob");
    // argv[0]: the caller's resolved path (the rule names none).
    let o = env.run_as_user("alice", &["--", probe.as_str()]);
    o.expect_code(0, "probe");
    assert!(
        o.stdout_str()
            .starts_with(&format!("argv0={probe} uid=0 euid=0")),
        "{o}"
    );
    let accepts = env.audit_events("accept");
    let last = accepts.last().expect("an accept record");
    assert_eq!(last["rule"].as_str(), Some("admins"), "{last}");
    // dash is /bin/sh: denied under every name.
    for sh in ["/bin/sh", "/usr/bin/sh", "/usr/bin/dash", "sh"] {
        env.run_as_user("alice", &["--", sh, "-c", "id"])
            .expect_refusal(1, &format!("{sh}: denied by inode"));
        assert_eq!(last_reason(&env), "denied by rule", "{sh}");
    }
    // bob has no rule.
    env.run_as_user("bob", &["--", "/usr/bin/id"])
        .expect_refusal(1, "bob");
    // -l says what it is.
    let l = env.run_as_user("alice", &["-l"]);
    l.expect_code(0, "-l");
    assert!(l.stdout_str().contains("    (ALL) auth=none ALL\n"), "{l}");
    assert!(
        l.stdout_str().contains("    denied: /usr/bin/dash *\n"),
        "{l}"
    );
    env.assert_verify_ok("after the ALL calls");
}

/// `run_as = ["%ops"]`: any member of ops (carol), not others (bob), and
/// not because the caller is in ops.
#[test]
fn group_target_is_a_member_of_the_group() {
    let env = test_env!("group_target_is_a_member_of_the_group");
    env.policy(
        "version = 1\n[[rule]]\nname = \"ops-targets\"\nusers = [\"alice\", \"carol\"]\nrun_as = [\"%ops\"]\ncommands = [\"/usr/bin/id -un\"]\nauth = \"none\"\n",
    );
    env.run_as_user("alice", &["-u", "carol", "--", "/usr/bin/id", "-un"])
        .expect_stdout("carol\n", "carol is in ops");
    for t in ["bob", "root", "alice"] {
        env.run_as_user("alice", &["-u", t, "--", "/usr/bin/id", "-un"])
            .expect_refusal(1, &format!("{t} is not in ops"));
    }
    // carol is in ops; as caller that does not make bob a target.
    env.run_as_user("carol", &["-u", "bob", "--", "/usr/bin/id", "-un"])
        .expect_refusal(1, "the caller's groups don't count");
    // Without -u the default is root, not a member: refused.
    env.run_as_user("alice", &["--", "/usr/bin/id", "-un"])
        .expect_refusal(1, "root is not in ops");
}

/// The target's membership is read again at exec: carol leaves ops while
/// bdexec waits between decision and exec, and the command is refused.
#[test]
fn group_target_membership_changed_before_exec_is_refused() {
    let env = test_env!("group_target_membership_changed_before_exec_is_refused");
    env.policy(
        "version = 1\n[[rule]]\nname = \"ops-targets\"\nusers = [\"alice\"]\nrun_as = [\"%ops\"]\ncommands = [\"/usr/bin/id -un\"]\nauth = \"none\"\n",
    );
    let mut running = env
        .bdexec("alice")
        .env("BELLADONNA_TEST_PAUSE", "before-target-groups")
        .args(["-u", "carol", "--", "/usr/bin/id", "-un"])
        .spawn();
    assert!(
        running.wait_stopped(std::time::Duration::from_secs(20)),
        "bdexec paused"
    );
    // Rewrite in place (same inode: the namespace's overlay keeps it).
    let group = env.etc("group");
    let text = std::fs::read_to_string(&group).unwrap();
    assert!(text.contains(":carol\n"), "{text}");
    std::fs::write(&group, text.replace(":carol\n", ":\n")).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(running.pid()),
        nix::sys::signal::SIGCONT,
    )
    .unwrap();
    let o = running.wait();
    o.expect_refusal(1, "membership changed");
    assert!(o.stderr_str().contains("groups of carol changed"), "{o}");
    assert!(last_reason(&env).contains("changed between decision and exec"));
    // Now carol is no member: refused at the decision.
    env.run_as_user("alice", &["-u", "carol", "--", "/usr/bin/id", "-un"])
        .expect_refusal(1, "carol left ops");
}

/// `"/etc/bdtest/plugins/ *"`: any plain file directly in the directory;
/// not a symlink in it, not a file in a subdirectory, nothing once the
/// directory is writable by others.
#[test]
fn command_directory() {
    let env = test_env!("command_directory");
    let probe = std::fs::read(env.compile_c("probe", PROBE_C)).unwrap();
    let check = env.etc_executable("bdtest/plugins/check_a", &probe);
    let deep = env.etc_executable("bdtest/plugins/sub/check_b", &probe);
    let other = env.etc_executable("bdtest/other/check_c", &probe);
    symlink(&other, env.etc("bdtest/plugins/link")).unwrap();
    env.policy(
        "version = 1\n[[rule]]\nname = \"plugins\"\nusers = [\"alice\"]\ncommands = [\"/etc/bdtest/plugins/ *\"]\nauth = \"none\"\n",
    );
    let o = env.run_as_user("alice", &["--", check.as_str(), "-w", "1"]);
    o.expect_code(0, "a plugin");
    assert!(
        o.stdout_str().starts_with(&format!("argv0={check} uid=0")),
        "{o}"
    );
    for cmd in [deep.as_str(), "/etc/bdtest/plugins/link", other.as_str()] {
        env.run_as_user("alice", &["--", cmd])
            .expect_refusal(1, &format!("{cmd} is not in the directory"));
    }
    // Writable by others: nothing in it matches.
    let dir = env.etc("bdtest/plugins");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    env.run_as_user("alice", &["--", check.as_str()])
        .expect_refusal(1, "world-writable directory");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.run_as_user("alice", &["--", check.as_str()])
        .expect_code(0, "fixed");
}

/// The stock administrators' grant, `%ops ALL=(ALL:ALL) ALL` as imported:
/// ALL with a password. Without a way to prompt (`-n`) it is refused with
/// a record: the auth of an ALL rule is enforced like any other. (A
/// prompted password through real PAM is covered by tests/pam.rs for the
/// auth step, which does not depend on the rule's commands.)
#[test]
fn all_with_password_needs_the_password() {
    let env = test_env!("all_with_password_needs_the_password");
    env.policy(
        "version = 1\n[[rule]]\nname = \"admins\"\ngroups = [\"ops\"]\nrun_as = [\"ALL\"]\ncommands = [\"ALL\"]\nauth = \"password\"\n",
    );
    env.run_as_user("carol", &["-n", "--", "/usr/bin/id", "-u"])
        .expect_refusal(1, "ALL needs the password");
    let r = env.audit_events("reject");
    let last = r.last().expect("a reject record");
    assert_eq!(last["rule"].as_str(), Some("admins"), "{last}");
    assert!(env.audit_events("accept").is_empty());
    // bob is not in ops: no rule at all.
    env.run_as_user("bob", &["-n", "--", "/usr/bin/id", "-u"])
        .expect_refusal(1, "bob");
    assert_eq!(last_reason(&env), "no rule allows this command");
}
