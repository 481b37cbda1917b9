//! Policy lint for `bdctl policy check`: findings in three tiers.
//!
//! The tiers and every check are documented in `docs/lint.md` (and
//! bdctl(8)); in short:
//!
//! - **ERROR**: the policy cannot be loaded (reported by the caller), or it
//!   is wrong in a way that defeats its purpose: an *ineffective deny* (a
//!   deny entry with fixed arguments while an allow rule for a shared user
//!   or group grants the same command with free arguments that include
//!   them: the deny removes one argv out of many), an unknown user or group
//!   ([`lint_accounts`]), a command that does not exist or is not a regular
//!   file, or a command (or a directory on its path) that anyone can
//!   replace ([`lint_paths`]), an `env_keep` entry that lets the caller
//!   run code in the command (`PYTHONPATH`, `BASH_ENV`, `P*`, ...: `env`).
//! - **WARN**: a command that gives a shell (shells, editors, pagers,
//!   interpreters, ...; see [`gives_shell`]) granted with free arguments or
//!   without authentication; a root-equivalent command (a shell, or a file
//!   writer such as `cp`, `tee`, `chmod` with free arguments run as root)
//!   with `auth = "none"`; a deny entry with fixed arguments; broad sandbox
//!   grants and root-equivalent capabilities; a command writable by a
//!   non-root user or group without a digest pin.
//! - **INFO**: redundancy and style: a command entry already covered by an
//!   earlier entry of the same rule, an allow entry shadowed by an earlier
//!   allow rule with the same users, groups and targets (it never decides),
//!   a deny that matches nothing any allow rule grants (a safety net for
//!   rules added later), a sandbox profile no rule uses.
//!
//! [`lint`] is pure: it looks at the parsed policy only (this is what
//! `bdctl policy check --offline` runs). [`lint_paths`] (file system) and
//! [`lint_accounts`] (NSS) look at this host. [`counts`] sums findings per
//! tier for the summary line, the JSON report and the metric
//! [`METRIC_FINDINGS`].
#![forbid(unsafe_code)]

use crate::policy::cmdline::render;
use crate::policy::model::{
    Args, Auth, CommandKind, CommandSpec, Origin, Policy, Principal, Rule, SandboxProfile,
    SeccompAction,
};
use serde::Serialize;
use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

mod audit;
mod env;
pub use env::unsafe_to_preserve;
mod incident;

mod host;
mod noexec;
mod rules;
mod sandbox;
pub use env::env_keep_runs_code;
pub use host::*;
use rules::*;
pub use sandbox::*;

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

/// Commands that give a shell whatever their arguments, by basename:
/// shells and interpreters (a REPL when bare, a caller's script or code
/// otherwise), editors and pagers (`:!sh`, `!sh`), terminal multiplexers,
/// interactive clients with a shell escape, and privilege tools.
const SHELL_LIKE: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "ash", "fish", "busybox", "su",
    "sudo", "doas", "bdexec", "pkexec", "run0", "vi", "vim", "nvim", "view", "rvim", "vimdiff",
    "ex", "ed", "nano", "pico", "emacs", "joe", "mcedit", "less", "more", "most", "pg", "man",
    "perl", "ruby", "irb", "node", "nodejs", "script", "screen", "tmux", "expect", "gdb", "lldb",
    "ftp", "mysql", "mariadb", "psql", "sqlite3", "rlwrap",
];

/// Interpreter families matched by prefix (`python3.12`, `lua5.4`, ...).
const SHELL_LIKE_PREFIX: &[&str] = &["python", "perl", "ruby", "lua", "php", "tclsh", "wish"];

/// Shells and interpreters: with exact arguments starting with `-c` or
/// `-e` they run only the fixed code written in the policy.
const FIXED_CODE_OK: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "ash", "fish", "perl", "ruby",
    "node", "nodejs",
];

/// Commands that give a shell (or run any command) only when the caller
/// chooses arguments (`find -exec`, `env sh`, `awk 'BEGIN{system(...)}'`,
/// GNU `sed` `e`, `tar --checkpoint-action=exec`, `git -c core.pager=`,
/// `apt-get -o APT::...::Pre-Invoke=`, ...). Bare or with exact arguments
/// they do what the policy says.
const SHELL_WITH_FREE_ARGS: &[&str] = &[
    "find",
    "env",
    "xargs",
    "awk",
    "gawk",
    "mawk",
    "nawk",
    "sed",
    "tar",
    "zip",
    "rsync",
    "git",
    "ssh",
    "scp",
    "nice",
    "timeout",
    "nohup",
    "stdbuf",
    "setsid",
    "chroot",
    "taskset",
    "ionice",
    "strace",
    "ltrace",
    "flock",
    "watch",
    "make",
    "systemd-run",
    "start-stop-daemon",
    "crontab",
    "at",
    "socat",
    "nmap",
    "tcpdump",
    "docker",
    "podman",
    "kubectl",
    "apt",
    "apt-get",
    "dpkg",
    "pip",
    "pip3",
    "npm",
    "unshare",
    "nsenter",
    "capsh",
    "setpriv",
    "runuser",
    "chpst",
];

