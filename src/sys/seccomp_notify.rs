//! seccomp user notification (`SECCOMP_RET_USER_NOTIF`, seccomp_unotify(2)):
//! loading a filter that hands back a listener fd, receiving a
//! notification and answering it. Used by `noexec` (src/exec/noexec.rs).

use nix::errno::Errno;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// One intercepted system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notif {
    /// The notification's cookie, for the answer.
    pub id: u64,
    /// The calling thread's id, in the listener's pid namespace.
    pub pid: u32,
    /// The system call number and its audit architecture.
    pub nr: i32,
    pub arch: u32,
    /// The raw arguments (pointers are the caller's addresses: never
    /// read through them, they may change after the check).
    pub args: [u64; 6],
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
/// prog)` for the calling thread: the filter is loaded and its listener
/// fd (close-on-exec) returned. no_new_privs (or CAP_SYS_ADMIN) must be
/// held, as for any filter.
pub fn load_with_listener(insns: &[libc::sock_filter]) -> nix::Result<OwnedFd> {
    let fd = super::kernel::seccomp_filter(insns, libc::SECCOMP_FILTER_FLAG_NEW_LISTENER)?;
    let fd = i32::try_from(fd).map_err(|_| Errno::EBADF)?;
    // SAFETY: with NEW_LISTENER the kernel returns a new fd created for
    // us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `SECCOMP_IOCTL_NOTIF_RECV`: block until a notification arrives.
/// ENOENT: the caller went away before it could be read (try again).
pub fn recv(listener: BorrowedFd<'_>) -> nix::Result<Notif> {
    // SAFETY: seccomp_notif is plain integers; all-zero is valid and the
    // kernel requires the buffer zeroed.
    let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: the ioctl writes one `seccomp_notif` into `n`, which is
    // exactly that size (the request number encodes it).
    let r = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV as _,
            &mut n as *mut libc::seccomp_notif,
        )
    };
    Errno::result(r)?;
    Ok(Notif {
        id: n.id,
        pid: n.pid,
        nr: n.data.nr,
        arch: n.data.arch,
        args: n.data.args,
    })
}

/// `SECCOMP_IOCTL_NOTIF_SEND`: let the call go on as if unfiltered
/// (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`) or fail it with `errno`.
pub fn respond(listener: BorrowedFd<'_>, id: u64, answer: Result<(), Errno>) -> nix::Result<()> {
    let (error, flags) = match answer {
        Ok(()) => (0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32),
        Err(e) => (-(e as i32), 0),
    };
    let mut resp = libc::seccomp_notif_resp {
        id,
        val: 0,
        error,
        flags,
    };
    // SAFETY: the ioctl reads one `seccomp_notif_resp` from `resp`,
    // which is exactly that size.
    let r = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND as _,
            &mut resp as *mut libc::seccomp_notif_resp,
        )
    };
    Errno::result(r).map(drop)
}

/// One message of at most `buf.len()` bytes from a unix socket, with the
/// fds it carried (SCM_RIGHTS, received close-on-exec). Every received
/// fd is owned by the returned vector, so none leaks.
pub fn recv_with_fds(sock: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<(usize, Vec<OwnedFd>)> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            for fd in raw {
                // SAFETY: the kernel installed `fd` in our table for this
                // message; nothing else knows it, so we own it.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Ok((msg.bytes, fds))
}
