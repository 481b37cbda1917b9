//! seccomp: our own small classic-BPF emitter, a loader and a cache.
//!
//! No libseccomp: linking it would load `libseccomp.so` into every bdexec
//! call (DESIGN section 14: nothing linked that the hot path does not use),
//! and building a filter with it costs ~0.3 ms per call. The programs we
//! need are simple linear lists, so we emit them ourselves and cache the
//! result in the tmpfs state directory; a cache hit costs one small read
//! and a BLAKE3 check.
//!
//! Program layout (x86_64 only):
//!
//! ```text
//!   A = seccomp_data.arch;  A != AUDIT_ARCH_X86_64        -> KILL_PROCESS
//!   A = seccomp_data.nr;    A >= 0x40000000 (x32 ABI)      -> KILL_PROCESS
//!   A in BASELINE_DENY                                     -> baseline action
//!   A == ioctl: A = low 32 bits of args[1];
//!       A == TIOCSTI || A == TIOCLINUX                     -> baseline action
//!       A = seccomp_data.nr
//!   A in profile deny list                                 -> profile action
//!   allow-list mode: A in allow list (+ EXEC_NEEDS)        -> ALLOW
//!                    otherwise                             -> profile action
//!   deny-list mode:  otherwise                             -> ALLOW
//! ```
//!
//! The baseline action is `ERRNO(EPERM)`, or `KILL_PROCESS` when the
//! profile's action is kill. In log mode the baseline still fails with
//! EPERM. The ioctl request is compared on its low 32 bits only: the kernel
//! truncates `cmd` to `unsigned int`, so `0xffffffff00005412` *is* TIOCSTI.
//!
//! Conditional BPF jumps have 8-bit offsets; the assembler below turns a
//! far conditional jump into `jcc +0/+1; ja far` (32-bit offset) and
//! iterates until the layout is stable.
#![cfg_attr(not(test), forbid(unsafe_code))]

use super::SandboxError;
use crate::policy::model::{SeccompAction, SeccompSpec};
use crate::policy::syscalls;
use nix::fcntl::{OFlag, openat, renameat};
use nix::sys::stat::{Mode, fchmod, fstat, mkdirat};
use nix::unistd::{UnlinkatFlags, fsync, unlinkat};
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fmt;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// `AUDIT_ARCH_X86_64` (EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE).
pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// Bit set in `nr` by the x32 ABI.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;
pub const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
pub const SECCOMP_RET_LOG: u32 = 0x7ffc_0000;
pub const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
pub const TIOCSTI: u32 = 0x5412;
pub const TIOCLINUX: u32 = 0x541C;
/// Bump whenever the emitted code or the cache format changes.
pub const COMPILER_VERSION: &str = "belladonna-seccomp-1";
const CACHE_FORMAT: u32 = 1;
const CACHE_MAGIC: &[u8; 8] = b"BDSECCMP";
const HEADER_LEN: usize = 8 + 4 + 4 + 4 + 4 + 32;
/// The kernel's BPF_MAXINSNS.
pub const MAX_INSNS: usize = 4096;

/// System calls added to every allow-list: only what bdexec itself still
/// does between loading the filter and the target's first instruction
/// (src/bdexec, the launch phase): `execveat` of the verified fd; `fcntl`
/// to clear close-on-exec and retry once when the file is a `#!` script
/// (src/exec/launch.rs); `exit_group` (and `exit`) to end with the exec
/// status when the exec fails. Nothing else: inherited fds are closed at
/// the start and bdexec never changes directory, so `close`, `close_range`,
/// `chdir` and `fchdir` are allowed only when the profile names them (a
/// unit test proves chdir is refused under an allow-list without it). A
/// failed exec's message and syslog line go through `write` and
/// `socket`/`sendto`: under an allow-list without them, the call still
/// ends with bdexec's exec exit status, silently. An explicit `deny` of
/// one of these still wins (and breaks the exec).
pub const EXEC_NEEDS: &[&str] = &["execveat", "exit", "exit_group", "fcntl"];

// seccomp_data offsets.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
/// Low 32 bits of `args[1]` (little-endian).
const OFF_ARG1_LO: u32 = 16 + 8;

// Classic BPF opcodes used here.
const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const BPF_JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// A compiled filter: classic BPF instructions for `SECCOMP_SET_MODE_FILTER`.
#[derive(Clone)]
pub struct Program(pub Vec<libc::sock_filter>);

impl Program {
    /// The instructions.
    pub fn insns(&self) -> &[libc::sock_filter] {
        &self.0
    }

