//! The semantic probes: synthetic callers ask both policies, through the
//! decision engine itself, who may run what as whom (layer 1 of the diff).
#![forbid(unsafe_code)]

use super::*;

// ------------------------------------------------------------------ probes

/// The extra argument of an instance: invalid UTF-8, so no policy
/// argument can ever equal it.
pub(super) const EXTRA: &[u8] = &[0xff];

/// Each distinct path its own identity.
pub(super) struct SynIds(HashMap<PathBuf, FileId>);

impl FileIds for SynIds {
    fn id_of(&self, path: &Path) -> Option<FileId> {
        self.0.get(&strip_slash(path)).copied()
    }

    /// Every path of a probe is a plain file in a safe directory.
    fn dir_entry(&self, dir: &Path, name: &std::ffi::OsStr) -> Option<FileId> {
        self.id_of(&strip_slash(dir).join(name))
    }
}

/// A directory entry's path without its trailing '/' (`/` stays).
pub(super) fn strip_slash(p: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let b = p.as_os_str().as_bytes();
    match b.strip_suffix(b"/") {
        Some(s) if !s.is_empty() => PathBuf::from(std::ffi::OsStr::from_bytes(s)),
        _ => p.to_path_buf(),
    }
}

/// The probe path standing for "any command no rule names" (`ALL`).
pub(super) const ANY_COMMAND: &str = "/~any-command";

/// The probe path standing for "any command in directory `dir`" (one no
/// rule names).
pub(super) fn any_in(dir: &Path) -> PathBuf {
    strip_slash(dir).join("~any-command")
}

/// The paths a command entry makes the probes ask for.
pub(super) fn probe_path(c: &crate::policy::model::CommandSpec) -> PathBuf {
    use crate::policy::model::CommandKind;
    match c.kind {
        CommandKind::File => c.path.clone(),
        CommandKind::Dir => any_in(&c.path),
        CommandKind::All => PathBuf::from(ANY_COMMAND),
    }
}

/// How a probe path reads in a change line.
pub(super) fn path_label(path: &Path) -> Option<String> {
    if path == Path::new(ANY_COMMAND) {
        return Some("ALL (any command)".into());
    }
    let (dir, name) = split_name(path)?;
    (name == "~any-command").then(|| format!("any command in {}/", dir.display()))
}

/// Ids and names no principal of either policy uses.
pub(super) struct Synthetic {
    pub(super) id: u32,
    pub(super) name: String,
}

pub(super) fn synthetic(a: &Policy, b: &Policy) -> Synthetic {
    let mut ids = HashSet::new();
    let mut names = HashSet::new();
    for r in a.rules.iter().chain(&b.rules) {
        for p in r.users.iter().chain(&r.groups).chain(&r.run_as) {
            match p {
                Principal::Id(i) | Principal::GroupId(i) => {
                    ids.insert(*i);
                }
                Principal::Name(n) | Principal::GroupName(n) => {
                    names.insert(n.as_str());
                }
                Principal::All => {}
            }
        }
    }
    let mut id = u32::MAX - 1;
    while ids.contains(&id) {
        id -= 1;
    }
    let mut name = String::from("~probe");
    let mut n = 0u64;
    while names.contains(name.as_str()) {
        n += 1;
        name = format!("~probe{n}");
    }
    Synthetic { id, name }
}

pub(super) fn caller_for(who: &Who, syn: &Synthetic) -> Caller {
    let mut c = Caller {
        uid: syn.id,
        gid: syn.id,
        name: Some(syn.name.clone()),
        gids: vec![syn.id],
        group_names: Vec::new(),
    };
    match who {
        Who::User(Principal::Name(n)) => c.name = Some(n.clone()),
        Who::User(Principal::Id(i)) => c.uid = *i,
        Who::Group(Principal::Name(n)) => c.group_names = vec![n.clone()],
        Who::Group(Principal::Id(i)) => {
            c.gid = *i;
            c.gids = vec![*i];
        }
        // Never in `users` or `groups` (the parser refuses them).
        Who::User(Principal::All | Principal::GroupName(_) | Principal::GroupId(_))
        | Who::Group(Principal::All | Principal::GroupName(_) | Principal::GroupId(_)) => {}
    }
    c
}

