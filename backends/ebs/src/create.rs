//! `create`: one EBS volume per name, cluster-wide, however many hosts ask
//! at once (Swarm calls Create on every node that runs a task).
//!
//! Three layers keep it to one volume: a lookup by tags first; EC2's
//! ClientToken, derived from the cluster, the name and a 10-minute window, so
//! concurrent creators (and retries) in one window get the same volume; and,
//! for creators that straddle two windows, convergence after the fact: every
//! host agrees on the survivor (see `tags::survivor`) and a creator whose
//! volume lost deletes it while it is still empty (never attached).
//! EC2 only honours a token when the parameters repeat exactly, so the
//! CreateVolume request carries nothing host-specific; the creator's tag is
//! added after. Never delete a volume that has been attached: it may hold
//! data.

use ballast_sdk::cluster::{unix_now, window_token};
use ballast_sdk::ec2::{
    self, CreateVolumeRequest, EbsVolume, Snapshot, SnapshotState, VolumeCondition, VolumeState,
};
use ballast_sdk::{Error, Options, Result, Volume, VolumeName, instance, log};

use crate::options::{Request, Spec};
use crate::settings::Config;
use crate::tags;
use crate::volume::to_volume;

/// Create volume `name`, or return it when it exists and the options agree.
pub fn create(config: &Config, name: &VolumeName, options: Options) -> Result<Volume> {
    let request = Request::from_options(options)?;
    if let Some(existing) = tags::lookup(config, name)?.survivor {
        request.check_matches(name, &existing)?;
        return Ok(to_volume(name, &existing, None));
    }
    let me = instance::identity()?;
    let zone = match (&request.zone, &me.zone) {
        (Some(zone), _) | (None, Some(zone)) => zone.clone(),
        (None, None) => {
            return Err(Error::invalid_argument(
                "this instance's availability zone is unknown; give --opt availabilityzone=<zone>",
            ));
        }
    };
    let snapshot = request.snapshot.as_deref().map(find_snapshot).transpose()?;
    let spec = request.spec(config, snapshot.as_ref().map(|s| s.size_gib))?;
    let ec2_request = CreateVolumeRequest {
        zone,
        size_gib: spec.size_gib,
        volume_type: spec.volume_type.clone(),
        iops: spec.iops,
        throughput: spec.throughput,
        encrypted: spec.encrypted,
        kms_key_id: spec.kms_key_id.clone(),
        snapshot_id: snapshot.map(|s| s.snapshot_id),
        tags: tags::for_new(config, name, &spec),
        client_token: Some(client_token(&config.cluster, name, unix_now())),
    };
    let mine = match create_once(&ec2_request) {
        Ok(volume) => volume,
        Err(err) if err.message().contains("IdempotentParameterMismatch") => {
            return adopt_concurrent(config, name, &request, err);
        }
        Err(err) => return Err(err),
    };
    log_created(name, &mine, &spec);
    record_creator(&mine, &me.instance_id);
    let ready = wait_ready(config, name, mine)?;
    Ok(converge(config, name, ready))
}

/// CreateVolume with the token; if the token hands back a volume that is
/// being deleted (an earlier volume of this name, removed within the token's
/// window), create once more without it.
fn create_once(request: &CreateVolumeRequest) -> Result<EbsVolume> {
    let volume = ec2::create_volume(request)?;
    if !volume.is_deleted() {
        return Ok(volume);
    }
    log::info(
        "the create token returned a deleted volume; creating without it",
        &[("old_volume_id", &volume.volume_id)],
    );
    let untokened = CreateVolumeRequest {
        client_token: None,
        ..request.clone()
    };
    ec2::create_volume(&untokened)
}

/// Tag the volume with the instance that created it, unless a concurrent
/// creator (same token, same volume) did already. For people only, so a
/// failure is logged, not returned.
fn record_creator(volume: &EbsVolume, instance_id: &str) {
    if volume.tag(tags::CREATED_BY).is_some() {
        return;
    }
    let ids = [volume.volume_id.clone()];
    if let Err(err) = ec2::create_tags(&ids, &[tags::creator(instance_id)]) {
        log::warn(
            "could not tag the volume with its creator",
            &[("volume_id", &volume.volume_id), ("error", err.message())],
        );
    }
}

/// Another host used this window's token with other options: its volume is
/// the one; return it if our options match it.
fn adopt_concurrent(
    config: &Config,
    name: &VolumeName,
    request: &Request,
    err: Error,
) -> Result<Volume> {
    match tags::lookup(config, name)?.survivor {
        Some(existing) => {
            request.check_matches(name, &existing)?;
            Ok(to_volume(name, &existing, None))
        }
        None => Err(Error::unavailable(format!(
            "another host is creating volume {name} with other options ({}); retry",
            err.message()
        ))),
    }
}

