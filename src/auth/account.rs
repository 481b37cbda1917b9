//! The cheap account-expiry check every allowed request gets, whatever
//! its rule's `auth` (DESIGN section 4, auth step): an account whose
//! shadow entry says it expired is refused even for `auth = "none"`.
//! PAM's account stage runs too: for password rules always, for every
//! other rule while `[defaults] pam_account` is on (the default).
#![forbid(unsafe_code)]

use std::ffi::CString;
use std::fmt;

/// The account check failed or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountError {
    Expired { name: String },
    Lookup(String),
}

impl fmt::Display for AccountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountError::Expired { name } => write!(f, "account {name} has expired"),
            AccountError::Lookup(m) => write!(f, "shadow lookup failed: {m}"),
        }
    }
}

impl std::error::Error for AccountError {}

/// The shadow entry's expiry day (days since 1970-01-01), `None` when
/// there is no entry or it never expires.
pub fn expiry_day(name: &str) -> Result<Option<i64>, AccountError> {
    let c = CString::new(name).map_err(|_| AccountError::Lookup("NUL in user name".into()))?;
    let exp = crate::identity::nss::shadow_expire_day(&c, name)
        .map_err(|e| AccountError::Lookup(e.to_string()))?;
    Ok(exp.filter(|d| *d >= 0))
}

/// Refuse an expired account. `now_secs` is the effective wall time.
pub fn check_not_expired(name: &str, now_secs: u64) -> Result<(), AccountError> {
    let today = (now_secs / 86_400) as i64;
    match expiry_day(name)? {
        // shadow(5): the account expires at the start of that day.
        Some(day) if day <= today => Err(AccountError::Expired {
            name: name.to_string(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_not_expired_and_unknown_is_none() {
        if !nix::unistd::geteuid().is_root() {
            crate::base::testhook::skipped(
                "account::root_is_not_expired_and_unknown_is_none",
                "needs root: /etc/shadow",
            );
            return;
        }
        assert!(check_not_expired("root", 1_800_000_000).is_ok());
        assert_eq!(expiry_day("no-such-user-belladonna").ok(), Some(None));
    }
}