pub(super) fn rule_has(r: &Rule, who: &Who) -> bool {
    match who {
        Who::User(p) => r.users.contains(p),
        Who::Group(p) => r.groups.contains(p),
    }
}

/// A probe target: a name and/or a uid (the other part synthetic).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct TargetKey {
    pub(super) name: Option<String>,
    pub(super) uid: Option<u32>,
    /// A member of this group (`run_as = ["%g"]`), otherwise of none.
    pub(super) group: Option<Principal>,
}

impl TargetKey {
    pub(super) fn target(&self, syn: &Synthetic) -> Target {
        let uid = self.uid.unwrap_or(syn.id);
        let (gids, group_names) = match &self.group {
            Some(Principal::GroupName(g)) => (vec![uid], vec![g.clone()]),
            Some(Principal::GroupId(g)) => (vec![uid, *g], Vec::new()),
            _ => (vec![uid], Vec::new()),
        };
        Target {
            uid,
            gid: uid,
            name: self.name.clone().unwrap_or_else(|| syn.name.clone()),
            gids,
            group_names,
        }
    }

    pub(super) fn label(&self) -> String {
        if let Some(g) = &self.group {
            return format!("a member of {g}");
        }
        match (&self.name, self.uid) {
            (Some(n), Some(u)) => format!("{n}(#{u})"),
            (Some(n), None) => n.clone(),
            (None, Some(u)) => format!("#{u}"),
            (None, None) => "any other account".into(),
        }
    }

    pub(super) fn is_pair(&self) -> bool {
        self.name.is_some() && self.uid.is_some()
    }
}

