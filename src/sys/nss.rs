//! glibc's `__nss_configure_lookup` (<nss.h>): replace a database's
//! nsswitch.conf line for this process. The static bdexec uses it to keep
//! NSS to the sources built into the C library (src/identity/nss.rs): a
//! static program may not dlopen an NSS module of another glibc version.
//! `bdctl policy check` uses it to ask the sources after `files` alone
//! for names the files lack (`identity::ask_only`).

use std::ffi::CStr;

unsafe extern "C" {
    fn __nss_configure_lookup(
        db: *const libc::c_char,
        service_line: *const libc::c_char,
    ) -> libc::c_int;
}

/// Set `database`'s sources to `line` (for example `group`, `files`).
/// Fails (EINVAL) for a database glibc does not know.
pub fn configure_lookup(database: &CStr, line: &CStr) -> nix::Result<()> {
    // SAFETY: both arguments are valid NUL-terminated strings that outlive
    // the call; glibc copies what it keeps. The function only changes
    // NSS's configuration, which no other thread uses: bdexec has none,
    // and bdctl calls it while no other thread runs (its lookup threads
    // are started after it and joined before it).
    let rc = unsafe { __nss_configure_lookup(database.as_ptr(), line.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(nix::Error::EINVAL)
    }
}
