//! The `record` phase: what a record names, the record writer every
//! record of the call goes through, and the durable `accept` record that
//! nothing runs without, with the audit degrade ladder's weaker sink
//! around its append (`[audit]`, crate::audit::ladder; the space check
//! is in space.rs).
#![forbid(unsafe_code)]

use super::authorize::Allowed;
use super::recv::Ctx;
use super::subject::{Extra, Subject};
use super::validate::Prepared;
use super::{Refusal, exit};
use crate::audit::ladder::{self, Settings, Sink};
use crate::audit::{self, AppendOptions, Event, Record};
use crate::base::escape::display;
use crate::exec::confine::Confinement;
use crate::policy::model::Session;
use std::os::unix::ffi::OsStrExt;

impl Ctx {
    /// Append one record of this call, durable, and forward it to the
    /// journal. Under the degrade ladder `x.ladder`, when the log fails
    /// with a fault whose sink is `journald`, the record goes to journald
    /// instead (one warning line, an alert) and this succeeds only when
    /// journald took it.
    pub(super) fn record(
        &self,
        event: Event,
        s: &Subject,
        x: &Extra<'_>,
        reason: &str,
        suppressed: Option<u64>,
    ) -> Result<[u8; 16], audit::AuditError> {
        let uuid = audit::new_uuid()?;
        let tty = self.tty.as_deref().map(str::as_bytes);
        let cwd = self.cwd.as_deref().map(|p| p.as_os_str().as_bytes());
        let rec = Record {
            event,
            time: std::time::SystemTime::now(),
            uuid,
            host: &self.host,
            pid: std::process::id(),
            submituser: self.caller.name.as_deref(),
            submituid: self.caller.uid,
            submitgid: self.caller.gid,
            ttyname: tty,
            submitcwd: cwd,
            runuser: s.target.as_ref().map(|t| t.name.as_str()),
            runuid: s.target.as_ref().map(|t| t.uid),
            rungid: s.target.as_ref().map(|t| t.gid),
            command: s.command.as_deref(),
            runargv: &self.argv,
            rule: s.rule.as_deref(),
            reason,
            policy_hash: self.policy_hash,
            sandbox: x.sandbox,
            confinement: x.confinement,
            drift: self.drift.as_deref(),
            clock_skew: self.clock_skew,
            suppressed,
            env_dropped: x.env_dropped,
            timing: Some(self.watch.timing()),
            traceparent: self.traceparent.as_deref(),
            monitor: x.monitor,
            edit: x.edit,
        };
        let opts = AppendOptions {
            conf_dir: self.conf_dir.as_ref().map(std::os::fd::AsFd::as_fd),
            ..AppendOptions::system()
        };
        let appended = match audit::append(&rec, &opts) {
            Ok(a) => a,
            Err(e) => {
                let fault = ladder::fault(e.kind(), e.errno());
                if ladder::sink(x.ladder.unwrap_or(&Settings::default()), fault) != Sink::Journald {
                    return Err(e);
                }
                let key = match fault {
                    ladder::Fault::Full => "on_full",
                    _ => "on_io_error",
                };
                let why = e.to_string();
                if audit::journal::fallback(&rec, &why).is_err() {
                    return Err(e);
                }
                let msg = format!(
                    "{why}; the record went to journald instead ([audit] {key} = \"journald\")"
                );
                crate::audit::alert::syslog(&format!("uid {}: {msg}", self.caller.uid));
                crate::base::stdio::err_line(&format!("bdexec: warning: {msg}\n"));
                return Ok(uuid);
            }
        };
        // Durable, lock released: the journal copy (never blocks).
        audit::journal::forward(&rec, &appended);
        Ok(uuid)
    }
}

/// The call once its `accept` record is durable.
pub(super) struct Accepted {
    pub uuid: [u8; 16],
    pub session: Session,
    pub monitor: bool,
    /// The command's timeout (options.rs), for the monitor.
    pub timeout: Option<std::time::Duration>,
    /// `-b`: no terminal to relay (background.rs left it).
    pub background: bool,
}

/// The durable accept record: nothing runs without it.
pub(super) fn accept(
    ctx: &Ctx,
    allowed: &Allowed<'_>,
    prepared: &Prepared,
    confinement: Option<&Confinement>,
    approved_by: Option<String>,
    granted: &super::options::Granted,
) -> Result<Accepted, Refusal> {
    let session = allowed.session();
    // A timeout or -b needs the monitor (options.rs), and so do record
    // and noexec (Session::monitored).
    let monitor = session.monitored() || granted.needs_monitor();
    let extra = Extra {
        sandbox: confinement.and_then(|c| c.profile()),
        confinement: confinement.map(|c| c.summary()),
        env_dropped: &prepared.dropped,
        monitor,
        edit: None,
        ladder: Some(&allowed.policy.audit),
    };
    let mut reason = match &approved_by {
        Some(a) => format!("allowed, {a}"),
        None => "allowed".to_string(),
    };
    // The caller's options in use (-E, -P, -T), named in the record.
    let options = granted.summary();
    if !options.is_empty() {
        reason.push_str(&format!(" (caller options: {options})"));
    }
    let uuid = ctx
        .record(Event::Accept, &allowed.subject(), &extra, &reason, None)
        .map_err(|e| {
            let context = format!("{} not run", display(&allowed.cmd_path));
            Refusal::unrecorded(exit::AUDIT, &context, e.to_string())
        })?;
    crate::base::testhook::point("before-exec");
    Ok(Accepted {
        uuid,
        session,
        monitor,
        timeout: granted.timeout.map(std::time::Duration::from_secs),
        background: granted.background,
    })
}
