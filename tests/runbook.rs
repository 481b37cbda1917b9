//! docs/runbook.md, exercised (issue 16 item 7): every procedure's
//! ```` ```sh runbook=NAME ```` blocks are extracted from the document and
//! run, as written, as one root shell script with the real bdctl and
//! bdexec in the test namespace (tests/common). Each test first creates
//! the damage the procedure is for (a leaked key, a corrupt log, a frozen
//! host, a full disk, a drifted policy), sets the variables the document
//! names to scratch paths, may act between two blocks where the document
//! leaves a step to the operator (a call, freeing space), and checks the
//! outcome afterwards. The document and the test cannot drift apart: a
//! command that stops working fails here, and so does a procedure in the
//! document that no test runs.
//!
//! `/etc` is a read-only overlay in the test namespaces: the scripts
//! bind-mount the layer's `etc/belladonna` over `/etc/belladonna` first
//! (as tests/keys.rs does for the keys), so what a procedure writes there
//! is what later calls see.

#[macro_use]
mod common;
use common::*;

const DOC: &str = include_str!("../docs/runbook.md");

/// Every procedure the document has, each exercised by one test below.
const PROCEDURES: [&str; 6] = [
    "mac-key",
    "approver-key",
    "corrupt-log",
    "frozen-no-approvers",
    "full-disk",
    "policy-drift",
];

/// The `sh runbook=NAME` blocks of the document, in order.
fn blocks(name: &str) -> Vec<String> {
    let open = format!("```sh runbook={name}");
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in DOC.lines() {
        match &mut cur {
            None if line.trim_end() == open => cur = Some(String::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => out.extend(cur.take()),
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
        }
    }
    assert!(cur.is_none(), "runbook={name}: unterminated block");
    out
}

/// The procedure names tagged in the document.
fn tagged() -> Vec<String> {
    let mut v: Vec<String> = DOC
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("```sh runbook="))
        .map(str::to_string)
        .collect();
    v.dedup();
    v
}

/// Run procedure `name`: `setup` (the damage; not stopped by a failing
/// command), then the document's blocks with `between[i]` after block i
/// (the operator's step), then `check`, all under `set -e` from the first
/// block on, in one root shell in the test namespace with bdctl and
/// bdexec on PATH.
fn run(env: &TestEnv, name: &str, vars: &str, setup: &str, between: &[&str], check: &str) -> Out {
    let b = blocks(name);
    assert!(
        !b.is_empty(),
        "docs/runbook.md has no `sh runbook={name}` block"
    );
    assert!(
        between.len() < b.len(),
        "runbook={name}: {} blocks, {} steps between them",
        b.len(),
        between.len()
    );
    let mut script = String::from(
        "mount --bind \"$TESTDIR/etc/belladonna\" /etc/belladonna || exit 99\n\
         PATH=\"$TESTDIR/bin:/usr/sbin:/usr/bin:/sbin:/bin\"; export PATH\n\
         call() { as_user alice bdexec -n -- /usr/bin/id -u; }\n",
    );
    script.push_str(vars);
    script.push_str("\n# --- setup (the damage)\n");
    script.push_str(setup);
    script.push_str("\nset -e\n");
    for (i, block) in b.iter().enumerate() {
        script.push_str(&format!(
            "\n# --- docs/runbook.md runbook={name}, block {}\n",
            i + 1
        ));
        script.push_str(block);
        if let Some(step) = between.get(i) {
            script.push_str("\n# --- the operator's step\n");
            script.push_str(step);
        }
    }
    script.push_str("\n# --- check\n");
    script.push_str(check);
    script.push_str("\necho RUNBOOK-DONE\n");
    let o = env.sh_in_ns("root", &script);
    assert!(
        o.code() == Some(0) && o.stdout_str().contains("RUNBOOK-DONE"),
        "runbook={name} failed\n{o}"
    );
    o
}

fn runbook_env(name: &str) -> Option<TestEnv> {
    let env = TestEnv::new(&format!("runbook::{name}"))?;
    env.policy(STD_POLICY);
    mkdir_mode(&env.etc("belladonna/keys"), 0o700);
    Some(env)
}

#[test]
fn every_procedure_is_tested() {
    let t = tagged();
    assert_eq!(
        t, PROCEDURES,
        "docs/runbook.md's procedures and this test's list differ"
    );
    for p in PROCEDURES {
        assert!(!blocks(p).is_empty(), "{p}");
    }
}

