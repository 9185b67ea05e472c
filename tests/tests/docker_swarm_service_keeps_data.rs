//! Scenario 7 with a real dockerd in swarm mode: a service mounts a volume
//! of the driver (`--mount type=volume,...,volume-driver=<driver>`), writes
//! data; the service is removed (the volume is unmounted and released) and
//! created again: the data is still there. Swarm's Create calls for the
//! existing volume are harmless.

use std::time::Duration;

use ballast_tests::docker::{E2e, wait_until};

/// Removes `service` and waits until its containers are gone.
fn remove_service(e2e: &E2e, service: &str) {
    e2e.ok(&["service", "rm", service]);
    let label = format!("label=com.docker.swarm.service.name={service}");
    let gone = wait_until(Duration::from_secs(120), || {
        e2e.docker
            .run(&["ps", "-aq", "--filter", &label])
            .stdout
            .trim()
            .is_empty()
    });
    if !gone {
        e2e.docker.fail(&format!(
            "containers of service {service} still exist 120s after service rm"
        ));
    }
}

/// Waits until `script` run in `container` prints `expected`.
fn wait_for_output(e2e: &E2e, container: &str, script: &str, expected: &str) {
    let mut last = String::new();
    let seen = wait_until(Duration::from_secs(60), || {
        let out = e2e.docker.run(&["exec", container, "sh", "-c", script]);
        last = format!("{}{}", out.stdout, out.stderr);
        out.success() && out.stdout.trim() == expected
    });
    if !seen {
        e2e.docker.fail(&format!(
            "`{script}` in {container} never printed {expected:?} within 60s; last: {last}"
        ));
    }
}

/// Swarm schedules a task that mounts a volume of driver D only on nodes
/// that report D among their volume plugins, and dockerd reports a legacy
/// (socket-file) plugin only once something made it look the plugin up;
/// `docker volume ls` scans the plugin directory. Then the node's next
/// description update carries it.
fn announce_driver(e2e: &E2e) {
    e2e.ok(&["volume", "ls"]);
    let plugins = e2e.ok(&["info", "--format", "{{json .Plugins.Volume}}"]);
    assert!(
        plugins.contains(&format!("\"{}\"", e2e.driver())),
        "dockerd does not list the driver among its volume plugins after docker volume ls: {plugins}"
    );
}

#[test]
fn service_removed_and_recreated_finds_its_data() {
    let Some(e2e) = E2e::start("swarm") else {
        return;
    };
    e2e.docker.swarm_init();
    announce_driver(&e2e);
    let vol = e2e.volume("svcdata");
    let service = e2e.service("svc");
    let mount = format!(
        "type=volume,source={vol},target=/data,volume-driver={},volume-opt=size=64MiB",
        e2e.driver()
    );
    let create = |script: &str| {
        e2e.ok(&[
            "service",
            "create",
            "--detach",
            "--no-resolve-image",
            "--name",
            &service,
            "--restart-condition",
            "none",
            "--stop-grace-period",
            "1s",
            "--mount",
            &mount,
            e2e.image,
            "sh",
            "-c",
            script,
        ]);
    };

    create("echo from-first-service > /data/f && sync && exec sleep 3600");
    let task = e2e.docker.running_task(&service, "");
    wait_for_output(&e2e, &task, "cat /data/f", "from-first-service");
    e2e.assert_in_use(&vol, "with the first service's task running");
    let listed = e2e.ok(&["volume", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    let line = format!("{vol} {}", e2e.driver());
    assert!(
        listed.lines().any(|l| l == line),
        "the service's volume is not listed as `{line}`:\n{listed}"
    );
    let image = e2e.ballast.image_path(&vol);
    assert_eq!(
        std::fs::metadata(&image).map(|m| m.len()).ok(),
        Some(64 * 1024 * 1024),
        "the service's volume-opt size=64MiB should make a 64 MiB image at {}",
        image.display()
    );

    remove_service(&e2e, &service);
    e2e.assert_released(&vol, "after the first service was removed");

    create("cat /data/f > /data/seen && echo second >> /data/seen && sync && exec sleep 3600");
    let task = e2e.docker.running_task(&service, "");
    wait_for_output(&e2e, &task, "cat /data/seen", "from-first-service\nsecond");
    e2e.assert_in_use(&vol, "with the second service's task running");
    remove_service(&e2e, &service);
    e2e.assert_released(&vol, "after the second service was removed");

    let creates: Vec<_> = e2e
        .ballast
        .calls()
        .into_iter()
        .filter(|c| c.endpoint == "Create" && c.volume == vol)
        .collect();
    assert!(
        !creates.is_empty() && creates.iter().all(|c| c.ok),
        "every Create swarm sent for {vol} must succeed:\n{}",
        e2e.ballast.calls_text(&vol)
    );
    e2e.assert_mounts_balanced(&vol, 2);
    eprintln!("requests for {vol}:\n{}", e2e.ballast.calls_text(&vol));

    assert_eq!(
        e2e.run_sh(&vol, "cat /data/seen"),
        "from-first-service\nsecond"
    );
    e2e.assert_released(&vol, "after the final check");
    assert_eq!(e2e.ok(&["volume", "rm", &vol]), vol);
}
