//! A minimal client of systemd-journald's native protocol (no libsystemd:
//! the protocol is a few lines, see systemd's `journal-send.c` and
//! <https://systemd.io/JOURNAL_NATIVE_PROTOCOL/>).
//!
//! An entry is a sequence of fields, each either `NAME=value\n` (a value
//! without a newline) or the binary form `NAME\n<u64 LE length><bytes>\n`
//! (any value; used whenever the value holds a `\n`, so nothing a value
//! contains can start a new field). Field names are fixed by the caller
//! (constants in [`crate::audit::journal`]); [`Entry::field`] checks them
//! anyway (uppercase ASCII, digits, `_`, not starting with `_` or a digit,
//! at most 64 bytes) and drops a field with an invalid name.
//!
//! Sending: a non-blocking socket connected to [`SOCKET`] ([`Journal`]:
//! the connect tells whether journald listens before anything is built),
//! then one datagram. When the datagram is too large for the socket (EMSGSIZE,
//! ENOBUFS) the entry goes into a sealed memfd whose descriptor is passed
//! with `SCM_RIGHTS` in an empty datagram, as `sd_journal_sendv` does;
//! journald only accepts a memfd sealed against writes and resizes. A
//! journald that is absent (ENOENT, ECONNREFUSED) or full (EAGAIN) makes
//! [`send`] fail at once: it never waits.

#![cfg_attr(not(test), forbid(unsafe_code))]

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::Path;

/// journald's native socket.
pub const SOCKET: &str = "/run/systemd/journal/socket";

/// Largest entry [`send`] passes (the memfd path); journald's own limit
/// for an entry is larger (`ENTRY_SIZE_MAX`, 768 MiB in systemd 255), so
/// anything this size arrives whole.
pub const MAX_ENTRY: usize = 64 << 20;

/// One journal entry in the native wire format.
#[derive(Debug, Default, Clone)]
pub struct Entry {
    buf: Vec<u8>,
}

/// A field name journald accepts (`journal_field_valid` without the
/// protected leading underscore).
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && !b[0].is_ascii_digit()
        && b[0] != b'_'
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

impl Entry {
    /// An empty entry.
    pub fn new() -> Self {
        Entry {
            buf: Vec::with_capacity(1024),
        }
    }

    /// Add `NAME=value`; values with a newline use the binary form. A
    /// field with an invalid name is dropped (names are our constants:
    /// this is a programming error, never caller input).
    pub fn field(&mut self, name: &str, value: &[u8]) -> &mut Self {
        if !valid_name(name) {
            debug_assert!(false, "invalid journal field name {name:?}");
            return self;
        }
        self.buf.extend_from_slice(name.as_bytes());
        if value.contains(&b'\n') {
            self.buf.push(b'\n');
            self.buf
                .extend_from_slice(&(value.len() as u64).to_le_bytes());
        } else {
            self.buf.push(b'=');
        }
        self.buf.extend_from_slice(value);
        self.buf.push(b'\n');
        self
    }

    /// The wire bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Wire size in bytes.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// No field yet.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// How a send went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// One datagram.
    Datagram,
    /// A sealed memfd passed with SCM_RIGHTS.
    Memfd,
}

/// A socket connected to a listening journald: the cheap first step,
/// taken before an entry is built, so a host without journald builds
/// none (src/audit/journal.rs).
#[derive(Debug)]
pub struct Journal {
    sock: UnixDatagram,
}

impl Journal {
    /// Connect to the journald listening at `socket` (non-blocking):
    /// fails at once when none does (ENOENT, ECONNREFUSED).
    pub fn connect_to(socket: &Path) -> io::Result<Journal> {
        let sock = super::syslog::nonblocking_datagram()?;
        sock.connect(socket)?;
        Ok(Journal { sock })
    }

    /// [`Journal::connect_to`] the system journal ([`SOCKET`]).
    pub fn connect() -> io::Result<Journal> {
        Journal::connect_to(Path::new(SOCKET))
    }

    /// Send `e` without blocking: one datagram, or a sealed memfd when
    /// the datagram is too large.
    pub fn send(&self, e: &Entry) -> io::Result<Sent> {
        if e.len() > MAX_ENTRY {
            return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
        }
        match self.sock.send(e.bytes()) {
            Ok(_) => Ok(Sent::Datagram),
            Err(err) if matches!(err.raw_os_error(), Some(libc::EMSGSIZE | libc::ENOBUFS)) => {
                let fd = sealed_memfd(e.bytes())?;
                send_fd(&self.sock, &fd)?;
                Ok(Sent::Memfd)
            }
            Err(err) => Err(err),
        }
    }
}

/// Send `e` to the journald listening at `socket` without blocking.
pub fn send_to(e: &Entry, socket: &Path) -> io::Result<Sent> {
    Journal::connect_to(socket)?.send(e)
}

/// [`send_to`] the system journal ([`SOCKET`]).
pub fn send(e: &Entry) -> io::Result<Sent> {
    send_to(e, Path::new(SOCKET))
}

