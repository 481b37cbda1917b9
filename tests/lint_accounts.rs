//! `bdctl policy check` against the accounts of a host (issue 16 item 1):
//! names NSS's `files` source holds are found in one read of /etc/passwd
//! and /etc/group, and every other name is still asked of NSS, whatever
//! source answers it. Each test in its own namespace with its own /etc
//! (nsswitch.conf, passwd, group, and nss-systemd's drop-in user records
//! in /etc/userdb, which nss-systemd reads without systemd running).

#[macro_use]
mod common;
use common::*;

/// A policy naming `users` (one rule each) and the group `wheel-ish`.
fn policy(users: &[&str]) -> String {
    let mut p = String::from("version = 1\n");
    for (i, u) in users.iter().enumerate() {
        p.push_str(&format!(
            "[[rule]]\nname = \"r{i}\"\nusers = [\"{u}\"]\ncommands = [\"/usr/bin/true\"]\nauth = \"none\"\n"
        ));
    }
    p.push_str(
        "[[rule]]\nname = \"g\"\ngroups = [\"lintgroup\"]\ncommands = [\"/usr/bin/true\"]\nauth = \"none\"\n",
    );
    p
}

/// `bdctl policy check --json` of `text` in `env`: the unknown-account
/// findings' messages and the error count.
fn check(env: &TestEnv, text: &str) -> (Vec<String>, u64) {
    let file = env.scratch().join("lint.toml");
    std::fs::write(&file, text).expect("write policy");
    let o = env.bdctl(&["policy", "check", "--json", file.to_str().expect("utf-8")]);
    let v: serde_json::Value =
        serde_json::from_str(&o.stdout_str()).unwrap_or_else(|e| panic!("{e}\n{o}"));
    let unknown = v["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["message"].as_str())
                .filter(|m| m.contains("unknown"))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    (unknown, v["counts"]["error"].as_u64().unwrap_or(u64::MAX))
}

/// /etc/passwd and /etc/group with `n` more accounts and the group
/// `lintgroup`; nsswitch.conf's passwd and group lines; one user only
/// nss-systemd knows (a drop-in record, not in /etc/passwd).
fn setup(env: &TestEnv, n: usize, sources: &str) {
    let mut passwd = std::fs::read_to_string(env.etc("passwd")).expect("passwd");
    let mut group = std::fs::read_to_string(env.etc("group")).expect("group");
    for i in 0..n {
        passwd.push_str(&format!(
            "lint{i}:x:{}:{}::/nonexistent:/usr/sbin/nologin\n",
            70000 + i,
            70000 + i
        ));
    }
    // A comment glibc skips, and a short line it takes (its parser fills
    // the missing fields) where bdctl's one read of the file does not:
    // that name must then be asked of NSS.
    passwd.push_str("# lintcomment:x:1:1::/:/bin/sh\nlintshort:x:2:2\n");
    group.push_str("lintgroup:x:69999:\n");
    write_mode(&env.etc("passwd"), passwd.as_bytes(), 0o644);
    write_mode(&env.etc("group"), group.as_bytes(), 0o644);
    write_mode(
        &env.etc("nsswitch.conf"),
        format!("passwd: {sources}\ngroup: {sources}\nshadow: files\n").as_bytes(),
        0o644,
    );
    mkdir_mode(&env.etc("userdb"), 0o755);
    write_mode(
        &env.etc("userdb/lintghost.user"),
        br#"{"userName":"lintghost","uid":69998,"gid":69998,"homeDirectory":"/","shell":"/bin/sh"}"#,
        0o644,
    );
}

/// With `files systemd` (Debian's default): accounts in the files are
/// known, one only nss-systemd holds is known too (asked of NSS, not
/// judged from the files), so is a short line glibc accepts, and a
/// commented-out or missing name is an error. A thousand accounts from
/// /etc/passwd are all found.
#[test]
fn files_first_hits_and_later_sources_both_count() {
    let env = test_env!("files_first_hits_and_later_sources_both_count");
    setup(&env, 1000, "files systemd");
    let mut users: Vec<String> = (0..1000).map(|i| format!("lint{i}")).collect();
    users.extend(["lintghost", "lintcomment", "lintshort", "lintnobody"].map(String::from));
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    let (unknown, errors) = check(&env, &policy(&names));
    assert_eq!(errors, 2, "{unknown:#?}");
    for name in ["lintcomment", "lintnobody"] {
        assert!(
            unknown.iter().any(|m| m.contains(&format!("\"{name}\""))),
            "{name}: {unknown:#?}"
        );
    }
    for name in ["lintghost", "lintshort"] {
        assert!(
            !unknown.iter().any(|m| m.contains(name)),
            "{name}: {unknown:#?}"
        );
    }
}

/// With nsswitch.conf's `sources` for passwd and group, a policy naming
/// `users` has exactly one unknown account: `unknown`.
fn only_unknown(test: &str, sources: &str, users: &[&str], unknown: &str) {
    let Some(env) = TestEnv::new(test) else {
        return;
    };
    setup(&env, 10, sources);
    let (found, errors) = check(&env, &policy(users));
    assert_eq!(errors, 1, "{sources}: {found:#?}");
    assert!(
        found[0].contains(&format!("\"{unknown}\"")),
        "{sources}: {found:#?}"
    );
}

/// When NSS does not ask the files first (`systemd files`) every name is
/// looked up: the same answers.
#[test]
fn files_not_first_are_all_looked_up() {
    only_unknown(
        "lint_accounts::files_not_first_are_all_looked_up",
        "systemd files",
        &["lint3", "lintghost", "lintnobody"],
        "lintnobody",
    );
}

/// With `files` only, a name the files lack is unknown, and one only a
/// source nsswitch.conf does not list holds is unknown too.
#[test]
fn files_only_knows_only_the_files() {
    only_unknown(
        "lint_accounts::files_only_knows_only_the_files",
        "files",
        &["lint3", "lintghost"],
        "lintghost",
    );
}

/// An action after `files` (`[NOTFOUND=return]`): a name the files lack
/// ends there, so the user only nss-systemd holds is unknown; one the
/// files hold is known.
#[test]
fn an_action_after_files_is_obeyed() {
    only_unknown(
        "lint_accounts::an_action_after_files_is_obeyed",
        "files [NOTFOUND=return] systemd",
        &["lint3", "lintghost"],
        "lintghost",
    );
}
