//! Key files: approvers' Ed25519 keypairs, the host's audit MAC key, the
//! off-host audit verification key and the KEK; their epochs and the
//! persisted epoch marker. `bdctl key gen|rotate|show|verify`.
//!
//! One self-describing text format for every key (`docs/keys.md`):
//!
//! ```text
//! belladonna-key v1 type=audit-mac epoch=3[ name=alice][ wrap=kek]
//! <payload, base64 (standard alphabet, no padding)>
//! blake3=<64 hex: BLAKE3 of the two lines above, newlines included>
//! ```
//!
//! A file is refused with a clear error when it is empty, longer than
//! [`MAX_KEY_FILE`], truncated or damaged (the checksum does not match),
//! of the wrong type or length, group/world-accessible, owned by the
//! wrong user, not a regular file, or a symlink; a key whose epoch is
//! below the one recorded in the epoch marker
//! (`/var/lib/belladonna/key-epoch`) is refused on load and on rotate.
#![forbid(unsafe_code)]

use crate::audit::mac::EpochKey;
use crate::policy::names::is_approver_name;
use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use nix::fcntl::{OFlag, openat, renameat};
use nix::sys::stat::{FileStat, Mode, fstat};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Directory of host keys.
pub const KEYS_DIR: &str = "/etc/belladonna/keys";
/// Name of the audit MAC key in [`KEYS_DIR`].
pub const AUDIT_KEY_NAME: &str = "audit.key";
/// Name of the key-encryption key in [`KEYS_DIR`].
pub const KEK_NAME: &str = "kek";
/// Name of the epoch marker in `LIB_DIR`.
pub const EPOCH_MARKER_NAME: &str = "key-epoch";
/// Largest key file read (anything longer is refused).
pub const MAX_KEY_FILE: usize = 4096;
/// Epoch-marker entry of the audit key.
pub const AUDIT_ID: &str = "audit";

const MAGIC: &str = "belladonna-key v1 ";
const MARKER_MAGIC: &str = "belladonna-key-epoch v1";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD_NO_PAD
}

fn b64url() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// What a key file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// The host's audit MAC key `K_e` (32 bytes, secret).
    AuditMac,
    /// `K_0`, exported once for verification off the host (secret).
    AuditVerify,
    /// An approver's Ed25519 private key (32-byte seed, secret).
    Ed25519Private,
    /// An approver's Ed25519 public key (32 bytes).
    Ed25519Public,
    /// The key-encryption key wrapping host secrets (32 bytes, secret).
    Kek,
}

impl KeyType {
    /// The `type=` value.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::AuditMac => "audit-mac",
            KeyType::AuditVerify => "audit-verify",
            KeyType::Ed25519Private => "ed25519-private",
            KeyType::Ed25519Public => "ed25519-public",
            KeyType::Kek => "kek",
        }
    }

    /// The type named `s` (`type=` value).
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "audit-mac" => KeyType::AuditMac,
            "audit-verify" => KeyType::AuditVerify,
            "ed25519-private" => KeyType::Ed25519Private,
            "ed25519-public" => KeyType::Ed25519Public,
            "kek" => KeyType::Kek,
            _ => return None,
        })
    }

    /// Secret keys must not be readable by group or others.
    pub fn is_secret(self) -> bool {
        self != KeyType::Ed25519Public
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a key operation failed. `Display` is one line naming the file.
#[derive(Debug)]
pub struct KeyError {
    pub kind: KeyErrorKind,
    pub path: Option<PathBuf>,
    pub detail: String,
}

/// Kinds of [`KeyError`] (stable, for tests and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyErrorKind {
    /// A system call failed (including "does not exist").
    Io,
    /// Zero-length file.
    Empty,
    /// Truncated, damaged or not in the key format.
    Malformed,
    /// The payload has the wrong length for its type.
    Length,
    /// Another type of key than the one expected.
    WrongType,
    /// Group/world-accessible, or owned by the wrong user.
    Permissions,
    /// A symbolic link (never followed).
    Symlink,
    /// Not a regular file.
    NotRegular,
    /// Older than the recorded epoch (rollback).
    Rollback,
    /// The file to create already exists.
    Exists,
    /// The epoch marker is damaged.
    Marker,
    /// Wrapping/unwrapping with the KEK failed.
    Kek,
    /// Anything else (random source, audit log, bad argument).
    Other,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}: {}", p.display(), self.detail),
            None => f.write_str(&self.detail),
        }
    }
}

impl std::error::Error for KeyError {}

impl KeyError {
    pub(crate) fn new(kind: KeyErrorKind, path: Option<&Path>, detail: impl Into<String>) -> Self {
        KeyError {
            kind,
            path: path.map(Path::to_path_buf),
            detail: detail.into(),
        }
    }

    fn io(path: &Path, op: &str, e: nix::Error) -> Self {
        Self::new(KeyErrorKind::Io, Some(path), format!("{op}: {}", e.desc()))
    }

    fn sfs(e: crate::secure_fs::SecureFsError) -> Self {
        let kind = match &e {
            crate::secure_fs::SecureFsError::Symlink(_) => KeyErrorKind::Symlink,
            crate::secure_fs::SecureFsError::Owner { .. }
            | crate::secure_fs::SecureFsError::Writable { .. } => KeyErrorKind::Permissions,
            crate::secure_fs::SecureFsError::Kind { .. } => KeyErrorKind::NotRegular,
            _ => KeyErrorKind::Io,
        };
        Self::new(kind, None, e.to_string())
    }

    /// "Does not exist".
    pub fn is_not_found(&self) -> bool {
        self.kind == KeyErrorKind::Io && self.detail.ends_with(nix::Error::ENOENT.desc())
    }
}

/// A parsed key file.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyFile {
    pub ty: KeyType,
    pub epoch: u64,
    /// Approver name (approver keys only).
    pub name: Option<String>,
    /// The payload is wrapped by the KEK (see [`super::kek`]).
    pub wrapped: bool,
    /// The payload bytes (for a wrapped key: nonce || ciphertext).
    pub payload: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFile")
            .field("ty", &self.ty)
            .field("epoch", &self.epoch)
            .field("name", &self.name)
            .field("wrapped", &self.wrapped)
            .finish_non_exhaustive()
    }
}

impl KeyFile {
    /// The header line (without `\n`); also the AAD of a wrapped payload.
    pub fn header(&self) -> String {
        let mut h = format!("{MAGIC}type={} epoch={}", self.ty, self.epoch);
        if let Some(n) = &self.name {
            h.push_str(" name=");
            h.push_str(n);
        }
        if self.wrapped {
            h.push_str(" wrap=kek");
        }
        h
    }

