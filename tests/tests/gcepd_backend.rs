//! The gcepd backend end to end, through the plugin socket, against
//! cloudsim's Compute Engine: every `ballast serve` here is one simulated
//! GCE instance (node-1 and node-2 in us-central1-a, node-3 in
//! us-central1-b). The backend reaches the API only through the host's
//! `http` capability, with the token the host fetches from the instance's
//! metadata server; cloudsim's hypervisor makes an attached disk a loop
//! device behind the `google-<device>` by-id link GCE shows, so the host
//! finds, formats and mounts real block devices.

use ballast_tests::cloud::{PluginCalls, SimCloud, with_gce_instances, write_synced};
use ballast_tests::serve::{BallastServe, blkid_probe, loop_devices_of};
use cloudsim::gce::disks::Disk;

const MOUNT_ID: &str = "c0ffee";
/// A Docker anonymous volume name.
const ANONYMOUS: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn gce_cloud(test: &str) -> Option<SimCloud> {
    SimCloud::start(test, with_gce_instances)
}

fn read(dir: &std::path::Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The disks of test `tag`'s cluster.
fn cluster_disks(cloud: &SimCloud, tag: &str) -> Vec<Disk> {
    let cluster = SimCloud::cluster_tag(tag);
    cloud
        .gce_disks()
        .into_iter()
        .filter(|d| d.labels.get("ballast-cluster") == Some(&cluster))
        .collect()
}

/// The one disk of volume `name` in test `tag`'s cluster.
fn only_disk(cloud: &SimCloud, tag: &str, name: &str) -> Disk {
    let description = format!("ballast volume: {name}");
    let found: Vec<Disk> = cluster_disks(cloud, tag)
        .into_iter()
        .filter(|d| d.description.as_deref() == Some(description.as_str()))
        .collect();
    assert_eq!(found.len(), 1, "disks of volume {name}: {found:#?}");
    found.into_iter().next().unwrap()
}

/// Remove volumes `names`; then test `tag`'s cluster has no disk left.
fn remove_all(cloud: &SimCloud, host: &BallastServe, tag: &str, names: &[&str]) {
    for name in names {
        host.remove(name).unwrap();
    }
    assert!(cluster_disks(cloud, tag).is_empty(), "every disk deleted");
}

fn users(cloud: &SimCloud, disk: &Disk) -> Vec<String> {
    cloud.gce_users(&disk.zone, &disk.name)
}

fn status<'a>(volume: &'a serde_json::Value, key: &str) -> &'a str {
    volume["Status"][key].as_str().unwrap_or_default()
}

/// Instance `name`'s host dies with its mounts: the process, then its
/// kernel mount (lazily), then the instance, whose attachments stay.
fn die(cloud: &SimCloud, host: &mut BallastServe, instance: &str, volume: &str) {
    host.kill9();
    let lazy = std::process::Command::new("umount")
        .arg("-l")
        .arg(host.mountpoint(volume))
        .status()
        .unwrap();
    assert!(lazy.success());
    cloud.kill(instance);
}

