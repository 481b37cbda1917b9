use super::*;
use crate::policy::parse::parse_main;

fn pol(rules: &str) -> Policy {
    match parse_main(&format!("version = 1\n{rules}"), Path::new("/p.toml")) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn shells_without_auth_and_with_free_args() {
    let p = pol(
        "[[rule]]\nname = \"a\"\nusers = [\"u\"]\nauth = \"none\"\ncommands = [\"/bin/bash\", \"/usr/bin/python3.12 x.py\", \"/usr/bin/id\", \"/usr/bin/find /var\"]\n\
             [[rule]]\nname = \"b\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/less *\", \"/usr/bin/find / *\", \"/usr/bin/journalctl *\"]\n\
             [[rule]]\nname = \"c\"\nusers = [\"u\"]\nauth = \"none\"\naction = \"deny\"\ncommands = [\"/bin/sh *\"]\n",
    );
    let all = lint(&p);
    // The deny rule "c" guards nothing an allow rule grants: one INFO.
    assert_eq!(
        all.iter().filter(|f| f.severity == Severity::Info).count(),
        1,
        "{all:#?}"
    );
    let f: Vec<Finding> = all
        .into_iter()
        .filter(|f| f.severity != Severity::Info)
        .collect();
    let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
    assert_eq!(f.len(), 4, "{msgs:#?}");
    assert!(lint(&pol("")).is_empty());
    assert!(f.iter().all(|f| f.severity == Severity::Warn));
    assert!(
        msgs[0].starts_with("/p.toml:2:1: WARN: rule \"a\": \"/bin/bash\""),
        "{}",
        msgs[0]
    );
    assert!(msgs[1].contains("python3.12"), "{}", msgs[1]);
    assert!(
        msgs[2].contains("/usr/bin/less *") && msgs[2].contains("any further"),
        "{}",
        msgs[2]
    );
    assert!(msgs[3].contains("/usr/bin/find / *"), "{}", msgs[3]);
}

#[test]
fn deny_with_fixed_arguments_is_bypassable() {
    let p = pol(
        "[[rule]]\nname = \"d\"\nusers = [\"u\"]\naction = \"deny\"\ncommands = [\"/bin/sh\", \"/bin/rm -rf /\", \"/bin/ls *\"]\n",
    );
    let f: Vec<Finding> = lint(&p)
        .into_iter()
        .filter(|f| f.severity == Severity::Warn)
        .collect();
    let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
    assert_eq!(f.len(), 2, "{msgs:#?}");
    assert!(msgs[0].contains("write \"/bin/sh *\""), "{}", msgs[0]);
    assert!(msgs[1].contains("/bin/rm -rf /"), "{}", msgs[1]);
}

#[test]
fn severity_display() {
    assert_eq!(Severity::Error.to_string(), "ERROR");
    assert_eq!(Severity::Warn.to_string(), "WARN");
    assert_eq!(Severity::Info.to_string(), "INFO");
    assert!(Severity::Error > Severity::Warn && Severity::Warn > Severity::Info);
    let f = Finding {
        severity: Severity::Info,
        origin: None,
        message: "x\ny".into(),
    };
    assert_eq!(f.to_string(), "INFO: x\\ny");
}

#[test]
fn all_and_directories_are_visible() {
    let p = pol(
        "[[rule]]\nname = \"admins\"\ngroups = [\"sudo\"]\nrun_as = [\"ALL\"]\ncommands = [\"ALL\"]\n\
             [[rule]]\nname = \"open\"\nusers = [\"u\"]\nauth = \"none\"\ncommands = [\"ALL\"]\n\
             [[rule]]\nname = \"plugins\"\nusers = [\"u\"]\nauth = \"none\"\ncommands = [\"/usr/lib/nagios/plugins/ *\"]\n",
    );
    let f = lint(&p);
    let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
    let has = |sev: &str, rule: &str, what: &str| {
        msgs.iter()
            .any(|m| m.contains(sev) && m.contains(&format!("rule {rule:?}")) && m.contains(what))
    };
    assert!(has("INFO", "admins", "root-equivalent"), "{msgs:#?}");
    assert!(has("INFO", "admins", "auth = \"password\""), "{msgs:#?}");
    assert!(has("WARN", "open", "root-equivalent"), "{msgs:#?}");
    assert!(has("WARN", "open", "auth = \"none\""), "{msgs:#?}");
    assert!(
        has("WARN", "plugins", "any command directly in"),
        "{msgs:#?}"
    );
    assert!(!msgs.iter().any(|m| m.contains("ERROR")), "{msgs:#?}");
}

#[test]
fn deny_with_fixed_arguments_under_all_is_ineffective() {
    let p = pol(
        "[[rule]]\nname = \"admins\"\nusers = [\"u\"]\nrun_as = [\"ALL\"]\ncommands = [\"ALL\"]\n\
             [[rule]]\nname = \"d\"\nusers = [\"u\"]\nrun_as = [\"root\"]\naction = \"deny\"\ncommands = [\"/bin/sh\", \"/usr/bin/su *\"]\n",
    );
    let msgs: Vec<String> = lint(&p).iter().map(|f| f.to_string()).collect();
    assert!(
        msgs.iter().any(|m| m.contains("ERROR")
            && m.contains("ineffective deny")
            && m.contains("\"/bin/sh\"")
            && m.contains("\"ALL\"")),
        "{msgs:#?}"
    );
    // The deny of su with any arguments works: no ERROR, and it guards
    // something ALL grants (no "matches nothing" INFO).
    assert!(
        !msgs
            .iter()
            .any(|m| m.contains("/usr/bin/su *") && m.contains("ERROR")),
        "{msgs:#?}"
    );
    assert!(
        !msgs.iter().any(|m| m.contains("matches nothing")),
        "{msgs:#?}"
    );
}

#[test]
fn command_directories_on_disk() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("plugins");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("check_a"), "#!/bin/sh\n").expect("write");
    let policy = pol(&format!(
        "[[rule]]\nname = \"d\"\nusers = [\"u\"]\ncommands = [\"{}/ *\"]\n",
        dir.display()
    ));
    let errors = |policy: &Policy| {
        lint_paths(policy)
            .into_iter()
            .filter(|f| f.message.contains("command directory"))
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
    };
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let m = errors(&policy);
    assert!(
        m.iter()
            .any(|m| m.contains("ERROR") && m.contains("writable by no one else")),
        "{m:#?}"
    );
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::os::unix::fs::symlink("/bin/sh", dir.join("sh")).expect("symlink");
    let m = errors(&policy);
    if nix::unistd::geteuid().is_root() {
        assert!(!m.iter().any(|m| m.contains("ERROR")), "{m:#?}");
        assert!(
            m.iter()
                .any(|m| m.contains("WARN") && m.contains("symlink \"sh\"")),
            "{m:#?}"
        );
    }
}

