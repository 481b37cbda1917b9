//! The command's environment, built from scratch (pure).
//!
//! Kept from the caller: only variables named by `env_keep` (exact names
//! or `PREFIX*` patterns) whose names are plain identifiers and whose
//! values pass the checks below. Never kept, whatever `env_keep` says:
//! `LD_*`, `BASH_FUNC_*`, values starting with `()` (exported shell
//! functions), a `TZ` that is a path or climbs with `..`, values over
//! 4096 bytes, a locale or terminal variable (`LANG`, `LANGUAGE`,
//! `LINGUAS`, `LC_*`, `TERM`, `COLORTERM`) whose value holds `/` or `%`
//! (a path to a caller's message catalog or terminfo, or a format
//! string: sudo's `env_check`), and a `COLUMNS` or `LINES` that is not
//! a short decimal number. The names of the variables `env_keep` matched
//! but a value check dropped are returned for the audit record. Then set: `PATH` (secure_path), `HOME`, `USER`, `LOGNAME`,
//! `SHELL` of the target, `BDEXEC_*` and the `SUDO_*` names scripts
//! already check, then the policy's `setenv`.
#![forbid(unsafe_code)]

use crate::identity::TargetAccount;
use crate::request::Caller;
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

/// Locale and terminal variables whose values name files or are used as
/// format strings: a `/` or `%` in them drops the variable (sudo's
/// `env_check` list; `TZ` has its own check, [`tz_safe`]).
pub fn path_or_format_checked(name: &[u8]) -> bool {
    matches!(
        name,
        b"LANG" | b"LANGUAGE" | b"LINGUAS" | b"TERM" | b"COLORTERM"
    ) || name.starts_with(b"LC_")
}

/// At most this many dropped names are listed (the caller picks how many
/// `LC_*` variables it sets); the rest are counted as `"+N"`.
pub const MAX_DROPPED_LISTED: usize = 16;

