//! The `recv` step: make bdexec's own process sane before it trusts
//! anything, and check that it really holds its file capabilities.
//!
//! The caller controls fds, signal dispositions and mask, rlimits, umask,
//! personality, ptrace, no_new_privs and namespaces. Everything that the
//! command should get back (the caller's rlimits and umask) is saved and
//! restored just before exec by [`Saved::restore_for_target`].

#![forbid(unsafe_code)]

use crate::sys::proc::Disposition;
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::stat::{Mode, umask};
use std::fmt;

/// Why bdexec refuses to run at all in this process environment, or
/// cannot hand the caller's limits back to the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HygieneError {
    NoNewPrivs,
    Ptraced(u32),
    UserNamespace {
        owner: u32,
    },
    MissingCaps(String),
    Setup(String),
    /// A saved rlimit could not be restored for the command.
    Restore {
        limit: Resource,
        errno: nix::Error,
    },
}

impl fmt::Display for HygieneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HygieneError::NoNewPrivs => write!(
                f,
                "refusing to run with no_new_privs set (file capabilities are not granted under it)"
            ),
            HygieneError::Ptraced(pid) => {
                write!(f, "refusing to run under ptrace (traced by pid {pid})")
            }
            HygieneError::UserNamespace {
                owner: OVERFLOW_UID,
            } => write!(
                f,
                "refusing to run inside a user namespace whose owner is not visible from it (nested, or the owner is not mapped inside); bdexec runs only in the initial user namespace"
            ),
            HygieneError::UserNamespace { owner: 0 } => write!(
                f,
                "refusing to run inside a user namespace, even one created by root of its parent: the kernel hides the namespaces above (NS_GET_PARENT: EPERM), so bdexec cannot establish that every owner up to the initial namespace is root; bdexec runs only in the initial user namespace"
            ),
            HygieneError::UserNamespace { owner } => write!(
                f,
                "refusing to run inside a user namespace owned by uid {owner} (its owner controls the mounts, hence the policy); bdexec runs only in the initial user namespace"
            ),
            HygieneError::MissingCaps(which) => write!(
                f,
                "missing file capabilities ({which}); bdexec must be installed with `setcap cap_setuid,cap_setgid=p` (see `make install`)"
            ),
            HygieneError::Setup(what) => write!(f, "cannot prepare the process: {what}"),
            HygieneError::Restore { limit, errno } => {
                write!(f, "restoring {limit:?}: {}", errno.desc())
            }
        }
    }
}

/// The signals whose disposition is not the default (`SigIgn | SigCgt`
/// of /proc/self/status, bit n-1 for signal n).
fn non_default_signals() -> Option<u64> {
    self_status().signals
}

fn tracer_pid() -> Option<u32> {
    self_status().tracer
}

/// What bdexec needs of /proc/self/status, from one read per call, the
/// first (in `sanitize`). (A tracer attaching later needs
/// CAP_SYS_PTRACE, which could attach after any check too.)
struct SelfStatus {
    /// `SigIgn | SigCgt`.
    signals: Option<u64>,
    /// `TracerPid`.
    tracer: Option<u32>,
}

fn self_status() -> &'static SelfStatus {
    static STATUS: std::sync::OnceLock<SelfStatus> = std::sync::OnceLock::new();
    STATUS.get_or_init(|| {
        let text = crate::base::procfs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::trim)
        };
        let mask = |key: &str| field(key).and_then(|v| u64::from_str_radix(v, 16).ok());
        SelfStatus {
            signals: mask("SigIgn:").zip(mask("SigCgt:")).map(|(i, c)| i | c),
            tracer: field("TracerPid:").and_then(|v| v.parse().ok()),
        }
    })
}

/// Map `id` as seen inside our user namespace to the parent namespace's
/// view, through a `uid_map` text ("inside outside count" lines).
fn map_to_parent(uid_map: &str, id: u32) -> Option<u32> {
    uid_map.lines().find_map(|l| {
        let f: Vec<u64> = l
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let [inside, outside, count] = f[..] else {
            return None;
        };
        let id = u64::from(id);
        (inside <= id && id < inside + count)
            .then(|| u32::try_from(outside + (id - inside)).ok())
            .flatten()
    })
}

/// The inode number the kernel gives the initial user namespace
/// (`PROC_USER_INIT_INO`, fixed since Linux 3.8).
const PROC_USER_INIT_INO: u64 = 0xEFFF_FFFD;
const OVERFLOW_UID: u32 = 65534;

/// The owner of the user namespace open on `ns` (an nsfs file), as seen
/// from the calling process's own user namespace.
fn ns_owner_uid(ns: &std::fs::File) -> std::io::Result<u32> {
    Ok(crate::sys::fs::ns_owner_uid(ns)?)
}

