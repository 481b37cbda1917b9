//! Wiping secrets.

use std::sync::atomic::{Ordering, compiler_fence};

/// Overwrite `buf` with zeros in a way the optimiser keeps.
pub fn wipe(buf: &mut [u8]) {
    for b in buf.iter_mut() {
        // SAFETY: `b` is a valid, aligned, exclusive reference to a byte.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
    compiler_fence(Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    #[test]
    fn wipes() {
        let mut v = b"secret".to_vec();
        super::wipe(&mut v);
        assert_eq!(v, [0u8; 6]);
    }
}
