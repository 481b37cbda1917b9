//! The static bdexec's own reading of /etc/passwd, /etc/shadow and
//! /etc/group (src/identity/nss.rs): only files that glibc's `files`
//! source reads one way, and in that case the same entries in the same
//! order.
//!
//! glibc's reader and parser (`__nss_readline`, nss_files' `LINE_PARSER`)
//! skip leading white space, blank lines and `#` comments; read numbers
//! with `strtoul` (signs, spaces, wrap-around, a shadow number cut to an
//! `int`); take a passwd line's shell as the rest of the line, colons
//! included; fill a short shadow line's missing fields; skip a line whose
//! number fields do not parse; and give `+` and `-` names to NIS compat.
//! A file is *clean* when each of its lines is
//!
//! * empty, or a comment with `#` in its first column (both skipped by
//!   either reader); or
//! * an entry of exactly the database's number of fields, without a
//!   control character, whose name has [`name_ok`]'s form, and whose
//!   numbers are plain decimal digits that fit their field without any
//!   conversion: ids below 2^32 - 1 (`parse_id`'s), shadow numbers of at
//!   most 9 digits, or empty where glibc allows it; a group line's
//!   members are empty or names of that form joined by single commas.
//!
//! A group list (`getgrouplist`) is glibc's `initgroups` of the `files`
//! source: the primary gid, then the gid of every entry, in file order,
//! that has the user among its members and another gid (a gid on two
//! such lines twice). That reader parses every line, `#` lines included
//! (a commented-out `#wheel:x:10:alice` still gives alice gid 10), so a
//! group file with any `#` line is not clean for a list.
//!
//! Every other line is left to glibc: a lookup that meets one before its
//! match falls back to the NSS call, never to a guess. On clean lines
//! both readers take every entry line, and the same fields from it, so
//! the first match by name or id is the entry glibc's lookup returns
//! (and, as glibc, a lookup stops at its match: a large file costs no
//! more than glibc's reading of it). The
//! unit tests below check that against glibc's own parser
//! (`fgetpwent_r`, `fgetspent_r`, `fgetgrent_r`: the same reader and
//! parser as the `files` source), and the fuzz target `nss_files` does
//! for any bytes; tests/twin.rs compares the static bdexec's group lists
//! with glibc's `getgrouplist`.
#![forbid(unsafe_code)]

/// The largest /etc/passwd, /etc/shadow or /etc/group read; a larger
/// one is left to glibc.
pub const MAX_FILE: u64 = 16 << 20;

/// One /etc/passwd entry, its fields as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PwEntry<'a> {
    pub name: &'a str,
    pub passwd: &'a [u8],
    pub uid: u32,
    pub gid: u32,
    pub gecos: &'a [u8],
    pub dir: &'a [u8],
    pub shell: &'a [u8],
}

/// One /etc/shadow entry's name and expiry day (`sp_expire`: -1 when the
/// field is empty), the only field bdexec reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpEntry<'a> {
    pub name: &'a str,
    pub expire: i64,
}

/// One /etc/group entry, its fields as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrEntry<'a> {
    pub name: &'a str,
    pub passwd: &'a [u8],
    pub gid: u32,
    /// The members field: empty, or [`name_ok`] names joined by commas.
    members: &'a [u8],
}

impl<'a> GrEntry<'a> {
    /// The member names, in order (an empty field has none; a clean
    /// field has no other empty name).
    pub fn members(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.members
            .split(|b| *b == b',')
            .filter(|n| !n.is_empty())
            .filter_map(|n| std::str::from_utf8(n).ok())
    }
}

/// A name glibc and bdexec read alike, and no compat entry: an ASCII
/// letter, digit or `_`, then letters, digits and `_ . @ $ -`, at most
/// 256 bytes.
pub fn name_ok(name: &[u8]) -> bool {
    let first = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let rest = |b: &u8| b.is_ascii_alphanumeric() || b"_.@$-".contains(b);
    match name.split_first() {
        Some((f, r)) => name.len() <= 256 && first(f) && r.iter().all(rest),
        None => false,
    }
}

