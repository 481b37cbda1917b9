//! The last step: `execveat` of the verified file descriptor.
#![forbid(unsafe_code)]

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::unistd::execveat;
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};

/// `-D DIR` / `-i` (issue 13): change to `dir` with the ids the process
/// has now (the target's, after the privilege drop). With `exact` (`-D`)
/// the directory reached must be `dir` itself: a symlink anywhere in it
/// refuses (the rule's `chdir` named the path, not where a link points).
pub fn enter_dir(dir: &std::path::Path, exact: bool) -> Result<(), String> {
    std::env::set_current_dir(dir).map_err(|e| e.to_string())?;
    match std::env::current_dir() {
        Ok(_) if !exact => Ok(()),
        Ok(now) if now == dir => Ok(()),
        Ok(now) => Err(format!(
            "it resolves to {} (a symbolic link)",
            crate::base::escape::display(std::os::unix::ffi::OsStrExt::as_bytes(now.as_os_str()))
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Execute the file behind `fd` (opened with `O_PATH` at resolution, and
/// the very file the decision and digest looked at). Returns only on
/// failure.
///
/// A `#!` script executed from a close-on-exec fd fails with ENOENT (the
/// interpreter must open `/dev/fd/N`, gone by then), so on ENOENT the fd
/// is made inheritable and the exec retried once: only scripts reach that
/// path, and they need the fd open.
pub fn exec_fd(fd: &OwnedFd, argv: &[CString], envp: &[CString]) -> nix::Error {
    let flags = nix::fcntl::AtFlags::AT_EMPTY_PATH;
    let e = match execveat(fd.as_fd(), c"", argv, envp, flags) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    if e != nix::Error::ENOENT {
        return e;
    }
    if let Err(e2) = fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty())) {
        return e2;
    }
    match execveat(fd.as_fd(), c"", argv, envp, flags) {
        Err(e) => e,
        Ok(never) => match never {},
    }
}
