//! `-A` / `--askpass`: the password from a helper program, as sudo's
//! askpass (a graphical or scripted prompt).
//!
//! The helper is named by `BDEXEC_ASKPASS`, else `SUDO_ASKPASS`, in the
//! caller's environment: an absolute path the caller itself may execute
//! (checked with the caller's real ids before anything runs). It runs
//! **as the caller, with no privilege**: forked from bdexec, the child
//! takes the caller's uid, gid and groups in all three ids
//! (`exec::privileges::switch_to_target`, which also clears and verifies
//! every capability set), sets no_new_privs, and executes the helper with
//! the prompt as its one argument, standard input `/dev/null`, standard
//! output a pipe to bdexec and standard error the caller's, no other fd
//! (all above 2 are closed), and the
//! caller's environment (it is the caller's own program). bdexec reads
//! the first line of its output (at most [`MAX_ANSWER`] bytes, within
//! [`PROMPT_TIMEOUT`]; the helper is killed after that), then waits for
//! it: a helper that cannot be found or run, exits non-zero, is killed
//! by a signal or prints nothing is a refusal that says which.
#![forbid(unsafe_code)]

use super::error::AuthError;
use super::tty::{MAX_ANSWER, PROMPT_TIMEOUT, Secret};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Gid, Pid};
use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::time::Instant;

/// The environment variables that name the helper, in order.
pub const ASKPASS_VARS: [&str; 2] = ["BDEXEC_ASKPASS", "SUDO_ASKPASS"];

/// A helper program and the caller it runs as.
#[derive(Debug, Clone)]
pub struct Askpass {
    program: PathBuf,
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
}

fn fail(m: String) -> AuthError {
    AuthError::Tty(m)
}

impl Askpass {
    /// The helper named in this process's environment, to run as the
    /// caller `uid`/`gid` with `groups`. Refused when no variable names
    /// one, or the value is not an absolute path.
    pub fn from_env(uid: u32, gid: u32, groups: &[u32]) -> Result<Askpass, AuthError> {
        let value = ASKPASS_VARS
            .iter()
            .find_map(|v| std::env::var_os(v).filter(|s| !s.is_empty()))
            .ok_or_else(|| {
                fail(
                    "-A: no askpass helper (set BDEXEC_ASKPASS or SUDO_ASKPASS to its path)".into(),
                )
            })?;
        let program = PathBuf::from(value);
        if !program.is_absolute() {
            return Err(fail(format!(
                "-A: askpass helper {} is not an absolute path",
                crate::base::escape::display(program.as_os_str().as_bytes())
            )));
        }
        Ok(Askpass {
            program,
            uid,
            gid,
            groups: groups.to_vec(),
        })
    }

    fn shown(&self) -> String {
        crate::base::escape::display(self.program.as_os_str().as_bytes())
    }

