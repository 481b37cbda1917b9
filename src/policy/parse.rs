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
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

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
    /// Whether the file has an `[incident]` table at all.
    pub table: bool,
    pub decoys: Vec<(crate::policy::model::Decoy, Rule)>,
    pub break_glass: Vec<String>,
}

// ---------------------------------------------------------------- raw serde

type SStr = Spanned<String>;
type EnvTable = BTreeMap<SStr, SStr>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: Option<Spanned<i64>>,
    defaults: Option<Spanned<RawDefaults>>,
    rule: Option<Vec<Spanned<RawRule>>>,
    sandbox: Option<Spanned<BTreeMap<SStr, Spanned<RawProfile>>>>,
    approvers: Option<Spanned<BTreeMap<SStr, Spanned<RawApprover>>>>,
    incident: Option<Spanned<RawIncident>>,
    decoy: Option<Vec<Spanned<RawRule>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIncident {
    auto_freeze: Option<bool>,
    freeze_score: Option<Spanned<f64>>,
    decoy_floor: Option<Spanned<i64>>,
    decoy_factor: Option<Spanned<f64>>,
    decoy_window: Option<SStr>,
    unfreeze_approvals: Option<Spanned<i64>>,
    unfreeze_approvers: Option<Spanned<Vec<SStr>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApprover {
    key: Option<SStr>,
    epoch: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    landlock: Option<Spanned<RawLandlock>>,
    seccomp: Option<Spanned<RawSeccomp>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLandlock {
    read: Option<Vec<SStr>>,
    write: Option<Vec<SStr>>,
    exec: Option<Vec<SStr>>,
    bind_tcp: Option<Vec<Spanned<i64>>>,
    connect_tcp: Option<Vec<Spanned<i64>>>,
    scope: Option<Vec<SStr>>,
    min_abi: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeccomp {
    allow: Option<Vec<SStr>>,
    deny: Option<Vec<SStr>>,
    action: Option<SStr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    secure_path: Option<SStr>,
    env_keep: Option<Vec<SStr>>,
    umask: Option<SStr>,
    setenv: Option<EnvTable>,
    sandbox: Option<SStr>,
    drift: Option<SStr>,
    pam_account: Option<bool>,
    timestamp_timeout: Option<SStr>,
    telemetry_sample_rate: Option<Spanned<f64>>,
    monitor: Option<bool>,
    use_pty: Option<bool>,
    require_tty: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<SStr>,
    users: Option<Vec<SStr>>,
    groups: Option<Vec<SStr>>,
    run_as: Option<Spanned<Vec<SStr>>>,
    commands: Option<Spanned<Vec<Spanned<RawCommand>>>>,
    auth: Option<SStr>,
    action: Option<SStr>,
    setenv: Option<EnvTable>,
    sandbox: Option<SStr>,
    caps: Option<Vec<SStr>>,
    approvals: Option<Spanned<i64>>,
    approvers: Option<Spanned<Vec<SStr>>>,
    nonce_namespace: Option<SStr>,
    rate: Option<SStr>,
    env_keep: Option<Spanned<Vec<SStr>>>,
    secure_path: Option<SStr>,
    timestamp_timeout: Option<SStr>,
    break_glass: Option<Spanned<bool>>,
    monitor: Option<bool>,
    use_pty: Option<bool>,
    require_tty: Option<bool>,
}

/// A `commands` element: a string, or `{ cmd = "...", digest = "..." }`.
enum RawCommand {
    Line(String),
    Table(RawCommandTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommandTable {
    cmd: SStr,
    digest: Option<SStr>,
}

impl<'de> Deserialize<'de> for RawCommand {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawCommand;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a command string or a table { cmd = \"...\", digest = \"blake3:...\" }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawCommand, E> {
                Ok(RawCommand::Line(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<RawCommand, E> {
                Ok(RawCommand::Line(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawCommand, A::Error> {
                RawCommandTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawCommand::Table)
            }
        }
        d.deserialize_any(V)
    }
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

// ---------------------------------------------------------------- validators

fn is_env_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Environment names the product never passes to a command.
pub fn is_forbidden_env(name: &str) -> bool {
    name.starts_with("LD_") || name.starts_with("BASH_FUNC_")
}

/// Parse a user/group reference: a name, or `#id`.
pub fn parse_principal(s: &str) -> Result<Principal, String> {
    if let Some(num) = s.strip_prefix('#') {
        if num.is_empty() || num.len() > 10 || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{s:?} is not a valid \"#id\" (\"#\" must be followed by a decimal number)"
            ));
        }
        return match num.parse::<u32>() {
            Ok(u32::MAX) => Err(format!("{s:?}: id 4294967295 (-1) is not a valid id")),
            Ok(id) => Ok(Principal::Id(id)),
            Err(_) => Err(format!("{s:?}: id out of range (0 to 4294967294)")),
        };
    }
    if s.is_empty() {
        return Err("empty user or group name".to_string());
    }
    if let Some(c) = s
        .chars()
        .find(|&c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{s:?}: a user or group name must not contain {c:?}"
        ));
    }
    if s.starts_with('%') || s.starts_with('+') {
        return Err(format!(
            "{s:?}: '%group' and '+netgroup' are sudoers syntax; list groups by name in `groups`"
        ));
    }
    if s == "ALL" {
        return Err(format!(
            "{s:?}: \"ALL\" is only valid in `run_as` and `commands`; name users and groups"
        ));
    }
    Ok(Principal::Name(s.to_string()))
}

/// Parse a `run_as` entry: what [`parse_principal`] accepts, plus `ALL`
/// (any target) and `%group` / `%#gid` (any member of the group).
pub fn parse_run_as(s: &str) -> Result<Principal, String> {
    if s == "ALL" {
        return Ok(Principal::All);
    }
    if s.starts_with('!') {
        return Err(format!(
            "{s:?}: negation is sudoers syntax; write a deny rule with that run_as"
        ));
    }
    if let Some(g) = s.strip_prefix('%') {
        if g == "ALL" {
            return Err(format!("{s:?}: write \"ALL\" for any target"));
        }
        return match parse_principal(g) {
            Ok(Principal::Name(n)) => Ok(Principal::GroupName(n)),
            Ok(Principal::Id(i)) => Ok(Principal::GroupId(i)),
            Ok(_) => Err(format!("{s:?} is not a valid group target")),
            Err(e) => Err(e),
        };
    }
    parse_principal(s)
}

fn run_as_list(ctx: &Ctx<'_>, list: &[SStr]) -> Result<Vec<Principal>, PolicyError> {
    let v = list
        .iter()
        .map(|s| parse_run_as(s.get_ref()).map_err(|m| ctx.err(&s.span(), m)))
        .collect::<Result<Vec<_>, _>>()?;
    if v.len() > 1
        && let Some(s) = list.iter().find(|s| s.get_ref() == "ALL")
    {
        return Err(ctx.err(
            &s.span(),
            "run_as \"ALL\" must be the only entry (it already covers every target)",
        ));
    }
    Ok(v)
}

fn principals(ctx: &Ctx<'_>, list: &[SStr]) -> Result<Vec<Principal>, PolicyError> {
    list.iter()
        .map(|s| parse_principal(s.get_ref()).map_err(|m| ctx.err(&s.span(), m)))
        .collect()
}

fn clean_abs_dir(p: &str) -> bool {
    p.starts_with('/') && !p.contains('\0') && !p.split('/').any(|c| c == "." || c == "..")
}

fn secure_path(ctx: &Ctx<'_>, s: &SStr) -> Result<Vec<PathBuf>, PolicyError> {
    let v = s.get_ref();
    if v.is_empty() {
        return Err(ctx.err(&s.span(), "secure_path must not be empty"));
    }
    v.split(':')
        .map(|d| {
            if clean_abs_dir(d) {
                Ok(PathBuf::from(d))
            } else {
                Err(ctx.err(
                    &s.span(),
                    format!("secure_path entry {d:?} is not a clean absolute directory (no empty, relative, '.' or '..' entries)"),
                ))
            }
        })
        .collect()
}

fn env_keep(ctx: &Ctx<'_>, list: &[SStr]) -> Result<Vec<String>, PolicyError> {
    list.iter()
        .map(|s| {
            let v = s.get_ref();
            let name = v.strip_suffix('*').unwrap_or(v);
            if !is_env_name(name) {
                return Err(ctx.err(
                    &s.span(),
                    format!("env_keep entry {v:?} must be a variable name ([A-Za-z_][A-Za-z0-9_]*) or a PREFIX* pattern"),
                ));
            }
            if is_forbidden_env(name) {
                return Err(ctx.err(&s.span(), format!("env_keep entry {v:?}: LD_* and BASH_FUNC_* are never passed")));
            }
            Ok(v.clone())
        })
        .collect()
}

fn umask(ctx: &Ctx<'_>, s: &SStr) -> Result<u32, PolicyError> {
    let v = s.get_ref();
    if v.is_empty() || v.len() > 4 || !v.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(ctx.err(
            &s.span(),
            format!("umask {v:?} must be 1 to 4 octal digits, like \"0022\""),
        ));
    }
    match u32::from_str_radix(v, 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err(ctx.err(
            &s.span(),
            format!("umask {v:?} is out of range (at most 0777)"),
        )),
    }
}

fn setenv(ctx: &Ctx<'_>, t: &EnvTable) -> Result<Vec<(String, String)>, PolicyError> {
    t.iter()
        .map(|(k, v)| {
            let name = k.get_ref();
            if !is_env_name(name) {
                return Err(ctx.err(
                    &k.span(),
                    format!("setenv name {name:?} is not a valid variable name"),
                ));
            }
            if is_forbidden_env(name) {
                return Err(ctx.err(
                    &k.span(),
                    format!("setenv {name:?}: LD_* and BASH_FUNC_* variables are never set"),
                ));
            }
            if v.get_ref().contains('\0') {
                return Err(ctx.err(
                    &v.span(),
                    format!("setenv {name:?}: value contains a NUL character"),
                ));
            }
            Ok((name.clone(), v.get_ref().clone()))
        })
        .collect()
}

/// Parse `blake3:<64 hex digits>`.
pub fn parse_digest(s: &str) -> Result<[u8; 32], String> {
    let Some(hex) = s.strip_prefix("blake3:") else {
        return Err(format!(
            "digest {s:?} must be \"blake3:\" followed by 64 hex digits"
        ));
    };
    let b = hex.as_bytes();
    if b.len() != 64 {
        return Err(format!(
            "digest {s:?} must have exactly 64 hex digits after \"blake3:\""
        ));
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16);
        let lo = (pair[1] as char).to_digit(16);
        match (hi, lo, out.get_mut(i)) {
            (Some(h), Some(l), Some(o)) => *o = (h * 16 + l) as u8,
            _ => {
                return Err(format!(
                    "digest {s:?} has a character that is not a hex digit"
                ));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- approval

/// Longest duration accepted anywhere in the policy (`timestamp_timeout`,
/// a `rate` period): one day.
pub const MAX_DURATION_SECS: u64 = 86_400;

/// Parse a duration: `"0"`, or a decimal number followed by `s`, `m` or
/// `h` (`"90s"`, `"5m"`, `"1h"`), at most one day.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    if s == "0" {
        return Ok(0);
    }
    let (num, unit) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1u64),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        _ => {
            return Err(format!(
                "duration {s:?} must be a number with a unit s, m or h (like \"5m\"), or \"0\""
            ));
        }
    };
    if num.is_empty() || num.len() > 6 || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "duration {s:?} must be a number with a unit s, m or h (like \"5m\"), or \"0\""
        ));
    }
    match num.parse::<u64>().ok().and_then(|n| n.checked_mul(unit)) {
        Some(v) if v <= MAX_DURATION_SECS => Ok(v),
        _ => Err(format!("duration {s:?} is longer than one day (24h)")),
    }
}

