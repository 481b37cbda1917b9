//! Catching a signal into a flag (the password prompt's interruption):
//! the only handler this crate installs stores the signal number into an
//! atomic, which is async-signal-safe.

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use std::sync::atomic::{AtomicI32, Ordering};

static CAUGHT: AtomicI32 = AtomicI32::new(0);

extern "C" fn store(sig: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    CAUGHT.store(sig, Ordering::SeqCst);
}

/// A disposition the kernel returned, to be put back with [`restore`].
pub struct Saved(Signal, SigAction);

/// Clear the flag.
pub fn reset_caught() {
    CAUGHT.store(0, Ordering::SeqCst);
}

/// The last signal caught since [`reset_caught`], if any.
pub fn caught() -> Option<i32> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Catch `sig` into the flag (no `SA_RESTART`: a blocking read returns
/// EINTR); the old disposition comes back for [`restore`].
pub fn catch_into_flag(sig: Signal) -> nix::Result<Saved> {
    let sa = SigAction::new(
        SigHandler::Handler(store),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic (async-signal-safe).
    let old = unsafe { sigaction(sig, &sa) }?;
    Ok(Saved(sig, old))
}

/// Put back what [`catch_into_flag`] replaced.
pub fn restore(saved: Saved) {
    // SAFETY: the action is exactly what the kernel held before
    // `catch_into_flag`: reinstalling it runs nothing new.
    let _ = unsafe { sigaction(saved.0, &saved.1) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catches_and_restores() {
        reset_caught();
        let saved = catch_into_flag(Signal::SIGUSR2).expect("sigaction");
        nix::sys::signal::raise(Signal::SIGUSR2).expect("raise");
        assert_eq!(caught(), Some(libc::SIGUSR2));
        restore(saved);
        reset_caught();
        assert_eq!(caught(), None);
    }
}
