//! A PostgreSQL connection, just large enough for loading: start-up and authentication
//! (trust, password, MD5, SCRAM-SHA-256), simple queries with text results, and
//! `COPY ... FROM STDIN` streaming. Messages are encoded and parsed by `postgres-protocol`
//! (the protocol half of rust-postgres); the socket is std's, so the default build needs no
//! tokio networking (which would rebuild DataFusion). TLS as libpq negotiates it (an
//! `SSLRequest`, then the handshake on the same socket), with `sslmode`'s meanings
//! ([`super::tls`]).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256, SCRAM_SHA_256};
use postgres_protocol::message::{backend::Message, frontend};

use super::tls::SslMode;
use crate::error::{Error, Result};

/// Where and as whom to connect, from a `postgresql://user:password@host:port/db` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgUrl {
    /// Role.
    pub user: String,
    /// Password (the URL's, else `PGPASSWORD`).
    pub password: Option<String>,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database.
    pub dbname: String,
    /// `sslmode` (the URL's, else `PGSSLMODE`, else `prefer`).
    pub ssl: SslMode,
    /// `sslrootcert` (the URL's, else `PGSSLROOTCERT`).
    pub ssl_root: Option<String>,
}

impl PgUrl {
    /// Parses a URL (`postgres://` or `postgresql://`); the password falls back to
    /// `PGPASSWORD`, the user to `PGUSER` then `postgres`, the TLS settings to `PGSSLMODE`
    /// and `PGSSLROOTCERT`.
    pub fn parse(url: &str) -> Result<PgUrl> {
        let bad = |why: &str| Error::Usage(format!("{}: {why}", redact_url(url)));
        let rest = url
            .strip_prefix("postgresql://")
            .or_else(|| url.strip_prefix("postgres://"))
            .ok_or_else(|| bad("a PostgreSQL URL starts with postgresql://"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let (mut ssl, mut ssl_root) = (env("PGSSLMODE"), env("PGSSLROOTCERT"));
        for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
            let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
            match k {
                "sslmode" => ssl = Some(v.into_owned()),
                "sslrootcert" => ssl_root = Some(v.into_owned()),
                "application_name" | "connect_timeout" => {}
                _ => return Err(bad(&format!("unknown URL parameter {k}"))),
            }
        }
        let ssl = match ssl.as_deref() {
            None => SslMode::Prefer,
            Some(m) => SslMode::from_name(m).ok_or_else(|| {
                bad(&format!(
                    "sslmode {m}: expected disable, allow, prefer, require, verify-ca or \
                     verify-full"
                ))
            })?,
        };
        let (auth, hostpart) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        let (hostport, db) = hostpart.split_once('/').unwrap_or((hostpart, ""));
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad("the port is not a number"))?),
            None => (hostport, 5432),
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let (user, password) = match auth.map(|a| a.split_once(':').unwrap_or((a, ""))) {
            Some((u, p)) => (decode(u), (!p.is_empty()).then(|| decode(p))),
            None => (String::new(), None),
        };
        let user = if user.is_empty() {
            std::env::var("PGUSER").unwrap_or_else(|_| "postgres".into())
        } else {
            user
        };
        let password = password.or_else(|| std::env::var("PGPASSWORD").ok());
        let host = if host.is_empty() { "localhost" } else { host };
        let dbname = if db.is_empty() {
            user.clone()
        } else {
            decode(db)
        };
        Ok(PgUrl {
            user,
            password,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            dbname,
            ssl,
            ssl_root,
        })
    }

    /// The URL without its password, for messages.
    pub fn display(&self) -> String {
        format!(
            "postgresql://{}@{}:{}/{}",
            self.user, self.host, self.port, self.dbname
        )
    }
}

/// A URL with any password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let auth = &url[s + 3..at];
            match auth.split_once(':') {
                Some((u, _)) => format!("{}{u}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The socket, plain or under TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Asks the server for TLS (`SSLRequest`) and shakes hands; plain again when the server
/// declines and the mode allows it.
fn negotiate(mut tcp: TcpStream, u: &PgUrl, url: &str) -> Result<Stream> {
    if !u.ssl.tries_tls() {
        return Ok(Stream::Plain(tcp));
    }
    let fail = |message: String| Error::Service {
        url: url.to_owned(),
        message,
    };
    let mut out = BytesMut::new();
    frontend::ssl_request(&mut out);
    tcp.write_all(&out)
        .map_err(|e| fail(format!("cannot connect: {e}")))?;
    let mut answer = [0u8; 1];
    tcp.read_exact(&mut answer)
        .map_err(|e| fail(format!("asking for TLS: {e}")))?;
    match answer[0] {
        b'S' => {}
        b'N' if !u.ssl.insists() => return Ok(Stream::Plain(tcp)),
        b'N' => {
            return Err(fail(
                "the server does not accept TLS connections (sslmode=require or verify-*)".into(),
            ))
        }
        other => {
            return Err(fail(format!(
                "unexpected answer {other:#x} to a TLS request"
            )))
        }
    }
    let config = super::tls::client_config(u.ssl, u.ssl_root.as_deref())?;
    let name = super::tls::server_name(&u.host)?;
    let mut conn =
        rustls::ClientConnection::new(config, name).map_err(|e| fail(format!("TLS: {e}")))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)
            .map_err(|e| fail(format!("TLS handshake: {e}")))?;
    }
    Ok(Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))))
}

