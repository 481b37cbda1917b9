use super::*;
use std::collections::HashMap;

/// Debian's stack: /etc/pam.d/belladonna as packaged, common-auth and
/// common-account as installed.
fn debian() -> HashMap<PathBuf, String> {
    let mut m = HashMap::new();
    m.insert(
        PathBuf::from("/etc/pam.d/belladonna"),
        include_str!("../../../packaging/pam.d/belladonna").to_string(),
    );
    m.insert(
        PathBuf::from("/etc/pam.d/common-auth"),
        "auth\t[success=1 default=ignore]\tpam_unix.so nullok\nauth\trequisite\t\t\tpam_deny.so\n\
         auth\trequired\t\t\tpam_permit.so\nauth\toptional\t\t\tpam_cap.so \n"
            .to_string(),
    );
    m.insert(
        PathBuf::from("/etc/pam.d/common-account"),
        "# comment\naccount\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so \n\
         account\trequisite\t\t\tpam_deny.so\naccount\trequired\t\t\tpam_permit.so\n"
            .to_string(),
    );
    m
}

fn stack(files: &HashMap<PathBuf, String>, service: &str) -> Option<(Vec<PathBuf>, Vec<PathBuf>)> {
    let read = |p: &Path| files.get(p).cloned();
    let module = |n: &str| Some(Path::new("/lib/security").join(n));
    account_stack(&read, &module, Path::new("/etc/pam.d"), service)
}

#[test]
fn debians_stack_is_memoisable() {
    let (confs, modules) = stack(&debian(), "belladonna").expect("memoisable");
    assert_eq!(
        confs,
        ["belladonna", "common-auth", "common-account"]
            .map(|n| PathBuf::from("/etc/pam.d").join(n))
    );
    assert_eq!(
        modules,
        ["pam_unix.so", "pam_deny.so", "pam_permit.so"]
            .map(|n| PathBuf::from("/lib/security").join(n))
    );
}

#[test]
fn another_account_module_is_not() {
    for extra in [
        "account required pam_access.so\n",
        "account required pam_time.so\n",
        "-account optional pam_systemd_home.so\n",
        "account sufficient pam_succeed_if.so uid < 1000\n",
        "account required /usr/lib/security/../security/pam_exec.so /bin/x\n",
        "account [default=bad] pam_sss.so\n",
    ] {
        let mut f = debian();
        f.get_mut(Path::new("/etc/pam.d/common-account"))
            .unwrap()
            .push_str(extra);
        assert_eq!(stack(&f, "belladonna"), None, "{extra}");
    }
}

#[test]
fn includes_are_followed_and_unknown_lines_refused() {
    let mut f = HashMap::new();
    f.insert(
        PathBuf::from("/etc/pam.d/s"),
        "account include a\naccount substack b\n".to_string(),
    );
    f.insert(
        PathBuf::from("/etc/pam.d/a"),
        "account required pam_permit.so\n".to_string(),
    );
    f.insert(
        PathBuf::from("/etc/pam.d/b"),
        "account required /lib/security/pam_deny.so \\\n  audit\n".to_string(),
    );
    let (confs, modules) = stack(&f, "s").expect("memoisable");
    assert_eq!(confs.len(), 3);
    assert_eq!(modules.len(), 2);
    // A missing include, a relative path with a slash, an unknown
    // keyword, an include with extra words, an unterminated control:
    for bad in [
        "account include missing\n",
        "@include ../shadow\n",
        "acount required pam_permit.so\n",
        "account include a b\n",
        "account [success=1 pam_unix.so\n",
        "@include\n",
    ] {
        f.insert(PathBuf::from("/etc/pam.d/t"), bad.to_string());
        assert_eq!(stack(&f, "t"), None, "{bad}");
    }
    // No account line at all: libpam would use other's account stack.
    f.insert(
        PathBuf::from("/etc/pam.d/t"),
        "auth required pam_unix.so\n".to_string(),
    );
    assert_eq!(stack(&f, "t"), None);
    // An include loop ends at the depth limit, refused.
    f.insert(PathBuf::from("/etc/pam.d/t"), "@include t\n".to_string());
    assert_eq!(stack(&f, "t"), None);
}

#[test]
fn nss_files_first_and_entries() {
    let nss = "# c\npasswd:         files systemd\ngroup: files\nshadow:   files\n";
    assert!(files_first(nss, "passwd"));
    assert!(files_first(nss, "shadow"));
    assert!(!files_first("passwd: sss files\n", "passwd"));
    assert!(!files_first(
        "passwd: systemd files\nshadow: files\n",
        "passwd"
    ));
    assert!(
        files_first("hosts: files dns\n", "shadow"),
        "no line: glibc's default, files"
    );
    let passwd = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n";
    assert!(has_entry(passwd, "alice"));
    assert!(!has_entry(passwd, "ali"));
    assert!(!has_entry("alice\n", "alice"));
    assert!(!has_entry(passwd, "bob"));
}

