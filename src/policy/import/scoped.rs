//! Scoped `Defaults` (`Defaults:users`, `Defaults>runas`,
//! `Defaults!cmnds`) for `env_keep +=`, `secure_path =`,
//! `timestamp_timeout =`, `noexec`, `requiretty` and `use_pty`: mapped
//! onto the rules they concern, as the rules' own `env_keep`,
//! `secure_path`, `timestamp_timeout`, `noexec`, `require_tty`,
//! `monitor`/`use_pty` (belladonna-policy(5)). They are applied in
//! sudo's order of precedence (user, then runas, then command scopes;
//! file order within one kind), after the generic and `Defaults@host`
//! ones (import/report.rs). sudo applies a scoped default to every request
//! its scope matches, wherever the line is, so they are collected while
//! reading and applied to the finished rules.
//!
//! A rule gets a setting when the scope covers it *entirely*: every user
//! and group of the rule is in a `:users` list, every target of its
//! `run_as` in a `>runas` list, every command of it in a `!cmnds` list
//! (a path without arguments there: sudo's any arguments). A rule the
//! scope covers only partly (a caller it names through a group, one of
//! several users, an `ALL` or directory rule containing the command)
//! could serve requests the scope matches and others it doesn't; it
//! doesn't get the setting (narrower: the variables are not kept, the
//! policy's `secure_path` is the `PATH`), except a *shorter*
//! `timestamp_timeout`, which it does get (narrower for its other
//! callers, never a longer cache than sudo's). The settings that
//! restrict (`noexec`, `requiretty`; and `use_pty`, which only adds a
//! pty) are given to a partly covered rule too, for all its callers
//! (narrower); their negations only to a rule covered entirely. A
//! `NOEXEC`/`EXEC` tag on the command wins over any `noexec` default, as
//! in sudo. The report row says which.
#![forbid(unsafe_code)]

use super::helpers::NOEXEC_NOTE;
use super::sudoers::{self, AliasKind, ArgSpec, Cmnd, Setting, Src};
use super::{Conv, Item, Leaf, OutRule, Polarity, clean_path_list, setting_text};
use crate::policy::model::DEFAULT_TIMESTAMP_TIMEOUT;
use std::collections::HashSet;

/// What scoped Defaults gave one imported rule.
#[derive(Debug, Clone, Default)]
pub(super) struct RuleEnv {
    env_keep: Vec<String>,
    secure_path: Option<String>,
    timestamp_timeout: Option<u64>,
    /// The command's `NOEXEC`/`INTERCEPT` (true) or `EXEC` (false) tag:
    /// over any `noexec` default.
    pub(super) noexec_tag: Option<bool>,
    noexec: Option<bool>,
    require_tty: Option<bool>,
    use_pty: Option<bool>,
}

impl RuleEnv {
    pub(super) fn with_noexec_tag(noexec_tag: Option<bool>) -> RuleEnv {
        RuleEnv {
            noexec_tag,
            ..RuleEnv::default()
        }
    }

    /// The rule's keys, when set.
    pub(super) fn render(&self, out: &mut String) {
        if !self.env_keep.is_empty() {
            out.push_str(&format!(
                "env_keep = {}\n",
                super::toml_list(&self.env_keep)
            ));
        }
        if let Some(p) = &self.secure_path {
            out.push_str(&format!("secure_path = {}\n", super::toml_str(p)));
        }
        if let Some(t) = self.timestamp_timeout {
            out.push_str(&format!("timestamp_timeout = \"{t}s\"\n"));
        }
        if let Some(n) = self.noexec_tag.or(self.noexec) {
            out.push_str(&format!("noexec = {n}\n"));
        }
        if let Some(t) = self.require_tty {
            out.push_str(&format!("require_tty = {t}\n"));
        }
        match self.use_pty {
            Some(true) => out.push_str("monitor = true\nuse_pty = true\n"),
            Some(false) => out.push_str("use_pty = false\n"),
            None => {}
        }
    }
}

/// One mappable setting of a scoped Defaults line.
#[derive(Debug, Clone)]
enum Set {
    Keep(Vec<String>),
    Path(String),
    Timeout(u64),
    Noexec(bool),
    Tty(bool),
    Pty(bool),
}

/// A scoped Defaults line kept for the end.
#[derive(Debug, Clone)]
pub(super) struct Scoped {
    scope: Scope,
    sets: Vec<(Set, String)>,
    src: Src,
}

