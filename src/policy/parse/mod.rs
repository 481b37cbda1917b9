//! Parsing one policy file (TOML) into a [`PolicyFragment`], and merging
//! the main file with its drop-ins into a [`Policy`].
//!
//! Strict: unknown keys are errors, every value is validated, and every
//! error names `file:line:column` (computed from the TOML parser's byte
//! spans; columns count characters). The syntax is DESIGN section 5:
//!
//! ```toml
//! version = 1
//! [defaults]
//! secure_path = "/usr/sbin:/usr/bin"
//! env_keep = ["TERM", "LC_*"]
//! umask = "0022"
//! setenv = { EDITOR = "vi" }
//!
//! [[rule]]
//! name = "restart-web"
//! users = ["alice", "#1500"]
//! groups = ["ops"]
//! run_as = ["root"]
//! commands = ["/usr/bin/systemctl restart nginx.service",
//!             { cmd = "/usr/bin/tool *", digest = "blake3:<64 hex>" }]
//! auth = "password"
//! action = "allow"
//! setenv = { X = "1" }
//! sandbox = "web"                  # a [sandbox.NAME] of the main file
//! caps = ["net_bind_service"]      # capability grants
//!
//! [sandbox.web.landlock]           # profiles: main file only
//! read = ["/etc/nginx"]
//! write = ["/var/log/nginx"]
//! exec = ["/usr/sbin/nginx"]
//! bind_tcp = [80, 443]
//! connect_tcp = []
//! scope = ["abstract_unix", "signal"]  # omitted: both for a root target
//! min_abi = 4
//! [sandbox.web.seccomp]
//! allow = ["@system-service"]
//! deny = ["@mount", "reboot"]
//! action = "errno"                 # kill | errno | log
//! ```
//!
//! Decisions made here (beyond the fixed core):
//! - Drop-ins (`policy.d/*.toml`) may hold only `version` and `[[rule]]`.
//!   A `[defaults]` table in a drop-in is an error: defaults changed by
//!   whichever file sorts last would be hard to review, and a drop-in
//!   shipped by one package must not silently loosen `env_keep` or
//!   `secure_path` for every other rule.
//! - `version` is required in the main file; in a drop-in it is optional
//!   and must be 1 when present.
//! - A deny rule with no `run_as` denies for every target; an allow rule
//!   with no `run_as` allows `root` only; an allow rule with an explicit
//!   empty `run_as = []` is an error (it could never match).
//! - `setenv` entries are kept sorted by name (their order has no meaning;
//!   sorting keeps the canonical hash independent of formatting).
//! - User and group names written with sudoers prefixes (`%group`,
//!   `+netgroup`) are errors rather than names that never match.
//! - Sandbox profiles are defined in the main file only (a drop-in that
//!   has a `[sandbox]` table is an error); drop-in rules may reference
//!   them. A reference to an undefined profile is an error at the
//!   reference. A deny rule may not have `sandbox` or `caps`, and the
//!   default profile never applies to it.
//! - Landlock paths must be absolute without `.`/`..` components; they
//!   are normalised (repeated and trailing slashes dropped), sorted and
//!   deduplicated, as are ports, syscall names and capabilities (order has
//!   no meaning, so the hash does not depend on it). Paths are not checked
//!   for existence here (`lint::lint_paths` warns).
//! - `scope` omitted is not the same as `scope = []`: omitted, both
//!   scopes apply to a uid-0 target (`LandlockSpec::scopes_for`); written,
//!   exactly the listed ones apply to every target (`[]` opts out).
//! - Syscall and `@group` names are checked against
//!   `crate::policy::syscalls` (x86_64); an unknown name is an error.
//! - Capabilities are written with or without `cap_`, in any case, and
//!   stored lower case without the prefix.
#![forbid(unsafe_code)]

use crate::policy::PolicyError;
use crate::policy::cmdline;
// Syscall and group names are validated with the runtime's own table, so
// the parser and the seccomp compiler can never disagree on a name.
use crate::policy::model::{
    Action, Args, Auth, CommandKind, CommandSpec, Defaults, LandlockSpec, Origin, Policy,
    Principal, Rule, SandboxProfile, SeccompAction, SeccompSpec,
};
use crate::policy::model::{Approval, Approver, Rate, Session};
use crate::policy::names::{is_approver_name, is_namespace};
use crate::policy::syscalls;
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, DefaultHasher};
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

