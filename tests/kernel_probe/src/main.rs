//! Belladonna kernel-matrix probe.
//!
//! Runs as `/init` (PID 1) in a tiny initramfs under qemu, or on the host
//! (`kernel-probe` as root, best inside `unshare -n`). Prints one line per
//! fact or check:
//!
//! ```text
//! PROBE <key>=<value> [detail...]
//! PROBE_DONE checks=<n> failed=<m>
//! ```
//!
//! Check values: `enforced`, `pass`, `available`, `refused`, `applied`
//! (all good), `unsupported` (the kernel lacks the feature: fine), `skip`
//! (could not be tested here, with the reason), `fail` (enforced but
//! broken, or a control went wrong). As PID 1 it powers the machine off at
//! the end; on the host it exits 1 if any check failed.
//!
//! Every restriction is applied in a forked child, so checks stay
//! independent; the child reports through a pipe and its exit status.

mod decide;
mod landlock;
mod product;
mod seccomp;

use decide::{Decision, Enforced, Profile};
use std::ffi::CString;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::FromRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

static CHECKS: AtomicU32 = AtomicU32::new(0);
static FAILED: AtomicU32 = AtomicU32::new(0);

const ALLOWED_PORT: u16 = 8080;
const DENIED_BIND_PORT: u16 = 80;
const DENIED_CONNECT_PORT: u16 = 81;
const EXEC_CHILD_ARG: &str = "--exec-child";
const EXEC_CHILD_OK: i32 = 42;

// ---------------------------------------------------------------- output

/// One write per line, so nothing interleaves with kernel messages or
/// children.
fn out(line: &str) {
    let s = format!("{line}\n");
    let mut b = s.as_bytes();
    while !b.is_empty() {
        // SAFETY: `b` is a live slice of `s`; the pointer and length describe exactly its
        // initialised bytes, which write(2) only reads. An invalid fd 1 just gives EBADF.
        let n = unsafe { libc::write(1, b.as_ptr().cast(), b.len()) };
        if n <= 0 {
            return;
        }
        b = &b[n as usize..];
    }
}

fn info(key: &str, value: &str) {
    out(&format!("PROBE {key}={value}"));
}

enum St {
    Ok(&'static str),
    Unsupported,
    Skip,
    Fail,
}

fn check(key: &str, st: St, detail: &str) {
    CHECKS.fetch_add(1, Ordering::Relaxed);
    let v = match st {
        St::Ok(v) => v,
        St::Unsupported => "unsupported",
        St::Skip => "skip",
        St::Fail => {
            FAILED.fetch_add(1, Ordering::Relaxed);
            "fail"
        }
    };
    if detail.is_empty() {
        out(&format!("PROBE {key}={v}"));
    } else {
        out(&format!("PROBE {key}={v} {detail}"));
    }
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn ename(e: i32) -> String {
    let n = match e {
        0 => "success",
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        libc::ENOSYS => "ENOSYS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EINVAL => "EINVAL",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENOENT => "ENOENT",
        libc::EFAULT => "EFAULT",
        libc::ENOTTY => "ENOTTY",
        libc::EBADF => "EBADF",
        _ => return format!("errno {e}"),
    };
    n.to_string()
}

/// `expect(what, result_errno, want)`: 0 = success expected.
fn expect(what: &str, got: i32, want: i32) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {}, want {}", ename(got), ename(want)))
    }
}

fn rc(r: libc::c_long) -> i32 {
    if r < 0 { errno() } else { 0 }
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

// ---------------------------------------------------------------- children

enum Outcome {
    Exit(i32, String),
    Signal(i32),
}

impl Outcome {
    fn ok(self) -> Result<(), String> {
        match self {
            Outcome::Exit(0, _) => Ok(()),
            Outcome::Exit(c, m) => Err(if m.is_empty() { format!("child exited {c}") } else { m }),
            Outcome::Signal(s) => Err(format!("child killed by signal {s}")),
        }
    }
}

/// Runs `f` in a forked child; its error message comes back over a pipe.
fn in_child<F: FnOnce() -> Result<(), String>>(f: F) -> Outcome {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a live `[c_int; 2]`, exactly the two ints pipe2(2) writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Outcome::Exit(99, format!("pipe2: {}", io::Error::last_os_error()));
    }
    // SAFETY: the probe is single-threaded (it never spawns a thread), so the child is a complete
    // copy with no lock held by another thread; it runs `f` and leaves only through `_exit` below,
    // never returning into the parent's code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Outcome::Exit(99, format!("fork: {}", io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: in the child, the read end `fds[0]` is owned by this function and nothing else
        // uses it; closing it leaves no dangling user.
        unsafe { libc::close(fds[0]) };
        let (code, msg) = match f() {
            Ok(()) => (0, String::new()),
            Err(m) => (1, m),
        };
        // SAFETY: `msg` is a live String; the pointer and length describe exactly its
        // initialised bytes, which write(2) only reads. `fds[1]` is our pipe's write end.
        unsafe { libc::write(fds[1], msg.as_ptr().cast(), msg.len()) };
        // SAFETY: _exit(2) ends the forked child at once, without the parent's atexit
        // handlers or destructors, which belong to the parent; nothing the child owns
        // needs them (the kernel closes its fds).
        unsafe { libc::_exit(code) };
    }
    // SAFETY: in the parent, the write end `fds[1]` is owned by this function and never used after
    // this close.
    unsafe { libc::close(fds[1]) };
    let mut msg = String::new();
    // SAFETY: `fds[0]` is the open read end created by pipe2 above, owned by this function and used
    // nowhere else; the File becomes its only owner and closes it on drop.
    let _ = unsafe { std::fs::File::from_raw_fd(fds[0]) }.read_to_string(&mut msg);
    wait(pid, msg)
}