#[test]
fn unknown_group_target() {
    let p = pol(
        "[[rule]]\nname = \"g\"\nusers = [\"root\"]\nrun_as = [\"%nosuchgroup-belladonna\", \"%root\"]\ncommands = [\"/usr/bin/id\"]\n",
    );
    let m: Vec<String> = lint_accounts(&p).iter().map(|f| f.to_string()).collect();
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(
        m[0].contains("ERROR") && m[0].contains("unknown run_as group \"nosuchgroup-belladonna\""),
        "{m:#?}"
    );
}

#[test]
fn paths_on_disk() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let exe = tmp.path().join("tool");
    std::fs::write(&exe, "#!/bin/sh\n").expect("write");
    let p = pol(&format!(
        "[[rule]]\nname = \"a\"\nusers = [\"u\"]\ncommands = [\"/nonexistent/belladonna-x\", \"{0}\", \"{0} *\", \"/usr\"]\n",
        exe.display()
    ));
    let f = lint_paths(&p);
    let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
    assert!(
        msgs[0].contains("ERROR") && msgs[0].contains("/nonexistent/belladonna-x"),
        "{msgs:#?}"
    );
    // The temp dir's parent (/tmp) is world-writable: a WARN, checked
    // once for the two entries naming the same file.
    assert!(
        msgs.iter()
            .any(|m| m.contains("WARN") && m.contains("writable by group or others")),
        "{msgs:#?}"
    );
    let tmp_warnings = msgs
        .iter()
        .filter(|m| m.contains(&format!("command {} ", exe.display())))
        .count();
    assert!(tmp_warnings <= 2, "{msgs:#?}");
    assert!(
        msgs.iter().any(|m| m.contains("ERROR")
            && m.contains("/usr is a directory")
            && m.contains("\"/usr/ *\"")),
        "{msgs:#?}"
    );
    // A root-owned system binary gives no finding.
    let ok = pol("[[rule]]\nname = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/sh -c x\"]\n");
    if nix::unistd::geteuid().is_root()
        || std::fs::metadata("/bin/sh")
            .map(|m| m.uid() == 0)
            .unwrap_or(false)
    {
        assert!(lint_paths(&ok).is_empty(), "{:?}", lint_paths(&ok));
    }
}
#[test]
fn sandbox_findings() {
    let p = pol("[defaults]\nsandbox = \"dflt\"\n\
             [sandbox.dflt]\n\
             [sandbox.wide.landlock]\nread = [\"/\"]\nexec = [\"/\", \"/usr/bin\"]\n\
             write = [\"/etc\", \"/usr\", \"/lib64\", \"/lib\", \"/boot\", \"/root\", \"/bin\", \"/sbin\", \"/\", \"/var/log\", \"/etc/nginx\", \"/libexec/x\"]\n\
             [sandbox.learn.seccomp]\naction = \"log\"\n\
             [sandbox.unused.seccomp]\ndeny = [\"@mount\"]\n\
             [[rule]]\nname = \"a\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/id\"]\nsandbox = \"wide\"\n\
             caps = [\"net_bind_service\", \"sys_admin\", \"CAP_DAC_OVERRIDE\", \"kill\"]\n\
             [[rule]]\nname = \"b\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/id\"]\nsandbox = \"learn\"\n");
    // Rule "b" repeats rule "a"'s entry for the same user: one INFO,
    // counted apart from the sandbox findings.
    let all = lint(&p);
    assert_eq!(
        all.iter()
            .filter(|f| f.message.contains("never decides"))
            .count(),
        1,
        "{all:#?}"
    );
    let f: Vec<Finding> = all
        .into_iter()
        .filter(|f| !f.message.contains("never decides"))
        .collect();
    let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
    let count = |needle: &str| msgs.iter().filter(|m| m.contains(needle)).count();
    assert_eq!(
        count("WARN: sandbox \"wide\": write access to"),
        9,
        "{msgs:#?}"
    );
    for broad in [
        "/etc ", "/usr ", "/lib64 ", "/lib ", "/boot ", "/root ", "/bin ", "/sbin ", "/ ",
    ] {
        assert_eq!(
            count(&format!("write access to {broad}")),
            1,
            "{broad}: {msgs:#?}"
        );
    }
    assert_eq!(count("read access to / "), 1, "{msgs:#?}");
    assert_eq!(count("exec access to / "), 1, "{msgs:#?}");
    assert_eq!(
        count("/p.toml:9:10: WARN: sandbox \"learn\": seccomp action \"log\""),
        1,
        "{msgs:#?}"
    );
    assert_eq!(
        count("INFO: sandbox \"unused\" is not used"),
        1,
        "{msgs:#?}"
    );
    assert_eq!(count("is not used"), 1, "{msgs:#?}");
    assert_eq!(
        count("WARN: rule \"a\": capability sys_admin is root-equivalent"),
        1
    );
    assert_eq!(count("capability dac_override is root-equivalent"), 1);
    assert_eq!(count("root-equivalent"), 2, "{msgs:#?}");
    // Rule "b" runs as root (no run_as) in "learn", which has no
    // Landlock table, so no scopes; rule "a"'s "wide" has the default.
    assert_eq!(
        count(
            "WARN: rule \"b\" runs as root in sandbox \"learn\" without the Landlock scope signal,abstract_unix"
        ),
        1,
        "{msgs:#?}"
    );
    assert_eq!(count("runs as root in sandbox"), 1, "{msgs:#?}");
    assert_eq!(f.len(), 9 + 2 + 1 + 1 + 2 + 1, "{msgs:#?}");
    let p = pol(
        "[sandbox.a.landlock]\nmin_abi = 3\nbind_tcp = [80]\nscope = [\"signal\"]\n\
             [sandbox.b.landlock]\nmin_abi = 6\nbind_tcp = [80]\nscope = [\"signal\"]\n\
             [[rule]]\nname = \"r\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/id\"]\nsandbox = \"a\"\n\
             [[rule]]\nname = \"s\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/id\"]\nsandbox = \"b\"\n",
    );
    let msgs: Vec<String> = lint(&p)
        .iter()
        .filter(|f| f.severity == Severity::Warn)
        .map(|f| f.to_string())
        .collect();
    // Both rules run as root with only the signal scope: WARN each.
    assert_eq!(msgs.len(), 4, "{msgs:#?}");
    for (i, r) in [(2, "r"), (3, "s")] {
        assert!(
            msgs[i].contains(&format!(
                "rule \"{r}\" runs as root in sandbox \"{}\" without the Landlock scope abstract_unix",
                if r == "r" { "a" } else { "b" }
            )),
            "{msgs:#?}"
        );
    }
    assert!(
        msgs[0].contains("\"a\": min_abi 3 does not cover bind_tcp (Landlock ABI 4)"),
        "{msgs:#?}"
    );
    assert!(
        msgs[1].contains("\"a\": min_abi 3 does not cover scope (Landlock ABI 6)"),
        "{msgs:#?}"
    );
    for cap in ROOT_EQUIVALENT_CAPS {
        assert_eq!(
            crate::policy::parse::normalize_cap(cap).as_deref(),
            Some(*cap)
        );
    }
}

