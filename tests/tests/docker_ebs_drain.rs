//! The seed's drain scenario with a real dockerd and the EBS backend against
//! cloudsim: a container on instance A writes a database-like file; A is
//! drained (its container gone, its host stopped); the container started on
//! instance B gets the same data. One dockerd plays both machines' Docker:
//! A's and B's hosts serve the same driver name in turn, as the same
//! managed plugin would on two nodes.

use ballast_tests::cloud::SimCloud;
use ballast_tests::docker::Docker;
use ballast_tests::serve::{BallastServe, DOCKER_PLUGIN_DIR, DRIVER_PREFIX};

/// A host for `instance` serving `driver` in dockerd's plugin directory.
fn node(cloud: &SimCloud, instance: &str, driver: &str) -> BallastServe {
    let mut config = cloud.ebs_config(instance, "drain", &[]);
    config.socket_dir = DOCKER_PLUGIN_DIR.into();
    config.driver = driver.to_string();
    BallastServe::start(config)
}

#[test]
fn drained_node_hands_its_volume_to_the_next() {
    let Some(cloud) = SimCloud::start("docker ebs drain", |_| {}) else {
        return;
    };
    let driver = format!("{DRIVER_PREFIX}ebs-drain-{}", std::process::id());
    let mut a = node(&cloud, "i-a", &driver);
    let Some(docker) = Docker::ensure() else {
        return;
    };
    docker.show_log_on_failure("ballast A", a.log_path());
    let image = docker.busybox_image();
    let volume = format!("e2e-{}-pgdata", std::process::id());
    docker.track_volume(&volume);
    let db = format!("e2e-{}-db-a", std::process::id());
    docker.track_container(&db);

    let created = docker.ok(&[
        "volume", "create", "-d", &driver, "--opt", "size=1", "--opt", "type=gp3", &volume,
    ]);
    assert_eq!(created, volume);
    let mount = format!("{volume}:/data");
    docker.ok(&[
        "run",
        "-d",
        "--name",
        &db,
        "-v",
        &mount,
        image,
        "sh",
        "-c",
        "printf 'page1\\npage2\\n' > /data/db.sqlite && sync && exec sleep 3600",
    ]);
    let ec2 = cloud.volumes_named(&volume);
    assert_eq!(ec2.len(), 1, "{ec2:#?}");
    let attached_to: Vec<_> = ec2[0]
        .attachments
        .iter()
        .map(|a| a.instance_id.clone())
        .collect();
    assert_eq!(attached_to, ["i-a"]);

    // Drain A: its task stops (Unmount → detach), then its host stops.
    docker.ok(&["stop", "-t", "1", &db]);
    docker.ok(&["rm", &db]);
    assert!(
        cloud.volumes_named(&volume)[0].attachments.is_empty(),
        "A detached the volume when its last container left"
    );
    a.stop();

    // The task starts on B.
    let b = node(&cloud, "i-b", &driver);
    docker.show_log_on_failure("ballast B", b.log_path());
    let read = docker.ok(&[
        "run",
        "--rm",
        "-v",
        &mount,
        image,
        "sh",
        "-c",
        "cat /data/db.sqlite",
    ]);
    assert_eq!(read, "page1\npage2");
    let ec2 = cloud.volumes_named(&volume);
    assert_eq!(ec2.len(), 1, "still one volume: {ec2:#?}");
    assert!(
        ec2[0].attachments.is_empty(),
        "B detached after its container"
    );

    docker.ok(&["volume", "rm", &volume]);
    assert!(cloud.volumes_named(&volume).is_empty(), "removed in EC2");
    // Docker's cleanup runs while B still answers.
    drop(docker);
    drop(b);
    drop(a);
}
