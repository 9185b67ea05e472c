//! Every backend as a user gets it: built by `plugins-dist/build`, pushed
//! to a local registry, `docker plugin install`ed from it with settings
//! (which enables it: dockerd then cuts each call at 30 s, so every call
//! below answered inside that limit). Then, per backend:
//!
//! - `docker volume create -d`; a container writes, a second reads;
//! - `docker plugin disable` is refused while a container uses a volume,
//!   and `docker plugin set` while the plugin is enabled;
//! - `disable -f`, `set`, `upgrade` to the second build, `enable`: the
//!   volume and its data are still there and the settings kept.
//!
//! Cloud backends run against tests/cloudsim (EBS, EFS, Compute Engine)
//! or s3s-fs (S3). The simulator's data directory sits inside the plugin's
//! state directory, so the by-id links of attached disks are visible in
//! the plugin (`BALLAST_PLUGIN__BY_ID_DIR`); they point at /dev/loopN,
//! which the plugin sees through its /dev mount.

use std::path::Path;
use std::time::{Duration, Instant};

use ballast_tests::cloud::{self, PluginCalls, SimCloud};
use ballast_tests::docker::{Docker, wait_until};
use ballast_tests::managed_plugin::{
    Installed, PREFIX, Published, Registry, by_id_in_plugin, ebs_settings, publish,
    remove_leftover_plugins, state_dir, state_setting,
};
use ballast_tests::s3::S3Server;

struct Setup {
    docker: Docker,
    registry: Registry,
}

fn setup() -> Option<Setup> {
    let docker = Docker::ensure()?;
    let registry = Registry::start()?;
    remove_leftover_plugins(&docker);
    Some(Setup { docker, registry })
}

fn alias(backend: &str) -> String {
    format!("{PREFIX}{}/{backend}", std::process::id())
}

fn volume(short: &str) -> String {
    format!("{PREFIX}{}-{short}", std::process::id())
}

