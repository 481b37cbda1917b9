//! The `auth` phase for an allowed rule (DESIGN section 4, step 2): an
//! expired account and `require_tty` refuse whatever the rule's auth;
//! PAM's account stage; the rule's authentication (PAM password with the
//! timestamp cache, or M-of-N signed approval tokens, each single-use
//! through the nonce set); then the rule's rate limit. The steps return
//! [`AuthStepError`]; the phase turns it into the refusal.
#![forbid(unsafe_code)]

use super::Refusal;
use super::authorize::Allowed;
use super::recv::Ctx;
use crate::auth::source::PasswordSource;
use crate::auth::{memo, pam, timestamp, tokens, tty::TtyPrompt};
use crate::bdexec::cli::BdexecArgs;
use crate::exec::privileges::PrivError;
use crate::policy::model::{Auth, Policy, Rule};
use crate::state::{StateError, clock, nonce, rate};
use std::ffi::OsString;
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

/// Why the `auth` phase refuses. `Display` is the one line the caller
/// reads (and the record's reason).
#[derive(Debug)]
pub enum AuthStepError {
    /// The caller has no user name; `what` needs one.
    NoUserName(&'static str),
    /// The effective ids could not be switched for PAM or the tokens.
    Privileges(PrivError),
    /// PAM refused the password (or the prompt could not be opened).
    Pam(pam::AuthError),
    /// PAM's account stage refused.
    Account(pam::AuthError),
    /// The account has expired (shadow).
    Expired(crate::auth::account::AccountError),
    /// `require_tty` without a controlling terminal.
    NoTty,
    /// `--token` for a rule that takes none.
    TokensNotTaken { rule: String },
    /// An approval rule and no `--token`.
    NoTokens,
    /// More token files than any rule may use.
    TooManyTokens,
    /// A token could not be read, parsed, verified or consumed.
    Token(tokens::TokenError),
    /// The host's identity for the tokens' binding.
    Host(String),
    /// A verified token of another nonce namespace.
    ForeignNamespace(String),
    /// The nonce set could not record the tokens.
    Nonce(nonce::NonceError),
    /// The state (timestamp, rate bucket) could not be used.
    State(StateError),
    /// The rule's rate limit.
    RateLimited {
        rule: String,
        limit: String,
        retry_secs: u64,
    },
    /// The static bdexec could not hand the call to its twin for PAM.
    Twin(String),
}

impl fmt::Display for AuthStepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthStepError::NoUserName(what) => {
                write!(f, "the caller has no user name; {what}")
            }
            AuthStepError::Privileges(e) => write!(f, "{e}"),
            AuthStepError::Twin(e) => f.write_str(e),
            AuthStepError::Pam(e) => write!(f, "{e}"),
            AuthStepError::Account(e) => write!(f, "PAM account stage: {e}"),
            AuthStepError::Expired(e) => write!(f, "{e}"),
            AuthStepError::NoTty => f.write_str(
                "this command needs a terminal (require_tty); run it from an interactive session",
            ),
            AuthStepError::TokensNotTaken { rule } => write!(
                f,
                "rule {rule} takes no approval tokens; refusing rather than ignoring --token"
            ),
            AuthStepError::NoTokens => {
                f.write_str("this rule requires approval tokens (--token FILE)")
            }
            AuthStepError::TooManyTokens => write!(f, "{}", tokens::TokenError::TooManyTokens),
            AuthStepError::Token(e) => write!(f, "approval token: {e}"),
            AuthStepError::Host(e) => f.write_str(e),
            AuthStepError::ForeignNamespace(ns) => write!(
                f,
                "approval token: nonce namespace {ns:?} is not the rule's"
            ),
            AuthStepError::Nonce(e) => write!(f, "approval token: {e}"),
            AuthStepError::State(e) => write!(f, "{e}"),
            AuthStepError::RateLimited {
                rule,
                limit,
                retry_secs,
            } => write!(
                f,
                "rate limit of rule {rule} ({limit}) reached; retry in {retry_secs} s"
            ),
        }
    }
}

impl std::error::Error for AuthStepError {}

impl From<PrivError> for AuthStepError {
    fn from(e: PrivError) -> Self {
        AuthStepError::Privileges(e)
    }
}

