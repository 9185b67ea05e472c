//! A second opinion: the same EC2 success-path sequence, with the real
//! aws-sdk-ec2 client, against moto and against cloudsim; the shapes both
//! return (fields present, states, sizes, tags, attachments) must agree.
//! Ids differ by nature and are only checked for their format. moto needs
//! an instance to attach to: it gets one by RunInstances with an image from
//! DescribeImages; cloudsim has its configured instance i-a.

mod ec2_support;
mod support;

use aws_sdk_ec2::types::{
    Filter, InstanceType, Placement, ResourceType, Snapshot, Volume, VolumeType,
};
use ec2_support::{
    SETTLE, attach, code, describe, describe_instance, detach_request, eventually, tag, tag_spec,
};

/// What a volume looks like, ids aside.
#[derive(Debug, PartialEq)]
struct VolumeShape {
    id_format: bool,
    size: Option<i32>,
    volume_type: Option<String>,
    zone: Option<String>,
    state: Option<String>,
    encrypted: Option<bool>,
    iops: Option<i32>,
    has_create_time: bool,
    snapshot_id: Option<String>,
    tags: Vec<(String, String)>,
    /// (device, state, is the expected instance)
    attachments: Vec<(String, String, bool)>,
}

fn volume_shape(v: &Volume, instance: &str) -> VolumeShape {
    VolumeShape {
        id_format: v.volume_id().is_some_and(|id| id.starts_with("vol-")),
        size: v.size(),
        volume_type: v.volume_type().map(|t| t.as_str().to_string()),
        zone: v.availability_zone().map(String::from),
        state: v.state().map(|s| s.as_str().to_string()),
        encrypted: v.encrypted(),
        // Not compared: throughput and multiAttachEnabled, which AWS and
        // cloudsim report (125 for gp3, false) and moto omits.
        iops: v.iops(),
        has_create_time: v.create_time().is_some(),
        // AWS (and cloudsim) send an empty snapshotId for a blank volume; moto omits it.
        snapshot_id: v.snapshot_id().filter(|s| !s.is_empty()).map(String::from),
        tags: sorted_tags(v.tags()),
        attachments: v
            .attachments()
            .iter()
            .map(|a| {
                (
                    a.device().unwrap_or_default().to_string(),
                    a.state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    a.instance_id() == Some(instance),
                )
            })
            .collect(),
    }
}

/// What a snapshot looks like, ids aside.
#[derive(Debug, PartialEq)]
struct SnapshotShape {
    id_format: bool,
    of_the_volume: bool,
    volume_size: Option<i32>,
    description: Option<String>,
    state: Option<String>,
    progress: Option<String>,
    has_owner: bool,
    has_start_time: bool,
    encrypted: Option<bool>,
    tags: Vec<(String, String)>,
}

fn snapshot_shape(s: &Snapshot, volume: &str) -> SnapshotShape {
    SnapshotShape {
        id_format: s.snapshot_id().is_some_and(|id| id.starts_with("snap-")),
        of_the_volume: s.volume_id() == Some(volume),
        volume_size: s.volume_size(),
        description: s.description().map(String::from),
        state: s.state().map(|s| s.as_str().to_string()),
        progress: s.progress().map(String::from),
        has_owner: s.owner_id().is_some_and(|o| !o.is_empty()),
        has_start_time: s.start_time().is_some(),
        encrypted: s.encrypted(),
        tags: sorted_tags(s.tags()),
    }
}

fn sorted_tags(tags: &[aws_sdk_ec2::types::Tag]) -> Vec<(String, String)> {
    let mut tags: Vec<_> = tags
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    tags.sort();
    tags
}