/// `Ok(())` in the initial user namespace; otherwise the refusal.
///
/// bdexec runs only in the initial user namespace. Inside any other, the
/// kernel shows nothing above the namespace's parent: `NS_GET_PARENT` and
/// `NS_GET_USERNS` on our own namespace fail with EPERM (the parent is
/// outside it), so whether that parent is the initial namespace, and
/// whether every owner up the chain is root, cannot be established (a
/// namespace created by root looks, from inside, exactly like one nested
/// in an unprivileged user's namespace and created by that namespace's
/// root). The refusal says what can be seen: the owner as the parent sees
/// it (through our `uid_map`), or that it is not visible.
///
/// Initial means: the namespace file is nsfs with the initial namespace's
/// fixed inode number (the kernel gives that number to no other
/// namespace, and that namespace's `uid_map` is always the identity over
/// every uid). `uid_map` is read only to word a refusal: one procfs file
/// fewer on every call.
fn check_user_namespace() -> Result<(), HygieneError> {
    let ns = std::fs::File::open("/proc/self/ns/user")
        .map_err(|e| HygieneError::Setup(format!("/proc/self/ns/user: {e}")))?;
    let st = nix::sys::stat::fstat(&ns)
        .map_err(|e| HygieneError::Setup(format!("/proc/self/ns/user: fstat: {}", e.desc())))?;
    let fs = nix::sys::statfs::fstatfs(&ns)
        .map_err(|e| HygieneError::Setup(format!("/proc/self/ns/user: fstatfs: {}", e.desc())))?;
    if fs.filesystem_type() != nix::sys::statfs::NSFS_MAGIC {
        return Err(HygieneError::Setup(
            "/proc/self/ns/user is not a namespace file".into(),
        ));
    }
    if st.st_ino == PROC_USER_INIT_INO {
        return Ok(());
    }
    let map = crate::base::procfs::read_to_string("/proc/self/uid_map")
        .map_err(|e| HygieneError::Setup(format!("/proc/self/uid_map: {e}")))?;
    let owner =
        ns_owner_uid(&ns).map_err(|e| HygieneError::Setup(format!("NS_GET_OWNER_UID: {e}")))?;
    // The owner as seen from inside (a caller mapped to 0 looks like root
    // there), mapped to the parent's view; not mapped inside: not visible.
    let outside = if owner == OVERFLOW_UID {
        None
    } else {
        map_to_parent(&map, owner)
    };
    Err(HygieneError::UserNamespace {
        owner: outside.unwrap_or(OVERFLOW_UID),
    })
}

/// Check the things that make file capabilities silently disappear, then
/// the capabilities themselves.
pub fn check_environment() -> Result<(), HygieneError> {
    if nix::sys::prctl::get_no_new_privs().unwrap_or(true) {
        return Err(HygieneError::NoNewPrivs);
    }
    match tracer_pid() {
        Some(0) => {}
        Some(pid) => return Err(HygieneError::Ptraced(pid)),
        None => {
            return Err(HygieneError::Setup(
                "cannot read TracerPid from /proc/self/status".into(),
            ));
        }
    }
    check_user_namespace()?;
    let permitted = crate::sys::caps::get()
        .map_err(|e| HygieneError::Setup(format!("reading capabilities: {}", e.desc())))?
        .permitted;
    let missing: Vec<&str> = [
        (caps::Capability::CAP_SETUID, "cap_setuid"),
        (caps::Capability::CAP_SETGID, "cap_setgid"),
    ]
    .iter()
    .filter(|(c, _)| permitted & c.bitmask() == 0)
    .map(|(_, n)| *n)
    .collect();
    if !missing.is_empty() {
        return Err(HygieneError::MissingCaps(missing.join(",")));
    }
    Ok(())
}

/// What the caller had, to hand back to the command.
#[derive(Debug, Clone)]
pub struct Saved {
    /// The caller's limits (soft, hard): all of [`SAVED_LIMITS`], or in
    /// the static bdexec only those it may change ([`ONLY_OWN_CHANGES`]),
    /// each with whether it must be put back (see [`Limit`]).
    rlimits: Vec<Limit>,
    umask: Mode,
}

const SAVED_LIMITS: [Resource; 15] = [
    Resource::RLIMIT_AS,
    Resource::RLIMIT_CORE,
    Resource::RLIMIT_CPU,
    Resource::RLIMIT_DATA,
    Resource::RLIMIT_FSIZE,
    Resource::RLIMIT_LOCKS,
    Resource::RLIMIT_MEMLOCK,
    Resource::RLIMIT_MSGQUEUE,
    Resource::RLIMIT_NICE,
    Resource::RLIMIT_NOFILE,
    Resource::RLIMIT_NPROC,
    Resource::RLIMIT_RSS,
    Resource::RLIMIT_RTPRIO,
    Resource::RLIMIT_SIGPENDING,
    Resource::RLIMIT_STACK,
];

