//! The policy: model, parsing, secure loading, matching, hashing, lint.
//!
//! - [`model`]: the policy as plain data (what the decision reads).
//! - [`parse`]: one TOML file -> a [`parse::PolicyFragment`], strict, with
//!   `file:line:col` errors; [`parse::merge`] joins main file and drop-ins.
//! - [`cmdline`]: the `commands = [...]` string syntax.
//! - [`load`]: the installed policy read through `secure_fs`, or a file
//!   given to `bdctl`.
//! - [`matcher`]: pure matching of principals, commands and arguments.
//! - [`hash`]: the canonical policy hash.
//! - [`lint`]: findings for `bdctl policy check`.
//!
//! [`PolicyError`] is the one error type of this layer.
#![forbid(unsafe_code)]

pub mod audit;
pub mod cache;
pub mod caller;
pub mod cmdline;
pub mod hash;
pub mod import;
pub mod index;
pub mod lint;
pub mod load;
pub mod lock;
pub mod matcher;
pub mod model;
pub mod names;
pub mod parse;
pub mod stamp;
pub mod syscalls;

use std::fmt;
use std::path::{Path, PathBuf};

/// What kind of failure a [`PolicyError`] is (for exit codes and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyErrorKind {
    /// The text is not a valid policy (syntax, unknown key, bad value).
    Invalid,
    /// A file or directory failed the secure-open checks (symlink, owner,
    /// writable by group or others, wrong file type).
    Insecure,
    /// The policy file does not exist.
    NotFound,
    /// Any other I/O failure (permission, read error, too large).
    Io,
}

/// An error loading or parsing a policy. Its `Display` is always one line:
/// `<file>:<line>:<col>: <message>`, or `<file>: <message>` when no
/// position applies. Control characters in the file name or message are
/// escaped, so a hostile file name or key cannot forge extra lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub kind: PolicyErrorKind,
    pub file: PathBuf,
    /// 1-based line and column (columns count characters, not bytes).
    pub pos: Option<(u32, u32)>,
    pub message: String,
}

impl PolicyError {
    /// An [`PolicyErrorKind::Invalid`] error at a position.
    pub fn at(file: &Path, line: u32, col: u32, message: impl Into<String>) -> Self {
        PolicyError {
            kind: PolicyErrorKind::Invalid,
            file: file.to_path_buf(),
            pos: Some((line, col)),
            message: message.into(),
        }
    }

    /// An error about a whole file (no position).
    pub fn file(kind: PolicyErrorKind, file: &Path, message: impl Into<String>) -> Self {
        PolicyError {
            kind,
            file: file.to_path_buf(),
            pos: None,
            message: message.into(),
        }
    }

    /// The message without the file and position.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Escape control characters so the text stays on one
/// line and cannot carry terminal escapes.
pub(crate) fn one_line(s: &str, out: &mut impl fmt::Write) -> fmt::Result {
    for c in s.chars() {
        if c.is_control() {
            match c {
                '\n' => out.write_str("\\n")?,
                '\t' => out.write_str("\\t")?,
                '\r' => out.write_str("\\r")?,
                c => write!(out, "\\u{{{:x}}}", c as u32)?,
            }
        } else {
            out.write_char(c)?;
        }
    }
    Ok(())
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        one_line(&self.file.to_string_lossy(), f)?;
        if let Some((line, col)) = self.pos {
            write!(f, ":{line}:{col}")?;
        }
        f.write_str(": ")?;
        one_line(&self.message, f)
    }
}

impl std::error::Error for PolicyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line() {
        let e = PolicyError::at(Path::new("/etc/x\n.toml"), 3, 7, "bad\nthing \u{1b}[31m");
        let s = e.to_string();
        assert!(!s.contains('\n'));
        assert!(!s.contains('\u{1b}'));
        assert_eq!(s, "/etc/x\\n.toml:3:7: bad\\nthing \\u{1b}[31m");
        let e = PolicyError::file(PolicyErrorKind::Io, Path::new("/p"), "gone");
        assert_eq!(e.to_string(), "/p: gone");
    }
}
