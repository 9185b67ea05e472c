//! A simulated AWS region for end-to-end tests of cloud backends: cloudsim
//! running in-process (with its hypervisor, so attached volumes become loop
//! devices with by-id links), and `ballast serve` processes that each play
//! one simulated instance — its metadata URL as their IMDS, its device
//! directory as their `/dev/disk/by-id`.
//!
//! The tests stay synchronous: the simulator runs on a runtime this harness
//! owns, and [`call`] makes one plugin request on a throwaway runtime.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cloudsim::ec2::model::Volume;
use cloudsim::faults::FaultPlan;
use cloudsim::world::Instance;
use cloudsim::{Running, SimConfig};

use crate::serve::{BallastConfig, BallastServe};

/// Keys the hosts sign with (the simulator checks that requests are signed).
pub const ACCESS_KEY: &str = "AKIDSIMULATED0000001";
pub const SECRET_KEY: &str = "simulated-secret-key";

/// A simulator with three AWS instances: `i-a` (us-east-1a, Nitro),
/// `i-b` (us-east-1a, Xen) and `i-c` (us-east-1b, Nitro).
pub struct SimCloud {
    running: Option<Running>,
    runtime: tokio::runtime::Runtime,
    /// Kept for its lifetime: the simulator's data directory.
    _dir: tempfile::TempDir,
}

