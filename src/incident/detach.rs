//! Haze (docs/incident-response.md): incident bookkeeping done after the
//! caller has its answer. A refusal prints its line, then forks a child
//! that does the bookkeeping and exits, while the parent returns to exit
//! at once: the caller's wall time holds the fork for a denial and for a
//! decoy hit alike, never the alarm's state files, the counters or a
//! deferred alert record.

#![allow(unsafe_code)]

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::ForkResult;

/// Run `work` in a detached child (stdio on `/dev/null`, its own
/// session), or here when no child can be made (towards recording).
pub fn after_answer(work: impl FnOnce()) {
    // SAFETY: bdexec is single-threaded on every refusal path (no thread
    // is ever spawned; PAM modules run in the same thread), so the child
    // may allocate and do file I/O after fork; it never returns into the
    // caller's pipeline: it ends with `_exit`.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => {
            if let Ok(null) = nix::fcntl::open("/dev/null", OFlag::O_RDWR, Mode::empty()) {
                for fd in 0..3 {
                    // SAFETY: dup2 onto the standard descriptors of this
                    // process; `null` stays open until `_exit`.
                    unsafe {
                        libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), fd);
                    }
                }
            }
            let _ = nix::unistd::setsid();
            work();
            // SAFETY: ends the child without running the parent's exit
            // handlers or flushing buffers it inherited.
            unsafe { libc::_exit(0) }
        }
        Ok(ForkResult::Parent { .. }) => {}
        Err(_) => work(),
    }
}
