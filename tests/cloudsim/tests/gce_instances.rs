//! Compute Engine instances: get/list, attachDisk (same zone, single
//! READ_WRITE user, READ_ONLY sharing, device names, forceAttach),
//! detachDisk, a killed instance keeping its disk, and an error that only
//! shows when an operation completes.

mod gce_support;
mod support;

use std::time::Duration;

use gce_support::{Gce, PROJECT, ZONE_A, ZONE_B, kill, last, with_gce_a2};
use serde_json::{Value, json};

/// An attachDisk body for a disk in ZONE_A, where the instances are.
fn source(disk: &str) -> Value {
    Gce::source(ZONE_A, disk)
}

/// `source(disk)` with more fields (mode, deviceName, …).
fn source_with(disk: &str, fields: Value) -> Value {
    let mut body = source(disk);
    body.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    body
}

#[tokio::test]
async fn get_shows_the_instance_and_its_boot_disk() {
    let (_dir, running, gce) = gce_support::start(|_| {}).await;
    let instance = gce.instance(ZONE_A, "gce-a").await;
    assert_eq!(instance["kind"], "compute#instance");
    assert_eq!(instance["name"], "gce-a");
    assert_eq!(instance["status"], "RUNNING");
    assert_eq!(last(&instance["zone"]), ZONE_A);
    assert_eq!(last(&instance["machineType"]), "n2-standard-2");
    // Its id is the one its metadata server reports.
    let metadata = running.instance("gce-a").metadata_url;
    let id = reqwest::Client::new()
        .get(format!("{metadata}/computeMetadata/v1/instance/id"))
        .header("Metadata-Flavor", "Google")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(instance["id"], id);
    let disks = instance["disks"].as_array().unwrap();
    assert_eq!(disks.len(), 1);
    assert_eq!(disks[0]["boot"], true);
    assert_eq!(disks[0]["deviceName"], "persistent-disk-0");
    assert_eq!(disks[0]["mode"], "READ_WRITE");
    assert_eq!(last(&disks[0]["source"]), "gce-a");

    // gce-b is in another zone; i-a is not a GCE instance.
    gce.assert_get_error(&format!("zones/{ZONE_A}/instances/gce-b"), 404, "notFound")
        .await;
    gce.assert_get_error(&format!("zones/{ZONE_A}/instances/i-a"), 404, "notFound")
        .await;
    gce.assert_get_error(&format!("zones/{ZONE_A}/instances/nope"), 404, "notFound")
        .await;
    let list = gce.get(&format!("zones/{ZONE_B}/instances")).await.ok();
    assert_eq!(list["items"][0]["name"], "gce-b");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn attach_and_detach() {
    let (_dir, _running, gce) = gce_support::start(|_| {}).await;
    gce.insert_disk(ZONE_A, json!({"name": "data", "sizeGb": 10}))
        .await;

    let op = gce
        .done(gce.attach(ZONE_A, "gce-a", source("data"), false).await)
        .await;
    assert_eq!(op["operationType"], "attachDisk");
    assert_eq!(last(&op["targetLink"]), "gce-a");
    let instance = gce.instance(ZONE_A, "gce-a").await;
    let attached = &instance["disks"][1];
    assert_eq!(
        attached["deviceName"], "data",
        "deviceName defaults to the disk name"
    );
    assert_eq!(attached["mode"], "READ_WRITE");
    assert_eq!(attached["boot"], false);
    assert_eq!(attached["index"], 1);
    assert!(
        attached["source"]
            .as_str()
            .unwrap()
            .ends_with(&Gce::disk_source(ZONE_A, "data"))
    );
    assert_eq!(gce.users(ZONE_A, "data").await, ["gce-a"]);
    assert!(gce.disk(ZONE_A, "data").await["lastAttachTimestamp"].is_string());
    // In use: cannot be deleted.
    gce.delete(&format!("zones/{ZONE_A}/disks/data"))
        .await
        .assert_error(400, "resourceInUseByAnotherResource");

    // detachDisk takes the device name, not the disk name.
    gce.detach(ZONE_A, "gce-a", "nope")
        .await
        .assert_error(400, "invalid");
    gce.assert_post_error(
        &format!("zones/{ZONE_A}/instances/gce-a/detachDisk"),
        serde_json::Value::Null,
        400,
        "required",
    )
    .await;
    let op = gce.done(gce.detach(ZONE_A, "gce-a", "data").await).await;
    assert_eq!(op["operationType"], "detachDisk");
    assert_eq!(
        gce.device_names(ZONE_A, "gce-a").await,
        ["persistent-disk-0"]
    );
    assert!(gce.users(ZONE_A, "data").await.is_empty());
    assert!(gce.disk(ZONE_A, "data").await["lastDetachTimestamp"].is_string());
    gce.detach(ZONE_A, "gce-a", "data")
        .await
        .assert_error(400, "invalid");

    // A chosen device name; attach by full URL.
    let url = format!("{}/zones/{ZONE_A}/disks/data", gce.base);
    gce.done(
        gce.attach(
            ZONE_A,
            "gce-a",
            json!({"source": url, "deviceName": "Vol_1.x", "mode": "READ_WRITE"}),
            false,
        )
        .await,
    )
    .await;
    assert_eq!(
        gce.device_names(ZONE_A, "gce-a").await,
        ["persistent-disk-0", "Vol_1.x"]
    );
    gce.done(gce.detach(ZONE_A, "gce-a", "Vol_1.x").await).await;
    gce.done(gce.delete(&format!("zones/{ZONE_A}/disks/data")).await)
        .await;
}

#[tokio::test]
async fn attach_refusals() {
    let (_dir, _running, gce) = gce_support::start(with_gce_a2).await;
    gce.insert_disk(ZONE_A, json!({"name": "data", "sizeGb": 10}))
        .await;
    gce.insert_disk(ZONE_A, json!({"name": "other", "sizeGb": 10}))
        .await;
    gce.insert_disk(ZONE_B, json!({"name": "far", "sizeGb": 10}))
        .await;

    // Zonal disks attach within their zone only.
    let far = gce
        .attach(ZONE_A, "gce-a", Gce::source(ZONE_B, "far"), false)
        .await;
    far.assert_error(400, "invalid");
    assert!(
        far.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("same zone")
    );
    gce.attach(ZONE_A, "nope", source("data"), false)
        .await
        .assert_error(404, "notFound");
    // Bodies gce-a refuses, with the status and reason of each.
    for (body, status, reason) in [
        (source("missing"), 404, "notFound"),
        (json!({"source": "data"}), 400, "invalid"),
        (json!({}), 400, "required"),
        (source_with("data", json!({"mode": "RW"})), 400, "invalid"),
        (
            source_with("data", json!({"deviceName": "/dev/sdb"})),
            400,
            "invalid",
        ),
        (source_with("data", json!({"boot": true})), 400, "invalid"),
    ] {
        gce.attach(ZONE_A, "gce-a", body, false)
            .await
            .assert_error(status, reason);
    }

    // One READ_WRITE user.
    gce.done(gce.attach(ZONE_A, "gce-a", source("data"), false).await)
        .await;
    let busy = gce.attach(ZONE_A, "gce-a2", source("data"), false).await;
    busy.assert_error(400, "resourceInUseByAnotherResource");
    assert_eq!(
        busy.body["error"]["message"],
        format!(
            "The disk resource 'projects/{PROJECT}/zones/{ZONE_A}/disks/data' is already being used by \
             'projects/{PROJECT}/zones/{ZONE_A}/instances/gce-a'"
        )
    );
    let read_only = source_with("data", json!({"mode": "READ_ONLY"}));
    gce.attach(ZONE_A, "gce-a2", read_only, false)
        .await
        .assert_error(400, "resourceInUseByAnotherResource");
    gce.attach(ZONE_A, "gce-a", source("data"), false)
        .await
        .assert_error(400, "resourceInUseByAnotherResource");
    // A device name is unique per instance.
    let other_as_data = source_with("other", json!({"deviceName": "data"}));
    gce.attach(ZONE_A, "gce-a", other_as_data, false)
        .await
        .assert_error(400, "invalid");
    gce.done(gce.detach(ZONE_A, "gce-a", "data").await).await;

    // READ_ONLY may be shared; then nobody may take it READ_WRITE.
    let read_only = source_with("data", json!({"mode": "READ_ONLY"}));
    gce.done(gce.attach(ZONE_A, "gce-a", read_only.clone(), false).await)
        .await;
    gce.done(gce.attach(ZONE_A, "gce-a2", read_only, false).await)
        .await;
    assert_eq!(gce.users(ZONE_A, "data").await, ["gce-a", "gce-a2"]);
    assert_eq!(
        gce.instance(ZONE_A, "gce-a2").await["disks"][1]["mode"],
        "READ_ONLY"
    );
}

#[tokio::test]
async fn force_attach_moves_a_disk() {
    let (_dir, running, gce) = gce_support::start(with_gce_a2).await;
    gce.insert_disk(ZONE_A, json!({"name": "data", "sizeGb": 10}))
        .await;
    gce.done(
        gce.attach(
            ZONE_A,
            "gce-a",
            source_with("data", json!({"deviceName": "d1"})),
            false,
        )
        .await,
    )
    .await;

    let moved = source_with("data", json!({"deviceName": "d2"}));
    gce.done(gce.attach(ZONE_A, "gce-a2", moved.clone(), true).await)
        .await;
    assert_eq!(
        gce.device_names(ZONE_A, "gce-a").await,
        ["persistent-disk-0"]
    );
    assert_eq!(
        gce.device_names(ZONE_A, "gce-a2").await,
        ["persistent-disk-0", "d2"]
    );
    assert_eq!(gce.users(ZONE_A, "data").await, ["gce-a2"]);
    // forceAttach=false is an ordinary attach; bad values are refused.
    gce.assert_post_error(
        &format!("zones/{ZONE_A}/instances/gce-a/attachDisk?forceAttach=yes"),
        moved,
        400,
        "invalid",
    )
    .await;

    // Compute Engine itself refuses forceAttach for zonal disks; the switch emulates that.
    running.sim.world().gce.real_force_attach = true;
    let back = source("data");
    gce.attach(ZONE_A, "gce-a", back, true)
        .await
        .assert_error(400, "invalid");
}

#[tokio::test]
async fn a_killed_instance_keeps_its_disk_until_force_attached_elsewhere() {
    let (_dir, running, gce) = gce_support::start(with_gce_a2).await;
    gce.insert_disk(ZONE_A, json!({"name": "data", "sizeGb": 10}))
        .await;
    gce.done(gce.attach(ZONE_A, "gce-a", source("data"), false).await)
        .await;

    kill(&running, "gce-a").await;
    let dead = gce.instance(ZONE_A, "gce-a").await;
    assert_eq!(dead["status"], "TERMINATED");
    assert_eq!(
        gce.device_names(ZONE_A, "gce-a").await,
        ["persistent-disk-0", "data"]
    );
    assert_eq!(gce.users(ZONE_A, "data").await, ["gce-a"]);
    // The token gce-a issued before it died still works (tokens outlive nodes).
    gce.attach(ZONE_A, "gce-a2", source("data"), false)
        .await
        .assert_error(400, "resourceInUseByAnotherResource");

    gce.done(gce.attach(ZONE_A, "gce-a2", source("data"), true).await)
        .await;
    assert_eq!(
        gce.device_names(ZONE_A, "gce-a").await,
        ["persistent-disk-0"]
    );
    assert_eq!(gce.users(ZONE_A, "data").await, ["gce-a2"]);
    // A dead instance's boot disk may be detached; a running one's may not.
    gce.detach(ZONE_A, "gce-a2", "persistent-disk-0")
        .await
        .assert_error(400, "invalid");
    gce.done(gce.detach(ZONE_A, "gce-a", "persistent-disk-0").await)
        .await;
    gce.delete(&format!("zones/{ZONE_A}/disks/gce-a2"))
        .await
        .assert_error(400, "resourceInUseByAnotherResource");
}

#[tokio::test]
async fn an_error_found_when_the_operation_completes_goes_in_the_operation() {
    let (_dir, _running, gce) =
        gce_support::start(|c| c.delays.gce_operation = Duration::from_millis(300)).await;
    gce.insert_disk(ZONE_A, json!({"name": "one", "sizeGb": 10}))
        .await;
    gce.insert_disk(ZONE_A, json!({"name": "two", "sizeGb": 10}))
        .await;
    // Both ask for device name "data" while neither is attached yet.
    let as_data = |disk| source_with(disk, json!({"deviceName": "data"}));
    let first = gce
        .attach(ZONE_A, "gce-a", as_data("one"), false)
        .await
        .ok();
    gce_support::sleep_ms(50).await;
    let second = gce
        .attach(ZONE_A, "gce-a", as_data("two"), false)
        .await
        .ok();
    assert_eq!(first["status"], "RUNNING");
    assert_eq!(second["status"], "RUNNING");
    let first = gce.wait(&first).await;
    let second = gce.wait(&second).await;
    assert!(first.get("error").is_none(), "{first:#}");
    assert_eq!(second["status"], "DONE");
    assert_eq!(
        second["error"]["errors"][0]["code"], "INVALID_FIELD_VALUE",
        "{second:#}"
    );
    assert!(
        second["error"]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("data")
    );
    assert_eq!(second["httpErrorStatusCode"], 400);
    assert_eq!(second["httpErrorMessage"], "BAD REQUEST");
    assert_eq!(
        gce.device_names(ZONE_A, "gce-a").await,
        ["persistent-disk-0", "data"]
    );
    assert_eq!(gce.users(ZONE_A, "one").await, ["gce-a"]);
    assert!(gce.users(ZONE_A, "two").await.is_empty());
}
