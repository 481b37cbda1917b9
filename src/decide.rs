//! The decision: (policy, request, file identities) -> allow or deny.
//! Pure: no I/O, no clock, no globals. Everything it needs is passed in,
//! so it is unit-tested exhaustively without root.
#![forbid(unsafe_code)]

use crate::policy::matcher::{
    GroupAsk, matching_command, rule_covers_target, rule_grants_group, rule_matches_caller,
};
use crate::policy::model::{Auth, CommandKind, CommandSpec, Policy, Principal, Rule};
use crate::request::{Caller, FileIds, Invoked, Request, Target, split_name};

/// The `argv[0]` the target gets for an allowed command: the rule's path as
/// written for a file entry; for a directory entry the rule's directory as
/// written followed by the caller's base name; for `ALL` (the rule names
/// no path) the caller's resolved path. Never the caller's `argv[0]`.
pub fn argv0(spec: &CommandSpec, command: Invoked<'_>) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    match spec.kind {
        CommandKind::File => spec.path.clone(),
        CommandKind::All => command.path.to_path_buf(),
        CommandKind::Dir => match split_name(command.path) {
            Some((_, name)) => {
                let mut b = spec.path.as_os_str().as_bytes().to_vec();
                b.extend_from_slice(name.as_bytes());
                std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&b))
            }
            None => command.path.to_path_buf(),
        },
    }
}

/// Why a request was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// No allow rule matches caller, command and arguments.
    NoRule,
    /// A deny rule matches (deny beats allow, whatever the order).
    DenyRule,
    /// Some allow rule matches caller, command and arguments, but none of
    /// them allows this target user.
    TargetNotAllowed,
}

impl DenyReason {
    /// The reason as written in audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::NoRule => "no rule allows this command",
            DenyReason::DenyRule => "denied by rule",
            DenyReason::TargetNotAllowed => "target user not allowed by any matching rule",
        }
    }
}

impl std::fmt::Display for DenyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'p> {
    /// The first allow rule (policy order) that matches caller, command,
    /// arguments and target; `spec` is its first matching command entry
    /// (the caller checks `spec.digest`, if any, on the opened fd, and
    /// gives the target `spec.path` as written as its `argv[0]`, never the
    /// caller's), `auth` what the caller must do before the command runs.
    Allow {
        rule: &'p Rule,
        spec: &'p CommandSpec,
        auth: Auth,
    },
    /// Denied. `rule` is the deny rule for [`DenyReason::DenyRule`], the
    /// first allow rule that matched all but the target for
    /// [`DenyReason::TargetNotAllowed`] (for the audit record only: never
    /// tell the caller), and `None` for [`DenyReason::NoRule`].
    Deny {
        rule: Option<&'p Rule>,
        reason: DenyReason,
    },
}

impl Decision<'_> {
    pub fn is_allow(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }
}

/// The default target when `-u` is not given: the first `run_as` entry of
/// the first allow rule (policy order) that matches the caller, the
/// command and its arguments (`#0`, root, when that entry is `ALL` or a
/// group). `None` when no allow rule matches (the
/// request will be denied; the caller may use `root` to get a decision and
/// an audit record).
pub fn default_target<'p>(
    policy: &'p Policy,
    caller: &Caller,
    command: Invoked<'_>,
    args: &[Vec<u8>],
    files: &dyn FileIds,
) -> Option<&'p Principal> {
    policy
        .rules
        .iter()
        .filter(|r| !r.is_deny() && rule_matches_caller(r, caller))
        .find(|r| matching_command(r, command, args, files).is_some())
        .and_then(|r| r.run_as.first())
        .map(|p| match p {
            // `ALL` and group entries name no one account: the default is
            // root, as sudo's (a group entry then allows root only if root
            // is a member).
            Principal::All | Principal::GroupName(_) | Principal::GroupId(_) => &ROOT,
            p => p,
        })
}

/// The default target of a rule whose first `run_as` entry names no one
/// account (`ALL`, `%group`).
static ROOT: Principal = Principal::Id(0);

/// Decide a request. Deny rules are checked against caller, command (by
/// the file alone: any name of it), arguments and target (a deny rule
/// without `run_as` covers every target) and win over any allow rule,
/// before or after them. Allow rules match the command by name and file
/// (see [`Invoked`]). Otherwise
/// the first allow rule in policy order that matches everything allows.
/// No matching rule denies.
pub fn decide<'p>(policy: &'p Policy, req: &Request<'_>, files: &dyn FileIds) -> Decision<'p> {
    decide_with_group(policy, req, files, None)
}

/// `-g GROUP` (issue 13): as [`decide`], and an allow rule must also
/// grant the group ([`rule_grants_group`]). With `as_self` (`-g` without
/// `-u`: the target is the caller, `req.target`) an allow rule need not
/// list the caller in `run_as`; deny rules still cover the caller as the
/// target as they would any.
pub fn decide_with_group<'p>(
    policy: &'p Policy,
    req: &Request<'_>,
    files: &dyn FileIds,
    group: Option<(GroupAsk<'_>, bool)>,
) -> Decision<'p> {
    let covers = |rule: &Rule| match group {
        None => rule_covers_target(rule, req.target),
        Some((g, as_self)) => {
            (as_self || rule_covers_target(rule, req.target))
                && rule_grants_group(rule, req.target, g)
        }
    };
    let mut allow: Option<(&'p Rule, &'p CommandSpec)> = None;
    let mut wrong_target: Option<&'p Rule> = None;
    for rule in policy
        .rules
        .iter()
        .filter(|r| rule_matches_caller(r, req.caller))
    {
        if rule.is_deny() {
            if rule_covers_target(rule, req.target)
                && matching_command(rule, req.command, req.args, files).is_some()
            {
                return Decision::Deny {
                    rule: Some(rule),
                    reason: DenyReason::DenyRule,
                };
            }
            continue;
        }
        if allow.is_some() {
            continue;
        }
        if let Some(spec) = matching_command(rule, req.command, req.args, files) {
            if covers(rule) {
                allow = Some((rule, spec));
            } else if wrong_target.is_none() {
                wrong_target = Some(rule);
            }
        }
    }
    match (allow, wrong_target) {
        (Some((rule, spec)), _) => Decision::Allow {
            rule,
            spec,
            auth: rule.auth,
        },
        (None, Some(rule)) => Decision::Deny {
            rule: Some(rule),
            reason: DenyReason::TargetNotAllowed,
        },
        (None, None) => Decision::Deny {
            rule: None,
            reason: DenyReason::NoRule,
        },
    }
}

/// A denial with the rule it names (for the audit record only: never
/// tell the caller which rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denial<'p> {
    pub rule: Option<&'p Rule>,
    pub reason: DenyReason,
}