/// Commands that, run as root with free arguments, can write, replace or
/// re-own any file (or load code into the kernel, or create accounts):
/// root-equivalent, even though they give no shell by themselves.
const ROOT_WRITERS: &[&str] = &[
    "cp", "mv", "install", "dd", "tee", "ln", "chmod", "chown", "chgrp", "chattr", "setfacl",
    "truncate", "mount", "umount", "insmod", "modprobe", "rmmod", "useradd", "usermod", "userdel",
    "groupadd", "groupmod", "gpasswd", "passwd", "chpasswd", "visudo", "cpio", "unzip", "sysctl",
    "setcap", "mknod", "debugfs",
];

fn basename(spec: &CommandSpec) -> Option<&str> {
    spec.path.file_name().and_then(|b| b.to_str())
}

/// Whether a command entry gives its user a shell (or an arbitrary
/// command), as the entry's arguments allow.
pub fn gives_shell(spec: &CommandSpec) -> bool {
    let Some(base) = basename(spec) else {
        return false;
    };
    let free = matches!(spec.args, Args::Prefix(_));
    if SHELL_WITH_FREE_ARGS.contains(&base) {
        return free;
    }
    let shell_like =
        SHELL_LIKE.contains(&base) || SHELL_LIKE_PREFIX.iter().any(|p| base.starts_with(p));
    if !shell_like {
        return false;
    }
    // `sh -c "exit 42"`, `python3 -c "..."`: fixed code, no caller input.
    let fixed_code = FIXED_CODE_OK.contains(&base) || base.starts_with("python");
    match &spec.args {
        Args::Exact(a) if fixed_code => !matches!(a.first().map(String::as_str), Some("-c" | "-e")),
        _ => true,
    }
}

/// Whether a rule's targets include root (by name or `#0`).
fn targets_root(rule: &Rule) -> bool {
    rule.run_as.iter().any(|p| match p {
        Principal::Name(n) => n == "root",
        Principal::Id(i) => *i == 0,
        // ALL includes root; a group may (root can be a member).
        Principal::All | Principal::GroupName(_) | Principal::GroupId(_) => true,
    })
}

/// Whether a command entry, run as root, can write or replace any file.
fn writes_any_file(spec: &CommandSpec) -> bool {
    let free = match &spec.args {
        Args::Prefix(p) => p,
        _ => return false,
    };
    let Some(base) = basename(spec) else {
        return false;
    };
    // `systemctl *` can link and enable any unit file; `systemctl status *`
    // cannot.
    ROOT_WRITERS.contains(&base) || (base == "systemctl" && free.is_empty())
}

/// Whether an allow entry of `rule` hands out root: a shell as root, or
/// a file writer with free arguments as root.
pub fn root_equivalent(rule: &Rule, spec: &CommandSpec) -> bool {
    targets_root(rule) && (gives_shell(spec) || writes_any_file(spec))
}

/// The fixed arguments of an entry and whether more may follow.
fn arg_form(a: &Args) -> (&[String], bool) {
    match a {
        Args::None => (&[], false),
        Args::Exact(v) => (v, false),
        Args::Prefix(v) => (v, true),
    }
}

/// Whether every argv `b` allows is also allowed by `a` (same path; `ALL`
/// covers everything, a directory the files named directly in it).
fn covers(a: &CommandSpec, b: &CommandSpec) -> bool {
    match (a.kind, b.kind) {
        (CommandKind::All, _) => return true,
        (_, CommandKind::All) => return false,
        (CommandKind::Dir, CommandKind::File) => {
            let in_dir = crate::request::split_name(&b.path).is_some_and(|(d, _)| {
                a.path.as_os_str().len() == d.as_os_str().len() + 1 && a.path.starts_with(d)
            });
            if !in_dir {
                return false;
            }
        }
        (CommandKind::File, CommandKind::Dir) => return false,
        _ if a.path != b.path => return false,
        _ => {}
    }
    let ((aa, afree), (ba, bfree)) = (arg_form(&a.args), arg_form(&b.args));
    if afree {
        ba.starts_with(aa)
    } else {
        !bfree && aa == ba
    }
}

/// Whether some argv is allowed by both entries (same path).
fn overlaps(a: &CommandSpec, b: &CommandSpec) -> bool {
    covers(a, b) || covers(b, a)
}

