//! The TPM-sealed KEK against swtpm, end to end with the audit key (here,
//! not in `keystore::tpm`, so the key store's tests do not import
//! `audit`). Built with the features `belladonna_tpm_real` and
//! `test-hooks`.
use crate::audit::key::{gen_audit_key, load_audit_key};
use crate::keystore::testutil::tpaths;
use crate::keystore::tpm::*;
use crate::keystore::{KeyErrorKind, KeyPaths};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// swtpm on loopback, killed on drop.
struct Swtpm {
    child: Child,
    port: u16,
}

impl Swtpm {
    fn start(state: &Path) -> Swtpm {
        for _ in 0..20 {
            // A free port P with P+1 free as well (the control port).
            let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
            let port = l.local_addr().expect("addr").port();
            drop(l);
            if port == u16::MAX || TcpListener::bind((Ipv4Addr::LOCALHOST, port + 1)).is_err() {
                continue;
            }
            let mut child = Command::new("swtpm")
                .args(["socket", "--tpm2", "--flags", "startup-clear"])
                .arg("--tpmstate")
                .arg(format!("dir={}", state.display()))
                .arg("--server")
                .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
                .arg("--ctrl")
                .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .expect("swtpm (apt-get install swtpm; `make test-tpm` installs it)");
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // lost the port race, or failed: retry
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Swtpm { child, port };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("could not start swtpm");
    }

    fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run the ignored test `child_load` in a fresh process with the TCTI
/// in the test-hooks environment variable; its stdout.
fn run_child_load(tcti: &str, keys: &Path, lib: &Path) -> (bool, String) {
    let out = Command::new(std::env::current_exe().expect("exe"))
        .args([
            "--exact",
            "audit::key::tpm_tests::child_load",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(TCTI_ENV, tcti)
        .env("BD_TPM_TEST_KEYS", keys)
        .env("BD_TPM_TEST_LIB", lib)
        .output()
        .expect("run child");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Run by [`run_child_load`] only: load the (wrapped) audit key through
/// the real path (`kek::unwrap` -> `tpm::kek_if_present` -> [`tcti`]).
#[test]
#[ignore = "run by the tpm tests in a child process"]
fn child_load() {
    let p = KeyPaths {
        keys_dir: std::env::var_os("BD_TPM_TEST_KEYS").expect("keys").into(),
        lib_dir: std::env::var_os("BD_TPM_TEST_LIB").expect("lib").into(),
        owner: nix::unistd::geteuid().as_raw(),
        trusted: false,
    };
    match load_audit_key(&p) {
        Ok(Some(k)) => println!("CHILD-OK fingerprint={}", k.fingerprint()),
        Ok(None) => panic!("no audit key"),
        Err(e) => panic!("CHILD-ERR {:?}: {e}", e.kind),
    }
}

#[test]
fn sealed_kek_wraps_and_unwraps() {
    let st = tempfile::tempdir().expect("tempdir");
    let (_d, p) = tpaths();
    let tpm = Swtpm::start(st.path());
    let info = gen_tpm_kek_with(&p, &tpm.tcti()).expect("gen sealed kek");
    assert_eq!(info.path, tpm_kek_path(&p));
    let text = std::fs::read_to_string(tpm_kek_path(&p)).expect("read");
    assert!(text.starts_with(MAGIC), "{text}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(tpm_kek_path(&p))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Never overwritten; no second (file) KEK beside it.
    assert_eq!(
        gen_tpm_kek_with(&p, &tpm.tcti()).expect_err("exists").kind,
        KeyErrorKind::Exists
    );
    assert_eq!(
        crate::keystore::kek::gen_kek(&p)
            .expect_err("file kek")
            .kind,
        KeyErrorKind::Exists
    );

    // Unsealing twice, each in a fresh TPM context, gives one KEK.
    let dir = p.keys_dir_fd(false).expect("dir");
    let s = read_sealed(&p, dir.as_fd()).expect("read sealed");
    let k1 = unseal(&p, &tpm.tcti(), &s).expect("unseal 1");
    let k2 = unseal(&p, &tpm.tcti(), &s).expect("unseal 2");
    assert_eq!(k1[..], k2[..]);

    // Wrap an audit key with the sealed KEK in a fresh process, through
    // the real path (kek::wrap, the TCTI from the test-hooks variable).
    let keys = p.keys_dir.clone();
    let lib = p.lib_dir.clone();
    let out = Command::new(std::env::current_exe().expect("exe"))
        .args([
            "--exact",
            "audit::key::tpm_tests::child_gen",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(TCTI_ENV, tpm.tcti())
        .env("BD_TPM_TEST_KEYS", &keys)
        .env("BD_TPM_TEST_LIB", &lib)
        .output()
        .expect("run child");
    let so = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{so}");
    let fp = so
        .split("CHILD-GEN fingerprint=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no fingerprint from the child: {so}"))
        .to_string();
    let head = std::fs::read_to_string(p.audit_key_path()).expect("read");
    assert!(
        head.starts_with("belladonna-key v1 type=audit-mac epoch=0 wrap=kek\n"),
        "{head}"
    );

    // ... unwrap it again in another fresh process.
    let (ok, so) = run_child_load(&tpm.tcti(), &keys, &lib);
    assert!(ok, "{so}");
    assert!(so.contains(&format!("CHILD-OK fingerprint={fp}")), "{so}");

    // The same TPM state after a restart (new swtpm process): works.
    drop(tpm);
    let tpm = Swtpm::start(st.path());
    let (ok, so) = run_child_load(&tpm.tcti(), &keys, &lib);
    assert!(ok, "after restart: {so}");
    assert!(so.contains(&format!("CHILD-OK fingerprint={fp}")), "{so}");

    // Another TPM (fresh state: another owner seed) refuses.
    let st2 = tempfile::tempdir().expect("tempdir");
    let other = Swtpm::start(st2.path());
    let (ok, so) = run_child_load(&other.tcti(), &keys, &lib);
    assert!(!ok, "another TPM unwrapped the key: {so}");
    assert!(so.contains("CHILD-ERR Kek"), "{so}");
    let e = unseal(&p, &other.tcti(), &s).expect_err("other tpm");
    assert_eq!(e.kind, KeyErrorKind::Kek);
    assert!(e.to_string().contains("load the sealed KEK"), "{e}");

    // A tampered private area (checksum recomputed) refuses.
    for i in [4usize, s.private.len() / 2, s.private.len() - 1] {
        let mut bad = s.clone();
        bad.private[i] ^= 0x01;
        let e = unseal(&p, &tpm.tcti(), &bad).expect_err("tampered private");
        assert_eq!(e.kind, KeyErrorKind::Kek, "byte {i}: {e}");
    }
    // A tampered public area (e.g. attributes) refuses.
    let mut bad = s.clone();
    let n = bad.public.len();
    bad.public[n - 1] ^= 0x01;
    assert_eq!(
        unseal(&p, &tpm.tcti(), &bad).expect_err("public").kind,
        KeyErrorKind::Kek
    );
    // A tampered file (checksum not recomputed) is refused before the TPM.
    let good = std::fs::read(tpm_kek_path(&p)).expect("read");
    let mut edited = good.clone();
    let at = MAGIC.len() + 10;
    edited[at] = if edited[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(tpm_kek_path(&p), &edited).expect("write");
    let (ok, so) = run_child_load(&tpm.tcti(), &keys, &lib);
    assert!(!ok && so.contains("CHILD-ERR Malformed"), "{so}");
    // Re-checksummed tampering reaches the TPM, which refuses.
    let mut bad = s.clone();
    bad.private[8] ^= 0x80;
    std::fs::write(tpm_kek_path(&p), bad.encode()).expect("write");
    let (ok, so) = run_child_load(&tpm.tcti(), &keys, &lib);
    assert!(!ok && so.contains("CHILD-ERR Kek"), "{so}");
    std::fs::write(tpm_kek_path(&p), &good).expect("restore");

    // A file KEK beside the sealed one: ambiguous, refused.
    std::fs::write(p.kek_path(), b"x").expect("write");
    let (ok, so) = run_child_load(&tpm.tcti(), &keys, &lib);
    assert!(!ok && so.contains("CHILD-ERR Kek"), "{so}");
    std::fs::remove_file(p.kek_path()).expect("rm");
    let (ok, so) = run_child_load(&tpm.tcti(), &keys, &lib);
    assert!(ok, "restored: {so}");

    // Group-readable: refused.
    std::fs::set_permissions(tpm_kek_path(&p), std::fs::Permissions::from_mode(0o640))
        .expect("chmod");
    let (ok, so) = run_child_load(&tpm.tcti(), &keys, &lib);
    assert!(!ok && so.contains("CHILD-ERR Permissions"), "{so}");
    std::fs::set_permissions(tpm_kek_path(&p), std::fs::Permissions::from_mode(0o600))
        .expect("chmod");
    // Gone: the wrapped key cannot be loaded (no KEK at all).
    std::fs::remove_file(tpm_kek_path(&p)).expect("rm");
    let (ok, so) = run_child_load(&tpm.tcti(), &keys, &lib);
    assert!(!ok && so.contains("CHILD-ERR Kek"), "{so}");
}

/// Run by [`sealed_kek_wraps_and_unwraps`] only: generate the audit
/// key wrapped with the sealed KEK through the real path.
#[test]
#[ignore = "run by the tpm tests in a child process"]
fn child_gen() {
    let p = KeyPaths {
        keys_dir: std::env::var_os("BD_TPM_TEST_KEYS").expect("keys").into(),
        lib_dir: std::env::var_os("BD_TPM_TEST_LIB").expect("lib").into(),
        owner: nix::unistd::geteuid().as_raw(),
        trusted: false,
    };
    let info = gen_audit_key(&p, None, true).expect("gen wrapped audit key");
    assert!(info.wrapped);
    let k = load_audit_key(&p).expect("load").expect("key");
    assert_eq!(k.fingerprint(), info.fingerprint);
    println!("CHILD-GEN fingerprint={}", info.fingerprint);
}

#[test]
fn sealed_file_format_is_checked() {
    let s = SealedKek {
        public: vec![1, 2, 3],
        private: vec![4, 5, 6, 7],
    };
    let enc = s.encode();
    assert!(SealedKek::parse(&enc).expect("parse") == s);
    assert!(SealedKek::parse(b"").is_err());
    assert!(SealedKek::parse(&enc[..enc.len() - 1]).is_err());
    assert!(SealedKek::parse(&enc[..enc.len() / 2]).is_err());
    let mut bad = enc.clone();
    let i = MAGIC.len() + 2;
    bad[i] ^= 0x01;
    assert!(SealedKek::parse(&bad).is_err());
    assert!(SealedKek::parse(&vec![b'a'; MAX_FILE + 1]).is_err());
}
