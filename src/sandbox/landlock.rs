//! Landlock: build a per-rule ruleset before the privilege drop, apply it
//! right before seccomp.
//!
//! Handled accesses are *all* filesystem rights of the newest ABI this
//! crate knows, TCP bind/connect when the profile lists ports (ABI >= 4),
//! and the abstract-unix-socket / signal scopes (ABI >= 6) the profile
//! gives the call's target ([`LandlockSpec::scopes_for`]: when the profile
//! does not write `scope`, both for a uid-0 target). The
//! `landlock` crate's best-effort mode drops what the running kernel does
//! not support; the [`Report`] says what was really enforced, for the
//! audit record. A profile with `min_abi` is denied outright on an older
//! kernel (or one without Landlock).
//!
//! Rights per list: `read` -> ReadFile + ReadDir; `exec` -> those +
//! Execute; `write` -> every right except Execute (create, remove,
//! rename/refer, truncate, device ioctls, ...). On a non-directory only the
//! file rights of the list are granted.
//!
//! Added automatically so that the exec itself works (policy authors need
//! not know the loader's needs):
//!
//! * read + execute on the command file, its ELF interpreter (`PT_INTERP`),
//!   and for a `#!` script the interpreter named on the first line (and
//!   that interpreter's `PT_INTERP`);
//! * read + execute on `/lib`, `/lib64`, `/usr/lib`, `/usr/lib64` (shared
//!   libraries; this also makes helper programs below them executable) and
//!   read on `/etc/ld.so.cache`, `/etc/ld.so.preload`;
//! * read + write (+ truncate, device ioctls) on `/dev/null` and `/dev/tty`:
//!   nearly every program redirects to the former, and interactive ones
//!   open the latter.
//!
//! Automatic paths that do not exist are left out silently (a missing
//! path grants nothing, so this is never a hole). Profile paths that do not
//! exist are skipped and listed in [`Report::skipped`] and its summary.
#![cfg_attr(not(test), forbid(unsafe_code))]

use super::SandboxError;
use crate::policy::model::{LandlockSpec, Scopes};
use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath,
    PathFd, RestrictionStatus, RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetStatus,
    Scope,
};
use std::fs::File;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The newest ABI the `landlock` crate knows: request everything up to it.
const BEST: ABI = ABI::V10;

const LIB_DIRS: &[&str] = &["/lib", "/lib64", "/usr/lib", "/usr/lib64"];
const LOADER_FILES: &[&str] = &["/etc/ld.so.cache", "/etc/ld.so.preload"];
const DEVICES: &[&str] = &["/dev/null", "/dev/tty"];

/// The running kernel's Landlock ABI version; 0 when Landlock is not
/// built in or not enabled.
pub fn kernel_abi() -> u32 {
    crate::sys::kernel::landlock_abi().unwrap_or(0)
}

/// One line about the running kernel, for `bdctl doctor`.
pub fn kernel_summary() -> String {
    match kernel_abi() {
        0 => "unavailable (not built in or not enabled in the lsm= list)".to_string(),
        n => format!(
            "ABI {n} (fs{}{})",
            if n >= 4 { ", tcp bind/connect" } else { "" },
            if n >= 6 { ", scopes" } else { "" }
        ),
    }
}

/// What `spec` would enforce on this kernel, without opening anything
/// but checking which profile paths exist (for `bdctl doctor`).
pub fn describe(spec: &LandlockSpec) -> String {
    let abi = kernel_abi();
    if let Some(need) = spec.min_abi
        && abi < need
    {
        return format!("landlock: DENIED on this kernel (min_abi {need}, kernel ABI {abi})");
    }
    let want_net = spec.bind_tcp.is_some() || spec.connect_tcp.is_some();
    // Described for a root target: the default applies to it.
    let scopes = spec.scopes_for(0);
    let want_scope = scopes.any();
    let r = Report {
        abi,
        fs: abi >= 1,
        net: want_net && abi >= 4,
        scope: want_scope && abi >= 6,
        scopes,
        partial: abi >= 1 && ((want_net && abi < 4) || (want_scope && abi < 6)),
        skipped: spec
            .read
            .iter()
            .chain(&spec.write)
            .chain(&spec.exec)
            .filter(|p| !p.exists())
            .cloned()
            .collect(),
        applied: false,
    };
    let mut s = r.summary();
    if spec.scope_default {
        s.push_str(" (scope: root targets only, the default)");
    }
    s
}

