//! EC2 volumes through the real aws-sdk-ec2 client: CreateVolume (every
//! parameter, EBS's type rules, ClientToken idempotency), DescribeVolumes
//! (filters, pagination), DeleteVolume, CreateTags/DeleteTags, ModifyVolume
//! and DescribeVolumesModifications, DescribeInstances and
//! DescribeAvailabilityZones, the state transitions with delays, and the
//! error of an action the simulator does not answer.

mod ec2_support;
mod support;

use std::time::Duration;

use aws_sdk_ec2::operation::describe_instances::builders::DescribeInstancesFluentBuilder;
use aws_sdk_ec2::operation::describe_volumes::builders::DescribeVolumesFluentBuilder;
use aws_sdk_ec2::types::{
    Filter, ResourceType, Tag, VolumeModificationState, VolumeState, VolumeType,
};
use ec2_support::{
    SETTLE, attach, attach_code, code, delete_code, describe, describe_instance, detach_request,
    failure, io2, restore, snapshot, state, tag, tag_spec, volume, wait_attachment, wait_state,
};

const GIB: u64 = 1 << 30;

fn filter(name: &str, values: &[&str]) -> Filter {
    let mut f = Filter::builder().name(name);
    for v in values {
        f = f.values(*v);
    }
    f.build()
}

#[tokio::test]
async fn create_volume_reports_every_parameter() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;

    let out = ec2
        .create_volume()
        .availability_zone("us-east-1b")
        .size(20)
        .volume_type(VolumeType::Gp3)
        .iops(4000)
        .throughput(250)
        .encrypted(true)
        .kms_key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
        .tag_specifications(tag_spec(
            ResourceType::Volume,
            &[("Name", "data"), ("ballast", "yes")],
        ))
        .send()
        .await
        .unwrap();
    let id = out.volume_id().unwrap().to_string();
    assert!(id.starts_with("vol-") && id.len() == 21, "{id}");
    assert_eq!(
        out.state(),
        Some(&VolumeState::Creating),
        "CreateVolume answers while creating"
    );
    assert_eq!(out.size(), Some(20));
    assert_eq!(out.volume_type(), Some(&VolumeType::Gp3));
    assert_eq!((out.iops(), out.throughput()), (Some(4000), Some(250)));
    assert_eq!(out.encrypted(), Some(true));
    assert_eq!(
        out.kms_key_id(),
        Some("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    );
    assert_eq!(out.availability_zone(), Some("us-east-1b"));
    assert_eq!(out.multi_attach_enabled(), Some(false));
    assert!(out.create_time().is_some());
    assert_eq!(out.tags().len(), 2);
    assert!(out.attachments().is_empty());

    let described = describe(&ec2, &id).await;
    assert_eq!(described.state(), Some(&VolumeState::Available));
    assert_eq!(described.size(), Some(20));
    assert_eq!(
        described
            .tags()
            .iter()
            .find(|t| t.key() == Some("Name"))
            .and_then(|t| t.value()),
        Some("data")
    );
    assert_eq!(described.availability_zone_id(), Some("use1-az2"));
    let file = running.sim.hypervisor.backing_file(&id);
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        20 * GIB,
        "sparse backing file of the volume's size"
    );

    // Defaults: gp2 with 3 IOPS per GiB (at least 100), encrypted with the default key.
    let out = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(10)
        .encrypted(true)
        .send()
        .await
        .unwrap();
    assert_eq!(out.volume_type(), Some(&VolumeType::Gp2));
    assert_eq!((out.iops(), out.throughput()), (Some(100), None));
    assert!(
        out.kms_key_id()
            .unwrap()
            .starts_with("arn:aws:kms:us-east-1:123456789012:key/")
    );
    let out = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(1000)
        .send()
        .await
        .unwrap();
    assert_eq!(out.iops(), Some(3000));
    assert_eq!(out.encrypted(), Some(false));
    assert_eq!(out.kms_key_id(), None);
    // gp3 defaults to 3000 IOPS and 125 MiB/s.
    let out = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(1)
        .volume_type(VolumeType::Gp3)
        .send()
        .await
        .unwrap();
    assert_eq!((out.iops(), out.throughput()), (Some(3000), Some(125)));
    // io1/io2 with IOPS; io2 with Multi-Attach; st1/sc1/standard at their sizes.
    let out = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(10)
        .volume_type(VolumeType::Io1)
        .iops(500)
        .send()
        .await
        .unwrap();
    assert_eq!(out.iops(), Some(500));
    let out = io2(&ec2, 10, 1000, true).await;
    assert_eq!(out.multi_attach_enabled(), Some(true));
    for (kind, size) in [
        (VolumeType::St1, 125),
        (VolumeType::Sc1, 125),
        (VolumeType::Standard, 1),
    ] {
        let out = ec2
            .create_volume()
            .availability_zone("us-east-1c")
            .size(size)
            .volume_type(kind.clone())
            .send()
            .await
            .unwrap();
        assert_eq!((out.volume_type(), out.iops()), (Some(&kind), None));
    }
}

