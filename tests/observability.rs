//! Observability end to end (issue 10 items 4-6, DESIGN section 11):
//! `bdctl metrics` (text, textfile, serve) checked by `promtool`, read by
//! a real node_exporter and a real Prometheus; `bdctl export otlp` sent
//! to an OTLP/HTTP receiver here that decodes with the official
//! definitions (the opentelemetry-proto crate) and can fail on demand;
//! `bdctl doctor --otlp`; the audit log truncated or rotated under the
//! cursors.
//!
//! bdctl runs as root in the harness namespace (its compiled-in paths
//! are the test's). Logs with `timing` and `traceparent` (bdexec writes
//! them once issue 10 items 1-3 are merged) and monitor `exit` records
//! are written here with the chain the writer uses; real bdexec records
//! are used too.
//!
//! The Prometheus test needs `prometheus` and `prometheus-node-exporter`
//! (`make test-observability` installs them and sets
//! BELLADONNA_REQUIRE_OBSERVABILITY=1, which turns their absence into a
//! failure; elsewhere the test says SKIPPED).

#[macro_use]
mod common;
use belladonna::audit::chain::{chain_hash, hex};
use common::*;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyV;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TP_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const TP_SPAN: &str = "b7ad6b7169203331";

/// Chained log lines: each `(seq, event, members)` gets `time`, then the
/// members, then `prev`/`h` as the writer chains them. Returns the text
/// and the last `h`.
fn chained(start_prev: [u8; 32], recs: &[(u64, &str, String)]) -> (String, [u8; 32]) {
    let mut prev = start_prev;
    let mut out = String::new();
    for (seq, event, extra) in recs {
        let body =
            format!("\"seq\":{seq},\"event\":\"{event}\",\"time\":\"2026-12-04T10:00:00Z\"{extra}");
        let h = chain_hash(*seq, &prev, body.as_bytes());
        out.push_str(&format!(
            "{{{body},\"prev\":\"{}\",\"h\":\"{}\"}}\n",
            hex(&prev),
            hex(&h)
        ));
        prev = h;
    }
    (out, prev)
}

fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// A decision record's members: uuid, host, rule, user, reason, and
/// (new) `timing` and `traceparent` when given.
fn decision(n: u64, timing: Option<[u64; 4]>, tp: Option<&str>) -> String {
    let mut s = format!(
        ",\"uuid\":\"{}\",\"host\":\"h1\",\"submituser\":\"alice\",\"runuser\":\"root\",\"command\":\"/usr/bin/id\",\"rule\":\"r{n}\",\"reason\":\"matched\"",
        uuid(n)
    );
    if let Some([r, a, v, ap]) = timing {
        s.push_str(&format!(
            ",\"timing\":{{\"recv\":{r},\"auth\":{a},\"validate\":{v},\"append\":{ap}}}"
        ));
    }
    if let Some(t) = tp {
        s.push_str(&format!(",\"traceparent\":\"{t}\""));
    }
    s
}

fn write_log(env: &TestEnv, text: &str) {
    write_mode(&env.audit_path(), text.as_bytes(), 0o600);
}

fn append_log(env: &TestEnv, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(env.audit_path())
        .expect("open log");
    f.write_all(text.as_bytes()).expect("append");
}

/// `name{labels} value` of an exposition (labels exactly as rendered).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn metrics(env: &TestEnv) -> (String, String) {
    let o = env.bdctl(&["metrics"]);
    o.expect_code(0, "bdctl metrics");
    (o.stdout_str(), o.stderr_str())
}

fn backlog(env: &TestEnv) -> f64 {
    let (t, _) = metrics(env);
    sample(&t, "belladonna_audit_backlog_depth").expect("backlog metric")
}

