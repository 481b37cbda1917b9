//! Validators of single values: environment names, principals, `run_as`,
//! paths, `env_keep`, umask, `setenv`, digests.
#![forbid(unsafe_code)]

use super::*;

// ---------------------------------------------------------------- validators

pub(super) fn is_env_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Environment names the product never passes to a command.
pub fn is_forbidden_env(name: &str) -> bool {
    name.starts_with("LD_") || name.starts_with("BASH_FUNC_")
}

/// Parse a user/group reference: a name, or `#id`.
pub fn parse_principal(s: &str) -> Result<Principal, String> {
    if let Some(num) = s.strip_prefix('#') {
        if num.is_empty() || num.len() > 10 || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{s:?} is not a valid \"#id\" (\"#\" must be followed by a decimal number)"
            ));
        }
        return match num.parse::<u32>() {
            Ok(u32::MAX) => Err(format!("{s:?}: id 4294967295 (-1) is not a valid id")),
            Ok(id) => Ok(Principal::Id(id)),
            Err(_) => Err(format!("{s:?}: id out of range (0 to 4294967294)")),
        };
    }
    if s.is_empty() {
        return Err("empty user or group name".to_string());
    }
    if let Some(c) = s
        .chars()
        .find(|&c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{s:?}: a user or group name must not contain {c:?}"
        ));
    }
    if s.starts_with('%') || s.starts_with('+') {
        return Err(format!(
            "{s:?}: '%group' and '+netgroup' are sudoers syntax; list groups by name in `groups`"
        ));
    }
    if s == "ALL" {
        return Err(format!(
            "{s:?}: \"ALL\" is only valid in `run_as` and `commands`; name users and groups"
        ));
    }
    Ok(Principal::Name(s.to_string()))
}

/// Parse a `run_as` entry: what [`parse_principal`] accepts, plus `ALL`
/// (any target) and `%group` / `%#gid` (any member of the group).
pub fn parse_run_as(s: &str) -> Result<Principal, String> {
    if s == "ALL" {
        return Ok(Principal::All);
    }
    if s.starts_with('!') {
        return Err(format!(
            "{s:?}: negation is sudoers syntax; write a deny rule with that run_as"
        ));
    }
    if let Some(g) = s.strip_prefix('%') {
        if g == "ALL" {
            return Err(format!("{s:?}: write \"ALL\" for any target"));
        }
        return match parse_principal(g) {
            Ok(Principal::Name(n)) => Ok(Principal::GroupName(n)),
            Ok(Principal::Id(i)) => Ok(Principal::GroupId(i)),
            Ok(_) => Err(format!("{s:?} is not a valid group target")),
            Err(e) => Err(e),
        };
    }
    parse_principal(s)
}

pub(super) fn run_as_list(ctx: &Ctx<'_>, list: &[SStr]) -> Result<Vec<Principal>, PolicyError> {
    let v = list
        .iter()
        .map(|s| parse_run_as(s.get_ref()).map_err(|m| ctx.err(&s.span(), m)))
        .collect::<Result<Vec<_>, _>>()?;
    if v.len() > 1
        && let Some(s) = list.iter().find(|s| s.get_ref() == "ALL")
    {
        return Err(ctx.err(
            &s.span(),
            "run_as \"ALL\" must be the only entry (it already covers every target)",
        ));
    }
    Ok(v)
}

pub(super) fn principals(ctx: &Ctx<'_>, list: &[SStr]) -> Result<Vec<Principal>, PolicyError> {
    list.iter()
        .map(|s| parse_principal(s.get_ref()).map_err(|m| ctx.err(&s.span(), m)))
        .collect()
}

pub(super) fn clean_abs_dir(p: &str) -> bool {
    p.starts_with('/') && !p.contains('\0') && !p.split('/').any(|c| c == "." || c == "..")
}

pub(super) fn secure_path(ctx: &Ctx<'_>, s: &SStr) -> Result<Vec<PathBuf>, PolicyError> {
    let v = s.get_ref();
    if v.is_empty() {
        return Err(ctx.err(&s.span(), "secure_path must not be empty"));
    }
    v.split(':')
        .map(|d| {
            if clean_abs_dir(d) {
                Ok(PathBuf::from(d))
            } else {
                Err(ctx.err(
                    &s.span(),
                    format!("secure_path entry {d:?} is not a clean absolute directory (no empty, relative, '.' or '..' entries)"),
                ))
            }
        })
        .collect()
}

pub(super) fn env_keep(ctx: &Ctx<'_>, list: &[SStr]) -> Result<Vec<String>, PolicyError> {
    list.iter()
        .map(|s| {
            let v = s.get_ref();
            let name = v.strip_suffix('*').unwrap_or(v);
            if !is_env_name(name) {
                return Err(ctx.err(
                    &s.span(),
                    format!("env_keep entry {v:?} must be a variable name ([A-Za-z_][A-Za-z0-9_]*) or a PREFIX* pattern"),
                ));
            }
            if is_forbidden_env(name) {
                return Err(ctx.err(&s.span(), format!("env_keep entry {v:?}: LD_* and BASH_FUNC_* are never passed")));
            }
            Ok(v.clone())
        })
        .collect()
}

pub(super) fn umask(ctx: &Ctx<'_>, s: &SStr) -> Result<u32, PolicyError> {
    let v = s.get_ref();
    if v.is_empty() || v.len() > 4 || !v.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(ctx.err(
            &s.span(),
            format!("umask {v:?} must be 1 to 4 octal digits, like \"0022\""),
        ));
    }
    match u32::from_str_radix(v, 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err(ctx.err(
            &s.span(),
            format!("umask {v:?} is out of range (at most 0777)"),
        )),
    }
}

pub(super) fn setenv(ctx: &Ctx<'_>, t: &EnvTable) -> Result<Vec<(String, String)>, PolicyError> {
    t.iter()
        .map(|(k, v)| {
            let name = k.get_ref();
            if !is_env_name(name) {
                return Err(ctx.err(
                    &k.span(),
                    format!("setenv name {name:?} is not a valid variable name"),
                ));
            }
            if is_forbidden_env(name) {
                return Err(ctx.err(
                    &k.span(),
                    format!("setenv {name:?}: LD_* and BASH_FUNC_* variables are never set"),
                ));
            }
            if v.get_ref().contains('\0') {
                return Err(ctx.err(
                    &v.span(),
                    format!("setenv {name:?}: value contains a NUL character"),
                ));
            }
            Ok((name.clone(), v.get_ref().clone()))
        })
        .collect()
}

/// Parse `blake3:<64 hex digits>`.
pub fn parse_digest(s: &str) -> Result<[u8; 32], String> {
    let Some(hex) = s.strip_prefix("blake3:") else {
        return Err(format!(
            "digest {s:?} must be \"blake3:\" followed by 64 hex digits"
        ));
    };
    let b = hex.as_bytes();
    if b.len() != 64 {
        return Err(format!(
            "digest {s:?} must have exactly 64 hex digits after \"blake3:\""
        ));
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16);
        let lo = (pair[1] as char).to_digit(16);
        match (hi, lo, out.get_mut(i)) {
            (Some(h), Some(l), Some(o)) => *o = (h * 16 + l) as u8,
            _ => {
                return Err(format!(
                    "digest {s:?} has a character that is not a hex digit"
                ));
            }
        }
    }
    Ok(out)
}
