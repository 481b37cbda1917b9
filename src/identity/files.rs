//! The static bdexec's own reading of /etc/passwd and /etc/shadow
//! (src/identity/nss.rs): only files that glibc's `files` source reads
//! one way, and in that case the same entries in the same order.
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
//!   conversion (empty, for the shadow numbers glibc allows empty).
//!
//! Every other file is left to glibc whole: the caller falls back to the
//! NSS call for any lookup, never to a guess. In a clean file both
//! readers take every entry line, and the same fields from it, so the
//! first match by name or id is the entry glibc's lookup returns. The
//! unit tests below check that against glibc's own parser
//! (`fgetpwent_r`, `fgetspent_r`: the same reader and parser as the
//! `files` source), and the fuzz target `nss_files` does for any bytes.
#![forbid(unsafe_code)]

/// The largest /etc/passwd or /etc/shadow read; a larger one is left to
/// glibc.
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

/// The entry lines of a clean file with `N` fields per line, split at
/// `:`; `None` when some line is not clean for this shape.
fn entries<const N: usize>(text: &[u8]) -> Option<Vec<[&[u8]; N]>> {
    let mut out = Vec::new();
    // A last line without its newline is a line too (fgets returns it).
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    for line in body.split(|b| *b == b'\n') {
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        if line.iter().any(|b| *b < 0x20 || *b == 0x7f) {
            return None;
        }
        let mut fields = line.split(|b| *b == b':');
        let mut entry: [&[u8]; N] = [&[]; N];
        for slot in entry.iter_mut() {
            *slot = fields.next()?;
        }
        if fields.next().is_some() || !name_ok(entry[0]) {
            return None;
        }
        out.push(entry);
    }
    Some(out)
}

/// A number of 1 to `digits` decimal digits, at most `max`.
fn number(field: &[u8], digits: usize, max: u64) -> Option<u64> {
    if field.is_empty() || field.len() > digits || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = field.iter().fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
    (v <= max).then_some(v)
}

/// The text of a field checked by [`name_ok`] (ASCII).
fn name_of(field: &[u8]) -> Option<&str> {
    std::str::from_utf8(field).ok()
}

/// The entries of /etc/passwd's text, `None` when it is not clean.
pub fn passwd(text: &[u8]) -> Option<Vec<PwEntry<'_>>> {
    let id = |f: &[u8]| number(f, 10, u64::from(u32::MAX)).and_then(|v| u32::try_from(v).ok());
    entries::<7>(text)?
        .into_iter()
        .map(|[name, passwd, uid, gid, gecos, dir, shell]| {
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
        .collect()
}

/// The entries of /etc/shadow's text, `None` when it is not clean. Its
/// six numbers (last change, min, max, warn, inactive, expire) and the
/// flag may each be empty or up to 9 digits (under 2^31: glibc's `int`
/// conversion changes nothing).
pub fn shadow(text: &[u8]) -> Option<Vec<SpEntry<'_>>> {
    // Some(None): empty.
    let num = |f: &[u8]| match f {
        [] => Some(None),
        f => number(f, 9, u64::MAX).map(Some),
    };
    entries::<9>(text)?
        .into_iter()
        .map(|[name, _passwd, nums @ ..]| {
            let mut values = [None; 7];
            for (v, f) in values.iter_mut().zip(nums) {
                *v = num(f)?;
            }
            let expire = values[5].map_or(-1, |d| d as i64);
            Some(SpEntry {
                name: name_of(name)?,
                expire,
            })
        })
        .collect()
}

/// [`passwd`]'s entries in the form of `crate::sys::nss::glibc_passwd`,
/// to compare them with glibc's (the unit tests, the fuzz target).
#[doc(hidden)]
pub fn passwd_as_glibc(text: &[u8]) -> Option<Vec<crate::sys::nss::GlibcPw>> {
    let entries = passwd(text)?;
    let own = |e: &PwEntry<'_>| {
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
    };
    Some(entries.iter().map(own).collect())
}

/// [`shadow`]'s entries in the form of `crate::sys::nss::glibc_shadow`.
#[doc(hidden)]
pub fn shadow_as_glibc(text: &[u8]) -> Option<Vec<(Vec<u8>, i64)>> {
    let entries = shadow(text)?;
    Some(
        entries
            .iter()
            .map(|e| (e.name.as_bytes().to_vec(), e.expire))
            .collect(),
    )
}

#[cfg(test)]
mod tests;
