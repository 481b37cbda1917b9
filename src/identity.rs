//! Who is calling and who a command would run as.
//!
//! The caller comes from the kernel (real uid/gid and supplementary
//! groups), never from the environment; names come from NSS by numeric id.
//! Targets are parsed from `-u` (a name or `#uid`) and resolved via NSS.
#![forbid(unsafe_code)]

use crate::policy::model::Principal;
use crate::request::{Caller, Target};
use nix::unistd::{Gid, User};
use std::ffi::{CString, OsStr};
use std::fmt;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

pub mod files;
pub mod groups_memo;
pub mod nss;

/// glibc asks nscd first when its socket exists; nscd's cache then
/// answers, and a cache is not a file whose stamp the memos can take
/// (src/auth/memo.rs, [`groups_memo`]).
const NSCD_SOCKET: &str = "/var/run/nscd/socket";

/// Whether NSS answers through nscd (its socket exists). Looked at once
/// per process (three places ask on a call): one call, one answer.
pub fn nscd_running() -> bool {
    static RUNNING: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *RUNNING.get_or_init(|| std::path::Path::new(NSCD_SOCKET).exists())
}

/// What NSS's `files` source holds for `database` (`passwd` or `group`:
/// /etc/passwd, /etc/group), read once, when NSS asks that source first:
/// every line for the database in nsswitch.conf starts with `files`, and
/// nscd is not running. `None` otherwise, or when a file cannot be read.
///
/// For bdctl's lint of many names: glibc's `files` source reads the whole
/// file for every name it is asked, so 10,000 names in a 10,000-line
/// /etc/passwd took 2.3 s of lookups; one read of each file takes
/// milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesSource {
    /// The names of the entries glibc's parser takes: NSS finds each of
    /// them (the files answer first and a hit ends the lookup).
    pub names: std::collections::HashSet<String>,
    /// The first fields of the other lines that are neither blank nor
    /// comments (short lines, `+`/`-` compat lines): glibc may take some,
    /// so these names are asked of NSS with its whole line.
    pub odd: std::collections::HashSet<String>,
    /// The sources after `files` when the database has one line of plain
    /// sources (no `[STATUS=action]`): a name in neither set is one the
    /// files miss, and NSS then goes on to exactly these. `None`: ask the
    /// whole line. Empty: `files` alone, so such a name is unknown.
    pub rest: Option<Vec<String>>,
}

/// [`FilesSource`] for `database`.
pub fn files_source(database: &str) -> Option<FilesSource> {
    let (path, fields) = match database {
        "passwd" => ("/etc/passwd", 7),
        "group" => ("/etc/group", 4),
        _ => return None,
    };
    let (conf, _) = nsswitch()?;
    let lines = nss::lines_of(conf, database);
    if lines.is_empty() || lines.iter().any(|l| l.first() != Some(&"files")) || nscd_running() {
        return None;
    }
    let rest = match lines.as_slice() {
        [one] if !one.iter().any(|s| s.contains(['[', ']'])) => {
            Some(one[1..].iter().map(|s| (*s).to_owned()).collect())
        }
        _ => None,
    };
    let text = std::fs::read_to_string(path).ok()?;
    let (names, odd) = files_entry_names(&text, fields);
    Some(FilesSource { names, odd, rest })
}

/// Ask NSS's `sources` alone for `database` from now on, in this process
/// (glibc's `__nss_configure_lookup`): for names [`FilesSource`] showed
/// the files miss, so the lookup does not read the file again to miss.
/// Call it while no other thread runs: glibc's configuration is process-
/// wide and unlocked.
pub fn ask_only(database: &str, sources: &[String]) -> Result<(), IdentityError> {
    let bad = || IdentityError::Lookup(format!("NSS configuration for {database}"));
    let db = std::ffi::CString::new(database).map_err(|_| bad())?;
    let line = std::ffi::CString::new(sources.join(" ")).map_err(|_| bad())?;
    crate::sys::nss::configure_lookup(&db, &line).map_err(|_| bad())
}

