//! bdexec's reading of passwd and shadow text against glibc's own
//! (`fgetpwent_r`, `fgetspent_r`: the `files` source's reader and parser).
use super::{
    check_group_lookups, check_lookups, find_group, find_passwd, find_shadow, group,
    group_as_glibc, group_list, passwd, passwd_as_glibc as ours_pw, shadow,
    shadow_as_glibc as ours_sp,
};
use crate::sys::nss::{glibc_group, glibc_passwd, glibc_shadow};

/// When bdexec reads `text`, glibc reads the same entries: whether
/// bdexec read it as passwd, and as shadow.
fn agree(text: &[u8]) -> (bool, bool) {
    fn same<T: PartialEq + std::fmt::Debug>(
        ours: Option<T>,
        glibc: nix::Result<T>,
        text: &[u8],
    ) -> bool {
        let Some(ours) = ours else { return false };
        assert_eq!(Ok(ours), glibc, "{:?}", String::from_utf8_lossy(text));
        true
    }
    let (pw, sp) = (glibc_passwd(text), glibc_shadow(text));
    if let (Ok(pw), Ok(sp)) = (&pw, &sp) {
        let lookups = check_lookups(text, pw, sp);
        assert_eq!(lookups, Ok(()), "{:?}", String::from_utf8_lossy(text));
    }
    (same(ours_pw(text), pw, text), same(ours_sp(text), sp, text))
}

const DEBIAN_PASSWD: &str = "root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin
messagebus:x:100:107::/nonexistent:/usr/sbin/nologin
alice:x:1000:1000:Alice Liddell,,,,Ã©:/home/alice:/bin/bash
svc.web-1:x:1001:1001::/srv/web:/bin/sh
machine$:x:1002:1002::/nonexistent:/usr/sbin/nologin
";

const DEBIAN_SHADOW: &str = "root:*:19700:0:99999:7:::
daemon:*:19700:0:99999:7:::
nobody:*:19700:0:99999:7:::
alice:$y$j9T$abc$def:20000:0:99999:7:::
old:!:19000:0:99999:7::19001:
gone:*:19000::::::
";

#[test]
fn a_stock_host_is_read_as_glibc_reads_it() {
    let (pw, _) = agree(DEBIAN_PASSWD.as_bytes());
    assert!(pw, "Debian's passwd lines are clean");
    let (_, sp) = agree(DEBIAN_SHADOW.as_bytes());
    assert!(sp, "Debian's shadow lines are clean");
    let e = passwd(DEBIAN_PASSWD.as_bytes()).unwrap_or_default();
    assert_eq!(e.len(), 11);
    assert_eq!(
        (e[0].name, e[0].uid, e[0].shell),
        ("root", 0, &b"/bin/bash"[..])
    );
    let s = shadow(DEBIAN_SHADOW.as_bytes()).unwrap_or_default();
    let expire: Vec<_> = s.iter().map(|e| (e.name, e.expire)).collect();
    assert_eq!(
        expire,
        [
            ("root", -1),
            ("daemon", -1),
            ("nobody", -1),
            ("alice", -1),
            ("old", 19001),
            ("gone", -1)
        ]
    );
    // Comments in the first column, blank lines and a last line without
    // its newline are read alike.
    let text = b"# local\n\nroot:x:0:0:root:/root:/bin/bash\n\n#x:x:1:1:::\nbob:x:7:7:::";
    assert_eq!(agree(text), (true, false));
    assert_eq!(passwd(text).map(|e| e.len()), Some(2));
    assert_eq!(agree(b""), (true, true));
}

