//! Every request chatql makes of an object store, counted: each store [`super::Remote`]
//! builds is wrapped in [`Counting`], so the lake code's own calls and DataFusion's reads
//! (footers, column chunks) pass through the same counters. `CHATQL_STORE_REQUESTS=1` makes
//! the binary print them when it ends ([`summary`]); tests bound them, since a store's
//! latency (moto's on loopback, a cloud's across a region) is a cost per request.
//!
//! Ranged reads of small data files are served by [`super::cache`] when it holds them. A lake
//! on disk is read through the same wrapper ([`Counting::local`]), uncounted, so that its small
//! files too are read once per process rather than in a blocking task per range.
//!
//! `CHATQL_STORE_REQUESTS=trace` also keeps every request with when it began and how long it
//! took ([`trace`]), which the binary prints in order when it ends: where a cold query's
//! round trips wait on one another.
//!
//! `get_ranges` is left to the trait's default, which coalesces nearby ranges and fetches each
//! through `get_opts`: so a count is what goes over the wire.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// The counters of this process.
#[derive(Debug, Default)]
pub struct Requests {
    /// GET requests, whole or ranged (HEAD-like `head` calls included).
    pub gets: AtomicU64,
    /// Bytes asked for by ranged GETs, or returned by whole ones as far as their size is known.
    pub get_bytes: AtomicU64,
    /// LIST requests (each page of a listing counts once as asked).
    pub lists: AtomicU64,
    /// PUTs, whole or multipart uploads begun.
    pub puts: AtomicU64,
    /// DELETEs, copies and renames.
    pub other: AtomicU64,
}

/// The process's counters.
pub fn requests() -> &'static Requests {
    static R: std::sync::OnceLock<Requests> = std::sync::OnceLock::new();
    R.get_or_init(Requests::default)
}

/// One line: `N GET (X MB), N LIST, N PUT, N other`; `None` when nothing was asked.
pub fn summary() -> Option<String> {
    let r = requests();
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let total = n(&r.gets) + n(&r.lists) + n(&r.puts) + n(&r.other);
    (total > 0).then(|| {
        format!(
            "object store requests: {} GET ({:.1} MB), {} LIST, {} PUT, {} other",
            n(&r.gets),
            n(&r.get_bytes) as f64 / 1e6,
            n(&r.lists),
            n(&r.puts),
            n(&r.other)
        )
    })
}

/// A store whose requests are counted, and whose small data files are read once
/// ([`super::cache`]).
#[derive(Debug)]
pub struct Counting {
    /// The store.
    pub inner: Arc<dyn ObjectStore>,
    /// Its base URL (`s3://bucket`), the cache's key.
    pub base: String,
}

impl fmt::Display for Counting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.inner)
    }
}

fn count(a: &AtomicU64, by: u64) {
    a.fetch_add(by, Ordering::Relaxed);
}

/// Requests kept for [`trace`]: when each began (since the first), how long it took, what.
struct Traced {
    start: Duration,
    took: Option<Duration>,
    what: String,
}

/// A listing begun at `.0` of the prefix `.1`; kept when dropped.
struct ListTimer(Instant, String);

impl Drop for ListTimer {
    fn drop(&mut self) {
        keep(self.0, Some(self.0.elapsed()), || {
            format!("LIST {}", self.1)
        });
    }
}

fn traced() -> Option<&'static (Instant, Mutex<Vec<Traced>>)> {
    static T: OnceLock<Option<(Instant, Mutex<Vec<Traced>>)>> = OnceLock::new();
    T.get_or_init(|| {
        (std::env::var_os("CHATQL_STORE_REQUESTS").is_some_and(|v| v == "trace"))
            .then(|| (Instant::now(), Mutex::new(Vec::new())))
    })
    .as_ref()
}

/// Keeps a request begun at `begun` when tracing is on.
fn keep(begun: Instant, took: Option<Duration>, what: impl FnOnce() -> String) {
    if let Some((zero, all)) = traced() {
        let t = Traced {
            start: begun.saturating_duration_since(*zero),
            took,
            what: what(),
        };
        all.lock().unwrap_or_else(|e| e.into_inner()).push(t);
    }
}

