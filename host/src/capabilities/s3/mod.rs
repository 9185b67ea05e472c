//! `s3`: Amazon S3's control calls (buckets, listing, small objects), made
//! for a backend by the AWS SDK in the host with the host's credentials,
//! region, endpoint and retry policy. The data path (the FUSE object
//! filesystem in `storage::objectfs`) uses the same client, taken from
//! here by the volume manager.
//!
//! - `calls`: one method per WIT function
//! - `errors`: SDK errors to the contract's
//!
//! `S3` is the core (plain async methods returning `Result<T,
//! BackendError>`, usable without a guest); the `Host` impl only
//! delegates. Credentials never leave this module's client.

mod calls;
pub mod errors;

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_s3::Client;

use super::aws::{AwsSettings, AwsSettingsError, LazyClient};
use super::{Capability, granted};
use crate::config::BackendConfig;
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::s3::{Bucket, Host, ObjectPage, PrefixUsage};
use crate::runtime::store::HostState;

/// REX-Ray's prefix for the s3fs driver's settings (`S3FS_REGION` ...).
pub const SETTINGS_PREFIX: &str = "S3FS";
/// The largest body `put-object`/`get-object` move through the guest.
pub const SMALL_OBJECT_MAX: usize = 1 << 20;

/// The `s3` capability of one backend.
pub struct S3 {
    backend: String,
    /// Built on first use: loading the SDK config may ask the region chain.
    aws: LazyClient<Client>,
    /// Path-style addressing (`endpoint/bucket/key`), which S3-compatible
    /// servers need; on unless `S3FS_DISABLEPATHSTYLE` is true.
    path_style: bool,
}

impl S3 {
    pub fn new(backend: &str, settings: AwsSettings, path_style: bool) -> S3 {
        S3 {
            backend: backend.into(),
            aws: LazyClient::new(settings, move |shared| {
                let config = aws_sdk_s3::config::Builder::from(shared)
                    .force_path_style(path_style)
                    .build();
                Client::from_conf(config)
            }),
            path_style,
        }
    }

    /// From a backend's `aws` table and its `S3FS_*` settings.
    pub fn from_config(backend: &str, config: &BackendConfig) -> Result<S3, AwsSettingsError> {
        let settings = AwsSettings::resolve(&config.aws, &config.settings, SETTINGS_PREFIX)?;
        Ok(S3::new(backend, settings, path_style(&config.settings)))
    }

    pub fn backend(&self) -> &str {
        &self.backend
    }

    pub fn settings(&self) -> &AwsSettings {
        self.aws.settings()
    }

    pub fn path_style(&self) -> bool {
        self.path_style
    }

    /// The SDK client, made on first use. The object filesystem clones it.
    pub async fn client(&self) -> &Client {
        self.aws.client().await
    }

    /// The region the client uses (configured, or found by the SDK's chain).
    pub async fn region(&self) -> Option<String> {
        self.aws.region().await
    }
}

/// Path style unless `S3FS_DISABLEPATHSTYLE` (any case) says true.
fn path_style(settings: &BTreeMap<String, String>) -> bool {
    let disabled = settings
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("S3FS_DISABLEPATHSTYLE"))
        .is_some_and(|(_, v)| {
            matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes")
        });
    !disabled
}

impl HostState {
    fn s3(&self) -> wasmtime::Result<Arc<S3>> {
        granted(&self.caps.s3, Capability::S3)
    }
}

type Answer<T> = wasmtime::Result<Result<T, BackendError>>;

impl Host for HostState {
    async fn list_buckets(&mut self) -> Answer<Vec<Bucket>> {
        Ok(self.s3()?.list_buckets().await)
    }

    async fn head_bucket(&mut self, bucket: String) -> Answer<String> {
        Ok(self.s3()?.head_bucket(&bucket).await)
    }

    async fn create_bucket(&mut self, bucket: String, region: Option<String>) -> Answer<()> {
        Ok(self.s3()?.create_bucket(&bucket, region.as_deref()).await)
    }

    async fn delete_bucket(&mut self, bucket: String) -> Answer<()> {
        Ok(self.s3()?.delete_bucket(&bucket).await)
    }

    async fn list_objects(
        &mut self,
        bucket: String,
        prefix: String,
        delimiter: Option<String>,
        continuation: Option<String>,
        max_keys: u32,
    ) -> Answer<ObjectPage> {
        let s3 = self.s3()?;
        Ok(s3
            .list_objects(
                &bucket,
                &prefix,
                delimiter.as_deref(),
                continuation,
                max_keys,
            )
            .await)
    }

    async fn usage(
        &mut self,
        bucket: String,
        prefix: String,
        max_objects: u64,
    ) -> Answer<PrefixUsage> {
        Ok(self.s3()?.usage(&bucket, &prefix, max_objects).await)
    }

    async fn delete_prefix(&mut self, bucket: String, prefix: String) -> Answer<u64> {
        Ok(self.s3()?.delete_prefix(&bucket, &prefix).await)
    }

    async fn put_object(&mut self, bucket: String, key: String, body: Vec<u8>) -> Answer<()> {
        Ok(self.s3()?.put_object(&bucket, &key, body).await)
    }

    async fn get_object(&mut self, bucket: String, key: String) -> Answer<Vec<u8>> {
        Ok(self.s3()?.get_object(&bucket, &key).await)
    }

    async fn delete_object(&mut self, bucket: String, key: String) -> Answer<()> {
        Ok(self.s3()?.delete_object(&bucket, &key).await)
    }
}