#[test]
fn what_glibc_reads_another_way_is_left_to_glibc() {
    for text in [
        // Leading white space: glibc strips it.
        " root:x:0:0:root:/root:/bin/bash\n",
        "\troot:x:0:0:root:/root:/bin/bash\n",
        "  \n",
        // NIS compat entries (glibc leaves their fields NULL).
        "+\n",
        "+\n.:::\x0e",
        "-\n",
        "+:::::::\n",
        "+alice:x:1:1:::\n",
        "-bob:x:1:1:::\n",
        // Numbers strtoul reads its own way.
        "a:x:-1:0:::\n",
        "a:x:+1:0:::\n",
        "a:x: 1:0:::\n",
        "a:x:4294967296:0:::\n",
        "a:x:1x:0:::\n",
        "a:x::0:::\n",
        // The shell is the rest of the line; a short line.
        "a:x:1:1::/:/bin/sh:more\n",
        "a:x:1:1::/\n",
        // Control characters.
        "a:x:1:1:\r:/:/bin/sh\n",
        "a:x:1:1::/:/bin/sh\r\n",
        "a:x:1:1:\0:/:/bin/sh\n",
        "\0a:x:1:1::/:/bin/sh\n",
        // Names outside the plain form.
        "a b:x:1:1::/:/bin/sh\n",
        ":x:1:1::/:/bin/sh\n",
        ".a:x:1:1::/:/bin/sh\n",
        "Ã©:x:1:1::/:/bin/sh\n",
    ] {
        assert_eq!(
            passwd(text.as_bytes()),
            None,
            "{text:?} must be left to glibc"
        );
        agree(text.as_bytes());
    }
    // One odd line anywhere leaves the whole file to glibc.
    let mixed = format!("{DEBIAN_PASSWD} root:x:0:0:::\n");
    assert_eq!(passwd(mixed.as_bytes()), None);
    for text in [
        // The old short form, a number glibc cuts to an int, a sign.
        "a:*:1:0:99999\n",
        "a:*:1:0:99999:7::4294967297:\n",
        "a:*:1:0:99999:7::1234567890:\n",
        "a:*:1:0:99999:7::-1:\n",
        "a:*:1:0:99999:7:: 5:\n",
        "a:*:1:0:99999:7::5:1:extra\n",
        "+a:*:1:0:99999:7:::\n",
    ] {
        assert_eq!(shadow(text.as_bytes()), None, "{text:?}");
        agree(text.as_bytes());
    }
}

/// Every file of up to two lines from pieces that probe glibc's parser:
/// wherever bdexec reads one, glibc reads the same entries.
#[test]
fn glibc_agrees_on_every_combination() {
    let names = ["root", "a", " a", "+a", "-a", "#a", "", "a.b", "a b", "9"];
    let numbers = [
        "0",
        "",
        "-1",
        "+1",
        " 1",
        "01",
        "4294967295",
        "4294967296",
        "1x",
        "999999999",
    ];
    let tails = ["", ":", ":x", "\r"];
    let ends = ["\n", ""];
    let mut lines = Vec::new();
    for n in names {
        for u in numbers {
            for t in tails {
                lines.push(format!("{n}:x:{u}:{u}:g:/h:/bin/sh{t}"));
                lines.push(format!("{n}:*:{u}:{u}:{u}:7::{u}:{t}"));
            }
        }
    }
    let (mut pw, mut sp) = (0, 0);
    for a in &lines {
        for e in ends {
            let (p, s) = agree(format!("{a}{e}").as_bytes());
            pw += usize::from(p);
            sp += usize::from(s);
        }
    }
    for (a, b) in lines.iter().zip(lines.iter().rev()).step_by(7) {
        agree(format!("{a}\n{b}\n").as_bytes());
    }
    // The check is not vacuous: many of these are read.
    assert!(pw > 30 && sp > 30, "{pw} passwd and {sp} shadow files read");
}

