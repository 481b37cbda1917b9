//! `noexec = true` (belladonna-policy(5); sudo's NOEXEC tag): the command
//! runs, but neither it nor any of its descendants may execute another
//! program.
//!
//! How: a noexec rule always runs in monitor mode (src/exec/monitor/).
//! Before the fork, bdexec makes a socket pair ([`pair`]): the monitor
//! keeps one end ([`Supervisor`]), the child the other ([`ChildEnd`]),
//! both close-on-exec. After the identity switch the child sets
//! no_new_privs and loads a seccomp filter ([`filter`]) whose answer to
//! `execve` and `execveat` is `SECCOMP_RET_USER_NOTIF`, sends the
//! filter's listener fd to the monitor over the socket, closes its own
//! copy and waits for the monitor's acknowledgement; then the sandbox
//! profile (if any) and its own seccomp filter, and the `execveat` of the
//! verified fd. The monitor's supervisor thread answers every exec of
//! the command and its descendants:
//!
//! * the child's own `execveat` of the verified fd (same pid, same fd
//!   number in the first argument) is let through
//!   (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`) only while the child still
//!   holds its end of the socket: that end is close-on-exec, so the
//!   kernel closes it inside the first successful exec, before the
//!   command's first instruction. The pre-exec child is bdexec's own
//!   single-threaded code, so the usual warning about CONTINUE (the
//!   caller may change the arguments after the check) does not apply:
//!   no other thread exists to change them. A `#!` script's retry
//!   (src/exec/launch.rs) is the same child, still before any exec.
//! * every other `execve`/`execveat` fails with EACCES and is counted;
//!   the monitor's `exit` record says how many (`exec_refused`).
//! * a non-native system call (i386 `int 0x80`, x32) kills the process:
//!   the filter would otherwise not see an i386 `execve`.
//! * a `seccomp()` asking for a listener fails with EPERM ([`filter`]).
//! * if the monitor dies (only root can kill it), the listener closes
//!   and the kernel fails every later exec with ENOSYS: closed, not
//!   open. If it dies before acknowledging the listener, the child gives
//!   up and nothing runs.
//!
//! The filter needs no_new_privs, so a uid-0 target of a noexec rule
//! gets only the rule's `caps` (src/exec/confine.rs cuts the bounding
//! set and locks SECBIT_NOROOT, as for a sandboxed rule). Filters stack
//! and the strictest answer wins, so a sandbox profile that denies
//! `execve` still denies it (EPERM) and its allow-list (which always
//! holds `execveat`, src/sandbox/seccomp.rs `EXEC_NEEDS`) changes
//! nothing here. What noexec cannot stop, as sudo's cannot: a program
//! that maps and runs code itself without `execve` (an interpreter
//! running a script is one program).
#![forbid(unsafe_code)]

use crate::sandbox::seccomp::{
    AUDIT_ARCH_X86_64, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, X32_SYSCALL_BIT,
};
use crate::sys::seccomp_notify;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, sendmsg, socketpair,
};
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// `SECCOMP_RET_USER_NOTIF`.
const RET_USER_NOTIF: u32 = 0x7fc0_0000;
/// `SECCOMP_RET_KILL_PROCESS`.
const RET_KILL_PROCESS: u32 = 0x8000_0000;
/// The message that carries the listener, and the monitor's answer.
const LISTENER: &[u8] = b"L";
const ACK: &[u8] = b"A";

/// The monitor's end.
pub struct Supervisor {
    sock: OwnedFd,
    /// The verified fd's number in the child (the `execveat` argument).
    verified: RawFd,
}

/// The child's end, before [`ChildEnd::install`].
pub struct ChildEnd {
    sock: OwnedFd,
}

/// The child's end once the filter is loaded. Keep it until the exec:
/// while it is open, the monitor lets the child's own `execveat` of the
/// verified fd through (it closes itself inside that exec).
pub struct Armed {
    _sock: OwnedFd,
}

