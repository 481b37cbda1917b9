//! The caller's sudo-driver options checked against the allowed rule
//! (issue 14), between the decision and the authentication, so that an
//! option the rule does not allow refuses before any password is asked:
//! `-E` / `--preserve-env` against `preserve_env`, `-P` against
//! `caller_options = ["preserve_groups"]`, `-T` against `timeout`
//! (shorter only), `-b`. Nothing given is ignored: an option the rule does not
//! allow refuses the request (exit 1, one line, a record).
#![forbid(unsafe_code)]

use super::Refusal;
use super::authorize::Allowed;
use crate::bdexec::cli::DriverArgs;
use crate::policy::model::PreserveEnv;

/// What the checked options grant this call.
#[derive(Debug, Default)]
pub(super) struct Granted {
    /// `-E`: env_keep names or patterns added for this call.
    pub keep_env: Vec<String>,
    /// `-E` under `preserve_env = true` (everything but `withheld`).
    pub keep_all: bool,
    /// Caller variables `-E` under `preserve_env = true` did not keep:
    /// they would let the caller run code in the command or change how
    /// it works (`policy::lint::unsafe_to_preserve`), named in the record.
    pub withheld: Vec<String>,
    /// `-P`: the caller's groups instead of the target's.
    pub preserve_groups: bool,
    /// The command's timeout: the rule's `timeout`, or the caller's
    /// shorter `-T`.
    pub timeout: Option<u64>,
    /// The caller asked for `-T` (for the record).
    pub timeout_asked: bool,
    /// `-b`: run in the background.
    pub background: bool,
}

impl Granted {
    /// A timeout or `-b` needs the monitor, whatever the rule's
    /// `monitor` says.
    pub fn needs_monitor(&self) -> bool {
        self.timeout.is_some() || self.background
    }

    /// The options in use, for the accept record's reason ("" if none).
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if self.keep_all {
            let mut e = "-E (preserve_env = true)".to_string();
            if !self.withheld.is_empty() {
                e.push_str(&format!(" withheld {}", self.withheld.join(",")));
            }
            parts.push(e);
        } else if !self.keep_env.is_empty() {
            parts.push(format!("-E {}", self.keep_env.join(",")));
        }
        if self.preserve_groups {
            parts.push("-P".to_string());
        }
        if let (true, Some(t)) = (self.timeout_asked, self.timeout) {
            parts.push(format!("-T {t}s"));
        }
        if self.background {
            parts.push("-b".to_string());
        }
        parts.join(", ")
    }
}

/// Check the options against `allowed.rule`.
pub(super) fn grant(opts: &DriverArgs, allowed: &Allowed<'_>) -> Result<Granted, Refusal> {
    let rule = allowed.rule;
    let deny = |msg: String| Refusal::denied(msg).about(allowed.subject());
    let mut out = Granted::default();
    if let Some(names) = &opts.preserve_env {
        let Some(allow) = &rule.caller.preserve_env else {
            return Err(deny(format!(
                "rule {} does not allow -E/--preserve-env (no preserve_env in the rule)",
                rule.name
            )));
        };
        out.keep_env = if names.is_empty() {
            // -E: what the rule allows. Under `true`, every caller
            // variable but those that would run the caller's code in the
            // command (as sudo's env_delete still applies with -E).
            match allow {
                PreserveEnv::All => {
                    out.keep_all = true;
                    let mut keep = Vec::new();
                    for (k, _) in std::env::vars_os() {
                        let Some(k) = k.to_str() else { continue };
                        if crate::policy::lint::unsafe_to_preserve(k).is_some() {
                            if !out.withheld.iter().any(|w| w == k) {
                                out.withheld.push(k.to_string());
                            }
                        } else if !keep.iter().any(|x: &String| x == k) {
                            keep.push(k.to_string());
                        }
                    }
                    out.withheld.truncate(crate::exec::env::MAX_DROPPED_LISTED);
                    keep
                }
                PreserveEnv::Only(list) => list.clone(),
            }
        } else {
            for n in names {
                if !crate::exec::env::valid_name(n.as_bytes()) {
                    return Err(deny(format!(
                        "--preserve-env: {:?} is not a variable name",
                        crate::base::escape::display(n.as_bytes())
                    )));
                }
                if crate::exec::env::forbidden_name(n.as_bytes()) || !allow.allows(n) {
                    return Err(deny(format!(
                        "rule {} does not allow keeping {n} (preserve_env)",
                        rule.name
                    )));
                }
                // preserve_env = true keeps no variable that runs code;
                // only a list that names it does.
                if *allow == PreserveEnv::All
                    && let Some(why) = crate::policy::lint::unsafe_to_preserve(n)
                {
                    return Err(deny(format!(
                        "--preserve-env={n}: {why}; preserve_env = true does not keep it (only a \
                         preserve_env list naming it does)"
                    )));
                }
            }
            names.clone()
        };
    }
    if opts.preserve_groups {
        if !rule.caller.preserve_groups {
            return Err(deny(format!(
                "rule {} does not allow -P/--preserve-groups (caller_options = [\"preserve_groups\"])",
                rule.name
            )));
        }
        out.preserve_groups = true;
    }
    // -T may shorten the rule's timeout, never lengthen it; on a rule
    // without one it only limits the caller's own command.
    let asked = opts.timeout_secs().map_err(|e| deny(e.to_string()))?;
    out.timeout_asked = asked.is_some();
    out.timeout = match (rule.caller.timeout, asked) {
        (Some(max), Some(t)) if t > max => {
            return Err(deny(format!(
                "-T {t}s is longer than the timeout of rule {} ({max}s); a caller may only shorten it",
                rule.name
            )));
        }
        (_, Some(t)) => Some(t),
        (rule_t, None) => rule_t,
    };
    out.background = opts.background;
    Ok(out)
}
