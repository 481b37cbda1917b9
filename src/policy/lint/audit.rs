//! Lint of `[audit]`, the audit log's degrade ladder (docs/durability.md,
//! docs/lint.md):
//! - WARN: `on_full` or `on_io_error` = "journald": on that fault records
//!   go to journald only (not chained, not in the file) and calls run.
//! - WARN: `critical_space` not below `low_space` (same unit): the
//!   warning stage is never seen before calls are refused.
//! - WARN: `critical_space` set but no rule has `break_glass = true`: at
//!   that level nothing runs.
#![forbid(unsafe_code)]

use super::{Finding, Severity};
use crate::policy::audit::{Sink, Space};
use crate::policy::model::Policy;

pub(super) fn lint_audit(p: &Policy, out: &mut Vec<Finding>) {
    let a = &p.audit;
    let warn = |out: &mut Vec<Finding>, message: String| {
        out.push(Finding {
            severity: Severity::Warn,
            origin: None,
            message,
        });
    };
    for (key, sink, fault) in [
        ("on_full", a.on_full, "the log's file system is full"),
        ("on_io_error", a.on_io_error, "the log has an I/O error"),
    ] {
        if sink == Sink::Journald {
            warn(
                out,
                format!(
                    "[audit] {key} = \"journald\": when {fault}, records go to journald only (not hash-chained, not in the audit log) and commands still run"
                ),
            );
        }
    }
    let not_below = match (a.critical_space, a.low_space) {
        (Some(Space::Percent(c)), Some(Space::Percent(l))) => c >= l,
        (Some(Space::Bytes(c)), Some(Space::Bytes(l))) => c >= l,
        _ => false,
    };
    if not_below {
        warn(
            out,
            "[audit] critical_space is not below low_space: calls are refused without a low-space warning first".into(),
        );
    }
    if a.critical_space.is_some() && p.incident.break_glass.is_empty() {
        warn(
            out,
            "[audit] critical_space is set but no rule has break_glass = true: at that level nothing runs".into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(audit: &str, glass: bool) -> Vec<Finding> {
        let g = if glass { "break_glass = true\n" } else { "" };
        let src = format!(
            "version = 1\n[audit]\n{audit}\n[[rule]]\nname = \"r\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/id\"]\n{g}"
        );
        let p =
            crate::policy::parse::parse_main(&src, std::path::Path::new("p.toml")).expect("parses");
        let mut out = Vec::new();
        lint_audit(&p, &mut out);
        out
    }

    #[test]
    fn weaker_sinks_and_thresholds_warn() {
        assert!(lint("", false).is_empty());
        assert!(lint("low_space = \"20%\"\ncritical_space = \"5%\"", true).is_empty());
        let f = lint("on_full = \"journald\"\non_io_error = \"journald\"", false);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0].message.contains("on_full = \"journald\""));
        assert!(f[1].message.contains("on_io_error"));
        let f = lint("low_space = \"5%\"\ncritical_space = \"5%\"", true);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("not below low_space"));
        let f = lint("critical_space = \"1G\"", false);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("no rule has break_glass"));
        assert!(f.iter().all(|f| f.severity == Severity::Warn));
    }
}