    /// The whole file.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut body = Zeroizing::new(Vec::with_capacity(256));
        body.extend_from_slice(self.header().as_bytes());
        body.push(b'\n');
        body.extend_from_slice(b64().encode(&self.payload[..]).as_bytes());
        body.push(b'\n');
        let sum = blake3::hash(&body);
        body.extend_from_slice(b"blake3=");
        body.extend_from_slice(crate::audit::chain::hex(sum.as_bytes()).as_bytes());
        body.push(b'\n');
        body
    }

    /// Parse a whole file (strict; see the module documentation).
    pub fn parse(data: &[u8]) -> Result<KeyFile, KeyError> {
        let bad = |d: String| Err(KeyError::new(KeyErrorKind::Malformed, None, d));
        if data.is_empty() {
            return Err(KeyError::new(
                KeyErrorKind::Empty,
                None,
                "key file is empty (zero length): refused",
            ));
        }
        if data.len() > MAX_KEY_FILE {
            return bad(format!("longer than {MAX_KEY_FILE} bytes: not a key file"));
        }
        if !data.starts_with(MAGIC.as_bytes()) {
            if MAGIC.as_bytes().starts_with(data) {
                return bad("truncated key file (partial header)".into());
            }
            return bad("not a Belladonna key file (no \"belladonna-key v1\" header)".into());
        }
        let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
        let complete = data.ends_with(b"\n");
        if lines.len() < 3 || (lines.len() == 3 && !complete) {
            return bad(format!(
                "truncated key file ({} bytes, {} of 3 lines): partial write?",
                data.len(),
                lines.len().min(3) - usize::from(!complete)
            ));
        }
        if lines.len() > 3 {
            return bad("trailing data after the checksum line".into());
        }
        let body_len = lines[0].len() + lines[1].len();
        let sum_line = &lines[2][..lines[2].len() - 1];
        let Some(want) = sum_line
            .strip_prefix(b"blake3=")
            .and_then(crate::audit::chain::parse_hex32)
        else {
            return bad("damaged checksum line (truncated or partial key file?)".into());
        };
        if *blake3::hash(&data[..body_len]).as_bytes() != want {
            return bad("checksum mismatch: the key file is damaged or partially written".into());
        }
        let Ok(header) = std::str::from_utf8(&lines[0][..lines[0].len() - 1]) else {
            return bad("header is not UTF-8".into());
        };
        let mut ty = None;
        let mut epoch = None;
        let mut name = None;
        let mut wrapped = false;
        for attr in header[MAGIC.len()..].split(' ') {
            let Some((k, v)) = attr.split_once('=') else {
                return bad(format!("bad header attribute {attr:?}"));
            };
            match k {
                "type" if ty.is_none() => {
                    ty = Some(KeyType::from_name(v).ok_or_else(|| {
                        KeyError::new(
                            KeyErrorKind::WrongType,
                            None,
                            format!("unknown key type {v:?}"),
                        )
                    })?);
                }
                "epoch" if epoch.is_none() => {
                    let ok = !v.is_empty()
                        && v.bytes().all(|c| c.is_ascii_digit())
                        && (v == "0" || !v.starts_with('0'));
                    epoch = ok.then(|| v.parse::<u64>().ok()).flatten();
                    if epoch.is_none() {
                        return bad(format!("bad epoch {v:?}"));
                    }
                }
                "name" if name.is_none() && is_approver_name(v) => name = Some(v.to_string()),
                "wrap" if !wrapped && v == "kek" => wrapped = true,
                _ => return bad(format!("bad header attribute {attr:?}")),
            }
        }
        let (Some(ty), Some(epoch)) = (ty, epoch) else {
            return bad("header lacks type= or epoch=".into());
        };
        let b64line = &lines[1][..lines[1].len() - 1];
        let payload = Zeroizing::new(b64().decode(b64line).map_err(|_| {
            KeyError::new(KeyErrorKind::Malformed, None, "payload is not valid base64")
        })?);
        let want_len = if wrapped { super::kek::WRAPPED_LEN } else { 32 };
        if wrapped && !matches!(ty, KeyType::AuditMac | KeyType::Ed25519Private) {
            return bad(format!("a {ty} key cannot be wrapped"));
        }
        if payload.len() != want_len {
            return Err(KeyError::new(
                KeyErrorKind::Length,
                None,
                format!(
                    "{ty} key payload is {} bytes, expected {want_len} (short or damaged key)",
                    payload.len()
                ),
            ));
        }
        if payload.iter().all(|&b| b == 0) {
            return Err(KeyError::new(
                KeyErrorKind::Length,
                None,
                format!("{ty} key is all zero bytes: refused"),
            ));
        }
        Ok(KeyFile {
            ty,
            epoch,
            name,
            wrapped,
            payload,
        })
    }

    /// Refuse another type than `want`, with a clear message.
    pub fn expect_type(&self, want: KeyType) -> Result<(), KeyError> {
        if self.ty == want {
            return Ok(());
        }
        let hint = match (want, self.ty) {
            (KeyType::AuditMac, KeyType::AuditVerify) => {
                " (this is the off-host verification key K_0; it must not be installed on the host)"
            }
            (KeyType::AuditVerify, KeyType::AuditMac) => {
                " (this is the host's current audit key; verification needs K_0 from `key gen --audit --export-verify-key`)"
            }
            _ => "",
        };
        Err(KeyError::new(
            KeyErrorKind::WrongType,
            None,
            format!("is a {} key, expected a {want} key{hint}", self.ty),
        ))
    }

    /// The 32 payload bytes of an unwrapped key.
    pub fn secret32(&self) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        if self.wrapped {
            return Err(KeyError::new(
                KeyErrorKind::Kek,
                None,
                "the key is wrapped by the KEK: unwrap it first",
            ));
        }
        let mut out = Zeroizing::new([0u8; 32]);
        if self.payload.len() != 32 {
            return Err(KeyError::new(KeyErrorKind::Length, None, "not 32 bytes"));
        }
        out.copy_from_slice(&self.payload);
        Ok(out)
    }
}

fn with_path(mut e: KeyError, p: &Path) -> KeyError {
    if e.path.is_none() {
        e.path = Some(p.to_path_buf());
    }
    e
}

/// Who may own a key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Exactly this uid (root for host keys).
    Exactly(u32),
    /// Root or the caller (approver keys, files named on the command line).
    RootOrCaller,
}

fn owner_ok(owner: Owner, uid: u32) -> bool {
    match owner {
        Owner::Exactly(u) => uid == u,
        Owner::RootOrCaller => uid == 0 || uid == nix::unistd::geteuid().as_raw(),
    }
}

/// Open `name` below `dir` without following symlinks and without
/// hanging on a FIFO; check kind, owner and mode on the fd; read it
/// (at most [`MAX_KEY_FILE`] bytes) and parse it.
pub fn read_key_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    shown: &Path,
    owner: Owner,
) -> Result<KeyFile, KeyError> {
    let fd = openat(
        dir,
        name,
        OFlag::O_RDONLY
            | OFlag::O_NOFOLLOW
            | OFlag::O_CLOEXEC
            | OFlag::O_NOCTTY
            | OFlag::O_NONBLOCK,
        Mode::empty(),
    )
    .map_err(|e| match e {
        nix::Error::ELOOP => KeyError::new(
            KeyErrorKind::Symlink,
            Some(shown),
            "is a symbolic link (refused; key files are never followed)",
        ),
        e => KeyError::io(shown, "open", e),
    })?;
    let st = fstat(&fd).map_err(|e| KeyError::io(shown, "fstat", e))?;
    let file = File::from(fd);
    read_checked(file, &st, shown, owner)
}

