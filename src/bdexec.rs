//! The bdexec pipeline: recv -> auth -> validate -> exec (DESIGN section 4).
//!
//! Every refusal before exec prints one line on stderr (`bdexec: ...`),
//! appends a `reject` record where the audit log can be written, and
//! returns a documented exit code (see [`exit`]). Nothing runs without a
//! durable `accept` record.
#![forbid(unsafe_code)]

use crate::alert;
use crate::audit::{self, AppendOptions, Event, Record};
use crate::authstep;
use crate::cli::{BdexecArgs, Mode};
use crate::decide::{self, Decision};
use crate::escape::display;
use crate::exec::{confine, env, hygiene, launch, monitor, privileges, resolve};
use crate::identity::{self, TargetAccount};
use crate::policy::cmdline::render;
use crate::policy::hash::hex;
use crate::policy::load::load_policy;
use crate::policy::model::{Action, Auth, Principal, Rule};
use crate::request::{Caller, Request};
use std::ffi::{CString, OsString};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Exit codes (documented in bdexec(8)).
pub mod exit {
    /// The request was denied or authentication failed.
    pub const DENIED: i32 = 1;
    /// Usage error.
    pub const USAGE: i32 = 2;
    /// The policy could not be loaded (syntax error, insecure file).
    pub const POLICY: i32 = 3;
    /// The audit record could not be made durable; nothing ran.
    pub const AUDIT: i32 = 4;
    /// Refused to start: missing capabilities, ptrace, no_new_privs,
    /// user namespace, or the process could not be prepared.
    pub const ENVIRONMENT: i32 = 5;
    /// The listing (`-l`), help or version could not be written to
    /// standard output.
    pub const OUTPUT: i32 = 6;
    /// Internal error (a panic, which is a bug): nothing was run.
    pub const INTERNAL: i32 = crate::stdio::PANIC_EXIT;
    /// The command could not be executed after it was allowed.
    pub const EXEC: i32 = 126;
}

fn say(msg: &str) {
    // One line, never raw control characters; stderr is the caller's
    // (maybe /dev/full): a failed write is ignored, never a panic.
    crate::stdio::err_line(&format!("bdexec: {}\n", display(msg.as_bytes())));
}

/// What a caller other than root is told when the policy cannot be used.
pub const POLICY_NOT_SHOWN: &str = "the policy could not be loaded; the administrator finds the \
     reason in the system log (journalctl -t bdexec) and with `bdctl policy check`";

/// Facts about this call gathered in `recv`, used by every record.
struct Ctx {
    caller: Caller,
    cwd: Option<PathBuf>,
    tty: Option<String>,
    host: Vec<u8>,
    argv: Vec<Vec<u8>>,
    policy_hash: Option<[u8; 32]>,
    /// How the installed policy differs from its pin, if it does.
    drift: Option<String>,
    /// Wall/monotonic skew over 2 s since this boot's anchor.
    clock_skew: Option<i64>,
    /// The state directory, once open: refusals are rate-limited per uid
    /// (crate::state::refusals) from then on.
    refusal_state: Option<std::os::fd::OwnedFd>,
    /// Stage timings for every record (docs/audit-format.md).
    watch: audit::timing::Stopwatch,
    /// The caller's TRACEPARENT, checked: the header or "invalid".
    traceparent: Option<String>,
    /// `[incident]` of the loaded policy (hydra and automatic freezing).
    incident: Option<crate::policy::model::IncidentSettings>,
}

/// What a record says about the request.
#[derive(Default)]
struct Subject<'a> {
    target: Option<&'a TargetAccount>,
    command: Option<&'a [u8]>,
    rule: Option<&'a str>,
    sandbox: Option<&'a str>,
    confinement: Option<&'a str>,
    env_dropped: &'a [String],
    /// Monitor mode: the accept record says so (`"monitor":true`).
    monitor: bool,
}

impl Ctx {
    fn record(
        &self,
        event: Event,
        s: &Subject<'_>,
        reason: &str,
        suppressed: Option<u64>,
    ) -> Result<[u8; 16], audit::AuditError> {
        let uuid = audit::new_uuid()?;
        let tty = self.tty.as_deref().map(str::as_bytes);
        let cwd = self.cwd.as_deref().map(|p| p.as_os_str().as_bytes());
        let rec = Record {
            event,
            time: std::time::SystemTime::now(),
            uuid,
            host: &self.host,
            pid: std::process::id(),
            submituser: self.caller.name.as_deref(),
            submituid: self.caller.uid,
            submitgid: self.caller.gid,
            ttyname: tty,
            submitcwd: cwd,
            runuser: s.target.map(|t| t.target.name.as_str()),
            runuid: s.target.map(|t| t.target.uid),
            rungid: s.target.map(|t| t.target.gid),
            command: s.command,
            runargv: &self.argv,
            rule: s.rule,
            reason,
            policy_hash: self.policy_hash,
            sandbox: s.sandbox,
            confinement: s.confinement,
            drift: self.drift.as_deref(),
            clock_skew: self.clock_skew,
            suppressed,
            env_dropped: s.env_dropped,
            timing: Some(self.watch.timing()),
            traceparent: self.traceparent.as_deref(),
            monitor: s.monitor,
        };
        let appended = audit::append(&rec, &AppendOptions::system())?;
        // Durable, lock released: the journal copy (never blocks).
        audit::journal::forward(&rec, &appended);
        Ok(uuid)
    }

