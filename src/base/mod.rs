//! Primitives every layer uses, each written once (DESIGN section 3,
//! "each security primitive exists once"): hex, escaping of caller bytes,
//! secure opening and atomic replacement of root-owned files, the
//! installed paths, output that never panics, test hooks. Nothing here
//! imports another layer of the crate.
#![forbid(unsafe_code)]

pub mod hex;
