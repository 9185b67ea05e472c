//! `ballast volume ls|create|inspect|rm`: drive one backend directly, the
//! way the plugin server will, for operators and scripts.

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;

use crate::config::Config;
use crate::host::Host;
use crate::runtime::bindings::Volume;

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
        VolumeCommand::Rm { name, force, .. } => {
            backend.remove(&name, force).await?;
            println!("{name}");
        }
    }
    Ok(())
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
