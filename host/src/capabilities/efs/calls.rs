//! One method per EFS action the contract exposes: build the SDK call from
//! the contract's values, send it (the SDK retries), convert the answer.
//! Lists are read to the last page.
//!
//! Creates are idempotent the way EFS makes them: a reused creation token
//! (client token for access points) answers `…AlreadyExists` naming the
//! resource it made first; the host describes that one and returns it, so
//! a guest retrying a create after a lost answer gets what the first try
//! made. Comparing its parameters with the request is the guest's job.

use aws_sdk_efs::operation::create_access_point::CreateAccessPointError;
use aws_sdk_efs::operation::create_file_system::CreateFileSystemError;
use aws_sdk_efs::types as sdk;

use super::Efs;
use super::convert::{self, life_cycle_state_name};
use super::errors::{from_sdk, sdk};
use super::resource::{Resource, is_going};
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::efs::{
    AccessPoint, CreateAccessPointRequest, CreateFileSystemRequest, FileSystem, MountTarget, Tag,
};

impl Efs {
    /// The file system with this id, those with this creation token, or
    /// (both none) every one; a missing id is `not-found`.
    pub async fn describe_file_systems(
        &self,
        file_system_id: Option<&str>,
        creation_token: Option<&str>,
    ) -> Result<Vec<FileSystem>, BackendError> {
        let file_systems = self
            .client()
            .await
            .describe_file_systems()
            .set_file_system_id(file_system_id.map(String::from))
            .set_creation_token(creation_token.map(String::from))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk("DescribeFileSystems"))?;
        Ok(file_systems.iter().map(convert::file_system).collect())
    }

    /// One file system; `None` when EFS says it does not exist.
    pub async fn describe_file_system(
        &self,
        file_system_id: &str,
    ) -> Result<Option<FileSystem>, BackendError> {
        let found = self.describe_file_systems(Some(file_system_id), None).await;
        first_or_none(found, |f| f.file_system_id == file_system_id)
    }

    pub async fn create_file_system(
        &self,
        request: &CreateFileSystemRequest,
    ) -> Result<FileSystem, BackendError> {
        let r = request;
        let answer = self
            .client()
            .await
            .create_file_system()
            .creation_token(&r.creation_token)
            .set_performance_mode(
                r.performance_mode
                    .as_deref()
                    .map(sdk::PerformanceMode::from),
            )
            .set_throughput_mode(r.throughput_mode.as_deref().map(sdk::ThroughputMode::from))
            .set_provisioned_throughput_in_mibps(r.provisioned_throughput_mibps.map(f64::from))
            .encrypted(r.encrypted)
            .set_kms_key_id(r.kms_key_id.clone())
            .set_availability_zone_name(r.availability_zone.clone())
            .set_tags(non_empty(convert::sdk_tags("CreateFileSystem", &r.tags)?))
            .send()
            .await;
        let err = match answer {
            Ok(output) => return Ok(convert::file_system(&output)),
            Err(err) => err,
        };
        match err.as_service_error() {
            Some(CreateFileSystemError::FileSystemAlreadyExists(existing)) => {
                self.adopt_file_system(existing.file_system_id(), &r.creation_token)
                    .await
            }
            _ => Err(from_sdk("CreateFileSystem", &err)),
        }
    }

    /// The file system a reused creation token names: by the id EFS gave
    /// (some servers give none: then by the token).
    async fn adopt_file_system(
        &self,
        file_system_id: &str,
        token: &str,
    ) -> Result<FileSystem, BackendError> {
        let found = match file_system_id {
            "" => self
                .describe_file_systems(None, Some(token))
                .await?
                .into_iter()
                .next(),
            id => self.describe_file_system(id).await?,
        };
        adopted(
            found,
            "CreateFileSystem: FileSystemAlreadyExists: creation token",
            token,
            file_system_id,
        )
    }

    /// DeleteFileSystem; `conflict` (FileSystemInUse) while it has mount targets.
    pub async fn delete_file_system(&self, file_system_id: &str) -> Result<(), BackendError> {
        self.client()
            .await
            .delete_file_system()
            .file_system_id(file_system_id)
            .send()
            .await
            .map_err(sdk("DeleteFileSystem"))?;
        Ok(())
    }

    /// Every mount target of one file system.
    pub async fn describe_mount_targets(
        &self,
        file_system_id: &str,
    ) -> Result<Vec<MountTarget>, BackendError> {
        let targets = self
            .client()
            .await
            .describe_mount_targets()
            .file_system_id(file_system_id)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk("DescribeMountTargets"))?;
        Ok(targets.iter().map(convert::mount_target).collect())
    }

    /// One mount target; `None` when EFS says it does not exist.
    pub async fn describe_mount_target(
        &self,
        mount_target_id: &str,
    ) -> Result<Option<MountTarget>, BackendError> {
        let found = self
            .client()
            .await
            .describe_mount_targets()
            .mount_target_id(mount_target_id)
            .send()
            .await
            .map(|output| {
                output
                    .mount_targets()
                    .iter()
                    .map(convert::mount_target)
                    .collect()
            })
            .map_err(sdk("DescribeMountTargets"));
        first_or_none(found, |m| m.mount_target_id == mount_target_id)
    }

    /// CreateMountTarget in `subnet_id` with these security groups (none:
    /// the VPC's default group).
    pub async fn create_mount_target(
        &self,
        file_system_id: &str,
        subnet_id: &str,
        security_groups: &[String],
    ) -> Result<MountTarget, BackendError> {
        let output = self
            .client()
            .await
            .create_mount_target()
            .file_system_id(file_system_id)
            .subnet_id(subnet_id)
            .set_security_groups(non_empty(security_groups.to_vec()))
            .send()
            .await
            .map_err(sdk("CreateMountTarget"))?;
        Ok(convert::mount_target(&output))
    }

    pub async fn delete_mount_target(&self, mount_target_id: &str) -> Result<(), BackendError> {
        self.client()
            .await
            .delete_mount_target()
            .mount_target_id(mount_target_id)
            .send()
            .await
            .map_err(sdk("DeleteMountTarget"))?;
        Ok(())
    }

    /// The access point with this id, or those of this file system; with
    /// both, the one with this id if it belongs to that file system.
    pub async fn describe_access_points(
        &self,
        file_system_id: Option<&str>,
        access_point_id: Option<&str>,
    ) -> Result<Vec<AccessPoint>, BackendError> {
        if file_system_id.is_none() && access_point_id.is_none() {
            return Err(BackendError::InvalidArgument(
                "DescribeAccessPoints: BadRequest: give a file-system-id, an access-point-id or both"
                    .into(),
            ));
        }
        // EFS takes one of the two: the id, when given, selects on its own.
        let by_file_system = file_system_id.filter(|_| access_point_id.is_none());
        let points = self
            .client()
            .await
            .describe_access_points()
            .set_access_point_id(access_point_id.map(String::from))
            .set_file_system_id(by_file_system.map(String::from))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk("DescribeAccessPoints"))?;
        Ok(points
            .iter()
            .map(convert::access_point)
            .filter(|a| file_system_id.is_none_or(|f| a.file_system_id == f))
            .collect())
    }

    /// One access point; `None` when EFS says it does not exist.
    pub async fn describe_access_point(
        &self,
        access_point_id: &str,
    ) -> Result<Option<AccessPoint>, BackendError> {
        let found = self
            .describe_access_points(None, Some(access_point_id))
            .await;
        first_or_none(found, |a| a.access_point_id == access_point_id)
    }

    pub async fn create_access_point(
        &self,
        request: &CreateAccessPointRequest,
    ) -> Result<AccessPoint, BackendError> {
        const ACTION: &str = "CreateAccessPoint";
        let r = request;
        let answer = self
            .client()
            .await
            .create_access_point()
            .client_token(&r.client_token)
            .file_system_id(&r.file_system_id)
            .set_posix_user(
                r.posix_user
                    .as_ref()
                    .map(|u| convert::sdk_posix_user(ACTION, u))
                    .transpose()?,
            )
            .root_directory(convert::sdk_root_directory(ACTION, &r.root_directory)?)
            .set_tags(non_empty(convert::sdk_tags(ACTION, &r.tags)?))
            .send()
            .await;
        let err = match answer {
            Ok(output) => return Ok(convert::access_point(&output)),
            Err(err) => err,
        };
        match err.as_service_error() {
            Some(CreateAccessPointError::AccessPointAlreadyExists(existing)) => {
                self.adopt_access_point(existing.access_point_id(), r).await
            }
            _ => Err(from_sdk(ACTION, &err)),
        }
    }

    /// The access point a reused client token names: by the id EFS gave
    /// (some servers give none: then by the token, among the file system's).
    async fn adopt_access_point(
        &self,
        access_point_id: &str,
        request: &CreateAccessPointRequest,
    ) -> Result<AccessPoint, BackendError> {
        let token = &request.client_token;
        let found = match access_point_id {
            "" => self
                .describe_access_points(Some(&request.file_system_id), None)
                .await?
                .into_iter()
                .find(|a| a.client_token == *token),
            id => self.describe_access_point(id).await?,
        };
        adopted(
            found,
            "CreateAccessPoint: AccessPointAlreadyExists: client token",
            token,
            access_point_id,
        )
    }

    pub async fn delete_access_point(&self, access_point_id: &str) -> Result<(), BackendError> {
        self.client()
            .await
            .delete_access_point()
            .access_point_id(access_point_id)
            .send()
            .await
            .map_err(sdk("DeleteAccessPoint"))?;
        Ok(())
    }

    /// TagResource on a file system or access point.
    pub async fn tag_resource(&self, resource_id: &str, tags: &[Tag]) -> Result<(), BackendError> {
        self.client()
            .await
            .tag_resource()
            .resource_id(resource_id)
            .set_tags(Some(convert::sdk_tags("TagResource", tags)?))
            .send()
            .await
            .map_err(sdk("TagResource"))?;
        Ok(())
    }

    /// Remove the tags with these keys, whatever their values.
    pub async fn untag_resource(
        &self,
        resource_id: &str,
        keys: &[String],
    ) -> Result<(), BackendError> {
        self.client()
            .await
            .untag_resource()
            .resource_id(resource_id)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .map_err(sdk("UntagResource"))?;
        Ok(())
    }
}

