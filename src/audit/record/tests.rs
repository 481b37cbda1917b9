//! Unit tests of [`super`] (`record.rs`), apart to keep that file short.

use super::*;
use crate::audit::testutil::sample;
use std::time::Duration;

#[test]
fn time_format() {
    assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
    assert_eq!(
        rfc3339(UNIX_EPOCH + Duration::new(1_796_060_239, 123_456_789)),
        "2026-11-30T17:37:19.123456789Z"
    );
    // 2000-02-29 (leap day), 2100-03-01.
    assert_eq!(
        rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
        "2000-02-29T00:00:00.000000000Z"
    );
    assert_eq!(
        rfc3339(UNIX_EPOCH + Duration::from_secs(4_107_542_400)),
        "2100-03-01T00:00:00.000000000Z"
    );
    assert_eq!(
        rfc3339(UNIX_EPOCH - Duration::new(0, 1)),
        "1969-12-31T23:59:59.999999999Z"
    );
}

#[test]
fn civil_matches_day_count() {
    // Walk day by day over a few centuries and check monotonic dates.
    let mut prev = civil_from_days(-100_000);
    for z in -99_999..100_000 {
        let cur = civil_from_days(z);
        assert!(cur > prev, "{z}: {cur:?} after {prev:?}");
        assert!((1..=12).contains(&cur.1) && (1..=31).contains(&cur.2));
        prev = cur;
    }
}

#[test]
fn uuid_v4() {
    let u = new_uuid().expect("getrandom");
    let s = format_uuid(&u);
    assert_eq!(s.len(), 36);
    let parts: Vec<&str> = s.split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert!(parts[2].starts_with('4'));
    assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
}

/// An exit record's exact layout, both outcomes, and its parse.
#[test]
fn exit_layout_and_parse() {
    let mut rec = ExitRecord {
        time: UNIX_EPOCH + std::time::Duration::new(1_796_060_239, 5),
        uuid: [0x22; 16],
        host: b"h",
        pid: 7,
        accept: [0x11; 16],
        outcome: Outcome::Status(3),
        core_dumped: false,
        timed_out: false,
        duration_us: 10,
        maxrss_kb: 20,
        utime_us: 30,
        stime_us: 40,
        traceparent: None,
        recording: None,
        recording_error: None,
        exec_refused: None,
    };
    let mut out = Vec::new();
    let h = encode_exit_keyed(&mut out, &rec, 2, &[0; 32], None);
    let line = std::str::from_utf8(&out).expect("utf8");
    assert!(
        line.starts_with(
            "{\"seq\":2,\"event\":\"exit\",\"time\":\"2026-11-30T17:37:19.000000005Z\",\
             \"uuid\":\"22222222-2222-2222-2222-222222222222\",\"host\":\"h\",\"pid\":7,\
             \"accept\":\"11111111-1111-1111-1111-111111111111\",\"status\":3,\
             \"core_dumped\":false,\"duration_us\":10,\"maxrss_kb\":20,\"utime_us\":30,\
             \"stime_us\":40,\"prev\":"
        ),
        "{line}"
    );
    let v = LineView::parse(&out[..out.len() - 1]).expect("parse");
    assert_eq!((v.event, v.h), (EventKind::Exit, h));
    assert!(v.hash_ok());
    rec.outcome = Outcome::Signal("TERM");
    rec.core_dumped = true;
    let mut out = Vec::new();
    encode_exit_keyed(&mut out, &rec, 2, &[0; 32], None);
    let v = LineView::parse(&out[..out.len() - 1]).expect("parse");
    assert_eq!(v.get("signal"), Some(&Value::Str(b"TERM")));
    assert_eq!(v.get("core_dumped"), Some(&Value::Bool(true)));
    // A status that is not a number, a missing field: not a record.
    let s = String::from_utf8(out).expect("utf8");
    for bad in [
        s.replace("\"signal\":\"TERM\"", "\"status\":\"TERM\""),
        s.replace(",\"core_dumped\":true", ""),
    ] {
        assert!(LineView::parse(bad.trim_end().as_bytes()).is_err(), "{bad}");
    }
    // The accept record's traceparent is repeated, checked.
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    rec.traceparent = Some(tp);
    let mut out = Vec::new();
    encode_exit_keyed(&mut out, &rec, 2, &[0; 32], None);
    let text = std::str::from_utf8(&out).expect("utf8");
    assert!(
        text.contains(&format!(",\"stime_us\":40,\"traceparent\":\"{tp}\",")),
        "{text}"
    );
    LineView::parse(&out[..out.len() - 1]).expect("parses with traceparent");
    rec.traceparent = Some("junk");
    let mut out = Vec::new();
    encode_exit_keyed(&mut out, &rec, 2, &[0; 32], None);
    assert!(String::from_utf8_lossy(&out).contains(",\"traceparent\":\"invalid\","));
    // A noexec run's count of refused execs, after the traceparent.
    rec.exec_refused = Some(3);
    let mut out = Vec::new();
    encode_exit_keyed(&mut out, &rec, 2, &[0; 32], None);
    let text = std::str::from_utf8(&out).expect("utf8");
    assert!(
        text.contains(",\"traceparent\":\"invalid\",\"exec_refused\":3,"),
        "{text}"
    );
    LineView::parse(&out[..out.len() - 1]).expect("parses with exec_refused");
    // A session recording's hash, and why it ended early.
    rec.traceparent = None;
    rec.recording = Some([0xab; 32]);
    rec.recording_error = Some("recording ended early: No space left on device (os error 28)");
    let mut out = Vec::new();
    encode_exit_keyed(&mut out, &rec, 2, &[0; 32], None);
    let v = LineView::parse(&out[..out.len() - 1]).expect("parses with a recording");
    let want = format!("blake3:{}", "ab".repeat(32));
    assert_eq!(v.get("recording"), Some(&Value::Str(want.as_bytes())));
    assert!(String::from_utf8_lossy(&out).contains(
        ",\"recording_error\":\"recording ended early: No space left on device (os error 28)\","
    ),);
    assert!(v.hash_ok());
}

