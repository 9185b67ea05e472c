//! An EFS volume as this backend holds it ([`EfsVolume`]: a file system,
//! and the access point when it is one) and as the host and `docker volume
//! inspect` see it: the contract's `Volume` with status pairs.
//!
//! Pure: the mount targets' zones are looked up by the caller.

use ballast_sdk::efs::{AccessPoint, FileSystem, LifeCycleState};
use ballast_sdk::{Volume, VolumeName, format_size};

use crate::names;
use crate::options::Mode;

/// One volume: its own file system (file-system mode), or an access point
/// and the file system it is in (access-point mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EfsVolume {
    pub file_system: FileSystem,
    pub access_point: Option<AccessPoint>,
}

impl EfsVolume {
    pub fn mode(&self) -> Mode {
        match self.access_point {
            Some(_) => Mode::AccessPoint,
            None => Mode::FileSystem,
        }
    }

    /// The access point's id, or the file system's.
    pub fn id(&self) -> &str {
        match &self.access_point {
            Some(point) => &point.access_point_id,
            None => &self.file_system.file_system_id,
        }
    }

    /// The life cycle state of what the volume is (access point or file
    /// system).
    pub fn state(&self) -> LifeCycleState {
        match &self.access_point {
            Some(point) => point.life_cycle_state,
            None => self.file_system.life_cycle_state,
        }
    }

    /// When it was created, in ms since the epoch: EFS's creation time of a
    /// file system; the `ballast.created` tag of an access point (none:
    /// last, so a tagged one wins).
    pub fn created_ms(&self) -> u64 {
        match &self.access_point {
            Some(point) => point
                .tag(names::CREATED_TAG)
                .and_then(|ms| ms.parse().ok())
                .unwrap_or(u64::MAX),
            None => self.file_system.creation_time_ms,
        }
    }

    /// The directory the host mounts: the access point's root, or the file
    /// system's "/".
    pub fn export_path(&self) -> &str {
        match &self.access_point {
            Some(point) => &point.root_directory.path,
            None => "/",
        }
    }

    /// "filesystem", or "accesspoint in fs-…", for messages.
    pub fn describe_mode(&self) -> String {
        match &self.access_point {
            Some(point) => format!("{} in {}", Mode::AccessPoint.as_str(), point.file_system_id),
            None => Mode::FileSystem.as_str().to_owned(),
        }
    }
}

/// The contract's `Volume` for `volume`, named `name`. `mount_zones` are
/// the zones its file system has mount targets in, when looked up.
pub fn to_volume(
    name: &VolumeName,
    volume: &EfsVolume,
    mount_zones: Option<Vec<String>>,
) -> Volume {
    Volume {
        name: name.to_string(),
        id: volume.id().to_owned(),
        // EFS has no provisioned size.
        size_bytes: 0,
        zone: volume.file_system.availability_zone.clone(),
        // Any number of hosts mount an EFS volume at once; EFS does not say
        // which.
        attached_to: vec![],
        status: status(volume, mount_zones),
    }
}