impl From<AuthStepError> for Refusal {
    fn from(e: AuthStepError) -> Refusal {
        match e {
            // The record's reason is shorter than the advice.
            AuthStepError::NoTty => Refusal::denied_as("no terminal (require_tty)", e.to_string()),
            e => Refusal::denied(e.to_string()),
        }
    }
}

/// The phase: everything between an allowed decision and the command's
/// file checks. Returns who approved, for an approval rule.
pub(super) fn authenticate(
    ctx: &mut Ctx,
    opts: &BdexecArgs,
    policy: &Policy,
    allowed: &Allowed<'_>,
    state_dir: &OwnedFd,
    clock: &clock::Clock,
) -> Result<Option<String>, Refusal> {
    let steps = || -> Result<Option<String>, AuthStepError> {
        let rule = allowed.rule;
        // An expired account is refused whatever the rule's auth. The
        // anchored effective now: setting the clock back cannot revive an
        // expired account.
        if let Some(name) = ctx.caller.name.as_deref() {
            crate::auth::account::check_not_expired(name, clock.effective_now)
                .map_err(AuthStepError::Expired)?;
        }
        // require_tty: refused without a controlling terminal (from
        // /proc/self/stat, not from fds the caller chose), before any
        // prompt, as sudo's requiretty.
        if allowed.session().needs_tty() && ctx.tty.is_none() {
            return Err(AuthStepError::NoTty);
        }
        // PAM's account stage for every rule (`pam_account`, default on); a
        // password rule runs it after the password.
        let account = || account(ctx, policy, state_dir);
        if allowed.auth != Auth::Approval && !opts.token.is_empty() {
            // Nothing given is ignored: tokens for a rule that takes none
            // refuse rather than pass unnoticed.
            return Err(AuthStepError::TokensNotTaken {
                rule: rule.name.clone(),
            });
        }
        let approved_by = match allowed.auth {
            Auth::None => account().map(|()| None),
            // Root is not asked for a password (as sudo): it could rewrite
            // the policy anyway.
            Auth::Password if ctx.caller.uid == 0 => account().map(|()| None),
            Auth::Password => rule_password(
                ctx,
                opts,
                policy,
                rule,
                state_dir,
                &allowed.target.target.name,
            )
            .map(|()| None),
            Auth::Approval => {
                let mut argv: Vec<OsString> = vec![allowed.resolved.path.clone().into_os_string()];
                argv.extend(
                    allowed.args.iter().map(|a| {
                        <OsString as std::os::unix::ffi::OsStringExt>::from_vec(a.clone())
                    }),
                );
                let req = ApprovalRequest {
                    token_files: &opts.token,
                    user: ctx.caller.name.as_deref(),
                    argv: &argv,
                    run_as: &allowed.target.target.name,
                };
                // The account stage first: a refused account does not use up
                // the tokens' nonces.
                account()
                    .and_then(|()| approval(policy, rule, &req, state_dir, clock))
                    .map(|names| Some(format!("approved by {}", names.join(", "))))
            }
        }?;
        rate_limit(rule, ctx.caller.uid, state_dir, clock)?;
        Ok(approved_by)
    };
    let approved_by = steps().map_err(|e| Refusal::from(e).about(allowed.subject()))?;
    ctx.watch.end_auth();
    Ok(approved_by)
}