#[test]
fn exact_layout_and_parse() {
    let argv = vec![
        b"systemctl".to_vec(),
        b"restart".to_vec(),
        b"x\x1by\xff".to_vec(),
    ];
    let mut out = Vec::new();
    let h = encode_record(&mut out, &sample(&argv), 1, &[0; 32]);
    let line = std::str::from_utf8(&out).expect("utf8");
    assert!(line.ends_with("\"}\n"));
    let want_start = concat!(
        r#"{"seq":1,"event":"accept","time":"2026-11-30T17:37:19.123456789Z","#,
        r#""uuid":"11111111-1111-1111-1111-111111111111","host":"host1","pid":4242,"#,
        r#""submituser":"alice","submituid":1000,"submitgid":1000,"ttyname":"/dev/pts/3","#,
        r#""submitcwd":"/home/alice","runuser":"root","runuid":0,"rungid":0,"#,
        r#""command":"/usr/bin/systemctl","runargv":["systemctl","restart","x\u001by\\xff"],"#,
        r#""rule":"web","reason":"matched","policy_hash":"abab"#
    );
    assert!(line.starts_with(want_start), "{line}");
    let v = LineView::parse(&out[..out.len() - 1]).expect("parses");
    assert_eq!(v.seq, 1);
    assert_eq!(v.event, EventKind::Accept);
    assert_eq!(v.h, h);
    assert!(v.hash_ok());
    assert_eq!(v.text("reason").as_deref(), Some(&b"matched"[..]));
    match v.get("runargv") {
        Some(Value::Arr(a)) => assert_eq!(decode_str(a[2]), b"x\x1by\\xff"),
        other => panic!("{other:?}"),
    }
    let j: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
    assert_eq!(j["runargv"][2], "x\u{1b}y\\xff");
    assert_eq!(j["runuid"], 0);
}

