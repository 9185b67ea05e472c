//! `ec2`: Amazon EC2's EBS calls, made for a backend by the AWS SDK in the
//! host with the host's credentials, region, endpoint and retry policy.
//!
//! - `calls`: one method per WIT function that maps to one EC2 action
//! - `wait`: bounded backoff and `wait-volume`
//! - `relocate`: moving a detached volume to another zone in the background
//! - `permissions`: DryRun checks
//! - `convert`, `errors`: SDK types and errors to the contract's
//!
//! `Ec2` is the core (plain async methods returning `Result<T,
//! BackendError>`, usable without a guest); the `Host` impl at the end
//! only delegates. One `Ec2` serves every call of one backend. Credentials
//! never leave this module's client; nothing here logs them.

mod calls;
pub mod convert;
pub mod errors;
mod permissions;
mod relocate;
pub mod wait;

use std::sync::Arc;

use aws_sdk_ec2::Client;

pub use self::permissions::{ALL_ACTIONS, REQUIRED_ACTIONS, action_name};
pub use self::relocate::{RELOCATED_FROM, RELOCATING, RELOCATING_TO};
use super::aws::{AwsSettings, AwsSettingsError, LazyClient};
use super::{Capability, granted};
use crate::config::BackendConfig;
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::ec2::{
    Action, Attachment, CreateVolumeRequest, EbsVolume, Filter, Host, InstanceInfo,
    ModifyVolumeRequest, Relocation, Snapshot, Tag, VolumeCondition, WaitPolicy,
};
use crate::runtime::store::HostState;

/// REX-Ray's prefix for the EBS driver's settings (`EBS_REGION` ...).
pub const SETTINGS_PREFIX: &str = "EBS";
/// Results per page of DescribeVolumes/DescribeSnapshots (EC2 allows 5–500
/// for volumes).
pub const DEFAULT_PAGE_SIZE: i32 = 500;

/// The `ec2` capability of one backend.
pub struct Ec2 {
    backend: String,
    /// Built on first use: loading the SDK config may ask the region chain.
    aws: LazyClient<Client>,
    page_size: i32,
    relocations: relocate::Relocations,
}

impl Ec2 {
    pub fn new(backend: &str, settings: AwsSettings) -> Ec2 {
        Ec2 {
            backend: backend.into(),
            aws: LazyClient::new(settings, Client::new),
            page_size: DEFAULT_PAGE_SIZE,
            relocations: relocate::Relocations::default(),
        }
    }

    /// From a backend's `aws` table and its `EBS_*` settings.
    pub fn from_config(backend: &str, config: &BackendConfig) -> Result<Ec2, AwsSettingsError> {
        let settings = AwsSettings::resolve(&config.aws, &config.settings, SETTINGS_PREFIX)?;
        Ok(Ec2::new(backend, settings))
    }

    /// Ask for `n` results per page (5–500) when listing without ids.
    pub fn with_page_size(mut self, n: i32) -> Ec2 {
        self.page_size = n.clamp(5, 500);
        self
    }

    pub fn backend(&self) -> &str {
        &self.backend
    }

    pub fn settings(&self) -> &AwsSettings {
        self.aws.settings()
    }

    /// The SDK client, made on first use.
    pub async fn client(&self) -> &Client {
        self.aws.client().await
    }

    /// The region the client uses (configured, or found by the SDK's chain).
    pub async fn region(&self) -> Option<String> {
        self.aws.region().await
    }
}

impl HostState {
    fn ec2(&self) -> wasmtime::Result<Arc<Ec2>> {
        granted(&self.caps.ec2, Capability::Ec2)
    }
}

type Answer<T> = wasmtime::Result<Result<T, BackendError>>;

impl Host for HostState {
    async fn describe_volumes(
        &mut self,
        volume_ids: Vec<String>,
        filters: Vec<Filter>,
    ) -> Answer<Vec<EbsVolume>> {
        Ok(self.ec2()?.describe_volumes(&volume_ids, &filters).await)
    }

    async fn create_volume(&mut self, request: CreateVolumeRequest) -> Answer<EbsVolume> {
        Ok(self.ec2()?.create_volume(&request).await)
    }

    async fn delete_volume(&mut self, volume_id: String) -> Answer<()> {
        Ok(self.ec2()?.delete_volume(&volume_id).await)
    }

    async fn attach_volume(
        &mut self,
        volume_id: String,
        instance_id: String,
        device: String,
    ) -> Answer<Attachment> {
        let ec2 = self.ec2()?;
        Ok(ec2.attach_volume(&volume_id, &instance_id, &device).await)
    }

    async fn detach_volume(
        &mut self,
        volume_id: String,
        instance_id: String,
        force: bool,
    ) -> Answer<Attachment> {
        let ec2 = self.ec2()?;
        Ok(ec2.detach_volume(&volume_id, &instance_id, force).await)
    }

    async fn modify_volume(
        &mut self,
        volume_id: String,
        request: ModifyVolumeRequest,
    ) -> Answer<()> {
        Ok(self.ec2()?.modify_volume(&volume_id, &request).await)
    }

    async fn create_tags(&mut self, resource_ids: Vec<String>, tags: Vec<Tag>) -> Answer<()> {
        Ok(self.ec2()?.create_tags(&resource_ids, &tags).await)
    }

    async fn delete_tags(&mut self, resource_ids: Vec<String>, keys: Vec<String>) -> Answer<()> {
        Ok(self.ec2()?.delete_tags(&resource_ids, &keys).await)
    }

    async fn create_snapshot(
        &mut self,
        volume_id: String,
        description: String,
        tags: Vec<Tag>,
    ) -> Answer<Snapshot> {
        let ec2 = self.ec2()?;
        Ok(ec2.create_snapshot(&volume_id, &description, &tags).await)
    }

    async fn describe_snapshots(
        &mut self,
        snapshot_ids: Vec<String>,
        filters: Vec<Filter>,
    ) -> Answer<Vec<Snapshot>> {
        Ok(self
            .ec2()?
            .describe_snapshots(&snapshot_ids, &filters)
            .await)
    }

    async fn delete_snapshot(&mut self, snapshot_id: String) -> Answer<()> {
        Ok(self.ec2()?.delete_snapshot(&snapshot_id).await)
    }

    async fn describe_availability_zones(&mut self) -> Answer<Vec<String>> {
        Ok(self.ec2()?.describe_availability_zones().await)
    }

    async fn describe_instance(&mut self, instance_id: String) -> Answer<InstanceInfo> {
        Ok(self.ec2()?.describe_instance(&instance_id).await)
    }

    async fn wait_volume(
        &mut self,
        volume_id: String,
        condition: VolumeCondition,
        policy: WaitPolicy,
    ) -> Answer<EbsVolume> {
        let ec2 = self.ec2()?;
        Ok(ec2.wait_volume(&volume_id, &condition, &policy).await)
    }

    async fn relocate(&mut self, volume_id: String, zone: String) -> Answer<Relocation> {
        Ok(self.ec2()?.relocate(&volume_id, &zone).await)
    }

    async fn check_permission(&mut self, action: Action) -> Answer<bool> {
        Ok(self.ec2()?.check_permission(action).await)
    }
}
