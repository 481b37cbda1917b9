//! Drift: the installed policy differs from the pinned one
//! (`policy.lock`, see [`crate::policy::lock`] and docs/drift.md).
//!
//! bdexec calls [`check`] at every call. When the canonical hashes are
//! equal it returns `None` after comparing 32 bytes and does nothing else.
//! Otherwise it decodes the pinned policy from the lock and runs the
//! privilege diff ([`crate::review::diff`]) from the pinned policy to the
//! installed one, and returns which segments drifted and whether the drift
//! widens, narrows, both (mixed) or neither (neutral).
//!
//! **Mode.** `[defaults] drift = "deny"` denies every request while the
//! policy has drifted, whatever the category (a pin is the approved state;
//! narrowing drift can lock out break-glass too, and a category is only
//! as good as the diff). The mode in effect is the stricter of the pinned
//! policy's and the installed policy's, so an unapproved change cannot
//! switch itself from `deny` to `warn`. Default `warn`: the drift is
//! recorded in the audit record and the request is decided normally.
#![forbid(unsafe_code)]

use crate::policy::hash::segment_hashes;
use crate::policy::load::Loaded;
use crate::policy::lock::Lock;
use crate::policy::model::DriftMode;
use crate::review::diff::{Diff, changed_segments, diff};

/// The overall direction of a drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Something widens, nothing narrows.
    Widening,
    /// Something narrows, nothing widens.
    Narrowing,
    /// Both.
    Mixed,
    /// The hash differs but no change widens or narrows.
    Neutral,
    /// The pinned policy in the lock could not be decoded or verified:
    /// the direction is unknown (treat as widening).
    Unknown,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Widening => "widening",
            Category::Narrowing => "narrowing",
            Category::Mixed => "mixed",
            Category::Neutral => "neutral",
            Category::Unknown => "unknown",
        }
    }
}

/// The category of a diff.
pub fn category_of(d: &Diff) -> Category {
    let s = d.summary();
    match (s.widening > 0, s.narrowing > 0) {
        (true, true) => Category::Mixed,
        (true, false) => Category::Widening,
        (false, true) => Category::Narrowing,
        (false, false) => Category::Neutral,
    }
}

/// A detected drift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// Which of `auth`, `rate`, `sandbox`, `decoy`, `defaults` differ.
    pub segments: Vec<&'static str>,
    pub category: Category,
    /// Number of widening and narrowing changes.
    pub widen: usize,
    pub narrow: usize,
    /// The mode in effect: the stricter of the pinned and the installed
    /// policy's `[defaults] drift`.
    pub mode: DriftMode,
}

impl Drift {
    /// One line for the audit record, e.g. `drift auth,sandbox: widening
    /// (2 wider, 1 narrower)`.
    pub fn summary(&self) -> String {
        let segs = if self.segments.is_empty() {
            "policy".to_string()
        } else {
            self.segments.join(",")
        };
        match self.category {
            Category::Unknown => format!("drift {segs}: unknown (pinned policy unreadable)"),
            c => format!(
                "drift {segs}: {} ({} wider, {} narrower)",
                c.as_str(),
                self.widen,
                self.narrow
            ),
        }
    }

    /// Whether bdexec must deny the request: `drift = "deny"` in effect
    /// (any category).
    pub fn denies(&self) -> bool {
        self.mode == DriftMode::Deny
    }
}

/// Compare the loaded policy with the lock. `None` when the hashes are
/// equal (no other work is done then).
pub fn check(loaded: &Loaded, lock: &Lock) -> Option<Drift> {
    if loaded.hash == lock.hash {
        return None;
    }
    Some(categorise(loaded, lock))
}

