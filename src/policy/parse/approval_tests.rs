//! `[approvers.NAME]`, `approvals`, `approvers`, `nonce_namespace`,
//! `rate`, `timestamp_timeout` (docs/approval-tokens.md).
use super::*;
use crate::policy::hash::segment_hashes;
use crate::policy::model::DEFAULT_TIMESTAMP_TIMEOUT;
use base64::Engine as _;

fn key(seed: u8) -> String {
    let sk = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    format!(
        "ed25519:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sk.verifying_key().as_bytes())
    )
}

fn src(approvers: &str, rule: &str) -> String {
    format!(
        "version = 1\n{approvers}[[rule]]\nname = \"r\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n{rule}"
    )
}

fn two() -> String {
    format!(
        "[approvers.alice-sec]\nkey = \"{}\"\nepoch = 3\n[approvers.bob-sec]\nkey = \"{}\"\nepoch = 1\n",
        key(1),
        key(2)
    )
}

fn ok(s: &str) -> Policy {
    match parse_main(s, Path::new("/p.toml")) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn err(s: &str) -> String {
    match parse_main(s, Path::new("/p.toml")) {
        Ok(p) => panic!("parsed: {p:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn full_example() {
    let s = format!(
        "version = 1\n[defaults]\ntimestamp_timeout = \"10m\"\n{}[[rule]]\nname = \"r\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\nauth = \"approval\"\napprovals = 2\napprovers = [\"bob-sec\", \"alice-sec\"]\nrate = \"10/1m\"\nnonce_namespace = \"prod\"\n",
        two()
    );
    let p = ok(&s);
    assert_eq!(p.defaults.timestamp_timeout, 600);
    assert_eq!(p.approvers.len(), 2);
    assert_eq!(p.approvers[0].name, "alice-sec");
    assert_eq!(p.approvers[0].epoch, 3);
    assert_eq!(
        p.approvers[0].key,
        *ed25519_dalek::SigningKey::from_bytes(&[1; 32])
            .verifying_key()
            .as_bytes()
    );
    let r = &p.rules[0];
    assert_eq!(
        r.approval,
        Some(Approval {
            approvals: 2,
            approvers: vec!["alice-sec".into(), "bob-sec".into()],
            nonce_namespace: "prod".into(),
        })
    );
    assert_eq!(
        r.rate,
        Some(Rate {
            count: 10,
            per_secs: 60
        })
    );
}

#[test]
fn defaults() {
    let p = ok(&src(&two(), "auth = \"approval\"\n"));
    assert_eq!(p.rules[0].approval, None);
    let req = p.rules[0].approval_req();
    assert_eq!(req.approvals, 1);
    assert!(req.approvers.is_empty());
    assert_eq!(req.nonce_namespace, "default");
    assert_eq!(p.defaults.timestamp_timeout, DEFAULT_TIMESTAMP_TIMEOUT);
    // Explicit defaults are the same policy.
    let q = ok(&src(
        &two(),
        "auth = \"approval\"\napprovals = 1\nnonce_namespace = \"default\"\n",
    ));
    assert_eq!(p, q);
    // Approval rules without any approver parse (they fail closed at
    // run time): older policies stay loadable.
    ok(&src("", "auth = \"approval\"\n"));
}

#[test]
fn durations() {
    assert_eq!(parse_duration("0"), Ok(0));
    assert_eq!(parse_duration("90s"), Ok(90));
    assert_eq!(parse_duration("5m"), Ok(300));
    assert_eq!(parse_duration("24h"), Ok(86_400));
    for bad in [
        "", "5", "m", "-5m", "5 m", "25h", "1d", "5M", "+5m", "9999999h", "0s0",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        parse_rate("10/1m"),
        Ok(Rate {
            count: 10,
            per_secs: 60
        })
    );
    for bad in [
        "10",
        "0/1m",
        "10/0",
        "10/m",
        "/1m",
        "10/1m/2",
        "x/1m",
        "10/25h",
        "99999999999/1s",
    ] {
        assert!(parse_rate(bad).is_err(), "{bad:?}");
    }
    let e = err("version = 1\n[defaults]\ntimestamp_timeout = \"5\"\n");
    assert!(e.starts_with("/p.toml:3:21: timestamp_timeout:"), "{e}");
    let e = err(&src("", "rate = \"10\"\n"));
    assert!(e.starts_with("/p.toml:6:8: rate"), "{e}");
}

/// The rate boundaries belladonna-policy(5) and docs/state.md state:
/// N from 1 to 999999999 (at most 9 digits), DURATION a number of 1 to
/// 6 digits with unit s, m or h, from 1 s to 24 h.
#[test]
fn rate_boundaries() {
    let ok = |s: &str, count: u32, per_secs: u64| {
        assert_eq!(parse_rate(s), Ok(Rate { count, per_secs }), "{s:?}");
    };
    ok("1/1s", 1, 1);
    ok("999999999/24h", 999_999_999, 86_400);
    ok("1/86400s", 1, 86_400);
    ok("1/1440m", 1, 86_400);
    ok("010/090s", 10, 90);
    for bad in [
        "0/1s",
        "1000000000/1m",
        "1/0s",
        "1/0",
        "1/86401s",
        "1/1441m",
        "1/25h",
        "1/1d",
        "1/1000000s",
        "1/999999s",
        "1/1",
        "1/s",
        "-1/1m",
        "+1/1m",
        " 1/1m",
        "1/1m ",
        "1.5/1m",
    ] {
        assert!(parse_rate(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn approval_keys_need_approval_auth() {
    for (k, col) in [
        ("approvals = 2", 13),
        ("approvers = [\"a\"]", 13),
        ("nonce_namespace = \"x\"", 19),
    ] {
        let e = err(&src(&two(), &format!("auth = \"password\"\n{k}\n")));
        assert!(e.starts_with(&format!("/p.toml:13:{col}: ")), "{k}: {e}");
        assert!(
            e.contains("needs auth = \\\"approval\\\"") || e.contains("needs auth = \"approval\""),
            "{e}"
        );
        let e = err(&src(
            &two(),
            &format!("action = \"deny\"\nauth = \"approval\"\n{k}\n"),
        ));
        assert!(e.contains("deny rule"), "{e}");
    }
    let e = err(&src("", "action = \"deny\"\nrate = \"1/1s\"\n"));
    assert!(e.contains("deny rule") && e.contains("rate"), "{e}");
}

#[test]
fn bad_approval_values() {
    for (body, pos) in [
        ("approvals = 0", "13:13"),
        ("approvals = 33", "13:13"),
        ("approvals = -1", "13:13"),
        (
            "approvals = 3\napprovers = [\"alice-sec\", \"bob-sec\"]",
            "13:13",
        ),
        ("approvers = []", "13:13"),
        ("approvers = [\"Alice\"]", "13:14"),
        ("approvers = [\"carol\"]", "13:14"),
        ("nonce_namespace = \"../x\"", "13:19"),
        ("nonce_namespace = \"\"", "13:19"),
    ] {
        let e = err(&src(&two(), &format!("auth = \"approval\"\n{body}\n")));
        assert!(e.starts_with(&format!("/p.toml:{pos}: ")), "{body}: {e}");
    }
    // Duplicates in the list are one approver.
    let e = err(&src(
        &two(),
        "auth = \"approval\"\napprovals = 2\napprovers = [\"bob-sec\", \"bob-sec\"]\n",
    ));
    assert!(e.contains("could never be satisfied"), "{e}");
}

#[test]
fn bad_approvers() {
    let e = err(&src("[approvers.a]\nepoch = 1\n", ""));
    assert!(e.contains("no `key`"), "{e}");
    let e = err(&src(&format!("[approvers.a]\nkey = \"{}\"\n", key(1)), ""));
    assert!(e.contains("no `epoch`"), "{e}");
    let e = err(&src(
        &format!("[approvers.a]\nkey = \"{}\"\nepoch = -1\n", key(1)),
        "",
    ));
    assert!(e.starts_with("/p.toml:4:9: "), "{e}");
    let e = err(&src(
        &format!(
            "[approvers.a]\nkey = \"{}\"\nepoch = 1\ncolour = 1\n",
            key(1)
        ),
        "",
    ));
    assert!(
        e.starts_with("/p.toml:5:1: ") && e.contains("colour"),
        "{e}"
    );
    let e = err(&src(
        &format!("[approvers.\"A B\"]\nkey = \"{}\"\nepoch = 1\n", key(1)),
        "",
    ));
    assert!(e.starts_with("/p.toml:2:12: "), "{e}");
    for bad in [
        "ed25519:".to_string(),
        "ed25519:AAAA".to_string(),
        key(1).replace("ed25519:", "x25519:"),
        format!("{}=", key(1)),
        format!("{}A", key(1)),
        // Small-order point (the identity).
        format!(
            "ed25519:{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode({
                let mut b = [0u8; 32];
                b[0] = 1;
                b
            })
        ),
    ] {
        let e = err(&src(
            &format!("[approvers.a]\nkey = \"{bad}\"\nepoch = 1\n"),
            "",
        ));
        assert!(e.starts_with("/p.toml:3:7: approver \"a\": "), "{bad}: {e}");
    }
    // One key, two names: one person must not count twice.
    let e = err(&src(
        &format!(
            "[approvers.a]\nkey = \"{0}\"\nepoch = 1\n[approvers.b]\nkey = \"{0}\"\nepoch = 1\n",
            key(1)
        ),
        "",
    ));
    assert!(
        e.starts_with("/p.toml:5:12: ") && e.contains("same key"),
        "{e}"
    );
}

#[test]
fn approvers_only_in_main_file_and_refs_checked_across_files() {
    let main = parse_policy(&format!("version = 1\n{}", two()), Path::new("/m.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let d = parse_policy(
        &format!("[approvers.c]\nkey = \"{}\"\nepoch = 1\n", key(3)),
        Path::new("/d/1.toml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let e = merge(main.clone(), vec![d])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.starts_with("/d/1.toml:1:12: approvers"), "{e}");
    let uses = |who: &str| {
        parse_policy(
            &format!("[[rule]]\nname = \"d\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\nauth = \"approval\"\napprovers = [\"{who}\"]\n"),
            Path::new("/d/2.toml"),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let p = merge(main.clone(), vec![uses("bob-sec")]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        p.rules[0].approval_req().approvers,
        vec!["bob-sec".to_string()]
    );
    let e = merge(main, vec![uses("carol")])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.starts_with("/d/2.toml:6:14: approver \"carol\" is not defined"),
        "{e}"
    );
}

#[test]
fn segments() {
    let base = src(&two(), "auth = \"approval\"\n");
    let seg = |s: &str| segment_hashes(&ok(s));
    let a = seg(&base);
    // Without any of the new keys, the auth segment is the rules' hash
    // as before: a policy without approvers keeps its hashes.
    let plain = src("", "");
    let pp = ok(&plain);
    assert_eq!(segment_hashes(&pp).auth, {
        let mut h = blake3::Hasher::new();
        h.update(crate::policy::hash::SEGMENT_AUTH);
        h.update(&serde_json::to_vec(&pp.rules).unwrap_or_default());
        *h.finalize().as_bytes()
    });
    // Approver key or epoch: auth only.
    let b = seg(&base.replace("epoch = 3", "epoch = 4"));
    assert_ne!(a.auth, b.auth);
    assert_eq!((a.rate, a.sandbox, a.decoy), (b.rate, b.sandbox, b.decoy));
    let b = seg(&base.replace(&key(2), &key(4)));
    assert_ne!(a.auth, b.auth);
    // approvals / approvers / namespace / timestamp_timeout: auth only.
    for changed in [
        base.replace(
            "auth = \"approval\"\n",
            "auth = \"approval\"\napprovals = 2\n",
        ),
        base.replace(
            "auth = \"approval\"\n",
            "auth = \"approval\"\napprovers = [\"bob-sec\"]\n",
        ),
        base.replace(
            "auth = \"approval\"\n",
            "auth = \"approval\"\nnonce_namespace = \"p\"\n",
        ),
        base.replace(
            "version = 1\n",
            "version = 1\n[defaults]\ntimestamp_timeout = \"0\"\n",
        ),
    ] {
        let b = seg(&changed);
        assert_ne!(a.auth, b.auth, "{changed}");
        assert_eq!(a.rate, b.rate, "{changed}");
    }
    // rate: the rate segment only.
    let b = seg(&base.replace(
        "auth = \"approval\"\n",
        "auth = \"approval\"\nrate = \"10/1m\"\n",
    ));
    assert_ne!(a.rate, b.rate);
    assert_eq!(a.auth, b.auth);
    let c = seg(&base.replace(
        "auth = \"approval\"\n",
        "auth = \"approval\"\nrate = \"11/1m\"\n",
    ));
    assert_ne!(b.rate, c.rate);
    assert_eq!(b.auth, c.auth);
    // And the full hash covers everything.
    let h = |s: &str| crate::policy::hash::policy_hash(&ok(s));
    assert_ne!(
        h(&base),
        h(&base.replace(
            "auth = \"approval\"\n",
            "auth = \"approval\"\nrate = \"10/1m\"\n"
        ))
    );
    assert_ne!(h(&base), h(&base.replace("epoch = 3", "epoch = 4")));
}

#[test]
fn telemetry_sample_rate() {
    use crate::policy::model::DEFAULT_SAMPLE_PPM;
    let base = "version = 1\n";
    assert_eq!(ok(base).defaults.telemetry_sample_ppm, DEFAULT_SAMPLE_PPM);
    let p = ok("version = 1\n[defaults]\ntelemetry_sample_rate = 0.25\n");
    assert_eq!(p.defaults.telemetry_sample_ppm, 250_000);
    assert_eq!(
        ok("version = 1\n[defaults]\ntelemetry_sample_rate = 0.0\n")
            .defaults
            .telemetry_sample_ppm,
        0
    );
    assert!(err("version = 1\n[defaults]\ntelemetry_sample_rate = \"1\"\n").contains("f64"));
    for bad in ["1.5", "-0.1", "nan"] {
        let e = err(&format!(
            "version = 1\n[defaults]\ntelemetry_sample_rate = {bad}\n"
        ));
        assert!(e.contains("telemetry_sample_rate"), "{bad}: {e}");
    }
    // The default is not serialized: existing policy hashes unchanged.
    assert_eq!(
        crate::policy::hash::policy_hash(&ok(base)),
        crate::policy::hash::policy_hash(&ok(
            "version = 1\n[defaults]\ntelemetry_sample_rate = 1.0\n"
        ))
    );
}

#[test]
fn all_group_targets_and_directories() {
    use crate::policy::model::CommandKind;
    let ok = |r: &str| match parse_main(
        &format!("version = 1\n[[rule]]\nname = \"r\"\nusers = [\"u\"]\n{r}"),
        Path::new("/p.toml"),
    ) {
        Ok(p) => p.rules[0].clone(),
        Err(e) => panic!("{r}: {e}"),
    };
    let bad = |r: &str| match parse_main(
        &format!("version = 1\n[[rule]]\nname = \"r\"\nusers = [\"u\"]\n{r}"),
        Path::new("/p.toml"),
    ) {
        Ok(_) => panic!("{r}: accepted"),
        Err(e) => e.to_string(),
    };
    let r = ok("run_as = [\"ALL\"]\ncommands = [\"ALL\"]\n");
    assert_eq!(r.run_as, vec![Principal::All]);
    assert_eq!(r.commands[0].kind, CommandKind::All);
    assert_eq!(r.commands[0].args, Args::Prefix(vec![]));
    let r = ok(
        "run_as = [\"%www\", \"%#33\", \"root\"]\ncommands = [\"/usr/lib/nagios/plugins/ *\"]\n",
    );
    assert_eq!(
        r.run_as,
        vec![
            Principal::GroupName("www".into()),
            Principal::GroupId(33),
            Principal::Name("root".into())
        ]
    );
    assert_eq!(r.commands[0].kind, CommandKind::Dir);
    assert_eq!(
        r.commands[0].path,
        PathBuf::from("/usr/lib/nagios/plugins/")
    );
    // A deny rule may deny ALL (everything for these callers).
    let mut d = ok("action = \"deny\"\ncommands = [\"ALL\"]\n");
    assert_eq!(d.commands.remove(0).kind, CommandKind::All);
    // Bad input.
    assert!(bad("commands = [\"ALL\", \"/usr/bin/id\"]\n").contains("only command"));
    assert!(bad("commands = [\"!ALL\"]\n").contains("deny rule"));
    assert!(bad("commands = [\"/usr/bin/id\", \"!/usr/bin/su\"]\n").contains("deny rule"));
    assert!(bad("commands = [\"ALL *\"]\n").contains("no arguments"));
    assert!(bad("commands = [{ cmd = \"ALL\", digest = \"blake3:0000000000000000000000000000000000000000000000000000000000000000\" }]\n").contains("digest"));
    assert!(bad("action = \"deny\"\ncommands = [\"/usr/sbin/ *\"]\n").contains("directory"));
    assert!(
        bad("run_as = [\"ALL\", \"root\"]\ncommands = [\"/usr/bin/id\"]\n").contains("only entry")
    );
    assert!(bad("run_as = [\"!root\"]\ncommands = [\"/usr/bin/id\"]\n").contains("negation"));
    assert!(bad("run_as = [\"%\"]\ncommands = [\"/usr/bin/id\"]\n").contains("empty"));
    let users_all = parse_main(
        "version = 1\n[[rule]]\nname = \"r\"\nusers = [\"ALL\"]\ncommands = [\"/usr/bin/id\"]\n",
        Path::new("/p.toml"),
    );
    assert!(users_all.is_err());
    let group_in_groups = parse_main(
        "version = 1\n[[rule]]\nname = \"r\"\ngroups = [\"%ops\"]\ncommands = [\"/usr/bin/id\"]\n",
        Path::new("/p.toml"),
    );
    assert!(group_in_groups.is_err());
}
