//! Tables of strings with no pointers in them, built at compile time.
//!
//! A static `&[&str]` (or `&[(&str, u32)]`) holds one pointer per string.
//! bdexec is a position-independent executable, so every such pointer is
//! relocated when the process starts: the C library writes it, and each
//! page of the table becomes a private copy in every call (a
//! copy-on-write page fault each, docs/performance.md "Relocated data",
//! session 19). A [`StrTable`] holds the strings' bytes one after the
//! other and where each ends: plain read-only data, nothing to relocate,
//! and only the pages a lookup reads are ever touched.
//!
//! Built in a `const` with [`StrTableBuilder`]; the size parameters come
//! from [`total_len`] and the count, and a mismatch fails the build.
#![forbid(unsafe_code)]

/// `N` strings, `BYTES` bytes in all, stored without pointers.
pub struct StrTable<const BYTES: usize, const N: usize> {
    text: [u8; BYTES],
    /// `ends[i]`: the offset in `text` just past string `i`.
    ends: [u16; N],
}

/// The total length in bytes of `strs` (a table's `BYTES`).
pub const fn total_len(strs: &[&str]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < strs.len() {
        n += strs[i].len();
        i += 1;
    }
    n
}

impl<const BYTES: usize, const N: usize> StrTable<BYTES, N> {
    /// The table of `strs`, in their order (evaluated at compile time).
    pub const fn new(strs: &[&str]) -> Self {
        let mut b = StrTableBuilder::new();
        let mut i = 0;
        while i < strs.len() {
            b.push(strs[i]);
            i += 1;
        }
        b.finish()
    }

    /// The number of strings.
    pub const fn len(&self) -> usize {
        N
    }

    /// Whether the table holds no string.
    pub const fn is_empty(&self) -> bool {
        N == 0
    }

    /// The bytes of string `i`.
    fn bytes(&self, i: usize) -> Option<&[u8]> {
        let end = usize::from(*self.ends.get(i)?);
        let start = match i.checked_sub(1) {
            Some(p) => usize::from(self.ends[p]),
            None => 0,
        };
        self.text.get(start..end)
    }

    /// String `i`; `None` past the end. (Each entry is a whole `&str`
    /// copied byte for byte, so the UTF-8 check never fails.)
    pub fn get(&self, i: usize) -> Option<&str> {
        std::str::from_utf8(self.bytes(i)?).ok()
    }

    /// Every string, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..N).filter_map(|i| self.get(i))
    }

    /// The index of `s` in a table sorted by bytes (as
    /// `slice::binary_search`: `Err` is where it would go).
    pub fn binary_search(&self, s: &str) -> Result<usize, usize> {
        let want = s.as_bytes();
        let (mut lo, mut hi) = (0, N);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.bytes(mid).unwrap_or_default().cmp(want) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }
}

/// Fills a [`StrTable`] one string at a time, at compile time (for
/// tables whose strings sit inside other structures).
pub struct StrTableBuilder<const BYTES: usize, const N: usize> {
    table: StrTable<BYTES, N>,
    count: usize,
    used: usize,
}

impl<const BYTES: usize, const N: usize> Default for StrTableBuilder<BYTES, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const BYTES: usize, const N: usize> StrTableBuilder<BYTES, N> {
    /// An empty builder. `BYTES` must fit the offsets (`u16`).
    pub const fn new() -> Self {
        assert!(
            BYTES <= u16::MAX as usize,
            "a StrTable holds at most 65535 bytes"
        );
        StrTableBuilder {
            table: StrTable {
                text: [0; BYTES],
                ends: [0; N],
            },
            count: 0,
            used: 0,
        }
    }

    /// Append `s` as the next string.
    pub const fn push(&mut self, s: &str) {
        assert!(self.count < N, "more strings than the table's N");
        let b = s.as_bytes();
        assert!(
            self.used + b.len() <= BYTES,
            "more bytes than the table's BYTES"
        );
        let mut i = 0;
        while i < b.len() {
            self.table.text[self.used + i] = b[i];
            i += 1;
        }
        self.used += b.len();
        self.table.ends[self.count] = self.used as u16;
        self.count += 1;
    }

    /// The table; every string and byte must have been pushed.
    pub const fn finish(self) -> StrTable<BYTES, N> {
        assert!(self.count == N, "fewer strings than the table's N");
        assert!(self.used == BYTES, "fewer bytes than the table's BYTES");
        self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORDS: &[&str] = &["", "a", "bc", "déf", "zz"];
    static TABLE: StrTable<{ total_len(WORDS) }, { WORDS.len() }> = StrTable::new(WORDS);

    #[test]
    fn every_string_back_in_order() {
        assert_eq!(TABLE.len(), WORDS.len());
        assert!(!TABLE.is_empty());
        assert_eq!(TABLE.iter().collect::<Vec<_>>(), WORDS);
        for (i, w) in WORDS.iter().enumerate() {
            assert_eq!(TABLE.get(i), Some(*w));
        }
        assert_eq!(TABLE.get(WORDS.len()), None);
    }

    #[test]
    fn binary_search_as_the_slice_does() {
        for probe in [
            "",
            "a",
            "b",
            "bc",
            "bd",
            "déf",
            "e",
            "zz",
            "zzz",
            "\u{10ffff}",
        ] {
            assert_eq!(
                TABLE.binary_search(probe),
                WORDS.binary_search(&probe),
                "{probe:?}"
            );
        }
        static EMPTY: StrTable<0, 0> = StrTable::new(&[]);
        assert!(EMPTY.is_empty());
        assert_eq!(EMPTY.binary_search("x"), Err(0));
        assert_eq!(EMPTY.iter().count(), 0);
    }
}
