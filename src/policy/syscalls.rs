//! x86_64 system call names, numbers and systemd-style `@groups`.
//!
//! The policy parser validates profiles with [`expand`]; the seccomp
//! compiler turns the resulting numbers into BPF. Unknown names are errors
//! (systemd silently ignores them; we don't: a typo must not open a hole).
//!
//! The tables are written below as slices of `&str` ([`SYSCALLS`],
//! [`GROUPS`], [`BASELINE_DENY`]) and read at run time only through
//! their packed copies ([`crate::base::str_table`]): a slice of `&str`
//! in a position-independent bdexec is about 19 KB of pointers that the
//! C library relocates in every process, four copy-on-write pages per
//! call, for tables a call mostly never reads. Code outside the tests
//! uses the functions here, never the slices.
#![forbid(unsafe_code)]

use crate::base::str_table::{StrTable, StrTableBuilder, total_len};
use std::collections::BTreeSet;

/// `(name, number)` for every x86_64 (64-bit ABI) system call, sorted by
/// name (byte order) for binary search.
///
/// Generated from `/usr/include/x86_64-linux-gnu/asm/unistd_64.h` (Linux
/// UAPI headers of the build machine, up to `set_mempolicy_home_node` = 450)
/// with:
///
/// ```text
/// grep -E '^#define __NR_[a-z0-9_]+ [0-9]+' unistd_64.h \
///   | awk '{sub("__NR_","",$2); printf "    (\"%s\", %s),\n", $2, $3}' \
///   | LC_ALL=C sort
/// ```
///
/// plus, by hand from the kernel's `arch/x86/entry/syscalls/syscall_64.tbl`,
/// the calls newer than those headers: `uretprobe` (335), `cachestat` (451)
/// through `file_setattr` (469). Keeping them matters: `open_tree_attr` is
/// part of the new mount API that every profile denies. The unit tests check
/// sortedness, uniqueness and a few well-known numbers; `tests/syscall_table.rs`
/// checks every number against libseccomp's table (the installed
/// `libseccomp.so.2`) and the UAPI header, both ways, and lists the few
/// calls newer than both.
pub const SYSCALLS: &[(&str, u32)] = &[
    ("_sysctl", 156),
    ("accept", 43),
    ("accept4", 288),
    ("access", 21),
    ("acct", 163),
    ("add_key", 248),
    ("adjtimex", 159),
    ("afs_syscall", 183),
    ("alarm", 37),
    ("arch_prctl", 158),
    ("bind", 49),
    ("bpf", 321),
    ("brk", 12),
    ("cachestat", 451),
    ("capget", 125),
    ("capset", 126),
    ("chdir", 80),
    ("chmod", 90),
    ("chown", 92),
    ("chroot", 161),
    ("clock_adjtime", 305),
    ("clock_getres", 229),
    ("clock_gettime", 228),
    ("clock_nanosleep", 230),
    ("clock_settime", 227),
    ("clone", 56),
    ("clone3", 435),
    ("close", 3),
    ("close_range", 436),
    ("connect", 42),
    ("copy_file_range", 326),
    ("creat", 85),
    ("create_module", 174),
    ("delete_module", 176),
    ("dup", 32),
    ("dup2", 33),
    ("dup3", 292),
    ("epoll_create", 213),
    ("epoll_create1", 291),
    ("epoll_ctl", 233),
    ("epoll_ctl_old", 214),
    ("epoll_pwait", 281),
    ("epoll_pwait2", 441),
    ("epoll_wait", 232),
    ("epoll_wait_old", 215),
    ("eventfd", 284),
    ("eventfd2", 290),
    ("execve", 59),
    ("execveat", 322),
    ("exit", 60),
    ("exit_group", 231),
    ("faccessat", 269),
    ("faccessat2", 439),
    ("fadvise64", 221),
    ("fallocate", 285),
    ("fanotify_init", 300),
    ("fanotify_mark", 301),
    ("fchdir", 81),
    ("fchmod", 91),
    ("fchmodat", 268),
    ("fchmodat2", 452),
    ("fchown", 93),
    ("fchownat", 260),
    ("fcntl", 72),
    ("fdatasync", 75),
    ("fgetxattr", 193),
    ("file_getattr", 468),
    ("file_setattr", 469),
    ("finit_module", 313),
    ("flistxattr", 196),
    ("flock", 73),
    ("fork", 57),
    ("fremovexattr", 199),
    ("fsconfig", 431),
    ("fsetxattr", 190),
    ("fsmount", 432),
    ("fsopen", 430),
    ("fspick", 433),
    ("fstat", 5),
    ("fstatfs", 138),
    ("fsync", 74),
    ("ftruncate", 77),
    ("futex", 202),
    ("futex_requeue", 456),
    ("futex_wait", 455),
    ("futex_waitv", 449),
    ("futex_wake", 454),
    ("futimesat", 261),
    ("get_kernel_syms", 177),
    ("get_mempolicy", 239),
    ("get_robust_list", 274),
    ("get_thread_area", 211),
    ("getcpu", 309),
    ("getcwd", 79),
    ("getdents", 78),
    ("getdents64", 217),
    ("getegid", 108),
    ("geteuid", 107),
    ("getgid", 104),
    ("getgroups", 115),
    ("getitimer", 36),
    ("getpeername", 52),
    ("getpgid", 121),
    ("getpgrp", 111),
    ("getpid", 39),
    ("getpmsg", 181),
    ("getppid", 110),
    ("getpriority", 140),
    ("getrandom", 318),
    ("getresgid", 120),
    ("getresuid", 118),
    ("getrlimit", 97),
    ("getrusage", 98),
    ("getsid", 124),
    ("getsockname", 51),
    ("getsockopt", 55),
    ("gettid", 186),
    ("gettimeofday", 96),
    ("getuid", 102),
    ("getxattr", 191),
    ("getxattrat", 464),
    ("init_module", 175),
    ("inotify_add_watch", 254),
    ("inotify_init", 253),
    ("inotify_init1", 294),
    ("inotify_rm_watch", 255),
    ("io_cancel", 210),
    ("io_destroy", 207),
    ("io_getevents", 208),
    ("io_pgetevents", 333),
    ("io_setup", 206),
    ("io_submit", 209),
    ("io_uring_enter", 426),
    ("io_uring_register", 427),
    ("io_uring_setup", 425),
    ("ioctl", 16),
    ("ioperm", 173),
    ("iopl", 172),
    ("ioprio_get", 252),
    ("ioprio_set", 251),
    ("kcmp", 312),
    ("kexec_file_load", 320),
    ("kexec_load", 246),
    ("keyctl", 250),
    ("kill", 62),
    ("landlock_add_rule", 445),
    ("landlock_create_ruleset", 444),
    ("landlock_restrict_self", 446),
    ("lchown", 94),
    ("lgetxattr", 192),
    ("link", 86),
    ("linkat", 265),
    ("listen", 50),
    ("listmount", 458),
    ("listxattr", 194),
    ("listxattrat", 465),
    ("llistxattr", 195),
    ("lookup_dcookie", 212),
    ("lremovexattr", 198),
    ("lseek", 8),
    ("lsetxattr", 189),
    ("lsm_get_self_attr", 459),
    ("lsm_list_modules", 461),
    ("lsm_set_self_attr", 460),
    ("lstat", 6),
    ("madvise", 28),
    ("map_shadow_stack", 453),
    ("mbind", 237),
    ("membarrier", 324),
    ("memfd_create", 319),
    ("memfd_secret", 447),
    ("migrate_pages", 256),
    ("mincore", 27),
    ("mkdir", 83),
    ("mkdirat", 258),
    ("mknod", 133),
    ("mknodat", 259),
    ("mlock", 149),
    ("mlock2", 325),
    ("mlockall", 151),
    ("mmap", 9),
    ("modify_ldt", 154),
    ("mount", 165),
    ("mount_setattr", 442),
    ("move_mount", 429),
    ("move_pages", 279),
    ("mprotect", 10),
    ("mq_getsetattr", 245),
    ("mq_notify", 244),
    ("mq_open", 240),
    ("mq_timedreceive", 243),
    ("mq_timedsend", 242),
    ("mq_unlink", 241),
    ("mremap", 25),
    ("mseal", 462),
    ("msgctl", 71),
    ("msgget", 68),
    ("msgrcv", 70),
    ("msgsnd", 69),
    ("msync", 26),
    ("munlock", 150),
    ("munlockall", 152),
    ("munmap", 11),
    ("name_to_handle_at", 303),
    ("nanosleep", 35),
    ("newfstatat", 262),
    ("nfsservctl", 180),
    ("open", 2),
    ("open_by_handle_at", 304),
    ("open_tree", 428),
    ("open_tree_attr", 467),
    ("openat", 257),
    ("openat2", 437),
    ("pause", 34),
    ("perf_event_open", 298),
    ("personality", 135),
    ("pidfd_getfd", 438),
    ("pidfd_open", 434),
    ("pidfd_send_signal", 424),
    ("pipe", 22),
    ("pipe2", 293),
    ("pivot_root", 155),
    ("pkey_alloc", 330),
    ("pkey_free", 331),
    ("pkey_mprotect", 329),
    ("poll", 7),
    ("ppoll", 271),
    ("prctl", 157),
    ("pread64", 17),
    ("preadv", 295),
    ("preadv2", 327),
    ("prlimit64", 302),
    ("process_madvise", 440),
    ("process_mrelease", 448),
    ("process_vm_readv", 310),
    ("process_vm_writev", 311),
    ("pselect6", 270),
    ("ptrace", 101),
    ("putpmsg", 182),
    ("pwrite64", 18),
    ("pwritev", 296),
    ("pwritev2", 328),
    ("query_module", 178),
    ("quotactl", 179),
    ("quotactl_fd", 443),
    ("read", 0),
    ("readahead", 187),
    ("readlink", 89),
    ("readlinkat", 267),
    ("readv", 19),
    ("reboot", 169),
    ("recvfrom", 45),
    ("recvmmsg", 299),
    ("recvmsg", 47),
    ("remap_file_pages", 216),
    ("removexattr", 197),
    ("removexattrat", 466),
    ("rename", 82),
    ("renameat", 264),
    ("renameat2", 316),
    ("request_key", 249),
    ("restart_syscall", 219),
    ("rmdir", 84),
    ("rseq", 334),
    ("rt_sigaction", 13),
    ("rt_sigpending", 127),
    ("rt_sigprocmask", 14),
    ("rt_sigqueueinfo", 129),
    ("rt_sigreturn", 15),
    ("rt_sigsuspend", 130),
    ("rt_sigtimedwait", 128),
    ("rt_tgsigqueueinfo", 297),
    ("sched_get_priority_max", 146),
    ("sched_get_priority_min", 147),
    ("sched_getaffinity", 204),
    ("sched_getattr", 315),
    ("sched_getparam", 143),
    ("sched_getscheduler", 145),
    ("sched_rr_get_interval", 148),
    ("sched_setaffinity", 203),
    ("sched_setattr", 314),
    ("sched_setparam", 142),
    ("sched_setscheduler", 144),
    ("sched_yield", 24),
    ("seccomp", 317),
    ("security", 185),
    ("select", 23),
    ("semctl", 66),
    ("semget", 64),
    ("semop", 65),
    ("semtimedop", 220),
    ("sendfile", 40),
    ("sendmmsg", 307),
    ("sendmsg", 46),
    ("sendto", 44),
    ("set_mempolicy", 238),
    ("set_mempolicy_home_node", 450),
    ("set_robust_list", 273),
    ("set_thread_area", 205),
    ("set_tid_address", 218),
    ("setdomainname", 171),
    ("setfsgid", 123),
    ("setfsuid", 122),
    ("setgid", 106),
    ("setgroups", 116),
    ("sethostname", 170),
    ("setitimer", 38),
    ("setns", 308),
    ("setpgid", 109),
    ("setpriority", 141),
    ("setregid", 114),
    ("setresgid", 119),
    ("setresuid", 117),
    ("setreuid", 113),
    ("setrlimit", 160),
    ("setsid", 112),
    ("setsockopt", 54),
    ("settimeofday", 164),
    ("setuid", 105),
    ("setxattr", 188),
    ("setxattrat", 463),
    ("shmat", 30),
    ("shmctl", 31),
    ("shmdt", 67),
    ("shmget", 29),
    ("shutdown", 48),
    ("sigaltstack", 131),
    ("signalfd", 282),
    ("signalfd4", 289),
    ("socket", 41),
    ("socketpair", 53),
    ("splice", 275),
    ("stat", 4),
    ("statfs", 137),
    ("statmount", 457),
    ("statx", 332),
    ("swapoff", 168),
    ("swapon", 167),
    ("symlink", 88),
    ("symlinkat", 266),
    ("sync", 162),
    ("sync_file_range", 277),
    ("syncfs", 306),
    ("sysfs", 139),
    ("sysinfo", 99),
    ("syslog", 103),
    ("tee", 276),
    ("tgkill", 234),
    ("time", 201),
    ("timer_create", 222),
    ("timer_delete", 226),
    ("timer_getoverrun", 225),
    ("timer_gettime", 224),
    ("timer_settime", 223),
    ("timerfd_create", 283),
    ("timerfd_gettime", 287),
    ("timerfd_settime", 286),
    ("times", 100),
    ("tkill", 200),
    ("truncate", 76),
    ("tuxcall", 184),
    ("umask", 95),
    ("umount2", 166),
    ("uname", 63),
    ("unlink", 87),
    ("unlinkat", 263),
    ("unshare", 272),
    ("uretprobe", 335),
    ("uselib", 134),
    ("userfaultfd", 323),
    ("ustat", 136),
    ("utime", 132),
    ("utimensat", 280),
    ("utimes", 235),
    ("vfork", 58),
    ("vhangup", 153),
    ("vmsplice", 278),
    ("vserver", 236),
    ("wait4", 61),
    ("waitid", 247),
    ("write", 1),
    ("writev", 20),
];