/// Wait until the new volume is `available`. A volume EBS failed to make
/// (`error`) is deleted, so the next create starts afresh.
fn wait_ready(config: &Config, name: &VolumeName, mine: EbsVolume) -> Result<EbsVolume> {
    let ready = ec2::wait_volume(&mine.volume_id, &VolumeCondition::Available, config.status)
        .map_err(|err| match err {
            // EC2 just made it: not described yet is eventual consistency,
            // and create must never say a name is missing.
            Error::NotFound(message) => Error::unavailable(format!(
                "volume {name} ({}) was created but EC2 does not describe it yet ({message}); retry",
                mine.volume_id
            )),
            other => other,
        })?;
    if ready.state != VolumeState::Error {
        return Ok(ready);
    }
    log::error(
        "EBS could not create the volume; deleting it",
        &[("volume", name.as_str()), ("volume_id", &ready.volume_id)],
    );
    if let Err(err) = ec2::delete_volume(&ready.volume_id) {
        log::warn(
            "deleting the failed volume failed",
            &[("volume_id", &ready.volume_id), ("error", err.message())],
        );
    }
    Err(Error::unavailable(format!(
        "EBS could not create volume {name} ({} went to state error); deleted it; retry",
        ready.volume_id
    )))
}

/// After creating: if another volume of this name wins (a creator in another
/// token window), delete ours while it is empty and return the winner.
/// A failed lookup here is no reason to fail the create: the next lookup
/// of the name resolves duplicates the same way.
fn converge(config: &Config, name: &VolumeName, mine: EbsVolume) -> Volume {
    let found = match tags::lookup(config, name) {
        Ok(found) => found,
        Err(err) => {
            log::warn(
                "could not check for concurrent creators",
                &[("volume", name.as_str()), ("error", err.message())],
            );
            return to_volume(name, &mine, None);
        }
    };
    let Some(survivor) = found.survivor.filter(|s| s.volume_id != mine.volume_id) else {
        return to_volume(name, &mine, None);
    };
    // The freshest view of ours decides whether it is still untouched.
    let current = found
        .all
        .iter()
        .find(|v| v.volume_id == mine.volume_id)
        .unwrap_or(&mine);
    if current.attachments.is_empty() {
        log::info(
            "another host created this volume first; deleting the duplicate",
            &[
                ("volume", name.as_str()),
                ("duplicate", &mine.volume_id),
                ("survivor", &survivor.volume_id),
            ],
        );
        if let Err(err) = ec2::delete_volume(&mine.volume_id) {
            log::warn(
                "could not delete the duplicate; lookups ignore it",
                &[("volume_id", &mine.volume_id), ("error", err.message())],
            );
        }
    }
    to_volume(name, &survivor, None)
}

/// The snapshot `id_or_name` means: a `snap-…` id, or the one snapshot whose
/// `Name` tag it is. It must be `completed` to make a volume from.
fn find_snapshot(id_or_name: &str) -> Result<Snapshot> {
    let snapshot = if id_or_name.starts_with("snap-") {
        ec2::describe_snapshots(&[id_or_name.to_owned()], &[])?
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found(format!("no snapshot {id_or_name}")))?
    } else {
        let filters = [ec2::tag_filter(tags::NAME, id_or_name)];
        let mut found = ec2::describe_snapshots(&[], &filters)?;
        match found.len() {
            0 => return Err(Error::not_found(format!("no snapshot named {id_or_name}"))),
            1 => found.remove(0),
            _ => {
                let ids: Vec<&str> = found.iter().map(|s| s.snapshot_id.as_str()).collect();
                return Err(Error::conflict(format!(
                    "{} snapshots are named {id_or_name} ({}); give the snapshot id",
                    ids.len(),
                    ids.join(", ")
                )));
            }
        }
    };
    match snapshot.state {
        SnapshotState::Completed => Ok(snapshot),
        SnapshotState::Pending => Err(Error::unavailable(format!(
            "snapshot {} is still being taken ({}%); retry when it completes",
            snapshot.snapshot_id, snapshot.progress
        ))),
        SnapshotState::Recovering => Err(Error::unavailable(format!(
            "snapshot {} is being recovered; retry when it completes",
            snapshot.snapshot_id
        ))),
        other => Err(Error::invalid_argument(format!(
            "snapshot {} is {}; a volume can only be made from a completed snapshot",
            snapshot.snapshot_id,
            other.as_str()
        ))),
    }
}

fn log_created(name: &VolumeName, volume: &EbsVolume, spec: &Spec) {
    log::info(
        "created volume",
        &[
            ("volume", name.as_str()),
            ("volume_id", &volume.volume_id),
            ("zone", &volume.zone),
            ("size", &format!("{}GiB", volume.size_gib)),
            ("type", &spec.volume_type),
            ("encrypted", &spec.encrypted.to_string()),
        ],
    );
}

/// The ClientToken of a create of `name` in `cluster` at `unix_secs`: the
/// same on every host within one 10-minute window, different in the next
/// (see `ballast_sdk::cluster::window_token`).
pub fn client_token(cluster: &str, name: &str, unix_secs: u64) -> String {
    window_token(&[cluster, name], unix_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_the_sdks_window_token_of_cluster_and_name() {
        // The SDK pins the derivation; this pins what EBS feeds it, so hosts
        // on old and new versions share tokens (else they create twice).
        assert_eq!(
            client_token("ballast", "pgdata", 599),
            "ballast-4ada14ad5c6970593771ec63e19f5bcda7508033"
        );
        let t = 1_700_000_400;
        assert_ne!(
            client_token("prod", "pgdata", t),
            client_token("ballast", "pgdata", t)
        );
    }
}
