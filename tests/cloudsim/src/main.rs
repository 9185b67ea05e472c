//! `cloudsim`: run the simulated cloud standalone, e.g. to try the EBS
//! backend on a laptop:
//!
//!     cloudsim --data-dir /tmp/sim --hypervisor \
//!         --instance aws:i-aaaa:us-east-1a:m5.large --instance aws::us-east-1b:t2.micro
//!
//! It prints the API URL and each instance's metadata URL and device
//! directory, then serves until Ctrl-C.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use cloudsim::delays::Delays;
use cloudsim::{InstanceSpec, Provider, SimConfig};

#[derive(Parser)]
#[command(
    name = "cloudsim",
    version,
    about = "A strict simulated cloud: EC2, EFS, Compute Engine, instance metadata"
)]
struct Args {
    /// Address of the API (every cloud API and the admin API under /_sim).
    #[arg(long, default_value = "127.0.0.1:4566")]
    listen: std::net::SocketAddr,
    /// Volume backing files, snapshots and the instances' device directories
    /// (default: a new directory under the system's temp dir).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Zones of the region (comma-separated); default <region>a,b,c.
    #[arg(long, value_delimiter = ',')]
    zones: Vec<String>,
    /// PROVIDER:ID:ZONE:TYPE, e.g. aws:i-0abc:us-east-1a:m5.large (an empty ID is generated); repeatable.
    #[arg(long = "instance")]
    instances: Vec<String>,
    /// Take as long as the real clouds to create, attach, detach, snapshot.
    #[arg(long)]
    realistic_delays: bool,
    /// One delay in milliseconds, e.g. `--delay attach=3000`; repeatable.
    /// Names: volume_create, attach, detach, snapshot, efs, gce_operation.
    #[arg(long = "delay", value_name = "NAME=MS")]
    delays: Vec<String>,
    /// Loop-attach volumes and create by-id links (needs root).
    #[arg(long)]
    hypervisor: bool,
    /// Verify SigV4 signatures against ACCESS_KEY:SECRET.
    #[arg(long)]
    verify_keys: Option<String>,
    /// Only these actions are allowed (DryRun answers accordingly); default all.
    #[arg(long, value_delimiter = ',')]
    allow_actions: Option<Vec<String>>,
    #[arg(long, default_value = "ballast-sim")]
    gce_project: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = config(args)?;
    let running = cloudsim::start(config).await?;
    println!("api      {}", running.api_url);
    for instance in running.instances() {
        let spec = &instance.spec;
        println!(
            "instance {} {:?} {} {}  metadata {}  devices {}",
            spec.id,
            spec.provider,
            spec.zone,
            spec.instance_type,
            instance.metadata_url,
            instance.device_dir.display()
        );
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}

fn config(args: Args) -> anyhow::Result<SimConfig> {
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => std::env::temp_dir().join(format!("cloudsim-{}", std::process::id())),
    };
    let mut config = SimConfig::fast(data_dir);
    config.listen = args.listen;
    config.zones = if args.zones.is_empty() {
        ["a", "b", "c"]
            .iter()
            .map(|z| format!("{}{z}", args.region))
            .collect()
    } else {
        args.zones
    };
    config.region = args.region;
    config.hypervisor = args.hypervisor;
    config.gce_project = args.gce_project;
    config.allowed_actions = args.allow_actions;
    if args.realistic_delays {
        config.delays = Delays::realistic();
    }
    for delay in &args.delays {
        set_delay(&mut config.delays, delay)?;
    }
    if let Some(keys) = args.verify_keys {
        let (key, secret) = keys
            .split_once(':')
            .context("--verify-keys takes ACCESS_KEY:SECRET")?;
        config.verify_keys = Some((key.into(), secret.into()));
    }
    for raw in &args.instances {
        config.instances.push(instance(raw)?);
    }
    Ok(config)
}

fn instance(raw: &str) -> anyhow::Result<InstanceSpec> {
    let parts: Vec<&str> = raw.split(':').collect();
    let [provider, id, zone, instance_type] = parts[..] else {
        bail!("--instance {raw:?}: expected PROVIDER:ID:ZONE:TYPE");
    };
    let provider = match provider {
        "aws" => Provider::Aws,
        "gce" => Provider::Gce,
        other => bail!("--instance {raw:?}: provider {other:?} is not aws or gce"),
    };
    Ok(InstanceSpec {
        id: id.into(),
        provider,
        zone: zone.into(),
        instance_type: instance_type.into(),
    })
}

/// Apply `NAME=MS` to `delays`.
fn set_delay(delays: &mut Delays, raw: &str) -> anyhow::Result<()> {
    let (name, ms) = raw.split_once('=').context("--delay takes NAME=MS")?;
    let ms: u64 = ms
        .parse()
        .with_context(|| format!("--delay {raw:?}: {ms:?} is not a number of milliseconds"))?;
    let slot = match name {
        "volume_create" => &mut delays.volume_create,
        "attach" => &mut delays.attach,
        "detach" => &mut delays.detach,
        "snapshot" => &mut delays.snapshot,
        "efs" => &mut delays.efs,
        "gce_operation" => &mut delays.gce_operation,
        other => bail!("--delay {raw:?}: unknown delay {other:?}"),
    };
    *slot = std::time::Duration::from_millis(ms);
    Ok(())
}
