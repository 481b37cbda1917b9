use super::*;

fn imp(text: &str) -> Result<Imported, ImportError> {
    import_str(
        text,
        "sudoers",
        &Options {
            hostname: "bdhost".to_string(),
        },
    )
}

#[test]
fn splits_are_all_groupings() {
    let w: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let mut s = splits(&w);
    s.sort();
    assert_eq!(s.len(), 4);
    assert!(s.contains(&vec!["a b c".to_string()]));
    assert!(s.contains(&vec!["a".to_string(), "b c".to_string()]));
}

#[test]
fn simple_and_loads() {
    let i = imp("alice ALL = (root) NOPASSWD: /usr/bin/id, /usr/bin/ls \"\"\n").unwrap();
    assert!(i.toml.contains("\"/usr/bin/id *\""), "{}", i.toml);
    assert!(i.toml.contains("\"/usr/bin/ls\""), "{}", i.toml);
    assert!(i.toml.contains("auth = \"none\""));
    assert_eq!(i.rules, 1);
}

#[test]
fn negation_never_dropped() {
    assert!(imp("alice ALL = /usr/bin/ls, !ALL\n").is_err());
    assert!(imp("alice ALL = /usr/bin/ls, !/usr/bin/*\n").is_err());
    assert!(imp("alice ALL = /usr/bin/ls, !NOPE\n").is_err());
    // A line not understood with a '!' refuses.
    assert!(imp("alice ALL = (root /usr/bin/ls, !/usr/bin/ls /root\n").is_err());
    let i = imp("alice ALL = /usr/bin/ls, !/usr/bin/ls a b\n").unwrap();
    assert!(i.toml.contains("\"/usr/bin/ls \\\"a b\\\"\""), "{}", i.toml);
}

#[test]
fn report_has_a_row_per_line() {
    let i = imp(
        "Defaults env_reset\nDefaults:alice use_pty\nCmnd_Alias X = /usr/bin/id\n\
             %sudo ALL = (ALL:ALL) ALL\nbob ALL = (root) /usr/bin/id, /usr/sbin/service*\n\
             carol ALL = NOEXEC: /usr/bin/less\n",
    )
    .unwrap();
    let rows: Vec<(u32, LineOutcome)> = i.lines.iter().map(|r| (r.line, r.outcome)).collect();
    assert_eq!(
        rows,
        vec![
            (1, LineOutcome::Mapped),
            (2, LineOutcome::Mapped),
            (3, LineOutcome::Mapped),
            // (ALL:ALL): run_as and run_as_groups ALL, nothing lost.
            (4, LineOutcome::Mapped),
            (5, LineOutcome::Narrowed),
            (6, LineOutcome::Narrowed),
        ]
    );
    let t = i.report_table();
    assert!(t.contains("sudoers:4  mapped      sudoers-L4-sudo"), "{t}");
    assert!(i.toml.contains("run_as_groups = [\"ALL\"]"), "{}", i.toml);
    assert!(t.contains("- tag NOEXEC"), "{t}");
    assert!(t.contains("use_pty"), "{t}");
    assert!(
        t.ends_with("6 lines: 4 mapped, 2 narrowed, 0 not mapped; 3 rules\n"),
        "{t}"
    );
}

#[test]
fn timestamp_timeout_in_minutes() {
    let i = imp("Defaults timestamp_timeout=15\nalice ALL = /usr/bin/id\n").unwrap();
    assert!(
        i.toml.contains("timestamp_timeout = \"900s\""),
        "{}",
        i.toml
    );
    let i = imp("Defaults timestamp_timeout=0.5\n").unwrap();
    assert!(i.toml.contains("timestamp_timeout = \"30s\""), "{}", i.toml);
    // Never expiring: not mapped (the default applies).
    let i = imp("Defaults timestamp_timeout=-1\n").unwrap();
    assert!(!i.toml.contains("\ntimestamp_timeout ="), "{}", i.toml);
    assert_eq!(i.warnings.len(), 1);
}

