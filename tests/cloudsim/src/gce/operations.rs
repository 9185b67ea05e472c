//! Operations: what every mutating call returns. An operation is RUNNING
//! until its delay has passed, then its change is applied and it turns
//! DONE, with `error` set when the change could not be made.
//! `zoneOperations` and `globalOperations` get and wait (wait blocks until
//! DONE or `GceState::wait_limit`, then returns the operation as it is).

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Call, DiskKey, GceError, GceResult, begin, check_zone, put, reply};
use crate::world::{SharedSim, Sim, World};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Done,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub id: u64,
    pub name: String,
    /// `None`: a global operation.
    pub zone: Option<String>,
    /// insert, delete, attachDisk, detachDisk, setLabels, resize, createSnapshot
    pub operation_type: String,
    /// Resource path of the target (`projects/p/zones/z/disks/d`).
    pub target: String,
    pub target_id: u64,
    pub status: Status,
    pub insert_time: String,
    pub end_time: Option<String>,
    pub error: Option<GceError>,
    pub request_id: Option<String>,
    /// The disk this operation changes: busy (resourceNotReady) until DONE.
    pub locks: Option<DiskKey>,
}

/// What an operation is about.
pub struct Spec<'a> {
    pub zone: Option<&'a str>,
    pub operation_type: &'a str,
    pub target: String,
    pub target_id: u64,
    pub locks: Option<DiskKey>,
}

impl<'a> Spec<'a> {
    /// A zonal operation on the disk `key`, which it holds (busy for other
    /// changes) until DONE.
    pub fn changing_disk(
        call: &Call,
        key: &'a DiskKey,
        operation_type: &'a str,
        target_id: u64,
    ) -> Spec<'a> {
        let (zone, name) = key;
        Spec {
            zone: Some(zone),
            operation_type,
            target: call.disk_path(zone, name),
            target_id,
            locks: Some(key.clone()),
        }
    }
}

/// Record a RUNNING operation; returns its name.
pub fn start(call: &Call, world: &mut World, spec: Spec<'_>) -> String {
    let now = time::OffsetDateTime::now_utc();
    let name = format!(
        "operation-{}-{:013x}-{:08x}-{:08x}",
        now.unix_timestamp_nanos() / 1_000_000,
        super::new_id() & 0xf_ffff_ffff_ffff,
        super::new_id() as u32,
        super::new_id() as u32
    );
    let op = Operation {
        id: super::new_id(),
        name: name.clone(),
        zone: spec.zone.map(str::to_string),
        operation_type: spec.operation_type.into(),
        target: spec.target,
        target_id: spec.target_id,
        status: Status::Running,
        insert_time: crate::ids::now_rfc3339(),
        end_time: None,
        error: None,
        request_id: call.request_id.clone(),
        locks: spec.locks,
    };
    if let Some(id) = &call.request_id {
        world.gce.request_ids.insert(id.clone(), name.clone());
    }
    world.gce.operations.insert(name.clone(), op);
    name
}

/// After `delay`, apply `change` (the world locked) and mark the operation
/// DONE, with its error if `change` failed. With no delay this happens
/// before returning, so call it without holding the world.
pub fn finish_after(
    sim: &SharedSim,
    name: String,
    delay: Duration,
    change: impl FnOnce(&Sim, &mut World) -> GceResult<()> + Send + 'static,
) {
    let sim = sim.clone();
    crate::delays::after(delay, move || {
        let mut world = sim.world();
        let result = change(&sim, &mut world);
        if let Some(op) = world.gce.operations.get_mut(&name) {
            op.status = Status::Done;
            op.end_time = Some(crate::ids::now_rfc3339());
            op.error = result.err();
        }
        let done = world.gce.done.clone();
        drop(world);
        done.notify_waiters();
    });
}

/// True while a RUNNING operation changes this disk.
pub fn disk_busy(world: &World, key: &DiskKey) -> bool {
    world
        .gce
        .operations
        .values()
        .any(|op| op.status == Status::Running && op.locks.as_ref() == Some(key))
}

