//! Password authentication and account checks through PAM (service
//! `belladonna`, shipped as `packaging/pam.d/belladonna`).
//!
//! libpam is **not linked**: it is loaded with `dlopen("libpam.so.0")` the
//! first time a rule needs PAM. Linking it would make every bdexec call
//! map libpam, libaudit and libcap-ng (measured here: ~0.4-0.5 ms more per
//! exec, more than bdexec's whole hot path), although most rules never
//! ask for a password. bdexec carries file capabilities, so the dynamic
//! loader runs in secure mode (`AT_SECURE`): `LD_LIBRARY_PATH` and
//! friends are ignored and the soname is found through the system's
//! trusted directories only. The FFI surface is small (start, set_item,
//! authenticate, acct_mgmt, strerror, end and a conversation function)
//! and written by hand: see `docs/pam.md` for why not a binding crate.
//! The FFI itself is in src/sys/pam.rs; this module is the policy.
//!
//! The caller of [`authenticate`] runs with effective uid 0 and real uid
//! = the caller, like sudo; pam_unix then reads the shadow file itself.

#![forbid(unsafe_code)]

use super::source::PasswordSource;
use super::tty::{Secret, TtyPrompt};
use crate::sys::pam::{self as sys, ConvFailed, Conversation, Handle, Message};
use crate::sys::pam::{
    PAM_ACCT_EXPIRED, PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL, PAM_CONV_ERR, PAM_CRED_INSUFFICIENT,
    PAM_DISALLOW_NULL_AUTHTOK, PAM_MAXTRIES, PAM_NEW_AUTHTOK_REQD, PAM_PERM_DENIED, PAM_RUSER,
    PAM_SILENT, PAM_SUCCESS, PAM_TTY, PAM_USER_UNKNOWN,
};
use std::cell::RefCell;
use std::ffi::{CString, c_int};
use std::time::Duration;

/// The PAM service name (a compile-time constant; see
/// [`service_name`] for the test-only override).
pub const SERVICE: &str = "belladonna";

/// Default number of password tries per call.
pub const DEFAULT_TRIES: u32 = 3;

/// Delay after each wrong password (sudo's and pam_unix's ~2 s).
pub const FAIL_DELAY: Duration = Duration::from_secs(2);

/// Kept at this path for callers (`auth::pam::AuthError`); defined in
/// [`super::error`] so the terminal code does not import PAM.
pub use super::error::AuthError;

// ---- the C interface (Linux-PAM, <security/_pam_types.h>) ----

/// The PAM service to use: [`SERVICE`]. Builds with the `test-hooks`
/// feature (never release builds) honour `BELLADONNA_TEST_PAM_SERVICE`
/// so tests can use their own service file.
pub fn service_name() -> String {
    #[cfg(feature = "test-hooks")]
    if let Some(s) = std::env::var_os("BELLADONNA_TEST_PAM_SERVICE")
        .and_then(|v| v.into_string().ok())
        .filter(|s| crate::identity::valid_name(s))
    {
        return s;
    }
    SERVICE.to_string()
}

/// What the conversation function needs, and what it reports back.
struct Conv<'a> {
    prompt: &'a PasswordSource<'a>,
    /// The text shown instead of PAM's generic "Password: ".
    password_prompt: String,
    /// Set when the conversation failed on our side (no prompting
    /// allowed, terminal error, signal): authentication stops at once.
    failed: RefCell<Option<AuthError>>,
}

/// True for PAM's generic password prompts, which get our own text.
fn generic_password_prompt(text: &str) -> bool {
    text.trim()
        .trim_end_matches(':')
        .trim()
        .eq_ignore_ascii_case("password")
}

impl Conversation for Conv<'_> {
    type Answer = Secret;

    fn converse(&self, m: Message<'_>) -> Result<Option<Secret>, ConvFailed> {
        let answer = match m {
            Message::Prompt { echo: false, text } => {
                let shown = if generic_password_prompt(text) {
                    &self.password_prompt
                } else {
                    text
                };
                self.prompt.read_secret(shown).map(Some)
            }
            Message::Prompt { echo: true, text } => self.prompt.read_visible(text).map(Some),
            Message::Info { text, .. } => {
                self.prompt.message(text);
                Ok(None)
            }
        };
        answer.map_err(|e| {
            *self.failed.borrow_mut() = Some(e);
            ConvFailed
        })
    }

    fn nul_in_answer(&self) {
        *self.failed.borrow_mut() = Some(AuthError::Tty("answer contains a NUL byte".into()));
    }
}

/// Start a transaction for `user` with `conv`, PAM_RUSER set and PAM's
/// own failure delay off.
fn start<'c>(user: &str, conv: &'c Conv<'_>) -> Result<Handle<'c, Conv<'c>>, AuthError> {
    let service = CString::new(service_name())
        .map_err(|_| AuthError::Pam("service name contains NUL".into()))?;
    let cuser = CString::new(user).map_err(|_| AuthError::Pam("user name contains NUL".into()))?;
    // The conversation borrows the prompt for as long as the handle.
    let conv: &'c Conv<'c> = conv;
    let h = Handle::start(&service, &cuser, conv).map_err(|e| {
        if sys::lib().is_err() {
            AuthError::Unavailable(e)
        } else {
            AuthError::Pam(format!("pam_start({}): {e}", service.to_string_lossy()))
        }
    })?;
    set_str(&h, PAM_RUSER, user)?;
    h.set_no_delay()
        .map_err(|rc| AuthError::Pam(format!("pam_set_item(PAM_FAIL_DELAY): {}", h.error(rc))))?;
    Ok(h)
}

