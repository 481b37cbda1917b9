//! Lifecycle spans rebuilt from audit records (DESIGN section 11). Pure:
//! a record in, spans out.
//!
//! One trace per call. The root span `bdexec` has the stage spans as
//! children, laid end to end from the record's `timing` (microseconds):
//! `recv`, `auth`, `validate`, `append` from the accept or reject record,
//! then `exec`, `sandbox`, `complete` from the monitor's `exit` record
//! (`"accept": UUID`, `timing` or `duration_us`) when one exists. The
//! decision record is stamped when it is built, after validation: the
//! first three stages end at its `time`, `append` follows it, and the
//! root span covers them all.
//!
//! Ids are derived, so a record exported twice gives the same spans (the
//! export is at-least-once, the spans idempotent): the trace id comes
//! from the recorded `traceparent` (the root's parent is then the
//! caller's span), else from BLAKE3 of the uuid; span ids from BLAKE3 of
//! the uuid and the span name. An `exit` record derives the same ids from
//! its `accept` uuid, so its spans join the call's trace without a
//! lookup. A record without `timing` (older logs) gives the root span
//! alone, of zero length at its time.
#![forbid(unsafe_code)]

use serde_json::Value;

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Str(String),
    Int(i64),
}

/// One span, ready to encode.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// The parent span; `None` for a root without a caller's trace.
    pub parent: Option<[u8; 8]>,
    pub name: &'static str,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attributes: Vec<(&'static str, Attr)>,
    /// True for a refused call (status ERROR on the root).
    pub error: bool,
}

/// The decision stages, in order.
pub const DECISION_STAGES: &[&str] = &["recv", "auth", "validate", "append"];
/// The stages of a monitored command's exit record, in order.
pub const EXIT_STAGES: &[&str] = &["exec", "sandbox", "complete"];

fn derive<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
    let mut h = blake3::Hasher::new();
    h.update(b"belladonna-span-v1\0");
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let mut out = [0u8; N];
    out.copy_from_slice(&h.finalize().as_bytes()[..N]);
    // All-zero ids are invalid in W3C and OTLP.
    if out.iter().all(|b| *b == 0) {
        out[N - 1] = 1;
    }
    out
}

fn hex_to<const N: usize>(s: &str) -> Option<[u8; N]> {
    crate::base::hex::decode(s.as_bytes())
}

/// A strictly valid W3C traceparent (version 00, lowercase hex, non-zero
/// ids): (trace id, parent span id).
pub fn parse_traceparent(s: &str) -> Option<([u8; 16], [u8; 8])> {
    let mut it = s.split('-');
    let (v, t, p, f) = (it.next()?, it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || v != "00" || hex_to::<1>(f).is_none() {
        return None;
    }
    let t = hex_to::<16>(t)?;
    let p = hex_to::<8>(p)?;
    if t.iter().all(|b| *b == 0) || p.iter().all(|b| *b == 0) {
        return None;
    }
    Some((t, p))
}

/// Trace id and the root's parent for the call `uuid`.
pub fn trace_of(uuid: &str, traceparent: Option<&str>) -> ([u8; 16], Option<[u8; 8]>) {
    match traceparent.and_then(parse_traceparent) {
        Some((t, p)) => (t, Some(p)),
        None => (derive(&[b"trace", uuid.as_bytes()]), None),
    }
}

/// Span id of span `name` of call `uuid`.
pub fn span_id(uuid: &str, name: &str) -> [u8; 8] {
    derive(&[b"span", uuid.as_bytes(), name.as_bytes()])
}

/// Whether a trace is kept at `ppm` parts per million: decided by the
/// trace id, so every record of one call gets the same answer.
pub fn sampled(trace_id: &[u8; 16], ppm: u32) -> bool {
    let mut b = [0u8; 8];
    b.copy_from_slice(&trace_id[8..]);
    u64::from_be_bytes(b) % 1_000_000 < u64::from(ppm)
}

/// Nanoseconds since the epoch of an RFC 3339 UTC time as the log writes
/// it (`2026-11-29T17:37:19.123456789Z`, fraction optional).
pub fn parse_time(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, se) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let rest = s.get(19..)?;
    let frac = match rest.strip_suffix('Z')? {
        "" => 0,
        f => {
            let digits = f.strip_prefix('.')?;
            if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|c| c.is_ascii_digit())
            {
                return None;
            }
            digits.parse::<u64>().ok()? * 10u64.pow(9 - digits.len() as u32)
        }
    };
    // Days from civil (H. Hinnant), the inverse of the writer's.
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(frac)
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k)?.as_str().map(str::to_string)
}

