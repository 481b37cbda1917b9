//! A strict command line and sudo-compatible authentication semantics
//! (issue 17), through the real bdexec as unprivileged users: getopt
//! option values, combinations outside the synopsis, output into a closed
//! pipe, callers without an account, PAM's account stage for every rule,
//! who is asked for a password, and TERM. The password cases that need a
//! terminal are in tests/pam.rs.

#[macro_use]
mod common;
use common::*;

use std::fs;
use std::os::unix::fs::PermissionsExt;

/// A policy whose one rule lets alice run `/usr/bin/id -u` as root
/// without a password.
const NONE_POLICY: &str = r#"version = 1
[[rule]]
name = "alice-id"
users = ["alice"]
commands = ["/usr/bin/id -u"]
auth = "none"
"#;

fn no_record(env: &TestEnv, ctx: &str) {
    assert!(
        env.audit_events("accept").is_empty(),
        "{ctx}: nothing may run"
    );
}

#[test]
fn user_values_are_read_as_getopt_reads_them() {
    let _serial = serial();
    let env = std_env!("user_values_are_read_as_getopt_reads_them");
    // `-u=root` is the user "=root" (getopt, sudo), not root.
    let o = env.run_as_user("alice", &["-u=root", "/usr/bin/id", "-u"]);
    o.expect_refusal(1, "-u=root");
    assert!(o.stderr_str().contains("=root"), "names the user\n{o}");
    no_record(&env, "-u=root");
    let o = env.run_as_user("alice", &["--user", "-u", "/usr/bin/id", "-u"]);
    o.expect_refusal(1, "--user -u: the value is the user \"-u\"");
    no_record(&env, "--user -u");
    for args in [
        &["-uroot", "/usr/bin/id", "-u"][..],
        &["-u", "root", "/usr/bin/id", "-u"],
        &["--user", "root", "/usr/bin/id", "-u"],
        &["--user=root", "/usr/bin/id", "-u"],
        &["-nuroot", "--", "/usr/bin/id", "-u"],
    ] {
        env.run_as_user("alice", args)
            .expect_stdout("0\n", &format!("{args:?}"));
    }
    env.run_as_user("alice", &["-ubob", "/usr/bin/id", "-u"])
        .expect_stdout("61002\n", "-ubob");
}

