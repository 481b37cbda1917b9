//! bdctl, the administrator's tool: the admin CLI in one wing. The
//! binary parses [`args::BdctlArgs`] and calls [`run`]; [`run`] hands each
//! subcommand to its command family, one file each:
//!
//! * [`policy`]: `policy check | hash | diff | pin` (and `dev policy-diff`);
//! * [`import`]: `import sudoers`;
//! * [`audit`]: `audit verify | show | rotate | cross-check`;
//! * [`key`]: `key gen | rotate | show | verify`;
//! * [`token`]: `token sign | verify`;
//! * [`doctor`]: `doctor [--otlp URL]`;
//! * [`telemetry`]: `metrics [serve]`, `export otlp`;
//! * [`incident`]: `freeze`, `unfreeze`, `status`, `hydra`;
//! * [`tune`]: `tune`, the decoy alarm's advice;
//! * [`replay`]: `replay`, a session recording played back.
//!
//! The exit codes are defined once, in [`exit`]. The wing sits above the
//! library: it calls policy, audit, auth, telemetry and incident; nothing
//! below it imports `crate::bdctl`. No file of the wing uses unsafe code
//! (the one prctl doctor needs is in src/sys).
#![forbid(unsafe_code)]

pub mod args;
pub mod audit;
pub mod doctor;
pub mod exit;
pub mod import;
pub mod incident;
pub mod key;
mod parallel;
pub mod policy;
pub mod replay;
pub mod telemetry;
pub mod token;
pub mod tune;

use crate::policy::PolicyError;
use crate::policy::load::Loaded;
use args::{AuditCmd, BdctlArgs, BdctlCmd, DevCmd, ImportCmd, PolicyCmd};
use std::path::{Path, PathBuf};

/// The audit log a command reads: `--file` or the installed one.
fn audit_file(file: Option<&PathBuf>) -> &Path {
    file.map_or(Path::new(crate::base::paths::AUDIT_FILE), PathBuf::as_path)
}

/// The policy a command reads: FILE alone, or the installed one with its
/// drop-ins.
fn load_policy(file: Option<&Path>) -> Result<Loaded, PolicyError> {
    match file {
        Some(f) => crate::policy::load::load_policy_from(f),
        None => crate::policy::load::load_policy(),
    }
}

/// Commands that only read and print: when their reader goes away
/// (`bdctl audit show | head`) they end by SIGPIPE, quietly, like any
/// Unix filter, instead of failing to print. Commands that change state
/// keep SIGPIPE ignored, so a closed pipe never stops them half-way.
fn only_prints(cmd: &BdctlCmd) -> bool {
    match cmd {
        BdctlCmd::Policy { cmd } => !matches!(cmd, PolicyCmd::Pin { show: false }),
        BdctlCmd::Audit { cmd } => !matches!(cmd, AuditCmd::Rotate { .. }),
        BdctlCmd::Dev { .. } | BdctlCmd::Status { .. } | BdctlCmd::Hydra { .. } => true,
        BdctlCmd::Replay { .. } => true,
        BdctlCmd::Tune { write, .. } => write.is_none(),
        BdctlCmd::Import {
            cmd: ImportCmd::Sudoers { output, .. },
        } => output.is_none(),
        _ => false,
    }
}

/// Run one bdctl command; returns the exit code.
pub fn run(args: BdctlArgs) -> i32 {
    if only_prints(&args.cmd) {
        let _ = crate::sys::proc::set_disposition(
            libc::SIGPIPE,
            crate::sys::proc::Disposition::Default,
        );
    }
    match args.cmd {
        BdctlCmd::Policy {
            cmd:
                PolicyCmd::Check {
                    file,
                    json,
                    offline,
                },
        } => policy::check(file.as_deref(), json, offline),
        BdctlCmd::Policy {
            cmd: PolicyCmd::Hash { file, json },
        } => policy::hash(file.as_deref(), json),
        BdctlCmd::Policy {
            cmd:
                PolicyCmd::Diff {
                    a,
                    b,
                    json,
                    allow_widen,
                },
        }
        | BdctlCmd::Dev {
            cmd:
                DevCmd::PolicyDiff {
                    a,
                    b,
                    json,
                    allow_widen,
                },
        } => policy::diff(&a, &b, json, allow_widen),
        BdctlCmd::Policy {
            cmd: PolicyCmd::Pin { show },
        } => policy::pin(show),
        BdctlCmd::Import {
            cmd:
                ImportCmd::Sudoers {
                    file,
                    output,
                    host,
                    report,
                },
        } => import::sudoers(&file, output.as_deref(), host, report),
        BdctlCmd::Doctor {
            otlp: Some(url), ..
        } => doctor::otlp(&url),
        BdctlCmd::Doctor { bdexec, otlp: None } => doctor::run(&bdexec),
        BdctlCmd::Metrics { textfile, cmd } => telemetry::metrics(textfile.as_deref(), cmd),
        BdctlCmd::Export { cmd } => telemetry::export(cmd),
        BdctlCmd::Token { cmd } => token::run(cmd),
        BdctlCmd::Freeze { reason } => incident::freeze(&reason),
        BdctlCmd::Unfreeze { token } => incident::unfreeze(&token),
        BdctlCmd::Status { json } => incident::status(json),
        BdctlCmd::Hydra { json } => incident::hydra(json),
        BdctlCmd::Tune {
            file,
            trace_budget,
            write,
        } => tune::tune(file.as_deref(), trace_budget, write.as_deref()),
        BdctlCmd::Replay {
            uuid,
            raw,
            speed,
            file,
        } => replay::replay(&replay::Replay {
            uuid: &uuid,
            raw,
            speed,
            log: audit_file(file.as_ref()),
        }),
        BdctlCmd::Key { cmd } => key::run(cmd),
        BdctlCmd::Audit { cmd } => match cmd {
            AuditCmd::Verify { file, key } => {
                audit::verify(audit_file(file.as_ref()), key.as_deref())
            }
            AuditCmd::Rotate { file, keep } => audit::rotate(audit_file(file.as_ref()), keep),
            AuditCmd::CrossCheck { file, directory } => {
                audit::cross_check(audit_file(file.as_ref()), directory.as_deref())
            }
            AuditCmd::Show { file, json } => audit::show(audit_file(file.as_ref()), json),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every `.rs` file under `dir`, recursively.
    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// The wing sits above the library: no module outside `src/bdctl/`
    /// and `src/bin/` names `crate::bdctl` in code (comments aside).
    #[test]
    fn nothing_below_the_wing_imports_it() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut offenders = Vec::new();
        for f in files {
            let rel = f.strip_prefix(&src).unwrap();
            if rel.starts_with("bdctl") || rel.starts_with("bin") || rel == Path::new("lib.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if !code.starts_with("//") && code.contains("crate::bdctl") {
                    offenders.push(format!("{}:{}: {code}", rel.display(), n + 1));
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "the library imports the CLI:\n{offenders:#?}"
        );
        // The test can fail: it reads this crate's real sources.
        assert!(src.join("bdctl/mod.rs").is_file());
    }
}
