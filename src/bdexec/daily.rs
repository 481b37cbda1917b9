//! The request parts of sudo's daily flags (issue 13), for `authorize`:
//! the command line `-s` and `-i` run (the shell, `-c` with sudo's
//! escaping), the group `-g` names, and the directory `-D` names.
#![forbid(unsafe_code)]

use super::Refusal;
use super::recv::Ctx;
use crate::bdexec::cli::BdexecArgs;
use crate::identity::{self, TargetAccount, nss};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// The group of `-g`, resolved through NSS.
pub(super) struct AskedGroup {
    pub gid: u32,
    pub name: Option<String>,
}

/// `-g GROUP`: a group name or `#gid` (`#-1` and 4294967295 refused, as
/// for `-u`); an unknown group is refused.
pub(super) fn group(arg: &OsStr) -> Result<AskedGroup, Refusal> {
    let shown = crate::base::escape::display(arg.as_bytes());
    let bad = || Refusal::denied(format!("invalid group {shown}"));
    let s = std::str::from_utf8(arg.as_bytes()).map_err(|_| bad())?;
    let found = if let Some(d) = s.strip_prefix('#') {
        let gid = identity::parse_id(d).ok_or_else(bad)?;
        nss::group_by_gid(gid)
            .map_err(|e| Refusal::denied(format!("group lookup failed: {shown}: {e}")))?
            .map(|g| (gid, Some(g.name)))
            .ok_or_else(|| Refusal::denied(format!("unknown group {shown}")))?
    } else if identity::valid_name(s) {
        nss::group_by_name(s)
            .map_err(|e| Refusal::denied(format!("group lookup failed: {shown}: {e}")))?
            .map(|g| (g.gid.as_raw(), Some(g.name)))
            .ok_or_else(|| Refusal::denied(format!("unknown group {shown}")))?
    } else {
        return Err(bad());
    };
    if found.0 == u32::MAX {
        return Err(bad());
    }
    Ok(AskedGroup {
        gid: found.0,
        name: found.1,
    })
}

/// The command line to decide on: the command as given, or for `-s` the
/// shell ($SHELL when set and absolute, else the caller's login shell)
/// and for `-i` the target's login shell, with `-c 'CMD ARGS'` when a
/// command follows (sudo's escaping, [`escape_for_shell`]). The shell is
/// matched against the policy like any command: there is no fallback.
pub(super) fn command(
    ctx: &Ctx,
    opts: &BdexecArgs,
    target: Option<&TargetAccount>,
) -> Result<Vec<OsString>, Refusal> {
    let d = &opts.daily;
    if !d.shell && !d.login {
        return Ok(opts.command.clone());
    }
    let shell: PathBuf = if d.login {
        match target {
            Some(t) if !t.shell.as_os_str().is_empty() => t.shell.clone(),
            _ => PathBuf::from("/bin/sh"),
        }
    } else {
        match std::env::var_os("SHELL") {
            Some(s) if s.as_bytes().first() == Some(&b'/') => PathBuf::from(s),
            _ => nss::or_none(nss::user_by_uid(ctx.caller.uid))
                .map_err(|e| Refusal::denied(e.to_string()))?
                .map(|u| u.shell)
                .filter(|s| !s.as_os_str().is_empty())
                .unwrap_or_else(|| PathBuf::from("/bin/sh")),
        }
    };
    let mut out = vec![shell.into_os_string()];
    if !opts.command.is_empty() {
        out.push(OsString::from("-c"));
        out.push(OsString::from_vec(escape_for_shell(&opts.command)));
    }
    Ok(out)
}

/// sudo's escaping of `-s`/`-i` arguments: every byte that is not
/// alphanumeric, `_`, `-` or `$` gets a backslash; the arguments are
/// joined with single spaces.
pub fn escape_for_shell(args: &[OsString]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        for &b in a.as_bytes() {
            if !b.is_ascii_alphanumeric() && b != b'_' && b != b'-' && b != b'$' {
                out.push(b'\\');
            }
            out.push(b);
        }
    }
    out
}

/// `argv[0]` of a login shell: `-` and the shell's base name.
pub(super) fn login_argv0(argv0: &[u8]) -> Vec<u8> {
    let base = argv0.rsplit(|b| *b == b'/').next().unwrap_or(argv0);
    let mut v = vec![b'-'];
    v.extend_from_slice(base);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_is_sudos() {
        let a = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(escape_for_shell(&a(&["echo", "a b"])), b"echo a\\ b");
        assert_eq!(
            escape_for_shell(&a(&["ls", "-l", "$HOME;rm", "x'y"])),
            b"ls -l $HOME\\;rm x\\'y"
        );
        assert_eq!(escape_for_shell(&a(&["a_b"])), b"a_b");
        assert_eq!(login_argv0(b"/bin/bash"), b"-bash");
        assert_eq!(login_argv0(b"sh"), b"-sh");
    }
}
