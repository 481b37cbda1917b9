//! The policy: model, parsing, secure loading, matching, hashing, lint.
pub mod model;
