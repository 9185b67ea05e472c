//! Instances: get, list, attachDisk, detachDisk. An instance is a
//! simulated GCE machine; killed (admin API) it is TERMINATED and keeps
//! its disks until they are detached or force-attached elsewhere. When an
//! attachment turns DONE on a running instance, the hypervisor loop-attaches
//! the disk and makes `google-<deviceName>` and
//! `scsi-0Google_PersistentDisk_<deviceName>` in the instance's device dir.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::disks::{self, check_ready, find};
use super::operations::{self, Spec};
use super::{
    Call, DiskKey, GceError, GceResult, Reference, begin, bool_field, check_zone, list_response,
    paginate, parse_body, parse_filter, put, query_bool, reply, string_field, zonal_world,
};
use crate::config::Provider;
use crate::hypervisor::gce_links;
use crate::world::{Instance, SharedSim, Sim, World};

/// A disk attached to an instance.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub disk: DiskKey,
    pub device_name: String,
    pub read_write: bool,
    pub boot: bool,
    pub auto_delete: bool,
    pub index: u32,
    pub interface: String,
}

impl Attachment {
    /// An instance's boot disk, named like the instance.
    pub fn boot(zone: &str, instance: &str) -> Attachment {
        Attachment {
            disk: (zone.into(), instance.into()),
            device_name: "persistent-disk-0".into(),
            read_write: true,
            boot: true,
            auto_delete: true,
            index: 0,
            interface: "SCSI".into(),
        }
    }

    fn render(&self, call: &Call) -> Value {
        json!({
            "kind": "compute#attachedDisk",
            "type": "PERSISTENT",
            "mode": if self.read_write { "READ_WRITE" } else { "READ_ONLY" },
            "source": call.link(&call.disk_path(&self.disk.0, &self.disk.1)),
            "deviceName": self.device_name,
            "index": self.index,
            "boot": self.boot,
            "autoDelete": self.auto_delete,
            "interface": self.interface,
        })
    }
}

/// The GCE instance `name` in `zone`, or 404.
fn find_instance(call: &Call, world: &World, zone: &str, name: &str) -> GceResult<Instance> {
    world
        .instances
        .get(name)
        .filter(|i| i.spec.provider == Provider::Gce && i.spec.zone == zone)
        .cloned()
        .ok_or_else(|| GceError::not_found(&call.instance_path(zone, name)))
}

