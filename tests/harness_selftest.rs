//! Checks of the test harness itself (runs without any bdexec logic):
//! the namespace shows the test's /etc layer, users and directories, and
//! the bdexec copy carries exactly the installed file capabilities
//! (`BDEXEC_FILE_CAPS`), permitted only.

#[macro_use]
mod common;

#[test]
fn namespace_has_test_users_and_dirs() {
    let env = test_env!("namespace_has_test_users_and_dirs");
    env.policy("version = 1\n");
    let o = env.sh_in_ns(
        "alice",
        "id -u; id -G; getent passwd bob | cut -d: -f3; stat -c '%a %U' /etc/belladonna/policy.toml /var/log/belladonna /var/lib/belladonna; test -e /run/belladonna && echo run-exists || echo no-run; touch /etc/x 2>/dev/null && echo etc-writable || echo etc-ro",
    );
    o.expect_stdout(
        "61001\n61001\n61002\n600 root\n700 root\n700 root\nno-run\netc-ro\n",
        "namespace view as alice",
    );
    let o = env.program("carol", "/usr/bin/id").arg("-G").run();
    o.expect_stdout("61003 61100\n", "carol is in ops");
    let o = env.sh_in_ns("root", "as_user carol id -G; as_user alice id -un");
    o.expect_stdout("61003 61100\nalice\n", "as_user in root scripts");
}

#[test]
fn bdexec_copy_has_permitted_caps_only_and_no_setuid() {
    let env = test_env!("bdexec_copy_has_permitted_caps_only_and_no_setuid");
    let o = std::process::Command::new("getcap")
        .arg(env.bdexec_path())
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    // getcap prints the set sorted by capability number.
    assert!(
        s.contains("cap_setgid,cap_setuid,cap_setpcap,cap_net_bind_service=p"),
        "getcap: {s}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.bdexec_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o6000, 0, "no setuid/setgid bit: {mode:o}");
}

#[test]
fn caller_rlimits_fds_and_umask_are_applied() {
    let env = test_env!("caller_rlimits_fds_and_umask_are_applied");
    let o = env
        .program("bob", "/bin/sh")
        .args([
            "-c",
            "umask; ulimit -f; test -e /proc/$$/fd/0 && echo fd0-open || echo fd0-closed",
        ])
        .umask(0o077)
        .rlimit(libc::RLIMIT_FSIZE, 512, 512)
        .close_fd(0)
        .run();
    o.expect_stdout(
        "0077\n1\nfd0-closed\n",
        "umask 077, FSIZE 1 block, fd 0 closed",
    );
}
