//! The password timestamp cache (sudo's "tty tickets"), in the tmpfs state.
//!
//! One file per numeric uid, `<state_dir>/ts/<uid>` (root, 0600), holding
//! one record per terminal session: the terminal (`tty_nr`), the session
//! id and the session leader's start time (so a pts number or session id
//! reused by a later login is not trusted), and the time of the last
//! successful authentication on `CLOCK_BOOTTIME` (monotonic, counts
//! suspend, never set by anyone). The file also names the boot it was
//! written in (`/proc/sys/kernel/random/boot_id`): a file from a previous
//! boot is ignored even if the state directory survived.
//!
//! Files are opened with `openat` + `O_NOFOLLOW` relative to the checked
//! state directory fd, checked on the fd (regular, owned by root, mode
//! exactly 0600, one link), changed under an exclusive `flock` on
//! `ts/<uid>.lock` taken with a deadline, and replaced atomically
//! (`ts/<uid>.new` + `renameat`). Readers need no lock.
//!
//! Whatever is wrong with a timestamp (missing, expired, other session,
//! other boot, a time in the future, a file that is not root's 0600
//! regular file, unparsable content) makes [`valid`] answer "not valid"
//! with the reason in [`Check`]: the caller asks for the password again,
//! which is the safe direction. Only a failure to use the state
//! directory at all is an `Err`.
#![forbid(unsafe_code)]

use super::tty::{decode_tty_nr, self_stat_tty};
use crate::base::atomic_file::{Replace, ReplaceError, Temp, replace_at};
use crate::base::deadline_lock::Owned;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, fstat, mkdirat};
use nix::unistd::{UnlinkatFlags, unlinkat};
use serde::{Deserialize, Serialize};
use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

/// Name of the timestamp directory inside the state directory.
pub const TS_DIR: &str = "ts";
/// Records kept per uid (oldest dropped first).
pub const MAX_RECORDS: usize = 16;
/// Largest timestamp file read.
const MAX_FILE: u64 = 64 * 1024;
/// How long [`update`] and [`remove`] wait for the lock.
pub const LOCK_DEADLINE: Duration = Duration::from_secs(2);
const FORMAT_VERSION: u32 = 1;

/// The state directory could not be used for timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError(pub String);

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timestamp: {}", self.0)
    }
}

impl std::error::Error for TimestampError {}

fn terr(what: impl fmt::Display) -> TimestampError {
    TimestampError(what.to_string())
}

/// The terminal session a timestamp belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// The controlling terminal's device number (`tty_nr`, kernel encoding).
    pub tty: u32,
    /// The session id (pid of the session leader).
    pub sid: i32,
    /// The session leader's start time (clock ticks after boot).
    pub leader_start: u64,
}

impl Session {
    /// This process's terminal session, from /proc. `Err` when there is
    /// no controlling terminal or the session leader is gone (no caching
    /// then: always prompt).
    pub fn current() -> Result<Session, TimestampError> {
        let (tty, sid) = self_stat_tty().ok_or_else(|| terr("cannot read /proc/self/stat"))?;
        if tty == 0 {
            return Err(terr("no controlling terminal"));
        }
        if sid <= 0 {
            return Err(terr("no session"));
        }
        let leader_start =
            start_time(sid).ok_or_else(|| terr(format!("session leader {sid} is gone")))?;
        Ok(Session {
            tty,
            sid,
            leader_start,
        })
    }

    /// The terminal as (major, minor).
    pub fn tty_device(&self) -> (u32, u32) {
        decode_tty_nr(self.tty)
    }
}

/// Field 22 (starttime) of /proc/<pid>/stat.
fn start_time(pid: i32) -> Option<u64> {
    // Field 3 (state) is index 0, so field 22 is index 19.
    crate::base::procfs::stat_fields(&format!("/proc/{pid}/stat"))?
        .get(19)?
        .parse()
        .ok()
}

/// This boot's id.
pub fn boot_id() -> Result<String, TimestampError> {
    let s = crate::base::procfs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map_err(|e| terr(format!("boot_id: {e}")))?;
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return Err(terr("boot_id: unexpected content"));
    }
    Ok(s.to_string())
}

