//! The tag scheme that makes an EBS volume a Ballast volume, and the lookup
//! that turns "every EC2 volume carrying a name" into the one volume that
//! name means.
//!
//! A name can briefly match several volumes: concurrent creators on several
//! hosts across a token window, or a relocation (the new volume exists
//! before the old is deleted). [`survivor`] decides which one counts, the
//! same way on every host and every call, so all hosts agree without
//! talking to each other. Tags are the only cluster-wide state; this module
//! must never decide anything from kv or from this host's memory.

use std::collections::BTreeMap;

use ballast_sdk::cluster;
use ballast_sdk::ec2::{self, EbsVolume, Filter, Tag, VolumeState};
use ballast_sdk::{Result, VolumeName};

use crate::options::Spec;
use crate::settings::Config;

/// EC2's display name: the volume name, or `<EBS_TAG>/<name>` (REX-Ray).
pub const NAME: &str = cluster::NAME_TAG;
/// The Docker volume name.
pub const VOLUME: &str = cluster::VOLUME_TAG;
/// The cluster scope (`EBS_TAG`, default "ballast").
pub const CLUSTER: &str = cluster::CLUSTER_TAG;
/// The instance that created the volume (for people; never decides anything).
pub const CREATED_BY: &str = "ballast.created-by";
/// The filesystem the host makes on the blank volume.
pub const FSTYPE: &str = "ballast.fstype";
/// "true" when the volume was created with `preempt=true`.
pub const PREEMPT: &str = "ballast.preempt";
/// On a relocated volume: the id of the volume it was copied from (set by
/// the host's `relocate`).
pub const RELOCATED_FROM: &str = "ballast.relocated-from";
/// On a relocation snapshot: the id of the volume being moved (host).
pub const RELOCATING: &str = "ballast.relocating";

/// The `Name` tag of volume `name`.
pub fn display_name(config: &Config, name: &VolumeName) -> String {
    if config.cluster_in_name {
        format!("{}/{name}", config.cluster)
    } else {
        name.to_string()
    }
}

/// The tags a new volume is created with. Every host creating `name` with
/// the same options must send exactly these (EC2 compares a ClientToken's
/// parameters, tags included), so nothing host-specific is here:
/// `ballast.created-by` is added afterwards (see [`creator`]).
pub fn for_new(config: &Config, name: &VolumeName, spec: &Spec) -> Vec<Tag> {
    let mut tags = vec![
        (NAME.to_owned(), display_name(config, name)),
        (VOLUME.to_owned(), name.to_string()),
        (CLUSTER.to_owned(), config.cluster.clone()),
        (FSTYPE.to_owned(), spec.fs_type.clone()),
    ];
    if let Some(preempt) = spec.preempt {
        tags.push((PREEMPT.to_owned(), preempt.to_string()));
    }
    tags
}

/// The `ballast.created-by` tag for a volume this instance just created.
pub fn creator(instance_id: &str) -> Tag {
    (CREATED_BY.to_owned(), instance_id.to_owned())
}

/// DescribeVolumes filters for the volumes of `name` in this cluster.
/// (Filter values take `*` and `?` as wildcards; names and cluster tags
/// cannot contain them.)
pub fn name_filters(config: &Config, name: &VolumeName) -> Vec<Filter> {
    vec![
        ec2::tag_filter(VOLUME, name),
        ec2::tag_filter(CLUSTER, &config.cluster),
    ]
}

/// DescribeVolumes filters for every Ballast volume of this cluster.
pub fn cluster_filters(config: &Config) -> Vec<Filter> {
    vec![
        ec2::tag_filter(CLUSTER, &config.cluster),
        ec2::filter("tag-key", &[VOLUME]),
    ]
}

/// The volumes of one name, as EC2 describes them now.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Every volume carrying the name that is not being deleted.
    pub all: Vec<EbsVolume>,
    /// The one the name means (see [`survivor`]).
    pub survivor: Option<EbsVolume>,
}

/// Look `name` up in EC2. An error (throttling, timeout) stays an error:
/// "not found" is only said when EC2 answered with nothing.
pub fn lookup(config: &Config, name: &VolumeName) -> Result<Found> {
    let described = ec2::describe_volumes(&[], &name_filters(config, name))?;
    let all = live(described);
    let survivor = survivor(&all).cloned();
    Ok(Found { all, survivor })
}

/// Every Ballast volume of the cluster, one per name (the survivor), sorted
/// by name. Volumes whose `ballast.volume` tag is not a valid name were not
/// made by Ballast and are skipped.
pub fn list(config: &Config) -> Result<Vec<(VolumeName, EbsVolume)>> {
    let described = ec2::describe_volumes(&[], &cluster_filters(config))?;
    Ok(by_name(live(described)))
}