fn value_ok(name: &[u8], v: &[u8]) -> bool {
    if v.len() > MAX_VALUE || v.starts_with(b"()") {
        return false;
    }
    if path_or_format_checked(name) && v.iter().any(|b| *b == b'/' || *b == b'%') {
        return false;
    }
    if matches!(name, b"COLUMNS" | b"LINES")
        && !((1..=5).contains(&v.len()) && v.iter().all(u8::is_ascii_digit))
    {
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

/// The built environment and what the value checks removed.
pub struct BuiltEnv {
    /// NAME=VALUE C strings for the command.
    pub envp: Vec<CString>,
    /// Names `env_keep` matched whose values were dropped, in the
    /// caller's order, each once: at most [`MAX_DROPPED_LISTED`] names,
    /// then `"+N"` for the N not listed (never a variable name).
    pub dropped: Vec<String>,
}

/// Build the environment as NAME=VALUE C strings.
pub fn build_env(inp: &EnvInput<'_>) -> BuiltEnv {
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    // The first occurrence of a name decides (getenv's rule): a later
    // duplicate neither replaces a kept value nor revives a dropped one.
    let mut dropped_names: Vec<&[u8]> = Vec::new();
    for (k, v) in inp.caller_env {
        let (k, v) = (k.as_bytes(), v.as_bytes());
        if !valid_name(k)
            || forbidden_name(k)
            || out.iter().any(|(n, _)| n == k)
            || dropped_names.contains(&k)
        {
            continue;
        }
        if !inp.env_keep.iter().any(|p| keep_pattern_matches(p, k)) {
            continue;
        }
        if value_ok(k, v) {
            out.push((k.to_vec(), v.to_vec()));
        } else {
            dropped_names.push(k);
        }
    }
    // A valid name is ASCII, so the conversion is lossless.
    let mut dropped: Vec<String> = dropped_names
        .iter()
        .take(MAX_DROPPED_LISTED)
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    if dropped_names.len() > MAX_DROPPED_LISTED {
        dropped.push(format!("+{}", dropped_names.len() - MAX_DROPPED_LISTED));
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
    // As sudo: a command never starts without TERM (curses programs and
    // shells misbehave); `setenv` below may still set one.
    if !out.iter().any(|(k, _)| k == b"TERM") {
        push(&mut out, b"TERM", b"unknown");
    }
    for list in inp.setenv {
        for (k, v) in list.iter() {
            if valid_name(k.as_bytes()) && !forbidden_name(k.as_bytes()) {
                push(&mut out, k.as_bytes(), v.as_bytes());
            }
        }
    }
    let envp = out
        .into_iter()
        .filter_map(|(mut k, v)| {
            k.push(b'=');
            k.extend_from_slice(&v);
            // Names and values came from C strings or validated policy
            // text; a NUL is impossible, but never panic on it.
            CString::new(k).ok()
        })
        .collect();
    BuiltEnv { envp, dropped }
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
    use crate::request::Target;

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
        build_full(env, keep).0
    }

    fn build_full(env: &[(OsString, OsString)], keep: &[&str]) -> (Vec<String>, Vec<String>) {
        let keep: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
        let set: Vec<(String, String)> = vec![("FOO".into(), "bar".into())];
        let t = target();
        let c = caller();
        let sp = vec![PathBuf::from("/usr/bin"), PathBuf::from("/bin")];
        let built = build_env(&EnvInput {
            caller_env: env,
            env_keep: &keep,
            setenv: &[&set],
            secure_path: &sp,
            target: &t,
            caller: &c,
            command_line: b"/usr/bin/id -u",
        });
        let env = built
            .envp
            .into_iter()
            .map(|c| String::from_utf8_lossy(c.as_bytes()).into_owned())
            .collect();
        (env, built.dropped)
    }

    /// The default env_keep list, as a policy without `[defaults]` has it.
    fn default_keep() -> Vec<&'static str> {
        crate::policy::model::DEFAULT_ENV_KEEP.to_vec()
    }

    #[test]
    fn locale_and_terminal_paths_and_formats_dropped() {
        // A LANGUAGE into the caller's directory made a root `ls` load the
        // caller's catalog; `%p` in a format string leaks pointers.
        let env = vec![
            pair(b"LANGUAGE", b"../../../../home/mallory/evil"),
            pair(b"LANG", b"C.UTF-8/x"),
            pair(b"LC_MESSAGES", b"/home/mallory/cat"),
            pair(b"LC_TIME", b"%p%p%p"),
            pair(b"LINGUAS", b"de/../x"),
            pair(b"TERM", b"../../tmp/terminfo/x"),
            pair(b"COLORTERM", b"%n"),
            pair(b"COLUMNS", b"80"),
            pair(b"LINES", b"-1"),
            pair(b"LC_ALL", b"de_DE.UTF-8"),
        ];
        let mut keep = default_keep();
        keep.push("LINGUAS");
        let (e, dropped) = build_full(&env, &keep);
        for gone in [
            "LANGUAGE=",
            "LANG=",
            "LC_MESSAGES=",
            "LC_TIME=",
            "LINGUAS=",
            "COLORTERM=",
            "LINES=",
        ] {
            assert!(!e.iter().any(|v| v.starts_with(gone)), "{gone} kept: {e:?}");
        }
        // The caller's TERM is dropped; the command gets sudo's stand-in.
        assert!(
            e.iter()
                .filter(|v| v.starts_with("TERM="))
                .eq(["TERM=unknown"].iter())
        );
        assert!(e.contains(&"COLUMNS=80".to_string()));
        assert!(e.contains(&"LC_ALL=de_DE.UTF-8".to_string()));
        assert_eq!(
            dropped,
            [
                "LANGUAGE",
                "LANG",
                "LC_MESSAGES",
                "LC_TIME",
                "LINGUAS",
                "TERM",
                "COLORTERM",
                "LINES"
            ]
        );
        // Ordinary values pass.
        let ok = vec![
            pair(b"LANGUAGE", b"de:en"),
            pair(b"LANG", b"en_US.UTF-8"),
            pair(b"TERM", b"xterm-256color"),
            pair(b"COLORTERM", b"truecolor"),
            pair(b"LINES", b"50"),
        ];
        let (e, dropped) = build_full(&ok, &default_keep());
        assert!(dropped.is_empty());
        for (k, v) in &ok {
            let kv = format!("{}={}", k.to_string_lossy(), v.to_string_lossy());
            assert!(e.contains(&kv), "{kv} dropped");
        }
    }

    #[test]
    fn first_occurrence_decides_and_dropped_list_is_bounded() {
        let mut env = vec![pair(b"LANG", b"/x"), pair(b"LANG", b"C")];
        for i in 0..40 {
            env.push(pair(format!("LC_{i}").as_bytes(), b"%s"));
        }
        let (e, dropped) = build_full(&env, &default_keep());
        assert!(!e.iter().any(|v| v.starts_with("LANG=")));
        assert_eq!(dropped.len(), MAX_DROPPED_LISTED + 1);
        assert_eq!(dropped[0], "LANG");
        assert_eq!(dropped[MAX_DROPPED_LISTED], "+25");
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
    fn term_unknown_when_the_caller_has_none() {
        let e = build(&[], &["TERM"]);
        assert_eq!(e.iter().filter(|v| v.starts_with("TERM=")).count(), 1);
        assert!(e.contains(&"TERM=unknown".to_string()), "{e:?}");
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
        let term: Vec<&String> = e.iter().filter(|v| v.starts_with("TERM=")).collect();
        assert_eq!(term, ["TERM=unknown"], "the hostile TERM is replaced");
        assert!(!e.iter().any(|v| v.starts_with("LANG=")
            || v.starts_with("LC_X")
            || v.starts_with("LC_Y")
            || v.starts_with("LC_Z")
            || v.starts_with("1BAD")));
    }
}
