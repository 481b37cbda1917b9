//! The audit MAC key's lifecycle: load it for the writer, create it
//! (`bdctl key gen --audit`), rotate it with a seal record in the log
//! (`bdctl key rotate --audit`), read the off-host verification key.
//!
//! The key file's format, the epoch marker and the KEK wrapping live in
//! [`crate::keystore`], below both `audit` and `auth`; this module never
//! imports `auth` (see `docs/decisions.md`, "House layout: auth and
//! audit").
#![forbid(unsafe_code)]

use super::mac::EpochKey;
use crate::keystore::format::with_path;
use crate::keystore::store::{exists_at, random32, write_new_file};
use crate::keystore::{
    AUDIT_ID, AUDIT_KEY_NAME, KeyError, KeyErrorKind, KeyFile, KeyInfo, KeyPaths, KeyType,
    MAX_KEY_FILE, bump_marker, check_epoch, kek, read_key_path, read_marker, write_atomic,
};
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use zeroize::Zeroizing;

// ---------------------------------------------------------------------
// The audit key
// ---------------------------------------------------------------------

/// The host's audit key for the writer: `None` when
/// `/etc/belladonna/keys/audit.key` (or its directory) does not exist;
/// an error when it exists but is not valid.
pub fn load_host_audit_key() -> Result<Option<EpochKey>, KeyError> {
    load_audit_key(&KeyPaths::system())
}

/// [`load_host_audit_key`] with the policy directory (`/etc/belladonna`)
/// already opened and checked as `conf` (bdexec's policy load did): the
/// keys directory is opened below it, with the same checks, instead of
/// walking `/`, `/etc` and `/etc/belladonna` again.
pub fn load_host_audit_key_below(conf: BorrowedFd<'_>) -> Result<Option<EpochKey>, KeyError> {
    let paths = KeyPaths::system();
    load_audit_key_from_dir(&paths, paths.keys_dir_fd_below(conf))
}

/// [`load_host_audit_key`] for `paths`.
pub fn load_audit_key(paths: &KeyPaths) -> Result<Option<EpochKey>, KeyError> {
    load_audit_key_from_dir(paths, paths.keys_dir_fd(false))
}

/// The audit key in the keys directory `dir` as it was opened (a
/// missing directory: no key).
fn load_audit_key_from_dir(
    paths: &KeyPaths,
    dir: Result<std::os::fd::OwnedFd, KeyError>,
) -> Result<Option<EpochKey>, KeyError> {
    let dir = match dir {
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

/// Check the audit key file `kf` (type, epoch against the marker) and
/// unwrap its secret.
pub(super) fn audit_key_from(
    paths: &KeyPaths,
    dir: BorrowedFd<'_>,
    kf: &KeyFile,
) -> Result<EpochKey, KeyError> {
    let shown = paths.audit_key_path();
    kf.expect_type(KeyType::AuditMac)
        .map_err(|e| with_path(e, &shown))?;
    check_epoch(paths, AUDIT_ID, kf.epoch, &shown)?;
    let secret = if kf.wrapped {
        kek::unwrap(paths, dir, kf)?
    } else {
        kf.secret32().map_err(|e| with_path(e, &shown))?
    };
    Ok(EpochKey::new(kf.epoch, *secret))
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
pub(super) fn install_audit_key(
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
        kf = kek::wrap(paths, dir, kf)?;
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

/// Read the off-host verification key (`--key FILE` of `audit verify`).
pub fn read_verify_key(path: &Path) -> Result<EpochKey, KeyError> {
    let kf = read_key_path(path)?;
    kf.expect_type(KeyType::AuditVerify)
        .map_err(|e| with_path(e, path))?;
    let s = kf.secret32().map_err(|e| with_path(e, path))?;
    Ok(EpochKey::new(kf.epoch, *s))
}

#[cfg(all(test, feature = "test-hooks", feature = "belladonna_tpm_real"))]
#[path = "key_tpm_tests.rs"]
mod tpm_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::testutil::{kind, put, tpaths};
    use std::os::unix::fs::PermissionsExt;

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
    fn wrapped_audit_key() {
        let (_d, p) = tpaths();
        // Wrapping needs a KEK.
        let e = gen_audit_key(&p, None, true).expect_err("no kek");
        assert_eq!(e.kind, KeyErrorKind::Kek);
        kek::gen_kek(&p).expect("kek");
        assert_eq!(
            kek::gen_kek(&p).expect_err("exists").kind,
            KeyErrorKind::Exists
        );
        let info = gen_audit_key(&p, None, true).expect("gen wrapped");
        assert!(info.wrapped);
        let text = std::fs::read_to_string(p.audit_key_path()).expect("read");
        assert!(
            text.starts_with("belladonna-key v1 type=audit-mac epoch=0 wrap=kek\n"),
            "{text}"
        );
        let k = load_audit_key(&p).expect("load").expect("key");
        assert_eq!(k.fingerprint(), info.fingerprint);
        // The header is authenticated: editing the epoch breaks the unwrap
        // even with a recomputed checksum.
        let dir = p.keys_dir_fd(false).expect("dir");
        let mut kf = p.read_host_key(dir.as_fd(), AUDIT_KEY_NAME).expect("read");
        kf.epoch = 5;
        assert_eq!(
            kek::unwrap(&p, dir.as_fd(), &kf).expect_err("aad").kind,
            KeyErrorKind::Kek
        );
        // Another KEK cannot unwrap it.
        std::fs::remove_file(p.kek_path()).expect("rm");
        kek::gen_kek(&p).expect("kek2");
        assert_eq!(
            load_audit_key(&p).expect_err("wrong kek").kind,
            KeyErrorKind::Kek
        );
        std::fs::remove_file(p.kek_path()).expect("rm");
        assert_eq!(
            load_audit_key(&p).expect_err("no kek").kind,
            KeyErrorKind::Kek
        );
    }
}
