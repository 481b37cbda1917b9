//! TPM-backed KEK (cargo feature `belladonna_tpm_real`; `docs/keys.md`,
//! section 5).
//!
//! The 32-byte KEK is sealed to the TPM: a KeyedHash sealed-data object
//! (fixedTPM, fixedParent, empty auth) created under a storage primary key
//! that is re-derived on every use with `TPM2_CreatePrimary` from a fixed
//! template in the owner hierarchy (ECC NIST P-256, AES-128-CFB, SHA-256):
//! the same TPM and owner seed give the same primary, another TPM (or a
//! cleared one) gives another, under which the sealed blob does not load.
//! The sealed object's public and private areas are stored in
//! `/etc/belladonna/keys/kek.tpm` (root, 0600, written atomically):
//!
//! ```text
//! belladonna-tpm-kek v1 parent=owner-ecc-p256-aes128cfb
//! <TPMT_PUBLIC, marshalled, base64 (standard, no padding)>
//! <TPM2B_PRIVATE buffer, base64>
//! blake3=<64 hex: BLAKE3 of the three lines above, newlines included>
//! ```
//!
//! The KEK is unsealed at each use ([`unseal`]) and only held in
//! memory (zeroized). Creating and unsealing go through an HMAC session
//! salted with the primary key, with parameter encryption, so the KEK does
//! not cross the TPM bus in the clear. The owner hierarchy's auth value
//! must be empty (the usual default).
//!
//! TPM access: the TCTI [`DEFAULT_TCTI`] (the kernel's resource manager).
//! Builds with the `test-hooks` feature (never release builds) honour
//! [`TCTI_ENV`] so tests can point it at swtpm.
#![forbid(unsafe_code)]

use super::{KEK_NAME, KeyError, KeyErrorKind, KeyFile, KeyInfo, KeyPaths, KeyType};
use base64::Engine as _;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, fstat};
use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::str::FromStr;
use tss_esapi::attributes::{ObjectAttributesBuilder, SessionAttributesBuilder};
use tss_esapi::constants::SessionType;
use tss_esapi::handles::{KeyHandle, ObjectHandle, SessionHandle};
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, PublicAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{
    Digest, EccPoint, KeyedHashScheme, Private, Public, PublicBuilder, PublicEccParametersBuilder,
    PublicKeyedHashParameters, SensitiveData, SymmetricDefinition, SymmetricDefinitionObject,
};
use tss_esapi::traits::{Marshall, UnMarshall};
use tss_esapi::{Context, TctiNameConf};
use zeroize::Zeroizing;

/// The sealed KEK's file name in the keys directory.
pub const TPM_KEK_NAME: &str = "kek.tpm";

/// The TCTI used to reach the TPM (compile-time constant).
pub const DEFAULT_TCTI: &str = "device:/dev/tpmrm0";

/// `test-hooks` builds only: overrides [`DEFAULT_TCTI`] (e.g.
/// `swtpm:host=127.0.0.1,port=2321`).
pub const TCTI_ENV: &str = "BELLADONNA_TEST_TPM_TCTI";

/// First line of a sealed-KEK file.
pub(crate) const MAGIC: &str = "belladonna-tpm-kek v1 parent=owner-ecc-p256-aes128cfb";
/// Largest sealed-KEK file read.
pub(crate) const MAX_FILE: usize = 4096;

/// The TCTI configuration string in effect.
pub fn tcti() -> String {
    #[cfg(feature = "test-hooks")]
    if let Some(s) = std::env::var_os(TCTI_ENV)
        .and_then(|v| v.into_string().ok())
        .filter(|s| !s.is_empty())
    {
        return s;
    }
    DEFAULT_TCTI.to_string()
}

/// The sealed KEK's path.
pub fn tpm_kek_path(paths: &KeyPaths) -> PathBuf {
    paths.keys_dir.join(TPM_KEK_NAME)
}

fn err(paths: &KeyPaths, kind: KeyErrorKind, d: impl Into<String>) -> KeyError {
    KeyError::new(kind, Some(&tpm_kek_path(paths)), d)
}

fn tpm_err(paths: &KeyPaths, op: &str, e: tss_esapi::Error) -> KeyError {
    err(paths, KeyErrorKind::Kek, format!("TPM: {op}: {e}"))
}

/// The sealed object's public and private areas, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedKek {
    pub public: Vec<u8>,
    pub private: Vec<u8>,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD_NO_PAD
}

