//! The SDK's EC2 types to the contract's records and back. Pure functions,
//! no calls. Times become milliseconds since the Unix epoch; EC2's
//! "45%" progress strings become numbers; unknown states read as `error`
//! rather than a state a guest would act on.

use aws_sdk_ec2::operation::attach_volume::AttachVolumeOutput;
use aws_sdk_ec2::operation::create_snapshot::CreateSnapshotOutput;
use aws_sdk_ec2::operation::create_volume::CreateVolumeOutput;
use aws_sdk_ec2::operation::detach_volume::DetachVolumeOutput;
use aws_sdk_ec2::primitives::DateTime;
use aws_sdk_ec2::types as sdk;

use crate::capabilities::aws::{millis, sdk_view};
use crate::runtime::bindings::ballast::backend::ec2 as wit;

sdk_view!(VolumeView for [sdk::Volume, CreateVolumeOutput] {
    fn volume_id -> Option<&str>;
    fn size -> Option<i32>;
    fn volume_type -> Option<&sdk::VolumeType>;
    fn iops -> Option<i32>;
    fn throughput -> Option<i32>;
    fn encrypted -> Option<bool>;
    fn kms_key_id -> Option<&str>;
    fn availability_zone -> Option<&str>;
    fn state -> Option<&sdk::VolumeState>;
    fn snapshot_id -> Option<&str>;
    fn create_time -> Option<&DateTime>;
    fn multi_attach_enabled -> Option<bool>;
    fn attachments -> &[sdk::VolumeAttachment];
    fn tags -> &[sdk::Tag];
});

sdk_view!(SnapshotView for [sdk::Snapshot, CreateSnapshotOutput] {
    fn snapshot_id -> Option<&str>;
    fn volume_id -> Option<&str>;
    fn state -> Option<&sdk::SnapshotState>;
    fn progress -> Option<&str>;
    fn volume_size -> Option<i32>;
    fn encrypted -> Option<bool>;
    fn start_time -> Option<&DateTime>;
    fn tags -> &[sdk::Tag];
});

sdk_view!(AttachmentView for [sdk::VolumeAttachment, AttachVolumeOutput, DetachVolumeOutput] {
    fn instance_id -> Option<&str>;
    fn device -> Option<&str>;
    fn state -> Option<&sdk::VolumeAttachmentState>;
});

pub fn volume(v: &impl VolumeView) -> wit::EbsVolume {
    wit::EbsVolume {
        volume_id: text(v.volume_id()),
        size_gib: unsigned(v.size()).unwrap_or(0),
        volume_type: v
            .volume_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        iops: unsigned(v.iops()),
        throughput: unsigned(v.throughput()),
        encrypted: v.encrypted().unwrap_or(false),
        kms_key_id: v.kms_key_id().filter(|k| !k.is_empty()).map(String::from),
        zone: text(v.availability_zone()),
        state: volume_state(v.state()),
        snapshot_id: v.snapshot_id().filter(|s| !s.is_empty()).map(String::from),
        create_time_ms: millis(v.create_time()),
        multi_attach: v.multi_attach_enabled().unwrap_or(false),
        attachments: v.attachments().iter().map(attachment).collect(),
        tags: tags(v.tags()),
    }
}

pub fn attachment(a: &impl AttachmentView) -> wit::Attachment {
    use sdk::VolumeAttachmentState as S;
    wit::Attachment {
        instance_id: text(a.instance_id()),
        device: text(a.device()),
        state: match a.state() {
            Some(S::Attaching) => wit::AttachmentState::Attaching,
            Some(S::Attached) => wit::AttachmentState::Attached,
            Some(S::Detaching) => wit::AttachmentState::Detaching,
            Some(S::Detached) => wit::AttachmentState::Detached,
            _ => wit::AttachmentState::Busy,
        },
    }
}

pub fn snapshot(s: &impl SnapshotView) -> wit::Snapshot {
    use sdk::SnapshotState as S;
    wit::Snapshot {
        snapshot_id: text(s.snapshot_id()),
        volume_id: text(s.volume_id()),
        state: match s.state() {
            Some(S::Pending) => wit::SnapshotState::Pending,
            Some(S::Completed) => wit::SnapshotState::Completed,
            Some(S::Recoverable) => wit::SnapshotState::Recoverable,
            Some(S::Recovering) => wit::SnapshotState::Recovering,
            _ => wit::SnapshotState::Error,
        },
        progress: progress(s.progress()),
        size_gib: unsigned(s.volume_size()).unwrap_or(0),
        encrypted: s.encrypted().unwrap_or(false),
        start_time_ms: millis(s.start_time()),
        tags: tags(s.tags()),
    }
}

pub fn instance(i: &sdk::Instance) -> wit::InstanceInfo {
    let mut device_names: Vec<String> = i
        .block_device_mappings()
        .iter()
        .filter_map(|m| m.device_name())
        .map(String::from)
        .collect();
    // The root device is in use even where a mapping does not list it.
    if let Some(root) = i.root_device_name()
        && !device_names.iter().any(|d| d == root)
    {
        device_names.push(root.to_string());
    }
    wit::InstanceInfo {
        instance_id: text(i.instance_id()),
        zone: text(i.placement().and_then(|p| p.availability_zone())),
        instance_type: i
            .instance_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        state: i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        device_names,
    }
}

