//! Compute Engine snapshots: insert (global, from sourceDisk) and
//! disks.createSnapshot (zonal), get, list, delete; CREATING → READY; a
//! disk made from a snapshot in another zone holds the same bytes.

mod gce_support;
mod support;

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use gce_support::{Gce, PROJECT, ZONE_A, ZONE_B, backing_file, last};
use serde_json::{Value, json};

/// Write `bytes` at `offset` into the disk's backing file, as a guest
/// would through the device.
fn write_at(running: &cloudsim::Running, disk: &Value, offset: u64, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(backing_file(running, disk))
        .unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(bytes).unwrap();
}

#[tokio::test]
async fn snapshot_lifecycle() {
    let (_dir, running, gce) = gce_support::start(|_| {}).await;
    let disk = gce
        .insert_disk(ZONE_A, json!({"name": "data", "sizeGb": 12}))
        .await;

    let op = gce
        .post(
            "global/snapshots",
            json!({"name": "snap-1", "sourceDisk": Gce::disk_source(ZONE_A, "data"), "labels": {"k": "v"}}),
        )
        .await
        .ok();
    assert!(op.get("zone").is_none(), "a global operation");
    assert!(
        op["selfLink"]
            .as_str()
            .unwrap()
            .contains("/global/operations/")
    );
    assert_eq!(op["operationType"], "insert");
    assert_eq!(last(&op["targetLink"]), "snap-1");
    let op = gce.wait(&op).await;
    assert!(op.get("error").is_none());

    let snapshot = gce.get("global/snapshots/snap-1").await.ok();
    assert_eq!(snapshot["kind"], "compute#snapshot");
    assert_eq!(snapshot["status"], "READY");
    assert_eq!(snapshot["diskSizeGb"], "12");
    assert_eq!(snapshot["sourceDiskId"], disk["id"]);
    assert!(
        snapshot["sourceDisk"]
            .as_str()
            .unwrap()
            .ends_with(&Gce::disk_source(ZONE_A, "data"))
    );
    assert_eq!(snapshot["labels"], json!({"k": "v"}));
    assert!(
        snapshot["selfLink"]
            .as_str()
            .unwrap()
            .ends_with(&format!("projects/{PROJECT}/global/snapshots/snap-1"))
    );

    // Refusals.
    let again = json!({"name": "snap-1", "sourceDisk": Gce::disk_source(ZONE_A, "data")});
    for (body, status, reason) in [
        (again, 409, "alreadyExists"),
        (
            json!({"name": "s2", "sourceDisk": Gce::disk_source(ZONE_A, "nope")}),
            404,
            "notFound",
        ),
        (json!({"name": "s2", "sourceDisk": "data"}), 400, "invalid"),
        (json!({"name": "s2"}), 400, "required"),
        (
            json!({"name": "S2", "sourceDisk": Gce::disk_source(ZONE_A, "data")}),
            400,
            "invalid",
        ),
    ] {
        gce.assert_post_error("global/snapshots", body, status, reason)
            .await;
    }
    gce.assert_get_error("global/snapshots/nope", 404, "notFound")
        .await;

    // disks.createSnapshot: the same, as a zonal operation on the disk.
    let op = gce
        .done(
            gce.post(
                &format!("zones/{ZONE_A}/disks/data/createSnapshot"),
                json!({"name": "snap-2"}),
            )
            .await,
        )
        .await;
    assert_eq!(op["operationType"], "createSnapshot");
    assert_eq!(last(&op["zone"]), ZONE_A);
    assert_eq!(last(&op["targetLink"]), "data");

    // list with a filter.
    let list = gce
        .send_query("global/snapshots", &[("filter", "labels.k = v")])
        .await
        .ok();
    assert_eq!(list["kind"], "compute#snapshotList");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["name"], "snap-1");
    assert_eq!(
        gce.get("global/snapshots").await.ok()["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Restore: at least the snapshot's size; by default exactly it.
    gce.post_disk(
        ZONE_B,
        json!({"name": "small", "sourceSnapshot": "global/snapshots/snap-1", "sizeGb": 11}),
    )
    .await
    .assert_error(400, "invalid");
    gce.post_disk(
        ZONE_B,
        json!({"name": "x", "sourceSnapshot": "global/snapshots/nope"}),
    )
    .await
    .assert_error(404, "notFound");
    let url = format!("{}/global/snapshots/snap-1", gce.base);
    let restored = gce
        .insert_disk(ZONE_B, json!({"name": "restored", "sourceSnapshot": url}))
        .await;
    assert_eq!(restored["sizeGb"], "12");
    assert_eq!(last(&restored["sourceSnapshot"]), "snap-1");
    assert_eq!(restored["sourceSnapshotId"], snapshot["id"]);
    let bigger = gce
        .insert_disk(
            ZONE_B,
            json!({"name": "bigger", "sourceSnapshot": "snap-1", "sizeGb": 20}),
        )
        .await;
    assert_eq!(
        std::fs::metadata(backing_file(&running, &bigger))
            .unwrap()
            .len(),
        20 << 30
    );

    // Delete.
    let op = gce.done(gce.delete("global/snapshots/snap-1").await).await;
    assert_eq!(op["operationType"], "delete");
    gce.assert_get_error("global/snapshots/snap-1", 404, "notFound")
        .await;
    gce.delete("global/snapshots/snap-1")
        .await
        .assert_error(404, "notFound");
    // The disk restored from it lives on.
    gce.disk(ZONE_B, "restored").await;
}

#[tokio::test]
async fn a_snapshot_is_creating_until_the_snapshot_delay_passes() {
    let (_dir, _running, gce) =
        gce_support::start(|c| c.delays.snapshot = Duration::from_millis(400)).await;
    gce.insert_disk(ZONE_A, json!({"name": "data", "sizeGb": 10}))
        .await;
    let op = gce
        .post(
            "global/snapshots",
            json!({"name": "snap", "sourceDisk": Gce::disk_source(ZONE_A, "data")}),
        )
        .await
        .ok();
    assert_eq!(op["status"], "RUNNING");
    assert_eq!(
        gce.get("global/snapshots/snap").await.ok()["status"],
        "CREATING"
    );
    gce.post_disk(
        ZONE_B,
        json!({"name": "early", "sourceSnapshot": "global/snapshots/snap"}),
    )
    .await
    .assert_error(400, "resourceNotReady");
    gce.delete("global/snapshots/snap")
        .await
        .assert_error(400, "resourceNotReady");
    gce.wait(&op).await;
    assert_eq!(
        gce.get("global/snapshots/snap").await.ok()["status"],
        "READY"
    );
    gce.insert_disk(
        ZONE_B,
        json!({"name": "later", "sourceSnapshot": "global/snapshots/snap"}),
    )
    .await;
}

#[tokio::test]
async fn data_follows_a_snapshot_into_another_zone() {
    let (_dir, running, gce) = gce_support::start(|_| {}).await;
    let disk = gce
        .insert_disk(ZONE_A, json!({"name": "data", "sizeGb": 10}))
        .await;
    write_at(&running, &disk, 5 << 30, b"hello from us-central1-a");

    gce.snapshot("snap", ZONE_A, "data").await;
    // Later writes do not reach the snapshot.
    write_at(&running, &disk, 5 << 30, b"HELLO");

    let restored = gce
        .insert_disk(
            ZONE_B,
            json!({"name": "copy", "sourceSnapshot": "global/snapshots/snap"}),
        )
        .await;
    let mut file = std::fs::File::open(backing_file(&running, &restored)).unwrap();
    file.seek(SeekFrom::Start(5 << 30)).unwrap();
    let mut read = [0u8; 24];
    file.read_exact(&mut read).unwrap();
    assert_eq!(&read, b"hello from us-central1-a");
}
