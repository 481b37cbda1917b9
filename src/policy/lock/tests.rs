use super::*;
use crate::policy::parse::parse_main;

pub(crate) const FULL: &str = r##"version = 1
[defaults]
secure_path = "/usr/bin:/bin"
env_keep = ["TERM"]
setenv = { A = "1" }
umask = "0077"
sandbox = "base"
drift = "deny"
[sandbox.base]
[sandbox.web.landlock]
read = ["/etc/nginx"]
write = ["/var/log/nginx"]
exec = ["/usr/sbin"]
bind_tcp = [80, 443]
connect_tcp = [5432]
scope = ["abstract_unix", "signal"]
min_abi = 4
[sandbox.web.seccomp]
allow = ["@system-service"]
deny = ["reboot"]
action = "kill"
[[rule]]
name = "web"
users = ["alice", "#1500"]
groups = ["ops", "#50"]
run_as = ["root", "#33"]
commands = ["/usr/sbin/nginx", "/usr/bin/journalctl -u nginx *", "/usr/bin/systemctl restart nginx"]
auth = "approval"
sandbox = "web"
caps = ["net_bind_service"]
setenv = { B = "2" }
env_keep = ["SSH_AUTH_SOCK"]
secure_path = "/opt/web/bin:/usr/bin"
timestamp_timeout = "15m"
[[rule]]
name = "no-sh"
groups = ["ops"]
action = "deny"
commands = ["/bin/sh *"]
"##;

fn loaded(src: &str) -> Loaded {
    let policy = match parse_main(src, Path::new("/p.toml")) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    let hash = policy_hash(&policy);
    Loaded {
        policy,
        hash,
        raw: [0; 32],
    }
}

fn by() -> PinnedBy {
    PinnedBy {
        uid: 0,
        name: Some("root".into()),
    }
}

#[test]
fn round_trip_every_field() {
    let l = loaded(FULL);
    let text = lock_json(&l, &by(), "2025-01-02T03:04:05.000000000Z");
    let lock = match parse_lock(text.as_bytes(), Path::new("/x")) {
        Ok(k) => k,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(lock.hash, l.hash);
    assert_eq!(lock.segments, segment_hashes(&l.policy));
    assert_eq!(lock.pinned_by, by());
    let p = match lock.pinned_policy() {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    // Equal up to origins (which are not part of the meaning).
    assert_eq!(policy_hash(&p), l.hash);
    assert_eq!(p.defaults, l.policy.defaults);
    assert_eq!(p.sandboxes.len(), 2);
    assert_eq!(p.rules[0].users, l.policy.rules[0].users);
    // A rule's own env_keep, secure_path, timestamp_timeout; and
    // their absence on the other rule.
    for (x, y) in p.rules.iter().zip(&l.policy.rules) {
        assert_eq!(
            (&x.env_keep, &x.secure_path, x.timestamp_timeout),
            (&y.env_keep, &y.secure_path, y.timestamp_timeout)
        );
    }
    assert_eq!(p.rules[0].timestamp_timeout, Some(900));
    assert_eq!(p.rules[1].env_keep, None);
    assert!(lock.render().contains("verified"));
}

#[test]
fn corrupt_locks_are_errors() {
    let l = loaded(FULL);
    let text = lock_json(&l, &by(), "2025-01-02T03:04:05Z");
    let bad = [
        String::new(),
        "{}".into(),
        "null".into(),
        text.replace("\"version\":1", "\"version\":2"),
        text.replace("\"pinned_at\"", "\"extra\":1,\"pinned_at\""),
        text[..text.len() / 2].to_string(),
        text.replacen(&hex(&l.hash), &hex(&l.hash).to_uppercase(), 1),
        text.replacen(&hex(&l.hash), "00", 1),
    ];
    for b in bad {
        let e = parse_lock(b.as_bytes(), Path::new("/x"));
        assert!(e.is_err(), "{b}");
        if let Err(e) = e {
            assert_eq!(e.kind, LockErrorKind::Corrupt);
            assert!(!e.to_string().contains('\n'));
        }
    }
    // A tampered pinned policy parses as a header, fails verification.
    let t = text.replace("\"alice\"", "\"mallory\"");
    match parse_lock(t.as_bytes(), Path::new("/x")) {
        Ok(lock) => assert!(lock.pinned_policy().is_err()),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn pin_and_read_in_trusted_dir() {
    if !nix::unistd::geteuid().is_root() {
        crate::base::testhook::skipped(
            "policy::lock::pin_and_read_in_trusted_dir",
            "needs root: trusted directory",
        );
        return;
    }
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    if secure_fs::open_trusted_dir(&base).is_err() {
        crate::base::testhook::skipped(
            "policy::lock::pin_and_read_in_trusted_dir",
            "no trusted base directory",
        );
        return;
    }
    let Ok(d) = tempfile::Builder::new().prefix("lock-").tempdir_in(&base) else {
        return;
    };
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755));
    assert!(matches!(read_lock_in(d.path()), Ok(None)));
    let l = loaded(FULL);
    let lock = match pin_in(d.path(), &l, &by(), "2025-01-02T03:04:05Z") {
        Ok(k) => k,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(lock.hash, l.hash);
    let md = std::fs::metadata(d.path().join(LOCK_NAME)).expect("stat");
    assert_eq!(md.permissions().mode() & 0o777, 0o600);
    // Re-pin replaces atomically; no temporary files are left behind.
    let l2 = loaded(&FULL.replace("\"alice\"", "\"bob\""));
    assert!(pin_in(d.path(), &l2, &by(), "2025-01-02T03:04:06Z").is_ok());
    let names: Vec<_> = std::fs::read_dir(d.path())
        .expect("readdir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from(LOCK_NAME)]);
    match read_lock_in(d.path()) {
        Ok(Some(k)) => assert_eq!(k.hash, l2.hash),
        other => panic!("{other:?}"),
    }
    // Corrupt file: an error, not "no lock".
    std::fs::write(d.path().join(LOCK_NAME), "{").expect("write");
    assert!(read_lock_in(d.path()).is_err());
    // Group-writable: refused.
    std::fs::write(d.path().join(LOCK_NAME), lock_json(&l, &by(), "t")).expect("write");
    let _ = std::fs::set_permissions(
        d.path().join(LOCK_NAME),
        std::fs::Permissions::from_mode(0o620),
    );
    match read_lock_in(d.path()) {
        Err(e) => assert_eq!(e.kind, LockErrorKind::Insecure),
        other => panic!("{other:?}"),
    }
}