#[test]
fn lifecycle_on_two_instances_and_preempt_moves_the_data() {
    let Some(cloud) = gce_cloud("gcepd lifecycle") else {
        return;
    };
    // Compute Engine refuses forceAttach of zonal disks; preempt must cope.
    cloud.gce_real_force_attach(true);
    let tag = "life";
    let one = cloud.gce_host("node-1", tag, &[]);
    let name = "pgdata";
    one.create(name, &[("size", "12"), ("type", "pd-balanced")])
        .unwrap();
    let disk = only_disk(&cloud, tag, name);
    assert_eq!(disk.name, name, "a valid disk name is used as is");
    assert_eq!(
        (disk.size_gb, disk.disk_type.as_str(), disk.zone.as_str()),
        (12, "pd-balanced", "us-central1-a")
    );
    assert_eq!(disk.labels["ballast-fstype"], "ext4");
    assert!(users(&cloud, &disk).is_empty());

    let dir = one.mount(name, MOUNT_ID).unwrap();
    assert_eq!(users(&cloud, &disk), ["node-1"]);
    let (fs, device) = one.mount_of(name).expect("mounted");
    assert_eq!(fs, "ext4");
    assert_eq!(
        loop_devices_of(&cloud.gce_backing_file(&disk)),
        vec![device],
        "the mounted device is the disk's"
    );
    write_synced(&dir, "table.db", "rows 1..100");
    let got = one.get(name).unwrap();
    for (key, want) in [
        ("disk", name),
        ("volumetype", "pd-balanced"),
        ("size", "12GB"),
        ("zone", "us-central1-a"),
        ("state", "READY"),
        ("fstype", "ext4"),
        ("attachedto", "node-1"),
    ] {
        assert_eq!(status(&got, key), want, "Status {key}: {got:#}");
    }
    one.unmount(name, MOUNT_ID).unwrap();
    assert!(users(&cloud, &disk).is_empty(), "detached on last unmount");
    let filesystem = blkid_probe(&cloud.gce_backing_file(&disk));

    // The other instance of the zone mounts it and reads the data.
    let mut two = cloud.gce_host("node-2", tag, &[]);
    let dir = two.mount(name, MOUNT_ID).unwrap();
    assert_eq!(read(&dir, "table.db"), "rows 1..100");
    write_synced(&dir, "table.db", "rows 1..200");
    assert_eq!(users(&cloud, &disk), ["node-2"]);

    // node-2 dies holding the disk.
    die(&cloud, &mut two, "node-2", name);
    let err = one.mount(name, MOUNT_ID).unwrap_err();
    assert!(
        err.contains("conflict") && err.contains("node-2") && err.contains("preempt"),
        "without preempt the error names the holder: {err}"
    );
    assert!(!one.is_mounted(name));
    let err = one.remove(name).unwrap_err();
    assert!(
        err.contains("node-2"),
        "Remove refuses while attached: {err}"
    );
    drop(one);

    let one = cloud.gce_host("node-1", tag, &[("REXRAY_PREEMPT", "true")]);
    let dir = one.mount(name, MOUNT_ID).unwrap();
    assert_eq!(
        read(&dir, "table.db"),
        "rows 1..200",
        "preempt kept the data"
    );
    assert_eq!(users(&cloud, &disk), ["node-1"]);
    one.unmount(name, MOUNT_ID).unwrap();
    assert_eq!(
        blkid_probe(&cloud.gce_backing_file(&disk)),
        filesystem,
        "formatted once"
    );
    one.remove(name).unwrap();
    assert!(cluster_disks(&cloud, tag).is_empty(), "deleted in GCE");
    assert!(one.get(name).unwrap().is_null(), "Get after Remove: none");
    let err = one.remove(name).unwrap_err();
    assert!(err.contains("no volume"), "{err}");

    // The name is free again at once (no replayed insert).
    one.create(name, &[("size", "10")]).unwrap();
    assert_eq!(only_disk(&cloud, tag, name).size_gb, 10);
    one.remove(name).unwrap();
}

