//! Command entries, rules, a rule's own environment, and `[defaults]`.
#![forbid(unsafe_code)]

use super::*;

pub(super) fn command(ctx: &Ctx<'_>, c: &Spanned<RawCommand>) -> Result<CommandSpec, PolicyError> {
    let (line, line_span, digest) = match c.get_ref() {
        RawCommand::Line(s) => (s.as_str(), c.span(), None),
        RawCommand::Table(t) => {
            let d = match &t.digest {
                Some(d) => Some(parse_digest(d.get_ref()).map_err(|m| ctx.err(&d.span(), m))?),
                None => None,
            };
            (t.cmd.get_ref().as_str(), t.cmd.span(), d)
        }
    };
    if line.trim() == "ALL" {
        if digest.is_some() {
            return Err(ctx.err(&line_span, "\"ALL\" cannot have a digest pin"));
        }
        return Ok(CommandSpec {
            path: PathBuf::from("ALL"),
            args: Args::Prefix(Vec::new()),
            digest: None,
            kind: CommandKind::All,
        });
    }
    if line.trim_start().starts_with('!') {
        return Err(ctx.err(
            &line_span,
            format!(
                "command {line:?}: negation is sudoers syntax; write a deny rule (action = \"deny\") for the commands to exclude"
            ),
        ));
    }
    if line.trim_start().starts_with("ALL ") || line.trim_start().starts_with("ALL\t") {
        return Err(ctx.err(
            &line_span,
            format!("command {line:?}: \"ALL\" takes no arguments (it allows any)"),
        ));
    }
    let parsed = cmdline::parse_command(line).map_err(|e| {
        // Point inside the string when its text in the file is exactly its
        // value (a string without escapes); otherwise at the string.
        let inner = line_span.start + 1;
        let at = match ctx.src.get(inner..inner + line.len()) {
            Some(text) if text == line => inner + e.offset,
            _ => line_span.start,
        };
        ctx.err(&(at..at), format!("command {line:?}: {}", e.message))
    })?;
    if parsed.dir && digest.is_some() {
        return Err(ctx.err(
            &line_span,
            format!("command {line:?}: a directory cannot have a digest pin"),
        ));
    }
    Ok(CommandSpec {
        path: parsed.path,
        args: parsed.args,
        digest,
        kind: if parsed.dir {
            CommandKind::Dir
        } else {
            CommandKind::File
        },
    })
}

