//! Processes the tests start beside the binary: a Ballista cluster of chatql's own
//! scheduler and executors on loopback, and the check for an optional Python package that
//! skips a test here and fails it in CI (`.ci/run` sets the `CHATQL_REQUIRE_*` variable).

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nothing listens on now, and never handed out before in this test binary: tests
/// run at once, and two servers given the same port would answer each other's requests.
pub fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if given.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
}

/// Waits (up to a minute) until something listens on `port`.
pub fn wait_for(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A plain HTTP/1.1 request to a server on loopback `port`; the status code (0 if none).
pub fn http(port: u16, method: &str, path: &str, body: &[u8]) -> u16 {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    String::from_utf8_lossy(&resp)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Whether `python3 -c check` succeeds. When it does not: a test failure if `require` is
/// set in the environment, else a note that the test is skipped.
pub fn python_has(check: &str, require: &str, what: &str) -> bool {
    let have = Command::new("python3")
        .args(["-c", check])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        assert!(
            std::env::var_os(require).is_none(),
            "{require} is set but `python3 -c '{check}'` failed: install {what}"
        );
        eprintln!("skipped: {what} is not installed");
    }
    have
}

/// Scheduler and executor processes, stopped on drop.
pub struct Cluster {
    children: Vec<Child>,
    /// `df://host:port` of the scheduler.
    pub url: String,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Cluster {
    /// A scheduler and `executors` executors of `cores` task slots each, each started from
    /// `chatql()` (the binary with the environment the test wants them to have).
    pub fn start(chatql: impl Fn() -> Command, executors: usize, cores: usize) -> Cluster {
        let sched = free_port();
        let mut cluster = Cluster {
            children: Vec::new(),
            url: format!("df://127.0.0.1:{sched}"),
        };
        let spawn = |args: &[String]| {
            chatql()
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let sched_addr = format!("127.0.0.1:{sched}");
        cluster.children.push(spawn(&[
            "cluster".into(),
            "scheduler".into(),
            "--bind".into(),
            sched_addr.clone(),
        ]));
        wait_for(sched);
        for _ in 0..executors {
            let (flight, grpc) = (free_port(), free_port());
            cluster.children.push(spawn(&[
                "cluster".into(),
                "executor".into(),
                "--scheduler".into(),
                sched_addr.clone(),
                "--bind".into(),
                format!("127.0.0.1:{flight}"),
                "--grpc-port".into(),
                grpc.to_string(),
                "--cores".into(),
                cores.to_string(),
            ]));
            wait_for(flight);
            wait_for(grpc);
        }
        cluster
    }
}
