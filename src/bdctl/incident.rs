//! `bdctl freeze`, `bdctl unfreeze`, `bdctl status`, `bdctl hydra`
//! (docs/incident-response.md; the logic is in [`crate::incident`]).
//! Every transition and every refused unfreeze is an audit record,
//! chained like any other.
#![forbid(unsafe_code)]

use super::exit;
use crate::audit::{self, AppendOptions, Event, Record};
use crate::auth::tokens::{self, unfreeze_claims};
use crate::incident::freeze::{self, Cause, FreezeInfo, State};
use crate::incident::hydra;
use crate::policy::model::Approval;
use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

/// Longest `--reason`, in bytes.
pub const MAX_REASON: usize = 512;

/// Append one incident record as the calling administrator.
pub fn record(event: Event, reason: &str) -> Result<(), String> {
    let uid = nix::unistd::getuid();
    let gid = nix::unistd::getgid();
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name);
    let host = nix::unistd::gethostname()
        .map(|h| std::os::unix::ffi::OsStrExt::as_bytes(h.as_os_str()).to_vec())
        .unwrap_or_default();
    let reason = String::from_utf8_lossy(audit::record::cut_at(
        reason.as_bytes(),
        audit::record::FIELD_MAX,
    ))
    .into_owned();
    let rec = Record {
        event,
        time: std::time::SystemTime::now(),
        uuid: audit::new_uuid().map_err(|e| e.to_string())?,
        host: &host,
        pid: std::process::id(),
        submituser: name.as_deref(),
        submituid: uid.as_raw(),
        submitgid: gid.as_raw(),
        ttyname: None,
        submitcwd: None,
        runuser: None,
        runuid: None,
        rungid: None,
        command: None,
        runargv: &[],
        rule: None,
        reason: &reason,
        policy_hash: None,
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
    };
    audit::append(&rec, &AppendOptions::system())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn need_root(what: &str) -> Result<(), i32> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        eprintln!("bdctl: {what} must run as root");
        Err(exit::FAILED)
    }
}

fn state_dir() -> Result<OwnedFd, i32> {
    crate::state::open_state_dir().map_err(|e| {
        eprintln!("bdctl: {e}");
        exit::FAILED
    })
}

/// `bdctl freeze --reason TEXT`.
pub fn freeze(reason: &str) -> i32 {
    if let Err(c) = need_root("freeze") {
        return c;
    }
    if reason.trim().is_empty() || reason.len() > MAX_REASON || reason.chars().any(char::is_control)
    {
        eprintln!(
            "bdctl: --reason must be 1 to {MAX_REASON} bytes of text without control characters"
        );
        return exit::USAGE;
    }
    let run = match state_dir() {
        Ok(d) => d,
        Err(c) => return c,
    };
    let info = FreezeInfo {
        since: freeze::now_secs(),
        reason: reason.to_string(),
        cause: Cause::Manual,
        uid: nix::unistd::getuid().as_raw(),
    };
    freeze_with(&run, &info)
}

/// Freeze with `info`, record it (when this call froze the host) and
/// count it. Used by `bdctl freeze`; bdexec's automatic freeze records
/// through its own context.
fn freeze_with(run: &OwnedFd, info: &FreezeInfo) -> i32 {
    match freeze::freeze(run.as_fd(), info) {
        Ok(true) => {
            crate::incident::counters::bump_freeze(info.cause);
            let why = format!("cause={}; {}", info.cause.as_str(), info.reason);
            if let Err(e) = record(Event::Freeze, &why) {
                eprintln!("bdctl: the host is frozen, but the record could not be written: {e}");
                return exit::FAILED;
            }
            println!("frozen: {}", info.reason);
            exit::OK
        }
        Ok(false) => {
            println!("already frozen (unchanged)");
            exit::OK
        }
        Err(e) => {
            eprintln!("bdctl: cannot freeze: {e}");
            exit::FAILED
        }
    }
}

/// Refuse an unfreeze: record why, say it, exit 1.
fn refuse(why: &str) -> i32 {
    let rec = record(Event::UnfreezeRefused, why);
    eprintln!("bdctl: unfreeze refused: {why}");
    if let Err(e) = rec {
        eprintln!("bdctl: (and the refusal could not be recorded: {e})");
    }
    exit::FAILED
}