/// A sandboxed root rule without both scopes: WARN; with the default
/// (no `scope`), with both listed, or for a non-root target: nothing.
#[test]
fn sandboxed_root_without_scopes() {
    let policy = |scope: &str, run_as: &str| {
        pol(&format!(
            "[sandbox.box.landlock]\nread = [\"/etc\"]\n{scope}\n\
                 [[rule]]\nname = \"r\"\nusers = [\"u\"]\nrun_as = [{run_as}]\n\
                 commands = [\"/usr/bin/id\"]\nsandbox = \"box\"\n"
        ))
    };
    let warns = |p: &Policy| -> Vec<String> {
        lint(p)
            .iter()
            .filter(|f| f.message.contains("runs as root in sandbox"))
            .map(|f| f.to_string())
            .collect()
    };
    for (scope, run_as, missing) in [
        ("scope = []", "\"root\"", Some("signal,abstract_unix")),
        (
            "scope = []",
            "\"#0\", \"bob\"",
            Some("signal,abstract_unix"),
        ),
        ("scope = [\"abstract_unix\"]", "\"root\"", Some("signal")),
        ("scope = [\"signal\"]", "\"root\"", Some("abstract_unix")),
        ("", "\"root\"", None),
        ("scope = [\"signal\", \"abstract_unix\"]", "\"root\"", None),
        ("scope = []", "\"bob\"", None),
    ] {
        let w = warns(&policy(scope, run_as));
        match missing {
            Some(m) => {
                assert_eq!(w.len(), 1, "{scope} {run_as}: {w:#?}");
                assert!(
                    w[0].contains(&format!("WARN: rule \"r\" runs as root in sandbox \"box\" without the Landlock scope {m}:")),
                    "{w:#?}"
                );
                assert!(w[0].contains("non-root user with `caps`"), "{w:#?}");
            }
            None => assert!(w.is_empty(), "{scope} {run_as}: {w:#?}"),
        }
    }
}

