//! Snapshots through the real aws-sdk-ec2 client: CreateSnapshot copies the
//! volume's bytes at that moment, DescribeSnapshots (ids, owners, filters,
//! pagination), CreateVolume from a snapshot (size rules, the bytes, other
//! zones), DeleteSnapshot, and their errors.

mod ec2_support;
mod support;

use std::io::{Read, Seek, SeekFrom, Write};

use aws_sdk_ec2::types::{Filter, ResourceType, SnapshotState};
use ec2_support::{code, describe, restore, tag_spec, volume};

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn write_at(path: &std::path::Path, offset: u64, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(bytes).unwrap();
}

fn read_at(path: &std::path::Path, offset: u64, len: usize) -> Vec<u8> {
    let mut file = std::fs::File::open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    let mut buf = vec![0; len];
    file.read_exact(&mut buf).unwrap();
    buf
}

#[tokio::test]
async fn snapshot_lifecycle() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let hv = &running.sim.hypervisor;
    let vol = volume(&ec2, "us-east-1a", 2).await;
    let offset = (1 << 30) + 4096;
    write_at(&hv.backing_file(&vol), offset, b"before the snapshot");

    let out = ec2
        .create_snapshot()
        .volume_id(&vol)
        .description("nightly")
        .tag_specifications(tag_spec(ResourceType::Snapshot, &[("owner", "ballast")]))
        .send()
        .await
        .unwrap();
    let snap = out.snapshot_id().unwrap().to_string();
    assert!(snap.starts_with("snap-") && snap.len() == 22, "{snap}");
    assert_eq!(out.state(), Some(&SnapshotState::Pending));
    assert_eq!(out.progress(), Some("0%"));
    assert_eq!(
        (out.volume_id(), out.volume_size()),
        (Some(vol.as_str()), Some(2))
    );
    assert_eq!(out.description(), Some("nightly"));
    assert_eq!(out.owner_id(), Some("123456789012"));
    assert_eq!(out.encrypted(), Some(false));
    assert!(out.start_time().is_some());
    assert_eq!(out.tags()[0].value(), Some("ballast"));
    // Written after the snapshot: not in it.
    write_at(&hv.backing_file(&vol), offset, b"AFTER  the snapshot");

    let described = ec2
        .describe_snapshots()
        .snapshot_ids(&snap)
        .send()
        .await
        .unwrap();
    let s = &described.snapshots()[0];
    assert_eq!(
        (s.state(), s.progress()),
        (Some(&SnapshotState::Completed), Some("100%"))
    );

    let ids = |f: Filter| {
        let ec2 = ec2.clone();
        async move {
            let out = ec2.describe_snapshots().filters(f).send().await.unwrap();
            out.snapshots()
                .iter()
                .map(|s| s.snapshot_id().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(filter("volume-id", &vol)).await, [snap.as_str()]);
    assert_eq!(ids(filter("tag:owner", "ballast")).await, [snap.as_str()]);
    assert_eq!(ids(filter("status", "completed")).await, [snap.as_str()]);
    assert_eq!(ids(filter("snapshot-id", &snap)).await, [snap.as_str()]);
    assert_eq!(ids(filter("status", "pending")).await, Vec::<String>::new());
    // Every snapshot is the caller's own; none is Amazon's.
    for (owner, count) in [("self", 1), ("amazon", 0)] {
        let out = ec2.describe_snapshots().owner_ids(owner).send().await;
        assert_eq!(out.unwrap().snapshots().len(), count, "owner {owner}");
    }

    // Restore into another zone: the snapshot's bytes, its size by default.
    let restored = restore(&ec2, "us-east-1b", &snap).send().await.unwrap();
    let restored_id = restored.volume_id().unwrap().to_string();
    assert_eq!(restored.size(), Some(2));
    assert_eq!(restored.snapshot_id(), Some(snap.as_str()));
    assert_eq!(
        read_at(&hv.backing_file(&restored_id), offset, 19),
        b"before the snapshot"
    );
    let bigger = restore(&ec2, "us-east-1c", &snap)
        .size(5)
        .send()
        .await
        .unwrap();
    assert_eq!(bigger.size(), Some(5));
    let bigger_file = hv.backing_file(bigger.volume_id().unwrap());
    assert_eq!(std::fs::metadata(&bigger_file).unwrap().len(), 5 << 30);
    assert_eq!(read_at(&bigger_file, offset, 19), b"before the snapshot");
    assert_eq!(
        describe(&ec2, bigger.volume_id().unwrap())
            .await
            .snapshot_id(),
        Some(snap.as_str())
    );
    assert_eq!(
        code(restore(&ec2, "us-east-1b", &snap).size(1).send().await),
        "InvalidParameterValue",
        "smaller than the snapshot"
    );

    ec2.delete_snapshot()
        .snapshot_id(&snap)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(ec2.describe_snapshots().snapshot_ids(&snap).send().await),
        "InvalidSnapshot.NotFound"
    );
    assert_eq!(
        code(ec2.delete_snapshot().snapshot_id(&snap).send().await),
        "InvalidSnapshot.NotFound"
    );
    assert_eq!(
        read_at(&hv.backing_file(&restored_id), offset, 19),
        b"before the snapshot",
        "volumes outlive it"
    );
}

#[tokio::test]
async fn snapshot_errors_and_pages() {
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    assert_eq!(
        code(
            ec2.create_snapshot()
                .volume_id("vol-00000000000000000")
                .send()
                .await
        ),
        "InvalidVolume.NotFound"
    );
    assert_eq!(code(ec2.create_snapshot().send().await), "MissingParameter");
    let vol = volume(&ec2, "us-east-1a", 1).await;
    assert_eq!(
        code(
            ec2.create_snapshot()
                .volume_id(&vol)
                .tag_specifications(tag_spec(ResourceType::Volume, &[("a", "b")]))
                .send()
                .await
        ),
        "InvalidParameterValue",
        "tags for a volume"
    );
    let encrypted = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(1)
        .encrypted(true)
        .send()
        .await
        .unwrap();
    let snap = ec2
        .create_snapshot()
        .volume_id(encrypted.volume_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(snap.encrypted(), Some(true));
    assert_eq!(snap.kms_key_id(), encrypted.kms_key_id());
    let restored = restore(&ec2, "us-east-1a", snap.snapshot_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        restored.encrypted(),
        Some(true),
        "a volume from an encrypted snapshot is encrypted"
    );

    for _ in 0..6 {
        ec2.create_snapshot().volume_id(&vol).send().await.unwrap();
    }
    let first = ec2
        .describe_snapshots()
        .max_results(5)
        .send()
        .await
        .unwrap();
    assert_eq!(first.snapshots().len(), 5);
    let rest = ec2
        .describe_snapshots()
        .max_results(5)
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.snapshots().len(), 2);
    assert!(rest.next_token().is_none());
    assert_eq!(
        code(ec2.describe_snapshots().max_results(2).send().await),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(
            ec2.describe_snapshots()
                .max_results(5)
                .snapshot_ids(snap.snapshot_id().unwrap())
                .send()
                .await
        ),
        "InvalidParameterCombination"
    );
}