/// A container writes, a second reads; `disable` and `set` are refused
/// while in use / enabled; `disable -f`, `set`, `upgrade`, `enable` keep the
/// volume, its data and the settings. `mountable`: whether containers can
/// mount this backend's volumes here (not EFS without an NFS client).
fn lifecycle(p: &Installed, published: &Published, vol: &str, opts: &[&str], mountable: bool) {
    p.create_volume(vol, opts);
    let driver = p
        .docker
        .ok(&["volume", "inspect", "--format", "{{.Driver}}", vol]);
    assert_eq!(driver, format!("{}:latest", p.alias));
    if mountable {
        p.run_sh(vol, "echo kept > /data/f && sync");
        assert_eq!(
            p.run_sh(vol, "cat /data/f"),
            "kept",
            "a second container reads"
        );
        let holder = format!("{vol}-holder");
        p.hold(&holder, vol);
        let refused = p.docker.fails(&["plugin", "disable", &p.alias]);
        assert!(
            refused.stderr.contains("in use"),
            "disable is refused while a container uses a volume: {}",
            refused.describe()
        );
        p.docker.ok(&["rm", "-f", &holder]);
    } else {
        let refused = p.docker.fails(&["plugin", "disable", &p.alias]);
        assert!(
            refused.stderr.contains("in use"),
            "disable is refused while a volume exists: {}",
            refused.describe()
        );
    }
    let refused = p
        .docker
        .fails(&["plugin", "set", &p.alias, "BALLAST_LOG=debug"]);
    assert!(
        refused.stderr.contains("enabled") || refused.stderr.contains("active"),
        "set is refused on an enabled plugin: {}",
        refused.describe()
    );

    let env_before = p.inspect("{{json .Settings.Env}}");
    let layers_before = p.inspect("{{json .Config.Rootfs.DiffIds}}");
    published.publish_second(p.docker);
    p.docker.ok(&["plugin", "disable", "-f", &p.alias]);
    p.docker
        .ok(&["plugin", "set", &p.alias, "BALLAST_LOG=debug"]);
    // Without a remote: the reference it was installed from, now newer.
    p.docker
        .ok(&["plugin", "upgrade", "--grant-all-permissions", &p.alias]);
    // dockerd 20.10 shows the mount source set before the upgrade but runs
    // the new config's default (plugins-dist/NOTES.md): set it again.
    let source =
        p.inspect(r#"{{range .Settings.Mounts}}{{if eq .Name "state"}}{{.Source}}{{end}}{{end}}"#);
    p.docker
        .ok(&["plugin", "set", &p.alias, &format!("state.source={source}")]);
    let started = Instant::now();
    p.docker.ok(&["plugin", "enable", &p.alias]);
    eprintln!(
        "{}: enable after upgrade took {:?}",
        p.alias,
        started.elapsed()
    );
    assert_eq!(p.inspect("{{.PluginReference}}"), published.reference);
    assert_ne!(
        p.inspect("{{json .Config.Rootfs.DiffIds}}"),
        layers_before,
        "the upgrade brought the second build"
    );
    let env_after = p.inspect("{{json .Settings.Env}}");
    assert_eq!(
        env_after,
        env_before.replace("\"BALLAST_LOG=info\"", "\"BALLAST_LOG=debug\""),
        "upgrade keeps the settings, and set changed one"
    );
    let listed = p.docker.ok(&[
        "volume",
        "ls",
        "--filter",
        &format!("driver={}:latest", p.alias),
        "--format",
        "{{.Name}}",
    ]);
    assert!(
        listed.lines().any(|l| l == vol),
        "the upgraded plugin lists {vol}: {listed:?}"
    );
    if mountable {
        assert_eq!(
            p.run_sh(vol, "cat /data/f"),
            "kept",
            "the data survives the upgrade"
        );
        // s3fs refuses to remove a bucket that still holds objects.
        p.run_sh(vol, "rm /data/f && sync");
    }
    p.docker.ok(&["volume", "rm", vol]);
    p.volumes.borrow_mut().clear();
}

#[test]
fn local_plugin_from_a_registry() {
    let Some(s) = setup() else { return };
    let published = publish(&s.docker, &s.registry, "local");
    let state = state_dir();
    let p = Installed::install(
        &s.docker,
        &published.reference,
        &alias("local"),
        &[state_setting(state.path()), "DEFAULT_SIZE=80MiB".into()],
    );
    let vol = volume("local");
    // No size option: DEFAULT_SIZE from the install applies.
    p.create_volume(&vol, &[]);
    let size = s
        .docker
        .ok(&["volume", "inspect", "--format", "{{.Status.size}}", &vol]);
    assert_eq!(size, "80 MiB", "the setting given at install applies");
    assert!(
        state
            .path()
            .join(format!("backends/local/images/{vol}.img"))
            .exists(),
        "the image is in the state directory bound from the machine"
    );
    s.docker.ok(&["volume", "rm", &vol]);
    p.volumes.borrow_mut().clear();
    lifecycle(&p, &published, &vol, &["size=64MiB"], true);
}

/// `docker plugin disable -f` while a container uses a volume stops the
/// plugin under it (dockerd also unmounts the propagated mount; the
/// container keeps its own mount). Enabled again, the plugin serves a
/// second container from the same loop device (never a second one over
/// the image), and when both are gone the device is detached.
#[test]
fn local_plugin_forced_off_under_a_container_and_back() {
    let Some(s) = setup() else { return };
    let out = tempfile::Builder::new()
        .prefix("ballast-plugin-build-")
        .tempdir()
        .unwrap();
    let dir = ballast_tests::managed_plugin::build("local", out.path());
    let state = state_dir();
    let p = Installed::create(
        &s.docker,
        &dir,
        &format!("{}-forced", alias("local")),
        &[state_setting(state.path())],
    );
    let vol = volume("forced");
    p.create_volume(&vol, &["size=64MiB"]);
    let image = state
        .path()
        .join(format!("backends/local/images/{vol}.img"));
    let holder = format!("{vol}-holder");
    p.hold(&holder, &vol);
    s.docker
        .ok(&["exec", &holder, "sh", "-c", "echo before > /data/f && sync"]);
    let loops_before = loops_of(&image);
    assert_eq!(loops_before.len(), 1, "one loop device: {loops_before:?}");

    p.docker.ok(&["plugin", "disable", "-f", &p.alias]);
    p.docker.ok(&["plugin", "enable", &p.alias]);
    assert_eq!(
        p.run_sh(&vol, "cat /data/f; echo after >> /data/f; sync"),
        "before",
        "a second container after the restart sees the first one's data"
    );
    assert_eq!(
        loops_of(&image),
        loops_before,
        "the restarted plugin reused the loop device"
    );
    assert_eq!(
        s.docker.ok(&["exec", &holder, "cat", "/data/f"]),
        "before\nafter",
        "the first container sees the second's write: one filesystem"
    );
    s.docker.ok(&["rm", "-f", &holder]);
    s.docker.ok(&["volume", "rm", &vol]);
    p.volumes.borrow_mut().clear();
    assert!(!image.exists(), "volume rm removed the image");
    let leftover = wait_until(Duration::from_secs(10), || loops_of(&image).is_empty());
    assert!(
        leftover,
        "the loop device is detached once no one uses it: {:?}",
        loops_of(&image)
    );
}

/// The loop devices whose backing file is `image` (or was: deleted).
fn loops_of(image: &Path) -> Vec<String> {
    let name = image.file_name().unwrap().to_string_lossy().to_string();
    let out = std::process::Command::new("losetup")
        .args(["--list", "--noheadings", "--output", "NAME,BACK-FILE"])
        .output()
        .expect("losetup");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&name))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}

