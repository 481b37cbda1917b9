//! Durable append of one record: lock (with a deadline) -> read the tail
//! -> chain -> one write(2) -> unlock -> fdatasync, shared with the
//! writers around (group commit, `group`; without a sync group file the
//! fdatasync runs before the unlock) -> return once the line is durable.
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

use crate::base::deadline_lock::Held;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
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
    /// The sync group file for group commit (see `writer::group`): a file in a
    /// trusted tmpfs directory (`/run/belladonna/audit-synced`), or none
    /// (every append fdatasyncs under the log's lock).
    pub sync_group: Option<&'a Path>,
    /// The policy directory (`/etc/belladonna`) already opened and
    /// checked by the caller (bdexec's policy load): the host's audit key
    /// is read from its `keys` directory, below this descriptor, instead
    /// of walking the path again. `None`: by path.
    pub conf_dir: Option<BorrowedFd<'a>>,
}

/// The system log's sync note (see [`AppendOptions::sync_note`]).
pub const SYNC_NOTE: &str = "/run/belladonna/audit-sync";

/// The system log's sync group file (see [`AppendOptions::sync_group`]).
pub const SYNC_GROUP: &str = "/run/belladonna/audit-synced";

impl AppendOptions<'static> {
    /// The system log: `/var/log/belladonna/audit.jsonl`, 3 s, create.
    pub fn system() -> Self {
        AppendOptions {
            dir: Path::new(crate::base::paths::LOG_DIR),
            name: OsStr::new(crate::base::paths::AUDIT_NAME),
            lock_timeout: Duration::from_secs(3),
            create: true,
            sync_note: Some(Path::new(SYNC_NOTE)),
            sync_group: Some(Path::new(SYNC_GROUP)),
            conf_dir: None,
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
    if !crate::base::secure_fs::plain_name(opts.name) {
        return Err(AuditError::bad_name(&shown));
    }
    let dir = if opts.create {
        crate::base::secure_fs::ensure_trusted_dir(opts.dir, 0o700)
    } else {
        crate::base::secure_fs::open_trusted_dir(opts.dir)
    }
    .map_err(|e| AuditError::open(&shown, &e))?;
    let mut flags = OFlag::O_RDWR | OFlag::O_APPEND;
    if opts.create {
        flags |= OFlag::O_CREAT;
    }
    let key = || {
        match opts.conf_dir {
            Some(conf) => super::key::load_host_audit_key_below(conf),
            None => super::key::load_host_audit_key(),
        }
        .map_err(|e| AuditError::key(&e.to_string()))
    };
    // A file that ends with a rotation's closing record was renamed away
    // while this writer waited for its lock (audit::rotate): reopen the
    // path, which names the next file. The same file again means the
    // rotation was interrupted before its rename.
    let mut held: Option<(u64, u64)> = None;
    loop {
        let (file, _) =
            crate::base::secure_fs::open_trusted_file(dir.as_fd(), opts.name, &shown, flags, 0o600)
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
            SyncFiles {
                note: opts.sync_note,
                group: opts.sync_group,
            },
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
        SyncFiles::default(),
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

/// The writer's two tmpfs files ([`AppendOptions::sync_note`],
/// [`AppendOptions::sync_group`]), each optional.
#[derive(Clone, Copy, Default)]
pub(crate) struct SyncFiles<'p> {
    pub(crate) note: Option<&'p Path>,
    pub(crate) group: Option<&'p Path>,
}

type KeySource<'k> = dyn Fn() -> Result<Option<EpochKey>, AuditError> + 'k;

fn append_inner(
    file: &File,
    shown: &Path,
    item: Item<'_>,
    lock_timeout: Duration,
    key: &KeySource<'_>,
    started: Instant,
    sync: SyncFiles<'_>,
) -> Result<Appended, AuditError> {
    check_append_mode(file, shown)?;
    // Group commit needs the group file and the log's birth time.
    let group = sync
        .group
        .and_then(group::Group::open)
        .and_then(|g| group::ident(file).map(|id| (g, id)));
    // With a group file, through the log lock's bell (writer::bell).
    let bells = group.as_ref().map(|(g, _)| g.bells());
    let lock = bell::take(bells, bell::Lock::Log, file, shown, lock_timeout)?;
    // Under the lock: a rotation (which holds it) is never half seen.
    let key = key()?;
    let size = file
        .metadata()
        .map_err(|e| AuditError::read(shown, &e))?
        .len();
    let note = sync.note.and_then(SyncNote::open);
    let last = note.as_ref().and_then(SyncNote::read);
    let plan = plan_item(file, shown, size, item, key.as_ref(), Some(started), last)?;
    let t0 = Instant::now();
    match &group {
        Some((g, id)) => {
            if g.failed(*id) {
                return Err(AuditError::sync_failed_before(shown));
            }
            write_unsynced(file, shown, size, &plan)?;
            let end = size.saturating_add(plan.buf.len() as u64);
            g.mark_written(*id, end);
            drop(lock);
            g.sync_to(file, shown, *id, end, lock_timeout)?;
        }
        None => {
            write_plan(file, shown, size, &plan)?;
            drop(lock);
        }
    }
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
        open_own_file(path).map(SyncNote)
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

/// Open (create, 0600) one of the writer's tmpfs files: the effective
/// uid's regular file with one link, not a symlink, not group or world
/// writable; otherwise `None` (they are best effort).
pub(crate) fn open_own_file(path: &Path) -> Option<File> {
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
    (m.is_file()
        && m.uid() == nix::unistd::geteuid().as_raw()
        && m.nlink() == 1
        && m.mode() & 0o022 == 0)
        .then_some(f)
}

/// Write a plan with one write(2) and fdatasync it.
pub(crate) fn write_plan(
    file: &File,
    shown: &Path,
    size: u64,
    plan: &Plan,
) -> Result<(), AuditError> {
    write_unsynced(file, shown, size, plan)?;
    // Never retried: after a failed fdatasync the page cache may claim
    // the data is clean although it never reached the disk.
    file.sync_data().map_err(|e| AuditError::sync(shown, &e))?;
    still_answers(file, size.saturating_add(plan.buf.len() as u64))
        .map_err(|e| AuditError::sync(shown, &e))?;
    Ok(())
}

/// After a successful fdatasync: the file system still answers (its
/// read path refuses a shut-down file system with EIO: ext4, XFS,
/// f2fs), is not read-only (ext4 remounts read-only when its journal
/// aborts, with `errors=remount-ro`), and the byte before `end` is the
/// newline that ends the line just synced.
///
/// Why: when the journal aborts while an fdatasync waits for its
/// transaction, ext4's fdatasync can return success although the
/// transaction was never committed (jbd2 finds the aborted transaction
/// no longer running nor committing and does not wait). Reproduced with
/// `EXT4_IOC_SHUTDOWN` during concurrent appends: every record lost
/// after the remount was one whose fdatasync returned after the shutdown
/// (docs/durability.md). One pread(2) of a cached byte and one
/// fstatfs(2): a few microseconds.
pub(crate) fn still_answers(file: &File, end: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut b = [0u8; 1];
    let at = end.checked_sub(1).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "empty line after sync")
    })?;
    file.read_exact_at(&mut b, at)?;
    if b[0] != b'\n' {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the synced line does not end where it was written",
        ));
    }
    let st = nix::sys::statfs::fstatfs(file).map_err(std::io::Error::from)?;
    if st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return Err(std::io::Error::from_raw_os_error(libc::EROFS));
    }
    Ok(())
}

