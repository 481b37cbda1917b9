//! glibc's `__nss_configure_lookup` (<nss.h>): replace a database's
//! nsswitch.conf line for this process. The static bdexec uses it to keep
//! NSS to the sources built into the C library (src/identity/nss.rs): a
//! static program may not dlopen an NSS module of another glibc version.
//! `bdctl policy check` uses it to ask the sources after `files` alone
//! for names the files lack (`identity::ask_only`).
//!
//! musl (the C library of the static bdexec where it is built for
//! `x86_64-unknown-linux-musl`, docs/decisions.md section 20) has no NSS,
//! and its own reading of the files differs from glibc's `files` source
//! (a commented-out group line counts, a large gid wraps around), so
//! there `configure_lookup` fails: the static bdexec then never asks the
//! C library, only its own clean-file reader (src/identity/files.rs) or
//! the twin. The glibc parsers below are the reference that reader is
//! tested against.

use std::ffi::CStr;

#[cfg(target_env = "gnu")]
unsafe extern "C" {
    fn __nss_configure_lookup(
        db: *const libc::c_char,
        service_line: *const libc::c_char,
    ) -> libc::c_int;
}

/// Set `database`'s sources to `line` (for example `group`, `files`).
/// Fails (EINVAL) for a database glibc does not know.
#[cfg(target_env = "gnu")]
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

/// musl's own `files` reader is not glibc's (it takes a `#` line as an
/// entry, wraps a large id, keeps leading blanks in a name): there is
/// no glibc NSS to confine, and every lookup bdexec does not answer
/// itself goes to the twin (src/identity/nss.rs).
#[cfg(not(target_env = "gnu"))]
pub fn configure_lookup(_database: &CStr, _line: &CStr) -> nix::Result<()> {
    Err(nix::Error::ENOSYS)
}

/// One passwd entry as glibc's parser read it: name, password, uid, gid,
/// gecos, home, shell (a field glibc left NULL is one NUL byte).
pub type GlibcPw = (Vec<u8>, Vec<u8>, u32, u32, Vec<u8>, Vec<u8>, Vec<u8>);

/// The entries glibc reads from a passwd file's `text`, in order:
/// `fgetpwent_r` on an in-memory stream, the `files` source's own line
/// reader and parser. The reference that src/identity/files.rs is
/// checked against (its unit tests, the `nss_files` fuzz target).
#[doc(hidden)]
#[cfg(target_env = "gnu")]
pub fn glibc_passwd(text: &[u8]) -> nix::Result<Vec<GlibcPw>> {
    glibc_entries(text, |stream, buf, out| {
        // SAFETY: passwd is a plain C struct; all zeroes is a valid value.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: `stream` is a live read stream, `pw` and `found` are
        // live locals, `buf` has `buf.len()` writable bytes.
        let rc =
            unsafe { libc::fgetpwent_r(stream, &mut pw, buf.as_mut_ptr(), buf.len(), &mut found) };
        if rc != 0 || found.is_null() {
            return rc.max(libc::ENOENT);
        }
        let bytes = |p: *const libc::c_char| match p.is_null() {
            // A NIS compat entry (`+`, `+name`) leaves fields NULL: shown
            // as one NUL byte, which no C string holds.
            true => vec![0],
            // SAFETY: on success glibc set every other string field to a
            // NUL-terminated string in `buf`, alive until `buf` changes.
            false => unsafe { CStr::from_ptr(p) }.to_bytes().to_vec(),
        };
        out.push((
            bytes(pw.pw_name),
            bytes(pw.pw_passwd),
            pw.pw_uid,
            pw.pw_gid,
            bytes(pw.pw_gecos),
            bytes(pw.pw_dir),
            bytes(pw.pw_shell),
        ));
        0
    })
}

