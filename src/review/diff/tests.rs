use super::*;
use crate::policy::model::CommandSpec;
use crate::policy::parse::parse_main;
use proptest::prelude::*;

fn pol(src: &str) -> Policy {
    match parse_main(&format!("version = 1\n{src}"), Path::new("/p.toml")) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn lines(a: &str, b: &str) -> Vec<String> {
    diff(&pol(a), &pol(b))
        .changes
        .iter()
        .map(Change::line)
        .collect()
}

const R: &str = "[[rule]]\nname = \"r\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/id\"]\n";

#[test]
fn widening_to_all_group_targets_and_directories_says_so() {
    let all = "[[rule]]\nname = \"r\"\nusers = [\"alice\"]\ncommands = [\"ALL\"]\n";
    let l = lines(R, all);
    assert!(
        l.iter().any(|x| x.starts_with('+')
            && x.contains("ALL (any command)")
            && x.contains("as root")),
        "{l:#?}"
    );
    // And back: the revoke says so too.
    let l = lines(all, R);
    assert!(
        l.iter()
            .any(|x| x.starts_with('-') && x.contains("ALL (any command)")),
        "{l:#?}"
    );
    // run_as root -> ALL: any other account.
    let any = "[[rule]]\nname = \"r\"\nusers = [\"alice\"]\nrun_as = [\"ALL\"]\ncommands = [\"/usr/bin/id\"]\n";
    let l = lines(R, any);
    assert!(
        l.iter()
            .any(|x| x.starts_with('+') && x.contains("/usr/bin/id as any other account")),
        "{l:#?}"
    );
    // A group target: a member of it.
    let grp = "[[rule]]\nname = \"r\"\nusers = [\"alice\"]\nrun_as = [\"%www\"]\ncommands = [\"/usr/bin/id\"]\n";
    let l = lines(R, grp);
    assert!(
        l.iter()
            .any(|x| x.starts_with('+') && x.contains("as a member of %www")),
        "{l:#?}"
    );
    // A directory: any command in it, and a file named elsewhere that
    // lies in it.
    let dir = "[[rule]]\nname = \"r\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/id\", \"/usr/lib/plugins/ *\"]\n";
    let l = lines(R, dir);
    assert!(
        l.iter()
            .any(|x| x.starts_with('+') && x.contains("any command in /usr/lib/plugins/")),
        "{l:#?}"
    );
    let named =
        "[[rule]]\nname = \"r\"\nusers = [\"alice\"]\ncommands = [\"/usr/lib/plugins/check_x\"]\n";
    let l = lines(named, dir);
    assert!(
        l.iter()
            .any(|x| x.starts_with('+') && x.contains("/usr/lib/plugins/check_x <more-args>")),
        "{l:#?}"
    );
    // A deny rule added against an ALL rule narrows.
    let deny = format!(
        "{all}[[rule]]\nname = \"d\"\nusers = [\"alice\"]\naction = \"deny\"\ncommands = [\"/bin/sh *\"]\n"
    );
    let l = lines(all, &deny);
    assert!(
        l.iter()
            .any(|x| x.starts_with('-') && x.contains("/bin/sh")),
        "{l:#?}"
    );
    assert!(!l.iter().any(|x| x.starts_with('+')), "{l:#?}");
}

#[test]
fn a_rules_env_keep_secure_path_and_timeout_are_compared() {
    let keep = format!("{R}env_keep = [\"SSH_AUTH_SOCK\"]\n");
    let l = lines(R, &keep);
    assert_eq!(
        l,
        vec!["+ env rule r: env_keep SSH_AUTH_SOCK added"],
        "{l:#?}"
    );
    assert_eq!(
        lines(&keep, R),
        vec!["- env rule r: env_keep SSH_AUTH_SOCK removed"]
    );
    // A variable the defaults already keep: the rule adds nothing.
    assert!(lines(R, &format!("{R}env_keep = [\"TERM\"]\n")).is_empty());
    let path = format!("{R}secure_path = \"/usr/bin:/opt/app/bin\"\n");
    let l = lines(R, &path);
    assert!(
        l.contains(&"+ env rule r: secure_path /opt/app/bin added".to_string()),
        "{l:#?}"
    );
    assert!(
        l.iter()
            .any(|x| x == "- env rule r: secure_path /sbin removed"),
        "{l:#?}"
    );
    let t = format!("{R}timestamp_timeout = \"15m\"\n");
    let l = lines(R, &t);
    assert_eq!(
        l,
        vec!["+ auth rule r: timestamp_timeout 5m -> 15m"],
        "{l:#?}"
    );
    // The same value as the default: nothing changes for the rule.
    assert!(lines(R, &format!("{R}timestamp_timeout = \"5m\"\n")).is_empty());
}

/// noexec and require_tty, on a rule or in [defaults]: off widens, on
/// narrows; a rule that sets the defaults' own value changes nothing.
#[test]
fn noexec_and_require_tty_are_compared() {
    let nx = format!("{R}noexec = true\n");
    assert_eq!(lines(R, &nx), vec!["- sandbox rule r: noexec off -> on"]);
    assert_eq!(lines(&nx, R), vec!["+ sandbox rule r: noexec on -> off"]);
    let tty = format!("{R}require_tty = true\n");
    assert_eq!(lines(&tty, R), vec!["+ auth rule r: require_tty on -> off"]);
    let d = format!("[defaults]\nnoexec = true\n{R}");
    assert_eq!(lines(&d, R), vec!["+ sandbox defaults: noexec on -> off"]);
    assert!(lines(&d, &format!("[defaults]\nnoexec = true\n{nx}")).is_empty());
}

#[test]
fn identical_is_empty() {
    let d = diff(&pol(R), &pol(R));
    assert!(d.changes.is_empty());
    assert!(d.segments.is_empty());
    assert_eq!(
        d.render_text(),
        "hash: identical\nsummary: 0 widening, 0 narrowing, 0 neutral\n"
    );
}

#[test]
fn add_user_is_a_grant() {
    let l = lines(R, &R.replace("[\"alice\"]", "[\"alice\", \"bob\"]"));
    assert_eq!(
        l,
        ["+ grant user bob: /usr/bin/id as root (rule r, auth password)"]
    );
}

#[test]
fn auth_weakened() {
    let l = lines(R, &format!("{R}auth = \"none\"\n"));
    assert_eq!(l, ["+ auth rule r: password -> none"]);
    let l = lines(&format!("{R}auth = \"none\"\n"), R);
    assert_eq!(l, ["- auth rule r: none -> password"]);
}

#[test]
fn star_widening_instances() {
    let a = R.replace("/usr/bin/id", "/usr/bin/journalctl -u nginx");
    let b = R.replace("/usr/bin/id", "/usr/bin/journalctl *");
    let l = lines(&a, &b);
    assert!(
        l.iter().all(|x| x.starts_with("+ grant user alice:")),
        "{l:?}"
    );
    assert_eq!(l.len(), 3, "{l:?}");
    assert!(diff(&pol(&a), &pol(&b)).widens());
}

/// An omitted `scope` means both scopes for root targets only, so
/// `scope = []` widens for root, and listing both narrows for others.
#[test]
fn landlock_scope_default() {
    let ll = |scope: &str| {
        format!("[sandbox.b.landlock]\nread = [\"/etc\"]\n{scope}\n{R}sandbox = \"b\"\n")
    };
    let l = lines(&ll(""), &ll("scope = []"));
    assert_eq!(
        l.iter()
            .filter(|x| x.contains("scoping removed for root targets") && x.starts_with('+'))
            .count(),
        2,
        "{l:?}"
    );
    let l = lines(&ll(""), &ll("scope = [\"signal\", \"abstract_unix\"]"));
    assert_eq!(
        l.iter()
            .filter(|x| x.contains("scoping added for non-root targets") && x.starts_with('-'))
            .count(),
        2,
        "{l:?}"
    );
    let l = lines(&ll("scope = []"), &ll("scope = [\"signal\"]"));
    assert!(
        l.iter()
            .any(|x| x.starts_with('-') && x.ends_with("signal scoping added")),
        "{l:?}"
    );
    assert!(lines(&ll(""), &ll("")).is_empty());
}

#[test]
fn rate_limits() {
    let with = |r: &str| format!("{R}rate = \"{r}\"\n");
    assert_eq!(
        lines(&with("10/1m"), R),
        ["+ rate rule r: limit 10/1m removed"]
    );
    assert_eq!(
        lines(R, &with("10/1m")),
        ["- rate rule r: limit 10/1m added"]
    );
    assert_eq!(
        lines(&with("10/1m"), &with("20/1m")),
        ["+ rate rule r: limit 10/1m -> 20/1m"]
    );
    assert_eq!(
        lines(&with("10/1m"), &with("10/1h")),
        ["- rate rule r: limit 10/1m -> 10/1h"]
    );
    assert_eq!(
        lines(&with("10/1m"), &with("2/6s")),
        [
            "- rate rule r: limit 10/1m -> 2/6s: burst 10 -> 2",
            "+ rate rule r: limit 10/1m -> 2/6s: sustained rate raised",
        ]
    );
}

#[test]
fn approval_through_another_rule() {
    // The rule renamed and its approvals raised: reported on the
    // request, since the rule-level comparison is by name.
    let a = format!("{R}auth = \"approval\"\n");
    let b = a.replace("name = \"r\"", "name = \"s\"") + "approvals = 2\nrate = \"1/1m\"\n";
    let l = lines(&a, &b);
    assert!(
        l.contains(
            &"- approval user alice: /usr/bin/id as root (rule r -> s): approvals 1 -> 2"
                .to_string()
        ),
        "{l:?}"
    );
    assert!(
        l.contains(
            &"- rate user alice: /usr/bin/id as root (rule r -> s): limit 1/1m added".to_string()
        ),
        "{l:?}"
    );
    // Not an approval rule on one side: only the auth line.
    assert_eq!(
        lines(&format!("{a}approvals = 1\n"), R),
        ["+ auth rule r: approval -> password"]
    );
}

#[test]
fn timestamp_timeout() {
    let t = |v: &str| format!("[defaults]\ntimestamp_timeout = \"{v}\"\n{R}");
    assert_eq!(
        lines(&t("5m"), &t("1h")),
        ["+ defaults: timestamp_timeout 5m -> 1h"]
    );
    assert_eq!(
        lines(&t("5m"), &t("90s")),
        ["- defaults: timestamp_timeout 5m -> 90s"]
    );
    assert_eq!(
        lines(&t("5m"), &t("0")),
        ["- defaults: timestamp_timeout 5m -> 0 (caching disabled)"]
    );
}

/// The two PAM switches of `[defaults]`, both on by default: turning the
/// account stage off is widening (+), turning the memo off narrowing
/// (-); each default diffs as nothing.
#[test]
fn pam_account_and_its_memo() {
    for (key, to_false, to_true) in [("pam_account", "+", "-"), ("pam_account_memo", "-", "+")] {
        let t = |v: bool| format!("[defaults]\n{key} = {v}\n{R}");
        assert_eq!(
            lines(&t(true), &t(false)),
            [format!("{to_false} defaults: {key} true -> false")]
        );
        assert_eq!(
            lines(&t(false), &t(true)),
            [format!("{to_true} defaults: {key} false -> true")]
        );
        assert!(lines(&t(true), R).is_empty(), "{key}: the default");
    }
}

#[test]
fn json_parses() {
    let d = diff(&pol(R), &pol(&R.replace("alice", "bob")));
    let v: serde_json::Value = match serde_json::from_str(&d.render_json()) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(v["summary"]["widening"], 1);
    assert_eq!(v["summary"]["narrowing"], 1);
}

// ------------------------------------------------ property test

const USERS: [&str; 3] = ["alice", "bob", "#1000"];
const GROUPS: [&str; 2] = ["ops", "#50"];
const TARGETS: [&str; 3] = ["root", "#0", "www-data"];
const PATHS: [&str; 2] = ["/bin/ls", "/bin/sh"];
const WORDS: [&str; 2] = ["a", "b"];

fn principal(s: &str) -> Principal {
    match s.strip_prefix('#') {
        Some(n) => Principal::Id(n.parse().unwrap_or(0)),
        None => Principal::Name(s.into()),
    }
}

fn spec() -> impl Strategy<Value = CommandSpec> {
    (
        0..PATHS.len(),
        0u8..3,
        proptest::collection::vec(proptest::sample::select(&WORDS[..]), 0..3),
    )
        .prop_map(|(p, k, w)| {
            let w: Vec<String> = w.into_iter().map(String::from).collect();
            CommandSpec {
                path: PATHS[p].into(),
                args: match k {
                    0 => Args::None,
                    1 if !w.is_empty() => Args::Exact(w),
                    _ => Args::Prefix(w),
                },
                digest: None,
                kind: Default::default(),
            }
        })
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        proptest::sample::subsequence(&USERS[..], 0..=3),
        proptest::sample::subsequence(&GROUPS[..], 0..=2),
        proptest::sample::subsequence(&TARGETS[..], 0..=3),
        proptest::collection::vec(spec(), 1..3),
        any::<bool>(),
        0u8..3,
    )
        .prop_map(|(u, g, t, commands, deny, auth)| {
            let mut users: Vec<Principal> = u.iter().map(|s| principal(s)).collect();
            if users.is_empty() && g.is_empty() {
                users.push(principal("alice"));
            }
            let mut run_as: Vec<Principal> = t.iter().map(|s| principal(s)).collect();
            if run_as.is_empty() && !deny {
                run_as.push(principal("root"));
            }
            Rule {
                name: String::new(),
                users,
                groups: g.iter().map(|s| principal(s)).collect(),
                run_as,
                commands,
                auth: [Auth::None, Auth::Password, Auth::Approval][usize::from(auth)],
                action: if deny { Action::Deny } else { Action::Allow },
                setenv: vec![],
                sandbox: None,
                caps: vec![],
                ..template_rule()
            }
        })
}

