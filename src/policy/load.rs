//! Loading the policy from disk.
//!
//! [`load_policy`] reads the installed policy for bdexec: the main file
//! [`crate::base::paths::POLICY_FILE`] and the drop-ins in
//! `CONF_DIR/policy.d/` (regular files whose names end in `.toml` and do
//! not start with `.`, in byte-wise name order; a missing `policy.d` is
//! fine). Every directory and file goes through [`crate::base::secure_fs`]:
//! walked from `/` with `O_NOFOLLOW`, checked on the open fd (root-owned,
//! not writable by group or others). A symlinked, group- or
//! world-writable or non-root-owned file or directory is refused with a
//! one-line error; a symlink in `policy.d` named `*.toml` is refused
//! too (never silently skipped).
//!
//! [`load_policy_from`] reads one arbitrary file for `bdctl policy check
//! FILE`, with no ownership checks and no drop-ins.
//!
//! Both limit the size of each file ([`MAX_POLICY_BYTES`]), refuse text
//! that is not UTF-8 (naming the position of the first bad byte), and
//! return the merged policy with its canonical hash.
#![forbid(unsafe_code)]

use crate::base::paths::{CONF_DIR, DROPIN_NAME, POLICY_NAME};
use crate::base::secure_fs::{self, SecureFsError};
use crate::policy::hash::policy_hash;
use crate::policy::model::Policy;
use crate::policy::parse::{line_col, merge, parse_policy};
use crate::policy::stamp::Stamp;
use crate::policy::{PolicyError, PolicyErrorKind};
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::FileStat;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Largest accepted policy file (each file, main or drop-in).
pub const MAX_POLICY_BYTES: u64 = 16 << 20;

/// Most drop-in files read from `policy.d`.
pub const MAX_DROPINS: usize = 4096;

/// A loaded policy and its canonical hash ([`policy_hash`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub policy: Policy,
    pub hash: [u8; 32],
    /// BLAKE3 over the exact bytes read (file names and contents, in load
    /// order): equal raw digests imply equal canonical hashes, so the
    /// TOCTOU recheck ([`recheck_in`]) re-reads without re-parsing.
    pub raw: [u8; 32],
}

/// The policy files' texts in load order (main file first).
pub type Sources = Vec<(PathBuf, String)>;

/// Domain of [`raw_digest`].
const RAW_DOMAIN: &[u8] = b"belladonna-policy-raw-v1\0";

