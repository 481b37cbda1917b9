//! The `authorize` phase (DESIGN section 4, step 2, second half): `-u`
//! resolved, the command resolved with the caller's own file access,
//! the decoy check, the target (decide.rs picks the default), the
//! decision, and frozen mode.
#![forbid(unsafe_code)]

use super::load;
use super::recv::Ctx;
use super::subject::Subject;
use super::{Refusal, exit};
use crate::base::escape::display;
use crate::bdexec::cli::BdexecArgs;
use crate::decide::{self, Decision};
use crate::exec::{privileges, resolve};
use crate::identity::{self, TargetAccount};
use crate::policy::model::{Auth, CommandSpec, Policy, Principal, Rule, Session};
use crate::request::Request;
use crate::state::clock::Clock;
use std::os::fd::{AsFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// An allowed request, before its authentication.
pub(super) struct Allowed<'p> {
    pub policy: &'p Policy,
    pub target: TargetAccount,
    pub rule: &'p Rule,
    pub spec: &'p CommandSpec,
    pub auth: Auth,
    /// The command, opened (O_PATH) where the caller's PATH found it.
    pub resolved: resolve::Resolved,
    /// Its path, for records and messages.
    pub cmd_path: Vec<u8>,
    /// Its arguments (argv\[1..\]).
    pub args: Vec<Vec<u8>>,
    /// `-g`: the primary group; `as_self` when the target is the caller
    /// (`-g` without `-u`: the caller's groups follow).
    pub group: Option<u32>,
    pub as_self: bool,
    /// `-D DIR` (checked against the rule's `chdir`) or, for `-i`, the
    /// target's home: entered as the target, after the privilege drop.
    pub chdir: Option<std::path::PathBuf>,
    /// `-i`: a login shell with the login environment.
    pub login: bool,
}

impl Allowed<'_> {
    /// What the records of this request name.
    pub fn subject(&self) -> Subject {
        let mut s = Subject::of(
            Some(&self.target),
            Some(&self.cmd_path),
            Some(&self.rule.name),
        );
        if let (Some(g), Some(t)) = (self.group, s.target.as_mut()) {
            t.gid = g;
        }
        s
    }

    /// The rule's session keys over `[defaults]`'.
    pub fn session(&self) -> Session {
        self.rule.session.or(self.policy.defaults.session)
    }
}

