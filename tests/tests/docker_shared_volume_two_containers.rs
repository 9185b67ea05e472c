//! Scenario 2 with a real dockerd: two containers use one volume at the same
//! time and see each other's writes; when the first is stopped and removed
//! the volume stays mounted for the second; only after the second stops is
//! it unmounted and its loop device detached.

use ballast_tests::docker::E2e;

#[test]
fn unmounted_only_after_both_containers_stop() {
    let Some(e2e) = E2e::start("shared") else {
        return;
    };
    let vol = e2e.volume("shared");
    e2e.create_volume(&vol, &["size=64MiB"]);

    let first = e2e.container("first");
    let second = e2e.container("second");
    e2e.run_detached(&first, &vol, "true");
    e2e.assert_in_use(&vol, "with the first container running");
    let device = e2e.ballast.loop_devices(&vol);
    e2e.run_detached(&second, &vol, "true");
    assert_eq!(
        e2e.ballast.loop_devices(&vol),
        device,
        "the second container's mount must reuse the first one's device"
    );

    // Each sees what the other writes, while both run.
    e2e.exec(&first, "echo from-first > /data/a && sync");
    assert_eq!(e2e.exec(&second, "cat /data/a"), "from-first");
    e2e.exec(&second, "echo from-second > /data/b && sync");
    assert_eq!(e2e.exec(&first, "cat /data/b"), "from-second");

    // The first goes away completely (rm waits for dockerd's cleanup, which
    // sends its Unmount); the host keeps the volume for the second.
    e2e.ok(&["stop", "-t", "1", &first]);
    e2e.ok(&["rm", &first]);
    e2e.assert_in_use(&vol, "after the first container was removed");
    assert_eq!(e2e.ballast.loop_devices(&vol), device);
    e2e.exec(&second, "echo still-writable > /data/c && sync");
    assert_eq!(
        e2e.exec(&second, "cat /data/a /data/b /data/c"),
        "from-first\nfrom-second\nstill-writable"
    );
    let ids = e2e.mount_ids(&vol);
    assert!(
        ids.len() == 2 && ids.iter().filter(|(_, m, u)| *m == 1 && *u == 1).count() == 1,
        "after the first container left: one of two mount IDs unmounted; got {ids:?}\n{}",
        e2e.ballast.calls_text(&vol)
    );

    e2e.last_user_leaves(&vol, &second, 2);
    // Nothing was lost in the shared use.
    e2e.data_intact_then_remove(
        &vol,
        "cat /data/a /data/b /data/c",
        "from-first\nfrom-second\nstill-writable",
    );
}