impl SimCloud {
    /// Start it, or `None` (reason printed) without root and loop devices,
    /// which the hypervisor needs. `adjust` may change the config first.
    pub fn start(test: &str, adjust: impl FnOnce(&mut SimConfig)) -> Option<SimCloud> {
        if !crate::can_mount(test) {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("ballast-sim-")
            .tempdir()
            .expect("temp dir for the simulator");
        let mut config = SimConfig::fast(dir.path().to_owned()).with_test_instances();
        config.hypervisor = true;
        adjust(&mut config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the simulator");
        let running = runtime
            .block_on(cloudsim::start(config))
            .expect("starting cloudsim");
        Some(SimCloud {
            running: Some(running),
            runtime,
            _dir: dir,
        })
    }

    fn running(&self) -> &Running {
        self.running.as_ref().expect("running until dropped")
    }

    pub fn api_url(&self) -> &str {
        &self.running().api_url
    }

    pub fn instance(&self, id: &str) -> Instance {
        self.running().instance(id)
    }

    /// Install a fault plan (see tests/cloudsim/README.md).
    pub fn faults(&self, plan: serde_json::Value) {
        let plan: FaultPlan = serde_json::from_value(plan).expect("a valid fault plan");
        cloudsim::admin::apply_faults(&self.running().sim, plan).expect("fault plan accepted");
    }

    /// Clear the fault plan and the call counters.
    pub fn clear_faults(&self) {
        let sim = &self.running().sim;
        sim.faults.reset();
        sim.world().stale_ec2 = None;
    }

    /// Calls per `service:Action` since the last [`Self::clear_faults`].
    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.running().sim.faults.counters()
    }

    /// Power an instance off: its metadata stops answering, its
    /// attachments stay.
    pub fn kill(&self, id: &str) {
        assert!(
            cloudsim::admin::kill_instance(&self.running().sim, id),
            "no instance {id}"
        );
    }

    /// Every EBS volume the simulator holds.
    pub fn volumes(&self) -> Vec<Volume> {
        self.running()
            .sim
            .world()
            .ec2
            .volumes
            .values()
            .cloned()
            .collect()
    }

    /// The volumes tagged `ballast.volume=<name>`.
    pub fn volumes_named(&self, name: &str) -> Vec<Volume> {
        self.volumes()
            .into_iter()
            .filter(|v| v.tags.get("ballast.volume").map(String::as_str) == Some(name))
            .collect()
    }

    /// Snapshot ids the simulator holds.
    pub fn snapshots(&self) -> Vec<String> {
        let sim = &self.running().sim;
        sim.world().ec2.snapshots.keys().cloned().collect()
    }

    /// The file behind volume `id` (its data, whichever instance has it).
    pub fn backing_file(&self, id: &str) -> PathBuf {
        self.running().sim.hypervisor.backing_file(id)
    }

    /// A `ballast serve` acting as instance `instance`, serving the EBS
    /// backend under a private socket directory. `settings` go to the
    /// backend (besides the endpoint, region, keys and cluster tag).
    pub fn ebs_host(&self, instance: &str, tag: &str, settings: &[(&str, &str)]) -> BallastServe {
        BallastServe::start(self.ebs_config(instance, tag, settings))
    }

    /// The config [`Self::ebs_host`] starts with, to adjust first.
    pub fn ebs_config(
        &self,
        instance: &str,
        tag: &str,
        settings: &[(&str, &str)],
    ) -> BallastConfig {
        let module = crate::module("ballast_ebs").display().to_string();
        let capabilities = ["log", "kv", "instance", "ec2"];
        self.aws_config(instance, tag, "ebs", &module, &capabilities, settings)
    }

    /// A `ballast serve` acting as instance `instance`, serving the
    /// built-in EFS backend (settings as for [`Self::ebs_host`]).
    pub fn efs_host(&self, instance: &str, tag: &str, settings: &[(&str, &str)]) -> BallastServe {
        BallastServe::start(self.efs_config(instance, tag, settings))
    }

    /// The config [`Self::efs_host`] starts with.
    pub fn efs_config(
        &self,
        instance: &str,
        tag: &str,
        settings: &[(&str, &str)],
    ) -> BallastConfig {
        let capabilities = ["log", "instance", "efs"];
        self.aws_config(instance, tag, "efs", "builtin:efs", &capabilities, settings)
    }

    /// The config of an AWS backend (`backend`, prefix of its settings in
    /// upper case) acting as `instance`, granted `capabilities`.
    fn aws_config(
        &self,
        instance: &str,
        tag: &str,
        backend: &str,
        module: &str,
        capabilities: &[&str],
        settings: &[(&str, &str)],
    ) -> BallastConfig {
        let machine = self.instance(instance);
        let mut config = BallastConfig::local(&format!("{backend}-{tag}-{instance}"));
        config.socket_dir = config.dir.path().join("sockets");
        config.by_id_dir = Some(machine.device_dir.clone());
        config.backend = backend.into();
        let prefix = backend.to_ascii_uppercase();
        let mut all: Vec<(String, String)> = vec![
            (format!("{prefix}_ENDPOINT"), self.api_url().into()),
            (format!("{prefix}_REGION"), "us-east-1".into()),
            (format!("{prefix}_ACCESSKEY"), ACCESS_KEY.into()),
            (format!("{prefix}_SECRETKEY"), SECRET_KEY.into()),
            // One cluster per test, so tests never see each other's volumes.
            (format!("{prefix}_TAG"), Self::cluster_tag(tag)),
        ];
        all.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let settings = crate::serve::inline_table(&all);
        config.backend_toml = format!(
            "module = {module:?}\n\
             capabilities = {capabilities:?}\n\
             settings = {{ {settings} }}\n\
             instance = {{ source = \"aws-imds\", metadata_endpoint = {:?} }}\n",
            machine.metadata_url,
        );
        config
    }

    /// EFS's resources as the simulator holds them now.
    pub fn efs(&self) -> cloudsim::efs::EfsState {
        self.running().sim.world().efs.clone()
    }

    /// A file system made as an operator makes one outside Ballast
    /// (creation token `token`), waited for until available; its id.
    pub fn create_file_system(&self, token: &str) -> String {
        use ballast::capabilities::efs::Efs;
        use ballast::runtime::bindings::ballast::backend::efs as wit;
        let config = efs_backend_config(self.api_url(), None, Some("us-east-1a"));
        let efs = Efs::from_config("operator", &config).expect("an efs client");
        let request = file_system_request(token);
        let policy = wit::WaitPolicy {
            initial_delay_ms: 50,
            max_attempts: 100,
            timeout_ms: 30_000,
        };
        self.runtime.block_on(async {
            let made = efs
                .create_file_system(&request)
                .await
                .expect("CreateFileSystem");
            efs.wait_file_system(&made.file_system_id, wit::WaitFor::Available, &policy)
                .await
                .expect("the file system becomes available")
                .file_system_id
        })
    }

    /// A `ballast serve` acting as GCE instance `instance` (see
    /// [`with_gce_instances`]), serving the built-in gcepd backend.
    pub fn gce_host(&self, instance: &str, tag: &str, settings: &[(&str, &str)]) -> BallastServe {
        BallastServe::start(self.gce_config(instance, tag, settings))
    }

    /// The config [`Self::gce_host`] starts with: the Compute Engine API is
    /// the simulator's, reached through the `http` capability with the
    /// instance's metadata-server token (credential "gce"); identity from
    /// that metadata server.
    pub fn gce_config(
        &self,
        instance: &str,
        tag: &str,
        settings: &[(&str, &str)],
    ) -> BallastConfig {
        let machine = self.instance(instance);
        let api = self.api_url().trim_end_matches('/').to_string();
        let mut config = BallastConfig::local(&format!("gcepd-{tag}-{instance}"));
        config.socket_dir = config.dir.path().join("sockets");
        config.by_id_dir = Some(machine.device_dir.clone());
        config.backend = "gcepd".into();
        let mut all: Vec<(String, String)> = vec![
            ("GCEPD_ENDPOINT".into(), format!("{api}/compute/v1")),
            ("GCEPD_TAG".into(), Self::cluster_tag(tag)),
        ];
        all.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let settings = crate::serve::inline_table(&all);
        config.backend_toml = format!(
            "module = \"builtin:gcepd\"\n\
             capabilities = [\"log\", \"instance\", \"http\"]\n\
             settings = {{ {settings} }}\n\
             instance = {{ source = \"gce-metadata\", metadata_endpoint = {meta:?} }}\n",
            meta = machine.metadata_url,
        );
        config.extra = format!(
            "[backends.gcepd.http]\n\
             allow = [{api:?}]\n\
             allow_loopback = true\n\
             [backends.gcepd.http.credentials.gce]\n\
             provider = \"gce-metadata\"\n\
             hosts = [{api:?}]\n\
             metadata_endpoint = {meta:?}\n",
            meta = machine.metadata_url,
        );
        config
    }

    /// Compute Engine's disks as the simulator holds them now, boot disks
    /// left out.
    pub fn gce_disks(&self) -> Vec<cloudsim::gce::disks::Disk> {
        let world = self.running().sim.world();
        let boot: Vec<&str> = world.instances.keys().map(String::as_str).collect();
        world
            .gce
            .disks
            .values()
            .filter(|d| !boot.contains(&d.name.as_str()))
            .cloned()
            .collect()
    }

    /// The instances disk `name` (zone `zone`) is attached to.
    pub fn gce_users(&self, zone: &str, name: &str) -> Vec<String> {
        let world = self.running().sim.world();
        let key = (zone.to_string(), name.to_string());
        world
            .gce
            .attachments
            .iter()
            .filter(|(_, disks)| disks.iter().any(|a| a.disk == key))
            .map(|(instance, _)| instance.clone())
            .collect()
    }

    /// The file behind GCE disk `disk`.
    pub fn gce_backing_file(&self, disk: &cloudsim::gce::disks::Disk) -> PathBuf {
        self.running().sim.hypervisor.backing_file(&disk.backing())
    }

    /// Every access token the simulated GCE metadata servers and token
    /// endpoint issued.
    pub fn gce_tokens(&self) -> Vec<String> {
        self.running()
            .sim
            .world()
            .gce_tokens
            .iter()
            .cloned()
            .collect()
    }

    /// Make Compute Engine refuse `forceAttach` of zonal disks, as it does.
    pub fn gce_real_force_attach(&self, on: bool) {
        self.running().sim.world().gce.real_force_attach = on;
    }

    /// The cluster tag [`Self::ebs_config`] gives hosts of test `tag`.
    pub fn cluster_tag(tag: &str) -> String {
        format!("{tag}-{}", std::process::id())
    }
}

/// The GCE instances the gcepd tests play: `node-1` and `node-2` in
/// us-central1-a, `node-3` in us-central1-b (besides the AWS ones).
pub fn with_gce_instances(config: &mut SimConfig) {
    for (name, zone) in [
        ("node-1", "us-central1-a"),
        ("node-2", "us-central1-a"),
        ("node-3", "us-central1-b"),
    ] {
        config.instances.push(cloudsim::config::InstanceSpec {
            id: name.into(),
            provider: cloudsim::Provider::Gce,
            zone: zone.into(),
            instance_type: "n2-standard-2".into(),
        });
    }
}

impl Drop for SimCloud {
    fn drop(&mut self) {
        // Stops the listeners and loop-detaches every simulated volume.
        let running = self.running.take();
        let _guard = self.runtime.enter();
        drop(running);
    }
}

/// One plugin request: `POST <endpoint>` with a JSON body over `socket`.
/// The status and the answer as JSON (panics on a transport failure).
pub fn call(socket: &Path, endpoint: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for one call");
    let path = format!("/VolumeDriver.{endpoint}");
    let request = crate::plugin::post_raw(socket, &path, body.to_string().into());
    let (status, bytes) = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(180), request).await })
        .unwrap_or_else(|_| panic!("{endpoint}: no answer within 180 s"));
    let value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{endpoint}: answer is not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, value)
}

