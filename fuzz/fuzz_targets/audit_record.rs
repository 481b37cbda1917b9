//! Fuzz the audit record encoder and its strict parser:
//!
//! 1. arbitrary bytes given to the parser (`parse_object`,
//!    `LineView::parse`) never panic, hang or allocate wildly;
//! 2. a record built from the input, encoded (with and without an epoch
//!    key), parses back to the same values: one line, valid JSON, `h` and
//!    `mac` check, every field equal to what was written (cut fields to
//!    their cut form), never over `RECORD_MAX`.
#![no_main]

use belladonna::audit::mac::EpochKey;
use belladonna::audit::record::{
    bounded_argv, cut_at, decode_str, encode_record_keyed, parse_object, Event, EventKind,
    LineView, Record, Value, FIELD_MAX, RECORD_MAX,
};
use belladonna::audit::timing::Timing;
use libfuzzer_sys::arbitrary::{Arbitrary, Result as AResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, UNIX_EPOCH};

/// The owned parts of a [`Record`] (which borrows).
#[derive(Debug)]
struct Owned {
    event: Event,
    secs: u64,
    nanos: u32,
    uuid: [u8; 16],
    host: Vec<u8>,
    pid: u32,
    submituser: Option<String>,
    submituid: u32,
    submitgid: u32,
    ttyname: Option<Vec<u8>>,
    submitcwd: Option<Vec<u8>>,
    runuser: Option<String>,
    runuid: Option<u32>,
    rungid: Option<u32>,
    command: Option<Vec<u8>>,
    runargv: Vec<Vec<u8>>,
    rule: Option<String>,
    reason: String,
    policy_hash: Option<[u8; 32]>,
    sandbox: Option<String>,
    confinement: Option<String>,
    drift: Option<String>,
    clock_skew: Option<i64>,
    suppressed: Option<u64>,
    timing: Option<(u64, u64, u64, u64, Option<u64>)>,
    traceparent: Option<String>,
    monitor: bool,
    key: Option<(u64, [u8; 32])>,
}

impl<'a> Arbitrary<'a> for Owned {
    fn arbitrary(u: &mut Unstructured<'a>) -> AResult<Self> {
        let event = *u.choose(&[
            Event::Accept,
            Event::Reject,
            Event::Alert,
            Event::Freeze,
            Event::Unfreeze,
            Event::UnfreezeRefused,
        ])?;
        Ok(Owned {
            event,
            // Up to the year 9999.
            secs: u.int_in_range(0..=253_402_300_799)?,
            nanos: u.int_in_range(0..=999_999_999)?,
            uuid: u.arbitrary()?,
            host: u.arbitrary()?,
            pid: u.arbitrary()?,
            submituser: u.arbitrary()?,
            submituid: u.arbitrary()?,
            submitgid: u.arbitrary()?,
            ttyname: u.arbitrary()?,
            submitcwd: u.arbitrary()?,
            runuser: u.arbitrary()?,
            runuid: u.arbitrary()?,
            rungid: u.arbitrary()?,
            command: u.arbitrary()?,
            runargv: u.arbitrary()?,
            rule: u.arbitrary()?,
            reason: u.arbitrary()?,
            policy_hash: u.arbitrary()?,
            sandbox: u.arbitrary()?,
            confinement: u.arbitrary()?,
            drift: u.arbitrary()?,
            clock_skew: u.arbitrary()?,
            suppressed: u.arbitrary()?,
            timing: u.arbitrary()?,
            traceparent: u.arbitrary()?,
            monitor: u.arbitrary()?,
            key: u.arbitrary()?,
        })
    }
}

fn int(v: Option<&Value<'_>>) -> Option<u64> {
    match v {
        Some(Value::Int(n)) => Some(*n),
        _ => None,
    }
}

/// A string field as written: `None` for null; its decoded bytes.
fn text(v: &LineView<'_>, key: &str) -> Option<Vec<u8>> {
    match v.get(key) {
        Some(Value::Str(s)) => Some(decode_str(s)),
        Some(Value::Null) | None => None,
        Some(other) => panic!("field {key} is {other:?}"),
    }
}

/// What decoding gives back for `b`: `b` itself when it is UTF-8 (the
/// escapes are lossless); otherwise the invalid bytes are the text
/// `\xNN`, so only check it is not shorter than the valid part.
fn same(got: Option<Vec<u8>>, want: Option<&[u8]>, key: &str) {
    match (got, want) {
        (None, None) => {}
        (Some(g), Some(w)) if std::str::from_utf8(w).is_ok() => {
            assert_eq!(g, w, "field {key}")
        }
        (Some(_), Some(_)) => {}
        (g, w) => panic!("field {key}: got {g:?}, wrote {w:?}"),
    }
}