fn wait(pid: libc::pid_t, msg: String) -> Outcome {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a live `c_int` that waitpid(2) writes; `pid` is our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if r < 0 && errno() != libc::EINTR {
            return Outcome::Exit(99, format!("waitpid: {}", io::Error::last_os_error()));
        }
    }
    if libc::WIFSIGNALED(status) {
        Outcome::Signal(libc::WTERMSIG(status))
    } else {
        Outcome::Exit(libc::WEXITSTATUS(status), msg)
    }
}

// ---------------------------------------------------------------- context

struct Ctx {
    pid1: bool,
    abi: u32,
    /// The probe binary itself (`/init` in the VM).
    exe: PathBuf,
    /// A readable file outside every allowed path.
    outside: PathBuf,
    /// The read-write directory of the profiles.
    work: PathBuf,
    /// A file in `work` for the truncate checks.
    trunc_file: PathBuf,
    /// Why loopback networking is not usable, if it is not.
    net_problem: Option<String>,
    /// Name of an abstract unix socket the parent listens on.
    abstract_name: Vec<u8>,
    _listener: libc::c_int,
}

fn mount(src: &str, target: &str, fstype: &str) -> Result<(), String> {
    let _ = std::fs::create_dir_all(target);
    let (s, t, f) = (CString::new(src).unwrap(), CString::new(target).unwrap(), CString::new(fstype).unwrap());
    // SAFETY: `s`, `t` and `f` are NUL-terminated CStrings alive for the whole call; a null `data`
    // pointer is allowed (no mount options) and flags are 0.
    let r = unsafe { libc::mount(s.as_ptr(), t.as_ptr(), f.as_ptr(), 0, std::ptr::null()) };
    if r != 0 { Err(format!("mount {fstype} on {target}: {}", io::Error::last_os_error())) } else { Ok(()) }
}

fn setup_pid1() {
    for (src, target, fstype) in [
        ("proc", "/proc", "proc"),
        ("sysfs", "/sys", "sysfs"),
        ("securityfs", "/sys/kernel/security", "securityfs"),
        ("tmpfs", "/tmp", "tmpfs"),
    ] {
        if let Err(e) = mount(src, target, fstype) {
            out(&format!("PROBE setup_warning={e}"));
        }
    }
}

#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

fn bring_lo_up() -> Result<(), String> {
    // SAFETY: socket(2) takes only integers and returns a new fd or -1; no memory is involved.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return Err(format!("socket: {}", io::Error::last_os_error()));
    }
    let mut ifr = IfReq { name: [0; libc::IFNAMSIZ], flags: 0, _pad: [0; 22] };
    ifr.name[..2].copy_from_slice(b"lo");
    let res = (|| {
        // SAFETY: `ifr` is a live `#[repr(C)]` IfReq of 40 bytes, the size of the kernel's `struct
        // ifreq` (16-byte NUL-terminated name, short flags, padding); SIOCGIFFLAGS reads the name
        // and writes the flags inside it.
        if unsafe { libc::ioctl(s, libc::SIOCGIFFLAGS, &mut ifr) } != 0 {
            return Err(format!("SIOCGIFFLAGS lo: {}", io::Error::last_os_error()));
        }
        if ifr.flags & libc::IFF_UP as libc::c_short == 0 {
            ifr.flags |= libc::IFF_UP as libc::c_short;
            // SAFETY: `ifr` is the same live 40-byte `struct ifreq` layout; SIOCSIFFLAGS only reads
            // it.
            if unsafe { libc::ioctl(s, libc::SIOCSIFFLAGS, &ifr) } != 0 {
                return Err(format!("SIOCSIFFLAGS lo up: {}", io::Error::last_os_error()));
            }
        }
        Ok(())
    })();
    // SAFETY: `s` is the socket opened above, owned by this function and not used after this close.
    unsafe { libc::close(s) };
    res
}

fn sockaddr_in(port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be() },
        sin_zero: [0; 8],
    }
}

fn tcp_socket() -> Result<libc::c_int, String> {
    // SAFETY: socket(2) takes only integers and returns a new fd or -1; no memory is involved.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return Err(format!("socket: {}", io::Error::last_os_error()));
    }
    let one: libc::c_int = 1;
    // SAFETY: `one` is a live `c_int` and 4 is its size, so setsockopt(2) reads exactly that int;
    // `s` is our socket.
    unsafe {
        libc::setsockopt(s, libc::SOL_SOCKET, libc::SO_REUSEADDR, (&one as *const libc::c_int).cast(), 4)
    };
    Ok(s)
}

/// bind() on 127.0.0.1:port; returns the errno (0 = bound) and the socket.
fn tcp_bind(port: u16) -> Result<(i32, libc::c_int), String> {
    let s = tcp_socket()?;
    let a = sockaddr_in(port);
    // SAFETY: `a` is a live `sockaddr_in` and the length passed is exactly its size; bind(2) only
    // reads it.
    let r = unsafe {
        libc::bind(s, (&a as *const libc::sockaddr_in).cast(), std::mem::size_of::<libc::sockaddr_in>() as u32)
    };
    Ok((if r < 0 { errno() } else { 0 }, s))
}

fn tcp_connect(port: u16) -> Result<i32, String> {
    let s = tcp_socket()?;
    let a = sockaddr_in(port);
    // SAFETY: `a` is a live `sockaddr_in` and the length passed is exactly its size; connect(2)
    // only reads it.
    let r = unsafe {
        libc::connect(s, (&a as *const libc::sockaddr_in).cast(), std::mem::size_of::<libc::sockaddr_in>() as u32)
    };
    let e = if r < 0 { errno() } else { 0 };
    // SAFETY: `s` was opened by tcp_socket above, is owned here and not used after this close.
    unsafe { libc::close(s) };
    Ok(e)
}

