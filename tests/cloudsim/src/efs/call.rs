//! One EFS call: the request as received, the steps every action shares
//! (faults, authentication, JSON in and out), and the state transitions an
//! action schedules.

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::errors::EfsError;
use crate::world::{SharedSim, Sim};
use crate::{auth, delays, ids};

/// The parts of a request an action needs.
pub struct Call {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for Call {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Call, Response> {
        let (parts, body) = request.into_parts();
        let body = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|e| {
                EfsError::bad_request(format!("Could not read the request body: {e}"))
                    .into_response()
            })?;
        Ok(Call {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
        })
    }
}

/// An action that needs only the request.
pub type Action = fn(&Sim, &Call) -> Result<Reply, EfsError>;

/// An action on the resource the path's `{id}` names.
pub type ActionOn = fn(&Sim, &Call, &str) -> Result<Reply, EfsError>;

/// Answer `method` with `run`, served (and counted) as EFS action `name`.
pub fn action(method: MethodFilter, name: &'static str, run: Action) -> MethodRouter<SharedSim> {
    on(
        method,
        move |State(sim): State<SharedSim>, call: Call| async move { call.serve(&sim, name, run).await },
    )
}

/// As [`action`], for a route whose path ends in the resource's `{id}`.
pub fn action_on(
    method: MethodFilter,
    name: &'static str,
    run: ActionOn,
) -> MethodRouter<SharedSim> {
    on(
        method,
        move |State(sim): State<SharedSim>, Path(id): Path<String>, call: Call| async move {
            call.serve(&sim, name, |sim, call| run(sim, call, &id))
                .await
        },
    )
}

/// What a successful action answers, and what should change later.
pub struct Reply {
    pub response: Response,
    pub after: Vec<Transition>,
}

impl Reply {
    pub fn new(response: Response) -> Reply {
        Reply {
            response,
            after: Vec::new(),
        }
    }

    pub fn then(mut self, transition: Transition) -> Reply {
        self.after.push(transition);
        self
    }
}

/// A state change that happens `delays.efs` after the call.
#[derive(Debug, Clone)]
pub enum Transition {
    FileSystemAvailable(String),
    FileSystemGone(String),
    MountTargetAvailable(String),
    MountTargetGone(String),
    AccessPointAvailable(String),
    AccessPointGone(String),
}

impl Transition {
    fn apply(self, sim: &Sim) {
        let mut world = sim.world();
        let efs = &mut world.efs;
        match self {
            Transition::FileSystemAvailable(id) => {
                finish_creating(
                    efs.file_systems
                        .get_mut(&id)
                        .map(|fs| &mut fs.life_cycle_state),
                );
            }
            Transition::FileSystemGone(id) => {
                efs.file_systems.remove(&id);
                efs.access_points.retain(|_, ap| ap.file_system_id != id);
            }
            Transition::MountTargetAvailable(id) => {
                finish_creating(
                    efs.mount_targets
                        .get_mut(&id)
                        .map(|mt| &mut mt.life_cycle_state),
                );
            }
            Transition::MountTargetGone(id) => {
                efs.mount_targets.remove(&id);
            }
            Transition::AccessPointAvailable(id) => {
                finish_creating(
                    efs.access_points
                        .get_mut(&id)
                        .map(|ap| &mut ap.life_cycle_state),
                );
            }
            Transition::AccessPointGone(id) => {
                efs.access_points.remove(&id);
            }
        }
    }
}

/// `creating` becomes `available`; any other state stays (a resource
/// deleted meanwhile must not come back to life).
fn finish_creating(life_cycle_state: Option<&mut String>) {
    if let Some(state) = life_cycle_state.filter(|s| *s == "creating") {
        *state = "available".into();
    }
}

impl Call {
    /// Check the call's signature, count it and apply injected faults, run
    /// `action` (which takes the world's lock itself), then schedule the
    /// transitions it asked for once the lock is released.
    pub async fn serve(
        self,
        sim: &SharedSim,
        action: &str,
        run: impl FnOnce(&Sim, &Call) -> Result<Reply, EfsError>,
    ) -> Response {
        if let Err(error) = auth::check_aws(sim, &self.method, &self.uri, &self.headers, &self.body)
        {
            return EfsError::auth(error).into_response();
        }
        if let Some(injected) = sim.faults.before("efs", action).await {
            return EfsError::injected(injected).into_response();
        }
        match run(sim, &self) {
            Ok(reply) => {
                for transition in reply.after {
                    let sim = sim.clone();
                    delays::after(sim.config.delays.efs, move || transition.apply(&sim));
                }
                reply.response
            }
            Err(error) => error.into_response(),
        }
    }

    /// The JSON body as `T`; an empty body reads as `{}`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, EfsError> {
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &self.body
        };
        serde_json::from_slice(body)
            .map_err(|e| EfsError::bad_request(format!("Invalid request body: {e}")))
    }

    /// Query parameters in order (a key may repeat).
    pub fn query(&self) -> Result<Vec<(String, String)>, EfsError> {
        serde_urlencoded::from_str(self.uri.query().unwrap_or_default())
            .map_err(|e| EfsError::bad_request(format!("Invalid query string: {e}")))
    }

    /// The last value of query parameter `key`.
    pub fn query_param(&self, key: &str) -> Result<Option<String>, EfsError> {
        Ok(self
            .query()?
            .into_iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v)
            .next_back())
    }

    /// A page size parameter: at least 1; EFS never answers more than
    /// `cap` items a page, whatever the caller asks (absent: `cap`).
    pub fn page_size(&self, key: &str, cap: usize) -> Result<usize, EfsError> {
        match self.query_param(key)? {
            None => Ok(cap),
            Some(raw) => match raw.parse::<u64>() {
                Ok(n) if n >= 1 => Ok(cap.min(usize::try_from(n).unwrap_or(usize::MAX))),
                _ => Err(EfsError::bad_request(format!(
                    "{key} must be a positive integer."
                ))),
            },
        }
    }
}

/// `value` as JSON with EFS's headers.
pub fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(id) = HeaderValue::from_str(&ids::request_id()) {
        headers.insert("x-amzn-RequestId", id);
    }
    response
}

/// A bodiless answer (204 for deletes).
pub fn empty_response(status: StatusCode) -> Response {
    let mut response = status.into_response();
    if let Ok(id) = HeaderValue::from_str(&ids::request_id()) {
        response.headers_mut().insert("x-amzn-RequestId", id);
    }
    response
}

/// A page of `items` (already in order) starting at `marker` (the
/// sequence number of the first item to show, as an earlier page said),
/// and the marker of the next page.
pub fn paginate<T>(
    items: Vec<(u64, T)>,
    marker: Option<&str>,
    page: usize,
    what: &str,
) -> Result<(Vec<T>, Option<String>), EfsError> {
    let start = match marker {
        None => 0,
        Some(marker) => marker
            .parse::<u64>()
            .map_err(|_| EfsError::bad_request(format!("Invalid {what}: '{marker}'.")))?,
    };
    let mut rest = items.into_iter().filter(|(seq, _)| *seq >= start);
    let shown: Vec<T> = rest.by_ref().take(page).map(|(_, item)| item).collect();
    let next = rest.next().map(|(seq, _)| seq.to_string());
    Ok((shown, next))
}
