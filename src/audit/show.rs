//! `bdctl audit show`: a human view (one line per record, every
//! caller-controlled string escaped for the terminal) or `--json`, which
//! passes through the lines that parse as records. Chain checking is
//! `bdctl audit verify`'s job, not this view's.
#![forbid(unsafe_code)]

use super::MAX_LINE;
use super::chain::hex;
use super::record::{EventKind, LineView, Value, decode_str};
use super::verify::{LineRead, OpenError, open_log, read_line_capped};
use crate::base::escape::display;
use std::collections::HashSet;
use std::fmt;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

/// Why `show` stopped.
#[derive(Debug)]
pub enum ShowError {
    Open(io::Error),
    Symlink,
    NotRegular,
    Read(io::Error),
    Write(io::Error),
}

impl fmt::Display for ShowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShowError::Open(e) => write!(f, "cannot open the audit log: {e}"),
            ShowError::Symlink => write!(f, "the audit log path is a symbolic link (not followed)"),
            ShowError::NotRegular => write!(f, "the audit log is not a regular file"),
            ShowError::Read(e) => write!(f, "cannot read the audit log: {e}"),
            ShowError::Write(e) => write!(f, "cannot write the output: {e}"),
        }
    }
}

impl std::error::Error for ShowError {}

impl ShowError {
    /// The reader went away (`bdctl audit show | head`): not worth an
    /// error message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, ShowError::Write(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// Write the log at `path` to `out`: human lines, or with `json` the
/// record lines as they are.
pub fn show(path: &Path, json: bool, out: &mut dyn Write) -> Result<(), ShowError> {
    let (file, len) = open_log(path).map_err(|e| match e {
        OpenError::Io(e) => ShowError::Open(e),
        OpenError::Symlink => ShowError::Symlink,
        OpenError::NotRegular => ShowError::NotRegular,
    })?;
    // Accept records of monitored commands are marked when no exit
    // record names them: a first pass collects the names.
    let exits = if json {
        HashSet::new()
    } else {
        exits_recorded(&file, len)?
    };
    let mut r = BufReader::with_capacity(256 * 1024, Read::take(&file, len));
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        line += 1;
        let (terminated, n) =
            match read_line_capped(&mut r, &mut buf, MAX_LINE).map_err(ShowError::Read)? {
                LineRead::Eof => break,
                LineRead::Line {
                    too_long: true,
                    len,
                    ..
                } => {
                    if !json {
                        writeln!(
                            out,
                            "line {line}: not shown (line of {len} bytes is too long)"
                        )
                        .map_err(ShowError::Write)?;
                    }
                    continue;
                }
                LineRead::Line {
                    terminated, len, ..
                } => (terminated, len),
            };
        let parsed = LineView::parse(&buf);
        let res = match (&parsed, json) {
            (Ok(_), true) if terminated => out.write_all(&buf).and_then(|()| out.write_all(b"\n")),
            (_, true) => Ok(()),
            (_, false) if !terminated => {
                writeln!(out, "line {line}: torn tail ({n} bytes, pending recovery)")
            }
            (Ok(v), false) => {
                let missing = v.event == EventKind::Accept
                    && v.get("monitor") == Some(&Value::Bool(true))
                    && !v.text("uuid").is_some_and(|u| exits.contains(&u));
                let note = if missing { " (no exit recorded)" } else { "" };
                writeln!(out, "{}{note}", human(v))
            }
            (Err(e), false) => writeln!(out, "line {line}: not a record ({e})"),
        };
        res.map_err(ShowError::Write)?;
    }
    out.flush().map_err(ShowError::Write)
}

/// The accept UUIDs that `exit` records of the log name.
fn exits_recorded(file: &std::fs::File, len: u64) -> Result<HashSet<Vec<u8>>, ShowError> {
    use std::io::{Seek, SeekFrom};
    let mut f = file;
    let mut r = BufReader::with_capacity(256 * 1024, Read::take(f, len));
    let mut buf = Vec::new();
    let mut set = HashSet::new();
    loop {
        match read_line_capped(&mut r, &mut buf, MAX_LINE).map_err(ShowError::Read)? {
            LineRead::Eof => break,
            LineRead::Line { too_long: true, .. } => continue,
            LineRead::Line { .. } => {}
        }
        if let Ok(v) = LineView::parse(&buf)
            && v.event == EventKind::Exit
            && let Some(u) = v.text("accept")
        {
            set.insert(u);
        }
    }
    f.seek(SeekFrom::Start(0)).map_err(ShowError::Read)?;
    Ok(set)
}

