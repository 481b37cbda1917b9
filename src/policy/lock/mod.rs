//! The policy pin: `/etc/belladonna/policy.lock`, written by `bdctl
//! policy pin`, read by bdexec at every call (docs/drift.md).
//!
//! One JSON object:
//!
//! ```json
//! {"version":1,"hash":"<64 hex>","segments":{"auth":"..","rate":"..",
//!  "sandbox":"..","decoy":".."},"pinned_at":"2025-01-01T00:00:00.000000000Z",
//!  "pinned_by":{"uid":0,"name":"root"},"policy":{ ...the pinned policy... }}
//! ```
//!
//! `policy` is the canonical serialization of the pinned policy model
//! (the same JSON the hash is computed over), kept so that drift can be
//! categorised (widening or narrowing) against what was pinned. The lock
//! therefore contains the whole policy: it is written 0600 root.
//!
//! [`read_lock`] parses the header strictly (unknown keys, bad hex, bad
//! version: a corrupt lock is an error, never "no lock") and checks that
//! `policy` is well-formed JSON, without decoding it: the call-time fast
//! path only compares hashes. [`Lock::pinned_policy`] decodes the policy
//! and verifies that it hashes to the pinned hash and segments.
#![forbid(unsafe_code)]

use crate::base::paths::CONF_DIR;
use crate::base::secure_fs;
use crate::policy::hash::{Segments, hex, policy_hash, segment_hashes};
use crate::policy::load::Loaded;
use crate::policy::model::{
    Action, Approval, Approver, Args, Auth, CommandKind, CommandSpec, DEFAULT_TIMESTAMP_TIMEOUT,
    Defaults, DriftMode, LandlockSpec, Origin, Policy, Principal, Rate, Rule, SandboxProfile,
    SeccompAction, SeccompSpec, Session,
};
use nix::fcntl::OFlag;
use serde::{Deserialize, Serialize};
use std::ffi::OsStr;
use std::fmt;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

/// Name of the lock file inside [`CONF_DIR`].
pub const LOCK_NAME: &str = "policy.lock";
/// Format version written and accepted.
pub const LOCK_VERSION: u32 = 1;
/// Largest accepted lock file.
pub const MAX_LOCK_BYTES: u64 = 64 << 20;

/// Who pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedBy {
    pub uid: u32,
    pub name: Option<String>,
}

/// A parsed lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub version: u32,
    pub hash: [u8; 32],
    pub segments: Segments,
    /// RFC 3339, UTC.
    pub pinned_at: String,
    pub pinned_by: PinnedBy,
    /// The file's bytes: the pinned policy is decoded from them on demand.
    raw: Vec<u8>,
}

/// Why the lock could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockErrorKind {
    /// Failed the secure-open checks (symlink, owner, mode).
    Insecure,
    /// Not a valid lock (syntax, unknown key, bad hash, mismatch).
    Corrupt,
    /// Any other I/O failure, or too large.
    Io,
}

/// An error about the lock file: one line, `<path>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockError {
    pub kind: LockErrorKind,
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::policy::one_line(&self.path.to_string_lossy(), f)?;
        f.write_str(": ")?;
        crate::policy::one_line(&self.message, f)
    }
}

impl std::error::Error for LockError {}