/// The entry lines of a file with `N` fields per line, in order, split
/// at `:`: `None` for a line that is not clean for this shape (a reader
/// must stop there: glibc may read that line as any entry).
fn lines<const N: usize>(text: &[u8]) -> impl Iterator<Item = Option<[&[u8]; N]>> {
    // A last line without its newline is a line too (fgets returns it).
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    body.split(|b| *b == b'\n')
        .filter(|line| !line.is_empty() && line[0] != b'#')
        .map(|line| {
            if line.iter().any(|b| *b < 0x20 || *b == 0x7f) {
                return None;
            }
            let mut fields = line.split(|b| *b == b':');
            let mut entry: [&[u8]; N] = [&[]; N];
            for slot in entry.iter_mut() {
                *slot = fields.next()?;
            }
            (fields.next().is_none() && name_ok(entry[0])).then_some(entry)
        })
}

/// The first entry `pick` takes, reading as glibc's lookup does (line
/// by line, the first match wins): `Some(None)` when a clean file has
/// none, `None` when a line that is not clean comes first (the lookup is
/// then glibc's). The lines after a match are not read, as glibc does
/// not read them.
fn find<T>(
    entries: impl Iterator<Item = Option<T>>,
    pick: impl Fn(&T) -> bool,
) -> Option<Option<T>> {
    for e in entries {
        let e = e?;
        if pick(&e) {
            return Some(Some(e));
        }
    }
    Some(None)
}

/// A plain decimal id ([`super::parse_id`]: 1 to 10 digits, below
/// 2^32 - 1), as bytes.
fn id(field: &[u8]) -> Option<u32> {
    super::parse_id(std::str::from_utf8(field).ok()?)
}

/// The text of a field checked by [`name_ok`] (ASCII).
fn name_of(field: &[u8]) -> Option<&str> {
    std::str::from_utf8(field).ok()
}

/// /etc/passwd's entries, in order; `None` for a line that is not clean.
fn passwd_entries(text: &[u8]) -> impl Iterator<Item = Option<PwEntry<'_>>> {
    lines::<7>(text).map(|line| {
        let [name, passwd, uid, gid, gecos, dir, shell] = line?;
        Some(PwEntry {
            name: name_of(name)?,
            passwd,
            uid: id(uid)?,
            gid: id(gid)?,
            gecos,
            dir,
            shell,
        })
    })
}

/// /etc/shadow's entries, in order; `None` for a line that is not clean.
/// Its six numbers (last change, min, max, warn, inactive, expire) and
/// the flag may each be empty or up to 9 digits (under 2^31: glibc's
/// `int` conversion changes nothing).
fn shadow_entries(text: &[u8]) -> impl Iterator<Item = Option<SpEntry<'_>>> {
    // Some(None): empty.
    let num = |f: &[u8]| match f {
        [] => Some(None),
        f if f.len() <= 9 => id(f).map(Some),
        _ => None,
    };
    lines::<9>(text).map(move |line| {
        let [name, _passwd, nums @ ..] = line?;
        let mut values = [None; 7];
        for (v, f) in values.iter_mut().zip(nums) {
            *v = num(f)?;
        }
        Some(SpEntry {
            name: name_of(name)?,
            expire: values[5].map_or(-1, i64::from),
        })
    })
}

/// Whether a group line's members field is clean: empty, or names of
/// [`name_ok`]'s form joined by single commas (glibc skips blanks and
/// empty names between commas; such a field is left to it).
fn members_ok(field: &[u8]) -> bool {
    field.is_empty() || field.split(|b| *b == b',').all(name_ok)
}

/// /etc/group's entries, in order; `None` for a line that is not clean.
fn group_entries(text: &[u8]) -> impl Iterator<Item = Option<GrEntry<'_>>> {
    lines::<4>(text).map(|line| {
        let [name, passwd, gid, members] = line?;
        members_ok(members).then_some(())?;
        Some(GrEntry {
            name: name_of(name)?,
            passwd,
            gid: id(gid)?,
            members,
        })
    })
}

