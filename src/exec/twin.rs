//! The static bdexec hands a call to its dynamically linked twin
//! (docs/decisions.md section 19).
//!
//! The product's bdexec is linked statically: its common call (a rule
//! without a password, the account memo and group memo answering) then
//! starts without the dynamic loader, about 0.4 ms and 1.2 MiB less per
//! call (docs/performance.md). PAM cannot run in a static program (its
//! modules bring the shared C library beside the static one), nor may
//! NSS modules be loaded into it (src/identity/nss.rs). So the moment a
//! call needs either, the static bdexec execs its twin, the same program
//! linked dynamically with the same file capabilities, at
//! `<bdexec's directory>/../libexec/belladonna/bdexec-pam`
//! (/usr/libexec/belladonna/bdexec-pam for /usr/bin/bdexec), with the
//! caller's argv and environment. The twin starts the call over.
//!
//! That is sound because nothing has been written yet when a call gets
//! there: no record, no replay or rate state, no lock held (the caches
//! and memos it may have refreshed are caches). The process gives back
//! what it took from the caller first: rlimits and umask as they came,
//! the real and effective ids the caller's (src/exec/privileges.rs); the
//! descriptors it opened are close-on-exec. The twin then sees what the
//! static bdexec saw, except that descriptors above 2 are already closed
//! and a closed standard descriptor is /dev/null, which bdexec's own
//! `recv` would do anyway.
//!
//! The twin must be a root-owned regular file, not writable by group or
//! others, in a directory of the same kind; the file is opened once and
//! executed by its descriptor. When it is missing or refused, or the
//! exec fails, the call is refused with one line saying so (and a record)
//! instead.
#![forbid(unsafe_code)]

use super::hygiene::Saved;
use super::privileges;
use crate::base::paths::TWIN_NAME;
use crate::base::secure_fs;
use nix::fcntl::OFlag;
use nix::sys::resource::Resource;
use nix::sys::stat::{Mode, fstat};
use std::ffi::{CString, OsString};
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The caller's arguments and what `recv` saved, once armed.
struct Armed {
    args: Vec<OsString>,
    saved: Saved,
}

static ARMED: OnceLock<Armed> = OnceLock::new();

/// The caller's RLIMIT_NOFILE at or under which the twin cannot start:
/// the standard descriptors leave its dynamic loader none.
const MIN_NOFILE: u64 = 3;

/// The caller's RLIMIT_STACK under which the twin is not started: its
/// start runs under that limit (256 KiB; the default is 8 MiB).
const MIN_STACK: u64 = 256 << 10;

/// Why the call could not go to the twin.
#[derive(Debug)]
pub struct TwinError {
    /// What the call needed (PAM, a lookup).
    why: String,
    /// The twin's path, when known.
    path: Option<PathBuf>,
    problem: String,
    /// The ids could not be taken back after a failed exec: the process
    /// must exit (src/exec/privileges.rs).
    pub regain: Option<privileges::PrivError>,
}

impl fmt::Display for TwinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(
                f,
                "{} needs bdexec's PAM helper {}, which cannot be used: {}",
                self.why,
                crate::base::escape::display(p.as_os_str().as_bytes()),
                self.problem
            ),
            None => write!(
                f,
                "{} needs bdexec's PAM helper, which cannot be found: {}",
                self.why, self.problem
            ),
        }?;
        match &self.regain {
            Some(e) => write!(f, "; then: {e}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for TwinError {}

/// For the static bdexec, right after `recv`'s hygiene: the call may be
/// handed to the twin from here on.
pub fn arm(args: &[OsString], saved: &Saved) {
    let _ = ARMED.set(Armed {
        args: args.to_vec(),
        saved: saved.clone(),
    });
}

/// In the twin: the process is called `bdexec` again (its command name
/// is the file's, `bdexec-pam`), as ps, top, pkill and the monitor's
/// callers know it.
pub fn answer_as_bdexec() {
    if nix::sys::prctl::get_name().is_ok_and(|n| n.as_bytes() == TWIN_NAME.as_bytes()) {
        let _ = nix::sys::prctl::set_name(c"bdexec");
    }
}

/// Whether this process hands PAM and NSS beyond `files` to the twin.
pub fn armed() -> bool {
    ARMED.get().is_some()
}

/// Open the twin: its directory and the file itself root-owned and not
/// writable by group or others, no symbolic link at the last two steps,
/// a regular file with an execute bit.
fn open_twin(path: &Path) -> Result<OwnedFd, String> {
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(d), Some(n)) => (d, n),
        _ => return Err("not a file path".into()),
    };
    let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW | OFlag::O_DIRECTORY;
    let d = nix::fcntl::open(dir, flags, Mode::empty())
        .map_err(|e| format!("{}: {}", dir.display(), e.desc()))?;
    let st = fstat(&d).map_err(|e| format!("{}: {}", dir.display(), e.desc()))?;
    secure_fs::check_trusted(dir, &st).map_err(|e| e.to_string())?;
    let (f, st) = secure_fs::open_trusted_file(d.as_fd(), name, path, OFlag::empty(), 0)
        .map_err(|e| e.to_string())?;
    if st.st_mode & 0o111 == 0 {
        return Err("not executable".into());
    }
    Ok(OwnedFd::from(f))
}

