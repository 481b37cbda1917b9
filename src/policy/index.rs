//! The caller index (issue 16): which rules can apply to a caller, found
//! without looking at the others.
//!
//! A rule applies to a caller when one of its `users` entries names the
//! caller's user (by name or `#uid`) or one of its `groups` entries one of
//! the caller's groups (by name or `#gid`): [`crate::policy::matcher::rule_matches_caller`]. Every
//! decision ([`crate::decide::decide`], `default_target`,
//! `deny_without_target`, `rules_for_caller`, hence `bdexec -l`) first
//! drops the rules that do not apply to the caller, so a policy that
//! holds only the rules found through the caller's keys decides every
//! request of that caller exactly as the whole policy does (deny rules
//! included: a deny rule that applies to the caller is found by the same
//! keys). The property test below checks that against the full scan.
//!
//! The index is pure data; [`crate::policy::cache`] stores it with the
//! rules' text so a call parses only its candidates.
#![forbid(unsafe_code)]

use crate::policy::model::{Policy, Principal, Rule};
use crate::request::Caller;
use std::collections::BTreeMap;

/// One way a rule can reach a caller.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// `users = ["#1000"]`
    Uid(u32),
    /// `users = ["alice"]`
    User(String),
    /// `groups = ["#27"]`
    Gid(u32),
    /// `groups = ["ops"]`
    Group(String),
}

impl Key {
    /// A compact byte form (tag, then the id or name), for the cache.
    pub fn encode(&self) -> Vec<u8> {
        let (tag, body): (u8, Vec<u8>) = match self {
            Key::Uid(u) => (b'u', u.to_le_bytes().to_vec()),
            Key::User(n) => (b'U', n.as_bytes().to_vec()),
            Key::Gid(g) => (b'g', g.to_le_bytes().to_vec()),
            Key::Group(n) => (b'G', n.as_bytes().to_vec()),
        };
        let mut out = Vec::with_capacity(1 + body.len());
        out.push(tag);
        out.extend_from_slice(&body);
        out
    }
}

/// The keys of a rule: one per `users` and `groups` entry that can match
/// anything (the parser keeps `ALL` and `%group` out of these lists; they
/// would match nothing, so they have no key).
pub fn rule_keys(rule: &Rule) -> Vec<Key> {
    let users = rule.users.iter().filter_map(|p| match p {
        Principal::Name(n) => Some(Key::User(n.clone())),
        Principal::Id(u) => Some(Key::Uid(*u)),
        _ => None,
    });
    let groups = rule.groups.iter().filter_map(|p| match p {
        Principal::Name(n) => Some(Key::Group(n.clone())),
        Principal::Id(g) => Some(Key::Gid(*g)),
        _ => None,
    });
    users.chain(groups).collect()
}

/// The keys of a caller: its uid and name, its gids and group names.
pub fn caller_keys(caller: &Caller) -> Vec<Key> {
    let mut keys = vec![Key::Uid(caller.uid)];
    keys.extend(caller.name.iter().map(|n| Key::User(n.clone())));
    keys.extend(caller.gids.iter().map(|g| Key::Gid(*g)));
    keys.extend(caller.group_names.iter().map(|n| Key::Group(n.clone())));
    keys
}

/// Key -> the positions (policy order) of the rules that carry it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    pub map: BTreeMap<Key, Vec<u32>>,
}

impl Index {
    pub fn build(rules: &[Rule]) -> Index {
        let mut map: BTreeMap<Key, Vec<u32>> = BTreeMap::new();
        for (i, r) in rules.iter().enumerate() {
            for k in rule_keys(r) {
                let v = map.entry(k).or_default();
                // A rule naming the same key twice is listed once.
                if v.last() != Some(&(i as u32)) {
                    v.push(i as u32);
                }
            }
        }
        Index { map }
    }

    /// Whether some rule names a group by name (the caller's group names
    /// are then needed: an NSS lookup per group, skipped otherwise).
    pub fn names_groups(&self) -> bool {
        self.map.keys().any(|k| matches!(k, Key::Group(_)))
    }

    /// The positions of the rules that can apply to the caller, in policy
    /// order, each once.
    pub fn candidates(&self, caller: &Caller) -> Vec<u32> {
        let mut out: Vec<u32> = caller_keys(caller)
            .iter()
            .filter_map(|k| self.map.get(k))
            .flatten()
            .copied()
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The policy as one caller sees it: everything but the rules as is, and
/// only the rules that can apply to the caller, in policy order.
pub fn for_caller(policy: &Policy, caller: &Caller) -> Policy {
    let idx = Index::build(&policy.rules);
    let rules = idx
        .candidates(caller)
        .into_iter()
        .filter_map(|i| policy.rules.get(i as usize).cloned())
        .collect();
    Policy {
        rules,
        ..policy.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse::parse_main;
    use std::path::Path;

    #[test]
    fn candidates_by_uid_name_gid_and_group() {
        let src = "version = 1\n\
            [[rule]]\nname = \"a\"\nusers = [\"alice\"]\ncommands = [\"/bin/ls\"]\n\
            [[rule]]\nname = \"b\"\nusers = [\"#1001\"]\ncommands = [\"/bin/ls\"]\n\
            [[rule]]\nname = \"c\"\ngroups = [\"ops\", \"#50\"]\naction = \"deny\"\ncommands = [\"/bin/ls\"]\n\
            [[rule]]\nname = \"d\"\ngroups = [\"#77\"]\ncommands = [\"/bin/ls\"]\n";
        let p = parse_main(src, Path::new("/p.toml")).unwrap_or_else(|e| panic!("{e}"));
        let idx = Index::build(&p.rules);
        assert!(idx.names_groups());
        let alice = Caller {
            uid: 1000,
            gid: 1000,
            name: Some("alice".into()),
            gids: vec![1000, 50],
            group_names: vec!["alice".into(), "ops".into()],
        };
        // "c" through two keys, listed once.
        assert_eq!(idx.candidates(&alice), vec![0, 2]);
        let bob = Caller {
            uid: 1001,
            gid: 77,
            name: None,
            gids: vec![77],
            group_names: vec![],
        };
        assert_eq!(idx.candidates(&bob), vec![1, 3]);
        let names: Vec<_> = for_caller(&p, &bob)
            .rules
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["b", "d"]);
    }
}