/// What Landlock enforces (or would enforce) for a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The kernel's Landlock ABI (0 = unavailable).
    pub abi: u32,
    /// Filesystem access control enforced (ABI >= 1).
    pub fs: bool,
    /// TCP port restrictions requested and enforced (ABI >= 4).
    pub net: bool,
    /// Scopes requested and enforced (ABI >= 6).
    pub scope: bool,
    /// The scopes requested for this call's target.
    pub scopes: Scopes,
    /// Something requested was not available on this kernel.
    pub partial: bool,
    /// Profile paths that did not exist (no rule added for them).
    pub skipped: Vec<PathBuf>,
    /// Set by [`PreparedLandlock::apply`].
    pub applied: bool,
}

impl Report {
    /// One line for the audit record, e.g.
    /// `landlock abi=7 fs net scope=signal,abstract_unix; skipped: /opt/x`,
    /// `landlock abi=5 fs (partial: scope=signal not enforced, ABI < 6)` or
    /// `landlock unavailable (best effort)`.
    pub fn summary(&self) -> String {
        let mut s = if self.abi == 0 || !self.fs {
            "landlock unavailable (best effort)".to_string()
        } else {
            let mut s = format!("landlock abi={} fs", self.abi);
            if self.net {
                s.push_str(" net");
            }
            if self.scope {
                s.push_str(" scope=");
                s.push_str(&self.scopes.names());
            }
            if self.partial {
                if self.scopes.any() && !self.scope {
                    s.push_str(&format!(
                        " (partial: scope={} not enforced, ABI < 6)",
                        self.scopes.names()
                    ));
                } else {
                    s.push_str(" (partial)");
                }
            }
            s
        };
        if !self.skipped.is_empty() {
            s.push_str("; skipped: ");
            let v: Vec<String> = self
                .skipped
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            s.push_str(&v.join(" "));
        }
        s
    }
}

/// A ruleset built and filled, not yet applied.
#[derive(Debug)]
pub struct PreparedLandlock {
    ruleset: RulesetCreated,
    report: Report,
}

impl PreparedLandlock {
    /// What will be enforced (before apply).
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// `landlock_restrict_self`. `no_new_privs` must already be set.
    pub fn apply(self) -> Result<Report, SandboxError> {
        if !super::no_new_privs() {
            return Err(SandboxError::NoNewPrivs("landlock apply"));
        }
        let mut report = self.report;
        let st: RestrictionStatus = self
            .ruleset
            .restrict_self()
            .map_err(|e| SandboxError::Landlock(format!("restrict_self: {e}")))?;
        match st.ruleset {
            RulesetStatus::FullyEnforced => {}
            RulesetStatus::PartiallyEnforced => report.partial = true,
            RulesetStatus::NotEnforced => {
                report.fs = false;
                report.net = false;
                report.scope = false;
            }
        }
        report.applied = true;
        Ok(report)
    }
}

fn ll_err(what: &str, e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Landlock(format!("{what}: {e}"))
}

fn read_rights() -> BitFlags<AccessFs> {
    AccessFs::ReadFile | AccessFs::ReadDir
}

fn exec_rights() -> BitFlags<AccessFs> {
    read_rights() | AccessFs::Execute
}

fn write_rights() -> BitFlags<AccessFs> {
    AccessFs::from_all(BEST) & !BitFlags::from(AccessFs::Execute)
}

fn device_rights() -> BitFlags<AccessFs> {
    AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate | AccessFs::IoctlDev
}

