use super::*;

const DEBIAN: &str = "# /etc/nsswitch.conf\n\npasswd:         files systemd\n\
group:          files systemd\nshadow:         files systemd\ngshadow:        files systemd\n\n\
hosts:          files dns\n";

#[test]
fn debians_nsswitch_memoises_root_only() {
    assert!(files_only(DEBIAN, "root"));
    // nss-systemd may extend any other user's list (userdb, homed).
    for user in ["alice", "nobody", "postgres", "rooty"] {
        assert!(!files_only(DEBIAN, user), "{user}");
    }
}

#[test]
fn files_alone_memoises_anyone() {
    let conf = "passwd: files\ngroup: files\n";
    assert!(files_only(conf, "root"));
    assert!(files_only(conf, "alice"));
}

#[test]
fn other_sources_actions_and_unknown_lines_ask_nss() {
    for conf in [
        // A directory service may add groups to anyone, root included.
        "group: files sss\n",
        "group: files ldap\n",
        "group: sss files\n",
        "group: files systemd winbind\n",
        // An action changes how the sources combine.
        "group: files [SUCCESS=merge] systemd\n",
        "group: files [NOTFOUND=return]\n",
        "group: [SUCCESS=return] files\n",
        // systemd before the files: its answer is not the files'.
        "group: systemd files\n",
        // compat reads NIS lines of /etc/group.
        "group: compat\n",
        // No line: glibc's default is not guessed at; two lines neither.
        "passwd: files\n",
        "group: files\ngroup: files sss\n",
        // initgroups answers the list when present.
        "group: files\ninitgroups: files sss\n",
        "group: files\ninitgroups: files\ninitgroups: files\n",
        "group: files sss\ninitgroups: files\n",
    ] {
        assert!(!files_only(conf, "root"), "{conf:?}");
    }
    // A commented-out source is not a source; an initgroups line of the
    // files alone is fine.
    assert!(files_only("group: files # sss\n", "root"));
    assert!(files_only("#group: sss\ngroup: files\n", "root"));
    assert!(files_only("group: files\ninitgroups: files\n", "root"));
}

fn sample(ctime: i128) -> Stamp {
    Stamp {
        path: b"/etc/group".to_vec(),
        dev: 1,
        ino: 2,
        size: 700,
        mtime: ctime,
        ctime,
        fs: 0xEF53,
    }
}

#[test]
fn the_key_covers_every_input() {
    let build = [7u8; 32];
    let base = key(&build, "root", 0, &[sample(10)]);
    assert_eq!(base, key(&build, "root", 0, &[sample(10)]));
    assert_ne!(base, key(&[8u8; 32], "root", 0, &[sample(10)]));
    assert_ne!(base, key(&build, "toor", 0, &[sample(10)]));
    assert_ne!(base, key(&build, "root", 1, &[sample(10)]));
    assert_ne!(base, key(&build, "root", 0, &[sample(11)]));
    let mut bigger = sample(10);
    bigger.size += 1;
    assert_ne!(base, key(&build, "root", 0, &[bigger]));
    // The name is length-prefixed: ("ro", gid) and ("r", ...) never meet.
    assert_ne!(key(&build, "ro", 0, &[]), key(&build, "r", 0, &[]));
}

#[test]
fn entries_round_trip_and_garbage_is_nothing() {
    let entries = vec![
        Entry {
            key: [1; 32],
            groups: vec![(0, "root".into()), (4, "adm".into())],
        },
        Entry {
            key: [2; 32],
            groups: vec![(0, "root".into())],
        },
    ];
    let blob = encode(&entries);
    assert_eq!(decode(&blob), Some(entries.clone()));
    assert_eq!(decode(&[]), Some(Vec::new()));
    // Every cut inside an entry is refused, never half-read; a cut
    // between entries is a shorter whole memo.
    let first = encode(&entries[..1]).len();
    for cut in 1..blob.len() {
        let want = (cut == first).then(|| entries[..1].to_vec());
        assert_eq!(decode(&blob[..cut]), want, "cut at {cut}");
    }
    // A count of zero or beyond the limit, a name that is not UTF-8.
    let mut zero = vec![0u8; 32];
    zero.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(decode(&zero), None);
    let mut huge = vec![0u8; 32];
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(decode(&huge), None);
    let mut bad = vec![0u8; 32];
    bad.extend_from_slice(&1u32.to_le_bytes());
    bad.extend_from_slice(&0u32.to_le_bytes());
    bad.extend_from_slice(&[2, 0xff, 0xfe]);
    assert_eq!(decode(&bad), None);
}

#[test]
fn only_whole_answers_are_storable() {
    assert!(storable(&[(0, "root".into())]));
    assert!(!storable(&[]));
    assert!(!storable(&[(0, String::new())]));
    assert!(!storable(&[(0, "x".repeat(256))]));
    assert!(storable(&[(0, "x".repeat(255))]));
}
