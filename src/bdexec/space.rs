//! The audit degrade ladder's space check (`[audit]` low_space and
//! critical_space, crate::audit::ladder, docs/durability.md), made by
//! `authorize` right after the frozen check, before anything is recorded
//! as allowed.
#![forbid(unsafe_code)]

use super::recv::Ctx;
use super::{Refusal, exit};
use crate::audit::ladder::{self, Level, Settings};

/// The ladder's space check, after the decision allowed a rule
/// (`break_glass`: whether it is a break-glass rule): free space on the
/// log's file system at or below `critical_space` refuses (exit 4,
/// recorded, one line, an alert) unless the rule is break-glass; at or
/// below `low_space` (or critical with a break-glass rule) one warning
/// line and an alert, and the call goes on. No thresholds, or a log
/// directory that cannot be measured: nothing here (the append itself
/// then fails closed).
pub(super) fn check_space(ctx: &Ctx, s: &Settings, break_glass: bool) -> Result<(), Refusal> {
    if !s.watches_space() {
        return Ok(());
    }
    let Ok(v) = nix::sys::statvfs::statvfs(crate::base::paths::LOG_DIR) else {
        return Ok(());
    };
    let unit = v.fragment_size();
    let free = v.blocks_available().saturating_mul(unit);
    let total = v.blocks().saturating_mul(unit);
    let level = ladder::level(s, free, total);
    let (word, key, limit, tail) = match level {
        Level::Ok => return Ok(()),
        Level::Low => ("low", "low_space", s.low_space, "free space soon"),
        Level::Critical => (
            "critical",
            "critical_space",
            s.critical_space,
            "only break_glass rules run",
        ),
    };
    let limit = limit.map_or_else(String::new, |l| l.to_string());
    let msg = format!(
        "audit log space {word}: {free} bytes free on {} ([audit] {key} = {limit}); {tail}",
        crate::base::paths::LOG_DIR
    );
    crate::audit::alert::syslog(&format!("uid {}: {msg}", ctx.caller.uid));
    if level == Level::Critical && !break_glass {
        return Err(Refusal::reject(exit::AUDIT, msg));
    }
    crate::base::stdio::err_line(&format!("bdexec: warning: {msg}\n"));
    Ok(())
}
