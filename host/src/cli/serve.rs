//! `ballast serve`: load every backend, reconcile its mount state, serve its
//! Docker socket (and metrics if asked) until SIGINT/SIGTERM, then stop
//! accepting, finish what is in flight and remove the sockets. Mounts that
//! containers use stay mounted; their state is on disk for the next start.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::docker;
use crate::host::Host;
use crate::metrics;
use crate::volumes::VolumeManager;

pub async fn run(config: Config) -> anyhow::Result<()> {
    let host = Host::load(config, None).await?;
    let (stop, stopped) = watch::channel(false);
    let mut servers: JoinSet<anyhow::Result<()>> = JoinSet::new();
    let mut sockets = Vec::new();
    for (name, backend) in &host.backends {
        let driver = host.config.backends[name].driver_name(name);
        let state_path = host.config.backend_dir(name).join("mounts.json");
        let manager =
            VolumeManager::new(&driver, backend.clone(), &host.config.plugin, &state_path)
                .with_context(|| format!("reading mount state {}", state_path.display()))?;
        manager.reconcile().await?;
        let (listener, socket) = docker::bind(&host.config.plugin.socket_dir, &driver).await?;
        tracing::info!(driver, socket = %socket.display(), "serving Docker");
        sockets.push(socket);
        let shutdown = until(stopped.clone());
        servers
            .spawn(async move { Ok(docker::serve(listener, Arc::new(manager), shutdown).await?) });
    }
    if let Some(addr) = host.config.plugin.metrics_addr {
        servers.spawn(metrics::serve(addr, until(stopped.clone())));
    }
    tracing::info!(backends = ?host.backends.keys().collect::<Vec<_>>(), "ballast ready");

    let outcome = tokio::select! {
        signal = wait_for_stop_signal() => signal.map_err(anyhow::Error::from),
        Some(ended) = servers.join_next() => Err(anyhow::anyhow!("a server stopped unexpectedly: {:?}", ended?.err())),
    };
    tracing::info!("stopping");
    let _ = stop.send(true);
    while servers.join_next().await.is_some() {}
    for socket in sockets {
        let _ = std::fs::remove_file(socket);
    }
    outcome
}

/// Resolves once `stop` says so.
async fn until(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
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
