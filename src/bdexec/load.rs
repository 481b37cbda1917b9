//! The `load` phase (DESIGN section 4, step 2, first half): the policy by
//! its fixed path with the secure-open checks, through the compiled
//! policy cache (src/policy/cache.rs: only the rules that can apply to
//! the caller are parsed), its hash, frozen mode, drift from the pinned
//! policy, and the caller's group names when a rule names groups.
#![forbid(unsafe_code)]

use super::recv::Ctx;
use super::{Refusal, exit};
use crate::base::paths::CONF_DIR;
use crate::identity;
use crate::incident::freeze;
use crate::policy::load::{Loaded, parse_sources, read_sources};
use crate::policy::stamp::Stamp;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// The policy of this call and the host's frozen state.
pub(super) struct Policy {
    /// With the cache, `loaded.policy` holds only the rules that can
    /// apply to the caller (every decision of this call, `-l` included,
    /// sees the same as with the whole policy); `hash` and `raw` are
    /// always the whole policy's. A mode that looks at other users' rules
    /// must parse the whole policy (`load_policy`).
    pub loaded: Loaded,
    pub frozen: freeze::State,
    /// The policy files' settled stamps (src/policy/stamp.rs), for the
    /// TOCTOU recheck.
    pub settled: Option<Vec<Stamp>>,
}

pub(super) fn policy(ctx: &mut Ctx, state_dir: &OwnedFd) -> Result<Policy, Refusal> {
    let not_loaded = |e| Refusal::policy(exit::POLICY, format!("policy not loaded: {e}"));
    // The static bdexec's names beyond /etc/group come from its twin; a
    // failed hand-off refuses (src/identity/nss.rs).
    let mut no_twin = None;
    // One walk of /etc/belladonna for the policy and its pin.
    let conf = crate::policy::load::open_conf_dir(Path::new(CONF_DIR)).map_err(not_loaded)?;
    let cached = crate::policy::cache::load_installed(
        Path::new(CONF_DIR),
        conf.as_fd(),
        Some(state_dir.as_fd()),
        &mut ctx.caller,
        |c: &mut crate::request::Caller| {
            if let Err(e) = identity::fill_group_names(c) {
                no_twin = Some(e);
            }
        },
    )
    .map_err(not_loaded)?;
    if let Some(e) = no_twin {
        return Err(Refusal::denied(e.to_string()));
    }
    let (loaded, settled, sources) = (cached.loaded, cached.settled, cached.sources);
    let policy = &loaded.policy;
    ctx.policy_hash = Some(loaded.hash);
    // Frozen mode (docs/incident-response.md): one open, maybe one stat.
    let frozen = freeze::check(state_dir.as_fd());
    ctx.incident = policy.incident.settings.clone();
    // Drift from the pinned policy (policy.lock): recorded in every
    // record of this call; denied when `drift = "deny"` is in effect.
    let lock = crate::policy::lock::read_lock_at(conf.as_fd(), Path::new(CONF_DIR))
        .map_err(|e| Refusal::policy(exit::POLICY, format!("policy lock unusable: {e}")))?;
    ctx.conf_dir = Some(conf);
    if let Some(lock) = lock
        && lock.hash != loaded.hash
    {
        // Drift is told from the whole policy: parsed only now, when the
        // hashes differ.
        let whole = match (cached.partial, &sources) {
            (true, Some(s)) => parse_sources(s).map_err(not_loaded)?,
            // The stamp path read only the caller's rules: read them all.
            (true, None) => parse_sources(&read_sources(Path::new(CONF_DIR)).map_err(not_loaded)?)
                .map_err(not_loaded)?,
            (false, _) => loaded.clone(),
        };
        if let Some(d) = crate::review::drift::check(&whole, &lock) {
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
    }
    Ok(Policy {
        loaded,
        frozen,
        settled,
    })
}
