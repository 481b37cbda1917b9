//! What a record of this call names (the target, the command, the rule)
//! and what only the accept record adds: shared by the phases and the
//! one place that answers a refusal, below all of them.
#![forbid(unsafe_code)]

use crate::identity::TargetAccount;

/// The account a record names as the target.
#[derive(Debug, Clone)]
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// What a record says about the request: the target, the command, the
/// rule (each once known).
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub target: Option<RunAs>,
    pub command: Option<Vec<u8>>,
    pub rule: Option<String>,
}

impl Subject {
    pub fn of(target: Option<&TargetAccount>, command: Option<&[u8]>, rule: Option<&str>) -> Self {
        Subject {
            target: target.map(|t| RunAs {
                name: t.target.name.clone(),
                uid: t.target.uid,
                gid: t.target.gid,
            }),
            command: command.map(<[u8]>::to_vec),
            rule: rule.map(str::to_string),
        }
    }
}

/// What only the `accept` record says.
#[derive(Default)]
pub(super) struct Extra<'a> {
    pub sandbox: Option<&'a str>,
    pub confinement: Option<&'a str>,
    pub env_dropped: &'a [String],
    /// Monitor mode: the accept record says so (`"monitor":true`).
    pub monitor: bool,
    /// An `edit` record's `before` and `after` hashes.
    pub edit: Option<([u8; 32], [u8; 32])>,
    /// The audit degrade ladder for this record (`[audit]`): where it
    /// goes when the log fails. None: deny (the strict default).
    pub ladder: Option<&'a crate::audit::ladder::Settings>,
}
