//! Keys and the audit MAC with epochs, end to end (issue 4, items 3-4):
//! `bdctl key gen --audit`, bdexec calls writing MAC'd records, `bdctl
//! audit verify --key`, `bdctl key rotate --audit` (seal + next epoch),
//! rollback refused, a record re-hashed without the key detected with the
//! key but not without, a broken key file denying bdexec.
//!
//! `/etc` is a read-only overlay in the test namespaces: the bdctl calls
//! that write keys bind-mount the layer's `etc/belladonna/keys` over
//! `/etc/belladonna/keys` first, so what they write is what later bdexec
//! runs see through the overlay.

#[macro_use]
mod common;
use belladonna::audit::chain::{chain_hash, hex};
use belladonna::audit::record::LineView;
use common::*;
use std::path::Path;

const ID: [&str; 3] = ["--", "/usr/bin/id", "-u"];

fn keys_env(name: &str) -> TestEnv {
    let env = match TestEnv::new(&format!("keys::{name}")) {
        Some(e) => e,
        None => panic!("not root"),
    };
    env.policy(STD_POLICY);
    mkdir_mode(&env.etc("belladonna/keys"), 0o700);
    env
}

/// Run a root shell script with a writable /etc/belladonna/keys.
fn keys_sh(env: &TestEnv, script: &str) -> Out {
    env.sh_in_ns(
        "root",
        &format!(
            "mount --bind \"$TESTDIR/etc/belladonna/keys\" /etc/belladonna/keys || exit 99\n{script}"
        ),
    )
}

fn audit_key(env: &TestEnv) -> std::path::PathBuf {
    env.etc("belladonna/keys/audit.key")
}

/// Rewrite the log: change the body of record `target` (1-based line)
/// with `edit`, recompute every `h` from there on by the public chain
/// definition (src/audit/chain.rs), keep the old `mac`s (no key).
fn rehash_log(log: &[u8], target: usize, edit: &dyn Fn(&str) -> String) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = [0u8; 32];
    for (i, line) in log
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let v = LineView::parse(line).expect("record");
        let body = std::str::from_utf8(v.body).expect("utf8");
        let body = if i + 1 == target {
            edit(body)
        } else {
            body.to_string()
        };
        let h = chain_hash(v.seq, &prev, body.as_bytes());
        let mut l = format!("{{{body},\"prev\":\"{}\",\"h\":\"{}\"", hex(&prev), hex(&h));
        if let Some(m) = v.mac {
            l.push_str(&format!(",\"mac\":\"{}\"", String::from_utf8_lossy(m)));
        }
        l.push_str("}\n");
        out.extend_from_slice(l.as_bytes());
        prev = h;
    }
    out
}

fn verify_with_key(env: &TestEnv, k0: &Path) -> Out {
    env.bdctl(&["audit", "verify", "--key", &k0.display().to_string()])
}

