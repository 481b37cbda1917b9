//! The audit degrade ladder (DESIGN 7, `[audit]` in the policy,
//! docs/durability.md), in the spirit of auditd's `space_left` /
//! `admin_space_left` / `disk_full_action` / `disk_error_action`:
//!
//! * free space on the log's file system at or below `low_space`: warn
//!   (one stderr line and an alert per call), run as usual;
//! * at or below `critical_space`: only `break_glass` rules run; any other
//!   allowed call is refused (exit 4) with one line and an alert;
//! * the append fails with a full disk (`on_full`) or an I/O error
//!   (`on_io_error`): `deny` (the default: exit 4, nothing runs) or
//!   `journald`: the record goes to journald instead, marked as such, and
//!   the call runs only when journald took it. Never silent.
//!
//! Pure: the caller measures the space and classifies the error.
#![forbid(unsafe_code)]

use super::AuditErrorKind;
pub use crate::policy::audit::{AuditSettings as Settings, Sink, Space};

/// Where the log's free space stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    /// At or below `low_space`: warn.
    Low,
    /// At or below `critical_space`: break-glass rules only.
    Critical,
}

/// The level for `free` of `total` bytes.
pub fn level(s: &Settings, free: u64, total: u64) -> Level {
    if s.critical_space.is_some_and(|c| c.reached(free, total)) {
        Level::Critical
    } else if s.low_space.is_some_and(|l| l.reached(free, total)) {
        Level::Low
    } else {
        Level::Ok
    }
}

/// What kind of fault an append failed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// ENOSPC / EDQUOT, at write or at fdatasync.
    Full,
    /// An I/O error writing, reading back or syncing the log.
    Io,
    /// Anything else (lock deadline, corrupt or tampered log, key, path):
    /// always deny.
    Other,
}

/// Classify an append error by its kind and errno.
pub fn fault(kind: AuditErrorKind, errno: Option<nix::Error>) -> Fault {
    let full = matches!(errno, Some(nix::Error::ENOSPC | nix::Error::EDQUOT));
    match kind {
        AuditErrorKind::NoSpace => Fault::Full,
        AuditErrorKind::Sync | AuditErrorKind::Write if full => Fault::Full,
        AuditErrorKind::Sync
        | AuditErrorKind::Write
        | AuditErrorKind::ShortWrite
        | AuditErrorKind::Read => Fault::Io,
        _ => Fault::Other,
    }
}

/// Where the record goes after `f`.
pub fn sink(s: &Settings, f: Fault) -> Sink {
    match f {
        Fault::Full => s.on_full,
        Fault::Io => s.on_io_error,
        Fault::Other => Sink::Deny,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladder_levels() {
        let s = Settings {
            low_space: Some(Space::Percent(20)),
            critical_space: Some(Space::Percent(5)),
            ..Settings::default()
        };
        assert_eq!(level(&s, 50, 100), Level::Ok);
        assert_eq!(level(&s, 20, 100), Level::Low);
        assert_eq!(level(&s, 5, 100), Level::Critical);
        assert_eq!(level(&s, 0, 100), Level::Critical);
        assert_eq!(level(&Settings::default(), 0, 100), Level::Ok);
        assert!(!Settings::default().watches_space());
    }

    #[test]
    fn faults_and_sinks() {
        use nix::Error as E;
        let j = Settings {
            on_full: Sink::Journald,
            ..Settings::default()
        };
        let cases = [
            (AuditErrorKind::NoSpace, Some(E::ENOSPC), Fault::Full),
            (AuditErrorKind::Sync, Some(E::ENOSPC), Fault::Full),
            (AuditErrorKind::Sync, Some(E::EDQUOT), Fault::Full),
            (AuditErrorKind::Sync, Some(E::EIO), Fault::Io),
            (AuditErrorKind::Write, Some(E::EIO), Fault::Io),
            (AuditErrorKind::ShortWrite, None, Fault::Io),
            (AuditErrorKind::LockTimeout, None, Fault::Other),
            (AuditErrorKind::Corrupt, None, Fault::Other),
            (AuditErrorKind::Key, None, Fault::Other),
            (AuditErrorKind::TooLarge, Some(E::EFBIG), Fault::Other),
        ];
        for (k, e, f) in cases {
            assert_eq!(fault(k, e), f, "{k:?} {e:?}");
        }
        assert_eq!(sink(&j, Fault::Full), Sink::Journald);
        assert_eq!(sink(&j, Fault::Io), Sink::Deny);
        assert_eq!(sink(&j, Fault::Other), Sink::Deny);
        assert_eq!(sink(&Settings::default(), Fault::Full), Sink::Deny);
    }
}
