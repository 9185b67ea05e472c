//! A plugin server running in the test process on a real Unix socket, and
//! a minimal HTTP client for it, to test the protocol as dockerd speaks it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ballast::config::Config;
use ballast::docker;
use ballast::host::Host;
use ballast::volumes::VolumeManager;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tokio::sync::oneshot;

/// A `local` backend served on `<dir>/sockets/<driver>.sock`, state and
/// mounts under `dir`. Stops (and its socket goes) when dropped.
pub struct Plugin {
    pub socket: PathBuf,
    pub mount_root: PathBuf,
    pub manager: Arc<VolumeManager>,
    stop: Option<oneshot::Sender<()>>,
}

impl Plugin {
    pub async fn start(dir: &Path) -> Plugin {
        let text = format!(
            "data_dir = {data:?}\n[plugin]\nsocket_dir = {sockets:?}\nmount_root = {mounts:?}\n",
            data = dir.join("state").display().to_string(),
            sockets = dir.join("sockets").display().to_string(),
            mounts = dir.join("volumes").display().to_string(),
        );
        let config = Config::from_toml(&text).unwrap();
        let host = Host::load(config.clone(), None).await.unwrap();
        let backend = host.backend(None).unwrap().clone();
        let state = config.backend_dir("local").join("mounts.json");
        let manager =
            Arc::new(VolumeManager::new("ballast-test", backend, &config.plugin, &state).unwrap());
        manager.reconcile().await.unwrap();
        let (listener, socket) = docker::bind(&config.plugin.socket_dir, "ballast-test")
            .await
            .unwrap();
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(docker::serve(listener, manager.clone(), async {
            let _ = stopped.await;
        }));
        Plugin {
            socket,
            mount_root: config.plugin.mount_root,
            manager,
            stop: Some(stop),
        }
    }

    /// POST `body` to `path` as dockerd does (no Content-Type); the status
    /// and the parsed JSON answer (panics if the answer is not JSON).
    pub async fn post(&self, path: &str, body: impl Into<Bytes>) -> (u16, serde_json::Value) {
        let (status, bytes) = post_raw(&self.socket, path, body.into()).await;
        let json = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{path}: answer is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, json)
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One HTTP/1.1 POST over the Unix socket at `socket`.
pub async fn post_raw(socket: &Path, path: &str, body: Bytes) -> (u16, Bytes) {
    try_post_raw(socket, path, body)
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

/// As `post_raw`, with connection failures as errors (a host still starting).
pub async fn try_post_raw(socket: &Path, path: &str, body: Bytes) -> Result<(u16, Bytes), String> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| format!("connect {}: {e}", socket.display()))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = Request::post(path)
        .header("Host", "plugin")
        .header("Accept", "application/vnd.docker.plugins.v1.2+json")
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body))
}