#[tokio::test]
async fn create_volume_enforces_the_type_rules() {
    use VolumeType::{Gp3, Io1, Io2, Sc1, St1, Standard};
    const VALUE: &str = "InvalidParameterValue";
    const COMBO: &str = "InvalidParameterCombination";
    const MISSING: &str = "MissingParameter";
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let create = || ec2.create_volume().availability_zone("us-east-1a");
    let nvme9 = VolumeType::from("nvme9");
    // The rules that size, type and IOPS alone decide: (case, size, type, IOPS, code).
    let sized = [
        ("size 0", 0, None, None, VALUE),
        ("gp2 above 16 TiB", 16385, None, None, VALUE),
        ("st1 below 125 GiB", 100, Some(St1), None, VALUE),
        ("sc1 below 125 GiB", 1, Some(Sc1), None, VALUE),
        ("standard above 1 TiB", 1025, Some(Standard), None, VALUE),
        ("io1 below 4 GiB", 3, Some(Io1), Some(100), VALUE),
        ("io1 without iops", 10, Some(Io1), None, MISSING),
        ("io2 without iops", 10, Some(Io2), None, MISSING),
        ("io1 above 50 IOPS/GiB", 10, Some(Io1), Some(501), VALUE),
        ("io1 below 100 IOPS", 10, Some(Io1), Some(99), VALUE),
        ("iops on gp2", 10, None, Some(300), COMBO),
        ("iops on st1", 500, Some(St1), Some(300), COMBO),
        ("iops on sc1", 500, Some(Sc1), Some(300), COMBO),
        ("iops on standard", 5, Some(Standard), Some(300), COMBO),
        ("gp3 above 16000 IOPS", 100, Some(Gp3), Some(16001), VALUE),
        ("gp3 above 500 IOPS/GiB", 8, Some(Gp3), Some(5000), VALUE),
        ("unknown type", 10, Some(nvme9), None, VALUE),
    ];
    for (case, size, kind, iops, expected) in sized {
        let request = create().size(size).set_volume_type(kind).set_iops(iops);
        let (got, status) = failure(request.send().await);
        assert_eq!((got.as_str(), status), (expected, 400), "{case}");
    }
    let cases = [
        (
            "gp3 throughput above 1000",
            create()
                .size(100)
                .volume_type(VolumeType::Gp3)
                .iops(16000)
                .throughput(1001)
                .send()
                .await,
            "InvalidParameterValue",
        ),
        (
            "gp3 throughput above iops/4",
            create()
                .size(100)
                .volume_type(VolumeType::Gp3)
                .throughput(1000)
                .send()
                .await,
            "InvalidParameterValue",
        ),
        (
            "throughput on gp2",
            create().size(10).throughput(125).send().await,
            "InvalidParameterCombination",
        ),
        (
            "multi-attach on gp3",
            create()
                .size(10)
                .volume_type(VolumeType::Gp3)
                .multi_attach_enabled(true)
                .send()
                .await,
            "InvalidParameterCombination",
        ),
        (
            "neither size nor snapshot",
            create().send().await,
            "MissingParameter",
        ),
        (
            "KmsKeyId without Encrypted",
            create().size(10).kms_key_id("k").send().await,
            "InvalidParameterDependency",
        ),
        (
            "unknown snapshot",
            create().snapshot_id("snap-00000000000000000").send().await,
            "InvalidSnapshot.NotFound",
        ),
        (
            "tags for a snapshot",
            create()
                .size(10)
                .tag_specifications(tag_spec(ResourceType::Snapshot, &[("a", "b")]))
                .send()
                .await,
            "InvalidParameterValue",
        ),
        (
            "reserved tag key",
            create()
                .size(10)
                .tag_specifications(tag_spec(ResourceType::Volume, &[("aws:x", "b")]))
                .send()
                .await,
            "InvalidParameterValue",
        ),
    ];
    for (case, result, expected) in cases {
        let (got, status) = failure(result);
        assert_eq!((got.as_str(), status), (expected, 400), "{case}");
    }
    let (got, _) = failure(
        ec2.create_volume()
            .availability_zone("us-west-2a")
            .size(1)
            .send()
            .await,
    );
    assert_eq!(got, "InvalidParameterValue", "a zone outside the region");
    let (got, _) = failure(ec2.create_volume().size(1).send().await);
    assert_eq!(got, "MissingParameter", "no zone");
    let described = ec2.describe_volumes().send().await.unwrap();
    assert!(
        described.volumes().is_empty(),
        "no failed call created a volume"
    );
}

