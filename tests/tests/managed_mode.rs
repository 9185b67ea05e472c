//! `ballast serve --managed <backend>`, as a Docker managed plugin runs it:
//! no config file, settings from the environment (REX-Ray names and bare
//! setting names), the socket `ballast.sock`, and a SIGTERM that stops
//! serving without unmounting what containers use. Paths that config.json
//! fixes inside the plugin (/run/docker/plugins, /var/lib/ballast) are moved
//! to a temporary directory with `BALLAST_*` overrides.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ballast_tests::cloud::{
    PluginCalls, SimCloud, call, call_ok, with_gce_instances, write_synced,
};
use ballast_tests::serve::capabilities;

/// A managed host process and where it serves.
struct Managed {
    child: Child,
    dir: PathBuf,
}

impl Managed {
    fn start(dir: &Path, backend: &str, env: &[(&str, &str)]) -> Managed {
        let log = std::fs::File::create(dir.join(format!("{backend}.log"))).unwrap();
        let child = Command::new(ballast_tests::ballast_bin())
            .args(["serve", "--managed", backend])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("BALLAST_PLUGIN__SOCKET_DIR", dir.join("plugins"))
            .env("BALLAST_DATA_DIR", dir.join("state"))
            .env("BALLAST_PLUGIN__MOUNT_ROOT", dir.join("volumes"))
            .env("BALLAST_CONFIG", "/nonexistent/never-read.toml")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let managed = Managed {
            child,
            dir: dir.to_owned(),
        };
        managed.wait_ready();
        managed
    }

    fn wait_ready(&self) {
        let started = Instant::now();
        while capabilities(&self.socket_path()).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "not serving after 60 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("local.log"))
            .or_else(|_| std::fs::read_to_string(self.dir.join("gcepd.log")))
            .unwrap_or_default()
    }

    /// SIGTERM, as `docker plugin disable` sends; its exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) },
            0
        );
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }
}

