//! Integration test harness (DESIGN section 13).
//!
//! Every test runs the real, built `bdexec` (a copy carrying the file
//! capabilities `cap_setuid,cap_setgid=p`) as real unprivileged users on
//! the real kernel, and never touches the host's configuration:
//!
//! * [`TestEnv::new`] makes a fresh directory (mode 0755) under `/tmp`
//!   (or `$BELLADONNA_TEST_TMPDIR`) holding
//!   - `etc/`: a layer put over the host's `/etc` with a read-only overlay
//!     (`lowerdir=<test>/etc:/etc`). It holds `belladonna/policy.toml`,
//!     `belladonna/policy.d/`, and `passwd`, `group`, `shadow` = the host's
//!     plus the test users below. (No upper/work dir on purpose: several
//!     runs of one test are alive at once, e.g. 50 concurrent callers, and
//!     overlayfs forbids sharing one upper/work dir between mounts. Tests
//!     change the layer from outside, between runs.)
//!   - `log/`, `lib/`, `run/`: bind-mounted over `/var/log`, `/var/lib` and
//!     `/run`; `log/belladonna` and `lib/belladonna` are 0700 root as
//!     `make install` makes them; `/run/belladonna` is left for bdexec to
//!     create.
//!   - `bin/`: `bdexec` (with file capabilities), `bdctl`, helpers.
//!   - `tmp/`: scratch space, mode 1777.
//! * Every run happens in a fresh private mount namespace set up by the
//!   spawned child itself (unshare + mounts, then setgroups/setresgid/
//!   setresuid: the equivalent of `unshare --mount --propagation private`
//!   and `setpriv --reuid --regid --init-groups`, but with no shell in the
//!   path, so argv and environment reach bdexec byte for byte and the
//!   child's pid is bdexec's pid). State persists in the test directory
//!   between runs, and tests are independent and parallel-safe.
//!
//! Without root nothing of this can be set up: [`TestEnv::new`] then
//! writes `SKIPPED (needs root): <test>` straight to the real stderr
//! (bypassing libtest's capture, so it is visible in a normal run) and
//! returns `None`; the test returns early and libtest counts it as
//! passed. Stable Rust has no runtime "skip", so look for these lines.
//! As root, a failure to set up (no overlayfs, a nosuid /tmp, ...) is a
//! test failure, never a skip.
//!
//! Set `BELLADONNA_KEEP_TEST_DIRS=1` to keep every test directory; the
//! directory of a failed test is always kept and its path printed.
#![allow(dead_code)]

pub mod journald;
pub mod pty_driver;

use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A test account. Uids and gids are in 61000+ so they cannot collide
/// with real accounts of the host.
#[derive(Debug, Clone, Copy)]
pub struct TestUser {
    pub name: &'static str,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (the primary group included), as
    /// `setpriv --init-groups` would set them.
    pub groups: &'static [u32],
    pub home: &'static str,
    pub shell: &'static str,
}

/// gid of the group `ops` (members: carol).
pub const OPS_GID: u32 = 61100;

/// The file capabilities `make install` gives bdexec (Makefile
/// `BDEXEC_CAPS`): the id switch, bounding-set control for grants, and
/// the grantable `net_bind_service`.
pub const BDEXEC_FILE_CAPS: &str = "cap_setuid,cap_setgid,cap_setpcap,cap_net_bind_service=p";

pub const ALICE: TestUser = TestUser {
    name: "alice",
    uid: 61001,
    gid: 61001,
    groups: &[61001],
    home: "/home/alice",
    shell: "/bin/sh",
};
pub const BOB: TestUser = TestUser {
    name: "bob",
    uid: 61002,
    gid: 61002,
    groups: &[61002],
    home: "/home/bob",
    shell: "/bin/bash",
};
pub const CAROL: TestUser = TestUser {
    name: "carol",
    uid: 61003,
    gid: 61003,
    groups: &[61003, OPS_GID],
    home: "/home/carol",
    shell: "/bin/sh",
};
pub const MALLORY: TestUser = TestUser {
    name: "mallory",
    uid: 61004,
    gid: 61004,
    groups: &[61004],
    home: "/home/mallory",
    shell: "/bin/sh",
};
pub const ROOT: TestUser = TestUser {
    name: "root",
    uid: 0,
    gid: 0,
    groups: &[0],
    home: "/root",
    shell: "/bin/bash",
};
pub const USERS: &[TestUser] = &[ALICE, BOB, CAROL, MALLORY];

/// Fields of an accept/reject audit record, in the order they must appear.
pub const RECORD_FIELDS: &[&str] = &[
    "seq",
    "event",
    "time",
    "uuid",
    "host",
    "pid",
    "submituser",
    "submituid",
    "submitgid",
    "ttyname",
    "submitcwd",
    "runuser",
    "runuid",
    "rungid",
    "command",
    "runargv",
    "rule",
    "reason",
    "policy_hash",
    "prev",
    "h",
];

/// Default time limit for one run; a hung bdexec fails the test instead
/// of hanging the suite.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// A user by name (test users and root).
pub fn user(name: &str) -> TestUser {
    if name == "root" {
        return ROOT;
    }
    *USERS
        .iter()
        .find(|u| u.name == name)
        .unwrap_or_else(|| panic!("unknown test user {name:?}"))
}

