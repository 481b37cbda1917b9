//! prctl(2), seccomp(2) and landlock_create_ruleset(2) calls that nix
//! does not wrap.

use nix::errno::Errno;

/// `PR_GET_SECUREBITS`.
pub fn get_securebits() -> nix::Result<libc::c_ulong> {
    // SAFETY: PR_GET_SECUREBITS takes no pointers and returns the bits.
    let r = unsafe { libc::prctl(libc::PR_GET_SECUREBITS, 0, 0, 0, 0) };
    Errno::result(r).map(|r| r as libc::c_ulong)
}

/// `PR_SET_SECUREBITS` (needs `CAP_SETPCAP`).
pub fn set_securebits(bits: libc::c_ulong) -> nix::Result<()> {
    // SAFETY: PR_SET_SECUREBITS takes the bit value, no pointers.
    let r = unsafe { libc::prctl(libc::PR_SET_SECUREBITS, bits, 0, 0, 0) };
    Errno::result(r).map(drop)
}

/// `PR_GET_SECCOMP`: 0 unfiltered, 2 filtered; `Err` when the kernel
/// has no seccomp.
pub fn seccomp_mode() -> nix::Result<i32> {
    // SAFETY: PR_GET_SECCOMP takes no pointer arguments.
    let r = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    Errno::result(r)
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, 0, prog)` for the calling thread.
/// The slice is the whole program; the kernel copies it.
pub fn seccomp_set_mode_filter(insns: &[libc::sock_filter]) -> nix::Result<()> {
    seccomp_filter(insns, 0).map(drop)
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`: the kernel's return
/// value (a new fd with `SECCOMP_FILTER_FLAG_NEW_LISTENER`, else 0).
pub(super) fn seccomp_filter(
    insns: &[libc::sock_filter],
    flags: libc::c_ulong,
) -> nix::Result<i64> {
    let len = libc::c_ushort::try_from(insns.len()).map_err(|_| Errno::EINVAL)?;
    let prog = libc::sock_fprog {
        len,
        filter: insns.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points at `insns` (len entries), which outlives the
    // call; the kernel only reads and copies the program and keeps no
    // pointer. `flags` are plain bits the kernel checks.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    Errno::result(r)
}

/// The running kernel's Landlock ABI version (`Err` when Landlock is
/// not built in or not enabled).
pub fn landlock_abi() -> nix::Result<u32> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a NULL attribute pointer, size 0 and the VERSION flag
    // the kernel only returns the ABI version (or -1 with errno); no
    // memory is read or written and no fd is created.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    Errno::result(v).map(|v| v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn securebits_and_seccomp_mode_read() {
        assert!(get_securebits().is_ok());
        // The test process itself runs unfiltered.
        assert_eq!(seccomp_mode(), Ok(0));
        assert!(landlock_abi().is_ok_and(|v| v >= 1) || landlock_abi().is_err());
    }

    #[test]
    fn oversized_program_is_refused_before_the_kernel() {
        let insn = libc::sock_filter {
            code: 0,
            jt: 0,
            jf: 0,
            k: 0,
        };
        let big = vec![insn; usize::from(u16::MAX) + 1];
        assert_eq!(seccomp_set_mode_filter(&big), Err(Errno::EINVAL));
    }
}