/// A string field for an attribute: caller-controlled text stays escaped
/// as the terminal view shows it (control characters, separators and
/// invisible format characters as `\xNN`), never raw.
fn shown(v: &Value, k: &str) -> Option<String> {
    v.get(k)?
        .as_str()
        .map(|s| crate::base::escape::display(s.as_bytes()))
}

/// Lay `stages` end to end, ending at `end_ns`; returns (name, start,
/// end) of each present stage and the first start.
fn lay(v: &Value, stages: &[&'static str], end_ns: u64) -> (Vec<(&'static str, u64, u64)>, u64) {
    let durs: Vec<(&'static str, u64)> = stages
        .iter()
        .filter_map(|s| Some((*s, super::cursor::timing(v, s)?.saturating_mul(1000))))
        .collect();
    let total: u64 = durs.iter().fold(0u64, |a, (_, d)| a.saturating_add(*d));
    let mut t = end_ns.saturating_sub(total);
    let start = t;
    let mut out = Vec::new();
    for (name, d) in durs {
        out.push((name, t, t.saturating_add(d)));
        t = t.saturating_add(d);
    }
    (out, start)
}

/// A stage span (name, start, end) under the root of call `uuid`.
fn child(
    trace_id: [u8; 16],
    uuid: &str,
    (name, start_ns, end_ns): (&'static str, u64, u64),
    attributes: Vec<(&'static str, Attr)>,
) -> Span {
    Span {
        trace_id,
        span_id: span_id(uuid, name),
        parent: Some(span_id(uuid, "bdexec")),
        name,
        start_ns,
        end_ns,
        attributes,
        error: false,
    }
}

/// The spans of one record (empty for records that are not calls:
/// recovery, seal, unknown events, or missing uuid or time).
pub fn spans_of(v: &Value) -> Vec<Span> {
    let event = v.get("event").and_then(Value::as_str).unwrap_or("");
    let Some(time) = v.get("time").and_then(Value::as_str).and_then(parse_time) else {
        return Vec::new();
    };
    let tp = text(v, "traceparent");
    match event {
        "accept" | "reject" => {
            let Some(uuid) = text(v, "uuid") else {
                return Vec::new();
            };
            let (trace_id, parent) = trace_of(&uuid, tp.as_deref());
            let root_id = span_id(&uuid, "bdexec");
            // Stamped after validation; the append follows it.
            let append = super::cursor::timing(v, "append").unwrap_or(0);
            let end = time.saturating_add(append.saturating_mul(1000));
            let (stages, start) = lay(v, DECISION_STAGES, end);
            let mut attrs = vec![
                ("belladonna.event", Attr::Str(event.to_string())),
                ("belladonna.uuid", Attr::Str(uuid.clone())),
            ];
            if let Some(seq) = v.get("seq").and_then(Value::as_u64) {
                attrs.push((
                    "belladonna.seq",
                    Attr::Int(i64::try_from(seq).unwrap_or(i64::MAX)),
                ));
            }
            for (k, a) in [
                ("rule", "belladonna.rule"),
                ("reason", "belladonna.reason"),
                ("submituser", "user.name"),
                ("runuser", "belladonna.runuser"),
                ("command", "process.executable.path"),
                ("sandbox", "belladonna.sandbox"),
                ("host", "host.name"),
            ] {
                if let Some(s) = shown(v, k) {
                    attrs.push((a, Attr::Str(s)));
                }
            }
            if tp.as_deref() == Some("invalid") {
                attrs.push(("belladonna.traceparent", Attr::Str("invalid".into())));
            }
            let mut out = vec![Span {
                trace_id,
                span_id: root_id,
                parent,
                name: "bdexec",
                start_ns: start,
                end_ns: end.max(start),
                attributes: attrs,
                error: event == "reject",
            }];
            out.extend(
                stages
                    .into_iter()
                    .map(|st| child(trace_id, &uuid, st, Vec::new())),
            );
            out
        }
        "exit" => {
            let Some(uuid) = text(v, "accept") else {
                return Vec::new();
            };
            let (trace_id, _) = trace_of(&uuid, tp.as_deref());
            let (mut stages, _) = lay(v, EXIT_STAGES, time);
            if stages.is_empty()
                && let Some(d) = v.get("duration_us").and_then(Value::as_u64)
            {
                stages.push(("exec", time.saturating_sub(d.saturating_mul(1000)), time));
            }
            let mut attrs = Vec::new();
            if let Some(st) = v.get("status").and_then(Value::as_i64) {
                attrs.push(("process.exit.code", Attr::Int(st)));
            }
            stages
                .into_iter()
                .map(|st| child(trace_id, &uuid, st, attrs.clone()))
                .collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const U: &str = "0b7e4e8c-5a0e-4c4e-9d1e-1f2a3b4c5d6e";

    #[test]
    fn time_round_trips_with_the_writer() {
        for t in [0u64, 1_764_000_000_123_456_789, 951_782_400_000_000_000] {
            let st = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(t);
            let s = crate::audit::record::rfc3339(st);
            assert_eq!(parse_time(&s), Some(t), "{s}");
        }
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00.Z",
            "x026-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn traceparent_is_strict() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert!(parse_traceparent(ok).is_some());
        for bad in [
            "invalid",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn stages_laid_end_to_end_under_the_root() {
        let v = json!({"seq": 3, "event": "accept", "time": "2026-12-04T10:00:00Z", "uuid": U,
            "rule": "r", "timing": {"recv": 10, "auth": 200, "validate": 30, "append": 400}});
        let s = spans_of(&v);
        let names: Vec<_> = s.iter().map(|x| x.name).collect();
        assert_eq!(names, ["bdexec", "recv", "auth", "validate", "append"]);
        let t = parse_time("2026-12-04T10:00:00Z").unwrap_or(0);
        assert_eq!(s[0].start_ns, t - 240_000);
        assert_eq!(s[0].end_ns, t + 400_000);
        assert_eq!((s[3].end_ns, s[4].start_ns), (t, t));
        assert!(
            s[1..]
                .iter()
                .all(|c| c.parent == Some(s[0].span_id) && c.trace_id == s[0].trace_id)
        );
        assert_eq!(s[0].parent, None);
        // Idempotent.
        assert_eq!(spans_of(&v), s);
    }

    #[test]
    fn old_record_gives_the_root_alone_and_exit_joins_the_trace() {
        let v = json!({"seq": 1, "event": "reject", "time": "2026-12-04T10:00:00Z", "uuid": U});
        let s = spans_of(&v);
        assert_eq!(s.len(), 1);
        assert!(s[0].error);
        let e = json!({"seq": 2, "event": "exit", "time": "2026-12-04T10:00:05Z", "accept": U, "duration_us": 5000});
        let x = spans_of(&e);
        assert_eq!(x.len(), 1);
        assert_eq!(
            (x[0].name, x[0].trace_id, x[0].parent),
            ("exec", s[0].trace_id, Some(s[0].span_id))
        );
        assert!(
            spans_of(&json!({"seq": 4, "event": "seal", "time": "2026-12-04T10:00:00Z"}))
                .is_empty()
        );
    }

    #[test]
    fn sampling_is_by_trace() {
        let (t, _) = trace_of(U, None);
        assert!(sampled(&t, 1_000_000));
        assert!(!sampled(&t, 0));
        let kept = (0..1000u32)
            .filter(|i| sampled(&trace_of(&i.to_string(), None).0, 250_000))
            .count();
        assert!((180..320).contains(&kept), "{kept}");
    }
}