fn sockaddr_abstract(name: &[u8]) -> (libc::sockaddr_un, u32) {
    // SAFETY: `sockaddr_un` is plain integers and integer arrays, for which all-zero bytes are a
    // valid value.
    let mut a: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    a.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (i, b) in name.iter().enumerate() {
        a.sun_path[i + 1] = *b as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + 1 + name.len();
    (a, len as u32)
}

fn abstract_listen(name: &[u8]) -> Result<libc::c_int, String> {
    // SAFETY: socket(2) takes only integers and returns a new fd or -1; no memory is involved.
    let s = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    let (a, len) = sockaddr_abstract(name);
    if s < 0
        // SAFETY: only reached when `s` is a socket; `a` is a live `sockaddr_un` and `len` (family
        // + NUL + name) is at most its size, since sockaddr_abstract panics on a name too long for
        // sun_path.
        || unsafe { libc::bind(s, (&a as *const libc::sockaddr_un).cast(), len) } != 0
        // SAFETY: listen(2) takes only integers (our socket and a backlog).
        || unsafe { libc::listen(s, 128) } != 0
    {
        return Err(format!("abstract unix socket: {}", io::Error::last_os_error()));
    }
    Ok(s)
}

fn abstract_connect(name: &[u8]) -> i32 {
    // SAFETY: socket(2) takes only integers and returns a new fd or -1; no memory is involved.
    let s = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return errno();
    }
    let (a, len) = sockaddr_abstract(name);
    // SAFETY: `a` is a live `sockaddr_un` and `len` is at most its size (see sockaddr_abstract);
    // connect(2) only reads it.
    let r = unsafe { libc::connect(s, (&a as *const libc::sockaddr_un).cast(), len) };
    let e = if r < 0 { errno() } else { 0 };
    // SAFETY: `s` is the socket opened above, owned here and not used after this close.
    unsafe { libc::close(s) };
    e
}

// ---------------------------------------------------------------- landlock

/// Builds and applies (in the calling child) the ruleset for `e`:
/// fs: /proc read, `work` read-write (truncation only if not enforced),
/// the probe binary read+execute if `allow_exe`; net: bind/connect 8080;
/// scope: abstract unix sockets and signals.
fn apply(ctx: &Ctx, e: &Enforced, allow_exe: bool) -> Result<(), String> {
    let mut fs = if e.fs { landlock::fs_mask(e.abi) } else { 0 };
    if !e.truncate {
        fs &= !landlock::fs::TRUNCATE;
    }
    let net = if e.net { landlock::NET_BIND_TCP | landlock::NET_CONNECT_TCP } else { 0 };
    let scoped = if e.scope { landlock::SCOPE_ABSTRACT_UNIX_SOCKET | landlock::SCOPE_SIGNAL } else { 0 };
    if fs == 0 && net == 0 && scoped == 0 {
        return Ok(()); // nothing the kernel can enforce: best effort records it
    }
    let rs = landlock::Ruleset::new(fs, net, scoped).map_err(|x| format!("create_ruleset: {x}"))?;
    if fs != 0 {
        use landlock::fs::*;
        rs.allow_path(Path::new("/proc"), READ_FILE | READ_DIR).map_err(|x| format!("rule /proc: {x}"))?;
        rs.allow_path(&ctx.work, fs & !TRUNCATE & !EXECUTE).map_err(|x| format!("rule work: {x}"))?;
        if allow_exe {
            rs.allow_path(&ctx.exe, EXECUTE | READ_FILE).map_err(|x| format!("rule exe: {x}"))?;
        }
    }
    if net != 0 {
        rs.allow_port(ALLOWED_PORT, net).map_err(|x| format!("rule port: {x}"))?;
    }
    rs.restrict_self().map_err(|x| format!("restrict_self: {x}"))
}

fn open_errno(p: &Path, flags: libc::c_int) -> i32 {
    let c = cstr(p);
    // SAFETY: `c` is a NUL-terminated CString alive for the call; the mode argument is always
    // passed, so an O_CREAT open never reads a missing variadic argument.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, 0o600 as libc::c_uint) };
    if fd < 0 {
        errno()
    } else {
        // SAFETY: `fd` was just opened above, is owned here and not used after this close.
        unsafe { libc::close(fd) };
        0
    }
}

fn want(enforced: bool, denied_errno: i32) -> i32 {
    if enforced { denied_errno } else { 0 }
}

fn probe_fs(ctx: &Ctx, enforced: bool) -> Result<(), String> {
    expect("open /proc/self/status", open_errno(Path::new("/proc/self/status"), libc::O_RDONLY), 0)?;
    let outside = ctx.outside.display();
    expect(&format!("read {outside}"), open_errno(&ctx.outside, libc::O_RDONLY), want(enforced, libc::EACCES))?;
    let w = ctx.work.join("new-file");
    expect("create in work dir", open_errno(&w, libc::O_WRONLY | libc::O_CREAT), 0)
}

fn probe_truncate(ctx: &Ctx, enforced: bool) -> Result<(), String> {
    expect("open for write", open_errno(&ctx.trunc_file, libc::O_WRONLY), 0)?;
    let c = cstr(&ctx.trunc_file);
    // SAFETY: `c` is a NUL-terminated CString alive for the call; truncate(2) only reads the path.
    let r = unsafe { libc::truncate(c.as_ptr(), 0) };
    expect("truncate()", if r < 0 { errno() } else { 0 }, want(enforced, libc::EACCES))?;
    expect("open O_TRUNC", open_errno(&ctx.trunc_file, libc::O_WRONLY | libc::O_TRUNC), want(enforced, libc::EACCES))
}

