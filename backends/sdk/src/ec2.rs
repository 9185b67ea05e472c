//! Amazon EC2's EBS calls (the `ec2` capability, WIT 0.1.1), made for the
//! backend by the AWS SDK in the host with the host's credentials, region,
//! endpoint and retries. The guest never sees a credential.
//!
//! Thin wrappers over the generated imports, plus small pure helpers for
//! reading what they return (tags, attachments, states as EC2 spells them).
//! Errors follow the interface's docs: throttling and 5xx come back (after
//! the host's retries) as `unavailable`; a missing resource as `not-found`;
//! a state that forbids the call as `conflict`; every message starts with
//! the action and EC2's error code. Calling any of the functions makes the
//! component import `ec2`; the helpers alone do not.

use crate::Result;
use crate::bindings::ballast::backend::ec2 as raw;

pub use crate::cluster::find_tag;

pub use raw::{
    Action, Attachment, AttachmentState, CreateVolumeRequest, EbsVolume, Filter, InstanceInfo,
    ModifyVolumeRequest, Relocation, Snapshot, SnapshotState, Tag, VolumeCondition, VolumeState,
    WaitPolicy,
};

/// DescribeVolumes, every page: the volumes with these ids (empty: any) that
/// match every filter.
pub fn describe_volumes(volume_ids: &[String], filters: &[Filter]) -> Result<Vec<EbsVolume>> {
    raw::describe_volumes(volume_ids, filters)
}

/// CreateVolume. With a `client_token`, a repeat with the same parameters
/// returns the first volume (whatever its state now).
pub fn create_volume(request: &CreateVolumeRequest) -> Result<EbsVolume> {
    raw::create_volume(request)
}

/// DeleteVolume.
pub fn delete_volume(volume_id: &str) -> Result<()> {
    raw::delete_volume(volume_id)
}

/// AttachVolume as `device` (e.g. "/dev/xvdba"); the attachment starts in
/// `attaching`.
pub fn attach_volume(volume_id: &str, instance_id: &str, device: &str) -> Result<Attachment> {
    raw::attach_volume(volume_id, instance_id, device)
}

/// DetachVolume from `instance_id`. `force` gives the instance no chance to
/// flush: only for an instance that is gone or being taken over from.
pub fn detach_volume(volume_id: &str, instance_id: &str, force: bool) -> Result<Attachment> {
    raw::detach_volume(volume_id, instance_id, force)
}

/// ModifyVolume (size, type, IOPS, throughput); wait with
/// [`VolumeCondition::Modified`].
pub fn modify_volume(volume_id: &str, request: &ModifyVolumeRequest) -> Result<()> {
    raw::modify_volume(volume_id, request)
}

/// CreateTags on volumes or snapshots.
pub fn create_tags(resource_ids: &[String], tags: &[Tag]) -> Result<()> {
    raw::create_tags(resource_ids, tags)
}

/// DeleteTags (by key) on volumes or snapshots.
pub fn delete_tags(resource_ids: &[String], keys: &[String]) -> Result<()> {
    raw::delete_tags(resource_ids, keys)
}

/// CreateSnapshot of a volume, tagged.
pub fn create_snapshot(volume_id: &str, description: &str, tags: &[Tag]) -> Result<Snapshot> {
    raw::create_snapshot(volume_id, description, tags)
}

/// DescribeSnapshots owned by this account, every page.
pub fn describe_snapshots(snapshot_ids: &[String], filters: &[Filter]) -> Result<Vec<Snapshot>> {
    raw::describe_snapshots(snapshot_ids, filters)
}

/// DeleteSnapshot.
pub fn delete_snapshot(snapshot_id: &str) -> Result<()> {
    raw::delete_snapshot(snapshot_id)
}

/// The `available` zones of the host's region.
pub fn describe_availability_zones() -> Result<Vec<String>> {
    raw::describe_availability_zones()
}

/// One instance: zone, type, state and the device names it has in use.
pub fn describe_instance(instance_id: &str) -> Result<InstanceInfo> {
    raw::describe_instance(instance_id)
}

/// Wait (in the host, costing no CPU budget) until the volume meets
/// `condition`; the volume as last described. `unavailable` when the policy
/// runs out first, saying what was last seen.
pub fn wait_volume(
    volume_id: &str,
    condition: &VolumeCondition,
    policy: WaitPolicy,
) -> Result<EbsVolume> {
    raw::wait_volume(volume_id, condition, policy)
}

/// Start or follow moving a detached volume to `zone` (snapshot, create
/// there, delete the old one). Call again for the progress.
pub fn relocate(volume_id: &str, zone: &str) -> Result<Relocation> {
    raw::relocate(volume_id, zone)
}

/// Whether the host's credentials may perform `action` (a DryRun call).
pub fn check_permission(action: Action) -> Result<bool> {
    raw::check_permission(action)
}

/// The value of tag `key` on `volume`, if it has one.
pub fn tag<'a>(volume: &'a EbsVolume, key: &str) -> Option<&'a str> {
    find_tag(&volume.tags, key)
}

