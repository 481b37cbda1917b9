//! Monitor mode (`monitor = true`, belladonna-policy(5)): bdexec forks
//! once the accept record is durable. The child goes on exactly as
//! without a monitor (id switch, confinement, `execveat`; with a pty it
//! forks once more first and the grandchild goes on, see below); the
//! parent, still named bdexec, becomes the monitor:
//!
//! * it holds nothing it does not need: every fd but the standard ones,
//!   the caller's terminal, the pty master, the session leader's report
//!   pipe and its signalfd is closed,
//!   and its permitted capabilities are dropped. It keeps uid 0 in all
//!   three ids (the shield, src/exec/privileges.rs): the effective uid
//!   lets it append the exit record to the root-owned log, the real and
//!   saved uids keep the caller from signalling or ptracing it. It stays
//!   non-dumpable.
//! * it relays signals to the command (INT, QUIT, TSTP, TERM, HUP, CONT,
//!   USR1, USR2, WINCH), except one the command (or, with a pty, any
//!   process of the pty's session) sent itself, and, without a pty, one
//!   the terminal sent to the whole foreground group (the command has it
//!   already).
//!   SIGALRM ends the command (HUP, then TERM). As with sudo, the caller
//!   cannot `kill` the monitor (EPERM: its real uid is 0); the terminal's
//!   signals and root's reach it.
//! * when the command stops, the monitor stops itself with the same
//!   signal, so the shell's job control sees the job stop; continued, it
//!   continues the command.
//! * with a pty (`use_pty`, default on when the caller has a terminal),
//!   the command runs in a new session on a new pty owned by the target,
//!   under a session leader between the monitor and the command
//!   (leader.rs: it keeps the command's process group from being
//!   orphaned, so the pty's Ctrl-Z stops it; it relays the monitor's
//!   signals to the command's process group and reports the command's
//!   pid, stops and exact end to the monitor over a pipe);
//!   the fds that were the caller's terminal are replaced by the pty (any
//!   other fd, a pipe or a file, reaches the command unchanged). The
//!   monitor relays between the caller's terminal (set raw while the
//!   command runs, restored after, also when it stops) and the pty, and
//!   copies window size changes; in the background (`bg`) it looks every
//!   `BACKGROUND_CHECK` whether it is in the foreground again, as a
//!   shell's `fg` of a running job sends no signal. The command can no
//!   longer push input into the caller's terminal (TIOCSTI, TIOCLINUX):
//!   it is not its controlling terminal and it holds no fd of it.
//! * with `record = true` (src/exec/recording.rs) it writes what the pty
//!   shows (and with `record_input` what the caller types) to the
//!   session's asciicast file as it relays it.
//! * with a timeout (rule `timeout`, `bdexec -T`), it sends TERM when
//!   the time is up (to the pty's process group, or to the command
//!   alone without a pty), KILL after [`KILL_GRACE`], and the exit
//!   record says `"timed_out":true`;
//! * when the command ends, it appends an `exit` record chained to the
//!   accept record (src/audit/record.rs; with the recording's BLAKE3)
//!   and exits with the command's status, or kills itself with the same
//!   signal (a shell sees 128+N).
//!
//! If the monitor itself is killed (only root can), the command goes
//! on with exactly what a plain exec would have given it: the monitor
//! has no privilege to leave behind in it (no fd, no id, no capability
//! of the monitor's reaches the command). With a pty, the session leader
//! gets SIGKILL (its parent-death signal) and the closed master hangs
//! the pty up: the kernel sends the command SIGHUP, as when a terminal
//! goes away. Without a pty it keeps running, as a command that sudo
//! runs without a pty does. (A parent-death signal would not help the
//! command: the kernel clears it when a root command gains its
//! capabilities at exec, and refuses to send it to another user's
//! command, the monitor having no CAP_KILL.) The accept record stays
//! without its exit record, which `bdctl audit show` marks "no exit
//! recorded".
//!
//! With `noexec`, the monitor also runs the supervisor of the command's
//! execs (src/exec/noexec.rs) in a thread of its own, started after it
//! shed its capabilities; its count goes into the exit record.
//!
//! The calls nix does not wrap safely (fork, wait4, the pty ioctls, a
//! signal's default action) go through src/sys.
#![forbid(unsafe_code)]

mod leader;
mod pty;

