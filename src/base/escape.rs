//! Escaping of caller-controlled bytes for logs and terminals.
//!
//! Everything that comes from the caller (argv, cwd, tty name, host name)
//! is arbitrary bytes: possibly invalid UTF-8, possibly terminal escape
//! sequences. Two encodings, both total (they accept any input) and both
//! guaranteed free of raw control characters:
//!
//! * [`json_str`]: a JSON string literal for the audit log. Valid UTF-8 is
//!   kept as is, except `"` and `\` (JSON escapes), every C0 control, DEL,
//!   the C1 controls U+0080..U+009F and U+2028/U+2029, which become
//!   `\u00XX`/`\uXXXX` (lowercase hex). Each byte of invalid UTF-8 becomes
//!   the four characters `\xNN` (lowercase hex), which JSON writes as
//!   `\\xNN`. The output always parses as JSON.
//! * [`display`]: one line for a human on a terminal. Printable text is
//!   kept; controls, line/paragraph separators, bidirectional and other
//!   invisible format characters, and invalid bytes become `\xNN` per byte.
//!
//! Note: in both encodings a literal backslash followed by `xNN` in the
//! input reads the same as an escaped byte (`\xff` typed by the caller vs
//! the byte 0xff). The audit format keeps this (documented in
//! `docs/audit-format.md`); it never lets raw bytes through.
#![forbid(unsafe_code)]

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex2(out: &mut Vec<u8>, b: u8) {
    out.push(HEX[usize::from(b >> 4)]);
    out.push(HEX[usize::from(b & 0x0f)]);
}

/// True for the characters that JSON output writes as `\uXXXX`.
fn json_needs_u_escape(c: char) -> bool {
    matches!(c, '\0'..='\x1f' | '\x7f' | '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}')
}

/// Append `s` as a JSON string literal (with the quotes) to `out`.
///
/// See the module documentation for the exact rules.
pub fn json_str(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for chunk in s.utf8_chunks() {
        let valid = chunk.valid();
        let mut copied = 0;
        for (i, c) in valid.char_indices() {
            let esc = c == '"' || c == '\\' || json_needs_u_escape(c);
            if !esc {
                continue;
            }
            out.extend_from_slice(&valid.as_bytes()[copied..i]);
            copied = i + c.len_utf8();
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                _ => {
                    let v = u32::from(c);
                    out.extend_from_slice(b"\\u");
                    push_hex2(out, (v >> 8) as u8);
                    push_hex2(out, (v & 0xff) as u8);
                }
            }
        }
        out.extend_from_slice(&valid.as_bytes()[copied..]);
        for &b in chunk.invalid() {
            out.extend_from_slice(b"\\\\x");
            push_hex2(out, b);
        }
    }
    out.push(b'"');
}

/// Characters [`display`] never shows raw: controls, separators and
/// invisible format characters that can reorder or hide text.
fn display_escapes(c: char) -> bool {
    matches!(
        c,
        '\0'..='\x1f'
            | '\x7f'
            | '\u{80}'..='\u{9f}'
            | '\u{ad}'
            | '\u{61c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

/// Render arbitrary bytes as one line of text for a terminal message.
///
/// Printable text is kept; control characters (C0, DEL, C1), line and
/// paragraph separators, bidirectional overrides and other invisible
/// format characters, and every byte of invalid UTF-8 are shown as `\xNN`
/// (one per byte of their encoding). The result never contains a raw
/// control character or a newline.
pub fn display(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            if display_escapes(c) {
                let mut buf = [0u8; 4];
                for &b in c.encode_utf8(&mut buf).as_bytes() {
                    push_display_hex(&mut out, b);
                }
            } else {
                out.push(c);
            }
        }
        for &b in chunk.invalid() {
            push_display_hex(&mut out, b);
        }
    }
    out
}

