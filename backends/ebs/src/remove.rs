//! `remove`: delete a volume and its data. Refuses a volume that is
//! attached anywhere unless forced (Docker's `volume rm -f`); never
//! force-detaches without being forced.

use ballast_sdk::ec2::{self, VolumeCondition};
use ballast_sdk::{Error, Result, VolumeName, log};

use crate::attach::detach_tolerant;
use crate::settings::Config;
use crate::tags;

/// Delete every EBS volume of `name` (normally one; duplicates and
/// relocation leftovers go too, or they would stand in for it afterwards).
pub fn remove(config: &Config, name: &VolumeName, force: bool) -> Result<()> {
    let found = tags::lookup(config, name)?;
    if found.all.is_empty() {
        return Err(Error::not_found(format!(
            "no EBS volume named {name} in cluster {}",
            config.cluster
        )));
    }
    let holders: Vec<(String, String)> = found
        .all
        .iter()
        .flat_map(|v| {
            v.live_attachments()
                .map(|a| (v.volume_id.clone(), a.instance_id.clone()))
        })
        .collect();
    if !holders.is_empty() && !force {
        let on: Vec<String> = holders
            .iter()
            .map(|(volume_id, instance)| format!("{volume_id} on {instance}"))
            .collect();
        return Err(Error::conflict(format!(
            "volume {name} is attached ({}); unmount it first, or remove it with force",
            on.join(", ")
        )));
    }
    for (volume_id, instance) in holders {
        log::info(
            "force-detaching volume to remove it",
            &[
                ("volume", name.as_str()),
                ("volume_id", &volume_id),
                ("from", &instance),
            ],
        );
        detach_tolerant(&volume_id, &instance, true)?;
        ec2::wait_volume(
            &volume_id,
            &VolumeCondition::DetachedFrom(instance),
            config.status,
        )?;
    }
    let ids: Vec<String> = found.all.iter().map(|v| v.volume_id.clone()).collect();
    for volume_id in &ids {
        match ec2::delete_volume(volume_id) {
            Ok(()) | Err(Error::NotFound(_)) => {}
            Err(err) => return Err(err),
        }
        log::info(
            "deleted volume",
            &[("volume", name.as_str()), ("volume_id", volume_id)],
        );
    }
    delete_relocation_snapshots(&ids);
    Ok(())
}

/// Snapshots a relocation of these volumes left behind would only cost
/// money now. Best effort: failures are logged.
fn delete_relocation_snapshots(volume_ids: &[String]) {
    let values: Vec<&str> = volume_ids.iter().map(String::as_str).collect();
    let filters = [ec2::filter(&format!("tag:{}", tags::RELOCATING), &values)];
    let snapshots = match ec2::describe_snapshots(&[], &filters) {
        Ok(snapshots) => snapshots,
        Err(err) => {
            log::warn(
                "could not look for relocation snapshots to delete",
                &[("error", err.message())],
            );
            return;
        }
    };
    for snapshot in snapshots {
        if let Err(err) = ec2::delete_snapshot(&snapshot.snapshot_id) {
            log::warn(
                "could not delete a relocation snapshot",
                &[
                    ("snapshot_id", &snapshot.snapshot_id),
                    ("error", err.message()),
                ],
            );
        }
    }
}
