//! Password prompting on the caller's CONTROLLING terminal.
//!
//! The terminal is found from the kernel (`tty_nr` in /proc/self/stat),
//! never from fds 0-2, which the caller controls (a caller could hand
//! bdexec a pipe, another user's terminal or a file as stdin). The device
//! is opened with `O_NOFOLLOW | O_NOCTTY` **with the caller's own
//! effective ids** (`exec::privileges::as_caller`): a login leaves the
//! terminal owned by the user, mode 0620, group tty, and bdexec's
//! effective uid 0 without CAP_DAC_OVERRIDE is "other" to it; opening as
//! the caller also means bdexec never opens a terminal the caller could
//! not. It is verified on the open fd: a character device whose device
//! number is `tty_nr`, and whose session (`TIOCGSID`, which the kernel
//! answers only for the caller's own controlling terminal) is ours.
//!
//! Echo is turned off with termios while a secret is read, and restored on
//! every path: normal return, error, and the signals a user sends from the
//! keyboard or a session end (SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU,
//! SIGHUP, SIGTERM): these are caught while prompting, the terminal is
//! restored, the prompt fails with [`AuthError::Interrupted`], and the
//! previous dispositions are put back. A prompt times out after
//! [`PROMPT_TIMEOUT`].
//!
//! [`TtyPrompt::none`] (for `bdexec -n`) never prompts: any request for
//! input fails with [`AuthError::PasswordRequired`].

#![cfg_attr(not(test), forbid(unsafe_code))]

use super::error::AuthError;
use crate::sys::mem::wipe;
use nix::sys::signal::Signal;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

/// How long one prompt waits for the user (sudo's `passwd_timeout`).
pub const PROMPT_TIMEOUT: Duration = Duration::from_secs(300);

/// Longest accepted answer (bytes); longer input is refused, not truncated.
pub const MAX_ANSWER: usize = 1024;

/// A secret read from the terminal. Overwritten with zeros when dropped.
pub struct Secret(Vec<u8>);

impl Secret {
    /// Take `v` as a secret (wiped when dropped).
    pub(super) fn from_vec(v: Vec<u8>) -> Secret {
        Secret(v)
    }

