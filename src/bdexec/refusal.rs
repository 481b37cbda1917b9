//! The one refusal type of the pipeline, and the one place that answers
//! it: every phase returns `Result<_, Refusal>`, and [`Refusal::answer`]
//! writes the record (or the syslog line where no record can be
//! written), prints the one stderr line and gives the exit code.
//!
//! Refusals over the caller's rate are counted, not recorded
//! (crate::state::refusals); the bookkeeping after an answer (hydra
//! score, decoy alarm, automatic freeze) runs in a child detached from
//! the caller (haze, docs/incident-response.md).
#![forbid(unsafe_code)]

use super::exit;
use super::recv::Ctx;
use super::subject::{Extra, Subject};
use crate::audit::Event;
use crate::audit::alert;
use crate::base::escape::display;
use crate::exec::hygiene::HygieneError;
use crate::policy::model::IncidentSettings;
use std::os::fd::AsFd;

/// How a refusal is kept, besides the stderr line.
#[derive(Debug)]
pub enum Keep {
    /// Printed only: usage and output errors (nothing was asked yet).
    Printed,
    /// No record can be written (before the caller is known, the
    /// effective ids are wrong, or the log itself failed): a syslog line
    /// `uid N: <context>: <message>` stands in for it.
    Syslog(String),
    /// A `reject` record (rate-limited per uid), then the hydra count.
    Reject,
    /// As `Reject`, for a policy that cannot be used: the details may
    /// quote it (another user's name, a `--password=` argument), so they
    /// go to the record, syslog and root's stderr; any other caller is
    /// told only where the administrator finds them
    /// ([`super::POLICY_NOT_SHOWN`]).
    Policy,
    /// A decoy hit: the ordinary denial's words with an `alert` record,
    /// then the decoy alarm's bookkeeping.
    Decoy {
        /// The anchored effective now (seconds).
        now: u64,
        /// `[incident]` of the policy (or its defaults).
        settings: Box<IncidentSettings>,
    },
}

/// Why the call stops before running anything (or after `accept`, when
/// the command could not be started).
#[derive(Debug)]
pub struct Refusal {
    /// The exit code ([`super::exit`]).
    pub code: i32,
    /// The reason the record gives.
    pub reason: String,
    /// The one line the caller reads on stderr (after `bdexec: `).
    pub message: String,
    /// What the record names: target, command, rule (boxed: a refusal
    /// travels up through `?` and stays small).
    pub subject: Box<Subject>,
    /// How it is kept besides the stderr line.
    pub keep: Keep,
}

impl Refusal {
    /// A refusal recorded as `reject` whose reason is also its message.
    pub fn reject(code: i32, text: impl Into<String>) -> Refusal {
        let text = text.into();
        Refusal {
            code,
            reason: text.clone(),
            message: text,
            subject: Box::default(),
            keep: Keep::Reject,
        }
    }

    /// A denial (exit 1) whose reason is also its message.
    pub fn denied(text: impl Into<String>) -> Refusal {
        Refusal::reject(exit::DENIED, text)
    }

    /// A denial whose record gives `reason` and whose caller reads
    /// `message`.
    pub fn denied_as(reason: impl Into<String>, message: impl Into<String>) -> Refusal {
        Refusal {
            reason: reason.into(),
            message: message.into(),
            ..Refusal::denied("")
        }
    }

    /// The policy cannot be used: see [`Keep::Policy`].
    pub fn policy(code: i32, detail: impl Into<String>) -> Refusal {
        Refusal {
            keep: Keep::Policy,
            ..Refusal::reject(code, detail)
        }
    }

    /// Printed only, no record.
    pub fn printed(code: i32, message: impl Into<String>) -> Refusal {
        Refusal {
            keep: Keep::Printed,
            ..Refusal::reject(code, message)
        }
    }

    /// Not recorded: syslog `uid N: <context>: <message>` instead.
    pub fn unrecorded(code: i32, context: &str, message: impl Into<String>) -> Refusal {
        Refusal {
            keep: Keep::Syslog(context.to_string()),
            ..Refusal::reject(code, message)
        }
    }

    /// Refused to start (exit 5): the process or its privileges.
    pub fn environment(message: impl Into<String>) -> Refusal {
        Refusal::unrecorded(exit::ENVIRONMENT, "refused to start", message)
    }

    /// An empty argument list (argc 0).
    pub fn argc0() -> Refusal {
        Refusal {
            code: exit::USAGE,
            reason: "empty argument list (argc 0)".to_string(),
            message: "refusing to run with an empty argument list (argc 0)".to_string(),
            subject: Box::default(),
            keep: Keep::Reject,
        }
    }

    /// The same refusal about `subject`.
    pub fn about(self, subject: Subject) -> Refusal {
        Refusal {
            subject: Box::new(subject),
            ..self
        }
    }