#[test]
fn noexec_is_never_dropped() {
    let i = imp("alice ALL = (root) NOEXEC: /usr/bin/less /var/log/syslog\nbob ALL = (root) INTERCEPT: ALL\n")
        .unwrap();
    assert_eq!(i.rules, 2, "{}", i.toml);
    let p = parse::parse_main(&i.toml, Path::new("x.toml")).unwrap();
    assert!(
        p.rules.iter().all(|r| r.session.noexec == Some(true)),
        "{}",
        i.toml
    );
    for tag in ["tag NOEXEC", "tag INTERCEPT"] {
        assert!(
            i.warnings.iter().any(|w| w.to_string().contains(tag)),
            "{tag}: {:?}",
            i.warnings
        );
    }
    assert!(i.lines.iter().all(|l| l.outcome == LineOutcome::Narrowed));
    // Defaults noexec, global and scoped, are never dropped either: a
    // scope that can't be mapped makes noexec policy-wide (narrower).
    let i = imp("Defaults noexec\nalice ALL = (root) /usr/bin/id\n").unwrap();
    assert!(i.toml.contains("[defaults]\nnoexec = true\n"), "{}", i.toml);
    let i = imp("Defaults!/usr/bin/i* noexec\nalice ALL = (root) /usr/bin/id\n").unwrap();
    assert!(i.toml.contains("[defaults]\nnoexec = true\n"), "{}", i.toml);
    let i = imp("Defaults:!bob requiretty\nalice ALL = (root) /usr/bin/id\n").unwrap();
    assert!(i.toml.contains("require_tty = true\n"), "{}", i.toml);
    // EXEC: noexec = false, over a noexec default (sudo: the tag wins).
    let i = imp("Defaults:alice noexec\nalice ALL = (root) EXEC: /usr/bin/id\n").unwrap();
    assert_eq!(i.rules, 1);
    assert!(i.toml.contains("noexec = false\n"), "{}", i.toml);
}

#[test]
fn all_command_and_target_mapped() {
    let i = imp("%sudo ALL = (ALL:ALL) ALL\n").unwrap();
    assert_eq!(i.rules, 1);
    assert!(i.toml.contains("run_as = [\"ALL\"]"), "{}", i.toml);
    assert!(i.toml.contains("  \"ALL\",\n"), "{}", i.toml);
    assert!(i.toml.contains("auth = \"password\""), "{}", i.toml);
    // ALL stays a rule of its own next to named commands.
    let i = imp("bob ALL = (root) /usr/bin/id, ALL\n").unwrap();
    assert_eq!(i.rules, 2, "{}", i.toml);
    crate::policy::parse::parse_main(&i.toml, Path::new("/i.toml")).unwrap();
    // A group target, and a wildcard path that is not a directory.
    let i = imp("alice ALL = (%www) /usr/bin/id\nbob ALL = /usr/sbin/service*\n").unwrap();
    assert!(i.toml.contains("run_as = [\"%www\"]"), "{}", i.toml);
    assert!(
        i.warnings
            .iter()
            .any(|w| w.to_string().contains("can't be matched by file identity")),
        "{:?}",
        i.warnings
    );
}

#[test]
fn prefix_needs_args() {
    let i = imp("alice ALL = /usr/bin/systemctl status *\n").unwrap();
    assert!(i.toml.contains("\"/usr/bin/systemctl status *\""));
    assert!(i.toml.contains("action = \"deny\""));
    assert_eq!(i.rules, 2);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
    /// Hostile text never panics; whatever is imported loads.
    #[test]
    fn hostile_text_never_panics(text in "[a-zA-Z0-9 /!%#@=:,()\\\"*?\\[\n\t+.^$_-]{0,120}") {
        if let Ok(i) = imp(&text) {
            proptest::prop_assert!(parse::parse_main(&i.toml, Path::new("x.toml")).is_ok());
        }
    }
}

/// sudo's runas groups map to run_as_groups (what `bdexec -g` may name);
/// a negated one can't be written and is reported.
#[test]
fn runas_groups_map_to_run_as_groups() {
    let i = imp("alice ALL = (root : ops, #120) /usr/bin/id\n").unwrap();
    assert!(
        i.toml
            .contains("run_as = [\"root\"]\nrun_as_groups = [\"ops\", \"#120\"]\n"),
        "{}",
        i.toml
    );
    crate::policy::parse::parse_main(&i.toml, std::path::Path::new("p.toml")).expect("loads");
    let i = imp("Runas_Alias G = ops, wheel\nalice ALL = (root : G) /usr/bin/id\n").unwrap();
    assert!(
        i.toml.contains("run_as_groups = [\"ops\", \"wheel\"]"),
        "{}",
        i.toml
    );
    let i = imp("alice ALL = (root : !ops) /usr/bin/id\n").unwrap();
    assert!(!i.toml.contains("run_as_groups"), "{}", i.toml);
    assert!(i.toml.contains("negated runas group"), "{}", i.toml);
}