pub fn raw_digest(sources: &Sources) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(RAW_DOMAIN);
    for (path, text) in sources {
        h.update(&(path.as_os_str().len() as u64).to_le_bytes());
        h.update(path.as_os_str().as_bytes());
        h.update(&(text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    *h.finalize().as_bytes()
}

/// The TOCTOU check (DESIGN section 4, exec step): read the installed
/// policy again, with the same secure-open checks, and return its
/// canonical hash. Re-parses only when the bytes differ from `loaded`.
pub fn recheck() -> Result<[u8; 32], PolicyError> {
    recheck_in(Path::new(CONF_DIR), None)
}

/// [`recheck`] for another configuration directory; with `Some(loaded)`
/// an unchanged byte stream returns `loaded.hash` without parsing.
pub fn recheck_in(conf_dir: &Path, loaded: Option<&Loaded>) -> Result<[u8; 32], PolicyError> {
    if let Some(l) = loaded
        && streamed_digest(conf_dir)? == Some(l.raw)
    {
        return Ok(l.hash);
    }
    let sources = read_sources(conf_dir)?;
    if let Some(l) = loaded
        && raw_digest(&sources) == l.raw
    {
        return Ok(l.hash);
    }
    Ok(parse_sources(&sources)?.hash)
}

/// Like [`recheck`], short-cutting on unchanged bytes.
pub fn recheck_against(loaded: &Loaded) -> Result<[u8; 32], PolicyError> {
    recheck_in(Path::new(CONF_DIR), Some(loaded))
}

/// Turn a secure-open refusal into this layer's error (file + message).
fn secure_err(e: SecureFsError) -> PolicyError {
    use PolicyErrorKind::{Insecure, Io, NotFound};
    match e {
        SecureFsError::BadPath(p) => PolicyError::file(Insecure, &p, "not a clean absolute path"),
        SecureFsError::Io { path, op, err } => {
            let kind = if err == nix::Error::ENOENT {
                NotFound
            } else {
                Io
            };
            PolicyError::file(kind, &path, format!("{op}: {}", err.desc()))
        }
        SecureFsError::Symlink(p) => {
            PolicyError::file(Insecure, &p, "is a symbolic link (refused)")
        }
        SecureFsError::Owner { path, uid } => PolicyError::file(
            Insecure,
            &path,
            format!("owned by uid {uid}, must be owned by root (refused)"),
        ),
        SecureFsError::Writable { path, mode } => PolicyError::file(
            Insecure,
            &path,
            format!(
                "mode {:04o} is writable by group or others (refused)",
                mode & 0o7777
            ),
        ),
        SecureFsError::Kind { path, expected } => {
            PolicyError::file(Insecure, &path, format!("not a {expected} (refused)"))
        }
    }
}

/// Read at most [`MAX_POLICY_BYTES`] and check it is UTF-8.
/// `size` (the file's size from fstat) sizes the buffer once: a large
/// policy is not copied through a doubling buffer (page faults per call).
fn read_text(mut r: impl Read, file: &Path, size: u64) -> Result<String, PolicyError> {
    let mut buf = Vec::with_capacity(size.min(MAX_POLICY_BYTES) as usize + 1);
    r.by_ref()
        .take(MAX_POLICY_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| PolicyError::file(PolicyErrorKind::Io, file, format!("read: {e}")))?;
    if buf.len() as u64 > MAX_POLICY_BYTES {
        return Err(PolicyError::file(
            PolicyErrorKind::Io,
            file,
            format!("larger than {} MiB (refused)", MAX_POLICY_BYTES >> 20),
        ));
    }
    String::from_utf8(buf).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let prefix = std::str::from_utf8(&e.as_bytes()[..good]).unwrap_or_default();
        let (line, col) = line_col(prefix, prefix.len());
        PolicyError::at(
            file,
            line,
            col,
            "invalid UTF-8 (the policy must be UTF-8 text)",
        )
    })
}

/// Load the installed policy (main file + drop-ins) with the secure-open
/// checks. This is what bdexec uses.
pub fn load_policy() -> Result<Loaded, PolicyError> {
    load_policy_in(Path::new(CONF_DIR))
}

/// [`load_policy`] for a configuration directory other than
/// [`CONF_DIR`], with exactly the same checks (every component from `/`
/// must be root-owned and not group/world-writable). For tests and tools;
/// bdexec only ever calls [`load_policy`].
pub fn load_policy_in(conf_dir: &Path) -> Result<Loaded, PolicyError> {
    parse_sources(&read_sources(conf_dir)?)
}

pub fn parse_sources(sources: &Sources) -> Result<Loaded, PolicyError> {
    let mut frags = sources.iter().map(|(path, text)| parse_policy(text, path));
    let main = frags.next().ok_or_else(|| {
        PolicyError::file(
            PolicyErrorKind::NotFound,
            Path::new(CONF_DIR),
            "no policy file",
        )
    })??;
    let dropins = frags.collect::<Result<Vec<_>, _>>()?;
    let policy = merge(main, dropins)?;
    let hash = policy_hash(&policy);
    Ok(Loaded {
        policy,
        hash,
        raw: raw_digest(sources),
    })
}

/// Open every policy file in load order (main file, then the drop-ins)
/// with the secure-open checks and hand each to `each` with its size.
fn each_source(
    conf_dir: &Path,
    each: impl FnMut(PathBuf, std::fs::File, &FileStat) -> Result<(), PolicyError>,
) -> Result<(), PolicyError> {
    let dir = open_conf_dir(conf_dir)?;
    each_source_in(dir.as_fd(), conf_dir, each)
}