/// `-v` (issue 13): authenticate as the caller's rules ask and renew
/// the timestamp, run nothing. A password when any allow rule (or decoy:
/// they answer as grants) of the caller takes one and the caller is not
/// root (the longest `timestamp_timeout` of those rules), else PAM's
/// account stage. `Ok(true)` when a password (or a valid timestamp) was
/// checked. No allow rule: refused.
pub(super) fn validate_only(
    ctx: &Ctx,
    opts: &BdexecArgs,
    policy: &Policy,
    state_dir: &OwnedFd,
    clock: &clock::Clock,
) -> Result<bool, Refusal> {
    let mut rules = crate::decide::rules_for_caller(policy, &ctx.caller);
    rules.extend(crate::incident::decoy::for_caller(policy, &ctx.caller));
    rules.retain(|r| !r.is_deny());
    if rules.is_empty() {
        return Err(Refusal::denied_as(
            "no rule allows the caller anything (-v)",
            format!("{} may not run any commands with bdexec", ctx.who()),
        ));
    }
    let steps = || -> Result<bool, AuthStepError> {
        if let Some(name) = ctx.caller.name.as_deref() {
            crate::auth::account::check_not_expired(name, clock.effective_now)
                .map_err(AuthStepError::Expired)?;
        }
        let timeout = rules
            .iter()
            .filter(|r| r.auth == Auth::Password)
            .map(|r| r.timestamp_timeout_with(&policy.defaults))
            .max();
        match timeout {
            Some(t) if ctx.caller.uid != 0 => password(
                ctx.caller.name.as_deref(),
                ctx.caller.uid,
                state_dir,
                t,
                &PasswordOptions::of(ctx, opts, "root", true, true),
            )
            .map(|()| true),
            _ => account(ctx, policy, state_dir).map(|()| false),
        }
    };
    steps().map_err(Refusal::from)
}

/// `-e` (issue 13): the authentication of the rule that allows the
/// edit, as for a command: an expired account, `require_tty`, PAM's
/// account stage, the password with the timestamp, the rate limit. An
/// approval rule is refused (tokens name a command, not an edit).
pub(super) fn authenticate_edit(
    ctx: &Ctx,
    opts: &BdexecArgs,
    policy: &Policy,
    rule: &Rule,
    state_dir: &OwnedFd,
    clock: &clock::Clock,
) -> Result<(), AuthStepError> {
    if let Some(name) = ctx.caller.name.as_deref() {
        crate::auth::account::check_not_expired(name, clock.effective_now)
            .map_err(AuthStepError::Expired)?;
    }
    let session = rule.session.or(policy.defaults.session);
    if session.require_tty == Some(true) && ctx.tty.is_none() {
        return Err(AuthStepError::NoTty);
    }
    match rule.auth {
        Auth::Approval => return Err(AuthStepError::NoTokens),
        Auth::Password if ctx.caller.uid != 0 => {
            rule_password(ctx, opts, policy, rule, state_dir, "root")?
        }
        _ => account(ctx, policy, state_dir)?,
    }
    rate_limit(rule, ctx.caller.uid, state_dir, clock)
}

/// The password step of a rule with `auth = "password"`, with its
/// `timestamp_timeout`; `-k CMD` asks and leaves no fresh timestamp (as
/// sudo).
fn rule_password(
    ctx: &Ctx,
    opts: &BdexecArgs,
    policy: &Policy,
    rule: &Rule,
    state_dir: &OwnedFd,
    target_name: &str,
) -> Result<(), AuthStepError> {
    password(
        ctx.caller.name.as_deref(),
        ctx.caller.uid,
        state_dir,
        rule.timestamp_timeout_with(&policy.defaults),
        // -k CMD: ask, and leave no fresh timestamp (as sudo).
        &PasswordOptions::of(ctx, opts, target_name, !opts.reset_timestamp, false),
    )
}

/// How [`password`] may ask and cache.
struct PasswordOptions {
    /// `-n`: never prompt.
    non_interactive: bool,
    /// False for `-k CMD`: the timestamp is neither used nor renewed.
    cache: bool,
    /// `-v`: renew a valid timestamp too (not only after a prompt).
    refresh: bool,
    /// `-S`: the password from standard input, the prompt on stderr.
    stdin: bool,
    /// `-A`: the password from the askpass helper, run as the caller
    /// (with these ids) without privilege.
    askpass: bool,
    caller_gid: u32,
    caller_groups: Vec<u32>,
    /// `-p`: the prompt, expanded.
    prompt: Option<String>,
}

impl PasswordOptions {
    /// The caller's options (-n, -S, -A, -p with sudo's escapes expanded
    /// for `target_name`, controls escaped).
    fn of(ctx: &Ctx, opts: &BdexecArgs, target_name: &str, cache: bool, refresh: bool) -> Self {
        PasswordOptions {
            non_interactive: opts.non_interactive,
            cache,
            refresh,
            stdin: opts.driver.stdin,
            askpass: opts.driver.askpass,
            caller_gid: ctx.caller.gid,
            caller_groups: ctx.caller.gids.clone(),
            prompt: opts.driver.prompt.as_ref().map(|p| {
                crate::auth::source::expand_prompt(
                    p.as_encoded_bytes(),
                    ctx.caller.name.as_deref().unwrap_or_default(),
                    target_name,
                    &String::from_utf8_lossy(&ctx.host),
                )
            }),
        }
    }
}

