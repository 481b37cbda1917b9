//! Unit tests of [`super`] (`rotate.rs`), apart to keep that file short.

use super::*;
use crate::audit::testutil::sample;
use crate::audit::writer::{AppendOptions, append, append_to_keyed};
use std::ffi::OsString;

const T: Duration = Duration::from_secs(3);

/// A trusted directory (root-owned path, 0700) for the log: /tmp is
/// world-writable, which secure_fs refuses.
fn logdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&base).expect("target dir");
    let d = tempfile::tempdir_in(base).expect("tempdir");
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    d
}

fn name() -> OsString {
    OsString::from("audit.jsonl")
}

fn append_opts<'a>(dir: &'a Path, nm: &'a OsStr) -> AppendOptions<'a> {
    AppendOptions {
        dir,
        name: nm,
        lock_timeout: T,
        create: true,
        sync_note: None,
        sync_group: None,
        conf_dir: None,
    }
}

fn add(dir: &Path, n: usize) {
    let a = vec![b"/bin/true".to_vec()];
    let nm = name();
    for _ in 0..n {
        append(&sample(&a), &append_opts(dir, &nm)).expect("append");
    }
}

fn open_append(p: &Path) -> File {
    std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(p)
        .expect("open")
}

fn rot(dir: &Path, keep: Option<u64>) -> Rotated {
    let nm = name();
    let opts = RotateOptions {
        dir,
        name: &nm,
        keep,
        lock_timeout: T,
        journal: false,
    };
    rotate(&opts, b"host1", &|| Ok(None)).expect("rotate")
}

fn verify(dir: &Path) -> Result<VerifiedAll, VerifyAllError> {
    verify_all(&dir.join("audit.jsonl"), &VerifyOptions::default())
}

/// verify fails, naming `what`.
fn fails_with(dir: &Path, what: &str) {
    let e = verify(dir).expect_err(what);
    assert!(e.to_string().contains(what), "{e}");
}

/// Three files, one chain: 2 + close | open + 3 + close | open + 1.
fn three_files(dir: &Path) {
    add(dir, 2);
    rot(dir, None);
    add(dir, 3);
    rot(dir, None);
    add(dir, 1);
}

#[test]
fn chain_continues_across_files() {
    let d = logdir();
    three_files(d.path());
    let all = verify(d.path()).expect("valid");
    assert_eq!(all.files.len(), 2);
    // 2 + 1 close, 1 open + 3 + 1 close, 1 open + 1.
    assert_eq!(all.total.last_seq, 10);
    assert_eq!(all.total.records, 10);
    assert_eq!(all.files[0].1.last_seq, 3);
    assert_eq!(all.files[1].1.last_seq, 8);
    assert!(!all.interrupted);
    assert_eq!(all.retired_index, 0);
    // The current file alone verifies from its opening record.
    let s = crate::audit::verify_file(&d.path().join("audit.jsonl")).expect("alone");
    assert_eq!(s.last_seq, 10);
}

#[test]
fn empty_log_is_not_rotated() {
    let d = logdir();
    std::fs::write(d.path().join("audit.jsonl"), b"").expect("write");
    let nm = name();
    let opts = RotateOptions {
        dir: d.path(),
        name: &nm,
        keep: None,
        lock_timeout: T,
        journal: false,
    };
    let e = rotate(&opts, b"h", &|| Ok(None)).expect_err("empty");
    assert!(e.to_string().contains("nothing to rotate"), "{e}");
}

#[test]
fn missing_middle_file_is_named() {
    let d = logdir();
    three_files(d.path());
    rot(d.path(), None);
    std::fs::remove_file(d.path().join("audit.jsonl.2")).expect("rm");
    fails_with(d.path(), "audit.jsonl.2 missing");
}

#[test]
fn newest_rotated_file_missing_is_named() {
    let d = logdir();
    three_files(d.path());
    std::fs::remove_file(d.path().join("audit.jsonl.2")).expect("rm");
    fails_with(d.path(), "audit.jsonl.2 missing");
}

#[test]
fn all_rotated_files_missing_without_retention() {
    let d = logdir();
    three_files(d.path());
    std::fs::remove_file(d.path().join("audit.jsonl.1")).expect("rm");
    std::fs::remove_file(d.path().join("audit.jsonl.2")).expect("rm");
    fails_with(
        d.path(),
        "audit.jsonl.2 which is missing (no retention recorded)",
    );
}

#[test]
fn swapped_files_are_named() {
    let d = logdir();
    three_files(d.path());
    let p1 = d.path().join("audit.jsonl.1");
    let p2 = d.path().join("audit.jsonl.2");
    let tmp = d.path().join("swap");
    std::fs::rename(&p1, &tmp).expect("mv");
    std::fs::rename(&p2, &p1).expect("mv");
    std::fs::rename(&tmp, &p2).expect("mv");
    fails_with(d.path(), "renamed or reordered");
}

