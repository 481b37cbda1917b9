//! Decoy grants (`[[decoy]]`, docs/incident-response.md): listed by
//! `bdexec -l` exactly as grants are, never run. A hit is refused with
//! the ordinary denial (haze) and recorded as an `alert`.
#![forbid(unsafe_code)]

use crate::policy::matcher::{matching_command, rule_matches_caller};
use crate::policy::model::{Policy, Rule};
use crate::request::{Caller, FileIds, Invoked};

/// The decoys that apply to the caller, in policy order (for `-l`).
pub fn for_caller<'p>(policy: &'p Policy, caller: &Caller) -> Vec<&'p Rule> {
    policy
        .incident
        .decoy_rules
        .iter()
        .filter(|r| rule_matches_caller(r, caller))
        .collect()
}

/// Rules and decoys in the order they are written: the main file first,
/// then the drop-ins by name, each by line (the rules' own order), so a
/// decoy shows where its `[[decoy]]` stands among the `[[rule]]`s.
pub fn listing<'p>(rules: Vec<&'p Rule>, decoys: Vec<&'p Rule>) -> Vec<&'p Rule> {
    fn key(r: &Rule) -> (bool, &std::path::Path, u32, u32) {
        let o = &r.origin;
        let dropin = o
            .file
            .parent()
            .is_some_and(|d| d.ends_with(crate::base::paths::DROPIN_NAME));
        (dropin, o.file.as_path(), o.line, o.col)
    }
    let mut all = rules;
    all.extend(decoys);
    // Stable: rules keep their relative order where keys tie.
    all.sort_by(|a, b| key(a).cmp(&key(b)));
    all
}

/// The first decoy whose users/groups match the caller and whose
/// commands match the request (by name and file, as an allow rule's).
/// The target does not matter: asking for a decoy as anyone is a hit.
pub fn hit<'p>(
    policy: &'p Policy,
    caller: &Caller,
    command: Invoked<'_>,
    args: &[Vec<u8>],
    files: &dyn FileIds,
) -> Option<&'p Rule> {
    policy
        .incident
        .decoy_rules
        .iter()
        .filter(|r| rule_matches_caller(r, caller))
        .find(|r| matching_command(r, command, args, files).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_puts_decoys_where_they_are_written() {
        let src = "version = 1\n\
            [[rule]]\nname = \"a\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/a\"]\n\
            [[decoy]]\nname = \"d\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/d\"]\n\
            [[rule]]\nname = \"b\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/b\"]\n";
        let p = crate::policy::parse::parse_main(src, std::path::Path::new("/etc/p.toml"))
            .expect("parses");
        let rules: Vec<&Rule> = p.rules.iter().collect();
        let decoys: Vec<&Rule> = p.incident.decoy_rules.iter().collect();
        let names: Vec<&str> = listing(rules, decoys)
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["a", "d", "b"]);
    }
}