/// A filter for DescribeVolumes/DescribeSnapshots: `name` matches any of
/// `values`.
pub fn filter(name: &str, values: &[&str]) -> Filter {
    Filter {
        name: name.to_owned(),
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

/// A filter on a tag's value: `tag:<key>` = `value`.
pub fn tag_filter(key: &str, value: &str) -> Filter {
    filter(&format!("tag:{key}"), &[value])
}

crate::wait::convert_wait_policy!(WaitPolicy);

impl EbsVolume {
    /// A 16 GiB gp3 volume (3000 IOPS, 125 MiB/s, unencrypted) in `zone`,
    /// with no snapshot, attachments or tags: a starting point for tests,
    /// which override the fields they care about.
    pub fn sample(volume_id: &str, zone: &str, state: VolumeState) -> EbsVolume {
        EbsVolume {
            volume_id: volume_id.into(),
            size_gib: 16,
            volume_type: "gp3".into(),
            iops: Some(3000),
            throughput: Some(125),
            encrypted: false,
            kms_key_id: None,
            zone: zone.into(),
            state,
            snapshot_id: None,
            create_time_ms: 0,
            multi_attach: false,
            attachments: vec![],
            tags: vec![],
        }
    }

    /// The value of tag `key`, if the volume has it.
    pub fn tag(&self, key: &str) -> Option<&str> {
        find_tag(&self.tags, key)
    }

    /// The volume's attachment to `instance_id`, if any (in any state).
    pub fn attachment_to(&self, instance_id: &str) -> Option<&Attachment> {
        self.attachments
            .iter()
            .find(|a| a.instance_id == instance_id)
    }

    /// Attachments that hold the volume (every state but `detached`).
    pub fn live_attachments(&self) -> impl Iterator<Item = &Attachment> {
        self.attachments
            .iter()
            .filter(|a| a.state != AttachmentState::Detached)
    }

    /// Whether the volume is gone or going (`deleting`, `deleted`).
    pub fn is_deleted(&self) -> bool {
        matches!(self.state, VolumeState::Deleting | VolumeState::Deleted)
    }
}

impl Snapshot {
    /// The value of tag `key`, if the snapshot has it.
    pub fn tag(&self, key: &str) -> Option<&str> {
        find_tag(&self.tags, key)
    }
}

impl VolumeState {
    /// The state as EC2 spells it, e.g. `"in-use"`.
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeState::Creating => "creating",
            VolumeState::Available => "available",
            VolumeState::InUse => "in-use",
            VolumeState::Deleting => "deleting",
            VolumeState::Deleted => "deleted",
            VolumeState::Error => "error",
        }
    }
}

impl AttachmentState {
    /// The state as EC2 spells it, e.g. `"attaching"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentState::Attaching => "attaching",
            AttachmentState::Attached => "attached",
            AttachmentState::Detaching => "detaching",
            AttachmentState::Detached => "detached",
            AttachmentState::Busy => "busy",
        }
    }
}

impl SnapshotState {
    /// The state as EC2 spells it, e.g. `"pending"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotState::Pending => "pending",
            SnapshotState::Completed => "completed",
            SnapshotState::Error => "error",
            SnapshotState::Recoverable => "recoverable",
            SnapshotState::Recovering => "recovering",
        }
    }
}

#[cfg(test)]
mod tests {
    //! The pure helpers only; the imports are never called natively.
    use super::*;

    fn volume() -> EbsVolume {
        EbsVolume {
            attachments: vec![
                Attachment {
                    instance_id: "i-a".into(),
                    device: "/dev/xvdba".into(),
                    state: AttachmentState::Attached,
                },
                Attachment {
                    instance_id: "i-b".into(),
                    device: "/dev/xvdbb".into(),
                    state: AttachmentState::Detached,
                },
            ],
            tags: vec![
                ("Name".into(), "pgdata".into()),
                ("ballast.volume".into(), "pgdata".into()),
            ],
            ..EbsVolume::sample("vol-1", "eu-west-1a", VolumeState::InUse)
        }
    }

    #[test]
    fn tags_are_found_by_exact_key() {
        let v = volume();
        assert_eq!(tag(&v, "ballast.volume"), Some("pgdata"));
        assert_eq!(v.tag("Name"), Some("pgdata"));
        assert_eq!(v.tag("name"), None, "EC2 tag keys are case-sensitive");
        assert_eq!(v.tag("ballast.cluster"), None);
    }

    #[test]
    fn attachments_by_instance_and_liveness() {
        let v = volume();
        assert_eq!(v.attachment_to("i-a").unwrap().device, "/dev/xvdba");
        assert!(v.attachment_to("i-c").is_none());
        let live: Vec<&str> = v
            .live_attachments()
            .map(|a| a.instance_id.as_str())
            .collect();
        assert_eq!(live, ["i-a"]);
    }

    #[test]
    fn filters_and_state_names() {
        let f = tag_filter("ballast.cluster", "prod");
        assert_eq!(f.name, "tag:ballast.cluster");
        assert_eq!(f.values, ["prod"]);
        assert_eq!(filter("volume-id", &["a", "b"]).values, ["a", "b"]);
        assert_eq!(VolumeState::InUse.as_str(), "in-use");
        assert_eq!(AttachmentState::Busy.as_str(), "busy");
        assert_eq!(SnapshotState::Pending.as_str(), "pending");
        let mut v = volume();
        assert!(!v.is_deleted());
        v.state = VolumeState::Deleting;
        assert!(v.is_deleted());
    }
}
