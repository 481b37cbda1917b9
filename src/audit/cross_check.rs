//! `bdctl audit cross-check`: compare the audit log with its copy in the
//! journal (DESIGN sections 7 and 11). The file alone cannot show that
//! its tail was cut off, or that its last records were rewritten and
//! re-chained; the journal, fed by bdexec at each call, can.
//!
//! The journal is read with `journalctl -o json -t bdexec` (a subprocess:
//! fine for bdctl, never done by bdexec). Each entry with `BD_SEQ` is
//! compared with the file's record of that seq by `BD_HASH`:
//!
//! * a journal entry whose seq the file does not have: **missing from the
//!   file** (a truncated tail, or a file replaced by a shorter one);
//! * a journal entry whose hash differs from the file's record: **differs**
//!   (a rewritten record). Every entry of a seq must agree: a forged entry
//!   (anyone may write to the journal as `bdexec`) can add an alarm but
//!   never hide one;
//! * a file record the journal lacks, after the journal's first entry:
//!   **missing from the journal** (journald was down or dropped it: a
//!   warning). Records before the journal's first entry are beyond its
//!   retention and only counted.
//!
//! Entries without `BD_HASH` (recovery records) match by seq alone.
#![forbid(unsafe_code)]

use super::MAX_LINE;
use super::chain::{hex, parse_hex32};
use super::record::LineView;
use super::verify::{LineRead, OpenError, open_log, read_line_capped};
use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufReader, Read};
use std::path::Path;
use std::process::Command;

/// One journal entry of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRecord {
    pub seq: u64,
    pub hash: Option<[u8; 32]>,
    pub event: String,
    /// `_PID` and `_UID` (trusted fields), for the report.
    pub pid: Option<String>,
    pub uid: Option<String>,
}

/// Why the comparison could not be made.
#[derive(Debug)]
pub enum CrossCheckError {
    File(String),
    Journal(String),
}

impl fmt::Display for CrossCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrossCheckError::File(m) => write!(f, "cannot read the audit log: {m}"),
            CrossCheckError::Journal(m) => write!(f, "cannot read the journal: {m}"),
        }
    }
}

impl std::error::Error for CrossCheckError {}

/// The outcome.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub file_records: u64,
    pub journal_entries: u64,
    pub matched: u64,
    /// Journal entries the file lacks.
    pub missing_from_file: Vec<JournalRecord>,
    /// (seq, the file's h, the journal entry).
    pub differs: Vec<(u64, [u8; 32], JournalRecord)>,
    /// File seqs the journal lacks (after its first entry).
    pub missing_from_journal: Vec<u64>,
    /// File records older than the journal's first entry.
    pub before_journal: u64,
    /// Journal entries that were not usable (no or bad BD_SEQ/BD_HASH).
    pub unusable: u64,
}

impl Report {
    /// The file lacks or contradicts what the journal recorded.
    pub fn file_problem(&self) -> bool {
        !self.missing_from_file.is_empty() || !self.differs.is_empty()
    }
}

/// `seq` -> `h` of every record line of the file and of its rotated
/// files `path.N` (lines that are not records are `bdctl audit verify`'s
/// business and skipped here).
pub fn file_records(path: &Path) -> Result<BTreeMap<u64, [u8; 32]>, CrossCheckError> {
    let mut out = one_file_records(path)?;
    for p in super::rotate::rotated_files(path) {
        out.append(&mut one_file_records(&p)?);
    }
    Ok(out)
}

fn one_file_records(path: &Path) -> Result<BTreeMap<u64, [u8; 32]>, CrossCheckError> {
    let (file, len) = open_log(path).map_err(|e| {
        CrossCheckError::File(match e {
            OpenError::Io(e) => e.to_string(),
            OpenError::Symlink => "the path is a symbolic link (not followed)".into(),
            OpenError::NotRegular => "not a regular file".into(),
        })
    })?;
    let mut r = BufReader::with_capacity(256 * 1024, Read::take(&file, len));
    let mut buf = Vec::new();
    let mut out = BTreeMap::new();
    loop {
        match read_line_capped(&mut r, &mut buf, MAX_LINE)
            .map_err(|e| CrossCheckError::File(e.to_string()))?
        {
            LineRead::Eof => break,
            LineRead::Line {
                terminated: true,
                too_long: false,
                ..
            } => {
                if let Ok(v) = LineView::parse(&buf) {
                    out.insert(v.seq, v.h);
                }
            }
            LineRead::Line { .. } => {}
        }
    }
    Ok(out)
}

