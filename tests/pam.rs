//! PAM password authentication and the timestamp cache, against real PAM
//! (a test service with pam_unix, a test user whose password the test
//! sets in the layer's /etc/shadow) driven through a real pseudo-terminal.
//!
//! The module is exercised in-process, the way bdexec's auth step calls
//! it: this test binary re-executes itself (`--exact pam_child`) as a
//! child that is the leader of a new session whose controlling terminal
//! is the pty's slave, inside a private mount namespace with the test's
//! /etc layer and /run, with real uid alice and effective uid 0 (bdexec's
//! ids after `enter_root_files`). Its fds 0-2 are /dev/null and files:
//! prompts must reach the pty through the controlling terminal. The
//! parent plays the user on the pty's master side.

#[macro_use]
mod common;
use common::*;

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "BELLADONNA_PAM_TEST_SCENARIO";
const SERVICE: &str = "belladonna-test";
const PASSWORD: &str = "Correct horse 42";
const WRONG: &str = "not-the-password";
const PROMPT: &str = "[bdexec] password for alice: ";
const TIMEOUT_SECS: u64 = 300;

// ---------------------------------------------------------------- child

/// The child side. Does nothing in a normal test run (no scenario set).
#[test]
fn pam_child() {
    let Ok(scenario) = std::env::var(CHILD_ENV) else {
        return;
    };
    child::run(&scenario);
}

mod child {
    use belladonna::auth::pam;
    use belladonna::auth::timestamp::{self, Session};
    use belladonna::auth::tty::TtyPrompt;
    use std::os::fd::AsFd;
    use std::time::Duration;

    fn out(line: &str) {
        println!("STEP {line}");
    }

    /// One bdexec-like auth step: the timestamp, else PAM, then update.
    fn call(interactive: bool) {
        let state = belladonna::state::open_state_dir().expect("state dir");
        let uid = nix::unistd::getuid().as_raw();
        let prompt = if interactive {
            match TtyPrompt::open() {
                Ok(p) => p,
                Err(e) => return out(&format!("refused: {e}")),
            }
        } else {
            TtyPrompt::none()
        };
        let timeout = Duration::from_secs(super::TIMEOUT_SECS);
        let session = Session::current();
        let check = match &session {
            Ok(s) => timestamp::valid(state.as_fd(), uid, s, timeout)
                .map(|c| c.to_string())
                .unwrap_or_else(|e| format!("error: {e}")),
            Err(e) => format!("no session: {e}"),
        };
        if check == "valid" {
            return out("cached");
        }
        match pam::authenticate("alice", &prompt, pam::DEFAULT_TRIES) {
            Ok(()) => {
                if let Ok(s) = &session {
                    timestamp::update(state.as_fd(), uid, s).expect("update");
                }
                out(&format!("authenticated [{check}]"));
            }
            Err(e) => out(&format!("refused: {e} [{check}]")),
        }
    }

    fn ts_path() -> String {
        format!("/run/belladonna/ts/{}", nix::unistd::getuid().as_raw())
    }