pub(super) fn rule(ctx: &Ctx<'_>, r: &Spanned<RawRule>) -> Result<Rule, PolicyError> {
    let span = r.span();
    let raw = r.get_ref();
    let name = match &raw.name {
        Some(n) if n.get_ref().trim().is_empty() => {
            return Err(ctx.err(&n.span(), "rule name must not be empty"));
        }
        Some(n) if n.get_ref().chars().any(char::is_control) => {
            return Err(ctx.err(&n.span(), "rule name must not contain control characters"));
        }
        Some(n) => n.get_ref().clone(),
        None => return Err(ctx.err(&span, "rule has no `name` (required)")),
    };
    let users = principals(ctx, raw.users.as_deref().unwrap_or_default())?;
    let groups = principals(ctx, raw.groups.as_deref().unwrap_or_default())?;
    if users.is_empty() && groups.is_empty() {
        return Err(ctx.err(
            &span,
            format!("rule {name:?} names no `users` and no `groups` (at least one is required)"),
        ));
    }
    let action = match &raw.action {
        None => Action::Allow,
        Some(a) => match a.get_ref().as_str() {
            "allow" => Action::Allow,
            "deny" => Action::Deny,
            other => {
                return Err(ctx.err(
                    &a.span(),
                    format!("action {other:?} must be \"allow\" or \"deny\""),
                ));
            }
        },
    };
    let auth = match &raw.auth {
        None => Auth::Password,
        Some(a) => match a.get_ref().as_str() {
            "none" => Auth::None,
            "password" => Auth::Password,
            "approval" => Auth::Approval,
            other => {
                return Err(ctx.err(
                    &a.span(),
                    format!("auth {other:?} must be \"none\", \"password\" or \"approval\""),
                ));
            }
        },
    };
    let run_as = match (&raw.run_as, action) {
        (None, Action::Allow) => vec![Principal::Name("root".to_string())],
        (None, Action::Deny) => Vec::new(),
        (Some(list), _) => {
            let v = run_as_list(ctx, list.get_ref())?;
            if v.is_empty() && action == Action::Allow {
                return Err(ctx.err(
                    &list.span(),
                    format!(
                        "rule {name:?}: run_as is empty, so the rule could never allow anything"
                    ),
                ));
            }
            v
        }
    };
    let edit = super::daily::edit_key(ctx, &name, raw, action)?;
    let commands = match &raw.commands {
        // An edit-only rule (bdexec -e) runs no command.
        None if edit.is_some() => Vec::new(),
        None => {
            return Err(ctx.err(
                &span,
                format!("rule {name:?} has no `commands` (at least one is required)"),
            ));
        }
        Some(c) if c.get_ref().is_empty() => {
            return Err(ctx.err(
                &c.span(),
                format!("rule {name:?}: commands is empty (at least one is required)"),
            ));
        }
        Some(c) => {
            let v = c
                .get_ref()
                .iter()
                .map(|c| command(ctx, c))
                .collect::<Result<Vec<_>, _>>()?;
            if action == Action::Deny && v.iter().any(|c| c.kind == CommandKind::Dir) {
                return Err(ctx.err(
                    &c.span(),
                    format!(
                        "deny rule {name:?}: a command directory can't be denied (deny rules match the \
                         file by inode, whatever its name); name the files"
                    ),
                ));
            }
            if v.len() > 1 && v.iter().any(|c| c.kind == CommandKind::All) {
                return Err(ctx.err(
                    &c.span(),
                    format!(
                        "rule {name:?}: \"ALL\" must be the rule's only command (it already covers every command)"
                    ),
                ));
            }
            v
        }
    };
    let setenv = match &raw.setenv {
        Some(t) => setenv(ctx, t)?,
        None => Vec::new(),
    };
    let sandbox = match &raw.sandbox {
        Some(s) if action == Action::Deny => {
            return Err(ctx.err(
                &s.span(),
                format!("deny rule {name:?} must not have a `sandbox` (it never runs anything)"),
            ));
        }
        Some(s) => Some(profile_ref(ctx, s)?),
        None => None,
    };
    let caps = match &raw.caps {
        Some(list) if action == Action::Deny => {
            let at = list.first().map_or(span.clone(), |c| c.span());
            return Err(ctx.err(
                &at,
                format!("deny rule {name:?} must not have `caps` (it never runs anything)"),
            ));
        }
        Some(list) => capabilities(ctx, list)?,
        None => Vec::new(),
    };
    let approval = approval(ctx, &name, raw, auth, action)?;
    let rate = match &raw.rate {
        Some(r) if action == Action::Deny => {
            return Err(ctx.err(
                &r.span(),
                format!("deny rule {name:?} must not have a `rate` (it never runs anything)"),
            ));
        }
        Some(r) => Some(parse_rate(r.get_ref()).map_err(|m| ctx.err(&r.span(), m))?),
        None => None,
    };
    let (env_keep, secure_path, timestamp_timeout) = rule_env(ctx, &name, raw, action)?;
    let (run_as_groups, chdir) = super::daily::rule_keys(ctx, &name, raw, action)?;
    let caller = super::caller::caller_options(ctx, &name, raw, action)?;
    Ok(Rule {
        name,
        users,
        groups,
        run_as,
        commands,
        auth,
        action,
        setenv,
        sandbox,
        caps,
        approval,
        rate,
        session: Session {
            monitor: raw.monitor,
            use_pty: raw.use_pty,
            require_tty: raw.require_tty,
            record: raw.record,
            record_input: raw.record_input,
            noexec: raw.noexec,
        },
        env_keep,
        secure_path,
        timestamp_timeout,
        run_as_groups,
        chdir,
        edit,
        caller,
        origin: ctx.origin(&span),
    })
}

/// A rule's own `env_keep`, `secure_path` and `timestamp_timeout` (the
/// values checked as in `[defaults]`); refused on deny rules, which never
/// run anything.
pub(super) type RuleEnv = (Option<Vec<String>>, Option<Vec<PathBuf>>, Option<u64>);

