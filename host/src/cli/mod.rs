//! `ballast serve | module | volume`: argument parsing, logging set-up, and
//! the commands. Output for people by default, `--json` for scripts.

mod doctor;
mod module;
mod serve;
mod volume;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Config;

#[derive(Parser)]
#[command(
    name = "ballast",
    version,
    about = "Docker volume plugin host with sandboxed WebAssembly storage backends"
)]
pub struct Cli {
    /// Config file (TOML). Default: /etc/ballast/config.toml if it exists,
    /// else the built-in `local` backend.
    #[arg(long, global = true, env = "BALLAST_CONFIG")]
    config: Option<PathBuf>,
    /// Log filter, e.g. `info` or `ballast=debug`.
    #[arg(long, global = true, env = "BALLAST_LOG", default_value = "info")]
    log: String,
    /// Log line format.
    #[arg(long, global = true, env = "BALLAST_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve Docker's volume plugin protocol for every configured backend
    /// (socket <socket_dir>/<driver>.sock) until SIGINT or SIGTERM.
    Serve {
        /// Run as the Docker managed plugin of this built-in backend (local,
        /// ebs, efs, s3fs, gcepd): settings from the environment, socket
        /// /run/docker/plugins/ballast.sock, state in /var/lib/ballast/state,
        /// mounts under /var/lib/ballast/volumes. No config file is read.
        #[arg(long, value_name = "BACKEND")]
        managed: Option<String>,
    },
    /// Look at backend modules.
    #[command(subcommand)]
    Module(module::ModuleCommand),
    /// Manage volumes through a configured backend, without Docker.
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// Check this machine: storage tools, loop devices, kernel filesystems,
    /// the plugin socket directory, and that every backend loads.
    Doctor {
        /// Check the config a managed plugin of this backend runs with (as
        /// `serve --managed` builds it from the environment).
        #[arg(long, value_name = "BACKEND")]
        managed: Option<String>,
    },
}

/// The config file's config, or a managed plugin's for `managed`.
fn load(path: Option<&std::path::Path>, managed: Option<String>) -> anyhow::Result<Config> {
    Ok(match managed {
        None => Config::load(path)?,
        Some(backend) => Config::load_managed(&backend)?,
    })
}

/// Entry point of the `ballast` binary.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log, cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return fail(anyhow::anyhow!("starting the async runtime: {e}")),
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Module(cmd) => module::run(cmd),
        Command::Volume(cmd) => volume::run(cmd, Config::load(cli.config.as_deref())?).await,
        Command::Serve { managed } => serve::run(load(cli.config.as_deref(), managed)?).await,
        Command::Doctor { managed } => doctor::run(load(cli.config.as_deref(), managed)?).await,
    }
}

fn fail(err: anyhow::Error) -> ExitCode {
    eprintln!("ballast: {err:#}");
    ExitCode::FAILURE
}

fn init_logging(filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: dockerd copies a managed plugin's stderr
    // into its own log, where escape codes are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