/// What a decision amounts to, for comparing A with B.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome<'p> {
    Allow(&'p Rule),
    Deny(Option<&'p Rule>, crate::decide::DenyReason),
}

impl<'p> Outcome<'p> {
    pub(super) fn of(d: Decision<'p>) -> Self {
        match d {
            Decision::Allow { rule, .. } => Outcome::Allow(rule),
            Decision::Deny { rule, reason } => Outcome::Deny(rule, reason),
        }
    }

    /// Comparable summary: allowed by which rule name with which auth.
    pub(super) fn sig(&self) -> (bool, Option<&'p str>, Option<Auth>) {
        match self {
            Outcome::Allow(r) => (true, Some(r.name.as_str()), Some(r.auth)),
            Outcome::Deny(..) => (false, None, None),
        }
    }
}

pub(super) fn render_instance(path: &Path, args: &[Vec<u8>]) -> String {
    let extra = args.last().is_some_and(|a| a.as_slice() == EXTRA);
    let words: Vec<String> = args
        .iter()
        .filter(|a| a.as_slice() != EXTRA)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let spec = if words.is_empty() {
        Args::None
    } else {
        Args::Exact(words)
    };
    let mut s = render_parts(path, &spec);
    if extra {
        s.push_str(" <more-args>");
    }
    s
}

pub(super) fn auth_rank(a: Auth) -> u8 {
    match a {
        Auth::None => 0,
        Auth::Password => 1,
        Auth::Approval => 2,
    }
}

/// Effect of going from `a` to `b` where a higher rank is stricter.
pub(super) fn by_rank(a: u8, b: u8) -> Effect {
    match b.cmp(&a) {
        std::cmp::Ordering::Less => Effect::Widening,
        std::cmp::Ordering::Greater => Effect::Narrowing,
        std::cmp::Ordering::Equal => Effect::Neutral,
    }
}

pub(super) fn probes(a: &Policy, b: &Policy, out: &mut Out) {
    let syn = synthetic(a, b);
    // Every principal, with the rules naming it (sub-policies in order:
    // the synthetic caller matches exactly these rules).
    let mut whos: Vec<Who> = Vec::new();
    let mut seen = HashSet::new();
    for r in a.rules.iter().chain(&b.rules) {
        for p in &r.users {
            let w = Who::User(p.clone());
            if seen.insert(w.clone()) {
                whos.push(w);
            }
        }
        for p in &r.groups {
            let w = Who::Group(p.clone());
            if seen.insert(w.clone()) {
                whos.push(w);
            }
        }
    }
    // Path identities, and their directories' (allow rules compare the
    // directory and base name too: with one identity per path string that
    // adds nothing, but the engine needs them to match at all).
    let mut ids = HashMap::new();
    for r in a.rules.iter().chain(&b.rules) {
        for c in &r.commands {
            // A file entry's own path; for ALL and directories the probe
            // path standing for "any command" (there).
            let pp = probe_path(c);
            let n = ids.len() as u64;
            ids.entry(pp.clone())
                .or_insert(FileId { dev: 0, ino: n + 1 });
            if let Some((dir, _)) = split_name(&pp) {
                let n = ids.len() as u64;
                ids.entry(dir.to_path_buf())
                    .or_insert(FileId { dev: 0, ino: n + 1 });
            }
        }
    }
    let files = SynIds(ids);
    // Index rules by principal once (a 10,000-rule policy stays linear).
    let index = |p: &Policy| {
        let mut m: HashMap<Who, Vec<usize>> = HashMap::new();
        for (i, r) in p.rules.iter().enumerate() {
            for u in &r.users {
                m.entry(Who::User(u.clone())).or_default().push(i);
            }
            for g in &r.groups {
                m.entry(Who::Group(g.clone())).or_default().push(i);
            }
        }
        m
    };
    let (ia, ib) = (index(a), index(b));
    let empty = Vec::new();
    // An empty policy to fill with each principal's rules (built by
    // clearing a clone, so that fields added to the model need no change
    // here; the decision reads only the rules).
    let mut base = a.clone();
    base.rules = Vec::new();
    base.sandboxes = Vec::new();
    for who in &whos {
        let sub = |p: &Policy, ix: &HashMap<Who, Vec<usize>>| {
            let mut s = base.clone();
            s.rules = ix
                .get(who)
                .unwrap_or(&empty)
                .iter()
                .filter_map(|&i| p.rules.get(i))
                .filter(|r| rule_has(r, who))
                .map(|r| {
                    // Origins cleared: a moved but unchanged rule compares
                    // equal.
                    let mut r = r.clone();
                    r.origin = crate::policy::model::Origin {
                        file: PathBuf::new(),
                        line: 0,
                        col: 0,
                    };
                    r
                })
                .collect();
            s
        };
        let (pa, pb) = (sub(a, &ia), sub(b, &ib));
        if pa.rules == pb.rules {
            continue;
        }
        probe_principal(who, &pa, &pb, a, b, &syn, &files, out);
    }
}

/// The rules of `p` that name `path` in a command.
pub(super) fn rules_with_path<'p>(p: &'p Policy, path: &Path) -> Vec<&'p Rule> {
    p.rules
        .iter()
        .filter(|r| r.commands.iter().any(|c| entry_covers(c, path)))
        .collect()
}