#[test]
fn altered_rotated_file_is_named() {
    let d = logdir();
    three_files(d.path());
    let p = d.path().join("audit.jsonl.1");
    let b = std::fs::read(&p).expect("read");
    let s = String::from_utf8(b)
        .expect("utf8")
        .replacen("alice", "alicf", 1);
    std::fs::write(&p, s).expect("write");
    let e = verify(d.path()).expect_err("altered");
    let m = e.to_string();
    assert!(
        m.contains("audit.jsonl.1") && m.contains("does not match"),
        "{m}"
    );
}

#[test]
fn records_appended_to_a_rotated_file_are_found() {
    let d = logdir();
    three_files(d.path());
    // A writer that ignored the closing record would chain after it.
    let p = d.path().join("audit.jsonl.1");
    let f = open_append(&p);
    let a = vec![b"/bin/true".to_vec()];
    let e = append_to_keyed(&f, &p, &sample(&a), T, None).expect_err("rotated");
    assert!(e.is_rotated(), "{e}");
}

#[test]
fn retention_is_told_from_tampering() {
    let d = logdir();
    three_files(d.path());
    rot(d.path(), None);
    add(d.path(), 2);
    let r = rot(d.path(), Some(2));
    assert_eq!(r.rotated_to, d.path().join("audit.jsonl.4"));
    assert_eq!(
        r.deleted,
        vec![
            d.path().join("audit.jsonl.1"),
            d.path().join("audit.jsonl.2")
        ]
    );
    add(d.path(), 1);
    let all = verify(d.path()).expect("retention is not tampering");
    assert_eq!(all.retired_index, 2);
    assert_eq!(all.files.len(), 2);
    let cur = std::fs::read(d.path().join("audit.jsonl")).expect("read");
    let first = cur.split(|&b| b == b'\n').next().expect("line");
    let shown = crate::audit::show::human(&LineView::parse(first).expect("parse"));
    assert!(
        shown.contains("rotate: file opened after .4 (retention: rotated files up to .2 deleted"),
        "{shown}"
    );
    // Deleting one more by hand is not retention.
    std::fs::remove_file(d.path().join("audit.jsonl.3")).expect("rm");
    fails_with(
        d.path(),
        "missing (retention deleted only up to audit.jsonl.2)",
    );
}

#[test]
fn retention_without_its_file_still_rotates() {
    let d = logdir();
    three_files(d.path());
    std::fs::remove_file(d.path().join("audit.jsonl.2")).expect("rm");
    let r = rot(d.path(), Some(1));
    assert!(r.deleted.is_empty(), "{r:?}");
    let why = r.retention_skipped.expect("skipped");
    assert!(why.contains("audit.jsonl.2"), "{why}");
    add(d.path(), 1);
    // The file deleted by hand is still reported.
    fails_with(d.path(), "audit.jsonl.2 missing");
}

#[test]
fn retention_record_cannot_be_bent() {
    // The oldest file present must link to the recorded head: a
    // different file put in its place is reported.
    let d = logdir();
    three_files(d.path());
    rot(d.path(), Some(1));
    let e = d.path().join("audit.jsonl.3");
    let other = logdir();
    three_files(other.path());
    rot(other.path(), None);
    std::fs::copy(other.path().join("audit.jsonl.3"), &e).expect("cp");
    let err = verify(d.path()).expect_err("foreign file");
    assert!(err.to_string().contains("audit.jsonl"), "{err}");
}

#[test]
fn writer_holding_the_old_file_reopens() {
    let d = logdir();
    add(d.path(), 1);
    let p = d.path().join("audit.jsonl");
    let old = open_append(&p);
    rot(d.path(), None);
    let a = vec![b"/bin/true".to_vec()];
    // The old fd sees the closing record under the lock...
    assert!(
        append_to_keyed(&old, &p, &sample(&a), T, None)
            .expect_err("rotated")
            .is_rotated()
    );
    // ... and append (by path) writes to the new file.
    add(d.path(), 1);
    let all = verify(d.path()).expect("valid");
    assert_eq!(all.total.last_seq, 4);
}

#[test]
fn interrupted_after_close_resumes() {
    let d = logdir();
    add(d.path(), 2);
    // The closing record alone, as a rotation killed after step 1.
    let p = d.path().join("audit.jsonl");
    let f = open_append(&p);
    let size = f.metadata().expect("md").len();
    let item = Item::Rotate {
        time: SystemTime::now(),
        host: b"h",
        pid: 1,
        rotation: Rotation {
            close: true,
            index: 1,
            retired_index: 0,
            retired_seq: 0,
            retired_head: [0; 32],
        },
    };
    let plan = plan_item(&f, &p, size, item, None, None, None).expect("plan");
    write_plan(&f, &p, size, &plan).expect("write");
    let all = verify(d.path()).expect("interrupted rotation verifies");
    assert!(all.interrupted);
    // Writers refuse (never chain after a closing record).
    let nm = name();
    let a = vec![b"/bin/true".to_vec()];
    let e = append(&sample(&a), &append_opts(d.path(), &nm)).expect_err("interrupted");
    assert!(e.to_string().contains("interrupted rotation"), "{e}");
    let r = rot(d.path(), None);
    assert!(r.resumed);
    assert_eq!(r.close_seq, 3);
    add(d.path(), 1);
    let all = verify(d.path()).expect("valid");
    assert_eq!(all.total.last_seq, 5);
    assert!(!all.interrupted);
}

