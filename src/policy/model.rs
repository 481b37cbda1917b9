//! The policy as bdexec uses it: parsed, validated, defaults filled in.
//! Everything here is plain data; parsing lives in `parse`, file access in
//! `load`, matching in `matcher`.
#![forbid(unsafe_code)]

use serde::Serialize;
use std::path::PathBuf;

pub use super::caller::{CallerOptions, PreserveEnv};

/// Default `secure_path` (same as sudo's Debian default).
pub const DEFAULT_SECURE_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A whole policy: the main file plus drop-ins, merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub version: u32,
    pub defaults: Defaults,
    /// Rules in evaluation order: main file first, then drop-ins in
    /// byte-wise file-name order, each file's rules in file order.
    pub rules: Vec<Rule>,
    /// `[sandbox.NAME]` profiles, sorted by name.
    pub sandboxes: Vec<SandboxProfile>,
    /// `[approvers.NAME]` (main file only), sorted by name: the public keys
    /// approval tokens are verified against (docs/approval-tokens.md).
    /// Auth segment. Not serialized when empty, so policies without
    /// approvers kept their canonical hash.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<Approver>,
    /// `[incident]`, `[[decoy]]` and `break_glass` (decoy segment).
    #[serde(skip_serializing_if = "Incident::is_empty")]
    pub incident: Incident,
    /// `[audit]`: the audit log's degrade ladder (not serialized when
    /// default, so policies without it kept their canonical hash).
    #[serde(skip_serializing_if = "crate::policy::audit::AuditSettings::is_default")]
    pub audit: crate::policy::audit::AuditSettings,
}

impl Policy {
    /// The share of calls exported as traces, in millionths: `[incident]
    /// trace_sample_rate` (what `bdctl tune` writes) over `[defaults]
    /// telemetry_sample_rate`.
    pub fn trace_sample_ppm(&self) -> u32 {
        self.incident
            .settings
            .as_ref()
            .and_then(|s| s.trace_sample_ppm)
            .unwrap_or(self.defaults.telemetry_sample_ppm)
    }
}

/// `[defaults]`, with every omitted key filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Defaults {
    /// Absolute directories searched for a bare command name, in order.
    pub secure_path: Vec<PathBuf>,
    /// Environment variable names (or `PREFIX*` patterns) kept from the caller.
    pub env_keep: Vec<String>,
    /// Variables set for every command (after `env_keep`).
    pub setenv: Vec<(String, String)>,
    /// The command's umask is the caller's OR this value.
    pub umask: u32,
    /// Sandbox profile for rules that name none (`sandbox = "NAME"`).
    pub sandbox: Option<String>,
    /// `drift = "warn" | "deny"`: what bdexec does when the installed
    /// policy differs from the pinned one (`policy.lock`). Not serialized
    /// when it is the default (`warn`), so adding the key did not change
    /// the canonical hash of existing policies.
    #[serde(skip_serializing_if = "DriftMode::is_warn")]
    pub drift: DriftMode,
    /// `pam_account = true | false`: run PAM's account stage (expired or
    /// locked accounts, pam_access, pam_time) for every allowed rule, not
    /// only password rules (docs/pam.md). Auth segment. Not serialized
    /// when it is the default (`true`).
    #[serde(skip_serializing_if = "is_true")]
    pub pam_account: bool,
    /// `pam_account_memo = true | false`: remember PAM's accepted account
    /// verdict under the settled stamps of the files that decide it, when
    /// the account stack is only pam_unix, pam_permit and pam_deny
    /// (src/auth/memo.rs, docs/pam.md). Auth segment. Not serialized
    /// when it is the default (`true`).
    #[serde(skip_serializing_if = "is_true")]
    pub pam_account_memo: bool,
    /// `timestamp_timeout = "5m"`: lifetime in seconds of the PAM
    /// timestamp cache; 0 disables caching. Auth segment. Not serialized
    /// when it is the default ([`DEFAULT_TIMESTAMP_TIMEOUT`]).
    #[serde(skip_serializing_if = "is_default_timestamp_timeout")]
    pub timestamp_timeout: u64,
    /// `telemetry_sample_rate = 0.25`: the share of calls `bdctl export
    /// otlp` turns into spans, in parts per million (default: all). Not
    /// serialized when it is the default, so adding the key did not
    /// change the canonical hash of existing policies.
    #[serde(skip_serializing_if = "is_default_sample_ppm")]
    pub telemetry_sample_ppm: u32,
    /// `monitor`, `use_pty`, `require_tty` for every rule that does not
    /// set them. Not serialized when unset (existing hashes unchanged).
    #[serde(skip_serializing_if = "Session::is_unset")]
    pub session: Session,
}