fn text(v: &LineView<'_>, key: &str) -> Option<String> {
    v.text(key).map(|b| display(&b))
}

fn num(v: &LineView<'_>, key: &str) -> Option<u64> {
    match v.get(key) {
        Some(Value::Int(n)) => Some(*n),
        _ => None,
    }
}

/// Characters an argument may hold and still be shown without quotes.
fn plain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c)
}

/// True when `s` starts with the log's own notation for an invalid byte
/// (`\xNN`, lowercase hex, NN from 80: audit-format.md section 2).
fn byte_notation(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 4
        && b[0] == b'\\'
        && b[1] == b'x'
        && matches!(b[2], b'8'..=b'9' | b'a'..=b'f')
        && matches!(b[3], b'0'..=b'9' | b'a'..=b'f')
}

/// One argument for the human view, unambiguous: an argument of plain
/// characters only (`[A-Za-z0-9_./:=@%+,-]`) is shown as it is; any other
/// is quoted `'...'`, and inside the quotes `\'` is a quote, `\\` a
/// backslash, `\u{X}` the character U+X (a control, invisible or
/// non-space white-space character) and `\xNN` the log's notation for an
/// invalid byte (which the log itself does not tell apart from those four
/// characters typed). So `["a b"]` shows `'a b'` and `["a","b"]` shows
/// `a b`, and no two argument lists show the same, but for that one
/// ambiguity of the log.
fn arg(raw: &[u8]) -> String {
    let text = decode_str(raw);
    let mut body = String::with_capacity(text.len());
    let mut plain = !text.is_empty();
    for chunk in text.utf8_chunks() {
        let valid = chunk.valid();
        for (i, c) in valid.char_indices() {
            plain &= plain_char(c);
            let mut buf = [0u8; 4];
            let enc = c.encode_utf8(&mut buf);
            match c {
                '\\' if byte_notation(&valid[i..]) => body.push('\\'),
                '\\' => body.push_str("\\\\"),
                '\'' => body.push_str("\\'"),
                ' ' => body.push(' '),
                _ if c.is_whitespace() || display(enc.as_bytes()) != *enc => {
                    body.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
                }
                _ => body.push(c),
            }
        }
        for b in chunk.invalid() {
            plain = false;
            body.push_str(&format!("\\x{b:02x}"));
        }
    }
    if plain { body } else { format!("'{body}'") }
}

/// One human line for a parsed record.
pub fn human(v: &LineView<'_>) -> String {
    let time = text(v, "time").unwrap_or_default();
    if v.event == EventKind::Recovery {
        return match v.torn {
            Some(t) => format!(
                "{time} #{} recovery: torn fragment of {} bytes at offset {} (blake3 {})",
                v.seq,
                t.length,
                t.offset,
                &hex(&t.hash)[..16]
            ),
            None => format!("{time} #{} recovery", v.seq),
        };
    }
    if v.event == EventKind::Exit {
        return exit_line(v, &time);
    }
    if let Some((e, n)) = v.seal {
        return format!("{time} #{} seal: epoch {e} closed ({n} records)", v.seq);
    }
    if let Some(r) = v.rotation {
        let retired = if r.retired_index > 0 {
            format!(
                " (retention: rotated files up to .{} deleted, last seq {})",
                r.retired_index, r.retired_seq
            )
        } else {
            String::new()
        };
        let what = if r.close {
            format!("file closed, rotated to .{}", r.index)
        } else {
            format!("file opened after .{}", r.index)
        };
        return format!("{time} #{} rotate: {what}{retired}", v.seq);
    }
    let who =
        text(v, "submituser").unwrap_or_else(|| format!("#{}", num(v, "submituid").unwrap_or(0)));
    let target = text(v, "runuser")
        .or_else(|| num(v, "runuid").map(|u| format!("#{u}")))
        .unwrap_or_else(|| "?".into());
    let argv: Vec<&[u8]> = match v.get("runargv") {
        Some(Value::Arr(a)) => a.clone(),
        _ => Vec::new(),
    };
    let mut cmd: Vec<String> = Vec::new();
    match v.get("command") {
        Some(Value::Str(c)) => {
            cmd.push(arg(c));
            cmd.extend(argv.iter().skip(1).map(|a| arg(a)));
        }
        _ => cmd.extend(argv.iter().map(|a| arg(a))),
    }
    let rule = text(v, "rule").map_or_else(|| "no rule".to_string(), |r| format!("rule {r}"));
    let reason = text(v, "reason").unwrap_or_default();
    // Incident events share one layout: name the event itself.
    let event = match v.event {
        EventKind::Incident => text(v, "event").unwrap_or_default(),
        e => e.as_str().to_string(),
    };
    format!(
        "{time} #{} {event} {who} -> {target}: {} [{rule}] {reason}{}",
        v.seq,
        cmd.join(" "),
        bounds_note(v)
    )
}

