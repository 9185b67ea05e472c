//! CreateVolume (with ClientToken idempotency and EBS's type rules),
//! DescribeVolumes (filters, pagination, the stale view), DeleteVolume.

use axum::response::Response;

use super::model::{self, Volume};
use super::query::{self, Page, Params};
use super::xml::{Ec2Error, Xml};
use crate::delays;
use crate::ids;
use crate::world::SharedSim;

const GIB: u64 = 1 << 30;

pub fn create(sim: &SharedSim, params: &Params) -> Result<Response, Ec2Error> {
    let config = &sim.config;
    let zone = params.required("AvailabilityZone")?.to_string();
    if !config.zones.contains(&zone) {
        return Err(Ec2Error::invalid(format!(
            "Invalid availability zone: [{zone}]"
        )));
    }
    let volume_type = params.get("VolumeType").unwrap_or("gp2").to_string();
    model::check_type(&volume_type)?;
    let asked_size = params.int("Size")?;
    let snapshot_id = params
        .get("SnapshotId")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if asked_size.is_none() && snapshot_id.is_none() {
        return Err(query::missing("size or snapshotId"));
    }
    let mut encrypted = params.bool("Encrypted", false)?;
    let kms_key = params.get("KmsKeyId").filter(|k| !k.is_empty());
    if kms_key.is_some() && !encrypted {
        return Err(Ec2Error::bad(
            "InvalidParameterDependency",
            "The parameter KmsKeyId requires the parameter Encrypted to be set.",
        ));
    }
    let multi_attach = params.bool("MultiAttachEnabled", false)?;
    model::check_multi_attach(&volume_type, multi_attach)?;
    let tags = params.tags_for("volume")?;
    let token = params
        .get("ClientToken")
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    if let Some(token) = &token
        && token.len() > 64
    {
        return Err(Ec2Error::invalid(
            "The client token must be at most 64 characters long.",
        ));
    }

    let id = ids::aws("vol");
    let mut world = sim.world();
    let ec2 = &mut world.ec2;
    if let Some(token) = &token
        && let Some((fingerprint, existing)) = ec2.client_tokens.get(token)
    {
        if *fingerprint != params.fingerprint() {
            return Err(Ec2Error::bad(
                "IdempotentParameterMismatch",
                format!("The client token '{token}' was already used with different parameters."),
            ));
        }
        if let Some(volume) = ec2.volumes.get(existing) {
            return Ok(volume_response("CreateVolume", volume, sim));
        }
    }
    let mut kms_key_id = kms_key.map(|k| model::kms_arn(&config.region, k));
    let size_gib = match &snapshot_id {
        Some(snapshot_id) => {
            let snapshot = ec2
                .snapshots
                .get(snapshot_id)
                .ok_or_else(|| Ec2Error::snapshot_not_found(snapshot_id))?;
            if !snapshot.completed {
                return Err(Ec2Error::bad(
                    "IncorrectState",
                    format!("Snapshot is in invalid state - {}", snapshot.state()),
                ));
            }
            if snapshot.encrypted {
                encrypted = true;
                kms_key_id = kms_key_id.or_else(|| snapshot.kms_key_id.clone());
            }
            let size = asked_size.unwrap_or(snapshot.volume_size as i64);
            if size < snapshot.volume_size as i64 {
                return Err(Ec2Error::invalid(format!(
                    "Volume of size {size}GiB is smaller than snapshot '{snapshot_id}', expect size >= {}GiB",
                    snapshot.volume_size
                )));
            }
            size
        }
        None => asked_size.unwrap_or_default(),
    };
    model::check_size(&volume_type, size_gib)?;
    let size_gib = size_gib as u64;
    let iops = model::resolve_iops(&volume_type, size_gib, params.int("Iops")?)?;
    let throughput = model::resolve_throughput(&volume_type, iops, params.int("Throughput")?)?;
    if encrypted && kms_key_id.is_none() {
        kms_key_id = Some(model::default_kms_key(&config.region));
    }

    let made = match &snapshot_id {
        Some(snapshot_id) => sim.hypervisor.restore(snapshot_id, &id, size_gib * GIB),
        None => sim.hypervisor.create(&id, size_gib * GIB),
    };
    made.map_err(Ec2Error::internal)?;
    let volume = Volume {
        id: id.clone(),
        size_gib,
        volume_type,
        iops,
        throughput,
        encrypted,
        kms_key_id,
        snapshot_id,
        zone,
        created: false,
        create_time: ids::now_rfc3339(),
        tags,
        attachments: Vec::new(),
        multi_attach,
    };
    let response = volume_response("CreateVolume", &volume, sim);
    let ec2 = &mut world.ec2;
    ec2.volumes.insert(id.clone(), volume);
    if let Some(token) = token {
        ec2.client_tokens
            .insert(token, (params.fingerprint(), id.clone()));
    }
    drop(world);

    let later = sim.clone();
    delays::after(sim.config.delays.volume_create, move || {
        if let Some(volume) = later.world().ec2.volumes.get_mut(&id) {
            volume.created = true;
        }
    });
    Ok(response)
}

