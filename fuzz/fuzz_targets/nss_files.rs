//! Fuzz the static bdexec's own reading of /etc/passwd, /etc/shadow and
//! /etc/group (src/identity/files.rs) against glibc's `files` source:
//! whenever bdexec reads a text as a clean file, glibc's reader and
//! parser (`fgetpwent_r`, `fgetspent_r`, `fgetgrent_r` on the same bytes)
//! read the same entries, with the same fields, in the same order; every
//! lookup bdexec answers (by each name and id glibc reads) finds the
//! entry glibc's lookup finds; and every group list it answers is the
//! one glibc's `initgroups` makes. A difference is a lookup bdexec would
//! answer otherwise than NSS.
#![no_main]

use belladonna::identity::files::{
    check_group_lookups, check_lookups, group_as_glibc, passwd_as_glibc, shadow_as_glibc,
};
use belladonna::sys::nss::{glibc_group, glibc_passwd, glibc_shadow};
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
    let Ok(gr) = glibc_group(data) else {
        return;
    };
    if let Some(ours) = group_as_glibc(data) {
        assert_eq!(ours, gr, "group entries differ");
    }
    if let Err(e) = check_group_lookups(data, &gr) {
        panic!("{e}");
    }
});