/// Every request over a wire this process made, in the order they began, one line each
/// (`+12.3 ms  20.1 ms  GET conversations/part-0.parquet 0..65536`), when
/// `CHATQL_STORE_REQUESTS=trace`; empty otherwise.
pub fn trace() -> Vec<String> {
    let Some((_, all)) = traced() else {
        return Vec::new();
    };
    let mut all = std::mem::take(&mut *all.lock().unwrap_or_else(|e| e.into_inner()));
    all.sort_by_key(|t| t.start);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    all.iter()
        .map(|t| match t.took {
            Some(d) => format!("+{:8.1} ms {:7.1} ms  {}", ms(t.start), ms(d), t.what),
            None => format!("+{:8.1} ms {:>10}  {}", ms(t.start), "", t.what),
        })
        .collect()
}

impl Counting {
    /// The local file system, for lakes on disk: small data files read once through the
    /// same cache, and nothing counted (no request goes over a wire).
    pub fn local() -> Counting {
        Counting {
            inner: Arc::new(object_store::local::LocalFileSystem::new()),
            base: String::new(),
        }
    }

    /// A listing of `prefix`, kept for [`trace`] when its stream is dropped (read to its end).
    fn traced_list(
        &self,
        prefix: Option<&Path>,
        pages: BoxStream<'static, Result<ObjectMeta>>,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        if self.base.is_empty() || traced().is_none() {
            return pages;
        }
        let timer = ListTimer(
            Instant::now(),
            prefix.map(|p| p.to_string()).unwrap_or_default(),
        );
        pages
            .map(move |m| {
                let _ = &timer;
                m
            })
            .boxed()
    }

    /// Keeps for [`trace`] a request over a wire begun at `begun` and done now.
    fn keep(&self, begun: Instant, what: impl FnOnce() -> String) {
        if !self.base.is_empty() {
            keep(begun, Some(begun.elapsed()), what);
        }
    }

    /// Counts by `by` what a store over a wire is asked.
    fn count(&self, a: &AtomicU64, by: u64) {
        if !self.base.is_empty() {
            count(a, by);
        }
    }
}

#[async_trait::async_trait]
impl ObjectStore for Counting {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.count(&requests().puts, 1);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.count(&requests().puts, 1);
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if let Some(got) = super::cache::get(&self.base, self, location, &options).await {
            return got;
        }
        let r = requests();
        self.count(&r.gets, 1);
        // The bytes asked for, and where a bounded range must end.
        let (asked, wanted_end) = match &options.range {
            Some(object_store::GetRange::Bounded(b)) => (Some(b.end - b.start), Some(b.end)),
            Some(object_store::GetRange::Suffix(n)) => (Some(*n), None),
            _ => (None, None),
        };
        traced(); // the trace's zero is the first request's start
        let (begun, head) = (Instant::now(), options.head);
        let range = options.range.clone();
        let got = self.inner.get_opts(location, options).await;
        self.keep(begun, || {
            let verb = if head { "HEAD" } else { "GET" };
            match range {
                Some(r) => format!("{verb} {location} {r}"),
                None => format!("{verb} {location}"),
            }
        });
        let got = got?;
        let bytes = asked.unwrap_or(got.range.end - got.range.start);
        self.count(&r.get_bytes, bytes);
        // A store answers a range past the end with what there is; a reader asking for it
        // was told the file is longer (by the lake's log).
        match wanted_end {
            Some(end) if got.range.end < end => {
                Err(super::cache::cut_short(location, got.meta.size, end))
            }
            _ => Ok(got),
        }
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let over_a_wire = !self.base.is_empty();
        let counted = locations
            .map(move |l| {
                if over_a_wire {
                    count(&requests().other, 1);
                }
                l
            })
            .boxed();
        self.inner.delete_stream(counted)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.count(&requests().lists, 1);
        self.traced_list(prefix, self.inner.list(prefix))
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.count(&requests().lists, 1);
        self.traced_list(prefix, self.inner.list_with_offset(prefix, offset))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.count(&requests().lists, 1);
        let begun = Instant::now();
        let listed = self.inner.list_with_delimiter(prefix).await;
        self.keep(begun, || {
            format!(
                "LIST {}/",
                prefix.map(|p| p.to_string()).unwrap_or_default()
            )
        });
        listed
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.count(&requests().other, 1);
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.count(&requests().other, 1);
        self.inner.rename_opts(from, to, options).await
    }
}
