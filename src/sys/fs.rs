//! File calls nix does not wrap: getxattr(2) on a path, close_range(2),
//! getdents64(2).

use nix::errno::Errno;
use std::ffi::{CStr, OsStr};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;

/// `getxattr(path, name)` into `buf`; the length read.
pub fn getxattr(path: &CStr, name: &CStr, buf: &mut [u8]) -> nix::Result<usize> {
    // SAFETY: `path` and `name` are C strings and `buf` a writable buffer
    // of the length passed; the kernel writes at most that many bytes.
    let n = unsafe {
        libc::getxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast::<libc::c_void>(),
            buf.len(),
        )
    };
    Errno::result(n).map(|n| n as usize)
}

/// `close_range(first, last, 0)`. Closing fds owned by live Rust objects
/// is a logic error (their later close hits another fd), never a memory
/// error: callers use it where those objects are never used again (the
/// process execs or exits) or own nothing in the range.
pub fn close_range(first: u32, last: u32) -> nix::Result<()> {
    // The system call itself: musl has no wrapper for it.
    // SAFETY: close_range takes integers only; it touches no memory of
    // this process.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
    Errno::result(r).map(drop)
}

/// Device (as `st_dev`), inode and birth time of an open file.
pub struct DevInoBirth {
    pub dev: u64,
    pub ino: u64,
    /// Seconds and nanoseconds since 1970.
    pub birth: Option<(u64, u32)>,
}

/// Device (as `st_dev`), inode and birth time (seconds, nanoseconds) of
/// the open file `fd`, by one `statx`: the birth time is `None` where the
/// file system does not report one (or it is before 1970). The standard
/// library's `Metadata::created` has it only on glibc (on musl it uses
/// fstat, which has no birth time).
pub fn dev_ino_birth(fd: BorrowedFd<'_>) -> nix::Result<DevInoBirth> {
    let mut sx = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: an empty path with AT_EMPTY_PATH names `fd` itself; the
    // kernel writes one statx struct through the pointer, which points to
    // a live local of that type.
    let rc = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_INO | libc::STATX_BTIME,
            sx.as_mut_ptr(),
        )
    };
    Errno::result(rc)?;
    // SAFETY: statx succeeded, so the struct is written (and it was
    // zeroed before: every field is initialised either way).
    let sx = unsafe { sx.assume_init() };
    let dev = libc::makedev(sx.stx_dev_major, sx.stx_dev_minor);
    let birth = (sx.stx_mask & libc::STATX_BTIME != 0)
        .then(|| u64::try_from(sx.stx_btime.tv_sec).ok())
        .flatten()
        .map(|s| (s, sx.stx_btime.tv_nsec));
    Ok(DevInoBirth {
        dev,
        ino: sx.stx_ino,
        birth,
    })
}

/// A file system's magic number (`statfs.f_type`) as one type: the field
/// is signed on glibc and unsigned on musl.
#[allow(clippy::unnecessary_cast)] // a cast on one C library, not the other
pub fn fs_magic(t: nix::sys::statfs::FsType) -> u64 {
    t.0 as u64
}

/// `flock(fd, op)` on a borrowed descriptor (nix's `Flock` owns one, so
/// it needs a duplicate; `std::fs::File::try_lock` is newer than this
/// crate's minimum Rust).
pub fn flock(fd: BorrowedFd<'_>, op: libc::c_int) -> nix::Result<()> {
    // SAFETY: flock takes integers only; it touches no memory of this
    // process.
    let r = unsafe { libc::flock(fd.as_raw_fd(), op) };
    Errno::result(r).map(drop)
}

