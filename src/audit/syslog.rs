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

/// A socket connected to the syslog daemon on [`DEV_LOG`]
/// (non-blocking): taken before a line is made, so a host without one
/// makes none.
#[derive(Debug)]
pub struct Syslog {
    sock: UnixDatagram,
}

impl Syslog {
    /// Connect to [`DEV_LOG`]; fails at once when no daemon listens.
    pub fn connect() -> std::io::Result<Syslog> {
        Syslog::connect_to(std::path::Path::new(DEV_LOG))
    }

    pub(crate) fn connect_to(socket: &std::path::Path) -> std::io::Result<Syslog> {
        let sock = UnixDatagram::unbound()?;
        sock.set_nonblocking(true)?;
        sock.connect(socket)?;
        Ok(Syslog { sock })
    }

    /// One RFC 3164 line `<PRI>bdexec[PID]: MSG` (facility authpriv,
    /// severity `prio`), without blocking; dropped when the daemon does
    /// not take it. `msg` is escaped (one line, no control characters).
    pub fn send(&self, prio: u8, msg: &str) {
        let text = crate::base::escape::display(msg.as_bytes());
        let pri = u32::from(FACILITY) * 8 + u32::from(prio & 7);
        let line = format!("<{pri}>bdexec[{}]: {text}", std::process::id());
        let _ = self.sock.send(line.as_bytes());
    }
}

/// [`Syslog::send`] on a new connection; nothing when no daemon listens.
pub fn syslog_line(prio: u8, msg: &str) {
    if let Ok(s) = Syslog::connect() {
        s.send(prio, msg);
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
        Syslog::connect_to(&p)
            .expect("connect")
            .send(2, "accept #3\nforged line\x1b");
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
