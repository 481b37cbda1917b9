//! `[audit]`: the audit log's degrade ladder (crate::audit::ladder,
//! docs/durability.md). Main file only.
#![forbid(unsafe_code)]

use super::raw::{RawFile, SStr};
use super::{Ctx, Origin, PolicyError};
use crate::policy::audit::{AuditSettings, Sink, Space};

/// The file's `[audit]` table, when it has one, with where it starts.
pub(super) fn audit_table(
    ctx: &Ctx<'_>,
    raw: &RawFile,
) -> Result<Option<(AuditSettings, Origin)>, PolicyError> {
    let Some(t) = &raw.audit else { return Ok(None) };
    let a = t.get_ref();
    let space = |key: &str, v: &Option<SStr>| {
        v.as_ref()
            .map(|v| {
                Space::parse(v.get_ref()).map_err(|m| ctx.err(&v.span(), format!("{key}: {m}")))
            })
            .transpose()
    };
    let sink = |key: &str, v: &Option<SStr>| {
        v.as_ref()
            .map(|v| {
                Sink::parse(v.get_ref()).map_err(|m| ctx.err(&v.span(), format!("{key}: {m}")))
            })
            .transpose()
            .map(Option::unwrap_or_default)
    };
    let s = AuditSettings {
        low_space: space("low_space", &a.low_space)?,
        critical_space: space("critical_space", &a.critical_space)?,
        on_full: sink("on_full", &a.on_full)?,
        on_io_error: sink("on_io_error", &a.on_io_error)?,
    };
    Ok(Some((s, ctx.origin(&t.span()))))
}

#[cfg(test)]
mod tests {
    use crate::policy::audit::{AuditSettings as Settings, Sink, Space};
    use crate::policy::parse::{merge, parse_main, parse_policy};
    use std::path::Path;

    const RULE: &str =
        "[[rule]]\nname = \"r\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/id\"]\n";

    fn parse(audit: &str) -> Result<Settings, String> {
        parse_main(
            &format!("version = 1\n[audit]\n{audit}\n{RULE}"),
            Path::new("p.toml"),
        )
        .map(|p| p.audit)
        .map_err(|e| e.to_string())
    }

    #[test]
    fn audit_table_parses() {
        assert_eq!(parse(""), Ok(Settings::default()));
        let s = parse(
            "low_space = \"20%\"\ncritical_space = \"64M\"\non_full = \"journald\"\non_io_error = \"deny\"",
        )
        .expect("valid");
        assert_eq!(s.low_space, Some(Space::Percent(20)));
        assert_eq!(s.critical_space, Some(Space::Bytes(64 << 20)));
        assert_eq!((s.on_full, s.on_io_error), (Sink::Journald, Sink::Deny));
        let none = parse_main(&format!("version = 1\n{RULE}"), Path::new("p.toml")).expect("ok");
        assert!(none.audit.is_default());
    }

    #[test]
    fn bad_audit_values_are_refused_with_their_position() {
        for (src, want) in [
            ("low_space = \"200%\"", "low_space"),
            ("critical_space = \"lots\"", "critical_space"),
            ("critical_space = 5", "invalid type"),
            ("on_full = \"ignore\"", "on_full"),
            ("on_io_error = \"syslog\"", "on_io_error"),
            ("on_error = \"deny\"", "unknown field"),
        ] {
            let e = parse(src).expect_err(src);
            assert!(e.contains(want), "{src}: {e}");
            assert!(e.contains("p.toml:"), "{src}: {e}");
        }
    }

    #[test]
    fn audit_table_is_main_file_only() {
        let main = parse_policy(&format!("version = 1\n{RULE}"), Path::new("p.toml")).expect("ok");
        let d = parse_policy("[audit]\non_full = \"journald\"\n", Path::new("d.toml")).expect("ok");
        let e = merge(main, vec![d]).expect_err("drop-in [audit]");
        assert!(
            e.to_string()
                .contains("only allowed in the main policy file"),
            "{e}"
        );
    }
}
