//! Process calls: fork, `_exit`, wait4 with resource usage, a signal's
//! default action, stopping as a stopped child did.

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::unistd::ForkResult;

/// The number of threads of this process (`/proc/self/stat`, field 20).
fn threads() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: count from its `)`.
    let rest = &s[s.rfind(')')? + 1..];
    rest.split_ascii_whitespace().nth(17)?.parse().ok()
}

/// fork(2), only from a single-threaded process (`EDEADLK` otherwise):
/// bdexec and bdctl never start a thread, and the check makes the
/// contract the code's, not the comment's.
pub fn fork() -> nix::Result<ForkResult> {
    if threads() != Some(1) {
        return Err(Errno::EDEADLK);
    }
    // SAFETY: the process has one thread (checked just above, and
    // nothing here starts one in between), so the child inherits no lock
    // held by another thread and may run any code.
    unsafe { nix::unistd::fork() }
}

/// `_exit(2)`: end now, without exit handlers or flushing inherited
/// buffers (a forked child's way out).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes an int and never returns.
    unsafe { libc::_exit(code) }
}

/// Run this process under `SCHED_IDLE`: it gets a CPU only when no
/// ordinary task wants one, and never preempts one (the haze
/// bookkeeping child: it must not delay its parent's last exit steps or
/// the caller's next process).
pub fn become_idle() -> nix::Result<()> {
    // SAFETY: sched_param is a plain C struct; all zeroes is a valid
    // value (priority 0, which SCHED_IDLE requires).
    let param: libc::sched_param = unsafe { std::mem::zeroed() };
    // The system call itself: musl's sched_setscheduler is ENOSYS by
    // design (a process-wide policy is not what Linux sets).
    // SAFETY: pid 0 is this process; the param is a valid, initialised
    // struct that the kernel only reads.
    let r = unsafe {
        libc::syscall(
            libc::SYS_sched_setscheduler,
            0,
            libc::SCHED_IDLE,
            &param as *const libc::sched_param,
        )
    };
    Errno::result(r).map(drop)
}

/// wait4(pid, WNOHANG | WUNTRACED) with resource usage: `None` when the
/// child has not changed.
pub fn wait4_nohang(pid: libc::pid_t) -> Option<(i32, libc::rusage)> {
    let mut st = 0;
    // SAFETY: rusage is plain old data; all zeroes is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 writes one int and one rusage, both ours.
    let r = unsafe { libc::wait4(pid, &mut st, libc::WNOHANG | libc::WUNTRACED, &mut ru) };
    (r == pid).then_some((st, ru))
}

/// Set `sig`'s disposition to the default (`SIG_DFL`).
pub fn default_disposition(sig: i32) -> nix::Result<()> {
    set_disposition(sig, Disposition::Default)
}

/// Deliver `sig` to this process with its default action: SIG_DFL,
/// raised, then unblocked (a blocked signal, sent then unblocked, acts
/// right away). Returns the signal mask as it was, to put back.
pub fn raise_default(sig: i32) -> SigSet {
    let mut one = SigSet::empty();
    let _ = default_disposition(sig);
    if let Ok(s) = Signal::try_from(sig) {
        one.add(s);
        let _ = nix::sys::signal::raise(s);
    }
    let mut old = SigSet::empty();
    let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&one), Some(&mut old));
    old
}

/// A child stopped by `sig`: stop this process too, as sudo does, so the
/// shell's job control sees the whole job stop: with the same signal
/// for SIGTSTP, SIGTTIN and SIGTTOU, SIGSTOP for any other. Returns once
/// continued (or at once when the kernel discards the stop, in an
/// orphaned process group), with the signal mask as it was; the caller
/// then continues its child.
pub fn stop_like(sig: i32) {
    let own = match sig {
        libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => sig,
        _ => libc::SIGSTOP,
    };
    // The process stops here until continued.
    let old = raise_default(own);
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_count_is_read() {
        // The test harness runs tests on threads: more than one.
        assert!(threads().is_some_and(|n| n >= 1));
    }

    #[test]
    fn fork_refused_when_threaded() {
        let t = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(300)));
        assert_eq!(fork().err(), Some(Errno::EDEADLK));
        t.join().unwrap();
    }

    #[test]
    fn wait4_nohang_of_no_child_is_none() {
        assert!(wait4_nohang(i32::MAX).is_none());
    }
}

/// What [`set_disposition`] installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Default,
    Ignore,
}

/// `sigaction(sig)` to SIG_DFL or SIG_IGN, empty mask, no flags. Errors
/// (SIGKILL, SIGSTOP, unused numbers) are returned for the caller to
/// ignore or not.
pub fn set_disposition(sig: i32, d: Disposition) -> nix::Result<()> {
    // SAFETY: a zeroed sigaction with SIG_DFL or SIG_IGN and an empty mask
    // is a valid argument; sigaction only reads it; no handler of ours
    // runs.
    let r = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = match d {
            Disposition::Default => libc::SIG_DFL,
            Disposition::Ignore => libc::SIG_IGN,
        };
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut())
    };
    Errno::result(r).map(drop)
}

/// This process's supplementary groups, getgroups(2) twice: once for the
/// count, once for the list. nix's `getgroups` sizes its buffer from
/// `sysconf(_SC_NGROUPS_MAX)`, which glibc answers by opening and reading
/// /proc/sys/kernel/ngroups_max on every call (two per bdexec call).
pub fn groups() -> nix::Result<Vec<nix::unistd::Gid>> {
    loop {
        // SAFETY: size 0 with a null list only returns the count.
        let n = Errno::result(unsafe { libc::getgroups(0, std::ptr::null_mut()) })?;
        let mut list: Vec<libc::gid_t> = vec![0; n as usize];
        // SAFETY: `list` has room for exactly `n` gid_t, the size passed;
        // the kernel writes at most that many.
        match Errno::result(unsafe { libc::getgroups(n, list.as_mut_ptr()) }) {
            Ok(got) => {
                list.truncate(got as usize);
                return Ok(list.into_iter().map(nix::unistd::Gid::from_raw).collect());
            }
            // The list grew in between (another thread's setgroups): again.
            Err(Errno::EINVAL) => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod groups_tests {
    #[test]
    fn groups_equal_nix() {
        let mut ours = super::groups().expect("getgroups");
        let mut theirs = nix::unistd::getgroups().expect("nix getgroups");
        ours.sort_by_key(|g| g.as_raw());
        theirs.sort_by_key(|g| g.as_raw());
        assert_eq!(ours, theirs);
    }
}