/// An open connection, ready for queries.
pub struct Conn {
    stream: Stream,
    inbuf: BytesMut,
    out: BytesMut,
    url: String,
}

impl Conn {
    /// Connects and authenticates.
    pub fn connect(u: &PgUrl) -> Result<Conn> {
        let url = u.display();
        let stream = TcpStream::connect((u.host.as_str(), u.port)).map_err(|e| Error::Service {
            url: url.clone(),
            message: format!("cannot connect: {e}"),
        })?;
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(600)));
        let mut c = Conn {
            stream: negotiate(stream, u, &url)?,
            inbuf: BytesMut::with_capacity(1 << 16),
            out: BytesMut::new(),
            url,
        };
        let params = [
            ("user", u.user.as_str()),
            ("database", u.dbname.as_str()),
            ("application_name", "chatql"),
            ("client_encoding", "UTF8"),
        ];
        frontend::startup_message(params, &mut c.out).map_err(|e| c.fail(e))?;
        c.flush()?;
        c.authenticate(u)?;
        loop {
            match c.recv()? {
                Message::ReadyForQuery(_) => return Ok(c),
                Message::ErrorResponse(b) => return Err(c.server_error(b.fields())),
                _ => {}
            }
        }
    }

    fn authenticate(&mut self, u: &PgUrl) -> Result<()> {
        let url = self.url.clone();
        let password = || {
            u.password.clone().ok_or_else(|| Error::Service {
                url: url.clone(),
                message: "the server asks for a password: put it in the URL or PGPASSWORD".into(),
            })
        };
        loop {
            match self.recv()? {
                Message::AuthenticationOk => return Ok(()),
                Message::AuthenticationCleartextPassword => {
                    let p = password()?;
                    frontend::password_message(p.as_bytes(), &mut self.out)
                        .map_err(|e| self.fail(e))?;
                    self.flush()?;
                }
                Message::AuthenticationMd5Password(b) => {
                    let p = password()?;
                    let hash = postgres_protocol::authentication::md5_hash(
                        u.user.as_bytes(),
                        p.as_bytes(),
                        b.salt(),
                    );
                    frontend::password_message(hash.as_bytes(), &mut self.out)
                        .map_err(|e| self.fail(e))?;
                    self.flush()?;
                }
                Message::AuthenticationSasl(b) => {
                    let mut mechs = b.mechanisms();
                    let mut scram = false;
                    while let Some(m) = mechs.next().map_err(|e| self.fail(e))? {
                        scram |= m == SCRAM_SHA_256;
                    }
                    if !scram {
                        return Err(self.error("the server offers no SASL mechanism chatql knows"));
                    }
                    self.scram(password()?.as_bytes())?;
                }
                Message::ErrorResponse(b) => return Err(self.server_error(b.fields())),
                _ => {
                    return Err(
                        self.error("the server asks for an authentication chatql does not speak")
                    )
                }
            }
        }
    }

    fn scram(&mut self, password: &[u8]) -> Result<()> {
        let mut s = ScramSha256::new(password, ChannelBinding::unsupported());
        frontend::sasl_initial_response(SCRAM_SHA_256, s.message(), &mut self.out)
            .map_err(|e| self.fail(e))?;
        self.flush()?;
        match self.recv()? {
            Message::AuthenticationSaslContinue(b) => {
                s.update(b.data()).map_err(|e| self.fail(e))?
            }
            Message::ErrorResponse(b) => return Err(self.server_error(b.fields())),
            _ => return Err(self.error("unexpected message during SCRAM authentication")),
        }
        frontend::sasl_response(s.message(), &mut self.out).map_err(|e| self.fail(e))?;
        self.flush()?;
        match self.recv()? {
            Message::AuthenticationSaslFinal(b) => s.finish(b.data()).map_err(|e| self.fail(e)),
            Message::ErrorResponse(b) => Err(self.server_error(b.fields())),
            _ => Err(self.error("unexpected message during SCRAM authentication")),
        }
    }

    /// Runs one or more statements (the simple protocol); returns every row of the last
    /// statement that returned rows, as text (`None` for NULL).
    pub fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        frontend::query(sql, &mut self.out).map_err(|e| self.fail(e))?;
        self.flush()?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            match self.recv()? {
                Message::RowDescription(_) => rows.clear(),
                Message::DataRow(b) => {
                    let buf = b.buffer();
                    let mut ranges = b.ranges();
                    let mut row = Vec::new();
                    while let Some(r) = ranges.next().map_err(|e| self.fail(e))? {
                        row.push(r.map(|r| String::from_utf8_lossy(&buf[r]).into_owned()));
                    }
                    rows.push(row);
                }
                Message::ErrorResponse(b) => error = Some(self.server_error(b.fields())),
                Message::CopyInResponse(_) => {
                    frontend::copy_fail("COPY is not expected here", &mut self.out)
                        .map_err(|e| self.fail(e))?;
                    self.flush()?;
                }
                Message::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(rows),
        }
    }

    /// Runs `COPY ... FROM STDIN` with `data` as its whole input; returns the rows copied.
    pub fn copy_in(&mut self, sql: &str, data: &[u8]) -> Result<u64> {
        frontend::query(sql, &mut self.out).map_err(|e| self.fail(e))?;
        self.flush()?;
        let mut error = None;
        let mut copied = 0;
        loop {
            match self.recv()? {
                Message::CopyInResponse(_) => {
                    for part in data.chunks(1 << 20) {
                        frontend::CopyData::new(part)
                            .map_err(|e| self.fail(e))?
                            .write(&mut self.out);
                        self.flush()?;
                    }
                    frontend::copy_done(&mut self.out);
                    self.flush()?;
                }
                Message::CommandComplete(b) => {
                    let tag = b.tag().map_err(|e| self.fail(e))?;
                    copied = tag
                        .rsplit(' ')
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                }
                Message::ErrorResponse(b) => error = Some(self.server_error(b.fields())),
                Message::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(copied),
        }
    }

    /// Says goodbye (the server also copes with a dropped socket).
    pub fn close(mut self) {
        frontend::terminate(&mut self.out);
        let _ = self.flush();
    }

    fn flush(&mut self) -> Result<()> {
        let r = self
            .stream
            .write_all(&self.out)
            .and_then(|()| self.stream.flush());
        self.out.clear();
        r.map_err(|e| self.fail(e))
    }

    fn recv(&mut self) -> Result<Message> {
        loop {
            if let Some(m) = Message::parse(&mut self.inbuf).map_err(|e| self.fail(e))? {
                if let Message::NoticeResponse(_) = m {
                    continue;
                }
                return Ok(m);
            }
            let mut chunk = [0u8; 1 << 15];
            let n = self.stream.read(&mut chunk).map_err(|e| self.fail(e))?;
            if n == 0 {
                return Err(self.error("the server closed the connection"));
            }
            self.inbuf.extend_from_slice(&chunk[..n]);
        }
    }

    fn fail(&self, e: std::io::Error) -> Error {
        self.error(&e.to_string())
    }

    fn error(&self, message: &str) -> Error {
        Error::Service {
            url: self.url.clone(),
            message: message.to_owned(),
        }
    }

    /// The server's error as `SEVERITY: message (detail; hint)`.
    fn server_error(
        &self,
        mut fields: postgres_protocol::message::backend::ErrorFields<'_>,
    ) -> Error {
        let (mut msg, mut detail, mut hint, mut code) = (String::new(), None, None, None);
        while let Ok(Some(f)) = fields.next() {
            let v = String::from_utf8_lossy(f.value_bytes()).into_owned();
            match f.type_() {
                b'M' => msg = v,
                b'D' => detail = Some(v),
                b'H' => hint = Some(v),
                b'C' => code = Some(v),
                _ => {}
            }
        }
        let mut m = msg;
        for extra in [detail, hint].into_iter().flatten() {
            m.push_str(&format!("; {extra}"));
        }
        if let Some(c) = code {
            m.push_str(&format!(" (SQLSTATE {c})"));
        }
        self.error(&m)
    }
}

