//! `gs://bucket` (feature `gcs`): a Google Cloud Storage client from the standard Google
//! environment: a service account (`GOOGLE_SERVICE_ACCOUNT` path or
//! `GOOGLE_SERVICE_ACCOUNT_KEY` JSON), `GOOGLE_APPLICATION_CREDENTIALS`, or the gcloud
//! CLI's application-default file; `GOOGLE_BASE_URL` names another endpoint (an emulator)
//! and `GOOGLE_SKIP_SIGNATURE=true` sends no credentials. Without any of them the metadata
//! server is asked only on a Google Compute Engine machine (or with `GCE_METADATA_HOST`);
//! elsewhere the missing credential fails at once with what to set.

use std::sync::Arc;

use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::{ClientOptions, ObjectStore, RetryConfig};

use super::{env_config, env_set, env_true};
use crate::error::{Error, Result};

/// Whether a credential is configured, so that no metadata server is needed.
fn has_credential() -> bool {
    let adc = std::env::var_os("HOME").is_some_and(|h| {
        std::path::Path::new(&h)
            .join(".config/gcloud/application_default_credentials.json")
            .exists()
    });
    adc || [
        "GOOGLE_SERVICE_ACCOUNT",
        "GOOGLE_SERVICE_ACCOUNT_PATH",
        "GOOGLE_SERVICE_ACCOUNT_KEY",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "SERVICE_ACCOUNT",
    ]
    .iter()
    .any(|k| env_set(k))
        || env_true("GOOGLE_SKIP_SIGNATURE")
}

/// Whether this machine is a Google Compute Engine instance (what Google's own client
/// libraries check before asking the metadata server).
fn on_gce() -> bool {
    std::env::var_os("GCE_METADATA_HOST").is_some()
        || std::fs::read_to_string("/sys/class/dmi/id/product_name")
            .is_ok_and(|s| s.contains("Google"))
}

/// The client of `bucket` (`url` names it in messages).
pub fn build(
    url: &str,
    bucket: &str,
    client: ClientOptions,
    retry: RetryConfig,
) -> Result<Arc<dyn ObjectStore>> {
    if !has_credential() && !on_gce() {
        return Err(Error::Usage(format!(
            "{url}: no Google credentials (set GOOGLE_APPLICATION_CREDENTIALS or \
             GOOGLE_SERVICE_ACCOUNT to a key file, or run `gcloud auth application-default \
             login`)"
        )));
    }
    let mut builder = GoogleCloudStorageBuilder::new()
        .with_client_options(client)
        .with_retry(retry);
    for (k, value) in env_config::<GoogleConfigKey>("GOOGLE_") {
        builder = builder.with_config(k, value);
    }
    if let Ok(path) = std::env::var("SERVICE_ACCOUNT") {
        builder = builder.with_service_account_path(path);
    }
    let gcs = builder
        .with_bucket_name(bucket)
        .build()
        .map_err(|e| Error::Usage(format!("{url}: {e}")))?;
    Ok(Arc::new(gcs))
}
