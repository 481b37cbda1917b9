//! Pure matching helpers used by the decision: principals against the
//! caller and the target, arguments against a command entry (on bytes),
//! and commands by file identity. No I/O: file identities come through
//! [`FileIds`].
#![forbid(unsafe_code)]

use crate::policy::model::{Args, CommandKind, CommandSpec, Principal, Rule};
use crate::request::{Caller, FileIds, Invoked, Target, split_name};

/// A `users` entry against the caller: a name matches the caller's user
/// name (a caller without a passwd entry matches no name), `#uid` the
/// caller's real uid.
pub fn user_matches(p: &Principal, caller: &Caller) -> bool {
    match p {
        Principal::Name(n) => caller.name.as_deref() == Some(n.as_str()),
        Principal::Id(id) => caller.uid == *id,
        // Never in `users` (the parser refuses them): match nothing.
        Principal::All | Principal::GroupName(_) | Principal::GroupId(_) => false,
    }
}

/// A `groups` entry against the caller: a name matches any of the
/// caller's group names, `#gid` any of its gids (primary or supplementary).
pub fn group_matches(p: &Principal, caller: &Caller) -> bool {
    match p {
        Principal::Name(n) => caller.group_names.iter().any(|g| g == n),
        Principal::Id(id) => caller.gids.contains(id),
        Principal::All | Principal::GroupName(_) | Principal::GroupId(_) => false,
    }
}

/// A rule applies to the caller when any of its users OR any of its groups
/// matches.
pub fn rule_matches_caller(rule: &Rule, caller: &Caller) -> bool {
    rule.users.iter().any(|p| user_matches(p, caller))
        || rule.groups.iter().any(|p| group_matches(p, caller))
}

/// A `run_as` entry against the target: a name matches the target's name,
/// `#uid` its uid, `ALL` every target, `%group` / `%#gid` a target whose
/// current groups (primary or supplementary, as NSS reports them for the
/// target: never the caller's) include the group.
pub fn target_matches(p: &Principal, target: &Target) -> bool {
    match p {
        Principal::Name(n) => target.name == *n,
        Principal::Id(id) => target.uid == *id,
        Principal::All => true,
        Principal::GroupName(n) => target.group_names.iter().any(|g| g == n),
        Principal::GroupId(id) => target.gids.contains(id),
    }
}

/// Whether a rule covers the target. For a deny rule an empty `run_as`
/// means every target; otherwise one entry must match.
pub fn rule_covers_target(rule: &Rule, target: &Target) -> bool {
    (rule.is_deny() && rule.run_as.is_empty())
        || rule.run_as.iter().any(|p| target_matches(p, target))
}

/// The caller's arguments (argv[1..], raw bytes) against a command entry's
/// arguments. Policy arguments are UTF-8 strings compared byte for byte,
/// so a non-UTF-8 argument can only ever equal a policy argument with the
/// very same bytes (never a lossy conversion).
pub fn args_match(spec: &Args, argv: &[Vec<u8>]) -> bool {
    fn eq(policy: &[String], argv: &[Vec<u8>]) -> bool {
        policy.len() == argv.len()
            && policy
                .iter()
                .zip(argv)
                .all(|(p, a)| p.as_bytes() == a.as_slice())
    }
    match spec {
        Args::None => argv.is_empty(),
        Args::Exact(v) => eq(v, argv),
        Args::Prefix(v) => argv.len() >= v.len() && eq(v, &argv[..v.len()]),
    }
}

/// Whether a command entry names the command the caller named. For an
/// allow entry: the same base name, the same directory (by identity, so
/// symlinks in the directory part don't matter) and the same file (device
/// and inode), as sudo compares; see [`Invoked`]. For a deny entry
/// (`deny`): the same file, whatever its name. A path that does not exist
/// never matches.
///
/// `ALL` matches every command. A directory entry (allow rules only: the
/// parser refuses it in deny rules) matches a command the caller named
/// in that very directory (by the directory's identity), whose entry
/// there is a regular file, not a symlink, and is the opened file, in a
/// directory owned by root that no one else can write (see
/// [`FileIds::dir_entry`]).
pub fn path_matches(
    spec: &CommandSpec,
    command: Invoked<'_>,
    deny: bool,
    files: &dyn FileIds,
) -> bool {
    match spec.kind {
        CommandKind::All => return true,
        CommandKind::Dir => {
            let Some((_, asked)) = split_name(command.path) else {
                return false;
            };
            return !deny
                && files.id_of(&spec.path) == Some(command.dir)
                && files.dir_entry(&spec.path, asked) == Some(command.file);
        }
        CommandKind::File => {}
    }
    if files.id_of(&spec.path) != Some(command.file) {
        return false;
    }
    if deny {
        return true;
    }
    match (split_name(&spec.path), split_name(command.path)) {
        (Some((dir, name)), Some((_, asked))) => {
            name == asked && files.id_of(dir) == Some(command.dir)
        }
        _ => false,
    }
}

