//! The privilege diff: what changes in EFFECT between two policies, not
//! in text. Pure: no I/O.
//!
//! Two layers, merged into one list of [`Change`]s:
//!
//! 1. **Semantic probes** (who may run what as whom): for every principal
//!    (user or group, name or `#id`) named in either policy, a synthetic
//!    caller that matches exactly that principal asks, under both
//!    policies and through [`crate::decide::decide`] itself, for every
//!    command path named in a rule that applies to it, with the argument
//!    lists instantiated from every command entry of that path (the exact
//!    arguments, the arguments plus one more, no arguments), as every
//!    target named in those rules' `run_as` (each name, each `#uid`, and
//!    each name/uid pair). Paths are compared as strings: a synthetic
//!    [`FileIds`] gives each distinct path (and each directory of one) its
//!    own identity, and each probe names the command by the path itself
//!    (so the engine's name comparison for allow rules, and its
//!    file-only comparison for deny rules, agree here). A request
//!    denied by A and allowed by B is a `grant` (widening), the reverse a
//!    `revoke` (narrowing); when both allow through different rules, a
//!    weaker authentication, added capabilities or a looser sandbox are
//!    reported too.
//! 2. **Rule-level comparison**, keyed by rule name (rules present in
//!    both), and by profile name for `[sandbox.NAME]`: action, auth, caps,
//!    explicit sandbox reference, setenv, digest pins, approval
//!    requirements (`approvals`, `approvers`, `nonce_namespace`), `rate`
//!    limits; the deny rules as a set of (principal, command entry,
//!    target) triples (a triple that disappears is a widening even when no
//!    allow rule is affected: a caller in several groups can be affected);
//!    the policy's `[approvers.NAME]` (key, epoch); defaults (including
//!    `timestamp_timeout`); the `decoy` segment (neutral "changed" when its
//!    hash differs).
//!
//! Why single-principal probes plus deny triples are complete for the
//! allow/deny decision (checked by the property test below): if A denies
//! and B allows a caller C, either a deny rule of A that matched C is gone
//! from B (a deny triple line names a principal C matches and the path),
//! or no allow rule of A matched C, and then the caller matching only the
//! principal p through which B's allow rule matched C is also denied by A
//! and allowed by B (its rules are a subset of C's). Symmetrically for
//! narrowing. The argument instances cover every equivalence class of
//! argument lists: which entries an argument list matches depends only on
//! which entry lists equal it or are its prefix, and the extra argument
//! is a byte string no policy can contain (invalid UTF-8).
#![forbid(unsafe_code)]

use crate::decide::{Decision, decide};
use crate::policy::cmdline::render_parts;
use crate::policy::hash::{hex, policy_hash, segment_hashes};
use crate::policy::model::{
    Action, Args, Auth, Defaults, LandlockSpec, Policy, Principal, Rate, Rule, SandboxProfile,
    SeccompAction, SeccompSpec,
};
use crate::request::{Caller, FileId, FileIds, Invoked, Request, Target, split_name};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

mod caller;
mod defaults;
mod probes;
mod rules;
mod sandbox;
use caller::*;
use defaults::*;
use probes::*;
pub use rules::*;
use sandbox::*;

/// Whether a change gives more privilege, less, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Widening,
    Narrowing,
    Neutral,
}

impl Effect {
    /// The text-output prefix: `+` widening, `-` narrowing, `~` neutral.
    pub fn sign(self) -> char {
        match self {
            Effect::Widening => '+',
            Effect::Narrowing => '-',
            Effect::Neutral => '~',
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Widening => "widening",
            Effect::Narrowing => "narrowing",
            Effect::Neutral => "neutral",
        }
    }
}