fn roundtrip(o: &Owned) {
    let timing = o
        .timing
        .map(|(recv, auth, validate, append, sync_prev)| Timing {
            recv,
            auth,
            validate,
            append,
            sync_prev,
        });
    let rec = Record {
        event: o.event,
        time: UNIX_EPOCH + Duration::new(o.secs, o.nanos),
        uuid: o.uuid,
        host: &o.host,
        pid: o.pid,
        submituser: o.submituser.as_deref(),
        submituid: o.submituid,
        submitgid: o.submitgid,
        ttyname: o.ttyname.as_deref(),
        submitcwd: o.submitcwd.as_deref(),
        runuser: o.runuser.as_deref(),
        runuid: o.runuid,
        rungid: o.rungid,
        command: o.command.as_deref(),
        runargv: &o.runargv,
        rule: o.rule.as_deref(),
        reason: &o.reason,
        policy_hash: o.policy_hash,
        sandbox: o.sandbox.as_deref(),
        confinement: o.confinement.as_deref(),
        drift: o.drift.as_deref(),
        clock_skew: o.clock_skew,
        suppressed: o.suppressed,
        env_dropped: &[],
        timing,
        traceparent: o.traceparent.as_deref(),
        monitor: o.monitor,
        edit: None,
    };
    let key = o.key.map(|(e, k)| EpochKey::new(e, k));
    let seq = u64::from(o.pid) + 1;
    let prev = [0x5a; 32];
    let mut out = Vec::new();
    let h = encode_record_keyed(&mut out, &rec, seq, &prev, key.as_ref());
    assert!(out.len() <= RECORD_MAX, "record of {} bytes", out.len());
    assert_eq!(out.last(), Some(&b'\n'));
    let line = &out[..out.len() - 1];
    assert!(!line.contains(&b'\n'), "newline inside a record");
    let v = match LineView::parse(line) {
        Ok(v) => v,
        Err(e) => panic!("own record refused: {e}\n{}", String::from_utf8_lossy(line)),
    };
    let json: serde_json::Value = serde_json::from_slice(line).expect("a record is valid JSON");
    assert_eq!(v.seq, seq);
    assert_eq!(v.prev, prev);
    assert_eq!(v.h, h);
    assert!(v.hash_ok());
    let want_kind = match o.event {
        Event::Accept => EventKind::Accept,
        Event::Reject => EventKind::Reject,
        _ => EventKind::Incident,
    };
    assert_eq!(v.event, want_kind);
    match &key {
        Some(k) => {
            assert_eq!(v.epoch, Some(k.epoch()));
            let mac = v.mac_bytes().expect("a keyed record has a mac");
            assert!(k.mac_ok(&v.h, &mac));
        }
        None => assert!(v.mac.is_none() && v.epoch.is_none()),
    }
    assert_eq!(int(v.get("pid")), Some(u64::from(o.pid)));
    assert_eq!(int(v.get("submituid")), Some(u64::from(o.submituid)));
    assert_eq!(int(v.get("submitgid")), Some(u64::from(o.submitgid)));
    assert_eq!(int(v.get("runuid")), o.runuid.map(u64::from));
    assert_eq!(int(v.get("rungid")), o.rungid.map(u64::from));
    assert_eq!(int(v.get("suppressed")), o.suppressed);
    assert_eq!(json["clock_skew"].as_i64(), o.clock_skew);
    assert_eq!(v.get("monitor") == Some(&Value::Bool(true)), o.monitor);
    assert_eq!(v.timing(), timing);
    same(text(&v, "host"), Some(&o.host), "host");
    same(
        text(&v, "submituser"),
        o.submituser.as_deref().map(str::as_bytes),
        "submituser",
    );
    same(text(&v, "ttyname"), o.ttyname.as_deref(), "ttyname");
    same(
        text(&v, "runuser"),
        o.runuser.as_deref().map(str::as_bytes),
        "runuser",
    );
    same(
        text(&v, "rule"),
        o.rule.as_deref().map(str::as_bytes),
        "rule",
    );
    same(
        text(&v, "sandbox"),
        o.sandbox.as_deref().map(str::as_bytes),
        "sandbox",
    );
    same(
        text(&v, "drift"),
        o.drift.as_deref().map(str::as_bytes),
        "drift",
    );
    same(
        text(&v, "confinement"),
        o.confinement.as_deref().map(str::as_bytes),
        "confinement",
    );
    fn cut(b: Option<&[u8]>) -> Option<&[u8]> {
        b.map(|b| cut_at(b, FIELD_MAX))
    }
    same(
        text(&v, "submitcwd"),
        cut(o.submitcwd.as_deref()),
        "submitcwd",
    );
    same(text(&v, "command"), cut(o.command.as_deref()), "command");
    same(text(&v, "reason"), cut(Some(o.reason.as_bytes())), "reason");
    let (kept, _) = bounded_argv(&o.runargv);
    match v.get("runargv") {
        Some(Value::Arr(a)) => {
            assert_eq!(a.len(), kept.len(), "runargv length");
            for (i, (g, w)) in a.iter().zip(&kept).enumerate() {
                same(Some(decode_str(g)), Some(w), &format!("runargv[{i}]"));
            }
        }
        other => panic!("runargv is {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    // 1. Arbitrary bytes as a line: an answer, never a panic.
    let _ = parse_object(data);
    if let Ok(v) = LineView::parse(data) {
        let _ = v.hash_ok();
        let _ = v.timing();
    }
    // 2. The same bytes as the recipe of a record: round trip.
    if let Ok(o) = Owned::arbitrary(&mut Unstructured::new(data)) {
        roundtrip(&o);
    }
});