mod approval;
mod audit;
mod caller;
mod daily;
mod raw;
mod rule;
mod sandbox;
mod values;
pub use approval::*;
use raw::*;
use rule::*;
pub use sandbox::*;
pub use values::*;

/// The policy language version this build understands.
pub const POLICY_VERSION: u32 = 1;

/// One parsed and validated file, before merging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFragment {
    /// The file the fragment came from (as shown in errors).
    pub file: PathBuf,
    /// `version`, when present (always [`POLICY_VERSION`]).
    pub version: Option<u32>,
    /// `[defaults]` with omitted keys filled in, and where the table was.
    pub defaults: Option<(Defaults, Origin)>,
    /// Rules in file order, each with its origin.
    pub rules: Vec<Rule>,
    /// `[sandbox.NAME]` profiles, sorted by name (allowed in the main file
    /// only; [`merge`] rejects them in a drop-in).
    pub sandboxes: Vec<SandboxProfile>,
    /// Where the `[sandbox]` table starts, when the file has one (even an
    /// empty one): the position a drop-in's error names.
    pub sandbox_table: Option<Origin>,
    /// Every `sandbox = "NAME"` reference (in `[defaults]` and in rules)
    /// with the position of its value, checked by [`merge`] against the
    /// main file's profiles.
    pub sandbox_refs: Vec<(String, Origin)>,
    /// `[approvers.NAME]`, sorted by name (main file only).
    pub approvers: Vec<Approver>,
    /// Where the `[approvers]` table starts, when the file has one.
    pub approvers_table: Option<Origin>,
    /// Every name in a rule's `approvers = [...]`, with its position,
    /// checked by [`merge`] against the main file's approvers.
    pub approver_refs: Vec<(String, Origin)>,
    /// `[incident]` keys this file writes (drop-ins may: later files
    /// override earlier ones key by key), `[[decoy]]` entries, and the
    /// names of its rules with `break_glass = true`.
    pub incident: IncidentFragment,
    /// `[audit]` (main file only), with where the table starts.
    pub audit: Option<(crate::policy::audit::AuditSettings, Origin)>,
}

/// What one file says about incident response (docs/incident-response.md).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IncidentFragment {
    pub auto_freeze: Option<bool>,
    pub freeze_score_ppm: Option<u32>,
    pub decoy_floor: Option<u32>,
    pub decoy_factor_ppm: Option<u32>,
    pub decoy_window: Option<u64>,
    pub unfreeze_approvals: Option<u32>,
    pub unfreeze_approvers: Option<Vec<String>>,
    pub trace_sample_ppm: Option<u32>,
    /// Whether the file has an `[incident]` table at all.
    pub table: bool,
    pub decoys: Vec<(crate::policy::model::Decoy, Rule)>,
    pub break_glass: Vec<String>,
}

// ---------------------------------------------------------------- positions

/// 1-based (line, column) of a byte offset; columns count characters.
/// Offsets past the end or inside a character are clamped.
pub fn line_col(src: &str, offset: usize) -> (u32, u32) {
    let mut off = offset.min(src.len());
    while !src.is_char_boundary(off) {
        off -= 1;
    }
    let before = &src[..off];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    )
}

struct Ctx<'a> {
    src: &'a str,
    file: &'a Path,
    /// Byte offsets where lines start: every rule records its position,
    /// so a position must cost a binary search, not a scan from the top
    /// (10,000 rules would otherwise be quadratic).
    line_starts: Vec<usize>,
}

impl<'a> Ctx<'a> {
    fn new(src: &'a str, file: &'a Path) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            src.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Ctx {
            src,
            file,
            line_starts,
        }
    }

    /// [`line_col`] using the line index.
    fn pos(&self, offset: usize) -> (u32, u32) {
        let mut off = offset.min(self.src.len());
        while !self.src.is_char_boundary(off) {
            off -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= off);
        let start = self
            .line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        let col = self.src[start..off].chars().count() + 1;
        (
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(col).unwrap_or(u32::MAX),
        )
    }

    fn origin(&self, span: &Range<usize>) -> Origin {
        let (line, col) = self.pos(span.start);
        Origin {
            file: self.file.to_path_buf(),
            line,
            col,
        }
    }

    fn err(&self, span: &Range<usize>, msg: impl Into<String>) -> PolicyError {
        let (line, col) = self.pos(span.start);
        PolicyError::at(self.file, line, col, msg)
    }
}

