//! Pause points for tests that must race with or kill bdexec at an exact
//! step (or make it panic there). Compiled in only with the `test-hooks`
//! cargo feature; in every other build `point` is an empty inline
//! function.
#![forbid(unsafe_code)]

/// Stop the process (SIGSTOP) when `BELLADONNA_TEST_PAUSE` names this
/// point, so a test can act (kill -9, change a file) and then continue it.
/// Panic when `BELLADONNA_TEST_PANIC` names it (to test the panic hook).
#[cfg(feature = "test-hooks")]
pub fn point(name: &str) {
    if std::env::var_os("BELLADONNA_TEST_PAUSE").is_some_and(|v| v == name) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
    }
    if std::env::var_os("BELLADONNA_TEST_PANIC").is_some_and(|v| v == name) {
        panic!("test panic at {name}");
    }
}

/// No-op outside test builds.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn point(_name: &str) {}

/// Whether this dynamically linked test build acts as the static bdexec
/// (hands PAM and NSS beyond `files` to its twin, src/exec/twin.rs):
/// when `BELLADONNA_TEST_ACT_STATIC` names this very executable. The
/// twin, a copy at another path, then runs as the dynamic program it is.
#[cfg(feature = "test-hooks")]
pub fn act_static() -> bool {
    let Some(want) = std::env::var_os("BELLADONNA_TEST_ACT_STATIC") else {
        return false;
    };
    std::fs::read_link("/proc/self/exe").is_ok_and(|p| p.as_os_str() == want)
}

/// Never outside test builds.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn act_static() -> bool {
    false
}

/// A unit test that cannot run here says so where `cargo test` shows it:
/// straight to the process's stderr (the harness captures only the
/// `print!` family), as the integration tests' `SKIPPED (needs root)`.
#[cfg(test)]
pub(crate) fn skipped(test: &str, why: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED ({why}): {test}");
}
