//! One audit record: its exact serialisation (fixed field order, our own
//! writer, not serde) and a strict parser for lines read back.
//!
//! An `accept`/`reject` line is
//!
//! ```text
//! {"seq":N,"event":"accept","time":"2026-11-29T17:37:19.123456789Z",
//!  "uuid":"8-4-4-4-12","host":"..","pid":N,"submituser":".."|null,
//!  "submituid":N,"submitgid":N,"ttyname":".."|null,"submitcwd":".."|null,
//!  "runuser":".."|null,"runuid":N|null,"rungid":N|null,"command":".."|null,
//!  "runargv":[..],"rule":".."|null,"reason":"..","policy_hash":"hex"|null,
//!  "prev":"64 hex","h":"64 hex"}
//! ```
//!
//! on one line without spaces; a `recovery` line is
//! `{"seq":N,"event":"recovery","time":..,"host":..,"pid":N,"torn_offset":N,
//! "torn_length":N,"torn_hash":"64 hex","prev":..,"h":..}`.
//!
//! A `seal` line (written by `bdctl key rotate --audit`, closing an epoch)
//! is `{"seq":N,"event":"seal","time":..,"host":..,"pid":N,
//! "seal_epoch":E,"seal_records":N,"epoch":E,"prev":..,"h":..,"mac":..}`.
//!
//! Bounded: the caller-controlled fields are cut (see [`RUNARGV_MAX`],
//! [`FIELD_MAX`]); a cut field is followed by extension fields giving the
//! whole's size and BLAKE3 (`runargv_argc`, `runargv_bytes`,
//! `runargv_blake3`; `command_bytes`, `command_blake3`, and likewise for
//! `submitcwd` and `reason`), so no record exceeds [`RECORD_MAX`]. A
//! reject record may carry `"suppressed":N`, the refusals of the same
//! uid not recorded before it (rate limit, `crate::state::refusals`).
//! docs/audit-format.md has the details.
//!
//! Keyed MAC per epoch (see [`super::mac`]): with an audit key, every line
//! ends its body with `"epoch":E` (hashed) and carries `"mac":"64 hex"`
//! after `"h"` (computed over `h`). The parser accepts extra fields after
//! the fixed body fields and before `"prev"` (hashed; `epoch` must be an
//! integer), and one optional `"mac"` after `"h"`.
#![forbid(unsafe_code)]

use super::AuditError;
use super::chain::{chain_hash, parse_hex32, push_hex};
use super::mac::EpochKey;
use super::timing::{self, Timing};
use crate::escape::json_str;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Outcome recorded by an `accept` or `reject` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The request was allowed; the command runs only once this record
    /// is durable.
    Accept,
    /// The request was refused.
    Reject,
    /// A decoy was run (docs/incident-response.md): nothing ran.
    Alert,
    /// The host entered frozen mode (reason: `cause=...; ...`).
    Freeze,
    /// The host left frozen mode (reason names the approvers).
    Unfreeze,
    /// An unfreeze was refused (reason says why).
    UnfreezeRefused,
}

impl Event {
    /// The `event` field's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Accept => "accept",
            Event::Reject => "reject",
            Event::Alert => "alert",
            Event::Freeze => "freeze",
            Event::Unfreeze => "unfreeze",
            Event::UnfreezeRefused => "unfreeze-refused",
        }
    }
}

/// One decision to record. Strings from the caller are bytes: they are
/// escaped (see [`crate::escape::json_str`]), never written raw.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub event: Event,
    pub time: SystemTime,
    /// Random version-4 UUID, see [`new_uuid`].
    pub uuid: [u8; 16],
    pub host: &'a [u8],
    pub pid: u32,
    pub submituser: Option<&'a str>,
    pub submituid: u32,
    pub submitgid: u32,
    pub ttyname: Option<&'a [u8]>,
    pub submitcwd: Option<&'a [u8]>,
    pub runuser: Option<&'a str>,
    pub runuid: Option<u32>,
    pub rungid: Option<u32>,
    /// Resolved command path.
    pub command: Option<&'a [u8]>,
    /// The command's argv as given (argv\[0\] first).
    pub runargv: &'a [Vec<u8>],
    pub rule: Option<&'a str>,
    pub reason: &'a str,
    pub policy_hash: Option<[u8; 32]>,
    /// Extension fields, written after `policy_hash` only when present:
    /// the sandbox profile that applied, and a one-line summary of what
    /// the kernel really enforced (`"sandbox"`, `"confinement"`).
    pub sandbox: Option<&'a str>,
    pub confinement: Option<&'a str>,
    /// Extension field `"drift"`: how the installed policy differs from
    /// its pin (`bdctl policy pin`), written only when it does.
    pub drift: Option<&'a str>,
    /// Extension field `"clock_skew"`: seconds the wall clock moved
    /// against the monotonic clock since this boot's anchor, written only
    /// when over 2 s (DESIGN section 8).
    pub clock_skew: Option<i64>,
    /// Extension field `"suppressed"`: refusals of this uid that were
    /// not recorded (refusal rate limit) since its last recorded one.
    pub suppressed: Option<u64>,
    /// Extension field `"env_dropped"`: names of caller variables
    /// `env_keep` matched whose values a check removed (see
    /// [`crate::exec::env`]), written only when not empty.
    pub env_dropped: &'a [String],
    /// Extension field `"timing"`: stage durations in microseconds
    /// (see [`super::timing`]); its `append` is set by the writer.
    pub timing: Option<Timing>,
    /// Extension field `"traceparent"`: the caller's W3C trace context,
    /// already checked ([`super::timing::traceparent`]: the header or
    /// `"invalid"`).
    pub traceparent: Option<&'a str>,
    /// Extension field `"monitor":true` on an accept record: bdexec stays
    /// as the command's parent and appends an `exit` record
    /// ([`ExitRecord`]) when it ends.
    pub monitor: bool,
}