    /// Refuse: record (best effort: a refusal stands even when the log
    /// can't be written, and then the message says so) and one line.
    fn reject(&self, s: &Subject<'_>, reason: &str, msg: &str, code: i32) -> i32 {
        let head = crate::incident::hydra::head_of_reason(reason);
        self.refuse(Event::Reject, s, reason, msg, code, || self.hydra(head))
    }

    /// Count a refusal towards the caller's hydra score and freeze the
    /// host when it crosses `freeze_score` with `auto_freeze` on (runs in
    /// the detached child; root is not scored).
    fn hydra(&self, head: crate::incident::hydra::Head) {
        use crate::incident::{freeze, hydra};
        if self.caller.uid == 0 {
            return;
        }
        let Some(score) = hydra::record(self.caller.uid, head) else {
            return;
        };
        let Some(set) = &self.incident else { return };
        let limit = f64::from(set.freeze_score_ppm) / 1e6;
        if !set.auto_freeze || score < limit {
            return;
        }
        let Some(run) = &self.refusal_state else {
            return;
        };
        let info = freeze::FreezeInfo {
            since: freeze::now_secs(),
            reason: format!(
                "hydra score of uid {} is {score:.3} (freeze_score {limit})",
                self.caller.uid
            ),
            cause: freeze::Cause::Hydra,
            uid: self.caller.uid,
        };
        self.freeze(run, &info);
    }

    /// Freeze the host automatically (in the detached child): the
    /// persistent flag, the counters and a `freeze` record.
    fn freeze(&self, run: &std::os::fd::OwnedFd, info: &crate::incident::freeze::FreezeInfo) {
        use crate::incident::{counters, freeze};
        match freeze::freeze(run.as_fd(), info) {
            Ok(true) => {
                counters::bump_freeze(info.cause);
                let why = format!("cause={}; {}", info.cause.as_str(), info.reason);
                if let Err(e) = self.record(Event::Freeze, &Subject::default(), &why, None) {
                    alert::syslog(&format!("host frozen, not recorded: {e}"));
                }
            }
            Ok(false) => {}
            Err(e) => alert::syslog(&format!(
                "{}: cannot freeze the host: {e}",
                info.cause.as_str()
            )),
        }
    }

    /// [`Ctx::reject`] for `event`, then `after` in a child detached from
    /// the caller (haze, docs/incident-response.md: every refusal pays
    /// the same fork, and the bookkeeping never shows in the caller's
    /// wall time). An `alert` (a decoy hit) passes the refusal gate like
    /// a denial (the bucket counts it) and is always recorded: over the
    /// rate, where a denial would be suppressed, its record is written by
    /// the child, so that it costs the caller what a suppressed denial
    /// costs.
    fn refuse(
        &self,
        event: Event,
        s: &Subject<'_>,
        reason: &str,
        msg: &str,
        code: i32,
        after: impl FnOnce(),
    ) -> i32 {
        use crate::incident::detach::after_answer;
        use crate::state::refusals::{self, Gate};
        // Refusals over the uid's rate are counted, not recorded; a
        // bucket that cannot be used fails towards recording.
        let gate = match &self.refusal_state {
            Some(dir) if self.caller.uid != 0 => refusals::gate(dir.as_fd(), self.caller.uid).ok(),
            _ => None,
        };
        let pending = match gate {
            Some(Gate::Suppress { first }) => {
                if first && event == Event::Reject {
                    alert::syslog(&format!(
                        "uid {}: refusals over the rate limit are not recorded; \
                         the next recorded one says how many",
                        self.caller.uid
                    ));
                }
                say(msg);
                after_answer(|| {
                    if event != Event::Reject
                        && let Err(e) = self.record(event, s, reason, None)
                    {
                        alert::syslog(&format!(
                            "uid {}: {} not recorded: {e}",
                            self.caller.uid,
                            event.as_str()
                        ));
                    }
                    after();
                });
                return code;
            }
            Some(Gate::Record(p)) => Some(p),
            None => None,
        };
        let suppressed = pending.as_ref().map(|p| p.suppressed).filter(|n| *n > 0);
        match self.record(event, s, reason, suppressed) {
            Ok(_) => {
                if let Some(p) = pending {
                    let _ = p.commit();
                }
                say(msg)
            }
            Err(e) => {
                let line = format!("{msg} (and the refusal could not be recorded: {e})");
                alert::syslog(&format!("uid {}: {line}", self.caller.uid));
                say(&line);
            }
        }
        after_answer(after);
        code
    }

