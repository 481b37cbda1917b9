//! Words shared between processes through a file, and the futex calls
//! that wait on one of them and wake its waiters: the bells the audit
//! writer's two locks ring when they are let go (audit::writer::bell),
//! so that a waiter is woken at once instead of sleeping out its
//! back-off.
//!
//! The words are a `MAP_SHARED` mapping of the first bytes of a file
//! root alone writes (the sync group file, tmpfs). A futex on a shared
//! mapping is keyed by the file's page, not by the address, so every
//! process that maps the file waits on and wakes the same futex.
//!
//! The contract the caller keeps (the reason the accessors are sound):
//! the file is at least as long as the words while they are mapped, and
//! the words are only ever changed as atomics (through this mapping, or
//! by a `pwrite` of whole words). A root process that truncated the file
//! in place during a call would end that call with SIGBUS (the group
//! file lives in root's 0700 /run/belladonna; bdexec(8) FILES). What
//! the words say never decides anything: they only end a wait early,
//! and the lock they are about is the kernel's `flock`.

use super::map::Region;
use std::os::fd::BorrowedFd;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// The first `len` bytes of a file, mapped read-write and shared;
/// unmapped when dropped.
pub struct SharedWords(Region);

impl SharedWords {
    /// Map the first `len` bytes of `fd` (a regular file opened
    /// read-write, at least `len` bytes long, under the contract above).
    /// `EINVAL` for `len` 0.
    pub fn of(fd: BorrowedFd<'_>, len: usize) -> nix::Result<SharedWords> {
        Region::new(
            fd,
            len,
            nix::sys::mman::ProtFlags::PROT_READ | nix::sys::mman::ProtFlags::PROT_WRITE,
            nix::sys::mman::MapFlags::MAP_SHARED,
        )
        .map(SharedWords)
    }

    /// The 32-bit word at byte `at` (a multiple of 4, inside the
    /// mapping), or `None` when `at` is not.
    pub fn word(&self, at: usize) -> Option<&AtomicU32> {
        if !at.is_multiple_of(4) || at.checked_add(4)? > self.0.len() {
            return None;
        }
        // SAFETY: `at` is 4-aligned inside a page-aligned mapping of at
        // least `at + 4` bytes that lives as long as the borrow of
        // `self`; other processes and threads change it only as an
        // atomic (the module's contract), which is what AtomicU32 allows.
        Some(unsafe {
            AtomicU32::from_ptr(self.0.ptr().as_ptr().cast::<u8>().add(at).cast::<u32>())
        })
    }
}

impl std::fmt::Debug for SharedWords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedWords({} bytes)", self.0.len())
    }
}

/// Sleep until `word` is woken ([`wake_all`]) or `timeout` passes, if
/// it still holds `expected` (shared futex: any process mapping the same
/// file). A changed value, a wake, the timeout and a signal all return
/// `Ok`: the caller looks again either way.
pub fn wait(word: &AtomicU32, expected: u32, timeout: Duration) -> nix::Result<()> {
    let ts = nix::sys::time::TimeSpec::from_duration(timeout);
    // SAFETY: FUTEX_WAIT reads the u32 at the word's address (valid for
    // the borrow) and the timespec (a local that outlives the call); it
    // writes no memory of this process. uaddr2 and val3 are unused.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            ts.as_ref() as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        )
    };
    if r == 0 {
        return Ok(());
    }
    match nix::errno::Errno::last() {
        nix::errno::Errno::EAGAIN | nix::errno::Errno::ETIMEDOUT | nix::errno::Errno::EINTR => {
            Ok(())
        }
        e => Err(e),
    }
}

/// Wake every process and thread waiting on `word` ([`wait`]); how
/// many were woken.
pub fn wake_all(word: &AtomicU32) -> nix::Result<usize> {
    // SAFETY: FUTEX_WAKE only uses the word's address as the futex's key
    // (valid for the borrow); it reads and writes no memory of this
    // process. The timeout, uaddr2 and val3 are unused.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        )
    };
    if r < 0 {
        return Err(nix::errno::Errno::last());
    }
    Ok(usize::try_from(r).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::sync::atomic::Ordering;
    use std::time::Instant;

    fn file() -> (tempfile::TempDir, std::fs::File) {
        let d = tempfile::tempdir().expect("tempdir");
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(d.path().join("words"))
            .expect("open");
        f.set_len(16).expect("set_len");
        (d, f)
    }

    /// Two mappings of one file (as two processes have) see each other's
    /// words, and the words are the file's bytes.
    #[test]
    fn mappings_of_one_file_share_its_words() {
        use std::os::unix::fs::FileExt;
        let (_d, f) = file();
        let a = SharedWords::of(f.as_fd(), 16).expect("map");
        let b = SharedWords::of(f.as_fd(), 16).expect("map");
        a.word(8)
            .expect("word")
            .store(0x0102_0304, Ordering::SeqCst);
        assert_eq!(b.word(8).expect("word").load(Ordering::SeqCst), 0x0102_0304);
        let mut x = [0u8; 4];
        f.read_exact_at(&mut x, 8).expect("read");
        assert_eq!(u32::from_le_bytes(x), 0x0102_0304);
        f.write_all_at(&7u32.to_le_bytes(), 12).expect("write");
        assert_eq!(a.word(12).expect("word").load(Ordering::SeqCst), 7);
        assert!(a.word(13).is_none(), "unaligned");
        assert!(a.word(16).is_none(), "past the mapping");
        assert!(SharedWords::of(f.as_fd(), 0).is_err());
    }

    /// A waiter on one mapping is woken through another long before its
    /// timeout; a waiter whose value is already stale does not sleep.
    #[test]
    fn a_wake_through_another_mapping_ends_the_wait() {
        let (_d, f) = file();
        let b = SharedWords::of(f.as_fd(), 16).expect("map");
        let long = Duration::from_secs(30);
        let t0 = Instant::now();
        wait(b.word(0).expect("word"), 1, long).expect("stale value");
        assert!(t0.elapsed() < long, "a stale value returns at once");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                // Its own mapping, as another process has.
                let a = SharedWords::of(f.as_fd(), 16).expect("map");
                let w = a.word(0).expect("word");
                tx.send(nix::unistd::gettid()).expect("send");
                let t0 = Instant::now();
                while w.load(Ordering::SeqCst) == 0 {
                    wait(w, 0, long).expect("wait");
                }
                t0.elapsed()
            });
            // Wake it once it sleeps (in the futex: it does nothing else),
            // so that the wake, not the value, ends its wait.
            let tid = rx.recv().expect("tid");
            let asleep = || {
                std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).is_ok_and(|st| {
                    st.rsplit_once(')')
                        .is_some_and(|(_, r)| r.trim_start().starts_with('S'))
                })
            };
            let t = Instant::now();
            while !asleep() && t.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(1));
            }
            let w = b.word(0).expect("word");
            w.store(1, Ordering::SeqCst);
            wake_all(w).expect("wake");
            let waited = waiter.join().expect("join");
            assert!(waited < long, "woken, not timed out ({waited:?})");
        });
    }
}
