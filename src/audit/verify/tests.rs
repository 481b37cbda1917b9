//! Unit tests of [`super`] (`verify.rs`), apart to keep that file short.

use super::*;
use crate::audit::record::{Torn, encode_record, encode_recovery};
use crate::audit::testutil::sample;

fn write(lines: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("a.jsonl");
    std::fs::write(&p, lines).expect("write");
    (d, p)
}

fn chain(n: u64) -> (Vec<u8>, [u8; 32]) {
    let argv = vec![b"id".to_vec()];
    let mut out = Vec::new();
    let mut prev = GENESIS;
    for s in 1..=n {
        prev = encode_record(&mut out, &sample(&argv), s, &prev);
    }
    (out, prev)
}

fn exit_of(accept: [u8; 16], pid: u32) -> crate::audit::ExitRecord<'static> {
    crate::audit::ExitRecord {
        time: std::time::UNIX_EPOCH,
        uuid: [0x22; 16],
        host: b"host1",
        pid,
        accept,
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
    }
}

/// An exit record verifies only after the monitored accept record it
/// names, from the same process, once.
#[test]
fn exit_records_need_their_accept() {
    use crate::audit::record::encode_exit_keyed;
    let argv = vec![b"id".to_vec()];
    let mut acc = sample(&argv);
    acc.monitor = true;
    let cases: [(bool, [u8; 16], u32, usize, bool); 5] = [
        (true, acc.uuid, acc.pid, 1, true),
        (true, acc.uuid, acc.pid, 2, false),     // a second exit
        (true, [0x33; 16], acc.pid, 1, false),   // names another uuid
        (true, acc.uuid, acc.pid + 1, 1, false), // another process
        (false, acc.uuid, acc.pid, 1, false),    // accept not monitored
    ];
    for (monitored, names, pid, exits, ok) in cases {
        acc.monitor = monitored;
        let mut c = Vec::new();
        let mut prev = encode_record(&mut c, &acc, 1, &GENESIS);
        for i in 0..exits {
            prev = encode_exit_keyed(&mut c, &exit_of(names, pid), 2 + i as u64, &prev, None);
        }
        let (_d, p) = write(&c);
        assert_eq!(
            verify_file(&p).is_ok(),
            ok,
            "{}",
            String::from_utf8_lossy(&c)
        );
    }
}

#[test]
fn empty_and_simple() {
    let (_d, p) = write(b"");
    let s = verify_file(&p).expect("ok");
    assert_eq!(
        (s.records, s.recoveries, s.last_seq, s.head, s.last_epoch),
        (0, 0, 0, GENESIS, None)
    );
    let (c, head) = chain(4);
    let (_d, p) = write(&c);
    let s = verify_file(&p).expect("ok");
    assert_eq!((s.records, s.last_seq, s.head), (4, 4, head));
}

#[test]
fn timing_and_traceparent_shapes() {
    use crate::audit::chain::chain_hash;
    let argv = vec![b"id".to_vec()];
    let mut rec = sample(&argv);
    rec.timing = Some(crate::audit::timing::Timing::default());
    rec.traceparent = Some("invalid");
    let mut c = Vec::new();
    let h = encode_record(&mut c, &rec, 1, &GENESIS);
    encode_record(&mut c, &rec, 2, &h);
    let (_d, p) = write(&c);
    assert_eq!(verify_file(&p).expect("valid").records, 2);
    // A second line whose timing lost a key, re-hashed so only the
    // shape is wrong: reported at line 2.
    let text = String::from_utf8(c).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    let bad = lines[1].replacen(",\"append\":0", "", 1);
    let v = crate::audit::record::parse_object(bad.as_bytes()).expect("still JSON");
    let pf = v.iter().find(|f| f.key == b"prev").expect("prev").sep;
    let body = &bad.as_bytes()[1..pf];
    let nh = chain_hash(2, &h, body);
    let bad = format!(
        "{{{},\"prev\":\"{}\",\"h\":\"{}\"}}",
        std::str::from_utf8(body).expect("utf8"),
        hex(&h),
        hex(&nh)
    );
    let (_d, p) = write(format!("{}\n{bad}\n", lines[0]).as_bytes());
    let e = verify_file(&p).expect_err("bad timing");
    assert_eq!(e.line(), Some(2), "{e}");
    assert!(e.to_string().contains("timing"), "{e}");
}

