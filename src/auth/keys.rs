//! Approvers' Ed25519 keys: `bdctl key gen|rotate --approver`, reading
//! an approver's private key for `bdctl token sign` and public keys, the
//! approver epoch check; `bdctl key show|verify`.
//!
//! The key file format, the epoch marker and the store live in
//! [`crate::keystore`]; the audit key's lifecycle in [`crate::audit::key`].
#![forbid(unsafe_code)]

use crate::keystore::format::with_path;
use crate::keystore::store::{exists_at, open_dir_plain, random32};
use crate::keystore::{
    AUDIT_ID, AUDIT_KEY_NAME, KeyError, KeyErrorKind, KeyFile, KeyInfo, KeyPaths, KeyType,
    bump_marker, check_epoch, describe, fingerprint32, kek, public_key_string, read_key_path,
    read_marker, write_atomic,
};
use crate::policy::names::is_approver_name;
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::ffi::OsStr;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use zeroize::Zeroizing;

/// The approver-name rule, re-exported for `policy::parse` (which h9b
/// gives its own name rules); the rule itself is [`crate::keystore::valid_name`].
pub use crate::keystore::valid_name;

// ---------------------------------------------------------------------
// Approver keys
// ---------------------------------------------------------------------

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
        kek::unwrap(paths, dir.as_fd(), &kf).map_err(|e| with_path(e, file))?;
    }
    Ok(describe(file, &kf))
}

// ---------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::key::{gen_audit_key, read_verify_key};
    use crate::keystore::parse_public_key;
    use crate::keystore::testutil::{kind, tpaths};

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
