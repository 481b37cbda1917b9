//! `noexec` (belladonna-policy(5)): what it changes that an administrator
//! may not expect, as INFO findings (docs/lint.md).
#![forbid(unsafe_code)]

use super::{Finding, Severity, finding, targets_root};
use crate::policy::model::Policy;

/// A noexec rule with `monitor = false` (noexec implies monitor mode),
/// and a noexec rule that may run as root without `caps` (the filter
/// needs no_new_privs: root keeps no capability).
pub(super) fn lint_noexec(p: &Policy, out: &mut Vec<Finding>) {
    for rule in p.rules.iter().filter(|r| !r.is_deny()) {
        let s = rule.session.or(p.defaults.session);
        if s.noexec != Some(true) {
            continue;
        }
        if s.monitor == Some(false) {
            out.push(finding(
                Severity::Info,
                rule,
                format!(
                    "rule {:?}: noexec implies monitor mode; monitor = false is overridden",
                    rule.name
                ),
            ));
        }
        if targets_root(rule) && rule.caps.is_empty() {
            out.push(finding(
                Severity::Info,
                rule,
                format!(
                    "rule {:?}: noexec needs no_new_privs, so a root target keeps no capability \
                     (grant what the command needs with `caps`)",
                    rule.name
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint_text(text: &str) -> Vec<String> {
        let p = crate::policy::parse::parse_main(text, std::path::Path::new("/p.toml"))
            .expect("parses");
        let mut out = Vec::new();
        lint_noexec(&p, &mut out);
        out.into_iter().map(|f| f.message).collect()
    }

    #[test]
    fn monitor_off_and_root_without_caps() {
        let rule = "[[rule]]\nname = \"r\"\nusers = [\"a\"]\ncommands = [\"/usr/bin/less *\"]\n";
        let m = lint_text(&format!(
            "version = 1\n{rule}noexec = true\nmonitor = false\n"
        ));
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[0].contains("monitor = false is overridden"), "{m:?}");
        assert!(m[1].contains("root target keeps no capability"), "{m:?}");
        // From [defaults], for a non-root target with caps: nothing to say.
        let m = lint_text(&format!(
            "version = 1\n[defaults]\nnoexec = true\n{rule}run_as = [\"www-data\"]\n"
        ));
        assert!(m.is_empty(), "{m:?}");
        let m = lint_text(&format!("version = 1\n[defaults]\nnoexec = true\n{rule}"));
        assert_eq!(m.len(), 1, "{m:?}");
        let m = lint_text(&format!("version = 1\n{rule}"));
        assert!(m.is_empty(), "{m:?}");
    }
}