fn probe_net(enforced: bool) -> Result<(), String> {
    let (e80, s80) = tcp_bind(DENIED_BIND_PORT)?;
    // SAFETY: `s80` is the socket tcp_bind opened, owned here and not used after this close.
    unsafe { libc::close(s80) };
    expect("bind 127.0.0.1:80", e80, want(enforced, libc::EACCES))?;
    let (e, s) = tcp_bind(ALLOWED_PORT)?;
    expect("bind 127.0.0.1:8080", e, 0)?;
    // SAFETY: listen(2) takes only integers; `s` is the socket tcp_bind opened.
    if unsafe { libc::listen(s, 8) } != 0 {
        return Err(format!("listen 8080: {}", io::Error::last_os_error()));
    }
    expect("connect 127.0.0.1:8080", tcp_connect(ALLOWED_PORT)?, 0)?;
    // SAFETY: `s` is the socket tcp_bind opened, owned here and not used after this close.
    unsafe { libc::close(s) };
    let denied = if enforced { libc::EACCES } else { libc::ECONNREFUSED };
    expect("connect 127.0.0.1:81", tcp_connect(DENIED_CONNECT_PORT)?, denied)
}

fn probe_scope(ctx: &Ctx, enforced: bool) -> Result<(), String> {
    expect("connect abstract socket outside the domain", abstract_connect(&ctx.abstract_name), want(enforced, libc::EPERM))?;
    // SAFETY: getppid(2) takes no arguments; kill(2) with signal 0 delivers nothing (it only checks
    // existence and permission) and takes no pointers.
    let r = unsafe { libc::kill(libc::getppid(), 0) };
    expect("kill(parent, 0)", if r < 0 { errno() } else { 0 }, want(enforced, libc::EPERM))?;
    // SAFETY: getpid(2) takes no arguments; kill(2) with signal 0 delivers nothing and takes no
    // pointers.
    let r = unsafe { libc::kill(libc::getpid(), 0) };
    expect("kill(self, 0)", if r < 0 { errno() } else { 0 }, 0)
}

fn only(ctx: &Ctx, fs: bool, truncate: bool, net: bool, scope: bool) -> Enforced {
    Enforced { abi: ctx.abi, fs, truncate, net, scope }
}

fn check_landlock_fs(ctx: &Ctx) {
    if ctx.abi < 1 {
        return check("landlock_fs", St::Unsupported, "no Landlock");
    }
    let control = in_child(|| probe_fs(ctx, false)).ok();
    if let Err(e) = control {
        return check("landlock_fs", St::Fail, &format!("control (no ruleset): {e}"));
    }
    let e = only(ctx, true, false, false, false);
    let exe = ctx.exe.clone();
    let r = in_child(|| {
        apply(ctx, &e, false)?;
        probe_fs(ctx, true)?;
        expect(&format!("read {}", exe.display()), open_errno(&exe, libc::O_RDONLY), libc::EACCES)
    })
    .ok();
    match r {
        Ok(()) => check("landlock_fs", St::Ok("enforced"), &format!("{} and {} -> EACCES, /proc readable", ctx.exe.display(), ctx.outside.display())),
        Err(e) => check("landlock_fs", St::Fail, &e),
    }
}

fn check_landlock_truncate(ctx: &Ctx) {
    if ctx.abi < decide::ABI_TRUNCATE {
        return check("landlock_truncate", St::Unsupported, &format!("ABI {} < {}", ctx.abi, decide::ABI_TRUNCATE));
    }
    let e = only(ctx, true, true, false, false);
    match in_child(|| {
        apply(ctx, &e, false)?;
        probe_truncate(ctx, true)
    })
    .ok()
    {
        Ok(()) => check("landlock_truncate", St::Ok("enforced"), "truncate() -> EACCES, write allowed"),
        Err(e) => check("landlock_truncate", St::Fail, &e),
    }
}

fn check_landlock_net(ctx: &Ctx) {
    if ctx.abi < decide::ABI_NET {
        return check("landlock_net", St::Unsupported, &format!("ABI {} < {}", ctx.abi, decide::ABI_NET));
    }
    if let Some(p) = &ctx.net_problem {
        return check("landlock_net", St::Skip, &format!("loopback unusable: {p}"));
    }
    if let Err(e) = in_child(|| probe_net(false)).ok() {
        return check("landlock_net", St::Fail, &format!("control (no ruleset): {e}"));
    }
    let e = only(ctx, false, false, true, false);
    match in_child(|| {
        apply(ctx, &e, false)?;
        probe_net(true)
    })
    .ok()
    {
        Ok(()) => check("landlock_net", St::Ok("enforced"), "bind :80 and connect :81 -> EACCES, :8080 allowed"),
        Err(e) => check("landlock_net", St::Fail, &e),
    }
}

fn check_landlock_scope(ctx: &Ctx) {
    if ctx.abi < decide::ABI_SCOPE {
        return check("landlock_scope", St::Unsupported, &format!("ABI {} < {}", ctx.abi, decide::ABI_SCOPE));
    }
    if let Err(e) = in_child(|| probe_scope(ctx, false)).ok() {
        return check("landlock_scope", St::Fail, &format!("control (no ruleset): {e}"));
    }
    let e = only(ctx, false, false, false, true);
    match in_child(|| {
        apply(ctx, &e, false)?;
        probe_scope(ctx, true)
    })
    .ok()
    {
        Ok(()) => check("landlock_scope", St::Ok("enforced"), "abstract socket connect and kill(parent) -> EPERM"),
        Err(e) => check("landlock_scope", St::Fail, &e),
    }
}