/// Now on CLOCK_BOOTTIME, in nanoseconds.
pub fn now_ns() -> Result<u64, TimestampError> {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)
        .map_err(|e| terr(format!("clock_gettime: {}", e.desc())))?;
    let secs = u64::try_from(t.tv_sec()).map_err(|_| terr("negative boot time"))?;
    let nanos = u64::try_from(t.tv_nsec()).map_err(|_| terr("negative boot time"))?;
    Ok(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    session: Session,
    /// CLOCK_BOOTTIME of the last successful authentication, ns.
    time_ns: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TsFile {
    version: u32,
    boot_id: String,
    uid: u32,
    records: Vec<Record>,
}

/// The answer of [`valid`]. Only [`Check::Valid`] skips the prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// A record for this session, this boot, younger than the timeout.
    Valid,
    /// The timeout is zero: caching is off.
    Disabled,
    /// No timestamp for this session.
    Missing,
    /// Older than the timeout.
    Expired,
    /// A record for this terminal, but from another session (a reused
    /// pts, or a reused session id with another leader start time).
    OtherSession,
    /// The file was written in another boot.
    OtherBoot,
    /// The recorded time is later than now.
    Future,
    /// The file is not root's 0600 regular file (a symlink, another
    /// owner, other modes, hard links, a directory or FIFO planted there).
    Untrusted(String),
    /// The content does not parse (or names another uid).
    Corrupt(String),
}

impl Check {
    /// True only for [`Check::Valid`].
    pub fn is_valid(&self) -> bool {
        *self == Check::Valid
    }

    /// True when the timestamp was ignored because something is wrong
    /// with it (worth a warning or an audit field), not merely absent,
    /// expired or disabled.
    pub fn is_suspicious(&self) -> bool {
        matches!(
            self,
            Check::OtherSession
                | Check::OtherBoot
                | Check::Future
                | Check::Untrusted(_)
                | Check::Corrupt(_)
        )
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Valid => f.write_str("valid"),
            Check::Disabled => f.write_str("timestamps disabled"),
            Check::Missing => f.write_str("no timestamp for this session"),
            Check::Expired => f.write_str("timestamp expired"),
            Check::OtherSession => {
                f.write_str("timestamp ignored: it belongs to another session on this terminal")
            }
            Check::OtherBoot => f.write_str("timestamp ignored: written before this boot"),
            Check::Future => f.write_str("timestamp ignored: its time is in the future"),
            Check::Untrusted(m) => write!(f, "timestamp ignored: {m}"),
            Check::Corrupt(m) => write!(f, "timestamp ignored: corrupt ({m})"),
        }
    }
}

/// Where the ts directory stands.
enum Dir {
    Ok(OwnedFd),
    Missing,
    Untrusted(String),
}

fn open_ts_dir(state_dir: BorrowedFd<'_>, owner: u32, create: bool) -> Result<Dir, TimestampError> {
    if create {
        match mkdirat(state_dir, TS_DIR, Mode::from_bits_truncate(0o700)) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => return Err(terr(format!("mkdir {TS_DIR}: {}", e.desc()))),
        }
    }
    let fd = match openat(
        state_dir,
        TS_DIR,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(nix::Error::ENOENT) => return Ok(Dir::Missing),
        Err(nix::Error::ELOOP) | Err(nix::Error::ENOTDIR) => {
            return Ok(Dir::Untrusted(format!("{TS_DIR}/ is not a directory")));
        }
        Err(e) => return Err(terr(format!("open {TS_DIR}: {}", e.desc()))),
    };
    let st = fstat(&fd).map_err(|e| terr(format!("fstat {TS_DIR}: {}", e.desc())))?;
    if st.st_uid != owner || st.st_mode & 0o077 != 0 {
        return Ok(Dir::Untrusted(format!(
            "{TS_DIR}/ is owned by uid {} with mode {:04o} (must be root's, 0700)",
            st.st_uid,
            st.st_mode & 0o7777
        )));
    }
    Ok(Dir::Ok(fd))
}

