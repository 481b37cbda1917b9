//! `bdexec -e FILE...` (issue 13, sudoedit): each file is copied to a
//! temporary file of the caller's, the caller's editor runs as the
//! caller with no privileges, and a changed copy is written back as the
//! target, atomically. One `edit` record per file, with the BLAKE3 of
//! the contents before and after.
//!
//! Refused, before anything is copied: a path that is not absolute and
//! clean (`..` included, stricter than sudo), a symbolic link anywhere
//! in the path, a directory on the path the caller may write (a sticky
//! directory is passed only when the next component is not the
//! caller's; never as the file's own directory), a file that is not
//! regular or not owned by the target (user and group), over
//! [`MAX_SIZE`]; an editor given with a `--` argument (CVE-2023-22809:
//! files smuggled in after it). After the editor: a copy that is no
//! longer a regular file of the caller's (a symbolic link swapped in),
//! an editor that failed, an original that changed meanwhile (the copy
//! is then kept and named).
#![forbid(unsafe_code)]

use super::recv::Ctx;
use super::subject::{Extra, Subject};
use super::{Refusal, exit, load};
use crate::audit::Event;
use crate::base::atomic_file::{Replace, Temp, replace_at};
use crate::base::escape::display;
use crate::bdexec::cli::BdexecArgs;
use crate::exec::privileges;
use crate::identity::{self, TargetAccount};
use crate::policy::matcher::{edit_allowed, rule_covers_target, rule_matches_caller};
use crate::policy::model::{Principal, Rule};
use crate::request::Caller;
use crate::state::clock::Clock;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{FileStat, Mode, fstat};
use nix::unistd::Gid;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Largest file `-e` copies (16 MiB).
pub const MAX_SIZE: u64 = 16 << 20;

/// How a file under edit and its copy are opened: never through a
/// symbolic link, never a terminal, never blocking on a FIFO.
const READ_NOFOLLOW: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_NOCTTY)
    .union(OFlag::O_NONBLOCK)
    .union(OFlag::O_CLOEXEC);

/// Where the caller's copies go (as sudoedit).
const TEMP_DIR: &str = "/var/tmp";

/// One file under edit.
struct Original {
    path: Vec<u8>,
    dir: OwnedFd,
    name: OsString,
    content: Vec<u8>,
    mode: u32,
    before: [u8; 32],
}

/// The phase; whatever happens, the effective ids are root's again
/// before the refusal is answered (its record needs them).
pub(super) fn edit(
    ctx: &mut Ctx,
    opts: &BdexecArgs,
    loaded: &load::Policy,
    state_dir: &OwnedFd,
    clock: &Clock,
) -> Result<i32, Refusal> {
    let out = edit_files(ctx, opts, loaded, state_dir, clock);
    privileges::euid_root()
        .map_err(|e| Refusal::unrecorded(exit::ENVIRONMENT, "edit", e.to_string()))?;
    out
}

