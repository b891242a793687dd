//! JSON over HTTP for the vector stores with network APIs (Chroma, Qdrant): one blocking
//! client (`ureq`; HTTPS through rustls, verified against Mozilla's roots, or the PEM file
//! `SSL_CERT_FILE` names, as OpenSSL and Python read it), retries with backoff on a refused
//! connection, 429 and 5xx, and errors that carry the URL and the server's own message.

use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};

/// Attempts per request.
const ATTEMPTS: u32 = 4;

/// A JSON client of one server.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    headers: Vec<(String, String)>,
}

/// The roots HTTPS trusts: `SSL_CERT_FILE`'s certificates when it is set, else Mozilla's.
fn tls_config() -> Result<ureq::tls::TlsConfig> {
    let builder = ureq::tls::TlsConfig::builder();
    let Some(file) = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) else {
        return Ok(builder.build());
    };
    let path = std::path::PathBuf::from(file);
    let pem = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(Error::Usage(format!(
            "SSL_CERT_FILE {}: no certificate in the file",
            path.display()
        )));
    }
    Ok(builder
        .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
        .build())
}

/// A response: status and JSON body (`Null` when empty or not JSON).
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Value,
}

impl Client {
    /// A client of `base` (`http://host:port`), sending `headers` with every request.
    pub fn new(base: &str, headers: Vec<(String, String)>) -> Result<Client> {
        if !base.starts_with("http://") && !base.starts_with("https://") {
            return Err(Error::Usage(format!(
                "{base}: expected http://host:port or https://host"
            )));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(300)))
            .tls_config(tls_config()?)
            .build();
        Ok(Client {
            agent: ureq::Agent::new_with_config(config),
            base: base.trim_end_matches('/').to_owned(),
            headers,
        })
    }

    /// The server's address, for messages.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Reply> {
        self.call("GET", path, None)
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Result<Reply> {
        self.call("POST", path, Some(body))
    }

    /// `PUT path` with a JSON body.
    pub fn put(&self, path: &str, body: &Value) -> Result<Reply> {
        self.call("PUT", path, Some(body))
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply> {
        let url = format!("{}{path}", self.base);
        let text = body.map(Value::to_string);
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200 << attempt));
            }
            match self.once(method, &url, text.as_deref()) {
                Ok(r) if r.status == 429 || r.status >= 500 => {
                    last = format!("HTTP {}: {}", r.status, r.body)
                }
                Ok(r) => return Ok(r),
                Err(e) => last = e.to_string(),
            }
        }
        Err(Error::Service {
            url,
            message: format!("{method} failed after {ATTEMPTS} attempts: {last}"),
        })
    }

    fn once(&self, method: &str, url: &str, body: Option<&str>) -> Result<Reply, ureq::Error> {
        let mut resp = match method {
            "GET" => {
                let mut r = self.agent.get(url);
                for (k, v) in &self.headers {
                    r = r.header(k, v);
                }
                r.call()?
            }
            _ => {
                let mut r = match method {
                    "PUT" => self.agent.put(url),
                    _ => self.agent.post(url),
                };
                for (k, v) in &self.headers {
                    r = r.header(k, v);
                }
                r.header("content-type", "application/json")
                    .send(body.unwrap_or("{}"))?
            }
        };
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()?;
        Ok(Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(if text.is_empty() {
                Value::Null
            } else {
                Value::String(text)
            }),
        })
    }
}

/// An error for a reply the server refused.
pub fn refused(c: &Client, what: &str, r: &Reply) -> Error {
    Error::Service {
        url: c.base().to_owned(),
        message: format!("{what}: HTTP {}: {}", r.status, r.body),
    }
}

/// `Ok` for a 2xx reply, else the refusal naming `what` was asked.
pub fn ok(c: &Client, what: &str, r: &Reply) -> Result<()> {
    if r.status < 300 {
        Ok(())
    } else {
        Err(refused(c, what, r))
    }
}

/// A URL path segment, percent-encoded.
pub fn segment(s: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}
