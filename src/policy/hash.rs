//! The policy hash: BLAKE3 over a canonical serialization of the parsed
//! model (not of the file text), so comments, whitespace, key order and
//! string quoting do not change it, while any change of meaning does.
//!
//! Canonical form: the domain-separation prefix [`DOMAIN`] followed by the
//! compact `serde_json` serialization of [`Policy`] (struct fields in
//! declaration order, no maps with unordered keys; `Rule::origin` is
//! skipped). Changing the model changes the hash, which is intended: a
//! pinned hash then reports drift.
#![forbid(unsafe_code)]

use crate::policy::model::Policy;

/// Domain separation for the policy hash.
pub const DOMAIN: &[u8] = b"belladonna-policy-v1\0";

/// The canonical hash of a policy.
pub fn policy_hash(p: &Policy) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(DOMAIN);
    // Serializing the model cannot fail: every string and path in it came
    // from UTF-8 text and there are no maps with non-string keys. Should
    // it ever fail, the error text is hashed under a different marker, so
    // the result can never equal the hash of a serializable policy.
    if let Err(e) = serde_json::to_writer(&mut h, p) {
        let mut h2 = blake3::Hasher::new();
        h2.update(b"belladonna-policy-unserializable\0");
        h2.update(e.to_string().as_bytes());
        return *h2.finalize().as_bytes();
    }
    *h.finalize().as_bytes()
}

/// Lower-case hex of a hash.
pub fn hex(h: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for b in h {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse::parse_main;
    use std::path::Path;

    fn h(src: &str) -> [u8; 32] {
        match parse_main(src, Path::new("/p.toml")) {
            Ok(p) => policy_hash(&p),
            Err(e) => panic!("{e}"),
        }
    }

    const A: &str = r#"version = 1
[defaults]
env_keep = ["TERM"]
setenv = { A = "1", B = "2" }
[[rule]]
name = "r"
users = ["alice"]
commands = ["/usr/bin/id", "/usr/bin/journalctl *"]
auth = "none"
"#;

    const A_REFORMATTED: &str = r#"
# A comment, different spacing, key order and quoting.
version=1

[[rule]]
auth='none'     # trailing comment
commands = [ '/usr/bin/id' ,
    "/usr/bin/journalctl   *",
]
users=[ "alice" ]
name = 'r'

[defaults]
setenv = { B = "2", A = "1" }
env_keep = [ 'TERM' ]
"#;

    #[test]
    fn formatting_does_not_change_the_hash() {
        assert_eq!(h(A), h(A_REFORMATTED));
        // The origin (line numbers) moved, and it still is the same hash.
    }

    #[test]
    fn meaning_changes_the_hash() {
        let base = h(A);
        assert_ne!(
            base,
            h(&A.replace("auth = \"none\"", "auth = \"password\""))
        );
        assert_ne!(base, h(&A.replace("\"alice\"", "\"bob\"")));
        assert_ne!(base, h(&A.replace("journalctl *", "journalctl")));
        assert_ne!(base, h(&A.replace("\"TERM\"", "\"TERM\", \"LANG\"")));
        // An explicit default equals the implicit one (same meaning).
        assert_eq!(
            base,
            h(&A.replace("auth = \"none\"", "auth = \"none\"\nrun_as = [\"root\"]"))
        );
    }

    #[test]
    fn hex_format() {
        let mut x = [0u8; 32];
        x[0] = 0xab;
        x[31] = 0x01;
        let s = hex(&x);
        assert_eq!(s.len(), 64);
        assert!(s.starts_with("ab00"));
        assert!(s.ends_with("0001"));
    }
}
