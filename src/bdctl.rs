//! bdctl: the administrator's tool. Each subcommand is one function here;
//! the binary only parses arguments and calls [`run`].
#![forbid(unsafe_code)]

use crate::audit;
use crate::cli::{AuditCmd, BdctlArgs, BdctlCmd, PolicyCmd};
use crate::policy::lint::{self, Severity};
use crate::policy::load;
use std::path::Path;

/// Exit codes (documented in bdctl(8)).
pub mod exit {
    pub const OK: i32 = 0;
    /// Check failed: policy errors, or an invalid audit chain.
    pub const FAILED: i32 = 1;
    pub const USAGE: i32 = 2;
    /// `audit verify`: the log ends in a torn line that the next write
    /// will record as recovered.
    pub const TORN_TAIL: i32 = 3;
}

/// Run one bdctl command; returns the exit code.
pub fn run(args: BdctlArgs) -> i32 {
    match args.cmd {
        BdctlCmd::Policy {
            cmd: PolicyCmd::Check { file },
        } => policy_check(file.as_deref()),
        BdctlCmd::Doctor { bdexec } => doctor(&bdexec),
        BdctlCmd::Audit {
            cmd: AuditCmd::Verify { file },
        } => audit_verify(
            file.as_deref()
                .unwrap_or(Path::new(crate::paths::AUDIT_FILE)),
        ),
        BdctlCmd::Audit {
            cmd: AuditCmd::Show { file, json },
        } => {
            let path = file
                .as_deref()
                .unwrap_or(Path::new(crate::paths::AUDIT_FILE));
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
    }
}

fn policy_check(file: Option<&Path>) -> i32 {
    let loaded = match file {
        Some(f) => load::load_policy_from(f),
        None => load::load_policy(),
    };
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            println!("ERROR {e}");
            println!("errors: 1, warnings: 0, info: 0");
            return exit::FAILED;
        }
    };
    let mut findings = lint::lint(&loaded.policy);
    findings.extend(lint::lint_paths(&loaded.policy));
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    for f in &findings {
        println!("{f}");
    }
    let (e, w, i) = (
        count(Severity::Error),
        count(Severity::Warn),
        count(Severity::Info),
    );
    println!("errors: {e}, warnings: {w}, info: {i}");
    println!("policy hash: {}", crate::policy::hash::hex(&loaded.hash));
    if e > 0 { exit::FAILED } else { exit::OK }
}

fn audit_verify(path: &Path) -> i32 {
    match audit::verify::verify_file(path) {
        Ok(s) => {
            println!(
                "{}: valid chain of {} records ({} recoveries), last seq {}, head {}",
                path.display(),
                s.records,
                s.recoveries,
                s.last_seq,
                crate::policy::hash::hex(&s.head)
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("bdctl: {}: {e}", path.display());
            if e.is_torn_tail() {
                exit::TORN_TAIL
            } else {
                exit::FAILED
            }
        }
    }
}

fn doctor(bdexec: &Path) -> i32 {
    let loaded = load::load_policy();
    let (text, ok) = crate::doctor::report(bdexec, loaded.as_ref().ok().map(|l| &l.policy));
    print!("{text}");
    match &loaded {
        Ok(_) => println!("policy: ok"),
        Err(e) => println!("policy: FAIL {e}"),
    }
    if ok && loaded.is_ok() {
        println!("doctor: everything essential is in place");
        exit::OK
    } else {
        println!("doctor: problems found (FAIL lines above)");
        exit::FAILED
    }
}
