//! A minimal HTTP/1.1 client (POST, `http://` only) for OTLP, and the
//! single-threaded `/metrics` server of `bdctl metrics serve`, both on
//! `std::net` with bounded sizes and timeouts. No TLS: ship to a local
//! collector (or an OpenTelemetry Collector agent) that forwards.
#![forbid(unsafe_code)]

use super::TelemetryError;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Largest response read from a collector.
const MAX_RESPONSE: u64 = 64 * 1024;
/// Largest request the metrics server reads.
const MAX_REQUEST: usize = 8 * 1024;
/// Per-connection I/O timeout of the metrics server.
const SERVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A parsed `http://host[:port][/base]` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port` as written (for the Host header and resolution).
    pub authority: String,
    /// The path prefix without a trailing `/` (may be empty).
    pub base: String,
}

impl Endpoint {
    /// Parse an endpoint URL; `https://` and anything odd are refused.
    pub fn parse(url: &str) -> Result<Endpoint, TelemetryError> {
        let bad = |why: &str| TelemetryError(format!("endpoint {url:?}: {why}"));
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("only http:// is supported (send to a local collector)"))?;
        let (auth, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if auth.is_empty()
            || !auth
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".-:[]_".contains(&c))
        {
            return Err(bad("bad host"));
        }
        if path
            .bytes()
            .any(|c| c <= b' ' || c == 0x7f || c == b'?' || c == b'#')
        {
            return Err(bad("bad path"));
        }
        let authority = if auth.starts_with('[') {
            if auth.contains("]:") {
                auth.to_string()
            } else {
                format!("{auth}:80")
            }
        } else if auth.contains(':') {
            auth.to_string()
        } else {
            format!("{auth}:80")
        };
        Ok(Endpoint {
            authority,
            base: path.trim_end_matches('/').to_string(),
        })
    }
}

/// How a POST failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostError {
    /// No connection (refused, unreachable, resolution failed).
    Connect(String),
    /// No complete answer within the timeout.
    Timeout,
    /// Connection broke or the answer is not HTTP.
    Io(String),
    /// An HTTP status other than 2xx, with the first line of the body.
    Status(u16, String),
}

impl PostError {
    /// Whether trying again may help (5xx, 429, transport), unlike a 4xx
    /// that says the request itself is wrong.
    pub fn retryable(&self) -> bool {
        match self {
            PostError::Status(s, _) => *s == 429 || *s >= 500,
            _ => true,
        }
    }
}

impl std::fmt::Display for PostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PostError::Connect(e) => write!(f, "cannot connect: {e}"),
            PostError::Timeout => f.write_str("timed out"),
            PostError::Io(e) => write!(f, "{e}"),
            PostError::Status(s, b) if b.is_empty() => write!(f, "HTTP {s}"),
            PostError::Status(s, b) => write!(f, "HTTP {s}: {b}"),
        }
    }
}

fn io(e: &std::io::Error) -> PostError {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => PostError::Timeout,
        _ => PostError::Io(e.to_string()),
    }
}

/// POST `body` to `ep.base + path` with `content_type`; the whole
/// exchange (connect, send, answer) within `timeout`. Ok: the status.
pub fn post(
    ep: &Endpoint,
    path: &str,
    content_type: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<u16, PostError> {
    let deadline = Instant::now() + timeout;
    let addrs: Vec<SocketAddr> = ep
        .authority
        .to_socket_addrs()
        .map_err(|e| PostError::Connect(format!("{}: {e}", ep.authority)))?
        .collect();
    let mut last = PostError::Connect(format!("{}: no address", ep.authority));
    let mut stream = None;
    for a in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(PostError::Timeout);
        }
        match TcpStream::connect_timeout(&a, left) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => last = PostError::Timeout,
            Err(e) => last = PostError::Connect(format!("{a}: {e}")),
        }
    }
    let mut s = stream.ok_or(last)?;
    let left = |d: Instant| {
        let l = d.saturating_duration_since(Instant::now());
        if l.is_zero() {
            Err(PostError::Timeout)
        } else {
            Ok(l)
        }
    };
    s.set_write_timeout(Some(left(deadline)?))
        .map_err(|e| io(&e))?;
    let head = format!(
        "POST {}{path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: bdctl/{}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        ep.base,
        ep.authority,
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    s.write_all(head.as_bytes()).map_err(|e| io(&e))?;
    s.write_all(body).map_err(|e| io(&e))?;
    s.flush().map_err(|e| io(&e))?;
    // Read until the server closes (Connection: close), bounded in time
    // and size; re-arm the read timeout with what is left each time.
    let mut resp = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        s.set_read_timeout(Some(left(deadline)?))
            .map_err(|e| io(&e))?;
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                resp.extend_from_slice(&buf[..n]);
                if resp.len() as u64 > MAX_RESPONSE || complete(&resp) {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(&e)),
        }
    }
    let status = parse_status(&resp)
        .ok_or_else(|| PostError::Io("connection closed without an HTTP answer".into()))?;
    if (200..300).contains(&status) {
        Ok(status)
    } else {
        let body = resp
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| &resp[i + 4..])
            .unwrap_or(&[]);
        let first: String = String::from_utf8_lossy(body)
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        Err(PostError::Status(status, first))
    }
}

