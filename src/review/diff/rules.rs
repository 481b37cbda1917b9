//! Rule-level comparison (layer 2): deny triples, rules by name, approval
//! and rate requirements, approvers, setenv.
#![forbid(unsafe_code)]

use super::*;

// ------------------------------------------------------------ deny rules

pub(super) fn deny_set(p: &Policy) -> BTreeMap<(String, String, String), (Who, PathBuf, String)> {
    // key: (who label, command, target) -> (who, path, rule name)
    let mut m = BTreeMap::new();
    for r in p.rules.iter().filter(|r| r.is_deny()) {
        let whos = r
            .users
            .iter()
            .map(|u| Who::User(u.clone()))
            .chain(r.groups.iter().map(|g| Who::Group(g.clone())));
        for who in whos {
            for c in &r.commands {
                let targets: Vec<String> = if r.run_as.is_empty() {
                    vec!["any target".into()]
                } else {
                    r.run_as.iter().map(|t| t.to_string()).collect()
                };
                for t in targets {
                    let cmd = crate::policy::cmdline::render(c);
                    m.entry((who.label(), cmd, t)).or_insert((
                        who.clone(),
                        c.path.clone(),
                        r.name.clone(),
                    ));
                }
            }
        }
    }
    m
}

pub(super) fn deny_triples(a: &Policy, b: &Policy, out: &mut Out) {
    let (da, db) = (deny_set(a), deny_set(b));
    for (k, (who, path, rule)) in &db {
        if !da.contains_key(k) {
            out.add(Change {
                kind: ChangeKind::Deny,
                subject: k.0.clone(),
                detail: format!("{} as {} denied (rule {rule})", k.1, k.2),
                effect: Effect::Narrowing,
                who: Some(who.clone()),
                path: Some(path.clone()),
            });
        }
    }
    for (k, (who, path, rule)) in &da {
        if !db.contains_key(k) {
            out.add(Change {
                kind: ChangeKind::Deny,
                subject: k.0.clone(),
                detail: format!("{} as {} no longer denied (was rule {rule})", k.1, k.2),
                effect: Effect::Widening,
                who: Some(who.clone()),
                path: Some(path.clone()),
            });
        }
    }
}

// ------------------------------------------------------------ rule level

pub(super) fn rules(a: &Policy, b: &Policy, out: &mut Out) {
    let ra: BTreeMap<&str, &Rule> = a.rules.iter().map(|r| (r.name.as_str(), r)).collect();
    let rb: BTreeMap<&str, &Rule> = b.rules.iter().map(|r| (r.name.as_str(), r)).collect();
    for (name, r) in &rb {
        if !ra.contains_key(name) {
            out.push(
                ChangeKind::Rule,
                format!("rule {name}"),
                format!("added ({})", r.action.as_str()),
                Effect::Neutral,
            );
        }
    }
    for (name, r) in &ra {
        if !rb.contains_key(name) {
            out.push(
                ChangeKind::Rule,
                format!("rule {name}"),
                format!("removed ({})", r.action.as_str()),
                Effect::Neutral,
            );
        }
    }
    for (name, x) in &ra {
        let Some(y) = rb.get(name) else { continue };
        let subject = format!("rule {name}");
        if x.action != y.action {
            let e = if y.action == Action::Deny {
                Effect::Narrowing
            } else {
                Effect::Widening
            };
            out.push(
                ChangeKind::Action,
                subject.clone(),
                format!("{} -> {}", x.action.as_str(), y.action.as_str()),
                e,
            );
            continue;
        }
        if x.is_deny() {
            continue;
        }
        if x.auth != y.auth {
            out.push(
                ChangeKind::Auth,
                subject.clone(),
                format!("{} -> {}", x.auth.as_str(), y.auth.as_str()),
                by_rank(auth_rank(x.auth), auth_rank(y.auth)),
            );
        }
        for (d, e) in set_changes(&x.caps, &y.caps) {
            out.push(ChangeKind::Caps, subject.clone(), d, e);
        }
        if x.sandbox != y.sandbox {
            let na = x.sandbox.as_ref().or(a.defaults.sandbox.as_ref());
            let nb = y.sandbox.as_ref().or(b.defaults.sandbox.as_ref());
            if na != nb {
                sandbox_switch(
                    &subject,
                    na,
                    nb,
                    effective_profile(a, x),
                    effective_profile(b, y),
                    out,
                );
            }
        }
        setenv_changes(&subject, &x.setenv, &y.setenv, out);
        rule_env_changes(&subject, x, a, y, b, out);
        // -g groups and -D directories (issue 13): an entry added widens.
        let none = Vec::new();
        for (key, vx, vy) in [
            ("run_as_groups", &x.run_as_groups, &y.run_as_groups),
            ("chdir", &x.chdir, &y.chdir),
            ("edit", &x.edit, &y.edit),
        ] {
            let (vx, vy) = (vx.as_ref().unwrap_or(&none), vy.as_ref().unwrap_or(&none));
            for (d, e) in set_changes(vx, vy) {
                let kind = match e {
                    Effect::Narrowing => ChangeKind::Revoke,
                    _ => ChangeKind::Grant,
                };
                out.push(kind, subject.clone(), format!("{key} {d}"), e);
            }
        }
        caller_changes(&subject, &x.caller, &y.caller, out);
        let mut tmp = Vec::new();
        compare_approval(x, a, y, b, &mut tmp);
        compare_rate(x.rate, y.rate, &mut tmp);
        for (kind, d, e) in tmp {
            out.push(kind, subject.clone(), d, e);
        }
        // Digest pins of entries present in both.
        for cy in &y.commands {
            let Some(cx) = x
                .commands
                .iter()
                .find(|c| c.path == cy.path && c.args == cy.args)
            else {
                continue;
            };
            let cmd = render_parts(&cy.path, &cy.args);
            let (d, e) = match (cx.digest, cy.digest) {
                (Some(_), None) => ("removed", Effect::Widening),
                (None, Some(_)) => ("added", Effect::Narrowing),
                (Some(p), Some(q)) if p != q => ("changed", Effect::Neutral),
                _ => continue,
            };
            out.push(
                ChangeKind::Digest,
                subject.clone(),
                format!("{cmd}: digest pin {d}"),
                e,
            );
        }
    }
}

