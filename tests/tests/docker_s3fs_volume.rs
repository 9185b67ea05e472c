//! An S3 volume with a real dockerd: a container writes files to an s3fs
//! volume (one bucket, served by the host's FUSE filesystem against
//! s3s-fs), a second container on the same host — running as another user
//! — reads them while the first still runs, and the objects are in the
//! bucket. When both have left, the host no longer has the FUSE mount, and
//! the data is still in the bucket for the next mount.

use ballast_tests::docker::{Docker, wait_until};
use ballast_tests::s3::S3Server;
use ballast_tests::serve::{BallastServe, DOCKER_PLUGIN_DIR, DRIVER_PREFIX};

#[test]
fn containers_share_an_s3_volume_and_the_objects_are_in_the_bucket() {
    let Some(server) = S3Server::fast("docker s3fs volume") else {
        return;
    };
    let mut config = server.s3fs_config("docker", &[]);
    config.socket_dir = DOCKER_PLUGIN_DIR.into();
    config.driver = format!("{DRIVER_PREFIX}s3fs-{}", std::process::id());
    let host = BallastServe::start(config);
    let Some(docker) = Docker::ensure() else {
        return;
    };
    docker.show_log_on_failure("ballast", host.log_path());
    let image = docker.busybox_image();
    // Bucket mode: the volume name is the bucket name.
    let volume = format!("e2e-{}-s3data", std::process::id());
    docker.track_volume(&volume);
    let writer = format!("e2e-{}-s3-writer", std::process::id());
    docker.track_container(&writer);

    let created = docker.ok(&[
        "volume",
        "create",
        "-d",
        host.driver(),
        "--opt",
        "allow_other=true",
        &volume,
    ]);
    assert_eq!(created, volume);

    // The writer: a small file, a 3 MiB file and a directory, then it stays.
    let mount = format!("{volume}:/data");
    docker.ok(&[
        "run",
        "-d",
        "--name",
        &writer,
        "-v",
        &mount,
        image,
        "sh",
        "-c",
        "echo hello-from-writer > /data/greeting && \
         dd if=/dev/urandom of=/data/blob bs=1M count=3 2>/dev/null && \
         mkdir /data/logs && echo line1 > /data/logs/app.log && \
         md5sum /data/blob > /data/blob.md5 && sync && touch /data/done && exec sleep 3600",
    ]);
    let done = wait_until(std::time::Duration::from_secs(60), || {
        docker
            .run(&["exec", &writer, "test", "-e", "/data/done"])
            .success()
    });
    assert!(done, "the writer did not finish\n{}", host.log());
    assert!(
        host.is_mounted(&volume),
        "the host serves the volume while the writer runs"
    );

    // A second container, as user 1000, reads while the writer still runs.
    let read = docker.ok(&[
        "run",
        "--rm",
        "--user",
        "1000:1000",
        "-v",
        &mount,
        image,
        "sh",
        "-c",
        "cat /data/greeting /data/logs/app.log && md5sum /data/blob | cut -d' ' -f1 && \
         cut -d' ' -f1 /data/blob.md5 && ls /data | sort | tr '\\n' ' '",
    ]);
    let lines: Vec<&str> = read.lines().collect();
    assert_eq!(lines[..2], ["hello-from-writer", "line1"], "{read}");
    assert_eq!(
        lines[2], lines[3],
        "the reader's md5 of the blob differs from the writer's: {read}"
    );
    assert_eq!(
        lines[4].trim(),
        "blob blob.md5 done greeting logs",
        "{read}"
    );

    // The objects are in the bucket, as written.
    let stored = server.objects(&volume, "");
    let keys: Vec<&str> = stored.iter().map(|(k, _)| k.as_str()).collect();
    for key in ["greeting", "blob", "blob.md5", "logs/app.log", "done"] {
        assert!(
            keys.contains(&key),
            "{key} missing from the bucket: {stored:?}"
        );
    }
    assert!(
        stored.contains(&("blob".to_string(), 3 << 20)),
        "{stored:?}"
    );
    assert_eq!(server.object(&volume, "greeting"), b"hello-from-writer\n");

    // The last container leaves: the FUSE mount goes away.
    docker.ok(&["stop", "-t", "1", &writer]);
    docker.ok(&["rm", &writer]);
    let released = wait_until(std::time::Duration::from_secs(30), || {
        !host.is_mounted(&volume)
    });
    assert!(
        released,
        "the FUSE mount outlived its last container\n{}",
        host.log()
    );

    // A fresh mount reads the data back from the bucket.
    let again = docker.ok(&["run", "--rm", "-v", &mount, image, "cat", "/data/greeting"]);
    assert_eq!(again, "hello-from-writer");

    // Docker's rm never forces: a volume with data is refused, nothing deleted.
    let refused = docker.fails(&["volume", "rm", &volume]);
    assert!(
        refused.stderr.contains("object"),
        "docker volume rm of a non-empty S3 volume: {}",
        refused.describe()
    );
    assert!(!server.keys(&volume, "").is_empty());
    // Empty it (as an operator would) so that the tracked volume is removed at the end.
    server.delete(&volume, "");
    docker.ok(&["volume", "rm", &volume]);
}