fn promtool_ok(text: &str) {
    let mut c = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (package prometheus)");
    c.stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let o = c.wait_with_output().expect("promtool");
    assert!(
        o.status.success(),
        "promtool check metrics failed:\n{}{}\n--- input ---\n{text}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn have(bin: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the observability packages are here; without them a test
/// says SKIPPED, or fails under `make test-observability`.
fn observability_tools(test: &str) -> bool {
    let ok = have("prometheus") && have("prometheus-node-exporter") && have("promtool");
    if !ok {
        assert!(
            std::env::var_os("BELLADONNA_REQUIRE_OBSERVABILITY").is_none(),
            "prometheus, prometheus-node-exporter or promtool missing (Makefile OBS_DEB_PACKAGES)"
        );
        loud(&format!(
            "SKIPPED (needs prometheus and prometheus-node-exporter: make test-observability): {test}"
        ));
    }
    ok
}

/// The `h` and `seq` of the log's last line.
fn tail(env: &TestEnv) -> ([u8; 32], u64) {
    let log = String::from_utf8(env.audit_bytes()).expect("utf8");
    let v: serde_json::Value =
        serde_json::from_str(log.lines().last().expect("a record")).expect("json");
    let h =
        belladonna::audit::chain::parse_hex32(v["h"].as_str().expect("h").as_bytes()).expect("hex");
    (h, v["seq"].as_u64().expect("seq"))
}

/// Records carrying the previous record's write + fdatasync time.
fn synced_records(env: &TestEnv) -> f64 {
    env.audit_lines()
        .iter()
        .filter(|v| v.get("sync_prev_us").is_some())
        .count() as f64
}

fn timed_records(env: &TestEnv) -> f64 {
    env.audit_lines()
        .iter()
        .filter(|v| v.get("timing").is_some())
        .count() as f64
}

#[test]
fn metrics_count_incrementally_and_survive_truncation_and_rotation() {
    let env = std_env!("metrics_incremental");
    if !have("promtool") && !observability_tools("metrics_incremental") {
        return;
    }
    // Real records first (bdexec checks the log's last line), then
    // records with the new fields chained after them.
    env.run_as_user("alice", &["--", "/usr/bin/id", "-u"])
        .expect_code(0, "alice id");
    env.run_as_user("mallory", &["--", "/usr/bin/id", "-u"])
        .expect_refusal(1, "mallory");
    let (h0, s0) = tail(&env);
    let (a, _) = chained(
        h0,
        &[
            (
                s0 + 1,
                "accept",
                decision(1, Some([100, 2000, 300, 400]), None),
            ),
            (
                s0 + 2,
                "reject",
                decision(2, Some([100, 0, 200, 50_000]), None),
            ),
            (s0 + 3, "accept", decision(3, None, None)),
        ],
    );
    append_log(&env, &a);
    let (t, err) = metrics(&env);
    promtool_ok(&t);
    assert!(err.is_empty(), "no notes on a clean first run: {err}");
    let acc = "belladonna_decisions_total{event=\"accept\"}";
    let rej = "belladonna_decisions_total{event=\"reject\"}";
    assert_eq!(sample(&t, acc), Some(3.0), "{t}");
    assert_eq!(sample(&t, rej), Some(2.0), "{t}");
    // The records with timings (two of ours: 2.4 ms and 0.3 ms; bdexec's
    // own once it writes them) are in the histograms.
    let timed = timed_records(&env);
    assert!(timed >= 2.0);
    let lat = |t: &str, le: &str| {
        sample(
            t,
            &format!("belladonna_decision_latency_seconds_bucket{{le=\"{le}\"}}"),
        )
        .unwrap_or(-1.0)
    };
    assert_eq!(
        sample(&t, "belladonna_decision_latency_seconds_count"),
        Some(timed),
        "{t}"
    );
    assert_eq!(lat(&t, "+Inf"), timed, "{t}");
    assert!(lat(&t, "0.0005") >= 1.0 && lat(&t, "0.0025") >= 2.0, "{t}");
    // bdexec's second record carries the durable write time of its
    // first (a record cannot time its own).
    let synced = synced_records(&env);
    assert!(synced >= 1.0, "sync_prev_us in bdexec's records");
    assert_eq!(
        sample(&t, "belladonna_audit_fsync_seconds_count"),
        Some(synced),
        "{t}"
    );
    // Never exported: the whole log is the backlog.
    assert_eq!(
        sample(&t, "belladonna_audit_backlog_depth"),
        Some(5.0),
        "{t}"
    );
    assert_eq!(sample(&t, "belladonna_policy_loaded"), Some(1.0), "{t}");
    assert!(
        t.contains("belladonna_policy_segment_info{segment=\"auth\""),
        "{t}"
    );
    assert!(t.contains("drift=\"unpinned\""), "{t}");
    assert!(
        t.contains("belladonna_lint_findings{severity=\"error\"} 0"),
        "{t}"
    );

    // Run again: nothing new, nothing counted twice.
    let (t, _) = metrics(&env);
    assert_eq!(sample(&t, acc), Some(3.0), "second run: {t}");
    assert_eq!(
        sample(&t, "belladonna_replay_evictions_total"),
        Some(0.0),
        "{t}"
    );

    // The replay sets' counters (kept by the nonce sets in the per-boot
    // state, here the test's /run/belladonna): 4 insertions, 2 of them
    // evicted once expired.
    {
        use belladonna::state::clock::Clock;
        use belladonna::state::nonce::consume;
        use std::os::fd::AsFd;
        let run = env.run_dir().join("belladonna");
        mkdir_mode(&run, 0o700);
        let dir = std::fs::File::open(&run).expect("open state dir");
        let t0 = 1_800_000_000u64;
        let clk = |t| Clock::unanchored(t, Duration::from_secs(1), [7; 16]);
        for i in 0..3u8 {
            let exp = if i < 2 { t0 + 5 } else { t0 + 1000 };
            consume(dir.as_fd(), "exec", &[i; 16], exp, &clk(t0), 16).expect("consume");
        }
        consume(dir.as_fd(), "exec", &[9; 16], t0 + 1000, &clk(t0 + 10), 16).expect("evicts 2");
    }
    let (t, _) = metrics(&env);
    assert_eq!(
        sample(&t, "belladonna_replay_evictions_total"),
        Some(2.0),
        "{t}"
    );
    assert_eq!(
        sample(&t, "belladonna_replay_eviction_ratio"),
        Some(0.5),
        "{t}"
    );

    // Truncate the log back to its first record and go on with new
    // records: detected, reported; the records with seqs counted before
    // are not counted again, later ones are.
    let log = String::from_utf8(env.audit_bytes()).expect("utf8");
    let first = log.lines().next().expect("line 1").to_string() + "\n";
    write_log(&env, &first);
    let (h1, s1) = tail(&env);
    let (more, _) = chained(
        h1,
        &[
            (s1 + 1, "accept", decision(20, None, None)),
            (s1 + 2, "accept", decision(21, None, None)),
            (s1 + 3, "accept", decision(22, None, None)),
            (s1 + 4, "reject", decision(23, None, None)),
            (s1 + 5, "reject", decision(24, None, None)),
        ],
    );
    append_log(&env, &more);
    let (t, err) = metrics(&env);
    assert!(err.contains("truncated or rewritten"), "reported: {err}");
    // seq s1+1..s1+4 were counted before (as the old records); only
    // s1+5 is new.
    assert_eq!(sample(&t, acc), Some(3.0), "no double count: {t}");
    assert_eq!(sample(&t, rej), Some(3.0), "{t}");
    assert_eq!(
        sample(
            &t,
            "belladonna_audit_cursor_resets_total{reason=\"truncated\"}"
        ),
        Some(1.0),
        "{t}"
    );
    let (t, err) = metrics(&env);
    assert!(err.is_empty(), "incremental again: {err}");
    assert_eq!(sample(&t, rej), Some(3.0), "{t}");

    // Rotation: a new log from seq 1.
    std::fs::rename(env.audit_path(), env.audit_path().with_extension("jsonl.1")).expect("mv");
    let (r, _) = chained([9; 32], &[(1, "reject", decision(31, None, None))]);
    write_log(&env, &r);
    let (t, err) = metrics(&env);
    assert!(err.contains("rotated"), "reported: {err}");
    assert_eq!(sample(&t, rej), Some(4.0), "{t}");
    assert_eq!(sample(&t, acc), Some(3.0), "{t}");
    assert_eq!(
        sample(
            &t,
            "belladonna_audit_cursor_resets_total{reason=\"rotated\"}"
        ),
        Some(1.0),
        "{t}"
    );
    assert_eq!(
        sample(&t, "belladonna_audit_backlog_depth"),
        Some(1.0),
        "{t}"
    );
    promtool_ok(&t);
}

// ------------------------------------------------------------- receiver

#[derive(Debug, Clone, Copy)]
enum Behave {
    Ok,
    Status(u16),
    /// Answer 200 only after this long (past the client's timeout).
    Slow(Duration),
    /// Read part of the body, then close without an answer.
    CloseMid,
}

/// An OTLP/HTTP receiver on loopback: answers by the plan (then 200),
/// keeps the bodies it accepted (answered 2xx).
type Bodies = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

struct Receiver {
    addr: SocketAddr,
    accepted: Bodies,
    plan: Arc<Mutex<VecDeque<Behave>>>,
    hits: Arc<Mutex<u32>>,
}

impl Receiver {
    fn start() -> Receiver {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let r = Receiver {
            addr,
            accepted: Arc::default(),
            plan: Arc::default(),
            hits: Arc::default(),
        };
        let (acc, plan, hits) = (r.accepted.clone(), r.plan.clone(), r.hits.clone());
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(c) = c else { continue };
                let b = plan.lock().expect("plan").pop_front().unwrap_or(Behave::Ok);
                *hits.lock().expect("hits") += 1;
                let acc = acc.clone();
                std::thread::spawn(move || serve_one(c, b, &acc));
            }
        });
        r
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn plan(&self, b: &[Behave]) {
        self.plan.lock().expect("plan").extend(b.iter().copied());
    }

    fn hits(&self) -> u32 {
        *self.hits.lock().expect("hits")
    }

    fn traces(&self) -> Vec<ExportTraceServiceRequest> {
        self.accepted
            .lock()
            .expect("acc")
            .iter()
            .filter(|(p, _)| p == "/v1/traces")
            .map(|(_, b)| ExportTraceServiceRequest::decode(&b[..]).expect("official decode"))
            .collect()
    }

    fn metrics(&self) -> Vec<ExportMetricsServiceRequest> {
        self.accepted
            .lock()
            .expect("acc")
            .iter()
            .filter(|(p, _)| p == "/v1/metrics")
            .map(|(_, b)| ExportMetricsServiceRequest::decode(&b[..]).expect("official decode"))
            .collect()
    }
}

