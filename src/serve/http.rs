//! The app's HTTP vocabulary, free of any server: a [`Request`] (method, path, raw query,
//! Host header) in, a [`Response`] (status, type, headers, body) out. The binary's server
//! turns sockets into these; tests call the app with them directly.
//!
//! Every check a local server holding students' questions needs is here, once: GET and
//! HEAD only, the Host header against the address served (DNS rebinding), URL length,
//! percent-encoding, unknown or repeated parameters; and the headers every response
//! carries (a Content-Security-Policy without external sources, no sniffing, no referrer).

use std::collections::BTreeMap;

/// Longest request target (path and query) served; a longer one is 414.
pub const MAX_TARGET: usize = 8 << 10;

/// A request as the app sees it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The request target: path and query (`/c/abc?q=x`), still percent-encoded.
    pub target: String,
    /// The Host header, if any.
    pub host: Option<String>,
}

impl Request {
    /// A GET of `target` with the Host `host`.
    pub fn get(target: &str, host: &str) -> Request {
        Request {
            method: "GET".into(),
            target: target.into(),
            host: Some(host.into()),
        }
    }
}

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// More headers (`Allow`, `Content-Disposition`).
    pub headers: Vec<(&'static str, String)>,
    /// The body (empty for HEAD is the server's business).
    pub body: Vec<u8>,
}

/// The headers every response carries: no script, no external source, no framing.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; \
         base-uri 'none'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
];

impl Response {
    /// An HTML page.
    pub fn html(status: u16, body: String) -> Response {
        Response {
            status,
            content_type: "text/html; charset=utf-8",
            headers: Vec::new(),
            body: body.into_bytes(),
        }
    }

    /// A JSON document.
    pub fn json(status: u16, v: &serde_json::Value) -> Response {
        Response {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: serde_json::to_vec_pretty(v).unwrap_or_default(),
        }
    }

    /// A file to download.
    pub fn download(content_type: &'static str, name: &str, body: Vec<u8>) -> Response {
        Response {
            status: 200,
            content_type,
            headers: vec![(
                "Content-Disposition",
                format!("attachment; filename=\"{name}\""),
            )],
            body,
        }
    }
}

/// Why a request is refused, with its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 4xx.
    pub status: u16,
    /// What to tell the user.
    pub message: String,
}

impl Refusal {
    /// A refusal with `status`.
    pub fn new(status: u16, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
        }
    }
}

/// A request's path (decoded segments) and its parameters, once checked.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// The path's segments, percent-decoded (`/c/abc` → `["c", "abc"]`).
    pub segments: Vec<String>,
    /// Each parameter once, decoded.
    pub params: BTreeMap<String, String>,
}

impl Target {
    /// A parameter's value, if given and not empty.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Checks the method, Host and target of `req` against the hosts served.
pub fn check(req: &Request, hosts: &[String]) -> Result<Target, Refusal> {
    if req.method != "GET" && req.method != "HEAD" {
        return Err(Refusal::new(
            405,
            "only GET and HEAD: this app is read-only",
        ));
    }
    match &req.host {
        Some(h) if hosts.iter().any(|a| a.eq_ignore_ascii_case(h)) => {}
        Some(h) => {
            return Err(Refusal::new(
                421,
                format!("this server does not answer for host {h:?}"),
            ))
        }
        None => return Err(Refusal::new(400, "no Host header")),
    }
    if req.target.len() > MAX_TARGET {
        return Err(Refusal::new(
            414,
            format!("the address is longer than {MAX_TARGET} bytes"),
        ));
    }
    parse_target(&req.target)
}

/// Splits and decodes a request target.
pub fn parse_target(target: &str) -> Result<Target, Refusal> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if !path.starts_with('/') {
        return Err(Refusal::new(400, "the path must start with /"));
    }
    let segments = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| decode(s, false))
        .collect::<Result<Vec<_>, _>>()?;
    let mut params = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k, true)?, decode(v, true)?);
        if params.insert(k.clone(), v).is_some() {
            return Err(Refusal::new(400, format!("parameter {k:?} given twice")));
        }
    }
    Ok(Target { segments, params })
}

/// Percent-decodes one component (`+` is a space in a query); invalid escapes or UTF-8 are
/// refused, never guessed.
fn decode(s: &str, plus_is_space: bool) -> Result<String, Refusal> {
    let bad = || Refusal::new(400, format!("invalid percent-encoding in {s:?}"));
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// Refuses parameters other than `allowed`.
pub fn only(t: &Target, allowed: &[&str]) -> Result<(), Refusal> {
    match t.params.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(Refusal::new(
            400,
            format!(
                "unknown parameter {k:?}; this page takes: {}",
                allowed.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// Percent-encodes a value for a URL's query or path: every byte but letters, digits and
/// `-_~` (unreserved in RFC 3986), so a conversation's id or a month reads as itself in a
/// link. A dot stays encoded: `.` and `..` as a path segment would be resolved away.
pub fn encode(s: &str) -> String {
    const RESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, RESERVED).to_string()
}

/// A query string of these parameters (empty values left out), `?` first when not empty.
pub fn query_string<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let parts: Vec<String> = params
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<String> {
        vec!["127.0.0.1:8001".into(), "localhost:8001".into()]
    }

    #[test]
    fn refusals_have_their_status() {
        let mut r = Request::get("/", "127.0.0.1:8001");
        assert!(check(&r, &hosts()).is_ok());
        r.method = "POST".into();
        assert_eq!(check(&r, &hosts()).unwrap_err().status, 405);
        let r = Request::get("/", "evil.example:8001");
        assert_eq!(check(&r, &hosts()).unwrap_err().status, 421);
        let r = Request::get("/?q=%zz", "localhost:8001");
        assert_eq!(check(&r, &hosts()).unwrap_err().status, 400);
        let r = Request::get("/?q=%ff", "localhost:8001");
        assert_eq!(check(&r, &hosts()).unwrap_err().status, 400);
        let r = Request::get("/?q=a&q=b", "localhost:8001");
        assert_eq!(check(&r, &hosts()).unwrap_err().status, 400);
        let long = format!("/?q={}", "a".repeat(100 << 10));
        assert_eq!(
            check(&Request::get(&long, "localhost:8001"), &hosts())
                .unwrap_err()
                .status,
            414
        );
    }

    #[test]
    fn targets_decode() {
        let t = parse_target("/c/a%2Fb?q=two+words&course=ECE%20120").unwrap();
        assert_eq!(t.segments, ["c", "a/b"]);
        assert_eq!(t.param("q"), Some("two words"));
        assert_eq!(t.param("course"), Some("ECE 120"));
        assert_eq!(query_string([("q", "a b&c"), ("page", "")]), "?q=a%20b%26c");
    }
}
