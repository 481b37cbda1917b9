//! The sandbox part of the parser's tests: profiles, Landlock, ports,
//! scopes, syscalls, capabilities, drop-ins.

use super::*;

const SANDBOXED: &str = r#"version = 1
[defaults]
sandbox = "base"

[sandbox.web]
[sandbox.web.landlock]
read  = ["/usr/share/nginx", "/etc/nginx", "/etc//nginx/"]
write = ["/var/log/nginx"]
exec  = ["/usr/sbin/nginx"]
bind_tcp = [443, 80, 443]
connect_tcp = []
scope = ["abstract_unix", "signal"]
min_abi = 4
[sandbox.web.seccomp]
allow = ["@system-service"]
deny  = ["reboot", "@mount"]
action = "kill"

[sandbox.base]

[[rule]]
name = "web"
users = ["alice"]
run_as = ["www-data"]
commands = ["/usr/sbin/nginx"]
sandbox = "web"
caps = ["NET_BIND_SERVICE", "cap_chown", "Cap_Net_Bind_Service"]

[[rule]]
name = "plain"
users = ["alice"]
commands = ["/usr/bin/id"]
"#;

#[test]
fn sandbox_profiles_round_trip() {
    let p = main_ok(SANDBOXED);
    assert_eq!(p.defaults.sandbox.as_deref(), Some("base"));
    let names: Vec<_> = p.sandboxes.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["base", "web"]);
    let base = &p.sandboxes[0];
    assert_eq!((&base.landlock, &base.seccomp), (&None, &None));
    assert_eq!(base.origin.line, 19);
    let web = &p.sandboxes[1];
    assert_eq!((web.origin.line, web.origin.col), (5, 10));
    let Some(l) = &web.landlock else {
        panic!("no landlock")
    };
    assert_eq!(
        l,
        &LandlockSpec {
            read: vec![
                PathBuf::from("/etc/nginx"),
                PathBuf::from("/usr/share/nginx")
            ],
            write: vec![PathBuf::from("/var/log/nginx")],
            exec: vec![PathBuf::from("/usr/sbin/nginx")],
            bind_tcp: Some(vec![80, 443]),
            connect_tcp: Some(vec![]),
            scope_abstract_unix: true,
            scope_signals: true,
            scope_default: false,
            min_abi: Some(4),
        }
    );
    assert_eq!(
        web.seccomp,
        Some(SeccompSpec {
            allow: vec!["@system-service".into()],
            deny: vec!["@mount".into(), "reboot".into()],
            action: SeccompAction::Kill,
        })
    );
    let r = &p.rules[0];
    assert_eq!(r.sandbox.as_deref(), Some("web"));
    assert_eq!(r.caps, vec!["chown", "net_bind_service"]);
    let r = &p.rules[1];
    assert_eq!((r.sandbox.as_deref(), r.caps.len()), (None, 0));
}

#[test]
fn sandbox_optional_parts_default() {
    let p = main_ok("version = 1\n[sandbox.a.landlock]\nread = [\"/\"]\n[sandbox.a.seccomp]\n");
    let a = &p.sandboxes[0];
    let l = a.landlock.clone().unwrap_or_else(|| panic!("landlock"));
    assert_eq!(
        (&l.bind_tcp, &l.connect_tcp, l.min_abi),
        (&None, &None, None)
    );
    assert!(!l.scope_abstract_unix && !l.scope_signals);
    // No `scope` written: the root-target default.
    assert!(l.scope_default);
    assert_eq!(l.scopes_for(0), crate::policy::model::Scopes::ALL);
    assert!(!l.scopes_for(1000).any());
    // `scope = []` opts out for every target.
    let p = main_ok("version = 1\n[sandbox.a.landlock]\nscope = []\n");
    let l = p.sandboxes[0]
        .landlock
        .clone()
        .unwrap_or_else(|| panic!("landlock"));
    assert!(!l.scope_default && !l.scopes_for(0).any());
    let p = main_ok("version = 1\n[sandbox.a.landlock]\nscope = [\"signal\"]\n");
    let l = p.sandboxes[0]
        .landlock
        .clone()
        .unwrap_or_else(|| panic!("landlock"));
    assert_eq!(l.scopes_for(0).names(), "signal");
    assert_eq!(
        a.seccomp,
        Some(SeccompSpec {
            allow: vec![],
            deny: vec![],
            action: SeccompAction::Errno
        })
    );
    assert_eq!(p.defaults.sandbox, None);
}

fn ll(body: &str) -> String {
    format!("version = 1\n[sandbox.p.landlock]\n{body}\n")
}

