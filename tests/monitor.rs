//! Monitor mode and the new pty (issue 13 items 1, 2, 7) through the
//! real bdexec: exit records, exit status and signal passthrough, signal
//! relay, SIGKILL of the monitor, job control (with and without a pty,
//! where a session leader stands between monitor and command), signals,
//! noexec and the timeout through that session leader, window size,
//! terminal modes, TIOCSTI, a command that closes or revokes its pty,
//! require_tty.
//! Terminals are real ptys driven by python3's pty module (run as the
//! caller inside the test's namespace).

#[macro_use]
mod common;
use common::pty_driver::{drive, drive_call};
use common::*;
use serde_json::Value;
use std::time::Duration;

fn policy(extra_rule_keys: &str, defaults: &str) -> String {
    format!(
        r#"version = 1
[defaults]
{defaults}

[[rule]]
name = "mon"
users = ["alice"]
run_as = ["root", "bob"]
commands = ["/bin/sh *", "/usr/bin/python3 *", "/usr/bin/stty size"]
auth = "none"
{extra_rule_keys}
"#
    )
}

fn monitored_env(name: &str) -> Option<TestEnv> {
    let env = TestEnv::new(&format!("monitor::{name}"))?;
    env.policy(&policy("monitor = true", ""));
    Some(env)
}

/// The exit records, and the accept records, of the log.
fn exits(env: &TestEnv) -> Vec<Value> {
    env.audit_events("exit")
}

fn one_accept_and_exit(env: &TestEnv) -> (Value, Value) {
    let acc = env.audit_events("accept");
    let ex = exits(env);
    assert_eq!((acc.len(), ex.len()), (1, 1), "{acc:#?}\n{ex:#?}");
    assert_eq!(acc[0]["monitor"], true, "{:#}", acc[0]);
    assert_eq!(ex[0]["accept"], acc[0]["uuid"], "{:#}", ex[0]);
    assert_eq!(
        ex[0]["pid"], acc[0]["pid"],
        "the monitor is the same process"
    );
    (acc[0].clone(), ex[0].clone())
}

fn show(env: &TestEnv) -> String {
    let out = env.bdctl(&["audit", "show"]);
    assert_eq!(out.code(), Some(0), "{out}");
    out.stdout_str()
}

#[test]
fn exit_status_and_record() {
    let Some(env) = monitored_env("exit_status_and_record") else {
        return;
    };
    let out = env
        .bdexec("alice")
        .args([
            "--",
            "/bin/sh",
            "-c",
            "head -c 3000000 /dev/zero | od >/dev/null; exit 7",
        ])
        .run();
    assert_eq!(out.code(), Some(7), "{out}");
    let (_, ex) = one_accept_and_exit(&env);
    assert_eq!(ex["status"], 7, "{ex:#}");
    assert!(ex.get("signal").is_none(), "{ex:#}");
    assert_eq!(ex["core_dumped"], false, "{ex:#}");
    for k in ["duration_us", "maxrss_kb"] {
        assert!(ex[k].as_u64().is_some_and(|n| n > 0), "{k}: {ex:#}");
    }
    for k in ["utime_us", "stime_us"] {
        assert!(ex[k].as_u64().is_some(), "{k}: {ex:#}");
    }
    env.assert_verify_ok("accept + exit");
    let s = show(&env);
    assert!(s.contains(" exit of ") && s.contains(": status 7,"), "{s}");
    assert!(!s.contains("no exit recorded"), "{s}");
}

#[test]
fn plain_mode_is_unchanged() {
    let Some(env) = TestEnv::new("monitor::plain_mode_is_unchanged") else {
        return;
    };
    env.policy(&policy("", ""));
    let out = env
        .bdexec("alice")
        .args(["--", "/bin/sh", "-c", "echo $$; exit 3"])
        .spawn();
    let pid = out.pid();
    let out = out.wait();
    assert_eq!(out.code(), Some(3), "{out}");
    // A direct exec: the command is bdexec's process itself.
    assert_eq!(out.stdout_str().trim(), pid.to_string(), "{out}");
    assert!(exits(&env).is_empty());
    assert!(env.audit_events("accept")[0].get("monitor").is_none());
    assert!(!show(&env).contains("no exit recorded"));
}

