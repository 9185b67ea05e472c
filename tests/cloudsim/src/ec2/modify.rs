//! ModifyVolume (grow, change type, IOPS, throughput; the backing file
//! grows at once; modifying → optimizing → completed after delays) and
//! DescribeVolumesModifications.

use axum::response::Response;

use super::model::{self, Modification, Shape};
use super::query::{self, Page, Params};
use super::xml::{Ec2Error, Xml};
use crate::world::SharedSim;
use crate::{delays, ids};

pub fn modify(sim: &SharedSim, params: &Params) -> Result<Response, Ec2Error> {
    let volume_id = params.required("VolumeId")?.to_string();
    let mut world = sim.world();
    let ec2 = &mut world.ec2;
    let volume = ec2
        .volumes
        .get(&volume_id)
        .ok_or_else(|| Ec2Error::volume_not_found(&volume_id))?;
    if !volume.created {
        return Err(Ec2Error::bad(
            "IncorrectState",
            format!("The volume '{volume_id}' is not 'available'."),
        ));
    }
    if let Some(current) = ec2.modifications.get(&volume_id)
        && current.state != "completed"
    {
        return Err(Ec2Error::bad(
            "IncorrectModificationState",
            format!(
                "Volume {volume_id} is already being modified ({}).",
                current.state
            ),
        ));
    }
    let original = Shape::of(volume);
    let volume_type = params
        .get("VolumeType")
        .unwrap_or(&original.volume_type)
        .to_string();
    model::check_type(&volume_type)?;
    let size = params.int("Size")?.unwrap_or(original.size_gib as i64);
    if size < original.size_gib as i64 {
        return Err(Ec2Error::invalid(
            "New size cannot be smaller than existing size",
        ));
    }
    model::check_size(&volume_type, size)?;
    let size_gib = size as u64;
    let same_type = volume_type == original.volume_type;
    // Unless given, IOPS and throughput carry over within a type; a new
    // type starts from its defaults (3000 IOPS, 125 MiB/s).
    let iops = match params.int("Iops")? {
        Some(iops) => Some(iops),
        None if same_type && volume_type != "gp2" => original.iops.map(|i| i as i64),
        None if matches!(volume_type.as_str(), "io1" | "io2") => Some(3000),
        None => None,
    };
    let iops = model::resolve_iops(&volume_type, size_gib, iops)?;
    let throughput = match params.int("Throughput")? {
        Some(throughput) => Some(throughput),
        None if same_type => original.throughput.map(|t| t as i64),
        None => None,
    };
    let throughput = model::resolve_throughput(&volume_type, iops, throughput)?;
    let multi_attach = params.bool("MultiAttachEnabled", original.multi_attach)?;
    model::check_multi_attach(&volume_type, multi_attach)?;
    if !multi_attach && volume.attachments.len() > 1 {
        return Err(Ec2Error::combination(
            "Multi-Attach cannot be disabled while the volume is attached to more than one instance.",
        ));
    }
    let target = Shape {
        size_gib,
        volume_type,
        iops,
        throughput,
        multi_attach,
    };
    if target == original {
        return Err(Ec2Error::invalid(format!(
            "The modification of volume '{volume_id}' requests no change to its current configuration."
        )));
    }
    if size_gib > original.size_gib {
        sim.hypervisor
            .grow(&volume_id, size_gib << 30)
            .map_err(Ec2Error::internal)?;
    }
    let volume = ec2.volumes.get_mut(&volume_id).expect("checked above");
    volume.size_gib = target.size_gib;
    volume.volume_type = target.volume_type.clone();
    volume.iops = target.iops;
    volume.throughput = target.throughput;
    volume.multi_attach = target.multi_attach;
    let modification = Modification {
        volume_id: volume_id.clone(),
        state: "modifying",
        serial: ids::request_id(),
        original,
        target,
        start_time: ids::now_rfc3339(),
        end_time: None,
    };
    let mut x = Xml::response("ModifyVolume");
    x.el("volumeModification", |x| modification.write(x));
    let serial = modification.serial.clone();
    ec2.modifications.insert(volume_id.clone(), modification);
    drop(world);

    let delay = sim.config.delays.volume_create;
    let later = sim.clone();
    delays::after(delay, move || {
        if !advance(&later, &volume_id, &serial, "modifying", "optimizing") {
            return;
        }
        let last = later.clone();
        delays::after(delay, move || {
            advance(&last, &volume_id, &serial, "optimizing", "completed");
        });
    });
    Ok(x.finish())
}

/// Move the modification `serial` of a volume from one state to the next.
fn advance(sim: &SharedSim, volume_id: &str, serial: &str, from: &str, to: &'static str) -> bool {
    let mut world = sim.world();
    match world.ec2.modifications.get_mut(volume_id) {
        Some(m) if m.serial == serial && m.state == from => {
            m.state = to;
            if to == "completed" {
                m.end_time = Some(ids::now_rfc3339());
            }
            true
        }
        _ => false,
    }
}

pub fn describe(sim: &SharedSim, params: &Params) -> Result<Response, Ec2Error> {
    let ids = params.list("VolumeId");
    let filters = params.filters()?;
    let page = Page::parse(params, 5, 500, !ids.is_empty(), "volumeId")?;
    let world = sim.world();
    let ec2 = &world.ec2;
    for id in &ids {
        if !ec2.volumes.contains_key(id) {
            return Err(Ec2Error::volume_not_found(id));
        }
        if !ec2.modifications.contains_key(id) {
            return Err(Ec2Error::bad(
                "InvalidVolumeModification.NotFound",
                format!("Modification for volume '{id}' does not exist."),
            ));
        }
    }
    let no_tags = Default::default();
    let mut matching = Vec::new();
    for modification in ec2.modifications.values() {
        let tags = ec2
            .volumes
            .get(&modification.volume_id)
            .map_or(&no_tags, |v| &v.tags);
        if query::selected(&ids, &modification.volume_id, &filters, tags, |name| {
            filter_values(modification, name)
        })? {
            matching.push(modification);
        }
    }
    Ok(page.respond(
        "DescribeVolumesModifications",
        "volumeModificationSet",
        matching,
        |m| m.volume_id.clone(),
        |x, m| m.write(x),
    ))
}

fn filter_values(m: &Modification, name: &str) -> Option<Vec<String>> {
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).into_iter().collect();
    Some(match name {
        "volume-id" => vec![m.volume_id.clone()],
        "modification-state" => vec![m.state.to_string()],
        "target-size" => vec![m.target.size_gib.to_string()],
        "target-iops" => opt(m.target.iops),
        "target-volume-type" => vec![m.target.volume_type.clone()],
        "target-throughput" => opt(m.target.throughput),
        "original-size" => vec![m.original.size_gib.to_string()],
        "original-iops" => opt(m.original.iops),
        "original-volume-type" => vec![m.original.volume_type.clone()],
        "start-time" => vec![m.start_time.clone()],
        _ => return None,
    })
}