/// Default `telemetry_sample_rate`: 1.0 (every call), in parts per million.
pub const DEFAULT_SAMPLE_PPM: u32 = 1_000_000;

fn is_default_sample_ppm(v: &u32) -> bool {
    *v == DEFAULT_SAMPLE_PPM
}

/// serde's `skip_serializing_if` for keys whose default is `true`.
pub fn is_true(v: &bool) -> bool {
    *v
}

/// The session keys of a rule or `[defaults]` (belladonna-policy(5),
/// src/exec/monitor/): `None` = not set here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Session {
    /// `monitor = true`: bdexec stays as the command's parent and records
    /// how it ended (an `exit` record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitor: Option<bool>,
    /// `use_pty`: the command gets its own pty (monitor mode only);
    /// unset = on when the caller has a terminal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_pty: Option<bool>,
    /// `require_tty = true`: refuse without a controlling terminal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_tty: Option<bool>,
    /// `record = true`: the session is recorded (src/exec/recording.rs);
    /// implies monitor mode, a pty and require_tty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<bool>,
    /// `record_input = true`: the recording keeps what the caller types
    /// too (passwords typed to the command included: off by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_input: Option<bool>,
    /// `noexec = true`: the command may not execute further programs
    /// (src/exec/noexec.rs); implies monitor mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noexec: Option<bool>,
}

impl Session {
    pub fn is_unset(&self) -> bool {
        *self == Session::default()
    }

    /// This rule's keys, each falling back to `defaults`'.
    pub fn or(self, defaults: Session) -> Session {
        Session {
            monitor: self.monitor.or(defaults.monitor),
            use_pty: self.use_pty.or(defaults.use_pty),
            require_tty: self.require_tty.or(defaults.require_tty),
            record: self.record.or(defaults.record),
            record_input: self.record_input.or(defaults.record_input),
            noexec: self.noexec.or(defaults.noexec),
        }
    }

    /// The session is recorded.
    pub fn recorded(&self) -> bool {
        self.record == Some(true)
    }

    /// Monitor mode: `monitor = true`, or implied by `record` or by
    /// `noexec` (the monitor supervises the command's execs).
    pub fn monitored(&self) -> bool {
        self.monitor == Some(true) || self.recorded() || self.noexec == Some(true)
    }

    /// A controlling terminal is required: `require_tty = true`, or
    /// implied by `record` (what is recorded is the session's pty).
    pub fn needs_tty(&self) -> bool {
        self.require_tty == Some(true) || self.recorded()
    }
}

/// Default `timestamp_timeout`: 5 minutes (sudo's default).
pub const DEFAULT_TIMESTAMP_TIMEOUT: u64 = 300;

fn is_default_timestamp_timeout(v: &u64) -> bool {
    *v == DEFAULT_TIMESTAMP_TIMEOUT
}

/// `[defaults] drift`: see docs/drift.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
pub enum DriftMode {
    /// Record the drift in the audit record and carry on (default).
    #[default]
    Warn,
    /// Deny every request while the policy differs from the pin.
    Deny,
}

impl DriftMode {
    pub fn is_warn(&self) -> bool {
        *self == DriftMode::Warn
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DriftMode::Warn => "warn",
            DriftMode::Deny => "deny",
        }
    }
}

/// A user or group reference: a name, or `#id`. In `run_as` also `ALL`
/// (any target) and `%group` / `%#gid` (any target that is a member of
/// the group, by the target's current groups); `users` and `groups` never
/// hold these (the parser refuses them there).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Principal {
    Name(String),
    Id(u32),
    /// `run_as = ["ALL"]`: any account.
    All,
    /// `run_as = ["%www"]`: any member of the group named.
    GroupName(String),
    /// `run_as = ["%#33"]`: any member of the group with this gid.
    GroupId(u32),
}

/// What a rule does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Action {
    Allow,
    Deny,
}

