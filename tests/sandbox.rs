//! Sandbox and capability enforcement, proved with a try-syscall probe
//! (tests/probe/probe.c) run as the target on the real kernel: what the
//! kernel did, not what a message says.

#[macro_use]
mod common;
use common::*;
use std::path::{Path, PathBuf};

const PROBE_SRC: &str = include_str!("probe/probe.c");

fn probe(env: &TestEnv) -> PathBuf {
    env.compile_c("probe", PROBE_SRC)
}

/// A policy with one profile `box` and rules for alice that run the
/// probe as bob and as root inside it.
fn sandboxed(env: &TestEnv, profile: &str, extra_rules: &str) -> PathBuf {
    let p = probe(env);
    let scratch = env.scratch();
    std::fs::create_dir_all(&scratch).unwrap();
    mkdir_mode(&scratch, 0o777);
    env.policy(&format!(
        r#"version = 1

[sandbox.box]
{profile}

[[rule]]
name = "boxed"
users = ["alice"]
run_as = ["bob", "root"]
commands = ["{probe} *"]
auth = "none"
sandbox = "box"

{extra_rules}
"#,
        probe = p.display(),
        profile = profile.replace("SCRATCH", &scratch.display().to_string()),
    ));
    p
}

fn run_probe(env: &TestEnv, target: &str, probe: &Path, args: &[&str]) -> Out {
    let p = probe.display().to_string();
    let mut v = vec!["-u", target, "--", p.as_str()];
    v.extend_from_slice(args);
    env.run_as_user("alice", &v)
}

fn says(o: &Out, word: &str, ctx: &str) {
    assert_eq!(o.stdout_str().trim(), word, "{ctx}\n{o}");
}

#[test]
fn landlock_confines_files() {
    let env = test_env!("landlock_confines_files");
    let p = sandboxed(
        &env,
        "[sandbox.box.landlock]\nread = [\"/etc/hostname\", \"/proc\"]\nwrite = [\"SCRATCH\"]\n",
        "",
    );
    let scratch = env.scratch().display().to_string();
    for target in ["bob", "root"] {
        says(
            &run_probe(&env, target, &p, &["read", "/etc/hostname"]),
            "ok",
            target,
        );
        let o = run_probe(&env, target, &p, &["read", "/etc/passwd"]);
        says(
            &o,
            "EACCES",
            &format!("{target}: /etc/passwd is outside the profile"),
        );
        let f = format!("{scratch}/{target}-file");
        says(&run_probe(&env, target, &p, &["write", &f]), "ok", target);
        let o = run_probe(&env, target, &p, &["write", "/var/lib/escape"]);
        says(
            &o,
            "EACCES",
            &format!("{target}: write outside the profile"),
        );
    }
    // root in a sandbox keeps no capabilities: it cannot read what only
    // CAP_DAC_OVERRIDE would allow, even inside the granted tree.
    let o = run_probe(&env, "root", &p, &["status"]);
    let out = o.stdout_str();
    assert_eq!(
        status_field(&out, "CapEff"),
        Some("0000000000000000"),
        "{o}"
    );
    assert_eq!(
        status_field(&out, "CapBnd"),
        Some("0000000000000000"),
        "{o}"
    );
    assert_eq!(status_field(&out, "NoNewPrivs"), Some("1"), "{o}");
    let accepts = env.audit_events("accept");
    let last = accepts.last().expect("accept records");
    assert_eq!(
        last["sandbox"], "box",
        "the record names the profile: {last}"
    );
    let conf = last["confinement"].as_str().unwrap_or_default();
    assert!(
        conf.contains("landlock"),
        "the record says what was enforced: {last}"
    );
    env.assert_verify_ok("after sandboxed runs");
}

