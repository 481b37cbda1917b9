//! `-b` / `--background` (issue 14): the command runs in the
//! background and the caller's bdexec returns 0 once its accept record
//! is durable.
//!
//! [`detach`] forks before the record. The parent (the caller's bdexec)
//! waits on a pipe: one byte from the child means the accept record is
//! durable and the parent exits 0; the pipe closing without it means the
//! child refused (it printed its own line and wrote its own record), and
//! the parent exits with the child's status. The child leaves the
//! caller's session and process group (setsid: no terminal signals, no
//! job control) and goes on through the record and the launch, where
//! monitor mode (always on with -b) records the command's exit. The
//! accept and exit records come from the same process, as without -b.
#![forbid(unsafe_code)]

use super::{Refusal, exit};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::ForkResult;
use std::os::fd::OwnedFd;

/// The child's side: tells the waiting parent the record is durable.
pub(super) struct Detached {
    notify: Option<OwnedFd>,
}

/// Without `-b`: nothing. With it: fork; only the child returns.
pub(super) fn detach(background: bool) -> Result<Detached, Refusal> {
    if !background {
        return Ok(Detached { notify: None });
    }
    let refuse = |what: &str, e: nix::Error| {
        Refusal::unrecorded(
            exit::EXEC,
            "-b: not run",
            format!("-b: {what}: {}, nothing was run", e.desc()),
        )
    };
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| refuse("pipe", e))?;
    match crate::sys::proc::fork().map_err(|e| refuse("fork", e))? {
        ForkResult::Parent { child } => {
            drop(w);
            let mut b = [0u8; 1];
            let started = loop {
                match nix::unistd::read(&r, &mut b) {
                    Err(nix::Error::EINTR) => continue,
                    Ok(1) => break true,
                    _ => break false,
                }
            };
            if started {
                crate::sys::proc::exit_now(0);
            }
            // The child refused and said why: its status is ours.
            let code = loop {
                match waitpid(child, None) {
                    Err(nix::Error::EINTR) => continue,
                    Ok(WaitStatus::Exited(_, c)) => break c,
                    _ => break exit::INTERNAL,
                }
            };
            crate::sys::proc::exit_now(code)
        }
        ForkResult::Child => {
            drop(r);
            nix::unistd::setsid().map_err(|e| refuse("setsid", e))?;
            Ok(Detached { notify: Some(w) })
        }
    }
}

impl Detached {
    /// The accept record is durable: the caller's bdexec may return 0.
    pub(super) fn accepted(self) {
        if let Some(w) = self.notify {
            let _ = nix::unistd::write(&w, b"\0");
        }
    }
}
