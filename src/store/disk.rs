//! Small data files of a lake in a store, kept on local disk between processes. The memory
//! cache ([`super::cache`]) reads each small file once per process; a report run again, a
//! second query from the shell's next session or a notebook's next cell would fetch them all
//! again: on a partitioned lake, hundreds of requests whose cost is their number, not their
//! bytes. A lake's data files never change once written (a Delta table adds and removes
//! files; it never rewrites one), so a copy kept under the file's identity (store, key, and
//! the `add` action's size and modification time) is the file for as long as it is kept.
//!
//! Where: `CHATQL_STORE_CACHE_DIR`, else `$XDG_CACHE_HOME/chatql/store`, else
//! `~/.cache/chatql/store`; `CHATQL_STORE_CACHE_DIR=off` turns it off. Bounded by
//! `CHATQL_STORE_CACHE_DIR_MB` (default 2048): when a process first writes and finds the
//! folder over it, the oldest copies go until it is under three quarters of it.
//!
//! A copy is written to a temporary name and renamed, so a reader never sees half a file; one
//! whose length is not the size the lake's log gives is removed and fetched again. Every
//! failure here (a full disk, a folder not writable) only means the file comes from the store.
//! The folder is made readable by its owner alone: it holds copies of the store's data.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bytes::Bytes;

/// A file of a lake in a store: store base (`s3://bucket`), key, size, modification time.
pub type Id = (String, String, u64, i64);

/// The folder, unless turned off or no home is known.
fn root() -> Option<&'static Path> {
    static R: OnceLock<Option<PathBuf>> = OnceLock::new();
    R.get_or_init(|| {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        match var("CHATQL_STORE_CACHE_DIR") {
            Some(d) if d.as_os_str() == "off" => None,
            Some(d) => Some(d),
            None => var("XDG_CACHE_HOME")
                .or_else(|| var("HOME").map(|h| h.join(".cache")))
                .map(|c| c.join("chatql").join("store")),
        }
    })
    .as_deref()
}

fn budget() -> u64 {
    std::env::var("CHATQL_STORE_CACHE_DIR_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(2048)
        << 20
}

/// Where the copy of `id` is kept: a folder per store (a hash of its base, which is a URL),
/// then the key, whose segments object_store has already made safe as path segments, with
/// the size and modification time appended.
fn place(root: &Path, id: &Id) -> PathBuf {
    let (base, key, size, modified) = id;
    let mut p = root.join(format!("{:016x}", fnv1a(base.as_bytes())));
    p.push(format!("{key}.{size}-{modified}"));
    p
}

/// FNV-1a, 64 bits: stable across builds (unlike std's hasher), so copies outlive upgrades.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Where `id`'s copy goes, unless copies are off or the file is on local disk already (a
/// lake on disk, store base `""`).
fn place_of(id: &Id) -> Option<(&'static Path, PathBuf)> {
    let root = root().filter(|_| !id.0.is_empty())?;
    Some((root, place(root, id)))
}

/// The kept copy of `id`, if there is one of the right length.
pub async fn read(id: &Id) -> Option<Bytes> {
    let (_, path) = place_of(id)?;
    let size = id.2;
    tokio::task::spawn_blocking(move || {
        let bytes = std::fs::read(&path).ok()?;
        if bytes.len() as u64 != size {
            let _ = std::fs::remove_file(&path);
            return None;
        }
        Some(Bytes::from(bytes))
    })
    .await
    .ok()
    .flatten()
}

/// Keeps a copy of `id`'s `bytes` (checked by the caller against the log's size), in the
/// background; failures are ignored.
pub fn write(id: &Id, bytes: Bytes) {
    let Some((root, path)) = place_of(id) else {
        return;
    };
    tokio::task::spawn_blocking(move || {
        static TRIMMED: OnceLock<()> = OnceLock::new();
        TRIMMED.get_or_init(|| trim(root, budget()));
        let _ = keep(root, &path, &bytes);
    });
}

fn keep(root: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)?;
    let dir = path.parent().unwrap_or(root);
    std::fs::create_dir_all(dir)?;
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".tmp-{}-{n}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Removes the oldest copies under `root` until they total under three quarters of `budget`,
/// when they total more than it.
fn trim(root: &Path, budget: u64) {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else if let Ok(t) = meta.modified() {
                files.push((t, meta.len(), e.path()));
            }
        }
    }
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    if total <= budget {
        return;
    }
    files.sort();
    for (_, len, path) in files {
        if total <= budget / 4 * 3 {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total -= len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_per_store_and_per_version() {
        let root = Path::new("/c");
        let a = place(root, &("s3://a".into(), "t/x.parquet".into(), 10, 5));
        let b = place(root, &("s3://b".into(), "t/x.parquet".into(), 10, 5));
        let c = place(root, &("s3://a".into(), "t/x.parquet".into(), 10, 6));
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert!(a.starts_with("/c"));
        assert!(a.to_string_lossy().ends_with("/t/x.parquet.10-5"), "{a:?}");
        // FNV-1a's published test vector: the hash is the same in every build.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn trim_removes_the_oldest_until_under_three_quarters() {
        let dir = std::env::temp_dir().join(format!("chatql-disk-trim-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("s")).unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(100);
        for i in 0..4u64 {
            let p = dir.join("s").join(format!("f{i}"));
            std::fs::write(&p, vec![0u8; 100]).unwrap();
            let f = std::fs::File::options().write(true).open(&p).unwrap();
            f.set_modified(old + std::time::Duration::from_secs(i))
                .unwrap();
        }
        trim(&dir, 400);
        assert_eq!(std::fs::read_dir(dir.join("s")).unwrap().count(), 4);
        trim(&dir, 399);
        let mut left: Vec<String> = std::fs::read_dir(dir.join("s"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        // 399 * 3/4 = 296 (integer steps: 399/4*3 = 297): the two oldest go.
        assert_eq!(left, ["f2", "f3"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