impl SealedKek {
    /// The `kek.tpm` file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let body = format!(
            "{MAGIC}\n{}\n{}\n",
            b64().encode(&self.public),
            b64().encode(&self.private)
        );
        let sum = crate::base::hex::encode(blake3::hash(body.as_bytes()).as_bytes());
        format!("{body}blake3={sum}\n").into_bytes()
    }

    /// Parse a `kek.tpm` file (format, checksum, base64).
    pub fn parse(data: &[u8]) -> Result<SealedKek, String> {
        if data.is_empty() {
            return Err("empty file (refused)".into());
        }
        if data.len() > MAX_FILE {
            return Err(format!("longer than {MAX_FILE} bytes (refused)"));
        }
        let text = std::str::from_utf8(data).map_err(|_| "not text (damaged)".to_string())?;
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        if lines.len() != 4 || !lines.iter().all(|l| l.ends_with('\n')) {
            return Err("truncated or damaged (want four complete lines)".into());
        }
        if lines[0] != format!("{MAGIC}\n") {
            return Err(format!("not a sealed TPM KEK (header: want {MAGIC:?})"));
        }
        let body: String = lines[..3].concat();
        let want = crate::base::hex::encode(blake3::hash(body.as_bytes()).as_bytes());
        if lines[3] != format!("blake3={want}\n") {
            return Err("checksum mismatch (truncated, damaged or edited)".into());
        }
        let dec = |l: &str, what: &str| {
            b64()
                .decode(l.trim_end_matches('\n'))
                .map_err(|_| format!("{what} is not valid base64"))
        };
        let public = dec(lines[1], "the public area")?;
        let private = dec(lines[2], "the private area")?;
        if public.is_empty() || private.is_empty() {
            return Err("empty public or private area".into());
        }
        Ok(SealedKek { public, private })
    }
}

/// Does `kek.tpm` exist in `dir`?
pub fn present(paths: &KeyPaths, dir: BorrowedFd<'_>) -> Result<bool, KeyError> {
    exists_at(paths, dir, TPM_KEK_NAME)
}

fn exists_at(paths: &KeyPaths, dir: BorrowedFd<'_>, name: &str) -> Result<bool, KeyError> {
    match nix::sys::stat::fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(_) => Ok(true),
        Err(nix::Error::ENOENT) => Ok(false),
        Err(e) => Err(KeyError::new(
            KeyErrorKind::Io,
            Some(&paths.keys_dir.join(name)),
            format!("stat: {}", e.desc()),
        )),
    }
}

/// Read and check `kek.tpm`: not a symlink (never followed), a regular
/// file owned by the host key owner, mode 0600 or 0400, at most 4096
/// bytes, checksum intact.
pub fn read_sealed(paths: &KeyPaths, dir: BorrowedFd<'_>) -> Result<SealedKek, KeyError> {
    let fd = openat(
        dir,
        TPM_KEK_NAME,
        OFlag::O_RDONLY
            | OFlag::O_NOFOLLOW
            | OFlag::O_CLOEXEC
            | OFlag::O_NOCTTY
            | OFlag::O_NONBLOCK,
        Mode::empty(),
    )
    .map_err(|e| match e {
        nix::Error::ELOOP => err(
            paths,
            KeyErrorKind::Symlink,
            "is a symbolic link (refused; key files are never followed)",
        ),
        e => err(paths, KeyErrorKind::Io, format!("open: {}", e.desc())),
    })?;
    let st =
        fstat(&fd).map_err(|e| err(paths, KeyErrorKind::Io, format!("fstat: {}", e.desc())))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(err(
            paths,
            KeyErrorKind::NotRegular,
            "not a regular file (refused)",
        ));
    }
    if st.st_uid != paths.owner {
        return Err(err(
            paths,
            KeyErrorKind::Permissions,
            format!(
                "owned by uid {}, must be owned by uid {} (refused)",
                st.st_uid, paths.owner
            ),
        ));
    }
    if st.st_mode & 0o077 != 0 {
        return Err(err(
            paths,
            KeyErrorKind::Permissions,
            format!(
                "mode {:04o}: the sealed KEK must not be accessible to group or others (chmod 600)",
                st.st_mode & 0o7777
            ),
        ));
    }
    let mut buf = Vec::with_capacity(512);
    File::from(fd)
        .take(MAX_FILE as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| err(paths, KeyErrorKind::Io, format!("read: {e}")))?;
    SealedKek::parse(&buf).map_err(|d| {
        let kind = if buf.is_empty() {
            KeyErrorKind::Empty
        } else {
            KeyErrorKind::Malformed
        };
        err(paths, kind, d)
    })
}

// ---------------------------------------------------------------------
// TPM operations
// ---------------------------------------------------------------------

