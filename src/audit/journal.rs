//! Each audit record's copy in journald (DESIGN section 11), sent by the
//! process that wrote the record, after it is durable and the audit lock
//! is released ([`forward`]).
//!
//! The entry is built from the record line itself (encoded once more and
//! parsed, so the journal can only say what the record says):
//!
//! * `MESSAGE`: the record's `bdctl audit show` line;
//! * `PRIORITY`: accept 6 (info), reject 5 (notice), seal 5, recovery 4
//!   (warning: a crash or failed write left a fragment), alerts 2 (crit);
//! * `SYSLOG_IDENTIFIER=bdexec`, `SYSLOG_FACILITY=10` (authpriv);
//! * `MESSAGE_ID`: one fixed id per event ([`message_id`], explained in
//!   `packaging/belladonna.catalog`);
//! * `BD_<NAME>` for every field of the record before `prev` (`BD_SEQ`,
//!   `BD_EVENT`, `BD_UUID`, `BD_SUBMITUSER`, `BD_RUNARGV`, `BD_TIMING`,
//!   ...), null fields left out, plus `BD_HASH` (the record's `h`).
//!   A value is the field's JSON text as the record holds it: a string
//!   without its quotes but with its escapes (so no value has a raw
//!   control character, newline or non-UTF-8 byte: nothing a caller
//!   controls can start a field), an array or object verbatim.
//!
//! When journald does not take the entry (absent, full, refused), the
//! MESSAGE line with seq and hash goes to syslog on `/dev/log`, also
//! without blocking; when that fails too, nothing more: the file is the
//! durable record, the journal its copy. Whether journald (else syslog)
//! listens is asked first, by connecting: with neither, nothing is
//! encoded or built.
#![forbid(unsafe_code)]

use super::chain::{GENESIS, hex};
use super::record::{
    EventKind, ExitRecord, LineView, Record, Torn, Value, encode_exit_keyed, encode_record,
    encode_recovery,
};
use super::show::human;
use super::writer::Appended;
use crate::audit::journald::{self, Entry};
use std::time::SystemTime;

/// MESSAGE_ID of each event (128-bit ids generated once for Belladonna;
/// `packaging/belladonna.catalog` explains each).
pub mod ids {
    pub const ACCEPT: &str = "a038dcf834af9922dcc5100f435f8278";
    pub const REJECT: &str = "d0e1afe8998d1cc3c2602078641927bf";
    pub const RECOVERY: &str = "e5d0cb2712d61b7f460bfdf239c74bd9";
    pub const SEAL: &str = "65433b5ab2103a6254b720ea08924fc7";
    /// An alert that the audit log could not hold (alert.rs).
    pub const ALERT: &str = "c991aea7284171591e03fc84cfe7e54a";
    /// A decoy was run, or the decoy alarm fired (`alert` record).
    pub const DECOY_ALERT: &str = "804707dbfa7342f6b194fee42d3918ee";
    /// The host was frozen (`freeze` record).
    pub const FREEZE: &str = "a55ee5714a1041658dfafdfd9f579e79";
    /// The host was unfrozen with approvers' tokens (`unfreeze`).
    pub const UNFREEZE: &str = "e9d2ec5db2f649bca91f70f49952d3b0";
    /// An unfreeze attempt was refused (`unfreeze-refused`).
    pub const UNFREEZE_REFUSED: &str = "7656aea4386d44b8bd3cb1bbad79b375";
    /// How a monitored command ended (`exit`).
    pub const EXIT: &str = "b95108a9a5934f56924b37dc32d0bb4f";
    /// `bdexec -v` authenticated the caller (`validate`).
    pub const VALIDATE: &str = "3730808bd1bd49e7b046d884f94b39ae";
    /// `bdexec -e` edited a file (`edit`).
    pub const EDIT: &str = "b7dfa0d4d696451ab7b86533cbaf1125";
}