/// Every entry of /etc/passwd's text, `None` when it is not clean.
pub fn passwd(text: &[u8]) -> Option<Vec<PwEntry<'_>>> {
    passwd_entries(text).collect()
}

/// Every entry of /etc/shadow's text, `None` when it is not clean.
pub fn shadow(text: &[u8]) -> Option<Vec<SpEntry<'_>>> {
    shadow_entries(text).collect()
}

/// The first /etc/passwd entry `pick` takes, read line by line:
/// `Some(None)` when every line is clean and none is taken, `None` when a
/// line that is not clean comes before the match.
pub fn find_passwd<'a>(
    text: &'a [u8],
    pick: impl Fn(&PwEntry<'a>) -> bool,
) -> Option<Option<PwEntry<'a>>> {
    find(passwd_entries(text), pick)
}

/// Every entry of /etc/group's text, `None` when it is not clean.
pub fn group(text: &[u8]) -> Option<Vec<GrEntry<'_>>> {
    group_entries(text).collect()
}

/// The first /etc/group entry `pick` takes, read as [`find_passwd`]
/// reads.
pub fn find_group<'a>(
    text: &'a [u8],
    pick: impl Fn(&GrEntry<'a>) -> bool,
) -> Option<Option<GrEntry<'a>>> {
    find(group_entries(text), pick)
}

/// `user`'s group list with primary group `gid`, as glibc's `files`
/// source gives it (see the module docs): `None` when any line of the
/// file is not clean or is a `#` line, which that source reads as an
/// entry.
pub fn group_list(text: &[u8], user: &str, gid: u32) -> Option<Vec<u32>> {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    if body
        .split(|b| *b == b'\n')
        .any(|l| l.first() == Some(&b'#'))
    {
        return None;
    }
    let mut list = vec![gid];
    for e in group_entries(text) {
        let e = e?;
        if e.gid != gid && e.members().any(|m| m == user) {
            list.push(e.gid);
        }
    }
    Some(list)
}

/// The first /etc/shadow entry named `name`, read as [`find_passwd`]
/// reads.
pub fn find_shadow<'a>(text: &'a [u8], name: &[u8]) -> Option<Option<SpEntry<'a>>> {
    find(shadow_entries(text), |e| e.name.as_bytes() == name)
}

/// One [`PwEntry`] in the form of `crate::sys::nss::glibc_passwd`.
fn as_glibc(e: &PwEntry<'_>) -> crate::sys::nss::GlibcPw {
    let f = |b: &[u8]| b.to_vec();
    (
        f(e.name.as_bytes()),
        f(e.passwd),
        e.uid,
        e.gid,
        f(e.gecos),
        f(e.dir),
        f(e.shell),
    )
}

/// [`passwd`]'s entries in the form of `crate::sys::nss::glibc_passwd`,
/// to compare them with glibc's (the unit tests, the fuzz target).
#[doc(hidden)]
pub fn passwd_as_glibc(text: &[u8]) -> Option<Vec<crate::sys::nss::GlibcPw>> {
    Some(passwd(text)?.iter().map(as_glibc).collect())
}

/// [`shadow`]'s entries in the form of `crate::sys::nss::glibc_shadow`.
#[doc(hidden)]
pub fn shadow_as_glibc(text: &[u8]) -> Option<Vec<(Vec<u8>, i64)>> {
    Some(
        shadow(text)?
            .iter()
            .map(|e| (e.name.as_bytes().to_vec(), e.expire))
            .collect(),
    )
}

/// [`group`]'s entries in the form of `crate::sys::nss::glibc_group`.
#[doc(hidden)]
pub fn group_as_glibc(text: &[u8]) -> Option<Vec<crate::sys::nss::GlibcGr>> {
    Some(group(text)?.iter().map(gr_as_glibc).collect())
}

fn gr_as_glibc(e: &GrEntry<'_>) -> crate::sys::nss::GlibcGr {
    (
        e.name.as_bytes().to_vec(),
        e.passwd.to_vec(),
        e.gid,
        e.members().map(|m| m.as_bytes().to_vec()).collect(),
    )
}