/// True when `fd` is an open descriptor of this process (`F_GETFD`).
pub fn fd_is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD on any integer only reports; no memory is touched.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// Hand `each` the name of every entry of the directory open on `dir`
/// ("." and ".." included, in the file system's order), read with
/// getdents64(2) from the descriptor's position (a fresh descriptor: the
/// whole directory) to the end, until `each` returns false. `Ok(false)`
/// when `each` stopped it. The policy loader lists policy.d this way on
/// every call, twice (the load and the recheck before exec): nix's `Dir`
/// opened the directory again and wrapped it in a C library stream (a
/// 32 KiB buffer, an fstat, two fcntl calls, a rewind, a close): six
/// system calls more each time.
pub fn each_dir_name(
    dir: BorrowedFd<'_>,
    mut each: impl FnMut(&OsStr) -> bool,
) -> nix::Result<bool> {
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: getdents64 writes at most `buf.len()` bytes into `buf`,
        // a live local buffer; the descriptor is only read from.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                buf.as_mut_ptr().cast::<libc::c_void>(),
                buf.len(),
            )
        };
        let n = Errno::result(n)? as usize;
        if n == 0 {
            return Ok(true);
        }
        if !dirent_names(buf.get(..n).ok_or(Errno::EIO)?, &mut each)? {
            return Ok(false);
        }
    }
}

/// The names in one getdents64 buffer (`struct linux_dirent64`: d_ino
/// u64, d_off i64, d_reclen u16, d_type u8, the name NUL-terminated
/// within d_reclen), each handed to `each` until it returns false. A
/// record that does not fit the buffer or has no NUL is EIO, never a
/// read past it.
fn dirent_names(buf: &[u8], each: &mut impl FnMut(&OsStr) -> bool) -> nix::Result<bool> {
    const NAME_AT: usize = 19;
    let mut rest = buf;
    while !rest.is_empty() {
        let len = rest
            .get(16..18)
            .map(|b| usize::from(u16::from_ne_bytes([b[0], b[1]])))
            .ok_or(Errno::EIO)?;
        let rec = rest
            .get(..len)
            .filter(|_| len > NAME_AT)
            .ok_or(Errno::EIO)?;
        let name = &rec[NAME_AT..];
        let end = name.iter().position(|&c| c == 0).ok_or(Errno::EIO)?;
        if !each(OsStr::from_bytes(&name[..end])) {
            return Ok(false);
        }
        rest = &rest[len..];
    }
    Ok(true)
}