/// The operation as GCE shows it.
pub fn render(call: &Call, op: &Operation) -> Value {
    let scope = match &op.zone {
        Some(zone) => call.zone_path(zone),
        None => format!("projects/{}/global", call.project),
    };
    let done = op.status == Status::Done;
    let mut value = json!({
        "kind": "compute#operation",
        "id": op.id.to_string(),
        "name": op.name,
        "operationType": op.operation_type,
        "targetLink": call.link(&op.target),
        "targetId": op.target_id.to_string(),
        "status": if done { "DONE" } else { "RUNNING" },
        "user": super::service_account(&call.project),
        "progress": if done { 100 } else { 0 },
        "insertTime": op.insert_time,
        "startTime": op.insert_time,
        "selfLink": call.link(&format!("{scope}/operations/{}", op.name)),
    });
    put(
        &mut value,
        "zone",
        op.zone
            .as_ref()
            .map(|z| json!(call.link(&call.zone_path(z)))),
    );
    put(
        &mut value,
        "endTime",
        op.end_time.as_ref().map(|t| json!(t)),
    );
    put(
        &mut value,
        "clientOperationId",
        op.request_id.as_ref().map(|id| json!(id)),
    );
    if let Some(error) = &op.error {
        put(
            &mut value,
            "error",
            Some(json!({"errors": [{"code": error.operation_code(), "message": error.message}]})),
        );
        put(
            &mut value,
            "httpErrorStatusCode",
            Some(json!(error.status.as_u16())),
        );
        let message = error
            .status
            .canonical_reason()
            .unwrap_or("ERROR")
            .to_uppercase();
        put(&mut value, "httpErrorMessage", Some(json!(message)));
    }
    value
}

/// Apply `change` after `delays.gce_operation`, as most mutating calls
/// do, and answer with the operation.
pub fn finish_and_answer(
    sim: &SharedSim,
    call: &Call,
    name: String,
    change: impl FnOnce(&Sim, &mut World) -> GceResult<()> + Send + 'static,
) -> GceResult<Value> {
    finish_after(sim, name.clone(), sim.config.delays.gce_operation, change);
    answer(sim, call, &name)
}

/// A mutating call's answer: the operation it started, as it is now
/// (with no delay it may be DONE already).
pub fn answer(sim: &Sim, call: &Call, name: &str) -> GceResult<Value> {
    let world = sim.world();
    Ok(render(call, &world.gce.operations[name]))
}

type QueryMap = Query<HashMap<String, String>>;

/// `…/zones/{zone}/operations/{operation}` or
/// `…/global/operations/{operation}`: the global routes have no `zone`.
#[derive(Debug, Deserialize)]
pub struct OperationPath {
    project: String,
    zone: Option<String>,
    operation: String,
}

/// `zoneOperations.get` and `globalOperations.get`.
pub async fn get(
    State(sim): State<SharedSim>,
    Path(path): Path<OperationPath>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Response {
    reply(fetch(&sim, &headers, &path, &query, false).await)
}

/// `zoneOperations.wait` and `globalOperations.wait`.
pub async fn wait(
    State(sim): State<SharedSim>,
    Path(path): Path<OperationPath>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Response {
    reply(fetch(&sim, &headers, &path, &query, true).await)
}

/// The operation, at once or (`wait`) once DONE or `wait_limit` has passed.
async fn fetch(
    sim: &SharedSim,
    headers: &HeaderMap,
    path: &OperationPath,
    query: &HashMap<String, String>,
    wait: bool,
) -> GceResult<Value> {
    let collection = match path.zone {
        Some(_) => "zoneOperations",
        None => "globalOperations",
    };
    let method = format!("{collection}.{}", if wait { "wait" } else { "get" });
    let call = begin(sim, headers, &path.project, &method, query).await?;
    let zone = path.zone.as_deref();
    let (deadline, done) = {
        let world = sim.world();
        if let Some(zone) = zone {
            check_zone(&world, zone)?;
        }
        let limit = if wait {
            world.gce.wait_limit
        } else {
            Duration::ZERO
        };
        (tokio::time::Instant::now() + limit, world.gce.done.clone())
    };
    loop {
        let notified = done.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let op = lookup(&call, &sim.world(), zone, &path.operation)?;
        if op.status == Status::Done || tokio::time::Instant::now() >= deadline {
            return Ok(render(&call, &op));
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

fn lookup(call: &Call, world: &World, zone: Option<&str>, name: &str) -> GceResult<Operation> {
    world
        .gce
        .operations
        .get(name)
        .filter(|op| op.zone.as_deref() == zone)
        .cloned()
        .ok_or_else(|| {
            let scope = match zone {
                Some(zone) => call.zone_path(zone),
                None => format!("projects/{}/global", call.project),
            };
            GceError::not_found(&format!("{scope}/operations/{name}"))
        })
}