/// The storage primary's template (fixed: the primary is re-derived from
/// it and the owner seed on every use).
fn primary_template() -> tss_esapi::Result<Public> {
    let attrs = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_no_da(true)
        .with_restricted(true)
        .with_decrypt(true)
        .build()?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::Ecc)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attrs)
        .with_ecc_parameters(
            PublicEccParametersBuilder::new_restricted_decryption_key(
                SymmetricDefinitionObject::AES_128_CFB,
                EccCurve::NistP256,
            )
            .build()?,
        )
        .with_ecc_unique_identifier(EccPoint::default())
        .build()
}

/// The sealed data object's template.
fn sealed_template() -> tss_esapi::Result<Public> {
    let attrs = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_user_with_auth(true)
        .with_no_da(true)
        .build()?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::KeyedHash)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attrs)
        .with_keyed_hash_parameters(PublicKeyedHashParameters::new(KeyedHashScheme::Null))
        .with_keyed_hash_unique_identifier(Digest::default())
        .build()
}

/// Connect to the TPM at `tcti`, derive the primary, start a session
/// salted with it, run `f`, and flush everything again (also on errors:
/// without a resource manager, swtpm keeps transient objects).
fn with_tpm<T>(
    paths: &KeyPaths,
    tcti: &str,
    f: impl FnOnce(&mut Context, KeyHandle, AuthSession) -> Result<T, KeyError>,
) -> Result<T, KeyError> {
    let conf =
        TctiNameConf::from_str(tcti).map_err(|e| tpm_err(paths, &format!("TCTI {tcti:?}"), e))?;
    let mut ctx =
        Context::new(conf).map_err(|e| tpm_err(paths, &format!("connect ({tcti})"), e))?;
    ctx.set_sessions((Some(AuthSession::Password), None, None));
    let template = primary_template().map_err(|e| tpm_err(paths, "primary template", e))?;
    let primary = ctx
        .create_primary(Hierarchy::Owner, template, None, None, None, None)
        .map_err(|e| tpm_err(paths, "create the storage primary (owner hierarchy)", e))?
        .key_handle;
    ctx.clear_sessions();
    let res = (|| {
        let session = ctx
            .start_auth_session(
                Some(primary),
                None,
                None,
                SessionType::Hmac,
                SymmetricDefinition::AES_128_CFB,
                HashingAlgorithm::Sha256,
            )
            .map_err(|e| tpm_err(paths, "start a salted session", e))?
            .ok_or_else(|| err(paths, KeyErrorKind::Kek, "TPM: no session returned"))?;
        let r = f(&mut ctx, primary, session);
        ctx.clear_sessions();
        let _ = ctx.flush_context(SessionHandle::from(session).into());
        r
    })();
    let _ = ctx.flush_context(ObjectHandle::from(primary));
    res
}

fn set_session(
    ctx: &mut Context,
    paths: &KeyPaths,
    s: AuthSession,
    decrypt: bool,
    encrypt: bool,
) -> Result<(), KeyError> {
    let (a, m) = SessionAttributesBuilder::new()
        .with_continue_session(true)
        .with_decrypt(decrypt)
        .with_encrypt(encrypt)
        .build();
    ctx.tr_sess_set_attributes(s, a, m)
        .map_err(|e| tpm_err(paths, "session attributes", e))?;
    ctx.set_sessions((Some(s), None, None));
    Ok(())
}

/// Seal `kek` to the TPM at `tcti`.
pub fn seal(paths: &KeyPaths, tcti: &str, kek: &[u8; 32]) -> Result<SealedKek, KeyError> {
    with_tpm(paths, tcti, |ctx, primary, s| {
        let data = SensitiveData::try_from(kek.to_vec())
            .map_err(|e| tpm_err(paths, "sensitive data", e))?;
        let template = sealed_template().map_err(|e| tpm_err(paths, "sealed template", e))?;
        set_session(ctx, paths, s, true, true)?;
        let r = ctx
            .create(primary, template, None, Some(data), None, None)
            .map_err(|e| tpm_err(paths, "create the sealed object", e))?;
        let public = r
            .out_public
            .marshall()
            .map_err(|e| tpm_err(paths, "marshal the public area", e))?;
        Ok(SealedKek {
            public,
            private: r.out_private.value().to_vec(),
        })
    })
}