use crate::audit::{self, AppendOptions, ExitRecord, Outcome};
use crate::exec::recording::{self, Recorder};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::termios::{self, SetArg, Termios};
use pty::{caller_tty, new_pty, rdev};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::Instant;

/// Signals relayed to the command.
pub(crate) const RELAYED: [Signal; 9] = [
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTSTP,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGCONT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// What the monitor needs to know.
pub struct Plan<'a> {
    /// Give the command its own pty (when the caller has a terminal).
    pub use_pty: bool,
    /// The target, owner of the new pty.
    pub target_uid: u32,
    pub target_gid: u32,
    /// The accept record's UUID and the fields the exit record repeats.
    pub accept: [u8; 16],
    pub host: &'a [u8],
    /// The accept record's checked `traceparent`, repeated in the exit
    /// record.
    pub traceparent: Option<&'a str>,
    /// `record`: `Some(record_input)`.
    pub record: Option<bool>,
    /// `noexec`: the supervisor of the command's execs (src/exec/noexec.rs).
    pub noexec: Option<&'a crate::exec::noexec::Supervisor>,
    /// End the command after this long (rule `timeout`, `bdexec -T`):
    /// TERM, then KILL after [`KILL_GRACE`].
    pub timeout: Option<std::time::Duration>,
}

/// How often a monitor in the background looks whether it is in the
/// foreground again (to make the caller's terminal raw).
const BACKGROUND_CHECK: std::time::Duration = std::time::Duration::from_millis(200);

/// Between the TERM of a timeout and the KILL.
pub const KILL_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The child's side: what it must still do on its way to exec.
pub struct Child {
    pty: Option<OwnedFd>,
    tty_rdev: Option<u64>,
    /// With a pty: the write end of the session leader's report pipe.
    report: Option<OwnedFd>,
    target_uid: u32,
}

/// The command's resource usage, as the exit record gives it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub maxrss_kb: u64,
    pub utime_us: u64,
    pub stime_us: u64,
}

impl Usage {
    fn of(ru: &libc::rusage) -> Usage {
        Usage {
            maxrss_kb: ru.ru_maxrss.max(0) as u64,
            utime_us: tv_us(ru.ru_utime),
            stime_us: tv_us(ru.ru_stime),
        }
    }
}

/// Fork. In the parent this becomes the monitor and never returns; in
/// the child it returns what [`Child::before_switch`] still does.
/// Errors happen before the fork.
pub fn start(plan: &Plan<'_>) -> Result<Child, String> {
    let tty = caller_tty();
    // fstat of /dev/tty names /dev/tty itself: the terminal's own
    // device number comes from /proc/self/stat.
    let tty_rdev = tty
        .as_ref()
        .and(crate::identity::controlling_tty_dev())
        .map(|(ma, mi)| libc::makedev(ma, mi));
    let pty = match (&tty, plan.use_pty) {
        (Some(t), true) => Some(new_pty(t, plan.target_uid, plan.target_gid)?),
        _ => None,
    };
    // With a pty, the session leader (leader.rs) reports the command's
    // pid, stops and end on this pipe.
    let reports = match pty {
        Some(_) => Some(
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?,
        ),
        None => None,
    };
    let mut mask = SigSet::empty();
    for s in RELAYED {
        mask.add(s);
    }
    for s in [
        Signal::SIGCHLD,
        Signal::SIGALRM,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
    ] {
        mask.add(s);
    }
    let mut old = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), Some(&mut old))
        .map_err(|e| format!("sigprocmask: {e}"))?;
    let sfd = nix::sys::signalfd::SignalFd::with_flags(
        &mask,
        nix::sys::signalfd::SfdFlags::SFD_CLOEXEC | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK,
    )
    .map_err(|e| format!("signalfd: {e}"))?;
    // The recording is created before anything runs: a session that must
    // be recorded and cannot be does not start.
    let rec = match plan.record {
        Some(input) => {
            let fd = recording::create(&plan.accept)
                .map_err(|e| format!("cannot create the session recording: {e}"))?;
            let (w, h) = recording::size_of(tty.as_ref().map(AsFd::as_fd));
            let unix = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let term = std::env::var("TERM").ok();
            Some(Recorder::start(
                std::fs::File::from(fd),
                w,
                h,
                unix,
                term.as_deref(),
                input,
            ))
        }
        None => None,
    };
    let started = Instant::now();
    let pid = match crate::sys::proc::fork().map_err(|e| format!("fork: {e}"))? {
        nix::unistd::ForkResult::Parent { child } => child.as_raw(),
        nix::unistd::ForkResult::Child => 0,
    };
    if pid == 0 {
        drop(sfd);
        drop(rec);
        // The child's mask is bdexec's before the monitor blocked more.
        sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None)
            .map_err(|e| format!("sigprocmask: {e}"))?;
        return Ok(Child {
            pty: pty.map(|(_, slave)| slave),
            tty_rdev,
            report: reports.map(|(_, w)| w),
            target_uid: plan.target_uid,
        });
    }
    let m = Monitor {
        child: pid,
        cmd: pid,
        reports: reports.map(|(r, _)| r),
        sfd,
        tty,
        master: pty.map(|(master, _)| master),
        saved: None,
        tty_live: true,
        master_live: true,
        started,
        target_uid: plan.target_uid,
        rec,
        exec_refused: None,
        deadline: plan.timeout.map(|t| started + t),
        timed_out: false,
    };
    m.run(plan)
}