#[test]
fn combinations_outside_the_synopsis_are_usage_errors() {
    let _serial = serial();
    let env = std_env!("combinations_outside_the_synopsis_are_usage_errors");
    let cases: &[&[&str]] = &[
        &["-k", "-u", "root"],
        &["-k", "-n"],
        &["-k", "--token", "/dev/null"],
        &["-u", "bob", "-l"],
        &["-l", "-u", "bob"],
        &["-l", "--token", "/dev/null"],
        &["-u", "root"],
        &["-u", "root", "-u", "bob", "/usr/bin/id", "-u"],
    ];
    for args in cases {
        let o = env.run_as_user("alice", args);
        o.expect_refusal(2, &format!("bdexec {args:?}"));
    }
    no_record(&env, "usage errors");
    // What the synopsis allows still works.
    env.run_as_user("alice", &["-k"]).expect_code(0, "-k");
    env.run_as_user("alice", &["-l", "-n", "-k"])
        .expect_code(0, "-l -n -k");
    env.run_as_user("alice", &["-k", "-n", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "-k -n CMD");
    // Tokens for a rule that takes none: refused (with a record), not
    // ignored.
    let o = env.run_as_user("alice", &["--token", "/dev/null", "/usr/bin/id", "-u"]);
    o.expect_refusal(1, "--token for an auth = none rule");
    assert!(o.stderr_str().contains("takes no approval tokens"), "{o}");
}

/// Output into a pipe whose reader is gone: EPIPE, never SIGPIPE, a
/// panic or an abort; exit 6 (bdexec(8)) with one line on stderr.
#[test]
fn output_into_a_closed_pipe_exits_6() {
    let _serial = serial();
    let env = std_env!("output_into_a_closed_pipe_exits_6");
    let closed = env.compile_c(
        "closed_pipe",
        r#"#include <unistd.h>
int main(int argc, char **argv) {
    int p[2];
    if (argc < 2 || pipe(p) != 0) return 99;
    close(p[0]);
    if (dup2(p[1], 1) != 1) return 98;
    close(p[1]);
    execv(argv[1], argv + 1);
    return 97;
}
"#,
    );
    let bdexec = env.bdexec_path();
    for args in [&["-l"][..], &["-h"], &["-V"]] {
        let o = env.program("alice", &closed).arg(&bdexec).args(args).run();
        o.expect_code(6, &format!("{args:?} into a closed pipe"));
        assert_one_bdexec_line(&o, &format!("{args:?}"));
        assert!(!o.stderr_str().contains("panic"), "{o}");
    }
}

#[test]
fn caller_without_an_account_is_refused() {
    let _serial = serial();
    let env = test_env!("caller_without_an_account_is_refused");
    // mallory's uid and group stay, its passwd entry goes; rules by uid
    // and gid would match it.
    env.policy(
        r##"version = 1
[[rule]]
name = "by-uid"
users = ["#61004"]
commands = ["/usr/bin/id -u"]
auth = "none"
[[rule]]
name = "by-gid"
groups = ["#61004"]
commands = ["/usr/bin/id -g"]
auth = "none"
"##,
    );
    let passwd = env.etc("passwd");
    let text = fs::read_to_string(&passwd).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with("mallory:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(kept, text, "mallory had a passwd entry");
    fs::write(&passwd, kept).unwrap();

    for args in [
        &["/usr/bin/id", "-u"][..],
        &["/usr/bin/id", "-g"],
        &["-l"],
        &["-k"],
    ] {
        let o = env.run_as_user("mallory", args);
        o.expect_refusal(1, &format!("{args:?}"));
        assert!(
            o.stderr_str()
                .contains("you do not exist in the passwd database"),
            "{o}"
        );
    }
    no_record(&env, "no account");
    let rejects = env.audit_events("reject");
    assert_eq!(rejects.len(), 4, "{rejects:?}");
    for r in &rejects {
        assert_eq!(num(&r["submituid"]), Some(61004), "{r}");
        assert!(
            r["reason"]
                .as_str()
                .is_some_and(|s| s.contains("no passwd entry")),
            "{r}"
        );
    }
}

/// The project's PAM service file as packaged.
const PROJECT_PAM: &str = include_str!("../packaging/pam.d/belladonna");

fn pam_service(env: &TestEnv, text: &str) {
    let d = env.etc("pam.d");
    fs::create_dir_all(&d).unwrap();
    write_mode(&d.join("belladonna"), text.as_bytes(), 0o644);
}

/// PAM's account stage holds for `auth = "none"` rules: with the
/// project's service alice runs; with a stack whose account stage is
/// pam_deny she is refused with a record; `pam_account = false` is the
/// documented way out.
#[test]
fn pam_account_stage_for_rules_without_a_password() {
    let _serial = serial();
    let env = test_env!("pam_account_stage_for_rules_without_a_password");
    env.policy(NONE_POLICY);
    pam_service(&env, PROJECT_PAM);
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_stdout("0\n", "project PAM service");

    pam_service(
        &env,
        "auth required pam_unix.so\naccount required pam_deny.so\n",
    );
    let o = env.run_as_user("alice", &["/usr/bin/id", "-u"]);
    o.expect_refusal(1, "account stage pam_deny");
    assert!(o.stderr_str().contains("PAM account stage"), "{o}");
    let rejects = env.audit_events("reject");
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0]["rule"], "alice-id", "{}", rejects[0]);
    // Root under a password rule is not asked, but the account stage
    // still holds for it.
    env.policy(
        "version = 1\n[[rule]]\nname = \"root-pw\"\nusers = [\"root\"]\n\
         commands = [\"/usr/bin/id -u\"]\nauth = \"password\"\n",
    );
    env.run_as_root(&["-n", "/usr/bin/id", "-u"])
        .expect_refusal(1, "root, account stage pam_deny");
    assert_eq!(env.audit_events("accept").len(), 1, "only the first ran");

    env.policy(&format!(
        "version = 1\n[defaults]\npam_account = false\n{}",
        &NONE_POLICY[12..]
    ));
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_stdout("0\n", "pam_account = false");
}

