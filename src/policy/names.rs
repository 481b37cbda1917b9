//! The name rules the policy language shares with the layers above it:
//! approver names (the approver key files, a token's `kid` and `iss`) and
//! nonce namespaces (the replay-state files). The policy layer owns them,
//! so a policy that loads never names something the runtime refuses, and
//! auth and state import them from here (policy imports neither).
#![forbid(unsafe_code)]

/// Whether `n` is a valid approver name: 1 to 64 of `[a-z0-9_.-]`,
/// starting alphanumeric. It names an approver key file and is a token's
/// `kid` and `iss`.
pub fn is_approver_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.as_bytes()[0].is_ascii_alphanumeric()
        && n.bytes()
            .all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-'))
}

/// Whether `ns` is a valid nonce namespace: 1 to 64 of `[a-z0-9_-]` (it
/// names a replay-state file).
pub fn is_namespace(ns: &str) -> bool {
    (1..=64).contains(&ns.len())
        && ns
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approver_names() {
        for ok in ["a", "ops-1", "alice.smith", "0_x", &"a".repeat(64)] {
            assert!(is_approver_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".a",
            "-a",
            "_a",
            "Alice",
            "a b",
            "a/b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(!is_approver_name(bad), "{bad}");
        }
    }

    #[test]
    fn namespaces() {
        for ok in ["x", "-a", "_", "ops_1-2", &"a".repeat(64)] {
            assert!(is_namespace(ok), "{ok}");
        }
        for bad in ["", "a.b", "A", "a b", "a/b", "é", &"a".repeat(65)] {
            assert!(!is_namespace(bad), "{bad}");
        }
    }
}
