//! `check-permission`: ask EC2 whether the host's credentials may perform
//! an action, by sending it with `DryRun=true` and harmless placeholder
//! parameters (ids that name nothing). EC2 checks the permission before
//! anything else: `DryRunOperation` means allowed, `UnauthorizedOperation`
//! denied. A DryRun call never changes anything.

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types as sdk;

use super::Ec2;
use super::errors::from_sdk;
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::ec2::Action;

/// Placeholders of the right shape; they name no real resource.
const FAKE_VOLUME: &str = "vol-0000000000000000f";
const FAKE_SNAPSHOT: &str = "snap-0000000000000000f";
const FAKE_INSTANCE: &str = "i-0000000000000000f";

/// Every action, in the WIT's order.
pub const ALL_ACTIONS: [Action; 13] = [
    Action::DescribeVolumes,
    Action::CreateVolume,
    Action::DeleteVolume,
    Action::AttachVolume,
    Action::DetachVolume,
    Action::ModifyVolume,
    Action::CreateTags,
    Action::DeleteTags,
    Action::CreateSnapshot,
    Action::DescribeSnapshots,
    Action::DeleteSnapshot,
    Action::DescribeInstances,
    Action::DescribeAvailabilityZones,
];

/// What an EBS backend cannot work without.
pub const REQUIRED_ACTIONS: [Action; 7] = [
    Action::DescribeVolumes,
    Action::CreateVolume,
    Action::AttachVolume,
    Action::DetachVolume,
    Action::DeleteVolume,
    Action::CreateTags,
    Action::DescribeInstances,
];

/// EC2's name of the action.
pub fn action_name(action: Action) -> &'static str {
    match action {
        Action::DescribeVolumes => "DescribeVolumes",
        Action::CreateVolume => "CreateVolume",
        Action::DeleteVolume => "DeleteVolume",
        Action::AttachVolume => "AttachVolume",
        Action::DetachVolume => "DetachVolume",
        Action::ModifyVolume => "ModifyVolume",
        Action::CreateTags => "CreateTags",
        Action::DeleteTags => "DeleteTags",
        Action::CreateSnapshot => "CreateSnapshot",
        Action::DescribeSnapshots => "DescribeSnapshots",
        Action::DeleteSnapshot => "DeleteSnapshot",
        Action::DescribeInstances => "DescribeInstances",
        Action::DescribeAvailabilityZones => "DescribeAvailabilityZones",
    }
}

impl Ec2 {
    /// Whether the credentials may perform `action` (a DryRun call).
    pub async fn check_permission(&self, action: Action) -> Result<bool, BackendError> {
        let c = self.client().await;
        let name = action_name(action);
        let probe = sdk::Tag::builder()
            .key("ballast.permission-check")
            .value("dry-run")
            .build();
        match action {
            Action::DescribeVolumes => {
                verdict(name, c.describe_volumes().dry_run(true).send().await)
            }
            Action::CreateVolume => {
                let zone = format!("{}a", self.region().await.unwrap_or("us-east-1".into()));
                let call = c.create_volume().dry_run(true).availability_zone(zone);
                verdict(
                    name,
                    call.size(1).volume_type(sdk::VolumeType::Gp3).send().await,
                )
            }
            Action::DeleteVolume => verdict(
                name,
                c.delete_volume()
                    .dry_run(true)
                    .volume_id(FAKE_VOLUME)
                    .send()
                    .await,
            ),
            Action::AttachVolume => {
                let call = c.attach_volume().dry_run(true).volume_id(FAKE_VOLUME);
                verdict(
                    name,
                    call.instance_id(FAKE_INSTANCE)
                        .device("/dev/sdf")
                        .send()
                        .await,
                )
            }
            Action::DetachVolume => verdict(
                name,
                c.detach_volume()
                    .dry_run(true)
                    .volume_id(FAKE_VOLUME)
                    .send()
                    .await,
            ),
            Action::ModifyVolume => {
                let call = c.modify_volume().dry_run(true).volume_id(FAKE_VOLUME);
                verdict(name, call.size(1).send().await)
            }
            Action::CreateTags => {
                let call = c.create_tags().dry_run(true).resources(FAKE_VOLUME);
                verdict(name, call.tags(probe).send().await)
            }
            Action::DeleteTags => {
                let call = c.delete_tags().dry_run(true).resources(FAKE_VOLUME);
                verdict(name, call.tags(probe).send().await)
            }
            Action::CreateSnapshot => {
                let call = c.create_snapshot().dry_run(true).volume_id(FAKE_VOLUME);
                verdict(name, call.send().await)
            }
            Action::DescribeSnapshots => {
                let call = c.describe_snapshots().dry_run(true).owner_ids("self");
                verdict(name, call.send().await)
            }
            Action::DeleteSnapshot => {
                let call = c.delete_snapshot().dry_run(true).snapshot_id(FAKE_SNAPSHOT);
                verdict(name, call.send().await)
            }
            Action::DescribeInstances => {
                verdict(name, c.describe_instances().dry_run(true).send().await)
            }
            Action::DescribeAvailabilityZones => {
                let call = c.describe_availability_zones().dry_run(true);
                verdict(name, call.send().await)
            }
        }
    }
}

/// Read a DryRun answer. A plain success (a server that ignores DryRun)
/// still shows the action is allowed.
fn verdict<T, E>(action: &str, answer: Result<T, SdkError<E>>) -> Result<bool, BackendError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let err = match answer {
        Ok(_) => return Ok(true),
        Err(err) => err,
    };
    match err.code() {
        Some("DryRunOperation") => Ok(true),
        Some("UnauthorizedOperation") => Ok(false),
        _ => Err(from_sdk(action, &err)),
    }
}
