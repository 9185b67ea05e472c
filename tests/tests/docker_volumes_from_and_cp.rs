//! Scenario 3 with a real dockerd: `--volumes-from` gives a second container
//! the same volume (two mounts, two unmounts), and `docker cp` into and out
//! of a running container works without disturbing the mount the
//! containers are using.

use std::fs;

use ballast_tests::docker::E2e;

#[test]
fn volumes_from_shares_the_mount_and_cp_works_while_running() {
    let Some(e2e) = E2e::start("volumes-from") else {
        return;
    };
    let vol = e2e.volume("vf");
    e2e.create_volume(&vol, &["size=64MiB"]);
    let owner = e2e.container("owner");
    let borrower = e2e.container("borrower");
    e2e.run_detached(&owner, &vol, "true");
    e2e.ok(&[
        "run",
        "-d",
        "--name",
        &borrower,
        "--volumes-from",
        &owner,
        e2e.image,
        "sleep",
        "3600",
    ]);
    e2e.assert_in_use(&vol, "with both containers running");
    let device = e2e.ballast.loop_devices(&vol);

    e2e.exec(&owner, "echo from-owner > /data/a && sync");
    assert_eq!(e2e.exec(&borrower, "cat /data/a"), "from-owner");
    e2e.exec(&borrower, "echo from-borrower > /data/b && sync");
    assert_eq!(e2e.exec(&owner, "cat /data/b"), "from-borrower");
    let mounts_before_cp = e2e.mount_ids(&vol);
    assert_eq!(
        mounts_before_cp.len(),
        2,
        "one mount ID per container; got {mounts_before_cp:?}\n{}",
        e2e.ballast.calls_text(&vol)
    );

    // docker cp into the running borrower, and back out of the owner.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("copied.txt");
    fs::write(&src, "copied-in\n").unwrap();
    let dest = format!("{borrower}:/data/copied.txt");
    e2e.ok(&["cp", src.to_str().unwrap(), &dest]);
    assert_eq!(e2e.exec(&owner, "cat /data/copied.txt"), "copied-in");
    let out = dir.path().join("out.txt");
    let from = format!("{owner}:/data/b");
    e2e.ok(&["cp", &from, out.to_str().unwrap()]);
    assert_eq!(fs::read_to_string(&out).unwrap(), "from-borrower\n");

    // The host still has the very mount the containers use: a write in a
    // container shows up under <mount_root>/<name>/data.
    e2e.assert_in_use(&vol, "after docker cp");
    assert_eq!(e2e.ballast.loop_devices(&vol), device, "after docker cp");
    e2e.exec(&owner, "echo after-cp > /data/after && sync");
    let host_file = e2e.ballast.mountpoint(&vol).join("data/after");
    assert_eq!(
        fs::read_to_string(&host_file).ok().as_deref(),
        Some("after-cp\n"),
        "the host mount at {} is not the one the containers write to after docker cp; requests:\n{}",
        host_file.display(),
        e2e.ballast.calls_text(&vol)
    );

    // The borrower leaves; the owner keeps the volume mounted.
    e2e.ok(&["stop", "-t", "1", &borrower]);
    e2e.ok(&["rm", &borrower]);
    e2e.assert_in_use(&vol, "after the --volumes-from container was removed");
    assert_eq!(e2e.exec(&owner, "cat /data/copied.txt"), "copied-in");

    e2e.last_user_leaves(&vol, &owner, 2);
    e2e.data_intact_then_remove(
        &vol,
        "cat /data/a /data/b /data/copied.txt /data/after",
        "from-owner\nfrom-borrower\ncopied-in\nafter-cp",
    );
}
