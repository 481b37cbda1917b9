//! Where a password comes from: the one abstraction the PAM conversation
//! (src/auth/pam.rs, the `Conversation` of src/sys/pam.rs) asks.
//!
//! * [`PasswordSource::Tty`]: the controlling terminal (src/auth/tty.rs),
//!   or nowhere (`-n`, [`TtyPrompt::none`]);
//! * [`PasswordSource::Stdin`] (`-S`): one line from standard input,
//!   whatever it is (a pipe, or a terminal that is not the controlling
//!   one: Ansible gives bdexec a pty as stdin and no controlling
//!   terminal); the prompt and PAM's messages go to standard error,
//!   control characters escaped. Echo is turned off while reading when
//!   standard input is a terminal;
//! * [`PasswordSource::Askpass`] (`-A`): the first line a helper program
//!   prints, run as the caller without privilege (src/auth/askpass.rs).
//!
//! A source other than the terminal answers once: a wrong password ends
//! the call, it is not asked again (sudo -S reads the next line; a
//! program that wrote one password has no second one to give).
#![forbid(unsafe_code)]

use super::askpass::Askpass;
use super::error::AuthError;
use super::tty::{self, Secret, TtyPrompt};
use std::os::fd::AsFd;

/// Where the PAM conversation gets its answers and shows its messages.
#[derive(Debug)]
pub enum PasswordSource<'a> {
    /// The controlling terminal, or nowhere (`-n`).
    Tty(&'a TtyPrompt),
    /// `-S`: standard input, prompts on standard error.
    Stdin,
    /// `-A`: a helper program; PAM's messages on standard error.
    Askpass(Askpass),
}

/// One line from standard input, `prompt` on standard error.
fn stdin_line(prompt: &str, echo: bool) -> Result<Secret, AuthError> {
    let (input, output) = (std::io::stdin(), std::io::stderr());
    tty::read_line_on(
        input.as_fd(),
        output.as_fd(),
        "standard input",
        prompt,
        echo,
    )
}

impl PasswordSource<'_> {
    /// Show `prompt` and read the secret.
    pub fn read_secret(&self, prompt: &str) -> Result<Secret, AuthError> {
        match self {
            PasswordSource::Tty(t) => t.read_secret(prompt),
            PasswordSource::Stdin => non_empty(stdin_line(prompt, false)?),
            PasswordSource::Askpass(a) => a.ask(prompt),
        }
    }

    /// Show `prompt` and read an answer that may be echoed.
    pub fn read_visible(&self, prompt: &str) -> Result<Secret, AuthError> {
        match self {
            PasswordSource::Tty(t) => t.read_visible(prompt),
            PasswordSource::Stdin => stdin_line(prompt, true),
            PasswordSource::Askpass(a) => a.ask(prompt),
        }
    }

    /// Show one of PAM's messages (control characters escaped).
    pub fn message(&self, text: &str) {
        match self {
            PasswordSource::Tty(t) => t.message(text),
            PasswordSource::Stdin | PasswordSource::Askpass(_) => {
                let mut line = crate::base::escape::display(text.as_bytes()).into_bytes();
                line.push(b'\n');
                let _ = tty::write_all(std::io::stderr().as_fd(), &line);
            }
        }
    }

    /// True when this source may answer a prompt at all.
    pub fn interactive(&self) -> bool {
        match self {
            PasswordSource::Tty(t) => t.interactive(),
            PasswordSource::Stdin | PasswordSource::Askpass(_) => true,
        }
    }

    /// True when a wrong password may be asked for again.
    pub fn retries(&self) -> bool {
        match self {
            PasswordSource::Tty(t) => t.interactive(),
            PasswordSource::Stdin | PasswordSource::Askpass(_) => false,
        }
    }

    /// The terminal's path, for PAM_TTY.
    pub fn tty_path(&self) -> Option<&str> {
        match self {
            PasswordSource::Tty(t) => t.path(),
            PasswordSource::Stdin | PasswordSource::Askpass(_) => None,
        }
    }
}

/// An empty answer is no password: refused here, clearly, rather than
/// handed to PAM as a wrong one.
fn non_empty(s: Secret) -> Result<Secret, AuthError> {
    if s.as_bytes().is_empty() {
        Err(AuthError::Tty("empty line: no password given".into()))
    } else {
        Ok(s)
    }
}

/// sudo's prompt escapes: `%u` the caller, `%U` the target, `%h` the
/// host name, `%p` whose password is asked (the caller's: bdexec asks
/// for the caller's own), `%%` a percent sign; any other `%` stays. The
/// result is shown with control characters escaped (never raw terminal
/// escapes); everything else is kept byte for byte (Ansible matches the
/// prompt exactly).
pub fn expand_prompt(template: &[u8], caller: &str, target: &str, host: &str) -> String {
    let mut out = Vec::with_capacity(template.len() + 16);
    let mut it = template.iter().copied().peekable();
    while let Some(b) = it.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let with: Option<&[u8]> = match it.peek() {
            Some(b'u') | Some(b'p') => Some(caller.as_bytes()),
            Some(b'U') => Some(target.as_bytes()),
            Some(b'h') => Some(host.as_bytes()),
            Some(b'%') => Some(b"%"),
            _ => None,
        };
        match with {
            Some(v) => {
                it.next();
                out.extend_from_slice(v);
            }
            None => out.push(b'%'),
        }
    }
    crate::base::escape::display(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_escapes() {
        let e = |t: &str| expand_prompt(t.as_bytes(), "alice", "root", "web1");
        assert_eq!(
            e("[sudo via ansible, key=abc] password:"),
            "[sudo via ansible, key=abc] password:"
        );
        assert_eq!(
            e("%u as %U on %h (%p): "),
            "alice as root on web1 (alice): "
        );
        assert_eq!(e("100%% %x %"), "100% %x %");
        assert_eq!(e("\x1b[31mred\x07"), "\\x1b[31mred\\x07");
        assert_eq!(expand_prompt(b"a\xffb", "a", "b", "c"), "a\\xffb");
        // A value carrying escapes is escaped too.
        assert_eq!(expand_prompt(b"%h", "a", "b", "x\x1by"), "x\\x1by");
    }

    #[test]
    fn empty_answer_refused() {
        assert!(non_empty(Secret::from_vec(Vec::new())).is_err());
        assert!(non_empty(Secret::from_vec(b"pw".to_vec())).is_ok());
    }
}
