//! bdexec's `auth` step for an allowed rule (DESIGN section 4): the
//! rule's authentication (PAM password with the timestamp cache, or M-of-N
//! signed approval tokens, each single-use through the nonce set), then
//! the rule's rate limit. Every function returns `Err(one line)` to
//! refuse; the caller records it.
#![forbid(unsafe_code)]

use crate::auth::{pam, timestamp, tokens, tty::TtyPrompt};
use crate::policy::model::{Policy, Rule};
use crate::state::{clock, nonce, rate};
use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

/// The per-boot clock, read once at the start of every call: a
/// wall/monotonic skew over 2 s is reported to syslog and root's stderr
/// (the caller also puts it in the audit record).
pub fn read_clock(state_dir: &OwnedFd) -> Result<clock::Clock, String> {
    let c = clock::now(state_dir.as_fd()).map_err(|e| e.to_string())?;
    if let Some(skew) = c.skew {
        let msg = format!(
            "wall clock moved {skew:+} s against the monotonic clock since this boot's anchor"
        );
        crate::alert::syslog(&msg);
        if crate::exec::privileges::caller_uid() == 0 {
            crate::stdio::err_line(&format!("bdexec: warning: {msg}\n"));
        }
    }
    Ok(c)
}

/// How [`password`] may ask and cache.
pub struct PasswordOptions {
    /// `-n`: never prompt.
    pub non_interactive: bool,
    /// False for `-k CMD`: the timestamp is neither used nor renewed.
    pub cache: bool,
}

/// `auth = "password"`: a valid timestamp for this uid and terminal
/// session, or PAM (auth + account) on the controlling terminal.
pub fn password(
    user: Option<&str>,
    uid: u32,
    state_dir: &OwnedFd,
    timeout_secs: u64,
    opts: &PasswordOptions,
) -> Result<(), String> {
    let user = user.ok_or("the caller has no user name; password authentication needs one")?;
    let non_interactive = opts.non_interactive;
    let timeout = if opts.cache {
        Duration::from_secs(timeout_secs)
    } else {
        Duration::ZERO
    };
    let session = timestamp::Session::current();
    let check = match &session {
        Ok(s) if !timeout.is_zero() => timestamp::valid(state_dir.as_fd(), uid, s, timeout)
            .unwrap_or_else(|e| timestamp::Check::Corrupt(e.to_string())),
        _ => timestamp::Check::Missing,
    };
    if check.is_suspicious() {
        crate::alert::syslog(&format!("uid {uid}: timestamp ignored: {check}"));
    }
    // PAM and its prompt run with the caller's real uid (see
    // privileges::as_caller_for_pam); no lock of ours is held here.
    let pam_step = || {
        if check.is_valid() {
            pam::account_ok(user)
        } else {
            let prompt = if non_interactive {
                Ok(TtyPrompt::none())
            } else {
                TtyPrompt::open()
            };
            prompt.and_then(|p| pam::authenticate(user, &p, pam::DEFAULT_TRIES))
        }
    };
    crate::exec::privileges::as_caller_for_pam(pam_step)
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    if !check.is_valid()
        && !timeout.is_zero()
        && let Ok(s) = &session
    {
        // Failing to cache only means asking again next time.
        let _ = timestamp::update(state_dir.as_fd(), uid, s);
    }
    Ok(())
}

/// PAM's account stage alone, silent (expired or locked accounts,
/// pam_access, pam_time): for every allowed rule that runs no password
/// step, while `[defaults] pam_account` is on (docs/pam.md).
pub fn account(user: Option<&str>) -> Result<(), String> {
    let user = user.ok_or("the caller has no user name; the PAM account stage needs one")?;
    match crate::exec::privileges::as_caller_for_pam(|| pam::account_ok(user))
        .map_err(|e| e.to_string())?
    {
        // As sudo for a NOPASSWD rule: an expired password is not a
        // reason to refuse a call that does not use the password.
        Ok(()) | Err(pam::AuthError::PasswordExpired) => Ok(()),
        Err(e) => Err(format!("PAM account stage: {e}")),
    }
}

