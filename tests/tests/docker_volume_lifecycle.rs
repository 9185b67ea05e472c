//! Scenario 1 with a real dockerd: `docker volume create -d <driver> --opt
//! size=64MiB`, a container writes, a second one reads it back, `docker
//! volume inspect` shows the host's Status (size, fstype, image, device while
//! mounted), `docker volume ls` lists it, `docker volume rm` deletes the
//! image. The same round trip on xfs.

use std::fs;

use ballast_tests::docker::E2e;

const MIB: u64 = 1024 * 1024;

fn status<'a>(info: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    info["Status"][key].as_str()
}

#[test]
fn create_write_read_inspect_list_remove() {
    let Some(e2e) = E2e::start("lifecycle") else {
        return;
    };
    let v1 = e2e.volume("v1");
    e2e.create_volume(&v1, &["size=64MiB"]);
    let image = e2e.ballast.image_path(&v1);
    let len = fs::metadata(&image)
        .unwrap_or_else(|e| e2e.docker.fail(&format!("image {}: {e}", image.display())))
        .len();
    assert_eq!(len, 64 * MIB, "image size of {}", image.display());

    // Status from Get, before any mount.
    let info = e2e.inspect_volume(&v1);
    assert_eq!(info["Name"], v1.as_str(), "{info:#}");
    assert_eq!(info["Driver"], e2e.driver(), "{info:#}");
    assert_eq!(status(&info, "size"), Some("64 MiB"), "{info:#}");
    assert_eq!(status(&info, "fstype"), Some("ext4"), "{info:#}");
    assert_eq!(
        status(&info, "image"),
        Some(image.to_str().unwrap()),
        "{info:#}"
    );
    assert!(!e2e.ballast.is_mounted(&v1), "mounted before any container");

    // One container writes (text and 8 MiB of random bytes with a checksum)...
    e2e.run_sh(
        &v1,
        "echo hello-from-writer > /data/msg \
         && dd if=/dev/urandom of=/data/blob bs=1M count=8 2>/dev/null \
         && md5sum /data/blob > /data/blob.md5 && sync",
    );
    e2e.assert_released(&v1, "after the writer container exited");

    // ...a long-running one sees it, and the host shows the mount in Status.
    let reader = e2e.container("reader");
    e2e.run_detached(&reader, &v1, "true");
    e2e.assert_in_use(&v1, "while the reader runs");
    assert_eq!(e2e.exec(&reader, "cat /data/msg"), "hello-from-writer");
    let loops = e2e.ballast.loop_devices(&v1);
    let info = e2e.inspect_volume(&v1);
    assert_eq!(
        status(&info, "device"),
        Some(loops[0].as_str()),
        "Status device vs losetup -j; {info:#}"
    );
    let data_dir = e2e.ballast.mountpoint(&v1).join("data");
    assert_eq!(
        info["Mountpoint"].as_str(),
        Some(data_dir.to_str().unwrap()),
        "Docker's Mountpoint while mounted; {info:#}"
    );
    let (fstype, source) = e2e.ballast.mount_of(&v1).unwrap();
    assert_eq!(
        (fstype.as_str(), source.as_str()),
        ("ext4", loops[0].as_str())
    );
    // The container's /data is the host's <mount_root>/<name>/data.
    assert_eq!(
        fs::read_to_string(data_dir.join("msg")).unwrap(),
        "hello-from-writer\n"
    );
    e2e.ok(&["stop", "-t", "1", &reader]);
    e2e.ok(&["rm", &reader]);
    e2e.assert_released(&v1, "after the reader was removed");

    // A fresh container checks every byte.
    let out = e2e.run_sh(&v1, "cat /data/msg && md5sum -c /data/blob.md5");
    assert_eq!(out, "hello-from-writer\n/data/blob: OK");
    e2e.assert_released(&v1, "after the checking container exited");

    let listed = e2e.ok(&["volume", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    let line = format!("{v1} {}", e2e.driver());
    assert!(
        listed.lines().any(|l| l == line),
        "docker volume ls lacks `{line}`:\n{listed}"
    );

    // Three containers, three mount IDs, each unmounted.
    e2e.assert_mounts_balanced(&v1, 3);

    assert_eq!(e2e.ok(&["volume", "rm", &v1]), v1);
    assert!(
        !image.exists(),
        "docker volume rm left the image {}",
        image.display()
    );
    e2e.fails(&["volume", "inspect", &v1]);
    let listed = e2e.ok(&["volume", "ls", "--format", "{{.Name}}"]);
    assert!(!listed.lines().any(|l| l == v1), "still listed:\n{listed}");
    assert!(
        e2e.ballast
            .calls()
            .iter()
            .any(|c| c.endpoint == "Remove" && c.volume == v1 && c.ok),
        "no successful Remove for {v1}:\n{}",
        e2e.ballast.calls_text(&v1)
    );

    // The same round trip on xfs (which needs at least 300 MiB).
    let vx = e2e.volume("vx");
    e2e.create_volume(&vx, &["size=320MiB", "fstype=xfs"]);
    let info = e2e.inspect_volume(&vx);
    assert_eq!(status(&info, "fstype"), Some("xfs"), "{info:#}");
    assert_eq!(status(&info, "size"), Some("320 MiB"), "{info:#}");
    let holder = e2e.container("xfs-holder");
    e2e.run_detached(&holder, &vx, "echo on-xfs > /data/f && sync");
    e2e.assert_in_use(&vx, "while the xfs holder runs");
    assert_eq!(e2e.ballast.mount_of(&vx).unwrap().0, "xfs");
    e2e.ok(&["rm", "-f", &holder]);
    e2e.assert_released(&vx, "after the xfs holder was removed");
    assert_eq!(e2e.run_sh(&vx, "cat /data/f"), "on-xfs");
    e2e.assert_released(&vx, "after reading the xfs volume");
    e2e.assert_mounts_balanced(&vx, 2);
    assert_eq!(e2e.ok(&["volume", "rm", &vx]), vx);
    assert!(!e2e.ballast.image_path(&vx).exists());
}
