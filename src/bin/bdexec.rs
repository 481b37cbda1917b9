//! bdexec: run a command as another user, as the policy allows.
//!
//! `no_main`: the C `main` below replaces Rust's runtime start-up, which
//! bdexec does not want on its hot path (it reads /proc/self/maps for the
//! main thread's stack guard, installs a sigaltstack and SIGSEGV/SIGBUS
//! handlers, and sets SIGPIPE to ignored; about 75 us and 20 system calls
//! per call here). bdexec's own `recv` step does the parts it needs:
//! standard fds, signal dispositions and mask (src/exec/hygiene.rs).
//! `std::env::args_os` still works: on glibc the standard library takes
//! argv from its own `.init_array` hook, not from `main`'s arguments.
#![no_main]

// SAFETY: `main` is the C entry point glibc's start code calls once with
// argc/argv; the symbol name must not be mangled. Nothing else defines it
// (no_main), and the arguments are not dereferenced here.
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    // Before any large frame: a caller's stack limit of a few KiB must not
    // end bdexec with SIGSEGV (src/exec/hygiene.rs).
    belladonna::exec::hygiene::raise_stack_limit();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // The product's bdexec is linked statically (crt-static); its twin,
    // the same source linked dynamically, runs PAM (src/exec/twin.rs).
    let linkage = if cfg!(target_feature = "crt-static") {
        belladonna::bdexec::Linkage::Static
    } else {
        belladonna::bdexec::Linkage::Dynamic
    };
    belladonna::bdexec::main(args, linkage)
}
