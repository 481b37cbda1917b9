//! bdexec: run a command as another user, as the policy allows.
//!
//! `no_main`: the C `main` below replaces Rust's runtime start-up, which
//! bdexec does not want on its hot path (it reads /proc/self/maps for the
//! main thread's stack guard, installs a sigaltstack and SIGSEGV/SIGBUS
//! handlers, and sets SIGPIPE to ignored; about 75 us and 20 system calls
//! per call here). bdexec's own `recv` step does the parts it needs:
//! standard fds, signal dispositions and mask (src/exec/hygiene.rs).
//! On glibc `std::env::args_os` still works: the standard library takes
//! argv from its own `.init_array` hook, not from `main`'s arguments.
//! musl passes nothing to `.init_array` hooks, so there the arguments are
//! read from `main`'s own (the static bdexec, docs/decisions.md section
//! 20).
#![no_main]

use std::ffi::OsString;

/// A bump arena before the C library's malloc: a call is short and
/// frees little (src/sys/bump_alloc.rs).
#[global_allocator]
static ALLOC: belladonna::sys::bump_alloc::Bump = belladonna::sys::bump_alloc::Bump::new();

// SAFETY: `main` is the C entry point the C library's start code calls
// once with argc/argv; the symbol name must not be mangled. Nothing else
// defines it (no_main). The arguments are read only by `args` below.
#[unsafe(no_mangle)]
pub extern "C" fn main(argc: i32, argv: *const *const libc::c_char) -> i32 {
    // Before any large frame: a caller's stack limit of a few KiB must not
    // end bdexec with SIGSEGV (src/exec/hygiene.rs).
    belladonna::exec::hygiene::raise_stack_limit();
    let args = args(argc, argv);
    // The product's bdexec is linked statically (crt-static); its twin,
    // the same source linked dynamically, runs PAM (src/exec/twin.rs).
    let linkage = if cfg!(target_feature = "crt-static") {
        belladonna::bdexec::Linkage::Static
    } else {
        belladonna::bdexec::Linkage::Dynamic
    };
    belladonna::bdexec::main(args, linkage)
}

/// The argument list: the standard library's where it has one (glibc).
#[cfg(target_env = "gnu")]
fn args(_argc: i32, _argv: *const *const libc::c_char) -> Vec<OsString> {
    std::env::args_os().collect()
}

/// The argument list from `main`'s own arguments (musl): at most `argc`
/// entries, ending early at a null pointer (argc 0 gives an empty list,
/// which bdexec refuses).
#[cfg(not(target_env = "gnu"))]
fn args(argc: i32, argv: *const *const libc::c_char) -> Vec<OsString> {
    use std::os::unix::ffi::OsStrExt;
    let n = usize::try_from(argc).unwrap_or(0);
    let mut out = Vec::with_capacity(n);
    if argv.is_null() {
        return out;
    }
    for i in 0..n {
        // SAFETY: the kernel's argv array holds argc pointers and a null
        // after them (execve(2)); `i < argc`, so `argv.add(i)` is inside it.
        let p = unsafe { *argv.add(i) };
        if p.is_null() {
            break;
        }
        // SAFETY: each non-null argv entry is a NUL-terminated string the
        // kernel copied onto this process's stack, alive for the whole run.
        let s = unsafe { std::ffi::CStr::from_ptr(p) };
        out.push(std::ffi::OsStr::from_bytes(s.to_bytes()).to_os_string());
    }
    out
}
