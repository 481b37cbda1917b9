//! The `confine` phase (DESIGN section 4, step 4, first part): build the
//! Landlock ruleset and the seccomp filter (from the cache) and check the
//! capability grants, without applying them (src/exec/confine.rs); then
//! the TOCTOU check: the policy the decision used must still be the
//! installed one.
#![forbid(unsafe_code)]

use super::authorize::Allowed;
use super::{Refusal, load};
use crate::exec::confine::{self, Confinement};
use crate::policy::hash::hex;
use std::os::fd::OwnedFd;

pub(super) fn prepare(
    loaded: &load::Policy,
    allowed: &Allowed<'_>,
    state_dir: &OwnedFd,
) -> Result<Option<Confinement>, Refusal> {
    let settled = loaded.settled.as_deref();
    let (policy, loaded) = (&loaded.loaded.policy, &loaded.loaded);
    let confinement = confine::prepare(
        policy,
        allowed.rule,
        &allowed.resolved.path,
        allowed.target.target.uid,
        state_dir,
    )
    .map_err(|e| Refusal::from(e).about(allowed.subject()))?;
    // TOCTOU: the policy the decision used must still be the installed one.
    crate::base::testhook::point("before-recheck");
    match crate::policy::load::recheck_stamped(loaded, settled) {
        Ok(h) if h == loaded.hash => Ok(confinement),
        Ok(h) => Err(Refusal::denied(format!(
            "policy changed between decision and apply (decided with {}, now {}): refused",
            hex(&loaded.hash),
            hex(&h)
        ))
        .about(allowed.subject())),
        Err(e) => Err(Refusal::policy(
            super::exit::DENIED,
            format!("policy changed between decision and apply: {e}"),
        )
        .about(allowed.subject())),
    }
}