#[test]
fn killed_by_a_signal_dies_by_it() {
    let Some(env) = monitored_env("killed_by_a_signal_dies_by_it") else {
        return;
    };
    let out = env
        .bdexec("alice")
        .args(["-u", "bob", "--", "/bin/sh", "-c", "kill -TERM $$"])
        .run();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(libc::SIGTERM),
        "{out}"
    );
    let (_, ex) = one_accept_and_exit(&env);
    assert_eq!(ex["signal"], "TERM", "{ex:#}");
    assert!(ex.get("status").is_none(), "{ex:#}");
    assert!(show(&env).contains(": signal TERM,"));
    env.assert_verify_ok("signal exit");
}

fn kill(pid: i32, sig: i32) -> i32 {
    // SAFETY: kill(2), no memory involved.
    unsafe { libc::kill(pid, sig) }
}

/// TERM, INT and USR1 sent to bdexec (by root: the caller cannot, the
/// monitor's real uid is 0) reach the command; the caller's own kill
/// fails with EPERM, as with sudo.
#[test]
fn signals_are_relayed() {
    let Some(env) = monitored_env("signals_are_relayed") else {
        return;
    };
    let dir = env.scratch();
    let got = dir.join("got");
    let ready = dir.join("ready");
    let script = format!(
        "trap 'echo USR1 >> {g}' USR1; trap 'echo INT >> {g}' INT; \
         trap 'echo TERM >> {g}; exit 3' TERM; echo $$ > {r}; \
         while :; do sleep 0.05; done",
        g = got.display(),
        r = ready.display()
    );
    let run = env
        .bdexec("alice")
        .args(["-u", "bob", "--", "/bin/sh", "-c", &script])
        .spawn();
    wait_for_file(&ready, "command start");
    let pid = run.pid();
    let caller = env.sh_in_ns("alice", &format!("kill -USR1 {pid}; echo rc=$?"));
    assert!(
        caller.all_output().contains("rc=1"),
        "EPERM for the caller: {caller}"
    );
    for sig in [libc::SIGUSR1, libc::SIGINT] {
        assert_eq!(kill(pid, sig), 0);
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(kill(pid, libc::SIGTERM), 0);
    let out = run.wait();
    assert_eq!(out.code(), Some(3), "{out}");
    let got = std::fs::read_to_string(&got).unwrap_or_default();
    assert_eq!(got, "USR1\nINT\nTERM\n");
    let (_, ex) = one_accept_and_exit(&env);
    assert_eq!(ex["status"], 3);
}

/// A signal the command sends its parent (the monitor) is not relayed
/// back to it; SIGALRM ends the command with HUP.
#[test]
fn no_echo_of_own_signals_and_alrm_ends() {
    let Some(env) = monitored_env("no_echo_of_own_signals_and_alrm_ends") else {
        return;
    };
    let got = env.scratch().join("got");
    let script = format!(
        "trap 'echo USR1 >> {g}' USR1; kill -USR1 $PPID; sleep 0.5; echo done >> {g}",
        g = got.display()
    );
    let out = env
        .bdexec("alice")
        .args(["--", "/bin/sh", "-c", &script])
        .run();
    assert_eq!(out.code(), Some(0), "{out}");
    assert_eq!(std::fs::read_to_string(&got).unwrap_or_default(), "done\n");

    let ready = env.scratch().join("ready");
    let script = format!(
        "echo $$ > {}; while :; do sleep 0.05; done",
        ready.display()
    );
    let run = env
        .bdexec("alice")
        .args(["-u", "bob", "--", "/bin/sh", "-c", &script])
        .spawn();
    wait_for_file(&ready, "command start");
    assert_eq!(kill(run.pid(), libc::SIGALRM), 0);
    let out = run.wait();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(libc::SIGHUP),
        "{out}"
    );
    assert_eq!(exits(&env)[1]["signal"], "HUP");
}