/// syslog priorities used.
pub mod priority {
    pub const CRIT: u8 = 2;
    pub const WARNING: u8 = 4;
    pub const NOTICE: u8 = 5;
    pub const INFO: u8 = 6;
}

/// authpriv (the syslog sink's facility).
pub use super::syslog::FACILITY;

/// The identifier of every entry.
pub const IDENT: &str = "bdexec";

/// Longest MESSAGE and BD_RUNARGV kept when an entry would exceed
/// [`journald::MAX_ENTRY`] (then `BD_TRUNCATED` names what was cut).
const CUT: usize = 64 << 10;

/// The MESSAGE_ID of an event (incident events: see [`incident`]).
pub fn message_id(e: EventKind) -> &'static str {
    match e {
        EventKind::Accept => ids::ACCEPT,
        EventKind::Reject => ids::REJECT,
        EventKind::Recovery => ids::RECOVERY,
        EventKind::Seal | EventKind::Rotate => ids::SEAL,
        EventKind::Incident => ids::DECOY_ALERT,
        EventKind::Exit => ids::EXIT,
        EventKind::Validate => ids::VALIDATE,
        EventKind::Edit => ids::EDIT,
    }
}

/// The PRIORITY of an event (incident events: see [`incident`]).
pub fn event_priority(e: EventKind) -> u8 {
    match e {
        EventKind::Accept | EventKind::Exit | EventKind::Validate => priority::INFO,
        EventKind::Edit => priority::NOTICE,
        EventKind::Reject | EventKind::Seal | EventKind::Rotate => priority::NOTICE,
        EventKind::Recovery => priority::WARNING,
        EventKind::Incident => priority::CRIT,
    }
}

/// MESSAGE_ID and PRIORITY of a record: incident events by their name
/// (`alert` and `freeze` crit, `unfreeze-refused` warning, `unfreeze`
/// notice), the others by kind.
pub fn incident(v: &LineView<'_>) -> (&'static str, u8) {
    if v.event != EventKind::Incident {
        return (message_id(v.event), event_priority(v.event));
    }
    match v.get("event") {
        Some(Value::Str(b"freeze")) => (ids::FREEZE, priority::CRIT),
        Some(Value::Str(b"unfreeze")) => (ids::UNFREEZE, priority::NOTICE),
        Some(Value::Str(b"unfreeze-refused")) => (ids::UNFREEZE_REFUSED, priority::WARNING),
        _ => (ids::DECOY_ALERT, priority::CRIT),
    }
}

/// `seq` -> `BD_SEQ`.
fn bd_name(key: &[u8]) -> Option<String> {
    let up: String = key
        .iter()
        .map(|c| char::from(c.to_ascii_uppercase()))
        .collect();
    let name = format!("BD_{up}");
    journald::valid_name(&name).then_some(name)
}

/// A field's value as the record's JSON text holds it.
fn json_text(v: &Value<'_>) -> Option<Vec<u8>> {
    Some(match v {
        Value::Null => return None,
        Value::Int(n) => n.to_string().into_bytes(),
        Value::Neg(n) => format!("-{n}").into_bytes(),
        Value::Bool(b) => {
            if *b {
                b"true".to_vec()
            } else {
                b"false".to_vec()
            }
        }
        Value::Str(s) => s.to_vec(),
        Value::Arr(a) => {
            let mut out = b"[".to_vec();
            for (i, s) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'"');
                out.extend_from_slice(s);
                out.push(b'"');
            }
            out.push(b']');
            out
        }
        Value::Obj(m) => {
            let mut out = b"{".to_vec();
            for (i, (k, n)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'"');
                out.extend_from_slice(k);
                out.extend_from_slice(format!("\":{n}").as_bytes());
            }
            out.push(b'}');
            out
        }
    })
}

