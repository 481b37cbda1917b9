//! Command-line definitions of both binaries (clap).
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

/// bdexec: run a command as another user, as the policy allows.
#[derive(Debug, Parser)]
#[command(
    name = "bdexec",
    version,
    about = "Run a command as another user, as /etc/belladonna/policy.toml allows",
    disable_help_subcommand = true
)]
pub struct BdexecArgs {
    /// Run as USER (a name or #uid) instead of the rule's default target.
    #[arg(short = 'u', long = "user", value_name = "USER")]
    pub user: Option<OsString>,
    /// Non-interactive: never prompt; fail if authentication would need it.
    #[arg(short = 'n', long = "non-interactive")]
    pub non_interactive: bool,
    /// List the rules that apply to you.
    #[arg(short = 'l', long = "list", conflicts_with = "command")]
    pub list: bool,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// bdctl: the administrator's tool.
#[derive(Debug, Parser)]
#[command(
    name = "bdctl",
    version,
    about = "Belladonna administration",
    disable_help_subcommand = true
)]
pub struct BdctlArgs {
    #[command(subcommand)]
    pub cmd: BdctlCmd,
}

#[derive(Debug, Subcommand)]
pub enum BdctlCmd {
    /// Policy commands.
    Policy {
        #[command(subcommand)]
        cmd: PolicyCmd,
    },
    /// Audit log commands.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Check this host and the installation: Landlock ABI, seccomp, the
    /// installed bdexec's mode and file capabilities, file permissions,
    /// what each sandbox profile enforces here, grants bdexec can't give.
    Doctor {
        /// The installed bdexec to inspect.
        #[arg(long, default_value = "/usr/bin/bdexec")]
        bdexec: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Parse and lint a policy (default: the installed one with its drop-ins).
    Check {
        /// A policy file to check instead of the installed policy.
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Verify the hash chain; exit 0 when valid.
    Verify {
        /// Audit log to verify (default: the installed one).
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Show the audit log (human view, or the raw JSON lines).
    Show {
        #[arg(long)]
        file: Option<PathBuf>,
        /// Print the JSON records instead of the human view.
        #[arg(long)]
        json: bool,
    },
}
