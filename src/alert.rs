//! Last-resort alerts for what the audit log cannot hold: refusals
//! before bdexec has its privileges, an audit log that cannot be written,
//! a failure after the accept record. They go to journald (PRIORITY 2,
//! the alert MESSAGE_ID, see [`crate::audit::journal`]); without
//! journald to syslog on `/dev/log` (facility authpriv, ident `bdexec`);
//! without either they are dropped (stderr already has them). Nothing
//! here blocks: every send is one non-blocking datagram.
#![forbid(unsafe_code)]

use std::os::unix::net::UnixDatagram;

/// The syslog socket.
pub const DEV_LOG: &str = "/dev/log";

/// Send one alert line (journald, else syslog at LOG_CRIT).
pub fn syslog(msg: &str) {
    if crate::audit::journal::alert(msg).is_err() {
        syslog_line(crate::audit::journal::priority::CRIT, msg);
    }
}

/// One RFC 3164 line `<PRI>bdexec[PID]: MSG` (facility authpriv,
/// severity `prio`) to [`DEV_LOG`], without blocking; dropped when no
/// syslog daemon takes it. `msg` is escaped (one line, no control
/// characters).
pub fn syslog_line(prio: u8, msg: &str) {
    syslog_line_to(std::path::Path::new(DEV_LOG), prio, msg);
}

fn syslog_line_to(socket: &std::path::Path, prio: u8, msg: &str) {
    let text = crate::escape::display(msg.as_bytes());
    let pri = u32::from(crate::audit::journal::FACILITY) * 8 + u32::from(prio & 7);
    let line = format!("<{pri}>bdexec[{}]: {text}", std::process::id());
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    if sock.set_nonblocking(true).is_ok() {
        let _ = sock.send_to(line.as_bytes(), socket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_escaped_rfc3164_line() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("log");
        let rx = UnixDatagram::bind(&p).expect("bind");
        syslog_line_to(&p, 2, "accept #3\nforged line\x1b");
        let mut buf = [0u8; 256];
        let n = rx.recv(&mut buf).expect("recv");
        let got = std::str::from_utf8(&buf[..n]).expect("utf8");
        assert_eq!(
            got,
            format!(
                "<82>bdexec[{}]: accept #3\\x0aforged line\\x1b",
                std::process::id()
            )
        );
    }
}
