//! The endpoints of Docker's volume plugin protocol. Every answer is JSON;
//! every failure has a non-empty `Err`. Headers are not looked at (dockerd
//! sends no Content-Type), bodies are read with a size cap, and malformed
//! JSON is an error answer, never a crash.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::types::*;
use crate::metrics;
use crate::runtime::bindings::Scope;
use crate::volumes::{VolumeError, VolumeManager, VolumeView};

/// Larger bodies are refused: real requests are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

type Manager = Arc<VolumeManager>;

pub fn router(manager: Manager) -> Router {
    Router::new()
        .route("/Plugin.Activate", post(activate))
        .route("/VolumeDriver.Create", post(create))
        .route("/VolumeDriver.Remove", post(remove))
        .route("/VolumeDriver.Mount", post(mount))
        .route("/VolumeDriver.Unmount", post(unmount))
        .route("/VolumeDriver.Path", post(path))
        .route("/VolumeDriver.Get", post(get))
        .route("/VolumeDriver.List", post(list))
        .route("/VolumeDriver.Capabilities", post(capabilities))
        .fallback(unknown)
        .with_state(manager)
}

/// An answer: 200 with the body, or 500 with `{"Err": ...}` as dockerd's
/// plugin client expects (it reads `Err` from non-200 answers).
fn answer<T: Serialize>(result: Result<T, String>) -> Response {
    match result {
        Ok(body) => (StatusCode::OK, axum::Json(body)).into_response(),
        Err(err) => error(StatusCode::INTERNAL_SERVER_ERROR, err),
    }
}

fn error(status: StatusCode, err: String) -> Response {
    let err = if err.is_empty() {
        "unknown error".to_string()
    } else {
        err
    };
    (status, axum::Json(ErrorResponse { err })).into_response()
}

/// Read and parse a body of type `T`, answering malformed input with an error.
async fn parse<T: DeserializeOwned>(body: Body) -> Result<T, String> {
    let bytes = to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| format!("request body is larger than {MAX_BODY_BYTES} bytes or unreadable"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("request body is empty; expected a JSON object".into());
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("malformed request body: {e}"))
}

/// Run one request inside a span that records the outcome and duration,
/// and count it.
async fn traced<T: Serialize>(
    manager: &VolumeManager,
    endpoint: &'static str,
    volume: &str,
    id: Option<&str>,
    work: impl Future<Output = Result<T, String>>,
) -> Response {
    let span = tracing::info_span!("request", driver = manager.driver(), endpoint, volume, id);
    let start = Instant::now();
    let result = work.instrument(span.clone()).await;
    let elapsed = start.elapsed();
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::record_request(manager.driver(), endpoint, outcome, elapsed);
    span.in_scope(|| match &result {
        Ok(_) => tracing::info!(outcome, ms = elapsed.as_secs_f64() * 1e3, "done"),
        Err(err) => tracing::warn!(outcome, ms = elapsed.as_secs_f64() * 1e3, "failed: {err}"),
    });
    answer(result)
}

async fn activate(State(m): State<Manager>) -> Response {
    traced(&m, "Activate", "", None, async {
        m.activated().map_err(|e| e.to_string())?;
        Ok(ActivateResponse {
            implements: vec!["VolumeDriver"],
        })
    })
    .await
}

/// Requests name a volume (and Mount/Unmount an ID) for the request's span.
trait Labels {
    fn labels(&self) -> (String, Option<String>);
}

impl Labels for CreateRequest {
    fn labels(&self) -> (String, Option<String>) {
        (self.name.clone(), None)
    }
}

impl Labels for NameRequest {
    fn labels(&self) -> (String, Option<String>) {
        (self.name.clone(), None)
    }
}

impl Labels for MountRequest {
    fn labels(&self) -> (String, Option<String>) {
        (self.name.clone(), Some(self.id.clone()))
    }
}

/// Parse the body as `R`, then run `work` on it inside the request's span.
async fn handle<R, T, Fut>(
    m: Manager,
    endpoint: &'static str,
    req: Request,
    work: impl FnOnce(Manager, R) -> Fut,
) -> Response
where
    R: DeserializeOwned + Labels,
    T: Serialize,
    Fut: Future<Output = Result<T, VolumeError>>,
{
    let parsed = parse::<R>(req.into_body()).await;
    let (name, id) = parsed.as_ref().map(R::labels).unwrap_or_default();
    traced(&m.clone(), endpoint, &name, id.as_deref(), async {
        work(m, parsed?).await.map_err(|e| e.to_string())
    })
    .await
}

async fn create(State(m): State<Manager>, req: Request) -> Response {
    handle(m, "Create", req, |m, r: CreateRequest| async move {
        let options: Vec<(String, String)> = r.opts.unwrap_or_default().into_iter().collect();
        m.create(&r.name, &options).await.map(|()| Empty {})
    })
    .await
}

async fn remove(State(m): State<Manager>, req: Request) -> Response {
    handle(m, "Remove", req, |m, r: NameRequest| async move {
        m.remove(&r.name).await.map(|()| Empty {})
    })
    .await
}

async fn mount(State(m): State<Manager>, req: Request) -> Response {
    handle(m, "Mount", req, |m, r: MountRequest| async move {
        let path = m.mount(&r.name, &r.id).await?;
        Ok(MountpointResponse {
            mountpoint: path.display().to_string(),
        })
    })
    .await
}

async fn unmount(State(m): State<Manager>, req: Request) -> Response {
    handle(m, "Unmount", req, |m, r: MountRequest| async move {
        m.unmount(&r.name, &r.id).await.map(|()| Empty {})
    })
    .await
}

async fn path(State(m): State<Manager>, req: Request) -> Response {
    handle(m, "Path", req, |m, r: NameRequest| async move {
        let path = m.path(&r.name).await?;
        Ok(MountpointResponse {
            mountpoint: path.map(|p| p.display().to_string()).unwrap_or_default(),
        })
    })
    .await
}

async fn get(State(m): State<Manager>, req: Request) -> Response {
    handle(m, "Get", req, |m, r: NameRequest| async move {
        let volume = m.get(&r.name).await?;
        Ok(GetResponse {
            volume: volume.map(to_docker),
        })
    })
    .await
}

async fn list(State(m): State<Manager>) -> Response {
    traced(&m, "List", "", None, async {
        let volumes = m.list().await.map_err(|e| e.to_string())?;
        Ok(ListResponse {
            volumes: volumes.into_iter().map(to_docker).collect(),
        })
    })
    .await
}

async fn capabilities(State(m): State<Manager>) -> Response {
    let scope = match m.scope() {
        Scope::Global => "global",
        Scope::Local => "local",
    };
    answer::<_>(Ok(CapabilitiesResponse {
        capabilities: Capabilities { scope },
    }))
}

async fn unknown(uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("unknown endpoint {}", uri.path()),
    )
}

fn to_docker(v: VolumeView) -> Volume {
    Volume {
        name: v.name,
        mountpoint: v
            .mountpoint
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        status: v.status.into_iter().collect(),
    }
}