    fn edit_time(delta_ns: i64) {
        let p = ts_path();
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&p).expect("read ts")).expect("json");
        for r in v["records"].as_array_mut().expect("records") {
            let t = r["time_ns"].as_u64().expect("time") as i64 + delta_ns;
            r["time_ns"] = serde_json::json!(t);
        }
        // Rewritten in place: still root's, 0600, one link.
        std::fs::write(&p, serde_json::to_vec(&v).expect("json")).expect("write ts");
    }

    fn echo_is_on() -> bool {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .expect("open /dev/tty");
        let t = nix::sys::termios::tcgetattr(&f).expect("tcgetattr");
        t.local_flags.contains(nix::sys::termios::LocalFlags::ECHO)
    }

    pub fn run(scenario: &str) {
        match scenario {
            "once" => {
                out(&format!("account_ok {:?}", pam::account_ok("alice")));
                call(true);
            }
            "cache-remove" => {
                call(true);
                call(true);
                let state = belladonna::state::open_state_dir().expect("state dir");
                timestamp::remove(state.as_fd(), nix::unistd::getuid().as_raw()).expect("remove");
                out(&format!(
                    "removed exists={}",
                    std::path::Path::new(&ts_path()).exists()
                ));
                call(true);
            }
            "single" => call(true),
            "as-bdexec" => {
                // bdexec's state after enter_root_files: effective uid 0
                // with no effective capability (no DAC override).
                caps::clear(None, caps::CapSet::Effective).expect("clear effective caps");
                call(true);
            }
            "future" => {
                call(true);
                edit_time(3_600_000_000_000);
                call(true);
            }
            "past-ok" => {
                // A record 10 s old is still inside the timeout.
                call(true);
                edit_time(-10_000_000_000);
                call(true);
            }
            "user-owned" => {
                call(true);
                std::os::unix::fs::chown(ts_path(), Some(61001), Some(61001)).expect("chown");
                call(true);
            }
            "symlink" => {
                call(true);
                let real = format!("{}.planted", ts_path());
                std::fs::rename(ts_path(), &real).expect("mv");
                std::os::unix::fs::symlink(&real, ts_path()).expect("symlink");
                call(true);
            }
            "noninteractive" => {
                // No timestamp, -n: must fail without prompting.
                let r = pam::authenticate("alice", &TtyPrompt::none(), 3);
                out(&format!(
                    "none: {r:?} / {}",
                    r.as_ref().err().map(|e| e.to_string()).unwrap_or_default()
                ));
            }
            "no-tty" => match TtyPrompt::open() {
                Ok(_) => out("opened a terminal"),
                Err(e) => out(&format!("open: {e}")),
            },
            "expired" => {
                out(&format!("account_ok {:?}", pam::account_ok("alice")));
                call(true);
            }
            "sigint" => {
                call(true);
                out(&format!("echo_on {}", echo_is_on()));
            }
            other => panic!("unknown scenario {other}"),
        }
    }
}

// --------------------------------------------------------------- parent

/// Set up PAM's test service and alice's password (and optionally an
/// account that expired on 1970-01-02).
fn setup(env: &TestEnv, expired: bool) {
    pam_password_setup(env, SERVICE, "alice", PASSWORD, expired);
}

struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
}

fn pty() -> Pty {
    let p = nix::pty::openpty(None, None).expect("openpty");
    for fd in [&p.master, &p.slave] {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .expect("cloexec");
    }
    Pty {
        master: p.master,
        slave: p.slave,
    }
}

/// A pty whose slave is left as a login leaves the user's terminal:
/// owned by `user`, group tty, mode 0620 (openpty as root makes it root's).
fn user_owned_pty(user: &TestUser) -> Pty {
    let p = pty();
    let tty_gid = nix::unistd::Group::from_name("tty")
        .ok()
        .flatten()
        .map_or(5, |g| g.gid.as_raw());
    nix::unistd::fchown(
        &p.slave,
        Some(nix::unistd::Uid::from_raw(user.uid)),
        Some(nix::unistd::Gid::from_raw(tty_gid)),
    )
    .expect("fchown pty");
    nix::sys::stat::fchmod(&p.slave, nix::sys::stat::Mode::from_bits_truncate(0o620))
        .expect("fchmod pty");
    let st = nix::sys::stat::fstat(&p.slave).expect("fstat pty");
    assert_eq!(
        (st.st_uid, st.st_gid, st.st_mode & 0o7777),
        (user.uid, tty_gid, 0o620),
        "the pty is the user's, as after a login"
    );
    p
}

