//! A small HTTP load generator for `benches/serve.sh`: `C` clients on loopback, each sending
//! `N` GET requests one after another (a new connection per request, as a browser's first
//! visit), cycling through the paths given; prints requests per second and latency
//! percentiles. Std only, so it measures the server rather than a client library.
//!
//!   cargo run --release --example load -- HOST:PORT CLIENTS REQUESTS PATH...

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn get(addr: &str, path: &str) -> std::io::Result<(u16, usize)> {
    let mut s = TcpStream::connect(addr)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut body = Vec::new();
    s.read_to_end(&mut body)?;
    let status = std::str::from_utf8(&body[..body.len().min(16)])
        .ok()
        .and_then(|h| h.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, body.len()))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: load HOST:PORT CLIENTS REQUESTS PATH...");
        std::process::exit(2);
    }
    let addr = args[0].clone();
    let clients: usize = args[1].parse().expect("CLIENTS");
    let requests: usize = args[2].parse().expect("REQUESTS");
    let paths: Vec<String> = args[3..].to_vec();
    // One warm-up pass, unmeasured.
    for p in &paths {
        let _ = get(&addr, p);
    }
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (addr, paths) = (addr.clone(), paths.clone());
            std::thread::spawn(move || {
                let mut lat = Vec::with_capacity(requests);
                let mut bad = 0;
                for r in 0..requests {
                    let p = &paths[(c + r) % paths.len()];
                    let t = Instant::now();
                    match get(&addr, p) {
                        Ok((200, _)) => {}
                        _ => bad += 1,
                    }
                    lat.push(t.elapsed());
                }
                (lat, bad)
            })
        })
        .collect();
    let mut all: Vec<Duration> = Vec::new();
    let mut bad = 0;
    for h in handles {
        let (l, b) = h.join().expect("client thread");
        all.extend(l);
        bad += b;
    }
    let wall = start.elapsed();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1];
    println!(
        "{} requests, {clients} clients: {:.0} req/s, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {bad} not 200",
        all.len(),
        all.len() as f64 / wall.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.95).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        all.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    );
}