/// Applies `e` in a child and verifies every feature: enforced ones deny,
/// the ones recorded as not enforced really are not.
fn verify_profile(ctx: &Ctx, e: &Enforced) -> Result<(), String> {
    in_child(|| {
        apply(ctx, e, false)?;
        probe_fs(ctx, e.fs)?;
        probe_truncate(ctx, e.truncate)?;
        if ctx.net_problem.is_none() {
            probe_net(e.net)?;
        }
        probe_scope(ctx, e.scope)
    })
    .ok()
}

const WANT_ALL: Profile = Profile { min_abi: None, fs: true, truncate: true, net: true, scope: true };

fn check_policy(ctx: &Ctx) {
    // Both outcomes of the rule on this very kernel.
    let hard_above = Profile { min_abi: Some(ctx.abi + 1), ..WANT_ALL };
    let hard_equal = Profile { min_abi: Some(ctx.abi), ..WANT_ALL };
    match (decide::decide(&hard_above, ctx.abi), decide::decide(&hard_equal, ctx.abi)) {
        (Decision::Deny { .. }, Decision::Apply(_)) => check(
            "policy_both_outcomes",
            St::Ok("pass"),
            &format!("min_abi={} -> deny, min_abi={} -> apply", ctx.abi + 1, ctx.abi),
        ),
        (a, b) => check("policy_both_outcomes", St::Fail, &format!("{a:?} / {b:?}")),
    }

    // A profile that requires ABI 6 (scoping).
    let hard6 = Profile { min_abi: Some(decide::ABI_SCOPE), ..WANT_ALL };
    match decide::decide(&hard6, ctx.abi) {
        Decision::Deny { need, have } if have < need => check(
            "policy_hard_min_abi6",
            St::Ok("refused"),
            &format!("kernel ABI {have} < required {need}: call denied, nothing applied"),
        ),
        Decision::Apply(e) if ctx.abi >= decide::ABI_SCOPE => match verify_profile(ctx, &e) {
            Ok(()) => check("policy_hard_min_abi6", St::Ok("applied"), &e.describe(&hard6)),
            Err(x) => check("policy_hard_min_abi6", St::Fail, &format!("applied but: {x}")),
        },
        d => check("policy_hard_min_abi6", St::Fail, &format!("wrong decision {d:?} for ABI {}", ctx.abi)),
    }

    // Best effort: never denied; records and enforces exactly what the kernel can.
    match decide::decide(&WANT_ALL, ctx.abi) {
        Decision::Apply(e) => match verify_profile(ctx, &e) {
            Ok(()) => {
                let net = if ctx.net_problem.is_some() { " (net not verified: no loopback)" } else { "" };
                check("policy_best_effort", St::Ok("applied"), &format!("{}{net}", e.describe(&WANT_ALL)))
            }
            Err(x) => check("policy_best_effort", St::Fail, &format!("{}: {x}", e.describe(&WANT_ALL))),
        },
        d => check("policy_best_effort", St::Fail, &format!("best effort must not deny: {d:?}")),
    }
}

// ---------------------------------------------------------------- seccomp

fn check_seccomp_avail() -> bool {
    let mut kill_ok = false;
    for (key, action) in [
        ("seccomp_avail_kill_process", seccomp::RET_KILL_PROCESS),
        ("seccomp_avail_log", seccomp::RET_LOG),
        ("seccomp_avail_errno", seccomp::RET_ERRNO),
        ("seccomp_avail_user_notif", seccomp::RET_USER_NOTIF),
    ] {
        match seccomp::action_avail(action) {
            Ok(()) => {
                if action == seccomp::RET_KILL_PROCESS {
                    kill_ok = true;
                }
                check(key, St::Ok("available"), "")
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP) | Some(libc::EINVAL)) => {
                check(key, St::Unsupported, &e.to_string())
            }
            Err(e) => check(key, St::Fail, &e.to_string()),
        }
    }
    kill_ok
}

fn seccomp_mode() -> (u32, u32) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let get = |k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(u32::MAX)
    };
    (get("Seccomp:"), get("Seccomp_filters:"))
}

