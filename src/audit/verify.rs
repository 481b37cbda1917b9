//! `bdctl audit verify`: check a whole log, streaming line by line.
//!
//! Every complete line must be a record in the fixed layout whose `h`
//! matches its bytes, with `seq` = previous + 1 and `prev` = previous
//! `h` (the first record: seq 1, prev all zeros). Lines that are not
//! records are allowed only as a torn span: the bytes right before a
//! `recovery` record that names exactly them (offset, length, BLAKE3),
//! in the shapes the writer produces. An unterminated last line is a
//! torn tail pending recovery ([`VerifyError::TornTail`]).
#![forbid(unsafe_code)]

use super::MAX_LINE;
use super::MAX_TORN_LINES;
use super::chain::{FIRST_SEQ, GENESIS, hex};
use super::record::{EventKind, LineView, prefix_compatible, recovery_prefix, span_absorbable};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::collections::VecDeque;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

/// A log that verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifySummary {
    /// Records in the chain (accept, reject and recovery).
    pub records: u64,
    /// How many of them are recovery records.
    pub recoveries: u64,
    /// Sequence number of the last record (0 for an empty log).
    pub last_seq: u64,
    /// `h` of the last record (all zeros for an empty log).
    pub head: [u8; 32],
}

/// Why a log did not verify. `Display` does not repeat the path.
#[derive(Debug)]
pub enum VerifyError {
    /// The file could not be opened.
    Open(io::Error),
    /// The path is a symbolic link (not followed).
    Symlink,
    /// Not a regular file.
    NotRegular,
    /// Reading failed at this line.
    Read { line: u64, err: io::Error },
    /// The first bad line: 1-based line number, its seq when it parses,
    /// its byte offset, and what is wrong.
    Bad {
        line: u64,
        seq: Option<u64>,
        offset: u64,
        problem: String,
    },
    /// Everything verifies except that the log ends in a torn span (an
    /// unterminated last line) that the next append will cover with a
    /// recovery record. `good` summarises the chain before it.
    TornTail {
        line: u64,
        offset: u64,
        length: u64,
        good: VerifySummary,
    },
}

impl VerifyError {
    /// The log ends in a torn tail pending recovery (bdctl gives this
    /// its own exit code).
    pub fn is_torn_tail(&self) -> bool {
        matches!(self, VerifyError::TornTail { .. })
    }

    /// The 1-based line number concerned, if any.
    pub fn line(&self) -> Option<u64> {
        match self {
            VerifyError::Read { line, .. }
            | VerifyError::Bad { line, .. }
            | VerifyError::TornTail { line, .. } => Some(*line),
            _ => None,
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Open(e) => write!(f, "cannot open: {e}"),
            VerifyError::Symlink => {
                write!(f, "is a symbolic link (not followed; give the real path)")
            }
            VerifyError::NotRegular => write!(f, "not a regular file"),
            VerifyError::Read { line, err } => write!(f, "read error at line {line}: {err}"),
            VerifyError::Bad {
                line,
                seq: Some(s),
                offset,
                problem,
            } => {
                write!(f, "line {line} (seq {s}, offset {offset}): {problem}")
            }
            VerifyError::Bad {
                line,
                seq: None,
                offset,
                problem,
            } => {
                write!(f, "line {line} (offset {offset}): {problem}")
            }
            VerifyError::TornTail {
                line,
                offset,
                length,
                good,
            } => write!(
                f,
                "line {line}: torn tail pending recovery ({length} bytes at offset {offset}; the next append \
                 records it); the {} records before it verify, last seq {}",
                good.records, good.last_seq
            ),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Opening a log for reading.
#[derive(Debug)]
pub(crate) enum OpenError {
    Io(io::Error),
    Symlink,
    NotRegular,
}

/// Open without following a symlink in the last component and without
/// hanging on a FIFO; return the file and the length to read: taken
/// under a shared flock (briefly, with a deadline) so that an append in
/// progress is not mistaken for a torn tail.
pub(crate) fn open_log(path: &Path) -> Result<(File, u64), OpenError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                OpenError::Symlink
            } else {
                OpenError::Io(e)
            }
        })?;
    let md = file.metadata().map_err(OpenError::Io)?;
    if !md.is_file() {
        return Err(OpenError::NotRegular);
    }
    let len = settled_len(&file).unwrap_or(md.len());
    Ok((file, len))
}