/// The EBS plugin as instance i-a (us-east-1a) of the simulated region.
/// Besides the lifecycle: a volume in another zone is relocated, and the
/// Mount answers the retry error promptly while that runs.
#[test]
fn ebs_plugin_from_a_registry() {
    let Some(s) = setup() else { return };
    let state = state_dir();
    let sim_dir = state.path().join("sim");
    let Some(cloud) = SimCloud::start("ebs plugin", |c| c.data_dir = sim_dir) else {
        return;
    };
    let published = publish(&s.docker, &s.registry, "ebs");
    let p = Installed::install(
        &s.docker,
        &published.reference,
        &alias("ebs"),
        &ebs_settings(&cloud, state.path(), "i-a", "plugin"),
    );
    let vol = volume("ebs");
    lifecycle(&p, &published, &vol, &["size=1", "volumetype=gp3"], true);

    // A volume made by a host in us-east-1b, then used here.
    let other = cloud.ebs_host("i-c", "plugin", &[]);
    let moving = volume("moving");
    other.create(&moving, &[("size", "1")]).unwrap();
    let dir = other.mount(&moving, "m1").unwrap();
    cloud::write_synced(&dir, "f", "moved");
    other.unmount(&moving, "m1").unwrap();
    p.create_volume(&moving, &[]);
    let image = s.docker.busybox_image();
    let mount = format!("{moving}:/data");
    let mut answers = Vec::new();
    let mut read = String::new();
    let done = wait_until(Duration::from_secs(120), || {
        let out = s
            .docker
            .run(&["run", "--rm", "-v", &mount, image, "cat", "/data/f"]);
        if out.success() {
            read = out.stdout.trim().to_string();
            return true;
        }
        answers.push(out.stderr.trim().to_string());
        false
    });
    assert!(done, "the relocation did not finish: {answers:#?}");
    let first = answers
        .first()
        .expect("the first mount answers the retry error");
    assert!(
        first.contains("relocating") && first.contains("retry the mount"),
        "the retry error while relocating: {first}"
    );
    assert_eq!(read, "moved", "the relocated volume keeps its data");
    s.docker.ok(&["volume", "rm", &moving]);
    p.volumes.borrow_mut().clear();
    assert!(
        cloud.volumes_named(&moving).is_empty() && cloud.volumes_named(&vol).is_empty(),
        "volume rm deletes the EBS volumes"
    );
}

