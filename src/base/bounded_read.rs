//! Reading a whole file, or at most a limit of it, in two `read` calls:
//! one sized from what the caller knows of its length (fstat's size, or a
//! page for /proc files, which report 0), one that sees the end.
//! `Read::read_to_end` on a `File` first stats and seeks for its own size
//! hint, and through `Read::take` it starts from 32-byte probe reads and
//! doubles: seven reads for a 500-byte file. bdexec reads a handful of
//! small files on every call.
#![forbid(unsafe_code)]

use std::io::Read;

/// At most `limit + 1` bytes of `r` (so more than `limit` means the file
/// is longer than the caller accepts), read into a buffer with room for
/// `size_hint` bytes and the end. A wrong hint costs reads, never bytes.
pub fn read_up_to(r: impl Read, size_hint: u64, limit: u64) -> std::io::Result<Vec<u8>> {
    let want = size_hint.min(limit).saturating_add(1);
    // Room for the end-of-file read too: with at least 32 bytes spare the
    // standard loop reads straight into the buffer (no probe reads).
    let room = usize::try_from(want).unwrap_or(usize::MAX).max(64);
    let mut out = Vec::with_capacity(room);
    r.take(limit.saturating_add(1)).read_to_end(&mut out)?;
    Ok(out)
}

/// [`read_up_to`] as UTF-8 text (an error when it is not).
pub fn read_text_up_to(r: impl Read, size_hint: u64, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_up_to(r, size_hint, limit)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_whole_or_one_past_the_limit() {
        let data = vec![7u8; 5000];
        // Exact, low and high hints all give the same bytes.
        for hint in [0, 10, 5000, 1 << 20] {
            assert_eq!(read_up_to(&data[..], hint, 10_000).unwrap(), data, "{hint}");
        }
        // Longer than the limit: limit + 1 bytes, so the caller can tell.
        assert_eq!(read_up_to(&data[..], 5000, 100).unwrap().len(), 101);
        assert_eq!(read_up_to(&data[..], 5000, 5000).unwrap().len(), 5000);
        assert_eq!(read_up_to(&b""[..], 0, 10).unwrap(), b"");
        assert!(read_text_up_to(&[0xffu8, 0xfe][..], 2, 10).is_err());
        assert_eq!(read_text_up_to(&b"abc"[..], 3, 10).unwrap(), "abc");
    }
}
