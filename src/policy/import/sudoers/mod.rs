//! Reading sudoers: files and includes, logical lines, and a parser for
//! the common grammar of sudoers(5). The result is a list of [`Entry`]
//! values in sudo's evaluation order (includes inlined where they appear).
//! Semantics (what an entry means for Belladonna) live in the parent
//! module.
//!
//! Lexical rules implemented (a subset of sudo's `toke.l`):
//! - a backslash at the end of a line joins it with the next one;
//! - an unescaped `#` that is not followed by a digit (a `#uid`) starts a
//!   comment, except the `#include`/`#includedir` directives;
//! - `\X` makes `X` literal; `"..."` quotes a name;
//! - command arguments end at an unescaped `,` `:` or `#`; an unescaped
//!   `=` in them is an error (sudo requires `\=`).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

mod scanner;
pub use scanner::*;

/// Where a logical line came from: index into the display names, and the
/// 1-based number of its first physical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Src {
    pub file: usize,
    pub line: u32,
    /// The logical line (continuations joined with a space).
    pub text: String,
}

/// A user, host or runas list member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub negated: bool,
    pub kind: MemberKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberKind {
    All,
    Alias(String),
    /// A user name (or, in a host list, a host name or address).
    Name(String),
    Uid(u32),
    Group(String),
    Gid(u32),
    Netgroup(String),
    /// `%:name`: a non-Unix group.
    NonUnix(String),
}

/// One argument word of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgWord {
    /// The word with `\,` `\:` `\=` `\#` escapes resolved.
    pub text: String,
    /// True when sudo's `fnmatch` would treat part of the word as a
    /// pattern: an unescaped `*`, `?` or `[`, or any other backslash
    /// escape (whose meaning depends on sudo's version).
    pub glob: bool,
}

/// The argument part of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgSpec {
    /// No arguments written: sudo allows any arguments.
    Any,
    /// The sole argument `""`: no arguments allowed.
    Empty,
    /// Arguments: matched by sudo with `fnmatch` against the user's
    /// arguments joined with single spaces.
    Words(Vec<ArgWord>),
    /// `^...$`: a regular expression (sudo 1.9.10 and later).
    Regex(String),
}

/// A command (leaf or alias).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmnd {
    All,
    Alias(String),
    Path {
        path: String,
        /// The path has glob characters or escapes (a pattern for sudo).
        path_glob: bool,
        args: ArgSpec,
        /// `sha256:...` and friends, as written.
        digest: Option<String>,
    },
    /// `sudoedit`, `list`, a regular-expression path: what it is, as written.
    Other(String),
}

/// A possibly negated command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmndItem {
    pub negated: bool,
    pub cmnd: Cmnd,
}

/// `(users:groups)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runas {
    pub users: Option<Vec<Member>>,
    pub groups: Option<Vec<Member>>,
}

/// One command of a user specification with everything that applies to
/// it (the runas, tags and options carried over from earlier commands of
/// the same list are already applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmndSpec {
    pub runas: Option<Runas>,
    /// Tags in effect, by name (`NOPASSWD`, `NOEXEC`, ...), last wins per pair.
    pub tags: Vec<String>,
    /// Options in effect (`CWD`, `CHROOT`, ...), with their values.
    pub options: Vec<(String, String)>,
    pub item: CmndItem,
}

/// `Host_List = Cmnd_Spec_List`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Privilege {
    pub hosts: Vec<Member>,
    pub cmnds: Vec<CmndSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AliasKind {
    User,
    Runas,
    Host,
    Cmnd,
}

impl AliasKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AliasKind::User => "User_Alias",
            AliasKind::Runas => "Runas_Alias",
            AliasKind::Host => "Host_Alias",
            AliasKind::Cmnd => "Cmnd_Alias",
        }
    }
}

/// One `Defaults` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub name: String,
    /// `!name`.
    pub negated: bool,
    /// `=`, `+=` or `-=` with the value (quotes removed), if any.
    pub op: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AliasBody {
    Members(Vec<Member>),
    Cmnds(Vec<CmndItem>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Defaults {
        /// `:users`, `@hosts`, `>runas`, `!cmnds` as written, or `None`.
        scope: Option<String>,
        settings: Vec<Setting>,
        src: Src,
    },
    Alias {
        kind: AliasKind,
        name: String,
        body: AliasBody,
        src: Src,
    },
    UserSpec {
        users: Vec<Member>,
        privileges: Vec<Privilege>,
        src: Src,
    },
    /// A line this parser does not understand.
    Unparsed {
        reason: String,
        /// For an alias definition: its kind and the names it defines (so
        /// that uses of them are known to be unknown).
        alias: Option<(AliasKind, Vec<String>)>,
        src: Src,
    },
}

/// A reader problem: fatal (`fatal`) or a warning to report and continue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: usize,
    pub line: u32,
    pub message: String,
}