/// What the scope names, expanded.
#[derive(Debug, Clone)]
enum Scope {
    /// `:users`: user names/`#uid` and groups (as in the rules' lists).
    Users(Vec<String>, Vec<String>),
    /// `>runas`: targets as in the rules' `run_as`.
    Runas(Vec<String>),
    /// `!cmnds`: command paths (any arguments).
    Cmnds(Vec<String>),
}

/// How much of a rule a scope covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cover {
    None,
    Part,
    All,
}

impl Conv<'_> {
    /// A `Defaults<scope> ...` line: the mappable settings are kept for
    /// [`Conv::apply_scoped`], the others noted as not mapped.
    pub(super) fn scoped_defaults(&mut self, scope: &str, settings: &[Setting], src: &Src) {
        let mut sets = Vec::new();
        for s in settings {
            let text = format!("Defaults{scope} {}", setting_text(s));
            match (s.name.as_str(), s.negated, &s.op) {
                ("env_keep", false, Some((op, v))) if op == "+=" => {
                    let vars: Vec<String> = v
                        .split_whitespace()
                        .filter(|var| self.keep_entry_ok(var, src))
                        .map(str::to_string)
                        .collect();
                    if !vars.is_empty() {
                        sets.push((Set::Keep(vars), text));
                    }
                }
                ("env_keep", ..) => self.unmapped(
                    src,
                    format!(
                        "{text}: not mapped: a rule's env_keep only adds to [defaults] env_keep (sudo's +=); a scoped '=', '-=' or '!env_keep' can't be expressed (these variables are not kept for these requests)"
                    ),
                ),
                ("secure_path", false, Some((op, v))) if op == "=" && clean_path_list(v) => {
                    sets.push((Set::Path(v.clone()), text));
                }
                ("timestamp_timeout", false, Some((op, v))) if op == "=" => match v.parse::<f64>() {
                    Ok(m) if (0.0..=525_600.0).contains(&m) => {
                        sets.push((Set::Timeout((m * 60.0).round() as u64), text));
                    }
                    _ => self.unmapped(
                        src,
                        format!("{text}: not mapped (only 0 to 525600 minutes); the policy's timeout applies"),
                    ),
                },
                ("timestamp_timeout", true, None) => sets.push((Set::Timeout(0), text)),
                ("noexec", neg, None) => sets.push((Set::Noexec(!neg), text)),
                ("intercept", false, None) => sets.push((Set::Noexec(true), text)),
                ("intercept", true, None) => {}
                ("requiretty", neg, None) => sets.push((Set::Tty(!neg), text)),
                ("use_pty", neg, None) => sets.push((Set::Pty(!neg), text)),
                _ => {
                    let why = super::scoped_reason(s);
                    self.unmapped(src, format!("{text}: not mapped: {why}"));
                }
            }
        }
        if sets.is_empty() {
            return;
        }
        let parsed = match self.scope_of(scope) {
            Ok(p) => p,
            Err(why) => return self.scope_not_mapped(sets, src, &why),
        };
        self.scoped.push(Scoped {
            scope: parsed,
            sets,
            src: src.clone(),
        });
    }

    /// A scope that can't be mapped: its settings are not mapped, and
    /// one that restricts (noexec, requiretty) may not be dropped: it
    /// applies to every rule (narrower), said in the report.
    fn scope_not_mapped(&mut self, sets: Vec<(Set, String)>, src: &Src, why: &str) {
        for (set, text) in sets {
            match set {
                Set::Noexec(true) => {
                    self.noexec = true;
                    self.narrowed(src, format!("{text}: the scope can't be mapped ({why}): noexec applies to every rule (narrower); {NOEXEC_NOTE}"));
                }
                Set::Tty(true) => {
                    self.require_tty = true;
                    self.narrowed(src, format!("{text}: the scope can't be mapped ({why}): require_tty applies to every rule (narrower)"));
                }
                _ => self.unmapped(src, format!("{text}: not mapped: {why}")),
            }
        }
    }

    /// The scope's list, expanded; an error says why it can't be mapped.
    fn scope_of(&self, scope: &str) -> Result<Scope, String> {
        let (kind, list) = scope.split_at(scope.chars().next().map_or(0, char::len_utf8));
        match kind {
            ":" | ">" => {
                let members = sudoers::scope_members(list)?;
                let alias = if kind == ":" {
                    AliasKind::User
                } else {
                    AliasKind::Runas
                };
                let mut leaves = Vec::new();
                self.expand_members(alias, &members, Polarity::Pos, 0, &mut leaves)?;
                let (mut names, mut groups) = (Vec::new(), Vec::new());
                for (p, l) in leaves {
                    if p == Polarity::Neg {
                        return Err("the scope's list has a negation ('!')".into());
                    }
                    match (l, kind) {
                        (Leaf::Name(n), _) => names.push(n),
                        (Leaf::Uid(u), _) => names.push(format!("#{u}")),
                        (Leaf::Group(g), ":") => groups.push(g),
                        (Leaf::Gid(g), ":") => groups.push(format!("#{g}")),
                        (Leaf::Group(g), _) => names.push(format!("%{g}")),
                        (Leaf::Gid(g), _) => names.push(format!("%#{g}")),
                        (Leaf::All, ":") => {
                            return Err(
                                "Defaults:ALL is not mapped (write a global Defaults)".into()
                            );
                        }
                        (Leaf::All, _) => names.push("ALL".into()),
                        (Leaf::Opaque(w), _) => return Err(format!("{w} in the scope's list")),
                    }
                }
                Ok(if kind == ":" {
                    Scope::Users(names, groups)
                } else {
                    Scope::Runas(names)
                })
            }
            "!" => {
                let mut cmnds = Vec::new();
                for item in sudoers::scope_cmnds(list)? {
                    self.expand_cmnd(&item, Polarity::Pos, 0, &mut cmnds)?;
                }
                let mut paths = Vec::new();
                for (p, c) in cmnds {
                    match c {
                        Cmnd::Path {
                            path,
                            path_glob: false,
                            args: ArgSpec::Any,
                            digest: None,
                        } if p == Polarity::Pos => paths.push(path),
                        other => {
                            return Err(format!(
                                "the scope's command {} is not a plain path without arguments",
                                super::cmnd_text(&other)
                            ));
                        }
                    }
                }
                Ok(Scope::Cmnds(paths))
            }
            _ => Err("per-host Defaults (Defaults@host) are not mapped".into()),
        }
    }

    /// Apply the scoped Defaults, in file order, to the allow rules.
    pub(super) fn apply_scoped(&mut self) {
        let default_timeout = self.timestamp_timeout.unwrap_or(DEFAULT_TIMESTAMP_TIMEOUT);
        let mut scoped = std::mem::take(&mut self.scoped);
        // sudo's precedence: user, then runas, then command (stable: file
        // order within a kind), each overriding the one before.
        scoped.sort_by_key(|s| match s.scope {
            Scope::Users(..) => 0,
            Scope::Runas(_) => 1,
            Scope::Cmnds(_) => 2,
        });
        let mut copied = HashSet::new();
        for sc in scoped {
            let mut touched = Vec::new();
            let mut notes = Vec::new();
            if let Scope::Cmnds(paths) = &sc.scope {
                self.copy_for_commands(paths, &mut copied);
            }
            for it in &mut self.items {
                let Item::Rule(r) = it else { continue };
                if r.deny {
                    continue;
                }
                // No password, no timestamp: the timeout means nothing there.
                let no_password = r.auth == Some("none");
                let cover = covers(&sc.scope, r);
                // A rule a command scope covers partly has a copy for the
                // command before it (copy_for_commands), which decides.
                let copied_part = matches!(sc.scope, Scope::Cmnds(_)) && cover == Cover::Part;
                if cover == Cover::None || copied_part {
                    continue;
                }
                let mut did = false;
                for (set, text) in &sc.sets {
                    did |= !(no_password && matches!(set, Set::Timeout(_)));
                    let partly = |what: &str| {
                        format!(
                            "{text}: rule {} may serve these requests and others: {what} for all its callers (narrower)",
                            r.name
                        )
                    };
                    match (set, cover) {
                        // The command's NOEXEC/EXEC tag wins (as in sudo).
                        (Set::Noexec(_), _) if r.env.noexec_tag.is_some() => {}
                        (Set::Noexec(true), c) => {
                            r.env.noexec = Some(true);
                            notes.push(format!("{text}: {NOEXEC_NOTE}"));
                            if c == Cover::Part {
                                notes.push(partly("noexec"));
                            }
                        }
                        (Set::Tty(true), c) => {
                            r.env.require_tty = Some(true);
                            if c == Cover::Part {
                                notes.push(partly("require_tty"));
                            }
                        }
                        (Set::Pty(true), _) => r.env.use_pty = Some(true),
                        (Set::Noexec(false), Cover::All) => r.env.noexec = Some(false),
                        (Set::Tty(false), Cover::All) => r.env.require_tty = Some(false),
                        (Set::Pty(false), Cover::All) => r.env.use_pty = Some(false),
                        (Set::Timeout(_), _) if no_password => {}
                        (Set::Keep(vars), Cover::All) => {
                            for v in vars {
                                super::push_unique(&mut r.env.env_keep, v.clone());
                            }
                        }
                        (Set::Path(p), Cover::All) => r.env.secure_path = Some(p.clone()),
                        (Set::Timeout(t), Cover::All) => r.env.timestamp_timeout = Some(*t),
                        (Set::Timeout(t), _)
                            if *t < r.env.timestamp_timeout.unwrap_or(default_timeout) =>
                        {
                            r.env.timestamp_timeout = Some(*t);
                            notes.push(format!(
                                "{text}: rule {} may serve these requests and others: it gets the shorter timeout for all its callers",
                                r.name
                            ));
                        }
                        _ => notes.push(format!(
                            "{text}: not applied to rule {} (it may serve these requests and others; the policy-wide setting applies there)",
                            r.name
                        )),
                    }
                }
                if did {
                    touched.push(r.name.clone());
                }
            }
            if let Some(row) = self.row(&sc.src) {
                for n in &touched {
                    super::push_unique(&mut row.rules, n.clone());
                }
            }
            if touched.is_empty() {
                self.unmapped(
                    &sc.src,
                    "not mapped: no imported rule is for the requests this scope matches".into(),
                );
            }
            let mut seen = HashSet::new();
            notes.retain(|n| seen.insert(n.clone()));
            for n in notes {
                self.narrowed(&sc.src, n);
            }
        }
    }
}

