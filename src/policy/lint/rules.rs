//! Rule findings: ineffective or narrow deny rules, allow rules that hand
//! out a shell or root, broad command entries and directories, approval
//! rules that can never be satisfied.
#![forbid(unsafe_code)]

use super::*;

/// Deny rules: ineffective (ERROR), fixed arguments (WARN), matching
/// nothing any allow rule grants (INFO).
pub(super) fn lint_denies(p: &Policy, out: &mut Vec<Finding>) {
    let allows: Vec<&Rule> = p.rules.iter().filter(|r| !r.is_deny()).collect();
    let near = Near::new(&allows);
    for rule in p.rules.iter().filter(|r| r.is_deny()) {
        let mut unreachable = Vec::new();
        let sharing = near.sharing(rule);
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
            let wider = sharing.iter().map(|&i| allows[i]).find_map(|a| {
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
            if !near
                .overlapping(spec)
                .any(|i| allows[i].commands.iter().any(|c| overlaps(c, spec)))
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

/// The allow rules a deny rule is compared with, found without looking at
/// the others (a policy of 10,000 rules: linear, not quadratic). Each
/// lookup returns a superset of the allow rules that can pass the exact
/// test that follows it, in policy order.
struct Near<'p> {
    /// (is a group, principal) -> allow rules naming it.
    by_principal: std::collections::HashMap<(bool, &'p Principal), Vec<usize>>,
    /// Path -> allow rules with a file entry of that path.
    by_path: std::collections::HashMap<&'p Path, Vec<usize>>,
    /// Directory -> allow rules with a file entry directly in it.
    by_dir: std::collections::HashMap<&'p Path, Vec<usize>>,
    /// Allow rules with an `ALL` or directory entry: compared always.
    wide: Vec<usize>,
    /// Every allow rule that has a command (for a deny entry `ALL`).
    any: Vec<usize>,
}

impl<'p> Near<'p> {
    fn new(allows: &[&'p Rule]) -> Near<'p> {
        let mut n = Near {
            by_principal: Default::default(),
            by_path: Default::default(),
            by_dir: Default::default(),
            wide: Vec::new(),
            any: Vec::new(),
        };
        fn put<K: std::hash::Hash + Eq>(
            m: &mut std::collections::HashMap<K, Vec<usize>>,
            k: K,
            i: usize,
        ) {
            let v = m.entry(k).or_default();
            if v.last() != Some(&i) {
                v.push(i);
            }
        }
        for (i, a) in allows.iter().enumerate() {
            a.users
                .iter()
                .for_each(|u| put(&mut n.by_principal, (false, u), i));
            a.groups
                .iter()
                .for_each(|g| put(&mut n.by_principal, (true, g), i));
            if !a.commands.is_empty() {
                n.any.push(i);
            }
            for c in &a.commands {
                match c.kind {
                    CommandKind::File => {
                        put(&mut n.by_path, c.path.as_path(), i);
                        if let Some((d, _)) = crate::request::split_name(&c.path) {
                            put(&mut n.by_dir, d, i);
                        }
                    }
                    CommandKind::All | CommandKind::Dir => {
                        if n.wide.last() != Some(&i) {
                            n.wide.push(i);
                        }
                    }
                }
            }
        }
        n
    }

    /// The allow rules naming one of the rule's users or groups.
    fn sharing(&self, rule: &Rule) -> Vec<usize> {
        let keys = rule
            .users
            .iter()
            .map(|u| (false, u))
            .chain(rule.groups.iter().map(|g| (true, g)));
        let mut v: Vec<usize> = keys
            .filter_map(|k| self.by_principal.get(&k))
            .flatten()
            .copied()
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The allow rules with an entry that may overlap `spec`.
    fn overlapping(&self, spec: &CommandSpec) -> impl Iterator<Item = usize> + '_ {
        let mut v: Vec<usize> = match spec.kind {
            CommandKind::All => self.any.clone(),
            CommandKind::File => {
                // The same path; a directory entry covering it is in `wide`.
                let same = self.by_path.get(spec.path.as_path()).into_iter().flatten();
                same.chain(&self.wide).copied().collect()
            }
            CommandKind::Dir => {
                // Written with a trailing '/': the file entries directly in it.
                let bare = spec
                    .path
                    .to_str()
                    .map(|s| s.trim_end_matches('/'))
                    .unwrap_or_default();
                let files = self.by_dir.get(Path::new(bare)).into_iter().flatten();
                files.chain(&self.wide).copied().collect()
            }
        };
        v.sort_unstable();
        v.dedup();
        v.into_iter()
    }
}

/// The allow rules by the entries that can cover another (see
/// [`covers`]): a superset of the rules with an entry covering a given
/// one.
struct Covering<'p> {
    /// (path, arguments) of entries with fixed arguments.
    fixed: std::collections::HashMap<(&'p Path, &'p [String]), Vec<usize>>,
    /// Path of entries with free arguments (`*`).
    free: std::collections::HashMap<&'p Path, Vec<usize>>,
    /// Rules with an `ALL` or directory entry.
    wide: Vec<usize>,
}

impl<'p> Covering<'p> {
    fn new(allows: &[&'p Rule]) -> Covering<'p> {
        let mut c = Covering {
            fixed: Default::default(),
            free: Default::default(),
            wide: Vec::new(),
        };
        let push = |v: &mut Vec<usize>, i: usize| {
            if v.last() != Some(&i) {
                v.push(i);
            }
        };
        for (i, a) in allows.iter().enumerate() {
            for spec in &a.commands {
                match (spec.kind, arg_form(&spec.args)) {
                    (CommandKind::File, (args, false)) => {
                        push(c.fixed.entry((spec.path.as_path(), args)).or_default(), i)
                    }
                    (CommandKind::File, (_, true)) => {
                        push(c.free.entry(spec.path.as_path()).or_default(), i)
                    }
                    (CommandKind::All | CommandKind::Dir, _) => push(&mut c.wide, i),
                }
            }
        }
        c
    }

    /// The rules before `k` that may cover `spec`, in policy order.
    fn before(&self, k: usize, spec: &CommandSpec) -> impl Iterator<Item = usize> + use<> {
        let none: &[usize] = &[];
        let (fixed, free) = match (spec.kind, arg_form(&spec.args)) {
            (CommandKind::File, (args, false)) => (
                self.fixed
                    .get(&(spec.path.as_path(), args))
                    .map_or(none, |v| v.as_slice()),
                self.free
                    .get(spec.path.as_path())
                    .map_or(none, |v| v.as_slice()),
            ),
            (CommandKind::File, (_, true)) => (
                none,
                self.free
                    .get(spec.path.as_path())
                    .map_or(none, |v| v.as_slice()),
            ),
            _ => (none, none),
        };
        let mut v: Vec<usize> = [fixed, free, self.wide.as_slice()]
            .iter()
            .flat_map(|l| l.iter().copied().take_while(|&i| i < k))
            .collect();
        v.sort_unstable();
        v.dedup();
        v.into_iter()
    }
}

/// Allow rules: shells and root-equivalent commands (WARN), duplicate and
/// shadowed entries (INFO).
pub(super) fn lint_allows(p: &Policy, out: &mut Vec<Finding>) {
    let allows: Vec<&Rule> = p.rules.iter().filter(|r| !r.is_deny()).collect();
    // The earlier allow rules that can cover an entry, by what covers
    // it: the same path with the same fixed arguments, the same path with
    // free arguments, or `ALL` / a directory. Only those are compared
    // (10,000 rules: linear, not quadratic), in policy order.
    let covering = Covering::new(&allows);
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
            let shadow = covering.before(k, spec).map(|i| allows[i]).find_map(|q| {
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