#[tokio::test]
async fn client_token_makes_create_volume_idempotent() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let create = |token: &str, size: i32| {
        ec2.create_volume()
            .availability_zone("us-east-1a")
            .size(size)
            .client_token(token)
            .tag_specifications(tag_spec(ResourceType::Volume, &[("k", "v")]))
            .send()
    };
    let first = create("token-1", 5).await.unwrap();
    let again = create("token-1", 5).await.unwrap();
    assert_eq!(
        first.volume_id(),
        again.volume_id(),
        "same token, same parameters: the same volume"
    );
    assert_eq!(
        again.state(),
        Some(&VolumeState::Available),
        "the replay reports the volume as it is now"
    );
    assert_eq!(
        code(create("token-1", 6).await),
        "IdempotentParameterMismatch"
    );
    let other = create("token-2", 5).await.unwrap();
    assert_ne!(
        first.volume_id(),
        other.volume_id(),
        "another token, another volume"
    );
    assert_eq!(
        ec2.describe_volumes().send().await.unwrap().volumes().len(),
        2
    );

    // Without a ClientToken of its own the SDK makes one per call: two volumes.
    let a = volume(&ec2, "us-east-1a", 1).await;
    let b = volume(&ec2, "us-east-1a", 1).await;
    assert_ne!(a, b);
    // A deleted volume frees its token.
    ec2.delete_volume()
        .volume_id(first.volume_id().unwrap())
        .send()
        .await
        .unwrap();
    let fresh = create("token-1", 5).await.unwrap();
    assert_ne!(fresh.volume_id(), first.volume_id());
}

