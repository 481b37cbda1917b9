//! Durable append of one record: lock (with a deadline) -> read the tail
//! -> chain -> one write(2) -> fdatasync -> unlock.
//!
//! The file is only ever appended to (it works with `chattr +a`): never
//! truncated, never rewritten. A line left incomplete by a crash, a short
//! write or a full disk (a *torn fragment*) is covered by a `recovery`
//! record written by the next append, in the same write(2) as that
//! append's own record.
//!
//! Lock deadline: the exclusive `flock` is taken with `LOCK_NB` in a
//! polling loop (exponential back-off from 100 us to 5 ms) until a
//! monotonic deadline. No signal handler or interval timer is involved,
//! so there is no `unsafe`, no process-wide state to save and restore,
//! nothing that a caller-supplied signal mask (SIGALRM blocked) could
//! defeat, and it is correct in a multi-threaded process (tests, bdctl).
//! The cost is that waiters are not served in order; a writer that keeps
//! losing the race gets a clear "lock not acquired" error at the deadline.
//!
//! Keyed MAC: [`append`] loads the host's audit key
//! (`/etc/belladonna/keys/audit.key`, see `docs/keys.md`) under the lock,
//! when the file exists, and then writes `epoch` and `mac` on every line
//! (see [`super::mac`]). A key file that exists but does not validate
//! fails the append: no unauthenticated record is written silently. The
//! key's epoch is also checked against the end of the log: older than
//! the last record's epoch (rollback), ahead of it without that epoch's
//! seal, or equal to an epoch already sealed (an interrupted
//! `bdctl key rotate`) all fail the append.
//!
//! SIGXFSZ: the caller must ignore it (bdexec does) so that exceeding
//! RLIMIT_FSIZE fails with EFBIG instead of killing the process; the
//! limit is also checked before writing.
#![forbid(unsafe_code)]

use super::mac::EpochKey;
use super::record::{EventKind, LineView, ParseError};
use super::record::{
    ExitRecord, Record, Rotation, Torn, encode_exit_keyed, encode_record_keyed,
    encode_recovery_keyed, encode_rotate, encode_seal, span_absorbable,
};
use super::{AuditError, MAX_LINE, MAX_TORN_LINES, chain::GENESIS};

use nix::fcntl::{FcntlArg, Flock, OFlag, fcntl};
use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// Where and how to append.
#[derive(Debug, Clone, Copy)]
pub struct AppendOptions<'a> {
    /// The log directory (checked with secure_fs: root-owned, not
    /// group/world-writable, no symlinks on the way).
    pub dir: &'a Path,
    /// The log's file name inside `dir`.
    pub name: &'a OsStr,
    /// How long to wait for the lock before failing.
    pub lock_timeout: Duration,
    /// Create the directory (0700) and file (0600) when missing.
    pub create: bool,
    /// Where the writer notes how long its write + fdatasync took, for
    /// the next record to carry (`sync_prev_us`): a file in a trusted
    /// tmpfs directory (`/run/belladonna/audit-sync`), or none.
    pub sync_note: Option<&'a Path>,
}

/// The system log's sync note (see [`AppendOptions::sync_note`]).
pub const SYNC_NOTE: &str = "/run/belladonna/audit-sync";

impl AppendOptions<'static> {
    /// The system log: `/var/log/belladonna/audit.jsonl`, 3 s, create.
    pub fn system() -> Self {
        AppendOptions {
            dir: Path::new(crate::paths::LOG_DIR),
            name: OsStr::new(crate::paths::AUDIT_NAME),
            lock_timeout: Duration::from_secs(3),
            create: true,
            sync_note: Some(Path::new(SYNC_NOTE)),
        }
    }
}

/// A record made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Its sequence number.
    pub seq: u64,
    /// Its chain hash (the new head).
    pub h: [u8; 32],
    /// The torn fragment a `recovery` record (seq - 1) covered on the way.
    pub recovered: Option<Torn>,
    /// The `timing.append` written into the record (microseconds), when
    /// it has `timing`.
    pub append_us: Option<u64>,
    /// The MAC epoch written into the record (`epoch`), when keyed.
    pub epoch: Option<u64>,
    /// The `sync_prev_us` written into the record, when it has one.
    pub sync_prev_us: Option<u64>,
}

/// Append `rec` to the log named by `opts`: open it safely, then
/// [`append_to`].
///
/// A record with `timing` gets its `append` duration here: from the call
/// to the encoding of its line (opening the log, the lock, the key, the
/// tail, a recovery), not its own write and fdatasync.
pub fn append(rec: &Record<'_>, opts: &AppendOptions<'_>) -> Result<Appended, AuditError> {
    append_item(Item::Record(rec), opts)
}

/// Append the `exit` record `rec` (monitor mode) like [`append`].
pub fn append_exit(rec: &ExitRecord<'_>, opts: &AppendOptions<'_>) -> Result<Appended, AuditError> {
    append_item(Item::Exit(rec), opts)
}

fn append_item(item: Item<'_>, opts: &AppendOptions<'_>) -> Result<Appended, AuditError> {
    let started = Instant::now();
    let shown = opts.dir.join(opts.name);
    if !crate::secure_fs::plain_name(opts.name) {
        return Err(AuditError::bad_name(&shown));
    }
    let dir = if opts.create {
        crate::secure_fs::ensure_trusted_dir(opts.dir, 0o700)
    } else {
        crate::secure_fs::open_trusted_dir(opts.dir)
    }
    .map_err(|e| AuditError::open(&shown, &e))?;
    let mut flags = OFlag::O_RDWR | OFlag::O_APPEND;
    if opts.create {
        flags |= OFlag::O_CREAT;
    }
    let key = || super::key::load_host_audit_key().map_err(|e| AuditError::key(&e.to_string()));
    // A file that ends with a rotation's closing record was renamed away
    // while this writer waited for its lock (audit::rotate): reopen the
    // path, which names the next file. The same file again means the
    // rotation was interrupted before its rename.
    let mut held: Option<(u64, u64)> = None;
    loop {
        let (file, _) =
            crate::secure_fs::open_trusted_file(dir.as_fd(), opts.name, &shown, flags, 0o600)
                .map_err(|e| AuditError::open(&shown, &e))?;
        // (dev, ino): only looked at after a rotation was seen, so the
        // usual append makes no extra system call.
        let id = |f: &File| {
            use std::os::unix::fs::MetadataExt;
            f.metadata()
                .map(|m| (m.dev(), m.ino()))
                .map_err(|e| AuditError::read(&shown, &e))
        };
        if held.is_some() && held == Some(id(&file)?) {
            return Err(AuditError::corrupt(
                &shown,
                "closed by an interrupted rotation: run `bdctl audit rotate` to finish it",
            ));
        }
        match append_inner(
            &file,
            &shown,
            item,
            opts.lock_timeout,
            &key,
            started,
            opts.sync_note,
        ) {
            Err(e) if e.is_rotated() => held = Some(id(&file)?),
            r => return r,
        }
    }
}

