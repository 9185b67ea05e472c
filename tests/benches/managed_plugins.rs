//! Ballast's managed plugins as dockerd runs them: rootfs sizes, the
//! plugin process's own start (outside Docker), how long `docker plugin
//! enable` takes (dockerd starting the plugin until its socket answers),
//! and a volume's lifecycle through dockerd, which cuts each call at 30 s
//! once a plugin is enabled. Printed, not asserted.
//!
//!     cargo build --profile bench -p ballast   # the binary the plugins hold
//!     cargo bench -p ballast-tests --bench managed_plugins     (as root)
//!
//! local runs as is; ebs and gcepd act as instances of tests/cloudsim, s3fs
//! uses s3s-fs; efs is built and sized only (its volumes cannot be
//! mounted here: no NFS client).

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ballast_tests::bench::{median, ms, timed};
use ballast_tests::cloud::{SimCloud, with_gce_instances};
use ballast_tests::docker::{Docker, signal};
use ballast_tests::managed_plugin::{
    Installed, build, by_id_in_plugin, ebs_settings, remove_leftover_plugins, state_dir,
    state_setting,
};
use ballast_tests::s3::S3Server;

/// disable/enable rounds per plugin.
const ENABLES: usize = 5;
/// Volume lifecycles per plugin.
const LIFECYCLES: usize = 3;

fn main() {
    let Some(docker) = Docker::ensure() else {
        return;
    };
    remove_leftover_plugins(&docker);
    let out = tempfile::Builder::new()
        .prefix("ballast-plugin-bench-")
        .tempdir()
        .unwrap();
    println!("rootfs per backend (plugins-dist/build of the bench binary):");
    let dirs: Vec<_> = ["local", "ebs", "efs", "s3fs", "gcepd"]
        .into_iter()
        .map(|b| (b, build(b, out.path())))
        .collect();
    let dir = |backend: &str| dirs.iter().find(|(b, _)| *b == backend).unwrap().1.clone();
    println!();
    println!(
        "local plugin process, start until its socket accepts (module cache hit): {}",
        ms(process_ready(&dir("local")))
    );
    println!();
    println!(
        "{:<7} {:>12} {:>10} {:>10} {:>10} {:>12} {:>10}",
        "plugin", "enable p50", "max", "create", "get", "run (m+u)", "remove"
    );

    let state = state_dir();
    let local = Installed::create(
        &docker,
        &dir("local"),
        &name("local"),
        &[state_setting(state.path())],
    );
    measure(&local, &["size=64MiB"]);
    drop(local);

    let state = state_dir();
    let sim_dir = state.path().join("sim");
    if let Some(cloud) = SimCloud::start("plugin bench ebs", |c| c.data_dir = sim_dir) {
        let settings = ebs_settings(&cloud, state.path(), "i-a", "bench");
        let ebs = Installed::create(&docker, &dir("ebs"), &name("ebs"), &settings);
        measure(&ebs, &["size=1"]);
    }

    let state = state_dir();
    let sim_dir = state.path().join("sim");
    if let Some(cloud) = SimCloud::start("plugin bench gcepd", |c| {
        c.data_dir = sim_dir;
        with_gce_instances(c);
    }) {
        let api = cloud.api_url().trim_end_matches('/').to_string();
        let settings = vec![
            state_setting(state.path()),
            format!("GCEPD_ENDPOINT={api}/compute/v1"),
            format!("GCEPD_TAG={}", SimCloud::cluster_tag("bench")),
            format!(
                "BALLAST_METADATA_ENDPOINT={}",
                cloud.instance("node-1").metadata_url
            ),
            by_id_in_plugin("node-1"),
        ];
        let gcepd = Installed::create(&docker, &dir("gcepd"), &name("gcepd"), &settings);
        measure(&gcepd, &["size=10"]);
    }

    let state = state_dir();
    if let Some(server) = S3Server::fast("plugin bench s3fs") {
        let mut settings = vec![state_setting(state.path())];
        settings.extend(server.settings().iter().map(|(k, v)| format!("{k}={v}")));
        let s3fs = Installed::create(&docker, &dir("s3fs"), &name("s3fs"), &settings);
        measure(&s3fs, &[]);
    }
}

fn name(backend: &str) -> String {
    format!("e2e-{}-bench-{backend}", std::process::id())
}

/// Enable times over disable/enable rounds, then volume lifecycles; one
/// row of medians.
fn measure(p: &Installed, opts: &[&str]) {
    let mut enables = Vec::new();
    for _ in 0..ENABLES {
        p.docker.ok(&["plugin", "disable", &p.alias]);
        let started = Instant::now();
        p.docker.ok(&["plugin", "enable", &p.alias]);
        enables.push(started.elapsed());
    }
    let longest = enables.iter().max().copied().unwrap_or_default();
    let (mut creates, mut gets, mut runs, mut removes) = (vec![], vec![], vec![], vec![]);
    for i in 0..LIFECYCLES {
        let vol = format!("{}-v{i}", p.alias.replace('/', "-"));
        creates.push(timed(|| p.create_volume(&vol, opts)));
        gets.push(timed(|| {
            p.docker.ok(&["volume", "inspect", &vol]);
        }));
        runs.push(timed(|| {
            p.run_sh(&vol, "true");
        }));
        removes.push(timed(|| {
            p.docker.ok(&["volume", "rm", &vol]);
        }));
        p.volumes.borrow_mut().clear();
    }
    println!(
        "{:<7} {:>12} {:>10} {:>10} {:>10} {:>12} {:>10}",
        p.alias.rsplit('-').next().unwrap_or_default(),
        ms(median(enables)),
        ms(longest),
        ms(median(creates)),
        ms(median(gets)),
        ms(median(runs)),
        ms(median(removes)),
    );
}

/// The plugin process's own start, outside Docker: the rootfs's binary in
/// managed mode with the rootfs's module cache, until its socket accepts
/// (median of [`ENABLES`] starts). Stopped with SIGTERM each time.
fn process_ready(plugin_dir: &Path) -> Duration {
    let rootfs = plugin_dir.join("rootfs");
    let mut starts = Vec::new();
    for _ in 0..ENABLES {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("plugins/ballast.sock");
        let started = Instant::now();
        let mut child = Command::new(rootfs.join("usr/bin/ballast"))
            .args(["serve", "--managed", "local"])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("BALLAST_LOG", "warn")
            .env("BALLAST_CACHE_DIR", rootfs.join("var/lib/ballast/cache"))
            .env("BALLAST_DATA_DIR", dir.path().join("state"))
            .env("BALLAST_PLUGIN__SOCKET_DIR", dir.path().join("plugins"))
            .env("BALLAST_PLUGIN__MOUNT_ROOT", dir.path().join("volumes"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the plugin's binary");
        // Polled every millisecond: wait_until's 100 ms step would be the
        // figure.
        let deadline = started + Duration::from_secs(20);
        let ready = loop {
            if UnixStream::connect(&socket).is_ok() {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        starts.push(started.elapsed());
        signal(child.id(), 15);
        let _ = child.wait();
        assert!(
            ready,
            "the plugin's binary never served {}",
            socket.display()
        );
    }
    median(starts)
}