/// The parent of `pid` (/proc/PID/stat, field 4).
fn ppid_of(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    rest.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// SIGKILL of the monitor (root only): the accept record stays without
/// an exit ("no exit recorded"). Without a pty the command goes on with
/// no more than a plain exec gives it: the target's ids, no capability,
/// no fd of bdexec's. With a pty, the session leader between monitor and
/// command dies with the monitor (parent-death signal) and the command
/// gets SIGHUP.
#[test]
fn monitor_killed_leaves_no_privilege() {
    let Some(env) = monitored_env("monitor_killed_leaves_no_privilege") else {
        return;
    };
    let d = env.scratch();
    for pty in [false, true] {
        let (ready, hup) = (d.join(format!("ready-{pty}")), d.join(format!("hup-{pty}")));
        let script = format!(
            "trap 'echo HUP > {h}' HUP; echo $$ $PPID > {r}; while :; do sleep 0.05; done",
            h = hup.display(),
            r = ready.display()
        );
        let args = ["-u", "bob", "--", "/bin/sh", "-c", &script];
        let run = if pty {
            drive_call(&env, "run", &args).spawn()
        } else {
            env.bdexec("alice").args(args).spawn()
        };
        let pids = wait_for_file(&ready, "command start");
        let (cmd, parent) = pids.trim().split_once(' ').unwrap();
        let (cmd, parent): (i32, i32) = (cmd.parse().unwrap(), parent.parse().unwrap());
        // With a pty the command's parent is the session leader.
        let monitor = if pty { ppid_of(parent) } else { parent };
        assert_eq!(
            std::fs::read_to_string(format!("/proc/{monitor}/comm")).unwrap(),
            "bdexec\n"
        );
        assert_eq!(kill(monitor, libc::SIGKILL), 0);
        if pty {
            wait_for_file(&hup, "SIGHUP from the pty's hangup");
            let leader = std::path::PathBuf::from(format!("/proc/{parent}/status"));
            let gone = (0..50).any(|_| {
                std::thread::sleep(Duration::from_millis(20));
                std::fs::read_to_string(&leader).map_or(true, |s| {
                    status_field(&s, "State").is_some_and(|st| st.starts_with('Z'))
                })
            });
            assert!(gone, "the session leader outlived the monitor");
        } else {
            std::thread::sleep(Duration::from_millis(300));
        }
        let status = std::fs::read_to_string(format!("/proc/{cmd}/status")).unwrap();
        let bob = BOB.uid.to_string();
        let uids: Vec<&str> = status_field(&status, "Uid")
            .unwrap()
            .split_whitespace()
            .collect();
        assert_eq!(uids, [bob.as_str(); 4], "{status}");
        for k in ["CapPrm", "CapEff", "CapInh", "CapAmb"] {
            assert_eq!(
                status_field(&status, k),
                Some("0000000000000000"),
                "{k}\n{status}"
            );
        }
        for fd in std::fs::read_dir(format!("/proc/{cmd}/fd"))
            .unwrap()
            .flatten()
        {
            let t = std::fs::read_link(fd.path()).unwrap_or_default();
            assert!(
                !t.to_string_lossy().contains("belladonna"),
                "{}",
                t.display()
            );
        }
        kill(cmd, libc::SIGKILL);
        let _ = run.wait();
    }
    assert!(exits(&env).is_empty());
    let s = show(&env);
    let marked = s
        .lines()
        .filter(|l| l.contains(" accept ") && l.ends_with("(no exit recorded)"));
    assert_eq!(marked.count(), 2, "{s}");
    env.assert_verify_ok("an accept without its exit verifies");
}

/// `bdexec -u bob -- /bin/sh -c SCRIPT` on the driver's pty ("run").
fn drive_sh_as_bob(env: &TestEnv, script: &str) -> Out {
    drive(env, "run", &["-u", "bob", "--", "/bin/sh", "-c", script])
}

const INJECT: &str = r#"
#include <sys/ioctl.h>
#include <stdio.h>
int main(void) {
    const char *s = "injected\n";
    int ok = 1;
    for (const char *p = s; *p; p++) ok &= ioctl(0, TIOCSTI, p) == 0;
    printf("tiocsti %s\n", ok ? "ok" : "refused");
    return 0;
}
"#;

/// TIOCSTI from a non-root target without a sandbox: without monitor
/// mode the caller's shell reads the injected line (the control, on this
/// kernel's legacy_tiocsti = 1); with the pty it lands in the command's
/// own pty and never reaches the caller.
#[test]
fn tiocsti_cannot_reach_the_caller() {
    let Some(env) = TestEnv::new("monitor::tiocsti_cannot_reach_the_caller") else {
        return;
    };
    let inject = env.compile_c("inject", INJECT);
    let inj = env.etc_executable("bt/inject", &std::fs::read(&inject).unwrap());
    let pol = |keys: &str| policy(keys, "").replace("\"/usr/bin/stty size\"", &format!("{inj:?}"));
    env.policy(&pol(""));
    let plain = drive(&env, "run", &["-u", "bob", "--", &inj]);
    let plain = plain.stdout_str();
    if plain.contains("tiocsti refused") {
        loud("monitor::tiocsti: TIOCSTI is disabled on this kernel; control not possible");
    } else {
        assert!(
            plain.contains("GOT[injected]"),
            "control: plain exec injects\n{plain}"
        );
    }
    env.policy(&pol("monitor = true"));
    let mon = drive(&env, "run", &["-u", "bob", "--", &inj]).stdout_str();
    assert!(mon.contains("RC=0"), "{mon}");
    assert!(
        mon.contains("GOT[]"),
        "nothing reaches the caller's terminal\n{mon}"
    );
}

/// The pty gets the caller's window size and its changes; the caller's
/// terminal modes are restored; output reaches the terminal.
#[test]
fn pty_window_size_and_modes() {
    let Some(env) = monitored_env("pty_window_size_and_modes") else {
        return;
    };
    let out = drive(
        &env,
        "winch",
        &["--", "/bin/sh", "-c", "stty size; read x; stty size; tty"],
    );
    let s = out.stdout_str();
    assert!(s.contains("33 111") && s.contains("44 122"), "{out}");
    assert!(s.contains("RC=0") && s.contains("MODES=same"), "{out}");
    let (_, ex) = one_accept_and_exit(&env);
    assert_eq!(ex["status"], 0);
    // Pipes stay pipes: only the terminal fds are replaced.
    let out = env
        .bdexec("alice")
        .stdin(b"through a pipe\n")
        .args(["--", "/bin/sh", "-c", "cat; test -t 0 || echo notatty"])
        .run();
    assert_eq!(out.stdout_str(), "through a pipe\nnotatty\n", "{out}");
}

/// An interactive bash on a real pty (the caller's, owned by the
/// caller) runs bdexec: Ctrl-Z stops the job (bdexec stops itself, the
/// caller's terminal modes are back while it is stopped), `fg` continues
/// it, it finishes, and the exit is recorded.
fn job_control(name: &str, rule_keys: &str, args: &[&str]) -> Option<String> {
    let env = TestEnv::new(&format!("monitor::{name}"))?;
    env.policy(&policy(rule_keys, ""));
    let mut all = args.to_vec();
    let bg = args.contains(&"bg");
    all.retain(|a| *a != "bg");
    let script = if bg {
        "'echo sta\"\"rted; read x; echo got-$x; echo fini\"\"shed'"
    } else {
        "'echo sta\"\"rted; sleep 1.5; echo fini\"\"shed'"
    };
    all.extend(["--", "/bin/sh", "-c", script]);
    let out = drive(&env, if bg { "bashbg" } else { "bash" }, &all);
    let s = out.stdout_str();
    assert!(s.contains("Stopped"), "{s}");
    assert!(
        s.contains("STOPPED:icanon,echo,"),
        "modes while stopped: {s}"
    );
    assert!(s.contains("finished") && s.contains("rc=0"), "{s}");
    assert!(s.contains("icanon,echo,"), "modes restored: {s}");
    let (_, ex) = one_accept_and_exit(&env);
    assert_eq!(ex["status"], 0, "{ex:#}");
    Some(s)
}

/// Job control without a pty: the command shares bdexec's process group.
#[test]
fn job_control_with_bash() {
    job_control(
        "job_control_with_bash",
        "monitor = true\nuse_pty = false",
        &[],
    );
}

/// Job control with the command on its own pty (the session leader
/// between monitor and command keeps the command's group from being
/// orphaned, so the pty's SIGTSTP is delivered), target bob.
#[test]
fn job_control_on_the_pty() {
    job_control(
        "job_control_on_the_pty",
        "monitor = true\nuse_pty = true",
        &["-u", "bob"],
    );
    // Stopped, continued in the background, then in the foreground: the
    // terminal reaches the command again (raw, read again).
    if let Some(s) = job_control(
        "job_control_on_the_pty_bg",
        "monitor = true\nuse_pty = true",
        &["-u", "bob", "bg"],
    ) {
        assert!(s.contains("got-hello"), "{s}");
        // Raw after fg: the pty echoes the line, the caller's terminal
        // does not (that would be a second "hello").
        assert_eq!(s.matches("hello").count(), 2, "{s}");
    }
}

/// A command on the driver's pty as bob that writes SIG to `got` and
/// exits with `code` when it gets SIG, its session leader and monitor.
struct Trapping {
    run: Running,
    got: std::path::PathBuf,
    leader: i32,
    monitor: i32,
}

fn trapping_on_the_pty(env: &TestEnv, sig: &str, code: i32) -> Trapping {
    let d = env.scratch();
    let (ready, got) = (d.join(format!("ready-{sig}")), d.join(format!("got-{sig}")));
    let script = format!(
        "trap 'echo {sig} > {g}; exit {code}' {sig}; echo $$ $PPID > {r}; \
         while :; do sleep 0.05; done",
        g = got.display(),
        r = ready.display()
    );
    let run = drive_call(env, "run", &["-u", "bob", "--", "/bin/sh", "-c", &script]).spawn();
    let pids = wait_for_file(&ready, "command start");
    let leader: i32 = pids.split_whitespace().nth(1).unwrap().parse().unwrap();
    let monitor = ppid_of(leader);
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{monitor}/comm")).unwrap(),
        "bdexec\n"
    );
    Trapping {
        run,
        got,
        leader,
        monitor,
    }
}