    /// The bytes (without the final newline).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Secret {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Where prompts go: the controlling terminal, or nowhere (`-n`).
#[derive(Debug)]
pub struct TtyPrompt {
    tty: Option<Tty>,
}

#[derive(Debug)]
struct Tty {
    fd: OwnedFd,
    path: String,
}

/// `tty_nr` and session id of this process, from /proc/self/stat.
pub(crate) fn self_stat_tty() -> Option<(u32, i32)> {
    // Fields after the name: state ppid pgrp session tty_nr ...
    let f = crate::base::procfs::stat_fields("/proc/self/stat")?;
    let sid: i32 = f.get(3)?.parse().ok()?;
    let tty_nr: u32 = f.get(4)?.parse().ok()?;
    Some((tty_nr, sid))
}

pub(crate) use crate::base::procfs::decode_tty_nr;

/// The device path for a terminal number, for the usual terminals.
fn tty_path(major: u32, minor: u32) -> Option<String> {
    match major {
        136..=143 => Some(format!("/dev/pts/{}", (major - 136) * 256 + minor)),
        4 if minor < 64 => Some(format!("/dev/tty{minor}")),
        4 => Some(format!("/dev/ttyS{}", minor - 64)),
        _ => None,
    }
}

/// Open a terminal device with the caller's effective ids (see the
/// module docs). The outer error: the ids could not be switched; the
/// inner one: the open failed.
fn open_as_caller(path: &str) -> Result<Result<OwnedFd, nix::Error>, AuthError> {
    use nix::fcntl::OFlag;
    crate::exec::privileges::as_caller(|| {
        nix::fcntl::open(
            path,
            OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
    })
    .map_err(|e| AuthError::Tty(format!("{path}: opening as the caller: {e}")))
}

/// `/dev/tty` opened as the caller: the kernel resolves it to the
/// controlling terminal itself (its fstat shows /dev/tty's own device
/// number, so the caller of this checks the session and `tty_nr` instead).
fn open_dev_tty() -> Result<OwnedFd, AuthError> {
    open_as_caller("/dev/tty")?.map_err(|e| no_tty(&format!("/dev/tty: {}", e.desc())))
}

/// The session id the kernel has for the terminal on `fd`; fails unless
/// it is the calling process's controlling terminal.
fn tty_sid(fd: &OwnedFd) -> Result<i32, nix::Error> {
    crate::sys::term::session_of(fd)
}

fn no_tty(why: &str) -> AuthError {
    AuthError::NoTty(why.to_string())
}

impl TtyPrompt {
    /// Open and verify the controlling terminal. Fails with
    /// [`AuthError::NoTty`] when the process has none.
    pub fn open() -> Result<TtyPrompt, AuthError> {
        let (tty_nr, sid) = self_stat_tty().ok_or_else(|| no_tty("cannot read /proc/self/stat"))?;
        if tty_nr == 0 {
            return Err(no_tty("no controlling terminal to ask for a password on"));
        }
        let (major, minor) = decode_tty_nr(tty_nr);
        // The device named by the kernel's number; where it has no usual
        // name, or the caller may not open it by name (a terminal still
        // owned by the login user after `su`, mode 0620), /dev/tty, which
        // the kernel resolves to the controlling terminal itself.
        let (fd, path, check_rdev) = match tty_path(major, minor) {
            Some(p) => match open_as_caller(&p)? {
                Ok(fd) => (fd, p, true),
                Err(nix::Error::EACCES) | Err(nix::Error::EPERM) => (open_dev_tty()?, p, false),
                Err(e) => return Err(no_tty(&format!("{p}: {}", e.desc()))),
            },
            None => (open_dev_tty()?, "/dev/tty".to_string(), false),
        };
        let st = nix::sys::stat::fstat(&fd)
            .map_err(|e| no_tty(&format!("{path}: fstat: {}", e.desc())))?;
        if st.st_mode & libc::S_IFMT != libc::S_IFCHR {
            return Err(no_tty(&format!("{path}: not a character device")));
        }
        if check_rdev && (libc::major(st.st_rdev) != major || libc::minor(st.st_rdev) != minor) {
            return Err(no_tty(&format!(
                "{path}: is not the controlling terminal (device number differs)"
            )));
        }
        match tty_sid(&fd) {
            Ok(s) if s == sid => {}
            Ok(_) | Err(_) => {
                return Err(no_tty(&format!(
                    "{path}: is not this session's controlling terminal"
                )));
            }
        }
        if !nix::unistd::isatty(&fd).unwrap_or(false) {
            return Err(no_tty(&format!("{path}: not a terminal")));
        }
        // Through /dev/tty: still the terminal `tty_nr` named (the session
        // leader could have changed it in between).
        if !check_rdev && self_stat_tty().map(|(nr, _)| nr) != Some(tty_nr) {
            return Err(no_tty(&format!(
                "{path}: the controlling terminal changed while it was opened"
            )));
        }
        Ok(TtyPrompt {
            tty: Some(Tty { fd, path }),
        })
    }

    /// A prompt that never asks (`bdexec -n`): any password request fails
    /// with [`AuthError::PasswordRequired`].
    pub fn none() -> TtyPrompt {
        TtyPrompt { tty: None }
    }

    /// True when this prompt may ask the user.
    pub fn interactive(&self) -> bool {
        self.tty.is_some()
    }

    /// The terminal's path (for PAM_TTY and records), if any.
    pub fn path(&self) -> Option<&str> {
        self.tty.as_ref().map(|t| t.path.as_str())
    }

    /// Show `prompt` and read one line without echo.
    pub fn read_secret(&self, prompt: &str) -> Result<Secret, AuthError> {
        self.read_line(prompt, false)
    }

    /// Show `prompt` and read one line with echo (PAM_PROMPT_ECHO_ON).
    pub fn read_visible(&self, prompt: &str) -> Result<Secret, AuthError> {
        self.read_line(prompt, true)
    }

    /// Print a line (PAM's info and error messages), control characters
    /// escaped. Best effort; does nothing for [`TtyPrompt::none`].
    pub fn message(&self, text: &str) {
        if let Some(t) = &self.tty {
            let mut line = crate::base::escape::display(text.as_bytes()).into_bytes();
            line.push(b'\n');
            let _ = write_all(t.fd.as_fd(), &line);
        }
    }

    fn read_line(&self, prompt: &str, echo: bool) -> Result<Secret, AuthError> {
        let Some(t) = &self.tty else {
            return Err(AuthError::PasswordRequired);
        };
        read_line_on(t.fd.as_fd(), t.fd.as_fd(), &t.path, prompt, echo)
    }
}

/// Write `prompt` (control characters escaped) to `output` and read one
/// line from `input`, with echo off while a secret is read when `input`
/// is a terminal, restored on every path, and the prompt signals caught
/// (module docs). `label` names the input in errors. The terminal
/// prompt and `-S` (standard input, prompt on standard error) share it.
pub(super) fn read_line_on(
    input: BorrowedFd<'_>,
    output: BorrowedFd<'_>,
    label: &str,
    prompt: &str,
    echo: bool,
) -> Result<Secret, AuthError> {
    let guard = SignalGuard::install();
    let is_tty = nix::unistd::isatty(input).unwrap_or(false);
    let result = (|| {
        let _restore = if echo || !is_tty {
            None
        } else {
            Some(EchoOff::new(input, label)?)
        };
        write_all(
            output,
            crate::base::escape::display(prompt.as_bytes()).as_bytes(),
        )
        .map_err(|e| AuthError::Tty(format!("{label}: write: {}", e.desc())))?;
        let r = read_until_newline(input, label);
        if r.is_err() && _restore.is_some() {
            // The user's Enter was not echoed either: end the line.
            let _ = write_all(output, b"\n");
        }
        r
        // `_restore` drops here: echo back on before anything else.
    })();
    drop(guard);
    result
}

pub(super) fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> Result<(), nix::Error> {
    while !buf.is_empty() {
        match nix::unistd::write(fd, buf) {
            Ok(0) => return Err(nix::Error::EIO),
            Ok(n) => buf = buf.get(n..).unwrap_or_default(),
            Err(nix::Error::EINTR) => {
                if pending_signal().is_some() {
                    return Err(nix::Error::EINTR);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn read_until_newline(fd: BorrowedFd<'_>, path: &str) -> Result<Secret, AuthError> {
    let mut out = Secret(Vec::with_capacity(64));
    let start = Instant::now();
    loop {
        if let Some(sig) = pending_signal() {
            return Err(AuthError::Interrupted(sig));
        }
        if start.elapsed() >= PROMPT_TIMEOUT {
            return Err(AuthError::Tty(format!(
                "timed out after {} s waiting for a password",
                PROMPT_TIMEOUT.as_secs()
            )));
        }
        // Short polls so a signal is noticed even when another thread of
        // the process took it (bdexec is single-threaded; tests are not).
        let mut pfd = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
        match nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(200u16)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(e) => {
                if e == nix::Error::EINTR {
                    continue;
                }
                return Err(AuthError::Tty(format!("{path}: poll: {}", e.desc())));
            }
        }
        let mut b = [0u8; 1];
        match nix::unistd::read(fd, &mut b) {
            // A last line without its newline still counts (`printf pw |`).
            Ok(0) if !out.0.is_empty() => return Ok(out),
            Ok(0) => return Err(AuthError::Tty(format!("{path}: end of input"))),
            Ok(_) => {
                let c = std::mem::take(&mut b[0]);
                if c == b'\n' || c == b'\r' {
                    return Ok(out);
                }
                if out.0.len() >= MAX_ANSWER {
                    return Err(AuthError::Tty("answer too long".into()));
                }
                out.0.push(c);
            }
            Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => continue,
            Err(e) => return Err(AuthError::Tty(format!("{path}: read: {}", e.desc()))),
        }
    }
}

/// Echo off (keeping the echo of the final newline) until dropped.
struct EchoOff<'a> {
    fd: BorrowedFd<'a>,
    saved: nix::sys::termios::Termios,
}

impl<'a> EchoOff<'a> {
    fn new(fd: BorrowedFd<'a>, path: &str) -> Result<EchoOff<'a>, AuthError> {
        use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
        let saved = tcgetattr(fd)
            .map_err(|e| AuthError::Tty(format!("{path}: tcgetattr: {}", e.desc())))?;
        let mut t = saved.clone();
        t.local_flags
            .remove(LocalFlags::ECHO | LocalFlags::ECHOE | LocalFlags::ECHOK);
        t.local_flags
            .insert(LocalFlags::ECHONL | LocalFlags::ICANON);
        match tcsetattr(fd, SetArg::TCSAFLUSH, &t) {
            Ok(()) => {}
            Err(nix::Error::EINTR) => {
                // SIGTTOU (background process group) or a user signal.
                let sig = pending_signal().unwrap_or(libc::SIGTTOU);
                return Err(AuthError::Interrupted(sig));
            }
            Err(e) => return Err(AuthError::Tty(format!("{path}: tcsetattr: {}", e.desc()))),
        }
        Ok(EchoOff { fd, saved })
    }
}

impl Drop for EchoOff<'_> {
    fn drop(&mut self) {
        use nix::sys::termios::{SetArg, tcsetattr};
        // Retry on EINTR: the terminal must not be left without echo.
        for _ in 0..100 {
            match tcsetattr(self.fd, SetArg::TCSAFLUSH, &self.saved) {
                Err(nix::Error::EINTR) => continue,
                _ => break,
            }
        }
    }
}

fn pending_signal() -> Option<i32> {
    crate::sys::signal::caught()
}

/// Signals that end a prompt (the terminal is restored first).
const PROMPT_SIGNALS: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGHUP,
    Signal::SIGTERM,
];

/// Catch [`PROMPT_SIGNALS`] (no SA_RESTART) until dropped, then put the
/// old dispositions back.
struct SignalGuard {
    old: Vec<crate::sys::signal::Saved>,
}

impl SignalGuard {
    fn install() -> SignalGuard {
        crate::sys::signal::reset_caught();
        let old = PROMPT_SIGNALS
            .iter()
            .filter_map(|s| crate::sys::signal::catch_into_flag(*s).ok())
            .collect();
        SignalGuard { old }
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        for saved in self.old.drain(..) {
            crate::sys::signal::restore(saved);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tty_numbers() {
        // /dev/pts/3: major 136, minor 3.
        assert_eq!(decode_tty_nr((136 << 8) | 3), (136, 3));
        assert_eq!(tty_path(136, 3).as_deref(), Some("/dev/pts/3"));
        // /dev/pts/300: major 137, minor 44.
        assert_eq!(tty_path(137, 44).as_deref(), Some("/dev/pts/300"));
        // minor above 255 uses the high bits.
        let nr = (136 << 8) | (0x1200 << 12) | 0x34;
        assert_eq!(decode_tty_nr(nr), (136, 0x1234));
        assert_eq!(tty_path(4, 1).as_deref(), Some("/dev/tty1"));
        assert_eq!(tty_path(4, 64).as_deref(), Some("/dev/ttyS0"));
        assert_eq!(tty_path(5, 0), None);
    }

    #[test]
    fn none_never_prompts() {
        let p = TtyPrompt::none();
        assert!(!p.interactive());
        assert!(matches!(
            p.read_secret("x: "),
            Err(AuthError::PasswordRequired)
        ));
        p.message("nothing happens");
    }

    #[test]
    fn secret_wiped() {
        let mut v = vec![1u8, 2, 3];
        wipe(&mut v);
        assert_eq!(v, [0, 0, 0]);
        assert_eq!(format!("{:?}", Secret(b"pw".to_vec())), "Secret(..)");
    }
}
