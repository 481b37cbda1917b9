//! A rule's caller-option keys (src/policy/caller.rs): `preserve_env`,
//! `caller_options`, `timeout`. Refused on deny rules, which never run
//! anything.
#![forbid(unsafe_code)]

use super::*;
use crate::policy::caller::{CALLER_OPTION_NAMES, CallerOptions, PRESERVE_GROUPS, PreserveEnv};

pub(super) fn caller_options(
    ctx: &Ctx<'_>,
    name: &str,
    raw: &RawRule,
    action: Action,
) -> Result<CallerOptions, PolicyError> {
    if action == Action::Deny {
        let given = [
            raw.preserve_env
                .as_ref()
                .map(|v| ("preserve_env", v.span())),
            raw.caller_options
                .as_ref()
                .map(|v| ("caller_options", v.span())),
            raw.timeout.as_ref().map(|v| ("timeout", v.span())),
        ];
        no_run_keys_on_deny(ctx, name, given)?;
    }
    let mut out = CallerOptions::default();
    if let Some(p) = &raw.preserve_env {
        out.preserve_env = match p.get_ref() {
            RawPreserveEnv::All(true) => Some(PreserveEnv::All),
            RawPreserveEnv::All(false) => None,
            RawPreserveEnv::Only(list) if list.is_empty() => {
                return Err(ctx.err(
                    &p.span(),
                    format!("rule {name:?}: preserve_env is empty (leave it out to refuse -E)"),
                ));
            }
            RawPreserveEnv::Only(list) => {
                // env_keep's entries and checks: names or PREFIX*, no LD_*.
                for v in list {
                    let n = v.strip_suffix('*').unwrap_or(v);
                    if !is_env_name(n) || is_forbidden_env(n) {
                        return Err(ctx.err(
                            &p.span(),
                            format!(
                                "rule {name:?}: preserve_env entry {v:?} must be a variable name or a \
                                 PREFIX* pattern, and never LD_* or BASH_FUNC_*"
                            ),
                        ));
                    }
                }
                Some(PreserveEnv::Only(list.clone()))
            }
        };
    }
    if let Some(list) = &raw.caller_options {
        for o in list.get_ref() {
            match o.get_ref().as_str() {
                PRESERVE_GROUPS => out.preserve_groups = true,
                other => {
                    return Err(ctx.err(
                        &o.span(),
                        format!(
                            "caller_options entry {other:?} is not one of {}",
                            CALLER_OPTION_NAMES.join(", ")
                        ),
                    ));
                }
            }
        }
    }
    if let Some(t) = &raw.timeout {
        let secs =
            parse_duration(t.get_ref()).map_err(|m| ctx.err(&t.span(), format!("timeout: {m}")))?;
        if secs == 0 {
            return Err(ctx.err(
                &t.span(),
                "timeout must be longer than 0 (leave it out for no timeout)",
            ));
        }
        out.timeout = Some(secs);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::policy::caller::PreserveEnv;
    use crate::policy::parse::parse_main;
    use std::path::Path;

    fn rule(keys: &str) -> Result<crate::policy::model::Rule, String> {
        let src = format!(
            "version = 1\n[[rule]]\nname = \"r\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n{keys}\n"
        );
        parse_main(&src, Path::new("/p.toml"))
            .map(|mut p| p.rules.remove(0))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn keys() {
        let r =
            rule("preserve_env = true\ncaller_options = [\"preserve_groups\"]\ntimeout = \"30m\"")
                .unwrap();
        assert_eq!(r.caller.preserve_env, Some(PreserveEnv::All));
        assert!(r.caller.preserve_groups);
        assert_eq!(r.caller.timeout, Some(1800));
        let r = rule("preserve_env = [\"HTTP_PROXY\", \"APP_*\"]").unwrap();
        assert_eq!(
            r.caller.preserve_env,
            Some(PreserveEnv::Only(vec!["HTTP_PROXY".into(), "APP_*".into()]))
        );
        assert!(rule("preserve_env = false").unwrap().caller.is_unset());
        assert!(rule("").unwrap().caller.is_unset());
    }

    #[test]
    fn bad_values() {
        for (keys, says) in [
            ("preserve_env = []", "preserve_env is empty"),
            ("preserve_env = [\"LD_PRELOAD\"]", "never LD_*"),
            ("preserve_env = [\"A B\"]", "variable name"),
            ("preserve_env = \"yes\"", ""),
            (
                "caller_options = [\"background\"]",
                "not one of preserve_groups",
            ),
            ("timeout = \"0\"", "longer than 0"),
            ("timeout = \"soon\"", "timeout:"),
            (
                "action = \"deny\"\npreserve_env = true",
                "must not have `preserve_env`",
            ),
            (
                "action = \"deny\"\ntimeout = \"1m\"",
                "must not have `timeout`",
            ),
        ] {
            let e = rule(keys).expect_err(keys);
            assert!(e.contains(says), "{keys}: {e}");
        }
    }
}