/// Write a plan with one write(2), not synced.
fn write_unsynced(file: &File, shown: &Path, size: u64, plan: &Plan) -> Result<(), AuditError> {
    check_fsize(shown, size, plan.buf.len())?;
    crate::base::testhook::point("audit-before-write");
    let wrote = write_once(file, &plan.buf).map_err(|e| AuditError::write(shown, &e))?;
    if wrote != plan.buf.len() {
        return Err(AuditError::short_write(shown, wrote, plan.buf.len()));
    }
    crate::base::testhook::point("audit-after-write");
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
/// files use too ([`crate::base::deadline_lock`]), taken on `file`'s own
/// open file description (no duplicate), its errors mapped to this
/// layer's. Dropping the result unlocks.
pub(crate) fn lock_with_deadline<'a>(
    file: &'a File,
    shown: &Path,
    timeout: Duration,
) -> Result<Held<'a>, AuditError> {
    crate::base::deadline_lock::lock_in_place(file, timeout).map_err(|e| lock_error(shown, e))
}

/// [`lock_with_deadline`], waiting on `bell` between tries
/// (writer::bell).
pub(crate) fn lock_with_bell<'a>(
    file: &'a File,
    shown: &Path,
    timeout: Duration,
    bell: &mut dyn crate::base::deadline_lock::Bell,
) -> Result<Held<'a>, AuditError> {
    crate::base::deadline_lock::lock_in_place_rung(file, timeout, bell)
        .map_err(|e| lock_error(shown, e))
}

fn lock_error(shown: &Path, e: crate::base::deadline_lock::LockError) -> AuditError {
    use crate::base::deadline_lock::LockError;
    match e {
        LockError::Timeout(t) => AuditError::lock_timeout(shown, t),
        LockError::Sys(e) => AuditError::lock(shown, e),
    }
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

mod bell;
mod group;

#[cfg(test)]
mod group_tests;
#[cfg(test)]
mod tests;