/// Open the policy directory `conf_dir` with the secure-open checks (`/`
/// and every component on the way): the descriptor [`open_sources_in`]
/// and the pin ([`crate::policy::lock::read_lock_at`]) read from, so
/// that a call walks the path once for both.
pub fn open_conf_dir(conf_dir: &Path) -> Result<std::os::fd::OwnedFd, PolicyError> {
    secure_fs::open_trusted_dir(conf_dir).map_err(secure_err)
}

/// [`each_source`] in the policy directory already opened as `dir` (from
/// [`open_conf_dir`]; `conf_dir` is its path, for names and messages).
fn each_source_in(
    dir: BorrowedFd<'_>,
    conf_dir: &Path,
    mut each: impl FnMut(PathBuf, std::fs::File, &FileStat) -> Result<(), PolicyError>,
) -> Result<(), PolicyError> {
    let main_path = conf_dir.join(POLICY_NAME);
    let (file, st) =
        secure_fs::open_trusted_file(dir, OsStr::new(POLICY_NAME), &main_path, OFlag::empty(), 0)
            .map_err(secure_err)?;
    each(main_path, file, &st)?;
    let dropin_dir = conf_dir.join(DROPIN_NAME);
    match secure_fs::open_subdir(dir, OsStr::new(DROPIN_NAME), &dropin_dir) {
        Ok(dfd) => {
            for name in dropin_names(dfd.as_fd(), &dropin_dir)? {
                let path = dropin_dir.join(&name);
                let (file, st) =
                    secure_fs::open_trusted_file(dfd.as_fd(), &name, &path, OFlag::empty(), 0)
                        .map_err(secure_err)?;
                each(path, file, &st)?;
            }
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(secure_err(e)),
    };
    Ok(())
}

/// Read the main file and the drop-ins (secure-open checks on each).
pub fn read_sources(conf_dir: &Path) -> Result<Sources, PolicyError> {
    let mut sources = Vec::new();
    each_source(conf_dir, |path, file, st| {
        let text = read_text(file, &path, st.st_size.max(0) as u64)?;
        sources.push((path, text));
        Ok(())
    })?;
    Ok(sources)
}

/// A policy file opened with the secure-open checks, and its stamp
/// (src/policy/stamp.rs) taken on the open fd.
#[derive(Debug)]
pub struct Opened {
    pub path: PathBuf,
    pub file: std::fs::File,
    pub stamp: Stamp,
}

/// Open every installed policy file (main file, drop-ins) with the
/// secure-open checks and stamp it, reading nothing. `dir` is `conf_dir`
/// opened by [`open_conf_dir`].
pub fn open_sources_in(dir: BorrowedFd<'_>, conf_dir: &Path) -> Result<Vec<Opened>, PolicyError> {
    let mut out = Vec::new();
    each_source_in(dir, conf_dir, |path, file, st| {
        let fs = fs_type(&file, st.st_dev, &path)?;
        let stamp = Stamp::of(&path, st, fs);
        out.push(Opened { path, file, stamp });
        Ok(())
    })?;
    Ok(out)
}

/// The stamps of the installed policy files now (same checks as
/// [`open_sources_in`]; the files are closed again).
pub fn stamps_in(conf_dir: &Path) -> Result<Vec<Stamp>, PolicyError> {
    let mut out = Vec::new();
    each_source(conf_dir, |path, file, st| {
        let fs = fs_type(&file, st.st_dev, &path)?;
        out.push(Stamp::of(&path, st, fs));
        Ok(())
    })?;
    Ok(out)
}

/// The file system type of an open policy file (asked once per device:
/// [`crate::policy::stamp::fs_type_of_dev`]).
fn fs_type(file: &std::fs::File, dev: u64, path: &Path) -> Result<u64, PolicyError> {
    let mut err = None;
    crate::policy::stamp::fs_type_of_dev(dev, || match nix::sys::statfs::fstatfs(file) {
        Ok(s) => Some(crate::sys::fs::fs_magic(s.filesystem_type())),
        Err(e) => {
            err = Some(e);
            None
        }
    })
    .ok_or_else(|| {
        let e = err.map_or("unknown error", |e| e.desc());
        PolicyError::file(PolicyErrorKind::Io, path, format!("fstatfs: {e}"))
    })
}

/// Read the files [`open_sources_in`] opened (each from its start, once).
pub fn read_opened(opened: &[Opened]) -> Result<Sources, PolicyError> {
    opened
        .iter()
        .map(|o| Ok((o.path.clone(), read_text(&o.file, &o.path, o.stamp.size)?)))
        .collect()
}

/// The TOCTOU check with the stamps a call took of the files it decided
/// on: when they were settled ([`crate::policy::stamp::settled`]) and
/// the files' stamps are still the same, the bytes are too (no read);
/// otherwise [`recheck_against`].
pub fn recheck_stamped(
    loaded: &Loaded,
    settled: Option<&[Stamp]>,
) -> Result<[u8; 32], PolicyError> {
    if let Some(st) = settled
        && stamps_in(Path::new(CONF_DIR))? == st
    {
        return Ok(loaded.hash);
    }
    recheck_against(loaded)
}

/// [`raw_digest`] of the installed files, computed while reading them
/// through a small buffer (nothing kept: the recheck of a large policy
/// touches no fresh memory). `None` when a file's length differs from
/// its size at open (changing under the reader): the caller then reads
/// and parses it.
fn streamed_digest(conf_dir: &Path) -> Result<Option<[u8; 32]>, PolicyError> {
    let mut h = blake3::Hasher::new();
    h.update(RAW_DOMAIN);
    let mut whole = true;
    let mut buf = vec![0u8; 64 << 10];
    each_source(conf_dir, |path, mut file, st| {
        let size = st.st_size.max(0) as u64;
        h.update(&(path.as_os_str().len() as u64).to_le_bytes());
        h.update(path.as_os_str().as_bytes());
        h.update(&size.to_le_bytes());
        let mut got = 0u64;
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| PolicyError::file(PolicyErrorKind::Io, &path, format!("read: {e}")))?;
            if n == 0 {
                break;
            }
            got += n as u64;
            if got > size {
                break;
            }
            h.update(&buf[..n]);
        }
        whole &= got == size;
        Ok(())
    })?;
    Ok(whole.then(|| *h.finalize().as_bytes()))
}