/// A lookup reads as glibc does, line by line to its match: an odd line
/// after the match does not matter, one before it leaves the lookup to
/// glibc, and a miss needs every line clean.
#[test]
fn a_lookup_stops_at_its_match() {
    let text = b"root:x:0:0:root:/root:/bin/bash\n bob:x:1:1::/:/bin/sh\ncarol:x:2:2::/:/bin/sh\n";
    assert_eq!(passwd(text), None, "not clean as a whole");
    let root = find_passwd(text, |e| e.name == "root");
    assert_eq!(root.flatten().map(|e| e.uid), Some(0));
    assert_eq!(
        find_passwd(text, |e| e.uid == 0).flatten().map(|e| e.name),
        Some("root")
    );
    assert_eq!(
        find_passwd(text, |e| e.name == "carol"),
        None,
        "after the odd line"
    );
    assert_eq!(
        find_passwd(text, |e| e.name == "nobody"),
        None,
        "a miss reads it all"
    );
    let clean = b"root:x:0:0:root:/root:/bin/bash\n";
    assert_eq!(find_passwd(clean, |e| e.name == "nobody"), Some(None));
    let shadow_text = b"root:*:19700:0:99999:7:::\nbob:*:1:0:99999:7::-1:\n";
    assert_eq!(
        find_shadow(shadow_text, b"root")
            .flatten()
            .map(|e| e.expire),
        Some(-1)
    );
    assert_eq!(find_shadow(shadow_text, b"bob"), None);
    assert_eq!(find_shadow(shadow_text, b"carol"), None);
    agree(text);
    agree(shadow_text);
}

#[test]
fn the_host_files_agree_when_clean() {
    for (path, pw) in [("/etc/passwd", true), ("/etc/shadow", false)] {
        let Ok(text) = std::fs::read(path) else {
            crate::base::testhook::skipped(
                "identity::files::the_host_files_agree_when_clean",
                &format!("cannot read {path}"),
            );
            continue;
        };
        let (p, s) = agree(&text);
        eprintln!("{path}: read by bdexec: {}", if pw { p } else { s });
    }
    match std::fs::read("/etc/group") {
        Ok(text) => eprintln!("/etc/group: read by bdexec: {}", agree_group(&text)),
        Err(_) => crate::base::testhook::skipped(
            "identity::files::the_host_files_agree_when_clean",
            "cannot read /etc/group",
        ),
    }
}

/// When bdexec reads `text` as a group file, glibc reads the same
/// entries, and every lookup and list bdexec answers is glibc's: whether
/// bdexec read it.
fn agree_group(text: &[u8]) -> bool {
    let glibc = glibc_group(text).expect("fmemopen");
    let lookups = check_group_lookups(text, &glibc);
    assert_eq!(lookups, Ok(()), "{:?}", String::from_utf8_lossy(text));
    match group_as_glibc(text) {
        Some(ours) => {
            assert_eq!(ours, glibc, "{:?}", String::from_utf8_lossy(text));
            true
        }
        None => false,
    }
}

const DEBIAN_GROUP: &str = "root:x:0:
daemon:x:1:
adm:x:4:syslog,alice
sudo:x:27:alice
users:x:100:
nogroup:x:65534:
systemd-journal:x:999:
alice:x:1000:
svc.web-1:x:1001:alice,svc.web-1
docker:x:998:alice
";

#[test]
fn a_stock_group_file_is_read_as_glibc_reads_it() {
    assert!(
        agree_group(DEBIAN_GROUP.as_bytes()),
        "Debian's group lines are clean"
    );
    let g = group(DEBIAN_GROUP.as_bytes()).unwrap_or_default();
    assert_eq!(g.len(), 10);
    let adm: Vec<&str> = g[2].members().collect();
    assert_eq!(
        (g[2].name, g[2].gid, adm),
        ("adm", 4, vec!["syslog", "alice"])
    );
    assert_eq!(g[0].members().count(), 0, "an empty members field: none");
    let text = DEBIAN_GROUP.as_bytes();
    assert_eq!(
        group_list(text, "alice", 1000),
        Some(vec![1000, 4, 27, 1001, 998])
    );
    // The primary group is not repeated, even when it lists the user.
    assert_eq!(group_list(text, "svc.web-1", 1001), Some(vec![1001]));
    assert_eq!(group_list(text, "nobody", 65534), Some(vec![65534]));
    // A gid on two lines that list the user: twice, as glibc's files
    // source gives it (the caller keeps the first).
    let twice = b"a:x:10:u\nb:x:10:u\nc:x:11:v,u\n";
    assert!(agree_group(twice));
    assert_eq!(group_list(twice, "u", 5), Some(vec![5, 10, 10, 11]));
    assert_eq!(
        find_group(twice, |e| e.gid == 10).flatten().map(|e| e.name),
        Some("a"),
        "the first entry with the gid"
    );
    // Comments in the first column and blank lines: lookups read past
    // them, as glibc's reader does...
    let commented = b"# local\n\nroot:x:0:\n#wheel:x:10:alice\nstaff:x:50:alice";
    assert!(agree_group(commented));
    assert_eq!(
        find_group(commented, |e| e.gid == 10),
        Some(None),
        "a commented-out line is no entry for a lookup"
    );
    // ...but glibc's group list (initgroups) parses a `#` line as an
    // entry: such a file's lists are left to glibc.
    assert_eq!(group_list(commented, "alice", 1000), None);
    assert_eq!(
        group_list(b"\n\nstaff:x:50:alice\n\n", "alice", 7),
        Some(vec![7, 50])
    );
    assert!(agree_group(b""));
}

