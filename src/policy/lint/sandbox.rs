//! Sandbox and capability findings: root-equivalent capabilities, broad
//! writes, profiles that confine nothing, uid-0 scopes.
#![forbid(unsafe_code)]

use super::*;

/// Capabilities that amount to root (or to getting it): granting one is
/// handing out root with extra steps.
pub const ROOT_EQUIVALENT_CAPS: &[&str] = &[
    "sys_admin",
    "sys_module",
    "sys_ptrace",
    "dac_override",
    "dac_read_search",
    "setuid",
    "setgid",
    "setpcap",
    "sys_rawio",
    "bpf",
    "chown",
    "fowner",
];

/// Whether a write grant covers a whole system tree.
pub(super) fn is_broad_write(path: &Path) -> bool {
    let Some(s) = path.to_str() else {
        return false;
    };
    matches!(
        s,
        "/" | "/etc" | "/usr" | "/bin" | "/sbin" | "/boot" | "/root"
    ) || s
        .strip_prefix("/lib")
        .is_some_and(|rest| !rest.contains('/'))
}

pub(super) fn profile_finding(
    severity: Severity,
    profile: &SandboxProfile,
    message: String,
) -> Finding {
    Finding {
        severity,
        origin: Some(profile.origin.clone()),
        message,
    }
}

pub(super) fn lint_sandboxes(p: &Policy, out: &mut Vec<Finding>) {
    for profile in &p.sandboxes {
        let name = &profile.name;
        if let Some(l) = &profile.landlock {
            for path in l.write.iter().filter(|w| is_broad_write(w)) {
                out.push(profile_finding(
                    Severity::Warn,
                    profile,
                    format!(
                        "sandbox {name:?}: write access to {} is a broad grant (the command can change the system there)",
                        path.display()
                    ),
                ));
            }
            let needs = [
                (l.bind_tcp.is_some(), "bind_tcp", 4),
                (l.connect_tcp.is_some(), "connect_tcp", 4),
                (l.scope_abstract_unix || l.scope_signals, "scope", 6),
            ];
            if let Some(min) = l.min_abi {
                for (_, key, abi) in needs.iter().filter(|(used, _, abi)| *used && min < *abi) {
                    out.push(profile_finding(
                        Severity::Warn,
                        profile,
                        format!(
                            "sandbox {name:?}: min_abi {min} does not cover {key} (Landlock ABI {abi}): on an older \
                             kernel the profile is applied without it; write min_abi = {abi} to require it"
                        ),
                    ));
                }
            }
            for (key, list) in [("read", &l.read), ("exec", &l.exec)] {
                if list.iter().any(|x| x == Path::new("/")) {
                    out.push(profile_finding(
                        Severity::Warn,
                        profile,
                        format!("sandbox {name:?}: {key} access to / is a broad grant (the whole file system)"),
                    ));
                }
            }
        }
        if profile
            .seccomp
            .as_ref()
            .is_some_and(|s| s.action == SeccompAction::Log)
        {
            out.push(profile_finding(
                Severity::Warn,
                profile,
                format!(
                    "sandbox {name:?}: seccomp action \"log\" is learning mode: denied calls are only logged, \
                     and only the baseline denials are enforced"
                ),
            ));
        }
        let used = p.defaults.sandbox.as_deref() == Some(name.as_str())
            || p.rules
                .iter()
                .any(|r| r.sandbox.as_deref() == Some(name.as_str()));
        if !used {
            out.push(profile_finding(
                Severity::Info,
                profile,
                format!("sandbox {name:?} is not used by any rule (nor by [defaults])"),
            ));
        }
    }
    lint_root_scopes(p, out);
    for rule in &p.rules {
        for cap in rule
            .caps
            .iter()
            .filter(|c| ROOT_EQUIVALENT_CAPS.contains(&c.as_str()))
        {
            out.push(finding(
                Severity::Warn,
                rule,
                format!(
                    "rule {:?}: capability {cap} is root-equivalent (the command can gain full root with it)",
                    rule.name
                ),
            ));
        }
    }
}

/// A sandboxed allow rule that may run as root without both Landlock
/// scopes: WARN. A sandboxed root is still uid 0 to the rest of the host;
/// the scopes stop its signals to processes outside the sandbox and its
/// connections to abstract unix sockets served outside.
pub(super) fn lint_root_scopes(p: &Policy, out: &mut Vec<Finding>) {
    use crate::policy::model::{Action, Scopes};
    for rule in p
        .rules
        .iter()
        .filter(|r| r.action == Action::Allow && targets_root(r))
    {
        let Some(name) = rule.sandbox.as_deref().or(p.defaults.sandbox.as_deref()) else {
            continue;
        };
        let Some(profile) = p.sandboxes.iter().find(|s| s.name == name) else {
            continue;
        };
        let (missing, fix) = match &profile.landlock {
            None => (
                Scopes::ALL,
                "the profile has no [landlock] table, and scopes come only with one (its scopes \
                 apply to root targets by default, but it also confines files)",
            ),
            Some(l) => {
                let have = l.scopes_for(0);
                let missing = Scopes {
                    abstract_unix: !have.abstract_unix,
                    signals: !have.signals,
                };
                if !missing.any() {
                    continue;
                }
                (
                    missing,
                    "remove `scope` (both apply to root targets by default) or list both",
                )
            }
        };
        out.push(finding(
            Severity::Warn,
            rule,
            format!(
                "rule {:?} runs as root in sandbox {name:?} without the Landlock scope {}: the command is \
                 still uid 0 to the host and can signal root processes or reach root's abstract unix \
                 sockets; {fix}, or better run it as a non-root user with `caps`",
                rule.name,
                missing.names()
            ),
        ));
    }
}
