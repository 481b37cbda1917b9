//! bdctl: the administrator's tool. Each subcommand is one function here;
//! the binary only parses arguments and calls [`run`].
#![forbid(unsafe_code)]

use crate::audit;
use crate::cli::{AuditCmd, BdctlArgs, BdctlCmd, PolicyCmd};
use crate::policy::lint::{self, Severity};
use crate::policy::load;
use std::path::Path;

pub use crate::cli::bdctl_exit as exit;

/// Run one bdctl command; returns the exit code.
pub fn run(args: BdctlArgs) -> i32 {
    match args.cmd {
        BdctlCmd::Policy {
            cmd:
                PolicyCmd::Check {
                    file,
                    json,
                    offline,
                },
        } => policy_check(file.as_deref(), json, offline),
        BdctlCmd::Policy {
            cmd: PolicyCmd::Hash { file, json },
        } => policy_hash(file.as_deref(), json),
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
                crate::cli::DevCmd::PolicyDiff {
                    a,
                    b,
                    json,
                    allow_widen,
                },
        } => policy_diff(&a, &b, json, allow_widen),
        BdctlCmd::Policy {
            cmd: PolicyCmd::Pin { show },
        } => policy_pin(show),
        BdctlCmd::Import {
            cmd:
                crate::cli::ImportCmd::Sudoers {
                    file,
                    output,
                    host,
                    report,
                },
        } => import_sudoers(&file, output.as_deref(), host, report),
        BdctlCmd::Doctor {
            otlp: Some(url), ..
        } => crate::telemetry::cmd::doctor_otlp(&url),
        BdctlCmd::Doctor { bdexec, otlp: None } => doctor(&bdexec),
        BdctlCmd::Metrics { textfile, cmd } => {
            crate::telemetry::cmd::metrics(textfile.as_deref(), cmd)
        }
        BdctlCmd::Export { cmd } => crate::telemetry::cmd::export(cmd),
        BdctlCmd::Token { cmd } => crate::auth::tokens::cmd::run(cmd),
        BdctlCmd::Freeze { reason } => crate::incident::cmd::freeze(&reason),
        BdctlCmd::Unfreeze { token } => crate::incident::cmd::unfreeze(&token),
        BdctlCmd::Status { json } => crate::incident::cmd::status(json),
        BdctlCmd::Hydra { json } => crate::incident::cmd::hydra(json),
        BdctlCmd::Tune { file, write } => {
            crate::incident::cmd::tune(file.as_deref(), write.as_deref())
        }
        BdctlCmd::Audit {
            cmd: AuditCmd::Verify { file, key },
        } => audit_verify(
            file.as_deref()
                .unwrap_or(Path::new(crate::paths::AUDIT_FILE)),
            key.as_deref(),
        ),
        BdctlCmd::Audit {
            cmd: AuditCmd::Rotate { file, keep },
        } => crate::audit::rotate_cmd::rotate(
            file.as_deref()
                .unwrap_or(Path::new(crate::paths::AUDIT_FILE)),
            keep,
        ),
        BdctlCmd::Key { cmd } => crate::auth::keys_cmd::run(cmd),
        BdctlCmd::Audit {
            cmd: AuditCmd::CrossCheck { file, directory },
        } => audit_cross_check(
            file.as_deref()
                .unwrap_or(Path::new(crate::paths::AUDIT_FILE)),
            directory.as_deref(),
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

/// `println!` for policy check and hash that ignores a closed stdout
/// (`bdctl policy check | head` is not an error, and must not panic).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `bdctl policy check [FILE] [--json] [--offline]`: parse, lint, print
/// the findings and `errors: N, warnings: N, info: N`. Exit 1 when the
/// policy does not load or has an ERROR, 4 when its highest tier is WARN,
/// 0 otherwise (documented in docs/lint.md and bdctl(8)).
fn policy_check(file: Option<&Path>, json: bool, offline: bool) -> i32 {
    let loaded = match file {
        Some(f) => load::load_policy_from(f),
        None => load::load_policy(),
    };
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            if json {
                outln!("{}", lint::report_json_load_error(&e));
            } else {
                outln!("ERROR {e}");
                outln!("errors: 1, warnings: 0, info: 0");
            }
            return exit::FAILED;
        }
    };
    let mut findings = lint::lint(&loaded.policy);
    if !offline {
        findings.extend(lint::lint_paths(&loaded.policy));
        findings.extend(lint::lint_accounts(&loaded.policy));
    }
    let counts = lint::counts(&findings);
    if json {
        outln!("{}", lint::report_json(&findings, Some(&loaded.hash)));
    } else {
        for f in &findings {
            outln!("{f}");
        }
        outln!(
            "errors: {}, warnings: {}, info: {}",
            counts.error,
            counts.warn,
            counts.info
        );
        outln!("policy hash: {}", crate::policy::hash::hex(&loaded.hash));
    }
    match counts.highest() {
        Some(Severity::Error) => exit::FAILED,
        Some(Severity::Warn) => exit::WARNINGS,
        _ => exit::OK,
    }
}

