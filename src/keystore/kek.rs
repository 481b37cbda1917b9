//! Optional KEK wrapping of host secrets (`docs/keys.md`, "KEK").
//!
//! The audit key file may hold its 32 secret bytes wrapped with
//! XChaCha20-Poly1305 under a key-encryption key read from
//! `/etc/belladonna/keys/kek` (a key file of type `kek`, root, 0600):
//! payload = 24-byte random nonce || ciphertext (32) || tag (16), and the
//! file's header line (type, epoch, `wrap=kek`) is the associated data, so
//! the epoch cannot be edited without the unwrap failing.
//!
//! What this buys: a copy of `audit.key` (a backup, an image, a leaked
//! file) is useless without the KEK, which can be kept on other storage
//! (a separate, read-only mount; later a TPM). On its own, a KEK file in
//! the same directory only helps against copies of the single file.
//!
//! With the cargo feature `belladonna_tpm_real`, the KEK can instead be
//! sealed to a TPM (`/etc/belladonna/keys/kek.tpm`, [`super::tpm`]); when
//! that file exists it is the KEK used here.
#![forbid(unsafe_code)]

use super::{KEK_NAME, KeyError, KeyErrorKind, KeyFile, KeyInfo, KeyPaths, KeyType};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use zeroize::Zeroizing;

pub use super::format::WRAPPED_LEN;

fn kek_err(paths: &KeyPaths, d: impl Into<String>) -> KeyError {
    KeyError::new(KeyErrorKind::Kek, Some(&paths.kek_path()), d)
}

fn cipher(paths: &KeyPaths, dir: BorrowedFd<'_>) -> Result<XChaCha20Poly1305, KeyError> {
    #[cfg(feature = "belladonna_tpm_real")]
    if let Some(k) = super::tpm::kek_if_present(paths, dir)? {
        return XChaCha20Poly1305::new_from_slice(&k[..])
            .map_err(|_| kek_err(paths, "bad KEK length"));
    }
    let kf = match paths.read_host_key(dir, KEK_NAME) {
        Ok(k) => k,
        Err(e) if e.is_not_found() => {
            return Err(kek_err(
                paths,
                "the key is wrapped but the KEK does not exist",
            ));
        }
        Err(e) => return Err(e),
    };
    kf.expect_type(KeyType::Kek)
        .map_err(|e| kek_err(paths, e.detail))?;
    let k = kf.secret32()?;
    XChaCha20Poly1305::new_from_slice(&k[..]).map_err(|_| kek_err(paths, "bad KEK length"))
}

/// Wrap the (unwrapped) secret of `kf` with the KEK.
pub fn wrap(paths: &KeyPaths, dir: BorrowedFd<'_>, kf: KeyFile) -> Result<KeyFile, KeyError> {
    let c = cipher(paths, dir)?;
    let plain = kf.secret32()?;
    let out = KeyFile {
        wrapped: true,
        payload: Zeroizing::new(Vec::new()),
        ..kf
    };
    let aad = out.header();
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce)
        .map_err(|e| kek_err(paths, format!("random number generator failed: {e}")))?;
    let ct = c
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &plain[..],
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| kek_err(paths, "wrapping failed"))?;
    let mut payload = Zeroizing::new(nonce.to_vec());
    payload.extend_from_slice(&ct);
    Ok(KeyFile { payload, ..out })
}

/// Unwrap a wrapped key file's secret with the KEK.
pub fn unwrap(
    paths: &KeyPaths,
    dir: BorrowedFd<'_>,
    kf: &KeyFile,
) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    if !kf.wrapped || kf.payload.len() != WRAPPED_LEN {
        return Err(kek_err(paths, "not a wrapped key"));
    }
    let c = cipher(paths, dir)?;
    let mut nonce = [0u8; 24];
    nonce.copy_from_slice(&kf.payload[..24]);
    let aad = kf.header();
    let plain = Zeroizing::new(
        c.decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &kf.payload[24..],
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| {
            kek_err(
                paths,
                "cannot unwrap the key (wrong KEK, or the key file was altered)",
            )
        })?,
    );
    let mut out = Zeroizing::new([0u8; 32]);
    if plain.len() != 32 {
        return Err(kek_err(paths, "unwrapped secret is not 32 bytes"));
    }
    out.copy_from_slice(&plain);
    Ok(out)
}

/// `bdctl key gen --kek`: create `/etc/belladonna/keys/kek` (32 random
/// bytes, root, 0600; refuses to overwrite).
pub fn gen_kek(paths: &KeyPaths) -> Result<KeyInfo, KeyError> {
    let dir = paths.keys_dir_fd(true)?;
    #[cfg(feature = "belladonna_tpm_real")]
    super::tpm::refuse_if_present(paths, dir.as_fd())?;
    let mut secret = Zeroizing::new(vec![0u8; 32]);
    getrandom::fill(&mut secret[..])
        .map_err(|e| kek_err(paths, format!("random number generator failed: {e}")))?;
    let kf = KeyFile {
        ty: KeyType::Kek,
        epoch: 0,
        name: None,
        wrapped: false,
        payload: secret,
    };
    super::write_atomic(
        dir.as_fd(),
        OsStr::new(KEK_NAME),
        &paths.kek_path(),
        &kf.encode(),
        0o600,
        false,
    )?;
    Ok(super::describe(&paths.kek_path(), &kf))
}
