//! The key store: the one on-disk format of every key file, where host
//! keys live and how they are read and written, the epoch marker, and the
//! optional KEK (file or TPM) that wraps host secrets. It sits below both
//! `audit` (the audit MAC key's lifecycle, `audit::key`) and `auth` (the
//! approvers' keys, `auth::keys`) and imports neither, so the audit writer
//! can load its key without reaching into `auth`. See `docs/keys.md` and
//! `docs/decisions.md` ("House layout: auth and audit").
//!
//! A key file is refused with a clear error when it is empty, longer than
//! [`MAX_KEY_FILE`], truncated or damaged (the checksum does not match),
//! of the wrong type or length, group/world-accessible, owned by the
//! wrong user, not a regular file, or a symlink; a key whose epoch is
//! below the one recorded in the epoch marker
//! (`/var/lib/belladonna/key-epoch`) is refused on load and on rotate.
#![forbid(unsafe_code)]

pub mod format;
pub mod info;
pub mod kek;
pub mod marker;
pub mod store;
#[cfg(feature = "belladonna_tpm_real")]
pub mod tpm;

pub use format::{
    AUDIT_ID, AUDIT_KEY_NAME, EPOCH_MARKER_NAME, KEK_NAME, KEYS_DIR, KeyError, KeyErrorKind,
    KeyFile, KeyType, MAX_KEY_FILE, valid_name,
};
pub use info::{KeyInfo, describe, fingerprint32, parse_public_key, public_key_string};
pub use marker::{EpochMarker, bump_marker, check_epoch, read_marker};
pub use store::{KeyPaths, Owner, read_key_at, read_key_path, write_atomic};

#[cfg(test)]
pub(crate) mod testutil {
    use super::{KeyError, KeyErrorKind, KeyPaths};
    use std::fmt;
    use std::os::unix::fs::PermissionsExt;

    /// The kind of the error `r` must be (its message one line).
    pub(crate) fn kind(r: Result<impl fmt::Debug, KeyError>) -> KeyErrorKind {
        match r {
            Err(e) => {
                assert!(!e.to_string().contains('\n'), "{e}");
                e.kind
            }
            Ok(v) => panic!("expected an error, got {v:?}"),
        }
    }

    /// Replace key file `name` in `p`'s key directory with `data`, `mode`.
    pub(crate) fn put(p: &KeyPaths, name: &str, data: &[u8], mode: u32) {
        let path = p.keys_dir.join(name);
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, data).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    /// A private key directory and lib directory owned by the test user.
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
}
