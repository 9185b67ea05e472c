//! The operations: where (project, zone, this instance), create, get,
//! list, remove, attach, detach, and waiting for zone operations.

use ballast_sdk::http::Request;
use ballast_sdk::{
    AttachOptions, BlockSource, Error, MountSource, Options, Result, Volume, VolumeName, cluster,
    instance, log,
};
use serde_json::{Value, json};

use crate::api::{AggregatedDiskList, Api, Disk, Operation, parse};
use crate::names::{self, CLUSTER_LABEL, FS_LABEL};
use crate::options::Spec;
use crate::settings::Config;

const GIB: u64 = 1 << 30;

/// Where calls go: the API and the zone volumes live in.
pub struct Place {
    pub api: Api,
    pub zone: String,
}

impl Place {
    /// The configured project and zone, else this instance's.
    pub fn resolve(config: &Config) -> Result<Place> {
        let project = match &config.project {
            Some(project) => project.clone(),
            None => instance::details()?.project.ok_or_else(|| {
                Error::invalid_argument(
                    "no project: set GCEPD_PROJECT (the instance's metadata has none)",
                )
            })?,
        };
        let zone = match &config.zone {
            Some(zone) => zone.clone(),
            None => instance::identity()?.zone.ok_or_else(|| {
                Error::invalid_argument("no zone: set GCEPD_ZONE (the instance has none)")
            })?,
        };
        Ok(Place {
            api: Api::new(config, project),
            zone,
        })
    }
}

/// The disk of volume `name`, if it is this cluster's volume `name`: in
/// the home zone, else the oldest in any zone of the project. For Get and
/// Detach (a disk attached here is in this zone); attach and remove use
/// [`find_oldest`].
pub fn find(config: &Config, place: &Place, name: &VolumeName) -> Result<Option<Disk>> {
    let disk_name = names::disk_name(name, config.convert_underscores)?;
    if let Some(disk) = get_disk(place, &place.zone, &disk_name)?
        && is_volume(config, &disk, name)
    {
        return Ok(Some(disk));
    }
    find_oldest(config, place, name)
}

/// The disk that stands for volume `name` everywhere: the oldest of its
/// disks in any zone. Attach and remove use it, so hosts in different
/// zones never use two disks for one volume, even when a create that raced
/// across zones was cut short before it deleted its duplicate.
pub fn find_oldest(config: &Config, place: &Place, name: &VolumeName) -> Result<Option<Disk>> {
    Ok(oldest(find_all(config, place, name)?))
}

/// Every disk of volume `name`, in every zone (two only after hosts in
/// different zones created it at once).
fn find_all(config: &Config, place: &Place, name: &VolumeName) -> Result<Vec<Disk>> {
    let disk_name = names::disk_name(name, config.convert_underscores)?;
    let filter = format!("(name = \"{disk_name}\") {}", cluster_filter(config));
    Ok(aggregated(place, &filter)?
        .into_iter()
        .filter(|disk| is_volume(config, disk, name))
        .collect())
}

/// The disk that stands for a volume when there are several: the oldest
/// (then by zone), which every host picks alike.
fn oldest(disks: Vec<Disk>) -> Option<Disk> {
    disks
        .into_iter()
        .min_by(|a, b| (&a.creation_timestamp, &a.zone).cmp(&(&b.creation_timestamp, &b.zone)))
}

