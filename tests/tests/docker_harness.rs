//! The Docker harness itself, without Ballast: a daemon answers (started
//! here when none runs), the busybox image is imported once and runs, and
//! failures come back with the command, exit status and stderr.

use ballast_tests::docker::{BUSYBOX_IMAGE, Docker};

#[test]
fn daemon_runs_an_imported_busybox_container() {
    let Some(docker) = Docker::ensure() else {
        return;
    };
    let image = docker.busybox_image();
    assert_eq!(image, BUSYBOX_IMAGE);
    // A second call finds the image by its tag instead of importing again.
    let id = docker.ok(&["image", "inspect", "--format", "{{.Id}}", image]);
    assert_eq!(docker.busybox_image(), image);
    assert_eq!(
        docker.ok(&["image", "inspect", "--format", "{{.Id}}", image]),
        id
    );

    assert_eq!(docker.ok(&["run", "--rm", image, "echo", "hi"]), "hi");

    // Applets the scenarios use are there.
    let out = docker.ok(&[
        "run",
        "--rm",
        image,
        "sh",
        "-c",
        "echo data > /tmp/f && md5sum /tmp/f && cat /tmp/f && sync && ls /tmp",
    ]);
    assert_eq!(
        out, "6137cde4893c59f76f005a8123d8e8e6  /tmp/f\ndata\nf",
        "busybox applets"
    );

    // A named container is removed at the end even when the test does not.
    let name = format!("e2e-{}-harness", std::process::id());
    docker.track_container(&name);
    docker.ok(&["run", "-d", "--name", &name, image, "sleep", "3600"]);
    assert_eq!(
        docker.ok(&["inspect", "--format", "{{.State.Running}}", &name]),
        "true"
    );

    // A failing command reports what failed.
    let failed = docker.fails(&["run", "--rm", image, "sh", "-c", "echo oops >&2; exit 3"]);
    assert_eq!(failed.status.code(), Some(3));
    assert!(failed.stderr.contains("oops"), "{}", failed.describe());
    let text = failed.describe();
    assert!(
        text.contains("exit 3") && text.contains("exit status: 3"),
        "{text}"
    );
}