/// A command entry against the request: same command (see
/// [`path_matches`]) and allowed arguments. (The digest pin is not checked
/// here: it needs the file's contents and is checked on the opened fd
/// after the decision.)
pub fn command_matches(
    spec: &CommandSpec,
    command: Invoked<'_>,
    deny: bool,
    argv: &[Vec<u8>],
    files: &dyn FileIds,
) -> bool {
    // Arguments first: cheap, and spares a stat for most entries.
    args_match(&spec.args, argv) && path_matches(spec, command, deny, files)
}

/// The first of a rule's commands that matches the request (by name and
/// file for an allow rule, by file alone for a deny rule).
pub fn matching_command<'p>(
    rule: &'p Rule,
    command: Invoked<'_>,
    argv: &[Vec<u8>],
    files: &dyn FileIds,
) -> Option<&'p CommandSpec> {
    rule.commands
        .iter()
        .find(|c| command_matches(c, command, rule.is_deny(), argv, files))
}

/// A group `-g` asks for: its gid and, when NSS knows it, its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupAsk<'a> {
    pub gid: u32,
    pub name: Option<&'a str>,
}

/// Whether a rule lets the command run with `group` as its primary group
/// for `target`: the target's own primary group always; otherwise an
/// entry of `run_as_groups` (the name, `#gid`, or `ALL`) must name it.
pub fn rule_grants_group(rule: &Rule, target: &Target, group: GroupAsk<'_>) -> bool {
    group.gid == target.gid
        || rule.run_as_groups.as_deref().is_some_and(|list| {
            list.iter().any(|e| {
                e == "ALL"
                    || group.name.is_some_and(|n| n == e)
                    || e.strip_prefix('#').and_then(|d| d.parse::<u32>().ok()) == Some(group.gid)
            })
        })
}

/// Whether a rule's `chdir` allows `-D dir`. `dir` must be absolute and
/// clean (no `.`, `..`, empty components or trailing `/`); a pattern is
/// `"*"` (any directory) or an absolute path whose `*` matches any run
/// of characters within one path component. No `chdir`: never.
pub fn chdir_allowed(rule: &Rule, dir: &[u8]) -> bool {
    (clean_abs(dir) || dir == b"/")
        && rule.chdir.as_deref().is_some_and(|pats| {
            pats.iter()
                .any(|p| p == "*" || component_glob(p.as_bytes(), dir))
        })
}

/// Whether `bdexec -e` may edit `path` under this rule: `path` clean and
/// absolute (as for [`chdir_allowed`]; `..` is refused, stricter than
/// sudo), and an `edit` pattern matches it.
pub fn edit_allowed(rule: &Rule, path: &[u8]) -> bool {
    clean_abs(path)
        && rule
            .edit
            .as_deref()
            .is_some_and(|pats| pats.iter().any(|p| component_glob(p.as_bytes(), path)))
}

/// Absolute, not `/` itself, no empty, `.` or `..` component, no
/// trailing `/`.
pub fn clean_abs(p: &[u8]) -> bool {
    p.len() > 1
        && p.first() == Some(&b'/')
        && p.last() != Some(&b'/')
        && !p[1..]
            .split(|b| *b == b'/')
            .any(|c| c.is_empty() || c == b"." || c == b"..")
}

