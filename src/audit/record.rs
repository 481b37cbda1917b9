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
use crate::base::escape::json_str;
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
    /// `bdexec -v`: the caller authenticated (or needed not), nothing ran.
    Validate,
    /// `bdexec -e`: one file edited (or left unchanged), with the
    /// `before` and `after` BLAKE3 of its contents.
    Edit,
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
            Event::Validate => "validate",
            Event::Edit => "edit",
        }
    }
}

/// One decision to record. Strings from the caller are bytes: they are
/// escaped (see [`crate::base::escape::json_str`]), never written raw.
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
    /// Extension fields `"before"` and `"after"` of an `edit` record:
    /// the BLAKE3 of the file's contents, `"blake3:<hex>"`.
    pub edit: Option<([u8; 32], [u8; 32])>,
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
/// (monitor mode, src/exec/monitor/). Written by the same process
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
    /// The monitor ended the command at its timeout (rule `timeout`,
    /// `bdexec -T`): written as `"timed_out":true`, absent otherwise.
    pub timed_out: bool,
    /// The accept record's `traceparent`, repeated so that the spans of
    /// the command's end join the call's trace (docs/decisions.md 8a).
    pub traceparent: Option<&'a str>,
    /// BLAKE3 of the session recording (`record = true`), written as
    /// `"recording":"blake3:<hex>"`.
    pub recording: Option<[u8; 32]>,
    /// Why the recording ended before the command did (a full disk).
    pub recording_error: Option<&'a str>,
    /// `noexec` runs: how many `execve`/`execveat` of the command and its
    /// descendants were refused (src/exec/noexec.rs); `None` otherwise.
    pub exec_refused: Option<u64>,
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
    if let Some((before, after)) = &rec.edit {
        for (k, h) in [("before", before), ("after", after)] {
            out.extend_from_slice(format!(",\"{k}\":\"blake3:").as_bytes());
            out.extend_from_slice(crate::base::hex::encode(h).as_bytes());
            out.push(b'"');
        }
    }
    finish(out, body_start, seq, prev, key)
}

/// Append an `exit` line; returns its `h`. Layout (after `pid`):
/// `"accept":"uuid"`, `"status":N` or `"signal":"NAME"`,
/// `"core_dumped":bool`, `"duration_us"`, `"maxrss_kb"`, `"utime_us"`,
/// `"stime_us"`, then `"timed_out":true` when the timeout ended it.
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
    if rec.timed_out {
        out.extend_from_slice(b",\"timed_out\":true");
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
    if let Some(n) = rec.exec_refused {
        push_num_field(out, "exec_refused", n);
    }
    if let Some(h) = &rec.recording {
        out.extend_from_slice(b",\"recording\":");
        json_str(
            out,
            format!("blake3:{}", crate::base::hex::encode(h)).as_bytes(),
        );
    }
    if let Some(e) = rec.recording_error {
        out.extend_from_slice(b",\"recording_error\":");
        json_str(out, cut_at(e.as_bytes(), FIELD_MAX));
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

mod parse;
pub use parse::*;

#[cfg(test)]
mod tests;
