//! `bdctl audit verify`: check a whole log, streaming line by line.
//!
//! Every complete line must be a record in the fixed layout whose `h`
//! matches its bytes, with `seq` = previous + 1 and `prev` = previous
//! `h` (the first record: seq 1, prev all zeros). Lines that are not
//! records are allowed only as a torn span: the bytes right before a
//! `recovery` record that names exactly them (offset, length, BLAKE3),
//! in the shapes the writer produces. An unterminated last line is a
//! torn tail pending recovery ([`VerifyError::TornTail`]).
//!
//! Epochs and MACs (see [`super::mac`]): always, structurally, a record
//! without `epoch`/`mac` may not follow a MAC'd one, epochs never go
//! backwards or skip, each epoch ends with a `seal` that counts its
//! records before the next epoch starts, and nothing follows a seal in
//! its epoch. With a verification key ([`VerifyOptions::key`], `K_0`),
//! every `mac` is checked with `K_e` derived forward from it.
#![forbid(unsafe_code)]

use super::MAX_LINE;
use super::MAX_TORN_LINES;
use super::chain::{FIRST_SEQ, GENESIS, hex};
use super::mac::EpochKey;
use super::record::{
    EventKind, LineView, Rotation, prefix_compatible, recovery_prefix, span_absorbable,
};
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
    /// Records whose `mac` was checked with the verification key.
    pub macs_checked: u64,
    /// Records before the first MAC'd record (written before the audit
    /// key existed).
    pub unauthenticated: u64,
    /// Epoch of the last MAC'd record, if any.
    pub last_epoch: Option<u64>,
    /// Records in that epoch so far (its seal not counted).
    pub epoch_records: u64,
    /// That epoch is closed by a seal.
    pub sealed: bool,
}

/// What to check beyond the hash chain.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The verification key (`K_0`, from `bdctl key gen --audit
    /// --export-verify-key`): check every MAC. The first MAC'd record must
    /// then be in this key's epoch.
    pub key: Option<EpochKey>,
    /// Only check the MACs of epochs at or after the key's epoch (earlier
    /// ones structurally only). For `bdctl key rotate`, which holds the
    /// current key, not `K_0`.
    pub from_key_epoch_only: bool,
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
        good: Box<VerifySummary>,
    },
    /// A verification key was given but no record carries a MAC.
    NotAuthenticated { records: u64 },
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
            VerifyError::NotAuthenticated { records } => write!(
                f,
                "none of the {records} records carries a MAC: the log is not authenticated \
                 (no audit key was installed, or the MACs were stripped)"
            ),
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

mod read;
pub(crate) use read::{LineRead, OpenError, open_log, read_line_capped};

/// Where the chain stands after a file (carried into the next one by
/// `audit::rotate::verify_all`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct State {
    seq: u64,
    h: [u8; 32],
    records: u64,
    recoveries: u64,
    ep: EpochState,
}

/// Where the chain stands with respect to epochs.
#[derive(Debug, Clone, Copy, Default)]
struct EpochState {
    /// Epoch of the last MAC'd record.
    epoch: Option<u64>,
    /// That epoch has its seal.
    sealed: bool,
    /// Records in it (seal excluded).
    count: u64,
    /// Records before the first MAC'd one.
    unauthenticated: u64,
    macs_checked: u64,
}