fn corrupt(path: &Path, message: impl Into<String>) -> LockError {
    LockError {
        kind: LockErrorKind::Corrupt,
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn io_err(path: &Path, message: impl Into<String>) -> LockError {
    LockError {
        kind: LockErrorKind::Io,
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn secure_err(e: secure_fs::SecureFsError, path: &Path) -> LockError {
    use secure_fs::SecureFsError as E;
    let kind = match e {
        E::Io { .. } | E::BadPath(_) => LockErrorKind::Io,
        _ => LockErrorKind::Insecure,
    };
    LockError {
        kind,
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

// ------------------------------------------------------------------ format

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SegHex {
    auth: String,
    rate: String,
    sandbox: String,
    decoy: String,
}

#[derive(Serialize)]
struct LockOut<'a> {
    version: u32,
    hash: String,
    segments: SegHex,
    pinned_at: &'a str,
    pinned_by: &'a PinnedBy,
    policy: &'a Policy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LockIn {
    version: u32,
    hash: String,
    segments: SegHex,
    pinned_at: String,
    pinned_by: PinnedBy,
    #[allow(dead_code)]
    policy: serde::de::IgnoredAny,
}

#[derive(Deserialize)]
struct PolicyOnly {
    policy: PolicyDe,
}

fn unhex(path: &Path, what: &str, s: &str) -> Result<[u8; 32], LockError> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return Err(corrupt(path, format!("{what}: not 64 hex digits")));
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        let d = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        match (d(b[2 * i]), d(b[2 * i + 1])) {
            (Some(h), Some(l)) => *o = (h << 4) | l,
            _ => {
                return Err(corrupt(path, format!("{what}: not lower-case hex digits")));
            }
        }
    }
    Ok(out)
}

/// The lock file's text for a loaded policy (pure; what [`pin`] writes).
pub fn lock_json(loaded: &Loaded, by: &PinnedBy, pinned_at: &str) -> String {
    let s = segment_hashes(&loaded.policy);
    let out = LockOut {
        version: LOCK_VERSION,
        hash: hex(&loaded.hash),
        segments: SegHex {
            auth: hex(&s.auth),
            rate: hex(&s.rate),
            sandbox: hex(&s.sandbox),
            decoy: hex(&s.decoy),
        },
        pinned_at,
        pinned_by: by,
        policy: &loaded.policy,
    };
    // The model always serializes (see hash.rs); an error would produce a
    // lock that fails to parse, never a silently wrong one.
    let mut text = serde_json::to_string(&out).unwrap_or_default();
    text.push('\n');
    text
}

/// Parse a lock file's bytes (`path` for messages).
pub fn parse_lock(bytes: &[u8], path: &Path) -> Result<Lock, LockError> {
    let h: LockIn =
        serde_json::from_slice(bytes).map_err(|e| corrupt(path, format!("invalid lock: {e}")))?;
    if h.version != LOCK_VERSION {
        return Err(corrupt(
            path,
            format!("unsupported lock version {}", h.version),
        ));
    }
    if h.pinned_at.is_empty() || h.pinned_at.len() > 64 {
        return Err(corrupt(path, "pinned_at: not a timestamp"));
    }
    Ok(Lock {
        version: h.version,
        hash: unhex(path, "hash", &h.hash)?,
        segments: Segments {
            auth: unhex(path, "segments.auth", &h.segments.auth)?,
            rate: unhex(path, "segments.rate", &h.segments.rate)?,
            sandbox: unhex(path, "segments.sandbox", &h.segments.sandbox)?,
            decoy: unhex(path, "segments.decoy", &h.segments.decoy)?,
        },
        pinned_at: h.pinned_at,
        pinned_by: h.pinned_by,
        raw: bytes.to_vec(),
    })
}

impl Lock {
    /// Decode the pinned policy and check that it is what was pinned (its
    /// canonical hash and segment hashes equal the recorded ones).
    pub fn pinned_policy(&self) -> Result<Policy, LockError> {
        let path = Path::new(CONF_DIR).join(LOCK_NAME);
        let p: PolicyOnly = serde_json::from_slice(&self.raw)
            .map_err(|e| corrupt(&path, format!("pinned policy: {e}")))?;
        let policy = p.policy.into_model();
        if policy_hash(&policy) != self.hash || segment_hashes(&policy) != self.segments {
            return Err(corrupt(
                &path,
                "pinned policy does not match the pinned hash",
            ));
        }
        Ok(policy)
    }

    /// Human view for `bdctl policy pin --show`.
    pub fn render(&self) -> String {
        let name = self.pinned_by.name.as_deref().unwrap_or("?");
        let mut s = format!(
            "hash: {}\nsegments: auth {} rate {} sandbox {} decoy {}\npinned_at: {}\npinned_by: {} (uid {})\n",
            hex(&self.hash),
            hex(&self.segments.auth),
            hex(&self.segments.rate),
            hex(&self.segments.sandbox),
            hex(&self.segments.decoy),
            self.pinned_at,
            name,
            self.pinned_by.uid
        );
        match self.pinned_policy() {
            Ok(p) => s.push_str(&format!(
                "pinned policy: {} rules, verified\n",
                p.rules.len()
            )),
            Err(e) => s.push_str(&format!("pinned policy: INVALID: {}\n", e.message)),
        }
        let mut out = String::with_capacity(s.len());
        for line in s.lines() {
            let _ = crate::policy::one_line(line, &mut out);
            out.push('\n');
        }
        out
    }
}

// ------------------------------------------------------------------ files

/// Read the installed lock. `Ok(None)` when there is none; a lock that
/// exists but is insecure, unreadable or corrupt is an error.
pub fn read_lock() -> Result<Option<Lock>, LockError> {
    read_lock_in(Path::new(CONF_DIR))
}

/// [`read_lock`] in another (trusted, root-owned) directory.
pub fn read_lock_in(conf_dir: &Path) -> Result<Option<Lock>, LockError> {
    let dir = secure_fs::open_trusted_dir(conf_dir).map_err(|e| secure_err(e, conf_dir))?;
    read_lock_at(dir.as_fd(), conf_dir)
}

/// [`read_lock_in`] with `conf_dir` already opened (and checked) as
/// `dir`: bdexec reads the policy and its pin through one walk.
pub fn read_lock_at(dir: BorrowedFd<'_>, conf_dir: &Path) -> Result<Option<Lock>, LockError> {
    let path = conf_dir.join(LOCK_NAME);
    let file =
        match secure_fs::open_trusted_file(dir, OsStr::new(LOCK_NAME), &path, OFlag::empty(), 0) {
            Ok((f, _)) => f,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(secure_err(e, &path)),
        };
    let mut buf = Vec::new();
    file.take(MAX_LOCK_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| io_err(&path, format!("read: {e}")))?;
    if buf.len() as u64 > MAX_LOCK_BYTES {
        return Err(io_err(
            &path,
            format!("larger than {} MiB (refused)", MAX_LOCK_BYTES >> 20),
        ));
    }
    parse_lock(&buf, &path).map(Some)
}

/// Pin `loaded` into [`CONF_DIR`]`/policy.lock` (as root).
pub fn pin(loaded: &Loaded, by: &PinnedBy, pinned_at: &str) -> Result<Lock, LockError> {
    pin_in(Path::new(CONF_DIR), loaded, by, pinned_at)
}

/// [`pin`] into another trusted directory: a temporary file (0600,
/// `O_EXCL`, `O_NOFOLLOW`) written, fsynced, renamed over the lock, then
/// the directory fsynced. The result is read back and verified.
pub fn pin_in(
    conf_dir: &Path,
    loaded: &Loaded,
    by: &PinnedBy,
    pinned_at: &str,
) -> Result<Lock, LockError> {
    let path = conf_dir.join(LOCK_NAME);
    let text = lock_json(loaded, by, pinned_at);
    let dir = secure_fs::open_trusted_dir(conf_dir).map_err(|e| secure_err(e, conf_dir))?;
    let tmp_name = format!(".{LOCK_NAME}.tmp.{}", std::process::id());
    let tmp_path = conf_dir.join(&tmp_name);
    // A stale temporary file of a crashed pin with our pid: remove it.
    let _ = nix::unistd::unlinkat(
        dir.as_fd(),
        tmp_name.as_str(),
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    );
    let (mut f, _) = secure_fs::open_trusted_file(
        dir.as_fd(),
        OsStr::new(&tmp_name),
        &tmp_path,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
        0o600,
    )
    .map_err(|e| secure_err(e, &tmp_path))?;
    let cleanup = |e: LockError| {
        let _ = nix::unistd::unlinkat(
            dir.as_fd(),
            tmp_name.as_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
        e
    };
    nix::sys::stat::fchmod(f.as_fd(), nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| cleanup(io_err(&tmp_path, format!("fchmod: {}", e.desc()))))?;
    f.write_all(text.as_bytes())
        .map_err(|e| cleanup(io_err(&tmp_path, format!("write: {e}"))))?;
    f.sync_all()
        .map_err(|e| cleanup(io_err(&tmp_path, format!("fsync: {e}"))))?;
    drop(f);
    nix::fcntl::renameat(dir.as_fd(), tmp_name.as_str(), dir.as_fd(), LOCK_NAME)
        .map_err(|e| cleanup(io_err(&path, format!("rename: {}", e.desc()))))?;
    nix::unistd::fsync(dir.as_fd())
        .map_err(|e| io_err(conf_dir, format!("fsync: {}", e.desc())))?;
    match read_lock_in(conf_dir)? {
        Some(l) if l.hash == loaded.hash => Ok(l),
        _ => Err(corrupt(&path, "written lock does not read back")),
    }
}

// ------------------------------------------------- decoding the pinned policy
//
// The model derives only Serialize; these mirror types decode exactly the
// JSON it produces. A field added to the model breaks `into_model` at
// compile time (struct literals name every field), and `deny_unknown_fields`
// refuses a lock written by a model with more fields.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDe {
    version: u32,
    defaults: DefaultsDe,
    rules: Vec<RuleDe>,
    sandboxes: Vec<ProfileDe>,
    #[serde(default)]
    approvers: Vec<Approver>,
    #[serde(default)]
    incident: crate::policy::model::Incident,
    #[serde(default)]
    audit: crate::policy::audit::AuditSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultsDe {
    secure_path: Vec<PathBuf>,
    env_keep: Vec<String>,
    setenv: Vec<(String, String)>,
    umask: u32,
    sandbox: Option<String>,
    #[serde(default)]
    drift: DriftDe,
    #[serde(default = "default_pam_account")]
    pam_account: bool,
    #[serde(default = "default_pam_account")]
    pam_account_memo: bool,
    #[serde(default = "default_timestamp_timeout")]
    timestamp_timeout: u64,
    #[serde(default = "default_sample_ppm")]
    telemetry_sample_ppm: u32,
    #[serde(default)]
    session: SessionDe,
}

fn default_sample_ppm() -> u32 {
    crate::policy::model::DEFAULT_SAMPLE_PPM
}

fn default_pam_account() -> bool {
    true
}

fn default_timestamp_timeout() -> u64 {
    DEFAULT_TIMESTAMP_TIMEOUT
}

#[derive(Deserialize, Default)]
enum DriftDe {
    #[default]
    Warn,
    Deny,
}

#[derive(Deserialize)]
enum PrincipalDe {
    Name(String),
    Id(u32),
    All,
    GroupName(String),
    GroupId(u32),
}

#[derive(Deserialize, Default)]
enum KindDe {
    #[default]
    File,
    Dir,
    All,
}

#[derive(Deserialize)]
enum ActionDe {
    Allow,
    Deny,
}

#[derive(Deserialize)]
enum AuthDe {
    None,
    Password,
    Approval,
}

#[derive(Deserialize)]
enum ArgsDe {
    None,
    Exact(Vec<String>),
    Prefix(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandDe {
    path: PathBuf,
    args: ArgsDe,
    digest: Option<[u8; 32]>,
    #[serde(default)]
    kind: KindDe,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDe {
    name: String,
    users: Vec<PrincipalDe>,
    groups: Vec<PrincipalDe>,
    run_as: Vec<PrincipalDe>,
    commands: Vec<CommandDe>,
    auth: AuthDe,
    action: ActionDe,
    setenv: Vec<(String, String)>,
    sandbox: Option<String>,
    caps: Vec<String>,
    #[serde(default)]
    approval: Option<Approval>,
    #[serde(default)]
    rate: Option<Rate>,
    /// Absent in lock files written before the session keys.
    #[serde(default)]
    session: SessionDe,
    #[serde(default)]
    env_keep: Option<Vec<String>>,
    #[serde(default)]
    secure_path: Option<Vec<PathBuf>>,
    #[serde(default)]
    timestamp_timeout: Option<u64>,
    #[serde(default)]
    run_as_groups: Option<Vec<String>>,
    #[serde(default)]
    chdir: Option<Vec<String>>,
    #[serde(default)]
    edit: Option<Vec<String>>,
    #[serde(default)]
    caller: crate::policy::caller::CallerOptions,
}

/// `monitor`, `use_pty`, `require_tty`, `noexec` as serialized (unset
/// keys absent).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SessionDe {
    monitor: Option<bool>,
    use_pty: Option<bool>,
    require_tty: Option<bool>,
    record: Option<bool>,
    record_input: Option<bool>,
    noexec: Option<bool>,
}

impl From<SessionDe> for Session {
    fn from(s: SessionDe) -> Session {
        Session {
            monitor: s.monitor,
            use_pty: s.use_pty,
            require_tty: s.require_tty,
            record: s.record,
            record_input: s.record_input,
            noexec: s.noexec,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LandlockDe {
    read: Vec<PathBuf>,
    write: Vec<PathBuf>,
    exec: Vec<PathBuf>,
    bind_tcp: Option<Vec<u16>>,
    connect_tcp: Option<Vec<u16>>,
    scope_abstract_unix: bool,
    scope_signals: bool,
    /// Absent in lock files written before the root-target default.
    #[serde(default)]
    scope_default: bool,
    min_abi: Option<u32>,
}

#[derive(Deserialize)]
enum SeccompActionDe {
    Kill,
    Errno,
    Log,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeccompDe {
    allow: Vec<String>,
    deny: Vec<String>,
    action: SeccompActionDe,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileDe {
    name: String,
    landlock: Option<LandlockDe>,
    seccomp: Option<SeccompDe>,
}

fn origin() -> Origin {
    Origin {
        file: PathBuf::from(LOCK_NAME),
        line: 0,
        col: 0,
    }
}

fn principals(v: Vec<PrincipalDe>) -> Vec<Principal> {
    v.into_iter()
        .map(|p| match p {
            PrincipalDe::Name(n) => Principal::Name(n),
            PrincipalDe::Id(i) => Principal::Id(i),
            PrincipalDe::All => Principal::All,
            PrincipalDe::GroupName(n) => Principal::GroupName(n),
            PrincipalDe::GroupId(i) => Principal::GroupId(i),
        })
        .collect()
}

impl PolicyDe {
    fn into_model(self) -> Policy {
        let d = self.defaults;
        Policy {
            version: self.version,
            defaults: Defaults {
                secure_path: d.secure_path,
                env_keep: d.env_keep,
                setenv: d.setenv,
                umask: d.umask,
                sandbox: d.sandbox,
                drift: match d.drift {
                    DriftDe::Warn => DriftMode::Warn,
                    DriftDe::Deny => DriftMode::Deny,
                },
                pam_account: d.pam_account,
                pam_account_memo: d.pam_account_memo,
                timestamp_timeout: d.timestamp_timeout,
                telemetry_sample_ppm: d.telemetry_sample_ppm,
                session: d.session.into(),
            },
            rules: self
                .rules
                .into_iter()
                .map(|r| Rule {
                    name: r.name,
                    users: principals(r.users),
                    groups: principals(r.groups),
                    run_as: principals(r.run_as),
                    commands: r
                        .commands
                        .into_iter()
                        .map(|c| CommandSpec {
                            path: c.path,
                            args: match c.args {
                                ArgsDe::None => Args::None,
                                ArgsDe::Exact(v) => Args::Exact(v),
                                ArgsDe::Prefix(v) => Args::Prefix(v),
                            },
                            digest: c.digest,
                            kind: match c.kind {
                                KindDe::File => CommandKind::File,
                                KindDe::Dir => CommandKind::Dir,
                                KindDe::All => CommandKind::All,
                            },
                        })
                        .collect(),
                    auth: match r.auth {
                        AuthDe::None => Auth::None,
                        AuthDe::Password => Auth::Password,
                        AuthDe::Approval => Auth::Approval,
                    },
                    action: match r.action {
                        ActionDe::Allow => Action::Allow,
                        ActionDe::Deny => Action::Deny,
                    },
                    setenv: r.setenv,
                    sandbox: r.sandbox,
                    caps: r.caps,
                    approval: r.approval,
                    rate: r.rate,
                    session: r.session.into(),
                    env_keep: r.env_keep,
                    secure_path: r.secure_path,
                    timestamp_timeout: r.timestamp_timeout,
                    run_as_groups: r.run_as_groups,
                    chdir: r.chdir,
                    edit: r.edit,
                    caller: r.caller,
                    origin: origin(),
                })
                .collect(),
            incident: self.incident,
            audit: self.audit,
            sandboxes: self
                .sandboxes
                .into_iter()
                .map(|s| SandboxProfile {
                    name: s.name,
                    landlock: s.landlock.map(|l| LandlockSpec {
                        read: l.read,
                        write: l.write,
                        exec: l.exec,
                        bind_tcp: l.bind_tcp,
                        connect_tcp: l.connect_tcp,
                        scope_abstract_unix: l.scope_abstract_unix,
                        scope_signals: l.scope_signals,
                        scope_default: l.scope_default,
                        min_abi: l.min_abi,
                    }),
                    seccomp: s.seccomp.map(|c| SeccompSpec {
                        allow: c.allow,
                        deny: c.deny,
                        action: match c.action {
                            SeccompActionDe::Kill => SeccompAction::Kill,
                            SeccompActionDe::Errno => SeccompAction::Errno,
                            SeccompActionDe::Log => SeccompAction::Log,
                        },
                    }),
                    origin: origin(),
                })
                .collect(),
            approvers: self.approvers,
        }
    }
}

#[cfg(test)]
mod tests;
