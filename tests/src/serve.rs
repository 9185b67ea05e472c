//! A running `ballast serve` for end-to-end tests: the built-in local
//! backend registered as a Docker legacy plugin, with its state, images and
//! mountpoints in a temporary directory.
//!
//! [`BallastServe::start`] waits until the plugin socket answers
//! `POST /Plugin.Activate`. Dropping it stops the host with SIGTERM (a
//! bounded wait, then SIGKILL), then undoes whatever the host left on the
//! machine under its directories (mounts, loop devices) and removes them.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::ballast_bin;
use crate::docker::{keep_log, log_tail, run_command, signal, wait_until};

/// Every driver name these tests register starts with this; the Docker
/// harness removes volumes of such drivers that earlier runs left.
pub const DRIVER_PREFIX: &str = "ballast-e2e-";
/// Where dockerd looks for legacy plugin sockets.
pub const DOCKER_PLUGIN_DIR: &str = "/run/docker/plugins";
/// Limit for the host to answer on its socket after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// Limit for the host to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where one host keeps everything, and the config file it reads.
pub struct BallastConfig {
    pub dir: tempfile::TempDir,
    pub driver: String,
    pub socket_dir: PathBuf,
    pub data_dir: PathBuf,
    pub mount_root: PathBuf,
    /// `[plugin] by_id_dir` (the simulated instance's device directory).
    pub by_id_dir: Option<PathBuf>,
    /// The backend's name in the config (`local`, `ebs`, ...).
    pub backend: String,
    /// The body of its `[backends.<name>]` table, without `driver`.
    pub backend_toml: String,
    /// More TOML appended to the config file.
    pub extra: String,
}

