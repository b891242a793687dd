//! `az://container` (feature `azure`): an Azure Blob Storage client from the standard
//! Azure environment: `AZURE_STORAGE_ACCOUNT_NAME` with `AZURE_STORAGE_ACCOUNT_KEY`, a SAS
//! token (`AZURE_STORAGE_SAS_TOKEN`), a bearer token, or a service principal
//! (`AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_TENANT_ID`, or a federated token
//! file); `AZURE_STORAGE_USE_EMULATOR=true` talks to Azurite (`AZURITE_BLOB_STORAGE_URL`,
//! default `http://127.0.0.1:10000`) with its well-known account. Without a credential the
//! instance's managed identity is asked only on an Azure machine; elsewhere the missing
//! credential fails at once with what to set.

use std::sync::Arc;

use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::{ClientOptions, ObjectStore, RetryConfig};

use super::{env_config, env_set, env_true};
use crate::error::{Error, Result};

/// Whether a credential (or the emulator) is configured, so that no managed identity is
/// needed.
fn has_credential() -> bool {
    env_true("AZURE_STORAGE_USE_EMULATOR")
        || env_true("AZURE_SKIP_SIGNATURE")
        || [
            "AZURE_STORAGE_ACCOUNT_KEY",
            "AZURE_STORAGE_ACCESS_KEY",
            "AZURE_STORAGE_MASTER_KEY",
            "AZURE_STORAGE_SAS_KEY",
            "AZURE_STORAGE_SAS_TOKEN",
            "AZURE_STORAGE_TOKEN",
            "AZURE_CLIENT_SECRET",
            "AZURE_STORAGE_CLIENT_SECRET",
            "AZURE_FEDERATED_TOKEN_FILE",
        ]
        .iter()
        .any(|k| env_set(k))
}

/// Whether this machine is an Azure virtual machine (whose metadata service gives a
/// managed identity's token).
fn on_azure() -> bool {
    std::env::var_os("IDENTITY_ENDPOINT").is_some()
        || std::env::var_os("MSI_ENDPOINT").is_some()
        || std::fs::read_to_string("/sys/class/dmi/id/sys_vendor")
            .is_ok_and(|s| s.contains("Microsoft"))
}

/// The client of `container` (`url` names it in messages).
pub fn build(
    url: &str,
    container: &str,
    client: ClientOptions,
    retry: RetryConfig,
) -> Result<Arc<dyn ObjectStore>> {
    if !has_credential() && !on_azure() {
        return Err(Error::Usage(format!(
            "{url}: no Azure credentials (set AZURE_STORAGE_ACCOUNT_NAME with \
             AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN, or AZURE_CLIENT_ID, \
             AZURE_CLIENT_SECRET and AZURE_TENANT_ID)"
        )));
    }
    let mut builder = MicrosoftAzureBuilder::new()
        .with_client_options(client)
        .with_retry(retry);
    for (k, value) in env_config::<AzureConfigKey>("AZURE_") {
        builder = builder.with_config(k, value);
    }
    let azure = builder
        .with_container_name(container)
        .build()
        .map_err(|e| Error::Usage(format!("{url}: {e}")))?;
    Ok(Arc::new(azure))
}