/// What the user does at the n-th prompt (0-based).
enum Answer {
    Type(&'static str),
    Signal(i32),
}

struct Transcript {
    /// STEP lines the child printed.
    steps: Vec<String>,
    /// Everything that appeared on the terminal.
    tty: String,
    prompts: usize,
    stdout: String,
}

impl Transcript {
    fn show(&self) -> String {
        format!(
            "--- steps: {:#?}\n--- terminal:\n{}\n--- child stdout:\n{}",
            self.steps, self.tty, self.stdout
        )
    }
}

/// Run the child for `scenario`; with `ctty` the pty's slave is its
/// controlling terminal. `answer(n)` is called for the n-th prompt.
fn run_child(
    env: &TestEnv,
    scenario: &str,
    p: &Pty,
    ctty: bool,
    mut answer: impl FnMut(usize) -> Answer,
) -> Transcript {
    let out_path = env
        .scratch()
        .join(format!("child-{scenario}-{}.out", std::process::id()));
    let out_file = fs::File::create(&out_path).unwrap();
    let err_file = out_file.try_clone().unwrap();

    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "pam_child",
        "--nocapture",
        "--test-threads=1",
        "-q",
    ])
    .env_clear()
    .env(CHILD_ENV, scenario)
    .env("BELLADONNA_TEST_PAM_SERVICE", SERVICE)
    .env("RUST_BACKTRACE", "1")
    .current_dir("/")
    .stdin(Stdio::null())
    .stdout(Stdio::from(out_file))
    .stderr(Stdio::from(err_file));
    // bdexec's ids after enter_root_files: real = caller, effective 0.
    in_session_ns(&mut cmd, env, p, ctty, &["run"], true);
    let mut child = cmd.spawn().expect("spawn child");
    let (status, tty, prompts) = converse(p, &mut child, &mut answer, scenario);
    let stdout = fs::read_to_string(&out_path).unwrap_or_default();
    let t = Transcript {
        steps: stdout
            .lines()
            .filter_map(|l| l.strip_prefix("STEP ").map(str::to_string))
            .collect(),
        tty,
        prompts,
        stdout,
    };
    assert!(
        status.success(),
        "child {scenario} failed: {status}\n{}",
        t.show()
    );
    assert!(
        !t.tty.contains(PASSWORD) && !t.tty.contains(WRONG),
        "a password was echoed\n{}",
        t.show()
    );
    t
}

/// Make `cmd` start as the leader of a new session (with the pty's slave
/// as controlling terminal when `ctty`), in a private mount namespace with
/// the test's /etc layer and the test's dirs named in `binds` ("run",
/// "log", "lib" -> /run, /var/log, /var/lib), as alice: with
/// `effective_root` real ids alice and effective/saved 0 (bdexec's ids
/// after `enter_root_files`), otherwise alice in every id.
fn in_session_ns(
    cmd: &mut Command,
    env: &TestEnv,
    p: &Pty,
    ctty: bool,
    binds: &[&str],
    effective_root: bool,
) {
    let slave = p.slave.as_raw_fd();
    common::enter_ns(
        cmd,
        env,
        &common::NsSetup {
            binds,
            user: ALICE,
            effective_root,
            session: Some(ctty.then_some(slave)),
            cwd: None,
            umask: None,
            rlimits: &[],
            close_fds: &[],
        },
    );
}