impl Child {
    /// As root, before the id switch: with a pty, a new session whose
    /// controlling terminal is the pty, on every standard fd that was the
    /// caller's terminal.
    pub fn before_switch(&mut self) -> Result<(), String> {
        let Some(slave) = self.pty.take() else {
            return Ok(());
        };
        nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
        crate::sys::term::set_controlling(&slave).map_err(|e| format!("TIOCSCTTY: {e}"))?;
        let is_tty =
            |fd: std::os::fd::BorrowedFd<'_>| self.tty_rdev.is_some() && rdev(fd) == self.tty_rdev;
        let dup = |r: nix::Result<()>| r.map_err(|e| format!("dup2: {e}"));
        if is_tty(std::io::stdin().as_fd()) {
            dup(nix::unistd::dup2_stdin(&slave))?;
        }
        if is_tty(std::io::stdout().as_fd()) {
            dup(nix::unistd::dup2_stdout(&slave))?;
        }
        if is_tty(std::io::stderr().as_fd()) {
            dup(nix::unistd::dup2_stderr(&slave))?;
        }
        // The session leader stays here (never returns); the command
        // comes back in the pty's foreground group.
        let report = self.report.take().ok_or("no report pipe")?;
        leader::split(&slave, report, self.target_uid)
    }
}

struct Monitor {
    /// The monitor's child: the command, or with a pty the session
    /// leader (leader.rs).
    child: i32,
    /// The command (its process group with a pty).
    cmd: i32,
    /// With a pty: the read end of the session leader's report pipe.
    reports: Option<OwnedFd>,
    sfd: nix::sys::signalfd::SignalFd,
    tty: Option<OwnedFd>,
    master: Option<OwnedFd>,
    /// The caller's terminal modes while they are raw.
    saved: Option<Termios>,
    /// Still reading the terminal, the pty. The fds stay open when the
    /// reading stops: closing the master would hang up the command.
    tty_live: bool,
    master_live: bool,
    started: Instant,
    target_uid: u32,
    /// The session recording, while it is written.
    rec: Option<Recorder<std::fs::File>>,
    /// `noexec`: the execs refused so far.
    exec_refused: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    /// When the timeout acts next: TERM at the timeout, then KILL after
    /// the grace period; `None` when nothing is left to do.
    deadline: Option<Instant>,
    /// The timeout's TERM was sent.
    timed_out: bool,
}

/// How the command changed (wait4, or the session leader's reports).
enum Change {
    Stopped(i32),
    Ended(i32, Usage),
}

fn tv_us(t: libc::timeval) -> u64 {
    (t.tv_sec.max(0) as u64) * 1_000_000 + t.tv_usec.max(0) as u64
}

/// The signal's name without `SIG` (`TERM`), `RTMIN+N` for real-time ones.
fn sig_name(sig: i32) -> &'static str {
    match Signal::try_from(sig) {
        Ok(s) => s.as_str().trim_start_matches("SIG"),
        Err(_) => "UNKNOWN",
    }
}