/// Calls each baseline syscall with harmless arguments; all must be EPERM.
fn probe_baseline_denials() -> Result<usize, String> {
    // SAFETY: every entry of `calls` passes only null pointers with zero lengths, fd -1 or small
    // integers (the registers beyond the fourth argument are unspecified, but the calls either
    // ignore them or fail on their flags); the kernel validates user pointers itself (EFAULT), so
    // no memory of this process is read or written. Run only under the installed filter, which
    // answers each with EPERM.
    let n = |nr: libc::c_long, a: [libc::c_long; 4]| rc(unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3]) });
    let nul = 0 as libc::c_long;
    let calls: &[(&str, libc::c_long, [libc::c_long; 4])] = &[
        ("ptrace(PTRACE_TRACEME)", libc::SYS_ptrace, [libc::PTRACE_TRACEME as libc::c_long, 0, 0, 0]),
        // SAFETY: getppid(2) takes no arguments and cannot fail.
        ("process_vm_readv", libc::SYS_process_vm_readv, [unsafe { libc::getppid() } as libc::c_long, nul, 0, nul]),
        ("bpf", libc::SYS_bpf, [0, nul, 0, 0]),
        ("userfaultfd", libc::SYS_userfaultfd, [0, 0, 0, 0]),
        ("keyctl", libc::SYS_keyctl, [0, 0, 0, 0]),
        ("io_uring_setup", 425, [1, nul, 0, 0]),
        ("open_by_handle_at", libc::SYS_open_by_handle_at, [-1, nul, 0, 0]),
        ("fsopen", 430, [nul, 0, 0, 0]),
        ("open_tree", 428, [-1, nul, 0, 0]),
        ("delete_module", libc::SYS_delete_module, [nul, 0, 0, 0]),
        ("finit_module", libc::SYS_finit_module, [-1, nul, 0, 0]),
        ("kexec_file_load", libc::SYS_kexec_file_load, [-1, -1, 0, nul]),
    ];
    for (name, nr, args) in calls {
        expect(name, n(*nr, *args), libc::EPERM)?;
    }
    // TIOCSTI with garbage in the upper 32 bits: still TIOCSTI to the kernel.
    let mut p = [0; 2];
    // SAFETY: `p` is a live `[c_int; 2]`, exactly the two ints pipe(2) writes (left zero if it
    // fails).
    unsafe { libc::pipe(p.as_mut_ptr()) };
    let hi = (1u64 << 32 | seccomp::TIOCSTI as u64) as libc::c_ulong;
    let c = b'x';
    // SAFETY: `c` is a live byte, the one byte TIOCSTI would read; `p[0]` is a pipe, not a tty, and
    // the filter answers EPERM before the kernel looks at the argument.
    expect("ioctl(TIOCSTI | 1<<32)", rc(unsafe { libc::ioctl(p[0], hi, &c) } as libc::c_long), libc::EPERM)?;
    // SAFETY: `c` is a live byte; TIOCLINUX reads only its subcode byte, `p[0]` is a pipe, not a
    // tty, and the filter answers EPERM before the kernel looks at the argument.
    expect("ioctl(TIOCLINUX)", rc(unsafe { libc::ioctl(p[0], seccomp::TIOCLINUX as libc::c_ulong, &c) } as libc::c_long), libc::EPERM)?;
    let mut avail: libc::c_int = 0;
    // SAFETY: `avail` is a live `c_int`, exactly what FIONREAD writes.
    expect("ioctl(FIONREAD) (allowed)", rc(unsafe { libc::ioctl(p[0], libc::FIONREAD, &mut avail) } as libc::c_long), 0)?;
    Ok(calls.len() + 2)
}

fn check_seccomp_baseline(kill: u32) {
    // Control: without a filter PTRACE_TRACEME works.
    // SAFETY: PTRACE_TRACEME takes no pointers (the other arguments are ignored); it only makes the
    // parent this short-lived child's tracer.
    let control = in_child(|| expect("ptrace(PTRACE_TRACEME) without filter", rc(unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) }), 0)).ok();
    if let Err(e) = control {
        return check("seccomp_baseline", St::Fail, &format!("control: {e}"));
    }
    let prog = seccomp::program(seccomp::errno_action(libc::EPERM), kill, &[]);
    let r = in_child(|| {
        seccomp::install(&prog).map_err(|e| format!("install filter: {e}"))?;
        let (mode, filters) = seccomp_mode();
        if mode != 2 {
            return Err(format!("/proc/self/status Seccomp: {mode}, want 2"));
        }
        let n = probe_baseline_denials()?;
        // SAFETY: getpid(2) takes no arguments and cannot fail.
        expect("getpid (allowed)", if unsafe { libc::getpid() } > 0 { 0 } else { errno() }, 0)?;
        Err(format!("OK {n} {filters}"))
    });
    match r {
        Outcome::Exit(1, m) if m.starts_with("OK ") => {
            let v: Vec<&str> = m.split(' ').collect();
            check(
                "seccomp_baseline",
                St::Ok("enforced"),
                &format!("{} denials -> EPERM incl. ptrace(PTRACE_TRACEME) and TIOCSTI|1<<32; {} syscalls in the filter; Seccomp_filters={}", v[1], seccomp::BASELINE.len(), v[2]),
            )
        }
        o => check("seccomp_baseline", St::Fail, &o.ok().err().unwrap_or_default()),
    }
}

/// getpid through the i386 entry point (int 0x80, nr 20).
fn int80_getpid() -> i64 {
    let mut ret: i64 = 20;
    // SAFETY: `int 0x80` with rax = 20 is the i386 getpid, which takes no arguments and touches no
    // memory or stack; the kernel returns in rax, and r8-r11 are declared clobbered because kernels
    // before 4.17 zeroed them on this entry. Without IA32 emulation the CPU faults and the forked
    // child dies, which the caller handles.
    unsafe {
        std::arch::asm!(
            "int 0x80",
            inout("rax") ret,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
            options(nostack)
        )
    };
    ret
}

