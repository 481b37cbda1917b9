//! Fuzz the static bdexec's own reading of /etc/passwd and /etc/shadow
//! (src/identity/files.rs) against glibc's `files` source: whenever
//! bdexec reads a text as a clean file, glibc's reader and parser
//! (`fgetpwent_r`, `fgetspent_r` on the same bytes) read the same
//! entries, with the same fields, in the same order; and every lookup
//! bdexec answers (by each name and uid glibc reads) finds the entry
//! glibc's lookup finds. A difference is a lookup bdexec would answer
//! otherwise than NSS.
#![no_main]

use belladonna::identity::files::{check_lookups, passwd_as_glibc, shadow_as_glibc};
use belladonna::sys::nss::{glibc_passwd, glibc_shadow};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (Ok(pw), Ok(sp)) = (glibc_passwd(data), glibc_shadow(data)) else {
        // glibc reads any bytes; an error is the stream, not the text.
        return;
    };
    if let Some(ours) = passwd_as_glibc(data) {
        assert_eq!(ours, pw, "passwd entries differ");
    }
    if let Some(ours) = shadow_as_glibc(data) {
        assert_eq!(ours, sp, "shadow entries differ");
    }
    if let Err(e) = check_lookups(data, &pw, &sp) {
        panic!("{e}");
    }
});