#[test]
fn the_key_changes_with_every_input() {
    let build = [7u8; 32];
    let s = vec![stamp::sample(1, 0xEF53)];
    let k = key(&build, 1000, "alice", 20_000, &s);
    assert_eq!(k, key(&build, 1000, "alice", 20_000, &s));
    assert_ne!(k, key(&[8u8; 32], 1000, "alice", 20_000, &s), "build");
    assert_ne!(k, key(&build, 1001, "alice", 20_000, &s), "uid");
    assert_ne!(k, key(&build, 1000, "alicf", 20_000, &s), "name");
    assert_ne!(k, key(&build, 1000, "alice", 20_001, &s), "day");
    let mut t = s.clone();
    t[0].ctime += 1;
    assert_ne!(k, key(&build, 1000, "alice", 20_000, &t), "ctime");
    let mut t = s.clone();
    t[0].ino += 1;
    assert_ne!(k, key(&build, 1000, "alice", 20_000, &t), "inode");
    assert_ne!(k, key(&build, 1000, "alice", 20_000, &[]), "a file fewer");
}

#[test]
fn a_stack_memo_is_read_back_only_for_its_build_and_service() {
    let build = [7u8; 32];
    let stack: Stack = (
        vec![stamp::sample(1, 0xEF53), stamp::sample(2, 0xEF53)],
        vec!["pam_unix.so".into(), "/lib/security/pam_deny.so".into()],
    );
    let blob = stack_bytes(&build, "belladonna", &stack);
    let (paths, stamps, specs) = parse_stack(&blob, &build, "belladonna").expect("read back");
    assert_eq!(specs, stack.1);
    assert_eq!(paths.len(), 2);
    for (path, s) in paths.iter().zip(&stack.0) {
        assert_eq!(*path, s.path.as_slice());
    }
    assert_eq!(stamps, stamp::encode_all(&stack.0).as_slice());
    assert!(
        parse_stack(&blob, &[8u8; 32], "belladonna").is_none(),
        "build"
    );
    assert!(parse_stack(&blob, &build, "sudo").is_none(), "service");
    for n in 0..blob.len() {
        assert!(
            parse_stack(&blob[..n], &build, "belladonna").is_none(),
            "{n} bytes"
        );
    }
    for i in 0..blob.len() {
        let mut d = blob.clone();
        d[i] ^= 1;
        assert!(parse_stack(&d, &build, "belladonna").is_none(), "byte {i}");
    }
}

/// The stack memo on real files: read back while every file keeps its
/// stamp; a changed, replaced or removed file, or a memo that is not
/// root's 0600 file, is a walk (`None`).
#[test]
fn a_stack_memo_stands_only_while_its_files_keep_their_stamps() {
    use std::os::fd::AsFd;
    use std::os::unix::fs::PermissionsExt;
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED a_stack_memo_stands_only_while_its_files_keep_their_stamps: needs root");
        return;
    }
    let d = std::env::temp_dir().join(format!("bd-stack-memo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir(&d).unwrap();
    let (a, b) = (d.join("belladonna"), d.join("common-account"));
    std::fs::write(&a, "@include common-account\n").unwrap();
    std::fs::write(&b, "account required pam_unix.so\n").unwrap();
    let state = std::fs::File::open(&d).unwrap();
    let dir = state.as_fd();
    let build = [7u8; 32];
    let stamped = |p: &Path| stamp::read_stamped(p, MAX_CONF).unwrap().1;
    let stack: Stack = (vec![stamped(&a), stamped(&b)], vec!["pam_unix.so".into()]);
    assert!(recall(dir, &build, "belladonna").is_none(), "no memo yet");
    remember(dir, &build, "belladonna", &stack);
    let memo = d.join(STACK_NAME);
    assert_eq!(recall(dir, &build, "belladonna"), Some(stack.clone()));
    assert!(recall(dir, &build, "sudo").is_none(), "another service");

    // The included file changes (same size, new ctime): a walk.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&b, "account required pam_warn.so\n").unwrap();
    assert!(
        recall(dir, &build, "belladonna").is_none(),
        "changed include"
    );
    let stack: Stack = (vec![stamped(&a), stamped(&b)], vec!["pam_warn.so".into()]);
    remember(dir, &build, "belladonna", &stack);
    assert_eq!(recall(dir, &build, "belladonna"), Some(stack));
    // Replaced by a rename (another inode), then removed: a walk.
    std::fs::write(d.join("new"), "@include common-account\n").unwrap();
    std::fs::rename(d.join("new"), &a).unwrap();
    assert!(recall(dir, &build, "belladonna").is_none(), "replaced");
    let stack: Stack = (vec![stamped(&a), stamped(&b)], vec!["pam_warn.so".into()]);
    remember(dir, &build, "belladonna", &stack);
    assert!(recall(dir, &build, "belladonna").is_some());
    std::fs::set_permissions(&memo, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(
        recall(dir, &build, "belladonna").is_none(),
        "memo mode 0644"
    );
    std::fs::set_permissions(&memo, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_file(&b).unwrap();
    assert!(
        recall(dir, &build, "belladonna").is_none(),
        "removed include"
    );
    let _ = std::fs::remove_dir_all(&d);
}