/// Play the user on the pty's master side until `child` exits: answer
/// the n-th password prompt with `answer(n)`, collect what the terminal
/// showed (draining it after the exit). Returns (status, terminal text,
/// prompts seen).
fn converse(
    p: &Pty,
    child: &mut std::process::Child,
    answer: &mut impl FnMut(usize) -> Answer,
    what: &str,
) -> (std::process::ExitStatus, String, usize) {
    let mut tty = Vec::new();
    let mut prompts = 0;
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    let poll = |ms| {
        let mut pfd = libc::pollfd {
            fd: p.master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd on an open fd.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        rc > 0 && pfd.revents & libc::POLLIN != 0
    };
    let status = loop {
        if poll(50) {
            if let Ok(n) = nix::unistd::read(&p.master, &mut buf) {
                tty.extend_from_slice(&buf[..n]);
            }
            let seen = String::from_utf8_lossy(&tty).matches(PROMPT).count();
            while prompts < seen {
                match answer(prompts) {
                    Answer::Type(s) => {
                        nix::unistd::write(&p.master, format!("{s}\n").as_bytes()).unwrap();
                    }
                    Answer::Signal(sig) => {
                        // SAFETY: kill(2) on our own, not yet reaped child.
                        unsafe { libc::kill(child.id() as i32, sig) };
                    }
                }
                prompts += 1;
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} timed out; terminal so far:\n{}",
                String::from_utf8_lossy(&tty)
            );
        }
    };
    // Drain what is left on the terminal.
    while poll(20) {
        match nix::unistd::read(&p.master, &mut buf) {
            Ok(n) if n > 0 => tty.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    (status, String::from_utf8_lossy(&tty).into_owned(), prompts)
}

fn env_with_password(name: &str, expired: bool) -> Option<TestEnv> {
    let env = TestEnv::new(name)?;
    setup(&env, expired);
    Some(env)
}

macro_rules! pam_env {
    ($name:expr) => {
        match env_with_password(concat!(module_path!(), "::", $name), false) {
            Some(e) => e,
            None => return,
        }
    };
}

#[test]
fn correct_password_is_accepted() {
    let env = pam_env!("correct_password_is_accepted");
    let p = pty();
    let t = run_child(&env, "once", &p, true, |_| Answer::Type(PASSWORD));
    assert_eq!(t.prompts, 1, "{}", t.show());
    assert_eq!(t.steps[0], "account_ok Ok(())", "{}", t.show());
    assert!(t.steps[1].starts_with("authenticated"), "{}", t.show());
}

#[test]
fn wrong_password_is_refused_after_three_tries() {
    let env = pam_env!("wrong_password_is_refused_after_three_tries");
    let p = pty();
    let t = run_child(&env, "single", &p, true, |_| Answer::Type(WRONG));
    assert_eq!(t.prompts, 3, "{}", t.show());
    assert_eq!(
        t.tty.matches("Sorry, try again.").count(),
        2,
        "{}",
        t.show()
    );
    assert!(
        t.steps[0].starts_with("refused: 3 incorrect password attempts"),
        "{}",
        t.show()
    );
    // Right on the last try is fine.
    let t = run_child(&env, "single", &p, true, |n| {
        Answer::Type(if n < 2 { WRONG } else { PASSWORD })
    });
    assert_eq!(t.prompts, 3, "{}", t.show());
    assert!(t.steps[0].starts_with("authenticated"), "{}", t.show());
}

#[test]
fn timestamp_skips_second_prompt_and_remove_drops_it() {
    let env = pam_env!("timestamp_skips_second_prompt_and_remove_drops_it");
    let p = pty();
    let t = run_child(&env, "cache-remove", &p, true, |_| Answer::Type(PASSWORD));
    assert_eq!(t.prompts, 2, "{}", t.show());
    assert_eq!(
        t.steps[0],
        "authenticated [no timestamp for this session]",
        "{}",
        t.show()
    );
    assert_eq!(t.steps[1], "cached", "{}", t.show());
    assert_eq!(t.steps[2], "removed exists=false", "{}", t.show());
    assert_eq!(
        t.steps[3],
        "authenticated [no timestamp for this session]",
        "{}",
        t.show()
    );
    // The file is root's, 0600, in a 0700 root directory.
    let ts = env.run_dir().join("belladonna/ts");
    let m = fs::metadata(&ts).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::mode(&m) & 0o7777, 0o700);
    let f = fs::metadata(ts.join(ALICE.uid.to_string())).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::mode(&f) & 0o7777, 0o600);
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&f), 0);
    // A record that is a little old is still good.
    let t = run_child(&env, "past-ok", &p, true, |_| Answer::Type(PASSWORD));
    assert_eq!(
        t.steps.get(1).map(String::as_str),
        Some("cached"),
        "{}",
        t.show()
    );
}

#[test]
fn timestamp_from_another_session_is_ignored() {
    let env = pam_env!("timestamp_from_another_session_is_ignored");
    let p = pty();
    let t = run_child(&env, "single", &p, true, |_| Answer::Type(PASSWORD));
    assert!(t.steps[0].starts_with("authenticated"), "{}", t.show());
    // A new session on the same (reused) terminal.
    let t = run_child(&env, "single", &p, true, |_| Answer::Type(PASSWORD));
    assert_eq!(t.prompts, 1, "{}", t.show());
    assert!(
        t.steps[0].contains("another session"),
        "another session's timestamp must be ignored\n{}",
        t.show()
    );
    // Another terminal altogether.
    let q = pty();
    let t = run_child(&env, "single", &q, true, |_| Answer::Type(PASSWORD));
    assert_eq!(t.prompts, 1, "{}", t.show());
}

#[test]
fn timestamp_in_the_future_is_ignored() {
    let env = pam_env!("timestamp_in_the_future_is_ignored");
    let p = pty();
    let t = run_child(&env, "future", &p, true, |_| Answer::Type(PASSWORD));
    assert_eq!(t.prompts, 2, "{}", t.show());
    assert!(t.steps[1].contains("in the future"), "{}", t.show());
}