#[test]
fn mac_key_leaked() {
    let Some(env) = runbook_env("mac_key") else {
        return;
    };
    let o = run(
        &env,
        "mac-key",
        "ARCHIVE=$SCRATCH/archive; OLD_K0=$SCRATCH/old.k0",
        "bdctl key gen --audit --export-verify-key \"$OLD_K0\" || exit 98\n\
         call && call && bdctl key rotate --audit && call || exit 98\n\
         cp /etc/belladonna/keys/audit.key \"$SCRATCH/leaked.key\"",
        &["", "call"],
        // The archive is the old chain, MACs checked with the old K_0;
        // the new chain refuses the old K_0 and the leaked key's epoch;
        // the marker restarted at epoch 0.
        "bdctl audit verify --file \"$ARCHIVE\"/*/audit.jsonl --key \"$OLD_K0\"\n\
         (cd \"$ARCHIVE\"/* && sha256sum -c SHA256SUMS)\n\
         if bdctl audit verify --key \"$OLD_K0\"; then echo 'old K0 verifies the new chain'; exit 1; fi\n\
         grep -qx 'audit 0' /var/lib/belladonna/key-epoch\n\
         ! cmp -s /etc/belladonna/keys/audit.key \"$SCRATCH/leaked.key\"\n\
         call",
    );
    let out = o.stdout_str();
    assert!(out.contains("MACs verified"), "{o}");
    // The new log: one call between gen and verify, one in the check.
    let accepts = env.audit_events("accept");
    assert_eq!(accepts.len(), 2, "{o}");
    assert!(accepts.iter().all(|r| r.get("mac").is_some()), "{o}");
}

/// The same procedure when the host key is damaged (every call fails,
/// exit 4) and the old K_0 is lost too.
#[test]
fn mac_key_damaged() {
    let Some(env) = runbook_env("mac_key_damaged") else {
        return;
    };
    let o = run(
        &env,
        "mac-key",
        "ARCHIVE=$SCRATCH/archive; OLD_K0=$SCRATCH/lost.k0",
        "bdctl key gen --audit --export-verify-key \"$OLD_K0\" || exit 98\n\
         call && rm \"$OLD_K0\" || exit 98\n\
         head -c 20 /etc/belladonna/keys/audit.key > \"$SCRATCH/k\" && cat \"$SCRATCH/k\" > /etc/belladonna/keys/audit.key\n\
         call 2>&1; [ $? -eq 4 ] || { echo no-refusal; exit 98; }",
        &["", "call"],
        "call\n\
         bdctl audit verify --file \"$ARCHIVE\"/*/audit.jsonl",
    );
    assert_eq!(env.audit_events("accept").len(), 2, "{o}");
    assert!(o.stdout_str().contains("bdexec: audit: audit key: "), "{o}");
}

#[test]
fn approver_key_lost() {
    let Some(env) = runbook_env("approver_key") else {
        return;
    };
    let o = run(
        &env,
        "approver-key",
        "APPROVER=alice; KEYDIR=$SCRATCH/new-keys; BACKUP=$SCRATCH",
        // The policy trusts alice's old key; a token signed with it
        // verifies before the procedure.
        "mkdir -p \"$SCRATCH/old\" && bdctl key gen --approver alice --out \"$SCRATCH/old\" || exit 98\n\
         OLD=$(bdctl key show \"$SCRATCH/old/alice.pub\" | sed -n 's/.* public=//p')\n\
         printf '\\n[approvers.alice]\\nkey = \"%s\"\\nepoch = 0\\n' \"$OLD\" >> /etc/belladonna/policy.toml\n\
         bdctl policy check >/dev/null || exit 98\n\
         bdctl policy pin >/dev/null || exit 98\n\
         bdctl token sign --key \"$SCRATCH/old/alice.key\" --purpose unfreeze > \"$SCRATCH/old.tok\" || exit 98\n\
         bdctl token verify \"$SCRATCH/old.tok\" >/dev/null || exit 98\n\
         rm \"$SCRATCH/old/alice.key\"",
        &[],
        "if bdctl token verify \"$SCRATCH/old.tok\"; then echo 'old token still verifies'; exit 1; fi\n\
         bdctl token sign --key \"$KEYDIR/alice.key\" --purpose unfreeze > \"$SCRATCH/new.tok\"\n\
         bdctl token verify \"$SCRATCH/new.tok\"\n\
         bdctl policy pin --show | grep -q 'verified'",
    );
    assert!(o.stdout_str().contains("pinned"), "{o}");
}

