//! Policy lint for `bdctl policy check`.
//!
//! [`lint`] is pure: it looks at the parsed policy only. Today it warns
//! about rules that hand out a shell: a command that can run other
//! commands or spawn a shell (shells, `su`, editors, pagers, interpreters,
//! `env`, `find` with free arguments, ...) granted with `auth = "none"`,
//! or granted with free trailing arguments (`*`); and about deny entries
//! with fixed arguments (`/bin/sh` in a deny rule denies only `sh` with no
//! arguments, so `sh -c ...` is not denied).
//!
//!
//! Sandbox and capability findings (also pure): a profile that grants
//! write access to `/` or to a system tree (`/etc`, `/usr`, `/bin`, `/sbin`,
//! `/lib*`, `/boot`, `/root`), read or execute access to `/`, or uses the
//! seccomp `log` action (learning mode: only the baseline is enforced) is a
//! WARN, as is a `min_abi` below what the profile's own features need
//! (ports: ABI 4, scopes: ABI 6); a profile that no rule uses is an INFO; a rule that grants a
//! capability that is as good as root (see [`ROOT_EQUIVALENT_CAPS`]) is a
//! WARN.
//!
//! [`lint_paths`] does I/O (stat) and is used only by bdctl: a command
//! path that does not exist is an ERROR (the rule can never match), and a
//! command or one of its directories that is writable by group/others or
//! not owned by root is a WARN (whoever can write it can run anything
//! through the rule). A Landlock path of a profile that does not exist is
//! a WARN (it is not granted; the profile is applied without it), and so
//! is one that goes through a symlink (Landlock grants what it resolves
//! to at call time).
#![forbid(unsafe_code)]

use crate::policy::cmdline::render;
use crate::policy::model::{
    Args, Auth, CommandSpec, Origin, Policy, Rule, SandboxProfile, SeccompAction,
};
use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warn,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Warn => "WARN",
            Severity::Info => "INFO",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// The rule the finding is about, where it applies.
    pub origin: Option<Origin>,
    pub message: String,
}

impl fmt::Display for Finding {
    /// `file:line:col: SEVERITY: message` (or `SEVERITY: message`), one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(o) = &self.origin {
            crate::policy::one_line(&o.to_string(), f)?;
            f.write_str(": ")?;
        }
        write!(f, "{}: ", self.severity)?;
        crate::policy::one_line(&self.message, f)
    }
}

/// Commands that give a shell or run arbitrary commands, by basename.
const SHELL_LIKE: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "ash", "fish", "busybox", "su",
    "sudo", "doas", "bdexec", "vi", "vim", "nvim", "view", "rvim", "ex", "ed", "nano", "emacs",
    "less", "more", "man", "perl", "ruby", "node", "nodejs", "env", "awk", "gawk", "mawk", "nawk",
    "xargs", "script", "screen", "tmux", "expect",
];

/// Interpreter families matched by prefix (`python3.12`, `lua5.4`, ...).
const SHELL_LIKE_PREFIX: &[&str] = &["python", "perl", "ruby", "lua", "php", "tclsh", "wish"];

/// Whether a command entry gives its user a shell (or an arbitrary
/// command). `find` only counts with free arguments (`-exec`).
pub fn gives_shell(spec: &CommandSpec) -> bool {
    let Some(base) = spec.path.file_name().and_then(|b| b.to_str()) else {
        return false;
    };
    if base == "find" {
        return matches!(spec.args, Args::Prefix(_));
    }
    SHELL_LIKE.contains(&base) || SHELL_LIKE_PREFIX.iter().any(|p| base.starts_with(p))
}

fn finding(severity: Severity, rule: &Rule, message: String) -> Finding {
    Finding {
        severity,
        origin: Some(rule.origin.clone()),
        message,
    }
}

/// Capabilities that amount to root (or to getting it): granting one is
/// handing out root with extra steps.
pub const ROOT_EQUIVALENT_CAPS: &[&str] = &[
    "sys_admin",
    "sys_module",
    "sys_ptrace",
    "dac_override",
    "dac_read_search",
    "setuid",
    "setgid",
    "setpcap",
    "sys_rawio",
    "bpf",
    "chown",
    "fowner",
];

/// Whether a write grant covers a whole system tree.
fn is_broad_write(path: &Path) -> bool {
    let Some(s) = path.to_str() else {
        return false;
    };
    matches!(
        s,
        "/" | "/etc" | "/usr" | "/bin" | "/sbin" | "/boot" | "/root"
    ) || s
        .strip_prefix("/lib")
        .is_some_and(|rest| !rest.contains('/'))
}

