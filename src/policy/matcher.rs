//! Pure matching helpers used by the decision: principals against the
//! caller and the target, arguments against a command entry (on bytes),
//! and commands by file identity. No I/O: file identities come through
//! [`FileIds`].
#![forbid(unsafe_code)]

use crate::decide::{Caller, FileId, FileIds, Target};
use crate::policy::model::{Args, CommandSpec, Principal, Rule};

/// A `users` entry against the caller: a name matches the caller's user
/// name (a caller without a passwd entry matches no name), `#uid` the
/// caller's real uid.
pub fn user_matches(p: &Principal, caller: &Caller) -> bool {
    match p {
        Principal::Name(n) => caller.name.as_deref() == Some(n.as_str()),
        Principal::Id(id) => caller.uid == *id,
    }
}

/// A `groups` entry against the caller: a name matches any of the
/// caller's group names, `#gid` any of its gids (primary or supplementary).
pub fn group_matches(p: &Principal, caller: &Caller) -> bool {
    match p {
        Principal::Name(n) => caller.group_names.iter().any(|g| g == n),
        Principal::Id(id) => caller.gids.contains(id),
    }
}

/// A rule applies to the caller when any of its users OR any of its groups
/// matches.
pub fn rule_matches_caller(rule: &Rule, caller: &Caller) -> bool {
    rule.users.iter().any(|p| user_matches(p, caller))
        || rule.groups.iter().any(|p| group_matches(p, caller))
}

/// A `run_as` entry against the target: a name matches the target's name,
/// `#uid` its uid.
pub fn target_matches(p: &Principal, target: &Target) -> bool {
    match p {
        Principal::Name(n) => target.name == *n,
        Principal::Id(id) => target.uid == *id,
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

/// Whether a command entry names the opened file: its path must exist and
/// resolve to the same device and inode. A path that does not exist never
/// matches.
pub fn path_matches(spec: &CommandSpec, command: FileId, files: &dyn FileIds) -> bool {
    files.id_of(&spec.path) == Some(command)
}

/// A command entry against the request: same file and allowed arguments.
/// (The digest pin is not checked here: it needs the file's contents and
/// is checked on the opened fd after the decision.)
pub fn command_matches(
    spec: &CommandSpec,
    command: FileId,
    argv: &[Vec<u8>],
    files: &dyn FileIds,
) -> bool {
    // Arguments first: cheap, and spares a stat for most entries.
    args_match(&spec.args, argv) && path_matches(spec, command, files)
}

/// The first of a rule's commands that matches the request.
pub fn matching_command<'p>(
    rule: &'p Rule,
    command: FileId,
    argv: &[Vec<u8>],
    files: &dyn FileIds,
) -> Option<&'p CommandSpec> {
    rule.commands
        .iter()
        .find(|c| command_matches(c, command, argv, files))
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

    struct Ids;
    impl FileIds for Ids {
        fn id_of(&self, p: &Path) -> Option<FileId> {
            match p.to_str()? {
                "/bin/sh" | "/usr/bin/sh" => Some(FileId { dev: 1, ino: 10 }),
                _ => None,
            }
        }
    }

    #[test]
    fn paths_by_identity() {
        let spec = |p: &str| CommandSpec {
            path: p.into(),
            args: Args::None,
            digest: None,
        };
        let sh = FileId { dev: 1, ino: 10 };
        assert!(path_matches(&spec("/bin/sh"), sh, &Ids));
        assert!(path_matches(&spec("/usr/bin/sh"), sh, &Ids));
        assert!(!path_matches(&spec("/bin/missing"), sh, &Ids));
        assert!(!path_matches(
            &spec("/bin/sh"),
            FileId { dev: 2, ino: 10 },
            &Ids
        ));
        assert!(command_matches(&spec("/bin/sh"), sh, &[], &Ids));
        assert!(!command_matches(&spec("/bin/sh"), sh, &a(&["-c"]), &Ids));
    }
}
