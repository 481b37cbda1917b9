//! Incremental reading of the audit log with a cursor that notices
//! rotation and truncation (DESIGN section 11).
//!
//! A [`Cursor`] names the last record consumed by its byte range and the
//! BLAKE3 hash of its bytes, plus the hash of the file's first record
//! (the file's identity). On the next read, the record at the cursor must still be
//! there with the same `h`; otherwise the log was truncated, rewritten or
//! rotated, and [`read_new`] says which ([`Reset`]):
//!
//! * same first record: the same log lost or changed its tail. Reading
//!   restarts at the beginning but skips every record whose `seq` is at
//!   or below the cursor's: nothing is counted twice; records that were
//!   counted and are gone stay counted (the reset is reported).
//! * another first record (or an empty file): a new log (rotation).
//!   Reading starts at its beginning.
//!
//! Records are parsed as generic JSON ([`serde_json::Value`]) so that
//! fields and events added later (`timing`, `traceparent`, the monitor's
//! `exit` record) pass through; a line that is not a JSON object with a
//! `seq` and an `h` (a torn fragment a `recovery` record covers) is
//! skipped. An unterminated last line is left for the next read.
#![forbid(unsafe_code)]

use super::TelemetryError;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Longest line read (a record is far smaller; a longer line is skipped).
pub const MAX_LINE: usize = 4 << 20;

/// Where a consumer stopped in the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cursor {
    /// Byte offset just past the last consumed line.
    pub offset: u64,
    /// Offset of that line's first byte.
    pub last_start: u64,
    /// Its `seq` and the BLAKE3 of its bytes (hex); `None` before the
    /// first record.
    pub seq: Option<u64>,
    pub h: Option<String>,
    /// The same hash of the file's first record: which log this cursor
    /// is in.
    pub first_h: Option<String>,
    /// Highest `seq` consumed in this log: after a truncation, records
    /// up to it are not consumed again.
    pub high: Option<u64>,
}

/// Why the cursor did not match the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    /// Same log, but the record at the cursor is gone or differs
    /// (truncated or rewritten tail).
    Truncated,
    /// Another log (rotated, or replaced).
    Rotated,
}

impl Reset {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Reset::Truncated => "truncated",
            Reset::Rotated => "rotated",
        }
    }
}

/// One record read past the cursor.
#[derive(Debug, Clone)]
pub struct Rec {
    pub value: serde_json::Value,
    /// The cursor just after this record.
    pub after: Cursor,
}

/// The records past a cursor.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub records: Vec<Rec>,
    /// Set when the cursor did not match the log.
    pub reset: Option<Reset>,
    /// The cursor after the last record read (or the repaired cursor when
    /// there was none).
    pub end: Cursor,
    /// True when `limit` stopped the read before the end of the log.
    pub more: bool,
}

/// A line that is a record: its value, `seq`, and the BLAKE3 of its
/// bytes (so any change to the line, not only to its `h`, is seen).
fn ident(line: &[u8]) -> Option<(serde_json::Value, u64, String)> {
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    let seq = v.get("seq")?.as_u64()?;
    v.get("h")?.as_str()?;
    Some((v, seq, blake3::hash(line).to_hex().to_string()))
}

/// Open the log read-only without following a symlink.
pub fn open_log(path: &Path) -> Result<File, TelemetryError> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| TelemetryError(format!("{}: {e}", path.display())))
}

/// Read up to `limit` records of `path` past `cur` (all when `None`).
/// A missing log is an empty one.
pub fn read_new(path: &Path, cur: &Cursor, limit: Option<usize>) -> Result<Batch, TelemetryError> {
    let f = match open_log(path) {
        Ok(f) => f,
        Err(_) if !path.exists() => {
            let reset = cur.seq.map(|_| Reset::Rotated);
            return Ok(Batch {
                reset,
                end: if reset.is_some() {
                    Cursor::default()
                } else {
                    cur.clone()
                },
                ..Batch::default()
            });
        }
        Err(e) => return Err(e),
    };
    read_from(&f, path, cur, limit)
}

fn err(path: &Path, e: std::io::Error) -> TelemetryError {
    TelemetryError(format!("{}: read: {e}", path.display()))
}

/// The record in bytes `start..end` of `f`, if it is one.
fn record_at(f: &File, start: u64, end: u64) -> Option<(u64, String)> {
    let len = usize::try_from(end.checked_sub(start)?).ok()?;
    if len == 0 || len > MAX_LINE + 1 {
        return None;
    }
    let mut buf = vec![0; len];
    let mut r = f;
    r.seek(SeekFrom::Start(start)).ok()?;
    r.read_exact(&mut buf).ok()?;
    let line = buf.strip_suffix(b"\n")?;
    ident(line).map(|(_, s, h)| (s, h))
}

