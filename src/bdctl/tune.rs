//! `bdctl tune`: recommend the decoy alarm's parameters from the audit
//! log's decoy hits, with when the alarm would have fired under the
//! current and the recommended settings (the logic is in
//! [`crate::incident::tuner`]; docs/incident-response.md).
#![forbid(unsafe_code)]

use super::exit;

/// `bdctl tune [--file LOG] [--write FILE]`.
pub fn tune(file: Option<&std::path::Path>, write: Option<&std::path::Path>) -> i32 {
    use crate::incident::tuner;
    let path = file.unwrap_or(std::path::Path::new(crate::base::paths::AUDIT_FILE));
    let hits = match tuner::decoy_hits(path) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("bdctl: {e}");
            return exit::FAILED;
        }
    };
    let cur = match crate::policy::load::load_policy() {
        Ok(l) => l.policy.incident.settings_or_default(),
        Err(e) => {
            eprintln!("bdctl: {e} (using the default [incident] settings)");
            crate::policy::model::IncidentSettings::default()
        }
    };
    let rec = tuner::recommend(&hits, &cur);
    let show = |what: &str, s: &crate::policy::model::IncidentSettings| {
        let fired = tuner::replay(&hits, s);
        println!(
            "{what}: decoy_floor = {}, decoy_factor = {}, decoy_window = {}s: the alarm would have fired {} times{}",
            s.decoy_floor,
            crate::incident::ppm_text(u64::from(s.decoy_factor_ppm)),
            s.decoy_window,
            fired.len(),
            if fired.is_empty() {
                String::new()
            } else {
                format!(
                    " (windows starting at {})",
                    fired
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
    };
    println!("decoy hits in {}: {}", path.display(), hits.len());
    show("current", &cur);
    show("recommended", &rec);
    println!("trace sampling: not configurable in this build (no recommendation)");
    if let Some(out) = write {
        let text = tuner::dropin(&rec);
        if let Err(e) = std::fs::write(out, text) {
            eprintln!("bdctl: {}: {e}", out.display());
            return exit::FAILED;
        }
        println!("wrote {}", out.display());
    }
    exit::OK
}