/// `auth = "password"`: a valid timestamp for this uid and terminal
/// session, or PAM (auth + account) on the controlling terminal.
fn password(
    user: Option<&str>,
    uid: u32,
    state_dir: &OwnedFd,
    timeout_secs: u64,
    opts: &PasswordOptions,
) -> Result<(), AuthStepError> {
    let user = user.ok_or(AuthStepError::NoUserName(
        "password authentication needs one",
    ))?;
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
        crate::audit::alert::syslog(&format!("uid {uid}: timestamp ignored: {check}"));
    }
    // PAM and its prompt run with the caller's real uid (see
    // privileges::as_caller_for_pam); no lock of ours is held here.
    let pam_step = || {
        if check.is_valid() {
            pam::account_ok(user)
        } else {
            let shown = opts.prompt.as_deref();
            if opts.askpass && !non_interactive {
                let helper = crate::auth::askpass::Askpass::from_env(
                    uid,
                    opts.caller_gid,
                    &opts.caller_groups,
                )?;
                return pam::authenticate_from(
                    user,
                    &PasswordSource::Askpass(helper),
                    shown,
                    pam::DEFAULT_TRIES,
                );
            }
            if opts.stdin && !non_interactive {
                return pam::authenticate_from(
                    user,
                    &PasswordSource::Stdin,
                    shown,
                    pam::DEFAULT_TRIES,
                );
            }
            let prompt = if non_interactive {
                Ok(TtyPrompt::none())
            } else {
                TtyPrompt::open()
            };
            prompt.and_then(|p| {
                pam::authenticate_from(user, &PasswordSource::Tty(&p), shown, pam::DEFAULT_TRIES)
            })
        }
    };
    pam_as_caller(pam_step)?.map_err(AuthStepError::Pam)?;
    if (!check.is_valid() || opts.refresh)
        && !timeout.is_zero()
        && let Ok(s) = &session
    {
        // Failing to cache only means asking again next time.
        let _ = timestamp::update(state_dir.as_fd(), uid, s);
    }
    Ok(())
}

/// Every PAM step runs here: `f` with the caller's real uid
/// (privileges::as_caller_for_pam). The static bdexec cannot run PAM: it
/// hands the call to its twin instead, before anything is written
/// (src/exec/twin.rs); an error when that failed.
fn pam_as_caller<T>(f: impl FnOnce() -> T) -> Result<T, AuthStepError> {
    if crate::exec::twin::armed() {
        return Err(AuthStepError::Twin(super::to_twin("PAM")));
    }
    Ok(crate::exec::privileges::as_caller_for_pam(f)?)
}

/// PAM's account stage alone, silent (expired or locked accounts,
/// pam_access, pam_time): for every allowed rule that runs no password
/// step, while `[defaults] pam_account` is on (docs/pam.md; nothing when
/// it is off). With the memo (`[defaults] pam_account_memo`), an
/// accepted verdict whose inputs have not changed is taken from the
/// state directory without loading PAM (src/auth/memo.rs).
fn account(ctx: &Ctx, policy: &Policy, state_dir: &OwnedFd) -> Result<(), AuthStepError> {
    if !policy.defaults.pam_account {
        return Ok(());
    }
    let (uid, memo_dir) = (
        ctx.caller.uid,
        policy.defaults.pam_account_memo.then(|| state_dir.as_fd()),
    );
    let user = (ctx.caller.name.as_deref())
        .ok_or(AuthStepError::NoUserName("the PAM account stage needs one"))?;
    let service = pam::service_name();
    // Root's calls keep PAM on every call: only they can write libpam's
    // USER_ACCT record to the kernel audit (docs/pam.md).
    let key = memo_dir
        .filter(|_| uid != 0)
        .and_then(|d| memo::probe(&service, uid, user, d));
    if let (Some(dir), Some(k)) = (memo_dir, &key)
        && memo::contains(dir, k)
    {
        crate::base::testhook::point("account-memo-hit");
        return Ok(());
    }
    let (verdict, files) = pam_as_caller(|| {
        let v = pam::account_ok(user);
        (v, key.is_some() && memo::from_files(user))
    })?;
    match verdict {
        // As sudo for a NOPASSWD rule: an expired password is not a
        // reason to refuse a call that does not use the password.
        Ok(()) | Err(pam::AuthError::PasswordExpired) => {
            // Remembered only when nothing changed while PAM ran.
            if let (Some(dir), Some(k), true) = (memo_dir, key, files)
                && memo::probe(&service, uid, user, dir) == Some(k)
            {
                memo::insert(dir, &k);
            }
            Ok(())
        }
        Err(e) => Err(AuthStepError::Account(e)),
    }
}

