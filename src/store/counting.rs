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
//! `get_ranges` is left to the trait's default, which coalesces nearby ranges and fetches each
//! through `get_opts`: so a count is what goes over the wire.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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

impl Counting {
    /// The local file system, for lakes on disk: small data files read once through the
    /// same cache, and nothing counted (no request goes over a wire).
    pub fn local() -> Counting {
        Counting {
            inner: Arc::new(object_store::local::LocalFileSystem::new()),
            base: String::new(),
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
        let got = self.inner.get_opts(location, options).await?;
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
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.count(&requests().lists, 1);
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.count(&requests().lists, 1);
        self.inner.list_with_delimiter(prefix).await
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