impl Conv<'_> {
    /// For a `Defaults!cmnds` scope: before each allow rule that may run
    /// one of `paths` among other commands (`ALL`, a directory holding
    /// it, a list naming it with others), a copy of the rule for that
    /// command alone. The first matching allow rule decides (decide.rs),
    /// so the copy, which the scope covers entirely and which gets its
    /// settings, is what serves the command: exactly sudo's, and the
    /// copy allows nothing the rule did not.
    fn copy_for_commands(&mut self, paths: &[String], copied: &mut HashSet<(String, String)>) {
        let mut i = 0;
        while i < self.items.len() {
            let mut copies: Vec<OutRule> = Vec::new();
            // A rule the scope covers entirely needs no copy.
            if let Item::Rule(r) = &self.items[i]
                && !r.deny
                && !r
                    .commands
                    .iter()
                    .all(|c| paths.iter().any(|p| p == path_of(c)))
            {
                for p in paths {
                    let key = (r.name.clone(), p.clone());
                    let Some(commands) = served_alone(r, p) else {
                        continue;
                    };
                    if !copied.insert(key) {
                        continue;
                    }
                    let mut c = r.clone();
                    c.comment = Some(format!(
                        "# {p} of rule {}: a rule of its own for sudo's Defaults!{p} (the first matching rule decides)",
                        r.name
                    ));
                    let base = p.rsplit('/').next().unwrap_or(p);
                    c.name = format!("{}-{}", r.name, super::slug(base));
                    c.commands = commands;
                    copies.push(c);
                }
            }
            let n = copies.len();
            for (k, mut c) in copies.into_iter().enumerate() {
                c.name = self.unique_name(c.name);
                self.items.insert(i + k, Item::Rule(c));
            }
            i += n + 1;
        }
    }
}

