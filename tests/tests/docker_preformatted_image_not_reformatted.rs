//! Scenario 8 with a real dockerd: an image file formatted (ext4) and filled
//! outside Ballast is put where the local backend keeps images; `docker
//! volume create` registers it and a container finds the data: the host
//! mounted it without formatting it (same filesystem UUID, same files).

use std::fs::{self, File};

use ballast_tests::docker::{E2e, host_ok, wait_until};
use ballast_tests::serve::blkid_probe;

fn uuid(path: &std::path::Path) -> String {
    blkid_probe(path)
        .into_iter()
        .find(|(k, _)| k == "UUID")
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("blkid -p finds no UUID on {}", path.display()))
}

#[test]
fn preformatted_image_keeps_its_data() {
    let Some(e2e) = E2e::start("preformatted") else {
        return;
    };
    let vol = e2e.volume("pre");
    let image = e2e.ballast.image_path(&vol);
    File::create(&image)
        .and_then(|f| f.set_len(64 * 1024 * 1024))
        .unwrap_or_else(|e| panic!("creating {}: {e}", image.display()));
    host_ok("mkfs.ext4", &["-F", "-q", "-m0", image.to_str().unwrap()]);
    let before = uuid(&image);

    // Fill it through a loop mount of our own, then let go of it.
    let mnt = tempfile::tempdir().unwrap();
    let mnt_path = mnt.path().to_str().unwrap();
    host_ok("mount", &["-o", "loop", image.to_str().unwrap(), mnt_path]);
    let written = fs::create_dir(mnt.path().join("data"))
        .and_then(|()| fs::write(mnt.path().join("data/hello"), "pre-existing\n"));
    host_ok("umount", &[mnt_path]);
    written.expect("writing into the pre-formatted image");
    assert!(
        wait_until(std::time::Duration::from_secs(10), || e2e
            .ballast
            .loop_devices(&vol)
            .is_empty()),
        "our own loop device of {} did not go away",
        image.display()
    );

    e2e.create_volume(&vol, &[]);
    let info = e2e.inspect_volume(&vol);
    assert_eq!(info["Status"]["size"].as_str(), Some("64 MiB"), "{info:#}");
    assert_eq!(info["Status"]["fstype"].as_str(), Some("ext4"), "{info:#}");

    assert_eq!(
        e2e.run_sh(
            &vol,
            "cat /data/hello && echo added-by-docker > /data/new && sync"
        ),
        "pre-existing"
    );
    e2e.assert_released(&vol, "after the container exited");
    assert_eq!(
        uuid(&image),
        before,
        "the filesystem was replaced: the host formatted a device that had one"
    );
    assert_eq!(
        e2e.run_sh(&vol, "cat /data/hello /data/new"),
        "pre-existing\nadded-by-docker"
    );
    e2e.assert_released(&vol, "after the second container exited");
    e2e.assert_mounts_balanced(&vol, 2);
    assert_eq!(e2e.ok(&["volume", "rm", &vol]), vol);
    assert!(!image.exists(), "volume rm left {}", image.display());
}