#[test]
fn user_written_timestamp_file_is_ignored() {
    let env = pam_env!("user_written_timestamp_file_is_ignored");
    let p = pty();
    let t = run_child(&env, "user-owned", &p, true, |_| Answer::Type(PASSWORD));
    assert_eq!(t.prompts, 2, "{}", t.show());
    assert!(t.steps[1].contains("owned by uid 61001"), "{}", t.show());
    let t = run_child(&env, "symlink", &p, true, |_| Answer::Type(PASSWORD));
    assert_eq!(t.prompts, 2, "{}", t.show());
    assert!(t.steps[1].contains("symbolic link"), "{}", t.show());
}

#[test]
fn non_interactive_never_prompts() {
    let env = pam_env!("non_interactive_never_prompts");
    let p = pty();
    let t = run_child(&env, "noninteractive", &p, true, |_| Answer::Type(PASSWORD));
    assert_eq!(t.prompts, 0, "{}", t.show());
    assert!(
        t.tty.is_empty(),
        "nothing may appear on the terminal\n{}",
        t.show()
    );
    assert!(
        t.steps[0].starts_with("none: Err(PasswordRequired)")
            && t.steps[0].contains("a password is required"),
        "{}",
        t.show()
    );
}

#[test]
fn no_controlling_terminal_is_a_clear_error() {
    let env = pam_env!("no_controlling_terminal_is_a_clear_error");
    let p = pty();
    let t = run_child(&env, "no-tty", &p, false, |_| Answer::Type(PASSWORD));
    assert!(
        t.steps[0].starts_with("open: a password is required, but no controlling terminal"),
        "{}",
        t.show()
    );
}

#[test]
fn expired_account_is_refused_with_the_right_password() {
    let Some(env) = env_with_password(
        "pam::expired_account_is_refused_with_the_right_password",
        true,
    ) else {
        return;
    };
    let p = pty();
    let t = run_child(&env, "expired", &p, true, |_| Answer::Type(PASSWORD));
    assert_eq!(t.steps[0], "account_ok Err(AccountExpired)", "{}", t.show());
    assert!(
        t.steps[1].starts_with("refused: account has expired"),
        "{}",
        t.show()
    );
}

#[test]
fn interrupt_at_the_prompt_restores_echo() {
    let env = pam_env!("interrupt_at_the_prompt_restores_echo");
    let p = pty();
    let t = run_child(&env, "sigint", &p, true, |_| Answer::Signal(libc::SIGINT));
    assert_eq!(t.prompts, 1, "{}", t.show());
    assert!(
        t.steps[0].starts_with("refused: password prompt interrupted by signal 2"),
        "{}",
        t.show()
    );
    assert_eq!(t.steps[1], "echo_on true", "{}", t.show());
    let term = nix::sys::termios::tcgetattr(&p.slave).unwrap();
    assert!(
        term.local_flags
            .contains(nix::sys::termios::LocalFlags::ECHO)
    );
}

// ------------------------------------------------ through the real bdexec

/// Run `script` with /bin/sh as alice, fully unprivileged, as the leader
/// of a new session whose controlling terminal is the pty (as a login
/// shell is), in a namespace with the test's /etc, /run, /var/log and
/// /var/lib: the bdexec calls in it are real, with file capabilities.
/// Returns (exit status, terminal transcript, stdout+stderr, prompts).
fn run_shell_on_pty(
    env: &TestEnv,
    script: &str,
    answer: impl FnMut(usize) -> Answer,
) -> (std::process::ExitStatus, String, String, usize) {
    run_shell_on(env, &pty(), script, answer)
}

/// [`run_shell_on_pty`] on a given terminal.
fn run_shell_on(
    env: &TestEnv,
    p: &Pty,
    script: &str,
    mut answer: impl FnMut(usize) -> Answer,
) -> (std::process::ExitStatus, String, String, usize) {
    let out_path = env
        .scratch()
        .join(format!("shell-{}.out", std::process::id()));
    let out_file = fs::File::create(&out_path).unwrap();
    let err_file = out_file.try_clone().unwrap();
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(script)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("BDEXEC", env.bdexec_path())
        .env("BELLADONNA_TEST_PAM_SERVICE", SERVICE)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::from(out_file))
        .stderr(Stdio::from(err_file));
    // A login shell: alice in every id, nothing privileged.
    in_session_ns(&mut cmd, env, p, true, &["run", "log", "lib"], false);
    let mut child = cmd.spawn().expect("spawn shell");
    let (status, tty, prompts) = converse(p, &mut child, &mut answer, "shell");
    let out = fs::read_to_string(&out_path).unwrap_or_default();
    assert!(
        !tty.contains(PASSWORD) && !tty.contains(WRONG),
        "a password was echoed\n{tty}"
    );
    (status, tty, out, prompts)
}