/// What a change is about (the second word of a text line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A request denied by A is allowed by B.
    Grant,
    /// A request allowed by A is denied by B.
    Revoke,
    /// The authentication a request or rule needs.
    Auth,
    /// An approval rule's requirements: `approvals`, `approvers`,
    /// `nonce_namespace`.
    Approval,
    /// The policy's `[approvers.NAME]`: added, removed, key, epoch.
    Approver,
    /// A rule's `rate` limit.
    Rate,
    /// Deny rules: a (principal, command, target) triple added or lifted.
    Deny,
    /// A rule's `action`.
    Action,
    /// Capability grants.
    Caps,
    /// A rule's or the defaults' sandbox profile as a whole.
    Sandbox,
    /// Landlock paths, ports, scopes, min_abi.
    Landlock,
    /// Seccomp allow/deny lists and action.
    Seccomp,
    /// `setenv`.
    Setenv,
    /// A rule's own `env_keep` and `secure_path` (compared as what the
    /// rule's commands get: the defaults' list plus the rule's, the
    /// rule's path or the defaults').
    Env,
    /// Digest pins.
    Digest,
    /// `[defaults]` keys.
    Defaults,
    /// Rules and profiles added, removed (context; their effect is in the
    /// grant/revoke/deny lines).
    Rule,
    /// A segment without a finer comparison (decoy).
    Segment,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Grant => "grant",
            ChangeKind::Revoke => "revoke",
            ChangeKind::Auth => "auth",
            ChangeKind::Approval => "approval",
            ChangeKind::Approver => "approver",
            ChangeKind::Rate => "rate",
            ChangeKind::Deny => "deny",
            ChangeKind::Action => "action",
            ChangeKind::Caps => "caps",
            ChangeKind::Sandbox => "sandbox",
            ChangeKind::Landlock => "landlock",
            ChangeKind::Seccomp => "seccomp",
            ChangeKind::Setenv => "setenv",
            ChangeKind::Env => "env",
            ChangeKind::Digest => "digest",
            ChangeKind::Defaults => "defaults",
            ChangeKind::Rule => "rule",
            ChangeKind::Segment => "segment",
        }
    }
}

/// A user or group principal (for "who does this change concern").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Who {
    User(Principal),
    Group(Principal),
}

impl Who {
    /// `user alice`, `group #50`.
    pub fn label(&self) -> String {
        match self {
            Who::User(p) => format!("user {p}"),
            Who::Group(p) => format!("group {p}"),
        }
    }

    /// Whether a caller is concerned (the decision engine's matching).
    pub fn matches(&self, caller: &Caller) -> bool {
        match self {
            Who::User(p) => crate::policy::matcher::user_matches(p, caller),
            Who::Group(p) => crate::policy::matcher::group_matches(p, caller),
        }
    }
}

/// One effective change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    /// `user alice`, `group ops`, `rule NAME`, `sandbox NAME`,
    /// `approver NAME`, `defaults`, `segment decoy`.
    pub subject: String,
    pub detail: String,
    pub effect: Effect,
    /// The principal a grant/revoke/deny line is about.
    #[serde(skip)]
    pub who: Option<Who>,
    /// The command path a grant/revoke/deny line is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

impl Change {
    fn key(&self) -> (ChangeKind, &str, &str, Effect) {
        (self.kind, &self.subject, &self.detail, self.effect)
    }

    /// One text line: `+ grant user bob: /usr/bin/id as root (...)`,
    /// control characters escaped.
    pub fn line(&self) -> String {
        // `~ rule NAME: added`, not `~ rule rule NAME: added`.
        let kind = self.kind.as_str();
        let redundant = self.subject == kind
            || self
                .subject
                .strip_prefix(kind)
                .is_some_and(|rest| rest.starts_with(' '));
        let raw = if redundant {
            format!("{} {}: {}", self.effect.sign(), self.subject, self.detail)
        } else {
            format!(
                "{} {} {}: {}",
                self.effect.sign(),
                kind,
                self.subject,
                self.detail
            )
        };
        let mut s = String::with_capacity(raw.len());
        // Writing into a String cannot fail.
        let _ = crate::policy::one_line(&raw, &mut s);
        s
    }
}

/// Counts per effect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub widening: usize,
    pub narrowing: usize,
    pub neutral: usize,
}

/// The result of [`diff`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    pub hash_a: [u8; 32],
    pub hash_b: [u8; 32],
    /// Segments whose canonical form differs, in the order `auth`,
    /// `rate`, `sandbox`, `decoy`, `defaults` (the last: `[defaults]`
    /// other than `sandbox`, which belongs to the sandbox segment).
    pub segments: Vec<&'static str>,
    /// Sorted by kind, subject, detail; no duplicates.
    pub changes: Vec<Change>,
}

