//! The `local` backend as a Docker managed plugin: `plugins-dist/build` of
//! the debug binary, `docker plugin create`, `set state.source`, `enable`,
//! then one container writes a volume and a second reads it back, and the
//! volume's image is in the state directory bound from the machine. The
//! volume and plugin are removed at the end (and on failure, by
//! [`Installed`]).

use ballast_tests::docker::Docker;
use ballast_tests::managed_plugin::{
    Installed, PREFIX, build, remove_leftover_plugins, state_dir, state_setting,
};

#[test]
fn local_plugin_built_created_enabled_and_used() {
    let Some(docker) = Docker::ensure() else {
        return;
    };
    remove_leftover_plugins(&docker);
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
    let p = Installed::create(&docker, &dir, &plugin, &[state_setting(state.path())]);
    p.create_volume(&volume, &["size=64MiB"]);
    p.run_sh(&volume, "echo managed > /data/f && sync");
    assert_eq!(
        p.run_sh(&volume, "cat /data/f"),
        "managed",
        "the second container reads the first's write"
    );
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
    let image = state
        .path()
        .join(format!("backends/local/images/{volume}.img"));
    assert!(
        image.exists(),
        "the image is in the state directory bound from the machine"
    );

    docker.ok(&["volume", "rm", &volume]);
    p.volumes.borrow_mut().clear();
    assert!(!image.exists(), "volume rm removes the image");
    // With no volume left, a plain disable is accepted.
    docker.ok(&["plugin", "disable", &plugin]);
    docker.ok(&["plugin", "rm", &plugin]);
}
