//! Haze (docs/incident-response.md): incident bookkeeping done after the
//! caller has its answer. A refusal prints its line, then forks a child
//! that does the bookkeeping and exits, while the parent returns to exit
//! at once: the caller's wall time holds the fork for a denial and for a
//! decoy hit alike, never the alarm's state files, the counters or a
//! deferred alert record.

#![forbid(unsafe_code)]

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::ForkResult;

/// Run `work` in a detached child (stdio on `/dev/null`, its own
/// session), or here when no child can be made (towards recording).
pub fn after_answer(work: impl FnOnce()) {
    // bdexec is single-threaded on every refusal path (no thread is ever
    // spawned; PAM modules run in the same thread; sys::proc::fork checks
    // it), so the child may allocate and do file I/O; it never returns
    // into the caller's pipeline: it ends with `_exit`.
    match crate::sys::proc::fork() {
        Ok(ForkResult::Child) => {
            if let Ok(null) = nix::fcntl::open("/dev/null", OFlag::O_RDWR, Mode::empty()) {
                let _ = nix::unistd::dup2_stdin(&null);
                let _ = nix::unistd::dup2_stdout(&null);
                let _ = nix::unistd::dup2_stderr(&null);
            }
            let _ = nix::unistd::setsid();
            work();
            // Without the parent's exit handlers or its buffers.
            crate::sys::proc::exit_now(0)
        }
        Ok(ForkResult::Parent { .. }) => {}
        Err(_) => work(),
    }
}