/// `bdctl unfreeze --token A [--token B ...]`: M-of-N tokens of purpose
/// unfreeze from `[incident] unfreeze_approvers`, bound to this host,
/// all verified, then all nonces consumed at once (namespace "unfreeze"),
/// then the flag removed.
pub fn unfreeze(token_files: &[PathBuf]) -> i32 {
    if let Err(c) = need_root("unfreeze") {
        return c;
    }
    let run = match state_dir() {
        Ok(d) => d,
        Err(c) => return c,
    };
    let was = freeze::check(run.as_fd());
    if !was.is_frozen() {
        return refuse("the host is not frozen");
    }
    match check_tokens(&run, token_files) {
        Ok(names) => {
            if let Err(e) = freeze::thaw(run.as_fd()) {
                return refuse(&format!(
                    "tokens accepted and used, but the flag could not be removed: {e}"
                ));
            }
            crate::incident::counters::bump_unfreeze(match &was {
                State::Frozen { info: Some(i), .. } => Some(i.cause),
                _ => None,
            });
            let since = match &was {
                State::Frozen { info: Some(i), .. } => {
                    format!("; frozen since {} ({})", i.since, i.cause.as_str())
                }
                _ => String::new(),
            };
            let why = format!("approved by {}{since}", names.join(", "));
            if let Err(e) = record(Event::Unfreeze, &why) {
                eprintln!("bdctl: unfrozen, but the record could not be written: {e}");
                return exit::FAILED;
            }
            println!("unfrozen: {why}");
            exit::OK
        }
        Err(why) => refuse(&why),
    }
}

/// Verify the unfreeze tokens and consume their nonces (all or none).
fn check_tokens(run: &OwnedFd, token_files: &[PathBuf]) -> Result<Vec<String>, String> {
    let loaded = crate::policy::load::load_policy().map_err(|e| format!("policy: {e}"))?;
    let policy = &loaded.policy;
    let s = policy.incident.settings_or_default();
    if token_files.len() > tokens::MAX_TOKENS {
        return Err(tokens::TokenError::TooManyTokens.to_string());
    }
    let mut parsed = Vec::with_capacity(token_files.len());
    for p in token_files {
        let text = tokens::read_token_file(p).map_err(|e| format!("{}: {e}", p.display()))?;
        parsed.push(tokens::parse(&text).map_err(|e| format!("{}: {e}", p.display()))?);
    }
    let (host, machine_id) = tokens::host_identity()?;
    let clock = crate::bdexec::recv::read_clock(run).map_err(|e| e.to_string())?;
    let argv: Vec<OsString> = unfreeze_claims::ARGV.iter().map(OsString::from).collect();
    let expect = tokens::Expect {
        user: unfreeze_claims::USER,
        argv: &argv,
        run_as: unfreeze_claims::USER,
        host: &host,
        machine_id: &machine_id,
        purpose: tokens::Purpose::Unfreeze,
        ns: unfreeze_claims::NS,
        now: clock.effective_now,
    };
    let req = Approval {
        approvals: s.unfreeze_approvals,
        approvers: s.unfreeze_approvers.clone(),
        nonce_namespace: unfreeze_claims::NS.to_string(),
    };
    let verified = tokens::verify_set_for(&parsed, &req, &policy.approvers, &expect)
        .map_err(|e| e.to_string())?;
    let items: Vec<([u8; 16], u64)> = verified
        .iter()
        .map(|v| {
            let (_, n, exp) = v.replay_key();
            (*n, exp)
        })
        .collect();
    crate::state::nonce::consume_all(
        run.as_fd(),
        unfreeze_claims::NS,
        &items,
        &clock,
        crate::state::nonce::DEFAULT_CAP,
    )
    .map_err(|e| format!("unfreeze token: {e}"))?;
    Ok(verified.iter().map(|v| v.approver().to_string()).collect())
}

