//! Rule findings: ineffective or narrow deny rules, allow rules that hand
//! out a shell or root, broad command entries and directories, approval
//! rules that can never be satisfied.
#![forbid(unsafe_code)]

use super::*;

/// Deny rules: ineffective (ERROR), fixed arguments (WARN), matching
/// nothing any allow rule grants (INFO).
pub(super) fn lint_denies(p: &Policy, out: &mut Vec<Finding>) {
    let allows: Vec<&Rule> = p.rules.iter().filter(|r| !r.is_deny()).collect();
    for rule in p.rules.iter().filter(|r| r.is_deny()) {
        let mut unreachable = Vec::new();
        for spec in &rule.commands {
            let fixed = !matches!(spec.args, Args::Prefix(_));
            // `deny "P a"` next to `allow "P a *"` for the same callers
            // removes exactly the bare prefix: sudo's `P a *` needs one
            // more argument (the sudoers importer writes these). Intended.
            let needs_args = allows.iter().find(|a| {
                shares_principal(rule, a)
                    && a.commands.iter().any(|c| {
                        c.path == spec.path
                            && matches!((&c.args, &spec.args),
                                (Args::Prefix(p), Args::Exact(e)) if p == e)
                    })
            });
            if let Some(a) = needs_args {
                out.push(finding(
                    Severity::Info,
                    rule,
                    format!(
                        "deny rule {:?}: {:?} removes the bare prefix of rule {:?}'s {:?} (sudo's \"ARGS *\" needs one more argument)",
                        rule.name,
                        render(spec),
                        a.name,
                        format!("{} *", render(spec)),
                    ),
                ));
                continue;
            }
            // An allow rule for a shared user or group (and a target the
            // deny covers) that grants this command with free arguments
            // including the denied ones: the deny removes one argv only.
            let wider = allows.iter().find_map(|a| {
                let targets = rule.run_as.is_empty()
                    || a.run_as.contains(&Principal::All)
                    || a.run_as.iter().any(|t| rule.run_as.contains(t));
                if !fixed || !targets || !shares_principal(rule, a) {
                    return None;
                }
                a.commands
                    .iter()
                    .find(|c| matches!(c.args, Args::Prefix(_)) && covers(c, spec))
                    .map(|c| (a, c))
            });
            if let Some((a, c)) = wider {
                out.push(finding(
                    Severity::Error,
                    rule,
                    format!(
                        "ineffective deny: rule {:?} denies only {:?}, but rule {:?} still allows {:?} to the same \
                         users or groups, with any other arguments (deny \"{} *\" or narrow the allow rule)",
                        rule.name,
                        render(spec),
                        a.name,
                        render(c),
                        crate::policy::cmdline::render_parts(&spec.path, &Args::None),
                    ),
                ));
            } else if fixed {
                out.push(finding(
                    Severity::Warn,
                    rule,
                    format!(
                        "deny rule {:?}: {:?} denies only exactly these arguments; the same command with other \
                         arguments is not denied (write \"{} *\" to deny every use)",
                        rule.name,
                        render(spec),
                        crate::policy::cmdline::render_parts(&spec.path, &Args::None),
                    ),
                ));
            }
            if !allows
                .iter()
                .any(|a| a.commands.iter().any(|c| overlaps(c, spec)))
            {
                unreachable.push(spec);
            }
        }
        if !unreachable.is_empty() && unreachable.len() == rule.commands.len() {
            out.push(finding(
                Severity::Info,
                rule,
                format!(
                    "deny rule {:?} matches nothing any allow rule grants (paths compared as written): \
                     it only guards against rules added later",
                    rule.name
                ),
            ));
        } else {
            for spec in unreachable {
                out.push(finding(
                    Severity::Info,
                    rule,
                    format!(
                        "deny rule {:?}: {:?} matches nothing any allow rule grants (paths compared as written)",
                        rule.name,
                        render(spec)
                    ),
                ));
            }
        }
    }
}

