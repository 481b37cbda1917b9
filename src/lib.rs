//! Belladonna: a hardened, setuid-free privileged command wrapper.
//!
//! The library holds everything; the binaries `bdexec` and `bdctl` are
//! argument parsing plus one call into [`bdexec::main`] or [`bdctl`].

pub mod audit;
pub mod auth;
pub mod base;
pub mod bdctl;
pub mod bdexec;
pub mod decide;
pub mod exec;
pub mod identity;
pub mod incident;
pub mod keystore;
pub mod policy;
pub mod request;
pub mod review;
pub mod sandbox;
pub mod state;
pub mod sys;
pub mod telemetry;
