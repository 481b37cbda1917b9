//! Ansible's become through the real bdexec (issue 14): ansible-core
//! from PyPI in a virtual environment, playbooks against localhost
//! (connection local) run by unprivileged test users with `become_exe`
//! the test's bdexec (file capabilities, its own policy, audit log and
//! PAM), once under an `auth = "none"` rule (Ansible calls `-H -S -n -u
//! root /bin/sh -c ...`) and once under a password rule with
//! ANSIBLE_BECOME_PASS (Ansible calls `-H -S -p '[sudo via ansible,
//! key=...] password:'` with a pty as stdin and waits for that prompt).
//! Modules command, shell, copy (a root-owned file with owner and mode),
//! file, lineinfile. A become_user outside the rule's run_as, a wrong
//! password and an account without a rule fail the play with bdexec's
//! message. Every run leaves records that verify.
//!
//! Run with `make test-ansible` (BELLADONNA_TEST_ANSIBLE=1); otherwise
//! the tests print SKIPPED. The virtual environment is made once in
//! cargo's target tmp directory (python3 -m venv; Debian: python3-venv)
//! and reused; when PyPI cannot be reached the tests print SKIPPED
//! loudly, any other failure fails them.

#[macro_use]
mod common;
use common::*;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const SERVICE: &str = "belladonna-test";
const PASSWORD: &str = "Correct horse 42";
/// The ansible-core series the test installs.
const ANSIBLE_CORE: &str = "ansible-core>=2.19,<2.20";

const POLICY: &str = r#"version = 1
# Ansible's become runs /bin/sh -c '...' with generated module paths:
# the rule is root-equivalent (as NOPASSWD: ALL is with sudo).
[[rule]]
name = "ansible-nopw"
users = ["bob"]
run_as = ["root"]
commands = ["/bin/sh *"]
auth = "none"

[[rule]]
name = "ansible-pw"
users = ["alice"]
run_as = ["root"]
commands = ["/bin/sh *"]
auth = "password"
timestamp_timeout = "0s"
"#;

/// The venv's bin directory, `Err` with the reason to skip.
fn venv() -> Result<PathBuf, String> {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    VENV.get_or_init(make_venv).clone()
}

fn make_venv() -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ansible-venv");
    let bin = dir.join("bin");
    if bin.join("ansible-playbook").exists() {
        return Ok(bin);
    }
    // The system's Python (a python3 first on root's PATH may live where
    // the test users cannot reach it).
    let st = Command::new("/usr/bin/python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .status()
        .expect("python3");
    assert!(
        st.success(),
        "python3 -m venv failed (Debian: apt-get install python3-venv; make deps)"
    );
    let o = Command::new(bin.join("pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            ANSIBLE_CORE,
        ])
        .output()
        .expect("pip");
    if !o.status.success() {
        let reachable = Command::new("/usr/bin/python3")
            .args([
                "-c",
                "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/ansible-core/', timeout=20)",
            ])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        let _ = fs::remove_dir_all(&dir);
        if !reachable {
            return Err("PyPI is unreachable: ansible-core cannot be installed".into());
        }
        panic!(
            "pip install {ANSIBLE_CORE} failed although PyPI is reachable:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    Ok(bin)
}

/// The test environment with the policy and PAM, or `None` to skip.
fn ansible_env(name: &str) -> Option<(TestEnv, PathBuf)> {
    if std::env::var_os("BELLADONNA_TEST_ANSIBLE").is_none() {
        loud(&format!(
            "SKIPPED (real Ansible: run `make test-ansible`): {name}"
        ));
        return None;
    }
    let env = TestEnv::new(name)?;
    let bin = match venv() {
        Ok(b) => b,
        Err(why) => {
            loud(&format!("SKIPPED ({why}): {name}"));
            return None;
        }
    };
    env.policy(POLICY);
    pam_password_setup(&env, SERVICE, "alice", PASSWORD, false);
    Some((env, bin))
}

/// A home for `user` in the test's tmp, and the files the play manages.
fn dirs(env: &TestEnv, user: &TestUser) -> (PathBuf, PathBuf) {
    let home = env.dir.join("tmp").join(format!("home-{}", user.name));
    fs::create_dir_all(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(user.uid), Some(user.gid)).unwrap();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o700)).unwrap();
    let managed = env.dir.join("tmp").join(format!("managed-{}", user.name));
    fs::create_dir_all(&managed).unwrap();
    (home, managed)
}

/// Run `playbook` as `user` with `extra` environment variables.
fn play(env: &TestEnv, bin: &Path, user: &TestUser, playbook: &str, extra: &[(&str, &str)]) -> Out {
    let (home, _) = dirs(env, user);
    let pb = home.join("play.yml");
    fs::write(&pb, playbook).unwrap();
    std::os::unix::fs::chown(&pb, Some(user.uid), Some(user.gid)).unwrap();
    let tmp = home.join(".ansible/tmp");
    let mut c = env
        .program(user.name, bin.join("ansible-playbook"))
        .args(["-i", "localhost,", "-c", "local"])
        .arg(&pb)
        .env("HOME", &home)
        .env("LC_ALL", "C.UTF-8")
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("ANSIBLE_BECOME_EXE", env.bdexec_path())
        .env("ANSIBLE_REMOTE_TMP", &tmp)
        .env("ANSIBLE_LOCAL_TEMP", &tmp)
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .env("ANSIBLE_PYTHON_INTERPRETER", "/usr/bin/python3")
        .env("BELLADONNA_TEST_PAM_SERVICE", SERVICE)
        .timeout(std::time::Duration::from_secs(600));
    for (k, v) in extra {
        c = c.env(k, v);
    }
    c.run()
}