/// Check the group lookups of `text` against the entries glibc reads
/// from it (`glibc_gr`: `crate::sys::nss::glibc_group`), as
/// [`check_lookups`] does for passwd and shadow; and every group list
/// bdexec answers (for each member glibc reads, with each gid it reads
/// as the primary one, and one it does not) against the list glibc's
/// `initgroups` makes of those entries: the primary gid, then each other
/// gid whose entry has the user, in order. (`initgroups` also parses `#`
/// lines, which `fgetgrent_r` skips: [`group_list`] answers no file that
/// has one.) `Err` names the first difference.
#[doc(hidden)]
pub fn check_group_lookups(
    text: &[u8],
    glibc_gr: &[crate::sys::nss::GlibcGr],
) -> Result<(), String> {
    for g in glibc_gr {
        for by_gid in [false, true] {
            let first = glibc_gr.iter().find(|h| match by_gid {
                true => h.2 == g.2,
                false => h.0 == g.0,
            });
            let found = find_group(text, |e| match by_gid {
                true => e.gid == g.2,
                false => e.name.as_bytes() == g.0.as_slice(),
            });
            if let Some(found) = found
                && found.as_ref().map(gr_as_glibc).as_ref() != first
            {
                return Err(format!(
                    "group lookup {:?} (by gid: {by_gid}): {found:?} against {first:?}",
                    String::from_utf8_lossy(&g.0)
                ));
            }
        }
    }
    let users = glibc_gr.iter().flat_map(|g| g.3.iter());
    let gids: Vec<u32> = glibc_gr.iter().map(|g| g.2).chain([4_242_424]).collect();
    for user in users {
        let Ok(name) = std::str::from_utf8(user) else {
            continue;
        };
        for &gid in &gids {
            let Some(ours) = group_list(text, name, gid) else {
                continue;
            };
            let theirs: Vec<u32> = std::iter::once(gid)
                .chain(
                    glibc_gr
                        .iter()
                        .filter(|g| g.2 != gid && g.3.iter().any(|m| m == user))
                        .map(|g| g.2),
                )
                .collect();
            if ours != theirs {
                return Err(format!(
                    "group list of {name} ({gid}): {ours:?} against {theirs:?}"
                ));
            }
        }
    }
    Ok(())
}

/// Check the lookups of `text` against the entries glibc reads from it
/// (`glibc_pw`, `glibc_sp`: `crate::sys::nss::glibc_passwd` and
/// `glibc_shadow`): for every name and uid glibc reads, a lookup that
/// bdexec answers finds the first entry glibc reads with it, or, when
/// bdexec answers "none", glibc reads none. `Err` names the first
/// difference. For the unit tests and the fuzz target.
#[doc(hidden)]
pub fn check_lookups(
    text: &[u8],
    glibc_pw: &[crate::sys::nss::GlibcPw],
    glibc_sp: &[(Vec<u8>, i64)],
) -> Result<(), String> {
    let lookups_pw = glibc_pw
        .iter()
        .map(|g| (g.0.clone(), None))
        .chain(glibc_pw.iter().map(|g| (Vec::new(), Some(g.2))));
    for (name, uid) in lookups_pw {
        let same = |e: &PwEntry<'_>| match uid {
            Some(u) => e.uid == u,
            None => e.name.as_bytes() == name.as_slice(),
        };
        let first = glibc_pw.iter().find(|g| match uid {
            // getpwuid skips compat entries.
            Some(u) => g.2 == u && !g.0.starts_with(b"+") && !g.0.starts_with(b"-"),
            None => g.0 == name,
        });
        match find_passwd(text, same) {
            Some(found) if found.as_ref().map(as_glibc).as_ref() != first => {
                return Err(format!(
                    "passwd lookup {name:?} {uid:?}: {found:?} against {first:?}"
                ));
            }
            _ => {}
        }
    }
    for (name, _) in glibc_sp {
        let first = glibc_sp.iter().find(|g| &g.0 == name).map(|g| g.1);
        match find_shadow(text, name) {
            Some(found) if found.map(|e| e.expire) != first => {
                return Err(format!(
                    "shadow lookup {name:?}: {found:?} against {first:?}"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
