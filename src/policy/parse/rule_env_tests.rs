//! A rule's own `env_keep`, `secure_path`, `timestamp_timeout`.
use super::*;

const R: &str = "version = 1\n[[rule]]\nname = \"r\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n";

fn parse(extra: &str) -> Result<Policy, String> {
    parse_main(&format!("{R}{extra}"), Path::new("/p.toml")).map_err(|e| e.to_string())
}

fn err(extra: &str) -> String {
    match parse(extra) {
        Ok(p) => panic!("parsed: {:?}", p.rules),
        Err(e) => e,
    }
}

#[test]
fn the_keys_parse_and_are_absent_by_default() {
    let p = parse("").unwrap_or_else(|e| panic!("{e}"));
    let r = &p.rules[0];
    assert_eq!(
        (&r.env_keep, &r.secure_path, r.timestamp_timeout),
        (&None, &None, None)
    );
    let p = parse(
        "env_keep = [\"SSH_AUTH_SOCK\", \"XDG_*\"]\nsecure_path = \"/opt/app/bin:/usr/bin\"\ntimestamp_timeout = \"15m\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = &p.rules[0];
    assert_eq!(
        r.env_keep.as_deref(),
        Some(&["SSH_AUTH_SOCK".to_string(), "XDG_*".to_string()][..])
    );
    assert_eq!(
        r.secure_path.as_deref(),
        Some(&[PathBuf::from("/opt/app/bin"), PathBuf::from("/usr/bin")][..])
    );
    assert_eq!(r.timestamp_timeout, Some(900));
    // Added to the defaults' list, in order, without repeats.
    let keep = r.env_keep_with(&p.defaults);
    assert_eq!(keep.len(), crate::policy::model::DEFAULT_ENV_KEEP.len() + 2);
    assert_eq!(keep.last().map(String::as_str), Some("XDG_*"));
    assert_eq!(r.secure_path_with(&p.defaults).len(), 2);
    assert_eq!(r.timestamp_timeout_with(&p.defaults), 900);
    // "0": this rule always asks.
    let p = parse("timestamp_timeout = \"0\"\n").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.rules[0].timestamp_timeout, Some(0));
}

#[test]
fn bad_values_are_refused_where_they_are() {
    for (extra, col, what) in [
        ("env_keep = [\"A=B\"]\n", 13, "must be a variable name"),
        ("env_keep = [\"LD_PRELOAD\"]\n", 13, "LD_* and BASH_FUNC_*"),
        (
            "env_keep = [\"BASH_FUNC_x*\"]\n",
            13,
            "LD_* and BASH_FUNC_*",
        ),
        ("env_keep = []\n", 12, "env_keep is empty"),
        ("secure_path = \"\"\n", 15, "must not be empty"),
        (
            "secure_path = \"/usr/bin:bin\"\n",
            15,
            "\"bin\" is not a clean absolute directory",
        ),
        (
            "secure_path = \"/usr/../bin\"\n",
            15,
            "not a clean absolute directory",
        ),
        ("timestamp_timeout = \"5\"\n", 21, "timestamp_timeout:"),
        ("timestamp_timeout = \"-1m\"\n", 21, "timestamp_timeout:"),
    ] {
        let e = err(extra);
        assert!(e.starts_with(&format!("/p.toml:6:{col}: ")), "{extra}: {e}");
        assert!(e.contains(what), "{extra}: {e}");
    }
    // Wrong types: the TOML layer says so, with the place.
    let e = err("env_keep = \"TERM\"\n");
    assert!(e.starts_with("/p.toml:6:"), "{e}");
    let e = err("timestamp_timeout = 5\n");
    assert!(e.starts_with("/p.toml:6:"), "{e}");
}

#[test]
fn deny_rules_take_none_of_them() {
    for extra in [
        "env_keep = [\"X\"]\n",
        "secure_path = \"/usr/bin\"\n",
        "timestamp_timeout = \"1m\"\n",
    ] {
        let e = err(&format!("action = \"deny\"\n{extra}"));
        assert!(e.starts_with("/p.toml:7:"), "{extra}: {e}");
        assert!(e.contains("deny rule \"r\" must not have"), "{extra}: {e}");
    }
}