#[test]
fn sandbox_paths_on_disk() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).expect("mkdir");
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&dir, &link).expect("symlink");
    let real_tmp = std::fs::canonicalize(tmp.path()).expect("canonicalize");
    let p = pol(&format!(
        "[sandbox.s.landlock]\nread = [\"{0}/data\", \"{0}/link/x\", \"{0}/link\"]\nwrite = [\"/nonexistent/belladonna-y\"]\n",
        real_tmp.display()
    ));
    let f = lint_paths(&p);
    let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
    assert_eq!(f.len(), 3, "{msgs:#?}");
    assert!(f.iter().all(|f| f.severity == Severity::Warn), "{msgs:#?}");
    assert!(msgs.iter().any(|m| m.starts_with("/p.toml:2:10: WARN: sandbox \"s\": write /nonexistent/belladonna-y: missing path: not granted; the profile is applied without it")), "{msgs:#?}");
    assert!(
        msgs.iter().any(|m| m.contains("link/x: missing path")),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains(&format!(
            "read {}/link goes through a symlink: Landlock grants its target as resolved at call time (now {}/data)",
            real_tmp.display(),
            real_tmp.display()
        ))),
        "{msgs:#?}"
    );
}

fn spec(s: &str) -> CommandSpec {
    match crate::policy::cmdline::parse_command(s) {
        Ok(c) => CommandSpec {
            path: c.path,
            args: c.args,
            digest: None,
            kind: Default::default(),
        },
        Err(e) => panic!("{s}: {e:?}"),
    }
}