/// How the caller must authenticate before an allowed command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Auth {
    None,
    Password,
    Approval,
}

impl Auth {
    pub fn as_str(self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Password => "password",
            Auth::Approval => "approval",
        }
    }
}

/// Which arguments a command entry allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Args {
    /// A bare path: no arguments at all.
    None,
    /// Exactly these arguments (argv[1..]).
    Exact(Vec<String>),
    /// These leading arguments, then anything (`/usr/bin/journalctl *` has
    /// an empty prefix; `/usr/bin/systemctl status *` has `["status"]`).
    Prefix(Vec<String>),
}

/// What a command entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum CommandKind {
    /// One file (`/usr/bin/id`).
    #[default]
    File,
    /// `"/usr/lib/nagios/plugins/ *"`: any command directly in that
    /// directory (not in its subdirectories), as sudo means it; the path
    /// keeps its trailing '/'.
    Dir,
    /// `"ALL"`: any command, with any arguments (path `ALL`, args
    /// `Prefix([])`); always the rule's only entry.
    All,
}

impl CommandKind {
    pub fn is_file(&self) -> bool {
        *self == CommandKind::File
    }
}

/// One entry of a rule's `commands`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandSpec {
    /// Absolute, as written in the policy (not canonicalised: matching
    /// compares the opened file's device and inode with this path's).
    /// `ALL` for [`CommandKind::All`]; ends in '/' for [`CommandKind::Dir`].
    pub path: PathBuf,
    pub args: Args,
    /// Optional BLAKE3 digest pin (32 bytes) of the file's contents.
    pub digest: Option<[u8; 32]>,
    /// File, directory or ALL. Not serialized for a file, so policies
    /// without directories or ALL kept their canonical hash.
    #[serde(skip_serializing_if = "CommandKind::is_file")]
    pub kind: CommandKind,
}

impl CommandSpec {
    /// A single-file entry.
    pub fn file(path: PathBuf, args: Args, digest: Option<[u8; 32]>) -> CommandSpec {
        CommandSpec {
            path,
            args,
            digest,
            kind: CommandKind::File,
        }
    }
}

/// Where a rule was written, for messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Origin {
    pub file: PathBuf,
    pub line: u32,
    pub col: u32,
}

/// One `[[rule]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub name: String,
    pub users: Vec<Principal>,
    pub groups: Vec<Principal>,
    /// Allowed targets. For allow rules never empty (default `["root"]`);
    /// the first is the default target. For deny rules an empty list means
    /// "any target".
    pub run_as: Vec<Principal>,
    pub commands: Vec<CommandSpec>,
    pub auth: Auth,
    pub action: Action,
    /// Variables set for this rule's commands (after the defaults' setenv).
    pub setenv: Vec<(String, String)>,
    /// Sandbox profile name (`sandbox = "NAME"`); `None` = the defaults'.
    pub sandbox: Option<String>,
    /// Capability grants (`caps = ["net_bind_service"]`), sorted, without
    /// the `cap_` prefix, lower case. The target keeps exactly these.
    pub caps: Vec<String>,
    /// `approvals`, `approvers`, `nonce_namespace` of an `auth = "approval"`
    /// rule; `None` when all three are their defaults (1 approval from any
    /// approver, namespace "default"): see [`Rule::approval_req`]. Always
    /// `None` for other rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// `rate = "10/1m"`: at most `count` calls per `per_secs` per (rule,
    /// uid). Rate segment (the auth segment hashes the rules without it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// `monitor`, `use_pty`, `require_tty` set in this rule.
    #[serde(skip_serializing_if = "Session::is_unset")]
    pub session: Session,
    /// `env_keep = [...]`: variables kept for this rule's commands *in
    /// addition to* `[defaults] env_keep` (sudo's scoped `env_keep+=`).
    /// Auth segment. Not serialized when absent, so rules without the key
    /// kept their canonical hash (as the two keys below).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_keep: Option<Vec<String>>,
    /// `secure_path = "..."`: the command's `PATH` for this rule, instead
    /// of `[defaults] secure_path`. Bare command names are still resolved
    /// with `[defaults] secure_path` (the rule is not known before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure_path: Option<Vec<PathBuf>>,
    /// `timestamp_timeout = "..."` (seconds): replaces the default for
    /// this rule's password prompts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_timeout: Option<u64>,
    /// `run_as_groups = [...]`: the groups `bdexec -g` may name for this
    /// rule (group names, `#gid`, or `"ALL"`); the target's own primary
    /// group is always allowed. Not serialized when absent (hash kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_groups: Option<Vec<String>>,
    /// `chdir = [...]`: the directories `bdexec -D` may name (absolute
    /// patterns, `*` within one path component; `"*"` alone: any).
    /// Absent: `-D` is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chdir: Option<Vec<String>>,
    /// `edit = [...]`: the files `bdexec -e` may edit as the target
    /// (absolute patterns, `*` within one path component). A rule may
    /// be edit-only (no `commands`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edit: Option<Vec<String>>,
    /// `preserve_env`, `caller_options`, `timeout`: what the caller may
    /// ask for (`-E`, `-P`, `-T`; src/policy/caller.rs).
    #[serde(skip_serializing_if = "CallerOptions::is_unset")]
    pub caller: CallerOptions,
    /// Not part of the policy's meaning: excluded from the hash.
    #[serde(skip)]
    pub origin: Origin,
}