const PASSWORD_POLICY: &str = r#"version = 1
[defaults]
timestamp_timeout = "5m"
[[rule]]
name = "pw"
users = ["alice"]
commands = ["/usr/bin/id -u"]
auth = "password"
"#;

/// `-k CMD` asks for the password and leaves no fresh timestamp (as
/// sudo): the next `-n` call is refused. Run on a root-owned pty and on
/// one owned by alice (mode 0620, group tty, as a login leaves it).
fn reset_with_a_command_caches_nothing(env: &TestEnv, p: &Pty) {
    env.policy(PASSWORD_POLICY);
    let script = "\"$BDEXEC\" -k -- /usr/bin/id -u; echo rc=$?; \
                  \"$BDEXEC\" -n -- /usr/bin/id -u; echo rc=$?; \
                  \"$BDEXEC\" -- /usr/bin/id -u; echo rc=$?; \
                  \"$BDEXEC\" -n -- /usr/bin/id -u; echo rc=$?";
    let (st, tty, out, prompts) = run_shell_on(env, p, script, |_| Answer::Type(PASSWORD));
    assert!(st.success(), "{st}\n{tty}\n{out}");
    let rcs: Vec<&str> = out.lines().filter(|l| l.starts_with("rc=")).collect();
    assert_eq!(
        rcs,
        ["rc=0", "rc=1", "rc=0", "rc=0"],
        "-k CMD ran but cached nothing; a plain call caches\nterminal:\n{tty}\nout:\n{out}"
    );
    assert_eq!(prompts, 2, "{tty}");
}

#[test]
fn reset_with_a_command_caches_nothing_root_pty() {
    let Some(env) = env_with_password("pam::reset_with_a_command_caches_nothing_root_pty", false)
    else {
        return;
    };
    reset_with_a_command_caches_nothing(&env, &pty());
}

#[test]
fn reset_with_a_command_caches_nothing_own_pty() {
    let Some(env) = env_with_password("pam::reset_with_a_command_caches_nothing_own_pty", false)
    else {
        return;
    };
    reset_with_a_command_caches_nothing(&env, &user_owned_pty(&ALICE));
}

/// `auth = "password"` through the real bdexec on a real terminal: the
/// right password runs the command, the timestamp skips the second
/// prompt in the same session, `-k` drops it, a wrong password is
/// refused after three tries with a record.
#[test]
fn bdexec_password_rule_end_to_end() {
    let Some(env) = env_with_password("pam::bdexec_password_rule_end_to_end", false) else {
        return;
    };
    env.policy(PASSWORD_POLICY);
    let script = "\"$BDEXEC\" -- /usr/bin/id -u; echo rc=$?; \
                  \"$BDEXEC\" -- /usr/bin/id -u; echo rc=$?; \
                  \"$BDEXEC\" -k; echo rc=$?; \
                  \"$BDEXEC\" -n -- /usr/bin/id -u; echo rc=$?; \
                  \"$BDEXEC\" -- /usr/bin/id -u; echo rc=$?";
    let (st, tty, out, prompts) = run_shell_on_pty(&env, script, |_| Answer::Type(PASSWORD));
    assert!(st.success(), "{st}\n{tty}\n{out}");
    let rcs: Vec<&str> = out.lines().filter(|l| l.starts_with("rc=")).collect();
    assert_eq!(
        rcs,
        ["rc=0", "rc=0", "rc=0", "rc=1", "rc=0"],
        "terminal:\n{tty}\nout:\n{out}"
    );
    assert_eq!(out.lines().filter(|l| *l == "0").count(), 3, "{out}");
    assert_eq!(
        prompts, 2,
        "prompted first, not second (timestamp), again after -k\n{tty}"
    );
    assert!(
        out.contains("bdexec: a password is required") || out.contains("password is required"),
        "{out}"
    );

    // Wrong password three times: refused, recorded, nothing ran.
    let (_, tty, out, prompts) = run_shell_on_pty(
        &env,
        "\"$BDEXEC\" -k; \"$BDEXEC\" -- /usr/bin/id -u; echo rc=$?",
        |_| Answer::Type(WRONG),
    );
    assert_eq!(prompts, 3, "{tty}");
    assert!(out.contains("rc=1"), "{out}");
    let rejects = env.audit_events("reject");
    assert!(rejects.len() >= 2, "{rejects:?}");
    env.assert_verify_ok("after password calls");
}