/// Limits on includes.
pub const MAX_INCLUDE_DEPTH: usize = 16;
pub const MAX_FILES: usize = 1000;
pub const MAX_FILE_SIZE: u64 = 4 << 20;

/// Everything read.
#[derive(Debug, Default)]
pub struct Read {
    /// Display names of the files, index = `Src::file`.
    pub names: Vec<String>,
    pub entries: Vec<Entry>,
    pub warnings: Vec<Problem>,
}

struct Reader<'a> {
    base: PathBuf,
    hostname: &'a str,
    out: Read,
    stack: Vec<PathBuf>,
}

/// How a file is shown in messages: relative to the main file's
/// directory when inside it, else as given.
fn display_name(base: &Path, p: &Path) -> String {
    match p.strip_prefix(base) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy().into_owned(),
        _ => p.to_string_lossy().into_owned(),
    }
}

/// Read `main` and everything it includes. On failure, the display
/// names of the files opened so far come with the problem.
pub fn read(main: &Path, hostname: &str) -> Result<Read, (Vec<String>, Problem)> {
    let base = main.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut r = Reader {
        base,
        hostname,
        out: Read::default(),
        stack: Vec::new(),
    };
    match r.file(main, None) {
        Ok(()) => Ok(r.out),
        Err(p) => Err((r.out.names, p)),
    }
}

/// Parse sudoers text given directly (no includes are followed: an
/// include line is reported as a warning). For tests and fuzzing.
pub fn read_str(text: &str, name: &str) -> Result<Read, Problem> {
    let mut out = Read {
        names: vec![name.to_string()],
        ..Read::default()
    };
    for (line, src) in logical_lines(text, 0) {
        match include_directive(&src.text) {
            Some(_) => out.warnings.push(Problem {
                file: 0,
                line,
                message: "include not followed (text input)".to_string(),
            }),
            None => out.entries.extend(parse_line(src)),
        }
    }
    Ok(out)
}

impl Reader<'_> {
    fn file(&mut self, path: &Path, from: Option<(usize, u32)>) -> Result<(), Problem> {
        let (ffile, fline) = from.unwrap_or((0, 0));
        let err = |m: String| Problem {
            file: ffile,
            line: fline,
            message: m,
        };
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(err(format!(
                "{}: includes nested deeper than {MAX_INCLUDE_DEPTH} levels",
                path.display()
            )));
        }
        if self.out.names.len() >= MAX_FILES {
            return Err(err(format!("more than {MAX_FILES} sudoers files")));
        }
        let canon = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&canon) {
            return Err(err(format!("{}: include cycle", path.display())));
        }
        let meta = std::fs::metadata(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
        if !meta.is_file() {
            return Err(err(format!("{}: not a regular file", path.display())));
        }
        if meta.len() > MAX_FILE_SIZE {
            return Err(err(format!(
                "{}: larger than {MAX_FILE_SIZE} bytes",
                path.display()
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
        let idx = self.out.names.len();
        self.out.names.push(display_name(&self.base, path));
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let off = e.utf8_error().valid_up_to();
                let line = e.as_bytes()[..off].iter().filter(|&&b| b == b'\n').count() + 1;
                return Err(Problem {
                    file: idx,
                    line: u32::try_from(line).unwrap_or(u32::MAX),
                    message: "not valid UTF-8 (refusing to guess what it means)".to_string(),
                });
            }
        };
        self.stack.push(canon);
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for (line, src) in logical_lines(&text, idx) {
            match include_directive(&src.text) {
                Some(Ok((is_dir, target))) => {
                    let target = target.replace("%h", self.hostname);
                    let p = if target.starts_with('/') {
                        PathBuf::from(&target)
                    } else {
                        dir.join(&target)
                    };
                    if is_dir {
                        self.dir(&p, idx, line)?;
                    } else {
                        self.file(&p, Some((idx, line)))?;
                    }
                }
                Some(Err(m)) => {
                    self.stack.pop();
                    return Err(Problem {
                        file: idx,
                        line,
                        message: m,
                    });
                }
                None => {
                    self.out.entries.extend(parse_line(src));
                }
            }
        }
        self.stack.pop();
        Ok(())
    }

    fn dir(&mut self, dir: &Path, file: usize, line: u32) -> Result<(), Problem> {
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) => {
                // sudo skips a missing include directory too.
                self.out.warnings.push(Problem {
                    file,
                    line,
                    message: format!("includedir {}: {e} (skipped)", dir.display()),
                });
                return Ok(());
            }
        };
        let mut names: Vec<String> = Vec::new();
        for ent in rd {
            let ent = ent.map_err(|e| Problem {
                file,
                line,
                message: format!("includedir {}: {e}", dir.display()),
            })?;
            let name = ent.file_name().to_string_lossy().into_owned();
            // As sudo: skip names with a '.' or ending in '~'.
            if name.contains('.') || name.ends_with('~') {
                continue;
            }
            if ent.file_type().map(|t| t.is_file()).unwrap_or(false) {
                names.push(name);
            }
        }
        names.sort();
        for n in names {
            self.file(&dir.join(n), Some((file, line)))?;
        }
        Ok(())
    }
}

