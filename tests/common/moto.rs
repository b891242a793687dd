//! A moto server (`python3 -m moto.server`, which `.ci/run` installs) on loopback: the
//! S3-compatible store of `tests/s3.rs`. It takes unsigned requests, so buckets are made and
//! inputs uploaded with plain HTTP.

use std::process::{Child, Command, Stdio};

use super::procs::{free_port, http, python_has, wait_for};

/// A moto server on a free loopback port, stopped on drop.
pub struct Moto {
    child: Child,
    /// Its loopback port.
    pub port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_moto() -> Option<Moto> {
    start_moto_with(&[])
}

/// The moto server command: `python3 -m moto.server` (found wherever pip put the package,
/// even when its `moto_server` script is not on the PATH).
fn moto() -> Command {
    let mut c = Command::new("python3");
    c.args(["-m", "moto.server"]);
    c
}

/// A moto server with `env` set.
pub fn start_moto_with(env: &[(&str, &str)]) -> Option<Moto> {
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
    // Listening is not answering: under load the server takes connections before it can
    // serve them (an empty reply). Wait for a real HTTP answer.
    let start = std::time::Instant::now();
    while http(port, "GET", "/", b"") == 0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "moto on {port} never answered"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Some(Moto { child, port })
}

impl Moto {
    /// A plain HTTP request (moto takes unsigned requests); the status code.
    pub fn http(&self, method: &str, path: &str, body: &[u8]) -> u16 {
        http(self.port, method, path, body)
    }

    /// Creates bucket `name`.
    pub fn make_bucket(&self, name: &str) {
        assert_eq!(self.http("PUT", &format!("/{name}"), b""), 200);
    }

    /// Uploads the local `file` as `key` in `bucket`.
    pub fn put(&self, bucket: &str, key: &str, file: &str) {
        let bytes = std::fs::read(file).unwrap();
        assert_eq!(self.http("PUT", &format!("/{bucket}/{key}"), &bytes), 200);
    }
}