/// `bdctl policy hash [FILE] [--json]`: the canonical hash and the four
/// segment hashes. Exit 1 when the policy does not load.
fn policy_hash(file: Option<&Path>, json: bool) -> i32 {
    use crate::policy::hash::{hex, segment_hashes};
    let loaded = match file {
        Some(f) => load::load_policy_from(f),
        None => load::load_policy(),
    };
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bdctl: {e}");
            return exit::FAILED;
        }
    };
    let seg = segment_hashes(&loaded.policy);
    let source = file.map_or_else(
        || crate::paths::POLICY_FILE.to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    if json {
        let v = serde_json::json!({
            "source": source,
            "dropins": file.is_none(),
            "hash": hex(&loaded.hash),
            "segments": {
                "auth": hex(&seg.auth),
                "rate": hex(&seg.rate),
                "sandbox": hex(&seg.sandbox),
                "decoy": hex(&seg.decoy),
            },
        });
        outln!("{v}");
    } else {
        outln!("policy:  {}", hex(&loaded.hash));
        outln!("auth:    {}", hex(&seg.auth));
        outln!("rate:    {}", hex(&seg.rate));
        outln!("sandbox: {}", hex(&seg.sandbox));
        outln!("decoy:   {}", hex(&seg.decoy));
    }
    exit::OK
}

fn audit_verify(path: &Path, key: Option<&Path>) -> i32 {
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
            crate::audit::rotate_cmd::print_rotated(&all);
            let s = all.total;
            println!(
                "{}: valid chain of {} records ({} recoveries), last seq {}, head {}",
                path.display(),
                s.records,
                s.recoveries,
                s.last_seq,
                crate::policy::hash::hex(&s.head)
            );
            crate::auth::keys_cmd::print_mac_summary(&s, key.is_some());
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
fn audit_cross_check(path: &Path, directory: Option<&Path>) -> i32 {
    use audit::cross_check as cc;
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

/// `bdctl policy diff A B`: 0 nothing widens (or `--allow-widen`), 1
/// something widens, 2 a file could not be loaded.
fn policy_diff(a: &Path, b: &Path, json: bool, allow_widen: bool) -> i32 {
    let load = |p: &Path| {
        load::load_policy_from(p).map_err(|e| {
            eprintln!("bdctl: {e}");
        })
    };
    let (Ok(la), Ok(lb)) = (load(a), load(b)) else {
        return exit::USAGE;
    };
    let d = crate::policy::diff::diff(&la.policy, &lb.policy);
    if json {
        println!("{}", d.render_json());
    } else {
        print!("{}", d.render_text());
    }
    if d.widens() && !allow_widen {
        exit::FAILED
    } else {
        exit::OK
    }
}

/// `bdctl policy pin [--show]`.
fn policy_pin(show: bool) -> i32 {
    use crate::policy::lock;
    if show {
        return match lock::read_lock() {
            Ok(Some(l)) => {
                print!("{}", l.render());
                exit::OK
            }
            Ok(None) => {
                eprintln!(
                    "bdctl: no policy lock ({}/{})",
                    crate::paths::CONF_DIR,
                    lock::LOCK_NAME
                );
                exit::FAILED
            }
            Err(e) => {
                eprintln!("bdctl: {e}");
                exit::FAILED
            }
        };
    }
    let uid = nix::unistd::getuid();
    if !nix::unistd::geteuid().is_root() {
        eprintln!("bdctl: policy pin must run as root");
        return exit::FAILED;
    }
    let loaded = match load::load_policy() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bdctl: {e}");
            return exit::FAILED;
        }
    };
    let by = lock::PinnedBy {
        uid: uid.as_raw(),
        name: nix::unistd::User::from_uid(uid)
            .ok()
            .flatten()
            .map(|u| u.name),
    };
    let now = crate::audit::record::rfc3339(std::time::SystemTime::now());
    match lock::pin(&loaded, &by, &now) {
        Ok(l) => {
            println!(
                "pinned {} to {}/{}",
                crate::policy::hash::hex(&l.hash),
                crate::paths::CONF_DIR,
                lock::LOCK_NAME
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("bdctl: {e}");
            exit::FAILED
        }
    }
}

/// `bdctl import sudoers`: 0 imported (warnings or not), 1 refused.
fn import_sudoers(file: &Path, output: Option<&Path>, host: Option<String>, report: bool) -> i32 {
    use crate::policy::import;
    let hostname = match host {
        Some(h) => h,
        None => nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let imported = match import::import_file(file, &import::Options { hostname }) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("bdctl: import refused: {e}");
            return exit::FAILED;
        }
    };
    for w in &imported.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!(
        "bdctl: imported {} rules, {} warnings",
        imported.rules,
        imported.warnings.len()
    );
    let written = match output {
        Some(out) => {
            std::fs::write(out, &imported.toml).map_err(|e| format!("{}: {e}", out.display()))
        }
        None => Ok(()),
    };
    let stdout_text = match (report, output) {
        (true, _) => Some(imported.report_table()),
        (false, None) => Some(imported.toml.clone()),
        (false, Some(_)) => None,
    };
    let written = match (written, stdout_text) {
        (Err(e), _) => Err(e),
        (Ok(()), None) => Ok(()),
        (Ok(()), Some(text)) => {
            use std::io::Write;
            let mut o = std::io::stdout().lock();
            match o.write_all(text.as_bytes()).and_then(|()| o.flush()) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(format!("stdout: {e}")),
            }
        }
    };
    match written {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("bdctl: {e}");
            exit::FAILED
        }
    }
}
