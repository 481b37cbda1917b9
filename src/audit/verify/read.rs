//! Reading a log for [`super`]: opening it safely (no symlink, no FIFO,
//! the length settled under a shared lock) and reading lines with a cap.
#![forbid(unsafe_code)]

use super::*;

/// Opening a log for reading.
#[derive(Debug)]
pub(crate) enum OpenError {
    Io(io::Error),
    Symlink,
    NotRegular,
}

/// Open without following a symlink in the last component and without
/// hanging on a FIFO; return the file and the length to read: taken
/// under a shared flock (briefly, with a deadline) so that an append in
/// progress is not mistaken for a torn tail.
pub(crate) fn open_log(path: &Path) -> Result<(File, u64), OpenError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                OpenError::Symlink
            } else {
                OpenError::Io(e)
            }
        })?;
    let md = file.metadata().map_err(OpenError::Io)?;
    if !md.is_file() {
        return Err(OpenError::NotRegular);
    }
    let len = settled_len(&file).unwrap_or(md.len());
    Ok((file, len))
}

/// The file length while holding a shared lock (writers hold the
/// exclusive one across write + fdatasync). `None` when the lock is not
/// available within a second or flock fails: the caller then uses the
/// current length.
fn settled_len(file: &File) -> Option<u64> {
    let mut f = file.try_clone().ok()?;
    let start = Instant::now();
    loop {
        match Flock::lock(f, FlockArg::LockSharedNonblock) {
            Ok(l) => return l.metadata().ok().map(|m| m.len()),
            Err((back, Errno::EWOULDBLOCK | Errno::EINTR)) => f = back,
            Err(_) => return None,
        }
        if start.elapsed() >= Duration::from_secs(1) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

pub(crate) enum LineRead {
    Eof,
    /// `len` bytes of line (stored in the buffer unless `too_long`).
    Line {
        terminated: bool,
        len: u64,
        too_long: bool,
    },
}

/// Read one line (without its `\n`) into `buf`, storing at most `cap`
/// bytes; a longer line is consumed and flagged.
pub(crate) fn read_line_capped<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<LineRead> {
    buf.clear();
    let mut len = 0u64;
    let mut too_long = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(if len == 0 && !too_long {
                LineRead::Eof
            } else {
                LineRead::Line {
                    terminated: false,
                    len,
                    too_long,
                }
            });
        }
        let (take, found) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (avail.len(), false),
        };
        if !too_long && buf.len() + take <= cap {
            buf.extend_from_slice(&avail[..take]);
        } else {
            too_long = true;
            buf.clear();
        }
        len += take as u64;
        r.consume(take + usize::from(found));
        if found {
            return Ok(LineRead::Line {
                terminated: true,
                len,
                too_long,
            });
        }
    }
}