fn cut(v: &[u8]) -> Vec<u8> {
    if v.len() <= CUT {
        return v.to_vec();
    }
    let mut end = CUT;
    // Stay on a UTF-8 boundary (the values are UTF-8 text).
    while end > 0 && (v[end] & 0xc0) == 0x80 {
        end -= 1;
    }
    let mut out = v[..end].to_vec();
    out.extend_from_slice(b"...");
    out
}

/// The journal entry for one parsed record line whose `h` is `h` (when
/// known: `BD_HASH`).
pub fn entry_for(v: &LineView<'_>, h: Option<&[u8; 32]>) -> Entry {
    entry_at(v, h, None)
}

/// [`entry_for`] with the PRIORITY `prio` instead of the event's.
fn entry_at(v: &LineView<'_>, h: Option<&[u8; 32]>, prio: Option<u8>) -> Entry {
    let message = human(v).into_bytes();
    let fields: Vec<(String, Vec<u8>)> = v
        .fields
        .iter()
        .take_while(|f| f.key != b"prev")
        .filter_map(|f| Some((bd_name(f.key)?, json_text(&f.value)?)))
        .collect();
    let size: usize = message.len()
        + fields
            .iter()
            .map(|(n, v)| n.len() + v.len() + 10)
            .sum::<usize>();
    let truncate = size + 1024 > journald::MAX_ENTRY;
    let mut e = Entry::new();
    if truncate {
        e.field("MESSAGE", &cut(&message));
    } else {
        e.field("MESSAGE", &message);
    }
    let (id, event_prio) = incident(v);
    let prio = prio.unwrap_or(event_prio);
    e.field("PRIORITY", prio.to_string().as_bytes())
        .field("SYSLOG_IDENTIFIER", IDENT.as_bytes())
        .field("SYSLOG_FACILITY", FACILITY.to_string().as_bytes())
        .field("MESSAGE_ID", id.as_bytes());
    let mut cut_names = Vec::new();
    for (name, value) in &fields {
        if truncate && value.len() > CUT {
            e.field(name, &cut(value));
            cut_names.push(name.as_str());
        } else {
            e.field(name, value);
        }
    }
    if let Some(h) = h {
        e.field("BD_HASH", hex(h).as_bytes());
    }
    if truncate {
        cut_names.insert(0, "MESSAGE");
        e.field("BD_TRUNCATED", cut_names.join(" ").as_bytes());
    }
    e
}

/// Where this process's copies go: journald when it listens, else the
/// syslog daemon. Opened before anything is encoded or built: a host
/// with neither spends one failed connect each, and builds nothing.
enum Sink {
    Journal(journald::Journal),
    Syslog(super::syslog::Syslog),
}

impl Sink {
    fn open() -> Option<Sink> {
        Sink::open_at(
            std::path::Path::new(journald::SOCKET),
            std::path::Path::new(super::syslog::DEV_LOG),
        )
    }

    fn open_at(journal: &std::path::Path, syslog: &std::path::Path) -> Option<Sink> {
        match journald::Journal::connect_to(journal) {
            Ok(j) => Some(Sink::Journal(j)),
            Err(_) => super::syslog::Syslog::connect_to(syslog)
                .ok()
                .map(Sink::Syslog),
        }
    }

    /// Send the entry `entry` makes; when journald refuses it, or is not
    /// there, the line `fallback` makes goes to syslog.
    fn deliver(&self, entry: impl FnOnce() -> Entry, prio: u8, fallback: impl FnOnce() -> String) {
        match self {
            Sink::Journal(j) => {
                if j.send(&entry()).is_err() {
                    super::syslog::syslog_line(prio, &fallback());
                }
            }
            Sink::Syslog(s) => s.send(prio, &fallback()),
        }
    }

    /// Send the entry of a parsed record whose `h` is `h`.
    fn deliver_view(&self, v: &LineView<'_>, h: &[u8; 32]) {
        let fallback = || format!("{} [seq {} h {}]", human(v), v.seq, hex(h));
        self.deliver(|| entry_for(v, Some(h)), incident(v).1, fallback);
    }
}

