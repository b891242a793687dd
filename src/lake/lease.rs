//! The writer lease of a lake: one chatql writer at a time. A run commits several Delta
//! tables and deduplicates against what the lake holds, so two appends at once must not
//! interleave: the second would not see the first's conversations and add them again.
//! Delta's own conflict check cannot catch that (blind appends never conflict), so chatql
//! writers take turns through `LAKE/_chatql_lease.json`, created only if absent (the same
//! put-if-absent a Delta commit uses). Readers never take it.
//!
//! The holder refreshes the file's time every few seconds. A lease whose process is gone
//! (same host, no such pid) or that has not been refreshed for [`STALE`] is broken by the
//! next writer, which then repairs what the dead one left ([`super::append`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The lease's file name in the lake folder.
pub const FILE: &str = "_chatql_lease.json";

/// A lease not refreshed for this long is abandoned.
pub const STALE: Duration = Duration::from_secs(30);

/// How often the holder refreshes it.
const BEAT: Duration = Duration::from_secs(3);

/// Who holds a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Holder {
    host: String,
    pid: u32,
    since: String,
}

/// Where a lease is held.
#[derive(Clone)]
enum Place {
    /// A file in a local lake.
    File(PathBuf),
    /// An object in a lake in object storage.
    Object(crate::store::Remote),
}

/// How long a writer (an append, a compaction) waits for another writer of the lake.
pub const LEASE_WAIT: Duration = Duration::from_secs(15 * 60);

/// A held lease; released on drop.
pub struct Lease {
    place: Place,
    stop: Arc<AtomicBool>,
    beat: Option<std::thread::JoinHandle<()>>,
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

impl Place {
    /// Creates the lease if absent; whether this call created it.
    fn take(&self, text: &[u8]) -> Result<bool> {
        match self {
            Place::File(path) => match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut f) => {
                    f.write_all(text).map_err(|e| Error::io(path, e))?;
                    Ok(true)
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(Error::io(path, e)),
            },
            Place::Object(remote) => remote.put_if_absent(FILE, text.to_vec()),
        }
    }

    /// Breaks the lease if its holder is gone; whether it did.
    fn break_abandoned(&self) -> Result<bool> {
        match self {
            Place::File(path) => match abandoned(path) {
                Some(holder) => break_lease(path, &holder).map(|()| true),
                None => Ok(false),
            },
            // Hosts differ, so there is no process check: only the refresh time tells.
            Place::Object(remote) => {
                if remote.age(FILE)?.is_some_and(|age| age > STALE) {
                    remote.delete(FILE)?;
                    return Ok(true);
                }
                Ok(false)
            }
        }
    }

    /// The lease's location and its holder, for the message of a writer that gave up.
    fn describe(&self) -> (PathBuf, String, String) {
        match self {
            Place::File(path) => (
                path.parent().unwrap_or(path).to_owned(),
                std::fs::read_to_string(path).unwrap_or_default(),
                path.display().to_string(),
            ),
            Place::Object(remote) => (
                PathBuf::from(&remote.url),
                String::from_utf8_lossy(&remote.get(FILE).unwrap_or_default()).into_owned(),
                format!("{}/{FILE}", remote.url),
            ),
        }
    }
}

impl Lease {
    /// Takes the lease of the lake in `lake`, waiting up to `wait` for another writer.
    pub fn acquire(lake: &Path, wait: Duration) -> Result<Lease> {
        Lease::acquire_at(Place::File(lake.join(FILE)), wait)
    }

    /// Takes the lease of the lake in object storage at `remote`: the object
    /// `_chatql_lease.json`, created only if absent.
    pub fn acquire_remote(remote: &crate::store::Remote, wait: Duration) -> Result<Lease> {
        Lease::acquire_at(Place::Object(remote.clone()), wait)
    }

