//! Session recording (issue 13 item 3, belladonna-policy(5) `record`,
//! `record_input`; bdctl(8) `replay`): the real bdexec run by an
//! unprivileged caller on a real pty (python3's pty module drives it as a
//! user would), the asciicast file checked by parsing, by its hash in the
//! exit record, by `bdctl replay` and by asciinema itself when installed.

#[macro_use]
mod common;
use common::*;
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

fn policy(keys: &str) -> String {
    format!(
        r#"version = 1
[[rule]]
name = "rec"
users = ["alice"]
run_as = ["root"]
commands = ["/usr/bin/printf *", "/usr/bin/head *", "/usr/bin/seq *", "/bin/sh -c *"]
auth = "none"
{keys}
"#
    )
}

/// python3 with a real pty as the caller: runs bdexec ARGS on it, types
/// INPUT (if any) once the command is running, prints how many bytes the
/// terminal showed, their last 2000, bdexec's (the monitor's) last
/// `VmHWM` seen in /proc and `RC=N`. Keeps only a tail of the output
/// (1 GiB passes through it); gives up after `LIMIT` seconds (60).
const DRIVER: &str = r#"
import os, pty, sys, select, time
typed = os.environ.get("TYPE", "").encode()
cmd = [os.environ["BDEXEC"]] + sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(cmd[0], cmd)
out = bytearray(); total = 0; hwm = "?"; looked = 0
if typed:
    time.sleep(0.5)
    os.write(fd, typed)
end = time.time() + int(os.environ.get("LIMIT", "60"))
while time.time() < end:
    if time.time() - looked > 0.5:
        looked = time.time()
        try:
            for l in open("/proc/%d/status" % pid):
                if l.startswith("VmHWM:"):
                    hwm = l.split()[1]
        except OSError:
            pass
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            b = os.read(fd, 65536)
        except OSError:
            break
        if not b:
            break
        total += len(b); out += b
        if len(out) > 65536:
            del out[:-4096]
_, st = os.waitpid(pid, 0)
sys.stdout.write("%d bytes\n" % total)
sys.stdout.write(out[-2000:].decode(errors="replace"))
sys.stdout.write("\nHWM=%s\nRC=%d\n" % (hwm, os.waitstatus_to_exitcode(st)))
"#;

fn on_pty(env: &TestEnv, typed: &str, args: &[&str]) -> Out {
    on_pty_for(env, typed, args, 60)
}

fn on_pty_for(env: &TestEnv, typed: &str, args: &[&str], limit: u64) -> Out {
    let driver = env.scratch().join("driver.py");
    std::fs::write(&driver, DRIVER).unwrap();
    env.program("alice", "/usr/bin/python3")
        .arg(&driver)
        .args(args)
        .env("BDEXEC", env.bdexec_path())
        .env("TERM", "xterm")
        .env("TYPE", typed)
        .env("LIMIT", limit.to_string())
        .timeout(Duration::from_secs(limit + 60))
        .run()
}

fn sessions(env: &TestEnv) -> std::path::PathBuf {
    env.audit_path().parent().expect("log dir").join("sessions")
}

/// The one accept and exit record, and the recording's path.
fn recorded(env: &TestEnv) -> (Value, Value, std::path::PathBuf) {
    let acc = env.audit_events("accept");
    let ex = env.audit_events("exit");
    assert_eq!((acc.len(), ex.len()), (1, 1), "{acc:#?}\n{ex:#?}");
    assert_eq!(ex[0]["accept"], acc[0]["uuid"]);
    let uuid = acc[0]["uuid"].as_str().expect("uuid").to_string();
    let path = sessions(env).join(format!("{uuid}.cast"));
    (acc[0].clone(), ex[0].clone(), path)
}

fn events(cast: &[u8]) -> Vec<Value> {
    cast.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("every line is JSON"))
        .collect()
}