#[test]
fn audit_mac_across_epochs_and_rehash_detection() {
    if !is_root() {
        loud("SKIPPED (needs root): keys::audit_mac_across_epochs_and_rehash_detection");
        return;
    }
    let env = keys_env("audit_mac_across_epochs_and_rehash_detection");
    // A record from before the key: unauthenticated, accepted.
    env.run_as_user("alice", &ID)
        .expect_stdout("0\n", "before the key");
    let k0 = env.scratch().join("k0.verify");
    let o = keys_sh(
        &env,
        &format!(
            "\"$BDCTL\" key gen --audit --export-verify-key '{}'",
            k0.display()
        ),
    );
    assert_eq!(o.code(), Some(0), "key gen\n{o}");
    assert!(o.stdout_str().contains("type=audit-mac epoch=0"), "{o}");
    assert!(!o.stdout_str().contains(&"0".repeat(64)), "{o}");
    let md = std::fs::metadata(audit_key(&env)).expect("key file");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&md.permissions()) & 0o777,
        0o600
    );
    // gen refuses to overwrite.
    let o = keys_sh(&env, "\"$BDCTL\" key gen --audit");
    assert_eq!(o.code(), Some(1), "second gen\n{o}");
    assert!(o.stderr_str().contains("already exists"), "{o}");

    env.run_as_user("alice", &ID)
        .expect_stdout("0\n", "epoch 0 #1");
    env.run_as_user("alice", &ID)
        .expect_stdout("0\n", "epoch 0 #2");
    env.run_as_user("mallory", &ID)
        .expect_refusal(1, "reject in epoch 0");
    let last = env.audit_lines().pop().expect("record");
    assert_eq!(last["epoch"], 0, "{last}");
    assert_eq!(last["mac"].as_str().map(str::len), Some(64), "{last}");
    let v = verify_with_key(&env, &k0);
    assert_eq!(v.code(), Some(0), "verify --key in epoch 0\n{v}");
    assert!(v.stdout_str().contains("MACs verified: 3 records"), "{v}");
    env.assert_verify_ok("epoch 0 without key");

    let epoch0_key = std::fs::read(audit_key(&env)).expect("read key");
    let o = keys_sh(&env, "\"$BDCTL\" key rotate --audit");
    assert_eq!(o.code(), Some(0), "rotate\n{o}");
    assert!(o.stdout_str().contains("sealed epoch 0 (3 records)"), "{o}");
    assert!(o.stdout_str().contains("epoch=1"), "{o}");
    let seals = env.audit_events("seal");
    assert_eq!(seals.len(), 1);
    assert_eq!(
        (
            seals[0]["seal_epoch"].clone(),
            seals[0]["seal_records"].clone()
        ),
        (0.into(), 3.into())
    );
    let marker =
        std::fs::read_to_string(env.var_lib().join("belladonna/key-epoch")).expect("marker");
    assert!(marker.contains("\naudit 1\n"), "{marker}");

    env.run_as_user("alice", &ID)
        .expect_stdout("0\n", "epoch 1 #1");
    env.run_as_user("alice", &ID)
        .expect_stdout("0\n", "epoch 1 #2");
    assert_eq!(env.audit_lines().pop().expect("rec")["epoch"], 1);
    let v = verify_with_key(&env, &k0);
    assert_eq!(v.code(), Some(0), "verify --key across the epoch\n{v}");
    assert!(
        v.stdout_str()
            .contains("MACs verified: 6 records, last epoch 1 (2 records, open)"),
        "{v}"
    );
    let show = env.bdctl(&["key", "show"]);
    assert_eq!(show.code(), Some(0), "{show}");
    assert!(
        show.stdout_str().contains("type=audit-mac epoch=1"),
        "{show}"
    );

    // Rollback: the epoch-0 key put back is refused by bdexec (nothing
    // runs, nothing is written) and by rotate.
    let epoch1_key = std::fs::read(audit_key(&env)).expect("read key");
    write_mode(&audit_key(&env), &epoch0_key, 0o600);
    let before = env.audit_bytes();
    let o = env.run_as_user("alice", &["--", "/usr/bin/touch", "/var/lib/marker"]);
    assert_ne!(o.code(), Some(0), "rolled-back key must deny\n{o}");
    assert!(o.stderr_str().contains("older than epoch 1"), "{o}");
    assert!(!env.marker_exists("marker"), "nothing may run");
    assert_eq!(env.audit_bytes(), before, "nothing may be written");
    let o = keys_sh(&env, "\"$BDCTL\" key rotate --audit");
    assert_eq!(o.code(), Some(1), "rotate with an old key\n{o}");
    write_mode(&audit_key(&env), &epoch1_key, 0o600);

    // A record of epoch 0 edited and the chain re-hashed without the key:
    // the hash chain is satisfied, the MAC is not.
    let log = env.audit_bytes();
    let forged = rehash_log(&log, 2, &|b| {
        b.replace("\"submituser\":\"alice\"", "\"submituser\":\"bob\"")
    });
    assert_ne!(forged, log);
    write_mode(&env.audit_path(), &forged, 0o600);
    env.assert_verify_ok("re-hashed log, hashes only");
    let v = verify_with_key(&env, &k0);
    assert_eq!(v.code(), Some(1), "re-hashed log with the key\n{v}");
    assert!(v.stderr_str().contains("line 2 (seq 2"), "{v}");
    assert!(v.stderr_str().contains("re-hashed without the key"), "{v}");
    write_mode(&env.audit_path(), &log, 0o600);
    assert_eq!(verify_with_key(&env, &k0).code(), Some(0));

    // The current key is not a verification key.
    let cur = env.scratch().join("current.key");
    write_mode(&cur, &epoch1_key, 0o600);
    let v = verify_with_key(&env, &cur);
    assert_eq!(v.code(), Some(1), "{v}");
    assert!(
        v.stderr_str().contains("expected a audit-verify key"),
        "{v}"
    );

    // Removing the key: records go on without MACs, the verifier flags it.
    std::fs::remove_file(audit_key(&env)).expect("rm key");
    env.run_as_user("alice", &ID)
        .expect_stdout("0\n", "without key");
    let v = env.verify();
    assert_eq!(v.code(), Some(1), "{v}");
    assert!(v.stderr_str().contains("audit key removed"), "{v}");
}