/// The drop-in names to read, sorted byte-wise. `dfd` is policy.d,
/// freshly opened (read from its start, with getdents64 alone:
/// [`crate::sys::fs::each_dir_name`]).
fn dropin_names(dfd: BorrowedFd<'_>, shown: &Path) -> Result<Vec<OsString>, PolicyError> {
    let io = |op: &str, e: nix::Error| {
        PolicyError::file(PolicyErrorKind::Io, shown, format!("{op}: {}", e.desc()))
    };
    let mut names = Vec::new();
    let mut refused = None;
    let mut one = |name: &OsStr| -> Result<(), PolicyError> {
        if !secure_fs::plain_name(name) || !name.as_bytes().ends_with(b".toml") {
            return Ok(());
        }
        let st = nix::sys::stat::fstatat(dfd, name, AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| io("stat", e))?;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFREG => names.push(name.to_os_string()),
            libc::S_IFLNK => {
                return Err(PolicyError::file(
                    PolicyErrorKind::Insecure,
                    &shown.join(name),
                    "is a symbolic link (refused)",
                ));
            }
            // Directories, FIFOs, sockets, devices named *.toml: not drop-ins.
            _ => {}
        }
        if names.len() > MAX_DROPINS {
            return Err(PolicyError::file(
                PolicyErrorKind::Io,
                shown,
                format!("more than {MAX_DROPINS} drop-in files (refused)"),
            ));
        }
        Ok(())
    };
    crate::sys::fs::each_dir_name(dfd, |name| match one(name) {
        Ok(()) => true,
        Err(e) => {
            refused = Some(e);
            false
        }
    })
    .map_err(|e| io("readdir", e))?;
    if let Some(e) = refused {
        return Err(e);
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// Load one policy file given on the command line (`bdctl policy check
/// FILE`): no ownership checks, no drop-ins. The file must be a complete
/// main policy (`version` required).
pub fn load_policy_from(main: &Path) -> Result<Loaded, PolicyError> {
    let file = std::fs::File::open(main).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            PolicyErrorKind::NotFound
        } else {
            PolicyErrorKind::Io
        };
        PolicyError::file(kind, main, format!("open: {e}"))
    })?;
    let shown = PathBuf::from(main);
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let text = read_text(file, &shown, size)?;
    parse_sources(&vec![(shown, text)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    const MAIN: &str =
        "version = 1\n[[rule]]\nname = \"main\"\nusers = [\"u\"]\ncommands = [\"/bin/true\"]\n";

    fn dropin(name: &str) -> String {
        format!("[[rule]]\nname = \"{name}\"\nusers = [\"u\"]\ncommands = [\"/bin/true\"]\n")
    }

    /// A root-owned 0700 directory whose every ancestor is trusted, or
    /// `None` (test skipped, loudly) when not running as root.
    fn trusted_tmp() -> Option<tempfile::TempDir> {
        if !nix::unistd::geteuid().is_root() {
            crate::base::testhook::skipped(
                "policy::load secure-load tests",
                "needs root: trusted directories must be root-owned",
            );
            return None;
        }
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        if let Err(e) = secure_fs::open_trusted_dir(&base) {
            crate::base::testhook::skipped(
                "policy::load secure-load tests",
                &format!("{e}: no trusted base directory"),
            );
            return None;
        }
        let d = tempfile::Builder::new()
            .prefix("policy-load-")
            .tempdir_in(&base)
            .ok()?;
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).ok()?;
        Some(d)
    }

    fn write(path: &Path, text: &str, mode: u32) {
        fs::write(path, text).expect("write test file");
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod test file");
    }

    fn load_err(dir: &Path) -> PolicyError {
        match load_policy_in(dir) {
            Ok(l) => panic!("loaded {:?}", l.policy),
            Err(e) => {
                assert!(!e.to_string().contains('\n'));
                e
            }
        }
    }

    /// policy.d is listed with getdents64 alone (sys::fs::each_dir_name):
    /// names over many of its 4 KiB buffers come back whole and in byte
    /// order, a FIFO or a symlink named *.toml is what it was (ignored,
    /// refused), and one drop-in over MAX_DROPINS is refused.
    #[test]
    fn many_dropins_and_the_limit() {
        let Some(tmp) = trusted_tmp() else { return };
        let d = tmp.path();
        write(&d.join("policy.toml"), MAIN, 0o644);
        let pd = d.join("policy.d");
        fs::create_dir(&pd).expect("mkdir");
        fs::set_permissions(&pd, fs::Permissions::from_mode(0o755)).expect("chmod");
        let long = "y".repeat(150);
        for i in (0..300).rev() {
            write(
                &pd.join(format!("{i:03}-{long}.toml")),
                &dropin(&format!("r{i:03}")),
                0o644,
            );
        }
        nix::unistd::mkfifo(
            &pd.join("fifo.toml"),
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .expect("mkfifo");
        let loaded = match load_policy_in(d) {
            Ok(l) => l,
            Err(e) => panic!("{e}"),
        };
        let names: Vec<String> = loaded.policy.rules.iter().map(|r| r.name.clone()).collect();
        let want: Vec<String> = std::iter::once("main".to_string())
            .chain((0..300).map(|i| format!("r{i:03}")))
            .collect();
        assert_eq!(names, want);

        std::os::unix::fs::symlink(pd.join("000-x.toml"), pd.join("zz.toml")).expect("symlink");
        let e = load_err(d);
        assert_eq!(e.kind, PolicyErrorKind::Insecure);
        assert!(
            e.to_string()
                .contains("zz.toml: is a symbolic link (refused)"),
            "{e}"
        );
        fs::remove_file(pd.join("zz.toml")).expect("rm");

        for i in 300..=MAX_DROPINS {
            write(&pd.join(format!("{i:04}.toml")), "", 0o644);
        }
        let e = load_err(d);
        assert!(e.to_string().contains("drop-in files (refused)"), "{e}");
    }

    #[test]
    fn loads_main_and_dropins_in_order() {
        let Some(tmp) = trusted_tmp() else { return };
        let d = tmp.path();
        write(&d.join("policy.toml"), MAIN, 0o644);
        let loaded = match load_policy_in(d) {
            Ok(l) => l,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(loaded.policy.rules.len(), 1);
        assert_eq!(loaded.hash, policy_hash(&loaded.policy));

        let pd = d.join("policy.d");
        fs::create_dir(&pd).expect("mkdir");
        fs::set_permissions(&pd, fs::Permissions::from_mode(0o755)).expect("chmod");
        write(&pd.join("20-b.toml"), &dropin("b"), 0o600);
        write(&pd.join("10-a.toml"), &dropin("a"), 0o644);
        write(&pd.join("B.toml"), &dropin("upper"), 0o644);
        write(&pd.join(".hidden.toml"), "garbage", 0o644);
        write(&pd.join("notes.txt"), "garbage", 0o644);
        write(&pd.join("30.toml~"), "garbage", 0o644);
        fs::create_dir(pd.join("dir.toml")).expect("mkdir");
        let loaded = match load_policy_in(d) {
            Ok(l) => l,
            Err(e) => panic!("{e}"),
        };
        let names: Vec<_> = loaded
            .policy
            .rules
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["main", "a", "b", "upper"]);
        assert_eq!(loaded.policy.rules[1].origin.file, pd.join("10-a.toml"));
        assert_eq!(loaded.hash, policy_hash(&loaded.policy));
        // The recheck's streamed digest is the digest of what was read;
        // a drop-in rewritten with the same size is not the same.
        assert_eq!(streamed_digest(d).unwrap(), Some(loaded.raw));
        assert_eq!(recheck_in(d, Some(&loaded)).unwrap(), loaded.hash);
        let b = dropin("b");
        write(
            &pd.join("20-b.toml"),
            &b.replace("[\"u\"]", "[\"v\"]"),
            0o600,
        );
        assert_ne!(streamed_digest(d).unwrap(), Some(loaded.raw));
        assert_ne!(recheck_in(d, Some(&loaded)).unwrap(), loaded.hash);
        write(&pd.join("20-b.toml"), &b, 0o600);
        assert_eq!(recheck_in(d, Some(&loaded)).unwrap(), loaded.hash);

        // A drop-in error names the drop-in file and position.
        write(
            &pd.join("40.toml"),
            "[[rule]]\nname = \"x\"\nusers = [\"u\"]\ncommands = [\"sh\"]\n",
            0o644,
        );
        let e = load_err(d);
        assert!(
            e.to_string()
                .starts_with(&format!("{}:4:14: ", pd.join("40.toml").display())),
            "{e}"
        );
        fs::remove_file(pd.join("40.toml")).expect("rm");

        // [defaults] in a drop-in.
        write(
            &pd.join("50.toml"),
            "\n[defaults]\numask = \"0077\"\n",
            0o644,
        );
        let e = load_err(d);
        assert!(
            e.to_string()
                .starts_with(&format!("{}:2:1: [defaults]", pd.join("50.toml").display())),
            "{e}"
        );
        fs::remove_file(pd.join("50.toml")).expect("rm");

        // A symlinked drop-in is refused, not skipped.
        std::os::unix::fs::symlink(pd.join("10-a.toml"), pd.join("60.toml")).expect("symlink");
        let e = load_err(d);
        assert_eq!(e.kind, PolicyErrorKind::Insecure);
        assert!(e.to_string().contains("60.toml: is a symbolic link"), "{e}");
        fs::remove_file(pd.join("60.toml")).expect("rm");

        // A group-writable drop-in.
        fs::set_permissions(pd.join("10-a.toml"), fs::Permissions::from_mode(0o664))
            .expect("chmod");
        let e = load_err(d);
        assert_eq!(e.kind, PolicyErrorKind::Insecure);
        assert!(
            e.to_string().contains("10-a.toml: mode 0664 is writable"),
            "{e}"
        );
        fs::set_permissions(pd.join("10-a.toml"), fs::Permissions::from_mode(0o644))
            .expect("chmod");

        // A world-writable policy.d.
        fs::set_permissions(&pd, fs::Permissions::from_mode(0o757)).expect("chmod");
        let e = load_err(d);
        assert_eq!(e.kind, PolicyErrorKind::Insecure);
        assert!(e.to_string().contains("policy.d: mode 0757"), "{e}");
        fs::set_permissions(&pd, fs::Permissions::from_mode(0o755)).expect("chmod");

        // A symlinked policy.d.
        fs::rename(&pd, d.join("real.d")).expect("rename");
        std::os::unix::fs::symlink(d.join("real.d"), &pd).expect("symlink");
        let e = load_err(d);
        assert_eq!(e.kind, PolicyErrorKind::Insecure);
        assert!(
            e.to_string().contains("policy.d: is a symbolic link"),
            "{e}"
        );
    }

    #[test]
    fn refuses_insecure_main_file() {
        let Some(tmp) = trusted_tmp() else { return };
        let d = tmp.path();
        let e = load_err(d);
        assert_eq!(e.kind, PolicyErrorKind::NotFound);

        write(&d.join("real.toml"), MAIN, 0o644);
        std::os::unix::fs::symlink(d.join("real.toml"), d.join("policy.toml")).expect("symlink");
        let e = load_err(d);
        assert_eq!(e.kind, PolicyErrorKind::Insecure);
        assert_eq!(
            e.to_string(),
            format!(
                "{}: is a symbolic link (refused)",
                d.join("policy.toml").display()
            )
        );
        fs::remove_file(d.join("policy.toml")).expect("rm");

        write(&d.join("policy.toml"), MAIN, 0o620);
        let e = load_err(d);
        assert_eq!(e.kind, PolicyErrorKind::Insecure);
        assert!(e.to_string().contains("writable by group or others"), "{e}");
        fs::set_permissions(d.join("policy.toml"), fs::Permissions::from_mode(0o646))
            .expect("chmod");
        assert_eq!(load_err(d).kind, PolicyErrorKind::Insecure);

        fs::set_permissions(d.join("policy.toml"), fs::Permissions::from_mode(0o644))
            .expect("chmod");
        std::os::unix::fs::chown(d.join("policy.toml"), Some(1000), None).expect("chown");
        let e = load_err(d);
        assert_eq!(e.kind, PolicyErrorKind::Insecure);
        assert!(e.to_string().contains("owned by uid 1000"), "{e}");
        std::os::unix::fs::chown(d.join("policy.toml"), Some(0), None).expect("chown");

        // The directory itself world-writable.
        fs::set_permissions(d, fs::Permissions::from_mode(0o777)).expect("chmod");
        assert_eq!(load_err(d).kind, PolicyErrorKind::Insecure);
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).expect("chmod");

        // A directory in place of the file.
        fs::remove_file(d.join("policy.toml")).expect("rm");
        fs::create_dir(d.join("policy.toml")).expect("mkdir");
        assert_eq!(load_err(d).kind, PolicyErrorKind::Insecure);
        assert!(load_policy_in(d).is_err());
    }

    #[test]
    fn from_file_size_and_utf8() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let f = tmp.path().join("p.toml");
        fs::write(&f, MAIN).expect("write");
        // No ownership checks for a file given to bdctl (this one lives in
        // a world-writable /tmp and may be owned by anyone).
        let l = load_policy_from(&f);
        assert!(l.is_ok(), "{l:?}");

        fs::write(&f, b"version = 1\n# caf\xe9\n").expect("write");
        let e = load_policy_from(&f)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            e,
            format!(
                "{}:2:6: invalid UTF-8 (the policy must be UTF-8 text)",
                f.display()
            )
        );

        let big = fs::File::create(&f).expect("create");
        big.set_len(MAX_POLICY_BYTES + 1).expect("truncate");
        let e = load_policy_from(&f)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.ends_with("larger than 16 MiB (refused)"), "{e}");

        let e = load_policy_from(&tmp.path().join("missing.toml")).err();
        assert_eq!(e.map(|e| e.kind), Some(PolicyErrorKind::NotFound));

        // Drop-ins are never read for a file given on the command line, and
        // the main file must carry `version`.
        fs::write(&f, dropin("x")).expect("write");
        let e = load_policy_from(&f)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("missing `version = 1`"), "{e}");
    }
}
