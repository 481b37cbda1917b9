//! A rule's caller options compared (src/policy/caller.rs): what the
//! caller may keep with `-E`, `-P`, and the command's `timeout`.
#![forbid(unsafe_code)]

use super::*;
use crate::policy::model::{CallerOptions, PreserveEnv};

/// `preserve_env`, `caller_options`, `timeout` of one rule from `x` to
/// `y`: more the caller may keep, `-P` allowed, a longer or no timeout
/// widen (reported as `env` changes).
pub(super) fn caller_changes(subject: &str, x: &CallerOptions, y: &CallerOptions, out: &mut Out) {
    let mut push =
        |what: String, e: Effect| out.push(ChangeKind::Env, subject.to_string(), what, e);
    let show = |p: &Option<PreserveEnv>| match p {
        None => "none".to_string(),
        Some(PreserveEnv::All) => "true".to_string(),
        Some(PreserveEnv::Only(l)) => format!("[{}]", l.join(", ")),
    };
    if x.preserve_env != y.preserve_env {
        let effect = match (&x.preserve_env, &y.preserve_env) {
            (None, _) | (Some(PreserveEnv::Only(_)), Some(PreserveEnv::All)) => Effect::Widening,
            (_, None) | (Some(PreserveEnv::All), Some(PreserveEnv::Only(_))) => Effect::Narrowing,
            (Some(PreserveEnv::Only(a)), Some(PreserveEnv::Only(b))) => {
                let (a, b): (BTreeSet<&String>, BTreeSet<&String>) =
                    (a.iter().collect(), b.iter().collect());
                match (b.is_subset(&a), a.is_subset(&b)) {
                    (true, _) => Effect::Narrowing,
                    (false, true) => Effect::Widening,
                    // Some added, some removed: an added one widens.
                    (false, false) => Effect::Widening,
                }
            }
            (Some(PreserveEnv::All), Some(PreserveEnv::All)) => Effect::Neutral,
        };
        push(
            format!(
                "preserve_env {} -> {}",
                show(&x.preserve_env),
                show(&y.preserve_env)
            ),
            effect,
        );
    }
    if x.preserve_groups != y.preserve_groups {
        let (what, e) = if y.preserve_groups {
            (
                "caller_options preserve_groups added (-P)",
                Effect::Widening,
            )
        } else {
            (
                "caller_options preserve_groups removed (-P)",
                Effect::Narrowing,
            )
        };
        push(what.to_string(), e);
    }
    if x.timeout != y.timeout {
        let show_t = |t: Option<u64>| t.map_or("none".to_string(), show_duration);
        // No timeout is the loosest.
        let effect = stricter(y.timeout.unwrap_or(u64::MAX), x.timeout.unwrap_or(u64::MAX));
        push(
            format!("timeout {} -> {}", show_t(x.timeout), show_t(y.timeout)),
            effect,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effects(x: CallerOptions, y: CallerOptions) -> Vec<(String, Effect)> {
        let mut out = Out::default();
        caller_changes("rule r", &x, &y, &mut out);
        out.0.into_values().map(|c| (c.detail, c.effect)).collect()
    }

    #[test]
    fn widening_and_narrowing() {
        let none = CallerOptions::default();
        let all = CallerOptions {
            preserve_env: Some(PreserveEnv::All),
            ..Default::default()
        };
        let only = |v: &[&str]| CallerOptions {
            preserve_env: Some(PreserveEnv::Only(v.iter().map(|s| s.to_string()).collect())),
            ..Default::default()
        };
        assert_eq!(effects(none.clone(), all.clone())[0].1, Effect::Widening);
        assert_eq!(effects(all.clone(), none.clone())[0].1, Effect::Narrowing);
        assert_eq!(effects(only(&["A"]), all.clone())[0].1, Effect::Widening);
        assert_eq!(
            effects(only(&["A"]), only(&["A", "B"]))[0].1,
            Effect::Widening
        );
        assert_eq!(
            effects(only(&["A", "B"]), only(&["A"]))[0].1,
            Effect::Narrowing
        );
        assert_eq!(effects(only(&["A"]), only(&["B"]))[0].1, Effect::Widening);
        let pg = CallerOptions {
            preserve_groups: true,
            ..Default::default()
        };
        assert_eq!(effects(none.clone(), pg.clone())[0].1, Effect::Widening);
        assert_eq!(effects(pg, none.clone())[0].1, Effect::Narrowing);
        let t = |s: u64| CallerOptions {
            timeout: Some(s),
            ..Default::default()
        };
        assert_eq!(effects(t(60), t(120))[0].1, Effect::Widening);
        assert_eq!(effects(t(120), t(60))[0].1, Effect::Narrowing);
        assert_eq!(effects(t(60), none.clone())[0].1, Effect::Widening);
        assert_eq!(effects(none.clone(), t(60))[0].1, Effect::Narrowing);
        assert!(effects(none.clone(), none).is_empty());
        assert_eq!(effects(t(60), t(120))[0].0, "timeout 1m -> 2m");
    }
}
