//! The calls that end before a command: `-k` (forget the caller's
//! timestamps; alone, that is all), `-K` (remove them all), `-v`
//! (authenticate, renew the timestamp), `-l` (the caller's rules) and
//! `-l COMMAND` (is it allowed?), each for another user with `-U`
//! (root only).
#![forbid(unsafe_code)]

use super::recv::Ctx;
use super::refusal::Keep;
use super::subject::{Extra, Subject};
use super::{Refusal, exit, load};
use crate::audit::Event;
use crate::base::escape::display;
use crate::bdexec::cli::{BdexecArgs, Mode};
use crate::decide;
use crate::identity;
use crate::policy::cmdline::render;
use crate::policy::model::{Action, Policy};
use crate::request::Caller;
use crate::state::clock::Clock;
use std::os::fd::{AsFd, OwnedFd};

/// `Some(exit code)` when the call ends here.
pub(super) fn answer(
    ctx: &mut Ctx,
    opts: &BdexecArgs,
    mode: Mode,
    state_dir: &OwnedFd,
    loaded: &load::Policy,
    clock: &Clock,
) -> Result<Option<i32>, Refusal> {
    let policy = &loaded.loaded.policy;
    if mode == Mode::RemoveAll {
        crate::auth::timestamp::remove(state_dir.as_fd(), ctx.caller.uid).map_err(|e| {
            Refusal::reject(
                exit::ENVIRONMENT,
                format!("cannot remove the timestamps: {e}"),
            )
        })?;
        return Ok(Some(0));
    }
    if mode == Mode::Validate {
        let asked = super::auth::validate_only(ctx, opts, policy, state_dir, clock)?;
        let reason = if asked {
            "validated (-v): authenticated, timestamp renewed; nothing run"
        } else {
            "validated (-v): no password needed; nothing run"
        };
        ctx.record(
            Event::Validate,
            &Subject::default(),
            &Extra::default(),
            reason,
            None,
        )
        .map_err(|e| Refusal::unrecorded(exit::AUDIT, "-v not recorded", e.to_string()))?;
        return Ok(Some(0));
    }
    if let Some(other) = &opts.daily.other_user {
        // -U: another user's rules, for root only.
        if ctx.caller.uid != 0 {
            return Err(Refusal::denied_as(
                "-l -U by a caller other than root",
                "only root may list another user's rules (-U)",
            ));
        }
        ctx.caller = other_caller(other)?;
    }
    // -U: the call loaded only the rules that can apply to its caller
    // (the policy cache): another user's answer needs the whole policy.
    let whole;
    let (loaded, policy) = if opts.daily.other_user.is_some() {
        let full =
            crate::policy::load::read_sources(std::path::Path::new(crate::base::paths::CONF_DIR))
                .and_then(|s| crate::policy::load::parse_sources(&s))
                .map_err(|e| Refusal::policy(exit::POLICY, format!("policy not loaded: {e}")))?;
        whole = load::Policy {
            loaded: full,
            frozen: loaded.frozen.clone(),
            // Read again just now: no stamps to stand for these bytes.
            settled: None,
        };
        (&whole, &whole.loaded.policy)
    } else {
        (loaded, policy)
    };
    if mode == Mode::Check {
        return check(ctx, opts, loaded, state_dir, clock).map(Some);
    }
    if opts.reset_timestamp {
        // -k: this terminal session's timestamp; without one, all.
        use crate::auth::timestamp;
        let fd = state_dir.as_fd();
        match timestamp::Session::current() {
            Ok(session) => timestamp::forget_session(fd, ctx.caller.uid, &session),
            Err(_) => timestamp::remove(fd, ctx.caller.uid),
        }
        .map_err(|e| {
            Refusal::reject(
                exit::ENVIRONMENT,
                format!("cannot remove the timestamp: {e}"),
            )
        })?;
        if mode == Mode::ResetOnly {
            return Ok(Some(0));
        }
    }
    if mode == Mode::List {
        return list(ctx, policy).map(Some);
    }
    Ok(None)
}

/// The account of `-U USER` as a caller (its uid, primary and
/// supplementary groups and their names, from NSS).
fn other_caller(arg: &std::ffi::OsStr) -> Result<Caller, Refusal> {
    let t = identity::parse_target_arg(arg)
        .and_then(|p| identity::resolve_target(&p))
        .map_err(|e| Refusal::denied(format!("-U: {e}")))?
        .target;
    Ok(Caller {
        uid: t.uid,
        gid: t.gid,
        name: Some(t.name),
        gids: t.gids,
        group_names: t.group_names,
    })
}

/// `-l COMMAND`: for scripts. Allowed: exit 0 and one line, the resolved
/// path and the arguments. Not allowed (for any reason): exit 1 and
/// nothing on stdout or stderr, no record. A decoy answers as a grant
/// (docs/incident-response.md), frozen mode included.
fn check(
    ctx: &mut Ctx,
    opts: &BdexecArgs,
    loaded: &load::Policy,
    state_dir: &OwnedFd,
    clock: &Clock,
) -> Result<i32, Refusal> {
    let line = match super::authorize::authorize(ctx, opts, loaded, state_dir, clock) {
        Ok(a) => Some((a.cmd_path, a.args)),
        Err(Refusal {
            keep: Keep::Decoy { .. },
            subject,
            ..
        }) if !loaded.frozen.is_frozen() => subject
            .command
            .map(|c| (c, ctx.argv.get(1..).unwrap_or_default().to_vec())),
        Err(_) => None,
    };
    let Some((path, args)) = line else {
        return Ok(exit::DENIED);
    };
    let mut text = display(&path);
    for a in &args {
        text.push(' ');
        text.push_str(&display(a));
    }
    text.push('\n');
    if crate::base::stdio::out(&text) {
        Ok(0)
    } else {
        Err(Refusal::printed(
            exit::OUTPUT,
            "cannot write the answer to standard output",
        ))
    }
}

/// `-l`: the caller's rules. Exit 1 when none allows anything (as sudo),
/// so that a script can test it.
fn list(ctx: &Ctx, policy: &Policy) -> Result<i32, Refusal> {
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
        let users = r
            .run_as
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        // sudoedit grants, as sudo lists them among the commands.
        for e in r.edit.iter().flatten() {
            let auth = r.auth.as_str();
            let _ = writeln!(
                text,
                "    ({users}) auth={auth} edit {}",
                display(e.as_bytes())
            );
        }
        // sudo's `(user : group)`, and the directories -D may name.
        let runas = match &r.run_as_groups {
            Some(g) => format!("{users} : {}", g.join(", ")),
            None => users,
        };
        let chdir = match &r.chdir {
            Some(d) => format!(" chdir={}", d.join(",")),
            None => String::new(),
        };
        for c in &r.commands {
            let _ = match r.action {
                Action::Allow => writeln!(
                    text,
                    "    ({runas}) auth={}{}{chdir} {}",
                    r.auth.as_str(),
                    r.caller.listing(),
                    display(render(c).as_bytes())
                ),
                Action::Deny => writeln!(text, "    denied: {}", display(render(c).as_bytes())),
            };
        }
    }
    if !crate::base::stdio::out(&text) {
        Err(Refusal::printed(
            exit::OUTPUT,
            "cannot write the listing to standard output",
        ))
    } else if allowed {
        Ok(0)
    } else {
        Ok(exit::DENIED)
    }
}
