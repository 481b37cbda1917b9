//! Last-resort alerts to syslog (`/dev/log`, facility authpriv) for what
//! the audit log cannot hold: refusals before bdexec has its privileges,
//! an audit log that cannot be written, a failure after the accept
//! record. When no syslog daemon listens the message is dropped (stderr
//! already has it). journald with `BD_*` fields comes with the
//! observability issue.

use std::ffi::CString;

/// Send one line at LOG_WARNING to authpriv, ident `bdexec`.
pub fn syslog(msg: &str) {
    let text = crate::escape::display(msg.as_bytes());
    let Ok(c) = CString::new(text) else { return };
    // SAFETY: both strings are NUL-terminated and outlive the calls; the
    // format string is a literal "%s" so the message is never interpreted
    // as a format. openlog keeps the ident pointer: it is a 'static
    // literal.
    unsafe {
        libc::openlog(
            c"bdexec".as_ptr(),
            libc::LOG_PID | libc::LOG_NDELAY,
            libc::LOG_AUTHPRIV,
        );
        libc::syslog(libc::LOG_WARNING, c"%s".as_ptr(), c.as_ptr());
        libc::closelog();
    }
}
