//! Audit log rotation (`bdctl audit rotate`) and verification across the
//! rotated files (`bdctl audit verify`). Format and protocol:
//! docs/audit-format.md section 1.7 and section 9.
//!
//! Files: the current log `audit.jsonl` and the rotated ones
//! `audit.jsonl.N` (N = 1, 2, ..., never reused, never shifted). One
//! rotation, all under the writers' lock of the current file:
//!
//! 1. link `audit.jsonl` as `audit.jsonl.N` (fails, with nothing
//!    written, for an append-only or immutable file);
//! 2. append a `rotate` record `close` with index N (the file's last
//!    line from now on) and fdatasync it;
//! 3. write `audit.jsonl.next` (created anew): one `rotate` record
//!    `open` with index N chained on the closing record (seq + 1, prev =
//!    its h), carrying what retention has deleted so far; fdatasync;
//! 4. rename `audit.jsonl.next` over `audit.jsonl` (atomic: the path
//!    always names a complete log) and fsync the directory;
//! 5. delete the rotated files the opening record says are retired.
//!
//! A writer that opened the old file before step 4 and waits for its
//! lock finds the closing record at the end of the tail it reads under
//! the lock, and reopens the path (`writer::append`). Killed at any step,
//! the next `bdctl audit rotate` finishes the rotation (a file ending in
//! a closing record is resumed, never closed twice).
#![forbid(unsafe_code)]

use super::AuditError;
use super::mac::EpochKey;
use super::record::{LineView, Rotation};
use super::verify::{
    Monitored, Segment, State, VerifyError, VerifyOptions, VerifySummary, verify_segment,
};
use super::writer::{
    Item, check_append_mode, lock_with_deadline, plan_item, scan_tail, write_plan,
};
use nix::fcntl::{AtFlags, OFlag};
use nix::unistd::UnlinkatFlags;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How to rotate.
#[derive(Debug, Clone, Copy)]
pub struct RotateOptions<'a> {
    /// The log directory (trusted, as for appends).
    pub dir: &'a Path,
    /// The current log's name in it.
    pub name: &'a OsStr,
    /// Keep at most this many rotated files (the oldest are deleted, and
    /// the deletion recorded); `None` keeps all.
    pub keep: Option<u64>,
    pub lock_timeout: Duration,
    /// Send the two rotate records to journald (section 8 of
    /// docs/audit-format.md), as `bdctl` does; tests don't.
    pub journal: bool,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// The old file's new name (`audit.jsonl.N`).
    pub rotated_to: PathBuf,
    /// Seq of the closing record (the opening record is seq + 1).
    pub close_seq: u64,
    /// The closing record was already there (an interrupted rotation
    /// finished).
    pub resumed: bool,
    /// Rotated files deleted by retention now.
    pub deleted: Vec<PathBuf>,
    /// Why retention deleted nothing this time (the rotation was done).
    pub retention_skipped: Option<String>,
}

/// `name.N` -> N (decimal, no sign, no leading zero).
fn rotated_index(name: &OsStr, file: &OsStr) -> Option<u64> {
    let rest = file.as_bytes().strip_prefix(name.as_bytes())?;
    let digits = rest.strip_prefix(b".")?;
    if digits.is_empty() || digits[0] == b'0' || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn rotated_name(name: &OsStr, n: u64) -> OsString {
    let mut s = name.to_os_string();
    s.push(format!(".{n}"));
    s
}

fn next_name(name: &OsStr) -> OsString {
    let mut s = name.to_os_string();
    s.push(".next");
    s
}

/// The rotated files present in `dir`, sorted by index.
fn list_rotated(dir: &Path, name: &OsStr) -> std::io::Result<Vec<u64>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir)? {
        if let Some(n) = rotated_index(name, &e?.file_name()) {
            v.push(n);
        }
    }
    v.sort_unstable();
    Ok(v)
}

/// The first line of `file`, parsed, when it is a valid rotation's
/// opening record.
fn first_rotation(file: &File) -> Option<(u64, [u8; 32], Rotation)> {
    use std::os::unix::fs::FileExt;
    // An opening record is short; read it in place (pread: the file
    // offset stays where the verifier's stream expects it).
    let mut buf = vec![0u8; 4096];
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    let end = buf[..got].iter().position(|&b| b == b'\n')?;
    let v = LineView::parse(&buf[..end]).ok()?;
    let r = v.rotation.filter(|r| !r.close && v.hash_ok())?;
    Some((v.seq, v.prev, r))
}

