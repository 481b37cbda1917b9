//! The static bdexec and its twin (src/exec/twin.rs, src/identity/nss.rs,
//! docs/decisions.md section 19): a call that needs PAM, or an NSS source
//! after `files`, is handed to the dynamically linked twin
//! (../libexec/belladonna/bdexec-pam beside bin/bdexec), which starts it
//! over with the caller's argv, environment, rlimits and umask; a call
//! the memos and /etc files answer never leaves the static bdexec; an
//! untrusted or missing twin refuses with one line and a record.
//!
//! The test build is dynamically linked: `BELLADONNA_TEST_ACT_STATIC`
//! (test hooks) makes bin/bdexec act as the static one, and its twin is
//! the same build at the twin's path. `make test-packages` runs the real
//! static binary and its twin from the packages.

#[macro_use]
mod common;
use common::*;

use std::fs;
use std::os::unix::fs::PermissionsExt;

const SERVICE: &str = "belladonna-test";
const PASSWORD: &str = "Correct horse 42";
const SETTLE: std::time::Duration = std::time::Duration::from_millis(3300);

const POLICY: &str = r#"version = 1
[defaults]
pam_account_memo = MEMO

[[rule]]
name = "alice-pw"
users = ["alice"]
commands = ["/usr/bin/id -u"]
auth = "password"

[[rule]]
name = "bob-none"
users = ["bob"]
run_as = ["root", "carol"]
commands = ["/usr/bin/id *", "/bin/sh *"]
auth = "none"
"#;

fn setup(env: &TestEnv, memo: bool) {
    env.policy(&POLICY.replace("MEMO", if memo { "true" } else { "false" }));
    pam_password_setup(env, SERVICE, "alice", PASSWORD, false);
}

/// [`POLICY`] without PAM's account stage (`pam_account = false`): a
/// call the static bdexec can answer alone, with or without the memo.
fn no_account_stage(env: &TestEnv, memo: bool) {
    env.policy(
        &POLICY
            .replace("MEMO", if memo { "true" } else { "false" })
            .replace("[defaults]\n", "[defaults]\npam_account = false\n"),
    );
}

/// Debian's nsswitch.conf lines for `passwd`, `group` and `shadow`.
fn nsswitch(env: &TestEnv, passwd: &str, group: &str) {
    write_mode(
        &env.etc("nsswitch.conf"),
        format!("passwd: {passwd}\ngroup: {group}\nshadow: files\n").as_bytes(),
        0o644,
    );
}

/// A call of bin/bdexec acting as the static bdexec, paused at the
/// hand-off when it gets there: whether it did, and the output.
fn static_call(env: &TestEnv, user: &str, args: &[&str], stdin: Option<&[u8]>) -> (bool, Out) {
    let mut c = env
        .bdexec_static(user)
        .env("BELLADONNA_TEST_PAM_SERVICE", SERVICE)
        .args(args);
    if let Some(data) = stdin {
        c = c.stdin(data);
    }
    c.run_through_pause("twin-handoff")
}

/// `f` with the twin unusable: its directory world-writable, so the
/// static bdexec refuses it (the twin itself is untouched: its stat is
/// part of the pair's cache and memo keys, src/policy/cache.rs).
fn without_twin<T>(env: &TestEnv, f: impl FnOnce() -> T) -> T {
    let dir = env.twin_path().parent().unwrap().to_path_buf();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let out = f();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    out
}

/// A password rule: PAM runs in the twin, with the password from -S; the
/// call is recorded once, as alice's. Without the twin: one line naming
/// it, a reject record, nothing ran, no prompt.
#[test]
fn a_password_rule_runs_pam_in_the_twin_and_records_once() {
    let _serial = serial();
    let env = test_env!("a_password_rule_runs_pam_in_the_twin_and_records_once");
    setup(&env, true);
    nsswitch(&env, "files", "files");
    let pw = format!("{PASSWORD}\n");
    let (handed, o) = static_call(
        &env,
        "alice",
        &["-S", "/usr/bin/id", "-u"],
        Some(pw.as_bytes()),
    );
    assert!(handed, "PAM: handed to the twin\n{o}");
    o.expect_code(0, "password through the twin");
    assert!(o.stdout_str().ends_with("0\n"), "{o}");
    let accepts = env.audit_events("accept");
    assert_eq!(accepts.len(), 1, "recorded once: {accepts:?}");
    assert_eq!(accepts[0]["submituid"], 61001, "{:#}", accepts[0]);
    assert!(env.audit_events("reject").is_empty());

    let o = without_twin(&env, || {
        static_call(
            &env,
            "alice",
            &["-S", "-k", "/usr/bin/id", "-u"],
            Some(pw.as_bytes()),
        )
        .1
    });
    o.expect_refusal(1, "no twin");
    assert!(
        o.stderr_str().contains("PAM helper") && o.stderr_str().contains("bdexec-pam"),
        "names the twin\n{o}"
    );
    assert_eq!(env.audit_events("accept").len(), 1, "nothing more ran");
    let rejects = env.audit_events("reject");
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert!(
        rejects[0]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("PAM helper"),
        "{:#}",
        rejects[0]
    );
    env.assert_verify_ok("after the twin's calls");
}

