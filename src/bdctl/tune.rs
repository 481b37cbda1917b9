//! `bdctl tune`: recommend the decoy alarm's parameters from the audit
//! log's decoy hits, with when the alarm would have fired under the
//! current and the recommended settings, and the trace sampling rate
//! that keeps the busiest minute within a budget (the logic is in
//! [`crate::incident::tuner`]; docs/incident-response.md).
#![forbid(unsafe_code)]

use super::exit;

/// `bdctl tune [--file LOG] [--trace-budget N] [--write FILE]`.
pub fn tune(
    file: Option<&std::path::Path>,
    trace_budget: u64,
    write: Option<&std::path::Path>,
) -> i32 {
    use crate::incident::tuner;
    let path = file.unwrap_or(std::path::Path::new(crate::base::paths::AUDIT_FILE));
    let hits = match tuner::decoy_hits(path) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("bdctl: {e}");
            return exit::FAILED;
        }
    };
    let (cur, cur_ppm) = match crate::policy::load::load_policy() {
        Ok(l) => (
            l.policy.incident.settings_or_default(),
            l.policy.trace_sample_ppm(),
        ),
        Err(e) => {
            eprintln!("bdctl: {e} (using the default [incident] settings)");
            (
                crate::policy::model::IncidentSettings::default(),
                crate::policy::model::DEFAULT_SAMPLE_PPM,
            )
        }
    };
    let peak = match tuner::busiest_minute(path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("bdctl: {e}");
            return exit::FAILED;
        }
    };
    let rec_ppm = tuner::recommend_sampling(peak, trace_budget);
    let mut rec = tuner::recommend(&hits, &cur);
    rec.trace_sample_ppm = Some(rec_ppm);
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
    let traces = |ppm: u32| u64::from(ppm) * peak / 1_000_000;
    println!(
        "trace sampling: busiest minute {peak} calls; current trace_sample_rate = {:.3}: {} traces in that minute; recommended {:.3}: {} (budget {trace_budget} per minute)",
        f64::from(cur_ppm) / 1e6,
        traces(cur_ppm),
        f64::from(rec_ppm) / 1e6,
        traces(rec_ppm),
    );
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
