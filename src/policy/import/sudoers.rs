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

// ---------------------------------------------------------------- scanner

struct Sc {
    c: Vec<char>,
    i: usize,
}

type PResult<T> = Result<T, String>;

const TAGS: &[&str] = &[
    "NOPASSWD",
    "PASSWD",
    "NOEXEC",
    "EXEC",
    "SETENV",
    "NOSETENV",
    "LOG_INPUT",
    "NOLOG_INPUT",
    "LOG_OUTPUT",
    "NOLOG_OUTPUT",
    "MAIL",
    "NOMAIL",
    "FOLLOW",
    "NOFOLLOW",
    "INTERCEPT",
    "NOINTERCEPT",
];

const OPTIONS: &[&str] = &[
    "ROLE",
    "TYPE",
    "CWD",
    "CHROOT",
    "TIMEOUT",
    "NOTBEFORE",
    "NOTAFTER",
    "APPARMOR_PROFILE",
    "PRIVS",
    "LIMITPRIVS",
];

/// The opposite of a tag (`NOPASSWD` <-> `PASSWD`), for "last wins".
fn tag_pair(t: &str) -> String {
    match t.strip_prefix("NO") {
        Some(rest) => rest.to_string(),
        None => format!("NO{t}"),
    }
}

/// `[A-Z][A-Z0-9_]*`: sudo's alias-name syntax.
pub fn is_alias_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_uppercase())
        && b.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
}

