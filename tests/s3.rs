//! Lakes and inputs in S3 (feature `s3`), against an S3-compatible server on loopback
//! (moto, which `.ci/run` installs): convert from S3 to S3, append, sql, report, history and
//! export on the S3 lake give exactly the local answers; raw exports (plain, compressed, a
//! zip read in place) are read from the bucket; a missing bucket and a server that is gone
//! fail fast with a clear error and leave nothing behind.
//!
//! `cargo test --features s3 --test s3`; skipped (or, under `CHATQL_REQUIRE_S3`, failed)
//! when `moto_server` is not installed.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::moto::{start_moto, start_moto_with, Moto};
use common::stores::Server;
use common::{scratch, testdata};

impl Server for Moto {
    fn scheme(&self) -> &'static str {
        "s3"
    }

    fn chatql(&self) -> Command {
        chatql_at(self.port)
    }

    fn bucket(&self, name: &str) {
        self.make_bucket(name);
    }

    fn upload(&self, bucket: &str, key: &str, file: &str) {
        self.put(bucket, key, file);
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
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("CHATQL_STORE_CACHE_DIR", common::store_copies());
    c
}

store_tests!(start_moto());

#[test]
fn missing_credentials_or_a_dead_server_are_clear_errors_and_write_nothing() {
    let Some(m) = start_moto() else { return };
    let input = testdata("convos-2023-r.jsonl");
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
    common::assert_ok(&out, "");
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

#[test]
fn store_requests_run_on_the_callers_runtime_not_a_second_one() {
    // Within a multi-threaded runtime (the binary's), a request from blocking code runs on
    // that runtime's worker: no second runtime, no thread per request.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("caller-worker")
        .enable_all()
        .build()
        .unwrap();
    let on = rt.block_on(async {
        tokio::spawn(async {
            chatql::store::block_on(async { std::thread::current().name().map(str::to_owned) })
        })
        .await
        .unwrap()
    });
    assert_eq!(on.as_deref(), Some("caller-worker"));
    // Off any runtime, a request still completes.
    assert_eq!(chatql::store::block_on(async { 7 }), 7);
}