#[tokio::test]
async fn describe_volumes_filters() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let tagged = |zone: &'static str, tags: &'static [(&'static str, &'static str)]| {
        let ec2 = ec2.clone();
        async move {
            let out = ec2
                .create_volume()
                .availability_zone(zone)
                .size(1)
                .tag_specifications(tag_spec(ResourceType::Volume, tags))
                .send()
                .await
                .unwrap();
            out.volume_id().unwrap().to_string()
        }
    };
    let a = tagged("us-east-1a", &[("owner", "ballast"), ("name", "alpha")]).await;
    let b = tagged("us-east-1a", &[("owner", "ballast"), ("name", "beta")]).await;
    let c = tagged("us-east-1b", &[("owner", "other")]).await;
    attach(&ec2, &b, "i-a", "/dev/sdf").await;

    let ids = |filters: Vec<Filter>| {
        let ec2 = ec2.clone();
        async move {
            let out = ec2
                .describe_volumes()
                .set_filters(Some(filters))
                .send()
                .await
                .unwrap();
            let mut ids: Vec<String> = out
                .volumes()
                .iter()
                .map(|v| v.volume_id().unwrap().to_string())
                .collect();
            ids.sort();
            ids
        }
    };
    let sorted = |mut v: Vec<&String>| {
        v.sort();
        v.into_iter().cloned().collect::<Vec<_>>()
    };
    assert_eq!(
        ids(vec![filter("tag:owner", &["ballast"])]).await,
        sorted(vec![&a, &b])
    );
    assert_eq!(
        ids(vec![filter("tag:owner", &["ballast", "other"])]).await,
        sorted(vec![&a, &b, &c]),
        "values OR"
    );
    assert_eq!(
        ids(vec![
            filter("tag:owner", &["ballast"]),
            filter("tag:name", &["beta"])
        ])
        .await,
        vec![b.clone()],
        "filters AND"
    );
    assert_eq!(
        ids(vec![filter("tag:name", &["al*"])]).await,
        vec![a.clone()],
        "wildcards"
    );
    assert_eq!(
        ids(vec![filter("tag-key", &["name"])]).await,
        sorted(vec![&a, &b])
    );
    assert_eq!(
        ids(vec![filter("availability-zone", &["us-east-1b"])]).await,
        vec![c.clone()]
    );
    assert_eq!(
        ids(vec![filter("attachment.instance-id", &["i-a"])]).await,
        vec![b.clone()]
    );
    assert_eq!(
        ids(vec![filter("status", &["in-use"])]).await,
        vec![b.clone()]
    );
    assert_eq!(
        ids(vec![filter("status", &["available"])]).await,
        sorted(vec![&a, &c])
    );
    assert_eq!(
        ids(vec![filter("volume-id", &[c.as_str()])]).await,
        vec![c.clone()]
    );
    assert_eq!(
        ids(vec![filter("tag:owner", &["nobody"])]).await,
        Vec::<String>::new()
    );

    let out = ec2
        .describe_volumes()
        .volume_ids(&a)
        .volume_ids(&c)
        .send()
        .await
        .unwrap();
    assert_eq!(out.volumes().len(), 2);
    let missing = ec2
        .describe_volumes()
        .volume_ids(&a)
        .volume_ids("vol-00000000000000000");
    let unknown_filter = ec2.describe_volumes().filters(filter("colour", &["red"]));
    assert_refused([
        ("an unknown volume", missing, "InvalidVolume.NotFound"),
        ("an unknown filter", unknown_filter, "InvalidParameterValue"),
    ])
    .await;
}

/// Each DescribeVolumes request fails with its code: (case, request, code).
async fn assert_refused(
    cases: impl IntoIterator<Item = (&str, DescribeVolumesFluentBuilder, &str)>,
) {
    for (case, request, expected) in cases {
        assert_eq!(code(request.send().await), expected, "{case}");
    }
}

#[tokio::test]
async fn describe_volumes_paginates() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let mut created = Vec::new();
    for _ in 0..12 {
        created.push(volume(&ec2, "us-east-1a", 1).await);
    }
    created.sort();

    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = Vec::new();
    loop {
        let out = ec2
            .describe_volumes()
            .max_results(5)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages.push(out.volumes().len());
        seen.extend(
            out.volumes()
                .iter()
                .map(|v| v.volume_id().unwrap().to_string()),
        );
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, [5, 5, 2]);
    assert_eq!(seen, created, "every volume once, in order");

    let all = ec2
        .describe_volumes()
        .into_paginator()
        .page_size(5)
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 12, "the SDK's paginator follows NextToken");

    let volumes = || ec2.describe_volumes();
    let too_few = volumes().max_results(4);
    let too_many = volumes().max_results(501);
    let with_ids = volumes().max_results(5).volume_ids(&created[0]);
    let bad_token = volumes().next_token("not-a-token");
    assert_refused([
        ("MaxResults 4", too_few, "InvalidParameterValue"),
        ("MaxResults 501", too_many, "InvalidParameterValue"),
        (
            "MaxResults with ids",
            with_ids,
            "InvalidParameterCombination",
        ),
        ("a bad token", bad_token, "InvalidNextToken"),
    ])
    .await;
}