/// Whether two rules name a common user or group (literally: group
/// membership is not known to the pure lint).
fn shares_principal(a: &Rule, b: &Rule) -> bool {
    a.users.iter().any(|u| b.users.contains(u)) || a.groups.iter().any(|g| b.groups.contains(g))
}

fn same_set(a: &[Principal], b: &[Principal]) -> bool {
    a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
}

fn finding(severity: Severity, rule: &Rule, message: String) -> Finding {
    Finding {
        severity,
        origin: Some(rule.origin.clone()),
        message,
    }
}

/// Findings per tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub error: usize,
    pub warn: usize,
    pub info: usize,
}

/// Name of the metric the counts are exported as (one sample per tier,
/// label `severity` = `error`, `warn` or `info`).
pub const METRIC_FINDINGS: &str = "belladonna_lint_findings";

impl Counts {
    /// The highest tier with a finding, if any.
    pub fn highest(&self) -> Option<Severity> {
        if self.error > 0 {
            Some(Severity::Error)
        } else if self.warn > 0 {
            Some(Severity::Warn)
        } else if self.info > 0 {
            Some(Severity::Info)
        } else {
            None
        }
    }

    /// `(severity label, count)` in tier order, for metric exporters.
    pub fn samples(&self) -> [(&'static str, usize); 3] {
        [
            ("error", self.error),
            ("warn", self.warn),
            ("info", self.info),
        ]
    }

    /// The counts in the Prometheus text format (gauge [`METRIC_FINDINGS`]).
    pub fn prometheus(&self) -> String {
        let mut s = format!(
            "# HELP {METRIC_FINDINGS} Policy lint findings by severity.\n# TYPE {METRIC_FINDINGS} gauge\n"
        );
        for (label, n) in self.samples() {
            s.push_str(&format!("{METRIC_FINDINGS}{{severity=\"{label}\"}} {n}\n"));
        }
        s
    }
}

/// Findings per tier.
pub fn counts(findings: &[Finding]) -> Counts {
    let mut c = Counts::default();
    for f in findings {
        match f.severity {
            Severity::Error => c.error += 1,
            Severity::Warn => c.warn += 1,
            Severity::Info => c.info += 1,
        }
    }
    c
}

impl Severity {
    /// Lower-case name, as in the JSON report and the metric label.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warn => "warn",
            Severity::Info => "info",
        }
    }
}

/// One finding in the JSON report.
#[derive(Debug, Serialize)]
struct JsonFinding<'a> {
    severity: &'static str,
    file: Option<String>,
    line: Option<u32>,
    col: Option<u32>,
    message: &'a str,
}

/// The `bdctl policy check --json` report: `{"findings": [{severity,
/// file, line, col, message}], "counts": {error, warn, info}, "hash":
/// HEX or null}` (one line).
pub fn report_json(findings: &[Finding], hash: Option<&[u8; 32]>) -> String {
    #[derive(Serialize)]
    struct Report<'a> {
        findings: Vec<JsonFinding<'a>>,
        counts: Counts,
        hash: Option<String>,
    }
    let report = Report {
        findings: findings
            .iter()
            .map(|f| JsonFinding {
                severity: f.severity.label(),
                file: f
                    .origin
                    .as_ref()
                    .map(|o| o.file.to_string_lossy().into_owned()),
                line: f.origin.as_ref().map(|o| o.line),
                col: f.origin.as_ref().map(|o| o.col),
                message: &f.message,
            })
            .collect(),
        counts: counts(findings),
        hash: hash.map(|h| crate::policy::hash::hex(h)),
    };
    serde_json::to_string(&report).unwrap_or_else(|e| {
        // Not reachable: every field is a string, number or null.
        format!("{{\"error\":{:?}}}", e.to_string())
    })
}

/// The JSON report of a policy that does not load: one ERROR finding
/// (`line` and `col` null when the error has no position), no hash.
pub fn report_json_load_error(e: &crate::policy::PolicyError) -> String {
    let v = serde_json::json!({
        "findings": [{
            "severity": "error",
            "file": e.file.to_string_lossy(),
            "line": e.pos.map(|p| p.0),
            "col": e.pos.map(|p| p.1),
            "message": e.message(),
        }],
        "counts": Counts { error: 1, warn: 0, info: 0 },
        "hash": null,
    });
    v.to_string()
}

/// Pure lint of a parsed policy.
pub fn lint(p: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    lint_sandboxes(p, &mut out);
    lint_denies(p, &mut out);
    lint_allows(p, &mut out);
    lint_approvals(p, &mut out);
    env::lint_env(p, &mut out);
    incident::lint_incident(p, &mut out);
    noexec::lint_noexec(p, &mut out);
    audit::lint_audit(p, &mut out);
    out
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod approval_lint_tests;
