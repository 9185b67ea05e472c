//! The `local` backend as a Docker managed plugin: `plugins-dist/build` of
//! the debug binary, `docker plugin create`, `set state.source`, `enable`,
//! then one container writes a volume and a second reads it back, and the
//! volume's image is in the state directory bound from the machine. The
//! volume and plugin are removed at the end (and on failure).

use std::time::Instant;

use ballast_tests::docker::Docker;
use ballast_tests::managed_plugin::{PREFIX, build, remove_leftover_plugins, state_dir};

/// Removes the volume, then the plugin (a plugin removed first would leave
/// a volume record no one can delete).
struct Cleanup<'a> {
    docker: &'a Docker,
    plugin: String,
    volumes: Vec<String>,
    containers: Vec<String>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = self.docker.run(&["rm", "-f", c]);
        }
        for v in &self.volumes {
            let _ = self.docker.run(&["volume", "rm", "-f", v]);
        }
        let _ = self.docker.run(&["plugin", "disable", "-f", &self.plugin]);
        let _ = self.docker.run(&["plugin", "rm", "-f", &self.plugin]);
    }
}

#[test]
fn local_plugin_built_created_enabled_and_used() {
    let Some(docker) = Docker::ensure() else {
        return;
    };
    remove_leftover_plugins(&docker);
    let image = docker.busybox_image();
    let pid = std::process::id();
    let out = tempfile::Builder::new()
        .prefix("ballast-plugin-build-")
        .tempdir()
        .unwrap();
    let state = state_dir();

    let dir = build("local", out.path());
    let cache = out.path().join("local/rootfs/var/lib/ballast/cache");
    assert!(
        std::fs::read_dir(&cache).is_ok_and(|d| d.count() == 1),
        "the build precompiles the module into {}",
        cache.display()
    );

    let plugin = format!("{PREFIX}{pid}-managed");
    let volume = format!("e2e-{pid}-managed");
    let mut cleanup = Cleanup {
        docker: &docker,
        plugin: plugin.clone(),
        volumes: vec![],
        containers: vec![],
    };
    docker.ok(&["plugin", "create", &plugin, dir.to_str().unwrap()]);
    docker.ok(&[
        "plugin",
        "set",
        &plugin,
        &format!("state.source={}", state.path().display()),
    ]);
    let started = Instant::now();
    docker.ok(&["plugin", "enable", &plugin]);
    eprintln!("plugin enable took {:?}", started.elapsed());

    cleanup.volumes.push(volume.clone());
    docker.ok(&[
        "volume",
        "create",
        "-d",
        &plugin,
        "--opt",
        "size=64MiB",
        &volume,
    ]);
    let mount = format!("{volume}:/data");
    for (i, script) in ["echo managed > /data/f && sync", "cat /data/f"]
        .into_iter()
        .enumerate()
    {
        let name = format!("e2e-{pid}-managed-{i}");
        cleanup.containers.push(name.clone());
        let said = docker.ok(&[
            "run", "--rm", "--name", &name, "-v", &mount, image, "sh", "-c", script,
        ]);
        if i == 1 {
            assert_eq!(
                said, "managed",
                "the second container reads the first's write"
            );
        }
    }
    let inspect = docker.ok(&[
        "volume",
        "inspect",
        "--format",
        "{{.Driver}} {{.Status.image}}",
        &volume,
    ]);
    assert_eq!(
        inspect,
        format!("{plugin}:latest /var/lib/ballast/state/backends/local/images/{volume}.img")
    );
    assert!(
        state
            .path()
            .join(format!("backends/local/images/{volume}.img"))
            .exists(),
        "the image is in the state directory bound from the machine"
    );

    docker.ok(&["volume", "rm", &volume]);
    cleanup.volumes.clear();
    assert!(
        !state
            .path()
            .join(format!("backends/local/images/{volume}.img"))
            .exists(),
        "volume rm removes the image"
    );
    // With no volume left, a plain disable is accepted.
    docker.ok(&["plugin", "disable", &plugin]);
    docker.ok(&["plugin", "rm", &plugin]);
}