/// Read and check `ts/<uid>`: `Ok(None)` when missing, `Err(check)` when
/// it must be ignored.
fn read_file(dir: BorrowedFd<'_>, uid: u32, owner: u32) -> Result<Option<TsFile>, Check> {
    let name = uid.to_string();
    let fd = match openat(
        dir,
        name.as_str(),
        OFlag::O_RDONLY
            | OFlag::O_NOFOLLOW
            | OFlag::O_NOCTTY
            | OFlag::O_NONBLOCK
            | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(nix::Error::ENOENT) => return Ok(None),
        Err(nix::Error::ELOOP) => {
            return Err(Check::Untrusted("the file is a symbolic link".into()));
        }
        Err(e) => return Err(Check::Untrusted(format!("cannot open: {}", e.desc()))),
    };
    let st = fstat(&fd).map_err(|e| Check::Untrusted(format!("fstat: {}", e.desc())))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(Check::Untrusted("not a regular file".into()));
    }
    if st.st_uid != owner {
        return Err(Check::Untrusted(format!(
            "owned by uid {}, not root (written by someone else)",
            st.st_uid
        )));
    }
    if st.st_mode & 0o7777 != 0o600 {
        return Err(Check::Untrusted(format!(
            "mode {:04o}, not 0600",
            st.st_mode & 0o7777
        )));
    }
    if st.st_nlink != 1 {
        return Err(Check::Untrusted(format!("{} hard links", st.st_nlink)));
    }
    let mut buf = Vec::new();
    File::from(fd)
        .take(MAX_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Check::Corrupt(format!("read: {e}")))?;
    if buf.len() as u64 > MAX_FILE {
        return Err(Check::Corrupt("too large".into()));
    }
    let f: TsFile = serde_json::from_slice(&buf).map_err(|e| Check::Corrupt(e.to_string()))?;
    if f.version != FORMAT_VERSION {
        return Err(Check::Corrupt(format!("unknown version {}", f.version)));
    }
    if f.uid != uid {
        return Err(Check::Corrupt(format!("names uid {}, not {uid}", f.uid)));
    }
    if f.records.len() > MAX_RECORDS {
        return Err(Check::Corrupt("too many records".into()));
    }
    Ok(Some(f))
}

fn judge(f: &TsFile, boot: &str, session: &Session, now: u64, timeout: Duration) -> Check {
    if f.boot_id != boot {
        return Check::OtherBoot;
    }
    let Some(r) = f.records.iter().find(|r| r.session == *session) else {
        return if f.records.iter().any(|r| r.session.tty == session.tty) {
            Check::OtherSession
        } else {
            Check::Missing
        };
    };
    if r.time_ns > now {
        return Check::Future;
    }
    let age = Duration::from_nanos(now - r.time_ns);
    if age >= timeout {
        Check::Expired
    } else {
        Check::Valid
    }
}

/// Is there a valid timestamp for `uid` in `session`, younger than
/// `timeout` (the policy's `timestamp_timeout`; zero disables caching)?
/// Only [`Check::Valid`] means "skip the password".
pub fn valid(
    state_dir: BorrowedFd<'_>,
    uid: u32,
    session: &Session,
    timeout: Duration,
) -> Result<Check, TimestampError> {
    valid_owned_by(state_dir, uid, session, timeout, 0)
}

fn valid_owned_by(
    state_dir: BorrowedFd<'_>,
    uid: u32,
    session: &Session,
    timeout: Duration,
    owner: u32,
) -> Result<Check, TimestampError> {
    if timeout.is_zero() {
        return Ok(Check::Disabled);
    }
    let dir = match open_ts_dir(state_dir, owner, false)? {
        Dir::Ok(fd) => fd,
        Dir::Missing => return Ok(Check::Missing),
        Dir::Untrusted(m) => return Ok(Check::Untrusted(m)),
    };
    let f = match read_file(dir.as_fd(), uid, owner) {
        Ok(Some(f)) => f,
        Ok(None) => return Ok(Check::Missing),
        Err(c) => return Ok(c),
    };
    Ok(judge(&f, &boot_id()?, session, now_ns()?, timeout))
}

/// Exclusive lock on `ts/<uid>.lock`, waiting at most [`LOCK_DEADLINE`].
fn lock(dir: BorrowedFd<'_>, uid: u32, owner: u32) -> Result<Owned, TimestampError> {
    let name = format!("{uid}.lock");
    let fd = openat(
        dir,
        name.as_str(),
        OFlag::O_RDWR
            | OFlag::O_CREAT
            | OFlag::O_NOFOLLOW
            | OFlag::O_NOCTTY
            | OFlag::O_NONBLOCK
            | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| terr(format!("{TS_DIR}/{name}: open: {}", e.desc())))?;
    let st = fstat(&fd).map_err(|e| terr(format!("{TS_DIR}/{name}: fstat: {}", e.desc())))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG || st.st_uid != owner || st.st_mode & 0o077 != 0 {
        return Err(terr(format!(
            "{TS_DIR}/{name}: not root's private lock file"
        )));
    }
    crate::base::deadline_lock::lock_owned(File::from(fd), LOCK_DEADLINE)
        .map_err(|e| terr(format!("{TS_DIR}/{name}: {e}")))
}

