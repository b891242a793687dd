//! Lakes and inputs in S3 (feature `s3`), against an S3-compatible server on loopback
//! (moto, which `.ci/run` installs): convert from S3 to S3, append, sql, report, history and
//! export on the S3 lake give exactly the local answers; raw exports (plain, compressed, a
//! zip read in place) are read from the bucket; a missing bucket and a server that is gone
//! fail fast with a clear error and leave nothing behind.
//!
//! `cargo test --features s3 --test s3`; skipped (or, under `CHATQL_REQUIRE_S3`, failed)
//! when `moto_server` is not installed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::procs::{free_port, python_has, wait_for, Cluster};
use common::{scratch, testdata};

/// A moto server on a free loopback port, stopped on drop.
struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto() -> Option<Moto> {
    start_moto_with(&[])
}

/// The moto server command: `python3 -m moto.server` (found wherever pip put the package,
/// even when its `moto_server` script is not on the PATH).
fn moto() -> Command {
    let mut c = Command::new("python3");
    c.args(["-m", "moto.server"]);
    c
}

fn start_moto_with(env: &[(&str, &str)]) -> Option<Moto> {
    if !python_has("import moto.server", "CHATQL_REQUIRE_S3", "moto[server]") {
        return None;
    }
    let port = free_port();
    let child = moto()
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(port);
    Some(Moto { child, port })
}

impl Moto {
    /// A plain HTTP request (moto takes unsigned requests); the status code.
    fn http(&self, method: &str, path: &str, body: &[u8]) -> u16 {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            self.port,
            body.len()
        )
        .unwrap();
        s.write_all(body).unwrap();
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        resp.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    fn bucket(&self, name: &str) {
        assert_eq!(self.http("PUT", &format!("/{name}"), b""), 200);
    }

    fn upload(&self, bucket: &str, key: &str, file: &str) {
        let bytes = std::fs::read(file).unwrap();
        assert_eq!(self.http("PUT", &format!("/{bucket}/{key}"), &bytes), 200);
    }

    fn chatql(&self) -> Command {
        chatql_at(self.port)
    }

    /// Runs chatql with `args`; asserts success; stdout.
    fn run(&self, args: &[&str]) -> String {
        let out = self.chatql().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str]) -> (Output, Duration) {
        let started = Instant::now();
        let out = self.chatql().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        (out, started.elapsed())
    }
}

/// chatql with the AWS environment of a store on loopback port `port`.
fn chatql_at(port: u16) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chatql"));
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    c
}

const QUERIES: &[&str] = &[
    "select count(*), count(distinct convo_id), sum(message_count) from conversations",
    "select convo_id, message_index, role, content from messages order by 1, 2",
    "select doc_id, chunk_index, vector_norm(embedding) from chunks order by 1, 2",
    "select course, month, count(*) from conversations group by 1, 2 order by 1, 2",
];

fn csv(m: &Moto, sql: &str, input: &str, extra: &[&str]) -> String {
    let mut args = vec!["sql", sql, input, "--format", "csv"];
    args.extend(extra);
    m.run(&args)
}