/// Key/value pairs as the inside of a TOML inline table: `"K" = "V", ...`.
pub fn inline_table(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k:?} = {v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl BallastConfig {
    /// The built-in local backend under driver `ballast-e2e-<tag>-<pid>`, its
    /// socket in dockerd's legacy plugin directory.
    pub fn local(tag: &str) -> BallastConfig {
        let dir = tempfile::Builder::new()
            .prefix("ballast-e2e-")
            .tempdir()
            .expect("temp dir for the host");
        let tag: String = tag
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        BallastConfig {
            driver: format!("{DRIVER_PREFIX}{tag}-{}", std::process::id()),
            socket_dir: PathBuf::from(DOCKER_PLUGIN_DIR),
            data_dir: dir.path().join("state"),
            mount_root: dir.path().join("volumes"),
            by_id_dir: None,
            dir,
            backend: "local".into(),
            backend_toml: "module = \"builtin:local\"\n\
                           capabilities = [\"log\", \"kv\", \"local-disk\"]\n"
                .into(),
            extra: String::new(),
        }
    }

    /// The config file's text.
    pub fn toml(&self) -> String {
        let by_id = self
            .by_id_dir
            .as_ref()
            .map(|d| format!("by_id_dir = {:?}\n", d.display().to_string()))
            .unwrap_or_default();
        format!(
            "data_dir = {:?}\n\n[plugin]\nsocket_dir = {:?}\nmount_root = {:?}\n{by_id}\n\
             [backends.{}]\n{}driver = {:?}\n{}",
            self.data_dir.display().to_string(),
            self.socket_dir.display().to_string(),
            self.mount_root.display().to_string(),
            self.backend,
            self.backend_toml,
            self.driver,
            self.extra
        )
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("ballast.toml")
    }

    pub fn socket(&self) -> PathBuf {
        self.socket_dir.join(format!("{}.sock", self.driver))
    }

    /// Where the backend keeps disk images (the local backend's volumes).
    pub fn image_dir(&self) -> PathBuf {
        self.data_dir
            .join("backends")
            .join(&self.backend)
            .join("images")
    }
}

/// A `ballast serve` process; see the module documentation.
pub struct BallastServe {
    config: BallastConfig,
    child: Option<Child>,
    log: PathBuf,
    starts: u32,
}

impl BallastServe {
    /// Writes the config, starts the host and waits until it answers.
    pub fn start(config: BallastConfig) -> BallastServe {
        Self::try_start(config).unwrap_or_else(|refusal| panic!("{refusal}"))
    }

    /// As [`Self::start`], but a host that exits before its socket answers
    /// (a config it refuses) is an `Err` with its log's tail.
    pub fn try_start(config: BallastConfig) -> Result<BallastServe, String> {
        fs::create_dir_all(&config.socket_dir).expect("creating the plugin socket dir");
        fs::create_dir_all(config.image_dir()).expect("creating the image dir");
        fs::write(config.config_path(), config.toml()).expect("writing the config");
        let log = config.dir.path().join("ballast.log");
        let mut serve = BallastServe {
            config,
            child: None,
            log,
            starts: 0,
        };
        serve.spawn()?;
        Ok(serve)
    }

    fn spawn(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "the host is already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("opening the host log");
        self.starts += 1;
        let _ = writeln!(&log, "===== harness: start #{} =====", self.starts);
        let bin = ballast_bin();
        let child = Command::new(&bin)
            .arg("--config")
            .arg(self.config.config_path())
            .arg("serve")
            .env(
                "BALLAST_LOG",
                std::env::var("BALLAST_LOG").unwrap_or_else(|_| "info,ballast=debug".into()),
            )
            // JSON lines: [`Self::calls`] reads the request spans from them.
            .env("BALLAST_LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        eprintln!(
            "ballast: started {} serve (pid {}), driver {}, log {}",
            bin.display(),
            child.id(),
            self.config.driver,
            self.log.display()
        );
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let socket = self.config.socket();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!(
                    "ballast serve exited ({status}) before its socket answered; log tail:\n{}",
                    log_tail(&self.log, 40)
                ));
            }
            if let Ok(reply) = capabilities(&socket)
                && reply.contains("Scope")
            {
                eprintln!(
                    "ballast: socket {} answered after {:.1}s",
                    socket.display(),
                    started.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                let last = capabilities(&socket).unwrap_or_else(|e| e);
                panic!(
                    "ballast serve did not answer POST /VolumeDriver.Capabilities on {} within {}s (last: {last}); log tail:\n{}",
                    socket.display(),
                    READY_TIMEOUT.as_secs(),
                    log_tail(&self.log, 40)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn driver(&self) -> &str {
        &self.config.driver
    }

    pub fn config(&self) -> &BallastConfig {
        &self.config
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything the host logged so far (all its runs).
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// The plugin requests the host answered so far (all its runs), from
    /// the per-request span of its JSON log lines.
    pub fn calls(&self) -> Vec<Call> {
        self.log().lines().filter_map(Call::parse).collect()
    }

    /// The requests about volume `name`, one line each, for messages.
    pub fn calls_text(&self, volume: &str) -> String {
        self.calls()
            .iter()
            .filter(|c| c.volume == volume)
            .map(|c| format!("    {c}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `kill -9` of the host; waits until it is gone.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("the host is not running");
        eprintln!("ballast: kill -9 {}", child.id());
        child.kill().expect("SIGKILL to the host");
        let _ = child.wait();
    }

    /// Stops the host with SIGTERM (bounded wait, then SIGKILL).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        signal(child.id(), libc::SIGTERM);
        let mut status = None;
        let exited = wait_until(STOP_TIMEOUT, || {
            status = child.try_wait().ok().flatten();
            status.is_some()
        });
        if !exited {
            eprintln!(
                "ballast: pid {} ignored SIGTERM for {}s; killing it",
                child.id(),
                STOP_TIMEOUT.as_secs()
            );
            let _ = child.kill();
            status = child.wait().ok();
        }
        status
    }

    /// Starts the host again with the same config (after [`Self::kill9`]
    /// or [`Self::stop`]; stops it first if it is running).
    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        self.spawn().unwrap_or_else(|refusal| panic!("{refusal}"));
    }

    /// `<data_dir>/backends/local/images/<name>.img`.
    pub fn image_path(&self, volume: &str) -> PathBuf {
        self.config.image_dir().join(format!("{volume}.img"))
    }

    /// `<mount_root>/<name>`.
    pub fn mountpoint(&self, volume: &str) -> PathBuf {
        self.config.mount_root.join(volume)
    }

    /// Whether `<mount_root>/<name>` is a mount point (/proc/self/mountinfo).
    pub fn is_mounted(&self, volume: &str) -> bool {
        mount_points().contains(&self.mountpoint(volume))
    }

    /// Type and source of the mount at `<mount_root>/<name>`, e.g.
    /// `("ext4", "/dev/loop3")`.
    pub fn mount_of(&self, volume: &str) -> Option<(String, String)> {
        let target = self.mountpoint(volume);
        mounts()
            .into_iter()
            .find(|m| m.target == target)
            .map(|m| (m.fstype, m.source))
    }

    /// The loop devices backed by the volume's image (`losetup -j`).
    pub fn loop_devices(&self, volume: &str) -> Vec<String> {
        loop_devices_of(&self.image_path(volume))
    }

    /// Undoes what the host left under its directories: mounts under the
    /// mount root, loop devices over its images. Returns what it undid.
    fn undo_leftovers(&self) -> Vec<String> {
        let mut undone = Vec::new();
        let root = &self.config.mount_root;
        let mut mounts: Vec<PathBuf> = mount_points()
            .into_iter()
            .filter(|m| m.starts_with(root))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
        for mount in mounts {
            let path = mount.to_string_lossy().into_owned();
            let done = run_command(Command::new("umount").arg(&path), Duration::from_secs(30))
                .is_ok_and(|o| o.success())
                || run_command(
                    Command::new("umount").args(["-l", &path]),
                    Duration::from_secs(30),
                )
                .is_ok_and(|o| o.success());
            undone.push(format!(
                "umount {path}: {}",
                if done { "ok" } else { "FAILED" }
            ));
        }
        if let Ok(images) = fs::read_dir(self.config.image_dir()) {
            for image in images.flatten() {
                for dev in loop_devices_of(&image.path()) {
                    let done = run_command(
                        Command::new("losetup").args(["-d", &dev]),
                        Duration::from_secs(30),
                    )
                    .is_ok_and(|o| o.success());
                    undone.push(format!(
                        "losetup -d {dev} ({}): {}",
                        image.path().display(),
                        if done { "ok" } else { "FAILED" }
                    ));
                }
            }
        }
        undone
    }
}

impl Drop for BallastServe {
    fn drop(&mut self) {
        if let Some(status) = self.stop() {
            eprintln!("ballast: stopped ({status})");
        }
        for line in self.undo_leftovers() {
            eprintln!("ballast cleanup: {line}");
        }
        // A socket the host did not remove (it was killed) would make dockerd
        // try a dead plugin.
        let _ = fs::remove_file(self.config.socket());
        if std::thread::panicking() {
            keep_log(&self.log, &format!("{}-ballast.log", self.config.driver));
        }
    }
}

/// One plugin request as the host logged it when it finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `Create`, `Mount`, `Unmount`, `Get`, ... (no `VolumeDriver.` prefix).
    pub endpoint: String,
    pub volume: String,
    /// The mount ID of Mount and Unmount.
    pub id: Option<String>,
    pub ok: bool,
    /// `done`, or `failed: <error>`.
    pub message: String,
}

impl Call {
    /// A JSON log line closing a `request` span, if `line` is one.
    fn parse(line: &str) -> Option<Call> {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        let span = value.get("span")?;
        if span.get("name")?.as_str()? != "request" {
            return None;
        }
        let fields = value.get("fields")?;
        let outcome = fields.get("outcome")?.as_str()?;
        let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
        let endpoint = text(span.get("endpoint"))?;
        Some(Call {
            endpoint: endpoint
                .strip_prefix("VolumeDriver.")
                .unwrap_or(&endpoint)
                .to_owned(),
            volume: text(span.get("volume")).unwrap_or_default(),
            id: text(span.get("id")).filter(|id| !id.is_empty()),
            ok: outcome == "ok",
            message: text(fields.get("message")).unwrap_or_default(),
        })
    }
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.endpoint, self.volume)?;
        if let Some(id) = &self.id {
            write!(f, " id={}", &id[..id.len().min(12)])?;
        }
        write!(f, " -> {}", if self.ok { "ok" } else { &self.message })
    }
}

/// POST /VolumeDriver.Capabilities over `socket`; the answer's text. Not
/// Activate: dockerd activates once per dockerd process, and the host
/// counts that as a new dockerd session.
pub fn capabilities(socket: &Path) -> Result<String, String> {
    if !socket.exists() {
        return Err(format!("{} does not exist yet", socket.display()));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let call = crate::plugin::try_post_raw(socket, "/VolumeDriver.Capabilities", "".into());
    let (_, body) = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), call).await })
        .map_err(|_| "no answer within 10 s".to_string())??;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// One line of /proc/self/mountinfo.
