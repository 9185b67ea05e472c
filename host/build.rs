//! Builds every WebAssembly component (the shipped backends and the test
//! guests, all in the `backends/` workspace) before the host compiles, so
//! the host can embed the default `local` backend and tests always load
//! fresh modules. The same command, by hand:
//!
//!     cargo build --manifest-path backends/Cargo.toml --workspace \
//!         --target wasm32-wasip2 --release --target-dir <dir>
//!
//! The components get their own target directory (`<target>/wasm`): a
//! nested cargo must not wait on the lock of the outer build's directory.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap();
    for watched in ["backends", "wit", "tests/guests"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=BALLAST_WASM_TARGET_DIR");

    let target_dir = env::var_os("BALLAST_WASM_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // OUT_DIR is <target>/<profile>/build/ballast-<hash>/out.
            let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
            out_dir.ancestors().nth(4).unwrap().join("wasm")
        });
    build_components(root, &target_dir);
    let built = target_dir.join("wasm32-wasip2").join("release");
    println!("cargo:rustc-env=BALLAST_WASM_DIR={}", built.display());
}

fn build_components(root: &Path, target_dir: &Path) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--workspace",
            "--target",
            "wasm32-wasip2",
            "--release",
            "--manifest-path",
        ])
        .arg(root.join("backends/Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    // The outer build's flags and wrappers are for the host, not for wasm.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        command.env_remove(var);
    }
    let output = command
        .output()
        .expect("running cargo to build the wasm backends");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint =
            if stderr.contains("wasm32-wasip2") && stderr.contains("target may not be installed") {
                "\nhint: run `rustup target add wasm32-wasip2`"
            } else {
                ""
            };
        panic!("building the wasm backends failed:\n{stderr}{hint}");
    }
}