fn read_checked(
    mut file: File,
    st: &FileStat,
    shown: &Path,
    owner: Owner,
) -> Result<KeyFile, KeyError> {
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(KeyError::new(
            KeyErrorKind::NotRegular,
            Some(shown),
            "not a regular file (refused)",
        ));
    }
    if !owner_ok(owner, st.st_uid) {
        let who = match owner {
            Owner::Exactly(0) => "root".to_string(),
            Owner::Exactly(u) => format!("uid {u}"),
            Owner::RootOrCaller => "root or you".to_string(),
        };
        return Err(KeyError::new(
            KeyErrorKind::Permissions,
            Some(shown),
            format!(
                "owned by uid {}, must be owned by {who} (refused)",
                st.st_uid
            ),
        ));
    }
    // Nobody but the owner may write any key file.
    if st.st_mode & 0o022 != 0 {
        return Err(KeyError::new(
            KeyErrorKind::Permissions,
            Some(shown),
            format!(
                "mode {:04o} is writable by group or others (refused)",
                st.st_mode & 0o7777
            ),
        ));
    }
    let mut buf = Zeroizing::new(Vec::with_capacity(512));
    (&mut file)
        .take(MAX_KEY_FILE as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| KeyError::new(KeyErrorKind::Io, Some(shown), format!("read: {e}")))?;
    let kf = KeyFile::parse(&buf).map_err(|e| with_path(e, shown))?;
    if kf.ty.is_secret() && st.st_mode & 0o077 != 0 {
        return Err(KeyError::new(
            KeyErrorKind::Permissions,
            Some(shown),
            format!(
                "mode {:04o}: a {} key must not be accessible to group or others (chmod 600; \
                 consider it exposed)",
                st.st_mode & 0o7777,
                kf.ty
            ),
        ));
    }
    Ok(kf)
}

/// Read a key file named on the command line (any directory; the file
/// itself is checked: not a symlink, regular, owned by root or the
/// caller, secret keys mode 0600 or stricter).
pub fn read_key_path(path: &Path) -> Result<KeyFile, KeyError> {
    let (dir, name) = split(path)?;
    let dfd = open_dir_plain(&dir)?;
    read_key_at(dfd.as_fd(), name, path, Owner::RootOrCaller)
}

fn split(path: &Path) -> Result<(PathBuf, &OsStr), KeyError> {
    let name = path
        .file_name()
        .ok_or_else(|| KeyError::new(KeyErrorKind::Other, Some(path), "not a file name"))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name))
}

fn open_dir_plain(dir: &Path) -> Result<OwnedFd, KeyError> {
    nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| KeyError::io(dir, "open directory", e))
}

/// Write `data` as `name` in `dir` atomically: a temporary file (mode
/// `mode`, `O_EXCL`), write, fsync, rename over `name` (refused when
/// `name` exists and `replace` is false), fsync the directory.
pub fn write_atomic(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    shown: &Path,
    data: &[u8],
    mode: u32,
    replace: bool,
) -> Result<(), KeyError> {
    if !replace && exists_at(dir, name)? {
        return Err(KeyError::new(
            KeyErrorKind::Exists,
            Some(shown),
            "already exists (refusing to overwrite)",
        ));
    }
    let mut rnd = [0u8; 8];
    getrandom::fill(&mut rnd)
        .map_err(|e| KeyError::new(KeyErrorKind::Other, Some(shown), format!("random: {e}")))?;
    let tmp = format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        crate::audit::chain::hex(&rnd)
    );
    let tmp = OsStr::new(&tmp);
    let fd = openat(
        dir,
        tmp,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(mode as libc::mode_t),
    )
    .map_err(|e| KeyError::io(shown, "create temporary file", e))?;
    let mut f = File::from(fd);
    let res = (|| {
        // The umask may have narrowed the mode; widen never.
        nix::sys::stat::fchmod(&f, Mode::from_bits_truncate(mode as libc::mode_t))
            .map_err(|e| KeyError::io(shown, "fchmod", e))?;
        f.write_all(data)
            .map_err(|e| KeyError::new(KeyErrorKind::Io, Some(shown), format!("write: {e}")))?;
        f.sync_all()
            .map_err(|e| KeyError::new(KeyErrorKind::Io, Some(shown), format!("fsync: {e}")))?;
        if !replace && exists_at(dir, name)? {
            return Err(KeyError::new(
                KeyErrorKind::Exists,
                Some(shown),
                "already exists (refusing to overwrite)",
            ));
        }
        renameat(dir, tmp, dir, name).map_err(|e| KeyError::io(shown, "rename", e))
    })();
    if res.is_err() {
        let _ = nix::unistd::unlinkat(dir, tmp, nix::unistd::UnlinkatFlags::NoRemoveDir);
        return res;
    }
    nix::unistd::fsync(dir).map_err(|e| KeyError::io(shown, "fsync directory", e))
}

fn exists_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<bool, KeyError> {
    match nix::sys::stat::fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(_) => Ok(true),
        Err(nix::Error::ENOENT) => Ok(false),
        Err(e) => Err(KeyError::io(Path::new(name), "stat", e)),
    }
}

/// Where host keys and the epoch marker live, and who must own them.
#[derive(Debug, Clone)]
pub struct KeyPaths {
    /// Host keys (`/etc/belladonna/keys`).
    pub keys_dir: PathBuf,
    /// Persistent state holding the epoch marker (`/var/lib/belladonna`).
    pub lib_dir: PathBuf,
    /// Owner of host key files and the marker (root).
    pub owner: u32,
    /// Open the directories with `secure_fs` (every component root-owned,
    /// not group/world-writable). Only unit tests turn this off.
    pub trusted: bool,
}

impl KeyPaths {
    /// The installed locations.
    pub fn system() -> Self {
        KeyPaths {
            keys_dir: PathBuf::from(KEYS_DIR),
            lib_dir: PathBuf::from(crate::paths::LIB_DIR),
            owner: 0,
            trusted: true,
        }
    }

    /// The audit key's path (for messages).
    pub fn audit_key_path(&self) -> PathBuf {
        self.keys_dir.join(AUDIT_KEY_NAME)
    }

    /// The KEK's path.
    pub fn kek_path(&self) -> PathBuf {
        self.keys_dir.join(KEK_NAME)
    }

    /// The epoch marker's path.
    pub fn marker_path(&self) -> PathBuf {
        self.lib_dir.join(EPOCH_MARKER_NAME)
    }

    fn open_dir(&self, dir: &Path, create: bool) -> Result<OwnedFd, KeyError> {
        if self.trusted {
            if create {
                crate::secure_fs::ensure_trusted_dir(dir, 0o700)
            } else {
                crate::secure_fs::open_trusted_dir(dir)
            }
            .map_err(KeyError::sfs)
        } else {
            if create && !dir.exists() {
                std::fs::create_dir(dir).map_err(|e| {
                    KeyError::new(KeyErrorKind::Io, Some(dir), format!("mkdir: {e}"))
                })?;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(
                    |e| KeyError::new(KeyErrorKind::Io, Some(dir), format!("chmod: {e}")),
                )?;
            }
            open_dir_plain(dir)
        }
    }

    /// The keys directory (created 0700 when `create`).
    pub fn keys_dir_fd(&self, create: bool) -> Result<OwnedFd, KeyError> {
        self.open_dir(&self.keys_dir, create)
    }

    /// Read a host key file from the keys directory (owner: `self.owner`).
    pub fn read_host_key(&self, dir: BorrowedFd<'_>, name: &str) -> Result<KeyFile, KeyError> {
        read_key_at(
            dir,
            OsStr::new(name),
            &self.keys_dir.join(name),
            Owner::Exactly(self.owner),
        )
    }
}

// ---------------------------------------------------------------------
// The epoch marker
// ---------------------------------------------------------------------

/// The highest epoch seen per key id (`audit`, `approver.NAME`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpochMarker {
    pub epochs: BTreeMap<String, u64>,
}

impl EpochMarker {
    /// The recorded epoch of `id` (0 when none).
    pub fn get(&self, id: &str) -> u64 {
        self.epochs.get(id).copied().unwrap_or(0)
    }