impl Monitor {
    fn run(mut self, plan: &Plan<'_>) -> ! {
        self.command_pid();
        self.shed(plan.noexec.map(|s| s.fd()));
        // After shed: the supervisor thread inherits the emptied caps.
        self.exec_refused = plan.noexec.map(|s| s.spawn(self.cmd));
        self.raw();
        let (code, usage) = self.relay_until_end();
        self.restore();
        let recorded = self.rec.take().map(|r| {
            let file = r.get_ref().try_clone().ok();
            let f = r.finish();
            if f.error.is_some()
                && let Some(file) = file
            {
                // Only whole lines stay (the hash covers exactly them).
                let _ = file.set_len(f.written);
            }
            f
        });
        let outcome = if libc::WIFSIGNALED(code) {
            Outcome::Signal(sig_name(libc::WTERMSIG(code)))
        } else {
            Outcome::Status(libc::WEXITSTATUS(code) as u8)
        };
        if self.timed_out {
            let secs = plan.timeout.map_or(0, |t| t.as_secs());
            crate::base::stdio::err_line(&format!("bdexec: command timed out after {secs} s\n"));
        }
        self.record(
            plan,
            outcome,
            libc::WCOREDUMP(code),
            &usage,
            recorded.as_ref(),
        );
        if libc::WIFSIGNALED(code) {
            die_by(libc::WTERMSIG(code));
        }
        std::process::exit(libc::WEXITSTATUS(code))
    }

    /// Close what the monitor does not need, drop its capabilities.
    fn shed(&self, noexec: Option<RawFd>) {
        let mut keep: Vec<RawFd> = vec![self.sfd.as_fd().as_raw_fd()];
        keep.extend(noexec);
        keep.extend(self.tty.as_ref().map(AsRawFd::as_raw_fd));
        keep.extend(self.master.as_ref().map(AsRawFd::as_raw_fd));
        keep.extend(self.rec.as_ref().map(|r| r.get_ref().as_raw_fd()));
        keep.extend(self.reports.as_ref().map(AsRawFd::as_raw_fd));
        keep.extend([0, 1, 2]);
        // Closes fds no Rust object we still use owns (the owners of the
        // others never run again: run() does not return).
        close_all_but(&keep);
        // CAP_SETUID stays permitted (never effective but in send()):
        // the monitor has no CAP_KILL, so it signals a non-root command
        // with the target's effective uid.
        let mut keep = caps::CapsHashSet::new();
        keep.insert(caps::Capability::CAP_SETUID);
        let _ = caps::set(None, caps::CapSet::Permitted, &keep);
    }

    /// [`kill_as`] the target.
    fn send(&self, pid: i32, sig: i32) {
        kill_as(self.target_uid, pid, sig);
    }

    /// With a pty: the command's pid, the session leader's first report
    /// (it writes it right after its fork; the child cannot be stopped
    /// before, its job-control signals are blocked). Without one, or if
    /// the leader never reports (it failed, nothing runs), the child.
    fn command_pid(&mut self) {
        let Some(r) = &self.reports else { return };
        let mut p = [PollFd::new(r.as_fd(), PollFlags::POLLIN)];
        if nix::poll::poll(&mut p, PollTimeout::from(10_000u16)) == Ok(1)
            && let Some(leader::Report::Started(pid)) = self.read_report()
        {
            self.cmd = pid;
        }
        if let Some(r) = &self.reports {
            let _ = nix::fcntl::fcntl(
                r,
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            );
        }
    }

    /// One report of the session leader, if one is there.
    fn read_report(&self) -> Option<leader::Report> {
        let mut b = [0u8; leader::REPORT_LEN];
        let r = self.reports.as_ref()?;
        match nix::unistd::read(r, &mut b) {
            Ok(n) => leader::Report::decode(b.get(..n)?),
            Err(_) => None,
        }
    }

    fn foreground(&self) -> bool {
        self.tty
            .as_ref()
            .is_some_and(|t| nix::unistd::tcgetpgrp(t).ok() == Some(nix::unistd::getpgrp()))
    }

    /// The caller's terminal raw (pty mode, when in the foreground).
    fn raw(&mut self) {
        if self.master.is_none() || self.saved.is_some() || !self.foreground() {
            return;
        }
        let Some(t) = &self.tty else { return };
        if let Ok(orig) = termios::tcgetattr(t) {
            let mut raw = orig.clone();
            termios::cfmakeraw(&mut raw);
            if termios::tcsetattr(t, SetArg::TCSADRAIN, &raw).is_ok() {
                self.saved = Some(orig);
                // Ours again: read it again (a read in the background
                // failed with EIO).
                self.tty_live = true;
            }
        }
    }