/// Allow rules: shells and root-equivalent commands (WARN), duplicate and
/// shadowed entries (INFO).
pub(super) fn lint_allows(p: &Policy, out: &mut Vec<Finding>) {
    let allows: Vec<&Rule> = p.rules.iter().filter(|r| !r.is_deny()).collect();
    for (k, rule) in allows.iter().enumerate() {
        daily_keys(rule, out);
        for (j, spec) in rule.commands.iter().enumerate() {
            let cmd = render(spec);
            if let Some(f) = broad_entry(rule, spec) {
                out.push(f);
                continue;
            }
            if let Some(earlier) = rule.commands[..j].iter().find(|c| covers(c, spec)) {
                out.push(finding(
                    Severity::Info,
                    rule,
                    format!(
                        "rule {:?}: {cmd:?} is redundant: {:?} in the same rule already allows it",
                        rule.name,
                        render(earlier)
                    ),
                ));
                continue;
            }
            let shell = gives_shell(spec);
            if rule.auth == Auth::None && shell {
                out.push(finding(
                    Severity::Warn,
                    rule,
                    format!(
                        "rule {:?}: {cmd:?} can give a shell and needs no authentication (auth = \"none\")",
                        rule.name
                    ),
                ));
            } else if rule.auth == Auth::None && root_equivalent(rule, spec) {
                out.push(finding(
                    Severity::Warn,
                    rule,
                    format!(
                        "rule {:?}: {cmd:?} is root-equivalent (it can write any file as root) and needs no \
                         authentication (auth = \"none\")",
                        rule.name
                    ),
                ));
            }
            if shell && matches!(spec.args, Args::Prefix(_)) {
                out.push(finding(
                    Severity::Warn,
                    rule,
                    format!(
                        "rule {:?}: {cmd:?} can give a shell and allows any further arguments",
                        rule.name
                    ),
                ));
            } else if !shell && targets_root(rule) && writes_any_file(spec) {
                out.push(finding(
                    Severity::Warn,
                    rule,
                    format!(
                        "rule {:?}: {cmd:?} with any further arguments can write or replace any file as root \
                         (root-equivalent)",
                        rule.name
                    ),
                ));
            }
            // An earlier allow rule with the same users and groups, allowing
            // every target of this one, decides first (first match wins).
            let shadow = allows[..k].iter().find_map(|q| {
                let same_scope = same_set(&q.users, &rule.users)
                    && same_set(&q.groups, &rule.groups)
                    && rule.run_as.iter().all(|t| q.run_as.contains(t));
                if !same_scope {
                    return None;
                }
                q.commands.iter().find(|c| covers(c, spec)).map(|c| (q, c))
            });
            if let Some((q, c)) = shadow {
                out.push(finding(
                    Severity::Info,
                    rule,
                    format!(
                        "rule {:?}: {cmd:?} never decides: earlier rule {:?} (same users, groups and targets) \
                         already allows it with {:?}, and the first matching allow rule wins",
                        rule.name,
                        q.name,
                        render(c)
                    ),
                ));
            }
        }
    }
}

/// The keys of `-g` and `-D` (issue 13) at their broadest:
/// `run_as_groups = ["ALL"]` WARN (any group, `shadow`, `disk` or
/// `docker` among them: root-equivalent through group-owned files and
/// sockets), `chdir = ["*"]` INFO (any directory, as the target).
fn daily_keys(rule: &Rule, out: &mut Vec<Finding>) {
    if rule
        .run_as_groups
        .as_deref()
        .is_some_and(|g| g.iter().any(|x| x == "ALL"))
    {
        out.push(finding(
            Severity::Warn,
            rule,
            format!(
                "rule {:?}: run_as_groups = [\"ALL\"] lets -g pick any group (shadow, disk, docker: \
                 root-equivalent through group-owned files); name the groups",
                rule.name
            ),
        ));
    }
    // -e on a file that decides who is root: root-equivalent.
    let critical = [
        "/etc/passwd",
        "/etc/shadow",
        "/etc/group",
        "/etc/sudoers",
        "/etc/crontab",
        "/etc/belladonna/policy.toml",
        "/etc/pam.d/belladonna",
        "/etc/ld.so.preload",
    ];
    if let Some(f) = critical
        .iter()
        .find(|f| crate::policy::matcher::edit_allowed(rule, f.as_bytes()))
    {
        out.push(finding(
            Severity::Warn,
            rule,
            format!(
                "rule {:?}: edit allows {f} (root-equivalent: whoever edits it decides who is root)",
                rule.name
            ),
        ));
    }
    if rule
        .chdir
        .as_deref()
        .is_some_and(|d| d.iter().any(|x| x == "*"))
    {
        out.push(finding(
            Severity::Info,
            rule,
            format!(
                "rule {:?}: chdir = [\"*\"] lets -D run its commands in any directory the target can enter",
                rule.name
            ),
        ));
    }
}

