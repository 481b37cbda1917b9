//! Sandbox profiles compared: a rule's or the defaults' profile, Landlock
//! and seccomp, field by field.
#![forbid(unsafe_code)]

use super::*;

// --------------------------------------------------------------- sandbox

pub(super) type Found = (ChangeKind, String, Effect);

/// Confinement differences between two effective profiles (`None` = no
/// profile at all).
pub(super) fn compare_profiles(
    a: Option<&SandboxProfile>,
    b: Option<&SandboxProfile>,
    out: &mut Vec<Found>,
) {
    match (a, b) {
        (None, None) => {}
        (Some(_), None) => out.push((
            ChangeKind::Sandbox,
            "sandbox removed".into(),
            Effect::Widening,
        )),
        (None, Some(_)) => out.push((
            ChangeKind::Sandbox,
            "sandbox added".into(),
            Effect::Narrowing,
        )),
        (Some(x), Some(y)) => {
            compare_landlock(x.landlock.as_ref(), y.landlock.as_ref(), out);
            compare_seccomp(x.seccomp.as_ref(), y.seccomp.as_ref(), out);
        }
    }
}

pub(super) fn paths_changes(key: &str, a: &[PathBuf], b: &[PathBuf], out: &mut Vec<Found>) {
    let (sa, sb): (BTreeSet<&PathBuf>, BTreeSet<&PathBuf>) =
        (a.iter().collect(), b.iter().collect());
    for p in sb.difference(&sa) {
        out.push((
            ChangeKind::Landlock,
            format!("{key} {} added", p.display()),
            Effect::Widening,
        ));
    }
    for p in sa.difference(&sb) {
        out.push((
            ChangeKind::Landlock,
            format!("{key} {} removed", p.display()),
            Effect::Narrowing,
        ));
    }
}

pub(super) fn ports_changes(
    key: &str,
    a: &Option<Vec<u16>>,
    b: &Option<Vec<u16>>,
    out: &mut Vec<Found>,
) {
    match (a, b) {
        (None, None) => {}
        (Some(_), None) => out.push((
            ChangeKind::Landlock,
            format!("{key} no longer restricted"),
            Effect::Widening,
        )),
        (None, Some(v)) => out.push((
            ChangeKind::Landlock,
            format!("{key} restricted to {v:?}"),
            Effect::Narrowing,
        )),
        (Some(x), Some(y)) => {
            let (sx, sy): (BTreeSet<&u16>, BTreeSet<&u16>) =
                (x.iter().collect(), y.iter().collect());
            for p in sy.difference(&sx) {
                out.push((
                    ChangeKind::Landlock,
                    format!("{key} port {p} added"),
                    Effect::Widening,
                ));
            }
            for p in sx.difference(&sy) {
                out.push((
                    ChangeKind::Landlock,
                    format!("{key} port {p} removed"),
                    Effect::Narrowing,
                ));
            }
        }
    }
}

pub(super) fn compare_landlock(
    a: Option<&LandlockSpec>,
    b: Option<&LandlockSpec>,
    out: &mut Vec<Found>,
) {
    let (x, y) = match (a, b) {
        (None, None) => return,
        (Some(_), None) => {
            out.push((
                ChangeKind::Landlock,
                "landlock removed (file system and network unrestricted)".into(),
                Effect::Widening,
            ));
            return;
        }
        (None, Some(_)) => {
            out.push((
                ChangeKind::Landlock,
                "landlock added".into(),
                Effect::Narrowing,
            ));
            return;
        }
        (Some(x), Some(y)) => (x, y),
    };
    paths_changes("read", &x.read, &y.read, out);
    paths_changes("write", &x.write, &y.write, out);
    paths_changes("exec", &x.exec, &y.exec, out);
    ports_changes("bind_tcp", &x.bind_tcp, &y.bind_tcp, out);
    ports_changes("connect_tcp", &x.connect_tcp, &y.connect_tcp, out);
    // Scopes in effect, for a root target and for any other (an omitted
    // `scope` means both for root, none for others).
    let (xr, yr, xo, yo) = (
        x.scopes_for(0),
        y.scopes_for(0),
        x.scopes_for(1),
        y.scopes_for(1),
    );
    for (key, pr, qr, po, qo) in [
        (
            "abstract unix socket",
            xr.abstract_unix,
            yr.abstract_unix,
            xo.abstract_unix,
            yo.abstract_unix,
        ),
        ("signal", xr.signals, yr.signals, xo.signals, yo.signals),
    ] {
        let whom = match (pr != qr, po != qo) {
            (true, true) => "",
            (true, false) => " for root targets",
            (false, true) => " for non-root targets",
            (false, false) => continue,
        };
        let added = if pr != qr { qr } else { qo };
        out.push(if added {
            (
                ChangeKind::Landlock,
                format!("{key} scoping added{whom}"),
                Effect::Narrowing,
            )
        } else {
            (
                ChangeKind::Landlock,
                format!("{key} scoping removed{whom}"),
                Effect::Widening,
            )
        });
    }
    if x.min_abi != y.min_abi {
        let show = |m: Option<u32>| m.map_or("best effort".to_string(), |v| v.to_string());
        let e = by_rank(
            x.min_abi.unwrap_or(0).min(255) as u8,
            y.min_abi.unwrap_or(0).min(255) as u8,
        );
        out.push((
            ChangeKind::Landlock,
            format!("min_abi {} -> {}", show(x.min_abi), show(y.min_abi)),
            e,
        ));
    }
}