impl Sc {
    fn new(s: &str) -> Sc {
        Sc {
            c: s.chars().collect(),
            i: 0,
        }
    }
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }
    fn peek_at(&self, k: usize) -> Option<char> {
        self.c.get(self.i + k).copied()
    }
    fn ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
    }
    /// At a comment start: `#` not followed by a digit (or `-digit`).
    fn at_comment(&self) -> bool {
        self.peek() == Some('#') && !self.peek_at(1).is_some_and(|c| c.is_ascii_digit())
    }
    /// End of the logical line (after white space), a comment included.
    fn at_end(&mut self) -> bool {
        self.ws();
        self.peek().is_none() || self.at_comment()
    }
    fn eat(&mut self, ch: char) -> bool {
        self.ws();
        if self.peek() == Some(ch) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, ch: char) -> PResult<()> {
        if self.eat(ch) {
            Ok(())
        } else {
            Err(format!("expected {ch:?} {}", self.here()))
        }
    }
    fn here(&self) -> String {
        match self.peek() {
            None => "at end of line".to_string(),
            Some(_) => {
                let rest: String = self.c[self.i..].iter().take(20).collect();
                format!("at {rest:?}")
            }
        }
    }

    /// A name: user, group, host, alias, Defaults name. Ends at white
    /// space or one of `,:=()!` (unescaped), `"..."` quotes.
    fn name(&mut self) -> PResult<String> {
        self.ws();
        let mut out = String::new();
        // `%:group` keeps its colon.
        if self.peek() == Some('%') && self.peek_at(1) == Some(':') {
            out.push_str("%:");
            self.i += 2;
        }
        while let Some(c) = self.peek() {
            match c {
                '\\' => {
                    let n = self.peek_at(1).ok_or("trailing backslash")?;
                    out.push(n);
                    self.i += 2;
                }
                '"' => {
                    self.i += 1;
                    loop {
                        match self.peek() {
                            None => return Err("unterminated double quote".to_string()),
                            Some('"') => {
                                self.i += 1;
                                break;
                            }
                            Some('\\') => {
                                let n = self.peek_at(1).ok_or("trailing backslash")?;
                                out.push(n);
                                self.i += 2;
                            }
                            Some(c) => {
                                out.push(c);
                                self.i += 1;
                            }
                        }
                    }
                }
                '#' if out.is_empty() && self.at_comment() => break,
                '#' if !out.is_empty() && !out.ends_with('%') => break,
                c if c.is_whitespace() || ",:=()!".contains(c) => break,
                c => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        if out.is_empty() {
            return Err(format!("expected a name {}", self.here()));
        }
        Ok(out)
    }

    fn member(&mut self) -> PResult<Member> {
        let mut negated = false;
        while self.eat('!') {
            negated = !negated;
        }
        let w = self.name()?;
        let digits = |s: &str| -> PResult<u32> {
            s.parse::<u32>()
                .map_err(|_| format!("{w:?}: not a valid numeric id"))
        };
        let kind = if w == "ALL" {
            MemberKind::All
        } else if let Some(g) = w.strip_prefix("%#") {
            MemberKind::Gid(digits(g)?)
        } else if let Some(g) = w.strip_prefix("%:") {
            MemberKind::NonUnix(g.to_string())
        } else if let Some(g) = w.strip_prefix('%') {
            MemberKind::Group(g.to_string())
        } else if let Some(n) = w.strip_prefix('+') {
            MemberKind::Netgroup(n.to_string())
        } else if let Some(u) = w.strip_prefix('#') {
            MemberKind::Uid(digits(u)?)
        } else if is_alias_name(&w) {
            MemberKind::Alias(w)
        } else {
            MemberKind::Name(w)
        };
        Ok(Member { negated, kind })
    }

    /// `member (, member)*`.
    fn members(&mut self) -> PResult<Vec<Member>> {
        let mut v = vec![self.member()?];
        while self.eat(',') {
            v.push(self.member()?);
        }
        Ok(v)
    }

    /// Try `WORD:` for a known tag, or `WORD=value` for a known option.
    fn tag_or_option(&mut self) -> Option<Result<(String, Option<String>), String>> {
        self.ws();
        let start = self.i;
        let mut w = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_uppercase() || c == '_' {
                w.push(c);
                self.i += 1;
            } else {
                break;
            }
        }
        match self.peek() {
            Some(':') if TAGS.contains(&w.as_str()) => {
                self.i += 1;
                return Some(Ok((w, None)));
            }
            Some('=') if OPTIONS.contains(&w.as_str()) => {
                self.i += 1;
                return Some(self.value().map(|v| (w, Some(v))));
            }
            _ => {}
        }
        self.i = start;
        None
    }

    /// A Defaults or option value: `"..."` or a bare word up to white
    /// space or `,`.
    fn value(&mut self) -> PResult<String> {
        self.ws();
        let mut out = String::new();
        if self.peek() == Some('"') {
            self.i += 1;
            loop {
                match self.peek() {
                    None => return Err("unterminated double quote".to_string()),
                    Some('"') => {
                        self.i += 1;
                        return Ok(out);
                    }
                    Some('\\') => {
                        let n = self.peek_at(1).ok_or("trailing backslash")?;
                        out.push(n);
                        self.i += 2;
                    }
                    Some(c) => {
                        out.push(c);
                        self.i += 1;
                    }
                }
            }
        }
        while let Some(c) = self.peek() {
            match c {
                '\\' => {
                    let n = self.peek_at(1).ok_or("trailing backslash")?;
                    out.push(n);
                    self.i += 2;
                }
                c if c.is_whitespace() || c == ',' => break,
                '#' if self.at_comment() => break,
                c => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        Ok(out)
    }

    /// A word of a command (path or argument): up to white space or an
    /// unescaped `,` `:` `#`. Returns (text, glob, escaped-at-all).
    fn cmd_word(&mut self, is_path: bool) -> PResult<(String, bool, bool)> {
        let mut out = String::new();
        let mut glob = false;
        let mut escaped = false;
        while let Some(c) = self.peek() {
            match c {
                '\\' => {
                    let n = self.peek_at(1).ok_or("trailing backslash")?;
                    if !",:=#".contains(n) {
                        glob = true;
                    }
                    escaped = true;
                    out.push(n);
                    self.i += 2;
                }
                c if c.is_whitespace() || c == ',' || c == ':' || c == '#' => break,
                '=' if is_path => break,
                '=' => {
                    return Err(
                        "unescaped '=' in command arguments (sudo requires '\\=')".to_string()
                    );
                }
                c => {
                    if "*?[".contains(c) {
                        glob = true;
                    }
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        Ok((out, glob, escaped))
    }

    /// `!* command [args]`.
    fn cmnd_item(&mut self) -> PResult<CmndItem> {
        let mut negated = false;
        while self.eat('!') {
            negated = !negated;
        }
        self.ws();
        let mut digest = None;
        for alg in ["sha224:", "sha256:", "sha384:", "sha512:"] {
            let rest: String = self.c[self.i..].iter().take(alg.len()).collect();
            if rest == alg {
                let mut d = String::new();
                while let Some(c) = self.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    d.push(c);
                    self.i += 1;
                }
                digest = Some(d);
                self.ws();
                break;
            }
        }
        let (path, path_glob, _) = self.cmd_word(true)?;
        if path.is_empty() {
            return Err(format!("expected a command {}", self.here()));
        }
        let cmnd = if path == "ALL" && digest.is_none() {
            Cmnd::All
        } else if is_alias_name(&path) && digest.is_none() {
            Cmnd::Alias(path)
        } else {
            let args = self.cmd_args()?;
            if path.starts_with('/') {
                Cmnd::Path {
                    path_glob: path_glob || path.contains(['*', '?', '[']),
                    path,
                    args,
                    digest,
                }
            } else if path == "sudoedit" || path == "list" || path.starts_with('^') {
                Cmnd::Other(path)
            } else {
                return Err(format!(
                    "command {path:?} is not an absolute path, an alias, ALL, sudoedit or list"
                ));
            }
        };
        Ok(CmndItem { negated, cmnd })
    }

    fn cmd_args(&mut self) -> PResult<ArgSpec> {
        let mut words: Vec<(String, bool, bool)> = Vec::new();
        loop {
            while self.peek().is_some_and(|c| c == ' ' || c == '\t') {
                self.i += 1;
            }
            match self.peek() {
                None | Some(',') | Some(':') | Some('#') => break,
                _ => {}
            }
            let w = self.cmd_word(false)?;
            if w.0.is_empty() {
                break;
            }
            words.push(w);
        }
        if words.is_empty() {
            return Ok(ArgSpec::Any);
        }
        if words.len() == 1 && words[0].0 == "\"\"" && !words[0].2 {
            return Ok(ArgSpec::Empty);
        }
        let joined: Vec<&str> = words.iter().map(|w| w.0.as_str()).collect();
        let joined = joined.join(" ");
        if joined.starts_with('^') && joined.ends_with('$') {
            return Ok(ArgSpec::Regex(joined));
        }
        Ok(ArgSpec::Words(
            words
                .into_iter()
                .map(|(text, glob, _)| ArgWord { text, glob })
                .collect(),
        ))
    }

    /// `Cmnd_Spec (, Cmnd_Spec)*`, with runas/tags/options carried over.
    fn cmnd_specs(&mut self) -> PResult<Vec<CmndSpec>> {
        let mut out = Vec::new();
        let mut runas: Option<Runas> = None;
        let mut tags: Vec<String> = Vec::new();
        let mut options: Vec<(String, String)> = Vec::new();
        loop {
            if self.eat('(') {
                runas = Some(self.runas()?);
            }
            while let Some(r) = self.tag_or_option() {
                let (name, value) = r?;
                match value {
                    None => {
                        let opposite = tag_pair(&name);
                        tags.retain(|t| *t != opposite && *t != name);
                        tags.push(name);
                    }
                    Some(v) => {
                        options.retain(|(n, _)| *n != name);
                        options.push((name, v));
                    }
                }
            }
            let item = self.cmnd_item()?;
            out.push(CmndSpec {
                runas: runas.clone(),
                tags: tags.clone(),
                options: options.clone(),
                item,
            });
            if !self.eat(',') {
                return Ok(out);
            }
        }
    }

    /// After `(`: `users? (: groups?)? )`.
    fn runas(&mut self) -> PResult<Runas> {
        self.ws();
        let users = match self.peek() {
            Some(':') | Some(')') => None,
            _ => Some(self.members()?),
        };
        let groups = if self.eat(':') {
            self.ws();
            if self.peek() == Some(')') {
                None
            } else {
                Some(self.members()?)
            }
        } else {
            None
        };
        self.expect(')')?;
        Ok(Runas { users, groups })
    }
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
mod tests {
    use super::*;

    fn one(line: &str) -> Entry {
        let r = read_str(line, "t").unwrap();
        assert_eq!(r.entries.len(), 1, "{:?}", r.entries);
        r.entries.into_iter().next().unwrap()
    }

    #[test]
    fn continuation_and_comments() {
        let r = read_str("alice ALL = \\\n /usr/bin/id # hi\n# only\n\n", "t").unwrap();
        assert_eq!(r.entries.len(), 1);
        match &r.entries[0] {
            Entry::UserSpec {
                src, privileges, ..
            } => {
                assert_eq!(src.line, 1);
                assert_eq!(privileges[0].cmnds.len(), 1);
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn user_spec_with_tags_and_runas() {
        match one(
            "alice, %ops, #1500, %#20 ALL = (root, bob) NOPASSWD: /a x, PASSWD: /b \"\" : web = !/c",
        ) {
            Entry::UserSpec {
                users, privileges, ..
            } => {
                assert_eq!(users.len(), 4);
                assert_eq!(users[2].kind, MemberKind::Uid(1500));
                assert_eq!(users[3].kind, MemberKind::Gid(20));
                assert_eq!(privileges.len(), 2);
                let c = &privileges[0].cmnds;
                assert_eq!(c[0].tags, vec!["NOPASSWD".to_string()]);
                assert_eq!(c[1].tags, vec!["PASSWD".to_string()]);
                assert!(c[1].runas.is_some());
                assert!(matches!(
                    &c[1].item.cmnd,
                    Cmnd::Path {
                        args: ArgSpec::Empty,
                        ..
                    }
                ));
                assert!(privileges[1].cmnds[0].item.negated);
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn bad_lines_are_unparsed() {
        assert!(matches!(one("alice ALL = (root"), Entry::Unparsed { .. }));
        assert!(matches!(
            one("alice ALL = /bin/x a=b"),
            Entry::Unparsed { .. }
        ));
        assert!(matches!(
            one("Cmnd_Alias X = /a, Y = /b"),
            Entry::Unparsed {
                alias: Some((AliasKind::Cmnd, _)),
                ..
            }
        ));
        let r = read_str("Cmnd_Alias X = /a : Y = /b", "t").unwrap();
        assert_eq!(r.entries.len(), 2);
    }
}
