//! Decoy grants (`[[decoy]]`, docs/incident-response.md): listed by
//! `bdexec -l` exactly as grants are, never run. A hit is refused with
//! the ordinary denial (haze) and recorded as an `alert`.
#![forbid(unsafe_code)]

use crate::decide::{Caller, FileIds, Invoked};
use crate::policy::matcher::{matching_command, rule_matches_caller};
use crate::policy::model::{Policy, Rule};

/// The decoys that apply to the caller, in policy order (for `-l`).
pub fn for_caller<'p>(policy: &'p Policy, caller: &Caller) -> Vec<&'p Rule> {
    policy
        .incident
        .decoy_rules
        .iter()
        .filter(|r| rule_matches_caller(r, caller))
        .collect()
}

/// The first decoy whose users/groups match the caller and whose
/// commands match the request (by name and file, as an allow rule's).
/// The target does not matter: asking for a decoy as anyone is a hit.
pub fn hit<'p>(
    policy: &'p Policy,
    caller: &Caller,
    command: Invoked<'_>,
    args: &[Vec<u8>],
    files: &dyn FileIds,
) -> Option<&'p Rule> {
    policy
        .incident
        .decoy_rules
        .iter()
        .filter(|r| rule_matches_caller(r, caller))
        .find(|r| matching_command(r, command, args, files).is_some())
}
