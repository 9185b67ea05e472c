//! Docker's volume plugin protocol over a Unix socket: one socket per
//! backend, `<socket_dir>/<driver>.sock`. Owns the routes and the socket
//! file; what each call means is the volume manager's business.

mod routes;
pub mod types;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use tokio::net::{UnixListener, UnixStream};

pub use routes::{MAX_BODY_BYTES, router};

use crate::volumes::VolumeManager;

/// Bind `<socket_dir>/<driver>.sock`. A socket file nobody answers on (left
/// by a killed host) is replaced; one that answers belongs to a running
/// host, and binding is refused.
pub async fn bind(socket_dir: &Path, driver: &str) -> anyhow::Result<(UnixListener, PathBuf)> {
    std::fs::create_dir_all(socket_dir)
        .with_context(|| format!("creating {}", socket_dir.display()))?;
    let path = socket_dir.join(format!("{driver}.sock"));
    if path.exists() {
        if UnixStream::connect(&path).await.is_ok() {
            bail!(
                "{} is served by another running process; is another ballast running?",
                path.display()
            );
        }
        std::fs::remove_file(&path)
            .with_context(|| format!("removing stale socket {}", path.display()))?;
    }
    let listener =
        UnixListener::bind(&path).with_context(|| format!("binding {}", path.display()))?;
    Ok((listener, path))
}

/// Serve one backend's manager on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: UnixListener,
    manager: Arc<VolumeManager>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(manager))
        .with_graceful_shutdown(shutdown)
        .await
}