    /// Refuse because the policy cannot be used. The details may quote
    /// it (another user's name, a `--password=` argument): they go to
    /// the record, syslog and root's stderr; any other caller is told
    /// only where the administrator finds them.
    fn policy_refusal(&self, s: &Subject<'_>, detail: &str, code: i32) -> i32 {
        alert::syslog(&format!("uid {}: refused: {detail}", self.caller.uid));
        let shown = if self.caller.uid == 0 {
            detail
        } else {
            POLICY_NOT_SHOWN
        };
        self.reject(s, detail, shown, code)
    }

    fn who(&self) -> String {
        self.caller
            .name
            .clone()
            .unwrap_or_else(|| format!("#{}", self.caller.uid))
    }
}

/// Entry point: the whole call. Returns the exit code on refusal; on
/// success it does not return (the process becomes the command).
pub fn main(args: Vec<OsString>) -> i32 {
    crate::stdio::install_panic_hook();
    let watch = audit::timing::Stopwatch::start();
    // recv: nothing is trusted or opened before the process is sane and
    // its privileges are known to be real.
    let refused = |msg: String| {
        alert::syslog(&format!(
            "uid {}: refused to start: {msg}",
            privileges::caller_uid()
        ));
        say(&msg);
        exit::ENVIRONMENT
    };
    let saved = match hygiene::sanitize() {
        Ok(s) => s,
        Err(r) => return refused(r.to_string()),
    };
    // Since Linux 5.18 the kernel turns an empty argv into [""]: both are
    // argc 0 to us, refused (and recorded) below.
    let argc0 = args.first().is_none_or(|a| a.is_empty()) && args.len() <= 1;
    // Help, version and usage errors need no privileges. Options are
    // read as getopt(3) reads them, and a combination the synopsis does
    // not allow is a usage error, never silently ignored (src/cli.rs).
    let opts = if argc0 {
        None
    } else {
        match BdexecArgs::parse_strict(&args) {
            Ok(Ok(o)) => Some(o),
            Ok(Err(msg)) => {
                say(&msg);
                return exit::USAGE;
            }
            Err(e) => return usage(e),
        }
    };
    if let Err(r) = hygiene::check_environment() {
        return refused(r.to_string());
    }
    if let Err(e) = privileges::enter_root_files() {
        return refused(format!("cannot switch to root for its files: {e}"));
    }
    let ctx = match recv(&args, watch) {
        Ok(c) => c,
        Err(msg) => return refused(msg),
    };
    // Before the first lock: the caller can no longer stop, kill or
    // ptrace this process (src/exec/privileges.rs, docs/state.md).
    if let Err(e) = privileges::shield(ctx.caller.uid) {
        return refused(format!("cannot shield the process from its caller: {e}"));
    }
    let Some(opts) = opts else {
        let s = Subject {
            target: None,
            command: None,
            rule: None,
            ..Default::default()
        };
        let msg = "refusing to run with an empty argument list (argc 0)";
        return ctx.reject(&s, "empty argument list (argc 0)", msg, exit::USAGE);
    };
    run(ctx, &opts.0, opts.1, &saved)
}

fn usage(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            if crate::stdio::out(&e.to_string()) {
                0
            } else {
                say("cannot write to standard output");
                exit::OUTPUT
            }
        }
        _ => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("usage error");
            say(first.trim_start_matches("error: "));
            exit::USAGE
        }
    }
}

fn recv(args: &[OsString], watch: audit::timing::Stopwatch) -> Result<Ctx, String> {
    let caller = identity::caller_from_kernel().map_err(|e| e.to_string())?;
    let host = nix::unistd::gethostname()
        .map(|h| h.as_bytes().to_vec())
        .unwrap_or_default();
    Ok(Ctx {
        caller,
        cwd: std::env::current_dir().ok(),
        tty: identity::controlling_tty(),
        host,
        argv: args.iter().skip(1).map(|a| a.as_bytes().to_vec()).collect(),
        policy_hash: None,
        drift: None,
        clock_skew: None,
        refusal_state: None,
        watch,
        traceparent: std::env::var_os("TRACEPARENT")
            .map(|v| audit::timing::traceparent(v.as_bytes()).to_string()),
        incident: None,
    })
}