/// A plugin request that must succeed; its answer.
pub fn call_ok(socket: &Path, endpoint: &str, body: serde_json::Value) -> serde_json::Value {
    let (status, answer) = call(socket, endpoint, body.clone());
    assert_eq!(status, 200, "{endpoint} {body}: {answer}");
    answer
}

/// A plugin request that must fail; its `Err` text.
pub fn call_err(socket: &Path, endpoint: &str, body: serde_json::Value) -> String {
    let (status, answer) = call(socket, endpoint, body.clone());
    assert_ne!(
        status, 200,
        "{endpoint} {body} should fail, answered {answer}"
    );
    answer["Err"].as_str().unwrap_or_default().to_string()
}

/// Docker's volume calls on a host's plugin socket, as dockerd makes them.
/// Each returns the plugin's `Err` text on failure.
pub trait PluginCalls {
    fn socket_path(&self) -> PathBuf;

    fn request(
        &self,
        endpoint: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let (status, answer) = call(&self.socket_path(), endpoint, body);
        match answer["Err"].as_str() {
            Some(err) if !err.is_empty() || status != 200 => Err(err.to_string()),
            _ if status != 200 => Err(format!("HTTP {status}: {answer}")),
            _ => Ok(answer),
        }
    }

    fn create(&self, name: &str, options: &[(&str, &str)]) -> Result<(), String> {
        let opts: serde_json::Map<String, serde_json::Value> = options
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        self.request("Create", serde_json::json!({"Name": name, "Opts": opts}))
            .map(drop)
    }

