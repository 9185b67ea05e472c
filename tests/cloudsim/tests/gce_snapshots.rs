//! Compute Engine snapshots: insert (global, from sourceDisk) and
//! disks.createSnapshot (zonal), get, list, delete; CREATING → READY; a
//! disk made from a snapshot in another zone holds the same bytes.

mod gce_support;
mod support;

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use gce_support::{Gce, PROJECT, ZONE_A, ZONE_B, last};
use serde_json::{Value, json};

fn backing(running: &cloudsim::Running, disk: &Value) -> std::path::PathBuf {
    running
        .sim
        .hypervisor
        .backing_file(&format!("gce-{}", disk["id"].as_str().unwrap()))
}

#[tokio::test]
async fn snapshot_lifecycle() {
    let (_dir, running) = support::sim(|_| {}).await;
    let gce = Gce::new(&running).await;
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
    gce.post("global/snapshots", again)
        .await
        .assert_error(409, "alreadyExists");
    gce.post(
        "global/snapshots",
        json!({"name": "s2", "sourceDisk": Gce::disk_source(ZONE_A, "nope")}),
    )
    .await
    .assert_error(404, "notFound");
    gce.post(
        "global/snapshots",
        json!({"name": "s2", "sourceDisk": "data"}),
    )
    .await
    .assert_error(400, "invalid");
    gce.post("global/snapshots", json!({"name": "s2"}))
        .await
        .assert_error(400, "required");
    gce.post(
        "global/snapshots",
        json!({"name": "S2", "sourceDisk": Gce::disk_source(ZONE_A, "data")}),
    )
    .await
    .assert_error(400, "invalid");
    gce.get("global/snapshots/nope")
        .await
        .assert_error(404, "notFound");

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
    gce.post(
        &format!("zones/{ZONE_B}/disks"),
        json!({"name": "small", "sourceSnapshot": "global/snapshots/snap-1", "sizeGb": 11}),
    )
    .await
    .assert_error(400, "invalid");
    gce.post(
        &format!("zones/{ZONE_B}/disks"),
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
        std::fs::metadata(backing(&running, &bigger)).unwrap().len(),
        20 << 30
    );

    // Delete.
    let op = gce.done(gce.delete("global/snapshots/snap-1").await).await;
    assert_eq!(op["operationType"], "delete");
    gce.get("global/snapshots/snap-1")
        .await
        .assert_error(404, "notFound");
    gce.delete("global/snapshots/snap-1")
        .await
        .assert_error(404, "notFound");
    // The disk restored from it lives on.
    gce.disk(ZONE_B, "restored").await;
}

#[tokio::test]
async fn a_snapshot_is_creating_until_the_snapshot_delay_passes() {
    let (_dir, running) = support::sim(|c| c.delays.snapshot = Duration::from_millis(400)).await;
    let gce = Gce::new(&running).await;
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
    gce.post(
        &format!("zones/{ZONE_B}/disks"),
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
    let (_dir, running) = support::sim(|_| {}).await;
    let gce = Gce::new(&running).await;
    let disk = gce
        .insert_disk(ZONE_A, json!({"name": "data", "sizeGb": 10}))
        .await;
    // Write straight into the backing file, as a guest would through the device.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(backing(&running, &disk))
        .unwrap();
    file.seek(SeekFrom::Start(5 << 30)).unwrap();
    file.write_all(b"hello from us-central1-a").unwrap();
    drop(file);

    gce.done(
        gce.post(
            "global/snapshots",
            json!({"name": "snap", "sourceDisk": Gce::disk_source(ZONE_A, "data")}),
        )
        .await,
    )
    .await;
    // Later writes do not reach the snapshot.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(backing(&running, &disk))
        .unwrap();
    file.seek(SeekFrom::Start(5 << 30)).unwrap();
    file.write_all(b"HELLO").unwrap();
    drop(file);

    let restored = gce
        .insert_disk(
            ZONE_B,
            json!({"name": "copy", "sourceSnapshot": "global/snapshots/snap"}),
        )
        .await;
    let mut file = std::fs::File::open(backing(&running, &restored)).unwrap();
    file.seek(SeekFrom::Start(5 << 30)).unwrap();
    let mut read = [0u8; 24];
    file.read_exact(&mut read).unwrap();
    assert_eq!(&read, b"hello from us-central1-a");
}