fn check_seccomp_arch(kill: u32, kill_name: &str) {
    let prog = seccomp::program(seccomp::errno_action(libc::EPERM), kill, &[]);
    // x32: the x86_64 arch value with bit 30 set in the syscall number.
    let x32 = in_child(|| {
        seccomp::install(&prog).map_err(|e| format!("install: {e}"))?;
        // SAFETY: getpid takes no arguments; with the x32 bit set the number is still getpid on an
        // x32 kernel, ENOSYS otherwise, and the filter kills the process first. No memory is
        // involved.
        let r = unsafe { libc::syscall((seccomp::X32_SYSCALL_BIT as libc::c_long) | libc::SYS_getpid) };
        Err(format!("x32 getpid returned {r} (errno {})", ename(errno())))
    });
    // i386: only testable if the kernel runs int 0x80 at all.
    let i386_control = in_child(|| {
        let r = int80_getpid();
        if r > 0 { Ok(()) } else { Err(format!("int 0x80 getpid -> {r}")) }
    });
    let i386 = match i386_control {
        Outcome::Exit(0, _) => Some(in_child(|| {
            seccomp::install(&prog).map_err(|e| format!("install: {e}"))?;
            Err(format!("int 0x80 getpid returned {}", int80_getpid()))
        })),
        _ => None,
    };
    let killed = |o: &Outcome| matches!(o, Outcome::Signal(libc::SIGSYS));
    let describe = |o: &Outcome| match o {
        Outcome::Signal(s) => format!("signal {s}"),
        Outcome::Exit(c, m) => format!("exit {c}: {m}"),
    };
    let mut bad = Vec::new();
    if !killed(&x32) {
        bad.push(format!("x32 not killed ({})", describe(&x32)));
    }
    let i386_note = match &i386 {
        Some(o) if killed(o) => "i386(int 0x80)=killed".to_string(),
        Some(o) => {
            bad.push(format!("i386 not killed ({})", describe(o)));
            String::new()
        }
        None => format!("i386=untestable (int 0x80 unavailable: {})", describe(&i386_control)),
    };
    if bad.is_empty() {
        check("seccomp_arch", St::Ok("enforced"), &format!("x32=killed {i386_note} by {kill_name}"))
    } else {
        check("seccomp_arch", St::Fail, &bad.join("; "))
    }
}

fn check_seccomp_modes(kill: u32, log_ok: bool) {
    // Kill mode: a profile-denied syscall kills the process.
    let prog = seccomp::program(seccomp::errno_action(libc::EPERM), kill, &[(libc::SYS_swapoff, kill)]);
    let o = in_child(|| {
        seccomp::install(&prog).map_err(|e| format!("install: {e}"))?;
        // SAFETY: swapoff(NULL): the kernel validates the null path pointer itself (EFAULT) and
        // writes no memory of this process; under the filter the call is killed first.
        let r = rc(unsafe { libc::syscall(libc::SYS_swapoff, 0 as libc::c_long) });
        Err(format!("swapoff returned {}", ename(r)))
    });
    match o {
        Outcome::Signal(libc::SIGSYS) => check("seccomp_kill_mode", St::Ok("enforced"), "denied swapoff -> SIGSYS"),
        o => check("seccomp_kill_mode", St::Fail, &o.ok().err().unwrap_or_default()),
    }
    // Log (learning) mode: the call goes through; the baseline still denies.
    if !log_ok {
        return check("seccomp_log_mode", St::Unsupported, "SECCOMP_RET_LOG unavailable");
    }
    let prog = seccomp::program(seccomp::errno_action(libc::EPERM), kill, &[(libc::SYS_getppid, seccomp::RET_LOG)]);
    let r = in_child(|| {
        seccomp::install(&prog).map_err(|e| format!("install: {e}"))?;
        // SAFETY: getppid(2) takes no arguments and cannot fail.
        expect("getppid (logged)", if unsafe { libc::getppid() } > 0 { 0 } else { errno() }, 0)?;
        // SAFETY: PTRACE_TRACEME takes no pointers (the other arguments are ignored); it only makes
        // the parent this child's tracer.
        expect("ptrace (baseline in log mode)", rc(unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) }), libc::EPERM)
    })
    .ok();
    match r {
        Ok(()) => check("seccomp_log_mode", St::Ok("pass"), "logged syscall allowed, baseline still EPERM"),
        Err(e) => check("seccomp_log_mode", St::Fail, &e),
    }
}

// ---------------------------------------------------------------- exec

/// The product's order: no_new_privs -> Landlock -> seccomp -> execve.
fn check_sandbox_exec(ctx: &Ctx, kill: u32) {
    let Decision::Apply(e) = decide::decide(&WANT_ALL, ctx.abi) else {
        return check("sandbox_exec", St::Fail, "best effort denied");
    };
    let prog = seccomp::program(seccomp::errno_action(libc::EPERM), kill, &[]);
    let exe = cstr(&ctx.exe);
    let arg1 = CString::new(EXEC_CHILD_ARG).unwrap();
    let outside = cstr(&ctx.outside);
    let fs_flag = CString::new(if e.fs { "fs" } else { "nofs" }).unwrap();
    let o = in_child(|| {
        apply(ctx, &e, true)?;
        seccomp::install(&prog).map_err(|x| format!("seccomp: {x}"))?;
        let argv = [exe.as_ptr(), arg1.as_ptr(), outside.as_ptr(), fs_flag.as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null()];
        // SAFETY: `exe`, `arg1`, `outside` and `fs_flag` are NUL-terminated CStrings owned by the
        // enclosing function and alive for the call; `argv` and `envp` are NULL-terminated arrays
        // of pointers to them. On success the process image is replaced; on failure nothing was
        // touched.
        unsafe { libc::execve(exe.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        Err(format!("execve under the sandbox: {}", io::Error::last_os_error()))
    });
    match o {
        Outcome::Exit(EXEC_CHILD_OK, _) => check(
            "sandbox_exec",
            St::Ok("pass"),
            &format!("NNP+Landlock({})+seccomp, execve ok, ptrace EPERM after exec", e.describe(&WANT_ALL)),
        ),
        o => check("sandbox_exec", St::Fail, &o.ok().err().unwrap_or_else(|| "exited 0".into())),
    }
}

/// Runs after execve under the sandbox (argv: --exec-child OUTSIDE fs|nofs).
fn exec_child(args: &[String]) -> ! {
    let res = (|| {
        // SAFETY: PTRACE_TRACEME takes no pointers (the other arguments are ignored); it only makes
        // the parent this process's tracer.
        expect("ptrace after exec", rc(unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) }), libc::EPERM)?;
        if args.get(3).map(String::as_str) == Some("fs") {
            let p = PathBuf::from(args.get(2).cloned().unwrap_or_default());
            expect("read outside after exec", open_errno(&p, libc::O_RDONLY), libc::EACCES)?;
        }
        let (mode, _) = seccomp_mode();
        expect("Seccomp mode after exec", if mode == 2 { 0 } else { libc::EINVAL }, 0)
    })();
    match res {
        Ok(()) => std::process::exit(EXEC_CHILD_OK),
        Err(e) => {
            eprintln!("exec child: {e}");
            std::process::exit(1)
        }
    }
}