#[test]
fn landlock_confines_ports() {
    let env = test_env!("landlock_confines_ports");
    let p = sandboxed(
        &env,
        "[sandbox.box.landlock]\nread = [\"/etc\"]\nbind_tcp = [18080]\nconnect_tcp = [18081]\n",
        "",
    );
    says(
        &run_probe(&env, "bob", &p, &["bind", "18080"]),
        "ok",
        "granted port",
    );
    says(
        &run_probe(&env, "bob", &p, &["bind", "18082"]),
        "EACCES",
        "bind outside the list",
    );
    // Connecting to a granted port with nobody listening is refused by the
    // network, not by Landlock.
    says(
        &run_probe(&env, "bob", &p, &["connect", "18081"]),
        "ECONNREFUSED",
        "granted connect",
    );
    says(
        &run_probe(&env, "bob", &p, &["connect", "18083"]),
        "EACCES",
        "connect outside the list",
    );
}

#[test]
fn seccomp_errno_and_kill_modes() {
    let env = test_env!("seccomp_errno_and_kill_modes");
    let p = sandboxed(
        &env,
        "[sandbox.box.seccomp]\ndeny = [\"uname\"]\naction = \"errno\"\n",
        "",
    );
    says(
        &run_probe(&env, "bob", &p, &["uname"]),
        "EPERM",
        "denied syscall, errno mode",
    );
    says(
        &run_probe(&env, "bob", &p, &["read", "/etc/hostname"]),
        "ok",
        "other syscalls work",
    );

    let p = sandboxed(
        &env,
        "[sandbox.box.seccomp]\ndeny = [\"uname\"]\naction = \"kill\"\n",
        "",
    );
    let o = run_probe(&env, "bob", &p, &["uname"]);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        o.status.signal(),
        Some(libc::SIGSYS),
        "kill mode kills the process\n{o}"
    );
}

#[test]
fn baseline_denials_in_every_profile() {
    let env = test_env!("baseline_denials_in_every_profile");
    // A profile with only Landlock still carries the seccomp baseline.
    let p = sandboxed(&env, "[sandbox.box.landlock]\nread = [\"/etc\"]\n", "");
    for target in ["bob", "root"] {
        says(
            &run_probe(&env, target, &p, &["ptrace"]),
            "EPERM",
            "ptrace is always denied",
        );
        // TIOCSTI (and with the upper 32 bits set) fails with EPERM, not
        // ENOTTY: the filter, not the tty layer, stopped it.
        says(
            &run_probe(&env, target, &p, &["tiocsti"]),
            "EPERM",
            "TIOCSTI is always denied",
        );
    }
    // Learning mode: the listed syscall is only logged, the baseline holds.
    let p = sandboxed(
        &env,
        "[sandbox.box.seccomp]\ndeny = [\"uname\"]\naction = \"log\"\n",
        "",
    );
    says(
        &run_probe(&env, "bob", &p, &["uname"]),
        "ok",
        "log mode allows",
    );
    says(
        &run_probe(&env, "bob", &p, &["ptrace"]),
        "EPERM",
        "baseline in log mode",
    );
}

#[test]
fn capability_only_grant_for_non_root_target() {
    let env = test_env!("capability_only_grant_for_non_root_target");
    let p = probe(&env);
    let owned = env.scratch().join("owned");
    std::fs::create_dir_all(env.scratch()).unwrap();
    std::fs::write(&owned, b"x").unwrap();
    std::os::unix::fs::chown(&owned, Some(BOB.uid), Some(BOB.gid)).unwrap();
    env.policy(&format!(
        r#"version = 1
[[rule]]
name = "web"
users = ["alice"]
run_as = ["bob", "root"]
commands = ["{probe} *"]
auth = "none"
caps = ["net_bind_service"]
"#,
        probe = p.display()
    ));
    says(
        &run_probe(&env, "bob", &p, &["bind", "80"]),
        "ok",
        "net_bind_service lets bob bind 80",
    );
    let o = run_probe(&env, "bob", &p, &["chown", &owned.display().to_string()]);
    says(&o, "EPERM", "but not chown");
    let o = run_probe(&env, "bob", &p, &["status"]);
    let out = o.stdout_str();
    let bit = format!("{:016x}", 1u64 << 10 /* CAP_NET_BIND_SERVICE */);
    for f in ["CapEff", "CapPrm", "CapAmb", "CapBnd"] {
        assert_eq!(
            status_field(&out, f),
            Some(bit.as_str()),
            "{f} is exactly the grant\n{o}"
        );
    }
    // A root target with caps keeps only those.
    let o = run_probe(&env, "root", &p, &["status"]);
    let out = o.stdout_str();
    assert_eq!(
        status_field(&out, "Uid").map(|u| u.split_whitespace().next()),
        Some(Some("0")),
        "{o}"
    );
    for f in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(
            status_field(&out, f),
            Some(bit.as_str()),
            "root: {f} is exactly the grant\n{o}"
        );
    }
    let o = run_probe(&env, "root", &p, &["chown", &owned.display().to_string()]);
    says(&o, "EPERM", "root with caps cannot exceed them");
}

