//! The static bdexec's memory allocator: a bump arena, with the
//! C library's `malloc` behind it (docs/decisions.md section 20).
//!
//! A call lives about a millisecond and allocates a few hundred KiB in
//! some 800 blocks. musl's `malloc` (mallocng) hands most of them back to
//! the kernel as they are freed: some 40 `mmap`/`munmap` pairs and their
//! page faults per call. Here an allocation takes the next aligned bytes
//! of a fixed arena; a free gives bytes back only when it is the last
//! block (a stack, which is how most of a call's short-lived buffers are
//! used), and a `realloc` of the last block grows or shrinks it in place.
//! Everything else is kept until the process execs or exits, which is
//! what the kernel does with a process's memory anyway. When the arena
//! is full (a long monitor session, a session recording), allocations go
//! to the C library's `malloc`, and their frees back to it.
//!
//! The arena is one anonymous mapping made at the first allocation
//! (`MAP_NORESERVE`: the kernel backs a page at its first touch, so a
//! call pays only for what it uses). Not .bss: that would count against
//! the caller's RLIMIT_AS at exec, before bdexec can raise it, and a
//! small limit would end the exec with SIGSEGV. When the mapping cannot
//! be made, every allocation is the C library's. Threads are allowed
//! (the offset is moved by compare-and-swap), though bdexec has none.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Arena size: well above a call's needs (a plain call uses about
/// 100 KiB; the sandboxed and monitored rules of `make bench` more), and
/// only touched pages cost anything.
const ARENA: usize = 4 << 20;

/// The arena's start: null before the first allocation, [`NO_ARENA`]
/// when the mapping failed.
static BASE: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());

/// A non-null address no mapping has: the arena could not be made.
const NO_ARENA: *mut u8 = std::ptr::dangling_mut::<u8>();

/// Bytes of the arena in use, from its start: one arena, one offset,
/// however many `Bump` values there are.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The arena's start, mapped on first use; `None` when it cannot be.
fn arena() -> Option<*mut u8> {
    let b = BASE.load(Ordering::Acquire);
    if b == NO_ARENA {
        return None;
    }
    if !b.is_null() {
        return Some(b);
    }
    // SAFETY: a new private anonymous mapping at an address the kernel
    // picks; it aliases no memory of this process.
    let m = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            ARENA,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    let new = if m == libc::MAP_FAILED {
        NO_ARENA
    } else {
        m.cast::<u8>()
    };
    match BASE.compare_exchange(
        std::ptr::null_mut(),
        new,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => (new != NO_ARENA).then_some(new),
        Err(won) => {
            // Another thread mapped it first: keep theirs.
            if new != NO_ARENA {
                // SAFETY: `new` is the mapping made above, unused.
                unsafe { libc::munmap(new.cast(), ARENA) };
            }
            (won != NO_ARENA).then_some(won)
        }
    }
}

/// The allocator: the arena, then [`System`].
pub struct Bump {
    next: &'static AtomicUsize,
}

impl Bump {
    pub const fn new() -> Self {
        Bump { next: &NEXT }
    }

    /// The offset of `ptr` in the arena, if it came from it.
    fn offset_of(ptr: *mut u8) -> Option<usize> {
        let b = BASE.load(Ordering::Acquire);
        if b.is_null() || b == NO_ARENA {
            return None;
        }
        let (p, b) = (ptr as usize, b as usize);
        (p >= b && p < b + ARENA).then(|| p - b)
    }

    /// `size` bytes aligned to `align` from the arena, or null when it
    /// has no room (or there is no arena).
    fn take(&self, size: usize, align: usize) -> *mut u8 {
        let Some(base_ptr) = arena() else {
            return std::ptr::null_mut();
        };
        let base = base_ptr as usize;
        let mut cur = self.next.load(Ordering::Relaxed);
        loop {
            // align is a power of two (Layout's guarantee).
            let Some(start) = (base + cur)
                .checked_add(align - 1)
                .map(|s| s & !(align - 1))
            else {
                return std::ptr::null_mut();
            };
            let Some(end) = start.checked_add(size) else {
                return std::ptr::null_mut();
            };
            if end > base + ARENA {
                return std::ptr::null_mut();
            }
            match self.next.compare_exchange_weak(
                cur,
                end - base,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                // The pointer keeps the mapping's provenance: an offset
                // from its start, not an integer cast.
                Ok(_) => return base_ptr.wrapping_add(start - base),
                Err(now) => cur = now,
            }
        }
    }

