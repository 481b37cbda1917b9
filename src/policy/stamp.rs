//! Stat stamps of the policy files: when a call may trust that the bytes
//! of the policy are the ones the compiled cache was built from without
//! reading and hashing them (issue 16: a large policy must cost a call
//! what a small one does).
//!
//! This is git's "racy clean" rule. A stamp is what `fstat` says of an
//! open policy file: device, inode, size, mtime, ctime (nanoseconds) and
//! the file system's type. Every change of a file's bytes through
//! write(2), truncate(2) or a rename over it changes its ctime (or its
//! inode), and the new ctime is read from the kernel's real-time clock
//! at the moment of the change: at least the time of the change minus one
//! clock tick (the coarse clock; ext4, xfs, btrfs and tmpfs stamp in
//! nanoseconds, ext4's small inodes in seconds). So if every file's
//! ctime was more than [`MARGIN_NS`] older than the moment `t0` at which
//! the stamps were taken, before its bytes were read ("settled"), a
//! change made at any time after `t0` gives a ctime different from the
//! stamp. A call whose stamps are equal to the settled stamps stored with
//! the cache therefore has the bytes the cache's key was computed from.
//! A stamp that is not settled (a file changed in the last seconds, or a
//! ctime in the future) proves nothing: the call reads and hashes, as
//! always.
//!
//! Not covered, documented (docs/performance.md, docs/decisions.md): a
//! change made through a shared writable memory mapping of the file
//! updates the times only on the first write after each writeback, and a
//! change made after the clock is set back to the exact second of the
//! last change, on a file system that stamps whole seconds, of the same
//! size, keeps the stamp. Both need root (the policy is root's and not
//! writable by others), and no editor or tool writes a policy that way.
//! File systems outside [`trusted_fs`] (NFS, FUSE: times cached or set by
//! a server) are always hashed.
#![forbid(unsafe_code)]

use nix::sys::stat::FileStat;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// How much older than `t0` every ctime must be (3 s: one coarse clock
/// tick, at most 10 ms, and whole-second and two-second granularities,
/// with room to spare).
pub const MARGIN_NS: i128 = 3_000_000_000;

/// One policy file's stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The path bytes, as in the load order.
    pub path: Vec<u8>,
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: i128,
    pub ctime: i128,
    /// `statfs.f_type` of the file's file system.
    pub fs: u64,
}

/// Nanoseconds since the epoch of a (seconds, nanoseconds) pair.
pub fn nanos(sec: i64, nsec: i64) -> i128 {
    i128::from(sec) * 1_000_000_000 + i128::from(nsec)
}

impl Stamp {
    pub fn of(path: &Path, st: &FileStat, fs: u64) -> Stamp {
        Stamp {
            path: path.as_os_str().as_bytes().to_vec(),
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size.max(0) as u64,
            mtime: nanos(st.st_mtime, st.st_mtime_nsec),
            ctime: nanos(st.st_ctime, st.st_ctime_nsec),
            fs,
        }
    }

    /// The stamp as bytes (the cache stores and compares these).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.path.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.path);
        for v in [self.dev, self.ino, self.size, self.fs] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.mtime.to_le_bytes());
        out.extend_from_slice(&self.ctime.to_le_bytes());
    }
}

/// Every stamp of `stamps`, encoded one after the other.
pub fn encode_all(stamps: &[Stamp]) -> Vec<u8> {
    let mut out = Vec::with_capacity(stamps.len() * 80);
    for s in stamps {
        s.encode(&mut out);
    }
    out
}

/// File systems whose times are the local kernel's: ext2/3/4, xfs,
/// btrfs, tmpfs, overlayfs, f2fs.
pub fn trusted_fs(f_type: u64) -> bool {
    matches!(
        f_type,
        0xEF53 | 0x5846_5342 | 0x9123_683E | 0x0102_1994 | 0x794C_7630 | 0xF2F5_2010
    )
}

/// Whether `stamps`, taken at `t0` (ns since the epoch, real time) before
/// their files were read, are settled: on a trusted file system, and
/// every ctime older than `t0` by more than [`MARGIN_NS`]. An empty list
/// is never settled (there is always a main file).
pub fn settled(stamps: &[Stamp], t0: i128) -> bool {
    !stamps.is_empty()
        && stamps
            .iter()
            .all(|s| trusted_fs(s.fs) && s.ctime < t0.saturating_sub(MARGIN_NS))
}

/// The stamp of the regular file at `path` (followed, as NSS and libpam
/// follow it), without opening it: stat and statfs. `None` for anything
/// else or an error.
pub fn of_path(path: &Path) -> Option<Stamp> {
    let st = nix::sys::stat::stat(path).ok()?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    let fs = fs_type_of_dev(st.st_dev, || {
        nix::sys::statfs::statfs(path)
            .ok()
            .map(|f| crate::sys::fs::fs_magic(f.filesystem_type()))
    })?;
    Some(Stamp::of(path, &st, fs))
}

/// `statfs.f_type` of the file system whose device is `dev`, asked (by
/// `ask`: statfs or fstatfs of a file on it) once per device in a
/// process. Every file of one mounted file system has the same st_dev
/// and the same type, and a call stamps a dozen files on two or three
/// file systems (the policy, the PAM stack, the account files): nine
/// statfs calls fewer per call. `None` when `ask` fails.
pub fn fs_type_of_dev(dev: u64, ask: impl FnOnce() -> Option<u64>) -> Option<u64> {
    // A handful of devices; bounded so that no caller can grow it.
    const MAX_DEVICES: usize = 32;
    static SEEN: std::sync::Mutex<Vec<(u64, u64)>> = std::sync::Mutex::new(Vec::new());
    if let Ok(seen) = SEEN.lock()
        && let Some(&(_, t)) = seen.iter().find(|(d, _)| *d == dev)
    {
        return Some(t);
    }
    let t = ask()?;
    if let Ok(mut seen) = SEEN.lock()
        && seen.len() < MAX_DEVICES
    {
        seen.push((dev, t));
    }
    Some(t)
}

