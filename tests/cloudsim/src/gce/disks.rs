//! Zonal persistent disks: insert, get, list, aggregatedList, delete,
//! setLabels, resize. A disk's data lives in the hypervisor's backing file
//! `gce-<id>`, made (blank, or from a snapshot) when it turns READY.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::operations::{self, Spec, disk_busy};
use super::{
    Call, DiskKey, GceError, GceResult, Reference, begin, check_name, int64_field,
    label_fingerprint, labels_field, list_response, paginate, parse_body, parse_filter, prepare,
    put, reply, string_field, zonal_world,
};
use crate::world::{SharedSim, Sim, World};

/// Disk types: (name, minimum GB, default GB when no size is given).
pub const TYPES: &[(&str, u64, u64)] = &[
    ("pd-standard", 10, 500),
    ("pd-balanced", 10, 100),
    ("pd-ssd", 10, 100),
    ("pd-extreme", 500, 1000),
];
/// The largest zonal persistent disk, GB.
pub const MAX_GB: u64 = 65536;
/// pd-extreme's provisioned IOPS range.
pub const EXTREME_IOPS: (u64, u64) = (2500, 120_000);

#[derive(Debug, Clone)]
pub struct Disk {
    pub id: u64,
    pub name: String,
    pub zone: String,
    pub size_gb: u64,
    pub disk_type: String,
    pub labels: BTreeMap<String, String>,
    /// CREATING, RESTORING, READY, FAILED, DELETING
    pub status: &'static str,
    pub created: String,
    pub description: Option<String>,
    /// (name, id) of the snapshot it was made from.
    pub source_snapshot: Option<(String, u64)>,
    pub provisioned_iops: Option<u64>,
    pub last_attach: Option<String>,
    pub last_detach: Option<String>,
}

impl Disk {
    /// An instance's boot disk.
    pub fn boot(instance: &str, zone: &str) -> Disk {
        Disk {
            id: super::new_id(),
            name: instance.into(),
            zone: zone.into(),
            size_gb: 10,
            disk_type: "pd-balanced".into(),
            labels: BTreeMap::new(),
            status: "READY",
            created: crate::ids::now_rfc3339(),
            description: None,
            source_snapshot: None,
            provisioned_iops: None,
            last_attach: Some(crate::ids::now_rfc3339()),
            last_detach: None,
        }
    }

    /// The hypervisor's name for its backing file.
    pub fn backing(&self) -> String {
        format!("gce-{}", self.id)
    }

    pub fn key(&self) -> DiskKey {
        (self.zone.clone(), self.name.clone())
    }

    /// Filter fields.
    fn field(&self, field: &str) -> Option<String> {
        match field {
            "name" => Some(self.name.clone()),
            "id" => Some(self.id.to_string()),
            "status" => Some(self.status.to_string()),
            "sizeGb" => Some(self.size_gb.to_string()),
            "type" => Some(self.disk_type.clone()),
            "zone" => Some(self.zone.clone()),
            "description" => self.description.clone(),
            "sourceSnapshot" => self.source_snapshot.as_ref().map(|(name, _)| name.clone()),
            _ => self.labels.get(field.strip_prefix("labels.")?).cloned(),
        }
    }
}

pub const FILTER_FIELDS: &[&str] = &[
    "name",
    "id",
    "status",
    "sizeGb",
    "type",
    "zone",
    "description",
    "sourceSnapshot",
    "labels",
];

/// Instances using the disk, in name order.
pub fn users(world: &World, key: &DiskKey) -> Vec<String> {
    world
        .gce
        .attachments
        .iter()
        .filter(|(_, attached)| attached.iter().any(|a| a.disk == *key))
        .map(|(instance, _)| instance.clone())
        .collect()
}