/// Write a line to the real stderr, bypassing libtest's output capture.
pub fn loud(msg: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{msg}");
}

/// True when running as root (needed for namespaces and setcap).
/// Whether bin/bdexec is a build on musl (`make test-static` with the
/// musl target, the packages' C library): its lookups beyond bdexec's
/// own file reading go to the twin, never to the C library
/// (src/sys/nss.rs).
pub fn bdexec_is_musl() -> bool {
    std::env::var_os("BELLADONNA_TEST_BDEXEC")
        .is_some_and(|p| p.to_string_lossy().contains("-musl/"))
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `let env = test_env!("name");` — a fresh [`TestEnv`] named
/// `<test file>::name`, or return from the test (printing the SKIPPED
/// line) when not root.
#[allow(unused_macros)]
macro_rules! test_env {
    ($name:expr) => {
        match $crate::common::TestEnv::new(concat!(module_path!(), "::", $name)) {
            Some(e) => e,
            None => return,
        }
    };
}

/// Like `test_env!` with [`STD_POLICY`] installed.
#[allow(unused_macros)]
macro_rules! std_env {
    ($name:expr) => {{
        let e = test_env!($name);
        e.policy($crate::common::STD_POLICY);
        e
    }};
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One test's private world. See the module documentation.
pub struct TestEnv {
    pub name: String,
    pub dir: PathBuf,
    keep: bool,
}

impl TestEnv {
    /// Set up a fresh environment, or print `SKIPPED (needs root): name`
    /// and return `None` when not root.
    pub fn new(name: &str) -> Option<TestEnv> {
        if !is_root() {
            loud(&format!("SKIPPED (needs root): {name}"));
            return None;
        }
        let base = std::env::var_os("BELLADONNA_TEST_TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        check_not_nosuid(&base);
        let safe: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = base.join(format!(
            "bdtest-{safe}-{}-{}-{nanos:x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let env = TestEnv {
            name: name.to_string(),
            dir,
            keep: std::env::var_os("BELLADONNA_KEEP_TEST_DIRS").is_some(),
        };
        env.setup();
        Some(env)
    }

    fn setup(&self) {
        let d = &self.dir;
        mkdir_mode(d, 0o755);
        for sub in [
            "etc",
            "etc/belladonna",
            "etc/belladonna/policy.d",
            "log",
            "lib",
            "run",
            "bin",
        ] {
            mkdir_mode(&d.join(sub), 0o755);
        }
        mkdir_mode(&d.join("log/belladonna"), 0o700);
        mkdir_mode(&d.join("lib/belladonna"), 0o700);
        mkdir_mode(&d.join("tmp"), 0o1777);
        // Every component of the path must be traversable by the test users.
        let mut p = d.clone();
        while let Some(parent) = p.parent() {
            let m = fs::metadata(parent).unwrap().mode();
            assert!(
                m & 0o001 != 0,
                "{} is not traversable by other users (mode {:o}); set BELLADONNA_TEST_TMPDIR",
                parent.display(),
                m & 0o7777
            );
            p = parent.to_path_buf();
        }

        // passwd, group, shadow: the host's plus the test accounts.
        let mut passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
        let mut group = fs::read_to_string("/etc/group").unwrap_or_default();
        let mut shadow = fs::read_to_string("/etc/shadow").unwrap_or_default();
        for s in [&mut passwd, &mut group, &mut shadow] {
            if !s.is_empty() && !s.ends_with('\n') {
                s.push('\n');
            }
        }
        for u in USERS {
            passwd.push_str(&format!(
                "{n}:x:{uid}:{gid}:Belladonna test {n}:{home}:{shell}\n",
                n = u.name,
                uid = u.uid,
                gid = u.gid,
                home = u.home,
                shell = u.shell
            ));
            group.push_str(&format!("{}:x:{}:\n", u.name, u.gid));
            // Password locked ('*'), never expires: PAM's account stage passes.
            shadow.push_str(&format!("{}:*:19700:0:99999:7:::\n", u.name));
        }
        group.push_str(&format!("ops:x:{OPS_GID}:carol\n"));
        self.write_etc_like_host("passwd", &passwd);
        self.write_etc_like_host("group", &group);
        self.write_etc_like_host("shadow", &shadow);

        // The binaries. bdexec gets file capabilities, permitted set only.
        // `make test-static`: bin/bdexec is the statically linked build
        // BELLADONNA_TEST_BDEXEC names (the twin stays this test build).
        let bdexec_build = std::env::var_os("BELLADONNA_TEST_BDEXEC")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_bdexec")));
        install_with_caps(&bdexec_build, &self.bdexec_path());
        // The twin the static bdexec hands PAM to (src/exec/twin.rs), where
        // it looks for it: ../libexec/belladonna/bdexec-pam from bin/.
        // The same test build, with the same capabilities; it is used
        // when a test makes bin/bdexec act as the static one
        // (BELLADONNA_TEST_ACT_STATIC, see `act_static`).
        mkdir_mode(&self.dir.join("libexec"), 0o755);
        mkdir_mode(&self.dir.join("libexec/belladonna"), 0o755);
        install_with_caps(Path::new(env!("CARGO_BIN_EXE_bdexec")), &self.twin_path());
        let bdctl = self.bdctl_path();
        fs::copy(env!("CARGO_BIN_EXE_bdctl"), &bdctl).expect("copy bdctl");
        fs::set_permissions(&bdctl, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Write a file of the /etc layer with the owner and mode of the
    /// host's file of the same name.
    fn write_etc_like_host(&self, name: &str, text: &str) {
        let path = self.dir.join("etc").join(name);
        fs::write(&path, text).unwrap();
        let (mode, uid, gid) = match fs::metadata(Path::new("/etc").join(name)) {
            Ok(m) => (m.mode() & 0o7777, m.uid(), m.gid()),
            Err(_) => (if name == "shadow" { 0o640 } else { 0o644 }, 0, 0),
        };
        std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }

    // ---- paths (host paths; the test dir is visible at the same path
    // inside the namespaces) ----

    pub fn bdexec_path(&self) -> PathBuf {
        self.dir.join("bin/bdexec")
    }
    /// The twin of bin/bdexec (src/exec/twin.rs).
    pub fn twin_path(&self) -> PathBuf {
        self.dir.join("libexec/belladonna/bdexec-pam")
    }
    /// A call of bin/bdexec acting as the static bdexec: PAM and NSS
    /// beyond `files` go to the twin (test hooks).
    pub fn bdexec_static(&self, user_name: &str) -> Call<'_> {
        let exe = self.bdexec_path();
        self.bdexec(user_name)
            .env("BELLADONNA_TEST_ACT_STATIC", exe)
    }
    pub fn bdctl_path(&self) -> PathBuf {
        self.dir.join("bin/bdctl")
    }
    /// Host path of a file in the /etc layer, e.g. `etc("belladonna")`.
    pub fn etc(&self, rel: &str) -> PathBuf {
        self.dir.join("etc").join(rel)
    }
    /// Host path of `/etc/belladonna/policy.toml`.
    pub fn policy_path(&self) -> PathBuf {
        self.etc("belladonna/policy.toml")
    }
    /// Host path of `/var/log/belladonna/audit.jsonl`.
    pub fn audit_path(&self) -> PathBuf {
        self.dir.join("log/belladonna/audit.jsonl")
    }
    /// Host path of what is `/var/lib` inside the namespace.
    pub fn var_lib(&self) -> PathBuf {
        self.dir.join("lib")
    }
    /// Host path of what is `/run` inside the namespace.
    pub fn run_dir(&self) -> PathBuf {
        self.dir.join("run")
    }
    /// Host path of the directory [`Call::own_dev`] binds over /dev
    /// (made by the test that wants it).
    pub fn dev_dir(&self) -> PathBuf {
        self.dir.join("dev")
    }
    /// Scratch directory (mode 1777), same path inside and outside.
    pub fn scratch(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    // ---- configuration ----

    /// Write `/etc/belladonna/policy.toml` (root, 0600, as installed).
    pub fn policy(&self, text: &str) {
        write_mode(&self.policy_path(), text.as_bytes(), 0o600);
    }

    /// Write `/etc/belladonna/policy.d/NAME` (root, 0600).
    pub fn dropin(&self, name: &str, text: &str) {
        write_mode(
            &self.etc("belladonna/policy.d").join(name),
            text.as_bytes(),
            0o600,
        );
    }

    /// Put an executable (root, 0755) at `/etc/<rel>` inside the namespace,
    /// creating parent directories 0755.
    pub fn etc_executable(&self, rel: &str, content: &[u8]) -> String {
        let p = self.etc(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        write_mode(&p, content, 0o755);
        format!("/etc/{rel}")
    }

    /// Compile a small C program into the test's bin/ directory.
    pub fn compile_c(&self, name: &str, source: &str) -> PathBuf {
        let src = self.dir.join("bin").join(format!("{name}.c"));
        let out = self.dir.join("bin").join(name);
        fs::write(&src, source).unwrap();
        let o = Command::new("cc")
            .arg("-O1")
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .output()
            .expect("run cc (install build-essential: make deps)");
        assert!(
            o.status.success(),
            "cc failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        fs::set_permissions(&out, fs::Permissions::from_mode(0o755)).unwrap();
        out
    }

    // ---- running things ----

    /// A call of the capability-carrying bdexec as `user` ("root" too).
    pub fn bdexec(&self, user_name: &str) -> Call<'_> {
        Call::new(self, user(user_name), self.bdexec_path())
    }

    /// A call of any program as `user` inside a fresh namespace.
    pub fn program(&self, user_name: &str, program: impl AsRef<Path>) -> Call<'_> {
        Call::new(self, user(user_name), program.as_ref().to_path_buf())
    }

    /// `bdexec ARGS` as `user`.
    pub fn run_as_user(&self, user_name: &str, args: &[&str]) -> Out {
        self.bdexec(user_name).args(args).run()
    }

    /// `bdexec ARGS` as root.
    pub fn run_as_root(&self, args: &[&str]) -> Out {
        self.bdexec("root").args(args).run()
    }

    /// `bdctl ARGS` as root inside the namespace (fixed paths = the test's).
    pub fn bdctl(&self, args: &[&str]) -> Out {
        Call::new(self, ROOT, self.bdctl_path()).args(args).run()
    }

    /// Run a shell script as `user` inside a fresh namespace. The script
    /// sees `$BDEXEC`, `$BDCTL`, `$TESTDIR`, `$SCRATCH`, and a function
    /// `as_user NAME CMD...` (for root scripts: setpriv with the user's
    /// ids and groups).
    pub fn sh_in_ns(&self, user_name: &str, script: &str) -> Out {
        self.sh_call(user_name, script).run()
    }

    /// Like [`sh_in_ns`](Self::sh_in_ns) but returns the [`Call`] to adjust.
    pub fn sh_call(&self, user_name: &str, script: &str) -> Call<'_> {
        let prelude = format!(
            "BDEXEC='{bdexec}'; BDCTL='{bdctl}'; TESTDIR='{dir}'; SCRATCH='{dir}/tmp'\n\
             export BDEXEC BDCTL TESTDIR SCRATCH\n\
             as_user() {{ _u=$1; shift; setpriv --reuid \"$_u\" --regid \"$(id -g \"$_u\")\" --init-groups -- \"$@\"; }}\n",
            bdexec = self.bdexec_path().display(),
            bdctl = self.bdctl_path().display(),
            dir = self.dir.display()
        );
        Call::new(self, user(user_name), PathBuf::from("/bin/sh"))
            .arg("-c")
            .arg(format!("{prelude}{script}"))
            .what(format!("sh script as {user_name}:\n{script}"))
    }

    // ---- the audit log ----

    /// The raw audit log (empty when it does not exist).
    pub fn audit_bytes(&self) -> Vec<u8> {
        fs::read(self.audit_path()).unwrap_or_default()
    }

    /// Every line of the audit log that parses as a JSON object, in
    /// order. Lines that don't parse (a torn fragment) are skipped: use
    /// [`audit_bytes`](Self::audit_bytes) to see them.
    pub fn audit_lines(&self) -> Vec<Value> {
        self.audit_bytes()
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
            .filter(|v| v.is_object())
            .collect()
    }

    /// Records with `event == ev`.
    pub fn audit_events(&self, ev: &str) -> Vec<Value> {
        self.audit_lines()
            .into_iter()
            .filter(|v| v["event"] == ev)
            .collect()
    }

    /// `bdctl audit verify` (default file) as root in the namespace.
    pub fn verify(&self) -> Out {
        self.bdctl(&["audit", "verify"])
    }

    /// Assert that `bdctl audit verify` accepts the log.
    pub fn assert_verify_ok(&self, ctx: &str) {
        let v = self.verify();
        assert_eq!(
            v.code(),
            Some(0),
            "{ctx}: `bdctl audit verify` must accept the log\n{v}\n--- audit log ---\n{}",
            String::from_utf8_lossy(&self.audit_bytes())
        );
    }

    /// True when `/var/lib/<name>` exists (markers touched by commands).
    pub fn marker_exists(&self, name: &str) -> bool {
        self.var_lib().join(name).exists()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if std::thread::panicking() {
            loud(&format!(
                "test {} failed: its directory is kept: {}",
                self.name,
                self.dir.display()
            ));
            return;
        }
        if self.keep {
            loud(&format!(
                "test {}: directory kept: {}",
                self.name,
                self.dir.display()
            ));
            return;
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn check_not_nosuid(base: &Path) {
    let c = CString::new(base.as_os_str().as_bytes()).unwrap();
    // SAFETY: statvfs is plain old data; all zeroes is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid C string; st is a properly sized out-parameter.
    let r = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    assert_eq!(
        r,
        0,
        "statvfs {}: {}",
        base.display(),
        std::io::Error::last_os_error()
    );
    assert!(
        st.f_flag & libc::ST_NOSUID == 0,
        "{} is on a nosuid mount: file capabilities would be ignored there; \
         set BELLADONNA_TEST_TMPDIR to a directory on a mount without nosuid",
        base.display()
    );
}

/// The bdexec build `build` at `dest`, mode 0755, with its file
/// capabilities (permitted set only).
fn install_with_caps(build: &Path, dest: &Path) {
    fs::copy(build, dest).unwrap_or_else(|e| panic!("copy {}: {e}", build.display()));
    fs::set_permissions(dest, fs::Permissions::from_mode(0o755)).unwrap();
    let st = Command::new("setcap")
        .arg(BDEXEC_FILE_CAPS)
        .arg(dest)
        .output()
        .expect("run setcap (install libcap2-bin: make deps)");
    assert!(
        st.status.success(),
        "setcap failed: {}",
        String::from_utf8_lossy(&st.stderr)
    );
}

pub fn mkdir_mode(p: &Path, mode: u32) {
    if !p.exists() {
        fs::create_dir(p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
    }
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// PAM for password tests: the service `service` (pam_unix for auth and
/// account) in the layer's /etc/pam.d, also as `belladonna` when the
/// build has no test hooks (no service-name override), and `password`
/// as `user`'s SHA-512 crypt hash in the layer's /etc/shadow (with an
/// account that expired on 1970-01-02 when `expired`).
pub fn pam_password_setup(env: &TestEnv, service: &str, user: &str, password: &str, expired: bool) {
    let pamd = env.etc("pam.d");
    fs::create_dir_all(&pamd).unwrap();
    let text = b"auth required pam_unix.so\naccount required pam_unix.so\n";
    write_mode(&pamd.join(service), text, 0o644);
    if !cfg!(feature = "test-hooks") {
        write_mode(&pamd.join("belladonna"), text, 0o644);
    }
    let mut child = Command::new("openssl")
        .args(["passwd", "-6", "-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run openssl (install openssl: make deps)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "openssl passwd failed");
    let hash = String::from_utf8(o.stdout).unwrap().trim().to_string();
    assert!(hash.starts_with("$6$"), "not a SHA-512 crypt hash: {hash}");
    let shadow_path = env.etc("shadow");
    let shadow = fs::read_to_string(&shadow_path).unwrap();
    let mode = fs::metadata(&shadow_path).unwrap().mode() & 0o7777;
    let patched: String = shadow
        .lines()
        .map(|l| {
            let mut f: Vec<String> = l.split(':').map(str::to_string).collect();
            if f.first().map(String::as_str) == Some(user) && f.len() >= 9 {
                f[1] = hash.clone();
                if expired {
                    f[7] = "1".into();
                }
            }
            f.join(":") + "\n"
        })
        .collect();
    assert_ne!(patched, shadow, "{user} has a shadow entry to patch");
    write_mode(&shadow_path, patched.as_bytes(), mode);
}

pub fn write_mode(p: &Path, content: &[u8], mode: u32) {
    // Replace, don't follow: a test may have left a symlink here.
    let _ = fs::remove_file(p);
    fs::write(p, content).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// Resource limit set by the "caller" just before exec.
#[derive(Clone, Copy, Debug)]
pub struct Rlimit {
    pub resource: libc::__rlimit_resource_t,
    pub soft: u64,
    pub hard: u64,
}

/// How [`enter_ns`] sets up the child before exec. One launcher for
/// every test process (plain runs and terminal sessions alike).
pub struct NsSetup<'a> {
    /// Which of the test's dirs to bind: "run", "log", "lib", "dev" (over
    /// /run, /var/log, /var/lib, /dev).
    pub binds: &'a [&'a str],
    pub user: TestUser,
    /// Effective and saved ids 0 (real ids the user's): bdexec's ids after
    /// it enters root files. Otherwise the user in every id.
    pub effective_root: bool,
    /// A new session first; with `Some(fd)` that terminal (a pty slave
    /// open in the parent) becomes its controlling terminal.
    pub session: Option<Option<i32>>,
    pub cwd: Option<&'a Path>,
    pub umask: Option<u32>,
    pub rlimits: &'a [Rlimit],
    pub close_fds: &'a [i32],
}

/// Make `cmd`'s child enter a fresh private mount namespace with the
/// test's /etc layer and dirs, then become the user (see the module docs).
pub fn enter_ns(cmd: &mut Command, env: &TestEnv, setup: &NsSetup<'_>) {
    let d = &env.dir;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).unwrap();
    let overlay_opts = CString::new(format!("lowerdir={}:/etc", d.join("etc").display())).unwrap();
    let etc = c(Path::new("/etc"));
    let overlay = CString::new("overlay").unwrap();
    let binds: Vec<(CString, CString)> = setup
        .binds
        .iter()
        .map(|b| {
            let dst = match *b {
                "run" => "/run",
                "log" => "/var/log",
                "lib" => "/var/lib",
                "dev" => "/dev",
                other => panic!("unknown bind {other}"),
            };
            let src = d.join(b);
            assert!(src.is_dir(), "harness dir {} exists", src.display());
            (c(&src), c(Path::new(dst)))
        })
        .collect();
    let root = c(Path::new("/"));
    let cwd = setup.cwd.map(c);
    let groups: Vec<libc::gid_t> = setup.user.groups.to_vec();
    let (uid, gid) = (setup.user.uid, setup.user.gid);
    let (eu, eg) = if setup.effective_root {
        (0, 0)
    } else {
        (uid, gid)
    };
    let session = setup.session;
    let umask = setup.umask;
    let rlimits = setup.rlimits.to_vec();
    let close_fds = setup.close_fds.to_vec();
    // SAFETY: the closure only makes system calls on data prepared above
    // (no allocation, no locks): async-signal-safe after fork.
    unsafe {
        cmd.pre_exec(move || {
            fn ck(r: libc::c_int) -> std::io::Result<()> {
                if r == -1 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(())
                }
            }
            if let Some(ctty) = session {
                ck(libc::setsid())?;
                if let Some(slave) = ctty {
                    ck(libc::ioctl(slave, libc::TIOCSCTTY, 0))?;
                }
            }
            ck(libc::unshare(libc::CLONE_NEWNS))?;
            ck(libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            ck(libc::mount(
                overlay.as_ptr(),
                etc.as_ptr(),
                overlay.as_ptr(),
                libc::MS_RDONLY,
                overlay_opts.as_ptr().cast(),
            ))?;
            for (src, dst) in &binds {
                // Recursive: a mount a test makes inside its own log or
                // state directory (a tiny tmpfs for a full disk) is seen.
                ck(libc::mount(
                    src.as_ptr(),
                    dst.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ))?;
            }
            if let Some(cwd) = &cwd {
                ck(libc::chdir(cwd.as_ptr()))?;
            }
            ck(libc::setgroups(groups.len(), groups.as_ptr()))?;
            ck(libc::setresgid(gid, eg, eg))?;
            ck(libc::setresuid(uid, eu, eu))?;
            if let Some(m) = umask {
                libc::umask(m as libc::mode_t);
            }
            for r in &rlimits {
                let l = libc::rlimit {
                    rlim_cur: r.soft,
                    rlim_max: r.hard,
                };
                ck(libc::setrlimit(r.resource, &l))?;
            }
            for fd in &close_fds {
                libc::close(*fd);
            }
            Ok(())
        });
    }
}

/// One process to run inside a fresh private mount namespace.
pub struct Call<'a> {
    env: &'a TestEnv,
    user: TestUser,
    program: PathBuf,
    args: Vec<OsString>,
    vars: Vec<(OsString, OsString)>,
    cwd: PathBuf,
    stdin: Option<Vec<u8>>,
    rlimits: Vec<Rlimit>,
    close_fds: Vec<i32>,
    umask: Option<u32>,
    timeout: Duration,
    what: Option<String>,
    own_dev: bool,
}

impl<'a> Call<'a> {
    fn new(env: &'a TestEnv, user: TestUser, program: PathBuf) -> Self {
        let vars = vec![
            ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
            ("HOME".into(), user.home.into()),
            ("USER".into(), user.name.into()),
            ("LOGNAME".into(), user.name.into()),
        ];
        Call {
            env,
            user,
            program,
            args: Vec::new(),
            vars,
            cwd: PathBuf::from("/"),
            stdin: None,
            rlimits: Vec::new(),
            close_fds: Vec::new(),
            umask: None,
            timeout: DEFAULT_TIMEOUT,
            what: None,
            own_dev: false,
        }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_os_string());
        self
    }
    pub fn args<I, S>(mut self, it: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(it.into_iter().map(|s| s.as_ref().to_os_string()));
        self
    }
    /// An argument given as raw bytes (non-UTF-8 allowed).
    pub fn arg_bytes(self, b: &[u8]) -> Self {
        self.arg(OsStr::from_bytes(b))
    }
    /// Set (or add) an environment variable of the caller.
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        let k = k.as_ref().to_os_string();
        self.vars.retain(|(x, _)| *x != k);
        self.vars.push((k, v.as_ref().to_os_string()));
        self
    }
    /// Start from an empty environment.
    pub fn env_clear(mut self) -> Self {
        self.vars.clear();
        self
    }
    pub fn cwd(mut self, p: impl AsRef<Path>) -> Self {
        self.cwd = p.as_ref().to_path_buf();
        self
    }
    pub fn stdin(mut self, data: &[u8]) -> Self {
        self.stdin = Some(data.to_vec());
        self
    }
    pub fn rlimit(mut self, resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> Self {
        self.rlimits.push(Rlimit {
            resource,
            soft,
            hard,
        });
        self
    }
    /// Close this fd (0, 1 or 2) in the child right before exec.
    pub fn close_fd(mut self, fd: i32) -> Self {
        self.close_fds.push(fd);
        self
    }
    pub fn umask(mut self, m: u32) -> Self {
        self.umask = Some(m);
        self
    }
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    /// Bind the test's `dev` directory ([`TestEnv::dev_dir`]) over
    /// /dev in the child's namespace: a /dev of the test's making (a
    /// syslog socket at /dev/log), with no device in it unless the test
    /// puts one there. The host's /dev is not touched.
    pub fn own_dev(mut self) -> Self {
        self.own_dev = true;
        self
    }
    /// Description used in failure messages.
    pub fn what(mut self, w: String) -> Self {
        self.what = Some(w);
        self
    }

    fn describe(&self) -> String {
        if let Some(w) = &self.what {
            return w.clone();
        }
        let mut s = format!("as {}: {}", self.user.name, self.program.display());
        for a in &self.args {
            let a = String::from_utf8_lossy(a.as_bytes());
            if a.len() > 200 {
                let head: String = a.chars().take(60).collect();
                s.push_str(&format!(" <{} bytes: {head:?}...>", a.len()));
            } else {
                s.push_str(&format!(" {a:?}"));
            }
        }
        s
    }

    /// Start the process (for tests that signal it); collect with [`Running::wait`].
    pub fn spawn(self) -> Running {
        let what = self.describe();
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .current_dir("/")
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        enter_ns(
            &mut cmd,
            self.env,
            &NsSetup {
                binds: if self.own_dev {
                    &["log", "lib", "run", "dev"]
                } else {
                    &["log", "lib", "run"]
                },
                user: self.user,
                effective_root: false,
                session: None,
                cwd: Some(&self.cwd),
                umask: self.umask,
                rlimits: &self.rlimits,
                close_fds: &self.close_fds,
            },
        );
        // ETXTBSY: another test thread forked while this test's copy of a
        // binary was still open for writing (the fd lives in that child
        // until it execs). It passes within milliseconds: retry.
        let mut tries = 0;
        let mut child = loop {
            match cmd.spawn() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                other => break other.unwrap_or_else(|e| panic!("spawn {what}: {e}")),
            }
        };
        let stdin_thread = self.stdin.map(|data| {
            let mut w = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = w.write_all(&data);
            })
        });
        let mut so = child.stdout.take().unwrap();
        let mut se = child.stderr.take().unwrap();
        let out_t = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = so.read_to_end(&mut v);
            v
        });
        let err_t = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = se.read_to_end(&mut v);
            v
        });
        Running {
            child,
            what,
            timeout: self.timeout,
            out_t,
            err_t,
            stdin_t: stdin_thread,
        }
    }

    /// Run it with the test hook paused at `point` (test hooks): whether
    /// it stopped there (it is continued each time), and its output. A
    /// static bdexec that hands the call to its twin may pass the point
    /// twice (src/exec/twin.rs).
    pub fn run_through_pause(self, point: &str) -> (bool, Out) {
        let mut r = self.env("BELLADONNA_TEST_PAUSE", point).spawn();
        let stopped = r.wait_stopped(Duration::from_secs(20));
        if stopped {
            r.resume();
        }
        (stopped, r.wait())
    }

    /// Run to completion (with a time limit) and collect the output.
    pub fn run(self) -> Out {
        self.spawn().wait()
    }
}

/// A started [`Call`].
pub struct Running {
    pub child: Child,
    what: String,
    timeout: Duration,
    out_t: std::thread::JoinHandle<Vec<u8>>,
    err_t: std::thread::JoinHandle<Vec<u8>>,
    stdin_t: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Wait until the process is stopped (state `T`, e.g. after raising
    /// SIGSTOP at a test-hooks pause point). Returns false if it exited
    /// or the time ran out first.
    /// Wait (up to `limit`) until the process is no longer stopped.
    pub fn wait_running(&mut self, limit: Duration) {
        let start = Instant::now();
        while start.elapsed() < limit && self.is_stopped() {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn is_stopped(&self) -> bool {
        fs::read_to_string(format!("/proc/{}/stat", self.pid())).is_ok_and(|stat| {
            // pid (comm) STATE ...; comm may hold spaces: take after the last ')'.
            stat.rsplit_once(')')
                .map(|(_, r)| r.trim_start())
                .is_some_and(|rest| rest.starts_with('T') || rest.starts_with('t'))
        })
    }

    /// Continue a process stopped at a pause point, and again each time
    /// it stops there anew: the static bdexec hands a call that needs PAM
    /// to its twin, which starts the call over in the same process and
    /// reaches the same point again. Returns once it runs on or exited.
    pub fn resume(&mut self) {
        loop {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.pid()),
                nix::sys::signal::SIGCONT,
            )
            .expect("continue bdexec");
            self.wait_running(Duration::from_secs(5));
            if !self.wait_stopped(Duration::from_secs(20)) {
                break;
            }
        }
    }

    pub fn wait_stopped(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if self.is_stopped() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    pub fn kill9(&self) {
        // SAFETY: plain kill(2) on our own child's pid (not yet reaped).
        unsafe {
            libc::kill(self.pid(), libc::SIGKILL);
        }
    }

    /// Wait for the exit (woken by a pidfd the moment it happens, so a
    /// caller timing the call measures it, not a polling step; polling
    /// only where pidfd_open is missing), with the time limit.
    pub fn wait(mut self) -> Out {
        let start = Instant::now();
        let mut nap = Duration::from_micros(200);
        // SAFETY: pidfd_open(2) on our own child's pid (not yet reaped);
        // the returned fd, if any, is owned here and closed on drop.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, self.pid(), 0) };
        let pidfd = (raw >= 0).then(|| {
            // SAFETY: a fresh fd from pidfd_open, owned by nothing else.
            unsafe { std::os::fd::OwnedFd::from_raw_fd(raw as i32) }
        });
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) => {}
                Err(e) => panic!("wait for {}: {e}", self.what),
            }
            if start.elapsed() > self.timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("timed out after {:?}: {}", self.timeout, self.what);
            }
            match &pidfd {
                Some(fd) => {
                    let mut p = libc::pollfd {
                        fd: fd.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd for the duration of the call.
                    unsafe { libc::poll(&mut p, 1, 1000) };
                }
                None => {
                    std::thread::sleep(nap);
                    nap = (nap * 2).min(Duration::from_millis(20));
                }
            }
        };
        if let Some(t) = self.stdin_t.take() {
            let _ = t.join();
        }
        let stdout = self.out_t.join().unwrap_or_default();
        let stderr = self.err_t.join().unwrap_or_default();
        Out {
            what: self.what,
            status,
            stdout,
            stderr,
        }
    }
}