#[test]
fn env_dropped_field() {
    let argv = vec![b"ls".to_vec()];
    let names = vec!["LANGUAGE".to_string(), "LC_TIME".to_string()];
    let mut r = sample(&argv);
    r.env_dropped = &names;
    let mut out = Vec::new();
    encode_record(&mut out, &r, 1, &[0; 32]);
    let line = std::str::from_utf8(&out).expect("utf8");
    assert!(
        line.contains(r#","env_dropped":["LANGUAGE","LC_TIME"],"prev":"#),
        "{line}"
    );
    let v = LineView::parse(&out[..out.len() - 1]).expect("parses");
    assert!(v.hash_ok());
    match v.get("env_dropped") {
        Some(Value::Arr(a)) => assert_eq!(a, &[&b"LANGUAGE"[..], &b"LC_TIME"[..]]),
        other => panic!("{other:?}"),
    }
    // Absent when nothing was dropped.
    let mut out = Vec::new();
    encode_record(&mut out, &sample(&argv), 1, &[0; 32]);
    assert!(!String::from_utf8_lossy(&out).contains("env_dropped"));
}

#[test]
fn nulls_and_recovery() {
    let argv: Vec<Vec<u8>> = Vec::new();
    let mut r = sample(&argv);
    r.event = Event::Reject;
    r.submituser = None;
    r.ttyname = None;
    r.submitcwd = None;
    r.runuser = None;
    r.runuid = None;
    r.rungid = None;
    r.command = None;
    r.rule = None;
    r.policy_hash = None;
    let mut out = Vec::new();
    let h1 = encode_record(&mut out, &r, 1, &[0; 32]);
    let torn = Torn {
        offset: 10,
        length: 5,
        hash: [3; 32],
    };
    let start = out.len();
    encode_recovery(&mut out, 2, &h1, r.time, b"h\"x", 7, &torn);
    let v = LineView::parse(&out[..start - 1]).expect("reject parses");
    assert_eq!(v.event, EventKind::Reject);
    assert!(v.hash_ok());
    let rv = LineView::parse(&out[start..out.len() - 1]).expect("recovery parses");
    assert_eq!(rv.event, EventKind::Recovery);
    assert_eq!(rv.torn, Some(torn));
    assert_eq!(rv.prev, h1);
    assert!(rv.hash_ok());
    assert!(out[start..].starts_with(&recovery_prefix(2)));
}

#[test]
fn tolerant_tail() {
    let argv = vec![b"true".to_vec()];
    let mut out = Vec::new();
    encode_record(&mut out, &sample(&argv), 1, &[0; 32]);
    let line = String::from_utf8(out).expect("utf8");
    let line = line.trim_end();
    // Planned: "epoch" before prev (hashed), "mac" after h (not hashed).
    let pos = line.find(",\"prev\":").expect("prev");
    let with_epoch = format!("{},\"epoch\":3{}", &line[..pos], &line[pos..]);
    let v = LineView::parse(with_epoch.as_bytes()).expect("epoch tolerated");
    assert!(!v.hash_ok(), "epoch is part of the hashed body");
    let with_mac = format!(
        "{},\"mac\":\"{}\"}}",
        &line[..line.len() - 1],
        "ab".repeat(32)
    );
    let v = LineView::parse(with_mac.as_bytes()).expect("mac tolerated");
    assert!(v.hash_ok(), "mac is outside the hashed body");
    assert!(v.mac.is_some());
    let bad = format!("{},\"x\":1}}", &line[..line.len() - 1]);
    assert!(LineView::parse(bad.as_bytes()).is_err());
    let reordered = line.replacen("\"event\":\"accept\",\"time\"", "\"time\"", 1);
    assert!(LineView::parse(reordered.as_bytes()).is_err());
}

#[test]
fn timing_and_traceparent() {
    let argv = vec![b"true".to_vec()];
    let mut r = sample(&argv);
    let t = Timing {
        recv: 1,
        auth: 22,
        validate: 333,
        append: 4444,
        sync_prev: None,
    };
    r.timing = Some(t);
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    r.traceparent = Some(tp);
    let mut out = Vec::new();
    encode_record(&mut out, &r, 1, &[0; 32]);
    let line = std::str::from_utf8(&out).expect("utf8").trim_end();
    assert!(
        line.contains(&format!(
            ",\"timing\":{{\"recv\":1,\"auth\":22,\"validate\":333,\"append\":4444}},\"traceparent\":\"{tp}\",\"prev\""
        )),
        "{line}"
    );
    let v = LineView::parse(line.as_bytes()).expect("parses");
    assert!(v.hash_ok());
    assert_eq!(v.timing(), Some(t));
    let j: serde_json::Value = serde_json::from_str(line).expect("JSON");
    assert_eq!(j["timing"]["validate"], 333);
    // A value that is neither checked nor "invalid" is never written.
    r.traceparent = Some("00-\"injected");
    let mut out = Vec::new();
    encode_record(&mut out, &r, 1, &[0; 32]);
    let line = std::str::from_utf8(&out).expect("utf8").trim_end();
    assert!(line.contains(",\"traceparent\":\"invalid\","), "{line}");
    // Malformed shapes are refused by the parser (and so the verifier).
    let good = line.to_string();
    for (from, to) in [
        ("\"append\":4444", "\"append\":\"x\""),
        (",\"append\":4444", ""),
        ("\"recv\":1,\"auth\":22", "\"auth\":22,\"recv\":1"),
        ("\"append\":4444", "\"append\":4444,\"exec\":1"),
        ("\"traceparent\":\"invalid\"", "\"traceparent\":\"00-x\""),
        ("\"traceparent\":\"invalid\"", "\"traceparent\":{\"a\":1}"),
        ("\"traceparent\":\"invalid\"", "\"other\":{\"a\":1}"),
        ("\"timing\":{", "\"timing\":{\"x\":{}},\"t2\":{"),
    ] {
        let bad = good.replacen(from, to, 1);
        assert_ne!(bad, good, "{from}");
        assert!(LineView::parse(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn parser_rejects_non_canonical() {
    for bad in [
        &b""[..],
        b"{}",
        b"{\"seq\":1 }",
        b"{\"seq\":01}",
        b"{\"seq\":-0}",
        b"{\"seq\":1.5}",
        b"{\"a\":\"\x01\"}",
        b"{\"a\":\"\xff\"}",
        b"{\"a\":\"\\ud800\"}",
        b"{\"a\":tru}",
        b"{\"a\":True}",
        b"{\"a\":1}x",
        b"{\"a\":[1]}",
        b"{\"a\":{}}",
        b"{\"a\":{\"b\":\"c\"}}",
        b"{\"a\":{\"b\":{\"c\":1}}}",
        b"{\"a\":{\"b\":1,}}",
        b"{\"seq\":99999999999999999999}",
    ] {
        assert!(
            parse_object(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(parse_object(b"{\"a\":[],\"b\":null,\"c\":\"\\u00e9\\\"\"}").is_ok());
    assert!(parse_object(b"{\"a\":true,\"b\":false}").is_ok());
    // A negative integer is JSON, but no record field but clock_skew.
    assert!(parse_object(b"{\"seq\":-1}").is_ok());
    assert!(LineView::parse(b"{\"seq\":-1}").is_err());
}

#[test]
fn absorbable_shapes() {
    let rec = record_prefix(5);
    let rcv = recovery_prefix(5);
    assert!(span_absorbable(&rec[..3], &[], 5));
    assert!(span_absorbable(
        b"{\"seq\":5,\"event\":\"accept\",\"ti",
        &[],
        5
    ));
    assert!(!span_absorbable(b"{\"seq\":6,", &[], 5));
    assert!(!span_absorbable(b"garbage", &[], 5));
    assert!(!span_absorbable(b"", &[], 5));
    assert!(span_absorbable(b"\0\0\0", &[&rcv[..4]], 5));
    assert!(span_absorbable(
        b"junk",
        &[&rcv, b"{\"seq\":5,\"event\":\"recovery\",\"time\""],
        5
    ));
    assert!(!span_absorbable(
        b"junk",
        &[b"{\"seq\":5,\"event\":\"accept\""],
        5
    ));
    assert!(!span_absorbable(b"junk", &[b""], 5));
}

#[test]
fn argv_cut_keeps_order_and_flags_it() {
    let small = vec![b"a".to_vec(), b"bc".to_vec()];
    let (k, cut) = bounded_argv(&small);
    assert_eq!((k, cut), (vec![&b"a"[..], &b"bc"[..]], false));
    // Exactly at the limit: kept whole.
    let exact = vec![vec![b'x'; RUNARGV_MAX - 1]];
    assert!(!bounded_argv(&exact).1);
    let over = vec![vec![b'x'; RUNARGV_MAX]];
    let (k, cut) = bounded_argv(&over);
    assert!(cut);
    assert_eq!(k[0].len(), RUNARGV_MAX - 1);
    // Many empty arguments count one byte each.
    let many = vec![Vec::new(); RUNARGV_MAX * 3];
    let (k, cut) = bounded_argv(&many);
    assert!(cut);
    assert_eq!(k.len(), RUNARGV_MAX);
    // A cut never splits a UTF-8 character.
    let mut s = vec![b'a'; RUNARGV_MAX - 3];
    s.extend_from_slice("é€".as_bytes());
    let (k, _) = bounded_argv(std::slice::from_ref(&s));
    assert!(
        std::str::from_utf8(k[0]).is_ok(),
        "{:?}",
        &k[0][k[0].len() - 4..]
    );
    assert_eq!(cut_at(b"ab\xff\xff\xff\xff", 4), b"ab\xff\xff");
}

/// The flood of the review: a huge non-UTF-8 argv (and command, cwd
/// and reason) makes a line under RECORD_MAX, flagged and hashed.
#[test]
fn worst_case_record_is_bounded() {
    let ctl = vec![0x01u8; 128 * 1024];
    let bad = vec![0xffu8; 128 * 1024];
    let argv: Vec<Vec<u8>> = (0..16)
        .map(|i| if i % 2 == 0 { ctl.clone() } else { bad.clone() })
        .collect();
    let reason = String::from_utf8(vec![b'\x01'; 64 * 1024]).unwrap();
    let mut rec = sample(&argv);
    rec.command = Some(&ctl);
    rec.submitcwd = Some(&bad);
    rec.reason = &reason;
    rec.suppressed = Some(7);
    let mut out = Vec::new();
    encode_record(&mut out, &rec, 1, &[0; 32]);
    assert!(out.len() <= RECORD_MAX, "{} bytes", out.len());
    let line = &out[..out.len() - 1];
    let v = LineView::parse(line).expect("parses");
    assert!(v.hash_ok());
    assert_eq!(v.get("runargv_argc"), Some(&Value::Int(16)));
    assert_eq!(v.get("runargv_bytes"), Some(&Value::Int(16 * 128 * 1024)));
    let want = hex_of(&argv_blake3(&argv));
    assert_eq!(v.get("runargv_blake3"), Some(&Value::Str(want.as_bytes())));
    assert_eq!(v.get("command_bytes"), Some(&Value::Int(128 * 1024)));
    assert!(v.get("command_blake3").is_some());
    assert!(v.get("submitcwd_blake3").is_some());
    assert_eq!(v.get("reason_bytes"), Some(&Value::Int(64 * 1024)));
    assert_eq!(v.get("suppressed"), Some(&Value::Int(7)));
    // A record that fits carries none of them.
    let small = vec![b"id".to_vec()];
    let mut out = Vec::new();
    encode_record(&mut out, &sample(&small), 1, &[0; 32]);
    let s = String::from_utf8(out).unwrap();
    assert!(!s.contains("_blake3") && !s.contains("suppressed"), "{s}");
}

fn hex_of(b: &[u8; 32]) -> String {
    let mut v = Vec::new();
    push_hex(&mut v, b);
    String::from_utf8(v).unwrap()
}

/// A wall clock set back writes a negative `clock_skew`; the parser must
/// read that honest record back (an earlier fuzz run found it rejected
/// as "unexpected value"), and negatives stay confined to that field.
#[test]
fn negative_clock_skew_round_trips() {
    let argv = vec![b"ls".to_vec()];
    for skew in [-3_i64, -86_400, i64::MIN, 5] {
        let mut r = sample(&argv);
        r.clock_skew = Some(skew);
        let mut out = Vec::new();
        let h = encode_record(&mut out, &r, 3, &[0; 32]);
        let v = LineView::parse(&out[..out.len() - 1]).expect("parses");
        assert_eq!(v.h, h);
        assert!(v.hash_ok());
        let want = if skew < 0 {
            Value::Neg(skew.unsigned_abs())
        } else {
            Value::Int(skew as u64)
        };
        assert_eq!(v.get("clock_skew"), Some(&want), "{skew}");
        let j: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(j["clock_skew"].as_i64(), Some(skew));
    }
    // Negative zero, a bare '-', leading zeros and out-of-range
    // magnitudes are not records; neither is a negative elsewhere.
    for (bad, what) in [
        ("-0", "negative zero"),
        ("-", "'-' without digits"),
        ("-01", "leading zero"),
        ("-18446744073709551616", "out of range"),
    ] {
        let line = format!("{{\"a\":{bad}}}");
        let e = parse_object(line.as_bytes()).expect_err(bad);
        assert!(e.what.contains(what), "{bad}: {e}");
    }
    let mut out = Vec::new();
    encode_record(&mut out, &sample(&argv), 3, &[0; 32]);
    let text = String::from_utf8(out).expect("utf8");
    let bad = text.replacen("\"submituid\":1000", "\"submituid\":-1000", 1);
    assert!(LineView::parse(bad.trim_end().as_bytes()).is_err());
    let bad = text.replacen(",\"prev\":", ",\"sandbox_n\":-1,\"prev\":", 1);
    let e = LineView::parse(bad.trim_end().as_bytes()).expect_err("negative extension");
    assert!(e.what.contains("negative"), "{e}");
}