pub(super) fn seccomp_rank(a: SeccompAction) -> u8 {
    match a {
        SeccompAction::Log => 0,
        SeccompAction::Errno => 1,
        SeccompAction::Kill => 2,
    }
}

pub(super) fn seccomp_action_str(a: SeccompAction) -> &'static str {
    match a {
        SeccompAction::Log => "log",
        SeccompAction::Errno => "errno",
        SeccompAction::Kill => "kill",
    }
}

pub(super) fn compare_seccomp(
    a: Option<&SeccompSpec>,
    b: Option<&SeccompSpec>,
    out: &mut Vec<Found>,
) {
    // No [seccomp] table: the baseline denials with action errno.
    let base = SeccompSpec {
        allow: Vec::new(),
        deny: Vec::new(),
        action: SeccompAction::Errno,
    };
    let x = a.unwrap_or(&base);
    let y = b.unwrap_or(&base);
    match (x.allow.is_empty(), y.allow.is_empty()) {
        (true, true) => {}
        (true, false) => out.push((
            ChangeKind::Seccomp,
            format!("allow-list introduced ({})", y.allow.join(",")),
            Effect::Narrowing,
        )),
        (false, true) => out.push((
            ChangeKind::Seccomp,
            "allow-list removed (every syscall not denied allowed)".into(),
            Effect::Widening,
        )),
        (false, false) => {
            for (d, e) in set_changes(&x.allow, &y.allow) {
                let d = d
                    .replace(" granted", " allowed")
                    .replace(" revoked", " no longer allowed");
                out.push((ChangeKind::Seccomp, format!("allow {d}"), e));
            }
        }
    }
    let (sx, sy): (BTreeSet<&String>, BTreeSet<&String>) =
        (x.deny.iter().collect(), y.deny.iter().collect());
    for s in sy.difference(&sx) {
        out.push((
            ChangeKind::Seccomp,
            format!("deny {s} added"),
            Effect::Narrowing,
        ));
    }
    for s in sx.difference(&sy) {
        out.push((
            ChangeKind::Seccomp,
            format!("deny {s} removed"),
            Effect::Widening,
        ));
    }
    if x.action != y.action {
        out.push((
            ChangeKind::Seccomp,
            format!(
                "action {} -> {}",
                seccomp_action_str(x.action),
                seccomp_action_str(y.action)
            ),
            by_rank(seccomp_rank(x.action), seccomp_rank(y.action)),
        ));
    }
}

pub(super) fn profiles(a: &Policy, b: &Policy, out: &mut Out) {
    let pa: BTreeMap<&str, &SandboxProfile> =
        a.sandboxes.iter().map(|s| (s.name.as_str(), s)).collect();
    let pb: BTreeMap<&str, &SandboxProfile> =
        b.sandboxes.iter().map(|s| (s.name.as_str(), s)).collect();
    for name in pb.keys() {
        if !pa.contains_key(name) {
            out.push(
                ChangeKind::Sandbox,
                format!("sandbox {name}"),
                "profile added".into(),
                Effect::Neutral,
            );
        }
    }
    for name in pa.keys() {
        if !pb.contains_key(name) {
            out.push(
                ChangeKind::Sandbox,
                format!("sandbox {name}"),
                "profile removed".into(),
                Effect::Neutral,
            );
        }
    }
    for (name, x) in &pa {
        let Some(y) = pb.get(name) else { continue };
        let mut tmp = Vec::new();
        compare_profiles(Some(x), Some(y), &mut tmp);
        for (kind, d, e) in tmp {
            out.push(kind, format!("sandbox {name}"), d, e);
        }
    }
}