#[test]
fn policy_changed_between_decision_and_apply_is_refused() {
    let env = test_env!("policy_changed_between_decision_and_apply_is_refused");
    let p = sandboxed(&env, "[sandbox.box.landlock]\nread = [\"/etc\"]\n", "");
    let pp = p.display().to_string();
    let mut running = env
        .bdexec("alice")
        .env("BELLADONNA_TEST_PAUSE", "before-recheck")
        .args(["-u", "bob", "--", pp.as_str(), "uname"])
        .spawn();
    assert!(
        running.wait_stopped(std::time::Duration::from_secs(20)),
        "bdexec paused"
    );
    // Change the meaning of the policy while bdexec waits.
    let text = std::fs::read_to_string(env.policy_path()).unwrap();
    // Rewrite in place (same inode): the running bdexec's namespace sees
    // the test's /etc layer through an overlay, which keeps old inodes.
    std::fs::write(
        env.policy_path(),
        text.replace("[\"/etc\"]", "[\"/etc\", \"/usr\"]"),
    )
    .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(running.pid()),
        nix::sys::signal::SIGCONT,
    )
    .unwrap();
    let o = running.wait();
    o.expect_refusal(1, "policy changed underneath");
    assert!(o.stderr_str().contains("policy changed"), "{o}");
    let rejects = env.audit_events("reject");
    let r = rejects.last().expect("a reject record");
    let reason = r["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("policy changed"), "{r}");
    assert!(
        reason.matches(|c: char| c.is_ascii_hexdigit()).count() >= 128,
        "both hashes named: {r}"
    );

    // A change that does not change the meaning (a comment) is fine.
    let mut running = env
        .bdexec("alice")
        .env("BELLADONNA_TEST_PAUSE", "before-recheck")
        .args(["-u", "bob", "--", pp.as_str(), "uname"])
        .spawn();
    assert!(
        running.wait_stopped(std::time::Duration::from_secs(20)),
        "bdexec paused"
    );
    let text = std::fs::read_to_string(env.policy_path()).unwrap();
    std::fs::write(env.policy_path(), format!("# reviewed\n{text}")).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(running.pid()),
        nix::sys::signal::SIGCONT,
    )
    .unwrap();
    running
        .wait()
        .expect_stdout("ok\n", "a comment does not change the hash");
}

