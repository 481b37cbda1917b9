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
//! [`lint_paths`] does I/O (stat) and is used only by bdctl: a command
//! path that does not exist is an ERROR (the rule can never match), and a
//! command or one of its directories that is writable by group/others or
//! not owned by root is a WARN (whoever can write it can run anything
//! through the rule).
#![forbid(unsafe_code)]

use crate::policy::cmdline::render;
use crate::policy::model::{Args, Auth, CommandSpec, Origin, Policy, Rule};
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

/// Pure lint of a parsed policy.
pub fn lint(p: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
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

/// Lint that looks at the file system (bdctl only): every command path
/// must exist and be a regular file; it and its directories should be
/// root-owned and not writable by group or others. Symlinks are followed,
/// as the decision follows them; each path is checked once per rule.
pub fn lint_paths(p: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
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
}