/// Column `col` of a result's first row, as text.
pub fn first_row(rows: &[Vec<Option<String>>], col: usize) -> Option<&str> {
    rows.first()?.get(col)?.as_deref()
}

/// Whether `e` is the server's unique violation (SQLSTATE 23505), as [`Conn`] words it.
pub fn is_unique_violation(e: &Error) -> bool {
    matches!(e, Error::Service { message, .. } if message.ends_with("(SQLSTATE 23505)"))
}

/// A SQL identifier, quoted.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_defaults_and_decoding() {
        let u = PgUrl::parse("postgresql://ann:p%40ss@db.example:6543/vec").unwrap();
        assert_eq!(
            (
                u.user.as_str(),
                u.password.as_deref(),
                u.host.as_str(),
                u.port,
                u.dbname.as_str()
            ),
            ("ann", Some("p@ss"), "db.example", 6543, "vec")
        );
        let u = PgUrl::parse("postgres://bob@127.0.0.1/").unwrap();
        assert_eq!((u.port, u.dbname.as_str()), (5432, "bob"));
        assert!(PgUrl::parse("http://x").is_err());
        let e = PgUrl::parse("postgresql://a:secret@h/d?sslmode=sure")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sslmode sure") && !e.contains("secret"), "{e}");
        let u = PgUrl::parse("postgresql://h/d?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem")
            .unwrap();
        assert_eq!(
            (u.ssl, u.ssl_root.as_deref()),
            (SslMode::VerifyFull, Some("/etc/ca.pem"))
        );
        assert_eq!(
            redact_url("postgresql://a:secret@h/d"),
            "postgresql://a:***@h/d"
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident(r#"my "t""#), r#""my ""t""""#);
    }
}
