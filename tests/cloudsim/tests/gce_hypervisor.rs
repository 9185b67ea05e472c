//! The hypervisor behind Compute Engine: an attached disk is a loop device
//! behind `google-<device>` and `scsi-0Google_PersistentDisk_<device>` in
//! the instance's device dir; a file system made through one instance is
//! read back through another after a force-attach (same zone), and through
//! a third instance in another zone after snapshot → restore. Needs root
//! and loop devices (skipped with a printed reason otherwise).

mod gce_support;
mod support;

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use gce_support::{Gce, ZONE_A, ZONE_B, kill, with_gce_a2};
use serde_json::json;

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A mount, unmounted when dropped (also when a test fails half-way).
struct Mounted(PathBuf);

impl Mounted {
    fn new(device: &Path, at: &Path) -> Mounted {
        run("mount", &[&device.to_string_lossy(), &at.to_string_lossy()]);
        Mounted(at.to_owned())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Both by-id links of `device` exist in `instance`'s device dir and lead to
/// the same loop device; returns the google- link.
fn links(running: &cloudsim::Running, instance: &str, device: &str) -> PathBuf {
    let dir = running.instance(instance).device_dir;
    let google = dir.join(format!("google-{device}"));
    let scsi = dir.join(format!("scsi-0Google_PersistentDisk_{device}"));
    let target =
        std::fs::read_link(&google).unwrap_or_else(|e| panic!("{}: {e}", google.display()));
    assert_eq!(std::fs::read_link(&scsi).unwrap(), target);
    assert!(
        target.to_string_lossy().starts_with("/dev/loop"),
        "{}",
        target.display()
    );
    assert!(
        std::fs::metadata(&google)
            .unwrap()
            .file_type()
            .is_block_device()
    );
    google
}

fn no_links(running: &cloudsim::Running, instance: &str, device: &str) {
    let dir = running.instance(instance).device_dir;
    assert!(!dir.join(format!("google-{device}")).exists());
    assert!(
        std::fs::symlink_metadata(dir.join(format!("scsi-0Google_PersistentDisk_{device}")))
            .is_err()
    );
}

/// Loop devices backed by this simulator's volumes.
fn loops(data_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("volumes")) else {
        return vec![];
    };
    entries
        .flatten()
        .flat_map(|e| {
            run(
                "losetup",
                &["-n", "-O", "NAME", "-j", &e.path().to_string_lossy()],
            )
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn disks_are_loop_devices_and_their_data_moves_with_them() {
    if !support::can_plug("disks_are_loop_devices_and_their_data_moves_with_them") {
        return;
    }
    let (dir, running) = support::sim(|c| {
        c.hypervisor = true;
        with_gce_a2(c);
    })
    .await;
    let mnt = tempfile::tempdir().unwrap();
    let gce = Gce::new(&running).await;
    gce.insert_disk(ZONE_A, json!({"name": "data", "sizeGb": 10}))
        .await;
    let attach = |device: &str, zone: &str, disk: &str| json!({"source": Gce::disk_source(zone, disk), "deviceName": device});

    // Attach to gce-a: links to a loop device; make a file system, write.
    gce.done(
        gce.attach(ZONE_A, "gce-a", attach("vol", ZONE_A, "data"), false)
            .await,
    )
    .await;
    let device = links(&running, "gce-a", "vol");
    run("mkfs.ext4", &["-q", "-F", &device.to_string_lossy()]);
    {
        let _mounted = Mounted::new(&device, mnt.path());
        std::fs::write(mnt.path().join("hello.txt"), "written on gce-a").unwrap();
        run("sync", &[]);
    }
    // Detach: links and loop device go.
    gce.done(gce.detach(ZONE_A, "gce-a", "vol").await).await;
    no_links(&running, "gce-a", "vol");
    assert!(loops(dir.path()).is_empty(), "{:?}", loops(dir.path()));

    // Attach again, kill gce-a (a dead node keeps its disk), force-attach to
    // gce-a2 in the same zone: the data is there.
    gce.done(
        gce.attach(ZONE_A, "gce-a", attach("vol", ZONE_A, "data"), false)
            .await,
    )
    .await;
    links(&running, "gce-a", "vol");
    kill(&running, "gce-a").await;
    links(&running, "gce-a", "vol");
    gce.done(
        gce.attach(ZONE_A, "gce-a2", attach("moved", ZONE_A, "data"), true)
            .await,
    )
    .await;
    no_links(&running, "gce-a", "vol");
    let moved = links(&running, "gce-a2", "moved");
    {
        let _mounted = Mounted::new(&moved, mnt.path());
        assert_eq!(
            std::fs::read_to_string(mnt.path().join("hello.txt")).unwrap(),
            "written on gce-a"
        );
    }
    assert_eq!(loops(dir.path()).len(), 1);

    // Disks are zonal: snapshot, restore into gce-b's zone, attach there.
    gce.snapshot("snap", ZONE_A, "data").await;
    gce.insert_disk(
        ZONE_B,
        json!({"name": "copy", "sourceSnapshot": "global/snapshots/snap"}),
    )
    .await;
    gce.done(
        gce.attach(ZONE_B, "gce-b", attach("copy", ZONE_B, "copy"), false)
            .await,
    )
    .await;
    let copy = links(&running, "gce-b", "copy");
    assert_ne!(
        std::fs::read_link(&copy).unwrap(),
        std::fs::read_link(&moved).unwrap()
    );
    {
        let _mounted = Mounted::new(&copy, mnt.path());
        assert_eq!(
            std::fs::read_to_string(mnt.path().join("hello.txt")).unwrap(),
            "written on gce-a"
        );
    }

    // Detach everything: nothing is left plugged.
    gce.done(gce.detach(ZONE_B, "gce-b", "copy").await).await;
    gce.done(gce.detach(ZONE_A, "gce-a2", "moved").await).await;
    no_links(&running, "gce-b", "copy");
    no_links(&running, "gce-a2", "moved");
    assert!(loops(dir.path()).is_empty(), "{:?}", loops(dir.path()));

    // A disk left attached is unplugged when the simulator stops.
    gce.done(
        gce.attach(ZONE_A, "gce-a2", attach("left", ZONE_A, "data"), false)
            .await,
    )
    .await;
    assert_eq!(loops(dir.path()).len(), 1);
    drop(running);
    assert!(loops(dir.path()).is_empty(), "{:?}", loops(dir.path()));
}

#[tokio::test]
async fn read_only_sharing_uses_one_loop_device_until_the_last_detach() {
    if !support::can_plug("read_only_sharing_uses_one_loop_device_until_the_last_detach") {
        return;
    }
    let (dir, running) = support::sim(|c| {
        c.hypervisor = true;
        with_gce_a2(c);
    })
    .await;
    let gce = Gce::new(&running).await;
    gce.insert_disk(ZONE_A, json!({"name": "shared", "sizeGb": 10}))
        .await;
    let read_only = json!({"source": Gce::disk_source(ZONE_A, "shared"), "mode": "READ_ONLY"});
    gce.done(gce.attach(ZONE_A, "gce-a", read_only.clone(), false).await)
        .await;
    gce.done(gce.attach(ZONE_A, "gce-a2", read_only, false).await)
        .await;
    let a = links(&running, "gce-a", "shared");
    let a2 = links(&running, "gce-a2", "shared");
    assert_eq!(
        std::fs::read_link(a).unwrap(),
        std::fs::read_link(a2).unwrap()
    );
    gce.done(gce.detach(ZONE_A, "gce-a", "shared").await).await;
    no_links(&running, "gce-a", "shared");
    links(&running, "gce-a2", "shared");
    assert_eq!(loops(dir.path()).len(), 1);
    gce.done(gce.detach(ZONE_A, "gce-a2", "shared").await).await;
    assert!(loops(dir.path()).is_empty());
}
