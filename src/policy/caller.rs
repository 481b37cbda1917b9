//! What a rule lets the caller ask for on bdexec's command line (issue
//! 14, belladonna-policy(5) "CALLER OPTIONS"): the keys `preserve_env`,
//! `caller_options` and `timeout`. Plain data; parsed in
//! `parse/caller.rs`, used by bdexec's `validate` and `launch` phases.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

/// `preserve_env`: which caller variables `-E` / `--preserve-env` may
/// keep (sudo's SETENV tag; bdexec's `setenv` already names the table of
/// variables a rule sets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreserveEnv {
    /// `preserve_env = true`: any variable (the value checks still apply).
    All,
    /// `preserve_env = ["NAME", "PREFIX*", ...]`: only these.
    Only(Vec<String>),
}

impl PreserveEnv {
    /// True when the variable `name` may be kept.
    pub fn allows(&self, name: &str) -> bool {
        match self {
            PreserveEnv::All => true,
            PreserveEnv::Only(list) => list.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => p == name,
            }),
        }
    }
}

/// A caller option a rule allows with `caller_options = [...]`.
pub const PRESERVE_GROUPS: &str = "preserve_groups";

/// Every name `caller_options` accepts.
pub const CALLER_OPTION_NAMES: &[&str] = &[PRESERVE_GROUPS];

/// The caller-option keys of one rule; all unset by default. Not
/// serialized when unset, so rules without them keep their hash.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerOptions {
    /// `preserve_env`: what `-E` may keep; `None` refuses `-E`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_env: Option<PreserveEnv>,
    /// `caller_options = ["preserve_groups"]`: `-P` allowed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preserve_groups: bool,
    /// `timeout = "DURATION"` (seconds, > 0): monitor mode ends the
    /// command after it; `-T` may only shorten it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
}

impl CallerOptions {
    /// True when no key is set.
    pub fn is_unset(&self) -> bool {
        *self == CallerOptions::default()
    }

    /// The keys as `bdexec -l` shows them after `auth=`: each set key as
    /// ` preserve_env=true`, ` preserve_env=A,B*`, ` preserve_groups`,
    /// ` timeout=SECONDSs`; empty when none is set.
    pub fn listing(&self) -> String {
        let mut out = String::new();
        match &self.preserve_env {
            None => {}
            Some(PreserveEnv::All) => out.push_str(" preserve_env=true"),
            Some(PreserveEnv::Only(l)) => {
                out.push_str(" preserve_env=");
                out.push_str(&l.join(","));
            }
        }
        if self.preserve_groups {
            out.push_str(" preserve_groups");
        }
        if let Some(t) = self.timeout {
            out.push_str(&format!(" timeout={t}s"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists() {
        let only = PreserveEnv::Only(vec!["HTTP_PROXY".into(), "ANSIBLE_*".into()]);
        assert!(only.allows("HTTP_PROXY"));
        assert!(only.allows("ANSIBLE_X"));
        assert!(!only.allows("HTTP_PROXY2"));
        assert!(!only.allows("EDITOR"));
        assert!(PreserveEnv::All.allows("EDITOR"));
        assert!(CallerOptions::default().is_unset());
        assert_eq!(CallerOptions::default().listing(), "");
        let o = CallerOptions {
            preserve_env: Some(only),
            preserve_groups: true,
            timeout: Some(30),
        };
        assert_eq!(
            o.listing(),
            " preserve_env=HTTP_PROXY,ANSIBLE_* preserve_groups timeout=30s"
        );
    }
}
