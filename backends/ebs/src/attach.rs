//! `attach` and `detach`: bring the volume to this instance — taking it over
//! from another instance when preempting, moving it from another zone — and
//! tell the host how the device will show up.
//!
//! The steps, each a no-op when already done, so a retried Mount picks up
//! where the last one stopped: (1) already attached here → done; (2) held by
//! another instance → force-detach it with preempt, else `conflict`; (3) in
//! another zone → relocate (`unavailable` with the progress until it is
//! done: Mount is retried, never blocked for minutes); (4) attach with a
//! free device name and wait; an attachment stuck in `attaching` is taken
//! back and reported. Never force-detach without preempt.

use ballast_sdk::ec2::{
    self, AttachmentState, EbsVolume, Relocation, VolumeCondition, VolumeState,
};
use ballast_sdk::instance::{self, Identity};
use ballast_sdk::{AttachOptions, BlockSource, Error, MountSource, Result, VolumeName, log};

use crate::devices::{self, Reservation};
use crate::settings::{Config, FS_TYPES};
use crate::tags;

/// AttachVolume tries with another device name when EC2 says the name is
/// in use (a mapping this host could not see yet).
const DEVICE_TRIES: usize = 5;

/// This instance, as attach needs it.
struct Me {
    instance_id: String,
    zone: String,
}

/// Attach volume `name` here; see the module docs for the steps.
pub fn attach(config: &Config, name: &VolumeName, options: AttachOptions) -> Result<MountSource> {
    let me = me()?;
    let volume = tags::lookup(config, name)?.survivor.ok_or_else(|| {
        Error::not_found(format!(
            "no EBS volume named {name} in cluster {}",
            config.cluster
        ))
    })?;
    let preempt = options.preempt || config.preempt || volume.tag(tags::PREEMPT) == Some("true");
    let source =
        |volume: &EbsVolume, device: &str| block_source(config, volume, device, options.read_only);

    let volume = match volume
        .attachment_to(&me.instance_id)
        .map(|a| (a.state, a.device.clone()))
    {
        Some((AttachmentState::Attached | AttachmentState::Busy, device)) => {
            return source(&volume, &device);
        }
        Some((AttachmentState::Attaching, device)) => {
            settle(config, name, &volume.volume_id, &me)?;
            return source(&volume, &device);
        }
        Some((AttachmentState::Detaching, _)) => ec2::wait_volume(
            &volume.volume_id,
            &VolumeCondition::DetachedFrom(me.instance_id.clone()),
            config.status,
        )?,
        Some((AttachmentState::Detached, _)) | None => volume,
    };
    let volume = free_from_others(config, name, volume, &me, preempt)?;
    let volume = ready(config, name, volume)?;
    let volume = if volume.zone == me.zone {
        volume
    } else {
        relocate(name, &volume, &me.zone)?
    };
    let device = attach_with_free_device(config, name, &volume, &me)?;
    source(&volume, &device)
}

/// Detach every volume of `name` that is attached here (normally one; a
/// relocation leftover too). Not attached here, or no such volume: success.
pub fn detach(config: &Config, name: &VolumeName) -> Result<()> {
    let me = me()?;
    for volume in tags::lookup(config, name)?.all {
        let Some(attachment) = volume.attachment_to(&me.instance_id) else {
            continue;
        };
        if attachment.state == AttachmentState::Detached {
            continue;
        }
        if attachment.state != AttachmentState::Detaching {
            log::info(
                "detaching volume",
                &[
                    ("volume", name.as_str()),
                    ("volume_id", &volume.volume_id),
                    ("device", &attachment.device),
                ],
            );
            detach_tolerant(&volume.volume_id, &me.instance_id, false)?;
        }
        ec2::wait_volume(
            &volume.volume_id,
            &VolumeCondition::DetachedFrom(me.instance_id.clone()),
            config.status,
        )?;
    }
    Ok(())
}

/// This instance's id and zone. The zone comes from the metadata, or from
/// EC2 when the metadata did not say.
fn me() -> Result<Me> {
    let Identity {
        instance_id, zone, ..
    } = instance::identity()?;
    let zone = match zone {
        Some(zone) => zone,
        None => ec2::describe_instance(&instance_id)?.zone,
    };
    Ok(Me { instance_id, zone })
}