/// A memfd holding `data`, sealed against any change (journald refuses
/// an unsealed one: the sender could change it while it is read).
fn sealed_memfd(data: &[u8]) -> io::Result<OwnedFd> {
    use nix::fcntl::{FcntlArg, SealFlag, fcntl};
    use nix::sys::memfd::{MFdFlags, memfd_create};
    use std::io::Write;
    let fd = memfd_create(
        c"belladonna-journal",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )?;
    let mut f = std::fs::File::from(fd);
    f.write_all(data)?;
    fcntl(
        &f,
        FcntlArg::F_ADD_SEALS(
            SealFlag::F_SEAL_SHRINK
                | SealFlag::F_SEAL_GROW
                | SealFlag::F_SEAL_WRITE
                | SealFlag::F_SEAL_SEAL,
        ),
    )?;
    Ok(OwnedFd::from(f))
}

/// An empty datagram on the connected `sock` carrying `fd` (SCM_RIGHTS),
/// non-blocking (no iovec: an empty datagram, as journal-send.c sends).
fn send_fd(sock: &UnixDatagram, fd: &OwnedFd) -> io::Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, UnixAddr, sendmsg};
    let fds = [fd.as_raw_fd()];
    sendmsg::<UnixAddr>(
        sock.as_raw_fd(),
        &[] as &[io::IoSlice<'_>],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
        None,
    )?;
    Ok(())
}

/// Parse the wire format back (as journald does; tests only).
#[cfg(test)]
pub(crate) fn tests_parse(mut b: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let nl = b.iter().position(|c| *c == b'\n').expect("newline");
        let line = &b[..nl];
        if let Some(eq) = line.iter().position(|c| *c == b'=') {
            out.push((
                String::from_utf8(line[..eq].to_vec()).expect("name"),
                line[eq + 1..].to_vec(),
            ));
            b = &b[nl + 1..];
        } else {
            let name = String::from_utf8(line.to_vec()).expect("name");
            let rest = &b[nl + 1..];
            let len = u64::from_le_bytes(rest[..8].try_into().expect("len")) as usize;
            out.push((name, rest[8..8 + len].to_vec()));
            assert_eq!(rest[8 + len], b'\n');
            b = &rest[9 + len..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn text_and_binary_forms() {
        let mut e = Entry::new();
        e.field("MESSAGE", b"a=b c")
            .field("BD_X", b"line1\nFAKE=injected\n")
            .field("BD_EMPTY", b"");
        let f = tests_parse(e.bytes());
        assert_eq!(
            f,
            vec![
                ("MESSAGE".into(), b"a=b c".to_vec()),
                ("BD_X".into(), b"line1\nFAKE=injected\n".to_vec()),
                ("BD_EMPTY".into(), Vec::new()),
            ]
        );
        assert!(
            e.bytes()
                .starts_with(b"MESSAGE=a=b c\nBD_X\n\x14\0\0\0\0\0\0\0line1")
        );
    }

    #[test]
    fn names_are_checked() {
        for ok in ["MESSAGE", "BD_RUNARGV", "A1"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "_PID",
            "1A",
            "a",
            "BD-X",
            "BD X",
            "BD=X",
            &"A".repeat(65),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn absent_and_full_sockets_fail_fast() {
        let d = tempfile::tempdir().expect("tempdir");
        let path = d.path().join("socket");
        let mut e = Entry::new();
        e.field("MESSAGE", b"x");
        let err = send_to(&e, &path).expect_err("no socket");
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        // Bound but never read: fills up, then EAGAIN, never blocks.
        let _rx = UnixDatagram::bind(&path).expect("bind");
        let t0 = std::time::Instant::now();
        let mut failed = None;
        for _ in 0..100_000 {
            if let Err(e) = send_to(&e, &path) {
                failed = Some(e);
                break;
            }
        }
        let err = failed.expect("a full socket refuses");
        assert_eq!(err.raw_os_error(), Some(libc::EAGAIN), "{err}");
        assert!(t0.elapsed() < std::time::Duration::from_secs(30));
        drop(_rx);
        let err = send_to(&e, &path).expect_err("closed socket");
        assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
    }

    #[test]
    fn oversize_goes_through_a_sealed_memfd() {
        let d = tempfile::tempdir().expect("tempdir");
        let path = d.path().join("socket");
        let rx = UnixDatagram::bind(&path).expect("bind");
        let mut e = Entry::new();
        let big = vec![b'x'; 4 << 20];
        e.field("MESSAGE", b"big").field("BD_RUNARGV", &big);
        assert_eq!(send_to(&e, &path).expect("send"), Sent::Memfd);
        // Receive the fd and check it is sealed and holds the entry.
        let fd = recv_fd(&rx);
        let seals = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GET_SEALS).expect("seals");
        let want = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
        assert_eq!(seals & want, want);
        let mut got = Vec::new();
        use std::io::{Read, Seek};
        let mut f = std::fs::File::from(fd);
        f.rewind().expect("rewind");
        f.read_to_end(&mut got).expect("read");
        assert_eq!(got, e.bytes());
    }

    /// The fd an empty datagram carried, reopened through /proc (the
    /// same memfd inode, so its seals are the sent fd's).
    fn recv_fd(rx: &UnixDatagram) -> OwnedFd {
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
        let mut data = [0u8; 16];
        let mut iov = [std::io::IoSliceMut::new(&mut data)];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<()>(rx.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty())
            .expect("recvmsg");
        assert_eq!(msg.bytes, 0, "an empty datagram");
        let fd = msg
            .cmsgs()
            .expect("cmsgs")
            .find_map(|c| match c {
                ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
                _ => None,
            })
            .expect("SCM_RIGHTS");
        OwnedFd::from(std::fs::File::open(format!("/proc/self/fd/{fd}")).expect("reopen"))
    }
}