/// Longer than the 3 s after which a file's stamp stands for its bytes
/// (src/policy/stamp.rs).
const SETTLE: std::time::Duration = std::time::Duration::from_millis(3300);

/// A call of `args` as `user` with the test hook paused at `point`:
/// whether it stopped there (it is then continued), and its output.
fn paused_call(env: &TestEnv, user: &str, args: &[&str], point: &str) -> (bool, Out) {
    env.bdexec(user).args(args).run_through_pause(point)
}

/// A call of `id -u` as `user`: whether it stopped at the account memo's
/// hit; it must succeed.
fn user_hits_the_memo(env: &TestEnv, user: &str) -> bool {
    let (stopped, o) = paused_call(env, user, &["/usr/bin/id", "-u"], "account-memo-hit");
    o.expect_stdout("0\n", "id -u as root");
    stopped
}

fn hits_the_memo(env: &TestEnv) -> bool {
    user_hits_the_memo(env, "alice")
}

/// alice's shadow entry with its password aged past its inactivity
/// period (last change on day 1, max 1 day, inactive after 1 more):
/// pam_unix's account stage refuses it, bdexec's own expiry check (the
/// account's expiry date) does not.
fn age_alices_password(env: &TestEnv, aged: bool) {
    let path = env.etc("shadow");
    let text = fs::read_to_string(&path).unwrap();
    let out: String = text
        .lines()
        .map(|l| {
            let mut f: Vec<String> = l.split(':').map(str::to_string).collect();
            if f.first().map(String::as_str) == Some("alice") && f.len() >= 9 {
                let v = if aged {
                    ["1", "1", "1"]
                } else {
                    ["19700", "99999", ""]
                };
                (f[2], f[4], f[6]) = (v[0].into(), v[1].into(), v[2].into());
            }
            f.join(":") + "\n"
        })
        .collect();
    assert!(
        out.lines().any(|l| l.starts_with("alice:")),
        "alice has a shadow entry"
    );
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
    write_mode(&path, out.as_bytes(), mode);
}

