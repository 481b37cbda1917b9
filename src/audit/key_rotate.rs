//! `bdctl key rotate --audit`: seal the current epoch in the log and
//! replace the audit key `K_e` by `K_{e+1}` under the writer's lock.
//!
//! Apart from [`super::key`] because it drives the writer
//! ([`super::writer::append_sealed_rotation`]) while the writer loads its
//! key through `key`: keeping the two apart keeps the imports one-way.
#![forbid(unsafe_code)]

use super::key::{audit_key_from, install_audit_key};
use crate::keystore::format::with_path;
use crate::keystore::{
    AUDIT_ID, AUDIT_KEY_NAME, KeyError, KeyErrorKind, KeyInfo, KeyPaths, KeyType, bump_marker,
};
use nix::fcntl::OFlag;
use std::os::fd::AsFd;

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
        crate::base::secure_fs::ensure_trusted_dir(log.dir, 0o700)
    } else {
        crate::base::secure_fs::open_trusted_dir(log.dir)
    }
    .map_err(|e| KeyError::new(KeyErrorKind::Other, Some(&logshown), e.to_string()))?;
    let mut flags = OFlag::O_RDWR | OFlag::O_APPEND;
    if log.create {
        flags |= OFlag::O_CREAT;
    }
    let (file, _) =
        crate::base::secure_fs::open_trusted_file(ldir.as_fd(), log.name, &logshown, flags, 0o600)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::key::{gen_audit_key, load_audit_key};
    use crate::keystore::read_marker;
    use crate::keystore::testutil::{kind, put, tpaths};

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
            sync_group: None,
            conf_dir: None,
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
}