/// The disk as GCE shows it.
pub fn render(call: &Call, world: &World, disk: &Disk) -> Value {
    let path = call.disk_path(&disk.zone, &disk.name);
    let mut value = json!({
        "kind": "compute#disk",
        "id": disk.id.to_string(),
        "creationTimestamp": disk.created,
        "name": disk.name,
        "sizeGb": disk.size_gb.to_string(),
        "zone": call.link(&call.zone_path(&disk.zone)),
        "status": disk.status,
        "selfLink": call.link(&path),
        "type": call.link(&format!("{}/diskTypes/{}", call.zone_path(&disk.zone), disk.disk_type)),
        "labelFingerprint": label_fingerprint(&disk.labels),
        "physicalBlockSizeBytes": "4096",
    });
    put(
        &mut value,
        "description",
        disk.description.as_ref().map(|d| json!(d)),
    );
    put(
        &mut value,
        "labels",
        (!disk.labels.is_empty()).then(|| json!(disk.labels)),
    );
    let users: Vec<String> = users(world, &disk.key())
        .iter()
        .map(|instance| call.link(&call.instance_path(&disk.zone, instance)))
        .collect();
    put(
        &mut value,
        "users",
        (!users.is_empty()).then(|| json!(users)),
    );
    put(
        &mut value,
        "lastAttachTimestamp",
        disk.last_attach.as_ref().map(|t| json!(t)),
    );
    put(
        &mut value,
        "lastDetachTimestamp",
        disk.last_detach.as_ref().map(|t| json!(t)),
    );
    if let Some((name, id)) = &disk.source_snapshot {
        put(
            &mut value,
            "sourceSnapshot",
            Some(json!(call.link(&call.snapshot_path(name)))),
        );
        put(&mut value, "sourceSnapshotId", Some(json!(id.to_string())));
    }
    put(
        &mut value,
        "provisionedIops",
        disk.provisioned_iops.map(|iops| json!(iops.to_string())),
    );
    value
}

/// The disk, or 404.
pub fn find<'w>(call: &Call, world: &'w World, zone: &str, name: &str) -> GceResult<&'w Disk> {
    world
        .gce
        .disks
        .get(&(zone.to_string(), name.to_string()))
        .ok_or_else(|| GceError::not_found(&call.disk_path(zone, name)))
}

/// 400 resourceNotReady unless the disk is READY and no operation is changing it.
pub fn check_ready(call: &Call, world: &World, disk: &Disk) -> GceResult<()> {
    if disk.status != "READY" || disk_busy(world, &disk.key()) {
        return Err(GceError::not_ready(&call.disk_path(&disk.zone, &disk.name)));
    }
    Ok(())
}

type QueryMap = Query<HashMap<String, String>>;

/// Fields of a Disk resource (GCE refuses others). Only some are used;
/// output-only ones are ignored, as GCE does.
const DISK_FIELDS: &[&str] = &[
    "kind",
    "id",
    "creationTimestamp",
    "name",
    "description",
    "sizeGb",
    "zone",
    "status",
    "selfLink",
    "type",
    "labels",
    "labelFingerprint",
    "users",
    "sourceSnapshot",
    "sourceSnapshotId",
    "sourceImage",
    "sourceImageId",
    "sourceDisk",
    "sourceDiskId",
    "provisionedIops",
    "provisionedThroughput",
    "physicalBlockSizeBytes",
    "lastAttachTimestamp",
    "lastDetachTimestamp",
    "options",
    "licenses",
    "licenseCodes",
    "guestOsFeatures",
    "diskEncryptionKey",
    "sourceImageEncryptionKey",
    "sourceSnapshotEncryptionKey",
    "resourcePolicies",
    "replicaZones",
    "region",
    "architecture",
    "params",
    "storagePool",
    "accessMode",
    "enableConfidentialCompute",
    "locationHint",
    "satisfiesPzs",
    "satisfiesPzi",
    "asyncPrimaryDisk",
];