fn run(mut ctx: Ctx, opts: &BdexecArgs, mode: Mode, saved: &hygiene::Saved) -> i32 {
    let none = Subject {
        target: None,
        command: None,
        rule: None,
        ..Default::default()
    };
    let state_dir = match crate::state::open_state_dir() {
        Ok(fd) => {
            ctx.refusal_state = fd.try_clone().ok();
            fd
        }
        Err(e) => {
            let msg = e.to_string();
            return ctx.reject(&none, &msg, &msg, exit::ENVIRONMENT);
        }
    };
    // A uid without an account is refused whatever the groups or a
    // `#uid` rule say (as sudo): PAM, the timestamp, approval tokens and
    // the records all name the caller (bdexec(8), CALLERS WITHOUT AN
    // ACCOUNT).
    if ctx.caller.name.is_none() {
        let reason = format!("uid {} has no passwd entry", ctx.caller.uid);
        let msg = "you do not exist in the passwd database";
        return ctx.reject(&none, &reason, msg, exit::DENIED);
    }
    // The per-boot clock anchor: skew is checked (and recorded) on every
    // call; a corrupt anchor refuses rather than silently resetting.
    let clock = match authstep::read_clock(&state_dir) {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("clock anchor: {e}");
            return ctx.reject(&none, &msg, &msg, exit::ENVIRONMENT);
        }
    };
    ctx.clock_skew = clock.skew;
    ctx.watch.end_recv();
    let loaded = match load_policy() {
        Ok(l) => l,
        Err(e) => {
            let msg = format!("policy not loaded: {e}");
            return ctx.policy_refusal(&none, &msg, exit::POLICY);
        }
    };
    let policy = &loaded.policy;
    ctx.policy_hash = Some(loaded.hash);
    // Frozen mode (docs/incident-response.md): one open, maybe one stat.
    let frozen = crate::incident::freeze::check(state_dir.as_fd());
    ctx.incident = policy.incident.settings.clone();
    // Drift from the pinned policy (policy.lock): recorded in every
    // record of this call; denied when `drift = "deny"` is in effect.
    match crate::policy::lock::read_lock() {
        Ok(None) => {}
        Ok(Some(lock)) => {
            if let Some(d) = crate::review::drift::check(&loaded, &lock) {
                ctx.drift = Some(d.summary());
                if d.denies() {
                    let msg = format!(
                        "policy differs from its pin and drift = \"deny\": {}",
                        d.summary()
                    );
                    return ctx.reject(
                        &none,
                        &msg,
                        "the installed policy differs from its pinned version (drift = \"deny\")",
                        exit::POLICY,
                    );
                }
            }
        }
        Err(e) => {
            let msg = format!("policy lock unusable: {e}");
            return ctx.policy_refusal(&none, &msg, exit::POLICY);
        }
    }
    let names_groups = policy
        .rules
        .iter()
        .any(|r| r.groups.iter().any(|g| matches!(g, Principal::Name(_))));
    if names_groups {
        identity::fill_group_names(&mut ctx.caller);
    }
    if opts.reset_timestamp {
        if let Err(e) = crate::auth::timestamp::remove(state_dir.as_fd(), ctx.caller.uid) {
            let msg = format!("cannot remove the timestamp: {e}");
            return ctx.reject(&none, &msg, &msg, exit::ENVIRONMENT);
        }
        if mode == Mode::ResetOnly {
            return 0;
        }
    }
    if mode == Mode::List {
        return list(&ctx, policy);
    }
    // argv of the command: the command as typed, then its args (argv[0]
    // becomes the rule's path once a rule allows it).
    ctx.argv = opts.command.iter().map(|a| a.as_bytes().to_vec()).collect();
    let Some(cmd) = opts.command.first() else {
        say("no command given (try `bdexec -h`)");
        return exit::USAGE;
    };
    let args: Vec<Vec<u8>> = ctx.argv[1..].to_vec();

    // -u: parse and resolve before anything else depends on it.
    let explicit = match &opts.user {
        None => None,
        Some(u) => match identity::parse_target_arg(u).and_then(|p| identity::resolve_target(&p)) {
            Ok(t) => Some(t),
            Err(e) => return ctx.reject(&none, &e.to_string(), &e.to_string(), exit::DENIED),
        },
    };

    // Resolve the command with the caller's own file access.
    let resolved = privileges::euid_caller()
        .map_err(|e| e.to_string())
        .and_then(|()| {
            let r = resolve::resolve(cmd, &policy.defaults.secure_path, ctx.cwd.as_deref());
            privileges::euid_root().map_err(|e| e.to_string())?;
            Ok(r)
        });
    let resolved = match resolved {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            let s = Subject {
                target: explicit.as_ref(),
                command: Some(cmd.as_bytes()),
                rule: None,
                ..Default::default()
            };
            return ctx.reject(&s, &e.to_string(), &e.to_string(), exit::DENIED);
        }
        Err(e) => {
            // The effective ids may be the caller's now: the log cannot be
            // opened, so syslog stands in for the record.
            let msg = format!("cannot change effective ids: {e}");
            alert::syslog(&format!("uid {}: refused: {msg}", ctx.caller.uid));
            say(&msg);
            return exit::ENVIRONMENT;
        }
    };
    let cmd_path = resolved.path.as_os_str().as_bytes().to_vec();
    let files = resolve::StatFileIds::default();
    // The name the caller used and the file it opened, for the decision.
    let invoked = resolved.invoked();
    if let Some(d) = crate::incident::decoy::hit(policy, &ctx.caller, invoked, &args, &files) {
        // Haze: the ordinary denial's words, for the target asked for.
        let msg = match &explicit {
            Some(t) => format!(
                "{} is not allowed to run {} as {}",
                ctx.who(),
                display(&cmd_path),
                t.target.name
            ),
            None => format!("{} is not allowed to run {}", ctx.who(), display(&cmd_path)),
        };
        // The target a grant would have: resolving it is the account
        // lookup an ordinary denial makes (haze: the same work).
        let implied = match &explicit {
            Some(_) => None,
            None => d
                .run_as
                .first()
                .and_then(|p| identity::resolve_target(p).ok()),
        };
        let s = Subject {
            target: explicit.as_ref().or(implied.as_ref()),
            command: Some(&cmd_path),
            rule: Some(&d.name),
            ..Default::default()
        };
        return decoy_hit(&ctx, &s, &msg, policy, &state_dir, &clock);
    }

    let target = match explicit {
        Some(t) => t,
        None => match decide::default_target(policy, &ctx.caller, invoked, &args, &files) {
            None => {
                // No allow rule: say in the record whether a deny rule
                // (for the usual target, root) also matched.
                let (rule, reason) = identity::resolve_target(&Principal::Id(0))
                    .ok()
                    .and_then(|root| {
                        let req = Request {
                            caller: &ctx.caller,
                            target: &root.target,
                            command: invoked,
                            args: &args,
                        };
                        match decide::decide(policy, &req, &files) {
                            Decision::Deny { rule, reason } => Some((rule, reason)),
                            Decision::Allow { .. } => None,
                        }
                    })
                    .unwrap_or((None, decide::DenyReason::NoRule));
                let s = Subject {
                    target: None,
                    command: Some(&cmd_path),
                    rule: rule.map(|r| r.name.as_str()),
                    ..Default::default()
                };
                let msg = format!("{} is not allowed to run {}", ctx.who(), display(&cmd_path));
                return ctx.reject(&s, reason.as_str(), &msg, exit::DENIED);
            }
            Some(p) => match identity::resolve_target(p) {
                Ok(t) => t,
                Err(e) => {
                    let s = Subject {
                        target: None,
                        command: Some(&cmd_path),
                        rule: None,
                        ..Default::default()
                    };
                    let msg = format!("run_as target: {e}");
                    return ctx.reject(&s, &msg, &msg, exit::DENIED);
                }
            },
        },
    };

    let req = Request {
        caller: &ctx.caller,
        target: &target.target,
        command: invoked,
        args: &args,
    };
    fn about<'a>(t: &'a TargetAccount, cmd: &'a [u8], rule: Option<&'a Rule>) -> Subject<'a> {
        Subject {
            target: Some(t),
            command: Some(cmd),
            rule: rule.map(|r| r.name.as_str()),
            ..Default::default()
        }
    }
    let subject = |rule| about(&target, &cmd_path, rule);
    let approved_by: Option<String>;
    let (rule, spec) = match decide::decide(policy, &req, &files) {
        Decision::Deny { rule, reason } => {
            let msg = format!(
                "{} is not allowed to run {} as {}",
                ctx.who(),
                display(&cmd_path),
                target.target.name
            );
            return ctx.reject(&subject(rule), reason.as_str(), &msg, exit::DENIED);
        }
        Decision::Allow { rule, .. }
            if frozen.is_frozen() && !policy.incident.is_break_glass(&rule.name) =>
        {
            let msg = format!(
                "{} is not allowed to run {} as {}",
                ctx.who(),
                display(&cmd_path),
                target.target.name
            );
            return ctx.reject(
                &subject(Some(rule)),
                "host is frozen: only break_glass rules run",
                &msg,
                exit::DENIED,
            );
        }
        Decision::Allow { rule, spec, auth } => {
            // The target's argv[0] is the command as the rule writes it,
            // never the caller's: one file can have several personalities
            // chosen by argv[0] (busybox, vim/rview, bzip2/bunzip2,
            // systemctl/reboot). From here on records show this argv.
            if let Some(first) = ctx.argv.first_mut() {
                *first = decide::argv0(spec, invoked).as_os_str().as_bytes().to_vec();
            }
            // An expired account is refused whatever the rule's auth.
            // The anchored effective now: setting the clock back cannot
            // revive an expired account.
            if let Some(name) = ctx.caller.name.as_deref()
                && let Err(e) = crate::account::check_not_expired(name, clock.effective_now)
            {
                let msg = e.to_string();
                return ctx.reject(&subject(Some(rule)), &msg, &msg, exit::DENIED);
            }
            // require_tty: refused without a controlling terminal (from
            // /proc/self/stat, not from fds the caller chose), before
            // any prompt, as sudo's requiretty.
            if rule.session.or(policy.defaults.session).require_tty == Some(true)
                && ctx.tty.is_none()
            {
                let msg = "this command needs a terminal (require_tty); \
                           run it from an interactive session";
                return ctx.reject(
                    &subject(Some(rule)),
                    "no terminal (require_tty)",
                    msg,
                    exit::DENIED,
                );
            }
            // PAM's account stage for every rule (`pam_account`, default
            // on); a password rule runs it after the password.
            let account = || {
                if policy.defaults.pam_account {
                    authstep::account(ctx.caller.name.as_deref())
                } else {
                    Ok(())
                }
            };
            if auth != Auth::Approval && !opts.token.is_empty() {
                // Nothing given is ignored: tokens for a rule that takes
                // none refuse rather than pass unnoticed.
                let msg = format!(
                    "rule {} takes no approval tokens; refusing rather than ignoring --token",
                    rule.name
                );
                return ctx.reject(&subject(Some(rule)), &msg, &msg, exit::DENIED);
            }
            let authed = match auth {
                Auth::None => account().map(|()| None),
                // Root is not asked for a password (as sudo): it could
                // rewrite the policy anyway.
                Auth::Password if ctx.caller.uid == 0 => account().map(|()| None),
                Auth::Password => authstep::password(
                    ctx.caller.name.as_deref(),
                    ctx.caller.uid,
                    &state_dir,
                    rule.timestamp_timeout_with(&policy.defaults),
                    &authstep::PasswordOptions {
                        non_interactive: opts.non_interactive,
                        // -k CMD: ask, and leave no fresh timestamp (as sudo).
                        cache: !opts.reset_timestamp,
                    },
                )
                .map(|()| None),
                Auth::Approval => {
                    let mut argv: Vec<OsString> = vec![resolved.path.clone().into_os_string()];
                    argv.extend(opts.command.iter().skip(1).cloned());
                    let req = authstep::ApprovalRequest {
                        token_files: &opts.token,
                        user: ctx.caller.name.as_deref(),
                        argv: &argv,
                        run_as: &target.target.name,
                    };
                    // The account stage first: a refused account does not
                    // use up the tokens' nonces.
                    account()
                        .and_then(|()| authstep::approval(policy, rule, &req, &state_dir, &clock))
                        .map(|names| Some(format!("approved by {}", names.join(", "))))
                }
            };
            let authed = match authed {
                Ok(a) => a,
                Err(msg) => return ctx.reject(&subject(Some(rule)), &msg, &msg, exit::DENIED),
            };
            if let Err(msg) = authstep::rate_limit(rule, ctx.caller.uid, &state_dir, &clock) {
                return ctx.reject(&subject(Some(rule)), &msg, &msg, exit::DENIED);
            }
            approved_by = authed;
            ctx.watch.end_auth();
            (rule, spec)
        }
    };

    if let Some(want) = spec.digest {
        match resolve::digest_fd(&resolved) {
            Ok(got) if got == want => {}
            Ok(_) => {
                let msg = format!(
                    "{}: digest does not match the policy's pin",
                    display(&cmd_path)
                );
                return ctx.reject(&subject(Some(rule)), &msg, &msg, exit::DENIED);
            }
            Err(e) => {
                return ctx.reject(
                    &subject(Some(rule)),
                    &e.to_string(),
                    &e.to_string(),
                    exit::DENIED,
                );
            }
        }
    }

    // The command gets the groups the decision saw (resolving the target
    // read them). Only when the decision depended on them (run_as =
    // ["%group"]) are they read again: a membership change since then
    // refuses. Other rules skip the second NSS lookup.
    let by_group = rule
        .run_as
        .iter()
        .any(|p| matches!(p, Principal::GroupName(_) | Principal::GroupId(_)));
    crate::testhook::point("before-target-groups");
    let groups = if by_group {
        match identity::target_groups(&target.target) {
            Ok(g) => g,
            Err(e) => {
                return ctx.reject(
                    &subject(Some(rule)),
                    &e.to_string(),
                    &e.to_string(),
                    exit::DENIED,
                );
            }
        }
    } else {
        target
            .target
            .gids
            .iter()
            .map(|g| nix::unistd::Gid::from_raw(*g))
            .collect()
    };
    if by_group && !identity::same_groups(&groups, &target.target.gids) {
        let msg = format!(
            "the groups of {} changed between decision and exec: refused",
            target.target.name
        );
        return ctx.reject(&subject(Some(rule)), &msg, &msg, exit::DENIED);
    }
    let caller_env = env::snapshot_env();
    let command_line = command_line(&cmd_path, &args);
    // The rule's env_keep adds to the defaults'; its secure_path is the
    // command's PATH (the command itself was resolved with the defaults':
    // the rule was not known yet; belladonna-policy(5)).
    let env_keep = rule.env_keep_with(&policy.defaults);
    let env::BuiltEnv { envp, dropped } = env::build_env(&env::EnvInput {
        caller_env: &caller_env,
        env_keep: &env_keep,
        setenv: &[&policy.defaults.setenv, &rule.setenv],
        secure_path: rule.secure_path_with(&policy.defaults),
        target: &target,
        caller: &ctx.caller,
        command_line: &command_line,
    });
    let argv: Vec<CString> = match ctx
        .argv
        .iter()
        .map(|a| CString::new(a.as_slice()))
        .collect()
    {
        Ok(v) => v,
        Err(_) => {
            let msg = "argument contains a NUL byte";
            return ctx.reject(&subject(Some(rule)), msg, msg, exit::DENIED);
        }
    };

    // exec/sandbox, part 1: build the Landlock ruleset and the seccomp
    // filter (from the cache) and check the grants, without applying.
    let confinement =
        match confine::prepare(policy, rule, &resolved.path, target.target.uid, &state_dir) {
            Ok(c) => c,
            Err(msg) => return ctx.reject(&subject(Some(rule)), &msg, &msg, exit::DENIED),
        };
    // TOCTOU: the policy the decision used must still be the installed one.
    crate::testhook::point("before-recheck");
    match crate::policy::load::recheck_against(&loaded) {
        Ok(h) if h == loaded.hash => {}
        Ok(h) => {
            let msg = format!(
                "policy changed between decision and apply (decided with {}, now {}): refused",
                hex(&loaded.hash),
                hex(&h)
            );
            return ctx.reject(&subject(Some(rule)), &msg, &msg, exit::DENIED);
        }
        Err(e) => {
            let msg = format!("policy changed between decision and apply: {e}");
            return ctx.policy_refusal(&subject(Some(rule)), &msg, exit::DENIED);
        }
    }

    // The durable accept record: nothing runs without it.
    let session = rule.session.or(policy.defaults.session);
    let monitor = session.monitor == Some(true);
    let accepted = Subject {
        sandbox: confinement.as_ref().and_then(|c| c.profile()),
        confinement: confinement.as_ref().map(|c| c.summary()),
        env_dropped: &dropped,
        monitor,
        ..subject(Some(rule))
    };
    let reason = match &approved_by {
        Some(a) => format!("allowed, {a}"),
        None => "allowed".to_string(),
    };
    let accept_uuid = match ctx.record(Event::Accept, &accepted, &reason, None) {
        Ok(u) => u,
        Err(e) => {
            alert::syslog(&format!(
                "uid {}: {} not run: {e}",
                ctx.caller.uid,
                display(&cmd_path)
            ));
            say(&e.to_string());
            return exit::AUDIT;
        }
    };
    crate::testhook::point("before-exec");

    // Point of no return: any failure from here exits without running.
    let fail = |msg: String| -> ! {
        alert::syslog(&format!(
            "uid {}: accepted command not run: {msg}",
            ctx.caller.uid
        ));
        say(&msg);
        std::process::exit(exit::EXEC)
    };
    // Monitor mode: the parent stays to record the exit (never returns
    // here); the child goes on exactly as a plain exec.
    if monitor {
        let plan = monitor::Plan {
            use_pty: session.use_pty != Some(false),
            target_uid: target.target.uid,
            target_gid: target.target.gid,
            accept: accept_uuid,
            host: &ctx.host,
            traceparent: ctx.traceparent.as_deref(),
        };
        if let Err(e) = monitor::start(&plan).and_then(|mut c| c.before_switch()) {
            fail(format!("cannot start the monitor, nothing was run: {e}"));
        }
    }
    // DESIGN section 4, exec/sandbox: bounding set and securebits ->
    // setgroups/setresgid/setresuid -> rlimits/umask -> the granted
    // capabilities -> no_new_privs -> Landlock -> seccomp (last) -> exec.
    if let Some(c) = &confinement
        && let Err(e) = c.before_id_switch(target.target.uid)
    {
        fail(format!("cannot confine the command, nothing was run: {e}"));
    }
    let grant_follows = confinement.as_ref().is_some_and(|c| c.grant_follows());
    if let Err(e) =
        privileges::switch_to_target(target.target.uid, target.target.gid, &groups, grant_follows)
    {
        fail(format!("privilege switch failed, nothing was run: {e}"));
    }
    if let Err(e) = saved.restore_for_target(policy.defaults.umask) {
        fail(format!("cannot prepare the command, nothing was run: {e}"));
    }
    if let Some(c) = confinement
        && let Err(e) = c.apply()
    {
        fail(format!("cannot confine the command, nothing was run: {e}"));
    }
    let e = launch::exec_fd(&resolved.fd, &argv, &envp);
    fail(format!(
        "{}: cannot execute: {}",
        display(&cmd_path),
        e.desc()
    ))
}

