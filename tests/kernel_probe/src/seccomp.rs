//! A hand-assembled classic-BPF seccomp filter with the product's baseline
//! (DESIGN section 4): kill any non-native architecture (i386 via int 0x80,
//! x32 via the 0x40000000 bit), deny the baseline syscalls, and deny
//! TIOCSTI/TIOCLINUX matched on the low 32 bits of the ioctl request.
//! No libseccomp here: the probe is static and self-contained.

use std::io;

pub const RET_KILL_THREAD: u32 = 0x0000_0000;
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;

const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
const SECCOMP_GET_ACTION_AVAIL: libc::c_uint = 2;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;
pub const TIOCSTI: u32 = 0x5412;
pub const TIOCLINUX: u32 = 0x541c;

/// The baseline denials, by name (for the report) and number.
pub const BASELINE: &[(&str, libc::c_long)] = &[
    ("ptrace", libc::SYS_ptrace),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("bpf", libc::SYS_bpf),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("io_uring_setup", 425),
    ("io_uring_enter", 426),
    ("io_uring_register", 427),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("open_tree", 428),
    ("move_mount", 429),
    ("fsopen", 430),
    ("fsconfig", 431),
    ("fsmount", 432),
    ("fspick", 433),
];

pub fn errno_action(e: i32) -> u32 {
    RET_ERRNO | (e as u32 & 0xffff)
}

/// SECCOMP_GET_ACTION_AVAIL.
pub fn action_avail(action: u32) -> io::Result<()> {
    let a = action;
    // SAFETY: `a` is a live u32, the one value SECCOMP_GET_ACTION_AVAIL reads; flags are 0.
    let r = unsafe { libc::syscall(libc::SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0u32, &a as *const u32) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt: 0, jf: 0, k }
}
fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}
const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARG1_LO: u32 = 16 + 8; // args[1], low 32 bits (little endian)

/// Baseline program. `deny` is the action for the baseline syscalls,
/// `kill` the action for foreign architectures, `extra` more (nr, action)
/// pairs checked after the baseline.
pub fn program(deny: u32, kill: u32, extra: &[(libc::c_long, u32)]) -> Vec<libc::sock_filter> {
    let mut p = vec![
        stmt(LD_W_ABS, OFF_ARCH),
        jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, kill),
        stmt(LD_W_ABS, OFF_NR),
        jump(JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(RET_K, kill),
    ];
    let rules = BASELINE.iter().map(|&(_, nr)| (nr, deny)).chain(extra.iter().copied());
    for (nr, action) in rules {
        p.push(jump(JEQ_K, nr as u32, 0, 1));
        p.push(stmt(RET_K, action));
    }
    // ioctl: compare only the low 32 bits of the request (the kernel
    // truncates it to an unsigned int, so 0x1_0000_5412 is TIOCSTI too).
    p.push(jump(JEQ_K, libc::SYS_ioctl as u32, 0, 5));
    p.push(stmt(LD_W_ABS, OFF_ARG1_LO));
    p.push(jump(JEQ_K, TIOCSTI, 2, 0));
    p.push(jump(JEQ_K, TIOCLINUX, 1, 0));
    p.push(stmt(RET_K, RET_ALLOW));
    p.push(stmt(RET_K, deny));
    p.push(stmt(RET_K, RET_ALLOW));
    p
}

/// no_new_privs, then install the filter for this process.
pub fn install(prog: &[libc::sock_filter]) -> io::Result<()> {
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) takes only integers.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr() as *mut _ };
    // SAFETY: `fprog` is a live sock_fprog whose `filter` points at `prog`, borrowed for the whole
    // call, and whose `len` is at most `prog.len()` (the u16 can only truncate), so the kernel
    // copies only initialised instructions; it never writes through the pointer despite the `*mut`.
    let r = unsafe {
        libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0u32, &fprog as *const libc::sock_fprog)
    };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}
