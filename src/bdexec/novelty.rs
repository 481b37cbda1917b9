//! After authentication, before the record: the hydra's `novelty` head
//! (crate::incident::novelty). Only with `[incident] auto_freeze` on, and
//! never for root. A first-time command that carries the caller's score
//! over `freeze_score` freezes the host on this call, and this call is
//! refused like any call of a frozen host unless its rule is break-glass.
#![forbid(unsafe_code)]

use super::Refusal;
use super::authorize::Allowed;
use super::recv::Ctx;
use crate::base::escape::display;
use crate::incident::hydra::Head;

pub(super) fn check(ctx: &Ctx, allowed: &Allowed<'_>) -> Result<(), Refusal> {
    let on = ctx.incident.as_ref().is_some_and(|s| s.auto_freeze);
    if !on || ctx.caller.uid == 0 {
        return Ok(());
    }
    if !crate::incident::novelty::first_time(ctx.caller.uid, &allowed.cmd_path) {
        return Ok(());
    }
    if !ctx.hydra(Head::Novelty) || allowed.policy.incident.is_break_glass(&allowed.rule.name) {
        return Ok(());
    }
    Err(Refusal::denied_as(
        "host is frozen: only break_glass rules run",
        format!(
            "{} is not allowed to run {} as {}",
            ctx.who(),
            display(&allowed.cmd_path),
            allowed.target.target.name
        ),
    )
    .about(allowed.subject()))
}
