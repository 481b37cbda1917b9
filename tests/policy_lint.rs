//! `bdctl policy hash`, `bdctl policy check` (tiers, counts, exit codes,
//! JSON) and the CI policy gate (`scripts/policy-gate.sh`). No root
//! needed: every policy is given as a FILE and checked `--offline` where
//! the result must not depend on this host's accounts and files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/policy_lint").join(name)
}

fn bdctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bdctl"))
        .args(args)
        .output()
        .expect("run bdctl")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{}", text(o)))
}

fn hash_json(file: &Path) -> serde_json::Value {
    let o = bdctl(&[
        "policy",
        "hash",
        "--json",
        file.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    json(&o)
}

#[test]
fn hash_is_stable_under_reformatting() {
    let a = hash_json(&fixture("canonical-a.toml"));
    let b = hash_json(&fixture("canonical-b.toml"));
    assert_eq!(a["hash"], b["hash"], "reformatted policy, same meaning");
    assert_eq!(a["segments"], b["segments"]);
    for seg in ["auth", "rate", "sandbox", "decoy"] {
        let h = a["segments"][seg].as_str().unwrap_or_default();
        assert_eq!(h.len(), 64, "{seg}: {a}");
        assert_ne!(Some(h), a["hash"].as_str(), "{seg}");
    }
    // "#0" and "root" are different principals: a different policy.
    let u = hash_json(&fixture("canonical-uid0.toml"));
    assert_ne!(a["hash"], u["hash"]);
    assert_ne!(a["segments"]["auth"], u["segments"]["auth"]);
    assert_eq!(a["segments"]["sandbox"], u["segments"]["sandbox"]);
    // Text output: the same hashes, one per line.
    let f = fixture("canonical-a.toml");
    let o = bdctl(&["policy", "hash", f.to_str().unwrap_or_default()]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let hash = a["hash"].as_str().unwrap_or_default();
    assert!(out.starts_with(&format!("policy:  {hash}\n")), "{out}");
    for seg in ["auth", "rate", "sandbox", "decoy"] {
        let h = a["segments"][seg].as_str().unwrap_or_default();
        assert!(out.contains(&format!("{seg}:")) && out.contains(h), "{out}");
    }
    // The hash printed by `policy check` is the same one.
    let c = bdctl(&[
        "policy",
        "check",
        "--offline",
        "--json",
        f.to_str().unwrap_or_default(),
    ]);
    assert_eq!(json(&c)["hash"], a["hash"]);
    // A file that does not load: exit 1, a message naming it.
    let o = bdctl(&["policy", "hash", "/nonexistent/belladonna.toml"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/belladonna.toml"));
}

/// (fixture, exit code, (error, warn, info))
const TIERS: &[(&str, i32, (u64, u64, u64))] = &[
    ("tiers-error.toml", 1, (1, 1, 0)),
    ("tiers-warn.toml", 4, (0, 3, 0)),
    ("tiers-info.toml", 0, (0, 0, 2)),
    // Rule "ops" runs as root in the default profile "base", which has no
    // [landlock] table, hence no scopes: one WARN.
    ("canonical-a.toml", 4, (0, 1, 0)),
];

#[test]
fn check_tiers_counts_and_exit_codes() {
    for (name, code, (e, w, i)) in TIERS {
        let f = fixture(name);
        let f = f.to_str().unwrap_or_default();
        let o = bdctl(&["policy", "check", "--offline", f]);
        assert_eq!(o.status.code(), Some(*code), "{name}: {}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            out.contains(&format!("errors: {e}, warnings: {w}, info: {i}\n")),
            "{name}: {out}"
        );
        let o = bdctl(&["policy", "check", "--offline", "--json", f]);
        assert_eq!(o.status.code(), Some(*code), "{name}: {}", text(&o));
        let v = json(&o);
        assert_eq!(
            v["counts"],
            serde_json::json!({"error": e, "warn": w, "info": i}),
            "{name}: {v}"
        );
        let findings = v["findings"].as_array().cloned().unwrap_or_default();
        assert_eq!(findings.len() as u64, e + w + i, "{name}: {v}");
        for fd in &findings {
            assert!(["error", "warn", "info"].contains(&fd["severity"].as_str().unwrap_or("")));
            assert_eq!(fd["file"].as_str(), Some(f), "{fd}");
            assert!(fd["line"].as_u64().unwrap_or(0) > 0, "{fd}");
            assert!(fd["col"].as_u64().unwrap_or(0) > 0, "{fd}");
            assert!(!fd["message"].as_str().unwrap_or("").is_empty());
        }
        assert_eq!(v["hash"].as_str().map(str::len), Some(64), "{v}");
    }
    // The ERROR names file:line:col of the deny rule.
    let f = fixture("tiers-error.toml");
    let o = bdctl(&[
        "policy",
        "check",
        "--offline",
        f.to_str().unwrap_or_default(),
    ]);
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains(&format!("{}:9:1: ERROR: ineffective deny", f.display())),
        "{}",
        text(&o)
    );
    // A policy that does not load: exit 1, one ERROR with its position.
    let tmp = tempfile::tempdir().expect("tempdir");
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "version = 1\n[[rule]]\nname = 3\n").expect("write");
    let o = bdctl(&[
        "policy",
        "check",
        "--json",
        bad.to_str().unwrap_or_default(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v = json(&o);
    assert_eq!(
        v["counts"],
        serde_json::json!({"error": 1, "warn": 0, "info": 0})
    );
    assert_eq!(v["findings"][0]["line"], 3, "{v}");
    assert_eq!(v["hash"], serde_json::Value::Null);
    let o = bdctl(&["policy", "check", bad.to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("errors: 1, warnings: 0, info: 0"));
}

/// Without `--offline` the host is consulted: an account that does not
/// exist is an ERROR, a command that does not exist too.
#[test]
fn check_on_host_reports_unknown_accounts_and_commands() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path().join("p.toml");
    std::fs::write(
        &p,
        "version = 1\n[[rule]]\nname = \"x\"\nusers = [\"belladonna-no-such-user\"]\n\
         commands = [\"/nonexistent/belladonna-tool\"]\nauth = \"none\"\n",
    )
    .expect("write");
    let f = p.to_str().unwrap_or_default();
    let v = json(&bdctl(&["policy", "check", "--json", f]));
    assert_eq!(v["counts"]["error"], 2, "{v}");
    let v = json(&bdctl(&["policy", "check", "--offline", "--json", f]));
    assert_eq!(v["counts"]["error"], 0, "{v}");
}

/// Every example policy loads and has no ERROR in the offline lint; its
/// counts are the pinned ones (the gate checks the hash too).
#[test]
fn example_policies_are_clean_and_pinned() {
    let pins = std::fs::read_to_string(root().join("policies/pins.json")).expect("pins.json");
    let pins: serde_json::Value = serde_json::from_str(&pins).expect("pins.json is JSON");
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("policies")).expect("policies/") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        n += 1;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let o = bdctl(&[
            "policy",
            "check",
            "--offline",
            "--json",
            path.to_str().unwrap_or_default(),
        ]);
        assert!(
            matches!(o.status.code(), Some(0 | 4)),
            "{name}: {}",
            text(&o)
        );
        let v = json(&o);
        assert_eq!(v["counts"]["error"], 0, "{name}: {v}");
        assert_eq!(
            pins[name]["lint"], v["counts"],
            "{name}: pinned lint counts"
        );
        assert_eq!(
            pins[name]["hash"], v["hash"],
            "{name}: pinned hash (run scripts/policy-gate.sh --update)"
        );
    }
    for required in [
        "server.toml",
        "ci-runner.toml",
        "break-glass.toml",
        "demo.toml",
        "default.toml",
    ] {
        assert!(
            root().join("policies").join(required).exists(),
            "{required}"
        );
    }
    assert!(n >= 5);
}

fn gate(dir: &Path, args: &[&str]) -> Output {
    Command::new("bash")
        .arg(dir.join("scripts/policy-gate.sh"))
        .args(args)
        .env("BDCTL", env!("CARGO_BIN_EXE_bdctl"))
        .env_remove("POLICY_DIR")
        .output()
        .expect("run policy-gate.sh")
}

/// The gate on a copy of policies/: passes as shipped, fails (naming the
/// file and both hashes) after a policy change without new pins, passes
/// again after `--update`; a lint change alone fails too.
#[test]
fn policy_gate_passes_fails_and_updates() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("scripts")).expect("mkdir");
    std::fs::create_dir_all(dir.join("policies")).expect("mkdir");
    std::fs::copy(
        root().join("scripts/policy-gate.sh"),
        dir.join("scripts/policy-gate.sh"),
    )
    .expect("copy script");
    for entry in std::fs::read_dir(root().join("policies")).expect("policies/") {
        let path = entry.expect("entry").path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, dir.join("policies").join(name)).expect("copy policy");
        }
    }
    let o = gate(dir, &[]);
    assert_eq!(o.status.code(), Some(0), "as shipped: {}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("not a git work tree"),
        "says why no diff: {out}"
    );

    // A new rule: the hash changes, pins.json does not.
    let server = dir.join("policies/server.toml");
    let old = hash_json(&server)["hash"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut text_now = std::fs::read_to_string(&server).expect("read");
    text_now.push_str("\n[[rule]]\nname = \"extra\"\ngroups = [\"ops\"]\ncommands = [\"/usr/bin/uptime\"]\nauth = \"none\"\n");
    std::fs::write(&server, &text_now).expect("write");
    let new = hash_json(&server)["hash"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_ne!(old, new);
    let o = gate(dir, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.contains(&format!(
            "server.toml: hash changed without pins.json being updated: pinned {old}, now {new}"
        )),
        "{err}"
    );

    let o = gate(dir, &["--update"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = gate(dir, &[]);
    assert_eq!(o.status.code(), Some(0), "after --update: {}", text(&o));

    // Reformatting changes nothing; a new WARN (same hash impossible, so
    // edit the pinned counts instead) fails on the lint counts.
    std::fs::write(
        &server,
        format!("# reformatted\n{}", text_now.replace(" = ", "=")),
    )
    .expect("write");
    let o = gate(dir, &[]);
    assert_eq!(o.status.code(), Some(0), "reformatted: {}", text(&o));
    let pins = dir.join("policies/pins.json");
    let p = std::fs::read_to_string(&pins).expect("pins");
    let line = p
        .lines()
        .find(|l| l.contains("\"server.toml\""))
        .unwrap_or_default()
        .to_string();
    std::fs::write(
        &pins,
        p.replace(&line, &line.replace("\"warn\": 0", "\"warn\": 7")),
    )
    .expect("write pins");
    let o = gate(dir, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("server.toml: lint counts changed"),
        "{}",
        text(&o)
    );

    // A policy without a pin, and a pin without a policy.
    gate(dir, &["--update"]);
    std::fs::copy(
        dir.join("policies/demo.toml"),
        dir.join("policies/new.toml"),
    )
    .expect("copy");
    let o = gate(dir, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("new.toml has no pin"),
        "{}",
        text(&o)
    );
    gate(dir, &["--update"]);
    std::fs::remove_file(dir.join("policies/new.toml")).expect("rm");
    let o = gate(dir, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("pins new.toml, which does not exist"),
        "{}",
        text(&o)
    );
}