    fn acquire_at(place: Place, wait: Duration) -> Result<Lease> {
        let me = Holder {
            host: host(),
            pid: std::process::id(),
            since: crate::model::format_timestamp_pg(crate::model::now_us()),
        };
        let text = serde_json::to_vec(&me).expect("serializable");
        let started = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            if place.take(&text)? {
                return Ok(Lease::hold(place));
            }
            if place.break_abandoned()? {
                continue;
            }
            if started.elapsed() > wait {
                let (lake, who, at) = place.describe();
                return Err(Error::Write {
                    path: lake,
                    source: format!(
                        "another chatql is writing this lake ({}); waited {} s. If no \
                         writer is running, delete {at}",
                        who.trim(),
                        wait.as_secs(),
                    )
                    .into(),
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    fn hold(place: Place) -> Lease {
        let stop = Arc::new(AtomicBool::new(false));
        let beat = {
            let (stop, place) = (stop.clone(), place.clone());
            std::thread::spawn(move || {
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    if last.elapsed() >= BEAT {
                        last = Instant::now();
                        refresh(&place);
                    }
                }
            })
        };
        Lease {
            place,
            stop,
            beat: Some(beat),
        }
    }
}

/// Tells other writers the holder is alive.
fn refresh(place: &Place) {
    match place {
        Place::File(path) => {
            if let Ok(f) = std::fs::OpenOptions::new().append(true).open(path) {
                let _ = f.set_modified(SystemTime::now());
            }
        }
        Place::Object(remote) => {
            if let Ok(text) = remote.get(FILE) {
                let _ = remote.put(FILE, text);
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(b) = self.beat.take() {
            let _ = b.join();
        }
        match &self.place {
            Place::File(path) => {
                let _ = std::fs::remove_file(path);
            }
            Place::Object(remote) => {
                let _ = remote.delete(FILE);
            }
        }
    }
}

/// The holder of the lease at `path` if it is abandoned: its process is gone, or it was not
/// refreshed for [`STALE`].
fn abandoned(path: &Path) -> Option<Holder> {
    let text = std::fs::read_to_string(path).ok()?;
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
    let age = SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default();
    let holder: Option<Holder> = serde_json::from_str(&text).ok();
    let dead = holder.as_ref().is_some_and(|h| {
        h.host == host()
            && Path::new("/proc/self").exists()
            && !Path::new(&format!("/proc/{}", h.pid)).exists()
    });
    // A lease file still empty is being written by its creator, unless it is old.
    if dead || age > STALE {
        return Some(holder.unwrap_or(Holder {
            host: String::new(),
            pid: 0,
            since: String::new(),
        }));
    }
    None
}

/// Removes the abandoned lease at `path`, if it is still the one `holder` held: under a
/// short-lived breaker file, so that of two writers breaking it at once only one does, and
/// never the fresh lease the other has taken since.
fn break_lease(path: &Path, holder: &Holder) -> Result<()> {
    let breaker = path.with_extension("break");
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&breaker)
    {
        Ok(_) => {
            if abandoned(path).as_ref() == Some(holder) {
                let _ = std::fs::remove_file(path);
            }
            let _ = std::fs::remove_file(&breaker);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // Someone else is breaking it; a breaker left by a killed process goes stale.
            let old = std::fs::metadata(&breaker)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .is_some_and(|age| age > Duration::from_secs(10));
            if old {
                let _ = std::fs::remove_file(&breaker);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(e) => return Err(Error::io(&breaker, e)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_a_dead_one_is_broken() {
        let dir = tempfile::tempdir().unwrap();
        let a = Lease::acquire(dir.path(), Duration::from_secs(5)).unwrap();
        let err = Lease::acquire(dir.path(), Duration::from_millis(200))
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("another chatql is writing"),
            "{err}"
        );
        drop(a);
        assert!(!dir.path().join(FILE).exists());
        // A lease of a process that no longer exists, on this host.
        let dead = Holder {
            host: host(),
            pid: u32::MAX - 1,
            since: String::new(),
        };
        std::fs::write(dir.path().join(FILE), serde_json::to_string(&dead).unwrap()).unwrap();
        let b = Lease::acquire(dir.path(), Duration::from_secs(5)).unwrap();
        let now: Holder =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(FILE)).unwrap()).unwrap();
        assert_eq!(now.pid, std::process::id());
        drop(b);
    }
}
