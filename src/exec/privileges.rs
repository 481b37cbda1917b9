//! Identity changes with file capabilities only (no setuid bit).
//!
//! bdexec's file capabilities are `cap_setuid,cap_setgid=p`: permitted,
//! not effective. They are raised only around the id changes:
//!
//! * [`enter_root_files`]: effective (and saved) uid/gid become 0 while
//!   the real ids stay the caller's. Root-owned 0600/0700 policy, log and
//!   state files are then reachable by owner permission alone, without any
//!   DAC-override capability, and files bdexec creates are owned by root.
//!   Changing the effective uid also makes the process non-dumpable.
//! * [`switch_to_target`]: setgroups -> setresgid -> setresuid, each
//!   result checked by reading the ids back; for a non-root target every
//!   capability set ends empty (verified); for a root target the exec of
//!   a uid-0 process grants the full root capability set.
//! * [`shield`] (right after the caller is identified, before any shared
//!   lock can be taken): the real and saved uids become 0 too, the job
//!   control signals are blocked and the process is made non-dumpable,
//!   so the caller can neither stop, kill nor ptrace bdexec while it
//!   holds the audit, nonce, rate, refusal or timestamp locks (see
//!   "Locks and a hostile caller" in docs/state.md). The caller's uid is
//!   remembered for [`euid_caller`] and [`as_caller_for_pam`]; the
//!   shield ends with [`switch_to_target`].
#![forbid(unsafe_code)]

use crate::sys::caps::{self as capsys, CapSets};
use crate::sys::ids::{setgroups, setresgid, setresuid};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::unistd::{Gid, Uid, getresgid, getresuid};
use std::fmt;
use std::sync::OnceLock;

/// The caller's real uid, recorded by [`shield`].
static CALLER_UID: OnceLock<u32> = OnceLock::new();

/// A failed privilege operation. After one, the process must `_exit`.
#[derive(Debug, Clone)]
pub enum PrivError {
    /// A system call failed (`call` names it).
    Sys {
        call: &'static str,
        errno: nix::Error,
    },
    /// A capability operation failed (`what` says which).
    Caps { what: &'static str, error: String },
    /// The ids or sets read back are not what was asked for.
    Unverified(&'static str),
    /// After the switch, the uids or gids are not all the target's.
    NotAll {
        ids: &'static str,
        id: u32,
        call: &'static str,
    },
    /// A capability set is not empty for a non-root target.
    CapsLeft(&'static str),
    /// The id -1 (4294967295) is never a target.
    MinusOne,
}

impl fmt::Display for PrivError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrivError::Sys { call, errno } => write!(f, "{call}: {errno}"),
            PrivError::Caps { what, error } => write!(f, "{what}: {error}"),
            PrivError::Unverified(what) => f.write_str(what),
            PrivError::NotAll { ids, id, call } => {
                write!(f, "{ids} are not all {id} after {call}")
            }
            PrivError::CapsLeft(set) => {
                write!(f, "capabilities left in {set} for a non-root target")
            }
            PrivError::MinusOne => f.write_str("refusing id 4294967295 (-1)"),
        }
    }
}

impl std::error::Error for PrivError {}

/// A failed system call `call`.
fn sys(call: &'static str) -> impl Fn(nix::Error) -> PrivError {
    move |errno| PrivError::Sys { call, errno }
}

/// A failed capability operation `what`.
fn cap(what: &'static str) -> impl Fn(nix::Error) -> PrivError {
    move |e| PrivError::Caps {
        what,
        error: e.desc().to_string(),
    }
}

/// CAP_SETGID (6) and CAP_SETUID (7), as a mask of [`capsys`].
const ID_CAPS: u64 = (1 << 6) | (1 << 7);

/// CAP_SETUID and CAP_SETGID raised in the effective set (with whatever
/// it holds): one capget and one capset. Returns the sets as they were.
fn raise_id_caps() -> Result<CapSets, PrivError> {
    capsys::update(|s| CapSets {
        effective: s.effective | ID_CAPS,
        ..s
    })
    .map_err(cap("raising capability"))
}

/// No effective capability; permitted and inheritable as they are.
fn clear_effective() -> Result<(), PrivError> {
    capsys::update(|s| CapSets { effective: 0, ..s })
        .map(drop)
        .map_err(cap("clearing effective capabilities"))
}

/// No effective capability, the permitted and inheritable sets those of
/// `sets` (read before id changes that keep a uid 0, which leave them
/// alone): a capset alone.
fn clear_effective_from(sets: CapSets) -> Result<(), PrivError> {
    capsys::set(CapSets {
        effective: 0,
        ..sets
    })
    .map_err(cap("clearing effective capabilities"))
}