#[test]
fn broken_key_files_deny_and_are_reported() {
    if !is_root() {
        loud("SKIPPED (needs root): keys::broken_key_files_deny_and_are_reported");
        return;
    }
    let env = keys_env("broken_key_files_deny_and_are_reported");
    let o = keys_sh(&env, "\"$BDCTL\" key gen --audit");
    assert_eq!(o.code(), Some(0), "{o}");
    env.run_as_user("alice", &ID)
        .expect_stdout("0\n", "good key");
    let good = std::fs::read(audit_key(&env)).expect("key");
    let touch = ["--", "/usr/bin/touch", "/var/lib/marker"];
    let ap = env.scratch().join("ap");
    mkdir_mode(&ap, 0o700);
    let o = env.bdctl(&[
        "key",
        "gen",
        "--approver",
        "dave",
        "--out",
        &ap.display().to_string(),
    ]);
    assert_eq!(o.code(), Some(0), "{o}");
    let approver = std::fs::read(ap.join("dave.key")).expect("approver key");
    let cases: Vec<(&str, Vec<u8>, u32, &str)> = vec![
        ("zero-length", Vec::new(), 0o600, "zero length"),
        (
            "partial",
            good[..good.len() - 20].to_vec(),
            0o600,
            "partial",
        ),
        ("world-readable", good.clone(), 0o644, "group or others"),
        (
            "edited",
            {
                let t = String::from_utf8(good.clone()).expect("utf8");
                t.replace("type=audit-mac", "type=audit-verify")
                    .into_bytes()
            },
            0o600,
            "checksum mismatch",
        ),
        ("wrong type", approver, 0o600, "expected a audit-mac key"),
    ];
    for (what, bytes, mode, msg) in cases {
        write_mode(&audit_key(&env), &bytes, mode);
        denies_untouched(&env, &touch, what, msg);
        let v = env.bdctl(&[
            "key",
            "verify",
            "--type",
            "audit-mac",
            "/etc/belladonna/keys/audit.key",
        ]);
        assert_eq!(v.code(), Some(1), "{what}: key verify\n{v}");
        assert!(v.stderr_str().contains(msg), "{what}: {v}");
    }
    // A symlink to a good key.
    let real = env.etc("belladonna/keys/real.key");
    write_mode(&real, &good, 0o600);
    let _ = std::fs::remove_file(audit_key(&env));
    std::os::unix::fs::symlink("real.key", audit_key(&env)).expect("symlink");
    let o = env.run_as_user("alice", &touch);
    assert_ne!(o.code(), Some(0), "symlink: must deny\n{o}");
    assert!(o.stderr_str().contains("symbolic link"), "{o}");
    std::fs::remove_file(audit_key(&env)).expect("rm");
    write_mode(&audit_key(&env), &good, 0o600);
    env.run_as_user("alice", &ID)
        .expect_stdout("0\n", "good key again");
    let v = env.bdctl(&["key", "verify", "/etc/belladonna/keys/audit.key"]);
    assert_eq!(v.code(), Some(0), "{v}");
    assert!(v.stdout_str().starts_with("ok: "), "{v}");
    // The keys directory itself (bdexec opens it below the /etc/belladonna
    // its policy load checked): writable by others, or a symbolic link
    // to a good directory, denies too, with nothing run or written.
    let keys = env.etc("belladonna/keys");
    let keys_real = env.etc("belladonna/keys.real");
    set_mode(&keys, 0o777);
    denies_untouched(
        &env,
        &touch,
        "writable keys directory",
        "writable by group or others",
    );
    set_mode(&keys, 0o700);
    env.run_as_user("alice", &ID)
        .expect_stdout("0\n", "keys directory mended");
    std::fs::rename(&keys, &keys_real).expect("rename");
    std::os::unix::fs::symlink("keys.real", &keys).expect("symlink");
    denies_untouched(&env, &touch, "keys directory a symlink", "symbolic link");
    std::fs::remove_file(&keys).expect("rm link");
    std::fs::rename(&keys_real, &keys).expect("rename back");
    env.run_as_user("alice", &ID)
        .expect_stdout("0\n", "keys directory back");
}

