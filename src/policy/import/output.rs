//! The output: the converted rules, the deny rules for every caller, and
//! the policy text.
#![forbid(unsafe_code)]

use super::*;

impl Conv<'_> {
    // ------------------------------------------------------------ output

    pub(super) fn finish(mut self) -> Result<Imported, ImportError> {
        // sudo's order of precedence: generic, host, user, runas, command.
        for (settings, src) in std::mem::take(&mut self.host_defaults) {
            for s in &settings {
                self.setting(s, &src);
            }
        }
        self.apply_scoped();
        // Deny rules for "every caller": every principal of every allow rule.
        let mut all_users = Vec::new();
        let mut all_groups = Vec::new();
        for it in &self.items {
            if let Item::Rule(r) = it
                && !r.deny
            {
                for u in &r.users {
                    push_unique(&mut all_users, u.clone());
                }
                for g in &r.groups {
                    push_unique(&mut all_groups, g.clone());
                }
            }
        }
        let mut items = Vec::new();
        for it in std::mem::take(&mut self.items) {
            match it {
                Item::Rule(mut r) if r.all_callers => {
                    if all_users.is_empty() && all_groups.is_empty() {
                        items.push(Item::Comment(format!(
                            "# (deny rule {} omitted: no imported rule allows anything)",
                            r.name
                        )));
                        continue;
                    }
                    r.users = all_users.clone();
                    r.groups = all_groups.clone();
                    r.comment = Some(
                        "# denied for every user and group that any imported rule names"
                            .to_string(),
                    );
                    items.push(Item::Rule(r));
                }
                it => items.push(it),
            }
        }
        let mut out = String::new();
        out.push_str("# Belladonna policy imported from sudoers by `bdctl import sudoers`.\n");
        out.push_str("# Review it before installing: UNMAPPED lines were not imported, NARROWED\n");
        out.push_str("# ones allow less than sudoers did. See docs/sudoers-import.md.\n");
        out.push_str("version = 1\n");
        if self.secure_path.is_some()
            || self.env_keep.is_some()
            || self.umask.is_some()
            || self.timestamp_timeout.is_some()
            || self.require_tty
            || self.noexec
            || self.use_pty
        {
            out.push_str("\n[defaults]\n");
            if let Some(p) = &self.secure_path {
                out.push_str(&format!("secure_path = {}\n", toml_str(p)));
            }
            if let Some(e) = &self.env_keep {
                out.push_str(&format!("env_keep = {}\n", toml_list(e)));
            }
            if let Some(u) = &self.umask {
                out.push_str(&format!("umask = {}\n", toml_str(u)));
            }
            if let Some(t) = self.timestamp_timeout {
                out.push_str(&format!("timestamp_timeout = \"{t}s\"\n"));
            }
            if self.require_tty {
                out.push_str("require_tty = true\n");
            }
            if self.use_pty {
                out.push_str("monitor = true\nuse_pty = true\n");
            }
            if self.noexec {
                out.push_str("noexec = true\n");
            }
        }
        let mut rules = 0;
        let mut prev_comment = false;
        for it in &items {
            match it {
                Item::Comment(c) => {
                    if !prev_comment {
                        out.push('\n');
                    }
                    out.push_str(c);
                    out.push('\n');
                    prev_comment = true;
                }
                Item::Rule(r) => {
                    rules += 1;
                    if !prev_comment {
                        out.push('\n');
                    }
                    if let Some(c) = &r.comment {
                        out.push_str(c);
                        out.push('\n');
                    }
                    out.push_str("[[rule]]\n");
                    out.push_str(&format!("name = {}\n", toml_str(&r.name)));
                    if !r.users.is_empty() {
                        out.push_str(&format!("users = {}\n", toml_list(&r.users)));
                    }
                    if !r.groups.is_empty() {
                        out.push_str(&format!("groups = {}\n", toml_list(&r.groups)));
                    }
                    if let Some(ra) = &r.run_as {
                        out.push_str(&format!("run_as = {}\n", toml_list(ra)));
                    }
                    if let Some(g) = &r.run_as_groups {
                        out.push_str(&format!("run_as_groups = {}\n", toml_list(g)));
                    }
                    if r.deny {
                        out.push_str("action = \"deny\"\n");
                    }
                    out.push_str("commands = [\n");
                    for c in &r.commands {
                        out.push_str(&format!("  {},\n", toml_str(c)));
                    }
                    out.push_str("]\n");
                    if let Some(a) = r.auth {
                        out.push_str(&format!("auth = \"{a}\"\n"));
                    }
                    r.env.render(&mut out);
                    prev_comment = false;
                }
            }
        }
        // The safety net: what we wrote must load.
        if let Err(e) = parse::parse_main(&out, Path::new("imported.toml")) {
            return Err(ImportError {
                file: self.names.first().cloned().unwrap_or_default(),
                line: None,
                message: format!("internal error: the generated policy does not load: {e}"),
            });
        }
        // A line that became rules but lost a part is narrowed, not lost.
        for r in &mut self.lines {
            if r.outcome == LineOutcome::NotMapped && !r.rules.is_empty() {
                r.outcome = LineOutcome::Narrowed;
            }
        }
        Ok(Imported {
            toml: out,
            warnings: self.warnings,
            rules,
            lines: self.lines,
        })
    }
}