    /// Answer the refusal: the record (or syslog line), the stderr line;
    /// returns the exit code. `ctx` is the call's context once `recv` has
    /// read the caller; before that nothing can be recorded.
    pub fn answer(self, ctx: Option<&Ctx>) -> i32 {
        let Refusal {
            code,
            reason,
            message,
            subject,
            keep,
        } = self;
        let ctx = match (keep, ctx) {
            (Keep::Printed, _) => {
                say(&message);
                return code;
            }
            (Keep::Syslog(context), ctx) => {
                let uid = ctx.map_or_else(crate::exec::privileges::caller_uid, |c| c.caller.uid);
                alert::syslog(&format!("uid {uid}: {context}: {message}"));
                say(&message);
                return code;
            }
            (_, None) => {
                say(&message);
                return code;
            }
            (keep, Some(ctx)) => (keep, ctx),
        };
        match ctx {
            (Keep::Policy, ctx) => {
                alert::syslog(&format!("uid {}: refused: {reason}", ctx.caller.uid));
                let shown = if ctx.caller.uid == 0 {
                    &reason
                } else {
                    super::POLICY_NOT_SHOWN
                };
                ctx.reject(&subject, &reason, shown, code)
            }
            (Keep::Decoy { now, settings }, ctx) => {
                ctx.decoy_hit(&subject, &message, now, &settings, code)
            }
            (_, ctx) => ctx.reject(&subject, &reason, &message, code),
        }
    }
}

impl From<HygieneError> for Refusal {
    fn from(e: HygieneError) -> Refusal {
        Refusal::environment(e.to_string())
    }
}

/// The one stderr line.
pub(super) fn say(msg: &str) {
    // One line, never raw control characters; stderr is the caller's
    // (maybe /dev/full): a failed write is ignored, never a panic.
    crate::base::stdio::err_line(&format!("bdexec: {}\n", display(msg.as_bytes())));
}

impl Ctx {
    /// Refuse: record (best effort: a refusal stands even when the log
    /// can't be written, and then the message says so) and one line.
    fn reject(&self, s: &Subject, reason: &str, msg: &str, code: i32) -> i32 {
        let head = crate::incident::hydra::head_of_reason(reason);
        self.refuse(Event::Reject, s, reason, msg, code, || {
            let _ = self.hydra(head);
        })
    }

    /// Count an event towards the caller's hydra score and freeze the
    /// host when it crosses `freeze_score` with `auto_freeze` on (for a
    /// refusal it runs in the detached child; root is not scored). True
    /// when this call froze the host.
    pub(super) fn hydra(&self, head: crate::incident::hydra::Head) -> bool {
        use crate::incident::{freeze, hydra};
        if self.caller.uid == 0 {
            return false;
        }
        let Some(score) = hydra::record(self.caller.uid, head) else {
            return false;
        };
        let Some(set) = &self.incident else {
            return false;
        };
        let limit = f64::from(set.freeze_score_ppm) / 1e6;
        if !set.auto_freeze || score < limit {
            return false;
        }
        let info = freeze::FreezeInfo {
            since: freeze::now_secs(),
            reason: format!(
                "hydra score of uid {} is {score:.3} (freeze_score {limit})",
                self.caller.uid
            ),
            cause: freeze::Cause::Hydra,
            uid: self.caller.uid,
        };
        self.freeze(&info)
    }

    /// Freeze the host automatically: the persistent flag, the counters
    /// and a `freeze` record. True when the host is frozen now.
    fn freeze(&self, info: &crate::incident::freeze::FreezeInfo) -> bool {
        use crate::incident::{counters, freeze};
        let Some(run) = &self.refusal_state else {
            return false;
        };
        match freeze::freeze(run.as_fd(), info) {
            Ok(true) => {
                counters::bump_freeze(info.cause);
                let why = format!("cause={}; {}", info.cause.as_str(), info.reason);
                if let Err(e) = self.record(
                    Event::Freeze,
                    &Subject::default(),
                    &Extra::default(),
                    &why,
                    None,
                ) {
                    alert::syslog(&format!("host frozen, not recorded: {e}"));
                }
                true
            }
            Ok(false) => true,
            Err(e) => {
                alert::syslog(&format!(
                    "{}: cannot freeze the host: {e}",
                    info.cause.as_str()
                ));
                false
            }
        }
    }

    /// A decoy hit: answer with the ordinary denial and an `alert`
    /// record; then, after the answer, count it towards the decoy alarm
    /// and, when the alarm fires, record it (a second `alert`), send it
    /// to syslog and, with `auto_freeze`, freeze the host (a `freeze`
    /// record).
    fn decoy_hit(
        &self,
        s: &Subject,
        msg: &str,
        now: u64,
        set: &IncidentSettings,
        code: i32,
    ) -> i32 {
        use crate::incident::{alarm, counters, freeze};
        let bookkeeping = || {
            counters::bump_decoy_hit();
            let _ = self.hydra(crate::incident::hydra::Head::DecoyHit);
            let Some(o) =
                alarm::hit_persisted(now, set.decoy_window, set.decoy_floor, set.decoy_factor_ppm)
                    .filter(|o| o.fired)
            else {
                return;
            };
            let why = format!(
                "decoy alarm: {} hits in this window, threshold {}",
                o.count,
                crate::incident::ppm_text(o.threshold_ppm)
            );
            alert::syslog(&format!("uid {}: {why}", self.caller.uid));
            if let Err(e) = self.record(Event::Alert, s, &Extra::default(), &why, None) {
                alert::syslog(&format!("decoy alarm not recorded: {e}"));
            }
            if !set.auto_freeze {
                return;
            }
            let info = freeze::FreezeInfo {
                since: now,
                reason: format!("decoy alarm: {} hits in one window", o.count),
                cause: freeze::Cause::DecoyRate,
                uid: self.caller.uid,
            };
            let _ = self.freeze(&info);
        };
        self.refuse(Event::Alert, s, "decoy hit", msg, code, bookkeeping)
    }

