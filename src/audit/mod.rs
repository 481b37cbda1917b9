//! The durable, hash-chained audit log (DESIGN section 7).
//!
//! * [`record`]: the exact line format (fixed field order) and a strict
//!   parser for lines read back.
//! * [`chain`]: the hash chain definition.
//! * [`writer`]: [`append`], the one durable append under an flock with a
//!   deadline, with torn-tail recovery.
//! * [`mac`]: the keyed MAC with forward-secure epoch keys.
//! * [`verify`]: `bdctl audit verify`.
//! * [`mod@show`]: `bdctl audit show`.
//! * [`timing`]: stage timings and the caller's trace context.
//! * [`journal`]: each record's copy in journald; [`cross_check`]:
//!   `bdctl audit cross-check`.
//!
//! The format is documented in `docs/audit-format.md`.
#![forbid(unsafe_code)]

pub mod alert;
pub mod chain;
pub mod cross_check;
pub mod journal;
pub mod journald;
pub mod key;
pub mod key_rotate;
pub mod ladder;
pub mod mac;
pub mod record;
pub mod rotate;
pub mod show;
pub mod syslog;
pub mod timing;
pub mod verify;
pub mod writer;

pub use mac::EpochKey;
pub use record::{Event, ExitRecord, Outcome, Record, Torn, new_uuid};
pub use show::{ShowError, show};
pub use verify::{VerifyError, VerifyOptions, VerifySummary, verify_file, verify_file_with};
pub use writer::{
    AppendOptions, Appended, append, append_exit, append_sealed_rotation, append_to,
    append_to_keyed,
};

use std::fmt;
use std::path::{Path, PathBuf};

/// Longest line the writer writes or reads back (64 MiB). A record of
/// the largest argv Linux accepts (6 MiB), fully escaped, stays below.
pub const MAX_LINE: usize = 64 << 20;

/// Most complete non-record lines a torn span may hold (each failed
/// recovery write can add one).
pub(crate) const MAX_TORN_LINES: usize = 64;

const ROTATED: &str = "closed by a rotation (its last record is a rotation's closing record)";

/// What went wrong, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditErrorKind {
    /// The directory or file could not be opened or is not trusted.
    Open,
    /// flock failed (other than by timing out).
    Lock,
    /// The lock was not acquired before the deadline.
    LockTimeout,
    /// Reading the tail failed.
    Read,
    /// The end of the log is not a valid record or recoverable fragment.
    Corrupt,
    /// The write would exceed RLIMIT_FSIZE (EFBIG) or the line limit.
    TooLarge,
    /// ENOSPC or EDQUOT.
    NoSpace,
    /// write(2) failed otherwise (EIO, EROFS, ...).
    Write,
    /// write(2) wrote only part of the line(s).
    ShortWrite,
    /// fdatasync failed (never retried).
    Sync,
    /// The random number generator failed.
    Random,
    /// The audit MAC key exists but is not valid, or does not fit the
    /// log's epochs.
    Key,
}

impl AuditErrorKind {
    /// Stable label (metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditErrorKind::Open => "open",
            AuditErrorKind::Lock => "lock",
            AuditErrorKind::LockTimeout => "lock_timeout",
            AuditErrorKind::Read => "read",
            AuditErrorKind::Corrupt => "corrupt",
            AuditErrorKind::TooLarge => "too_large",
            AuditErrorKind::NoSpace => "no_space",
            AuditErrorKind::Write => "write",
            AuditErrorKind::ShortWrite => "short_write",
            AuditErrorKind::Sync => "sync",
            AuditErrorKind::Random => "random",
            AuditErrorKind::Key => "key",
        }
    }
}

/// The audit layer's one error type. `Display` is one line a user or
/// administrator can act on.
#[derive(Debug)]
pub struct AuditError {
    kind: AuditErrorKind,
    path: Option<PathBuf>,
    detail: String,
    errno: Option<nix::Error>,
}

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "audit log {}: {}", p.display(), self.detail),
            None => write!(f, "audit: {}", self.detail),
        }
    }
}