/// Unseal a sealed KEK with the TPM at `tcti`. Fails (kind `Kek`) when
/// the blob was altered or belongs to another TPM (or owner seed).
pub fn unseal(
    paths: &KeyPaths,
    tcti: &str,
    sealed: &SealedKek,
) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let public = Public::unmarshall(&sealed.public)
        .map_err(|e| tpm_err(paths, "the stored public area does not parse", e))?;
    let private = Private::try_from(sealed.private.clone())
        .map_err(|e| tpm_err(paths, "the stored private area does not parse", e))?;
    with_tpm(paths, tcti, |ctx, primary, s| {
        set_session(ctx, paths, s, true, false)?;
        let obj = ctx.load(primary, private, public).map_err(|e| {
            tpm_err(
                paths,
                "load the sealed KEK (another TPM, a cleared owner hierarchy, or the file was altered)",
                e,
            )
        })?;
        let r = set_session(ctx, paths, s, false, true).and_then(|()| {
            ctx.unseal(ObjectHandle::from(obj))
                .map_err(|e| tpm_err(paths, "unseal", e))
        });
        ctx.clear_sessions();
        let _ = ctx.flush_context(ObjectHandle::from(obj));
        let data = Zeroizing::new(r?.value().to_vec());
        if data.len() != 32 {
            return Err(err(
                paths,
                KeyErrorKind::Kek,
                "the unsealed KEK is not 32 bytes",
            ));
        }
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&data);
        Ok(out)
    })
}

/// The KEK for wrapping: `None` when `kek.tpm` does not exist; else the
/// unsealed KEK. Both `kek` and `kek.tpm` present is refused (which one
/// wraps the key would be ambiguous).
pub fn kek_if_present(
    paths: &KeyPaths,
    dir: BorrowedFd<'_>,
) -> Result<Option<Zeroizing<[u8; 32]>>, KeyError> {
    if !present(paths, dir)? {
        return Ok(None);
    }
    refuse_file_kek(paths, dir)?;
    let sealed = read_sealed(paths, dir)?;
    unseal(paths, &tcti(), &sealed).map(Some)
}

fn refuse_file_kek(paths: &KeyPaths, dir: BorrowedFd<'_>) -> Result<(), KeyError> {
    if exists_at(paths, dir, KEK_NAME)? {
        return Err(err(
            paths,
            KeyErrorKind::Kek,
            format!(
                "both {} and a sealed TPM KEK exist: remove one (refused)",
                paths.kek_path().display()
            ),
        ));
    }
    Ok(())
}

/// For `bdctl key gen --kek` (file KEK): refused while `kek.tpm` exists.
pub fn refuse_if_present(paths: &KeyPaths, dir: BorrowedFd<'_>) -> Result<(), KeyError> {
    if present(paths, dir)? {
        return Err(err(
            paths,
            KeyErrorKind::Exists,
            "a sealed TPM KEK already exists (refusing a second KEK)",
        ));
    }
    Ok(())
}

/// `bdctl key gen --kek --tpm`: 32 random bytes sealed to the TPM, stored
/// in `/etc/belladonna/keys/kek.tpm` (root, 0600; refuses to overwrite,
/// and refuses when a file KEK exists).
pub fn gen_tpm_kek(paths: &KeyPaths) -> Result<KeyInfo, KeyError> {
    gen_tpm_kek_with(paths, &tcti())
}

/// [`gen_tpm_kek`] with an explicit TCTI.
pub fn gen_tpm_kek_with(paths: &KeyPaths, tcti: &str) -> Result<KeyInfo, KeyError> {
    let dir = paths.keys_dir_fd(true)?;
    if present(paths, dir.as_fd())? {
        return Err(err(
            paths,
            KeyErrorKind::Exists,
            "already exists (refusing to overwrite)",
        ));
    }
    refuse_file_kek(paths, dir.as_fd())?;
    let mut kek = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut kek[..]).map_err(|e| {
        err(
            paths,
            KeyErrorKind::Other,
            format!("random number generator failed: {e}"),
        )
    })?;
    let sealed = seal(paths, tcti, &kek)?;
    // Check the round trip before the file exists.
    let back = unseal(paths, tcti, &sealed)?;
    if back[..] != kek[..] {
        return Err(err(
            paths,
            KeyErrorKind::Kek,
            "TPM: the unsealed KEK differs from the sealed one",
        ));
    }
    let path = tpm_kek_path(paths);
    super::write_atomic(
        dir.as_fd(),
        OsStr::new(TPM_KEK_NAME),
        &path,
        &sealed.encode(),
        0o600,
        false,
    )?;
    let kf = KeyFile {
        ty: KeyType::Kek,
        epoch: 0,
        name: None,
        wrapped: false,
        payload: Zeroizing::new(kek.to_vec()),
    };
    Ok(super::describe(&path, &kf))
}