/// `touch` as alice is refused with `msg` in its one line, runs nothing
/// and adds nothing to the log.
fn denies_untouched(env: &TestEnv, touch: &[&str], what: &str, msg: &str) {
    let before = env.audit_bytes();
    let o = env.run_as_user("alice", touch);
    assert_ne!(o.code(), Some(0), "{what}: must deny\n{o}");
    assert!(o.stderr_str().contains(msg), "{what}: {o}");
    assert!(!env.marker_exists("marker"), "{what}: nothing may run");
    assert_eq!(env.audit_bytes(), before, "{what}: nothing may be written");
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn approver_keypairs() {
    if !is_root() {
        loud("SKIPPED (needs root): keys::approver_keypairs");
        return;
    }
    let env = keys_env("approver_keypairs");
    let out = env.scratch().join("approvers");
    mkdir_mode(&out, 0o700);
    let o = env.bdctl(&[
        "key",
        "gen",
        "--approver",
        "carol",
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(o.code(), Some(0), "{o}");
    let public = o
        .stdout_str()
        .lines()
        .find(|l| l.starts_with("ed25519:"))
        .expect("public key line")
        .to_string();
    assert_eq!(public.len(), "ed25519:".len() + 43, "{public}");
    let show = env.bdctl(&["key", "show", &out.join("carol.pub").display().to_string()]);
    assert!(show.stdout_str().contains(&public), "{show}");
    let o = env.bdctl(&[
        "key",
        "rotate",
        "--approver",
        "carol",
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(o.code(), Some(0), "{o}");
    assert!(o.stdout_str().contains("epoch=1"), "{o}");
    assert!(!o.stdout_str().contains(&public), "a new key");
}

/// bdctl(8): a restored old approver key is refused, by `token sign` too
/// (it signed with it).
#[test]
fn token_sign_refuses_a_restored_old_key() {
    if !is_root() {
        loud("SKIPPED (needs root): keys::token_sign_refuses_a_restored_old_key");
        return;
    }
    let env = keys_env("token_sign_refuses_a_restored_old_key");
    let out = env.scratch().join("approvers");
    mkdir_mode(&out, 0o700);
    let dir = out.display().to_string();
    let key = out.join("carol.key").display().to_string();
    let sign = |what: &str| {
        let o = env.bdctl(&[
            "token",
            "sign",
            "--key",
            &key,
            "--user",
            "alice",
            "--argv",
            "/usr/bin/id",
        ]);
        (o, what.to_string())
    };
    env.bdctl(&["key", "gen", "--approver", "carol", "--out", &dir])
        .expect_code(0, "gen");
    let (o, w) = sign("epoch 0");
    o.expect_code(0, &w);
    let old = std::fs::read(out.join("carol.key")).expect("old key");
    env.bdctl(&["key", "rotate", "--approver", "carol", "--out", &dir])
        .expect_code(0, "rotate");
    let (o, w) = sign("epoch 1");
    o.expect_code(0, &w);
    write_mode(&out.join("carol.key"), &old, 0o600);
    let (o, _) = sign("restored epoch 0");
    // bdctl(8): "Exit status 0, or 2 on a usage or key error."
    assert_eq!(o.code(), Some(2), "a restored old key must be refused\n{o}");
    assert!(o.stdout.is_empty(), "no token printed\n{o}");
    assert!(o.stderr_str().contains("older than epoch 1"), "{o}");
}
