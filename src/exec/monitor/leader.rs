//! The pty session's leader (monitor mode with a pty, as sudo does it):
//! a small root process between the monitor and the command, so that the
//! command's process group is not orphaned and the pty's job control
//! (Ctrl-Z, background reads and writes) works.
//!
//! Why: a stop signal that a terminal generates for an orphaned process
//! group is discarded by the kernel. A group is orphaned when no member
//! has a parent in another group of the same session. The monitor is in
//! the caller's session, so if the command led the pty's session itself
//! its group would be orphaned and Ctrl-Z typed into the pty would do
//! nothing.
//!
//! The monitor's child ([`split`], root, before the id switch) makes the
//! new session with the pty as its controlling terminal and forks again:
//!
//! * the grandchild, the command, makes its own process group, makes it
//!   the pty's foreground group and returns to the ordinary pipeline
//!   (id switch, confinement, exec), exactly as the monitor's child does
//!   without a pty;
//! * the child stays as the session leader ([`lead`]): non-dumpable,
//!   every fd closed but the pty's slave (to give the foreground back),
//!   its signalfd and the report pipe to the monitor, only `CAP_SETUID`
//!   left permitted (for [`super::kill_as`]), parent-death signal
//!   SIGKILL. It waits for the command with `WUNTRACED`:
//!   - the command stops: it reports the signal to the monitor and stops
//!     itself with SIGSTOP (its own group is orphaned, so a job-control
//!     stop would be discarded); the monitor sees it stop, reads the
//!     command's signal and stops with that one (the caller's shell says
//!     "Stopped"). Continued by the monitor, it makes the command's group
//!     the pty's foreground again and continues it;
//!   - a signal reaches it (relayed by the monitor, or SIGHUP when the pty
//!     hangs up): it relays it to the command's process group, as sudo
//!     does, unless a process of the pty's session sent it;
//!   - the command ends: it reports the exact wait status and resource
//!     usage and exits, so the exit record and bdexec's exit status are
//!     the command's.
//!
//! If the monitor dies (only root can kill it), the leader gets SIGKILL
//! (parent-death signal, re-armed after every euid change, which clears
//! it). If the leader dies, the kernel sends SIGHUP to the pty's
//! foreground group (a session leader's exit, as when a login shell's
//! terminal goes away) and, if a stopped group is orphaned by it,
//! SIGHUP and SIGCONT: the command gets SIGHUP. A parent-death signal
//! cannot replace that: the id switch clears it, and the leader (no
//! CAP_KILL) could not send it to another user's command anyway.
//!
//! The report pipe carries fixed-size messages (under `PIPE_BUF`, so each
//! write is atomic): the command's pid first, then each stop's signal,
//! then the end.
#![forbid(unsafe_code)]

use super::{RELAYED, Usage};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// The size of one report.
pub const REPORT_LEN: usize = 32;

/// What the leader tells the monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// The command's pid (its process group too).
    Started(i32),
    /// The command stopped with this signal.
    Stopped(i32),
    /// The command ended: its wait status and resource usage.
    Ended(i32, Usage),
}

impl Report {
    pub fn encode(&self) -> [u8; REPORT_LEN] {
        let (kind, v, u) = match *self {
            Report::Started(p) => (b'P', p, Usage::default()),
            Report::Stopped(s) => (b'S', s, Usage::default()),
            Report::Ended(st, u) => (b'E', st, u),
        };
        let mut b = [0u8; REPORT_LEN];
        b[0] = kind;
        b[4..8].copy_from_slice(&v.to_le_bytes());
        b[8..16].copy_from_slice(&u.maxrss_kb.to_le_bytes());
        b[16..24].copy_from_slice(&u.utime_us.to_le_bytes());
        b[24..32].copy_from_slice(&u.stime_us.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<Report> {
        let b: &[u8; REPORT_LEN] = b.try_into().ok()?;
        let i32_at = |i: usize| b.get(i..i + 4)?.try_into().ok().map(i32::from_le_bytes);
        let u64_at = |i: usize| b.get(i..i + 8)?.try_into().ok().map(u64::from_le_bytes);
        let v = i32_at(4)?;
        match b[0] {
            b'P' if v > 0 => Some(Report::Started(v)),
            b'S' => Some(Report::Stopped(v)),
            b'E' => Some(Report::Ended(
                v,
                Usage {
                    maxrss_kb: u64_at(8)?,
                    utime_us: u64_at(16)?,
                    stime_us: u64_at(24)?,
                },
            )),
            _ => None,
        }
    }
}

/// In the monitor's child, root, just after it made the session and
/// took the pty as its controlling terminal: fork. The parent becomes
/// the session leader and never returns; the child (the command) comes
/// back in its own process group, the pty's foreground group, without
/// the report pipe.
pub fn split(slave: &OwnedFd, report: OwnedFd, target_uid: u32) -> Result<(), String> {
    let monitor = nix::unistd::getppid();
    let cmd = match crate::sys::proc::fork().map_err(|e| format!("fork: {e}"))? {
        nix::unistd::ForkResult::Parent { child } => child,
        nix::unistd::ForkResult::Child => {
            drop(report);
            let me = Pid::from_raw(0);
            nix::unistd::setpgid(me, me).map_err(|e| format!("setpgid: {e}"))?;
            // From a background group: SIGTTOU blocked (it is in bdexec's
            // shield mask until the id switch; made sure here).
            let mut ttou = SigSet::empty();
            ttou.add(Signal::SIGTTOU);
            let mut old = SigSet::empty();
            sigprocmask(SigmaskHow::SIG_BLOCK, Some(&ttou), Some(&mut old))
                .map_err(|e| format!("sigprocmask: {e}"))?;
            let fg = nix::unistd::tcsetpgrp(slave, nix::unistd::getpid());
            sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None)
                .map_err(|e| format!("sigprocmask: {e}"))?;
            fg.map_err(|e| format!("tcsetpgrp: {e}"))?;
            return Ok(());
        }
    };
    // The leader: any failure from here on ends it (and, through the
    // monitor, the call); the command, if it is still before its exec,
    // gets SIGHUP with the session's end.
    match prepare(monitor) {
        Ok(sfd) => lead(cmd, slave, &report, &sfd, target_uid, monitor),
        Err(_) => {
            let _ = nix::sys::signal::kill(cmd, Signal::SIGKILL);
            crate::sys::proc::exit_now(126)
        }
    }
}

/// The leader's own setup: signals to a signalfd, non-dumpable,
/// parent-death signal, capabilities but CAP_SETUID dropped.
fn prepare(monitor: Pid) -> Result<SignalFd, String> {
    let mut mask = SigSet::empty();
    for s in RELAYED {
        mask.add(s);
    }
    for s in [Signal::SIGCHLD, Signal::SIGTTIN, Signal::SIGTTOU] {
        mask.add(s);
    }
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None).map_err(|e| e.to_string())?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC).map_err(|e| e.to_string())?;
    nix::sys::prctl::set_dumpable(false).map_err(|e| e.to_string())?;
    let mut keep = caps::CapsHashSet::new();
    keep.insert(caps::Capability::CAP_SETUID);
    caps::clear(None, caps::CapSet::Effective).map_err(|e| e.to_string())?;
    caps::clear(None, caps::CapSet::Inheritable).map_err(|e| e.to_string())?;
    caps::set(None, caps::CapSet::Permitted, &keep).map_err(|e| e.to_string())?;
    arm_parent_death(monitor)?;
    Ok(sfd)
}