/// A real user at a real terminal: the pty is alice's, mode 0620, group
/// tty, as login or sshd leaves it. bdexec's effective uid 0 has no
/// DAC override, so it must open the terminal as alice: the password
/// rule works (it was refused with EACCES when bdexec opened it as root).
#[test]
fn bdexec_password_on_a_terminal_the_user_owns() {
    let Some(env) = env_with_password("pam::bdexec_password_on_a_terminal_the_user_owns", false)
    else {
        return;
    };
    env.policy(PASSWORD_POLICY);
    let p = user_owned_pty(&ALICE);
    let (st, tty, out, prompts) = run_shell_on(
        &env,
        &p,
        "\"$BDEXEC\" -- /usr/bin/id -u; echo rc=$?",
        |_| Answer::Type(PASSWORD),
    );
    assert!(st.success(), "{st}\n{tty}\n{out}");
    assert_eq!(prompts, 1, "asked once on alice's terminal\n{tty}\n{out}");
    assert!(out.contains("rc=0"), "terminal:\n{tty}\nout:\n{out}");
    assert_eq!(out.lines().filter(|l| *l == "0").count(), 1, "{out}");
    // A wrong password on the same terminal is still refused.
    let (_, tty, out, prompts) = run_shell_on(
        &env,
        &p,
        "\"$BDEXEC\" -k; \"$BDEXEC\" -- /usr/bin/id -u; echo rc=$?",
        |_| Answer::Type(WRONG),
    );
    assert_eq!(prompts, 3, "{tty}");
    assert!(out.contains("rc=1"), "{out}");
    env.assert_verify_ok("after password calls on alice's terminal");
}

/// The same through the auth step in-process (real uid alice, effective
/// uid 0 without effective capabilities, as bdexec runs it): alice's own
/// terminal opens.
#[test]
fn correct_password_on_a_terminal_the_user_owns() {
    let env = pam_env!("correct_password_on_a_terminal_the_user_owns");
    let p = user_owned_pty(&ALICE);
    let t = run_child(&env, "as-bdexec", &p, true, |_| Answer::Type(PASSWORD));
    assert_eq!(t.prompts, 1, "{}", t.show());
    assert!(t.steps[0].starts_with("authenticated"), "{}", t.show());
}

/// A terminal the caller may not open by name (another user's, as after
/// `su alice` on bob's login terminal): bdexec still reaches its own
/// controlling terminal through /dev/tty, as the caller.
#[test]
fn correct_password_on_another_users_terminal() {
    let env = pam_env!("correct_password_on_another_users_terminal");
    let p = user_owned_pty(&BOB);
    let t = run_child(&env, "as-bdexec", &p, true, |_| Answer::Type(PASSWORD));
    assert_eq!(t.prompts, 1, "{}", t.show());
    assert!(t.steps[0].starts_with("authenticated"), "{}", t.show());
}