/// The playbook of every successful run: the modules, as root.
fn playbook(managed: &Path) -> String {
    let m = managed.display();
    format!(
        r#"- hosts: localhost
  gather_facts: false
  become: true
  tasks:
    - name: command
      command: id -u
      register: idu
    - assert:
        that: idu.stdout == "0"
    - name: shell
      shell: 'echo "$HOME"; id -un'
      register: sh
    - assert:
        that: sh.stdout_lines == ["/root", "root"]
    - name: copy
      copy:
        content: "managed\n"
        dest: {m}/app.conf
        owner: root
        group: root
        mode: "0640"
    - name: file
      file:
        path: {m}/conf.d
        state: directory
        owner: root
        mode: "0750"
    - name: lineinfile
      lineinfile:
        path: {m}/app.conf
        line: "second"
"#
    )
}

fn check_managed(managed: &Path, o: &Out) {
    let conf = managed.join("app.conf");
    let meta = fs::metadata(&conf).unwrap_or_else(|e| panic!("{}: {e}\n{o}", conf.display()));
    assert_eq!((meta.uid(), meta.gid()), (0, 0), "app.conf root's\n{o}");
    assert_eq!(meta.mode() & 0o7777, 0o640, "app.conf 0640\n{o}");
    assert_eq!(fs::read_to_string(&conf).unwrap(), "managed\nsecond\n");
    let d = fs::metadata(managed.join("conf.d")).unwrap();
    assert!(
        d.is_dir() && d.uid() == 0 && d.mode() & 0o7777 == 0o750,
        "{o}"
    );
}

/// Every become call is one accept record of `rule`, running /bin/sh -c.
fn check_records(env: &TestEnv, rule: &str, at_least: usize) {
    let acc: Vec<_> = env
        .audit_events("accept")
        .into_iter()
        .filter(|r| r["rule"] == rule)
        .collect();
    assert!(
        acc.len() >= at_least,
        "{} records of {rule}: {acc:#?}",
        acc.len()
    );
    for r in &acc {
        assert_eq!(r["runargv"][0], "/bin/sh", "{r}");
        assert_eq!(r["runargv"][1], "-c", "{r}");
        assert_eq!(r["runuser"], "root", "{r}");
    }
    env.assert_verify_ok(&format!("after the {rule} play"));
}

/// `auth = "none"`: Ansible's `-H -S -n -u root /bin/sh -c ...`.
#[test]
fn become_without_password() {
    let Some((env, bin)) = ansible_env("become_without_password") else {
        return;
    };
    let (_, managed) = dirs(&env, &BOB);
    let o = play(&env, &bin, &BOB, &playbook(&managed), &[]);
    o.expect_code(0, "the play as bob");
    check_managed(&managed, &o);
    // command, shell, copy (two become calls), file, lineinfile.
    check_records(&env, "ansible-nopw", 6);

    // become_user outside run_as: the play fails with bdexec's message.
    // (Pipelining: without it Ansible first needs ACLs to share its temp
    // files with an unprivileged become user, and stops before calling
    // bdexec when the file system has none.)
    let n = env.audit_events("accept").len();
    let o = play(
        &env,
        &bin,
        &BOB,
        "- hosts: localhost\n  gather_facts: false\n  become: true\n  become_user: mallory\n  tasks:\n    - command: id -u\n",
        &[("ANSIBLE_PIPELINING", "1")],
    );
    assert_ne!(o.code(), Some(0), "become_user mallory must fail\n{o}");
    let all = o.all_output();
    assert!(all.contains("bdexec: ") && all.contains("mallory"), "{o}");
    assert_eq!(env.audit_events("accept").len(), n, "nothing ran");
    assert!(!env.audit_events("reject").is_empty());

    // An account without a rule.
    let o = play(&env, &bin, &MALLORY, &playbook(&managed), &[]);
    assert_ne!(o.code(), Some(0), "mallory has no rule\n{o}");
    assert!(o.all_output().contains("bdexec: "), "{o}");
    assert_eq!(env.audit_events("accept").len(), n, "nothing ran");
    env.assert_verify_ok("after the failing plays");
}

/// `auth = "password"`: ANSIBLE_BECOME_PASS, so `-S -p PROMPT`.
#[test]
fn become_with_password() {
    let Some((env, bin)) = ansible_env("become_with_password") else {
        return;
    };
    let (_, managed) = dirs(&env, &ALICE);
    let o = play(
        &env,
        &bin,
        &ALICE,
        &playbook(&managed),
        &[("ANSIBLE_BECOME_PASS", PASSWORD)],
    );
    o.expect_code(0, "the play as alice with a become password");
    check_managed(&managed, &o);
    check_records(&env, "ansible-pw", 6);

    // A wrong password fails the play; nothing more ran.
    let n = env.audit_events("accept").len();
    let o = play(
        &env,
        &bin,
        &ALICE,
        &playbook(&managed),
        &[("ANSIBLE_BECOME_PASS", "wrong")],
    );
    assert_ne!(o.code(), Some(0), "a wrong password must fail\n{o}");
    assert!(
        o.all_output().contains("incorrect password"),
        "bdexec's message reaches the play\n{o}"
    );
    assert_eq!(env.audit_events("accept").len(), n, "nothing ran");
    env.assert_verify_ok("after the wrong password");
}