fn str_field(v: &serde_json::Value, k: &str) -> Option<String> {
    match v.get(k) {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Parse `journalctl -o json` output: one object per line. Returns the
/// usable entries and how many entries with `BD_SEQ` were unusable.
pub fn parse_journal_json(out: &[u8]) -> (Vec<JournalRecord>, u64) {
    let mut recs = Vec::new();
    let mut unusable = 0;
    for line in out.split(|c| *c == b'\n').filter(|l| !l.is_empty()) {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
            unusable += 1;
            continue;
        };
        if v.get("BD_SEQ").is_none() {
            continue; // an alert, or another program's entry
        }
        let seq = str_field(&v, "BD_SEQ").and_then(|s| {
            if s.len() > 1 && s.starts_with('0') {
                None
            } else {
                s.parse::<u64>().ok()
            }
        });
        let hash = match v.get("BD_HASH") {
            None => Some(None),
            Some(serde_json::Value::String(s)) => parse_hex32(s.as_bytes()).map(Some),
            Some(_) => None,
        };
        let (Some(seq), Some(hash)) = (seq, hash) else {
            unusable += 1;
            continue;
        };
        recs.push(JournalRecord {
            seq,
            hash,
            event: str_field(&v, "BD_EVENT").unwrap_or_default(),
            pid: str_field(&v, "_PID"),
            uid: str_field(&v, "_UID"),
        });
    }
    (recs, unusable)
}

/// Read the journal's bdexec entries (`directory`: a journal directory
/// instead of the system journal).
pub fn read_journal(
    directory: Option<&Path>,
) -> Result<(Vec<JournalRecord>, u64), CrossCheckError> {
    let mut cmd = Command::new("journalctl");
    cmd.args([
        "-o",
        "json",
        "--all",
        "--no-pager",
        "-q",
        "-t",
        "bdexec",
        "--output-fields=BD_SEQ,BD_HASH,BD_EVENT,_PID,_UID",
    ]);
    if let Some(d) = directory {
        cmd.arg("--directory").arg(d);
    }
    let out = cmd
        .output()
        .map_err(|e| CrossCheckError::Journal(format!("cannot run journalctl: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or("").trim();
        return Err(CrossCheckError::Journal(format!(
            "journalctl failed ({}): {}",
            out.status,
            crate::base::escape::display(first.as_bytes())
        )));
    }
    Ok(parse_journal_json(&out.stdout))
}

/// Compare (pure).
pub fn compare(file: &BTreeMap<u64, [u8; 32]>, journal: &[JournalRecord], unusable: u64) -> Report {
    let mut r = Report {
        file_records: file.len() as u64,
        journal_entries: journal.len() as u64,
        unusable,
        ..Report::default()
    };
    let mut by_seq: BTreeMap<u64, Vec<&JournalRecord>> = BTreeMap::new();
    for j in journal {
        by_seq.entry(j.seq).or_default().push(j);
    }
    for (seq, entries) in &by_seq {
        match file.get(seq) {
            None => r
                .missing_from_file
                .extend(entries.iter().map(|e| (*e).clone())),
            Some(h) => {
                let mut ok = true;
                for e in entries {
                    if let Some(jh) = e.hash
                        && jh != *h
                    {
                        r.differs.push((*seq, *h, (*e).clone()));
                        ok = false;
                    }
                }
                if ok {
                    r.matched += 1;
                }
            }
        }
    }
    let first = by_seq.keys().next().copied();
    for seq in file.keys() {
        if by_seq.contains_key(seq) {
            continue;
        }
        match first {
            Some(f) if *seq > f => r.missing_from_journal.push(*seq),
            _ => r.before_journal += 1,
        }
    }
    r
}

fn who(j: &JournalRecord) -> String {
    format!(
        "{} {} (_PID {}, _UID {})",
        if j.event.is_empty() { "?" } else { &j.event },
        j.hash
            .map_or_else(|| "no hash".to_string(), |h| format!("h {}", hex(&h))),
        j.pid.as_deref().unwrap_or("?"),
        j.uid.as_deref().unwrap_or("?")
    )
}

/// The report as text lines (each escaped: journal fields are anyone's).
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let d = |t: &str| crate::base::escape::display(t.as_bytes());
    for j in &r.missing_from_file {
        s.push_str(&d(&format!(
            "missing from the file: seq {}: journal has {}\n",
            j.seq,
            who(j)
        )));
    }
    for (seq, h, j) in &r.differs {
        s.push_str(&d(&format!(
            "differs: seq {seq}: file has h {}, journal has {}\n",
            hex(h),
            who(j)
        )));
    }
    for seq in &r.missing_from_journal {
        s.push_str(&format!("missing from the journal: seq {seq}\n"));
    }
    s.push_str(&format!(
        "{} file records, {} journal entries: {} agree, {} missing from the file, {} differ, \
         {} missing from the journal, {} before the journal's first entry, {} unusable entries\n",
        r.file_records,
        r.journal_entries,
        r.matched,
        r.missing_from_file.len(),
        r.differs.len(),
        r.missing_from_journal.len(),
        r.before_journal,
        r.unusable
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(seq: u64, h: u8) -> JournalRecord {
        JournalRecord {
            seq,
            hash: Some([h; 32]),
            event: "accept".into(),
            pid: None,
            uid: None,
        }
    }

    fn file(n: u64) -> BTreeMap<u64, [u8; 32]> {
        (1..=n).map(|s| (s, [s as u8; 32])).collect()
    }

    #[test]
    fn agree_truncated_rewritten_and_lost() {
        let all: Vec<_> = (1..=5).map(|s| j(s, s as u8)).collect();
        let r = compare(&file(5), &all, 0);
        assert_eq!(r.matched, 5);
        assert!(!r.file_problem() && r.missing_from_journal.is_empty());
        // Truncated tail: the journal knows 4 and 5.
        let r = compare(&file(3), &all, 0);
        assert_eq!(
            r.missing_from_file
                .iter()
                .map(|e| e.seq)
                .collect::<Vec<_>>(),
            [4, 5]
        );
        assert!(r.file_problem());
        // Rewritten record 3.
        let mut f = file(5);
        f.insert(3, [0xee; 32]);
        let r = compare(&f, &all, 0);
        assert_eq!(r.differs.len(), 1);
        assert_eq!(r.differs[0].0, 3);
        // A forged entry carrying the rewritten hash hides nothing.
        let mut forged = all.clone();
        forged.push(j(3, 0xee));
        let r = compare(&f, &forged, 0);
        assert_eq!(r.differs.len(), 1);
        // The journal lost 4; 1 is before its horizon.
        let some: Vec<_> = all
            .iter()
            .filter(|e| e.seq != 4 && e.seq != 1)
            .cloned()
            .collect();
        let r = compare(&file(5), &some, 0);
        assert_eq!(r.missing_from_journal, [4]);
        assert_eq!(r.before_journal, 1);
        assert!(!r.file_problem());
        assert!(render(&r).contains("missing from the journal: seq 4"));
    }

    #[test]
    fn journal_json() {
        let h = "ab".repeat(32);
        let out = format!(
            "{{\"BD_SEQ\":\"1\",\"BD_HASH\":\"{h}\",\"BD_EVENT\":\"accept\",\"_PID\":\"9\"}}\n\
             {{\"MESSAGE\":\"an alert\"}}\n\
             {{\"BD_SEQ\":\"2\",\"BD_EVENT\":\"recovery\"}}\n\
             {{\"BD_SEQ\":\"01\",\"BD_HASH\":\"{h}\"}}\n\
             {{\"BD_SEQ\":\"3\",\"BD_HASH\":\"xyz\"}}\n\
             {{\"BD_SEQ\":[1,2],\"BD_HASH\":\"{h}\"}}\n\
             not json\n"
        );
        let (recs, bad) = parse_journal_json(out.as_bytes());
        assert_eq!(bad, 4);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].hash, Some([0xab; 32]));
        assert_eq!(recs[0].pid.as_deref(), Some("9"));
        assert_eq!(recs[1].hash, None);
    }
}