/// How a monitored command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It exited with this status (`"status":N`).
    Status(u8),
    /// A signal killed it (`"signal":"TERM"`, the name without `SIG`).
    Signal(&'static str),
}

/// An `exit` record: how the command of the accept record `accept` ended
/// (monitor mode, src/exec/monitor.rs). Written by the same process
/// (same `pid`) that wrote the accept record, chained like any record.
#[derive(Debug, Clone)]
pub struct ExitRecord<'a> {
    pub time: SystemTime,
    /// This record's own UUID.
    pub uuid: [u8; 16],
    pub host: &'a [u8],
    pub pid: u32,
    /// The UUID of the accept record.
    pub accept: [u8; 16],
    pub outcome: Outcome,
    pub core_dumped: bool,
    /// From the fork to the command's end, monotonic clock.
    pub duration_us: u64,
    /// The command's resource usage (wait4 of the monitor's child).
    pub maxrss_kb: u64,
    pub utime_us: u64,
    pub stime_us: u64,
    /// The accept record's `traceparent`, repeated so that the spans of
    /// the command's end join the call's trace (docs/decisions.md 8a).
    pub traceparent: Option<&'a str>,
}

/// The most argv bytes a record holds: each argument's length plus one,
/// summed; the argument crossing the limit is cut, later ones dropped.
pub const RUNARGV_MAX: usize = 4096;

/// The most bytes a record holds of `command`, `submitcwd` and `reason`.
pub const FIELD_MAX: usize = 1024;

/// No accept/reject line is longer (checked by a test with worst-case
/// input: every byte escaped as `\u00XX`, six bytes each).
pub const RECORD_MAX: usize = 64 * 1024;

/// `b` cut to at most `n` bytes, not in the middle of a UTF-8 character
/// (invalid UTF-8 is cut at `n`). Any new field that carries caller data
/// is bounded with it (docs/audit-format.md 1.5).
pub fn cut_at(b: &[u8], n: usize) -> &[u8] {
    if b.len() <= n {
        return b;
    }
    let mut k = n;
    for _ in 0..3 {
        if k > 0 && b[k] & 0xc0 == 0x80 {
            k -= 1;
        }
    }
    if b[k] & 0xc0 == 0x80 {
        k = n;
    }
    &b[..k]
}

/// The arguments a record keeps (see [`RUNARGV_MAX`]), and whether any
/// byte was left out.
pub fn bounded_argv(argv: &[Vec<u8>]) -> (Vec<&[u8]>, bool) {
    let mut left = RUNARGV_MAX;
    let mut kept = Vec::new();
    for a in argv {
        if left == 0 {
            return (kept, true);
        }
        let part = cut_at(a, left - 1);
        kept.push(part);
        if part.len() < a.len() {
            return (kept, true);
        }
        left -= a.len() + 1;
    }
    (kept, false)
}

/// BLAKE3 of a whole argv: each argument as its length (8 bytes, little
/// endian) followed by its bytes.
pub fn argv_blake3(argv: &[Vec<u8>]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    for a in argv {
        h.update(&(a.len() as u64).to_le_bytes());
        h.update(a);
    }
    *h.finalize().as_bytes()
}

fn push_hash_field(out: &mut Vec<u8>, name: &str, h: &[u8; 32]) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":\"");
    push_hex(out, h);
    out.push(b'"');
}

fn push_num_field(out: &mut Vec<u8>, name: &str, n: u64) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    push_u64(out, n);
}

/// After the fixed fields: `NAME_bytes` and `NAME_blake3` for each of
/// `command`, `submitcwd`, `reason` that [`FIELD_MAX`] cut.
fn push_cut_fields(out: &mut Vec<u8>, rec: &Record<'_>) {
    let fields: [(&str, Option<&[u8]>); 3] = [
        ("command", rec.command),
        ("submitcwd", rec.submitcwd),
        ("reason", Some(rec.reason.as_bytes())),
    ];
    for (name, v) in fields {
        if let Some(v) = v
            && v.len() > FIELD_MAX
        {
            push_num_field(out, &format!("{name}_bytes"), v.len() as u64);
            push_hash_field(out, &format!("{name}_blake3"), blake3::hash(v).as_bytes());
        }
    }
}

fn push_opt_bounded(out: &mut Vec<u8>, v: Option<&[u8]>) {
    push_opt_bytes(out, v.map(|b| cut_at(b, FIELD_MAX)));
}

/// A torn fragment found at the end of the log and covered by a
/// `recovery` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Torn {
    /// File offset of the fragment's first byte.
    pub offset: u64,
    /// Its length in bytes (without the newline written after it).
    pub length: u64,
    /// BLAKE3 of those bytes.
    pub hash: [u8; 32],
}

/// A fresh random (version 4) UUID from the kernel's CSPRNG.
pub fn new_uuid() -> Result<[u8; 16], AuditError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| AuditError::random(&e.to_string()))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Ok(b)
}

/// `8-4-4-4-12` lowercase hex.
pub fn format_uuid(u: &[u8; 16]) -> String {
    let mut v = Vec::with_capacity(36);
    for (i, chunk) in [&u[0..4], &u[4..6], &u[6..8], &u[8..10], &u[10..16]]
        .iter()
        .enumerate()
    {
        if i > 0 {
            v.push(b'-');
        }
        push_hex(&mut v, chunk);
    }
    v.into_iter().map(char::from).collect()
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u32, d as u32)
}

/// RFC 3339 UTC with nanoseconds: `2026-11-29T17:37:19.123456789Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let (secs, nanos) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(e) => {
            let d = e.duration();
            let s = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() == 0 {
                (-s, 0)
            } else {
                (-s - 1, 1_000_000_000 - d.subsec_nanos())
            }
        }
    };
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn push_opt_bytes(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        Some(b) => json_str(out, b),
        None => out.extend_from_slice(b"null"),
    }
}

fn push_opt_u64(out: &mut Vec<u8>, v: Option<u32>) {
    match v {
        Some(n) => push_u64(out, u64::from(n)),
        None => out.extend_from_slice(b"null"),
    }
}

