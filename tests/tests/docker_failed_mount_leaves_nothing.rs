//! Scenario 4 with a real dockerd: a volume whose image holds a partition
//! table (a signature the host must never format over) cannot be mounted.
//! `docker run` fails with the host's reason; nothing stays mounted or
//! loop-attached; the image is untouched; the volume can still be removed;
//! other volumes keep working.

use ballast_tests::docker::E2e;
use ballast_tests::serve::{blkid_probe, write_dos_partition_table};

#[test]
fn failed_mount_is_a_clear_error_and_leaves_nothing() {
    let Some(e2e) = E2e::start("failed-mount") else {
        return;
    };
    let vol = e2e.volume("bad");
    e2e.create_volume(&vol, &["size=64MiB"]);
    let image = e2e.ballast.image_path(&vol);
    write_dos_partition_table(&image);
    let probe = blkid_probe(&image);
    assert!(
        probe.contains(&("PTTYPE".into(), "dos".into())),
        "blkid -p should see the partition table: {probe:?}"
    );

    let mount = format!("{vol}:/data");
    for attempt in ["first", "second"] {
        let name = e2e.container(&format!("try-{attempt}"));
        let failed = e2e.fails(&["run", "--name", &name, "-v", &mount, e2e.image, "true"]);
        let reason = failed.stderr.to_lowercase();
        assert!(
            reason.contains("volumedriver.mount")
                && ["partition", "signature", "dos"]
                    .iter()
                    .any(|w| reason.contains(w)),
            "{attempt} attempt: docker run should fail with the host's reason (a partition table / signature):\n{}",
            failed.describe()
        );
        eprintln!(
            "{attempt} attempt failed as expected: {}",
            failed.stderr.trim()
        );
        assert!(
            !e2e.ballast.is_mounted(&vol),
            "{attempt} attempt: {} is mounted after a failed mount",
            e2e.ballast.mountpoint(&vol).display()
        );
        assert_eq!(
            e2e.ballast.loop_devices(&vol),
            Vec::<String>::new(),
            "{attempt} attempt: a loop device is still attached to {}",
            image.display()
        );
        e2e.ok(&["rm", "-f", &name]);
    }

    // Never formatted over: the partition table is still there.
    let probe = blkid_probe(&image);
    assert!(
        probe.contains(&("PTTYPE".into(), "dos".into())) && !probe.iter().any(|(k, _)| k == "TYPE"),
        "the image was changed by the failed mounts: blkid -p says {probe:?}"
    );
    let calls = e2e.ballast.calls();
    let mounts: Vec<_> = calls
        .iter()
        .filter(|c| c.volume == vol && c.endpoint == "Mount")
        .collect();
    assert!(
        mounts.len() >= 2 && mounts.iter().all(|c| !c.ok),
        "expected two failed Mount requests and no successful one:\n{}",
        e2e.ballast.calls_text(&vol)
    );

    // The host does not think the volume is in use: plain rm works.
    assert_eq!(e2e.ok(&["volume", "rm", &vol]), vol);
    assert!(!image.exists(), "volume rm left {}", image.display());

    // And it keeps serving other volumes.
    let good = e2e.volume("good");
    e2e.create_volume(&good, &["size=64MiB"]);
    assert_eq!(
        e2e.run_sh(&good, "echo fine > /data/f && cat /data/f"),
        "fine"
    );
    e2e.assert_released(&good, "after using a healthy volume");
    e2e.ok(&["volume", "rm", &good]);
}
