//! `ballast volume ls|create|inspect|rm`: drive one backend directly, the
//! way the plugin server will, for operators and scripts.

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;

use crate::config::Config;
use crate::host::Host;
use crate::runtime::bindings::Volume;
use crate::volumes::{FsGrowth, VolumeManager};

#[derive(Subcommand)]
pub enum VolumeCommand {
    /// List volumes.
    Ls {
        #[arg(long)]
        backend: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Create a volume (or confirm an existing one).
    Create {
        name: String,
        #[arg(long)]
        backend: Option<String>,
        /// Volume option, e.g. `-o size=10GiB`; repeatable.
        #[arg(short = 'o', long = "opt", value_name = "KEY=VALUE")]
        options: Vec<String>,
    },
    /// Show one volume as JSON.
    Inspect {
        name: String,
        #[arg(long)]
        backend: Option<String>,
    },
    /// Grow a volume (the provider, then its filesystem: now if it is
    /// mounted on this host, else at its next mount).
    Resize {
        name: String,
        /// New size: "20GiB", "500MiB", or a bare number of GiB.
        size: String,
        #[arg(long)]
        backend: Option<String>,
    },
    /// Remove a volume and its data.
    Rm {
        name: String,
        #[arg(long)]
        backend: Option<String>,
        /// Remove even when attached.
        #[arg(long)]
        force: bool,
    },
}

pub async fn run(cmd: VolumeCommand, config: Config) -> anyhow::Result<()> {
    let backend_name = match &cmd {
        VolumeCommand::Ls { backend, .. }
        | VolumeCommand::Create { backend, .. }
        | VolumeCommand::Inspect { backend, .. }
        | VolumeCommand::Resize { backend, .. }
        | VolumeCommand::Rm { backend, .. } => Host::pick(&config, backend.as_deref())?,
    };
    let host = Host::load(config, Some(&backend_name)).await?;
    let backend = host.backend(Some(&backend_name))?;
    match cmd {
        VolumeCommand::Ls { json: true, .. } => {
            let volumes: Vec<_> = backend.list().await?.iter().map(volume_json).collect();
            println!("{}", serde_json::to_string_pretty(&volumes)?);
        }
        VolumeCommand::Ls { .. } => {
            println!("{:<40} {:>14}  ATTACHED", "NAME", "SIZE");
            for v in backend.list().await? {
                println!(
                    "{:<40} {:>14}  {}",
                    v.name,
                    v.size_bytes,
                    v.attached_to.join(",")
                );
            }
        }
        VolumeCommand::Create { name, options, .. } => {
            let options = parse_options(&options)?;
            let volume = backend.create(&name, &options).await?;
            println!("{}", volume.name);
        }
        VolumeCommand::Inspect { name, .. } => {
            let volume = backend
                .get(&name)
                .await?
                .with_context(|| format!("no volume {name:?}"))?;
            println!("{}", serde_json::to_string_pretty(&volume_json(&volume))?);
        }
        VolumeCommand::Resize { name, size, .. } => {
            let size_bytes = parse_size(&size)?;
            let driver = host.config.backends[&backend_name].driver_name(&backend_name);
            let state_path = host.config.backend_dir(&backend_name).join("mounts.json");
            let manager =
                VolumeManager::new(&driver, backend.clone(), &host.config.plugin, &state_path)
                    .with_context(|| format!("opening mount state {}", state_path.display()))?;
            let resized = manager.resize(&name, size_bytes).await?;
            let filesystem = match resized.filesystem {
                FsGrowth::Online => "grown now",
                FsGrowth::AtNextMount => "grows at its next mount",
            };
            println!(
                "{name}: {} bytes; filesystem {filesystem}",
                resized.volume.size_bytes
            );
        }
        VolumeCommand::Rm { name, force, .. } => {
            backend.remove(&name, force).await?;
            println!("{name}");
        }
    }
    Ok(())
}

/// "20GiB", "1.5 TiB", "500MB"; a bare number is GiB, as in volume options.
fn parse_size(raw: &str) -> anyhow::Result<u64> {
    let raw = raw.trim();
    let bytes = match raw.parse::<u64>() {
        Ok(gib) => gib
            .checked_mul(1 << 30)
            .with_context(|| format!("size {raw} GiB is too large"))?,
        Err(_) => raw
            .parse::<bytesize::ByteSize>()
            .map_err(|e| anyhow::anyhow!("size {raw:?} is not a size like 20GiB: {e}"))?
            .as_u64(),
    };
    if bytes == 0 {
        bail!("size must be above zero");
    }
    Ok(bytes)
}

fn parse_options(raw: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    raw.iter()
        .map(|o| match o.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("option {o:?} is not KEY=VALUE"),
        })
        .collect()
}

pub fn volume_json(v: &Volume) -> serde_json::Value {
    json!({
        "name": v.name,
        "id": v.id,
        "size_bytes": v.size_bytes,
        "zone": v.zone,
        "attached_to": v.attached_to,
        "status": v.status.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("20").unwrap(), 20 << 30);
        assert_eq!(parse_size("20GiB").unwrap(), 20 << 30);
        assert_eq!(parse_size("512 MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("1GB").unwrap(), 1_000_000_000);
        assert!(parse_size("0").is_err());
        assert!(parse_size("0B").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("").is_err());
    }
}
