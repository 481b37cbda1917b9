//! Incident response and deception (DESIGN section 10,
//! docs/incident-response.md): frozen mode and its signed unfreeze
//! ([`freeze`]), decoy grants ([`decoy`]); the `bdctl` commands that
//! drive them live in the bdctl wing (`bdctl/incident.rs`,
//! `bdctl/tune.rs`). Every submodule but `detach` (fork) forbids unsafe
//! code.
#![deny(unsafe_code)]

pub mod alarm;
pub mod counters;
pub mod decoy;
pub mod detach;
pub mod freeze;
pub mod hydra;
pub mod novelty;
pub mod tuner;

/// A millionths value as a decimal (`3500000` -> `3.5`).
pub fn ppm_text(v: u64) -> String {
    let whole = v / 1_000_000;
    let frac = v % 1_000_000;
    if frac == 0 {
        whole.to_string()
    } else {
        let f = format!("{frac:06}");
        format!("{whole}.{}", f.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::hash::segment_hashes;
    use crate::policy::parse::{merge, parse_main, parse_policy};
    use std::path::Path;

    const BASE: &str =
        "version = 1\n[[rule]]\nname = \"r\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/id\"]\n";

    fn err(src: &str) -> String {
        parse_main(src, Path::new("p.toml"))
            .expect_err("must be refused")
            .to_string()
    }

    #[test]
    fn bad_incident_keys_are_refused() {
        for (body, want) in [
            ("[incident]\nfreeze_score = 0.0\n", "freeze_score"),
            ("[incident]\nfreeze_score = 1.5\n", "freeze_score"),
            ("[incident]\ndecoy_factor = -1.0\n", "decoy_factor"),
            ("[incident]\ndecoy_window = \"0\"\n", "decoy_window"),
            ("[incident]\ndecoy_window = \"2d\"\n", "decoy_window"),
            ("[incident]\nunfreeze_approvals = 0\n", "unfreeze_approvals"),
            (
                "[incident]\nunfreeze_approvers = [\"nobody\"]\n",
                "not defined",
            ),
            ("[incident]\nunknown = 1\n", "unknown field"),
            (
                "[[decoy]]\nname = \"d\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/x\"]\nsandbox = \"s\"\n",
                "not `sandbox`",
            ),
            (
                "[[decoy]]\nname = \"r\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/x\"]\n",
                "duplicate rule name",
            ),
        ] {
            let e = err(&format!("{BASE}{body}"));
            assert!(e.contains(want), "{body}: {e}");
        }
        let deny = "version = 1\n[[rule]]\nname = \"r\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/id\"]\naction = \"deny\"\nbreak_glass = true\n";
        assert!(err(deny).contains("break_glass"));
    }

    #[test]
    fn dropin_overrides_keys_and_decoy_segment_changes() {
        let main = parse_policy(
            &format!("{BASE}[incident]\nauto_freeze = true\ndecoy_floor = 5\n"),
            Path::new("main"),
        )
        .expect("main");
        let d = parse_policy("[incident]\ndecoy_floor = 7\n", Path::new("10-tune.toml"))
            .expect("dropin");
        let p = merge(main.clone(), vec![d]).expect("merge");
        let s = p.incident.settings.clone().expect("settings");
        assert!(s.auto_freeze);
        assert_eq!(s.decoy_floor, 7);
        let p0 = merge(main, vec![]).expect("merge");
        let (a, b) = (segment_hashes(&p), segment_hashes(&p0));
        assert_ne!(a.decoy, b.decoy);
        assert_eq!((a.auth, a.rate, a.sandbox), (b.auth, b.rate, b.sandbox));
        // No incident at all: the empty segment, as before.
        let plain = parse_main(BASE, Path::new("p")).expect("plain");
        assert!(plain.incident.is_empty());
        assert_eq!(
            segment_hashes(&plain).decoy,
            segment_hashes(&parse_main(BASE, Path::new("q")).expect("q")).decoy
        );
    }
}
