//! Lint of the environment a policy lets through: `env_keep` entries
//! that let the caller inject code into the command or change how it
//! parses its input, and `setenv` values of such variables that point
//! where a caller may write. Pure (offline). See docs/lint.md.
#![forbid(unsafe_code)]

use super::{Finding, Severity, finding};
use crate::policy::model::{Policy, Rule};

/// Variables that make a program load or run code, or run a program,
/// named by their value: kept from the caller, they hand the caller the
/// command's privileges. (`LD_*` and `BASH_FUNC_*` are refused by the
/// parser and never passed.)
const RUNS_CODE: &[(&str, &str)] = &[
    ("BASH_ENV", "bash runs this file before a script"),
    ("ENV", "sh and bash in POSIX mode run this file at start"),
    ("SHELLOPTS", "sets bash options (xtrace with PS4 runs code)"),
    ("BASHOPTS", "sets bash options"),
    (
        "PS4",
        "bash expands it, command substitutions included, under xtrace",
    ),
    ("PYTHONPATH", "python imports modules from it first"),
    ("PYTHONHOME", "python loads its standard library from it"),
    (
        "PYTHONSTARTUP",
        "python runs this file at an interactive start",
    ),
    (
        "PYTHONINSPECT",
        "python drops into its prompt after the script",
    ),
    ("PYTHONBREAKPOINT", "python imports and calls what it names"),
    (
        "PYTHONWARNINGS",
        "python imports the warning category modules it names",
    ),
    (
        "PYTHONUSERBASE",
        "python adds its site-packages to the path",
    ),
    (
        "PERL5OPT",
        "perl takes command-line options (-M modules) from it",
    ),
    ("PERL5LIB", "perl loads modules from it first"),
    ("PERLLIB", "perl loads modules from it first"),
    ("PERL5DB", "perl runs it as the debugger"),
    (
        "RUBYOPT",
        "ruby takes command-line options (-r libraries) from it",
    ),
    ("RUBYLIB", "ruby loads libraries from it first"),
    ("NODE_OPTIONS", "node takes options (--require) from it"),
    ("NODE_PATH", "node loads modules from it"),
    ("GCONV_PATH", "glibc's iconv loads shared objects from it"),
    (
        "GLIBC_TUNABLES",
        "glibc parses it in every process (CVE-2023-4911)",
    ),
    ("LOCPATH", "glibc loads locale data from it"),
    (
        "NLSPATH",
        "catgets loads message catalogs (format strings) from it",
    ),
    (
        "TERMINFO",
        "ncurses parses terminal descriptions from it (CVE-2023-29491)",
    ),
    (
        "TERMINFO_DIRS",
        "ncurses parses terminal descriptions from it",
    ),
    (
        "HOSTALIASES",
        "the resolver reads host aliases from this file",
    ),
    ("PAGER", "the command runs it (a pager gives a shell)"),
    ("MANPAGER", "man runs it"),
    ("SYSTEMD_PAGER", "systemctl and journalctl run it"),
    ("GIT_PAGER", "git runs it"),
    (
        "EDITOR",
        "the command runs it (crontab -e, systemctl edit, ...)",
    ),
    ("VISUAL", "the command runs it"),
    (
        "SUDO_EDITOR",
        "sudoedit-style tools and `visudo` run it (bdexec -e reads it from the caller, not from the command's environment)",
    ),
    ("SYSTEMD_EDITOR", "systemctl edit runs it"),
    ("BROWSER", "the command runs it"),
    ("GIT_SSH_COMMAND", "git runs it"),
    ("GIT_EXEC_PATH", "git runs its helpers from it"),
];

/// Variables that change how the command parses its input or where it
/// puts files, without running the caller's code by themselves.
const CHANGES_PARSING: &[(&str, &str)] = &[
    ("IFS", "changes how shells split words"),
    ("CDPATH", "changes where a script's cd goes"),
    ("POSIXLY_CORRECT", "changes how GNU tools parse options"),
    ("TMPDIR", "temporary files go where the caller chose"),
];

