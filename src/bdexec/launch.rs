//! The `launch` phase (DESIGN section 4, steps 4 and 5): after the
//! durable `accept` record, the point of no return. Monitor mode forks
//! (src/exec/monitor/: the parent stays to record the exit and never
//! returns here); then the privilege drop in DESIGN section 4's order and
//! `execveat` of the verified fd; `noexec` (src/exec/noexec.rs) implies
//! the monitor and loads its filter after the id switch, before the
//! sandbox. Any failure ends the call without
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
use crate::exec::{hygiene, launch, monitor, noexec, privileges};
use crate::policy::model::Policy;
use std::convert::Infallible;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

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
        // noexec (exec/noexec.rs): the monitor supervises every exec.
        let (supervisor, mut noexec) = match accepted.session.noexec == Some(true) {
            true => noexec::pair(allowed.resolved.fd.as_fd())
                .map(|(s, c)| (Some(s), Some(c)))
                .map_err(|e| format!("cannot start the monitor, nothing was run: {e}"))?,
            false => (None, None),
        };
        // Monitor mode: the parent stays to record the exit (never returns
        // here); the child goes on exactly as a plain exec.
        if accepted.monitor {
            let plan = monitor::Plan {
                // A recorded session always gets its pty: what is
                // recorded is what the pty shows. -b: no terminal to
                // relay (background.rs left it).
                use_pty: (accepted.session.use_pty != Some(false) || accepted.session.recorded())
                    && !accepted.background,
                target_uid: target.uid,
                target_gid: prepared.gid,
                accept: accepted.uuid,
                host: &ctx.host,
                traceparent: ctx.traceparent.as_deref(),
                record: accepted
                    .session
                    .recorded()
                    .then_some(accepted.session.record_input == Some(true)),
                noexec: supervisor.as_ref(),
                timeout: accepted.timeout,
            };
            monitor::start(&plan)
                .and_then(|mut c| c.before_switch())
                .map_err(|e| format!("cannot start the monitor, nothing was run: {e}"))?;
        } else {
            noexec = None;
        }
        drop(supervisor);
        // DESIGN section 4, exec/sandbox: bounding set and securebits ->
        // setgroups/setresgid/setresuid -> rlimits/umask -> the granted
        // capabilities -> no_new_privs -> Landlock -> seccomp (last) -> exec.
        if let Some(c) = &confinement {
            c.before_id_switch(target.uid)
                .map_err(|e| format!("cannot confine the command, nothing was run: {e}"))?;
        }
        let grant_follows = confinement.as_ref().is_some_and(|c| c.grant_follows());
        privileges::switch_to_target(target.uid, prepared.gid, &prepared.groups, grant_follows)
            .map_err(|e| format!("privilege switch failed, nothing was run: {e}"))?;
        saved
            .restore_for_target(policy.defaults.umask)
            .map_err(|e| format!("cannot prepare the command, nothing was run: {e}"))?;
        // -D / -i: the directory is entered with the target's rights,
        // before Landlock and seccomp (the filter is installed just
        // before execveat; src/policy/syscalls.rs, EXEC_NEEDS).
        if let Some(dir) = &allowed.chdir {
            launch::enter_dir(dir, !allowed.login).map_err(|e| {
                format!(
                    "cannot change to {} as {}: {e}, nothing was run",
                    display(dir.as_os_str().as_bytes()),
                    target.name
                )
            })?;
        }
        // noexec before the sandbox: its filter's listener goes to the
        // monitor over a socket the profile's allow-list may not permit.
        // Without a monitor there is no supervisor: refuse.
        let _armed = match (noexec, accepted.session.noexec == Some(true)) {
            (Some(n), _) => Some(
                n.install()
                    .map_err(|e| format!("cannot confine the command, nothing was run: {e}"))?,
            ),
            (None, true) => return Err("noexec without its monitor, nothing was run".into()),
            (None, false) => None,
        };
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
