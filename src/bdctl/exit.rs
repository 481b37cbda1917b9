//! bdctl's exit codes, defined once for every command family
//! (documented in bdctl(8)).
#![forbid(unsafe_code)]

pub const OK: i32 = 0;
/// Check failed: policy errors, or an invalid audit chain.
pub const FAILED: i32 = 1;
pub const USAGE: i32 = 2;
/// `audit verify`: the log ends in a torn line that the next write
/// will record as recovered.
pub const TORN_TAIL: i32 = 3;
/// `policy check`: warnings, no errors (INFO findings alone exit 0).
/// `audit cross-check`: the journal lacks records the file has.
pub const WARNINGS: i32 = 4;