/// `ALL` and command directories: what they grant, loudly. `ALL` is
/// root-equivalent whatever its targets' (any program as the target):
/// WARN without authentication, INFO with it. A directory: any program
/// in it, WARN without authentication, INFO with it.
pub(super) fn broad_entry(rule: &Rule, spec: &CommandSpec) -> Option<Finding> {
    let targets: Vec<String> = rule.run_as.iter().map(|t| t.to_string()).collect();
    let targets = targets.join(", ");
    let severity = if rule.auth == Auth::None {
        Severity::Warn
    } else {
        Severity::Info
    };
    let msg = match spec.kind {
        CommandKind::File => return None,
        CommandKind::All => format!(
            "rule {:?}: \"ALL\" allows any command as {targets} (root-equivalent: a shell, an editor, \
             anything) with auth = \"{}\"; deny rules still win",
            rule.name,
            rule.auth.as_str()
        ),
        CommandKind::Dir => format!(
            "rule {:?}: {:?} allows any command directly in {} as {targets} with auth = \"{}\" \
             (including programs added there later)",
            rule.name,
            render(spec),
            spec.path.display(),
            rule.auth.as_str()
        ),
    };
    Some(finding(severity, rule, msg))
}

/// A command directory on this host: a directory owned by root that no
/// one else can write (ERROR otherwise: bdexec matches nothing in it);
/// symlinks in it are never followed by the match (WARN, each named).
pub(super) fn lint_command_dir(rule: &Rule, dir: &Path, out: &mut Vec<Finding>) {
    let err = |out: &mut Vec<Finding>, m: String| {
        out.push(finding(
            Severity::Error,
            rule,
            format!(
                "rule {:?}: command directory {}: {m}",
                rule.name,
                dir.display()
            ),
        ))
    };
    let md = match std::fs::metadata(dir) {
        Ok(md) => md,
        Err(e) => return err(out, format!("{e} (the entry can never match)")),
    };
    if !md.is_dir() {
        return err(out, "is not a directory".to_string());
    }
    if md.uid() != 0 || md.mode() & 0o022 != 0 {
        return err(
            out,
            format!(
                "is owned by uid {} with mode {:o}: it must be owned by root and writable by no one else \
                 (bdexec matches nothing in it)",
                md.uid(),
                md.mode() & 0o7777
            ),
        );
    }
    // The directories above it: whoever can replace one of them can put
    // another directory (a symlink to /usr/bin) in its place.
    let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    for up in real.ancestors().skip(1) {
        check_owner_mode(rule, "directory above a command directory", up, false, out);
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_symlink()) {
            out.push(finding(
                Severity::Warn,
                rule,
                format!(
                    "rule {:?}: command directory {} contains the symlink {:?}: it is never matched \
                     (a symlink leads out of the directory); name its target in a rule if needed",
                    rule.name,
                    dir.display(),
                    e.file_name()
                ),
            ));
        }
    }
}

/// An approval rule that needs more distinct approvers than the policy
/// defines (for it) can never be satisfied: ERROR (bdexec refuses every
/// request to it at run time).
pub(super) fn lint_approvals(p: &Policy, out: &mut Vec<Finding>) {
    use crate::policy::model::{Action, Auth};
    for rule in &p.rules {
        if rule.action != Action::Allow || rule.auth != Auth::Approval {
            continue;
        }
        let req = rule.approval_req();
        let available = if req.approvers.is_empty() {
            p.approvers.len()
        } else {
            req.approvers
                .iter()
                .filter(|n| p.approvers.iter().any(|a| &a.name == *n))
                .count()
        };
        if (req.approvals as usize) > available {
            out.push(finding(
                Severity::Error,
                rule,
                format!(
                    "rule {} needs {} distinct approvals but only {available} approver(s) can sign for it: it can never run",
                    rule.name, req.approvals
                ),
            ));
        }
    }
}
