//! A read-only private mapping of a file root alone writes, and only ever
//! replaces whole (the compiled policy cache, src/policy/cache.rs): read
//! in place from the page cache instead of copied into fresh memory.
//!
//! Why: a 10,000-rule policy's cache is 458 KiB; read(2) into a new
//! buffer cost a call about 115 page faults (each a fresh page, zeroed,
//! then filled), most of what a large policy still added to a call
//! (docs/performance.md, session 13). A mapping shares the page cache's
//! pages: a few faults (the kernel maps 16 pages around each) and no
//! copy.
//!
//! The contract the caller keeps (the reason the accessor below is
//! sound): the file is not written in place and not truncated while it
//! is mapped. For the cache that holds because it is a root-owned 0600
//! file in root's 0700 state directory, checked on the open fd, and
//! bdexec and bdctl only ever replace it by renaming a new file over it
//! (a new inode: this mapping keeps the old one). A root process that
//! truncated it in place during a call would end that call with SIGBUS
//! before any command runs (bdexec(8) FILES says to remove it instead).

use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;

/// The first `len` bytes of a file, mapped by the kernel where it
/// chooses; unmapped when dropped. What the bytes may be used for is the
/// wrapper's to say: [`Mapping`] here (read-only, private), and
/// `sys::futex::SharedWords` (read-write, shared).
pub(crate) struct Region {
    ptr: NonNull<std::ffi::c_void>,
    len: NonZeroUsize,
}

impl Region {
    /// Map the first `len` bytes of `fd` with `prot` and `flags`.
    /// `EINVAL` for `len` 0.
    pub(crate) fn new(
        fd: BorrowedFd<'_>,
        len: usize,
        prot: nix::sys::mman::ProtFlags,
        flags: nix::sys::mman::MapFlags,
    ) -> nix::Result<Region> {
        let len = NonZeroUsize::new(len).ok_or(nix::Error::EINVAL)?;
        // SAFETY: a new mapping chosen by the kernel (no address given,
        // no MAP_FIXED), so no existing memory of this process is
        // replaced; nothing is read or written through it here.
        let ptr = unsafe { nix::sys::mman::mmap(None, len, prot, flags, fd, 0) }?;
        Ok(Region { ptr, len })
    }

    /// The start of the mapping.
    pub(crate) fn ptr(&self) -> NonNull<std::ffi::c_void> {
        self.ptr
    }

    /// Its length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len.get()
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly the mapping made in `new`, not
        // unmapped before; no reference into it outlives `self` (the
        // wrappers lend it out only for the borrow of themselves).
        let _ = unsafe { nix::sys::mman::munmap(self.ptr, self.len.get()) };
    }
}

/// `len` bytes of a file from offset 0, mapped `PROT_READ`,
/// `MAP_PRIVATE`; unmapped when dropped.
pub struct Mapping(Region);

impl Mapping {
    /// Map the first `len` bytes of `fd` (a regular file at least that
    /// long, under the contract above). `EINVAL` for `len` 0.
    pub fn of(fd: BorrowedFd<'_>, len: usize) -> nix::Result<Mapping> {
        Region::new(
            fd,
            len,
            nix::sys::mman::ProtFlags::PROT_READ,
            nix::sys::mman::MapFlags::MAP_PRIVATE,
        )
        .map(Mapping)
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the region is a readable mapping of `len` bytes that
        // lives until `self` is dropped (the borrow cannot outlive it);
        // read-only and private, and the file behind it is not changed
        // while mapped (the module's contract), so the bytes do not change
        // under the shared reference.
        unsafe { std::slice::from_raw_parts(self.0.ptr().as_ptr().cast::<u8>(), self.0.len()) }
    }
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mapping({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::Mapping;
    use std::io::Write;
    use std::os::fd::AsFd;

    #[test]
    fn maps_the_files_bytes_and_refuses_nothing_to_map() {
        let path = std::env::temp_dir().join(format!("bd-map-{}", std::process::id()));
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(&data))
            .unwrap();
        let f = std::fs::File::open(&path).unwrap();
        let m = Mapping::of(f.as_fd(), data.len()).unwrap();
        assert_eq!(m.bytes(), data.as_slice());
        // Replaced by a rename, as the cache is: the mapping keeps the
        // bytes it was made from.
        let new = path.with_extension("new");
        std::fs::write(&new, b"other").unwrap();
        std::fs::rename(&new, &path).unwrap();
        assert_eq!(m.bytes(), data.as_slice());
        assert_eq!(
            Mapping::of(f.as_fd(), 0).map(|_| ()),
            Err(nix::Error::EINVAL)
        );
        drop(m);
        let _ = std::fs::remove_file(&path);
    }
}