/// `bdctl status [--json]`.
pub fn status(json: bool) -> i32 {
    if let Err(c) = need_root("status") {
        return c;
    }
    let run = match state_dir() {
        Ok(d) => d,
        Err(c) => return c,
    };
    let st = freeze::check(run.as_fd());
    let (info, problem) = match &st {
        State::Thawed => (None, None),
        State::Frozen { info, problem } => (info.clone(), problem.clone()),
    };
    let counters = crate::incident::counters::read();
    let scores = scores_json(&hydra_scores());
    if json {
        let v = serde_json::json!({
            "frozen": st.is_frozen(),
            "since": info.as_ref().map(|i| i.since),
            "reason": info.as_ref().map(|i| i.reason.clone()),
            "cause": info.as_ref().map(|i| i.cause.as_str()),
            "problem": problem,
            "counters": counters,
            "scores": scores,
        });
        println!("{v}");
    } else {
        println!("frozen: {}", if st.is_frozen() { "yes" } else { "no" });
        if let Some(i) = &info {
            println!("since:  {}", i.since);
            println!("cause:  {}", i.cause.as_str());
            println!(
                "reason: {}",
                crate::base::escape::display(i.reason.as_bytes())
            );
        }
        if let Some(p) = &problem {
            println!("problem: {}", crate::base::escape::display(p.as_bytes()));
        }
        println!("counters: {counters}");
        println!("scores: {scores}");
    }
    exit::OK
}

/// (uid, score now, decayed heads) of every scored uid, highest first.
fn hydra_scores() -> Vec<(u32, f64, [f64; hydra::HEADS])> {
    let mut h = hydra::read();
    let now = hydra::now_stamp();
    for heads in h.users.values_mut() {
        heads.decay_to(&now);
    }
    // The novelty head, from the log's accepts (wall-clock ages). bdexec
    // counts the same events itself when `auto_freeze` is on
    // (incident::novelty): the larger of the two is shown, never the sum.
    let novel =
        crate::incident::tuner::novelty(std::path::Path::new(crate::base::paths::AUDIT_FILE))
            .unwrap_or_default();
    let mut from_log: std::collections::BTreeMap<u32, f64> = std::collections::BTreeMap::new();
    for (uid, t) in novel {
        let age = now.wall.saturating_sub(t) as f64;
        let w = libm::exp(-age * std::f64::consts::LN_2 / hydra::HALF_LIFE_SECS);
        if w >= 1e-9 {
            *from_log.entry(uid).or_default() += w;
        }
    }
    for (uid, w) in from_log {
        let e = h.users.entry(uid).or_insert(hydra::Heads {
            counts: [0.0; hydra::HEADS],
            at: now,
        });
        let c = &mut e.counts[hydra::Head::Novelty as usize];
        *c = c.max(w);
    }
    let mut v: Vec<(u32, f64, [f64; hydra::HEADS])> = h
        .users
        .iter()
        .map(|(uid, heads)| {
            let mut d = *heads;
            d.decay_to(&now);
            (*uid, hydra::score(&d.counts), d.counts)
        })
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn scores_json(v: &[(u32, f64, [f64; hydra::HEADS])]) -> serde_json::Value {
    let mut all: Vec<f64> = v.iter().map(|x| x.1).collect();
    let users: Vec<serde_json::Value> = v
        .iter()
        .map(|(uid, s, heads)| {
            let mut o = serde_json::Map::new();
            o.insert("uid".into(), (*uid).into());
            o.insert("score".into(), round3(*s).into());
            for (n, c) in hydra::HEAD_NAMES.iter().zip(heads) {
                o.insert((*n).into(), round3(*c).into());
            }
            serde_json::Value::Object(o)
        })
        .collect();
    serde_json::json!({
        "users": users,
        "p50": round3(hydra::percentile(&mut all, 50)),
        "p95": round3(hydra::percentile(&mut all, 95)),
        "p99": round3(hydra::percentile(&mut all, 99)),
    })
}

/// `bdctl hydra [--json]`.
pub fn hydra(json: bool) -> i32 {
    if let Err(c) = need_root("hydra") {
        return c;
    }
    let v = hydra_scores();
    let j = scores_json(&v);
    if json {
        println!("{j}");
        return exit::OK;
    }
    println!(
        "p50 {} p95 {} p99 {} ({} users)",
        j["p50"],
        j["p95"],
        j["p99"],
        v.len()
    );
    for (uid, s, heads) in &v {
        let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(*uid))
            .ok()
            .flatten()
            .map_or_else(|| format!("#{uid}"), |u| u.name);
        let detail: Vec<String> = hydra::HEAD_NAMES
            .iter()
            .zip(heads)
            .filter(|(_, c)| **c > 0.0)
            .map(|(n, c)| format!("{n}={:.2}", c))
            .collect();
        println!("{name:<16} {s:.3}  {}", detail.join(" "));
    }
    exit::OK
}