/// `f` (id changes that keep a uid 0) with CAP_SETUID and CAP_SETGID
/// effective, then no effective capability (also when `f` fails): a
/// capget and two capsets in all.
fn with_id_caps<T>(f: impl FnOnce() -> Result<T, PrivError>) -> Result<T, PrivError> {
    let was = raise_id_caps()?;
    let out = f();
    let cleared = clear_effective_from(was);
    let out = out?;
    cleared?;
    Ok(out)
}

/// Effective and saved ids 0, real ids unchanged (see module docs).
pub fn enter_root_files() -> Result<(), PrivError> {
    // Nothing needs an effective capability after it until the final
    // switch.
    with_id_caps(|| {
        let g = getresgid().map_err(sys("getresgid"))?;
        setresgid(g.real, Gid::from_raw(0), Gid::from_raw(0)).map_err(sys("setresgid"))?;
        let u = getresuid().map_err(sys("getresuid"))?;
        setresuid(u.real, Uid::from_raw(0), Uid::from_raw(0)).map_err(sys("setresuid"))?;
        let (u2, g2) = (
            getresuid().map_err(sys("getresuid"))?,
            getresgid().map_err(sys("getresgid"))?,
        );
        if !u2.effective.is_root() || g2.effective.as_raw() != 0 {
            return Err(PrivError::Unverified("effective ids did not become 0"));
        }
        Ok(())
    })
}

/// The job-control signals a terminal sends (Ctrl-Z, background reads and
/// writes): blocked while shielded. SIGSTOP cannot be blocked; the uid
/// change keeps the caller from sending it.
fn job_control() -> SigSet {
    let mut s = SigSet::empty();
    for sig in [Signal::SIGTSTP, Signal::SIGTTIN, Signal::SIGTTOU] {
        s.add(sig);
    }
    s
}

fn job_control_mask(how: SigmaskHow) -> Result<(), PrivError> {
    sigprocmask(how, Some(&job_control()), None).map_err(sys("sigprocmask"))
}

/// Real, effective and saved uids all 0, checked.
fn all_uids_root() -> Result<(), PrivError> {
    with_id_caps(|| {
        let zero = Uid::from_raw(0);
        setresuid(zero, zero, zero).map_err(sys("setresuid"))?;
        let u = getresuid().map_err(sys("getresuid"))?;
        if !(u.real.is_root() && u.effective.is_root() && u.saved.is_root()) {
            return Err(PrivError::Unverified("uids did not all become 0"));
        }
        Ok(())
    })
}

/// Shield the privileged part from the caller (after
/// [`enter_root_files`], before the first lock): job-control signals
/// blocked, real and saved uids 0 (the kernel lets a process signal
/// another only when its real or effective uid is the target's real or
/// saved uid; SIGCONT from the same session stays possible and is
/// harmless), not dumpable (no ptrace, no core). The real gid stays the
/// caller's (nothing checks it; ptrace also needs the uids to match).
pub fn shield(caller_uid: u32) -> Result<(), PrivError> {
    if *CALLER_UID.get_or_init(|| caller_uid) != caller_uid {
        return Err(PrivError::Unverified("shield: caller uid changed"));
    }
    job_control_mask(SigmaskHow::SIG_BLOCK)?;
    all_uids_root()?;
    nix::sys::prctl::set_dumpable(false).map_err(sys("PR_SET_DUMPABLE"))
}

/// The caller's uid: the one [`shield`] recorded, else the real uid.
pub fn caller_uid() -> u32 {
    CALLER_UID
        .get()
        .copied()
        .unwrap_or_else(|| nix::unistd::getuid().as_raw())
}

/// Run `f` (PAM with its terminal prompt) with the real uid the caller's
/// again, as before [`shield`], and job-control signals unblocked (Ctrl-Z
/// at the prompt behaves as it does elsewhere); shield again after. PAM
/// modules see the ids sudo gives them (a real uid 0 would, for one,
/// make `pam_rootok` succeed for everyone). bdexec holds none of its
/// locks while `f` runs. Without a shield `f` just runs.
pub fn as_caller_for_pam<T>(f: impl FnOnce() -> T) -> Result<T, PrivError> {
    let Some(&uid) = CALLER_UID.get() else {
        return Ok(f());
    };
    with_id_caps(|| {
        let zero = Uid::from_raw(0);
        setresuid(Uid::from_raw(uid), zero, zero).map_err(sys("setresuid"))
    })?;
    job_control_mask(SigmaskHow::SIG_UNBLOCK)?;
    let out = f();
    job_control_mask(SigmaskHow::SIG_BLOCK)?;
    all_uids_root()?;
    Ok(out)
}

