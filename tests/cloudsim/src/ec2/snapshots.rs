//! CreateSnapshot (the volume's bytes are copied at once; pending →
//! completed after the configured delay), DescribeSnapshots, DeleteSnapshot.

use axum::response::Response;

use super::model::{ACCOUNT, Snapshot};
use super::query::{self, Page, Params};
use super::xml::{Ec2Error, Xml};
use crate::world::SharedSim;
use crate::{delays, ids};

pub fn create(sim: &SharedSim, params: &Params) -> Result<Response, Ec2Error> {
    let volume_id = params.required("VolumeId")?.to_string();
    let description = params.get("Description").unwrap_or_default().to_string();
    if description.chars().count() > 255 {
        return Err(Ec2Error::invalid(
            "The description may be at most 255 characters long.",
        ));
    }
    let tags = params.tags_for("snapshot")?;
    let id = ids::aws("snap");
    let world = sim.world();
    let volume = world
        .ec2
        .volumes
        .get(&volume_id)
        .ok_or_else(|| Ec2Error::volume_not_found(&volume_id))?;
    if !volume.created {
        return Err(Ec2Error::bad(
            "IncorrectState",
            format!("The volume '{volume_id}' is not 'available'."),
        ));
    }
    let snapshot = Snapshot {
        id: id.clone(),
        volume_id: volume_id.clone(),
        volume_size: volume.size_gib,
        description,
        completed: false,
        start_time: ids::now_rfc3339(),
        encrypted: volume.encrypted,
        kms_key_id: volume.kms_key_id.clone(),
        tags,
    };
    drop(world);
    // The point in time is now: copy the bytes before answering.
    sim.hypervisor
        .snapshot(&volume_id, &id)
        .map_err(Ec2Error::internal)?;
    let mut x = Xml::response("CreateSnapshot");
    snapshot.write(&mut x);
    sim.world().ec2.snapshots.insert(id.clone(), snapshot);

    let later = sim.clone();
    delays::after(sim.config.delays.snapshot, move || {
        if let Some(snapshot) = later.world().ec2.snapshots.get_mut(&id) {
            snapshot.completed = true;
        }
    });
    Ok(x.finish())
}

pub fn describe(sim: &SharedSim, params: &Params) -> Result<Response, Ec2Error> {
    let ids = params.list("SnapshotId");
    let owners = params.list("Owner");
    let filters = params.filters()?;
    let page = Page::parse(params, 5, 1000, !ids.is_empty(), "snapshotSet")?;
    let world = sim.world();
    let snapshots = &world.ec2.snapshots;
    for id in &ids {
        if !snapshots.contains_key(id) {
            return Err(Ec2Error::snapshot_not_found(id));
        }
    }
    // Every simulated snapshot is the caller's own.
    let mine = owners.is_empty() || owners.iter().any(|o| o == "self" || o == ACCOUNT);
    let mut matching = Vec::new();
    for snapshot in snapshots.values().filter(|_| mine) {
        if query::selected(&ids, &snapshot.id, &filters, &snapshot.tags, |name| {
            filter_values(snapshot, name)
        })? {
            matching.push(snapshot);
        }
    }
    Ok(page.respond(
        "DescribeSnapshots",
        "snapshotSet",
        matching,
        |s| s.id.clone(),
        |x, s| s.write(x),
    ))
}

fn filter_values(snapshot: &Snapshot, name: &str) -> Option<Vec<String>> {
    Some(vec![match name {
        "snapshot-id" => snapshot.id.clone(),
        "volume-id" => snapshot.volume_id.clone(),
        "status" => snapshot.state().to_string(),
        "progress" => snapshot.progress().to_string(),
        "owner-id" => ACCOUNT.to_string(),
        "description" => snapshot.description.clone(),
        "volume-size" => snapshot.volume_size.to_string(),
        "encrypted" => snapshot.encrypted.to_string(),
        "start-time" => snapshot.start_time.clone(),
        "storage-tier" => "standard".to_string(),
        _ => return None,
    }])
}

pub fn delete(sim: &SharedSim, params: &Params) -> Result<Response, Ec2Error> {
    let id = params.required("SnapshotId")?;
    if sim.world().ec2.snapshots.remove(id).is_none() {
        return Err(Ec2Error::snapshot_not_found(id));
    }
    sim.hypervisor
        .remove_snapshot(id)
        .map_err(Ec2Error::internal)?;
    Ok(Xml::returns_true("DeleteSnapshot"))
}
