//! Finding volumes: every file system and access point that carries this
//! cluster's tags (`ballast.cluster`, `ballast.volume`), and the one a name
//! means when several do.
//!
//! File system volumes are found among all file systems (EFS filters by id
//! or creation token only, and tokens change with time). Access point
//! volumes are found in the file systems that hold them: the one
//! `EFS_FILESYSTEMID` names and every one tagged `ballast.access-points.<cluster>`
//! (which `create` puts on a file system it makes access points in). Tags
//! are the only cluster-wide state: nothing here is decided from kv or this
//! host's memory, and an error stays an error — "no such volume" is only
//! said when EFS answered with nothing.

use std::collections::BTreeMap;

use ballast_sdk::efs::{self, AccessPoint, FileSystem, LifeCycleState};
use ballast_sdk::{Error, Result, VolumeName};

use crate::names;
use crate::settings::Config;
use crate::volume::EfsVolume;

/// The volumes of one name, as EFS describes them now.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Every volume carrying the name that is not being deleted.
    pub all: Vec<EfsVolume>,
    /// Those being deleted (they hold no name any more).
    pub going: Vec<EfsVolume>,
    /// The one the name means (see [`survivor`]).
    pub survivor: Option<EfsVolume>,
}

/// Look `name` up in EFS.
pub fn lookup(config: &Config, name: &VolumeName) -> Result<Found> {
    let volumes = scan(config)?
        .into_iter()
        .filter(|(n, _)| n == name)
        .map(|(_, volume)| volume)
        .collect();
    Ok(found(volumes))
}

/// Every volume of the cluster, one per name (the survivor), sorted by name.
pub fn list(config: &Config) -> Result<Vec<(VolumeName, EfsVolume)>> {
    Ok(by_name(scan(config)?))
}

/// Sort volumes of one name into live and going, and pick the survivor.
pub fn found(volumes: Vec<EfsVolume>) -> Found {
    let (going, all): (Vec<_>, Vec<_>) = volumes.into_iter().partition(|v| v.state().is_gone());
    let survivor = survivor(&all).cloned();
    Found {
        all,
        going,
        survivor,
    }
}

/// Group volumes by name and keep each name's survivor (names with only
/// volumes being deleted are left out).
pub fn by_name(volumes: Vec<(VolumeName, EfsVolume)>) -> Vec<(VolumeName, EfsVolume)> {
    let mut groups: BTreeMap<VolumeName, Vec<EfsVolume>> = BTreeMap::new();
    for (name, volume) in volumes {
        groups.entry(name).or_default().push(volume);
    }
    groups
        .into_iter()
        .filter_map(|(name, group)| Some((name, found(group).survivor?)))
        .collect()
}

/// The volume a name means among live `volumes`: the earliest created,
/// ties by the smallest id. Pure and deterministic, so every host picks the
/// same one. Two access points of one name share their directory, so which
/// one wins never moves data; two file systems do not, which is why a
/// duplicate file system is only deleted while nothing mounts it.
pub fn survivor(volumes: &[EfsVolume]) -> Option<&EfsVolume> {
    volumes
        .iter()
        .min_by(|a, b| (a.created_ms(), a.id()).cmp(&(b.created_ms(), b.id())))
}

/// Whether `fs` holds this cluster's access point volumes.
pub fn holds_access_points(config: &Config, fs: &FileSystem) -> bool {
    !fs.life_cycle_state.is_gone()
        && (config.file_system_id.as_deref() == Some(fs.file_system_id.as_str())
            || fs.tag(&names::holder_tag(&config.cluster)) == Some("true"))
}

/// Every file system and access point of the cluster, by name.
fn scan(config: &Config) -> Result<Vec<(VolumeName, EfsVolume)>> {
    let file_systems = efs::describe_file_systems(None, None)?;
    volumes_in(config, &file_systems, |file_system_id| {
        match efs::describe_access_points(Some(file_system_id), None) {
            Ok(points) => Ok(Some(points)),
            // Deleted since it was described: it holds nothing now.
            Err(Error::NotFound(_)) => Ok(None),
            Err(err) => Err(err),
        }
    })
}