#[test]
fn a_lake_in_s3_answers_like_the_same_lake_on_disk() {
    let Some(m) = start_moto() else { return };
    m.bucket("lakes");
    let dir = scratch("lake");
    let local = dir.join("local");
    let l = local.to_str().unwrap();
    let s3 = "s3://lakes/course-lake";
    let run1 = testdata("convos-2023-r.jsonl");
    let all = testdata("");
    for out in [l, s3] {
        m.run(&[
            "convert",
            "-q",
            &run1,
            "-o",
            out,
            "--partition-by",
            "course,month",
        ]);
        m.run(&["convert", "-q", &all, "-o", out, "--append"]);
    }
    for sql in QUERIES {
        assert_eq!(csv(&m, sql, s3, &[]), csv(&m, sql, l, &[]), "{sql}");
    }
    assert_eq!(
        csv(&m, "select count(*) n from conversations", s3, &[]),
        "n\n21\n"
    );
    // Time travel reads the first version from the bucket.
    assert_eq!(
        csv(
            &m,
            "select count(*) n from conversations",
            s3,
            &["--as-of", "0"]
        ),
        "n\n3\n"
    );
    // Reports and exports read the same.
    let report = |lake: &str| m.run(&["report", lake, "--format", "json"]);
    assert_eq!(report(s3), report(l));
    let e_local = dir.join("local.jsonl");
    let e_s3 = dir.join("s3.jsonl");
    m.run(&[
        "export",
        l,
        "--to",
        "uiuc-rows",
        "-o",
        e_local.to_str().unwrap(),
    ]);
    m.run(&[
        "export",
        s3,
        "--to",
        "uiuc-rows",
        "-o",
        e_s3.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(&e_s3).unwrap(),
        std::fs::read_to_string(&e_local).unwrap()
    );
    // The history is the lake's, runs and all.
    let h = m.run(&["history", s3, "--json"]);
    let h: serde_json::Value = serde_json::from_str(&h).unwrap();
    assert_eq!(h["version"], 1);
    assert_eq!(h["runs"][1]["already_in_lake"]["conversations"], 2);
    // An append of the same again adds nothing.
    m.run(&["convert", "-q", &all, "-o", s3, "--append"]);
    assert_eq!(
        csv(
            &m,
            "select count(*) n, count(distinct convo_id) d from conversations",
            s3,
            &[]
        ),
        "n,d\n21,21\n"
    );
    // A new lake over an existing one is refused.
    let (out, _) = m.fails(&["convert", "-q", &run1, "-o", s3]);
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn appends_at_once_to_a_lake_in_s3_keep_every_conversation_once() {
    let Some(m) = start_moto() else { return };
    m.bucket("race");
    let s3 = "s3://race/lake";
    let inputs = [
        testdata("convos-2023-r.jsonl"),
        testdata("ECE110-convos.zip"),
        testdata(""),
    ];
    let children: Vec<_> = inputs
        .iter()
        .map(|i| {
            m.chatql()
                .args(["convert", "-q", i, "-o", s3, "--append"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        csv(
            &m,
            "select count(*) n, count(distinct convo_id) d from conversations",
            s3,
            &[]
        ),
        "n,d\n21,21\n"
    );
}

#[test]
fn raw_exports_are_read_from_the_bucket() {
    let Some(m) = start_moto() else { return };
    m.bucket("raw");
    for f in [
        "convos-2023-r.jsonl",
        "ECE110-convos.zip",
        "convos-2025-r-epoch.jsonl.gz",
        "my-project_documents.jsonl.zst",
        "ECE120_documents.jsonl",
    ] {
        m.upload("raw", &format!("exports/{f}"), &testdata(f));
    }
    let local = scratch("raw");
    for f in [
        "convos-2023-r.jsonl",
        "ECE110-convos.zip",
        "convos-2025-r-epoch.jsonl.gz",
        "my-project_documents.jsonl.zst",
        "ECE120_documents.jsonl",
    ] {
        std::fs::copy(testdata(f), local.join(f)).unwrap();
    }
    let sql = "select count(*), count(distinct convo_id), sum(message_count) from conversations";
    let s3 = csv(&m, sql, "s3://raw/exports/", &[]);
    assert_eq!(s3, csv(&m, sql, local.to_str().unwrap(), &[]));
    let docs = "select count(*), sum(chunk_count) from documents";
    assert_eq!(
        csv(&m, docs, "s3://raw/exports/", &[]),
        csv(&m, docs, local.to_str().unwrap(), &[])
    );
    // Rows name the object they came from.
    let names = csv(
        &m,
        "select distinct source_file from conversations order by 1",
        "s3://raw/exports/",
        &[],
    );
    assert!(
        names.contains("s3://raw/exports/ECE110-convos.zip!"),
        "{names}"
    );
    // And a single object, converted from S3 into S3.
    m.bucket("out");
    m.run(&[
        "convert",
        "-q",
        "s3://raw/exports/convos-2023-r.jsonl",
        "-o",
        "s3://out/lake",
    ]);
    assert_eq!(
        csv(
            &m,
            "select count(*) n from conversations",
            "s3://out/lake",
            &[]
        ),
        "n\n3\n"
    );
}

#[test]
fn a_missing_bucket_or_a_dead_server_is_a_clear_error_and_writes_nothing() {
    let Some(m) = start_moto() else { return };
    let input = testdata("convos-2023-r.jsonl");
    let (out, took) = m.fails(&["convert", "-q", &input, "-o", "s3://no-such-bucket/lake"]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("s3://no-such-bucket/lake"), "{e}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let (out, _) = m.fails(&["sql", "select 1", "s3://no-such-bucket/raw.jsonl"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no-such-bucket"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No key at all, and the instance may not be asked: refused before any request.
    let out = Command::new(env!("CARGO_BIN_EXE_chatql"))
        .args(["sql", "select 1", "s3://b/lake"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no AWS credentials"));
    // Credentials from a profile of the shared files, as the AWS CLI reads them.
    let dir = scratch("profile");
    std::fs::write(
        dir.join("credentials"),
        "[other]\naws_access_key_id = x\n[lab]\naws_access_key_id = testing\n\
         aws_secret_access_key = testing\n",
    )
    .unwrap();
    std::fs::write(dir.join("config"), "[profile lab]\nregion = us-east-1\n").unwrap();
    m.bucket("profile");
    let out = m
        .chatql()
        .args(["convert", "-q", &input, "-o", "s3://profile/lake"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_REGION")
        .env("AWS_PROFILE", "lab")
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"))
        .env("AWS_CONFIG_FILE", dir.join("config"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The server goes away: a clear error, soon.
    m.bucket("gone");
    let port = m.port;
    drop(m);
    let started = Instant::now();
    let out = chatql_at(port)
        .args(["convert", "-q", &input, "-o", "s3://gone/lake"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(String::from_utf8_lossy(&out.stderr).contains("s3://gone/lake"));
}

/// A Ballista cluster reads a lake in S3 with no shared file system: the scheduler plans
/// from the lake's files in the bucket, executors read them from the bucket, the client
/// sends no data.
#[cfg(feature = "cluster")]
#[test]
fn a_cluster_reads_a_lake_in_s3_itself() {
    let Some(m) = start_moto() else { return };
    m.bucket("cluster");
    let s3 = "s3://cluster/lake";
    m.run(&[
        "convert",
        "-q",
        &testdata(""),
        "-o",
        s3,
        "--partition-by",
        "course,month",
    ]);
    let cluster = Cluster::start(|| m.chatql(), 1, 2);
    let remote = cluster.url.clone();
    for sql in QUERIES {
        assert_eq!(
            csv(&m, sql, s3, &["--remote", &remote]),
            csv(&m, sql, s3, &[]),
            "{sql}"
        );
    }
}

#[test]
fn a_wrong_key_is_refused_quickly_and_clearly() {
    // moto checks keys once its first N requests (here none) are past.
    let Some(m) = start_moto_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]) else {
        return;
    };
    let dir = scratch("key");
    let out_file = dir.join("out.jsonl");
    let lake = dir.join("lake");
    for args in [
        vec![
            "sql",
            "select count(*) from conversations",
            "s3://any/exports/",
        ],
        vec![
            "convert",
            "-q",
            "s3://any/exports/x.jsonl",
            "-o",
            lake.to_str().unwrap(),
        ],
        vec![
            "export",
            "s3://any/lake",
            "--to",
            "openai",
            "-o",
            out_file.to_str().unwrap(),
        ],
    ] {
        let (out, took) = m.fails(&args);
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains("s3://any/"), "{args:?}: {e}");
        assert!(
            e.contains("InvalidAccessKeyId") || e.contains("access denied") || e.contains("403"),
            "{args:?}: {e}"
        );
        assert!(!e.contains("testing"), "the secret is never printed: {e}");
        assert!(took < Duration::from_secs(30), "{args:?} took {took:?}");
    }
    assert!(!out_file.exists());
    assert!(!lake.exists());
}

/// A one-object S3 endpoint that answers the HEAD and the first ranged GET, then goes away
/// (closes and stops listening): a server lost in the middle of a read.
fn serve_then_vanish(body: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let total = 64u64 << 20; // claims more than it will ever send
        for served in 0..2 {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&req).to_string();
            let common = "Last-Modified: Sat, 28 Nov 2026 12:00:00 GMT\r\nETag: \"e\"\r\n";
            if head.starts_with("HEAD") {
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n{common}Connection: close\r\n\r\n"
                );
            } else {
                let n = body.len();
                let _ = write!(
                    s,
                    "HTTP/1.1 206 Partial Content\r\nContent-Length: {n}\r\n\
                     Content-Range: bytes 0-{}/{total}\r\n{common}Connection: close\r\n\r\n",
                    n - 1
                );
                let _ = s.write_all(&body);
            }
            let _ = served;
        }
        // Gone: the listener closes here.
    });
    port
}

#[test]
fn a_server_that_goes_away_mid_read_is_an_error_and_leaves_no_lake() {
    let line = std::fs::read_to_string(testdata("convos-2023-r.jsonl")).unwrap();
    let mut first = Vec::new();
    while first.len() < (8 << 20) {
        first.extend_from_slice(line.as_bytes());
    }
    first.truncate(8 << 20);
    let port = serve_then_vanish(first);
    let dir = scratch("gone-mid");
    let lake = dir.join("lake");
    let started = Instant::now();
    let out = chatql_at(port)
        .args([
            "convert",
            "-q",
            "s3://big/export.jsonl",
            "-o",
            lake.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "the read should fail: {e}");
    assert!(e.contains("s3://big/export.jsonl"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(!lake.exists(), "no lake is left behind");
}
