//! Object storage (`s3://bucket/prefix`, feature `s3`; `gs://bucket/prefix`, feature `gcs`;
//! `az://container/prefix`, feature `azure`): the few operations inputs and lakes need from
//! a store, blocking, over the `object_store` crate (the one DataFusion reads them with):
//! list, ranged reads (`RangeReader`, which streams an input and lets a zip be read in
//! place), put-if-absent (a Delta commit), multipart upload, delete. One code path serves
//! the three clouds; only the making of a client differs.
//!
//! The lake code works on local folders: a lake in a store is read through a local mirror of
//! its logs (data files are fetched only when a writer must read one; queries read them from
//! the store directly) and written by writing locally and uploading (see
//! the lake's `remote` module).
//!
//! Credentials and endpoint come from each cloud's standard environment (`aws.rs`, with the
//! shared files' profile in `profile.rs`; `gcs.rs`; `azure.rs`). Requests are retried
//! briefly, so a wrong key or a missing bucket fails in seconds, and a missing credential
//! fails at once rather than asking a metadata service that is not there.
//!
//! `remote.rs` is the client and its operations, `range.rs` the ranged reader of one object,
//! `counting.rs` the count of every request made (`CHATQL_STORE_REQUESTS=1` prints it),
//! `cache.rs` the small data files of a lake held whole once read, `disk.rs` the copies of
//! them kept on local disk for the next process. These three are built without a feature
//! too: a lake on disk is read through the same wrapper and cache (`Counting::local`).

use std::path::Path;
#[cfg(feature = "s3")]
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};

#[cfg(feature = "s3")]
mod aws;
#[cfg(feature = "azure")]
mod azure;
pub mod cache;
pub mod counting;
mod disk;
#[cfg(feature = "gcs")]
mod gcs;
#[cfg(feature = "s3")]
mod profile;
#[cfg(feature = "s3")]
mod range;
#[cfg(feature = "s3")]
mod remote;

#[cfg(feature = "s3")]
pub use range::RangeReader;

/// The object stores a location may name, by URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `s3://` (or `s3a://`): Amazon S3 and S3-compatible stores.
    S3,
    /// `gs://`: Google Cloud Storage.
    Gcs,
    /// `az://`: Azure Blob Storage.
    Azure,
}

impl Scheme {
    /// The scheme `location` starts with, if it names an object store.
    pub fn of(location: &str) -> Option<Scheme> {
        let (scheme, _) = location.split_once("://")?;
        match scheme {
            "s3" | "s3a" => Some(Scheme::S3),
            "gs" => Some(Scheme::Gcs),
            "az" => Some(Scheme::Azure),
            _ => None,
        }
    }

    /// The URL scheme chatql writes (`s3a://` is read as `s3://`).
    pub fn name(self) -> &'static str {
        match self {
            Scheme::S3 => "s3",
            Scheme::Gcs => "gs",
            Scheme::Azure => "az",
        }
    }

    /// The cargo feature that brings this store.
    pub fn feature(self) -> &'static str {
        match self {
            Scheme::S3 => "s3",
            Scheme::Gcs => "gcs",
            Scheme::Azure => "azure",
        }
    }
}

/// Whether `location` names a place in object storage rather than a local path.
pub fn is_remote(location: &Path) -> bool {
    location.to_str().and_then(Scheme::of).is_some()
}

/// Whether the environment variable `key` is set and not empty.
#[cfg(any(feature = "gcs", feature = "azure"))]
fn env_set(key: &str) -> bool {
    std::env::var_os(key).is_some_and(|v| !v.is_empty())
}

/// Whether the environment variable `key` is `true` (in any case).
#[cfg(feature = "s3")]
fn env_true(key: &str) -> bool {
    std::env::var(key).is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The environment variables starting with `prefix` that name a setting of a store's
/// builder (`K`, parsed from the lower-cased name, as `object_store`'s `from_env` does).
#[cfg(feature = "s3")]
fn env_config<K: std::str::FromStr>(prefix: &str) -> Vec<(K, String)> {
    std::env::vars()
        .filter(|(key, _)| key.starts_with(prefix))
        .filter_map(|(key, value)| Some((key.to_ascii_lowercase().parse().ok()?, value)))
        .collect()
}

/// The runtime of object-store requests made where no runtime runs (a program calling the
/// library without tokio): one current-thread runtime, made on first use. Within the
/// binary every request runs on its one runtime (see [`block_on`]).
#[cfg(feature = "s3")]
fn fallback_runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .thread_name("chatql-store")
            .enable_all()
            .build()
            .expect("a runtime for object storage")
    })
}

