//! `efs`: Amazon EFS's control calls (file systems, mount targets, access
//! points, tags), made for a backend by the AWS SDK in the host with the
//! host's credentials, region, endpoint and retry policy. The data path is
//! the kernel's NFS client (`storage::nfs`).
//!
//! - `calls`: one method per WIT function that maps to EFS actions
//! - `wait`: `wait-file-system`, `wait-mount-target`, `wait-access-point`
//! - `network`: this machine's subnet and security groups (instance metadata)
//! - `purge`: deleting a directory through a temporary NFS mount
//! - `resource`: what file systems, mount targets and access points share
//! - `convert`, `errors`: SDK types and errors to the contract's
//!
//! `Efs` is the core (plain async methods returning `Result<T,
//! BackendError>`, usable without a guest); the `Host` impl at the end
//! only delegates. One `Efs` serves every call of one backend. Credentials
//! never leave this module's client; nothing here logs them.

mod calls;
pub mod convert;
pub mod errors;
mod network;
mod purge;
mod resource;
mod wait;

use std::path::PathBuf;
use std::sync::Arc;

use aws_sdk_efs::Client;
use tokio::sync::OnceCell;

pub use self::purge::EFS_MOUNT_OPTIONS;
use super::aws::{AwsSettings, AwsSettingsError, LazyClient};
use super::instance;
use super::{Capability, granted};
use crate::config::BackendConfig;
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::efs::{
    AccessPoint, CreateAccessPointRequest, CreateFileSystemRequest, FileSystem, Host,
    InstanceNetwork, MountTarget, WaitFor, WaitPolicy,
};
use crate::runtime::store::HostState;

/// REX-Ray's prefix for the efs driver's settings (`EFS_REGION` ...).
pub const SETTINGS_PREFIX: &str = "EFS";

/// A backend's config that cannot make its `efs` capability.
#[derive(Debug, thiserror::Error)]
pub enum EfsConfigError {
    #[error(transparent)]
    Aws(#[from] AwsSettingsError),
    /// The `[backends.<name>.instance]` table (its metadata endpoint).
    #[error("instance: {0}")]
    Instance(String),
}

/// The `efs` capability of one backend.
pub struct Efs {
    backend: String,
    aws: LazyClient<Client>,
    /// This machine, from the backend's `instance` table: its zone picks
    /// the mount target `purge-directory` mounts, its metadata answers
    /// `get-instance-network`. Independent of the `instance` grant.
    machine: instance::Source,
    /// Read once: a machine's network does not change while the host runs.
    network: OnceCell<InstanceNetwork>,
    /// Where `purge-directory` makes its temporary mounts.
    scratch_dir: PathBuf,
}

impl Efs {
    pub fn new(backend: &str, settings: AwsSettings, machine: instance::Source) -> Efs {
        Efs {
            backend: backend.into(),
            aws: LazyClient::new(settings, Client::new),
            machine,
            network: OnceCell::new(),
            scratch_dir: std::env::temp_dir().join(format!("ballast-efs-{backend}")),
        }
    }

    /// From a backend's `aws` table, its `EFS_*` settings and its
    /// `instance` table.
    pub fn from_config(backend: &str, config: &BackendConfig) -> Result<Efs, EfsConfigError> {
        let settings = AwsSettings::resolve(&config.aws, &config.settings, SETTINGS_PREFIX)?;
        let machine = instance::Source::new(&config.instance)
            .map_err(|e| EfsConfigError::Instance(format!("{e:#}")))?;
        Ok(Efs::new(backend, settings, machine))
    }