/// Append `rec` to an already opened log (`O_RDWR | O_APPEND`); `shown`
/// names it in errors. No path checks here: [`append`] does them. No MAC
/// (see [`append_to_keyed`]).
pub fn append_to(
    file: &File,
    shown: &Path,
    rec: &Record<'_>,
    lock_timeout: Duration,
) -> Result<Appended, AuditError> {
    append_to_keyed(file, shown, rec, lock_timeout, None)
}

/// [`append_to`] with the MAC key `key` (when given).
pub fn append_to_keyed(
    file: &File,
    shown: &Path,
    rec: &Record<'_>,
    lock_timeout: Duration,
    key: Option<&EpochKey>,
) -> Result<Appended, AuditError> {
    let started = Instant::now();
    append_inner(
        file,
        shown,
        Item::Record(rec),
        lock_timeout,
        &|| Ok(key.cloned()),
        started,
        None,
    )
}

/// `bdctl key rotate --audit`, the log side: under the writers' lock,
/// check the log (chain, epochs, and the MACs of `key`'s epoch), append
/// the `seal` of `key`'s epoch (unless the log already ends with it: an
/// interrupted rotation), then call `replace_key` (which must durably
/// install `K_{e+1}` and bump the epoch marker) before unlocking, so no
/// writer can chain a record with `K_e` after the seal. Returns the
/// seal's seq (`None` when it was already there) and the records sealed.
pub fn append_sealed_rotation(
    file: &File,
    shown: &Path,
    key: &EpochKey,
    host: &[u8],
    lock_timeout: Duration,
    replace_key: &mut dyn FnMut() -> Result<(), String>,
) -> Result<(Option<u64>, u64), AuditError> {
    check_append_mode(file, shown)?;
    let _lock = lock_with_deadline(file, shown, lock_timeout)?;
    let size = file
        .metadata()
        .map_err(|e| AuditError::read(shown, &e))?
        .len();
    let opts = super::verify::VerifyOptions {
        key: Some(key.clone()),
        from_key_epoch_only: true,
    };
    let summary = match super::verify::verify_open(file, size, &opts) {
        Ok(s) => s,
        Err(super::verify::VerifyError::TornTail { good, .. }) => *good,
        Err(e) => {
            return Err(AuditError::corrupt(shown, &format!("does not verify: {e}")));
        }
    };
    let e = key.epoch();
    let done = match summary.last_epoch {
        Some(l) if l > e => {
            return Err(AuditError::key(&format!(
                "the log is already in epoch {l}, the key is for epoch {e} (rolled-back key?)"
            )));
        }
        Some(l) if l < e => {
            return Err(AuditError::key(&format!(
                "the log's last epoch {l} is before the key's epoch {e} (epoch gap)"
            )));
        }
        Some(_) => summary.sealed,
        None => false,
    };
    let mut sealed_seq = None;
    let mut records = summary.epoch_records;
    if !done {
        let item = Item::Seal {
            time: SystemTime::now(),
            host,
            pid: std::process::id(),
            records,
        };
        let plan = plan_item(file, shown, size, item, Some(key), None, None)?;
        write_plan(file, shown, size, &plan)?;
        sealed_seq = Some(plan.seq);
        records += u64::from(plan.recovered.is_some());
    }
    replace_key().map_err(|m| AuditError::key(&m))?;
    Ok((sealed_seq, records))
}

pub(crate) fn check_append_mode(file: &File, shown: &Path) -> Result<(), AuditError> {
    let fl = fcntl(file, FcntlArg::F_GETFL).map_err(|e| AuditError::lock(shown, e))?;
    if !OFlag::from_bits_truncate(fl).contains(OFlag::O_APPEND) {
        return Err(AuditError::not_append(shown));
    }
    Ok(())
}

/// What one append writes.
#[derive(Clone, Copy)]
pub(crate) enum Item<'r> {
    Record(&'r Record<'r>),
    Exit(&'r ExitRecord<'r>),
    /// A seal of the key's epoch, which holds `records` records so far.
    Seal {
        time: SystemTime,
        host: &'r [u8],
        pid: u32,
        records: u64,
    },
    /// A rotation's closing or opening record (`audit::rotate`).
    Rotate {
        time: SystemTime,
        host: &'r [u8],
        pid: u32,
        rotation: Rotation,
    },
}

impl Item<'_> {
    fn time(&self) -> SystemTime {
        match self {
            Item::Record(r) => r.time,
            Item::Exit(r) => r.time,
            Item::Seal { time, .. } | Item::Rotate { time, .. } => *time,
        }
    }
    fn host(&self) -> &[u8] {
        match self {
            Item::Record(r) => r.host,
            Item::Exit(r) => r.host,
            Item::Seal { host, .. } | Item::Rotate { host, .. } => host,
        }
    }
    fn pid(&self) -> u32 {
        match self {
            Item::Record(r) => r.pid,
            Item::Exit(r) => r.pid,
            Item::Seal { pid, .. } | Item::Rotate { pid, .. } => *pid,
        }
    }
}

type KeySource<'k> = dyn Fn() -> Result<Option<EpochKey>, AuditError> + 'k;

fn append_inner(
    file: &File,
    shown: &Path,
    item: Item<'_>,
    lock_timeout: Duration,
    key: &KeySource<'_>,
    started: Instant,
    sync_note: Option<&Path>,
) -> Result<Appended, AuditError> {
    check_append_mode(file, shown)?;
    let _lock = lock_with_deadline(file, shown, lock_timeout)?;
    // Under the lock: a rotation (which holds it) is never half seen.
    let key = key()?;
    let size = file
        .metadata()
        .map_err(|e| AuditError::read(shown, &e))?
        .len();
    let note = sync_note.and_then(SyncNote::open);
    let last = note.as_ref().and_then(SyncNote::read);
    let plan = plan_item(file, shown, size, item, key.as_ref(), Some(started), last)?;
    let t0 = Instant::now();
    write_plan(file, shown, size, &plan)?;
    if let Some(n) = &note {
        n.write(plan.seq, super::timing::micros(t0.elapsed()));
    }
    Ok(Appended {
        seq: plan.seq,
        h: plan.h,
        recovered: plan.recovered,
        append_us: plan.append_us,
        epoch: key.as_ref().map(EpochKey::epoch),
        sync_prev_us: plan.sync_prev_us,
    })
}

/// The sync note ([`AppendOptions::sync_note`]): 16 bytes, the seq of
/// the last record written and its write + fdatasync time in
/// microseconds (both little endian). Best effort in both directions: a
/// note that is missing, not root's regular file, or short is ignored,
/// and a failed update only leaves the next record without
/// `sync_prev_us`. Read and written under the log's lock.
struct SyncNote(File);

impl SyncNote {
    fn open(path: &Path) -> Option<SyncNote> {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .ok()?;
        let m = f.metadata().ok()?;
        (m.is_file() && m.uid() == nix::unistd::geteuid().as_raw() && m.nlink() == 1)
            .then_some(SyncNote(f))
    }

