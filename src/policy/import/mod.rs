//! `bdctl import sudoers`: convert the common sudoers constructs into a
//! Belladonna policy, never widening (docs/sudoers-import.md).
//!
//! The one rule everything here follows: **the imported policy permits
//! no request the sudoers file denies.** Every construct is mapped either
//! exactly, or to something narrower (allow less, deny more), or not at
//! all (an `# UNMAPPED` comment and a warning). A negation (`!cmnd`) is
//! never dropped: it becomes a deny rule at least as broad as what it
//! denies, or the import is refused.
//!
//! Why the mapping is sound, in one paragraph: sudo allows a request when
//! the *last* matching entry is positive. Belladonna allows when some
//! allow rule matches and no deny rule matches. Every allow rule made
//! here matches a subset of what one positive sudoers entry matches
//! (users, host, runas, command, arguments), and every deny rule matches
//! a superset of what one negative entry matches. So when Belladonna
//! allows, some positive entry matches and no negative one does: the last
//! match is positive and sudo allows too.
#![forbid(unsafe_code)]

mod scoped;
pub mod sudoers;

use crate::policy::cmdline;
use crate::policy::model::{Args, DEFAULT_ENV_KEEP};
use crate::policy::parse;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use sudoers::{
    AliasBody, AliasKind, ArgSpec, Cmnd, CmndItem, CmndSpec, Entry, Member, MemberKind, Runas,
    Setting, Src,
};

mod helpers;
mod output;
mod report;
mod specs;
use helpers::*;

/// Import options.
#[derive(Debug, Clone)]
pub struct Options {
    /// The host the policy is for: host lists are evaluated against it.
    pub hostname: String,
}

/// One warning: something not mapped, or mapped narrower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file as shown (relative to the main file's directory).
    pub file: String,
    pub line: u32,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        crate::policy::one_line(&self.message, f)
    }
}

/// A successful import.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The policy text (TOML), loadable with `parse::parse_main`.
    pub toml: String,
    pub warnings: Vec<Warning>,
    /// Number of `[[rule]]`s written.
    pub rules: usize,
    /// What became of each sudoers line, in order (`--report`).
    pub lines: Vec<LineReport>,
}

/// What became of one sudoers line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LineOutcome {
    /// Imported as it was (or, for an alias, expanded where it is used).
    Mapped,
    /// Imported, allowing less than sudo did (or only part of the line).
    Narrowed,
    /// Nothing of it is in the policy.
    NotMapped,
}

impl LineOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            LineOutcome::Mapped => "mapped",
            LineOutcome::Narrowed => "narrowed",
            LineOutcome::NotMapped => "not mapped",
        }
    }
}

/// One row of the `--report` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineReport {
    pub file: String,
    pub line: u32,
    /// The sudoers text (continuations joined).
    pub text: String,
    pub outcome: LineOutcome,
    /// The rules written from the line.
    pub rules: Vec<String>,
    /// Why it was narrowed or not mapped.
    pub notes: Vec<String>,
}

impl Imported {
    /// The `--report` table: one row per sudoers line (`FILE:LINE`,
    /// outcome, the rules it became), its text, and its notes indented
    /// below.
    pub fn report_table(&self) -> String {
        let mut out = String::new();
        let place = |r: &LineReport| format!("{}:{}", r.file, r.line);
        let w = self
            .lines
            .iter()
            .map(|r| place(r).len())
            .max()
            .unwrap_or(0)
            .max(4);
        out.push_str(&format!(
            "{:<w$}  {:<10}  {}\n",
            "LINE", "OUTCOME", "RULES / SUDOERS TEXT"
        ));
        for r in &self.lines {
            let rules = if r.rules.is_empty() {
                "-".to_string()
            } else {
                r.rules.join(", ")
            };
            out.push_str(&format!(
                "{:<w$}  {:<10}  {rules}\n",
                place(r),
                r.outcome.as_str()
            ));
            out.push_str(&format!(
                "{:<w$}  {:<10}  | {}\n",
                "",
                "",
                comment_text(&r.text)
            ));
            for n in &r.notes {
                out.push_str(&format!("{:<w$}  {:<10}  - {}\n", "", "", comment_text(n)));
            }
        }
        let count = |o| self.lines.iter().filter(|r| r.outcome == o).count();
        out.push_str(&format!(
            "{} lines: {} mapped, {} narrowed, {} not mapped; {} rules\n",
            self.lines.len(),
            count(LineOutcome::Mapped),
            count(LineOutcome::Narrowed),
            count(LineOutcome::NotMapped),
            self.rules
        ));
        out
    }
}