    /// Make `purge-directory`'s temporary mounts under `dir` (the
    /// backend's own directory; the system's temp dir until set).
    pub fn with_scratch_dir(mut self, dir: PathBuf) -> Efs {
        self.scratch_dir = dir;
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
    fn efs(&self) -> wasmtime::Result<Arc<Efs>> {
        granted(&self.caps.efs, Capability::Efs)
    }
}

type Answer<T> = wasmtime::Result<Result<T, BackendError>>;

impl Host for HostState {
    async fn describe_file_systems(
        &mut self,
        file_system_id: Option<String>,
        creation_token: Option<String>,
    ) -> Answer<Vec<FileSystem>> {
        let efs = self.efs()?;
        Ok(efs
            .describe_file_systems(file_system_id.as_deref(), creation_token.as_deref())
            .await)
    }

    async fn create_file_system(&mut self, request: CreateFileSystemRequest) -> Answer<FileSystem> {
        Ok(self.efs()?.create_file_system(&request).await)
    }

    async fn delete_file_system(&mut self, file_system_id: String) -> Answer<()> {
        Ok(self.efs()?.delete_file_system(&file_system_id).await)
    }

    async fn describe_mount_targets(&mut self, file_system_id: String) -> Answer<Vec<MountTarget>> {
        Ok(self.efs()?.describe_mount_targets(&file_system_id).await)
    }

    async fn create_mount_target(
        &mut self,
        file_system_id: String,
        subnet_id: String,
        security_groups: Vec<String>,
    ) -> Answer<MountTarget> {
        let efs = self.efs()?;
        Ok(efs
            .create_mount_target(&file_system_id, &subnet_id, &security_groups)
            .await)
    }

    async fn delete_mount_target(&mut self, mount_target_id: String) -> Answer<()> {
        Ok(self.efs()?.delete_mount_target(&mount_target_id).await)
    }

    async fn describe_access_points(
        &mut self,
        file_system_id: Option<String>,
        access_point_id: Option<String>,
    ) -> Answer<Vec<AccessPoint>> {
        let efs = self.efs()?;
        Ok(efs
            .describe_access_points(file_system_id.as_deref(), access_point_id.as_deref())
            .await)
    }

    async fn create_access_point(
        &mut self,
        request: CreateAccessPointRequest,
    ) -> Answer<AccessPoint> {
        Ok(self.efs()?.create_access_point(&request).await)
    }

    async fn delete_access_point(&mut self, access_point_id: String) -> Answer<()> {
        Ok(self.efs()?.delete_access_point(&access_point_id).await)
    }

    async fn tag_resource(
        &mut self,
        resource_id: String,
        tags: Vec<(String, String)>,
    ) -> Answer<()> {
        Ok(self.efs()?.tag_resource(&resource_id, &tags).await)
    }

    async fn untag_resource(&mut self, resource_id: String, keys: Vec<String>) -> Answer<()> {
        Ok(self.efs()?.untag_resource(&resource_id, &keys).await)
    }

    async fn wait_file_system(
        &mut self,
        file_system_id: String,
        condition: WaitFor,
        policy: WaitPolicy,
    ) -> Answer<FileSystem> {
        let efs = self.efs()?;
        Ok(efs
            .wait_file_system(&file_system_id, condition, &policy)
            .await)
    }

    async fn wait_mount_target(
        &mut self,
        mount_target_id: String,
        condition: WaitFor,
        policy: WaitPolicy,
    ) -> Answer<MountTarget> {
        let efs = self.efs()?;
        Ok(efs
            .wait_mount_target(&mount_target_id, condition, &policy)
            .await)
    }

    async fn wait_access_point(
        &mut self,
        access_point_id: String,
        condition: WaitFor,
        policy: WaitPolicy,
    ) -> Answer<AccessPoint> {
        let efs = self.efs()?;
        Ok(efs
            .wait_access_point(&access_point_id, condition, &policy)
            .await)
    }

    async fn get_instance_network(&mut self) -> Answer<InstanceNetwork> {
        Ok(self.efs()?.instance_network().await)
    }

    async fn purge_directory(&mut self, file_system_id: String, path: String) -> Answer<u64> {
        Ok(self.efs()?.purge_directory(&file_system_id, &path).await)
    }
}