/// Copy a record appended as `a` to journald (and its recovery record,
/// when the append wrote one). Call after [`super::append`] returned:
/// the record is durable and the lock released. Never blocks, never
/// fails the caller.
pub fn forward(rec: &Record<'_>, a: &Appended) {
    let Some(sink) = Sink::open() else { return };
    if let Some(t) = &a.recovered {
        forward_recovery(
            &sink,
            a.seq.saturating_sub(1),
            t,
            rec.time,
            rec.host,
            rec.pid,
            a.epoch,
        );
    }
    // The line as written but for `prev` (unknown here, and not part of
    // any field sent), with the `timing.append` and `epoch` the writer
    // wrote (the key itself is not needed: `mac` is not sent).
    let timed;
    let rec = match (rec.timing, a.append_us) {
        (Some(mut t), Some(us)) => {
            t.append = us;
            t.sync_prev = a.sync_prev_us;
            timed = Record {
                timing: Some(t),
                ..rec.clone()
            };
            &timed
        }
        _ => rec,
    };
    let mut line = Vec::with_capacity(1024);
    encode_record(&mut line, rec, a.seq, &GENESIS);
    let line = with_epoch(line, a.epoch);
    if let Ok(v) = LineView::parse(line.strip_suffix(b"\n").unwrap_or(&line)) {
        sink.deliver_view(&v, &a.h);
    }
}

/// `"epoch":E` put where the keyed encoder writes it: the end of the
/// body, right before `,"prev":` (the last occurrence: strings escape
/// their quotes, so it cannot be inside a value).
fn with_epoch(line: Vec<u8>, epoch: Option<u64>) -> Vec<u8> {
    let Some(e) = epoch else { return line };
    let marker = b",\"prev\":";
    let Some(at) = line.windows(marker.len()).rposition(|w| w == marker) else {
        return line;
    };
    let mut out = Vec::with_capacity(line.len() + 24);
    out.extend_from_slice(&line[..at]);
    out.extend_from_slice(format!(",\"epoch\":{e}").as_bytes());
    out.extend_from_slice(&line[at..]);
    out
}

/// Copy a recovery record (seq `seq`, covering `t`) to journald. Its
/// BD_HASH is not known to the writer's caller: it is left out.
fn forward_recovery(
    sink: &Sink,
    seq: u64,
    t: &Torn,
    time: SystemTime,
    host: &[u8],
    pid: u32,
    epoch: Option<u64>,
) {
    let mut line = Vec::with_capacity(512);
    encode_recovery(&mut line, seq, &GENESIS, time, host, pid, t);
    let line = with_epoch(line, epoch);
    let body = line.strip_suffix(b"\n").unwrap_or(&line);
    let Ok(v) = LineView::parse(body) else { return };
    sink.deliver(|| entry_for(&v, None), priority::WARNING, || human(&v));
}

/// Copy a monitored command's `exit` record to journald, after it is
/// durable and the lock released (src/exec/monitor/).
pub fn forward_exit(rec: &ExitRecord<'_>, a: &Appended) {
    let Some(sink) = Sink::open() else { return };
    let mut line = Vec::with_capacity(512);
    encode_exit_keyed(&mut line, rec, a.seq, &GENESIS, None);
    let line = with_epoch(line, a.epoch);
    if let Ok(v) = LineView::parse(line.strip_suffix(b"\n").unwrap_or(&line)) {
        sink.deliver_view(&v, &a.h);
    }
}