fn serve_one(mut c: TcpStream, b: Behave, acc: &Mutex<Vec<(String, Vec<u8>)>>) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match c.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_string())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if let Behave::CloseMid = b {
        let _ = c.shutdown(std::net::Shutdown::Both);
        return;
    }
    while buf.len() < head_end + len {
        match c.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = buf[head_end..head_end + len].to_vec();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/x-protobuf"),
        "{head}"
    );
    let status = match b {
        Behave::Ok => 200,
        Behave::Status(s) => s,
        Behave::Slow(d) => {
            std::thread::sleep(d);
            // Late: the client gave up; not counted as delivered.
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            return;
        }
        Behave::CloseMid => unreachable!(),
    };
    if status == 200 {
        acc.lock().expect("acc").push((path, body));
    }
    let _ = c.write_all(
        format!("HTTP/1.1 {status} X\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
}

fn all_spans(reqs: &[ExportTraceServiceRequest]) -> Vec<Span> {
    reqs.iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| ss.spans.clone())
        .collect()
}

fn attr(s: &Span, k: &str) -> Option<String> {
    s.attributes.iter().find(|a| a.key == k).and_then(|a| {
        match a.value.as_ref()?.value.as_ref()? {
            AnyV::StringValue(v) => Some(v.clone()),
            AnyV::IntValue(i) => Some(i.to_string()),
            _ => None,
        }
    })
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn export(env: &TestEnv, url: &str, extra: &[&str]) -> Out {
    let mut args = vec!["export", "otlp", "--endpoint", url];
    args.extend_from_slice(extra);
    env.bdctl(&args)
}

/// The span log of the export tests: a call with timings and the
/// caller's traceparent, its monitor exit record, a refusal with an
/// invalid traceparent, an old record without timing, a seal.
fn span_log() -> String {
    let tp = format!("00-{TP_TRACE}-{TP_SPAN}-01");
    chained(
        [0; 32],
        &[
            (
                1,
                "accept",
                decision(1, Some([100, 2000, 300, 400]), Some(&tp)),
            ),
            (
                2,
                "reject",
                decision(2, Some([50, 0, 70, 90]), Some("invalid")),
            ),
            (3, "accept", decision(3, None, None)),
            (
                4,
                "exit",
                format!(
                    ",\"accept\":\"{}\",\"traceparent\":\"{tp}\",\"duration_us\":5000,\"status\":0",
                    uuid(1)
                ),
            ),
            (
                5,
                "seal",
                ",\"seal_epoch\":0,\"seal_records\":4".to_string(),
            ),
        ],
    )
    .0
}

#[test]
fn export_otlp_spans_decode_with_the_official_definitions() {
    let env = std_env!("export_otlp_spans");
    write_log(&env, &span_log());
    let rx = Receiver::start();
    let o = export(&env, &rx.url(), &["--timeout", "5"]);
    o.expect_code(0, "export");
    assert!(
        o.stdout_str().contains("exported 12 spans of 5 records"),
        "{o}"
    );
    let spans = all_spans(&rx.traces());
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "bdexec", "recv", "auth", "validate", "append", // call 1
            "bdexec", "recv", "auth", "validate", "append", // refusal 2
            "bdexec", // old record 3: the root alone
            "exec",   // the exit record of call 1
        ]
    );
    // Call 1 joins the caller's trace: its root's parent is the caller's
    // span; the stages are its children, end to end, with the recorded
    // durations; the exit's span is in the same trace under the same root.
    let root = &spans[0];
    assert_eq!(root.trace_id, unhex(TP_TRACE));
    assert_eq!(root.parent_span_id, unhex(TP_SPAN));
    for (s, us) in spans[1..5].iter().zip([100u64, 2000, 300, 400]) {
        assert_eq!(s.trace_id, root.trace_id, "{}", s.name);
        assert_eq!(s.parent_span_id, root.span_id, "{}", s.name);
        assert_eq!(
            s.end_time_unix_nano - s.start_time_unix_nano,
            us * 1000,
            "{}",
            s.name
        );
    }
    for w in spans[1..5].windows(2) {
        assert_eq!(w[0].end_time_unix_nano, w[1].start_time_unix_nano);
    }
    assert_eq!(root.start_time_unix_nano, spans[1].start_time_unix_nano);
    assert_eq!(root.end_time_unix_nano, spans[4].end_time_unix_nano);
    // Stamped at 10:00:00Z after validation.
    assert_eq!(spans[3].end_time_unix_nano, 1_796_378_400 * 1_000_000_000);
    assert_eq!(attr(root, "belladonna.rule").as_deref(), Some("r1"));
    assert_eq!(attr(root, "belladonna.event").as_deref(), Some("accept"));
    assert_eq!(attr(root, "belladonna.seq").as_deref(), Some("1"));
    assert_eq!(attr(root, "user.name").as_deref(), Some("alice"));
    let exit = &spans[11];
    assert_eq!(
        (&exit.trace_id, &exit.parent_span_id),
        (&root.trace_id, &root.span_id)
    );
    assert_eq!(
        exit.end_time_unix_nano - exit.start_time_unix_nano,
        5_000_000
    );
    assert_eq!(attr(exit, "process.exit.code").as_deref(), Some("0"));
    // The refusal: invalid traceparent, so a trace of its own derived
    // from its uuid, no parent, status ERROR.
    let rej = &spans[5];
    assert_ne!(rej.trace_id, root.trace_id);
    assert_eq!(rej.trace_id.len(), 16);
    assert!(rej.parent_span_id.is_empty());
    assert_eq!(rej.status.as_ref().map(|s| s.code), Some(2));
    assert_eq!(
        attr(rej, "belladonna.traceparent").as_deref(),
        Some("invalid")
    );
    // Distinct span ids within the export.
    let mut ids: Vec<&Vec<u8>> = spans.iter().map(|s| &s.span_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), spans.len());
    // Resource: service.name.
    let rs = &rx.traces()[0].resource_spans[0];
    let res = rs.resource.as_ref().expect("resource");
    assert!(res.attributes.iter().any(|a| a.key == "service.name"));

    // The metrics went to /v1/metrics.
    let m = rx.metrics();
    assert_eq!(m.len(), 1);
    let names: Vec<String> = m[0].resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .map(|x| x.name.clone())
        .collect();
    for n in [
        "belladonna_decisions_total",
        "belladonna_decision_latency_seconds",
        "belladonna_audit_backlog_depth",
        "belladonna_otel_export_errors_total",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
    }

    // Nothing new: a second run sends no span.
    let before = rx.traces().len();
    export(&env, &rx.url(), &["--no-metrics"]).expect_code(0, "again");
    assert_eq!(rx.traces().len(), before, "no duplicate after success");
    assert_eq!(backlog(&env), 0.0);
}