    fn read(&self) -> Option<(u64, u64)> {
        use std::os::unix::fs::FileExt;
        let mut b = [0u8; 16];
        self.0.read_exact_at(&mut b, 0).ok()?;
        let (s, us) = b.split_at(8);
        Some((
            u64::from_le_bytes(s.try_into().ok()?),
            u64::from_le_bytes(us.try_into().ok()?),
        ))
    }

    fn write(&self, seq: u64, us: u64) {
        use std::os::unix::fs::FileExt;
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&seq.to_le_bytes());
        b[8..].copy_from_slice(&us.to_le_bytes());
        let _ = self.0.write_all_at(&b, 0);
    }
}

/// Write a plan with one write(2) and fdatasync it.
pub(crate) fn write_plan(
    file: &File,
    shown: &Path,
    size: u64,
    plan: &Plan,
) -> Result<(), AuditError> {
    check_fsize(shown, size, plan.buf.len())?;
    let wrote = write_once(file, &plan.buf).map_err(|e| AuditError::write(shown, &e))?;
    if wrote != plan.buf.len() {
        return Err(AuditError::short_write(shown, wrote, plan.buf.len()));
    }
    crate::testhook::point("audit-after-write");
    // Never retried: after a failed fdatasync the page cache may claim
    // the data is clean although it never reached the disk.
    file.sync_data().map_err(|e| AuditError::sync(shown, &e))?;
    Ok(())
}

/// One write(2) (retried only on EINTR, when nothing was written).
fn write_once(mut file: &File, buf: &[u8]) -> std::io::Result<usize> {
    loop {
        match file.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Refuse (EFBIG) before writing when the soft RLIMIT_FSIZE would be
/// exceeded: a write past it fails part-way (or raises SIGXFSZ).
fn check_fsize(shown: &Path, size: u64, len: usize) -> Result<(), AuditError> {
    use nix::sys::resource::{Resource, getrlimit};
    let (soft, _) = getrlimit(Resource::RLIMIT_FSIZE).map_err(|e| AuditError::lock(shown, e))?;
    if exceeds_fsize(size, len, soft) {
        return Err(AuditError::too_large(
            shown,
            &format!("file size limit (RLIMIT_FSIZE {soft} bytes) would be exceeded"),
        ));
    }
    Ok(())
}

fn exceeds_fsize(size: u64, len: usize, soft: libc::rlim_t) -> bool {
    soft != nix::sys::resource::RLIM_INFINITY && size.saturating_add(len as u64) > soft
}

/// Exclusive flock with a deadline: the one implementation the state
/// files use too ([`crate::state::file::lock_with_deadline`]), its errors
/// mapped to this layer's. Dropping the result unlocks.
pub(crate) fn lock_with_deadline(
    file: &File,
    shown: &Path,
    timeout: Duration,
) -> Result<Flock<File>, AuditError> {
    use crate::state::file::{LockError, lock_with_deadline as lock};
    lock(file, timeout).map_err(|e| match e {
        LockError::Timeout(t) => AuditError::lock_timeout(shown, t),
        LockError::Sys(e) => AuditError::lock(shown, e),
    })
}

/// What to write, computed under the lock.
pub(crate) struct Plan {
    pub(crate) buf: Vec<u8>,
    pub(crate) seq: u64,
    pub(crate) h: [u8; 32],
    pub(crate) recovered: Option<Torn>,
    pub(crate) append_us: Option<u64>,
    pub(crate) sync_prev_us: Option<u64>,
}

/// Read the tail of a file of `size` bytes and build the bytes to append
/// (an optional `\n` + recovery record, then `rec`'s line).
#[cfg(test)]
pub(crate) fn plan(
    file: &File,
    shown: &Path,
    size: u64,
    rec: &Record<'_>,
) -> Result<Plan, AuditError> {
    plan_item(file, shown, size, Item::Record(rec), None, None, None)
}

/// Can a line in `key`'s epoch (or without a key) follow the end of the
/// log described by `tail`?
fn check_epoch(shown: &Path, tail: &Tail, key: Option<&EpochKey>) -> Result<(), AuditError> {
    let (Some(k), Some(last)) = (key, tail.last_epoch) else {
        return Ok(());
    };
    let e = k.epoch();
    let msg = if last > e {
        format!(
            "the audit key is for epoch {e} but the log is already in epoch {last} (rolled-back key?)"
        )
    } else if last == e && tail.last_seal {
        format!(
            "epoch {e} is sealed but the audit key was not replaced (interrupted rotation): \
             run `bdctl key rotate --audit` again"
        )
    } else if last < e && tail.last_seal && last.checked_add(1) != Some(e) {
        format!("epoch gap: the log's last epoch is {last}, the audit key is for epoch {e}")
    } else if last < e && !tail.last_seal {
        format!(
            "the audit key is for epoch {e} but the log's epoch {last} was not sealed \
             (key replaced without `bdctl key rotate --audit`?)"
        )
    } else {
        return Ok(());
    };
    Err(AuditError::key(&format!("{} ({msg})", shown.display())))
}

pub(crate) fn plan_item(
    file: &File,
    shown: &Path,
    size: u64,
    item: Item<'_>,
    key: Option<&EpochKey>,
    started: Option<Instant>,
    sync_prev: Option<(u64, u64)>,
) -> Result<Plan, AuditError> {
    let tail = scan_tail(file, shown, size)?;
    if tail.last_rotation.is_some_and(|r| r.close) {
        return Err(AuditError::rotated(shown));
    }
    if !matches!(item, Item::Seal { .. }) {
        check_epoch(shown, &tail, key)?;
    }
    let (mut seq, mut prev) = tail.last.unwrap_or((0, GENESIS));
    // The previous writer's write + fdatasync time, when it is about the
    // record this one follows (not a torn line, not another log).
    let sync_prev = sync_prev
        .filter(|(s, _)| tail.torn.is_none() && tail.last.is_some() && *s == seq)
        .map(|(_, us)| us);
    let overflow = || AuditError::corrupt(shown, "sequence number overflow at the end of the log");
    let mut buf = Vec::with_capacity(1024);
    if tail.needs_newline {
        buf.push(b'\n');
    }
    let mut recoveries = 0;
    if let Some(t) = &tail.torn {
        seq = seq.checked_add(1).ok_or_else(overflow)?;
        prev = encode_recovery_keyed(
            &mut buf,
            seq,
            &prev,
            item.time(),
            item.host(),
            item.pid(),
            t,
            key,
        );
        recoveries = 1;
    }
    seq = seq.checked_add(1).ok_or_else(overflow)?;
    let start = buf.len();
    let mut append_us = None;
    let mut sync_prev_us = None;
    let h = match item {
        Item::Record(rec) => match (rec.timing, started) {
            // The append time so far goes into the line it times.
            (Some(mut t), Some(t0)) => {
                t.append = super::timing::micros(t0.elapsed());
                t.sync_prev = sync_prev;
                sync_prev_us = sync_prev;
                append_us = Some(t.append);
                let timed = Record {
                    timing: Some(t),
                    ..rec.clone()
                };
                encode_record_keyed(&mut buf, &timed, seq, &prev, key)
            }
            _ => encode_record_keyed(&mut buf, rec, seq, &prev, key),
        },
        Item::Exit(rec) => encode_exit_keyed(&mut buf, rec, seq, &prev, key),
        Item::Seal {
            time,
            host,
            pid,
            records,
        } => {
            let Some(k) = key else {
                return Err(AuditError::key("a seal needs the audit key"));
            };
            // A recovery written first is a record of this epoch too.
            encode_seal(
                &mut buf,
                seq,
                &prev,
                time,
                host,
                pid,
                records + recoveries,
                k,
            )
        }
        Item::Rotate {
            time,
            host,
            pid,
            rotation,
        } => encode_rotate(&mut buf, seq, &prev, time, host, pid, &rotation, key),
    };
    if buf.len() - start > MAX_LINE {
        return Err(AuditError::too_large(
            shown,
            &format!(
                "record of {} bytes is longer than the {} MiB line limit",
                buf.len() - start,
                MAX_LINE >> 20
            ),
        ));
    }
    Ok(Plan {
        buf,
        seq,
        h,
        recovered: tail.torn,
        append_us,
        sync_prev_us,
    })
}

/// The end of the log as the writer sees it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Tail {
    /// seq and h of the last valid record.
    pub(crate) last: Option<(u64, [u8; 32])>,
    /// Torn span to cover with a recovery record.
    pub(crate) torn: Option<Torn>,
    /// The file does not end with `\n`.
    pub(crate) needs_newline: bool,
    /// The `epoch` of the last valid record, if it has one.
    pub(crate) last_epoch: Option<u64>,
    /// The last valid record is a seal.
    pub(crate) last_seal: bool,
    /// The last valid record is a rotate record: what it says.
    pub(crate) last_rotation: Option<Rotation>,
}

/// Most bytes read backwards from the end (a torn span and the last good
/// record together); beyond it the end of the log is treated as corrupt.
const MAX_SCAN: u64 = 2 * MAX_LINE as u64;
const FIRST_CHUNK: u64 = 16 * 1024;
const MAX_CHUNK: u64 = 4 << 20;

/// The bytes `[start, size)` of the file, grown backwards on demand.
struct Back<'f> {
    file: &'f File,
    size: u64,
    start: u64,
    buf: Vec<u8>,
    chunk: u64,
}

