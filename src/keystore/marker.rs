//! The epoch marker (`/var/lib/belladonna/key-epoch`): the highest epoch
//! seen per key id. A key below its recorded epoch is refused on load and
//! on rotate (rollback); a damaged marker is an error, never a reset.
#![forbid(unsafe_code)]

use super::EPOCH_MARKER_NAME;
use super::format::{KeyError, KeyErrorKind, with_path};
use super::store::{KeyPaths, write_atomic};
use crate::base::secure_fs::{FileOwner, ModeRule, PrivateError, PrivateRead, read_private_at};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::path::Path;

const MARKER_MAGIC: &str = "belladonna-key-epoch v1";
/// Largest epoch marker read.
const MARKER_MAX: u64 = 64 * 1024;

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
            crate::base::hex::encode(sum.as_bytes())
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
        let want = crate::base::hex::decode::<32>(
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
    let rules = PrivateRead {
        owner: FileOwner::Uid(paths.owner),
        mode: ModeRule::Forbid(0o022),
        single_link: false,
        max_len: MARKER_MAX,
    };
    let buf = match read_private_at(dir.as_fd(), OsStr::new(EPOCH_MARKER_NAME), &rules) {
        Ok((buf, _)) => buf,
        Err(e) if e.is_not_found() => return Ok(EpochMarker::default()),
        Err(PrivateError::Symlink) => {
            return Err(KeyError::new(
                KeyErrorKind::Symlink,
                Some(&shown),
                "is a symbolic link (refused)",
            ));
        }
        Err(PrivateError::Io {
            op, errno: Some(e), ..
        }) if op != "read" => return Err(KeyError::io(&shown, op, e)),
        Err(PrivateError::Io { op, err, .. }) => {
            return Err(KeyError::new(
                KeyErrorKind::Io,
                Some(&shown),
                format!("{op}: {err}"),
            ));
        }
        Err(PrivateError::TooLarge) => {
            return Err(KeyError::new(
                KeyErrorKind::Marker,
                Some(&shown),
                format!(
                    "epoch marker is damaged: longer than {MARKER_MAX} bytes (refusing: a reset \
                     would allow a key rollback)"
                ),
            ));
        }
        Err(_) => {
            return Err(KeyError::new(
                KeyErrorKind::Permissions,
                Some(&shown),
                "must be a regular file owned by root, not writable by group or others",
            ));
        }
    };
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

/// Refuse `epoch` when the marker records a later one for `id`; the
/// recorded epoch otherwise.
pub fn check_epoch(paths: &KeyPaths, id: &str, epoch: u64, shown: &Path) -> Result<u64, KeyError> {
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