/// Highest number in [`SYSCALLS`].
pub const MAX_KNOWN_NR: u32 = 469;

/// Denied by every profile, whatever its lists say (DESIGN section 4 step 4).
/// The TIOCSTI/TIOCLINUX `ioctl`s are denied too, by an argument check in
/// the seccomp program rather than by name.
pub const BASELINE_DENY: &[&str] = &[
    // Reading or writing another process's memory.
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    // Replacing the kernel / loading code into it.
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "bpf",
    // Exploit primitives.
    "userfaultfd",
    // Kernel keyrings (shared across the user's processes).
    "keyctl",
    "add_key",
    "request_key",
    // io_uring performs operations that seccomp never sees.
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    // The new mount API (works without the classic `mount` checks).
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "open_tree_attr",
    "mount_setattr",
    // Opens files by handle, bypassing path-based confinement.
    "open_by_handle_at",
];

/// The syscall groups, in the spirit of systemd's `SystemCallFilter=` sets
/// (`src/shared/seccomp-util.c`), restricted to names that exist on x86_64.
/// A member starting with `@` is another group. Group names are what a
/// policy writes (with the `@`).
///
/// | group | meaning |
/// |---|---|
/// | `@default` | always needed by any process (exit, mmap, getpid, futex, ...) |
/// | `@basic-io` | read/write/seek/close on open descriptors |
/// | `@file-system` | open, stat, create, rename, delete, xattrs, inotify |
/// | `@io-event` | poll, select, epoll, eventfd |
/// | `@ipc` | pipes, SysV IPC, POSIX message queues, memfd |
/// | `@network-io` | sockets |
/// | `@process` | fork/clone/exec/wait/kill, prctl, namespaces (setns/unshare); not `pidfd_getfd` (another process's descriptors: `@debug`, as in systemd) |
/// | `@signal` | signal handling |
/// | `@timer` | timers and alarms |
/// | `@aio`, `@chown`, `@keyring`, `@memlock`, `@pkey`, `@resources`, `@setuid`, `@sync` | building blocks of `@system-service` / `@privileged` |
/// | `@system-service` | what a typical service needs: the groups above plus misc; none of `@clock`, `@cpu-emulation`, `@debug`, `@module`, `@mount`, `@obsolete`, `@raw-io`, `@reboot`, `@swap`, but (as in systemd) `@chown`, `capset`, `setfsuid` and the uid calls of `@setuid`, which are in `@privileged` too |
/// | `@clock` | setting the system clock |
/// | `@cpu-emulation` | vm86 / LDT |
/// | `@debug` | ptrace, perf |
/// | `@module` | kernel modules |
/// | `@mount` | mount, umount, pivot_root, chroot, new mount API |
/// | `@obsolete` | unimplemented or obsolete calls |
/// | `@privileged` | calls that need capabilities |
/// | `@raw-io` | port I/O, PCI config space |
/// | `@reboot` | reboot, kexec |
/// | `@swap` | swapon/swapoff |
pub const GROUPS: &[(&str, &[&str])] = &[
    (
        "@aio",
        &[
            "io_cancel",
            "io_destroy",
            "io_getevents",
            "io_pgetevents",
            "io_setup",
            "io_submit",
            "io_uring_enter",
            "io_uring_register",
            "io_uring_setup",
        ],
    ),
    (
        "@basic-io",
        &[
            "close",
            "close_range",
            "dup",
            "dup2",
            "dup3",
            "lseek",
            "pread64",
            "preadv",
            "preadv2",
            "pwrite64",
            "pwritev",
            "pwritev2",
            "read",
            "readv",
            "write",
            "writev",
        ],
    ),
    ("@chown", &["chown", "fchown", "fchownat", "lchown"]),
    (
        "@clock",
        &["adjtimex", "clock_adjtime", "clock_settime", "settimeofday"],
    ),
    ("@cpu-emulation", &["modify_ldt"]),
    (
        "@debug",
        &["lookup_dcookie", "perf_event_open", "pidfd_getfd", "ptrace"],
    ),
    (
        "@default",
        &[
            "arch_prctl",
            "brk",
            "clock_getres",
            "clock_gettime",
            "clock_nanosleep",
            "execve",
            "exit",
            "exit_group",
            "futex",
            "futex_requeue",
            "futex_wait",
            "futex_waitv",
            "futex_wake",
            "get_robust_list",
            "get_thread_area",
            "getegid",
            "geteuid",
            "getgid",
            "getgroups",
            "getpgid",
            "getpgrp",
            "getpid",
            "getppid",
            "getrandom",
            "getresgid",
            "getresuid",
            "getrlimit",
            "getsid",
            "gettid",
            "gettimeofday",
            "getuid",
            "lsm_get_self_attr",
            "lsm_list_modules",
            "map_shadow_stack",
            "membarrier",
            "mmap",
            "mprotect",
            "mseal",
            "munmap",
            "nanosleep",
            "pause",
            "prlimit64",
            "restart_syscall",
            "rseq",
            "rt_sigreturn",
            "sched_getaffinity",
            "sched_yield",
            "set_robust_list",
            "set_thread_area",
            "set_tid_address",
            "time",
            "uretprobe",
        ],
    ),
    (
        "@file-system",
        &[
            "access",
            "cachestat",
            "chdir",
            "chmod",
            "close",
            "creat",
            "faccessat",
            "faccessat2",
            "fallocate",
            "fchdir",
            "fchmod",
            "fchmodat",
            "fchmodat2",
            "fcntl",
            "fgetxattr",
            "file_getattr",
            "file_setattr",
            "flistxattr",
            "fremovexattr",
            "fsetxattr",
            "fstat",
            "fstatfs",
            "ftruncate",
            "futimesat",
            "getcwd",
            "getdents",
            "getdents64",
            "getxattr",
            "getxattrat",
            "inotify_add_watch",
            "inotify_init",
            "inotify_init1",
            "inotify_rm_watch",
            "lgetxattr",
            "link",
            "linkat",
            "listxattr",
            "listxattrat",
            "llistxattr",
            "lremovexattr",
            "lsetxattr",
            "lstat",
            "mkdir",
            "mkdirat",
            "mknod",
            "mknodat",
            "mmap",
            "munmap",
            "newfstatat",
            "open",
            "openat",
            "openat2",
            "readlink",
            "readlinkat",
            "removexattr",
            "removexattrat",
            "rename",
            "renameat",
            "renameat2",
            "rmdir",
            "setxattr",
            "setxattrat",
            "stat",
            "statfs",
            "statx",
            "symlink",
            "symlinkat",
            "truncate",
            "unlink",
            "unlinkat",
            "utime",
            "utimensat",
            "utimes",
        ],
    ),
    (
        "@io-event",
        &[
            "epoll_create",
            "epoll_create1",
            "epoll_ctl",
            "epoll_ctl_old",
            "epoll_pwait",
            "epoll_pwait2",
            "epoll_wait",
            "epoll_wait_old",
            "eventfd",
            "eventfd2",
            "poll",
            "ppoll",
            "pselect6",
            "select",
        ],
    ),
    (
        "@ipc",
        &[
            "memfd_create",
            "mq_getsetattr",
            "mq_notify",
            "mq_open",
            "mq_timedreceive",
            "mq_timedsend",
            "mq_unlink",
            "msgctl",
            "msgget",
            "msgrcv",
            "msgsnd",
            "pipe",
            "pipe2",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "semctl",
            "semget",
            "semop",
            "semtimedop",
            "shmat",
            "shmctl",
            "shmdt",
            "shmget",
        ],
    ),
    ("@keyring", &["add_key", "keyctl", "request_key"]),
    (
        "@memlock",
        &["mlock", "mlock2", "mlockall", "munlock", "munlockall"],
    ),
    ("@module", &["delete_module", "finit_module", "init_module"]),
    (
        "@mount",
        &[
            "chroot",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "open_tree_attr",
            "pivot_root",
            "umount2",
        ],
    ),
    (
        "@network-io",
        &[
            "accept",
            "accept4",
            "bind",
            "connect",
            "getpeername",
            "getsockname",
            "getsockopt",
            "listen",
            "recvfrom",
            "recvmmsg",
            "recvmsg",
            "sendmmsg",
            "sendmsg",
            "sendto",
            "setsockopt",
            "shutdown",
            "socket",
            "socketpair",
        ],
    ),
    (
        "@obsolete",
        &[
            "_sysctl",
            "afs_syscall",
            "create_module",
            "get_kernel_syms",
            "getpmsg",
            "putpmsg",
            "query_module",
            "security",
            "sysfs",
            "tuxcall",
            "uselib",
            "ustat",
            "vserver",
        ],
    ),
    ("@pkey", &["pkey_alloc", "pkey_free", "pkey_mprotect"]),
    (
        "@privileged",
        &[
            "@chown",
            "@clock",
            "@module",
            "@raw-io",
            "@reboot",
            "@swap",
            "_sysctl",
            "acct",
            "bpf",
            "capset",
            "chroot",
            "fanotify_init",
            "open_by_handle_at",
            "pivot_root",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "setfsuid",
            "setgroups",
            "sethostname",
            "setresuid",
            "setreuid",
            "setuid",
            "vhangup",
        ],
    ),
    (
        "@process",
        &[
            "capget",
            "clone",
            "clone3",
            "execveat",
            "fork",
            "getrusage",
            "kill",
            "pidfd_open",
            "pidfd_send_signal",
            "prctl",
            "rt_sigqueueinfo",
            "rt_tgsigqueueinfo",
            "setns",
            "tgkill",
            "times",
            "tkill",
            "unshare",
            "vfork",
            "wait4",
            "waitid",
        ],
    ),
    ("@raw-io", &["ioperm", "iopl"]),
    ("@reboot", &["kexec_file_load", "kexec_load", "reboot"]),
    (
        "@resources",
        &[
            "ioprio_set",
            "mbind",
            "migrate_pages",
            "move_pages",
            "sched_setaffinity",
            "sched_setattr",
            "sched_setparam",
            "sched_setscheduler",
            "set_mempolicy",
            "set_mempolicy_home_node",
            "setpriority",
            "setrlimit",
        ],
    ),
    (
        "@setuid",
        &[
            "setgid",
            "setgroups",
            "setregid",
            "setresgid",
            "setresuid",
            "setreuid",
            "setuid",
        ],
    ),
    (
        "@signal",
        &[
            "rt_sigaction",
            "rt_sigpending",
            "rt_sigprocmask",
            "rt_sigsuspend",
            "rt_sigtimedwait",
            "sigaltstack",
            "signalfd",
            "signalfd4",
        ],
    ),
    ("@swap", &["swapoff", "swapon"]),
    (
        "@sync",
        &[
            "fdatasync",
            "fsync",
            "msync",
            "sync",
            "sync_file_range",
            "syncfs",
        ],
    ),
    (
        "@system-service",
        &[
            "@aio",
            "@basic-io",
            "@chown",
            "@default",
            "@file-system",
            "@io-event",
            "@ipc",
            "@keyring",
            "@memlock",
            "@network-io",
            "@pkey",
            "@process",
            "@resources",
            "@setuid",
            "@signal",
            "@sync",
            "@timer",
            "capget",
            "capset",
            "copy_file_range",
            "fadvise64",
            "flock",
            "get_mempolicy",
            "getcpu",
            "getpriority",
            "ioctl",
            "ioprio_get",
            "kcmp",
            "madvise",
            "mremap",
            "name_to_handle_at",
            "personality",
            "readahead",
            "remap_file_pages",
            "sched_get_priority_max",
            "sched_get_priority_min",
            "sched_getattr",
            "sched_getparam",
            "sched_getscheduler",
            "sched_rr_get_interval",
            "sendfile",
            "setfsgid",
            "setfsuid",
            "setpgid",
            "setsid",
            "splice",
            "sysinfo",
            "tee",
            "umask",
            "uname",
            "userfaultfd",
            "vmsplice",
        ],
    ),
    (
        "@timer",
        &[
            "alarm",
            "getitimer",
            "setitimer",
            "timer_create",
            "timer_delete",
            "timer_getoverrun",
            "timer_gettime",
            "timer_settime",
            "timerfd_create",
            "timerfd_gettime",
            "timerfd_settime",
            "times",
        ],
    ),
];

