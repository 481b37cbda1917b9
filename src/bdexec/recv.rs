//! The `recv` phase (DESIGN section 4, step 1): the process made sane
//! (src/exec/hygiene.rs), the command line read, the environment and
//! capabilities checked, the caller read from the kernel, the process
//! shielded from its caller, the state directory opened and the per-boot
//! clock read.
#![forbid(unsafe_code)]

use super::{Refusal, exit};
use crate::audit;
use crate::bdexec::cli::{BdexecArgs, Mode};
use crate::exec::{hygiene, privileges};
use crate::identity;
use crate::request::Caller;
use crate::state::{StateError, clock};
use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Facts about this call gathered in `recv`, used by every record.
pub struct Ctx {
    pub(super) caller: Caller,
    pub(super) cwd: Option<PathBuf>,
    pub(super) tty: Option<String>,
    pub(super) host: Vec<u8>,
    pub(super) argv: Vec<Vec<u8>>,
    pub(super) policy_hash: Option<[u8; 32]>,
    /// How the installed policy differs from its pin, if it does.
    pub(super) drift: Option<String>,
    /// Wall/monotonic skew over 2 s since this boot's anchor.
    pub(super) clock_skew: Option<i64>,
    /// The state directory, once open: refusals are rate-limited per uid
    /// (crate::state::refusals) from then on.
    pub(super) refusal_state: Option<OwnedFd>,
    /// Stage timings for every record (docs/audit-format.md).
    pub(super) watch: audit::timing::Stopwatch,
    /// The caller's TRACEPARENT, checked: the header or "invalid".
    pub(super) traceparent: Option<String>,
    /// `[incident]` of the loaded policy (hydra and automatic freezing).
    pub(super) incident: Option<crate::policy::model::IncidentSettings>,
    /// /etc/belladonna as the policy load opened and checked it: the
    /// records read the audit key below it (one walk of the path for the
    /// policy, its pin and the key).
    pub(super) conf_dir: Option<OwnedFd>,
}

impl Ctx {
    /// The caller's name, or `#uid`.
    pub(super) fn who(&self) -> String {
        self.caller
            .name
            .clone()
            .unwrap_or_else(|| format!("#{}", self.caller.uid))
    }
}

/// The process hygiene, first of all (fds, signals, rlimits, umask).
pub(super) fn sanitize() -> Result<hygiene::Saved, Refusal> {
    Ok(hygiene::sanitize()?)
}

/// The command line, read.
pub(super) enum Parsed {
    /// Options to act on; `None` for an empty argument list (argc 0),
    /// refused (and recorded) once the caller is known.
    Call(Option<Box<(BdexecArgs, Mode)>>),
    /// Help or version was written: the exit code.
    Answered(i32),
}

/// Help, version and usage errors need no privileges. Options are read
/// as getopt(3) reads them, and a combination the synopsis does not
/// allow is a usage error, never silently ignored (src/bdexec/cli.rs).
pub(super) fn parse(args: &[OsString]) -> Result<Parsed, Refusal> {
    // Since Linux 5.18 the kernel turns an empty argv into [""]: both are
    // argc 0 to us.
    let argc0 = args.first().is_none_or(|a| a.is_empty()) && args.len() <= 1;
    if argc0 {
        return Ok(Parsed::Call(None));
    }
    match BdexecArgs::parse_strict(args) {
        Ok(Ok(o)) => Ok(Parsed::Call(Some(Box::new(o)))),
        Ok(Err(msg)) => Err(Refusal::printed(exit::USAGE, msg)),
        Err(e) => usage(e),
    }
}

fn usage(e: clap::Error) -> Result<Parsed, Refusal> {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            if crate::base::stdio::out(&e.to_string()) {
                Ok(Parsed::Answered(0))
            } else {
                Err(Refusal::printed(
                    exit::OUTPUT,
                    "cannot write to standard output",
                ))
            }
        }
        _ => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("usage error");
            Err(Refusal::printed(
                exit::USAGE,
                first.trim_start_matches("error: "),
            ))
        }
    }
}

/// no_new_privs, ptrace, user namespace, file capabilities; then root's
/// file access for bdexec's own files.
pub(super) fn check_environment() -> Result<(), Refusal> {
    hygiene::check_environment()?;
    privileges::enter_root_files()
        .map_err(|e| Refusal::environment(format!("cannot switch to root for its files: {e}")))
}

/// The caller, from the kernel (names via NSS), and the call's facts.
pub(super) fn recv(args: &[OsString], watch: audit::timing::Stopwatch) -> Result<Ctx, Refusal> {
    let caller = identity::caller_from_kernel().map_err(|e| Refusal::environment(e.to_string()))?;
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
        conf_dir: None,
    })
}

/// The caller can no longer stop, kill or ptrace this process.
pub(super) fn shield(ctx: &Ctx) -> Result<(), Refusal> {
    privileges::shield(ctx.caller.uid).map_err(|e| {
        Refusal::environment(format!("cannot shield the process from its caller: {e}"))
    })
}

/// The state directory (refusals are rate-limited from here on), the
/// caller's account, the per-boot clock.
pub(super) fn state(ctx: &mut Ctx) -> Result<(OwnedFd, clock::Clock), Refusal> {
    let state_dir = crate::state::open_state_dir()
        .map_err(|e| Refusal::reject(exit::ENVIRONMENT, e.to_string()))?;
    ctx.refusal_state = state_dir.try_clone().ok();
    // A uid without an account is refused whatever the groups or a
    // `#uid` rule say (as sudo): PAM, the timestamp, approval tokens and
    // the records all name the caller (bdexec(8), CALLERS WITHOUT AN
    // ACCOUNT).
    if ctx.caller.name.is_none() {
        return Err(Refusal::denied_as(
            format!("uid {} has no passwd entry", ctx.caller.uid),
            "you do not exist in the passwd database",
        ));
    }
    // The per-boot clock anchor: skew is checked (and recorded) on every
    // call; a corrupt anchor refuses rather than silently resetting.
    let clock = read_clock(&state_dir)
        .map_err(|e| Refusal::reject(exit::ENVIRONMENT, format!("clock anchor: {e}")))?;
    ctx.clock_skew = clock.skew;
    ctx.watch.end_recv();
    Ok((state_dir, clock))
}

/// The per-boot clock, read once at the start of every call: a
/// wall/monotonic skew over 2 s is reported to syslog and root's stderr
/// (the caller also puts it in the audit record).
pub fn read_clock(state_dir: &OwnedFd) -> Result<clock::Clock, StateError> {
    let c = clock::now(state_dir.as_fd())?;
    if let Some(skew) = c.skew {
        let msg = format!(
            "wall clock moved {skew:+} s against the monotonic clock since this boot's anchor"
        );
        crate::audit::alert::syslog(&msg);
        if privileges::caller_uid() == 0 {
            crate::base::stdio::err_line(&format!("bdexec: warning: {msg}\n"));
        }
    }
    Ok(c)
}
