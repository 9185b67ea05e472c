//! Snapshots (global): insert from a disk (`sourceDisk`, a global
//! operation) or `disks.createSnapshot` (a zonal one), get, list, delete.
//! The disk's bytes are copied when the call is made (the hypervisor's
//! sparse copy); the snapshot is CREATING until `delays.snapshot` has
//! passed, then READY.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::disks::find;
use super::operations::{self, Spec};
use super::{
    Call, GceError, GceResult, Reference, begin, check_name, label_fingerprint, labels_field,
    list_response, paginate, parse_body, parse_filter, put, reply, string_field, zonal_world,
};
use crate::world::{SharedSim, Sim, World};

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub id: u64,
    pub name: String,
    /// CREATING, READY, FAILED, DELETING
    pub status: &'static str,
    pub disk_size_gb: u64,
    /// (zone, name, id) of the disk it was taken from.
    pub source_disk: (String, String, u64),
    pub labels: BTreeMap<String, String>,
    pub description: Option<String>,
    pub created: String,
}

impl Snapshot {
    /// The hypervisor's name for its copy of the data.
    pub fn backing(&self) -> String {
        format!("gce-snapshot-{}", self.id)
    }

    fn field(&self, field: &str) -> Option<String> {
        match field {
            "name" => Some(self.name.clone()),
            "id" => Some(self.id.to_string()),
            "status" => Some(self.status.to_string()),
            "diskSizeGb" => Some(self.disk_size_gb.to_string()),
            "sourceDisk" => Some(self.source_disk.1.clone()),
            "description" => self.description.clone(),
            _ => self.labels.get(field.strip_prefix("labels.")?).cloned(),
        }
    }
}

fn render(call: &Call, snapshot: &Snapshot) -> Value {
    let (zone, disk, disk_id) = &snapshot.source_disk;
    let mut value = json!({
        "kind": "compute#snapshot",
        "id": snapshot.id.to_string(),
        "creationTimestamp": snapshot.created,
        "name": snapshot.name,
        "status": snapshot.status,
        "sourceDisk": call.link(&call.disk_path(zone, disk)),
        "sourceDiskId": disk_id.to_string(),
        "diskSizeGb": snapshot.disk_size_gb.to_string(),
        "storageBytes": "0",
        "storageBytesStatus": "UP_TO_DATE",
        "selfLink": call.link(&call.snapshot_path(&snapshot.name)),
        "labelFingerprint": label_fingerprint(&snapshot.labels),
        "storageLocations": [zone.rsplit_once('-').map_or(zone.as_str(), |(region, _)| region)],
        "snapshotType": "STANDARD",
    });
    put(
        &mut value,
        "labels",
        (!snapshot.labels.is_empty()).then(|| json!(snapshot.labels)),
    );
    put(
        &mut value,
        "description",
        snapshot.description.as_ref().map(|d| json!(d)),
    );
    value
}

type QueryMap = Query<HashMap<String, String>>;

const FILTER_FIELDS: &[&str] = &[
    "name",
    "id",
    "status",
    "diskSizeGb",
    "sourceDisk",
    "description",
    "labels",
];

const SNAPSHOT_FIELDS: &[&str] = &[
    "kind",
    "id",
    "creationTimestamp",
    "name",
    "description",
    "status",
    "sourceDisk",
    "sourceDiskId",
    "diskSizeGb",
    "storageBytes",
    "storageBytesStatus",
    "selfLink",
    "labels",
    "labelFingerprint",
    "storageLocations",
    "snapshotType",
    "chainName",
    "guestFlush",
    "licenses",
    "licenseCodes",
    "sourceDiskEncryptionKey",
    "snapshotEncryptionKey",
    "architecture",
    "sourceDiskForRecoveryCheckpoint",
    "sourceSnapshotSchedulePolicy",
    "satisfiesPzs",
    "satisfiesPzi",
    "autoCreated",
    "downloadBytes",
    "enableConfidentialCompute",
];

/// `POST projects/p/global/snapshots` with `sourceDisk`.
pub async fn insert(
    State(sim): State<SharedSim>,
    Path(project): Path<String>,
    Query(query): QueryMap,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    reply(
        async {
            let call = begin(&sim, &headers, &project, "snapshots.insert", &query).await?;
            let body = parse_body(&body, SNAPSHOT_FIELDS, "resource")?;
            let raw = string_field(&body, "sourceDisk", "resource.sourceDisk")?
                .ok_or_else(|| GceError::required("resource.sourceDisk"))?;
            let reference = Reference::parse(&raw);
            let (zone, disk) = match reference.zonal("disks") {
                Some(key) if !reference.foreign(&call) => key,
                _ => {
                    return Err(GceError::invalid_field(
                        "resource.sourceDisk",
                        &raw,
                        "The URL is malformed.",
                    ));
                }
            };
            take(&sim, &call, &body, &zone, &disk, None).await
        }
        .await,
    )
}

