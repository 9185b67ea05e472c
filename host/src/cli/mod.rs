//! `ballast serve | module | volume`: argument parsing, logging set-up, and
//! the commands. Output for people by default, `--json` for scripts.

mod module;
mod volume;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::host::Host;

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
    /// Load the configured backends and keep serving until stopped.
    Serve,
    /// Look at backend modules.
    #[command(subcommand)]
    Module(module::ModuleCommand),
    /// Manage volumes through a configured backend, without Docker.
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
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
        Command::Serve => serve(Config::load(cli.config.as_deref())?).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let host = Host::load(config, None).await?;
    let names: Vec<&str> = host.backends.keys().map(String::as_str).collect();
    tracing::info!(backends = ?names, "ballast ready");
    wait_for_stop_signal().await?;
    tracing::info!("stopping");
    Ok(())
}

/// SIGINT (Ctrl-C) or SIGTERM (docker, systemd).
async fn wait_for_stop_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = term.recv() => Ok(()),
    }
}

fn fail(err: anyhow::Error) -> ExitCode {
    eprintln!("ballast: {err:#}");
    ExitCode::FAILURE
}

fn init_logging(filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
