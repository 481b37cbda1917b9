//! The defaults compared: environment, secure_path, timeouts and the rest
//! of `[defaults]`.
#![forbid(unsafe_code)]

use super::*;
use crate::policy::model::Session;

// -------------------------------------------------------------- defaults

/// `secure_path` from `a` to `b`: a directory added widens (a command's
/// `PATH` or a bare name may find a program there), one removed narrows.
pub(super) fn path_changes(
    kind: ChangeKind,
    subject: &str,
    a: &[PathBuf],
    b: &[PathBuf],
    out: &mut Out,
) {
    if a == b {
        return;
    }
    let (sx, sy): (BTreeSet<&PathBuf>, BTreeSet<&PathBuf>) =
        (a.iter().collect(), b.iter().collect());
    for p in sy.difference(&sx) {
        out.push(
            kind,
            subject.to_string(),
            format!("secure_path {} added", p.display()),
            Effect::Widening,
        );
    }
    for p in sx.difference(&sy) {
        out.push(
            kind,
            subject.to_string(),
            format!("secure_path {} removed", p.display()),
            Effect::Narrowing,
        );
    }
    if sx == sy {
        out.push(
            kind,
            subject.to_string(),
            "secure_path order changed".into(),
            Effect::Neutral,
        );
    }
}

/// `env_keep` from `a` to `b`: a kept variable added widens.
pub(super) fn keep_changes(
    kind: ChangeKind,
    subject: &str,
    a: &[String],
    b: &[String],
    out: &mut Out,
) {
    let (ex, ey): (BTreeSet<&String>, BTreeSet<&String>) = (a.iter().collect(), b.iter().collect());
    for k in ey.difference(&ex) {
        out.push(
            kind,
            subject.to_string(),
            format!("env_keep {k} added"),
            Effect::Widening,
        );
    }
    for k in ex.difference(&ey) {
        out.push(
            kind,
            subject.to_string(),
            format!("env_keep {k} removed"),
            Effect::Narrowing,
        );
    }
}

/// `noexec` and `require_tty` (each on when `Some(true)`): turning one
/// off widens (further programs may run; no terminal needed), on
/// narrows. `noexec` is confinement (`sandbox`), `require_tty` a
/// condition of the request (`auth`).
pub(super) fn session_changes(subject: &str, x: Session, y: Session, out: &mut Out) {
    let on = |v: Option<bool>| v == Some(true);
    for (kind, name, before, after) in [
        (ChangeKind::Sandbox, "noexec", on(x.noexec), on(y.noexec)),
        (
            ChangeKind::Auth,
            "require_tty",
            on(x.require_tty),
            on(y.require_tty),
        ),
    ] {
        if before != after {
            let show = |b: bool| if b { "on" } else { "off" };
            out.push(
                kind,
                subject.to_string(),
                format!("{name} {} -> {}", show(before), show(after)),
                if after {
                    Effect::Narrowing
                } else {
                    Effect::Widening
                },
            );
        }
    }
}

/// A rule's own `env_keep`, `secure_path` and `timestamp_timeout`, when
/// they changed: compared as the rule's commands get them (so a change of
/// `[defaults]` alone is reported once, under `defaults`).
pub(super) fn rule_env_changes(
    subject: &str,
    x: &Rule,
    a: &Policy,
    y: &Rule,
    b: &Policy,
    out: &mut Out,
) {
    if x.env_keep != y.env_keep {
        keep_changes(
            ChangeKind::Env,
            subject,
            &x.env_keep_with(&a.defaults),
            &y.env_keep_with(&b.defaults),
            out,
        );
    }
    if x.secure_path != y.secure_path {
        path_changes(
            ChangeKind::Env,
            subject,
            x.secure_path_with(&a.defaults),
            y.secure_path_with(&b.defaults),
            out,
        );
    }
    // Session keys the rule sets itself, compared as they apply to it.
    if x.session != y.session {
        session_changes(
            subject,
            x.session.or(a.defaults.session),
            y.session.or(b.defaults.session),
            out,
        );
    }
    if x.timestamp_timeout != y.timestamp_timeout {
        let (tx, ty) = (
            x.timestamp_timeout_with(&a.defaults),
            y.timestamp_timeout_with(&b.defaults),
        );
        if tx != ty {
            out.push(
                ChangeKind::Auth,
                subject.to_string(),
                format!(
                    "timestamp_timeout {} -> {}",
                    show_duration(tx),
                    show_duration(ty)
                ),
                // A longer timeout is looser.
                stricter(ty, tx),
            );
        }
    }
}

