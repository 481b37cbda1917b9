//! Sandbox profiles: names, capabilities, Landlock paths, ports and scopes,
//! seccomp syscall lists.
#![forbid(unsafe_code)]

use super::*;

// ---------------------------------------------------------------- sandbox

/// Whether `s` is a valid sandbox profile name: `[A-Za-z0-9_-]+`.
pub fn is_profile_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub(super) fn profile_name(ctx: &Ctx<'_>, s: &SStr) -> Result<String, PolicyError> {
    let v = s.get_ref();
    if !is_profile_name(v) {
        return Err(ctx.err(
            &s.span(),
            format!("sandbox profile name {v:?} must match [A-Za-z0-9_-]+"),
        ));
    }
    Ok(v.clone())
}

/// A `sandbox = "NAME"` reference: syntax only here; [`merge`] checks that
/// the profile exists.
pub(super) fn profile_ref(ctx: &Ctx<'_>, s: &SStr) -> Result<String, PolicyError> {
    profile_name(ctx, s)
}

/// Normalise a capability name (`"CAP_NET_ADMIN"`, `"net_admin"`, any case)
/// to lower case without the `cap_` prefix; `None` when the kernel has no
/// such capability (as known to the `caps` crate).
pub fn normalize_cap(s: &str) -> Option<String> {
    let lower = s.to_ascii_lowercase();
    let bare = lower.strip_prefix("cap_").unwrap_or(&lower);
    if bare.is_empty() || !bare.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return None;
    }
    let upper = format!("CAP_{}", bare.to_ascii_uppercase());
    upper
        .parse::<caps::Capability>()
        .ok()
        .map(|_| bare.to_string())
}

pub(super) fn capabilities(ctx: &Ctx<'_>, list: &[SStr]) -> Result<Vec<String>, PolicyError> {
    let mut out = list
        .iter()
        .map(|c| {
            normalize_cap(c.get_ref()).ok_or_else(|| {
                ctx.err(
                    &c.span(),
                    format!(
                        "unknown capability {:?} (write a name from capabilities(7), like \"net_bind_service\")",
                        c.get_ref()
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// Landlock path lists: absolute, no `.` or `..` components, no NUL.
/// Normalised (repeated and trailing slashes dropped), sorted, deduplicated.
/// Existence is not checked here (see `lint::lint_paths`).
pub(super) fn sandbox_paths(
    ctx: &Ctx<'_>,
    key: &str,
    list: &[SStr],
) -> Result<Vec<PathBuf>, PolicyError> {
    let mut out = list
        .iter()
        .map(|s| {
            let v = s.get_ref();
            if clean_abs_dir(v) {
                Ok(Path::new(v).components().collect::<PathBuf>())
            } else {
                Err(ctx.err(
                    &s.span(),
                    format!("landlock {key} path {v:?} must be absolute, without '.' or '..' components or NUL"),
                ))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

pub(super) fn ports(
    ctx: &Ctx<'_>,
    key: &str,
    list: &[Spanned<i64>],
) -> Result<Vec<u16>, PolicyError> {
    let mut out = list
        .iter()
        .map(|p| match u16::try_from(*p.get_ref()) {
            Ok(port) if port != 0 => Ok(port),
            _ => Err(ctx.err(
                &p.span(),
                format!("{key} port {} is out of range (1 to 65535)", p.get_ref()),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The highest Landlock ABI this build knows (Linux 6.12 has ABI 6,
/// 6.15 has ABI 7).
pub const MAX_LANDLOCK_ABI: u32 = 7;

pub(super) fn landlock(ctx: &Ctx<'_>, l: &RawLandlock) -> Result<LandlockSpec, PolicyError> {
    let paths = |key: &str, v: &Option<Vec<SStr>>| match v {
        Some(list) => sandbox_paths(ctx, key, list),
        None => Ok(Vec::new()),
    };
    let port_list = |key: &str, v: &Option<Vec<Spanned<i64>>>| match v {
        Some(list) => ports(ctx, key, list).map(Some),
        None => Ok(None),
    };
    let mut scope_abstract_unix = false;
    let mut scope_signals = false;
    for s in l.scope.as_deref().unwrap_or_default() {
        match s.get_ref().as_str() {
            "abstract_unix" => scope_abstract_unix = true,
            "signal" => scope_signals = true,
            other => {
                return Err(ctx.err(
                    &s.span(),
                    format!("landlock scope {other:?} must be \"abstract_unix\" or \"signal\""),
                ));
            }
        }
    }
    let min_abi = match &l.min_abi {
        None => None,
        Some(a) => match u32::try_from(*a.get_ref()) {
            Ok(v) if (1..=MAX_LANDLOCK_ABI).contains(&v) => Some(v),
            _ => {
                return Err(ctx.err(
                    &a.span(),
                    format!(
                        "min_abi {} is not a known Landlock ABI (1 to {MAX_LANDLOCK_ABI}; omit it for best effort)",
                        a.get_ref()
                    ),
                ));
            }
        },
    };
    Ok(LandlockSpec {
        read: paths("read", &l.read)?,
        write: paths("write", &l.write)?,
        exec: paths("exec", &l.exec)?,
        bind_tcp: port_list("bind_tcp", &l.bind_tcp)?,
        connect_tcp: port_list("connect_tcp", &l.connect_tcp)?,
        scope_abstract_unix,
        scope_signals,
        scope_default: l.scope.is_none(),
        min_abi,
    })
}

/// Check syscall names and `@group` names against the runtime's table.
/// Sorted and deduplicated (order has no meaning).
pub(super) fn syscall_names(
    ctx: &Ctx<'_>,
    key: &str,
    list: &[SStr],
) -> Result<Vec<String>, PolicyError> {
    let mut out = list
        .iter()
        .map(|s| {
            let v = s.get_ref();
            // A known name; a group's members are known by construction.
            syscalls::check(v).map_err(|m| ctx.err(&s.span(), format!("seccomp {key}: {m}")))?;
            Ok(v.clone())
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

pub(super) fn seccomp(ctx: &Ctx<'_>, s: &RawSeccomp) -> Result<SeccompSpec, PolicyError> {
    let action = match &s.action {
        None => SeccompAction::Errno,
        Some(a) => match a.get_ref().as_str() {
            "kill" => SeccompAction::Kill,
            "errno" => SeccompAction::Errno,
            "log" => SeccompAction::Log,
            other => {
                return Err(ctx.err(
                    &a.span(),
                    format!("seccomp action {other:?} must be \"kill\", \"errno\" or \"log\""),
                ));
            }
        },
    };
    Ok(SeccompSpec {
        allow: syscall_names(ctx, "allow", s.allow.as_deref().unwrap_or_default())?,
        deny: syscall_names(ctx, "deny", s.deny.as_deref().unwrap_or_default())?,
        action,
    })
}

pub(super) fn profile(
    ctx: &Ctx<'_>,
    name: &SStr,
    raw: &RawProfile,
) -> Result<SandboxProfile, PolicyError> {
    Ok(SandboxProfile {
        name: profile_name(ctx, name)?,
        landlock: match &raw.landlock {
            Some(l) => Some(landlock(ctx, l.get_ref())?),
            None => None,
        },
        seccomp: match &raw.seccomp {
            Some(s) => Some(seccomp(ctx, s.get_ref())?),
            None => None,
        },
        origin: ctx.origin(&name.span()),
    })
}
