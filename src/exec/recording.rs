//! Session recording (`record = true`, belladonna-policy(5)): what the
//! command's pty shows (and, with `record_input`, what the caller types)
//! saved as asciicast v2 in `/var/log/belladonna/sessions/<accept
//! uuid>.cast` (root, 0600, directory 0700), written as it happens by the
//! monitor (src/exec/monitor/). The file's BLAKE3 goes into the exit
//! record (`"recording": "blake3:<hex>"`), so `bdctl replay` can refuse a
//! file that was changed afterwards.
//!
//! asciicast v2: a header object on the first line, then one event per
//! line, `[seconds, "o" | "i", "text"]`. Text is UTF-8: a character split
//! across two reads is carried to the next event, and bytes that are not
//! UTF-8 become U+FFFD (as asciinema's own recorder does).
//!
//! A write error (a full disk) ends the recording, never the command: the
//! file keeps the whole events written so far and the exit record says
//! why the recording ended (`"recording_error"`).
#![forbid(unsafe_code)]

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Instant;

/// The directory of the recordings.
pub const SESSIONS_DIR: &str = "/var/log/belladonna/sessions";

/// How a recording ended, for the exit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// BLAKE3 of the file as written.
    pub hash: [u8; 32],
    /// Why the recording stopped before the command's end, if it did.
    pub error: Option<String>,
    /// Bytes of whole lines written (the hash covers exactly these: after
    /// an error the monitor truncates the file to this length, so a line
    /// torn by a full disk does not stay behind).
    pub written: u64,
}

/// The asciicast writer, over any `Write` (a file in the monitor, a
/// vector in tests).
pub struct Recorder<W: Write> {
    out: W,
    hasher: blake3::Hasher,
    started: Instant,
    input: bool,
    /// An incomplete UTF-8 sequence at the end of the last read, per
    /// stream (output, input).
    carry: [Vec<u8>; 2],
    error: Option<String>,
    written: u64,
}

impl<W: Write> Recorder<W> {
    /// Start a recording: the header line (`width` x `height`, the start
    /// time in unix seconds, the caller's `TERM`).
    pub fn start(
        out: W,
        width: u16,
        height: u16,
        unix: u64,
        term: Option<&str>,
        input: bool,
    ) -> Self {
        let mut r = Recorder {
            out,
            hasher: blake3::Hasher::new(),
            started: Instant::now(),
            input,
            carry: [Vec::new(), Vec::new()],
            error: None,
            written: 0,
        };
        let mut env = serde_json::Map::new();
        if let Some(t) = term {
            env.insert("TERM".into(), serde_json::Value::from(t));
        }
        let header = serde_json::json!({
            "version": 2,
            "width": width,
            "height": height,
            "timestamp": unix,
            "env": env,
        });
        r.line(header.to_string().as_bytes());
        r
    }

    /// The writer (the monitor keeps its fd open through `shed`).
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Bytes the command wrote to its pty.
    pub fn output(&mut self, bytes: &[u8]) {
        self.event(0, "o", bytes);
    }

    /// Bytes the caller typed (only with `record_input`).
    pub fn input(&mut self, bytes: &[u8]) {
        if self.input {
            self.event(1, "i", bytes);
        }
    }

    fn event(&mut self, stream: usize, kind: &str, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let mut data = std::mem::take(&mut self.carry[stream]);
        data.extend_from_slice(bytes);
        let (text, rest) = utf8_prefix(&data);
        self.carry[stream] = rest.to_vec();
        if text.is_empty() {
            return;
        }
        let t = self.started.elapsed().as_secs_f64();
        let ev = serde_json::json!([(t * 1e6).round() / 1e6, kind, text]);
        self.line(ev.to_string().as_bytes());
    }

    fn line(&mut self, json: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let mut l = Vec::with_capacity(json.len() + 1);
        l.extend_from_slice(json);
        l.push(b'\n');
        match self.out.write_all(&l) {
            Ok(()) => {
                self.hasher.update(&l);
                self.written += l.len() as u64;
            }
            Err(e) => self.error = Some(format!("recording ended early: {e}")),
        }
    }

    /// Flush what is buffered; the hash of everything written.
    pub fn finish(mut self) -> Finished {
        for (stream, kind) in [(0, "o"), (1, "i")] {
            // A sequence cut at the very end: written as U+FFFD.
            let rest = std::mem::take(&mut self.carry[stream]);
            if !rest.is_empty() && (stream == 0 || self.input) {
                let text = String::from_utf8_lossy(&rest).into_owned();
                let t = self.started.elapsed().as_secs_f64();
                let ev = serde_json::json!([(t * 1e6).round() / 1e6, kind, text]);
                self.line(ev.to_string().as_bytes());
            }
        }
        if self.error.is_none()
            && let Err(e) = self.out.flush()
        {
            self.error = Some(format!("recording ended early: {e}"));
        }
        Finished {
            hash: *self.hasher.finalize().as_bytes(),
            error: self.error,
            written: self.written,
        }
    }
}

