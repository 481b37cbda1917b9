//! `bdctl audit verify | show | rotate | cross-check` (the logic is in
//! [`crate::audit`]: [`crate::audit::rotate`], [`mod@crate::audit::show`],
//! [`crate::audit::cross_check`]; docs/audit-format.md, bdctl(8)).
#![forbid(unsafe_code)]

use super::exit;
use crate::audit::rotate::{RotateOptions, VerifiedAll, rotate as do_rotate};
use crate::audit::{self, VerifySummary};
use std::path::Path;
use std::time::Duration;

/// `bdctl audit verify [--file F] [--key K0FILE]`: 0 valid, 3 a torn
/// tail pending recovery, 1 otherwise.
pub fn verify(path: &Path, key: Option<&Path>) -> i32 {
    let mut opts = audit::VerifyOptions::default();
    if let Some(k) = key {
        match crate::audit::key::read_verify_key(k) {
            Ok(k) => opts.key = Some(k),
            Err(e) => {
                eprintln!("bdctl: {e}");
                return exit::FAILED;
            }
        }
    }
    match audit::rotate::verify_all(path, &opts) {
        Ok(all) => {
            print_rotated(&all);
            let s = all.total;
            println!(
                "{}: valid chain of {} records ({} recoveries), last seq {}, head {}",
                path.display(),
                s.records,
                s.recoveries,
                s.last_seq,
                crate::policy::hash::hex(&s.head)
            );
            print_mac_summary(&s, key.is_some());
            exit::OK
        }
        Err(e) => {
            eprintln!("bdctl: {e}");
            if e.is_torn_tail() {
                exit::TORN_TAIL
            } else {
                exit::FAILED
            }
        }
    }
}

/// `bdctl audit cross-check`: 0 the file and the journal agree, 1 the
/// file lacks or contradicts journal entries (truncated or rewritten), 4
/// only the journal lacks records, 2 the file or journal can't be read.
pub fn cross_check(path: &Path, directory: Option<&Path>) -> i32 {
    use crate::audit::cross_check as cc;
    let read = cc::file_records(path).and_then(|f| Ok((f, cc::read_journal(directory)?)));
    let (file, (journal, unusable)) = match read {
        Ok(x) => x,
        Err(e) => {
            eprintln!("bdctl: {}: {e}", path.display());
            return exit::USAGE;
        }
    };
    let r = cc::compare(&file, &journal, unusable);
    print!("{}", cc::render(&r));
    if r.file_problem() {
        println!(
            "cross-check: {}: the file lacks or contradicts the journal",
            path.display()
        );
        exit::FAILED
    } else if !r.missing_from_journal.is_empty() {
        println!(
            "cross-check: {}: the journal lacks records of the file",
            path.display()
        );
        exit::WARNINGS
    } else {
        println!(
            "cross-check: {}: the file and the journal agree",
            path.display()
        );
        exit::OK
    }
}

/// The epoch/MAC part of `bdctl audit verify`'s report.
pub fn print_mac_summary(s: &VerifySummary, keyed: bool) {
    let Some(e) = s.last_epoch else {
        if s.records > 0 {
            println!("no MACs: the log is not authenticated (no audit key installed)");
        }
        return;
    };
    let state = if s.sealed { "sealed" } else { "open" };
    if keyed {
        println!(
            "MACs verified: {} records, last epoch {e} ({} records, {state}); \
             {} records before the audit key existed",
            s.macs_checked, s.epoch_records, s.unauthenticated
        );
    } else {
        println!(
            "epochs consistent, last epoch {e} ({} records, {state}); MACs not checked \
             (give --key K0FILE)",
            s.epoch_records
        );
    }
}

/// `bdctl audit show [--file F] [--json]`.
pub fn show(path: &Path, json: bool) -> i32 {
    let mut out = std::io::stdout().lock();
    match audit::show::show(path, json, &mut out) {
        Ok(()) => exit::OK,
        // `bdctl audit show | head` is not an error.
        Err(e) if e.is_broken_pipe() => exit::OK,
        Err(e) => {
            eprintln!("bdctl: {e}");
            exit::FAILED
        }
    }
}

/// `bdctl audit rotate [--file F] [--keep N]`.
pub fn rotate(path: &Path, keep: Option<u64>) -> i32 {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        eprintln!("bdctl: {}: not a file path", path.display());
        return exit::USAGE;
    };
    let opts = RotateOptions {
        dir,
        name,
        keep,
        lock_timeout: Duration::from_secs(10),
        journal: true,
    };
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let key = || {
        crate::audit::key::load_host_audit_key().map_err(|e| audit::AuditError::key(&e.to_string()))
    };
    match do_rotate(&opts, host.as_bytes(), &key) {
        Ok(r) => {
            println!(
                "{}: rotated to {} (closing record seq {}{})",
                path.display(),
                r.rotated_to.display(),
                r.close_seq,
                if r.resumed {
                    ", an interrupted rotation finished"
                } else {
                    ""
                }
            );
            for d in &r.deleted {
                println!("{}: deleted by retention (recorded)", d.display());
            }
            match &r.retention_skipped {
                Some(why) => {
                    eprintln!("bdctl: retention skipped (nothing deleted): {why}");
                    exit::WARNINGS
                }
                None => exit::OK,
            }
        }
        Err(e) => {
            eprintln!("bdctl: {e}");
            exit::FAILED
        }
    }
}

/// The lines `bdctl audit verify` prints before the totals.
pub fn print_rotated(all: &VerifiedAll) {
    for (p, s) in &all.files {
        println!("{}: valid, seq {} (rotated)", p.display(), s.last_seq);
    }
    if all.retired_index > 0 {
        println!(
            "rotated files up to .{} were deleted by retention (recorded in the log)",
            all.retired_index
        );
    }
    if all.interrupted {
        println!(
            "the file ends with a rotation's closing record (a rotated file, or a rotation \
             interrupted before its rename: `bdctl audit rotate` finishes it)"
        );
    }
}