/// Limits raised to their hard maximum for the privileged part (a caller
/// can lower the hard limit; then the work that needs it fails cleanly).
/// RLIMIT_STACK too: a caller's tiny stack limit must not crash bdexec
/// half-way (the main thread's stack grows against the soft limit).
const RAISED: [Resource; 6] = [
    Resource::RLIMIT_STACK,
    Resource::RLIMIT_FSIZE,
    Resource::RLIMIT_NOFILE,
    Resource::RLIMIT_AS,
    Resource::RLIMIT_DATA,
    Resource::RLIMIT_CPU,
];

/// Whether only the limits bdexec changes itself need putting back. The
/// static bdexec loads no library (PAM runs in the twin,
/// src/exec/twin.rs) and sets no limit but [`RAISED`] and RLIMIT_CORE
/// (this file is the only caller of setrlimit), so the others still
/// hold the caller's values: they are neither read nor put back,
/// sixteen system calls fewer per call. The twin reads and puts back
/// every limit: a PAM module (pam_limits) may have changed any.
const ONLY_OWN_CHANGES: bool = cfg!(target_feature = "crt-static");

/// A limit this file changes: [`RAISED`] and RLIMIT_CORE.
fn changed_here(r: Resource) -> bool {
    r == Resource::RLIMIT_CORE || RAISED.contains(&r)
}

/// Errors (SIGKILL, SIGSTOP, unused numbers) are expected and ignored.
fn set_disposition(sig: libc::c_int, d: Disposition) {
    let _ = crate::sys::proc::set_disposition(sig, d);
}

/// Make sure fds 0, 1 and 2 are open (on /dev/null where the caller
/// closed them), so nothing bdexec opens lands on a standard stream.
fn ensure_std_fds() -> Result<(), HygieneError> {
    for fd in 0..3 {
        if !crate::sys::fs::fd_is_open(fd) {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
                .map_err(|e| HygieneError::Setup(format!("/dev/null: {e}")))?;
            // The lowest free fd is the closed standard one; keep it open.
            let got = std::os::fd::IntoRawFd::into_raw_fd(f);
            if got != fd {
                return Err(HygieneError::Setup(format!(
                    "standard fd {fd} could not be reopened"
                )));
            }
        }
    }
    Ok(())
}

/// The very first thing bdexec does, before its pipeline's frames: the
/// stack's soft limit raised to the hard one. A caller's limit of a few
/// KiB would otherwise end bdexec with SIGSEGV in its first large frame
/// (the command gets the caller's limit back, with the others). Errors
/// are ignored: `sanitize` raises it again and reports what matters.
pub fn raise_stack_limit() {
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_STACK) {
        let _ = CALLER_STACK_SOFT.set(soft);
        let _ = setrlimit(Resource::RLIMIT_STACK, hard, hard);
    }
}

/// The caller's soft RLIMIT_STACK, when [`raise_stack_limit`] raised it.
static CALLER_STACK_SOFT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// Writes to a closed pipe or past a file-size limit must fail with an
/// error we can report, not kill bdexec half-way.
fn ignore_write_signals() {
    set_disposition(libc::SIGPIPE, Disposition::Ignore);
    set_disposition(libc::SIGXFSZ, Disposition::Ignore);
}

/// One of the caller's limits as [`sanitize`] found it.
#[derive(Debug, Clone, Copy)]
struct Limit {
    r: Resource,
    /// The caller's soft limit (RLIMIT_STACK: from before
    /// [`raise_stack_limit`]).
    soft: u64,
    hard: u64,
    /// The soft limit in force when it was read.
    now: u64,
    /// Whether the command must get it back: bdexec set it, or it is not
    /// the caller's any more (RLIMIT_STACK).
    changed: bool,
}

/// The limits the privileged part works with: [`RAISED`] at their hard
/// maximum, no core file. A limit already so is not set again (most of
/// them are unlimited on a stock host), and is then not put back either
/// ([`Limit::changed`]); `known` are the limits just read, the others
/// are read now.
fn raise_limits(known: &mut [Limit]) -> Result<(), HygieneError> {
    let mut raise = |r: Resource, want: fn(u64) -> u64| -> Result<(), nix::Error> {
        let found = known.iter_mut().find(|l| l.r == r);
        let (now, hard) = match &found {
            Some(l) => (l.now, l.hard),
            None => getrlimit(r)?,
        };
        if now == want(hard) {
            return Ok(());
        }
        if let Some(l) = found {
            l.changed = true;
        }
        setrlimit(r, want(hard), hard)
    };
    for r in RAISED {
        let _ = raise(r, |hard| hard);
    }
    raise(Resource::RLIMIT_CORE, |_| 0)
        .map_err(|e| HygieneError::Setup(format!("RLIMIT_CORE: {}", e.desc())))
}

