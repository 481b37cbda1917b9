//! The command's environment, built from scratch (pure).
//!
//! Kept from the caller: only variables named by `env_keep` (exact names
//! or `PREFIX*` patterns) whose names are plain identifiers and whose
//! values pass the checks below. Never kept, whatever `env_keep` says:
//! `LD_*`, `BASH_FUNC_*`, values starting with `()` (exported shell
//! functions), a `TZ` that is a path or climbs with `..`, values over
//! 4096 bytes. Then set: `PATH` (secure_path), `HOME`, `USER`, `LOGNAME`,
//! `SHELL` of the target, `BDEXEC_*` and the `SUDO_*` names scripts
//! already check, then the policy's `setenv`.
#![forbid(unsafe_code)]

use crate::decide::Caller;
use crate::identity::TargetAccount;
use std::ffi::{CString, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// Longest value kept from the caller.
pub const MAX_VALUE: usize = 4096;

/// What the environment is built from.
pub struct EnvInput<'a> {
    pub caller_env: &'a [(OsString, OsString)],
    pub env_keep: &'a [String],
    /// Defaults' setenv then the rule's (later wins).
    pub setenv: &'a [&'a [(String, String)]],
    pub secure_path: &'a [PathBuf],
    pub target: &'a TargetAccount,
    pub caller: &'a Caller,
    /// The command line as one string (path and args), for BDEXEC_COMMAND.
    pub command_line: &'a [u8],
}

/// A plain environment variable name.
pub fn valid_name(n: &[u8]) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && (n[0].is_ascii_alphabetic() || n[0] == b'_')
        && n.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Names that are never passed, whatever the policy says.
pub fn forbidden_name(n: &[u8]) -> bool {
    n.starts_with(b"LD_") || n.starts_with(b"BASH_FUNC_")
}

fn keep_pattern_matches(pattern: &str, name: &[u8]) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix.as_bytes()),
        None => pattern.as_bytes() == name,
    }
}

/// sudo's idea of a safe TZ: not a path, no `..`, printable, short.
pub fn tz_safe(v: &[u8]) -> bool {
    let v = v.strip_prefix(b":").unwrap_or(v);
    !v.is_empty()
        && v.len() < 256
        && v[0] != b'/'
        && !v.windows(2).any(|w| w == b"..")
        && v.iter().all(|b| (0x21..0x7f).contains(b))
}

fn value_ok(name: &[u8], v: &[u8]) -> bool {
    if v.len() > MAX_VALUE || v.starts_with(b"()") {
        return false;
    }
    // C0 controls but tab, DEL, and UTF-8-encoded C1 controls.
    if v.iter().any(|b| (*b < 0x20 && *b != b'\t') || *b == 0x7f)
        || v.windows(2)
            .any(|w| w[0] == 0xc2 && (0x80..0xa0).contains(&w[1]))
    {
        return false;
    }
    name != b"TZ" || tz_safe(v)
}

fn push(out: &mut Vec<(Vec<u8>, Vec<u8>)>, name: &[u8], value: &[u8]) {
    if let Some(slot) = out.iter_mut().find(|(n, _)| n == name) {
        slot.1 = value.to_vec();
    } else {
        out.push((name.to_vec(), value.to_vec()));
    }
}

/// Build the environment as NAME=VALUE C strings.
pub fn build_env(inp: &EnvInput<'_>) -> Vec<CString> {
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for (k, v) in inp.caller_env {
        let (k, v) = (k.as_bytes(), v.as_bytes());
        if !valid_name(k) || forbidden_name(k) || out.iter().any(|(n, _)| n == k) {
            continue;
        }
        if inp.env_keep.iter().any(|p| keep_pattern_matches(p, k)) && value_ok(k, v) {
            out.push((k.to_vec(), v.to_vec()));
        }
    }
    let path: Vec<u8> = inp
        .secure_path
        .iter()
        .map(|p| p.as_os_str().as_bytes())
        .collect::<Vec<_>>()
        .join(&b':');
    // The command line can be as long as argv itself (up to 2 MiB), but a
    // single environment string may not exceed 128 KiB: keep the first
    // MAX_VALUE bytes, as the value is informational.
    let cmdline = &inp.command_line[..inp.command_line.len().min(MAX_VALUE)];
    let t = &inp.target;
    let caller_name = inp
        .caller
        .name
        .clone()
        .unwrap_or_else(|| format!("#{}", inp.caller.uid));
    let fixed: [(&[u8], Vec<u8>); 13] = [
        (b"PATH", path),
        (b"HOME", t.home.as_os_str().as_bytes().to_vec()),
        (b"USER", t.target.name.as_bytes().to_vec()),
        (b"LOGNAME", t.target.name.as_bytes().to_vec()),
        (b"SHELL", t.shell.as_os_str().as_bytes().to_vec()),
        (b"BDEXEC_USER", caller_name.as_bytes().to_vec()),
        (b"BDEXEC_UID", inp.caller.uid.to_string().into_bytes()),
        (b"BDEXEC_GID", inp.caller.gid.to_string().into_bytes()),
        (b"BDEXEC_COMMAND", cmdline.to_vec()),
        (b"SUDO_USER", caller_name.as_bytes().to_vec()),
        (b"SUDO_UID", inp.caller.uid.to_string().into_bytes()),
        (b"SUDO_GID", inp.caller.gid.to_string().into_bytes()),
        (b"SUDO_COMMAND", cmdline.to_vec()),
    ];
    for (k, v) in fixed {
        push(&mut out, k, &v);
    }
    for list in inp.setenv {
        for (k, v) in list.iter() {
            if valid_name(k.as_bytes()) && !forbidden_name(k.as_bytes()) {
                push(&mut out, k.as_bytes(), v.as_bytes());
            }
        }
    }
    out.into_iter()
        .filter_map(|(mut k, v)| {
            k.push(b'=');
            k.extend_from_slice(&v);
            // Names and values came from C strings or validated policy
            // text; a NUL is impossible, but never panic on it.
            CString::new(k).ok()
        })
        .collect()
}