#[test]
fn bad_landlock_paths() {
    for bad in [
        "etc/nginx",
        "",
        "./x",
        "/etc/../shadow",
        "/etc/./nginx",
        "/etc/..",
        "/a\\u0000b",
    ] {
        for key in ["read", "write", "exec"] {
            let s = main_err(&ll(&format!("{key} = [\"/ok\", \"{bad}\"]")));
            let col = key.len() + 12;
            assert!(s.starts_with(&format!("/p.toml:3:{col}: ")), "{bad:?}: {s}");
            assert!(s.contains(key), "{s}");
        }
    }
    // Dots inside a name are fine.
    assert_eq!(
        main_ok(&ll("read = [\"/etc/..a/.b\"]")).sandboxes[0]
            .landlock
            .as_ref()
            .map(|l| l.read.clone()),
        Some(vec![PathBuf::from("/etc/..a/.b")])
    );
}

#[test]
fn bad_ports() {
    for bad in ["0", "65536", "-1", "99999999999"] {
        for key in ["bind_tcp", "connect_tcp"] {
            let s = main_err(&ll(&format!("{key} = [80, {bad}]")));
            let col = key.len() + 9;
            assert!(s.starts_with(&format!("/p.toml:3:{col}: ")), "{bad}: {s}");
            assert!(s.contains("out of range"), "{s}");
        }
    }
    let s = main_err(&ll("bind_tcp = [\"80\"]"));
    assert!(s.starts_with("/p.toml:3:13: "), "{s}");
    let p = main_ok(&ll("bind_tcp = [1, 65535]"));
    assert_eq!(
        p.sandboxes[0]
            .landlock
            .as_ref()
            .and_then(|l| l.bind_tcp.clone()),
        Some(vec![1, 65535])
    );
}

#[test]
fn bad_min_abi_and_scope() {
    for bad in ["99", "0", "8", "-1"] {
        let s = main_err(&ll(&format!("min_abi = {bad}")));
        assert!(s.starts_with("/p.toml:3:11: "), "{bad}: {s}");
        assert!(s.contains("Landlock ABI"), "{s}");
    }
    for ok in 1..=7 {
        let p = main_ok(&ll(&format!("min_abi = {ok}")));
        assert_eq!(
            p.sandboxes[0].landlock.as_ref().and_then(|l| l.min_abi),
            Some(ok)
        );
    }
    let s = main_err(&ll("scope = [\"signal\", \"ipc\"]"));
    assert!(s.starts_with("/p.toml:3:20: "), "{s}");
}

#[test]
fn unknown_sandbox_keys() {
    let s = main_err(&ll("raed = [\"/etc\"]"));
    assert!(s.starts_with("/p.toml:3:1: ") && s.contains("raed"), "{s}");
    let s = main_err("version = 1\n[sandbox.p]\nlandlok = {}\n");
    assert!(
        s.starts_with("/p.toml:3:1: ") && s.contains("landlok"),
        "{s}"
    );
    let s = main_err("version = 1\n[sandbox.p.seccomp]\nallow = []\ndefault = \"kill\"\n");
    assert!(
        s.starts_with("/p.toml:4:1: ") && s.contains("default"),
        "{s}"
    );
    let s = main_err("version = 1\n[sandbox.p.seccomp]\naction = \"trap\"\n");
    assert!(s.starts_with("/p.toml:3:10: "), "{s}");
}

#[test]
fn unknown_syscall_or_group() {
    for key in ["allow", "deny"] {
        let s = main_err(&format!(
            "version = 1\n[sandbox.p.seccomp]\n{key} = [\"read\", \"frobnicate\"]\n"
        ));
        let col = key.len() + 13;
        assert!(s.starts_with(&format!("/p.toml:3:{col}: ")), "{s}");
        assert!(s.contains("unknown system call 'frobnicate'"), "{s}");
        let s = main_err(&format!(
            "version = 1\n[sandbox.p.seccomp]\n{key} = [\"@mount\", \"@nope\"]\n"
        ));
        let col = key.len() + 15;
        assert!(s.starts_with(&format!("/p.toml:3:{col}: ")), "{s}");
        assert!(s.contains("unknown syscall group '@nope'"), "{s}");
    }
    // Case matters, as for the kernel's names.
    assert!(
        main_err("version = 1\n[sandbox.p.seccomp]\ndeny = [\"REBOOT\"]\n")
            .contains("unknown system call 'REBOOT'")
    );
}

