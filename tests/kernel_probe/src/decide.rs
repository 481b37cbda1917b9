//! The sandbox profile decision, written the way the product states it:
//!
//! * `min_abi` set and the kernel's Landlock ABI older -> **deny** (hard
//!   requirement; nothing is applied, nothing runs);
//! * `min_abi` absent -> **best effort**: apply what the kernel supports and
//!   record exactly what was enforced (and what was not).
//!
//! Kept tiny and pure so that both outcomes are tested on the host
//! (`cargo test`) and again inside every booted kernel with its real ABI.

/// What a profile asks for (the Landlock part of `[sandbox.NAME]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// Hard requirement; `None` = best effort.
    pub min_abi: Option<u32>,
    /// Path rules (ABI >= 1).
    pub fs: bool,
    /// Truncation is a separate right from ABI 3 on.
    pub truncate: bool,
    /// TCP bind/connect port rules (ABI >= 4).
    pub net: bool,
    /// Abstract unix socket and signal scoping (ABI >= 6).
    pub scope: bool,
}

/// What will really be enforced on this kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enforced {
    pub abi: u32,
    pub fs: bool,
    pub truncate: bool,
    pub net: bool,
    pub scope: bool,
}

impl Enforced {
    /// Human/audit form: `enforced=fs,net not_enforced=scope`.
    pub fn describe(&self, wanted: &Profile) -> String {
        let items = [
            ("fs", wanted.fs, self.fs),
            ("truncate", wanted.truncate, self.truncate),
            ("net", wanted.net, self.net),
            ("scope", wanted.scope, self.scope),
        ];
        let on: Vec<&str> = items.iter().filter(|i| i.1 && i.2).map(|i| i.0).collect();
        let off: Vec<&str> = items.iter().filter(|i| i.1 && !i.2).map(|i| i.0).collect();
        let list = |v: &[&str]| if v.is_empty() { "-".to_string() } else { v.join(",") };
        format!("enforced={} not_enforced={}", list(&on), list(&off))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Hard requirement not met: refuse the call.
    Deny { need: u32, have: u32 },
    /// Apply this (possibly reduced) set.
    Apply(Enforced),
}

pub const ABI_TRUNCATE: u32 = 3;
pub const ABI_NET: u32 = 4;
pub const ABI_SCOPE: u32 = 6;

/// `kernel_abi` is 0 when Landlock is absent or disabled.
pub fn decide(p: &Profile, kernel_abi: u32) -> Decision {
    if let Some(need) = p.min_abi {
        if kernel_abi < need {
            return Decision::Deny { need, have: kernel_abi };
        }
    }
    Decision::Apply(Enforced {
        abi: kernel_abi,
        fs: p.fs && kernel_abi >= 1,
        truncate: p.truncate && kernel_abi >= ABI_TRUNCATE,
        net: p.net && kernel_abi >= ABI_NET,
        scope: p.scope && kernel_abi >= ABI_SCOPE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Profile = Profile { min_abi: None, fs: true, truncate: true, net: true, scope: true };

    #[test]
    fn hard_requirement_denies_on_older_kernel() {
        let p = Profile { min_abi: Some(6), ..ALL };
        for have in 0..6 {
            assert_eq!(decide(&p, have), Decision::Deny { need: 6, have });
        }
    }

    #[test]
    fn hard_requirement_applies_when_met() {
        let p = Profile { min_abi: Some(6), ..ALL };
        for have in 6..10 {
            match decide(&p, have) {
                Decision::Apply(e) => assert!(e.fs && e.truncate && e.net && e.scope),
                d => panic!("ABI {have}: {d:?}"),
            }
        }
    }

    #[test]
    fn best_effort_applies_what_is_supported() {
        let want = |abi| match decide(&ALL, abi) {
            Decision::Apply(e) => (e.fs, e.truncate, e.net, e.scope),
            d => panic!("best effort must never deny: {d:?}"),
        };
        assert_eq!(want(0), (false, false, false, false));
        assert_eq!(want(1), (true, false, false, false));
        assert_eq!(want(2), (true, false, false, false));
        assert_eq!(want(3), (true, true, false, false));
        assert_eq!(want(4), (true, true, true, false));
        assert_eq!(want(5), (true, true, true, false));
        assert_eq!(want(6), (true, true, true, true));
        assert_eq!(want(8), (true, true, true, true));
    }

    #[test]
    fn unrequested_features_are_never_enforced() {
        let p = Profile { min_abi: None, fs: true, truncate: false, net: false, scope: false };
        match decide(&p, 8) {
            Decision::Apply(e) => {
                assert!(e.fs && !e.truncate && !e.net && !e.scope);
                assert_eq!(e.describe(&p), "enforced=fs not_enforced=-");
            }
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn describe_records_what_was_dropped() {
        let Decision::Apply(e) = decide(&ALL, 2) else { panic!() };
        assert_eq!(e.describe(&ALL), "enforced=fs not_enforced=truncate,net,scope");
    }

    #[test]
    fn min_abi_zero_is_like_best_effort_on_no_landlock() {
        let p = Profile { min_abi: Some(0), ..ALL };
        assert!(matches!(decide(&p, 0), Decision::Apply(_)));
        let p = Profile { min_abi: Some(1), ..ALL };
        assert_eq!(decide(&p, 0), Decision::Deny { need: 1, have: 0 });
    }
}
