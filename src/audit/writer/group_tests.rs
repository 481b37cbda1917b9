//! Unit tests of group commit ([`super::group`]) through the writer.

use super::group::{Group, State, ident};
use super::tests::open;
use super::*;
use crate::audit::AuditErrorKind;
use crate::audit::testutil::sample;
use crate::audit::verify::verify_file;
use std::time::Instant;

const T: Duration = Duration::from_secs(30);

fn put(log: &Path, group: &Path, word: &str) -> Result<Appended, AuditError> {
    let a = vec![b"worker".to_vec(), word.as_bytes().to_vec()];
    append_inner(
        &open(log),
        log,
        Item::Record(&sample(&a)),
        T,
        &|| Ok(None),
        Instant::now(),
        SyncFiles {
            note: None,
            group: Some(group),
        },
    )
}

/// Concurrent writers through the group file keep one valid chain, and
/// the group file ends covering the whole log.
#[test]
fn concurrent_group_commit_keeps_one_chain() {
    let d = tempfile::tempdir().expect("tempdir");
    let log = d.path().join("audit.jsonl");
    let group = d.path().join("audit-synced");
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let (log, group) = (log.clone(), group.clone());
            std::thread::spawn(move || {
                for i in 0..40 {
                    put(&log, &group, &format!("{t}-{i}")).expect("append");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let s = verify_file(&log).expect("valid");
    assert_eq!((s.records, s.last_seq), (240, 240));
    let Some(id) = ident(&open(&log)) else {
        crate::base::testhook::skipped(
            "concurrent_group_commit_keeps_one_chain",
            "no birth time: the group file is not used",
        );
        return;
    };
    let st = Group::open(&group)
        .and_then(|g| g.read())
        .expect("group state");
    assert_eq!(st.id, id);
    assert!(!st.failed);
    assert_eq!(
        st.synced,
        std::fs::metadata(&log).expect("stat").len(),
        "the last sync covers the whole log"
    );
}

/// After a failed fdatasync (recorded in the group file) nothing more is
/// appended to that file, not even by a fresh writer; a new file with
/// another identity (rotation) is written again.
#[test]
fn failed_sync_is_never_retried_on_the_same_file() {
    let d = tempfile::tempdir().expect("tempdir");
    let log = d.path().join("audit.jsonl");
    let group = d.path().join("audit-synced");
    put(&log, &group, "first").expect("append");
    let Some(id) = ident(&open(&log)) else {
        crate::base::testhook::skipped(
            "failed_sync_is_never_retried_on_the_same_file",
            "no birth time: the group file is not used",
        );
        return;
    };
    let g = Group::open(&group).expect("group");
    let before = std::fs::read(&log).expect("read");
    g.write(&State {
        id,
        synced: 0,
        failed: true,
    })
    .expect("poison");
    let e = put(&log, &group, "second").expect_err("refused");
    assert_eq!(e.kind(), AuditErrorKind::Sync);
    assert!(e.to_string().contains("never retried"), "{e}");
    assert_eq!(
        std::fs::read(&log).expect("read"),
        before,
        "nothing appended"
    );
    // Rotated away: a new file is another identity.
    std::fs::rename(&log, d.path().join("audit.jsonl.1")).expect("rename");
    put(&log, &group, "third").expect("new file");
    verify_file(&log).expect("valid");
    let st = g.read().expect("state");
    assert!(!st.failed && st.id != id);
}

/// A group file that is not ours (a symlink, group-writable) is ignored:
/// the writer syncs under the log lock as without group commit.
#[test]
fn untrusted_group_file_is_ignored() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().expect("tempdir");
    let log = d.path().join("audit.jsonl");
    let group = d.path().join("audit-synced");
    std::os::unix::fs::symlink("/etc/hostname", &group).expect("symlink");
    assert!(Group::open(&group).is_none());
    put(&log, &group, "a").expect("append");
    std::fs::remove_file(&group).expect("rm");
    std::fs::write(&group, b"").expect("create");
    std::fs::set_permissions(&group, std::fs::Permissions::from_mode(0o620)).expect("chmod");
    assert!(Group::open(&group).is_none());
    put(&log, &group, "b").expect("append");
    assert_eq!(std::fs::read(&group).expect("read"), b"", "not written");
    verify_file(&log).expect("valid");
}

/// Not a test: the durable write alone, 4 threads x 100 appends, with the
/// sync group file (group commit) and without it (fdatasync under the log
/// lock), alternating rounds, on the disk under /var/tmp. Run with
/// `cargo test --release --lib group_commit_timing -- --ignored --nocapture`.
#[test]
#[ignore = "a timing measurement, not a test: run by hand with --ignored --nocapture"]
fn group_commit_timing() {
    use std::time::Instant;
    let d = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let group = d.path().join("audit-synced");
    let mut res: [(Vec<f64>, f64, usize); 2] = Default::default();
    for round in 0..6 {
        for k in [round % 2, 1 - round % 2] {
            let log = d.path().join(format!("audit-{round}-{k}.jsonl"));
            let g = (k == 0).then(|| group.clone());
            let t0 = Instant::now();
            let threads: Vec<_> = (0..4)
                .map(|t| {
                    let (log, g) = (log.clone(), g.clone());
                    std::thread::spawn(move || {
                        let a = vec![b"worker".to_vec(), format!("{t}").into_bytes()];
                        (0..100)
                            .map(|_| {
                                let t = Instant::now();
                                append_inner(
                                    &open(&log),
                                    &log,
                                    Item::Record(&sample(&a)),
                                    T,
                                    &|| Ok(None),
                                    Instant::now(),
                                    SyncFiles {
                                        note: None,
                                        group: g.as_deref(),
                                    },
                                )
                                .expect("append");
                                t.elapsed().as_secs_f64()
                            })
                            .collect::<Vec<f64>>()
                    })
                })
                .collect();
            for th in threads {
                res[k].0.extend(th.join().expect("thread"));
            }
            res[k].1 += t0.elapsed().as_secs_f64();
            res[k].2 += 400;
        }
    }
    for (k, (lat, wall, n)) in res.iter_mut().enumerate() {
        lat.sort_by(f64::total_cmp);
        let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)] * 1e3;
        println!(
            "{}: {n} appends, {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
            if k == 0 {
                "group commit"
            } else {
                "inline sync "
            },
            *n as f64 / *wall,
            p(0.5),
            p(0.99)
        );
    }
}