/// The number of system calls in [`SYSCALLS`].
pub const SYSCALL_COUNT: usize = SYSCALLS.len();

/// The bytes of [`SYSCALLS`]'s names.
const SYSCALL_BYTES: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < SYSCALL_COUNT {
        n += SYSCALLS[i].0.len();
        i += 1;
    }
    n
};

/// [`SYSCALLS`], packed: `names` in its (sorted) order, `nrs[i]` the
/// number of `names[i]`.
struct Calls {
    names: StrTable<SYSCALL_BYTES, SYSCALL_COUNT>,
    nrs: [u16; SYSCALL_COUNT],
}

static CALLS: Calls = {
    let mut names = StrTableBuilder::new();
    let mut nrs = [0; SYSCALL_COUNT];
    let mut i = 0;
    while i < SYSCALL_COUNT {
        names.push(SYSCALLS[i].0);
        assert!(SYSCALLS[i].1 <= u16::MAX as u32);
        nrs[i] = SYSCALLS[i].1 as u16;
        i += 1;
    }
    Calls {
        names: names.finish(),
        nrs,
    }
};

const GROUP_COUNT: usize = GROUPS.len();

/// Of [`GROUPS`]: the bytes of the names, the number of members and
/// the bytes of the members (the packed tables' sizes).
const GROUP_SIZES: (usize, usize, usize) = {
    let (mut names, mut members, mut member_bytes) = (0, 0, 0);
    let mut i = 0;
    while i < GROUP_COUNT {
        names += GROUPS[i].0.len();
        members += GROUPS[i].1.len();
        member_bytes += total_len(GROUPS[i].1);
        i += 1;
    }
    (names, members, member_bytes)
};