/// The longest prefix of `data` that can be decoded now (invalid bytes
/// as U+FFFD), and the incomplete sequence at its end (at most 3 bytes)
/// to carry to the next read.
fn utf8_prefix(data: &[u8]) -> (String, &[u8]) {
    match std::str::from_utf8(data) {
        Ok(s) => (s.to_string(), &[]),
        Err(e) if e.error_len().is_none() => {
            // Incomplete at the end: carry it.
            let cut = e.valid_up_to();
            (
                String::from_utf8_lossy(&data[..cut]).into_owned(),
                &data[cut..],
            )
        }
        Err(_) => {
            // Invalid somewhere: decode lossily up to a possible
            // incomplete tail (the last <= 3 bytes that start a sequence).
            let tail = incomplete_tail(data);
            let cut = data.len() - tail;
            (
                String::from_utf8_lossy(&data[..cut]).into_owned(),
                &data[cut..],
            )
        }
    }
}

/// Length of an incomplete UTF-8 sequence at the end of `data` (0 to 3).
fn incomplete_tail(data: &[u8]) -> usize {
    for back in 1..=3.min(data.len()) {
        let b = data[data.len() - back];
        if b & 0xC0 != 0x80 {
            // A lead byte: how long its sequence should be.
            let want = match b {
                0xC2..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF4 => 4,
                _ => return 0,
            };
            return if want > back { back } else { 0 };
        }
    }
    0
}

/// Create `<uuid>.cast` in [`SESSIONS_DIR`] (the directory made 0700
/// when missing; the file 0600, `O_EXCL`): as root, before the monitor
/// sheds anything.
pub fn create(uuid: &[u8; 16]) -> Result<OwnedFd, String> {
    use nix::fcntl::{OFlag, openat};
    use nix::sys::stat::Mode;
    let dir = std::path::Path::new(SESSIONS_DIR);
    let dfd = crate::base::secure_fs::ensure_trusted_dir(dir, 0o700)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let name = format!("{}.cast", crate::audit::record::format_uuid(uuid));
    openat(
        dfd.as_fd(),
        name.as_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| format!("{}/{name}: {e}", dir.display()))
}

/// The width and height of the terminal behind `fd` (80x24 when it has
/// none).
pub fn size_of(fd: Option<BorrowedFd<'_>>) -> (u16, u16) {
    fd.and_then(crate::sys::term::winsize).unwrap_or((80, 24))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[u8]) -> Vec<serde_json::Value> {
        v.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("json line"))
            .collect()
    }

    #[test]
    fn header_events_and_hash() {
        let mut buf = Vec::new();
        let mut r = Recorder::start(&mut buf, 111, 33, 1_800_000_000, Some("xterm"), false);
        r.output(b"hello\r\n");
        r.input(b"typed");
        let f = r.finish();
        assert_eq!(f.error, None);
        assert_eq!(f.hash, *blake3::hash(&buf).as_bytes());
        let l = lines(&buf);
        assert_eq!(l.len(), 2, "input is not recorded without record_input");
        assert_eq!(l[0]["version"], 2);
        assert_eq!(l[0]["width"], 111);
        assert_eq!(l[0]["height"], 33);
        assert_eq!(l[0]["env"]["TERM"], "xterm");
        assert_eq!(l[1][1], "o");
        assert_eq!(l[1][2], "hello\r\n");
    }

    #[test]
    fn input_when_asked_and_split_characters_carried() {
        let mut buf = Vec::new();
        let mut r = Recorder::start(&mut buf, 80, 24, 0, None, true);
        let e_acute = "é".as_bytes();
        r.output(&[b'a', e_acute[0]]);
        r.output(&[e_acute[1], b'b']);
        r.input(b"ls\r");
        r.output(&[0xff, b'c']);
        r.output(&[0xE2, 0x82]);
        let f = r.finish();
        assert!(f.error.is_none());
        let l = lines(&buf);
        let texts: Vec<(String, String)> = l[1..]
            .iter()
            .map(|e| {
                (
                    e[1].as_str().unwrap_or("").into(),
                    e[2].as_str().unwrap_or("").into(),
                )
            })
            .collect();
        assert_eq!(
            texts,
            [
                ("o".into(), "a".into()),
                ("o".into(), "éb".into()),
                ("i".into(), "ls\r".into()),
                ("o".into(), "\u{fffd}c".into()),
                ("o".into(), "\u{fffd}".into()),
            ]
        );
    }

    /// A writer that fails after `left` bytes, as a full disk does.
    struct Full {
        left: usize,
        got: Vec<u8>,
    }
    impl Write for Full {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if b.len() > self.left {
                return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
            }
            self.left -= b.len();
            self.got.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_ends_the_recording_not_the_command() {
        let mut w = Full {
            left: 200,
            got: Vec::new(),
        };
        let mut r = Recorder::start(&mut w, 80, 24, 0, None, false);
        for _ in 0..100 {
            r.output(b"0123456789");
        }
        let f = r.finish();
        let err = f.error.unwrap_or_default();
        assert!(err.contains("No space left on device"), "{err}");
        // What was written is whole lines, and the hash covers exactly it.
        assert!(w.got.ends_with(b"\n"));
        assert_eq!(f.written, w.got.len() as u64);
        assert_eq!(f.hash, *blake3::hash(&w.got).as_bytes());
    }
}