/// The names of the entries of a colon-separated database with `fields`
/// fields per line, as glibc's `files` parser surely takes them (blank
/// lines and `#` comments skipped; at least `fields` fields; not a `+`/`-`
/// compat line), and the first fields of the other lines.
fn files_entry_names(
    text: &str,
    fields: usize,
) -> (
    std::collections::HashSet<String>,
    std::collections::HashSet<String>,
) {
    let (mut names, mut odd) = (
        std::collections::HashSet::new(),
        std::collections::HashSet::new(),
    );
    for l in text.lines().map(str::trim_start) {
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let first = l.split(':').next().unwrap_or_default();
        let sure =
            !l.starts_with(['+', '-']) && !first.is_empty() && l.split(':').count() >= fields;
        if sure {
            names.insert(first.to_owned());
        } else {
            odd.insert(first.to_owned());
        }
    }
    (names, odd)
}

/// /etc/nsswitch.conf.
const NSSWITCH: &str = "/etc/nsswitch.conf";
/// Largest nsswitch.conf read.
const MAX_NSSWITCH: usize = 64 * 1024;

/// /etc/nsswitch.conf's text and its stamp (taken on the open file before
/// the read), or `None` when it cannot be read, is not a regular file or
/// is larger than 64 KiB. Read once per process: the static bdexec's NSS
/// reach and the group memo's key both come from it, so they agree.
pub fn nsswitch() -> Option<&'static (String, crate::policy::stamp::Stamp)> {
    static TEXT: std::sync::OnceLock<Option<(String, crate::policy::stamp::Stamp)>> =
        std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        crate::policy::stamp::read_stamped(std::path::Path::new(NSSWITCH), MAX_NSSWITCH)
    })
    .as_ref()
}

/// This layer's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityError {
    /// `-u` argument that is not a valid name or `#uid`.
    BadTargetSyntax(String),
    /// No such user.
    UnknownUser(String),
    /// NSS lookup failed.
    Lookup(String),
    /// The static bdexec could not hand a lookup beyond `files` to its
    /// twin (src/identity/nss.rs): why.
    Twin(String),
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityError::BadTargetSyntax(s) => write!(f, "invalid target user {s}"),
            IdentityError::UnknownUser(s) => write!(f, "unknown user {s}"),
            IdentityError::Lookup(s) => write!(f, "user database lookup failed: {s}"),
            IdentityError::Twin(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for IdentityError {}

/// A resolved target account with what the environment needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetAccount {
    pub target: Target,
    pub home: PathBuf,
    pub shell: PathBuf,
}

/// True when `name` is acceptable as a user or group name: not empty, at
/// most 256 bytes, no '/', ':', whitespace or control characters, and not
/// starting with '-' or '#'.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && !name.starts_with('-')
        && !name.starts_with('#')
        && name
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && c != '/' && c != ':')
}

/// Parse a decimal id after '#'. `#-1`, `#4294967295`, overflow, signs,
/// leading '+' and empty are refused: -1 means "unchanged" to setresuid.
pub fn parse_id(digits: &str) -> Option<u32> {
    if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match digits.parse::<u64>() {
        Ok(v) if v < u64::from(u32::MAX) => u32::try_from(v).ok(),
        _ => None,
    }
}

/// Parse the argument of `-u`: a user name or `#uid`.
pub fn parse_target_arg(arg: &OsStr) -> Result<Principal, IdentityError> {
    let shown = crate::base::escape::display(arg.as_bytes());
    let s = std::str::from_utf8(arg.as_bytes())
        .map_err(|_| IdentityError::BadTargetSyntax(shown.clone()))?;
    if let Some(d) = s.strip_prefix('#') {
        return parse_id(d)
            .map(Principal::Id)
            .ok_or(IdentityError::BadTargetSyntax(shown));
    }
    if valid_name(s) {
        Ok(Principal::Name(s.to_string()))
    } else {
        Err(IdentityError::BadTargetSyntax(shown))
    }
}

fn account(u: User, memo: Option<BorrowedFd<'_>>) -> Result<TargetAccount, IdentityError> {
    let mut target = Target {
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
        name: u.name,
        gids: Vec::new(),
        group_names: Vec::new(),
    };
    fill_target_groups(&mut target, memo)?;
    Ok(TargetAccount {
        target,
        home: u.dir,
        shell: u.shell,
    })
}