#[test]
fn mac_epochs_continue_across_files() {
    let d = logdir();
    let k0 = EpochKey::new(0, [7; 32]);
    let p = d.path().join("audit.jsonl");
    let a = vec![b"/bin/true".to_vec()];
    let put = |k: &EpochKey| {
        let f = open_append(&p);
        append_to_keyed(&f, &p, &sample(&a), T, Some(k)).expect("append");
    };
    put(&k0);
    put(&k0);
    let nm = name();
    let opts = RotateOptions {
        dir: d.path(),
        name: &nm,
        keep: None,
        lock_timeout: T,
        journal: false,
    };
    let kc = k0.clone();
    rotate(&opts, b"h", &|| Ok(Some(kc.clone()))).expect("rotate");
    put(&k0);
    let vo = VerifyOptions {
        key: Some(k0.clone()),
        from_key_epoch_only: false,
    };
    let all = verify_all(&p, &vo).expect("keyed");
    assert_eq!(all.total.macs_checked, 5);
    // A wrong key fails in the rotated file.
    let bad = VerifyOptions {
        key: Some(EpochKey::new(0, [8; 32])),
        from_key_epoch_only: false,
    };
    let e = verify_all(&p, &bad).expect_err("wrong key");
    assert!(e.to_string().contains("audit.jsonl.1"), "{e}");
}

/// A monitored command whose accept record is in a rotated file and
/// whose exit record is in the next one.
#[test]
fn exit_record_after_a_rotation() {
    use crate::audit::writer::append_exit;
    let d = logdir();
    let nm = name();
    let a = vec![b"/bin/true".to_vec()];
    let mut acc = sample(&a);
    acc.monitor = true;
    append(&acc, &append_opts(d.path(), &nm)).expect("accept");
    rot(d.path(), None);
    let exit = crate::audit::ExitRecord {
        time: SystemTime::UNIX_EPOCH,
        uuid: [0x22; 16],
        host: b"host1",
        pid: acc.pid,
        accept: acc.uuid,
        outcome: crate::audit::Outcome::Signal("TERM"),
        core_dumped: false,
        timed_out: false,
        duration_us: 1,
        maxrss_kb: 2,
        utime_us: 3,
        stime_us: 4,
        traceparent: None,
        recording: None,
        recording_error: None,
        exec_refused: None,
    };
    append_exit(&exit, &append_opts(d.path(), &nm)).expect("exit");
    verify(d.path()).expect("the exit finds its accept in audit.jsonl.1");
    // The current file alone: its accept is before the opening record.
    crate::audit::verify_file(&d.path().join("audit.jsonl")).expect("alone");
    // A second exit for it is still caught across files.
    append_exit(&exit, &append_opts(d.path(), &nm)).expect("exit 2");
    fails_with(d.path(), "exit record names no earlier accept");
}

/// An append-only log cannot be linked or renamed: rotation fails
/// before writing anything, and the log keeps working.
#[test]
fn append_only_log_is_refused_untouched() {
    let d = logdir();
    add(d.path(), 1);
    let p = d.path().join("audit.jsonl");
    let chattr = |flag: &str| {
        std::process::Command::new("chattr")
            .arg(flag)
            .arg(&p)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !chattr("+a") {
        eprintln!("SKIPPED: chattr +a not supported here");
        return;
    }
    let before = std::fs::read(&p).expect("read");
    let nm = name();
    let opts = RotateOptions {
        dir: d.path(),
        name: &nm,
        keep: None,
        lock_timeout: T,
        journal: false,
    };
    let e = rotate(&opts, b"h", &|| Ok(None)).expect_err("append-only");
    let after = std::fs::read(&p).expect("read");
    add(d.path(), 1);
    assert!(chattr("-a"), "chattr -a");
    assert!(e.to_string().contains("append-only"), "{e}");
    assert_eq!(before, after, "nothing written");
    assert_eq!(verify(d.path()).expect("valid").total.last_seq, 2);
}

#[test]
fn rotated_names() {
    let n = OsStr::new("audit.jsonl");
    assert_eq!(rotated_index(n, OsStr::new("audit.jsonl.12")), Some(12));
    for bad in [
        "audit.jsonl.0",
        "audit.jsonl.01",
        "audit.jsonl.",
        "audit.jsonl.next",
        "audit.jsonl.1x",
        "audit.jsonl",
    ] {
        assert_eq!(rotated_index(n, OsStr::new(bad)), None, "{bad}");
    }
}
