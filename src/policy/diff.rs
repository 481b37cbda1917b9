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

// ------------------------------------------------------------------ probes

/// The extra argument of an instance: invalid UTF-8, so no policy
/// argument can ever equal it.
const EXTRA: &[u8] = &[0xff];

/// Each distinct path its own identity.
struct SynIds(HashMap<PathBuf, FileId>);

impl FileIds for SynIds {
    fn id_of(&self, path: &Path) -> Option<FileId> {
        self.0.get(&strip_slash(path)).copied()
    }

    /// Every path of a probe is a plain file in a safe directory.
    fn dir_entry(&self, dir: &Path, name: &std::ffi::OsStr) -> Option<FileId> {
        self.id_of(&strip_slash(dir).join(name))
    }
}

/// A directory entry's path without its trailing '/' (`/` stays).
fn strip_slash(p: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let b = p.as_os_str().as_bytes();
    match b.strip_suffix(b"/") {
        Some(s) if !s.is_empty() => PathBuf::from(std::ffi::OsStr::from_bytes(s)),
        _ => p.to_path_buf(),
    }
}

/// The probe path standing for "any command no rule names" (`ALL`).
const ANY_COMMAND: &str = "/~any-command";

/// The probe path standing for "any command in directory `dir`" (one no
/// rule names).
fn any_in(dir: &Path) -> PathBuf {
    strip_slash(dir).join("~any-command")
}

/// The paths a command entry makes the probes ask for.
fn probe_path(c: &crate::policy::model::CommandSpec) -> PathBuf {
    use crate::policy::model::CommandKind;
    match c.kind {
        CommandKind::File => c.path.clone(),
        CommandKind::Dir => any_in(&c.path),
        CommandKind::All => PathBuf::from(ANY_COMMAND),
    }
}

/// How a probe path reads in a change line.
fn path_label(path: &Path) -> Option<String> {
    if path == Path::new(ANY_COMMAND) {
        return Some("ALL (any command)".into());
    }
    let (dir, name) = split_name(path)?;
    (name == "~any-command").then(|| format!("any command in {}/", dir.display()))
}

/// Ids and names no principal of either policy uses.
struct Synthetic {
    id: u32,
    name: String,
}

fn synthetic(a: &Policy, b: &Policy) -> Synthetic {
    let mut ids = HashSet::new();
    let mut names = HashSet::new();
    for r in a.rules.iter().chain(&b.rules) {
        for p in r.users.iter().chain(&r.groups).chain(&r.run_as) {
            match p {
                Principal::Id(i) | Principal::GroupId(i) => {
                    ids.insert(*i);
                }
                Principal::Name(n) | Principal::GroupName(n) => {
                    names.insert(n.as_str());
                }
                Principal::All => {}
            }
        }
    }
    let mut id = u32::MAX - 1;
    while ids.contains(&id) {
        id -= 1;
    }
    let mut name = String::from("~probe");
    let mut n = 0u64;
    while names.contains(name.as_str()) {
        n += 1;
        name = format!("~probe{n}");
    }
    Synthetic { id, name }
}

fn caller_for(who: &Who, syn: &Synthetic) -> Caller {
    let mut c = Caller {
        uid: syn.id,
        gid: syn.id,
        name: Some(syn.name.clone()),
        gids: vec![syn.id],
        group_names: Vec::new(),
    };
    match who {
        Who::User(Principal::Name(n)) => c.name = Some(n.clone()),
        Who::User(Principal::Id(i)) => c.uid = *i,
        Who::Group(Principal::Name(n)) => c.group_names = vec![n.clone()],
        Who::Group(Principal::Id(i)) => {
            c.gid = *i;
            c.gids = vec![*i];
        }
        // Never in `users` or `groups` (the parser refuses them).
        Who::User(Principal::All | Principal::GroupName(_) | Principal::GroupId(_))
        | Who::Group(Principal::All | Principal::GroupName(_) | Principal::GroupId(_)) => {}
    }
    c
}

fn rule_has(r: &Rule, who: &Who) -> bool {
    match who {
        Who::User(p) => r.users.contains(p),
        Who::Group(p) => r.groups.contains(p),
    }
}

/// A probe target: a name and/or a uid (the other part synthetic).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct TargetKey {
    name: Option<String>,
    uid: Option<u32>,
    /// A member of this group (`run_as = ["%g"]`), otherwise of none.
    group: Option<Principal>,
}

impl TargetKey {
    fn target(&self, syn: &Synthetic) -> Target {
        let uid = self.uid.unwrap_or(syn.id);
        let (gids, group_names) = match &self.group {
            Some(Principal::GroupName(g)) => (vec![uid], vec![g.clone()]),
            Some(Principal::GroupId(g)) => (vec![uid, *g], Vec::new()),
            _ => (vec![uid], Vec::new()),
        };
        Target {
            uid,
            gid: uid,
            name: self.name.clone().unwrap_or_else(|| syn.name.clone()),
            gids,
            group_names,
        }
    }

    fn label(&self) -> String {
        if let Some(g) = &self.group {
            return format!("a member of {g}");
        }
        match (&self.name, self.uid) {
            (Some(n), Some(u)) => format!("{n}(#{u})"),
            (Some(n), None) => n.clone(),
            (None, Some(u)) => format!("#{u}"),
            (None, None) => "any other account".into(),
        }
    }

    fn is_pair(&self) -> bool {
        self.name.is_some() && self.uid.is_some()
    }
}

/// What a decision amounts to, for comparing A with B.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome<'p> {
    Allow(&'p Rule),
    Deny(Option<&'p Rule>, crate::decide::DenyReason),
}

impl<'p> Outcome<'p> {
    fn of(d: Decision<'p>) -> Self {
        match d {
            Decision::Allow { rule, .. } => Outcome::Allow(rule),
            Decision::Deny { rule, reason } => Outcome::Deny(rule, reason),
        }
    }

    /// Comparable summary: allowed by which rule name with which auth.
    fn sig(&self) -> (bool, Option<&'p str>, Option<Auth>) {
        match self {
            Outcome::Allow(r) => (true, Some(r.name.as_str()), Some(r.auth)),
            Outcome::Deny(..) => (false, None, None),
        }
    }
}

fn render_instance(path: &Path, args: &[Vec<u8>]) -> String {
    let extra = args.last().is_some_and(|a| a.as_slice() == EXTRA);
    let words: Vec<String> = args
        .iter()
        .filter(|a| a.as_slice() != EXTRA)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let spec = if words.is_empty() {
        Args::None
    } else {
        Args::Exact(words)
    };
    let mut s = render_parts(path, &spec);
    if extra {
        s.push_str(" <more-args>");
    }
    s
}

fn auth_rank(a: Auth) -> u8 {
    match a {
        Auth::None => 0,
        Auth::Password => 1,
        Auth::Approval => 2,
    }
}

/// Effect of going from `a` to `b` where a higher rank is stricter.
fn by_rank(a: u8, b: u8) -> Effect {
    match b.cmp(&a) {
        std::cmp::Ordering::Less => Effect::Widening,
        std::cmp::Ordering::Greater => Effect::Narrowing,
        std::cmp::Ordering::Equal => Effect::Neutral,
    }
}

fn probes(a: &Policy, b: &Policy, out: &mut Out) {
    let syn = synthetic(a, b);
    // Every principal, with the rules naming it (sub-policies in order:
    // the synthetic caller matches exactly these rules).
    let mut whos: Vec<Who> = Vec::new();
    let mut seen = HashSet::new();
    for r in a.rules.iter().chain(&b.rules) {
        for p in &r.users {
            let w = Who::User(p.clone());
            if seen.insert(w.clone()) {
                whos.push(w);
            }
        }
        for p in &r.groups {
            let w = Who::Group(p.clone());
            if seen.insert(w.clone()) {
                whos.push(w);
            }
        }
    }
    // Path identities, and their directories' (allow rules compare the
    // directory and base name too: with one identity per path string that
    // adds nothing, but the engine needs them to match at all).
    let mut ids = HashMap::new();
    for r in a.rules.iter().chain(&b.rules) {
        for c in &r.commands {
            // A file entry's own path; for ALL and directories the probe
            // path standing for "any command" (there).
            let pp = probe_path(c);
            let n = ids.len() as u64;
            ids.entry(pp.clone())
                .or_insert(FileId { dev: 0, ino: n + 1 });
            if let Some((dir, _)) = split_name(&pp) {
                let n = ids.len() as u64;
                ids.entry(dir.to_path_buf())
                    .or_insert(FileId { dev: 0, ino: n + 1 });
            }
        }
    }
    let files = SynIds(ids);
    // Index rules by principal once (a 10,000-rule policy stays linear).
    let index = |p: &Policy| {
        let mut m: HashMap<Who, Vec<usize>> = HashMap::new();
        for (i, r) in p.rules.iter().enumerate() {
            for u in &r.users {
                m.entry(Who::User(u.clone())).or_default().push(i);
            }
            for g in &r.groups {
                m.entry(Who::Group(g.clone())).or_default().push(i);
            }
        }
        m
    };
    let (ia, ib) = (index(a), index(b));
    let empty = Vec::new();
    // An empty policy to fill with each principal's rules (built by
    // clearing a clone, so that fields added to the model need no change
    // here; the decision reads only the rules).
    let mut base = a.clone();
    base.rules = Vec::new();
    base.sandboxes = Vec::new();
    for who in &whos {
        let sub = |p: &Policy, ix: &HashMap<Who, Vec<usize>>| {
            let mut s = base.clone();
            s.rules = ix
                .get(who)
                .unwrap_or(&empty)
                .iter()
                .filter_map(|&i| p.rules.get(i))
                .filter(|r| rule_has(r, who))
                .map(|r| {
                    // Origins cleared: a moved but unchanged rule compares
                    // equal.
                    let mut r = r.clone();
                    r.origin = crate::policy::model::Origin {
                        file: PathBuf::new(),
                        line: 0,
                        col: 0,
                    };
                    r
                })
                .collect();
            s
        };
        let (pa, pb) = (sub(a, &ia), sub(b, &ib));
        if pa.rules == pb.rules {
            continue;
        }
        probe_principal(who, &pa, &pb, a, b, &syn, &files, out);
    }
}

/// The rules of `p` that name `path` in a command.
fn rules_with_path<'p>(p: &'p Policy, path: &Path) -> Vec<&'p Rule> {
    p.rules
        .iter()
        .filter(|r| r.commands.iter().any(|c| entry_covers(c, path)))
        .collect()
}