/// `bdctl doctor` reports the kernel's Landlock ABI, the installed
/// binary's capabilities and what each profile enforces; it names a rule
/// whose grant the binary lacks and fails.
#[test]
fn doctor_reports_host_and_grants() {
    let env = test_env!("doctor_reports_host_and_grants");
    let p = probe(&env);
    env.policy(&format!(
        r#"version = 1
[sandbox.box.landlock]
read = ["/etc"]
bind_tcp = [8080]
[[rule]]
name = "ok-grant"
users = ["alice"]
commands = ["{probe}"]
auth = "none"
caps = ["net_bind_service"]
sandbox = "box"
[[rule]]
name = "needs-more"
users = ["alice"]
commands = ["{probe} status"]
auth = "none"
caps = ["net_admin"]
"#,
        probe = p.display()
    ));
    let bd = env.bdexec_path().display().to_string();
    let o = env.bdctl(&["doctor", "--bdexec", &bd]);
    let out = o.stdout_str();
    assert!(out.contains("landlock: ABI"), "{o}");
    assert!(
        out.contains("setpcap") && out.contains("net_bind_service"),
        "{o}"
    );
    assert!(out.contains("box:"), "profiles are described\n{o}");
    assert!(out.contains("rule needs-more grants net_admin"), "{o}");
    assert!(!out.contains("rule ok-grant"), "{o}");
    o.expect_code(1, "doctor fails on a grant the binary lacks");
    assert!(
        out.contains("its twin for PAM") && out.contains("ok   root's, not writable"),
        "the twin is checked too\n{o}"
    );
    assert!(
        !out.contains("capabilities are not bdexec's"),
        "same capabilities\n{o}"
    );
    // A twin bdexec would refuse, or one without bdexec's capabilities.
    let twin = env.twin_path();
    std::fs::set_permissions(
        &twin,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o775),
    )
    .unwrap();
    let o = env.bdctl(&["doctor", "--bdexec", &bd]);
    assert!(
        o.stdout_str().contains("writable") && o.stdout_str().contains("refuses to use it"),
        "{o}"
    );
    std::fs::set_permissions(
        &twin,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
    )
    .unwrap();
    let st = std::process::Command::new("setcap")
        .args(["cap_setuid,cap_setgid=p"])
        .arg(&twin)
        .status()
        .unwrap();
    assert!(st.success());
    let o = env.bdctl(&["doctor", "--bdexec", &bd]);
    assert!(
        o.stdout_str().contains("capabilities are not bdexec's"),
        "{o}"
    );
    // And bdexec itself refuses that rule clearly.
    env.run_as_user("alice", &["--", &p.display().to_string(), "status"])
        .expect_refusal(1, "a grant bdexec cannot give");
}

/// A caller that confined itself first (a seccomp filter that makes the
/// audit log's fdatasync fail, or a Landlock domain that forbids writing
/// files) must not get a half-working bdexec: both need no_new_privs for
/// an unprivileged caller, so bdexec refuses at start (exit 5), runs
/// nothing, and the log is untouched.
#[test]
fn pre_confined_caller_is_refused() {
    let env = test_env!("pre_confined_caller_is_refused");
    env.policy(STD_POLICY);
    let wrapper = env.compile_c("preconfined", include_str!("probe/preconfined.c"));
    let bd = env.bdexec_path().display().to_string();
    for how in ["seccomp", "landlock"] {
        let o = env
            .program("alice", &wrapper)
            .args([how, bd.as_str(), "--", "/usr/bin/touch", "/var/lib/marker"])
            .run();
        o.expect_refusal(5, &format!("caller pre-applied {how}"));
        assert!(o.stderr_str().contains("no_new_privs"), "{o}");
        assert!(!env.marker_exists("marker"), "{o}");
    }
    assert!(
        env.audit_bytes().is_empty(),
        "nothing was recorded or written"
    );
}

/// A root process outside every sandbox (the victim) and an abstract
/// unix socket served outside (by this test, as root).
struct Outside {
    victim: std::process::Child,
    listener: std::os::unix::net::UnixListener,
    name: String,
}