/// Down, slow, 500, 400, closed mid-request: each failure is counted,
/// nothing is lost, the next run delivers, nothing twice.
#[test]
fn export_otlp_faults_count_and_lose_nothing() {
    let env = std_env!("export_otlp_faults");
    write_log(&env, &span_log());
    let errors = |env: &TestEnv| {
        let (t, _) = metrics(env);
        sample(&t, "belladonna_otel_export_errors_total").expect("errors metric")
    };
    let fast = ["--timeout", "1", "--attempts", "1", "--no-metrics"];

    // Down: a port with nothing listening.
    let down = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let o = export(&env, &format!("http://{down}"), &fast);
    o.expect_code(1, "collector down");
    assert!(o.stderr_str().contains("cannot connect"), "{o}");
    assert!(o.stderr_str().contains("stay for the next run"), "{o}");
    assert_eq!(errors(&env), 1.0);

    let rx = Receiver::start();
    // 500, then (retried within the run, 2 attempts) 500 again.
    rx.plan(&[Behave::Status(500), Behave::Status(500)]);
    let o = export(
        &env,
        &rx.url(),
        &["--timeout", "2", "--attempts", "2", "--no-metrics"],
    );
    o.expect_code(1, "500 twice");
    assert!(o.stderr_str().contains("HTTP 500"), "{o}");
    assert_eq!(rx.hits(), 2, "a 500 is retried");
    assert_eq!(errors(&env), 3.0);

    // 400: not retried (the request itself is refused), counted, kept.
    rx.plan(&[Behave::Status(400)]);
    let o = export(
        &env,
        &rx.url(),
        &["--timeout", "2", "--attempts", "3", "--no-metrics"],
    );
    o.expect_code(1, "400");
    assert_eq!(rx.hits(), 3, "a 400 is not retried");
    assert_eq!(errors(&env), 4.0);

    // Slow: no answer within the timeout.
    rx.plan(&[Behave::Slow(Duration::from_secs(3))]);
    let t0 = Instant::now();
    let o = export(&env, &rx.url(), &fast);
    o.expect_code(1, "slow");
    assert!(o.stderr_str().contains("timed out"), "{o}");
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "bounded by --timeout"
    );
    assert_eq!(errors(&env), 5.0);

    // Closed mid-request.
    rx.plan(&[Behave::CloseMid]);
    let o = export(&env, &rx.url(), &fast);
    o.expect_code(1, "closed mid-request");
    assert_eq!(errors(&env), 6.0);
    assert!(rx.traces().is_empty(), "nothing accepted so far");
    assert_eq!(backlog(&env), 5.0);

    // A 500 then success within one run: delivered.
    rx.plan(&[Behave::Status(500)]);
    let o = export(
        &env,
        &rx.url(),
        &["--timeout", "2", "--attempts", "2", "--no-metrics"],
    );
    o.expect_code(0, "retry succeeds");
    assert_eq!(errors(&env), 7.0);
    let spans = all_spans(&rx.traces());
    assert_eq!(spans.len(), 12, "every record delivered once");
    // And never again.
    export(&env, &rx.url(), &fast).expect_code(0, "nothing new");
    assert_eq!(
        all_spans(&rx.traces()).len(),
        12,
        "no duplicate after success"
    );
    assert_eq!(backlog(&env), 0.0);

    // New records later: only they go.
    let (last_h, _) = tail(&env);
    let (more, _) = chained(last_h, &[(6, "reject", decision(6, None, None))]);
    append_log(&env, &more);
    export(&env, &rx.url(), &fast).expect_code(0, "the new record");
    assert_eq!(all_spans(&rx.traces()).len(), 13);
}