/// The account memo and the group memo keep the common call in the
/// static bdexec: once both are written (by the twin), a call of a
/// no-password rule to root needs no twin at all.
#[test]
fn memoised_calls_never_leave_the_static_bdexec() {
    let _serial = serial();
    let env = test_env!("memoised_calls_never_leave_the_static_bdexec");
    setup(&env, true);
    nsswitch(&env, "files systemd", "files systemd");
    std::thread::sleep(SETTLE);
    let (handed, o) = static_call(&env, "bob", &["/usr/bin/id", "-u"], None);
    assert!(handed, "memos empty: the twin\n{o}");
    o.expect_stdout("0\n", "first call");
    let (handed, o) = without_twin(&env, || {
        static_call(&env, "bob", &["/usr/bin/id", "-u"], None)
    });
    assert!(!handed, "memoised: no hand-off\n{o}");
    o.expect_stdout("0\n", "memoised call without a twin");
    assert_eq!(env.audit_events("accept").len(), 2);
    // The account memo is per user: carol's target is not root (its
    // group list may come from nss-systemd): the twin.
    let (handed, o) = without_twin(&env, || {
        static_call(&env, "bob", &["-u", "carol", "/usr/bin/id", "-u"], None)
    });
    assert!(handed, "a non-root target's groups: the twin");
    o.expect_refusal(1, "carol's groups without a twin");
    assert!(o.stderr_str().contains("the groups of carol"), "{o}");
}

/// NSS beyond `files`: with `files` alone nothing goes to the twin; with
/// another source after it, a group list does; with another source
/// first, every lookup does.
#[test]
fn nss_sources_after_files_go_to_the_twin() {
    let _serial = serial();
    let env = test_env!("nss_sources_after_files_go_to_the_twin");
    no_account_stage(&env, true);
    nsswitch(&env, "files", "files");
    let (handed, o) = without_twin(&env, || {
        static_call(&env, "bob", &["-u", "carol", "/usr/bin/id", "-un"], None)
    });
    assert!(!handed, "files only: no hand-off\n{o}");
    o.expect_stdout("carol\n", "files only");

    nsswitch(&env, "files", "files ldap");
    let (handed, o) = static_call(&env, "bob", &["-u", "carol", "/usr/bin/id", "-un"], None);
    assert!(handed, "group: files ldap: the list from the twin\n{o}");
    o.expect_stdout("carol\n", "through the twin");

    nsswitch(&env, "sss files", "files");
    let (handed, o) = without_twin(&env, || {
        static_call(&env, "bob", &["/usr/bin/id", "-u"], None)
    });
    assert!(handed, "passwd: sss first: the twin for everything\n{o}");
    assert_ne!(o.code(), Some(0), "without the twin nothing runs\n{o}");
    let (handed, o) = static_call(&env, "bob", &["/usr/bin/id", "-u"], None);
    assert!(handed);
    o.expect_stdout("0\n", "sss first, through the twin");
    // The test build is not linked statically, so the lookups the twin
    // made ran in the dynamic program; the records are whole.
    env.assert_verify_ok("nss hand-offs");
}