impl Outside {
    fn start(tag: &str) -> Outside {
        use std::os::linux::net::SocketAddrExt;
        let victim = std::process::Command::new("/bin/sleep")
            .arg("300")
            .spawn()
            .expect("start a root process");
        let name = format!("belladonna-test-{tag}-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = std::os::unix::net::UnixListener::bind_addr(&addr).expect("bind");
        Outside {
            victim,
            listener,
            name,
        }
    }

    fn pid(&self) -> String {
        self.victim.id().to_string()
    }

    fn victim_alive(&mut self) -> bool {
        self.victim.try_wait().unwrap().is_none()
    }

    /// The uid of the client of the next queued connection (SO_PEERCRED).
    fn accept_peer_uid(&self) -> u32 {
        use std::os::fd::AsRawFd;
        let (s, _) = self.listener.accept().expect("accept");
        let mut cred = libc::ucred {
            pid: 0,
            uid: u32::MAX,
            gid: 0,
        };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: SO_PEERCRED writes at most `len` bytes into `cred`, a
        // live, aligned local; the socket fd is open.
        let rc = unsafe {
            libc::getsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut cred as *mut libc::ucred).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0, "SO_PEERCRED");
        cred.uid
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = self.victim.kill();
        let _ = self.victim.wait();
    }
}

/// A sandboxed root target is uid 0 to the rest of the host. With a
/// `[landlock]` table that does not write `scope`, both Landlock scopes
/// apply to a root target: it cannot signal an unrelated root process nor
/// connect to an abstract unix socket served outside. With `scope = []`
/// (the explicit opt-out) it can do both, which shows the probe can fail.
#[test]
fn landlock_scopes_root_target_by_default() {
    let env = test_env!("landlock_scopes_root_target_by_default");
    if belladonna::sandbox::landlock::kernel_abi() < 6 {
        eprintln!("SKIPPED (Landlock ABI < 6, no scopes on this kernel)");
        return;
    }
    let mut out = Outside::start("scoped");
    let p = sandboxed(&env, "[sandbox.box.landlock]\nread = [\"/etc\"]\n", "");
    let o = run_probe(&env, "root", &p, &["kill", &out.pid()]);
    says(&o, "EPERM", "root in the sandbox signals a root process");
    assert!(out.victim_alive(), "the victim was killed");
    let o = run_probe(&env, "root", &p, &["abstract", &out.name]);
    says(
        &o,
        "EPERM",
        "root in the sandbox connects to an abstract socket",
    );
    let accepts = env.audit_events("accept");
    let last = accepts.last().expect("accept records");
    let conf = last["confinement"].as_str().unwrap_or_default();
    assert!(
        conf.contains("scope=signal,abstract_unix"),
        "the record says the scopes were enforced: {last}"
    );
    // A non-root target gets no default scopes (its record says so).
    let o = run_probe(&env, "bob", &p, &["abstract", &out.name]);
    says(&o, "ok", "bob's sandbox has no default scopes");
    assert_eq!(out.accept_peer_uid(), BOB.uid);
    let accepts = env.audit_events("accept");
    let conf = accepts.last().expect("accept")["confinement"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!conf.contains("scope"), "{conf}");

    // The explicit opt-out: the same root target reaches both.
    let p = sandboxed(
        &env,
        "[sandbox.box.landlock]\nread = [\"/etc\"]\nscope = []\n",
        "",
    );
    let o = run_probe(&env, "root", &p, &["abstract", &out.name]);
    says(&o, "ok", "scope = []: the abstract socket is reachable");
    assert_eq!(out.accept_peer_uid(), 0, "and its server sees uid 0");
    let o = run_probe(&env, "root", &p, &["kill", &out.pid()]);
    says(&o, "ok", "scope = []: the root process can be signalled");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.victim.wait().unwrap().signal(),
        Some(libc::SIGTERM),
        "the victim died of the sandboxed root's SIGTERM"
    );
}

/// `bdctl policy check` warns about a sandboxed root rule without both
/// scopes.
#[test]
fn lint_warns_sandboxed_root_without_scopes() {
    let env = test_env!("lint_warns_sandboxed_root_without_scopes");
    let _ = sandboxed(
        &env,
        "[sandbox.box.landlock]\nread = [\"/etc\"]\nscope = [\"signal\"]\n",
        "",
    );
    let o = env.bdctl(&["policy", "check"]);
    assert!(
        o.stdout_str().contains(
            "WARN: rule \"boxed\" runs as root in sandbox \"box\" without the Landlock scope abstract_unix"
        ),
        "{o}"
    );
}
