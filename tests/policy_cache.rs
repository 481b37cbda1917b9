//! The compiled policy cache (/run/belladonna/policy.cache, issue 16,
//! docs/performance.md) with the real bdexec: a changed policy is seen
//! by the very next call, a large policy decides as a small one, and a
//! cache file that is not root's 0600 is never used.

#[macro_use]
mod common;
use belladonna::policy::cache;
use common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

const ALLOW: &str = r#"version = 1
[[rule]]
name = "ids"
users = ["alice"]
commands = ["/usr/bin/id -u"]
auth = "none"
"#;

/// The same length as ALLOW: a rewrite of the same size in the same
/// second must still be seen (the key is the bytes, not a timestamp).
const DENY: &str = r#"version = 1
[[rule]]
name = "ids"
users = ["alicf"]
commands = ["/usr/bin/id -u"]
auth = "none"
"#;

fn cache_file(env: &TestEnv) -> PathBuf {
    env.run_dir().join("belladonna").join(cache::CACHE_NAME)
}

fn allowed(env: &TestEnv, ctx: &str) {
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_stdout("0\n", ctx);
}

fn refused(env: &TestEnv, ctx: &str) {
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_refusal(1, ctx);
}

#[test]
fn a_changed_policy_is_seen_by_the_next_call() {
    let _serial = serial();
    let env = test_env!("a_changed_policy_is_seen_by_the_next_call");
    assert_eq!(ALLOW.len(), DENY.len());
    env.policy(ALLOW);
    allowed(&env, "allowed");
    let m = std::fs::metadata(cache_file(&env)).expect("the cache is written");
    assert_eq!((m.uid(), m.mode() & 0o7777), (0, 0o600), "root 0600");
    allowed(&env, "allowed, from the cache");
    env.policy(DENY);
    refused(&env, "the rule no longer names alice");
    env.policy(ALLOW);
    allowed(&env, "allowed again");
    // A drop-in added: seen at once too.
    env.dropin(
        "50-deny.toml",
        "[[rule]]\nname = \"no-id\"\nusers = [\"alice\"]\naction = \"deny\"\ncommands = [\"/usr/bin/id *\"]\n",
    );
    refused(&env, "a deny rule in a new drop-in");
    std::fs::remove_file(env.etc("belladonna/policy.d/50-deny.toml")).unwrap();
    allowed(&env, "drop-in removed");
    env.assert_verify_ok("policy cache");
}

#[test]
fn a_large_policy_decides_as_a_small_one() {
    let _serial = serial();
    let env = test_env!("a_large_policy_decides_as_a_small_one");
    let mut p = String::from("version = 1\n");
    for i in 0..3000 {
        p.push_str(&format!(
            "[[rule]]\nname = \"bulk-{i}\"\nusers = [\"bulk{i}\"]\ncommands = [\"/usr/bin/true {i}\"]\nauth = \"none\"\n\n"
        ));
    }
    p.push_str("[[rule]]\nname = \"ops-no-id-g\"\ngroups = [\"ops\"]\naction = \"deny\"\ncommands = [\"/usr/bin/id -g\"]\n\n");
    p.push_str("[[rule]]\nname = \"ids\"\nusers = [\"alice\", \"carol\"]\ncommands = [\"/usr/bin/id *\"]\nauth = \"none\"\n");
    env.policy(&p);
    for round in ["rebuilt", "from the cache"] {
        allowed(&env, round);
        env.run_as_user("carol", &["--", "/usr/bin/id", "-u"])
            .expect_stdout("0\n", round);
        // carol is in ops: the deny rule, found through her group, wins.
        env.run_as_user("carol", &["--", "/usr/bin/id", "-g"])
            .expect_refusal(1, round);
        env.run_as_user("bob", &["--", "/usr/bin/id", "-u"])
            .expect_refusal(1, round);
        // -l shows the caller's rules, as with the whole policy.
        let l = env.run_as_user("carol", &["-l"]);
        l.expect_code(0, round);
        let out = l.stdout_str();
        assert!(
            out.contains("denied: /usr/bin/id -g") && out.contains("auth=none /usr/bin/id *"),
            "{out}"
        );
        assert!(!out.contains("/usr/bin/true"), "{out}");
    }
    let hashes: Vec<String> = env
        .audit_lines()
        .iter()
        .filter_map(|r| r["policy_hash"].as_str().map(String::from))
        .collect();
    assert!(hashes.len() >= 8);
    assert!(
        hashes.windows(2).all(|w| w[0] == w[1]),
        "the whole policy's hash in every record, cache or not"
    );

    // The blob of 3,000 rules is large: once it is settled, one call
    // hashes it and writes the verification memo (root 0600, naming the
    // blob's checksum), and the next calls skip the hash (the pause point
    // only that path passes is reached), deciding as before. The first
    // call after the policy settles rewrites the blob with the policy's
    // stamps: a new file, which settles in turn.
    // (The policy may settle only by the second round: at most three.)
    let memo = cache_file(&env).with_file_name(cache::VERIFIED_NAME);
    let names_the_blob = || {
        let blob = std::fs::read(cache_file(&env)).expect("cache");
        std::fs::read(&memo)
            .is_ok_and(|text| text.windows(32).any(|w| w == &blob[blob.len() - 32..]))
    };
    for _ in 0..3 {
        settle();
        allowed(&env, "settled: stamps, then the memo");
        if names_the_blob() {
            break;
        }
    }
    assert!(names_the_blob(), "the memo names the blob's checksum");
    let m = std::fs::metadata(&memo).expect("memo written");
    assert_eq!(
        (m.uid(), m.permissions().mode() & 0o7777, m.nlink()),
        (0, 0o600, 1)
    );
    let mut r = paused_at(
        &env,
        "carol",
        &["--", "/usr/bin/id", "-g"],
        "policy-cache-vouched",
        "the memo is used",
    );
    r.resume();
    r.wait()
        .expect_refusal(1, "the deny rule still wins on the vouched path");
    allowed(&env, "allowed on the vouched path");
}