/// The item `is_it` picks from a describe's answer; `None` when EFS says
/// there is no such resource (transient trouble stays an error).
fn first_or_none<T>(
    found: Result<Vec<T>, BackendError>,
    is_it: impl Fn(&T) -> bool,
) -> Result<Option<T>, BackendError> {
    match found {
        Ok(items) => Ok(items.into_iter().find(is_it)),
        Err(BackendError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What a reused token gives back: the resource `found` for it, unless
/// it is gone or going (`refusal` starts the `conflict` then; `named` is
/// the id EFS gave, if any).
fn adopted<T: Resource>(
    found: Option<T>,
    refusal: &str,
    token: &str,
    named: &str,
) -> Result<T, BackendError> {
    let kind = T::KIND;
    let what = match found {
        Some(r) if !is_going(r.state()) => return Ok(r),
        Some(r) => format!(
            "{kind} {}, which is {}",
            r.id(),
            life_cycle_state_name(r.state())
        ),
        None if named.is_empty() => format!("a {kind} that no longer exists"),
        None => format!("{kind} {named}, which no longer exists"),
    };
    Err(BackendError::Conflict(format!(
        "{refusal} {token:?} names {what}: the token belongs to a deleted {kind}; use another token"
    )))
}

/// `None` for an empty list: send no parameter at all.
fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}
