//! `s3://bucket` (and `s3a://`): an S3 client from the standard AWS environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`), else the shared files' profile (`profile.rs`).
//! Without a key, the instance's role is asked for one unless
//! `AWS_EC2_METADATA_DISABLED=true`, which then fails at once with what to set.

use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::{ClientOptions, ObjectStore, RetryConfig};

use super::{env_config, env_true, profile};
use crate::error::{Error, Result};

/// The client of `bucket` (`url` names it in messages).
pub fn build(
    url: &str,
    bucket: &str,
    client: ClientOptions,
    retry: RetryConfig,
) -> Result<Arc<dyn ObjectStore>> {
    let metadata_off = env_true("AWS_EC2_METADATA_DISABLED");
    let has_key = std::env::var_os("AWS_ACCESS_KEY_ID").is_some();
    // The shared files' profile (AWS_PROFILE, else `default`), below the environment:
    // what the AWS CLI and SDKs read.
    let profile = if has_key {
        Vec::new()
    } else {
        profile::settings()
    };
    let profile_key = profile.iter().any(|(k, _)| k == "aws_access_key_id");
    if !has_key && !profile_key && metadata_off {
        return Err(Error::Usage(format!(
            "{url}: no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or \
             AWS_PROFILE with ~/.aws/credentials; AWS_EC2_METADATA_DISABLED forbids asking \
             the instance)"
        )));
    }
    // Timeouts first, then the environment (which may allow plain HTTP, name an
    // endpoint, ...), as `AmazonS3Builder::from_env` reads it.
    let mut builder = AmazonS3Builder::new()
        .with_client_options(client)
        .with_retry(retry);
    for (key, value) in profile {
        if let Ok(k) = key.parse::<AmazonS3ConfigKey>() {
            builder = builder.with_config(k, value);
        }
    }
    for (k, value) in env_config::<AmazonS3ConfigKey>("AWS_") {
        builder = builder.with_config(k, value);
    }
    let s3 = builder
        .with_bucket_name(bucket)
        .build()
        .map_err(|e| Error::Usage(format!("{url}: {e}")))?;
    Ok(Arc::new(s3))
}
