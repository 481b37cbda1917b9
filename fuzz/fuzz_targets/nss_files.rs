//! Fuzz the static bdexec's own reading of /etc/passwd and /etc/shadow
//! (src/identity/files.rs) against glibc's `files` source: whenever
//! bdexec reads a text as a clean file, glibc's reader and parser
//! (`fgetpwent_r`, `fgetspent_r` on the same bytes) read the same
//! entries, with the same fields, in the same order. A difference is a
//! lookup bdexec would answer otherwise than NSS.
#![no_main]

use belladonna::identity::files::{passwd_as_glibc, shadow_as_glibc};
use belladonna::sys::nss::{glibc_passwd, glibc_shadow};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(ours) = passwd_as_glibc(data) {
        assert_eq!(Ok(ours), glibc_passwd(data), "passwd entries differ");
    }
    if let Some(ours) = shadow_as_glibc(data) {
        assert_eq!(Ok(ours), glibc_shadow(data), "shadow entries differ");
    }
});
