//! AttachVolume and DetachVolume, strict as EC2 is: same zone only, one
//! attachment unless Multi-Attach (io1/io2, up to 16), device names unique
//! per instance, attaching → attached and detaching → available after the
//! configured delays. The hypervisor plugs the volume into the instance
//! when the attachment completes and unplugs it when the detachment does.
//! A killed instance's volumes only detach with Force.

use axum::response::Response;

use super::model::{AttachState, Attachment, Volume};
use super::query::Params;
use super::xml::{Ec2Error, Xml};
use crate::config::Provider;
use crate::world::{Instance, SharedSim, World};
use crate::{delays, hypervisor, ids};

/// Every instance's root device (never free for a volume).
pub const ROOT_DEVICE: &str = "/dev/xvda";
/// At most this many instances share a Multi-Attach volume.
const MULTI_ATTACH_LIMIT: usize = 16;

pub fn attach(sim: &SharedSim, params: &Params) -> Result<Response, Ec2Error> {
    let volume_id = params.required("VolumeId")?.to_string();
    let instance_id = params.required("InstanceId")?.to_string();
    let device = params.required("Device")?.to_string();
    if !valid_device(&device) {
        return Err(Ec2Error::invalid(format!(
            "Value ({device}) for parameter device is invalid. {device} is not a valid EBS device name."
        )));
    }
    let mut world = sim.world();
    let instance = aws_instance(&world, &instance_id)?;
    let in_use = device_in_use(&world, &instance_id, &device);
    let volume = world
        .ec2
        .volumes
        .get_mut(&volume_id)
        .ok_or_else(|| Ec2Error::volume_not_found(&volume_id))?;
    if volume.zone != instance.spec.zone {
        return Err(Ec2Error::bad(
            "InvalidVolume.ZoneMismatch",
            format!(
                "The volume '{volume_id}' is not in the same availability zone as instance '{instance_id}'"
            ),
        ));
    }
    if !volume.created {
        return Err(Ec2Error::bad(
            "IncorrectState",
            format!("The volume '{volume_id}' is not 'available'."),
        ));
    }
    if volume
        .attachments
        .iter()
        .any(|a| a.instance_id == instance_id)
        || (!volume.attachments.is_empty() && !volume.multi_attach)
    {
        return Err(Ec2Error::bad(
            "VolumeInUse",
            format!("{volume_id} is already attached to an instance"),
        ));
    }
    if volume.attachments.len() >= MULTI_ATTACH_LIMIT {
        return Err(Ec2Error::bad(
            "AttachmentLimitExceeded",
            format!("Volume {volume_id} is already attached to {MULTI_ATTACH_LIMIT} instances"),
        ));
    }
    if in_use {
        return Err(Ec2Error::invalid(format!(
            "Attachment point {device} is already in use"
        )));
    }
    let attachment = Attachment {
        serial: ids::request_id(),
        instance_id,
        device,
        state: AttachState::Attaching,
        attach_time: ids::now_rfc3339(),
        plugged: false,
    };
    let mut x = Xml::response("AttachVolume");
    attachment.write(&mut x, &volume_id);
    let serial = attachment.serial.clone();
    volume.attachments.push(attachment);
    drop(world);

    if !sim.faults.take_stuck_attaching() {
        let later = sim.clone();
        delays::after(sim.config.delays.attach, move || {
            complete_attach(&later, &volume_id, &serial)
        });
    }
    Ok(x.finish())
}

/// attaching → attached; plug the volume into the instance if it runs.
fn complete_attach(sim: &SharedSim, volume_id: &str, serial: &str) {
    let mut world = sim.world();
    let World { instances, ec2, .. } = &mut *world;
    let Some(attachment) = ec2.volumes.get_mut(volume_id).and_then(|v| {
        v.attachments
            .iter_mut()
            .find(|a| a.serial == serial && a.state == AttachState::Attaching)
    }) else {
        return; // detached meanwhile
    };
    attachment.state = AttachState::Attached;
    let Some(instance) = instances.get(&attachment.instance_id).filter(|i| i.running) else {
        return;
    };
    let links = hypervisor::aws_links(&instance.spec.instance_type, volume_id, &attachment.device);
    match sim.hypervisor.plug(&instance.device_dir, volume_id, &links) {
        Ok(_) => attachment.plugged = true,
        Err(e) => tracing::error!("plugging {volume_id} into {}: {e}", instance.spec.id),
    }
}