#[tokio::test]
async fn delete_volume() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let id = volume(&ec2, "us-east-1a", 2).await;
    let file = running.sim.hypervisor.backing_file(&id);
    assert!(file.exists());

    attach(&ec2, &id, "i-a", "/dev/sdg").await;
    assert_eq!(delete_code(&ec2, &id).await, "VolumeInUse");
    detach_request(&ec2, &id).send().await.unwrap();

    ec2.delete_volume().volume_id(&id).send().await.unwrap();
    assert!(!file.exists(), "the backing file is removed");
    assert_eq!(
        code(ec2.describe_volumes().volume_ids(&id).send().await),
        "InvalidVolume.NotFound"
    );
    assert_eq!(delete_code(&ec2, &id).await, "InvalidVolume.NotFound");
}

/// The tags of a volume or a snapshot (by its id's prefix), in order.
async fn tags_of(ec2: &aws_sdk_ec2::Client, id: &str) -> Vec<(String, String)> {
    let tags = if id.starts_with("vol-") {
        describe(ec2, id).await.tags().to_vec()
    } else {
        let out = ec2
            .describe_snapshots()
            .snapshot_ids(id)
            .send()
            .await
            .unwrap();
        out.snapshots()[0].tags().to_vec()
    };
    tags.iter()
        .map(|t| (t.key().unwrap().into(), t.value().unwrap().into()))
        .collect()
}

/// CreateTags of one tag on `id`; the call must succeed.
async fn put_tag(ec2: &aws_sdk_ec2::Client, id: &str, key: &str, value: &str) {
    let out = ec2.create_tags().resources(id).tags(tag(key, value)).send();
    out.await.expect("CreateTags");
}

/// DeleteTags of `tag` (a key, or a key and its value) from `id`.
async fn untag(ec2: &aws_sdk_ec2::Client, id: &str, tag: Tag) {
    let out = ec2.delete_tags().resources(id).tags(tag).send();
    out.await.expect("DeleteTags");
}

#[tokio::test]
async fn create_and_delete_tags() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let vol = volume(&ec2, "us-east-1a", 1).await;
    let snap = snapshot(&ec2, &vol).await;
    let pairs = |list: &[(&str, &str)]| {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };

    ec2.create_tags()
        .resources(&vol)
        .resources(&snap)
        .tags(tag("a", "1"))
        .tags(tag("b", "2"))
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&ec2, &vol).await, pairs(&[("a", "1"), ("b", "2")]));
    assert_eq!(tags_of(&ec2, &snap).await, pairs(&[("a", "1"), ("b", "2")]));
    put_tag(&ec2, &vol, "a", "one").await;
    assert_eq!(
        tags_of(&ec2, &vol).await,
        pairs(&[("a", "one"), ("b", "2")]),
        "CreateTags overwrites"
    );

    // DeleteTags: a key with another value stays; the key alone or with its value goes.
    let key = |k: &str| Tag::builder().key(k).build();
    untag(&ec2, &vol, tag("a", "1")).await;
    assert_eq!(
        tags_of(&ec2, &vol).await,
        pairs(&[("a", "one"), ("b", "2")])
    );
    untag(&ec2, &vol, tag("a", "one")).await;
    assert_eq!(tags_of(&ec2, &vol).await, pairs(&[("b", "2")]));
    untag(&ec2, &snap, key("a")).await;
    assert_eq!(tags_of(&ec2, &snap).await, pairs(&[("b", "2")]));
    ec2.delete_tags().resources(&snap).send().await.unwrap();
    assert_eq!(
        tags_of(&ec2, &snap).await,
        pairs(&[]),
        "DeleteTags without tags removes them all"
    );

    // Instances take tags too; DescribeInstances shows them.
    put_tag(&ec2, "i-a", "role", "node").await;
    let instance = describe_instance(&ec2, "i-a").await;
    assert_eq!(instance.tags()[0].value(), Some("node"));

    // Errors: every resource must exist, nothing changes otherwise.
    let missing_vol = "vol-00000000000000000";
    assert_eq!(
        code(
            ec2.create_tags()
                .resources(&vol)
                .resources(missing_vol)
                .tags(tag("c", "3"))
                .send()
                .await
        ),
        "InvalidVolume.NotFound"
    );
    assert_eq!(
        tags_of(&ec2, &vol).await,
        pairs(&[("b", "2")]),
        "all or nothing"
    );
    for (missing, expected) in [
        ("snap-00000000000000000", "InvalidSnapshot.NotFound"),
        ("i-nothere", "InvalidInstanceID.NotFound"),
        ("bogus-1", "InvalidID"),
    ] {
        assert_eq!(
            code(
                ec2.create_tags()
                    .resources(missing)
                    .tags(tag("c", "3"))
                    .send()
                    .await
            ),
            expected,
            "CreateTags on {missing}"
        );
    }
    assert_eq!(
        code(ec2.delete_tags().resources(missing_vol).send().await),
        "InvalidVolume.NotFound"
    );
    assert_eq!(
        code(
            ec2.create_tags()
                .resources(&vol)
                .tags(tag("aws:reserved", "x"))
                .send()
                .await
        ),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(ec2.create_tags().resources(&vol).send().await),
        "MissingParameter"
    );
    let mut many = ec2.create_tags().resources(&vol);
    for i in 0..50 {
        many = many.tags(tag(&format!("k{i}"), "v"));
    }
    assert_eq!(
        code(many.send().await),
        "TagLimitExceeded",
        "51 tags with the one it has"
    );
}

