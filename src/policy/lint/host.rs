//! The checks that look at this host: accounts through NSS, and the
//! owner and mode of the paths the policy names.
#![forbid(unsafe_code)]

use super::*;

/// What NSS says of one name: `Ok(true)` found, `Ok(false)` not found,
/// `Err` the lookup failed (NSS unreachable).
pub type AccountLookup = nix::Result<bool>;

/// One account name the rules use: `(is_group, name)`.
pub type AccountName<'a> = (bool, &'a str);

/// The user, group and target names of one rule, each (kind, name) once,
/// in the order the rule writes them: `(kind, name, is_group)` where kind
/// is the word the finding uses. `#id` entries are left out (an id needs
/// no account).
fn rule_accounts(rule: &Rule) -> Vec<(&'static str, &str, bool)> {
    let users = rule.users.iter().map(|u| ("user", u));
    let targets = rule.run_as.iter().map(|u| ("run_as user", u));
    let groups = rule.groups.iter().map(|g| ("group", g));
    let mut out: Vec<(&'static str, &str, bool)> = Vec::new();
    for (kind, principal) in users.chain(targets).chain(groups) {
        // `run_as = ["%g"]` names a group.
        let (kind, name) = match principal {
            Principal::Name(n) => (kind, n.as_str()),
            Principal::GroupName(n) => ("run_as group", n.as_str()),
            _ => continue,
        };
        let is_group = kind.ends_with("group");
        if out.iter().any(|&(_, n, g)| g == is_group && n == name) {
            continue;
        }
        out.push((kind, name, is_group));
    }
    out
}

/// Every account name the rules use, each once, in first-use order: what
/// [`lint_accounts_with`] needs looked up.
pub fn account_names(p: &Policy) -> Vec<AccountName<'_>> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for rule in &p.rules {
        for (_, name, is_group) in rule_accounts(rule) {
            if seen.insert((is_group, name)) {
                out.push((is_group, name));
            }
        }
    }
    out
}

/// One NSS lookup: `getgrnam_r` for a group, `getpwnam_r` for a user.
/// Thread-safe (the `_r` calls).
pub fn lookup_account(is_group: bool, name: &str) -> AccountLookup {
    use nix::unistd::{Group, User};
    if is_group {
        Group::from_name(name).map(|g| g.is_some())
    } else {
        User::from_name(name).map(|u| u.is_some())
    }
}

/// Names that NSS resolves on this host: every user, group and target
/// name in the rules must exist (ERROR: the entry can never match, and an
/// account created later under that name gets the grant). `#id` entries
/// are not checked (an id needs no account). A lookup failure (NSS
/// unreachable) is a WARN. Each name is looked up once per run, in this
/// thread; bdctl looks them up in parallel and calls
/// [`lint_accounts_with`].
pub fn lint_accounts(p: &Policy) -> Vec<Finding> {
    let known = account_names(p)
        .into_iter()
        .map(|key| (key, lookup_account(key.0, key.1)))
        .collect();
    lint_accounts_with(p, &known)
}

/// [`lint_accounts`] with the lookups already made (`known`, from
/// [`account_names`]). A name missing from `known` is looked up here, so
/// every name is checked whatever the caller passed.
pub fn lint_accounts_with(
    p: &Policy,
    known: &std::collections::HashMap<AccountName<'_>, AccountLookup>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for rule in &p.rules {
        for (kind, name, is_group) in rule_accounts(rule) {
            let found = match known.get(&(is_group, name)) {
                Some(r) => *r,
                None => lookup_account(is_group, name),
            };
            match found {
                Ok(true) => {}
                Ok(false) => out.push(finding(
                    Severity::Error,
                    rule,
                    format!(
                        "rule {:?}: unknown {kind} {name:?} (not found through NSS on this host): the entry \
                         never matches, and an account created later under this name gets the grant",
                        rule.name
                    ),
                )),
                Err(e) => out.push(finding(
                    Severity::Warn,
                    rule,
                    format!(
                        "rule {:?}: {kind} {name:?} cannot be looked up ({}): not checked",
                        rule.name,
                        e.desc()
                    ),
                )),
            }
        }
    }
    out
}