/// Copy the last record of `file` to journald when its seq is `seq`
/// (`bdctl key rotate --audit`, after the seal is written and the lock
/// released). A seal line is short: the last 64 KiB hold it.
pub fn forward_last(file: &std::fs::File, seq: u64) {
    use std::os::unix::fs::FileExt;
    let Some(sink) = Sink::open() else { return };
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return;
    };
    let from = len.saturating_sub(64 << 10);
    let mut buf = vec![0u8; (len - from) as usize];
    if file.read_exact_at(&mut buf, from).is_err() {
        return;
    }
    let Some(body) = buf.strip_suffix(b"\n") else {
        return;
    };
    let line = match body.iter().rposition(|c| *c == b'\n') {
        Some(i) => &body[i + 1..],
        None if from == 0 => body,
        None => return,
    };
    match LineView::parse(line) {
        Ok(v) if v.seq == seq => sink.deliver_view(&v, &v.h),
        _ => {}
    }
}

/// The degrade ladder's weaker sink ([`super::ladder::Sink::Journald`]):
/// `rec`, which the log could not take (`why`), goes to journald as its
/// only copy: PRIORITY 2 (crit), the alert MESSAGE_ID, `BD_SINK=journald`
/// and `BD_AUDIT_FAULT`, the record's fields as [`entry_for`] writes them
/// (no `BD_SEQ` chain position: `BD_SEQ=0`). `Err` when journald did not
/// take it: then the caller must refuse.
pub fn fallback(rec: &Record<'_>, why: &str) -> std::io::Result<()> {
    let mut line = Vec::with_capacity(1024);
    encode_record(&mut line, rec, 0, &GENESIS);
    let body = line.strip_suffix(b"\n").unwrap_or(&line);
    let v = LineView::parse(body).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut e = entry_at(&v, None, Some(priority::CRIT));
    let why = crate::base::escape::display(why.as_bytes());
    e.field("BD_SINK", b"journald")
        .field("BD_AUDIT_FAULT", why.as_bytes());
    journald::send(&e).map(|_| ())
}