/// A refused import: names the file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub file: String,
    pub line: Option<u32>,
    pub message: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.file.is_empty() {
            crate::policy::one_line(&self.file, f)?;
            if let Some(l) = self.line {
                write!(f, ":{l}")?;
            }
            f.write_str(": ")?;
        }
        crate::policy::one_line(&self.message, f)
    }
}

impl std::error::Error for ImportError {}

/// Import the sudoers file `path` and everything it includes.
pub fn import_file(path: &Path, opts: &Options) -> Result<Imported, ImportError> {
    match sudoers::read(path, &opts.hostname) {
        Ok(read) => convert(read, opts),
        Err((names, p)) => match names.get(p.file) {
            Some(f) if p.line > 0 => Err(ImportError {
                file: f.clone(),
                line: Some(p.line),
                message: p.message,
            }),
            // The main file itself: the message already names it.
            _ => Err(ImportError {
                file: String::new(),
                line: None,
                message: p.message,
            }),
        },
    }
}

/// Import sudoers text (no includes followed). `name` is the file name
/// shown in messages.
pub fn import_str(text: &str, name: &str, opts: &Options) -> Result<Imported, ImportError> {
    let read = sudoers::read_str(text, name).map_err(|p| ImportError {
        file: name.to_string(),
        line: Some(p.line),
        message: p.message,
    })?;
    convert(read, opts)
}

// ---------------------------------------------------------------- model

/// A rule being built.
#[derive(Debug, Clone)]
struct OutRule {
    name: String,
    users: Vec<String>,
    groups: Vec<String>,
    /// `None` for a deny rule = every target.
    run_as: Option<Vec<String>>,
    /// sudo's runas groups (`(user : group)`): what `bdexec -g` may name.
    run_as_groups: Option<Vec<String>>,
    commands: Vec<String>,
    /// `None` for deny rules.
    auth: Option<&'static str>,
    deny: bool,
    /// A deny rule that must cover every caller (filled in at the end
    /// with every principal of every allow rule).
    all_callers: bool,
    comment: Option<String>,
    /// What scoped `Defaults` (`Defaults:user`, `>runas`, `!cmnd`) gave
    /// this rule (import/scoped.rs).
    env: Box<scoped::RuleEnv>,
}

#[derive(Debug, Clone)]
enum Item {
    Comment(String),
    Rule(OutRule),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Polarity {
    Pos,
    Neg,
}

impl Polarity {
    fn flip(self, negated: bool) -> Polarity {
        match (self, negated) {
            (p, false) => p,
            (Polarity::Pos, true) => Polarity::Neg,
            (Polarity::Neg, true) => Polarity::Pos,
        }
    }
}

/// A leaf of an expanded user/runas/host list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Leaf {
    All,
    Name(String),
    Uid(u32),
    Group(String),
    Gid(u32),
    /// Netgroups, non-Unix groups, unknown aliases: can't be enumerated.
    Opaque(String),
}

struct Conv<'a> {
    opts: &'a Options,
    names: Vec<String>,
    aliases: HashMap<(AliasKind, String), (AliasBody, Src)>,
    unknown_aliases: HashSet<(AliasKind, String)>,
    warnings: Vec<Warning>,
    items: Vec<Item>,
    used_names: HashSet<String>,
    secure_path: Option<String>,
    env_keep: Option<Vec<String>>,
    umask: Option<String>,
    /// `timestamp_timeout` in seconds.
    timestamp_timeout: Option<u64>,
    lines: Vec<LineReport>,
    /// `Defaults requiretty` (the last of requiretty/!requiretty wins).
    require_tty: bool,
    /// `Defaults noexec` / `intercept` (the last of noexec/!noexec wins).
    noexec: bool,
    /// `Defaults use_pty`: `[defaults] monitor = true`, `use_pty = true`.
    use_pty: bool,
    /// `Defaults@host` lines for this host, applied after the generic
    /// ones (sudo's order: generic, host, user, runas, command).
    host_defaults: Vec<(Vec<Setting>, Src)>,
    /// Scoped `Defaults` lines, applied to the rules at the end (sudo
    /// applies them whatever their place in the file).
    scoped: Vec<scoped::Scoped>,
}