    /// [`Ctx::reject`] for `event`, then `after` in a child detached from
    /// the caller (haze, docs/incident-response.md: every refusal pays
    /// the same fork, and the bookkeeping never shows in the caller's
    /// wall time). An `alert` (a decoy hit) passes the refusal gate like
    /// a denial (the bucket counts it) and is always recorded: over the
    /// rate, where a denial would be suppressed, its record is written by
    /// the child, so that it costs the caller what a suppressed denial
    /// costs.
    fn refuse(
        &self,
        event: Event,
        s: &Subject,
        reason: &str,
        msg: &str,
        code: i32,
        after: impl FnOnce(),
    ) -> i32 {
        use crate::incident::detach::after_answer;
        use crate::state::refusals::{self, Gate};
        // Refusals over the uid's rate are counted, not recorded; a
        // bucket that cannot be used fails towards recording.
        let gate = match &self.refusal_state {
            Some(dir) if self.caller.uid != 0 => refusals::gate(dir.as_fd(), self.caller.uid).ok(),
            _ => None,
        };
        let pending = match gate {
            Some(Gate::Suppress { first }) => {
                if first && event == Event::Reject {
                    alert::syslog(&format!(
                        "uid {}: refusals over the rate limit are not recorded; \
                         the next recorded one says how many",
                        self.caller.uid
                    ));
                }
                say(msg);
                after_answer(|| {
                    if event != Event::Reject
                        && let Err(e) = self.record(event, s, &Extra::default(), reason, None)
                    {
                        alert::syslog(&format!(
                            "uid {}: {} not recorded: {e}",
                            self.caller.uid,
                            event.as_str()
                        ));
                    }
                    after();
                });
                return code;
            }
            Some(Gate::Record(p)) => Some(p),
            None => None,
        };
        let suppressed = pending.as_ref().map(|p| p.suppressed).filter(|n| *n > 0);
        match self.record(event, s, &Extra::default(), reason, suppressed) {
            Ok(_) => {
                if let Some(p) = pending {
                    let _ = p.commit();
                }
                say(msg)
            }
            Err(e) => {
                let line = format!("{msg} (and the refusal could not be recorded: {e})");
                alert::syslog(&format!("uid {}: {line}", self.caller.uid));
                say(&line);
            }
        }
        after_answer(after);
        code
    }
}

impl From<crate::exec::confine::ConfineError> for Refusal {
    fn from(e: crate::exec::confine::ConfineError) -> Refusal {
        Refusal::denied(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bdexec::auth::AuthStepError;

    #[test]
    fn constructors_keep_code_reason_and_message() {
        let r = Refusal::denied("x");
        assert_eq!(
            (r.code, r.reason.as_str(), r.message.as_str()),
            (1, "x", "x")
        );
        assert!(matches!(r.keep, Keep::Reject));
        let r = Refusal::policy(exit::POLICY, "policy not loaded: bad");
        assert_eq!(r.code, 3);
        assert!(matches!(r.keep, Keep::Policy));
        let r = Refusal::environment("no caps");
        assert_eq!(r.code, 5);
        assert!(matches!(&r.keep, Keep::Syslog(c) if c == "refused to start"));
        let r = Refusal::argc0();
        assert_eq!(r.code, 2);
        assert_eq!(r.reason, "empty argument list (argc 0)");
        assert!(r.subject.rule.is_none());
    }

    #[test]
    fn require_tty_records_a_short_reason() {
        let r = Refusal::from(AuthStepError::NoTty);
        assert_eq!(r.code, exit::DENIED);
        assert_eq!(r.reason, "no terminal (require_tty)");
        assert_eq!(
            r.message,
            "this command needs a terminal (require_tty); run it from an interactive session"
        );
        let r = Refusal::from(AuthStepError::TokensNotTaken { rule: "w".into() });
        assert_eq!(r.reason, r.message);
        assert_eq!(
            r.message,
            "rule w takes no approval tokens; refusing rather than ignoring --token"
        );
    }

    #[test]
    fn hygiene_refuses_to_start() {
        let r = Refusal::from(HygieneError::NoNewPrivs);
        assert_eq!(r.code, exit::ENVIRONMENT);
        assert!(
            r.message
                .starts_with("refusing to run with no_new_privs set")
        );
        assert!(matches!(r.keep, Keep::Syslog(_)));
    }
}