#[tokio::test]
async fn modify_volume() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let id = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(10)
        .send()
        .await
        .unwrap()
        .volume_id()
        .unwrap()
        .to_string();
    assert_eq!(
        code(
            ec2.describe_volumes_modifications()
                .volume_ids(&id)
                .send()
                .await
        ),
        "InvalidVolumeModification.NotFound"
    );

    let out = ec2
        .modify_volume()
        .volume_id(&id)
        .size(20)
        .send()
        .await
        .unwrap();
    let m = out.volume_modification().unwrap();
    assert_eq!(
        m.modification_state(),
        Some(&VolumeModificationState::Modifying)
    );
    assert_eq!((m.original_size(), m.target_size()), (Some(10), Some(20)));
    assert_eq!((m.original_iops(), m.target_iops()), (Some(100), Some(100)));
    assert_eq!(
        std::fs::metadata(running.sim.hypervisor.backing_file(&id))
            .unwrap()
            .len(),
        20 * GIB,
        "grown at once"
    );
    let v = describe(&ec2, &id).await;
    assert_eq!(v.size(), Some(20));

    let out = ec2
        .describe_volumes_modifications()
        .volume_ids(&id)
        .send()
        .await
        .unwrap();
    let m = &out.volumes_modifications()[0];
    assert_eq!(
        m.modification_state(),
        Some(&VolumeModificationState::Completed)
    );
    assert_eq!(m.progress(), Some(100));
    assert!(m.start_time().is_some() && m.end_time().is_some());

    // gp2 → gp3: IOPS and throughput take gp3's defaults unless given.
    let out = ec2
        .modify_volume()
        .volume_id(&id)
        .volume_type(VolumeType::Gp3)
        .throughput(200)
        .send()
        .await
        .unwrap();
    let m = out.volume_modification().unwrap();
    assert_eq!(m.original_volume_type(), Some(&VolumeType::Gp2));
    assert_eq!(
        (
            m.target_volume_type(),
            m.target_iops(),
            m.target_throughput()
        ),
        (Some(&VolumeType::Gp3), Some(3000), Some(200))
    );
    ec2.modify_volume()
        .volume_id(&id)
        .iops(4000)
        .send()
        .await
        .unwrap();
    let v = describe(&ec2, &id).await;
    assert_eq!(
        (v.volume_type(), v.iops(), v.throughput()),
        (Some(&VolumeType::Gp3), Some(4000), Some(200))
    );

    let filtered = ec2
        .describe_volumes_modifications()
        .filters(filter("modification-state", &["completed"]))
        .send()
        .await
        .unwrap();
    assert_eq!(filtered.volumes_modifications().len(), 1);

    assert_eq!(
        code(ec2.modify_volume().volume_id(&id).size(19).send().await),
        "InvalidParameterValue",
        "shrink"
    );
    assert_eq!(
        code(ec2.modify_volume().volume_id(&id).size(20).send().await),
        "InvalidParameterValue",
        "no change"
    );
    assert_eq!(
        code(ec2.modify_volume().volume_id(&id).size(16385).send().await),
        "InvalidParameterValue",
        "too large"
    );
    assert_eq!(
        code(
            ec2.modify_volume()
                .volume_id(&id)
                .volume_type(VolumeType::Gp2)
                .iops(300)
                .send()
                .await
        ),
        "InvalidParameterCombination",
        "iops for gp2"
    );
    assert_eq!(
        code(
            ec2.modify_volume()
                .volume_id("vol-00000000000000000")
                .size(30)
                .send()
                .await
        ),
        "InvalidVolume.NotFound"
    );
    assert_eq!(
        code(
            ec2.describe_volumes_modifications()
                .volume_ids("vol-00000000000000000")
                .send()
                .await
        ),
        "InvalidVolume.NotFound"
    );
}

