//! The error of the authentication layer (PAM and the terminal prompt),
//! below both `pam` and `tty` so neither imports the other for it.
#![forbid(unsafe_code)]

use std::fmt;

/// Why authentication or the account check failed. `Display` is one line
/// fit for `bdexec: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// A password is needed but prompting is not allowed (`-n`).
    PasswordRequired,
    /// No usable controlling terminal.
    NoTty(String),
    /// The terminal failed while prompting (I/O error, end of input,
    /// timeout, answer too long).
    Tty(String),
    /// A signal (SIGINT, SIGTSTP, ...) ended the prompt; the terminal was
    /// restored.
    Interrupted(i32),
    /// Every try had a wrong password.
    Failed { tries: u32 },
    /// The account has expired.
    AccountExpired,
    /// The password has expired and must be changed first.
    PasswordExpired,
    /// PAM's account stage refused the account for another reason.
    AccountRefused(String),
    /// libpam could not be loaded.
    Unavailable(String),
    /// Any other PAM failure (configuration, system error).
    Pam(String),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::PasswordRequired => {
                f.write_str("a password is required (and -n forbids asking for one)")
            }
            AuthError::NoTty(m) => write!(f, "a password is required, but {m}"),
            AuthError::Tty(m) => write!(f, "password prompt failed: {m}"),
            AuthError::Interrupted(sig) => {
                write!(f, "password prompt interrupted by signal {sig}")
            }
            AuthError::Failed { tries } => {
                let s = if *tries == 1 { "" } else { "s" };
                write!(f, "{tries} incorrect password attempt{s}")
            }
            AuthError::AccountExpired => f.write_str("account has expired"),
            AuthError::PasswordExpired => {
                f.write_str("password has expired; change it (passwd) and try again")
            }
            AuthError::AccountRefused(m) => write!(f, "account not available: {m}"),
            AuthError::Unavailable(m) => write!(f, "PAM is not available: {m}"),
            AuthError::Pam(m) => write!(f, "PAM error: {m}"),
        }
    }
}

impl std::error::Error for AuthError {}