/// Everything an approval check binds the tokens to.
pub struct ApprovalRequest<'a> {
    pub token_files: &'a [PathBuf],
    pub user: Option<&'a str>,
    /// argv\[0\] is the resolved absolute path.
    pub argv: &'a [OsString],
    pub run_as: &'a str,
}

/// `auth = "approval"`: read the token files as the caller, verify M-of-N
/// distinct approvers bound to this exact request and host, then consume
/// the tokens' nonces, all or none (single use; a replay or a full set
/// refuses and consumes nothing).
/// Returns the approvers' names for the record.
pub fn approval(
    policy: &Policy,
    rule: &Rule,
    req: &ApprovalRequest<'_>,
    state_dir: &OwnedFd,
    c: &clock::Clock,
) -> Result<Vec<String>, String> {
    let user = req
        .user
        .ok_or("the caller has no user name; approval tokens name one")?;
    if req.token_files.is_empty() {
        return Err("this rule requires approval tokens (--token FILE)".into());
    }
    if req.token_files.len() > tokens::MAX_TOKENS {
        return Err(tokens::TokenError::TooManyTokens.to_string());
    }
    // Token files are the caller's: read them with the caller's access.
    crate::exec::privileges::euid_caller().map_err(|e| e.to_string())?;
    let texts: Vec<Result<String, tokens::TokenError>> = req
        .token_files
        .iter()
        .map(|p| tokens::read_token_file(p))
        .collect();
    crate::exec::privileges::euid_root().map_err(|e| e.to_string())?;
    let mut parsed = Vec::with_capacity(texts.len());
    for t in texts {
        let text = t.map_err(|e| format!("approval token: {e}"))?;
        parsed.push(tokens::parse(text.trim()).map_err(|e| format!("approval token: {e}"))?);
    }
    let (host, machine_id) = tokens::host_identity()?;
    let expect = tokens::Expect {
        user,
        argv: req.argv,
        run_as: req.run_as,
        host: &host,
        machine_id: &machine_id,
        purpose: tokens::Purpose::Exec,
        ns: &rule.approval_req().nonce_namespace,
        now: c.effective_now,
    };
    let verified = tokens::verify_set(&parsed, rule, &policy.approvers, &expect)
        .map_err(|e| format!("approval token: {e}"))?;
    // Check every nonce, then consume all or none: a replay must not use
    // up the other tokens of the call. The refusal names no approver
    // (docs/approval-tokens.md). verify_set bound every token to the
    // rule's namespace; a token of another one is refused, not split.
    let mut items = Vec::with_capacity(verified.len());
    for v in &verified {
        let (ns, n, exp) = v.replay_key();
        if ns != expect.ns {
            return Err(format!(
                "approval token: nonce namespace {ns:?} is not the rule's"
            ));
        }
        items.push((*n, exp));
    }
    nonce::consume_all(state_dir.as_fd(), expect.ns, &items, c, nonce::DEFAULT_CAP)
        .map_err(|e| format!("approval token: {e}"))?;
    Ok(verified.iter().map(|v| v.approver().to_string()).collect())
}

/// The rule's `rate`, per (rule, uid), monotonic.
pub fn rate_limit(
    rule: &Rule,
    uid: u32,
    state_dir: &OwnedFd,
    c: &clock::Clock,
) -> Result<(), String> {
    let Some(r) = &rule.rate else { return Ok(()) };
    let limit = rate::Rate {
        count: r.count,
        per: Duration::from_secs(r.per_secs),
    };
    match rate::take(state_dir.as_fd(), &rule.name, uid, &limit, c).map_err(|e| e.to_string())? {
        rate::RateDecision::Allowed => Ok(()),
        rate::RateDecision::Limited { retry_after } => Err(format!(
            "rate limit of rule {} ({limit}) reached; retry in {} s",
            rule.name,
            retry_after.as_secs().max(1)
        )),
    }
}
