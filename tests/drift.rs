//! Pinning and drift at call time: `bdctl policy pin` writes the lock;
//! bdexec records drift (which segments, widening or narrowing) in every
//! record, and denies when `drift = "deny"` is in effect.

#[macro_use]
mod common;
use common::*;

fn pin(env: &TestEnv) {
    // /etc is read-only inside the namespace: give bdctl the layer's
    // /etc/belladonna to write the lock into.
    let o = env.sh_in_ns(
        "root",
        "mount --bind \"$TESTDIR/etc/belladonna\" /etc/belladonna && \"$BDCTL\" policy pin",
    );
    o.expect_code(0, "bdctl policy pin");
}

const BASE: &str = r#"version = 1
[[rule]]
name = "ids"
users = ["alice"]
commands = ["/usr/bin/id -u"]
auth = "none"
"#;

#[test]
fn drift_is_recorded_and_categorised() {
    let env = test_env!("drift_is_recorded_and_categorised");
    env.policy(BASE);
    pin(&env);
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "pinned policy");
    let a = env.audit_events("accept");
    assert!(
        a.last().unwrap().get("drift").is_none(),
        "no drift yet: {a:?}"
    );

    // Widen: alice may now also run whoami.
    env.policy(&BASE.replace(
        "commands = [\"/usr/bin/id -u\"]",
        "commands = [\"/usr/bin/id -u\", \"/usr/bin/whoami\"]",
    ));
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "drift = warn (default) still runs");
    let a = env.audit_events("accept");
    let d = a.last().unwrap()["drift"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        d.contains("auth") && d.contains("widening"),
        "drift recorded: {d}"
    );

    // Narrow relative to the pin: a deny rule added.
    env.policy(&format!(
        "{BASE}\n[[rule]]\nname = \"no-sh\"\nusers = [\"alice\"]\ncommands = [\"/bin/sh *\"]\naction = \"deny\"\n"
    ));
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_code(0, "narrowing");
    let a = env.audit_events("accept");
    let d = a.last().unwrap()["drift"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(d.contains("narrowing"), "narrowing drift: {d}");

    // drift = "deny": any drift refuses, with a record.
    env.policy(&BASE.replace(
        "version = 1\n",
        "version = 1\n[defaults]\ndrift = \"deny\"\n",
    ));
    let o = env.run_as_user("alice", &["--", "/usr/bin/id", "-u"]);
    o.expect_refusal(3, "drift = deny");
    let r = env.audit_events("reject");
    assert!(
        r.last().unwrap()["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("pin"),
        "{r:?}"
    );
    // Re-pinning accepts the change.
    pin(&env);
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "re-pinned");
    env.assert_verify_ok("after drift");
}

/// A corrupt lock file is an error, never "no lock".
#[test]
fn corrupt_lock_is_refused() {
    let env = test_env!("corrupt_lock_is_refused");
    env.policy(BASE);
    pin(&env);
    let lock = env.etc("belladonna/policy.lock");
    let mut bytes = std::fs::read(&lock).unwrap();
    bytes.truncate(bytes.len() / 2);
    write_mode(&lock, &bytes, 0o600);
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_refusal(3, "corrupt lock");
}
