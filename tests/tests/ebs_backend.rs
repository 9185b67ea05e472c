//! The EBS backend end to end, through the plugin socket, against cloudsim:
//! every `ballast serve` here is one simulated instance (i-a and i-b in
//! us-east-1a — i-b a Xen type —, i-c in us-east-1b), and cloudsim's
//! hypervisor makes an attached volume a loop device behind the by-id link
//! the real platform would show, so the host finds, formats and mounts real
//! block devices.

use std::time::{Duration, Instant};

use ballast_tests::cloud::{PluginCalls, SimCloud, write_synced};
use ballast_tests::serve::{BallastServe, blkid_probe, loop_devices_of};

const MOUNT_ID: &str = "c0ffee";

fn read(dir: &std::path::Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The one EC2 volume named `name`; fails on none or duplicates.
fn only_volume(cloud: &SimCloud, name: &str) -> cloudsim::ec2::model::Volume {
    let found = cloud.volumes_named(name);
    assert_eq!(found.len(), 1, "EC2 volumes named {name}: {found:#?}");
    found.into_iter().next().unwrap()
}

fn status<'a>(volume: &'a serde_json::Value, key: &str) -> &'a str {
    volume["Status"][key].as_str().unwrap_or_default()
}

#[test]
fn lifecycle_formats_once_and_keeps_data_across_remounts() {
    let Some(cloud) = SimCloud::start("ebs lifecycle", |_| {}) else {
        return;
    };
    let a = cloud.ebs_host("i-a", "life", &[]);
    let name = "pgdata";
    a.create(
        name,
        &[("size", "8"), ("volumetype", "gp3"), ("iops", "4000")],
    )
    .unwrap();
    let volume = only_volume(&cloud, name);
    assert_eq!(
        (volume.size_gib, volume.volume_type.as_str(), volume.iops),
        (8, "gp3", Some(4000))
    );
    assert_eq!(volume.zone, "us-east-1a", "created in the instance's zone");
    assert!(volume.attachments.is_empty());

    let dir = a.mount(name, MOUNT_ID).unwrap();
    let attached = only_volume(&cloud, name);
    assert_eq!(attached.attachments.len(), 1);
    assert_eq!(attached.attachments[0].instance_id, "i-a");
    let (fs, device) = a.mount_of(name).expect("mounted");
    assert_eq!(fs, "ext4");
    assert_eq!(
        loop_devices_of(&cloud.backing_file(&volume.id)),
        vec![device.clone()],
        "the mounted device is the volume's"
    );
    write_synced(&dir, "table.db", "rows 1..100");
    let got = a.get(name).unwrap();
    assert_eq!(status(&got, "volumeid"), volume.id);
    assert_eq!(status(&got, "attachedto"), "i-a");
    for (key, want) in [
        ("volumetype", "gp3"),
        ("size", "8GiB"),
        ("iops", "4000"),
        ("throughput", "125"),
        ("availabilityzone", "us-east-1a"),
        ("state", "in-use"),
        ("encrypted", "false"),
    ] {
        assert_eq!(status(&got, key), want, "Status {key}: {got:#}");
    }

    a.unmount(name, MOUNT_ID).unwrap();
    assert!(!a.is_mounted(name));
    assert!(
        only_volume(&cloud, name).attachments.is_empty(),
        "detached on the last unmount"
    );
    let uuid = blkid_probe(&cloud.backing_file(&volume.id));

    let dir = a.mount(name, "second").unwrap();
    assert_eq!(read(&dir, "table.db"), "rows 1..100");
    a.unmount(name, "second").unwrap();
    assert_eq!(
        blkid_probe(&cloud.backing_file(&volume.id)),
        uuid,
        "formatted once: the filesystem is the same"
    );

    a.remove(name).unwrap();
    assert!(cloud.volumes_named(name).is_empty(), "deleted in EC2");
    assert!(
        a.get(name).unwrap().is_null(),
        "Get after Remove: no volume"
    );
}