    /// Mount for Docker mount `id`; the directory handed to Docker.
    fn mount(&self, name: &str, id: &str) -> Result<PathBuf, String> {
        let answer = self.request("Mount", serde_json::json!({"Name": name, "ID": id}))?;
        Ok(PathBuf::from(
            answer["Mountpoint"].as_str().unwrap_or_default(),
        ))
    }

    fn unmount(&self, name: &str, id: &str) -> Result<(), String> {
        self.request("Unmount", serde_json::json!({"Name": name, "ID": id}))
            .map(drop)
    }

    fn remove(&self, name: &str) -> Result<(), String> {
        self.request("Remove", serde_json::json!({"Name": name}))
            .map(drop)
    }

    /// Get's `Volume` object (Name, Mountpoint, Status).
    fn get(&self, name: &str) -> Result<serde_json::Value, String> {
        let answer = self.request("Get", serde_json::json!({"Name": name}))?;
        Ok(answer["Volume"].clone())
    }
}

impl PluginCalls for BallastServe {
    fn socket_path(&self) -> PathBuf {
        self.config().socket()
    }
}

/// Write `text` to `dir/file` and flush it to the device.
pub fn write_synced(dir: &Path, file: &str, text: &str) {
    use std::io::Write;
    let path = dir.join(file);
    let mut f = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    f.write_all(text.as_bytes()).unwrap();
    f.sync_all().unwrap();
}

/// The config of a backend granted `efs` (and `log`) against a simulated
/// (or moto's) EFS at `api_url`, set the way an operator sets it: REX-Ray's
/// `EFS_REGION`, `EFS_ENDPOINT`, `EFS_ACCESSKEY`, `EFS_SECRETKEY`. With a
/// `metadata_url` the host is that instance (its IMDS); without, its
/// identity is static, in `static_zone`.
pub fn efs_backend_config(
    api_url: &str,
    metadata_url: Option<&str>,
    static_zone: Option<&str>,
) -> ballast::config::BackendConfig {
    use ballast::config::{BackendConfig, InstanceConfig, InstanceSource};
    let settings = [
        ("EFS_REGION", "us-east-1"),
        ("EFS_ENDPOINT", api_url),
        ("EFS_ACCESSKEY", ACCESS_KEY),
        ("EFS_SECRETKEY", SECRET_KEY),
    ];
    let instance = match metadata_url {
        Some(url) => InstanceConfig {
            source: InstanceSource::AwsImds,
            metadata_endpoint: Some(url.into()),
            ..Default::default()
        },
        None => InstanceConfig {
            zone: static_zone.map(String::from),
            ..Default::default()
        },
    };
    BackendConfig {
        module: "/efs.wasm".into(),
        capabilities: vec!["log".into(), "efs".into()],
        settings: settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        instance,
        ..Default::default()
    }
}

/// CreateFileSystem's request for a plain Regional file system made with
/// creation token `token` (and named so).
pub fn file_system_request(
    token: &str,
) -> ballast::runtime::bindings::ballast::backend::efs::CreateFileSystemRequest {
    ballast::runtime::bindings::ballast::backend::efs::CreateFileSystemRequest {
        creation_token: token.into(),
        performance_mode: None,
        throughput_mode: None,
        provisioned_throughput_mibps: None,
        encrypted: false,
        kms_key_id: None,
        availability_zone: None,
        tags: vec![("Name".into(), token.into())],
    }
}
