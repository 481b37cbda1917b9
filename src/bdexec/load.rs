//! The `load` phase (DESIGN section 4, step 2, first half): the policy by
//! its fixed path with the secure-open checks, its hash, frozen mode,
//! drift from the pinned policy, and the caller's group names when a
//! rule names groups.
#![forbid(unsafe_code)]

use super::recv::Ctx;
use super::{Refusal, exit};
use crate::identity;
use crate::incident::freeze;
use crate::policy::load::{Loaded, load_policy};
use crate::policy::model::Principal;
use std::os::fd::{AsFd, OwnedFd};

/// The policy of this call and the host's frozen state.
pub(super) struct Policy {
    pub loaded: Loaded,
    pub frozen: freeze::State,
}

pub(super) fn policy(ctx: &mut Ctx, state_dir: &OwnedFd) -> Result<Policy, Refusal> {
    let loaded = load_policy()
        .map_err(|e| Refusal::policy(exit::POLICY, format!("policy not loaded: {e}")))?;
    let policy = &loaded.policy;
    ctx.policy_hash = Some(loaded.hash);
    // Frozen mode (docs/incident-response.md): one open, maybe one stat.
    let frozen = freeze::check(state_dir.as_fd());
    ctx.incident = policy.incident.settings.clone();
    // Drift from the pinned policy (policy.lock): recorded in every
    // record of this call; denied when `drift = "deny"` is in effect.
    let lock = crate::policy::lock::read_lock()
        .map_err(|e| Refusal::policy(exit::POLICY, format!("policy lock unusable: {e}")))?;
    if let Some(lock) = lock
        && let Some(d) = crate::review::drift::check(&loaded, &lock)
    {
        ctx.drift = Some(d.summary());
        if d.denies() {
            return Err(Refusal {
                code: exit::POLICY,
                ..Refusal::denied_as(
                    format!(
                        "policy differs from its pin and drift = \"deny\": {}",
                        d.summary()
                    ),
                    "the installed policy differs from its pinned version (drift = \"deny\")",
                )
            });
        }
    }
    let names_groups = policy
        .rules
        .iter()
        .any(|r| r.groups.iter().any(|g| matches!(g, Principal::Name(_))));
    if names_groups {
        identity::fill_group_names(&mut ctx.caller);
    }
    Ok(Policy { loaded, frozen })
}