pub async fn insert(
    State(sim): State<SharedSim>,
    Path((project, zone)): Path<(String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    reply(
        async {
            let call = begin(&sim, &headers, &project, "disks.insert", &query).await?;
            let body = parse_body(&body, DISK_FIELDS, "resource")?;
            let request = InsertRequest::parse(&call, &body)?;
            let (op, delays) = {
                let mut world = zonal_world(&sim, &zone)?;
                if let Some(op) = call.replayed(&world) {
                    return Ok(op);
                }
                let disk = request.disk(&call, &world, &zone)?;
                let key = disk.key();
                let op = operations::start(
                    &call,
                    &mut world,
                    Spec::changing_disk(&call, &key, "insert", disk.id),
                );
                world.gce.disks.insert(key.clone(), disk);
                (
                    op,
                    (
                        sim.config.delays.volume_create,
                        sim.config.delays.gce_operation,
                    ),
                )
            };
            let (create, operation) = delays;
            let key = (zone.clone(), request.name.clone());
            let ready_key = key.clone();
            crate::delays::after(create, {
                let sim = sim.clone();
                move || make_ready(&sim, &mut sim.world(), &ready_key)
            });
            operations::finish_after(
                &sim,
                op.clone(),
                create.max(operation),
                move |sim, world| {
                    make_ready(sim, world, &key);
                    match world.gce.disks.get(&key) {
                        Some(disk) if disk.status == "FAILED" => Err(GceError::internal(format!(
                            "Creating the disk's storage failed: {}",
                            disk.name
                        ))),
                        _ => Ok(()),
                    }
                },
            );
            operations::answer(&sim, &call, &op)
        }
        .await,
    )
}

/// CREATING/RESTORING → READY: make the backing file (blank or from the
/// snapshot). Does nothing once done, so the disk's timer and its
/// operation's may both call it.
fn make_ready(sim: &Sim, world: &mut World, key: &DiskKey) {
    let Some(disk) = world.gce.disks.get_mut(key) else {
        return;
    };
    if disk.status != "CREATING" && disk.status != "RESTORING" {
        return;
    }
    let bytes = disk.size_gb << 30;
    let made = match &disk.source_snapshot {
        Some((_, snapshot_id)) => sim.hypervisor.restore(
            &format!("gce-snapshot-{snapshot_id}"),
            &disk.backing(),
            bytes,
        ),
        None => sim.hypervisor.create(&disk.backing(), bytes),
    };
    disk.status = if made.is_ok() { "READY" } else { "FAILED" };
    if let Err(e) = made {
        tracing::warn!("gce: making disk {} failed: {e}", disk.name);
    }
}

struct InsertRequest {
    name: String,
    description: Option<String>,
    size_gb: Option<u64>,
    disk_type: String,
    labels: BTreeMap<String, String>,
    source_snapshot: Option<String>,
    provisioned_iops: Option<u64>,
}

impl InsertRequest {
    fn parse(call: &Call, body: &Map<String, Value>) -> GceResult<InsertRequest> {
        let name = string_field(body, "name", "resource.name")?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| GceError::required("resource.name"))?;
        check_name("resource.name", &name)?;
        for unsupported in [
            "sourceImage",
            "sourceDisk",
            "replicaZones",
            "diskEncryptionKey",
            "storagePool",
        ] {
            if body.get(unsupported).is_some_and(|v| !v.is_null()) {
                return Err(GceError::invalid_field(
                    &format!("resource.{unsupported}"),
                    &body[unsupported].to_string(),
                    "Not supported by cloudsim.",
                ));
            }
        }
        let disk_type = match string_field(body, "type", "resource.type")? {
            None => "pd-standard".to_string(),
            Some(raw) => {
                let reference = Reference::parse(&raw);
                let name = match &reference.segments[..] {
                    [name] => Some(name.clone()),
                    _ => reference.zonal("diskTypes").map(|(_, t)| t),
                };
                match name.filter(|t| TYPES.iter().any(|(n, ..)| n == t)) {
                    Some(name) if !reference.foreign(call) => name,
                    _ => {
                        return Err(GceError::invalid_field(
                            "resource.type",
                            &raw,
                            "The referenced diskType resource cannot be found.",
                        ));
                    }
                }
            }
        };
        let source_snapshot = match string_field(body, "sourceSnapshot", "resource.sourceSnapshot")?
        {
            None => None,
            Some(raw) => {
                let reference = Reference::parse(&raw);
                let name = match &reference.segments[..] {
                    [name] => Some(name.clone()),
                    _ => reference.global("snapshots"),
                };
                match name {
                    Some(name) if !reference.foreign(call) => Some(name),
                    _ => {
                        return Err(GceError::invalid_field(
                            "resource.sourceSnapshot",
                            &raw,
                            "The URL is malformed.",
                        ));
                    }
                }
            }
        };
        Ok(InsertRequest {
            name,
            description: string_field(body, "description", "resource.description")?,
            size_gb: int64_field(body, "sizeGb", "resource.size_gb")?,
            disk_type,
            labels: labels_field(body, "labels", "resource.labels")?,
            source_snapshot,
            provisioned_iops: int64_field(body, "provisionedIops", "resource.provisioned_iops")?,
        })
    }

    /// The new disk, after every check against the world.
    fn disk(&self, call: &Call, world: &World, zone: &str) -> GceResult<Disk> {
        if world
            .gce
            .disks
            .contains_key(&(zone.to_string(), self.name.clone()))
        {
            return Err(GceError::already_exists(&call.disk_path(zone, &self.name)));
        }
        let snapshot = match &self.source_snapshot {
            None => None,
            Some(name) => {
                let snapshot = world
                    .gce
                    .snapshots
                    .get(name)
                    .ok_or_else(|| GceError::not_found(&call.snapshot_path(name)))?;
                if snapshot.status != "READY" {
                    return Err(GceError::not_ready(&call.snapshot_path(name)));
                }
                Some(snapshot)
            }
        };
        let (_, minimum, default) = TYPES
            .iter()
            .find(|(n, ..)| *n == self.disk_type)
            .copied()
            .unwrap();
        let size_gb = match (self.size_gb, snapshot) {
            (Some(size), Some(snapshot)) if size < snapshot.disk_size_gb => {
                return Err(GceError::invalid_field(
                    "resource.sizeGb",
                    &size.to_string(),
                    &format!(
                        "Requested disk size cannot be smaller than the snapshot size ({} GB).",
                        snapshot.disk_size_gb
                    ),
                ));
            }
            (Some(size), _) => size,
            (None, Some(snapshot)) => snapshot.disk_size_gb.max(minimum),
            (None, None) => default,
        };
        if size_gb < minimum {
            return Err(GceError::invalid_field(
                "resource.sizeGb",
                &size_gb.to_string(),
                &format!(
                    "Disk size cannot be smaller than {minimum} GB for disk type {}.",
                    self.disk_type
                ),
            ));
        }
        check_max_size("resource.sizeGb", size_gb)?;
        match (self.disk_type.as_str(), self.provisioned_iops) {
            ("pd-extreme", None) => return Err(GceError::required("resource.provisionedIops")),
            ("pd-extreme", Some(iops)) if !(EXTREME_IOPS.0..=EXTREME_IOPS.1).contains(&iops) => {
                return Err(GceError::invalid_field(
                    "resource.provisionedIops",
                    &iops.to_string(),
                    &format!(
                        "Provisioned IOPS must be between {} and {}.",
                        EXTREME_IOPS.0, EXTREME_IOPS.1
                    ),
                ));
            }
            ("pd-extreme", _) | (_, None) => {}
            (other, Some(iops)) => {
                return Err(GceError::invalid_field(
                    "resource.provisionedIops",
                    &iops.to_string(),
                    &format!("Provisioned IOPS cannot be set for disk type {other}."),
                ));
            }
        }
        Ok(Disk {
            id: super::new_id(),
            name: self.name.clone(),
            zone: zone.to_string(),
            size_gb,
            disk_type: self.disk_type.clone(),
            labels: self.labels.clone(),
            status: if snapshot.is_some() {
                "RESTORING"
            } else {
                "CREATING"
            },
            created: crate::ids::now_rfc3339(),
            description: self.description.clone(),
            source_snapshot: snapshot.map(|s| (s.name.clone(), s.id)),
            provisioned_iops: self.provisioned_iops,
            last_attach: None,
            last_detach: None,
        })
    }
}

