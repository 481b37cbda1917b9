//! The policy hash: BLAKE3 over a canonical serialization of the parsed
//! model (not of the file text), so comments, whitespace, key order and
//! string quoting do not change it, while any change of meaning does.
//!
//! Canonical form: the domain-separation prefix [`DOMAIN`] followed by the
//! compact `serde_json` serialization of [`Policy`] (struct fields in
//! declaration order, no maps with unordered keys; `Rule::origin` is
//! skipped). Changing the model changes the hash, which is intended: a
//! pinned hash then reports drift. Sandbox profiles (`Policy::sandboxes`)
//! and the rules' `sandbox` and `caps` are part of the model, so they are
//! covered; their lists are sorted and deduplicated by the parser, so their
//! order in the file does not matter either.
//!
//! [`segment_hashes`] hashes the segments of DESIGN section 5 separately,
//! each under its own domain prefix, on the same canonical serialization:
//! - `auth`: the rules (all their fields, including `auth`, `caps` and the
//!   `sandbox` name they reference);
//! - `sandbox`: the profiles and `defaults.sandbox`; bdexec keys its cache
//!   of compiled seccomp filters on this one;
//! - `rate`: the rules' `rate` limits, as `[[rule name, rate], ...]` for
//!   the rules that have one (`[]` when none does);
//! - `decoy`: incident response (docs/incident-response.md): `[incident]`,
//!   the `[[decoy]]` entries and the names of the `break_glass` rules; the
//!   hash of an empty segment (`[]`) when the policy has none of them.
//!
//! The approval additions (docs/approval-tokens.md) belong to `auth`: the
//! `[approvers.NAME]` keys and epochs, the rules' `approval` requirements
//! (part of the rules), `defaults.timestamp_timeout`, `defaults.pam_account`
//! (only when off) and `defaults.pam_account_memo` (only when off). A rule's `rate`
//! is hashed in `rate` only (the auth segment hashes the rules with their
//! `rate` removed). When a policy has no approvers, the default
//! timestamp timeout and no rate, the auth segment is the hash of the
//! rules alone, exactly as before these keys existed.
#![forbid(unsafe_code)]

use crate::policy::model::Policy;
use serde::Serialize;

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

/// Domain separation prefixes of the segment hashes.
pub const SEGMENT_AUTH: &[u8] = b"belladonna-segment-auth-v1\0";
pub const SEGMENT_RATE: &[u8] = b"belladonna-segment-rate-v1\0";
pub const SEGMENT_SANDBOX: &[u8] = b"belladonna-segment-sandbox-v1\0";
pub const SEGMENT_DECOY: &[u8] = b"belladonna-segment-decoy-v1\0";

/// The per-segment hashes of a policy (DESIGN section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Segments {
    pub auth: [u8; 32],
    pub rate: [u8; 32],
    pub sandbox: [u8; 32],
    pub decoy: [u8; 32],
}

fn segment_hash(domain: &[u8], value: &impl Serialize) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(domain);
    if let Err(e) = serde_json::to_writer(&mut h, value) {
        // As in `policy_hash`: never equal to a serializable segment's hash.
        let mut h2 = blake3::Hasher::new();
        h2.update(b"belladonna-segment-unserializable\0");
        h2.update(domain);
        h2.update(e.to_string().as_bytes());
        return *h2.finalize().as_bytes();
    }
    *h.finalize().as_bytes()
}

/// The auth-segment additions beyond the rules.
#[derive(Serialize)]
struct AuthExtra<'a> {
    approvers: &'a [crate::policy::model::Approver],
    timestamp_timeout: u64,
    /// Only when off, so that adding the key kept existing hashes.
    #[serde(skip_serializing_if = "crate::policy::model::is_true")]
    pam_account: bool,
    /// Only when off, for the same reason.
    #[serde(skip_serializing_if = "crate::policy::model::is_true")]
    pam_account_memo: bool,
}

fn auth_segment(p: &Policy) -> [u8; 32] {
    let has_rate = p.rules.iter().any(|r| r.rate.is_some());
    let extra = !p.approvers.is_empty()
        || p.defaults.timestamp_timeout != crate::policy::model::DEFAULT_TIMESTAMP_TIMEOUT
        || !p.defaults.pam_account
        || !p.defaults.pam_account_memo;
    if !has_rate && !extra {
        return segment_hash(SEGMENT_AUTH, &p.rules);
    }
    let rules: std::borrow::Cow<'_, [crate::policy::model::Rule]> = if has_rate {
        let mut v = p.rules.clone();
        for r in &mut v {
            r.rate = None;
        }
        std::borrow::Cow::Owned(v)
    } else {
        std::borrow::Cow::Borrowed(&p.rules)
    };
    if !extra {
        return segment_hash(SEGMENT_AUTH, &rules);
    }
    let x = AuthExtra {
        approvers: &p.approvers,
        timestamp_timeout: p.defaults.timestamp_timeout,
        pam_account: p.defaults.pam_account,
        pam_account_memo: p.defaults.pam_account_memo,
    };
    segment_hash(SEGMENT_AUTH, &(&rules, x))
}