fn command_line(path: &[u8], args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = path.to_vec();
    for a in args {
        out.push(b' ');
        out.extend_from_slice(a);
    }
    out
}

/// `-l`: the caller's rules. Exit 1 when none allows anything (as sudo),
/// so that a script can test it.
fn list(ctx: &Ctx, policy: &crate::policy::model::Policy) -> i32 {
    use std::fmt::Write as _;
    // Decoys are listed exactly as grants, where they are written
    // (docs/incident-response.md).
    let rules = crate::incident::decoy::listing(
        decide::rules_for_caller(policy, &ctx.caller),
        crate::incident::decoy::for_caller(policy, &ctx.caller),
    );
    let allowed = rules.iter().any(|r| r.action == Action::Allow);
    let mut text = String::new();
    // Writing to a String cannot fail.
    if rules.is_empty() {
        let _ = writeln!(text, "{} may not run any commands with bdexec.", ctx.who());
    } else {
        let _ = writeln!(
            text,
            "{} may run the following commands with bdexec:",
            ctx.who()
        );
    }
    for r in rules {
        let runas: Vec<String> = r.run_as.iter().map(ToString::to_string).collect();
        for c in &r.commands {
            let _ = match r.action {
                Action::Allow => writeln!(
                    text,
                    "    ({}) auth={} {}",
                    runas.join(", "),
                    r.auth.as_str(),
                    display(render(c).as_bytes())
                ),
                Action::Deny => writeln!(text, "    denied: {}", display(render(c).as_bytes())),
            };
        }
    }
    if !crate::stdio::out(&text) {
        say("cannot write the listing to standard output");
        exit::OUTPUT
    } else if allowed {
        0
    } else {
        exit::DENIED
    }
}