/// The owner of the user namespace open on `ns` (an nsfs file), as seen
/// from the calling process's own user namespace (`NS_GET_OWNER_UID`).
pub fn ns_owner_uid(ns: impl std::os::fd::AsFd) -> nix::Result<u32> {
    const NS_GET_OWNER_UID: libc::Ioctl = 0xb704; // _IO(0xb7, 0x4)
    let mut owner: libc::uid_t = 0;
    // SAFETY: NS_GET_OWNER_UID writes one uid_t through the pointer, which
    // points to a live, properly aligned local; the kernel reads nothing
    // else.
    let rc = unsafe {
        libc::ioctl(
            ns.as_fd().as_raw_fd(),
            NS_GET_OWNER_UID,
            &mut owner as *mut libc::uid_t,
        )
    };
    Errno::result(rc).map(|_| owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_ino_birth_agrees_with_the_standard_library() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().expect("tempdir");
        let f = std::fs::File::create(d.path().join("f")).expect("create");
        let ours = dev_ino_birth(f.as_fd()).expect("statx");
        let m = f.metadata().expect("metadata");
        assert_eq!((ours.dev, ours.ino), (m.dev(), m.ino()));
        // The test build is glibc's, whose metadata has the birth time.
        let std_birth = m.created().ok().map(|t| {
            let t = t.duration_since(std::time::UNIX_EPOCH).expect("after 1970");
            (t.as_secs(), t.subsec_nanos())
        });
        assert_eq!(ours.birth, std_birth);
    }
    use std::collections::BTreeSet;
    use std::os::fd::AsFd;

    fn listed(dir: &std::path::Path) -> BTreeSet<Vec<u8>> {
        let f = std::fs::File::open(dir).expect("open dir");
        let mut names = BTreeSet::new();
        let done = each_dir_name(f.as_fd(), |n| {
            assert!(names.insert(n.as_bytes().to_vec()), "{n:?} twice");
            true
        })
        .expect("getdents64");
        assert!(done);
        names
    }

    #[test]
    fn lists_every_name_across_many_buffers() {
        let t = tempfile::tempdir().expect("tempdir");
        let mut want: BTreeSet<Vec<u8>> = [b".".to_vec(), b"..".to_vec()].into();
        // 400 names of 100+ bytes: about ten 4 KiB getdents64 buffers.
        for i in 0..400 {
            let name = format!("{i:03}-{}.toml", "x".repeat(100));
            std::fs::write(t.path().join(&name), b"").expect("write");
            want.insert(name.into_bytes());
        }
        std::fs::create_dir(t.path().join("sub.toml")).expect("mkdir");
        want.insert(b"sub.toml".to_vec());
        // Any byte but '/' and NUL is a name.
        let odd = OsStr::from_bytes(b"caf\xe9 \n\x01.toml");
        std::fs::write(t.path().join(odd), b"").expect("write odd");
        want.insert(odd.as_bytes().to_vec());
        assert_eq!(listed(t.path()), want);
    }

    #[test]
    fn an_empty_directory_has_dot_and_dotdot() {
        let t = tempfile::tempdir().expect("tempdir");
        let want: BTreeSet<Vec<u8>> = [b".".to_vec(), b"..".to_vec()].into();
        assert_eq!(listed(t.path()), want);
    }

    #[test]
    fn stops_when_asked() {
        let t = tempfile::tempdir().expect("tempdir");
        for i in 0..50 {
            std::fs::write(t.path().join(format!("{i}")), b"").expect("write");
        }
        let f = std::fs::File::open(t.path()).expect("open dir");
        let mut seen = 0;
        let done = each_dir_name(f.as_fd(), |_| {
            seen += 1;
            seen < 3
        })
        .expect("getdents64");
        assert!(!done);
        assert_eq!(seen, 3);
    }

    #[test]
    fn a_file_is_not_a_directory() {
        let t = tempfile::tempdir().expect("tempdir");
        let p = t.path().join("f");
        std::fs::write(&p, b"x").expect("write");
        let f = std::fs::File::open(&p).expect("open");
        assert_eq!(each_dir_name(f.as_fd(), |_| true), Err(Errno::ENOTDIR));
    }

    fn record(name: &[u8], reclen: u16) -> Vec<u8> {
        let mut r = vec![0u8; 19];
        r[16..18].copy_from_slice(&reclen.to_ne_bytes());
        r.extend_from_slice(name);
        r.resize(usize::from(reclen).max(r.len()), 0);
        r
    }

    #[test]
    fn malformed_buffers_are_eio_not_a_read_past_them() {
        let all = |buf: &[u8]| {
            let mut names = Vec::new();
            dirent_names(buf, &mut |n: &OsStr| {
                names.push(n.as_bytes().to_vec());
                true
            })
            .map(|_| names)
        };
        let good = record(b"a.toml\0", 32);
        assert_eq!(all(&good), Ok(vec![b"a.toml".to_vec()]));
        let mut two = good.clone();
        two.extend(record(b"b\0", 24));
        assert_eq!(all(&two), Ok(vec![b"a.toml".to_vec(), b"b".to_vec()]));
        // A record length of 0 (would loop), shorter than the header,
        // longer than the buffer, a name without its NUL, a cut header.
        for bad in [
            record(b"", 0),
            record(b"", 18),
            record(b"a\0", 64)[..40].to_vec(),
            record(b"abcde", 24),
            good[..10].to_vec(),
        ] {
            assert_eq!(all(&bad), Err(Errno::EIO), "{bad:?}");
        }
        assert_eq!(all(&[]), Ok(vec![]));
    }
}