/// `POST projects/p/zones/z/disks/d/createSnapshot`.
pub async fn create_from_disk(
    State(sim): State<SharedSim>,
    Path((project, zone, disk)): Path<(String, String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    reply(
        async {
            let call = begin(&sim, &headers, &project, "disks.createSnapshot", &query).await?;
            let body = parse_body(&body, SNAPSHOT_FIELDS, "resource")?;
            take(&sim, &call, &body, &zone, &disk, Some(&zone)).await
        }
        .await,
    )
}

/// Take a snapshot of disk `zone`/`disk`; `op_zone`: a zonal operation.
async fn take(
    sim: &SharedSim,
    call: &Call,
    body: &Map<String, Value>,
    zone: &str,
    disk: &str,
    op_zone: Option<&str>,
) -> GceResult<Value> {
    let name = string_field(body, "name", "resource.name")?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| GceError::required("resource.name"))?;
    check_name("resource.name", &name)?;
    let labels = labels_field(body, "labels", "resource.labels")?;
    let description = string_field(body, "description", "resource.description")?;
    let op = {
        let mut world = zonal_world(sim, zone)?;
        if let Some(op) = call.replayed(&world) {
            return Ok(op);
        }
        if world.gce.snapshots.contains_key(&name) {
            return Err(GceError::already_exists(&call.snapshot_path(&name)));
        }
        let source = find(call, &world, zone, disk)?;
        if source.status != "READY" {
            return Err(GceError::not_ready(&call.disk_path(zone, disk)));
        }
        let snapshot = Snapshot {
            id: super::new_id(),
            name: name.clone(),
            status: "CREATING",
            disk_size_gb: source.size_gb,
            source_disk: (zone.to_string(), disk.to_string(), source.id),
            labels,
            description,
            created: crate::ids::now_rfc3339(),
        };
        // The data as it is now.
        sim.hypervisor
            .snapshot(&source.backing(), &snapshot.backing())
            .map_err(|e| GceError::internal(format!("Copying the disk failed: {e}")))?;
        let (target, operation_type) = match op_zone {
            Some(_) => (call.disk_path(zone, disk), "createSnapshot"),
            None => (call.snapshot_path(&name), "insert"),
        };
        let target_id = if op_zone.is_some() {
            source.id
        } else {
            snapshot.id
        };
        world.gce.snapshots.insert(name.clone(), snapshot);
        operations::start(
            call,
            &mut world,
            Spec {
                zone: op_zone,
                operation_type,
                target,
                target_id,
                locks: None,
            },
        )
    };
    let delays = sim.config.delays;
    crate::delays::after(delays.snapshot, {
        let (sim, name) = (sim.clone(), name.clone());
        move || make_ready(&mut sim.world(), &name)
    });
    operations::finish_after(
        sim,
        op.clone(),
        delays.snapshot.max(delays.gce_operation),
        move |_: &Sim, world| {
            make_ready(world, &name);
            Ok(())
        },
    );
    operations::answer(sim, call, &op)
}

fn make_ready(world: &mut World, name: &str) {
    if let Some(snapshot) = world
        .gce
        .snapshots
        .get_mut(name)
        .filter(|s| s.status == "CREATING")
    {
        snapshot.status = "READY";
    }
}

pub async fn get(
    State(sim): State<SharedSim>,
    Path((project, name)): Path<(String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Response {
    reply(
        async {
            let call = begin(&sim, &headers, &project, "snapshots.get", &query).await?;
            let world = sim.world();
            let snapshot = world
                .gce
                .snapshots
                .get(&name)
                .ok_or_else(|| GceError::not_found(&call.snapshot_path(&name)))?;
            Ok(render(&call, snapshot))
        }
        .await,
    )
}

pub async fn list(
    State(sim): State<SharedSim>,
    Path(project): Path<String>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Response {
    reply(
        async {
            let call = begin(&sim, &headers, &project, "snapshots.list", &query).await?;
            let filter = parse_filter(&query, FILTER_FIELDS)?;
            let world = sim.world();
            let matching: Vec<(String, Value)> = world
                .gce
                .snapshots
                .values()
                .filter(|s| {
                    filter
                        .as_ref()
                        .is_none_or(|f| f.matches(&|field| s.field(field)))
                })
                .map(|s| (s.name.clone(), render(&call, s)))
                .collect();
            let (items, next) = paginate(matching, &query)?;
            let path = format!("projects/{}/global/snapshots", call.project);
            Ok(list_response(
                &call,
                "compute#snapshotList",
                &path,
                items,
                next,
            ))
        }
        .await,
    )
}

pub async fn delete(
    State(sim): State<SharedSim>,
    Path((project, name)): Path<(String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Response {
    reply(
        async {
            let call = begin(&sim, &headers, &project, "snapshots.delete", &query).await?;
            let op = {
                let mut world = sim.world();
                if let Some(op) = call.replayed(&world) {
                    return Ok(op);
                }
                let snapshot = world
                    .gce
                    .snapshots
                    .get_mut(&name)
                    .ok_or_else(|| GceError::not_found(&call.snapshot_path(&name)))?;
                if snapshot.status != "READY" {
                    return Err(GceError::not_ready(&call.snapshot_path(&name)));
                }
                snapshot.status = "DELETING";
                let id = snapshot.id;
                operations::start(
                    &call,
                    &mut world,
                    Spec {
                        zone: None,
                        operation_type: "delete",
                        target: call.snapshot_path(&name),
                        target_id: id,
                        locks: None,
                    },
                )
            };
            operations::finish_and_answer(&sim, &call, op, move |sim, world| {
                if let Some(snapshot) = world.gce.snapshots.remove(&name) {
                    sim.hypervisor
                        .remove_snapshot(&snapshot.backing())
                        .map_err(|e| {
                            GceError::internal(format!("Removing the snapshot's data failed: {e}"))
                        })?;
                }
                Ok(())
            })
        }
        .await,
    )
}
