//! The cheap account-expiry check every allowed request gets, whatever
//! its rule's `auth` (DESIGN section 4, auth step): an account whose
//! shadow entry says it expired is refused even for `auth = "none"`.
//! PAM's account stage runs too: for password rules always, for every
//! other rule while `[defaults] pam_account` is on (the default).

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
    // SAFETY: spwd is a plain C struct; zeroed is a valid initial value.
    let mut sp: libc::spwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut out: *mut libc::spwd = std::ptr::null_mut();
    loop {
        // SAFETY: all pointers are valid for the call: `c` is a C string,
        // `sp` and `out` are live locals, `buf` has `buf.len()` bytes.
        let rc =
            unsafe { libc::getspnam_r(c.as_ptr(), &mut sp, buf.as_mut_ptr(), buf.len(), &mut out) };
        match rc {
            0 if out.is_null() => return Ok(None),
            0 => break,
            libc::ERANGE if buf.len() < (1 << 20) => buf.resize(buf.len() * 4, 0),
            libc::ENOENT => return Ok(None),
            e => {
                return Err(AccountError::Lookup(
                    std::io::Error::from_raw_os_error(e).to_string(),
                ));
            }
        }
    }
    let exp: i64 = sp.sp_expire;
    Ok((exp >= 0).then_some(exp))
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
            eprintln!("SKIPPED: reading /etc/shadow needs root");
            return;
        }
        assert!(check_not_expired("root", 1_800_000_000).is_ok());
        assert_eq!(expiry_day("no-such-user-belladonna").ok(), Some(None));
    }
}