#[test]
fn hosts_creating_one_volume_at_once_in_two_zones_end_with_one_disk() {
    let Some(cloud) = gce_cloud("gcepd concurrent create") else {
        return;
    };
    let tag = "race";
    let hosts = [
        cloud.gce_host("node-1", tag, &[]),
        cloud.gce_host("node-2", tag, &[]),
        cloud.gce_host("node-3", tag, &[]),
    ];
    // Latency on every call lets all three look, find nothing and insert:
    // node-1 and node-2 meet on the name in us-central1-a, node-3 makes a
    // second disk in us-central1-b, and the younger one must go.
    cloud.faults(serde_json::json!({ "latency_ms": 300 }));
    for round in 0..3 {
        let name = format!("shared-{round}");
        let zones: Vec<String> = std::thread::scope(|s| {
            let workers: Vec<_> = hosts
                .iter()
                .map(|host| {
                    let name = name.clone();
                    s.spawn(move || {
                        host.create(&name, &[("size", "10")]).unwrap();
                        status(&host.get(&name).unwrap(), "zone").to_string()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let disk = only_disk(&cloud, tag, &name);
        assert!(
            zones.iter().all(|z| *z == disk.zone),
            "every host sees the one disk, in {}: {zones:?}",
            disk.zone
        );
    }
    let counters = cloud.counters();
    assert!(
        counters["gce:disks.insert"] > 3 && counters["gce:disks.delete"] >= 1,
        "the hosts raced and a duplicate was deleted: {counters:?}"
    );
    cloud.clear_faults();

    // A duplicate a crashed create left behind (younger, in zone b): the
    // volume is still the oldest disk, so node-3 in zone b is refused
    // rather than handed the duplicate, and Remove deletes the oldest.
    let first = only_disk(&cloud, tag, "shared-0");
    assert_eq!(first.zone, "us-central1-a", "{first:?}");
    operator_post(
        &cloud,
        "zones/us-central1-b/disks",
        serde_json::json!({
            "name": first.name,
            "sizeGb": "10",
            "type": "zones/us-central1-b/diskTypes/pd-ssd",
            "description": first.description,
            "labels": first.labels,
        }),
    );
    assert_eq!(cluster_disks(&cloud, tag).len(), 4);
    let err = hosts[2].mount("shared-0", MOUNT_ID).unwrap_err();
    assert!(err.contains("us-central1-a"), "{err}");
    assert!(cloud.gce_users("us-central1-b", &first.name).is_empty());
    hosts[2].remove("shared-0").unwrap();
    let left: Vec<String> = cluster_disks(&cloud, tag)
        .into_iter()
        .filter(|d| d.name == first.name)
        .map(|d| d.zone)
        .collect();
    assert_eq!(left, ["us-central1-b"], "the oldest went first");
    hosts[2].remove("shared-0").unwrap();
    remove_all(&cloud, &hosts[0], tag, &["shared-1", "shared-2"]);
}

#[test]
fn underscore_and_anonymous_names_work_and_never_collide() {
    let Some(cloud) = gce_cloud("gcepd names") else {
        return;
    };
    let tag = "names";
    let strict = cloud.gce_host("node-1", tag, &[]);
    let err = strict.create("my_data", &[]).unwrap_err();
    assert!(
        err.contains("GCEPD_CONVERTUNDERSCORES"),
        "underscores need the setting: {err}"
    );
    assert!(cluster_disks(&cloud, tag).is_empty(), "nothing created");
    drop(strict);

    let host = cloud.gce_host("node-1", tag, &[("GCEPD_CONVERTUNDERSCORES", "true")]);
    let other_anonymous = ANONYMOUS.replace('9', "8");
    let names = [
        "my_data",
        "my-data",
        "my__data",
        "My_Data",
        ANONYMOUS,
        other_anonymous.as_str(),
    ];
    for name in names {
        host.create(name, &[("size", "10")]).unwrap();
    }
    let mut disk_names: Vec<String> = names
        .iter()
        .map(|name| only_disk(&cloud, tag, name).name)
        .collect();
    for disk in &disk_names {
        assert!(
            disk.len() <= 63 && disk.starts_with(|c: char| c.is_ascii_lowercase()),
            "{disk} is a valid disk name"
        );
    }
    disk_names.sort();
    disk_names.dedup();
    assert_eq!(
        disk_names.len(),
        names.len(),
        "distinct disks: {disk_names:?}"
    );

    let (status, listed) =
        ballast_tests::cloud::call(&host.socket_path(), "List", serde_json::json!({}));
    assert_eq!(status, 200);
    let mut listed: Vec<&str> = listed["Volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Name"].as_str().unwrap())
        .collect();
    listed.sort();
    let mut want = names.to_vec();
    want.sort();
    assert_eq!(listed, want);

    // The anonymous one mounts end to end.
    let dir = host.mount(ANONYMOUS, MOUNT_ID).unwrap();
    write_synced(&dir, "x", "anonymous data");
    host.unmount(ANONYMOUS, MOUNT_ID).unwrap();
    let dir = host.mount(ANONYMOUS, "again").unwrap();
    assert_eq!(read(&dir, "x"), "anonymous data");
    host.unmount(ANONYMOUS, "again").unwrap();

    // Labels scope what a cluster sees.
    let stranger = cloud.gce_host("node-2", "names-other", &[]);
    let (_, seen) =
        ballast_tests::cloud::call(&stranger.socket_path(), "List", serde_json::json!({}));
    assert_eq!(seen["Volumes"], serde_json::json!([]), "{seen}");
    assert!(stranger.get("my-data").unwrap().is_null());

    remove_all(&cloud, &host, tag, &names);
}

#[test]
fn options_reach_compute_engine_and_bad_ones_are_refused() {
    let Some(cloud) = gce_cloud("gcepd options") else {
        return;
    };
    let tag = "opts";
    let host = cloud.gce_host("node-1", tag, &[("GCEPD_DEFAULTDISKTYPE", "pd-standard")]);
    for (options, says) in [
        (&[("size", "5")][..], "10-65536 GB (asked 5 GB)"),
        (&[("type", "pd-fast")][..], "pd-fast"),
        (&[("size", "100"), ("iops", "3000")][..], "iops"),
        (&[("type", "pd-extreme"), ("size", "100")][..], "500"),
        (&[("fstype", "ntfs")][..], "ntfs"),
        (&[("sise", "10")][..], "sise"),
    ] {
        let err = host.create("bad", options).unwrap_err();
        assert!(
            err.contains(says),
            "{options:?}: the error should name {says:?}: {err}"
        );
    }
    let err = host
        .create("bad", &[("zone", "mars-north1-a")])
        .unwrap_err();
    assert!(err.contains("mars-north1-a"), "{err}");
    assert!(cluster_disks(&cloud, tag).is_empty(), "nothing was created");

    host.create("plain", &[]).unwrap();
    host.create(
        "fast",
        &[("volumetype", "pd-ssd"), ("size", "20"), ("fstype", "xfs")],
    )
    .unwrap();
    host.create(
        "extreme",
        &[("type", "pd-extreme"), ("size", "500"), ("iops", "3000")],
    )
    .unwrap();
    host.create("east", &[("zone", "us-central1-b")]).unwrap();
    let plain = only_disk(&cloud, tag, "plain");
    assert_eq!(
        (plain.disk_type.as_str(), plain.size_gb),
        ("pd-standard", 16)
    );
    let fast = only_disk(&cloud, tag, "fast");
    assert_eq!((fast.disk_type.as_str(), fast.size_gb), ("pd-ssd", 20));
    assert_eq!(fast.labels["ballast-fstype"], "xfs");
    let extreme = only_disk(&cloud, tag, "extreme");
    assert_eq!(
        (
            extreme.disk_type.as_str(),
            extreme.size_gb,
            extreme.provisioned_iops
        ),
        ("pd-extreme", 500, Some(3000))
    );
    let east = only_disk(&cloud, tag, "east");
    assert_eq!(east.zone, "us-central1-b");

    // Create again: the same is idempotent, anything else a conflict.
    host.create(
        "fast",
        &[("volumetype", "pd-ssd"), ("size", "20"), ("fstype", "xfs")],
    )
    .unwrap();
    let err = host.create("fast", &[("size", "30")]).unwrap_err();
    assert!(err.contains("size 20 GB (asked 30 GB)"), "{err}");
    // Options not given are not compared (`docker volume create fast`).
    host.create("fast", &[]).unwrap();
    assert_eq!(cluster_disks(&cloud, tag).len(), 4);

    // xfs is what the disk is formatted with.
    host.mount("fast", MOUNT_ID).unwrap();
    assert_eq!(host.mount_of("fast").unwrap().0, "xfs");
    host.unmount("fast", MOUNT_ID).unwrap();

    // Another zone's volume is seen, and refused to mount with a reason.
    let far = cloud.gce_host("node-3", tag, &[]);
    assert_eq!(status(&far.get("fast").unwrap(), "zone"), "us-central1-a");
    let err = far.mount("fast", MOUNT_ID).unwrap_err();
    assert!(
        err.contains("us-central1-a") && err.contains("us-central1-b"),
        "{err}"
    );
    assert!(!far.is_mounted("fast"));
    let dir = far.mount("east", MOUNT_ID).unwrap();
    write_synced(&dir, "z", "in zone b");
    far.unmount("east", MOUNT_ID).unwrap();

    remove_all(&cloud, &host, tag, &["plain", "fast", "extreme", "east"]);
}

#[test]
fn throttling_errors_and_stuck_operations_end_in_bounded_retries_or_clean_errors() {
    let Some(cloud) = gce_cloud("gcepd faults") else {
        return;
    };
    let tag = "faults";
    let host = cloud.gce_host(
        "node-1",
        tag,
        &[("GCEPD_STATUSTIMEOUT", "2s"), ("GCEPD_MAXRETRIES", "3")],
    );
    let name = "bumpy";

    // Bursts of 429 and 503 are absorbed by retries; one disk results.
    cloud.faults(serde_json::json!({
        "fail_next": [
            {"action": "disks.insert", "count": 2, "code": "rateLimitExceeded", "status": 429},
            {"action": "disks.get", "count": 1, "code": "backendError", "status": 503},
            {"action": "instances.attachDisk", "count": 2, "code": "backendError", "status": 503},
            {"action": "zoneOperations.wait", "count": 1, "code": "backendError", "status": 503},
        ],
    }));
    host.create(name, &[("size", "10")]).unwrap();
    let dir = host.mount(name, MOUNT_ID).unwrap();
    write_synced(&dir, "data", "written under faults");
    host.unmount(name, MOUNT_ID).unwrap();
    let counters = cloud.counters();
    assert_eq!(counters["gce:disks.insert"], 3, "{counters:?}");
    assert_eq!(counters["gce:instances.attachDisk"], 3, "{counters:?}");
    cloud.clear_faults();
    let disk = only_disk(&cloud, tag, name);
    let filesystem = blkid_probe(&cloud.gce_backing_file(&disk));

    // Throttled for good: a clean error after the bounded tries, nothing made.
    cloud.faults(serde_json::json!({
        "fail_next": [
            {"action": "disks.insert", "count": 100, "code": "rateLimitExceeded", "status": 429},
        ],
    }));
    let err = host.create("never", &[("size", "10")]).unwrap_err();
    assert!(
        err.contains("unavailable") && err.contains("429") && err.contains("after 4 tries"),
        "{err}"
    );
    assert_eq!(cloud.counters()["gce:disks.insert"], 4);
    cloud.clear_faults();
    assert_eq!(cluster_disks(&cloud, tag).len(), 1, "nothing else made");
    host.create("never", &[("size", "10")]).unwrap();
    host.remove("never").unwrap();

    // An attach stuck RUNNING: a clean error within GCEPD_STATUSTIMEOUT,
    // nothing mounted; the next Mount works.
    cloud.faults(serde_json::json!({ "stuck_attaching": 1 }));
    let err = host.mount(name, MOUNT_ID).unwrap_err();
    assert!(
        err.contains("instances.attachDisk") && err.contains("still RUNNING"),
        "stuck operation reported: {err}"
    );
    assert!(!host.is_mounted(name));
    assert!(users(&cloud, &disk).is_empty());
    cloud.clear_faults();
    let dir = host.mount(name, MOUNT_ID).unwrap();
    assert_eq!(read(&dir, "data"), "written under faults");
    host.unmount(name, MOUNT_ID).unwrap();
    assert_eq!(
        blkid_probe(&cloud.gce_backing_file(&disk)),
        filesystem,
        "never reformatted"
    );
    host.remove(name).unwrap();
}

#[test]
fn doctor_shows_the_http_policy_a_token_and_the_instance_never_the_token() {
    let Some(cloud) = gce_cloud("gcepd doctor") else {
        return;
    };
    let config = cloud.gce_config("node-1", "doctor", &[]);
    std::fs::write(config.config_path(), config.toml()).unwrap();
    let out = std::process::Command::new(ballast_tests::ballast_bin())
        .arg("--config")
        .arg(config.config_path())
        .arg("doctor")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.contains(&format!("http gcepd: {name}")))
            .unwrap_or_else(|| panic!("no {name} line in:\n{text}"))
            .to_string()
    };
    let api = cloud.api_url().trim_end_matches('/').to_string();
    let allow = line("allow-list");
    assert!(
        allow.starts_with("ok") && allow.contains(&api) && allow.contains("loopback allowed"),
        "{allow}"
    );
    let credential = line("credential gce");
    assert!(
        credential.starts_with("ok") && credential.contains("gce-metadata: token ready"),
        "{credential}"
    );
    let instance = line("instance");
    assert!(
        instance.starts_with("ok")
            && instance.contains("us-central1-a")
            && instance.contains("name node-1")
            && instance.contains("project ballast-sim"),
        "{instance}"
    );
    let world = cloud.gce_tokens();
    assert!(!world.is_empty(), "a token was issued");
    for token in world {
        assert!(!text.contains(&token), "doctor printed a token");
        assert!(!String::from_utf8_lossy(&out.stderr).contains(&token));
    }

    // A dead metadata server: the credential and instance lines fail.
    cloud.kill("node-1");
    let out = std::process::Command::new(ballast_tests::ballast_bin())
        .arg("--config")
        .arg(config.config_path())
        .arg("doctor")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    let credential = text
        .lines()
        .find(|l| l.contains("http gcepd: credential gce"))
        .unwrap();
    assert!(
        credential.starts_with("FAIL") && credential.contains("metadata server"),
        "{credential}"
    );
}

/// A Compute Engine call as an operator makes one (the API with node-1's
/// token): POST `path` (under the project) with `body`, waiting for the
/// operation it starts.
fn operator_post(cloud: &SimCloud, path: &str, body: serde_json::Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let metadata = cloud.instance("node-1").metadata_url;
        let token: serde_json::Value = client
            .get(format!(
                "{metadata}/computeMetadata/v1/instance/service-accounts/default/token"
            ))
            .header("Metadata-Flavor", "Google")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token["access_token"].as_str().unwrap();
        let project = format!(
            "{}/compute/v1/projects/ballast-sim",
            cloud.api_url().trim_end_matches('/')
        );
        let op: serde_json::Value = client
            .post(format!("{project}/{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let name = op["name"].as_str().unwrap_or_else(|| panic!("{op}"));
        let zone = op["zone"].as_str().unwrap().rsplit('/').next().unwrap();
        let done: serde_json::Value = client
            .post(format!("{project}/zones/{zone}/operations/{name}/wait"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(done["status"], "DONE", "{done}");
        assert!(done.get("error").is_none(), "{done}");
    });
}

/// Snapshot disk `disk` as an operator would.
fn snapshot(cloud: &SimCloud, zone: &str, disk: &str, snapshot: &str) {
    operator_post(
        cloud,
        &format!("zones/{zone}/disks/{disk}/createSnapshot"),
        serde_json::json!({ "name": snapshot }),
    );
}

#[test]
fn a_volume_made_from_a_snapshot_starts_with_its_data() {
    let Some(cloud) = gce_cloud("gcepd snapshot") else {
        return;
    };
    let tag = "snap";
    let host = cloud.gce_host("node-1", tag, &[]);
    host.create("origin", &[("size", "10")]).unwrap();
    let dir = host.mount("origin", MOUNT_ID).unwrap();
    write_synced(&dir, "seed.sql", "insert 1");
    host.unmount("origin", MOUNT_ID).unwrap();
    snapshot(&cloud, "us-central1-a", "origin", "origin-snap-1");

    let err = host
        .create("copy", &[("snapshot", "no-such-snap")])
        .unwrap_err();
    assert!(err.contains("no-such-snap"), "{err}");
    host.create("copy", &[("snapshot", "origin-snap-1")])
        .unwrap();
    let copy = only_disk(&cloud, tag, "copy");
    assert_eq!(copy.size_gb, 10, "the snapshot's size");
    let dir = host.mount("copy", MOUNT_ID).unwrap();
    assert_eq!(read(&dir, "seed.sql"), "insert 1");
    write_synced(&dir, "seed.sql", "changed in the copy");
    host.unmount("copy", MOUNT_ID).unwrap();
    let dir = host.mount("origin", MOUNT_ID).unwrap();
    assert_eq!(read(&dir, "seed.sql"), "insert 1", "the origin is its own");
    host.unmount("origin", MOUNT_ID).unwrap();
    remove_all(&cloud, &host, "snap", &["copy", "origin"]);
}