/// Truncation under the export cursor: reported, nothing sent twice.
#[test]
fn export_otlp_truncated_log_is_not_sent_twice() {
    let env = std_env!("export_otlp_truncated");
    let log = span_log();
    write_log(&env, &log);
    let rx = Receiver::start();
    export(&env, &rx.url(), &["--no-metrics"]).expect_code(0, "first");
    let n = all_spans(&rx.traces()).len();
    let two: String = log.split_inclusive('\n').take(2).collect();
    write_log(&env, &two);
    let o = export(&env, &rx.url(), &["--no-metrics"]);
    o.expect_code(0, "after truncation");
    assert!(o.stderr_str().contains("truncated or rewritten"), "{o}");
    assert_eq!(all_spans(&rx.traces()).len(), n, "nothing twice");
}

/// `telemetry_sample_rate = 0.0`: no span, but the cursor moves on.
#[test]
fn export_otlp_sampling_from_the_policy() {
    let env = std_env!("export_otlp_sampling");
    env.policy(&STD_POLICY.replace(
        "umask = \"0022\"\n",
        "umask = \"0022\"\ntelemetry_sample_rate = 0.0\n",
    ));
    write_log(&env, &span_log());
    let rx = Receiver::start();
    let o = export(&env, &rx.url(), &["--no-metrics"]);
    o.expect_code(0, "sampled out");
    assert!(
        o.stdout_str().contains("exported 0 spans of 5 records"),
        "{o}"
    );
    assert!(rx.traces().is_empty());
    assert_eq!(backlog(&env), 0.0);
}