/// The result of a run. `Display` shows everything, for assertion messages.
pub struct Out {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

fn shown(b: &[u8]) -> String {
    const MAX: usize = 4096;
    if b.len() > MAX {
        format!(
            "{}... <{} bytes in all>",
            String::from_utf8_lossy(&b[..MAX]),
            b.len()
        )
    } else {
        String::from_utf8_lossy(b).into_owned()
    }
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--- run: {}\n--- status: {}\n--- stdout:\n{}\n--- stderr:\n{}\n---",
            self.what,
            match (self.status.code(), self.status.signal()) {
                (Some(c), _) => format!("exit {c}"),
                (None, Some(s)) => format!("killed by signal {s}"),
                _ => format!("{:?}", self.status),
            },
            shown(&self.stdout),
            shown(&self.stderr)
        )
    }
}

impl fmt::Debug for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Out {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    /// stdout and stderr together (for "the output mentions X").
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout_str(), self.stderr_str())
    }

    /// Assert the exit code.
    pub fn expect_code(&self, code: i32, ctx: &str) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "{ctx}: expected exit {code}\n{self}"
        );
        self
    }

    /// Assert success (exit 0) with exactly this stdout.
    pub fn expect_stdout(&self, expected: &str, ctx: &str) -> &Self {
        assert_eq!(self.code(), Some(0), "{ctx}: expected exit 0\n{self}");
        assert_eq!(
            self.stdout_str(),
            expected,
            "{ctx}: unexpected stdout\n{self}"
        );
        self
    }

    /// Assert a refusal: exit `code`, nothing on stdout, and exactly one
    /// line on stderr that starts with `bdexec: `.
    pub fn expect_refusal(&self, code: i32, ctx: &str) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "{ctx}: expected refusal with exit {code}\n{self}"
        );
        assert_one_bdexec_line(self, ctx);
        assert!(
            self.stdout.is_empty(),
            "{ctx}: a refusal must print nothing on stdout\n{self}"
        );
        self
    }
}

