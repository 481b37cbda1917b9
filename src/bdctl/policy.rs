//! `bdctl policy check | hash | diff | pin` (and the `dev policy-diff`
//! alias): the installed policy or a given file, linted, hashed,
//! compared or pinned (docs/lint.md, docs/policy-diff.md, bdctl(8)).
#![forbid(unsafe_code)]

use super::exit;
use crate::policy::lint::{self, Severity};
use crate::policy::load;
use std::path::Path;

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
pub fn check(file: Option<&Path>, json: bool, offline: bool) -> i32 {
    let loaded = super::load_policy(file);
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
    let findings = if offline {
        lint::lint(&loaded.policy)
    } else {
        lint_on_host(&loaded.policy)
    };
    let counts = lint::counts(&findings);
    if json {
        outln!("{}", lint::report_json(&findings, Some(&loaded.hash)));
    } else {
        // One buffer for the whole report, not one write per line (10,000
        // findings were 10,000 write calls); errors ignored as in `outln!`.
        use std::io::Write as _;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for f in &findings {
            let _ = writeln!(out, "{f}");
        }
        let _ = writeln!(
            out,
            "errors: {}, warnings: {}, info: {}",
            counts.error, counts.warn, counts.info
        );
        let _ = writeln!(
            out,
            "policy hash: {}",
            crate::policy::hash::hex(&loaded.hash)
        );
        let _ = out.flush();
    }
    match counts.highest() {
        Some(Severity::Error) => exit::FAILED,
        Some(Severity::Warn) => exit::WARNINGS,
        _ => exit::OK,
    }
}

/// Every check, the host's included, in the order of the report: the
/// policy's own checks, its paths, its accounts. The NSS lookups of the
/// accounts (one blocking call per name: 10,000 unknown names took 0.6 s
/// of a 0.9 s run alone) run on worker threads while this thread does
/// the other checks; each name is still looked up once, every one of
/// them (docs/performance.md).
///
/// Where NSS asks /etc/passwd (/etc/group) first, that file is read once
/// ([`crate::identity::files_source`]): a name it holds is known without a
/// lookup (glibc reads the whole file for every name it is asked, so a
/// policy naming 10,000 accounts of a 10,000-line /etc/passwd took
/// 2.3 s), and a name it lacks is asked of the sources after `files`
/// alone, which is where NSS goes after the files miss (the file is not
/// read again to miss: a fifth of an unknown name's lookup). Lines the
/// one read is unsure of, and every name on other hosts, are asked of
/// NSS's whole line, first.
fn lint_on_host(p: &crate::policy::model::Policy) -> Vec<lint::Finding> {
    use crate::identity::{FilesSource, ask_only, files_source};
    use std::collections::HashMap;
    let lookup = |&(is_group, name): &lint::AccountName<'_>| lint::lookup_account(is_group, name);
    let users = files_source("passwd");
    let groups = files_source("group");
    let mut known: HashMap<lint::AccountName<'_>, lint::AccountLookup> = HashMap::new();
    let (mut whole, mut after_files) = (Vec::new(), Vec::new());
    for n in lint::account_names(p) {
        let files = if n.0 { &groups } else { &users };
        match files {
            Some(f) if f.names.contains(n.1) => {
                known.insert(n, Ok(true));
            }
            Some(FilesSource {
                odd,
                rest: Some(rest),
                ..
            }) if !odd.contains(n.1) => {
                if rest.is_empty() {
                    // `files` alone, and the file lacks the name.
                    known.insert(n, Ok(false));
                } else {
                    after_files.push(n);
                }
            }
            _ => whole.push(n),
        }
    }
    // The whole line first: few names where the files come first.
    let threads = if whole.len() > 64 {
        super::parallel::workers()
    } else {
        0
    };
    let (answers, ()) = super::parallel::map_while(&whole, threads, lookup, || ());
    known.extend(whole.into_iter().zip(answers));
    // Then NSS without `files`, while no other thread runs (the first
    // lookups' threads are joined). Should glibc refuse, the lookups go
    // through the whole line: the same answers.
    for (db, files, is_group) in [("passwd", &users, false), ("group", &groups, true)] {
        if let Some(FilesSource {
            rest: Some(rest), ..
        }) = files
            && !rest.is_empty()
            && after_files.iter().any(|n| n.0 == is_group)
        {
            let _ = ask_only(db, rest);
        }
    }
    let (answers, mut findings) =
        super::parallel::map_while(&after_files, super::parallel::workers(), lookup, || {
            let mut f = lint::lint(p);
            f.extend(lint::lint_paths(p));
            f
        });
    known.extend(after_files.into_iter().zip(answers));
    findings.extend(lint::lint_accounts_with(p, &known));
    findings
}

/// `bdctl policy hash [FILE] [--json]`: the canonical hash and the four
/// segment hashes. Exit 1 when the policy does not load.
pub fn hash(file: Option<&Path>, json: bool) -> i32 {
    use crate::policy::hash::{hex, segment_hashes};
    let loaded = super::load_policy(file);
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bdctl: {e}");
            return exit::FAILED;
        }
    };
    let seg = segment_hashes(&loaded.policy);
    let source = file.map_or_else(
        || crate::base::paths::POLICY_FILE.to_string(),
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

/// `bdctl policy diff A B`: 0 nothing widens (or `--allow-widen`), 1
/// something widens, 2 a file could not be loaded.
pub fn diff(a: &Path, b: &Path, json: bool, allow_widen: bool) -> i32 {
    let load = |p: &Path| {
        load::load_policy_from(p).map_err(|e| {
            eprintln!("bdctl: {e}");
        })
    };
    let (Ok(la), Ok(lb)) = (load(a), load(b)) else {
        return exit::USAGE;
    };
    let d = crate::review::diff::diff(&la.policy, &lb.policy);
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
pub fn pin(show: bool) -> i32 {
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
                    crate::base::paths::CONF_DIR,
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
                crate::base::paths::CONF_DIR,
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