/// The file length while holding a shared lock (writers hold the
/// exclusive one across write + fdatasync). `None` when the lock is not
/// available within a second or flock fails: the caller then uses the
/// current length.
fn settled_len(file: &File) -> Option<u64> {
    let mut f = file.try_clone().ok()?;
    let start = Instant::now();
    loop {
        match Flock::lock(f, FlockArg::LockSharedNonblock) {
            Ok(l) => return l.metadata().ok().map(|m| m.len()),
            Err((back, Errno::EWOULDBLOCK | Errno::EINTR)) => f = back,
            Err(_) => return None,
        }
        if start.elapsed() >= Duration::from_secs(1) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

pub(crate) enum LineRead {
    Eof,
    /// `len` bytes of line (stored in the buffer unless `too_long`).
    Line {
        terminated: bool,
        len: u64,
        too_long: bool,
    },
}

/// Read one line (without its `\n`) into `buf`, storing at most `cap`
/// bytes; a longer line is consumed and flagged.
pub(crate) fn read_line_capped<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<LineRead> {
    buf.clear();
    let mut len = 0u64;
    let mut too_long = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(if len == 0 && !too_long {
                LineRead::Eof
            } else {
                LineRead::Line {
                    terminated: false,
                    len,
                    too_long,
                }
            });
        }
        let (take, found) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (avail.len(), false),
        };
        if !too_long && buf.len() + take <= cap {
            buf.extend_from_slice(&avail[..take]);
        } else {
            too_long = true;
            buf.clear();
        }
        len += take as u64;
        r.consume(take + usize::from(found));
        if found {
            return Ok(LineRead::Line {
                terminated: true,
                len,
                too_long,
            });
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct State {
    seq: u64,
    h: [u8; 32],
    records: u64,
    recoveries: u64,
}

impl State {
    fn summary(&self) -> VerifySummary {
        VerifySummary {
            records: self.records,
            recoveries: self.recoveries,
            last_seq: self.seq,
            head: self.h,
        }
    }
}

/// What the verifier remembers about a recent line.
struct Entry {
    offset: u64,
    len: u64,
    line: u64,
    /// First bytes (enough for the prefix checks).
    prefix: Vec<u8>,
    /// Parsed as a record with a matching `h`.
    valid: bool,
    /// Chain state before this line.
    before: State,
}

const PREFIX_KEEP: usize = 64;

/// The first unexplained non-record line.
struct Pending {
    line: u64,
    offset: u64,
    problem: String,
}

fn bad(line: u64, seq: Option<u64>, offset: u64, problem: impl Into<String>) -> VerifyError {
    VerifyError::Bad {
        line,
        seq,
        offset,
        problem: problem.into(),
    }
}

fn pending_err(p: Pending, why: &str) -> VerifyError {
    bad(p.line, None, p.offset, format!("{} {why}", p.problem))
}

/// BLAKE3 of `len` bytes at `offset`.
fn hash_range(file: &File, offset: u64, len: u64) -> io::Result<[u8; 32]> {
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], offset + done)?;
        h.update(&buf[..n]);
        done += n as u64;
    }
    Ok(*h.finalize().as_bytes())
}

/// Verify the log at `path` (any path; a symlink is reported, not
/// followed).
pub fn verify_file(path: &Path) -> Result<VerifySummary, VerifyError> {
    let (file, len) = open_log(path).map_err(|e| match e {
        OpenError::Io(e) => VerifyError::Open(e),
        OpenError::Symlink => VerifyError::Symlink,
        OpenError::NotRegular => VerifyError::NotRegular,
    })?;
    let reader = BufReader::with_capacity(256 * 1024, Read::take(&file, len));
    Verifier::new(&file).run(reader)
}

struct Verifier<'f> {
    file: &'f File,
    state: State,
    history: VecDeque<Entry>,
    pending: Option<Pending>,
}

impl<'f> Verifier<'f> {
    fn new(file: &'f File) -> Self {
        Verifier {
            file,
            state: State {
                seq: FIRST_SEQ - 1,
                h: GENESIS,
                records: 0,
                recoveries: 0,
            },
            history: VecDeque::new(),
            pending: None,
        }
    }

    fn remember(
        &mut self,
        offset: u64,
        len: u64,
        line: u64,
        bytes: &[u8],
        valid: bool,
        before: State,
    ) {
        if self.history.len() > MAX_TORN_LINES + 1 {
            self.history.pop_front();
        }
        let prefix = bytes[..bytes.len().min(PREFIX_KEEP)].to_vec();
        self.history.push_back(Entry {
            offset,
            len,
            line,
            prefix,
            valid,
            before,
        });
    }