/// The static bdexec reads clean /etc/passwd and /etc/shadow itself
/// (src/identity/files.rs): a memoised call makes no glibc NSS lookup at
/// all, and an account it reads as expired is refused there too. A file
/// glibc reads another way (here a shell with a colon: glibc takes the
/// rest of the line) is left to glibc, whose answer the call then uses
/// (the twin's, when bin/bdexec is built on musl).
#[test]
fn clean_account_files_are_read_without_glibc_nss() {
    let _serial = serial();
    let env = test_env!("clean_account_files_are_read_without_glibc_nss");
    no_account_stage(&env, true);
    nsswitch(&env, "files", "files");
    std::thread::sleep(SETTLE);
    // The first call writes root's group memo (glibc's getgrouplist).
    let call = |what: &str| {
        let (glibc, o) = without_twin(&env, || {
            env.bdexec_static("bob")
                .args(["/usr/bin/id", "-u"])
                .run_through_pause("glibc-nss-confined")
        });
        o.expect_stdout("0\n", what);
        glibc
    };
    call("the memo's first call");
    assert!(!call("memoised"), "clean files: no glibc NSS");

    let passwd_path = env.etc("passwd");
    let clean = fs::read_to_string(&passwd_path).unwrap();
    let odd: String = clean
        .lines()
        .map(|l| match l.strip_prefix("bob:") {
            Some(rest) => format!("bob:{rest}:odd\n"),
            None => format!("{l}\n"),
        })
        .collect();
    assert_ne!(odd, clean, "bob has a passwd line");
    write_mode(&passwd_path, odd.as_bytes(), 0o644);
    if bdexec_is_musl() {
        // musl's own reader is not glibc's: the twin answers.
        let (twin, o) = env
            .bdexec_static("bob")
            .args(["/usr/bin/id", "-u"])
            .run_through_pause("twin-handoff");
        o.expect_stdout("0\n", "an odd line: the twin");
        assert!(twin, "an odd passwd line on musl: the twin answers");
    } else {
        assert!(
            call("an odd line: glibc"),
            "an odd passwd line: glibc answers"
        );
    }
    let accepts = env.audit_events("accept");
    assert_eq!(accepts.len(), 3, "{accepts:?}");
    assert!(
        accepts.iter().all(|a| a["submituser"] == "bob"),
        "glibc and bdexec name the caller alike: {accepts:?}"
    );
    write_mode(&passwd_path, clean.as_bytes(), 0o644);

    let shadow_path = env.etc("shadow");
    let shadow = fs::read_to_string(&shadow_path).unwrap();
    let expired: String = shadow
        .lines()
        .map(|l| match l.strip_prefix("bob:") {
            Some(rest) => {
                let mut f: Vec<&str> = rest.split(':').collect();
                f[6] = "1"; // expired on 1970-01-02
                format!("bob:{}\n", f.join(":"))
            }
            None => format!("{l}\n"),
        })
        .collect();
    assert_ne!(expired, shadow, "bob has a shadow entry");
    write_mode(&shadow_path, expired.as_bytes(), 0o640);
    let (glibc, o) = without_twin(&env, || {
        env.bdexec_static("bob")
            .args(["/usr/bin/id", "-u"])
            .run_through_pause("glibc-nss-confined")
    });
    o.expect_refusal(1, "expired, read by bdexec");
    assert!(o.stderr_str().contains("expired"), "{o}");
    assert!(!glibc, "the shadow file is clean: no glibc NSS\n{o}");
}

/// The twin gets the caller's argv, environment, rlimits and umask: the
/// command's view through the twin is the same as without it.
#[test]
fn the_twin_starts_the_call_over_as_the_caller_made_it() {
    let _serial = serial();
    let env = test_env!("the_twin_starts_the_call_over_as_the_caller_made_it");
    // PAM's account stage on every call: every call goes to the twin.
    setup(&env, false);
    nsswitch(&env, "files", "files");
    let script = r#"printf '[%s]' "$@"; echo; ulimit -n; ulimit -c; umask; id -G"#;
    let args = ["/bin/sh", "-c", script, "sh", "a b", "", "c"];
    let run = |acting_static: bool| {
        let c = if acting_static {
            env.bdexec_static("bob")
        } else {
            env.bdexec("bob")
        };
        c.env("BELLADONNA_TEST_PAM_SERVICE", SERVICE)
            .rlimit(libc::RLIMIT_NOFILE, 200, 4096)
            .rlimit(libc::RLIMIT_CORE, 0, 0)
            .umask(0o027)
            .args(args)
            .run_through_pause("twin-handoff")
    };
    let (handed, through_twin) = run(true);
    assert!(handed, "PAM account stage: the twin\n{through_twin}");
    through_twin.expect_code(0, "through the twin");
    let (_, direct) = run(false);
    direct.expect_code(0, "the dynamic bdexec");
    assert_eq!(through_twin.stdout_str(), direct.stdout_str());
    assert!(
        through_twin
            .stdout_str()
            .starts_with("[a b][][c]\n200\n0\n0027\n"),
        "{through_twin}"
    );
    let accepts = env.audit_events("accept");
    assert_eq!(accepts.len(), 2, "one record per call");
    assert_eq!(accepts[0]["runargv"], accepts[1]["runargv"]);
}

