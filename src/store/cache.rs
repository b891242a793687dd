//! Small data files of a lake in a store, read once per process. A report runs dozens of
//! queries, and each reads a few column chunks of every file it scans: one request per file
//! per query, which is what makes a partitioned lake of small files slow in a store (each
//! request a round trip) however few bytes it moves. A lake's data files never change once
//! written (a Delta table adds and removes files; it never rewrites one), so a file that the
//! lake's snapshot names ([`remember`]) and that is small is fetched whole at its first read
//! and every later range of it is served from memory.
//!
//! Bounds: files up to [`SMALL`] bytes, up to `CHATQL_STORE_CACHE_MB` (default 256) in all;
//! past that, reads are ranged requests as before. Only files a snapshot named are cached:
//! never a log, a lease or a checkpoint pointer, which do change.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResult, GetResultPayload, ObjectStore};

/// The largest file fetched whole.
pub const SMALL: u64 = 16 << 20;

/// A file of a snapshot: store base, key, and the `add` action's size and modification
/// time (so a lake written again under the same names in one process is not mistaken for
/// the old one).
type Id = (String, String, u64, i64);

#[derive(Default)]
struct Cache {
    /// The newest file a snapshot named at each (base, key).
    known: HashMap<(String, String), Id>,
    /// Files fetched whole.
    held: HashMap<Id, (Bytes, object_store::ObjectMeta)>,
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
pub fn remember(base: &str, key: &str, size: u64, modified: i64) {
    if size <= SMALL {
        let id = (base.to_owned(), key.to_owned(), size, modified);
        let mut c = cache().lock().expect("not poisoned");
        c.known.insert((base.to_owned(), key.to_owned()), id);
    }
}

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
    let (held, id) = {
        let c = cache().lock().expect("not poisoned");
        let id = c
            .known
            .get(&(base.to_owned(), location.to_string()))?
            .clone();
        match c.held.get(&id) {
            Some(h) => (Some(h.clone()), id),
            None if c.used + id.2 > budget() => return None,
            None => (None, id),
        }
    };
    let (bytes, meta) = match held {
        Some(h) => h,
        None => match fetch(store, location).await {
            Ok(h) => {
                let mut c = cache().lock().expect("not poisoned");
                if !c.held.contains_key(&id) {
                    c.used += h.0.len() as u64;
                    c.held.insert(id, h.clone());
                }
                h
            }
            Err(e) => return Some(Err(e)),
        },
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

async fn fetch(
    store: &dyn ObjectStore,
    location: &Path,
) -> object_store::Result<(Bytes, object_store::ObjectMeta)> {
    let got = store.get_opts(location, GetOptions::default()).await?;
    let meta = got.meta.clone();
    Ok((got.bytes().await?, meta))
}
