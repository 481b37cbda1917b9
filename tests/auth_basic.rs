//! Authentication basics that hold for every rule.

#[macro_use]
mod common;
use common::*;

/// An expired account (shadow expiry date in the past) is refused even
/// by an `auth = "none"` rule, with a record.
#[test]
fn expired_account_is_refused_even_without_auth() {
    let env = test_env!("expired_account_is_refused_even_without_auth");
    env.policy(STD_POLICY);
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", "alice before her account expires");
    let shadow_path = env.etc("shadow");
    let shadow = std::fs::read_to_string(&shadow_path).unwrap();
    let patched: String = shadow
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(':').collect();
            if f.first() == Some(&"alice") && f.len() >= 9 {
                f[7] = "1"; // expired on 1970-01-02
            }
            f.join(":") + "\n"
        })
        .collect();
    assert_ne!(patched, shadow, "alice has a shadow entry to patch");
    write_mode(&shadow_path, patched.as_bytes(), 0o640);
    let o = env.run_as_user("alice", &["--", "/usr/bin/id", "-u"]);
    o.expect_refusal(1, "expired account");
    assert!(o.stderr_str().contains("expired"), "{o}");
    let r = env.audit_events("reject");
    assert!(
        r.last()
            .is_some_and(|r| r["reason"].as_str().unwrap_or_default().contains("expired")),
        "{r:?}"
    );
}