/// Append the chain fields and close the line; returns `h`. With a
/// key: `"epoch":E` ends the (hashed) body and `"mac"` follows `h`.
fn finish(
    out: &mut Vec<u8>,
    body_start: usize,
    seq: u64,
    prev: &[u8; 32],
    key: Option<&EpochKey>,
) -> [u8; 32] {
    if let Some(k) = key {
        out.extend_from_slice(b",\"epoch\":");
        push_u64(out, k.epoch());
    }
    let h = chain_hash(seq, prev, &out[body_start..]);
    out.extend_from_slice(b",\"prev\":\"");
    push_hex(out, prev);
    out.extend_from_slice(b"\",\"h\":\"");
    push_hex(out, &h);
    if let Some(k) = key {
        out.extend_from_slice(b"\",\"mac\":\"");
        push_hex(out, &k.mac(&h));
    }
    out.extend_from_slice(b"\"}\n");
    h
}

/// The first fields of accept, reject and exit lines: `seq`, `event`,
/// `time`, `uuid`, `host`, `pid`.
fn push_head(
    out: &mut Vec<u8>,
    seq: u64,
    event: &str,
    time: SystemTime,
    uuid: &[u8; 16],
    host: &[u8],
    pid: u32,
) {
    out.extend_from_slice(b"\"seq\":");
    push_u64(out, seq);
    out.extend_from_slice(b",\"event\":\"");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\",\"time\":\"");
    out.extend_from_slice(rfc3339(time).as_bytes());
    out.extend_from_slice(b"\",\"uuid\":\"");
    out.extend_from_slice(format_uuid(uuid).as_bytes());
    out.extend_from_slice(b"\",\"host\":");
    json_str(out, host);
    out.extend_from_slice(b",\"pid\":");
    push_u64(out, u64::from(pid));
}

/// Append `rec` as one complete line (with its `\n`) chained on `prev`
/// with sequence number `seq`; returns the record's `h`.
pub fn encode_record(out: &mut Vec<u8>, rec: &Record<'_>, seq: u64, prev: &[u8; 32]) -> [u8; 32] {
    encode_record_keyed(out, rec, seq, prev, None)
}

/// [`encode_record`], with `epoch` and `mac` when `key` is given.
pub fn encode_record_keyed(
    out: &mut Vec<u8>,
    rec: &Record<'_>,
    seq: u64,
    prev: &[u8; 32],
    key: Option<&EpochKey>,
) -> [u8; 32] {
    out.push(b'{');
    let body_start = out.len();
    push_head(
        out,
        seq,
        rec.event.as_str(),
        rec.time,
        &rec.uuid,
        rec.host,
        rec.pid,
    );
    out.extend_from_slice(b",\"submituser\":");
    push_opt_bytes(out, rec.submituser.map(str::as_bytes));
    out.extend_from_slice(b",\"submituid\":");
    push_u64(out, u64::from(rec.submituid));
    out.extend_from_slice(b",\"submitgid\":");
    push_u64(out, u64::from(rec.submitgid));
    out.extend_from_slice(b",\"ttyname\":");
    push_opt_bytes(out, rec.ttyname);
    out.extend_from_slice(b",\"submitcwd\":");
    push_opt_bounded(out, rec.submitcwd);
    out.extend_from_slice(b",\"runuser\":");
    push_opt_bytes(out, rec.runuser.map(str::as_bytes));
    out.extend_from_slice(b",\"runuid\":");
    push_opt_u64(out, rec.runuid);
    out.extend_from_slice(b",\"rungid\":");
    push_opt_u64(out, rec.rungid);
    out.extend_from_slice(b",\"command\":");
    push_opt_bounded(out, rec.command);
    out.extend_from_slice(b",\"runargv\":[");
    let (kept, argv_cut) = bounded_argv(rec.runargv);
    for (i, a) in kept.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, a);
    }
    out.extend_from_slice(b"],\"rule\":");
    push_opt_bytes(out, rec.rule.map(str::as_bytes));
    out.extend_from_slice(b",\"reason\":");
    json_str(out, cut_at(rec.reason.as_bytes(), FIELD_MAX));
    out.extend_from_slice(b",\"policy_hash\":");
    match &rec.policy_hash {
        Some(ph) => {
            out.push(b'"');
            push_hex(out, ph);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    if let Some(s) = rec.sandbox {
        out.extend_from_slice(b",\"sandbox\":");
        json_str(out, s.as_bytes());
    }
    if let Some(d) = rec.drift {
        out.extend_from_slice(b",\"drift\":");
        json_str(out, d.as_bytes());
    }
    if let Some(k) = rec.clock_skew {
        out.extend_from_slice(format!(",\"clock_skew\":{k}").as_bytes());
    }
    if let Some(c) = rec.confinement {
        out.extend_from_slice(b",\"confinement\":");
        json_str(out, c.as_bytes());
    }
    if !rec.env_dropped.is_empty() {
        out.extend_from_slice(b",\"env_dropped\":[");
        for (i, n) in rec.env_dropped.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_str(out, n.as_bytes());
        }
        out.push(b']');
    }
    if argv_cut {
        push_num_field(out, "runargv_argc", rec.runargv.len() as u64);
        let bytes: usize = rec.runargv.iter().map(Vec::len).sum();
        push_num_field(out, "runargv_bytes", bytes as u64);
        push_hash_field(out, "runargv_blake3", &argv_blake3(rec.runargv));
    }
    push_cut_fields(out, rec);
    if let Some(n) = rec.suppressed {
        push_num_field(out, "suppressed", n);
    }
    if let Some(t) = &rec.timing {
        out.extend_from_slice(b",\"timing\":{");
        for (i, (k, v)) in timing::KEYS.iter().zip(t.values()).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"\":");
            push_u64(out, v);
        }
        out.push(b'}');
    }
    if let Some(tp) = rec.traceparent {
        // Only a checked header or "invalid" is ever written.
        let tp = if timing::traceparent_recordable(tp.as_bytes()) {
            tp
        } else {
            timing::INVALID
        };
        out.extend_from_slice(b",\"traceparent\":");
        json_str(out, tp.as_bytes());
    }
    if let Some(n) = rec.timing.and_then(|t| t.sync_prev) {
        push_num_field(out, "sync_prev_us", n);
    }
    if rec.monitor {
        out.extend_from_slice(b",\"monitor\":true");
    }
    finish(out, body_start, seq, prev, key)
}