fn render(call: &Call, world: &World, instance: &Instance) -> Value {
    let spec = &instance.spec;
    let path = call.instance_path(&spec.zone, &spec.id);
    let disks: Vec<Value> = world
        .gce
        .attachments
        .get(&spec.id)
        .into_iter()
        .flatten()
        .map(|a| a.render(call))
        .collect();
    let mut value = json!({
        "kind": "compute#instance",
        "id": crate::metadata::numeric_id(&spec.id).to_string(),
        "name": spec.id,
        "zone": call.link(&call.zone_path(&spec.zone)),
        "machineType": call.link(&format!("{}/machineTypes/{}", call.zone_path(&spec.zone), spec.instance_type)),
        "status": if instance.running { "RUNNING" } else { "TERMINATED" },
        "selfLink": call.link(&path),
        "disks": disks,
        "serviceAccounts": [{"email": super::service_account(&call.project),
            "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}],
    });
    put(
        &mut value,
        "labelFingerprint",
        Some(json!(super::label_fingerprint(&Default::default()))),
    );
    value
}

type QueryMap = Query<HashMap<String, String>>;

pub async fn get(
    State(sim): State<SharedSim>,
    Path((project, zone, name)): Path<(String, String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Response {
    reply(
        async {
            let call = begin(&sim, &headers, &project, "instances.get", &query).await?;
            let world = zonal_world(&sim, &zone)?;
            let instance = find_instance(&call, &world, &zone, &name)?;
            Ok(render(&call, &world, &instance))
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
            let call = begin(&sim, &headers, &project, "instances.list", &query).await?;
            let filter = parse_filter(&query, &["name", "id", "status", "labels"])?;
            let world = zonal_world(&sim, &zone)?;
            let matching: Vec<(String, Value)> = world
                .instances
                .values()
                .filter(|i| i.spec.provider == Provider::Gce && i.spec.zone == zone)
                .filter(|i| {
                    filter.as_ref().is_none_or(|f| {
                        f.matches(&|field| match field {
                            "name" => Some(i.spec.id.clone()),
                            "id" => Some(crate::metadata::numeric_id(&i.spec.id).to_string()),
                            "status" => {
                                Some(if i.running { "RUNNING" } else { "TERMINATED" }.to_string())
                            }
                            _ => None,
                        })
                    })
                })
                .map(|i| (i.spec.id.clone(), render(&call, &world, i)))
                .collect();
            let (items, next) = paginate(matching, &query)?;
            let path = format!("{}/instances", call.zone_path(&zone));
            Ok(list_response(
                &call,
                "compute#instanceList",
                &path,
                items,
                next,
            ))
        }
        .await,
    )
}

/// Fields of an AttachedDisk.
const ATTACHED_DISK_FIELDS: &[&str] = &[
    "kind",
    "type",
    "mode",
    "source",
    "deviceName",
    "index",
    "boot",
    "autoDelete",
    "interface",
    "licenses",
    "initializeParams",
    "diskEncryptionKey",
    "guestOsFeatures",
    "diskSizeGb",
    "forceAttach",
    "savedState",
    "shieldedInstanceInitialState",
    "architecture",
    "diskInterface",
];

/// GCE's device name rule: `\w[\w.-]{0,254}`.
fn valid_device_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    name.len() <= 255
        && name.chars().next().is_some_and(word)
        && name.chars().all(|c| word(c) || c == '.' || c == '-')
}

struct AttachRequest {
    disk: DiskKey,
    device_name: String,
    read_write: bool,
    auto_delete: bool,
    interface: String,
    force: bool,
}

pub async fn attach_disk(
    State(sim): State<SharedSim>,
    Path((project, zone, name)): Path<(String, String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    reply(
        async {
            let call = begin(&sim, &headers, &project, "instances.attachDisk", &query).await?;
            let force = query_bool(&query, "forceAttach")?;
            let body = parse_body(&body, ATTACHED_DISK_FIELDS, "resource")?;
            let source = string_field(&body, "source", "resource.source")?
                .ok_or_else(|| GceError::required("resource.source"))?;
            let reference = Reference::parse(&source);
            let disk = match reference.zonal("disks") {
                Some(key) if !reference.foreign(&call) => key,
                _ => {
                    return Err(GceError::invalid_field(
                        "resource.source",
                        &source,
                        "The URL is malformed.",
                    ));
                }
            };
            if body.get("initializeParams").is_some_and(|v| !v.is_null()) {
                return Err(GceError::invalid_field(
                    "resource.initializeParams",
                    "",
                    "Not supported by cloudsim.",
                ));
            }
            if bool_field(&body, "boot", "resource.boot")? == Some(true) {
                return Err(GceError::invalid_field(
                    "resource.boot",
                    "true",
                    "A boot disk can only be attached when the instance is created.",
                ));
            }
            match string_field(&body, "type", "resource.type")?.as_deref() {
                None | Some("PERSISTENT") => {}
                Some(other) => {
                    return Err(GceError::invalid_field(
                        "resource.type",
                        other,
                        "Only PERSISTENT disks can be attached.",
                    ));
                }
            }
            let read_write = match string_field(&body, "mode", "resource.mode")?.as_deref() {
                None | Some("READ_WRITE") => true,
                Some("READ_ONLY") => false,
                Some(other) => {
                    return Err(GceError::invalid_field(
                        "resource.mode",
                        other,
                        "Must be READ_WRITE or READ_ONLY.",
                    ));
                }
            };
            let interface = match string_field(&body, "interface", "resource.interface")?.as_deref()
            {
                None | Some("SCSI") => "SCSI".to_string(),
                Some("NVME") => "NVME".to_string(),
                Some(other) => {
                    return Err(GceError::invalid_field(
                        "resource.interface",
                        other,
                        "Must be SCSI or NVME.",
                    ));
                }
            };
            let device_name = string_field(&body, "deviceName", "resource.deviceName")?
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| disk.1.clone());
            if !valid_device_name(&device_name) {
                return Err(GceError::invalid_field(
                    "resource.deviceName",
                    &device_name,
                    "Must be a match of regex '(^$|\\w[\\w.-]{0,254})'",
                ));
            }
            let request = AttachRequest {
                disk,
                device_name,
                read_write,
                auto_delete: bool_field(&body, "autoDelete", "resource.autoDelete")?
                    .unwrap_or(false),
                interface,
                force,
            };
            let (op, stuck) = {
                let mut world = zonal_world(&sim, &zone)?;
                if let Some(op) = call.replayed(&world) {
                    return Ok(op);
                }
                let instance = find_instance(&call, &world, &zone, &name)?;
                let (disk_zone, disk_name) = &request.disk;
                check_zone(&world, disk_zone)?;
                let disk = find(&call, &world, disk_zone, disk_name)?;
                if *disk_zone != zone {
                    return Err(GceError::invalid_field(
                        "resource.source",
                        &source,
                        &format!("Disk must be in the same zone as the instance ({zone})."),
                    ));
                }
                check_ready(&call, &world, disk)?;
                if request.force && world.gce.real_force_attach {
                    return Err(GceError::invalid(
                        "Force attach is only supported for regional disks.",
                    ));
                }
                conflicts(&call, &world, &request, &name)?;
                // A stuck attachment (fault plan) stays RUNNING for ever and
                // never takes effect; it does not hold the disk, so a caller
                // that gives up on it may try again.
                let stuck = sim.faults.take_stuck_attaching();
                let op = operations::start(
                    &call,
                    &mut world,
                    Spec {
                        zone: Some(&zone),
                        operation_type: "attachDisk",
                        target: call.instance_path(&zone, &name),
                        target_id: crate::metadata::numeric_id(&instance.spec.id),
                        locks: (!stuck).then(|| request.disk.clone()),
                    },
                );
                (op, stuck)
            };
            if !stuck {
                let done_call = call.clone();
                operations::finish_after(
                    &sim,
                    op.clone(),
                    sim.config.delays.gce_operation,
                    move |sim, world| complete_attach(&done_call, sim, world, &request, &name),
                );
            }
            operations::answer(&sim, &call, &op)
        }
        .await,
    )
}

/// Refuse what conflicts with the request: the disk on this instance
/// already, in use elsewhere (unless forced), or the device name taken.
fn conflicts(call: &Call, world: &World, request: &AttachRequest, instance: &str) -> GceResult<()> {
    let disk_path = call.disk_path(&request.disk.0, &request.disk.1);
    for (user, attached) in &world.gce.attachments {
        for a in attached.iter().filter(|a| a.disk == request.disk) {
            let user_path = call.instance_path(&request.disk.0, user);
            if user == instance {
                return Err(GceError::in_use(&disk_path, &user_path));
            }
            if (request.read_write || a.read_write) && !request.force {
                return Err(GceError::in_use(&disk_path, &user_path));
            }
        }
    }
    if world
        .gce
        .attachments
        .get(instance)
        .into_iter()
        .flatten()
        .any(|a| a.device_name == request.device_name)
    {
        return Err(GceError::invalid_field(
            "resource.deviceName",
            &request.device_name,
            "The device name is already in use by another disk attached to the instance.",
        ));
    }
    Ok(())
}

/// The attachment turns DONE: check again (things may have changed while
/// it ran), detach the disk from others when forced, record, plug.
fn complete_attach(
    call: &Call,
    sim: &Sim,
    world: &mut World,
    request: &AttachRequest,
    instance: &str,
) -> GceResult<()> {
    let disk = find(call, world, &request.disk.0, &request.disk.1)?.clone();
    if disk.status != "READY" {
        return Err(GceError::not_ready(&call.disk_path(&disk.zone, &disk.name)));
    }
    conflicts(call, world, request, instance)?;
    if request.force {
        let others: Vec<(String, String)> = world
            .gce
            .attachments
            .iter()
            .flat_map(|(user, attached)| {
                attached
                    .iter()
                    .filter(|a| a.disk == request.disk)
                    .map(|a| (user.clone(), a.device_name.clone()))
            })
            .collect();
        for (user, device_name) in others {
            remove_attachment(sim, world, &user, &device_name)?;
        }
    }
    let running = world
        .instances
        .get(instance)
        .filter(|i| i.running)
        .map(|i| i.device_dir.clone());
    if let Some(device_dir) = running {
        sim.hypervisor
            .plug(
                &device_dir,
                &disk.backing(),
                &gce_links(&request.device_name),
            )
            .map_err(|e| GceError::internal(format!("Attaching the disk failed: {e}")))?;
    }
    let attached = world
        .gce
        .attachments
        .entry(instance.to_string())
        .or_default();
    let index = attached.iter().map(|a| a.index + 1).max().unwrap_or(0);
    attached.push(Attachment {
        disk: request.disk.clone(),
        device_name: request.device_name.clone(),
        read_write: request.read_write,
        boot: false,
        auto_delete: request.auto_delete,
        index,
        interface: request.interface.clone(),
    });
    if let Some(disk) = world.gce.disks.get_mut(&request.disk) {
        disk.last_attach = Some(crate::ids::now_rfc3339());
    }
    Ok(())
}

/// Take `device_name` off `instance`: remove the links, and the loop device
/// when no other instance still has the disk.
fn remove_attachment(
    sim: &Sim,
    world: &mut World,
    instance: &str,
    device_name: &str,
) -> GceResult<()> {
    let Some(attached) = world.gce.attachments.get_mut(instance) else {
        return Ok(());
    };
    let Some(at) = attached.iter().position(|a| a.device_name == device_name) else {
        return Ok(());
    };
    let attachment = attached.remove(at);
    let still_used = world
        .gce
        .attachments
        .values()
        .flatten()
        .any(|a| a.disk == attachment.disk);
    let links = gce_links(device_name);
    let device_dir = world.instances.get(instance).map(|i| i.device_dir.clone());
    let backing = world
        .gce
        .disks
        .get(&attachment.disk)
        .map(disks::Disk::backing);
    if let (Some(device_dir), Some(backing)) = (device_dir, backing) {
        let unplugged = if still_used {
            links
                .iter()
                .try_for_each(|link| match std::fs::remove_file(device_dir.join(link)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                    _ => Ok(()),
                })
        } else {
            sim.hypervisor.unplug(&device_dir, &backing, &links)
        };
        if let Err(e) = unplugged {
            world
                .gce
                .attachments
                .entry(instance.to_string())
                .or_default()
                .insert(at, attachment);
            return Err(GceError::internal(format!(
                "Detaching the disk failed: {e}"
            )));
        }
    }
    if let Some(disk) = world.gce.disks.get_mut(&attachment.disk) {
        disk.last_detach = Some(crate::ids::now_rfc3339());
    }
    Ok(())
}

pub async fn detach_disk(
    State(sim): State<SharedSim>,
    Path((project, zone, name)): Path<(String, String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Response {
    reply(
        async {
            let call = begin(&sim, &headers, &project, "instances.detachDisk", &query).await?;
            let device_name = query
                .get("deviceName")
                .filter(|d| !d.is_empty())
                .cloned()
                .ok_or_else(|| GceError::required("deviceName"))?;
            let op = {
                let mut world = zonal_world(&sim, &zone)?;
                if let Some(op) = call.replayed(&world) {
                    return Ok(op);
                }
                let instance = find_instance(&call, &world, &zone, &name)?;
                let attachment = attachment(&world, &name, &device_name)?;
                if attachment.boot && instance.running {
                    return Err(GceError::invalid_field(
                        "deviceName",
                        &device_name,
                        "The boot disk of a running instance cannot be detached.",
                    ));
                }
                let disk = find(&call, &world, &attachment.disk.0, &attachment.disk.1)?;
                if operations::disk_busy(&world, &disk.key()) {
                    return Err(GceError::not_ready(&call.disk_path(&disk.zone, &disk.name)));
                }
                operations::start(
                    &call,
                    &mut world,
                    Spec {
                        zone: Some(&zone),
                        operation_type: "detachDisk",
                        target: call.instance_path(&zone, &name),
                        target_id: crate::metadata::numeric_id(&instance.spec.id),
                        locks: Some(attachment.disk),
                    },
                )
            };
            operations::finish_and_answer(&sim, &call, op, move |sim, world| {
                attachment(world, &name, &device_name)?;
                remove_attachment(sim, world, &name, &device_name)
            })
        }
        .await,
    )
}

fn attachment(world: &World, instance: &str, device_name: &str) -> GceResult<Attachment> {
    world
        .gce
        .attachments
        .get(instance)
        .into_iter()
        .flatten()
        .find(|a| a.device_name == device_name)
        .cloned()
        .ok_or_else(|| {
            GceError::invalid_field(
                "deviceName",
                device_name,
                &format!("No attached disk found with device name '{device_name}'"),
            )
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn device_names() {
        assert!(super::valid_device_name("data-1"));
        assert!(super::valid_device_name("Data_1.x"));
        assert!(!super::valid_device_name("-data"));
        assert!(!super::valid_device_name("/dev/sdb"));
        assert!(!super::valid_device_name(""));
    }
}
