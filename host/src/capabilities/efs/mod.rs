//! `efs`: Amazon EFS's control calls (file systems, mount targets, access
//! points, tags), made for a backend by the AWS SDK in the host with the
//! host's credentials, region, endpoint and retry policy. The data path is
//! the kernel's NFS client (`storage::nfs`).
//!
//! SCAFFOLD: the calls are being written; every one answers `internal` until then.

use std::sync::Arc;

use super::aws::{AwsSettings, AwsSettingsError};
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

/// The `efs` capability of one backend.
pub struct Efs {
    backend: String,
    settings: AwsSettings,
}

impl Efs {
    /// From a backend's `aws` table and its `EFS_*` settings.
    pub fn from_config(backend: &str, config: &BackendConfig) -> Result<Efs, AwsSettingsError> {
        let settings = AwsSettings::resolve(&config.aws, &config.settings, SETTINGS_PREFIX)?;
        Ok(Efs {
            backend: backend.into(),
            settings,
        })
    }

    pub fn backend(&self) -> &str {
        &self.backend
    }

    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }
}

impl HostState {
    fn efs(&self) -> wasmtime::Result<Arc<Efs>> {
        granted(&self.caps.efs, Capability::Efs)
    }
}

type Answer<T> = wasmtime::Result<Result<T, BackendError>>;

fn scaffold<T>(action: &str) -> Result<T, BackendError> {
    Err(BackendError::Internal(format!("{action}: not written yet")))
}

impl Host for HostState {
    async fn describe_file_systems(
        &mut self,
        _file_system_id: Option<String>,
        _creation_token: Option<String>,
    ) -> Answer<Vec<FileSystem>> {
        self.efs()?;
        Ok(scaffold("DescribeFileSystems"))
    }

    async fn create_file_system(
        &mut self,
        _request: CreateFileSystemRequest,
    ) -> Answer<FileSystem> {
        self.efs()?;
        Ok(scaffold("CreateFileSystem"))
    }

    async fn delete_file_system(&mut self, _file_system_id: String) -> Answer<()> {
        self.efs()?;
        Ok(scaffold("DeleteFileSystem"))
    }

    async fn describe_mount_targets(
        &mut self,
        _file_system_id: String,
    ) -> Answer<Vec<MountTarget>> {
        self.efs()?;
        Ok(scaffold("DescribeMountTargets"))
    }

    async fn create_mount_target(
        &mut self,
        _file_system_id: String,
        _subnet_id: String,
        _security_groups: Vec<String>,
    ) -> Answer<MountTarget> {
        self.efs()?;
        Ok(scaffold("CreateMountTarget"))
    }

    async fn delete_mount_target(&mut self, _mount_target_id: String) -> Answer<()> {
        self.efs()?;
        Ok(scaffold("DeleteMountTarget"))
    }

    async fn describe_access_points(
        &mut self,
        _file_system_id: Option<String>,
        _access_point_id: Option<String>,
    ) -> Answer<Vec<AccessPoint>> {
        self.efs()?;
        Ok(scaffold("DescribeAccessPoints"))
    }

    async fn create_access_point(
        &mut self,
        _request: CreateAccessPointRequest,
    ) -> Answer<AccessPoint> {
        self.efs()?;
        Ok(scaffold("CreateAccessPoint"))
    }

    async fn delete_access_point(&mut self, _access_point_id: String) -> Answer<()> {
        self.efs()?;
        Ok(scaffold("DeleteAccessPoint"))
    }

    async fn tag_resource(
        &mut self,
        _resource_id: String,
        _tags: Vec<(String, String)>,
    ) -> Answer<()> {
        self.efs()?;
        Ok(scaffold("TagResource"))
    }

    async fn untag_resource(&mut self, _resource_id: String, _keys: Vec<String>) -> Answer<()> {
        self.efs()?;
        Ok(scaffold("UntagResource"))
    }

    async fn wait_file_system(
        &mut self,
        _file_system_id: String,
        _condition: WaitFor,
        _policy: WaitPolicy,
    ) -> Answer<FileSystem> {
        self.efs()?;
        Ok(scaffold("wait-file-system"))
    }

    async fn wait_mount_target(
        &mut self,
        _mount_target_id: String,
        _condition: WaitFor,
        _policy: WaitPolicy,
    ) -> Answer<MountTarget> {
        self.efs()?;
        Ok(scaffold("wait-mount-target"))
    }

    async fn wait_access_point(
        &mut self,
        _access_point_id: String,
        _condition: WaitFor,
        _policy: WaitPolicy,
    ) -> Answer<AccessPoint> {
        self.efs()?;
        Ok(scaffold("wait-access-point"))
    }

    async fn get_instance_network(&mut self) -> Answer<InstanceNetwork> {
        self.efs()?;
        Ok(scaffold("instance-network"))
    }

    async fn purge_directory(&mut self, _file_system_id: String, _path: String) -> Answer<u64> {
        self.efs()?;
        Ok(scaffold("purge-directory"))
    }
}
