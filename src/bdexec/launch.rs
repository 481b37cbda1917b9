//! The `launch` phase (DESIGN section 4, steps 4 and 5): after the
//! durable `accept` record, the point of no return. Monitor mode forks
//! (src/exec/monitor.rs: the parent stays to record the exit and never
//! returns here); then the privilege drop in DESIGN section 4's order and
//! `execveat` of the verified fd. Any failure ends the call without
//! running the command: [`launch`] returns only a refusal (exit 126,
//! syslog, one stderr line).
#![forbid(unsafe_code)]

use super::authorize::Allowed;
use super::record::Accepted;
use super::recv::Ctx;
use super::validate::Prepared;
use super::{Refusal, exit};
use crate::base::escape::display;
use crate::exec::confine::Confinement;
use crate::exec::{hygiene, launch, monitor, privileges};
use crate::policy::model::Policy;
use std::convert::Infallible;

pub(super) fn launch(
    ctx: &Ctx,
    policy: &Policy,
    allowed: &Allowed<'_>,
    prepared: &Prepared,
    confinement: Option<Confinement>,
    accepted: &Accepted,
    saved: &hygiene::Saved,
) -> Refusal {
    // Comes back only with the reason nothing was run.
    let exec = || -> Result<Infallible, String> {
        let target = &allowed.target.target;
        // Monitor mode: the parent stays to record the exit (never returns
        // here); the child goes on exactly as a plain exec.
        if accepted.monitor {
            let plan = monitor::Plan {
                // -b: no terminal to relay (background.rs left it).
                use_pty: accepted.session.use_pty != Some(false) && !accepted.background,
                target_uid: target.uid,
                target_gid: target.gid,
                accept: accepted.uuid,
                host: &ctx.host,
                traceparent: ctx.traceparent.as_deref(),
                timeout: accepted.timeout,
            };
            monitor::start(&plan)
                .and_then(|mut c| c.before_switch())
                .map_err(|e| format!("cannot start the monitor, nothing was run: {e}"))?;
        }
        // DESIGN section 4, exec/sandbox: bounding set and securebits ->
        // setgroups/setresgid/setresuid -> rlimits/umask -> the granted
        // capabilities -> no_new_privs -> Landlock -> seccomp (last) -> exec.
        if let Some(c) = &confinement {
            c.before_id_switch(target.uid)
                .map_err(|e| format!("cannot confine the command, nothing was run: {e}"))?;
        }
        let grant_follows = confinement.as_ref().is_some_and(|c| c.grant_follows());
        privileges::switch_to_target(target.uid, target.gid, &prepared.groups, grant_follows)
            .map_err(|e| format!("privilege switch failed, nothing was run: {e}"))?;
        saved
            .restore_for_target(policy.defaults.umask)
            .map_err(|e| format!("cannot prepare the command, nothing was run: {e}"))?;
        // The grant after the switch (ambient is cleared by it), then
        // no_new_privs, Landlock and seccomp, always last.
        if let Some(c) = confinement {
            c.apply()
                .map_err(|e| format!("cannot confine the command, nothing was run: {e}"))?;
        }
        let e = launch::exec_fd(&allowed.resolved.fd, &prepared.argv, &prepared.envp);
        Err(format!(
            "{}: cannot execute: {}",
            display(&allowed.cmd_path),
            e.desc()
        ))
    };
    let Err(msg) = exec();
    Refusal::unrecorded(exit::EXEC, "accepted command not run", msg)
}
