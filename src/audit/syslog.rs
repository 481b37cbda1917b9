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
        let sock = nonblocking_datagram()?;
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

/// An unbound Unix datagram socket, non-blocking and close-on-exec from
/// its creation: one socket(2), where `UnixDatagram::unbound` and
/// `set_nonblocking` take a socket(2) and an ioctl(2). The journald and
/// syslog copies connect one (or two, when journald does not listen) on
/// every call.
pub(crate) fn nonblocking_datagram() -> std::io::Result<UnixDatagram> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};
    let fd = socket(
        AddressFamily::Unix,
        SockType::Datagram,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    Ok(UnixDatagram::from(fd))
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

    /// A daemon that never reads: the send is dropped at once, never
    /// waited on; and the socket is close-on-exec.
    #[test]
    fn a_full_socket_never_blocks_and_is_not_inherited() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("log");
        let _rx = UnixDatagram::bind(&p).expect("bind");
        let s = Syslog::connect_to(&p).expect("connect");
        let flags = nix::fcntl::fcntl(&s.sock, nix::fcntl::FcntlArg::F_GETFL).expect("getfl");
        assert_ne!(flags & libc::O_NONBLOCK, 0, "non-blocking");
        let fd = nix::fcntl::fcntl(&s.sock, nix::fcntl::FcntlArg::F_GETFD).expect("getfd");
        assert_ne!(fd & libc::FD_CLOEXEC, 0, "close-on-exec");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Far more than a datagram socket's queue holds.
            for i in 0..100_000 {
                s.send(6, &format!("filler {i}"));
            }
            let _ = tx.send(());
        });
        rx.recv_timeout(std::time::Duration::from_secs(20))
            .expect("100,000 sends to a full socket returned");
    }
}