#[test]
fn shell_classification() {
    for yes in [
        "/bin/sh",
        "/bin/bash *",
        "/bin/bash /tmp/x.sh",
        "/usr/bin/vi /etc/hosts",
        "/usr/bin/less /var/log/syslog",
        "/usr/bin/python3",
        "/usr/bin/python3.11 x.py",
        "/usr/bin/psql",
        "/usr/bin/env *",
        "/usr/bin/sed *",
        "/usr/bin/find / *",
        "/usr/bin/awk *",
        "/usr/bin/tar *",
        "/usr/bin/apt-get *",
        "/usr/bin/git *",
        "/usr/bin/vi -c x",
    ] {
        assert!(gives_shell(&spec(yes)), "{yes}");
    }
    for no in [
        "/bin/sh -c \"exit 42\"",
        "/usr/bin/python3 -c \"print(1)\"",
        "/usr/bin/perl -e 1",
        "/usr/bin/env",
        "/usr/bin/sed -n 1p /etc/hostname",
        "/usr/bin/find /var",
        "/usr/bin/apt-get update",
        "/usr/bin/journalctl *",
        "/usr/bin/systemctl status *",
        "/usr/bin/id",
        "/usr/bin/cp *",
    ] {
        assert!(!gives_shell(&spec(no)), "{no}");
    }
    assert!(writes_any_file(&spec("/usr/bin/cp *")));
    assert!(writes_any_file(&spec("/usr/bin/systemctl *")));
    assert!(!writes_any_file(&spec("/usr/bin/systemctl restart *")));
    assert!(!writes_any_file(&spec("/usr/bin/cp /a /b")));
}

#[test]
fn root_equivalent_writers() {
    let p = pol(
        "[[rule]]\nname = \"a\"\nusers = [\"u\"]\nauth = \"none\"\ncommands = [\"/usr/bin/tee *\", \"/usr/bin/cp /a /b\"]\n\
             [[rule]]\nname = \"b\"\nusers = [\"u\"]\nrun_as = [\"www-data\"]\nauth = \"none\"\ncommands = [\"/usr/bin/cp *\"]\n\
             [[rule]]\nname = \"c\"\nusers = [\"v\"]\nrun_as = [\"#0\"]\ncommands = [\"/usr/bin/systemctl *\"]\n",
    );
    let msgs: Vec<String> = lint(&p).iter().map(|f| f.to_string()).collect();
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    assert!(
        msgs[0].contains("\"/usr/bin/tee *\" is root-equivalent")
            && msgs[0].contains("auth = \"none\""),
        "{msgs:#?}"
    );
    assert!(
        msgs[1].contains("tee *\" with any further arguments can write"),
        "{msgs:#?}"
    );
    assert!(
        msgs[2].contains("rule \"c\": \"/usr/bin/systemctl *\""),
        "{msgs:#?}"
    );
}

