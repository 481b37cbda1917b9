//! The hash chain over audit records.
//!
//! `h_n = BLAKE3("belladonna-audit-v1\0" || seq as u64 LE || prev || body)`
//! where `prev` is `h_{n-1}` (32 zero bytes for the first record, whose
//! seq is 1) and `body` is the exact bytes of the record's line between
//! the opening `{` and the `,"prev":` that starts the chain fields. The
//! verifier hashes the bytes it reads, never a re-serialisation.
#![forbid(unsafe_code)]

/// Domain separation prefix of every chain hash.
pub const DOMAIN: &[u8] = b"belladonna-audit-v1\0";

/// The `prev` of the first record.
pub const GENESIS: [u8; 32] = [0u8; 32];

/// Sequence number of the first record.
pub const FIRST_SEQ: u64 = 1;

/// Chain hash of one record.
pub fn chain_hash(seq: u64, prev: &[u8; 32], body: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(DOMAIN);
    h.update(&seq.to_le_bytes());
    h.update(prev);
    h.update(body);
    *h.finalize().as_bytes()
}

// Hex is written once, in base::hex; these are its names in the audit
// vocabulary.
pub use crate::base::hex::{encode as hex, push as push_hex};

/// Parse exactly 64 lowercase hex digits.
pub fn parse_hex32(s: &[u8]) -> Option<[u8; 32]> {
    crate::base::hex::decode(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_roundtrip() {
        let b: [u8; 32] = core::array::from_fn(|i| (i * 37) as u8);
        let h = hex(&b);
        assert_eq!(h.len(), 64);
        assert_eq!(parse_hex32(h.as_bytes()), Some(b));
        assert_eq!(parse_hex32(h.to_uppercase().as_bytes()), None);
        assert_eq!(parse_hex32(&h.as_bytes()[..62]), None);
    }

    #[test]
    fn hash_definition() {
        let prev = [7u8; 32];
        let mut input = Vec::new();
        input.extend_from_slice(b"belladonna-audit-v1\0");
        input.extend_from_slice(&5u64.to_le_bytes());
        input.extend_from_slice(&prev);
        input.extend_from_slice(b"\"seq\":5");
        assert_eq!(
            chain_hash(5, &prev, b"\"seq\":5"),
            *blake3::hash(&input).as_bytes()
        );
        assert_ne!(chain_hash(5, &prev, b"x"), chain_hash(6, &prev, b"x"));
        assert_ne!(chain_hash(5, &prev, b"x"), chain_hash(5, &GENESIS, b"x"));
    }
}