/// The account memo (`[defaults] pam_account_memo`, on by default;
/// docs/pam.md "The account memo"): once the files that decide PAM's
/// account verdict are settled, an accepted verdict is taken from the
/// memo without loading PAM; any change to them (here alice's shadow
/// entry) runs PAM again at once and its refusal holds; a module the
/// memo does not know (pam_warn, in the service or in a file it
/// includes) keeps PAM on every call; the stack is taken from its own
/// memo while its files keep their stamps; a memo file
/// that is not root's 0600 is ignored; nscd running keeps PAM on every
/// call; root's calls always run PAM;
/// `pam_account_memo = false` memoises nothing.
#[test]
fn pam_account_memo_holds_only_while_nothing_changed() {
    let _serial = serial();
    let env = test_env!("pam_account_memo_holds_only_while_nothing_changed");
    let memo = env.run_dir().join("belladonna/account.memo");
    let root_rule = "[[rule]]\nname = \"root-id\"\nusers = [\"root\"]\ncommands = [\"/usr/bin/id -u\"]\nauth = \"none\"\n";
    env.policy(&format!("{NONE_POLICY}{root_rule}"));
    pam_service(&env, PROJECT_PAM);
    age_alices_password(&env, false);
    // Just written: nothing is settled, PAM decides, nothing memoised.
    assert!(!hits_the_memo(&env), "fresh files: no memo");
    assert!(!memo.exists(), "not settled: not memoised");
    std::thread::sleep(SETTLE);
    assert!(!hits_the_memo(&env), "settled: PAM runs once, memoised");
    assert_eq!(fs::metadata(&memo).map(|m| m.len()).ok(), Some(32));
    assert!(hits_the_memo(&env), "settled and memoised: no PAM");

    // The stack itself comes from its memo (account.stack) once its files
    // are settled: they are stamped, not read. A change in a file it
    // includes is seen at once; restored, the memo's key holds again.
    assert!(
        env.run_dir().join("belladonna/account.stack").exists(),
        "the stack memo is written"
    );
    let (recalled, o) = paused_call(
        &env,
        "alice",
        &["/usr/bin/id", "-u"],
        "account-stack-recalled",
    );
    o.expect_stdout("0\n", "id -u as root");
    assert!(recalled, "the stack memo is used");
    let common = env.etc("pam.d/common-account");
    let host = fs::read_to_string("/etc/pam.d/common-account").expect("the host's common-account");
    write_mode(
        &common,
        format!("{host}account required pam_warn.so\n").as_bytes(),
        0o644,
    );
    assert!(!hits_the_memo(&env), "pam_warn in an included file");
    std::thread::sleep(SETTLE);
    assert!(
        !hits_the_memo(&env),
        "pam_warn in an included file, settled"
    );
    fs::remove_file(&common).unwrap();
    assert!(hits_the_memo(&env), "the host's include again: memoised");

    // alice's password ages past its inactivity period: refused at once
    // (the shadow file's stamp changed), and still once settled.
    age_alices_password(&env, true);
    let o = env.run_as_user("alice", &["/usr/bin/id", "-u"]);
    o.expect_refusal(1, "aged password, just changed");
    assert!(o.stderr_str().contains("PAM account stage"), "{o}");
    std::thread::sleep(SETTLE);
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_refusal(1, "aged password, settled");
    age_alices_password(&env, false);
    std::thread::sleep(SETTLE);
    assert!(!hits_the_memo(&env), "restored: PAM runs, memoised anew");
    assert!(hits_the_memo(&env), "restored and memoised");

    // A module whose verdict is not a function of the files: PAM runs
    // on every call.
    pam_service(
        &env,
        &format!("{PROJECT_PAM}account required pam_warn.so\n"),
    );
    std::thread::sleep(SETTLE);
    assert!(!hits_the_memo(&env), "pam_warn in the stack");
    assert!(!hits_the_memo(&env), "pam_warn in the stack, again");

    // A memo that is not root's 0600 file is not read (and is replaced).
    pam_service(&env, PROJECT_PAM);
    std::thread::sleep(SETTLE);
    assert!(!hits_the_memo(&env), "stack restored: PAM runs once");
    assert!(hits_the_memo(&env), "memoised");
    fs::set_permissions(&memo, fs::Permissions::from_mode(0o644)).unwrap();
    assert!(!hits_the_memo(&env), "mode 0644: ignored");
    assert!(hits_the_memo(&env), "rewritten 0600 by the call before");

    // nscd running: pam_unix's lookups would come from its cache.
    let nscd = env.run_dir().join("nscd/socket");
    fs::create_dir_all(nscd.parent().unwrap()).unwrap();
    fs::write(&nscd, b"").unwrap();
    assert!(!hits_the_memo(&env), "nscd running");
    assert!(!hits_the_memo(&env), "nscd running, again");
    fs::remove_file(&nscd).unwrap();
    assert!(hits_the_memo(&env), "nscd gone: memoised");

    // Root's calls run PAM every time.
    assert!(!user_hits_the_memo(&env, "root"), "root, first call");
    assert!(!user_hits_the_memo(&env, "root"), "root, again");

    // `pam_account_memo = false`: nothing is memoised or read.
    env.policy(&format!(
        "version = 1\n[defaults]\npam_account_memo = false\n{}",
        &NONE_POLICY[12..]
    ));
    std::thread::sleep(SETTLE);
    assert!(!hits_the_memo(&env), "pam_account_memo off");
    assert!(!hits_the_memo(&env), "pam_account_memo off, again");
    assert_eq!(env.audit_events("reject").len(), 2, "the two refusals");
}

