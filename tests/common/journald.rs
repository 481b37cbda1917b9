//! A real systemd-journald for one test: started inside a private mount
//! namespace with the test's own `/run` (so its sockets are
//! `<test>/run/systemd/journal/*`, the paths bdexec uses inside every
//! run's namespace), volatile storage in `<test>/run/log/journal`, no
//! kernel log, no forwarding. Read back on the host with
//! `journalctl --directory`. Killed (SIGKILL) when dropped.

use super::{Running, TestEnv};
use serde_json::Value;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The journald binary (Debian package `systemd`).
pub const JOURNALD: &str = "/lib/systemd/systemd-journald";

/// A running journald (see the module documentation).
pub struct Journald {
    run: Option<Running>,
    /// Host path of the journal directory.
    pub dir: PathBuf,
}

impl TestEnv {
    /// Host path of journald's native socket for this test.
    pub fn journal_socket(&self) -> PathBuf {
        self.run_dir().join("systemd/journal/socket")
    }

    /// Start systemd-journald for this test and wait for its socket.
    pub fn start_journald(&self) -> Journald {
        super::mkdir_mode(&self.run_dir().join("systemd"), 0o755);
        super::mkdir_mode(&self.run_dir().join("systemd/journal"), 0o755);
        let conf = self.etc("systemd/journald.conf.d");
        fs::create_dir_all(&conf).expect("journald.conf.d");
        fs::write(
            conf.join("belladonna-test.conf"),
            "[Journal]\nStorage=volatile\nReadKMsg=no\nForwardToSyslog=no\n\
             ForwardToKMsg=no\nForwardToConsole=no\nForwardToWall=no\n\
             RateLimitBurst=0\nAudit=no\n",
        )
        .expect("journald.conf");
        let run = self
            .program("root", JOURNALD)
            .timeout(Duration::from_secs(3600))
            .what("systemd-journald".into())
            .spawn();
        let sock = self.journal_socket();
        let t0 = Instant::now();
        while !sock.exists() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "systemd-journald did not create {}",
                sock.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Journald {
            run: Some(run),
            dir: self.run_dir().join("log/journal"),
        }
    }
}

impl Journald {
    /// `journalctl -o json --all -t bdexec` over this journal, once.
    pub fn entries_now(&self) -> Vec<Value> {
        let out = Command::new("journalctl")
            .arg("--directory")
            .arg(&self.dir)
            .args(["-o", "json", "--all", "--no-pager", "-q", "-t", "bdexec"])
            .output()
            .expect("run journalctl");
        out.stdout
            .split(|c| *c == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("journalctl -o json line"))
            .collect()
    }

    /// The bdexec entries once at least `n` are there (journald writes
    /// asynchronously), within 20 s.
    pub fn entries(&self, n: usize) -> Vec<Value> {
        let t0 = Instant::now();
        loop {
            let v = self.entries_now();
            if v.len() >= n || t0.elapsed() > Duration::from_secs(20) {
                return v;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The entry whose BD_SEQ is `seq` (exactly one).
    pub fn by_seq(&self, all: &[Value], seq: u64) -> Value {
        let s = seq.to_string();
        let found: Vec<&Value> = all.iter().filter(|e| e["BD_SEQ"] == s.as_str()).collect();
        assert_eq!(found.len(), 1, "entries with BD_SEQ={seq}: {found:#?}");
        found[0].clone()
    }
}

impl Drop for Journald {
    fn drop(&mut self) {
        if let Some(r) = self.run.take() {
            r.kill9();
            let _ = r.wait();
        }
    }
}
