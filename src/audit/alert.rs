//! Last-resort alerts for what the audit log cannot hold: refusals
//! before bdexec has its privileges, an audit log that cannot be written,
//! a failure after the accept record. They go to journald (PRIORITY 2,
//! the alert MESSAGE_ID, see [`crate::audit::journal`]); without
//! journald to syslog on `/dev/log` (facility authpriv, ident `bdexec`);
//! without either they are dropped (stderr already has them). Nothing
//! here blocks: every send is one non-blocking datagram.
#![forbid(unsafe_code)]

/// Send one alert line (journald, else syslog at LOG_CRIT:
/// [`crate::audit::journal::alert`]).
pub fn syslog(msg: &str) {
    crate::audit::journal::alert(msg);
}