/// The socket pair for a noexec run of the command behind `verified`.
pub fn pair(verified: BorrowedFd<'_>) -> Result<(Supervisor, ChildEnd), String> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| format!("noexec: socketpair: {e}"))?;
    Ok((
        Supervisor {
            sock: a,
            verified: verified.as_raw_fd(),
        },
        ChildEnd { sock: b },
    ))
}

fn insn(code: u32, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// The noexec filter: a non-native architecture or the x32 ABI kills
/// the process, `execve` and `execveat` go to the monitor, a `seccomp()`
/// call asking for a listener of its own fails with EPERM, anything else
/// is allowed (the sandbox profile's filter, if any, decides it).
///
/// Why the listener is refused: when stacked filters give the same
/// answer, the kernel takes the newest filter's. A command that loaded
/// its own filter returning `SECCOMP_RET_USER_NOTIF` for `execve`, with
/// a listener it answers itself, would get its execs instead of the
/// monitor, and could let them through. Without a listener such a
/// filter's notifications fail (ENOSYS): closed. Other filters (any
/// answer but USER_NOTIF, or without NEW_LISTENER) still load.
pub fn filter() -> Vec<libc::sock_filter> {
    let ld = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let jeq = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
    let jge = libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K;
    let jset = libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K;
    let ret = libc::BPF_RET | libc::BPF_K;
    let new_listener = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32;
    vec![
        insn(ld, 0, 0, 4), // 0: seccomp_data.arch
        insn(jeq, 1, 0, AUDIT_ARCH_X86_64),
        insn(ret, 0, 0, RET_KILL_PROCESS),
        insn(ld, 0, 0, 0), // 3: seccomp_data.nr
        insn(jge, 0, 1, X32_SYSCALL_BIT),
        insn(ret, 0, 0, RET_KILL_PROCESS),
        insn(jeq, 5, 0, libc::SYS_execve as u32), // 6: -> 12
        insn(jeq, 4, 0, libc::SYS_execveat as u32), // 7: -> 12
        insn(jeq, 0, 2, libc::SYS_seccomp as u32), // 8: else -> 11
        insn(ld, 0, 0, 16 + 8),                   // 9: args[1] (flags), low half
        insn(jset, 2, 0, new_listener),           // 10: -> 13
        insn(ret, 0, 0, SECCOMP_RET_ALLOW),       // 11
        insn(ret, 0, 0, RET_USER_NOTIF),          // 12
        insn(ret, 0, 0, SECCOMP_RET_ERRNO | libc::EPERM as u32), // 13
    ]
}

impl ChildEnd {
    /// In the child, after the identity switch and before the sandbox:
    /// no_new_privs, the filter, the listener handed to the monitor and
    /// acknowledged. Any error: the caller refuses and nothing runs.
    pub fn install(self) -> Result<Armed, String> {
        crate::sandbox::set_no_new_privs().map_err(|e| format!("noexec: {e}"))?;
        let listener = seccomp_notify::load_with_listener(&filter())
            .map_err(|e| format!("noexec: seccomp user notification: {}", e.desc()))?;
        let fds = [listener.as_raw_fd()];
        sendmsg::<()>(
            self.sock.as_raw_fd(),
            &[IoSlice::new(LISTENER)],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .map_err(|e| format!("noexec: handing the listener to the monitor: {e}"))?;
        // The command must never hold the listener: it could answer
        // its own notifications.
        drop(listener);
        let mut buf = [0u8; 4];
        match nix::sys::socket::recv(self.sock.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(n) if buf.get(..n) == Some(ACK) => Ok(Armed { _sock: self.sock }),
            Ok(_) => Err("noexec: the monitor did not take the exec supervision".into()),
            Err(e) => Err(format!("noexec: waiting for the monitor: {e}")),
        }
    }
}

impl Supervisor {
    /// The socket's fd, which the monitor keeps when it closes the rest.
    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// In the monitor (after it shed its capabilities: they are per
    /// thread, and the new thread inherits the shed set), the thread
    /// that answers every exec of `child` and its descendants. Returns
    /// the count of refused execs, for the exit record.
    pub fn spawn(&self, child: i32) -> Arc<AtomicU64> {
        let refused = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&refused);
        let verified = self.verified;
        // The thread owns a copy of the socket: the monitor's own stays
        // (it closes nothing else after this point).
        let Ok(sock) = self.sock.try_clone() else {
            // No supervisor: the child's wait for the ack ends, it runs
            // nothing.
            let _ = nix::sys::socket::shutdown(self.fd(), nix::sys::socket::Shutdown::Both);
            return refused;
        };
        let spawned = std::thread::Builder::new()
            .name("noexec".into())
            .spawn(move || supervise(&sock, child, verified, &count));
        if spawned.is_err() {
            // No thread: shut the socket down (every copy of it), so the
            // child's wait for the ack ends and it runs nothing.
            let _ = nix::sys::socket::shutdown(self.fd(), nix::sys::socket::Shutdown::Both);
        }
        refused
    }
}

/// Receive the listener (acknowledge it), then answer notifications
/// until the listener fails.
fn supervise(sock: &OwnedFd, child: i32, verified: RawFd, refused: &AtomicU64) {
    let Some(listener) = receive_listener(sock) else {
        return;
    };
    if nix::sys::socket::send(sock.as_raw_fd(), ACK, MsgFlags::empty()).is_err() {
        return;
    }
    loop {
        let n = match seccomp_notify::recv(listener.as_fd()) {
            Ok(n) => n,
            // The caller went away, or a signal (glibc's setxid
            // broadcast) interrupted the wait.
            Err(nix::Error::ENOENT | nix::Error::EINTR) => continue,
            Err(_) => return,
        };
        let first_exec = n.pid as i32 == child
            && n.arch == AUDIT_ARCH_X86_64
            && i64::from(n.nr) == libc::SYS_execveat
            && n.args[0] as i32 == verified
            && before_exec(sock);
        let answer = if first_exec {
            Ok(())
        } else {
            refused.fetch_add(1, Ordering::Relaxed);
            Err(nix::Error::EACCES)
        };
        // ENOENT: the caller died meanwhile; nothing to answer.
        let _ = seccomp_notify::respond(listener.as_fd(), n.id, answer);
    }
}

/// The listener fd the child sent.
fn receive_listener(sock: &OwnedFd) -> Option<OwnedFd> {
    let mut buf = [0u8; 4];
    let (n, fds) = seccomp_notify::recv_with_fds(sock.as_fd(), &mut buf).ok()?;
    let mut fds = fds.into_iter();
    match (buf.get(..n) == Some(LISTENER), fds.next(), fds.next()) {
        (true, Some(l), None) => Some(l),
        _ => None,
    }
}

/// Whether the child still holds its end of the socket, that is, has
/// not yet executed anything (the end closes inside the first exec).
fn before_exec(sock: &OwnedFd) -> bool {
    let mut p = [PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
    match nix::poll::poll(&mut p, PollTimeout::ZERO) {
        Ok(_) => {
            let ev = p[0].revents().unwrap_or(PollFlags::POLLHUP);
            !ev.intersects(PollFlags::POLLHUP | PollFlags::POLLERR)
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_is_small_and_ends_in_returns() {
        let f = filter();
        assert_eq!(f.len(), 14);
        assert_eq!(f[11].k, SECCOMP_RET_ALLOW);
        assert_eq!(f[12].k, RET_USER_NOTIF);
        assert_eq!(f[13].k, SECCOMP_RET_ERRNO | libc::EPERM as u32);
        // Every jump lands inside the program.
        for (pc, i) in f.iter().enumerate() {
            if u32::from(i.code) & 0x07 == libc::BPF_JMP {
                assert!(pc + 1 + usize::from(i.jt.max(i.jf)) < f.len(), "{pc}");
            }
        }
    }
}
