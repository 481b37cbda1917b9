use super::*;
use crate::policy::PolicyErrorKind;
use crate::policy::model::{Args, LandlockSpec, SeccompAction, SeccompSpec};

mod sandbox;

const GOOD: &str = r##"
version = 1

[defaults]                        # every key optional
secure_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
env_keep = ["TERM", "LANG", "LC_*"]
umask = "0022"
setenv = { ZED = "z", EDITOR = "vi" }

[[rule]]
name = "restart-web"
users = ["alice", "#1500"]
groups = ["ops"]
run_as = ["root", "www-data"]
commands = [
  "/usr/bin/systemctl restart nginx.service",
  "/usr/bin/journalctl *",
  "/usr/bin/id",
  { cmd = "/usr/bin/tool a", digest = "blake3:00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF" },
]
auth = "none"

[[rule]]
name = "no-shells"
groups = ["#100"]
commands = ['/bin/sh *']
action = "deny"
"##;

fn main_ok(src: &str) -> Policy {
    match parse_main(src, Path::new("/etc/belladonna/policy.toml")) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn main_err(src: &str) -> String {
    match parse_main(src, Path::new("/p.toml")) {
        Ok(p) => panic!("parsed: {p:?}"),
        Err(e) => {
            let s = e.to_string();
            assert!(!s.contains('\n'));
            s
        }
    }
}

fn rule_src(body: &str) -> String {
    format!("version = 1\n[[rule]]\n{body}\n")
}

#[test]
fn parses_the_design_example() {
    let p = main_ok(GOOD);
    assert_eq!(p.version, 1);
    assert_eq!(p.defaults.umask, 0o022);
    assert_eq!(p.defaults.env_keep, vec!["TERM", "LANG", "LC_*"]);
    assert_eq!(p.defaults.secure_path.len(), 6);
    assert_eq!(
        p.defaults.setenv,
        vec![("EDITOR".into(), "vi".into()), ("ZED".into(), "z".into())]
    );
    assert_eq!(p.rules.len(), 2);
    let r = &p.rules[0];
    assert_eq!(r.name, "restart-web");
    assert_eq!(
        r.users,
        vec![Principal::Name("alice".into()), Principal::Id(1500)]
    );
    assert_eq!(r.groups, vec![Principal::Name("ops".into())]);
    assert_eq!(
        r.run_as,
        vec![
            Principal::Name("root".into()),
            Principal::Name("www-data".into())
        ]
    );
    assert_eq!(r.auth, Auth::None);
    assert_eq!(r.action, Action::Allow);
    assert_eq!(r.commands.len(), 4);
    assert_eq!(
        r.commands[0].args,
        Args::Exact(vec!["restart".into(), "nginx.service".into()])
    );
    assert_eq!(r.commands[1].args, Args::Prefix(vec![]));
    assert_eq!(r.commands[2].args, Args::None);
    let d = r.commands[3].digest.unwrap_or_default();
    assert_eq!(d[0], 0x00);
    assert_eq!(d[1], 0x11);
    assert_eq!(d[31], 0xff);
    assert_eq!(r.origin.line, 10);
    assert_eq!(r.origin.file, PathBuf::from("/etc/belladonna/policy.toml"));
    let r = &p.rules[1];
    assert_eq!(r.action, Action::Deny);
    assert!(r.run_as.is_empty());
    assert_eq!(r.auth, Auth::Password);
    assert_eq!(r.groups, vec![Principal::Id(100)]);
}

/// monitor, use_pty, require_tty: booleans in a rule or [defaults],
/// the rule's winning; absent ones leave the canonical hash alone.
#[test]
fn session_keys() {
    let rule = "[[rule]]\nname = \"r\"\nusers = [\"a\"]\ncommands = [\"/x\"]\n";
    let p = main_ok(&format!(
        "version = 1\n[defaults]\nmonitor = true\nrequire_tty = true\n{rule}use_pty = false\nmonitor = false\n"
    ));
    let s = p.rules[0].session.or(p.defaults.session);
    assert_eq!(
        (s.monitor, s.use_pty, s.require_tty),
        (Some(false), Some(false), Some(true))
    );
    let plain = main_ok(&format!("version = 1\n{rule}"));
    assert!(plain.rules[0].session.is_unset() && plain.defaults.session.is_unset());
    let json = serde_json::to_string(&plain).expect("json");
    assert!(!json.contains("session"), "{json}");
    let e = main_err(&format!("version = 1\n{rule}monitor = \"yes\"\n"));
    assert!(e.contains("boolean"), "{e}");
    // noexec: from [defaults], a rule's own false wins; not a boolean:
    // an error with its position.
    let p = main_ok(&format!(
        "version = 1\n[defaults]\nnoexec = true\n{rule}[[rule]]\nname = \"s\"\nusers = [\"a\"]\ncommands = [\"/y\"]\nnoexec = false\n"
    ));
    let eff: Vec<Option<bool>> = p
        .rules
        .iter()
        .map(|r| r.session.or(p.defaults.session).noexec)
        .collect();
    assert_eq!(eff, vec![Some(true), Some(false)]);
    let e = main_err(&format!("version = 1\n{rule}noexec = 1\n"));
    assert!(e.contains("boolean") && e.contains(":6:10"), "{e}");
}

#[test]
fn defaults_when_omitted() {
    let p = main_ok(&rule_src(
        "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/true\"]",
    ));
    assert_eq!(p.defaults, Defaults::default());
    assert_eq!(p.rules[0].run_as, vec![Principal::Name("root".into())]);
    assert_eq!(p.rules[0].auth, Auth::Password);
    assert_eq!(p.rules[0].action, Action::Allow);
}

#[test]
fn unknown_key_names_line_and_column() {
    let s = main_err("version = 1\n[[rule]]\nname = \"a\"\n  colour = \"red\"\n");
    assert!(s.starts_with("/p.toml:4:3: "), "{s}");
    assert!(s.contains("colour"), "{s}");
    let s = main_err("version = 1\nfoo = 2\n");
    assert!(s.starts_with("/p.toml:2:1: "), "{s}");
    let s = main_err("version = 1\n[defaults]\nsecure_pth = \"/bin\"\n");
    assert!(s.starts_with("/p.toml:3:1: "), "{s}");
    let s = main_err(&rule_src(
        "name = \"a\"\nusers = [\"u\"]\ncommands = [{ cmd = \"/bin/x\", sha = \"x\" }]",
    ));
    assert!(s.starts_with("/p.toml:5:"), "{s}");
    assert!(s.contains("sha"), "{s}");
}

#[test]
fn syntax_error_has_position() {
    let s = main_err("version = 1\n[[rule]\n");
    assert!(s.starts_with("/p.toml:2:"), "{s}");
    let s = main_err("version = 1\nversion = 1\n");
    assert!(s.starts_with("/p.toml:2:"), "{s}");
}

#[test]
fn wrong_types() {
    let s = main_err(&rule_src(
        "name = \"a\"\nusers = \"alice\"\ncommands = [\"/bin/x\"]",
    ));
    assert!(s.starts_with("/p.toml:4:9: "), "{s}");
    let s = main_err(&rule_src("name = \"a\"\nusers = [\"u\"]\ncommands = [3]"));
    assert!(s.starts_with("/p.toml:5:13: "), "{s}");
    let s = main_err("version = \"1\"\n");
    assert!(s.starts_with("/p.toml:1:11: "), "{s}");
}

#[test]
fn missing_name() {
    let s = main_err(&rule_src("users = [\"u\"]\ncommands = [\"/bin/x\"]"));
    assert!(s.starts_with("/p.toml:2:1: "), "{s}");
    assert!(s.contains("no `name`"), "{s}");
    let s = main_err(&rule_src(
        "name = \"\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]",
    ));
    assert!(s.starts_with("/p.toml:3:8: "), "{s}");
}

#[test]
fn missing_users_or_commands() {
    let s = main_err(&rule_src("name = \"a\"\ncommands = [\"/bin/x\"]"));
    assert!(s.contains("no `users` and no `groups`"), "{s}");
    let s = main_err(&rule_src(
        "name = \"a\"\nusers = []\ngroups = []\ncommands = [\"/bin/x\"]",
    ));
    assert!(s.contains("no `users` and no `groups`"), "{s}");
    let s = main_err(&rule_src("name = \"a\"\nusers = [\"u\"]"));
    assert!(s.contains("no `commands`"), "{s}");
    let s = main_err(&rule_src("name = \"a\"\nusers = [\"u\"]\ncommands = []"));
    assert!(s.starts_with("/p.toml:5:12: "), "{s}");
    let s = main_err(&rule_src(
        "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\nrun_as = []",
    ));
    assert!(s.starts_with("/p.toml:6:10: "), "{s}");
}

#[test]
fn relative_command_path() {
    let s = main_err(&rule_src(
        "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/ok\", \"bin/x y\"]",
    ));
    assert!(s.starts_with("/p.toml:5:25: "), "{s}");
    assert!(s.contains("not absolute"), "{s}");
    let s = main_err(&rule_src(
        "name = \"a\"\nusers = [\"u\"]\ncommands = [{ cmd = \"x\" }]",
    ));
    assert!(s.starts_with("/p.toml:5:22: "), "{s}");
}

#[test]
fn trailing_backslash_and_unterminated_quote() {
    let s = main_err(&rule_src(
        "name = \"a\"\nusers = [\"u\"]\ncommands = ['/bin/echo a\\']",
    ));
    assert!(s.contains("trailing backslash"), "{s}");
    assert!(s.starts_with("/p.toml:5:25: "), "{s}");
    let s = main_err(&rule_src(
        "name = \"a\"\nusers = [\"u\"]\ncommands = ['/bin/echo \"a b']",
    ));
    assert!(
        s.contains("unterminated") && s.starts_with("/p.toml:5:24: "),
        "{s}"
    );
    let s = main_err(&rule_src("name = \"a\"\nusers = [\"u\"]\ncommands = ['']"));
    assert!(s.contains("empty command"), "{s}");
}

#[test]
fn bad_ids() {
    for bad in [
        "#-1",
        "#4294967295",
        "#4294967296",
        "#",
        "#+1",
        "#1a",
        "# 1",
        "#99999999999",
    ] {
        let s = main_err(&rule_src(&format!(
            "name = \"a\"\nusers = [\"{bad}\"]\ncommands = [\"/bin/x\"]"
        )));
        assert!(s.starts_with("/p.toml:4:10: "), "{bad}: {s}");
        let s = main_err(&rule_src(&format!(
            "name = \"a\"\nusers = [\"u\"]\nrun_as = [\"{bad}\"]\ncommands = [\"/bin/x\"]"
        )));
        assert!(s.starts_with("/p.toml:5:11: "), "{bad}: {s}");
    }
    assert_eq!(
        parse_principal("#4294967294"),
        Ok(Principal::Id(4294967294))
    );
    assert_eq!(parse_principal("#0"), Ok(Principal::Id(0)));
}

#[test]
fn bad_names() {
    for bad in [
        "a/b", "", "a b", "a:b", "a\\tb", "a\\u0000", "%wheel", "+net",
    ] {
        let s = main_err(&rule_src(&format!(
            "name = \"a\"\ngroups = [\"{bad}\"]\ncommands = [\"/bin/x\"]"
        )));
        assert!(s.starts_with("/p.toml:4:11: "), "{bad:?}: {s}");
    }
    assert!(
        main_err(&rule_src(
            "name = \"a\"\nusers = [\"../x\"]\ncommands = [\"/bin/x\"]"
        ))
        .contains("'/'")
    );
}

#[test]
fn bad_digest() {
    for bad in [
        "blake3:00",
        "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        "blake3:g0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        "blake3:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00",
        "blake3:é0112233445566778899aabbccddeeff00112233445566778899aabbccddeef",
    ] {
        let s = main_err(&rule_src(&format!(
            "name = \"a\"\nusers = [\"u\"]\ncommands = [{{ cmd = \"/bin/x\", digest = \"{bad}\" }}]"
        )));
        assert!(s.starts_with("/p.toml:5:40: "), "{bad}: {s}");
    }
}

#[test]
fn bad_defaults() {
    let s = main_err("version = 1\n[defaults]\numask = \"1000\"\n");
    assert!(
        s.starts_with("/p.toml:3:9: ") && s.contains("out of range"),
        "{s}"
    );
    for bad in ["", "0o22", "8", "00022", "-1"] {
        let s = main_err(&format!("version = 1\n[defaults]\numask = \"{bad}\"\n"));
        assert!(s.starts_with("/p.toml:3:9: "), "{bad}: {s}");
    }
    assert!(main_err("version = 1\n[defaults]\numask = 18\n").starts_with("/p.toml:3:9: "));
    assert_eq!(
        main_ok("version = 1\n[defaults]\numask = \"777\"\n")
            .defaults
            .umask,
        0o777
    );
    assert_eq!(
        main_ok("version = 1\n[defaults]\numask = \"0\"\n")
            .defaults
            .umask,
        0
    );
    for bad in [
        "",
        "usr/bin",
        "/bin:",
        "/bin::/sbin",
        "/usr/../bin",
        "/usr/./bin",
    ] {
        let s = main_err(&format!(
            "version = 1\n[defaults]\nsecure_path = \"{bad}\"\n"
        ));
        assert!(s.starts_with("/p.toml:3:15: "), "{bad}: {s}");
    }
    for bad in ["1X", "A-B", "*", "LD_PRELOAD", "LD_*", "A B", ""] {
        let s = main_err(&format!(
            "version = 1\n[defaults]\nenv_keep = [\"TERM\", \"{bad}\"]\n"
        ));
        assert!(s.starts_with("/p.toml:3:21: "), "{bad}: {s}");
    }
    for bad in ["LD_PRELOAD", "BASH_FUNC_x", "1A", "\"A B\""] {
        let s = main_err(&format!(
            "version = 1\n[defaults]\nsetenv = {{ {bad} = \"x\" }}\n"
        ));
        assert!(s.starts_with("/p.toml:3:12: "), "{bad}: {s}");
    }
    let s = main_err("version = 1\n[defaults]\nsetenv = { A = \"x\\u0000\" }\n");
    assert!(s.starts_with("/p.toml:3:16: "), "{s}");
    let s = main_err(&rule_src(
        "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\nsetenv = { LD_X = \"1\" }",
    ));
    assert!(s.starts_with("/p.toml:6:12: "), "{s}");
}

#[test]
fn bad_enums() {
    let s = main_err(&rule_src(
        "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\nauth = \"nopasswd\"",
    ));
    assert!(s.starts_with("/p.toml:6:8: "), "{s}");
    let s = main_err(&rule_src(
        "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\naction = \"permit\"",
    ));
    assert!(s.starts_with("/p.toml:6:10: "), "{s}");
}

#[test]
fn version_rules() {
    let s = main_err("[defaults]\n");
    assert_eq!(
        s,
        "/p.toml: missing `version = 1` (required in the main policy file)"
    );
    let s = main_err("version = 2\n");
    assert!(s.starts_with("/p.toml:1:11: "), "{s}");
    let frag = parse_policy(
        "[[rule]]\nname = \"d\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n",
        Path::new("/d.toml"),
    );
    assert!(frag.is_ok());
    let e = parse_policy("version = 3\n", Path::new("/d.toml"));
    assert!(e.is_err());
}

fn frag(src: &str, file: &str) -> PolicyFragment {
    match parse_policy(src, Path::new(file)) {
        Ok(f) => f,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn merge_order_and_dropin_defaults() {
    let main = frag(
        &rule_src("name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]"),
        "/m.toml",
    );
    let d1 = frag(
        "[[rule]]\nname = \"b\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n",
        "/d/10.toml",
    );
    let d2 = frag(
        "version = 1\n[[rule]]\nname = \"c\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n",
        "/d/20.toml",
    );
    let p = match merge(main.clone(), vec![d1.clone(), d2]) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    let names: Vec<_> = p.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(p.rules[1].origin.file, PathBuf::from("/d/10.toml"));

    let bad = frag(
        "version = 1\n\n  [defaults]\numask = \"0077\"\n",
        "/d/30.toml",
    );
    let e = merge(main, vec![d1, bad])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.starts_with("/d/30.toml:3:3: [defaults] is only allowed"),
        "{e}"
    );
}

#[test]
fn duplicate_names_across_files() {
    let main = frag(
        &rule_src("name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]"),
        "/m.toml",
    );
    let d = frag(
        "\n[[rule]]\nname = \"a\"\nusers = [\"v\"]\ncommands = [\"/bin/y\"]\n",
        "/d/10.toml",
    );
    let e = merge(main, vec![d])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        e,
        "/d/10.toml:2:1: duplicate rule name \"a\" (first defined at /m.toml:2:1)"
    );
    let s = main_err(
        "version = 1\n[[rule]]\nname = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n[[rule]]\nname = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n",
    );
    assert!(s.starts_with("/p.toml:6:1: duplicate rule name"), "{s}");
}

#[test]
fn error_kind_and_columns_count_chars() {
    let e = parse_main("version = 1\n# é\n\"é\" = 1\n", Path::new("/p.toml")).err();
    let e = e.map(|e| (e.kind, e.pos));
    assert_eq!(e, Some((PolicyErrorKind::Invalid, Some((3, 1)))));
    assert_eq!(line_col("aé\nxyz", 5), (2, 2));
    assert_eq!(line_col("aé", 2), (1, 2));
    assert_eq!(line_col("", 10), (1, 1));
    // The indexed version agrees with the plain one everywhere.
    let src = "ab\ncé\n\nxyz\n";
    let ctx = Ctx::new(src, Path::new("t"));
    for off in 0..=src.len() + 2 {
        assert_eq!(ctx.pos(off), line_col(src, off), "offset {off}");
    }
}

#[test]
fn rule_name_control_chars() {
    let s = main_err(&rule_src(
        "name = \"a\\u001b[2J\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]",
    ));
    assert!(s.starts_with("/p.toml:3:8: "), "{s}");
}

proptest::proptest! {
    #[test]
    fn parser_never_panics(s in "\\PC{0,200}") {
        let _ = parse_policy(&s, Path::new("/f.toml"));
    }
}