#[test]
fn option_families_reach_ec2_and_bad_combinations_are_refused() {
    let Some(cloud) = SimCloud::start("ebs options", |_| {}) else {
        return;
    };
    let a = cloud.ebs_host("i-a", "opts", &[]);
    a.create("fast", &[("type", "io1"), ("iops", "400"), ("size", "10")])
        .unwrap();
    let fast = only_volume(&cloud, "fast");
    assert_eq!((fast.volume_type.as_str(), fast.iops), ("io1", Some(400)));

    a.create(
        "secret",
        &[
            ("Encrypted", "true"),
            ("KmsKeyId", "alias/ballast"),
            ("size", "1"),
        ],
    )
    .unwrap();
    let secret = only_volume(&cloud, "secret");
    assert!(secret.encrypted);
    assert!(
        secret
            .kms_key_id
            .as_deref()
            .unwrap_or_default()
            .contains("alias/ballast"),
        "{secret:?}"
    );

    a.create(
        "elsewhere",
        &[
            ("availabilityzone", "us-east-1c"),
            ("size", "1"),
            ("backing", "relocatable"),
        ],
    )
    .unwrap();
    assert_eq!(only_volume(&cloud, "elsewhere").zone, "us-east-1c");

    a.create(
        "logs",
        &[("ebstype", "gp2"), ("size", "1"), ("fstype", "xfs")],
    )
    .unwrap();
    let dir = a.mount("logs", MOUNT_ID).unwrap();
    assert_eq!(a.mount_of("logs").unwrap().0, "xfs");
    write_synced(&dir, "log", "line");
    a.unmount("logs", MOUNT_ID).unwrap();

    for (options, rule) in [
        (&[("type", "gp2"), ("iops", "3000")][..], "iops"),
        (&[("type", "io1"), ("size", "10")][..], "iops"),
        (&[("type", "st1"), ("size", "10")][..], "125"),
        (&[("type", "gp9")][..], "gp9"),
        (
            &[("throughput", "500"), ("type", "io2"), ("iops", "1000")][..],
            "throughput",
        ),
        (&[("backing", "shared")][..], "backing"),
        (&[("colour", "blue")][..], "colour"),
    ] {
        let err = a.create("refused", options).unwrap_err();
        assert!(
            err.contains("invalid argument") && err.to_lowercase().contains(rule),
            "{options:?} → {err}"
        );
    }
    assert!(cloud.volumes_named("refused").is_empty(), "nothing created");
}

#[test]
fn preempt_takes_a_volume_from_a_dead_instance() {
    let Some(cloud) = SimCloud::start("ebs preempt", |_| {}) else {
        return;
    };
    let mut a = cloud.ebs_host("i-a", "preempt", &[]);
    let name = "orders";
    a.create(name, &[("size", "1")]).unwrap();
    let dir = a.mount(name, MOUNT_ID).unwrap();
    write_synced(&dir, "orders.db", "order 42");

    // Instance A dies with the volume attached: its host and its kernel
    // mount go, the cloud keeps the attachment.
    a.kill9();
    let mountpoint = a.mountpoint(name);
    let lazy = std::process::Command::new("umount")
        .arg("-l")
        .arg(&mountpoint)
        .status()
        .unwrap();
    assert!(lazy.success());
    cloud.kill("i-a");

    let b = cloud.ebs_host("i-b", "preempt", &[]);
    let err = b.mount(name, MOUNT_ID).unwrap_err();
    assert!(
        err.contains("conflict") && err.contains("i-a"),
        "without preempt the error names the holder: {err}"
    );
    assert!(!b.is_mounted(name));
    let err = b.remove(name).unwrap_err();
    assert!(
        err.contains("conflict") && err.contains("i-a"),
        "Remove refuses a volume attached elsewhere: {err}"
    );
    assert_eq!(cloud.volumes_named(name).len(), 1, "nothing deleted");
    drop(b);

    let b = cloud.ebs_host("i-b", "preempt", &[("REXRAY_PREEMPT", "true")]);
    let dir = b.mount(name, MOUNT_ID).unwrap();
    assert_eq!(read(&dir, "orders.db"), "order 42");
    let volume = only_volume(&cloud, name);
    assert_eq!(volume.attachments.len(), 1);
    assert_eq!(volume.attachments[0].instance_id, "i-b");
    b.unmount(name, MOUNT_ID).unwrap();
    b.remove(name).unwrap();
}