    /// The file contents.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = format!("{MARKER_MAGIC}\n");
        for (k, v) in &self.epochs {
            s.push_str(&format!("{k} {v}\n"));
        }
        let sum = blake3::hash(s.as_bytes());
        s.push_str(&format!(
            "blake3={}\n",
            crate::audit::chain::hex(sum.as_bytes())
        ));
        s.into_bytes()
    }

    /// Parse (strict: a damaged marker is an error, never a reset).
    pub fn parse(data: &[u8]) -> Result<EpochMarker, KeyError> {
        let bad = |d: &str| {
            Err(KeyError::new(
                KeyErrorKind::Marker,
                None,
                format!(
                    "epoch marker is damaged: {d} (refusing: a reset would allow a key rollback)"
                ),
            ))
        };
        let Ok(text) = std::str::from_utf8(data) else {
            return bad("not UTF-8");
        };
        if !text.ends_with('\n') {
            return bad("truncated");
        }
        let Some(sum_at) = text.rfind("blake3=") else {
            return bad("no checksum");
        };
        let (body, sum) = text.split_at(sum_at);
        let want = crate::audit::chain::parse_hex32(
            &sum.trim_end_matches('\n').as_bytes()["blake3=".len()..],
        );
        if want != Some(*blake3::hash(body.as_bytes()).as_bytes()) {
            return bad("checksum mismatch");
        }
        let mut lines = body.lines();
        if lines.next() != Some(MARKER_MAGIC) {
            return bad("wrong header");
        }
        let mut m = EpochMarker::default();
        for l in lines {
            let Some((k, v)) = l.split_once(' ') else {
                return bad("bad line");
            };
            let Ok(v) = v.parse::<u64>() else {
                return bad("bad epoch");
            };
            if m.epochs.insert(k.to_string(), v).is_some() {
                return bad("duplicate entry");
            }
        }
        Ok(m)
    }
}

/// Read the epoch marker; a missing file is an empty marker.
pub fn read_marker(paths: &KeyPaths) -> Result<EpochMarker, KeyError> {
    let shown = paths.marker_path();
    let dir = match paths.open_dir(&paths.lib_dir, false) {
        Ok(d) => d,
        Err(e) if e.is_not_found() => return Ok(EpochMarker::default()),
        Err(e) => return Err(with_path(e, &shown)),
    };
    let fd = match openat(
        dir.as_fd(),
        EPOCH_MARKER_NAME,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(nix::Error::ENOENT) => return Ok(EpochMarker::default()),
        Err(nix::Error::ELOOP) => {
            return Err(KeyError::new(
                KeyErrorKind::Symlink,
                Some(&shown),
                "is a symbolic link (refused)",
            ));
        }
        Err(e) => return Err(KeyError::io(&shown, "open", e)),
    };
    let st = fstat(&fd).map_err(|e| KeyError::io(&shown, "fstat", e))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG
        || st.st_uid != paths.owner
        || st.st_mode & 0o022 != 0
    {
        return Err(KeyError::new(
            KeyErrorKind::Permissions,
            Some(&shown),
            "must be a regular file owned by root, not writable by group or others",
        ));
    }
    let mut buf = Vec::new();
    File::from(fd)
        .take(64 * 1024)
        .read_to_end(&mut buf)
        .map_err(|e| KeyError::new(KeyErrorKind::Io, Some(&shown), format!("read: {e}")))?;
    EpochMarker::parse(&buf).map_err(|e| with_path(e, &shown))
}

/// Raise the marker entry `id` to `epoch` (never lowers it), atomically.
pub fn bump_marker(paths: &KeyPaths, id: &str, epoch: u64) -> Result<(), KeyError> {
    let mut m = read_marker(paths)?;
    if m.epochs.get(id).is_some_and(|&e| e >= epoch) {
        return Ok(());
    }
    m.epochs.insert(id.to_string(), epoch);
    let dir = paths.open_dir(&paths.lib_dir, true)?;
    write_atomic(
        dir.as_fd(),
        OsStr::new(EPOCH_MARKER_NAME),
        &paths.marker_path(),
        &m.encode(),
        0o600,
        true,
    )
}

fn check_epoch(paths: &KeyPaths, id: &str, epoch: u64, shown: &Path) -> Result<u64, KeyError> {
    let seen = read_marker(paths)?.get(id);
    if epoch < seen {
        return Err(KeyError::new(
            KeyErrorKind::Rollback,
            Some(shown),
            format!(
                "key epoch {epoch} is older than epoch {seen} recorded in {} (rolled-back key refused)",
                paths.marker_path().display()
            ),
        ));
    }
    Ok(seen)
}

// ---------------------------------------------------------------------
// The audit key
// ---------------------------------------------------------------------

/// The host's audit key for the writer: `None` when
/// `/etc/belladonna/keys/audit.key` (or its directory) does not exist;
/// an error when it exists but is not valid.
pub fn load_host_audit_key() -> Result<Option<EpochKey>, KeyError> {
    load_audit_key(&KeyPaths::system())
}

/// [`load_host_audit_key`] for `paths`.
pub fn load_audit_key(paths: &KeyPaths) -> Result<Option<EpochKey>, KeyError> {
    let dir = match paths.keys_dir_fd(false) {
        Ok(d) => d,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(with_path(e, &paths.keys_dir)),
    };
    match paths.read_host_key(dir.as_fd(), AUDIT_KEY_NAME) {
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
        Ok(kf) => audit_key_from(paths, dir.as_fd(), &kf).map(Some),
    }
}

fn audit_key_from(
    paths: &KeyPaths,
    dir: BorrowedFd<'_>,
    kf: &KeyFile,
) -> Result<EpochKey, KeyError> {
    let shown = paths.audit_key_path();
    kf.expect_type(KeyType::AuditMac)
        .map_err(|e| with_path(e, &shown))?;
    check_epoch(paths, AUDIT_ID, kf.epoch, &shown)?;
    let secret = if kf.wrapped {
        super::kek::unwrap(paths, dir, kf)?
    } else {
        kf.secret32().map_err(|e| with_path(e, &shown))?
    };
    Ok(EpochKey::new(kf.epoch, *secret))
}

/// What `key gen`/`rotate`/`show` report.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub path: PathBuf,
    pub ty: KeyType,
    pub epoch: u64,
    pub name: Option<String>,
    pub wrapped: bool,
    /// Public fingerprint (never the secret).
    pub fingerprint: String,
    /// `ed25519:<base64url>` for approver keys.
    pub public: Option<String>,
}

impl fmt::Display for KeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: type={} epoch={}",
            self.path.display(),
            self.ty,
            self.epoch
        )?;
        if let Some(n) = &self.name {
            write!(f, " name={n}")?;
        }
        if self.wrapped {
            write!(f, " wrapped=kek")?;
        }
        write!(f, " fingerprint={}", self.fingerprint)?;
        if let Some(p) = &self.public {
            write!(f, " public={p}")?;
        }
        Ok(())
    }
}

fn random32() -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let mut k = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut k[..]).map_err(|e| {
        KeyError::new(
            KeyErrorKind::Other,
            None,
            format!("random number generator failed: {e}"),
        )
    })?;
    Ok(k)
}

fn fingerprint32(b: &[u8]) -> String {
    let d = blake3::derive_key("belladonna key fingerprint v1", b);
    crate::audit::chain::hex(&d[..8])
}

/// Write a key file to an arbitrary path (exclusive create, mode `mode`).
fn write_new_file(path: &Path, data: &[u8], mode: u32) -> Result<(), KeyError> {
    let (dir, name) = split(path)?;
    let dfd = open_dir_plain(&dir)?;
    write_atomic(dfd.as_fd(), name, path, data, mode, false)
}