/// Owner and mode of a command or of a directory on its path. Writable
/// by others (not a sticky directory): anyone can replace the command, an
/// ERROR (a WARN with a digest pin: a replaced file is then refused, not
/// run). Owned by a non-root user, writable by the group, or in a sticky
/// world-writable directory: a WARN unless the entry has a digest pin.
pub(super) fn check_owner_mode(
    rule: &Rule,
    what: &str,
    path: &Path,
    pinned: bool,
    out: &mut Vec<Finding>,
) {
    let Ok(md) = metadata(path) else {
        return;
    };
    let no_pin = " and the entry has no digest pin";
    if md.uid() != 0 && !pinned {
        out.push(finding(
            Severity::Warn,
            rule,
            format!(
                "rule {:?}: {what} {} is owned by uid {}, not root,{no_pin}",
                rule.name,
                path.display(),
                md.uid()
            ),
        ));
    }
    let mode = md.mode() & 0o7777;
    let sticky_dir = md.is_dir() && mode & 0o1000 != 0;
    if mode & 0o002 != 0 && !sticky_dir {
        out.push(finding(
            if pinned { Severity::Warn } else { Severity::Error },
            rule,
            format!(
                "rule {:?}: {what} {} is writable by group or others (mode {mode:04o}): anyone can replace \
                 the command{}",
                rule.name,
                path.display(),
                if pinned { " (the digest pin refuses a replaced file)" } else { "" }
            ),
        ));
    } else if mode & 0o022 != 0 && !pinned {
        // A sticky directory (like /tmp) still lets anyone create entries
        // but not replace others': a WARN, commands do not belong there.
        out.push(finding(
            Severity::Warn,
            rule,
            format!(
                "rule {:?}: {what} {} is writable by group or others (mode {mode:04o}){no_pin}",
                rule.name,
                path.display(),
            ),
        ));
    }
}

/// The Landlock paths of a profile that do not exist (WARN: not granted,
/// the profile is applied without them) or that go through a symlink
/// (WARN: Landlock grants what the path resolves to when bdexec runs).
pub(super) fn lint_sandbox_paths(p: &Policy, out: &mut Vec<Finding>) {
    for profile in &p.sandboxes {
        let Some(l) = &profile.landlock else {
            continue;
        };
        let name = &profile.name;
        for (key, list) in [("read", &l.read), ("write", &l.write), ("exec", &l.exec)] {
            for path in list {
                match std::fs::canonicalize(path) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => out.push(profile_finding(
                        Severity::Warn,
                        profile,
                        format!(
                            "sandbox {name:?}: {key} {}: missing path: not granted; the profile is applied without it",
                            path.display()
                        ),
                    )),
                    Err(e) => out.push(profile_finding(
                        Severity::Warn,
                        profile,
                        format!(
                            "sandbox {name:?}: {key} {}: cannot be checked ({e}); if bdexec cannot open it either, it is not granted",
                            path.display()
                        ),
                    )),
                    // Parsed paths are absolute and normalised, so any
                    // difference comes from a symlink on the way.
                    Ok(real) if real != *path => out.push(profile_finding(
                        Severity::Warn,
                        profile,
                        format!(
                            "sandbox {name:?}: {key} {} goes through a symlink: Landlock grants its target as resolved \
                             at call time (now {})",
                            path.display(),
                            real.display()
                        ),
                    )),
                    Ok(_) => {}
                }
            }
        }
    }
}