pub(super) fn defaults(a: &Policy, b: &Policy, out: &mut Out) {
    let (x, y) = (&a.defaults, &b.defaults);
    let subject = || "defaults".to_string();
    path_changes(
        ChangeKind::Defaults,
        "defaults",
        &x.secure_path,
        &y.secure_path,
        out,
    );
    keep_changes(
        ChangeKind::Defaults,
        "defaults",
        &x.env_keep,
        &y.env_keep,
        out,
    );
    setenv_changes("defaults", &x.setenv, &y.setenv, out);
    session_changes("defaults", x.session, y.session, out);
    if x.umask != y.umask {
        // The command gets caller umask OR this: fewer bits, more access.
        let dropped = x.umask & !y.umask;
        let e = if dropped != 0 {
            Effect::Widening
        } else {
            Effect::Narrowing
        };
        out.push(
            ChangeKind::Defaults,
            subject(),
            format!("umask {:04o} -> {:04o}", x.umask, y.umask),
            e,
        );
    }
    if x.timestamp_timeout != y.timestamp_timeout {
        // Longer: a password entered once covers more calls. "0" disables
        // the cache: the shortest of all.
        let note = match (x.timestamp_timeout, y.timestamp_timeout) {
            (_, 0) => " (caching disabled)",
            (0, _) => " (caching enabled)",
            _ => "",
        };
        out.push(
            ChangeKind::Defaults,
            subject(),
            format!(
                "timestamp_timeout {} -> {}{note}",
                show_duration(x.timestamp_timeout),
                show_duration(y.timestamp_timeout)
            ),
            // A longer timeout is looser: the reverse of `stricter`.
            stricter(y.timestamp_timeout, x.timestamp_timeout),
        );
    }
    if x.pam_account != y.pam_account {
        // Off: PAM's account restrictions no longer hold for rules
        // without a password.
        out.push(
            ChangeKind::Defaults,
            subject(),
            format!("pam_account {} -> {}", x.pam_account, y.pam_account),
            if y.pam_account {
                Effect::Narrowing
            } else {
                Effect::Widening
            },
        );
    }
    if x.pam_account_memo != y.pam_account_memo {
        // On: the same verdicts by construction, but the PAM modules no
        // longer run on every call (their own logging): counted as
        // widening, off as narrowing.
        out.push(
            ChangeKind::Defaults,
            subject(),
            format!(
                "pam_account_memo {} -> {}",
                x.pam_account_memo, y.pam_account_memo
            ),
            if y.pam_account_memo {
                Effect::Widening
            } else {
                Effect::Narrowing
            },
        );
    }
    if x.drift != y.drift {
        out.push(
            ChangeKind::Defaults,
            subject(),
            format!("drift {} -> {}", x.drift.as_str(), y.drift.as_str()),
            by_rank(x.drift as u8, y.drift as u8),
        );
    }
    if x.sandbox != y.sandbox {
        sandbox_switch(
            "defaults",
            x.sandbox.as_ref(),
            y.sandbox.as_ref(),
            x.sandbox
                .as_ref()
                .and_then(|n| a.sandboxes.iter().find(|s| &s.name == n)),
            y.sandbox
                .as_ref()
                .and_then(|n| b.sandboxes.iter().find(|s| &s.name == n)),
            out,
        );
    }
}
