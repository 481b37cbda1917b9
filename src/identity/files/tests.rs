//! bdexec's reading of passwd and shadow text against glibc's own
//! (`fgetpwent_r`, `fgetspent_r`: the `files` source's reader and parser).
use super::{
    check_lookups, find_passwd, find_shadow, passwd, passwd_as_glibc as ours_pw, shadow,
    shadow_as_glibc as ours_sp,
};
use crate::sys::nss::{glibc_passwd, glibc_shadow};

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
}
