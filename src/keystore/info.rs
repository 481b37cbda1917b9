//! What `bdctl key gen|rotate|show` print about a key: type, epoch,
//! name, a public fingerprint (never the secret) and, for approver keys,
//! the public key in the form the policy uses.
#![forbid(unsafe_code)]

use super::format::{KeyError, KeyErrorKind, KeyFile, KeyType, b64url};
use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::fmt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

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

/// A short public fingerprint of 32 key bytes (16 hex digits).
pub fn fingerprint32(b: &[u8]) -> String {
    let d = blake3::derive_key("belladonna key fingerprint v1", b);
    crate::base::hex::encode(&d[..8])
}

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
            (fingerprint32(&b[..]), None)
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