#[test]
fn bad_profile_names_and_references() {
    let s = main_err("version = 1\n[sandbox.\"a b\"]\n");
    assert!(s.starts_with("/p.toml:2:10: "), "{s}");
    let s = main_err("version = 1\n[sandbox.\"\"]\n");
    assert!(s.contains("[A-Za-z0-9_-]+"), "{s}");
    let s = main_err(&rule_src(
        "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\nsandbox = \"web\"",
    ));
    assert_eq!(
        s,
        "/p.toml:6:11: sandbox profile \"web\" is not defined (define [sandbox.web] in the main policy file)"
    );
    let s = main_err("version = 1\n[defaults]\nsandbox = \"base\"\n[sandbox.web]\n");
    assert!(
        s.starts_with("/p.toml:3:11: ") && s.contains("\"base\""),
        "{s}"
    );
    let s = main_err("version = 1\n[defaults]\nsandbox = \"a/b\"\n");
    assert!(s.starts_with("/p.toml:3:11: "), "{s}");
    // `sandbox` must be a table of profiles, a rule's is a string.
    assert!(main_err("version = 1\nsandbox = \"web\"\n").starts_with("/p.toml:2:"));
    assert!(
        main_err("version = 1\n[sandbox.web]\n[[rule]]\nname = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\nsandbox = { landlock = {} }\n")
            .starts_with("/p.toml:7:11: ")
    );
}

#[test]
fn capabilities() {
    for bad in [
        "net_bind",
        "cap_",
        "",
        "all",
        "CAP_NET-ADMIN",
        "cap_cap_chown",
        " chown",
    ] {
        let s = main_err(&rule_src(&format!(
            "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\ncaps = [\"chown\", \"{bad}\"]"
        )));
        assert!(s.starts_with("/p.toml:6:18: "), "{bad:?}: {s}");
        assert!(s.contains("unknown capability"), "{s}");
    }
    assert_eq!(normalize_cap("CAP_SYS_ADMIN").as_deref(), Some("sys_admin"));
    assert_eq!(normalize_cap("bpf").as_deref(), Some("bpf"));
    assert_eq!(
        normalize_cap("checkpoint_restore").as_deref(),
        Some("checkpoint_restore")
    );
    let p = main_ok(&rule_src(
        "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\ncaps = []",
    ));
    assert!(p.rules[0].caps.is_empty());
}

#[test]
fn deny_rule_with_sandbox_or_caps() {
    let s = main_err(
        "version = 1\n[sandbox.web]\n[[rule]]\nname = \"d\"\nusers = [\"u\"]\naction = \"deny\"\ncommands = [\"/bin/x *\"]\ncaps = [\"chown\"]\n",
    );
    assert!(s.starts_with("/p.toml:8:9: deny rule \"d\""), "{s}");
    let s = main_err(
        "version = 1\n[sandbox.web]\n[[rule]]\nname = \"d\"\nusers = [\"u\"]\naction = \"deny\"\ncommands = [\"/bin/x *\"]\ncaps = []\n",
    );
    assert!(s.starts_with("/p.toml:3:1: deny rule \"d\""), "{s}");
    let s = main_err(
        "version = 1\n[sandbox.web]\n[[rule]]\nname = \"d\"\nusers = [\"u\"]\naction = \"deny\"\ncommands = [\"/bin/x *\"]\nsandbox = \"web\"\n",
    );
    assert!(s.starts_with("/p.toml:8:11: deny rule \"d\""), "{s}");
    // A deny rule is untouched by the default profile.
    let p = main_ok(
        "version = 1\n[defaults]\nsandbox = \"web\"\n[sandbox.web]\n[[rule]]\nname = \"d\"\nusers = [\"u\"]\naction = \"deny\"\ncommands = [\"/bin/x *\"]\n",
    );
    assert_eq!(p.rules[0].sandbox, None);
}

#[test]
fn dropins_and_profiles() {
    let main = frag(
        "version = 1\n[sandbox.web]\n[[rule]]\nname = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n",
        "/m.toml",
    );
    // A drop-in may reference a profile of the main file...
    let uses = frag(
        "[[rule]]\nname = \"b\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\nsandbox = \"web\"\n",
        "/d/10.toml",
    );
    let p = merge(main.clone(), vec![uses.clone()]);
    assert_eq!(
        p.map(|p| p.rules[1].sandbox.clone()),
        Ok(Some("web".to_string()))
    );
    // ...but not one that is not there,
    let undefined = frag(
        "[[rule]]\nname = \"c\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n  sandbox = \"db\"\n",
        "/d/20.toml",
    );
    let e = merge(main.clone(), vec![uses.clone(), undefined])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.starts_with("/d/20.toml:5:13: sandbox profile \"db\" is not defined"),
        "{e}"
    );
    // ...and it may not define or redefine one.
    for (src, pos) in [
        ("\n[sandbox.db]\n", "2:10"),
        (
            "version = 1\n[sandbox.web.landlock]\nread = [\"/\"]\n",
            "2:10",
        ),
        ("[sandbox]\n", "1:1"),
        ("sandbox = {}\n", "1:11"),
    ] {
        let d = frag(src, "/d/30.toml");
        let e = merge(main.clone(), vec![uses.clone(), d])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.starts_with(&format!("/d/30.toml:{pos}: sandbox profiles ([sandbox.NAME]) are only allowed in the main policy file")),
            "{src:?}: {e}"
        );
    }
}