#[test]
fn wrong_start_and_reorder() {
    let argv = vec![b"id".to_vec()];
    let mut out = Vec::new();
    encode_record(&mut out, &sample(&argv), 2, &GENESIS);
    let (_d, p) = write(&out);
    assert!(matches!(
        verify_file(&p),
        Err(VerifyError::Bad {
            line: 1,
            seq: Some(2),
            ..
        })
    ));
    // Swap lines 2 and 3.
    let (c, _) = chain(3);
    let lines: Vec<&[u8]> = c.split_inclusive(|&b| b == b'\n').collect();
    let swapped = [lines[0], lines[2], lines[1]].concat();
    let (_d, p) = write(&swapped);
    assert!(matches!(
        verify_file(&p),
        Err(VerifyError::Bad {
            line: 2,
            seq: Some(3),
            ..
        })
    ));
    // Drop line 2.
    let dropped = [lines[0], lines[2]].concat();
    let (_d, p) = write(&dropped);
    assert!(matches!(
        verify_file(&p),
        Err(VerifyError::Bad { line: 2, .. })
    ));
}

#[test]
fn garbage_in_the_middle() {
    let (c, _) = chain(3);
    let lines: Vec<&[u8]> = c.split_inclusive(|&b| b == b'\n').collect();
    let with = [lines[0], b"{\"seq\":2,\"ev\n", lines[1], lines[2]].concat();
    let (_d, p) = write(&with);
    let e = verify_file(&p).expect_err("bad");
    assert!(
        matches!(
            e,
            VerifyError::Bad {
                line: 2,
                seq: None,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains("no recovery record covers it"),
        "{e}"
    );
}

#[test]
fn forged_recovery_is_rejected() {
    let (c, head) = chain(2);
    let argv = vec![b"id".to_vec()];
    let frag = b"{\"seq\":3,\"event\":\"acc";
    let mut f = c.clone();
    f.extend_from_slice(frag);
    f.push(b'\n');
    let good = Torn {
        offset: c.len() as u64,
        length: frag.len() as u64,
        hash: *blake3::hash(frag).as_bytes(),
    };
    let t = sample(&argv).time;
    for (torn, ok) in [
        (good, true),
        (
            Torn {
                hash: [0; 32],
                ..good
            },
            false,
        ),
        (
            Torn {
                length: good.length - 1,
                ..good
            },
            false,
        ),
        (
            Torn {
                offset: good.offset + 1,
                length: good.length - 1,
                ..good
            },
            false,
        ),
    ] {
        let mut out = f.clone();
        let h = encode_recovery(&mut out, 3, &head, t, b"h", 1, &torn);
        encode_record(&mut out, &sample(&argv), 4, &h);
        let (_d, p) = write(&out);
        let r = verify_file(&p);
        assert_eq!(r.is_ok(), ok, "{torn:?}: {r:?}");
        if !ok {
            assert!(matches!(r, Err(VerifyError::Bad { .. })), "{r:?}");
        }
    }
    // A recovery may not swallow valid records.
    let mut out = c.clone();
    let lines: Vec<&[u8]> = c.split_inclusive(|&b| b == b'\n').collect();
    let whole = &c[..c.len() - 1];
    let torn = Torn {
        offset: 0,
        length: whole.len() as u64,
        hash: *blake3::hash(whole).as_bytes(),
    };
    encode_recovery(&mut out, 1, &GENESIS, t, b"h", 1, &torn);
    let (_d, p) = write(&out);
    assert!(lines.len() == 2);
    assert!(matches!(
        verify_file(&p),
        Err(VerifyError::Bad { line: 3, .. })
    ));
}

#[test]
fn unterminated_tail() {
    let (mut c, _) = chain(2);
    c.extend_from_slice(b"{\"seq\":3");
    let (_d, p) = write(&c);
    match verify_file(&p) {
        Err(VerifyError::TornTail {
            line: 3,
            length: 8,
            good,
            ..
        }) => assert_eq!(good.last_seq, 2),
        other => panic!("{other:?}"),
    }
    // A complete-looking record without its newline is still torn.
    let (c, _) = chain(2);
    let (_d, p) = write(&c[..c.len() - 1]);
    assert!(verify_file(&p).expect_err("torn").is_torn_tail());
}

#[test]
fn symlink_and_fifo_reported() {
    let (c, _) = chain(1);
    let (d, p) = write(&c);
    let l = d.path().join("link");
    std::os::unix::fs::symlink(&p, &l).expect("symlink");
    assert!(matches!(verify_file(&l), Err(VerifyError::Symlink)));
    let fifo = d.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    assert!(matches!(verify_file(&fifo), Err(VerifyError::NotRegular)));
    assert!(matches!(
        verify_file(&d.path().join("missing")),
        Err(VerifyError::Open(_))
    ));
}

#[test]
fn long_lines_stream() {
    let argv = vec![vec![b'x'; 3 << 20]];
    let mut out = Vec::new();
    let h = encode_record(&mut out, &sample(&argv), 1, &GENESIS);
    encode_record(&mut out, &sample(&argv), 2, &h);
    let (_d, p) = write(&out);
    assert_eq!(verify_file(&p).expect("ok").records, 2);
}

mod keyed {
    use super::*;
    use crate::audit::chain::{chain_hash, push_hex};
    use crate::audit::record::{encode_record_keyed, encode_seal};

    #[derive(Clone, Copy)]
    enum It {
        Plain,
        Rec(u64),
        /// A record claiming epoch .0, MAC'd with the key of epoch .1.
        Forged(u64, u64),
        Seal(u64, u64),
    }

    fn k0() -> EpochKey {
        EpochKey::new(0, [0x42; 32])
    }

    fn build(items: &[It]) -> Vec<u8> {
        let argv = vec![b"id".to_vec()];
        let mut out = Vec::new();
        let mut prev = GENESIS;
        for (i, it) in items.iter().enumerate() {
            let seq = i as u64 + 1;
            let rec = sample(&argv);
            prev = match *it {
                It::Plain => encode_record_keyed(&mut out, &rec, seq, &prev, None),
                It::Rec(e) => {
                    let k = k0().evolve_to(e).expect("k");
                    encode_record_keyed(&mut out, &rec, seq, &prev, Some(&k))
                }
                It::Forged(claim, real) => {
                    let start = out.len();
                    let kc = k0().evolve_to(claim).expect("k");
                    let h = encode_record_keyed(&mut out, &rec, seq, &prev, Some(&kc));
                    let real = k0().evolve_to(real).expect("k");
                    let line = String::from_utf8(out[start..].to_vec()).expect("utf8");
                    let good = hex(&kc.mac(&h));
                    let forged = line.replace(&good, &hex(&real.mac(&h)));
                    out.truncate(start);
                    out.extend_from_slice(forged.as_bytes());
                    h
                }
                It::Seal(e, n) => {
                    let k = k0().evolve_to(e).expect("k");
                    encode_seal(&mut out, seq, &prev, rec.time, b"h", 1, n, &k)
                }
            };
        }
        out
    }

    fn check(items: &[It], key: bool) -> Result<VerifySummary, VerifyError> {
        let (_d, p) = write(&build(items));
        let opts = VerifyOptions {
            key: key.then(k0),
            from_key_epoch_only: false,
        };
        verify_file_with(&p, &opts)
    }

    fn err(items: &[It], key: bool) -> String {
        match check(items, key) {
            Err(e) => e.to_string(),
            Ok(s) => panic!("expected an error, got {s:?}"),
        }
    }

    #[test]
    fn good_log_across_epochs() {
        use It::*;
        let items = [
            Plain,
            Rec(0),
            Rec(0),
            Seal(0, 2),
            Rec(1),
            Seal(1, 1),
            Rec(2),
        ];
        for key in [false, true] {
            let s = check(&items, key).expect("valid");
            assert_eq!(s.records, 7);
            assert_eq!(s.unauthenticated, 1);
            assert_eq!(
                (s.last_epoch, s.epoch_records, s.sealed),
                (Some(2), 1, false)
            );
            assert_eq!(s.macs_checked, if key { 6 } else { 0 });
        }
        // An epoch may be sealed with no records in it.
        check(&[Rec(0), Seal(0, 1), Seal(1, 0), Rec(2)], true).expect("empty epoch");
        // With a key, a log without MACs is not authenticated.
        assert!(matches!(
            check(&[Plain, Plain], true),
            Err(VerifyError::NotAuthenticated { records: 2 })
        ));
        check(&[], true).expect("empty log");
    }

    #[test]
    fn structural_errors_without_the_key() {
        use It::*;
        for key in [false, true] {
            let e = err(&[Rec(0), Plain], key);
            assert!(
                e.contains("line 2") && e.contains("audit key removed"),
                "{e}"
            );
            let e = err(&[Rec(0), Seal(0, 1), Rec(2)], key);
            assert!(e.contains("epoch gap"), "{e}");
            let e = err(&[Rec(0), Rec(1)], key);
            assert!(e.contains("missing seal"), "{e}");
            let e = err(&[Rec(0), Seal(0, 1), Rec(1), Rec(0)], key);
            assert!(e.contains("backwards"), "{e}");
            let e = err(&[Rec(0), Seal(0, 1), Rec(0)], key);
            assert!(e.contains("after that epoch's seal"), "{e}");
            let e = err(&[Rec(0), Rec(0), Seal(0, 1)], key);
            assert!(e.contains("counts 1 records, the log has 2"), "{e}");
        }
    }

    #[test]
    fn mac_errors_with_the_key() {
        use It::*;
        // A record MAC'd with a later epoch's key (someone holding K_1
        // inserting into epoch 0).
        let items = [Rec(0), Forged(0, 1), Seal(0, 2), Rec(1)];
        check(&items, false).expect("hashes alone cannot tell");
        let e = err(&items, true);
        assert!(e.contains("line 2") && e.contains("later epoch 1"), "{e}");
        // A log that starts at a later epoch than the key.
        check(&[Rec(1)], false).expect("structurally fine");
        let e = err(&[Rec(1)], true);
        assert!(e.contains("first MAC'd record is in epoch 1"), "{e}");
        // The wrong verification key.
        let (_d, p) = write(&build(&[Rec(0)]));
        let opts = VerifyOptions {
            key: Some(EpochKey::new(0, [1; 32])),
            from_key_epoch_only: false,
        };
        let e = verify_file_with(&p, &opts)
            .expect_err("wrong key")
            .to_string();
        assert!(e.contains("mac does not match"), "{e}");
        // Partial mode (rotate's check with K_1): epoch 0 unchecked.
        let opts = VerifyOptions {
            key: k0().evolve(),
            from_key_epoch_only: true,
        };
        let (_d, p) = write(&build(&[Rec(0), Seal(0, 1), Rec(1)]));
        assert_eq!(verify_file_with(&p, &opts).expect("ok").macs_checked, 1);
    }

    /// Rewrite `line` (without its newline) chained on `prev`: change
    /// its body with `edit`, recompute `h` by the public chain
    /// definition, keep the old `mac`. Returns the new line and `h`.
    fn rehash(line: &[u8], prev: &[u8; 32], edit: &dyn Fn(&str) -> String) -> (Vec<u8>, [u8; 32]) {
        let v = LineView::parse(line).expect("parses");
        let body = edit(std::str::from_utf8(v.body).expect("utf8"));
        let h = chain_hash(v.seq, prev, body.as_bytes());
        let mut out = b"{".to_vec();
        out.extend_from_slice(body.as_bytes());
        out.extend_from_slice(b",\"prev\":\"");
        push_hex(&mut out, prev);
        out.extend_from_slice(b"\",\"h\":\"");
        push_hex(&mut out, &h);
        out.push(b'"');
        if let Some(m) = v.mac {
            out.extend_from_slice(b",\"mac\":\"");
            out.extend_from_slice(m);
            out.push(b'"');
        }
        out.push(b'}');
        (out, h)
    }

    #[test]
    fn rehashed_without_the_key_is_detected_only_with_it() {
        use It::*;
        let log = build(&[Rec(0), Rec(0), Seal(0, 2), Rec(1)]);
        let lines: Vec<&[u8]> = log
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let mut out = Vec::new();
        let mut prev = GENESIS;
        for (i, l) in lines.iter().enumerate() {
            let edit = |b: &str| {
                if i == 1 {
                    b.replace("\"submituser\":\"alice\"", "\"submituser\":\"bob\"")
                } else {
                    b.to_string()
                }
            };
            let (nl, h) = rehash(l, &prev, &edit);
            out.extend_from_slice(&nl);
            out.push(b'\n');
            prev = h;
        }
        assert_ne!(out, log);
        let (_d, p) = write(&out);
        verify_file(&p).expect("the hash chain alone is satisfied");
        let opts = VerifyOptions {
            key: Some(k0()),
            from_key_epoch_only: false,
        };
        let e = verify_file_with(&p, &opts).expect_err("MAC catches it");
        assert!(
            matches!(
                e,
                VerifyError::Bad {
                    line: 2,
                    seq: Some(2),
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("re-hashed without the key"), "{e}");
    }
}

#[test]
fn capped_reader() {
    let data = b"abc\ndefgh\nij";
    let mut r = io::BufReader::with_capacity(2, &data[..]);
    let mut buf = Vec::new();
    let mut got = Vec::new();
    loop {
        match read_line_capped(&mut r, &mut buf, 4).expect("read") {
            LineRead::Eof => break,
            LineRead::Line {
                terminated,
                len,
                too_long,
            } => got.push((buf.clone(), terminated, len, too_long)),
        }
    }
    assert_eq!(
        got,
        vec![
            (b"abc".to_vec(), true, 3, false),
            (Vec::new(), true, 5, true),
            (b"ij".to_vec(), false, 2, false)
        ]
    );
}
