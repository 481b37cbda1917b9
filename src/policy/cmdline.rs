//! The command-string syntax of `commands = [...]`.
//!
//! A command string is split into words on ASCII whitespace. Double
//! quotes group characters (spaces included) into one word, and a
//! backslash takes the next character literally, inside or outside
//! quotes; quotes may appear inside a word (`a"b c"` is `ab c`), as in a
//! shell. `""` is an empty word.
//!
//! The first word is the command: an absolute path without `.` or `..`
//! components. The rest are the arguments:
//!
//! - none at all -> [`Args::None`] (the command must be run without
//!   arguments); a sole `""` means the same (sudo's spelling);
//! - a last word that is a bare, unquoted, unescaped `*` ->
//!   [`Args::Prefix`] of the words before it (any further arguments, none
//!   included);
//! - otherwise [`Args::Exact`]. A `*` anywhere else, or a quoted/escaped
//!   `"*"`/`\*`, is a literal `*` argument.
//!
//! Errors: an empty string, a trailing lone backslash, an unterminated
//! quote, a relative or unclean path, a NUL anywhere.
//!
//! [`render`] writes a command back in this syntax (for `bdexec -l`,
//! lint messages); `parse_command(render(x)) == x`.
#![forbid(unsafe_code)]

use crate::policy::model::{Args, CommandSpec};
use std::fmt;
use std::path::PathBuf;

/// A parsed command string: the path and the arguments it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub path: PathBuf,
    pub args: Args,
    /// The path ends in '/': a command directory (any command directly in
    /// it). `path` keeps the trailing '/'.
    pub dir: bool,
}

/// Why a command string was refused. `offset` is the byte offset inside
/// the command string where the problem starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CmdError {}

fn err(offset: usize, message: impl Into<String>) -> CmdError {
    CmdError {
        offset,
        message: message.into(),
    }
}

/// One word of a command string.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    text: String,
    /// Byte offset where the word starts.
    start: usize,
    /// True when any part of the word was quoted or escaped (so a `*`
    /// in it is literal).
    literal: bool,
}

/// Split a command string into words (see the module docs).
fn split(s: &str) -> Result<Vec<Word>, CmdError> {
    let mut words = Vec::new();
    let mut cur: Option<Word> = None;
    let mut quote_start: Option<usize> = None;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\0' {
            return Err(err(i, "NUL character in command"));
        }
        let in_quote = quote_start.is_some();
        if c.is_ascii_whitespace() && !in_quote {
            if let Some(w) = cur.take() {
                words.push(w);
            }
            continue;
        }
        let w = cur.get_or_insert_with(|| Word {
            text: String::new(),
            start: i,
            literal: false,
        });
        match c {
            '\\' => match chars.next() {
                Some((j, '\0')) => return Err(err(j, "NUL character in command")),
                Some((_, n)) => {
                    w.text.push(n);
                    w.literal = true;
                }
                None => return Err(err(i, "trailing backslash in command")),
            },
            '"' => {
                w.literal = true;
                quote_start = if in_quote { None } else { Some(i) };
            }
            c => w.text.push(c),
        }
    }
    if let Some(q) = quote_start {
        return Err(err(q, "unterminated double quote in command"));
    }
    if let Some(w) = cur.take() {
        words.push(w);
    }
    Ok(words)
}

/// Check that a command path is absolute and clean.
pub fn check_path(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!(
            "command path {p:?} is not absolute (must start with '/')"
        ));
    }
    if p.contains('\0') {
        return Err("NUL character in command path".to_string());
    }
    if p == "/" || p.ends_with('/') {
        return Err(format!("command path {p:?} names a directory"));
    }
    if p.split('/').any(|c| c == "." || c == "..") {
        return Err(format!("command path {p:?} has a '.' or '..' component"));
    }
    Ok(())
}

/// Parse one command string (see the module docs).
pub fn parse_command(s: &str) -> Result<CommandLine, CmdError> {
    let words = split(s)?;
    let Some((first, rest)) = words.split_first() else {
        return Err(err(0, "empty command"));
    };
    let dir = first.text.len() > 1 && first.text.ends_with('/') && !first.text.ends_with("//");
    let checked = if dir {
        &first.text[..first.text.len() - 1]
    } else {
        first.text.as_str()
    };
    check_path(checked).map_err(|m| err(first.start, m))?;
    let path = PathBuf::from(&first.text);
    let args = match rest {
        [] => Args::None,
        [only] if only.literal && only.text.is_empty() => Args::None,
        [init @ .., last] if !last.literal && last.text == "*" => {
            Args::Prefix(init.iter().map(|w| w.text.clone()).collect())
        }
        all => Args::Exact(all.iter().map(|w| w.text.clone()).collect()),
    };
    Ok(CommandLine { path, args, dir })
}