/// Append an `exit` line; returns its `h`. Layout (after `pid`):
/// `"accept":"uuid"`, `"status":N` or `"signal":"NAME"`,
/// `"core_dumped":bool`, `"duration_us"`, `"maxrss_kb"`, `"utime_us"`,
/// `"stime_us"`.
pub fn encode_exit_keyed(
    out: &mut Vec<u8>,
    rec: &ExitRecord<'_>,
    seq: u64,
    prev: &[u8; 32],
    key: Option<&EpochKey>,
) -> [u8; 32] {
    out.push(b'{');
    let body_start = out.len();
    push_head(out, seq, "exit", rec.time, &rec.uuid, rec.host, rec.pid);
    out.extend_from_slice(b",\"accept\":\"");
    out.extend_from_slice(format_uuid(&rec.accept).as_bytes());
    out.push(b'"');
    match rec.outcome {
        Outcome::Status(n) => push_num_field(out, "status", u64::from(n)),
        Outcome::Signal(name) => {
            out.extend_from_slice(b",\"signal\":");
            json_str(out, name.as_bytes());
        }
    }
    out.extend_from_slice(if rec.core_dumped {
        b",\"core_dumped\":true"
    } else {
        b",\"core_dumped\":false"
    });
    push_num_field(out, "duration_us", rec.duration_us);
    push_num_field(out, "maxrss_kb", rec.maxrss_kb);
    push_num_field(out, "utime_us", rec.utime_us);
    push_num_field(out, "stime_us", rec.stime_us);
    if let Some(tp) = rec.traceparent {
        // Only a checked header or "invalid" is ever written.
        let tp = if timing::traceparent_recordable(tp.as_bytes()) {
            tp
        } else {
            timing::INVALID
        };
        out.extend_from_slice(b",\"traceparent\":");
        json_str(out, tp.as_bytes());
    }
    finish(out, body_start, seq, prev, key)
}

/// Append a `recovery` line covering `torn`; returns its `h`.
pub fn encode_recovery(
    out: &mut Vec<u8>,
    seq: u64,
    prev: &[u8; 32],
    time: SystemTime,
    host: &[u8],
    pid: u32,
    torn: &Torn,
) -> [u8; 32] {
    encode_recovery_keyed(out, seq, prev, time, host, pid, torn, None)
}

/// [`encode_recovery`], with `epoch` and `mac` when `key` is given.
#[allow(clippy::too_many_arguments)]
pub fn encode_recovery_keyed(
    out: &mut Vec<u8>,
    seq: u64,
    prev: &[u8; 32],
    time: SystemTime,
    host: &[u8],
    pid: u32,
    torn: &Torn,
    key: Option<&EpochKey>,
) -> [u8; 32] {
    out.push(b'{');
    let body_start = out.len();
    out.extend_from_slice(b"\"seq\":");
    push_u64(out, seq);
    out.extend_from_slice(b",\"event\":\"recovery\",\"time\":\"");
    out.extend_from_slice(rfc3339(time).as_bytes());
    out.extend_from_slice(b"\",\"host\":");
    json_str(out, host);
    out.extend_from_slice(b",\"pid\":");
    push_u64(out, u64::from(pid));
    out.extend_from_slice(b",\"torn_offset\":");
    push_u64(out, torn.offset);
    out.extend_from_slice(b",\"torn_length\":");
    push_u64(out, torn.length);
    out.extend_from_slice(b",\"torn_hash\":\"");
    push_hex(out, &torn.hash);
    out.push(b'"');
    finish(out, body_start, seq, prev, key)
}

/// Append a `seal` line closing `key`'s epoch, which holds `records`
/// records before this one; returns its `h`. Always keyed.
#[allow(clippy::too_many_arguments)]
pub fn encode_seal(
    out: &mut Vec<u8>,
    seq: u64,
    prev: &[u8; 32],
    time: SystemTime,
    host: &[u8],
    pid: u32,
    records: u64,
    key: &EpochKey,
) -> [u8; 32] {
    out.push(b'{');
    let body_start = out.len();
    out.extend_from_slice(b"\"seq\":");
    push_u64(out, seq);
    out.extend_from_slice(b",\"event\":\"seal\",\"time\":\"");
    out.extend_from_slice(rfc3339(time).as_bytes());
    out.extend_from_slice(b"\",\"host\":");
    json_str(out, host);
    out.extend_from_slice(b",\"pid\":");
    push_u64(out, u64::from(pid));
    out.extend_from_slice(b",\"seal_epoch\":");
    push_u64(out, key.epoch());
    out.extend_from_slice(b",\"seal_records\":");
    push_u64(out, records);
    finish(out, body_start, seq, prev, Some(key))
}

/// What a `rotate` record says (docs/audit-format.md section 1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// `close`: the last line of a file about to become `audit.jsonl.N`;
    /// `open`: the first line of the file that follows `audit.jsonl.N`.
    pub close: bool,
    /// `rotate_index`: that N.
    pub index: u64,
    /// `retired_index`: every rotated file up to this index was deleted
    /// by retention (0: none).
    pub retired_index: u64,
    /// `retired_seq`, `retired_head`: the last seq and `h` of the file
    /// `retired_index` (0 and zeros when none).
    pub retired_seq: u64,
    pub retired_head: [u8; 32],
}

