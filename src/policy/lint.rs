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

mod env;
mod incident;

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
    lint_root_scopes(p, out);
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

/// A sandboxed allow rule that may run as root without both Landlock
/// scopes: WARN. A sandboxed root is still uid 0 to the rest of the host;
/// the scopes stop its signals to processes outside the sandbox and its
/// connections to abstract unix sockets served outside.
fn lint_root_scopes(p: &Policy, out: &mut Vec<Finding>) {
    use crate::policy::model::{Action, Scopes};
    for rule in p
        .rules
        .iter()
        .filter(|r| r.action == Action::Allow && targets_root(r))
    {
        let Some(name) = rule.sandbox.as_deref().or(p.defaults.sandbox.as_deref()) else {
            continue;
        };
        let Some(profile) = p.sandboxes.iter().find(|s| s.name == name) else {
            continue;
        };
        let (missing, fix) = match &profile.landlock {
            None => (
                Scopes::ALL,
                "the profile has no [landlock] table, and scopes come only with one (its scopes \
                 apply to root targets by default, but it also confines files)",
            ),
            Some(l) => {
                let have = l.scopes_for(0);
                let missing = Scopes {
                    abstract_unix: !have.abstract_unix,
                    signals: !have.signals,
                };
                if !missing.any() {
                    continue;
                }
                (
                    missing,
                    "remove `scope` (both apply to root targets by default) or list both",
                )
            }
        };
        out.push(finding(
            Severity::Warn,
            rule,
            format!(
                "rule {:?} runs as root in sandbox {name:?} without the Landlock scope {}: the command is \
                 still uid 0 to the host and can signal root processes or reach root's abstract unix \
                 sockets; {fix}, or better run it as a non-root user with `caps`",
                rule.name,
                missing.names()
            ),
        ));
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
        hash: hash.map(crate::policy::hash::hex),
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

/// Deny rules: ineffective (ERROR), fixed arguments (WARN), matching
/// nothing any allow rule grants (INFO).
fn lint_denies(p: &Policy, out: &mut Vec<Finding>) {
    let allows: Vec<&Rule> = p.rules.iter().filter(|r| !r.is_deny()).collect();
    for rule in p.rules.iter().filter(|r| r.is_deny()) {
        let mut unreachable = Vec::new();
        for spec in &rule.commands {
            let fixed = !matches!(spec.args, Args::Prefix(_));
            // An allow rule for a shared user or group (and a target the
            // deny covers) that grants this command with free arguments
            // including the denied ones: the deny removes one argv only.
            let wider = allows.iter().find_map(|a| {
                let targets = rule.run_as.is_empty()
                    || a.run_as.contains(&Principal::All)
                    || a.run_as.iter().any(|t| rule.run_as.contains(t));
                if !fixed || !targets || !shares_principal(rule, a) {
                    return None;
                }
                a.commands
                    .iter()
                    .find(|c| matches!(c.args, Args::Prefix(_)) && covers(c, spec))
                    .map(|c| (a, c))
            });
            if let Some((a, c)) = wider {
                out.push(finding(
                    Severity::Error,
                    rule,
                    format!(
                        "ineffective deny: rule {:?} denies only {:?}, but rule {:?} still allows {:?} to the same \
                         users or groups, with any other arguments (deny \"{} *\" or narrow the allow rule)",
                        rule.name,
                        render(spec),
                        a.name,
                        render(c),
                        crate::policy::cmdline::render_parts(&spec.path, &Args::None),
                    ),
                ));
            } else if fixed {
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
            if !allows
                .iter()
                .any(|a| a.commands.iter().any(|c| overlaps(c, spec)))
            {
                unreachable.push(spec);
            }
        }
        if !unreachable.is_empty() && unreachable.len() == rule.commands.len() {
            out.push(finding(
                Severity::Info,
                rule,
                format!(
                    "deny rule {:?} matches nothing any allow rule grants (paths compared as written): \
                     it only guards against rules added later",
                    rule.name
                ),
            ));
        } else {
            for spec in unreachable {
                out.push(finding(
                    Severity::Info,
                    rule,
                    format!(
                        "deny rule {:?}: {:?} matches nothing any allow rule grants (paths compared as written)",
                        rule.name,
                        render(spec)
                    ),
                ));
            }
        }
    }
}

/// Allow rules: shells and root-equivalent commands (WARN), duplicate and
/// shadowed entries (INFO).
fn lint_allows(p: &Policy, out: &mut Vec<Finding>) {
    let allows: Vec<&Rule> = p.rules.iter().filter(|r| !r.is_deny()).collect();
    for (k, rule) in allows.iter().enumerate() {
        for (j, spec) in rule.commands.iter().enumerate() {
            let cmd = render(spec);
            if let Some(f) = broad_entry(rule, spec) {
                out.push(f);
                continue;
            }
            if let Some(earlier) = rule.commands[..j].iter().find(|c| covers(c, spec)) {
                out.push(finding(
                    Severity::Info,
                    rule,
                    format!(
                        "rule {:?}: {cmd:?} is redundant: {:?} in the same rule already allows it",
                        rule.name,
                        render(earlier)
                    ),
                ));
                continue;
            }
            let shell = gives_shell(spec);
            if rule.auth == Auth::None && shell {
                out.push(finding(
                    Severity::Warn,
                    rule,
                    format!(
                        "rule {:?}: {cmd:?} can give a shell and needs no authentication (auth = \"none\")",
                        rule.name
                    ),
                ));
            } else if rule.auth == Auth::None && root_equivalent(rule, spec) {
                out.push(finding(
                    Severity::Warn,
                    rule,
                    format!(
                        "rule {:?}: {cmd:?} is root-equivalent (it can write any file as root) and needs no \
                         authentication (auth = \"none\")",
                        rule.name
                    ),
                ));
            }
            if shell && matches!(spec.args, Args::Prefix(_)) {
                out.push(finding(
                    Severity::Warn,
                    rule,
                    format!(
                        "rule {:?}: {cmd:?} can give a shell and allows any further arguments",
                        rule.name
                    ),
                ));
            } else if !shell && targets_root(rule) && writes_any_file(spec) {
                out.push(finding(
                    Severity::Warn,
                    rule,
                    format!(
                        "rule {:?}: {cmd:?} with any further arguments can write or replace any file as root \
                         (root-equivalent)",
                        rule.name
                    ),
                ));
            }
            // An earlier allow rule with the same users and groups, allowing
            // every target of this one, decides first (first match wins).
            let shadow = allows[..k].iter().find_map(|q| {
                let same_scope = same_set(&q.users, &rule.users)
                    && same_set(&q.groups, &rule.groups)
                    && rule.run_as.iter().all(|t| q.run_as.contains(t));
                if !same_scope {
                    return None;
                }
                q.commands.iter().find(|c| covers(c, spec)).map(|c| (q, c))
            });
            if let Some((q, c)) = shadow {
                out.push(finding(
                    Severity::Info,
                    rule,
                    format!(
                        "rule {:?}: {cmd:?} never decides: earlier rule {:?} (same users, groups and targets) \
                         already allows it with {:?}, and the first matching allow rule wins",
                        rule.name,
                        q.name,
                        render(c)
                    ),
                ));
            }
        }
    }
}

/// `ALL` and command directories: what they grant, loudly. `ALL` is
/// root-equivalent whatever its targets' (any program as the target):
/// WARN without authentication, INFO with it. A directory: any program
/// in it, WARN without authentication, INFO with it.
fn broad_entry(rule: &Rule, spec: &CommandSpec) -> Option<Finding> {
    let targets: Vec<String> = rule.run_as.iter().map(|t| t.to_string()).collect();
    let targets = targets.join(", ");
    let severity = if rule.auth == Auth::None {
        Severity::Warn
    } else {
        Severity::Info
    };
    let msg = match spec.kind {
        CommandKind::File => return None,
        CommandKind::All => format!(
            "rule {:?}: \"ALL\" allows any command as {targets} (root-equivalent: a shell, an editor, \
             anything) with auth = \"{}\"; deny rules still win",
            rule.name,
            rule.auth.as_str()
        ),
        CommandKind::Dir => format!(
            "rule {:?}: {:?} allows any command directly in {} as {targets} with auth = \"{}\" \
             (including programs added there later)",
            rule.name,
            render(spec),
            spec.path.display(),
            rule.auth.as_str()
        ),
    };
    Some(finding(severity, rule, msg))
}

/// A command directory on this host: a directory owned by root that no
/// one else can write (ERROR otherwise: bdexec matches nothing in it);
/// symlinks in it are never followed by the match (WARN, each named).
fn lint_command_dir(rule: &Rule, dir: &Path, out: &mut Vec<Finding>) {
    let err = |out: &mut Vec<Finding>, m: String| {
        out.push(finding(
            Severity::Error,
            rule,
            format!(
                "rule {:?}: command directory {}: {m}",
                rule.name,
                dir.display()
            ),
        ))
    };
    let md = match std::fs::metadata(dir) {
        Ok(md) => md,
        Err(e) => return err(out, format!("{e} (the entry can never match)")),
    };
    if !md.is_dir() {
        return err(out, "is not a directory".to_string());
    }
    if md.uid() != 0 || md.mode() & 0o022 != 0 {
        return err(
            out,
            format!(
                "is owned by uid {} with mode {:o}: it must be owned by root and writable by no one else \
                 (bdexec matches nothing in it)",
                md.uid(),
                md.mode() & 0o7777
            ),
        );
    }
    // The directories above it: whoever can replace one of them can put
    // another directory (a symlink to /usr/bin) in its place.
    let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    for up in real.ancestors().skip(1) {
        check_owner_mode(rule, "directory above a command directory", up, false, out);
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_symlink()) {
            out.push(finding(
                Severity::Warn,
                rule,
                format!(
                    "rule {:?}: command directory {} contains the symlink {:?}: it is never matched \
                     (a symlink leads out of the directory); name its target in a rule if needed",
                    rule.name,
                    dir.display(),
                    e.file_name()
                ),
            ));
        }
    }
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
    out
}

/// An approval rule that needs more distinct approvers than the policy
/// defines (for it) can never be satisfied: ERROR (bdexec refuses every
/// request to it at run time).
fn lint_approvals(p: &Policy, out: &mut Vec<Finding>) {
    use crate::policy::model::{Action, Auth};
    for rule in &p.rules {
        if rule.action != Action::Allow || rule.auth != Auth::Approval {
            continue;
        }
        let req = rule.approval_req();
        let available = if req.approvers.is_empty() {
            p.approvers.len()
        } else {
            req.approvers
                .iter()
                .filter(|n| p.approvers.iter().any(|a| &a.name == *n))
                .count()
        };
        if (req.approvals as usize) > available {
            out.push(finding(
                Severity::Error,
                rule,
                format!(
                    "rule {} needs {} distinct approvals but only {available} approver(s) can sign for it: it can never run",
                    rule.name, req.approvals
                ),
            ));
        }
    }
}

/// Names that NSS resolves on this host: every user, group and target
/// name in the rules must exist (ERROR: the entry can never match, and an
/// account created later under that name gets the grant). `#id` entries
/// are not checked (an id needs no account). A lookup failure (NSS
/// unreachable) is a WARN.
pub fn lint_accounts(p: &Policy) -> Vec<Finding> {
    use nix::unistd::{Group, User};
    let mut out = Vec::new();
    for rule in &p.rules {
        let mut seen: Vec<(&str, &str)> = Vec::new();
        let users = rule.users.iter().map(|u| ("user", u));
        let targets = rule.run_as.iter().map(|u| ("run_as user", u));
        let groups = rule.groups.iter().map(|g| ("group", g));
        for (kind, principal) in users.chain(targets).chain(groups) {
            // `run_as = ["%g"]` names a group.
            let (kind, name) = match principal {
                Principal::Name(n) => (kind, n),
                Principal::GroupName(n) => ("run_as group", n),
                _ => continue,
            };
            let is_group = kind.ends_with("group");
            let key = (if is_group { "group" } else { "user" }, name.as_str());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let found = if is_group {
                Group::from_name(name).map(|g| g.is_some())
            } else {
                User::from_name(name).map(|u| u.is_some())
            };
            match found {
                Ok(true) => {}
                Ok(false) => out.push(finding(
                    Severity::Error,
                    rule,
                    format!(
                        "rule {:?}: unknown {kind} {name:?} (not found through NSS on this host): the entry \
                         never matches, and an account created later under this name gets the grant",
                        rule.name
                    ),
                )),
                Err(e) => out.push(finding(
                    Severity::Warn,
                    rule,
                    format!(
                        "rule {:?}: {kind} {name:?} cannot be looked up ({}): not checked",
                        rule.name,
                        e.desc()
                    ),
                )),
            }
        }
    }
    out
}

/// Owner and mode of a command or of a directory on its path. Writable
/// by others (not a sticky directory): anyone can replace the command, an
/// ERROR (a WARN with a digest pin: a replaced file is then refused, not
/// run). Owned by a non-root user, writable by the group, or in a sticky
/// world-writable directory: a WARN unless the entry has a digest pin.
fn check_owner_mode(rule: &Rule, what: &str, path: &Path, pinned: bool, out: &mut Vec<Finding>) {
    let Ok(md) = std::fs::metadata(path) else {
        return;
    };
    let no_pin = " and the entry has no digest pin";
    if md.uid() != 0 && !pinned {
        out.push(finding(
            Severity::Warn,
            rule,
            format!(
                "rule {:?}: {what} {} is owned by uid {}, not root,{no_pin}",
                rule.name,
                path.display(),
                md.uid()
            ),
        ));
    }
    let mode = md.mode() & 0o7777;
    let sticky_dir = md.is_dir() && mode & 0o1000 != 0;
    if mode & 0o002 != 0 && !sticky_dir {
        out.push(finding(
            if pinned { Severity::Warn } else { Severity::Error },
            rule,
            format!(
                "rule {:?}: {what} {} is writable by group or others (mode {mode:04o}): anyone can replace \
                 the command{}",
                rule.name,
                path.display(),
                if pinned { " (the digest pin refuses a replaced file)" } else { "" }
            ),
        ));
    } else if mode & 0o022 != 0 && !pinned {
        // A sticky directory (like /tmp) still lets anyone create entries
        // but not replace others': a WARN, commands do not belong there.
        out.push(finding(
            Severity::Warn,
            rule,
            format!(
                "rule {:?}: {what} {} is writable by group or others (mode {mode:04o}){no_pin}",
                rule.name,
                path.display(),
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
            match spec.kind {
                CommandKind::All => continue,
                CommandKind::Dir => {
                    lint_command_dir(rule, path, &mut out);
                    continue;
                }
                CommandKind::File => {}
            }
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
                Ok(md) if md.is_dir() => {
                    out.push(finding(
                        Severity::Error,
                        rule,
                        format!(
                            "rule {:?}: command {} is a directory: it never matches; write \"{}/ *\" for any \
                             command directly in it",
                            rule.name,
                            path.display(),
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
            // Pinned: every entry of this rule naming the path has a digest.
            let pinned = rule
                .commands
                .iter()
                .filter(|c| c.path == spec.path)
                .all(|c| c.digest.is_some());
            let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            check_owner_mode(rule, "command", &real, pinned, &mut out);
            for dir in real.ancestors().skip(1) {
                check_owner_mode(rule, "directory of command", dir, pinned, &mut out);
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
        let all = lint(&p);
        // The deny rule "c" guards nothing an allow rule grants: one INFO.
        assert_eq!(
            all.iter().filter(|f| f.severity == Severity::Info).count(),
            1,
            "{all:#?}"
        );
        let f: Vec<Finding> = all
            .into_iter()
            .filter(|f| f.severity != Severity::Info)
            .collect();
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
        let f: Vec<Finding> = lint(&p)
            .into_iter()
            .filter(|f| f.severity == Severity::Warn)
            .collect();
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
    fn all_and_directories_are_visible() {
        let p = pol(
            "[[rule]]\nname = \"admins\"\ngroups = [\"sudo\"]\nrun_as = [\"ALL\"]\ncommands = [\"ALL\"]\n\
             [[rule]]\nname = \"open\"\nusers = [\"u\"]\nauth = \"none\"\ncommands = [\"ALL\"]\n\
             [[rule]]\nname = \"plugins\"\nusers = [\"u\"]\nauth = \"none\"\ncommands = [\"/usr/lib/nagios/plugins/ *\"]\n",
        );
        let f = lint(&p);
        let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
        let has = |sev: &str, rule: &str, what: &str| {
            msgs.iter().any(|m| {
                m.contains(sev) && m.contains(&format!("rule {rule:?}")) && m.contains(what)
            })
        };
        assert!(has("INFO", "admins", "root-equivalent"), "{msgs:#?}");
        assert!(has("INFO", "admins", "auth = \"password\""), "{msgs:#?}");
        assert!(has("WARN", "open", "root-equivalent"), "{msgs:#?}");
        assert!(has("WARN", "open", "auth = \"none\""), "{msgs:#?}");
        assert!(
            has("WARN", "plugins", "any command directly in"),
            "{msgs:#?}"
        );
        assert!(!msgs.iter().any(|m| m.contains("ERROR")), "{msgs:#?}");
    }

    #[test]
    fn deny_with_fixed_arguments_under_all_is_ineffective() {
        let p = pol(
            "[[rule]]\nname = \"admins\"\nusers = [\"u\"]\nrun_as = [\"ALL\"]\ncommands = [\"ALL\"]\n\
             [[rule]]\nname = \"d\"\nusers = [\"u\"]\nrun_as = [\"root\"]\naction = \"deny\"\ncommands = [\"/bin/sh\", \"/usr/bin/su *\"]\n",
        );
        let msgs: Vec<String> = lint(&p).iter().map(|f| f.to_string()).collect();
        assert!(
            msgs.iter().any(|m| m.contains("ERROR")
                && m.contains("ineffective deny")
                && m.contains("\"/bin/sh\"")
                && m.contains("\"ALL\"")),
            "{msgs:#?}"
        );
        // The deny of su with any arguments works: no ERROR, and it guards
        // something ALL grants (no "matches nothing" INFO).
        assert!(
            !msgs
                .iter()
                .any(|m| m.contains("/usr/bin/su *") && m.contains("ERROR")),
            "{msgs:#?}"
        );
        assert!(
            !msgs.iter().any(|m| m.contains("matches nothing")),
            "{msgs:#?}"
        );
    }

    #[test]
    fn command_directories_on_disk() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("plugins");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(dir.join("check_a"), "#!/bin/sh\n").expect("write");
        let policy = pol(&format!(
            "[[rule]]\nname = \"d\"\nusers = [\"u\"]\ncommands = [\"{}/ *\"]\n",
            dir.display()
        ));
        let errors = |policy: &Policy| {
            lint_paths(policy)
                .into_iter()
                .filter(|f| f.message.contains("command directory"))
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
        };
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let m = errors(&policy);
        assert!(
            m.iter()
                .any(|m| m.contains("ERROR") && m.contains("writable by no one else")),
            "{m:#?}"
        );
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::os::unix::fs::symlink("/bin/sh", dir.join("sh")).expect("symlink");
        let m = errors(&policy);
        if nix::unistd::geteuid().is_root() {
            assert!(!m.iter().any(|m| m.contains("ERROR")), "{m:#?}");
            assert!(
                m.iter()
                    .any(|m| m.contains("WARN") && m.contains("symlink \"sh\"")),
                "{m:#?}"
            );
        }
    }

    #[test]
    fn unknown_group_target() {
        let p = pol(
            "[[rule]]\nname = \"g\"\nusers = [\"root\"]\nrun_as = [\"%nosuchgroup-belladonna\", \"%root\"]\ncommands = [\"/usr/bin/id\"]\n",
        );
        let m: Vec<String> = lint_accounts(&p).iter().map(|f| f.to_string()).collect();
        assert_eq!(m.len(), 1, "{m:#?}");
        assert!(
            m[0].contains("ERROR")
                && m[0].contains("unknown run_as group \"nosuchgroup-belladonna\""),
            "{m:#?}"
        );
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
            msgs.iter().any(|m| m.contains("ERROR")
                && m.contains("/usr is a directory")
                && m.contains("\"/usr/ *\"")),
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
        // Rule "b" repeats rule "a"'s entry for the same user: one INFO,
        // counted apart from the sandbox findings.
        let all = lint(&p);
        assert_eq!(
            all.iter()
                .filter(|f| f.message.contains("never decides"))
                .count(),
            1,
            "{all:#?}"
        );
        let f: Vec<Finding> = all
            .into_iter()
            .filter(|f| !f.message.contains("never decides"))
            .collect();
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
        // Rule "b" runs as root (no run_as) in "learn", which has no
        // Landlock table, so no scopes; rule "a"'s "wide" has the default.
        assert_eq!(
            count(
                "WARN: rule \"b\" runs as root in sandbox \"learn\" without the Landlock scope signal,abstract_unix"
            ),
            1,
            "{msgs:#?}"
        );
        assert_eq!(count("runs as root in sandbox"), 1, "{msgs:#?}");
        assert_eq!(f.len(), 9 + 2 + 1 + 1 + 2 + 1, "{msgs:#?}");
        let p = pol(
            "[sandbox.a.landlock]\nmin_abi = 3\nbind_tcp = [80]\nscope = [\"signal\"]\n\
             [sandbox.b.landlock]\nmin_abi = 6\nbind_tcp = [80]\nscope = [\"signal\"]\n\
             [[rule]]\nname = \"r\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/id\"]\nsandbox = \"a\"\n\
             [[rule]]\nname = \"s\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/id\"]\nsandbox = \"b\"\n",
        );
        let msgs: Vec<String> = lint(&p)
            .iter()
            .filter(|f| f.severity == Severity::Warn)
            .map(|f| f.to_string())
            .collect();
        // Both rules run as root with only the signal scope: WARN each.
        assert_eq!(msgs.len(), 4, "{msgs:#?}");
        for (i, r) in [(2, "r"), (3, "s")] {
            assert!(
                msgs[i].contains(&format!(
                    "rule \"{r}\" runs as root in sandbox \"{}\" without the Landlock scope abstract_unix",
                    if r == "r" { "a" } else { "b" }
                )),
                "{msgs:#?}"
            );
        }
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

    /// A sandboxed root rule without both scopes: WARN; with the default
    /// (no `scope`), with both listed, or for a non-root target: nothing.
    #[test]
    fn sandboxed_root_without_scopes() {
        let policy = |scope: &str, run_as: &str| {
            pol(&format!(
                "[sandbox.box.landlock]\nread = [\"/etc\"]\n{scope}\n\
                 [[rule]]\nname = \"r\"\nusers = [\"u\"]\nrun_as = [{run_as}]\n\
                 commands = [\"/usr/bin/id\"]\nsandbox = \"box\"\n"
            ))
        };
        let warns = |p: &Policy| -> Vec<String> {
            lint(p)
                .iter()
                .filter(|f| f.message.contains("runs as root in sandbox"))
                .map(|f| f.to_string())
                .collect()
        };
        for (scope, run_as, missing) in [
            ("scope = []", "\"root\"", Some("signal,abstract_unix")),
            (
                "scope = []",
                "\"#0\", \"bob\"",
                Some("signal,abstract_unix"),
            ),
            ("scope = [\"abstract_unix\"]", "\"root\"", Some("signal")),
            ("scope = [\"signal\"]", "\"root\"", Some("abstract_unix")),
            ("", "\"root\"", None),
            ("scope = [\"signal\", \"abstract_unix\"]", "\"root\"", None),
            ("scope = []", "\"bob\"", None),
        ] {
            let w = warns(&policy(scope, run_as));
            match missing {
                Some(m) => {
                    assert_eq!(w.len(), 1, "{scope} {run_as}: {w:#?}");
                    assert!(
                        w[0].contains(&format!("WARN: rule \"r\" runs as root in sandbox \"box\" without the Landlock scope {m}:")),
                        "{w:#?}"
                    );
                    assert!(w[0].contains("non-root user with `caps`"), "{w:#?}");
                }
                None => assert!(w.is_empty(), "{scope} {run_as}: {w:#?}"),
            }
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

    fn spec(s: &str) -> CommandSpec {
        match crate::policy::cmdline::parse_command(s) {
            Ok(c) => CommandSpec {
                path: c.path,
                args: c.args,
                digest: None,
                kind: Default::default(),
            },
            Err(e) => panic!("{s}: {e:?}"),
        }
    }

    #[test]
    fn shell_classification() {
        for yes in [
            "/bin/sh",
            "/bin/bash *",
            "/bin/bash /tmp/x.sh",
            "/usr/bin/vi /etc/hosts",
            "/usr/bin/less /var/log/syslog",
            "/usr/bin/python3",
            "/usr/bin/python3.11 x.py",
            "/usr/bin/psql",
            "/usr/bin/env *",
            "/usr/bin/sed *",
            "/usr/bin/find / *",
            "/usr/bin/awk *",
            "/usr/bin/tar *",
            "/usr/bin/apt-get *",
            "/usr/bin/git *",
            "/usr/bin/vi -c x",
        ] {
            assert!(gives_shell(&spec(yes)), "{yes}");
        }
        for no in [
            "/bin/sh -c \"exit 42\"",
            "/usr/bin/python3 -c \"print(1)\"",
            "/usr/bin/perl -e 1",
            "/usr/bin/env",
            "/usr/bin/sed -n 1p /etc/hostname",
            "/usr/bin/find /var",
            "/usr/bin/apt-get update",
            "/usr/bin/journalctl *",
            "/usr/bin/systemctl status *",
            "/usr/bin/id",
            "/usr/bin/cp *",
        ] {
            assert!(!gives_shell(&spec(no)), "{no}");
        }
        assert!(writes_any_file(&spec("/usr/bin/cp *")));
        assert!(writes_any_file(&spec("/usr/bin/systemctl *")));
        assert!(!writes_any_file(&spec("/usr/bin/systemctl restart *")));
        assert!(!writes_any_file(&spec("/usr/bin/cp /a /b")));
    }

    #[test]
    fn root_equivalent_writers() {
        let p = pol(
            "[[rule]]\nname = \"a\"\nusers = [\"u\"]\nauth = \"none\"\ncommands = [\"/usr/bin/tee *\", \"/usr/bin/cp /a /b\"]\n\
             [[rule]]\nname = \"b\"\nusers = [\"u\"]\nrun_as = [\"www-data\"]\nauth = \"none\"\ncommands = [\"/usr/bin/cp *\"]\n\
             [[rule]]\nname = \"c\"\nusers = [\"v\"]\nrun_as = [\"#0\"]\ncommands = [\"/usr/bin/systemctl *\"]\n",
        );
        let msgs: Vec<String> = lint(&p).iter().map(|f| f.to_string()).collect();
        assert_eq!(msgs.len(), 3, "{msgs:#?}");
        assert!(
            msgs[0].contains("\"/usr/bin/tee *\" is root-equivalent")
                && msgs[0].contains("auth = \"none\""),
            "{msgs:#?}"
        );
        assert!(
            msgs[1].contains("tee *\" with any further arguments can write"),
            "{msgs:#?}"
        );
        assert!(
            msgs[2].contains("rule \"c\": \"/usr/bin/systemctl *\""),
            "{msgs:#?}"
        );
    }

    #[test]
    fn ineffective_and_unreachable_denies() {
        let p = pol(
            "[[rule]]\nname = \"ops\"\ngroups = [\"ops\"]\ncommands = [\"/usr/bin/systemctl *\", \"/usr/bin/id\"]\n\
             [[rule]]\nname = \"no-poweroff\"\ngroups = [\"ops\"]\naction = \"deny\"\ncommands = [\"/usr/bin/systemctl poweroff\", \"/usr/bin/id\"]\n\
             [[rule]]\nname = \"other\"\ngroups = [\"dev\"]\naction = \"deny\"\ncommands = [\"/usr/bin/systemctl reboot\", \"/usr/bin/systemctl halt *\"]\n\
             [[rule]]\nname = \"net\"\ngroups = [\"ops\"]\naction = \"deny\"\ncommands = [\"/bin/sh *\", \"/usr/bin/systemctl halt *\"]\n\
             [[rule]]\nname = \"none\"\ngroups = [\"ops\"]\naction = \"deny\"\ncommands = [\"/bin/bash *\"]\n",
        );
        let f = lint(&p);
        let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
        let sev = |needle: &str| -> Vec<Severity> {
            f.iter()
                .filter(|x| x.message.contains(needle))
                .map(|x| x.severity)
                .collect()
        };
        // Shared group, wider allow: an ERROR naming the allow rule.
        assert_eq!(sev("ineffective deny"), vec![Severity::Error], "{msgs:#?}");
        assert!(
            msgs.iter().any(|m| m.starts_with("/p.toml:6:1: ERROR: ineffective deny: rule \"no-poweroff\" denies only \"/usr/bin/systemctl poweroff\", but rule \"ops\" still allows \"/usr/bin/systemctl *\"")),
            "{msgs:#?}"
        );
        // An exact deny of an exact allow is effective; still a fixed-args WARN.
        assert_eq!(
            sev("\"/usr/bin/id\" denies only exactly"),
            vec![Severity::Warn]
        );
        // Other group: not ineffective, a fixed-args WARN.
        assert_eq!(
            sev("\"/usr/bin/systemctl reboot\" denies only exactly"),
            vec![Severity::Warn]
        );
        // Partly unreachable: an INFO per entry; wholly: one INFO per rule.
        assert_eq!(sev("\"/bin/sh *\" matches nothing"), vec![Severity::Info]);
        assert_eq!(
            sev("deny rule \"none\" matches nothing"),
            vec![Severity::Info]
        );
        assert!(
            sev("systemctl halt *\" matches nothing").is_empty(),
            "{msgs:#?}"
        );
        let c = counts(&f);
        // (plus the root-equivalent `systemctl *` WARN)
        assert_eq!((c.error, c.warn, c.info), (1, 3, 2), "{msgs:#?}");
    }

    #[test]
    fn redundant_and_shadowed_entries() {
        let p = pol(
            "[[rule]]\nname = \"a\"\nusers = [\"u\", \"w\"]\nrun_as = [\"root\", \"bob\"]\ncommands = [\"/usr/bin/journalctl *\", \"/usr/bin/journalctl -u x\", \"/usr/bin/id\"]\n\
             [[rule]]\nname = \"b\"\nusers = [\"w\", \"u\"]\ncommands = [\"/usr/bin/journalctl -f\", \"/usr/bin/df\"]\nauth = \"none\"\n\
             [[rule]]\nname = \"c\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/journalctl -f\"]\n\
             [[rule]]\nname = \"d\"\nusers = [\"u\", \"w\"]\nrun_as = [\"carol\"]\ncommands = [\"/usr/bin/id\"]\n",
        );
        let f = lint(&p);
        let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
        assert!(f.iter().all(|f| f.severity == Severity::Info), "{msgs:#?}");
        assert_eq!(msgs.len(), 2, "{msgs:#?}");
        assert!(
            msgs[0].contains("rule \"a\": \"/usr/bin/journalctl -u x\" is redundant"),
            "{msgs:#?}"
        );
        assert!(
            msgs[1].contains(
                "rule \"b\": \"/usr/bin/journalctl -f\" never decides: earlier rule \"a\""
            ),
            "{msgs:#?}"
        );
    }

    #[test]
    fn counts_metrics_and_json() {
        let f = |severity| Finding {
            severity,
            origin: Some(Origin {
                file: "/p.toml".into(),
                line: 3,
                col: 1,
            }),
            message: "m \"q\"".into(),
        };
        let all = [
            f(Severity::Warn),
            f(Severity::Info),
            f(Severity::Warn),
            Finding {
                origin: None,
                ..f(Severity::Info)
            },
        ];
        let c = counts(&all);
        assert_eq!(
            c,
            Counts {
                error: 0,
                warn: 2,
                info: 2
            }
        );
        assert_eq!(c.highest(), Some(Severity::Warn));
        assert_eq!(Counts::default().highest(), None);
        assert_eq!(
            counts(&[f(Severity::Error)]).highest(),
            Some(Severity::Error)
        );
        let prom = c.prometheus();
        assert!(
            prom.contains("belladonna_lint_findings{severity=\"error\"} 0\n"),
            "{prom}"
        );
        assert!(
            prom.contains("belladonna_lint_findings{severity=\"warn\"} 2\n"),
            "{prom}"
        );
        assert!(
            prom.contains("belladonna_lint_findings{severity=\"info\"} 2\n"),
            "{prom}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&report_json(&all, Some(&[0xab; 32]))).expect("json");
        assert_eq!(
            json["counts"],
            serde_json::json!({"error": 0, "warn": 2, "info": 2})
        );
        assert_eq!(json["hash"], serde_json::json!("ab".repeat(32)));
        assert_eq!(
            json["findings"][0],
            serde_json::json!({"severity": "warn", "file": "/p.toml", "line": 3, "col": 1, "message": "m \"q\""})
        );
        assert_eq!(json["findings"][3]["file"], serde_json::Value::Null);
        let e = crate::policy::PolicyError::at(Path::new("/x.toml"), 2, 5, "bad");
        let json: serde_json::Value =
            serde_json::from_str(&report_json_load_error(&e)).expect("json");
        assert_eq!(json["counts"]["error"], 1);
        assert_eq!(json["hash"], serde_json::Value::Null);
        assert_eq!(json["findings"][0]["line"], 2);
        assert_eq!(json["findings"][0]["col"], 5);
    }

    #[test]
    fn accounts() {
        let p = pol(
            "[[rule]]\nname = \"a\"\nusers = [\"root\", \"belladonna-no-such-user\", \"#4000000\"]\n\
             groups = [\"root\", \"belladonna-no-such-group\"]\nrun_as = [\"root\", \"belladonna-no-such-user\"]\n\
             commands = [\"/usr/bin/id\"]\n",
        );
        let f = lint_accounts(&p);
        let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
        assert_eq!(f.len(), 2, "{msgs:#?}");
        assert!(f.iter().all(|f| f.severity == Severity::Error), "{msgs:#?}");
        assert!(
            msgs[0].contains("unknown user \"belladonna-no-such-user\""),
            "{msgs:#?}"
        );
        assert!(
            msgs[1].contains("unknown group \"belladonna-no-such-group\""),
            "{msgs:#?}"
        );
    }

    #[test]
    fn writable_commands_and_digest_pins() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let real = std::fs::canonicalize(tmp.path()).expect("canonicalize");
        let exe = real.join("tool");
        std::fs::write(&exe, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o757)).expect("chmod");
        let digest = format!("blake3:{}", "00".repeat(32));
        let p = pol(&format!(
            "[[rule]]\nname = \"open\"\nusers = [\"u\"]\ncommands = [\"{0}\"]\n\
             [[rule]]\nname = \"pinned\"\nusers = [\"u\"]\ncommands = [{{ cmd = \"{0}\", digest = \"{digest}\" }}]\n",
            exe.display()
        ));
        let f = lint_paths(&p);
        let msgs: Vec<String> = f.iter().map(|f| f.to_string()).collect();
        let world = |rule: &str| -> Vec<Severity> {
            f.iter()
                .filter(|x| {
                    x.message.starts_with(&format!("rule {rule:?}: command "))
                        && x.message.contains("anyone can replace")
                })
                .map(|x| x.severity)
                .collect()
        };
        assert_eq!(world("open"), vec![Severity::Error], "{msgs:#?}");
        assert_eq!(world("pinned"), vec![Severity::Warn], "{msgs:#?}");
        // Group-writable only: a WARN without a pin, nothing with one.
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o775)).expect("chmod");
        let f = lint_paths(&p);
        let msgs: Vec<String> = f
            .iter()
            .filter(|x| x.message.contains(&format!("command {} ", exe.display())))
            .map(|f| f.to_string())
            .collect();
        let uid_is_root = nix::unistd::geteuid().is_root();
        if uid_is_root {
            assert_eq!(msgs.len(), 1, "{msgs:#?}");
            assert!(
                msgs[0].contains("WARN: rule \"open\"") && msgs[0].contains("no digest pin"),
                "{msgs:#?}"
            );
        }
        assert!(
            msgs.iter().all(|m| !m.contains("rule \"pinned\"")),
            "{msgs:#?}"
        );
    }
}

#[cfg(test)]
mod approval_lint_tests {
    use super::*;
    use crate::policy::parse::parse_main;
    use std::path::Path;

    #[test]
    fn unsatisfiable_approval_rule_is_an_error() {
        let p = parse_main(
            "version = 1\n[[rule]]\nname = \"r\"\nusers = [\"u\"]\ncommands = [\"/bin/true\"]\nauth = \"approval\"\n",
            Path::new("p.toml"),
        )
        .expect("parses");
        let f = lint(&p);
        assert!(
            f.iter()
                .any(|f| f.severity == Severity::Error && f.message.contains("never run")),
            "{f:?}"
        );
    }
}