fn edit_files(
    ctx: &mut Ctx,
    opts: &BdexecArgs,
    loaded: &load::Policy,
    state_dir: &OwnedFd,
    clock: &Clock,
) -> Result<i32, Refusal> {
    let policy = &loaded.loaded.policy;
    ctx.argv = opts.command.iter().map(|a| a.as_bytes().to_vec()).collect();
    let memo = Some(state_dir.as_fd());
    let target = match &opts.user {
        Some(u) => {
            identity::parse_target_arg(u).and_then(|p| identity::resolve_target_in(&p, memo))
        }
        None => identity::resolve_target_in(&Principal::Id(0), memo),
    }
    .map_err(|e| Refusal::denied(e.to_string()))?;
    let files = ctx.argv.clone();
    let about = |rule: Option<&Rule>, file: &[u8]| {
        Subject::of(Some(&target), Some(file), rule.map(|r| r.name.as_str()))
    };
    let first = files.first().cloned().unwrap_or_default();
    // A decoy's edit patterns answer as a grant's would be refused: the
    // ordinary denial's words, an alert (haze, docs/incident-response.md).
    if let Some(d) = crate::incident::decoy::for_caller(policy, &ctx.caller)
        .into_iter()
        .find(|d| files.iter().all(|f| edit_allowed(d, f)))
    {
        return Err(Refusal {
            keep: super::refusal::Keep::Decoy {
                now: clock.effective_now,
                settings: Box::new(policy.incident.settings_or_default()),
            },
            ..Refusal::denied_as(
                "decoy hit",
                format!(
                    "{} may not edit {} as {}",
                    ctx.who(),
                    display(&first),
                    target.target.name
                ),
            )
            .about(about(Some(d), &first))
        });
    }
    // The first allow rule of the caller's that covers the target and
    // every file.
    let rule = policy.rules.iter().find(|r| {
        !r.is_deny()
            && rule_matches_caller(r, &ctx.caller)
            && rule_covers_target(r, &target.target)
            && files.iter().all(|f| edit_allowed(r, f))
    });
    let Some(rule) = rule else {
        return Err(Refusal::denied_as(
            "no rule allows editing these files",
            format!(
                "{} may not edit {} as {}",
                ctx.who(),
                display(&first),
                target.target.name
            ),
        )
        .about(about(None, &first)));
    };
    if loaded.frozen.is_frozen() && !policy.incident.is_break_glass(&rule.name) {
        return Err(Refusal::denied_as(
            "host is frozen: only break_glass rules run",
            format!("{} may not edit {} now", ctx.who(), display(&first)),
        )
        .about(about(Some(rule), &first)));
    }
    let editor = editor().map_err(|m| Refusal::denied(m).about(about(Some(rule), &first)))?;
    super::auth::authenticate_edit(ctx, opts, policy, rule, state_dir, clock)
        .map_err(|e| Refusal::from(e).about(about(Some(rule), &first)))?;
    let groups: Vec<Gid> = target
        .target
        .gids
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    let caller = ctx.caller.uid;
    let as_target = || {
        privileges::euid_target(target.target.uid, target.target.gid, &groups)
            .map_err(|e| Refusal::unrecorded(exit::ENVIRONMENT, "edit", e.to_string()))
    };
    // Open and copy every file first: one refusal and nothing is edited.
    as_target()?;
    let mut originals = Vec::new();
    for f in &files {
        let o = open_original(f, &ctx.caller, &target)
            .map_err(|m| Refusal::denied(m).about(about(Some(rule), f)))?;
        originals.push(o);
    }
    let copies = as_caller(|| {
        originals
            .iter()
            .map(|o| make_copy(o).map_err(|m| format!("{}: {m}", display(&o.path))))
            .collect::<Result<Vec<_>, _>>()
    })?
    .map_err(|m| Refusal::denied(m).about(about(Some(rule), &first)))?;
    // The editor, as the caller with no privileges at all.
    let status = run_editor(ctx, &editor, &copies);
    let edited = as_caller(|| {
        copies
            .iter()
            .map(|c| read_copy(c, caller))
            .collect::<Vec<_>>()
    })?;
    if let Err(m) = status {
        as_caller(|| remove_copies(&copies))?;
        return Err(Refusal::denied(format!("{m}: nothing was written back"))
            .about(about(Some(rule), &first)));
    }
    as_target()?;
    for ((o, copy), new) in originals.iter().zip(&copies).zip(edited) {
        let subject = about(Some(rule), &o.path);
        let new = new.map_err(|m| {
            Refusal::denied(format!("{}: {m}: not written back", display(&o.path)))
                .about(subject.clone())
        })?;
        let after = *blake3::hash(&new).as_bytes();
        let reason = if after == o.before {
            "unchanged"
        } else {
            write_back(o, &new, &ctx.caller, &target).map_err(|m| {
                Refusal::denied(format!(
                    "{}: {m}; your copy is kept in {}",
                    display(&o.path),
                    display(copy.as_bytes())
                ))
                .about(subject.clone())
            })?;
            "edited"
        };
        as_caller(|| {
            let _ = nix::unistd::unlink(copy.as_os_str());
        })?;
        let x = Extra {
            edit: Some((o.before, after)),
            ..Extra::default()
        };
        privileges::euid_root()
            .map_err(|e| Refusal::unrecorded(exit::ENVIRONMENT, "edit", e.to_string()))?;
        ctx.record(Event::Edit, &subject, &x, reason, None)
            .map_err(|e| Refusal::unrecorded(exit::AUDIT, "edit not recorded", e.to_string()))?;
        as_target()?;
    }
    privileges::euid_root()
        .map_err(|e| Refusal::unrecorded(exit::ENVIRONMENT, "edit", e.to_string()))?;
    Ok(0)
}

/// `f` with the caller's effective uid (its copies), then back to root.
fn as_caller<T>(f: impl FnOnce() -> T) -> Result<T, Refusal> {
    let out = privileges::euid_root()
        .and_then(|()| privileges::euid_caller())
        .map(|()| f());
    privileges::euid_root()
        .and(out)
        .map_err(|e| Refusal::unrecorded(exit::ENVIRONMENT, "edit", e.to_string()))
}

/// The caller's editor: `SUDO_EDITOR`, `VISUAL`, `EDITOR` (the first
/// set and not empty), else `vi`; split on white space. A `--` among its
/// words is refused: the files after it would be edited too.
fn editor() -> Result<Vec<OsString>, String> {
    let value = ["SUDO_EDITOR", "VISUAL", "EDITOR"]
        .iter()
        .filter_map(std::env::var_os)
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| OsString::from("vi"));
    let words: Vec<OsString> = value
        .as_bytes()
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .map(|w| OsString::from_vec(w.to_vec()))
        .collect();
    if words.is_empty() || words.iter().any(|w| w.as_bytes() == b"--") {
        return Err(format!(
            "the editor {} is refused: it may not name files (\"--\")",
            display(value.as_bytes())
        ));
    }
    Ok(words)
}