pub fn detach(sim: &SharedSim, params: &Params) -> Result<Response, Ec2Error> {
    let volume_id = params.required("VolumeId")?.to_string();
    let instance_id = params.get("InstanceId").filter(|i| !i.is_empty());
    let device = params.get("Device").filter(|d| !d.is_empty());
    let force = params.bool("Force", false)?;
    let mut world = sim.world();
    let World { instances, ec2, .. } = &mut *world;
    let volume = ec2
        .volumes
        .get_mut(&volume_id)
        .ok_or_else(|| Ec2Error::volume_not_found(&volume_id))?;
    if volume.attachments.is_empty() {
        return Err(Ec2Error::bad(
            "IncorrectState",
            format!("Volume '{volume_id}' is in the '{}' state.", volume.state()),
        ));
    }
    let attachment = match instance_id {
        Some(instance_id) => volume
            .attachments
            .iter_mut()
            .find(|a| a.instance_id == instance_id)
            .ok_or_else(|| {
                Ec2Error::bad(
                    "InvalidAttachment.NotFound",
                    format!(
                        "The volume '{volume_id}' is not attached to instance '{instance_id}'."
                    ),
                )
            })?,
        None if volume.attachments.len() > 1 => {
            return Err(Ec2Error::combination(format!(
                "Volume '{volume_id}' is attached to more than one instance; specify the instance."
            )));
        }
        None => &mut volume.attachments[0],
    };
    if let Some(device) = device
        && device != attachment.device
    {
        return Err(Ec2Error::bad(
            "InvalidAttachment.NotFound",
            format!(
                "The volume '{volume_id}' is not attached at '{device}' to instance '{}'.",
                attachment.instance_id
            ),
        ));
    }
    if attachment.state == AttachState::Detaching && !force {
        return Err(Ec2Error::bad(
            "IncorrectState",
            format!("Volume '{volume_id}' is in the 'detaching' state."),
        ));
    }
    attachment.state = AttachState::Detaching;
    let mut x = Xml::response("DetachVolume");
    attachment.write(&mut x, &volume_id);
    let serial = attachment.serial.clone();
    // A dead node never releases the volume: only a forced detach completes.
    let running = instances
        .get(&attachment.instance_id)
        .is_some_and(|i| i.running);
    drop(world);

    if running || force {
        let later = sim.clone();
        delays::after(sim.config.delays.detach, move || {
            complete_detach(&later, &volume_id, &serial)
        });
    }
    Ok(x.finish())
}

/// detaching → gone; unplug the volume from the instance.
fn complete_detach(sim: &SharedSim, volume_id: &str, serial: &str) {
    let mut world = sim.world();
    let World { instances, ec2, .. } = &mut *world;
    let Some(volume) = ec2.volumes.get_mut(volume_id) else {
        return;
    };
    let Some(index) = volume
        .attachments
        .iter()
        .position(|a| a.serial == serial && a.state == AttachState::Detaching)
    else {
        return;
    };
    let attachment = volume.attachments.remove(index);
    if let Some(instance) = instances.get(&attachment.instance_id) {
        unplug(sim, instance, volume, &attachment);
    }
}

/// Remove the attachment's links; detach the loop device unless another
/// instance still uses it (Multi-Attach).
fn unplug(sim: &SharedSim, instance: &Instance, volume: &Volume, attachment: &Attachment) {
    let links = hypervisor::aws_links(&instance.spec.instance_type, &volume.id, &attachment.device);
    let shared = volume.attachments.iter().any(|a| a.plugged);
    let result = if shared {
        links.iter().try_for_each(|link| {
            match std::fs::remove_file(instance.device_dir.join(link)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
    } else {
        sim.hypervisor
            .unplug(&instance.device_dir, &volume.id, &links)
    };
    if let Err(e) = result {
        tracing::error!("unplugging {} from {}: {e}", volume.id, instance.spec.id);
    }
}

/// The AWS instance `id`, else EC2's not-found error.
fn aws_instance(world: &World, id: &str) -> Result<Instance, Ec2Error> {
    world
        .instances
        .get(id)
        .filter(|i| i.spec.provider == Provider::Aws)
        .cloned()
        .ok_or_else(|| Ec2Error::instance_not_found(id))
}

/// Whether `device` (or its sdX/xvdX twin) is taken on the instance.
fn device_in_use(world: &World, instance_id: &str, device: &str) -> bool {
    let wanted = canonical_device(device);
    wanted == canonical_device(ROOT_DEVICE)
        || world
            .ec2
            .volumes
            .values()
            .flat_map(|v| &v.attachments)
            .any(|a| a.instance_id == instance_id && canonical_device(&a.device) == wanted)
}

/// `/dev/sdf`, `/dev/xvdf` and `xvdf` name the same attachment point.
fn canonical_device(device: &str) -> String {
    let name = device.trim_start_matches("/dev/");
    match name.strip_prefix("xvd") {
        Some(rest) => format!("sd{rest}"),
        None => name.to_string(),
    }
}

/// EBS device names: `/dev/sd[a-z]`, `/dev/xvd[a-z]` (optionally a second
/// letter or a partition number), or the same without `/dev/`.
fn valid_device(device: &str) -> bool {
    let name = device.strip_prefix("/dev/").unwrap_or(device);
    let Some(rest) = name.strip_prefix("xvd").or_else(|| name.strip_prefix("sd")) else {
        return false;
    };
    let letters = rest.chars().take_while(|c| c.is_ascii_lowercase()).count();
    let digits = &rest[letters..];
    (1..=2).contains(&letters) && digits.chars().all(|c| c.is_ascii_digit()) && digits.len() <= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names() {
        assert!(valid_device("/dev/sdf"));
        assert!(valid_device("/dev/xvdba"));
        assert!(valid_device("xvdf"));
        assert!(valid_device("/dev/sda1"));
        assert!(!valid_device("/dev/nvme1n1"));
        assert!(!valid_device("/dev/sd"));
        assert!(!valid_device("bogus"));
        assert_eq!(canonical_device("/dev/xvdf"), canonical_device("/dev/sdf"));
        assert_eq!(canonical_device("xvdf"), "sdf");
    }
}
