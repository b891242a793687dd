//! Object storage (`s3://bucket/prefix`; feature `s3`): the few operations inputs and lakes
//! need from a store, blocking, over the `object_store` crate (the one DataFusion reads S3
//! with): list, ranged reads ([`RangeReader`], which streams an input and lets a zip be read
//! in place), put-if-absent (a Delta commit), multipart upload, delete.
//!
//! The lake code works on local folders: a lake in a store is read through a local mirror of
//! its logs (data files are fetched only when a writer must read one; queries read them from
//! the store directly) and written by writing locally and uploading (see
//! [`crate::lake::remote`]).
//!
//! Credentials and endpoint come from the standard AWS environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
//! `AWS_ALLOW_HTTP`); requests are retried briefly, so a wrong key or a missing bucket fails
//! in seconds. Without a key, the instance's role is asked for one unless
//! `AWS_EC2_METADATA_DISABLED=true`.

use std::path::Path;
#[cfg(feature = "s3")]
use std::path::PathBuf;
#[cfg(feature = "s3")]
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};

/// Whether `location` names a place in object storage rather than a local path.
pub fn is_remote(location: &Path) -> bool {
    location
        .to_str()
        .is_some_and(|s| s.starts_with("s3://") || s.starts_with("s3a://"))
}

/// The runtime object-store requests run on (the lake code is blocking; these calls may
/// come from inside another runtime's threads, so each runs on this one).
#[cfg(feature = "s3")]
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("chatql-store")
            .enable_all()
            .build()
            .expect("a runtime for object storage")
    })
}

