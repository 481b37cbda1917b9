//! The key file format (`docs/keys.md`): one self-describing text
//! format for every key.
//!
//! ```text
//! belladonna-key v1 type=audit-mac epoch=3[ name=alice][ wrap=kek]
//! <payload, base64 (standard alphabet, no padding)>
//! blake3=<64 hex: BLAKE3 of the two lines above, newlines included>
//! ```
//!
//! A file is refused with a clear error when it is empty, longer than
//! [`MAX_KEY_FILE`], truncated or damaged (the checksum does not match),
//! or of the wrong type or length.
#![forbid(unsafe_code)]

use base64::Engine as _;
use std::fmt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Directory of host keys.
pub const KEYS_DIR: &str = "/etc/belladonna/keys";
/// [`KEYS_DIR`]'s name in the policy directory (`CONF_DIR`).
pub const KEYS_DIR_NAME: &str = "keys";
/// Name of the audit MAC key in [`KEYS_DIR`].
pub const AUDIT_KEY_NAME: &str = "audit.key";
/// Name of the key-encryption key in [`KEYS_DIR`].
pub const KEK_NAME: &str = "kek";
/// Name of the epoch marker in `LIB_DIR`.
pub const EPOCH_MARKER_NAME: &str = "key-epoch";
/// Length of a KEK-wrapped 32-byte secret (`keystore::kek`): nonce (24)
/// + ciphertext (32) + tag (16).
pub const WRAPPED_LEN: usize = 24 + 32 + 16;
/// Largest key file read (anything longer is refused).
pub const MAX_KEY_FILE: usize = 4096;
/// Epoch-marker entry of the audit key.
pub const AUDIT_ID: &str = "audit";

const MAGIC: &str = "belladonna-key v1 ";

pub(crate) fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD_NO_PAD
}

pub(crate) fn b64url() -> base64::engine::GeneralPurpose {
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

    pub(crate) fn io(path: &Path, op: &str, e: nix::Error) -> Self {
        Self::new(KeyErrorKind::Io, Some(path), format!("{op}: {}", e.desc()))
    }

    pub(crate) fn sfs(e: crate::base::secure_fs::SecureFsError) -> Self {
        let kind = match &e {
            crate::base::secure_fs::SecureFsError::Symlink(_) => KeyErrorKind::Symlink,
            crate::base::secure_fs::SecureFsError::Owner { .. }
            | crate::base::secure_fs::SecureFsError::Writable { .. } => KeyErrorKind::Permissions,
            crate::base::secure_fs::SecureFsError::Kind { .. } => KeyErrorKind::NotRegular,
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

/// A valid approver name: the policy's rule ([`crate::policy::names`]).
pub fn valid_name(n: &str) -> bool {
    crate::policy::names::is_approver_name(n)
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
        body.extend_from_slice(crate::base::hex::encode(sum.as_bytes()).as_bytes());
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
            .and_then(crate::base::hex::decode::<32>)
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
                "name" if name.is_none() && valid_name(v) => name = Some(v.to_string()),
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
        let want_len = if wrapped { WRAPPED_LEN } else { 32 };
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

/// `e` naming `p` when it names no file yet.
pub(crate) fn with_path(mut e: KeyError, p: &Path) -> KeyError {
    if e.path.is_none() {
        e.path = Some(p.to_path_buf());
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::testutil::kind;

    /// bdexec opens [`KEYS_DIR_NAME`] below the policy directory: it must
    /// name [`KEYS_DIR`] there.
    #[test]
    fn the_keys_directory_is_named_below_the_policy_directory() {
        assert_eq!(
            Path::new(crate::base::paths::CONF_DIR).join(KEYS_DIR_NAME),
            Path::new(KEYS_DIR)
        );
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
}
