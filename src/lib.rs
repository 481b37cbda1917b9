//! Belladonna: a hardened, setuid-free privileged command wrapper.
//!
//! The library holds everything; the binaries `bdexec` and `bdctl` are
//! argument parsing plus one call into [`bdexec::main`] or [`bdctl`].

pub mod account;
pub mod alert;
pub mod atomic_file;
pub mod audit;
pub mod auth;
pub mod base;
pub mod bdctl;
pub mod bdexec;
pub mod cli;
pub mod deadline_lock;
pub mod decide;
pub mod escape;
pub mod exec;
pub mod identity;
pub mod incident;
pub mod journald;
pub mod keystore;
pub mod paths;
pub mod policy;
pub mod request;
pub mod review;
pub mod sandbox;
pub mod secure_fs;
pub mod state;
pub mod stdio;
pub mod sys;
pub mod telemetry;
pub mod testhook;