/// The twin must be root's, not writable by group or others, in a
/// directory of the same kind; and it refuses without its capabilities.
/// Each refusal: one line, nothing ran.
#[test]
fn an_untrusted_twin_is_refused() {
    let _serial = serial();
    let env = test_env!("an_untrusted_twin_is_refused");
    setup(&env, false);
    nsswitch(&env, "files", "files");
    let twin = env.twin_path();
    let dir = twin.parent().unwrap().to_path_buf();
    let call = |what: &str| {
        let (handed, o) = static_call(&env, "bob", &["/usr/bin/id", "-u"], None);
        assert!(handed, "{what}: handed off\n{o}");
        o.expect_refusal(if what == "no capabilities" { 5 } else { 1 }, what);
        o
    };
    fs::set_permissions(&twin, fs::Permissions::from_mode(0o775)).unwrap();
    let o = call("group-writable twin");
    assert!(o.stderr_str().contains("writable"), "{o}");
    fs::set_permissions(&twin, fs::Permissions::from_mode(0o755)).unwrap();

    std::os::unix::fs::chown(&twin, Some(61004), None).unwrap();
    let o = call("twin owned by mallory");
    assert!(o.stderr_str().contains("bdexec-pam"), "{o}");
    std::os::unix::fs::chown(&twin, Some(0), None).unwrap();

    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    call("world-writable directory");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();

    // chown dropped the capabilities: the twin itself refuses to start.
    let o = call("no capabilities");
    assert!(o.stderr_str().contains("capabilit"), "{o}");
    assert!(env.audit_events("accept").is_empty(), "nothing ran");
}

/// A call that needs neither PAM nor NSS beyond `files` runs in the
/// static bdexec from start to end, monitor mode included: its fork, the
/// fd hygiene of the monitor and the `exit` record after the command
/// (whose record id needs random bytes: the static build takes them
/// from getrandom(2), not from a cached /dev/urandom descriptor that the
/// monitor's hygiene closes). Under `make test-static` this is the real
/// static program.
#[test]
fn the_static_path_runs_monitor_mode_to_its_exit_record() {
    let env = test_env!("the_static_path_runs_monitor_mode_to_its_exit_record");
    env.policy(
        r#"version = 1
[defaults]
pam_account = false

[[rule]]
name = "bob-monitored"
users = ["bob"]
commands = ["/usr/bin/id -u"]
auth = "none"
monitor = true
"#,
    );
    nsswitch(&env, "files", "files");
    for round in 0..3 {
        let (handed, o) = static_call(&env, "bob", &["/usr/bin/id", "-u"], None);
        assert!(
            !handed,
            "round {round}: no PAM, files only: no hand-off\n{o}"
        );
        o.expect_stdout("0\n", "monitored call");
    }
    assert_eq!(env.audit_events("accept").len(), 3);
    assert_eq!(env.audit_events("exit").len(), 3, "every exit recorded");
    env.assert_verify_ok("monitored static calls");
}