    /// Run the helper with `prompt` and return the first line it prints.
    pub fn ask(&self, prompt: &str) -> Result<Secret, AuthError> {
        let name = self.shown();
        // Checked with the caller's own ids (access(2) uses the real
        // ones, stat the effective ones): the caller may execute it and
        // it is a regular file; a clear refusal before any fork.
        let checked = crate::exec::privileges::as_caller(|| {
            nix::unistd::access(&self.program, nix::unistd::AccessFlags::X_OK)
                .map_err(|e| e.desc().to_string())
                .and_then(|()| std::fs::metadata(&self.program).map_err(|e| e.to_string()))
                .and_then(|m| {
                    if m.is_file() {
                        Ok(())
                    } else {
                        Err("not a regular file".to_string())
                    }
                })
        })
        .map_err(|e| fail(format!("askpass helper {name}: {e}")))?;
        checked.map_err(|e| fail(format!("askpass helper {name}: {e}")))?;
        let path = CString::new(self.program.as_os_str().as_bytes())
            .map_err(|_| fail("askpass helper path contains NUL".into()))?;
        let arg =
            CString::new(prompt.as_bytes()).map_err(|_| fail("prompt contains NUL".into()))?;
        let envp: Vec<CString> = std::env::vars_os()
            .filter_map(|(k, v)| {
                let mut kv: OsString = k;
                kv.push("=");
                kv.push(v);
                CString::new(kv.into_vec()).ok()
            })
            .collect();
        let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| fail(format!("askpass: pipe: {}", e.desc())))?;
        match crate::sys::proc::fork().map_err(|e| fail(format!("askpass: fork: {}", e.desc())))? {
            ForkResult::Child => {
                drop(read_end);
                self.child(write_end, &path, &arg, &envp)
            }
            ForkResult::Parent { child } => {
                drop(write_end);
                let line = read_line(&read_end, child, &name);
                drop(read_end);
                let status = waitpid(child, None);
                let line = line?;
                match status {
                    Ok(WaitStatus::Exited(_, 0)) => {}
                    Ok(WaitStatus::Exited(_, 127)) => {
                        return Err(fail(format!("askpass helper {name} could not be run")));
                    }
                    Ok(WaitStatus::Exited(_, c)) => {
                        return Err(fail(format!(
                            "askpass helper {name} failed (exit status {c})"
                        )));
                    }
                    Ok(WaitStatus::Signaled(_, s, _)) => {
                        return Err(fail(format!("askpass helper {name} killed by {s}")));
                    }
                    Ok(_) | Err(_) => {
                        return Err(fail(format!("askpass helper {name}: wait failed")));
                    }
                }
                if line.as_bytes().is_empty() {
                    return Err(fail(format!("askpass helper {name} gave no password")));
                }
                Ok(line)
            }
        }
    }

    /// The child: become the caller, unprivileged, then exec. Never
    /// returns; 127 when anything fails before the helper runs.
    fn child(&self, out: OwnedFd, path: &CString, arg: &CString, envp: &[CString]) -> ! {
        let run = || -> Option<()> {
            let null = std::fs::File::open("/dev/null").ok()?;
            nix::unistd::dup2_stdin(null.as_fd()).ok()?;
            nix::unistd::dup2_stdout(out.as_fd()).ok()?;
            drop(null);
            drop(out);
            // Nothing of bdexec's reaches the helper: every fd above the
            // standard ones is closed (state, policy, log, whatever was
            // opened without close-on-exec).
            crate::sys::fs::close_range(3, u32::MAX).ok()?;
            let groups: Vec<Gid> = self.groups.iter().map(|g| Gid::from_raw(*g)).collect();
            crate::exec::privileges::switch_to_target(self.uid, self.gid, &groups, false).ok()?;
            nix::sys::prctl::set_no_new_privs().ok()?;
            let _ = nix::unistd::execve(path, &[path.as_c_str(), arg.as_c_str()], envp);
            None
        };
        let _ = run();
        crate::sys::proc::exit_now(127)
    }
}

/// The helper's first line, within the prompt's time limit; the helper
/// is killed when it takes longer or writes more than an answer.
fn read_line(fd: &OwnedFd, child: Pid, name: &str) -> Result<Secret, AuthError> {
    let mut buf = Vec::with_capacity(64);
    let start = Instant::now();
    let kill = || {
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
    };
    loop {
        let left = PROMPT_TIMEOUT.saturating_sub(start.elapsed());
        if left.is_zero() {
            kill();
            crate::sys::mem::wipe(&mut buf);
            return Err(fail(format!(
                "askpass helper {name} timed out after {} s",
                PROMPT_TIMEOUT.as_secs()
            )));
        }
        let mut pfd = [nix::poll::PollFd::new(
            fd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = u16::try_from(left.as_millis().min(1000)).unwrap_or(1000);
        match nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(ms)) {
            Ok(0) | Err(nix::Error::EINTR) => continue,
            Ok(_) => {}
            Err(e) => {
                kill();
                return Err(fail(format!("askpass: poll: {}", e.desc())));
            }
        }
        let mut chunk = [0u8; 256];
        match nix::unistd::read(fd, &mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                crate::sys::mem::wipe(&mut chunk);
                if let Some(i) = buf.iter().position(|b| *b == b'\n' || *b == b'\r') {
                    buf.truncate(i);
                    break;
                }
                if buf.len() > MAX_ANSWER {
                    kill();
                    crate::sys::mem::wipe(&mut buf);
                    return Err(fail(format!("askpass helper {name}: answer too long")));
                }
            }
            Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => continue,
            Err(e) => {
                kill();
                return Err(fail(format!("askpass: read: {}", e.desc())));
            }
        }
    }
    if buf.len() > MAX_ANSWER {
        crate::sys::mem::wipe(&mut buf);
        return Err(fail(format!("askpass helper {name}: answer too long")));
    }
    Ok(Secret::from_vec(buf))
}
