//! Scenario 5 with a real dockerd: `kill -9` of `ballast serve` while a
//! container uses a volume. The container keeps its data; the restarted host
//! (same config, its stale socket replaced) knows the volume is mounted, so a
//! second container shares the same loop device instead of attaching the
//! image twice, and when the containers stop the volume is unmounted and
//! the loop device released.

use ballast_tests::docker::E2e;

#[test]
fn kill9_restart_then_stop_releases_the_volume() {
    let Some(mut e2e) = E2e::start("killed-host") else {
        return;
    };
    let vol = e2e.volume("survivor");
    e2e.create_volume(&vol, &["size=64MiB"]);
    let holder = e2e.container("holder");
    e2e.run_detached(&holder, &vol, "true");
    e2e.exec(&holder, "echo before-kill > /data/before && sync");
    e2e.assert_in_use(&vol, "before the kill");
    let device = e2e.ballast.loop_devices(&vol);

    e2e.ballast.kill9();
    let socket = e2e.ballast.config().socket();
    eprintln!(
        "after kill -9 the socket file {} {}",
        socket.display(),
        if socket.exists() {
            "stays (stale)"
        } else {
            "is gone"
        }
    );
    // The kernel mount outlives the host; the container does not notice.
    e2e.exec(&holder, "echo during-outage > /data/during && sync");
    assert_eq!(e2e.exec(&holder, "cat /data/before"), "before-kill");
    e2e.assert_in_use(&vol, "while the host is down");

    // Same config; BallastServe waits until the socket answers again.
    e2e.ballast.restart();
    e2e.assert_in_use(&vol, "after the restart");
    assert_eq!(e2e.ballast.loop_devices(&vol), device);
    let info = e2e.inspect_volume(&vol);
    assert_eq!(
        info["Status"]["device"].as_str(),
        Some(device[0].as_str()),
        "Status after the restart: {info:#}"
    );

    // A second container shares the mount the restarted host inherited.
    let second = e2e.container("second");
    e2e.run_detached(&second, &vol, "true");
    assert_eq!(
        e2e.ballast.loop_devices(&vol),
        device,
        "the image must not be attached a second time after the restart"
    );
    assert_eq!(
        e2e.exec(&second, "cat /data/before /data/during"),
        "before-kill\nduring-outage"
    );

    // The holder's Unmount (its Mount went to the killed host) keeps the
    // volume for the second container; the second's Unmount releases it.
    e2e.ok(&["stop", "-t", "1", &holder]);
    e2e.ok(&["rm", &holder]);
    e2e.assert_in_use(&vol, "with the second container still running");
    e2e.last_user_leaves(&vol, &second, 2);
    e2e.data_intact_then_remove(
        &vol,
        "cat /data/before /data/during",
        "before-kill\nduring-outage",
    );
}
