//! `chatql serve`: the app of [`chatql::serve`] on a socket. A few threads take requests
//! from a blocking HTTP/1.1 server (tiny_http) and answer each with the app, run on the
//! binary's runtime; Ctrl-C stops it (the interrupt handler removes the session's spool).

use std::io::Write;
use std::sync::Arc;

use anyhow::Result;
use chatql::query::CatalogOptions;
use chatql::serve::http::{Request, SECURITY_HEADERS};
use chatql::serve::{App, ServeOptions};

use super::progress::InputBar;
use super::{AsOfArgs, ReadArgs, TzArgs};

/// Threads answering requests.
const WORKERS: usize = 8;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  chatql serve lake/                    (then open http://127.0.0.1:8001/)
  chatql serve export.zip --port 0      (a free port, printed)
  chatql serve lake/ --tz America/Chicago --open")]
pub struct ServeArgs {
    /// Raw exports, or folders written by `chatql convert` (local or in a store).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    /// Address to listen on. Anything but a loopback address lets others on the network
    /// read students' questions.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port (0: a free one, printed).
    #[arg(long, default_value_t = 8001)]
    port: u16,
    /// Open the page in the browser once ready.
    #[arg(long)]
    open: bool,
    /// Show users' real emails (default: stable pseudonyms, keyed by CHATQL_REDACT_KEY or
    /// at random for this run).
    #[arg(long)]
    show_emails: bool,
    /// Key of the pseudonyms.
    #[arg(
        long,
        value_name = "KEY",
        env = "CHATQL_REDACT_KEY",
        hide_env_values = true
    )]
    redact_key: Option<String>,
    #[command(flatten)]
    tz: TzArgs,
    #[command(flatten)]
    as_of: AsOfArgs,
    #[command(flatten)]
    read: ReadArgs,
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "::1" | "[::1]")
}

pub async fn run(a: ServeArgs) -> Result<()> {
    let server = tiny_http::Server::http((a.host.as_str(), a.port))
        .map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e}", a.host, a.port))?;
    let port = server
        .server_addr()
        .to_ip()
        .map_or(a.port, |addr| addr.port());
    if !is_loopback(&a.host) {
        eprintln!(
            "chatql: WARNING: serving on {}:{port}: anyone who can reach this address can \
             read every conversation{}",
            a.host,
            if a.show_emails {
                ", with real emails"
            } else {
                ""
            }
        );
    }
    let host = if a.host.contains(':') && !a.host.starts_with('[') {
        format!("[{}]", a.host)
    } else {
        a.host.clone()
    };
    let mut hosts = vec![format!("{host}:{port}")];
    if is_loopback(&a.host) {
        hosts.extend([
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ]);
    }
    let opts = ServeOptions {
        catalog: CatalogOptions {
            ingest: a.read.ingest(None),
            tz: a.tz.tz,
            as_of: a.as_of.as_of,
            ..Default::default()
        },
        show_emails: a.show_emails,
        redact_key: a.redact_key.clone().filter(|k| !k.is_empty()),
        hosts,
    };
    let bar = InputBar::start("read", &opts.catalog.ingest.progress, !a.read.quiet);
    let app = Arc::new(App::open(&a.inputs, opts).await?);
    drop(bar);
    let url = format!("http://{host}:{port}/");
    let mut out = std::io::stdout().lock();
    writeln!(out, "{url}").map_err(chatql::Error::Output)?;
    out.flush().map_err(chatql::Error::Output)?;
    drop(out);
    if a.open {
        let _ = std::process::Command::new("xdg-open").arg(&url).spawn();
    }
    let server = Arc::new(server);
    let runtime = tokio::runtime::Handle::current();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (server, app, runtime) = (server.clone(), app.clone(), runtime.clone());
            std::thread::spawn(move || {
                while let Ok(rq) = server.recv() {
                    answer(rq, &app, &runtime);
                }
            })
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        for w in workers {
            let _ = w.join();
        }
    })
    .await?;
    Ok(())
}

/// Answers one request with the app (a client gone mid-answer is its own business).
fn answer(rq: tiny_http::Request, app: &App, runtime: &tokio::runtime::Handle) {
    let host = rq
        .headers()
        .iter()
        .find(|h| h.field.equiv("Host"))
        .map(|h| h.value.as_str().to_owned());
    let req = Request {
        method: rq.method().as_str().to_owned(),
        target: rq.url().to_owned(),
        host,
    };
    let resp = runtime.block_on(app.handle(&req));
    // tiny_http sends no body to a HEAD request, and the length of the one a GET would get.
    let mut out = tiny_http::Response::from_data(resp.body).with_status_code(resp.status);
    let headers = SECURITY_HEADERS
        .iter()
        .map(|(k, v)| (*k, v.to_string()))
        .chain(std::iter::once((
            "Content-Type",
            resp.content_type.to_owned(),
        )))
        .chain(resp.headers);
    for (k, v) in headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            out.add_header(h);
        }
    }
    let _ = rq.respond(out);
}