fn io_err(shown: &Path, what: &str, e: impl std::fmt::Display) -> AuditError {
    AuditError::corrupt(shown, &format!("rotation: {what}: {e}"))
}

/// Rotate the log named by `opts` (see the module docs). `key` is the
/// host's audit key source (read under the lock).
pub fn rotate(
    opts: &RotateOptions<'_>,
    host: &[u8],
    key: &dyn Fn() -> Result<Option<EpochKey>, AuditError>,
) -> Result<Rotated, AuditError> {
    let shown = opts.dir.join(opts.name);
    if !crate::base::secure_fs::plain_name(opts.name) {
        return Err(AuditError::bad_name(&shown));
    }
    if opts.keep == Some(0) {
        return Err(io_err(
            &shown,
            "--keep",
            "must keep at least one rotated file",
        ));
    }
    let dir = crate::base::secure_fs::open_trusted_dir(opts.dir)
        .map_err(|e| AuditError::open(&shown, &e))?;
    let (file, _) = crate::base::secure_fs::open_trusted_file(
        dir.as_fd(),
        opts.name,
        &shown,
        OFlag::O_RDWR | OFlag::O_APPEND,
        0o600,
    )
    .map_err(|e| AuditError::open(&shown, &e))?;
    check_append_mode(&file, &shown)?;
    let _lock = lock_with_deadline(&file, &shown, opts.lock_timeout)?;
    let key = key()?;
    let size = file
        .metadata()
        .map_err(|e| AuditError::read(&shown, &e))?
        .len();
    let tail = scan_tail(&file, &shown, size)?;
    let head = first_rotation(&file);
    let present = list_rotated(opts.dir, opts.name).map_err(|e| AuditError::read(&shown, &e))?;
    let now = SystemTime::now();
    let pid = std::process::id();
    // Retention done so far (carried from this file's opening record).
    let mut retired = head.map_or((0, 0, [0; 32]), |(_, _, r)| {
        (r.retired_index, r.retired_seq, r.retired_head)
    });
    let cur_ino = file
        .metadata()
        .map_err(|e| AuditError::read(&shown, &e))?
        .ino();
    // Already linked as a rotated file (a rotation killed after its link).
    let linked = present.iter().copied().find(|&n| {
        nix::sys::stat::fstatat(
            &dir,
            rotated_name(opts.name, n).as_os_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .is_ok_and(|st| st.st_ino == cur_ino)
    });
    let (close_seq, close_h, index, resumed) = match (tail.last, tail.last_rotation) {
        (Some((seq, h)), Some(r)) if r.close => (seq, h, r.index, true),
        (None, _) if tail.torn.is_none() => {
            return Err(io_err(&shown, "nothing to rotate", "the log is empty"));
        }
        _ => {
            let from_chain = head.map_or(0, |(_, _, r)| r.index);
            let from_dir = present.last().copied().unwrap_or(0);
            let index = match linked {
                Some(n) => n,
                None => from_chain
                    .max(from_dir)
                    .checked_add(1)
                    .ok_or_else(|| io_err(&shown, "index", "overflow"))?,
            };
            // Link first: an append-only or immutable file cannot be
            // linked (nor renamed over), so this fails before anything
            // is written.
            ensure_link(&dir, opts, index, cur_ino)?;
            crate::base::testhook::point("rotate-linked");
            let rotation = Rotation {
                close: true,
                index,
                retired_index: retired.0,
                retired_seq: retired.1,
                retired_head: retired.2,
            };
            let item = Item::Rotate {
                time: now,
                host,
                pid,
                rotation,
            };
            let plan = plan_item(&file, &shown, size, item, key.as_ref(), None, None)?;
            write_plan(&file, &shown, size, &plan)?;
            if opts.journal {
                super::journal::forward_last(&file, plan.seq);
            }
            crate::base::testhook::point("rotate-closed");
            (plan.seq, plan.h, index, false)
        }
    };
    // Retention: of the rotated files (this one included), keep the
    // newest `keep`; the rest are retired, and the record says so.
    // A file that cannot be read for it (gone, damaged) leaves retention
    // undone this time; the rotation itself goes on.
    let mut retention_skipped = None;
    if let Some(keep) = opts.keep {
        let newest_retired = index.saturating_sub(keep);
        if newest_retired > retired.0 {
            match last_of(&dir, opts.dir, opts.name, newest_retired) {
                Ok((seq, h)) => retired = (newest_retired, seq, h),
                Err(e) => retention_skipped = Some(e.to_string()),
            }
        }
    }
    let open = Rotation {
        close: false,
        index,
        retired_index: retired.0,
        retired_seq: retired.1,
        retired_head: retired.2,
    };
    let next = next_name(opts.name);
    let next_shown = opts.dir.join(&next);
    match nix::unistd::unlinkat(&dir, next.as_os_str(), UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(nix::Error::ENOENT) => {}
        Err(e) => return Err(io_err(&next_shown, "remove", e)),
    }
    let (nf, _) = crate::base::secure_fs::open_trusted_file(
        dir.as_fd(),
        &next,
        &next_shown,
        OFlag::O_RDWR | OFlag::O_APPEND | OFlag::O_CREAT | OFlag::O_EXCL,
        0o600,
    )
    .map_err(|e| AuditError::open(&next_shown, &e))?;
    let mut buf = Vec::new();
    let seq = close_seq
        .checked_add(1)
        .ok_or_else(|| io_err(&shown, "seq", "overflow"))?;
    super::record::encode_rotate(&mut buf, seq, &close_h, now, host, pid, &open, key.as_ref());
    let plan = super::writer::Plan {
        buf,
        seq,
        h: [0; 32],
        recovered: None,
        append_us: None,
        sync_prev_us: None,
    };
    write_plan(&nf, &next_shown, 0, &plan)?;
    if opts.journal {
        super::journal::forward_last(&nf, seq);
    }
    crate::base::testhook::point("rotate-next-written");
    let to_shown = ensure_link(&dir, opts, index, cur_ino)?;
    nix::fcntl::renameat(&dir, next.as_os_str(), &dir, opts.name)
        .map_err(|e| io_err(&shown, "rename", e))?;
    sync_dir(&dir, &shown)?;
    crate::base::testhook::point("rotate-renamed");
    let mut deleted = Vec::new();
    for n in list_rotated(opts.dir, opts.name).map_err(|e| AuditError::read(&shown, &e))? {
        if n <= retired.0 {
            let old = rotated_name(opts.name, n);
            nix::unistd::unlinkat(&dir, old.as_os_str(), UnlinkatFlags::NoRemoveDir)
                .map_err(|e| io_err(&opts.dir.join(&old), "delete", e))?;
            deleted.push(opts.dir.join(old));
        }
    }
    if !deleted.is_empty() {
        sync_dir(&dir, &shown)?;
    }
    Ok(Rotated {
        rotated_to: to_shown,
        close_seq,
        resumed,
        deleted,
        retention_skipped,
    })
}

/// Make `name.index` a link to the current file (inode `cur_ino`), unless
/// it already is; returns its path.
fn ensure_link(
    dir: &OwnedFd,
    opts: &RotateOptions<'_>,
    index: u64,
    cur_ino: u64,
) -> Result<PathBuf, AuditError> {
    let to = rotated_name(opts.name, index);
    let to_shown = opts.dir.join(&to);
    match nix::sys::stat::fstatat(dir, to.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if st.st_ino == cur_ino => Ok(to_shown),
        Ok(_) => Err(io_err(
            &to_shown,
            "link",
            "exists and is not the file being rotated",
        )),
        Err(nix::Error::ENOENT) => {
            match nix::unistd::linkat(dir, opts.name, dir, to.as_os_str(), AtFlags::empty()) {
                Ok(()) => Ok(to_shown),
                Err(nix::Error::EPERM) => Err(io_err(
                    &to_shown,
                    "link",
                    "operation not permitted: an append-only or immutable log (chattr +a, +i) \
                     cannot be rotated; `chattr -a` it, rotate, then `chattr +a` the new file",
                )),
                Err(e) => Err(io_err(&to_shown, "link", e)),
            }
        }
        Err(e) => Err(io_err(&to_shown, "stat", e)),
    }
}

fn sync_dir(dir: &OwnedFd, shown: &Path) -> Result<(), AuditError> {
    nix::unistd::fsync(dir).map_err(|e| io_err(shown, "fsync of the directory", e))
}

/// seq and h of the last record of `name.n` (its closing record).
fn last_of(
    dir: &OwnedFd,
    dpath: &Path,
    name: &OsStr,
    n: u64,
) -> Result<(u64, [u8; 32]), AuditError> {
    let rn = rotated_name(name, n);
    let shown = dpath.join(&rn);
    let (f, _) =
        crate::base::secure_fs::open_trusted_file(dir.as_fd(), &rn, &shown, OFlag::empty(), 0)
            .map_err(|e| AuditError::open(&shown, &e))?;
    let size = f
        .metadata()
        .map_err(|e| AuditError::read(&shown, &e))?
        .len();
    let tail = scan_tail(&f, &shown, size)?;
    match (tail.last, tail.last_rotation) {
        (Some(last), Some(r)) if r.close && r.index == n && tail.torn.is_none() => Ok(last),
        _ => Err(io_err(
            &shown,
            "retention",
            "does not end with its closing record; not deleted",
        )),
    }
}

/// The rotated files `path.N` present next to `path`, oldest first
/// (none when the directory cannot be read).
pub fn rotated_files(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    list_rotated(dir, name)
        .unwrap_or_default()
        .into_iter()
        .map(|n| dir.join(rotated_name(name, n)))
        .collect()
}

/// `bdctl audit verify` over the current log and its rotated files.
#[derive(Debug)]
pub struct VerifiedAll {
    /// Each rotated file verified (path, its summary), oldest first.
    pub files: Vec<(PathBuf, VerifySummary)>,
    /// The whole chain (the current file's summary carries the totals).
    pub total: VerifySummary,
    /// Rotated files up to this index were deleted by retention.
    pub retired_index: u64,
    /// The current file ends with a closing record (a rotation was
    /// interrupted before its rename): `bdctl audit rotate` finishes it.
    pub interrupted: bool,
}

/// What is wrong across files, or within one.
#[derive(Debug)]
pub enum VerifyAllError {
    /// A file failed to verify (named).
    File(PathBuf, VerifyError),
    /// Files missing, reordered or not linked.
    Files(String),
    Read(PathBuf, std::io::Error),
}

impl std::fmt::Display for VerifyAllError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyAllError::File(p, e) => write!(f, "{}: {e}", p.display()),
            VerifyAllError::Files(m) => f.write_str(m),
            VerifyAllError::Read(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

impl VerifyAllError {
    /// Only a torn tail of the current file pending recovery.
    pub fn is_torn_tail(&self) -> bool {
        matches!(self, VerifyAllError::File(_, e) if e.is_torn_tail())
    }
}

/// `a` or `{a..b}`.
fn span(a: u64, b: u64) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{{{a}..{b}}}")
    }
}