const SELF_AND_ROOT: &str = r#"version = 1
[[rule]]
name = "alice-self"
users = ["alice"]
run_as = ["alice"]
commands = ["/usr/bin/id -u"]
auth = "password"
[[rule]]
name = "root-pw"
users = ["root"]
commands = ["/usr/bin/id -u"]
auth = "password"
"#;

/// Root is not asked for a password (as sudo); a caller targeting
/// itself is (unlike sudo: the rule may grant capabilities); `-l` does
/// not authenticate; `-l` with nothing allowed exits 1.
#[test]
fn who_is_asked_for_a_password() {
    let _serial = serial();
    let env = test_env!("who_is_asked_for_a_password");
    env.policy(SELF_AND_ROOT);
    env.run_as_root(&["-n", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "root under a password rule");
    let o = env.run_as_user("alice", &["-n", "-u", "alice", "/usr/bin/id", "-u"]);
    o.expect_refusal(1, "alice as alice under a password rule");
    assert!(o.stderr_str().contains("a password is required"), "{o}");

    let o = env.run_as_user("alice", &["-n", "-l"]);
    o.expect_code(0, "-l on a password rule, no prompt");
    assert!(o.stdout_str().contains("auth=password"), "{o}");
    let o = env.run_as_user("mallory", &["-l"]);
    o.expect_code(1, "-l with nothing allowed");
    assert!(o.stdout_str().contains("may not run any commands"), "{o}");
}

#[test]
fn term_is_unknown_when_the_caller_has_none() {
    let _serial = serial();
    let env = std_env!("term_is_unknown_when_the_caller_has_none");
    let o = env.run_as_user("alice", &["/usr/bin/env"]);
    o.expect_code(0, "env");
    assert!(o.stdout_str().lines().any(|l| l == "TERM=unknown"), "{o}");
    let o = env
        .bdexec("alice")
        .env("TERM", "xterm-256color")
        .arg("/usr/bin/env")
        .run();
    assert!(
        o.stdout_str().lines().any(|l| l == "TERM=xterm-256color"),
        "{o}"
    );
}

const GROUPS_POLICY: &str = r#"version = 1
[[rule]]
name = "alice-groups"
users = ["alice"]
commands = ["/usr/bin/id -G"]
auth = "none"
"#;

/// A call of `id -G` as root by alice that stops at the group memo's hit
/// (test hooks): whether it stopped there, and the gids the command got.
fn groups_call(env: &TestEnv) -> (bool, Vec<u32>) {
    let (stopped, o) = paused_call(env, "alice", &["/usr/bin/id", "-G"], "groups-memo-hit");
    o.expect_code(0, "id -G as root");
    let gids = o
        .stdout_str()
        .split_whitespace()
        .map(|g| g.parse().expect("a gid"))
        .collect();
    (stopped, gids)
}

/// /etc/group with root a member of exactly `gids` among the test's
/// groups 4701..4799 (the host's lines as they are).
fn root_in(env: &TestEnv, gids: &[u32]) {
    let path = env.etc("group");
    let text = fs::read_to_string(&path).unwrap();
    let mut out: String = text
        .lines()
        .filter(|l| !l.starts_with("memo"))
        .map(|l| format!("{l}\n"))
        .collect();
    for g in 4701..=4703u32 {
        let members = if gids.contains(&g) { "root" } else { "" };
        out.push_str(&format!("memo{g}:x:{g}:{members}\n"));
    }
    write_mode(&path, out.as_bytes(), 0o644);
}

fn nsswitch(env: &TestEnv, group_line: &str) {
    write_mode(
        &env.etc("nsswitch.conf"),
        format!("passwd: files\ngroup: {group_line}\nshadow: files\n").as_bytes(),
        0o644,
    );
}

/// The group memo (docs/performance.md "The group memo"): with Debian's
/// `group: files systemd`, root's groups are taken from the memo once
/// /etc/group and nsswitch.conf are settled, without asking NSS; a change
/// to /etc/group is seen by the very next call (added and removed
/// memberships alike); another NSS source or a running nscd keeps NSS on
/// every call; a memo that is not root's 0600 file is not read.
#[test]
fn group_memo_holds_only_while_etc_group_is_unchanged() {
    let _serial = serial();
    let env = test_env!("group_memo_holds_only_while_etc_group_is_unchanged");
    let memo = env.run_dir().join("belladonna/groups.memo");
    env.policy(GROUPS_POLICY);
    nsswitch(&env, "files systemd");
    root_in(&env, &[4701]);
    let (hit, gids) = groups_call(&env);
    assert!(!hit && gids.contains(&4701), "fresh files: NSS, {gids:?}");
    assert!(!memo.exists(), "not settled: not memoised");
    std::thread::sleep(SETTLE);
    let (hit, gids) = groups_call(&env);
    assert!(!hit && gids.contains(&4701), "settled: NSS once, {gids:?}");
    assert!(memo.exists(), "settled: memoised");
    let (hit, memoised) = groups_call(&env);
    assert!(hit, "settled and memoised: no NSS");
    assert_eq!(memoised, gids, "the memo gives what NSS gave");

    // Root joins a group and leaves one: seen at once, and once settled.
    root_in(&env, &[4702]);
    let (hit, gids) = groups_call(&env);
    assert!(!hit, "just changed: NSS");
    assert!(gids.contains(&4702) && !gids.contains(&4701), "{gids:?}");
    std::thread::sleep(SETTLE);
    assert!(!groups_call(&env).0, "settled: NSS once");
    let (hit, gids) = groups_call(&env);
    assert!(
        hit && gids.contains(&4702) && !gids.contains(&4701),
        "{gids:?}"
    );

    // The memo is what a hit serves: a group added to it (root's 0600
    // file) shows; the same file at 0644 is ignored.
    // Entries: key (32), count (u32), then gid (u32), name length (u8),
    // name per group; the newest last. Walk them to the last one.
    let mut blob = fs::read(&memo).unwrap();
    let (mut at, mut last) = (0, 0);
    while at < blob.len() {
        last = at;
        let count = u32::from_le_bytes(blob[at + 32..at + 36].try_into().unwrap());
        at += 36;
        for _ in 0..count {
            at += 5 + usize::from(blob[at + 4]);
        }
    }
    assert_eq!(at, blob.len(), "the memo's layout");
    let count = u32::from_le_bytes(blob[last + 32..last + 36].try_into().unwrap());
    blob[last + 32..last + 36].copy_from_slice(&(count + 1).to_le_bytes());
    blob.extend_from_slice(&4799u32.to_le_bytes());
    blob.push(6);
    blob.extend_from_slice(b"forged");
    write_mode(&memo, &blob, 0o600);
    let (hit, gids) = groups_call(&env);
    assert!(hit && gids.contains(&4799), "root's memo is read: {gids:?}");
    fs::set_permissions(&memo, fs::Permissions::from_mode(0o644)).unwrap();
    let (hit, gids) = groups_call(&env);
    assert!(!hit && !gids.contains(&4799), "0644: ignored, {gids:?}");
    let (hit, gids) = groups_call(&env);
    assert!(hit && !gids.contains(&4799), "rewritten 0600, {gids:?}");

    // Another source (it may add groups to root), a running nscd (its
    // cache answers): NSS every call.
    nsswitch(&env, "files ldap");
    std::thread::sleep(SETTLE);
    for round in ["first", "second"] {
        let (hit, gids) = groups_call(&env);
        assert!(!hit && gids.contains(&4702), "files ldap, {round}");
    }
    nsswitch(&env, "files systemd");
    fs::create_dir_all(env.run_dir().join("nscd")).unwrap();
    fs::write(env.run_dir().join("nscd/socket"), b"").unwrap();
    std::thread::sleep(SETTLE);
    for round in ["first", "second"] {
        let (hit, gids) = groups_call(&env);
        assert!(!hit && gids.contains(&4702), "nscd, {round}");
    }
    fs::remove_file(env.run_dir().join("nscd/socket")).unwrap();
    assert!(!groups_call(&env).0, "nscd gone: NSS once");
    assert!(groups_call(&env).0, "memoised again");
    assert_eq!(env.audit_events("accept").len(), 15, "every call ran");
}