pub async fn get(
    State(sim): State<SharedSim>,
    Path((project, zone, name)): Path<(String, String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Response {
    reply(
        async {
            let call = begin(&sim, &headers, &project, "disks.get", &query).await?;
            let world = zonal_world(&sim, &zone)?;
            let disk = find(&call, &world, &zone, &name)?;
            Ok(render(&call, &world, disk))
        }
        .await,
    )
}

pub async fn list(
    State(sim): State<SharedSim>,
    Path((project, zone)): Path<(String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Response {
    reply(
        async {
            let call = begin(&sim, &headers, &project, "disks.list", &query).await?;
            let filter = parse_filter(&query, FILTER_FIELDS)?;
            let world = zonal_world(&sim, &zone)?;
            let matching: Vec<(String, Value)> = world
                .gce
                .disks
                .values()
                .filter(|d| {
                    d.zone == zone
                        && filter
                            .as_ref()
                            .is_none_or(|f| f.matches(&|field| d.field(field)))
                })
                .map(|d| (d.name.clone(), render(&call, &world, d)))
                .collect();
            let (items, next) = paginate(matching, &query)?;
            let path = format!("{}/disks", call.zone_path(&zone));
            Ok(list_response(&call, "compute#diskList", &path, items, next))
        }
        .await,
    )
}

/// `GET projects/p/aggregated/disks`: every zone's disks, grouped by zone.
pub async fn aggregated_list(
    State(sim): State<SharedSim>,
    Path(project): Path<String>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Response {
    reply(
        async {
            let call = begin(&sim, &headers, &project, "disks.aggregatedList", &query).await?;
            let filter = parse_filter(&query, FILTER_FIELDS)?;
            let mut world = sim.world();
            prepare(&sim, &mut world);
            let matching: Vec<(String, (String, Value))> = world
                .gce
                .disks
                .values()
                .filter(|d| filter.as_ref().is_none_or(|f| f.matches(&|field| d.field(field))))
                .map(|d| (format!("{}/{}", d.zone, d.name), (d.zone.clone(), render(&call, &world, d))))
                .collect();
            let (page, next) = paginate(matching, &query)?;
            let mut zones: Vec<String> = super::DEFAULT_ZONES.iter().map(|z| z.to_string()).collect();
            zones.extend(world.instances.values().map(|i| i.spec.zone.clone()));
            zones.extend(page.iter().map(|(z, _)| z.clone()));
            zones.sort();
            zones.dedup();
            let mut items = Map::new();
            for zone in zones {
                let disks: Vec<&Value> = page.iter().filter(|(z, _)| *z == zone).map(|(_, d)| d).collect();
                let scope = format!("zones/{zone}");
                let entry = if disks.is_empty() {
                    json!({"warning": {
                        "code": "NO_RESULTS_ON_PAGE",
                        "message": format!("There are no results for scope '{scope}' on this page."),
                        "data": [{"key": "scope", "value": scope}],
                    }})
                } else {
                    json!({ "disks": disks })
                };
                items.insert(scope, entry);
            }
            let path = format!("projects/{}/aggregated/disks", call.project);
            let mut value = json!({"kind": "compute#diskAggregatedList", "id": path, "items": items,
                "selfLink": call.link(&path)});
            put(&mut value, "nextPageToken", next.map(|t| json!(t)));
            Ok(value)
        }
        .await,
    )
}

pub async fn delete(
    State(sim): State<SharedSim>,
    Path((project, zone, name)): Path<(String, String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Response {
    reply(
        async {
            let call = begin(&sim, &headers, &project, "disks.delete", &query).await?;
            let op = {
                let mut world = zonal_world(&sim, &zone)?;
                if let Some(op) = call.replayed(&world) {
                    return Ok(op);
                }
                let disk = find(&call, &world, &zone, &name)?;
                let key = disk.key();
                let id = disk.id;
                if let Some(user) = users(&world, &key).first() {
                    return Err(GceError::in_use(
                        &call.disk_path(&zone, &name),
                        &call.instance_path(&zone, user),
                    ));
                }
                check_ready(&call, &world, disk)?;
                world.gce.disks.get_mut(&key).unwrap().status = "DELETING";
                operations::start(
                    &call,
                    &mut world,
                    Spec::changing_disk(&call, &key, "delete", id),
                )
            };
            let (disk_path, key) = (call.disk_path(&zone, &name), (zone.clone(), name.clone()));
            let user_path = call.instance_path(&zone, "");
            operations::finish_and_answer(&sim, &call, op, move |sim, world| {
                if let Some(user) = users(world, &key).first() {
                    if let Some(disk) = world.gce.disks.get_mut(&key) {
                        disk.status = "READY";
                    }
                    return Err(GceError::in_use(&disk_path, &format!("{user_path}{user}")));
                }
                if let Some(disk) = world.gce.disks.remove(&key) {
                    sim.hypervisor.remove(&disk.backing()).map_err(|e| {
                        GceError::internal(format!("Removing the disk's storage failed: {e}"))
                    })?;
                }
                Ok(())
            })
        }
        .await,
    )
}

pub async fn set_labels(
    State(sim): State<SharedSim>,
    Path((project, zone, name)): Path<(String, String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    reply(
        async {
            let call = begin(&sim, &headers, &project, "disks.setLabels", &query).await?;
            let body = parse_body(&body, &["labels", "labelFingerprint"], "resource")?;
            let labels = labels_field(&body, "labels", "resource.labels")?;
            let fingerprint = string_field(&body, "labelFingerprint", "resource.labelFingerprint")?;
            let op = {
                let mut world = zonal_world(&sim, &zone)?;
                if let Some(op) = call.replayed(&world) {
                    return Ok(op);
                }
                let disk = find(&call, &world, &zone, &name)?;
                let current = label_fingerprint(&disk.labels);
                if fingerprint.as_deref() != Some(current.as_str()) {
                    return Err(fingerprint_mismatch());
                }
                let (id, key) = (disk.id, disk.key());
                operations::start(
                    &call,
                    &mut world,
                    Spec {
                        // Labels do not hold the disk: it stays usable meanwhile.
                        locks: None,
                        ..Spec::changing_disk(&call, &key, "setLabels", id)
                    },
                )
            };
            let (disk_path, key) = (call.disk_path(&zone, &name), (zone.clone(), name.clone()));
            operations::finish_and_answer(&sim, &call, op, move |_, world| {
                let disk = world
                    .gce
                    .disks
                    .get_mut(&key)
                    .ok_or_else(|| GceError::not_found(&disk_path))?;
                // Another setLabels may have won meanwhile.
                if fingerprint.as_deref() != Some(label_fingerprint(&disk.labels).as_str()) {
                    return Err(fingerprint_mismatch());
                }
                disk.labels = labels;
                Ok(())
            })
        }
        .await,
    )
}

/// 400 for a size above the largest disk; `field` names it as the call did.
fn check_max_size(field: &str, size_gb: u64) -> GceResult<()> {
    if size_gb > MAX_GB {
        return Err(GceError::invalid_field(
            field,
            &size_gb.to_string(),
            &format!("Disk size cannot be larger than {MAX_GB} GB."),
        ));
    }
    Ok(())
}

fn fingerprint_mismatch() -> GceError {
    GceError::condition_not_met("Labels fingerprint either invalid or resource labels have changed")
}

pub async fn resize(
    State(sim): State<SharedSim>,
    Path((project, zone, name)): Path<(String, String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    reply(
        async {
            let call = begin(&sim, &headers, &project, "disks.resize", &query).await?;
            let body = parse_body(&body, &["sizeGb"], "resource")?;
            let size_gb = int64_field(&body, "sizeGb", "resource.size_gb")?
                .ok_or_else(|| GceError::required("resource.sizeGb"))?;
            let op = {
                let mut world = zonal_world(&sim, &zone)?;
                if let Some(op) = call.replayed(&world) {
                    return Ok(op);
                }
                let disk = find(&call, &world, &zone, &name)?;
                check_ready(&call, &world, disk)?;
                if size_gb <= disk.size_gb {
                    return Err(GceError::invalid_field(
                        "sizeGb",
                        &size_gb.to_string(),
                        &format!(
                            "New disk size '{size_gb}' GiB must be larger than existing size '{}' GiB.",
                            disk.size_gb
                        ),
                    ));
                }
                check_max_size("sizeGb", size_gb)?;
                let (id, key) = (disk.id, disk.key());
                operations::start(
                    &call,
                    &mut world,
                    Spec::changing_disk(&call, &key, "resize", id),
                )
            };
            let (disk_path, key) = (call.disk_path(&zone, &name), (zone.clone(), name.clone()));
            operations::finish_and_answer(&sim, &call, op, move |sim, world| {
                let disk = world.gce.disks.get_mut(&key).ok_or_else(|| GceError::not_found(&disk_path))?;
                sim.hypervisor
                    .grow(&disk.backing(), size_gb << 30)
                    .map_err(|e| GceError::internal(format!("Growing the disk's storage failed: {e}")))?;
                disk.size_gb = disk.size_gb.max(size_gb);
                Ok(())
            })
        }
        .await,
    )
}
