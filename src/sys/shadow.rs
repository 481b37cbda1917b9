//! getspnam_r(3): the shadow entry's expiry day.

use nix::errno::Errno;
use std::ffi::CStr;

/// The `sp_expire` field of `name`'s shadow entry (days since
/// 1970-01-01, negative when it never expires), `None` when there is no
/// entry.
pub fn expire_day(name: &CStr) -> nix::Result<Option<i64>> {
    // SAFETY: spwd is a plain C struct; all zeroes is a valid value.
    let mut sp: libc::spwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut out: *mut libc::spwd = std::ptr::null_mut();
    loop {
        // SAFETY: every pointer is valid for the call: `name` is a C
        // string, `sp` and `out` are live locals, `buf` has `buf.len()`
        // writable bytes. The strings in `sp` point into `buf`, which is
        // not read after it is dropped (only the integer field is kept).
        let rc = unsafe {
            libc::getspnam_r(
                name.as_ptr(),
                &mut sp,
                buf.as_mut_ptr(),
                buf.len(),
                &mut out,
            )
        };
        match rc {
            0 if out.is_null() => return Ok(None),
            0 => return Ok(Some(sp.sp_expire)),
            libc::ERANGE if buf.len() < (1 << 20) => buf.resize(buf.len() * 4, 0),
            libc::ENOENT => return Ok(None),
            e => return Err(Errno::from_raw(e)),
        }
    }
}