/// `bdctl key gen --audit`: create the audit key at epoch 0 (refuses to
/// overwrite, and refuses when the marker already records a later
/// epoch); export `K_0` to `export` first (exclusive create, 0600) when
/// given; wrap it with the KEK when `wrap`.
pub fn gen_audit_key(
    paths: &KeyPaths,
    export: Option<&Path>,
    wrap: bool,
) -> Result<KeyInfo, KeyError> {
    let shown = paths.audit_key_path();
    let seen = read_marker(paths)?.get(AUDIT_ID);
    if seen > 0 {
        return Err(KeyError::new(
            KeyErrorKind::Rollback,
            Some(&shown),
            format!(
                "the epoch marker {} records audit epoch {seen}: a new key at epoch 0 would be a \
                 rollback (see docs/keys.md to start over deliberately)",
                paths.marker_path().display()
            ),
        ));
    }
    let dir = paths.keys_dir_fd(true)?;
    if exists_at(dir.as_fd(), OsStr::new(AUDIT_KEY_NAME))? {
        return Err(KeyError::new(
            KeyErrorKind::Exists,
            Some(&shown),
            "already exists (refusing to overwrite; use `bdctl key rotate --audit`)",
        ));
    }
    let secret = random32()?;
    let k0 = EpochKey::new(0, *secret);
    if let Some(p) = export {
        let vk = KeyFile {
            ty: KeyType::AuditVerify,
            epoch: 0,
            name: None,
            wrapped: false,
            payload: Zeroizing::new(secret.to_vec()),
        };
        write_new_file(p, &vk.encode(), 0o600)?;
    }
    install_audit_key(paths, dir.as_fd(), &k0, wrap, false)?;
    bump_marker(paths, AUDIT_ID, 0)?;
    Ok(KeyInfo {
        path: shown,
        ty: KeyType::AuditMac,
        epoch: 0,
        name: None,
        wrapped: wrap,
        fingerprint: k0.fingerprint(),
        public: None,
    })
}

/// Write `k` as the audit key file (atomically), wrapped when `wrap`.
/// With `replace`, the old file's bytes are overwritten with zeros first
/// (best effort: journaling and copy-on-write file systems may keep
/// old blocks; see docs/keys.md).
fn install_audit_key(
    paths: &KeyPaths,
    dir: BorrowedFd<'_>,
    k: &EpochKey,
    wrap: bool,
    replace: bool,
) -> Result<(), KeyError> {
    let shown = paths.audit_key_path();
    let mut kf = KeyFile {
        ty: KeyType::AuditMac,
        epoch: k.epoch(),
        name: None,
        wrapped: false,
        payload: Zeroizing::new(k.secret().to_vec()),
    };
    if wrap {
        kf = super::kek::wrap(paths, dir, kf)?;
    }
    let old = if replace {
        openat(
            dir,
            AUDIT_KEY_NAME,
            OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ok()
        .map(File::from)
    } else {
        None
    };
    write_atomic(
        dir,
        OsStr::new(AUDIT_KEY_NAME),
        &shown,
        &kf.encode(),
        0o600,
        replace,
    )?;
    if let Some(mut f) = old {
        // The old inode is unlinked now; scrub its bytes (forward security).
        if let Ok(md) = f.metadata() {
            let zeros = vec![0u8; usize::try_from(md.len()).unwrap_or(0).min(MAX_KEY_FILE)];
            let _ = f.write_all(&zeros).and_then(|()| f.sync_all());
        }
    }
    Ok(())
}

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Rotated {
    pub old_epoch: u64,
    pub new: KeyInfo,
    /// seq of the seal record written (None: the log already ended with it).
    pub seal_seq: Option<u64>,
    /// Records the seal counts.
    pub sealed_records: u64,
}

/// `bdctl key rotate --audit`: seal the current epoch in the log named
/// by `log` and replace `K_e` by `K_{e+1}` (see
/// [`crate::audit::append_sealed_rotation`]), then bump the marker.
pub fn rotate_audit_key(
    paths: &KeyPaths,
    log: &crate::audit::AppendOptions<'_>,
) -> Result<Rotated, KeyError> {
    let shown = paths.audit_key_path();
    let dir = paths
        .keys_dir_fd(false)
        .map_err(|e| with_path(e, &paths.keys_dir))?;
    let kf = paths.read_host_key(dir.as_fd(), AUDIT_KEY_NAME)?;
    let cur = audit_key_from(paths, dir.as_fd(), &kf)?;
    let Some(next) = cur.evolve() else {
        return Err(KeyError::new(
            KeyErrorKind::Other,
            Some(&shown),
            "epoch overflow",
        ));
    };
    let logshown = log.dir.join(log.name);
    let audit_err =
        |e: crate::audit::AuditError| KeyError::new(KeyErrorKind::Other, None, e.to_string());
    let ldir = if log.create {
        crate::secure_fs::ensure_trusted_dir(log.dir, 0o700)
    } else {
        crate::secure_fs::open_trusted_dir(log.dir)
    }
    .map_err(|e| KeyError::new(KeyErrorKind::Other, Some(&logshown), e.to_string()))?;
    let mut flags = OFlag::O_RDWR | OFlag::O_APPEND;
    if log.create {
        flags |= OFlag::O_CREAT;
    }
    let (file, _) =
        crate::secure_fs::open_trusted_file(ldir.as_fd(), log.name, &logshown, flags, 0o600)
            .map_err(|e| KeyError::new(KeyErrorKind::Other, Some(&logshown), e.to_string()))?;
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut install = || -> Result<(), String> {
        install_audit_key(paths, dir.as_fd(), &next, kf.wrapped, true)
            .map_err(|e| e.to_string())?;
        bump_marker(paths, AUDIT_ID, next.epoch()).map_err(|e| e.to_string())
    };
    let (seal_seq, sealed_records) = crate::audit::writer::append_sealed_rotation(
        &file,
        &logshown,
        &cur,
        host.as_bytes(),
        log.lock_timeout,
        &mut install,
    )
    .map_err(audit_err)?;
    if let Some(seq) = seal_seq {
        // The seal's copy in journald (lock released, never blocks).
        crate::audit::journal::forward_last(&file, seq);
    }
    Ok(Rotated {
        old_epoch: cur.epoch(),
        new: KeyInfo {
            path: shown,
            ty: KeyType::AuditMac,
            epoch: next.epoch(),
            name: None,
            wrapped: kf.wrapped,
            fingerprint: next.fingerprint(),
            public: None,
        },
        seal_seq,
        sealed_records,
    })
}

/// Read the off-host verification key (`--key FILE` of `audit verify`).
pub fn read_verify_key(path: &Path) -> Result<EpochKey, KeyError> {
    let kf = read_key_path(path)?;
    kf.expect_type(KeyType::AuditVerify)
        .map_err(|e| with_path(e, path))?;
    let s = kf.secret32().map_err(|e| with_path(e, path))?;
    Ok(EpochKey::new(kf.epoch, *s))
}

// ---------------------------------------------------------------------
// Approver keys
// ---------------------------------------------------------------------

/// `ed25519:<base64url of the 32 public key bytes>`: the form the policy uses.
pub fn public_key_string(vk: &VerifyingKey) -> String {
    format!("ed25519:{}", b64url().encode(vk.as_bytes()))
}

/// Parse `ed25519:<base64url>`.
pub fn parse_public_key(s: &str) -> Result<VerifyingKey, KeyError> {
    let bad = |d: &str| {
        Err(KeyError::new(
            KeyErrorKind::Malformed,
            None,
            format!("public key {s:?}: {d}"),
        ))
    };
    let Some(b) = s.strip_prefix("ed25519:") else {
        return bad("does not start with \"ed25519:\"");
    };
    let Ok(raw) = b64url().decode(b) else {
        return bad("not base64url (unpadded)");
    };
    let Ok(arr) = <[u8; 32]>::try_from(raw.as_slice()) else {
        return bad("not 32 bytes");
    };
    VerifyingKey::from_bytes(&arr).or_else(|_| bad("not a valid Ed25519 point"))
}

/// An approver's private key, loaded.
pub struct ApproverKey {
    pub name: Option<String>,
    pub epoch: u64,
    pub signing: SigningKey,
}

impl fmt::Debug for ApproverKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ApproverKey {{ name: {:?}, epoch: {}, public: {} }}",
            self.name,
            self.epoch,
            public_key_string(&self.signing.verifying_key())
        )
    }
}

