//! `bdctl audit rotate` and the rotated-file lines of `bdctl audit
//! verify` (the logic is in [`super::rotate`]).
#![forbid(unsafe_code)]

use super::rotate::{RotateOptions, VerifiedAll, rotate as do_rotate};
use crate::cli::bdctl_exit as exit;
use std::path::Path;
use std::time::Duration;

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
    let key =
        || super::key::load_host_audit_key().map_err(|e| super::AuditError::key(&e.to_string()));
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