/// A decoy hit: answer with the ordinary denial and an `alert` record;
/// then, after the answer, count it towards the decoy alarm and, when the
/// alarm fires, record it (a second `alert`), send it to syslog and,
/// with `auto_freeze`, freeze the host (a `freeze` record).
fn decoy_hit(
    ctx: &Ctx,
    s: &Subject<'_>,
    msg: &str,
    policy: &crate::policy::model::Policy,
    state_dir: &std::os::fd::OwnedFd,
    clock: &crate::state::clock::Clock,
) -> i32 {
    use crate::incident::{alarm, counters, freeze};
    let set = policy.incident.settings_or_default();
    let bookkeeping = || {
        counters::bump_decoy_hit();
        ctx.hydra(crate::incident::hydra::Head::DecoyHit);
        let Some(o) = alarm::hit_persisted(
            clock.effective_now,
            set.decoy_window,
            set.decoy_floor,
            set.decoy_factor_ppm,
        )
        .filter(|o| o.fired) else {
            return;
        };
        let why = format!(
            "decoy alarm: {} hits in this window, threshold {}",
            o.count,
            crate::incident::ppm_text(o.threshold_ppm)
        );
        alert::syslog(&format!("uid {}: {why}", ctx.caller.uid));
        if let Err(e) = ctx.record(Event::Alert, s, &why, None) {
            alert::syslog(&format!("decoy alarm not recorded: {e}"));
        }
        if !set.auto_freeze {
            return;
        }
        let info = freeze::FreezeInfo {
            since: clock.effective_now,
            reason: format!("decoy alarm: {} hits in one window", o.count),
            cause: freeze::Cause::DecoyRate,
            uid: ctx.caller.uid,
        };
        ctx.freeze(state_dir, &info);
    };
    ctx.refuse(Event::Alert, s, "decoy hit", msg, exit::DENIED, bookkeeping)
}
