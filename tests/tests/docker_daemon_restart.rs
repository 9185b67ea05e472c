//! Scenario 6 with a real dockerd: dockerd restarts (stopped by PID, started
//! again with the same arguments). The volume is still listed and usable;
//! a `--restart always` container that held it comes back with its data;
//! at the end the volume is unmounted and released. Needs a dockerd this
//! harness started: a system daemon is not restarted (the test says so).

use std::time::Duration;

use ballast_tests::docker::{E2e, wait_until};

#[test]
fn volume_listed_and_usable_after_dockerd_restart() {
    let Some(mut e2e) = E2e::start("daemon-restart") else {
        return;
    };
    if !e2e.docker.owns_daemon() {
        eprintln!(
            "SKIPPED: dockerd restart: the running dockerd was not started by this test; a system daemon is not restarted"
        );
        return;
    }
    let vol = e2e.volume("persist");
    e2e.create_volume(&vol, &["size=64MiB"]);
    e2e.run_sh(&vol, "echo before-restart > /data/f && sync");
    e2e.assert_released(&vol, "after the writer exited");

    let keeper = e2e.container("keeper");
    let mount = format!("{vol}:/data");
    e2e.ok(&[
        "run",
        "-d",
        "--name",
        &keeper,
        "--restart",
        "always",
        "--stop-timeout",
        "1",
        "-v",
        &mount,
        e2e.image,
        "sleep",
        "3600",
    ]);
    e2e.assert_in_use(&vol, "with the keeper running");
    let mounts_before = e2e.mount_ids(&vol);

    e2e.docker
        .restart_daemon()
        .unwrap_or_else(|e| panic!("restarting dockerd: {e}"));

    let listed = e2e.ok(&["volume", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    let line = format!("{vol} {}", e2e.driver());
    assert!(
        listed.lines().any(|l| l == line),
        "after the dockerd restart `docker volume ls` lacks `{line}`:\n{listed}"
    );
    let info = e2e.inspect_volume(&vol);
    assert_eq!(info["Driver"], e2e.driver(), "{info:#}");

    // dockerd starts the keeper again, mounting the volume.
    let running = wait_until(Duration::from_secs(60), || {
        e2e.docker
            .run(&["inspect", "--format", "{{.State.Running}}", &keeper])
            .stdout
            .trim()
            == "true"
    });
    if !running {
        e2e.docker
            .fail("the --restart always container is not running 60s after the dockerd restart");
    }
    e2e.assert_in_use(&vol, "with the keeper restarted");
    assert_eq!(e2e.exec(&keeper, "cat /data/f"), "before-restart");
    e2e.exec(&keeper, "echo after-restart > /data/g && sync");

    // A new container uses it as well.
    assert_eq!(
        e2e.run_sh(&vol, "cat /data/f /data/g"),
        "before-restart\nafter-restart"
    );
    e2e.assert_in_use(&vol, "after a second container came and went");

    e2e.ok(&["rm", "-f", &keeper]);
    e2e.assert_released(&vol, "after the keeper was removed");
    // What dockerd sent around its restart (IDs may repeat): for the record.
    eprintln!(
        "mount IDs before the restart: {mounts_before:?}; requests over the test:\n{}",
        e2e.ballast.calls_text(&vol)
    );
    assert_eq!(e2e.ok(&["volume", "rm", &vol]), vol);
}
