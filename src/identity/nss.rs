//! Every NSS lookup bdexec makes, and what the static bdexec may ask of
//! NSS (docs/decisions.md section 19).
//!
//! A statically linked program may dlopen an NSS module only when the
//! module's C library is the very version it was linked with, and a host
//! upgrades glibc without rebuilding bdexec. So the static bdexec keeps
//! NSS to the `files` source built into the C library
//! (`__nss_configure_lookup`), and any lookup whose answer another source
//! could change is handed to the dynamically linked twin
//! (src/exec/twin.rs), which asks NSS as configured:
//!
//! * nsswitch.conf's `passwd` and `group` lines (and `initgroups`, if
//!   present) must each be one line whose first source is `files`, with
//!   no action (`[NOTFOUND=return]`); otherwise, or while nscd runs,
//!   every lookup goes to the twin;
//! * a name or id that `files` does not know goes to the twin when the
//!   line has another source after `files` (Debian's `files systemd`);
//! * a group list (`getgrouplist`) goes to the twin when the `group` or
//!   `initgroups` line has another source: every source adds to a list
//!   (root's list comes from the group memo instead, src/identity/
//!   groups_memo.rs).
//!
//! Within that reach the static bdexec reads /etc/passwd, /etc/shadow
//! and /etc/group itself while the lines up to a lookup's match (the
//! whole file, for a group list) are *clean* (src/identity/files.rs:
//! lines that glibc's `files` parser reads one way, as the same
//! entries), and asks glibc otherwise; built on musl, whose own reading
//! of the files is not glibc's, it asks the twin instead. glibc's NSS is confined (`__nss_configure_lookup`,
//! which reads and parses nsswitch.conf once more) only before the first
//! lookup glibc makes, and every glibc lookup here goes through
//! `glibc_confined`; a stock host's call makes none (docs/
//! performance.md, session 16).
//!
//! The dynamically linked bdexec (and bdctl) never configure anything
//! here, and each lookup is the plain NSS call.
#![forbid(unsafe_code)]

use super::IdentityError;
use super::files;
use nix::unistd::{Gid, Group, Uid, User};
use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;

/// What a lookup of the static bdexec may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// `files` answers; a miss goes to the twin when the database's line
    /// names more sources.
    FilesFirst {
        passwd_more: bool,
        group_more: bool,
        /// Also when nsswitch.conf has no `shadow` line.
        shadow_more: bool,
    },
    /// Every lookup goes to the twin.
    Twin,
}

/// The way to the twin: execs it for the reason given, returns only the
/// error.
pub type ToTwin = fn(&str) -> String;

/// The static bdexec's reach and its way to the twin.
static CONFINED: OnceLock<(Reach, ToTwin)> = OnceLock::new();

/// The source lists of every `database` line of nsswitch.conf text
/// (also the group memo's, src/identity/groups_memo.rs).
pub(crate) fn lines_of<'a>(nsswitch: &'a str, database: &str) -> Vec<Vec<&'a str>> {
    nsswitch
        .lines()
        .filter_map(|raw| {
            let line = raw.split('#').next().unwrap_or("").trim();
            let (db, rest) = line.split_once(':')?;
            (db.trim() == database).then(|| rest.split_whitespace().collect())
        })
        .collect()
}

/// The sources of the one `database` line: `None` when the line is
/// missing or repeated.
fn sources<'a>(nsswitch: &'a str, database: &str) -> Option<Vec<&'a str>> {
    match <[_; 1]>::try_from(lines_of(nsswitch, database)) {
        Ok([line]) => Some(line),
        Err(_) => None,
    }
}