/// Runs `fut` to completion on the store runtime, from any thread.
#[cfg(feature = "s3")]
pub fn block_on<F>(fut: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_err() {
        return runtime().block_on(fut);
    }
    std::thread::scope(|s| {
        s.spawn(|| runtime().block_on(fut))
            .join()
            .expect("a store request panicked")
    })
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
        Err(Error::Usage(format!(
            "{}: this chatql was built without the `s3` feature \
             (cargo install --path . --features s3)",
            location.display()
        )))
    }
    fn none<T>(&self) -> Result<T> {
        Remote::open(Path::new(&self.url)).map(|_| unreachable!())
    }
    pub fn list(&self, _rel: &str) -> Result<Vec<(String, u64)>> {
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
    pub fn download_many(&self, _files: &[(String, std::path::PathBuf)]) -> Result<()> {
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

#[cfg(feature = "s3")]
mod imp {
    use std::time::Duration;

    use futures::TryStreamExt;
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    use object_store::path::Path as Key;
    use object_store::{
        ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
        WriteMultipart,
    };

    use super::*;

    /// Stores already built, by bucket: one client (and connection pool) per bucket.
    fn stores() -> &'static std::sync::Mutex<std::collections::HashMap<String, Arc<dyn ObjectStore>>>
    {
        static S: OnceLock<
            std::sync::Mutex<std::collections::HashMap<String, Arc<dyn ObjectStore>>>,
        > = OnceLock::new();
        S.get_or_init(Default::default)
    }

    fn store_error(what: &str, url: &str, e: object_store::Error) -> Error {
        let hint = match &e {
            object_store::Error::NotFound { .. } => "not found".to_owned(),
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => {
                format!("access denied (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY): {e}")
            }
            _ => e.to_string(),
        };
        Error::Store {
            url: url.to_owned(),
            message: format!("{what}: {hint}"),
        }
    }

    impl Remote {
        /// The store of `location` (`s3://bucket/prefix`), from the AWS environment.
        pub fn open(location: &Path) -> Result<Remote> {
            let url = location
                .to_str()
                .unwrap_or_default()
                .trim_end_matches('/')
                .replacen("s3a://", "s3://", 1);
            let rest = url.strip_prefix("s3://").unwrap_or(&url);
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::Usage(format!("{url}: no bucket name")));
            }
            let base = format!("s3://{bucket}");
            let mut cache = stores().lock().expect("not poisoned");
            let store = match cache.get(&base) {
                Some(s) => s.clone(),
                None => {
                    let metadata_off = std::env::var("AWS_EC2_METADATA_DISABLED")
                        .is_ok_and(|v| v.eq_ignore_ascii_case("true"));
                    let has_key = std::env::var_os("AWS_ACCESS_KEY_ID").is_some();
                    if !has_key && metadata_off {
                        return Err(Error::Usage(format!(
                            "{url}: no AWS credentials (set AWS_ACCESS_KEY_ID and \
                             AWS_SECRET_ACCESS_KEY; AWS_EC2_METADATA_DISABLED forbids asking \
                             the instance)"
                        )));
                    }
                    let retry = RetryConfig {
                        max_retries: 2,
                        retry_timeout: Duration::from_secs(10),
                        ..Default::default()
                    };
                    let client = ClientOptions::new()
                        .with_connect_timeout(Duration::from_secs(5))
                        .with_timeout(Duration::from_secs(120));
                    // Timeouts first, then the environment (which may allow plain HTTP,
                    // name an endpoint, ...), as `AmazonS3Builder::from_env` reads it.
                    let mut builder = AmazonS3Builder::new()
                        .with_client_options(client)
                        .with_retry(retry);
                    for (key, value) in std::env::vars() {
                        if key.starts_with("AWS_") {
                            if let Ok(k) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                                builder = builder.with_config(k, value);
                            }
                        }
                    }
                    let s3 = builder
                        .with_bucket_name(bucket)
                        .build()
                        .map_err(|e| Error::Usage(format!("{url}: {e}")))?;
                    let s: Arc<dyn ObjectStore> = Arc::new(s3);
                    cache.insert(base.clone(), s.clone());
                    s
                }
            };
            Ok(Remote {
                url: url.clone(),
                base,
                prefix: prefix.trim_matches('/').to_owned(),
                store,
            })
        }

        /// The store, for DataFusion's registry.
        pub fn store(&self) -> Arc<dyn ObjectStore> {
            self.store.clone()
        }

        /// The key of `rel` (a `/`-separated path under the lake).
        pub fn key(&self, rel: &str) -> Key {
            let rel = rel.trim_start_matches('/');
            if self.prefix.is_empty() {
                Key::from(rel)
            } else {
                Key::from(format!("{}/{rel}", self.prefix))
            }
        }

        fn at(&self, rel: &str) -> String {
            format!("{}/{}", self.url, rel.trim_start_matches('/'))
        }

        /// The objects under `rel` (recursively): path relative to the lake, and size.
        pub fn list(&self, rel: &str) -> Result<Vec<(String, u64)>> {
            let prefix = self.key(rel);
            let strip = if self.prefix.is_empty() {
                String::new()
            } else {
                format!("{}/", self.prefix)
            };
            let metas: Vec<object_store::ObjectMeta> =
                block_on(self.store.list(Some(&prefix)).try_collect())
                    .map_err(|e| store_error("listing", &self.at(rel), e))?;
            Ok(metas
                .into_iter()
                .map(|m| {
                    let k = m.location.to_string();
                    (k.strip_prefix(&strip).unwrap_or(&k).to_owned(), m.size)
                })
                .collect())
        }

        /// The size of `rel`.
        pub fn size(&self, rel: &str) -> Result<u64> {
            block_on(self.store.head(&self.key(rel)))
                .map(|m| m.size)
                .map_err(|e| store_error("reading", &self.at(rel), e))
        }

        /// Whether `rel` exists.
        pub fn exists(&self, rel: &str) -> Result<bool> {
            match block_on(self.store.head(&self.key(rel))) {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(store_error("reading", &self.at(rel), e)),
            }
        }

        /// The bytes of `rel`.
        pub fn get(&self, rel: &str) -> Result<Vec<u8>> {
            block_on(async { self.store.get(&self.key(rel)).await?.bytes().await })
                .map(|b| b.to_vec())
                .map_err(|e| store_error("reading", &self.at(rel), e))
        }

        /// Bytes `range` of `rel`.
        pub fn get_range(&self, rel: &str, range: std::ops::Range<u64>) -> Result<Vec<u8>> {
            block_on(self.store.get_range(&self.key(rel), range))
                .map(|b| b.to_vec())
                .map_err(|e| store_error("reading", &self.at(rel), e))
        }

        /// Copies `rel` to the local file `to` (streamed, not held).
        pub fn download(&self, rel: &str, to: &Path) -> Result<()> {
            use std::io::Write;
            if let Some(d) = to.parent() {
                std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
            }
            let mut file = std::fs::File::create(to).map_err(|e| Error::io(to, e))?;
            block_on(async {
                let mut stream = self.store.get(&self.key(rel)).await?.into_stream();
                while let Some(chunk) = stream.try_next().await? {
                    file.write_all(&chunk)
                        .map_err(|e| object_store::Error::Generic {
                            store: "local",
                            source: Box::new(e),
                        })?;
                }
                Ok::<_, object_store::Error>(())
            })
            .map_err(|e| store_error("reading", &self.at(rel), e))
        }

        async fn fetch_to(&self, rel: &str, to: &Path) -> Result<()> {
            let got = self
                .store
                .get(&self.key(rel))
                .await
                .map_err(|e| store_error("reading", &self.at(rel), e))?;
            let bytes = got
                .bytes()
                .await
                .map_err(|e| store_error("reading", &self.at(rel), e))?;
            std::fs::write(to, &bytes).map_err(|e| Error::io(to, e))
        }

        /// Copies each `(rel, to)` object to its local file, sixteen requests at a time
        /// (a lake's log is many small files).
        pub fn download_many(&self, files: &[(String, PathBuf)]) -> Result<()> {
            use futures::StreamExt;
            for (_, to) in files {
                if let Some(d) = to.parent() {
                    std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
                }
            }
            let results: Vec<Result<()>> = block_on(
                futures::stream::iter(files.iter().map(|(rel, to)| self.fetch_to(rel, to)))
                    .buffer_unordered(16)
                    .collect(),
            );
            results.into_iter().collect()
        }

        /// Writes `bytes` to `rel` if nothing is there; false if something was.
        pub fn put_if_absent(&self, rel: &str, bytes: Vec<u8>) -> Result<bool> {
            let opts = PutOptions::from(PutMode::Create);
            match block_on(
                self.store
                    .put_opts(&self.key(rel), PutPayload::from(bytes), opts),
            ) {
                Ok(_) => Ok(true),
                Err(object_store::Error::AlreadyExists { .. })
                | Err(object_store::Error::Precondition { .. }) => Ok(false),
                Err(e) => Err(store_error("writing", &self.at(rel), e)),
            }
        }

        /// Writes `bytes` to `rel`, replacing what is there.
        pub fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<()> {
            block_on(self.store.put(&self.key(rel), PutPayload::from(bytes)))
                .map(|_| ())
                .map_err(|e| store_error("writing", &self.at(rel), e))
        }

        /// Uploads the local file `from` to `rel` in parts; the object appears only when
        /// every part is there, and an upload that fails is aborted.
        pub fn upload(&self, from: &Path, rel: &str) -> Result<()> {
            use std::io::Read;
            let mut file = std::fs::File::open(from).map_err(|e| Error::io(from, e))?;
            let key = self.key(rel);
            block_on(async {
                let upload = self.store.put_multipart(&key).await?;
                let mut w = WriteMultipart::new_with_chunk_size(upload, 8 << 20);
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let n = match file.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) => {
                            let _ = w.abort().await;
                            return Err(object_store::Error::Generic {
                                store: "local",
                                source: Box::new(e),
                            });
                        }
                    };
                    w.wait_for_capacity(4).await?;
                    w.write(&buf[..n]);
                }
                w.finish().await.map(|_| ())
            })
            .map_err(|e| store_error("uploading", &self.at(rel), e))
        }

        /// Deletes `rel` (no error if it is gone).
        pub fn delete(&self, rel: &str) -> Result<()> {
            match block_on(self.store.delete(&self.key(rel))) {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(store_error("deleting", &self.at(rel), e)),
            }
        }

        /// The age of `rel`'s last write, if it exists.
        pub fn age(&self, rel: &str) -> Result<Option<Duration>> {
            match block_on(self.store.head(&self.key(rel))) {
                Ok(m) => {
                    let age = chrono::Utc::now().signed_duration_since(m.last_modified);
                    Ok(Some(age.to_std().unwrap_or_default()))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(store_error("reading", &self.at(rel), e)),
            }
        }
    }
}