/// Default nonce namespace of approval rules.
pub const DEFAULT_NONCE_NAMESPACE: &str = "default";

/// What an `auth = "approval"` rule requires (docs/approval-tokens.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// M: valid tokens from this many distinct approvers (>= 1).
    pub approvals: u32,
    /// Who may approve, sorted and deduplicated; empty = every approver
    /// of the policy.
    pub approvers: Vec<String>,
    /// Isolation domain of the replay state (`[a-z0-9_-]{1,64}`).
    pub nonce_namespace: String,
}

impl Default for Approval {
    fn default() -> Self {
        Approval {
            approvals: 1,
            approvers: Vec::new(),
            nonce_namespace: DEFAULT_NONCE_NAMESPACE.to_string(),
        }
    }
}

/// `rate = "N/DURATION"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Calls allowed per period (>= 1): the bucket's capacity.
    pub count: u32,
    /// The period in seconds (>= 1): the bucket refills `count` tokens
    /// per `per_secs`.
    pub per_secs: u64,
}

/// `[approvers.NAME]`: an approver's Ed25519 public key and its epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approver {
    /// `[a-z0-9_.-]{1,64}` starting with a letter or digit; the `kid` and
    /// `iss` of the approver's tokens.
    pub name: String,
    /// Raw Ed25519 public key (checked to be a valid curve point).
    pub key: [u8; 32],
    /// The key's epoch; tokens signed at another epoch are refused.
    pub epoch: u64,
    #[serde(skip)]
    pub origin: Origin,
}

impl Rule {
    /// The approval requirements with defaults filled in (meaningful for
    /// `auth = "approval"` rules).
    pub fn approval_req(&self) -> Approval {
        self.approval.clone().unwrap_or_default()
    }
}

/// Default `env_keep` when `[defaults]` omits it: terminal and locale
/// settings only (sudo's `env_reset` keeps a similar set).
pub const DEFAULT_ENV_KEEP: &[&str] = &[
    "TERM",
    "COLORTERM",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "COLUMNS",
    "LINES",
];

/// Default `umask` when `[defaults]` omits it (sudo's default).
pub const DEFAULT_UMASK: u32 = 0o022;

impl Default for Defaults {
    /// The defaults of a policy whose `[defaults]` table is absent.
    fn default() -> Self {
        Defaults {
            secure_path: DEFAULT_SECURE_PATH.split(':').map(PathBuf::from).collect(),
            env_keep: DEFAULT_ENV_KEEP.iter().map(|s| (*s).to_string()).collect(),
            setenv: Vec::new(),
            umask: DEFAULT_UMASK,
            sandbox: None,
            drift: DriftMode::Warn,
            pam_account: true,
            pam_account_memo: true,
            timestamp_timeout: DEFAULT_TIMESTAMP_TIMEOUT,
            telemetry_sample_ppm: DEFAULT_SAMPLE_PPM,
            session: Session::default(),
        }
    }
}