/// `{"seq":N,"event":"E","time":"..","host":..,"pid":N` (the common
/// head of the lines bdctl writes); returns where the hashed body starts.
fn open_line(
    out: &mut Vec<u8>,
    seq: u64,
    event: &str,
    time: SystemTime,
    host: &[u8],
    pid: u32,
) -> usize {
    out.push(b'{');
    let body_start = out.len();
    out.extend_from_slice(b"\"seq\":");
    push_u64(out, seq);
    out.extend_from_slice(b",\"event\":\"");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\",\"time\":\"");
    out.extend_from_slice(rfc3339(time).as_bytes());
    out.extend_from_slice(b"\",\"host\":");
    json_str(out, host);
    out.extend_from_slice(b",\"pid\":");
    push_u64(out, u64::from(pid));
    body_start
}

/// Append a `rotate` line; returns its `h`.
#[allow(clippy::too_many_arguments)]
pub fn encode_rotate(
    out: &mut Vec<u8>,
    seq: u64,
    prev: &[u8; 32],
    time: SystemTime,
    host: &[u8],
    pid: u32,
    r: &Rotation,
    key: Option<&EpochKey>,
) -> [u8; 32] {
    let body_start = open_line(out, seq, "rotate", time, host, pid);
    out.extend_from_slice(if r.close {
        b",\"rotate\":\"close\"".as_slice()
    } else {
        b",\"rotate\":\"open\"".as_slice()
    });
    push_num_field(out, "rotate_index", r.index);
    push_num_field(out, "retired_index", r.retired_index);
    push_num_field(out, "retired_seq", r.retired_seq);
    push_hash_field(out, "retired_head", &r.retired_head);
    finish(out, body_start, seq, prev, key)
}

/// The first bytes of a record line with sequence number `seq`.
pub(crate) fn record_prefix(seq: u64) -> Vec<u8> {
    let mut v = b"{\"seq\":".to_vec();
    push_u64(&mut v, seq);
    v.extend_from_slice(b",\"event\":\"");
    v
}

/// The first bytes of a recovery line with sequence number `seq`.
pub(crate) fn recovery_prefix(seq: u64) -> Vec<u8> {
    let mut v = record_prefix(seq);
    v.extend_from_slice(b"recovery\",");
    v
}

/// `piece` is non-empty and could be the start of a line that begins
/// with `expected` (or begins with it).
pub(crate) fn prefix_compatible(piece: &[u8], expected: &[u8]) -> bool {
    !piece.is_empty() && (piece.starts_with(expected) || expected.starts_with(piece))
}

/// Can a torn span made of the complete non-record lines `first`,
/// `rest[..]` (and, last in `rest`, a non-empty unterminated tail) after
/// the last valid record (whose seq is `seq - 1`) be covered by a
/// recovery record with sequence number `seq`?
///
/// Only shapes that the writer itself can leave behind qualify: a span
/// of one piece (an unterminated tail, or a terminated line that starts
/// like the record that was being written), or a first fragment followed
/// by pieces that each start like the recovery record of a failed
/// recovery write. A complete last line that is simply not a record
/// (tampered, or a different file) does not qualify.
pub(crate) fn span_absorbable(first: &[u8], rest: &[&[u8]], seq: u64) -> bool {
    if rest.is_empty() {
        return prefix_compatible(first, &record_prefix(seq));
    }
    let rp = recovery_prefix(seq);
    rest.iter().all(|p| prefix_compatible(p, &rp))
}

// ---------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------

/// Why a line is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset within the line.
    pub at: usize,
    pub what: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

/// A value in the JSON subset records use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Null,
    Int(u64),
    /// Raw string contents between the quotes, still escaped.
    Str(&'a [u8]),
    /// Raw (still escaped) strings.
    Arr(Vec<&'a [u8]>),
    /// An object of integers (`"timing"`): raw keys and values, in order.
    Obj(Vec<(&'a [u8], u64)>),
    /// `true` or `false` (exit records, `"monitor":true`).
    Bool(bool),
}

/// One `"key":value` member.
#[derive(Debug, Clone)]
pub struct Field<'a> {
    /// Raw key bytes (between the quotes).
    pub key: &'a [u8],
    /// Offset in the line of the `{` or `,` before the key.
    pub sep: usize,
    pub value: Value<'a>,
}

struct P<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> P<'a> {
    fn err<T>(&self, what: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            at: self.i,
            what: what.into(),
        })
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Result<(), ParseError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else if self.peek().is_none() {
            self.err(format!(
                "unexpected end of line, expected '{}'",
                char::from(c)
            ))
        } else {
            self.err(format!("expected '{}'", char::from(c)))
        }
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return self.err("bad \\u escape"),
            };
            v = (v << 4) | u32::from(d);
            self.i += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<&'a [u8], ParseError> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            match self.peek() {
                None => return self.err("unterminated string"),
                Some(b'"') => break,
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            self.i += 1;
                            let v = self.hex4()?;
                            if (0xd800..=0xdfff).contains(&v) {
                                return self.err("surrogate \\u escape");
                            }
                        }
                        _ => return self.err("bad escape"),
                    }
                }
                Some(0..=0x1f) => return self.err("raw control character in string"),
                Some(_) => self.i += 1,
            }
        }
        let raw = &self.b[start..self.i];
        self.i += 1;
        if let Err(e) = std::str::from_utf8(raw) {
            return Err(ParseError {
                at: start + e.valid_up_to(),
                what: "invalid UTF-8 in string".into(),
            });
        }
        Ok(raw)
    }

    fn number(&mut self) -> Result<u64, ParseError> {
        let start = self.i;
        let mut n: u64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            n = match n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(c - b'0')))
            {
                Some(n) => n,
                None => return self.err("number out of range"),
            };
            self.i += 1;
        }
        if self.i - start > 1 && self.b[start] == b'0' {
            return Err(ParseError {
                at: start,
                what: "number with leading zero".into(),
            });
        }
        Ok(n)
    }

    fn value(&mut self) -> Result<Value<'a>, ParseError> {
        match self.peek() {
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'0'..=b'9') => Ok(Value::Int(self.number()?)),
            Some(b'n' | b't' | b'f') => {
                let rest = &self.b[self.i..];
                for (word, v) in [
                    (&b"null"[..], Value::Null),
                    (b"true", Value::Bool(true)),
                    (b"false", Value::Bool(false)),
                ] {
                    if rest.starts_with(word) {
                        self.i += word.len();
                        return Ok(v);
                    }
                }
                self.err("unexpected value")
            }
            Some(b'[') => {
                self.i += 1;
                let mut v = Vec::new();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Value::Arr(v));
                }
                loop {
                    v.push(self.string()?);
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Arr(v));
                        }
                        _ => return self.err("expected ',' or ']' in array"),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut v = Vec::new();
                loop {
                    let k = self.string()?;
                    self.eat(b':')?;
                    if !matches!(self.peek(), Some(b'0'..=b'9')) {
                        return self.err("nested object values must be integers");
                    }
                    v.push((k, self.number()?));
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Obj(v));
                        }
                        _ => return self.err("expected ',' or '}' in object"),
                    }
                }
            }
            None => self.err("unexpected end of line"),
            Some(_) => self.err("unexpected value"),
        }
    }
}