/// Build (not apply) the ruleset for `spec`; `exec_path` is the resolved
/// command (its interpreter and libraries get their rights automatically);
/// `target_uid` decides the default scopes ([`LandlockSpec::scopes_for`]).
pub fn prepare(
    spec: &LandlockSpec,
    exec_path: &Path,
    target_uid: u32,
) -> Result<PreparedLandlock, SandboxError> {
    let abi = kernel_abi();
    if let Some(need) = spec.min_abi
        && abi < need
    {
        return Err(SandboxError::LandlockAbi { need, have: abi });
    }
    let want_net = spec.bind_tcp.is_some() || spec.connect_tcp.is_some();
    let wanted = spec.scopes_for(target_uid);
    let want_scope = wanted.any();

    let mut rs = landlock::Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(BEST))
        .map_err(|e| ll_err("handle fs access", e))?;
    if spec.bind_tcp.is_some() {
        rs = rs
            .handle_access(AccessNet::BindTcp)
            .map_err(|e| ll_err("handle bind", e))?;
    }
    if spec.connect_tcp.is_some() {
        rs = rs
            .handle_access(AccessNet::ConnectTcp)
            .map_err(|e| ll_err("handle connect", e))?;
    }
    let mut scopes = BitFlags::<Scope>::empty();
    if wanted.abstract_unix {
        scopes |= Scope::AbstractUnixSocket;
    }
    if wanted.signals {
        scopes |= Scope::Signal;
    }
    if !scopes.is_empty() {
        rs = rs.scope(scopes).map_err(|e| ll_err("scope", e))?;
    }
    let mut created = rs.create().map_err(|e| ll_err("create ruleset", e))?;

    let mut skipped = Vec::new();
    for (list, rights) in [
        (&spec.read, read_rights()),
        (&spec.write, write_rights()),
        (&spec.exec, exec_rights()),
    ] {
        for p in list {
            if !p.is_absolute() {
                return Err(SandboxError::Profile(format!(
                    "landlock path {} is not absolute",
                    p.display()
                )));
            }
            let (c, found) = add_path(created, p, rights)?;
            created = c;
            if !found {
                skipped.push(p.clone());
            }
        }
    }

    // Automatic rules (see the module docs).
    let mut auto_exec: Vec<PathBuf> = vec![exec_path.to_path_buf()];
    auto_exec.extend(exec_dependencies(exec_path));
    auto_exec.extend(LIB_DIRS.iter().map(PathBuf::from));
    for p in &auto_exec {
        created = add_path(created, p, exec_rights())?.0;
    }
    for p in LOADER_FILES {
        created = add_path(created, Path::new(p), read_rights())?.0;
    }
    for p in DEVICES {
        created = add_path(created, Path::new(p), device_rights())?.0;
    }

    for port in spec.bind_tcp.iter().flatten() {
        created = created
            .add_rule(NetPort::new(*port, AccessNet::BindTcp))
            .map_err(|e| ll_err("bind port rule", e))?;
    }
    for port in spec.connect_tcp.iter().flatten() {
        created = created
            .add_rule(NetPort::new(*port, AccessNet::ConnectTcp))
            .map_err(|e| ll_err("connect port rule", e))?;
    }

    let fs = abi >= 1;
    let net = want_net && abi >= 4;
    let scope = want_scope && abi >= 6;
    let partial = fs && ((want_net && !net) || (want_scope && !scope));
    Ok(PreparedLandlock {
        ruleset: created,
        report: Report {
            abi,
            fs,
            net,
            scope,
            scopes: wanted,
            partial,
            skipped,
            applied: false,
        },
    })
}

/// Add a path-beneath rule; the flag is false when the path does not exist.
fn add_path(
    created: RulesetCreated,
    p: &Path,
    rights: BitFlags<AccessFs>,
) -> Result<(RulesetCreated, bool), SandboxError> {
    let fd = match PathFd::new(p) {
        Ok(fd) => fd,
        Err(e) => {
            // PathFdError wraps the io::Error of open(O_PATH).
            let io = std::error::Error::source(&e)
                .and_then(|s| s.downcast_ref::<std::io::Error>())
                .and_then(|e| e.raw_os_error());
            if matches!(io, Some(libc::ENOENT) | Some(libc::ENOTDIR)) || !p.exists() {
                return Ok((created, false));
            }
            return Err(ll_err(&format!("open {}", p.display()), e));
        }
    };
    let is_dir = nix::sys::stat::fstat(&fd)
        .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
        .map_err(|e| ll_err(&format!("fstat {}", p.display()), e.desc()))?;
    let rights = if is_dir {
        rights
    } else {
        rights & AccessFs::from_file(BEST)
    };
    let created = created
        .add_rule(PathBeneath::new(fd, rights))
        .map_err(|e| ll_err(&format!("rule for {}", p.display()), e))?;
    Ok((created, true))
}