/// Why keeping the caller's `name` would let it run code in the command
/// or change how the command works (the lists above), if it would:
/// `bdexec -E` under `preserve_env = true` withholds these (as sudo's
/// env_delete still applies with `-E`); a rule that names one in a
/// `preserve_env` list gets the ERROR an `env_keep` entry would.
pub fn unsafe_to_preserve(name: &str) -> Option<&'static str> {
    RUNS_CODE
        .iter()
        .chain(CHANGES_PARSING)
        .find(|(n, _)| *n == name)
        .map(|(_, why)| *why)
}

/// The dangerous names an `env_keep` entry covers (exact, or every name
/// starting with the prefix of a `PREFIX*` pattern), with their reasons.
fn covered<'a>(
    entry: &str,
    table: &'a [(&'a str, &'a str)],
) -> impl Iterator<Item = &'a (&'a str, &'a str)> {
    let (prefix, pattern) = match entry.strip_suffix('*') {
        Some(p) => (p.to_string(), true),
        None => (entry.to_string(), false),
    };
    table.iter().filter(move |(n, _)| {
        if pattern {
            n.starts_with(&prefix)
        } else {
            *n == prefix
        }
    })
}

fn defaults_finding(severity: Severity, message: String) -> Finding {
    Finding {
        severity,
        origin: None,
        message,
    }
}

fn describe(hits: &[&(&str, &str)]) -> String {
    let shown: Vec<String> = hits
        .iter()
        .take(4)
        .map(|(n, why)| format!("{n}: {why}"))
        .collect();
    let more = hits.len().saturating_sub(4);
    if more > 0 {
        format!("{}; and {more} more", shown.join("; "))
    } else {
        shown.join("; ")
    }
}

/// Why keeping `entry` (a name or `PREFIX*`) would let the caller run
/// its own code in the command, when it would (the lint's ERROR; the
/// sudoers importer leaves such entries out).
pub fn env_keep_runs_code(entry: &str) -> Option<String> {
    if entry == "*" {
        return Some("it keeps every caller variable".into());
    }
    let code: Vec<_> = covered(entry, RUNS_CODE).collect();
    (!code.is_empty()).then(|| describe(&code))
}

/// `env_keep` (`[defaults]`, or a rule's own, which adds to it): ERROR
/// for an entry that lets the caller run code in the command (or `*`,
/// which keeps everything), WARN for one that changes parsing.
fn lint_env_keep(list: &[String], rule: Option<&Rule>, out: &mut Vec<Finding>) {
    let where_ = match rule {
        Some(r) => format!("rule {}: env_keep", r.name),
        None => "[defaults] env_keep".to_string(),
    };
    lint_keep_list(list, rule, &where_, out);
}

/// A list of kept names or `PREFIX*` patterns (`env_keep`, a rule's
/// `preserve_env` list), named `where_` in the findings.
fn lint_keep_list(list: &[String], rule: Option<&Rule>, where_: &str, out: &mut Vec<Finding>) {
    let push = |out: &mut Vec<Finding>, severity: Severity, message: String| {
        out.push(match rule {
            Some(r) => finding(severity, r, message),
            None => defaults_finding(severity, message),
        });
    };
    for entry in list {
        if entry == "*" {
            push(
                out,
                Severity::Error,
                format!(
                    "{where_} entry \"*\" keeps every caller variable (PYTHONPATH, PERL5OPT, BASH_ENV, PAGER, ...): the caller can run its own code in the command"
                ),
            );
            continue;
        }
        let code: Vec<_> = covered(entry, RUNS_CODE).collect();
        if !code.is_empty() {
            push(
                out,
                Severity::Error,
                format!(
                    "{where_} entry {entry:?} lets the caller run its own code in the command ({})",
                    describe(&code)
                ),
            );
            continue;
        }
        let parsing: Vec<_> = covered(entry, CHANGES_PARSING).collect();
        if !parsing.is_empty() {
            push(
                out,
                Severity::Warn,
                format!(
                    "{where_} entry {entry:?} lets the caller change how the command works ({})",
                    describe(&parsing)
                ),
            );
        }
    }
}