fn c_string(bytes: Vec<u8>) -> Result<CString, String> {
    CString::new(bytes).map_err(|_| "an argument or variable holds a NUL byte".to_string())
}

/// Hand the call to the twin because of `why` ("PAM", a lookup). Returns
/// only when that failed, with the process back in the state it had.
pub fn hand_off(why: &str) -> TwinError {
    let fail = |path: Option<&Path>, problem: String| TwinError {
        why: why.to_string(),
        path: path.map(Path::to_path_buf),
        problem,
        regain: None,
    };
    let Some(armed) = ARMED.get() else {
        return fail(None, "this bdexec has no twin".into());
    };
    crate::base::testhook::point("twin-handoff");
    let exe = match std::fs::read_link("/proc/self/exe") {
        Ok(p) => p,
        Err(e) => return fail(None, format!("/proc/self/exe: {e}")),
    };
    let Some(path) = crate::base::paths::twin_beside(&exe) else {
        return fail(None, format!("no directory above {}", exe.display()));
    };
    // The twin is dynamically linked: with the caller's limit of three
    // descriptors (0, 1 and 2 open) its loader cannot open a library and
    // it would die before main. Refused here instead, with a record.
    let nofile = armed.saved.caller_soft(Resource::RLIMIT_NOFILE);
    if nofile.is_some_and(|n| n <= MIN_NOFILE) {
        return fail(
            Some(&path),
            format!(
                "its loader needs more descriptors than RLIMIT_NOFILE {} allows; raise the limit",
                nofile.unwrap_or_default()
            ),
        );
    }
    // Its start (loader, C library, the Rust runtime, `recv`) runs under
    // the caller's stack limit until `recv` raises it: refused here below
    // a floor no real session has, rather than a crash there.
    let stack = armed.saved.caller_soft(Resource::RLIMIT_STACK);
    if stack.is_some_and(|n| n < MIN_STACK) {
        return fail(
            Some(&path),
            format!(
                "it needs more stack than RLIMIT_STACK {} allows; raise the limit",
                stack.unwrap_or_default()
            ),
        );
    }
    let fd = match open_twin(&path) {
        Ok(fd) => fd,
        Err(e) => return fail(Some(&path), e),
    };
    let argv: Result<Vec<CString>, String> = (armed.args.iter())
        .map(|a| c_string(a.as_bytes().to_vec()))
        .collect();
    let envp: Result<Vec<CString>, String> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = std::os::unix::ffi::OsStringExt::into_vec(k);
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            c_string(kv)
        })
        .collect();
    let (argv, envp) = match (argv, envp) {
        (Ok(a), Ok(e)) => (a, e),
        (Err(e), _) | (_, Err(e)) => return fail(Some(&path), e),
    };
    let shielded = privileges::shielded();
    if let Err(e) = armed.saved.restore_for_twin() {
        super::hygiene::resume_after_twin();
        return fail(Some(&path), e.to_string());
    }
    let problem = match privileges::caller_ids_for_exec() {
        Ok(()) => format!("exec: {}", super::launch::exec_fd(&fd, &argv, &envp).desc()),
        Err(e) => e.to_string(),
    };
    // Back to the ids and limits the call had, to refuse and record it.
    let regain = privileges::regain_after_failed_exec(shielded).err();
    super::hygiene::resume_after_twin();
    TwinError {
        regain,
        ..fail(Some(&path), problem)
    }
}
