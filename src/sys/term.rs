//! Terminal ioctls: the controlling terminal, window size, session id.

use nix::errno::Errno;
use std::os::fd::{AsFd, AsRawFd};

/// `TIOCSCTTY`: make `fd` (a terminal) this session leader's
/// controlling terminal.
pub fn set_controlling(fd: impl AsFd) -> nix::Result<()> {
    // SAFETY: TIOCSCTTY takes an int argument, no memory.
    let r = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::TIOCSCTTY, 0) };
    Errno::result(r).map(drop)
}

/// Copy the window size of `from` to `to` (both terminals); errors are
/// ignored (a size is a nicety).
pub fn copy_winsize(from: impl AsFd, to: impl AsFd) {
    // SAFETY: winsize is plain old data; all zeroes is a valid value.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize we own.
    if unsafe { libc::ioctl(from.as_fd().as_raw_fd(), libc::TIOCGWINSZ, &mut ws) } == 0 {
        // SAFETY: TIOCSWINSZ reads one winsize we own.
        unsafe { libc::ioctl(to.as_fd().as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
}

/// The (columns, rows) of the terminal behind `fd`, if it is one.
pub fn winsize(fd: std::os::fd::BorrowedFd<'_>) -> Option<(u16, u16)> {
    // SAFETY: winsize is plain old data; all zeroes is a valid value.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize we own.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_col > 0 && ws.ws_row > 0).then_some((ws.ws_col, ws.ws_row))
}

/// `TIOCGSID`: the session id of the terminal behind `fd`.
pub fn session_of(fd: impl AsFd) -> nix::Result<libc::pid_t> {
    let mut sid: libc::pid_t = 0;
    // SAFETY: TIOCGSID writes one pid_t we own.
    let r = unsafe {
        libc::ioctl(
            fd.as_fd().as_raw_fd(),
            libc::TIOCGSID,
            &mut sid as *mut libc::pid_t,
        )
    };
    Errno::result(r).map(|_| sid)
}