/// Group volumes by their name tag and keep each name's survivor.
pub fn by_name(volumes: Vec<EbsVolume>) -> Vec<(VolumeName, EbsVolume)> {
    let mut groups: BTreeMap<String, Vec<EbsVolume>> = BTreeMap::new();
    for volume in volumes {
        if let Some(name) = volume.tag(VOLUME) {
            groups.entry(name.to_owned()).or_default().push(volume);
        }
    }
    groups
        .into_iter()
        .filter_map(|(name, group)| {
            let name = VolumeName::new(&name).ok()?;
            let survivor = survivor(&group)?.clone();
            Some((name, survivor))
        })
        .collect()
}

/// Drop what is being deleted or gone: it holds no name any more.
pub fn live(volumes: Vec<EbsVolume>) -> Vec<EbsVolume> {
    volumes.into_iter().filter(|v| !v.is_deleted()).collect()
}

/// The volume a name means among `volumes` (already [`live`]):
///
/// 1. A relocation pair (new volume N tagged `ballast.relocated-from` = the
///    id of O, both present): N once it is ready (available or in-use),
///    else O — the data is in O until N is complete.
/// 2. Of what remains, the earliest created; ties by the smallest id.
///
/// Pure and deterministic, so every host picks the same one.
pub fn survivor(volumes: &[EbsVolume]) -> Option<&EbsVolume> {
    let mut left: Vec<&EbsVolume> = volumes.iter().collect();
    while let Some((new, old)) = relocation_pair(&left) {
        let loser = if is_ready(left[new]) { old } else { new };
        left.remove(loser);
    }
    left.into_iter()
        .min_by(|a, b| (a.create_time_ms, &a.volume_id).cmp(&(b.create_time_ms, &b.volume_id)))
}

/// Indexes (new, old) of a volume and the one it was relocated from.
fn relocation_pair(volumes: &[&EbsVolume]) -> Option<(usize, usize)> {
    volumes.iter().enumerate().find_map(|(new, volume)| {
        let from = volume.tag(RELOCATED_FROM)?;
        let old = volumes
            .iter()
            .position(|other| other.volume_id == from && other.volume_id != volume.volume_id)?;
        Some((new, old))
    })
}

fn is_ready(volume: &EbsVolume) -> bool {
    matches!(volume.state, VolumeState::Available | VolumeState::InUse)
}

#[cfg(test)]
pub mod tests {
    use ballast_sdk::Settings;
    use ballast_sdk::ec2::{Attachment, AttachmentState};

    use super::*;

    /// A volume of `name` for tests; adjust fields as needed.
    pub fn volume(id: &str, name: &str, created: u64, state: VolumeState) -> EbsVolume {
        EbsVolume {
            create_time_ms: created,
            tags: vec![
                (VOLUME.into(), name.into()),
                (CLUSTER.into(), "ballast".into()),
            ],
            ..EbsVolume::sample(id, "us-east-1a", state)
        }
    }

    pub fn attached(mut volume: EbsVolume, instance: &str, state: AttachmentState) -> EbsVolume {
        volume.attachments.push(Attachment {
            instance_id: instance.into(),
            device: "/dev/xvdba".into(),
            state,
        });
        volume.state = VolumeState::InUse;
        volume
    }

    fn relocated(mut volume: EbsVolume, from: &str) -> EbsVolume {
        volume.tags.push((RELOCATED_FROM.into(), from.into()));
        volume
    }

    fn ids(volumes: &[EbsVolume]) -> Option<&str> {
        survivor(volumes).map(|v| v.volume_id.as_str())
    }

    use VolumeState::*;

    #[test]
    fn one_volume_is_its_own_survivor_and_none_is_none() {
        assert_eq!(ids(&[]), None);
        assert_eq!(ids(&[volume("vol-a", "x", 5, Available)]), Some("vol-a"));
    }

    #[test]
    fn the_earliest_created_wins_then_the_smallest_id() {
        let set = [
            volume("vol-c", "x", 30, Available),
            volume("vol-b", "x", 10, Creating),
            volume("vol-a", "x", 20, Available),
        ];
        assert_eq!(ids(&set), Some("vol-b"));
        let tie = [
            volume("vol-2", "x", 10, Available),
            volume("vol-1", "x", 10, Available),
        ];
        assert_eq!(ids(&tie), Some("vol-1"));
        // The order EC2 lists them in does not matter.
        let mut reversed = set.to_vec();
        reversed.reverse();
        assert_eq!(ids(&reversed), Some("vol-b"));
    }

