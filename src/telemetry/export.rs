//! `bdctl export otlp`: ship the lifecycle spans of the records past the
//! export cursor (`/var/lib/belladonna/otlp.state`), then the metrics,
//! over OTLP/HTTP protobuf (DESIGN section 11).
//!
//! At least once: the cursor moves past a batch only after the collector
//! answered 2xx for it, so a failure loses nothing and the next run sends
//! the batch again; span ids are derived from the records
//! ([`super::spans`]), so a batch sent twice is the same spans twice, not
//! new ones. Every failed attempt is counted (`errors`, persisted at
//! once: `belladonna_otel_export_errors_total`). Transport errors, 429
//! and 5xx are retried with exponential backoff; another 4xx is not (the
//! collector refuses the request itself) but the batch stays for later.
//! One exporter runs at a time (the state's lock).
#![forbid(unsafe_code)]

use super::TelemetryError;
use super::cursor::{self, Reset};
use super::http::{self, Endpoint, PostError};
use super::store::{self, Locked};
use super::{otlp, spans};
use std::path::Path;
use std::time::Duration;

pub use super::store::{
    EXPORT_STATE as STATE, EXPORT_STATE_FILE as STATE_FILE, ExportState as State,
};
/// OTLP/HTTP protobuf content type.
pub const PROTOBUF: &str = "application/x-protobuf";

/// How to export.
#[derive(Debug, Clone)]
pub struct Options {
    pub endpoint: Endpoint,
    /// Bound of one HTTP exchange.
    pub timeout: Duration,
    /// Attempts per batch (at least 1).
    pub attempts: u32,
    /// First backoff; doubled after each failure.
    pub backoff: Duration,
    /// Records per request.
    pub batch: usize,
    /// Sampling rate in parts per million (the policy's).
    pub sample_ppm: u32,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub records: u64,
    pub spans: u64,
    /// Cursor resets met (told on stderr by the caller).
    pub resets: Vec<String>,
}

/// POST with retries; every failed attempt increments `st.errors` and is
/// persisted before the next.
pub fn send(
    locked: &Locked,
    st: &mut State,
    opts: &Options,
    path: &str,
    body: &[u8],
) -> Result<(), TelemetryError> {
    let mut wait = opts.backoff;
    let attempts = opts.attempts.max(1);
    for attempt in 1..=attempts {
        match http::post(&opts.endpoint, path, PROTOBUF, body, opts.timeout) {
            Ok(_) => return Ok(()),
            Err(e) => {
                st.errors = st.errors.saturating_add(1);
                locked.save(st)?;
                if !e.retryable() || attempt == attempts {
                    return Err(failed(opts, path, &e, attempt));
                }
                std::thread::sleep(wait);
                wait = wait.saturating_mul(2);
            }
        }
    }
    Ok(())
}

fn failed(opts: &Options, path: &str, e: &PostError, attempts: u32) -> TelemetryError {
    TelemetryError(format!(
        "export to http://{}{}{path} failed after {attempts} attempt{}: {e}; \
         the records stay for the next run",
        opts.endpoint.authority,
        opts.endpoint.base,
        if attempts == 1 { "" } else { "s" }
    ))
}

/// Export the spans of every record past the cursor of `log`, batch by
/// batch; stops at the first batch that cannot be sent (error).
pub fn export_traces(log: &Path, opts: &Options) -> Result<Report, TelemetryError> {
    let locked = Locked::open(store::lib_dir()?, STATE)?;
    let mut st: State = locked.load()?;
    let mut rep = Report::default();
    loop {
        let batch = cursor::read_new(log, &st.cursor, Some(opts.batch.max(1)))?;
        if let Some(r) = batch.reset {
            rep.resets.push(match r {
                Reset::Truncated => format!(
                    "audit log {} was truncated or rewritten under the export cursor \
                     (seq {}): records already exported are not sent again",
                    log.display(),
                    st.cursor.seq.map_or("-".into(), |s| s.to_string())
                ),
                Reset::Rotated => format!(
                    "audit log {} was rotated or replaced: exporting it from the start",
                    log.display()
                ),
            });
        }
        let ss: Vec<spans::Span> = batch
            .records
            .iter()
            .flat_map(|r| spans::spans_of(&r.value))
            .filter(|s| spans::sampled(&s.trace_id, opts.sample_ppm))
            .collect();
        if !ss.is_empty() {
            send(
                &locked,
                &mut st,
                opts,
                "/v1/traces",
                &otlp::encode_traces(&ss),
            )?;
        }
        rep.records += batch.records.len() as u64;
        rep.spans += ss.len() as u64;
        st.exported = st.exported.saturating_add(batch.records.len() as u64);
        st.cursor = batch.end;
        locked.save(&st)?;
        if !batch.more {
            return Ok(rep);
        }
    }
}

/// Send `families` to `/v1/metrics` (failures counted like spans').
pub fn export_metrics(
    families: &[super::metrics::Family],
    host: &str,
    opts: &Options,
) -> Result<(), TelemetryError> {
    let locked = Locked::open(store::lib_dir()?, STATE)?;
    let mut st: State = locked.load()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let body = otlp::encode_metrics(families, host, now);
    send(&locked, &mut st, opts, "/v1/metrics", &body)
}

/// `bdctl doctor --otlp URL`: POST an empty trace export and say in one
/// line what works or what is wrong. Ok(line) when accepted.
pub fn probe(url: &str, timeout: Duration) -> Result<String, String> {
    let ep = Endpoint::parse(url).map_err(|e| format!("otlp: {e}"))?;
    let t0 = std::time::Instant::now();
    match http::post(
        &ep,
        "/v1/traces",
        PROTOBUF,
        &otlp::encode_traces(&[]),
        timeout,
    ) {
        Ok(s) => Ok(format!(
            "otlp: ok: {url} accepted an empty trace export (HTTP {s}, {} ms)",
            t0.elapsed().as_millis()
        )),
        Err(e) => Err(format!(
            "otlp: {url}: {e}{}",
            match &e {
                PostError::Connect(_) =>
                    " (is the collector running with its OTLP/HTTP receiver on this address?)",
                PostError::Timeout =>
                    " (no answer in time: collector overloaded, or not an HTTP endpoint)",
                PostError::Io(_) => " (not an OTLP/HTTP receiver?)",
                PostError::Status(404, _) =>
                    " (wrong path: give the collector's base URL; bdctl appends /v1/traces)",
                PostError::Status(415, _) => " (protobuf refused: not an OTLP/HTTP receiver)",
                PostError::Status(s, _) if *s >= 500 => " (the collector is failing)",
                PostError::Status(..) => " (the collector refused an empty export)",
            }
        )),
    }
}
