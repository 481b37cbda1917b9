//! Observability derived from the audit log (DESIGN section 11): the log
//! is the single source of truth; `bdctl` (never `bdexec`) turns it into
//! Prometheus metrics ([`metrics`]) and OpenTelemetry spans ([`spans`],
//! shipped by [`export`] over OTLP/HTTP: [`otlp`], [`http`]).
//!
//! Both consumers read the log incrementally through a [`cursor`] kept in
//! `/var/lib/belladonna` ([`store`]). Nothing here is reachable from
//! bdexec: the privileged binary never talks to a network.
#![forbid(unsafe_code)]

pub mod cursor;
pub mod export;
pub mod http;
pub mod metrics;
pub mod otlp;
pub mod spans;
pub mod store;

use std::fmt;

/// The error of this layer: one line, ready for `bdctl: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryError(pub String);

impl fmt::Display for TelemetryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TelemetryError {}

impl From<crate::state::StateError> for TelemetryError {
    fn from(e: crate::state::StateError) -> Self {
        TelemetryError(e.to_string())
    }
}