fn volume_state(state: Option<&sdk::VolumeState>) -> wit::VolumeState {
    use sdk::VolumeState as S;
    match state {
        Some(S::Creating) => wit::VolumeState::Creating,
        Some(S::Available) => wit::VolumeState::Available,
        Some(S::InUse) => wit::VolumeState::InUse,
        Some(S::Deleting) => wit::VolumeState::Deleting,
        Some(S::Deleted) => wit::VolumeState::Deleted,
        _ => wit::VolumeState::Error,
    }
}

/// The state's EC2 name, for messages.
pub fn volume_state_name(state: wit::VolumeState) -> &'static str {
    match state {
        wit::VolumeState::Creating => "creating",
        wit::VolumeState::Available => "available",
        wit::VolumeState::InUse => "in-use",
        wit::VolumeState::Deleting => "deleting",
        wit::VolumeState::Deleted => "deleted",
        wit::VolumeState::Error => "error",
    }
}

pub fn attachment_state_name(state: wit::AttachmentState) -> &'static str {
    match state {
        wit::AttachmentState::Attaching => "attaching",
        wit::AttachmentState::Attached => "attached",
        wit::AttachmentState::Detaching => "detaching",
        wit::AttachmentState::Detached => "detached",
        wit::AttachmentState::Busy => "busy",
    }
}

pub fn tags(tags: &[sdk::Tag]) -> Vec<wit::Tag> {
    tags.iter()
        .map(|t| (text(t.key()), text(t.value())))
        .collect()
}

pub fn sdk_tags(tags: &[wit::Tag]) -> Vec<sdk::Tag> {
    tags.iter()
        .map(|(k, v)| sdk::Tag::builder().key(k).value(v).build())
        .collect()
}

/// A TagSpecification for a new resource of `kind`; none without tags
/// (EC2 refuses an empty one).
pub fn tag_spec(kind: sdk::ResourceType, tags: &[wit::Tag]) -> Option<sdk::TagSpecification> {
    (!tags.is_empty()).then(|| {
        sdk::TagSpecification::builder()
            .resource_type(kind)
            .set_tags(Some(sdk_tags(tags)))
            .build()
    })
}

pub fn filters(filters: &[wit::Filter]) -> Vec<sdk::Filter> {
    filters
        .iter()
        .map(|f| {
            sdk::Filter::builder()
                .name(&f.name)
                .set_values(Some(f.values.clone()))
                .build()
        })
        .collect()
}

pub fn filter(name: &str, value: &str) -> wit::Filter {
    wit::Filter {
        name: name.into(),
        values: vec![value.into()],
    }
}

fn text(s: Option<&str>) -> String {
    s.unwrap_or_default().to_string()
}

fn unsigned(n: Option<i32>) -> Option<u32> {
    n.and_then(|n| u32::try_from(n).ok())
}

/// "45%" (or "45") → 45, capped at 100; unreadable → 0.
fn progress(p: Option<&str>) -> u8 {
    p.and_then(|p| p.trim().trim_end_matches('%').trim().parse::<u8>().ok())
        .map_or(0, |n| n.min(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_described_volume_becomes_the_contracts_record() {
        let v = sdk::Volume::builder()
            .volume_id("vol-1")
            .size(20)
            .volume_type(sdk::VolumeType::Gp3)
            .iops(3000)
            .throughput(125)
            .encrypted(false)
            .availability_zone("us-east-1a")
            .state(sdk::VolumeState::InUse)
            .snapshot_id("")
            .create_time(DateTime::from_millis(1_700_000_000_123))
            .attachments(
                sdk::VolumeAttachment::builder()
                    .instance_id("i-1")
                    .device("/dev/xvdba")
                    .state(sdk::VolumeAttachmentState::Attaching)
                    .build(),
            )
            .tags(
                sdk::Tag::builder()
                    .key("ballast.volume")
                    .value("pg")
                    .build(),
            )
            .build();
        let w = volume(&v);
        assert_eq!(w.volume_id, "vol-1");
        assert_eq!((w.size_gib, w.volume_type.as_str()), (20, "gp3"));
        assert_eq!((w.iops, w.throughput), (Some(3000), Some(125)));
        assert_eq!(w.state, wit::VolumeState::InUse);
        assert_eq!(w.snapshot_id, None, "an empty snapshot id is none");
        assert_eq!(w.create_time_ms, 1_700_000_000_123);
        assert_eq!(w.attachments[0].state, wit::AttachmentState::Attaching);
        assert_eq!(w.tags, vec![("ballast.volume".into(), "pg".into())]);
    }

    #[test]
    fn snapshot_progress_is_a_number() {
        let s = sdk::Snapshot::builder()
            .snapshot_id("snap-1")
            .state(sdk::SnapshotState::Pending)
            .progress("45%")
            .build();
        assert_eq!(snapshot(&s).progress, 45);
        assert_eq!(progress(Some("100%")), 100);
        assert_eq!(progress(Some("n/a")), 0);
        assert_eq!(progress(None), 0);
    }

    #[test]
    fn instance_device_names_include_the_root_device() {
        let i = sdk::Instance::builder()
            .instance_id("i-1")
            .root_device_name("/dev/xvda")
            .block_device_mappings(
                sdk::InstanceBlockDeviceMapping::builder()
                    .device_name("/dev/xvdf")
                    .build(),
            )
            .build();
        assert_eq!(instance(&i).device_names, ["/dev/xvdf", "/dev/xvda"]);
    }
}