    fn run<R: BufRead>(mut self, mut r: R) -> Result<VerifySummary, VerifyError> {
        let mut buf = Vec::new();
        let mut offset = 0u64;
        let mut line = 0u64;
        loop {
            line += 1;
            let read = read_line_capped(&mut r, &mut buf, MAX_LINE)
                .map_err(|err| VerifyError::Read { line, err })?;
            let (terminated, len) = match read {
                LineRead::Eof => break,
                LineRead::Line { too_long: true, .. } => {
                    return Err(bad(
                        line,
                        None,
                        offset,
                        format!("line longer than {} MiB", MAX_LINE >> 20),
                    ));
                }
                LineRead::Line {
                    terminated, len, ..
                } => (terminated, len),
            };
            if !terminated {
                return Err(self.torn_tail(line, offset, len, &buf));
            }
            self.line(line, offset, &buf)?;
            offset += len + 1;
        }
        match self.pending.take() {
            None => Ok(self.state.summary()),
            Some(p) => {
                let absorbable = self.absorbable_from(&p, None);
                let why = if absorbable {
                    "and no recovery record covers it (the next append will record it as a torn fragment)"
                } else {
                    "and no recovery record covers it"
                };
                Err(pending_err(p, why))
            }
        }
    }

    /// Would the writer cover the pending lines (plus `tail`) with a
    /// recovery record?
    fn absorbable_from(&self, p: &Pending, tail: Option<&[u8]>) -> bool {
        let span: Vec<&Entry> = self
            .history
            .iter()
            .filter(|e| e.offset >= p.offset)
            .collect();
        let Some((first, rest)) = span.split_first() else {
            return false;
        };
        if first.offset != p.offset {
            return false;
        }
        let mut pieces: Vec<&[u8]> = rest.iter().map(|e| &e.prefix[..]).collect();
        if let Some(t) = tail {
            pieces.push(t);
        }
        // The stored prefixes are longer than the prefixes compared.
        span_absorbable(&first.prefix, &pieces, self.state.seq.saturating_add(1))
    }

    fn torn_tail(&mut self, line: u64, offset: u64, len: u64, bytes: &[u8]) -> VerifyError {
        match self.pending.take() {
            None => VerifyError::TornTail {
                line,
                offset,
                length: len,
                good: self.state.summary(),
            },
            Some(p) => {
                let head = &bytes[..bytes.len().min(PREFIX_KEEP)];
                if self.absorbable_from(&p, Some(head)) {
                    VerifyError::TornTail {
                        line: p.line,
                        offset: p.offset,
                        length: offset + len - p.offset,
                        good: self.state.summary(),
                    }
                } else {
                    pending_err(p, "and no recovery record covers it")
                }
            }
        }
    }

    /// Check one complete line.
    fn line(&mut self, line: u64, offset: u64, bytes: &[u8]) -> Result<(), VerifyError> {
        let len = bytes.len() as u64;
        let before = self.state;
        let v = match LineView::parse(bytes) {
            Ok(v) => v,
            Err(pe) => {
                if self.pending.is_none() {
                    self.pending = Some(Pending {
                        line,
                        offset,
                        problem: format!("not a valid record: {pe}"),
                    });
                }
                let garbage_run = self.history.iter().rev().take_while(|e| !e.valid).count();
                if garbage_run >= MAX_TORN_LINES
                    && let Some(p) = self.pending.take()
                {
                    return Err(pending_err(p, "and no recovery record covers it"));
                }
                self.remember(offset, len, line, bytes, false, before);
                return Ok(());
            }
        };
        if !v.hash_ok() {
            if let Some(p) = self.pending.take() {
                return Err(pending_err(p, "and no recovery record covers it"));
            }
            return Err(bad(
                line,
                Some(v.seq),
                offset,
                "h does not match the record (contents changed)",
            ));
        }
        let base = if v.event == EventKind::Recovery {
            self.recovery_base(line, offset, &v)?
        } else {
            if let Some(p) = self.pending.take() {
                return Err(pending_err(p, "and no recovery record covers it"));
            }
            before
        };
        if Some(v.seq) != base.seq.checked_add(1) {
            return Err(bad(
                line,
                Some(v.seq),
                offset,
                format!("seq {} does not follow seq {}", v.seq, base.seq),
            ));
        }
        if v.prev != base.h {
            return Err(bad(
                line,
                Some(v.seq),
                offset,
                format!(
                    "prev {} is not the previous record's h {}",
                    hex(&v.prev),
                    hex(&base.h)
                ),
            ));
        }
        let is_rec = u64::from(v.event == EventKind::Recovery);
        self.state = State {
            seq: v.seq,
            h: v.h,
            records: base.records + 1,
            recoveries: base.recoveries + is_rec,
        };
        self.remember(offset, len, line, bytes, true, before);
        Ok(())
    }