#[test]
fn ineffective_and_unreachable_denies() {
    let p = pol(
        "[[rule]]\nname = \"ops\"\ngroups = [\"ops\"]\ncommands = [\"/usr/bin/systemctl *\", \"/usr/bin/id\"]\n\
             [[rule]]\nname = \"no-poweroff\"\ngroups = [\"ops\"]\naction = \"deny\"\ncommands = [\"/usr/bin/systemctl poweroff\", \"/usr/bin/id\"]\n\
             [[rule]]\nname = \"other\"\ngroups = [\"dev\"]\naction = \"deny\"\ncommands = [\"/usr/bin/systemctl reboot\", \"/usr/bin/systemctl halt *\"]\n\
             [[rule]]\nname = \"net\"\ngroups = [\"ops\"]\naction = \"deny\"\ncommands = [\"/bin/sh *\", \"/usr/bin/systemctl halt *\"]\n\
             [[rule]]\nname = \"none\"\ngroups = [\"ops\"]\naction = \"deny\"\ncommands = [\"/bin/bash *\"]\n",
    );
    let f = lint(&p);
    let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
    let sev = |needle: &str| -> Vec<Severity> {
        f.iter()
            .filter(|x| x.message.contains(needle))
            .map(|x| x.severity)
            .collect()
    };
    // Shared group, wider allow: an ERROR naming the allow rule.
    assert_eq!(sev("ineffective deny"), vec![Severity::Error], "{msgs:#?}");
    assert!(
        msgs.iter().any(|m| m.starts_with("/p.toml:6:1: ERROR: ineffective deny: rule \"no-poweroff\" denies only \"/usr/bin/systemctl poweroff\", but rule \"ops\" still allows \"/usr/bin/systemctl *\"")),
        "{msgs:#?}"
    );
    // An exact deny of an exact allow is effective; still a fixed-args WARN.
    assert_eq!(
        sev("\"/usr/bin/id\" denies only exactly"),
        vec![Severity::Warn]
    );
    // Other group: not ineffective, a fixed-args WARN.
    assert_eq!(
        sev("\"/usr/bin/systemctl reboot\" denies only exactly"),
        vec![Severity::Warn]
    );
    // Partly unreachable: an INFO per entry; wholly: one INFO per rule.
    assert_eq!(sev("\"/bin/sh *\" matches nothing"), vec![Severity::Info]);
    assert_eq!(
        sev("deny rule \"none\" matches nothing"),
        vec![Severity::Info]
    );
    assert!(
        sev("systemctl halt *\" matches nothing").is_empty(),
        "{msgs:#?}"
    );
    let c = counts(&f);
    // (plus the root-equivalent `systemctl *` WARN)
    assert_eq!((c.error, c.warn, c.info), (1, 3, 2), "{msgs:#?}");
}

#[test]
fn redundant_and_shadowed_entries() {
    let p = pol(
        "[[rule]]\nname = \"a\"\nusers = [\"u\", \"w\"]\nrun_as = [\"root\", \"bob\"]\ncommands = [\"/usr/bin/journalctl *\", \"/usr/bin/journalctl -u x\", \"/usr/bin/id\"]\n\
             [[rule]]\nname = \"b\"\nusers = [\"w\", \"u\"]\ncommands = [\"/usr/bin/journalctl -f\", \"/usr/bin/df\"]\nauth = \"none\"\n\
             [[rule]]\nname = \"c\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/journalctl -f\"]\n\
             [[rule]]\nname = \"d\"\nusers = [\"u\", \"w\"]\nrun_as = [\"carol\"]\ncommands = [\"/usr/bin/id\"]\n",
    );
    let f = lint(&p);
    let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
    assert!(f.iter().all(|f| f.severity == Severity::Info), "{msgs:#?}");
    assert_eq!(msgs.len(), 2, "{msgs:#?}");
    assert!(
        msgs[0].contains("rule \"a\": \"/usr/bin/journalctl -u x\" is redundant"),
        "{msgs:#?}"
    );
    assert!(
        msgs[1]
            .contains("rule \"b\": \"/usr/bin/journalctl -f\" never decides: earlier rule \"a\""),
        "{msgs:#?}"
    );
}