/// `... #N exit of UUID: status 0 | signal TERM (core dumped), 1.234567 s,
/// maxrss 1234 KiB, user 0.001 s, sys 0.002 s`.
fn exit_line(v: &LineView<'_>, time: &str) -> String {
    let secs = |key| {
        let us = num(v, key).unwrap_or(0);
        format!("{}.{:06} s", us / 1_000_000, us % 1_000_000)
    };
    let how = match (num(v, "status"), text(v, "signal")) {
        (Some(n), _) => format!("status {n}"),
        (None, Some(s)) => format!("signal {s}"),
        (None, None) => "?".into(),
    };
    let core = if v.get("core_dumped") == Some(&Value::Bool(true)) {
        " (core dumped)"
    } else {
        ""
    };
    // noexec runs: how many execs the monitor refused.
    let refused = num(v, "exec_refused")
        .map(|n| format!(", {n} exec refused (noexec)"))
        .unwrap_or_default();
    let timed_out = if v.get("timed_out") == Some(&Value::Bool(true)) {
        " (timed out)"
    } else {
        ""
    };
    format!(
        "{time} #{} exit of {}: {how}{core}{timed_out}, {}, maxrss {} KiB, user {}, sys {}{refused}",
        v.seq,
        text(v, "accept").unwrap_or_default(),
        secs("duration_us"),
        num(v, "maxrss_kb").unwrap_or(0),
        secs("utime_us"),
        secs("stime_us"),
    )
}

