//! Small helpers of the conversion: outcomes of a list, deny principals,
//! splitting, the text of settings, members and commands.
#![forbid(unsafe_code)]

use super::*;

// ---------------------------------------------------------------- helpers

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Outcomes {
    pub(super) allow: bool,
    pub(super) deny: bool,
    pub(super) unspec: bool,
}

impl Outcomes {
    pub(super) const ALLOW: Outcomes = Outcomes {
        allow: true,
        deny: false,
        unspec: false,
    };
    pub(super) const UNSPEC: Outcomes = Outcomes {
        allow: false,
        deny: false,
        unspec: true,
    };
    pub(super) const UNKNOWN: Outcomes = Outcomes {
        allow: true,
        deny: false,
        unspec: true,
    };
    pub(super) const ANY: Outcomes = Outcomes {
        allow: true,
        deny: true,
        unspec: true,
    };
    pub(super) fn negate(self) -> Outcomes {
        Outcomes {
            allow: self.deny,
            deny: self.allow,
            unspec: self.unspec,
        }
    }
    pub(super) fn definitely_allow(self) -> bool {
        self.allow && !self.deny && !self.unspec
    }
}

pub(super) enum DenyWho {
    Some(Vec<String>, Vec<String>),
    /// Can't enumerate: deny for every caller the policy allows anything.
    Everyone(String),
}

/// Principals for a deny rule: a superset of the members (polarity
/// ignored), or everyone.
pub(super) fn deny_principals(leaves: &[(Polarity, Leaf)]) -> DenyWho {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    for (_, l) in leaves {
        match l {
            Leaf::All => return DenyWho::Everyone("ALL".to_string()),
            Leaf::Opaque(w) => return DenyWho::Everyone(w.clone()),
            Leaf::Name(n) => match parse::parse_principal(n) {
                Ok(_) if !n.starts_with('#') => push_unique(&mut users, n.clone()),
                _ => return DenyWho::Everyone(format!("user {n:?}")),
            },
            Leaf::Uid(u) => push_unique(&mut users, format!("#{u}")),
            Leaf::Group(g) => match parse::parse_principal(g) {
                Ok(_) if !g.starts_with('#') => push_unique(&mut groups, g.clone()),
                _ => return DenyWho::Everyone(format!("group {g:?}")),
            },
            Leaf::Gid(g) => push_unique(&mut groups, format!("#{g}")),
        }
    }
    if users.is_empty() && groups.is_empty() {
        return DenyWho::Everyone("empty".to_string());
    }
    DenyWho::Some(users, groups)
}

/// Targets for a deny rule: a superset of the runas members; `None` =
/// every target.
pub(super) fn deny_run_as(c: &Conv<'_>, runas: Option<&Runas>) -> Option<Vec<String>> {
    let Some(r) = runas else {
        return Some(vec!["root".to_string()]);
    };
    if r.groups.is_some() {
        return None;
    }
    let users = r.users.as_ref().filter(|u| !u.is_empty())?;
    let mut leaves = Vec::new();
    c.expand_members(AliasKind::Runas, users, Polarity::Pos, 0, &mut leaves)
        .ok()?;
    let mut out = Vec::new();
    for (_, l) in leaves {
        match l {
            Leaf::Name(n) if parse::parse_principal(&n).is_ok() && !n.starts_with('#') => {
                push_unique(&mut out, n);
            }
            Leaf::Uid(u) => push_unique(&mut out, format!("#{u}")),
            _ => return None,
        }
    }
    Some(out)
}

/// Every way of grouping `words` into arguments joined by single spaces.
pub(super) fn splits(words: &[String]) -> Vec<Vec<String>> {
    let Some((first, rest)) = words.split_first() else {
        return vec![Vec::new()];
    };
    let mut out = Vec::new();
    for tail in splits(rest) {
        // `first` as its own argument...
        let mut a = vec![first.clone()];
        a.extend(tail.iter().cloned());
        out.push(a);
        // ...or joined with the next one.
        if let Some((h, t)) = tail.split_first() {
            let mut b = vec![format!("{first} {h}")];
            b.extend(t.iter().cloned());
            out.push(b);
        }
    }
    out
}

/// A `secure_path` value the policy accepts: clean absolute directories.
pub(super) fn clean_path_list(v: &str) -> bool {
    !v.is_empty()
        && v.split(':').all(|d| {
            d.starts_with('/') && !d.contains('\0') && !d.split('/').any(|c| c == "." || c == "..")
        })
}

pub(super) fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

/// Why a per-user, per-host, per-runas or per-command Defaults setting
/// is not mapped, and what applies instead.
pub(super) fn scoped_reason(s: &Setting) -> &'static str {
    match s.name.as_str() {
        "env_keep" | "env_check" => {
            "Belladonna's env_keep is policy-wide: these variables are not kept (narrower)"
        }
        "secure_path" => {
            "Belladonna's secure_path is policy-wide and only resolves bare names; rules match the file, so this widens nothing"
        }
        "timestamp_timeout" => {
            "Belladonna's timestamp_timeout is policy-wide; the policy-wide one applies"
        }
        "use_pty" | "requiretty" | "noexec" | "intercept" => {
            "only the plain flag (`use_pty`, `!use_pty`, ...) is mapped"
        }
        "log_input" | "log_output" | "logfile" | "syslog" | "log_host" | "log_year"
        | "mail_badpass" => {
            "Belladonna records every request in its own audit log; sudo's log settings have no equivalent"
        }
        _ => "per-user/host/runas/command Defaults of this setting have no Belladonna equivalent",
    }
}

pub(super) fn setting_text(s: &Setting) -> String {
    let mut t = String::new();
    if s.negated {
        t.push('!');
    }
    t.push_str(&s.name);
    if let Some((op, v)) = &s.op {
        t.push_str(&format!(" {op} {v:?}"));
    }
    t
}

pub(super) fn member_text(m: &Member) -> String {
    match &m.kind {
        MemberKind::All => "all".to_string(),
        MemberKind::Alias(a) => a.clone(),
        MemberKind::Name(n) => n.clone(),
        MemberKind::Uid(u) => format!("uid{u}"),
        MemberKind::Group(g) => g.clone(),
        MemberKind::Gid(g) => format!("gid{g}"),
        MemberKind::Netgroup(n) => n.clone(),
        MemberKind::NonUnix(n) => n.clone(),
    }
}

pub(super) fn cmnd_text(c: &Cmnd) -> String {
    match c {
        Cmnd::All => "ALL".to_string(),
        Cmnd::Alias(a) => a.clone(),
        Cmnd::Other(o) => o.clone(),
        Cmnd::Path { path, args, .. } => match args {
            ArgSpec::Any => path.clone(),
            ArgSpec::Empty => format!("{path} \"\""),
            ArgSpec::Regex(r) => format!("{path} {r}"),
            ArgSpec::Words(w) => {
                let words: Vec<&str> = w.iter().map(|w| w.text.as_str()).collect();
                format!("{path} {}", words.join(" "))
            }
        },
    }
}

/// Why a mapped noexec is narrower than sudo's.
pub(super) const NOEXEC_NOTE: &str = "mapped to noexec = true; its seccomp filter needs no_new_privs, so a root target keeps only the rule's caps (none), where sudo's keeps full root";