/// The hashes of the four segments. An empty segment hashes `[]`.
pub fn segment_hashes(p: &Policy) -> Segments {
    let empty: [u8; 0] = [];
    let rates: Vec<(&str, &crate::policy::model::Rate)> = p
        .rules
        .iter()
        .filter_map(|r| r.rate.as_ref().map(|x| (r.name.as_str(), x)))
        .collect();
    Segments {
        auth: auth_segment(p),
        rate: segment_hash(SEGMENT_RATE, &rates),
        sandbox: segment_hash(SEGMENT_SANDBOX, &(&p.sandboxes, &p.defaults.sandbox)),
        decoy: if p.incident.is_empty() {
            segment_hash(SEGMENT_DECOY, &empty)
        } else {
            segment_hash(SEGMENT_DECOY, &p.incident)
        },
    }
}

/// Lower-case hex of a hash (written once, in base::hex).
pub use crate::base::hex::encode as hex;

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
        // The account memo: in the hash when off, not when on (the default).
        let memo = |v: &str| {
            h(&A.replace(
                "[defaults]\n",
                &format!("[defaults]\npam_account_memo = {v}\n"),
            ))
        };
        assert_ne!(base, memo("false"));
        assert_eq!(base, memo("true"));
    }

    const S: &str = r#"version = 1
[defaults]
sandbox = "base"
[sandbox.base]
[sandbox.web.landlock]
read = ["/etc/nginx", "/usr/share/nginx"]
bind_tcp = [80, 443]
[sandbox.web.seccomp]
deny = ["@mount", "reboot"]
[[rule]]
name = "web"
users = ["alice"]
commands = ["/usr/sbin/nginx"]
sandbox = "web"
caps = ["net_bind_service"]
"#;

    const S_REFORMATTED: &str = r#"version = 1
[[rule]]
caps = ['CAP_NET_BIND_SERVICE', "net_bind_service"]
sandbox = "web"
commands = ["/usr/sbin/nginx"]
users = ["alice"]
name = "web"

[sandbox.web]
# Order, duplicates and slashes do not change the meaning.
seccomp = { deny = ["reboot", "@mount", "reboot"] }
landlock = { bind_tcp = [443, 80], read = ["/usr/share/nginx/", "/etc//nginx"] }

[sandbox.base]
[defaults]
sandbox = 'base'
"#;

    fn seg(src: &str) -> Segments {
        match parse_main(src, Path::new("/p.toml")) {
            Ok(p) => segment_hashes(&p),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn sandbox_and_caps_are_hashed() {
        assert_eq!(h(S), h(S_REFORMATTED));
        assert_eq!(seg(S), seg(S_REFORMATTED));
        let base = h(S);
        for changed in [
            S.replace("[80, 443]", "[80, 444]"),
            S.replace("bind_tcp = [80, 443]", ""),
            S.replace("[80, 443]", "[80, 443]\nmin_abi = 4"),
            S.replace("\"reboot\"]", "\"reboot\", \"swapon\"]"),
            S.replace("\"reboot\"]", "\"reboot\"]\naction = \"kill\""),
            S.replace("\"net_bind_service\"]", "\"net_bind_service\", \"chown\"]"),
            S.replace("sandbox = \"web\"", "sandbox = \"base\""),
            S.replace("sandbox = \"base\"\n", ""),
            S.replace("\"/etc/nginx\"", "\"/etc/nginx2\""),
        ] {
            assert_ne!(base, h(&changed), "{changed}");
        }
    }

    #[test]
    fn a_rules_env_keys_are_in_the_auth_segment_only() {
        let a = seg(S);
        for extra in [
            "env_keep = [\"SSH_AUTH_SOCK\"]\n",
            "secure_path = \"/usr/bin\"\n",
            "timestamp_timeout = \"5m\"\n",
        ] {
            let b = seg(&format!("{S}{extra}"));
            assert_ne!(a.auth, b.auth, "{extra}");
            assert_eq!((a.rate, a.sandbox, a.decoy), (b.rate, b.sandbox, b.decoy));
            assert_ne!(h(S), h(&format!("{S}{extra}")), "{extra}");
        }
    }

    #[test]
    fn segments_split_as_designed() {
        let a = seg(S);
        // A profile port: the sandbox segment only.
        let b = seg(&S.replace("[80, 443]", "[80, 444]"));
        assert_ne!(a.sandbox, b.sandbox);
        assert_eq!((a.auth, a.rate, a.decoy), (b.auth, b.rate, b.decoy));
        // A rule's caps or profile name: the auth segment only.
        let c = seg(&S.replace("\"net_bind_service\"]", "\"chown\"]"));
        assert_ne!(a.auth, c.auth);
        assert_eq!(a.sandbox, c.sandbox);
        let d = seg(&S.replace("sandbox = \"web\"", "sandbox = \"base\""));
        assert_ne!(a.auth, d.auth);
        assert_eq!(a.sandbox, d.sandbox);
        // The default profile belongs to the sandbox segment.
        let e = seg(&S.replace("sandbox = \"base\"\n", ""));
        assert_ne!(a.sandbox, e.sandbox);
        assert_eq!(a.auth, e.auth);
        // Empty segments are fixed and distinct from each other.
        assert_eq!(a.rate, seg(A).rate);
        assert_eq!(a.decoy, seg(A).decoy);
        assert_ne!(a.rate, a.decoy);
        // The segments differ from the full hash.
        assert!(![a.auth, a.rate, a.sandbox, a.decoy].contains(&h(S)));
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