    /// Little-endian serialization (8 bytes per instruction).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() * 8);
        for i in &self.0 {
            out.extend_from_slice(&i.code.to_le_bytes());
            out.push(i.jt);
            out.push(i.jf);
            out.extend_from_slice(&i.k.to_le_bytes());
        }
        out
    }

    /// Inverse of [`Program::to_bytes`]; checks the program is well formed.
    pub fn from_bytes(b: &[u8]) -> Option<Program> {
        if !b.len().is_multiple_of(8) {
            return None;
        }
        let v = b
            .chunks_exact(8)
            .map(|c| libc::sock_filter {
                code: u16::from_le_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        let p = Program(v);
        p.well_formed().then_some(p)
    }

    /// Structural check: non-empty, within BPF_MAXINSNS, only the opcodes
    /// we emit, every jump inside the program, last instruction a return.
    pub fn well_formed(&self) -> bool {
        let n = self.0.len();
        if n == 0 || n > MAX_INSNS {
            return false;
        }
        for (pc, i) in self.0.iter().enumerate() {
            let rest = n - pc - 1;
            let ok = match i.code {
                BPF_LD_W_ABS => i.k % 4 == 0 && i.k < 64,
                BPF_JEQ_K | BPF_JGE_K => (i.jt as usize) < rest && (i.jf as usize) < rest,
                BPF_JA => (i.k as usize) < rest,
                BPF_RET_K => true,
                _ => false,
            };
            if !ok {
                return false;
            }
        }
        self.0[n - 1].code == BPF_RET_K
    }
}

impl PartialEq for Program {
    fn eq(&self, o: &Self) -> bool {
        self.to_bytes() == o.to_bytes()
    }
}

impl Eq for Program {}

impl fmt::Debug for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Program[{}]", self.0.len())?;
        for (pc, i) in self.0.iter().enumerate() {
            writeln!(
                f,
                "  {pc:4}: code={:#06x} jt={} jf={} k={:#x}",
                i.code, i.jt, i.jf, i.k
            )?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------
// Assembler

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Label {
    Kill,
    Baseline,
    Action,
    Allow,
    Profile,
}

#[derive(Clone, Copy, Debug)]
enum Asm {
    Load(u32),
    /// Jump to `target` when the comparison is true (`neg`: when false);
    /// fall through otherwise.
    Jmp {
        code: u16,
        k: u32,
        neg: bool,
        target: Label,
    },
    Ret(u32),
    Mark(Label),
}

fn assemble(asm: &[Asm]) -> Result<Program, SandboxError> {
    // `long[i]`: conditional jump i needs the `ja` form.
    let mut long = vec![false; asm.len()];
    loop {
        // Layout: address of every item and every label.
        let mut addr = vec![0usize; asm.len()];
        let mut labels: Vec<(Label, usize)> = Vec::new();
        let mut pc = 0usize;
        for (i, a) in asm.iter().enumerate() {
            addr[i] = pc;
            match a {
                Asm::Mark(l) => labels.push((*l, pc)),
                Asm::Jmp { .. } if long[i] => pc += 2,
                _ => pc += 1,
            }
        }
        let find = |l: Label| -> Result<usize, SandboxError> {
            labels
                .iter()
                .find(|(x, _)| *x == l)
                .map(|(_, a)| *a)
                .ok_or_else(|| SandboxError::Seccomp(format!("internal: label {l:?} missing")))
        };
        let mut changed = false;
        for (i, a) in asm.iter().enumerate() {
            if let Asm::Jmp { target, .. } = a
                && !long[i]
            {
                let t = find(*target)?;
                if t < addr[i] + 1 || t - (addr[i] + 1) > 255 {
                    long[i] = true;
                    changed = true;
                }
            }
        }
        if changed {
            continue;
        }
        let mut out = Vec::with_capacity(pc);
        for (i, a) in asm.iter().enumerate() {
            match *a {
                Asm::Mark(_) => {}
                Asm::Load(off) => out.push(stmt(BPF_LD_W_ABS, off)),
                Asm::Ret(v) => out.push(stmt(BPF_RET_K, v)),
                Asm::Jmp {
                    code,
                    k,
                    neg,
                    target,
                } => {
                    let t = find(target)?;
                    if long[i] {
                        // jcc: on "go" fall into the ja, else skip it.
                        let (jt, jf) = if neg { (1, 0) } else { (0, 1) };
                        out.push(jump(code, k, jt, jf));
                        let from = addr[i] + 2;
                        let off = t.checked_sub(from).ok_or_else(|| {
                            SandboxError::Seccomp("internal: backward jump".into())
                        })?;
                        out.push(stmt(BPF_JA, off as u32));
                    } else {
                        let off = (t - (addr[i] + 1)) as u8;
                        let (jt, jf) = if neg { (0, off) } else { (off, 0) };
                        out.push(jump(code, k, jt, jf));
                    }
                }
            }
        }
        if out.len() > MAX_INSNS {
            return Err(SandboxError::Seccomp(format!(
                "filter has {} instructions, more than the kernel's limit of {MAX_INSNS}",
                out.len()
            )));
        }
        let p = Program(out);
        debug_assert!(p.well_formed(), "{p:?}");
        return Ok(p);
    }
}

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

fn eq(k: u32, target: Label) -> Asm {
    Asm::Jmp {
        code: BPF_JEQ_K,
        k,
        neg: false,
        target,
    }
}

/// Compile a profile (or, with `None`, the baseline alone: default action
/// errno, everything else allowed).
pub fn compile(spec: Option<&SeccompSpec>) -> Result<Program, SandboxError> {
    let action = spec.map(|s| s.action).unwrap_or(SeccompAction::Errno);
    let eperm = SECCOMP_RET_ERRNO | libc::EPERM as u32;
    let (ret_action, ret_baseline) = match action {
        SeccompAction::Kill => (SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_PROCESS),
        SeccompAction::Errno => (eperm, eperm),
        SeccompAction::Log => (SECCOMP_RET_LOG, eperm),
    };
    let baseline = syscalls::baseline_deny_numbers();
    let (allow, deny) = match spec {
        Some(s) => (
            syscalls::expand(&s.allow).map_err(SandboxError::Profile)?,
            syscalls::expand(&s.deny).map_err(SandboxError::Profile)?,
        ),
        None => (BTreeSet::new(), BTreeSet::new()),
    };
    let allow_mode = !allow.is_empty();
    let ioctl = syscalls::lookup("ioctl").expect("ioctl in table");

    let mut a = vec![
        Asm::Load(OFF_ARCH),
        Asm::Jmp {
            code: BPF_JEQ_K,
            k: AUDIT_ARCH_X86_64,
            neg: true,
            target: Label::Kill,
        },
        Asm::Load(OFF_NR),
        Asm::Jmp {
            code: BPF_JGE_K,
            k: X32_SYSCALL_BIT,
            neg: false,
            target: Label::Kill,
        },
    ];
    for nr in &baseline {
        a.push(eq(*nr, Label::Baseline));
    }
    a.extend([
        Asm::Jmp {
            code: BPF_JEQ_K,
            k: ioctl,
            neg: true,
            target: Label::Profile,
        },
        Asm::Load(OFF_ARG1_LO),
        eq(TIOCSTI, Label::Baseline),
        eq(TIOCLINUX, Label::Baseline),
        Asm::Load(OFF_NR),
        Asm::Mark(Label::Profile),
    ]);
    // Deny entries already covered by the baseline need no second test.
    for nr in deny.difference(&baseline) {
        a.push(eq(*nr, Label::Action));
    }
    if allow_mode {
        let mut allow = allow;
        for n in EXEC_NEEDS {
            allow.insert(syscalls::lookup(n).expect("EXEC_NEEDS in table"));
        }
        for nr in allow.difference(&deny).filter(|n| !baseline.contains(n)) {
            a.push(eq(*nr, Label::Allow));
        }
        a.push(Asm::Ret(ret_action));
    } else {
        a.push(Asm::Ret(SECCOMP_RET_ALLOW));
    }
    a.extend([
        Asm::Mark(Label::Allow),
        Asm::Ret(SECCOMP_RET_ALLOW),
        Asm::Mark(Label::Action),
        Asm::Ret(ret_action),
        Asm::Mark(Label::Baseline),
        Asm::Ret(ret_baseline),
        Asm::Mark(Label::Kill),
        Asm::Ret(SECCOMP_RET_KILL_PROCESS),
    ]);
    assemble(&a)
}

/// Load `p` into the calling thread with `seccomp(SECCOMP_SET_MODE_FILTER)`.
/// `no_new_privs` must already be set (the pipeline sets it).
pub fn load(p: &Program) -> Result<(), SandboxError> {
    if !super::no_new_privs() {
        return Err(SandboxError::NoNewPrivs("seccomp load"));
    }
    if !p.well_formed() {
        return Err(SandboxError::Seccomp(
            "refusing to load a malformed program".into(),
        ));
    }
    if let Err(e) = crate::sys::kernel::seccomp_set_mode_filter(&p.0) {
        let hint = match e {
            nix::Error::ENOSYS | nix::Error::EPERM => {
                " (seccomp blocked or unavailable: is bdexec itself running under a filter that denies seccomp()?)"
            }
            nix::Error::EINVAL => " (kernel without seccomp filter support, or an invalid program)",
            nix::Error::EACCES => " (no_new_privs not set)",
            _ => "",
        };
        return Err(SandboxError::Seccomp(format!(
            "seccomp(SET_MODE_FILTER): {}{hint}",
            e.desc()
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------
// Cache

/// Result of [`cached`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    pub program: Program,
    /// The program came from a verified cache file.
    pub hit: bool,
    /// A cache file existed but failed a check and was rebuilt (count it).
    pub rebuilt: bool,
    /// Storing the newly compiled program failed (the program is still
    /// good; the next call compiles again). `None` on success or hit.
    pub store_error: Option<String>,
}

const CACHE_DIR: &str = "seccomp";

/// The cache file name for `key` (the sandbox segment hash): hex of
/// BLAKE3(key || arch || COMPILER_VERSION || syscall-table size || the
/// groups' names and members) + `.bpf`: the key hashes the profile's
/// names, so a change to what a group holds must change the file name too.
pub fn cache_name(key: &[u8; 32]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(key);
    h.update(&AUDIT_ARCH_X86_64.to_le_bytes());
    h.update(COMPILER_VERSION.as_bytes());
    h.update(&(syscalls::SYSCALL_COUNT as u32).to_le_bytes());
    h.update(&syscalls::MAX_KNOWN_NR.to_le_bytes());
    for name in syscalls::group_names() {
        h.update(name.as_bytes());
        for m in syscalls::group(name).into_iter().flatten() {
            h.update(b" ");
            h.update(m.as_bytes());
        }
        h.update(b"\n");
    }
    format!("{}.bpf", h.finalize().to_hex())
}

/// Load the program for `key` from `<state_dir>/seccomp/`, or compile
/// `spec` and store it. `key` must identify `spec` (the hash of the
/// profile's policy segment): a hit does not look at `spec` at all.
///
/// The cache directory is created 0700; files are 0600, root-owned,
/// written atomically (temp + fsync + rename) and checked on the open fd
/// when read (regular, root-owned, mode 0600, one link, header magic,
/// version, arch, length and BLAKE3 of the program). A file that fails any
/// check is ignored and replaced (`rebuilt`). Cache I/O problems never
/// deny: the freshly compiled program is returned.
pub fn cached(
    state_dir: BorrowedFd<'_>,
    key: &[u8; 32],
    spec: Option<&SeccompSpec>,
) -> Result<Cached, SandboxError> {
    let name = cache_name(key);
    let dir = open_cache_dir(state_dir);
    let mut rebuilt = false;
    if let Ok(dir) = &dir {
        match read_entry(dir.as_fd(), &name) {
            Ok(Some(program)) => {
                return Ok(Cached {
                    program,
                    hit: true,
                    rebuilt: false,
                    store_error: None,
                });
            }
            Ok(None) => {}
            Err(_) => rebuilt = true,
        }
    }
    let program = compile(spec)?;
    let store_error = match &dir {
        Ok(dir) => write_entry(dir.as_fd(), &name, &program)
            .err()
            .map(|e| e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    Ok(Cached {
        program,
        hit: false,
        rebuilt,
        store_error,
    })
}

fn cache_err(what: &str, e: nix::Error) -> SandboxError {
    SandboxError::Cache(format!("{CACHE_DIR}/{what}: {}", e.desc()))
}

/// Open (creating 0700 if missing) `<state_dir>/seccomp`, checked on the
/// fd: a directory (no symlink), root-owned, mode 0700.
pub fn open_cache_dir(state_dir: BorrowedFd<'_>) -> Result<OwnedFd, SandboxError> {
    let name = OsStr::new(CACHE_DIR);
    let shown = Path::new(CACHE_DIR);
    let fd = match crate::base::secure_fs::open_subdir(state_dir, name, shown) {
        Ok(fd) => fd,
        Err(e) if e.is_not_found() => {
            match mkdirat(state_dir, name, Mode::from_bits_truncate(0o700)) {
                Ok(()) | Err(nix::Error::EEXIST) => {}
                Err(e) => return Err(cache_err("mkdir", e)),
            }
            crate::base::secure_fs::open_subdir(state_dir, name, shown)
                .map_err(|e| SandboxError::Cache(e.to_string()))?
        }
        Err(e) => return Err(SandboxError::Cache(e.to_string())),
    };
    let st = fstat(&fd).map_err(|e| cache_err("fstat", e))?;
    if st.st_mode & 0o077 != 0 {
        return Err(SandboxError::Cache(format!(
            "{CACHE_DIR}: mode {:04o} must be 0700",
            st.st_mode & 0o7777
        )));
    }
    Ok(fd)
}

/// `Ok(None)`: no entry. `Err`: an entry exists but fails a check.
fn read_entry(dir: BorrowedFd<'_>, name: &str) -> Result<Option<Program>, SandboxError> {
    let shown = Path::new(CACHE_DIR).join(name);
    let (mut f, st) = match crate::base::secure_fs::open_trusted_file(
        dir,
        OsStr::new(name),
        &shown,
        OFlag::empty(),
        0,
    ) {
        Ok(x) => x,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(SandboxError::Cache(e.to_string())),
    };
    let bad = |why: &str| SandboxError::Cache(format!("{}: {why}", shown.display()));
    if st.st_mode & 0o7777 != 0o600 {
        return Err(bad("mode is not 0600"));
    }
    if st.st_nlink != 1 {
        return Err(bad("has more than one link"));
    }
    let max = HEADER_LEN + MAX_INSNS * 8;
    if st.st_size < HEADER_LEN as i64 || st.st_size > max as i64 {
        return Err(bad("bad size"));
    }
    let mut buf = Vec::with_capacity(st.st_size as usize);
    (&mut f)
        .take(max as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| bad(&e.to_string()))?;
    decode_entry(&buf)
        .map(Some)
        .ok_or_else(|| bad("header or checksum mismatch"))
}

fn encode_entry(p: &Program) -> Vec<u8> {
    let body = p.to_bytes();
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(CACHE_MAGIC);
    out.extend_from_slice(&CACHE_FORMAT.to_le_bytes());
    out.extend_from_slice(&AUDIT_ARCH_X86_64.to_le_bytes());
    out.extend_from_slice(&(p.0.len() as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(blake3::hash(&body).as_bytes());
    out.extend_from_slice(&body);
    out
}

fn decode_entry(b: &[u8]) -> Option<Program> {
    if b.len() < HEADER_LEN || &b[..8] != CACHE_MAGIC {
        return None;
    }
    let u = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    if u(8) != CACHE_FORMAT || u(12) != AUDIT_ARCH_X86_64 || u(20) != 0 {
        return None;
    }
    let n = u(16) as usize;
    let body = &b[HEADER_LEN..];
    if n == 0 || n > MAX_INSNS || body.len() != n * 8 {
        return None;
    }
    if blake3::hash(body).as_bytes() != &b[24..56] {
        return None;
    }
    Program::from_bytes(body)
}

fn write_entry(dir: BorrowedFd<'_>, name: &str, p: &Program) -> Result<(), SandboxError> {
    let mut rnd = [0u8; 8];
    getrandom::fill(&mut rnd).map_err(|e| SandboxError::Cache(format!("getrandom: {e}")))?;
    let tmp = format!(".{}.{}.tmp", &name[..16], hex8(&rnd));
    let fd = openat(
        dir,
        tmp.as_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| cache_err("create", e))?;
    let res = (|| {
        // The umask may have cleared bits we want; never more than 0600.
        fchmod(&fd, Mode::from_bits_truncate(0o600)).map_err(|e| cache_err("fchmod", e))?;
        let st = fstat(&fd).map_err(|e| cache_err("fstat", e))?;
        if st.st_uid != 0 {
            return Err(SandboxError::Cache(format!(
                "{CACHE_DIR}: new file is owned by uid {} (not root): not caching",
                st.st_uid
            )));
        }
        let mut f = std::fs::File::from(fd);
        f.write_all(&encode_entry(p))
            .map_err(|e| SandboxError::Cache(format!("{CACHE_DIR}/{tmp}: write: {e}")))?;
        fsync(&f).map_err(|e| cache_err("fsync", e))?;
        drop(f);
        renameat(dir, tmp.as_str(), dir, name).map_err(|e| cache_err("rename", e))?;
        let _ = fsync(dir);
        Ok(())
    })();
    if res.is_err() {
        let _ = unlinkat(dir, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
    }
    res
}

fn hex8(b: &[u8; 8]) -> String {
    crate::base::hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The subset of classic BPF we emit, run over a synthetic
    /// `seccomp_data`. Returns the filter's return value.
    fn run(p: &Program, nr: u32, arch: u32, args: [u64; 6]) -> u32 {
        let mut data = Vec::with_capacity(64);
        data.extend_from_slice(&nr.to_le_bytes());
        data.extend_from_slice(&arch.to_le_bytes());
        data.extend_from_slice(&0x7f00_0000_1000u64.to_le_bytes());
        for a in args {
            data.extend_from_slice(&a.to_le_bytes());
        }
        assert_eq!(data.len(), 64);
        let mut acc: u32 = 0;
        let mut pc = 0usize;
        let mut steps = 0;
        loop {
            steps += 1;
            assert!(steps < 100_000, "runaway");
            let i = p.0[pc];
            match i.code {
                BPF_LD_W_ABS => {
                    let o = i.k as usize;
                    acc = u32::from_le_bytes(data[o..o + 4].try_into().unwrap());
                    pc += 1;
                }
                BPF_JEQ_K | BPF_JGE_K => {
                    let t = if i.code == BPF_JEQ_K {
                        acc == i.k
                    } else {
                        acc >= i.k
                    };
                    pc += 1 + if t { i.jt as usize } else { i.jf as usize };
                }
                BPF_JA => pc += 1 + i.k as usize,
                BPF_RET_K => return i.k,
                c => panic!("unexpected opcode {c:#x} at {pc}"),
            }
        }
    }

    fn nr(n: &str) -> u32 {
        syscalls::lookup(n).unwrap()
    }

    fn spec(allow: &[&str], deny: &[&str], action: SeccompAction) -> SeccompSpec {
        SeccompSpec {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
            action,
        }
    }

    const EPERM: u32 = SECCOMP_RET_ERRNO | libc::EPERM as u32;
    const A: u32 = AUDIT_ARCH_X86_64;

    #[test]
    fn baseline_only() {
        let p = compile(None).unwrap();
        assert!(p.well_formed());
        assert_eq!(run(&p, nr("getpid"), A, [0; 6]), SECCOMP_RET_ALLOW);
        for n in syscalls::BASELINE_DENY {
            assert_eq!(run(&p, nr(n), A, [0; 6]), EPERM, "{n}");
        }
        // Wrong arch (i386), x32.
        assert_eq!(run(&p, 20, 0x4000_0003, [0; 6]), SECCOMP_RET_KILL_PROCESS);
        assert_eq!(
            run(&p, X32_SYSCALL_BIT | 39, A, [0; 6]),
            SECCOMP_RET_KILL_PROCESS
        );
        assert_eq!(run(&p, u32::MAX, A, [0; 6]), SECCOMP_RET_KILL_PROCESS);
        // TIOCSTI/TIOCLINUX on the low 32 bits only.
        let io = nr("ioctl");
        assert_eq!(run(&p, io, A, [0, TIOCSTI as u64, 0, 0, 0, 0]), EPERM);
        assert_eq!(
            run(&p, io, A, [0, 0xffff_ffff_0000_5412, 0, 0, 0, 0]),
            EPERM
        );
        assert_eq!(run(&p, io, A, [0, TIOCLINUX as u64, 0, 0, 0, 0]), EPERM);
        assert_eq!(
            run(&p, io, A, [0, 0x5401 /* TCGETS */, 0, 0, 0, 0]),
            SECCOMP_RET_ALLOW
        );
        // TIOCSTI value in another argument is not TIOCSTI.
        assert_eq!(
            run(&p, io, A, [TIOCSTI as u64, 0x5401, 0, 0, 0, 0]),
            SECCOMP_RET_ALLOW
        );
    }

    #[test]
    fn small_spec_exact_output() {
        // Deny-list mode with one entry: check the emitted code itself.
        let p = compile(Some(&spec(&[], &["uname"], SeccompAction::Errno))).unwrap();
        let b = syscalls::BASELINE_DENY.len();
        let n = p.0.len();
        // 4 header + baseline + 5 ioctl block + 1 deny + ret + 4 rets.
        assert_eq!(n, 4 + b + 5 + 1 + 1 + 4, "{p:?}");
        assert_eq!(p.0[0].code, BPF_LD_W_ABS);
        assert_eq!(p.0[0].k, 4);
        assert_eq!((p.0[1].code, p.0[1].k), (BPF_JEQ_K, A));
        assert_eq!(p.0[1].jt, 0);
        assert_eq!(1 + 1 + p.0[1].jf as usize, n - 1, "arch -> kill");
        assert_eq!((p.0[3].code, p.0[3].k), (BPF_JGE_K, X32_SYSCALL_BIT));
        assert_eq!(p.0[n - 1].k, SECCOMP_RET_KILL_PROCESS);
        assert_eq!(p.0[n - 2].k, EPERM);
        let deny_at = 4 + b + 5;
        assert_eq!(
            (p.0[deny_at].code, p.0[deny_at].k),
            (BPF_JEQ_K, nr("uname"))
        );
        assert_eq!(p.0[deny_at + 1].k, SECCOMP_RET_ALLOW);
        assert_eq!(run(&p, nr("uname"), A, [0; 6]), EPERM);
        assert_eq!(run(&p, nr("getpid"), A, [0; 6]), SECCOMP_RET_ALLOW);
    }

    #[test]
    fn allow_mode_and_actions() {
        let s = spec(
            &["@default", "@basic-io", "ioctl", "ptrace"],
            &["write"],
            SeccompAction::Kill,
        );
        let p = compile(Some(&s)).unwrap();
        assert_eq!(run(&p, nr("getpid"), A, [0; 6]), SECCOMP_RET_ALLOW);
        assert_eq!(run(&p, nr("read"), A, [0; 6]), SECCOMP_RET_ALLOW);
        assert_eq!(run(&p, nr("execveat"), A, [0; 6]), SECCOMP_RET_ALLOW);
        assert_eq!(run(&p, nr("write"), A, [0; 6]), SECCOMP_RET_KILL_PROCESS);
        assert_eq!(run(&p, nr("socket"), A, [0; 6]), SECCOMP_RET_KILL_PROCESS);
        // Allow-listing a baseline call does not allow it.
        assert_eq!(run(&p, nr("ptrace"), A, [0; 6]), SECCOMP_RET_KILL_PROCESS);
        let io = nr("ioctl");
        assert_eq!(
            run(&p, io, A, [0, 0xdead_beef_0000_541c, 0, 0, 0, 0]),
            SECCOMP_RET_KILL_PROCESS
        );
        assert_eq!(run(&p, io, A, [0, 0x5401, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);

        let s = spec(&["@default"], &[], SeccompAction::Log);
        let p = compile(Some(&s)).unwrap();
        assert_eq!(run(&p, nr("socket"), A, [0; 6]), SECCOMP_RET_LOG);
        assert_eq!(run(&p, nr("bpf"), A, [0; 6]), EPERM, "baseline stays EPERM");
        // ioctl not allowed in this profile: non-TIOCSTI ioctl gets the action.
        assert_eq!(
            run(&p, nr("ioctl"), A, [0, 0x5401, 0, 0, 0, 0]),
            SECCOMP_RET_LOG
        );
        assert_eq!(
            run(&p, nr("ioctl"), A, [0, TIOCSTI as u64, 0, 0, 0, 0]),
            EPERM
        );
    }

    #[test]
    fn far_jumps() {
        // A large allow-list puts Allow/Action labels > 255 away.
        let s = spec(
            &["@system-service"],
            &["@privileged", "@mount"],
            SeccompAction::Errno,
        );
        let p = compile(Some(&s)).unwrap();
        assert!(p.0.len() > 300, "{}", p.0.len());
        assert!(p.0.iter().any(|i| i.code == BPF_JA));
        assert!(p.well_formed());
        let allowed = syscalls::expand(&s.allow).unwrap();
        let denied = syscalls::expand(&s.deny).unwrap();
        let base = syscalls::baseline_deny_numbers();
        let extra: BTreeSet<u32> = EXEC_NEEDS.iter().map(|n| nr(n)).collect();
        for (name, n) in syscalls::SYSCALLS {
            let want = if base.contains(n) || denied.contains(n) {
                EPERM
            } else if allowed.contains(n) || extra.contains(n) {
                SECCOMP_RET_ALLOW
            } else {
                EPERM
            };
            let args = [0, 0x5401, 0, 0, 0, 0];
            assert_eq!(run(&p, *n, A, args), want, "{name}");
        }
        assert_eq!(run(&p, 1000, A, [0; 6]), EPERM, "unknown nr");
        // Same in deny-list mode with everything denied except a few.
        let s = spec(&[], &["@system-service"], SeccompAction::Kill);
        let p = compile(Some(&s)).unwrap();
        assert_eq!(run(&p, nr("read"), A, [0; 6]), SECCOMP_RET_KILL_PROCESS);
        assert_eq!(run(&p, nr("reboot"), A, [0; 6]), SECCOMP_RET_ALLOW);
        assert_eq!(run(&p, 20, 0x4000_0003, [0; 6]), SECCOMP_RET_KILL_PROCESS);
    }

    #[test]
    fn unknown_names_rejected() {
        let e = compile(Some(&spec(&["nosuchcall"], &[], SeccompAction::Errno))).unwrap_err();
        assert!(e.to_string().contains("nosuchcall"), "{e}");
    }

    #[test]
    fn bytes_roundtrip_and_entry_checks() {
        let p = compile(Some(&spec(&["@default"], &[], SeccompAction::Errno))).unwrap();
        assert_eq!(Program::from_bytes(&p.to_bytes()).unwrap(), p);
        let e = encode_entry(&p);
        assert_eq!(decode_entry(&e).unwrap(), p);
        let mut bad = e.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(decode_entry(&bad).is_none());
        let mut bad = e.clone();
        bad[0] = b'X';
        assert!(decode_entry(&bad).is_none());
        assert!(decode_entry(&e[..e.len() - 8]).is_none());
        // A jump out of the program is refused.
        let mut q = p.clone();
        q.0[1].jf = 250;
        assert!(!q.well_formed());
    }

    /// Fork; in the child set NNP, load `p`, run `f`, `_exit` with its
    /// result. Returns the raw wait status.
    fn in_child(p: &Program, f: fn() -> i32) -> i32 {
        // SAFETY: the child only calls async-signal-safe functions (prctl,
        // seccomp, raw syscalls, _exit); `p` was built before the fork.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0);
            if pid == 0 {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    libc::_exit(90);
                }
                let insns = p.insns();
                let prog = libc::sock_fprog {
                    len: insns.len() as u16,
                    filter: insns.as_ptr() as *mut _,
                };
                if libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog) != 0 {
                    libc::_exit(91);
                }
                libc::_exit(f());
            }
            let mut st = 0;
            assert_eq!(libc::waitpid(pid, &mut st, 0), pid);
            st
        }
    }

    fn probe() -> i32 {
        // SAFETY: plain syscalls without pointers (uname gets NULL: EFAULT
        // when allowed, EPERM when denied).
        unsafe {
            if libc::syscall(libc::SYS_getpid) <= 0 {
                return 10;
            }
            let r = libc::syscall(libc::SYS_uname, 0usize);
            let e = *libc::__errno_location();
            if r == -1 && e == libc::EPERM {
                return 0;
            }
            if r == -1 && e == libc::EFAULT {
                return 11;
            }
            12
        }
    }

    #[test]
    fn real_filter_errno_and_kill() {
        let p = compile(Some(&spec(&[], &["uname"], SeccompAction::Errno))).unwrap();
        let st = in_child(&p, probe);
        assert!(libc::WIFEXITED(st), "status {st:#x}");
        assert_eq!(libc::WEXITSTATUS(st), 0);

        let p = compile(Some(&spec(&[], &["uname"], SeccompAction::Kill))).unwrap();
        let st = in_child(&p, probe);
        assert!(libc::WIFSIGNALED(st), "status {st:#x}");
        assert_eq!(libc::WTERMSIG(st), libc::SIGSYS);

        // Baseline: ptrace is EPERM even with a profile that allows it.
        fn ptrace_probe() -> i32 {
            // SAFETY: PTRACE_PEEKDATA on pid 1 with no pointers.
            let r = unsafe { libc::syscall(libc::SYS_ptrace, libc::PTRACE_PEEKDATA, 1, 0, 0) };
            // SAFETY: glibc's errno location is valid for this thread.
            let e = unsafe { *libc::__errno_location() };
            if r == -1 && e == libc::EPERM { 0 } else { 13 }
        }
        let p = compile(None).unwrap();
        let st = in_child(&p, ptrace_probe);
        assert!(libc::WIFEXITED(st));
        assert_eq!(libc::WEXITSTATUS(st), 0);

        // Allow-list mode: exit_group must keep working (EXEC_NEEDS).
        let p = compile(Some(&spec(&["getpid"], &[], SeccompAction::Kill))).unwrap();
        fn ok() -> i32 {
            // SAFETY: no arguments.
            unsafe { libc::syscall(libc::SYS_getpid) };
            0
        }
        let st = in_child(&p, ok);
        assert!(libc::WIFEXITED(st), "status {st:#x}");
    }

    /// Under an allow-list that names neither chdir nor close_range,
    /// both are refused: EXEC_NEEDS adds only what the exec itself needs
    /// (issue 9 item 8).
    #[test]
    fn allow_list_refuses_chdir_and_close_range() {
        fn probe() -> i32 {
            // SAFETY: chdir with a static C string; close_range on an
            // empty range (first > last would be EINVAL, so a huge fd
            // number that is never open): neither touches our memory.
            unsafe {
                let r = libc::chdir(c"/".as_ptr());
                let e = *libc::__errno_location();
                if r != -1 || e != libc::EPERM {
                    return 50;
                }
                let r = libc::syscall(libc::SYS_close_range, 1_000_000u32, 1_000_001u32, 0u32);
                let e = *libc::__errno_location();
                if r != -1 || e != libc::EPERM {
                    return 51;
                }
                let r = libc::syscall(libc::SYS_fchdir, 0);
                let e = *libc::__errno_location();
                if r != -1 || e != libc::EPERM {
                    return 52;
                }
            }
            0
        }
        let p = compile(Some(&spec(&["getpid"], &[], SeccompAction::Errno))).unwrap();
        let st = in_child(&p, probe);
        assert!(libc::WIFEXITED(st), "status {st:#x}");
        assert_eq!(libc::WEXITSTATUS(st), 0, "status {st:#x}");
        // The same probe with chdir, fchdir and close_range named: allowed
        // (the probe then fails with 50: chdir("/") succeeds).
        let p = compile(Some(&spec(
            &["getpid", "chdir", "fchdir", "close_range"],
            &[],
            SeccompAction::Errno,
        )))
        .unwrap();
        let st = in_child(&p, probe);
        assert!(libc::WIFEXITED(st), "status {st:#x}");
        assert_eq!(libc::WEXITSTATUS(st), 50, "status {st:#x}");
    }

    #[test]
    fn load_requires_nnp_check() {
        // Only meaningful when the test process has no NNP (the usual case).
        if !crate::sandbox::no_new_privs() {
            let p = compile(None).unwrap();
            assert_eq!(
                load(&p).unwrap_err(),
                SandboxError::NoNewPrivs("seccomp load")
            );
        }
    }

    #[test]
    fn cache_roundtrip_and_rebuild() {
        // Needs root (files must be root-owned); skip otherwise.
        if nix::unistd::geteuid().as_raw() != 0 {
            crate::base::testhook::skipped(
                "sandbox::seccomp::cache_roundtrip_and_rebuild",
                "needs root",
            );
            return;
        }
        let td = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            td.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let dirfd = nix::fcntl::open(
            td.path(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        let key = [7u8; 32];
        let s = spec(&["@default"], &[], SeccompAction::Errno);
        let c1 = cached(dirfd.as_fd(), &key, Some(&s)).unwrap();
        assert!(!c1.hit && !c1.rebuilt, "{c1:?}");
        assert_eq!(c1.store_error, None);
        let c2 = cached(dirfd.as_fd(), &key, Some(&s)).unwrap();
        assert!(c2.hit);
        assert_eq!(c2.program, c1.program);
        let file = td.path().join("seccomp").join(cache_name(&key));
        use std::os::unix::fs::PermissionsExt;
        let md = std::fs::metadata(&file).unwrap();
        assert_eq!(md.permissions().mode() & 0o7777, 0o600);
        let dmd = std::fs::metadata(td.path().join("seccomp")).unwrap();
        assert_eq!(dmd.permissions().mode() & 0o7777, 0o700);

        // Corrupt: rebuilt.
        let mut b = std::fs::read(&file).unwrap();
        let l = b.len() - 1;
        b[l] ^= 0xff;
        std::fs::write(&file, &b).unwrap();
        let c3 = cached(dirfd.as_fd(), &key, Some(&s)).unwrap();
        assert!(!c3.hit && c3.rebuilt);
        assert_eq!(c3.program, c1.program);
        assert!(cached(dirfd.as_fd(), &key, Some(&s)).unwrap().hit);

        // Wrong mode: rebuilt.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let c4 = cached(dirfd.as_fd(), &key, Some(&s)).unwrap();
        assert!(c4.rebuilt);
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o7777,
            0o600
        );

        // Symlink in place of the file: rebuilt, replaced by a file.
        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &file).unwrap();
        let c5 = cached(dirfd.as_fd(), &key, Some(&s)).unwrap();
        assert!(c5.rebuilt && c5.store_error.is_none(), "{c5:?}");
        assert!(std::fs::symlink_metadata(&file).unwrap().is_file());

        // Different key: different file.
        let c6 = cached(dirfd.as_fd(), &[8u8; 32], None).unwrap();
        assert!(!c6.hit);
        assert_ne!(c6.program, c1.program);
    }
}