fn profile_finding(severity: Severity, profile: &SandboxProfile, message: String) -> Finding {
    Finding {
        severity,
        origin: Some(profile.origin.clone()),
        message,
    }
}

fn lint_sandboxes(p: &Policy, out: &mut Vec<Finding>) {
    for profile in &p.sandboxes {
        let name = &profile.name;
        if let Some(l) = &profile.landlock {
            for path in l.write.iter().filter(|w| is_broad_write(w)) {
                out.push(profile_finding(
                    Severity::Warn,
                    profile,
                    format!(
                        "sandbox {name:?}: write access to {} is a broad grant (the command can change the system there)",
                        path.display()
                    ),
                ));
            }
            let needs = [
                (l.bind_tcp.is_some(), "bind_tcp", 4),
                (l.connect_tcp.is_some(), "connect_tcp", 4),
                (l.scope_abstract_unix || l.scope_signals, "scope", 6),
            ];
            if let Some(min) = l.min_abi {
                for (_, key, abi) in needs.iter().filter(|(used, _, abi)| *used && min < *abi) {
                    out.push(profile_finding(
                        Severity::Warn,
                        profile,
                        format!(
                            "sandbox {name:?}: min_abi {min} does not cover {key} (Landlock ABI {abi}): on an older \
                             kernel the profile is applied without it; write min_abi = {abi} to require it"
                        ),
                    ));
                }
            }
            for (key, list) in [("read", &l.read), ("exec", &l.exec)] {
                if list.iter().any(|x| x == Path::new("/")) {
                    out.push(profile_finding(
                        Severity::Warn,
                        profile,
                        format!("sandbox {name:?}: {key} access to / is a broad grant (the whole file system)"),
                    ));
                }
            }
        }
        if profile
            .seccomp
            .as_ref()
            .is_some_and(|s| s.action == SeccompAction::Log)
        {
            out.push(profile_finding(
                Severity::Warn,
                profile,
                format!(
                    "sandbox {name:?}: seccomp action \"log\" is learning mode: denied calls are only logged, \
                     and only the baseline denials are enforced"
                ),
            ));
        }
        let used = p.defaults.sandbox.as_deref() == Some(name.as_str())
            || p.rules
                .iter()
                .any(|r| r.sandbox.as_deref() == Some(name.as_str()));
        if !used {
            out.push(profile_finding(
                Severity::Info,
                profile,
                format!("sandbox {name:?} is not used by any rule (nor by [defaults])"),
            ));
        }
    }
    for rule in &p.rules {
        for cap in rule
            .caps
            .iter()
            .filter(|c| ROOT_EQUIVALENT_CAPS.contains(&c.as_str()))
        {
            out.push(finding(
                Severity::Warn,
                rule,
                format!(
                    "rule {:?}: capability {cap} is root-equivalent (the command can gain full root with it)",
                    rule.name
                ),
            ));
        }
    }
}

/// Pure lint of a parsed policy.
pub fn lint(p: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    lint_sandboxes(p, &mut out);
    for rule in p.rules.iter().filter(|r| r.is_deny()) {
        for spec in rule
            .commands
            .iter()
            .filter(|c| !matches!(c.args, Args::Prefix(_)))
        {
            out.push(finding(
                Severity::Warn,
                rule,
                format!(
                    "deny rule {:?}: {:?} denies only exactly these arguments; the same command with other \
                     arguments is not denied (write \"{} *\" to deny every use)",
                    rule.name,
                    render(spec),
                    crate::policy::cmdline::render_parts(&spec.path, &Args::None),
                ),
            ));
        }
    }
    for rule in p.rules.iter().filter(|r| !r.is_deny()) {
        for spec in rule.commands.iter().filter(|c| gives_shell(c)) {
            let cmd = render(spec);
            if rule.auth == Auth::None {
                out.push(finding(
                    Severity::Warn,
                    rule,
                    format!(
                        "rule {:?}: {cmd:?} can give a shell and needs no authentication (auth = \"none\")",
                        rule.name
                    ),
                ));
            }
            if matches!(spec.args, Args::Prefix(_)) {
                out.push(finding(
                    Severity::Warn,
                    rule,
                    format!(
                        "rule {:?}: {cmd:?} can give a shell and allows any further arguments",
                        rule.name
                    ),
                ));
            }
        }
    }
    out
}