/// Where a caller can usually write: a path under one of these, or a
/// relative path, in a code-loading variable set by the policy.
const CALLER_WRITABLE: &[&str] = &["/tmp/", "/var/tmp/", "/dev/shm/", "/home/", "/run/user/"];

fn caller_writable_path(value: &str) -> Option<&str> {
    value
        .split([':', ' ', ','])
        .filter(|s| !s.is_empty())
        .find(|s| {
            // Relative paths (but not bare words such as `vi` or `less`,
            // which are looked up in secure_path).
            (!s.starts_with('/') && s.contains('/'))
                || *s == "."
                || CALLER_WRITABLE
                    .iter()
                    .any(|d| s.starts_with(d) || *s == d.trim_end_matches('/'))
        })
}

fn lint_setenv_list(
    list: &[(String, String)],
    rule: Option<&Rule>,
    where_: &str,
    out: &mut Vec<Finding>,
) {
    for (name, value) in list {
        if !RUNS_CODE.iter().any(|(n, _)| n == name) {
            continue;
        }
        if let Some(path) = caller_writable_path(value) {
            let message = format!(
                "{where_} setenv {name} = {value:?}: the command loads or runs code from {path:?}, where a caller may write"
            );
            out.push(match rule {
                Some(r) => finding(Severity::Warn, r, message),
                None => defaults_finding(Severity::Warn, message),
            });
        }
    }
}