/// Read an approver's private key file (for `bdctl token sign`): checked
/// like every key file (owner root or the caller, mode 0600 or
/// stricter, not a symlink, complete), type `ed25519-private`, not wrapped.
pub fn read_approver_key(path: &Path) -> Result<ApproverKey, KeyError> {
    let kf = read_key_path(path)?;
    kf.expect_type(KeyType::Ed25519Private)
        .map_err(|e| with_path(e, path))?;
    let seed = kf.secret32().map_err(|e| with_path(e, path))?;
    Ok(ApproverKey {
        name: kf.name.clone(),
        epoch: kf.epoch,
        signing: SigningKey::from_bytes(&seed),
    })
}

/// An approver's public key file: (name, epoch, key).
pub fn read_approver_public(path: &Path) -> Result<(Option<String>, u64, VerifyingKey), KeyError> {
    let kf = read_key_path(path)?;
    kf.expect_type(KeyType::Ed25519Public)
        .map_err(|e| with_path(e, path))?;
    let b = kf.secret32().map_err(|e| with_path(e, path))?;
    let vk = VerifyingKey::from_bytes(&b).map_err(|_| {
        KeyError::new(
            KeyErrorKind::Malformed,
            Some(path),
            "not a valid Ed25519 public key",
        )
    })?;
    Ok((kf.name, kf.epoch, vk))
}

fn approver_id(name: &str) -> String {
    format!("approver.{name}")
}

/// For `bdctl token sign`: refuse an approver key older than the epoch
/// the marker records for approver `name` (a restored old key). As root
/// every marker error refuses; another user (an approver signing on a
/// machine where root keeps the marker private) is checked when the
/// marker can be read, and a missing marker is an empty one.
pub fn check_approver_epoch(
    paths: &KeyPaths,
    name: &str,
    epoch: u64,
    shown: &Path,
) -> Result<(), KeyError> {
    if !nix::unistd::geteuid().is_root() && read_marker(paths).is_err() {
        return Ok(());
    }
    check_epoch(paths, &approver_id(name), epoch, shown).map(|_| ())
}

fn write_approver(
    dfd: BorrowedFd<'_>,
    out: &Path,
    name: &str,
    epoch: u64,
    replace: bool,
) -> Result<KeyInfo, KeyError> {
    let seed = random32()?;
    let sk = SigningKey::from_bytes(&seed);
    let vk = sk.verifying_key();
    let private = KeyFile {
        ty: KeyType::Ed25519Private,
        epoch,
        name: Some(name.to_string()),
        wrapped: false,
        payload: Zeroizing::new(seed.to_vec()),
    };
    let public = KeyFile {
        ty: KeyType::Ed25519Public,
        epoch,
        name: Some(name.to_string()),
        wrapped: false,
        payload: Zeroizing::new(vk.as_bytes().to_vec()),
    };
    let kname = format!("{name}.key");
    let pname = format!("{name}.pub");
    if !replace {
        for n in [&kname, &pname] {
            if exists_at(dfd, OsStr::new(n))? {
                return Err(KeyError::new(
                    KeyErrorKind::Exists,
                    Some(&out.join(n)),
                    "already exists (refusing to overwrite; use `bdctl key rotate --approver`)",
                ));
            }
        }
    }
    write_atomic(
        dfd,
        OsStr::new(&kname),
        &out.join(&kname),
        &private.encode(),
        0o600,
        replace,
    )?;
    write_atomic(
        dfd,
        OsStr::new(&pname),
        &out.join(&pname),
        &public.encode(),
        0o644,
        replace,
    )?;
    Ok(KeyInfo {
        path: out.join(&kname),
        ty: KeyType::Ed25519Private,
        epoch,
        name: Some(name.to_string()),
        wrapped: false,
        fingerprint: fingerprint32(vk.as_bytes()),
        public: Some(public_key_string(&vk)),
    })
}

fn check_name(name: &str) -> Result<(), KeyError> {
    if is_approver_name(name) {
        Ok(())
    } else {
        Err(KeyError::new(
            KeyErrorKind::Other,
            None,
            format!(
                "approver name {name:?}: use 1-64 of [a-z0-9_.-], starting with a letter or digit"
            ),
        ))
    }
}

/// `bdctl key gen --approver NAME --out DIR`: NAME.key (0600) and
/// NAME.pub at epoch 0 (refused when the marker records a later epoch
/// for NAME: use rotate).
pub fn gen_approver(paths: &KeyPaths, name: &str, out: &Path) -> Result<KeyInfo, KeyError> {
    check_name(name)?;
    let seen = read_marker(paths)?.get(&approver_id(name));
    if seen > 0 {
        return Err(KeyError::new(
            KeyErrorKind::Rollback,
            Some(&out.join(format!("{name}.key"))),
            format!(
                "approver {name} is already at epoch {seen}: use `bdctl key rotate --approver`"
            ),
        ));
    }
    let dfd = open_dir_plain(out)?;
    let info = write_approver(dfd.as_fd(), out, name, 0, false)?;
    bump_marker(paths, &approver_id(name), 0)?;
    Ok(info)
}

/// `bdctl key rotate --approver NAME --out DIR`: a new keypair at the
/// epoch of DIR/NAME.key + 1 (that key is checked, and refused when older
/// than the marker), replacing both files.
pub fn rotate_approver(paths: &KeyPaths, name: &str, out: &Path) -> Result<KeyInfo, KeyError> {
    check_name(name)?;
    let kpath = out.join(format!("{name}.key"));
    let old = read_approver_key(&kpath)?;
    if old.name.as_deref() != Some(name) {
        return Err(KeyError::new(
            KeyErrorKind::WrongType,
            Some(&kpath),
            format!("is the key of approver {:?}, not {name:?}", old.name),
        ));
    }
    check_epoch(paths, &approver_id(name), old.epoch, &kpath)?;
    let Some(epoch) = old.epoch.checked_add(1) else {
        return Err(KeyError::new(
            KeyErrorKind::Other,
            Some(&kpath),
            "epoch overflow",
        ));
    };
    let dfd = open_dir_plain(out)?;
    let info = write_approver(dfd.as_fd(), out, name, epoch, true)?;
    bump_marker(paths, &approver_id(name), epoch)?;
    Ok(info)
}

// ---------------------------------------------------------------------
// show / verify
// ---------------------------------------------------------------------

