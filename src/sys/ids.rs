//! The id changes (`setresuid`, `setresgid`, `setgroups`).
//!
//! With glibc these are the C library's, which changes every thread of
//! the process (the twin runs PAM modules, which may start threads).
//! With musl (the static bdexec, docs/decisions.md section 20) they are
//! the system calls themselves: musl's wrappers stop every other thread
//! to change it too, blocking and restoring signals three times per call
//! although the static bdexec never starts a thread (no PAM, no NSS
//! modules, no threads of its own: DESIGN section 2).

/// Whether this process has one thread: /proc/self/task's link count is
/// 2 + the number of threads. The musl build checks it before each raw id
/// change in debug builds (the static test build of `make test-static`),
/// so a thread added to the static path fails the tests instead of
/// keeping root's ids unnoticed.
pub fn one_thread() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/task").map_or(true, |m| m.nlink() <= 3)
}

#[cfg(target_env = "gnu")]
pub use nix::unistd::{setgroups, setresgid, setresuid};

#[cfg(not(target_env = "gnu"))]
mod raw {
    use nix::errno::Errno;
    use nix::unistd::{Gid, Uid};

    /// One of the `setres*id(2)` system calls (`nr`) for this thread.
    fn setres(nr: libc::c_long, r: u32, e: u32, s: u32) -> nix::Result<()> {
        debug_assert!(
            super::one_thread(),
            "a raw id change with more than one thread"
        );
        // SAFETY: the system call takes three integers and touches no
        // memory of this process.
        let rc = unsafe { libc::syscall(nr, r, e, s) };
        Errno::result(rc).map(drop)
    }

    /// `setresuid(2)` for this thread, the process's only one.
    pub fn setresuid(r: Uid, e: Uid, s: Uid) -> nix::Result<()> {
        setres(libc::SYS_setresuid, r.as_raw(), e.as_raw(), s.as_raw())
    }

    /// `setresgid(2)` for this thread, the process's only one.
    pub fn setresgid(r: Gid, e: Gid, s: Gid) -> nix::Result<()> {
        setres(libc::SYS_setresgid, r.as_raw(), e.as_raw(), s.as_raw())
    }

    /// `setgroups(2)` for this thread, the process's only one.
    pub fn setgroups(groups: &[Gid]) -> nix::Result<()> {
        debug_assert!(
            super::one_thread(),
            "a raw id change with more than one thread"
        );
        let list: Vec<libc::gid_t> = groups.iter().map(|g| g.as_raw()).collect();
        // SAFETY: `list` holds `list.len()` gid_t values the kernel only
        // reads, alive for the call.
        let rc = unsafe { libc::syscall(libc::SYS_setgroups, list.len(), list.as_ptr()) };
        Errno::result(rc).map(drop)
    }
}

#[cfg(not(target_env = "gnu"))]
pub use raw::{setgroups, setresgid, setresuid};

#[cfg(test)]
mod tests {
    #[test]
    fn one_thread_sees_a_second_thread() {
        // This test's thread and the one started here: two at least (the
        // harness may run more; a single-thread answer cannot be tested
        // in it, the static suites of `make test-static` check that one).
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            let _ = rx.recv();
        });
        assert!(!super::one_thread(), "two threads at least");
        drop(tx);
        t.join().expect("join");
    }
}