/// Make sure no other instance holds the volume. An instance already
/// letting go (`detaching`: its container stopped) is waited for. One that
/// holds on is force-detached with `preempt` (REX-Ray's preempt: the holder
/// is presumed dead); without preempt that is a `conflict` naming the holder
/// and how to take over.
fn free_from_others(
    config: &Config,
    name: &VolumeName,
    volume: EbsVolume,
    me: &Me,
    preempt: bool,
) -> Result<EbsVolume> {
    let holders: Vec<(String, AttachmentState)> = volume
        .live_attachments()
        .filter(|a| a.instance_id != me.instance_id)
        .map(|a| (a.instance_id.clone(), a.state))
        .collect();
    let holding: Vec<&str> = holders
        .iter()
        .filter(|(_, state)| *state != AttachmentState::Detaching)
        .map(|(holder, _)| holder.as_str())
        .collect();
    if !holding.is_empty() && !preempt {
        return Err(Error::conflict(format!(
            "volume {name} ({}) is attached to instance {}; set preempt (REXRAY_PREEMPT=true or \
             --opt preempt=true) to take it over",
            volume.volume_id,
            holding.join(", ")
        )));
    }
    let mut current = volume;
    for (holder, _) in holders {
        let fields = [
            ("volume", name.as_str()),
            ("volume_id", current.volume_id.as_str()),
            ("from", holder.as_str()),
            ("to", me.instance_id.as_str()),
        ];
        if preempt {
            log::info(
                "preempting volume: force-detaching it from its holder",
                &fields,
            );
            detach_tolerant(&current.volume_id, &holder, true)?;
        } else {
            log::info(
                "waiting for the volume to be detached from its holder",
                &fields,
            );
        }
        current = ec2::wait_volume(
            &current.volume_id,
            &VolumeCondition::DetachedFrom(holder),
            config.status,
        )?;
    }
    Ok(current)
}

/// DetachVolume, where "already detaching" (`conflict`) or "not attached
/// there" (`not-found`) mean the goal is reached or near: the wait after it
/// decides.
pub fn detach_tolerant(volume_id: &str, instance_id: &str, force: bool) -> Result<()> {
    match ec2::detach_volume(volume_id, instance_id, force) {
        Ok(_) => Ok(()),
        Err(err) if matches!(err, Error::Conflict(_) | Error::NotFound(_)) => {
            log::debug(
                "detach answered that the volume is not attached as asked; waiting anyway",
                &[("volume_id", volume_id), ("error", err.message())],
            );
            Ok(())
        }
        Err(err) => Err(err),
    }
}

/// A volume still being created (a create on another host a moment ago)
/// is waited for; one in `error` cannot be used.
fn ready(config: &Config, name: &VolumeName, volume: EbsVolume) -> Result<EbsVolume> {
    match volume.state {
        VolumeState::Creating => ec2::wait_volume(
            &volume.volume_id,
            &VolumeCondition::Available,
            config.status,
        ),
        VolumeState::Error => Err(Error::internal(format!(
            "volume {name} ({}) is in state error in EBS; it cannot be attached",
            volume.volume_id
        ))),
        _ => Ok(volume),
    }
}

/// Move the volume to this zone. While the host's relocation runs, answer
/// `unavailable` at once with its progress: Docker retries the mount.
fn relocate(name: &VolumeName, volume: &EbsVolume, zone: &str) -> Result<EbsVolume> {
    match ec2::relocate(&volume.volume_id, zone)? {
        Relocation::Running((phase, percent)) => {
            log::info(
                "volume is relocating",
                &[
                    ("volume", name.as_str()),
                    ("volume_id", &volume.volume_id),
                    ("from", &volume.zone),
                    ("to", zone),
                    ("phase", &phase),
                    ("percent", &percent.to_string()),
                ],
            );
            Err(Error::unavailable(format!(
                "volume {name} ({}) is relocating from {} to {zone}: {phase} {percent}%; retry the mount",
                volume.volume_id, volume.zone
            )))
        }
        Relocation::Done(moved) => {
            log::info(
                "volume relocated",
                &[
                    ("volume", name.as_str()),
                    ("old_volume_id", &volume.volume_id),
                    ("volume_id", &moved.volume_id),
                    ("zone", &moved.zone),
                ],
            );
            Ok(moved)
        }
    }
}

