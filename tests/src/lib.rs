//! Helpers shared by Ballast's integration tests: where the built modules
//! and the `ballast` binary are, and a host loaded from an inline config
//! with its state in a temporary directory.

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
        "{} is missing: run the tests with `cargo test --workspace`",
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