fn write_atomic(dir: BorrowedFd<'_>, uid: u32, data: &[u8]) -> Result<(), TimestampError> {
    let name = uid.to_string();
    let tmp = format!("{uid}.new");
    let how = Replace {
        mode: 0o600,
        temp: Temp::Fixed(&tmp),
        overwrite: true,
        fsync_dir: false,
    };
    replace_at(dir, OsStr::new(&name), data, &how).map_err(|e| match e {
        ReplaceError::Sys {
            op,
            on_temp: false,
            err,
            ..
        } => terr(format!("{TS_DIR}/{name}: {op}: {}", err.desc())),
        e => terr(format!("{TS_DIR}/{tmp}: {e}")),
    })
}

/// Record a successful authentication of `uid` in `session`, now. An
/// existing file that must be ignored (see [`Check`]) is replaced.
pub fn update(
    state_dir: BorrowedFd<'_>,
    uid: u32,
    session: &Session,
) -> Result<(), TimestampError> {
    update_owned_by(state_dir, uid, session, 0, None)
}

fn update_owned_by(
    state_dir: BorrowedFd<'_>,
    uid: u32,
    session: &Session,
    owner: u32,
    at: Option<u64>,
) -> Result<(), TimestampError> {
    let dir = match open_ts_dir(state_dir, owner, true)? {
        Dir::Ok(fd) => fd,
        Dir::Missing => return Err(terr(format!("{TS_DIR}/ vanished"))),
        Dir::Untrusted(m) => return Err(terr(m)),
    };
    let _lock = lock(dir.as_fd(), uid, owner)?;
    let boot = boot_id()?;
    let now = match at {
        Some(t) => t,
        None => now_ns()?,
    };
    let mut records = match read_file(dir.as_fd(), uid, owner) {
        Ok(Some(f)) if f.boot_id == boot => f.records,
        _ => Vec::new(),
    };
    // One session per terminal at a time; drop this terminal's old ones
    // and anything "from the future".
    records.retain(|r| r.session.tty != session.tty && r.time_ns <= now);
    records.push(Record {
        session: *session,
        time_ns: now,
    });
    records.sort_by_key(|r| std::cmp::Reverse(r.time_ns));
    records.truncate(MAX_RECORDS);
    let f = TsFile {
        version: FORMAT_VERSION,
        boot_id: boot,
        uid,
        records,
    };
    let data = serde_json::to_vec(&f).map_err(|e| terr(format!("encode: {e}")))?;
    write_atomic(dir.as_fd(), uid, &data)
}

/// Drop every timestamp of `uid` (`bdexec -K`, and `-k` without a
/// terminal session). Missing is fine.
pub fn remove(state_dir: BorrowedFd<'_>, uid: u32) -> Result<(), TimestampError> {
    remove_owned_by(state_dir, uid, 0)
}

/// Forget the timestamp of `uid` for this terminal (`bdexec -k`): the
/// other terminals' stay. A file that cannot be read as ours is removed
/// whole (forgetting more is the safe side). Missing is fine.
pub fn forget_session(
    state_dir: BorrowedFd<'_>,
    uid: u32,
    session: &Session,
) -> Result<(), TimestampError> {
    forget_session_owned_by(state_dir, uid, session, 0)
}

fn forget_session_owned_by(
    state_dir: BorrowedFd<'_>,
    uid: u32,
    session: &Session,
    owner: u32,
) -> Result<(), TimestampError> {
    let dir = match open_ts_dir(state_dir, owner, false)? {
        Dir::Ok(fd) => fd,
        Dir::Missing => return Ok(()),
        Dir::Untrusted(m) => return Err(terr(m)),
    };
    {
        let _lock = lock(dir.as_fd(), uid, owner)?;
        match read_file(dir.as_fd(), uid, owner) {
            Ok(None) => return Ok(()),
            Ok(Some(mut f)) => {
                f.records.retain(|r| r.session.tty != session.tty);
                if !f.records.is_empty() {
                    let data = serde_json::to_vec(&f).map_err(|e| terr(format!("encode: {e}")))?;
                    return write_atomic(dir.as_fd(), uid, &data);
                }
            }
            Err(_) => {}
        }
    }
    // Nothing of ours left (or unreadable): the whole file goes, once the
    // lock above is released (remove takes it again).
    remove_owned_by(state_dir, uid, owner)
}