/// After a hand-off to the twin failed (src/exec/twin.rs): the limits,
/// signal dispositions and umask of [`sanitize`] again, to refuse and
/// record.
pub fn resume_after_twin() {
    let _ = raise_limits(&mut []);
    ignore_write_signals();
    umask(Mode::from_bits_truncate(0o022));
}

/// The `recv` hygiene. Runs first, before any file is opened.
pub fn sanitize() -> Result<Saved, HygieneError> {
    ensure_std_fds()?;
    // Closing every inherited fd from 3 up is intended (bdexec holds
    // none yet).
    if let Err(e) = crate::sys::fs::close_range(3, u32::MAX) {
        return Err(HygieneError::Setup(format!(
            "close_range: {}",
            std::io::Error::from(e)
        )));
    }
    // Only signals ignored or caught need resetting (an exec resets
    // handlers already, so "caught" is there for safety): the masks from
    // /proc/self/status spare 64 sigaction calls; without them, all.
    let changed = non_default_signals();
    for sig in 1..=libc::SIGRTMAX() {
        if changed.is_none_or(|m| sig > 64 || m & (1u64 << (sig - 1)) != 0) {
            set_disposition(sig, Disposition::Default);
        }
    }
    ignore_write_signals();
    nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    )
    .map_err(|e| HygieneError::Setup(format!("sigprocmask: {}", e.desc())))?;

    let mut rlimits = Vec::with_capacity(SAVED_LIMITS.len());
    for r in SAVED_LIMITS {
        // What is never put back need not be read (ONLY_OWN_CHANGES).
        if ONLY_OWN_CHANGES && !changed_here(r) {
            continue;
        }
        if let Ok((now, hard)) = getrlimit(r) {
            let soft = match (r, CALLER_STACK_SOFT.get()) {
                (Resource::RLIMIT_STACK, Some(caller)) => *caller,
                _ => now,
            };
            rlimits.push(Limit {
                r,
                soft,
                hard,
                now,
                changed: soft != now,
            });
        }
    }
    raise_limits(&mut rlimits)?;
    let old_umask = umask(Mode::from_bits_truncate(0o022));
    if let Ok(p) = nix::sys::personality::get()
        && !p.is_empty()
    {
        nix::sys::personality::set(nix::sys::personality::Persona::empty())
            .map_err(|e| HygieneError::Setup(format!("personality: {}", e.desc())))?;
    }
    Ok(Saved {
        rlimits,
        umask: old_umask,
    })
}

impl Saved {
    /// Before handing the call to the twin (src/exec/twin.rs): the
    /// caller's rlimits and umask exactly as they came, default
    /// SIGPIPE/SIGXFSZ, an empty signal mask (the twin's `recv` makes its
    /// own). A limit that cannot be restored is an error: the twin must
    /// see what bdexec saw.
    pub fn restore_for_twin(&self) -> Result<(), HygieneError> {
        self.restore_for_target(0)
    }

    /// The caller's soft limit of `r`, when it was read.
    pub fn caller_soft(&self, r: Resource) -> Option<u64> {
        self.rlimits.iter().find(|l| l.r == r).map(|l| l.soft)
    }

    /// The caller's umask.
    pub fn caller_umask(&self) -> u32 {
        self.umask.bits()
    }

    /// Just before exec: the caller's rlimits, umask = caller's OR the
    /// policy's, default SIGPIPE/SIGXFSZ. Errors are reported, and the
    /// caller `_exit`s: nothing half-prepared runs.
    pub fn restore_for_target(&self, policy_umask: u32) -> Result<(), HygieneError> {
        // The static bdexec sets no limit but its own (ONLY_OWN_CHANGES):
        // one it left as it was is still the caller's. The twin puts every
        // one back (PAM modules may set limits).
        for l in self
            .rlimits
            .iter()
            .filter(|l| l.changed || !ONLY_OWN_CHANGES)
        {
            setrlimit(l.r, l.soft, l.hard)
                .map_err(|errno| HygieneError::Restore { limit: l.r, errno })?;
        }
        umask(Mode::from_bits_truncate(
            self.umask.bits() | (policy_umask & 0o777),
        ));
        set_disposition(libc::SIGPIPE, Disposition::Default);
        set_disposition(libc::SIGXFSZ, Disposition::Default);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::map_to_parent;

    #[test]
    fn uid_map_translation() {
        assert_eq!(
            map_to_parent("         0      61001          1\n", 0),
            Some(61001)
        );
        assert_eq!(map_to_parent("0 100000 65536\n", 5), Some(100005));
        assert_eq!(map_to_parent("0 100000 65536\n", 70000), None);
        assert_eq!(map_to_parent("0 0 1\n1000 1000 1\n", 1000), Some(1000));
        assert_eq!(map_to_parent("garbage\n", 0), None);
    }
}