#[test]
fn counts_metrics_and_json() {
    let f = |severity| Finding {
        severity,
        origin: Some(Origin {
            file: "/p.toml".into(),
            line: 3,
            col: 1,
        }),
        message: "m \"q\"".into(),
    };
    let all = [
        f(Severity::Warn),
        f(Severity::Info),
        f(Severity::Warn),
        Finding {
            origin: None,
            ..f(Severity::Info)
        },
    ];
    let c = counts(&all);
    assert_eq!(
        c,
        Counts {
            error: 0,
            warn: 2,
            info: 2
        }
    );
    assert_eq!(c.highest(), Some(Severity::Warn));
    assert_eq!(Counts::default().highest(), None);
    assert_eq!(
        counts(&[f(Severity::Error)]).highest(),
        Some(Severity::Error)
    );
    let prom = c.prometheus();
    assert!(
        prom.contains("belladonna_lint_findings{severity=\"error\"} 0\n"),
        "{prom}"
    );
    assert!(
        prom.contains("belladonna_lint_findings{severity=\"warn\"} 2\n"),
        "{prom}"
    );
    assert!(
        prom.contains("belladonna_lint_findings{severity=\"info\"} 2\n"),
        "{prom}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&report_json(&all, Some(&[0xab; 32]))).expect("json");
    assert_eq!(
        json["counts"],
        serde_json::json!({"error": 0, "warn": 2, "info": 2})
    );
    assert_eq!(json["hash"], serde_json::json!("ab".repeat(32)));
    assert_eq!(
        json["findings"][0],
        serde_json::json!({"severity": "warn", "file": "/p.toml", "line": 3, "col": 1, "message": "m \"q\""})
    );
    assert_eq!(json["findings"][3]["file"], serde_json::Value::Null);
    let e = crate::policy::PolicyError::at(Path::new("/x.toml"), 2, 5, "bad");
    let json: serde_json::Value = serde_json::from_str(&report_json_load_error(&e)).expect("json");
    assert_eq!(json["counts"]["error"], 1);
    assert_eq!(json["hash"], serde_json::Value::Null);
    assert_eq!(json["findings"][0]["line"], 2);
    assert_eq!(json["findings"][0]["col"], 5);
}

#[test]
fn accounts() {
    let p = pol(
        "[[rule]]\nname = \"a\"\nusers = [\"root\", \"belladonna-no-such-user\", \"#4000000\"]\n\
             groups = [\"root\", \"belladonna-no-such-group\"]\nrun_as = [\"root\", \"belladonna-no-such-user\"]\n\
             commands = [\"/usr/bin/id\"]\n",
    );
    let f = lint_accounts(&p);
    let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
    assert_eq!(f.len(), 2, "{msgs:#?}");
    assert!(f.iter().all(|f| f.severity == Severity::Error), "{msgs:#?}");
    assert!(
        msgs[0].contains("unknown user \"belladonna-no-such-user\""),
        "{msgs:#?}"
    );
    assert!(
        msgs[1].contains("unknown group \"belladonna-no-such-group\""),
        "{msgs:#?}"
    );
}

#[test]
fn writable_commands_and_digest_pins() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let real = std::fs::canonicalize(tmp.path()).expect("canonicalize");
    let exe = real.join("tool");
    std::fs::write(&exe, "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o757)).expect("chmod");
    let digest = format!("blake3:{}", "00".repeat(32));
    let p = pol(&format!(
        "[[rule]]\nname = \"open\"\nusers = [\"u\"]\ncommands = [\"{0}\"]\n\
             [[rule]]\nname = \"pinned\"\nusers = [\"u\"]\ncommands = [{{ cmd = \"{0}\", digest = \"{digest}\" }}]\n",
        exe.display()
    ));
    let f = lint_paths(&p);
    let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
    let world = |rule: &str| -> Vec<Severity> {
        f.iter()
            .filter(|x| {
                x.message.starts_with(&format!("rule {rule:?}: command "))
                    && x.message.contains("anyone can replace")
            })
            .map(|x| x.severity)
            .collect()
    };
    assert_eq!(world("open"), vec![Severity::Error], "{msgs:#?}");
    assert_eq!(world("pinned"), vec![Severity::Warn], "{msgs:#?}");
    // Group-writable only: a WARN without a pin, nothing with one.
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o775)).expect("chmod");
    let f = lint_paths(&p);
    let msgs: Vec<String> = f
        .iter()
        .filter(|x| x.message.contains(&format!("command {} ", exe.display())))
        .map(|f| f.to_string())
        .collect();
    let uid_is_root = nix::unistd::geteuid().is_root();
    if uid_is_root {
        assert_eq!(msgs.len(), 1, "{msgs:#?}");
        assert!(
            msgs[0].contains("WARN: rule \"open\"") && msgs[0].contains("no digest pin"),
            "{msgs:#?}"
        );
    }
    assert!(
        msgs.iter().all(|m| !m.contains("rule \"pinned\"")),
        "{msgs:#?}"
    );
}

