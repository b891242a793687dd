//! Small data files of a lake in a store, read once per process. A report runs dozens of
//! queries, and each reads a few column chunks of every file it scans: one request per file
//! per query, which is what makes a partitioned lake of small files slow in a store (each
//! request a round trip) however few bytes it moves. A lake's data files never change once
//! written (a Delta table adds and removes files; it never rewrites one), so a file that the
//! lake's snapshot names ([`remember`]) and that is small is fetched whole at its first read
//! and every later range of it is served from memory.
//!
//! A query's first scan of a table starts fetching its small files, [`at_once`] at a time
//! ([`prefetch`]); a reader that needs one being fetched waits for that fetch.
//!
//! A file fetched whole is also kept on local disk ([`super::disk`]) for the next process.
//!
//! A lake on disk (store base `""`) is read the same way: each range read of a local file is a
//! task handed to tokio's blocking pool (object_store's `LocalFileSystem`), and a report's
//! thousands of them cost more in thread wake-ups than the reads; one read per file does not.
//!
//! Bounds: files up to [`SMALL`] bytes, up to `CHATQL_STORE_CACHE_MB` (default 256) in all;
//! past that, reads are ranged requests as before. Only files a snapshot named are cached:
//! never a log, a lease or a checkpoint pointer, which do change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResult, GetResultPayload, ObjectStore};

// A file of a snapshot: store base, key, and the `add` action's size and modification
// time (so a lake written again under the same names is not mistaken for the old one).
use super::disk::Id;

/// The largest file fetched whole.
pub const SMALL: u64 = 16 << 20;

/// A file's bytes, fetched once by whoever asks first (a reader or the prefetch).
type Slot = Arc<tokio::sync::OnceCell<(Bytes, object_store::ObjectMeta)>>;

#[derive(Default)]
struct Cache {
    /// The newest file a snapshot named at each (base, key).
    known: HashMap<(String, String), Id>,
    /// Files fetched whole, or being fetched; their sizes count against the budget.
    held: HashMap<Id, Slot>,
    used: u64,
}

fn cache() -> &'static Mutex<Cache> {
    static C: OnceLock<Mutex<Cache>> = OnceLock::new();
    C.get_or_init(Default::default)
}

fn budget() -> u64 {
    static B: OnceLock<u64> = OnceLock::new();
    *B.get_or_init(|| {
        std::env::var("CHATQL_STORE_CACHE_MB")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(256)
            << 20
    })
}

/// Notes that `key` in the store at `base` (`s3://bucket`) is an immutable data file of
/// `size` bytes written at `modified` (the `add` action's milliseconds).
///
/// A file held under the same name before (a lake written again with `--force` while a
/// notebook or `chatql serve` kept running) is let go: no snapshot names it any more.
pub fn remember(base: &str, key: &str, size: u64, modified: i64) {
    if size <= SMALL {
        let id = (base.to_owned(), key.to_owned(), size, modified);
        let mut c = cache().lock().expect("not poisoned");
        let old = c
            .known
            .insert((base.to_owned(), key.to_owned()), id.clone());
        if let Some(old) = old.filter(|o| *o != id) {
            if c.held.remove(&old).is_some() {
                c.used -= old.2;
            }
        }
    }
}

/// The slot of a remembered small file, made if the budget allows, and the file's identity.
fn slot(base: &str, key: &str) -> Option<(Slot, Id)> {
    let mut c = cache().lock().expect("not poisoned");
    let id = c.known.get(&(base.to_owned(), key.to_owned()))?.clone();
    if let Some(s) = c.held.get(&id) {
        return Some((s.clone(), id));
    }
    if c.used + id.2 > budget() {
        return None;
    }
    c.used += id.2;
    let s = Slot::default();
    c.held.insert(id.clone(), s.clone());
    Some((s, id))
}

