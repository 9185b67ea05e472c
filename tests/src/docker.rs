//! A real Docker engine for end-to-end tests.
//!
//! [`Docker::ensure`] uses the daemon that answers `docker info`, or starts
//! `dockerd` itself (log in a temp dir) and stops it again, by PID, when the
//! [`Docker`] is dropped. Every Docker test on this machine runs under one
//! lock file, so scenarios never share a daemon, a swarm or the legacy
//! plugin directory with each other, even across test processes.
//!
//! Commands run with a time limit and fail with the command line, the exit
//! status, both output streams and the tails of the relevant logs.
//! Containers, services and volumes a test names through [`Docker::track_container`]
//! and friends are removed when the [`Docker`] is dropped, before the daemon
//! stops; a swarm it initialised is left.
//!
//! [`E2e`] puts the pieces together for a scenario: the daemon, the busybox
//! image and a `ballast serve` of the built-in local backend registered as a
//! legacy plugin under a driver name no other run uses.

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::serve::{BallastConfig, BallastServe};

/// Tag of the image [`Docker::busybox_image`] imports.
pub const BUSYBOX_IMAGE: &str = "ballast-test/busybox:latest";
/// Limit for one docker command (a mount formats a file system; swarm is slow).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(180);
/// Limit for dockerd to answer after it was started.
const DAEMON_START_TIMEOUT: Duration = Duration::from_secs(90);
/// Limit for dockerd to exit after SIGTERM (it stops containers first).
const DAEMON_STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// Limit for waiting on another test process's Docker scenario.
const LOCK_TIMEOUT: Duration = Duration::from_secs(45 * 60);
/// Arguments of the dockerd this harness starts (also on a restart).
const DOCKERD_ARGS: &[&str] = &[];
/// Where the harness keeps its lock and the PID of a dockerd it started.
const STATE_DIR: &str = "/run/ballast-e2e";
/// Busybox applets linked into the image.
const APPLETS: &[&str] = &[
    "sh", "cat", "echo", "ls", "sleep", "dd", "sync", "md5sum", "touch", "mkdir", "rm", "test",
    "[", "stat", "df", "mount", "grep", "wc", "head", "tail", "true", "false", "printf", "env",
    "id", "ps", "kill", "cp", "mv", "find", "seq", "cmp",
];

/// Exit status and output of a finished command.
#[derive(Debug)]
pub struct Output {
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// A readable account of the command and its result.
    pub fn describe(&self) -> String {
        format!(
            "command: {}\nexit: {}\nstdout:\n{}\nstderr:\n{}",
            self.command,
            self.status,
            indent(&self.stdout),
            indent(&self.stderr)
        )
    }
}