#[test]
fn concurrent_creators_under_throttling_make_one_volume() {
    let Some(cloud) = SimCloud::start("ebs concurrent create", |_| {}) else {
        return;
    };
    let hosts = [
        cloud.ebs_host("i-a", "race", &[]),
        cloud.ebs_host("i-b", "race", &[]),
    ];
    cloud.faults(serde_json::json!({ "throttle_share": 0.3 }));
    let name = "swarm-shared";
    let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..8)
            .map(|i| {
                let host = &hosts[i % 2];
                scope.spawn(move || host.create(name, &[("size", "1")]))
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let throttled = cloud.counters();
    cloud.clear_faults();
    for result in &results {
        assert!(result.is_ok(), "a creator failed: {result:?}");
    }
    let volume = only_volume(&cloud, name);
    eprintln!("calls under throttling: {throttled:?}");
    for host in &hosts {
        let got = host.get(name).unwrap();
        assert_eq!(status(&got, "volumeid"), volume.id, "every host agrees");
    }
}

#[test]
fn a_stale_by_id_link_is_refused_and_nothing_is_formatted() {
    let Some(cloud) = SimCloud::start("ebs stale link", |_| {}) else {
        return;
    };
    // i-b is a Xen type: the platform's link is `xvdX`, so a stale NVMe-style
    // link left in its by-id directory is what the host meets first.
    let b = cloud.ebs_host("i-b", "stale", &[]);
    b.create("holder", &[("size", "1")]).unwrap();
    b.create("fresh", &[("size", "1")]).unwrap();
    let dir = b.mount("holder", MOUNT_ID).unwrap();
    write_synced(&dir, "keep", "precious");
    let holder_device = b.mount_of("holder").unwrap().1;
    let fresh = only_volume(&cloud, "fresh");
    let by_id = cloud.instance("i-b").device_dir;
    let stale = by_id.join(format!(
        "nvme-Amazon_Elastic_Block_Store_{}",
        fresh.id.replace('-', "")
    ));
    std::os::unix::fs::symlink(&holder_device, &stale).unwrap();

    let err = b.mount("fresh", MOUNT_ID).unwrap_err();
    assert!(
        err.contains("serial") && err.contains(&fresh.id),
        "refused for its serial: {err}"
    );
    assert!(!b.is_mounted("fresh"));
    assert!(
        blkid_probe(&cloud.backing_file(&fresh.id)).is_empty(),
        "the fresh volume was not formatted"
    );
    assert!(
        only_volume(&cloud, "fresh").attachments.is_empty(),
        "the failed mount detached it again"
    );
    assert_eq!(read(&dir, "keep"), "precious", "the holder is untouched");
    std::fs::remove_file(&stale).unwrap();

    let dir = b.mount("fresh", MOUNT_ID).unwrap();
    assert!(dir.is_dir(), "with the link gone, the mount works");
    b.unmount("fresh", MOUNT_ID).unwrap();
    b.unmount("holder", MOUNT_ID).unwrap();
}

#[test]
fn a_volume_from_another_zone_is_relocated_and_keeps_its_data() {
    let Some(cloud) = SimCloud::start("ebs relocation", |_| {}) else {
        return;
    };
    let a = cloud.ebs_host("i-a", "move", &[]);
    let name = "moving";
    a.create(name, &[("size", "1"), ("type", "gp3")]).unwrap();
    let old = only_volume(&cloud, name);
    let dir = a.mount(name, MOUNT_ID).unwrap();
    write_synced(&dir, "state", "before the move");
    a.unmount(name, MOUNT_ID).unwrap();

    let c = cloud.ebs_host("i-c", "move", &[]);
    let started = Instant::now();
    let mut answers = Vec::new();
    let dir = loop {
        match c.mount(name, MOUNT_ID) {
            Ok(dir) => break dir,
            Err(err) => {
                assert!(err.contains("relocating"), "retry error expected: {err}");
                assert!(
                    cloud.volumes().iter().any(|v| v.id == old.id),
                    "the old volume stays until the new one is ready"
                );
                answers.push(err);
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "relocation did not finish: {answers:#?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        !answers.is_empty(),
        "the first Mount answers with the retry error"
    );
    eprintln!("relocation answers: {answers:#?}");
    assert_eq!(read(&dir, "state"), "before the move");
    let new = only_volume(&cloud, name);
    assert_eq!(new.zone, "us-east-1b");
    assert_ne!(new.id, old.id);
    assert!(
        cloud.volumes().iter().all(|v| v.id != old.id),
        "old volume deleted"
    );
    assert!(cloud.snapshots().is_empty(), "relocation snapshot deleted");
    c.unmount(name, MOUNT_ID).unwrap();
    c.remove(name).unwrap();
}

#[test]
fn faults_end_in_success_or_a_clean_error_never_a_duplicate_or_reformat() {
    let Some(cloud) = SimCloud::start("ebs faults", |_| {}) else {
        return;
    };
    let a = cloud.ebs_host("i-a", "faults", &[("attach_timeout", "3s")]);
    let name = "bumpy";

    // Throttling and 5xx bursts: absorbed by retries.
    cloud.faults(serde_json::json!({
        "throttle_share": 0.3,
        "fail_next": [
            {"action": "CreateVolume", "count": 2, "code": "InternalError", "status": 500},
            {"action": "AttachVolume", "count": 2, "code": "ServiceUnavailable", "status": 503},
        ],
    }));
    a.create(name, &[("size", "1")]).unwrap();
    let dir = a.mount(name, MOUNT_ID).unwrap();
    write_synced(&dir, "data", "written under faults");
    a.unmount(name, MOUNT_ID).unwrap();
    cloud.clear_faults();
    let volume = only_volume(&cloud, name);
    let filesystem = blkid_probe(&cloud.backing_file(&volume.id));

    // Stuck in attaching: a clean error, detached again; the retry works.
    cloud.faults(serde_json::json!({ "stuck_attaching": 1 }));
    let err = a.mount(name, MOUNT_ID).unwrap_err();
    assert!(
        err.contains("attaching"),
        "stuck attachment reported: {err}"
    );
    assert!(!a.is_mounted(name));
    assert!(
        only_volume(&cloud, name).attachments.is_empty(),
        "detached after the stuck attach"
    );
    let dir = a.mount(name, MOUNT_ID).unwrap();
    assert_eq!(read(&dir, "data"), "written under faults");
    a.unmount(name, MOUNT_ID).unwrap();

    // A stale DescribeVolumes view (eventual consistency) after a create.
    cloud.faults(serde_json::json!({ "stale_describe_ms": 1500 }));
    a.create("late", &[("size", "1")]).unwrap();
    let dir = a.mount("late", MOUNT_ID).unwrap();
    write_synced(&dir, "x", "y");
    a.unmount("late", MOUNT_ID).unwrap();
    cloud.clear_faults();
    only_volume(&cloud, "late");

    assert_eq!(
        blkid_probe(&cloud.backing_file(&volume.id)),
        filesystem,
        "never reformatted"
    );
    only_volume(&cloud, name);
}

#[test]
fn resize_grows_the_volume_and_its_filesystem() {
    let Some(cloud) = SimCloud::start("ebs resize", |_| {}) else {
        return;
    };
    let a = cloud.ebs_host("i-a", "resize", &[]);
    a.create("grows", &[("size", "1"), ("fstype", "xfs")])
        .unwrap();
    let dir = a.mount("grows", MOUNT_ID).unwrap();
    let before = fs_size(&dir);
    let out = resize_cli(&a, "grows", "3");
    assert!(out.contains("grown now"), "xfs grows online: {out}");
    assert_eq!(only_volume(&cloud, "grows").size_gib, 3);
    let after = fs_size(&dir);
    assert!(after > before * 2, "filesystem {before} → {after} bytes");
    a.unmount("grows", MOUNT_ID).unwrap();

    let out = resize_cli(&a, "grows", "2");
    assert!(
        out.contains("invalid argument") || out.contains("smaller"),
        "no shrinking: {out}"
    );
}

/// `ballast volume resize NAME SIZE` with the host's config; its output.
fn resize_cli(host: &BallastServe, name: &str, size: &str) -> String {
    let out = std::process::Command::new(ballast_tests::ballast_bin())
        .arg("--config")
        .arg(host.config().config_path())
        .args(["volume", "resize", name, size])
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Total bytes of the filesystem holding `dir`.
fn fs_size(dir: &std::path::Path) -> u64 {
    let out = std::process::Command::new("df")
        .args(["-B1", "--output=size"])
        .arg(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("df {}: {text}", dir.display()))
}