/// Convenience for tests and callers holding `std::env::vars_os()`.
pub fn snapshot_env() -> Vec<(OsString, OsString)> {
    std::env::vars_os().collect()
}

/// Helper for building an env pair from bytes.
pub fn pair(k: &[u8], v: &[u8]) -> (OsString, OsString) {
    (
        OsString::from_vec(k.to_vec()),
        OsString::from_vec(v.to_vec()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::Target;

    fn target() -> TargetAccount {
        TargetAccount {
            target: Target {
                uid: 0,
                gid: 0,
                name: "root".into(),
                gids: Vec::new(),
                group_names: Vec::new(),
            },
            home: "/root".into(),
            shell: "/bin/bash".into(),
        }
    }

    fn caller() -> Caller {
        Caller {
            uid: 1500,
            gid: 1500,
            name: Some("alice".into()),
            gids: vec![1500],
            group_names: vec![],
        }
    }

    fn build(env: &[(OsString, OsString)], keep: &[&str]) -> Vec<String> {
        let keep: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
        let set: Vec<(String, String)> = vec![("FOO".into(), "bar".into())];
        let t = target();
        let c = caller();
        let sp = vec![PathBuf::from("/usr/bin"), PathBuf::from("/bin")];
        build_env(&EnvInput {
            caller_env: env,
            env_keep: &keep,
            setenv: &[&set],
            secure_path: &sp,
            target: &t,
            caller: &c,
            command_line: b"/usr/bin/id -u",
        })
        .into_iter()
        .map(|c| String::from_utf8_lossy(c.as_bytes()).into_owned())
        .collect()
    }

    #[test]
    fn from_scratch() {
        let env = vec![
            pair(b"TERM", b"xterm"),
            pair(b"LC_ALL", b"C"),
            pair(b"PATH", b"/tmp/evil"),
            pair(b"LD_PRELOAD", b"/tmp/x.so"),
            pair(b"BASH_FUNC_ls%%", b"() { :; }"),
            pair(b"TZ", b"/etc/shadow"),
            pair(b"HOME", b"/home/alice"),
            pair(b"SECRET", b"x"),
        ];
        let e = build(
            &env,
            &["TERM", "LC_*", "LD_PRELOAD", "TZ", "HOME", "BASH_FUNC_*"],
        );
        assert!(e.contains(&"TERM=xterm".to_string()));
        assert!(e.contains(&"LC_ALL=C".to_string()));
        assert!(e.contains(&"PATH=/usr/bin:/bin".to_string()));
        assert!(e.contains(&"HOME=/root".to_string()));
        assert!(e.contains(&"USER=root".to_string()));
        assert!(e.contains(&"BDEXEC_USER=alice".to_string()));
        assert!(e.contains(&"SUDO_UID=1500".to_string()));
        assert!(e.contains(&"FOO=bar".to_string()));
        assert!(!e.iter().any(|v| v.starts_with("LD_")
            || v.starts_with("BASH_FUNC")
            || v.starts_with("TZ=")
            || v.starts_with("SECRET")));
        assert_eq!(e.iter().filter(|v| v.starts_with("PATH=")).count(), 1);
    }

    #[test]
    fn tz_rules() {
        assert!(tz_safe(b"Europe/Berlin"));
        assert!(tz_safe(b":Europe/Berlin"));
        assert!(tz_safe(b"UTC"));
        assert!(!tz_safe(b"/etc/shadow"));
        assert!(!tz_safe(b":/etc/shadow"));
        assert!(!tz_safe(b"../../etc/shadow"));
        assert!(!tz_safe(b"Europe/\x1b[2J"));
        assert!(!tz_safe(b""));
    }

    #[test]
    fn bad_values_dropped() {
        let env = vec![
            pair(b"TERM", b"() { :; }; echo pwned"),
            pair(b"LANG", &[b'x'; MAX_VALUE + 1]),
            pair(b"LC_X", b"a\nb"),
            pair(b"LC_Y", b"a\x7fb"),
            pair(b"LC_Z", "a\u{9b}b".as_bytes()),
            pair(b"1BAD", b"x"),
        ];
        let e = build(&env, &["TERM", "LANG", "LC_*", "1BAD"]);
        assert!(!e.iter().any(|v| v.starts_with("TERM=")
            || v.starts_with("LANG=")
            || v.starts_with("LC_X")
            || v.starts_with("LC_Y")
            || v.starts_with("LC_Z")
            || v.starts_with("1BAD")));
    }
}
