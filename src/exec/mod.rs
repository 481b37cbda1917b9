//! Everything between the decision and the target's first instruction:
//! process hygiene, command resolution, environment, privilege switch,
//! and the final `execveat`.
pub mod confine;
pub mod env;
pub mod hygiene;
pub mod launch;
pub mod monitor;
pub mod noexec;
pub mod privileges;
pub mod recording;
pub mod resolve;
pub mod twin;
