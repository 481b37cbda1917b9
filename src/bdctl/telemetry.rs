//! `bdctl metrics [--textfile DIR]`, `metrics serve --listen ADDR`,
//! `export otlp --endpoint URL` (the logic is in [`crate::telemetry`]).
//! Each returns the exit code (bdctl(8)) and prints one line per problem
//! on stderr.
#![forbid(unsafe_code)]

use super::args::{ExportCmd, MetricsCmd};
use super::exit;
use crate::telemetry::export::{self, Options};
use crate::telemetry::http::Endpoint;
use crate::telemetry::metrics;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

fn log_path() -> &'static Path {
    Path::new(crate::base::paths::AUDIT_FILE)
}

fn collect_text() -> Result<String, crate::telemetry::TelemetryError> {
    let c = metrics::collect(log_path())?;
    for n in &c.notes {
        eprintln!("bdctl: metrics: {n}");
    }
    Ok(metrics::render(&c.families))
}

/// `bdctl metrics [--textfile DIR] [serve --listen ADDR]`.
pub fn metrics(textfile: Option<&Path>, cmd: Option<MetricsCmd>) -> i32 {
    if let Some(MetricsCmd::Serve { listen }) = cmd {
        return match crate::telemetry::http::serve(&listen, collect_text) {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("bdctl: metrics serve: {e}");
                exit::FAILED
            }
        };
    }
    let text = match collect_text() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("bdctl: metrics: {e}");
            return exit::FAILED;
        }
    };
    let r = match textfile {
        Some(dir) => metrics::write_textfile(dir, &text),
        None => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            Ok(())
        }
    };
    match r {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("bdctl: metrics: {e}");
            exit::FAILED
        }
    }
}

/// `bdctl export otlp ...`.
pub fn export(cmd: ExportCmd) -> i32 {
    let ExportCmd::Otlp {
        endpoint,
        timeout,
        attempts,
        batch,
        no_metrics,
    } = cmd;
    let ep = match Endpoint::parse(&endpoint) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("bdctl: export otlp: {e}");
            return exit::USAGE;
        }
    };
    let sample_ppm = match crate::policy::load::load_policy() {
        Ok(l) => l.policy.trace_sample_ppm(),
        Err(e) => {
            eprintln!("bdctl: export otlp: {e}; sampling every call");
            crate::policy::model::DEFAULT_SAMPLE_PPM
        }
    };
    let opts = Options {
        endpoint: ep,
        timeout: Duration::from_secs(timeout),
        attempts,
        backoff: Duration::from_secs(1),
        batch: usize::try_from(batch).unwrap_or(512),
        sample_ppm,
    };
    let rep = match export::export_traces(log_path(), &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bdctl: export otlp: {e}");
            return exit::FAILED;
        }
    };
    for r in &rep.resets {
        eprintln!("bdctl: export otlp: {r}");
    }
    println!(
        "exported {} spans of {} records to {endpoint}",
        rep.spans, rep.records
    );
    if no_metrics {
        return exit::OK;
    }
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sent = metrics::collect(log_path())
        .and_then(|c| export::export_metrics(&c.families, &host, &opts));
    match sent {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("bdctl: export otlp: metrics: {e}");
            exit::FAILED
        }
    }
}