/// The volumes among `file_systems` and the access points of those that
/// hold some (`access_points_of` describes them; `None`: the file system
/// is gone). Pure but for that call.
pub fn volumes_in(
    config: &Config,
    file_systems: &[FileSystem],
    mut access_points_of: impl FnMut(&str) -> Result<Option<Vec<AccessPoint>>>,
) -> Result<Vec<(VolumeName, EfsVolume)>> {
    let cluster = &config.cluster;
    let mut found = Vec::new();
    for fs in file_systems {
        if fs.life_cycle_state == LifeCycleState::Deleted {
            continue;
        }
        if let Some(name) = cluster.volume_of(&fs.tags) {
            let volume = EfsVolume {
                file_system: fs.clone(),
                access_point: None,
            };
            found.push((name, volume));
        }
    }
    for fs in file_systems
        .iter()
        .filter(|fs| holds_access_points(config, fs))
    {
        let Some(points) = access_points_of(&fs.file_system_id)? else {
            continue;
        };
        for point in points {
            if point.life_cycle_state == LifeCycleState::Deleted {
                continue;
            }
            if let Some(name) = cluster.volume_of(&point.tags) {
                let volume = EfsVolume {
                    file_system: fs.clone(),
                    access_point: Some(point),
                };
                found.push((name, volume));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::config;
    use crate::volume::tests::{FS, own, point, tags};

    use LifeCycleState::{Available, Creating, Deleted, Deleting};

    fn ids(volumes: &[EfsVolume]) -> Option<&str> {
        survivor(volumes).map(EfsVolume::id)
    }

    #[test]
    fn the_earliest_created_wins_then_the_smallest_id() {
        assert_eq!(ids(&[]), None);
        let set = [
            own("fs-c", "x", 30, Available),
            own("fs-b", "x", 10, Creating),
            point("fsap-a", "x", Some(20), Available),
        ];
        assert_eq!(ids(&set), Some("fs-b"));
        let mut reversed = set.to_vec();
        reversed.reverse();
        assert_eq!(ids(&reversed), Some("fs-b"), "EFS's order does not matter");
        let tie = [
            point("fsap-2", "x", Some(10), Available),
            point("fsap-1", "x", Some(10), Available),
        ];
        assert_eq!(ids(&tie), Some("fsap-1"));
        // An access point without a creation tag comes last.
        let untagged = [
            point("fsap-0", "x", None, Available),
            point("fsap-9", "x", Some(99), Available),
        ];
        assert_eq!(ids(&untagged), Some("fsap-9"));
    }

    #[test]
    fn volumes_being_deleted_hold_no_name() {
        let f = found(vec![
            own("fs-old", "x", 1, Deleting),
            point("fsap-new", "x", Some(5), Available),
        ]);
        assert_eq!(f.survivor.as_ref().map(EfsVolume::id), Some("fsap-new"));
        assert_eq!(f.all.len(), 1);
        assert_eq!(f.going.len(), 1);
        let only_going = found(vec![own("fs-old", "x", 1, Deleting)]);
        assert!(only_going.survivor.is_none() && only_going.all.is_empty());
    }

    fn fs(id: &str, tags: Vec<(String, String)>, state: LifeCycleState) -> FileSystem {
        let mut fs = FileSystem::sample(id, state);
        fs.tags = tags;
        fs
    }

    fn ap(id: &str, fs: &str, name: &str, cluster: &str) -> AccessPoint {
        let mut point = AccessPoint::sample(id, fs, &format!("/ballast/{name}"), Available);
        point.tags = vec![
            ("ballast.volume".into(), name.into()),
            ("ballast.cluster".into(), cluster.into()),
        ];
        point
    }

    fn listed(found: &[(VolumeName, EfsVolume)]) -> Vec<(String, String)> {
        found
            .iter()
            .map(|(n, v)| (n.to_string(), v.id().to_owned()))
            .collect()
    }

    #[test]
    fn volumes_are_found_by_their_tags_in_the_file_systems_that_hold_them() {
        let holder = "fs-holder";
        let file_systems = vec![
            fs("fs-own", tags("a"), Available),
            fs("fs-gone", tags("b"), Deleted),
            fs("fs-plain", vec![], Available),
            fs(FS, vec![], Available),
            fs(
                holder,
                vec![("ballast.access-points.ballast".into(), "true".into())],
                Available,
            ),
            fs(
                "fs-elsewhere",
                vec![("ballast.access-points.prod".into(), "true".into())],
                Available,
            ),
        ];
        let mut asked = Vec::new();
        let c = config(&[("EFS_FILESYSTEMID", FS)]).unwrap();
        let found = volumes_in(&c, &file_systems, |id| {
            asked.push(id.to_owned());
            Ok(match id {
                FS => Some(vec![
                    ap("fsap-1", FS, "c", "ballast"),
                    ap("fsap-2", FS, "d", "prod"),
                ]),
                "fs-holder" => Some(vec![ap("fsap-3", holder, "e", "ballast")]),
                _ => None,
            })
        })
        .unwrap();
        assert_eq!(
            asked,
            [FS, holder],
            "only holders are asked for access points"
        );
        assert_eq!(
            listed(&found),
            [("a", "fs-own"), ("c", "fsap-1"), ("e", "fsap-3")]
                .map(|(n, i)| (n.to_string(), i.to_string()))
        );
        let (_, in_holder) = &found[2];
        assert_eq!(in_holder.file_system.file_system_id, holder);
        assert_eq!(in_holder.export_path(), "/ballast/e");
    }

    #[test]
    fn a_holder_gone_meanwhile_holds_nothing_and_errors_stay_errors() {
        let c = config(&[("EFS_FILESYSTEMID", FS)]).unwrap();
        let file_systems = vec![fs(FS, vec![], Available)];
        assert!(
            volumes_in(&c, &file_systems, |_| Ok(None))
                .unwrap()
                .is_empty()
        );
        let err =
            volumes_in(&c, &file_systems, |_| Err(Error::unavailable("Throttling"))).unwrap_err();
        assert_eq!(err.kind(), "unavailable", "never 'no such volume'");
        // A holder being deleted is not asked.
        let deleting = vec![fs(FS, vec![], Deleting)];
        let found = volumes_in(&c, &deleting, |_| panic!("asked a deleting file system")).unwrap();
        assert!(found.is_empty());
    }

    #[test]
    fn list_keeps_one_survivor_per_name() {
        let name = |n: &str| VolumeName::new(n).unwrap();
        let volumes = vec![
            (name("b"), own("fs-b2", "b", 2, Available)),
            (name("a"), point("fsap-a", "a", Some(1), Available)),
            (name("b"), own("fs-b1", "b", 1, Available)),
            (name("c"), own("fs-c", "c", 1, Deleting)),
        ];
        assert_eq!(
            listed(&by_name(volumes)),
            [("a", "fsap-a"), ("b", "fs-b1")].map(|(n, i)| (n.to_string(), i.to_string()))
        );
    }
}
