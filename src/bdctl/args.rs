//! bdctl's command line (clap): what each subcommand takes. The binary
//! parses [`BdctlArgs`] and hands it to [`super::run`].
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

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
    /// Developer aliases (`dev policy-diff A B`).
    Dev {
        #[command(subcommand)]
        cmd: DevCmd,
    },
    /// Import another tool's configuration as a Belladonna policy.
    Import {
        #[command(subcommand)]
        cmd: ImportCmd,
    },
    /// Audit log commands.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Keys: approver Ed25519 keypairs, the audit MAC key and its epochs.
    Key {
        #[command(subcommand)]
        cmd: KeyCmd,
    },
    /// Check this host and the installation: Landlock ABI, seccomp, the
    /// installed bdexec's mode and file capabilities, file permissions,
    /// what each sandbox profile enforces here, grants bdexec can't give.
    Doctor {
        /// The installed bdexec to inspect.
        #[arg(long, default_value = "/usr/bin/bdexec")]
        bdexec: PathBuf,
        /// Instead: probe the OTLP/HTTP collector at URL (reachable,
        /// accepts an empty export) and say in one line what is wrong.
        #[arg(long, value_name = "URL")]
        otlp: Option<String>,
    },
    /// Prometheus metrics derived from the audit log and the state
    /// directories (stdout, a node_exporter textfile, or served).
    Metrics {
        /// Write DIR/belladonna.prom atomically instead of stdout.
        #[arg(long, value_name = "DIR")]
        textfile: Option<PathBuf>,
        #[command(subcommand)]
        cmd: Option<MetricsCmd>,
    },
    /// Export telemetry derived from the audit log.
    Export {
        #[command(subcommand)]
        cmd: ExportCmd,
    },
    /// Signed approval tokens (docs/approval-tokens.md).
    Token {
        #[command(subcommand)]
        cmd: TokenCmd,
    },
    /// Freeze the host: only `break_glass` rules run until an unfreeze
    /// (docs/incident-response.md). Root only.
    Freeze {
        /// Why (recorded in the audit log and shown by `bdctl status`).
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// Leave frozen mode with M-of-N signed unfreeze tokens
    /// (`bdctl token sign --purpose unfreeze`), each single-use. Root only.
    Unfreeze {
        /// An unfreeze token file; repeat for each approver.
        #[arg(long, value_name = "FILE", required = true)]
        token: Vec<PathBuf>,
    },
    /// Per-user hydra risk scores and their p50/p95/p99
    /// (docs/incident-response.md). Root only.
    Hydra {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Recommend the decoy alarm's parameters from the audit log's decoy
    /// hits, with when the alarm would have fired under the current and
    /// the recommended settings, and a trace sampling rate that keeps the
    /// busiest minute within a budget (docs/incident-response.md).
    Tune {
        /// The audit log to read (default: the system log).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Traces per minute `bdctl export otlp` may send at the busiest
        /// minute seen.
        #[arg(long, value_name = "N", default_value_t = 600,
              value_parser = clap::value_parser!(u64).range(1..))]
        trace_budget: u64,
        /// Write the recommendation as a policy drop-in to FILE.
        #[arg(long, value_name = "FILE")]
        write: Option<PathBuf>,
    },
    /// Play a session recording (`record = true`) back, after checking it
    /// against the hash in its exit record (belladonna-policy(5)).
    Replay {
        /// The session: the UUID of its accept record.
        uuid: String,
        /// Write the output at once, without the timing.
        #[arg(long)]
        raw: bool,
        /// Play N times as fast (0.5 = half speed).
        #[arg(long, value_name = "N", default_value_t = 1.0, conflicts_with = "raw")]
        speed: f64,
        /// The audit log holding the exit record (default: the system log).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Frozen or not, since when and why.
    Status {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Parse and lint a policy (default: the installed one with its drop-ins).
    Check {
        /// A policy file to check instead of the installed policy.
        file: Option<PathBuf>,
        /// Print one JSON object: findings, counts per tier, policy hash.
        #[arg(long)]
        json: bool,
        /// Only the checks that depend on the policy text alone (no
        /// command files, accounts or sandbox paths looked up on this
        /// host): for a policy written for another machine, and for CI.
        #[arg(long)]
        offline: bool,
    },
    /// Print the canonical policy hash and its segment hashes (auth, rate,
    /// sandbox, decoy) of the installed policy with its drop-ins, or of FILE.
    Hash {
        /// A policy file to hash instead of the installed policy.
        file: Option<PathBuf>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The effective privilege change from policy A to policy B: who gains
    /// or loses which command as whom, auth, sandbox, caps, defaults. Exit
    /// 0: nothing widens; 1: something widens; 2: usage or load error.
    Diff {
        /// The old policy file.
        a: PathBuf,
        /// The new policy file.
        b: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Exit 0 even when something widens.
        #[arg(long)]
        allow_widen: bool,
    },
    /// Pin the installed policy: write /etc/belladonna/policy.lock (full and
    /// segment hashes, who, when, and a copy of the policy) as root.
    Pin {
        /// Print the current lock instead of writing one.
        #[arg(long)]
        show: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MetricsCmd {
    /// Serve GET /metrics over HTTP (one connection at a time).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:9464.
        #[arg(long, value_name = "ADDR")]
        listen: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportCmd {
    /// Send the lifecycle spans of the records not yet exported (and the
    /// metrics) to an OTLP/HTTP collector: URL/v1/traces, URL/v1/metrics.
    Otlp {
        /// The collector's base URL (http:// only), e.g.
        /// http://127.0.0.1:4318.
        #[arg(long, value_name = "URL")]
        endpoint: String,
        /// Bound of one HTTP exchange, seconds.
        #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
        timeout: u64,
        /// Attempts per request (exponential backoff from 1 s).
        #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
        attempts: u32,
        /// Records per request.
        #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=10000))]
        batch: u64,
        /// Send the spans only, not the metrics.
        #[arg(long)]
        no_metrics: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DevCmd {
    /// Alias of `bdctl policy diff A B`.
    PolicyDiff {
        a: PathBuf,
        b: PathBuf,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        allow_widen: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Verify the hash chain (and epochs) of the log and of its rotated
    /// files FILE.N; exit 0 when valid.
    Verify {
        /// Audit log to verify, with its rotated files FILE.N (default:
        /// the installed one).
        #[arg(long)]
        file: Option<PathBuf>,
        /// The audit verification key K_0 (from `key gen --audit
        /// --export-verify-key`): check every record's MAC too.
        #[arg(long, value_name = "K0FILE")]
        key: Option<PathBuf>,
    },
    /// Show the audit log (human view, or the raw JSON lines).
    Show {
        #[arg(long)]
        file: Option<PathBuf>,
        /// Print the JSON records instead of the human view.
        #[arg(long)]
        json: bool,
    },
    /// Close the current audit file (a rotate record), start a new one
    /// linked to it by hash, and rename the old one to FILE.N.
    Rotate {
        /// Audit log to rotate (default: the installed one).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Keep at most N rotated files: the oldest are deleted and the
        /// deletion recorded in the new file (default: keep all).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        keep: Option<u64>,
    },
    /// Compare the audit log with its copy in the journal (by BD_SEQ and
    /// BD_HASH): finds a truncated or rewritten tail.
    CrossCheck {
        /// Audit log to check (default: the installed one).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Read the journal files in DIR (journalctl --directory) instead
        /// of the system journal.
        #[arg(long, value_name = "DIR")]
        directory: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCmd {
    /// Convert a sudoers file (default /etc/sudoers, with its includes)
    /// into a policy, never widening; warnings on stderr.
    Sudoers {
        /// The sudoers file to import.
        #[arg(default_value = "/etc/sudoers")]
        file: PathBuf,
        /// Write the policy to OUT instead of stdout.
        #[arg(short = 'o', long = "output", value_name = "OUT")]
        output: Option<PathBuf>,
        /// Evaluate host lists for HOST instead of this host's name.
        #[arg(long = "host", value_name = "HOST")]
        host: Option<String>,
        /// Print, per sudoers line, what became of it (mapped, narrowed,
        /// not mapped) as a table on stdout; the policy is then written
        /// only with -o.
        #[arg(long = "report")]
        report: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// Create a key: the host's audit MAC key (epoch 0), an approver's
    /// Ed25519 keypair, or the KEK. Never overwrites.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["audit", "approver", "kek"])))]
    Gen {
        /// The audit MAC key /etc/belladonna/keys/audit.key.
        #[arg(long)]
        audit: bool,
        /// Write K_0, the verification key, to FILE (keep it off the host).
        #[arg(long, value_name = "FILE", requires = "audit")]
        export_verify_key: Option<PathBuf>,
        /// Store the audit key wrapped by the KEK (/etc/belladonna/keys/kek).
        #[arg(long, requires = "audit")]
        wrap: bool,
        /// An approver's keypair: NAME.key (0600) and NAME.pub in --out.
        #[arg(long, value_name = "NAME", requires = "out")]
        approver: Option<String>,
        /// Directory for the approver's key files.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// The key-encryption key /etc/belladonna/keys/kek.
        #[arg(long)]
        kek: bool,
        /// With --kek: seal the KEK to the TPM
        /// (/etc/belladonna/keys/kek.tpm) instead of a plain file.
        #[cfg(feature = "belladonna_tpm_real")]
        #[arg(long, requires = "kek")]
        tpm: bool,
    },
    /// Move a key to its next epoch: the audit key (seal the epoch in the
    /// log, K_{e+1} from K_e, old key overwritten) or an approver's keypair.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["audit", "approver"])))]
    Rotate {
        #[arg(long)]
        audit: bool,
        #[arg(long, value_name = "NAME", requires = "out")]
        approver: Option<String>,
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Print a key's type, epoch and fingerprint (never the secret);
    /// default: the host's audit key.
    Show { file: Option<PathBuf> },
    /// Check a key file: format, checksum, length, permissions, epoch.
    Verify {
        file: PathBuf,
        /// Also require this type (audit-mac, audit-verify,
        /// ed25519-private, ed25519-public, kek).
        #[arg(long = "type", value_name = "TYPE")]
        expect: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Sign an approval token with an approver's private key; prints it.
    Sign {
        /// The approver's private key file (`bdctl key gen`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The approver's name in the policy (default: the key file's name).
        #[arg(long, value_name = "NAME")]
        approver: Option<String>,
        /// The user who may run the command (a name, or #uid); required
        /// for --purpose exec, refused for unfreeze.
        #[arg(long, value_name = "USER")]
        user: Option<String>,
        /// The target user.
        #[arg(long = "run-as", value_name = "USER", default_value = "root")]
        run_as: String,
        /// Validity from now: Ns, Nm or Nh, at most 24h.
        #[arg(long, value_name = "DURATION", default_value = "1h")]
        ttl: String,
        /// exec or unfreeze.
        #[arg(long, default_value = "exec")]
        purpose: String,
        /// The host name (default: this host's); needs --machine-id.
        #[arg(long, value_name = "HOST", requires = "machine_id")]
        host: Option<String>,
        /// The host's /etc/machine-id (default: this host's).
        #[arg(long = "machine-id", value_name = "ID", requires = "host")]
        machine_id: Option<String>,
        /// The rule's nonce namespace.
        #[arg(long, value_name = "NS", default_value = "default")]
        ns: String,
        /// The exact argv, `argv[0]` the absolute path (must come last);
        /// required for --purpose exec, refused for unfreeze.
        #[arg(long, num_args = 1.., allow_hyphen_values = true, value_name = "ARG")]
        argv: Vec<OsString>,
    },
    /// Decode a token file, print its claims, and check its signature
    /// against the policy's approver key. Exit 0 when the signature is
    /// valid and the token has not expired.
    Verify {
        /// Policy file holding the approvers (default: the installed one).
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// The token file.
        token: PathBuf,
    },
}