/// A parsed rule, so that fields added to the model get defaults.
fn template_rule() -> Rule {
    let p = pol("[[rule]]\nname = \"t\"\nusers = [\"x\"]\ncommands = [\"/x\"]\n");
    match p.rules.into_iter().next() {
        Some(r) => r,
        None => panic!("no rule"),
    }
}

fn policy() -> impl Strategy<Value = Policy> {
    proptest::collection::vec(rule(), 0..5).prop_map(|mut rules| {
        for (i, r) in rules.iter_mut().enumerate() {
            r.name = format!("r{i}");
        }
        Policy { rules, ..pol("") }
    })
}

/// Real file ids: each path its own file, all in /bin.
struct Real;
const BIN: FileId = FileId { dev: 8, ino: 0 };
impl FileIds for Real {
    fn id_of(&self, p: &Path) -> Option<FileId> {
        if p == Path::new("/bin") {
            return Some(BIN);
        }
        PATHS
            .iter()
            .position(|x| Path::new(x) == p)
            .map(|i| FileId {
                dev: 9,
                ino: i as u64,
            })
    }
}

fn callers() -> Vec<Caller> {
    vec![
        // alice is uid 1000 and in ops (#50): several principals at once.
        Caller {
            uid: 1000,
            gid: 1000,
            name: Some("alice".into()),
            gids: vec![1000, 50],
            group_names: vec!["alice".into(), "ops".into()],
        },
        Caller {
            uid: 1001,
            gid: 1001,
            name: Some("bob".into()),
            gids: vec![1001],
            group_names: vec!["bob".into()],
        },
        Caller {
            uid: 1002,
            gid: 50,
            name: Some("carol".into()),
            gids: vec![50],
            group_names: vec!["ops".into()],
        },
    ]
}