#[test]
fn doctor_otlp_says_what_is_wrong_in_one_line() {
    let env = std_env!("doctor_otlp");
    let down = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let o = env.bdctl(&["doctor", "--otlp", &format!("http://{down}")]);
    o.expect_code(1, "down");
    assert_eq!(o.stdout_str().lines().count(), 1, "{o}");
    assert!(o.stdout_str().contains("cannot connect"), "{o}");
    let rx = Receiver::start();
    rx.plan(&[Behave::Status(404)]);
    let o = env.bdctl(&["doctor", "--otlp", &rx.url()]);
    o.expect_code(1, "404");
    assert!(o.stdout_str().contains("wrong path"), "{o}");
    let o = env.bdctl(&["doctor", "--otlp", &rx.url()]);
    o.expect_code(0, "ok");
    assert!(o.stdout_str().starts_with("otlp: ok:"), "{o}");
    // The probe is an empty export, decoded as such.
    let t = rx.traces();
    assert_eq!(t.len(), 1);
    assert!(t[0].resource_spans.is_empty());
    let o = env.bdctl(&["doctor", "--otlp", "https://example.invalid"]);
    o.expect_code(1, "https");
    assert!(o.stdout_str().contains("only http://"), "{o}");
}

// ------------------------------------------------------ Prometheus, real

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// GET http://addr/path, the body.
fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    // HTTP/1.0: no chunked answer to decode.
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut r = String::new();
    s.read_to_string(&mut r).ok()?;
    let (head, body) = r.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?;
    (code == "200").then(|| body.to_string())
}

struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// node_exporter with the textfile collector alone, reading `dir`.
fn start_node_exporter(dir: &Path, addr: &str) -> Daemon {
    Daemon(
        Command::new("prometheus-node-exporter")
            .arg(format!("--web.listen-address={addr}"))
            .arg("--collector.disable-defaults")
            .arg("--collector.textfile")
            .arg(format!("--collector.textfile.directory={}", dir.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node_exporter"),
    )
}

/// Prometheus with `config`, its data in the test's scratch space.
fn start_prometheus(env: &TestEnv, config: &str, addr: &str) -> Daemon {
    let pdir = env.scratch().join("prometheus");
    std::fs::create_dir_all(pdir.join("data")).expect("mkdir");
    let cfg = pdir.join("prometheus.yml");
    std::fs::write(&cfg, config).expect("config");
    Daemon(
        Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                pdir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus"),
    )
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> Option<String>) -> String {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// node_exporter's textfile collector reads `bdctl metrics --textfile`;
/// a real Prometheus scrapes node_exporter; the test asks Prometheus.
#[test]
fn prometheus_scrapes_the_textfile_through_node_exporter() {
    let env = std_env!("prometheus_textfile");
    if !observability_tools("prometheus_textfile") {
        return;
    }
    let (a, _) = chained(
        [0; 32],
        &[
            (1, "accept", decision(1, Some([1, 2, 3, 4]), None)),
            (2, "accept", decision(2, None, None)),
            (3, "reject", decision(3, None, None)),
        ],
    );
    write_log(&env, &a);
    let dir = env.scratch().join("textfile");
    std::fs::create_dir_all(&dir).expect("mkdir");
    env.bdctl(&["metrics", "--textfile", dir.to_str().expect("utf8")])
        .expect_code(0, "textfile");
    let prom = std::fs::read_to_string(dir.join("belladonna.prom")).expect("written");
    promtool_ok(&prom);
    let mode = std::fs::metadata(dir.join("belladonna.prom"))
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .expect("stat");
    assert_eq!(mode, 0o644, "readable by node_exporter's user");

    let ne_addr = format!("127.0.0.1:{}", free_port());
    let _ne = start_node_exporter(&dir, &ne_addr);
    let body = wait_for("node_exporter", Duration::from_secs(20), || {
        http_get(&ne_addr, "/metrics")
    });
    assert!(
        body.contains("belladonna_decisions_total{event=\"accept\"} 2"),
        "node_exporter serves the textfile"
    );
    assert_eq!(
        sample(&body, "node_textfile_scrape_error"),
        Some(0.0),
        "the textfile parses: {body}"
    );

    let p_addr = format!("127.0.0.1:{}", free_port());
    let _p = start_prometheus(
        &env,
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['{ne_addr}']\n"
        ),
        &p_addr,
    );
    let q = "/api/v1/query?query=belladonna_decisions_total%7Bevent%3D%22accept%22%7D";
    let v = wait_for("Prometheus to scrape", Duration::from_secs(60), || {
        let b = http_get(&p_addr, q)?;
        let j: serde_json::Value = serde_json::from_str(&b).ok()?;
        let r = j["data"]["result"].as_array()?.first()?.clone();
        r["value"][1].as_str().map(str::to_string)
    });
    assert_eq!(v, "2");

    // A new record: the next textfile run, the next scrape.
    let (h, _) = tail(&env);
    let (more, _) = chained(h, &[(4, "accept", decision(4, None, None))]);
    append_log(&env, &more);
    env.bdctl(&["metrics", "--textfile", dir.to_str().expect("utf8")])
        .expect_code(0, "textfile again");
    wait_for("the new value", Duration::from_secs(30), || {
        let b = http_get(&p_addr, q)?;
        b.contains("\"3\"").then_some(b)
    });
}

/// `bdctl metrics serve`: GET /metrics only; bounded requests.
#[test]
fn metrics_serve_answers_get_metrics_only() {
    let env = std_env!("metrics_serve");
    let (a, _) = chained([0; 32], &[(1, "accept", decision(1, None, None))]);
    write_log(&env, &a);
    let addr = format!("127.0.0.1:{}", free_port());
    let mut srv = env
        .program("root", env.bdctl_path())
        .args(["metrics", "serve", "--listen", &addr])
        .timeout(Duration::from_secs(120))
        .spawn();
    let body = wait_for("metrics serve", Duration::from_secs(20), || {
        http_get(&addr, "/metrics")
    });
    assert_eq!(
        sample(&body, "belladonna_decisions_total{event=\"accept\"}"),
        Some(1.0),
        "{body}"
    );
    if have("promtool") {
        promtool_ok(&body);
    }
    assert!(http_get(&addr, "/").is_none(), "404 elsewhere");
    let status = |req: &[u8]| {
        let mut s = TcpStream::connect(&addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let _ = s.write_all(req);
        let mut r = String::new();
        let _ = s.read_to_string(&mut r);
        r.lines().next().unwrap_or("").to_string()
    };
    assert!(status(b"POST /metrics HTTP/1.1\r\n\r\n").contains("405"));
    let huge = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
    assert!(status(huge.as_bytes()).contains("431"));
    // Still serving after the bad requests.
    assert!(http_get(&addr, "/metrics").is_some());
    srv.kill9();
    let _ = srv.child.wait();
}

// ------------------------------------------------------------ quickstart

/// The fenced blocks of a Markdown file: (info string, text).
fn fenced_blocks(md: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(String, String)> = None;
    for line in md.lines() {
        match (&mut cur, line.strip_prefix("```")) {
            (None, Some(info)) => cur = Some((info.trim().to_string(), String::new())),
            (Some(_), Some("")) => out.extend(cur.take()),
            (Some((_, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// Every command of docs/quickstart.md, in order, against a real
/// node_exporter, Prometheus and an OTLP/HTTP receiver (see the
/// document's introduction for how each kind of block is run).
#[test]
fn quickstart_commands_work() {
    let env = test_env!("quickstart");
    if !observability_tools("quickstart") {
        return;
    }
    let md = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/quickstart.md"))
        .expect("docs/quickstart.md");
    let blocks = fenced_blocks(&md);
    assert!(blocks.len() >= 8, "{blocks:?}");
    let textfile = env.scratch().join("textfile");
    std::fs::create_dir_all(&textfile).expect("mkdir");
    let ne_addr = format!("127.0.0.1:{}", free_port());
    let p_addr = format!("127.0.0.1:{}", free_port());
    let rx = Receiver::start();
    let _ne = start_node_exporter(&textfile, &ne_addr);
    let mut prometheus = None;
    let prelude = format!(
        "set -e\nPATH=\"$TESTDIR/bin:$PATH\"\n\
         mount --bind \"$TESTDIR/etc/belladonna\" /etc/belladonna\n\
         NODE_EXPORTER={ne_addr}; PROMETHEUS={p_addr}; OTLP={}; TEXTFILE_DIR='{}'\n",
        rx.url(),
        textfile.display()
    );
    let mut ran = Vec::new();
    for (info, text) in &blocks {
        match info.as_str() {
            "toml" => env.policy(text),
            "yaml" => {
                assert!(text.contains("'127.0.0.1:9100'"), "{text}");
                // The document's addresses and interval, the test's ports
                // and a shorter interval.
                let t = text
                    .replace("'127.0.0.1:9100'", &format!("'{ne_addr}'"))
                    .replace("15s", "1s");
                prometheus = Some(start_prometheus(&env, &t, &p_addr));
            }
            "sh install" => {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    let dry = if let Some(rest) = line.strip_prefix("apt-get install ") {
                        format!("apt-get -s install {rest}")
                    } else if line.starts_with("make ") {
                        line.replacen("make ", "make -n ", 1)
                    } else {
                        panic!("install block: no dry run known for {line:?}");
                    };
                    let o = Command::new("sh")
                        .args(["-c", &dry])
                        .current_dir(env!("CARGO_MANIFEST_DIR"))
                        .output()
                        .expect("dry run");
                    assert!(
                        o.status.success(),
                        "{dry}: {}{}",
                        String::from_utf8_lossy(&o.stdout),
                        String::from_utf8_lossy(&o.stderr)
                    );
                }
                ran.push(info.clone());
            }
            "sh" | "sh alice" => {
                let user = if info == "sh alice" { "alice" } else { "root" };
                let script = if user == "root" {
                    format!("{prelude}{text}")
                } else {
                    format!("set -e\nPATH=\"$TESTDIR/bin:$PATH\"\n{text}")
                };
                // Prometheus answers once it has scraped: retry that block.
                let patience = if text.contains("$PROMETHEUS") { 60 } else { 0 };
                let t0 = Instant::now();
                loop {
                    let o = env.sh_in_ns(user, &script);
                    if o.code() == Some(0) {
                        break;
                    }
                    assert!(
                        t0.elapsed() < Duration::from_secs(patience),
                        "quickstart block failed:\n{text}\n{o}"
                    );
                    std::thread::sleep(Duration::from_secs(1));
                }
                ran.push(info.clone());
            }
            other => panic!("quickstart: block type {other:?} is not run by this test"),
        }
    }
    assert!(
        prometheus.is_some(),
        "the Prometheus configuration block ran"
    );
    assert!(ran.iter().any(|r| r == "sh alice"));
    // The call and the refusal reached the log, and their spans the
    // receiver.
    assert_eq!(env.audit_events("accept").len(), 1);
    assert_eq!(env.audit_events("reject").len(), 1);
    let names: Vec<String> = all_spans(&rx.traces())
        .iter()
        .map(|s| s.name.clone())
        .collect();
    assert_eq!(
        names.iter().filter(|n| *n == "bdexec").count(),
        2,
        "{names:?}"
    );
}

// ---------------------------------------------------------------- Grafana

fn strings_under(v: &serde_json::Value, keys: &[&str], out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match x {
                    serde_json::Value::String(s) if keys.contains(&k.as_str()) => {
                        out.push(s.clone())
                    }
                    _ => strings_under(x, keys, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings_under(x, keys, out)),
        _ => {}
    }
}

/// docs/grafana/belladonna.json is valid JSON, has the panels the issue
/// names, and every metric its PromQL names is one `bdctl metrics`
/// emits.
#[test]
fn grafana_dashboard_names_only_emitted_metrics() {
    let env = std_env!("grafana");
    let (a, _) = chained(
        [0; 32],
        &[(1, "accept", decision(1, Some([1, 2, 3, 4]), None))],
    );
    write_log(&env, &a);
    let (t, _) = metrics(&env);
    let emitted: std::collections::BTreeSet<&str> = t
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/grafana/belladonna.json"
    ))
    .expect("dashboard");
    let d: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let mut exprs = Vec::new();
    strings_under(&d, &["expr", "definition"], &mut exprs);
    assert!(exprs.len() >= 10, "{exprs:?}");
    let mut named = std::collections::BTreeSet::new();
    for e in &exprs {
        let mut rest = e.as_str();
        while let Some(i) = rest.find("belladonna_") {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            named.insert(tail[..end].to_string());
            rest = &tail[end..];
        }
    }
    for n in &named {
        assert!(
            emitted.contains(n.as_str()),
            "dashboard names {n}, bdctl metrics does not emit it"
        );
    }
    for must in [
        "belladonna_decision_latency_seconds_bucket",
        "belladonna_decisions_total",
        "belladonna_policy_segment_info",
        "belladonna_audit_backlog_depth",
        "belladonna_otel_export_errors_total",
        "belladonna_audit_fsync_seconds_bucket",
    ] {
        assert!(named.contains(must), "the dashboard shows {must}");
    }
    for q in ["0.5", "0.95", "0.99"] {
        assert!(
            exprs
                .iter()
                .any(|e| e.contains(&format!("histogram_quantile({q}, "))
                    && e.contains("belladonna_decision_latency_seconds_bucket")),
            "decision latency p{q}"
        );
    }
}

/// Hostile bytes from a caller (newlines, quotes, `=`, invalid UTF-8, a
/// fake traceparent in argv) reach the log escaped; metrics count the
/// real records, and their spans decode (protobuf strings must be UTF-8).
#[test]
fn hostile_caller_bytes_export_cleanly() {
    let env = std_env!("hostile_export");
    for argv in [
        &b"/usr/bin/id\nBD_EVENT=accept"[..],
        &b"/tmp/\xff\xfe\"},{\"event\":\"accept"[..],
        &b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"[..],
    ] {
        env.bdexec("mallory")
            .arg("--")
            .arg_bytes(argv)
            .arg_bytes(b"x=\x01\n")
            .run()
            .expect_refusal(1, "mallory has no rule");
    }
    let (t, _) = metrics(&env);
    assert_eq!(
        sample(&t, "belladonna_decisions_total{event=\"reject\"}"),
        Some(3.0),
        "{t}"
    );
    assert_eq!(
        sample(&t, "belladonna_decisions_total{event=\"accept\"}"),
        Some(0.0),
        "{t}"
    );
    let rx = Receiver::start();
    export(&env, &rx.url(), &["--no-metrics"]).expect_code(0, "export");
    let spans = all_spans(&rx.traces());
    let roots: Vec<&Span> = spans.iter().filter(|s| s.name == "bdexec").collect();
    assert_eq!(roots.len(), 3);
    for r in roots {
        assert_eq!(attr(r, "belladonna.event").as_deref(), Some("reject"));
        // The argv's traceparent-looking text is not a traceparent.
        assert!(r.parent_span_id.is_empty());
        // Caller-controlled text stays escaped, as in `bdctl audit show`.
        let cmd = attr(r, "process.executable.path").unwrap_or_default();
        assert!(!cmd.chars().any(char::is_control), "{cmd:?}");
    }
}