/// What a bounded record left out (docs/audit-format.md, "Bounds").
fn bounds_note(v: &LineView<'_>) -> String {
    let mut note = String::new();
    if let Some(n) = num(v, "runargv_argc") {
        let bytes = num(v, "runargv_bytes").unwrap_or(0);
        note.push_str(&format!(" (argv cut: {n} arguments, {bytes} bytes in all)"));
    }
    let cut: Vec<&str> = ["command", "submitcwd", "reason"]
        .into_iter()
        .filter(|f| v.get(&format!("{f}_blake3")).is_some())
        .collect();
    if !cut.is_empty() {
        note.push_str(&format!(" (cut: {})", cut.join(", ")));
    }
    if let Some(n) = num(v, "suppressed") {
        note.push_str(&format!(
            " ({n} earlier refusals of this user not recorded)"
        ));
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::chain::GENESIS;
    use crate::audit::record::{Torn, encode_record, encode_recovery};
    use crate::audit::testutil::sample;

    #[test]
    fn bounded_records_say_what_they_left_out() {
        let argv = vec![vec![b'x'; 5000], b"tail".to_vec()];
        let mut rec = sample(&argv);
        rec.suppressed = Some(12);
        let long_reason = "r".repeat(2000);
        rec.reason = &long_reason;
        let mut c = Vec::new();
        encode_record(&mut c, &rec, 1, &GENESIS);
        let v = LineView::parse(&c[..c.len() - 1]).expect("parse");
        let s = human(&v);
        assert!(
            s.ends_with(
                " (argv cut: 2 arguments, 5004 bytes in all) (cut: reason) \
                 (12 earlier refusals of this user not recorded)"
            ),
            "{s}"
        );
    }

    #[test]
    fn human_and_json_views() {
        let argv = vec![
            b"systemctl".to_vec(),
            b"restart".to_vec(),
            b"a b".to_vec(),
            b"\x1b[2J\xff".to_vec(),
        ];
        let mut c = Vec::new();
        let h = encode_record(&mut c, &sample(&argv), 1, &GENESIS);
        let mut rej = sample(&argv);
        rej.event = crate::audit::Event::Reject;
        rej.submituser = None;
        rej.runuser = None;
        rej.command = None;
        rej.rule = None;
        rej.reason = "no rule matches\nfake line";
        let h = encode_record(&mut c, &rej, 2, &h);
        let t = Torn {
            offset: 1,
            length: 2,
            hash: [0; 32],
        };
        encode_recovery(&mut c, 3, &h, rej.time, b"host", 1, &t);
        c.extend_from_slice(b"garbage\n{\"seq\":4");
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("log");
        std::fs::write(&p, &c).expect("write");

        let mut out = Vec::new();
        show(&p, false, &mut out).expect("show");
        let s = String::from_utf8(out).expect("utf8");
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 5, "{s}");
        assert_eq!(
            lines[0],
            "2026-11-30T17:37:19.123456789Z #1 accept alice -> root: /usr/bin/systemctl restart 'a b' '\\u{1b}[2J\\xff' [rule web] matched"
        );
        assert_eq!(
            lines[1],
            "2026-11-30T17:37:19.123456789Z #2 reject #1000 -> #0: systemctl restart 'a b' '\\u{1b}[2J\\xff' [no rule] no rule matches\\x0afake line"
        );
        assert!(
            lines[2].contains("#3 recovery: torn fragment of 2 bytes at offset 1"),
            "{}",
            lines[2]
        );
        assert!(lines[3].starts_with("line 4: not a record"), "{}", lines[3]);
        assert_eq!(lines[4], "line 5: torn tail (8 bytes, pending recovery)");
        assert!(!s.contains('\x1b'));
        assert!(s.contains("\\u{1b}"), "{s}");

        let mut out = Vec::new();
        show(&p, true, &mut out).expect("show json");
        let s = String::from_utf8(out).expect("utf8");
        assert_eq!(s.lines().count(), 3);
        for l in s.lines() {
            let _: serde_json::Value = serde_json::from_str(l).expect("json");
        }
    }

    /// Reads a shown argument list back (the test's own parser of the
    /// documented notation): `None` when it is malformed.
    fn parse_shown(s: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        let mut it = s.chars().peekable();
        while let Some(c) = it.next() {
            if c == ' ' {
                continue;
            }
            if c != '\'' {
                let mut w = String::from(c);
                while let Some(&n) = it.peek() {
                    if n == ' ' {
                        break;
                    }
                    w.push(n);
                    it.next();
                }
                out.push(w);
                continue;
            }
            let mut w = String::new();
            loop {
                match it.next()? {
                    '\'' => break,
                    '\\' => match it.next()? {
                        '\\' => w.push('\\'),
                        '\'' => w.push('\''),
                        'x' => {
                            w.push_str("\\x");
                            w.push(it.next()?);
                            w.push(it.next()?);
                        }
                        'u' => {
                            if it.next()? != '{' {
                                return None;
                            }
                            let hex: String = it.by_ref().take_while(|c| *c != '}').collect();
                            w.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                        }
                        _ => return None,
                    },
                    c => w.push(c),
                }
            }
            out.push(w);
        }
        Some(out)
    }

    fn shown(argv: &[&str]) -> String {
        argv.iter()
            .map(|a| {
                let mut j = Vec::new();
                crate::base::escape::json_str(&mut j, a.as_bytes());
                arg(&j[1..j.len() - 1])
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn arguments_are_unambiguous() {
        // Each group shows differently; each list reads back as itself.
        let lists: &[&[&str]] = &[
            &["a b"],
            &["a", "b"],
            &["a\u{a0}b"],
            &["a\u{3000}b"],
            &["a\tb"],
            &["a\\x09b"],
            &["\u{1b}"],
            &["\\x1b"],
            &["\\u{1b}"],
            &["'"],
            &["\\'"],
            &["\\", "'"],
            &["a' 'b"],
            &["a'", "'b"],
            &[""],
            &[],
            &["", ""],
            &["\u{202e}x"],
            &["é"],
            &["--opt=a/b"],
        ];
        let mut seen = std::collections::HashMap::new();
        for l in lists {
            let s = shown(l);
            if let Some(prev) = seen.insert(s.clone(), *l) {
                panic!("{prev:?} and {l:?} both show as {s:?}");
            }
            let back = parse_shown(&s).unwrap_or_else(|| panic!("{s:?} does not parse"));
            assert_eq!(back, *l, "{s:?}");
            assert!(!s.chars().any(|c| c.is_control()), "{s:?}");
        }
        assert_eq!(shown(&["a b"]), "'a b'");
        assert_eq!(shown(&["a", "b"]), "a b");
        assert_eq!(shown(&["--opt=a/b"]), "--opt=a/b");
    }

    proptest::proptest! {
        #[test]
        fn shown_arguments_read_back(
            argv in proptest::collection::vec("[ a'\\\\x0-9\t\u{a0}\u{1b}\u{202e}é\"]{0,8}", 0..4)
        ) {
            let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
            proptest::prop_assert_eq!(parse_shown(&shown(&refs)), Some(argv.clone()));
        }
    }
}