/// Lint that looks at the file system (bdctl only): every command path
/// must exist and be a regular file; it and its directories should be
/// root-owned and not writable by group or others. Symlinks are followed,
/// as the decision follows them; each path is checked once per rule.
/// Sandbox profile paths are checked by `lint_sandbox_paths`.
pub fn lint_paths(p: &Policy) -> Vec<Finding> {
    FS_MEMO.with(|m| m.borrow_mut().clear());
    let mut out = Vec::new();
    lint_sandbox_paths(p, &mut out);
    for rule in &p.rules {
        let mut seen: Vec<&Path> = Vec::new();
        for spec in &rule.commands {
            let path = spec.path.as_path();
            if seen.contains(&path) {
                continue;
            }
            seen.push(path);
            match spec.kind {
                CommandKind::All => continue,
                CommandKind::Dir => {
                    lint_command_dir(rule, path, &mut out);
                    continue;
                }
                CommandKind::File => {}
            }
            match metadata(path) {
                Err(e) => {
                    let severity = if rule.is_deny() {
                        Severity::Warn
                    } else {
                        Severity::Error
                    };
                    out.push(finding(
                        severity,
                        rule,
                        format!(
                            "rule {:?}: command {}: {e} (the entry can never match)",
                            rule.name,
                            path.display()
                        ),
                    ));
                    continue;
                }
                Ok(md) if md.is_dir() => {
                    out.push(finding(
                        Severity::Error,
                        rule,
                        format!(
                            "rule {:?}: command {} is a directory: it never matches; write \"{}/ *\" for any \
                             command directly in it",
                            rule.name,
                            path.display(),
                            path.display()
                        ),
                    ));
                    continue;
                }
                Ok(md) if !md.is_file() => {
                    out.push(finding(
                        Severity::Error,
                        rule,
                        format!(
                            "rule {:?}: command {} is not a regular file",
                            rule.name,
                            path.display()
                        ),
                    ));
                    continue;
                }
                Ok(_) => {}
            }
            if rule.is_deny() {
                continue;
            }
            // Check the file as it resolves (following symlinks), and each
            // directory on the resolved path.
            // Pinned: every entry of this rule naming the path has a digest.
            let pinned = rule
                .commands
                .iter()
                .filter(|c| c.path == spec.path)
                .all(|c| c.digest.is_some());
            let real = canonicalize(path).unwrap_or_else(|| path.to_path_buf());
            check_owner_mode(rule, "command", &real, pinned, &mut out);
            for dir in real.ancestors().skip(1) {
                check_owner_mode(rule, "directory of command", dir, pinned, &mut out);
            }
        }
    }
    out
}

/// What one run of [`lint_paths`] learned about the file system: each
/// path's metadata and resolved form, looked up once (a large policy names
/// the same commands and directories thousands of times). Cleared at the
/// start of every run, so a run never sees an earlier run's answers.
#[derive(Default)]
struct FsMemo {
    meta: std::collections::HashMap<
        std::path::PathBuf,
        Result<std::fs::Metadata, std::rc::Rc<std::io::Error>>,
    >,
    real: std::collections::HashMap<std::path::PathBuf, Option<std::path::PathBuf>>,
}

impl FsMemo {
    fn clear(&mut self) {
        self.meta.clear();
        self.real.clear();
    }
}

thread_local! {
    static FS_MEMO: std::cell::RefCell<FsMemo> = std::cell::RefCell::default();
}

/// `std::fs::metadata` (symlinks followed), once per path and run.
fn metadata(path: &Path) -> Result<std::fs::Metadata, std::rc::Rc<std::io::Error>> {
    FS_MEMO.with(|m| {
        m.borrow_mut()
            .meta
            .entry(path.to_path_buf())
            .or_insert_with(|| std::fs::metadata(path).map_err(std::rc::Rc::new))
            .clone()
    })
}

/// `std::fs::canonicalize`, once per path and run.
fn canonicalize(path: &Path) -> Option<std::path::PathBuf> {
    FS_MEMO.with(|m| {
        m.borrow_mut()
            .real
            .entry(path.to_path_buf())
            .or_insert_with(|| std::fs::canonicalize(path).ok())
            .clone()
    })
}