fn path_of(c: &str) -> &str {
    c.split(' ').next().unwrap_or_default()
}

/// The entries of `r` that run `p` (any arguments when `ALL` or a
/// directory holding `p` does), when `r` also runs other commands.
fn served_alone(r: &OutRule, p: &str) -> Option<Vec<String>> {
    let dir = p.rfind('/').map(|i| &p[..=i]);
    let broad = r
        .commands
        .iter()
        .any(|c| c == "ALL" || (path_of(c).ends_with('/') && Some(path_of(c)) == dir));
    if broad {
        return Some(vec![format!("{p} *")]);
    }
    let own: Vec<String> = r
        .commands
        .iter()
        .filter(|c| path_of(c) == p)
        .cloned()
        .collect();
    (!own.is_empty() && own.len() < r.commands.len()).then_some(own)
}

/// How much of rule `r` the scope covers.
fn covers(scope: &Scope, r: &OutRule) -> Cover {
    let (some, every) = match scope {
        Scope::Users(names, groups) => {
            let inu = |u: &String| names.contains(u);
            let ing = |g: &String| groups.contains(g);
            let some = r.users.iter().any(inu)
                || r.groups.iter().any(ing)
                // A listed user may be in the rule's group, a member of a
                // listed group one of its users.
                || (!r.groups.is_empty() && !names.is_empty())
                || (!r.users.is_empty() && !groups.is_empty());
            (some, r.users.iter().all(inu) && r.groups.iter().all(ing))
        }
        Scope::Runas(targets) => {
            let ra = r.run_as.as_deref().unwrap_or_default();
            if targets.iter().any(|t| t == "ALL") {
                (true, true)
            } else {
                let inl = |t: &String| targets.contains(t);
                let some = ra.iter().any(inl)
                    || ra.iter().any(|t| t == "ALL" || t.starts_with('%'))
                    || targets.iter().any(|t| t.starts_with('%'));
                (some, !ra.is_empty() && ra.iter().all(inl))
            }
        }
        Scope::Cmnds(paths) => {
            let path_of = |c: &String| c.split(' ').next().unwrap_or_default().to_string();
            let inl = |c: &String| paths.contains(&path_of(c));
            let broad = |c: &String| c == "ALL" || path_of(c).ends_with('/');
            let some = r.commands.iter().any(|c| inl(c) || broad(c));
            (some, !r.commands.is_empty() && r.commands.iter().all(inl))
        }
    };
    match (every, some) {
        (true, _) => Cover::All,
        (false, true) => Cover::Part,
        (false, false) => Cover::None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Imported, Options, import_str};

    fn imp(text: &str) -> Imported {
        let opts = Options {
            hostname: "bdhost".to_string(),
        };
        import_str(text, "sudoers", &opts).unwrap_or_else(|e| panic!("{e}"))
    }

    fn notes(i: &Imported) -> String {
        i.warnings
            .iter()
            .map(|w| w.message.clone())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn scopes_that_cant_be_mapped_say_why() {
        for (line, why) in [
            (
                "Defaults!/usr/bin/i* env_keep += \"X\"",
                "not a plain path without arguments",
            ),
            (
                "Defaults!ALL env_keep += \"X\"",
                "not a plain path without arguments",
            ),
            (
                "Defaults@otherhost env_keep += \"X\"",
                "does not match bdhost: it does not apply here",
            ),
            (
                "Defaults:ALL env_keep += \"X\"",
                "Defaults:ALL is not mapped",
            ),
            ("Defaults:!bob env_keep += \"X\"", "negation"),
            (
                "Defaults:alice env_keep -= \"TERM\"",
                "only adds to [defaults] env_keep",
            ),
            (
                "Defaults:alice env_keep += \"LD_PRELOAD\"",
                "never passes LD_*",
            ),
            (
                "Defaults:alice secure_path = \"bin:/usr/bin\"",
                "not mapped",
            ),
            (
                "Defaults:alice timestamp_timeout = -1",
                "only 0 to 525600 minutes",
            ),
        ] {
            let i = imp(&format!("{line}\nalice ALL = (root) /usr/bin/id\n"));
            let n = notes(&i);
            assert!(n.contains(why), "{line}: {n}");
            assert!(
                !i.toml.contains("\nenv_keep = [\"X\"]"),
                "{line}: {}",
                i.toml
            );
            assert!(!i.toml.contains("\nsecure_path ="), "{line}: {}", i.toml);
            assert!(
                !i.toml.contains("\ntimestamp_timeout ="),
                "{line}: {}",
                i.toml
            );
        }
    }

    #[test]
    fn a_scope_after_the_rules_applies_too() {
        let i =
            imp("alice ALL = (root) /usr/bin/id\nDefaults:alice env_keep += \"SSH_AUTH_SOCK\"\n");
        assert!(
            i.toml.contains("env_keep = [\"SSH_AUTH_SOCK\"]"),
            "{}",
            i.toml
        );
        assert!(i.warnings.is_empty(), "{}", notes(&i));
        // A User_Alias scope, and a runas scope by uid.
        let i = imp(
            "User_Alias ADMINS = alice\nDefaults:ADMINS timestamp_timeout = 1\nDefaults>#0 secure_path = \"/usr/bin\"\nalice ALL = (#0) /usr/bin/id\n",
        );
        assert!(i.toml.contains("timestamp_timeout = \"60s\""), "{}", i.toml);
        assert!(i.toml.contains("secure_path = \"/usr/bin\""), "{}", i.toml);
    }
}