/// Split into logical lines (continuations joined); yields (first line
/// number, Src).
fn logical_lines(text: &str, file: usize) -> Vec<(u32, Src)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start: Option<u32> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let first = *start.get_or_insert(n);
        // A line ending in an odd number of backslashes continues.
        let trailing = raw.chars().rev().take_while(|&c| c == '\\').count();
        if trailing % 2 == 1 {
            cur.push_str(&raw[..raw.len() - 1]);
            cur.push(' ');
            continue;
        }
        cur.push_str(raw);
        let text = std::mem::take(&mut cur);
        start = None;
        out.push((
            first,
            Src {
                file,
                line: first,
                text,
            },
        ));
    }
    if let Some(first) = start {
        out.push((
            first,
            Src {
                file,
                line: first,
                text: cur,
            },
        ));
    }
    out
}

/// `#include`/`@include` FILE or `#includedir`/`@includedir` DIR:
/// `Some(Ok((is_dir, path)))`.
fn include_directive(line: &str) -> Option<Result<(bool, String), String>> {
    let t = line.trim_start();
    let rest = t.strip_prefix('#').or_else(|| t.strip_prefix('@'))?;
    let (is_dir, arg) = if let Some(a) = rest.strip_prefix("includedir") {
        (true, a)
    } else if let Some(a) = rest.strip_prefix("include") {
        (false, a)
    } else {
        return None;
    };
    if !arg.starts_with([' ', '\t']) {
        // `#includes are nice` is a comment; `@includex` is nonsense.
        return if t.starts_with('@') {
            Some(Err(format!("unknown directive {:?}", t)))
        } else {
            None
        };
    }
    let arg = arg.trim();
    let path = if let Some(q) = arg.strip_prefix('"') {
        match q.find('"') {
            Some(end) => q[..end].to_string(),
            None => return Some(Err("unterminated quote in include".to_string())),
        }
    } else {
        let mut p = String::new();
        let mut chars = arg.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        p.push(n);
                    }
                }
                c if c.is_whitespace() => break,
                c => p.push(c),
            }
        }
        p
    };
    if path.is_empty() {
        return Some(Err("include without a path".to_string()));
    }
    Some(Ok((is_dir, path)))
}

// ---------------------------------------------------------------- lines

fn parse_line(src: Src) -> Vec<Entry> {
    let mut sc = Sc::new(&src.text);
    if sc.at_end() {
        return Vec::new();
    }
    let first_start = sc.i;
    let first: String = {
        let mut w = String::new();
        while let Some(c) = sc.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                w.push(c);
                sc.i += 1;
            } else {
                break;
            }
        }
        w
    };
    let alias_kind = match first.as_str() {
        "User_Alias" => Some(AliasKind::User),
        "Runas_Alias" => Some(AliasKind::Runas),
        "Host_Alias" => Some(AliasKind::Host),
        "Cmnd_Alias" | "Cmd_Alias" => Some(AliasKind::Cmnd),
        _ => None,
    };
    let result: PResult<Vec<Entry>> = if first == "Defaults"
        && sc
            .peek()
            .is_none_or(|c| c.is_whitespace() || ":@>!".contains(c))
    {
        parse_defaults(&mut sc, &src).map(|e| vec![e])
    } else if let Some(kind) = alias_kind {
        match parse_aliases(&mut sc, kind, &src) {
            Ok(v) => Ok(v),
            Err(reason) => {
                // Record the names it would define, so uses are known unknown.
                let names = alias_names_guess(&src.text);
                return vec![Entry::Unparsed {
                    reason,
                    alias: Some((kind, names)),
                    src,
                }];
            }
        }
    } else {
        sc.i = first_start;
        parse_user_spec(&mut sc, &src).map(|e| vec![e])
    };
    match result {
        Ok(e) => e,
        Err(reason) => vec![Entry::Unparsed {
            reason,
            alias: None,
            src,
        }],
    }
}

