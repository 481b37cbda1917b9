//! The calls that end before a command: `-k` (forget the caller's
//! timestamps; alone, that is all) and `-l` (the caller's rules).
#![forbid(unsafe_code)]

use super::recv::Ctx;
use super::{Refusal, exit};
use crate::base::escape::display;
use crate::bdexec::cli::{BdexecArgs, Mode};
use crate::decide;
use crate::policy::cmdline::render;
use crate::policy::model::{Action, Policy};
use std::os::fd::{AsFd, OwnedFd};

/// `Some(exit code)` when the call ends here.
pub(super) fn answer(
    ctx: &Ctx,
    opts: &BdexecArgs,
    mode: Mode,
    state_dir: &OwnedFd,
    policy: &Policy,
) -> Result<Option<i32>, Refusal> {
    if opts.reset_timestamp {
        crate::auth::timestamp::remove(state_dir.as_fd(), ctx.caller.uid).map_err(|e| {
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
        let runas: Vec<String> = r.run_as.iter().map(ToString::to_string).collect();
        for c in &r.commands {
            let _ = match r.action {
                Action::Allow => writeln!(
                    text,
                    "    ({}) auth={}{} {}",
                    runas.join(", "),
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