/// The denial of a request without `-u` for which [`default_target`]
/// found no target (no allow rule matches caller, command and
/// arguments): the deny rule that also matches for the usual target,
/// root, when one does (`root` is root's account, `None` when it cannot
/// be resolved), else [`DenyReason::NoRule`].
pub fn deny_without_target<'p>(
    policy: &'p Policy,
    caller: &Caller,
    command: Invoked<'_>,
    args: &[Vec<u8>],
    files: &dyn FileIds,
    root: Option<&Target>,
) -> Denial<'p> {
    let no_rule = Denial {
        rule: None,
        reason: DenyReason::NoRule,
    };
    let Some(root) = root else { return no_rule };
    let req = Request {
        caller,
        target: root,
        command,
        args,
    };
    match decide(policy, &req, files) {
        Decision::Deny { rule, reason } => Denial { rule, reason },
        Decision::Allow { .. } => no_rule,
    }
}

/// The rules that apply to the caller (by user or group), allow and deny,
/// in policy order: what `bdexec -l` shows.
pub fn rules_for_caller<'p>(policy: &'p Policy, caller: &Caller) -> Vec<&'p Rule> {
    policy
        .rules
        .iter()
        .filter(|r| rule_matches_caller(r, caller))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::model::{Action, Args};
    use crate::policy::parse::parse_main;
    use crate::request::{FileId, Target};
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};

    /// Test file identities: a fixed table.
    struct Ids(HashMap<PathBuf, FileId>);

    fn id(ino: u64) -> FileId {
        FileId { dev: 8, ino }
    }

    impl FileIds for Ids {
        fn id_of(&self, path: &Path) -> Option<FileId> {
            self.0.get(path).copied()
        }
    }

    const SH: u64 = 1;
    const SYSTEMCTL: u64 = 2;
    const JOURNALCTL: u64 = 3;
    const ID: u64 = 4;
    const LS: u64 = 5;
    /// /bin and /usr/bin: one directory (merged /usr).
    const BIN: u64 = 100;

    fn ids() -> Ids {
        Ids(HashMap::from([
            ("/bin".into(), id(BIN)),
            ("/usr/bin".into(), id(BIN)),
            ("/bin/sh".into(), id(SH)),
            ("/usr/bin/sh".into(), id(SH)),
            ("/usr/bin/dash".into(), id(SH)),
            ("/usr/bin/systemctl".into(), id(SYSTEMCTL)),
            ("/bin/systemctl".into(), id(SYSTEMCTL)),
            ("/usr/bin/journalctl".into(), id(JOURNALCTL)),
            ("/usr/bin/id".into(), id(ID)),
            ("/bin/ls".into(), id(LS)),
        ]))
    }

    fn pol(rules: &str) -> Policy {
        match parse_main(&format!("version = 1\n{rules}"), Path::new("/p.toml")) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    fn alice() -> Caller {
        Caller {
            uid: 1000,
            gid: 1000,
            name: Some("alice".into()),
            gids: vec![1000, 50],
            group_names: vec!["alice".into(), "ops".into()],
        }
    }

    fn bob() -> Caller {
        Caller {
            uid: 1001,
            gid: 1001,
            name: Some("bob".into()),
            gids: vec![1001],
            group_names: vec!["bob".into()],
        }
    }

    fn root() -> Target {
        Target {
            uid: 0,
            gid: 0,
            name: "root".into(),
            gids: Vec::new(),
            group_names: Vec::new(),
        }
    }

    fn www() -> Target {
        Target {
            uid: 33,
            gid: 33,
            name: "www-data".into(),
            gids: Vec::new(),
            group_names: Vec::new(),
        }
    }

    fn argv(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    /// The name a test caller uses for a file.
    fn path_of(ino: u64) -> &'static Path {
        Path::new(match ino {
            SH => "/bin/sh",
            SYSTEMCTL => "/usr/bin/systemctl",
            JOURNALCTL => "/usr/bin/journalctl",
            ID => "/usr/bin/id",
            LS => "/bin/ls",
            _ => "/usr/bin/other",
        })
    }

    /// The command `ino`, named by `path`.
    fn named_as(path: &'static str, ino: u64) -> Invoked<'static> {
        Invoked {
            path: Path::new(path),
            dir: id(BIN),
            file: id(ino),
        }
    }

    /// The command `ino`, named by its usual path.
    fn inv(ino: u64) -> Invoked<'static> {
        Invoked {
            path: path_of(ino),
            dir: id(BIN),
            file: id(ino),
        }
    }

    fn run_named<'p>(
        p: &'p Policy,
        c: &Caller,
        t: &Target,
        command: Invoked<'_>,
        args: &[&str],
    ) -> Decision<'p> {
        let a = argv(args);
        decide(
            p,
            &Request {
                caller: c,
                target: t,
                command,
                args: &a,
            },
            &ids(),
        )
    }

    fn run<'p>(p: &'p Policy, c: &Caller, t: &Target, cmd: u64, args: &[&str]) -> Decision<'p> {
        run_named(p, c, t, inv(cmd), args)
    }

    fn allowed_by(d: &Decision<'_>) -> Option<String> {
        match d {
            Decision::Allow { rule, .. } => Some(rule.name.clone()),
            Decision::Deny { .. } => None,
        }
    }

    fn reason(d: &Decision<'_>) -> Option<DenyReason> {
        match d {
            Decision::Allow { .. } => None,
            Decision::Deny { reason, .. } => Some(*reason),
        }
    }

    const ALLOW_SH: &str =
        "[[rule]]\nname = \"allow-sh\"\nusers = [\"alice\"]\ncommands = [\"/bin/sh *\"]\n";
    const DENY_SH: &str = "[[rule]]\nname = \"deny-sh\"\ngroups = [\"ops\"]\naction = \"deny\"\ncommands = [\"/bin/sh *\"]\n";

    #[test]
    fn deny_beats_allow_before_and_after() {
        for p in [
            pol(&format!("{ALLOW_SH}{DENY_SH}")),
            pol(&format!("{DENY_SH}{ALLOW_SH}")),
        ] {
            let d = run(&p, &alice(), &root(), SH, &["-c", "id"]);
            assert_eq!(reason(&d), Some(DenyReason::DenyRule));
            match d {
                Decision::Deny { rule: Some(r), .. } => assert_eq!(r.name, "deny-sh"),
                other => panic!("{other:?}"),
            }
            // The deny rule has no run_as: it covers every target.
            assert_eq!(
                reason(&run(&p, &alice(), &www(), SH, &[])),
                Some(DenyReason::DenyRule)
            );
        }
    }

    #[test]
    fn deny_with_run_as_covers_only_those_targets() {
        let p = pol(
            "[[rule]]\nname = \"a\"\nusers = [\"alice\"]\nrun_as = [\"root\", \"www-data\"]\ncommands = [\"/bin/ls *\"]\n\
             [[rule]]\nname = \"d\"\nusers = [\"alice\"]\nrun_as = [\"#0\"]\naction = \"deny\"\ncommands = [\"/bin/ls *\"]\n",
        );
        assert_eq!(
            reason(&run(&p, &alice(), &root(), LS, &[])),
            Some(DenyReason::DenyRule)
        );
        assert_eq!(
            allowed_by(&run(&p, &alice(), &www(), LS, &[])).as_deref(),
            Some("a")
        );
    }

    #[test]
    fn deny_rule_respects_arguments() {
        // A deny entry with exact arguments denies only those arguments
        // (lint warns about this); with `*` it denies every use.
        let p = pol(
            "[[rule]]\nname = \"a\"\nusers = [\"alice\"]\ncommands = [\"/bin/ls *\"]\n\
             [[rule]]\nname = \"d\"\nusers = [\"alice\"]\naction = \"deny\"\ncommands = [\"/bin/ls /root\"]\n",
        );
        assert_eq!(
            reason(&run(&p, &alice(), &root(), LS, &["/root"])),
            Some(DenyReason::DenyRule)
        );
        assert!(run(&p, &alice(), &root(), LS, &["/tmp"]).is_allow());
    }

    #[test]
    fn no_match_denies() {
        let p = pol(ALLOW_SH);
        let d = run(&p, &bob(), &root(), SH, &[]);
        assert_eq!(
            d,
            Decision::Deny {
                rule: None,
                reason: DenyReason::NoRule
            }
        );
        assert_eq!(
            reason(&run(&p, &alice(), &root(), LS, &[])),
            Some(DenyReason::NoRule)
        );
        let empty = pol("");
        assert_eq!(
            reason(&run(&empty, &alice(), &root(), SH, &[])),
            Some(DenyReason::NoRule)
        );
    }

    #[test]
    fn exact_arguments() {
        let p = pol(
            "[[rule]]\nname = \"r\"\nusers = [\"alice\"]\nauth = \"none\"\ncommands = [\"/usr/bin/systemctl restart nginx.service\"]\n",
        );
        let d = run(
            &p,
            &alice(),
            &root(),
            SYSTEMCTL,
            &["restart", "nginx.service"],
        );
        match d {
            Decision::Allow { rule, spec, auth } => {
                assert_eq!(rule.name, "r");
                assert_eq!(auth, Auth::None);
                assert_eq!(spec.path, PathBuf::from("/usr/bin/systemctl"));
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            &["restart"][..],
            &["restart", "nginx.service", "x"],
            &["restart", "nginx.servic"],
            &["restart", "nginx.service "],
            &["stop", "nginx.service"],
            &[],
        ] {
            assert_eq!(
                reason(&run(&p, &alice(), &root(), SYSTEMCTL, bad)),
                Some(DenyReason::NoRule),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn trailing_star_prefix() {
        let p = pol(
            "[[rule]]\nname = \"j\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/journalctl *\", \"/usr/bin/systemctl status *\"]\n",
        );
        for ok in [&[][..], &["-u", "nginx"], &["*"]] {
            assert!(
                run(&p, &alice(), &root(), JOURNALCTL, ok).is_allow(),
                "{ok:?}"
            );
        }
        assert!(run(&p, &alice(), &root(), SYSTEMCTL, &["status"]).is_allow());
        assert!(run(&p, &alice(), &root(), SYSTEMCTL, &["status", "nginx"]).is_allow());
        assert!(!run(&p, &alice(), &root(), SYSTEMCTL, &["restart", "status"]).is_allow());
        assert!(!run(&p, &alice(), &root(), SYSTEMCTL, &[]).is_allow());
    }

    #[test]
    fn bare_path_means_no_arguments() {
        let p = pol("[[rule]]\nname = \"i\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/id\"]\n");
        assert!(run(&p, &alice(), &root(), ID, &[]).is_allow());
        for bad in [&[""][..], &["-u"], &["alice"]] {
            assert_eq!(
                reason(&run(&p, &alice(), &root(), ID, bad)),
                Some(DenyReason::NoRule),
                "{bad:?}"
            );
        }
        // sudo's `""` spelling is the same.
        let p =
            pol("[[rule]]\nname = \"i\"\nusers = [\"alice\"]\ncommands = ['/usr/bin/id \"\"']\n");
        assert!(run(&p, &alice(), &root(), ID, &[]).is_allow());
        assert!(!run(&p, &alice(), &root(), ID, &[""]).is_allow());
    }

    #[test]
    fn target_limited_to_run_as() {
        let p = pol(
            "[[rule]]\nname = \"w\"\nusers = [\"alice\"]\nrun_as = [\"www-data\"]\ncommands = [\"/bin/ls *\"]\n\
             [[rule]]\nname = \"r\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/id\"]\n",
        );
        assert_eq!(
            allowed_by(&run(&p, &alice(), &www(), LS, &[])).as_deref(),
            Some("w")
        );
        let d = run(&p, &alice(), &root(), LS, &[]);
        assert_eq!(reason(&d), Some(DenyReason::TargetNotAllowed));
        match d {
            Decision::Deny { rule: Some(r), .. } => assert_eq!(r.name, "w"),
            other => panic!("{other:?}"),
        }
        // run_as defaults to root only.
        assert!(run(&p, &alice(), &root(), ID, &[]).is_allow());
        assert_eq!(
            reason(&run(&p, &alice(), &www(), ID, &[])),
            Some(DenyReason::TargetNotAllowed)
        );
        // A target named like an allowed one but with another uid is
        // matched by name; "#33" matches by uid whatever the name.
        let p = pol(
            "[[rule]]\nname = \"n\"\nusers = [\"alice\"]\nrun_as = [\"#33\"]\ncommands = [\"/bin/ls\"]\n",
        );
        assert!(run(&p, &alice(), &www(), LS, &[]).is_allow());
        let other = Target {
            uid: 34,
            gid: 34,
            name: "www-data".into(),
            gids: Vec::new(),
            group_names: Vec::new(),
        };
        assert!(!run(&p, &alice(), &other, LS, &[]).is_allow());
    }

    #[test]
    fn first_matching_allow_rule_wins() {
        let p = pol(
            "[[rule]]\nname = \"first\"\nusers = [\"alice\"]\nrun_as = [\"www-data\"]\ncommands = [\"/bin/ls\"]\n\
             [[rule]]\nname = \"second\"\ngroups = [\"ops\"]\nauth = \"none\"\nrun_as = [\"root\", \"www-data\"]\ncommands = [\"/bin/ls\"]\n",
        );
        assert_eq!(
            allowed_by(&run(&p, &alice(), &www(), LS, &[])).as_deref(),
            Some("first")
        );
        // For root the first rule does not cover the target; the second does.
        match run(&p, &alice(), &root(), LS, &[]) {
            Decision::Allow { rule, auth, .. } => {
                assert_eq!(rule.name, "second");
                assert_eq!(auth, Auth::None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn default_target_is_first_run_as_of_first_matching_rule() {
        let p = pol(
            "[[rule]]\nname = \"d\"\nusers = [\"alice\"]\naction = \"deny\"\nrun_as = [\"nobody\"]\ncommands = [\"/bin/ls\"]\n\
             [[rule]]\nname = \"other\"\nusers = [\"alice\"]\nrun_as = [\"backup\"]\ncommands = [\"/usr/bin/id\"]\n\
             [[rule]]\nname = \"bob\"\nusers = [\"bob\"]\nrun_as = [\"bobtarget\"]\ncommands = [\"/bin/ls\"]\n\
             [[rule]]\nname = \"w\"\nusers = [\"alice\"]\nrun_as = [\"www-data\", \"root\"]\ncommands = [\"/bin/ls\"]\n\
             [[rule]]\nname = \"r\"\nusers = [\"alice\"]\ncommands = [\"/bin/ls *\"]\n",
        );
        let f = ids();
        let t = default_target(&p, &alice(), inv(LS), &[], &f);
        assert_eq!(t, Some(&Principal::Name("www-data".into())));
        let t = default_target(&p, &alice(), inv(LS), &argv(&["-l"]), &f);
        assert_eq!(t, Some(&Principal::Name("root".into())));
        assert_eq!(
            default_target(&p, &bob(), inv(LS), &[], &f),
            Some(&Principal::Name("bobtarget".into()))
        );
        assert_eq!(default_target(&p, &bob(), inv(SH), &[], &f), None);
    }

    #[test]
    fn denial_without_target_names_the_deny_rule_for_root() {
        let p = pol(
            "[[rule]]\nname = \"no-sh\"\nusers = [\"alice\"]\naction = \"deny\"\ncommands = [\"/bin/sh\"]\n\
             [[rule]]\nname = \"no-id-www\"\nusers = [\"alice\"]\naction = \"deny\"\nrun_as = [\"www-data\"]\ncommands = [\"/usr/bin/id\"]\n\
             [[rule]]\nname = \"ls\"\nusers = [\"alice\"]\ncommands = [\"/bin/ls\"]\n",
        );
        let f = ids();
        let r = root();
        // No allow rule for sh: the deny rule (covering every target) is named.
        assert_eq!(default_target(&p, &alice(), inv(SH), &[], &f), None);
        let d = deny_without_target(&p, &alice(), inv(SH), &[], &f, Some(&r));
        assert_eq!(d.reason, DenyReason::DenyRule);
        assert_eq!(d.rule.map(|r| r.name.as_str()), Some("no-sh"));
        // A deny rule for another target is not root's: no rule.
        let d = deny_without_target(&p, &alice(), inv(ID), &[], &f, Some(&r));
        assert_eq!((d.rule, d.reason), (None, DenyReason::NoRule));
        // Root unresolvable: no rule named.
        let d = deny_without_target(&p, &alice(), inv(SH), &[], &f, None);
        assert_eq!((d.rule, d.reason), (None, DenyReason::NoRule));
        // Another caller: nothing matches.
        let d = deny_without_target(&p, &bob(), inv(SH), &[], &f, Some(&r));
        assert_eq!((d.rule, d.reason), (None, DenyReason::NoRule));
    }

    #[test]
    fn users_or_groups_and_ids() {
        let p = pol(
            "[[rule]]\nname = \"by-group\"\ngroups = [\"ops\"]\ncommands = [\"/bin/ls\"]\n\
             [[rule]]\nname = \"by-uid\"\nusers = [\"#1001\"]\ncommands = [\"/usr/bin/id\"]\n\
             [[rule]]\nname = \"by-gid\"\nusers = [\"nobody\"]\ngroups = [\"#1001\"]\ncommands = [\"/bin/sh\"]\n",
        );
        assert_eq!(
            allowed_by(&run(&p, &alice(), &root(), LS, &[])).as_deref(),
            Some("by-group")
        );
        assert!(!run(&p, &bob(), &root(), LS, &[]).is_allow());
        assert_eq!(
            allowed_by(&run(&p, &bob(), &root(), ID, &[])).as_deref(),
            Some("by-uid")
        );
        assert!(!run(&p, &alice(), &root(), ID, &[]).is_allow());
        assert_eq!(
            allowed_by(&run(&p, &bob(), &root(), SH, &[])).as_deref(),
            Some("by-gid")
        );
        // A supplementary gid counts as much as the primary one.
        let mut c = alice();
        c.gids.push(1001);
        assert!(run(&p, &c, &root(), SH, &[]).is_allow());
        // A caller without a passwd name only matches by id.
        let anon = Caller {
            uid: 1001,
            gid: 9,
            name: None,
            gids: vec![9],
            group_names: vec![],
        };
        assert!(run(&p, &anon, &root(), ID, &[]).is_allow());
        assert!(!run(&p, &anon, &root(), SH, &[]).is_allow());
    }

    #[test]
    fn two_paths_one_file() {
        // The rule names /usr/bin/sh; the opened file is /bin/sh: same
        // inode on a merged-/usr system, so it matches. Likewise a deny
        // rule cannot be dodged by the other path.
        let p = pol(
            "[[rule]]\nname = \"a\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/sh\", \"/bin/systemctl *\"]\n",
        );
        assert!(run(&p, &alice(), &root(), SH, &[]).is_allow());
        assert!(run(&p, &alice(), &root(), SYSTEMCTL, &["x"]).is_allow());
        let p = pol(
            "[[rule]]\nname = \"a\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/sh *\"]\n\
             [[rule]]\nname = \"d\"\nusers = [\"alice\"]\naction = \"deny\"\ncommands = [\"/bin/sh *\"]\n",
        );
        assert_eq!(
            reason(&run(&p, &alice(), &root(), SH, &["-c", "x"])),
            Some(DenyReason::DenyRule)
        );
    }

    #[test]
    fn allow_needs_the_name_the_rule_uses() {
        // /bin/sh is dash: a rule for `/bin/sh -c id` does not allow the
        // same file called as /usr/bin/dash, nor the default target.
        let p =
            pol("[[rule]]\nname = \"a\"\nusers = [\"alice\"]\ncommands = [\"/bin/sh -c id\"]\n");
        assert!(run(&p, &alice(), &root(), SH, &["-c", "id"]).is_allow());
        let dash = named_as("/usr/bin/dash", SH);
        assert_eq!(
            reason(&run_named(&p, &alice(), &root(), dash, &["-c", "id"])),
            Some(DenyReason::NoRule)
        );
        assert_eq!(
            default_target(&p, &alice(), dash, &argv(&["-c", "id"]), &ids()),
            None
        );
        // The rule's name through the other directory of merged /usr is
        // the same directory entry: allowed.
        let usr = named_as("/usr/bin/sh", SH);
        match run_named(&p, &alice(), &root(), usr, &["-c", "id"]) {
            // argv[0] comes from the entry as written.
            Decision::Allow { spec, .. } => assert_eq!(spec.path, Path::new("/bin/sh")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deny_covers_every_name_of_the_file() {
        // Denying /usr/bin/dash denies /bin/sh (the same file), even
        // though the allow rule names /bin/sh.
        let p = pol(
            "[[rule]]\nname = \"a\"\nusers = [\"alice\"]\ncommands = [\"/bin/sh *\"]\n\
             [[rule]]\nname = \"d\"\nusers = [\"alice\"]\naction = \"deny\"\ncommands = [\"/usr/bin/dash *\"]\n",
        );
        for asked in ["/bin/sh", "/usr/bin/sh", "/usr/bin/dash"] {
            assert_eq!(
                reason(&run_named(&p, &alice(), &root(), named_as(asked, SH), &[])),
                Some(DenyReason::DenyRule),
                "{asked}"
            );
        }
    }

    #[test]
    fn non_utf8_arguments() {
        let p = pol(
            "[[rule]]\nname = \"a\"\nusers = [\"alice\"]\ncommands = [\"/bin/ls caf\u{e9}\", \"/bin/ls \u{fffd}\"]\n",
        );
        let c = alice();
        let t = root();
        let f = ids();
        let req = |a: &[u8]| {
            let args = vec![a.to_vec()];
            decide(
                &p,
                &Request {
                    caller: &c,
                    target: &t,
                    command: inv(LS),
                    args: &args,
                },
                &f,
            )
            .is_allow()
        };
        assert!(req("café".as_bytes()));
        assert!(!req(b"caf\xe9")); // Latin-1 "café"
        assert!(!req(b"\xff")); // would be U+FFFD after a lossy conversion
        assert!(req("\u{fffd}".as_bytes()));
    }

    #[test]
    fn missing_path_never_matches() {
        let p = pol(
            "[[rule]]\nname = \"a\"\nusers = [\"alice\"]\ncommands = [\"/opt/missing *\"]\n\
             [[rule]]\nname = \"d\"\nusers = [\"alice\"]\naction = \"deny\"\ncommands = [\"/opt/missing2 *\"]\n\
             [[rule]]\nname = \"b\"\nusers = [\"alice\"]\ncommands = [\"/bin/ls *\"]\n",
        );
        // No FileId is "the id of a missing file", whatever the request's.
        for ino in [0, 1, 2, 3, 4, 6, u64::MAX] {
            assert!(!run(&p, &alice(), &root(), ino, &[]).is_allow(), "{ino}");
        }
        assert_eq!(
            allowed_by(&run(&p, &alice(), &root(), LS, &[])).as_deref(),
            Some("b")
        );
    }

    #[test]
    fn all_allows_any_command_and_deny_still_wins_by_inode() {
        let p = pol(
            "[[rule]]\nname = \"admins\"\nusers = [\"alice\"]\nrun_as = [\"ALL\"]\ncommands = [\"ALL\"]\n\
             [[rule]]\nname = \"no-shells\"\nusers = [\"alice\"]\naction = \"deny\"\ncommands = [\"/usr/bin/dash *\"]\n",
        );
        // Any command, any arguments, any target.
        assert_eq!(
            allowed_by(&run(&p, &alice(), &root(), ID, &["-u"])).as_deref(),
            Some("admins")
        );
        assert_eq!(
            allowed_by(&run(&p, &alice(), &www(), LS, &[])).as_deref(),
            Some("admins")
        );
        // The deny names dash; /bin/sh is the same file: denied by inode,
        // whatever name the caller uses.
        for name in ["/bin/sh", "/usr/bin/sh", "/usr/bin/dash"] {
            let d = run_named(&p, &alice(), &root(), named_as(name, SH), &["-c", "id"]);
            assert_eq!(reason(&d), Some(DenyReason::DenyRule), "{name}");
        }
        // Not for bob.
        assert_eq!(
            reason(&run(&p, &bob(), &root(), ID, &[])),
            Some(DenyReason::NoRule)
        );
        // The default target of an ALL rule is root (#0), as sudo's.
        let a: Vec<Vec<u8>> = Vec::new();
        assert_eq!(
            default_target(&p, &alice(), inv(ID), &a, &ids()),
            Some(&Principal::Id(0))
        );
    }

    #[test]
    fn argv0_by_entry_kind() {
        use crate::policy::model::CommandKind;
        let spec = |path: &str, kind| CommandSpec {
            path: path.into(),
            args: Args::Prefix(Vec::new()),
            digest: None,
            kind,
        };
        let asked = named_as("/usr/bin/dash", SH);
        // A file: the rule's path; ALL: the caller's resolved path (the
        // rule names none); a directory: the rule's directory and the
        // caller's base name.
        assert_eq!(
            argv0(&spec("/bin/sh", CommandKind::File), asked),
            Path::new("/bin/sh")
        );
        assert_eq!(
            argv0(&spec("ALL", CommandKind::All), asked),
            Path::new("/usr/bin/dash")
        );
        assert_eq!(
            argv0(&spec("/bin/", CommandKind::Dir), asked),
            Path::new("/bin/dash")
        );
    }

    #[test]
    fn group_targets_are_checked_on_the_target() {
        let p = pol(
            "[[rule]]\nname = \"g\"\nusers = [\"alice\"]\nauth = \"none\"\nrun_as = [\"%www\", \"%#61100\"]\ncommands = [\"/usr/bin/id\"]\n",
        );
        let member = |gids: Vec<u32>, names: Vec<&str>| Target {
            gids,
            group_names: names.into_iter().map(String::from).collect(),
            ..www()
        };
        assert!(run(&p, &alice(), &member(vec![33], vec!["www"]), ID, &[]).is_allow());
        assert!(run(&p, &alice(), &member(vec![33, 61100], vec![]), ID, &[]).is_allow());
        // Not a member (now): not allowed, whatever the caller's groups.
        let d = run(&p, &alice(), &member(vec![33], vec!["www-data"]), ID, &[]);
        assert_eq!(reason(&d), Some(DenyReason::TargetNotAllowed));
        // The caller being in the group does not matter (CVE-2009-0034).
        let mut c = alice();
        c.gids.push(61100);
        c.group_names.push("www".into());
        assert!(!run(&p, &c, &root(), ID, &[]).is_allow());
        // A group no one is in (or that does not exist) allows no one.
        let none = pol(
            "[[rule]]\nname = \"g\"\nusers = [\"alice\"]\nrun_as = [\"%nosuchgroup\"]\ncommands = [\"/usr/bin/id\"]\n",
        );
        assert!(!run(&none, &alice(), &root(), ID, &[]).is_allow());
        assert!(!run(&none, &alice(), &member(vec![33], vec!["www"]), ID, &[]).is_allow());
    }

    /// Ids with a command directory /opt/plugins (BIN-like id 200) holding
    /// check_a (a regular file) and link (a symlink to /bin/sh).
    struct DirIds;
    impl FileIds for DirIds {
        fn id_of(&self, path: &Path) -> Option<FileId> {
            match path.to_str()? {
                "/opt/plugins" | "/opt/plugins/" => Some(id(200)),
                "/opt/plugins/check_a" => Some(id(201)),
                "/opt/plugins/link" | "/bin/sh" => Some(id(SH)),
                "/bin" => Some(id(BIN)),
                _ => None,
            }
        }
        fn dir_entry(&self, dir: &Path, name: &std::ffi::OsStr) -> Option<FileId> {
            // The symlink is not a plain entry.
            (dir == Path::new("/opt/plugins/") && name == "check_a").then_some(id(201))
        }
    }

    #[test]
    fn command_directory_matches_plain_entries_only() {
        let p =
            pol("[[rule]]\nname = \"d\"\nusers = [\"alice\"]\ncommands = [\"/opt/plugins/ *\"]\n");
        let a = argv(&["-w", "1"]);
        let ask = |path: &'static str, dir: u64, file: u64| {
            let (c, t) = (alice(), root());
            let req = Request {
                caller: &c,
                target: &t,
                command: Invoked {
                    path: Path::new(path),
                    dir: id(dir),
                    file: id(file),
                },
                args: &a,
            };
            decide(&p, &req, &DirIds).is_allow()
        };
        assert!(ask("/opt/plugins/check_a", 200, 201));
        // A symlink in the directory leads out of it: refused.
        assert!(!ask("/opt/plugins/link", 200, SH));
        // The same file reached from another directory: not "in" it.
        assert!(!ask("/bin/check_a", BIN, 201));
        // Without the trailing slash the path names the directory as a
        // file: it matches nothing.
        let file =
            pol("[[rule]]\nname = \"d\"\nusers = [\"alice\"]\ncommands = [\"/opt/plugins *\"]\n");
        let d = decide(
            &file,
            &Request {
                caller: &alice(),
                target: &root(),
                command: Invoked {
                    path: Path::new("/opt/plugins/check_a"),
                    dir: id(200),
                    file: id(201),
                },
                args: &[],
            },
            &DirIds,
        );
        assert!(!d.is_allow());
    }

    #[test]
    fn rules_for_caller_lists_matching_rules() {
        let p = pol(&format!(
            "{ALLOW_SH}{DENY_SH}[[rule]]\nname = \"bob\"\nusers = [\"bob\"]\ncommands = [\"/bin/ls\"]\n"
        ));
        let names: Vec<_> = rules_for_caller(&p, &alice())
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["allow-sh", "deny-sh"]);
        let names: Vec<_> = rules_for_caller(&p, &bob())
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["bob"]);
    }

    #[test]
    fn reasons_for_audit() {
        assert_eq!(DenyReason::NoRule.as_str(), "no rule allows this command");
        assert_eq!(DenyReason::DenyRule.as_str(), "denied by rule");
        assert_eq!(
            DenyReason::TargetNotAllowed.as_str(),
            "target user not allowed by any matching rule"
        );
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        // A small universe: 2 callers, 2 targets, 3 paths (two of them one
        // file, one missing), 3 argument words (one not UTF-8).
        const PATHS: [&str; 4] = ["/bin/sh", "/usr/bin/sh", "/bin/ls", "/opt/missing"];
        const WORDS: [&str; 3] = ["a", "b", "\u{fffd}"];

        fn principal(users: bool) -> impl Strategy<Value = Principal> {
            let names: &'static [&'static str] = if users {
                &["alice", "bob", "carol"]
            } else {
                &["ops", "bob", "wheel"]
            };
            let ids: &'static [u32] = if users {
                &[1000, 1001, 0]
            } else {
                &[50, 1001, 0]
            };
            prop_oneof![
                proptest::sample::select(names).prop_map(|n| Principal::Name(n.to_string())),
                proptest::sample::select(ids).prop_map(Principal::Id),
            ]
        }

        fn target_principal() -> impl Strategy<Value = Principal> {
            prop_oneof![
                proptest::sample::select(&["root", "www-data"][..])
                    .prop_map(|n| Principal::Name(n.to_string())),
                proptest::sample::select(&[0u32, 33, 7][..]).prop_map(Principal::Id),
            ]
        }

        fn words() -> impl Strategy<Value = Vec<String>> {
            proptest::collection::vec(
                proptest::sample::select(&WORDS[..]).prop_map(String::from),
                0..2,
            )
        }

        fn spec() -> impl Strategy<Value = CommandSpec> {
            (proptest::sample::select(&PATHS[..]), 0u8..4, words()).prop_map(|(p, k, w)| {
                CommandSpec {
                    path: p.into(),
                    args: match k {
                        0 => Args::None,
                        1 => Args::Exact(w),
                        // Prefix twice as likely: it matches most requests.
                        _ => Args::Prefix(w),
                    },
                    digest: None,
                    kind: Default::default(),
                }
            })
        }

        fn rule() -> impl Strategy<Value = Rule> {
            (
                proptest::collection::vec(principal(true), 0..2),
                proptest::collection::vec(principal(false), 0..2),
                proptest::collection::vec(target_principal(), 0..2),
                proptest::collection::vec(spec(), 1..3),
                any::<bool>(),
            )
                .prop_map(|(users, groups, run_as, commands, deny)| Rule {
                    name: String::new(),
                    users,
                    groups,
                    run_as: if run_as.is_empty() && !deny {
                        vec![Principal::Name("root".into())]
                    } else {
                        run_as
                    },
                    commands,
                    auth: Auth::Password,
                    action: if deny { Action::Deny } else { Action::Allow },
                    setenv: vec![],
                    sandbox: None,
                    caps: vec![],
                    approval: None,
                    rate: None,
                    session: Default::default(),
                    env_keep: None,
                    secure_path: None,
                    timestamp_timeout: None,
                    run_as_groups: None,
                    chdir: None,
                    edit: None,
                    caller: Default::default(),
                    origin: crate::policy::model::Origin {
                        file: PathBuf::new(),
                        line: 0,
                        col: 0,
                    },
                })
        }

        fn file_ids() -> Ids {
            Ids(HashMap::from([
                ("/bin".into(), id(BIN)),
                ("/usr/bin".into(), id(BIN)),
                ("/usr/bin/dash".into(), id(SH)),
                ("/bin/sh".into(), id(SH)),
                ("/usr/bin/sh".into(), id(SH)),
                ("/bin/ls".into(), id(LS)),
            ]))
        }

        /// Independent oracle: does this deny rule match the request?
        fn deny_matches(
            r: &Rule,
            c: &Caller,
            t: &Target,
            cmd: FileId,
            args: &[Vec<u8>],
            f: &Ids,
        ) -> bool {
            let who = r.users.iter().any(|p| match p {
                Principal::Name(n) => c.name.as_deref() == Some(n),
                Principal::Id(i) => *i == c.uid,
                _ => false,
            }) || r.groups.iter().any(|p| match p {
                Principal::Name(n) => c.group_names.contains(n),
                Principal::Id(i) => c.gids.contains(i),
                _ => false,
            });
            let tgt = r.run_as.is_empty()
                || r.run_as.iter().any(|p| match p {
                    Principal::Name(n) => *n == t.name,
                    Principal::Id(i) => *i == t.uid,
                    Principal::All => true,
                    Principal::GroupName(g) => t.group_names.contains(g),
                    Principal::GroupId(g) => t.gids.contains(g),
                });
            let what = r.commands.iter().any(|s| {
                let words: Vec<Vec<u8>> = match &s.args {
                    Args::None => vec![],
                    Args::Exact(w) | Args::Prefix(w) => {
                        w.iter().map(|x| x.as_bytes().to_vec()).collect()
                    }
                };
                let args_ok = match &s.args {
                    Args::Prefix(_) => args.starts_with(&words),
                    _ => args == words.as_slice(),
                };
                f.id_of(&s.path) == Some(cmd) && args_ok
            });
            r.is_deny() && who && tgt && what
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]
            #[test]
            fn matching_deny_rule_always_denies(
                mut rules in proptest::collection::vec(rule(), 0..6),
                caller_bob in any::<bool>(),
                target_root in any::<bool>(),
                cmd in proptest::sample::select(&[SH, SH, LS, ID][..]),
                args in proptest::collection::vec(
                    prop_oneof![
                        proptest::sample::select(&WORDS[..]).prop_map(|w| w.as_bytes().to_vec()),
                        Just(vec![0xffu8]),
                    ],
                    0..2,
                ),
            ) {
                for (i, r) in rules.iter_mut().enumerate() {
                    r.name = format!("r{i}");
                }
                let p = Policy { version: 1, defaults: Default::default(), rules, sandboxes: Vec::new(), approvers: Vec::new(), incident: Default::default(), audit: Default::default() };
                let c = if caller_bob { bob() } else { alice() };
                let t = if target_root { root() } else { www() };
                let f = file_ids();
                let req = Request { caller: &c, target: &t, command: inv(cmd), args: &args };
                let d = decide(&p, &req, &f);
                let denied_by = p.rules.iter().find(|r| deny_matches(r, &c, &t, id(cmd), &args, &f));
                if let Some(dr) = denied_by {
                    let hit = matches!(d, Decision::Deny { reason: DenyReason::DenyRule, rule: Some(r) } if r.name == dr.name);
                    prop_assert!(hit, "{:?} should be denied by {}", d, dr.name);
                } else {
                    let hit = matches!(d, Decision::Deny { reason: DenyReason::DenyRule, .. });
                    prop_assert!(!hit, "{:?}: no deny rule matches", d);
                }
                if let Decision::Allow { rule, spec, .. } = d {
                    // The allowing rule really matches everything, and it is
                    // the first allow rule that does.
                    prop_assert!(!rule.is_deny());
                    prop_assert!(rule_matches_caller(rule, &c) && rule_covers_target(rule, &t));
                    prop_assert!(crate::policy::matcher::command_matches(spec, inv(cmd), false, &args, &f));
                    let first = p.rules.iter().find(|r| {
                        !r.is_deny()
                            && rule_matches_caller(r, &c)
                            && rule_covers_target(r, &t)
                            && matching_command(r, inv(cmd), &args, &f).is_some()
                    });
                    prop_assert_eq!(first.map(|r| &r.name), Some(&rule.name));
                }
                // The default target, when there is one and no deny rule
                // interferes, leads to an allow.
                if let Some(dt) = default_target(&p, &c, inv(cmd), &args, &f) {
                    let t2 = match dt {
                        Principal::Name(n) if n == "root" => Some(root()),
                        Principal::Id(0) => Some(root()),
                        Principal::Name(n) if n == "www-data" => Some(www()),
                        Principal::Id(33) => Some(www()),
                        _ => None,
                    };
                    if let Some(t2) = t2 {
                        let d2 = decide(&p, &Request { caller: &c, target: &t2, command: inv(cmd), args: &args }, &f);
                        prop_assert_ne!(reason(&d2), Some(DenyReason::NoRule));
                        prop_assert_ne!(reason(&d2), Some(DenyReason::TargetNotAllowed));
                    }
                }
            }

            /// Plant a deny rule built to match the request (by name or
            /// id, by user or group, through any path of the file, with
            /// exact or prefix arguments, any or this target) anywhere in a
            /// random policy: the request, by any name of the file, is
            /// always denied by it.
            #[test]
            fn planted_deny_rule_always_denies(
                mut rules in proptest::collection::vec(rule(), 0..6),
                pos in any::<proptest::sample::Index>(),
                caller_bob in any::<bool>(),
                target_root in any::<bool>(),
                sh in any::<bool>(),
                args in proptest::collection::vec(
                    prop_oneof![
                        proptest::sample::select(&WORDS[..]).prop_map(|w| w.as_bytes().to_vec()),
                        Just(vec![0xffu8]),
                    ],
                    0..3,
                ),
                how in (0u8..4, 0u8..3, 0u8..3, any::<bool>(), 0usize..3),
                asked_as in 0u8..3,
            ) {
                let (who, tgt, path_kind, prefix, cut) = how;
                let c = if caller_bob { bob() } else { alice() };
                let t = if target_root { root() } else { www() };
                let (cmd, path) = match (sh, path_kind) {
                    (false, _) => (LS, "/bin/ls"),
                    (true, 0) => (SH, "/bin/sh"),
                    (true, _) => (SH, "/usr/bin/sh"),
                };
                // The name the caller uses: any of the file's names.
                let asked = match (sh, asked_as) {
                    (false, _) => named_as("/bin/ls", cmd),
                    (true, 0) => named_as("/bin/sh", cmd),
                    (true, 1) => named_as("/usr/bin/sh", cmd),
                    (true, _) => named_as("/usr/bin/dash", cmd),
                };
                // Arguments the deny entry names; only UTF-8 ones can be
                // written in a policy, so a non-UTF-8 argument forces a
                // prefix that stops before it.
                let utf8: Vec<String> =
                    args.iter().map_while(|a| String::from_utf8(a.clone()).ok()).collect();
                let args_spec = if prefix || utf8.len() < args.len() {
                    Args::Prefix(utf8[..cut.min(utf8.len())].to_vec())
                } else if utf8.is_empty() {
                    Args::None
                } else {
                    Args::Exact(utf8)
                };
                let (users, groups) = match who {
                    0 => (vec![Principal::Name(c.name.clone().unwrap_or_default())], vec![]),
                    1 => (vec![Principal::Id(c.uid)], vec![]),
                    2 => (vec![], vec![Principal::Name(c.group_names[0].clone())]),
                    _ => (vec![Principal::Name("nobody".into())], vec![Principal::Id(c.gid)]),
                };
                let run_as = match tgt {
                    0 => vec![],
                    1 => vec![Principal::Name("x".into()), Principal::Name(t.name.clone())],
                    _ => vec![Principal::Id(t.uid)],
                };
                let deny = Rule {
                    name: "planted".into(),
                    users,
                    groups,
                    run_as,
                    commands: vec![CommandSpec { path: path.into(), args: args_spec, digest: None, kind: Default::default() }],
                    auth: Auth::None,
                    action: Action::Deny,
                    setenv: vec![],
                    sandbox: None,
                    caps: vec![],
                    approval: None,
                    rate: None,
                    session: Default::default(),
                    env_keep: None,
                    secure_path: None,
                    timestamp_timeout: None,
                    run_as_groups: None,
                    chdir: None,
                    edit: None,
                    caller: Default::default(),
                    origin: crate::policy::model::Origin { file: PathBuf::new(), line: 0, col: 0 },
                };
                for (i, r) in rules.iter_mut().enumerate() {
                    r.name = format!("r{i}");
                }
                // Make sure some allow rule would otherwise allow it.
                rules.push(Rule {
                    name: "allow-all".into(),
                    users: vec![Principal::Id(c.uid)],
                    groups: vec![],
                    run_as: vec![Principal::Id(t.uid)],
                    commands: vec![CommandSpec { path: asked.path.into(), args: Args::Prefix(vec![]), digest: None, kind: Default::default() }],
                    auth: Auth::None,
                    action: Action::Allow,
                    setenv: vec![],
                    sandbox: None,
                    caps: vec![],
                    approval: None,
                    rate: None,
                    session: Default::default(),
                    env_keep: None,
                    secure_path: None,
                    timestamp_timeout: None,
                    run_as_groups: None,
                    chdir: None,
                    edit: None,
                    caller: Default::default(),
                    origin: crate::policy::model::Origin { file: PathBuf::new(), line: 0, col: 0 },
                });
                let at = pos.index(rules.len() + 1);
                rules.insert(at, deny);
                let p = Policy { version: 1, defaults: Default::default(), rules, sandboxes: Vec::new(), approvers: Vec::new(), incident: Default::default(), audit: Default::default() };
                let f = file_ids();
                let d = decide(&p, &Request { caller: &c, target: &t, command: asked, args: &args }, &f);
                let hit = matches!(d, Decision::Deny { reason: DenyReason::DenyRule, rule: Some(_) });
                prop_assert!(hit, "{:?}", d);
            }

            /// The caller index (src/policy/index.rs, issue 16): the policy
            /// reduced to the rules found through the caller's keys decides
            /// every request exactly as the full scan does (which rule
            /// allows, which denies and why, the default target, the
            /// denial without a target, `bdexec -l`).
            #[test]
            fn index_selection_equals_full_scan(
                mut rules in proptest::collection::vec(rule(), 0..10),
                who in 0u8..3,
                target_root in any::<bool>(),
                cmd in proptest::sample::select(&[SH, SH, LS, ID][..]),
                args in proptest::collection::vec(
                    proptest::sample::select(&WORDS[..]).prop_map(|w| w.as_bytes().to_vec()),
                    0..2,
                ),
            ) {
                for (i, r) in rules.iter_mut().enumerate() {
                    r.name = format!("r{i}");
                }
                let p = Policy { version: 1, defaults: Default::default(), rules, sandboxes: Vec::new(), approvers: Vec::new(), incident: Default::default(), audit: Default::default() };
                let c = match who {
                    0 => alice(),
                    1 => bob(),
                    // No passwd entry and no group names: ids only.
                    _ => Caller { name: None, group_names: vec![], ..alice() },
                };
                let sub = crate::policy::index::for_caller(&p, &c);
                prop_assert!(sub.rules.len() <= p.rules.len());
                let t = if target_root { root() } else { www() };
                let f = file_ids();
                let req = Request { caller: &c, target: &t, command: inv(cmd), args: &args };
                let name = |d: &Decision<'_>| match d {
                    Decision::Allow { rule, spec, auth } => (Some(rule.name.clone()), None, Some(((*spec).clone(), *auth))),
                    Decision::Deny { rule, reason } => (rule.map(|r| r.name.clone()), Some(*reason), None),
                };
                prop_assert_eq!(name(&decide(&p, &req, &f)), name(&decide(&sub, &req, &f)));
                prop_assert_eq!(
                    default_target(&p, &c, inv(cmd), &args, &f),
                    default_target(&sub, &c, inv(cmd), &args, &f)
                );
                let dn = |pol: &Policy| {
                    let d = deny_without_target(pol, &c, inv(cmd), &args, &f, Some(&t));
                    (d.rule.map(|r| r.name.clone()), d.reason)
                };
                prop_assert_eq!(dn(&p), dn(&sub));
                let names = |pol: &Policy| rules_for_caller(pol, &c).iter().map(|r| r.name.clone()).collect::<Vec<_>>();
                prop_assert_eq!(names(&p), names(&sub));
            }
        }
    }
}