/// A regular file's text (at most `limit` bytes, else `None`) and its
/// stamp, taken on the open file before it is read.
pub fn read_stamped(path: &Path, limit: usize) -> Option<(String, Stamp)> {
    use std::os::fd::AsFd as _;
    let f = std::fs::File::open(path).ok()?;
    let st = nix::sys::stat::fstat(f.as_fd()).ok()?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    let fs = fs_type_of_dev(st.st_dev, || {
        nix::sys::statfs::fstatfs(f.as_fd())
            .ok()
            .map(|s| crate::sys::fs::fs_magic(s.filesystem_type()))
    })?;
    let stamp = Stamp::of(path, &st, fs);
    let text =
        crate::base::bounded_read::read_text_up_to(f, st.st_size.max(0) as u64, limit as u64)
            .ok()?;
    (text.len() <= limit).then_some((text, stamp))
}

/// The real-time clock now, in ns since the epoch (0 if unreadable: no
/// stamp is then settled).
pub fn now() -> i128 {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME) {
        Ok(t) => nanos(t.tv_sec(), t.tv_nsec()),
        Err(_) => 0,
    }
}

/// A stamp of the main policy file with these times (unit tests).
#[cfg(test)]
pub(crate) fn sample(ctime: i128, fs: u64) -> Stamp {
    Stamp {
        path: b"/etc/belladonna/policy.toml".to_vec(),
        dev: 1,
        ino: 2,
        size: 3,
        mtime: ctime,
        ctime,
        fs,
    }
}

#[cfg(test)]
mod tests {
    use super::sample as stamp;
    use super::*;

    const EXT4: u64 = 0xEF53;
    const NFS: u64 = 0x6969;
    const T0: i128 = 1_700_000_000_000_000_000;

    #[test]
    fn settled_needs_every_ctime_older_than_the_margin() {
        assert!(settled(&[stamp(T0 - MARGIN_NS - 1, EXT4)], T0));
        assert!(
            !settled(&[stamp(T0 - MARGIN_NS, EXT4)], T0),
            "at the margin"
        );
        assert!(!settled(&[stamp(T0 - 1, EXT4)], T0), "just changed");
        assert!(
            !settled(&[stamp(T0 + 5, EXT4)], T0),
            "a ctime in the future"
        );
        let old = stamp(T0 - 10 * MARGIN_NS, EXT4);
        let fresh = stamp(T0 - 1_000, EXT4);
        assert!(
            !settled(&[old.clone(), fresh], T0),
            "one racy file is enough"
        );
        assert!(settled(&[old.clone(), old], T0));
    }

    #[test]
    fn fs_type_is_asked_once_per_device() {
        let asked = std::cell::Cell::new(0);
        let ask = |t: u64| {
            asked.set(asked.get() + 1);
            Some(t)
        };
        // Device numbers no real file system here has.
        let (a, b) = (u64::MAX - 7, u64::MAX - 8);
        assert_eq!(fs_type_of_dev(a, || ask(EXT4)), Some(EXT4));
        assert_eq!(fs_type_of_dev(a, || ask(NFS)), Some(EXT4));
        assert_eq!(asked.get(), 1);
        assert_eq!(fs_type_of_dev(b, || ask(NFS)), Some(NFS));
        assert_eq!(asked.get(), 2);
        // A failed ask is not remembered.
        let c = u64::MAX - 9;
        assert_eq!(fs_type_of_dev(c, || None), None);
        assert_eq!(fs_type_of_dev(c, || ask(EXT4)), Some(EXT4));
        // Real files: the type a statfs gives.
        let st = nix::sys::stat::stat("/proc/self/status").expect("stat");
        let real = nix::sys::statfs::statfs("/proc/self/status").expect("statfs");
        let t = fs_type_of_dev(st.st_dev, || None).unwrap_or(real.filesystem_type().0 as u64);
        assert_eq!(t, real.filesystem_type().0 as u64);
    }

    #[test]
    fn settled_needs_a_local_file_system_and_a_file() {
        assert!(!settled(&[stamp(T0 - 10 * MARGIN_NS, NFS)], T0));
        assert!(!settled(&[], T0));
        assert!(!settled(&[stamp(0, EXT4)], 0), "an unreadable clock");
    }

    #[test]
    fn every_field_is_in_the_encoding() {
        let base = stamp(T0 - 10 * MARGIN_NS, EXT4);
        let enc = encode_all(std::slice::from_ref(&base));
        let variants = [
            Stamp {
                path: b"/etc/belladonna/policy.tomm".to_vec(),
                ..base.clone()
            },
            Stamp {
                dev: 9,
                ..base.clone()
            },
            Stamp {
                ino: 9,
                ..base.clone()
            },
            Stamp {
                size: 9,
                ..base.clone()
            },
            Stamp {
                mtime: base.mtime + 1,
                ..base.clone()
            },
            Stamp {
                ctime: base.ctime + 1,
                ..base.clone()
            },
            Stamp {
                fs: 0x5846_5342,
                ..base.clone()
            },
        ];
        for v in variants {
            assert_ne!(encode_all(std::slice::from_ref(&v)), enc, "{v:?}");
        }
        assert_ne!(encode_all(&[base.clone(), base.clone()]), enc);
    }
}
