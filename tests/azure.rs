//! Lakes and inputs in Azure Blob Storage (feature `azure`), against Azurite, Microsoft's
//! own emulator, on loopback (`.ci/run` installs it from the npm registry and points
//! `CHATQL_AZURITE` at its `azurite-blob`; the Python `azure-storage-blob` package makes the
//! containers and uploads the inputs): the same end-to-end tests as S3 (`common/stores.rs`),
//! through the same code path, plus the Azure-specific errors.
//!
//! `cargo test --features azure --test azure`; skipped (or, under `CHATQL_REQUIRE_AZURE`,
//! failed) when Azurite or the Python package is missing.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

use common::procs::{free_port, python_has, wait_for};
use common::stores::Server;
use common::{scratch, testdata};

/// Azurite's Blob service on a free loopback port, in memory, stopped on drop.
struct Azurite {
    child: Child,
    port: u16,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `azurite-blob` command: `CHATQL_AZURITE`, else on the PATH.
fn azurite_command() -> Option<Command> {
    let exe = std::env::var_os("CHATQL_AZURITE").unwrap_or_else(|| "azurite-blob".into());
    let found = Command::new(&exe)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CHATQL_REQUIRE_AZURE").is_none(),
            "CHATQL_REQUIRE_AZURE is set but {exe:?} does not run: npm install azurite"
        );
        eprintln!("skipped: azurite is not installed");
        return None;
    }
    Some(Command::new(exe))
}

fn start_azurite() -> Option<Azurite> {
    let mut cmd = azurite_command()?;
    if !python_has(
        "import azure.storage.blob",
        "CHATQL_REQUIRE_AZURE",
        "azure-storage-blob",
    ) {
        return None;
    }
    let port = free_port();
    let child = cmd
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
        .args(["--inMemoryPersistence", "--skipApiVersionCheck", "--silent"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(port);
    Some(Azurite { child, port })
}

impl Azurite {
    /// Runs Python against the emulator with `service` bound to its account.
    fn python(&self, code: &str) {
        let script = format!(
            "from azure.storage.blob import BlobServiceClient\n\
             service = BlobServiceClient.from_connection_string(\
             'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;\
             AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;\
             BlobEndpoint=http://127.0.0.1:{}/devstoreaccount1;')\n{code}\n",
            self.port
        );
        let out = Command::new("python3")
            .args(["-c", &script])
            .output()
            .unwrap();
        common::assert_ok(&out, "");
    }
}

impl Server for Azurite {
    fn scheme(&self) -> &'static str {
        "az"
    }

    fn chatql(&self) -> Command {
        chatql_at(self.port)
    }

    fn bucket(&self, name: &str) {
        self.python(&format!("service.create_container('{name}')"));
    }

    fn upload(&self, bucket: &str, key: &str, file: &str) {
        self.python(&format!(
            "with open({file:?}, 'rb') as f:\n    \
             service.get_blob_client('{bucket}', '{key}').upload_blob(f)"
        ));
    }
}

/// chatql with the Azure environment of the emulator on loopback port `port`.
fn chatql_at(port: u16) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chatql"));
    c.env("AZURE_STORAGE_USE_EMULATOR", "true")
        .env(
            "AZURITE_BLOB_STORAGE_URL",
            format!("http://127.0.0.1:{port}"),
        )
        .env_remove("AZURE_STORAGE_ACCOUNT_KEY")
        .env("CHATQL_STORE_CACHE_DIR", common::store_copies());
    c
}

store_tests!(start_azurite());

#[test]
fn a_missing_credential_or_a_wrong_key_is_a_clear_error() {
    let Some(m) = start_azurite() else { return };
    // No credential at all, off Azure: refused before any request.
    let out = Command::new(env!("CARGO_BIN_EXE_chatql"))
        .args(["sql", "select 1", "az://c/lake"])
        .env("AZURE_STORAGE_ACCOUNT_NAME", "someone")
        .env_remove("AZURE_STORAGE_USE_EMULATOR")
        .env_remove("AZURE_STORAGE_ACCOUNT_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("az://c/lake") && e.contains("no Azure credentials"),
        "{e}"
    );
    // A wrong account key: refused quickly, the key never printed.
    m.bucket("keyed");
    let wrong = "d3JvbmctYnV0LXdlbGwtZm9ybWVkLWJhc2U2NC1rZXk=";
    let dir = scratch("az-key");
    let lake = dir.join("lake");
    let (out, took) = {
        let started = std::time::Instant::now();
        let out = m
            .chatql()
            .args(["convert", "-q", &testdata("convos-2023-r.jsonl")])
            .args(["-o", "az://keyed/lake"])
            .env("AZURE_STORAGE_ACCOUNT_KEY", wrong)
            .output()
            .unwrap();
        (out, started.elapsed())
    };
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("az://keyed/lake"), "{e}");
    assert!(e.contains("access denied") || e.contains("403"), "{e}");
    assert!(!e.contains(wrong), "the key is never printed: {e}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(!lake.exists());
    // The emulator goes away: a clear error, soon.
    let port = m.port;
    drop(m);
    let started = std::time::Instant::now();
    let out = chatql_at(port)
        .args(["convert", "-q", &testdata("convos-2023-r.jsonl")])
        .args(["-o", "az://gone/lake"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(String::from_utf8_lossy(&out.stderr).contains("az://gone/lake"));
}