/// On a pty: a command killed by a signal gives the signal in the exit
/// record with the command's own resource usage (not the session
/// leader's), and bdexec dies by it; TERM sent to bdexec reaches the
/// command (through the session leader) and its exit status comes back.
#[test]
fn pty_signal_exit_and_relay() {
    let Some(env) = monitored_env("pty_signal_exit_and_relay") else {
        return;
    };
    let out = drive(
        &env,
        "run",
        &[
            "-u",
            "bob",
            "--",
            "/usr/bin/python3",
            "-c",
            "import os, signal; b = bytearray(80 << 20); os.kill(os.getpid(), signal.SIGSEGV)",
        ],
    );
    let s = out.stdout_str();
    assert!(s.contains(&format!("RC=-{}", libc::SIGSEGV)), "{out}");
    assert!(s.contains("MODES=same"), "{out}");
    let ex = &exits(&env)[0];
    assert_eq!(ex["signal"], "SEGV", "{ex:#}");
    assert!(ex.get("status").is_none(), "{ex:#}");
    assert!(
        ex["maxrss_kb"].as_u64().is_some_and(|k| k > 80 * 1024),
        "the command's usage: {ex:#}"
    );

    let t = trapping_on_the_pty(&env, "TERM", 3);
    // The session leader holds nothing it does not need: root, only
    // CAP_SETUID permitted (none effective), three fds (the pty, its
    // signalfd, the report pipe), not dumpable (its /proc files are
    // root's).
    let status = std::fs::read_to_string(format!("/proc/{}/status", t.leader)).unwrap();
    assert_eq!(status_field(&status, "Uid"), Some("0\t0\t0\t0"), "{status}");
    assert_eq!(status_field(&status, "CapPrm"), Some("0000000000000080"));
    assert_eq!(status_field(&status, "CapEff"), Some("0000000000000000"));
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", t.leader))
        .unwrap()
        .flatten()
        .map(|e| {
            std::fs::read_link(e.path())
                .unwrap_or_default()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(fds.len(), 3, "{fds:?}");
    assert!(fds.iter().any(|f| f.starts_with("/dev/pts/")), "{fds:?}");
    assert!(fds.iter().any(|f| f.starts_with("pipe:")), "{fds:?}");
    assert!(fds.iter().any(|f| f.contains("signalfd")), "{fds:?}");
    assert_eq!(kill(t.monitor, libc::SIGTERM), 0);
    let out = t.run.wait();
    assert!(out.stdout_str().contains("RC=3"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&t.got).unwrap_or_default(),
        "TERM\n"
    );
    let ex = exits(&env);
    assert_eq!(ex[1]["status"], 3, "{:#}", ex[1]);
    env.assert_verify_ok("pty exits");
}

/// A command that closes its pty, or revokes it (vhangup, as root): the
/// monitor neither hangs nor spins, and records the exit.
#[test]
fn command_closes_or_revokes_the_pty() {
    let Some(env) = monitored_env("command_closes_or_revokes_the_pty") else {
        return;
    };
    let out = drive_sh_as_bob(&env, "exec 0<&- 1>&- 2>&-; sleep 1; exit 4");
    let s = out.stdout_str();
    assert!(s.contains("RC=4"), "{out}");
    let cpu: f64 = s
        .lines()
        .find_map(|l| l.strip_prefix("CPU="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(99.0);
    assert!(cpu < 0.5, "the monitor spun: {cpu} s of CPU\n{s}");
    let out = drive(
        &env,
        "run",
        &[
            "--",
            "/usr/bin/python3",
            "-c",
            "import ctypes,os,signal,time; signal.signal(signal.SIGHUP, signal.SIG_IGN); assert ctypes.CDLL(None).vhangup() == 0; time.sleep(1); os._exit(5)",
        ],
    );
    assert!(out.stdout_str().contains("RC=5"), "{out}");
    let ex = exits(&env);
    assert_eq!(
        (ex[0]["status"].as_u64(), ex[1]["status"].as_u64()),
        (Some(4), Some(5))
    );
}

/// require_tty: refused without a controlling terminal (a record says
/// why), allowed on one.
#[test]
fn require_tty() {
    let Some(env) = TestEnv::new("monitor::require_tty") else {
        return;
    };
    env.policy(&policy("", "require_tty = true"));
    let out = drive(&env, "notty", &["--", "/usr/bin/stty", "size"]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(
        out.stderr_str().contains("needs a terminal (require_tty)"),
        "{out}"
    );
    let rej = env.audit_events("reject");
    assert_eq!(rej[0]["reason"], "no terminal (require_tty)");
    assert_eq!(rej[0]["ttyname"], Value::Null, "no terminal, no ttyname");
    let out = drive(&env, "run", &["--", "/usr/bin/stty", "size"]);
    assert!(
        out.stdout_str().contains("33 111") && out.stdout_str().contains("RC=0"),
        "{out}"
    );
    // The record names the session's terminal: the one tty(1) names on
    // the command's stdin (the driver's pty), from /proc/self/stat's
    // tty_nr (src/identity.rs controlling_tty_dev).
    let out = drive(&env, "run", &["--", "/bin/sh", "-c", "tty"]);
    let s = out.stdout_str();
    let pts = s
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("/dev/pts/"))
        .unwrap_or_else(|| panic!("tty names the pty: {out}"));
    let acc = env.audit_events("accept");
    assert_eq!(
        acc.last().unwrap()["ttyname"],
        pts,
        "{:#}",
        acc.last().unwrap()
    );
}

/// On a pty, with the session leader between monitor and command:
/// noexec's supervisor lets the command's own exec through (it knows the
/// command's pid from the leader) and refuses the next; the timeout's
/// TERM, then KILL, reach the command's process group.
#[test]
fn noexec_and_timeout_on_the_pty() {
    let Some(env) = TestEnv::new("monitor::noexec_and_timeout_on_the_pty") else {
        return;
    };
    env.policy(&policy("monitor = true\nnoexec = true", ""));
    let out = drive_sh_as_bob(&env, "/bin/true; echo rc=$?");
    let s = out.stdout_str();
    assert!(s.contains("rc=126") && s.contains("RC=0"), "{out}");
    let ex = exits(&env);
    assert_eq!(ex[0]["exec_refused"], 1, "{:#}", ex[0]);

    env.policy(&policy("monitor = true\ntimeout = \"1s\"", ""));
    let t0 = std::time::Instant::now();
    let out = drive_sh_as_bob(&env, "trap '' TERM; while :; do sleep 0.05; done");
    let took = t0.elapsed().as_secs_f64();
    assert!(
        out.stdout_str().contains(&format!("RC=-{}", libc::SIGKILL)),
        "{out}"
    );
    assert!(took < 15.0, "{took} s");
    let ex = exits(&env);
    assert_eq!(ex[1]["signal"], "KILL", "{:#}", ex[1]);
    assert_eq!(ex[1]["timed_out"], true, "{:#}", ex[1]);
}

/// SIGKILL of the session leader (root only): the kernel sends the
/// command SIGHUP (a session leader's exit), and the monitor, which can
/// no longer learn the command's end, records the leader's signal and
/// dies by it.
#[test]
fn session_leader_killed_hangs_up_the_command() {
    let Some(env) = monitored_env("session_leader_killed_hangs_up_the_command") else {
        return;
    };
    let t = trapping_on_the_pty(&env, "HUP", 0);
    assert_eq!(kill(t.leader, libc::SIGKILL), 0);
    wait_for_file(&t.got, "SIGHUP from the session leader's end");
    let out = t.run.wait();
    assert!(
        out.stdout_str().contains(&format!("RC=-{}", libc::SIGKILL)),
        "{out}"
    );
    let (_, ex) = one_accept_and_exit(&env);
    assert_eq!(ex["signal"], "KILL", "{ex:#}");
}