/// Hand the call to another program that starts it over as the caller
/// (the static bdexec's twin, src/exec/twin.rs): real and effective ids
/// the caller's again, as the kernel gave them to bdexec, job-control
/// signals unblocked. The saved ids stay 0 and the permitted
/// capabilities with them, so that [`regain_after_failed_exec`] can
/// return to the state before when the exec fails; the exec itself sets
/// the saved ids to the effective ones and the capabilities from the new
/// file. No lock of bdexec's may be held (the caller can signal the
/// process from here on, as before [`shield`]).
pub fn caller_ids_for_exec() -> Result<(), PrivError> {
    raise_id_caps()?;
    let uid = Uid::from_raw(caller_uid());
    let g = getresgid().map_err(sys("getresgid"))?;
    let zero_g = Gid::from_raw(0);
    setresgid(g.real, g.real, zero_g).map_err(sys("setresgid"))?;
    setresuid(uid, uid, Uid::from_raw(0)).map_err(sys("setresuid"))?;
    let (u2, g2) = (
        getresuid().map_err(sys("getresuid"))?,
        getresgid().map_err(sys("getresgid"))?,
    );
    if u2.real != uid || u2.effective != uid || g2.effective != g.real {
        return Err(PrivError::Unverified(
            "the caller's ids were not restored for the exec",
        ));
    }
    job_control_mask(SigmaskHow::SIG_UNBLOCK)
}

/// After a failed exec following [`caller_ids_for_exec`]: back to the
/// ids the call had (effective 0; all uids 0 and job control blocked
/// when `shielded`).
pub fn regain_after_failed_exec(shielded: bool) -> Result<(), PrivError> {
    enter_root_files()?;
    if shielded {
        job_control_mask(SigmaskHow::SIG_BLOCK)?;
        all_uids_root()?;
    }
    Ok(())
}

/// Whether [`shield`] has run in this process.
pub fn shielded() -> bool {
    CALLER_UID.get().is_some()
}

/// Become the target, checking every step. With `grant_follows` the
/// capability sets are left to `sandbox::capgrant::after_id_switch`
/// (which sets and verifies them exactly); otherwise a non-root target
/// ends with every set empty (verified).
pub fn switch_to_target(
    uid: u32,
    gid: u32,
    groups: &[Gid],
    grant_follows: bool,
) -> Result<(), PrivError> {
    if uid == u32::MAX || gid == u32::MAX {
        return Err(PrivError::MinusOne);
    }
    raise_id_caps()?;
    let (u, g) = (Uid::from_raw(uid), Gid::from_raw(gid));
    setgroups(groups).map_err(sys("setgroups"))?;
    setresgid(g, g, g).map_err(sys("setresgid"))?;
    setresuid(u, u, u).map_err(sys("setresuid"))?;

    let ru = getresuid().map_err(sys("getresuid"))?;
    let rg = getresgid().map_err(sys("getresgid"))?;
    if ru.real != u || ru.effective != u || ru.saved != u {
        return Err(PrivError::NotAll {
            ids: "uids",
            id: uid,
            call: "setresuid",
        });
    }
    if rg.real != g || rg.effective != g || rg.saved != g {
        return Err(PrivError::NotAll {
            ids: "gids",
            id: gid,
            call: "setresgid",
        });
    }
    let mut have = crate::sys::proc::groups().map_err(sys("getgroups"))?;
    let mut want = groups.to_vec();
    have.sort_by_key(|g| g.as_raw());
    have.dedup();
    want.sort_by_key(|g| g.as_raw());
    want.dedup();
    if have != want {
        return Err(PrivError::Unverified(
            "supplementary groups differ from the target's",
        ));
    }

    // The shield ends with the switch: the command must not inherit
    // blocked job-control signals.
    job_control_mask(SigmaskHow::SIG_UNBLOCK)?;
    if grant_follows {
        return Ok(());
    }
    if uid == 0 {
        // The exec of a uid-0 process grants the full root set; nothing
        // is inherited.
        capsys::ambient_clear_all().map_err(cap("clearing ambient capabilities"))?;
        return capsys::update(|s| CapSets {
            inheritable: 0,
            ..s
        })
        .map(drop)
        .map_err(cap("clearing inheritable capabilities"));
    }
    // The kernel cleared permitted and effective when every uid became
    // non-zero; make sure, and verify.
    let left = capsys::clear_all().map_err(cap("clearing capabilities"))?;
    match left.first_held() {
        Some(set) => Err(PrivError::CapsLeft(set)),
        None => Ok(()),
    }
}

