//! [`Remote`]'s client and operations (feature `s3`): the store of a bucket or container,
//! made once from its cloud's standard environment (`aws.rs`, `gcs.rs`, `azure.rs`) and
//! shared, and each operation as a blocking call.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::TryStreamExt;
use object_store::path::Path as Key;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
    WriteMultipart,
};

use super::{block_on, Listed, Remote, Scheme};
use crate::error::{Error, Result};

/// Stores already built, by bucket: one client (and connection pool) per bucket.
fn stores() -> &'static std::sync::Mutex<std::collections::HashMap<String, Arc<dyn ObjectStore>>> {
    static S: OnceLock<std::sync::Mutex<std::collections::HashMap<String, Arc<dyn ObjectStore>>>> =
        OnceLock::new();
    S.get_or_init(Default::default)
}

fn store_error(what: &str, url: &str, e: object_store::Error) -> Error {
    let hint = match &e {
        object_store::Error::NotFound { .. } => "not found".to_owned(),
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            let keys = match Scheme::of(url) {
                Some(Scheme::Gcs) => "GOOGLE_APPLICATION_CREDENTIALS",
                Some(Scheme::Azure) => "AZURE_STORAGE_ACCOUNT_NAME / AZURE_STORAGE_ACCOUNT_KEY",
                _ => "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
            };
            format!("access denied (check {keys}): {e}")
        }
        _ => e.to_string(),
    };
    Error::Store {
        url: url.to_owned(),
        message: format!("{what}: {hint}"),
    }
}

/// The client of `base` (`scheme://bucket`), built from its cloud's environment.
fn build(url: &str, scheme: Scheme, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
    // Retried briefly, so a wrong key, a missing bucket or a server gone away fails in
    // seconds rather than after minutes of back-off.
    let retry = RetryConfig {
        max_retries: 2,
        retry_timeout: Duration::from_secs(10),
        ..Default::default()
    };
    let client = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(120));
    let store = match scheme {
        Scheme::S3 => super::aws::build(url, bucket, client, retry),
        #[cfg(feature = "gcs")]
        Scheme::Gcs => super::gcs::build(url, bucket, client, retry),
        #[cfg(feature = "azure")]
        Scheme::Azure => super::azure::build(url, bucket, client, retry),
        #[allow(unreachable_patterns)]
        other => Err(Error::Usage(format!(
            "{url}: this chatql was built without the `{}` feature \
             (cargo install --path . --features {})",
            other.feature(),
            other.feature()
        ))),
    }?;
    let base = format!("{}://{bucket}", scheme.name());
    Ok(Arc::new(super::counting::Counting { inner: store, base }))
}

impl Remote {
    /// The store of `location` (`s3://bucket/prefix`, `gs://bucket/prefix`,
    /// `az://container/prefix`), from its cloud's environment.
    pub fn open(location: &Path) -> Result<Remote> {
        let given = location.to_str().unwrap_or_default().trim_end_matches('/');
        let Some(scheme) = Scheme::of(given) else {
            return Err(Error::Usage(format!("{given}: not an object store URL")));
        };
        let rest = &given[given.find("://").map_or(0, |i| i + 3)..];
        let url = format!("{}://{rest}", scheme.name());
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::Usage(format!("{url}: no bucket name")));
        }
        let base = format!("{}://{bucket}", scheme.name());
        let mut cache = stores().lock().expect("not poisoned");
        let store = match cache.get(&base) {
            Some(s) => s.clone(),
            None => {
                let s = build(&url, scheme, bucket)?;
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
        let listed = block_on(self.list_async(rel))?;
        Ok(listed.into_iter().map(|l| (l.rel, l.size)).collect())
    }

    /// The objects under each of `rels`, listed at once (a lake's tables' logs are listed
    /// in one round trip's time, not one after another).
    pub fn list_many(&self, rels: &[String]) -> Result<Vec<Vec<Listed>>> {
        block_on(futures::future::try_join_all(
            rels.iter().map(|r| self.list_async(r)),
        ))
    }

    async fn list_async(&self, rel: &str) -> Result<Vec<Listed>> {
        let prefix = self.key(rel);
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let metas: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| store_error("listing", &self.at(rel), e))?;
        Ok(metas
            .into_iter()
            .map(|m| {
                let k = m.location.to_string();
                Listed {
                    rel: k.strip_prefix(&strip).unwrap_or(&k).to_owned(),
                    size: m.size,
                    modified: m.last_modified.timestamp_millis(),
                }
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

    /// Copies `file` to `to`: from the copy kept on local disk when there is one of this
    /// version (an object's size and last write name it: a file written again under the
    /// same key is another version), else from the store, keeping a copy.
    async fn fetch_to(&self, file: &Listed, to: &Path) -> Result<()> {
        let key = self.key(&file.rel);
        let id = (self.base.clone(), key.to_string(), file.size, file.modified);
        let (bytes, _) = super::cache::fetch(&*self.store, &key, &id)
            .await
            .map_err(|e| store_error("reading", &self.at(&file.rel), e))?;
        std::fs::write(to, &bytes).map_err(|e| Error::io(to, e))
    }

    /// Copies each listed object to its local file, [`at_once`](super::cache::at_once)
    /// requests at a time (a lake's log is many small files); a commit already copied to
    /// local disk by an earlier process is read from there (a log's files never change).
    pub fn download_many(&self, files: &[(Listed, PathBuf)]) -> Result<()> {
        use futures::StreamExt;
        for (_, to) in files {
            if let Some(d) = to.parent() {
                std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
            }
        }
        let results: Vec<Result<()>> = block_on(
            futures::stream::iter(files.iter().map(|(f, to)| self.fetch_to(f, to)))
                .buffer_unordered(super::cache::at_once())
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
