//! Primitives every layer uses, each written once (DESIGN section 3,
//! "each security primitive exists once"): hex, escaping of caller bytes,
//! secure opening and atomic replacement of root-owned files, the
//! installed paths, output that never panics, test hooks. Nothing here
//! imports another layer of the crate.
#![forbid(unsafe_code)]

pub mod atomic_file;
pub mod bounded_read;
pub mod deadline_lock;
pub mod escape;
pub mod framing;
pub mod hex;
pub mod paths;
pub mod procfs;
pub mod secure_fs;
pub mod stdio;
pub mod str_table;
pub mod testhook;