impl State {
    fn summary(&self) -> VerifySummary {
        VerifySummary {
            records: self.records,
            recoveries: self.recoveries,
            last_seq: self.seq,
            head: self.h,
            macs_checked: self.ep.macs_checked,
            unauthenticated: self.ep.unauthenticated,
            last_epoch: self.ep.epoch,
            epoch_records: self.ep.count,
            sealed: self.ep.sealed,
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
/// followed): the hash chain and the epoch structure, no MACs.
pub fn verify_file(path: &Path) -> Result<VerifySummary, VerifyError> {
    verify_file_with(path, &VerifyOptions::default())
}

/// [`verify_file`] with options (the MAC verification key).
pub fn verify_file_with(path: &Path, opts: &VerifyOptions) -> Result<VerifySummary, VerifyError> {
    let (file, len) = open_log(path).map_err(|e| match e {
        OpenError::Io(e) => VerifyError::Open(e),
        OpenError::Symlink => VerifyError::Symlink,
        OpenError::NotRegular => VerifyError::NotRegular,
    })?;
    verify_open(&file, len, opts)
}

/// Verify the first `len` bytes of an open log (the caller may hold the
/// writers' lock).
pub(crate) fn verify_open(
    file: &File,
    len: u64,
    opts: &VerifyOptions,
) -> Result<VerifySummary, VerifyError> {
    let reader = BufReader::with_capacity(256 * 1024, Read::take(file, len));
    let mut v = Verifier::new(file);
    v.opts = opts.clone();
    v.run(reader)
}

/// One file of a rotated log, verified (`audit::rotate::verify_all`).
pub(crate) struct Segment {
    pub(crate) summary: VerifySummary,
    /// The chain state at its end (the next file continues from it).
    pub(crate) state: State,
    /// Its last valid record, when that is a rotate record.
    pub(crate) last_rotation: Option<Rotation>,
    /// Monitored commands still without an exit record (their exit
    /// record may be in the next file).
    pub(crate) monitored: Monitored,
}

/// Accept records of monitored commands without an exit record yet:
/// UUID -> pid.
pub(crate) type Monitored = std::collections::HashMap<Vec<u8>, u64>;

/// Verify one file of a rotated log, continuing the chain from `start`
/// (`None`: the file starts the chain, with seq 1 or with a rotation's
/// opening record whose predecessor is gone).
pub(crate) fn verify_segment(
    file: &File,
    len: u64,
    opts: &VerifyOptions,
    start: Option<(State, Monitored)>,
) -> Result<Segment, VerifyError> {
    let reader = BufReader::with_capacity(256 * 1024, Read::take(file, len));
    let mut v = Verifier::new(file);
    v.opts = opts.clone();
    if let Some((mut st, monitored)) = start {
        v.open_monitored = monitored;
        // A seal counts the records of its epoch in its own file only
        // (docs/audit-format.md section 1.7).
        st.ep.count = 0;
        v.state = st;
        v.continued = true;
    }
    let summary = v.run(reader)?;
    Ok(Segment {
        summary,
        state: v.state,
        last_rotation: v.last_rotation,
        monitored: v.open_monitored,
    })
}

struct Verifier<'f> {
    file: &'f File,
    state: State,
    history: VecDeque<Entry>,
    pending: Option<Pending>,
    opts: VerifyOptions,
    /// The last derived epoch key (a cache; derived from `opts.key`).
    cur_key: Option<EpochKey>,
    /// The chain continues one that began before this file (a rotated
    /// log): the first MAC'd record need not be in the key's epoch.
    continued: bool,
    /// The last valid record's rotation, if it is a rotate record.
    last_rotation: Option<Rotation>,
    /// Accept records of monitored commands (`"monitor":true`) with no
    /// exit record yet: UUID -> pid (the monitor is the same process).
    open_monitored: Monitored,
    /// The file begins with a rotation's opening record and nothing of
    /// the files before it was seen: an exit record may name an accept
    /// record there.
    unseen_before: bool,
}

/// How many later epochs a failed MAC is tried against, to name a record
/// MAC'd with a later epoch's key.
const LATER_EPOCHS_TRIED: u64 = 16;

impl<'f> Verifier<'f> {
    fn new(file: &'f File) -> Self {
        Verifier {
            file,
            state: State {
                seq: FIRST_SEQ - 1,
                h: GENESIS,
                records: 0,
                recoveries: 0,
                ep: EpochState::default(),
            },
            history: VecDeque::new(),
            pending: None,
            opts: VerifyOptions::default(),
            cur_key: None,
            continued: false,
            last_rotation: None,
            open_monitored: Monitored::new(),
            unseen_before: false,
        }
    }

    /// `K_epoch`, derived forward from the verification key.
    fn key_for(&mut self, epoch: u64) -> Option<EpochKey> {
        if let Some(k) = &self.cur_key
            && k.epoch() <= epoch
        {
            let k = k.evolve_to(epoch)?;
            self.cur_key = Some(k.clone());
            return Some(k);
        }
        let k = self.opts.key.as_ref()?.evolve_to(epoch)?;
        self.cur_key = Some(k.clone());
        Some(k)
    }

    /// Check the epoch fields (always) and the MAC (with a key) of a
    /// record whose chain fields are valid; return the new epoch state.
    fn epoch_check(&mut self, v: &LineView<'_>, base: EpochState) -> Result<EpochState, String> {
        let mut es = base;
        let (e, mac) = match (v.epoch, v.mac_bytes()) {
            (None, None) => {
                if v.event == EventKind::Seal {
                    return Err("seal record without epoch and mac".into());
                }
                if es.epoch.is_some() {
                    return Err(
                        "record without epoch and mac after MAC'd records (was the audit key removed?)"
                            .into(),
                    );
                }
                es.unauthenticated += 1;
                return Ok(es);
            }
            (Some(_), None) => return Err("record has an epoch but no mac".into()),
            (None, Some(_)) => return Err("record has a mac but no epoch".into()),
            (Some(e), Some(m)) => (e, m),
        };
        match es.epoch {
            None => {
                if let Some(k) = &self.opts.key
                    && !self.opts.from_key_epoch_only
                    && !self.continued
                    && e != k.epoch()
                {
                    return Err(format!(
                        "the first MAC'd record is in epoch {e}, the verification key is for epoch {} \
                         (epochs missing from the log, or the wrong key)",
                        k.epoch()
                    ));
                }
                es.epoch = Some(e);
                es.sealed = false;
                es.count = 0;
            }
            Some(c) if e == c => {
                if es.sealed {
                    return Err(format!("record in epoch {e} after that epoch's seal"));
                }
            }
            Some(c) if Some(e) == c.checked_add(1) => {
                if !es.sealed {
                    return Err(format!(
                        "epoch {e} begins without a seal of epoch {c} (missing seal)"
                    ));
                }
                es.epoch = Some(e);
                es.sealed = false;
                es.count = 0;
            }
            Some(c) if e > c => {
                return Err(format!("epoch gap: epoch {e} follows epoch {c}"));
            }
            Some(c) => {
                return Err(format!("epoch goes backwards: epoch {e} follows epoch {c}"));
            }
        }
        if let Some((se, sn)) = v.seal {
            if se != e {
                return Err(format!("seal names epoch {se} but carries epoch {e}"));
            }
            if sn != es.count {
                return Err(format!(
                    "seal of epoch {e} counts {sn} records, the log has {}",
                    es.count
                ));
            }
            es.sealed = true;
        } else {
            es.count += 1;
        }
        if let Some(k0) = self.opts.key.as_ref().map(EpochKey::epoch) {
            if e < k0 {
                if self.opts.from_key_epoch_only {
                    return Ok(es);
                }
                return Err(format!(
                    "record in epoch {e}, before the verification key's epoch {k0}"
                ));
            }
            let Some(k) = self.key_for(e) else {
                return Err(format!("epoch {e} is too far after the key's epoch {k0}"));
            };
            if !k.mac_ok(&v.h, &mac) {
                for j in 1..=LATER_EPOCHS_TRIED {
                    let Some(later) = e.checked_add(j).and_then(|l| k.evolve_to(l)) else {
                        break;
                    };
                    if later.mac_ok(&v.h, &mac) {
                        return Err(format!(
                            "record of epoch {e} is MAC'd with the key of the later epoch {} \
                             (forged with a newer key)",
                            later.epoch()
                        ));
                    }
                }
                return Err(format!(
                    "mac does not match with the key of epoch {e} (record changed and re-hashed \
                     without the key, or the wrong verification key)"
                ));
            }
            es.macs_checked += 1;
        }
        Ok(es)
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

    fn run<R: BufRead>(&mut self, mut r: R) -> Result<VerifySummary, VerifyError> {
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
            None => self.finish(),
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

    /// The log ended cleanly: with a key, it must be authenticated.
    fn finish(&self) -> Result<VerifySummary, VerifyError> {
        let s = self.state.summary();
        if self.opts.key.is_some() && s.records > 0 && s.last_epoch.is_none() {
            return Err(VerifyError::NotAuthenticated { records: s.records });
        }
        Ok(s)
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
                good: Box::new(self.state.summary()),
            },
            Some(p) => {
                let head = &bytes[..bytes.len().min(PREFIX_KEEP)];
                if self.absorbable_from(&p, Some(head)) {
                    VerifyError::TornTail {
                        line: p.line,
                        offset: p.offset,
                        length: offset + len - p.offset,
                        good: Box::new(self.state.summary()),
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
            match v.rotation {
                // A file that begins with a rotation's opening record
                // continues a chain whose earlier files are elsewhere
                // (or were deleted by retention): start from its link.
                Some(r) if !r.close && before.records == 0 && before.seq == 0 => {
                    self.continued = true;
                    self.unseen_before = true;
                    State {
                        seq: v.seq.saturating_sub(1),
                        h: v.prev,
                        ..before
                    }
                }
                _ => before,
            }
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
        let ep = self
            .epoch_check(&v, base.ep)
            .map_err(|what| bad(line, Some(v.seq), offset, what))?;
        self.exit_check(&v)
            .map_err(|what| bad(line, Some(v.seq), offset, what))?;
        let is_rec = u64::from(v.event == EventKind::Recovery);
        self.last_rotation = v.rotation;
        self.state = State {
            seq: v.seq,
            h: v.h,
            records: base.records + 1,
            recoveries: base.recoveries + is_rec,
            ep,
        };
        self.remember(offset, len, line, bytes, true, before);
        Ok(())
    }

    /// An exit record must name an earlier accept record of a monitored
    /// command written by the same process, and only one exit may name
    /// it: a forged or replayed exit does not verify.
    fn exit_check(&mut self, v: &LineView<'_>) -> Result<(), String> {
        use super::record::Value;
        let pid = match v.get("pid") {
            Some(Value::Int(p)) => *p,
            _ => 0,
        };
        match v.event {
            EventKind::Accept if v.get("monitor") == Some(&Value::Bool(true)) => {
                if let Some(u) = v.text("uuid") {
                    self.open_monitored.insert(u, pid);
                }
                Ok(())
            }
            EventKind::Exit => {
                let accept = v.text("accept").unwrap_or_default();
                match self.open_monitored.remove(&accept) {
                    Some(p) if p == pid => Ok(()),
                    Some(_) => {
                        Err("exit record from another process than its accept record".into())
                    }
                    None if self.unseen_before => Ok(()),
                    None => Err(format!(
                        "exit record names no earlier accept record of a monitored command \
                         still without an exit ({})",
                        crate::base::escape::display(&accept)
                    )),
                }
            }
            _ => Ok(()),
        }
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
mod tests;
