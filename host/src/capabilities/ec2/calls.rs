//! One method per EC2 action the contract exposes: build the SDK call from
//! the contract's values, send it (the SDK retries), convert the answer.
//! Lists are read to the last page.

use aws_sdk_ec2::types as sdk;

use super::Ec2;
use super::convert;
use super::errors::{from_sdk, sdk};
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::ec2::{
    Attachment, CreateVolumeRequest, EbsVolume, Filter, InstanceInfo, ModifyVolumeRequest,
    Snapshot, Tag,
};

impl Ec2 {
    /// Every volume with these ids (none: any) matching every filter.
    pub async fn describe_volumes(
        &self,
        volume_ids: &[String],
        filters: &[Filter],
    ) -> Result<Vec<EbsVolume>, BackendError> {
        let mut pages = self
            .client()
            .await
            .describe_volumes()
            .set_volume_ids(non_empty(volume_ids))
            .set_filters(non_empty(&convert::filters(filters)))
            .into_paginator();
        // EC2 refuses MaxResults together with explicit ids.
        if volume_ids.is_empty() {
            pages = pages.page_size(self.page_size);
        }
        let volumes = pages
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk("DescribeVolumes"))?;
        Ok(volumes.iter().map(convert::volume).collect())
    }

    /// One volume; `None` when EC2 says it does not exist.
    pub async fn describe_volume(
        &self,
        volume_id: &str,
    ) -> Result<Option<EbsVolume>, BackendError> {
        match self.describe_volumes(&[volume_id.to_string()], &[]).await {
            Ok(volumes) => Ok(volumes.into_iter().find(|v| v.volume_id == volume_id)),
            Err(BackendError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn create_volume(
        &self,
        request: &CreateVolumeRequest,
    ) -> Result<EbsVolume, BackendError> {
        let r = request;
        let output = self
            .client()
            .await
            .create_volume()
            .availability_zone(&r.zone)
            .set_volume_type(
                (!r.volume_type.is_empty()).then(|| sdk::VolumeType::from(r.volume_type.as_str())),
            )
            .set_size(int("CreateVolume", "size-gib", r.size_gib)?)
            .set_iops(int("CreateVolume", "iops", r.iops)?)
            .set_throughput(int("CreateVolume", "throughput", r.throughput)?)
            // Unset rather than false: the account's encryption default applies.
            .set_encrypted(r.encrypted.then_some(true))
            .set_kms_key_id(r.kms_key_id.clone())
            .set_snapshot_id(r.snapshot_id.clone())
            .set_client_token(r.client_token.clone())
            .set_tag_specifications(
                convert::tag_spec(sdk::ResourceType::Volume, &r.tags).map(|t| vec![t]),
            )
            .send()
            .await
            .map_err(sdk("CreateVolume"))?;
        Ok(convert::volume(&output))
    }

    pub async fn delete_volume(&self, volume_id: &str) -> Result<(), BackendError> {
        self.client()
            .await
            .delete_volume()
            .volume_id(volume_id)
            .send()
            .await
            .map_err(sdk("DeleteVolume"))?;
        Ok(())
    }

    pub async fn attach_volume(
        &self,
        volume_id: &str,
        instance_id: &str,
        device: &str,
    ) -> Result<Attachment, BackendError> {
        let output = self
            .client()
            .await
            .attach_volume()
            .volume_id(volume_id)
            .instance_id(instance_id)
            .device(device)
            .send()
            .await
            .map_err(sdk("AttachVolume"))?;
        Ok(convert::attachment(&output))
    }

    pub async fn detach_volume(
        &self,
        volume_id: &str,
        instance_id: &str,
        force: bool,
    ) -> Result<Attachment, BackendError> {
        let output = self
            .client()
            .await
            .detach_volume()
            .volume_id(volume_id)
            .instance_id(instance_id)
            .set_force(force.then_some(true))
            .send()
            .await
            .map_err(sdk("DetachVolume"))?;
        Ok(convert::attachment(&output))
    }

    pub async fn modify_volume(
        &self,
        volume_id: &str,
        request: &ModifyVolumeRequest,
    ) -> Result<(), BackendError> {
        let r = request;
        self.client()
            .await
            .modify_volume()
            .volume_id(volume_id)
            .set_size(int("ModifyVolume", "size-gib", r.size_gib)?)
            .set_volume_type(r.volume_type.as_deref().map(sdk::VolumeType::from))
            .set_iops(int("ModifyVolume", "iops", r.iops)?)
            .set_throughput(int("ModifyVolume", "throughput", r.throughput)?)
            .send()
            .await
            .map_err(sdk("ModifyVolume"))?;
        Ok(())
    }

    /// The latest modification of the volume: its state and status
    /// message; `None` when EC2 has none recorded.
    pub async fn modification_state(
        &self,
        volume_id: &str,
    ) -> Result<Option<(String, Option<String>)>, BackendError> {
        let answer = self
            .client()
            .await
            .describe_volumes_modifications()
            .volume_ids(volume_id)
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(e) => {
                return match from_sdk("DescribeVolumesModifications", &e) {
                    // "InvalidVolumeModification.NotFound": nothing recorded (yet).
                    BackendError::NotFound(m) if m.contains("Modification") => Ok(None),
                    other => Err(other),
                };
            }
        };
        Ok(output
            .volumes_modifications()
            .iter()
            .filter(|m| m.volume_id() == Some(volume_id))
            .max_by_key(|m| m.start_time().and_then(|t| t.to_millis().ok()))
            .map(|m| {
                let state = m
                    .modification_state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default();
                (state, m.status_message().map(String::from))
            }))
    }

    pub async fn create_tags(
        &self,
        resource_ids: &[String],
        tags: &[Tag],
    ) -> Result<(), BackendError> {
        self.client()
            .await
            .create_tags()
            .set_resources(Some(resource_ids.to_vec()))
            .set_tags(Some(convert::sdk_tags(tags)))
            .send()
            .await
            .map_err(sdk("CreateTags"))?;
        Ok(())
    }

    /// Remove the tags with these keys, whatever their values.
    pub async fn delete_tags(
        &self,
        resource_ids: &[String],
        keys: &[String],
    ) -> Result<(), BackendError> {
        let tags = keys
            .iter()
            .map(|k| sdk::Tag::builder().key(k).build())
            .collect();
        self.client()
            .await
            .delete_tags()
            .set_resources(Some(resource_ids.to_vec()))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(sdk("DeleteTags"))?;
        Ok(())
    }

    pub async fn create_snapshot(
        &self,
        volume_id: &str,
        description: &str,
        tags: &[Tag],
    ) -> Result<Snapshot, BackendError> {
        let output = self
            .client()
            .await
            .create_snapshot()
            .volume_id(volume_id)
            .description(description)
            .set_tag_specifications(
                convert::tag_spec(sdk::ResourceType::Snapshot, tags).map(|t| vec![t]),
            )
            .send()
            .await
            .map_err(sdk("CreateSnapshot"))?;
        Ok(convert::snapshot(&output))
    }

    /// This account's snapshots with these ids (none: any) matching every filter.
    pub async fn describe_snapshots(
        &self,
        snapshot_ids: &[String],
        filters: &[Filter],
    ) -> Result<Vec<Snapshot>, BackendError> {
        let mut pages = self
            .client()
            .await
            .describe_snapshots()
            .owner_ids("self")
            .set_snapshot_ids(non_empty(snapshot_ids))
            .set_filters(non_empty(&convert::filters(filters)))
            .into_paginator();
        if snapshot_ids.is_empty() {
            pages = pages.page_size(self.page_size);
        }
        let snapshots = pages
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk("DescribeSnapshots"))?;
        Ok(snapshots.iter().map(convert::snapshot).collect())
    }

    pub async fn delete_snapshot(&self, snapshot_id: &str) -> Result<(), BackendError> {
        self.client()
            .await
            .delete_snapshot()
            .snapshot_id(snapshot_id)
            .send()
            .await
            .map_err(sdk("DeleteSnapshot"))?;
        Ok(())
    }

    /// The names of the region's zones that are `available`.
    pub async fn describe_availability_zones(&self) -> Result<Vec<String>, BackendError> {
        let output = self
            .client()
            .await
            .describe_availability_zones()
            .filters(
                sdk::Filter::builder()
                    .name("state")
                    .values("available")
                    .build(),
            )
            .send()
            .await
            .map_err(sdk("DescribeAvailabilityZones"))?;
        Ok(output
            .availability_zones()
            .iter()
            .filter_map(|z| z.zone_name())
            .map(String::from)
            .collect())
    }

    pub async fn describe_instance(&self, instance_id: &str) -> Result<InstanceInfo, BackendError> {
        let output = self
            .client()
            .await
            .describe_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(sdk("DescribeInstances"))?;
        output
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(instance_id))
            .map(convert::instance)
            .ok_or_else(|| {
                BackendError::NotFound(format!(
                    "DescribeInstances: InvalidInstanceID.NotFound: the instance ID '{instance_id}' was not in the answer"
                ))
            })
    }
}

/// `None` for an empty list: send no parameter at all.
fn non_empty<T: Clone>(items: &[T]) -> Option<Vec<T>> {
    (!items.is_empty()).then(|| items.to_vec())
}

/// A contract number as the SDK's i32.
fn int(action: &str, name: &str, n: Option<u32>) -> Result<Option<i32>, BackendError> {
    n.map(|n| {
        i32::try_from(n).map_err(|_| {
            BackendError::InvalidArgument(format!("{action}: {name} {n} is out of range"))
        })
    })
    .transpose()
}
