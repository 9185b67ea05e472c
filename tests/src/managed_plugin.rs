//! Ballast's Docker managed plugins the way a user gets them: built with
//! `plugins-dist/build` from the debug binary, pushed to a local registry
//! (Debian's `docker-registry` on 127.0.0.1), then `docker plugin install`ed
//! from it with settings. [`Installed`] removes what a test made — its
//! containers, volumes, then the plugin — when dropped, failed or not.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::cloud::SimCloud;
use crate::docker::{Docker, process_alive, run_command, wait_until};

/// Plugin and volume names of these tests start with this, then the pid.
pub const PREFIX: &str = "e2e-";

/// A `docker-registry` serving a temporary directory on 127.0.0.1 (dockerd
/// treats 127.0.0.0/8 registries as insecure ones, so plain HTTP works).
pub struct Registry {
    child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Started and answering, or `None` (reason printed; a failure when
    /// required) without the `docker-registry` package.
    pub fn start() -> Option<Registry> {
        let Some(bin) = ["/usr/bin/docker-registry", "/usr/bin/registry"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
        else {
            return crate::skip(
                "plugin registry",
                "no docker-registry (apt-get install docker-registry; tests/setup does)",
            );
        };
        let dir = tempfile::Builder::new()
            .prefix("ballast-registry-")
            .tempdir()
            .expect("temp dir for the registry");
        let addr = SocketAddr::from(([127, 0, 0, 1], crate::free_port()));
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: {addr}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("starting docker-registry");
        let registry = Registry {
            child,
            addr,
            _dir: dir,
        };
        let up = wait_until(Duration::from_secs(20), || TcpStream::connect(addr).is_ok());
        assert!(
            up,
            "docker-registry did not listen on {addr} within 20s: {}",
            std::fs::read_to_string(registry._dir.path().join("log")).unwrap_or_default()
        );
        Some(registry)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
        .to_path_buf()
}

/// `plugins-dist/build` of the debug binary for `backend` into `out`;
/// returns the plugin directory (config.json + rootfs/).
pub fn build(backend: &str, out: &Path) -> PathBuf {
    let built = run_command(
        Command::new(repo_root().join("plugins-dist/build"))
            .arg("--binary")
            .arg(crate::ballast_bin())
            .arg("--out")
            .arg(out)
            .arg(backend),
        Duration::from_secs(120),
    )
    .unwrap_or_else(|e| panic!("plugins-dist/build: {e}"));
    assert!(
        built.success(),
        "plugins-dist/build {backend} failed\n{}",
        built.describe()
    );
    eprintln!("{}", built.stdout.trim());
    out.join(backend)
}

/// Two builds of `backend` (each differs: /etc/ballast-release), to
/// be published in turn as `<registry>/e2e-<pid>/<backend>:latest`, as a
/// release process would: create, push, and remove the local copy.
pub struct Published {
    pub reference: String,
    second: PathBuf,
    _out: tempfile::TempDir,
}

/// Builds both, publishes the first.
pub fn publish(docker: &Docker, registry: &Registry, backend: &str) -> Published {
    let out = tempfile::Builder::new()
        .prefix("ballast-plugin-build-")
        .tempdir()
        .unwrap();
    let first = build(backend, &out.path().join("v1"));
    let second = build(backend, &out.path().join("v2"));
    let reference = format!(
        "{}/{PREFIX}{}/{backend}:latest",
        registry.addr,
        std::process::id()
    );
    push(docker, &first, &reference);
    Published {
        reference,
        second,
        _out: out,
    }
}

impl Published {
    /// The second build replaces the first under the same reference.
    pub fn publish_second(&self, docker: &Docker) {
        push(docker, &self.second, &self.reference);
    }
}

fn push(docker: &Docker, dir: &Path, reference: &str) {
    docker.ok(&["plugin", "create", reference, dir.to_str().unwrap()]);
    docker.ok(&["plugin", "push", reference]);
    docker.ok(&["plugin", "rm", reference]);
}

/// A plugin installed under an alias (the driver name); on drop, its
/// containers and volumes are removed, then the plugin.
pub struct Installed<'a> {
    pub docker: &'a Docker,
    pub alias: String,
    pub containers: std::cell::RefCell<Vec<String>>,
    pub volumes: std::cell::RefCell<Vec<String>>,
}

impl<'a> Installed<'a> {
    /// Guards `name` (a leftover of that name is removed first).
    fn new(docker: &'a Docker, name: &str) -> Installed<'a> {
        remove_plugin(docker, name);
        Installed {
            docker,
            alias: name.into(),
            containers: Default::default(),
            volumes: Default::default(),
        }
    }

    /// `docker plugin install --alias ALIAS REFERENCE SETTINGS…`, which
    /// also enables it; the settings include `state.source`.
    pub fn install(
        docker: &'a Docker,
        reference: &str,
        alias: &str,
        settings: &[String],
    ) -> Installed<'a> {
        let installed = Installed::new(docker, alias);
        let mut args = vec![
            "plugin",
            "install",
            "--grant-all-permissions",
            "--alias",
            alias,
            reference,
        ];
        args.extend(settings.iter().map(String::as_str));
        docker.ok(&args);
        installed
    }

    /// `docker plugin create NAME DIR`, `set` SETTINGS, `enable`: a build
    /// used in place, without a registry.
    pub fn create(
        docker: &'a Docker,
        dir: &Path,
        name: &str,
        settings: &[String],
    ) -> Installed<'a> {
        let installed = Installed::new(docker, name);
        docker.ok(&["plugin", "create", name, dir.to_str().unwrap()]);
        let mut args = vec!["plugin", "set", name];
        args.extend(settings.iter().map(String::as_str));
        docker.ok(&args);
        docker.ok(&["plugin", "enable", name]);
        installed
    }

    /// `docker volume create -d ALIAS --opt …` of `name` (removed on drop).
    pub fn create_volume(&self, name: &str, opts: &[&str]) {
        self.volumes.borrow_mut().push(name.into());
        let mut args = vec!["volume", "create", "-d", &self.alias];
        for opt in opts {
            args.extend(["--opt", opt]);
        }
        args.push(name);
        self.docker.ok(&args);
    }

    /// A container that runs `script` with `volume` at /data and is
    /// removed; its output.
    pub fn run_sh(&self, volume: &str, script: &str) -> String {
        let image = self.docker.busybox_image();
        let mount = format!("{volume}:/data");
        self.docker
            .ok(&["run", "--rm", "-v", &mount, image, "sh", "-c", script])
    }

    /// A container `name` that keeps `volume` in use until removed.
    pub fn hold(&self, name: &str, volume: &str) {
        let image = self.docker.busybox_image();
        self.containers.borrow_mut().push(name.into());
        let mount = format!("{volume}:/data");
        self.docker.ok(&[
            "run", "-d", "--name", name, "-v", &mount, image, "sleep", "3600",
        ]);
    }

    /// The plugin's `{{.Settings.Env}}`, `{{.PluginReference}}`, …
    pub fn inspect(&self, format: &str) -> String {
        self.docker
            .ok(&["plugin", "inspect", "--format", format, &self.alias])
    }
}

impl Drop for Installed<'_> {
    fn drop(&mut self) {
        for c in self.containers.borrow().iter() {
            let _ = self.docker.run(&["rm", "-f", c]);
        }
        for v in self.volumes.borrow().iter() {
            let _ = self.docker.run(&["volume", "rm", "-f", v]);
        }
        remove_plugin(self.docker, &self.alias);
    }
}