/// Everything an approval check binds the tokens to.
struct ApprovalRequest<'a> {
    token_files: &'a [PathBuf],
    user: Option<&'a str>,
    /// argv\[0\] is the resolved absolute path.
    argv: &'a [OsString],
    run_as: &'a str,
}

/// `auth = "approval"`: read the token files as the caller, verify M-of-N
/// distinct approvers bound to this exact request and host, then consume
/// the tokens' nonces, all or none (single use; a replay or a full set
/// refuses and consumes nothing).
/// Returns the approvers' names for the record.
fn approval(
    policy: &Policy,
    rule: &Rule,
    req: &ApprovalRequest<'_>,
    state_dir: &OwnedFd,
    c: &clock::Clock,
) -> Result<Vec<String>, AuthStepError> {
    let user = req
        .user
        .ok_or(AuthStepError::NoUserName("approval tokens name one"))?;
    if req.token_files.is_empty() {
        return Err(AuthStepError::NoTokens);
    }
    if req.token_files.len() > tokens::MAX_TOKENS {
        return Err(AuthStepError::TooManyTokens);
    }
    // Token files are the caller's: read them with the caller's access.
    crate::exec::privileges::euid_caller()?;
    let texts: Vec<Result<String, tokens::TokenError>> = req
        .token_files
        .iter()
        .map(|p| tokens::read_token_file(p))
        .collect();
    crate::exec::privileges::euid_root()?;
    let mut parsed = Vec::with_capacity(texts.len());
    for t in texts {
        let text = t.map_err(AuthStepError::Token)?;
        parsed.push(tokens::parse(text.trim()).map_err(AuthStepError::Token)?);
    }
    let (host, machine_id) = tokens::host_identity().map_err(AuthStepError::Host)?;
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
        .map_err(AuthStepError::Token)?;
    // Check every nonce, then consume all or none: a replay must not use
    // up the other tokens of the call. The refusal names no approver
    // (docs/approval-tokens.md). verify_set bound every token to the
    // rule's namespace; a token of another one is refused, not split.
    let mut items = Vec::with_capacity(verified.len());
    for v in &verified {
        let (ns, n, exp) = v.replay_key();
        if ns != expect.ns {
            return Err(AuthStepError::ForeignNamespace(ns.to_string()));
        }
        items.push((*n, exp));
    }
    nonce::consume_all(state_dir.as_fd(), expect.ns, &items, c, nonce::DEFAULT_CAP)
        .map_err(AuthStepError::Nonce)?;
    Ok(verified.iter().map(|v| v.approver().to_string()).collect())
}

/// The rule's `rate`, per (rule, uid), monotonic.
fn rate_limit(
    rule: &Rule,
    uid: u32,
    state_dir: &OwnedFd,
    c: &clock::Clock,
) -> Result<(), AuthStepError> {
    let Some(r) = &rule.rate else { return Ok(()) };
    let limit = rate::Rate {
        count: r.count,
        per: Duration::from_secs(r.per_secs),
    };
    match rate::take(state_dir.as_fd(), &rule.name, uid, &limit, c).map_err(AuthStepError::State)? {
        rate::RateDecision::Allowed => Ok(()),
        rate::RateDecision::Limited { retry_after } => Err(AuthStepError::RateLimited {
            rule: rule.name.clone(),
            limit: limit.to_string(),
            retry_secs: retry_after.as_secs().max(1),
        }),
    }
}
