//! `ballast module inspect FILE.wasm`: what a module is and what it asks for.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use crate::runtime::bindings::{WIT_PACKAGE, WIT_VERSION};
use crate::runtime::inspect::{self, ModuleInfo};

#[derive(Subcommand)]
pub enum ModuleCommand {
    /// Show a module's WIT version, world, imported capabilities and size.
    Inspect {
        /// The backend component (.wasm).
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: ModuleCommand) -> anyhow::Result<()> {
    let ModuleCommand::Inspect { file, json } = cmd;
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let info = inspect::inspect(&bytes).with_context(|| format!("{}", file.display()))?;
    // Loadable by this host, given every capability? (Grants are config's.)
    let verdict = match info.check(&crate::capabilities::Capability::ALL) {
        Ok(()) => "loads in this host".to_string(),
        Err(e) => format!("refused by this host: {e}"),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&file, &info, &verdict))?
        );
    } else {
        print_text(&file, &info, &verdict);
    }
    Ok(())
}

fn to_json(file: &std::path::Path, info: &ModuleInfo, verdict: &str) -> serde_json::Value {
    json!({
        "file": file,
        "size_bytes": info.size_bytes,
        "wit_package": WIT_PACKAGE,
        "wit_version": info.wit_version.as_ref().map(|v| v.to_string()),
        "world": info.world(),
        "capabilities": info.capabilities.iter().map(|c| c.name()).collect::<Vec<_>>(),
        "unknown_interfaces": info.unknown_interfaces,
        "foreign_imports": info.foreign_imports,
        "wasi_imports": info.wasi_imports,
        "exports": info.exports,
        "host_wit_version": WIT_VERSION,
        "verdict": verdict,
    })
}

fn print_text(file: &std::path::Path, info: &ModuleInfo, verdict: &str) {
    let version = info
        .wit_version
        .as_ref()
        .map_or("none".into(), |v| format!("{WIT_PACKAGE}@{v}"));
    let caps: Vec<&str> = info.capabilities.iter().map(|c| c.name()).collect();
    println!("file:          {}", file.display());
    println!(
        "size:          {} bytes ({:.1} KiB)",
        info.size_bytes,
        info.size_bytes as f64 / 1024.0
    );
    println!("wit:           {version} (host: {WIT_PACKAGE}@{WIT_VERSION})");
    println!("world:         {}", info.world().unwrap_or("none"));
    println!(
        "capabilities:  {}",
        if caps.is_empty() {
            "none".into()
        } else {
            caps.join(", ")
        }
    );
    for other in info.unknown_interfaces.iter().chain(&info.foreign_imports) {
        println!("also imports:  {other}");
    }
    println!(
        "wasi:          {} interfaces, linked with nothing granted",
        info.wasi_imports.len()
    );
    println!("exports:       {}", info.exports.join(", "));
    println!("verdict:       {verdict}");
}