fn indent(text: &str) -> String {
    if text.trim().is_empty() {
        return "    (empty)".into();
    }
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `cmd` to completion, killing it after `timeout`.
pub fn run_command(cmd: &mut Command, timeout: Duration) -> Result<Output, String> {
    let shown = show_command(cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{shown}` did not finish within {}s and was killed\nstdout:\n{}\nstderr:\n{}",
                    timeout.as_secs(),
                    indent(&out.join().unwrap_or_default()),
                    indent(&err.join().unwrap_or_default())
                ));
            }
            Err(e) => return Err(format!("waiting for `{shown}`: {e}")),
        }
    };
    Ok(Output {
        command: shown,
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn show_command(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || "'\"$;&|".contains(c)) {
            parts.push(format!("'{}'", arg.replace('\'', r"'\''")));
        } else {
            parts.push(arg.into_owned());
        }
    }
    parts.join(" ")
}

/// Runs a plain host command that must succeed; returns its stdout.
pub fn host_ok(program: &str, args: &[&str]) -> String {
    let out = run_command(Command::new(program).args(args), COMMAND_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.success(), "host command failed\n{}", out.describe());
    out.stdout
}

/// Polls `done` every 100 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last `lines` lines of a log file, for failure messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Like [`log_tail`], without dockerd's gRPC and containerd chatter.
pub fn log_tail_filtered(path: &Path, lines: usize) -> String {
    let noise = [
        "module=grpc",
        "loading plugin \\\"io.containerd",
        "starting signal loop",
    ];
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let kept: Vec<String> = text
                .lines()
                .filter(|l| !noise.iter().any(|n| l.contains(n)))
                .map(compact_json_line)
                .collect();
            kept[kept.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// A tracing JSON log line as `time LEVEL target: message k=v {span}`;
/// other lines as they are.
fn compact_json_line(line: &str) -> String {
    let Ok(serde_json::Value::Object(v)) = serde_json::from_str::<serde_json::Value>(line) else {
        return line.to_owned();
    };
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let time = v.get("timestamp").map(text).unwrap_or_default();
    let mut out = format!(
        "{} {} {}:",
        time.get(11..23).unwrap_or(&time),
        v.get("level").map(text).unwrap_or_default(),
        v.get("target").map(text).unwrap_or_default()
    );
    if let Some(serde_json::Value::Object(fields)) = v.get("fields") {
        if let Some(message) = fields.get("message") {
            out.push_str(&format!(" {}", text(message)));
        }
        for (k, val) in fields.iter().filter(|(k, _)| *k != "message") {
            out.push_str(&format!(" {k}={}", text(val)));
        }
    }
    if let Some(serde_json::Value::Object(span)) = v.get("span") {
        let inner: Vec<String> = span
            .iter()
            .filter(|(k, _)| *k != "name" && *k != "driver")
            .map(|(k, val)| format!("{k}={}", text(val)))
            .collect();
        out.push_str(&format!(" {{{}}}", inner.join(" ")));
    }
    out
}

/// Where logs of failed tests are kept.
pub const KEPT_LOGS_DIR: &str = "/tmp/ballast-e2e-logs";

/// Copies `log` to [`KEPT_LOGS_DIR`]/`name` (a failed test's temp dirs go
/// away) and says where.
pub fn keep_log(log: &Path, name: &str) {
    let dest = Path::new(KEPT_LOGS_DIR).join(name);
    match fs::create_dir_all(KEPT_LOGS_DIR).and_then(|()| fs::copy(log, &dest)) {
        Ok(_) => eprintln!("kept {} as {}", log.display(), dest.display()),
        Err(e) => eprintln!("could not keep {}: {e}", log.display()),
    }
}

/// Whether process `pid` is alive (a zombie counts as gone).
pub fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) with a PID this harness started; no memory involved.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A dockerd this process started (or adopted from a run of this harness
/// that died before stopping it).
struct Daemon {
    pid: u32,
    child: Option<Child>,
    log: PathBuf,
    log_dir_keep: Option<tempfile::TempDir>,
}

impl Daemon {
    fn marker() -> PathBuf {
        Path::new(STATE_DIR).join("dockerd.pid")
    }

    fn start(dockerd: &Path, docker: &Path, log_dir: &Path) -> Result<Daemon, String> {
        let log = log_dir.join("dockerd.log");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("creating {}: {e}", log.display()))?;
        let child = Command::new(dockerd)
            .args(DOCKERD_ARGS)
            .stdin(Stdio::null())
            .stdout(file.try_clone().map_err(|e| e.to_string())?)
            .stderr(file)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", dockerd.display()))?;
        let pid = child.id();
        let _ = fs::write(Self::marker(), pid.to_string());
        let mut daemon = Daemon {
            pid,
            child: Some(child),
            log,
            log_dir_keep: None,
        };
        eprintln!(
            "docker: started dockerd (pid {pid}), log {}",
            daemon.log.display()
        );
        let started = Instant::now();
        loop {
            if let Some(child) = daemon.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let _ = fs::remove_file(Self::marker());
                return Err(format!(
                    "dockerd exited ({status}) before answering; log tail:\n{}",
                    log_tail(&daemon.log, 40)
                ));
            }
            if daemon_answers(docker) {
                eprintln!(
                    "docker: dockerd ready after {:.1}s",
                    started.elapsed().as_secs_f64()
                );
                return Ok(daemon);
            }
            if started.elapsed() > DAEMON_START_TIMEOUT {
                daemon.stop();
                return Err(format!(
                    "dockerd did not answer `docker info` within {}s; log tail:\n{}",
                    DAEMON_START_TIMEOUT.as_secs(),
                    log_tail(&daemon.log, 40)
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// A dockerd left running by an earlier run of this harness, if the one
    /// answering now is it.
    fn adopt_leftover() -> Option<Daemon> {
        let ours: u32 = fs::read_to_string(Self::marker())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let running: u32 = fs::read_to_string("/var/run/docker.pid")
            .ok()?
            .trim()
            .parse()
            .ok()?;
        (ours == running && process_alive(ours)).then(|| {
            eprintln!("docker: adopting dockerd pid {ours}, left running by an earlier test run");
            Daemon {
                pid: ours,
                child: None,
                log: PathBuf::from("/dev/null"),
                log_dir_keep: None,
            }
        })
    }

    fn exited(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => !matches!(child.try_wait(), Ok(None)),
            None => !process_alive(self.pid),
        }
    }

    /// SIGTERM, a bounded wait, then SIGKILL.
    fn stop(&mut self) {
        signal(self.pid, libc::SIGTERM);
        let started = Instant::now();
        if !wait_until(DAEMON_STOP_TIMEOUT, || self.exited()) {
            eprintln!(
                "docker: dockerd pid {} ignored SIGTERM for {}s; killing it",
                self.pid,
                DAEMON_STOP_TIMEOUT.as_secs()
            );
            signal(self.pid, libc::SIGKILL);
            wait_until(Duration::from_secs(15), || self.exited());
        } else {
            eprintln!(
                "docker: dockerd pid {} stopped in {:.1}s",
                self.pid,
                started.elapsed().as_secs_f64()
            );
        }
        let _ = fs::remove_file(Self::marker());
    }
}

fn daemon_answers(docker: &Path) -> bool {
    run_command(
        Command::new(docker).args(["info", "--format", "{{.ServerVersion}}"]),
        Duration::from_secs(20),
    )
    .is_ok_and(|out| out.success() && !out.stdout.trim().is_empty())
}

#[derive(Default)]
struct Tracked {
    services: Vec<String>,
    containers: Vec<String>,
    volumes: Vec<String>,
    /// Log files whose tails go into failure messages, by label.
    logs: Vec<(String, PathBuf)>,
}

/// A Docker engine for one test; see the module documentation.
pub struct Docker {
    docker: PathBuf,
    dockerd: PathBuf,
    daemon: Option<Daemon>,
    tracked: Mutex<Tracked>,
    swarm_ours: Mutex<bool>,
    _lock: File,
}

impl Docker {
    /// A working Docker engine, or `None` (with the reason printed) when this
    /// machine cannot run one: not root, or docker is missing and cannot be
    /// installed. Set `BALLAST_E2E_REQUIRED=1` to fail instead of skipping.
    pub fn ensure() -> Option<Docker> {
        match Self::try_ensure() {
            Ok(docker) => Some(docker),
            Err(Skip(reason)) => crate::skip("Docker end-to-end test", &reason),
        }
    }

    fn try_ensure() -> Result<Docker, Skip> {
        if !is_root() {
            return Err(Skip(
                "needs root (dockerd, loop devices, mounts); run as root".into(),
            ));
        }
        let (docker, dockerd) = match find_binaries() {
            Some(found) => found,
            None => {
                install_docker();
                find_binaries().ok_or_else(|| {
                    Skip("docker/dockerd are not installed and tests/setup could not install them (apt-get install docker.io busybox-static)".into())
                })?
            }
        };
        fs::create_dir_all(STATE_DIR).map_err(|e| Skip(format!("creating {STATE_DIR}: {e}")))?;
        let lock = take_lock();

        wait_for_settled_daemon(&docker);
        let daemon = if daemon_answers(&docker) {
            let adopted = Daemon::adopt_leftover();
            if adopted.is_none() {
                eprintln!("docker: using the dockerd already running (it stays running)");
            }
            adopted
        } else {
            let log_dir = tempfile::Builder::new()
                .prefix("ballast-e2e-dockerd-")
                .tempdir()
                .expect("temp dir for the dockerd log");
            let mut daemon =
                Daemon::start(&dockerd, &docker, log_dir.path()).unwrap_or_else(|e| panic!("{e}"));
            daemon.log_dir_keep = Some(log_dir);
            Some(daemon)
        };
        let docker = Docker {
            docker,
            dockerd,
            daemon,
            tracked: Mutex::default(),
            swarm_ours: Mutex::new(false),
            _lock: lock,
        };
        if let Some(daemon) = &docker.daemon {
            docker.show_log_on_failure("dockerd", &daemon.log.clone());
        }
        docker.remove_leftovers();
        Ok(docker)
    }

    /// The `docker` client binary in use.
    pub fn bin(&self) -> &Path {
        &self.docker
    }

    /// Whether this harness started (and will stop) the daemon.
    pub fn owns_daemon(&self) -> bool {
        self.daemon.is_some()
    }

    /// The tail of `path` goes into every failure message from now on.
    pub fn show_log_on_failure(&self, label: &str, path: &Path) {
        self.tracked
            .lock()
            .unwrap()
            .logs
            .push((label.into(), path.to_path_buf()));
    }

    fn log_tails(&self) -> String {
        let tracked = self.tracked.lock().unwrap();
        let mut text = String::new();
        for (label, path) in &tracked.logs {
            text.push_str(&format!(
                "\n--- {label} log tail ({}) ---\n{}",
                path.display(),
                log_tail_filtered(path, 40)
            ));
        }
        text
    }

    /// Runs `docker ARGS` and returns what happened, whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        run_command(Command::new(&self.docker).args(args), COMMAND_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}{}", self.log_tails()))
    }

    /// Runs `docker ARGS`, which must succeed; returns its stdout, trimmed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.success(),
            "docker command failed\n{}{}",
            out.describe(),
            self.log_tails()
        );
        out.stdout.trim().to_string()
    }

    /// Runs `docker ARGS`, which must fail; returns what it printed.
    pub fn fails(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            !out.success(),
            "docker command succeeded but should have failed\n{}{}",
            out.describe(),
            self.log_tails()
        );
        out
    }

    /// Panics with `message`, the logs' tails attached.
    pub fn fail(&self, message: &str) -> ! {
        panic!("{message}{}", self.log_tails())
    }

    /// The busybox image (imported once per daemon, found by tag after that).
    pub fn busybox_image(&self) -> &'static str {
        if self.run(&["image", "inspect", BUSYBOX_IMAGE]).success() {
            return BUSYBOX_IMAGE;
        }
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .map(Path::new)
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("busybox is missing: apt-get install busybox-static"));
        let bytes = fs::read(busybox).expect("reading busybox");
        assert!(
            !bytes.windows(15).any(|w| w == b"/lib64/ld-linux"),
            "{} is dynamically linked; install busybox-static",
            busybox.display()
        );
        let dir = tempfile::tempdir().expect("temp dir for the image root");
        let root = dir.path().join("root");
        for sub in ["bin", "tmp", "etc", "proc", "sys", "dev"] {
            fs::create_dir_all(root.join(sub)).unwrap();
        }
        fs::copy(busybox, root.join("bin/busybox")).expect("copying busybox");
        for applet in APPLETS {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
        let tar = dir.path().join("root.tar");
        host_ok(
            "tar",
            &[
                "-C",
                root.to_str().unwrap(),
                "-cf",
                tar.to_str().unwrap(),
                ".",
            ],
        );
        self.ok(&[
            "import",
            "--change",
            r#"CMD ["/bin/sh"]"#,
            "--change",
            "ENV PATH=/bin",
            tar.to_str().unwrap(),
            BUSYBOX_IMAGE,
        ]);
        eprintln!(
            "docker: imported {BUSYBOX_IMAGE} from {}",
            busybox.display()
        );
        BUSYBOX_IMAGE
    }

    /// `name` is removed (`docker rm -f`) when this is dropped.
    pub fn track_container(&self, name: &str) {
        self.tracked
            .lock()
            .unwrap()
            .containers
            .push(name.to_string());
    }

    /// `name` is removed (`docker volume rm -f`) when this is dropped.
    pub fn track_volume(&self, name: &str) {
        self.tracked.lock().unwrap().volumes.push(name.to_string());
    }

    /// Service `name` is removed (and its tasks awaited) when this is dropped.
    pub fn track_service(&self, name: &str) {
        self.tracked.lock().unwrap().services.push(name.to_string());
    }

    /// The running task container of swarm `service` other than `not`
    /// ("": any), waited for up to 120 s.
    pub fn running_task(&self, service: &str, not: &str) -> String {
        let label = format!("label=com.docker.swarm.service.name={service}");
        let mut id = String::new();
        let found = wait_until(Duration::from_secs(120), || {
            let out = self.run(&["ps", "-q", "--filter", &label, "--filter", "status=running"]);
            id = out
                .stdout
                .lines()
                .find(|l| !l.is_empty() && *l != not)
                .unwrap_or_default()
                .to_string();
            !id.is_empty()
        });
        if !found {
            let tasks = self.run(&["service", "ps", "--no-trunc", service]).stdout;
            self.fail(&format!(
                "no running task of {service} other than {not:?} within 120s; docker service ps:\n{tasks}"
            ));
        }
        id
    }

    /// Makes this engine a swarm manager. Returns whether this call did it
    /// (then the swarm is left when this is dropped) or it was one already.
    pub fn swarm_init(&self) -> bool {
        let state = self.ok(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
        if state == "active" {
            eprintln!("docker: already a swarm node; using it and leaving it as it is");
            return false;
        }
        self.ok(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        *self.swarm_ours.lock().unwrap() = true;
        true
    }

    /// Stops the daemon this harness started and starts it again with the
    /// same arguments. `Err` says why not (a daemon this harness did not
    /// start is not restarted).
    pub fn restart_daemon(&mut self) -> Result<(), String> {
        let Some(daemon) = self.daemon.as_mut() else {
            return Err("the running dockerd was not started by this test (a system daemon); it is not restarted".into());
        };
        let log_dir = match daemon.log_dir_keep.take() {
            Some(dir) => dir,
            // Adopted from an earlier run: its log is unknown; start a new one.
            None => tempfile::Builder::new()
                .prefix("ballast-e2e-dockerd-")
                .tempdir()
                .map_err(|e| e.to_string())?,
        };
        daemon.stop();
        let mut fresh = match Daemon::start(&self.dockerd, &self.docker, log_dir.path()) {
            Ok(fresh) => fresh,
            Err(e) => {
                self.daemon = None;
                return Err(e);
            }
        };
        fresh.log_dir_keep = Some(log_dir);
        let log = fresh.log.clone();
        *daemon = fresh;
        let mut tracked = self.tracked.lock().unwrap();
        tracked.logs.retain(|(label, _)| label != "dockerd");
        tracked.logs.push(("dockerd".into(), log));
        Ok(())
    }

    /// What earlier runs that died left (with the lock held no other e2e
    /// run is live): services and containers named `e2e-<pid>-…` of a
    /// process that is gone, and volumes of e2e drivers (their hosts are
    /// gone; dockerd would keep trying them).
    fn remove_leftovers(&self) {
        let stale = |name: &str| {
            name.strip_prefix("e2e-")
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| pid != std::process::id() && !process_alive(pid))
        };
        let services = self.run(&["service", "ls", "--format", "{{.Name}}"]);
        for name in services.stdout.lines().filter(|n| stale(n)) {
            eprintln!("docker: removing leftover service {name}");
            let _ = self.run(&["service", "rm", name]);
        }
        let containers = self.run(&["ps", "-a", "--format", "{{.Names}}"]);
        for name in containers.stdout.lines().filter(|n| stale(n)) {
            eprintln!("docker: removing leftover container {name}");
            let _ = self.run(&["rm", "-f", "-v", name]);
        }
        let out = self.run(&["volume", "ls", "--format", "{{.Name}} {{.Driver}}"]);
        for line in out.stdout.lines() {
            if let Some((name, driver)) = line.split_once(' ')
                && driver.starts_with(crate::serve::DRIVER_PREFIX)
            {
                eprintln!("docker: removing leftover volume {name} of driver {driver}");
                let _ = self.run(&["volume", "rm", "-f", name]);
            }
        }
    }

    /// Removes what the test tracked, best effort, reporting what failed.
    pub fn cleanup(&self) {
        let tracked = std::mem::take(&mut *self.tracked.lock().unwrap());
        for service in &tracked.services {
            let out = self.run(&["service", "rm", service]);
            if !out.success()
                && !out.stderr.contains("not found")
                && !out.stderr.contains("No such service")
            {
                eprintln!("cleanup: {}", out.describe());
            }
            let label = format!("label=com.docker.swarm.service.name={service}");
            let gone = wait_until(Duration::from_secs(60), || {
                self.run(&["ps", "-aq", "--filter", &label])
                    .stdout
                    .trim()
                    .is_empty()
            });
            if !gone {
                eprintln!("cleanup: tasks of service {service} still exist after 60s");
            }
        }
        for container in &tracked.containers {
            let out = self.run(&["rm", "-f", "-v", container]);
            if !out.success() && !out.stderr.contains("No such container") {
                eprintln!("cleanup: {}", out.describe());
            }
        }
        for volume in &tracked.volumes {
            let out = self.run(&["volume", "rm", "-f", volume]);
            if !out.success() {
                eprintln!("cleanup: {}", out.describe());
            }
        }
        // Keep the log list: later failures still want it.
        self.tracked.lock().unwrap().logs = tracked.logs;
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        self.cleanup();
        if *self.swarm_ours.lock().unwrap() {
            let out = self.run(&["swarm", "leave", "--force"]);
            if !out.success() {
                eprintln!("cleanup: {}", out.describe());
            }
        }
        if let Some(daemon) = self.daemon.as_mut() {
            daemon.stop();
            if std::thread::panicking() {
                keep_log(&daemon.log, &format!("{}-dockerd.log", std::process::id()));
            }
        }
    }
}

struct Skip(String);

/// A dockerd that is starting or shutting down (its PID file names a live
/// process, yet it does not answer) is waited for, so that a new one is
/// not started beside it.
fn wait_for_settled_daemon(docker: &Path) {
    let running = || {
        fs::read_to_string("/var/run/docker.pid")
            .ok()
            .and_then(|pid| pid.trim().parse::<u32>().ok())
            .filter(|pid| process_alive(*pid))
    };
    if running().is_none() || daemon_answers(docker) {
        return;
    }
    eprintln!("docker: a dockerd is running but not answering; waiting for it to start or exit");
    if !wait_until(DAEMON_START_TIMEOUT, || {
        running().is_none() || daemon_answers(docker)
    }) {
        panic!(
            "dockerd pid {:?} neither answers `docker info` nor exits after {}s",
            running(),
            DAEMON_START_TIMEOUT.as_secs()
        );
    }
}

/// The client matching Debian's daemon when there is one (a newer client
/// elsewhere on PATH negotiates down, but why bother).
fn find_binaries() -> Option<(PathBuf, PathBuf)> {
    let which = |name: &str, preferred: &[&str]| -> Option<PathBuf> {
        preferred
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .or_else(|| {
                std::env::var_os("PATH").and_then(|paths| {
                    std::env::split_paths(&paths)
                        .map(|dir| dir.join(name))
                        .find(|p| p.is_file())
                })
            })
    };
    let docker = which("docker", &["/usr/bin/docker"])?;
    let dockerd = which("dockerd", &["/usr/sbin/dockerd", "/usr/bin/dockerd"])?;
    Some((docker, dockerd))
}

/// tests/setup installs docker.io and busybox-static (only what is missing).
fn install_docker() {
    let setup = Path::new(env!("CARGO_MANIFEST_DIR")).join("setup");
    eprintln!("docker: dockerd not found; running {}", setup.display());
    match run_command(&mut Command::new(&setup), Duration::from_secs(900)) {
        Ok(out) if out.success() => {}
        Ok(out) => eprintln!("docker: tests/setup failed\n{}", out.describe()),
        Err(e) => eprintln!("docker: tests/setup: {e}"),
    }
}

/// One Docker scenario at a time on this machine (threads and processes).
fn take_lock() -> File {
    let path = Path::new(STATE_DIR).join("docker.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let started = Instant::now();
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => return file,
            Err(fs::TryLockError::WouldBlock) => {
                if !said {
                    eprintln!(
                        "docker: waiting for another Docker test to finish (lock {})",
                        path.display()
                    );
                    said = true;
                }
                if started.elapsed() > LOCK_TIMEOUT {
                    panic!(
                        "another Docker test held {} for {} minutes",
                        path.display(),
                        LOCK_TIMEOUT.as_secs() / 60
                    );
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(fs::TryLockError::Error(e)) => panic!("locking {}: {e}", path.display()),
        }
    }
}

/// Everything one end-to-end scenario needs: the engine, the busybox image
/// and a `ballast serve` of the local backend as a legacy plugin. Dropping
/// it removes the tracked containers, services and volumes (while the host
/// still answers), leaves a swarm it made, stops a dockerd it started, then
/// stops the host and undoes any mount or loop device it left.
pub struct E2e {
    // Field order is drop order: Docker (cleanup, daemon) before the host.
    pub docker: Docker,
    pub ballast: BallastServe,
    pub image: &'static str,
    name: String,
    started: Instant,
}

impl E2e {
    /// Starts the scenario named `name`, or `None` when the machine cannot
    /// run Docker (reason printed).
    pub fn start(name: &str) -> Option<E2e> {
        let started = Instant::now();
        let docker = Docker::ensure()?;
        let image = docker.busybox_image();
        let ballast = BallastServe::start(BallastConfig::local(name));
        docker.show_log_on_failure("ballast", ballast.log_path());
        eprintln!(
            "e2e {name}: ready after {:.1}s (driver {})",
            started.elapsed().as_secs_f64(),
            ballast.driver()
        );
        Some(E2e {
            docker,
            ballast,
            image,
            name: name.into(),
            started,
        })
    }

    /// The Docker driver name of the host.
    pub fn driver(&self) -> &str {
        self.ballast.driver()
    }

    /// A volume name unique to this run, removed at the end.
    pub fn volume(&self, short: &str) -> String {
        let name = format!("e2e-{}-{short}", std::process::id());
        self.docker.track_volume(&name);
        name
    }

    /// A container name unique to this run, removed at the end.
    pub fn container(&self, short: &str) -> String {
        let name = format!("e2e-{}-{short}", std::process::id());
        self.docker.track_container(&name);
        name
    }

    /// A service name unique to this run, removed at the end.
    pub fn service(&self, short: &str) -> String {
        let name = format!("e2e-{}-{short}", std::process::id());
        self.docker.track_service(&name);
        name
    }

    /// `docker ARGS`, which must succeed; stdout, trimmed.
    pub fn ok(&self, args: &[&str]) -> String {
        self.docker.ok(args)
    }

    /// `docker ARGS`, which must fail.
    pub fn fails(&self, args: &[&str]) -> Output {
        self.docker.fails(args)
    }

    /// `docker volume create -d <driver> [--opt k=v ...] NAME`.
    pub fn create_volume(&self, name: &str, opts: &[&str]) {
        let mut args = vec!["volume", "create", "-d", self.driver()];
        for opt in opts {
            args.extend(["--opt", opt]);
        }
        args.push(name);
        let created = self.ok(&args);
        assert_eq!(created, name, "docker volume create printed something else");
    }

    /// `docker run --rm -v VOLUME:/data busybox sh -c SCRIPT`; its stdout.
    pub fn run_sh(&self, volume: &str, script: &str) -> String {
        let mount = format!("{volume}:/data");
        self.ok(&["run", "--rm", "-v", &mount, self.image, "sh", "-c", script])
    }

    /// Starts a detached container NAME with VOLUME at /data that runs
    /// SCRIPT and then sleeps; stop it with `docker stop -t 1`.
    pub fn run_detached(&self, name: &str, volume: &str, script: &str) {
        let mount = format!("{volume}:/data");
        let script = format!("{script}\nexec sleep 3600");
        self.ok(&[
            "run", "-d", "--name", name, "-v", &mount, self.image, "sh", "-c", &script,
        ]);
    }

    /// `docker exec NAME sh -c SCRIPT`; its stdout.
    pub fn exec(&self, name: &str, script: &str) -> String {
        self.ok(&["exec", name, "sh", "-c", script])
    }

    /// `docker volume inspect NAME` as JSON (the single object).
    pub fn inspect_volume(&self, name: &str) -> serde_json::Value {
        let text = self.ok(&["volume", "inspect", name]);
        let mut list: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap_or_else(|e| {
            self.docker
                .fail(&format!("volume inspect JSON: {e}\n{text}"))
        });
        assert_eq!(list.len(), 1, "volume inspect {name}: {text}");
        list.remove(0)
    }

    /// Panics unless the host has VOLUME mounted and loop-attached.
    pub fn assert_in_use(&self, volume: &str, when: &str) {
        let mounted = self.ballast.is_mounted(volume);
        let loops = self.ballast.loop_devices(volume);
        if !mounted || loops.is_empty() {
            self.docker.fail(&format!(
                "{when}: volume {volume} should be mounted at {} and attached; mounted: {mounted}, loop devices: {loops:?}\nrequests the host answered for it:\n{}",
                self.ballast.mountpoint(volume).display(),
                self.ballast.calls_text(volume)
            ));
        }
    }

    /// Waits (bounded) until the host has neither a mount nor a loop device
    /// for VOLUME.
    pub fn assert_released(&self, volume: &str, when: &str) {
        let timeout = Duration::from_secs(30);
        let released = wait_until(timeout, || {
            !self.ballast.is_mounted(volume) && self.ballast.loop_devices(volume).is_empty()
        });
        if !released {
            self.docker.fail(&format!(
                "{when}: volume {volume} still in use {}s later; mounted at {}: {}, loop devices: {:?}\nrequests the host answered for it:\n{}",
                timeout.as_secs(),
                self.ballast.mountpoint(volume).display(),
                self.ballast.is_mounted(volume),
                self.ballast.loop_devices(volume),
                self.ballast.calls_text(volume)
            ));
        }
    }
}

impl E2e {
    /// The successful Mount and Unmount requests the host answered for
    /// VOLUME, as (mount ID, Mount count, Unmount count), by first Mount.
    pub fn mount_ids(&self, volume: &str) -> Vec<(String, usize, usize)> {
        let mut ids: Vec<(String, usize, usize)> = Vec::new();
        for call in self.ballast.calls() {
            if call.volume != volume || !call.ok {
                continue;
            }
            let Some(id) = call.id else { continue };
            let slot = match ids.iter().position(|(known, _, _)| *known == id) {
                Some(i) => i,
                None => {
                    ids.push((id, 0, 0));
                    ids.len() - 1
                }
            };
            match call.endpoint.as_str() {
                "Mount" => ids[slot].1 += 1,
                "Unmount" => ids[slot].2 += 1,
                _ => {}
            }
        }
        ids
    }

    /// The last container using `volume` stops and is removed: the host
    /// releases the volume, and each of the (at least `mounts`) Mounts it
    /// received got its Unmount.
    pub fn last_user_leaves(&self, volume: &str, container: &str, mounts: usize) {
        self.ok(&["stop", "-t", "1", container]);
        self.assert_released(volume, &format!("after {container} stopped"));
        self.ok(&["rm", container]);
        self.assert_mounts_balanced(volume, mounts);
    }

    /// A fresh container runs `read` on `volume` and prints `expected`;
    /// then the volume is released again and removed.
    pub fn data_intact_then_remove(&self, volume: &str, read: &str, expected: &str) {
        assert_eq!(self.run_sh(volume, read), expected, "data in {volume}");
        self.assert_released(volume, "after the final check");
        assert_eq!(self.ok(&["volume", "rm", volume]), volume);
    }

    /// Panics unless the host received Mount for VOLUME under at least
    /// `at_least` distinct IDs and an Unmount for every Mount.
    pub fn assert_mounts_balanced(&self, volume: &str, at_least: usize) -> usize {
        let ids = self.mount_ids(volume);
        let balanced = ids.iter().all(|(_, m, u)| m == u);
        if ids.len() < at_least || !balanced {
            self.docker.fail(&format!(
                "volume {volume}: expected Mount under at least {at_least} IDs, each with its Unmount; \
                 got (id, mounts, unmounts) {ids:?}; requests:\n{}",
                self.ballast.calls_text(volume)
            ));
        }
        ids.len()
    }

    /// How many requests of ENDPOINT for VOLUME the host answered (ok or not).
    pub fn count_calls(&self, endpoint: &str, volume: &str) -> usize {
        self.ballast
            .calls()
            .iter()
            .filter(|c| c.endpoint == endpoint && c.volume == volume)
            .count()
    }
}

impl Drop for E2e {
    fn drop(&mut self) {
        eprintln!(
            "e2e {}: scenario took {:.1}s",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
    }
}