#[tokio::test]
async fn transitions_follow_the_delays() {
    let delay = Duration::from_millis(400);
    let (_dir, running) = support::sim(|c| {
        c.delays.volume_create = delay;
        c.delays.attach = delay;
        c.delays.detach = delay;
        c.delays.snapshot = delay;
    })
    .await;
    let ec2 = support::ec2(&running.api_url).await;
    let id = volume(&ec2, "us-east-1a", 1).await;
    assert_eq!(state(&ec2, &id).await, "creating");
    assert_eq!(
        attach_code(&ec2, &id, "i-a", "/dev/sdf").await,
        "IncorrectState",
        "a creating volume cannot be attached"
    );
    assert_eq!(
        code(ec2.create_snapshot().volume_id(&id).send().await),
        "IncorrectState"
    );
    wait_state(&ec2, &id, "available").await;

    attach(&ec2, &id, "i-a", "/dev/sdf").await;
    assert_eq!(
        ec2_support::attachment_state(&ec2, &id, "i-a").await,
        "attaching"
    );
    assert_eq!(state(&ec2, &id).await, "in-use");
    wait_attachment(&ec2, &id, "i-a", "attached").await;

    let snap = ec2.create_snapshot().volume_id(&id).send().await.unwrap();
    let snap_id = snap.snapshot_id().unwrap().to_string();
    assert_eq!(snap.state().map(|s| s.as_str()), Some("pending"));
    assert_eq!(
        code(restore(&ec2, "us-east-1a", &snap_id).send().await),
        "IncorrectState",
        "a pending snapshot cannot be restored"
    );
    ec2_support::eventually(SETTLE, || async {
        let out = ec2
            .describe_snapshots()
            .snapshot_ids(&snap_id)
            .send()
            .await
            .unwrap();
        (out.snapshots()[0].state().map(|s| s.as_str()) == Some("completed")).then_some(())
    })
    .await;

    ec2.modify_volume()
        .volume_id(&id)
        .size(2)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(ec2.modify_volume().volume_id(&id).size(3).send().await),
        "IncorrectModificationState"
    );
    let modification_state = || async {
        let out = ec2
            .describe_volumes_modifications()
            .volume_ids(&id)
            .send()
            .await
            .unwrap();
        out.volumes_modifications()[0]
            .modification_state()
            .unwrap()
            .clone()
    };
    assert_eq!(
        modification_state().await,
        VolumeModificationState::Modifying
    );
    ec2_support::eventually(SETTLE, || async {
        (modification_state().await == VolumeModificationState::Optimizing).then_some(())
    })
    .await;
    ec2_support::eventually(SETTLE, || async {
        (modification_state().await == VolumeModificationState::Completed).then_some(())
    })
    .await;

    detach_request(&ec2, &id).send().await.unwrap();
    assert_eq!(
        ec2_support::attachment_state(&ec2, &id, "i-a").await,
        "detaching"
    );
    wait_state(&ec2, &id, "available").await;
}