/// `*` matches any run of bytes other than `/`; everything else itself.
fn component_glob(pat: &[u8], s: &[u8]) -> bool {
    match pat.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => {
            let mut i = 0;
            loop {
                if component_glob(rest, &s[i..]) {
                    return true;
                }
                if i >= s.len() || s[i] == b'/' {
                    return false;
                }
                i += 1;
            }
        }
        Some((c, rest)) => s
            .split_first()
            .is_some_and(|(d, srest)| c == d && component_glob(rest, srest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn caller() -> Caller {
        Caller {
            uid: 1000,
            gid: 1000,
            name: Some("alice".into()),
            gids: vec![1000, 27],
            group_names: vec!["alice".into(), "sudo".into()],
        }
    }

    fn n(s: &str) -> Principal {
        Principal::Name(s.into())
    }

    #[test]
    fn users_and_groups() {
        let c = caller();
        assert!(user_matches(&n("alice"), &c));
        assert!(!user_matches(&n("bob"), &c));
        assert!(user_matches(&Principal::Id(1000), &c));
        assert!(!user_matches(&Principal::Id(0), &c));
        assert!(group_matches(&n("sudo"), &c));
        assert!(group_matches(&Principal::Id(27), &c));
        assert!(group_matches(&Principal::Id(1000), &c));
        assert!(!group_matches(&n("wheel"), &c));
        let nameless = Caller {
            name: None,
            group_names: vec![],
            ..c
        };
        assert!(!user_matches(&n("alice"), &nameless));
        assert!(user_matches(&Principal::Id(1000), &nameless));
        assert!(!group_matches(&n("sudo"), &nameless));
        assert!(group_matches(&Principal::Id(27), &nameless));
    }

    #[test]
    fn targets() {
        let t = Target {
            uid: 0,
            gid: 0,
            name: "root".into(),
            gids: Vec::new(),
            group_names: Vec::new(),
        };
        assert!(target_matches(&n("root"), &t));
        assert!(target_matches(&Principal::Id(0), &t));
        assert!(!target_matches(&n("www-data"), &t));
        assert!(!target_matches(&Principal::Id(33), &t));
    }

    fn a(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn args() {
        assert!(args_match(&Args::None, &[]));
        assert!(!args_match(&Args::None, &a(&[""])));
        assert!(args_match(&Args::Exact(s(&["a", "b"])), &a(&["a", "b"])));
        assert!(!args_match(&Args::Exact(s(&["a", "b"])), &a(&["a"])));
        assert!(!args_match(
            &Args::Exact(s(&["a", "b"])),
            &a(&["a", "b", "c"])
        ));
        assert!(!args_match(&Args::Exact(s(&["a", "b"])), &a(&["a", "bc"])));
        assert!(args_match(&Args::Prefix(vec![]), &[]));
        assert!(args_match(&Args::Prefix(vec![]), &a(&["x", "y"])));
        assert!(args_match(&Args::Prefix(s(&["status"])), &a(&["status"])));
        assert!(args_match(
            &Args::Prefix(s(&["status"])),
            &a(&["status", "x"])
        ));
        assert!(!args_match(
            &Args::Prefix(s(&["status"])),
            &a(&["restart", "x"])
        ));
        assert!(!args_match(&Args::Prefix(s(&["status"])), &[]));
        // Non-UTF-8 bytes never equal a lossy rendering.
        let lossy = String::from_utf8_lossy(b"a\xff").into_owned();
        assert!(!args_match(&Args::Exact(vec![lossy]), &[b"a\xff".to_vec()]));
        // "é" in Latin-1 is one byte, in UTF-8 two.
        assert!(!args_match(&Args::Exact(s(&["é"])), &[vec![0xe9]]));
        assert!(args_match(&Args::Exact(s(&["é"])), &[vec![0xc3, 0xa9]]));
    }

    use crate::request::FileId;

    /// A merged-/usr host: /bin is /usr/bin. dash is /bin/sh; bzcat and
    /// bunzip2 are hard links; reboot is a symlink to systemctl;
    /// /home/m/x is a caller's directory with its own links.
    struct Ids;
    const USR_BIN: FileId = FileId { dev: 1, ino: 1 };
    const USR_SBIN: FileId = FileId { dev: 1, ino: 2 };
    const HOME_X: FileId = FileId { dev: 2, ino: 3 };
    const DASH: FileId = FileId { dev: 1, ino: 10 };
    const BZIP2: FileId = FileId { dev: 1, ino: 11 };
    const SYSTEMCTL: FileId = FileId { dev: 1, ino: 12 };
    impl FileIds for Ids {
        fn id_of(&self, p: &Path) -> Option<FileId> {
            match p.to_str()? {
                "/bin" | "/usr/bin" => Some(USR_BIN),
                "/usr/sbin" => Some(USR_SBIN),
                "/home/m/x" => Some(HOME_X),
                "/bin/sh" | "/usr/bin/sh" | "/usr/bin/dash" | "/home/m/x/sh" => Some(DASH),
                "/usr/bin/bzcat" | "/usr/bin/bunzip2" | "/bin/bzcat" => Some(BZIP2),
                "/usr/sbin/reboot" | "/usr/bin/systemctl" | "/home/m/x/reboot" => Some(SYSTEMCTL),
                _ => None,
            }
        }
    }

    fn spec(p: &str) -> CommandSpec {
        CommandSpec {
            path: p.into(),
            args: Args::None,
            digest: None,
            kind: Default::default(),
        }
    }

    fn named(p: &str) -> Invoked<'_> {
        match Invoked::named(Path::new(p), &Ids) {
            Some(i) => i,
            None => panic!("{p} does not exist"),
        }
    }

    #[test]
    fn allow_needs_the_rules_name_directory_and_file() {
        let allow = |rule: &str, asked: &str| path_matches(&spec(rule), named(asked), false, &Ids);
        // The same entry, or the same name through a symlinked directory
        // (merged /usr): allowed.
        assert!(allow("/bin/sh", "/bin/sh"));
        assert!(allow("/bin/sh", "/usr/bin/sh"));
        assert!(allow("/usr/bin/sh", "/bin/sh"));
        assert!(allow("/usr/bin/bzcat", "/bin/bzcat"));
        assert!(allow("/usr/sbin/reboot", "/usr/sbin/reboot"));
        // The same file under another name: a symlink (dash for sh,
        // systemctl for reboot), a hard link (bunzip2 for bzcat).
        assert!(!allow("/bin/sh", "/usr/bin/dash"));
        assert!(!allow("/usr/bin/bzcat", "/usr/bin/bunzip2"));
        assert!(!allow("/usr/bin/bunzip2", "/usr/bin/bzcat"));
        assert!(!allow("/usr/sbin/reboot", "/usr/bin/systemctl"));
        // The rule's name in another directory (a caller-made symlink).
        assert!(!allow("/usr/sbin/reboot", "/home/m/x/reboot"));
        assert!(!allow("/bin/sh", "/home/m/x/sh"));
        // Same name and directory, another file (ids differ): no.
        let other = Invoked {
            path: Path::new("/bin/sh"),
            dir: USR_BIN,
            file: BZIP2,
        };
        assert!(!path_matches(&spec("/bin/sh"), other, false, &Ids));
        // Same name and file, another directory identity: no.
        let moved = Invoked {
            path: Path::new("/bin/sh"),
            dir: HOME_X,
            file: DASH,
        };
        assert!(!path_matches(&spec("/bin/sh"), moved, false, &Ids));
        // A missing rule path matches nothing.
        assert!(!allow("/bin/missing", "/bin/sh"));
    }

    #[test]
    fn deny_matches_any_name_of_the_file() {
        let deny = |rule: &str, asked: &str| path_matches(&spec(rule), named(asked), true, &Ids);
        for asked in ["/bin/sh", "/usr/bin/sh", "/usr/bin/dash", "/home/m/x/sh"] {
            assert!(deny("/bin/sh", asked), "{asked}");
        }
        assert!(deny("/usr/bin/bzcat", "/usr/bin/bunzip2"));
        assert!(deny("/usr/bin/systemctl", "/usr/sbin/reboot"));
        assert!(deny("/usr/bin/systemctl", "/home/m/x/reboot"));
        assert!(!deny("/usr/bin/bzcat", "/bin/sh"));
        assert!(!deny("/bin/missing", "/bin/sh"));
    }

    #[test]
    fn rule_kind_selects_the_comparison() {
        let mk = |deny: bool| {
            Rule {
            action: if deny {
                crate::policy::model::Action::Deny
            } else {
                crate::policy::model::Action::Allow
            },
            ..crate::policy::parse::parse_main(
                "version = 1\n[[rule]]\nname = \"r\"\nusers = [\"m\"]\ncommands = [\"/usr/bin/bzcat\", \"/usr/bin/bunzip2 -k\"]\n",
                Path::new("/p.toml"),
            )
            .map(|p| p.rules[0].clone())
            .unwrap_or_else(|e| panic!("{e}"))
        }
        };
        let bunzip2 = named("/usr/bin/bunzip2");
        // The allow rule's bare bzcat entry does not cover bunzip2; its
        // own entry needs `-k`.
        assert!(matching_command(&mk(false), bunzip2, &[], &Ids).is_none());
        let k = a(&["-k"]);
        let hit = matching_command(&mk(false), bunzip2, &k, &Ids).map(|c| c.path.clone());
        assert_eq!(hit.as_deref(), Some(Path::new("/usr/bin/bunzip2")));
        // As a deny rule, the bzcat entry denies bunzip2 too.
        let hit = matching_command(&mk(true), bunzip2, &[], &Ids).map(|c| c.path.clone());
        assert_eq!(hit.as_deref(), Some(Path::new("/usr/bin/bzcat")));
    }

    #[test]
    fn split_names() {
        let sp = |p: &str| split_name(Path::new(p)).map(|(d, n)| (d.to_path_buf(), n.to_owned()));
        assert_eq!(sp("/usr/bin/ls"), Some(("/usr/bin".into(), "ls".into())));
        assert_eq!(sp("/ls"), Some(("/".into(), "ls".into())));
        assert_eq!(
            sp("/home/u/./x/../rview"),
            Some(("/home/u/./x/..".into(), "rview".into()))
        );
        for bad in ["ls", "/", "/usr/bin/", "/usr/bin/.", "/usr/bin/.."] {
            assert_eq!(sp(bad), None, "{bad}");
        }
    }

    #[test]
    fn command_entries() {
        let sh = named("/bin/sh");
        assert!(command_matches(&spec("/bin/sh"), sh, false, &[], &Ids));
        assert!(!command_matches(
            &spec("/bin/sh"),
            sh,
            false,
            &a(&["-c"]),
            &Ids
        ));
    }

    /// A plain allow rule to set the daily keys on.
    fn one_rule() -> Rule {
        let src = "version = 1\n[[rule]]\nname = \"a\"\nusers = [\"alice\"]\n\
                   commands = [\"/usr/bin/id\"]\n";
        crate::policy::parse::parse_main(src, std::path::Path::new("/etc/p.toml"))
            .expect("parses")
            .rules
            .remove(0)
    }

    #[test]
    fn chdir_patterns() {
        let mut r = one_rule();
        assert!(!chdir_allowed(&r, b"/srv/a"), "no key: never");
        r.chdir = Some(vec!["/srv/*".into(), "/var/www".into()]);
        for ok in [&b"/srv/a"[..], b"/srv/b.c", b"/var/www"] {
            assert!(chdir_allowed(&r, ok), "{}", String::from_utf8_lossy(ok));
        }
        for no in [
            &b"/srv"[..],
            b"/srv/a/b",
            b"/srv/../etc",
            b"/srv/./a",
            b"/var/www/",
            b"/var/www/x",
            b"srv/a",
            b"/srv//a",
            b"",
        ] {
            assert!(!chdir_allowed(&r, no), "{}", String::from_utf8_lossy(no));
        }
        r.chdir = Some(vec!["*".into()]);
        assert!(chdir_allowed(&r, b"/etc"));
        assert!(chdir_allowed(&r, b"/"));
        assert!(!chdir_allowed(&r, b"/etc/../root"));
    }

    #[test]
    fn groups_granted() {
        let mut r = one_rule();
        let t = Target {
            uid: 5,
            gid: 50,
            name: "t".into(),
            gids: vec![50],
            group_names: vec![],
        };
        let ask = |gid, name| GroupAsk { gid, name };
        assert!(
            rule_grants_group(&r, &t, ask(50, None)),
            "own primary group"
        );
        assert!(!rule_grants_group(&r, &t, ask(7, Some("ops"))));
        r.run_as_groups = Some(vec!["ops".into(), "#9".into()]);
        assert!(rule_grants_group(&r, &t, ask(7, Some("ops"))));
        assert!(rule_grants_group(&r, &t, ask(9, None)));
        assert!(!rule_grants_group(&r, &t, ask(8, Some("wheel"))));
        r.run_as_groups = Some(vec!["ALL".into()]);
        assert!(rule_grants_group(&r, &t, ask(8, Some("wheel"))));
    }
}