// ------------------------------------------------- approval and rate

/// Effect of going from `a` to `b` where a larger value is stricter.
pub(super) fn stricter<T: Ord>(a: T, b: T) -> Effect {
    match b.cmp(&a) {
        std::cmp::Ordering::Less => Effect::Widening,
        std::cmp::Ordering::Greater => Effect::Narrowing,
        std::cmp::Ordering::Equal => Effect::Neutral,
    }
}

/// A duration as the policy writes it: `0`, `90s`, `5m`, `1h`.
pub(super) fn show_duration(secs: u64) -> String {
    match secs {
        0 => "0".into(),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

pub(super) fn show_rate(r: &Rate) -> String {
    format!("{}/{}", r.count, show_duration(r.per_secs))
}

/// An approval rule's allowed approvers, `any` for every approver.
pub(super) fn show_approvers(list: &[String]) -> String {
    if list.is_empty() {
        "any".into()
    } else {
        list.join(",")
    }
}

/// The approver names that may approve for a rule: its `approvers`, or
/// (empty list) every approver of the policy.
pub(super) fn allowed_approvers<'p>(list: &'p [String], p: &'p Policy) -> BTreeSet<&'p str> {
    if list.is_empty() {
        p.approvers.iter().map(|a| a.name.as_str()).collect()
    } else {
        list.iter().map(String::as_str).collect()
    }
}

/// Approval requirements of two `auth = "approval"` rules (`x` in `a`,
/// `y` in `b`). Nothing when either rule is not an approval rule: the
/// `auth` line reports that switch.
pub(super) fn compare_approval(x: &Rule, a: &Policy, y: &Rule, b: &Policy, out: &mut Vec<Found>) {
    if x.auth != Auth::Approval || y.auth != Auth::Approval {
        return;
    }
    let (qx, qy) = (x.approval_req(), y.approval_req());
    if qx.approvals != qy.approvals {
        out.push((
            ChangeKind::Approval,
            format!("approvals {} -> {}", qx.approvals, qy.approvals),
            stricter(qx.approvals, qy.approvals),
        ));
    }
    // Both "any": the `approver` lines of the policy say who was added or
    // removed.
    if qx.approvers != qy.approvers {
        let (sx, sy) = (
            allowed_approvers(&qx.approvers, a),
            allowed_approvers(&qy.approvers, b),
        );
        let head = format!(
            "approvers {} -> {}",
            show_approvers(&qx.approvers),
            show_approvers(&qy.approvers)
        );
        for n in sy.difference(&sx) {
            out.push((
                ChangeKind::Approval,
                format!("{head}: approver {n} allowed"),
                Effect::Widening,
            ));
        }
        for n in sx.difference(&sy) {
            out.push((
                ChangeKind::Approval,
                format!("{head}: approver {n} no longer allowed"),
                Effect::Narrowing,
            ));
        }
        if sx == sy {
            out.push((
                ChangeKind::Approval,
                format!("{head} (same approvers)"),
                Effect::Neutral,
            ));
        }
    }
    if qx.nonce_namespace != qy.nonce_namespace {
        out.push((
            ChangeKind::Approval,
            format!(
                "nonce_namespace {} -> {} (tokens must name the new namespace; separate replay state)",
                qx.nonce_namespace, qy.nonce_namespace
            ),
            Effect::Neutral,
        ));
    }
}

/// `rate` limits: removed or more calls per time widens, added or fewer
/// narrows. The limit is a token bucket (capacity `count`, refilled
/// `count` per `per_secs`): the sustained rate and the burst are compared
/// separately when they move in opposite directions.
pub(super) fn compare_rate(x: Option<Rate>, y: Option<Rate>, out: &mut Vec<Found>) {
    let (p, q) = match (x, y) {
        (None, None) => return,
        (Some(p), None) => {
            out.push((
                ChangeKind::Rate,
                format!("limit {} removed", show_rate(&p)),
                Effect::Widening,
            ));
            return;
        }
        (None, Some(q)) => {
            out.push((
                ChangeKind::Rate,
                format!("limit {} added", show_rate(&q)),
                Effect::Narrowing,
            ));
            return;
        }
        (Some(p), Some(q)) if p == q => return,
        (Some(p), Some(q)) => (p, q),
    };
    let head = format!("limit {} -> {}", show_rate(&p), show_rate(&q));
    // Fewer calls per second is stricter: compare p.count/p.per_secs with
    // q.count/q.per_secs without division (at most 2^32 * 86400: no
    // overflow in u64).
    let sustained = stricter(
        u64::from(q.count) * p.per_secs,
        u64::from(p.count) * q.per_secs,
    );
    // A larger bucket lets more calls through at once: looser.
    let burst = stricter(q.count, p.count);
    match (sustained, burst) {
        (Effect::Neutral, e) => out.push((
            ChangeKind::Rate,
            format!(
                "{head} (same sustained rate, burst {} -> {})",
                p.count, q.count
            ),
            e,
        )),
        (s, b) if b == Effect::Neutral || b == s => out.push((ChangeKind::Rate, head, s)),
        (s, b) => {
            let word = if s == Effect::Widening {
                "raised"
            } else {
                "lowered"
            };
            out.push((
                ChangeKind::Rate,
                format!("{head}: sustained rate {word}"),
                s,
            ));
            out.push((
                ChangeKind::Rate,
                format!("{head}: burst {} -> {}", p.count, q.count),
                b,
            ));
        }
    }
}

/// The policy's `[approvers.NAME]`: a new approver or a changed key is a
/// key that can now sign (widening); a removed approver or a raised epoch
/// refuses tokens (narrowing); a lowered epoch accepts tokens of the
/// older epoch again (widening).
pub(super) fn approvers(a: &Policy, b: &Policy, out: &mut Out) {
    use base64::Engine as _;
    let show_key = |k: &[u8; 32]| {
        format!(
            "ed25519:{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k)
        )
    };
    let xa: BTreeMap<&str, &crate::policy::model::Approver> =
        a.approvers.iter().map(|x| (x.name.as_str(), x)).collect();
    let xb: BTreeMap<&str, &crate::policy::model::Approver> =
        b.approvers.iter().map(|x| (x.name.as_str(), x)).collect();
    for (name, y) in &xb {
        let subject = format!("approver {name}");
        let Some(x) = xa.get(name) else {
            out.push(
                ChangeKind::Approver,
                subject,
                format!("added (key {}, epoch {})", show_key(&y.key), y.epoch),
                Effect::Widening,
            );
            continue;
        };
        if x.key != y.key {
            out.push(
                ChangeKind::Approver,
                subject.clone(),
                format!("key {} -> {}", show_key(&x.key), show_key(&y.key)),
                Effect::Widening,
            );
        }
        if x.epoch != y.epoch {
            let why = if y.epoch > x.epoch {
                "tokens of the older epoch refused"
            } else {
                "tokens of the older epoch accepted again"
            };
            out.push(
                ChangeKind::Approver,
                subject,
                format!("epoch {} -> {} ({why})", x.epoch, y.epoch),
                stricter(x.epoch, y.epoch),
            );
        }
    }
    for (name, x) in &xa {
        if !xb.contains_key(name) {
            out.push(
                ChangeKind::Approver,
                format!("approver {name}"),
                format!("removed (key {}, epoch {})", show_key(&x.key), x.epoch),
                Effect::Narrowing,
            );
        }
    }
}

pub(super) fn sandbox_switch(
    subject: &str,
    na: Option<&String>,
    nb: Option<&String>,
    pa: Option<&SandboxProfile>,
    pb: Option<&SandboxProfile>,
    out: &mut Out,
) {
    let name = |n: Option<&String>| n.map_or("none".to_string(), |s| s.clone());
    let head = format!("profile {} -> {}", name(na), name(nb));
    let mut tmp = Vec::new();
    compare_profiles(pa, pb, &mut tmp);
    if tmp.is_empty() {
        out.push(
            ChangeKind::Sandbox,
            subject.to_string(),
            format!("{head} (same confinement)"),
            Effect::Neutral,
        );
    }
    for (kind, d, e) in tmp {
        out.push(kind, subject.to_string(), format!("{head}: {d}"), e);
    }
}

pub(super) fn effective_profile<'p>(p: &'p Policy, r: &Rule) -> Option<&'p SandboxProfile> {
    let name = r.sandbox.as_ref().or(p.defaults.sandbox.as_ref())?;
    p.sandboxes.iter().find(|s| &s.name == name)
}

