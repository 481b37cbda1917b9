//! The `validate` phase (DESIGN section 4, step 3): the digest pin on the
//! opened fd, the target's groups, the environment built from scratch,
//! and argv as C strings.
#![forbid(unsafe_code)]

use super::Refusal;
use super::authorize::Allowed;
use super::recv::Ctx;
use crate::base::escape::display;
use crate::exec::{env, resolve};
use crate::identity;
use crate::policy::model::{Policy, Principal};
use nix::unistd::Gid;
use std::ffi::CString;

/// What the command gets.
pub(super) struct Prepared {
    /// The primary gid: the target's, or the group of `-g`.
    pub gid: u32,
    /// The target's groups (with `-g`: the group first; without `-u`,
    /// the caller's groups after it).
    pub groups: Vec<Gid>,
    pub envp: Vec<CString>,
    /// Caller variables the environment did not keep (for the record).
    pub dropped: Vec<String>,
    pub argv: Vec<CString>,
}

pub(super) fn validate(
    ctx: &Ctx,
    policy: &Policy,
    allowed: &Allowed<'_>,
    granted: &super::options::Granted,
) -> Result<Prepared, Refusal> {
    let deny = |msg: String| Refusal::denied(msg).about(allowed.subject());
    let (rule, target) = (allowed.rule, &allowed.target);
    if let Some(want) = allowed.spec.digest {
        let got = resolve::digest_fd(&allowed.resolved).map_err(|e| deny(e.to_string()))?;
        if got != want {
            return Err(deny(format!(
                "{}: digest does not match the policy's pin",
                display(&allowed.cmd_path)
            )));
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
    crate::base::testhook::point("before-target-groups");
    let groups = if by_group {
        identity::target_groups(&target.target).map_err(|e| deny(e.to_string()))?
    } else {
        target
            .target
            .gids
            .iter()
            .map(|g| Gid::from_raw(*g))
            .collect()
    };
    if by_group && !identity::same_groups(&groups, &target.target.gids) {
        return Err(deny(format!(
            "the groups of {} changed between decision and exec: refused",
            target.target.name
        )));
    }
    // -P (allowed by the rule, options.rs): the caller's group vector
    // as the kernel gave it; the primary group stays the target's.
    let groups: Vec<Gid> = if granted.preserve_groups {
        ctx.caller.gids.iter().map(|g| Gid::from_raw(*g)).collect()
    } else {
        groups
    };
    // -g: the group is the primary gid and the first supplementary
    // group; the target's groups follow (the caller's, when the target
    // is the caller).
    let (gid, groups) = match allowed.group {
        None => (target.target.gid, groups),
        Some(g) => {
            let rest: Vec<Gid> = if allowed.as_self {
                ctx.caller.gids.iter().map(|g| Gid::from_raw(*g)).collect()
            } else {
                groups
            };
            let mut v = vec![Gid::from_raw(g)];
            v.extend(rest.into_iter().filter(|x| x.as_raw() != g));
            (g, v)
        }
    };
    let caller_env = env::snapshot_env();
    let command_line = command_line(&allowed.cmd_path, &allowed.args);
    // The rule's env_keep adds to the defaults'; its secure_path is the
    // command's PATH (the command itself was resolved with the defaults':
    // the rule was not known yet; belladonna-policy(5)).
    // -i: the login environment from scratch (HOME, SHELL, USER,
    // LOGNAME, PATH, a safe TERM and the BDEXEC_/SUDO_ variables); no
    // env_keep, no setenv.
    let login_keep = ["TERM".to_string()];
    let mut env_keep = if allowed.login {
        login_keep.to_vec()
    } else {
        rule.env_keep_with(&policy.defaults)
    };
    // -E: the rule's preserve_env (options.rs); the value checks of
    // build_env still apply (never LD_*, functions, paths in locales).
    env_keep.extend(granted.keep_env.iter().cloned());
    let setenv: [&[(String, String)]; 2] = if allowed.login {
        [&[], &[]]
    } else {
        [&policy.defaults.setenv, &rule.setenv]
    };
    let env::BuiltEnv { envp, dropped } = env::build_env(&env::EnvInput {
        caller_env: &caller_env,
        env_keep: &env_keep,
        setenv: &setenv,
        secure_path: rule.secure_path_with(&policy.defaults),
        target,
        caller: &ctx.caller,
        command_line: &command_line,
    });
    let argv: Vec<CString> = ctx
        .argv
        .iter()
        .map(|a| CString::new(a.as_slice()))
        .collect::<Result<_, _>>()
        .map_err(|_| deny("argument contains a NUL byte".to_string()))?;
    Ok(Prepared {
        gid,
        groups,
        envp,
        dropped,
        argv,
    })
}

fn command_line(path: &[u8], args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = path.to_vec();
    for a in args {
        out.push(b' ');
        out.extend_from_slice(a);
    }
    out
}
