//! The thin unsafe layer over libc and kernel calls that neither the
//! standard library nor nix wraps safely (DESIGN section 3). Every
//! function here is safe to call: the `unsafe` block inside it carries
//! the argument (`// SAFETY:`) for why the call cannot break memory
//! safety for any input (PAM's dlopen'd interface included: sys/pam.rs).
//! Outside this folder only test code may use `unsafe`; every other
//! module says `#![forbid(unsafe_code)]` (docs/decisions.md section 10).
//!
//! Each wrapper returns `nix::Result` (an `Errno`), so callers turn it
//! into their own layer's error.

pub mod bump_alloc;
pub mod caps;
pub mod fs;
pub mod futex;
pub mod ids;
pub mod kernel;
pub mod map;
pub mod mem;
pub mod nss;
pub mod pam;
pub mod proc;
pub mod seccomp_notify;
pub mod shadow;
pub mod signal;
pub mod term;