impl Diff {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.effect {
                Effect::Widening => s.widening += 1,
                Effect::Narrowing => s.narrowing += 1,
                Effect::Neutral => s.neutral += 1,
            }
        }
        s
    }

    /// Whether anything widens privilege.
    pub fn widens(&self) -> bool {
        self.changes.iter().any(|c| c.effect == Effect::Widening)
    }

    /// One line per change, then the hash line and the summary line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for c in &self.changes {
            out.push_str(&c.line());
            out.push('\n');
        }
        if self.hash_a == self.hash_b {
            out.push_str("hash: identical\n");
        } else {
            out.push_str(&format!("hash: differs ({})\n", self.segments.join(", ")));
        }
        let s = self.summary();
        out.push_str(&format!(
            "summary: {} widening, {} narrowing, {} neutral\n",
            s.widening, s.narrowing, s.neutral
        ));
        out
    }

    /// The same as JSON: `{"hash_a", "hash_b", "segments", "changes":
    /// [{kind, subject, detail, effect, path?}], "summary"}`.
    pub fn render_json(&self) -> String {
        #[derive(Serialize)]
        struct J<'a> {
            hash_a: String,
            hash_b: String,
            segments: &'a [&'static str],
            changes: &'a [Change],
            summary: Summary,
        }
        let j = J {
            hash_a: hex(&self.hash_a),
            hash_b: hex(&self.hash_b),
            segments: &self.segments,
            changes: &self.changes,
            summary: self.summary(),
        };
        serde_json::to_string(&j).unwrap_or_else(|e| {
            // Not reachable (plain strings and numbers); never panic.
            format!("{{\"error\":{:?}}}", e.to_string())
        })
    }
}

/// Segments (and `defaults`) whose canonical form differs.
pub fn changed_segments(a: &Policy, b: &Policy) -> Vec<&'static str> {
    let (sa, sb) = (segment_hashes(a), segment_hashes(b));
    let mut out = Vec::new();
    if sa.auth != sb.auth {
        out.push("auth");
    }
    if sa.rate != sb.rate {
        out.push("rate");
    }
    if sa.sandbox != sb.sandbox {
        out.push("sandbox");
    }
    if sa.decoy != sb.decoy {
        out.push("decoy");
    }
    if !defaults_equal(&a.defaults, &b.defaults) {
        out.push("defaults");
    }
    out
}

/// `[defaults]` equal apart from `sandbox` (sandbox segment).
fn defaults_equal(a: &Defaults, b: &Defaults) -> bool {
    let (mut x, mut y) = (a.clone(), b.clone());
    x.sandbox = None;
    y.sandbox = None;
    x == y
}

/// The effective change from policy `a` (old) to policy `b` (new).
pub fn diff(a: &Policy, b: &Policy) -> Diff {
    let hash_a = policy_hash(a);
    let hash_b = policy_hash(b);
    let mut out = Out::default();
    if hash_a != hash_b {
        probes(a, b, &mut out);
        deny_triples(a, b, &mut out);
        rules(a, b, &mut out);
        profiles(a, b, &mut out);
        approvers(a, b, &mut out);
        defaults(a, b, &mut out);
        // `rate` is compared rule by rule (`compare_rate`); the decoy
        // segment has no finer comparison yet.
        let (sa, sb) = (segment_hashes(a), segment_hashes(b));
        if sa.decoy != sb.decoy {
            out.push(
                ChangeKind::Segment,
                "segment decoy".into(),
                "changed".into(),
                Effect::Neutral,
            );
        }
    }
    let mut changes: Vec<Change> = out.0.into_values().collect();
    changes.sort_by(|x, y| x.key().cmp(&y.key()));
    Diff {
        hash_a,
        hash_b,
        segments: if hash_a == hash_b {
            Vec::new()
        } else {
            changed_segments(a, b)
        },
        changes,
    }
}

/// Collected changes, de-duplicated by their text.
#[derive(Default)]
struct Out(BTreeMap<(ChangeKind, String, String, Effect), Change>);

impl Out {
    fn add(&mut self, c: Change) {
        self.0
            .entry((c.kind, c.subject.clone(), c.detail.clone(), c.effect))
            .or_insert(c);
    }

    fn push(&mut self, kind: ChangeKind, subject: String, detail: String, effect: Effect) {
        self.add(Change {
            kind,
            subject,
            detail,
            effect,
            who: None,
            path: None,
        });
    }
}

#[cfg(test)]
mod tests;