// ---------------------------------------------------------------- main

fn uname_release() -> String {
    // SAFETY: `utsname` is arrays of `c_char`, for which all-zero bytes are a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a live `utsname`, exactly the struct uname(2) fills.
    unsafe { libc::uname(&mut u) };
    let b: Vec<u8> = u.release.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&b).into_owned()
}

fn prepare(pid1: bool, abi: u32) -> Result<Ctx, String> {
    let exe = std::fs::read_link("/proc/self/exe").map_err(|e| format!("/proc/self/exe: {e}"))?;
    let base = if pid1 {
        PathBuf::from("/tmp/probe")
    } else {
        std::env::temp_dir().join(format!("bd-kernel-probe-{}", std::process::id()))
    };
    let work = base.join("allowed");
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let outside = base.join("outside");
    std::fs::write(&outside, b"outside\n").map_err(|e| format!("{}: {e}", outside.display()))?;
    let trunc_file = work.join("truncate-me");
    std::fs::write(&trunc_file, b"content\n").map_err(|e| format!("{}: {e}", trunc_file.display()))?;
    let net_problem = bring_lo_up().err();
    let abstract_name = format!("belladonna-kernel-probe-{}", std::process::id()).into_bytes();
    let listener = abstract_listen(&abstract_name)?;
    Ok(Ctx { pid1, abi, exe, outside, work, trunc_file, net_problem, abstract_name, _listener: listener })
}

fn run() {
    // SAFETY: getpid(2) takes no arguments and cannot fail.
    let pid1 = unsafe { libc::getpid() } == 1;
    if pid1 {
        setup_pid1();
    }
    info("kernel", &uname_release());
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    info("cmdline", cmdline.trim());
    if cmdline.split_whitespace().any(|w| w == "bdprobe.selftest_fail") {
        // Lets the matrix script prove that a failing check fails the run.
        check("selftest", St::Fail, "deliberate failure (bdprobe.selftest_fail on the kernel command line)");
    }
    if let Ok(l) = std::fs::read_to_string("/sys/kernel/security/lsm") {
        info("lsm", l.trim());
    }
    let abi = match landlock::abi() {
        Ok(v) => {
            info("landlock_abi", &v.to_string());
            v
        }
        Err(e) => {
            let why = match e.raw_os_error() {
                Some(libc::ENOSYS) => "not built in (ENOSYS)",
                Some(libc::EOPNOTSUPP) => "disabled at boot (EOPNOTSUPP: not in lsm=)",
                _ => "error",
            };
            out(&format!("PROBE landlock_abi=0 {why}: {e}"));
            0
        }
    };
    let ctx = match prepare(pid1, abi) {
        Ok(c) => c,
        Err(e) => {
            check("setup", St::Fail, &e);
            return;
        }
    };
    if let Some(p) = &ctx.net_problem {
        info("loopback", &format!("unusable: {p}"));
    }

    check_landlock_fs(&ctx);
    check_landlock_truncate(&ctx);
    check_landlock_net(&ctx);
    check_landlock_scope(&ctx);
    check_policy(&ctx);

    let kill_process = check_seccomp_avail();
    let log_ok = seccomp::action_avail(seccomp::RET_LOG).is_ok();
    let (kill, kill_name) = if kill_process {
        (seccomp::RET_KILL_PROCESS, "SECCOMP_RET_KILL_PROCESS")
    } else {
        (seccomp::RET_KILL_THREAD, "SECCOMP_RET_KILL_THREAD")
    };
    check_seccomp_baseline(kill);
    check_seccomp_arch(kill, kill_name);
    check_seccomp_modes(kill, log_ok);
    check_sandbox_exec(&ctx, kill);

    // The same ground again with the product's own code (src/sandbox/).
    product::check_seccomp();
    product::check_landlock(&ctx);
    product::check_min_abi(&ctx);
    product::check_exec(&ctx);

    if !ctx.pid1 {
        let base = ctx.work.parent().unwrap().to_path_buf();
        let _ = std::fs::remove_dir_all(base);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(EXEC_CHILD_ARG) {
        exec_child(&args);
    }
    // SAFETY: getpid(2) takes no arguments and cannot fail.
    let pid1 = unsafe { libc::getpid() } == 1;
    run();
    let (n, f) = (CHECKS.load(Ordering::Relaxed), FAILED.load(Ordering::Relaxed));
    out(&format!("PROBE_DONE checks={n} failed={f}"));
    if pid1 {
        // SAFETY: sync(2) takes no arguments; it flushes the filesystems before power-off.
        unsafe { libc::sync() };
        // SAFETY: reboot(2) with RB_POWER_OFF takes no pointers; as PID 1 in the VM the
        // probe is done (every line went out through write(2), unbuffered) and the
        // machine is meant to power off here. On failure the loop below waits.
        unsafe { libc::reboot(libc::RB_POWER_OFF) };
        loop {
            // SAFETY: pause(2) takes no arguments; it only waits for a signal.
            unsafe { libc::pause() };
        }
    }
    std::process::exit(if f == 0 { 0 } else { 1 });
}