#[test]
fn group_lines_glibc_reads_another_way_are_left_to_it() {
    for text in [
        // Leading white space, NIS compat names.
        " wheel:x:10:alice\n",
        "\twheel:x:10:alice\n",
        "+\n",
        "+:x:10:alice\n",
        "-wheel:x:10:alice\n",
        // Numbers strtoul reads its own way (musl: 99999999999 wraps to
        // 1215752191).
        "wheel:x:+10:alice\n",
        "wheel:x:-1:alice\n",
        "wheel:x: 10:alice\n",
        "wheel:x:99999999999:alice\n",
        "wheel:x:4294967295:alice\n",
        "wheel:x:0x10:alice\n",
        "wheel:x::alice\n",
        // Members glibc splits its own way: blanks, empty names, a colon.
        "wheel:x:10: alice\n",
        "wheel:x:10:alice \n",
        "wheel:x:10:alice,,bob\n",
        "wheel:x:10:,alice\n",
        "wheel:x:10:alice,\n",
        "wheel:x:10:alice:bob\n",
        "wheel:x:10:al ice\n",
        // Short lines, control characters, names outside the plain form.
        "wheel:x:10\n",
        "wheel\n",
        "wheel:x:10:alice\r\n",
        "wh\0eel:x:10:alice\n",
        "wh eel:x:10:alice\n",
        ":x:10:alice\n",
    ] {
        assert_eq!(
            group(text.as_bytes()),
            None,
            "{text:?} is not a clean group file"
        );
        assert_eq!(group_list(text.as_bytes(), "alice", 1000), None, "{text:?}");
        agree_group(text.as_bytes());
        // After a clean line: a lookup that matches first is answered, one
        // that would read the line is not.
        let after = format!("root:x:0:\n{text}");
        assert!(
            find_group(after.as_bytes(), |e| e.gid == 0)
                .flatten()
                .is_some(),
            "{after:?}"
        );
        assert_eq!(
            find_group(after.as_bytes(), |e| e.gid == 10),
            None,
            "{after:?}"
        );
        agree_group(after.as_bytes());
    }
}

#[test]
fn glibc_agrees_on_every_group_combination() {
    let names = ["wheel", "a", " a", "+a", "-a", "#a", "", "a.b", "a b", "9"];
    let gids = [
        "0",
        "",
        "-1",
        "+1",
        " 1",
        "01",
        "4294967295",
        "4294967296",
        "1x",
        "10",
    ];
    let members = [
        "", "a", "a,b", "b,a", " a", "a ", "a,,b", ",a", "a,", "a:b", "a\r",
    ];
    let ends = ["\n", ""];
    let mut lines = Vec::new();
    for n in names {
        for g in gids {
            for m in members {
                lines.push(format!("{n}:x:{g}:{m}"));
            }
        }
    }
    let mut read = 0;
    for l in &lines {
        for e in ends {
            read += usize::from(agree_group(format!("{l}{e}").as_bytes()));
        }
    }
    for (a, b) in lines.iter().zip(lines.iter().rev()).step_by(7) {
        agree_group(format!("{a}\n{b}\n").as_bytes());
        agree_group(format!("x:y:7:a,b\n{a}\nz::8:b\n{b}").as_bytes());
    }
    assert!(read > 30, "{read} group files read");
}