/// Parse one line (without its `\n`) as a flat JSON object in the subset
/// records use: no whitespace; values are strings, non-negative integers,
/// `null`, `true`, `false`, arrays of strings or non-empty objects of
/// non-negative integers. Everything it accepts is valid JSON.
pub fn parse_object(line: &[u8]) -> Result<Vec<Field<'_>>, ParseError> {
    let mut p = P { b: line, i: 0 };
    p.eat(b'{')?;
    let mut fields = Vec::with_capacity(24);
    loop {
        let sep = p.i - 1;
        let key = p.string()?;
        p.eat(b':')?;
        let value = p.value()?;
        fields.push(Field { key, sep, value });
        match p.peek() {
            Some(b',') => p.i += 1,
            Some(b'}') => {
                p.i += 1;
                break;
            }
            None => return p.err("unexpected end of line"),
            Some(_) => return p.err("expected ',' or '}'"),
        }
    }
    if p.i != line.len() {
        return p.err("trailing bytes after the object");
    }
    Ok(fields)
}

/// Kind of a parsed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Accept,
    Reject,
    Recovery,
    /// Closes an epoch of the keyed MAC.
    Seal,
    /// Closes a file at rotation, or opens the next one.
    Rotate,
    /// Incident response (`alert`, `freeze`, `unfreeze`,
    /// `unfreeze-refused`): the layout of accept/reject.
    Incident,
    /// How a monitored command ended.
    Exit,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Accept => "accept",
            EventKind::Reject => "reject",
            EventKind::Recovery => "recovery",
            EventKind::Seal => "seal",
            EventKind::Rotate => "rotate",
            EventKind::Incident => "incident",
            EventKind::Exit => "exit",
        }
    }
}

#[derive(Clone, Copy)]
enum Ty {
    U64,
    Str,
    OptStr,
    OptU64,
    StrArr,
    Hex,
    OptHex,
    Bool,
}

const RECORD_LAYOUT: &[(&str, Ty)] = &[
    ("seq", Ty::U64),
    ("event", Ty::Str),
    ("time", Ty::Str),
    ("uuid", Ty::Str),
    ("host", Ty::Str),
    ("pid", Ty::U64),
    ("submituser", Ty::OptStr),
    ("submituid", Ty::U64),
    ("submitgid", Ty::U64),
    ("ttyname", Ty::OptStr),
    ("submitcwd", Ty::OptStr),
    ("runuser", Ty::OptStr),
    ("runuid", Ty::OptU64),
    ("rungid", Ty::OptU64),
    ("command", Ty::OptStr),
    ("runargv", Ty::StrArr),
    ("rule", Ty::OptStr),
    ("reason", Ty::Str),
    ("policy_hash", Ty::OptHex),
];

const SEAL_LAYOUT: &[(&str, Ty)] = &[
    ("seq", Ty::U64),
    ("event", Ty::Str),
    ("time", Ty::Str),
    ("host", Ty::Str),
    ("pid", Ty::U64),
    ("seal_epoch", Ty::U64),
    ("seal_records", Ty::U64),
];

const ROTATE_LAYOUT: &[(&str, Ty)] = &[
    ("seq", Ty::U64),
    ("event", Ty::Str),
    ("time", Ty::Str),
    ("host", Ty::Str),
    ("pid", Ty::U64),
    ("rotate", Ty::Str),
    ("rotate_index", Ty::U64),
    ("retired_index", Ty::U64),
    ("retired_seq", Ty::U64),
    ("retired_head", Ty::Hex),
];

/// An exit record's fields; the one after `accept` is `status` (a
/// number) or `signal` (a name), see [`exit_layout`].
const EXIT_LAYOUT: &[(&str, Ty)] = &[
    ("seq", Ty::U64),
    ("event", Ty::Str),
    ("time", Ty::Str),
    ("uuid", Ty::Str),
    ("host", Ty::Str),
    ("pid", Ty::U64),
    ("accept", Ty::Str),
    ("status", Ty::U64),
    ("core_dumped", Ty::Bool),
    ("duration_us", Ty::U64),
    ("maxrss_kb", Ty::U64),
    ("utime_us", Ty::U64),
    ("stime_us", Ty::U64),
];

const EXIT_SIGNAL_LAYOUT: &[(&str, Ty)] = &[
    ("seq", Ty::U64),
    ("event", Ty::Str),
    ("time", Ty::Str),
    ("uuid", Ty::Str),
    ("host", Ty::Str),
    ("pid", Ty::U64),
    ("accept", Ty::Str),
    ("signal", Ty::Str),
    ("core_dumped", Ty::Bool),
    ("duration_us", Ty::U64),
    ("maxrss_kb", Ty::U64),
    ("utime_us", Ty::U64),
    ("stime_us", Ty::U64),
];