fn check_owner_mode(rule: &Rule, what: &str, path: &Path, out: &mut Vec<Finding>) {
    let Ok(md) = std::fs::metadata(path) else {
        return;
    };
    if md.uid() != 0 {
        out.push(finding(
            Severity::Warn,
            rule,
            format!(
                "rule {:?}: {what} {} is owned by uid {}, not root",
                rule.name,
                path.display(),
                md.uid()
            ),
        ));
    }
    // A sticky directory (like /tmp) still lets anyone create entries but
    // not replace others'; it is reported too: commands do not belong there.
    if md.mode() & 0o022 != 0 {
        out.push(finding(
            Severity::Warn,
            rule,
            format!(
                "rule {:?}: {what} {} is writable by group or others (mode {:04o})",
                rule.name,
                path.display(),
                md.mode() & 0o7777
            ),
        ));
    }
}

/// The Landlock paths of a profile that do not exist (WARN: not granted,
/// the profile is applied without them) or that go through a symlink
/// (WARN: Landlock grants what the path resolves to when bdexec runs).
fn lint_sandbox_paths(p: &Policy, out: &mut Vec<Finding>) {
    for profile in &p.sandboxes {
        let Some(l) = &profile.landlock else {
            continue;
        };
        let name = &profile.name;
        for (key, list) in [("read", &l.read), ("write", &l.write), ("exec", &l.exec)] {
            for path in list {
                match std::fs::canonicalize(path) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => out.push(profile_finding(
                        Severity::Warn,
                        profile,
                        format!(
                            "sandbox {name:?}: {key} {}: missing path: not granted; the profile is applied without it",
                            path.display()
                        ),
                    )),
                    Err(e) => out.push(profile_finding(
                        Severity::Warn,
                        profile,
                        format!(
                            "sandbox {name:?}: {key} {}: cannot be checked ({e}); if bdexec cannot open it either, it is not granted",
                            path.display()
                        ),
                    )),
                    // Parsed paths are absolute and normalised, so any
                    // difference comes from a symlink on the way.
                    Ok(real) if real != *path => out.push(profile_finding(
                        Severity::Warn,
                        profile,
                        format!(
                            "sandbox {name:?}: {key} {} goes through a symlink: Landlock grants its target as resolved \
                             at call time (now {})",
                            path.display(),
                            real.display()
                        ),
                    )),
                    Ok(_) => {}
                }
            }
        }
    }
}