impl Rule {
    /// The variables kept for this rule's commands: the defaults' list,
    /// then the rule's own `env_keep` (added, never replacing).
    pub fn env_keep_with(&self, d: &Defaults) -> Vec<String> {
        let mut v = d.env_keep.clone();
        for k in self.env_keep.iter().flatten() {
            if !v.contains(k) {
                v.push(k.clone());
            }
        }
        v
    }

    /// The command's `PATH`: the rule's `secure_path`, else the defaults'.
    pub fn secure_path_with<'a>(&'a self, d: &'a Defaults) -> &'a [PathBuf] {
        self.secure_path.as_deref().unwrap_or(&d.secure_path)
    }

    /// The password timestamp lifetime for this rule (seconds).
    pub fn timestamp_timeout_with(&self, d: &Defaults) -> u64 {
        self.timestamp_timeout.unwrap_or(d.timestamp_timeout)
    }

    /// True for `action = "deny"`.
    pub fn is_deny(&self) -> bool {
        self.action == Action::Deny
    }
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
        }
    }
}

impl std::fmt::Display for Principal {
    /// As written in the policy: the name, or `#id`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Principal::Name(n) => f.write_str(n),
            Principal::Id(i) => write!(f, "#{i}"),
            Principal::All => f.write_str("ALL"),
            Principal::GroupName(n) => write!(f, "%{n}"),
            Principal::GroupId(i) => write!(f, "%#{i}"),
        }
    }
}

impl std::fmt::Display for Origin {
    /// `file:line:col`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// What happens to a syscall a seccomp profile denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SeccompAction {
    /// Kill the process (SECCOMP_RET_KILL_PROCESS).
    Kill,
    /// Fail with EPERM (SECCOMP_RET_ERRNO).
    Errno,
    /// Allow but log (SECCOMP_RET_LOG): learning mode. The baseline
    /// denials still fail with EPERM in this mode.
    Log,
}

/// `[sandbox.NAME.landlock]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LandlockSpec {
    /// Read-only paths (files or directory trees).
    pub read: Vec<PathBuf>,
    /// Read-write paths.
    pub write: Vec<PathBuf>,
    /// Paths whose files may be executed (and read).
    pub exec: Vec<PathBuf>,
    /// TCP ports the target may bind (ABI >= 4). `None` = not restricted.
    pub bind_tcp: Option<Vec<u16>>,
    /// TCP ports the target may connect to (ABI >= 4). `None` = not restricted.
    pub connect_tcp: Option<Vec<u16>>,
    /// Scope abstract unix sockets to the domain (ABI >= 6).
    pub scope_abstract_unix: bool,
    /// Scope signals to the domain (ABI >= 6).
    pub scope_signals: bool,
    /// The profile does not write `scope`: both scopes apply to a uid-0
    /// target, none to others (see [`LandlockSpec::scopes_for`]). Not
    /// serialized when false, so a profile that writes `scope` hashes as
    /// it did before this default existed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub scope_default: bool,
    /// Hard requirement: deny when the kernel's Landlock ABI is older.
    /// `None` = best effort (apply what the kernel supports, record it).
    pub min_abi: Option<u32>,
}

/// The Landlock scopes of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scopes {
    /// Abstract unix sockets outside the domain cannot be connected to.
    pub abstract_unix: bool,
    /// Processes outside the domain cannot be signalled.
    pub signals: bool,
}

impl Scopes {
    /// Both scopes.
    pub const ALL: Scopes = Scopes {
        abstract_unix: true,
        signals: true,
    };

    /// Whether any scope is set.
    pub fn any(self) -> bool {
        self.abstract_unix || self.signals
    }

    /// `signal,abstract_unix` (the policy's names), `none` when empty.
    pub fn names(self) -> String {
        let v: Vec<&str> = [
            (self.signals, "signal"),
            (self.abstract_unix, "abstract_unix"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(",")
        }
    }
}

impl LandlockSpec {
    /// The scopes for a call whose target has `target_uid`: as written,
    /// or, when the profile does not write `scope`, both for a uid-0
    /// target (a sandboxed root is still uid 0 to every other root
    /// process and root-only socket) and none for others.
    pub fn scopes_for(&self, target_uid: u32) -> Scopes {
        if self.scope_default {
            if target_uid == 0 {
                Scopes::ALL
            } else {
                Scopes::default()
            }
        } else {
            Scopes {
                abstract_unix: self.scope_abstract_unix,
                signals: self.scope_signals,
            }
        }
    }
}

/// `[sandbox.NAME.seccomp]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeccompSpec {
    /// Allow-list (names and `@groups`); empty = allow everything not denied.
    pub allow: Vec<String>,
    /// Deny-list (names and `@groups`), applied over `allow`.
    pub deny: Vec<String>,
    /// Action for denied syscalls.
    pub action: SeccompAction,
}