/// The reach nsswitch.conf's text allows (see the module docs).
pub fn reach_of(nsswitch: &str) -> Reach {
    // Some(more sources after files), None when files is not first alone.
    let files_first = |list: &[&str]| {
        (list.first() == Some(&"files") && !list.iter().any(|s| s.starts_with('[')))
            .then_some(list.len() > 1)
    };
    let (Some(p), Some(g)) = (sources(nsswitch, "passwd"), sources(nsswitch, "group")) else {
        return Reach::Twin;
    };
    // No initgroups line: the group line decides the lists.
    let i = match lines_of(nsswitch, "initgroups").as_slice() {
        [] => Some(false),
        [line] => files_first(line),
        _ => None,
    };
    // A missing shadow line is taken as one with more sources: only its
    // misses go to the twin.
    let shadow = match sources(nsswitch, "shadow") {
        Some(s) => files_first(&s),
        None => Some(true),
    };
    match (files_first(&p), files_first(&g), i, shadow) {
        (Some(passwd_more), Some(g_more), Some(i_more), Some(shadow_more)) => Reach::FilesFirst {
            passwd_more,
            group_more: g_more || i_more,
            shadow_more,
        },
        _ => Reach::Twin,
    }
}

/// For the static bdexec, once, before its first lookup: keep its
/// lookups to the `files` source, and hand lookups beyond it to the twin
/// through `to_twin`.
pub fn confine_static(to_twin: ToTwin) {
    let reach = match super::nsswitch() {
        Some((t, _)) if !super::nscd_running() => reach_of(t),
        _ => Reach::Twin,
    };
    let _ = CONFINED.set((reach, to_twin));
}

/// Whether glibc's NSS is kept to its built-in `files` source, in the
/// static bdexec: done once, before glibc's first lookup. `false` when
/// glibc refused a database, and always on musl, whose reading of the
/// files is not glibc's (that lookup then goes to the twin).
fn glibc_confined() -> bool {
    static DONE: OnceLock<bool> = OnceLock::new();
    *DONE.get_or_init(|| {
        crate::base::testhook::point("glibc-nss-confined");
        let dbs: [&CStr; 4] = [c"passwd", c"group", c"initgroups", c"shadow"];
        dbs.iter()
            .all(|db| crate::sys::nss::configure_lookup(db, c"files").is_ok())
    })
}

/// A database NSS is asked.
#[derive(Debug, Clone, Copy)]
enum Db {
    Passwd,
    Group,
    Shadow,
}

impl Reach {
    /// Whether a source other than `files` may answer for `db`.
    fn more(self, db: Db) -> bool {
        match (self, db) {
            (Reach::Twin, _) => true,
            (Reach::FilesFirst { passwd_more, .. }, Db::Passwd) => passwd_more,
            (Reach::FilesFirst { group_more, .. }, Db::Group) => group_more,
            (Reach::FilesFirst { shadow_more, .. }, Db::Shadow) => shadow_more,
        }
    }
}

/// Hand the call to the twin (returns only when that failed).
fn beyond_files(to_twin: ToTwin, why: &str) -> IdentityError {
    IdentityError::Twin(to_twin(why))
}

/// One lookup in `db`. In the static bdexec: the twin for everything
/// under [`Reach::Twin`]; else the answer of `own` (bdexec's reading of
/// a clean file, `None` when it does not read it) or of glibc's `files`
/// source (`find`); and the twin for what `files` does not know when
/// another source could know it.
fn lookup<T>(
    db: Db,
    why: impl Fn() -> String,
    own: impl FnOnce() -> Option<Option<T>>,
    find: impl FnOnce() -> nix::Result<Option<T>>,
) -> Result<Option<T>, IdentityError> {
    let failed = |e: nix::Error| IdentityError::Lookup(format!("{}: {}", why(), e.desc()));
    let Some(&(reach, to_twin)) = CONFINED.get() else {
        return find().map_err(failed);
    };
    if reach == Reach::Twin {
        return Err(beyond_files(to_twin, &why()));
    }
    let found = match own() {
        Some(found) => Ok(found),
        None if glibc_confined() => find(),
        None => return Err(beyond_files(to_twin, &why())),
    };
    match found {
        Ok(None) if reach.more(db) => Err(beyond_files(to_twin, &why())),
        found => found.map_err(failed),
    }
}

