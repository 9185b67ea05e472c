//! Helpers shared by Ballast's integration tests: where the built modules
//! and the `ballast` binary are, and a host loaded from an inline config
//! with its state in a temporary directory.

pub mod bench;
pub mod capture;
pub mod cloud;
pub mod docker;
pub mod managed_plugin;
pub mod s3;
pub mod serve;

use std::path::{Path, PathBuf};

use ballast::config::Config;
use ballast::host::Host;
use ballast::runtime::builtin::BUILT_MODULES_DIR;

/// Path of a component built by host/build.rs, e.g. `module("ballast_local")`.
pub fn module(name: &str) -> PathBuf {
    let path = Path::new(BUILT_MODULES_DIR).join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing; host/build.rs builds it",
        path.display()
    );
    path
}

/// The `ballast` binary of this build. `cargo test --workspace` builds it
/// (the host crate has integration tests of its own, which makes cargo
/// build its binary); it sits beside the `deps/` directory of this test.
pub fn ballast_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join("ballast");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (benches: first `cargo build --profile bench -p ballast`)",
        bin.display()
    );
    bin
}

/// A host whose state lives in `dir`, configured by `toml` (a config file's
/// text without `data_dir`).
pub async fn host(dir: &Path, toml: &str) -> anyhow::Result<Host> {
    let text = format!("data_dir = {:?}\n{toml}", dir.display().to_string());
    Host::load(Config::from_toml(&text)?, None).await
}

/// The text of a load error, for asserting on messages.
pub async fn load_error(dir: &Path, toml: &str) -> String {
    match host(dir, toml).await {
        Ok(_) => panic!("the host loaded a config that should be refused:\n{toml}"),
        Err(e) => format!("{e:#}"),
    }
}
pub mod plugin;

/// Whether a part this machine lacks fails a test instead of skipping it:
/// CI sets `BALLAST_E2E_REQUIRED=1`, so a missing install step shows.
pub fn e2e_required() -> bool {
    std::env::var_os("BALLAST_E2E_REQUIRED").is_some_and(|v| v != "0")
}

/// `None` after printing why `test` is skipped, or a panic when
/// [`e2e_required`].
pub fn skip<T>(test: &str, reason: &str) -> Option<T> {
    assert!(
        !e2e_required(),
        "{test} cannot run: {reason} (BALLAST_E2E_REQUIRED=1)"
    );
    eprintln!("SKIPPED {test}: {reason}");
    None
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// True when the tests may use loop devices and mount(2); prints why not.
pub fn can_mount(test: &str) -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    let ok = root && Path::new("/dev/loop-control").exists();
    if !ok {
        eprintln!("SKIPPED {test}: needs root and /dev/loop-control (loop devices, mount)");
    }
    ok
}

/// On drop, unmounts whatever is still mounted under `dir` and detaches
/// loop devices backed by files under it: a failed test leaves nothing.
pub struct Leftovers(pub PathBuf);

impl Drop for Leftovers {
    fn drop(&mut self) {
        let dir = self.0.display().to_string();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut targets: Vec<&str> = mountinfo
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|t| t.starts_with(&dir))
            .collect();
        targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
        for target in targets {
            let _ = std::process::Command::new("umount").arg(target).status();
        }
        let loops = std::process::Command::new("losetup")
            .args(["-n", "-O", "NAME,BACK-FILE", "-l"])
            .output();
        for line in loops
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
            .lines()
        {
            let mut cols = line.split_whitespace();
            if let (Some(dev), Some(file)) = (cols.next(), cols.next())
                && file.starts_with(&dir)
            {
                let _ = std::process::Command::new("losetup")
                    .args(["-d", dev])
                    .status();
            }
        }
    }
}
