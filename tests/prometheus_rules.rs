//! The Prometheus SLO rules of packaging/prometheus/ (docs/slo.md):
//! `promtool check rules` accepts them, `promtool test rules` passes their
//! unit tests (slo_test.yml: a healthy host, a fast burn that pages, a
//! slow burn that only opens a ticket), and every metric they read is one
//! `bdctl metrics` exports (src/telemetry/metrics.rs), so a renamed metric
//! cannot leave the alerts silently reading nothing.
//!
//! promtool comes with the Debian package `prometheus` (`make
//! test-observability` installs it and sets BELLADONNA_REQUIRE_OBSERVABILITY=1,
//! which turns its absence into a failure); without it the promtool tests
//! print SKIPPED.

mod common;
use common::loud;
use std::path::{Path, PathBuf};
use std::process::Command;

const RULES: &str = "belladonna-slo.rules.yml";
const UNIT_TESTS: &str = "slo_test.yml";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/prometheus")
}

/// promtool's path, or None after a loud SKIPPED line.
fn promtool(test: &str) -> Option<&'static str> {
    let p = "promtool";
    let found = Command::new(p)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(p);
    }
    assert!(
        std::env::var_os("BELLADONNA_REQUIRE_OBSERVABILITY").is_none(),
        "promtool missing (Debian package prometheus: make test-observability)"
    );
    loud(&format!(
        "SKIPPED (needs promtool, Debian package prometheus: make test-observability): {test}"
    ));
    None
}

fn run_promtool(args: &[&str]) -> String {
    let p = "promtool";
    let o = Command::new(p)
        .args(args)
        .current_dir(dir())
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// `promtool ARGS` in packaging/prometheus/ says SUCCESS.
fn promtool_passes(test: &str, args: &[&str]) {
    if promtool(test).is_none() {
        return;
    }
    let out = run_promtool(args);
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn rules_check() {
    promtool_passes("rules_check", &["check", "rules", RULES]);
}

#[test]
fn rules_unit_tests() {
    promtool_passes("rules_unit_tests", &["test", "rules", UNIT_TESTS]);
}

/// promtool really fails a wrong expectation (the test above can fail):
/// the same unit tests against rules whose fast-burn thresholds are ten
/// times higher must report the missing page.
#[test]
fn rules_unit_tests_catch_a_broken_rule() {
    if promtool("rules_unit_tests_catch_a_broken_rule").is_none() {
        return;
    }
    let scratch = std::env::temp_dir().join(format!("bd-prom-rules-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let rules = std::fs::read_to_string(dir().join(RULES)).expect("read rules");
    let broken = rules
        .replace("(14.4 * 0.01)", "(144 * 0.01)")
        .replace("(6 * 0.01)", "(60 * 0.01)");
    assert_ne!(broken, rules, "the thresholds moved: update this test");
    std::fs::write(scratch.join(RULES), broken).expect("write rules");
    std::fs::copy(dir().join(UNIT_TESTS), scratch.join(UNIT_TESTS)).expect("copy tests");
    let o = Command::new("promtool")
        .args(["test", "rules", UNIT_TESTS])
        .current_dir(&scratch)
        .output()
        .expect("run promtool");
    let _ = std::fs::remove_dir_all(&scratch);
    let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "a broken rule passed:\n{out}");
    assert!(
        out.contains("BelladonnaDecisionLatencyBudgetBurnFast"),
        "{out}"
    );
}

/// Every `belladonna_*` series the rules read is exported by `bdctl
/// metrics` (histograms with their `_bucket`/`_count`/`_sum`).
#[test]
fn rules_read_exported_metrics() {
    use belladonna::telemetry::metrics::{Kind, State, log_families};
    let mut exported = Vec::new();
    for f in log_families(&State::default()) {
        match f.kind {
            Kind::Histogram => {
                // The bare name too: the rules' comments name it.
                exported.push(f.name.to_string());
                for s in ["_bucket", "_count", "_sum"] {
                    exported.push(format!("{}{s}", f.name));
                }
            }
            _ => exported.push(f.name.to_string()),
        }
    }
    let rules = std::fs::read_to_string(dir().join(RULES)).expect("read rules");
    let mut read = Vec::new();
    for (i, _) in rules.match_indices("belladonna_") {
        // A metric name, not part of a recorded `belladonna:...` name.
        if i > 0 && rules.as_bytes()[i - 1] == b':' {
            continue;
        }
        let name: String = rules[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        read.push(name);
    }
    read.sort();
    read.dedup();
    for want in [
        "belladonna_decision_latency_seconds_bucket",
        "belladonna_audit_fsync_seconds_bucket",
        "belladonna_decisions_total",
    ] {
        assert!(read.iter().any(|r| r == want), "rules never read {want}");
    }
    for name in &read {
        assert!(
            exported.contains(name),
            "the rules read {name}, which bdctl metrics does not export ({exported:?})"
        );
    }
}
