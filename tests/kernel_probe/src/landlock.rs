//! Raw Landlock system calls (x86_64), straight from <linux/landlock.h>.
//! Raw rather than through the `landlock` crate on purpose: the probe must
//! see exactly what the kernel answers (errno included), with no
//! compatibility layer deciding for it.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

const SYS_CREATE_RULESET: libc::c_long = 444;
const SYS_ADD_RULE: libc::c_long = 445;
const SYS_RESTRICT_SELF: libc::c_long = 446;

const CREATE_RULESET_VERSION: u32 = 1 << 0;
const RULE_PATH_BENEATH: u32 = 1;
const RULE_NET_PORT: u32 = 2;

pub mod fs {
    pub const EXECUTE: u64 = 1 << 0;
    pub const READ_FILE: u64 = 1 << 2;
    pub const READ_DIR: u64 = 1 << 3;
    pub const TRUNCATE: u64 = 1 << 14;
}
pub const NET_BIND_TCP: u64 = 1 << 0;
pub const NET_CONNECT_TCP: u64 = 1 << 1;
pub const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
pub const SCOPE_SIGNAL: u64 = 1 << 1;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

#[repr(C)]
struct NetPortAttr {
    allowed_access: u64,
    port: u64,
}

/// The kernel's Landlock ABI version, or the errno that says why there is
/// none (ENOSYS: not built in; EOPNOTSUPP: built in but not enabled, e.g.
/// missing from `lsm=`).
pub fn abi() -> Result<u32, io::Error> {
    // SAFETY: with LANDLOCK_CREATE_RULESET_VERSION the kernel requires a null attr and size 0 and
    // only returns the ABI version; it reads and writes no memory.
    let r = unsafe {
        libc::syscall(
            SYS_CREATE_RULESET,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(r as u32) }
}

/// Every filesystem right the given ABI knows.
pub fn fs_mask(abi: u32) -> u64 {
    match abi {
        0 => 0,
        1 => (1 << 13) - 1,           // EXECUTE..MAKE_SYM
        2 => (1 << 14) - 1,           // + REFER
        3 | 4 => (1 << 15) - 1,       // + TRUNCATE
        _ => (1 << 16) - 1,           // + IOCTL_DEV (ABI 5)
    }
}

pub struct Ruleset(libc::c_int);

impl Ruleset {
    pub fn new(fs: u64, net: u64, scoped: u64) -> io::Result<Ruleset> {
        let attr = RulesetAttr { handled_access_fs: fs, handled_access_net: net, scoped };
        // Pass the smallest struct that carries the fields in use, so a
        // kernel that predates a field never sees it.
        let size = if scoped != 0 { 24 } else if net != 0 { 16 } else { 8 };
        // SAFETY: `attr` is a live `#[repr(C)]` RulesetAttr of 24 bytes (three u64, the kernel's
        // struct landlock_ruleset_attr); `size` is 8, 16 or 24, never more, so the kernel reads
        // only inside it.
        let fd = unsafe { libc::syscall(SYS_CREATE_RULESET, &attr as *const RulesetAttr, size, 0u32) };
        if fd < 0 { Err(io::Error::last_os_error()) } else { Ok(Ruleset(fd as libc::c_int)) }
    }

    pub fn allow_path(&self, path: &Path, access: u64) -> io::Result<()> {
        let c = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: `c` is a NUL-terminated CString alive for the call; O_PATH opens without reading
        // the file.
        let pfd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if pfd < 0 {
            return Err(io::Error::last_os_error());
        }
        let attr = PathBeneathAttr { allowed_access: access, parent_fd: pfd };
        // SAFETY: `attr` is a live `#[repr(C, packed)]` PathBeneathAttr of 12 bytes, the layout of
        // the kernel's packed struct landlock_path_beneath_attr, which it only reads; `self.0` is
        // our ruleset fd and `pfd` stays open until after the call.
        let r = unsafe {
            libc::syscall(SYS_ADD_RULE, self.0, RULE_PATH_BENEATH, &attr as *const PathBeneathAttr, 0u32)
        };
        let err = io::Error::last_os_error();
        // SAFETY: `pfd` was opened above, is owned here and not used after this close (the rule
        // holds its own reference).
        unsafe { libc::close(pfd) };
        if r < 0 { Err(err) } else { Ok(()) }
    }

    pub fn allow_port(&self, port: u16, access: u64) -> io::Result<()> {
        let attr = NetPortAttr { allowed_access: access, port: port as u64 };
        // SAFETY: `attr` is a live `#[repr(C)]` NetPortAttr of 16 bytes (two u64), the layout of
        // the kernel's struct landlock_net_port_attr, which it only reads; `self.0` is our ruleset
        // fd.
        let r = unsafe {
            libc::syscall(SYS_ADD_RULE, self.0, RULE_NET_PORT, &attr as *const NetPortAttr, 0u32)
        };
        if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// no_new_privs, then landlock_restrict_self (the product's order).
    pub fn restrict_self(self) -> io::Result<()> {
        // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) takes only integers.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: landlock_restrict_self takes our ruleset fd and flags 0; no memory is involved.
        let r = unsafe { libc::syscall(SYS_RESTRICT_SELF, self.0, 0u32) };
        let err = io::Error::last_os_error();
        // SAFETY: `self` was taken by value, so this is the only close of the ruleset fd it owns
        // and nothing uses it afterwards.
        unsafe { libc::close(self.0) };
        if r < 0 { Err(err) } else { Ok(()) }
    }
}