fn targets() -> Vec<Target> {
    vec![
        Target {
            uid: 0,
            gid: 0,
            name: "root".into(),
            gids: Vec::new(),
            group_names: Vec::new(),
        },
        Target {
            uid: 33,
            gid: 33,
            name: "www-data".into(),
            gids: Vec::new(),
            group_names: Vec::new(),
        },
        Target {
            uid: 7,
            gid: 7,
            name: "other".into(),
            gids: Vec::new(),
            group_names: Vec::new(),
        },
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    /// For random policies A, B and random requests: a decision that
    /// changes is reported by a change of the right direction that
    /// concerns the caller (by the engine's own matching) and the path.
    #[test]
    fn decision_changes_are_reported(
        a in policy(),
        b in policy(),
        reqs in proptest::collection::vec(
            (0usize..3, 0usize..3, 0..PATHS.len(),
             proptest::collection::vec(
                 prop_oneof![
                     proptest::sample::select(&WORDS[..]).prop_map(|w| w.as_bytes().to_vec()),
                     Just(b"c".to_vec()),
                     Just(vec![0xfe]),
                 ], 0..4)),
            1..12),
    ) {
        let d = diff(&a, &b);
        let cs = callers();
        let ts = targets();
        for (ci, ti, pi, args) in reqs {
            let c = &cs[ci];
            let t = &ts[ti];
            let cmd = Invoked {
                path: Path::new(PATHS[pi]),
                dir: BIN,
                file: FileId { dev: 9, ino: pi as u64 },
            };
            let req = Request { caller: c, target: t, command: cmd, args: &args };
            let da = decide(&a, &req, &Real).is_allow();
            let db = decide(&b, &req, &Real).is_allow();
            if da == db {
                continue;
            }
            let want = if db { Effect::Widening } else { Effect::Narrowing };
            let covered = d.changes.iter().any(|ch| {
                ch.effect == want
                    && ch.path.as_deref() == Some(Path::new(PATHS[pi]))
                    && ch.who.as_ref().is_some_and(|w| w.matches(c))
            });
            prop_assert!(covered, "{:?} {:?} {:?} {:?}: {} -> {} not reported:\n{}",
                c.name, t.name, PATHS[pi], args, da, db, d.render_text());
        }
    }
}

#[test]
fn run_as_groups_and_chdir_entries_widen_and_narrow() {
    let more =
        format!("{R}run_as_groups = [\"ops\"]\nchdir = [\"/srv/*\"]\nedit = [\"/etc/motd\"]\n");
    let l = lines(R, &more);
    for want in [
        "run_as_groups ops granted",
        "chdir /srv/* granted",
        "edit /etc/motd granted",
    ] {
        assert!(
            l.iter().any(|x| x.starts_with('+') && x.contains(want)),
            "{want}: {l:#?}"
        );
    }
    let l = lines(&more, R);
    for want in ["run_as_groups ops revoked", "chdir /srv/* revoked"] {
        assert!(
            l.iter().any(|x| x.starts_with('-') && x.contains(want)),
            "{want}: {l:#?}"
        );
    }
    assert!(diff(&pol(&more), &pol(&more)).changes.is_empty());
}