/// The programs the kernel loads to run `path`: the `#!` interpreter of a
/// script, the ELF interpreter (`PT_INTERP`) of a binary, recursively
/// (at most 4 levels, as the kernel's binfmt nesting limit).
pub fn exec_dependencies(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut cur = path.to_path_buf();
    for _ in 0..4 {
        let next = match File::open(&cur) {
            Ok(f) => shebang(&f).or_else(|| elf_interp(&f)),
            Err(_) => None,
        };
        match next {
            Some(n) if !out.contains(&n) && n != cur => {
                out.push(n.clone());
                cur = n;
            }
            _ => break,
        }
    }
    out
}

fn shebang(f: &File) -> Option<PathBuf> {
    let mut buf = [0u8; 256];
    let n = f.read_at(&mut buf, 0).ok()?;
    let b = &buf[..n];
    if !b.starts_with(b"#!") {
        return None;
    }
    let line = &b[2..];
    let end = line.iter().position(|&c| c == b'\n').unwrap_or(line.len());
    let line = &line[..end];
    let start = line.iter().position(|&c| c != b' ' && c != b'\t')?;
    let rest = &line[start..];
    let stop = rest
        .iter()
        .position(|&c| c == b' ' || c == b'\t')
        .unwrap_or(rest.len());
    let interp = &rest[..stop];
    (interp.first() == Some(&b'/')).then(|| PathBuf::from(std::ffi::OsStr::from_bytes(interp)))
}