/// Fetches the remembered small files among `keys` of the store at `base`, several at once,
/// in the background: a query that scans a table of many small files then waits for them
/// together instead of one round trip after another.
pub fn prefetch(base: &str, store: Arc<dyn ObjectStore>, keys: &[String]) {
    let slots: Vec<(Slot, Id, Path)> = keys
        .iter()
        .filter_map(|k| slot(base, k).map(|(s, id)| (s, id, Path::from(k.as_str()))))
        .filter(|(s, _, _)| !s.initialized())
        .collect();
    if slots.is_empty() {
        return;
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    rt.spawn(async move {
        futures::stream::iter(slots)
            .for_each_concurrent(at_once(), |(slot, id, path)| {
                let store = store.clone();
                async move {
                    // An error is left for the reader, who asks again and reports it.
                    let _ = slot.get_or_try_init(|| fetch(&*store, &path, &id)).await;
                }
            })
            .await;
    });
}

/// Files fetched at once by [`prefetch`] (and logs by `Remote::download_many`):
/// `CHATQL_STORE_FETCHES`, default [`PREFETCH_AT_ONCE`].
pub fn at_once() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| {
        std::env::var("CHATQL_STORE_FETCHES")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(PREFETCH_AT_ONCE)
    })
}

/// The default of [`at_once`].
const PREFETCH_AT_ONCE: usize = 64;

/// A ranged read of `location` served from the whole file, fetching it first when it is a
/// small remembered file and the budget allows; `None` to read it from the store as asked.
pub async fn get(
    base: &str,
    store: &dyn ObjectStore,
    location: &Path,
    options: &GetOptions,
) -> Option<object_store::Result<GetResult>> {
    let Some(GetRange::Bounded(range)) = options.range.clone() else {
        return None;
    };
    if options.if_match.is_some() || options.if_none_match.is_some() || options.head {
        return None;
    }
    let (slot, id) = slot(base, location.as_ref())?;
    let (bytes, meta) = match slot.get_or_try_init(|| fetch(store, location, &id)).await {
        Ok(h) => h.clone(),
        Err(e) => return Some(Err(e)),
    };
    if range.end > bytes.len() as u64 || range.start > range.end {
        return None;
    }
    let part = bytes.slice(range.start as usize..range.end as usize);
    let stream = futures::stream::once(async move { Ok(part) }).boxed();
    Some(Ok(GetResult {
        payload: GetResultPayload::Stream(stream),
        meta,
        range,
        attributes: Default::default(),
    }))
}

/// The whole file: its copy kept on disk ([`super::disk`]) if there is one, else from the
/// store (then kept), checked against the size the lake's log (or a listing) gives.
pub(super) async fn fetch(
    store: &dyn ObjectStore,
    location: &Path,
    id: &Id,
) -> object_store::Result<(Bytes, object_store::ObjectMeta)> {
    if let Some(bytes) = super::disk::read(id).await {
        let meta = object_store::ObjectMeta {
            location: location.clone(),
            last_modified: chrono::DateTime::from_timestamp_millis(id.3).unwrap_or_default(),
            size: id.2,
            e_tag: None,
            version: None,
        };
        return Ok((bytes, meta));
    }
    let got = store.get_opts(location, GetOptions::default()).await?;
    let meta = got.meta.clone();
    let bytes = got.bytes().await?;
    if bytes.len() as u64 != id.2 {
        return Err(cut_short(location, bytes.len() as u64, id.2));
    }
    super::disk::write(id, bytes.clone());
    Ok((bytes, meta))
}

/// The error of a data file whose bytes are not what its lake's log says: `len` of them where
/// `wanted` were (a file cut short or replaced behind the lake's back). Parquet's reader is
/// given an error naming the file rather than a short buffer it would panic on.
pub fn cut_short(location: &Path, len: u64, wanted: u64) -> object_store::Error {
    object_store::Error::Generic {
        store: "chatql",
        source: format!(
            "{location}: {len} bytes where {wanted} were expected (the file was cut short or \
             replaced since the lake's log named it)"
        )
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Other tests of this process may read lakes at the same time, so the assertions are on
    // this test's own entries, not on the shared total.
    #[test]
    fn a_file_written_again_under_its_name_lets_the_old_one_go() {
        let base = "test://cache-rewrite";
        let held = |id: &Id| cache().lock().unwrap().held.contains_key(id);
        remember(base, "t/a.parquet", 100, 1);
        let (_, first) = slot(base, "t/a.parquet").unwrap();
        assert!(held(&first));
        // The same snapshot named again: the file stays held.
        remember(base, "t/a.parquet", 100, 1);
        assert!(held(&first));
        // A new file under the same name: the old one is let go, the name leads to the new.
        remember(base, "t/a.parquet", 120, 2);
        assert!(!held(&first));
        let (_, second) = slot(base, "t/a.parquet").unwrap();
        assert_eq!((second.2, second.3), (120, 2));
        assert!(held(&second));
    }
}