    fn restore(&mut self) {
        if let (Some(t), Some(orig)) = (&self.tty, self.saved.take()) {
            let _ = termios::tcsetattr(t, SetArg::TCSADRAIN, &orig);
        }
    }

    /// The child's change. With a session leader, the command's: the
    /// leader stops with SIGSTOP and reports the command's signal before;
    /// it reports the command's end before it exits. A leader that ended
    /// without a report (killed: only root can) gives its own status.
    fn wait(&self) -> Option<Change> {
        let (st, ru) = crate::sys::proc::wait4_nohang(self.child)?;
        let mut change = if libc::WIFSTOPPED(st) {
            Change::Stopped(libc::WSTOPSIG(st))
        } else {
            Change::Ended(st, Usage::of(&ru))
        };
        let stopped = matches!(change, Change::Stopped(_));
        while let Some(r) = self.read_report() {
            match r {
                leader::Report::Stopped(s) if stopped => change = Change::Stopped(s),
                leader::Report::Ended(st, u) if !stopped => change = Change::Ended(st, u),
                _ => {}
            }
        }
        Some(change)
    }

    /// Poll the terminal, the pty and the signals until the command ends.
    fn relay_until_end(&mut self) -> (i32, Usage) {
        let mut buf = [0u8; 8192];
        loop {
            let tty_in = self.tty_live && self.master.is_some();
            let master_in = self.master_live;
            // Which fds to read: the signalfd always, the terminal and
            // the pty while they are live.
            let (sig_ready, tty_ready, master_ready) = {
                let mut fds = vec![PollFd::new(self.sfd.as_fd(), PollFlags::POLLIN)];
                let t = self.tty.as_ref().filter(|_| tty_in);
                let m = self.master.as_ref().filter(|_| master_in);
                if let Some(t) = t {
                    fds.push(PollFd::new(t.as_fd(), PollFlags::POLLIN));
                }
                if let Some(m) = m {
                    fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
                }
                if nix::poll::poll(&mut fds, self.poll_timeout()).is_err() {
                    continue;
                }
                let ev = |i: usize| {
                    fds.get(i)
                        .and_then(PollFd::revents)
                        .unwrap_or(PollFlags::empty())
                };
                let ti = usize::from(t.is_some());
                (
                    ev(0),
                    if t.is_some() {
                        ev(1)
                    } else {
                        PollFlags::empty()
                    },
                    if m.is_some() {
                        ev(1 + ti)
                    } else {
                        PollFlags::empty()
                    },
                )
            };
            for (from_master, revents) in [(false, tty_ready), (true, master_ready)] {
                if revents.is_empty() {
                    continue;
                }
                let (from, to) = if from_master {
                    (self.master.as_ref(), self.tty.as_ref())
                } else {
                    (self.tty.as_ref(), self.master.as_ref())
                };
                let Some(from) = from else { continue };
                let got = nix::unistd::read(from, &mut buf);
                if let (Ok(n), Some(r)) = (&got, self.rec.as_mut())
                    && *n > 0
                {
                    if from_master {
                        r.output(&buf[..*n]);
                    } else {
                        r.input(&buf[..*n]);
                    }
                }
                match (got, to) {
                    (Ok(n), Some(to)) if n > 0 => write_all(to.as_fd(), &buf[..n]),
                    (Err(nix::Error::EAGAIN | nix::Error::EINTR), _)
                        if revents.contains(PollFlags::POLLIN) => {}
                    // The command closed or revoked its pty (EIO, EOF):
                    // nothing more to relay from it, wait for its end.
                    _ if from_master => self.master_live = false,
                    // The caller's terminal went away: stop reading it.
                    _ => self.tty_live = false,
                }
            }
            if self.in_background() {
                self.raw();
            }
            self.on_deadline();
            if !sig_ready.is_empty()
                && let Some(end) = self.on_signals()
            {
                self.drain();
                return end;
            }
        }
    }

    /// With a pty, the caller's terminal not raw: the monitor runs in
    /// the background (`bdexec ... &`, `bg`). A shell's `fg` of a running
    /// job sends no signal, so the monitor looks whether it is in the
    /// foreground now and then ([`BACKGROUND_CHECK`]).
    fn in_background(&self) -> bool {
        self.master.is_some() && self.tty.is_some() && self.saved.is_none()
    }