/// Whether a command entry can match the probe path: a file entry its own
/// path, ALL every path, a directory every path directly in it.
fn entry_covers(c: &crate::policy::model::CommandSpec, path: &Path) -> bool {
    use crate::policy::model::CommandKind;
    match c.kind {
        CommandKind::File => c.path == path,
        CommandKind::All => true,
        CommandKind::Dir => {
            split_name(path).map(|(d, _)| d) == Some(strip_slash(&c.path).as_path())
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn probe_principal(
    who: &Who,
    pa: &Policy,
    pb: &Policy,
    full_a: &Policy,
    full_b: &Policy,
    syn: &Synthetic,
    files: &SynIds,
    out: &mut Out,
) {
    let paths: BTreeSet<PathBuf> = pa
        .rules
        .iter()
        .chain(&pb.rules)
        .flat_map(|r| r.commands.iter().map(probe_path))
        .collect();
    let caller = caller_for(who, syn);
    // Each path separately: only the rules naming it can decide a request
    // for it, and a path whose rules are the same in A and B (for this
    // principal) cannot change.
    for path in &paths {
        let path = path.as_path();
        let (ra, rb) = (rules_with_path(pa, path), rules_with_path(pb, path));
        if ra == rb {
            continue;
        }
        let Some(cmd) = Invoked::named(path, files) else {
            continue;
        };
        let mut qa = pa.clone();
        qa.rules = ra.into_iter().cloned().collect();
        let mut qb = pb.clone();
        qb.rules = rb.into_iter().cloned().collect();
        let (qa, qb) = (&qa, &qb);
        // Argument instances and targets.
        let mut argsets: BTreeSet<Vec<Vec<u8>>> = BTreeSet::new();
        argsets.insert(Vec::new());
        let mut names = BTreeSet::new();
        let mut uids = BTreeSet::new();
        let mut groups: Vec<Principal> = Vec::new();
        let mut anyone = false;
        for r in qa.rules.iter().chain(&qb.rules) {
            for c in r.commands.iter().filter(|c| entry_covers(c, path)) {
                let v = match &c.args {
                    Args::None => continue,
                    Args::Exact(v) | Args::Prefix(v) => v,
                };
                let base: Vec<Vec<u8>> = v.iter().map(|s| s.as_bytes().to_vec()).collect();
                let mut more = base.clone();
                more.push(EXTRA.to_vec());
                argsets.insert(base);
                argsets.insert(more);
            }
            for t in &r.run_as {
                match t {
                    Principal::Name(n) => {
                        names.insert(n.clone());
                    }
                    Principal::Id(i) => {
                        uids.insert(*i);
                    }
                    Principal::All => anyone = true,
                    g @ (Principal::GroupName(_) | Principal::GroupId(_)) => {
                        anyone = true;
                        if !groups.contains(g) {
                            groups.push(g.clone());
                        }
                    }
                }
            }
        }
        let mut targets: Vec<TargetKey> = Vec::new();
        for n in &names {
            targets.push(TargetKey {
                name: Some(n.clone()),
                uid: None,
                group: None,
            });
        }
        for u in &uids {
            targets.push(TargetKey {
                name: None,
                uid: Some(*u),
                group: None,
            });
        }
        for n in &names {
            for u in &uids {
                targets.push(TargetKey {
                    name: Some(n.clone()),
                    uid: Some(*u),
                    group: None,
                });
            }
        }
        // `ALL` and group targets: an account no rule names, alone and as
        // a member of each group named.
        if anyone {
            targets.push(TargetKey {
                name: None,
                uid: None,
                group: None,
            });
            for g in groups {
                targets.push(TargetKey {
                    name: None,
                    uid: None,
                    group: Some(g),
                });
            }
        }
        let targets: Vec<(TargetKey, Target)> = targets
            .into_iter()
            .map(|k| {
                let t = k.target(syn);
                (k, t)
            })
            .collect();
        for args in &argsets {
            let mut singles: HashMap<&TargetKey, (Outcome<'_>, Outcome<'_>)> = HashMap::new();
            for (tk, t) in &targets {
                let req = Request {
                    caller: &caller,
                    target: t,
                    command: cmd,
                    args,
                };
                let oa = Outcome::of(decide(qa, &req, files));
                let ob = Outcome::of(decide(qb, &req, files));
                if tk.is_pair() {
                    // A pair adds information only when it differs from
                    // both of its halves.
                    let same_as = |k: TargetKey| {
                        singles
                            .get(&k)
                            .is_some_and(|(x, y)| x.sig() == oa.sig() && y.sig() == ob.sig())
                    };
                    if same_as(TargetKey {
                        name: tk.name.clone(),
                        uid: None,
                        group: None,
                    }) || same_as(TargetKey {
                        name: None,
                        uid: tk.uid,
                        group: None,
                    }) {
                        continue;
                    }
                } else {
                    singles.insert(tk, (oa.clone(), ob.clone()));
                }
                report_probe(who, path, args, tk, &oa, &ob, full_a, full_b, out);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn report_probe(
    who: &Who,
    path: &Path,
    args: &[Vec<u8>],
    tk: &TargetKey,
    oa: &Outcome<'_>,
    ob: &Outcome<'_>,
    a: &Policy,
    b: &Policy,
    out: &mut Out,
) {
    let shown = match path_label(path) {
        Some(l) if args.is_empty() => l,
        Some(l) => format!("{l} with arguments"),
        None => render_instance(path, args),
    };
    let what = format!("{shown} as {}", tk.label());
    let mut add = |kind, detail: String, effect| {
        out.add(Change {
            kind,
            subject: who.label(),
            detail,
            effect,
            who: Some(who.clone()),
            path: Some(path.to_path_buf()),
        })
    };
    match (oa, ob) {
        (Outcome::Deny(..), Outcome::Allow(rb)) => add(
            ChangeKind::Grant,
            format!("{what} (rule {}, auth {})", rb.name, rb.auth.as_str()),
            Effect::Widening,
        ),
        (Outcome::Allow(ra), Outcome::Deny(dr, reason)) => {
            let why = match (dr, reason) {
                (Some(r), crate::decide::DenyReason::DenyRule) => {
                    format!("denied by rule {}", r.name)
                }
                (_, crate::decide::DenyReason::TargetNotAllowed) => {
                    "target not allowed".to_string()
                }
                _ => "no rule allows it".to_string(),
            };
            add(
                ChangeKind::Revoke,
                format!("{what} (was rule {}; now {why})", ra.name),
                Effect::Narrowing,
            )
        }
        (Outcome::Allow(ra), Outcome::Allow(rb)) if ra.name != rb.name => {
            // The same rule in both: the rule-level lines report it.
            let via = format!("{what} (rule {} -> {})", ra.name, rb.name);
            let e = by_rank(auth_rank(ra.auth), auth_rank(rb.auth));
            if e != Effect::Neutral {
                add(
                    ChangeKind::Auth,
                    format!("{via}: {} -> {}", ra.auth.as_str(), rb.auth.as_str()),
                    e,
                );
            }
            for (cap, e) in set_changes(&ra.caps, &rb.caps) {
                add(ChangeKind::Caps, format!("{via}: {cap}"), e);
            }
            let mut tmp = Vec::new();
            compare_profiles(effective_profile(a, ra), effective_profile(b, rb), &mut tmp);
            compare_approval(ra, a, rb, b, &mut tmp);
            compare_rate(ra.rate, rb.rate, &mut tmp);
            for (kind, d, e) in tmp {
                add(kind, format!("{via}: {d}"), e);
            }
        }
        _ => {}
    }
}

/// Items added (widening) and removed (narrowing), as `+x` / `-x` text.
fn set_changes(a: &[String], b: &[String]) -> Vec<(String, Effect)> {
    let (sa, sb): (BTreeSet<&String>, BTreeSet<&String>) = (a.iter().collect(), b.iter().collect());
    let mut v = Vec::new();
    for x in sb.difference(&sa) {
        v.push((format!("{x} granted"), Effect::Widening));
    }
    for x in sa.difference(&sb) {
        v.push((format!("{x} revoked"), Effect::Narrowing));
    }
    v
}

// ------------------------------------------------------------ deny rules

fn deny_set(p: &Policy) -> BTreeMap<(String, String, String), (Who, PathBuf, String)> {
    // key: (who label, command, target) -> (who, path, rule name)
    let mut m = BTreeMap::new();
    for r in p.rules.iter().filter(|r| r.is_deny()) {
        let whos = r
            .users
            .iter()
            .map(|u| Who::User(u.clone()))
            .chain(r.groups.iter().map(|g| Who::Group(g.clone())));
        for who in whos {
            for c in &r.commands {
                let targets: Vec<String> = if r.run_as.is_empty() {
                    vec!["any target".into()]
                } else {
                    r.run_as.iter().map(|t| t.to_string()).collect()
                };
                for t in targets {
                    let cmd = crate::policy::cmdline::render(c);
                    m.entry((who.label(), cmd, t)).or_insert((
                        who.clone(),
                        c.path.clone(),
                        r.name.clone(),
                    ));
                }
            }
        }
    }
    m
}

fn deny_triples(a: &Policy, b: &Policy, out: &mut Out) {
    let (da, db) = (deny_set(a), deny_set(b));
    for (k, (who, path, rule)) in &db {
        if !da.contains_key(k) {
            out.add(Change {
                kind: ChangeKind::Deny,
                subject: k.0.clone(),
                detail: format!("{} as {} denied (rule {rule})", k.1, k.2),
                effect: Effect::Narrowing,
                who: Some(who.clone()),
                path: Some(path.clone()),
            });
        }
    }
    for (k, (who, path, rule)) in &da {
        if !db.contains_key(k) {
            out.add(Change {
                kind: ChangeKind::Deny,
                subject: k.0.clone(),
                detail: format!("{} as {} no longer denied (was rule {rule})", k.1, k.2),
                effect: Effect::Widening,
                who: Some(who.clone()),
                path: Some(path.clone()),
            });
        }
    }
}

// ------------------------------------------------------------ rule level

fn rules(a: &Policy, b: &Policy, out: &mut Out) {
    let ra: BTreeMap<&str, &Rule> = a.rules.iter().map(|r| (r.name.as_str(), r)).collect();
    let rb: BTreeMap<&str, &Rule> = b.rules.iter().map(|r| (r.name.as_str(), r)).collect();
    for (name, r) in &rb {
        if !ra.contains_key(name) {
            out.push(
                ChangeKind::Rule,
                format!("rule {name}"),
                format!("added ({})", r.action.as_str()),
                Effect::Neutral,
            );
        }
    }
    for (name, r) in &ra {
        if !rb.contains_key(name) {
            out.push(
                ChangeKind::Rule,
                format!("rule {name}"),
                format!("removed ({})", r.action.as_str()),
                Effect::Neutral,
            );
        }
    }
    for (name, x) in &ra {
        let Some(y) = rb.get(name) else { continue };
        let subject = format!("rule {name}");
        if x.action != y.action {
            let e = if y.action == Action::Deny {
                Effect::Narrowing
            } else {
                Effect::Widening
            };
            out.push(
                ChangeKind::Action,
                subject.clone(),
                format!("{} -> {}", x.action.as_str(), y.action.as_str()),
                e,
            );
            continue;
        }
        if x.is_deny() {
            continue;
        }
        if x.auth != y.auth {
            out.push(
                ChangeKind::Auth,
                subject.clone(),
                format!("{} -> {}", x.auth.as_str(), y.auth.as_str()),
                by_rank(auth_rank(x.auth), auth_rank(y.auth)),
            );
        }
        for (d, e) in set_changes(&x.caps, &y.caps) {
            out.push(ChangeKind::Caps, subject.clone(), d, e);
        }
        if x.sandbox != y.sandbox {
            let na = x.sandbox.as_ref().or(a.defaults.sandbox.as_ref());
            let nb = y.sandbox.as_ref().or(b.defaults.sandbox.as_ref());
            if na != nb {
                sandbox_switch(
                    &subject,
                    na,
                    nb,
                    effective_profile(a, x),
                    effective_profile(b, y),
                    out,
                );
            }
        }
        setenv_changes(&subject, &x.setenv, &y.setenv, out);
        rule_env_changes(&subject, x, a, y, b, out);
        let mut tmp = Vec::new();
        compare_approval(x, a, y, b, &mut tmp);
        compare_rate(x.rate, y.rate, &mut tmp);
        for (kind, d, e) in tmp {
            out.push(kind, subject.clone(), d, e);
        }
        // Digest pins of entries present in both.
        for cy in &y.commands {
            let Some(cx) = x
                .commands
                .iter()
                .find(|c| c.path == cy.path && c.args == cy.args)
            else {
                continue;
            };
            let cmd = render_parts(&cy.path, &cy.args);
            let (d, e) = match (cx.digest, cy.digest) {
                (Some(_), None) => ("removed", Effect::Widening),
                (None, Some(_)) => ("added", Effect::Narrowing),
                (Some(p), Some(q)) if p != q => ("changed", Effect::Neutral),
                _ => continue,
            };
            out.push(
                ChangeKind::Digest,
                subject.clone(),
                format!("{cmd}: digest pin {d}"),
                e,
            );
        }
    }
}

// ------------------------------------------------- approval and rate

/// Effect of going from `a` to `b` where a larger value is stricter.
fn stricter<T: Ord>(a: T, b: T) -> Effect {
    match b.cmp(&a) {
        std::cmp::Ordering::Less => Effect::Widening,
        std::cmp::Ordering::Greater => Effect::Narrowing,
        std::cmp::Ordering::Equal => Effect::Neutral,
    }
}

/// A duration as the policy writes it: `0`, `90s`, `5m`, `1h`.
fn show_duration(secs: u64) -> String {
    match secs {
        0 => "0".into(),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn show_rate(r: &Rate) -> String {
    format!("{}/{}", r.count, show_duration(r.per_secs))
}

/// An approval rule's allowed approvers, `any` for every approver.
fn show_approvers(list: &[String]) -> String {
    if list.is_empty() {
        "any".into()
    } else {
        list.join(",")
    }
}

/// The approver names that may approve for a rule: its `approvers`, or
/// (empty list) every approver of the policy.
fn allowed_approvers<'p>(list: &'p [String], p: &'p Policy) -> BTreeSet<&'p str> {
    if list.is_empty() {
        p.approvers.iter().map(|a| a.name.as_str()).collect()
    } else {
        list.iter().map(String::as_str).collect()
    }
}

/// Approval requirements of two `auth = "approval"` rules (`x` in `a`,
/// `y` in `b`). Nothing when either rule is not an approval rule: the
/// `auth` line reports that switch.
fn compare_approval(x: &Rule, a: &Policy, y: &Rule, b: &Policy, out: &mut Vec<Found>) {
    if x.auth != Auth::Approval || y.auth != Auth::Approval {
        return;
    }
    let (qx, qy) = (x.approval_req(), y.approval_req());
    if qx.approvals != qy.approvals {
        out.push((
            ChangeKind::Approval,
            format!("approvals {} -> {}", qx.approvals, qy.approvals),
            stricter(qx.approvals, qy.approvals),
        ));
    }
    // Both "any": the `approver` lines of the policy say who was added or
    // removed.
    if qx.approvers != qy.approvers {
        let (sx, sy) = (
            allowed_approvers(&qx.approvers, a),
            allowed_approvers(&qy.approvers, b),
        );
        let head = format!(
            "approvers {} -> {}",
            show_approvers(&qx.approvers),
            show_approvers(&qy.approvers)
        );
        for n in sy.difference(&sx) {
            out.push((
                ChangeKind::Approval,
                format!("{head}: approver {n} allowed"),
                Effect::Widening,
            ));
        }
        for n in sx.difference(&sy) {
            out.push((
                ChangeKind::Approval,
                format!("{head}: approver {n} no longer allowed"),
                Effect::Narrowing,
            ));
        }
        if sx == sy {
            out.push((
                ChangeKind::Approval,
                format!("{head} (same approvers)"),
                Effect::Neutral,
            ));
        }
    }
    if qx.nonce_namespace != qy.nonce_namespace {
        out.push((
            ChangeKind::Approval,
            format!(
                "nonce_namespace {} -> {} (tokens must name the new namespace; separate replay state)",
                qx.nonce_namespace, qy.nonce_namespace
            ),
            Effect::Neutral,
        ));
    }
}

/// `rate` limits: removed or more calls per time widens, added or fewer
/// narrows. The limit is a token bucket (capacity `count`, refilled
/// `count` per `per_secs`): the sustained rate and the burst are compared
/// separately when they move in opposite directions.
fn compare_rate(x: Option<Rate>, y: Option<Rate>, out: &mut Vec<Found>) {
    let (p, q) = match (x, y) {
        (None, None) => return,
        (Some(p), None) => {
            out.push((
                ChangeKind::Rate,
                format!("limit {} removed", show_rate(&p)),
                Effect::Widening,
            ));
            return;
        }
        (None, Some(q)) => {
            out.push((
                ChangeKind::Rate,
                format!("limit {} added", show_rate(&q)),
                Effect::Narrowing,
            ));
            return;
        }
        (Some(p), Some(q)) if p == q => return,
        (Some(p), Some(q)) => (p, q),
    };
    let head = format!("limit {} -> {}", show_rate(&p), show_rate(&q));
    // Fewer calls per second is stricter: compare p.count/p.per_secs with
    // q.count/q.per_secs without division (at most 2^32 * 86400: no
    // overflow in u64).
    let sustained = stricter(
        u64::from(q.count) * p.per_secs,
        u64::from(p.count) * q.per_secs,
    );
    // A larger bucket lets more calls through at once: looser.
    let burst = stricter(q.count, p.count);
    match (sustained, burst) {
        (Effect::Neutral, e) => out.push((
            ChangeKind::Rate,
            format!(
                "{head} (same sustained rate, burst {} -> {})",
                p.count, q.count
            ),
            e,
        )),
        (s, b) if b == Effect::Neutral || b == s => out.push((ChangeKind::Rate, head, s)),
        (s, b) => {
            let word = if s == Effect::Widening {
                "raised"
            } else {
                "lowered"
            };
            out.push((
                ChangeKind::Rate,
                format!("{head}: sustained rate {word}"),
                s,
            ));
            out.push((
                ChangeKind::Rate,
                format!("{head}: burst {} -> {}", p.count, q.count),
                b,
            ));
        }
    }
}

/// The policy's `[approvers.NAME]`: a new approver or a changed key is a
/// key that can now sign (widening); a removed approver or a raised epoch
/// refuses tokens (narrowing); a lowered epoch accepts tokens of the
/// older epoch again (widening).
fn approvers(a: &Policy, b: &Policy, out: &mut Out) {
    use base64::Engine as _;
    let show_key = |k: &[u8; 32]| {
        format!(
            "ed25519:{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k)
        )
    };
    let xa: BTreeMap<&str, &crate::policy::model::Approver> =
        a.approvers.iter().map(|x| (x.name.as_str(), x)).collect();
    let xb: BTreeMap<&str, &crate::policy::model::Approver> =
        b.approvers.iter().map(|x| (x.name.as_str(), x)).collect();
    for (name, y) in &xb {
        let subject = format!("approver {name}");
        let Some(x) = xa.get(name) else {
            out.push(
                ChangeKind::Approver,
                subject,
                format!("added (key {}, epoch {})", show_key(&y.key), y.epoch),
                Effect::Widening,
            );
            continue;
        };
        if x.key != y.key {
            out.push(
                ChangeKind::Approver,
                subject.clone(),
                format!("key {} -> {}", show_key(&x.key), show_key(&y.key)),
                Effect::Widening,
            );
        }
        if x.epoch != y.epoch {
            let why = if y.epoch > x.epoch {
                "tokens of the older epoch refused"
            } else {
                "tokens of the older epoch accepted again"
            };
            out.push(
                ChangeKind::Approver,
                subject,
                format!("epoch {} -> {} ({why})", x.epoch, y.epoch),
                stricter(x.epoch, y.epoch),
            );
        }
    }
    for (name, x) in &xa {
        if !xb.contains_key(name) {
            out.push(
                ChangeKind::Approver,
                format!("approver {name}"),
                format!("removed (key {}, epoch {})", show_key(&x.key), x.epoch),
                Effect::Narrowing,
            );
        }
    }
}

fn sandbox_switch(
    subject: &str,
    na: Option<&String>,
    nb: Option<&String>,
    pa: Option<&SandboxProfile>,
    pb: Option<&SandboxProfile>,
    out: &mut Out,
) {
    let name = |n: Option<&String>| n.map_or("none".to_string(), |s| s.clone());
    let head = format!("profile {} -> {}", name(na), name(nb));
    let mut tmp = Vec::new();
    compare_profiles(pa, pb, &mut tmp);
    if tmp.is_empty() {
        out.push(
            ChangeKind::Sandbox,
            subject.to_string(),
            format!("{head} (same confinement)"),
            Effect::Neutral,
        );
    }
    for (kind, d, e) in tmp {
        out.push(kind, subject.to_string(), format!("{head}: {d}"), e);
    }
}

fn effective_profile<'p>(p: &'p Policy, r: &Rule) -> Option<&'p SandboxProfile> {
    let name = r.sandbox.as_ref().or(p.defaults.sandbox.as_ref())?;
    p.sandboxes.iter().find(|s| &s.name == name)
}

/// Environment names whose value can change what a command runs or
/// loads: setting one is a widening.
pub fn is_sensitive_env(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "PATH",
        "IFS",
        "ENV",
        "BASH_ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "PROMPT_COMMAND",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONINSPECT",
        "PERL5LIB",
        "PERL5OPT",
        "PERLLIB",
        "RUBYLIB",
        "RUBYOPT",
        "NODE_OPTIONS",
        "NODE_PATH",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "CLASSPATH",
        "LUA_PATH",
        "LUA_CPATH",
        "GCONV_PATH",
        "GLIBC_TUNABLES",
        "HOSTALIASES",
        "LOCALDOMAIN",
        "RES_OPTIONS",
        "NLSPATH",
        "EDITOR",
        "VISUAL",
        "PAGER",
        "SYSTEMD_EDITOR",
        "SYSTEMD_PAGER",
        "LESSOPEN",
        "LESSCLOSE",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_EXEC_PATH",
        "GIT_CONFIG",
        "SSH_ASKPASS",
        "HOME",
        "TMPDIR",
    ];
    name.starts_with("LD_")
        || name.starts_with("BASH_FUNC_")
        || name.starts_with("MALLOC_")
        || EXACT.contains(&name)
}

fn setenv_changes(subject: &str, a: &[(String, String)], b: &[(String, String)], out: &mut Out) {
    let ma: BTreeMap<&str, &str> = a.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mb: BTreeMap<&str, &str> = b.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let sens = |k: &str, e: Effect| {
        if is_sensitive_env(k) {
            e
        } else {
            Effect::Neutral
        }
    };
    for (k, v) in &mb {
        match ma.get(k) {
            None => out.push(
                ChangeKind::Setenv,
                subject.to_string(),
                format!("{k}={v:?} set"),
                sens(k, Effect::Widening),
            ),
            Some(old) if old != v => out.push(
                ChangeKind::Setenv,
                subject.to_string(),
                format!("{k}={old:?} -> {v:?}"),
                sens(k, Effect::Widening),
            ),
            Some(_) => {}
        }
    }
    for k in ma.keys() {
        if !mb.contains_key(k) {
            out.push(
                ChangeKind::Setenv,
                subject.to_string(),
                format!("{k} no longer set"),
                sens(k, Effect::Narrowing),
            );
        }
    }
}

// --------------------------------------------------------------- sandbox

type Found = (ChangeKind, String, Effect);

/// Confinement differences between two effective profiles (`None` = no
/// profile at all).
fn compare_profiles(a: Option<&SandboxProfile>, b: Option<&SandboxProfile>, out: &mut Vec<Found>) {
    match (a, b) {
        (None, None) => {}
        (Some(_), None) => out.push((
            ChangeKind::Sandbox,
            "sandbox removed".into(),
            Effect::Widening,
        )),
        (None, Some(_)) => out.push((
            ChangeKind::Sandbox,
            "sandbox added".into(),
            Effect::Narrowing,
        )),
        (Some(x), Some(y)) => {
            compare_landlock(x.landlock.as_ref(), y.landlock.as_ref(), out);
            compare_seccomp(x.seccomp.as_ref(), y.seccomp.as_ref(), out);
        }
    }
}

fn paths_changes(key: &str, a: &[PathBuf], b: &[PathBuf], out: &mut Vec<Found>) {
    let (sa, sb): (BTreeSet<&PathBuf>, BTreeSet<&PathBuf>) =
        (a.iter().collect(), b.iter().collect());
    for p in sb.difference(&sa) {
        out.push((
            ChangeKind::Landlock,
            format!("{key} {} added", p.display()),
            Effect::Widening,
        ));
    }
    for p in sa.difference(&sb) {
        out.push((
            ChangeKind::Landlock,
            format!("{key} {} removed", p.display()),
            Effect::Narrowing,
        ));
    }
}

fn ports_changes(key: &str, a: &Option<Vec<u16>>, b: &Option<Vec<u16>>, out: &mut Vec<Found>) {
    match (a, b) {
        (None, None) => {}
        (Some(_), None) => out.push((
            ChangeKind::Landlock,
            format!("{key} no longer restricted"),
            Effect::Widening,
        )),
        (None, Some(v)) => out.push((
            ChangeKind::Landlock,
            format!("{key} restricted to {v:?}"),
            Effect::Narrowing,
        )),
        (Some(x), Some(y)) => {
            let (sx, sy): (BTreeSet<&u16>, BTreeSet<&u16>) =
                (x.iter().collect(), y.iter().collect());
            for p in sy.difference(&sx) {
                out.push((
                    ChangeKind::Landlock,
                    format!("{key} port {p} added"),
                    Effect::Widening,
                ));
            }
            for p in sx.difference(&sy) {
                out.push((
                    ChangeKind::Landlock,
                    format!("{key} port {p} removed"),
                    Effect::Narrowing,
                ));
            }
        }
    }
}

fn compare_landlock(a: Option<&LandlockSpec>, b: Option<&LandlockSpec>, out: &mut Vec<Found>) {
    let (x, y) = match (a, b) {
        (None, None) => return,
        (Some(_), None) => {
            out.push((
                ChangeKind::Landlock,
                "landlock removed (file system and network unrestricted)".into(),
                Effect::Widening,
            ));
            return;
        }
        (None, Some(_)) => {
            out.push((
                ChangeKind::Landlock,
                "landlock added".into(),
                Effect::Narrowing,
            ));
            return;
        }
        (Some(x), Some(y)) => (x, y),
    };
    paths_changes("read", &x.read, &y.read, out);
    paths_changes("write", &x.write, &y.write, out);
    paths_changes("exec", &x.exec, &y.exec, out);
    ports_changes("bind_tcp", &x.bind_tcp, &y.bind_tcp, out);
    ports_changes("connect_tcp", &x.connect_tcp, &y.connect_tcp, out);
    // Scopes in effect, for a root target and for any other (an omitted
    // `scope` means both for root, none for others).
    let (xr, yr, xo, yo) = (
        x.scopes_for(0),
        y.scopes_for(0),
        x.scopes_for(1),
        y.scopes_for(1),
    );
    for (key, pr, qr, po, qo) in [
        (
            "abstract unix socket",
            xr.abstract_unix,
            yr.abstract_unix,
            xo.abstract_unix,
            yo.abstract_unix,
        ),
        ("signal", xr.signals, yr.signals, xo.signals, yo.signals),
    ] {
        let whom = match (pr != qr, po != qo) {
            (true, true) => "",
            (true, false) => " for root targets",
            (false, true) => " for non-root targets",
            (false, false) => continue,
        };
        let added = if pr != qr { qr } else { qo };
        out.push(if added {
            (
                ChangeKind::Landlock,
                format!("{key} scoping added{whom}"),
                Effect::Narrowing,
            )
        } else {
            (
                ChangeKind::Landlock,
                format!("{key} scoping removed{whom}"),
                Effect::Widening,
            )
        });
    }
    if x.min_abi != y.min_abi {
        let show = |m: Option<u32>| m.map_or("best effort".to_string(), |v| v.to_string());
        let e = by_rank(
            x.min_abi.unwrap_or(0).min(255) as u8,
            y.min_abi.unwrap_or(0).min(255) as u8,
        );
        out.push((
            ChangeKind::Landlock,
            format!("min_abi {} -> {}", show(x.min_abi), show(y.min_abi)),
            e,
        ));
    }
}

fn seccomp_rank(a: SeccompAction) -> u8 {
    match a {
        SeccompAction::Log => 0,
        SeccompAction::Errno => 1,
        SeccompAction::Kill => 2,
    }
}

fn seccomp_action_str(a: SeccompAction) -> &'static str {
    match a {
        SeccompAction::Log => "log",
        SeccompAction::Errno => "errno",
        SeccompAction::Kill => "kill",
    }
}

fn compare_seccomp(a: Option<&SeccompSpec>, b: Option<&SeccompSpec>, out: &mut Vec<Found>) {
    // No [seccomp] table: the baseline denials with action errno.
    let base = SeccompSpec {
        allow: Vec::new(),
        deny: Vec::new(),
        action: SeccompAction::Errno,
    };
    let x = a.unwrap_or(&base);
    let y = b.unwrap_or(&base);
    match (x.allow.is_empty(), y.allow.is_empty()) {
        (true, true) => {}
        (true, false) => out.push((
            ChangeKind::Seccomp,
            format!("allow-list introduced ({})", y.allow.join(",")),
            Effect::Narrowing,
        )),
        (false, true) => out.push((
            ChangeKind::Seccomp,
            "allow-list removed (every syscall not denied allowed)".into(),
            Effect::Widening,
        )),
        (false, false) => {
            for (d, e) in set_changes(&x.allow, &y.allow) {
                let d = d
                    .replace(" granted", " allowed")
                    .replace(" revoked", " no longer allowed");
                out.push((ChangeKind::Seccomp, format!("allow {d}"), e));
            }
        }
    }
    let (sx, sy): (BTreeSet<&String>, BTreeSet<&String>) =
        (x.deny.iter().collect(), y.deny.iter().collect());
    for s in sy.difference(&sx) {
        out.push((
            ChangeKind::Seccomp,
            format!("deny {s} added"),
            Effect::Narrowing,
        ));
    }
    for s in sx.difference(&sy) {
        out.push((
            ChangeKind::Seccomp,
            format!("deny {s} removed"),
            Effect::Widening,
        ));
    }
    if x.action != y.action {
        out.push((
            ChangeKind::Seccomp,
            format!(
                "action {} -> {}",
                seccomp_action_str(x.action),
                seccomp_action_str(y.action)
            ),
            by_rank(seccomp_rank(x.action), seccomp_rank(y.action)),
        ));
    }
}

fn profiles(a: &Policy, b: &Policy, out: &mut Out) {
    let pa: BTreeMap<&str, &SandboxProfile> =
        a.sandboxes.iter().map(|s| (s.name.as_str(), s)).collect();
    let pb: BTreeMap<&str, &SandboxProfile> =
        b.sandboxes.iter().map(|s| (s.name.as_str(), s)).collect();
    for name in pb.keys() {
        if !pa.contains_key(name) {
            out.push(
                ChangeKind::Sandbox,
                format!("sandbox {name}"),
                "profile added".into(),
                Effect::Neutral,
            );
        }
    }
    for name in pa.keys() {
        if !pb.contains_key(name) {
            out.push(
                ChangeKind::Sandbox,
                format!("sandbox {name}"),
                "profile removed".into(),
                Effect::Neutral,
            );
        }
    }
    for (name, x) in &pa {
        let Some(y) = pb.get(name) else { continue };
        let mut tmp = Vec::new();
        compare_profiles(Some(x), Some(y), &mut tmp);
        for (kind, d, e) in tmp {
            out.push(kind, format!("sandbox {name}"), d, e);
        }
    }
}

// -------------------------------------------------------------- defaults

/// `secure_path` from `a` to `b`: a directory added widens (a command's
/// `PATH` or a bare name may find a program there), one removed narrows.
fn path_changes(kind: ChangeKind, subject: &str, a: &[PathBuf], b: &[PathBuf], out: &mut Out) {
    if a == b {
        return;
    }
    let (sx, sy): (BTreeSet<&PathBuf>, BTreeSet<&PathBuf>) =
        (a.iter().collect(), b.iter().collect());
    for p in sy.difference(&sx) {
        out.push(
            kind,
            subject.to_string(),
            format!("secure_path {} added", p.display()),
            Effect::Widening,
        );
    }
    for p in sx.difference(&sy) {
        out.push(
            kind,
            subject.to_string(),
            format!("secure_path {} removed", p.display()),
            Effect::Narrowing,
        );
    }
    if sx == sy {
        out.push(
            kind,
            subject.to_string(),
            "secure_path order changed".into(),
            Effect::Neutral,
        );
    }
}

/// `env_keep` from `a` to `b`: a kept variable added widens.
fn keep_changes(kind: ChangeKind, subject: &str, a: &[String], b: &[String], out: &mut Out) {
    let (ex, ey): (BTreeSet<&String>, BTreeSet<&String>) = (a.iter().collect(), b.iter().collect());
    for k in ey.difference(&ex) {
        out.push(
            kind,
            subject.to_string(),
            format!("env_keep {k} added"),
            Effect::Widening,
        );
    }
    for k in ex.difference(&ey) {
        out.push(
            kind,
            subject.to_string(),
            format!("env_keep {k} removed"),
            Effect::Narrowing,
        );
    }
}

/// A rule's own `env_keep`, `secure_path` and `timestamp_timeout`, when
/// they changed: compared as the rule's commands get them (so a change of
/// `[defaults]` alone is reported once, under `defaults`).
fn rule_env_changes(subject: &str, x: &Rule, a: &Policy, y: &Rule, b: &Policy, out: &mut Out) {
    if x.env_keep != y.env_keep {
        keep_changes(
            ChangeKind::Env,
            subject,
            &x.env_keep_with(&a.defaults),
            &y.env_keep_with(&b.defaults),
            out,
        );
    }
    if x.secure_path != y.secure_path {
        path_changes(
            ChangeKind::Env,
            subject,
            x.secure_path_with(&a.defaults),
            y.secure_path_with(&b.defaults),
            out,
        );
    }
    if x.timestamp_timeout != y.timestamp_timeout {
        let (tx, ty) = (
            x.timestamp_timeout_with(&a.defaults),
            y.timestamp_timeout_with(&b.defaults),
        );
        if tx != ty {
            out.push(
                ChangeKind::Auth,
                subject.to_string(),
                format!(
                    "timestamp_timeout {} -> {}",
                    show_duration(tx),
                    show_duration(ty)
                ),
                // A longer timeout is looser.
                stricter(ty, tx),
            );
        }
    }
}

fn defaults(a: &Policy, b: &Policy, out: &mut Out) {
    let (x, y) = (&a.defaults, &b.defaults);
    let subject = || "defaults".to_string();
    path_changes(
        ChangeKind::Defaults,
        "defaults",
        &x.secure_path,
        &y.secure_path,
        out,
    );
    keep_changes(
        ChangeKind::Defaults,
        "defaults",
        &x.env_keep,
        &y.env_keep,
        out,
    );
    setenv_changes("defaults", &x.setenv, &y.setenv, out);
    if x.umask != y.umask {
        // The command gets caller umask OR this: fewer bits, more access.
        let dropped = x.umask & !y.umask;
        let e = if dropped != 0 {
            Effect::Widening
        } else {
            Effect::Narrowing
        };
        out.push(
            ChangeKind::Defaults,
            subject(),
            format!("umask {:04o} -> {:04o}", x.umask, y.umask),
            e,
        );
    }
    if x.timestamp_timeout != y.timestamp_timeout {
        // Longer: a password entered once covers more calls. "0" disables
        // the cache: the shortest of all.
        let note = match (x.timestamp_timeout, y.timestamp_timeout) {
            (_, 0) => " (caching disabled)",
            (0, _) => " (caching enabled)",
            _ => "",
        };
        out.push(
            ChangeKind::Defaults,
            subject(),
            format!(
                "timestamp_timeout {} -> {}{note}",
                show_duration(x.timestamp_timeout),
                show_duration(y.timestamp_timeout)
            ),
            // A longer timeout is looser: the reverse of `stricter`.
            stricter(y.timestamp_timeout, x.timestamp_timeout),
        );
    }
    if x.pam_account != y.pam_account {
        // Off: PAM's account restrictions no longer hold for rules
        // without a password.
        out.push(
            ChangeKind::Defaults,
            subject(),
            format!("pam_account {} -> {}", x.pam_account, y.pam_account),
            if y.pam_account {
                Effect::Narrowing
            } else {
                Effect::Widening
            },
        );
    }
    if x.drift != y.drift {
        out.push(
            ChangeKind::Defaults,
            subject(),
            format!("drift {} -> {}", x.drift.as_str(), y.drift.as_str()),
            by_rank(x.drift as u8, y.drift as u8),
        );
    }
    if x.sandbox != y.sandbox {
        sandbox_switch(
            "defaults",
            x.sandbox.as_ref(),
            y.sandbox.as_ref(),
            x.sandbox
                .as_ref()
                .and_then(|n| a.sandboxes.iter().find(|s| &s.name == n)),
            y.sandbox
                .as_ref()
                .and_then(|n| b.sandboxes.iter().find(|s| &s.name == n)),
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::model::CommandSpec;
    use crate::policy::parse::parse_main;
    use proptest::prelude::*;

    fn pol(src: &str) -> Policy {
        match parse_main(&format!("version = 1\n{src}"), Path::new("/p.toml")) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    fn lines(a: &str, b: &str) -> Vec<String> {
        diff(&pol(a), &pol(b))
            .changes
            .iter()
            .map(Change::line)
            .collect()
    }

    const R: &str = "[[rule]]\nname = \"r\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/id\"]\n";

    #[test]
    fn widening_to_all_group_targets_and_directories_says_so() {
        let all = "[[rule]]\nname = \"r\"\nusers = [\"alice\"]\ncommands = [\"ALL\"]\n";
        let l = lines(R, all);
        assert!(
            l.iter().any(|x| x.starts_with('+')
                && x.contains("ALL (any command)")
                && x.contains("as root")),
            "{l:#?}"
        );
        // And back: the revoke says so too.
        let l = lines(all, R);
        assert!(
            l.iter()
                .any(|x| x.starts_with('-') && x.contains("ALL (any command)")),
            "{l:#?}"
        );
        // run_as root -> ALL: any other account.
        let any = "[[rule]]\nname = \"r\"\nusers = [\"alice\"]\nrun_as = [\"ALL\"]\ncommands = [\"/usr/bin/id\"]\n";
        let l = lines(R, any);
        assert!(
            l.iter()
                .any(|x| x.starts_with('+') && x.contains("/usr/bin/id as any other account")),
            "{l:#?}"
        );
        // A group target: a member of it.
        let grp = "[[rule]]\nname = \"r\"\nusers = [\"alice\"]\nrun_as = [\"%www\"]\ncommands = [\"/usr/bin/id\"]\n";
        let l = lines(R, grp);
        assert!(
            l.iter()
                .any(|x| x.starts_with('+') && x.contains("as a member of %www")),
            "{l:#?}"
        );
        // A directory: any command in it, and a file named elsewhere that
        // lies in it.
        let dir = "[[rule]]\nname = \"r\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/id\", \"/usr/lib/plugins/ *\"]\n";
        let l = lines(R, dir);
        assert!(
            l.iter()
                .any(|x| x.starts_with('+') && x.contains("any command in /usr/lib/plugins/")),
            "{l:#?}"
        );
        let named = "[[rule]]\nname = \"r\"\nusers = [\"alice\"]\ncommands = [\"/usr/lib/plugins/check_x\"]\n";
        let l = lines(named, dir);
        assert!(
            l.iter()
                .any(|x| x.starts_with('+') && x.contains("/usr/lib/plugins/check_x <more-args>")),
            "{l:#?}"
        );
        // A deny rule added against an ALL rule narrows.
        let deny = format!(
            "{all}[[rule]]\nname = \"d\"\nusers = [\"alice\"]\naction = \"deny\"\ncommands = [\"/bin/sh *\"]\n"
        );
        let l = lines(all, &deny);
        assert!(
            l.iter()
                .any(|x| x.starts_with('-') && x.contains("/bin/sh")),
            "{l:#?}"
        );
        assert!(!l.iter().any(|x| x.starts_with('+')), "{l:#?}");
    }

    #[test]
    fn a_rules_env_keep_secure_path_and_timeout_are_compared() {
        let keep = format!("{R}env_keep = [\"SSH_AUTH_SOCK\"]\n");
        let l = lines(R, &keep);
        assert_eq!(
            l,
            vec!["+ env rule r: env_keep SSH_AUTH_SOCK added"],
            "{l:#?}"
        );
        assert_eq!(
            lines(&keep, R),
            vec!["- env rule r: env_keep SSH_AUTH_SOCK removed"]
        );
        // A variable the defaults already keep: the rule adds nothing.
        assert!(lines(R, &format!("{R}env_keep = [\"TERM\"]\n")).is_empty());
        let path = format!("{R}secure_path = \"/usr/bin:/opt/app/bin\"\n");
        let l = lines(R, &path);
        assert!(
            l.contains(&"+ env rule r: secure_path /opt/app/bin added".to_string()),
            "{l:#?}"
        );
        assert!(
            l.iter()
                .any(|x| x == "- env rule r: secure_path /sbin removed"),
            "{l:#?}"
        );
        let t = format!("{R}timestamp_timeout = \"15m\"\n");
        let l = lines(R, &t);
        assert_eq!(
            l,
            vec!["+ auth rule r: timestamp_timeout 5m -> 15m"],
            "{l:#?}"
        );
        // The same value as the default: nothing changes for the rule.
        assert!(lines(R, &format!("{R}timestamp_timeout = \"5m\"\n")).is_empty());
    }

    #[test]
    fn identical_is_empty() {
        let d = diff(&pol(R), &pol(R));
        assert!(d.changes.is_empty());
        assert!(d.segments.is_empty());
        assert_eq!(
            d.render_text(),
            "hash: identical\nsummary: 0 widening, 0 narrowing, 0 neutral\n"
        );
    }

    #[test]
    fn add_user_is_a_grant() {
        let l = lines(R, &R.replace("[\"alice\"]", "[\"alice\", \"bob\"]"));
        assert_eq!(
            l,
            ["+ grant user bob: /usr/bin/id as root (rule r, auth password)"]
        );
    }

    #[test]
    fn auth_weakened() {
        let l = lines(R, &format!("{R}auth = \"none\"\n"));
        assert_eq!(l, ["+ auth rule r: password -> none"]);
        let l = lines(&format!("{R}auth = \"none\"\n"), R);
        assert_eq!(l, ["- auth rule r: none -> password"]);
    }

    #[test]
    fn star_widening_instances() {
        let a = R.replace("/usr/bin/id", "/usr/bin/journalctl -u nginx");
        let b = R.replace("/usr/bin/id", "/usr/bin/journalctl *");
        let l = lines(&a, &b);
        assert!(
            l.iter().all(|x| x.starts_with("+ grant user alice:")),
            "{l:?}"
        );
        assert_eq!(l.len(), 3, "{l:?}");
        assert!(diff(&pol(&a), &pol(&b)).widens());
    }

    /// An omitted `scope` means both scopes for root targets only, so
    /// `scope = []` widens for root, and listing both narrows for others.
    #[test]
    fn landlock_scope_default() {
        let ll = |scope: &str| {
            format!("[sandbox.b.landlock]\nread = [\"/etc\"]\n{scope}\n{R}sandbox = \"b\"\n")
        };
        let l = lines(&ll(""), &ll("scope = []"));
        assert_eq!(
            l.iter()
                .filter(|x| x.contains("scoping removed for root targets") && x.starts_with('+'))
                .count(),
            2,
            "{l:?}"
        );
        let l = lines(&ll(""), &ll("scope = [\"signal\", \"abstract_unix\"]"));
        assert_eq!(
            l.iter()
                .filter(|x| x.contains("scoping added for non-root targets") && x.starts_with('-'))
                .count(),
            2,
            "{l:?}"
        );
        let l = lines(&ll("scope = []"), &ll("scope = [\"signal\"]"));
        assert!(
            l.iter()
                .any(|x| x.starts_with('-') && x.ends_with("signal scoping added")),
            "{l:?}"
        );
        assert!(lines(&ll(""), &ll("")).is_empty());
    }

    #[test]
    fn rate_limits() {
        let with = |r: &str| format!("{R}rate = \"{r}\"\n");
        assert_eq!(
            lines(&with("10/1m"), R),
            ["+ rate rule r: limit 10/1m removed"]
        );
        assert_eq!(
            lines(R, &with("10/1m")),
            ["- rate rule r: limit 10/1m added"]
        );
        assert_eq!(
            lines(&with("10/1m"), &with("20/1m")),
            ["+ rate rule r: limit 10/1m -> 20/1m"]
        );
        assert_eq!(
            lines(&with("10/1m"), &with("10/1h")),
            ["- rate rule r: limit 10/1m -> 10/1h"]
        );
        assert_eq!(
            lines(&with("10/1m"), &with("2/6s")),
            [
                "- rate rule r: limit 10/1m -> 2/6s: burst 10 -> 2",
                "+ rate rule r: limit 10/1m -> 2/6s: sustained rate raised",
            ]
        );
    }

    #[test]
    fn approval_through_another_rule() {
        // The rule renamed and its approvals raised: reported on the
        // request, since the rule-level comparison is by name.
        let a = format!("{R}auth = \"approval\"\n");
        let b = a.replace("name = \"r\"", "name = \"s\"") + "approvals = 2\nrate = \"1/1m\"\n";
        let l = lines(&a, &b);
        assert!(
            l.contains(
                &"- approval user alice: /usr/bin/id as root (rule r -> s): approvals 1 -> 2"
                    .to_string()
            ),
            "{l:?}"
        );
        assert!(
            l.contains(
                &"- rate user alice: /usr/bin/id as root (rule r -> s): limit 1/1m added"
                    .to_string()
            ),
            "{l:?}"
        );
        // Not an approval rule on one side: only the auth line.
        assert_eq!(
            lines(&format!("{a}approvals = 1\n"), R),
            ["+ auth rule r: approval -> password"]
        );
    }

    #[test]
    fn timestamp_timeout() {
        let t = |v: &str| format!("[defaults]\ntimestamp_timeout = \"{v}\"\n{R}");
        assert_eq!(
            lines(&t("5m"), &t("1h")),
            ["+ defaults: timestamp_timeout 5m -> 1h"]
        );
        assert_eq!(
            lines(&t("5m"), &t("90s")),
            ["- defaults: timestamp_timeout 5m -> 90s"]
        );
        assert_eq!(
            lines(&t("5m"), &t("0")),
            ["- defaults: timestamp_timeout 5m -> 0 (caching disabled)"]
        );
    }

    #[test]
    fn pam_account() {
        let t = |v: &str| format!("[defaults]\npam_account = {v}\n{R}");
        assert_eq!(
            lines(&t("true"), &t("false")),
            ["+ defaults: pam_account true -> false"]
        );
        assert_eq!(
            lines(&t("false"), &t("true")),
            ["- defaults: pam_account false -> true"]
        );
        assert!(lines(&t("true"), R).is_empty(), "true is the default");
    }

    #[test]
    fn json_parses() {
        let d = diff(&pol(R), &pol(&R.replace("alice", "bob")));
        let v: serde_json::Value = match serde_json::from_str(&d.render_json()) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(v["summary"]["widening"], 1);
        assert_eq!(v["summary"]["narrowing"], 1);
    }

    // ------------------------------------------------ property test

    const USERS: [&str; 3] = ["alice", "bob", "#1000"];
    const GROUPS: [&str; 2] = ["ops", "#50"];
    const TARGETS: [&str; 3] = ["root", "#0", "www-data"];
    const PATHS: [&str; 2] = ["/bin/ls", "/bin/sh"];
    const WORDS: [&str; 2] = ["a", "b"];

    fn principal(s: &str) -> Principal {
        match s.strip_prefix('#') {
            Some(n) => Principal::Id(n.parse().unwrap_or(0)),
            None => Principal::Name(s.into()),
        }
    }

    fn spec() -> impl Strategy<Value = CommandSpec> {
        (
            0..PATHS.len(),
            0u8..3,
            proptest::collection::vec(proptest::sample::select(&WORDS[..]), 0..3),
        )
            .prop_map(|(p, k, w)| {
                let w: Vec<String> = w.into_iter().map(String::from).collect();
                CommandSpec {
                    path: PATHS[p].into(),
                    args: match k {
                        0 => Args::None,
                        1 if !w.is_empty() => Args::Exact(w),
                        _ => Args::Prefix(w),
                    },
                    digest: None,
                    kind: Default::default(),
                }
            })
    }

    fn rule() -> impl Strategy<Value = Rule> {
        (
            proptest::sample::subsequence(&USERS[..], 0..=3),
            proptest::sample::subsequence(&GROUPS[..], 0..=2),
            proptest::sample::subsequence(&TARGETS[..], 0..=3),
            proptest::collection::vec(spec(), 1..3),
            any::<bool>(),
            0u8..3,
        )
            .prop_map(|(u, g, t, commands, deny, auth)| {
                let mut users: Vec<Principal> = u.iter().map(|s| principal(s)).collect();
                if users.is_empty() && g.is_empty() {
                    users.push(principal("alice"));
                }
                let mut run_as: Vec<Principal> = t.iter().map(|s| principal(s)).collect();
                if run_as.is_empty() && !deny {
                    run_as.push(principal("root"));
                }
                Rule {
                    name: String::new(),
                    users,
                    groups: g.iter().map(|s| principal(s)).collect(),
                    run_as,
                    commands,
                    auth: [Auth::None, Auth::Password, Auth::Approval][usize::from(auth)],
                    action: if deny { Action::Deny } else { Action::Allow },
                    setenv: vec![],
                    sandbox: None,
                    caps: vec![],
                    ..template_rule()
                }
            })
    }

    /// A parsed rule, so that fields added to the model get defaults.
    fn template_rule() -> Rule {
        let p = pol("[[rule]]\nname = \"t\"\nusers = [\"x\"]\ncommands = [\"/x\"]\n");
        match p.rules.into_iter().next() {
            Some(r) => r,
            None => panic!("no rule"),
        }
    }

    fn policy() -> impl Strategy<Value = Policy> {
        proptest::collection::vec(rule(), 0..5).prop_map(|mut rules| {
            for (i, r) in rules.iter_mut().enumerate() {
                r.name = format!("r{i}");
            }
            Policy { rules, ..pol("") }
        })
    }

    /// Real file ids: each path its own file, all in /bin.
    struct Real;
    const BIN: FileId = FileId { dev: 8, ino: 0 };
    impl FileIds for Real {
        fn id_of(&self, p: &Path) -> Option<FileId> {
            if p == Path::new("/bin") {
                return Some(BIN);
            }
            PATHS
                .iter()
                .position(|x| Path::new(x) == p)
                .map(|i| FileId {
                    dev: 9,
                    ino: i as u64,
                })
        }
    }

    fn callers() -> Vec<Caller> {
        vec![
            // alice is uid 1000 and in ops (#50): several principals at once.
            Caller {
                uid: 1000,
                gid: 1000,
                name: Some("alice".into()),
                gids: vec![1000, 50],
                group_names: vec!["alice".into(), "ops".into()],
            },
            Caller {
                uid: 1001,
                gid: 1001,
                name: Some("bob".into()),
                gids: vec![1001],
                group_names: vec!["bob".into()],
            },
            Caller {
                uid: 1002,
                gid: 50,
                name: Some("carol".into()),
                gids: vec![50],
                group_names: vec!["ops".into()],
            },
        ]
    }

    fn targets() -> Vec<Target> {
        vec![
            Target {
                uid: 0,
                gid: 0,
                name: "root".into(),
                gids: Vec::new(),
                group_names: Vec::new(),
            },
            Target {
                uid: 33,
                gid: 33,
                name: "www-data".into(),
                gids: Vec::new(),
                group_names: Vec::new(),
            },
            Target {
                uid: 7,
                gid: 7,
                name: "other".into(),
                gids: Vec::new(),
                group_names: Vec::new(),
            },
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]

        /// For random policies A, B and random requests: a decision that
        /// changes is reported by a change of the right direction that
        /// concerns the caller (by the engine's own matching) and the path.
        #[test]
        fn decision_changes_are_reported(
            a in policy(),
            b in policy(),
            reqs in proptest::collection::vec(
                (0usize..3, 0usize..3, 0..PATHS.len(),
                 proptest::collection::vec(
                     prop_oneof![
                         proptest::sample::select(&WORDS[..]).prop_map(|w| w.as_bytes().to_vec()),
                         Just(b"c".to_vec()),
                         Just(vec![0xfe]),
                     ], 0..4)),
                1..12),
        ) {
            let d = diff(&a, &b);
            let cs = callers();
            let ts = targets();
            for (ci, ti, pi, args) in reqs {
                let c = &cs[ci];
                let t = &ts[ti];
                let cmd = Invoked {
                    path: Path::new(PATHS[pi]),
                    dir: BIN,
                    file: FileId { dev: 9, ino: pi as u64 },
                };
                let req = Request { caller: c, target: t, command: cmd, args: &args };
                let da = decide(&a, &req, &Real).is_allow();
                let db = decide(&b, &req, &Real).is_allow();
                if da == db {
                    continue;
                }
                let want = if db { Effect::Widening } else { Effect::Narrowing };
                let covered = d.changes.iter().any(|ch| {
                    ch.effect == want
                        && ch.path.as_deref() == Some(Path::new(PATHS[pi]))
                        && ch.who.as_ref().is_some_and(|w| w.matches(c))
                });
                prop_assert!(covered, "{:?} {:?} {:?} {:?}: {} -> {} not reported:\n{}",
                    c.name, t.name, PATHS[pi], args, da, db, d.render_text());
            }
        }
    }
}
