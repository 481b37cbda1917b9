//! OTLP/HTTP protobuf encoding of spans and metrics, by hand: the few
//! messages of opentelemetry-proto (collector/trace/v1, collector/metrics/
//! v1, trace/v1, metrics/v1, common/v1, resource/v1) that bdctl sends,
//! with their official field numbers. No dependency, and nothing of it
//! reachable from bdexec. The tests decode the output with the official
//! definitions (the `opentelemetry-proto` crate).
#![forbid(unsafe_code)]

use super::metrics::{Family, Kind, Value};
use super::spans::{Attr, Span};

// Wire types.
const VARINT: u32 = 0;
const I64: u32 = 1;
const LEN: u32 = 2;
const I32: u32 = 5;

/// A protobuf message being written.
#[derive(Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn tag(&mut self, field: u32, wire: u32) {
        self.varint(u64::from(field << 3 | wire));
    }
    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.tag(field, LEN);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn string(&mut self, field: u32, s: &str) {
        self.bytes(field, s.as_bytes());
    }
    fn msg(&mut self, field: u32, m: Msg) {
        self.bytes(field, &m.0);
    }
    fn uint(&mut self, field: u32, v: u64) {
        self.tag(field, VARINT);
        self.varint(v);
    }
    fn fixed64(&mut self, field: u32, v: u64) {
        self.tag(field, I64);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn fixed32(&mut self, field: u32, v: u32) {
        self.tag(field, I32);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn double(&mut self, field: u32, v: f64) {
        self.fixed64(field, v.to_bits());
    }
}

/// common.v1.KeyValue with a string or int AnyValue.
fn key_value(k: &str, v: &Attr) -> Msg {
    let mut any = Msg::default();
    match v {
        Attr::Str(s) => any.string(1, s),
        // int_value: int64, varint of the two's complement.
        Attr::Int(i) => any.uint(3, *i as u64),
    }
    let mut kv = Msg::default();
    kv.string(1, k);
    kv.msg(2, any);
    kv
}

/// resource.v1.Resource: service.name=bdexec, host.name.
fn resource(host: &str) -> Msg {
    let mut r = Msg::default();
    r.msg(1, key_value("service.name", &Attr::Str("bdexec".into())));
    r.msg(1, key_value("host.name", &Attr::Str(host.into())));
    r
}

/// common.v1.InstrumentationScope.
fn scope() -> Msg {
    let mut s = Msg::default();
    s.string(1, "belladonna");
    s.string(2, env!("CARGO_PKG_VERSION"));
    s
}

fn span(s: &Span) -> Msg {
    let mut m = Msg::default();
    m.bytes(1, &s.trace_id);
    m.bytes(2, &s.span_id);
    if let Some(p) = &s.parent {
        m.bytes(4, p);
    }
    m.string(5, s.name);
    // SPAN_KIND_INTERNAL.
    m.uint(6, 1);
    m.fixed64(7, s.start_ns);
    m.fixed64(8, s.end_ns);
    for (k, v) in &s.attributes {
        m.msg(9, key_value(k, v));
    }
    if s.error {
        let mut st = Msg::default();
        // STATUS_CODE_ERROR.
        st.uint(3, 2);
        m.msg(15, st);
    }
    // Flags: sampled (the W3C trace flags in the low byte).
    m.fixed32(16, 1);
    m
}

/// An ExportTraceServiceRequest holding `spans`, grouped by the
/// `host.name` resource (one ResourceSpans per host, in order of first
/// appearance). No span: an empty request (the doctor's probe).
pub fn encode_traces(spans: &[Span]) -> Vec<u8> {
    let host_of = |s: &Span| {
        s.attributes
            .iter()
            .find_map(|(k, v)| match (k, v) {
                (&"host.name", Attr::Str(h)) => Some(h.clone()),
                _ => None,
            })
            .unwrap_or_default()
    };
    // Children carry no host: they follow their root.
    let mut groups: Vec<(String, Vec<&Span>)> = Vec::new();
    let mut current = String::new();
    for s in spans {
        if s.name == "bdexec" || s.parent.is_none() {
            current = host_of(s);
        }
        match groups.iter_mut().find(|(h, _)| *h == current) {
            Some((_, v)) => v.push(s),
            None => groups.push((current.clone(), vec![s])),
        }
    }
    let mut req = Msg::default();
    for (host, ss) in groups {
        let mut scope_spans = Msg::default();
        scope_spans.msg(1, scope());
        for s in ss {
            scope_spans.msg(2, span(s));
        }
        let mut rs = Msg::default();
        rs.msg(1, resource(&host));
        rs.msg(2, scope_spans);
        req.msg(1, rs);
    }
    req.0
}

fn number_point(labels: &[(&str, String)], now_ns: u64, v: f64) -> Msg {
    let mut p = Msg::default();
    for (k, val) in labels {
        p.msg(7, key_value(k, &Attr::Str(val.clone())));
    }
    p.fixed64(3, now_ns);
    p.double(4, v);
    p
}

/// An ExportMetricsServiceRequest of `families` at `now_ns`: counters
/// as cumulative monotonic sums, gauges as gauges, histograms as
/// cumulative explicit-bucket histograms.
pub fn encode_metrics(families: &[Family], host: &str, now_ns: u64) -> Vec<u8> {
    let mut sm = Msg::default();
    sm.msg(1, scope());
    for f in families {
        let mut m = Msg::default();
        m.string(1, f.name);
        m.string(2, f.help);
        let mut data = Msg::default();
        for s in &f.samples {
            match &s.value {
                Value::Num(v) => data.msg(1, number_point(&s.labels, now_ns, *v)),
                Value::Hist {
                    bounds,
                    counts,
                    sum,
                    count,
                } => {
                    let mut p = Msg::default();
                    for (k, val) in &s.labels {
                        p.msg(9, key_value(k, &Attr::Str(val.clone())));
                    }
                    p.fixed64(3, now_ns);
                    p.fixed64(4, *count);
                    p.double(5, *sum);
                    let mut bc = Msg::default();
                    for c in counts {
                        bc.0.extend_from_slice(&c.to_le_bytes());
                    }
                    p.bytes(6, &bc.0);
                    let mut eb = Msg::default();
                    for b in *bounds {
                        eb.0.extend_from_slice(&b.to_bits().to_le_bytes());
                    }
                    p.bytes(7, &eb.0);
                    data.msg(1, p);
                }
            }
        }
        match f.kind {
            Kind::Gauge => m.msg(5, data),
            Kind::Counter => {
                // AGGREGATION_TEMPORALITY_CUMULATIVE, is_monotonic.
                data.uint(2, 2);
                data.uint(3, 1);
                m.msg(7, data);
            }
            Kind::Histogram => {
                data.uint(2, 2);
                m.msg(9, data);
            }
        }
        sm.msg(2, m);
    }
    let mut rm = Msg::default();
    rm.msg(1, resource(host));
    rm.msg(2, sm);
    let mut req = Msg::default();
    req.msg(1, rm);
    req.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::metrics::{Family, Kind, Sample, Value};
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyV;
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumV;
    use prost::Message;

    #[test]
    fn metrics_decode_with_the_official_definitions() {
        const B: &[f64] = &[0.001, 0.01];
        let fams = [
            Family {
                name: "c_total",
                help: "a counter",
                kind: Kind::Counter,
                samples: vec![Sample {
                    labels: vec![("event", "accept".into())],
                    value: Value::Num(7.0),
                }],
            },
            Family {
                name: "h_seconds",
                help: "a histogram",
                kind: Kind::Histogram,
                samples: vec![Sample {
                    labels: Vec::new(),
                    value: Value::Hist {
                        bounds: B,
                        counts: vec![1, 2, 3],
                        sum: 0.5,
                        count: 6,
                    },
                }],
            },
            Family {
                name: "g",
                help: "a gauge",
                kind: Kind::Gauge,
                samples: vec![Sample {
                    labels: Vec::new(),
                    value: Value::Num(-1.5),
                }],
            },
        ];
        let req = ExportMetricsServiceRequest::decode(&encode_metrics(&fams, "h1", 42)[..])
            .expect("decode");
        let sm = &req.resource_metrics[0].scope_metrics[0];
        assert_eq!(
            sm.scope.as_ref().map(|s| s.name.as_str()),
            Some("belladonna")
        );
        let m = &sm.metrics;
        assert_eq!(m.len(), 3);
        match &m[0].data {
            Some(Data::Sum(s)) => {
                assert!(s.is_monotonic);
                assert_eq!(s.aggregation_temporality, 2);
                let p = &s.data_points[0];
                assert_eq!((p.time_unix_nano, p.value), (42, Some(NumV::AsDouble(7.0))));
                assert_eq!(p.attributes[0].key, "event");
            }
            other => panic!("{other:?}"),
        }
        match &m[1].data {
            Some(Data::Histogram(h)) => {
                let p = &h.data_points[0];
                assert_eq!(p.bucket_counts, vec![1, 2, 3]);
                assert_eq!(p.explicit_bounds, B.to_vec());
                assert_eq!((p.count, p.sum), (6, Some(0.5)));
                assert_eq!(h.aggregation_temporality, 2);
            }
            other => panic!("{other:?}"),
        }
        match &m[2].data {
            Some(Data::Gauge(g)) => assert_eq!(g.data_points[0].value, Some(NumV::AsDouble(-1.5))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn spans_decode_with_negative_ints_and_no_parent() {
        let s = Span {
            trace_id: [1; 16],
            span_id: [2; 8],
            parent: None,
            name: "bdexec",
            start_ns: 5,
            end_ns: 9,
            attributes: vec![
                ("process.exit.code", Attr::Int(-3)),
                ("host.name", Attr::Str("h\u{e9}".into())),
            ],
            error: false,
        };
        let req = ExportTraceServiceRequest::decode(&encode_traces(&[s])[..]).expect("decode");
        let rs = &req.resource_spans[0];
        let sp = &rs.scope_spans[0].spans[0];
        assert_eq!((sp.start_time_unix_nano, sp.end_time_unix_nano), (5, 9));
        assert!(sp.parent_span_id.is_empty());
        assert!(sp.status.is_none());
        assert_eq!(sp.kind, 1);
        let v = |i: usize| {
            sp.attributes[i]
                .value
                .as_ref()
                .and_then(|v| v.value.clone())
        };
        assert_eq!(v(0), Some(AnyV::IntValue(-3)));
        assert_eq!(v(1), Some(AnyV::StringValue("h\u{e9}".into())));
        let host = rs
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|a| a.key == "host.name"))
            .and_then(|a| a.value.as_ref()?.value.clone());
        assert_eq!(host, Some(AnyV::StringValue("h\u{e9}".into())));
        assert!(encode_traces(&[]).is_empty());
    }
}