/// The status pairs `docker volume inspect` shows.
pub fn status(volume: &EfsVolume, mount_zones: Option<Vec<String>>) -> Vec<(String, String)> {
    let fs = &volume.file_system;
    let mut status = vec![
        ("mode", volume.mode().as_str().to_owned()),
        ("filesystemid", fs.file_system_id.clone()),
    ];
    if let Some(point) = &volume.access_point {
        status.push(("accesspointid", point.access_point_id.clone()));
        status.push(("rootpath", point.root_directory.path.clone()));
        if let Some(info) = &point.root_directory.creation_info {
            status.push(("uid", info.owner_uid.to_string()));
            status.push(("gid", info.owner_gid.to_string()));
            status.push(("permissions", info.permissions.clone()));
        }
        if let Some(user) = &point.posix_user {
            status.push(("posixuser", format!("{}:{}", user.uid, user.gid)));
        }
        status.push((
            "purge",
            (point.tag(names::PURGE_TAG) == Some("true")).to_string(),
        ));
    }
    status.push(("state", volume.state().as_str().to_owned()));
    if volume.access_point.is_some() {
        status.push(("filesystemstate", fs.life_cycle_state.as_str().to_owned()));
    }
    status.push(("performancemode", fs.performance_mode.clone()));
    status.push(("throughputmode", fs.throughput_mode.clone()));
    if let Some(mibps) = fs.provisioned_throughput_mibps {
        status.push(("provisionedthroughput", format!("{mibps}MiB/s")));
    }
    status.push(("encrypted", fs.encrypted.to_string()));
    if let Some(zone) = &fs.availability_zone {
        status.push(("availabilityzone", zone.clone()));
    }
    if let Some(zones) = mount_zones {
        let shown = if zones.is_empty() {
            "none".to_owned()
        } else {
            zones.join(",")
        };
        status.push(("mounttargets", shown));
    }
    // Of the whole file system, shared by its access points; EFS updates it
    // every few hours.
    let size_key = match volume.mode() {
        Mode::AccessPoint => "filesystemsize",
        Mode::FileSystem => "size",
    };
    status.push((size_key, format_size(fs.size_bytes)));
    status.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[cfg(test)]
pub mod tests {
    use ballast_sdk::efs::{CreationInfo, PosixUser};

    use super::*;

    pub const FS: &str = "fs-0123456789abcdef0";

    /// File system volume `name` (tagged for the default cluster), created at `created`.
    pub fn own(id: &str, name: &str, created: u64, state: LifeCycleState) -> EfsVolume {
        let mut fs = FileSystem::sample(id, state);
        fs.creation_time_ms = created;
        fs.tags = tags(name);
        EfsVolume {
            file_system: fs,
            access_point: None,
        }
    }

    /// Access point volume `name` in `FS` (tagged, created at `created`).
    pub fn point(id: &str, name: &str, created: Option<u64>, state: LifeCycleState) -> EfsVolume {
        let mut point = AccessPoint::sample(id, FS, &format!("/ballast/{name}"), state);
        point.tags = tags(name);
        if let Some(ms) = created {
            point.tags.push((names::CREATED_TAG.into(), ms.to_string()));
        }
        EfsVolume {
            file_system: FileSystem::sample(FS, LifeCycleState::Available),
            access_point: Some(point),
        }
    }

    pub fn tags(name: &str) -> Vec<(String, String)> {
        vec![
            ("ballast.volume".into(), name.into()),
            ("ballast.cluster".into(), "ballast".into()),
        ]
    }

    fn pairs(status: &[(String, String)]) -> Vec<(&str, &str)> {
        status
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn a_file_system_volume_shows_its_facts() {
        let mut v = own(FS, "pgdata", 5, LifeCycleState::Available);
        v.file_system.size_bytes = 3 << 30;
        v.file_system.throughput_mode = "provisioned".into();
        v.file_system.provisioned_throughput_mibps = Some(64);
        v.file_system.availability_zone = Some("us-east-1a".into());
        let shown = to_volume(
            &VolumeName::new("pgdata").unwrap(),
            &v,
            Some(vec!["us-east-1a".into()]),
        );
        assert_eq!((shown.name.as_str(), shown.id.as_str()), ("pgdata", FS));
        assert_eq!(
            (shown.size_bytes, shown.zone.as_deref()),
            (0, Some("us-east-1a"))
        );
        assert!(shown.attached_to.is_empty());
        assert_eq!(
            pairs(&shown.status),
            [
                ("mode", "filesystem"),
                ("filesystemid", FS),
                ("state", "available"),
                ("performancemode", "generalPurpose"),
                ("throughputmode", "provisioned"),
                ("provisionedthroughput", "64MiB/s"),
                ("encrypted", "false"),
                ("availabilityzone", "us-east-1a"),
                ("mounttargets", "us-east-1a"),
                ("size", "3 GiB"),
            ]
        );
        assert_eq!(
            (v.mode(), v.export_path(), v.created_ms()),
            (Mode::FileSystem, "/", 5)
        );
        assert_eq!(v.describe_mode(), "filesystem");
    }

    #[test]
    fn an_access_point_volume_shows_its_directory_and_file_system() {
        let mut v = point("fsap-1", "pgdata", Some(7), LifeCycleState::Creating);
        {
            let ap = v.access_point.as_mut().unwrap();
            ap.root_directory.creation_info = Some(CreationInfo {
                owner_uid: 1000,
                owner_gid: 50,
                permissions: "750".into(),
            });
            ap.posix_user = Some(PosixUser {
                uid: 1000,
                gid: 50,
                secondary_gids: vec![],
            });
        }
        let shown = to_volume(&VolumeName::new("pgdata").unwrap(), &v, Some(vec![]));
        assert_eq!((shown.id.as_str(), shown.zone), ("fsap-1", None));
        assert_eq!(
            pairs(&shown.status),
            [
                ("mode", "accesspoint"),
                ("filesystemid", FS),
                ("accesspointid", "fsap-1"),
                ("rootpath", "/ballast/pgdata"),
                ("uid", "1000"),
                ("gid", "50"),
                ("permissions", "750"),
                ("posixuser", "1000:50"),
                ("purge", "false"),
                ("state", "creating"),
                ("filesystemstate", "available"),
                ("performancemode", "generalPurpose"),
                ("throughputmode", "bursting"),
                ("encrypted", "false"),
                ("mounttargets", "none"),
                ("filesystemsize", "6 KiB"),
            ]
        );
        assert_eq!(v.export_path(), "/ballast/pgdata");
        assert_eq!(v.created_ms(), 7);
        assert_eq!(v.describe_mode(), format!("accesspoint in {FS}"));
        // Without a creation tag it sorts last; list shows no mount targets.
        let untagged = point("fsap-2", "pgdata", None, LifeCycleState::Available);
        assert_eq!(untagged.created_ms(), u64::MAX);
        let listed = status(&untagged, None);
        assert!(
            !listed
                .iter()
                .any(|(k, _)| k == "mounttargets" || k == "uid")
        );
    }
}