/// Effective ids and supplementary groups of the target (`bdexec -e`,
/// issue 13: the edited file is read and written back with the
/// target's file access; the real and saved ids stay as they are, so
/// [`euid_caller`] and [`euid_root`] still work). No effective
/// capability is left (a root target has owner rights only).
pub fn euid_target(uid: u32, gid: u32, groups: &[Gid]) -> Result<(), PrivError> {
    if uid == u32::MAX || gid == u32::MAX {
        return Err(PrivError::MinusOne);
    }
    let u = getresuid().map_err(sys("getresuid"))?;
    let g = getresgid().map_err(sys("getresgid"))?;
    with_id_caps(|| {
        setgroups(groups).map_err(sys("setgroups"))?;
        setresgid(g.real, Gid::from_raw(gid), g.saved).map_err(sys("setresgid"))?;
        setresuid(u.real, Uid::from_raw(uid), u.saved).map_err(sys("setresuid"))
    })?;
    let (u2, g2) = (
        getresuid().map_err(sys("getresuid"))?,
        getresgid().map_err(sys("getresgid"))?,
    );
    if u2.effective.as_raw() != uid || g2.effective.as_raw() != gid {
        return Err(PrivError::Unverified(
            "effective ids did not become the target's",
        ));
    }
    Ok(())
}

/// Effective uid/gid back to the caller's real ids (the saved ids stay 0,
/// so [`euid_root`] can return without any capability). Used to resolve
/// the command with the caller's own file access.
///
/// Shielded (real uid 0), the caller's uid comes from [`shield`] and the
/// change needs `CAP_SETUID`; the real and saved uids stay 0, so the
/// caller still cannot signal the process.
pub fn euid_caller() -> Result<(), PrivError> {
    let u = getresuid().map_err(sys("getresuid"))?;
    let g = getresgid().map_err(sys("getresgid"))?;
    let caller = Uid::from_raw(caller_uid());
    setresgid(g.real, g.real, g.saved).map_err(sys("setresgid"))?;
    if caller != u.real {
        raise_id_caps()?;
    }
    // An effective uid leaving 0 clears the effective capabilities.
    setresuid(u.real, caller, u.saved).map_err(sys("setresuid"))?;
    Ok(())
}

/// Effective uid/gid 0 again after [`euid_caller`].
pub fn euid_root() -> Result<(), PrivError> {
    let u = getresuid().map_err(sys("getresuid"))?;
    let g = getresgid().map_err(sys("getresgid"))?;
    setresuid(u.real, Uid::from_raw(0), u.saved).map_err(sys("setresuid"))?;
    setresgid(g.real, Gid::from_raw(0), g.saved).map_err(sys("setresgid"))?;
    clear_effective()
}

/// Run `f` with the caller's effective ids ([`euid_caller`]), then put
/// the effective ids and the effective capability set back exactly as
/// they were (bdexec's: uid/gid 0, no capability): for opening what
/// belongs to the caller (its terminal, its files) with exactly the
/// access the caller has, never root's owner rights. When the effective
/// ids already are the real ones (a root caller, or before
/// [`enter_root_files`]), `f` just runs. An error from either switch is
/// returned (the caller refuses); the process stays non-dumpable, as
/// changing the effective uid keeps it so.
pub fn as_caller<T>(f: impl FnOnce() -> T) -> Result<T, PrivError> {
    let u = getresuid().map_err(sys("getresuid"))?;
    let g = getresgid().map_err(sys("getresgid"))?;
    if u.effective == u.real && g.effective == g.real {
        return Ok(f());
    }
    let sets = capsys::get().map_err(cap("reading capabilities"))?;
    euid_caller()?;
    let out = f();
    // Back to the saved effective ids: allowed without a capability, as
    // each is still the saved id. Uid first: the kernel copies permitted
    // to effective when the euid becomes 0, corrected right after.
    setresuid(u.real, u.effective, u.saved).map_err(sys("setresuid"))?;
    setresgid(g.real, g.effective, g.saved).map_err(sys("setresgid"))?;
    capsys::set(sets).map_err(cap("restoring effective capabilities"))?;
    let (u2, g2) = (
        getresuid().map_err(sys("getresuid"))?,
        getresgid().map_err(sys("getresgid"))?,
    );
    if u2.effective != u.effective || g2.effective != g.effective {
        return Err(PrivError::Unverified("effective ids were not restored"));
    }
    Ok(out)
}

/// Run `f` with the file-system ids (fsuid/fsgid) `uid`/`gid`, then
/// back to 0/0 with no effective capability: files the kernel creates
/// in `f` (a new pty's slave, src/exec/monitor/) belong to them. The
/// real, effective and saved ids do not change, so the shield stands.
pub fn with_fs_ids<T>(uid: u32, gid: u32, f: impl FnOnce() -> T) -> Result<T, PrivError> {
    with_id_caps(|| {
        // setfs[ug]id report no error: the caller checks what `f` made.
        nix::unistd::setfsgid(Gid::from_raw(gid));
        nix::unistd::setfsuid(Uid::from_raw(uid));
        let out = f();
        nix::unistd::setfsuid(Uid::from_raw(0));
        nix::unistd::setfsgid(Gid::from_raw(0));
        Ok(out)
    })
}