/// [`GROUPS`], packed: `names` in its (sorted) order, every group's
/// `members` one group after the other, and `ends[g]` the index in
/// `members` just past group `g`'s.
struct Groups {
    names: StrTable<{ GROUP_SIZES.0 }, GROUP_COUNT>,
    members: StrTable<{ GROUP_SIZES.2 }, { GROUP_SIZES.1 }>,
    ends: [u16; GROUP_COUNT],
}

static GROUPS_PACKED: Groups = {
    let mut names = StrTableBuilder::new();
    let mut members = StrTableBuilder::new();
    let mut ends = [0; GROUP_COUNT];
    let mut n = 0;
    let mut i = 0;
    while i < GROUP_COUNT {
        names.push(GROUPS[i].0);
        let mut j = 0;
        while j < GROUPS[i].1.len() {
            members.push(GROUPS[i].1[j]);
            j += 1;
        }
        n += j;
        ends[i] = n as u16;
        i += 1;
    }
    Groups {
        names: names.finish(),
        members: members.finish(),
        ends,
    }
};

/// [`BASELINE_DENY`], packed.
static BASELINE: StrTable<{ total_len(BASELINE_DENY) }, { BASELINE_DENY.len() }> =
    StrTable::new(BASELINE_DENY);

/// The number of the x86_64 system call `name`.
pub fn lookup(name: &str) -> Option<u32> {
    let i = CALLS.names.binary_search(name).ok()?;
    CALLS.nrs.get(i).map(|&n| u32::from(n))
}

