//! `remove`: delete a volume.
//!
//! An access point volume loses its access point; its directory stays (as
//! with the EFS CSI driver's default) unless the volume was created with
//! `purge=true` or `EFS_PURGEONREMOVE` is set: then the directory is purged
//! first, and the access point deleted only once that succeeded, so a
//! failure leaves the volume whole. A file system volume loses its mount
//! targets (waited out until gone) and then the file system (waited out
//! until deleted). Every copy of the name goes (duplicates would stand in
//! for it afterwards).
//!
//! `force` skips nothing: EFS keeps no record of who mounts a volume, so
//! there is no attachment to refuse or to break, and the host refuses a
//! volume mounted on this host before it asks. A remove that finds only
//! volumes already being deleted (a retried remove) waits them out.

use ballast_sdk::efs::{self, FileSystem, WaitFor};
use ballast_sdk::{Error, Result, VolumeName, log};

use crate::attach::{check_zone, mount_target, my_zone, not_found};
use crate::lookup;
use crate::names::PURGE_TAG;
use crate::settings::Config;
use crate::volume::EfsVolume;

pub fn remove(config: &Config, name: &VolumeName, _force: bool) -> Result<()> {
    let found = lookup::lookup(config, name)?;
    if found.all.is_empty() {
        if found.going.is_empty() {
            return Err(not_found(config, name));
        }
        return found
            .going
            .iter()
            .try_for_each(|volume| wait_gone(config, volume));
    }
    let (points, own): (Vec<EfsVolume>, Vec<EfsVolume>) = found
        .all
        .into_iter()
        .partition(|v| v.access_point.is_some());
    if !points.is_empty() {
        remove_access_points(config, name, &points)?;
    }
    for volume in own {
        remove_file_system(config, name, &volume.file_system)?;
    }
    Ok(())
}

/// Whether removing these access point volumes purges their directories.
pub fn purges(config: &Config, points: &[EfsVolume]) -> bool {
    config.purge_on_remove
        || points.iter().any(|v| {
            v.access_point
                .as_ref()
                .is_some_and(|p| p.tag(PURGE_TAG) == Some("true"))
        })
}

/// Purge is only for a volume's own directory: `<base>/<name>`, never "/"
/// (an access point made by hand and tagged could point anywhere).
pub fn check_purge_path(name: &VolumeName, path: &str) -> Result<()> {
    let last = path.trim_end_matches('/').rsplit('/').next();
    if path.starts_with('/') && last == Some(name.as_str()) {
        return Ok(());
    }
    Err(Error::conflict(format!(
        "volume {name}'s access point is rooted at {path:?}, not a directory named {name}: \
         refusing to purge it; remove it with EFS_PURGEONREMOVE unset and purge=false"
    )))
}

fn remove_access_points(config: &Config, name: &VolumeName, points: &[EfsVolume]) -> Result<()> {
    if purges(config, points) {
        let zone = my_zone()?;
        let mut purged: Vec<(&str, &str)> = Vec::new();
        for volume in points {
            let fs = &volume.file_system;
            let key = (fs.file_system_id.as_str(), volume.export_path());
            if purged.contains(&key) {
                continue;
            }
            check_purge_path(name, volume.export_path())?;
            // The host purges through the mount target in this zone.
            check_zone(name, fs, &zone)?;
            mount_target(config, fs, &zone)?;
            let deleted = efs::purge_directory(&fs.file_system_id, volume.export_path())?;
            log::info(
                "purged the volume's directory",
                &[
                    ("volume", name.as_str()),
                    ("file_system_id", &fs.file_system_id),
                    ("path", volume.export_path()),
                    ("entries", &deleted.to_string()),
                ],
            );
            purged.push(key);
        }
    }
    for volume in points {
        let id = volume.id();
        match efs::delete_access_point(id) {
            Ok(()) | Err(Error::NotFound(_)) => {}
            Err(err) => return Err(err),
        }
        log::info(
            "deleted volume",
            &[
                ("volume", name.as_str()),
                ("access_point_id", id),
                ("file_system_id", &volume.file_system.file_system_id),
            ],
        );
    }
    Ok(())
}

fn remove_file_system(config: &Config, name: &VolumeName, fs: &FileSystem) -> Result<()> {
    let policy = config.policy();
    let id = fs.file_system_id.as_str();
    if fs.life_cycle_state == efs::LifeCycleState::Creating {
        efs::wait_file_system(id, WaitFor::Available, policy)?;
    }
    let targets = efs::describe_mount_targets(id)?;
    for target in targets.iter().filter(|t| !t.life_cycle_state.is_gone()) {
        match efs::delete_mount_target(&target.mount_target_id) {
            Ok(()) | Err(Error::NotFound(_)) => {}
            Err(err) => return Err(err),
        }
        log::info(
            "deleting mount target",
            &[
                ("file_system_id", id),
                ("mount_target_id", &target.mount_target_id),
                ("zone", &target.availability_zone),
            ],
        );
    }
    for target in &targets {
        let slow = config.mount_target_policy();
        efs::wait_mount_target(&target.mount_target_id, WaitFor::Deleted, slow)?;
    }
    match efs::delete_file_system(id) {
        Ok(()) | Err(Error::NotFound(_)) => {}
        Err(err) => return Err(err),
    }
    log::info(
        "deleted volume",
        &[("volume", name.as_str()), ("file_system_id", id)],
    );
    efs::wait_file_system(id, WaitFor::Deleted, policy)?;
    Ok(())
}

/// Wait until a volume already being deleted is gone.
fn wait_gone(config: &Config, volume: &EfsVolume) -> Result<()> {
    let policy = config.policy();
    match &volume.access_point {
        Some(point) => {
            efs::wait_access_point(&point.access_point_id, WaitFor::Deleted, policy).map(drop)
        }
        None => efs::wait_file_system(&volume.file_system.file_system_id, WaitFor::Deleted, policy)
            .map(drop),
    }
}

#[cfg(test)]
mod tests {
    use ballast_sdk::efs::LifeCycleState::Available;

    use super::*;
    use crate::settings::tests::config;
    use crate::volume::tests::point;

    #[test]
    fn purging_follows_the_tag_or_the_setting() {
        let plain = point("fsap-1", "pgdata", Some(1), Available);
        let mut tagged = point("fsap-2", "pgdata", Some(2), Available);
        tagged
            .access_point
            .as_mut()
            .unwrap()
            .tags
            .push((PURGE_TAG.into(), "true".into()));
        let default = config(&[]).unwrap();
        assert!(!purges(&default, std::slice::from_ref(&plain)));
        assert!(purges(&default, &[plain.clone(), tagged]));
        let always = config(&[("EFS_PURGEONREMOVE", "true")]).unwrap();
        assert!(purges(&always, &[plain]));
    }

    #[test]
    fn only_the_volumes_own_directory_is_purged() {
        let name = VolumeName::new("pgdata").unwrap();
        check_purge_path(&name, "/ballast/pgdata").unwrap();
        check_purge_path(&name, "/pgdata").unwrap();
        check_purge_path(&name, "/a/b/pgdata/").unwrap();
        for bad in [
            "/",
            "",
            "/ballast",
            "/ballast/pgdata2",
            "pgdata",
            "/pgdata/sub",
        ] {
            let err = check_purge_path(&name, bad).unwrap_err();
            assert_eq!(err.kind(), "conflict", "{bad:?}");
            assert!(
                err.message().contains("refusing to purge"),
                "{bad:?}: {err}"
            );
        }
    }
}