/// A remote object read in ranges of a few MiB: sequential reads stream it, seeks (a zip's
/// central directory) cost one request.
#[cfg(feature = "s3")]
pub struct RangeReader {
    remote: Remote,
    rel: String,
    size: u64,
    pos: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

#[cfg(feature = "s3")]
impl RangeReader {
    /// A reader of `rel` (a key under `remote`), `size` bytes long.
    pub fn new(remote: Remote, rel: &str, size: u64) -> RangeReader {
        RangeReader {
            remote,
            rel: rel.to_owned(),
            size,
            pos: 0,
            buf: Vec::new(),
            buf_start: 0,
        }
    }
}

#[cfg(feature = "s3")]
const RANGE: u64 = 8 << 20;

#[cfg(feature = "s3")]
impl std::io::Read for RangeReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || out.is_empty() {
            return Ok(0);
        }
        let in_buf =
            self.pos >= self.buf_start && self.pos < self.buf_start + self.buf.len() as u64;
        if !in_buf {
            let end = (self.pos + RANGE).min(self.size);
            self.buf = self
                .remote
                .get_range(&self.rel, self.pos..end)
                .map_err(std::io::Error::other)?;
            // (the io::Error carries the Error::Store, which ingest treats as fatal)
            self.buf_start = self.pos;
            if self.buf.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("{}: the object ended early", self.rel),
                ));
            }
        }
        let off = (self.pos - self.buf_start) as usize;
        let n = out.len().min(self.buf.len() - off);
        out[..n].copy_from_slice(&self.buf[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(feature = "s3")]
impl std::io::Seek for RangeReader {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let p = match to {
            std::io::SeekFrom::Start(p) => p as i128,
            std::io::SeekFrom::End(d) => self.size as i128 + d as i128,
            std::io::SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if p < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start",
            ));
        }
        self.pos = p as u64;
        Ok(self.pos)
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

/// DataFusion's object-store registry, plus S3 buckets made on first use from the AWS
/// environment: what a session (and a Ballista scheduler or executor) reads `s3://` files
/// with, without each bucket being registered up front.
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
            Err(e) if url.scheme() == "s3" => {
                let base = format!("s3://{}", url.host_str().unwrap_or_default());
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

/// A registry that also makes S3 stores on first use (feature `s3`), or DataFusion's own.
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