/// The caller's memory limits reach the twin (it must hand them on to
/// the command): a hand-off under a small RLIMIT_AS or RLIMIT_STACK
/// ends in the command's run or a clear refusal, never in a process
/// killed by a signal; nothing is recorded for a call that did not run.
#[test]
fn small_memory_limits_across_the_hand_off() {
    let env = test_env!("small_memory_limits_across_the_hand_off");
    setup(&env, false);
    nsswitch(&env, "files", "files");
    // (limit, soft, hard): soft under a larger hard limit is raised for
    // the privileged part; a stack under 256 KiB is refused before the
    // hand-off (the twin's start runs under it).
    let cases: &[(libc::__rlimit_resource_t, u64, u64)] = &[
        (libc::RLIMIT_AS, 24 << 20, 24 << 20),
        (libc::RLIMIT_AS, 48 << 20, 48 << 20),
        (libc::RLIMIT_AS, 96 << 20, 96 << 20),
        (libc::RLIMIT_STACK, 64 << 10, 8 << 20),
        (libc::RLIMIT_STACK, 128 << 10, 8 << 20),
        (libc::RLIMIT_DATA, 4 << 20, 4 << 20),
    ];
    for &(r, soft, hard) in cases {
        let ctx = format!("limit {r} = {soft}:{hard}");
        let before = env.audit_lines().len();
        let o = env
            .bdexec_static("bob")
            .env("BELLADONNA_TEST_PAM_SERVICE", SERVICE)
            .rlimit(r, soft, hard)
            .args(["/usr/bin/id", "-u"])
            .run();
        let code = o
            .code()
            .unwrap_or_else(|| panic!("{ctx}: killed by a signal\n{o}"));
        match code {
            0 => {
                assert_eq!(o.stdout_str(), "0\n", "{ctx}\n{o}");
                assert_eq!(env.audit_lines().len(), before + 1, "{ctx}: one record");
            }
            1 | 3 | 4 | 5 => assert_one_bdexec_line(&o, &ctx),
            _ => panic!("{ctx}: undocumented exit {code}\n{o}"),
        }
        if r == libc::RLIMIT_STACK {
            assert_eq!(code, 1, "{ctx}: a stack too small for the twin\n{o}");
            assert!(o.stderr_str().contains("RLIMIT_STACK"), "{o}");
        }
        loud(&format!("small_memory_limits: {ctx}: exit {code}"));
    }
}

/// A call makes its record durable through the sync group file
/// (/run/belladonna/audit-synced, group commit: src/audit/writer/group.rs)
/// wherever the log's file system reports a birth time, which the static
/// bdexec (musl: its standard library's metadata has none) reads with its
/// own statx; here on the static path itself, not handed to the twin.
/// The file names the log by device, inode and birth time, and says the
/// whole log is durable. Without a birth time the writer syncs
/// under the log lock and has no group file: that branch is skipped here.
#[test]
fn the_durable_write_goes_through_the_sync_group() {
    use std::os::unix::fs::MetadataExt;
    let env = test_env!("the_durable_write_goes_through_the_sync_group");
    env.policy(
        r#"version = 1
[defaults]
pam_account = false

[[rule]]
name = "bob-id"
users = ["bob"]
commands = ["/usr/bin/id -u"]
auth = "none"
"#,
    );
    nsswitch(&env, "files", "files");
    let (handed, o) = static_call(&env, "bob", &["/usr/bin/id", "-u"], None);
    assert!(!handed, "no PAM, files only: no hand-off\n{o}");
    o.expect_stdout("0\n", "bob runs id -u as root");
    let log = std::fs::metadata(env.audit_path()).expect("the audit log");
    let Ok(born) = log.created() else {
        common::loud(
            "SKIPPED (the log's file system reports no birth time): the_durable_write_goes_through_the_sync_group",
        );
        return;
    };
    let born = born
        .duration_since(std::time::UNIX_EPOCH)
        .expect("born after 1970");
    let group = std::fs::read(env.run_dir().join("belladonna/audit-synced"))
        .expect("the sync group file exists after a call");
    assert!(group.len() >= 56, "{} bytes", group.len());
    assert_eq!(&group[..8], b"BDSYNC01");
    let w = |i: usize| u64::from_le_bytes(group[8 + 8 * i..16 + 8 * i].try_into().unwrap());
    assert_eq!(w(0), log.dev(), "device");
    assert_eq!(w(1), log.ino(), "inode");
    assert_eq!(
        (w(2), w(3)),
        (born.as_secs(), u64::from(born.subsec_nanos())),
        "birth time"
    );
    assert_eq!(w(4), log.len(), "the whole log is durable");
    assert_eq!(w(5), 0, "no failed sync");
}

