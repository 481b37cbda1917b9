//! The converter's reporting (warnings, per-line outcomes) and the
//! `Defaults` lines: what of a sudoers `Defaults` carries over.
#![forbid(unsafe_code)]

use super::*;

impl Conv<'_> {
    pub(super) fn file_name(&self, src: &Src) -> String {
        self.names.get(src.file).cloned().unwrap_or_default()
    }

    pub(super) fn warn(&mut self, src: &Src, message: String) {
        self.warnings.push(Warning {
            file: self.file_name(src),
            line: src.line,
            message,
        });
    }

    /// The report row of `src`'s line.
    pub(super) fn row(&mut self, src: &Src) -> Option<&mut LineReport> {
        let file = self.file_name(src);
        self.lines
            .iter_mut()
            .rev()
            .find(|r| r.line == src.line && r.file == file)
    }

    /// Something not imported: a warning and an `# UNMAPPED` comment.
    pub(super) fn unmapped(&mut self, src: &Src, message: String) {
        if let Some(r) = self.row(src) {
            r.outcome = r.outcome.max(LineOutcome::NotMapped);
            r.notes.push(message.clone());
        }
        let where_ = format!("{}:{}", self.file_name(src), src.line);
        self.items.push(Item::Comment(format!(
            "# UNMAPPED ({where_}): {}",
            comment_text(&message)
        )));
        self.warn(src, message);
    }

    /// Imported, but narrower than sudo: a warning and a `# NARROWED` comment.
    pub(super) fn narrowed(&mut self, src: &Src, message: String) {
        if let Some(r) = self.row(src) {
            r.outcome = r.outcome.max(LineOutcome::Narrowed);
            r.notes.push(message.clone());
        }
        let where_ = format!("{}:{}", self.file_name(src), src.line);
        self.items.push(Item::Comment(format!(
            "# NARROWED ({where_}): {}",
            comment_text(&message)
        )));
        self.warn(src, message);
    }

    // ------------------------------------------------------------ Defaults

    pub(super) fn defaults(
        &mut self,
        scope: Option<&str>,
        settings: &[Setting],
        src: &Src,
    ) -> Result<(), ImportError> {
        // Defaults that make sudo refuse requests Belladonna would allow:
        // dropping them would widen, so the import stops.
        for s in settings {
            let why = match (s.name.as_str(), s.negated) {
                ("runas_default", _) => Some(
                    "runas_default changes the target of every rule without a runas list; not supported (refusing rather than guessing the target)",
                ),
                ("runas_check_shell", false) => Some(
                    "runas_check_shell makes sudo refuse targets whose shell is not in /etc/shells; Belladonna has no such condition (remove the line to import)",
                ),
                ("root_sudo", true) => Some(
                    "!root_sudo makes sudo refuse every request by root; Belladonna has no such condition (remove the line to import)",
                ),
                _ => None,
            };
            if let Some(why) = why {
                return Err(refuse(
                    &self.names,
                    src,
                    format!("Defaults {}: {why}", setting_text(s)),
                ));
            }
        }
        if let Some(list) = scope.and_then(|s| s.strip_prefix('@')) {
            self.host_scoped(list, settings, src);
            return Ok(());
        }
        if let Some(scope) = scope {
            self.scoped_defaults(scope, settings, src);
            return Ok(());
        }
        for s in settings {
            self.setting(s, src);
        }
        Ok(())
    }

    pub(super) fn setting(&mut self, s: &Setting, src: &Src) {
        let text = setting_text(s);
        match (s.name.as_str(), s.negated, &s.op) {
            // Belladonna always starts from a clean environment.
            ("env_reset", false, None) => {}
            // [defaults] require_tty = true (belladonna-policy(5)).
            ("requiretty", negated, None) => self.require_tty = !negated,
            // [defaults] noexec = true (src/exec/noexec.rs): narrower
            // than sudo for a root target (only the rule's caps).
            ("noexec", negated, None) => {
                self.noexec = !negated;
                if !negated {
                    self.narrowed(src, format!("Defaults {text}: {NOEXEC_NOTE}"));
                }
            }
            ("intercept", false, None) => {
                self.noexec = true;
                self.narrowed(
                    src,
                    format!(
                        "Defaults {text}: mapped to noexec = true: sudo would check each further program against sudoers, every one is refused; {NOEXEC_NOTE}"
                    ),
                );
            }
            ("intercept", true, None) => {}
            // sudo's use_pty: a monitor with its own pty (src/exec/monitor/).
            ("use_pty", negated, None) => self.use_pty = !negated,
            ("secure_path", false, Some((op, v))) if op == "=" => {
                if clean_path_list(v) {
                    self.secure_path = Some(v.clone());
                } else {
                    self.unmapped(
                        src,
                        format!("Defaults {text}: not a list of clean absolute directories"),
                    );
                }
            }
            ("umask", false, Some((op, v))) if op == "=" => {
                let ok = !v.is_empty()
                    && v.len() <= 4
                    && v.bytes().all(|b| (b'0'..=b'7').contains(&b))
                    && u32::from_str_radix(v, 8).is_ok_and(|m| m <= 0o777);
                if ok {
                    self.umask = Some(format!("{:0>4}", v));
                } else {
                    self.unmapped(src, format!("Defaults {text}: not an octal umask"));
                }
            }
            ("env_keep", false, Some((op, v))) => {
                let mut list = match op.as_str() {
                    "=" => Vec::new(),
                    _ => self.env_keep.clone().unwrap_or_else(|| {
                        DEFAULT_ENV_KEEP.iter().map(|s| (*s).to_string()).collect()
                    }),
                };
                for var in v.split_whitespace() {
                    if op == "-=" {
                        list.retain(|x| x != var);
                        continue;
                    }
                    if self.keep_entry_ok(var, src) && !list.iter().any(|x| x == var) {
                        list.push(var.to_string());
                    }
                }
                self.env_keep = Some(list);
            }
            ("env_keep", true, None) => self.env_keep = Some(Vec::new()),
            // Minutes (sudo allows a fraction); a negative value (never
            // expires) is not mapped: the default applies, which is
            // stricter.
            ("timestamp_timeout", false, Some((op, v))) if op == "=" => {
                match v.parse::<f64>() {
                    Ok(m) if (0.0..=525_600.0).contains(&m) => {
                        self.timestamp_timeout = Some((m * 60.0).round() as u64);
                    }
                    _ => self.unmapped(
                        src,
                        format!(
                            "Defaults {text}: not mapped (only 0 to 525600 minutes); the default (5 minutes) applies"
                        ),
                    ),
                }
            }
            ("timestamp_timeout", true, None) => self.timestamp_timeout = Some(0),
            ("log_input" | "log_output" | "logfile" | "syslog" | "mail_badpass", ..) => {
                let why = scoped_reason(s);
                self.unmapped(src, format!("Defaults {text}: not mapped: {why}"));
            }
            _ => self.unmapped(src, format!("Defaults {text}: not mapped")),
        }
    }

    /// `Defaults@hosts`: for this host, applied after the generic
    /// Defaults; for another host, nothing; when the list can't be
    /// decided here, only the settings that restrict (noexec, intercept,
    /// requiretty) apply, narrower, and the others are not mapped.
    fn host_scoped(&mut self, list: &str, settings: &[Setting], src: &Src) {
        let host = match sudoers::scope_members(list) {
            Ok(m) => self.host_outcomes(&m, 0),
            Err(_) => Outcomes::ANY,
        };
        let me = self.opts.hostname.clone();
        if host.definitely_allow() {
            self.host_defaults.push((settings.to_vec(), src.clone()));
            return;
        }
        if !host.allow {
            self.unmapped(
                src,
                format!(
                    "Defaults@{list}: the host list does not match {me}: it does not apply here"
                ),
            );
            return;
        }
        let mut keep = Vec::new();
        for s in settings {
            let text = format!("Defaults@{list} {}", setting_text(s));
            let restricts = !s.negated
                && s.op.is_none()
                && matches!(s.name.as_str(), "noexec" | "intercept" | "requiretty");
            if restricts {
                keep.push(s.clone());
                self.narrowed(
                    src,
                    format!(
                        "{text}: the host list can't be decided for {me}: applied anyway (narrower)"
                    ),
                );
            } else {
                self.unmapped(
                    src,
                    format!("{text}: not mapped: the host list can't be decided for {me} (addresses, netgroups, wildcards)"),
                );
            }
        }
        if !keep.is_empty() {
            self.host_defaults.push((keep, src.clone()));
        }
    }

    /// An `env_keep` entry Belladonna can keep (a name or `NAME*`, not
    /// `LD_*`/`BASH_FUNC_*`); otherwise a note saying why it is not.
    pub(super) fn keep_entry_ok(&mut self, var: &str, src: &Src) -> bool {
        let name = var.strip_suffix('*').unwrap_or(var);
        let valid = {
            let mut b = name.bytes();
            matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
                && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        };
        if !valid {
            self.unmapped(
                src,
                format!(
                    "Defaults env_keep entry {var:?}: only names and NAME* patterns are mapped"
                ),
            );
            return false;
        }
        if let Some(why) = crate::policy::lint::env_keep_runs_code(var) {
            self.unmapped(
                src,
                format!(
                    "Defaults env_keep entry {var:?}: not kept: it lets the caller run its own code in the command ({why}); `bdctl policy check` refuses it"
                ),
            );
            return false;
        }
        if parse::is_forbidden_env(name) {
            self.unmapped(
                src,
                format!(
                    "Defaults env_keep entry {var:?}: Belladonna never passes LD_* or BASH_FUNC_*"
                ),
            );
            return false;
        }
        true
    }
}