/// Everything the sequence observed, in order, for comparison.
#[derive(Debug, Default)]
struct Observed {
    steps: Vec<(&'static str, String)>,
}

impl Observed {
    fn note(&mut self, step: &'static str, what: impl std::fmt::Debug) {
        self.steps.push((step, format!("{what:?}")));
    }
}

/// Poll until the volume's described state is `state` (moto and cloudsim
/// both settle at once here, but neither is required to).
async fn settle(ec2: &aws_sdk_ec2::Client, id: &str, state: &str) -> Volume {
    eventually(SETTLE, || async {
        let v = describe(ec2, id).await;
        (v.state().map(|s| s.as_str()) == Some(state)).then_some(v)
    })
    .await
}

/// The success path the EBS backend walks, as the SDK sees it.
async fn sequence(ec2: &aws_sdk_ec2::Client, instance: &str) -> Observed {
    let mut seen = Observed::default();
    let zones = ec2.describe_availability_zones().send().await.unwrap();
    let zone_a = zones
        .availability_zones()
        .iter()
        .find(|z| z.zone_name() == Some("us-east-1a"))
        .expect("us-east-1a");
    seen.note(
        "zone",
        (
            zone_a.state().map(|s| s.as_str().to_string()),
            zone_a.region_name().map(String::from),
        ),
    );

    let created = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(5)
        .volume_type(VolumeType::Gp3)
        .tag_specifications(tag_spec(
            ResourceType::Volume,
            &[("owner", "ballast"), ("Name", "compare")],
        ))
        .send()
        .await
        .unwrap();
    let vol = created.volume_id().unwrap().to_string();
    // Not compared: the state CreateVolume answers ("creating" on AWS and
    // cloudsim; moto creates at once and says "available").
    seen.note(
        "create volume",
        (
            created.size(),
            created.volume_type().map(|t| t.as_str().to_string()),
            sorted_tags(created.tags()),
        ),
    );
    let v = settle(ec2, &vol, "available").await;
    seen.note("described volume", volume_shape(&v, instance));

    let by_tag = ec2
        .describe_volumes()
        .filters(
            Filter::builder()
                .name("tag:owner")
                .values("ballast")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let found: Vec<_> = by_tag
        .volumes()
        .iter()
        .map(|v| v.volume_id() == Some(vol.as_str()))
        .collect();
    seen.note("describe by tag", found);

    ec2.create_tags()
        .resources(&vol)
        .tags(tag("stage", "tagged"))
        .send()
        .await
        .unwrap();
    seen.note(
        "after create tags",
        sorted_tags(describe(ec2, &vol).await.tags()),
    );

    let attached = attach(ec2, &vol, instance, "/dev/sdf").await;
    seen.note(
        "attach",
        (
            attached.device().map(String::from),
            attached.instance_id() == Some(instance),
        ),
    );
    let v = eventually(SETTLE, || async {
        let v = describe(ec2, &vol).await;
        let attached = v
            .attachments()
            .first()
            .and_then(|a| a.state())
            .map(|s| s.as_str())
            == Some("attached");
        attached.then_some(v)
    })
    .await;
    seen.note("attached volume", volume_shape(&v, instance));
    let mapping = describe_instance(ec2, instance)
        .await
        .block_device_mappings()
        .iter()
        .find(|m| m.device_name() == Some("/dev/sdf"))
        .map(|m| {
            (
                m.ebs().and_then(|e| e.volume_id()) == Some(vol.as_str()),
                m.ebs()
                    .and_then(|e| e.status())
                    .map(|s| s.as_str().to_string()),
            )
        });
    seen.note("instance mapping", mapping);

    // moto answers 500 to a DetachVolume without InstanceId.
    let detached = detach_request(ec2, &vol)
        .instance_id(instance)
        .device("/dev/sdf")
        .send()
        .await
        .unwrap();
    seen.note(
        "detach",
        (
            detached.device().map(String::from),
            detached.instance_id() == Some(instance),
        ),
    );
    let v = settle(ec2, &vol, "available").await;
    seen.note("detached volume", volume_shape(&v, instance));

    let snap = ec2
        .create_snapshot()
        .volume_id(&vol)
        .description("compare")
        .tag_specifications(tag_spec(ResourceType::Snapshot, &[("owner", "ballast")]))
        .send()
        .await
        .unwrap();
    let snap_id = snap.snapshot_id().unwrap().to_string();
    // Not compared: the state CreateSnapshot answers ("pending" on AWS and
    // cloudsim, "completed" at once on moto).
    seen.note(
        "create snapshot",
        (
            snap.volume_size(),
            snap.description().map(String::from),
            sorted_tags(snap.tags()),
        ),
    );
    let s = eventually(SETTLE, || async {
        let out = ec2
            .describe_snapshots()
            .snapshot_ids(&snap_id)
            .send()
            .await
            .unwrap();
        let s = out.snapshots()[0].clone();
        (s.state().map(|s| s.as_str()) == Some("completed")).then_some(s)
    })
    .await;
    seen.note("described snapshot", snapshot_shape(&s, &vol));
    let mine = ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(Filter::builder().name("volume-id").values(&vol).build())
        .send()
        .await
        .unwrap();
    seen.note("my snapshots of the volume", mine.snapshots().len());

    ec2.delete_snapshot()
        .snapshot_id(&snap_id)
        .send()
        .await
        .unwrap();
    seen.note(
        "describe deleted snapshot",
        code(ec2.describe_snapshots().snapshot_ids(&snap_id).send().await),
    );
    ec2.delete_volume().volume_id(&vol).send().await.unwrap();
    seen.note(
        "describe deleted volume",
        code(ec2.describe_volumes().volume_ids(&vol).send().await),
    );
    seen
}

/// moto's instance to attach to: RunInstances in us-east-1a with an image it lists.
async fn moto_instance(ec2: &aws_sdk_ec2::Client) -> String {
    let images = ec2.describe_images().send().await.unwrap();
    let image = images
        .images()
        .iter()
        .find_map(|i| i.image_id())
        .expect("moto lists images")
        .to_string();
    let out = ec2
        .run_instances()
        .image_id(image)
        .instance_type(InstanceType::M5Large)
        .min_count(1)
        .max_count(1)
        .placement(Placement::builder().availability_zone("us-east-1a").build())
        .send()
        .await
        .unwrap();
    out.instances()[0].instance_id().unwrap().to_string()
}

#[tokio::test]
async fn the_success_path_matches_moto() {
    let Some(moto) = cloudsim::moto::Moto::start("the_success_path_matches_moto") else {
        return;
    };
    let moto_ec2 = support::ec2(&moto.url).await;
    let instance = moto_instance(&moto_ec2).await;
    let from_moto = sequence(&moto_ec2, &instance).await;

    let (_dir, running) = support::sim(|_| {}).await;
    let from_sim = sequence(&support::ec2(&running.api_url).await, "i-a").await;

    assert_eq!(from_moto.steps.len(), from_sim.steps.len());
    for ((step, moto_saw), (_, sim_saw)) in from_moto.steps.iter().zip(&from_sim.steps) {
        assert_eq!(
            sim_saw, moto_saw,
            "step {step:?}: cloudsim (left) and moto (right) disagree"
        );
    }
}