enum ScanError {
    Io(std::io::Error),
    TooLong,
}

impl<'f> Back<'f> {
    fn new(file: &'f File, size: u64) -> Self {
        Back {
            file,
            size,
            start: size,
            buf: Vec::new(),
            chunk: FIRST_CHUNK,
        }
    }

    fn grow(&mut self) -> Result<(), ScanError> {
        if self.size - self.start >= MAX_SCAN {
            return Err(ScanError::TooLong);
        }
        let n = self
            .chunk
            .min(self.start)
            .min(MAX_SCAN - (self.size - self.start));
        let new_start = self.start - n;
        let n = n as usize;
        let mut nb = vec![0u8; n + self.buf.len()];
        self.file
            .read_exact_at(&mut nb[..n], new_start)
            .map_err(ScanError::Io)?;
        nb[n..].copy_from_slice(&self.buf);
        self.buf = nb;
        self.start = new_start;
        self.chunk = (self.chunk * 4).min(MAX_CHUNK);
        Ok(())
    }

    /// Bytes `[from, to)`; both must lie in the loaded range.
    fn slice(&self, from: u64, to: u64) -> &[u8] {
        &self.buf[(from - self.start) as usize..(to - self.start) as usize]
    }

    /// Offset of the last `\n` before `before`, reading backwards as
    /// needed; `None` when there is none down to offset 0.
    fn prev_newline(&mut self, before: u64) -> Result<Option<u64>, ScanError> {
        let mut hi = before;
        loop {
            if self.start < hi {
                if let Some(i) = self.slice(self.start, hi).iter().rposition(|&b| b == b'\n') {
                    return Ok(Some(self.start + i as u64));
                }
                hi = self.start;
            }
            if self.start == 0 {
                return Ok(None);
            }
            self.grow()?;
        }
    }
}