/// alice may run `id -u`, but a deny rule (written first) wins.
const DENIED: &str = r#"version = 1
[[rule]]
name = "no-id"
users = ["alice"]
action = "deny"
commands = ["/usr/bin/id *"]

[[rule]]
name = "ids"
users = ["alice"]
commands = ["/usr/bin/id -u"]
auth = "none"
"#;

/// The cache bdexec wrote for DENIED with its index changed to leave the
/// deny rule out (alice's key lists rules 0 and 1; now 1 and 1), the
/// checksum recomputed: what only the owner of the cache file could
/// plant. The cache holds positions in the policy's own text, so an
/// index is all a forger could change.
fn forged(good: &[u8]) -> Vec<u8> {
    let mut b = good[..good.len() - 32].to_vec();
    let n = b.len();
    assert_eq!(
        &b[n - 8..],
        [0, 0, 0, 0, 1, 0, 0, 0],
        "alice's ids at the end"
    );
    b[n - 8..n - 4].copy_from_slice(&1u32.to_le_bytes());
    let sum = blake3::hash(&b);
    b.extend_from_slice(sum.as_bytes());
    b
}

#[test]
fn a_cache_planted_by_a_user_is_not_used() {
    let _serial = serial();
    let env = test_env!("a_cache_planted_by_a_user_is_not_used");
    env.policy(DENIED);
    refused(&env, "the deny rule wins");
    let file = cache_file(&env);
    let forged = forged(&std::fs::read(&file).unwrap());
    let plant = |uid: u32, mode: u32| {
        let _ = std::fs::remove_file(&file);
        std::fs::write(&file, &forged).unwrap();
        std::os::unix::fs::chown(&file, Some(uid), Some(uid)).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    // alice's file, or root's readable or writable by others: ignored,
    // rebuilt from the policy (and replaced by root's own).
    for (uid, mode) in [(user("alice").uid, 0o600), (0, 0o644), (0, 0o666)] {
        plant(uid, mode);
        refused(&env, &format!("planted uid {uid} mode {mode:o}"));
        let m = std::fs::metadata(&file).unwrap();
        assert_eq!((m.uid(), m.mode() & 0o7777), (0, 0o600), "replaced");
    }
    // Control: the same blob as root's 0600 is what bdexec trusts (the
    // cache is as trusted as any root-owned file); this shows the test
    // above would see a planted cache being used.
    plant(0, 0o600);
    allowed(&env, "root's own cache is used");
    // A byte flipped in it: a rebuild, never an allow.
    let mut b = std::fs::read(&file).unwrap();
    let n = b.len() / 2;
    b[n] ^= 1;
    std::fs::write(&file, &b).unwrap();
    refused(&env, "corrupt cache rebuilt");
}

/// Longer than the stamp margin (src/policy/stamp.rs, 3 s): files
/// written before this sleep are settled.
fn settle() {
    let margin = belladonna::policy::stamp::MARGIN_NS / 1_000_000;
    std::thread::sleep(std::time::Duration::from_millis(margin as u64 + 300));
}

/// `user` runs bdexec with `args`, stopped at the test hook `point`
/// (asserted: `what` names the path that point proves).
fn paused_at(env: &TestEnv, user: &str, args: &[&str], point: &str, what: &str) -> common::Running {
    let mut r = env
        .bdexec(user)
        .args(args.iter().copied())
        .env("BELLADONNA_TEST_PAUSE", point)
        .spawn();
    assert!(r.wait_stopped(std::time::Duration::from_secs(20)), "{what}");
    r
}

/// The stamp path (issue 16, docs/performance.md): once every policy
/// file is older than the margin, a call trusts the settled stamps the
/// cache holds instead of reading and hashing the files, and still sees
/// every change: by the next call (a same-size rewrite in place changes
/// the ctime), and between decision and exec (the TOCTOU recheck compares
/// stamps, then bytes).
#[test]
fn settled_stamps_stand_for_the_bytes_and_every_change_is_seen() {
    let _serial = serial();
    let env = test_env!("settled_stamps_stand_for_the_bytes_and_every_change_is_seen");
    let stamped = |env: &TestEnv| {
        let blob = std::fs::read(cache_file(env)).expect("cache");
        cache::Compiled::parse(blob)
            .expect("a valid cache")
            .has_stamps()
    };
    // Just written: not settled, so no stamp path (the pause point only
    // the stamp path passes is not reached) and no stamps stored.
    env.policy(ALLOW);
    env.bdexec("alice")
        .args(["--", "/usr/bin/id", "-u"])
        .env("BELLADONNA_TEST_PAUSE", "policy-stamped")
        .run()
        .expect_stdout("0\n", "a fresh policy is read and hashed");
    assert!(!stamped(&env), "no stamps for a policy changed just now");

    settle();
    allowed(&env, "settled: the cache gets the stamps");
    assert!(stamped(&env), "stamps stored once the files are settled");
    let mut r = paused_at(
        &env,
        "alice",
        &["--", "/usr/bin/id", "-u"],
        "policy-stamped",
        "the stamp path is taken",
    );
    r.resume();
    r.wait().expect_stdout("0\n", "allowed on the stamp path");

    // Changed between decision and exec (same size, in place): the
    // recheck's stamps differ, the bytes differ: refused.
    let mut r = paused_at(
        &env,
        "alice",
        &["--", "/usr/bin/id", "-u"],
        "before-recheck",
        "paused before the recheck",
    );
    // In place (same inode): the paused call's overlay of the test's /etc
    // layer keeps the inode it looked up (as tests/sandbox.rs does).
    std::fs::write(env.policy_path(), DENY).unwrap();
    r.resume();
    let o = r.wait();
    o.expect_refusal(1, "changed before the recheck");
    assert!(o.stderr_str().contains("policy changed"), "{o}");

    // A same-size rewrite after a settled cache that turns another
    // user's rule into a deny rule for alice: the cache's index does not
    // know that rule is alice's, so only a call that notices the change
    // (the ctime moved: hashed, rebuilt) refuses.
    let two = |who: &str| {
        format!(
            "{ALLOW}\n[[rule]]\nname = \"no-id\"\nusers = [\"{who}\"]\naction = \"deny\"\ncommands = [\"/usr/bin/id *\"]\n"
        )
    };
    env.policy(&two("bobby"));
    settle();
    allowed(&env, "settled again");
    assert!(stamped(&env));
    std::fs::write(env.policy_path(), two("alice")).unwrap();
    let o = env.run_as_user("alice", &["--", "/usr/bin/id", "-u"]);
    o.expect_refusal(1, "a same-size rewrite of a settled policy");
    // Refused by the deny rule when deciding, not only by the recheck
    // before exec (which would also catch a decision on stale stamps).
    assert!(!o.stderr_str().contains("policy changed"), "{o}");
    // A drop-in added to a settled policy: another file, other stamps.
    env.policy(ALLOW);
    settle();
    allowed(&env, "settled, stamps stored");
    env.dropin(
        "50-deny.toml",
        "[[rule]]\nname = \"no-id\"\nusers = [\"alice\"]\naction = \"deny\"\ncommands = [\"/usr/bin/id *\"]\n",
    );
    refused(&env, "a deny rule in a new drop-in");
    env.assert_verify_ok("stamp path");
}