#[test]
fn broadest_group_and_directory_keys_are_reported() {
    let p = pol(
        "[[rule]]\nname = \"g\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/id\"]\nrun_as_groups = [\"ALL\"]\nchdir = [\"*\"]\n\
         [[rule]]\nname = \"n\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/id -u\"]\nrun_as_groups = [\"ops\"]\nchdir = [\"/srv/*\"]\n",
    );
    let all = lint(&p);
    let has = |sev: Severity, what: &str| {
        all.iter()
            .any(|f| f.severity == sev && f.message.contains(what) && f.message.contains("\"g\""))
    };
    assert!(has(Severity::Warn, "run_as_groups = [\"ALL\"]"), "{all:#?}");
    assert!(has(Severity::Info, "chdir = [\"*\"]"), "{all:#?}");
    let e = pol("[[rule]]\nname = \"g\"\nusers = [\"u\"]\nedit = [\"/etc/*\"]\n");
    let all = lint(&e);
    assert!(
        all.iter()
            .any(|f| f.severity == Severity::Warn && f.message.contains("edit allows /etc/passwd")),
        "{all:#?}"
    );
    let e = pol("[[rule]]\nname = \"g\"\nusers = [\"u\"]\nedit = [\"/etc/nginx/*.conf\"]\n");
    assert!(!lint(&e).iter().any(|f| f.message.contains("edit allows")));
    assert!(
        !all.iter().any(|f| f.message.contains("\"n\"")
            && (f.message.contains("run_as_groups") || f.message.contains("chdir"))),
        "{all:#?}"
    );
}

/// The sudoers importer's "needs more arguments" deny (`deny "P a"` next
/// to `allow "P a *"` for the same callers) is intended: INFO, not an
/// ineffective deny; a deny of "P a" next to "P *" still is one.
#[test]
fn needs_args_deny_is_not_ineffective() {
    let allow =
        "[[rule]]\nname = \"a\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/journalctl -u x *\"]\n";
    let deny = "[[rule]]\nname = \"d\"\nusers = [\"u\"]\naction = \"deny\"\ncommands = [\"/usr/bin/journalctl -u x\"]\n";
    let f = lint(&pol(&format!("{allow}{deny}")));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Info, "{f:#?}");
    assert!(f[0].message.contains("bare prefix"), "{f:#?}");
    let wide = allow.replace("-u x *", "*");
    let f = lint(&pol(&format!("{wide}{deny}")));
    assert!(
        f.iter()
            .any(|f| f.severity == Severity::Error && f.message.contains("ineffective deny")),
        "{f:#?}"
    );
}

/// The deny checks look only at allow rules that share a user, group or
/// path (issue 16): an `ALL` or a directory allow still counts, for any
/// path.
#[test]
fn deny_reachable_through_all_and_directories() {
    let deny = "[[rule]]\nname = \"no-x\"\ngroups = [\"ops\"]\naction = \"deny\"\ncommands = [\"/usr/bin/x *\"]\n";
    let unreachable = |p: &Policy| {
        lint(p)
            .iter()
            .any(|f| f.message.contains("deny rule \"no-x\" matches nothing"))
    };
    assert!(unreachable(&pol(deny)));
    for allow in [
        "commands = [\"ALL\"]",
        "commands = [\"/usr/bin/ *\"]",
        "commands = [\"/usr/bin/x y\"]",
    ] {
        let p = pol(&format!(
            "[[rule]]\nname = \"a\"\nusers = [\"zed\"]\n{allow}\n{deny}"
        ));
        assert!(!unreachable(&p), "{allow}");
    }
    assert!(unreachable(&pol(&format!(
        "[[rule]]\nname = \"a\"\nusers = [\"zed\"]\ncommands = [\"/usr/sbin/x *\"]\n{deny}"
    ))));
    // Ineffective only through an allow that shares the group.
    let wide = "[[rule]]\nname = \"no-x\"\ngroups = [\"ops\"]\naction = \"deny\"\ncommands = [\"/usr/bin/x y\"]\n";
    for (who, hit) in [("groups = [\"ops\"]", true), ("groups = [\"dev\"]", false)] {
        let p = pol(&format!(
            "[[rule]]\nname = \"a\"\n{who}\ncommands = [\"/usr/bin/x *\"]\n{wide}"
        ));
        let f = lint(&p);
        assert_eq!(
            f.iter().any(|f| f.message.contains("ineffective deny")),
            hit,
            "{who}"
        );
    }
}
