//! Little-endian, length-prefixed fields of the small binary files in
//! the state directory (the policy cache, the PAM stack memo): `u32`
//! values, and `bytes` as a `u32` length then the bytes. The reader
//! hands out positions ([`Span`]s) in the buffer, so a caller may keep
//! them instead of copies; every read is bounds-checked and `None` past
//! the end.
#![forbid(unsafe_code)]

/// A byte range `(start, end)` in the buffer read.
pub type Span = (usize, usize);

/// Append `v`.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Append `b`'s length, then `b`.
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u32(out, b.len() as u32);
    out.extend_from_slice(b);
}

/// A reader over `b` from position `pos`.
pub struct Reader<'a> {
    pub b: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }

    /// The next `n` bytes' span.
    pub fn take(&mut self, n: usize) -> Option<Span> {
        let end = self.pos.checked_add(n)?;
        if end > self.b.len() {
            return None;
        }
        let r = (self.pos, end);
        self.pos = end;
        Some(r)
    }

    /// The next `n` bytes.
    pub fn slice(&mut self, n: usize) -> Option<&'a [u8]> {
        let (s, e) = self.take(n)?;
        Some(&self.b[s..e])
    }

    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.slice(4)?.try_into().ok()?))
    }

    pub fn arr(&mut self) -> Option<[u8; 32]> {
        self.slice(32)?.try_into().ok()
    }

    /// The span of the next `bytes` field.
    pub fn bytes(&mut self) -> Option<Span> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    /// The next `bytes` field.
    pub fn bytes_slice(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.slice(n)
    }

    /// Whether everything was read.
    pub fn at_end(&self) -> bool {
        self.pos == self.b.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_back_and_nothing_past_the_end() {
        let mut out = Vec::new();
        put_u32(&mut out, 7);
        put_bytes(&mut out, b"abc");
        out.extend_from_slice(&[9; 32]);
        let mut r = Reader::new(&out);
        assert_eq!(r.u32(), Some(7));
        assert_eq!(r.bytes(), Some((8, 11)));
        assert_eq!(r.arr(), Some([9; 32]));
        assert!(r.at_end());
        assert_eq!(r.u32(), None);
        let mut short = Reader::new(&out[..10]);
        short.u32();
        assert_eq!(short.bytes_slice(), None, "a length past the end");
        let mut huge = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1]);
        assert_eq!(huge.bytes(), None);
    }
}