/// A database file as the static bdexec reads it itself: `None` when it
/// cannot be read or is too large (glibc then reads it, and says why).
fn read_db(path: &str) -> Option<Vec<u8>> {
    let file = std::fs::File::open(path).ok()?;
    let text = crate::base::bounded_read::read_up_to(file, 8192, files::MAX_FILE).ok()?;
    (text.len() as u64 <= files::MAX_FILE).then_some(text)
}

/// /etc/passwd as this process first read it: a call finds its caller
/// and its target in one snapshot of the file, read once (glibc's
/// `files` source opens and reads it again for every lookup).
fn passwd_text() -> Option<&'static [u8]> {
    static TEXT: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    TEXT.get_or_init(|| read_db("/etc/passwd")).as_deref()
}

/// The first /etc/passwd entry `pick` takes, read by bdexec itself:
/// `None` when a line glibc may read otherwise comes first, or the file
/// cannot be read.
fn own_user(pick: impl Fn(&files::PwEntry<'_>) -> bool) -> Option<Option<User>> {
    match files::find_passwd(passwd_text()?, pick)? {
        None => Some(None),
        Some(e) => Some(Some(User {
            name: e.name.to_owned(),
            passwd: CString::new(e.passwd).ok()?,
            uid: Uid::from_raw(e.uid),
            gid: Gid::from_raw(e.gid),
            gecos: CString::new(e.gecos).ok()?,
            dir: OsStr::from_bytes(e.dir).into(),
            shell: OsStr::from_bytes(e.shell).into(),
        })),
    }
}

/// The first /etc/group entry `pick` takes, read by bdexec itself (see
/// [`own_user`]). The file is read again for every lookup, as glibc
/// reads it, not kept as /etc/passwd is: validate's recheck of a
/// target's groups before exec must see a membership changed since the
/// decision (src/bdexec/validate.rs).
fn own_group(pick: impl Fn(&files::GrEntry<'_>) -> bool) -> Option<Option<Group>> {
    let text = read_db("/etc/group")?;
    match files::find_group(&text, pick)? {
        None => Some(None),
        Some(e) => Some(Some(Group {
            name: e.name.to_owned(),
            passwd: CString::new(e.passwd).ok()?,
            gid: Gid::from_raw(e.gid),
            mem: e.members().map(str::to_owned).collect(),
        })),
    }
}

/// `name`'s group list from /etc/group, read by bdexec itself (afresh,
/// see [`own_group`]): `None` when the file is not clean for a list or
/// cannot be read.
fn own_group_list(name: &CStr, gid: u32) -> Option<Vec<Gid>> {
    let text = read_db("/etc/group")?;
    let list = files::group_list(&text, name.to_str().ok()?, gid)?;
    Some(list.into_iter().map(Gid::from_raw).collect())
}

/// The `sp_expire` of `name`'s /etc/shadow entry, read by bdexec itself
/// (see [`own_user`]).
fn own_expire_day(name: &[u8]) -> Option<Option<i64>> {
    let text = read_db("/etc/shadow")?;
    Some(files::find_shadow(&text, name)?.map(|e| e.expire))
}

/// A lookup whose failure only leaves a name out (the caller's name,
/// group names): `None` for an NSS error, but a failed hand-off to the
/// twin stays an error, which refuses the call.
pub fn or_none<T>(found: Result<Option<T>, IdentityError>) -> Result<Option<T>, IdentityError> {
    match found {
        Err(e @ IdentityError::Twin(_)) => Err(e),
        found => Ok(found.ok().flatten()),
    }
}

/// `getpwuid_r`.
pub fn user_by_uid(uid: u32) -> Result<Option<User>, IdentityError> {
    lookup(
        Db::Passwd,
        || format!("the user database entry of uid {uid}"),
        || own_user(|e| e.uid == uid),
        || User::from_uid(Uid::from_raw(uid)),
    )
}

/// `getpwnam_r`.
pub fn user_by_name(name: &str) -> Result<Option<User>, IdentityError> {
    lookup(
        Db::Passwd,
        || format!("the user database entry of {name}"),
        || own_user(|e| e.name == name),
        || User::from_name(name),
    )
}

/// `getgrgid_r`.
pub fn group_by_gid(gid: u32) -> Result<Option<Group>, IdentityError> {
    lookup(
        Db::Group,
        || format!("the group database entry of gid {gid}"),
        || own_group(|e| e.gid == gid),
        || Group::from_gid(Gid::from_raw(gid)),
    )
}

/// `getgrnam_r`.
pub fn group_by_name(name: &str) -> Result<Option<Group>, IdentityError> {
    lookup(
        Db::Group,
        || format!("the group database entry of {name}"),
        || own_group(|e| e.name == name),
        || Group::from_name(name),
    )
}

/// `getspnam_r`'s expiry day (src/sys/shadow.rs): `None` without an
/// entry.
pub fn shadow_expire_day(name: &CStr, shown: &str) -> Result<Option<i64>, IdentityError> {
    lookup(
        Db::Shadow,
        || format!("the shadow entry of {shown}"),
        || own_expire_day(name.to_bytes()),
        || crate::sys::shadow::expire_day(name),
    )
}

/// `getgrouplist`: every source adds to the list, so the static bdexec
/// asks the twin whenever a source follows `files`; otherwise it reads a
/// clean /etc/group itself, and leaves any other to glibc (the twin, on
/// musl).
pub fn group_list(name: &CStr, shown: &str, gid: u32) -> Result<Vec<Gid>, IdentityError> {
    let why = || format!("the groups of {shown}");
    if let Some((reach, to_twin)) = CONFINED.get().copied() {
        if reach.more(Db::Group) {
            return Err(beyond_files(to_twin, &why()));
        }
        if let Some(list) = own_group_list(name, gid) {
            return Ok(list);
        }
        if !glibc_confined() {
            return Err(beyond_files(to_twin, &why()));
        }
    }
    nix::unistd::getgrouplist(name, Gid::from_raw(gid))
        .map_err(|e| IdentityError::Lookup(format!("{}: {}", why(), e.desc())))
}

#[cfg(test)]
mod tests {
    use super::{Reach, reach_of};

    #[test]
    fn reach_follows_the_lines() {
        let debian = "passwd: files systemd\ngroup: files systemd\nshadow: files systemd\n";
        assert_eq!(
            reach_of(debian),
            Reach::FilesFirst {
                passwd_more: true,
                group_more: true,
                shadow_more: true
            }
        );
        assert_eq!(
            reach_of("passwd: files\ngroup:   files  # local only\nshadow: files\n"),
            Reach::FilesFirst {
                passwd_more: false,
                group_more: false,
                shadow_more: false
            }
        );
        // initgroups adds its own sources to the group lists; no shadow
        // line: its misses go to the twin.
        assert_eq!(
            reach_of("passwd: files\ngroup: files\ninitgroups: files ldap\n"),
            Reach::FilesFirst {
                passwd_more: false,
                group_more: true,
                shadow_more: true
            }
        );
        for twin in [
            "passwd: sss files\ngroup: files\n",
            "passwd: files [NOTFOUND=return] ldap\ngroup: files\n",
            "passwd: compat\ngroup: compat\n",
            "group: files\n",
            "passwd: files\npasswd: files\ngroup: files\n",
            "passwd: files\ngroup: files\ninitgroups: ldap\n",
            "passwd: files\ngroup: files\ninitgroups: files\ninitgroups: files\n",
            "passwd: files\ngroup: files\nshadow: sss files\n",
            "",
        ] {
            assert_eq!(reach_of(twin), Reach::Twin, "{twin:?}");
        }
    }
}
