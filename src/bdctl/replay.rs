//! `bdctl replay UUID [--raw | --speed N] [--file LOG]`: play a session
//! recording (src/exec/recording.rs) back, after checking it against the
//! BLAKE3 its exit record holds: a recording changed after the session,
//! or one no exit record vouches for, is refused.
#![forbid(unsafe_code)]

use super::exit;
use crate::audit::record::LineView;
use crate::exec::recording::SESSIONS_DIR;
use std::io::{BufRead as _, Read as _};
use std::path::Path;

/// What `bdctl replay` was asked.
pub struct Replay<'a> {
    pub uuid: &'a str,
    pub raw: bool,
    pub speed: f64,
    pub log: &'a Path,
}

/// A UUID as records write it: 8-4-4-4-12 lower-case hex.
fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => matches!(c, b'0'..=b'9' | b'a'..=b'f'),
        })
}

/// The `recording` hash of the exit record of the accept `uuid`.
fn recorded_hash(log: &Path, uuid: &str) -> Result<Option<String>, String> {
    let f = std::fs::File::open(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut found = None;
    for line in std::io::BufReader::new(f).split(b'\n') {
        let line = line.map_err(|e| format!("{}: {e}", log.display()))?;
        let Ok(v) = LineView::parse(&line) else {
            continue;
        };
        if v.text("event").as_deref() == Some(b"exit".as_slice())
            && v.text("accept").as_deref() == Some(uuid.as_bytes())
        {
            found = v
                .text("recording")
                .map(|h| String::from_utf8_lossy(&h).into_owned());
        }
    }
    Ok(found)
}

/// The recording's bytes, opened without following links in the
/// trusted sessions directory.
fn read_recording(uuid: &str) -> Result<Vec<u8>, String> {
    use nix::fcntl::{OFlag, openat};
    use nix::sys::stat::Mode;
    let dir = Path::new(SESSIONS_DIR);
    let dfd = crate::base::secure_fs::open_trusted_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let name = format!("{uuid}.cast");
    let fd = openat(
        std::os::fd::AsFd::as_fd(&dfd),
        name.as_str(),
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("{}/{name}: {e}", dir.display()))?;
    let mut buf = Vec::new();
    std::fs::File::from(fd)
        .read_to_end(&mut buf)
        .map_err(|e| format!("{}/{name}: {e}", dir.display()))?;
    Ok(buf)
}

/// Run `bdctl replay`.
pub fn replay(r: &Replay<'_>) -> i32 {
    if !is_uuid(r.uuid) {
        eprintln!(
            "bdctl: replay: {:?} is not a session UUID (the accept record's uuid)",
            r.uuid
        );
        return exit::USAGE;
    }
    if !(r.speed.is_finite() && r.speed > 0.0) {
        eprintln!("bdctl: replay: --speed must be a number above 0");
        return exit::USAGE;
    }
    let want = match recorded_hash(r.log, r.uuid) {
        Ok(Some(h)) => h,
        Ok(None) => {
            eprintln!(
                "bdctl: replay: no exit record of session {} holds a recording hash (still running, not recorded, or its monitor was killed): refused",
                r.uuid
            );
            return exit::FAILED;
        }
        Err(e) => {
            eprintln!("bdctl: replay: {e}");
            return exit::FAILED;
        }
    };
    let data = match read_recording(r.uuid) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("bdctl: replay: {e}");
            return exit::FAILED;
        }
    };
    let got = format!("blake3:{}", blake3::hash(&data).to_hex());
    if got != want {
        eprintln!(
            "bdctl: replay: {SESSIONS_DIR}/{}.cast does not match the hash in its exit record ({want}): changed after the session; refused",
            r.uuid
        );
        return exit::FAILED;
    }
    match play(&data, r.raw, r.speed, &mut std::io::stdout().lock()) {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            eprintln!("bdctl: replay: {e}");
            exit::FAILED
        }
    }
}

/// Write the output events of an asciicast v2 recording to `out`, with
/// their timing divided by `speed` (none with `raw`).
pub fn play(
    data: &[u8],
    raw: bool,
    speed: f64,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut lines = data.split(|b| *b == b'\n').filter(|l| !l.is_empty());
    let header: serde_json::Value = lines
        .next()
        .and_then(|l| serde_json::from_slice(l).ok())
        .ok_or_else(|| bad("not an asciicast recording (no header)"))?;
    if header["version"] != 2 {
        return Err(bad("not an asciicast v2 recording"));
    }
    let mut last = 0.0f64;
    for l in lines {
        let ev: serde_json::Value =
            serde_json::from_slice(l).map_err(|_| bad("a line of the recording is not JSON"))?;
        let (Some(t), Some(kind), Some(text)) = (ev[0].as_f64(), ev[1].as_str(), ev[2].as_str())
        else {
            return Err(bad("an event of the recording is not [time, type, text]"));
        };
        if kind != "o" {
            continue;
        }
        if !raw && t > last {
            out.flush()?;
            std::thread::sleep(std::time::Duration::from_secs_f64(
                ((t - last) / speed).min(60.0),
            ));
        }
        last = last.max(t);
        out.write_all(text.as_bytes())?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_only() {
        assert!(is_uuid("0a1b2c3d-0000-4000-8000-00000000abcd"));
        for bad in [
            "",
            "../../etc/shadow",
            "0A1B2C3D-0000-4000-8000-00000000ABCD",
            "0a1b2c3d-0000-4000-8000-00000000abc/",
            "0a1b2c3d00000-4000-8000-00000000abcd",
        ] {
            assert!(!is_uuid(bad), "{bad}");
        }
    }

    #[test]
    fn plays_output_only_in_order() {
        let cast = b"{\"version\":2,\"width\":80,\"height\":24}\n[0.001,\"o\",\"he\"]\n[0.002,\"i\",\"x\"]\n[0.003,\"o\",\"llo\\r\\n\"]\n";
        let mut out = Vec::new();
        play(cast, true, 1.0, &mut out).expect("plays");
        assert_eq!(out, b"hello\r\n");
        let mut out = Vec::new();
        play(cast, false, 1000.0, &mut out).expect("plays with timing");
        assert_eq!(out, b"hello\r\n");
        for bad in [
            &b"not json\n"[..],
            b"{\"version\":1}\n",
            b"{\"version\":2}\n[1]\n",
        ] {
            assert!(play(bad, true, 1.0, &mut Vec::new()).is_err());
        }
    }
}
