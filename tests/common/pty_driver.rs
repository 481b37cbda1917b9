//! The pty driver: python3 with a real pty (the caller's, owned by the
//! caller), run as the caller inside the test's namespace, running
//! `$BDEXEC ARGS...` in one of its modes:
//!
//! * `run`: on the pty directly (window 33x111); prints `RC=`, whether
//!   the terminal's modes came back (`MODES=same`), the CPU time and a
//!   line the command left unread (`GOT[...]`);
//! * `winch`: as `run`, changing the window size to 44x122 once `33 111`
//!   shows, then typing `go`;
//! * `bash`, `bashbg`: typed into an interactive bash; once `started`
//!   shows, Ctrl-Z (bash must say `Stopped`), the terminal's modes while
//!   stopped (`STOPPED:...END`), then `fg` (`bashbg`: `bg`, then `fg`
//!   and a line `hello`) until `finished`, then `rc=$?` and the modes;
//! * `notty`: without a terminal (a new session, stdin /dev/null).

use super::{Call, Out, TestEnv};
use std::time::Duration;

/// The driver: python3 with a real pty, as the caller.
pub const DRIVER: &str = r#"
import os, pty, sys, time, select, termios, fcntl, struct, subprocess
mode = sys.argv[1]; cmd = [os.environ["BDEXEC"]] + sys.argv[2:]

def collect(fd, until=None, limit=15, out=None):
    out = out if out is not None else bytearray()
    end = time.time() + limit
    while time.time() < end:
        if until and until.encode() in out:
            return out
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                b = os.read(fd, 4096)
            except OSError:
                return out
            if not b:
                return out
            out += b
    return out

if mode == "notty":
    os.setsid()
    sys.exit(subprocess.call(cmd, stdin=subprocess.DEVNULL))

def after(fd, out, mark, until, limit=5):
    # Collect until `until` shows after the last `mark`.
    end = time.time() + limit
    while until.encode() not in out[out.rfind(mark.encode()):] and time.time() < end:
        out = collect(fd, None, 0.1, out)
    return out

if mode in ("bash", "bashbg"):
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["PS1"] = "$ "
        os.execv("/bin/bash", ["bash", "--norc", "--noprofile", "-i"])
    out = collect(fd, "$ ")
    line = " ".join(cmd) + "\r"
    os.write(fd, line.encode()); out = collect(fd, "started", out=out)
    time.sleep(0.3); os.write(fd, b"\x1a"); out = collect(fd, "Stopped", out=out)
    os.write(fd, b"echo STOPPED:$(stty -a | tr ' ' '\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ,)END\r")
    out = collect(fd, ",END", out=out, limit=5)
    if mode == "bashbg":
        # bg, then fg: the command waits for a line typed after fg.
        os.write(fd, b"bg\r"); out = after(fd, out, "bg", "$ ")
        time.sleep(0.3); os.write(fd, b"fg\r"); time.sleep(0.5)
        os.write(fd, b"hello\r"); out = collect(fd, "finished", out=out)
    else:
        os.write(fd, b"fg\r"); out = collect(fd, "finished", out=out)
    # Typed before the prompt, a line would go to the command's pty.
    out = after(fd, out, "finished", "$ ")
    os.write(fd, b"echo rc=$?\r"); out = collect(fd, "rc=0", out=out)
    os.write(fd, b"stty -a | tr ' ' '\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' , ; exit\r")
    out = collect(fd, None, 5, out)
    sys.stdout.write(out.decode(errors="replace")); sys.exit(0)

pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    before = termios.tcgetattr(0)
    t0 = os.times()
    rc = subprocess.call(cmd)
    t1 = os.times()
    after = termios.tcgetattr(0)
    print("RC=%d" % rc)
    print("MODES=" + ("same" if before == after else "changed"))
    print("CPU=%.3f" % ((t1[2] - t0[2]) + (t1[3] - t0[3])))
    r, _, _ = select.select([0], [], [], 1.0)
    got = os.read(0, 100) if r else b""
    print("GOT[" + got.decode(errors="replace").strip() + "]")
    sys.exit(0)
out = bytearray()
if mode == "winch":
    out = collect(fd, "33 111")
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 44, 122, 0, 0))
    time.sleep(0.5)
    os.write(fd, b"go\r")
out = collect(fd, None, 20, out)
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
"#;

pub fn drive_call<'a>(env: &'a TestEnv, mode: &str, args: &[&str]) -> Call<'a> {
    let driver = env.scratch().join("driver.py");
    std::fs::write(&driver, DRIVER).unwrap();
    env.program("alice", "/usr/bin/python3")
        .arg(&driver)
        .arg(mode)
        .args(args)
        .env("BDEXEC", env.bdexec_path())
        .env("TERM", "xterm")
        .timeout(Duration::from_secs(60))
}

pub fn drive(env: &TestEnv, mode: &str, args: &[&str]) -> Out {
    drive_call(env, mode, args).run()
}
