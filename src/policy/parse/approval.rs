//! Durations, rates, approver keys and the approval requirements of a rule.
#![forbid(unsafe_code)]

use super::*;

// ---------------------------------------------------------------- approval

/// Longest duration accepted anywhere in the policy (`timestamp_timeout`,
/// a `rate` period): one day.
pub const MAX_DURATION_SECS: u64 = 86_400;

/// Parse a duration: `"0"`, or a decimal number followed by `s`, `m` or
/// `h` (`"90s"`, `"5m"`, `"1h"`), at most one day.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    if s == "0" {
        return Ok(0);
    }
    let (num, unit) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1u64),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        _ => {
            return Err(format!(
                "duration {s:?} must be a number with a unit s, m or h (like \"5m\"), or \"0\""
            ));
        }
    };
    if num.is_empty() || num.len() > 6 || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "duration {s:?} must be a number with a unit s, m or h (like \"5m\"), or \"0\""
        ));
    }
    match num.parse::<u64>().ok().and_then(|n| n.checked_mul(unit)) {
        Some(v) if v <= MAX_DURATION_SECS => Ok(v),
        _ => Err(format!("duration {s:?} is longer than one day (24h)")),
    }
}

/// Parse `rate = "N/DURATION"` (`"10/1m"`): N >= 1 calls per a non-zero
/// duration of at most one day.
pub fn parse_rate(s: &str) -> Result<Rate, String> {
    let bad = || {
        format!("rate {s:?} must be \"N/DURATION\", like \"10/1m\" (N >= 1, DURATION 1s to 24h)")
    };
    let Some((n, d)) = s.split_once('/') else {
        return Err(bad());
    };
    if n.is_empty() || n.len() > 9 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let count = n.parse::<u32>().map_err(|_| bad())?;
    let per_secs = parse_duration(d).map_err(|_| bad())?;
    if count == 0 || per_secs == 0 {
        return Err(bad());
    }
    Ok(Rate { count, per_secs })
}

/// Parse an approver public key `ed25519:<base64url of 32 bytes>`
/// (unpadded, as `bdctl key` writes it).
/// The key must be a valid, non-weak (not small-order) Ed25519 point.
pub fn parse_public_key(s: &str) -> Result<[u8; 32], String> {
    use base64::Engine as _;
    let Some(b64) = s.strip_prefix("ed25519:") else {
        return Err("key must be \"ed25519:\" followed by the base64url public key".to_string());
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| "key is not valid base64url after \"ed25519:\"".to_string())?;
    let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
        format!(
            "key has {} bytes; an Ed25519 public key has 32",
            bytes.len()
        )
    })?;
    match ed25519_dalek::VerifyingKey::from_bytes(&key) {
        Ok(k) if !k.is_weak() => Ok(key),
        Ok(_) => Err("key is a weak (small-order) Ed25519 point".to_string()),
        Err(_) => Err("key is not a valid Ed25519 public key".to_string()),
    }
}

pub(super) fn approver(
    ctx: &Ctx<'_>,
    name: &SStr,
    raw: &Spanned<RawApprover>,
) -> Result<Approver, PolicyError> {
    let n = name.get_ref();
    if !is_approver_name(n) {
        return Err(ctx.err(
            &name.span(),
            format!("approver name {n:?} must be 1 to 64 of [a-z0-9_.-], starting with a letter or digit"),
        ));
    }
    let r = raw.get_ref();
    let key = match &r.key {
        Some(k) => parse_public_key(k.get_ref())
            .map_err(|m| ctx.err(&k.span(), format!("approver {n:?}: {m}")))?,
        None => {
            return Err(ctx.err(
                &raw.span(),
                format!("approver {n:?} has no `key` (required)"),
            ));
        }
    };
    let epoch = match &r.epoch {
        Some(e) => u64::try_from(*e.get_ref()).map_err(|_| {
            ctx.err(
                &e.span(),
                format!("approver {n:?}: epoch {} must be 0 or more", e.get_ref()),
            )
        })?,
        None => {
            return Err(ctx.err(
                &raw.span(),
                format!("approver {n:?} has no `epoch` (required)"),
            ));
        }
    };
    Ok(Approver {
        name: n.clone(),
        key,
        epoch,
        origin: ctx.origin(&name.span()),
    })
}

/// The approval keys of a rule. `None` when they are all defaults.
pub(super) fn approval(
    ctx: &Ctx<'_>,
    name: &str,
    raw: &RawRule,
    auth: Auth,
    action: Action,
) -> Result<Option<Approval>, PolicyError> {
    let keys: [(&str, Option<Range<usize>>); 3] = [
        ("approvals", raw.approvals.as_ref().map(|v| v.span())),
        ("approvers", raw.approvers.as_ref().map(|v| v.span())),
        (
            "nonce_namespace",
            raw.nonce_namespace.as_ref().map(|v| v.span()),
        ),
    ];
    if auth != Auth::Approval || action == Action::Deny {
        if let Some((key, Some(at))) = keys.iter().find(|(_, s)| s.is_some()) {
            let why = if action == Action::Deny {
                format!("deny rule {name:?} must not have `{key}` (it never runs anything)")
            } else {
                format!("rule {name:?}: `{key}` needs auth = \"approval\"")
            };
            return Err(ctx.err(at, why));
        }
        return Ok(None);
    }
    let mut out = Approval::default();
    if let Some(a) = &raw.approvals {
        out.approvals = match u32::try_from(*a.get_ref()) {
            Ok(v) if (1..=32).contains(&v) => v,
            _ => {
                return Err(ctx.err(
                    &a.span(),
                    format!("rule {name:?}: approvals {} must be 1 to 32", a.get_ref()),
                ));
            }
        };
    }
    if let Some(list) = &raw.approvers {
        let mut names = Vec::new();
        for n in list.get_ref() {
            if !is_approver_name(n.get_ref()) {
                return Err(ctx.err(
                    &n.span(),
                    format!("approver name {:?} must be 1 to 64 of [a-z0-9_.-], starting with a letter or digit", n.get_ref()),
                ));
            }
            names.push(n.get_ref().clone());
        }
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Err(ctx.err(
                &list.span(),
                format!("rule {name:?}: approvers is empty (omit it to allow every approver)"),
            ));
        }
        if names.len() < out.approvals as usize {
            let at = raw.approvals.as_ref().map_or(list.span(), |a| a.span());
            return Err(ctx.err(
                &at,
                format!(
                    "rule {name:?}: approvals = {} but only {} distinct approvers are allowed, so it could never be satisfied",
                    out.approvals,
                    names.len()
                ),
            ));
        }
        out.approvers = names;
    }
    if let Some(ns) = &raw.nonce_namespace {
        if !is_namespace(ns.get_ref()) {
            return Err(ctx.err(
                &ns.span(),
                format!(
                    "nonce_namespace {:?} must match [a-z0-9_-]{{1,64}}",
                    ns.get_ref()
                ),
            ));
        }
        out.nonce_namespace = ns.get_ref().clone();
    }
    Ok(if out == Approval::default() {
        None
    } else {
        Some(out)
    })
}