/// Runs `fut` to completion from blocking code (the lake's reads and writes are blocking
/// I/O). On a multi-threaded runtime it runs on that runtime, the worker handing its other
/// tasks away for the while ([`tokio::task::block_in_place`]); with no runtime, on a small
/// one of its own. Only on a current-thread runtime, which cannot block, does it run on
/// another thread.
#[cfg(feature = "s3")]
pub fn block_on<F>(fut: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| h.block_on(fut))
        }
        Ok(_) => std::thread::scope(|s| {
            s.spawn(|| fallback_runtime().block_on(fut))
                .join()
                .expect("a store request panicked")
        }),
        Err(_) => fallback_runtime().block_on(fut),
    }
}

/// An object as listed: its path under the lake, size, and last write (ms since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The path relative to the lake (`conversations/_delta_log/00000000000000000000.json`).
    pub rel: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, as the store says (ms since the epoch).
    pub modified: i64,
}

/// A lake's place in object storage.
#[derive(Debug, Clone)]
pub struct Remote {
    /// `s3://bucket/prefix` as given (no trailing slash).
    pub url: String,
    /// `s3://bucket`, the store's URL for DataFusion.
    pub base: String,
    /// The key prefix (may be empty).
    pub prefix: String,
    #[cfg(feature = "s3")]
    store: Arc<dyn object_store::ObjectStore>,
}

/// Without the `s3` feature a [`Remote`] cannot be made ([`Remote::open`] fails with the
/// reason), so these are never called; they keep the callers feature-free.
#[cfg(not(feature = "s3"))]
#[allow(missing_docs, clippy::unused_self)]
impl Remote {
    /// Without the `s3` feature: a clear error.
    pub fn open(location: &Path) -> Result<Remote> {
        let feature = location
            .to_str()
            .and_then(Scheme::of)
            .map_or("s3", Scheme::feature);
        Err(Error::Usage(format!(
            "{}: this chatql was built without the `{feature}` feature \
             (cargo install --path . --features {feature})",
            location.display()
        )))
    }
    fn none<T>(&self) -> Result<T> {
        Remote::open(Path::new(&self.url)).map(|_| unreachable!())
    }
    pub fn list(&self, _rel: &str) -> Result<Vec<(String, u64)>> {
        self.none()
    }
    pub fn list_many(&self, _rels: &[String]) -> Result<Vec<Vec<Listed>>> {
        self.none()
    }
    pub fn exists(&self, _rel: &str) -> Result<bool> {
        self.none()
    }
    pub fn size(&self, _rel: &str) -> Result<u64> {
        self.none()
    }
    pub fn get(&self, _rel: &str) -> Result<Vec<u8>> {
        self.none()
    }
    pub fn download(&self, _rel: &str, _to: &Path) -> Result<()> {
        self.none()
    }
    pub fn download_many(&self, _files: &[(Listed, std::path::PathBuf)]) -> Result<()> {
        self.none()
    }
    pub fn put_if_absent(&self, _rel: &str, _bytes: Vec<u8>) -> Result<bool> {
        self.none()
    }
    pub fn put(&self, _rel: &str, _bytes: Vec<u8>) -> Result<()> {
        self.none()
    }
    pub fn upload(&self, _from: &Path, _rel: &str) -> Result<()> {
        self.none()
    }
    pub fn delete(&self, _rel: &str) -> Result<()> {
        self.none()
    }
    pub fn age(&self, _rel: &str) -> Result<Option<std::time::Duration>> {
        self.none()
    }
    pub fn key(&self, rel: &str) -> String {
        rel.to_owned()
    }
}