/// PR_SET_PDEATHSIG(SIGKILL), then check the monitor is still the
/// parent (it may have died before the call). Any euid change clears the
/// parent-death signal: call again after one.
fn arm_parent_death(monitor: Pid) -> Result<(), String> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| e.to_string())?;
    if nix::unistd::getppid() != monitor {
        return Err("the monitor is gone".into());
    }
    Ok(())
}

fn write_report(fd: &OwnedFd, r: Report) -> bool {
    matches!(nix::unistd::write(fd, &r.encode()), Ok(REPORT_LEN))
}

/// The session leader's life: relay, follow the command's stops, report
/// its end.
fn lead(
    cmd: Pid,
    slave: &OwnedFd,
    report: &OwnedFd,
    sfd: &SignalFd,
    target_uid: u32,
    monitor: Pid,
) -> ! {
    super::close_all_but(&[
        slave.as_raw_fd(),
        report.as_raw_fd(),
        sfd.as_fd().as_raw_fd(),
    ]);
    // The command does it too: whichever comes first, the group exists
    // before the monitor hears of it.
    let _ = nix::unistd::setpgid(cmd, cmd);
    // Giving up: a command still before its id switch (root) is killed
    // and never runs; one past it gets SIGHUP with the session's end.
    let die = |code| -> ! {
        let _ = nix::sys::signal::kill(cmd, Signal::SIGKILL);
        crate::sys::proc::exit_now(code)
    };
    if !write_report(report, Report::Started(cmd.as_raw())) {
        die(126);
    }
    let me = nix::unistd::getpid();
    let relay = |sig: i32| {
        super::kill_as(target_uid, -cmd.as_raw(), sig);
        if arm_parent_death(monitor).is_err() {
            die(126);
        }
    };
    loop {
        let si = match sfd.read_signal() {
            Ok(Some(si)) => si,
            Ok(None) | Err(nix::Error::EINTR) => continue,
            Err(_) => die(126),
        };
        let sig = si.ssi_signo as i32;
        if sig != libc::SIGCHLD {
            let from_user = matches!(si.ssi_code, libc::SI_USER | libc::SI_QUEUE | libc::SI_TKILL);
            let sid = nix::unistd::getsid(Some(Pid::from_raw(si.ssi_pid as i32))).ok();
            let from_session = from_user && sid == Some(me);
            if RELAYED.iter().any(|s| *s as i32 == sig) && !from_session {
                relay(sig);
            }
            continue;
        }
        while let Some((st, ru)) = crate::sys::proc::wait4_nohang(cmd.as_raw()) {
            if libc::WIFSTOPPED(st) {
                if !write_report(report, Report::Stopped(libc::WSTOPSIG(st))) {
                    die(126);
                }
                // Its own group is orphaned: only SIGSTOP stops it. The
                // monitor continues it (SIGCONT) when the caller's shell
                // continues the job.
                let _ = nix::sys::signal::raise(Signal::SIGSTOP);
                let _ = nix::unistd::tcsetpgrp(slave, cmd);
                relay(libc::SIGCONT);
                continue;
            }
            let usage = Usage::of(&ru);
            let code = if libc::WIFSIGNALED(st) {
                128 + libc::WTERMSIG(st)
            } else {
                libc::WEXITSTATUS(st)
            };
            if !write_report(report, Report::Ended(st, usage)) {
                crate::sys::proc::exit_now(126);
            }
            crate::sys::proc::exit_now(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip() {
        let u = Usage {
            maxrss_kb: 1234,
            utime_us: u64::MAX,
            stime_us: 7,
        };
        for r in [
            Report::Started(42),
            Report::Stopped(libc::SIGTSTP),
            Report::Ended(0x8b, u),
        ] {
            assert_eq!(Report::decode(&r.encode()), Some(r));
        }
        assert_eq!(Report::decode(&[0u8; REPORT_LEN]), None);
        assert_eq!(Report::decode(&Report::Started(0).encode()), None);
        assert_eq!(Report::decode(&[b'P'; 5]), None);
    }
}