/// May the caller write in the directory `st` describes (owner, group
/// or others' write bit, as the caller's ids)?
fn writable_by(st: &FileStat, uid: u32, gids: &[u32]) -> bool {
    let m = st.st_mode;
    (st.st_uid == uid && m & 0o200 != 0)
        || (gids.contains(&st.st_gid) && m & 0o020 != 0)
        || m & 0o002 != 0
}

fn open_dir_at(dir: BorrowedFd<'_>, name: &OsStr) -> nix::Result<OwnedFd> {
    openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Walk `path` from `/` without following any symbolic link, checking
/// every directory against the caller, and read the file (with the
/// effective ids of the target).
fn open_original(path: &[u8], caller: &Caller, target: &TargetAccount) -> Result<Original, String> {
    let (ids, caller) = (&caller.gids, caller.uid);
    let shown = display(path);
    if !crate::policy::matcher::clean_abs(path) {
        return Err(format!("{shown}: not a clean absolute path (no \"..\")"));
    }
    let parts: Vec<&[u8]> = path[1..].split(|b| *b == b'/').collect();
    let Some((name, dirs)) = parts.split_last() else {
        return Err(format!("{shown}: no file name"));
    };
    let mut dir = nix::fcntl::open(
        "/",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("/: {}", e.desc()))?;
    let mut st = fstat(&dir).map_err(|e| format!("/: {}", e.desc()))?;
    let mut walked = Vec::new();
    for d in dirs {
        walked.push(b'/');
        walked.extend_from_slice(d);
        let next = open_dir_at(dir.as_fd(), OsStr::from_bytes(d)).map_err(|e| match e {
            nix::Error::ELOOP | nix::Error::ENOTDIR => {
                format!(
                    "{shown}: {} is a symbolic link or not a directory",
                    display(&walked)
                )
            }
            e => format!("{shown}: {}: {}", display(&walked), e.desc()),
        })?;
        let nst = fstat(&next).map_err(|e| format!("{}: {}", display(&walked), e.desc()))?;
        // A directory the caller may write could have the next component
        // replaced; a sticky one only the caller's own entries.
        if caller != 0 && writable_by(&st, caller, ids) {
            let sticky = st.st_mode & 0o1000 != 0;
            if !sticky || nst.st_uid == caller {
                return Err(format!(
                    "{shown}: a directory on the path is writable by you: refused"
                ));
            }
        }
        dir = next;
        st = nst;
    }
    if caller != 0 && writable_by(&st, caller, ids) {
        return Err(format!(
            "{shown}: its directory is writable by you: refused (edit it directly)"
        ));
    }
    let name = OsStr::from_bytes(name).to_os_string();
    let fd =
        openat(dir.as_fd(), name.as_os_str(), READ_NOFOLLOW, Mode::empty()).map_err(
            |e| match e {
                nix::Error::ELOOP => format!("{shown}: is a symbolic link: refused"),
                e => format!("{shown}: {}", e.desc()),
            },
        )?;
    let fst = fstat(&fd).map_err(|e| format!("{shown}: {}", e.desc()))?;
    if fst.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(format!("{shown}: not a regular file"));
    }
    if fst.st_uid != target.target.uid || fst.st_gid != target.target.gid {
        return Err(format!(
            "{shown}: owned by {}:{}, not by the target {}",
            fst.st_uid, fst.st_gid, target.target.name
        ));
    }
    let content = read_limited(File::from(fd)).map_err(|m| format!("{shown}: {m}"))?;
    Ok(Original {
        path: path.to_vec(),
        dir,
        name,
        before: *blake3::hash(&content).as_bytes(),
        content,
        mode: fst.st_mode & 0o7777,
    })
}

fn read_limited(f: File) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    f.take(MAX_SIZE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    if buf.len() as u64 > MAX_SIZE {
        return Err(format!("larger than {} MiB", MAX_SIZE >> 20));
    }
    Ok(buf)
}

/// The caller's copy in [`TEMP_DIR`], created new (0600) as the caller.
fn make_copy(o: &Original) -> Result<OsString, String> {
    let mut rnd = [0u8; 8];
    getrandom::fill(&mut rnd).map_err(|e| e.to_string())?;
    let mut name =
        format!("{TEMP_DIR}/bdexec-edit.{}.", crate::base::hex::encode(&rnd)).into_bytes();
    name.extend(o.name.as_bytes().iter().filter(|b| **b != b'/'));
    let path = OsString::from_vec(name);
    let fd = nix::fcntl::open(
        path.as_os_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| format!("{}: {}", display(path.as_bytes()), e.desc()))?;
    let mut f = File::from(fd);
    f.write_all(&o.content)
        .map_err(|e| format!("{}: {e}", display(path.as_bytes())))?;
    Ok(path)
}