pub struct MountEntry {
    pub target: PathBuf,
    pub fstype: String,
    pub source: String,
}

/// The mounts of this mount namespace.
pub fn mounts() -> Vec<MountEntry> {
    let text = fs::read_to_string("/proc/self/mountinfo").expect("reading /proc/self/mountinfo");
    text.lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let target = before.split(' ').nth(4)?;
            let mut after = after.split(' ');
            Some(MountEntry {
                target: PathBuf::from(unescape_mountinfo(target)),
                fstype: after.next()?.to_owned(),
                source: unescape_mountinfo(after.next()?),
            })
        })
        .collect()
}

/// Mount points of this mount namespace, unescaped.
pub fn mount_points() -> Vec<PathBuf> {
    mounts().into_iter().map(|m| m.target).collect()
}

fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && let Ok(code) = u8::from_str_radix(&field[i + 1..i + 4], 8)
        {
            out.push(code);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Loop devices backed by `file` (`losetup -j FILE`), e.g. `/dev/loop3`.
pub fn loop_devices_of(file: &Path) -> Vec<String> {
    let out = run_command(
        Command::new("losetup").arg("-j").arg(file),
        Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    out.stdout
        .lines()
        .filter_map(|line| line.split_once(':').map(|(dev, _)| dev.to_string()))
        .collect()
}

/// Writes a DOS partition table (one Linux partition) into `image`: a
/// signature `blkid -p` reports, so a host must refuse to format it.
pub fn write_dos_partition_table(image: &Path) {
    let len = fs::metadata(image)
        .unwrap_or_else(|e| panic!("{}: {e}", image.display()))
        .len();
    let sectors = (len / 512) as u32;
    let mut entry = [0u8; 16];
    entry[4] = 0x83;
    entry[8..12].copy_from_slice(&2048u32.to_le_bytes());
    entry[12..16].copy_from_slice(&(sectors.saturating_sub(2048)).to_le_bytes());
    let mut file = OpenOptions::new().write(true).open(image).unwrap();
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(446)).unwrap();
    file.write_all(&entry).unwrap();
    file.seek(SeekFrom::Start(510)).unwrap();
    file.write_all(&[0x55, 0xAA]).unwrap();
    file.sync_all().unwrap();
}

/// `blkid -p -o export DEVICE_OR_FILE` as key/value pairs (empty when blank).
pub fn blkid_probe(path: &Path) -> Vec<(String, String)> {
    let out = run_command(
        Command::new("blkid").args(["-p", "-o", "export"]).arg(path),
        Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    out.stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