pub(super) fn authorize<'p>(
    ctx: &mut Ctx,
    opts: &BdexecArgs,
    loaded: &'p load::Policy,
    state_dir: &OwnedFd,
    clock: &Clock,
) -> Result<Allowed<'p>, Refusal> {
    let policy = &loaded.loaded.policy;
    // -u: parse and resolve before anything else depends on it. -i
    // without -u: root, as sudo's runas_default; -g without -u: the
    // caller itself.
    let daily = &opts.daily;
    // The state directory holds the group memo (src/identity/groups_memo.rs).
    let resolve_target = |p: &Principal| identity::resolve_target_in(p, Some(state_dir.as_fd()));
    let target_of = |p: &Principal| resolve_target(p).map_err(|e| Refusal::denied(e.to_string()));
    let group = match &daily.group {
        Some(g) => Some(super::daily::group(g)?),
        None => None,
    };
    let as_self = group.is_some() && opts.user.is_none();
    let explicit = match &opts.user {
        Some(u) => Some(
            identity::parse_target_arg(u)
                .map_err(|e| Refusal::denied(e.to_string()))
                .and_then(|p| target_of(&p))?,
        ),
        None if as_self => Some(target_of(&Principal::Id(ctx.caller.uid))?),
        None if daily.login => Some(target_of(&Principal::Id(0))?),
        None => None,
    };
    // argv of the command: the command as typed (or the shell of -s/-i),
    // then its args (argv[0] becomes the rule's path once a rule allows
    // it).
    let command = super::daily::command(ctx, opts, explicit.as_ref())?;
    ctx.argv = command.iter().map(|a| a.as_bytes().to_vec()).collect();
    let Some(cmd) = command.first() else {
        return Err(Refusal::printed(
            exit::USAGE,
            "no command given (try `bdexec -h`)",
        ));
    };
    let args: Vec<Vec<u8>> = ctx.argv[1..].to_vec();

    // Resolve the command with the caller's own file access.
    let resolved = privileges::euid_caller()
        .and_then(|()| {
            let r = resolve::resolve(cmd, &policy.defaults.secure_path, ctx.cwd.as_deref());
            privileges::euid_root()?;
            Ok(r)
        })
        // The effective ids may be the caller's now: the log cannot be
        // opened, so syslog stands in for the record.
        .map_err(|e| {
            Refusal::unrecorded(
                exit::ENVIRONMENT,
                "refused",
                format!("cannot change effective ids: {e}"),
            )
        })?
        .map_err(|e| {
            Refusal::denied(e.to_string()).about(Subject::of(
                explicit.as_ref(),
                Some(cmd.as_bytes()),
                None,
            ))
        })?;
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
            None => d.run_as.first().and_then(|p| resolve_target(p).ok()),
        };
        return Err(Refusal {
            keep: super::refusal::Keep::Decoy {
                now: clock.effective_now,
                settings: Box::new(policy.incident.settings_or_default()),
            },
            ..Refusal::denied_as("decoy hit", msg).about(Subject::of(
                explicit.as_ref().or(implied.as_ref()),
                Some(&cmd_path),
                Some(&d.name),
            ))
        });
    }

    let target =
        match explicit {
            Some(t) => t,
            None => match decide::default_target(policy, &ctx.caller, invoked, &args, &files) {
                None => {
                    // No allow rule: say in the record whether a deny rule
                    // (for the usual target, root) also matched.
                    let root = resolve_target(&Principal::Id(0)).ok();
                    let denial = decide::deny_without_target(
                        policy,
                        &ctx.caller,
                        invoked,
                        &args,
                        &files,
                        root.as_ref().map(|r| &r.target),
                    );
                    let msg = format!("{} is not allowed to run {}", ctx.who(), display(&cmd_path));
                    return Err(Refusal::denied_as(denial.reason.as_str(), msg).about(
                        Subject::of(None, Some(&cmd_path), denial.rule.map(|r| r.name.as_str())),
                    ));
                }
                Some(p) => resolve_target(p).map_err(|e| {
                    Refusal::denied(format!("run_as target: {e}")).about(Subject::of(
                        None,
                        Some(&cmd_path),
                        None,
                    ))
                })?,
            },
        };

    let req = Request {
        caller: &ctx.caller,
        target: &target.target,
        command: invoked,
        args: &args,
    };
    let not_allowed = || {
        format!(
            "{} is not allowed to run {} as {}",
            ctx.who(),
            display(&cmd_path),
            target.target.name
        )
    };
    let about = |rule: Option<&Rule>| {
        Subject::of(
            Some(&target),
            Some(&cmd_path),
            rule.map(|r| r.name.as_str()),
        )
    };
    let ask = group.as_ref().map(|g| {
        (
            crate::policy::matcher::GroupAsk {
                gid: g.gid,
                name: g.name.as_deref(),
            },
            as_self,
        )
    });
    let (rule, spec, auth) = match decide::decide_with_group(policy, &req, &files, ask) {
        Decision::Deny { rule, reason } => {
            return Err(Refusal::denied_as(reason.as_str(), not_allowed()).about(about(rule)));
        }
        Decision::Allow { rule, .. }
            if loaded.frozen.is_frozen() && !policy.incident.is_break_glass(&rule.name) =>
        {
            return Err(Refusal::denied_as(
                "host is frozen: only break_glass rules run",
                not_allowed(),
            )
            .about(about(Some(rule))));
        }
        Decision::Allow { rule, spec, auth } => (rule, spec, auth),
    };
    let glass = policy.incident.is_break_glass(&rule.name);
    super::space::check_space(ctx, &policy.audit, glass).map_err(|r| r.about(about(Some(rule))))?;
    // The target's argv[0] is the command as the rule writes it, never
    // the caller's: one file can have several personalities chosen by
    // argv[0] (busybox, vim/rview, bzip2/bunzip2, systemctl/reboot). From
    // here on records show this argv.
    let mut argv0 = decide::argv0(spec, invoked).as_os_str().as_bytes().to_vec();
    if daily.login {
        argv0 = super::daily::login_argv0(&argv0);
    }
    if let Some(first) = ctx.argv.first_mut() {
        *first = argv0;
    }
    // -D: only where the rule's `chdir` names the directory.
    let chdir = match &daily.chdir {
        Some(dir) if !crate::policy::matcher::chdir_allowed(rule, dir.as_os_str().as_bytes()) => {
            return Err(Refusal::denied_as(
                "directory not allowed by the rule's chdir",
                format!(
                    "{} may not run {} in {} (-D)",
                    ctx.who(),
                    display(&cmd_path),
                    display(dir.as_os_str().as_bytes())
                ),
            )
            .about(about(Some(rule))));
        }
        Some(dir) => Some(dir.clone()),
        None if daily.login => Some(target.home.clone()),
        None => None,
    };
    Ok(Allowed {
        policy,
        target,
        rule,
        spec,
        auth,
        resolved,
        cmd_path,
        args,
        group: group.map(|g| g.gid),
        as_self,
        chdir,
        login: daily.login,
    })
}