/// Quote one word so [`parse_command`] reads it back unchanged.
fn quote_word(w: &str, out: &mut String) {
    let plain = !w.is_empty()
        && w != "*"
        && !w
            .chars()
            .any(|c| c.is_ascii_whitespace() || c == '"' || c == '\\');
    if plain {
        out.push_str(w);
        return;
    }
    out.push('"');
    for c in w.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Write a command back in the policy's command syntax.
pub fn render_parts(path: &std::path::Path, args: &Args) -> String {
    let mut out = String::new();
    quote_word(&path.to_string_lossy(), &mut out);
    match args {
        Args::None => {}
        Args::Exact(v) => {
            for a in v {
                out.push(' ');
                quote_word(a, &mut out);
            }
        }
        Args::Prefix(v) => {
            for a in v {
                out.push(' ');
                quote_word(a, &mut out);
            }
            out.push_str(" *");
        }
    }
    out
}

/// Write a command entry back in the policy's command syntax (the digest
/// pin, if any, is not part of it).
pub fn render(spec: &CommandSpec) -> String {
    if spec.kind == crate::policy::model::CommandKind::All {
        return "ALL".to_string();
    }
    render_parts(&spec.path, &spec.args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> CommandLine {
        match parse_command(s) {
            Ok(c) => c,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    fn e(s: &str) -> CmdError {
        match parse_command(s) {
            Ok(c) => panic!("{s:?} parsed as {c:?}"),
            Err(e) => e,
        }
    }

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bare_path_is_no_arguments() {
        assert_eq!(
            p("/usr/bin/id"),
            CommandLine {
                path: "/usr/bin/id".into(),
                args: Args::None,
                dir: false,
            }
        );
        assert_eq!(p("  /usr/bin/id \t").args, Args::None);
        assert_eq!(p("/usr/bin/id \"\"").args, Args::None);
    }

    #[test]
    fn exact_and_prefix() {
        assert_eq!(
            p("/usr/bin/systemctl restart nginx.service").args,
            Args::Exact(v(&["restart", "nginx.service"]))
        );
        assert_eq!(p("/usr/bin/journalctl *").args, Args::Prefix(vec![]));
        assert_eq!(
            p("/usr/bin/systemctl status *").args,
            Args::Prefix(v(&["status"]))
        );
        // A * elsewhere is literal.
        assert_eq!(p("/bin/ls * -l").args, Args::Exact(v(&["*", "-l"])));
        // Quoted or escaped * is literal.
        assert_eq!(p("/bin/ls \"*\"").args, Args::Exact(v(&["*"])));
        assert_eq!(p("/bin/ls \\*").args, Args::Exact(v(&["*"])));
        assert_eq!(p("/bin/ls a*").args, Args::Exact(v(&["a*"])));
        assert_eq!(p("/bin/ls \"\" *").args, Args::Prefix(v(&[""])));
        assert_eq!(p("/bin/ls \"\" \"\"").args, Args::Exact(v(&["", ""])));
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(p("/bin/echo \"a b\" c").args, Args::Exact(v(&["a b", "c"])));
        assert_eq!(p("/bin/echo a\\ b").args, Args::Exact(v(&["a b"])));
        assert_eq!(p("/bin/echo \"a\\\"b\"").args, Args::Exact(v(&["a\"b"])));
        assert_eq!(p("/bin/echo x\"y z\"w").args, Args::Exact(v(&["xy zw"])));
        assert_eq!(p("/bin/echo \\\\").args, Args::Exact(v(&["\\"])));
        assert_eq!(p("/bin/echo é\u{a0}x").args, Args::Exact(v(&["é\u{a0}x"])));
        assert_eq!(
            p("\"/opt/my app/bin\" x").path,
            PathBuf::from("/opt/my app/bin")
        );
    }

    #[test]
    fn errors() {
        assert_eq!(e("").message, "empty command");
        assert_eq!(e("   ").message, "empty command");
        let x = e("/bin/echo a\\");
        assert!(x.message.contains("trailing backslash"), "{x:?}");
        assert_eq!(x.offset, 11);
        let x = e("/bin/echo \"abc");
        assert!(x.message.contains("unterminated"), "{x:?}");
        assert_eq!(x.offset, 10);
        assert!(e("bin/echo").message.contains("not absolute"));
        assert!(e("echo hi").message.contains("not absolute"));
        assert!(e("*").message.contains("not absolute"));
        assert!(e("/usr/bin/../bin/sh").message.contains("'..'"));
        assert!(e("/usr/./bin/sh").message.contains("'.'"));
        // A trailing '/' names a command directory; `/` itself names none.
        assert!(p("/usr/bin/").dir);
        assert!(!p("/usr/bin/id").dir);
        assert!(e("/usr/bin//").message.contains("directory"));
        assert!(e("/usr/../bin/").message.contains(".."));
        assert!(e("/").message.contains("directory"));
        assert!(e("/bin/x a\0b").message.contains("NUL"));
        assert!(e("/bin/x a\\\0").message.contains("NUL"));
    }

    #[test]
    fn render_round_trips_examples() {
        for s in [
            "/usr/bin/id",
            "/bin/ls *",
            "/bin/ls a \"b c\" *",
            "/bin/ls \"*\"",
            "/bin/x \"\" \"\"",
            "/bin/x \"a\\\"\\\\\"",
        ] {
            let c = p(s);
            let r = render_parts(&c.path, &c.args);
            assert_eq!(p(&r), c, "{s} -> {r}");
        }
        assert_eq!(
            render_parts(std::path::Path::new("/bin/ls"), &Args::Prefix(v(&["-l"]))),
            "/bin/ls -l *"
        );
    }

    proptest! {
        #[test]
        fn render_round_trips(
            path in "(/[a-z .\"\\\\]{1,5}){1,3}",
            args in proptest::collection::vec("[a-z *\"\\\\\t]{0,4}", 0..4),
            kind in 0u8..3,
        ) {
            prop_assume!(check_path(&path).is_ok());
            let args = match kind {
                0 => Args::None,
                1 if !args.is_empty() && args != vec![String::new()] => Args::Exact(args),
                1 => Args::None,
                _ => Args::Prefix(args),
            };
            let r = render_parts(std::path::Path::new(&path), &args);
            let c = parse_command(&r).map_err(|e| TestCaseError::fail(format!("{r:?}: {e}")))?;
            prop_assert_eq!(c, CommandLine { path: PathBuf::from(path), args, dir: false });
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse_command(&s);
        }
    }
}