fn volume_response(action: &str, volume: &Volume, sim: &SharedSim) -> Response {
    let mut x = Xml::response(action);
    volume.write(&mut x, &sim.config.region, &sim.config.zones);
    x.finish()
}

pub fn describe(sim: &SharedSim, params: &Params) -> Result<Response, Ec2Error> {
    let ids = params.list("VolumeId");
    let filters = params.filters()?;
    let page = Page::parse(params, 5, 500, !ids.is_empty(), "volumeSet")?;
    let world = sim.world();
    let view = world.ec2_view();
    for id in &ids {
        if !view.volumes.contains_key(id) {
            return Err(Ec2Error::volume_not_found(id));
        }
    }
    let mut matching = Vec::new();
    for volume in view.volumes.values() {
        if query::selected(&ids, &volume.id, &filters, &volume.tags, |name| {
            filter_values(volume, name)
        })? {
            matching.push(volume);
        }
    }
    Ok(page.respond(
        "DescribeVolumes",
        "volumeSet",
        matching,
        |v| v.id.clone(),
        |x, v| v.write(x, &sim.config.region, &sim.config.zones),
    ))
}

/// A volume's values for a DescribeVolumes filter (`None`: no such filter).
fn filter_values(volume: &Volume, name: &str) -> Option<Vec<String>> {
    let attachments =
        |f: &dyn Fn(&model::Attachment) -> String| volume.attachments.iter().map(f).collect();
    Some(match name {
        "volume-id" => vec![volume.id.clone()],
        "availability-zone" => vec![volume.zone.clone()],
        "status" => vec![volume.state().to_string()],
        "size" => vec![volume.size_gib.to_string()],
        "volume-type" => vec![volume.volume_type.clone()],
        "snapshot-id" => volume.snapshot_id.iter().cloned().collect(),
        "encrypted" => vec![volume.encrypted.to_string()],
        "multi-attach-enabled" => vec![volume.multi_attach.to_string()],
        "create-time" => vec![volume.create_time.clone()],
        "attachment.instance-id" => attachments(&|a| a.instance_id.clone()),
        "attachment.device" => attachments(&|a| a.device.clone()),
        "attachment.status" => attachments(&|a| a.state.as_str().to_string()),
        "attachment.attach-time" => attachments(&|a| a.attach_time.clone()),
        "attachment.delete-on-termination" => attachments(&|_| "false".to_string()),
        _ => return None,
    })
}

pub fn delete(sim: &SharedSim, params: &Params) -> Result<Response, Ec2Error> {
    let id = params.required("VolumeId")?;
    let mut world = sim.world();
    let ec2 = &mut world.ec2;
    let volume = ec2
        .volumes
        .get(id)
        .ok_or_else(|| Ec2Error::volume_not_found(id))?;
    if let Some(attachment) = volume.attachments.first() {
        return Err(Ec2Error::bad(
            "VolumeInUse",
            format!(
                "Volume {id} is currently attached to {}",
                attachment.instance_id
            ),
        ));
    }
    ec2.volumes.remove(id);
    ec2.modifications.remove(id);
    ec2.client_tokens.retain(|_, (_, volume)| volume != id);
    drop(world);
    sim.hypervisor.remove(id).map_err(Ec2Error::internal)?;
    Ok(Xml::returns_true("DeleteVolume"))
}