/// `HTTP/1.x NNN ...` of a response's first line.
fn parse_status(resp: &[u8]) -> Option<u16> {
    let line = resp.split(|c| *c == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut it = line.split_ascii_whitespace();
    let v = it.next()?;
    if !v.starts_with("HTTP/1.") {
        return None;
    }
    let code: u16 = it.next()?.parse().ok()?;
    (100..600).contains(&code).then_some(code)
}

/// True once the headers and a Content-Length body have arrived (so a
/// server that keeps the connection open does not cost the timeout).
fn complete(resp: &[u8]) -> bool {
    let Some(end) = resp.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&resp[..end]).to_ascii_lowercase();
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|n| resp.len() >= end + 4 + n)
}

/// Serve `GET /metrics` on `listen` forever, one connection at a time;
/// `render` produces the body (or an error, answered 500). Other paths
/// get 404, other methods 405; a request over 8 KiB or slower than 5 s
/// is dropped.
pub fn serve(
    listen: &str,
    mut render: impl FnMut() -> Result<String, TelemetryError>,
) -> Result<(), TelemetryError> {
    let l = TcpListener::bind(listen)
        .map_err(|e| TelemetryError(format!("listen on {listen}: {e}")))?;
    for conn in l.incoming() {
        match conn {
            Ok(mut c) => {
                let _ = handle(&mut c, &mut render);
            }
            // Out of fds or the like: do not spin.
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    Ok(())
}

fn handle(
    c: &mut TcpStream,
    render: &mut impl FnMut() -> Result<String, TelemetryError>,
) -> std::io::Result<()> {
    c.set_read_timeout(Some(SERVE_TIMEOUT))?;
    c.set_write_timeout(Some(SERVE_TIMEOUT))?;
    let start = Instant::now();
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        if req.len() > MAX_REQUEST || start.elapsed() > SERVE_TIMEOUT {
            return respond(
                c,
                "431 Request Header Fields Too Large",
                "text/plain",
                "too large\n",
            );
        }
        let n = c.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        req.extend_from_slice(&buf[..n]);
    }
    let line = req.split(|b| *b == b'\n').next().unwrap_or(&[]);
    let line = String::from_utf8_lossy(line);
    let mut it = line.split_ascii_whitespace();
    let (method, target) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    if method != "GET" {
        return respond(c, "405 Method Not Allowed", "text/plain", "only GET\n");
    }
    if path != "/metrics" {
        return respond(c, "404 Not Found", "text/plain", "try /metrics\n");
    }
    match render() {
        Ok(body) => respond(
            c,
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            &body,
        ),
        Err(e) => respond(
            c,
            "500 Internal Server Error",
            "text/plain",
            &format!("{e}\n"),
        ),
    }
}

fn respond(c: &mut TcpStream, status: &str, ct: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes())?;
    c.write_all(body.as_bytes())?;
    c.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("http://127.0.0.1:4318").expect("ok");
        assert_eq!(
            (e.authority.as_str(), e.base.as_str()),
            ("127.0.0.1:4318", "")
        );
        let e = Endpoint::parse("http://collector/otlp/").expect("ok");
        assert_eq!(
            (e.authority.as_str(), e.base.as_str()),
            ("collector:80", "/otlp")
        );
        for bad in [
            "https://x",
            "ftp://x",
            "http://",
            "http://a b",
            "http://x/a b",
            "http://x/?q",
            "http://x\r\nHost: y",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_line() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(parse_status(b"HTTP/1.0 503 x\r\n"), Some(503));
        assert_eq!(parse_status(b"SSH-2.0\r\n"), None);
        assert_eq!(parse_status(b""), None);
        assert!(complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok"));
    }
}
