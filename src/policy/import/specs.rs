//! User specifications to rules: user, host and command lists expanded,
//! allow and deny leaves, their principals and `run_as`.
#![forbid(unsafe_code)]

use super::*;

impl Conv<'_> {
    // ------------------------------------------------------------ lists

    pub(super) fn expand_members(
        &self,
        kind: AliasKind,
        list: &[Member],
        pol: Polarity,
        depth: usize,
        out: &mut Vec<(Polarity, Leaf)>,
    ) -> Result<(), String> {
        if depth > MAX_ALIAS_DEPTH {
            return Err("alias nesting too deep (a cycle?)".to_string());
        }
        for m in list {
            let p = pol.flip(m.negated);
            match &m.kind {
                MemberKind::All => out.push((p, Leaf::All)),
                MemberKind::Alias(a) => match self.aliases.get(&(kind, a.clone())) {
                    Some((AliasBody::Members(inner), _)) => {
                        self.expand_members(kind, inner, p, depth + 1, out)?;
                    }
                    _ => {
                        let why = if self.unknown_aliases.contains(&(kind, a.clone())) {
                            "defined on a line not understood"
                        } else {
                            "not defined"
                        };
                        out.push((p, Leaf::Opaque(format!("{} {a} ({why})", kind.as_str()))));
                    }
                },
                MemberKind::Name(n) => out.push((p, Leaf::Name(n.clone()))),
                MemberKind::Uid(u) => out.push((p, Leaf::Uid(*u))),
                MemberKind::Group(g) => out.push((p, Leaf::Group(g.clone()))),
                MemberKind::Gid(g) => out.push((p, Leaf::Gid(*g))),
                MemberKind::Netgroup(n) => out.push((p, Leaf::Opaque(format!("netgroup +{n}")))),
                MemberKind::NonUnix(n) => {
                    out.push((p, Leaf::Opaque(format!("non-Unix group %:{n}"))));
                }
            }
        }
        Ok(())
    }

    /// Host list against this host: the set of possible outcomes
    /// (sudo: the last matching member decides; `!` flips it).
    pub(super) fn host_outcomes(&self, list: &[Member], depth: usize) -> Outcomes {
        let mut possible = Outcomes::default();
        if depth > MAX_ALIAS_DEPTH {
            possible.allow = true;
            possible.deny = true;
            possible.unspec = true;
            return possible;
        }
        for m in list.iter().rev() {
            let o = match &m.kind {
                MemberKind::All => Outcomes::ALLOW,
                MemberKind::Name(h) => match self.host_name_matches(h) {
                    Some(true) => Outcomes::ALLOW,
                    Some(false) => Outcomes::UNSPEC,
                    None => Outcomes::UNKNOWN,
                },
                MemberKind::Alias(a) => match self.aliases.get(&(AliasKind::Host, a.clone())) {
                    Some((AliasBody::Members(inner), _)) => self.host_outcomes(inner, depth + 1),
                    _ => Outcomes::ANY,
                },
                _ => Outcomes::UNKNOWN,
            };
            let o = if m.negated { o.negate() } else { o };
            possible.allow |= o.allow;
            possible.deny |= o.deny;
            if !o.unspec {
                return possible;
            }
        }
        possible.unspec = true;
        possible
    }

    /// `Some(matches)` for a plain host name, `None` for what can't be
    /// decided here (addresses, networks, wildcards).
    pub(super) fn host_name_matches(&self, h: &str) -> Option<bool> {
        let plain = h
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
        let numeric = h.chars().all(|c| c.is_ascii_digit() || c == '.');
        if !plain || numeric {
            return None;
        }
        let me = self.opts.hostname.to_ascii_lowercase();
        let h = h.to_ascii_lowercase();
        if h.contains('.') {
            Some(h == me)
        } else {
            let short = me.split('.').next().unwrap_or(&me);
            Some(h == short)
        }
    }

    // ------------------------------------------------------------ user specs

    pub(super) fn user_spec(
        &mut self,
        users: &[Member],
        privileges: &[sudoers::Privilege],
        src: &Src,
    ) -> Result<(), ImportError> {
        let line_text = comment_text(&src.text);
        let file = self.file_name(src);
        self.items
            .push(Item::Comment(format!("# {file}:{}: {line_text}", src.line)));
        let mut leaves = Vec::new();
        self.expand_members(AliasKind::User, users, Polarity::Pos, 0, &mut leaves)
            .map_err(|m| refuse(&self.names, src, m))?;
        // Expand every command first: the principals for allow rules are
        // only worked out (with their warnings) when something is allowed.
        let mut expanded = Vec::new();
        for pv in privileges {
            let host = self.host_outcomes(&pv.hosts, 0);
            for spec in &pv.cmnds {
                let mut cl = Vec::new();
                self.expand_cmnd(&spec.item, Polarity::Pos, 0, &mut cl)
                    .map_err(|m| refuse(&self.names, src, m))?;
                for (pol, cmnd) in cl {
                    expanded.push((host, spec, pol, cmnd));
                }
            }
        }
        let allow_who = if expanded.iter().any(|e| e.2 == Polarity::Pos) {
            self.allow_principals(&leaves, src)
        } else {
            Err(String::new())
        };
        let deny_who = deny_principals(&leaves);
        let base = format!(
            "{}-L{}-{}",
            slug(&file),
            src.line,
            users
                .first()
                .map(|m| slug(&member_text(m)))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "user".to_string())
        );
        // (run_as, auth) -> rule; deny run_as -> deny rule.
        let mut allows: Vec<OutRule> = Vec::new();
        let mut denies: Vec<OutRule> = Vec::new();
        let mut needs_args: Vec<OutRule> = Vec::new();
        let mut noted_tags: HashSet<String> = HashSet::new();
        for (host, spec, pol, cmnd) in expanded {
            match pol {
                Polarity::Pos => self.allow_leaf(
                    &allow_who,
                    host,
                    spec,
                    &cmnd,
                    src,
                    &mut allows,
                    &mut needs_args,
                    &mut noted_tags,
                ),
                Polarity::Neg => {
                    self.deny_leaf(&deny_who, host, spec, &cmnd, src, &mut denies)?;
                }
            }
        }
        let total = allows.len() + denies.len() + needs_args.len();
        let mut n = 0;
        for (kind, list) in [("", allows), ("deny", denies), ("needs-args", needs_args)] {
            for mut r in list {
                n += 1;
                let mut name = base.clone();
                if !kind.is_empty() {
                    name.push('-');
                    name.push_str(kind);
                }
                if total > 1 {
                    name = format!("{name}-{n}");
                }
                r.name = self.unique_name(name);
                if let Some(row) = self.row(src) {
                    row.rules.push(r.name.clone());
                }
                self.items.push(Item::Rule(r));
            }
        }
        Ok(())
    }

    pub(super) fn unique_name(&mut self, name: String) -> String {
        let mut candidate = name.clone();
        let mut i = 2;
        while self.used_names.contains(&candidate) {
            candidate = format!("{name}-x{i}");
            i += 1;
        }
        self.used_names.insert(candidate.clone());
        candidate
    }

    /// Users and groups for allow rules: exactly the members, or `None`
    /// (with a warning) when the list can't be expressed without widening.
    pub(super) fn allow_principals(
        &mut self,
        leaves: &[(Polarity, Leaf)],
        src: &Src,
    ) -> Result<(Vec<String>, Vec<String>), String> {
        if leaves.iter().any(|(p, _)| *p == Polarity::Neg) {
            return Err(
                "the user list has a negation ('!'), which Belladonna's users/groups can't express"
                    .to_string(),
            );
        }
        let mut users = Vec::new();
        let mut groups = Vec::new();
        for (_, l) in leaves {
            match l {
                Leaf::All => {
                    return Err(
                        "the user list is ALL, which Belladonna can't express (rules name users or groups)"
                            .to_string(),
                    );
                }
                Leaf::Name(n) => match parse::parse_principal(n) {
                    Ok(_) if !n.starts_with('#') => push_unique(&mut users, n.clone()),
                    _ => self.unmapped(
                        src,
                        format!("user {n:?} is not a valid name here: left out"),
                    ),
                },
                Leaf::Uid(u) => push_unique(&mut users, format!("#{u}")),
                Leaf::Group(g) => match parse::parse_principal(g) {
                    Ok(_) if !g.starts_with('#') => push_unique(&mut groups, g.clone()),
                    _ => self.unmapped(
                        src,
                        format!("group {g:?} is not a valid name here: left out"),
                    ),
                },
                Leaf::Gid(g) => push_unique(&mut groups, format!("#{g}")),
                Leaf::Opaque(what) => {
                    self.unmapped(src, format!("{what} in the user list: left out"));
                }
            }
        }
        if users.is_empty() && groups.is_empty() {
            return Err("no user or group left to map".to_string());
        }
        Ok((users, groups))
    }

    pub(super) fn expand_cmnd(
        &self,
        item: &CmndItem,
        pol: Polarity,
        depth: usize,
        out: &mut Vec<(Polarity, Cmnd)>,
    ) -> Result<(), String> {
        if depth > MAX_ALIAS_DEPTH {
            return Err("Cmnd_Alias nesting too deep (a cycle?)".to_string());
        }
        let p = pol.flip(item.negated);
        match &item.cmnd {
            Cmnd::Alias(a) => match self.aliases.get(&(AliasKind::Cmnd, a.clone())) {
                Some((AliasBody::Cmnds(inner), _)) => {
                    for i in inner {
                        self.expand_cmnd(i, p, depth + 1, out)?;
                    }
                }
                _ => out.push((p, Cmnd::Alias(a.clone()))),
            },
            c => out.push((p, c.clone())),
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn allow_leaf(
        &mut self,
        who: &Result<(Vec<String>, Vec<String>), String>,
        host: Outcomes,
        spec: &CmndSpec,
        cmnd: &Cmnd,
        src: &Src,
        allows: &mut Vec<OutRule>,
        needs_args: &mut Vec<OutRule>,
        noted: &mut HashSet<String>,
    ) {
        let what = cmnd_text(cmnd);
        let skip =
            |c: &mut Self, why: String| c.unmapped(src, format!("{what}: {why}: not imported"));
        let (users, groups) = match who {
            Ok(w) => w.clone(),
            Err(why) => return skip(self, why.clone()),
        };
        if !host.definitely_allow() {
            let why = if host.allow {
                format!(
                    "the host list can't be decided for {} (addresses, netgroups, wildcards)",
                    self.opts.hostname
                )
            } else {
                format!("the host list does not match {}", self.opts.hostname)
            };
            return skip(self, why);
        }
        for (opt, val) in &spec.options {
            let blocking = !matches!(opt.as_str(), "CWD" | "TIMEOUT");
            if blocking {
                return skip(
                    self,
                    format!("option {opt}={val} restricts the command in ways Belladonna can't"),
                );
            }
            if noted.insert(format!("{opt}=")) {
                self.unmapped(src, format!("option {opt}={val} is not mapped (ignored)"));
            }
        }
        for t in &spec.tags {
            // NOEXEC and INTERCEPT stop the command from running others:
            // noexec = true (allow_entry). INTERCEPT would let sudo check
            // each further program; noexec refuses them all (narrower).
            if matches!(t.as_str(), "NOEXEC" | "INTERCEPT") {
                if noted.insert(t.clone()) {
                    let how = if t == "NOEXEC" {
                        "the command may not run further programs"
                    } else {
                        "sudo would check each further program against sudoers; every one is refused"
                    };
                    self.narrowed(src, format!("tag {t}: {how}: {NOEXEC_NOTE}"));
                }
                continue;
            }
            if !matches!(t.as_str(), "NOPASSWD" | "PASSWD" | "EXEC") && noted.insert(t.clone()) {
                self.unmapped(src, format!("tag {t}: is not mapped (ignored)"));
            }
        }
        let (path, args, digest) = match cmnd {
            Cmnd::All => {
                return self.allow_entry(
                    (users, groups),
                    &what,
                    spec,
                    "ALL".to_string(),
                    None,
                    src,
                    allows,
                    needs_args,
                    noted,
                );
            }
            Cmnd::Alias(a) => {
                let why = if self.unknown_aliases.contains(&(AliasKind::Cmnd, a.clone())) {
                    "Cmnd_Alias defined on a line not understood"
                } else {
                    "Cmnd_Alias not defined"
                };
                return skip(self, why.to_string());
            }
            Cmnd::Other(o) => {
                return skip(self, format!("{o} is not a command Belladonna can run"));
            }
            Cmnd::Path {
                path,
                path_glob,
                args,
                digest,
            } => {
                // `/dir/` (sudo: any command directly in it) and `/dir/*`
                // (the same set of files) map to a command directory.
                let dir = match path.strip_suffix('*') {
                    Some(d) if *path_glob && d.ends_with('/') => Some(d),
                    _ if !*path_glob && path.ends_with('/') => Some(path.as_str()),
                    _ => None,
                };
                match dir {
                    Some(d) if !d.contains(['*', '?', '[', '\\']) => {
                        if let Err(m) = cmdline::check_path(d.trim_end_matches('/')) {
                            return skip(self, m);
                        }
                        if !matches!(args, ArgSpec::Any) {
                            return skip(
                                self,
                                "a command directory with fixed arguments is not mapped"
                                    .to_string(),
                            );
                        }
                        return self.allow_entry(
                            (users, groups),
                            &what,
                            spec,
                            format!("{d} *"),
                            None,
                            src,
                            allows,
                            needs_args,
                            noted,
                        );
                    }
                    _ if *path_glob || path.ends_with('/') => {
                        return skip(
                            self,
                            "a wildcard in a command path can't be matched by file identity (only exact paths, `/dir/` and `/dir/*` can): list the commands".to_string(),
                        );
                    }
                    _ => {}
                }
                if let Err(m) = cmdline::check_path(path) {
                    return skip(self, m);
                }
                (path, args, digest)
            }
        };
        if digest.is_some() {
            return skip(
                self,
                "sudoers digests (sha2) can't be checked by Belladonna (blake3 pins only)"
                    .to_string(),
            );
        }
        let p = Path::new(path);
        let (entry, extra_deny) = match args {
            ArgSpec::Any => (cmdline::render_parts(p, &Args::Prefix(Vec::new())), None),
            ArgSpec::Empty => (cmdline::render_parts(p, &Args::None), None),
            ArgSpec::Regex(_) => {
                return skip(
                    self,
                    "regular-expression arguments are not mapped".to_string(),
                );
            }
            ArgSpec::Words(words) => {
                let (last, init) = match words.split_last() {
                    Some(x) => x,
                    None => return skip(self, "empty arguments".to_string()),
                };
                let trailing_star = last.text == "*" && last.glob;
                if trailing_star && init.iter().all(|w| !w.glob) {
                    let head: Vec<String> = init.iter().map(|w| w.text.clone()).collect();
                    let deny = if head.is_empty() {
                        None
                    } else {
                        Some(cmdline::render_parts(p, &Args::Exact(head.clone())))
                    };
                    (cmdline::render_parts(p, &Args::Prefix(head)), deny)
                } else if words.iter().any(|w| w.glob) {
                    return skip(
                        self,
                        "wildcards or escapes in the arguments (other than a trailing ' *') are not mapped"
                            .to_string(),
                    );
                } else {
                    let exact: Vec<String> = words.iter().map(|w| w.text.clone()).collect();
                    (cmdline::render_parts(p, &Args::Exact(exact)), None)
                }
            }
        };
        self.allow_entry(
            (users, groups),
            &what,
            spec,
            entry,
            extra_deny,
            src,
            allows,
            needs_args,
            noted,
        );
    }

    /// Add one mapped command entry to the allow rule for its run_as and
    /// auth (and its needs-args deny, if any).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn allow_entry(
        &mut self,
        (users, groups): (Vec<String>, Vec<String>),
        what: &str,
        spec: &CmndSpec,
        entry: String,
        extra_deny: Option<String>,
        src: &Src,
        allows: &mut Vec<OutRule>,
        needs_args: &mut Vec<OutRule>,
        noted: &mut HashSet<String>,
    ) {
        let skip =
            |c: &mut Self, why: String| c.unmapped(src, format!("{what}: {why}: not imported"));
        let (run_as, run_as_groups) = match self.allow_run_as(spec.runas.as_ref(), src, noted) {
            Ok(r) => r,
            Err(why) => return skip(self, why),
        };
        let auth = if spec.tags.iter().any(|t| t == "NOPASSWD") {
            "none"
        } else {
            "password"
        };
        // NOEXEC/INTERCEPT: noexec = true; EXEC: false (over Defaults noexec).
        let noexec = spec.tags.iter().rev().find_map(|t| match t.as_str() {
            "NOEXEC" | "INTERCEPT" => Some(true),
            "EXEC" => Some(false),
            _ => None,
        });
        // ALL is a rule's only command: a rule of its own.
        let is_all = entry == "ALL";
        let rule = match allows.iter_mut().find(|r| {
            r.run_as.as_ref() == Some(&run_as)
                && r.run_as_groups == run_as_groups
                && r.auth == Some(auth)
                && r.env.noexec_tag == noexec
                && (r.commands == ["ALL"]) == is_all
        }) {
            Some(r) => r,
            None => {
                allows.push(OutRule {
                    name: String::new(),
                    users: users.clone(),
                    groups: groups.clone(),
                    run_as: Some(run_as.clone()),
                    run_as_groups: run_as_groups.clone(),
                    commands: Vec::new(),
                    auth: Some(auth),
                    deny: false,
                    all_callers: false,
                    comment: None,
                    env: Box::new(super::scoped::RuleEnv::with_noexec_tag(noexec)),
                });
                let Some(r) = allows.last_mut() else { return };
                r
            }
        };
        push_unique(&mut rule.commands, entry);
        if let Some(d) = extra_deny {
            let r = match needs_args
                .iter_mut()
                .find(|r| r.run_as.as_ref() == Some(&run_as))
            {
                Some(r) => r,
                None => {
                    needs_args.push(OutRule {
                        name: String::new(),
                        users,
                        groups,
                        run_as: Some(run_as),
                        run_as_groups: None,
                        commands: Vec::new(),
                        auth: None,
                        deny: true,
                        all_callers: false,
                        comment: Some(
                            "# sudo's 'CMD ARGS *' needs at least one argument after ARGS; Belladonna's 'ARGS *' would also allow ARGS alone: denied here"
                                .to_string(),
                        ),
                        env: Box::default(),
                    });
                    let Some(r) = needs_args.last_mut() else {
                        return;
                    };
                    r
                }
            };
            push_unique(&mut r.commands, d);
        }
    }

    pub(super) fn allow_run_as(
        &mut self,
        runas: Option<&Runas>,
        src: &Src,
        noted: &mut HashSet<String>,
    ) -> Result<(Vec<String>, Option<Vec<String>>), String> {
        let Some(r) = runas else {
            return Ok((vec!["root".to_string()], None));
        };
        let users = match &r.users {
            Some(u) if !u.is_empty() => u,
            _ => {
                return Err(
                    "a runas list with groups only (run as yourself with another group) is not mapped"
                        .to_string(),
                );
            }
        };
        let mut leaves = Vec::new();
        self.expand_members(AliasKind::Runas, users, Polarity::Pos, 0, &mut leaves)?;
        if leaves.iter().any(|(p, _)| *p == Polarity::Neg) {
            return Err(
                "the runas list has a negation ('!'), which run_as can't express".to_string(),
            );
        }
        let mut out = Vec::new();
        for (_, l) in &leaves {
            match l {
                Leaf::All => push_unique(&mut out, "ALL".to_string()),
                Leaf::Name(n) => match parse::parse_principal(n) {
                    Ok(_) if !n.starts_with('#') => push_unique(&mut out, n.clone()),
                    _ => self.narrowed(
                        src,
                        format!("runas user {n:?} is not a valid name: left out"),
                    ),
                },
                Leaf::Uid(u) => push_unique(&mut out, format!("#{u}")),
                Leaf::Group(g) => match parse::parse_run_as(&format!("%{g}")) {
                    Ok(_) => push_unique(&mut out, format!("%{g}")),
                    Err(_) => self.narrowed(
                        src,
                        format!("runas %{g:?} is not a valid group name: left out"),
                    ),
                },
                Leaf::Gid(g) => push_unique(&mut out, format!("%#{g}")),
                Leaf::Opaque(w) => self.narrowed(src, format!("runas {w}: left out")),
            }
        }
        if out.is_empty() {
            return Err("no runas user left to map".to_string());
        }
        // ALL covers every other entry (and must stand alone).
        if out.iter().any(|t| t == "ALL") {
            out = vec!["ALL".to_string()];
        }
        // Runas groups (`(user : group)`): the groups `bdexec -g` may name
        // (run_as_groups); ones that can't be written are left out.
        let groups = match r.groups.as_ref().filter(|g| !g.is_empty()) {
            None => None,
            Some(g) => {
                let mut leaves = Vec::new();
                self.expand_members(AliasKind::Runas, g, Polarity::Pos, 0, &mut leaves)?;
                let mut gs = Vec::new();
                for (pol, l) in &leaves {
                    match (pol, l) {
                        (Polarity::Neg, _) => {
                            if noted.insert("runas-groups-neg".to_string()) {
                                self.narrowed(
                                    src,
                                    "a negated runas group can't be written: runas groups not mapped (-g refused)".to_string(),
                                );
                            }
                            gs.clear();
                            break;
                        }
                        (_, Leaf::All) => push_unique(&mut gs, "ALL".to_string()),
                        (_, Leaf::Name(n)) if parse::parse_run_as(&format!("%{n}")).is_ok() => {
                            push_unique(&mut gs, n.clone())
                        }
                        // In a group list `#N` is a gid.
                        (_, Leaf::Gid(g) | Leaf::Uid(g)) => push_unique(&mut gs, format!("#{g}")),
                        (_, Leaf::Name(n) | Leaf::Group(n) | Leaf::Opaque(n)) => self
                            .narrowed(src, format!("runas group {n}: can't be written: left out")),
                    }
                }
                if gs.iter().any(|g| g == "ALL") {
                    gs = vec!["ALL".to_string()];
                }
                (!gs.is_empty()).then_some(gs)
            }
        };
        Ok((out, groups))
    }

    pub(super) fn deny_leaf(
        &mut self,
        who: &DenyWho,
        host: Outcomes,
        spec: &CmndSpec,
        cmnd: &Cmnd,
        src: &Src,
        denies: &mut Vec<OutRule>,
    ) -> Result<(), ImportError> {
        let what = cmnd_text(cmnd);
        if !host.allow {
            // Never applies on this host: nothing to deny here.
            self.warn(
                src,
                format!(
                    "!{what}: the host list does not match {}: this negation does not apply here",
                    self.opts.hostname
                ),
            );
            return Ok(());
        }
        let specs: Vec<String> = match cmnd {
            Cmnd::All => {
                return Err(refuse(
                    &self.names,
                    src,
                    "!ALL (deny every command) can't be expressed (deny rules name commands); refusing rather than dropping it",
                ));
            }
            Cmnd::Alias(a) => {
                return Err(refuse(
                    &self.names,
                    src,
                    format!(
                        "negated Cmnd_Alias {a} is not defined or not understood; refusing rather than dropping a deny"
                    ),
                ));
            }
            Cmnd::Other(o) => {
                if o == "sudoedit" || o == "list" {
                    // No imported rule can allow these: nothing to deny.
                    self.warn(
                        src,
                        format!("!{o}: Belladonna has no {o}, so no imported rule allows it; nothing to deny"),
                    );
                    return Ok(());
                }
                return Err(refuse(
                    &self.names,
                    src,
                    format!(
                        "negated {o:?} (a regular expression) can't be expressed; refusing rather than dropping a deny"
                    ),
                ));
            }
            Cmnd::Path {
                path,
                path_glob,
                args,
                digest: _,
            } => {
                if *path_glob || path.ends_with('/') {
                    return Err(refuse(
                        &self.names,
                        src,
                        format!(
                            "negated {path:?} (a wildcard or directory) can't be expressed; refusing rather than dropping a deny"
                        ),
                    ));
                }
                if let Err(m) = cmdline::check_path(path) {
                    return Err(refuse(&self.names, src, m));
                }
                let p = Path::new(path);
                match args {
                    ArgSpec::Any => vec![cmdline::render_parts(p, &Args::Prefix(Vec::new()))],
                    ArgSpec::Empty => vec![cmdline::render_parts(p, &Args::None)],
                    ArgSpec::Words(w)
                        if !w.iter().any(|w| w.glob) && w.len() <= MAX_SPLIT_WORDS =>
                    {
                        // sudo compares the arguments joined with spaces:
                        // deny every way of splitting them into words.
                        let words: Vec<String> = w.iter().map(|w| w.text.clone()).collect();
                        splits(&words)
                            .into_iter()
                            .map(|v| cmdline::render_parts(p, &Args::Exact(v)))
                            .collect()
                    }
                    _ => {
                        self.narrowed(
                            src,
                            format!("!{what}: arguments with patterns can't be expressed: denied with any arguments"),
                        );
                        vec![cmdline::render_parts(p, &Args::Prefix(Vec::new()))]
                    }
                }
            }
        };
        if !host.definitely_allow() {
            self.narrowed(
                src,
                format!(
                    "!{what}: the host list can't be decided for {}: denied anyway",
                    self.opts.hostname
                ),
            );
        }
        let run_as = deny_run_as(self, spec.runas.as_ref());
        let (users, groups, all_callers) = match who {
            DenyWho::Some(u, g) => (u.clone(), g.clone(), false),
            DenyWho::Everyone(why) => {
                if !self
                    .warnings
                    .iter()
                    .any(|w| w.line == src.line && w.message.contains("denied for every"))
                {
                    self.narrowed(
                        src,
                        format!("the user list ({why}) can't be expressed: the negations of this line are denied for every user and group of the imported policy"),
                    );
                }
                (Vec::new(), Vec::new(), true)
            }
        };
        let rule = match denies.iter_mut().find(|r| r.run_as == run_as) {
            Some(r) => r,
            None => {
                denies.push(OutRule {
                    name: String::new(),
                    users,
                    groups,
                    run_as,
                    run_as_groups: None,
                    commands: Vec::new(),
                    auth: None,
                    deny: true,
                    all_callers,
                    comment: None,
                    env: Box::default(),
                });
                match denies.last_mut() {
                    Some(r) => r,
                    None => return Ok(()),
                }
            }
        };
        for s in specs {
            push_unique(&mut rule.commands, s);
        }
        Ok(())
    }
}