/// AttachVolume with a device name nobody uses, then wait for `attached`.
/// Returns the device name.
fn attach_with_free_device(
    config: &Config,
    name: &VolumeName,
    volume: &EbsVolume,
    me: &Me,
) -> Result<String> {
    let used = ec2::describe_instance(&me.instance_id)?.device_names;
    let mut tried: Vec<String> = Vec::new();
    for _ in 0..DEVICE_TRIES {
        let Some(reservation) =
            devices::reserve(&volume.volume_id, &used, &tried, reservation_ttl(config))?
        else {
            break;
        };
        let device = reservation.device.clone();
        match ec2::attach_volume(&volume.volume_id, &me.instance_id, &device) {
            Ok(_) => {
                log::info(
                    "attaching volume",
                    &[
                        ("volume", name.as_str()),
                        ("volume_id", &volume.volume_id),
                        ("device", &device),
                    ],
                );
                return settle_and_release(config, name, volume, me, reservation);
            }
            Err(Error::Conflict(message)) if message.contains("already in use") => {
                log::debug(
                    "device name in use; trying the next",
                    &[("device", &device)],
                );
                devices::release(reservation);
                tried.push(device);
            }
            Err(err) => {
                devices::release(reservation);
                return Err(err);
            }
        }
    }
    let why = if tried.is_empty() {
        "every name from /dev/xvdba to /dev/xvdcz is in use or reserved".to_owned()
    } else {
        format!("EC2 said these are in use: {}", tried.join(", "))
    };
    Err(Error::unavailable(format!(
        "no free device name to attach volume {name} ({}) to {}: {why}; retry",
        volume.volume_id, me.instance_id
    )))
}

fn settle_and_release(
    config: &Config,
    name: &VolumeName,
    volume: &EbsVolume,
    me: &Me,
    reservation: Reservation,
) -> Result<String> {
    let settled = settle(config, name, &volume.volume_id, me);
    let device = reservation.device.clone();
    devices::release(reservation);
    settled.map(|()| device)
}

/// Wait for the attachment to reach `attached` within `attach_timeout`. If
/// it is still `attaching` then, it is stuck (EC2 does this now and then):
/// detach it (not forced) so the next Mount starts clean, and say so.
fn settle(config: &Config, name: &VolumeName, volume_id: &str, me: &Me) -> Result<()> {
    let attached = VolumeCondition::AttachedTo(me.instance_id.clone());
    let waited = match ec2::wait_volume(volume_id, &attached, config.attach_policy()) {
        Ok(_) => return Ok(()),
        Err(err @ Error::Unavailable(_)) => err,
        Err(err) => return Err(err),
    };
    let now = ec2::describe_volumes(&[volume_id.to_owned()], &[])?;
    let state = now
        .first()
        .and_then(|v| v.attachment_to(&me.instance_id))
        .map(|a| a.state);
    match state {
        Some(AttachmentState::Attached | AttachmentState::Busy) => Ok(()),
        Some(AttachmentState::Attaching) => {
            let seconds = config.attach_timeout_ms / 1000;
            log::warn(
                "attachment stuck in attaching; detaching it",
                &[
                    ("volume", name.as_str()),
                    ("volume_id", volume_id),
                    ("seconds", &seconds.to_string()),
                ],
            );
            // Say "detached" only once it is: the next Mount must find the
            // volume free, not still detaching.
            let detached = detach_tolerant(volume_id, &me.instance_id, false).and_then(|()| {
                let gone = VolumeCondition::DetachedFrom(me.instance_id.clone());
                ec2::wait_volume(volume_id, &gone, config.status)
            });
            if let Err(err) = detached {
                log::error(
                    "detaching the stuck attachment failed",
                    &[("volume_id", volume_id), ("error", err.message())],
                );
                return Err(Error::unavailable(format!(
                    "attachment of volume {name} ({volume_id}) to {} stuck in attaching for \
                     {seconds} s; detaching it failed too ({}); retry",
                    me.instance_id,
                    err.message()
                )));
            }
            Err(Error::unavailable(format!(
                "attachment of volume {name} ({volume_id}) to {} stuck in attaching for {seconds} s; \
                 detached it; retry",
                me.instance_id
            )))
        }
        _ => Err(waited),
    }
}

