//! The keys of sudo's daily flags (issue 13): `run_as_groups` (`-g`) and
//! `chdir` (`-D`). Refused on deny rules, which never run anything.
#![forbid(unsafe_code)]

use super::*;

/// `edit` of a rule (`bdexec -e`): clean absolute patterns (no `.` or
/// `..`, no `*` alone); refused on deny rules.
pub(super) fn edit_key(
    ctx: &Ctx<'_>,
    name: &str,
    raw: &RawRule,
    action: Action,
) -> Result<Option<Vec<String>>, PolicyError> {
    let Some(list) = &raw.edit else {
        return Ok(None);
    };
    if action == Action::Deny {
        return Err(ctx.err(
            &list.span(),
            format!("deny rule {name:?} must not have `edit` (it never runs anything)"),
        ));
    }
    for s in list.get_ref() {
        if !clean_abs_dir(s.get_ref()) || s.get_ref().ends_with('/') {
            return Err(ctx.err(
                &s.span(),
                format!(
                    "edit {:?} is not a clean absolute file pattern (no '.' or '..')",
                    s.get_ref()
                ),
            ));
        }
    }
    Ok(Some(
        list.get_ref().iter().map(|s| s.get_ref().clone()).collect(),
    ))
}

/// `run_as_groups` and `chdir`, each unset or the list.
pub(super) type DailyKeys = (Option<Vec<String>>, Option<Vec<String>>);

/// `run_as_groups` and `chdir` of a rule, checked.
pub(super) fn rule_keys(
    ctx: &Ctx<'_>,
    name: &str,
    raw: &RawRule,
    action: Action,
) -> Result<DailyKeys, PolicyError> {
    for (key, v) in [("run_as_groups", &raw.run_as_groups), ("chdir", &raw.chdir)] {
        if let (Some(v), Action::Deny) = (v, action) {
            return Err(ctx.err(
                &v.span(),
                format!("deny rule {name:?} must not have `{key}` (it never runs anything)"),
            ));
        }
    }
    let groups = match &raw.run_as_groups {
        None => None,
        Some(list) => {
            for s in list.get_ref() {
                let g = s.get_ref();
                if g != "ALL" {
                    parse_principal(g)
                        .map_err(|m| ctx.err(&s.span(), format!("run_as_groups: {m}")))?;
                }
            }
            if list.get_ref().len() > 1 && list.get_ref().iter().any(|s| s.get_ref() == "ALL") {
                return Err(ctx.err(
                    &list.span(),
                    "run_as_groups \"ALL\" must be the only entry (it already covers every group)",
                ));
            }
            Some(list.get_ref().iter().map(|s| s.get_ref().clone()).collect())
        }
    };
    let chdir = match &raw.chdir {
        None => None,
        Some(list) => {
            for s in list.get_ref() {
                let p = s.get_ref();
                if p != "*" && !clean_abs_dir(p) {
                    return Err(ctx.err(
                        &s.span(),
                        format!("chdir {p:?} is not \"*\" or a clean absolute directory pattern (no '.' or '..')"),
                    ));
                }
            }
            Some(list.get_ref().iter().map(|s| s.get_ref().clone()).collect())
        }
    };
    Ok((groups, chdir))
}