fn alias_names_guess(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let body = text
        .trim_start()
        .split_once(char::is_whitespace)
        .map_or("", |(_, b)| b);
    for part in std::iter::once(body).chain(body.split(':').skip(1)) {
        let name: String = part
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if is_alias_name(&name) && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// The list of a `Defaults:users` or `Defaults>runas` scope (without its
/// first character).
pub fn scope_members(s: &str) -> Result<Vec<Member>, String> {
    let mut sc = Sc::new(s);
    let v = sc.members()?;
    if !sc.at_end() {
        return Err(format!("unexpected text {}", sc.here()));
    }
    Ok(v)
}

/// The list of a `Defaults!cmnds` scope (without the `!`).
pub fn scope_cmnds(s: &str) -> Result<Vec<CmndItem>, String> {
    let mut sc = Sc::new(s);
    let mut v = vec![sc.cmnd_item()?];
    while sc.eat(',') {
        v.push(sc.cmnd_item()?);
    }
    if !sc.at_end() {
        return Err(format!("unexpected text {}", sc.here()));
    }
    Ok(v)
}

fn parse_defaults(sc: &mut Sc, src: &Src) -> PResult<Entry> {
    let scope = match sc.peek() {
        Some(c) if ":@>!".contains(c) => {
            let mut s = String::new();
            while let Some(c) = sc.peek() {
                if c.is_whitespace() {
                    break;
                }
                s.push(c);
                sc.i += 1;
            }
            Some(s)
        }
        _ => None,
    };
    let mut settings = Vec::new();
    loop {
        let mut negated = false;
        while sc.eat('!') {
            negated = !negated;
        }
        sc.ws();
        let mut name = String::new();
        while let Some(c) = sc.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                sc.i += 1;
            } else {
                break;
            }
        }
        if name.is_empty() {
            return Err(format!("expected a Defaults setting {}", sc.here()));
        }
        sc.ws();
        let op = match (sc.peek(), sc.peek_at(1)) {
            (Some('+'), Some('=')) => Some("+="),
            (Some('-'), Some('=')) => Some("-="),
            (Some('='), _) => Some("="),
            _ => None,
        };
        let op = match op {
            Some(o) => {
                sc.i += o.len();
                Some((o.to_string(), sc.value()?))
            }
            None => None,
        };
        settings.push(Setting { name, negated, op });
        if !sc.eat(',') {
            break;
        }
    }
    if !sc.at_end() {
        return Err(format!("unexpected text {}", sc.here()));
    }
    Ok(Entry::Defaults {
        scope,
        settings,
        src: src.clone(),
    })
}

/// `NAME = items (: NAME = items)*`: one entry per definition.
fn parse_aliases(sc: &mut Sc, kind: AliasKind, src: &Src) -> PResult<Vec<Entry>> {
    let name = sc.name()?;
    if !is_alias_name(&name) || name == "ALL" {
        return Err(format!("{name:?} is not a valid alias name"));
    }
    sc.expect('=')?;
    let body = if kind == AliasKind::Cmnd {
        let mut v = vec![sc.cmnd_item()?];
        while sc.eat(',') {
            v.push(sc.cmnd_item()?);
        }
        AliasBody::Cmnds(v)
    } else {
        AliasBody::Members(sc.members()?)
    };
    let mut out = vec![Entry::Alias {
        kind,
        name,
        body,
        src: src.clone(),
    }];
    if sc.eat(':') {
        out.extend(parse_aliases(sc, kind, src)?);
        return Ok(out);
    }
    if !sc.at_end() {
        return Err(format!("unexpected text {}", sc.here()));
    }
    Ok(out)
}

fn parse_user_spec(sc: &mut Sc, src: &Src) -> PResult<Entry> {
    let users = sc.members()?;
    let mut privileges = Vec::new();
    loop {
        let hosts = sc.members()?;
        sc.expect('=')?;
        let cmnds = sc.cmnd_specs()?;
        privileges.push(Privilege { hosts, cmnds });
        if !sc.eat(':') {
            break;
        }
    }
    if !sc.at_end() {
        return Err(format!("unexpected text {}", sc.here()));
    }
    Ok(Entry::UserSpec {
        users,
        privileges,
        src: src.clone(),
    })
}

#[cfg(test)]
mod tests;