fn push_display_hex(out: &mut String, b: u8) {
    out.push('\\');
    out.push('x');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0x0f)]));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn j(s: &[u8]) -> String {
        let mut v = Vec::new();
        json_str(&mut v, s);
        String::from_utf8(v).expect("json_str output is UTF-8")
    }

    #[test]
    fn plain_text_kept() {
        assert_eq!(j(b"ls -la /tmp"), r#""ls -la /tmp""#);
        assert_eq!(j("grüße €".as_bytes()), "\"grüße €\"");
        assert_eq!(j(b""), r#""""#);
    }

    #[test]
    fn quote_and_backslash() {
        assert_eq!(j(br#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn controls_escaped() {
        assert_eq!(j(b"\0"), r#""\u0000""#);
        assert_eq!(j(b"a\nb\tc\r"), r#""a\u000ab\u0009c\u000d""#);
        assert_eq!(j(b"\x1b[31mred\x1b[0m"), r#""\u001b[31mred\u001b[0m""#);
        assert_eq!(j(b"\x7f"), r#""\u007f""#);
        assert_eq!(j("\u{85}\u{9b}".as_bytes()), r#""\u0085\u009b""#);
        assert_eq!(j("x\u{2028}y\u{2029}".as_bytes()), r#""x\u2028y\u2029""#);
        // U+00A0 is not a control: kept.
        assert_eq!(j("\u{a0}".as_bytes()), "\"\u{a0}\"");
    }

    #[test]
    fn invalid_bytes() {
        assert_eq!(j(b"\xff"), r#""\\xff""#);
        assert_eq!(j(b"a\xc3(b"), r#""a\\xc3(b""#);
        // A truncated multi-byte sequence at the end.
        assert_eq!(j(b"ok\xe2\x82"), r#""ok\\xe2\\x82""#);
        // Overlong encoding of '/' and a lone surrogate encoding.
        assert_eq!(j(b"\xc0\xaf"), r#""\\xc0\\xaf""#);
        assert_eq!(j(b"\xed\xa0\x80"), r#""\\xed\\xa0\\x80""#);
    }

    #[test]
    fn decoded_by_serde() {
        let cases: &[(&[u8], &str)] = &[
            (b"\x1b]0;pwned\x07", "\u{1b}]0;pwned\u{7}"),
            (b"\xff\xfe", "\\xff\\xfe"),
            (b"\"\\", "\"\\"),
            (b"\0nul", "\0nul"),
        ];
        for (input, want) in cases {
            let got: String = serde_json::from_str(&j(input)).expect("valid JSON");
            assert_eq!(&got, want);
        }
    }

    #[test]
    fn display_rules() {
        assert_eq!(display(b"ls -la"), "ls -la");
        assert_eq!(display(b"\x1b[2J"), "\\x1b[2J");
        assert_eq!(display(b"a\nb\r\0"), "a\\x0ab\\x0d\\x00");
        assert_eq!(display(b"\xff/x"), "\\xff/x");
        assert_eq!(
            display("\u{202e}txt.exe".as_bytes()),
            "\\xe2\\x80\\xaetxt.exe"
        );
        assert_eq!(display("\u{9b}".as_bytes()), "\\xc2\\x9b");
        assert_eq!(display("grüße".as_bytes()), "grüße");
        assert_eq!(display(b"\x7f"), "\\x7f");
    }

    proptest! {
        #[test]
        fn json_always_parses(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let s = j(&bytes);
            let v: String = serde_json::from_str(&s).expect("json_str output must parse");
            // Lossless for valid UTF-8 without the escaped-byte notation.
            if let Ok(text) = std::str::from_utf8(&bytes) {
                prop_assert_eq!(v, text);
            }
            prop_assert!(!s.bytes().any(|b| b < 0x20 || b == 0x7f));
        }

        #[test]
        fn json_of_valid_text_roundtrips(text in "\\PC*|[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{2028}\\u{2029}\"\\\\a]*") {
            let v: String = serde_json::from_str(&j(text.as_bytes())).expect("parse");
            prop_assert_eq!(v, text);
        }

        #[test]
        fn display_has_no_controls(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let s = display(&bytes);
            let bad = s.chars().any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}');
            prop_assert!(!bad, "raw control in {:?}", s);
        }
    }
}