pub(super) fn rule_env(
    ctx: &Ctx<'_>,
    name: &str,
    raw: &RawRule,
    action: Action,
) -> Result<RuleEnv, PolicyError> {
    if action == Action::Deny {
        let given = [
            raw.env_keep.as_ref().map(|l| ("env_keep", l.span())),
            raw.secure_path.as_ref().map(|s| ("secure_path", s.span())),
            raw.timestamp_timeout
                .as_ref()
                .map(|s| ("timestamp_timeout", s.span())),
        ];
        no_run_keys_on_deny(ctx, name, given)?;
    }
    let keep = match &raw.env_keep {
        Some(l) if l.get_ref().is_empty() => {
            return Err(ctx.err(
                &l.span(),
                format!("rule {name:?}: env_keep is empty (it adds to [defaults] env_keep; leave it out)"),
            ));
        }
        Some(l) => Some(env_keep(ctx, l.get_ref())?),
        None => None,
    };
    let path = match &raw.secure_path {
        Some(s) => Some(secure_path(ctx, s)?),
        None => None,
    };
    let timeout = match &raw.timestamp_timeout {
        Some(t) => Some(
            parse_duration(t.get_ref())
                .map_err(|m| ctx.err(&t.span(), format!("timestamp_timeout: {m}")))?,
        ),
        None => None,
    };
    Ok((keep, path, timeout))
}

/// The first of `given` (key, where) that is set refuses a deny rule:
/// it names something about running a command, which a deny rule never
/// does.
pub(super) fn no_run_keys_on_deny<const N: usize>(
    ctx: &Ctx<'_>,
    name: &str,
    given: [Option<(&str, Range<usize>)>; N],
) -> Result<(), PolicyError> {
    match given.into_iter().flatten().next() {
        Some((key, at)) => Err(ctx.err(
            &at,
            format!("deny rule {name:?} must not have `{key}` (it never runs anything)"),
        )),
        None => Ok(()),
    }
}

pub(super) fn defaults(ctx: &Ctx<'_>, d: &RawDefaults) -> Result<Defaults, PolicyError> {
    let mut out = Defaults::default();
    if let Some(s) = &d.secure_path {
        out.secure_path = secure_path(ctx, s)?;
    }
    if let Some(list) = &d.env_keep {
        out.env_keep = env_keep(ctx, list)?;
    }
    if let Some(u) = &d.umask {
        out.umask = umask(ctx, u)?;
    }
    if let Some(t) = &d.setenv {
        out.setenv = setenv(ctx, t)?;
    }
    if let Some(s) = &d.sandbox {
        out.sandbox = Some(profile_ref(ctx, s)?);
    }
    if let Some(m) = &d.drift {
        out.drift = match m.get_ref().as_str() {
            "warn" => crate::policy::model::DriftMode::Warn,
            "deny" => crate::policy::model::DriftMode::Deny,
            other => {
                return Err(ctx.err(
                    &m.span(),
                    format!("drift {other:?} must be \"warn\" or \"deny\""),
                ));
            }
        };
    }
    if let Some(b) = d.pam_account {
        out.pam_account = b;
    }
    if let Some(b) = d.pam_account_memo {
        out.pam_account_memo = b;
    }
    if let Some(t) = &d.timestamp_timeout {
        out.timestamp_timeout = parse_duration(t.get_ref())
            .map_err(|m| ctx.err(&t.span(), format!("timestamp_timeout: {m}")))?;
    }
    if let Some(r) = &d.telemetry_sample_rate {
        let v = *r.get_ref();
        // No float formatting here: it would grow bdexec for an error
        // message.
        if !(0.0..=1.0).contains(&v) {
            return Err(ctx.err(
                &r.span(),
                "telemetry_sample_rate must be between 0.0 and 1.0",
            ));
        }
        // In range, so the sum is in 0.5..=1e6 + 0.5: rounds to 0..=1e6.
        out.telemetry_sample_ppm = (v * 1e6 + 0.5) as u32;
    }
    out.session = Session {
        monitor: d.monitor,
        use_pty: d.use_pty,
        require_tty: d.require_tty,
        record: d.record,
        record_input: d.record_input,
        noexec: d.noexec,
    };
    Ok(out)
}