/// The first record of `f` (skipping non-records), its `h`.
fn first_h(f: &File) -> Option<String> {
    let mut r = BufReader::new(f);
    r.seek(SeekFrom::Start(0)).ok()?;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r
            .by_ref()
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .ok()?;
        if n == 0 || line.last() != Some(&b'\n') {
            return None;
        }
        if let Some((_, _, h)) = ident(&line[..line.len() - 1]) {
            return Some(h);
        }
    }
}

fn read_from(
    f: &File,
    path: &Path,
    cur: &Cursor,
    limit: Option<usize>,
) -> Result<Batch, TelemetryError> {
    let size = f.metadata().map_err(|e| err(path, e))?.len();
    let matches = match (&cur.seq, &cur.h) {
        (None, _) | (_, None) => cur.offset == 0,
        (Some(seq), Some(h)) => {
            cur.offset <= size
                && record_at(f, cur.last_start, cur.offset).as_ref() == Some(&(*seq, h.clone()))
        }
    };
    let (mut start, reset) = if matches {
        (cur.offset, None)
    } else if cur.first_h.is_some() && first_h(f) == cur.first_h {
        (0, Some(Reset::Truncated))
    } else {
        (0, Some(Reset::Rotated))
    };
    let mut end = match reset {
        None => cur.clone(),
        // Same log: keep its identity and what was consumed in it.
        Some(Reset::Truncated) => Cursor {
            first_h: cur.first_h.clone(),
            high: cur.high,
            ..Cursor::default()
        },
        Some(Reset::Rotated) => Cursor::default(),
    };
    let skip_to = end.high;
    let mut r = BufReader::new(f);
    r.seek(SeekFrom::Start(start)).map_err(|e| err(path, e))?;
    let mut out = Batch {
        reset,
        ..Batch::default()
    };
    let mut line = Vec::new();
    loop {
        if limit.is_some_and(|l| out.records.len() >= l) {
            out.more = start < size;
            break;
        }
        line.clear();
        let n = r
            .by_ref()
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| err(path, e))?;
        if n == 0 || line.last() != Some(&b'\n') {
            // End of file, or an unterminated (torn or in-flight) line:
            // left for the next read. An over-long line without a newline
            // in MAX_LINE bytes is skipped to its end below.
            if n > MAX_LINE {
                skip_line(&mut r).map_err(|e| err(path, e))?;
                start = r.stream_position().map_err(|e| err(path, e))?;
                continue;
            }
            break;
        }
        let line_start = start;
        start += n as u64;
        let Some((value, seq, h)) = ident(&line[..n - 1]) else {
            continue;
        };
        if end.first_h.is_none() {
            end.first_h = Some(h.clone());
        }
        end.offset = start;
        end.last_start = line_start;
        end.seq = Some(seq);
        end.h = Some(h);
        if skip_to.is_some_and(|s| seq <= s) {
            continue;
        }
        end.high = Some(end.high.map_or(seq, |x| x.max(seq)));
        out.records.push(Rec {
            value,
            after: end.clone(),
        });
    }
    out.end = end;
    Ok(out)
}

fn skip_line(r: &mut impl BufRead) -> std::io::Result<()> {
    let mut sink = Vec::new();
    loop {
        sink.clear();
        let n = r.by_ref().take(1 << 16).read_until(b'\n', &mut sink)?;
        if n == 0 || sink.last() == Some(&b'\n') {
            return Ok(());
        }
    }
}

/// Synthetic chained log lines for tests (the writer of this branch has
/// no `timing` yet; these lines have the same chain as the writer's).
/// A record's `timing.KEY` in microseconds, when present and an integer
/// (metrics and spans read the same field).
pub fn timing(v: &serde_json::Value, key: &str) -> Option<u64> {
    v.get("timing")?.get(key)?.as_u64()
}

#[cfg(test)]
pub(crate) mod testlog {
    use crate::audit::chain::{chain_hash, hex};

    /// Lines `seq` from `first`, each `extra` (JSON members after the
    /// event) chained from `prev`; returns the text and the last `h`.
    pub(crate) fn lines(first: u64, n: u64, mut prev: [u8; 32], extra: &str) -> (String, [u8; 32]) {
        let mut out = String::new();
        for seq in first..first + n {
            let body = format!(
                "\"seq\":{seq},\"event\":\"accept\",\"time\":\"2026-12-04T10:00:00Z\",\"uuid\":\"00000000-0000-4000-8000-{seq:012}\"{extra}"
            );
            let h = chain_hash(seq, &prev, body.as_bytes());
            out.push_str(&format!(
                "{{{body},\"prev\":\"{}\",\"h\":\"{}\"}}\n",
                hex(&prev),
                hex(&h)
            ));
            prev = h;
        }
        (out, prev)
    }
}

#[cfg(test)]
mod tests {
    use super::testlog::lines;
    use super::*;
    use std::io::Write as _;

    fn seqs(b: &Batch) -> Vec<u64> {
        b.records
            .iter()
            .filter_map(|r| r.value.get("seq")?.as_u64())
            .collect()
    }

    fn append(p: &Path, s: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(p)
            .expect("open");
        f.write_all(s.as_bytes()).expect("write");
    }