fn open_for_verify(path: &Path) -> Result<(File, u64), VerifyAllError> {
    use super::verify::OpenError;
    super::verify::open_log(path).map_err(|e| {
        let e = match e {
            OpenError::Io(e) => VerifyError::Open(e),
            OpenError::Symlink => VerifyError::Symlink,
            OpenError::NotRegular => VerifyError::NotRegular,
        };
        VerifyAllError::File(path.to_path_buf(), e)
    })
}

/// Verify `path` and its rotated files `path.N` in the same directory as
/// one chain: every file verifies, each rotated file `path.N` ends with
/// the closing record of index N, the next file starts with the opening
/// record of index N chained on it; no index is missing between the
/// oldest present file and the current one; the oldest present file
/// starts the chain (seq 1) or its predecessors were deleted by a
/// recorded retention whose last seq and head it links to.
pub fn verify_all(path: &Path, opts: &VerifyOptions) -> Result<VerifiedAll, VerifyAllError> {
    let files_err = |m: String| VerifyAllError::Files(m);
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(d), Some(n)) => (
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            },
            n,
        ),
        _ => return Err(files_err(format!("{}: not a file path", path.display()))),
    };
    let present =
        list_rotated(dir, name).map_err(|e| VerifyAllError::Read(dir.to_path_buf(), e))?;
    let (cur, cur_len) = open_for_verify(path)?;
    let cur_ino = cur
        .metadata()
        .map_err(|e| VerifyAllError::Read(path.to_path_buf(), e))?
        .ino();
    // The newest opening record present says what retention deleted.
    let mut walk: Vec<(PathBuf, File, u64, Option<u64>)> = Vec::new();
    for &n in &present {
        let p = dir.join(rotated_name(name, n));
        let (f, len) = open_for_verify(&p)?;
        let ino = f
            .metadata()
            .map_err(|e| VerifyAllError::Read(p.clone(), e))?
            .ino();
        if ino == cur_ino {
            // Linked but not yet renamed over (an interrupted rotation):
            // the current file is this one.
            continue;
        }
        walk.push((p, f, len, Some(n)));
    }
    let linked_only = walk.len() != present.len();
    walk.push((path.to_path_buf(), cur, cur_len, None));
    let retired = walk
        .iter()
        .rev()
        .find_map(|(_, f, _, _)| first_rotation(f))
        .map_or((0, 0, [0; 32]), |(_, _, r)| {
            (r.retired_index, r.retired_seq, r.retired_head)
        });
    let mut state: Option<(State, Monitored)> = None;
    let mut prev_index: Option<u64> = None;
    let mut files = Vec::new();
    let mut total = None;
    let mut interrupted = false;
    let count = walk.len();
    for (i, (p, f, len, idx)) in walk.into_iter().enumerate() {
        let shown = p.display().to_string();
        // A rotated file's own identity first: its closing record.
        if let Some(n) = idx {
            let tail = scan_tail(&f, &p, len).map_err(|e| files_err(e.to_string()))?;
            match tail.last_rotation.filter(|r| r.close) {
                Some(r) if r.index != n => {
                    return Err(files_err(format!(
                        "{shown} holds rotated file {} (files renamed or reordered)",
                        r.index
                    )));
                }
                Some(_) if tail.torn.is_none() => {}
                _ => {
                    return Err(files_err(format!(
                        "{shown} does not end with a rotation's closing record (records \
                         appended after the rotation, or truncated)"
                    )));
                }
            }
        }
        // Link to the previous file (or to retention) before the chain.
        let first = first_rotation(&f);
        match (prev_index, first) {
            (Some(pi), Some((_, _, r))) if r.index != pi => {
                return Err(files_err(if r.index > pi {
                    format!(
                        "{}.{} missing: {shown} follows rotated file {}, the previous file \
                         present is {}.{pi} (deleted without a retention record)",
                        name.to_string_lossy(),
                        span(pi + 1, r.index),
                        r.index,
                        name.to_string_lossy(),
                    )
                } else {
                    format!(
                        "{shown} starts with the opening record that follows rotated file {} \
                         instead of {pi} (files renamed or reordered)",
                        r.index
                    )
                }));
            }
            (Some(pi), None) => {
                return Err(files_err(format!(
                    "{shown} does not start with the opening record that follows {}.{pi} \
                     (replaced, reordered or altered)",
                    name.to_string_lossy()
                )));
            }
            (None, Some((seq, prev, r))) => {
                // The oldest file present: its predecessors must be retired.
                if r.index > retired.0 {
                    return Err(files_err(format!(
                        "{shown} follows rotated file {}.{} which is missing ({})",
                        name.to_string_lossy(),
                        r.index,
                        if retired.0 == 0 {
                            "no retention recorded".to_string()
                        } else {
                            format!(
                                "retention deleted only up to {}.{}",
                                name.to_string_lossy(),
                                retired.0
                            )
                        }
                    )));
                }
                if r.index == retired.0 && (seq != retired.1.saturating_add(1) || prev != retired.2)
                {
                    return Err(files_err(format!(
                        "{shown} does not link to the last record (seq {}) of the retired file {}.{}",
                        retired.1,
                        name.to_string_lossy(),
                        retired.0
                    )));
                }
            }
            _ => {}
        }
        let seg: Segment =
            verify_segment(&f, len, opts, state).map_err(|e| VerifyAllError::File(p.clone(), e))?;
        let closed = seg.last_rotation.filter(|r| r.close);
        match (idx, closed) {
            (Some(n), Some(r)) if r.index == n => {}
            (Some(n), Some(r)) => {
                return Err(files_err(format!(
                    "{shown} holds rotated file {} (renamed: expected {n})",
                    r.index
                )));
            }
            (Some(_), None) => {
                return Err(files_err(format!(
                    "{shown} does not end with a rotation's closing record (records appended \
                     after rotation, or truncated)"
                )));
            }
            (None, Some(_)) => interrupted = true,
            (None, None) => {}
        }
        if i + 1 == count {
            total = Some(seg.summary);
        } else {
            files.push((p, seg.summary));
        }
        prev_index = closed.map(|r| r.index);
        state = Some((seg.state, seg.monitored));
    }
    let total = total.ok_or_else(|| files_err("no current log".into()))?;
    Ok(VerifiedAll {
        files,
        total,
        retired_index: retired.0,
        interrupted: interrupted || linked_only,
    })
}

#[cfg(test)]
mod tests;