/// Read the target's current groups (NSS) into `gids` and `group_names`:
/// what the decision checks `run_as = ["%group"]` against and what the
/// command gets. With `memo` (the state directory), an answer that only
/// /etc/group decides is memoised there (see [`groups_memo`]).
pub fn fill_target_groups(
    t: &mut Target,
    memo: Option<BorrowedFd<'_>>,
) -> Result<(), IdentityError> {
    let key = memo.and_then(|_| groups_memo::probe(&t.name, t.gid));
    if let (Some(dir), Some(k)) = (memo, &key)
        && let Some(groups) = groups_memo::lookup(dir, k, t.gid)
    {
        crate::base::testhook::point("groups-memo-hit");
        t.gids = groups.iter().map(|(g, _)| *g).collect();
        t.group_names = groups.into_iter().map(|(_, n)| n).collect();
        return Ok(());
    }
    let mut gids: Vec<u32> = Vec::new();
    for g in target_groups(t)? {
        if !gids.contains(&g.as_raw()) {
            gids.push(g.as_raw());
        }
    }
    let named: Vec<(u32, Option<String>)> = gids
        .iter()
        .map(|g| {
            let name = nss::or_none(nss::group_by_gid(*g))?;
            Ok((*g, name.map(|g| g.name)))
        })
        .collect::<Result<_, IdentityError>>()?;
    // Memoised only when every gid has a name (the memo holds pairs).
    let whole: Option<Vec<(u32, String)>> =
        named.iter().map(|(g, n)| Some((*g, n.clone()?))).collect();
    if let (Some(dir), Some(k), Some(whole)) = (memo, key, whole)
        && groups_memo::probe(&t.name, t.gid) == Some(k)
    {
        groups_memo::insert(dir, &k, &whole);
    }
    t.group_names = named.into_iter().filter_map(|(_, n)| n).collect();
    t.gids = gids;
    Ok(())
}

/// Resolve a target principal through NSS. A `#uid` without a passwd
/// entry is refused (sudo's default, `runas_allow_unknown_id` off).
pub fn resolve_target(p: &Principal) -> Result<TargetAccount, IdentityError> {
    resolve_target_in(p, None)
}

/// [`resolve_target`], with the group memo in `memo` (the state
/// directory, root's): see [`fill_target_groups`].
pub fn resolve_target_in(
    p: &Principal,
    memo: Option<BorrowedFd<'_>>,
) -> Result<TargetAccount, IdentityError> {
    let found = match p {
        Principal::Name(n) => {
            nss::user_by_name(n)?.ok_or_else(|| IdentityError::UnknownUser(n.clone()))?
        }
        Principal::Id(id) => {
            nss::user_by_uid(*id)?.ok_or_else(|| IdentityError::UnknownUser(format!("#{id}")))?
        }
        // Not one account (a run_as pattern); the decision never asks.
        Principal::All | Principal::GroupName(_) | Principal::GroupId(_) => {
            return Err(IdentityError::BadTargetSyntax(p.to_string()));
        }
    };
    if found.uid.as_raw() == u32::MAX || found.gid.as_raw() == u32::MAX {
        return Err(IdentityError::BadTargetSyntax(found.name));
    }
    account(found, memo)
}

/// Whether `now` (a fresh [`target_groups`]) is the same set of groups
/// as `decided` (the target's groups the decision saw).
pub fn same_groups(now: &[Gid], decided: &[u32]) -> bool {
    let mut a: Vec<u32> = now.iter().map(|g| g.as_raw()).collect();
    let mut b = decided.to_vec();
    a.sort_unstable();
    a.dedup();
    b.sort_unstable();
    b.dedup();
    a == b
}

/// The target's supplementary groups (primary gid first), from NSS.
pub fn target_groups(t: &Target) -> Result<Vec<Gid>, IdentityError> {
    let name = CString::new(t.name.as_bytes())
        .map_err(|_| IdentityError::BadTargetSyntax(t.name.clone()))?;
    nss::group_list(&name, &t.name, t.gid)
}

/// The caller as the kernel sees it: real uid and gid, supplementary
/// groups; the user name from NSS (absent names are fine: rules can use
/// `#uid`). Group names are left empty: see [`fill_group_names`].
pub fn caller_from_kernel() -> Result<Caller, IdentityError> {
    let uid = nix::unistd::getuid();
    let gid = nix::unistd::getgid();
    let mut gids = vec![gid.as_raw()];
    let sup = crate::sys::proc::groups()
        .map_err(|e| IdentityError::Lookup(format!("getgroups: {}", e.desc())))?;
    for g in sup {
        if !gids.contains(&g.as_raw()) {
            gids.push(g.as_raw());
        }
    }
    let name = nss::or_none(nss::user_by_uid(uid.as_raw()))?.map(|u| u.name);
    Ok(Caller {
        uid: uid.as_raw(),
        gid: gid.as_raw(),
        name,
        gids,
        group_names: Vec::new(),
    })
}