/// The name of system call number `nr` (for messages; linear search).
pub fn name_of(nr: u32) -> Option<&'static str> {
    let i = CALLS.nrs.iter().position(|&n| u32::from(n) == nr)?;
    CALLS.names.get(i)
}

/// Every `(name, number)` of [`SYSCALLS`], sorted by name.
pub fn all() -> impl Iterator<Item = (&'static str, u32)> {
    CALLS
        .names
        .iter()
        .zip(CALLS.nrs.iter().map(|&n| u32::from(n)))
}

/// The direct members of group `name` (with the `@`); members starting with
/// `@` are groups themselves.
pub fn group(name: &str) -> Option<impl Iterator<Item = &'static str>> {
    let g = &GROUPS_PACKED;
    let i = g.names.binary_search(name).ok()?;
    let end = usize::from(*g.ends.get(i)?);
    let start = match i.checked_sub(1) {
        Some(p) => usize::from(g.ends[p]),
        None => 0,
    };
    Some((start..end).filter_map(|m| g.members.get(m)))
}

/// The group names (with the `@`), sorted.
pub fn group_names() -> impl Iterator<Item = &'static str> {
    GROUPS_PACKED.names.iter()
}

/// The names of [`BASELINE_DENY`].
pub fn baseline_deny() -> impl Iterator<Item = &'static str> {
    BASELINE.iter()
}