#[test]
fn gcepd_plugin_from_a_registry() {
    let Some(s) = setup() else { return };
    let state = state_dir();
    let sim_dir = state.path().join("sim");
    let Some(cloud) = SimCloud::start("gcepd plugin", |c| {
        c.data_dir = sim_dir;
        cloud::with_gce_instances(c);
    }) else {
        return;
    };
    let published = publish(&s.docker, &s.registry, "gcepd");
    let node = cloud.instance("node-1");
    let api = cloud.api_url().trim_end_matches('/').to_string();
    let p = Installed::install(
        &s.docker,
        &published.reference,
        &alias("gcepd"),
        &[
            state_setting(state.path()),
            format!("GCEPD_ENDPOINT={api}/compute/v1"),
            format!("GCEPD_TAG={}", SimCloud::cluster_tag("plugin")),
            format!("BALLAST_METADATA_ENDPOINT={}", node.metadata_url),
            by_id_in_plugin("node-1"),
        ],
    );
    let vol = volume("gcepd");
    lifecycle(&p, &published, &vol, &["size=10"], true);
    assert!(
        cloud.gce_disks().is_empty(),
        "volume rm deletes the disk: {:?}",
        cloud.gce_disks()
    );
}

#[test]
fn s3fs_plugin_from_a_registry() {
    let Some(s) = setup() else { return };
    let Some(server) = S3Server::fast("s3fs plugin") else {
        return;
    };
    let published = publish(&s.docker, &s.registry, "s3fs");
    let state = state_dir();
    let mut settings = vec![state_setting(state.path())];
    settings.extend(server.settings().iter().map(|(k, v)| format!("{k}={v}")));
    let p = Installed::install(&s.docker, &published.reference, &alias("s3fs"), &settings);
    let vol = volume("s3fs");
    lifecycle(&p, &published, &vol, &[], true);
}

/// EFS: no NFS client in this kernel, so containers cannot mount; the rest
/// of the lifecycle (create through the API, disable refused, upgrade
/// keeping the volume, remove) still runs.
#[test]
fn efs_plugin_from_a_registry() {
    let Some(s) = setup() else { return };
    let state = state_dir();
    let sim_dir = state.path().join("sim");
    let Some(cloud) = SimCloud::start("efs plugin", |c| c.data_dir = sim_dir) else {
        return;
    };
    let published = publish(&s.docker, &s.registry, "efs");
    let i_a = cloud.instance("i-a");
    let p = Installed::install(
        &s.docker,
        &published.reference,
        &alias("efs"),
        &[
            state_setting(state.path()),
            format!("EFS_ENDPOINT={}", cloud.api_url()),
            "EFS_REGION=us-east-1".into(),
            format!("EFS_ACCESSKEY={}", cloud::ACCESS_KEY),
            format!("EFS_SECRETKEY={}", cloud::SECRET_KEY),
            format!("EFS_TAG={}", SimCloud::cluster_tag("plugin")),
            format!("BALLAST_METADATA_ENDPOINT={}", i_a.metadata_url),
        ],
    );
    let nfs = std::fs::read_to_string("/proc/filesystems").is_ok_and(|f| f.contains("nfs4"));
    if !nfs {
        eprintln!(
            "efs plugin: this kernel has no NFS client (no nfs4 in /proc/filesystems): containers cannot mount EFS volumes here; the rest runs"
        );
    }
    let vol = volume("efs");
    lifecycle(&p, &published, &vol, &[], nfs);
    assert!(
        cloud.efs().file_systems.is_empty(),
        "volume rm deletes the file system"
    );
}