/// Describe a parsed key (never its secret).
pub fn describe(path: &Path, kf: &KeyFile) -> KeyInfo {
    let (fingerprint, public) = match (kf.ty, kf.wrapped) {
        (_, true) => (fingerprint32(&kf.payload), None),
        (KeyType::Ed25519Private, false) => {
            let mut seed = Zeroizing::new([0u8; 32]);
            seed.copy_from_slice(&kf.payload[..32]);
            let vk = SigningKey::from_bytes(&seed).verifying_key();
            (fingerprint32(vk.as_bytes()), Some(public_key_string(&vk)))
        }
        (KeyType::Ed25519Public, false) => {
            let mut b = [0u8; 32];
            b.copy_from_slice(&kf.payload[..32]);
            let p = VerifyingKey::from_bytes(&b)
                .ok()
                .map(|v| public_key_string(&v));
            (fingerprint32(&b), p)
        }
        (KeyType::AuditMac | KeyType::AuditVerify | KeyType::Kek, false) => {
            let mut b = Zeroizing::new([0u8; 32]);
            b.copy_from_slice(&kf.payload[..32]);
            (EpochKey::new(kf.epoch, *b).fingerprint(), None)
        }
    };
    KeyInfo {
        path: path.to_path_buf(),
        ty: kf.ty,
        epoch: kf.epoch,
        name: kf.name.clone(),
        wrapped: kf.wrapped,
        fingerprint,
        public,
    }
}

/// `bdctl key show [FILE]` (default: the host's audit key).
pub fn show(paths: &KeyPaths, file: Option<&Path>) -> Result<KeyInfo, KeyError> {
    match file {
        Some(p) => Ok(describe(p, &read_key_path(p)?)),
        None => {
            let dir = paths
                .keys_dir_fd(false)
                .map_err(|e| with_path(e, &paths.keys_dir))?;
            let kf = paths.read_host_key(dir.as_fd(), AUDIT_KEY_NAME)?;
            Ok(describe(&paths.audit_key_path(), &kf))
        }
    }
}

/// `bdctl key verify FILE`: format, checksum, length, permissions, and
/// for an audit key or an approver key, its epoch against the marker
/// (when the marker is readable: root), and a wrapped key unwraps.
pub fn verify(paths: &KeyPaths, file: &Path, want: Option<KeyType>) -> Result<KeyInfo, KeyError> {
    let kf = read_key_path(file)?;
    if let Some(t) = want {
        kf.expect_type(t).map_err(|e| with_path(e, file))?;
    }
    let id = match (kf.ty, &kf.name) {
        (KeyType::AuditMac, _) => Some(AUDIT_ID.to_string()),
        (KeyType::Ed25519Private | KeyType::Ed25519Public, Some(n)) => Some(approver_id(n)),
        _ => None,
    };
    if let Some(id) = id
        && nix::unistd::geteuid().is_root()
    {
        check_epoch(paths, &id, kf.epoch, file)?;
    }
    if kf.wrapped {
        let dir = paths
            .keys_dir_fd(false)
            .map_err(|e| with_path(e, &paths.keys_dir))?;
        super::kek::unwrap(paths, dir.as_fd(), &kf).map_err(|e| with_path(e, file))?;
    }
    Ok(describe(file, &kf))
}