/// A reader that can also seek (a zip archive needs both).
pub trait ReadSeek: std::io::Read + std::io::Seek + Send {}
impl<T: std::io::Read + std::io::Seek + Send> ReadSeek for T {}

/// Opens a local file or a remote object (`s3://bucket/key`) for reading.
pub fn open_read(location: &Path) -> Result<Box<dyn ReadSeek>> {
    if !is_remote(location) {
        let f = std::fs::File::open(location).map_err(|e| Error::io(location, e))?;
        return Ok(Box::new(f));
    }
    #[cfg(feature = "s3")]
    {
        let r = Remote::open(location)?;
        let key = r.prefix.clone();
        let bucket = Remote::open(Path::new(&r.base))?;
        let size = bucket.size(&key)?;
        Ok(Box::new(RangeReader::new(bucket, &key, size)))
    }
    #[cfg(not(feature = "s3"))]
    {
        Remote::open(location).map(|_| unreachable!())
    }
}

/// The objects `location` names: the object itself, or every object under it as a prefix
/// (`s3://bucket/exports/`), as `s3://bucket/key` with their sizes, in key order.
pub fn objects(location: &Path) -> Result<Vec<(std::path::PathBuf, u64)>> {
    #[cfg(feature = "s3")]
    {
        let r = Remote::open(location)?;
        let bucket = Remote::open(Path::new(&r.base))?;
        if !r.prefix.is_empty() {
            if let Ok(size) = bucket.size(&r.prefix) {
                return Ok(vec![(location.to_owned(), size)]);
            }
        }
        let mut found: Vec<(std::path::PathBuf, u64)> = bucket
            .list(&r.prefix)?
            .into_iter()
            .map(|(k, size)| (std::path::PathBuf::from(format!("{}/{k}", r.base)), size))
            .collect();
        found.sort();
        if found.is_empty() {
            return Err(Error::NotFound(r.url));
        }
        Ok(found)
    }
    #[cfg(not(feature = "s3"))]
    {
        Remote::open(location).map(|_| unreachable!())
    }
}

/// Whether the file or object `location` exists.
pub fn exists(location: &Path) -> Result<bool> {
    if !is_remote(location) {
        return Ok(location.exists());
    }
    let r = Remote::open(location)?;
    let bucket = Remote::open(Path::new(&r.base))?;
    bucket.exists(&r.prefix)
}

/// DataFusion's object-store registry, plus buckets and containers made on first use from
/// their cloud's environment: what a session (and a Ballista scheduler or executor) reads
/// `s3://`, `gs://` and `az://` files with, without each being registered up front.
#[cfg(feature = "s3")]
#[derive(Debug, Default)]
pub struct Registry {
    inner: datafusion::execution::object_store::DefaultObjectStoreRegistry,
}

#[cfg(feature = "s3")]
impl datafusion::execution::object_store::ObjectStoreRegistry for Registry {
    fn register_store(
        &self,
        url: &url::Url,
        store: Arc<dyn object_store::ObjectStore>,
    ) -> Option<Arc<dyn object_store::ObjectStore>> {
        self.inner.register_store(url, store)
    }

    fn get_store(
        &self,
        url: &url::Url,
    ) -> datafusion::error::Result<Arc<dyn object_store::ObjectStore>> {
        match self.inner.get_store(url) {
            Ok(s) => Ok(s),
            Err(e) if Scheme::of(url.as_str()).is_some() => {
                let base = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
                let store = Remote::open(Path::new(&base))
                    .map_err(|err| {
                        datafusion::error::DataFusionError::External(Box::new(err))
                            .context(e.to_string())
                    })?
                    .store();
                self.inner.register_store(url, store.clone());
                Ok(store)
            }
            Err(e) => Err(e),
        }
    }
}

/// A registry that also makes object stores on first use (feature `s3`), or DataFusion's
/// own.
pub fn registry() -> std::sync::Arc<dyn datafusion::execution::object_store::ObjectStoreRegistry> {
    #[cfg(feature = "s3")]
    {
        Arc::new(Registry::default())
    }
    #[cfg(not(feature = "s3"))]
    {
        std::sync::Arc::new(datafusion::execution::object_store::DefaultObjectStoreRegistry::new())
    }
}
