//! The syslog sink: one RFC 3164 datagram to `/dev/log`, the fallback
//! when journald does not take a record's copy or an alert. Below both
//! [`crate::audit::journal`] and [`crate::audit::alert`], so neither needs the
//! other for it.
#![forbid(unsafe_code)]

use std::os::unix::net::UnixDatagram;

/// The syslog socket.
pub const DEV_LOG: &str = "/dev/log";

/// authpriv.
pub const FACILITY: u8 = 10;

/// One RFC 3164 line `<PRI>bdexec[PID]: MSG` (facility authpriv,
/// severity `prio`) to [`DEV_LOG`], without blocking; dropped when no
/// syslog daemon takes it. `msg` is escaped (one line, no control
/// characters).
pub fn syslog_line(prio: u8, msg: &str) {
    syslog_line_to(std::path::Path::new(DEV_LOG), prio, msg);
}

fn syslog_line_to(socket: &std::path::Path, prio: u8, msg: &str) {
    let text = crate::base::escape::display(msg.as_bytes());
    let pri = u32::from(FACILITY) * 8 + u32::from(prio & 7);
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