#[tokio::test]
async fn describe_instances_and_zones() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;

    let zones = ec2.describe_availability_zones().send().await.unwrap();
    let names: Vec<&str> = zones
        .availability_zones()
        .iter()
        .map(|z| z.zone_name().unwrap())
        .collect();
    assert_eq!(names, ["us-east-1a", "us-east-1b", "us-east-1c"]);
    for zone in zones.availability_zones() {
        assert_eq!(zone.state().map(|s| s.as_str()), Some("available"));
        assert_eq!(zone.region_name(), Some("us-east-1"));
        assert!(zone.zone_id().unwrap().starts_with("use1-az"));
    }
    // One zone by its name, one by a filter.
    let describe_zones = || ec2.describe_availability_zones();
    let by_name = describe_zones().zone_names("us-east-1b");
    let by_filter = describe_zones().filters(filter("zone-name", &["us-east-1c"]));
    for (request, zone) in [(by_name, "us-east-1b"), (by_filter, "us-east-1c")] {
        let out = request.send().await.unwrap();
        let names: Vec<_> = out
            .availability_zones()
            .iter()
            .map(|z| z.zone_name())
            .collect();
        assert_eq!(names, [Some(zone)]);
    }
    assert_eq!(
        code(
            ec2.describe_availability_zones()
                .zone_names("us-east-1z")
                .send()
                .await
        ),
        "InvalidParameterValue"
    );

    let id = volume(&ec2, "us-east-1a", 1).await;
    attach(&ec2, &id, "i-b", "/dev/sdh").await;

    let out = ec2.describe_instances().send().await.unwrap();
    let instances: Vec<_> = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .collect();
    let ids: Vec<&str> = instances.iter().map(|i| i.instance_id().unwrap()).collect();
    assert_eq!(ids, ["i-a", "i-b", "i-c"], "the AWS instances only");
    let b = instances[1];
    assert_eq!(b.instance_type().map(|t| t.as_str()), Some("t2.micro"));
    assert_eq!(
        b.placement().and_then(|p| p.availability_zone()),
        Some("us-east-1a")
    );
    assert_eq!(
        b.state().and_then(|s| s.name()).map(|n| n.as_str()),
        Some("running")
    );
    assert_eq!(
        b.subnet_id(),
        Some(cloudsim::ids::subnet_for_zone("us-east-1a").as_str())
    );
    assert_eq!(b.private_ip_address(), Some("10.0.0.11"));
    assert_eq!(instances[2].private_ip_address(), Some("10.0.1.10"));
    assert_eq!(b.root_device_name(), Some("/dev/xvda"));
    let mappings = b.block_device_mappings();
    assert_eq!(mappings.len(), 1);
    assert_eq!(mappings[0].device_name(), Some("/dev/sdh"));
    let ebs = mappings[0].ebs().unwrap();
    assert_eq!(ebs.volume_id(), Some(id.as_str()));
    assert_eq!(ebs.status().map(|s| s.as_str()), Some("attached"));
    assert!(instances[0].block_device_mappings().is_empty());

    // By id and by filters.
    let instances = || ec2.describe_instances();
    let reservations = |request: DescribeInstancesFluentBuilder| async move {
        request.send().await.unwrap().reservations().to_vec()
    };
    assert_eq!(reservations(instances().instance_ids("i-c")).await.len(), 1);
    let in_zone = instances().filters(filter("availability-zone", &["us-east-1a"]));
    assert_eq!(reservations(in_zone).await.len(), 2);
    let by_volume = instances().filters(filter("block-device-mapping.volume-id", &[id.as_str()]));
    assert_eq!(
        reservations(by_volume).await[0].instances()[0].instance_id(),
        Some("i-b")
    );
    assert_eq!(
        code(
            ec2.describe_instances()
                .instance_ids("i-nothere")
                .send()
                .await
        ),
        "InvalidInstanceID.NotFound"
    );
    assert_eq!(
        code(ec2.describe_instances().instance_ids("gce-a").send().await),
        "InvalidInstanceID.NotFound"
    );
}

#[tokio::test]
async fn unanswered_actions_are_invalid() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = ec2_support::ec2_no_retry(&running.api_url).await;
    let (got, status) = failure(ec2.describe_regions().send().await);
    assert_eq!((got.as_str(), status), ("InvalidAction", 400));
    let (got, _) = failure(ec2.describe_images().send().await);
    assert_eq!(got, "InvalidAction");
}