fn set_str(h: &Handle<'_, Conv<'_>>, item: c_int, value: &str) -> Result<(), AuthError> {
    let v = CString::new(value).map_err(|_| AuthError::Pam("PAM item contains NUL".into()))?;
    h.set_str(item, &v)
        .map_err(|rc| AuthError::Pam(format!("pam_set_item: {}", h.error(rc))))
}

fn account_result(h: &Handle<'_, Conv<'_>>, rc: c_int) -> Result<(), AuthError> {
    match rc {
        PAM_SUCCESS => Ok(()),
        PAM_ACCT_EXPIRED => Err(AuthError::AccountExpired),
        PAM_NEW_AUTHTOK_REQD => Err(AuthError::PasswordExpired),
        PAM_PERM_DENIED | PAM_AUTH_ERR | PAM_USER_UNKNOWN => {
            Err(AuthError::AccountRefused(h.error(rc)))
        }
        other => Err(AuthError::Pam(format!("account check: {}", h.error(other)))),
    }
}

/// The prompt bdexec shows for a password.
pub fn password_prompt(user: &str) -> String {
    format!("[bdexec] password for {user}: ")
}

/// Authenticate `user` (the caller, by name) through PAM, with up to
/// `tries` password prompts (0 counts as 1) on `tty`, then run PAM's
/// account stage (an expired account or password is refused even with
/// the right password). Each wrong password costs [`FAIL_DELAY`].
/// With [`TtyPrompt::none`] no prompt is shown and a module that needs a
/// password makes this fail with [`AuthError::PasswordRequired`].
///
/// Run with effective uid 0 (real uid = the caller).
pub fn authenticate(user: &str, tty: &TtyPrompt, tries: u32) -> Result<(), AuthError> {
    authenticate_from(user, &PasswordSource::Tty(tty), None, tries)
}

/// [`authenticate`] with the password from `source` (the terminal, `-S`
/// standard input, `-A` askpass) and `prompt` shown instead of
/// [`password_prompt`] for PAM's generic password prompt (`-p`). Only
/// the terminal is asked again after a wrong password.
pub fn authenticate_from(
    user: &str,
    source: &PasswordSource<'_>,
    prompt: Option<&str>,
    tries: u32,
) -> Result<(), AuthError> {
    let conv_state = Conv {
        prompt: source,
        password_prompt: prompt.map_or_else(|| password_prompt(user), str::to_string),
        failed: RefCell::new(None),
    };
    let tty = source;
    let mut h = start(user, &conv_state)?;
    if let Some(path) = tty.tty_path() {
        set_str(&h, PAM_TTY, path)?;
    }
    let tries = tries.max(1);
    let mut done = 0;
    loop {
        done += 1;
        let rc = h.authenticate(PAM_DISALLOW_NULL_AUTHTOK);
        if let Some(e) = conv_state.failed.borrow_mut().take() {
            return Err(e);
        }
        match rc {
            PAM_SUCCESS => break,
            PAM_AUTH_ERR
            | PAM_CRED_INSUFFICIENT
            | PAM_USER_UNKNOWN
            | PAM_AUTHINFO_UNAVAIL
            | PAM_MAXTRIES => {
                std::thread::sleep(FAIL_DELAY);
                // Without a terminal there is nothing to retry with.
                if rc == PAM_MAXTRIES || done >= tries || !tty.retries() {
                    return Err(AuthError::Failed { tries: done });
                }
                tty.message("Sorry, try again.");
            }
            PAM_CONV_ERR if !tty.interactive() => return Err(AuthError::PasswordRequired),
            other => return Err(AuthError::Pam(h.error(other))),
        }
    }
    let rc = h.acct_mgmt(0);
    account_result(&h, rc)
}

/// PAM's account stage alone (no prompt, silent): for rules that need no
/// password but must still refuse an expired or locked-out account.
pub fn account_ok(user: &str) -> Result<(), AuthError> {
    let none = TtyPrompt::none();
    let source = PasswordSource::Tty(&none);
    let conv_state = Conv {
        prompt: &source,
        password_prompt: password_prompt(user),
        failed: RefCell::new(None),
    };
    let mut h = start(user, &conv_state)?;
    let rc = h.acct_mgmt(PAM_SILENT);
    account_result(&h, rc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts() {
        assert!(generic_password_prompt("Password: "));
        assert!(generic_password_prompt("password:"));
        assert!(!generic_password_prompt("Verification code: "));
        assert_eq!(password_prompt("alice"), "[bdexec] password for alice: ");
        assert!(!service_name().is_empty());
    }

    #[test]
    fn messages_are_one_line() {
        for e in [
            AuthError::PasswordRequired,
            AuthError::Failed { tries: 3 },
            AuthError::Failed { tries: 1 },
            AuthError::AccountExpired,
            AuthError::NoTty("no controlling terminal".into()),
        ] {
            assert!(!e.to_string().contains('\n'));
        }
        assert!(
            AuthError::PasswordRequired
                .to_string()
                .contains("a password is required")
        );
        assert_eq!(
            AuthError::Failed { tries: 3 }.to_string(),
            "3 incorrect password attempts"
        );
    }
}
