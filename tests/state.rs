//! Library-level integration tests of the per-boot state (clock anchor,
//! nonce sets, rate buckets) across processes. bdexec is not involved
//! (the harness of tests/common is for whole-program runs); state files
//! must be root-owned, so without root every test here prints
//! `SKIPPED (needs root)` and returns.

use belladonna::state::clock::{Sample, now_from};
use belladonna::state::nonce::{self, NonceError};
use belladonna::state::rate::{self, RateDecision};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const T0: u64 = 1_700_000_000;
const BOOT: [u8; 16] = [5; 16];
const CHILD_ENV: &str = "BELLADONNA_STATE_TEST_CHILD";

fn root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    eprintln!("SKIPPED (needs root): {test}");
    false
}

fn open_dir(p: &Path) -> OwnedFd {
    nix::fcntl::open(
        p,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .expect("open state dir")
}

fn state_dir() -> (tempfile::TempDir, OwnedFd) {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let fd = open_dir(d.path());
    (d, fd)
}

fn sample(wall: u64, mono: u64) -> Sample {
    Sample {
        wall: Duration::from_secs(wall),
        mono: Duration::from_secs(mono),
        boot_id: BOOT,
    }
}

/// Not a test on its own: the body of each child process of
/// `concurrent_processes_exactly_one_wins` (does nothing unless
/// started by it).
#[test]
fn child_consume() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = Path::new(&dir);
    let fd = open_dir(dir);
    // Start together: wait for the parent's go file.
    let t0 = Instant::now();
    while !dir.join("go").exists() {
        assert!(t0.elapsed() < Duration::from_secs(20), "no go");
        std::thread::sleep(Duration::from_micros(200));
    }
    let c = now_from(fd.as_fd(), &sample(T0, 100)).expect("clock");
    let code = match nonce::consume(fd.as_fd(), "exec", &[0xab; 16], T0 + 60, &c, 64) {
        Ok(_) => 0,
        Err(NonceError::Replay) => 3,
        Err(e) => {
            eprintln!("child: {e}");
            4
        }
    };
    std::process::exit(code);
}

#[test]
fn concurrent_processes_exactly_one_wins() {
    if !root("concurrent_processes_exactly_one_wins") {
        return;
    }
    let exe = std::env::current_exe().expect("current_exe");
    for _round in 0..3 {
        let (d, _fd) = state_dir();
        let kids: Vec<_> = (0..6)
            .map(|_| {
                Command::new(&exe)
                    .args([
                        "--exact",
                        "child_consume",
                        "--nocapture",
                        "--test-threads=1",
                    ])
                    .env(CHILD_ENV, d.path())
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        std::fs::write(d.path().join("go"), b"").expect("go");
        let mut codes: Vec<i32> = kids
            .into_iter()
            .map(|mut k| k.wait().expect("wait").code().unwrap_or(-1))
            .collect();
        codes.sort_unstable();
        assert_eq!(codes, vec![0, 3, 3, 3, 3, 3], "exactly one winner");
    }
}

/// The issue's scenario end to end at library level: a token is used,
/// expires, the wall clock is set back by an hour; the token stays
/// expired and its nonce stays used, and the skew is reported.
#[test]
fn clock_set_back_an_hour() {
    if !root("clock_set_back_an_hour") {
        return;
    }
    let (_d, fd) = state_dir();
    let f = fd.as_fd();
    let c = now_from(f, &sample(T0, 500)).expect("clock");
    let exp = T0 + 120;
    assert!(exp >= c.effective_now);
    nonce::consume(f, "exec", &[1; 16], exp, &c, 16).expect("first use");
    let c = now_from(f, &sample(T0 + 60 - 3600, 560)).expect("clock");
    assert_eq!(c.skew, Some(-3600));
    assert_eq!(c.effective_now, T0 + 60);
    assert!(matches!(
        nonce::consume(f, "exec", &[1; 16], exp, &c, 16),
        Err(NonceError::Replay)
    ));
    // Past the expiry by boottime, with the wall clock an hour behind:
    // a verifier comparing exp with effective_now sees it expired.
    let c = now_from(f, &sample(T0 + 200 - 3600, 700)).expect("clock");
    assert!(exp < c.effective_now, "expired token revived");
    assert!(matches!(
        nonce::consume(f, "exec", &[1; 16], exp, &c, 16),
        Err(NonceError::Expired { .. })
    ));
    // Rate buckets run on boottime: the set-back neither refills nor drains.
    let r = rate::parse_rate("1/1h").expect("rate");
    assert_eq!(
        rate::take(f, "r", 1000, &r, &c).expect("take"),
        RateDecision::Allowed
    );
    let c = now_from(f, &sample(T0 - 86400, 710)).expect("clock");
    assert!(matches!(
        rate::take(f, "r", 1000, &r, &c).expect("take"),
        RateDecision::Limited { .. }
    ));
}

/// A state directory that is not root's alone is refused for nonce and
/// rate subdirectories too.
#[test]
fn loose_subdirectory_is_refused() {
    if !root("loose_subdirectory_is_refused") {
        return;
    }
    let (d, fd) = state_dir();
    std::fs::create_dir(d.path().join("nonces")).expect("mkdir");
    std::fs::set_permissions(
        d.path().join("nonces"),
        std::fs::Permissions::from_mode(0o777),
    )
    .expect("chmod");
    let c = now_from(fd.as_fd(), &sample(T0, 1)).expect("clock");
    let e = nonce::consume(fd.as_fd(), "exec", &[1; 16], T0 + 5, &c, 4).expect_err("loose");
    assert!(e.to_string().contains("/run/belladonna/nonces"), "{e}");
}