fn text_of(ev: &[Value], kind: &str) -> String {
    ev[1..]
        .iter()
        .filter(|e| e[1] == kind)
        .map(|e| e[2].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_recorded_session_is_saved_hashed_and_replayed() {
    let Some(env) = TestEnv::new("recording::a_recorded_session_is_saved_hashed_and_replayed")
    else {
        return;
    };
    env.policy(&policy("record = true"));
    let o = on_pty(&env, "", &["/usr/bin/printf", "hello\\nworld\\n"]);
    assert!(o.stdout_str().contains("RC=0"), "{o}");
    assert!(o.stdout_str().contains("hello"), "{o}");
    let (acc, ex, path) = recorded(&env);
    assert_eq!(acc["monitor"], true, "record implies monitor mode");
    // The file: root's, 0600, in a 0700 directory.
    let md = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!((md.uid(), md.mode() & 0o7777), (0, 0o600));
    let dmd = std::fs::metadata(sessions(&env)).unwrap();
    assert_eq!((dmd.uid(), dmd.mode() & 0o7777), (0, 0o700));
    // Its hash is in the exit record.
    let cast = std::fs::read(&path).unwrap();
    let want = format!("blake3:{}", blake3::hash(&cast).to_hex());
    assert_eq!(ex["recording"], want.as_str(), "{ex:#}");
    assert!(ex.get("recording_error").is_none(), "{ex:#}");
    // asciicast v2: header, then output events with the command's text
    // (the pty turns \n into \r\n); no input without record_input.
    let ev = events(&cast);
    assert_eq!(ev[0]["version"], 2);
    assert_eq!(ev[0]["env"]["TERM"], "xterm");
    assert!(ev[0]["width"].as_u64().unwrap_or(0) > 0);
    assert_eq!(text_of(&ev, "o"), "hello\r\nworld\r\n");
    assert_eq!(text_of(&ev, "i"), "");
    // bdctl replay plays it back.
    let uuid = acc["uuid"].as_str().unwrap();
    let r = env.bdctl(&["replay", uuid, "--raw"]);
    r.expect_stdout("hello\r\nworld\r\n", "replay --raw");
    let r = env.bdctl(&["replay", uuid, "--speed", "100"]);
    r.expect_stdout("hello\r\nworld\r\n", "replay --speed 100");
    // asciinema itself reads it (`asciinema cat` wants a terminal:
    // script(1) gives it one).
    if std::path::Path::new("/usr/bin/asciinema").exists() {
        let a = std::process::Command::new("/usr/bin/script")
            .arg("-qec")
            .arg(format!("asciinema cat {}", path.display()))
            .arg("/dev/null")
            .stdin(std::process::Stdio::null())
            .env("LC_ALL", "C.UTF-8")
            .output()
            .expect("asciinema runs");
        assert!(a.status.success(), "{a:?}");
        assert_eq!(String::from_utf8_lossy(&a.stdout), "hello\r\nworld\r\n");
    } else {
        eprintln!("SKIPPED (asciinema not installed): asciinema cat of the recording");
    }
    // A recording changed afterwards is refused, and so is a bad UUID.
    let mut changed = cast.clone();
    let at = changed.len() - 3;
    changed[at] ^= 1;
    std::fs::write(&path, &changed).unwrap();
    let r = env.bdctl(&["replay", uuid, "--raw"]);
    r.expect_code(1, "a changed recording");
    assert!(r.stderr_str().contains("does not match"), "{r}");
    assert!(r.stdout.is_empty(), "{r}");
    env.bdctl(&["replay", "../../etc/shadow"])
        .expect_code(2, "not a uuid");
    env.bdctl(&["replay", "00000000-0000-4000-8000-000000000000"])
        .expect_code(1, "no such session");
    env.assert_verify_ok("recording");
}

#[test]
fn input_is_recorded_only_with_record_input() {
    for input in [false, true] {
        let Some(env) = TestEnv::new(&format!(
            "recording::input_is_recorded_only_with_record_input_{input}"
        )) else {
            return;
        };
        env.policy(&policy(&format!("record = true\nrecord_input = {input}")));
        let o = on_pty(&env, "typed-line\r", &["/usr/bin/head", "-n1"]);
        assert!(o.stdout_str().contains("RC=0"), "{o}");
        let (_, _, path) = recorded(&env);
        let ev = events(&std::fs::read(&path).unwrap());
        // The echo of the line is output either way (the pty echoes).
        assert!(text_of(&ev, "o").contains("typed-line"), "{ev:?}");
        assert_eq!(text_of(&ev, "i") == "typed-line\r", input, "{ev:?}");
    }
}

/// `record` needs the session's pty: without a terminal the call is
/// refused (as require_tty), nothing runs, no file is made.
#[test]
fn no_terminal_no_recorded_session() {
    let Some(env) = TestEnv::new("recording::no_terminal_no_recorded_session") else {
        return;
    };
    env.policy(&policy("record = true"));
    let o = env.run_as_user("alice", &["/usr/bin/printf", "x"]);
    o.expect_refusal(1, "needs a terminal");
    assert!(env.audit_events("accept").is_empty());
    assert!(!sessions(&env).exists() || std::fs::read_dir(sessions(&env)).unwrap().count() == 0);
}

/// Much output (tens of MiB through the pty): recorded whole and the
/// hash holds. (The issue's 1 GiB is `make test-recording-large`, below.)
#[test]
fn much_output_is_recorded_whole() {
    let Some(env) = TestEnv::new("recording::much_output_is_recorded_whole") else {
        return;
    };
    env.policy(&policy("record = true"));
    let o = on_pty(&env, "", &["/usr/bin/seq", "1", "5000000"]);
    assert!(o.stdout_str().contains("RC=0"), "{o}");
    assert!(o.stdout_str().contains("5000000"), "{o}");
    let (_, ex, path) = recorded(&env);
    let cast = std::fs::read(&path).unwrap();
    assert_eq!(
        ex["recording"],
        format!("blake3:{}", blake3::hash(&cast).to_hex()).as_str()
    );
    let out = text_of(&events(&cast), "o");
    assert!(
        out.starts_with("1\r\n2\r\n"),
        "{}",
        &out[..20.min(out.len())]
    );
    assert!(out.ends_with("4999999\r\n5000000\r\n"));
}

/// A full disk while recording ends the recording, not the command: the
/// file keeps whole lines only, the exit record says why it ended, and
/// its hash still matches (so `bdctl replay` plays what was saved).
#[test]
fn a_full_disk_ends_the_recording_cleanly() {
    let Some(env) = TestEnv::new("recording::a_full_disk_ends_the_recording_cleanly") else {
        return;
    };
    env.policy(&policy("record = true"));
    let dir = sessions(&env);
    std::fs::create_dir_all(&dir).unwrap();
    // A 64 KiB tmpfs for the recordings (root's, 0700), in the test's
    // own directory; every bdexec call's namespace inherits it.
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k,mode=0700", "bdtest-full"])
        .arg(&dir)
        .status()
        .expect("mount");
    assert!(st.success(), "mount tmpfs");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _u = Unmount(dir.clone());
    let o = on_pty(&env, "", &["/usr/bin/seq", "1", "100000"]);
    assert!(
        o.stdout_str().contains("RC=0"),
        "the command ran to its end: {o}"
    );
    assert!(o.stdout_str().contains("100000"), "{o}");
    let (acc, ex, path) = recorded(&env);
    let err = ex["recording_error"].as_str().unwrap_or_default();
    assert!(err.contains("No space left on device"), "{ex:#}");
    let cast = std::fs::read(&path).unwrap();
    assert!(cast.ends_with(b"\n"), "whole lines only");
    assert_eq!(
        ex["recording"],
        format!("blake3:{}", blake3::hash(&cast).to_hex()).as_str()
    );
    let r = env.bdctl(&["replay", acc["uuid"].as_str().unwrap(), "--raw"]);
    r.expect_code(0, "replay of the part saved");
    assert!(r.stdout_str().starts_with("1\r\n2\r\n"), "{r}");
    env.assert_verify_ok("full disk while recording");
}

/// The issue's bad input: 1 GiB of output through the pty while
/// recording. The monitor's peak memory (its `VmHWM`, read from /proc by
/// the driver while it runs) stays under 64 MiB, the recording holds
/// every byte the pty showed, in order (unescaped and hashed against the
/// expected stream), and its BLAKE3 is the exit record's. The recording
/// (about 1.1 GB) is deleted after the check, also when it fails.
/// Minutes in a debug build: run by `make test-recording-large`
/// (BELLADONNA_TEST_RECORDING_LARGE=1), skipped otherwise.
#[test]
fn a_gib_of_output_is_recorded_in_bounded_memory() {
    const SIZE: u64 = 1 << 30;
    const LINE: u64 = 1024;
    const MAX_HWM_KB: u64 = 64 << 10;
    let name = "recording::a_gib_of_output_is_recorded_in_bounded_memory";
    if std::env::var_os("BELLADONNA_TEST_RECORDING_LARGE").is_none() {
        loud(&format!(
            "SKIPPED (1 GiB through the pty: run `make test-recording-large`): {name}"
        ));
        return;
    }
    let Some(env) = TestEnv::new(name) else {
        return;
    };
    env.policy(&policy("record = true"));
    let script = format!(
        "l=$(printf '%0{}d' 7); yes \"$l\" | head -c {SIZE}",
        LINE - 1
    );
    let started = std::time::Instant::now();
    // The recordings go when the test ends, passed or failed (a failed
    // test's directory is kept).
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            for f in std::fs::read_dir(&self.0).into_iter().flatten().flatten() {
                let _ = std::fs::remove_file(f.path());
            }
        }
    }
    let _rm = Remove(sessions(&env));
    let o = on_pty_for(&env, "", &["/bin/sh", "-c", &script], 1200);
    eprintln!("{name}: {:?}", started.elapsed());
    let s = o.stdout_str();
    assert!(s.contains("RC=0"), "{o}");
    // The pty turns each \n into \r\n.
    let shown = SIZE + SIZE / LINE;
    assert!(s.contains(&format!("{shown} bytes")), "{o}");
    let hwm: u64 = s
        .split("HWM=")
        .nth(1)
        .and_then(|h| h.lines().next())
        .and_then(|h| h.trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM of the monitor seen: {o}"));
    eprintln!("{name}: the monitor's VmHWM {hwm} kB");
    assert!(hwm < MAX_HWM_KB, "the monitor's peak: {hwm} kB\n{o}");
    let (_, ex, path) = recorded(&env);
    assert!(ex.get("recording_error").is_none(), "{ex:#}");
    // Stream the file: its hash, and the output events' text unescaped
    // (only \r and \n need escapes here) hashed as it goes.
    use std::io::BufRead;
    let mut file = std::io::BufReader::with_capacity(
        1 << 20,
        std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    );
    let (mut whole, mut text) = (blake3::Hasher::new(), blake3::Hasher::new());
    let (mut lines, mut got) = (0u64, 0u64);
    let mut l = Vec::new();
    let mut plain = Vec::new();
    loop {
        l.clear();
        if file.read_until(b'\n', &mut l).unwrap() == 0 {
            break;
        }
        whole.update(&l);
        lines += 1;
        if lines == 1 {
            continue;
        }
        let at = l
            .windows(5)
            .position(|w| w == b",\"o\",")
            .unwrap_or_else(|| panic!("event {lines} is not output"));
        let body = l[at + 5..]
            .strip_prefix(b"\"")
            .and_then(|b| b.strip_suffix(b"\"]\n"))
            .unwrap_or_else(|| panic!("event {lines}: not [t, \"o\", \"...\"]"));
        plain.clear();
        let mut i = 0;
        while i < body.len() {
            match (body[i], body.get(i + 1)) {
                (b'\\', Some(b'r')) => plain.push(b'\r'),
                (b'\\', Some(b'n')) => plain.push(b'\n'),
                (b'\\', e) => panic!("event {lines}: unexpected escape {e:?}"),
                (b, _) => {
                    plain.push(b);
                    i += 1;
                    continue;
                }
            }
            i += 2;
        }
        text.update(&plain);
        got += plain.len() as u64;
    }
    assert_eq!(
        ex["recording"],
        format!("blake3:{}", whole.finalize().to_hex()).as_str()
    );
    assert_eq!(got, shown, "every byte the pty showed is recorded");
    let mut want = blake3::Hasher::new();
    let one = format!("{:0w$}\r\n", 7, w = (LINE - 1) as usize);
    let block = one.repeat(1024);
    for _ in 0..SIZE / LINE / 1024 {
        want.update(block.as_bytes());
    }
    assert_eq!(text.finalize(), want.finalize(), "in order, unchanged");
}