/// Issue 12 item 4: a rule's own `timestamp_timeout` replaces the
/// default for that rule: with `"0"` it never takes the caller's fresh
/// timestamp, which another rule (5 minutes) still does.
#[test]
fn a_rules_timestamp_timeout_is_its_own() {
    let Some(env) = env_with_password("pam::a_rules_timestamp_timeout_is_its_own", false) else {
        return;
    };
    env.policy(&format!(
        "{PASSWORD_POLICY}[[rule]]\nname = \"always\"\nusers = [\"alice\"]\ncommands = [\"/usr/bin/id -g\"]\nauth = \"password\"\ntimestamp_timeout = \"0\"\n"
    ));
    let script = "\"$BDEXEC\" -- /usr/bin/id -u; echo rc=$?; \
                  \"$BDEXEC\" -n -- /usr/bin/id -g; echo rc=$?; \
                  \"$BDEXEC\" -n -- /usr/bin/id -u; echo rc=$?";
    let (st, tty, out, prompts) = run_shell_on_pty(&env, script, |_| Answer::Type(PASSWORD));
    assert!(st.success(), "{st}\n{tty}\n{out}");
    let rcs: Vec<&str> = out.lines().filter(|l| l.starts_with("rc=")).collect();
    assert_eq!(
        rcs,
        ["rc=0", "rc=1", "rc=0"],
        "the timestamp covers rule pw, not rule always (timeout 0)\nterminal:\n{tty}\nout:\n{out}"
    );
    assert_eq!(prompts, 1, "{tty}");
}

/// The records of alice's timestamp file: the terminals (tty_nr) it
/// holds a timestamp for; empty when the file is gone.
fn timestamp_ttys(env: &TestEnv) -> Vec<u64> {
    let p = env.run_dir().join(format!("belladonna/ts/{}", ALICE.uid));
    let Ok(text) = fs::read_to_string(&p) else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_str(&text).expect("timestamp file is JSON");
    v["records"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x["session"]["tty"].as_u64())
                .collect()
        })
        .unwrap_or_default()
}

/// Issue 13: `-v` asks for the password and renews the timestamp (a
/// valid one spares the prompt), runs nothing and records `validate`;
/// `-k` forgets this terminal's timestamp only, `-K` every one.
#[test]
fn validate_and_the_two_resets() {
    let Some(env) = env_with_password("pam::validate_and_the_two_resets", false) else {
        return;
    };
    env.policy(PASSWORD_POLICY);
    let script = "\"$BDEXEC\" -v; echo rc=$?; \
                  \"$BDEXEC\" -n -- /usr/bin/id -u; echo rc=$?; \
                  \"$BDEXEC\" -v; echo rc=$?; \
                  \"$BDEXEC\" -k; echo rc=$?; \
                  \"$BDEXEC\" -n -- /usr/bin/id -u; echo rc=$?; \
                  \"$BDEXEC\" -v -n; echo rc=$?; \
                  \"$BDEXEC\" -v; echo rc=$?";
    // Both terminals stay open to the end: a closed pty's number is
    // reused by the next.
    let (p1, p2) = (pty(), pty());
    let (st, tty, out, prompts) = run_shell_on(&env, &p1, script, |_| Answer::Type(PASSWORD));
    assert!(st.success(), "{st}\n{tty}\n{out}");
    let rcs: Vec<&str> = out.lines().filter(|l| l.starts_with("rc=")).collect();
    assert_eq!(
        rcs,
        ["rc=0", "rc=0", "rc=0", "rc=0", "rc=1", "rc=1", "rc=0"],
        "terminal:\n{tty}\nout:\n{out}"
    );
    assert_eq!(prompts, 2, "-v asked, -v with a timestamp did not\n{tty}");
    assert_eq!(env.audit_events("validate").len(), 3);
    assert_eq!(env.audit_events("accept").len(), 1, "-v ran nothing");
    // Two terminals with a timestamp each: -k on the second forgets its
    // own only; -K forgets both.
    let first = timestamp_ttys(&env);
    assert_eq!(first.len(), 1, "{first:?}");
    let (st, tty, out, _) = run_shell_on(
        &env,
        &p2,
        "\"$BDEXEC\" -v; \"$BDEXEC\" -k; echo rc=$?",
        |_| Answer::Type(PASSWORD),
    );
    assert!(st.success() && out.contains("rc=0"), "{tty}\n{out}");
    assert_eq!(timestamp_ttys(&env), first, "the first terminal's stays");
    let (_, tty, out, _) = run_shell_on(&env, &p2, "\"$BDEXEC\" -K; echo rc=$?", |_| {
        Answer::Type(PASSWORD)
    });
    assert!(out.contains("rc=0"), "{tty}\n{out}");
    assert!(timestamp_ttys(&env).is_empty(), "-K removed them all");
    env.assert_verify_ok("validate records");
}