    /// How long poll may wait: until the timeout's next step, or the next
    /// look at the foreground while in the background.
    fn poll_timeout(&self) -> PollTimeout {
        let mut ms = self.deadline.map_or(u128::MAX, |d| {
            d.saturating_duration_since(Instant::now()).as_millis()
        });
        if self.in_background() {
            ms = ms.min(BACKGROUND_CHECK.as_millis());
        }
        match ms {
            u128::MAX => PollTimeout::NONE,
            // At most a minute per poll: the loop comes back anyway.
            ms => PollTimeout::from(u16::try_from(ms.min(60_000)).unwrap_or(60_000)),
        }
    }

    /// The timeout: TERM at the time (to the command's process group
    /// with a pty, where it leads its own session; to the command alone
    /// without one, which shares the caller's group), KILL after the
    /// grace period.
    fn on_deadline(&mut self) {
        let Some(d) = self.deadline else { return };
        if Instant::now() < d {
            return;
        }
        let target = if self.master.is_some() {
            -self.cmd
        } else {
            self.cmd
        };
        if self.timed_out {
            self.send(target, libc::SIGKILL);
            self.deadline = None;
        } else {
            self.timed_out = true;
            self.send(target, libc::SIGTERM);
            if self.master.is_some() {
                // A stopped group would not act on TERM.
                self.send(target, libc::SIGCONT);
            }
            self.deadline = Some(Instant::now() + KILL_GRACE);
        }
    }

    /// What the pty still holds after the command ended.
    fn drain(&mut self) {
        let (Some(m), Some(t)) = (&self.master, &self.tty) else {
            return;
        };
        if !self.master_live {
            return;
        }
        let mut buf = [0u8; 8192];
        loop {
            let mut p = [PollFd::new(m.as_fd(), PollFlags::POLLIN)];
            if nix::poll::poll(&mut p, PollTimeout::ZERO) != Ok(1) {
                return;
            }
            match nix::unistd::read(m, &mut buf) {
                Ok(n) if n > 0 => {
                    if let Some(r) = self.rec.as_mut() {
                        r.output(&buf[..n]);
                    }
                    write_all(t.as_fd(), &buf[..n])
                }
                _ => return,
            }
        }
    }

    fn on_signals(&mut self) -> Option<(i32, Usage)> {
        while let Ok(Some(si)) = self.sfd.read_signal() {
            let sig = si.ssi_signo as i32;
            if sig == libc::SIGCHLD {
                // SIGCHLDs coalesce: reap every change.
                while let Some(c) = self.wait() {
                    match c {
                        Change::Stopped(s) => self.suspend(s),
                        Change::Ended(st, u) => return Some((st, u)),
                    }
                }
            } else if sig == libc::SIGALRM {
                self.send(self.child, libc::SIGHUP);
                self.send(self.child, libc::SIGTERM);
            } else if sig == libc::SIGWINCH && self.master.is_some() {
                if let (Some(t), Some(m)) = (&self.tty, &self.master) {
                    crate::sys::term::copy_winsize(t, m);
                }
            } else if self.relayed(&si) {
                self.send(self.child, sig);
            }
        }
        None
    }