/// Lint that looks at the file system (bdctl only): every command path
/// must exist and be a regular file; it and its directories should be
/// root-owned and not writable by group or others. Symlinks are followed,
/// as the decision follows them; each path is checked once per rule.
/// Sandbox profile paths are checked by `lint_sandbox_paths`.
pub fn lint_paths(p: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    lint_sandbox_paths(p, &mut out);
    for rule in &p.rules {
        let mut seen: Vec<&Path> = Vec::new();
        for spec in &rule.commands {
            let path = spec.path.as_path();
            if seen.contains(&path) {
                continue;
            }
            seen.push(path);
            match std::fs::metadata(path) {
                Err(e) => {
                    let severity = if rule.is_deny() {
                        Severity::Warn
                    } else {
                        Severity::Error
                    };
                    out.push(finding(
                        severity,
                        rule,
                        format!(
                            "rule {:?}: command {}: {e} (the entry can never match)",
                            rule.name,
                            path.display()
                        ),
                    ));
                    continue;
                }
                Ok(md) if !md.is_file() => {
                    out.push(finding(
                        Severity::Error,
                        rule,
                        format!(
                            "rule {:?}: command {} is not a regular file",
                            rule.name,
                            path.display()
                        ),
                    ));
                    continue;
                }
                Ok(_) => {}
            }
            if rule.is_deny() {
                continue;
            }
            // Check the file as it resolves (following symlinks), and each
            // directory on the resolved path.
            let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            check_owner_mode(rule, "command", &real, &mut out);
            for dir in real.ancestors().skip(1) {
                check_owner_mode(rule, "directory of command", dir, &mut out);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse::parse_main;

    fn pol(rules: &str) -> Policy {
        match parse_main(&format!("version = 1\n{rules}"), Path::new("/p.toml")) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn shells_without_auth_and_with_free_args() {
        let p = pol(
            "[[rule]]\nname = \"a\"\nusers = [\"u\"]\nauth = \"none\"\ncommands = [\"/bin/bash\", \"/usr/bin/python3.12 x.py\", \"/usr/bin/id\", \"/usr/bin/find /var\"]\n\
             [[rule]]\nname = \"b\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/less *\", \"/usr/bin/find / *\", \"/usr/bin/journalctl *\"]\n\
             [[rule]]\nname = \"c\"\nusers = [\"u\"]\nauth = \"none\"\naction = \"deny\"\ncommands = [\"/bin/sh *\"]\n",
        );
        let f = lint(&p);
        let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
        assert_eq!(f.len(), 4, "{msgs:#?}");
        assert!(lint(&pol("")).is_empty());
        assert!(f.iter().all(|f| f.severity == Severity::Warn));
        assert!(
            msgs[0].starts_with("/p.toml:2:1: WARN: rule \"a\": \"/bin/bash\""),
            "{}",
            msgs[0]
        );
        assert!(msgs[1].contains("python3.12"), "{}", msgs[1]);
        assert!(
            msgs[2].contains("/usr/bin/less *") && msgs[2].contains("any further"),
            "{}",
            msgs[2]
        );
        assert!(msgs[3].contains("/usr/bin/find / *"), "{}", msgs[3]);
    }

    #[test]
    fn deny_with_fixed_arguments_is_bypassable() {
        let p = pol(
            "[[rule]]\nname = \"d\"\nusers = [\"u\"]\naction = \"deny\"\ncommands = [\"/bin/sh\", \"/bin/rm -rf /\", \"/bin/ls *\"]\n",
        );
        let f = lint(&p);
        let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
        assert_eq!(f.len(), 2, "{msgs:#?}");
        assert!(msgs[0].contains("write \"/bin/sh *\""), "{}", msgs[0]);
        assert!(msgs[1].contains("/bin/rm -rf /"), "{}", msgs[1]);
    }

    #[test]
    fn severity_display() {
        assert_eq!(Severity::Error.to_string(), "ERROR");
        assert_eq!(Severity::Warn.to_string(), "WARN");
        assert_eq!(Severity::Info.to_string(), "INFO");
        assert!(Severity::Error > Severity::Warn && Severity::Warn > Severity::Info);
        let f = Finding {
            severity: Severity::Info,
            origin: None,
            message: "x\ny".into(),
        };
        assert_eq!(f.to_string(), "INFO: x\\ny");
    }

    #[test]
    fn paths_on_disk() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let exe = tmp.path().join("tool");
        std::fs::write(&exe, "#!/bin/sh\n").expect("write");
        let p = pol(&format!(
            "[[rule]]\nname = \"a\"\nusers = [\"u\"]\ncommands = [\"/nonexistent/belladonna-x\", \"{0}\", \"{0} *\", \"/usr\"]\n",
            exe.display()
        ));
        let f = lint_paths(&p);
        let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
        assert!(
            msgs[0].contains("ERROR") && msgs[0].contains("/nonexistent/belladonna-x"),
            "{msgs:#?}"
        );
        // The temp dir's parent (/tmp) is world-writable: a WARN, checked
        // once for the two entries naming the same file.
        assert!(
            msgs.iter()
                .any(|m| m.contains("WARN") && m.contains("writable by group or others")),
            "{msgs:#?}"
        );
        let tmp_warnings = msgs
            .iter()
            .filter(|m| m.contains(&format!("command {} ", exe.display())))
            .count();
        assert!(tmp_warnings <= 2, "{msgs:#?}");
        assert!(
            msgs.iter()
                .any(|m| m.contains("ERROR") && m.contains("/usr is not a regular file")),
            "{msgs:#?}"
        );
        // A root-owned system binary gives no finding.
        let ok = pol("[[rule]]\nname = \"a\"\nusers = [\"u\"]\ncommands = [\"/bin/sh -c x\"]\n");
        if nix::unistd::geteuid().is_root()
            || std::fs::metadata("/bin/sh")
                .map(|m| m.uid() == 0)
                .unwrap_or(false)
        {
            assert!(lint_paths(&ok).is_empty(), "{:?}", lint_paths(&ok));
        }
    }
    #[test]
    fn sandbox_findings() {
        let p = pol("[defaults]\nsandbox = \"dflt\"\n\
             [sandbox.dflt]\n\
             [sandbox.wide.landlock]\nread = [\"/\"]\nexec = [\"/\", \"/usr/bin\"]\n\
             write = [\"/etc\", \"/usr\", \"/lib64\", \"/lib\", \"/boot\", \"/root\", \"/bin\", \"/sbin\", \"/\", \"/var/log\", \"/etc/nginx\", \"/libexec/x\"]\n\
             [sandbox.learn.seccomp]\naction = \"log\"\n\
             [sandbox.unused.seccomp]\ndeny = [\"@mount\"]\n\
             [[rule]]\nname = \"a\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/id\"]\nsandbox = \"wide\"\n\
             caps = [\"net_bind_service\", \"sys_admin\", \"CAP_DAC_OVERRIDE\", \"kill\"]\n\
             [[rule]]\nname = \"b\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/id\"]\nsandbox = \"learn\"\n");
        let f = lint(&p);
        let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
        let count = |needle: &str| msgs.iter().filter(|m| m.contains(needle)).count();
        assert_eq!(
            count("WARN: sandbox \"wide\": write access to"),
            9,
            "{msgs:#?}"
        );
        for broad in [
            "/etc ", "/usr ", "/lib64 ", "/lib ", "/boot ", "/root ", "/bin ", "/sbin ", "/ ",
        ] {
            assert_eq!(
                count(&format!("write access to {broad}")),
                1,
                "{broad}: {msgs:#?}"
            );
        }
        assert_eq!(count("read access to / "), 1, "{msgs:#?}");
        assert_eq!(count("exec access to / "), 1, "{msgs:#?}");
        assert_eq!(
            count("/p.toml:9:10: WARN: sandbox \"learn\": seccomp action \"log\""),
            1,
            "{msgs:#?}"
        );
        assert_eq!(
            count("INFO: sandbox \"unused\" is not used"),
            1,
            "{msgs:#?}"
        );
        assert_eq!(count("is not used"), 1, "{msgs:#?}");
        assert_eq!(
            count("WARN: rule \"a\": capability sys_admin is root-equivalent"),
            1
        );
        assert_eq!(count("capability dac_override is root-equivalent"), 1);
        assert_eq!(count("root-equivalent"), 2, "{msgs:#?}");
        assert_eq!(f.len(), 9 + 2 + 1 + 1 + 2, "{msgs:#?}");
        let p = pol(
            "[sandbox.a.landlock]\nmin_abi = 3\nbind_tcp = [80]\nscope = [\"signal\"]\n\
             [sandbox.b.landlock]\nmin_abi = 6\nbind_tcp = [80]\nscope = [\"signal\"]\n\
             [[rule]]\nname = \"r\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/id\"]\nsandbox = \"a\"\n\
             [[rule]]\nname = \"s\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/id\"]\nsandbox = \"b\"\n",
        );
        let msgs: Vec<String> = lint(&p).iter().map(|f| f.to_string()).collect();
        assert_eq!(msgs.len(), 2, "{msgs:#?}");
        assert!(
            msgs[0].contains("\"a\": min_abi 3 does not cover bind_tcp (Landlock ABI 4)"),
            "{msgs:#?}"
        );
        assert!(
            msgs[1].contains("\"a\": min_abi 3 does not cover scope (Landlock ABI 6)"),
            "{msgs:#?}"
        );
        for cap in ROOT_EQUIVALENT_CAPS {
            assert_eq!(
                crate::policy::parse::normalize_cap(cap).as_deref(),
                Some(*cap)
            );
        }
    }

    #[test]
    fn sandbox_paths_on_disk() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).expect("mkdir");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).expect("symlink");
        let real_tmp = std::fs::canonicalize(tmp.path()).expect("canonicalize");
        let p = pol(&format!(
            "[sandbox.s.landlock]\nread = [\"{0}/data\", \"{0}/link/x\", \"{0}/link\"]\nwrite = [\"/nonexistent/belladonna-y\"]\n",
            real_tmp.display()
        ));
        let f = lint_paths(&p);
        let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
        assert_eq!(f.len(), 3, "{msgs:#?}");
        assert!(f.iter().all(|f| f.severity == Severity::Warn), "{msgs:#?}");
        assert!(msgs.iter().any(|m| m.starts_with("/p.toml:2:10: WARN: sandbox \"s\": write /nonexistent/belladonna-y: missing path: not granted; the profile is applied without it")), "{msgs:#?}");
        assert!(
            msgs.iter().any(|m| m.contains("link/x: missing path")),
            "{msgs:#?}"
        );
        assert!(
            msgs.iter().any(|m| m.contains(&format!(
                "read {}/link goes through a symlink: Landlock grants its target as resolved at call time (now {}/data)",
                real_tmp.display(),
                real_tmp.display()
            ))),
            "{msgs:#?}"
        );
    }
}