fn remove_owned_by(state_dir: BorrowedFd<'_>, uid: u32, owner: u32) -> Result<(), TimestampError> {
    let dir = match open_ts_dir(state_dir, owner, false)? {
        Dir::Ok(fd) => fd,
        Dir::Missing => return Ok(()),
        Dir::Untrusted(m) => return Err(terr(m)),
    };
    let _lock = lock(dir.as_fd(), uid, owner)?;
    let name = uid.to_string();
    match unlinkat(dir.as_fd(), name.as_str(), UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(nix::Error::ENOENT) => Ok(()),
        Err(e) => Err(terr(format!("{TS_DIR}/{name}: unlink: {}", e.desc()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn me() -> u32 {
        nix::unistd::geteuid().as_raw()
    }

    fn state() -> (tempfile::TempDir, OwnedFd) {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let fd = nix::fcntl::open(
            d.path(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .expect("open");
        (d, fd)
    }

    const S1: Session = Session {
        tty: (136 << 8) | 4,
        sid: 100,
        leader_start: 5000,
    };
    const MIN: Duration = Duration::from_secs(60);

    fn check(fd: &OwnedFd, s: &Session, t: Duration) -> Check {
        valid_owned_by(fd.as_fd(), 1000, s, t, me()).expect("valid")
    }

    #[test]
    fn fresh_valid_expired_removed() {
        let (_d, fd) = state();
        assert_eq!(check(&fd, &S1, MIN), Check::Missing);
        update_owned_by(fd.as_fd(), 1000, &S1, me(), None).expect("update");
        assert_eq!(check(&fd, &S1, MIN), Check::Valid);
        assert_eq!(check(&fd, &S1, Duration::ZERO), Check::Disabled);
        assert_eq!(check(&fd, &S1, Duration::from_nanos(1)), Check::Expired);
        // Other uids are not affected.
        assert_eq!(
            valid_owned_by(fd.as_fd(), 1001, &S1, MIN, me()).expect("valid"),
            Check::Missing
        );
        remove_owned_by(fd.as_fd(), 1000, me()).expect("remove");
        assert_eq!(check(&fd, &S1, MIN), Check::Missing);
        remove_owned_by(fd.as_fd(), 1000, me()).expect("remove twice");
    }

    #[test]
    fn forgetting_a_session_keeps_the_other_terminals() {
        let (_d, fd) = state();
        let other_tty = Session {
            tty: (136 << 8) | 5,
            ..S1
        };
        update_owned_by(fd.as_fd(), 1000, &S1, me(), None).expect("update");
        update_owned_by(fd.as_fd(), 1000, &other_tty, me(), None).expect("update");
        forget_session_owned_by(fd.as_fd(), 1000, &S1, me()).expect("forget");
        assert_eq!(check(&fd, &S1, MIN), Check::Missing);
        assert_eq!(check(&fd, &other_tty, MIN), Check::Valid);
        forget_session_owned_by(fd.as_fd(), 1000, &other_tty, me()).expect("forget");
        assert_eq!(check(&fd, &other_tty, MIN), Check::Missing);
        forget_session_owned_by(fd.as_fd(), 1000, &other_tty, me()).expect("nothing left");
    }

    #[test]
    fn sessions_are_separate() {
        let (_d, fd) = state();
        update_owned_by(fd.as_fd(), 1000, &S1, me(), None).expect("update");
        let reused_sid = Session {
            leader_start: 9999,
            ..S1
        };
        assert_eq!(check(&fd, &reused_sid, MIN), Check::OtherSession);
        let new_sid = Session { sid: 101, ..S1 };
        assert_eq!(check(&fd, &new_sid, MIN), Check::OtherSession);
        let other_tty = Session {
            tty: (136 << 8) | 5,
            ..S1
        };
        assert_eq!(check(&fd, &other_tty, MIN), Check::Missing);
        update_owned_by(fd.as_fd(), 1000, &other_tty, me(), None).expect("update");
        assert_eq!(check(&fd, &other_tty, MIN), Check::Valid);
        assert_eq!(check(&fd, &S1, MIN), Check::Valid);
        // A new session on the same terminal replaces the old record.
        update_owned_by(fd.as_fd(), 1000, &new_sid, me(), None).expect("update");
        assert_eq!(check(&fd, &S1, MIN), Check::OtherSession);
        assert_eq!(check(&fd, &new_sid, MIN), Check::Valid);
    }

    #[test]
    fn future_and_other_boot_ignored() {
        let (_d, fd) = state();
        let later = now_ns().expect("now") + 3_600_000_000_000;
        update_owned_by(fd.as_fd(), 1000, &S1, me(), Some(later)).expect("update");
        assert_eq!(check(&fd, &S1, MIN), Check::Future);
        assert!(Check::Future.is_suspicious());
        // A normal update drops the future record.
        update_owned_by(fd.as_fd(), 1000, &S1, me(), None).expect("update");
        assert_eq!(check(&fd, &S1, MIN), Check::Valid);

        let dir = open_ts_dir(fd.as_fd(), me(), false).expect("dir");
        let Dir::Ok(dir) = dir else { panic!("ts dir") };
        let mut f = read_file(dir.as_fd(), 1000, me())
            .expect("read")
            .expect("some");
        f.boot_id = "00000000-0000-0000-0000-000000000000".into();
        write_atomic(dir.as_fd(), 1000, &serde_json::to_vec(&f).expect("json")).expect("write");
        assert_eq!(check(&fd, &S1, MIN), Check::OtherBoot);
    }

    #[test]
    fn untrusted_and_corrupt_files_ignored() {
        let (d, fd) = state();
        update_owned_by(fd.as_fd(), 1000, &S1, me(), None).expect("update");
        let p = d.path().join("ts/1000");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(check(&fd, &S1, MIN), Check::Untrusted(_)));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(check(&fd, &S1, MIN), Check::Valid);
        // A symlink to a valid file.
        std::fs::rename(&p, d.path().join("ts/real")).expect("mv");
        std::os::unix::fs::symlink("real", &p).expect("symlink");
        assert!(matches!(check(&fd, &S1, MIN), Check::Untrusted(_)));
        // update replaces the symlink, not its target.
        update_owned_by(fd.as_fd(), 1000, &S1, me(), None).expect("update");
        assert!(
            !std::fs::symlink_metadata(&p)
                .expect("meta")
                .file_type()
                .is_symlink()
        );
        // A hard link.
        std::fs::hard_link(&p, d.path().join("ts/link")).expect("link");
        assert!(matches!(check(&fd, &S1, MIN), Check::Untrusted(_)));
        std::fs::remove_file(d.path().join("ts/link")).expect("rm");
        // Another owner (only testable as root).
        if me() == 0 {
            std::os::unix::fs::chown(&p, Some(61001), None).expect("chown");
            assert!(matches!(check(&fd, &S1, MIN), Check::Untrusted(_)));
            std::os::unix::fs::chown(&p, Some(0), None).expect("chown");
        }
        // Garbage, truncation, wrong uid, a FIFO.
        for bad in [&b"garbage"[..], b"{\"version\":1,", b""] {
            std::fs::write(&p, bad).expect("write");
            assert!(matches!(check(&fd, &S1, MIN), Check::Corrupt(_)), "{bad:?}");
        }
        update_owned_by(fd.as_fd(), 1001, &S1, me(), None).expect("update");
        std::fs::copy(d.path().join("ts/1001"), &p).expect("copy");
        assert!(matches!(check(&fd, &S1, MIN), Check::Corrupt(_)));
        std::fs::remove_file(&p).expect("rm");
        nix::unistd::mkfifo(&p, Mode::from_bits_truncate(0o600)).expect("mkfifo");
        assert!(matches!(check(&fd, &S1, MIN), Check::Untrusted(_)));
        remove_owned_by(fd.as_fd(), 1000, me()).expect("remove fifo");
        // A ts directory with a group/world mode is not used.
        std::fs::set_permissions(d.path().join("ts"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        assert!(matches!(check(&fd, &S1, MIN), Check::Untrusted(_)));
        assert!(update_owned_by(fd.as_fd(), 1000, &S1, me(), None).is_err());
    }

    #[test]
    fn records_are_bounded() {
        let (_d, fd) = state();
        for i in 0..(MAX_RECORDS as u32 + 5) {
            let s = Session {
                tty: (136 << 8) | (i & 0xff),
                sid: 200 + i as i32,
                leader_start: 1,
            };
            update_owned_by(fd.as_fd(), 1000, &s, me(), None).expect("update");
        }
        let Dir::Ok(dir) = open_ts_dir(fd.as_fd(), me(), false).expect("dir") else {
            panic!("ts dir")
        };
        let f = read_file(dir.as_fd(), 1000, me())
            .expect("read")
            .expect("some");
        assert_eq!(f.records.len(), MAX_RECORDS);
    }

    #[test]
    fn current_session_parses() {
        // Under `cargo test` there may or may not be a terminal; either
        // answer must be clean.
        match Session::current() {
            Ok(s) => assert!(s.tty != 0 && s.sid > 0),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
        assert!(boot_id().is_ok());
        assert!(now_ns().expect("now") > 0);
    }
}