/// stderr is exactly one line starting with `bdexec: ` (newline-terminated).
pub fn assert_one_bdexec_line(o: &Out, ctx: &str) {
    assert!(
        o.stderr.starts_with(b"bdexec: "),
        "{ctx}: stderr must start with `bdexec: `\n{o}"
    );
    let newlines = o.stderr.iter().filter(|b| **b == b'\n').count();
    assert!(
        newlines == 1 && o.stderr.ends_with(b"\n"),
        "{ctx}: stderr must be exactly one line (found {newlines} newlines)\n{o}"
    );
}

/// The keys of a JSON object line, in the order they appear.
pub fn key_order(line: &[u8]) -> Vec<String> {
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut v = Vec::new();
            while let Some(k) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                v.push(k);
            }
            Ok(v)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(line);
    de.deserialize_map(Keys)
        .unwrap_or_else(|e| panic!("not a JSON object ({e}): {}", String::from_utf8_lossy(line)))
}

/// The non-empty raw lines of a log.
pub fn raw_lines(log: &[u8]) -> Vec<&[u8]> {
    log.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

/// A JSON number, or a string holding one (for uid/gid/seq fields).
pub fn num(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// True when `text` has `word` followed (after at most 3 separator
/// characters like ` `, `=`, `:`) by the number `n`: "line 3", "seq=7".
pub fn mentions_number(text: &str, word: &str, n: u64) -> bool {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(word) {
        let start = from + i + word.len();
        let rest = &lower[start..];
        let skipped: usize = rest
            .chars()
            .take_while(|c| !c.is_ascii_digit() && !c.is_alphabetic() && *c != '\n')
            .map(|c| c.len_utf8())
            .sum();
        if skipped <= 3 {
            let digits: String = rest[skipped..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            if digits.parse::<u64>().ok() == Some(n) {
                return true;
            }
        }
        from = start;
    }
    false
}

/// Wait (up to 10 s) until `p` holds a whole line; its text.
pub fn wait_for_file(p: &Path, what: &str) -> String {
    let start = Instant::now();
    loop {
        if let Ok(s) = fs::read_to_string(p)
            && s.ends_with('\n')
        {
            return s;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Parse `/proc/self/status`-style text into the value of `Key:`.
pub fn status_field<'t>(status: &'t str, key: &str) -> Option<&'t str> {
    status.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .map(str::trim)
    })
}

/// Bytes of an `OsString` (for building hostile arguments).
pub fn os(b: &[u8]) -> OsString {
    OsString::from_vec(b.to_vec())
}

/// A standard policy used by many tests.
///
/// - `alice-basic` (users alice): `/usr/bin/id -u`, `/usr/bin/id -un`,
///   `/usr/bin/whoami` (bare), `/usr/bin/echo *`, `/usr/bin/env` (bare),
///   `/usr/bin/touch /var/lib/marker`, `/usr/bin/cat /proc/self/status`,
///   `/bin/sh -c "exit 42"`; run_as root and bob.
/// - `ops-group` (groups ops): `/usr/bin/id -g`.
/// - `bob-by-uid` (users "#61002"): `/usr/bin/id -u`.
pub const STD_POLICY: &str = r##"version = 1

[defaults]
secure_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
env_keep = ["TERM", "LANG", "LC_*"]
umask = "0022"

[[rule]]
name = "alice-basic"
users = ["alice"]
run_as = ["root", "bob"]
commands = [
  "/usr/bin/id -u",
  "/usr/bin/id -un",
  "/usr/bin/whoami",
  "/usr/bin/echo *",
  "/usr/bin/env",
  "/usr/bin/touch /var/lib/marker",
  "/usr/bin/cat /proc/self/status",
  "/bin/sh -c \"exit 42\"",
]
auth = "none"

[[rule]]
name = "ops-group"
groups = ["ops"]
commands = ["/usr/bin/id -g"]
auth = "none"

[[rule]]
name = "bob-by-uid"
users = ["#61002"]
commands = ["/usr/bin/id -u"]
auth = "none"
"##;

/// For the tests of a file that depend on stamps (the policy cache, the
/// memos): each takes [`serial`] first, so they run one at a time. Each
/// call mounts its own overlay on /etc, and a file seen through it
/// carries the overlay's anonymous device number, which a mount made
/// meanwhile by a test running in parallel shifts: stamps include the
/// device, so a settled file would look changed and such tests fail at
/// random. (A host's /etc is mounted once: its device numbers do not
/// move.)
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}