/// The numbers named by `names` (syscall names and `@groups`, groups
/// expanded recursively). An unknown name is an error naming it.
pub fn expand(names: &[String]) -> Result<BTreeSet<u32>, String> {
    let mut out = BTreeSet::new();
    for n in names {
        expand_one(n, &mut out, 0)?;
    }
    Ok(out)
}

/// Whether `name` is a known system call or `@group`, with [`expand`]'s
/// message when it is not. No expansion: every group's members resolve
/// (checked by the tests below), so a known group name is enough. The
/// policy parser checks each seccomp name with this on every call that
/// parses a sandbox table; expanding `@system-service` there cost about a
/// tenth of a call's user time.
pub fn check(name: &str) -> Result<(), String> {
    if name.starts_with('@') {
        group(name)
            .map(drop)
            .ok_or_else(|| format!("unknown syscall group '{name}' (known: {})", known_groups()))
    } else {
        lookup(name)
            .map(|_| ())
            .ok_or_else(|| format!("unknown system call '{name}' (not an x86_64 syscall)"))
    }
}

fn expand_one(name: &str, out: &mut BTreeSet<u32>, depth: u32) -> Result<(), String> {
    if depth > 8 {
        return Err(format!("syscall group nesting too deep at '{name}'"));
    }
    if name.starts_with('@') {
        let members = group(name)
            .ok_or_else(|| format!("unknown syscall group '{name}' (known: {})", known_groups()))?;
        for m in members {
            expand_one(m, out, depth + 1)?;
        }
        Ok(())
    } else {
        let nr = lookup(name)
            .ok_or_else(|| format!("unknown system call '{name}' (not an x86_64 syscall)"))?;
        out.insert(nr);
        Ok(())
    }
}

