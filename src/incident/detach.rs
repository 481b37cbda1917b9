//! Haze (docs/incident-response.md): incident bookkeeping done after the
//! caller has its answer. A refusal prints its line, then forks a child
//! that does the bookkeeping and exits, while the parent returns to exit
//! at once: the caller's wall time holds the fork for a denial and for a
//! decoy hit alike, never the alarm's state files, the counters or a
//! deferred alert record.
//!
//! The child starts its work only once the parent has exited (it waits
//! for the end of a pipe only the parent holds, at most
//! [`PARENT_WAIT_MS`]): on a busy machine a child working at once would
//! compete with its own parent's last steps (exit, teardown) for the
//! CPU, and a decoy hit's heavier bookkeeping would then show as a
//! longer wall time than a denial's.

#![forbid(unsafe_code)]

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::ForkResult;
use std::os::fd::{AsFd, OwnedFd};

/// How long the detached child waits for its parent to exit before it
/// does the bookkeeping anyway (the parent exits right after the fork;
/// this bounds the wait when something else holds the pipe).
pub const PARENT_WAIT_MS: u16 = 5000;

/// How long the detached child waits after its parent's exit before
/// its bookkeeping starts.
pub const AFTER_EXIT_MS: u64 = 20;

/// Run `work` in a detached child (stdio on `/dev/null`, its own
/// session), or here when no child can be made (towards recording).
pub fn after_answer(work: impl FnOnce()) {
    // bdexec is single-threaded on every refusal path (no thread is ever
    // spawned; PAM modules run in the same thread; sys::proc::fork checks
    // it), so the child may allocate and do file I/O; it never returns
    // into the caller's pipeline: it ends with `_exit`.
    // The parent's end closes when the parent exits (close-on-exec, and
    // the parent never writes to it).
    let gate = nix::unistd::pipe2(OFlag::O_CLOEXEC).ok();
    match crate::sys::proc::fork() {
        Ok(ForkResult::Child) => {
            // Never compete with the parent's last steps or the caller's
            // next process for a CPU (best effort).
            let _ = crate::sys::proc::become_idle();
            // The caller's pipes first: they must close when the parent
            // exits, not when this child wakes up after it.
            if let Ok(null) = nix::fcntl::open("/dev/null", OFlag::O_RDWR, Mode::empty()) {
                let _ = nix::unistd::dup2_stdin(&null);
                let _ = nix::unistd::dup2_stdout(&null);
                let _ = nix::unistd::dup2_stderr(&null);
            }
            if let Some((rx, tx)) = gate {
                drop(tx);
                wait_for_parent(&rx);
            }
            // The parent's files close before it has fully exited and its
            // caller has been told: a child starting at once (system
            // calls on the other CPU, not preemptible everywhere) still
            // showed in the caller's wall time, more for a decoy hit's
            // heavier bookkeeping. Let the caller see the exit first.
            std::thread::sleep(std::time::Duration::from_millis(AFTER_EXIT_MS));
            let _ = nix::unistd::setsid();
            work();
            // Without the parent's exit handlers or its buffers.
            crate::sys::proc::exit_now(0)
        }
        Ok(ForkResult::Parent { .. }) => {}
        Err(_) => work(),
    }
}

/// Block until every write end of the pipe is closed (the parent has
/// exited) or [`PARENT_WAIT_MS`] passed.
fn wait_for_parent(rx: &OwnedFd) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(rx.as_fd(), PollFlags::POLLIN)];
    // POLLHUP once the last writer is gone; EINTR or an error: go on.
    let _ = poll(&mut fds, PollTimeout::from(PARENT_WAIT_MS));
}