#[cold]
fn categorise(loaded: &Loaded, lock: &Lock) -> Drift {
    match lock.pinned_policy() {
        Ok(pinned) => {
            let d = diff(&pinned, &loaded.policy);
            let s = d.summary();
            Drift {
                segments: changed_segments(&pinned, &loaded.policy),
                category: category_of(&d),
                widen: s.widening,
                narrow: s.narrowing,
                mode: pinned.defaults.drift.max(loaded.policy.defaults.drift),
            }
        }
        Err(_) => {
            let (p, c) = (lock.segments, segment_hashes(&loaded.policy));
            let mut segments = Vec::new();
            for (n, x, y) in [
                ("auth", p.auth, c.auth),
                ("rate", p.rate, c.rate),
                ("sandbox", p.sandbox, c.sandbox),
                ("decoy", p.decoy, c.decoy),
            ] {
                if x != y {
                    segments.push(n);
                }
            }
            if segments.is_empty() {
                segments.push("defaults");
            }
            Drift {
                segments,
                category: Category::Unknown,
                widen: 0,
                narrow: 0,
                mode: loaded.policy.defaults.drift,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::hash::policy_hash;
    use crate::policy::lock::{PinnedBy, lock_json, parse_lock};
    use crate::policy::parse::parse_main;
    use std::path::Path;

    fn loaded(src: &str) -> Loaded {
        let policy = match parse_main(src, Path::new("/p.toml")) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        let hash = policy_hash(&policy);
        Loaded {
            policy,
            hash,
            raw: [0; 32],
        }
    }

    fn lock_of(l: &Loaded) -> Lock {
        let by = PinnedBy {
            uid: 0,
            name: Some("root".into()),
        };
        match parse_lock(lock_json(l, &by, "t").as_bytes(), Path::new("/x")) {
            Ok(k) => k,
            Err(e) => panic!("{e}"),
        }
    }

    const P: &str =
        "version = 1\n[[rule]]\nname = \"r\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/id\"]\n";

    #[test]
    fn no_drift_is_none() {
        let l = loaded(P);
        assert_eq!(check(&l, &lock_of(&l)), None);
        // Reformatting is not drift.
        let l2 = loaded(&P.replace("name = \"r\"", "name='r' # same"));
        assert_eq!(check(&l2, &lock_of(&l)), None);
    }

    #[test]
    fn categories_and_summary() {
        let pinned = loaded(P);
        let lock = lock_of(&pinned);
        let wider = loaded(&format!("{P}auth = \"none\"\n"));
        let d = check(&wider, &lock).expect("drift");
        assert_eq!(d.category, Category::Widening);
        assert_eq!(d.segments, ["auth"]);
        assert_eq!(d.summary(), "drift auth: widening (1 wider, 0 narrower)");
        assert!(!d.denies());
        let mixed = loaded(&P.replace("\"alice\"", "\"bob\""));
        let d = check(&mixed, &lock).expect("drift");
        assert_eq!(d.category, Category::Mixed);
        let narrower = loaded(&format!("{P}auth = \"approval\"\n"));
        assert_eq!(
            check(&narrower, &lock).map(|d| d.category),
            Some(Category::Narrowing)
        );
        let defaults = loaded(&P.replace(
            "version = 1\n",
            "version = 1\n[defaults]\numask = \"0027\"\n",
        ));
        let d = check(&defaults, &lock).expect("drift");
        assert_eq!(d.segments, ["defaults"]);
        assert_eq!(d.category, Category::Narrowing);
    }

    /// A pinned policy with ALL, a group target and a command directory
    /// decodes from the lock (not Unknown), and widening to ALL or
    /// narrowing from it is categorised.
    #[test]
    fn all_groups_and_directories_are_categorised() {
        let broad = "version = 1\n[[rule]]\nname = \"r\"\nusers = [\"alice\"]\nrun_as = [\"%www\"]\ncommands = [\"/usr/lib/x/ *\"]\n";
        let pinned = loaded(broad);
        let lock = lock_of(&pinned);
        assert_eq!(check(&pinned, &lock), None);
        let all = loaded(&broad.replace("\"/usr/lib/x/ *\"", "\"ALL\""));
        let d = check(&all, &lock).expect("drift");
        // ALL covers every command of the directory and more.
        assert_eq!(d.category, Category::Widening, "{d:?}");
        let all_lock = lock_of(&all);
        let wider = loaded(
            &broad
                .replace("\"/usr/lib/x/ *\"", "\"ALL\"")
                .replace("\"%www\"", "\"ALL\""),
        );
        assert_eq!(
            check(&wider, &all_lock).map(|d| d.category),
            Some(Category::Widening)
        );
        assert_eq!(
            check(&all, &lock_of(&wider)).map(|d| d.category),
            Some(Category::Narrowing)
        );
    }

    #[test]
    fn mode_is_the_stricter_one() {
        let deny = P.replace(
            "version = 1\n",
            "version = 1\n[defaults]\ndrift = \"deny\"\n",
        );
        // Pinned with deny; the drifted policy says warn: still deny.
        let lock = lock_of(&loaded(&deny));
        let d = check(&loaded(P), &lock).expect("drift");
        assert!(d.denies());
        assert_eq!(d.category, Category::Widening);
        // Pinned warn, installed deny: deny.
        let d = check(&loaded(&deny), &lock_of(&loaded(P))).expect("drift");
        assert!(d.denies());
    }

    #[test]
    fn unreadable_pinned_policy_is_unknown() {
        let pinned = loaded(P);
        let by = PinnedBy { uid: 0, name: None };
        let text = lock_json(&pinned, &by, "t").replace("\"alice\"", "\"eve\"");
        let lock = match parse_lock(text.as_bytes(), Path::new("/x")) {
            Ok(k) => k,
            Err(e) => panic!("{e}"),
        };
        let d = check(&loaded(&format!("{P}auth = \"none\"\n")), &lock).expect("drift");
        assert_eq!(d.category, Category::Unknown);
        assert_eq!(d.segments, ["auth"]);
    }
}