impl PluginCalls for Managed {
    fn socket_path(&self) -> PathBuf {
        self.dir.join("plugins").join("ballast.sock")
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_mounted(path: &Path) -> bool {
    ballast_tests::serve::mounts()
        .iter()
        .any(|m| m.target == path)
}

#[test]
fn managed_local_reads_its_settings_from_the_environment_and_keeps_mounts_on_sigterm() {
    if !ballast_tests::can_mount("managed local") {
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("ballast-managed-")
        .tempdir()
        .unwrap();
    let host = Managed::start(
        dir.path(),
        "local",
        &[("DEFAULT_SIZE", "64MiB"), ("EBS_REGION", "ignored-here")],
    );
    host.create("web", &[]).unwrap();
    let image = dir.path().join("state/backends/local/images/web.img");
    let size = std::fs::metadata(&image)
        .unwrap_or_else(|e| panic!("{}: {e}", image.display()))
        .len();
    assert_eq!(size, 64 << 20, "DEFAULT_SIZE from the environment");
    let (_, list) = call(&host.socket_path(), "List", serde_json::json!({}));
    assert_eq!(list["Volumes"][0]["Name"], "web", "{list}");
    let data = host.mount("web", "c1").unwrap();
    write_synced(&data, "index.html", "hello");
    let mountpoint = data.parent().unwrap().to_owned();
    assert!(mountpoint.starts_with(dir.path().join("volumes")));

    // SIGTERM: it stops and removes its socket; the container's mount stays.
    let status = host.terminate();
    assert!(status.success(), "{status}");
    assert!(!dir.path().join("plugins/ballast.sock").exists());
    assert!(is_mounted(&mountpoint), "the mount outlives the host");

    // Enabled again: it knows the mount and its user.
    let host = Managed::start(dir.path(), "local", &[("DEFAULT_SIZE", "64MiB")]);
    let answer = call_ok(
        &host.socket_path(),
        "Path",
        serde_json::json!({"Name": "web"}),
    );
    assert_eq!(answer["Mountpoint"], data.display().to_string());
    host.unmount("web", "c1").unwrap();
    assert!(!is_mounted(&mountpoint));
    host.remove("web").unwrap();
    assert!(host.terminate().success());
}

#[test]
fn a_bad_setting_or_backend_stops_a_managed_host_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, env, says) in [
        ("nfs", vec![], "local, ebs, efs, s3fs, gcepd"),
        ("local", vec![("DEFAULT_SIZE", "huge")], "default_size"),
    ] {
        let out = Command::new(ballast_tests::ballast_bin())
            .args(["serve", "--managed", backend])
            .env("BALLAST_PLUGIN__SOCKET_DIR", dir.path().join("plugins"))
            .env("BALLAST_DATA_DIR", dir.path().join("state"))
            .envs(env)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{backend}: {stderr}");
        assert!(stderr.contains(says), "{backend}: {stderr}");
    }
}

#[test]
fn managed_gcepd_reaches_compute_engine_with_the_metadata_token() {
    let Some(cloud) = SimCloud::start("managed gcepd", with_gce_instances) else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("ballast-managed-")
        .tempdir()
        .unwrap();
    let machine = cloud.instance("node-1");
    let api = cloud.api_url().trim_end_matches('/').to_string();
    let tag = SimCloud::cluster_tag("managed");
    let host = Managed::start(
        dir.path(),
        "gcepd",
        &[
            ("GCEPD_ENDPOINT", &format!("{api}/compute/v1")),
            ("GCEPD_TAG", &tag),
            ("GCEPD_DEFAULTDISKTYPE", "pd-balanced"),
            ("BALLAST_METADATA_ENDPOINT", &machine.metadata_url),
            ("BALLAST_BACKENDS__GCEPD__HTTP__ALLOW_LOOPBACK", "true"),
            (
                "BALLAST_PLUGIN__BY_ID_DIR",
                &machine.device_dir.display().to_string(),
            ),
        ],
    );
    host.create("pgdata", &[("size", "10")]).unwrap();
    let disk = cloud
        .gce_disks()
        .into_iter()
        .find(|d| d.labels.get("ballast-cluster") == Some(&tag))
        .expect("the disk, labelled with GCEPD_TAG");
    assert_eq!((disk.disk_type.as_str(), disk.size_gb), ("pd-balanced", 10));
    let data = host.mount("pgdata", "c1").unwrap();
    write_synced(&data, "x", "y");
    assert_eq!(cloud.gce_users(&disk.zone, &disk.name), ["node-1"]);
    host.unmount("pgdata", "c1").unwrap();
    host.remove("pgdata").unwrap();
    assert!(host.terminate().success());
}

#[test]
fn doctor_checks_what_a_managed_plugin_runs_with() {
    let dir = tempfile::tempdir().unwrap();
    let doctor = |backend: &str, env: &[(&str, &str)]| {
        let out = Command::new(ballast_tests::ballast_bin())
            .args(["doctor", "--managed", backend])
            .env("BALLAST_PLUGIN__SOCKET_DIR", dir.path().join("plugins"))
            .env("BALLAST_DATA_DIR", dir.path().join("state"))
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success(), text)
    };
    let (ok, text) = doctor("local", &[("DEFAULT_SIZE", "64MiB")]);
    assert!(ok, "a managed local plugin is fine here:\n{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("ok") && l.contains("backend local")),
        "{text}"
    );
    // The s3fs plugin's settings come from its environment.
    let (ok, text) = doctor(
        "s3fs",
        &[
            ("S3FS_ENDPOINT", "http://127.0.0.1:9"),
            ("S3FS_REGION", "us-east-1"),
            ("S3FS_ACCESSKEY", "AKIDEXAMPLE"),
            ("S3FS_SECRETKEY", "never-printed-secret"),
        ],
    );
    assert!(!ok, "{text}");
    let region = text
        .lines()
        .find(|l| l.contains("s3 s3fs: region"))
        .unwrap_or_else(|| panic!("no region line:\n{text}"));
    assert!(
        region.contains("us-east-1 at http://127.0.0.1:9"),
        "{region}"
    );
    let reachable = text
        .lines()
        .find(|l| l.contains("s3 s3fs: S3 reachable"))
        .unwrap();
    assert!(reachable.starts_with("FAIL"), "{reachable}");
    assert!(!text.contains("never-printed-secret"));
}