// ---------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    pub(crate) fn tpaths() -> (tempfile::TempDir, KeyPaths) {
        let d = tempfile::tempdir().expect("tempdir");
        let keys = d.path().join("keys");
        let lib = d.path().join("lib");
        std::fs::create_dir(&keys).expect("mkdir");
        std::fs::create_dir(&lib).expect("mkdir");
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let p = KeyPaths {
            keys_dir: keys,
            lib_dir: lib,
            owner: nix::unistd::geteuid().as_raw(),
            trusted: false,
        };
        (d, p)
    }

    fn kind(r: Result<impl fmt::Debug, KeyError>) -> KeyErrorKind {
        match r {
            Err(e) => {
                assert!(!e.to_string().contains('\n'), "{e}");
                e.kind
            }
            Ok(v) => panic!("expected an error, got {v:?}"),
        }
    }

    #[test]
    fn format_roundtrip_and_strictness() {
        let kf = KeyFile {
            ty: KeyType::AuditMac,
            epoch: 7,
            name: None,
            wrapped: false,
            payload: Zeroizing::new(vec![5; 32]),
        };
        let enc = kf.encode();
        let text = std::str::from_utf8(&enc).expect("utf8");
        assert!(
            text.starts_with("belladonna-key v1 type=audit-mac epoch=7\n"),
            "{text}"
        );
        assert_eq!(KeyFile::parse(&enc).expect("parses"), kf);
        assert_eq!(kind(KeyFile::parse(b"")), KeyErrorKind::Empty);
        // Every truncation is refused.
        for n in 1..enc.len() {
            let k = kind(KeyFile::parse(&enc[..n]));
            assert_eq!(k, KeyErrorKind::Malformed, "cut at {n}");
        }
        // Every flipped byte is refused.
        for i in 0..enc.len() {
            let mut b = enc.to_vec();
            b[i] ^= 0x04;
            assert!(KeyFile::parse(&b).is_err(), "flip at {i}");
        }
        // Short payload with a valid checksum.
        let short = KeyFile {
            payload: Zeroizing::new(vec![5; 16]),
            ..kf.clone()
        };
        assert_eq!(kind(KeyFile::parse(&short.encode())), KeyErrorKind::Length);
        let zero = KeyFile {
            payload: Zeroizing::new(vec![0; 32]),
            ..kf.clone()
        };
        assert_eq!(kind(KeyFile::parse(&zero.encode())), KeyErrorKind::Length);
        assert_eq!(
            kind(KeyFile::parse(b"-----BEGIN PRIVATE KEY-----\n")),
            KeyErrorKind::Malformed
        );
        let mut extra = enc.to_vec();
        extra.extend_from_slice(b"x\n");
        assert_eq!(kind(KeyFile::parse(&extra)), KeyErrorKind::Malformed);
        let vk = KeyFile {
            ty: KeyType::AuditVerify,
            ..kf
        };
        let e = vk.expect_type(KeyType::AuditMac).expect_err("wrong type");
        assert_eq!(e.kind, KeyErrorKind::WrongType);
        assert!(e.to_string().contains("verification key"), "{e}");
    }

    fn put(p: &KeyPaths, name: &str, data: &[u8], mode: u32) {
        let path = p.keys_dir.join(name);
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, data).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn audit_key_file_validation() {
        let (_d, p) = tpaths();
        assert!(load_audit_key(&p).expect("no key").is_none());
        let info = gen_audit_key(&p, None, false).expect("gen");
        assert_eq!(info.epoch, 0);
        let path = p.audit_key_path();
        let md = std::fs::metadata(&path).expect("stat");
        assert_eq!(md.permissions().mode() & 0o777, 0o600);
        let good = std::fs::read(&path).expect("read");
        let k = load_audit_key(&p).expect("load").expect("some");
        assert_eq!(k.epoch(), 0);
        assert_eq!(k.fingerprint(), info.fingerprint);
        // Refuses to overwrite.
        assert_eq!(kind(gen_audit_key(&p, None, false)), KeyErrorKind::Exists);

        put(&p, AUDIT_KEY_NAME, b"", 0o600);
        assert_eq!(kind(load_audit_key(&p)), KeyErrorKind::Empty);
        put(&p, AUDIT_KEY_NAME, &good[..good.len() / 2], 0o600);
        assert_eq!(kind(load_audit_key(&p)), KeyErrorKind::Malformed);
        put(&p, AUDIT_KEY_NAME, &good[..good.len() - 1], 0o600);
        assert_eq!(kind(load_audit_key(&p)), KeyErrorKind::Malformed);
        put(&p, AUDIT_KEY_NAME, &good, 0o644);
        let e = load_audit_key(&p).expect_err("world-readable");
        assert_eq!(e.kind, KeyErrorKind::Permissions);
        assert!(e.to_string().contains("group or others"), "{e}");
        put(&p, AUDIT_KEY_NAME, &good, 0o640);
        assert_eq!(kind(load_audit_key(&p)), KeyErrorKind::Permissions);
        put(&p, AUDIT_KEY_NAME, &good, 0o600);
        std::os::unix::fs::chown(&path, Some(4242), None).expect("chown");
        assert_eq!(kind(load_audit_key(&p)), KeyErrorKind::Permissions);
        std::fs::remove_file(&path).expect("rm");
        let elsewhere = p.keys_dir.join("real.key");
        std::fs::write(&elsewhere, &good).expect("write");
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
        std::os::unix::fs::symlink(&elsewhere, &path).expect("symlink");
        assert_eq!(kind(load_audit_key(&p)), KeyErrorKind::Symlink);
        std::fs::remove_file(&path).expect("rm");
        // An approver key where the audit key is expected.
        let approver = KeyFile {
            ty: KeyType::Ed25519Private,
            epoch: 0,
            name: Some("alice".into()),
            wrapped: false,
            payload: Zeroizing::new(vec![3; 32]),
        };
        put(&p, AUDIT_KEY_NAME, &approver.encode(), 0o600);
        assert_eq!(kind(load_audit_key(&p)), KeyErrorKind::WrongType);
        // A FIFO.
        std::fs::remove_file(&path).expect("rm");
        nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o600)).expect("mkfifo");
        assert_eq!(kind(load_audit_key(&p)), KeyErrorKind::NotRegular);
        std::fs::remove_file(&path).expect("rm");
        put(&p, AUDIT_KEY_NAME, &good, 0o400);
        assert!(load_audit_key(&p).expect("0400 ok").is_some());
    }

    #[test]
    fn older_epoch_refused_on_load_and_rotate() {
        let (_d, p) = tpaths();
        gen_audit_key(&p, None, false).expect("gen");
        let e0 = std::fs::read(p.audit_key_path()).expect("read");
        bump_marker(&p, AUDIT_ID, 2).expect("bump");
        assert_eq!(read_marker(&p).expect("marker").get(AUDIT_ID), 2);
        bump_marker(&p, AUDIT_ID, 1).expect("never lowers");
        assert_eq!(read_marker(&p).expect("marker").get(AUDIT_ID), 2);
        let e = load_audit_key(&p).expect_err("rollback");
        assert_eq!(e.kind, KeyErrorKind::Rollback);
        assert!(e.to_string().contains("older than epoch 2"), "{e}");
        // rotate refuses too (it loads first).
        let d = tempfile::tempdir().expect("log dir");
        let logdir = d.path().join("log");
        let name = std::ffi::OsString::from("audit.jsonl");
        let log = crate::audit::AppendOptions {
            dir: &logdir,
            name: &name,
            lock_timeout: std::time::Duration::from_secs(5),
            create: true,
            sync_note: None,
        };
        assert_eq!(kind(rotate_audit_key(&p, &log)), KeyErrorKind::Rollback);
        // gen refuses to start over below the marker.
        std::fs::remove_file(p.audit_key_path()).expect("rm");
        assert_eq!(kind(gen_audit_key(&p, None, false)), KeyErrorKind::Rollback);
        put(&p, AUDIT_KEY_NAME, &e0, 0o600);
        // A damaged marker is an error, not a reset.
        let m = p.marker_path();
        let mut bytes = std::fs::read(&m).expect("read");
        let i = bytes.iter().position(|&b| b == b'2').expect("digit");
        bytes[i] = b'0';
        std::fs::write(&m, &bytes).expect("write");
        assert_eq!(kind(load_audit_key(&p)), KeyErrorKind::Marker);
        std::fs::write(&m, b"").expect("write");
        assert_eq!(kind(load_audit_key(&p)), KeyErrorKind::Marker);
    }

    #[test]
    fn approver_gen_rotate() {
        let (_d, p) = tpaths();
        let out = p.keys_dir.parent().expect("parent").join("out");
        std::fs::create_dir(&out).expect("mkdir");
        let info = gen_approver(&p, "alice", &out).expect("gen");
        let public = info.public.clone().expect("public");
        assert!(
            public.starts_with("ed25519:") && public.len() == 8 + 43,
            "{public}"
        );
        let k = read_approver_key(&out.join("alice.key")).expect("load");
        assert_eq!((k.name.as_deref(), k.epoch), (Some("alice"), 0));
        assert_eq!(public_key_string(&k.signing.verifying_key()), public);
        assert_eq!(
            parse_public_key(&public).expect("parse"),
            k.signing.verifying_key()
        );
        let (n, e, vk) = read_approver_public(&out.join("alice.pub")).expect("pub");
        assert_eq!(
            (n.as_deref(), e, vk),
            (Some("alice"), 0, k.signing.verifying_key())
        );
        assert_eq!(kind(gen_approver(&p, "alice", &out)), KeyErrorKind::Exists);
        assert_eq!(kind(gen_approver(&p, "../x", &out)), KeyErrorKind::Other);
        let old = std::fs::read(out.join("alice.key")).expect("read");
        let r = rotate_approver(&p, "alice", &out).expect("rotate");
        assert_eq!(r.epoch, 1);
        assert_ne!(r.public, info.public);
        // Putting the old key back is a rollback.
        std::fs::write(out.join("alice.key"), &old).expect("write");
        assert_eq!(
            kind(rotate_approver(&p, "alice", &out)),
            KeyErrorKind::Rollback
        );
        assert_eq!(
            kind(verify(&p, &out.join("alice.key"), None)),
            KeyErrorKind::Rollback
        );
        // ... and `bdctl token sign` refuses it (it did not check).
        let restored = read_approver_key(&out.join("alice.key")).expect("reads");
        assert_eq!(
            kind(check_approver_epoch(&p, "alice", restored.epoch, &out)),
            KeyErrorKind::Rollback
        );
        check_approver_epoch(&p, "alice", 1, &out).expect("current epoch");
        check_approver_epoch(&p, "bob", 0, &out).expect("no epoch recorded");
        assert_eq!(
            kind(gen_approver(
                &p,
                "alice",
                tempfile::tempdir().expect("t").path()
            )),
            KeyErrorKind::Rollback
        );
        // A public key is not a private key.
        assert_eq!(
            kind(read_approver_key(&out.join("alice.pub"))),
            KeyErrorKind::WrongType
        );
        for bad in ["ed25519:", "rsa:AAAA", "ed25519:!!!!", "ed25519:AAAA"] {
            assert!(parse_public_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn export_verify_key_and_show() {
        let (d, p) = tpaths();
        let vpath = d.path().join("k0.verify");
        let info = gen_audit_key(&p, Some(&vpath), false).expect("gen");
        let k0 = read_verify_key(&vpath).expect("verify key");
        assert_eq!(k0.fingerprint(), info.fingerprint);
        assert_eq!(
            kind(read_verify_key(&p.audit_key_path())),
            KeyErrorKind::WrongType
        );
        let shown = show(&p, None).expect("show");
        assert_eq!((shown.ty, shown.epoch), (KeyType::AuditMac, 0));
        let text = shown.to_string();
        let secret = crate::audit::chain::hex(k0.secret());
        assert!(!text.contains(&secret[..16]), "{text}");
        verify(&p, &vpath, Some(KeyType::AuditVerify)).expect("verifies");
        verify(&p, &p.audit_key_path(), None).expect("verifies");
        assert_eq!(
            kind(verify(
                &p,
                &p.audit_key_path(),
                Some(KeyType::Ed25519Public)
            )),
            KeyErrorKind::WrongType
        );
    }
}