/// The copy after the editor: still a regular file of the caller's
/// (a symbolic link or another file swapped in is refused).
fn read_copy(path: &OsStr, caller: u32) -> Result<Vec<u8>, String> {
    let fd = nix::fcntl::open(path, READ_NOFOLLOW, Mode::empty()).map_err(|e| match e {
        nix::Error::ELOOP => "the copy was replaced by a symbolic link".to_string(),
        e => format!("the copy: {}", e.desc()),
    })?;
    let st = fstat(&fd).map_err(|e| format!("the copy: {}", e.desc()))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG || st.st_uid != caller || st.st_nlink != 1 {
        return Err("the copy is no longer a regular file of yours".into());
    }
    read_limited(File::from(fd)).map_err(|m| format!("the copy: {m}"))
}

fn remove_copies(copies: &[OsString]) {
    for c in copies {
        let _ = nix::unistd::unlink(c.as_os_str());
    }
}

/// Run the editor on the copies as the caller (every id, its groups, no
/// capability, job-control signals unblocked and at their default) and
/// wait for it. When it stops (Ctrl-Z), bdexec stops with it, as the
/// monitor does for a command (`sys::proc::stop_like`).
fn run_editor(ctx: &Ctx, editor: &[OsString], copies: &[OsString]) -> Result<(), String> {
    use crate::sys::proc::{Disposition, set_disposition};
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    use nix::unistd::ForkResult;
    // As sudo: Ctrl-C or Ctrl-\ at the editor reaches the editor, not
    // bdexec (which would leave the copies behind); the editor gets the
    // default dispositions back (an ignored signal stays ignored across
    // exec).
    let keyboard = [libc::SIGINT, libc::SIGQUIT];
    for s in keyboard {
        let _ = set_disposition(s, Disposition::Ignore);
    }
    let forked = crate::sys::proc::fork().map_err(|e| format!("fork: {e}"));
    if !matches!(forked, Ok(ForkResult::Child)) {
        for s in keyboard {
            let _ = set_disposition(s, Disposition::Default);
        }
    }
    match forked? {
        ForkResult::Child => {
            for s in keyboard {
                if set_disposition(s, Disposition::Default).is_err() {
                    crate::sys::proc::exit_now(126);
                }
            }
            let groups: Vec<Gid> = ctx.caller.gids.iter().map(|g| Gid::from_raw(*g)).collect();
            if privileges::euid_root().is_err()
                || privileges::switch_to_target(ctx.caller.uid, ctx.caller.gid, &groups, false)
                    .is_err()
            {
                crate::sys::proc::exit_now(126);
            }
            let argv: Vec<std::ffi::CString> = editor
                .iter()
                .chain(copies)
                .filter_map(|a| std::ffi::CString::new(a.as_bytes()).ok())
                .collect();
            if let Some(prog) = argv.first() {
                let _ = nix::unistd::execvp(prog, &argv);
            }
            crate::sys::proc::exit_now(127)
        }
        ForkResult::Parent { child } => loop {
            match waitpid(child, Some(WaitPidFlag::WUNTRACED)) {
                Ok(WaitStatus::Exited(_, 0)) => return Ok(()),
                Ok(WaitStatus::Stopped(_, s)) => {
                    // As sudoedit: the editor stopped (Ctrl-Z): stop
                    // too, so the caller's shell sees the job stop;
                    // continued (`fg`), continue the editor (SIGCONT
                    // within the session needs no privilege).
                    crate::sys::proc::stop_like(s as i32);
                    let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGCONT);
                }
                Ok(WaitStatus::Exited(_, n)) => {
                    return Err(format!("the editor exited with status {n}"));
                }
                Ok(WaitStatus::Signaled(_, s, _)) => {
                    return Err(format!("the editor was killed by {s}"));
                }
                Ok(_) | Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(format!("waiting for the editor: {e}")),
            }
        },
    }
}

/// Write `new` over the original as the target, atomically, after
/// checking that the original did not change while it was edited.
fn write_back(
    o: &Original,
    new: &[u8],
    caller: &Caller,
    target: &TargetAccount,
) -> Result<(), String> {
    let again = open_original(&o.path, caller, target)?;
    if again.before != o.before {
        return Err("the file changed while you edited it: not written back".into());
    }
    let how = Replace {
        mode: o.mode,
        temp: Temp::Random,
        overwrite: true,
        fsync_dir: true,
    };
    replace_at(again.dir.as_fd(), o.name.as_os_str(), new, &how).map_err(|e| e.to_string())
}
