//! `[audit]` of the policy: the audit log's degrade ladder settings
//! (parsed in parse/audit.rs, decided on in crate::audit::ladder,
//! docs/durability.md).
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

/// A free-space threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Space {
    /// Percent of the file system's size (1 to 99).
    Percent(u8),
    /// Bytes.
    Bytes(u64),
}

impl Space {
    /// Whether `free` of `total` bytes is at or below this threshold.
    pub fn reached(self, free: u64, total: u64) -> bool {
        match self {
            Space::Percent(p) => u128::from(free) * 100 <= u128::from(total) * u128::from(p),
            Space::Bytes(b) => free <= b,
        }
    }

    /// Parse `"10%"` or a size: a number of bytes with an optional `K`,
    /// `M`, `G` or `T` (powers of 1024).
    pub fn parse(s: &str) -> Result<Space, String> {
        let bad = || format!("{s:?} is not a percentage (\"10%\") or a size (\"512M\")");
        if let Some(p) = s.strip_suffix('%') {
            return match p.parse::<u8>() {
                Ok(n) if (1..=99).contains(&n) => Ok(Space::Percent(n)),
                Ok(_) => Err(format!("{s:?}: a percentage must be 1% to 99%")),
                Err(_) => Err(bad()),
            };
        }
        let (num, shift) = match s.as_bytes().last() {
            Some(b'K') => (&s[..s.len() - 1], 10),
            Some(b'M') => (&s[..s.len() - 1], 20),
            Some(b'G') => (&s[..s.len() - 1], 30),
            Some(b'T') => (&s[..s.len() - 1], 40),
            _ => (s, 0),
        };
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: u64 = num.parse().map_err(|_| bad())?;
        let b = n.checked_shl(shift).filter(|b| b >> shift == n);
        match b {
            Some(b) if b > 0 => Ok(Space::Bytes(b)),
            Some(_) => Err(format!("{s:?}: the size must be more than 0")),
            None => Err(format!("{s:?}: the size is too large")),
        }
    }
}

impl std::fmt::Display for Space {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Space::Percent(p) => write!(f, "{p}%"),
            Space::Bytes(b) => write!(f, "{b} bytes"),
        }
    }
}

/// Where a record goes when the log cannot take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Sink {
    /// Refuse the call (exit 4): nothing runs without its record.
    #[default]
    Deny,
    /// The record goes to journald (a weaker sink: not chained, not
    /// fdatasync'd by us); the call runs only when journald took it.
    Journald,
}

impl Sink {
    /// `"deny"` or `"journald"`.
    pub fn parse(s: &str) -> Result<Sink, String> {
        match s {
            "deny" => Ok(Sink::Deny),
            "journald" => Ok(Sink::Journald),
            _ => Err(format!("{s:?} is not \"deny\" or \"journald\"")),
        }
    }
}

/// `[audit]` of the policy (crate::audit::ladder decides with it); the default is the strict ladder: no space
/// thresholds, deny on a full disk and on an I/O error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    pub low_space: Option<Space>,
    pub critical_space: Option<Space>,
    pub on_full: Sink,
    pub on_io_error: Sink,
}

impl AuditSettings {
    /// The defaults (not serialized, so policies without `[audit]` keep
    /// their canonical hash).
    pub fn is_default(&self) -> bool {
        *self == AuditSettings::default()
    }

    /// Whether a space check is needed at all.
    pub fn watches_space(&self) -> bool {
        self.low_space.is_some() || self.critical_space.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_parses_and_compares() {
        assert_eq!(Space::parse("10%"), Ok(Space::Percent(10)));
        assert_eq!(Space::parse("512M"), Ok(Space::Bytes(512 << 20)));
        assert_eq!(Space::parse("4096"), Ok(Space::Bytes(4096)));
        assert_eq!(Space::parse("2G"), Ok(Space::Bytes(2 << 30)));
        for bad in [
            "",
            "%",
            "0%",
            "100%",
            "-1%",
            "x",
            "1.5G",
            "0",
            "0M",
            "-5",
            "99999999999999T",
            " 5",
        ] {
            assert!(Space::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Space::Percent(10).reached(10, 100));
        assert!(!Space::Percent(10).reached(11, 100));
        assert!(Space::Bytes(100).reached(100, 1 << 40));
        assert!(!Space::Bytes(100).reached(101, 1 << 40));
        // No overflow with huge file systems.
        assert!(!Space::Percent(99).reached(u64::MAX, u64::MAX));
        assert!(Space::Percent(50).reached(u64::MAX / 2, u64::MAX));
    }
}
