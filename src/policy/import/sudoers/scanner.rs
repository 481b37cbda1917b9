//! The scanner of one logical sudoers line: names, members, tags and
//! options, values, command words and arguments, run-as lists.
#![forbid(unsafe_code)]

use super::*;

// ---------------------------------------------------------------- scanner

pub(super) struct Sc {
    pub(super) c: Vec<char>,
    pub(super) i: usize,
}

pub(super) type PResult<T> = Result<T, String>;

pub(super) const TAGS: &[&str] = &[
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

pub(super) const OPTIONS: &[&str] = &[
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
pub(super) fn tag_pair(t: &str) -> String {
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
    pub(super) fn new(s: &str) -> Sc {
        Sc {
            c: s.chars().collect(),
            i: 0,
        }
    }
    pub(super) fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }
    pub(super) fn peek_at(&self, k: usize) -> Option<char> {
        self.c.get(self.i + k).copied()
    }
    pub(super) fn ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
    }
    /// At a comment start: `#` not followed by a digit (or `-digit`).
    pub(super) fn at_comment(&self) -> bool {
        self.peek() == Some('#') && !self.peek_at(1).is_some_and(|c| c.is_ascii_digit())
    }
    /// End of the logical line (after white space), a comment included.
    pub(super) fn at_end(&mut self) -> bool {
        self.ws();
        self.peek().is_none() || self.at_comment()
    }
    pub(super) fn eat(&mut self, ch: char) -> bool {
        self.ws();
        if self.peek() == Some(ch) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    pub(super) fn expect(&mut self, ch: char) -> PResult<()> {
        if self.eat(ch) {
            Ok(())
        } else {
            Err(format!("expected {ch:?} {}", self.here()))
        }
    }
    pub(super) fn here(&self) -> String {
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
    pub(super) fn name(&mut self) -> PResult<String> {
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

    pub(super) fn member(&mut self) -> PResult<Member> {
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
    pub(super) fn members(&mut self) -> PResult<Vec<Member>> {
        let mut v = vec![self.member()?];
        while self.eat(',') {
            v.push(self.member()?);
        }
        Ok(v)
    }

    /// Try `WORD:` for a known tag, or `WORD=value` for a known option.
    pub(super) fn tag_or_option(&mut self) -> Option<Result<(String, Option<String>), String>> {
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
    pub(super) fn value(&mut self) -> PResult<String> {
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
    pub(super) fn cmd_word(&mut self, is_path: bool) -> PResult<(String, bool, bool)> {
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
    pub(super) fn cmnd_item(&mut self) -> PResult<CmndItem> {
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

    pub(super) fn cmd_args(&mut self) -> PResult<ArgSpec> {
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
    pub(super) fn cmnd_specs(&mut self) -> PResult<Vec<CmndSpec>> {
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
    pub(super) fn runas(&mut self) -> PResult<Runas> {
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
