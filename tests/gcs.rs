//! Lakes and inputs in Google Cloud Storage (feature `gcs`). No GCS emulator that honours
//! `x-goog-if-generation-match` installs from the registries this project uses, so a small
//! stand-in of the XML API the `object_store` client speaks (`tests/data/fake_gcs.py`:
//! generations, preconditions, ranged reads, listing, multipart uploads) serves on loopback,
//! reached the way GCS emulators are: a service-account key with `gcs_base_url` and
//! `disable_oauth`. The same end-to-end tests as S3 and Azure (`common/stores.rs`) run on
//! it, concurrent appends included, plus the missing-credential error.
//!
//! `cargo test --features gcs --test gcs` (needs only `python3`).

use std::process::{Child, Command, Stdio};

mod common;

use common::procs::http;
use common::stores::Server;

/// The stand-in on a free loopback port, stopped on drop.
struct FakeGcs {
    child: Child,
    port: u16,
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> FakeGcs {
    // The server binds a port of the system's choosing and prints it once it listens: a
    // port picked here and bound there could be taken by a test running at the same time.
    let mut child = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/fake_gcs.py"
        ))
        .arg("0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let port = line.trim().parse().expect("the stand-in prints its port");
    FakeGcs { child, port }
}

impl Server for FakeGcs {
    fn scheme(&self) -> &'static str {
        "gs"
    }

    fn chatql(&self) -> Command {
        let key = format!(
            r#"{{"gcs_base_url": "http://127.0.0.1:{}", "disable_oauth": true,
                "client_email": "", "private_key": "", "private_key_id": ""}}"#,
            self.port
        );
        let mut c = Command::new(env!("CARGO_BIN_EXE_chatql"));
        c.env("GOOGLE_SERVICE_ACCOUNT_KEY", key)
            .env("GOOGLE_ALLOW_HTTP", "true")
            .env("CHATQL_STORE_CACHE_DIR", common::store_copies());
        c
    }

    fn bucket(&self, name: &str) {
        assert_eq!(http(self.port, "PUT", &format!("/{name}"), b""), 200);
    }

    fn upload(&self, bucket: &str, key: &str, file: &str) {
        let bytes = std::fs::read(file).unwrap();
        assert_eq!(
            http(self.port, "PUT", &format!("/{bucket}/{key}"), &bytes),
            200
        );
    }
}

store_tests!(Some(start()));

#[test]
fn a_missing_credential_is_refused_before_any_request() {
    // No credential at all, off Google's cloud: refused before any request.
    let out = Command::new(env!("CARGO_BIN_EXE_chatql"))
        .args(["sql", "select 1", "gs://b/lake"])
        .env("HOME", common::scratch("gcs-home"))
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env_remove("GOOGLE_SERVICE_ACCOUNT")
        .env_remove("GOOGLE_SERVICE_ACCOUNT_KEY")
        .env_remove("GCE_METADATA_HOST")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("gs://b/lake") && e.contains("no Google credentials"),
        "{e}"
    );
}