/// How long a device name reservation protects an attach in progress: the
/// whole attach with its waits, with room to spare.
fn reservation_ttl(config: &Config) -> u64 {
    let attach = u64::from(config.attach_timeout_ms) / 1000;
    let status = u64::from(config.status.timeout_ms) / 1000;
    (2 * attach + status).max(600)
}

/// How the host finds the attached device: the NVMe by-id link (Nitro),
/// then the xvd name (Xen renames sdX to xvdX); the serial it must report.
fn block_source(
    config: &Config,
    volume: &EbsVolume,
    device: &str,
    read_only: bool,
) -> Result<MountSource> {
    let fs_type = match volume.tag(tags::FSTYPE) {
        None => config.fs_type.clone(),
        Some(tagged) if FS_TYPES.contains(&tagged) => tagged.to_owned(),
        Some(other) => {
            return Err(Error::internal(format!(
                "volume {} is tagged {}={other}; this backend makes only {}",
                volume.volume_id,
                tags::FSTYPE,
                FS_TYPES.join(", ")
            )));
        }
    };
    Ok(MountSource::Block(BlockSource {
        serial: Some(volume.volume_id.clone()),
        by_id: by_id(&volume.volume_id, device),
        device_hint: Some(device.strip_prefix("/dev/").unwrap_or(device).to_owned()),
        image_file: None,
        fs_type,
        mkfs_options: Vec::new(),
        mount_options: if read_only {
            vec!["ro".to_owned()]
        } else {
            Vec::new()
        },
    }))
}

/// The /dev/disk/by-id names of an EBS volume attached as `device`, best first.
fn by_id(volume_id: &str, device: &str) -> Vec<String> {
    vec![
        format!(
            "nvme-Amazon_Elastic_Block_Store_{}",
            volume_id.replace('-', "")
        ),
        devices::xvd_name(device),
    ]
}

#[cfg(test)]
mod tests {
    use ballast_sdk::Settings;

    use super::*;
    use crate::tags::tests::volume;

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::from_settings(Settings::settings(pairs.iter().copied())).unwrap()
    }

    #[test]
    fn the_block_source_names_every_way_to_the_device() {
        let mut v = volume("vol-0abc123", "pgdata", 0, VolumeState::InUse);
        let MountSource::Block(block) =
            block_source(&config(&[]), &v, "/dev/xvdba", false).unwrap()
        else {
            panic!("not a block source");
        };
        assert_eq!(
            block,
            BlockSource {
                serial: Some("vol-0abc123".into()),
                by_id: vec![
                    "nvme-Amazon_Elastic_Block_Store_vol0abc123".into(),
                    "xvdba".into()
                ],
                device_hint: Some("xvdba".into()),
                image_file: None,
                fs_type: "ext4".into(),
                mkfs_options: vec![],
                mount_options: vec![],
            }
        );
        v.tags.push((tags::FSTYPE.into(), "xfs".into()));
        let MountSource::Block(block) = block_source(&config(&[]), &v, "/dev/sdf", true).unwrap()
        else {
            panic!("not a block source");
        };
        assert_eq!(block.by_id[1], "xvdf", "Xen renames sdX");
        assert_eq!(block.device_hint.as_deref(), Some("sdf"));
        assert_eq!(block.fs_type, "xfs", "the tag wins over REXRAY_FSTYPE");
        assert_eq!(block.mount_options, ["ro"]);
    }

    #[test]
    fn an_unknown_fstype_tag_is_refused() {
        let mut v = volume("vol-1", "pgdata", 0, VolumeState::InUse);
        v.tags.push((tags::FSTYPE.into(), "btrfs".into()));
        let err = block_source(&config(&[]), &v, "/dev/xvdba", false).unwrap_err();
        assert_eq!(err.kind(), "internal");
        assert!(err.message().contains("btrfs"), "{err}");
    }

    #[test]
    fn reservations_outlive_the_whole_attach() {
        assert_eq!(reservation_ttl(&config(&[])), 600);
        assert_eq!(reservation_ttl(&config(&[("attach_timeout", "10m")])), 1320);
    }
}