/// Environment names whose value can change what a command runs or
/// loads: setting one is a widening.
pub fn is_sensitive_env(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "PATH",
        "IFS",
        "ENV",
        "BASH_ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "PROMPT_COMMAND",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONINSPECT",
        "PERL5LIB",
        "PERL5OPT",
        "PERLLIB",
        "RUBYLIB",
        "RUBYOPT",
        "NODE_OPTIONS",
        "NODE_PATH",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "CLASSPATH",
        "LUA_PATH",
        "LUA_CPATH",
        "GCONV_PATH",
        "GLIBC_TUNABLES",
        "HOSTALIASES",
        "LOCALDOMAIN",
        "RES_OPTIONS",
        "NLSPATH",
        "EDITOR",
        "VISUAL",
        "PAGER",
        "SYSTEMD_EDITOR",
        "SYSTEMD_PAGER",
        "LESSOPEN",
        "LESSCLOSE",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_EXEC_PATH",
        "GIT_CONFIG",
        "SSH_ASKPASS",
        "HOME",
        "TMPDIR",
    ];
    name.starts_with("LD_")
        || name.starts_with("BASH_FUNC_")
        || name.starts_with("MALLOC_")
        || EXACT.contains(&name)
}

pub(super) fn setenv_changes(
    subject: &str,
    a: &[(String, String)],
    b: &[(String, String)],
    out: &mut Out,
) {
    let ma: BTreeMap<&str, &str> = a.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mb: BTreeMap<&str, &str> = b.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let sens = |k: &str, e: Effect| {
        if is_sensitive_env(k) {
            e
        } else {
            Effect::Neutral
        }
    };
    for (k, v) in &mb {
        match ma.get(k) {
            None => out.push(
                ChangeKind::Setenv,
                subject.to_string(),
                format!("{k}={v:?} set"),
                sens(k, Effect::Widening),
            ),
            Some(old) if old != v => out.push(
                ChangeKind::Setenv,
                subject.to_string(),
                format!("{k}={old:?} -> {v:?}"),
                sens(k, Effect::Widening),
            ),
            Some(_) => {}
        }
    }
    for k in ma.keys() {
        if !mb.contains_key(k) {
            out.push(
                ChangeKind::Setenv,
                subject.to_string(),
                format!("{k} no longer set"),
                sens(k, Effect::Narrowing),
            );
        }
    }
}