    /// Check that recovery record `v` (at `offset`) names exactly the torn
    /// span before it; return the chain state it continues from.
    fn recovery_base(
        &mut self,
        line: u64,
        offset: u64,
        v: &LineView<'_>,
    ) -> Result<State, VerifyError> {
        let err = |what: String| Err(bad(line, Some(v.seq), offset, what));
        let Some(t) = v.torn else {
            return err("recovery record without torn fields".into());
        };
        if t.length == 0
            || t.offset
                .checked_add(t.length)
                .and_then(|e| e.checked_add(1))
                != Some(offset)
        {
            return err(format!(
                "recovery record names {} bytes at offset {}, which do not end right before it",
                t.length, t.offset
            ));
        }
        let Some(idx) = self.history.iter().position(|e| e.offset == t.offset) else {
            return err(format!(
                "recovery record names offset {}, which is not the start of a line",
                t.offset
            ));
        };
        if let Some(p) = self.pending.take_if(|p| p.offset < t.offset) {
            return Err(pending_err(p, "and no recovery record covers it"));
        }
        let span: Vec<&Entry> = self.history.iter().skip(idx).collect();
        if t.offset > 0 && (idx == 0 || !self.history[idx - 1].valid) {
            return err(format!(
                "the torn span at offset {} does not start after a valid record",
                t.offset
            ));
        }
        if let Some(e) = span[..span.len() - 1].iter().find(|e| e.valid) {
            return err(format!(
                "recovery record would cover the valid record on line {}",
                e.line
            ));
        }
        if span.len() > 1 {
            let rp = recovery_prefix(v.seq);
            if let Some(e) = span[1..]
                .iter()
                .find(|e| e.len == 0 || !prefix_compatible(&e.prefix, &rp))
            {
                return err(format!(
                    "the torn span holds line {}, which is not a piece of an interrupted recovery write",
                    e.line
                ));
            }
        }
        let first_line = span[0].line;
        let got = hash_range(self.file, t.offset, t.length)
            .map_err(|e| VerifyError::Read { line, err: e })?;
        if got != t.hash {
            return err(format!(
                "torn_hash does not match the {} bytes at offset {} (line {first_line})",
                t.length, t.offset
            ));
        }
        let base = span[0].before;
        self.pending = None;
        Ok(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{Torn, encode_record, encode_recovery};
    use crate::audit::testutil::sample;

    fn write(lines: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("a.jsonl");
        std::fs::write(&p, lines).expect("write");
        (d, p)
    }

    fn chain(n: u64) -> (Vec<u8>, [u8; 32]) {
        let argv = vec![b"id".to_vec()];
        let mut out = Vec::new();
        let mut prev = GENESIS;
        for s in 1..=n {
            prev = encode_record(&mut out, &sample(&argv), s, &prev);
        }
        (out, prev)
    }

    #[test]
    fn empty_and_simple() {
        let (_d, p) = write(b"");
        assert_eq!(
            verify_file(&p).expect("ok"),
            VerifySummary {
                records: 0,
                recoveries: 0,
                last_seq: 0,
                head: GENESIS
            }
        );
        let (c, head) = chain(4);
        let (_d, p) = write(&c);
        let s = verify_file(&p).expect("ok");
        assert_eq!((s.records, s.last_seq, s.head), (4, 4, head));
    }

    #[test]
    fn wrong_start_and_reorder() {
        let argv = vec![b"id".to_vec()];
        let mut out = Vec::new();
        encode_record(&mut out, &sample(&argv), 2, &GENESIS);
        let (_d, p) = write(&out);
        assert!(matches!(
            verify_file(&p),
            Err(VerifyError::Bad {
                line: 1,
                seq: Some(2),
                ..
            })
        ));
        // Swap lines 2 and 3.
        let (c, _) = chain(3);
        let lines: Vec<&[u8]> = c.split_inclusive(|&b| b == b'\n').collect();
        let swapped = [lines[0], lines[2], lines[1]].concat();
        let (_d, p) = write(&swapped);
        assert!(matches!(
            verify_file(&p),
            Err(VerifyError::Bad {
                line: 2,
                seq: Some(3),
                ..
            })
        ));
        // Drop line 2.
        let dropped = [lines[0], lines[2]].concat();
        let (_d, p) = write(&dropped);
        assert!(matches!(
            verify_file(&p),
            Err(VerifyError::Bad { line: 2, .. })
        ));
    }

    #[test]
    fn garbage_in_the_middle() {
        let (c, _) = chain(3);
        let lines: Vec<&[u8]> = c.split_inclusive(|&b| b == b'\n').collect();
        let with = [lines[0], b"{\"seq\":2,\"ev\n", lines[1], lines[2]].concat();
        let (_d, p) = write(&with);
        let e = verify_file(&p).expect_err("bad");
        assert!(
            matches!(
                e,
                VerifyError::Bad {
                    line: 2,
                    seq: None,
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string().contains("no recovery record covers it"),
            "{e}"
        );
    }

    #[test]
    fn forged_recovery_is_rejected() {
        let (c, head) = chain(2);
        let argv = vec![b"id".to_vec()];
        let frag = b"{\"seq\":3,\"event\":\"acc";
        let mut f = c.clone();
        f.extend_from_slice(frag);
        f.push(b'\n');
        let good = Torn {
            offset: c.len() as u64,
            length: frag.len() as u64,
            hash: *blake3::hash(frag).as_bytes(),
        };
        let t = sample(&argv).time;
        for (torn, ok) in [
            (good, true),
            (
                Torn {
                    hash: [0; 32],
                    ..good
                },
                false,
            ),
            (
                Torn {
                    length: good.length - 1,
                    ..good
                },
                false,
            ),
            (
                Torn {
                    offset: good.offset + 1,
                    length: good.length - 1,
                    ..good
                },
                false,
            ),
        ] {
            let mut out = f.clone();
            let h = encode_recovery(&mut out, 3, &head, t, b"h", 1, &torn);
            encode_record(&mut out, &sample(&argv), 4, &h);
            let (_d, p) = write(&out);
            let r = verify_file(&p);
            assert_eq!(r.is_ok(), ok, "{torn:?}: {r:?}");
            if !ok {
                assert!(matches!(r, Err(VerifyError::Bad { .. })), "{r:?}");
            }
        }
        // A recovery may not swallow valid records.
        let mut out = c.clone();
        let lines: Vec<&[u8]> = c.split_inclusive(|&b| b == b'\n').collect();
        let whole = &c[..c.len() - 1];
        let torn = Torn {
            offset: 0,
            length: whole.len() as u64,
            hash: *blake3::hash(whole).as_bytes(),
        };
        encode_recovery(&mut out, 1, &GENESIS, t, b"h", 1, &torn);
        let (_d, p) = write(&out);
        assert!(lines.len() == 2);
        assert!(matches!(
            verify_file(&p),
            Err(VerifyError::Bad { line: 3, .. })
        ));
    }

    #[test]
    fn unterminated_tail() {
        let (mut c, _) = chain(2);
        c.extend_from_slice(b"{\"seq\":3");
        let (_d, p) = write(&c);
        match verify_file(&p) {
            Err(VerifyError::TornTail {
                line: 3,
                length: 8,
                good,
                ..
            }) => assert_eq!(good.last_seq, 2),
            other => panic!("{other:?}"),
        }
        // A complete-looking record without its newline is still torn.
        let (c, _) = chain(2);
        let (_d, p) = write(&c[..c.len() - 1]);
        assert!(verify_file(&p).expect_err("torn").is_torn_tail());
    }

    #[test]
    fn symlink_and_fifo_reported() {
        let (c, _) = chain(1);
        let (d, p) = write(&c);
        let l = d.path().join("link");
        std::os::unix::fs::symlink(&p, &l).expect("symlink");
        assert!(matches!(verify_file(&l), Err(VerifyError::Symlink)));
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .expect("mkfifo");
        assert!(matches!(verify_file(&fifo), Err(VerifyError::NotRegular)));
        assert!(matches!(
            verify_file(&d.path().join("missing")),
            Err(VerifyError::Open(_))
        ));
    }

    #[test]
    fn long_lines_stream() {
        let argv = vec![vec![b'x'; 3 << 20]];
        let mut out = Vec::new();
        let h = encode_record(&mut out, &sample(&argv), 1, &GENESIS);
        encode_record(&mut out, &sample(&argv), 2, &h);
        let (_d, p) = write(&out);
        assert_eq!(verify_file(&p).expect("ok").records, 2);
    }

    #[test]
    fn capped_reader() {
        let data = b"abc\ndefgh\nij";
        let mut r = io::BufReader::with_capacity(2, &data[..]);
        let mut buf = Vec::new();
        let mut got = Vec::new();
        loop {
            match read_line_capped(&mut r, &mut buf, 4).expect("read") {
                LineRead::Eof => break,
                LineRead::Line {
                    terminated,
                    len,
                    too_long,
                } => got.push((buf.clone(), terminated, len, too_long)),
            }
        }
        assert_eq!(
            got,
            vec![
                (b"abc".to_vec(), true, 3, false),
                (Vec::new(), true, 5, true),
                (b"ij".to_vec(), false, 2, false)
            ]
        );
    }
}