/// The (name, `sp_expire`) of every entry glibc reads from a shadow
/// file's `text`, in order (`fgetspent_r`; see [`glibc_passwd`]).
#[doc(hidden)]
#[cfg(target_env = "gnu")]
pub fn glibc_shadow(text: &[u8]) -> nix::Result<Vec<(Vec<u8>, i64)>> {
    glibc_entries(text, |stream, buf, out| {
        // SAFETY: spwd is a plain C struct; all zeroes is a valid value.
        let mut sp: libc::spwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::spwd = std::ptr::null_mut();
        // SAFETY: as in glibc_passwd.
        let rc =
            unsafe { libc::fgetspent_r(stream, &mut sp, buf.as_mut_ptr(), buf.len(), &mut found) };
        if rc != 0 || found.is_null() {
            return rc.max(libc::ENOENT);
        }
        let name = match sp.sp_namp.is_null() {
            true => vec![0],
            // SAFETY: as in glibc_passwd.
            false => unsafe { CStr::from_ptr(sp.sp_namp) }.to_bytes().to_vec(),
        };
        out.push((name, sp.sp_expire));
        0
    })
}

/// One group entry as glibc's parser read it: name, password, gid,
/// members (a name or password glibc left NULL is one NUL byte).
pub type GlibcGr = (Vec<u8>, Vec<u8>, u32, Vec<Vec<u8>>);

/// The entries glibc reads from a group file's `text`, in order
/// (`fgetgrent_r`; see [`glibc_passwd`]).
#[doc(hidden)]
#[cfg(target_env = "gnu")]
pub fn glibc_group(text: &[u8]) -> nix::Result<Vec<GlibcGr>> {
    glibc_entries(text, |stream, buf, out| {
        // SAFETY: group is a plain C struct; all zeroes is a valid value.
        let mut gr: libc::group = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::group = std::ptr::null_mut();
        // SAFETY: as in glibc_passwd.
        let rc =
            unsafe { libc::fgetgrent_r(stream, &mut gr, buf.as_mut_ptr(), buf.len(), &mut found) };
        if rc != 0 || found.is_null() {
            return rc.max(libc::ENOENT);
        }
        let bytes = |p: *const libc::c_char| match p.is_null() {
            true => vec![0],
            // SAFETY: as in glibc_passwd.
            false => unsafe { CStr::from_ptr(p) }.to_bytes().to_vec(),
        };
        let mut members = Vec::new();
        if !gr.gr_mem.is_null() {
            for i in 0.. {
                // SAFETY: on success gr_mem is a NULL-terminated array of
                // pointers into `buf`; `i` stops at its NULL.
                let m = unsafe { *gr.gr_mem.add(i) };
                if m.is_null() {
                    break;
                }
                members.push(bytes(m));
            }
        }
        out.push((bytes(gr.gr_name), bytes(gr.gr_passwd), gr.gr_gid, members));
        0
    })
}

/// Read entries with `next` (0 for one more, ENOENT at the end, another
/// errno for a failure) from a read stream over `text`.
#[cfg(target_env = "gnu")]
fn glibc_entries<T>(
    text: &[u8],
    next: impl Fn(*mut libc::FILE, &mut [libc::c_char], &mut Vec<T>) -> libc::c_int,
) -> nix::Result<Vec<T>> {
    let mut out = Vec::new();
    if text.is_empty() {
        // fmemopen refuses an empty buffer; glibc reads no entry from it.
        return Ok(out);
    }
    // A line never needs more than the whole text, plus room for glibc's
    // alignment of its fields.
    let mut buf = vec![0 as libc::c_char; text.len() + 1024];
    // SAFETY: `text` is valid for `text.len()` bytes and outlives the
    // stream, which is closed below; "r" never writes to it.
    let stream = unsafe {
        libc::fmemopen(
            text.as_ptr() as *mut libc::c_void,
            text.len(),
            c"r".as_ptr(),
        )
    };
    if stream.is_null() {
        return Err(nix::Error::last());
    }
    let rc = loop {
        match next(stream, &mut buf, &mut out) {
            0 => continue,
            rc => break rc,
        }
    };
    // SAFETY: `stream` came from fmemopen and is closed once.
    unsafe { libc::fclose(stream) };
    match rc {
        libc::ENOENT => Ok(out),
        e => Err(nix::Error::from_raw(e)),
    }
}