/// Whether a command entry can match the probe path: a file entry its own
/// path, ALL every path, a directory every path directly in it.
pub(super) fn entry_covers(c: &crate::policy::model::CommandSpec, path: &Path) -> bool {
    use crate::policy::model::CommandKind;
    match c.kind {
        CommandKind::File => c.path == path,
        CommandKind::All => true,
        CommandKind::Dir => {
            split_name(path).map(|(d, _)| d) == Some(strip_slash(&c.path).as_path())
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn probe_principal(
    who: &Who,
    pa: &Policy,
    pb: &Policy,
    full_a: &Policy,
    full_b: &Policy,
    syn: &Synthetic,
    files: &SynIds,
    out: &mut Out,
) {
    let paths: BTreeSet<PathBuf> = pa
        .rules
        .iter()
        .chain(&pb.rules)
        .flat_map(|r| r.commands.iter().map(probe_path))
        .collect();
    let caller = caller_for(who, syn);
    // Each path separately: only the rules naming it can decide a request
    // for it, and a path whose rules are the same in A and B (for this
    // principal) cannot change.
    for path in &paths {
        let path = path.as_path();
        let (ra, rb) = (rules_with_path(pa, path), rules_with_path(pb, path));
        if ra == rb {
            continue;
        }
        let Some(cmd) = Invoked::named(path, files) else {
            continue;
        };
        let mut qa = pa.clone();
        qa.rules = ra.into_iter().cloned().collect();
        let mut qb = pb.clone();
        qb.rules = rb.into_iter().cloned().collect();
        let (qa, qb) = (&qa, &qb);
        // Argument instances and targets.
        let mut argsets: BTreeSet<Vec<Vec<u8>>> = BTreeSet::new();
        argsets.insert(Vec::new());
        let mut names = BTreeSet::new();
        let mut uids = BTreeSet::new();
        let mut groups: Vec<Principal> = Vec::new();
        let mut anyone = false;
        for r in qa.rules.iter().chain(&qb.rules) {
            for c in r.commands.iter().filter(|c| entry_covers(c, path)) {
                let v = match &c.args {
                    Args::None => continue,
                    Args::Exact(v) | Args::Prefix(v) => v,
                };
                let base: Vec<Vec<u8>> = v.iter().map(|s| s.as_bytes().to_vec()).collect();
                let mut more = base.clone();
                more.push(EXTRA.to_vec());
                argsets.insert(base);
                argsets.insert(more);
            }
            for t in &r.run_as {
                match t {
                    Principal::Name(n) => {
                        names.insert(n.clone());
                    }
                    Principal::Id(i) => {
                        uids.insert(*i);
                    }
                    Principal::All => anyone = true,
                    g @ (Principal::GroupName(_) | Principal::GroupId(_)) => {
                        anyone = true;
                        if !groups.contains(g) {
                            groups.push(g.clone());
                        }
                    }
                }
            }
        }
        let mut targets: Vec<TargetKey> = Vec::new();
        for n in &names {
            targets.push(TargetKey {
                name: Some(n.clone()),
                uid: None,
                group: None,
            });
        }
        for u in &uids {
            targets.push(TargetKey {
                name: None,
                uid: Some(*u),
                group: None,
            });
        }
        for n in &names {
            for u in &uids {
                targets.push(TargetKey {
                    name: Some(n.clone()),
                    uid: Some(*u),
                    group: None,
                });
            }
        }
        // `ALL` and group targets: an account no rule names, alone and as
        // a member of each group named.
        if anyone {
            targets.push(TargetKey {
                name: None,
                uid: None,
                group: None,
            });
            for g in groups {
                targets.push(TargetKey {
                    name: None,
                    uid: None,
                    group: Some(g),
                });
            }
        }
        let targets: Vec<(TargetKey, Target)> = targets
            .into_iter()
            .map(|k| {
                let t = k.target(syn);
                (k, t)
            })
            .collect();
        for args in &argsets {
            let mut singles: HashMap<&TargetKey, (Outcome<'_>, Outcome<'_>)> = HashMap::new();
            for (tk, t) in &targets {
                let req = Request {
                    caller: &caller,
                    target: t,
                    command: cmd,
                    args,
                };
                let oa = Outcome::of(decide(qa, &req, files));
                let ob = Outcome::of(decide(qb, &req, files));
                if tk.is_pair() {
                    // A pair adds information only when it differs from
                    // both of its halves.
                    let same_as = |k: TargetKey| {
                        singles
                            .get(&k)
                            .is_some_and(|(x, y)| x.sig() == oa.sig() && y.sig() == ob.sig())
                    };
                    if same_as(TargetKey {
                        name: tk.name.clone(),
                        uid: None,
                        group: None,
                    }) || same_as(TargetKey {
                        name: None,
                        uid: tk.uid,
                        group: None,
                    }) {
                        continue;
                    }
                } else {
                    singles.insert(tk, (oa.clone(), ob.clone()));
                }
                report_probe(who, path, args, tk, &oa, &ob, full_a, full_b, out);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn report_probe(
    who: &Who,
    path: &Path,
    args: &[Vec<u8>],
    tk: &TargetKey,
    oa: &Outcome<'_>,
    ob: &Outcome<'_>,
    a: &Policy,
    b: &Policy,
    out: &mut Out,
) {
    let shown = match path_label(path) {
        Some(l) if args.is_empty() => l,
        Some(l) => format!("{l} with arguments"),
        None => render_instance(path, args),
    };
    let what = format!("{shown} as {}", tk.label());
    let mut add = |kind, detail: String, effect| {
        out.add(Change {
            kind,
            subject: who.label(),
            detail,
            effect,
            who: Some(who.clone()),
            path: Some(path.to_path_buf()),
        })
    };
    match (oa, ob) {
        (Outcome::Deny(..), Outcome::Allow(rb)) => add(
            ChangeKind::Grant,
            format!("{what} (rule {}, auth {})", rb.name, rb.auth.as_str()),
            Effect::Widening,
        ),
        (Outcome::Allow(ra), Outcome::Deny(dr, reason)) => {
            let why = match (dr, reason) {
                (Some(r), crate::decide::DenyReason::DenyRule) => {
                    format!("denied by rule {}", r.name)
                }
                (_, crate::decide::DenyReason::TargetNotAllowed) => {
                    "target not allowed".to_string()
                }
                _ => "no rule allows it".to_string(),
            };
            add(
                ChangeKind::Revoke,
                format!("{what} (was rule {}; now {why})", ra.name),
                Effect::Narrowing,
            )
        }
        (Outcome::Allow(ra), Outcome::Allow(rb)) if ra.name != rb.name => {
            // The same rule in both: the rule-level lines report it.
            let via = format!("{what} (rule {} -> {})", ra.name, rb.name);
            let e = by_rank(auth_rank(ra.auth), auth_rank(rb.auth));
            if e != Effect::Neutral {
                add(
                    ChangeKind::Auth,
                    format!("{via}: {} -> {}", ra.auth.as_str(), rb.auth.as_str()),
                    e,
                );
            }
            for (cap, e) in set_changes(&ra.caps, &rb.caps) {
                add(ChangeKind::Caps, format!("{via}: {cap}"), e);
            }
            let mut tmp = Vec::new();
            compare_profiles(effective_profile(a, ra), effective_profile(b, rb), &mut tmp);
            compare_approval(ra, a, rb, b, &mut tmp);
            compare_rate(ra.rate, rb.rate, &mut tmp);
            for (kind, d, e) in tmp {
                add(kind, format!("{via}: {d}"), e);
            }
        }
        _ => {}
    }
}

/// Items added (widening) and removed (narrowing), as `+x` / `-x` text.
pub(super) fn set_changes(a: &[String], b: &[String]) -> Vec<(String, Effect)> {
    let (sa, sb): (BTreeSet<&String>, BTreeSet<&String>) = (a.iter().collect(), b.iter().collect());
    let mut v = Vec::new();
    for x in sb.difference(&sa) {
        v.push((format!("{x} granted"), Effect::Widening));
    }
    for x in sa.difference(&sb) {
        v.push((format!("{x} revoked"), Effect::Narrowing));
    }
    v
}