fn known_groups() -> String {
    group_names().collect::<Vec<_>>().join(", ")
}

/// The numbers of [`BASELINE_DENY`], sorted.
pub fn baseline_deny_numbers() -> BTreeSet<u32> {
    baseline_deny()
        .map(|n| lookup(n).expect("BASELINE_DENY names are in the table"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_sorted_unique() {
        for w in SYSCALLS.windows(2) {
            assert!(w[0].0 < w[1].0, "{} !< {}", w[0].0, w[1].0);
        }
        let mut nrs: Vec<u32> = SYSCALLS.iter().map(|s| s.1).collect();
        nrs.sort_unstable();
        let len = nrs.len();
        nrs.dedup();
        assert_eq!(len, nrs.len(), "duplicate numbers");
        assert_eq!(*nrs.last().unwrap(), MAX_KNOWN_NR);
    }

    #[test]
    fn well_known_numbers() {
        for (n, nr) in [
            ("read", 0),
            ("write", 1),
            ("ioctl", 16),
            ("getpid", 39),
            ("execve", 59),
            ("ptrace", 101),
            ("execveat", 322),
            ("io_uring_setup", 425),
            ("open_tree_attr", 467),
        ] {
            assert_eq!(lookup(n), Some(nr), "{n}");
            assert_eq!(libc_nr(n), nr as i64, "{n}");
        }
        assert_eq!(lookup("nope"), None);
        assert_eq!(name_of(39), Some("getpid"));
    }

    fn libc_nr(n: &str) -> i64 {
        match n {
            "read" => libc::SYS_read,
            "write" => libc::SYS_write,
            "ioctl" => libc::SYS_ioctl,
            "getpid" => libc::SYS_getpid,
            "execve" => libc::SYS_execve,
            "ptrace" => libc::SYS_ptrace,
            "execveat" => libc::SYS_execveat,
            "io_uring_setup" => libc::SYS_io_uring_setup,
            "open_tree_attr" => 467,
            _ => unreachable!(),
        }
    }

    #[test]
    fn groups_sorted_and_resolve() {
        for w in GROUPS.windows(2) {
            assert!(w[0].0 < w[1].0, "{} !< {}", w[0].0, w[1].0);
        }
        for (g, members) in GROUPS {
            assert!(g.starts_with('@'));
            for m in members.iter() {
                expand(&[m.to_string()]).unwrap_or_else(|e| panic!("{g}: {e}"));
            }
        }
        for g in [
            "@system-service",
            "@mount",
            "@module",
            "@raw-io",
            "@reboot",
            "@swap",
            "@debug",
            "@privileged",
            "@obsolete",
            "@clock",
            "@cpu-emulation",
            "@basic-io",
            "@file-system",
            "@io-event",
            "@ipc",
            "@network-io",
            "@process",
            "@signal",
            "@timer",
            "@default",
        ] {
            assert!(group(g).is_some(), "{g}");
        }
    }

    #[test]
    fn check_agrees_with_expand() {
        let names = GROUPS
            .iter()
            .map(|(g, _)| *g)
            .chain(SYSCALLS.iter().map(|(n, _)| *n))
            .chain(["@nope", "nope", "", "@", "read ", "@System-service"]);
        for n in names {
            let expanded = expand(&[n.to_string()]).map(|_| ());
            assert_eq!(check(n), expanded, "{n:?}");
        }
    }

    #[test]
    fn expand_works_and_rejects_unknown() {
        let s = expand(&["@default".into(), "read".into()]).unwrap();
        assert!(s.contains(&0) && s.contains(&39));
        let svc = expand(&["@system-service".into()]).unwrap();
        assert!(svc.contains(&lookup("socket").unwrap()));
        assert!(svc.contains(&lookup("getpid").unwrap()));
        assert!(!svc.contains(&lookup("mount").unwrap()));
        let e = expand(&["read".into(), "frobnicate".into()]).unwrap_err();
        assert!(e.contains("'frobnicate'"), "{e}");
        let e = expand(&["@nope".into()]).unwrap_err();
        assert!(e.contains("'@nope'"), "{e}");
        let p = expand(&["@privileged".into()]).unwrap();
        assert!(p.contains(&lookup("chown").unwrap()));
        assert!(p.contains(&lookup("reboot").unwrap()));
    }

    /// What belladonna-policy(5) says of `@system-service`: none of these
    /// groups, and only this much of `@privileged` (as in systemd).
    #[test]
    fn system_service_as_documented() {
        let set = |names: &[&str]| {
            expand(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
        };
        let svc = set(&["@system-service"]);
        for g in [
            "@clock",
            "@cpu-emulation",
            "@debug",
            "@module",
            "@mount",
            "@obsolete",
            "@raw-io",
            "@reboot",
            "@swap",
        ] {
            let both: Vec<_> = svc
                .intersection(&set(&[g]))
                .filter_map(|n| name_of(*n))
                .collect();
            assert!(both.is_empty(), "@system-service holds {both:?} of {g}");
        }
        let privileged: BTreeSet<u32> = svc.intersection(&set(&["@privileged"])).copied().collect();
        assert_eq!(
            privileged,
            set(&["@chown", "@setuid", "capset", "setfsuid"])
                .intersection(&set(&["@privileged"]))
                .copied()
                .collect()
        );
        assert!(!set(&["@process"]).contains(&lookup("pidfd_getfd").unwrap()));
    }

    /// The packed copies hold exactly the tables as written, and
    /// `cache_name`'s walk over them sees what it saw over the slices.
    #[test]
    fn packed_tables_are_the_written_ones() {
        assert_eq!(all().collect::<Vec<_>>(), SYSCALLS.to_vec());
        assert_eq!(SYSCALL_COUNT, SYSCALLS.len());
        for (name, nr) in SYSCALLS {
            assert_eq!(lookup(name), Some(*nr), "{name}");
            assert_eq!(name_of(*nr), Some(*name), "{nr}");
        }
        assert_eq!(
            group_names().collect::<Vec<_>>(),
            GROUPS.iter().map(|(g, _)| *g).collect::<Vec<_>>()
        );
        for (g, members) in GROUPS {
            let packed: Vec<&str> = group(g).expect(g).collect();
            assert_eq!(packed, members.to_vec(), "{g}");
        }
        for probe in ["", "@", "@aio ", "@zzz", "@Aio", "aio"] {
            assert!(group(probe).is_none(), "{probe:?}");
        }
        assert_eq!(baseline_deny().collect::<Vec<_>>(), BASELINE_DENY.to_vec());
        assert_eq!(name_of(MAX_KNOWN_NR + 1), None);
    }

    #[test]
    fn baseline_resolves() {
        assert_eq!(baseline_deny_numbers().len(), BASELINE_DENY.len());
    }
}