// ---------------------------------------------------------------- entry points

/// Parse and validate one policy file. `file` is only used in errors and
/// origins. Whether `version` is required and `[defaults]` allowed depends
/// on the file's role and is checked by [`merge`].
pub fn parse_policy(src: &str, file: &Path) -> Result<PolicyFragment, PolicyError> {
    let ctx = Ctx::new(src, file);
    let raw: RawFile = toml::from_str(src).map_err(|e| {
        let msg = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(span) => ctx.err(&span, msg),
            None => PolicyError::file(crate::policy::PolicyErrorKind::Invalid, file, msg),
        }
    })?;
    let version = match &raw.version {
        None => None,
        Some(v) if *v.get_ref() == i64::from(POLICY_VERSION) => Some(POLICY_VERSION),
        Some(v) => {
            return Err(ctx.err(
                &v.span(),
                format!("unsupported policy version {} (this build understands version {POLICY_VERSION})", v.get_ref()),
            ));
        }
    };
    let defaults = match &raw.defaults {
        Some(d) => Some((defaults(&ctx, d.get_ref())?, ctx.origin(&d.span()))),
        None => None,
    };
    let rules = raw
        .rule
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|r| rule(&ctx, r))
        .collect::<Result<Vec<_>, _>>()?;
    // BTreeMap: sorted by name already.
    let sandboxes = match &raw.sandbox {
        Some(t) => t
            .get_ref()
            .iter()
            .map(|(name, p)| profile(&ctx, name, p.get_ref()))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let sandbox_table = raw.sandbox.as_ref().map(|t| {
        // Name the first profile when there is one (a `[sandbox.NAME]`
        // header), else where the table itself is.
        match t.get_ref().keys().map(|k| k.span()).min_by_key(|s| s.start) {
            Some(first) => ctx.origin(&first),
            None => ctx.origin(&t.span()),
        }
    });
    let mut sandbox_refs = Vec::new();
    if let Some(s) = raw
        .defaults
        .as_ref()
        .and_then(|d| d.get_ref().sandbox.as_ref())
    {
        sandbox_refs.push((s.get_ref().clone(), ctx.origin(&s.span())));
    }
    for r in raw.rule.as_deref().unwrap_or_default() {
        if let Some(s) = &r.get_ref().sandbox {
            sandbox_refs.push((s.get_ref().clone(), ctx.origin(&s.span())));
        }
    }
    // BTreeMap: sorted by name already.
    let approvers = match &raw.approvers {
        Some(t) => t
            .get_ref()
            .iter()
            .map(|(name, a)| approver(&ctx, name, a))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    // One key, one approver: two names for one key would let one person
    // count as two distinct approvers of an M-of-N rule.
    for (i, a) in approvers.iter().enumerate() {
        if let Some(first) = approvers[..i].iter().find(|b| b.key == a.key) {
            return Err(PolicyError::at(
                &a.origin.file,
                a.origin.line,
                a.origin.col,
                format!(
                    "approver {:?} has the same key as approver {:?} (each approver needs their own key)",
                    a.name, first.name
                ),
            ));
        }
    }
    let approvers_table = raw.approvers.as_ref().map(|t| {
        match t.get_ref().keys().map(|k| k.span()).min_by_key(|s| s.start) {
            Some(first) => ctx.origin(&first),
            None => ctx.origin(&t.span()),
        }
    });
    let mut approver_refs = Vec::new();
    for r in raw
        .rule
        .as_deref()
        .unwrap_or_default()
        .iter()
        .chain(raw.decoy.as_deref().unwrap_or_default())
    {
        for n in r
            .get_ref()
            .approvers
            .as_ref()
            .map(|l| l.get_ref().as_slice())
            .unwrap_or_default()
        {
            approver_refs.push((n.get_ref().clone(), ctx.origin(&n.span())));
        }
    }
    let incident = incident_fragment(&ctx, &raw, &rules, &mut approver_refs)?;
    let audit = audit::audit_table(&ctx, &raw)?;
    Ok(PolicyFragment {
        file: file.to_path_buf(),
        version,
        defaults,
        rules,
        sandboxes,
        sandbox_table,
        sandbox_refs,
        approvers,
        approvers_table,
        approver_refs,
        incident,
        audit,
    })
}

/// A fraction `0 < x <= max`, in millionths.
fn ppm(ctx: &Ctx<'_>, key: &str, v: &Spanned<f64>, max: f64) -> Result<u32, PolicyError> {
    let x = *v.get_ref();
    if !(x > 0.0 && x <= max) {
        return Err(ctx.err(
            &v.span(),
            format!("{key} = {x} must be more than 0 and at most {max}"),
        ));
    }
    // In range (0, max <= 1000]: the product fits a u32.
    Ok((x * 1_000_000.0).round() as u32)
}

fn count(ctx: &Ctx<'_>, key: &str, v: &Spanned<i64>, lo: i64, hi: i64) -> Result<u32, PolicyError> {
    match u32::try_from(*v.get_ref()) {
        Ok(n) if (lo..=hi).contains(&i64::from(n)) => Ok(n),
        _ => Err(ctx.err(
            &v.span(),
            format!("{key} = {} must be {lo} to {hi}", v.get_ref()),
        )),
    }
}

/// `[incident]`, `[[decoy]]` and `break_glass` of one file.
fn incident_fragment(
    ctx: &Ctx<'_>,
    raw: &RawFile,
    rules: &[Rule],
    approver_refs: &mut Vec<(String, Origin)>,
) -> Result<IncidentFragment, PolicyError> {
    let mut out = IncidentFragment::default();
    for (r, parsed) in raw.rule.as_deref().unwrap_or_default().iter().zip(rules) {
        if let Some(b) = &r.get_ref().break_glass {
            if *b.get_ref() && parsed.is_deny() {
                return Err(ctx.err(
                    &b.span(),
                    format!(
                        "deny rule {:?} must not have `break_glass` (it never runs anything)",
                        parsed.name
                    ),
                ));
            }
            if *b.get_ref() {
                out.break_glass.push(parsed.name.clone());
            }
        }
    }
    if let Some(t) = &raw.incident {
        let i = t.get_ref();
        out.table = true;
        out.auto_freeze = i.auto_freeze;
        if let Some(v) = &i.freeze_score {
            out.freeze_score_ppm = Some(ppm(ctx, "freeze_score", v, 1.0)?);
        }
        if let Some(v) = &i.decoy_floor {
            out.decoy_floor = Some(count(ctx, "decoy_floor", v, 0, 1_000_000)?);
        }
        if let Some(v) = &i.decoy_factor {
            out.decoy_factor_ppm = Some(ppm(ctx, "decoy_factor", v, 1000.0)?);
        }
        if let Some(v) = &i.decoy_window {
            let secs = parse_duration(v.get_ref())
                .map_err(|m| ctx.err(&v.span(), format!("decoy_window: {m}")))?;
            if secs == 0 {
                return Err(ctx.err(&v.span(), "decoy_window must be longer than 0"));
            }
            out.decoy_window = Some(secs);
        }
        if let Some(v) = &i.unfreeze_approvals {
            out.unfreeze_approvals = Some(count(ctx, "unfreeze_approvals", v, 1, 32)?);
        }
        if let Some(v) = &i.trace_sample_rate {
            let x = *v.get_ref();
            if !(0.0..=1.0).contains(&x) {
                return Err(ctx.err(
                    &v.span(),
                    format!("trace_sample_rate = {x} must be from 0 to 1"),
                ));
            }
            out.trace_sample_ppm = Some((x * 1_000_000.0).round() as u32);
        }
        if let Some(list) = &i.unfreeze_approvers {
            let mut names = Vec::new();
            for n in list.get_ref() {
                if !is_approver_name(n.get_ref()) {
                    return Err(ctx.err(
                        &n.span(),
                        format!("approver name {:?} must be 1 to 64 of [a-z0-9_.-], starting with a letter or digit", n.get_ref()),
                    ));
                }
                approver_refs.push((n.get_ref().clone(), ctx.origin(&n.span())));
                names.push(n.get_ref().clone());
            }
            names.sort();
            names.dedup();
            if names.is_empty() {
                return Err(ctx.err(
                    &list.span(),
                    "unfreeze_approvers is empty (omit it to allow every approver)",
                ));
            }
            out.unfreeze_approvers = Some(names);
        }
    }
    for d in raw.decoy.as_deref().unwrap_or_default() {
        out.decoys.push(decoy(ctx, d)?);
    }
    Ok(out)
}

/// One `[[decoy]]`: the fields of an allow rule that `bdexec -l` shows,
/// nothing that would only matter if it ran.
fn decoy(
    ctx: &Ctx<'_>,
    d: &Spanned<RawRule>,
) -> Result<(crate::policy::model::Decoy, Rule), PolicyError> {
    let r = d.get_ref();
    let extra: [(&str, bool); 9] = [
        ("action", r.action.is_some()),
        ("setenv", r.setenv.is_some()),
        ("sandbox", r.sandbox.is_some()),
        ("caps", r.caps.is_some()),
        ("approvals", r.approvals.is_some()),
        ("approvers", r.approvers.is_some()),
        ("nonce_namespace", r.nonce_namespace.is_some()),
        ("rate", r.rate.is_some()),
        ("break_glass", r.break_glass.is_some()),
    ];
    if let Some((key, _)) = extra.iter().find(|(_, on)| *on) {
        return Err(ctx.err(
            &d.span(),
            format!(
                "a [[decoy]] takes name, users, groups, run_as, commands and auth only, not `{key}`"
            ),
        ));
    }
    let rule = rule(ctx, d)?;
    let strs = |v: &Option<Vec<SStr>>| -> Vec<String> {
        v.as_deref()
            .unwrap_or_default()
            .iter()
            .map(|x| x.get_ref().clone())
            .collect()
    };
    let commands = r
        .commands
        .as_ref()
        .map(|c| {
            c.get_ref()
                .iter()
                .map(|x| match x.get_ref() {
                    RawCommand::Line(s) => s.clone(),
                    RawCommand::Table(t) => t.cmd.get_ref().clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let written = crate::policy::model::Decoy {
        name: rule.name.clone(),
        users: strs(&r.users),
        groups: strs(&r.groups),
        run_as: rule.run_as.iter().map(ToString::to_string).collect(),
        commands,
        auth: rule.auth.as_str().to_string(),
    };
    Ok((written, rule))
}

/// Merge the files' `[incident]` keys (later files win key by key),
/// decoys and break-glass names, in file order.
fn merge_incident(parts: Vec<IncidentFragment>) -> crate::policy::model::Incident {
    let mut out = crate::policy::model::Incident::default();
    let mut s = crate::policy::model::IncidentSettings::default();
    let mut any = false;
    for p in parts {
        any |= p.table;
        if let Some(v) = p.auto_freeze {
            s.auto_freeze = v;
        }
        if let Some(v) = p.freeze_score_ppm {
            s.freeze_score_ppm = v;
        }
        if let Some(v) = p.decoy_floor {
            s.decoy_floor = v;
        }
        if let Some(v) = p.decoy_factor_ppm {
            s.decoy_factor_ppm = v;
        }
        if let Some(v) = p.decoy_window {
            s.decoy_window = v;
        }
        if let Some(v) = p.unfreeze_approvals {
            s.unfreeze_approvals = v;
        }
        if let Some(v) = p.unfreeze_approvers {
            s.unfreeze_approvers = v;
        }
        if let Some(v) = p.trace_sample_ppm {
            s.trace_sample_ppm = Some(v);
        }
        for (d, r) in p.decoys {
            out.decoys.push(d);
            out.decoy_rules.push(r);
        }
        out.break_glass.extend(p.break_glass);
    }
    if any {
        out.settings = Some(s);
    }
    out
}

/// Merge the main file and the drop-ins (in the order given) into one
/// policy: the main file's defaults and rules, then each drop-in's rules.
/// Checks what depends on the file's role: `version` required in the main
/// file, no `[defaults]` in a drop-in, rule names unique across all files.
pub fn merge(main: PolicyFragment, dropins: Vec<PolicyFragment>) -> Result<Policy, PolicyError> {
    let version = main.version.ok_or_else(|| {
        PolicyError::file(
            crate::policy::PolicyErrorKind::Invalid,
            &main.file,
            format!("missing `version = {POLICY_VERSION}` (required in the main policy file)"),
        )
    })?;
    let defaults = main.defaults.map(|(d, _)| d).unwrap_or_default();
    let mut rules = main.rules;
    let sandboxes = main.sandboxes;
    let approvers = main.approvers;
    let mut approver_refs = main.approver_refs;
    let mut refs = main.sandbox_refs;
    let mut incident = vec![main.incident];
    for d in dropins {
        if let Some((_, o)) = &d.defaults {
            return Err(PolicyError::at(
                &o.file,
                o.line,
                o.col,
                "[defaults] is only allowed in the main policy file, not in a drop-in",
            ));
        }
        if let Some(o) = &d.sandbox_table {
            return Err(PolicyError::at(
                &o.file,
                o.line,
                o.col,
                "sandbox profiles ([sandbox.NAME]) are only allowed in the main policy file, not in a drop-in",
            ));
        }
        if let Some((_, o)) = &d.audit {
            return Err(PolicyError::at(
                &o.file,
                o.line,
                o.col,
                "[audit] is only allowed in the main policy file, not in a drop-in",
            ));
        }
        if let Some(o) = &d.approvers_table {
            return Err(PolicyError::at(
                &o.file,
                o.line,
                o.col,
                "approvers ([approvers.NAME]) are only allowed in the main policy file, not in a drop-in",
            ));
        }
        rules.extend(d.rules);
        incident.push(d.incident);
        refs.extend(d.sandbox_refs);
        approver_refs.extend(d.approver_refs);
    }
    for (name, o) in &approver_refs {
        if !approvers.iter().any(|a| &a.name == name) {
            return Err(PolicyError::at(
                &o.file,
                o.line,
                o.col,
                format!(
                    "approver {name:?} is not defined (define [approvers.{name}] in the main policy file)"
                ),
            ));
        }
    }
    for (name, o) in &refs {
        if !sandboxes.iter().any(|p| &p.name == name) {
            return Err(PolicyError::at(
                &o.file,
                o.line,
                o.col,
                format!(
                    "sandbox profile {name:?} is not defined (define [sandbox.{name}] in the main policy file)"
                ),
            ));
        }
    }
    let incident = merge_incident(incident);
    if let Some(s) = &incident.settings
        && !s.unfreeze_approvers.is_empty()
        && s.unfreeze_approvers.len() < s.unfreeze_approvals as usize
    {
        return Err(PolicyError::file(
            crate::policy::PolicyErrorKind::Invalid,
            &main.file,
            format!(
                "[incident] unfreeze_approvals = {} but only {} unfreeze_approvers, so the host could never be unfrozen",
                s.unfreeze_approvals,
                s.unfreeze_approvers.len()
            ),
        ));
    }
    // Names from root's own files: no flooding to fear, so a fixed
    // hasher (no random keys: no getrandom on every call's cache
    // assembly).
    let mut seen: HashMap<&str, &Origin, BuildHasherDefault<DefaultHasher>> =
        HashMap::with_capacity_and_hasher(rules.len(), BuildHasherDefault::default());
    for r in rules.iter().chain(&incident.decoy_rules) {
        if let Some(first) = seen.insert(&r.name, &r.origin) {
            return Err(PolicyError::at(
                &r.origin.file,
                r.origin.line,
                r.origin.col,
                format!(
                    "duplicate rule name {:?} (first defined at {first})",
                    r.name
                ),
            ));
        }
    }
    Ok(Policy {
        version,
        defaults,
        rules,
        sandboxes,
        approvers,
        incident,
        audit: main.audit.map(|(a, _)| a).unwrap_or_default(),
    })
}

/// Parse a single self-contained main policy file (no drop-ins).
pub fn parse_main(src: &str, file: &Path) -> Result<Policy, PolicyError> {
    merge(parse_policy(src, file)?, Vec::new())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod approval_tests;

#[cfg(test)]
mod rule_env_tests;