const MAX_ALIAS_DEPTH: usize = 64;
/// Above this many argument words a negated command is denied with any
/// arguments (the exact form would need 2^(n-1) entries).
const MAX_SPLIT_WORDS: usize = 8;

fn refuse(names: &[String], src: &Src, message: impl Into<String>) -> ImportError {
    ImportError {
        file: names.get(src.file).cloned().unwrap_or_default(),
        line: Some(src.line),
        message: message.into(),
    }
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_list(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", items.join(", "))
}

/// Text safe for a one-line TOML comment.
fn comment_text(s: &str) -> String {
    let mut out = String::new();
    let collapsed: Vec<&str> = s.split_whitespace().collect();
    let _ = crate::policy::one_line(&collapsed.join(" "), &mut out);
    out
}

/// `[A-Za-z0-9_-]` only, for rule names.
fn slug(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').to_string()
}

// ---------------------------------------------------------------- convert

fn convert(read: sudoers::Read, opts: &Options) -> Result<Imported, ImportError> {
    let mut c = Conv {
        opts,
        names: read.names,
        aliases: HashMap::new(),
        unknown_aliases: HashSet::new(),
        warnings: Vec::new(),
        items: Vec::new(),
        used_names: HashSet::new(),
        secure_path: None,
        env_keep: None,
        umask: None,
        timestamp_timeout: None,
        lines: Vec::new(),
        require_tty: false,
        noexec: false,
        use_pty: false,
        host_defaults: Vec::new(),
        scoped: Vec::new(),
    };
    for p in &read.warnings {
        c.warnings.push(Warning {
            file: c.names.get(p.file).cloned().unwrap_or_default(),
            line: p.line,
            message: p.message.clone(),
        });
    }
    // Pass 1: aliases (sudo resolves them at match time, so order does
    // not matter) and lines not understood.
    for e in &read.entries {
        match e {
            Entry::Alias {
                kind,
                name,
                body,
                src,
            } => {
                if let Some((_, first)) = c.aliases.get(&(*kind, name.clone())) {
                    let at = format!(
                        "{}:{}",
                        c.names.get(first.file).cloned().unwrap_or_default(),
                        first.line
                    );
                    return Err(refuse(
                        &c.names,
                        src,
                        format!("{} {name} is defined twice (first at {at})", kind.as_str()),
                    ));
                }
                c.aliases
                    .insert((*kind, name.clone()), (body.clone(), src.clone()));
            }
            Entry::Unparsed {
                alias: Some((kind, names)),
                ..
            } => {
                for n in names {
                    c.unknown_aliases.insert((*kind, n.clone()));
                }
            }
            _ => {}
        }
    }
    // Pass 2: everything in order.
    for e in &read.entries {
        let src = match e {
            Entry::Defaults { src, .. }
            | Entry::Alias { src, .. }
            | Entry::Unparsed { src, .. }
            | Entry::UserSpec { src, .. } => src,
        };
        c.lines.push(LineReport {
            file: c.file_name(src),
            line: src.line,
            text: src.text.clone(),
            outcome: LineOutcome::Mapped,
            rules: Vec::new(),
            notes: Vec::new(),
        });
        match e {
            Entry::Defaults {
                scope,
                settings,
                src,
            } => c.defaults(scope.as_deref(), settings, src)?,
            Entry::Alias { .. } => {}
            Entry::Unparsed { reason, src, .. } => {
                let is_defaults = src.text.trim_start().starts_with("Defaults");
                if is_defaults && src.text.contains("runas_default") {
                    return Err(refuse(
                        &c.names,
                        src,
                        format!(
                            "cannot parse this Defaults line ({reason}) and it sets runas_default; refusing rather than guessing rule targets"
                        ),
                    ));
                }
                // A Defaults line can't deny a request; any other line
                // with a '!' may hold a negation that must not be dropped.
                if !is_defaults && src.text.contains('!') {
                    return Err(refuse(
                        &c.names,
                        src,
                        format!(
                            "cannot parse this line ({reason}) and it may hold a negation; refusing rather than dropping a possible deny: {}",
                            comment_text(&src.text)
                        ),
                    ));
                }
                c.unmapped(src, format!("not understood ({reason}): line skipped"));
            }
            Entry::UserSpec {
                users,
                privileges,
                src,
            } => c.user_spec(users, privileges, src)?,
        }
    }
    c.finish()
}

#[cfg(test)]
mod tests;
