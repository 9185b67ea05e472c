//! An EBS volume as the host and `docker volume inspect` see it: the
//! contract's `Volume`, with REX-Ray-style status pairs, and the progress of
//! a relocation read from its snapshot.
//!
//! Pure except [`relocation`], which asks EC2 for the snapshot.

use ballast_sdk::ec2::{self, EbsVolume, Snapshot};
use ballast_sdk::{Volume, VolumeName, log};

use crate::rules::GIB;
use crate::tags;

/// The tag the host's `relocate` puts on its snapshot naming the target
/// zone. Not in the WIT: shown when present, left out otherwise.
pub const RELOCATING_TO: &str = "ballast.relocating-to";

/// The contract's `Volume` for `volume`, named `name`. `relocation` is the
/// status text of a relocation in progress, if any.
pub fn to_volume(name: &VolumeName, volume: &EbsVolume, relocation: Option<String>) -> Volume {
    Volume {
        name: name.to_string(),
        id: volume.volume_id.clone(),
        size_bytes: u64::from(volume.size_gib) * GIB,
        zone: Some(volume.zone.clone()),
        attached_to: attached_to(volume),
        status: status(volume, relocation),
    }
}

/// Instances holding the volume (every attachment state but `detached`).
pub fn attached_to(volume: &EbsVolume) -> Vec<String> {
    volume
        .live_attachments()
        .map(|a| a.instance_id.clone())
        .collect()
}

/// The status pairs `docker volume inspect` shows, in REX-Ray's names.
pub fn status(volume: &EbsVolume, relocation: Option<String>) -> Vec<(String, String)> {
    let mut status = vec![
        ("volumeid", volume.volume_id.clone()),
        ("volumetype", volume.volume_type.clone()),
        ("size", format!("{}GiB", volume.size_gib)),
    ];
    if let Some(iops) = volume.iops {
        status.push(("iops", iops.to_string()));
    }
    if let Some(throughput) = volume.throughput {
        status.push(("throughput", throughput.to_string()));
    }
    status.push(("availabilityzone", volume.zone.clone()));
    status.push(("state", volume.state.as_str().to_owned()));
    let attached = attached_to(volume);
    if !attached.is_empty() {
        status.push(("attachedto", attached.join(",")));
    }
    status.push(("encrypted", volume.encrypted.to_string()));
    if let Some(fs_type) = volume.tag(tags::FSTYPE) {
        status.push(("fstype", fs_type.to_owned()));
    }
    if let Some(relocation) = relocation {
        status.push(("relocation", relocation));
    }
    status.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// "<progress>% to <zone>" for a relocation snapshot (the zone when the
/// snapshot names it).
pub fn relocation_text(snapshot: &Snapshot) -> String {
    match snapshot.tag(RELOCATING_TO) {
        Some(zone) => format!("{}% to {zone}", snapshot.progress),
        None => format!("{}%", snapshot.progress),
    }
}

/// The relocation of `volume` in progress, if a snapshot says so. Only for
/// display: a failed lookup is logged and shows nothing, so `get` never fails
/// (Docker would take that for a missing volume) because of it.
pub fn relocation(volume: &EbsVolume) -> Option<String> {
    let filters = [ec2::tag_filter(tags::RELOCATING, &volume.volume_id)];
    match ec2::describe_snapshots(&[], &filters) {
        Ok(snapshots) => snapshots
            .iter()
            .max_by_key(|s| s.start_time_ms)
            .map(relocation_text),
        Err(err) => {
            log::warn(
                "could not look for a relocation snapshot",
                &[("volume_id", &volume.volume_id), ("error", err.message())],
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use ballast_sdk::ec2::{AttachmentState, SnapshotState, VolumeState};

    use super::*;
    use crate::tags::tests::{attached, volume};

    fn pairs(status: &[(String, String)]) -> Vec<(&str, &str)> {
        status
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn a_detached_volume_shows_its_facts() {
        let mut v = volume("vol-1", "pgdata", 0, VolumeState::Available);
        v.tags.push((tags::FSTYPE.into(), "xfs".into()));
        let name = VolumeName::new("pgdata").unwrap();
        let shown = to_volume(&name, &v, None);
        assert_eq!(
            (shown.name.as_str(), shown.id.as_str()),
            ("pgdata", "vol-1")
        );
        assert_eq!(shown.size_bytes, 16 * GIB);
        assert_eq!(shown.zone.as_deref(), Some("us-east-1a"));
        assert!(shown.attached_to.is_empty());
        assert_eq!(
            pairs(&shown.status),
            [
                ("volumeid", "vol-1"),
                ("volumetype", "gp3"),
                ("size", "16GiB"),
                ("iops", "3000"),
                ("throughput", "125"),
                ("availabilityzone", "us-east-1a"),
                ("state", "available"),
                ("encrypted", "false"),
                ("fstype", "xfs"),
            ]
        );
    }

    #[test]
    fn attachments_and_relocation_show_when_present() {
        let mut v = volume("vol-1", "pgdata", 0, VolumeState::Available);
        v.iops = None;
        v.throughput = None;
        v.volume_type = "st1".into();
        let v = attached(v, "i-a", AttachmentState::Attaching);
        let v = attached(v, "i-b", AttachmentState::Detached);
        let shown = to_volume(
            &VolumeName::new("pgdata").unwrap(),
            &v,
            Some("40% to us-east-1b".into()),
        );
        assert_eq!(shown.attached_to, ["i-a"]);
        assert_eq!(
            pairs(&shown.status),
            [
                ("volumeid", "vol-1"),
                ("volumetype", "st1"),
                ("size", "16GiB"),
                ("availabilityzone", "us-east-1a"),
                ("state", "in-use"),
                ("attachedto", "i-a"),
                ("encrypted", "false"),
                ("relocation", "40% to us-east-1b"),
            ]
        );
    }

    #[test]
    fn relocation_text_names_the_zone_when_tagged() {
        let mut snapshot = Snapshot {
            snapshot_id: "snap-1".into(),
            volume_id: "vol-1".into(),
            state: SnapshotState::Pending,
            progress: 40,
            size_gib: 16,
            encrypted: false,
            start_time_ms: 0,
            tags: vec![(tags::RELOCATING.into(), "vol-1".into())],
        };
        assert_eq!(relocation_text(&snapshot), "40%");
        snapshot
            .tags
            .push((RELOCATING_TO.into(), "us-east-1b".into()));
        assert_eq!(relocation_text(&snapshot), "40% to us-east-1b");
    }
}