fn get_disk(place: &Place, zone: &str, disk_name: &str) -> Result<Option<Disk>> {
    let url = place.api.disk_url(zone, disk_name);
    match place.api.call("disks.get", Request::get(url)) {
        Ok(value) => Ok(Some(parse("disks.get", value)?)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// This cluster's label and this name in the description.
fn is_volume(config: &Config, disk: &Disk, name: &VolumeName) -> bool {
    disk.labels.get(CLUSTER_LABEL) == Some(&config.cluster)
        && names::volume_of_description(disk.description.as_deref()).as_ref() == Some(name)
}

/// The list filter for this cluster's disks.
fn cluster_filter(config: &Config) -> String {
    format!("(labels.{CLUSTER_LABEL} = \"{}\")", config.cluster)
}

/// Every disk of the project, in every zone, that `filter` selects.
fn aggregated(place: &Place, filter: &str) -> Result<Vec<Disk>> {
    let mut disks = Vec::new();
    let mut page: Option<String> = None;
    loop {
        let mut request =
            Request::get(place.api.project_url("aggregated/disks")).query("filter", filter);
        if let Some(token) = &page {
            request = request.query("pageToken", token);
        }
        let value = place.api.call("disks.aggregatedList", request)?;
        let list: AggregatedDiskList = parse("disks.aggregatedList", value)?;
        disks.extend(list.items.into_values().flat_map(|scope| scope.disks));
        match list.next_page_token.filter(|t| !t.is_empty()) {
            Some(token) => page = Some(token),
            None => return Ok(disks),
        }
    }
}

/// Every volume of this cluster, in every zone (labels scope what the
/// cluster sees; the description holds the Docker name).
pub fn list(config: &Config, place: &Place) -> Result<Vec<Volume>> {
    let mut by_volume: std::collections::BTreeMap<VolumeName, Vec<Disk>> = Default::default();
    for disk in aggregated(place, &cluster_filter(config))? {
        if disk.labels.get(CLUSTER_LABEL) != Some(&config.cluster) {
            continue;
        }
        if let Some(name) = names::volume_of_description(disk.description.as_deref()) {
            by_volume.entry(name).or_default().push(disk);
        }
    }
    Ok(by_volume
        .into_iter()
        .filter_map(|(name, disks)| oldest(disks).map(|disk| to_volume(&name, &disk)))
        .collect())
}

/// The contract's volume for `disk`.
pub fn to_volume(name: &VolumeName, disk: &Disk) -> Volume {
    let users: Vec<String> = disk.user_names().iter().map(|u| u.to_string()).collect();
    let mut status = vec![
        ("disk".to_string(), disk.name.clone()),
        ("volumetype".to_string(), disk.type_name().to_string()),
        ("size".to_string(), format!("{}GB", disk.size_gb.trim())),
        ("zone".to_string(), disk.zone_name().to_string()),
        ("state".to_string(), disk.status.clone()),
    ];
    if let Some(fs) = disk.labels.get(FS_LABEL) {
        status.push(("fstype".into(), fs.clone()));
    }
    if let Some(iops) = &disk.provisioned_iops {
        status.push(("iops".into(), iops.clone()));
    }
    if !users.is_empty() {
        status.push(("attachedto".into(), users.join(",")));
    }
    Volume {
        name: name.to_string(),
        id: disk.name.clone(),
        size_bytes: disk.size_gb().unwrap_or(0).saturating_mul(GIB),
        zone: Some(disk.zone_name().to_string()),
        attached_to: users,
        status,
    }
}

/// A `requestId` (a UUID) every host of the cluster derives alike for this
/// disk in this window, so retried and concurrent inserts are one.
pub fn request_id(parts: &[&str]) -> String {
    let token = cluster::window_token(parts, cluster::unix_now());
    let hex: String = token
        .trim_start_matches("ballast-")
        .chars()
        .chain(core::iter::repeat('0'))
        .take(32)
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The insert request's body.
pub fn insert_body(
    config: &Config,
    name: &VolumeName,
    disk_name: &str,
    zone: &str,
    spec: &Spec,
) -> Value {
    let mut body = json!({
        "name": disk_name,
        "type": format!("zones/{zone}/diskTypes/{}", spec.disk_type),
        "description": names::description(name),
        "labels": names::labels(&config.cluster, &spec.fs_type),
    });
    if let Some(gb) = spec.size_gb {
        body["sizeGb"] = json!(gb.to_string());
    }
    if let Some(iops) = spec.iops {
        body["provisionedIops"] = json!(iops.to_string());
    }
    if let Some(snapshot) = &spec.snapshot {
        body["sourceSnapshot"] = json!(if snapshot.contains('/') {
            snapshot.clone()
        } else {
            format!("global/snapshots/{snapshot}")
        });
    }
    body
}

/// Create the volume, or adopt the disk that already stands for it (made
/// before, or by a concurrent create on this host or another). The disk
/// name is the key: a second insert answers alreadyExists.
pub fn create(config: &Config, name: &VolumeName, options: Options) -> Result<Volume> {
    let spec = Spec::from_options(config, options)?;
    let disk_name = names::disk_name(name, config.convert_underscores)?;
    let place = Place::resolve(config)?;
    if let Some(disk) = find_oldest(config, &place, name)? {
        check_existing(config, name, &disk, &spec)?;
        return Ok(to_volume(name, &disk));
    }
    let zone = spec.zone.clone().unwrap_or_else(|| place.zone.clone());
    let body = insert_body(config, name, &disk_name, &zone, &spec);
    let request = Request::post(place.api.zone_url(&zone, "disks"))
        .query(
            "requestId",
            &call_request_id(&[&config.cluster, &zone, &disk_name]),
        )
        .json(&body)?;
    match place.api.call("disks.insert", request) {
        Ok(value) => {
            let op: Operation = parse("disks.insert", value)?;
            wait(config, &place, &zone, op, "disks.insert")?;
        }
        Err(Error::AlreadyExists(_)) => {}
        Err(e) => return Err(e),
    }
    let disk = converge(config, &place, name, &zone, &disk_name)?;
    check_existing(config, name, &disk, &spec)?;
    log::info(
        "volume ready",
        &[
            ("volume", name.as_str()),
            ("disk", &disk.name),
            ("zone", disk.zone_name()),
        ],
    );
    Ok(to_volume(name, &disk))
}

/// After an insert in `zone`: the disk that stands for the volume. Hosts in
/// different zones may have each made one at once; the oldest wins, and
/// this host deletes the one it made when that lost (and nobody uses it).
fn converge(
    config: &Config,
    place: &Place,
    name: &VolumeName,
    zone: &str,
    disk_name: &str,
) -> Result<Disk> {
    let all = find_all(config, place, name)?;
    let mine = all
        .iter()
        .find(|d| d.zone_name() == zone && d.name == disk_name)
        .cloned();
    let winner = oldest(all).ok_or_else(|| {
        Error::unavailable(format!("disk {disk_name} not visible yet after insert"))
    })?;
    if let Some(mine) = mine
        && mine.zone != winner.zone
        && mine.users.is_empty()
    {
        log::warn(
            "another host made this volume first; deleting the duplicate",
            &[
                ("volume", name.as_str()),
                ("zone", zone),
                ("kept", winner.zone_name()),
            ],
        );
        delete_disk(config, place, zone, disk_name)?;
    }
    Ok(winner)
}

/// An existing disk may stand for the volume only when it is this cluster's
/// volume `name` with what the options asked for.
pub fn check_existing(config: &Config, name: &VolumeName, disk: &Disk, spec: &Spec) -> Result<()> {
    if !is_volume(config, disk, name) {
        return Err(Error::conflict(format!(
            "disk {} exists and is not volume {name} of cluster {}",
            disk.name, config.cluster
        )));
    }
    let mut differs = Vec::new();
    if spec.given.disk_type && disk.type_name() != spec.disk_type {
        differs.push(format!(
            "type {} (asked {})",
            disk.type_name(),
            spec.disk_type
        ));
    }
    if let (true, Some(asked), Some(has)) = (spec.given.size, spec.size_gb, disk.size_gb())
        && asked != has
    {
        differs.push(format!("size {has} GB (asked {asked} GB)"));
    }
    if let (true, Some(fs)) = (spec.given.fs_type, disk.labels.get(FS_LABEL))
        && *fs != spec.fs_type
    {
        differs.push(format!("fstype {fs} (asked {})", spec.fs_type));
    }
    if differs.is_empty() {
        Ok(())
    } else {
        Err(Error::conflict(format!(
            "volume {name} exists with {}",
            differs.join(", ")
        )))
    }
}

/// Delete the volume's disk; `conflict` while attached unless `force`.
pub fn remove(config: &Config, name: &VolumeName, force: bool) -> Result<()> {
    let place = Place::resolve(config)?;
    let disk = find_oldest(config, &place, name)?
        .ok_or_else(|| Error::not_found(format!("no volume {name}")))?;
    let zone = disk.zone_name().to_string();
    if !disk.users.is_empty() {
        if !force {
            return Err(Error::conflict(format!(
                "volume {name} is attached to {}",
                disk.user_names().join(", ")
            )));
        }
        for user in disk.user_names() {
            detach_from(config, &place, &zone, user, &disk.name)?;
        }
    }
    delete_disk(config, &place, &zone, &disk.name)
}

/// Delete a disk and wait; one already gone is deleted.
fn delete_disk(config: &Config, place: &Place, zone: &str, disk: &str) -> Result<()> {
    let request = Request::delete(place.api.disk_url(zone, disk))
        .query("requestId", &call_request_id(&[zone, disk, "delete"]));
    match place.api.call("disks.delete", request) {
        Ok(value) => {
            let op: Operation = parse("disks.delete", value)?;
            wait(config, place, zone, op, "disks.delete")
        }
        Err(Error::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Attach the volume's disk here (device name = disk name).
pub fn attach(config: &Config, name: &VolumeName, options: AttachOptions) -> Result<MountSource> {
    let place = Place::resolve(config)?;
    let here = instance::details()?
        .name
        .ok_or_else(|| Error::unavailable("this instance's name is unknown"))?;
    let disk = find_oldest(config, &place, name)?
        .ok_or_else(|| Error::not_found(format!("no volume {name}")))?;
    let zone = disk.zone_name().to_string();
    if disk.user_names().contains(&here.as_str()) {
        return Ok(source(&disk));
    }
    let here_zone = instance::identity()?
        .zone
        .unwrap_or_else(|| place.zone.clone());
    if zone != here_zone {
        return Err(Error::conflict(format!(
            "volume {name} is disk {} in zone {zone}; this instance ({here}) is in {here_zone}, \
             and a zonal disk attaches only in its own zone",
            disk.name
        )));
    }
    let others: Vec<String> = disk
        .user_names()
        .into_iter()
        .filter(|u| *u != here)
        .map(str::to_string)
        .collect();
    if !others.is_empty() {
        if !(options.preempt || config.preempt) {
            return Err(Error::conflict(format!(
                "volume {name} is attached to {}; mount with preempt to take it over",
                others.join(", ")
            )));
        }
        // Preempt: forceAttach moves only regional disks (GCE refuses it
        // for zonal ones, which are all this backend makes), so the disk
        // is detached from the others first; detachDisk works on a dead or
        // stopped instance too.
        for other in &others {
            log::warn(
                "preempting",
                &[("volume", name.as_str()), ("from", other), ("to", &here)],
            );
            detach_from(config, &place, &zone, other, &disk.name)?;
        }
    }
    let body = json!({
        "source": format!("projects/{}/zones/{zone}/disks/{}", place.api.project, disk.name),
        "deviceName": disk.name,
        "mode": if options.read_only { "READ_ONLY" } else { "READ_WRITE" },
    });
    let request = Request::post(place.api.instance_url(&zone, &here) + "/attachDisk")
        .query(
            "requestId",
            &call_request_id(&[&here, &zone, &disk.name, "attach"]),
        )
        .json(&body)?;
    let op: Operation = parse(
        "instances.attachDisk",
        place.api.call("instances.attachDisk", request)?,
    )?;
    wait(config, &place, &zone, op, "instances.attachDisk")?;
    Ok(source(&disk))
}

/// A `requestId` for one call of this host: its retries are one change,
/// while a later call (after an operation that never finished) is a new
/// one rather than a replay of the stuck operation.
fn call_request_id(parts: &[&str]) -> String {
    let now = cluster::unix_now_ms().to_string();
    let mut all = parts.to_vec();
    all.push(&now);
    request_id(&all)
}

/// How the host finds the attached disk.
pub fn source(disk: &Disk) -> MountSource {
    MountSource::Block(BlockSource {
        serial: None,
        by_id: vec![
            format!("google-{}", disk.name),
            format!("scsi-0Google_PersistentDisk_{}", disk.name),
        ],
        device_hint: None,
        image_file: None,
        fs_type: disk
            .labels
            .get(FS_LABEL)
            .cloned()
            .unwrap_or_else(|| "ext4".into()),
        mkfs_options: vec![],
        mount_options: vec![],
    })
}

/// Detach the volume's disk from this instance; not attached here is done.
pub fn detach(config: &Config, name: &VolumeName) -> Result<()> {
    let place = Place::resolve(config)?;
    let here = instance::details()?
        .name
        .ok_or_else(|| Error::unavailable("this instance's name is unknown"))?;
    let Some(disk) = find(config, &place, name)? else {
        return Ok(());
    };
    if !disk.user_names().contains(&here.as_str()) {
        return Ok(());
    }
    detach_from(config, &place, disk.zone_name(), &here, &disk.name)
}

/// detachDisk of `disk` from `instance`, found by the instance's own
/// device name for it, and wait.
fn detach_from(
    config: &Config,
    place: &Place,
    zone: &str,
    instance: &str,
    disk: &str,
) -> Result<()> {
    // An instance that no longer exists holds nothing.
    let value = match place.api.call(
        "instances.get",
        Request::get(place.api.instance_url(zone, instance)),
    ) {
        Ok(value) => value,
        Err(Error::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let device = value["disks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["source"].as_str().map(crate::api::last_segment) == Some(disk))
        .and_then(|d| d["deviceName"].as_str())
        .map(str::to_string);
    let Some(device) = device else {
        return Ok(());
    };
    let request = Request::post(place.api.instance_url(zone, instance) + "/detachDisk")
        .query("deviceName", &device)
        .query(
            "requestId",
            &call_request_id(&[instance, zone, disk, "detach"]),
        );
    let op: Operation = parse(
        "instances.detachDisk",
        place.api.call("instances.detachDisk", request)?,
    )?;
    wait(config, place, zone, op, "instances.detachDisk")
}

/// Wait for a zone operation to be DONE (zoneOperations.wait, which blocks
/// up to two minutes server-side, repeated within GCEPD_STATUSTIMEOUT and
/// GCEPD_STATUSMAXATTEMPTS), then its outcome. A wait that fails with a
/// 429/5xx or no answer is tried again within the same bounds; still
/// RUNNING past them is `unavailable`, naming the operation.
pub fn wait(
    config: &Config,
    place: &Place,
    zone: &str,
    mut op: Operation,
    what: &str,
) -> Result<()> {
    let started = cluster::unix_now_ms();
    let deadline = started + u64::from(config.status.timeout_ms);
    let once = Api {
        tries: 1,
        ..place.api.clone()
    };
    let mut attempts = 0;
    let mut trouble = String::new();
    while !op.is_done() {
        let now = cluster::unix_now_ms();
        if now >= deadline || attempts >= config.status.max_attempts {
            return Err(Error::unavailable(format!(
                "{what}: operation {} still {} after {} ms{trouble}",
                op.name,
                op.status,
                now - started
            )));
        }
        attempts += 1;
        let url = once.zone_url(zone, &format!("operations/{}/wait", op.name));
        let remaining = u32::try_from(deadline - now).unwrap_or(u32::MAX).max(1);
        match once.call_within("zoneOperations.wait", Request::post(url), remaining) {
            Ok(value) => op = parse("zoneOperations.wait", value)?,
            Err(Error::Unavailable(message)) => {
                trouble = format!(" (last wait: {message})");
                std::thread::sleep(std::time::Duration::from_millis(u64::from(
                    config.status.initial_delay_ms.max(100),
                )));
            }
            Err(e) => return Err(e),
        }
    }
    op.outcome(what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_sdk::Settings;

    fn config() -> Config {
        Config::from_settings(Settings::settings([("GCEPD_TAG", "prod")])).unwrap()
    }

    fn disk(value: Value) -> Disk {
        parse("disk", value).unwrap()
    }

    #[test]
    fn request_ids_are_uuids_every_host_derives_alike() {
        let id = request_id(&["prod", "z", "pgdata"]);
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_eq!(id, request_id(&["prod", "z", "pgdata"]));
        assert_ne!(id, request_id(&["prod", "z", "other"]));
    }

    #[test]
    fn inserts_carry_labels_description_and_options() {
        let name = VolumeName::new("PgData").unwrap();
        let spec = Spec {
            size_gb: Some(600),
            disk_type: "pd-extreme".into(),
            iops: Some(3000),
            zone: None,
            snapshot: Some("base".into()),
            fs_type: "xfs".into(),
            given: Default::default(),
        };
        let body = insert_body(&config(), &name, "pgdata--abc", "us-central1-a", &spec);
        assert_eq!(body["name"], "pgdata--abc");
        assert_eq!(body["type"], "zones/us-central1-a/diskTypes/pd-extreme");
        assert_eq!(body["sizeGb"], "600");
        assert_eq!(body["provisionedIops"], "3000");
        assert_eq!(body["sourceSnapshot"], "global/snapshots/base");
        assert_eq!(body["description"], "ballast volume: PgData");
        assert_eq!(body["labels"]["ballast-cluster"], "prod");
        assert_eq!(body["labels"]["ballast-fstype"], "xfs");
    }

    #[test]
    fn existing_disks_are_adopted_only_when_they_match() {
        let name = VolumeName::new("pgdata").unwrap();
        let spec = Spec {
            size_gb: Some(20),
            disk_type: "pd-ssd".into(),
            iops: None,
            zone: None,
            snapshot: None,
            fs_type: "ext4".into(),
            given: crate::options::Given {
                size: true,
                disk_type: true,
                fs_type: true,
            },
        };
        let ours = json!({"name": "pgdata", "sizeGb": "20", "type": "x/diskTypes/pd-ssd",
            "zone": "x/zones/z", "description": "ballast volume: pgdata",
            "labels": {"ballast-cluster": "prod", "ballast-fstype": "ext4"}});
        assert!(check_existing(&config(), &name, &disk(ours.clone()), &spec).is_ok());
        let mut bigger = ours.clone();
        bigger["sizeGb"] = json!("30");
        let err = check_existing(&config(), &name, &disk(bigger), &spec).unwrap_err();
        assert_eq!(err.kind(), "conflict");
        assert!(err.message().contains("size 30 GB (asked 20 GB)"), "{err}");
        let bare = Spec {
            given: Default::default(),
            ..spec.clone()
        };
        let mut other_type = ours.clone();
        other_type["type"] = json!("x/diskTypes/pd-balanced");
        other_type["sizeGb"] = json!("50");
        assert!(
            check_existing(&config(), &name, &disk(other_type), &bare).is_ok(),
            "options not given are not compared"
        );
        let mut foreign = ours.clone();
        foreign["description"] = json!("someone else's");
        assert_eq!(
            check_existing(&config(), &name, &disk(foreign), &spec)
                .unwrap_err()
                .kind(),
            "conflict"
        );
        let mut other_cluster = ours;
        other_cluster["labels"]["ballast-cluster"] = json!("dev");
        assert!(check_existing(&config(), &name, &disk(other_cluster), &spec).is_err());
    }

    #[test]
    fn volumes_and_sources_show_the_disk() {
        let d = disk(
            json!({"name": "pgdata", "sizeGb": "20", "type": "x/diskTypes/pd-ssd",
            "zone": "x/zones/us-central1-a", "status": "READY",
            "labels": {"ballast-fstype": "xfs"},
            "users": ["x/instances/node-1"]}),
        );
        let v = to_volume(&VolumeName::new("pgdata").unwrap(), &d);
        assert_eq!(v.size_bytes, 20 * GIB);
        assert_eq!(v.zone.as_deref(), Some("us-central1-a"));
        assert_eq!(v.attached_to, vec!["node-1".to_string()]);
        assert!(v.status.contains(&("volumetype".into(), "pd-ssd".into())));
        assert!(v.status.contains(&("size".into(), "20GB".into())));
        let MountSource::Block(block) = source(&d) else {
            panic!("not a block source")
        };
        assert_eq!(
            block.by_id,
            vec!["google-pgdata", "scsi-0Google_PersistentDisk_pgdata"]
        );
        assert_eq!(block.fs_type, "xfs");
    }
}