/// Parse `rate = "N/DURATION"` (`"10/1m"`): N >= 1 calls per a non-zero
/// duration of at most one day.
pub fn parse_rate(s: &str) -> Result<Rate, String> {
    let bad = || {
        format!("rate {s:?} must be \"N/DURATION\", like \"10/1m\" (N >= 1, DURATION 1s to 24h)")
    };
    let Some((n, d)) = s.split_once('/') else {
        return Err(bad());
    };
    if n.is_empty() || n.len() > 9 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let count = n.parse::<u32>().map_err(|_| bad())?;
    let per_secs = parse_duration(d).map_err(|_| bad())?;
    if count == 0 || per_secs == 0 {
        return Err(bad());
    }
    Ok(Rate { count, per_secs })
}

/// Parse an approver public key `ed25519:<base64url of 32 bytes>`
/// (unpadded, as `bdctl key` writes it).
/// The key must be a valid, non-weak (not small-order) Ed25519 point.
pub fn parse_public_key(s: &str) -> Result<[u8; 32], String> {
    use base64::Engine as _;
    let Some(b64) = s.strip_prefix("ed25519:") else {
        return Err("key must be \"ed25519:\" followed by the base64url public key".to_string());
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| "key is not valid base64url after \"ed25519:\"".to_string())?;
    let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
        format!(
            "key has {} bytes; an Ed25519 public key has 32",
            bytes.len()
        )
    })?;
    match ed25519_dalek::VerifyingKey::from_bytes(&key) {
        Ok(k) if !k.is_weak() => Ok(key),
        Ok(_) => Err("key is a weak (small-order) Ed25519 point".to_string()),
        Err(_) => Err("key is not a valid Ed25519 public key".to_string()),
    }
}

fn approver(
    ctx: &Ctx<'_>,
    name: &SStr,
    raw: &Spanned<RawApprover>,
) -> Result<Approver, PolicyError> {
    let n = name.get_ref();
    if !is_approver_name(n) {
        return Err(ctx.err(
            &name.span(),
            format!("approver name {n:?} must be 1 to 64 of [a-z0-9_.-], starting with a letter or digit"),
        ));
    }
    let r = raw.get_ref();
    let key = match &r.key {
        Some(k) => parse_public_key(k.get_ref())
            .map_err(|m| ctx.err(&k.span(), format!("approver {n:?}: {m}")))?,
        None => {
            return Err(ctx.err(
                &raw.span(),
                format!("approver {n:?} has no `key` (required)"),
            ));
        }
    };
    let epoch = match &r.epoch {
        Some(e) => u64::try_from(*e.get_ref()).map_err(|_| {
            ctx.err(
                &e.span(),
                format!("approver {n:?}: epoch {} must be 0 or more", e.get_ref()),
            )
        })?,
        None => {
            return Err(ctx.err(
                &raw.span(),
                format!("approver {n:?} has no `epoch` (required)"),
            ));
        }
    };
    Ok(Approver {
        name: n.clone(),
        key,
        epoch,
        origin: ctx.origin(&name.span()),
    })
}

/// The approval keys of a rule. `None` when they are all defaults.
fn approval(
    ctx: &Ctx<'_>,
    name: &str,
    raw: &RawRule,
    auth: Auth,
    action: Action,
) -> Result<Option<Approval>, PolicyError> {
    let keys: [(&str, Option<Range<usize>>); 3] = [
        ("approvals", raw.approvals.as_ref().map(|v| v.span())),
        ("approvers", raw.approvers.as_ref().map(|v| v.span())),
        (
            "nonce_namespace",
            raw.nonce_namespace.as_ref().map(|v| v.span()),
        ),
    ];
    if auth != Auth::Approval || action == Action::Deny {
        if let Some((key, Some(at))) = keys.iter().find(|(_, s)| s.is_some()) {
            let why = if action == Action::Deny {
                format!("deny rule {name:?} must not have `{key}` (it never runs anything)")
            } else {
                format!("rule {name:?}: `{key}` needs auth = \"approval\"")
            };
            return Err(ctx.err(at, why));
        }
        return Ok(None);
    }
    let mut out = Approval::default();
    if let Some(a) = &raw.approvals {
        out.approvals = match u32::try_from(*a.get_ref()) {
            Ok(v) if (1..=32).contains(&v) => v,
            _ => {
                return Err(ctx.err(
                    &a.span(),
                    format!("rule {name:?}: approvals {} must be 1 to 32", a.get_ref()),
                ));
            }
        };
    }
    if let Some(list) = &raw.approvers {
        let mut names = Vec::new();
        for n in list.get_ref() {
            if !is_approver_name(n.get_ref()) {
                return Err(ctx.err(
                    &n.span(),
                    format!("approver name {:?} must be 1 to 64 of [a-z0-9_.-], starting with a letter or digit", n.get_ref()),
                ));
            }
            names.push(n.get_ref().clone());
        }
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Err(ctx.err(
                &list.span(),
                format!("rule {name:?}: approvers is empty (omit it to allow every approver)"),
            ));
        }
        if names.len() < out.approvals as usize {
            let at = raw.approvals.as_ref().map_or(list.span(), |a| a.span());
            return Err(ctx.err(
                &at,
                format!(
                    "rule {name:?}: approvals = {} but only {} distinct approvers are allowed, so it could never be satisfied",
                    out.approvals,
                    names.len()
                ),
            ));
        }
        out.approvers = names;
    }
    if let Some(ns) = &raw.nonce_namespace {
        if !is_namespace(ns.get_ref()) {
            return Err(ctx.err(
                &ns.span(),
                format!(
                    "nonce_namespace {:?} must match [a-z0-9_-]{{1,64}}",
                    ns.get_ref()
                ),
            ));
        }
        out.nonce_namespace = ns.get_ref().clone();
    }
    Ok(if out == Approval::default() {
        None
    } else {
        Some(out)
    })
}

fn command(ctx: &Ctx<'_>, c: &Spanned<RawCommand>) -> Result<CommandSpec, PolicyError> {
    let (line, line_span, digest) = match c.get_ref() {
        RawCommand::Line(s) => (s.as_str(), c.span(), None),
        RawCommand::Table(t) => {
            let d = match &t.digest {
                Some(d) => Some(parse_digest(d.get_ref()).map_err(|m| ctx.err(&d.span(), m))?),
                None => None,
            };
            (t.cmd.get_ref().as_str(), t.cmd.span(), d)
        }
    };
    if line.trim() == "ALL" {
        if digest.is_some() {
            return Err(ctx.err(&line_span, "\"ALL\" cannot have a digest pin"));
        }
        return Ok(CommandSpec {
            path: PathBuf::from("ALL"),
            args: Args::Prefix(Vec::new()),
            digest: None,
            kind: CommandKind::All,
        });
    }
    if line.trim_start().starts_with('!') {
        return Err(ctx.err(
            &line_span,
            format!(
                "command {line:?}: negation is sudoers syntax; write a deny rule (action = \"deny\") for the commands to exclude"
            ),
        ));
    }
    if line.trim_start().starts_with("ALL ") || line.trim_start().starts_with("ALL\t") {
        return Err(ctx.err(
            &line_span,
            format!("command {line:?}: \"ALL\" takes no arguments (it allows any)"),
        ));
    }
    let parsed = cmdline::parse_command(line).map_err(|e| {
        // Point inside the string when its text in the file is exactly its
        // value (a string without escapes); otherwise at the string.
        let inner = line_span.start + 1;
        let at = match ctx.src.get(inner..inner + line.len()) {
            Some(text) if text == line => inner + e.offset,
            _ => line_span.start,
        };
        ctx.err(&(at..at), format!("command {line:?}: {}", e.message))
    })?;
    if parsed.dir && digest.is_some() {
        return Err(ctx.err(
            &line_span,
            format!("command {line:?}: a directory cannot have a digest pin"),
        ));
    }
    Ok(CommandSpec {
        path: parsed.path,
        args: parsed.args,
        digest,
        kind: if parsed.dir {
            CommandKind::Dir
        } else {
            CommandKind::File
        },
    })
}

// ---------------------------------------------------------------- sandbox

/// Whether `s` is a valid sandbox profile name: `[A-Za-z0-9_-]+`.
pub fn is_profile_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn profile_name(ctx: &Ctx<'_>, s: &SStr) -> Result<String, PolicyError> {
    let v = s.get_ref();
    if !is_profile_name(v) {
        return Err(ctx.err(
            &s.span(),
            format!("sandbox profile name {v:?} must match [A-Za-z0-9_-]+"),
        ));
    }
    Ok(v.clone())
}

/// A `sandbox = "NAME"` reference: syntax only here; [`merge`] checks that
/// the profile exists.
fn profile_ref(ctx: &Ctx<'_>, s: &SStr) -> Result<String, PolicyError> {
    profile_name(ctx, s)
}

/// Normalise a capability name (`"CAP_NET_ADMIN"`, `"net_admin"`, any case)
/// to lower case without the `cap_` prefix; `None` when the kernel has no
/// such capability (as known to the `caps` crate).
pub fn normalize_cap(s: &str) -> Option<String> {
    let lower = s.to_ascii_lowercase();
    let bare = lower.strip_prefix("cap_").unwrap_or(&lower);
    if bare.is_empty() || !bare.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return None;
    }
    let upper = format!("CAP_{}", bare.to_ascii_uppercase());
    upper
        .parse::<caps::Capability>()
        .ok()
        .map(|_| bare.to_string())
}