/// The whole environment lint.
pub(super) fn lint_env(p: &Policy, out: &mut Vec<Finding>) {
    lint_env_keep(&p.defaults.env_keep, None, out);
    lint_setenv_list(&p.defaults.setenv, None, "[defaults]", out);
    for rule in &p.rules {
        if let Some(list) = &rule.env_keep {
            lint_env_keep(list, Some(rule), out);
        }
        // -E keeps what a preserve_env list names, as env_keep would.
        if let Some(crate::policy::model::PreserveEnv::Only(list)) = &rule.caller.preserve_env {
            let where_ = format!("rule {}: preserve_env", rule.name);
            lint_keep_list(list, Some(rule), &where_, out);
        }
        lint_setenv_list(
            &rule.setenv,
            Some(rule),
            &format!("rule {}:", rule.name),
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::lint;
    use super::*;
    use crate::policy::parse::parse_main;
    use std::path::Path;

    fn env_findings(defaults: &str, rules: &str) -> Vec<Finding> {
        let text = format!(
            "version = 1\n[defaults]\n{defaults}\n[[rule]]\nname = \"r\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/id\"]\n{rules}\n"
        );
        let p = parse_main(&text, Path::new("/p.toml")).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        lint_env(&p, &mut out);
        out
    }

    /// The lint of `[defaults] env_keep = entries`, set on the model
    /// directly: the parser refuses some entries (`*`, `LD_*`) that the
    /// lint still classifies, for policies built otherwise.
    fn keep(entries: &[&str]) -> Vec<Finding> {
        let text =
            "version = 1\n[[rule]]\nname = \"r\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/id\"]\n";
        let mut p = parse_main(text, Path::new("/p.toml")).unwrap_or_else(|e| panic!("{e}"));
        p.defaults.env_keep = entries.iter().map(|e| (*e).to_string()).collect();
        let mut out = Vec::new();
        lint_env(&p, &mut out);
        out
    }

    #[test]
    fn preserve_env_lists_are_linted_as_env_keep() {
        let f = env_findings(
            "",
            "auth = \"none\"\npreserve_env = [\"PYTHONPATH\", \"HTTP_PROXY\"]",
        );
        assert!(
            f.iter().any(|x| x.severity == Severity::Error
                && x.message.contains("preserve_env entry \"PYTHONPATH\"")),
            "{f:?}"
        );
        assert!(!f.iter().any(|x| x.message.contains("HTTP_PROXY")), "{f:?}");
        assert!(unsafe_to_preserve("BASH_ENV").is_some());
        assert!(unsafe_to_preserve("IFS").is_some());
        assert!(unsafe_to_preserve("HTTP_PROXY").is_none());
    }

    #[test]
    fn code_injecting_env_keep_entries_are_errors() {
        for name in [
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "PERL5OPT",
            "PERL5LIB",
            "RUBYOPT",
            "NODE_OPTIONS",
            "BASH_ENV",
            "ENV",
            "GCONV_PATH",
            "GLIBC_TUNABLES",
            "PAGER",
            "EDITOR",
            "SUDO_EDITOR",
            "P*",
            "PYTHON*",
            "G*",
            "*",
        ] {
            let f = keep(&["TERM", name]);
            assert_eq!(f.len(), 1, "{name}: {f:?}");
            assert_eq!(f[0].severity, Severity::Error, "{name}: {f:?}");
            assert!(f[0].message.contains(&format!("{name:?}")), "{f:?}");
        }
        let f = keep(&["P*"]);
        assert!(f[0].message.contains("PYTHONPATH: python imports"), "{f:?}");
        assert!(f[0].message.contains("more"), "{f:?}");
    }

    #[test]
    fn a_rules_env_keep_is_linted_like_the_defaults() {
        let f = env_findings("", "env_keep = [\"PYTHONPATH\"]");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Error, "{f:?}");
        assert!(
            f[0].message
                .contains("rule r: env_keep entry \"PYTHONPATH\""),
            "{f:?}"
        );
        assert!(f[0].origin.is_some(), "{f:?}");
        let f = env_findings("", "env_keep = [\"IFS\"]");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Warn, "{f:?}");
        assert!(env_findings("", "env_keep = [\"SSH_AUTH_SOCK\"]").is_empty());
    }

    #[test]
    fn parsing_changers_are_warnings() {
        for name in ["IFS", "I*", "TMPDIR", "CDPATH", "POSIXLY_CORRECT"] {
            let f = keep(&[name]);
            assert_eq!(f.len(), 1, "{name}: {f:?}");
            assert_eq!(f[0].severity, Severity::Warn, "{name}: {f:?}");
        }
    }

    #[test]
    fn safe_entries_and_the_default_list_are_silent() {
        assert!(keep(&["TERM", "LANG", "LC_*", "COLUMNS", "TZ", "DISPLAY"]).is_empty());
        let defaults = crate::policy::model::DEFAULT_ENV_KEEP;
        assert!(keep(defaults).is_empty(), "{:?}", keep(defaults));
        // A parsed env_keep goes through the same check.
        let f = env_findings("env_keep = [\"TERM\", \"NODE_OPTIONS\"]", "");
        assert_eq!(f.len(), 1, "{f:?}");
    }

    #[test]
    fn setenv_into_caller_writable_places() {
        let f = env_findings(
            "setenv = { PYTHONPATH = \"/opt/app/lib:/tmp/x\" }",
            "setenv = { PAGER = \"less\", PERL5LIB = \"lib/perl\", EDITOR = \"/home/bob/ed\" }",
        );
        let msgs: Vec<&str> = f.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(f.len(), 3, "{msgs:?}");
        assert!(f.iter().all(|f| f.severity == Severity::Warn));
        assert!(msgs[0].contains("[defaults] setenv PYTHONPATH") && msgs[0].contains("\"/tmp/x\""));
        assert!(msgs.iter().any(|m| m.contains("rule r: setenv PERL5LIB")));
        assert!(msgs.iter().any(|m| m.contains("rule r: setenv EDITOR")));
        assert!(f[1].origin.is_some());
        // Root-owned places and bare program names: silent.
        assert!(
            env_findings(
                "setenv = { PYTHONPATH = \"/opt/app/lib\", PAGER = \"cat\" }",
                ""
            )
            .is_empty()
        );
    }

    #[test]
    fn part_of_the_pure_lint() {
        let p = parse_main(
            "version = 1\n[defaults]\nenv_keep = [\"PYTHONPATH\"]\n[[rule]]\nname = \"r\"\nusers = [\"u\"]\ncommands = [\"/usr/bin/id\"]\n",
            Path::new("/p.toml"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            lint(&p)
                .iter()
                .any(|f| f.severity == Severity::Error && f.message.contains("PYTHONPATH"))
        );
    }
}