    /// Move the end of the arena from `from` to `to` (offsets) if `from`
    /// is still its end: a free or resize of the last block.
    fn move_end(&self, from: usize, to: usize) -> bool {
        self.next
            .compare_exchange(from, to, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

impl Default for Bump {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every block returned is either a fresh range of the arena of
// at least `layout.size()` bytes aligned to `layout.align()`, which no
// other live block overlaps (ranges are taken and given back only at the
// arena's end), or System's; frees and resizes go back to whichever gave
// the block (`offset_of`).
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = self.take(layout.size(), layout.align());
        if !p.is_null() {
            return p;
        }
        // SAFETY: the caller's layout is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = self.take(layout.size(), layout.align());
        if !p.is_null() {
            // Bytes given back and taken again may not be zero.
            // SAFETY: `p` has `layout.size()` writable bytes (take).
            unsafe { std::ptr::write_bytes(p, 0, layout.size()) };
            return p;
        }
        // SAFETY: as in alloc.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(off) = Self::offset_of(ptr) {
            // Only the last block goes back; the rest stays until exit.
            let _ = self.move_end(off + layout.size(), off);
            return;
        }
        // SAFETY: not the arena's, so System gave it, with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(off) = Self::offset_of(ptr) else {
            // SAFETY: System's block, passed on unchanged.
            return unsafe { System.realloc(ptr, layout, new_size) };
        };
        // The last block grows or shrinks in place while the arena has
        // room.
        if let Some(end) = off.checked_add(new_size)
            && end <= ARENA
            && self.move_end(off + layout.size(), end)
        {
            return ptr;
        }
        if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: the new layout has the old alignment and a non-zero
        // size (larger than the old one), as GlobalAlloc::realloc allows.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a valid layout (above).
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live and distinct; the old one has
            // `layout.size()` readable bytes, the new one more.
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size()) };
            // SAFETY: `ptr` is the arena's block of `layout`.
            unsafe { self.dealloc(ptr, layout) };
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).expect("layout")
    }

    // One arena per process: the tests take turns and check facts
    // relative to wherever the offset is.
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn blocks_are_aligned_distinct_and_the_last_one_goes_back() {
        let _t = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let b = Bump::new();
        // SAFETY: valid layouts; every block is written only within its
        // size and freed with its own layout.
        unsafe {
            let a = b.alloc(layout(10, 1));
            let c = b.alloc(layout(64, 64));
            assert!(Bump::offset_of(a).is_some() && Bump::offset_of(c).is_some());
            assert_eq!(c as usize % 64, 0);
            assert!(c as usize >= a as usize + 10, "no overlap");
            std::ptr::write_bytes(a, 0xaa, 10);
            std::ptr::write_bytes(c, 0xbb, 64);
            assert_eq!(*a.add(9), 0xaa);
            let end = b.next.load(Ordering::Relaxed);
            b.dealloc(c, layout(64, 64));
            assert_eq!(Some(b.next.load(Ordering::Relaxed)), Bump::offset_of(c));
            assert!(b.next.load(Ordering::Relaxed) < end);
            // Not the last block: kept.
            let d = b.alloc(layout(8, 8));
            let before = b.next.load(Ordering::Relaxed);
            b.dealloc(a, layout(10, 1));
            assert_eq!(b.next.load(Ordering::Relaxed), before);
            b.dealloc(d, layout(8, 8));
        }
    }

    #[test]
    fn realloc_grows_the_last_block_in_place_and_copies_others() {
        let _t = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let b = Bump::new();
        // SAFETY: as above.
        unsafe {
            let a = b.alloc(layout(16, 8));
            for i in 0..16 {
                *a.add(i) = i as u8;
            }
            let a2 = b.realloc(a, layout(16, 8), 4096);
            assert_eq!(a2, a, "the last block grows in place");
            let c = b.alloc(layout(8, 8));
            let a3 = b.realloc(a2, layout(4096, 8), 8192);
            assert_ne!(a3, a2, "not the last block: moved");
            for i in 0..16 {
                assert_eq!(*a3.add(i), i as u8, "contents copied");
            }
            let z = b.alloc_zeroed(layout(32, 8));
            assert!((0..32).all(|i| *z.add(i) == 0));
            b.dealloc(z, layout(32, 8));
            b.dealloc(a3, layout(8192, 8));
            b.dealloc(c, layout(8, 8));
        }
    }

    #[test]
    fn a_full_arena_falls_back_to_the_c_library() {
        let _t = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let b = Bump::new();
        // SAFETY: as above.
        unsafe {
            let big = b.alloc(layout(ARENA + 1, 8));
            assert!(!big.is_null());
            assert!(
                Bump::offset_of(big).is_none(),
                "larger than the arena: malloc's"
            );
            *big.add(ARENA) = 1;
            let grown = b.realloc(big, layout(ARENA + 1, 8), ARENA + 100);
            assert!(Bump::offset_of(grown).is_none());
            assert_eq!(*grown.add(ARENA), 1);
            b.dealloc(grown, layout(ARENA + 100, 8));
        }
    }
}