fn capabilities(ctx: &Ctx<'_>, list: &[SStr]) -> Result<Vec<String>, PolicyError> {
    let mut out = list
        .iter()
        .map(|c| {
            normalize_cap(c.get_ref()).ok_or_else(|| {
                ctx.err(
                    &c.span(),
                    format!(
                        "unknown capability {:?} (write a name from capabilities(7), like \"net_bind_service\")",
                        c.get_ref()
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// Landlock path lists: absolute, no `.` or `..` components, no NUL.
/// Normalised (repeated and trailing slashes dropped), sorted, deduplicated.
/// Existence is not checked here (see `lint::lint_paths`).
fn sandbox_paths(ctx: &Ctx<'_>, key: &str, list: &[SStr]) -> Result<Vec<PathBuf>, PolicyError> {
    let mut out = list
        .iter()
        .map(|s| {
            let v = s.get_ref();
            if clean_abs_dir(v) {
                Ok(Path::new(v).components().collect::<PathBuf>())
            } else {
                Err(ctx.err(
                    &s.span(),
                    format!("landlock {key} path {v:?} must be absolute, without '.' or '..' components or NUL"),
                ))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

fn ports(ctx: &Ctx<'_>, key: &str, list: &[Spanned<i64>]) -> Result<Vec<u16>, PolicyError> {
    let mut out = list
        .iter()
        .map(|p| match u16::try_from(*p.get_ref()) {
            Ok(port) if port != 0 => Ok(port),
            _ => Err(ctx.err(
                &p.span(),
                format!("{key} port {} is out of range (1 to 65535)", p.get_ref()),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The highest Landlock ABI this build knows (Linux 6.12 has ABI 6,
/// 6.15 has ABI 7).
pub const MAX_LANDLOCK_ABI: u32 = 7;

fn landlock(ctx: &Ctx<'_>, l: &RawLandlock) -> Result<LandlockSpec, PolicyError> {
    let paths = |key: &str, v: &Option<Vec<SStr>>| match v {
        Some(list) => sandbox_paths(ctx, key, list),
        None => Ok(Vec::new()),
    };
    let port_list = |key: &str, v: &Option<Vec<Spanned<i64>>>| match v {
        Some(list) => ports(ctx, key, list).map(Some),
        None => Ok(None),
    };
    let mut scope_abstract_unix = false;
    let mut scope_signals = false;
    for s in l.scope.as_deref().unwrap_or_default() {
        match s.get_ref().as_str() {
            "abstract_unix" => scope_abstract_unix = true,
            "signal" => scope_signals = true,
            other => {
                return Err(ctx.err(
                    &s.span(),
                    format!("landlock scope {other:?} must be \"abstract_unix\" or \"signal\""),
                ));
            }
        }
    }
    let min_abi = match &l.min_abi {
        None => None,
        Some(a) => match u32::try_from(*a.get_ref()) {
            Ok(v) if (1..=MAX_LANDLOCK_ABI).contains(&v) => Some(v),
            _ => {
                return Err(ctx.err(
                    &a.span(),
                    format!(
                        "min_abi {} is not a known Landlock ABI (1 to {MAX_LANDLOCK_ABI}; omit it for best effort)",
                        a.get_ref()
                    ),
                ));
            }
        },
    };
    Ok(LandlockSpec {
        read: paths("read", &l.read)?,
        write: paths("write", &l.write)?,
        exec: paths("exec", &l.exec)?,
        bind_tcp: port_list("bind_tcp", &l.bind_tcp)?,
        connect_tcp: port_list("connect_tcp", &l.connect_tcp)?,
        scope_abstract_unix,
        scope_signals,
        scope_default: l.scope.is_none(),
        min_abi,
    })
}

/// Check syscall names and `@group` names against the runtime's table.
/// Sorted and deduplicated (order has no meaning).
fn syscall_names(ctx: &Ctx<'_>, key: &str, list: &[SStr]) -> Result<Vec<String>, PolicyError> {
    let mut out = list
        .iter()
        .map(|s| {
            let v = s.get_ref();
            // Expanding one name checks it and, for a group, every member.
            syscalls::expand(std::slice::from_ref(v))
                .map_err(|m| ctx.err(&s.span(), format!("seccomp {key}: {m}")))?;
            Ok(v.clone())
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

fn seccomp(ctx: &Ctx<'_>, s: &RawSeccomp) -> Result<SeccompSpec, PolicyError> {
    let action = match &s.action {
        None => SeccompAction::Errno,
        Some(a) => match a.get_ref().as_str() {
            "kill" => SeccompAction::Kill,
            "errno" => SeccompAction::Errno,
            "log" => SeccompAction::Log,
            other => {
                return Err(ctx.err(
                    &a.span(),
                    format!("seccomp action {other:?} must be \"kill\", \"errno\" or \"log\""),
                ));
            }
        },
    };
    Ok(SeccompSpec {
        allow: syscall_names(ctx, "allow", s.allow.as_deref().unwrap_or_default())?,
        deny: syscall_names(ctx, "deny", s.deny.as_deref().unwrap_or_default())?,
        action,
    })
}

fn profile(ctx: &Ctx<'_>, name: &SStr, raw: &RawProfile) -> Result<SandboxProfile, PolicyError> {
    Ok(SandboxProfile {
        name: profile_name(ctx, name)?,
        landlock: match &raw.landlock {
            Some(l) => Some(landlock(ctx, l.get_ref())?),
            None => None,
        },
        seccomp: match &raw.seccomp {
            Some(s) => Some(seccomp(ctx, s.get_ref())?),
            None => None,
        },
        origin: ctx.origin(&name.span()),
    })
}

fn rule(ctx: &Ctx<'_>, r: &Spanned<RawRule>) -> Result<Rule, PolicyError> {
    let span = r.span();
    let raw = r.get_ref();
    let name = match &raw.name {
        Some(n) if n.get_ref().trim().is_empty() => {
            return Err(ctx.err(&n.span(), "rule name must not be empty"));
        }
        Some(n) if n.get_ref().chars().any(char::is_control) => {
            return Err(ctx.err(&n.span(), "rule name must not contain control characters"));
        }
        Some(n) => n.get_ref().clone(),
        None => return Err(ctx.err(&span, "rule has no `name` (required)")),
    };
    let users = principals(ctx, raw.users.as_deref().unwrap_or_default())?;
    let groups = principals(ctx, raw.groups.as_deref().unwrap_or_default())?;
    if users.is_empty() && groups.is_empty() {
        return Err(ctx.err(
            &span,
            format!("rule {name:?} names no `users` and no `groups` (at least one is required)"),
        ));
    }
    let action = match &raw.action {
        None => Action::Allow,
        Some(a) => match a.get_ref().as_str() {
            "allow" => Action::Allow,
            "deny" => Action::Deny,
            other => {
                return Err(ctx.err(
                    &a.span(),
                    format!("action {other:?} must be \"allow\" or \"deny\""),
                ));
            }
        },
    };
    let auth = match &raw.auth {
        None => Auth::Password,
        Some(a) => match a.get_ref().as_str() {
            "none" => Auth::None,
            "password" => Auth::Password,
            "approval" => Auth::Approval,
            other => {
                return Err(ctx.err(
                    &a.span(),
                    format!("auth {other:?} must be \"none\", \"password\" or \"approval\""),
                ));
            }
        },
    };
    let run_as = match (&raw.run_as, action) {
        (None, Action::Allow) => vec![Principal::Name("root".to_string())],
        (None, Action::Deny) => Vec::new(),
        (Some(list), _) => {
            let v = run_as_list(ctx, list.get_ref())?;
            if v.is_empty() && action == Action::Allow {
                return Err(ctx.err(
                    &list.span(),
                    format!(
                        "rule {name:?}: run_as is empty, so the rule could never allow anything"
                    ),
                ));
            }
            v
        }
    };
    let commands = match &raw.commands {
        None => {
            return Err(ctx.err(
                &span,
                format!("rule {name:?} has no `commands` (at least one is required)"),
            ));
        }
        Some(c) if c.get_ref().is_empty() => {
            return Err(ctx.err(
                &c.span(),
                format!("rule {name:?}: commands is empty (at least one is required)"),
            ));
        }
        Some(c) => {
            let v = c
                .get_ref()
                .iter()
                .map(|c| command(ctx, c))
                .collect::<Result<Vec<_>, _>>()?;
            if action == Action::Deny && v.iter().any(|c| c.kind == CommandKind::Dir) {
                return Err(ctx.err(
                    &c.span(),
                    format!(
                        "deny rule {name:?}: a command directory can't be denied (deny rules match the \
                         file by inode, whatever its name); name the files"
                    ),
                ));
            }
            if v.len() > 1 && v.iter().any(|c| c.kind == CommandKind::All) {
                return Err(ctx.err(
                    &c.span(),
                    format!(
                        "rule {name:?}: \"ALL\" must be the rule's only command (it already covers every command)"
                    ),
                ));
            }
            v
        }
    };
    let setenv = match &raw.setenv {
        Some(t) => setenv(ctx, t)?,
        None => Vec::new(),
    };
    let sandbox = match &raw.sandbox {
        Some(s) if action == Action::Deny => {
            return Err(ctx.err(
                &s.span(),
                format!("deny rule {name:?} must not have a `sandbox` (it never runs anything)"),
            ));
        }
        Some(s) => Some(profile_ref(ctx, s)?),
        None => None,
    };
    let caps = match &raw.caps {
        Some(list) if action == Action::Deny => {
            let at = list.first().map_or(span.clone(), |c| c.span());
            return Err(ctx.err(
                &at,
                format!("deny rule {name:?} must not have `caps` (it never runs anything)"),
            ));
        }
        Some(list) => capabilities(ctx, list)?,
        None => Vec::new(),
    };
    let approval = approval(ctx, &name, raw, auth, action)?;
    let rate = match &raw.rate {
        Some(r) if action == Action::Deny => {
            return Err(ctx.err(
                &r.span(),
                format!("deny rule {name:?} must not have a `rate` (it never runs anything)"),
            ));
        }
        Some(r) => Some(parse_rate(r.get_ref()).map_err(|m| ctx.err(&r.span(), m))?),
        None => None,
    };
    let (env_keep, secure_path, timestamp_timeout) = rule_env(ctx, &name, raw, action)?;
    Ok(Rule {
        name,
        users,
        groups,
        run_as,
        commands,
        auth,
        action,
        setenv,
        sandbox,
        caps,
        approval,
        rate,
        session: Session {
            monitor: raw.monitor,
            use_pty: raw.use_pty,
            require_tty: raw.require_tty,
        },
        env_keep,
        secure_path,
        timestamp_timeout,
        origin: ctx.origin(&span),
    })
}

/// A rule's own `env_keep`, `secure_path` and `timestamp_timeout` (the
/// values checked as in `[defaults]`); refused on deny rules, which never
/// run anything.
type RuleEnv = (Option<Vec<String>>, Option<Vec<PathBuf>>, Option<u64>);

fn rule_env(
    ctx: &Ctx<'_>,
    name: &str,
    raw: &RawRule,
    action: Action,
) -> Result<RuleEnv, PolicyError> {
    if action == Action::Deny {
        let given = [
            raw.env_keep.as_ref().map(|l| ("env_keep", l.span())),
            raw.secure_path.as_ref().map(|s| ("secure_path", s.span())),
            raw.timestamp_timeout
                .as_ref()
                .map(|s| ("timestamp_timeout", s.span())),
        ];
        if let Some((key, at)) = given.into_iter().flatten().next() {
            return Err(ctx.err(
                &at,
                format!("deny rule {name:?} must not have `{key}` (it never runs anything)"),
            ));
        }
    }
    let keep = match &raw.env_keep {
        Some(l) if l.get_ref().is_empty() => {
            return Err(ctx.err(
                &l.span(),
                format!("rule {name:?}: env_keep is empty (it adds to [defaults] env_keep; leave it out)"),
            ));
        }
        Some(l) => Some(env_keep(ctx, l.get_ref())?),
        None => None,
    };
    let path = match &raw.secure_path {
        Some(s) => Some(secure_path(ctx, s)?),
        None => None,
    };
    let timeout = match &raw.timestamp_timeout {
        Some(t) => Some(
            parse_duration(t.get_ref())
                .map_err(|m| ctx.err(&t.span(), format!("timestamp_timeout: {m}")))?,
        ),
        None => None,
    };
    Ok((keep, path, timeout))
}

fn defaults(ctx: &Ctx<'_>, d: &RawDefaults) -> Result<Defaults, PolicyError> {
    let mut out = Defaults::default();
    if let Some(s) = &d.secure_path {
        out.secure_path = secure_path(ctx, s)?;
    }
    if let Some(list) = &d.env_keep {
        out.env_keep = env_keep(ctx, list)?;
    }
    if let Some(u) = &d.umask {
        out.umask = umask(ctx, u)?;
    }
    if let Some(t) = &d.setenv {
        out.setenv = setenv(ctx, t)?;
    }
    if let Some(s) = &d.sandbox {
        out.sandbox = Some(profile_ref(ctx, s)?);
    }
    if let Some(m) = &d.drift {
        out.drift = match m.get_ref().as_str() {
            "warn" => crate::policy::model::DriftMode::Warn,
            "deny" => crate::policy::model::DriftMode::Deny,
            other => {
                return Err(ctx.err(
                    &m.span(),
                    format!("drift {other:?} must be \"warn\" or \"deny\""),
                ));
            }
        };
    }
    if let Some(b) = d.pam_account {
        out.pam_account = b;
    }
    if let Some(t) = &d.timestamp_timeout {
        out.timestamp_timeout = parse_duration(t.get_ref())
            .map_err(|m| ctx.err(&t.span(), format!("timestamp_timeout: {m}")))?;
    }
    if let Some(r) = &d.telemetry_sample_rate {
        let v = *r.get_ref();
        // No float formatting here: it would grow bdexec for an error
        // message.
        if !(0.0..=1.0).contains(&v) {
            return Err(ctx.err(
                &r.span(),
                "telemetry_sample_rate must be between 0.0 and 1.0",
            ));
        }
        // In range, so the sum is in 0.5..=1e6 + 0.5: rounds to 0..=1e6.
        out.telemetry_sample_ppm = (v * 1e6 + 0.5) as u32;
    }
    out.session = Session {
        monitor: d.monitor,
        use_pty: d.use_pty,
        require_tty: d.require_tty,
    };
    Ok(out)
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
    let mut seen: HashMap<&str, &Origin> = HashMap::new();
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
    })
}

/// Parse a single self-contained main policy file (no drop-ins).
pub fn parse_main(src: &str, file: &Path) -> Result<Policy, PolicyError> {
    merge(parse_policy(src, file)?, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyErrorKind;
    use crate::policy::model::{Args, LandlockSpec, SeccompAction, SeccompSpec};

    const GOOD: &str = r##"
version = 1

[defaults]                        # every key optional
secure_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
env_keep = ["TERM", "LANG", "LC_*"]
umask = "0022"
setenv = { ZED = "z", EDITOR = "vi" }

[[rule]]
name = "restart-web"
users = ["alice", "#1500"]
groups = ["ops"]
run_as = ["root", "www-data"]
commands = [
  "/usr/bin/systemctl restart nginx.service",
  "/usr/bin/journalctl *",
  "/usr/bin/id",
  { cmd = "/usr/bin/tool a", digest = "blake3:00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF" },
]
auth = "none"

[[rule]]
name = "no-shells"
groups = ["#100"]
commands = ['/bin/sh *']
action = "deny"
"##;

    fn main_ok(src: &str) -> Policy {
        match parse_main(src, Path::new("/etc/belladonna/policy.toml")) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    fn main_err(src: &str) -> String {
        match parse_main(src, Path::new("/p.toml")) {
            Ok(p) => panic!("parsed: {p:?}"),
            Err(e) => {
                let s = e.to_string();
                assert!(!s.contains('\n'));
                s
            }
        }
    }

    fn rule_src(body: &str) -> String {
        format!("version = 1\n[[rule]]\n{body}\n")
    }

    #[test]
    fn parses_the_design_example() {
        let p = main_ok(GOOD);
        assert_eq!(p.version, 1);
        assert_eq!(p.defaults.umask, 0o022);
        assert_eq!(p.defaults.env_keep, vec!["TERM", "LANG", "LC_*"]);
        assert_eq!(p.defaults.secure_path.len(), 6);
        assert_eq!(
            p.defaults.setenv,
            vec![("EDITOR".into(), "vi".into()), ("ZED".into(), "z".into())]
        );
        assert_eq!(p.rules.len(), 2);
        let r = &p.rules[0];
        assert_eq!(r.name, "restart-web");
        assert_eq!(
            r.users,
            vec![Principal::Name("alice".into()), Principal::Id(1500)]
        );
        assert_eq!(r.groups, vec![Principal::Name("ops".into())]);
        assert_eq!(
            r.run_as,
            vec![
                Principal::Name("root".into()),
                Principal::Name("www-data".into())
            ]
        );
        assert_eq!(r.auth, Auth::None);
        assert_eq!(r.action, Action::Allow);
        assert_eq!(r.commands.len(), 4);
        assert_eq!(
            r.commands[0].args,
            Args::Exact(vec!["restart".into(), "nginx.service".into()])
        );
        assert_eq!(r.commands[1].args, Args::Prefix(vec![]));
        assert_eq!(r.commands[2].args, Args::None);
        let d = r.commands[3].digest.unwrap_or_default();
        assert_eq!(d[0], 0x00);
        assert_eq!(d[1], 0x11);
        assert_eq!(d[31], 0xff);
        assert_eq!(r.origin.line, 10);
        assert_eq!(r.origin.file, PathBuf::from("/etc/belladonna/policy.toml"));
        let r = &p.rules[1];
        assert_eq!(r.action, Action::Deny);
        assert!(r.run_as.is_empty());
        assert_eq!(r.auth, Auth::Password);
        assert_eq!(r.groups, vec![Principal::Id(100)]);
    }

    /// monitor, use_pty, require_tty: booleans in a rule or [defaults],
    /// the rule's winning; absent ones leave the canonical hash alone.
    #[test]
    fn session_keys() {
        let rule = "[[rule]]\nname = \"r\"\nusers = [\"a\"]\ncommands = [\"/x\"]\n";
        let p = main_ok(&format!(
            "version = 1\n[defaults]\nmonitor = true\nrequire_tty = true\n{rule}use_pty = false\nmonitor = false\n"
        ));
        let s = p.rules[0].session.or(p.defaults.session);
        assert_eq!(
            (s.monitor, s.use_pty, s.require_tty),
            (Some(false), Some(false), Some(true))
        );
        let plain = main_ok(&format!("version = 1\n{rule}"));
        assert!(plain.rules[0].session.is_unset() && plain.defaults.session.is_unset());
        let json = serde_json::to_string(&plain).expect("json");
        assert!(!json.contains("session"), "{json}");
        let e = main_err(&format!("version = 1\n{rule}monitor = \"yes\"\n"));
        assert!(e.contains("boolean"), "{e}");
    }

    #[test]
    fn defaults_when_omitted() {
        let p = main_ok(&rule_src(
            "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/true\"]",
        ));
        assert_eq!(p.defaults, Defaults::default());
        assert_eq!(p.rules[0].run_as, vec![Principal::Name("root".into())]);
        assert_eq!(p.rules[0].auth, Auth::Password);
        assert_eq!(p.rules[0].action, Action::Allow);
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let s = main_err("version = 1\n[[rule]]\nname = \"a\"\n  colour = \"red\"\n");
        assert!(s.starts_with("/p.toml:4:3: "), "{s}");
        assert!(s.contains("colour"), "{s}");
        let s = main_err("version = 1\nfoo = 2\n");
        assert!(s.starts_with("/p.toml:2:1: "), "{s}");
        let s = main_err("version = 1\n[defaults]\nsecure_pth = \"/bin\"\n");
        assert!(s.starts_with("/p.toml:3:1: "), "{s}");
        let s = main_err(&rule_src(
            "name = \"a\"\nusers = [\"u\"]\ncommands = [{ cmd = \"/bin/x\", sha = \"x\" }]",
        ));
        assert!(s.starts_with("/p.toml:5:"), "{s}");
        assert!(s.contains("sha"), "{s}");
    }

    #[test]
    fn syntax_error_has_position() {
        let s = main_err("version = 1\n[[rule]\n");
        assert!(s.starts_with("/p.toml:2:"), "{s}");
        let s = main_err("version = 1\nversion = 1\n");
        assert!(s.starts_with("/p.toml:2:"), "{s}");
    }

    #[test]
    fn wrong_types() {
        let s = main_err(&rule_src(
            "name = \"a\"\nusers = \"alice\"\ncommands = [\"/bin/x\"]",
        ));
        assert!(s.starts_with("/p.toml:4:9: "), "{s}");
        let s = main_err(&rule_src("name = \"a\"\nusers = [\"u\"]\ncommands = [3]"));
        assert!(s.starts_with("/p.toml:5:13: "), "{s}");
        let s = main_err("version = \"1\"\n");
        assert!(s.starts_with("/p.toml:1:11: "), "{s}");
    }

    #[test]
    fn missing_name() {
        let s = main_err(&rule_src("users = [\"u\"]\ncommands = [\"/bin/x\"]"));
        assert!(s.starts_with("/p.toml:2:1: "), "{s}");
        assert!(s.contains("no `name`"), "{s}");
        let s = main_err(&rule_src(
            "name = \"\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]",
        ));
        assert!(s.starts_with("/p.toml:3:8: "), "{s}");
    }

    #[test]
    fn missing_users_or_commands() {
        let s = main_err(&rule_src("name = \"a\"\ncommands = [\"/bin/x\"]"));
        assert!(s.contains("no `users` and no `groups`"), "{s}");
        let s = main_err(&rule_src(
            "name = \"a\"\nusers = []\ngroups = []\ncommands = [\"/bin/x\"]",
        ));
        assert!(s.contains("no `users` and no `groups`"), "{s}");
        let s = main_err(&rule_src("name = \"a\"\nusers = [\"u\"]"));
        assert!(s.contains("no `commands`"), "{s}");
        let s = main_err(&rule_src("name = \"a\"\nusers = [\"u\"]\ncommands = []"));
        assert!(s.starts_with("/p.toml:5:12: "), "{s}");
        let s = main_err(&rule_src(
            "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\nrun_as = []",
        ));
        assert!(s.starts_with("/p.toml:6:10: "), "{s}");
    }

    #[test]
    fn relative_command_path() {
        let s = main_err(&rule_src(
            "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/ok\", \"bin/x y\"]",
        ));
        assert!(s.starts_with("/p.toml:5:25: "), "{s}");
        assert!(s.contains("not absolute"), "{s}");
        let s = main_err(&rule_src(
            "name = \"a\"\nusers = [\"u\"]\ncommands = [{ cmd = \"x\" }]",
        ));
        assert!(s.starts_with("/p.toml:5:22: "), "{s}");
    }

    #[test]
    fn trailing_backslash_and_unterminated_quote() {
        let s = main_err(&rule_src(
            "name = \"a\"\nusers = [\"u\"]\ncommands = ['/bin/echo a\\']",
        ));
        assert!(s.contains("trailing backslash"), "{s}");
        assert!(s.starts_with("/p.toml:5:25: "), "{s}");
        let s = main_err(&rule_src(
            "name = \"a\"\nusers = [\"u\"]\ncommands = ['/bin/echo \"a b']",
        ));
        assert!(
            s.contains("unterminated") && s.starts_with("/p.toml:5:24: "),
            "{s}"
        );
        let s = main_err(&rule_src("name = \"a\"\nusers = [\"u\"]\ncommands = ['']"));
        assert!(s.contains("empty command"), "{s}");
    }

    #[test]
    fn bad_ids() {
        for bad in [
            "#-1",
            "#4294967295",
            "#4294967296",
            "#",
            "#+1",
            "#1a",
            "# 1",
            "#99999999999",
        ] {
            let s = main_err(&rule_src(&format!(
                "name = \"a\"\nusers = [\"{bad}\"]\ncommands = [\"/bin/x\"]"
            )));
            assert!(s.starts_with("/p.toml:4:10: "), "{bad}: {s}");
            let s = main_err(&rule_src(&format!(
                "name = \"a\"\nusers = [\"u\"]\nrun_as = [\"{bad}\"]\ncommands = [\"/bin/x\"]"
            )));
            assert!(s.starts_with("/p.toml:5:11: "), "{bad}: {s}");
        }
        assert_eq!(
            parse_principal("#4294967294"),
            Ok(Principal::Id(4294967294))
        );
        assert_eq!(parse_principal("#0"), Ok(Principal::Id(0)));
    }

    #[test]
    fn bad_names() {
        for bad in [
            "a/b", "", "a b", "a:b", "a\\tb", "a\\u0000", "%wheel", "+net",
        ] {
            let s = main_err(&rule_src(&format!(
                "name = \"a\"\ngroups = [\"{bad}\"]\ncommands = [\"/bin/x\"]"
            )));
            assert!(s.starts_with("/p.toml:4:11: "), "{bad:?}: {s}");
        }
        assert!(
            main_err(&rule_src(
                "name = \"a\"\nusers = [\"../x\"]\ncommands = [\"/bin/x\"]"
            ))
            .contains("'/'")
        );
    }

    #[test]
    fn bad_digest() {
        for bad in [
            "blake3:00",
            "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
            "blake3:g0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
            "blake3:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00",
            "blake3:é0112233445566778899aabbccddeeff00112233445566778899aabbccddeef",
        ] {
            let s = main_err(&rule_src(&format!(
                "name = \"a\"\nusers = [\"u\"]\ncommands = [{{ cmd = \"/bin/x\", digest = \"{bad}\" }}]"
            )));
            assert!(s.starts_with("/p.toml:5:40: "), "{bad}: {s}");
        }
    }

    #[test]
    fn bad_defaults() {
        let s = main_err("version = 1\n[defaults]\numask = \"1000\"\n");
        assert!(
            s.starts_with("/p.toml:3:9: ") && s.contains("out of range"),
            "{s}"
        );
        for bad in ["", "0o22", "8", "00022", "-1"] {
            let s = main_err(&format!("version = 1\n[defaults]\numask = \"{bad}\"\n"));
            assert!(s.starts_with("/p.toml:3:9: "), "{bad}: {s}");
        }
        assert!(main_err("version = 1\n[defaults]\numask = 18\n").starts_with("/p.toml:3:9: "));
        assert_eq!(
            main_ok("version = 1\n[defaults]\numask = \"777\"\n")
                .defaults
                .umask,
            0o777
        );
        assert_eq!(
            main_ok("version = 1\n[defaults]\numask = \"0\"\n")
                .defaults
                .umask,
            0
        );
        for bad in [
            "",
            "usr/bin",
            "/bin:",
            "/bin::/sbin",
            "/usr/../bin",
            "/usr/./bin",
        ] {
            let s = main_err(&format!(
                "version = 1\n[defaults]\nsecure_path = \"{bad}\"\n"
            ));
            assert!(s.starts_with("/p.toml:3:15: "), "{bad}: {s}");
        }
        for bad in ["1X", "A-B", "*", "LD_PRELOAD", "LD_*", "A B", ""] {
            let s = main_err(&format!(
                "version = 1\n[defaults]\nenv_keep = [\"TERM\", \"{bad}\"]\n"
            ));
            assert!(s.starts_with("/p.toml:3:21: "), "{bad}: {s}");
        }
        for bad in ["LD_PRELOAD", "BASH_FUNC_x", "1A", "\"A B\""] {
            let s = main_err(&format!(
                "version = 1\n[defaults]\nsetenv = {{ {bad} = \"x\" }}\n"
            ));
            assert!(s.starts_with("/p.toml:3:12: "), "{bad}: {s}");
        }
        let s = main_err("version = 1\n[defaults]\nsetenv = { A = \"x\\u0000\" }\n");
        assert!(s.starts_with("/p.toml:3:16: "), "{s}");
        let s = main_err(&rule_src(
            "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\nsetenv = { LD_X = \"1\" }",
        ));
        assert!(s.starts_with("/p.toml:6:12: "), "{s}");
    }

    #[test]
    fn bad_enums() {
        let s = main_err(&rule_src(
            "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\nauth = \"nopasswd\"",
        ));
        assert!(s.starts_with("/p.toml:6:8: "), "{s}");
        let s = main_err(&rule_src(
            "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\naction = \"permit\"",
        ));
        assert!(s.starts_with("/p.toml:6:10: "), "{s}");
    }

    #[test]
    fn version_rules() {
        let s = main_err("[defaults]\n");
        assert_eq!(
            s,
            "/p.toml: missing `version = 1` (required in the main policy file)"
        );
        let s = main_err("version = 2\n");
        assert!(s.starts_with("/p.toml:1:11: "), "{s}");
        let frag = parse_policy(
            "[[rule]]\nname = \"d\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n",
            Path::new("/d.toml"),
        );
        assert!(frag.is_ok());
        let e = parse_policy("version = 3\n", Path::new("/d.toml"));
        assert!(e.is_err());
    }

    fn frag(src: &str, file: &str) -> PolicyFragment {
        match parse_policy(src, Path::new(file)) {
            Ok(f) => f,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn merge_order_and_dropin_defaults() {
        let main = frag(
            &rule_src("name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]"),
            "/m.toml",
        );
        let d1 = frag(
            "[[rule]]\nname = \"b\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n",
            "/d/10.toml",
        );
        let d2 = frag(
            "version = 1\n[[rule]]\nname = \"c\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n",
            "/d/20.toml",
        );
        let p = match merge(main.clone(), vec![d1.clone(), d2]) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        let names: Vec<_> = p.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(p.rules[1].origin.file, PathBuf::from("/d/10.toml"));

        let bad = frag(
            "version = 1\n\n  [defaults]\numask = \"0077\"\n",
            "/d/30.toml",
        );
        let e = merge(main, vec![d1, bad])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.starts_with("/d/30.toml:3:3: [defaults] is only allowed"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_names_across_files() {
        let main = frag(
            &rule_src("name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]"),
            "/m.toml",
        );
        let d = frag(
            "\n[[rule]]\nname = \"a\"\nusers = [\"v\"]\ncommands = [\"/bin/y\"]\n",
            "/d/10.toml",
        );
        let e = merge(main, vec![d])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            e,
            "/d/10.toml:2:1: duplicate rule name \"a\" (first defined at /m.toml:2:1)"
        );
        let s = main_err(
            "version = 1\n[[rule]]\nname = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n[[rule]]\nname = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n",
        );
        assert!(s.starts_with("/p.toml:6:1: duplicate rule name"), "{s}");
    }

    #[test]
    fn error_kind_and_columns_count_chars() {
        let e = parse_main("version = 1\n# é\n\"é\" = 1\n", Path::new("/p.toml")).err();
        let e = e.map(|e| (e.kind, e.pos));
        assert_eq!(e, Some((PolicyErrorKind::Invalid, Some((3, 1)))));
        assert_eq!(line_col("aé\nxyz", 5), (2, 2));
        assert_eq!(line_col("aé", 2), (1, 2));
        assert_eq!(line_col("", 10), (1, 1));
        // The indexed version agrees with the plain one everywhere.
        let src = "ab\ncé\n\nxyz\n";
        let ctx = Ctx::new(src, Path::new("t"));
        for off in 0..=src.len() + 2 {
            assert_eq!(ctx.pos(off), line_col(src, off), "offset {off}");
        }
    }

    #[test]
    fn rule_name_control_chars() {
        let s = main_err(&rule_src(
            "name = \"a\\u001b[2J\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]",
        ));
        assert!(s.starts_with("/p.toml:3:8: "), "{s}");
    }

    // ------------------------------------------------------------ sandbox

    const SANDBOXED: &str = r#"version = 1
[defaults]
sandbox = "base"

[sandbox.web]
[sandbox.web.landlock]
read  = ["/usr/share/nginx", "/etc/nginx", "/etc//nginx/"]
write = ["/var/log/nginx"]
exec  = ["/usr/sbin/nginx"]
bind_tcp = [443, 80, 443]
connect_tcp = []
scope = ["abstract_unix", "signal"]
min_abi = 4
[sandbox.web.seccomp]
allow = ["@system-service"]
deny  = ["reboot", "@mount"]
action = "kill"

[sandbox.base]

[[rule]]
name = "web"
users = ["alice"]
run_as = ["www-data"]
commands = ["/usr/sbin/nginx"]
sandbox = "web"
caps = ["NET_BIND_SERVICE", "cap_chown", "Cap_Net_Bind_Service"]

[[rule]]
name = "plain"
users = ["alice"]
commands = ["/usr/bin/id"]
"#;

    #[test]
    fn sandbox_profiles_round_trip() {
        let p = main_ok(SANDBOXED);
        assert_eq!(p.defaults.sandbox.as_deref(), Some("base"));
        let names: Vec<_> = p.sandboxes.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["base", "web"]);
        let base = &p.sandboxes[0];
        assert_eq!((&base.landlock, &base.seccomp), (&None, &None));
        assert_eq!(base.origin.line, 19);
        let web = &p.sandboxes[1];
        assert_eq!((web.origin.line, web.origin.col), (5, 10));
        let Some(l) = &web.landlock else {
            panic!("no landlock")
        };
        assert_eq!(
            l,
            &LandlockSpec {
                read: vec![
                    PathBuf::from("/etc/nginx"),
                    PathBuf::from("/usr/share/nginx")
                ],
                write: vec![PathBuf::from("/var/log/nginx")],
                exec: vec![PathBuf::from("/usr/sbin/nginx")],
                bind_tcp: Some(vec![80, 443]),
                connect_tcp: Some(vec![]),
                scope_abstract_unix: true,
                scope_signals: true,
                scope_default: false,
                min_abi: Some(4),
            }
        );
        assert_eq!(
            web.seccomp,
            Some(SeccompSpec {
                allow: vec!["@system-service".into()],
                deny: vec!["@mount".into(), "reboot".into()],
                action: SeccompAction::Kill,
            })
        );
        let r = &p.rules[0];
        assert_eq!(r.sandbox.as_deref(), Some("web"));
        assert_eq!(r.caps, vec!["chown", "net_bind_service"]);
        let r = &p.rules[1];
        assert_eq!((r.sandbox.as_deref(), r.caps.len()), (None, 0));
    }

    #[test]
    fn sandbox_optional_parts_default() {
        let p = main_ok("version = 1\n[sandbox.a.landlock]\nread = [\"/\"]\n[sandbox.a.seccomp]\n");
        let a = &p.sandboxes[0];
        let l = a.landlock.clone().unwrap_or_else(|| panic!("landlock"));
        assert_eq!(
            (&l.bind_tcp, &l.connect_tcp, l.min_abi),
            (&None, &None, None)
        );
        assert!(!l.scope_abstract_unix && !l.scope_signals);
        // No `scope` written: the root-target default.
        assert!(l.scope_default);
        assert_eq!(l.scopes_for(0), crate::policy::model::Scopes::ALL);
        assert!(!l.scopes_for(1000).any());
        // `scope = []` opts out for every target.
        let p = main_ok("version = 1\n[sandbox.a.landlock]\nscope = []\n");
        let l = p.sandboxes[0]
            .landlock
            .clone()
            .unwrap_or_else(|| panic!("landlock"));
        assert!(!l.scope_default && !l.scopes_for(0).any());
        let p = main_ok("version = 1\n[sandbox.a.landlock]\nscope = [\"signal\"]\n");
        let l = p.sandboxes[0]
            .landlock
            .clone()
            .unwrap_or_else(|| panic!("landlock"));
        assert_eq!(l.scopes_for(0).names(), "signal");
        assert_eq!(
            a.seccomp,
            Some(SeccompSpec {
                allow: vec![],
                deny: vec![],
                action: SeccompAction::Errno
            })
        );
        assert_eq!(p.defaults.sandbox, None);
    }

    fn ll(body: &str) -> String {
        format!("version = 1\n[sandbox.p.landlock]\n{body}\n")
    }

    #[test]
    fn bad_landlock_paths() {
        for bad in [
            "etc/nginx",
            "",
            "./x",
            "/etc/../shadow",
            "/etc/./nginx",
            "/etc/..",
            "/a\\u0000b",
        ] {
            for key in ["read", "write", "exec"] {
                let s = main_err(&ll(&format!("{key} = [\"/ok\", \"{bad}\"]")));
                let col = key.len() + 12;
                assert!(s.starts_with(&format!("/p.toml:3:{col}: ")), "{bad:?}: {s}");
                assert!(s.contains(key), "{s}");
            }
        }
        // Dots inside a name are fine.
        assert_eq!(
            main_ok(&ll("read = [\"/etc/..a/.b\"]")).sandboxes[0]
                .landlock
                .as_ref()
                .map(|l| l.read.clone()),
            Some(vec![PathBuf::from("/etc/..a/.b")])
        );
    }

    #[test]
    fn bad_ports() {
        for bad in ["0", "65536", "-1", "99999999999"] {
            for key in ["bind_tcp", "connect_tcp"] {
                let s = main_err(&ll(&format!("{key} = [80, {bad}]")));
                let col = key.len() + 9;
                assert!(s.starts_with(&format!("/p.toml:3:{col}: ")), "{bad}: {s}");
                assert!(s.contains("out of range"), "{s}");
            }
        }
        let s = main_err(&ll("bind_tcp = [\"80\"]"));
        assert!(s.starts_with("/p.toml:3:13: "), "{s}");
        let p = main_ok(&ll("bind_tcp = [1, 65535]"));
        assert_eq!(
            p.sandboxes[0]
                .landlock
                .as_ref()
                .and_then(|l| l.bind_tcp.clone()),
            Some(vec![1, 65535])
        );
    }

    #[test]
    fn bad_min_abi_and_scope() {
        for bad in ["99", "0", "8", "-1"] {
            let s = main_err(&ll(&format!("min_abi = {bad}")));
            assert!(s.starts_with("/p.toml:3:11: "), "{bad}: {s}");
            assert!(s.contains("Landlock ABI"), "{s}");
        }
        for ok in 1..=7 {
            let p = main_ok(&ll(&format!("min_abi = {ok}")));
            assert_eq!(
                p.sandboxes[0].landlock.as_ref().and_then(|l| l.min_abi),
                Some(ok)
            );
        }
        let s = main_err(&ll("scope = [\"signal\", \"ipc\"]"));
        assert!(s.starts_with("/p.toml:3:20: "), "{s}");
    }

    #[test]
    fn unknown_sandbox_keys() {
        let s = main_err(&ll("raed = [\"/etc\"]"));
        assert!(s.starts_with("/p.toml:3:1: ") && s.contains("raed"), "{s}");
        let s = main_err("version = 1\n[sandbox.p]\nlandlok = {}\n");
        assert!(
            s.starts_with("/p.toml:3:1: ") && s.contains("landlok"),
            "{s}"
        );
        let s = main_err("version = 1\n[sandbox.p.seccomp]\nallow = []\ndefault = \"kill\"\n");
        assert!(
            s.starts_with("/p.toml:4:1: ") && s.contains("default"),
            "{s}"
        );
        let s = main_err("version = 1\n[sandbox.p.seccomp]\naction = \"trap\"\n");
        assert!(s.starts_with("/p.toml:3:10: "), "{s}");
    }

    #[test]
    fn unknown_syscall_or_group() {
        for key in ["allow", "deny"] {
            let s = main_err(&format!(
                "version = 1\n[sandbox.p.seccomp]\n{key} = [\"read\", \"frobnicate\"]\n"
            ));
            let col = key.len() + 13;
            assert!(s.starts_with(&format!("/p.toml:3:{col}: ")), "{s}");
            assert!(s.contains("unknown system call 'frobnicate'"), "{s}");
            let s = main_err(&format!(
                "version = 1\n[sandbox.p.seccomp]\n{key} = [\"@mount\", \"@nope\"]\n"
            ));
            let col = key.len() + 15;
            assert!(s.starts_with(&format!("/p.toml:3:{col}: ")), "{s}");
            assert!(s.contains("unknown syscall group '@nope'"), "{s}");
        }
        // Case matters, as for the kernel's names.
        assert!(
            main_err("version = 1\n[sandbox.p.seccomp]\ndeny = [\"REBOOT\"]\n")
                .contains("unknown system call 'REBOOT'")
        );
    }

    #[test]
    fn bad_profile_names_and_references() {
        let s = main_err("version = 1\n[sandbox.\"a b\"]\n");
        assert!(s.starts_with("/p.toml:2:10: "), "{s}");
        let s = main_err("version = 1\n[sandbox.\"\"]\n");
        assert!(s.contains("[A-Za-z0-9_-]+"), "{s}");
        let s = main_err(&rule_src(
            "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\nsandbox = \"web\"",
        ));
        assert_eq!(
            s,
            "/p.toml:6:11: sandbox profile \"web\" is not defined (define [sandbox.web] in the main policy file)"
        );
        let s = main_err("version = 1\n[defaults]\nsandbox = \"base\"\n[sandbox.web]\n");
        assert!(
            s.starts_with("/p.toml:3:11: ") && s.contains("\"base\""),
            "{s}"
        );
        let s = main_err("version = 1\n[defaults]\nsandbox = \"a/b\"\n");
        assert!(s.starts_with("/p.toml:3:11: "), "{s}");
        // `sandbox` must be a table of profiles, a rule's is a string.
        assert!(main_err("version = 1\nsandbox = \"web\"\n").starts_with("/p.toml:2:"));
        assert!(
            main_err("version = 1\n[sandbox.web]\n[[rule]]\nname = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\nsandbox = { landlock = {} }\n")
                .starts_with("/p.toml:7:11: ")
        );
    }

    #[test]
    fn capabilities() {
        for bad in [
            "net_bind",
            "cap_",
            "",
            "all",
            "CAP_NET-ADMIN",
            "cap_cap_chown",
            " chown",
        ] {
            let s = main_err(&rule_src(&format!(
                "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\ncaps = [\"chown\", \"{bad}\"]"
            )));
            assert!(s.starts_with("/p.toml:6:18: "), "{bad:?}: {s}");
            assert!(s.contains("unknown capability"), "{s}");
        }
        assert_eq!(normalize_cap("CAP_SYS_ADMIN").as_deref(), Some("sys_admin"));
        assert_eq!(normalize_cap("bpf").as_deref(), Some("bpf"));
        assert_eq!(
            normalize_cap("checkpoint_restore").as_deref(),
            Some("checkpoint_restore")
        );
        let p = main_ok(&rule_src(
            "name = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\ncaps = []",
        ));
        assert!(p.rules[0].caps.is_empty());
    }

    #[test]
    fn deny_rule_with_sandbox_or_caps() {
        let s = main_err(
            "version = 1\n[sandbox.web]\n[[rule]]\nname = \"d\"\nusers = [\"u\"]\naction = \"deny\"\ncommands = [\"/bin/x *\"]\ncaps = [\"chown\"]\n",
        );
        assert!(s.starts_with("/p.toml:8:9: deny rule \"d\""), "{s}");
        let s = main_err(
            "version = 1\n[sandbox.web]\n[[rule]]\nname = \"d\"\nusers = [\"u\"]\naction = \"deny\"\ncommands = [\"/bin/x *\"]\ncaps = []\n",
        );
        assert!(s.starts_with("/p.toml:3:1: deny rule \"d\""), "{s}");
        let s = main_err(
            "version = 1\n[sandbox.web]\n[[rule]]\nname = \"d\"\nusers = [\"u\"]\naction = \"deny\"\ncommands = [\"/bin/x *\"]\nsandbox = \"web\"\n",
        );
        assert!(s.starts_with("/p.toml:8:11: deny rule \"d\""), "{s}");
        // A deny rule is untouched by the default profile.
        let p = main_ok(
            "version = 1\n[defaults]\nsandbox = \"web\"\n[sandbox.web]\n[[rule]]\nname = \"d\"\nusers = [\"u\"]\naction = \"deny\"\ncommands = [\"/bin/x *\"]\n",
        );
        assert_eq!(p.rules[0].sandbox, None);
    }

    #[test]
    fn dropins_and_profiles() {
        let main = frag(
            "version = 1\n[sandbox.web]\n[[rule]]\nname = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n",
            "/m.toml",
        );
        // A drop-in may reference a profile of the main file...
        let uses = frag(
            "[[rule]]\nname = \"b\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\nsandbox = \"web\"\n",
            "/d/10.toml",
        );
        let p = merge(main.clone(), vec![uses.clone()]);
        assert_eq!(
            p.map(|p| p.rules[1].sandbox.clone()),
            Ok(Some("web".to_string()))
        );
        // ...but not one that is not there,
        let undefined = frag(
            "[[rule]]\nname = \"c\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n  sandbox = \"db\"\n",
            "/d/20.toml",
        );
        let e = merge(main.clone(), vec![uses.clone(), undefined])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.starts_with("/d/20.toml:5:13: sandbox profile \"db\" is not defined"),
            "{e}"
        );
        // ...and it may not define or redefine one.
        for (src, pos) in [
            ("\n[sandbox.db]\n", "2:10"),
            (
                "version = 1\n[sandbox.web.landlock]\nread = [\"/\"]\n",
                "2:10",
            ),
            ("[sandbox]\n", "1:1"),
            ("sandbox = {}\n", "1:11"),
        ] {
            let d = frag(src, "/d/30.toml");
            let e = merge(main.clone(), vec![uses.clone(), d])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                e.starts_with(&format!("/d/30.toml:{pos}: sandbox profiles ([sandbox.NAME]) are only allowed in the main policy file")),
                "{src:?}: {e}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(s in "\\PC{0,200}") {
            let _ = parse_policy(&s, Path::new("/f.toml"));
        }
    }
}

#[cfg(test)]
mod approval_tests {
    //! `[approvers.NAME]`, `approvals`, `approvers`, `nonce_namespace`,
    //! `rate`, `timestamp_timeout` (docs/approval-tokens.md).
    use super::*;
    use crate::policy::hash::segment_hashes;
    use crate::policy::model::DEFAULT_TIMESTAMP_TIMEOUT;
    use base64::Engine as _;

    fn key(seed: u8) -> String {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        format!(
            "ed25519:{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sk.verifying_key().as_bytes())
        )
    }

    fn src(approvers: &str, rule: &str) -> String {
        format!(
            "version = 1\n{approvers}[[rule]]\nname = \"r\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n{rule}"
        )
    }

    fn two() -> String {
        format!(
            "[approvers.alice-sec]\nkey = \"{}\"\nepoch = 3\n[approvers.bob-sec]\nkey = \"{}\"\nepoch = 1\n",
            key(1),
            key(2)
        )
    }

    fn ok(s: &str) -> Policy {
        match parse_main(s, Path::new("/p.toml")) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    fn err(s: &str) -> String {
        match parse_main(s, Path::new("/p.toml")) {
            Ok(p) => panic!("parsed: {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn full_example() {
        let s = format!(
            "version = 1\n[defaults]\ntimestamp_timeout = \"10m\"\n{}[[rule]]\nname = \"r\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\nauth = \"approval\"\napprovals = 2\napprovers = [\"bob-sec\", \"alice-sec\"]\nrate = \"10/1m\"\nnonce_namespace = \"prod\"\n",
            two()
        );
        let p = ok(&s);
        assert_eq!(p.defaults.timestamp_timeout, 600);
        assert_eq!(p.approvers.len(), 2);
        assert_eq!(p.approvers[0].name, "alice-sec");
        assert_eq!(p.approvers[0].epoch, 3);
        assert_eq!(
            p.approvers[0].key,
            *ed25519_dalek::SigningKey::from_bytes(&[1; 32])
                .verifying_key()
                .as_bytes()
        );
        let r = &p.rules[0];
        assert_eq!(
            r.approval,
            Some(Approval {
                approvals: 2,
                approvers: vec!["alice-sec".into(), "bob-sec".into()],
                nonce_namespace: "prod".into(),
            })
        );
        assert_eq!(
            r.rate,
            Some(Rate {
                count: 10,
                per_secs: 60
            })
        );
    }

    #[test]
    fn defaults() {
        let p = ok(&src(&two(), "auth = \"approval\"\n"));
        assert_eq!(p.rules[0].approval, None);
        let req = p.rules[0].approval_req();
        assert_eq!(req.approvals, 1);
        assert!(req.approvers.is_empty());
        assert_eq!(req.nonce_namespace, "default");
        assert_eq!(p.defaults.timestamp_timeout, DEFAULT_TIMESTAMP_TIMEOUT);
        // Explicit defaults are the same policy.
        let q = ok(&src(
            &two(),
            "auth = \"approval\"\napprovals = 1\nnonce_namespace = \"default\"\n",
        ));
        assert_eq!(p, q);
        // Approval rules without any approver parse (they fail closed at
        // run time): older policies stay loadable.
        ok(&src("", "auth = \"approval\"\n"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("5m"), Ok(300));
        assert_eq!(parse_duration("24h"), Ok(86_400));
        for bad in [
            "", "5", "m", "-5m", "5 m", "25h", "1d", "5M", "+5m", "9999999h", "0s0",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_rate("10/1m"),
            Ok(Rate {
                count: 10,
                per_secs: 60
            })
        );
        for bad in [
            "10",
            "0/1m",
            "10/0",
            "10/m",
            "/1m",
            "10/1m/2",
            "x/1m",
            "10/25h",
            "99999999999/1s",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad:?}");
        }
        let e = err("version = 1\n[defaults]\ntimestamp_timeout = \"5\"\n");
        assert!(e.starts_with("/p.toml:3:21: timestamp_timeout:"), "{e}");
        let e = err(&src("", "rate = \"10\"\n"));
        assert!(e.starts_with("/p.toml:6:8: rate"), "{e}");
    }

    /// The rate boundaries belladonna-policy(5) and docs/state.md state:
    /// N from 1 to 999999999 (at most 9 digits), DURATION a number of 1 to
    /// 6 digits with unit s, m or h, from 1 s to 24 h.
    #[test]
    fn rate_boundaries() {
        let ok = |s: &str, count: u32, per_secs: u64| {
            assert_eq!(parse_rate(s), Ok(Rate { count, per_secs }), "{s:?}");
        };
        ok("1/1s", 1, 1);
        ok("999999999/24h", 999_999_999, 86_400);
        ok("1/86400s", 1, 86_400);
        ok("1/1440m", 1, 86_400);
        ok("010/090s", 10, 90);
        for bad in [
            "0/1s",
            "1000000000/1m",
            "1/0s",
            "1/0",
            "1/86401s",
            "1/1441m",
            "1/25h",
            "1/1d",
            "1/1000000s",
            "1/999999s",
            "1/1",
            "1/s",
            "-1/1m",
            "+1/1m",
            " 1/1m",
            "1/1m ",
            "1.5/1m",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn approval_keys_need_approval_auth() {
        for (k, col) in [
            ("approvals = 2", 13),
            ("approvers = [\"a\"]", 13),
            ("nonce_namespace = \"x\"", 19),
        ] {
            let e = err(&src(&two(), &format!("auth = \"password\"\n{k}\n")));
            assert!(e.starts_with(&format!("/p.toml:13:{col}: ")), "{k}: {e}");
            assert!(
                e.contains("needs auth = \\\"approval\\\"")
                    || e.contains("needs auth = \"approval\""),
                "{e}"
            );
            let e = err(&src(
                &two(),
                &format!("action = \"deny\"\nauth = \"approval\"\n{k}\n"),
            ));
            assert!(e.contains("deny rule"), "{e}");
        }
        let e = err(&src("", "action = \"deny\"\nrate = \"1/1s\"\n"));
        assert!(e.contains("deny rule") && e.contains("rate"), "{e}");
    }

    #[test]
    fn bad_approval_values() {
        for (body, pos) in [
            ("approvals = 0", "13:13"),
            ("approvals = 33", "13:13"),
            ("approvals = -1", "13:13"),
            (
                "approvals = 3\napprovers = [\"alice-sec\", \"bob-sec\"]",
                "13:13",
            ),
            ("approvers = []", "13:13"),
            ("approvers = [\"Alice\"]", "13:14"),
            ("approvers = [\"carol\"]", "13:14"),
            ("nonce_namespace = \"../x\"", "13:19"),
            ("nonce_namespace = \"\"", "13:19"),
        ] {
            let e = err(&src(&two(), &format!("auth = \"approval\"\n{body}\n")));
            assert!(e.starts_with(&format!("/p.toml:{pos}: ")), "{body}: {e}");
        }
        // Duplicates in the list are one approver.
        let e = err(&src(
            &two(),
            "auth = \"approval\"\napprovals = 2\napprovers = [\"bob-sec\", \"bob-sec\"]\n",
        ));
        assert!(e.contains("could never be satisfied"), "{e}");
    }

    #[test]
    fn bad_approvers() {
        let e = err(&src("[approvers.a]\nepoch = 1\n", ""));
        assert!(e.contains("no `key`"), "{e}");
        let e = err(&src(&format!("[approvers.a]\nkey = \"{}\"\n", key(1)), ""));
        assert!(e.contains("no `epoch`"), "{e}");
        let e = err(&src(
            &format!("[approvers.a]\nkey = \"{}\"\nepoch = -1\n", key(1)),
            "",
        ));
        assert!(e.starts_with("/p.toml:4:9: "), "{e}");
        let e = err(&src(
            &format!(
                "[approvers.a]\nkey = \"{}\"\nepoch = 1\ncolour = 1\n",
                key(1)
            ),
            "",
        ));
        assert!(
            e.starts_with("/p.toml:5:1: ") && e.contains("colour"),
            "{e}"
        );
        let e = err(&src(
            &format!("[approvers.\"A B\"]\nkey = \"{}\"\nepoch = 1\n", key(1)),
            "",
        ));
        assert!(e.starts_with("/p.toml:2:12: "), "{e}");
        for bad in [
            "ed25519:".to_string(),
            "ed25519:AAAA".to_string(),
            key(1).replace("ed25519:", "x25519:"),
            format!("{}=", key(1)),
            format!("{}A", key(1)),
            // Small-order point (the identity).
            format!(
                "ed25519:{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode({
                    let mut b = [0u8; 32];
                    b[0] = 1;
                    b
                })
            ),
        ] {
            let e = err(&src(
                &format!("[approvers.a]\nkey = \"{bad}\"\nepoch = 1\n"),
                "",
            ));
            assert!(e.starts_with("/p.toml:3:7: approver \"a\": "), "{bad}: {e}");
        }
        // One key, two names: one person must not count twice.
        let e = err(&src(
            &format!(
                "[approvers.a]\nkey = \"{0}\"\nepoch = 1\n[approvers.b]\nkey = \"{0}\"\nepoch = 1\n",
                key(1)
            ),
            "",
        ));
        assert!(
            e.starts_with("/p.toml:5:12: ") && e.contains("same key"),
            "{e}"
        );
    }

    #[test]
    fn approvers_only_in_main_file_and_refs_checked_across_files() {
        let main = parse_policy(&format!("version = 1\n{}", two()), Path::new("/m.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        let d = parse_policy(
            &format!("[approvers.c]\nkey = \"{}\"\nepoch = 1\n", key(3)),
            Path::new("/d/1.toml"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let e = merge(main.clone(), vec![d])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("/d/1.toml:1:12: approvers"), "{e}");
        let uses = |who: &str| {
            parse_policy(
                &format!("[[rule]]\nname = \"d\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\nauth = \"approval\"\napprovers = [\"{who}\"]\n"),
                Path::new("/d/2.toml"),
            )
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let p = merge(main.clone(), vec![uses("bob-sec")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            p.rules[0].approval_req().approvers,
            vec!["bob-sec".to_string()]
        );
        let e = merge(main, vec![uses("carol")])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.starts_with("/d/2.toml:6:14: approver \"carol\" is not defined"),
            "{e}"
        );
    }

    #[test]
    fn segments() {
        let base = src(&two(), "auth = \"approval\"\n");
        let seg = |s: &str| segment_hashes(&ok(s));
        let a = seg(&base);
        // Without any of the new keys, the auth segment is the rules' hash
        // as before: a policy without approvers keeps its hashes.
        let plain = src("", "");
        let pp = ok(&plain);
        assert_eq!(segment_hashes(&pp).auth, {
            let mut h = blake3::Hasher::new();
            h.update(crate::policy::hash::SEGMENT_AUTH);
            h.update(&serde_json::to_vec(&pp.rules).unwrap_or_default());
            *h.finalize().as_bytes()
        });
        // Approver key or epoch: auth only.
        let b = seg(&base.replace("epoch = 3", "epoch = 4"));
        assert_ne!(a.auth, b.auth);
        assert_eq!((a.rate, a.sandbox, a.decoy), (b.rate, b.sandbox, b.decoy));
        let b = seg(&base.replace(&key(2), &key(4)));
        assert_ne!(a.auth, b.auth);
        // approvals / approvers / namespace / timestamp_timeout: auth only.
        for changed in [
            base.replace(
                "auth = \"approval\"\n",
                "auth = \"approval\"\napprovals = 2\n",
            ),
            base.replace(
                "auth = \"approval\"\n",
                "auth = \"approval\"\napprovers = [\"bob-sec\"]\n",
            ),
            base.replace(
                "auth = \"approval\"\n",
                "auth = \"approval\"\nnonce_namespace = \"p\"\n",
            ),
            base.replace(
                "version = 1\n",
                "version = 1\n[defaults]\ntimestamp_timeout = \"0\"\n",
            ),
        ] {
            let b = seg(&changed);
            assert_ne!(a.auth, b.auth, "{changed}");
            assert_eq!(a.rate, b.rate, "{changed}");
        }
        // rate: the rate segment only.
        let b = seg(&base.replace(
            "auth = \"approval\"\n",
            "auth = \"approval\"\nrate = \"10/1m\"\n",
        ));
        assert_ne!(a.rate, b.rate);
        assert_eq!(a.auth, b.auth);
        let c = seg(&base.replace(
            "auth = \"approval\"\n",
            "auth = \"approval\"\nrate = \"11/1m\"\n",
        ));
        assert_ne!(b.rate, c.rate);
        assert_eq!(b.auth, c.auth);
        // And the full hash covers everything.
        let h = |s: &str| crate::policy::hash::policy_hash(&ok(s));
        assert_ne!(
            h(&base),
            h(&base.replace(
                "auth = \"approval\"\n",
                "auth = \"approval\"\nrate = \"10/1m\"\n"
            ))
        );
        assert_ne!(h(&base), h(&base.replace("epoch = 3", "epoch = 4")));
    }

    #[test]
    fn telemetry_sample_rate() {
        use crate::policy::model::DEFAULT_SAMPLE_PPM;
        let base = "version = 1\n";
        assert_eq!(ok(base).defaults.telemetry_sample_ppm, DEFAULT_SAMPLE_PPM);
        let p = ok("version = 1\n[defaults]\ntelemetry_sample_rate = 0.25\n");
        assert_eq!(p.defaults.telemetry_sample_ppm, 250_000);
        assert_eq!(
            ok("version = 1\n[defaults]\ntelemetry_sample_rate = 0.0\n")
                .defaults
                .telemetry_sample_ppm,
            0
        );
        assert!(err("version = 1\n[defaults]\ntelemetry_sample_rate = \"1\"\n").contains("f64"));
        for bad in ["1.5", "-0.1", "nan"] {
            let e = err(&format!(
                "version = 1\n[defaults]\ntelemetry_sample_rate = {bad}\n"
            ));
            assert!(e.contains("telemetry_sample_rate"), "{bad}: {e}");
        }
        // The default is not serialized: existing policy hashes unchanged.
        assert_eq!(
            crate::policy::hash::policy_hash(&ok(base)),
            crate::policy::hash::policy_hash(&ok(
                "version = 1\n[defaults]\ntelemetry_sample_rate = 1.0\n"
            ))
        );
    }

    #[test]
    fn all_group_targets_and_directories() {
        use crate::policy::model::CommandKind;
        let ok = |r: &str| match parse_main(
            &format!("version = 1\n[[rule]]\nname = \"r\"\nusers = [\"u\"]\n{r}"),
            Path::new("/p.toml"),
        ) {
            Ok(p) => p.rules[0].clone(),
            Err(e) => panic!("{r}: {e}"),
        };
        let bad = |r: &str| match parse_main(
            &format!("version = 1\n[[rule]]\nname = \"r\"\nusers = [\"u\"]\n{r}"),
            Path::new("/p.toml"),
        ) {
            Ok(_) => panic!("{r}: accepted"),
            Err(e) => e.to_string(),
        };
        let r = ok("run_as = [\"ALL\"]\ncommands = [\"ALL\"]\n");
        assert_eq!(r.run_as, vec![Principal::All]);
        assert_eq!(r.commands[0].kind, CommandKind::All);
        assert_eq!(r.commands[0].args, Args::Prefix(vec![]));
        let r = ok(
            "run_as = [\"%www\", \"%#33\", \"root\"]\ncommands = [\"/usr/lib/nagios/plugins/ *\"]\n",
        );
        assert_eq!(
            r.run_as,
            vec![
                Principal::GroupName("www".into()),
                Principal::GroupId(33),
                Principal::Name("root".into())
            ]
        );
        assert_eq!(r.commands[0].kind, CommandKind::Dir);
        assert_eq!(
            r.commands[0].path,
            PathBuf::from("/usr/lib/nagios/plugins/")
        );
        // A deny rule may deny ALL (everything for these callers).
        let mut d = ok("action = \"deny\"\ncommands = [\"ALL\"]\n");
        assert_eq!(d.commands.remove(0).kind, CommandKind::All);
        // Bad input.
        assert!(bad("commands = [\"ALL\", \"/usr/bin/id\"]\n").contains("only command"));
        assert!(bad("commands = [\"!ALL\"]\n").contains("deny rule"));
        assert!(bad("commands = [\"/usr/bin/id\", \"!/usr/bin/su\"]\n").contains("deny rule"));
        assert!(bad("commands = [\"ALL *\"]\n").contains("no arguments"));
        assert!(bad("commands = [{ cmd = \"ALL\", digest = \"blake3:0000000000000000000000000000000000000000000000000000000000000000\" }]\n").contains("digest"));
        assert!(bad("action = \"deny\"\ncommands = [\"/usr/sbin/ *\"]\n").contains("directory"));
        assert!(
            bad("run_as = [\"ALL\", \"root\"]\ncommands = [\"/usr/bin/id\"]\n")
                .contains("only entry")
        );
        assert!(bad("run_as = [\"!root\"]\ncommands = [\"/usr/bin/id\"]\n").contains("negation"));
        assert!(bad("run_as = [\"%\"]\ncommands = [\"/usr/bin/id\"]\n").contains("empty"));
        let users_all = parse_main(
            "version = 1\n[[rule]]\nname = \"r\"\nusers = [\"ALL\"]\ncommands = [\"/usr/bin/id\"]\n",
            Path::new("/p.toml"),
        );
        assert!(users_all.is_err());
        let group_in_groups = parse_main(
            "version = 1\n[[rule]]\nname = \"r\"\ngroups = [\"%ops\"]\ncommands = [\"/usr/bin/id\"]\n",
            Path::new("/p.toml"),
        );
        assert!(group_in_groups.is_err());
    }
}

#[cfg(test)]
mod rule_env_tests {
    //! A rule's own `env_keep`, `secure_path`, `timestamp_timeout`.
    use super::*;

    const R: &str =
        "version = 1\n[[rule]]\nname = \"r\"\nusers = [\"u\"]\ncommands = [\"/bin/x\"]\n";

    fn parse(extra: &str) -> Result<Policy, String> {
        parse_main(&format!("{R}{extra}"), Path::new("/p.toml")).map_err(|e| e.to_string())
    }

    fn err(extra: &str) -> String {
        match parse(extra) {
            Ok(p) => panic!("parsed: {:?}", p.rules),
            Err(e) => e,
        }
    }

    #[test]
    fn the_keys_parse_and_are_absent_by_default() {
        let p = parse("").unwrap_or_else(|e| panic!("{e}"));
        let r = &p.rules[0];
        assert_eq!(
            (&r.env_keep, &r.secure_path, r.timestamp_timeout),
            (&None, &None, None)
        );
        let p = parse(
            "env_keep = [\"SSH_AUTH_SOCK\", \"XDG_*\"]\nsecure_path = \"/opt/app/bin:/usr/bin\"\ntimestamp_timeout = \"15m\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let r = &p.rules[0];
        assert_eq!(
            r.env_keep.as_deref(),
            Some(&["SSH_AUTH_SOCK".to_string(), "XDG_*".to_string()][..])
        );
        assert_eq!(
            r.secure_path.as_deref(),
            Some(&[PathBuf::from("/opt/app/bin"), PathBuf::from("/usr/bin")][..])
        );
        assert_eq!(r.timestamp_timeout, Some(900));
        // Added to the defaults' list, in order, without repeats.
        let keep = r.env_keep_with(&p.defaults);
        assert_eq!(keep.len(), crate::policy::model::DEFAULT_ENV_KEEP.len() + 2);
        assert_eq!(keep.last().map(String::as_str), Some("XDG_*"));
        assert_eq!(r.secure_path_with(&p.defaults).len(), 2);
        assert_eq!(r.timestamp_timeout_with(&p.defaults), 900);
        // "0": this rule always asks.
        let p = parse("timestamp_timeout = \"0\"\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.rules[0].timestamp_timeout, Some(0));
    }

    #[test]
    fn bad_values_are_refused_where_they_are() {
        for (extra, col, what) in [
            ("env_keep = [\"A=B\"]\n", 13, "must be a variable name"),
            ("env_keep = [\"LD_PRELOAD\"]\n", 13, "LD_* and BASH_FUNC_*"),
            (
                "env_keep = [\"BASH_FUNC_x*\"]\n",
                13,
                "LD_* and BASH_FUNC_*",
            ),
            ("env_keep = []\n", 12, "env_keep is empty"),
            ("secure_path = \"\"\n", 15, "must not be empty"),
            (
                "secure_path = \"/usr/bin:bin\"\n",
                15,
                "\"bin\" is not a clean absolute directory",
            ),
            (
                "secure_path = \"/usr/../bin\"\n",
                15,
                "not a clean absolute directory",
            ),
            ("timestamp_timeout = \"5\"\n", 21, "timestamp_timeout:"),
            ("timestamp_timeout = \"-1m\"\n", 21, "timestamp_timeout:"),
        ] {
            let e = err(extra);
            assert!(e.starts_with(&format!("/p.toml:6:{col}: ")), "{extra}: {e}");
            assert!(e.contains(what), "{extra}: {e}");
        }
        // Wrong types: the TOML layer says so, with the place.
        let e = err("env_keep = \"TERM\"\n");
        assert!(e.starts_with("/p.toml:6:"), "{e}");
        let e = err("timestamp_timeout = 5\n");
        assert!(e.starts_with("/p.toml:6:"), "{e}");
    }

    #[test]
    fn deny_rules_take_none_of_them() {
        for extra in [
            "env_keep = [\"X\"]\n",
            "secure_path = \"/usr/bin\"\n",
            "timestamp_timeout = \"1m\"\n",
        ] {
            let e = err(&format!("action = \"deny\"\n{extra}"));
            assert!(e.starts_with("/p.toml:7:"), "{extra}: {e}");
            assert!(e.contains("deny rule \"r\" must not have"), "{extra}: {e}");
        }
    }
}
