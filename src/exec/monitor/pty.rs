//! The monitor's pty helpers: the caller's terminal, a character
//! device's number, a new pty owned by the target.
#![forbid(unsafe_code)]

use nix::sys::termios;
use std::os::fd::{AsFd, OwnedFd};

/// The device number of a character device behind `fd`.
pub(super) fn rdev(fd: impl AsFd) -> Option<u64> {
    let st = nix::sys::stat::fstat(fd).ok()?;
    (st.st_mode & libc::S_IFMT == libc::S_IFCHR).then_some(st.st_rdev)
}

/// The caller's terminal opened with the caller's own ids, if it has one.
pub(super) fn caller_tty() -> Option<OwnedFd> {
    let open = || {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
            .open("/dev/tty")
            .ok()
    };
    use std::os::unix::fs::OpenOptionsExt;
    crate::exec::privileges::as_caller(open)
        .ok()
        .flatten()
        .map(OwnedFd::from)
}

/// A new pty whose slave belongs to the target (its mode and group are
/// the devpts mount's, as for a login), with the caller's terminal's
/// modes and size: (master, slave).
pub(super) fn new_pty(tty: &OwnedFd, uid: u32, gid: u32) -> Result<(OwnedFd, OwnedFd), String> {
    let term = termios::tcgetattr(tty).ok();
    let p = crate::exec::privileges::with_fs_ids(uid, gid, || nix::pty::openpty(None, &term))
        .map_err(|e| format!("pty: {e}"))?
        .map_err(|e| format!("openpty: {e}"))?;
    for fd in [&p.master, &p.slave] {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .map_err(|e| format!("pty: {e}"))?;
    }
    nix::fcntl::fcntl(
        &p.master,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .map_err(|e| format!("pty: {e}"))?;
    let st = nix::sys::stat::fstat(&p.slave).map_err(|e| format!("pty: {e}"))?;
    if st.st_uid != uid {
        return Err(format!(
            "the new pty belongs to uid {}, not {uid}",
            st.st_uid
        ));
    }
    crate::sys::term::copy_winsize(tty, &p.master);
    Ok((p.master, p.slave))
}