impl std::error::Error for AuditError {}

fn errno_of(e: &std::io::Error) -> Option<nix::Error> {
    e.raw_os_error().map(nix::Error::from_raw)
}

/// "No space left on device" -> "no space left on device"; an acronym
/// ("I/O error") is kept.
fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match (c.next(), c.clone().next()) {
        (Some(f), Some(n)) if n.is_lowercase() || n == ' ' => f.to_lowercase().chain(c).collect(),
        _ => s.to_string(),
    }
}

fn describe(e: &std::io::Error) -> String {
    match errno_of(e) {
        Some(n) => lower_first(n.desc()),
        None => e.to_string(),
    }
}

impl AuditError {
    /// What kind of failure this is.
    pub fn kind(&self) -> AuditErrorKind {
        self.kind
    }

    /// The errno behind it, when there is one.
    pub fn errno(&self) -> Option<nix::Error> {
        self.errno
    }

    /// The log file concerned.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn new(
        kind: AuditErrorKind,
        path: Option<&Path>,
        detail: String,
        errno: Option<nix::Error>,
    ) -> Self {
        AuditError {
            kind,
            path: path.map(Path::to_path_buf),
            detail,
            errno,
        }
    }

    pub(crate) fn random(msg: &str) -> Self {
        Self::new(
            AuditErrorKind::Random,
            None,
            format!("random number generator failed: {msg} (no record written; nothing was run)"),
            None,
        )
    }

    pub(crate) fn key(msg: &str) -> Self {
        Self::new(
            AuditErrorKind::Key,
            None,
            format!("audit key: {msg} (no record written; nothing was run)"),
            None,
        )
    }

    pub(crate) fn open(path: &Path, e: &crate::base::secure_fs::SecureFsError) -> Self {
        Self::new(
            AuditErrorKind::Open,
            Some(path),
            format!("cannot open: {e} (nothing was run)"),
            e.errno(),
        )
    }

    pub(crate) fn bad_name(path: &Path) -> Self {
        Self::new(
            AuditErrorKind::Open,
            Some(path),
            "not a plain file name (nothing was run)".into(),
            None,
        )
    }

    pub(crate) fn not_append(path: &Path) -> Self {
        Self::new(
            AuditErrorKind::Open,
            Some(path),
            "file is not opened for appending (refused; nothing was run)".into(),
            None,
        )
    }

    pub(crate) fn lock(path: &Path, e: nix::Error) -> Self {
        Self::new(
            AuditErrorKind::Lock,
            Some(path),
            format!("cannot lock: {} (nothing was run)", lower_first(e.desc())),
            Some(e),
        )
    }

    pub(crate) fn lock_timeout(path: &Path, d: std::time::Duration) -> Self {
        let t = if d.subsec_nanos() == 0 {
            format!("{}s", d.as_secs())
        } else {
            format!("{}ms", d.as_millis())
        };
        Self::new(
            AuditErrorKind::LockTimeout,
            Some(path),
            format!("lock not acquired within {t} (another writer holds it; nothing was run)"),
            None,
        )
    }

    pub(crate) fn read(path: &Path, e: &std::io::Error) -> Self {
        Self::new(
            AuditErrorKind::Read,
            Some(path),
            format!(
                "cannot read the end of the log: {} (nothing was run)",
                describe(e)
            ),
            errno_of(e),
        )
    }

    /// The file ends with a rotation's closing record: the writer holds
    /// a file that was (or is being) rotated away (`audit::rotate`).
    pub(crate) fn rotated(path: &Path) -> Self {
        Self::corrupt(path, ROTATED)
    }

    /// [`AuditError::rotated`]: reopen the path and try again.
    pub(crate) fn is_rotated(&self) -> bool {
        self.kind == AuditErrorKind::Corrupt && self.detail.starts_with(ROTATED)
    }

    pub(crate) fn corrupt(path: &Path, what: &str) -> Self {
        Self::new(
            AuditErrorKind::Corrupt,
            Some(path),
            format!(
                "{what} (refusing to append; check with `bdctl audit verify`; nothing was run)"
            ),
            None,
        )
    }

    pub(crate) fn too_large(path: &Path, what: &str) -> Self {
        Self::new(
            AuditErrorKind::TooLarge,
            Some(path),
            format!("{what} (write refused; nothing was run)"),
            Some(nix::Error::EFBIG),
        )
    }

    pub(crate) fn write(path: &Path, e: &std::io::Error) -> Self {
        let errno = errno_of(e);
        let kind = match errno {
            Some(nix::Error::ENOSPC | nix::Error::EDQUOT) => AuditErrorKind::NoSpace,
            Some(nix::Error::EFBIG) => AuditErrorKind::TooLarge,
            _ => AuditErrorKind::Write,
        };
        Self::new(
            kind,
            Some(path),
            format!("{} (write failed; nothing was run)", describe(e)),
            errno,
        )
    }

    pub(crate) fn short_write(path: &Path, wrote: usize, want: usize) -> Self {
        Self::new(
            AuditErrorKind::ShortWrite,
            Some(path),
            format!(
                "short write ({wrote} of {want} bytes; the next append records the fragment; nothing was run)"
            ),
            None,
        )
    }

    /// fdatasync failed and the sync group file `group` could not record
    /// it: a later writer may sync the file again.
    pub(crate) fn sync_unnoted(path: &Path, e: &std::io::Error, group: &Path) -> Self {
        Self::new(
            AuditErrorKind::Sync,
            Some(path),
            format!(
                "fdatasync failed: {} and {} could not record it (a later writer may retry; \
                 rotate the log; nothing was run)",
                describe(e),
                group.display()
            ),
            errno_of(e),
        )
    }

    /// An earlier fdatasync of this file failed (writer::group): it is
    /// never retried, so nothing more is appended to the file.
    pub(crate) fn sync_failed_before(path: &Path) -> Self {
        Self::new(
            AuditErrorKind::Sync,
            Some(path),
            "an earlier fdatasync of this file failed and is never retried: \
             rotate the log (`bdctl audit rotate`) once the disk is healthy (nothing was run)"
                .into(),
            Some(nix::Error::EIO),
        )
    }

    pub(crate) fn sync(path: &Path, e: &std::io::Error) -> Self {
        Self::new(
            AuditErrorKind::Sync,
            Some(path),
            format!(
                "fdatasync failed: {} (record not durable; nothing was run)",
                describe(e)
            ),
            errno_of(e),
        )
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::{Event, Record};
    use std::time::{Duration, UNIX_EPOCH};

    /// A fully populated record for tests.
    pub(crate) fn sample(argv: &[Vec<u8>]) -> Record<'_> {
        Record {
            event: Event::Accept,
            time: UNIX_EPOCH + Duration::new(1_796_060_239, 123_456_789),
            uuid: [0x11; 16],
            host: b"host1",
            pid: 4242,
            submituser: Some("alice"),
            submituid: 1000,
            submitgid: 1000,
            ttyname: Some(b"/dev/pts/3"),
            submitcwd: Some(b"/home/alice"),
            runuser: Some("root"),
            runuid: Some(0),
            rungid: Some(0),
            command: Some(b"/usr/bin/systemctl"),
            runargv: argv,
            rule: Some("web"),
            reason: "matched",
            policy_hash: Some([0xab; 32]),
            sandbox: None,
            confinement: None,
            drift: None,
            clock_skew: None,
            suppressed: None,
            env_dropped: &[],
            timing: None,
            traceparent: None,
            monitor: false,
            edit: None,
        }
    }
}