    #[test]
    fn incremental_and_torn_tail_waits() {
        let d = tempfile::tempdir().expect("tmp");
        let p = d.path().join("audit.jsonl");
        let (a, h) = lines(1, 3, [0; 32], "");
        append(&p, &a);
        let b = read_new(&p, &Cursor::default(), None).expect("read");
        assert_eq!((seqs(&b), b.reset), (vec![1, 2, 3], None));
        let (more, _) = lines(4, 2, h, "");
        // Half of record 4 written: not consumed yet.
        append(&p, &more[..20]);
        let b2 = read_new(&p, &b.end, None).expect("read");
        assert!(b2.records.is_empty());
        assert_eq!(b2.end, b.end);
        append(&p, &more[20..]);
        let b3 = read_new(&p, &b2.end, None).expect("read");
        assert_eq!((seqs(&b3), b3.reset), (vec![4, 5], None));
        // Limits.
        let l = read_new(&p, &Cursor::default(), Some(2)).expect("read");
        assert_eq!((seqs(&l), l.more), (vec![1, 2], true));
        let l2 = read_new(&p, &l.end, Some(2)).expect("read");
        assert_eq!(seqs(&l2), vec![3, 4]);
    }

    #[test]
    fn truncation_is_detected_and_nothing_counted_twice() {
        let d = tempfile::tempdir().expect("tmp");
        let p = d.path().join("audit.jsonl");
        let (a, _) = lines(1, 5, [0; 32], "");
        append(&p, &a);
        let b = read_new(&p, &Cursor::default(), None).expect("read");
        assert_eq!(seqs(&b), vec![1, 2, 3, 4, 5]);
        // Truncate to the first three records, then the log goes on
        // (seq 4 again, with another body).
        let keep: usize = a.split_inclusive('\n').take(3).map(str::len).sum();
        std::fs::write(&p, &a[..keep]).expect("truncate");
        let t = read_new(&p, &b.end, None).expect("read");
        assert_eq!((seqs(&t), t.reset), (vec![], Some(Reset::Truncated)));
        let prev3 = {
            let l = a.split_inclusive('\n').nth(2).unwrap_or("");
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            crate::audit::chain::parse_hex32(v["h"].as_str().unwrap_or("").as_bytes())
                .unwrap_or([0; 32])
        };
        let (again, _) = lines(4, 3, prev3, ",\"rule\":\"x\"");
        append(&p, &again);
        let n = read_new(&p, &t.end, None).expect("read");
        // 4 and 5 were counted before the truncation: only 6 is new.
        assert_eq!(seqs(&n), vec![6]);
        // And from there on it is incremental again.
        assert_eq!(read_new(&p, &n.end, None).expect("read").reset, None);
        // A rewritten record at the cursor (same length, other bytes).
        let text = std::fs::read_to_string(&p).expect("read");
        std::fs::write(&p, text.replace("\"rule\":\"x\"", "\"rule\":\"y\"")).expect("rewrite");
        let r = read_new(&p, &n.end, None).expect("read");
        assert_eq!((seqs(&r), r.reset), (vec![], Some(Reset::Truncated)));
    }

    #[test]
    fn rotation_starts_the_new_log_from_the_beginning() {
        let d = tempfile::tempdir().expect("tmp");
        let p = d.path().join("audit.jsonl");
        let (a, _) = lines(1, 4, [0; 32], "");
        append(&p, &a);
        let b = read_new(&p, &Cursor::default(), None).expect("read");
        std::fs::rename(&p, d.path().join("audit.jsonl.1")).expect("rotate");
        // Missing log after rotation: reported, nothing read.
        let m = read_new(&p, &b.end, None).expect("read");
        assert_eq!(m.reset, Some(Reset::Rotated));
        let (fresh, _) = lines(1, 2, [7; 32], "");
        append(&p, &fresh);
        let r = read_new(&p, &m.end, None).expect("read");
        assert_eq!((seqs(&r), r.reset), (vec![1, 2], None));
        // Straight from the old cursor (no run in between): rotation seen.
        let r2 = read_new(&p, &b.end, None).expect("read");
        assert_eq!((seqs(&r2), r2.reset), (vec![1, 2], Some(Reset::Rotated)));
    }

    #[test]
    fn junk_lines_are_skipped() {
        let d = tempfile::tempdir().expect("tmp");
        let p = d.path().join("audit.jsonl");
        let (a, _) = lines(1, 2, [0; 32], "");
        append(&p, "torn fragm\n");
        append(&p, &a);
        append(&p, "{\"seq\":\"x\"}\n");
        let b = read_new(&p, &Cursor::default(), None).expect("read");
        assert_eq!(seqs(&b), vec![1, 2]);
        // The cursor stays on the last record (a junk tail is read again).
        assert_eq!(b.end.offset, 11 + a.len() as u64);
        assert!(
            read_new(&p, &b.end, None)
                .expect("again")
                .records
                .is_empty()
        );
    }
}