/// The target's groups on the static path are glibc's. A clean
/// /etc/group is read by bdexec itself: no glibc lookup, no twin. Any
/// other goes to glibc: the twin, when bin/bdexec is built on musl,
/// whose own reader takes a commented-out line as a group, wraps a gid
/// too large for 32 bits and skips a `+` gid. The reference is glibc's
/// `getgrouplist` in the same namespace (`id -G carol`).
#[test]
fn the_target_gets_glibcs_groups_on_the_static_path() {
    let _serial = serial();
    let env = test_env!("the_target_gets_glibcs_groups_on_the_static_path");
    no_account_stage(&env, false);
    nsswitch(&env, "files", "files");
    let sorted = |o: &Out| {
        let mut v: Vec<u64> = o
            .stdout_str()
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let glibc = || {
        let o = env
            .program("bob", "/usr/bin/id")
            .args(["-G", "carol"])
            .run();
        o.expect_code(0, "glibc's getgrouplist");
        sorted(&o)
    };
    // Whether the call went beyond bdexec's own reading (to the twin on
    // musl, to glibc's `files` source otherwise), and carol's groups.
    let call = || {
        let pause = if bdexec_is_musl() {
            "twin-handoff"
        } else {
            "glibc-nss-confined"
        };
        let (beyond, o) = env
            .bdexec_static("bob")
            .args(["-u", "carol", "/usr/bin/id", "-G"])
            .run_through_pause(pause);
        o.expect_code(0, "id -G as carol");
        (beyond, sorted(&o))
    };
    let path = env.etc("group");
    let host = fs::read_to_string(&path).unwrap();

    let clean = format!("{host}extra:x:7101:bob,carol\nextra2:x:7102:carol\nsame:x:7101:carol\n");
    write_mode(&path, clean.as_bytes(), 0o644);
    let want = glibc();
    assert!(want.contains(&7101) && want.contains(&7102), "{want:?}");
    let (beyond, got) = call();
    assert_eq!(got, want, "a clean file: glibc's groups");
    assert!(!beyond, "a clean file is read by bdexec alone");

    let odd = format!(
        "{clean}#gone:x:7103:carol\nplus:x:+7105:carol\nbig:x:99999999999:carol\n spaced:x:7104:carol\n"
    );
    write_mode(&path, odd.as_bytes(), 0o644);
    let want = glibc();
    assert!(want.contains(&7105), "glibc reads +7105 as 7105: {want:?}");
    assert!(
        !want.contains(&1_215_752_191),
        "glibc skips the large gid: {want:?}"
    );
    let (beyond, got) = call();
    assert_eq!(got, want, "lines read another way: still glibc's groups");
    assert!(beyond, "lines bdexec does not read go to glibc");
    env.assert_verify_ok("groups");
}

/// validate's recheck of a `%group` target's membership before exec
/// (src/bdexec/validate.rs) on the static path, where bdexec reads a
/// clean /etc/group itself: carol leaves ops while the call waits
/// between decision and exec, and the command is refused.
#[test]
fn a_membership_changed_before_exec_is_seen_on_the_static_path() {
    let _serial = serial();
    let env = test_env!("a_membership_changed_before_exec_is_seen_on_the_static_path");
    env.policy(
        "version = 1\n[defaults]\npam_account = false\n[[rule]]\nname = \"ops-targets\"\nusers = [\"bob\"]\nrun_as = [\"%ops\"]\ncommands = [\"/usr/bin/id -un\"]\nauth = \"none\"\n",
    );
    nsswitch(&env, "files", "files");
    let call = || {
        env.bdexec_static("bob")
            .args(["-u", "carol", "--", "/usr/bin/id", "-un"])
    };
    let (twin, o) = call().run_through_pause("twin-handoff");
    o.expect_stdout("carol\n", "carol is in ops");
    assert!(!twin, "a clean /etc/group: no twin");
    let mut running = call()
        .env("BELLADONNA_TEST_PAUSE", "before-target-groups")
        .spawn();
    assert!(
        running.wait_stopped(std::time::Duration::from_secs(20)),
        "bdexec paused before the recheck"
    );
    // In place (same inode: the namespace's overlay keeps it).
    let group = env.etc("group");
    let text = fs::read_to_string(&group).unwrap();
    assert!(text.contains(":carol\n"), "{text}");
    fs::write(&group, text.replace(":carol\n", ":\n")).unwrap();
    running.resume();
    let o = running.wait();
    o.expect_refusal(1, "membership changed before exec");
    assert!(o.stderr_str().contains("groups of carol changed"), "{o}");
    call()
        .run()
        .expect_refusal(1, "carol left ops: refused at the decision");
    env.assert_verify_ok("membership");
}
