//! The journald copy of every audit record, against a real
//! systemd-journald started by each test in its own namespace
//! (tests/common/journald.rs), `bdctl audit cross-check`, the stage
//! timings and TRACEPARENT in the records, and the catalog.
//! `make test-journald` runs this file.

#[macro_use]
mod common;

use belladonna::audit::journal::ids;
use common::*;
use serde_json::Value;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

const GOOD_TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn boxed_policy(env: &TestEnv) {
    env.policy(&format!(
        "{STD_POLICY}\n[sandbox.box.seccomp]\ndeny = [\"uname\"]\naction = \"errno\"\n\n\
         [[rule]]\nname = \"boxed-echo\"\nusers = [\"carol\"]\ncommands = [\"/usr/bin/echo *\"]\n\
         auth = \"none\"\nsandbox = \"box\"\n"
    ));
}

/// The raw text of the value of `key` on a record line, as the journal
/// field carries it: a string without its quotes (JSON escapes kept), an
/// array or object verbatim; `None` for null.
fn record_text(line: &[u8], key: &str) -> Option<String> {
    let s = std::str::from_utf8(line).expect("utf8");
    let b = s.as_bytes();
    let pat = format!("\"{key}\":");
    let at = [format!("{{{pat}"), format!(",{pat}")]
        .iter()
        .filter_map(|p| s.find(p.as_str()))
        .min()
        .expect("key on the line");
    let start = at + 1 + pat.len();
    let (mut i, mut depth, mut in_str) = (start, 0i32, false);
    loop {
        let c = b[i];
        if in_str {
            if c == b'\\' {
                i += 1;
            } else if c == b'"' {
                in_str = false;
                if depth == 0 {
                    i += 1;
                    break;
                }
            }
        } else {
            match c {
                b'"' => in_str = true,
                b'[' | b'{' => depth += 1,
                b']' | b'}' if depth > 0 => {
                    depth -= 1;
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                b',' | b'}' if depth == 0 => break,
                _ => {}
            }
        }
        i += 1;
    }
    let v = &s[start..i];
    if v == "null" {
        None
    } else if let Some(inner) = v.strip_prefix('"') {
        Some(inner.strip_suffix('"').expect("closing quote").to_string())
    } else {
        Some(v.to_string())
    }
}

fn show_lines(env: &TestEnv) -> Vec<String> {
    let o = env.bdctl(&["audit", "show"]);
    o.expect_code(0, "audit show");
    o.stdout_str().lines().map(str::to_string).collect()
}

#[test]
fn every_bd_field_mirrors_the_record() {
    let env = test_env!("every_bd_field_mirrors_the_record");
    boxed_policy(&env);
    let j = env.start_journald();
    env.bdexec("alice")
        .args(["/usr/bin/echo", "hi"])
        .env("TRACEPARENT", GOOD_TP)
        .run()
        .expect_code(0, "accept");
    env.bdexec("carol")
        .args(["/usr/bin/echo", "boxed"])
        .run()
        .expect_code(0, "sandboxed accept");
    env.bdexec("mallory")
        .args(["/usr/bin/id"])
        .env("TRACEPARENT", "00-nothex\nMESSAGE=forged")
        .run()
        .expect_refusal(1, "reject");
    let entries = j.entries(3);
    let raw = env.audit_bytes();
    let lines = raw_lines(&raw);
    assert_eq!(lines.len(), 3, "{}", String::from_utf8_lossy(&raw));
    assert_eq!(entries.len(), 3, "{entries:#?}");
    let shown = show_lines(&env);
    for (i, line) in lines.iter().enumerate() {
        let rec: Value = serde_json::from_slice(line).expect("record");
        let seq = rec["seq"].as_u64().expect("seq");
        let e = j.by_seq(&entries, seq);
        let ctx = format!("seq {seq}: {e:#?}\n{}", String::from_utf8_lossy(line));
        assert_eq!(e["BD_HASH"], rec["h"], "{ctx}");
        assert_eq!(e["MESSAGE"].as_str(), Some(shown[i].as_str()), "{ctx}");
        assert_eq!(e["SYSLOG_IDENTIFIER"], "bdexec", "{ctx}");
        assert_eq!(e["SYSLOG_FACILITY"], "10", "{ctx}");
        let accept = rec["event"] == "accept";
        assert_eq!(e["PRIORITY"], if accept { "6" } else { "5" }, "{ctx}");
        assert_eq!(
            e["MESSAGE_ID"],
            if accept { ids::ACCEPT } else { ids::REJECT },
            "{ctx}"
        );
        // Every field of the record before prev, as written, and no other BD_ field.
        let obj = rec.as_object().expect("object");
        let mut want = vec!["BD_HASH".to_string()];
        for k in obj.keys() {
            if ["prev", "h", "mac"].contains(&k.as_str()) {
                continue;
            }
            let name = format!("BD_{}", k.to_uppercase());
            match record_text(line, k) {
                None => assert!(e.get(&name).is_none(), "{name} for a null: {ctx}"),
                Some(t) => {
                    assert_eq!(e[&name].as_str(), Some(t.as_str()), "{name}: {ctx}");
                    want.push(name);
                }
            }
        }
        let mut have: Vec<String> = e
            .as_object()
            .expect("entry")
            .keys()
            .filter(|k| k.starts_with("BD_"))
            .cloned()
            .collect();
        want.sort();
        have.sort();
        assert_eq!(have, want, "{ctx}");
        for must in [
            "BD_EVENT",
            "BD_SEQ",
            "BD_UUID",
            "BD_SUBMITUSER",
            "BD_SUBMITUID",
            "BD_COMMAND",
            "BD_RUNARGV",
            "BD_POLICY_HASH",
            "BD_REASON",
            "BD_TIMING",
        ] {
            assert!(e.get(must).is_some(), "{must}: {ctx}");
        }
        if accept {
            for must in ["BD_RULE", "BD_RUNUSER"] {
                assert!(e.get(must).is_some(), "{must}: {ctx}");
            }
        }
        let argv: Value =
            serde_json::from_str(e["BD_RUNARGV"].as_str().expect("argv")).expect("JSON");
        assert_eq!(argv, rec["runargv"], "{ctx}");
    }
    let recs: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(recs[0]["traceparent"], GOOD_TP);
    assert_eq!(recs[1]["sandbox"], "box");
    assert_eq!(j.by_seq(&entries, 2)["BD_SANDBOX"], "box");
    // A malformed TRACEPARENT is recorded as "invalid", never its bytes.
    assert_eq!(recs[2]["traceparent"], "invalid");
    assert_eq!(j.by_seq(&entries, 1)["BD_TRACEPARENT"], GOOD_TP);
    assert_eq!(j.by_seq(&entries, 3)["BD_TRACEPARENT"], "invalid");
    assert!(!String::from_utf8_lossy(&raw).contains("nothex"));
    assert!(entries.iter().all(|e| e["MESSAGE"] != "forged"));
    // Timings: integers, the stages reached are non-zero.
    for r in &recs {
        let t = &r["timing"];
        let keys: Vec<&String> = t.as_object().expect("timing").keys().collect();
        assert_eq!(keys.len(), 4, "{t}");
        for k in ["recv", "auth", "validate", "append"] {
            assert!(t[k].is_u64(), "{k}: {t}");
        }
        assert!(
            t["recv"].as_u64() > Some(0) && t["append"].as_u64() > Some(0),
            "{t}"
        );
    }
    assert!(recs[0]["timing"]["validate"].as_u64() > Some(0));
    env.assert_verify_ok("timed records");
}

#[test]
fn hostile_argv_is_escaped_and_whole() {
    let env = std_env!("hostile_argv_is_escaped_and_whole");
    let j = env.start_journald();
    let big = "A".repeat(100 << 10);
    // 400 KiB of arguments (one may not exceed 128 KiB): the record and
    // its journal copy keep the first 4096 bytes, with the size and hash
    // of the whole.
    let more: Vec<String> = ["B", "C", "D"]
        .iter()
        .map(|c| c.repeat(100 << 10))
        .collect();
    let nasty: Vec<&[u8]> = vec![
        b"line1\nMESSAGE=forged\nPRIORITY=0\nBD_SEQ=999",
        b"a=b==c",
        b"\xff\xfe bytes \x1b[2J",
        big.as_bytes(),
        more[0].as_bytes(),
        more[1].as_bytes(),
        more[2].as_bytes(),
    ];
    let mut call = env.bdexec("alice").arg("/usr/bin/echo");
    for a in &nasty {
        call = call.arg_bytes(a);
    }
    let o = call.run();
    o.expect_code(0, "echo with hostile args");
    // The same arguments refused (mallory has no rule).
    let mut call = env.bdexec("mallory").arg("/usr/bin/echo");
    for a in &nasty {
        call = call.arg_bytes(a);
    }
    call.run().expect_refusal(1, "refused hostile args");
    let entries = j.entries(2);
    assert_eq!(
        entries.len(),
        2,
        "exactly two entries, nothing injected: {}",
        entries.len()
    );
    let lines = env.audit_lines();
    for (rec, seq) in lines.iter().zip(1u64..) {
        let e = j.by_seq(&entries, seq);
        assert!(e.get("BD_TRUNCATED").is_none());
        let argv: Value =
            serde_json::from_str(e["BD_RUNARGV"].as_str().expect("argv text")).expect("JSON");
        assert_eq!(argv, rec["runargv"], "seq {seq}");
        assert_eq!(argv[1], "line1\nMESSAGE=forged\nPRIORITY=0\nBD_SEQ=999");
        assert_eq!(argv[2], "a=b==c");
        assert_eq!(argv[3], "\\xff\\xfe bytes \u{1b}[2J");
        // The record keeps argv up to its bound (audit-format.md 1.5)
        // and says so; the journal mirrors exactly that, never less.
        assert!(argv[4].as_str().is_some_and(|a| a.starts_with("AAAA")));
        assert_eq!(argv.as_array().map(Vec::len), Some(5), "seq {seq}");
        let total = "/usr/bin/echo".len() + nasty.iter().map(|a| a.len()).sum::<usize>();
        assert_eq!(rec["runargv_bytes"].as_u64(), Some(total as u64));
        assert_eq!(
            e["BD_RUNARGV_BYTES"].as_str(),
            Some(total.to_string().as_str())
        );
        assert_eq!(e["BD_RUNARGV_ARGC"].as_str(), Some("8"));
        assert!(e.get("BD_RUNARGV_BLAKE3").is_some());
        assert_ne!(e["MESSAGE"], "forged");
        assert!(["5", "6"].contains(&e["PRIORITY"].as_str().unwrap_or("")));
        let msg = e["MESSAGE"].as_str().expect("MESSAGE is text");
        assert!(
            !msg.contains('\n') && !msg.contains('\u{1b}'),
            "{}",
            &msg[..200]
        );
    }
    env.assert_verify_ok("hostile args");
}

#[test]
fn without_journald_the_call_succeeds() {
    let env = std_env!("without_journald_the_call_succeeds");
    assert!(!env.journal_socket().exists());
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_stdout("0\n", "no journald");
    assert_eq!(env.audit_events("accept").len(), 1);
    env.assert_verify_ok("no journald");
}

/// One RFC 3164 datagram from the test's /dev/log: (PRI, the text after
/// `bdexec[PID]: `), or `None` when none came within `wait`.
fn syslog_datagram(rx: &UnixDatagram, wait: Duration) -> Option<(u32, String)> {
    rx.set_read_timeout(Some(wait)).expect("timeout");
    let mut buf = vec![0u8; 1 << 16];
    let n = rx.recv(&mut buf).ok()?;
    let text = String::from_utf8(buf[..n].to_vec()).expect("utf8 line");
    let rest = text.strip_prefix('<').expect("<PRI>");
    let (pri, rest) = rest.split_once('>').expect("<PRI>");
    let rest = rest.strip_prefix("bdexec[").expect("ident bdexec");
    let (pid, msg) = rest.split_once("]: ").expect("bdexec[PID]: ");
    assert!(pid.parse::<u32>().is_ok(), "pid in {text:?}");
    Some((pri.parse().expect("numeric PRI"), msg.to_string()))
}

/// docs/decisions.md: every record goes to journald, else to syslog
/// (`/dev/log`, facility authpriv, ident bdexec). A /dev of the test's
/// making holds a socket at /dev/log (the host's /dev is not touched);
/// with no journald each record arrives there as one line naming its
/// seq and hash, and once journald listens it takes them and syslog
/// gets none.
#[test]
fn without_journald_records_go_to_syslog() {
    let env = std_env!("without_journald_records_go_to_syslog");
    assert!(!env.journal_socket().exists());
    mkdir_mode(&env.dev_dir(), 0o755);
    let dev_log = env.dev_dir().join("log");
    let rx = UnixDatagram::bind(&dev_log).expect("bind the test's /dev/log");
    std::fs::set_permissions(
        &dev_log,
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .expect("chmod");

    let last = |ev: &str| {
        let all = env.audit_events(ev);
        let r = all.last().expect("a record").clone();
        (
            r["seq"].as_u64().expect("seq"),
            r["h"].as_str().expect("h").to_string(),
        )
    };
    let alice = |what: &str| {
        env.bdexec("alice")
            .args(["/usr/bin/id", "-u"])
            .own_dev()
            .run()
            .expect_stdout("0\n", what);
    };
    alice("allowed, with no journald");
    let (seq, h) = last("accept");
    let (pri, msg) =
        syslog_datagram(&rx, Duration::from_secs(5)).expect("the accept's line on /dev/log");
    assert_eq!(pri, 10 * 8 + 6, "authpriv.info: {msg}");
    assert!(msg.ends_with(&format!("[seq {seq} h {h}]")), "{msg}");
    assert!(msg.contains("alice"), "{msg}");

    env.bdexec("mallory")
        .args(["/usr/bin/id"])
        .own_dev()
        .run()
        .expect_refusal(1, "refused, with no journald");
    let (seq, h) = last("reject");
    let (pri, msg) =
        syslog_datagram(&rx, Duration::from_secs(5)).expect("the reject's line on /dev/log");
    assert_eq!(pri, 10 * 8 + 5, "authpriv.notice: {msg}");
    assert!(msg.ends_with(&format!("[seq {seq} h {h}]")), "{msg}");

    // journald first: with it listening, syslog gets nothing.
    let j = env.start_journald();
    alice("allowed, with journald");
    let (seq, _) = last("accept");
    assert!(
        j.entries(1)
            .iter()
            .any(|e| e["BD_SEQ"].as_str() == Some(&seq.to_string())),
        "journald has the third record (the first since it started)"
    );
    assert_eq!(
        syslog_datagram(&rx, Duration::from_millis(300)),
        None,
        "nothing on /dev/log while journald listens"
    );
    env.assert_verify_ok("syslog copies");

    // What the log cannot hold is an alert, the same way: a bdexec
    // without its file capabilities refuses to start (it cannot open the
    // log), and with journald gone (its socket left behind, refusing)
    // the alert is one authpriv.crit line.
    drop(j);
    let rm = std::process::Command::new("setcap")
        .arg("-r")
        .arg(env.bdexec_path())
        .status()
        .expect("setcap");
    assert!(rm.success(), "setcap -r");
    let o = env
        .bdexec("alice")
        .args(["/usr/bin/id", "-u"])
        .own_dev()
        .run();
    o.expect_refusal(5, "no capabilities");
    let (pri, msg) =
        syslog_datagram(&rx, Duration::from_secs(5)).expect("the alert's line on /dev/log");
    assert_eq!(pri, 10 * 8 + 2, "authpriv.crit: {msg}");
    assert!(msg.contains("capabilit"), "{msg}");
}

#[test]
fn a_full_socket_never_blocks_bdexec() {
    let env = std_env!("a_full_socket_never_blocks_bdexec");
    let sock_path = env.journal_socket();
    mkdir_mode(&env.run_dir().join("systemd"), 0o755);
    mkdir_mode(&env.run_dir().join("systemd/journal"), 0o755);
    // A "journald" that never reads: fill its queue first.
    let rx = UnixDatagram::bind(&sock_path).expect("bind");
    std::fs::set_permissions(
        &sock_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .expect("chmod");
    let tx = UnixDatagram::unbound().expect("socket");
    tx.set_nonblocking(true).expect("nonblocking");
    let mut sent = 0;
    while tx.send_to(b"MESSAGE=filler\n", &sock_path).is_ok() {
        sent += 1;
        assert!(sent < 1_000_000, "the socket never filled");
    }
    for i in 0..3 {
        env.bdexec("alice")
            .args(["/usr/bin/id", "-u"])
            .timeout(Duration::from_secs(10))
            .run()
            .expect_stdout("0\n", &format!("call {i} with a full journal socket"));
    }
    env.bdexec("mallory")
        .args(["/usr/bin/id"])
        .timeout(Duration::from_secs(10))
        .run()
        .expect_refusal(1, "refusal with a full journal socket");
    assert_eq!(env.audit_lines().len(), 4);
    env.assert_verify_ok("full socket");
    drop(rx);
}

/// Recompute prev/h of every line from `from` (0-based) on, as someone
/// rewriting the log would: the file alone then verifies.
fn rechain(lines: &mut [Vec<u8>]) {
    use belladonna::audit::chain::{chain_hash, hex};
    use belladonna::audit::record::LineView;
    let mut prev = [0u8; 32];
    for l in lines.iter_mut() {
        let v = LineView::parse(l).expect("record");
        let pf = l
            .windows(8)
            .rposition(|w| w == b",\"prev\":")
            .expect("prev");
        let body = l[1..pf].to_vec();
        let h = chain_hash(v.seq, &prev, &body);
        let mut out = b"{".to_vec();
        out.extend_from_slice(&body);
        out.extend_from_slice(
            format!(",\"prev\":\"{}\",\"h\":\"{}\"}}", hex(&prev), hex(&h)).as_bytes(),
        );
        *l = out;
        prev = h;
    }
}

#[test]
fn cross_check_finds_truncation_and_rewrites() {
    let env = std_env!("cross_check_finds_truncation_and_rewrites");
    let j = env.start_journald();
    for _ in 0..3 {
        env.run_as_user("alice", &["/usr/bin/id", "-u"])
            .expect_code(0, "call");
    }
    env.run_as_user("mallory", &["/usr/bin/id"])
        .expect_refusal(1, "refusal");
    assert_eq!(j.entries(4).len(), 4);
    let cc = |ctx: &str| {
        let o = env.bdctl(&["audit", "cross-check", "--directory", "/run/log/journal"]);
        eprintln!("{ctx}: {o}");
        o
    };
    let o = cc("intact");
    o.expect_code(0, "intact log agrees");
    assert!(o.stdout_str().contains("4 agree"), "{o}");

    let orig = env.audit_bytes();
    let lines: Vec<Vec<u8>> = raw_lines(&orig).iter().map(|l| l.to_vec()).collect();
    // Truncated tail: the last record cut off at a line boundary.
    let cut: Vec<u8> = lines[..3]
        .iter()
        .flat_map(|l| [l.as_slice(), b"\n"].concat())
        .collect();
    write_mode(&env.audit_path(), &cut, 0o600);
    env.assert_verify_ok("a cleanly truncated file verifies alone");
    let o = cc("truncated");
    o.expect_code(1, "truncation detected");
    assert!(
        o.stdout_str().contains("missing from the file: seq 4"),
        "{o}"
    );

    // Rewritten: record 2 says something else, the chain recomputed.
    let mut forged = lines.clone();
    let s = String::from_utf8(forged[1].clone()).expect("utf8");
    forged[1] = s
        .replacen("\"/usr/bin/id\"", "\"/usr/bin/ID\"", 1)
        .into_bytes();
    assert_ne!(forged[1], lines[1]);
    rechain(&mut forged);
    let text: Vec<u8> = forged
        .iter()
        .flat_map(|l| [l.as_slice(), b"\n"].concat())
        .collect();
    write_mode(&env.audit_path(), &text, 0o600);
    env.assert_verify_ok("a re-chained file verifies alone");
    let o = cc("rewritten");
    o.expect_code(1, "rewrite detected");
    assert!(o.stdout_str().contains("differs: seq 2"), "{o}");

    // The journal lacks a record (journald was down): a warning, 4.
    write_mode(&env.audit_path(), &orig, 0o600);
    drop(j);
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_code(0, "journald down");
    let o = cc("journal behind");
    o.expect_code(4, "the journal lacks seq 5");
    assert!(
        o.stdout_str().contains("missing from the journal: seq 5"),
        "{o}"
    );
}

#[test]
fn cross_check_without_a_journal_is_an_error() {
    let env = std_env!("cross_check_without_a_journal_is_an_error");
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_code(0, "call");
    let o = env.bdctl(&[
        "audit",
        "cross-check",
        "--directory",
        "/nonexistent/journal",
    ]);
    // journalctl on a missing directory fails: exit 2, one line.
    o.expect_code(2, "no journal");
    assert!(o.stderr_str().contains("cannot read the journal"), "{o}");
}

#[test]
fn catalog_is_accepted_by_journalctl() {
    let root = tempfile::tempdir().expect("tempdir");
    let cat = root.path().join("usr/lib/systemd/catalog");
    std::fs::create_dir_all(&cat).expect("mkdir");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/belladonna.catalog");
    std::fs::copy(src, cat.join("belladonna.catalog")).expect("copy");
    let o = std::process::Command::new("journalctl")
        .arg("--root")
        .arg(root.path())
        .arg("--update-catalog")
        .output()
        .expect("journalctl");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = std::process::Command::new("journalctl")
        .arg("--root")
        .arg(root.path())
        .arg("--list-catalog")
        .output()
        .expect("journalctl");
    let list = String::from_utf8_lossy(&o.stdout);
    for id in [
        ids::ACCEPT,
        ids::REJECT,
        ids::RECOVERY,
        ids::SEAL,
        ids::ALERT,
    ] {
        assert!(list.contains(&format!("{id} belladonna: ")), "{id}\n{list}");
    }
}

#[test]
fn seal_and_recovery_records_reach_the_journal() {
    let env = std_env!("seal_and_recovery_records_reach_the_journal");
    mkdir_mode(&env.etc("belladonna/keys"), 0o700);
    let j = env.start_journald();
    let keys = |script: &str| {
        env.sh_in_ns(
            "root",
            &format!(
                "mount --bind \"$TESTDIR/etc/belladonna/keys\" /etc/belladonna/keys || exit 99\n{script}"
            ),
        )
    };
    let o = keys("\"$BDCTL\" key gen --audit");
    assert_eq!(o.code(), Some(0), "{o}");
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_code(0, "call 1");
    let o = keys("\"$BDCTL\" key rotate --audit");
    assert_eq!(o.code(), Some(0), "{o}");
    // A torn tail, recovered by the next call.
    let mut log = env.audit_bytes();
    log.extend_from_slice(b"{\"seq\":3,\"event\":\"acc");
    write_mode(&env.audit_path(), &log, 0o600);
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_code(0, "call 2");
    let entries = j.entries(4);
    let recs = env.audit_lines();
    assert_eq!(recs.len(), 4, "accept, seal, recovery, accept");
    let seal = j.by_seq(&entries, 2);
    assert_eq!(seal["BD_EVENT"], "seal", "{seal:#}");
    assert_eq!(seal["MESSAGE_ID"], ids::SEAL);
    assert_eq!(seal["BD_HASH"], recs[1]["h"]);
    assert_eq!(seal["BD_SEAL_EPOCH"], "0");
    let rec = j.by_seq(&entries, 3);
    assert_eq!(rec["BD_EVENT"], "recovery", "{rec:#}");
    assert_eq!(rec["MESSAGE_ID"], ids::RECOVERY);
    assert_eq!(rec["PRIORITY"], "4");
    assert_eq!(
        rec["BD_TORN_LENGTH"],
        recs[2]["torn_length"].to_string().as_str()
    );
    assert_eq!(j.by_seq(&entries, 4)["BD_HASH"], recs[3]["h"]);
    // Keyed records: the journal has their epoch too.
    assert_eq!(rec["BD_EPOCH"], "1", "{rec:#}");
    assert_eq!(recs[3]["epoch"], 1);
    assert_eq!(j.by_seq(&entries, 4)["BD_EPOCH"], "1");
    assert_eq!(j.by_seq(&entries, 1)["BD_EPOCH"], "0");
    let o = env.bdctl(&["audit", "cross-check", "--directory", "/run/log/journal"]);
    o.expect_code(0, "all four agree (the recovery by seq)");
}

#[test]
fn alerts_reach_the_journal_at_priority_2() {
    let env = std_env!("alerts_reach_the_journal_at_priority_2");
    let j = env.start_journald();
    // The log cannot be opened (a symlink): the accept cannot be made
    // durable, nothing runs (exit 4), and the alert goes to journald.
    std::os::unix::fs::symlink("../elsewhere.jsonl", env.audit_path()).expect("symlink");
    env.run_as_user("alice", &["/usr/bin/touch", "/var/lib/marker"])
        .expect_refusal(4, "audit log unusable");
    assert!(!env.marker_exists("marker"));
    let entries = j.entries(1);
    let alerts: Vec<&Value> = entries
        .iter()
        .filter(|e| e["MESSAGE_ID"] == ids::ALERT)
        .collect();
    assert_eq!(alerts.len(), 1, "{entries:#?}");
    let a = alerts[0];
    assert_eq!(a["PRIORITY"], "2", "{a:#}");
    assert_eq!(a["BD_EVENT"], "alert", "{a:#}");
    assert_eq!(a["SYSLOG_FACILITY"], "10", "{a:#}");
    let msg = a["MESSAGE"].as_str().expect("MESSAGE");
    assert!(msg.contains("/usr/bin/touch not run"), "{msg}");
}

/// `bdctl audit rotate` sends its closing and opening records; after a
/// rotation cross-check reads the rotated file too and agrees.
#[test]
fn rotate_records_reach_the_journal_and_cross_check_agrees() {
    let env = std_env!("rotate_records_reach_the_journal_and_cross_check_agrees");
    let j = env.start_journald();
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_code(0, "call 1");
    env.bdctl(&["audit", "rotate"]).expect_code(0, "rotate");
    env.run_as_user("alice", &["/usr/bin/id", "-u"])
        .expect_code(0, "call 2");
    let entries = j.entries(4);
    let close = j.by_seq(&entries, 2);
    assert_eq!(close["BD_EVENT"], "rotate", "{close:#}");
    assert_eq!(close["BD_ROTATE"], "close", "{close:#}");
    let open = j.by_seq(&entries, 3);
    assert_eq!(open["BD_ROTATE"], "open", "{open:#}");
    assert_eq!(open["BD_HASH"], env.audit_lines()[0]["h"]);
    let o = env.bdctl(&["audit", "cross-check", "--directory", "/run/log/journal"]);
    o.expect_code(0, "all four agree across the two files");
    assert!(o.stdout_str().contains("4 agree"), "{o}");
}
