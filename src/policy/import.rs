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

impl Conv<'_> {
    fn file_name(&self, src: &Src) -> String {
        self.names.get(src.file).cloned().unwrap_or_default()
    }

    fn warn(&mut self, src: &Src, message: String) {
        self.warnings.push(Warning {
            file: self.file_name(src),
            line: src.line,
            message,
        });
    }

    /// The report row of `src`'s line.
    fn row(&mut self, src: &Src) -> Option<&mut LineReport> {
        let file = self.file_name(src);
        self.lines
            .iter_mut()
            .rev()
            .find(|r| r.line == src.line && r.file == file)
    }

    /// Something not imported: a warning and an `# UNMAPPED` comment.
    fn unmapped(&mut self, src: &Src, message: String) {
        if let Some(r) = self.row(src) {
            r.outcome = r.outcome.max(LineOutcome::NotMapped);
            r.notes.push(message.clone());
        }
        let where_ = format!("{}:{}", self.file_name(src), src.line);
        self.items.push(Item::Comment(format!(
            "# UNMAPPED ({where_}): {}",
            comment_text(&message)
        )));
        self.warn(src, message);
    }

    /// Imported, but narrower than sudo: a warning and a `# NARROWED` comment.
    fn narrowed(&mut self, src: &Src, message: String) {
        if let Some(r) = self.row(src) {
            r.outcome = r.outcome.max(LineOutcome::Narrowed);
            r.notes.push(message.clone());
        }
        let where_ = format!("{}:{}", self.file_name(src), src.line);
        self.items.push(Item::Comment(format!(
            "# NARROWED ({where_}): {}",
            comment_text(&message)
        )));
        self.warn(src, message);
    }

    // ------------------------------------------------------------ Defaults

    fn defaults(
        &mut self,
        scope: Option<&str>,
        settings: &[Setting],
        src: &Src,
    ) -> Result<(), ImportError> {
        // Defaults that make sudo refuse requests Belladonna would allow:
        // dropping them would widen, so the import stops.
        for s in settings {
            let why = match (s.name.as_str(), s.negated) {
                ("runas_default", _) => Some(
                    "runas_default changes the target of every rule without a runas list; not supported (refusing rather than guessing the target)",
                ),
                ("requiretty", false) if scope.is_some() => Some(
                    "a per-user/host/runas/command requiretty is not mapped, and dropping it would allow what sudo refuses (make it a global `Defaults requiretty`, which becomes require_tty = true)",
                ),
                ("runas_check_shell", false) => Some(
                    "runas_check_shell makes sudo refuse targets whose shell is not in /etc/shells; Belladonna has no such condition (remove the line to import)",
                ),
                ("noexec", false) | ("intercept", false) => Some(
                    "noexec/intercept stop commands from running further programs; Belladonna has no equivalent yet, so importing would allow what sudo prevents (remove the line to import)",
                ),
                ("root_sudo", true) => Some(
                    "!root_sudo makes sudo refuse every request by root; Belladonna has no such condition (remove the line to import)",
                ),
                _ => None,
            };
            if let Some(why) = why {
                return Err(refuse(
                    &self.names,
                    src,
                    format!("Defaults {}: {why}", setting_text(s)),
                ));
            }
        }
        if let Some(scope) = scope {
            self.scoped_defaults(scope, settings, src);
            return Ok(());
        }
        for s in settings {
            self.setting(s, src);
        }
        Ok(())
    }

    fn setting(&mut self, s: &Setting, src: &Src) {
        let text = setting_text(s);
        match (s.name.as_str(), s.negated, &s.op) {
            // Belladonna always starts from a clean environment.
            ("env_reset", false, None) => {}
            // [defaults] require_tty = true (belladonna-policy(5)).
            ("requiretty", negated, None) => self.require_tty = !negated,
            ("secure_path", false, Some((op, v))) if op == "=" => {
                if clean_path_list(v) {
                    self.secure_path = Some(v.clone());
                } else {
                    self.unmapped(
                        src,
                        format!("Defaults {text}: not a list of clean absolute directories"),
                    );
                }
            }
            ("umask", false, Some((op, v))) if op == "=" => {
                let ok = !v.is_empty()
                    && v.len() <= 4
                    && v.bytes().all(|b| (b'0'..=b'7').contains(&b))
                    && u32::from_str_radix(v, 8).is_ok_and(|m| m <= 0o777);
                if ok {
                    self.umask = Some(format!("{:0>4}", v));
                } else {
                    self.unmapped(src, format!("Defaults {text}: not an octal umask"));
                }
            }
            ("env_keep", false, Some((op, v))) => {
                let mut list = match op.as_str() {
                    "=" => Vec::new(),
                    _ => self.env_keep.clone().unwrap_or_else(|| {
                        DEFAULT_ENV_KEEP.iter().map(|s| (*s).to_string()).collect()
                    }),
                };
                for var in v.split_whitespace() {
                    if op == "-=" {
                        list.retain(|x| x != var);
                        continue;
                    }
                    if self.keep_entry_ok(var, src) && !list.iter().any(|x| x == var) {
                        list.push(var.to_string());
                    }
                }
                self.env_keep = Some(list);
            }
            ("env_keep", true, None) => self.env_keep = Some(Vec::new()),
            // Minutes (sudo allows a fraction); a negative value (never
            // expires) is not mapped: the default applies, which is
            // stricter.
            ("timestamp_timeout", false, Some((op, v))) if op == "=" => {
                match v.parse::<f64>() {
                    Ok(m) if (0.0..=525_600.0).contains(&m) => {
                        self.timestamp_timeout = Some((m * 60.0).round() as u64);
                    }
                    _ => self.unmapped(
                        src,
                        format!(
                            "Defaults {text}: not mapped (only 0 to 525600 minutes); the default (5 minutes) applies"
                        ),
                    ),
                }
            }
            ("timestamp_timeout", true, None) => self.timestamp_timeout = Some(0),
            ("use_pty" | "log_input" | "log_output" | "logfile" | "syslog" | "mail_badpass", ..) => {
                let why = scoped_reason(s);
                self.unmapped(src, format!("Defaults {text}: not mapped: {why}"));
            }
            _ => self.unmapped(src, format!("Defaults {text}: not mapped")),
        }
    }

    /// An `env_keep` entry Belladonna can keep (a name or `NAME*`, not
    /// `LD_*`/`BASH_FUNC_*`); otherwise a note saying why it is not.
    fn keep_entry_ok(&mut self, var: &str, src: &Src) -> bool {
        let name = var.strip_suffix('*').unwrap_or(var);
        let valid = {
            let mut b = name.bytes();
            matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
                && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        };
        if !valid {
            self.unmapped(
                src,
                format!(
                    "Defaults env_keep entry {var:?}: only names and NAME* patterns are mapped"
                ),
            );
            return false;
        }
        if parse::is_forbidden_env(name) {
            self.unmapped(
                src,
                format!(
                    "Defaults env_keep entry {var:?}: Belladonna never passes LD_* or BASH_FUNC_*"
                ),
            );
            return false;
        }
        true
    }

    // ------------------------------------------------------------ lists

    fn expand_members(
        &self,
        kind: AliasKind,
        list: &[Member],
        pol: Polarity,
        depth: usize,
        out: &mut Vec<(Polarity, Leaf)>,
    ) -> Result<(), String> {
        if depth > MAX_ALIAS_DEPTH {
            return Err("alias nesting too deep (a cycle?)".to_string());
        }
        for m in list {
            let p = pol.flip(m.negated);
            match &m.kind {
                MemberKind::All => out.push((p, Leaf::All)),
                MemberKind::Alias(a) => match self.aliases.get(&(kind, a.clone())) {
                    Some((AliasBody::Members(inner), _)) => {
                        self.expand_members(kind, inner, p, depth + 1, out)?;
                    }
                    _ => {
                        let why = if self.unknown_aliases.contains(&(kind, a.clone())) {
                            "defined on a line not understood"
                        } else {
                            "not defined"
                        };
                        out.push((p, Leaf::Opaque(format!("{} {a} ({why})", kind.as_str()))));
                    }
                },
                MemberKind::Name(n) => out.push((p, Leaf::Name(n.clone()))),
                MemberKind::Uid(u) => out.push((p, Leaf::Uid(*u))),
                MemberKind::Group(g) => out.push((p, Leaf::Group(g.clone()))),
                MemberKind::Gid(g) => out.push((p, Leaf::Gid(*g))),
                MemberKind::Netgroup(n) => out.push((p, Leaf::Opaque(format!("netgroup +{n}")))),
                MemberKind::NonUnix(n) => {
                    out.push((p, Leaf::Opaque(format!("non-Unix group %:{n}"))));
                }
            }
        }
        Ok(())
    }

    /// Host list against this host: the set of possible outcomes
    /// (sudo: the last matching member decides; `!` flips it).
    fn host_outcomes(&self, list: &[Member], depth: usize) -> Outcomes {
        let mut possible = Outcomes::default();
        if depth > MAX_ALIAS_DEPTH {
            possible.allow = true;
            possible.deny = true;
            possible.unspec = true;
            return possible;
        }
        for m in list.iter().rev() {
            let o = match &m.kind {
                MemberKind::All => Outcomes::ALLOW,
                MemberKind::Name(h) => match self.host_name_matches(h) {
                    Some(true) => Outcomes::ALLOW,
                    Some(false) => Outcomes::UNSPEC,
                    None => Outcomes::UNKNOWN,
                },
                MemberKind::Alias(a) => match self.aliases.get(&(AliasKind::Host, a.clone())) {
                    Some((AliasBody::Members(inner), _)) => self.host_outcomes(inner, depth + 1),
                    _ => Outcomes::ANY,
                },
                _ => Outcomes::UNKNOWN,
            };
            let o = if m.negated { o.negate() } else { o };
            possible.allow |= o.allow;
            possible.deny |= o.deny;
            if !o.unspec {
                return possible;
            }
        }
        possible.unspec = true;
        possible
    }

    /// `Some(matches)` for a plain host name, `None` for what can't be
    /// decided here (addresses, networks, wildcards).
    fn host_name_matches(&self, h: &str) -> Option<bool> {
        let plain = h
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
        let numeric = h.chars().all(|c| c.is_ascii_digit() || c == '.');
        if !plain || numeric {
            return None;
        }
        let me = self.opts.hostname.to_ascii_lowercase();
        let h = h.to_ascii_lowercase();
        if h.contains('.') {
            Some(h == me)
        } else {
            let short = me.split('.').next().unwrap_or(&me);
            Some(h == short)
        }
    }

    // ------------------------------------------------------------ user specs

    fn user_spec(
        &mut self,
        users: &[Member],
        privileges: &[sudoers::Privilege],
        src: &Src,
    ) -> Result<(), ImportError> {
        let line_text = comment_text(&src.text);
        let file = self.file_name(src);
        self.items
            .push(Item::Comment(format!("# {file}:{}: {line_text}", src.line)));
        let mut leaves = Vec::new();
        self.expand_members(AliasKind::User, users, Polarity::Pos, 0, &mut leaves)
            .map_err(|m| refuse(&self.names, src, m))?;
        // Expand every command first: the principals for allow rules are
        // only worked out (with their warnings) when something is allowed.
        let mut expanded = Vec::new();
        for pv in privileges {
            let host = self.host_outcomes(&pv.hosts, 0);
            for spec in &pv.cmnds {
                let mut cl = Vec::new();
                self.expand_cmnd(&spec.item, Polarity::Pos, 0, &mut cl)
                    .map_err(|m| refuse(&self.names, src, m))?;
                for (pol, cmnd) in cl {
                    expanded.push((host, spec, pol, cmnd));
                }
            }
        }
        let allow_who = if expanded.iter().any(|e| e.2 == Polarity::Pos) {
            self.allow_principals(&leaves, src)
        } else {
            Err(String::new())
        };
        let deny_who = deny_principals(&leaves);
        let base = format!(
            "{}-L{}-{}",
            slug(&file),
            src.line,
            users
                .first()
                .map(|m| slug(&member_text(m)))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "user".to_string())
        );
        // (run_as, auth) -> rule; deny run_as -> deny rule.
        let mut allows: Vec<OutRule> = Vec::new();
        let mut denies: Vec<OutRule> = Vec::new();
        let mut needs_args: Vec<OutRule> = Vec::new();
        let mut noted_tags: HashSet<String> = HashSet::new();
        for (host, spec, pol, cmnd) in expanded {
            match pol {
                Polarity::Pos => self.allow_leaf(
                    &allow_who,
                    host,
                    spec,
                    &cmnd,
                    src,
                    &mut allows,
                    &mut needs_args,
                    &mut noted_tags,
                ),
                Polarity::Neg => {
                    self.deny_leaf(&deny_who, host, spec, &cmnd, src, &mut denies)?;
                }
            }
        }
        let total = allows.len() + denies.len() + needs_args.len();
        let mut n = 0;
        for (kind, list) in [("", allows), ("deny", denies), ("needs-args", needs_args)] {
            for mut r in list {
                n += 1;
                let mut name = base.clone();
                if !kind.is_empty() {
                    name.push('-');
                    name.push_str(kind);
                }
                if total > 1 {
                    name = format!("{name}-{n}");
                }
                r.name = self.unique_name(name);
                if let Some(row) = self.row(src) {
                    row.rules.push(r.name.clone());
                }
                self.items.push(Item::Rule(r));
            }
        }
        Ok(())
    }

    fn unique_name(&mut self, name: String) -> String {
        let mut candidate = name.clone();
        let mut i = 2;
        while self.used_names.contains(&candidate) {
            candidate = format!("{name}-x{i}");
            i += 1;
        }
        self.used_names.insert(candidate.clone());
        candidate
    }

    /// Users and groups for allow rules: exactly the members, or `None`
    /// (with a warning) when the list can't be expressed without widening.
    fn allow_principals(
        &mut self,
        leaves: &[(Polarity, Leaf)],
        src: &Src,
    ) -> Result<(Vec<String>, Vec<String>), String> {
        if leaves.iter().any(|(p, _)| *p == Polarity::Neg) {
            return Err(
                "the user list has a negation ('!'), which Belladonna's users/groups can't express"
                    .to_string(),
            );
        }
        let mut users = Vec::new();
        let mut groups = Vec::new();
        for (_, l) in leaves {
            match l {
                Leaf::All => {
                    return Err(
                        "the user list is ALL, which Belladonna can't express (rules name users or groups)"
                            .to_string(),
                    );
                }
                Leaf::Name(n) => match parse::parse_principal(n) {
                    Ok(_) if !n.starts_with('#') => push_unique(&mut users, n.clone()),
                    _ => self.unmapped(
                        src,
                        format!("user {n:?} is not a valid name here: left out"),
                    ),
                },
                Leaf::Uid(u) => push_unique(&mut users, format!("#{u}")),
                Leaf::Group(g) => match parse::parse_principal(g) {
                    Ok(_) if !g.starts_with('#') => push_unique(&mut groups, g.clone()),
                    _ => self.unmapped(
                        src,
                        format!("group {g:?} is not a valid name here: left out"),
                    ),
                },
                Leaf::Gid(g) => push_unique(&mut groups, format!("#{g}")),
                Leaf::Opaque(what) => {
                    self.unmapped(src, format!("{what} in the user list: left out"));
                }
            }
        }
        if users.is_empty() && groups.is_empty() {
            return Err("no user or group left to map".to_string());
        }
        Ok((users, groups))
    }

    fn expand_cmnd(
        &self,
        item: &CmndItem,
        pol: Polarity,
        depth: usize,
        out: &mut Vec<(Polarity, Cmnd)>,
    ) -> Result<(), String> {
        if depth > MAX_ALIAS_DEPTH {
            return Err("Cmnd_Alias nesting too deep (a cycle?)".to_string());
        }
        let p = pol.flip(item.negated);
        match &item.cmnd {
            Cmnd::Alias(a) => match self.aliases.get(&(AliasKind::Cmnd, a.clone())) {
                Some((AliasBody::Cmnds(inner), _)) => {
                    for i in inner {
                        self.expand_cmnd(i, p, depth + 1, out)?;
                    }
                }
                _ => out.push((p, Cmnd::Alias(a.clone()))),
            },
            c => out.push((p, c.clone())),
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn allow_leaf(
        &mut self,
        who: &Result<(Vec<String>, Vec<String>), String>,
        host: Outcomes,
        spec: &CmndSpec,
        cmnd: &Cmnd,
        src: &Src,
        allows: &mut Vec<OutRule>,
        needs_args: &mut Vec<OutRule>,
        noted: &mut HashSet<String>,
    ) {
        let what = cmnd_text(cmnd);
        let skip =
            |c: &mut Self, why: String| c.unmapped(src, format!("{what}: {why}: not imported"));
        let (users, groups) = match who {
            Ok(w) => w.clone(),
            Err(why) => return skip(self, why.clone()),
        };
        if !host.definitely_allow() {
            let why = if host.allow {
                format!(
                    "the host list can't be decided for {} (addresses, netgroups, wildcards)",
                    self.opts.hostname
                )
            } else {
                format!("the host list does not match {}", self.opts.hostname)
            };
            return skip(self, why);
        }
        for (opt, val) in &spec.options {
            let blocking = !matches!(opt.as_str(), "CWD" | "TIMEOUT");
            if blocking {
                return skip(
                    self,
                    format!("option {opt}={val} restricts the command in ways Belladonna can't"),
                );
            }
            if noted.insert(format!("{opt}=")) {
                self.unmapped(src, format!("option {opt}={val} is not mapped (ignored)"));
            }
        }
        for t in &spec.tags {
            // NOEXEC and INTERCEPT stop the command from running others:
            // dropping them would widen, so the line is not imported.
            if matches!(t.as_str(), "NOEXEC" | "INTERCEPT") {
                return skip(
                    self,
                    format!(
                        "tag {t}: (the command may not run further programs) has no Belladonna equivalent yet; importing without it would allow more"
                    ),
                );
            }
            if !matches!(t.as_str(), "NOPASSWD" | "PASSWD") && noted.insert(t.clone()) {
                self.unmapped(src, format!("tag {t}: is not mapped (ignored)"));
            }
        }
        let (path, args, digest) = match cmnd {
            Cmnd::All => {
                return self.allow_entry(
                    (users, groups),
                    &what,
                    spec,
                    "ALL".to_string(),
                    None,
                    src,
                    allows,
                    needs_args,
                    noted,
                );
            }
            Cmnd::Alias(a) => {
                let why = if self.unknown_aliases.contains(&(AliasKind::Cmnd, a.clone())) {
                    "Cmnd_Alias defined on a line not understood"
                } else {
                    "Cmnd_Alias not defined"
                };
                return skip(self, why.to_string());
            }
            Cmnd::Other(o) => {
                return skip(self, format!("{o} is not a command Belladonna can run"));
            }
            Cmnd::Path {
                path,
                path_glob,
                args,
                digest,
            } => {
                // `/dir/` (sudo: any command directly in it) and `/dir/*`
                // (the same set of files) map to a command directory.
                let dir = match path.strip_suffix('*') {
                    Some(d) if *path_glob && d.ends_with('/') => Some(d),
                    _ if !*path_glob && path.ends_with('/') => Some(path.as_str()),
                    _ => None,
                };
                match dir {
                    Some(d) if !d.contains(['*', '?', '[', '\\']) => {
                        if let Err(m) = cmdline::check_path(d.trim_end_matches('/')) {
                            return skip(self, m);
                        }
                        if !matches!(args, ArgSpec::Any) {
                            return skip(
                                self,
                                "a command directory with fixed arguments is not mapped"
                                    .to_string(),
                            );
                        }
                        return self.allow_entry(
                            (users, groups),
                            &what,
                            spec,
                            format!("{d} *"),
                            None,
                            src,
                            allows,
                            needs_args,
                            noted,
                        );
                    }
                    _ if *path_glob || path.ends_with('/') => {
                        return skip(
                            self,
                            "a wildcard in a command path can't be matched by file identity (only exact paths, `/dir/` and `/dir/*` can): list the commands".to_string(),
                        );
                    }
                    _ => {}
                }
                if let Err(m) = cmdline::check_path(path) {
                    return skip(self, m);
                }
                (path, args, digest)
            }
        };
        if digest.is_some() {
            return skip(
                self,
                "sudoers digests (sha2) can't be checked by Belladonna (blake3 pins only)"
                    .to_string(),
            );
        }
        let p = Path::new(path);
        let (entry, extra_deny) = match args {
            ArgSpec::Any => (cmdline::render_parts(p, &Args::Prefix(Vec::new())), None),
            ArgSpec::Empty => (cmdline::render_parts(p, &Args::None), None),
            ArgSpec::Regex(_) => {
                return skip(
                    self,
                    "regular-expression arguments are not mapped".to_string(),
                );
            }
            ArgSpec::Words(words) => {
                let (last, init) = match words.split_last() {
                    Some(x) => x,
                    None => return skip(self, "empty arguments".to_string()),
                };
                let trailing_star = last.text == "*" && last.glob;
                if trailing_star && init.iter().all(|w| !w.glob) {
                    let head: Vec<String> = init.iter().map(|w| w.text.clone()).collect();
                    let deny = if head.is_empty() {
                        None
                    } else {
                        Some(cmdline::render_parts(p, &Args::Exact(head.clone())))
                    };
                    (cmdline::render_parts(p, &Args::Prefix(head)), deny)
                } else if words.iter().any(|w| w.glob) {
                    return skip(
                        self,
                        "wildcards or escapes in the arguments (other than a trailing ' *') are not mapped"
                            .to_string(),
                    );
                } else {
                    let exact: Vec<String> = words.iter().map(|w| w.text.clone()).collect();
                    (cmdline::render_parts(p, &Args::Exact(exact)), None)
                }
            }
        };
        self.allow_entry(
            (users, groups),
            &what,
            spec,
            entry,
            extra_deny,
            src,
            allows,
            needs_args,
            noted,
        );
    }

    /// Add one mapped command entry to the allow rule for its run_as and
    /// auth (and its needs-args deny, if any).
    #[allow(clippy::too_many_arguments)]
    fn allow_entry(
        &mut self,
        (users, groups): (Vec<String>, Vec<String>),
        what: &str,
        spec: &CmndSpec,
        entry: String,
        extra_deny: Option<String>,
        src: &Src,
        allows: &mut Vec<OutRule>,
        needs_args: &mut Vec<OutRule>,
        noted: &mut HashSet<String>,
    ) {
        let skip =
            |c: &mut Self, why: String| c.unmapped(src, format!("{what}: {why}: not imported"));
        let run_as = match self.allow_run_as(spec.runas.as_ref(), src, noted) {
            Ok(r) => r,
            Err(why) => return skip(self, why),
        };
        let auth = if spec.tags.iter().any(|t| t == "NOPASSWD") {
            "none"
        } else {
            "password"
        };
        // ALL is a rule's only command: a rule of its own.
        let is_all = entry == "ALL";
        let rule = match allows.iter_mut().find(|r| {
            r.run_as.as_ref() == Some(&run_as)
                && r.auth == Some(auth)
                && (r.commands == ["ALL"]) == is_all
        }) {
            Some(r) => r,
            None => {
                allows.push(OutRule {
                    name: String::new(),
                    users: users.clone(),
                    groups: groups.clone(),
                    run_as: Some(run_as.clone()),
                    commands: Vec::new(),
                    auth: Some(auth),
                    deny: false,
                    all_callers: false,
                    comment: None,
                    env: Box::default(),
                });
                let Some(r) = allows.last_mut() else { return };
                r
            }
        };
        push_unique(&mut rule.commands, entry);
        if let Some(d) = extra_deny {
            let r = match needs_args
                .iter_mut()
                .find(|r| r.run_as.as_ref() == Some(&run_as))
            {
                Some(r) => r,
                None => {
                    needs_args.push(OutRule {
                        name: String::new(),
                        users,
                        groups,
                        run_as: Some(run_as),
                        commands: Vec::new(),
                        auth: None,
                        deny: true,
                        all_callers: false,
                        comment: Some(
                            "# sudo's 'CMD ARGS *' needs at least one argument after ARGS; Belladonna's 'ARGS *' would also allow ARGS alone: denied here"
                                .to_string(),
                        ),
                        env: Box::default(),
                    });
                    let Some(r) = needs_args.last_mut() else {
                        return;
                    };
                    r
                }
            };
            push_unique(&mut r.commands, d);
        }
    }

    fn allow_run_as(
        &mut self,
        runas: Option<&Runas>,
        src: &Src,
        noted: &mut HashSet<String>,
    ) -> Result<Vec<String>, String> {
        let Some(r) = runas else {
            return Ok(vec!["root".to_string()]);
        };
        let users = match &r.users {
            Some(u) if !u.is_empty() => u,
            _ => {
                return Err(
                    "a runas list with groups only (run as yourself with another group) is not mapped"
                        .to_string(),
                );
            }
        };
        let mut leaves = Vec::new();
        self.expand_members(AliasKind::Runas, users, Polarity::Pos, 0, &mut leaves)?;
        if leaves.iter().any(|(p, _)| *p == Polarity::Neg) {
            return Err(
                "the runas list has a negation ('!'), which run_as can't express".to_string(),
            );
        }
        let mut out = Vec::new();
        for (_, l) in &leaves {
            match l {
                Leaf::All => push_unique(&mut out, "ALL".to_string()),
                Leaf::Name(n) => match parse::parse_principal(n) {
                    Ok(_) if !n.starts_with('#') => push_unique(&mut out, n.clone()),
                    _ => self.narrowed(
                        src,
                        format!("runas user {n:?} is not a valid name: left out"),
                    ),
                },
                Leaf::Uid(u) => push_unique(&mut out, format!("#{u}")),
                Leaf::Group(g) => match parse::parse_run_as(&format!("%{g}")) {
                    Ok(_) => push_unique(&mut out, format!("%{g}")),
                    Err(_) => self.narrowed(
                        src,
                        format!("runas %{g:?} is not a valid group name: left out"),
                    ),
                },
                Leaf::Gid(g) => push_unique(&mut out, format!("%#{g}")),
                Leaf::Opaque(w) => self.narrowed(src, format!("runas {w}: left out")),
            }
        }
        if r.groups.is_some() && noted.insert("runas-groups".to_string()) {
            self.narrowed(
                src,
                "runas groups (':group') are not mapped: commands run with the target's own groups (no -g)".to_string(),
            );
        }
        if out.is_empty() {
            return Err("no runas user left to map".to_string());
        }
        // ALL covers every other entry (and must stand alone).
        if out.iter().any(|t| t == "ALL") {
            out = vec!["ALL".to_string()];
        }
        Ok(out)
    }

    fn deny_leaf(
        &mut self,
        who: &DenyWho,
        host: Outcomes,
        spec: &CmndSpec,
        cmnd: &Cmnd,
        src: &Src,
        denies: &mut Vec<OutRule>,
    ) -> Result<(), ImportError> {
        let what = cmnd_text(cmnd);
        if !host.allow {
            // Never applies on this host: nothing to deny here.
            self.warn(
                src,
                format!(
                    "!{what}: the host list does not match {}: this negation does not apply here",
                    self.opts.hostname
                ),
            );
            return Ok(());
        }
        let specs: Vec<String> = match cmnd {
            Cmnd::All => {
                return Err(refuse(
                    &self.names,
                    src,
                    "!ALL (deny every command) can't be expressed (deny rules name commands); refusing rather than dropping it",
                ));
            }
            Cmnd::Alias(a) => {
                return Err(refuse(
                    &self.names,
                    src,
                    format!(
                        "negated Cmnd_Alias {a} is not defined or not understood; refusing rather than dropping a deny"
                    ),
                ));
            }
            Cmnd::Other(o) => {
                if o == "sudoedit" || o == "list" {
                    // No imported rule can allow these: nothing to deny.
                    self.warn(
                        src,
                        format!("!{o}: Belladonna has no {o}, so no imported rule allows it; nothing to deny"),
                    );
                    return Ok(());
                }
                return Err(refuse(
                    &self.names,
                    src,
                    format!(
                        "negated {o:?} (a regular expression) can't be expressed; refusing rather than dropping a deny"
                    ),
                ));
            }
            Cmnd::Path {
                path,
                path_glob,
                args,
                digest: _,
            } => {
                if *path_glob || path.ends_with('/') {
                    return Err(refuse(
                        &self.names,
                        src,
                        format!(
                            "negated {path:?} (a wildcard or directory) can't be expressed; refusing rather than dropping a deny"
                        ),
                    ));
                }
                if let Err(m) = cmdline::check_path(path) {
                    return Err(refuse(&self.names, src, m));
                }
                let p = Path::new(path);
                match args {
                    ArgSpec::Any => vec![cmdline::render_parts(p, &Args::Prefix(Vec::new()))],
                    ArgSpec::Empty => vec![cmdline::render_parts(p, &Args::None)],
                    ArgSpec::Words(w)
                        if !w.iter().any(|w| w.glob) && w.len() <= MAX_SPLIT_WORDS =>
                    {
                        // sudo compares the arguments joined with spaces:
                        // deny every way of splitting them into words.
                        let words: Vec<String> = w.iter().map(|w| w.text.clone()).collect();
                        splits(&words)
                            .into_iter()
                            .map(|v| cmdline::render_parts(p, &Args::Exact(v)))
                            .collect()
                    }
                    _ => {
                        self.narrowed(
                            src,
                            format!("!{what}: arguments with patterns can't be expressed: denied with any arguments"),
                        );
                        vec![cmdline::render_parts(p, &Args::Prefix(Vec::new()))]
                    }
                }
            }
        };
        if !host.definitely_allow() {
            self.narrowed(
                src,
                format!(
                    "!{what}: the host list can't be decided for {}: denied anyway",
                    self.opts.hostname
                ),
            );
        }
        let run_as = deny_run_as(self, spec.runas.as_ref());
        let (users, groups, all_callers) = match who {
            DenyWho::Some(u, g) => (u.clone(), g.clone(), false),
            DenyWho::Everyone(why) => {
                if !self
                    .warnings
                    .iter()
                    .any(|w| w.line == src.line && w.message.contains("denied for every"))
                {
                    self.narrowed(
                        src,
                        format!("the user list ({why}) can't be expressed: the negations of this line are denied for every user and group of the imported policy"),
                    );
                }
                (Vec::new(), Vec::new(), true)
            }
        };
        let rule = match denies.iter_mut().find(|r| r.run_as == run_as) {
            Some(r) => r,
            None => {
                denies.push(OutRule {
                    name: String::new(),
                    users,
                    groups,
                    run_as,
                    commands: Vec::new(),
                    auth: None,
                    deny: true,
                    all_callers,
                    comment: None,
                    env: Box::default(),
                });
                match denies.last_mut() {
                    Some(r) => r,
                    None => return Ok(()),
                }
            }
        };
        for s in specs {
            push_unique(&mut rule.commands, s);
        }
        Ok(())
    }

    // ------------------------------------------------------------ output

    fn finish(mut self) -> Result<Imported, ImportError> {
        self.apply_scoped();
        // Deny rules for "every caller": every principal of every allow rule.
        let mut all_users = Vec::new();
        let mut all_groups = Vec::new();
        for it in &self.items {
            if let Item::Rule(r) = it
                && !r.deny
            {
                for u in &r.users {
                    push_unique(&mut all_users, u.clone());
                }
                for g in &r.groups {
                    push_unique(&mut all_groups, g.clone());
                }
            }
        }
        let mut items = Vec::new();
        for it in std::mem::take(&mut self.items) {
            match it {
                Item::Rule(mut r) if r.all_callers => {
                    if all_users.is_empty() && all_groups.is_empty() {
                        items.push(Item::Comment(format!(
                            "# (deny rule {} omitted: no imported rule allows anything)",
                            r.name
                        )));
                        continue;
                    }
                    r.users = all_users.clone();
                    r.groups = all_groups.clone();
                    r.comment = Some(
                        "# denied for every user and group that any imported rule names"
                            .to_string(),
                    );
                    items.push(Item::Rule(r));
                }
                it => items.push(it),
            }
        }
        let mut out = String::new();
        out.push_str("# Belladonna policy imported from sudoers by `bdctl import sudoers`.\n");
        out.push_str("# Review it before installing: UNMAPPED lines were not imported, NARROWED\n");
        out.push_str("# ones allow less than sudoers did. See docs/sudoers-import.md.\n");
        out.push_str("version = 1\n");
        if self.secure_path.is_some()
            || self.env_keep.is_some()
            || self.umask.is_some()
            || self.timestamp_timeout.is_some()
            || self.require_tty
        {
            out.push_str("\n[defaults]\n");
            if let Some(p) = &self.secure_path {
                out.push_str(&format!("secure_path = {}\n", toml_str(p)));
            }
            if let Some(e) = &self.env_keep {
                out.push_str(&format!("env_keep = {}\n", toml_list(e)));
            }
            if let Some(u) = &self.umask {
                out.push_str(&format!("umask = {}\n", toml_str(u)));
            }
            if let Some(t) = self.timestamp_timeout {
                out.push_str(&format!("timestamp_timeout = \"{t}s\"\n"));
            }
            if self.require_tty {
                out.push_str("require_tty = true\n");
            }
        }
        let mut rules = 0;
        let mut prev_comment = false;
        for it in &items {
            match it {
                Item::Comment(c) => {
                    if !prev_comment {
                        out.push('\n');
                    }
                    out.push_str(c);
                    out.push('\n');
                    prev_comment = true;
                }
                Item::Rule(r) => {
                    rules += 1;
                    if !prev_comment {
                        out.push('\n');
                    }
                    if let Some(c) = &r.comment {
                        out.push_str(c);
                        out.push('\n');
                    }
                    out.push_str("[[rule]]\n");
                    out.push_str(&format!("name = {}\n", toml_str(&r.name)));
                    if !r.users.is_empty() {
                        out.push_str(&format!("users = {}\n", toml_list(&r.users)));
                    }
                    if !r.groups.is_empty() {
                        out.push_str(&format!("groups = {}\n", toml_list(&r.groups)));
                    }
                    if let Some(ra) = &r.run_as {
                        out.push_str(&format!("run_as = {}\n", toml_list(ra)));
                    }
                    if r.deny {
                        out.push_str("action = \"deny\"\n");
                    }
                    out.push_str("commands = [\n");
                    for c in &r.commands {
                        out.push_str(&format!("  {},\n", toml_str(c)));
                    }
                    out.push_str("]\n");
                    if let Some(a) = r.auth {
                        out.push_str(&format!("auth = \"{a}\"\n"));
                    }
                    r.env.render(&mut out);
                    prev_comment = false;
                }
            }
        }
        // The safety net: what we wrote must load.
        if let Err(e) = parse::parse_main(&out, Path::new("imported.toml")) {
            return Err(ImportError {
                file: self.names.first().cloned().unwrap_or_default(),
                line: None,
                message: format!("internal error: the generated policy does not load: {e}"),
            });
        }
        // A line that became rules but lost a part is narrowed, not lost.
        for r in &mut self.lines {
            if r.outcome == LineOutcome::NotMapped && !r.rules.is_empty() {
                r.outcome = LineOutcome::Narrowed;
            }
        }
        Ok(Imported {
            toml: out,
            warnings: self.warnings,
            rules,
            lines: self.lines,
        })
    }
}

// ---------------------------------------------------------------- helpers

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Outcomes {
    allow: bool,
    deny: bool,
    unspec: bool,
}

impl Outcomes {
    const ALLOW: Outcomes = Outcomes {
        allow: true,
        deny: false,
        unspec: false,
    };
    const UNSPEC: Outcomes = Outcomes {
        allow: false,
        deny: false,
        unspec: true,
    };
    const UNKNOWN: Outcomes = Outcomes {
        allow: true,
        deny: false,
        unspec: true,
    };
    const ANY: Outcomes = Outcomes {
        allow: true,
        deny: true,
        unspec: true,
    };
    fn negate(self) -> Outcomes {
        Outcomes {
            allow: self.deny,
            deny: self.allow,
            unspec: self.unspec,
        }
    }
    fn definitely_allow(self) -> bool {
        self.allow && !self.deny && !self.unspec
    }
}

enum DenyWho {
    Some(Vec<String>, Vec<String>),
    /// Can't enumerate: deny for every caller the policy allows anything.
    Everyone(String),
}

/// Principals for a deny rule: a superset of the members (polarity
/// ignored), or everyone.
fn deny_principals(leaves: &[(Polarity, Leaf)]) -> DenyWho {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    for (_, l) in leaves {
        match l {
            Leaf::All => return DenyWho::Everyone("ALL".to_string()),
            Leaf::Opaque(w) => return DenyWho::Everyone(w.clone()),
            Leaf::Name(n) => match parse::parse_principal(n) {
                Ok(_) if !n.starts_with('#') => push_unique(&mut users, n.clone()),
                _ => return DenyWho::Everyone(format!("user {n:?}")),
            },
            Leaf::Uid(u) => push_unique(&mut users, format!("#{u}")),
            Leaf::Group(g) => match parse::parse_principal(g) {
                Ok(_) if !g.starts_with('#') => push_unique(&mut groups, g.clone()),
                _ => return DenyWho::Everyone(format!("group {g:?}")),
            },
            Leaf::Gid(g) => push_unique(&mut groups, format!("#{g}")),
        }
    }
    if users.is_empty() && groups.is_empty() {
        return DenyWho::Everyone("empty".to_string());
    }
    DenyWho::Some(users, groups)
}

/// Targets for a deny rule: a superset of the runas members; `None` =
/// every target.
fn deny_run_as(c: &Conv<'_>, runas: Option<&Runas>) -> Option<Vec<String>> {
    let Some(r) = runas else {
        return Some(vec!["root".to_string()]);
    };
    if r.groups.is_some() {
        return None;
    }
    let users = r.users.as_ref().filter(|u| !u.is_empty())?;
    let mut leaves = Vec::new();
    c.expand_members(AliasKind::Runas, users, Polarity::Pos, 0, &mut leaves)
        .ok()?;
    let mut out = Vec::new();
    for (_, l) in leaves {
        match l {
            Leaf::Name(n) if parse::parse_principal(&n).is_ok() && !n.starts_with('#') => {
                push_unique(&mut out, n);
            }
            Leaf::Uid(u) => push_unique(&mut out, format!("#{u}")),
            _ => return None,
        }
    }
    Some(out)
}

/// Every way of grouping `words` into arguments joined by single spaces.
fn splits(words: &[String]) -> Vec<Vec<String>> {
    let Some((first, rest)) = words.split_first() else {
        return vec![Vec::new()];
    };
    let mut out = Vec::new();
    for tail in splits(rest) {
        // `first` as its own argument...
        let mut a = vec![first.clone()];
        a.extend(tail.iter().cloned());
        out.push(a);
        // ...or joined with the next one.
        if let Some((h, t)) = tail.split_first() {
            let mut b = vec![format!("{first} {h}")];
            b.extend(t.iter().cloned());
            out.push(b);
        }
    }
    out
}

/// A `secure_path` value the policy accepts: clean absolute directories.
fn clean_path_list(v: &str) -> bool {
    !v.is_empty()
        && v.split(':').all(|d| {
            d.starts_with('/') && !d.contains('\0') && !d.split('/').any(|c| c == "." || c == "..")
        })
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

/// Why a per-user, per-host, per-runas or per-command Defaults setting
/// is not mapped, and what applies instead.
fn scoped_reason(s: &Setting) -> &'static str {
    match s.name.as_str() {
        "env_keep" | "env_check" => {
            "Belladonna's env_keep is policy-wide: these variables are not kept (narrower)"
        }
        "secure_path" => {
            "Belladonna's secure_path is policy-wide and only resolves bare names; rules match the file, so this widens nothing"
        }
        "timestamp_timeout" => {
            "Belladonna's timestamp_timeout is policy-wide; the policy-wide one applies"
        }
        "use_pty" | "requiretty" => {
            "Belladonna has no use_pty/requiretty setting yet (the command runs on the caller's terminal)"
        }
        "log_input" | "log_output" | "logfile" | "syslog" | "log_host" | "log_year"
        | "mail_badpass" => {
            "Belladonna records every request in its own audit log; sudo's log settings have no equivalent"
        }
        _ => "per-user/host/runas/command Defaults of this setting have no Belladonna equivalent",
    }
}

fn setting_text(s: &Setting) -> String {
    let mut t = String::new();
    if s.negated {
        t.push('!');
    }
    t.push_str(&s.name);
    if let Some((op, v)) = &s.op {
        t.push_str(&format!(" {op} {v:?}"));
    }
    t
}

fn member_text(m: &Member) -> String {
    match &m.kind {
        MemberKind::All => "all".to_string(),
        MemberKind::Alias(a) => a.clone(),
        MemberKind::Name(n) => n.clone(),
        MemberKind::Uid(u) => format!("uid{u}"),
        MemberKind::Group(g) => g.clone(),
        MemberKind::Gid(g) => format!("gid{g}"),
        MemberKind::Netgroup(n) => n.clone(),
        MemberKind::NonUnix(n) => n.clone(),
    }
}

fn cmnd_text(c: &Cmnd) -> String {
    match c {
        Cmnd::All => "ALL".to_string(),
        Cmnd::Alias(a) => a.clone(),
        Cmnd::Other(o) => o.clone(),
        Cmnd::Path { path, args, .. } => match args {
            ArgSpec::Any => path.clone(),
            ArgSpec::Empty => format!("{path} \"\""),
            ArgSpec::Regex(r) => format!("{path} {r}"),
            ArgSpec::Words(w) => {
                let words: Vec<&str> = w.iter().map(|w| w.text.as_str()).collect();
                format!("{path} {}", words.join(" "))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imp(text: &str) -> Result<Imported, ImportError> {
        import_str(
            text,
            "sudoers",
            &Options {
                hostname: "bdhost".to_string(),
            },
        )
    }

    #[test]
    fn splits_are_all_groupings() {
        let w: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut s = splits(&w);
        s.sort();
        assert_eq!(s.len(), 4);
        assert!(s.contains(&vec!["a b c".to_string()]));
        assert!(s.contains(&vec!["a".to_string(), "b c".to_string()]));
    }

    #[test]
    fn simple_and_loads() {
        let i = imp("alice ALL = (root) NOPASSWD: /usr/bin/id, /usr/bin/ls \"\"\n").unwrap();
        assert!(i.toml.contains("\"/usr/bin/id *\""), "{}", i.toml);
        assert!(i.toml.contains("\"/usr/bin/ls\""), "{}", i.toml);
        assert!(i.toml.contains("auth = \"none\""));
        assert_eq!(i.rules, 1);
    }

    #[test]
    fn negation_never_dropped() {
        assert!(imp("alice ALL = /usr/bin/ls, !ALL\n").is_err());
        assert!(imp("alice ALL = /usr/bin/ls, !/usr/bin/*\n").is_err());
        assert!(imp("alice ALL = /usr/bin/ls, !NOPE\n").is_err());
        // A line not understood with a '!' refuses.
        assert!(imp("alice ALL = (root /usr/bin/ls, !/usr/bin/ls /root\n").is_err());
        let i = imp("alice ALL = /usr/bin/ls, !/usr/bin/ls a b\n").unwrap();
        assert!(i.toml.contains("\"/usr/bin/ls \\\"a b\\\"\""), "{}", i.toml);
    }

    #[test]
    fn report_has_a_row_per_line() {
        let i = imp(
            "Defaults env_reset\nDefaults:alice use_pty\nCmnd_Alias X = /usr/bin/id\n\
             %sudo ALL = (ALL:ALL) ALL\nbob ALL = (root) /usr/bin/id, /usr/sbin/service*\n\
             carol ALL = NOEXEC: /usr/bin/less\n",
        )
        .unwrap();
        let rows: Vec<(u32, LineOutcome)> = i.lines.iter().map(|r| (r.line, r.outcome)).collect();
        assert_eq!(
            rows,
            vec![
                (1, LineOutcome::Mapped),
                (2, LineOutcome::NotMapped),
                (3, LineOutcome::Mapped),
                (4, LineOutcome::Narrowed),
                (5, LineOutcome::Narrowed),
                (6, LineOutcome::NotMapped),
            ]
        );
        let t = i.report_table();
        assert!(t.contains("sudoers:4  narrowed    sudoers-L4-sudo"), "{t}");
        assert!(t.contains(": tag NOEXEC"), "{t}");
        assert!(t.contains("use_pty"), "{t}");
        assert!(
            t.ends_with("6 lines: 2 mapped, 2 narrowed, 2 not mapped; 2 rules\n"),
            "{t}"
        );
    }

    #[test]
    fn timestamp_timeout_in_minutes() {
        let i = imp("Defaults timestamp_timeout=15\nalice ALL = /usr/bin/id\n").unwrap();
        assert!(
            i.toml.contains("timestamp_timeout = \"900s\""),
            "{}",
            i.toml
        );
        let i = imp("Defaults timestamp_timeout=0.5\n").unwrap();
        assert!(i.toml.contains("timestamp_timeout = \"30s\""), "{}", i.toml);
        // Never expiring: not mapped (the default applies).
        let i = imp("Defaults timestamp_timeout=-1\n").unwrap();
        assert!(!i.toml.contains("\ntimestamp_timeout ="), "{}", i.toml);
        assert_eq!(i.warnings.len(), 1);
    }

    #[test]
    fn noexec_is_never_dropped() {
        let i = imp("alice ALL = (root) NOEXEC: /usr/bin/less /var/log/syslog\nbob ALL = (root) INTERCEPT: ALL\n")
            .unwrap();
        assert_eq!(i.rules, 0, "{}", i.toml);
        assert!(
            i.warnings
                .iter()
                .any(|w| w.to_string().contains("tag NOEXEC")),
            "{:?}",
            i.warnings
        );
        // EXEC (the default) is harmless to drop.
        let i = imp("alice ALL = (root) EXEC: /usr/bin/id\n").unwrap();
        assert_eq!(i.rules, 1);
    }

    #[test]
    fn all_command_and_target_mapped() {
        let i = imp("%sudo ALL = (ALL:ALL) ALL\n").unwrap();
        assert_eq!(i.rules, 1);
        assert!(i.toml.contains("run_as = [\"ALL\"]"), "{}", i.toml);
        assert!(i.toml.contains("  \"ALL\",\n"), "{}", i.toml);
        assert!(i.toml.contains("auth = \"password\""), "{}", i.toml);
        // ALL stays a rule of its own next to named commands.
        let i = imp("bob ALL = (root) /usr/bin/id, ALL\n").unwrap();
        assert_eq!(i.rules, 2, "{}", i.toml);
        crate::policy::parse::parse_main(&i.toml, Path::new("/i.toml")).unwrap();
        // A group target, and a wildcard path that is not a directory.
        let i = imp("alice ALL = (%www) /usr/bin/id\nbob ALL = /usr/sbin/service*\n").unwrap();
        assert!(i.toml.contains("run_as = [\"%www\"]"), "{}", i.toml);
        assert!(
            i.warnings
                .iter()
                .any(|w| w.to_string().contains("can't be matched by file identity")),
            "{:?}",
            i.warnings
        );
    }

    #[test]
    fn prefix_needs_args() {
        let i = imp("alice ALL = /usr/bin/systemctl status *\n").unwrap();
        assert!(i.toml.contains("\"/usr/bin/systemctl status *\""));
        assert!(i.toml.contains("action = \"deny\""));
        assert_eq!(i.rules, 2);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// Hostile text never panics; whatever is imported loads.
        #[test]
        fn hostile_text_never_panics(text in "[a-zA-Z0-9 /!%#@=:,()\\\"*?\\[\n\t+.^$_-]{0,120}") {
            if let Ok(i) = imp(&text) {
                proptest::prop_assert!(parse::parse_main(&i.toml, Path::new("x.toml")).is_ok());
            }
        }
    }
}
