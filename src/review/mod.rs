//! The privilege review: what a policy change does, judged by the decision
//! engine itself. It sits above [`crate::decide`] (the diff asks both
//! policies through it) and below its users: bdctl (`policy diff`, the
//! gate) and bdexec (drift against the pinned policy at every call). The
//! policy layer never imports it, so policy stays below decide.
//!
//! - [`diff`]: the privilege diff between two policies (semantic probes
//!   plus a rule-level comparison).
//! - [`drift`]: the installed policy against the pinned one (`policy.lock`),
//!   categorised with the diff.
#![forbid(unsafe_code)]

pub mod diff;
pub mod drift;