    /// Relay this signal? Not one the command (or its group) sent, not
    /// one the terminal sent to the group the command shares with us,
    /// not job-control ones the terminal sends to a background monitor.
    fn relayed(&self, si: &libc::signalfd_siginfo) -> bool {
        let sig = si.ssi_signo as i32;
        if !RELAYED.iter().any(|s| *s as i32 == sig) {
            return false;
        }
        let from_user = matches!(si.ssi_code, libc::SI_USER | libc::SI_QUEUE | libc::SI_TKILL);
        if from_user {
            let sender = si.ssi_pid as i32;
            // With a pty, the session leader's pid is the session's id:
            // any process of the pty's session is the command's.
            let session = nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(sender)))
                .map(|p| p.as_raw())
                .ok();
            let from_command =
                sender == self.child || (self.master.is_some() && session == Some(self.child));
            return !from_command;
        }
        // From the kernel (the terminal): without a pty the command is
        // in our process group and got it too.
        si.ssi_code == libc::SI_KERNEL && self.master.is_some()
    }

    /// The command stopped: stop too (terminal restored), then continue it.
    fn suspend(&mut self, sig: i32) {
        self.restore();
        crate::sys::proc::stop_like(sig);
        // Continued (or the stop was discarded: an orphaned group).
        self.raw();
        let target = if self.master.is_some() {
            -self.child
        } else {
            self.child
        };
        self.send(target, libc::SIGCONT);
    }

    fn record(
        &self,
        plan: &Plan<'_>,
        outcome: Outcome,
        core: bool,
        ru: &Usage,
        recorded: Option<&recording::Finished>,
    ) {
        let rec = audit::new_uuid().map(|uuid| ExitRecord {
            time: std::time::SystemTime::now(),
            uuid,
            host: plan.host,
            pid: std::process::id(),
            accept: plan.accept,
            outcome,
            core_dumped: core,
            duration_us: u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX),
            maxrss_kb: ru.maxrss_kb,
            utime_us: ru.utime_us,
            stime_us: ru.stime_us,
            timed_out: self.timed_out,
            traceparent: plan.traceparent,
            recording: recorded.map(|f| f.hash),
            recording_error: recorded.and_then(|f| f.error.as_deref()),
            exec_refused: (self.exec_refused.as_ref())
                .map(|c| c.load(std::sync::atomic::Ordering::Relaxed)),
        });
        let appended = rec.and_then(|r| {
            let a = audit::append_exit(&r, &AppendOptions::system())?;
            // Durable, lock released: the journal copy (never blocks).
            audit::journal::forward_exit(&r, &a);
            Ok(a)
        });
        if let Err(e) = appended {
            let msg = format!("the command's exit could not be recorded: {e}");
            crate::audit::alert::syslog(&format!(
                "uid {}: {msg}",
                crate::exec::privileges::caller_uid()
            ));
            crate::base::stdio::err_line(&format!("bdexec: {msg}\n"));
        }
    }
}

/// kill(2) `pid` (a group when negative) with the target's effective
/// uid when it is not root: uid 0 alone is not enough without CAP_KILL,
/// which bdexec does not have. Needs CAP_SETUID permitted; leaves the
/// effective set empty and the effective uid 0.
pub(crate) fn kill_as(target_uid: u32, pid: i32, sig: i32) {
    use nix::unistd::{Uid, setresuid};
    let keep = Uid::from_raw(u32::MAX);
    let switch = target_uid != 0
        && caps::raise(None, caps::CapSet::Effective, caps::Capability::CAP_SETUID).is_ok()
        && setresuid(keep, Uid::from_raw(target_uid), keep).is_ok();
    if let Ok(s) = Signal::try_from(sig) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), s);
    }
    if switch {
        // Back to euid 0 (the saved uid): the kernel refills the
        // effective set, emptied again right after.
        let _ = setresuid(keep, Uid::from_raw(0), keep);
    }
    let _ = caps::clear(None, caps::CapSet::Effective);
}

/// Close every fd but `keep`. The caller must never again use an
/// object that owned a closed fd (the monitor and the session leader
/// close everything once and never return).
pub(crate) fn close_all_but(keep: &[RawFd]) {
    let mut keep = keep.to_vec();
    keep.sort_unstable();
    let mut from: RawFd = 0;
    for k in keep.into_iter().chain([libc::c_int::MAX]) {
        if k > from {
            let _ = crate::sys::fs::close_range(from as u32, (k - 1) as u32);
        }
        from = k.saturating_add(1);
    }
}

/// Die by `sig` as the command did; 128+N if it does not kill us.
fn die_by(sig: i32) -> ! {
    crate::sys::proc::raise_default(sig);
    std::process::exit(128 + sig)
}

/// Write all of `b` (the pty master is non-blocking: wait up to a
/// second for room, then drop the rest rather than hang the monitor).
fn write_all(fd: std::os::fd::BorrowedFd<'_>, mut b: &[u8]) {
    while !b.is_empty() {
        match nix::unistd::write(fd, b) {
            Ok(n) if n > 0 => b = &b[n..],
            Err(nix::Error::EINTR) => {}
            Err(nix::Error::EAGAIN) => {
                let mut p = [PollFd::new(fd, PollFlags::POLLOUT)];
                if nix::poll::poll(&mut p, PollTimeout::from(1000u16)) != Ok(1) {
                    return;
                }
            }
            _ => return,
        }
    }
}