fn remove_plugin(docker: &Docker, name: &str) {
    let listed = docker.run(&["plugin", "inspect", "--format", "{{.Name}}", name]);
    if listed.success() {
        let _ = docker.run(&["plugin", "disable", "-f", name]);
        let _ = docker.run(&["plugin", "rm", "-f", name]);
    }
}

/// Plugins left by earlier runs that died (named `e2e-<pid>…` with a pid
/// no longer running): an identical rootfs cannot be created twice on one
/// daemon, and a leftover would keep its volumes' names.
pub fn remove_leftover_plugins(docker: &Docker) {
    let out = docker.run(&["plugin", "ls", "--format", "{{.Name}}"]);
    for name in out.stdout.lines() {
        // `e2e-<pid>-…`, `e2e-<pid>/…` or `<registry>/e2e-<pid>/…`.
        let stale = name.split('/').any(|part| {
            part.strip_prefix(PREFIX)
                .and_then(|rest| rest.split(['-', ':']).next())
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| pid != std::process::id() && !process_alive(pid))
        });
        if stale {
            eprintln!("docker: removing leftover plugin {name}");
            let _ = docker.run(&["plugin", "disable", "-f", name]);
            let _ = docker.run(&["plugin", "rm", "-f", name]);
        }
    }
}

/// A state directory on the machine for a plugin (`state.source`): Docker
/// does not create a bind mount's source, so it must exist before install.
pub fn state_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ballast-plugin-state-")
        .tempdir()
        .unwrap()
}

/// Where the plugin sees the state directory (config.json's `state` mount).
pub const STATE_IN_PLUGIN: &str = "/var/lib/ballast/state";

/// The `state.source=` setting.
pub fn state_setting(state: &Path) -> String {
    format!("state.source={}", state.display())
}

/// The setting pointing the plugin at the by-id links of `instance`'s
/// attached disks, for a simulator whose data directory is `<state>/sim`.
pub fn by_id_in_plugin(instance: &str) -> String {
    format!("BALLAST_PLUGIN__BY_ID_DIR={STATE_IN_PLUGIN}/sim/instances/{instance}/by-id")
}

/// The EBS plugin's settings to act as `instance` of `cloud` (whose data
/// directory is `<state>/sim`), in the cluster of test tag `tag`, with xfs.
pub fn ebs_settings(cloud: &SimCloud, state: &Path, instance: &str, tag: &str) -> Vec<String> {
    vec![
        state_setting(state),
        format!("EBS_ENDPOINT={}", cloud.api_url()),
        "EBS_REGION=us-east-1".into(),
        format!("EBS_ACCESSKEY={}", crate::cloud::ACCESS_KEY),
        format!("EBS_SECRETKEY={}", crate::cloud::SECRET_KEY),
        format!("EBS_TAG={}", SimCloud::cluster_tag(tag)),
        "REXRAY_FSTYPE=xfs".into(),
        format!(
            "BALLAST_METADATA_ENDPOINT={}",
            cloud.instance(instance).metadata_url
        ),
        by_id_in_plugin(instance),
    ]
}