#[test]
fn corrupt_log_middle() {
    let Some(env) = runbook_env("corrupt_log") else {
        return;
    };
    let o = run(
        &env,
        "corrupt-log",
        "EVIDENCE=$SCRATCH/evidence",
        "call && call && call || exit 98\n\
         sed -i '2s/alice/mallo/' /var/log/belladonna/audit.jsonl\n\
         if bdctl audit verify; then exit 98; fi",
        &[],
        "[ \"$rc\" -eq 1 ]\n\
         grep -q mallo \"$EVIDENCE\"/*/damaged-audit.jsonl.1\n\
         ! grep -q mallo /var/log/belladonna/audit.jsonl*\n\
         call\n\
         bdctl audit verify",
    );
    assert!(o.stdout_str().contains("bdctl audit verify exit 1"), "{o}");
    // The host's chain verifies again, the damaged file's deletion
    // recorded (its file is gone, the verifier accepts the gap).
    assert!(
        !env.dir.join("log/belladonna/audit.jsonl.1").exists(),
        "{o}"
    );
    assert!(o.stdout_str().contains("valid chain"), "{o}");
}

#[test]
fn corrupt_log_torn_tail() {
    let Some(env) = runbook_env("torn_tail") else {
        return;
    };
    let o = run(
        &env,
        "corrupt-log",
        "EVIDENCE=$SCRATCH/evidence",
        "call && call || exit 98\n\
         head -c -40 /var/log/belladonna/audit.jsonl > \"$SCRATCH/t\" && cat \"$SCRATCH/t\" > /var/log/belladonna/audit.jsonl",
        &[],
        // Nothing rotated; the next call records the torn bytes.
        "[ \"$rc\" -eq 3 ]\n\
         ! ls /var/log/belladonna/audit.jsonl.1 2>/dev/null\n\
         call\n\
         bdctl audit verify",
    );
    assert!(o.stdout_str().contains("bdctl audit verify exit 3"), "{o}");
    assert_eq!(env.audit_events("recovery").len(), 1, "{o}");
}

#[test]
fn frozen_host_approvers_unavailable() {
    let Some(env) = runbook_env("frozen") else {
        return;
    };
    let o = run(
        &env,
        "frozen-no-approvers",
        "TICKET=INC-42; EVIDENCE=$SCRATCH/evidence",
        "bdctl freeze --reason 'runbook test' || exit 98\n\
         if call; then echo 'not frozen'; exit 98; fi",
        &[],
        "[ ! -e /var/lib/belladonna/frozen ] && [ ! -e /run/belladonna/frozen ]\n\
         grep -q 'runbook test' \"$EVIDENCE/frozen-INC-42.json\"\n\
         call",
    );
    let out = o.stdout_str();
    assert!(out.contains("frozen"), "{o}");
    let last = env.audit_lines().pop().expect("records");
    assert_eq!(last["event"], "accept", "{o}");
}

#[test]
fn full_disk() {
    let Some(env) = runbook_env("full_disk") else {
        return;
    };
    let o = run(
        &env,
        "full-disk",
        "ARCHIVE=$SCRATCH/archive",
        // A small file system for the log, partly filled by something
        // else (a core dump), then calls until the append fails.
        "mount -t tmpfs -o size=64k,mode=0700 tmpfs /var/log/belladonna || exit 98\n\
         dd if=/dev/zero of=/var/log/belladonna/core.1234 bs=1k count=20 2>/dev/null\n\
         n=0; while call >/dev/null 2>&1; do n=$((n+1)); [ $n -lt 1000 ] || exit 98; done\n\
         call; [ $? -eq 4 ] || exit 98\n\
         echo \"filled after $n calls\"",
        &["rm /var/log/belladonna/core.1234"],
        "call\n\
         bdctl audit verify\n\
         ls \"$ARCHIVE\"/audit.jsonl.1\n\
         [ ! -e /var/log/belladonna/audit.jsonl.1 ]\n\
         for i in 1 2 3 4 5; do call >/dev/null; done",
    );
    assert!(o.stdout_str().contains("filled after"), "{o}");
}

#[test]
fn policy_restored_with_drift() {
    let Some(env) = runbook_env("policy_drift") else {
        return;
    };
    std::fs::write(env.scratch().join("approved.toml"), STD_POLICY).expect("approved copy");
    let o = run(
        &env,
        "policy-drift",
        "APPROVED=$SCRATCH/approved.toml",
        // Pinned, then "restored from a backup" with one more rule.
        "bdctl policy pin || exit 98\n\
         printf '\\n[[rule]]\\nname = \"old-backup\"\\nusers = [\"bob\"]\\ncommands = [\"/usr/bin/id -u\"]\\nauth = \"none\"\\n' >> /etc/belladonna/policy.toml\n\
         call || exit 98\n\
         grep -q '\"drift\":' /var/log/belladonna/audit.jsonl || exit 98",
        &[],
        "call\n\
         tail -n 1 /var/log/belladonna/audit.jsonl | grep -v '\"drift\":'",
    );
    assert!(o.stdout_str().contains("widening"), "{o}");
    env.assert_verify_ok("after the drift procedure");
}
