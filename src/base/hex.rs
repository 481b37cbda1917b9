//! Lowercase hexadecimal, the one encoding of hashes, MACs, ids and keys
//! in the audit log, the state files and the command line.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Append the lowercase hex of `bytes` to `out`.
pub fn push(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
}

/// The lowercase hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Exactly `2 * N` lowercase hex digits, or `None` (uppercase, odd
/// length, any other byte).
pub fn decode<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values_and_refusals() {
        assert_eq!(encode(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        let mut v = b"x".to_vec();
        push(&mut v, &[0xde, 0xad]);
        assert_eq!(v, b"xdead");
        assert_eq!(decode::<2>(b"dead"), Some([0xde, 0xad]));
        assert_eq!(decode::<2>(b"DEAD"), None, "uppercase");
        assert_eq!(decode::<2>(b"dea"), None, "short");
        assert_eq!(decode::<2>(b"deadbe"), None, "long");
        assert_eq!(decode::<2>(b"de g"), None, "not hex");
        assert_eq!(decode::<0>(b""), Some([]));
    }

    proptest! {
        #[test]
        fn round_trip(b in proptest::array::uniform32(any::<u8>())) {
            let h = encode(&b);
            prop_assert_eq!(h.len(), 64);
            let mut v = Vec::new();
            push(&mut v, &b);
            prop_assert_eq!(v.as_slice(), h.as_bytes());
            prop_assert_eq!(decode::<32>(h.as_bytes()), Some(b));
        }
    }
}