    #[test]
    fn deleting_and_deleted_volumes_hold_no_name() {
        let set = live(vec![
            volume("vol-old", "x", 1, Deleting),
            volume("vol-gone", "x", 2, Deleted),
            volume("vol-new", "x", 3, Available),
        ]);
        assert_eq!(set.len(), 1);
        assert_eq!(ids(&set), Some("vol-new"));
    }

    #[test]
    fn a_relocation_keeps_the_old_volume_until_the_new_one_is_ready() {
        let old = volume("vol-old", "x", 1, Available);
        let creating = relocated(volume("vol-new", "x", 9, Creating), "vol-old");
        assert_eq!(ids(&[creating.clone(), old.clone()]), Some("vol-old"));
        let ready = relocated(volume("vol-new", "x", 9, Available), "vol-old");
        assert_eq!(ids(&[old.clone(), ready.clone()]), Some("vol-new"));
        let in_use = attached(ready.clone(), "i-1", AttachmentState::Attached);
        assert_eq!(ids(&[old.clone(), in_use]), Some("vol-new"));
        let failed = relocated(volume("vol-new", "x", 9, Error), "vol-old");
        assert_eq!(ids(&[old.clone(), failed]), Some("vol-old"));
        // Once the old one is gone, the new one stands alone.
        assert_eq!(
            ids(&live(vec![ready, volume("vol-old", "x", 1, Deleting)])),
            Some("vol-new")
        );
    }

    #[test]
    fn relocation_chains_and_duplicates_resolve_together() {
        let first = volume("vol-1", "x", 1, Available);
        let second = relocated(volume("vol-2", "x", 2, Available), "vol-1");
        let third = relocated(volume("vol-3", "x", 3, Creating), "vol-2");
        assert_eq!(
            ids(&[third.clone(), first.clone(), second.clone()]),
            Some("vol-2")
        );
        let third = relocated(volume("vol-3", "x", 3, Available), "vol-2");
        assert_eq!(ids(&[first.clone(), second.clone(), third]), Some("vol-3"));
        // A relocated-from naming a volume outside the set is just a tag.
        let orphan = relocated(volume("vol-9", "x", 9, Available), "vol-gone");
        assert_eq!(
            ids(&[orphan, volume("vol-5", "x", 5, Available)]),
            Some("vol-5")
        );
        // A volume naming itself cannot loop.
        let selfish = relocated(volume("vol-7", "x", 7, Available), "vol-7");
        assert_eq!(ids(&[selfish]), Some("vol-7"));
    }

    #[test]
    fn list_keeps_one_survivor_per_valid_name() {
        let volumes = vec![
            volume("vol-b2", "b", 2, Available),
            volume("vol-a", "a", 1, Available),
            volume("vol-b1", "b", 1, Available),
            volume("vol-bad", "../etc", 1, Available),
        ];
        let listed: Vec<(String, String)> = by_name(volumes)
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.volume_id))
            .collect();
        assert_eq!(
            listed,
            [("a".into(), "vol-a".into()), ("b".into(), "vol-b1".into())]
        );
    }

    #[test]
    fn new_volumes_carry_the_scheme() {
        let name = VolumeName::new("pgdata").unwrap();
        let default =
            Config::from_settings(Settings::settings(Vec::<(String, String)>::new())).unwrap();
        let spec = Spec {
            fs_type: "xfs".into(),
            preempt: Some(true),
            ..crate::options::tests::default_spec()
        };
        let tags = for_new(&default, &name, &spec);
        let expect = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            tags,
            [
                expect("Name", "pgdata"),
                expect("ballast.volume", "pgdata"),
                expect("ballast.cluster", "ballast"),
                expect("ballast.fstype", "xfs"),
                expect("ballast.preempt", "true"),
            ]
        );
        assert_eq!(creator("i-1"), expect("ballast.created-by", "i-1"));
        let scoped = Config::from_settings(Settings::settings([("EBS_TAG", "prod")])).unwrap();
        assert_eq!(display_name(&scoped, &name), "prod/pgdata");
        let filters = name_filters(&scoped, &name);
        assert_eq!(filters[0].name, "tag:ballast.volume");
        assert_eq!(filters[0].values, ["pgdata"]);
        assert_eq!(
            (filters[1].name.as_str(), filters[1].values[0].as_str()),
            ("tag:ballast.cluster", "prod")
        );
        let all = cluster_filters(&scoped);
        assert_eq!(
            (all[1].name.as_str(), all[1].values[0].as_str()),
            ("tag-key", "ballast.volume")
        );
    }
}