/// An alert the audit log could not hold: journald at PRIORITY 2 with the
/// alert MESSAGE_ID, else syslog at LOG_CRIT (the sink every copy
/// takes), else nothing.
pub fn alert(msg: &str) {
    let Some(sink) = Sink::open() else { return };
    let text = crate::base::escape::display(msg.as_bytes());
    let entry = || {
        let mut e = Entry::new();
        e.field("MESSAGE", text.as_bytes())
            .field("PRIORITY", priority::CRIT.to_string().as_bytes())
            .field("SYSLOG_IDENTIFIER", IDENT.as_bytes())
            .field("SYSLOG_FACILITY", FACILITY.to_string().as_bytes())
            .field("MESSAGE_ID", ids::ALERT.as_bytes())
            .field("BD_EVENT", b"alert");
        e
    };
    sink.deliver(entry, priority::CRIT, || msg.to_owned());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::testutil::sample;

    fn fields(e: &Entry) -> Vec<(String, Vec<u8>)> {
        crate::audit::journald::tests_parse(e.bytes())
    }

    fn get<'a>(f: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
        f.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }

    /// journald first, syslog when journald does not listen, nothing
    /// (and nothing built) when neither does; through syslog the record's
    /// line carries its seq and hash.
    #[test]
    fn the_sink_is_journald_else_syslog_else_none() {
        use std::os::unix::net::UnixDatagram;
        let d = tempfile::tempdir().expect("tempdir");
        let (jp, sp) = (d.path().join("journal"), d.path().join("log"));
        assert!(Sink::open_at(&jp, &sp).is_none(), "neither listens");
        let syslog = UnixDatagram::bind(&sp).expect("bind syslog");
        let sink = Sink::open_at(&jp, &sp).expect("syslog listens");
        assert!(matches!(sink, Sink::Syslog(_)));
        let argv = [b"id".to_vec()];
        let r = sample(&argv);
        let mut line = Vec::new();
        let h = encode_record(&mut line, &r, 9, &GENESIS);
        let v = LineView::parse(&line[..line.len() - 1]).expect("parse");
        sink.deliver_view(&v, &h);
        let mut buf = [0u8; 4096];
        let n = syslog.recv(&mut buf).expect("the line");
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(got.starts_with("<86>bdexec["), "{got}");
        assert!(got.ends_with(&format!("[seq 9 h {}]", hex(&h))), "{got}");
        // No entry is built for syslog: the closure must not run.
        sink.deliver(|| panic!("an entry built for syslog"), 6, || "x".into());
        let n = syslog.recv(&mut buf).expect("x");
        assert!(buf[..n].ends_with(b"]: x"), "{:?}", &buf[..n]);

        let journal = UnixDatagram::bind(&jp).expect("bind journal");
        let sink = Sink::open_at(&jp, &sp).expect("journald listens");
        assert!(matches!(sink, Sink::Journal(_)));
        sink.deliver_view(&v, &h);
        let n = journal.recv(&mut buf).expect("the entry");
        let f = crate::audit::journald::tests_parse(&buf[..n]);
        assert!(f.iter().any(|(k, v)| k == "BD_SEQ" && v == b"9"), "{f:?}");
        syslog.set_nonblocking(true).expect("nonblocking");
        assert!(
            syslog.recv(&mut buf).is_err(),
            "journald took it: no syslog line"
        );
    }

    #[test]
    fn fields_mirror_the_record_and_nothing_is_injected() {
        let argv = vec![
            b"sh".to_vec(),
            b"a\nMESSAGE=forged\nPRIORITY=0".to_vec(),
            b"x=y".to_vec(),
            b"\xff\xfe\x01".to_vec(),
        ];
        let mut r = sample(&argv);
        r.reason = "why\nBD_EVENT=accept";
        r.sandbox = Some("web");
        let mut line = Vec::new();
        let h = encode_record(&mut line, &r, 7, &GENESIS);
        let v = LineView::parse(&line[..line.len() - 1]).expect("parse");
        let f = fields(&entry_for(&v, Some(&h)));
        let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
        // One of each: nothing injected.
        for n in &names {
            assert_eq!(
                names.iter().filter(|m| *m == n).count(),
                1,
                "{n}: {names:?}"
            );
        }
        for n in [
            "MESSAGE",
            "PRIORITY",
            "SYSLOG_IDENTIFIER",
            "SYSLOG_FACILITY",
            "MESSAGE_ID",
            "BD_SEQ",
            "BD_EVENT",
            "BD_UUID",
            "BD_SUBMITUSER",
            "BD_SUBMITUID",
            "BD_RUNUSER",
            "BD_COMMAND",
            "BD_RUNARGV",
            "BD_RULE",
            "BD_REASON",
            "BD_POLICY_HASH",
            "BD_SANDBOX",
            "BD_HASH",
        ] {
            assert!(names.contains(&n), "{n} missing: {names:?}");
        }
        assert_eq!(get(&f, "PRIORITY"), Some(&b"6"[..]));
        assert_eq!(get(&f, "MESSAGE_ID"), Some(ids::ACCEPT.as_bytes()));
        assert_eq!(get(&f, "BD_SEQ"), Some(&b"7"[..]));
        assert_eq!(get(&f, "BD_HASH"), Some(hex(&h).as_bytes()));
        assert_eq!(
            get(&f, "BD_REASON"),
            Some(&br"why\u000aBD_EVENT=accept"[..])
        );
        let runargv = get(&f, "BD_RUNARGV").expect("argv");
        let j: Vec<String> = serde_json::from_slice(runargv).expect("JSON array");
        assert_eq!(j[1], "a\nMESSAGE=forged\nPRIORITY=0");
        assert_eq!(j[3], "\\xff\\xfe\u{1}");
        let s = std::str::from_utf8(&line).expect("utf8");
        assert!(s.contains(std::str::from_utf8(runargv).expect("utf8")));
        for (_, v) in &f {
            assert!(!v.contains(&b'\n') && std::str::from_utf8(v).is_ok());
        }
        // Nulls are left out.
        r.rule = None;
        let mut line = Vec::new();
        let h = encode_record(&mut line, &r, 8, &GENESIS);
        let v = LineView::parse(&line[..line.len() - 1]).expect("parse");
        assert!(get(&fields(&entry_for(&v, Some(&h))), "BD_RULE").is_none());
    }

    /// A negative `clock_skew` (wall clock set back) reaches the journal
    /// as its JSON text.
    #[test]
    fn negative_clock_skew_field() {
        let argv = vec![b"ls".to_vec()];
        let mut r = sample(&argv);
        r.clock_skew = Some(-7);
        let mut line = Vec::new();
        let h = encode_record(&mut line, &r, 1, &GENESIS);
        let v = LineView::parse(&line[..line.len() - 1]).expect("parse");
        let f = fields(&entry_for(&v, Some(&h)));
        assert_eq!(get(&f, "BD_CLOCK_SKEW"), Some(&b"-7"[..]));
    }

    #[test]
    fn reject_priority_and_ids_are_distinct() {
        let all = [
            ids::ACCEPT,
            ids::REJECT,
            ids::RECOVERY,
            ids::SEAL,
            ids::ALERT,
        ];
        for (i, a) in all.iter().enumerate() {
            assert_eq!(a.len(), 32);
            assert!(
                a.bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
            assert!(all[i + 1..].iter().all(|b| b != a));
        }
        assert_eq!(event_priority(EventKind::Reject), 5);
        assert_eq!(event_priority(EventKind::Accept), 6);
    }

    #[test]
    fn oversize_entries_are_cut_with_a_flag() {
        // bdexec bounds its records now (record::RUNARGV_MAX), but a log
        // written before the bound can hold a 72 MiB line: its argv is
        // put back here by hand (the parser does not check `h`).
        let argv = vec![b"x".to_vec(), b"PLACEHOLDER".to_vec()];
        let r = sample(&argv);
        let mut small = Vec::new();
        let h = encode_record(&mut small, &r, 1, &GENESIS);
        let big = "\\u0001".repeat(12 << 20);
        let text = String::from_utf8(small).expect("utf8");
        assert!(text.contains("PLACEHOLDER"));
        let line = text.replacen("PLACEHOLDER", &big, 1).into_bytes();
        let v = LineView::parse(&line[..line.len() - 1]).expect("parse");
        let e = entry_for(&v, Some(&h));
        assert!(e.len() < journald::MAX_ENTRY);
        let f = fields(&e);
        assert_eq!(get(&f, "BD_TRUNCATED"), Some(&b"MESSAGE BD_RUNARGV"[..]));
        assert!(get(&f, "BD_RUNARGV").expect("argv").ends_with(b"..."));
        // A normal one has no flag.
        let argv = vec![b"x".to_vec(), vec![b'a'; 100 << 10]];
        let r = sample(&argv);
        let mut line = Vec::new();
        let h = encode_record(&mut line, &r, 1, &GENESIS);
        let v = LineView::parse(&line[..line.len() - 1]).expect("parse");
        assert!(get(&fields(&entry_for(&v, Some(&h))), "BD_TRUNCATED").is_none());
    }

    #[test]
    fn recovery_entry_has_no_hash() {
        let t = Torn {
            offset: 3,
            length: 4,
            hash: [1; 32],
        };
        let mut line = Vec::new();
        encode_recovery(&mut line, 2, &GENESIS, SystemTime::UNIX_EPOCH, b"h", 1, &t);
        let v = LineView::parse(&line[..line.len() - 1]).expect("parse");
        let f = fields(&entry_for(&v, None));
        assert!(get(&f, "BD_HASH").is_none());
        assert_eq!(get(&f, "BD_EVENT"), Some(&b"recovery"[..]));
        assert_eq!(get(&f, "BD_TORN_LENGTH"), Some(&b"4"[..]));
        assert_eq!(get(&f, "MESSAGE_ID"), Some(ids::RECOVERY.as_bytes()));
    }
}
