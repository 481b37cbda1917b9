//! File calls nix does not wrap: getxattr(2) on a path, close_range(2).

use nix::errno::Errno;
use std::ffi::CStr;

/// `getxattr(path, name)` into `buf`; the length read.
pub fn getxattr(path: &CStr, name: &CStr, buf: &mut [u8]) -> nix::Result<usize> {
    // SAFETY: `path` and `name` are C strings and `buf` a writable buffer
    // of the length passed; the kernel writes at most that many bytes.
    let n = unsafe {
        libc::getxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast::<libc::c_void>(),
            buf.len(),
        )
    };
    Errno::result(n).map(|n| n as usize)
}

/// `close_range(first, last, 0)`. Closing fds owned by live Rust objects
/// is a logic error (their later close hits another fd), never a memory
/// error: callers use it where those objects are never used again (the
/// process execs or exits) or own nothing in the range.
pub fn close_range(first: u32, last: u32) -> nix::Result<()> {
    // SAFETY: close_range takes integers only; it touches no memory of
    // this process.
    let r = unsafe { libc::close_range(first, last, 0) };
    Errno::result(r).map(drop)
}

/// True when `fd` is an open descriptor of this process (`F_GETFD`).
pub fn fd_is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD on any integer only reports; no memory is touched.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// The owner of the user namespace open on `ns` (an nsfs file), as seen
/// from the calling process's own user namespace (`NS_GET_OWNER_UID`).
pub fn ns_owner_uid(ns: impl std::os::fd::AsFd) -> nix::Result<u32> {
    use std::os::fd::AsRawFd;
    const NS_GET_OWNER_UID: libc::c_ulong = 0xb704; // _IO(0xb7, 0x4)
    let mut owner: libc::uid_t = 0;
    // SAFETY: NS_GET_OWNER_UID writes one uid_t through the pointer, which
    // points to a live, properly aligned local; the kernel reads nothing
    // else.
    let rc = unsafe {
        libc::ioctl(
            ns.as_fd().as_raw_fd(),
            NS_GET_OWNER_UID,
            &mut owner as *mut libc::uid_t,
        )
    };
    Errno::result(rc).map(|_| owner)
}