/// The layout of an exit record whose fields are `fields`.
fn exit_layout(fields: &[Field<'_>]) -> &'static [(&'static str, Ty)] {
    match fields.get(7) {
        Some(f) if f.key == b"signal" => EXIT_SIGNAL_LAYOUT,
        _ => EXIT_LAYOUT,
    }
}

const RECOVERY_LAYOUT: &[(&str, Ty)] = &[
    ("seq", Ty::U64),
    ("event", Ty::Str),
    ("time", Ty::Str),
    ("host", Ty::Str),
    ("pid", Ty::U64),
    ("torn_offset", Ty::U64),
    ("torn_length", Ty::U64),
    ("torn_hash", Ty::Hex),
];

fn type_ok(ty: Ty, v: &Value<'_>) -> bool {
    match (ty, v) {
        (Ty::U64, Value::Int(_)) => true,
        (Ty::Str, Value::Str(_)) => true,
        (Ty::OptStr, Value::Str(_) | Value::Null) => true,
        (Ty::OptU64, Value::Int(_) | Value::Null) => true,
        (Ty::StrArr, Value::Arr(_)) => true,
        (Ty::Hex | Ty::OptHex, Value::Str(s)) => parse_hex32(s).is_some(),
        (Ty::OptHex, Value::Null) => true,
        (Ty::Bool, Value::Bool(_)) => true,
        _ => false,
    }
}

/// A line parsed as a record (structure only: [`LineView::hash_ok`]
/// checks `h`; chain continuity is the verifier's job).
#[derive(Debug, Clone)]
pub struct LineView<'a> {
    pub seq: u64,
    pub event: EventKind,
    pub prev: [u8; 32],
    pub h: [u8; 32],
    /// The hashed bytes: between `{` and `,"prev":`.
    pub body: &'a [u8],
    /// Set for recovery records.
    pub torn: Option<Torn>,
    /// The optional trailing `mac` (raw), not checked here.
    pub mac: Option<&'a [u8]>,
    /// The `epoch` extension field, when present.
    pub epoch: Option<u64>,
    /// For a seal: (`seal_epoch`, `seal_records`).
    pub seal: Option<(u64, u64)>,
    /// For a rotate record: what it says.
    pub rotation: Option<Rotation>,
    pub fields: Vec<Field<'a>>,
}

fn field_err<T>(f: &Field<'_>, what: String) -> Result<T, ParseError> {
    Err(ParseError {
        at: f.sep + 1,
        what,
    })
}

/// The extension fields with a fixed shape: `"timing"` (exactly the
/// keys of [`timing::KEYS`], in order, integers) and `"traceparent"` (a
/// valid header or `"invalid"`). Objects appear nowhere else.
fn check_known_extension(f: &Field<'_>) -> Result<(), ParseError> {
    match (f.key, &f.value) {
        (b"timing", Value::Obj(members)) => {
            let keys: Vec<&[u8]> = members.iter().map(|(k, _)| *k).collect();
            let want: Vec<&[u8]> = timing::KEYS.iter().map(|k| k.as_bytes()).collect();
            if keys != want {
                return field_err(
                    f,
                    "field \"timing\" must hold recv, auth, validate, append".into(),
                );
            }
        }
        (b"timing", _) => return field_err(f, "field \"timing\" is not an object".into()),
        (b"traceparent", Value::Str(s)) if timing::traceparent_recordable(s) => {}
        (b"traceparent", _) => {
            return field_err(
                f,
                "field \"traceparent\" is not a valid traceparent or \"invalid\"".into(),
            );
        }
        (_, Value::Obj(_)) => {
            return field_err(
                f,
                format!("field \"{}\" may not be an object", key_str(f.key)),
            );
        }
        _ => {}
    }
    Ok(())
}

/// The fields of a `rotate` line whose layout was checked.
fn parse_rotation(fields: &[Field<'_>]) -> Result<Rotation, ParseError> {
    let int = |i: usize| match fields[i].value {
        Value::Int(n) => n,
        _ => 0,
    };
    let close = match fields[5].value {
        Value::Str(b"close") => true,
        Value::Str(b"open") => false,
        _ => {
            return field_err(
                &fields[5],
                "field \"rotate\" is not \"close\" or \"open\"".into(),
            );
        }
    };
    let retired_head = match fields[9].value {
        Value::Str(s) => parse_hex32(s).unwrap_or([0; 32]),
        _ => [0; 32],
    };
    Ok(Rotation {
        close,
        index: int(6),
        retired_index: int(7),
        retired_seq: int(8),
        retired_head,
    })
}

fn key_str(k: &[u8]) -> String {
    crate::escape::display(k)
}

impl<'a> LineView<'a> {
    /// Parse and check the field layout of one line (without `\n`).
    pub fn parse(line: &'a [u8]) -> Result<Self, ParseError> {
        let fields = parse_object(line)?;
        let seq = match fields.first() {
            Some(Field {
                key: b"seq",
                value: Value::Int(n),
                ..
            }) => *n,
            _ => {
                return Err(ParseError {
                    at: 1,
                    what: "first field is not \"seq\":N".into(),
                });
            }
        };
        let event = match fields.get(1) {
            Some(Field {
                key: b"event",
                value: Value::Str(s),
                ..
            }) => match *s {
                b"accept" => EventKind::Accept,
                b"reject" => EventKind::Reject,
                b"recovery" => EventKind::Recovery,
                b"seal" => EventKind::Seal,
                b"rotate" => EventKind::Rotate,
                b"alert" | b"freeze" | b"unfreeze" | b"unfreeze-refused" => EventKind::Incident,
                b"exit" => EventKind::Exit,
                _ => return field_err(&fields[1], "unknown event".into()),
            },
            Some(f) => return field_err(f, "second field is not \"event\"".into()),
            None => {
                return Err(ParseError {
                    at: line.len(),
                    what: "missing \"event\"".into(),
                });
            }
        };
        let layout = match event {
            EventKind::Recovery => RECOVERY_LAYOUT,
            EventKind::Seal => SEAL_LAYOUT,
            EventKind::Rotate => ROTATE_LAYOUT,
            EventKind::Exit => exit_layout(&fields),
            EventKind::Accept | EventKind::Reject | EventKind::Incident => RECORD_LAYOUT,
        };
        for (i, (name, ty)) in layout.iter().enumerate() {
            let Some(f) = fields.get(i) else {
                return Err(ParseError {
                    at: line.len(),
                    what: format!("missing field \"{name}\""),
                });
            };
            if f.key != name.as_bytes() {
                return field_err(
                    f,
                    format!("expected field \"{name}\", found \"{}\"", key_str(f.key)),
                );
            }
            if !type_ok(*ty, &f.value) {
                return field_err(f, format!("field \"{name}\" has the wrong type"));
            }
        }
        // Extension fields (hashed), then prev, h, optional mac.
        let mut i = layout.len();
        let mut epoch = None;
        while let Some(f) = fields.get(i) {
            if f.key == b"prev" {
                break;
            }
            if f.key == b"epoch" {
                match f.value {
                    Value::Int(n) if epoch.is_none() => epoch = Some(n),
                    _ => {
                        return field_err(f, "field \"epoch\" is not a single integer".into());
                    }
                }
            }
            let well_formed = !f.key.is_empty()
                && f.key
                    .iter()
                    .all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_'));
            let dup = fields[..i].iter().any(|g| g.key == f.key) || matches!(f.key, b"h" | b"mac");
            if !well_formed || dup {
                return field_err(f, format!("unexpected field \"{}\"", key_str(f.key)));
            }
            check_known_extension(f)?;
            i += 1;
        }
        let Some(pf) = fields.get(i) else {
            return Err(ParseError {
                at: line.len(),
                what: "missing field \"prev\"".into(),
            });
        };
        let prev = match &pf.value {
            Value::Str(s) => parse_hex32(s),
            _ => None,
        };
        let Some(prev) = prev else {
            return field_err(pf, "\"prev\" is not 64 hex digits".into());
        };
        let h = match fields.get(i + 1) {
            Some(Field {
                key: b"h",
                value: Value::Str(s),
                ..
            }) => parse_hex32(s),
            _ => None,
        };
        let Some(h) = h else {
            return Err(ParseError {
                at: pf.sep,
                what: "\"prev\" not followed by \"h\":64 hex".into(),
            });
        };
        let mut mac = None;
        if let Some(f) = fields.get(i + 2) {
            match f {
                Field {
                    key: b"mac",
                    value: Value::Str(s),
                    ..
                } if parse_hex32(s).is_some() => mac = Some(*s),
                _ => {
                    return field_err(
                        f,
                        format!("unexpected field \"{}\" after \"h\"", key_str(f.key)),
                    );
                }
            }
        }
        if let Some(f) = fields.get(i + 3) {
            return field_err(
                f,
                format!("unexpected field \"{}\" after \"mac\"", key_str(f.key)),
            );
        }
        let torn = if event == EventKind::Recovery {
            match (&fields[5].value, &fields[6].value, &fields[7].value) {
                (Value::Int(o), Value::Int(l), Value::Str(hs)) => {
                    parse_hex32(hs).map(|hash| Torn {
                        offset: *o,
                        length: *l,
                        hash,
                    })
                }
                _ => None,
            }
        } else {
            None
        };
        let seal = match (event, &fields[5].value, &fields[6].value) {
            (EventKind::Seal, Value::Int(e), Value::Int(n)) => Some((*e, *n)),
            _ => None,
        };
        let rotation = if event == EventKind::Rotate {
            Some(parse_rotation(&fields)?)
        } else {
            None
        };
        let body = &line[1..pf.sep];
        Ok(LineView {
            seq,
            event,
            prev,
            h,
            body,
            torn,
            mac,
            epoch,
            seal,
            rotation,
            fields,
        })
    }

    /// `h` matches the body, seq and prev of this line.
    pub fn hash_ok(&self) -> bool {
        chain_hash(self.seq, &self.prev, self.body) == self.h
    }

    /// The `mac` field decoded, when present.
    pub fn mac_bytes(&self) -> Option<[u8; 32]> {
        self.mac.and_then(parse_hex32)
    }

    /// The value of field `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.fields
            .iter()
            .find(|f| f.key == key.as_bytes())
            .map(|f| &f.value)
    }

    /// A string field, decoded (JSON escapes resolved); `None` when
    /// missing, null or not a string.
    pub fn text(&self, key: &str) -> Option<Vec<u8>> {
        match self.get(key) {
            Some(Value::Str(s)) => Some(decode_str(s)),
            _ => None,
        }
    }
}

impl LineView<'_> {
    /// The `"timing"` extension field, when present (checked by
    /// [`LineView::parse`]: exactly the four keys).
    pub fn timing(&self) -> Option<Timing> {
        match self.get("timing") {
            Some(Value::Obj(m)) if m.len() == 4 => Some(Timing {
                recv: m[0].1,
                auth: m[1].1,
                validate: m[2].1,
                append: m[3].1,
                sync_prev: match self.get("sync_prev_us") {
                    Some(Value::Int(n)) => Some(*n),
                    _ => None,
                },
            }),
            _ => None,
        }
    }
}

/// Resolve JSON escapes in a raw string accepted by [`parse_object`].
/// An escaped invalid byte (`\\xNN` in JSON) stays the text `\xNN`.
pub fn decode_str(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        if c != b'\\' || i + 1 >= raw.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let e = raw[i + 1];
        i += 2;
        match e {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let v = raw
                    .get(i..i + 4)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32)
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut buf = [0u8; 4];
                out.extend_from_slice(v.encode_utf8(&mut buf).as_bytes());
                i += 4;
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests;
