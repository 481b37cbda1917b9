//! Lint of incident response (docs/incident-response.md, docs/lint.md):
//! - ERROR: a decoy that shadows a real rule: an allow rule for a shared
//!   user or group grants an argv the decoy also matches. bdexec checks
//!   decoys first, so the real grant would never run and every legitimate
//!   use would raise the alarm.
//! - WARN: `auto_freeze = true` with decoys but no `break_glass` rule: an
//!   automatic freeze then locks every administrator out until approvers
//!   sign unfreeze tokens.
#![forbid(unsafe_code)]

use super::{Finding, Severity, finding, overlaps, shares_principal};
use crate::policy::cmdline::render;
use crate::policy::model::Policy;

pub(super) fn lint_incident(p: &Policy, out: &mut Vec<Finding>) {
    for d in &p.incident.decoy_rules {
        for r in p
            .rules
            .iter()
            .filter(|r| !r.is_deny() && shares_principal(r, d))
        {
            if let Some((dc, _)) = d
                .commands
                .iter()
                .flat_map(|dc| r.commands.iter().map(move |rc| (dc, rc)))
                .find(|(dc, rc)| overlaps(dc, rc))
            {
                out.push(finding(
                    Severity::Error,
                    d,
                    format!(
                        "decoy {:?} shadows rule {:?} ({}): the rule's grant would never run and each legitimate use would raise the decoy alarm",
                        d.name,
                        r.name,
                        render(dc)
                    ),
                ));
            }
        }
    }
    let s = p.incident.settings_or_default();
    if s.auto_freeze && !p.incident.decoy_rules.is_empty() && p.incident.break_glass.is_empty() {
        out.push(Finding {
            severity: Severity::Warn,
            origin: None,
            message: "[incident] auto_freeze = true with decoys but no rule has break_glass = true: an automatic freeze leaves no way to run anything until approvers sign unfreeze tokens".into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(src: &str) -> Vec<Finding> {
        let p =
            crate::policy::parse::parse_main(src, std::path::Path::new("p.toml")).expect("parses");
        let mut out = Vec::new();
        lint_incident(&p, &mut out);
        out
    }

    const REAL: &str = "version = 1\n[[rule]]\nname = \"real\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/shred *\"]\n";

    #[test]
    fn decoy_shadowing_a_rule_is_an_error() {
        let f = lint(&format!(
            "{REAL}[[decoy]]\nname = \"d\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/shred /dev/sda\"]\n"
        ));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Error);
        assert!(f[0].message.contains("shadows rule \"real\""));
        // Another user, or another command: no finding.
        assert!(lint(&format!(
            "{REAL}[[decoy]]\nname = \"d\"\nusers = [\"bob\"]\ncommands = [\"/usr/bin/shred /dev/sda\"]\n"
        ))
        .is_empty());
        assert!(lint(&format!(
            "{REAL}[[decoy]]\nname = \"d\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/base32\"]\n"
        ))
        .is_empty());
    }

    #[test]
    fn auto_freeze_without_break_glass_warns() {
        let decoy =
            "[[decoy]]\nname = \"d\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/base32\"]\n";
        let f = lint(&format!("{REAL}[incident]\nauto_freeze = true\n{decoy}"));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Warn);
        let glass = REAL.replace("commands", "break_glass = true\ncommands");
        assert!(lint(&format!("{glass}[incident]\nauto_freeze = true\n{decoy}")).is_empty());
        assert!(lint(&format!("{REAL}[incident]\nauto_freeze = false\n{decoy}")).is_empty());
    }
}
