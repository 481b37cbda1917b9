//! The bdexec pipeline: recv -> auth -> validate -> exec (DESIGN section 4).
//!
//! `run` is the whole call as a chain of phases, one file each:
//!
//! * `recv`: make the process sane, parse the command line, check the
//!   environment and capabilities, read the caller, shield the process,
//!   open the state and read the clock;
//! * `load`: the policy, its pin (drift), frozen mode;
//! * `modes`: `-k` alone, `-K`, `-v`, `-l` and `-l COMMAND`, which end
//!   the call there;
//! * `edit`: `-e FILE...` (sudoedit) instead of the phases below, with
//!   its own records;
//! * `authorize`: `-u`, resolving the command, decoys, the decision
//!   (decide.rs) and frozen mode;
//! * `options`: the caller's -E, -P, -T checked against the rule;
//! * `auth`: the rule's authentication and rate limit; then `novelty`
//!   (a first-time command counts towards the hydra score when automatic
//!   freezing is on);
//! * `validate`: digest pin, the target's groups, environment, argv;
//! * `confine`: the sandbox built (not applied), the TOCTOU recheck;
//! * `background`: `-b` forks, the caller's bdexec returning 0 once
//!   the accept record is durable;
//! * `record`: the durable `accept` record;
//! * `launch`: monitor mode (exec/monitor/), the privilege drop in
//!   DESIGN section 4's order, and `execveat`.
//!
//! Each phase returns `Result<_, Refusal>` ([`refusal`]). A refusal is
//! answered in one place, [`Refusal::answer`]: one line on stderr
//! (`bdexec: ...`), a `reject` record where the audit log can be written
//! (rate-limited per uid), and a documented exit code (see [`exit`]).
//! Nothing runs without a durable `accept` record.
#![forbid(unsafe_code)]

pub mod auth;
mod authorize;
mod background;
pub mod cli;
mod confine;
mod daily;
mod edit;
mod getopt;
mod launch;
mod load;
mod modes;
mod novelty;
mod options;
mod record;
pub mod recv;
pub mod refusal;
mod space;
mod subject;
mod validate;

pub use refusal::Refusal;

use crate::audit::timing::Stopwatch;
use recv::Ctx;
use std::ffi::OsString;

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
    pub const INTERNAL: i32 = crate::base::stdio::PANIC_EXIT;
    /// The command could not be executed after it was allowed.
    pub const EXEC: i32 = 126;
}

/// What a caller other than root is told when the policy cannot be used.
pub const POLICY_NOT_SHOWN: &str = "the policy could not be loaded; the administrator finds the \
     reason in the system log (journalctl -t bdexec) and with `bdctl policy check`";

/// How this bdexec was linked: the static one hands PAM and NSS beyond
/// `files` to its dynamically linked twin (src/exec/twin.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linkage {
    Static,
    Dynamic,
}

/// Entry point: the whole call. Returns the exit code on refusal; on
/// success it does not return (the process becomes the command).
#[inline(never)] // its frame is the pipeline's: after the stack limit is raised
pub fn main(args: Vec<OsString>, linkage: Linkage) -> i32 {
    crate::base::stdio::install_panic_hook();
    let watch = Stopwatch::start();
    let mut ctx = None;
    match run(&args, linkage, watch, &mut ctx) {
        Ok(code) => code,
        Err(refusal) => refusal.answer(ctx.as_ref()),
    }
}

/// Hand the call to the twin because of `why`; returns why that failed.
/// When the ids could not be taken back after a failed exec, the process
/// ends here as any refusal to go on (one line, syslog, exit 5): nothing
/// could be recorded with those ids.
pub(crate) fn to_twin(why: &str) -> String {
    let e = crate::exec::twin::hand_off(why);
    if e.regain.is_some() {
        std::process::exit(Refusal::environment(e.to_string()).answer(None));
    }
    e.to_string()
}

/// The pipeline. `Ok` is the exit code of a call that ends without
/// running a command (help, `-k`, `-l`); a command that runs never
/// returns here. `slot` receives the call's context as soon as `recv`
/// has it, for the refusal's record.
fn run(
    args: &[OsString],
    linkage: Linkage,
    watch: Stopwatch,
    slot: &mut Option<Ctx>,
) -> Result<i32, Refusal> {
    // recv: nothing is trusted or opened before the process is sane and
    // its privileges are known to be real.
    let saved = recv::sanitize()?;
    if linkage == Linkage::Static || crate::base::testhook::act_static() {
        crate::exec::twin::arm(args, &saved);
        crate::identity::nss::confine_static(to_twin);
    } else {
        crate::exec::twin::answer_as_bdexec();
    }
    let call = match recv::parse(args)? {
        recv::Parsed::Answered(code) => return Ok(code),
        recv::Parsed::Call(call) => call,
    };
    recv::check_environment()?;
    let ctx = slot.insert(recv::recv(args, watch)?);
    // Before the first lock: the caller can no longer stop, kill or
    // ptrace this process (src/exec/privileges.rs, docs/state.md).
    recv::shield(ctx)?;
    let (opts, mode) = *call.ok_or_else(Refusal::argc0)?;
    let (state_dir, clock) = recv::state(ctx)?;
    // auth: the policy, then the decision and the rule's authentication.
    let loaded = load::policy(ctx, &state_dir)?;
    let policy = &loaded.loaded.policy;
    if let Some(code) = modes::answer(ctx, &opts, mode, &state_dir, &loaded, &clock)? {
        return Ok(code);
    }
    if mode == cli::Mode::Edit {
        return edit::edit(ctx, &opts, &loaded, &state_dir, &clock);
    }
    let allowed = authorize::authorize(ctx, &opts, &loaded, &state_dir, &clock)?;
    // The caller's -E, -P, -T checked against the rule, before any prompt.
    let granted = options::grant(&opts.driver, &allowed)?;
    let approved_by = auth::authenticate(ctx, &opts, policy, &allowed, &state_dir, &clock)?;
    novelty::check(ctx, &allowed)?;
    // validate: the file, the groups, the environment; then the sandbox
    // built and the policy checked again (TOCTOU); then the record.
    let prepared = validate::validate(ctx, policy, &allowed, &granted)?;
    let confinement = confine::prepare(&loaded, &allowed, &state_dir)?;
    // -b: the caller's bdexec waits here for the durable record, then
    // returns 0; the rest runs in a new session.
    let detached = background::detach(granted.background)?;
    let accepted = record::accept(
        ctx,
        &allowed,
        &prepared,
        confinement.as_ref(),
        approved_by,
        &granted,
    )?;
    detached.accepted();
    // exec/sandbox: the point of no return; comes back only to refuse.
    Err(launch::launch(
        ctx,
        policy,
        &allowed,
        &prepared,
        confinement,
        &accepted,
        &saved,
    ))
}