/// `[sandbox.NAME]`: confinement applied to a rule's command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SandboxProfile {
    pub name: String,
    pub landlock: Option<LandlockSpec>,
    /// Always present in effect: a profile without `[seccomp]` still gets
    /// the baseline denials (default action errno).
    pub seccomp: Option<SeccompSpec>,
    #[serde(skip)]
    pub origin: Origin,
}

/// `[incident]`, the `[[decoy]]` entries and the names of the rules
/// marked `break_glass = true` (docs/incident-response.md). Decoy
/// segment of the hash. Not serialized when empty, so policies without
/// any of it kept their canonical hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// `[incident]` with omitted keys filled in; `None` when no file
    /// writes the table.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub settings: Option<IncidentSettings>,
    /// `[[decoy]]` entries, in file order (main file, then drop-ins).
    /// They are allow rules that never run anything.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub decoys: Vec<Decoy>,
    /// Names of the rules with `break_glass = true`, in policy order:
    /// the only rules that run while the host is frozen.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub break_glass: Vec<String>,
    /// The decoys as rules (allow, the decoy's fields), for matching.
    /// Built by the parser; not serialized (`decoys` is) and not restored
    /// from a pin (`bdctl policy` only hashes and compares a pinned one).
    #[serde(skip)]
    pub decoy_rules: Vec<Rule>,
}

impl Incident {
    /// Nothing of incident response is configured.
    pub fn is_empty(&self) -> bool {
        self.settings.is_none() && self.decoys.is_empty() && self.break_glass.is_empty()
    }

    /// The settings in effect (the defaults when `[incident]` is absent).
    pub fn settings_or_default(&self) -> IncidentSettings {
        self.settings.clone().unwrap_or_default()
    }

    /// Whether rule `name` is marked `break_glass = true`.
    pub fn is_break_glass(&self, name: &str) -> bool {
        self.break_glass.iter().any(|n| n == name)
    }
}

/// One `[[decoy]]`: the fields of a rule that show in `bdexec -l`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decoy {
    pub name: String,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub run_as: Vec<String>,
    /// As written (`"/usr/bin/x arg *"`), parsed again when used.
    pub commands: Vec<String>,
    pub auth: String,
}

/// `[incident]`, every key filled in. Fractions are kept in millionths
/// (`freeze_score = 0.8` is 800000) so the model stays `Eq` and hashes
/// exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentSettings {
    /// Freeze the host on the call that crosses `freeze_score` or the
    /// decoy-rate alarm.
    pub auto_freeze: bool,
    /// 0 < x <= 1, in millionths.
    pub freeze_score_ppm: u32,
    /// Alerts per window that always count as normal.
    pub decoy_floor: u32,
    /// Factor over the 95th percentile of recent windows' rates, in
    /// millionths.
    pub decoy_factor_ppm: u32,
    /// Window length in seconds.
    pub decoy_window: u64,
    /// M of the unfreeze tokens.
    pub unfreeze_approvals: u32,
    /// Who may sign unfreeze tokens; empty = every approver.
    pub unfreeze_approvers: Vec<String>,
    /// `trace_sample_rate`: the share of calls `bdctl export otlp` sends
    /// as traces, in millionths, over `[defaults] telemetry_sample_rate`
    /// (`bdctl tune` writes it in its drop-in). Not serialized when unset,
    /// so the decoy segment of a policy without it hashes as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_sample_ppm: Option<u32>,
}

impl Default for IncidentSettings {
    fn default() -> Self {
        IncidentSettings {
            auto_freeze: false,
            freeze_score_ppm: 900_000,
            decoy_floor: 3,
            decoy_factor_ppm: 3_000_000,
            decoy_window: 600,
            unfreeze_approvals: 1,
            unfreeze_approvers: Vec::new(),
            trace_sample_ppm: None,
        }
    }
}