/// `PT_INTERP` of a 64-bit little-endian ELF file.
pub fn elf_interp(f: &File) -> Option<PathBuf> {
    let mut eh = [0u8; 64];
    if f.read_at(&mut eh, 0).ok()? != 64 || &eh[..4] != b"\x7fELF" {
        return None;
    }
    if eh[4] != 2 || eh[5] != 1 {
        return None; // not ELFCLASS64 / ELFDATA2LSB
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let phoff = u64_at(&eh, 32);
    let phentsize = u16_at(&eh, 54) as u64;
    let phnum = u16_at(&eh, 56) as u64;
    if phentsize < 56 || phnum == 0 || phnum > 256 {
        return None;
    }
    for i in 0..phnum {
        let mut ph = [0u8; 56];
        if f.read_at(&mut ph, phoff.checked_add(i * phentsize)?).ok()? != 56 {
            return None;
        }
        const PT_INTERP: u32 = 3;
        if u32_at(&ph, 0) != PT_INTERP {
            continue;
        }
        let off = u64_at(&ph, 8);
        let size = u64_at(&ph, 32);
        if size == 0 || size > 4096 {
            return None;
        }
        let mut name = vec![0u8; size as usize];
        if f.read_at(&mut name, off).ok()? != name.len() {
            return None;
        }
        let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
        name.truncate(end);
        return (name.first() == Some(&b'/'))
            .then(|| PathBuf::from(std::ffi::OsString::from_vec(name)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty_spec() -> LandlockSpec {
        LandlockSpec {
            read: vec![],
            write: vec![],
            exec: vec![],
            bind_tcp: None,
            connect_tcp: None,
            scope_abstract_unix: false,
            scope_signals: false,
            scope_default: false,
            min_abi: None,
        }
    }

    #[test]
    fn elf_and_shebang() {
        let t = Path::new("/bin/true");
        let deps = exec_dependencies(t);
        assert_eq!(deps.len(), 1, "{deps:?}");
        assert!(deps[0].to_string_lossy().contains("ld-linux"), "{deps:?}");
        let td = tempfile::tempdir().unwrap();
        let s = td.path().join("s");
        std::fs::write(&s, "#!  /bin/sh -e\necho hi\n").unwrap();
        let deps = exec_dependencies(&s);
        assert_eq!(deps[0], Path::new("/bin/sh"));
        assert!(deps.len() == 2 && deps[1].to_string_lossy().contains("ld-linux"));
        std::fs::write(&s, "#!relative\n").unwrap();
        assert!(exec_dependencies(&s).is_empty());
        std::fs::write(&s, "plain").unwrap();
        assert!(exec_dependencies(&s).is_empty());
    }

    #[test]
    fn summary_lines() {
        let mut r = Report {
            abi: 7,
            fs: true,
            net: true,
            scope: true,
            scopes: Scopes::ALL,
            partial: false,
            skipped: vec![PathBuf::from("/opt/x")],
            applied: true,
        };
        assert_eq!(
            r.summary(),
            "landlock abi=7 fs net scope=signal,abstract_unix; skipped: /opt/x"
        );
        // An older kernel: the scopes asked for are named as not enforced.
        let mut old = r.clone();
        (old.abi, old.scope, old.net, old.partial) = (5, false, true, true);
        old.skipped.clear();
        assert_eq!(
            old.summary(),
            "landlock abi=5 fs net (partial: scope=signal,abstract_unix not enforced, ABI < 6)"
        );
        r.abi = 0;
        r.fs = false;
        r.skipped.clear();
        assert_eq!(r.summary(), "landlock unavailable (best effort)");
    }

    #[test]
    fn min_abi_and_skips() {
        let abi = kernel_abi();
        let mut s = empty_spec();
        s.min_abi = Some(abi + 1);
        let e = prepare(&s, Path::new("/bin/true"), 1000).unwrap_err();
        assert_eq!(
            e,
            SandboxError::LandlockAbi {
                need: abi + 1,
                have: abi
            }
        );
        let mut s = empty_spec();
        s.read = vec![PathBuf::from("/nonexistent/belladonna-x")];
        s.min_abi = if abi > 0 { Some(1) } else { None };
        let p = prepare(&s, Path::new("/bin/true"), 1000).unwrap();
        assert_eq!(p.report().skipped, s.read);
        assert!(
            p.report()
                .summary()
                .contains("skipped: /nonexistent/belladonna-x")
        );
        let mut s = empty_spec();
        s.read = vec![PathBuf::from("relative")];
        assert!(matches!(
            prepare(&s, Path::new("/bin/true"), 1000),
            Err(SandboxError::Profile(_))
        ));
    }

    /// Apply in a forked child: reading inside the granted tree works,
    /// outside fails with EACCES, and exec of /bin/true still works.
    #[test]
    fn enforced_in_child() {
        if kernel_abi() == 0 {
            crate::base::testhook::skipped("sandbox::landlock", "no Landlock in this kernel");
            return;
        }
        let td = tempfile::tempdir().unwrap();
        let a = td.path().join("a");
        let b = td.path().join("b");
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(a.join("f"), "x").unwrap();
        std::fs::write(b.join("f"), "x").unwrap();
        let mut s = empty_spec();
        s.read = vec![a.clone()];
        let p = prepare(&s, Path::new("/bin/true"), 1000).unwrap();
        use std::ffi::CString;
        let fa = CString::new(a.join("f").as_os_str().as_bytes()).unwrap();
        let fb = CString::new(b.join("f").as_os_str().as_bytes()).unwrap();
        let tru = CString::new("/bin/true").unwrap();
        let argv = [tru.as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null::<libc::c_char>()];
        // SAFETY: the child only makes syscalls (prctl, landlock via the
        // crate, open, execve) and _exits; everything was allocated before
        // the fork.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0);
            if pid == 0 {
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                if p.apply().is_err() {
                    libc::_exit(20);
                }
                if libc::open(fa.as_ptr(), libc::O_RDONLY) < 0 {
                    libc::_exit(21);
                }
                if libc::open(fb.as_ptr(), libc::O_RDONLY) >= 0 {
                    libc::_exit(22);
                }
                if *libc::__errno_location() != libc::EACCES {
                    libc::_exit(23);
                }
                libc::execve(tru.as_ptr(), argv.as_ptr(), envp.as_ptr());
                libc::_exit(24);
            }
            let mut st = 0;
            assert_eq!(libc::waitpid(pid, &mut st, 0), pid);
            assert!(libc::WIFEXITED(st), "{st:#x}");
            assert_eq!(libc::WEXITSTATUS(st), 0, "child step failed");
        }
    }

    #[test]
    fn apply_requires_nnp() {
        if crate::sandbox::no_new_privs() {
            return;
        }
        let p = prepare(&empty_spec(), Path::new("/bin/true"), 1000).unwrap();
        assert_eq!(
            p.apply().unwrap_err(),
            SandboxError::NoNewPrivs("landlock apply")
        );
    }
}