/// Find the last valid record and the torn span after it (if any).
///
/// Walking back from the end: the bytes after the last `\n` are an
/// unterminated tail; complete lines are examined newest first until one
/// parses as a record with a matching `h` (the last good record). A
/// complete line that parses but whose `h` does not match is corruption.
/// Complete lines that do not parse are accepted only in the shapes the
/// writer itself leaves behind (see [`span_absorbable`]).
pub(crate) fn scan_tail(file: &File, shown: &Path, size: u64) -> Result<Tail, AuditError> {
    if size == 0 {
        return Ok(Tail {
            last: None,
            torn: None,
            needs_newline: false,
            last_epoch: None,
            last_seal: false,
            last_rotation: None,
        });
    }
    let scan_err = |e: ScanError| match e {
        ScanError::Io(e) => AuditError::read(shown, &e),
        ScanError::TooLong => AuditError::corrupt(
            shown,
            &format!(
                "no valid record within the last {} MiB of the log",
                MAX_SCAN >> 20
            ),
        ),
    };
    let mut back = Back::new(file, size);
    let last_nl = back.prev_newline(size).map_err(scan_err)?;
    let t_start = last_nl.map_or(0, |p| p + 1);
    let t_empty = t_start == size;
    let mut pieces: Vec<(u64, u64, ParseError)> = Vec::new();
    let mut last = None;
    let mut last_epoch = None;
    let mut last_seal = false;
    let mut last_rotation = None;
    let mut line_end = last_nl;
    while let Some(e) = line_end {
        let s = back.prev_newline(e).map_err(scan_err)?.map_or(0, |p| p + 1);
        match LineView::parse(back.slice(s, e)) {
            Ok(v) if v.hash_ok() => {
                last = Some((v.seq, v.h));
                last_epoch = v.epoch;
                last_seal = v.event == EventKind::Seal;
                last_rotation = v.rotation;
                break;
            }
            Ok(v) => {
                return Err(AuditError::corrupt(
                    shown,
                    &format!(
                        "the record at offset {s} (seq {}) does not match its hash",
                        v.seq
                    ),
                ));
            }
            Err(pe) => {
                if pieces.len() >= MAX_TORN_LINES {
                    return Err(AuditError::corrupt(
                        shown,
                        &format!(
                            "more than {MAX_TORN_LINES} lines at the end are not valid records"
                        ),
                    ));
                }
                pieces.push((s, e, pe));
                line_end = s.checked_sub(1);
            }
        }
    }
    let next_seq = last.map_or(1, |(s, _): (u64, _)| s.saturating_add(1));
    let span = if let Some((first_start, first_end, _)) = pieces.last() {
        let first = back.slice(*first_start, *first_end);
        let mut rest: Vec<&[u8]> = pieces
            .iter()
            .rev()
            .skip(1)
            .map(|(s, e, _)| back.slice(*s, *e))
            .collect();
        if !t_empty {
            rest.push(back.slice(t_start, size));
        }
        if !span_absorbable(first, &rest, next_seq) {
            let (s, _, pe) = &pieces[0];
            return Err(AuditError::corrupt(
                shown,
                &format!("the last complete line (offset {s}) is not a valid audit record: {pe}"),
            ));
        }
        Some((*first_start, if t_empty { size - 1 } else { size }))
    } else if !t_empty {
        Some((t_start, size))
    } else {
        None
    };
    let torn = span.map(|(from, to)| Torn {
        offset: from,
        length: to - from,
        hash: *blake3::hash(back.slice(from, to)).as_bytes(),
    });
    Ok(Tail {
        last,
        torn,
        needs_newline: !t_empty,
        last_epoch,
        last_seal,
        last_rotation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditErrorKind;
    use crate::audit::testutil::sample;
    use crate::audit::verify::{VerifyError, verify_file};
    use nix::fcntl::FlockArg;
    use proptest::prelude::*;
    use std::fs::OpenOptions;
    use std::io::Read;
    use std::path::PathBuf;
    use std::time::Instant;

    const T: Duration = Duration::from_secs(30);

    fn open(path: &Path) -> File {
        OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .expect("open log")
    }

    fn argv(words: &[&[u8]]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.to_vec()).collect()
    }

    fn add(path: &Path, words: &[&[u8]]) -> Appended {
        let a = argv(words);
        append_to(&open(path), path, &sample(&a), T).expect("append")
    }

    fn contents(path: &Path) -> Vec<u8> {
        let mut v = Vec::new();
        File::open(path)
            .expect("open")
            .read_to_end(&mut v)
            .expect("read");
        v
    }

    fn truncate(path: &Path, len: u64) {
        OpenOptions::new()
            .write(true)
            .open(path)
            .expect("open")
            .set_len(len)
            .expect("truncate");
    }

    fn setup() -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("audit.jsonl");
        (d, p)
    }

    #[test]
    fn chain_of_three_verifies() {
        let (_d, p) = setup();
        for i in 1..=3u64 {
            let a = add(&p, &[b"ls", b"-l"]);
            assert_eq!(a.seq, i);
            assert_eq!(a.recovered, None);
        }
        let s = verify_file(&p).expect("valid");
        assert_eq!((s.records, s.recoveries, s.last_seq), (3, 0, 3));
        let text = contents(&p);
        assert_eq!(text.iter().filter(|&&b| b == b'\n').count(), 3);
        let first = text.split(|&b| b == b'\n').next().expect("line");
        assert!(first.starts_with(b"{\"seq\":1,\"event\":\"accept\","));
        let zeros = format!("\"prev\":\"{}\"", "0".repeat(64));
        assert!(String::from_utf8_lossy(first).contains(&zeros));
    }

    #[test]
    fn timing_append_is_filled_in_and_verifies() {
        let (_d, p) = setup();
        let a = argv(&[b"true"]);
        let mut rec = sample(&a);
        rec.timing = Some(crate::audit::timing::Timing {
            recv: 5,
            auth: 6,
            validate: 7,
            append: 999_999_999,
            sync_prev: None,
        });
        rec.traceparent = Some("invalid");
        // Another writer holds the lock for a while: counted in `append`.
        let holder = open(&p);
        let lock = lock_with_deadline(&holder, &p, T).expect("lock");
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            drop(lock);
        });
        let got = append_to(&open(&p), &p, &rec, T).expect("append");
        t.join().expect("join");
        let us = got.append_us.expect("timed");
        assert!((50_000..999_999_999).contains(&us), "{us}");
        let text = String::from_utf8(contents(&p)).expect("utf8");
        assert!(
            text.contains(&format!(
                "\"timing\":{{\"recv\":5,\"auth\":6,\"validate\":7,\"append\":{us}}},\"traceparent\":\"invalid\""
            )),
            "{text}"
        );
        verify_file(&p).expect("valid");
        // Without timing: no field, no value.
        let got = add(&p, &[b"true"]);
        assert_eq!(got.append_us, None);
        verify_file(&p).expect("valid");
    }

    #[test]
    fn sync_note_carries_the_previous_durable_write() {
        let (d, p) = setup();
        let note = d.path().join("audit-sync");
        let a = argv(&[b"true"]);
        let mut rec = sample(&a);
        rec.timing = Some(crate::audit::timing::Timing::default());
        let put = |rec: &Record<'_>| {
            append_inner(
                &open(&p),
                &p,
                Item::Record(rec),
                T,
                &|| Ok(None),
                Instant::now(),
                Some(&note),
            )
            .expect("append")
        };
        let line = |n: usize| {
            let text = String::from_utf8(contents(&p)).expect("utf8");
            text.lines().nth(n).expect("line").to_string()
        };
        // The first record has nobody before it.
        let first = put(&rec);
        assert!(!line(0).contains("sync_prev_us"), "{}", line(0));
        // The note now names record 1: record 2 carries its time.
        let b = std::fs::read(&note).expect("note");
        assert_eq!(u64::from_le_bytes(b[..8].try_into().expect("8")), first.seq);
        put(&rec);
        let us = u64::from_le_bytes(b[8..16].try_into().expect("8"));
        assert!(
            line(1).contains(&format!(",\"sync_prev_us\":{us},")),
            "{}",
            line(1)
        );
        verify_file(&p).expect("valid");
        // A record written without the note (bdctl's, another tool's)
        // leaves it stale: the next one carries nothing rather than a
        // time about another record.
        add(&p, &[b"x"]);
        put(&rec);
        assert!(!line(3).contains("sync_prev_us"), "{}", line(3));
        // A note that is not a regular file of ours is ignored.
        std::fs::remove_file(&note).expect("rm");
        std::os::unix::fs::symlink("/etc/hostname", &note).expect("symlink");
        put(&rec);
        assert!(!line(4).contains("sync_prev_us"), "{}", line(4));
        verify_file(&p).expect("valid");
    }

    #[test]
    fn flipped_byte_names_the_line() {
        let (_d, p) = setup();
        for _ in 0..3 {
            add(&p, &[b"ls", b"-l"]);
        }
        let good = contents(&p);
        let l1 = good.iter().position(|&b| b == b'\n').expect("nl") + 1;
        let l2 = l1 + good[l1..].iter().position(|&b| b == b'\n').expect("nl");
        for i in l1..=l2 {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            std::fs::write(&p, &bad).expect("write");
            match verify_file(&p) {
                Err(VerifyError::Bad { line: 2, .. }) => {}
                other => panic!("flip at {i} ({:?}): {other:?}", char::from(good[i])),
            }
        }
    }

    #[test]
    fn torn_tail_is_recovered() {
        let (_d, p) = setup();
        add(&p, &[b"one"]);
        add(&p, &[b"two"]);
        let full = contents(&p).len() as u64;
        truncate(&p, full - 40);
        let torn_at = contents(&p).iter().position(|&b| b == b'\n').expect("nl") as u64 + 1;
        assert!(
            matches!(verify_file(&p), Err(ref e @ VerifyError::TornTail { .. }) if e.is_torn_tail())
        );
        let a = add(&p, &[b"three"]);
        assert_eq!(a.seq, 3);
        let t = a.recovered.expect("recovered");
        assert_eq!(t.offset, torn_at);
        assert_eq!(t.length, full - 40 - torn_at);
        let s = verify_file(&p).expect("valid after recovery");
        assert_eq!(
            (s.records, s.recoveries, s.last_seq, s.head),
            (3, 1, 3, a.h)
        );
    }

    #[test]
    fn two_consecutive_torn_tails() {
        let (_d, p) = setup();
        add(&p, &[b"one"]);
        for round in 0..2u64 {
            let len = contents(&p).len() as u64;
            add(&p, &[b"torn"]);
            truncate(&p, len + 25);
            let a = add(&p, &[b"after"]);
            assert!(a.recovered.is_some(), "round {round}");
            verify_file(&p).expect("valid");
        }
        // A torn tail right after another, before any good append.
        let len = contents(&p).len() as u64;
        add(&p, &[b"x"]);
        truncate(&p, len + 7);
        add(&p, &[b"y"]);
        let len2 = contents(&p).len() as u64;
        truncate(&p, len2 - 3);
        let a = add(&p, &[b"z"]);
        assert!(a.recovered.is_some());
        let s = verify_file(&p).expect("valid");
        assert_eq!(s.recoveries, 4);
        assert_eq!(s.head, a.h);
    }

    #[test]
    fn torn_first_line_and_whole_file_fragment() {
        let (_d, p) = setup();
        let frag = b"{\"seq\":1,\"ev";
        std::fs::write(&p, frag).expect("write");
        let a = add(&p, &[b"a"]);
        assert_eq!(a.seq, 2);
        assert_eq!(
            a.recovered.map(|t| (t.offset, t.length)),
            Some((0, frag.len() as u64))
        );
        let s = verify_file(&p).expect("valid");
        assert_eq!((s.records, s.recoveries), (2, 1));
    }

    /// A recovery write that was itself torn (crash or full disk while
    /// writing "\n" + recovery + record) leaves the first fragment as a
    /// complete line; the next append covers both pieces.
    #[test]
    fn torn_recovery_write_is_recovered() {
        let (_d, p) = setup();
        add(&p, &[b"one"]);
        let a = argv(&[b"two"]);
        let f = open(&p);
        // First tear: half a record.
        let size = f.metadata().expect("stat").len();
        let pl = plan(&f, &p, size, &sample(&a)).expect("plan");
        (&f).write_all(&pl.buf[..30]).expect("write");
        // Second tear: "\n" + part of the recovery record.
        let size = f.metadata().expect("stat").len();
        let pl = plan(&f, &p, size, &sample(&a)).expect("plan");
        assert_eq!(pl.buf[0], b'\n');
        (&f).write_all(&pl.buf[..20]).expect("write");
        assert!(verify_file(&p).expect_err("torn").is_torn_tail());
        let r = add(&p, &[b"three"]);
        let t = r.recovered.expect("recovered");
        assert_eq!(t.length, 30 + 1 + 19);
        verify_file(&p).expect("valid");
    }

    /// The one shape that is not recovered automatically: a recovery
    /// write of which only its leading "\n" reached the file. The torn
    /// fragment is then a complete line, indistinguishable from a damaged
    /// last record unless it still starts like the record being written.
    #[test]
    fn one_byte_recovery_write() {
        let (_d, p) = setup();
        add(&p, &[b"one"]);
        let mut f = open(&p);
        // Starts like record 2: recovered.
        let frag = b"{\"seq\":2,\"event\":\"acc";
        f.write_all(frag).expect("write");
        f.write_all(b"\n").expect("write");
        let a = add(&p, &[b"two"]);
        assert_eq!(a.recovered.map(|t| t.length), Some(frag.len() as u64));
        verify_file(&p).expect("valid");
        // Zero-filled (power loss) and then a lone "\n": refused.
        f.write_all(b"\0\0\0\0\n").expect("write");
        let a = argv(&[b"x"]);
        let e = append_to(&f, &p, &sample(&a), T).expect_err("corrupt");
        assert_eq!(e.kind(), AuditErrorKind::Corrupt);
        assert!(matches!(
            verify_file(&p),
            Err(VerifyError::Bad { line: 5, .. })
        ));
    }

    #[test]
    fn zero_filled_tail_is_recovered() {
        let (_d, p) = setup();
        add(&p, &[b"one"]);
        open(&p).write_all(&[0u8; 4096]).expect("write");
        let a = add(&p, &[b"two"]);
        assert_eq!(a.recovered.map(|t| t.length), Some(4096));
        verify_file(&p).expect("valid");
    }

    #[test]
    fn keyed_appends_and_sealed_rotation() {
        use crate::audit::verify::{VerifyOptions, verify_file_with};
        let (_d, p) = setup();
        let k0 = EpochKey::new(0, [9; 32]);
        let k1 = k0.evolve().expect("k1");
        let keyed = |k: &EpochKey| {
            let a = argv(&[b"id"]);
            append_to_keyed(&open(&p), &p, &sample(&a), T, Some(k))
        };
        let vopts = VerifyOptions {
            key: Some(k0.clone()),
            from_key_epoch_only: false,
        };
        add(&p, &[b"before", b"the", b"key"]);
        keyed(&k0).expect("keyed 1");
        keyed(&k0).expect("keyed 2");
        let text = String::from_utf8(contents(&p)).expect("utf8");
        let last = text.lines().last().expect("line");
        assert!(last.contains(",\"epoch\":0,\"prev\":"), "{last}");
        assert!(last.contains("\",\"mac\":\""), "{last}");
        let s = verify_file_with(&p, &vopts).expect("valid");
        assert_eq!((s.macs_checked, s.unauthenticated), (2, 1));
        // A torn tail before the seal: the recovery is counted in it.
        open(&p).write_all(b"{\"seq\":4,\"ev").expect("tear");
        let mut installed = 0;
        let (seal, n) = append_sealed_rotation(&open(&p), &p, &k0, b"h", T, &mut || {
            installed += 1;
            Ok(())
        })
        .expect("seal");
        assert_eq!((seal, n, installed), (Some(5), 3, 1));
        // The old key may not write after its seal.
        let e = keyed(&k0).expect_err("sealed");
        assert_eq!(e.kind(), AuditErrorKind::Key);
        assert!(e.to_string().contains("interrupted rotation"), "{e}");
        // A key two epochs ahead.
        let e = keyed(&k1.evolve().expect("k2")).expect_err("gap");
        assert!(e.to_string().contains("epoch gap"), "{e}");
        keyed(&k1).expect("epoch 1");
        let e = keyed(&k0).expect_err("rollback");
        assert!(e.to_string().contains("rolled-back key"), "{e}");
        let e = keyed(&k1.evolve().expect("k2")).expect_err("no seal");
        assert!(e.to_string().contains("was not sealed"), "{e}");
        // Without a key the writer still writes (the verifier flags it).
        add(&p, &[b"no", b"key"]);
        let e = verify_file(&p).expect_err("key removed");
        assert!(e.to_string().contains("audit key removed"), "{e}");
    }

    #[test]
    fn interrupted_rotation_finishes() {
        use crate::audit::verify::{VerifyOptions, verify_file_with};
        let (_d, p) = setup();
        let k0 = EpochKey::new(0, [3; 32]);
        let a = argv(&[b"x"]);
        append_to_keyed(&open(&p), &p, &sample(&a), T, Some(&k0)).expect("rec");
        let e =
            append_sealed_rotation(&open(&p), &p, &k0, b"h", T, &mut || Err("disk full".into()))
                .expect_err("install failed");
        assert!(e.to_string().contains("disk full"), "{e}");
        // The seal is there; a second rotation only installs the key.
        let (seal, n) =
            append_sealed_rotation(&open(&p), &p, &k0, b"h", T, &mut || Ok(())).expect("again");
        assert_eq!((seal, n), (None, 1));
        let k1 = k0.evolve().expect("k1");
        append_to_keyed(&open(&p), &p, &sample(&a), T, Some(&k1)).expect("epoch 1");
        let s = verify_file_with(
            &p,
            &VerifyOptions {
                key: Some(k0),
                from_key_epoch_only: false,
            },
        )
        .expect("valid");
        assert_eq!((s.records, s.macs_checked, s.last_epoch), (3, 3, Some(1)));
        // Rotating with a key older than the log is refused.
        let e = append_sealed_rotation(
            &open(&p),
            &p,
            &EpochKey::new(0, [3; 32]),
            b"h",
            T,
            &mut || Ok(()),
        )
        .expect_err("old");
        assert_eq!(e.kind(), AuditErrorKind::Key);
    }

    #[test]
    fn append_checks_the_path() {
        let d = tempfile::tempdir().expect("tempdir");
        let a = argv(&[b"x"]);
        let name = std::ffi::OsString::from("audit.jsonl");
        let opts = AppendOptions {
            dir: d.path(),
            name: &name,
            lock_timeout: T,
            create: true,
            sync_note: None,
        };
        // /tmp is world-writable: secure_fs refuses it.
        let e = append(&sample(&a), &opts).expect_err("untrusted dir");
        assert_eq!(e.kind(), AuditErrorKind::Open);
        assert!(!e.to_string().contains('\n'));
        let bad = std::ffi::OsString::from("../audit.jsonl");
        let e = append(&sample(&a), &AppendOptions { name: &bad, ..opts }).expect_err("bad name");
        assert_eq!(e.kind(), AuditErrorKind::Open);
        let sys = AppendOptions::system();
        assert_eq!(sys.dir.join(sys.name), Path::new(crate::paths::AUDIT_FILE));
        assert_eq!(sys.lock_timeout, Duration::from_secs(3));
    }

    /// A record written completely except for its newline is torn too:
    /// the recovery covers it (its command never ran: the write was short).
    #[test]
    fn record_without_newline_is_recovered() {
        let (_d, p) = setup();
        add(&p, &[b"one"]);
        let f = open(&p);
        let a = argv(&[b"two"]);
        let size = f.metadata().expect("stat").len();
        let pl = plan(&f, &p, size, &sample(&a)).expect("plan");
        (&f).write_all(&pl.buf[..pl.buf.len() - 1]).expect("write");
        assert!(verify_file(&p).expect_err("torn").is_torn_tail());
        let r = add(&p, &[b"three"]);
        assert_eq!(r.seq, 3);
        assert_eq!(
            r.recovered.map(|t| (t.offset, t.length)),
            Some((size, pl.buf.len() as u64 - 1))
        );
        let s = verify_file(&p).expect("valid");
        assert_eq!((s.records, s.recoveries), (3, 1));
    }

    /// A recovery record that lost only its newline is covered, with the
    /// fragment before it, by the next recovery record.
    #[test]
    fn nested_recovery() {
        let (_d, p) = setup();
        add(&p, &[b"one"]);
        let f = open(&p);
        (&f).write_all(b"{\"seq\":2,\"event\":\"accept\",\"ti")
            .expect("write");
        let a = argv(&[b"two"]);
        let size = f.metadata().expect("stat").len();
        let pl = plan(&f, &p, size, &sample(&a)).expect("plan");
        let r_end = pl.buf[1..]
            .iter()
            .position(|&b| b == b'\n')
            .expect("recovery line")
            + 1;
        (&f).write_all(&pl.buf[..r_end]).expect("write");
        let r = add(&p, &[b"three"]);
        assert_eq!(r.seq, 3);
        let s = verify_file(&p).expect("valid");
        assert_eq!((s.records, s.recoveries, s.last_seq), (3, 1, 3));
        assert_eq!(contents(&p).iter().filter(|&&b| b == b'\n').count(), 5);
    }

    #[test]
    fn garbage_last_line_is_corrupt() {
        let (_d, p) = setup();
        add(&p, &[b"one"]);
        let mut f = open(&p);
        f.write_all(b"hello world\n").expect("write");
        let a = argv(&[b"x"]);
        let e = append_to(&f, &p, &sample(&a), T).expect_err("corrupt");
        assert_eq!(e.kind(), AuditErrorKind::Corrupt);
        assert!(e.to_string().contains("not a valid audit record"), "{e}");
        // Nothing was written.
        assert!(contents(&p).ends_with(b"hello world\n"));
    }

    #[test]
    fn tampered_last_record_is_corrupt() {
        let (_d, p) = setup();
        add(&p, &[b"one"]);
        add(&p, &[b"two"]);
        let mut c = contents(&p);
        let n = c.len();
        let i = n - 100;
        c[i] = if c[i] == b'0' { b'1' } else { b'0' };
        std::fs::write(&p, &c).expect("write");
        let a = argv(&[b"x"]);
        let e = append_to(&open(&p), &p, &sample(&a), T).expect_err("corrupt");
        assert_eq!(e.kind(), AuditErrorKind::Corrupt, "{e}");
        assert_eq!(contents(&p), c);
    }

    #[test]
    fn lock_deadline() {
        let (_d, p) = setup();
        add(&p, &[b"one"]);
        let holder = open(&p);
        let _l = Flock::lock(holder, FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .expect("lock");
        let a = argv(&[b"x"]);
        let t0 = Instant::now();
        let e =
            append_to(&open(&p), &p, &sample(&a), Duration::from_millis(200)).expect_err("timeout");
        assert!(t0.elapsed() >= Duration::from_millis(200));
        assert_eq!(e.kind(), AuditErrorKind::LockTimeout);
        assert!(
            e.to_string().ends_with(
                "lock not acquired within 200ms (another writer holds it; nothing was run)"
            ),
            "{e}"
        );
    }

    #[test]
    fn not_opened_for_append() {
        let (_d, p) = setup();
        add(&p, &[b"one"]);
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&p)
            .expect("open");
        let a = argv(&[b"x"]);
        let e = append_to(&f, &p, &sample(&a), T).expect_err("refused");
        assert_eq!(e.kind(), AuditErrorKind::Open);
    }

    #[test]
    fn concurrent_writers_keep_one_chain() {
        let (_d, p) = setup();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let p = p.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let a = argv(&[b"worker", format!("{t}-{i}").as_bytes()]);
                        let f = open(&p);
                        append_to(&f, &p, &sample(&a), T).expect("append");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let s = verify_file(&p).expect("valid");
        assert_eq!((s.records, s.recoveries, s.last_seq), (400, 0, 400));
    }

    #[test]
    fn huge_record() {
        let (_d, p) = setup();
        add(&p, &[b"small"]);
        let big = vec![b'A'; 2 << 20];
        let mut ctl = vec![0x1bu8; 1000];
        ctl.extend_from_slice(b"\xff\xfe");
        add(&p, &[b"big", &big, &ctl]);
        add(&p, &[b"after"]);
        let s = verify_file(&p).expect("valid");
        assert_eq!(s.records, 3);
        // Records are bounded now (record::RUNARGV_MAX), but a log written
        // before the bound, or by another tool, can end in a huge torn
        // line: recovery reads back through it.
        {
            use std::io::Write as _;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&p)
                .expect("open");
            let mut torn = b"{\"seq\":4,\"event\":\"accept\",\"runargv\":[\"".to_vec();
            torn.resize((1 << 20) + 12345, b'A');
            f.write_all(&torn).expect("write");
        }
        let a = add(&p, &[b"z"]);
        assert_eq!(a.recovered.map(|t| t.length), Some((1 << 20) + 12345));
        verify_file(&p).expect("valid");
    }

    #[test]
    fn hostile_bytes_are_escaped() {
        let (_d, p) = setup();
        add(
            &p,
            &[
                b"echo",
                b"\x1b]0;owned\x07\x1b[2J",
                b"\xff\xfe\xc3(",
                b"a\nb\r\0c",
                "\u{2028}\u{85}".as_bytes(),
            ],
        );
        let text = contents(&p);
        assert_eq!(text.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(
            !text[..text.len() - 1]
                .iter()
                .any(|&b| b < 0x20 || b == 0x7f)
        );
        let v: serde_json::Value = serde_json::from_slice(&text).expect("valid JSON");
        assert_eq!(v["runargv"][1], "\u{1b}]0;owned\u{7}\u{1b}[2J");
        assert_eq!(v["runargv"][2], "\\xff\\xfe\\xc3(");
        assert_eq!(v["runargv"][3], "a\nb\r\0c");
        assert_eq!(v["runargv"][4], "\u{2028}\u{85}");
        let s = String::from_utf8(text).expect("utf8");
        assert!(s.contains(r#""\u001b]0;owned\u0007\u001b[2J","\\xff\\xfe\\xc3(","a\u000ab\u000d\u0000c","\u2028\u0085""#), "{s}");
        verify_file(&p).expect("valid");
    }

    #[test]
    fn fsize_limit() {
        use nix::sys::resource::RLIM_INFINITY;
        assert!(!exceeds_fsize(100, 50, RLIM_INFINITY));
        assert!(!exceeds_fsize(100, 50, 150));
        assert!(exceeds_fsize(100, 51, 150));
        assert!(exceeds_fsize(u64::MAX, 1, u64::MAX - 1));
        let e = AuditError::too_large(
            Path::new("/l"),
            "file size limit (RLIMIT_FSIZE 150 bytes) would be exceeded",
        );
        assert_eq!(e.kind(), AuditErrorKind::TooLarge);
        assert_eq!(e.errno(), Some(nix::Error::EFBIG));
    }

    #[test]
    fn error_messages() {
        let p = Path::new("/var/log/belladonna/audit.jsonl");
        let e = AuditError::write(p, &std::io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(e.kind(), AuditErrorKind::NoSpace);
        assert_eq!(
            e.to_string(),
            "audit log /var/log/belladonna/audit.jsonl: no space left on device (write failed; nothing was run)"
        );
        let e = AuditError::lock_timeout(p, Duration::from_secs(3));
        assert_eq!(
            e.to_string(),
            "audit log /var/log/belladonna/audit.jsonl: lock not acquired within 3s (another writer holds it; nothing was run)"
        );
        let e = AuditError::write(p, &std::io::Error::from_raw_os_error(libc::EFBIG));
        assert_eq!(e.kind(), AuditErrorKind::TooLarge);
        assert!(
            !AuditError::sync(p, &std::io::Error::from_raw_os_error(libc::EIO))
                .to_string()
                .contains('\n')
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Append(Vec<Vec<u8>>),
        /// A crash during the next append: only this fraction (per mille)
        /// of its write reaches the file.
        TornWrite(u16),
        /// Cut the file somewhere inside its last line.
        CutLastLine(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..4).prop_map(Op::Append),
            2 => (0u16..1000).prop_map(Op::TornWrite),
            1 => (0u16..1000).prop_map(Op::CutLastLine),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn any_tearing_recovers(ops in proptest::collection::vec(op(), 1..14)) {
            let (_d, p) = setup();
            let f = open(&p);
            let base = argv(&[b"base"]);
            for o in &ops {
                match o {
                    Op::Append(a) => {
                        let r = append_to(&f, &p, &sample(a), T);
                        prop_assert!(r.is_ok(), "append failed: {:?}", r.err().map(|e| e.to_string()));
                        verify_file(&p).expect("valid after append");
                    }
                    Op::TornWrite(frac) => {
                        let size = f.metadata().expect("stat").len();
                        let pl = plan(&f, &p, size, &sample(&base)).expect("plan");
                        let n = pl.buf.len() * usize::from(*frac) / 1000;
                        // Exactly the leading "\n" of a recovery write is
                        // the documented unrecoverable double fault.
                        let n = if n == 1 && pl.buf[0] == b'\n' { 2 } else { n };
                        (&f).write_all(&pl.buf[..n]).expect("write");
                    }
                    Op::CutLastLine(frac) => {
                        let c = contents(&p);
                        if c.is_empty() { continue; }
                        let end = if c.ends_with(b"\n") { c.len() - 1 } else { c.len() };
                        let start = c[..end].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                        // Keep at least one byte of the line (a cut at its
                        // very start is plain tail truncation).
                        let keep = 1 + (end - start).saturating_sub(1) * usize::from(*frac) / 1000;
                        truncate(&p, (start + keep.min(end - start)) as u64);
                    }
                }
            }
            let a = append_to(&f, &p, &sample(&base), T).expect("final append");
            let s = verify_file(&p).expect("valid after the final append");
            prop_assert_eq!(s.head, a.h);
            prop_assert_eq!(s.last_seq, a.seq);
        }
    }
}