/// Look up the names of the caller's groups (one NSS lookup each); only
/// needed when the policy names groups by name. A gid without a name is
/// left out; the error is the static bdexec's failed hand-off to its
/// twin (src/identity/nss.rs), which must refuse the call.
pub fn fill_group_names(caller: &mut Caller) -> Result<(), IdentityError> {
    let mut names = Vec::with_capacity(caller.gids.len());
    for g in &caller.gids {
        names.extend(nss::or_none(nss::group_by_gid(*g))?.map(|found| found.name));
    }
    caller.group_names = names;
    Ok(())
}

/// The controlling terminal's device (major, minor) from
/// /proc/self/stat (`tty_nr`); `None` without one.
///
/// Not from opening /dev/tty (ENXIO without a terminal, else TIOCGDEV
/// gives the same number): measured in session 15, that open made the
/// p99 of 4 concurrent callers on 2 cores go from 8 ms to 12-16 ms
/// (docs/performance.md), for some 10-20 us saved per call.
pub fn controlling_tty_dev() -> Option<(u32, u32)> {
    // Fields after the name: state ppid pgrp session tty_nr ...
    let f = crate::base::procfs::stat_fields("/proc/self/stat")?;
    let tty_nr: u32 = f.get(4)?.parse().ok()?;
    (tty_nr != 0).then(|| crate::base::procfs::decode_tty_nr(tty_nr))
}

/// The controlling terminal's name from /proc/self/stat (`tty_nr`), not
/// from fds 0-2, which the caller controls.
pub fn controlling_tty() -> Option<String> {
    let (major, minor) = controlling_tty_dev()?;
    Some(match major {
        136..=143 => format!("/dev/pts/{}", (major - 136) * 256 + minor),
        4 if minor < 64 => format!("/dev/tty{minor}"),
        4 => format!("/dev/ttyS{}", minor - 64),
        _ => format!("tty({major},{minor})"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn files_entry_names_as_glibc_parses_them() {
        let text = "root:x:0:0:root:/root:/bin/bash\n\n# alice:x:1:1::/:/bin/sh\n  bob:x:2:2::/:/bin/sh\nshort:x:3:3\n+nis\n-gone::::::\n:x:4:4::/:/bin/sh\n";
        let sorted = |s: std::collections::HashSet<String>| {
            let mut v: Vec<String> = s.into_iter().collect();
            v.sort();
            v
        };
        let (names, odd) = super::files_entry_names(text, 7);
        assert_eq!(sorted(names), ["bob", "root"]);
        assert_eq!(sorted(odd), ["", "+nis", "-gone", "short"]);
        let (groups, odd) = super::files_entry_names("wheel:x:10:alice\nbad:x\n", 4);
        assert_eq!(sorted(groups), ["wheel"]);
        assert_eq!(sorted(odd), ["bad"]);
    }

    use super::*;

    #[test]
    fn ids() {
        assert_eq!(parse_id("0"), Some(0));
        assert_eq!(parse_id("1500"), Some(1500));
        assert_eq!(parse_id("4294967294"), Some(4294967294));
        assert_eq!(parse_id("4294967295"), None);
        assert_eq!(parse_id("-1"), None);
        assert_eq!(parse_id("+1"), None);
        assert_eq!(parse_id(""), None);
        assert_eq!(parse_id("99999999999"), None);
        assert_eq!(parse_id("1 "), None);
    }

    #[test]
    fn target_args() {
        assert_eq!(
            parse_target_arg(OsStr::new("root")),
            Ok(Principal::Name("root".into()))
        );
        assert_eq!(parse_target_arg(OsStr::new("#0")), Ok(Principal::Id(0)));
        for bad in [
            "#-1",
            "#4294967295",
            "a/b",
            "",
            "-x",
            "a b",
            "a\u{1b}b",
            "a:b",
            "#",
        ] {
            assert!(
                parse_target_arg(OsStr::new(bad)).is_err(),
                "{bad:?} accepted"
            );
        }
        assert!(parse_target_arg(OsStr::from_bytes(b"\xff")).is_err());
    }

    #[test]
    fn root_resolves() {
        let t = resolve_target(&Principal::Id(0)).expect("root");
        assert_eq!(t.target.uid, 0);
        assert_eq!(t.target.name, "root");
        assert!(matches!(
            resolve_target(&Principal::Name("no-such-user-belladonna".into())),
            Err(IdentityError::UnknownUser(_))
        ));
    }
}
