//! `relocate`: move a detached volume to another zone, Cloudstor style —
//! snapshot it, create a volume from the snapshot in the target zone with
//! the same type, size and tags, and only once that volume is available
//! delete the old volume and the snapshot.
//!
//! The work runs as a tokio task per old volume, kept in `Ec2` (which is
//! shared by every call of the backend), so it outlives the guest call
//! that started it; later calls read its progress. A failure is reported
//! to the next call and forgotten, so the call after starts over. What is
//! already made is found again through tags (`ballast.relocating=<old>` on
//! the snapshot, `ballast.relocated-from=<old>` on the new volume), so the
//! work also survives a host restart, and two hosts relocating the same
//! volume end with one new volume (same ClientToken).
//!
//! Data safety: the old volume is deleted only when it is still detached
//! after the new one is available. If anyone attached the old volume
//! meanwhile, the copies may be stale: they are discarded, never reused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::Ec2;
use super::convert::filter;
use super::wait::{Backoff, Waiter};
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::ec2::{
    CreateVolumeRequest, EbsVolume, Relocation, Snapshot, SnapshotState, VolumeState,
};

/// On the new volume: the id of the volume it was copied from.
pub const RELOCATED_FROM: &str = "ballast.relocated-from";
/// On the snapshot: the volume being relocated, and where to.
pub const RELOCATING: &str = "ballast.relocating";
pub const RELOCATING_TO: &str = "ballast.relocating-to";

/// Relocations under way in this process, by old volume id.
#[derive(Default)]
pub struct Relocations {
    tasks: tokio::sync::Mutex<HashMap<String, Task>>,
}

struct Task {
    zone: String,
    progress: Arc<Mutex<Progress>>,
}

#[derive(Clone)]
enum Progress {
    Running(&'static str, u8),
    Done(EbsVolume),
    Failed(BackendError),
}

/// What a first look at the old volume decided.
enum Start {
    /// Nothing (more) to do: this volume is in the zone.
    Finished(EbsVolume),
    /// Copy this volume.
    Needed(EbsVolume),
}

impl Ec2 {
    /// Start or follow the relocation of `volume_id` to `zone`; see the
    /// WIT's `relocate`.
    pub async fn relocate(
        self: &Arc<Self>,
        volume_id: &str,
        zone: &str,
    ) -> Result<Relocation, BackendError> {
        // Held across the first look, so one process starts one task per volume.
        let mut tasks = self.relocations.tasks.lock().await;
        if let Some(answer) = follow(&mut tasks, volume_id, zone) {
            return answer;
        }
        let old = match self.relocation_start(volume_id, zone).await? {
            Start::Finished(volume) => return Ok(Relocation::Done(volume)),
            Start::Needed(old) => old,
        };
        let progress = Arc::new(Mutex::new(Progress::Running("snapshot", 0)));
        tasks.insert(
            volume_id.to_string(),
            Task {
                zone: zone.to_string(),
                progress: progress.clone(),
            },
        );
        tracing::info!(backend = %self.backend, old = %old.volume_id, from = %old.zone, zone, "relocation started");
        let ec2 = self.clone();
        let zone = zone.to_string();
        tokio::spawn(async move {
            let outcome = ec2.run_relocation(&old, &zone, &progress).await;
            let done = match outcome {
                Ok(new) => Progress::Done(new),
                Err(e) => {
                    tracing::warn!(backend = %ec2.backend, old = %old.volume_id, zone, "relocation failed: {e:?}");
                    Progress::Failed(e)
                }
            };
            *progress.lock().unwrap() = done;
        });
        Ok(Relocation::Running(("snapshot".into(), 0)))
    }

    /// Look at the old volume before starting any work.
    async fn relocation_start(&self, old_id: &str, zone: &str) -> Result<Start, BackendError> {
        let Some(old) = self.describe_volume(old_id).await? else {
            // Moved already (by this host before a restart, or another one).
            let Some(new) = self.relocated_volume(old_id, zone).await? else {
                return Err(BackendError::NotFound(format!(
                    "relocate: volume {old_id} does not exist, and no volume in {zone} is tagged {RELOCATED_FROM}={old_id}"
                )));
            };
            self.delete_relocation_snapshots(old_id).await;
            return Ok(Start::Finished(new));
        };
        if let Some(a) = old.attachments.first() {
            self.discard_relocation_copies(old_id).await;
            return Err(BackendError::Conflict(format!(
                "relocate: {old_id} is attached to {} ({}); only a detached volume can move",
                a.instance_id, a.device
            )));
        }
        if old.zone == zone {
            return Ok(Start::Finished(old));
        }
        let zones = self.describe_availability_zones().await?;
        if !zones.iter().any(|z| z == zone) {
            return Err(BackendError::InvalidArgument(format!(
                "relocate: {zone} is not an available zone of this region ({})",
                zones.join(", ")
            )));
        }
        Ok(Start::Needed(old))
    }

    /// The whole relocation, bounded by the configured relocation timeout.
    async fn run_relocation(
        &self,
        old: &EbsVolume,
        zone: &str,
        progress: &Mutex<Progress>,
    ) -> Result<EbsVolume, BackendError> {
        let limit = self.settings().relocation_timeout;
        tokio::time::timeout(limit, self.relocation_steps(old, zone, progress))
            .await
            .unwrap_or_else(|_| {
                Err(BackendError::Unavailable(format!(
                    "relocate: moving {} to {zone} took longer than {} s; call again to resume",
                    old.volume_id,
                    limit.as_secs()
                )))
            })
    }

    async fn relocation_steps(
        &self,
        old: &EbsVolume,
        zone: &str,
        progress: &Mutex<Progress>,
    ) -> Result<EbsVolume, BackendError> {
        let old_id = &old.volume_id;
        let new = match self.relocated_volume(old_id, zone).await? {
            Some(new) => new,
            None => {
                let snapshot = self.relocation_snapshot(old, zone, progress).await?;
                set(progress, "create", 80);
                self.create_relocated(old, zone, &snapshot).await?
            }
        };
        tracing::info!(backend = %self.backend, old = %old_id, new = %new.volume_id, zone, "relocation: new volume created");
        set(progress, "create", 85);
        let new = self.wait_available(&new.volume_id).await?;
        set(progress, "finish", 95);
        tracing::info!(backend = %self.backend, old = %old_id, new = %new.volume_id, zone, "relocation: new volume available, deleting the old one");
        self.retire_old(old_id).await?;
        self.delete_relocation_snapshots(old_id).await;
        tracing::info!(backend = %self.backend, old = %old_id, new = %new.volume_id, zone, "relocation done");
        Ok(new)
    }

    /// A completed snapshot of `old` for this relocation: one made earlier
    /// (the oldest, so that hosts agree) or a new one. Progress 0–80.
    async fn relocation_snapshot(
        &self,
        old: &EbsVolume,
        zone: &str,
        progress: &Mutex<Progress>,
    ) -> Result<Snapshot, BackendError> {
        let old_id = &old.volume_id;
        let mut earlier = self.relocation_snapshots(old_id).await?;
        earlier.retain(|s| s.state != SnapshotState::Error);
        earlier.sort_by_key(|s| (s.start_time_ms, s.snapshot_id.clone()));
        let snapshot = match earlier.into_iter().next() {
            Some(snapshot) => snapshot,
            None => {
                let tags = [
                    (RELOCATING.to_string(), old_id.clone()),
                    (RELOCATING_TO.to_string(), zone.to_string()),
                ];
                let description = format!("ballast: relocating {old_id} to {zone}");
                self.create_snapshot(old_id, &description, &tags).await?
            }
        };
        tracing::info!(backend = %self.backend, old = %old_id, snapshot = %snapshot.snapshot_id, zone, "relocation: snapshot");
        self.wait_snapshot(&snapshot.snapshot_id, progress).await
    }

    async fn wait_snapshot(
        &self,
        snapshot_id: &str,
        progress: &Mutex<Progress>,
    ) -> Result<Snapshot, BackendError> {
        let limit = self.settings().relocation_timeout;
        let mut waiter = Waiter::new(
            Backoff::for_at_most(limit),
            format!("snapshot {snapshot_id} to complete"),
        );
        loop {
            let snapshot = match self.describe_snapshots(&[snapshot_id.into()], &[]).await {
                Ok(found) => found.into_iter().next().ok_or_else(|| {
                    BackendError::NotFound(format!("relocate: snapshot {snapshot_id} vanished"))
                })?,
                Err(e) => {
                    waiter.absorb(e)?;
                    waiter.poll().await;
                    continue;
                }
            };
            match snapshot.state {
                SnapshotState::Completed => return Ok(snapshot),
                SnapshotState::Error => {
                    return Err(BackendError::Internal(format!(
                        "relocate: snapshot {snapshot_id} failed (state error)"
                    )));
                }
                _ => {
                    set(progress, "snapshot", snapshot.progress.min(100) * 80 / 100);
                    waiter.pending(format!("{}% done", snapshot.progress))?;
                }
            }
            waiter.poll().await;
        }
    }

    /// Create the copy in `zone` from `snapshot`, shaped as `old`.
    async fn create_relocated(
        &self,
        old: &EbsVolume,
        zone: &str,
        snapshot: &Snapshot,
    ) -> Result<EbsVolume, BackendError> {
        let kind = old.volume_type.as_str();
        let mut tags: Vec<(String, String)> = old
            .tags
            .iter()
            .filter(|(k, _)| !k.to_ascii_lowercase().starts_with("aws:") && k != RELOCATED_FROM)
            .cloned()
            .collect();
        tags.push((RELOCATED_FROM.into(), old.volume_id.clone()));
        let request = CreateVolumeRequest {
            zone: zone.into(),
            size_gib: Some(old.size_gib),
            volume_type: old.volume_type.clone(),
            // gp2, st1, sc1 and standard take no IOPS; only gp3 a throughput.
            iops: old.iops.filter(|_| matches!(kind, "gp3" | "io1" | "io2")),
            throughput: old.throughput.filter(|_| kind == "gp3"),
            encrypted: old.encrypted,
            kms_key_id: old.kms_key_id.clone().filter(|_| old.encrypted),
            snapshot_id: Some(snapshot.snapshot_id.clone()),
            tags,
            client_token: Some(client_token(&old.volume_id, zone)),
        };
        self.create_volume(&request).await
    }

    async fn wait_available(&self, volume_id: &str) -> Result<EbsVolume, BackendError> {
        let mut waiter = Waiter::new(
            Backoff::for_at_most(self.settings().relocation_timeout),
            format!("{volume_id} to be available"),
        );
        loop {
            waiter.poll().await;
            match self.describe_volume(volume_id).await {
                Ok(Some(v)) if v.state == VolumeState::Available => return Ok(v),
                Ok(Some(v)) if v.state == VolumeState::Creating => {
                    waiter.pending(super::wait::seen(&v))?
                }
                Ok(Some(v)) => {
                    return Err(BackendError::Conflict(format!(
                        "relocate: the new volume {volume_id} is {} instead of becoming available",
                        super::wait::seen(&v)
                    )));
                }
                Ok(None) => {
                    return Err(BackendError::NotFound(format!(
                        "relocate: the new volume {volume_id} vanished"
                    )));
                }
                Err(e) => waiter.absorb(e)?,
            }
        }
    }

    /// Delete the old volume, unless someone attached it meanwhile (then
    /// the copy may be stale: discard it).
    async fn retire_old(&self, old_id: &str) -> Result<(), BackendError> {
        let Some(old) = self.describe_volume(old_id).await? else {
            return Ok(());
        };
        if let Some(a) = old.attachments.first() {
            self.discard_relocation_copies(old_id).await;
            return Err(BackendError::Conflict(format!(
                "relocate: {old_id} was attached to {} while it was being copied; the copy was discarded",
                a.instance_id
            )));
        }
        match self.delete_volume(old_id).await {
            Ok(()) | Err(BackendError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A volume in `zone` tagged as the copy of `old_id` (not being
    /// deleted, not failed); the oldest when there are several.
    async fn relocated_volume(
        &self,
        old_id: &str,
        zone: &str,
    ) -> Result<Option<EbsVolume>, BackendError> {
        let filters = [
            filter(&format!("tag:{RELOCATED_FROM}"), old_id),
            filter("availability-zone", zone),
        ];
        let mut found = self.describe_volumes(&[], &filters).await?;
        found.retain(|v| {
            !matches!(
                v.state,
                VolumeState::Deleting | VolumeState::Deleted | VolumeState::Error
            )
        });
        found.sort_by_key(|v| (v.create_time_ms, v.volume_id.clone()));
        Ok(found.into_iter().next())
    }

    async fn relocation_snapshots(&self, old_id: &str) -> Result<Vec<Snapshot>, BackendError> {
        let filters = [filter(&format!("tag:{RELOCATING}"), old_id)];
        self.describe_snapshots(&[], &filters).await
    }

    /// Best effort: the snapshots are only a means; a leftover costs money,
    /// not data.
    async fn delete_relocation_snapshots(&self, old_id: &str) {
        let snapshots = match self.relocation_snapshots(old_id).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(backend = %self.backend, old = %old_id, "relocation: listing its snapshots to delete them: {e:?}");
                return;
            }
        };
        for s in snapshots {
            match self.delete_snapshot(&s.snapshot_id).await {
                Ok(()) | Err(BackendError::NotFound(_)) => {}
                Err(e) => {
                    tracing::warn!(backend = %self.backend, old = %old_id, snapshot = %s.snapshot_id, "relocation: deleting the snapshot: {e:?}")
                }
            }
        }
    }

    /// The old volume is (again) in use: its snapshots and unattached
    /// copies may no longer match it, so none may ever be reused.
    async fn discard_relocation_copies(&self, old_id: &str) {
        self.delete_relocation_snapshots(old_id).await;
        let filters = [filter(&format!("tag:{RELOCATED_FROM}"), old_id)];
        let copies = match self.describe_volumes(&[], &filters).await {
            Ok(copies) => copies,
            Err(e) => {
                tracing::warn!(backend = %self.backend, old = %old_id, "relocation: listing stale copies: {e:?}");
                return;
            }
        };
        for copy in copies.iter().filter(|c| c.attachments.is_empty()) {
            tracing::info!(backend = %self.backend, old = %old_id, new = %copy.volume_id, "relocation: discarding a copy made before the volume was attached again");
            if let Err(e) = self.delete_volume(&copy.volume_id).await {
                tracing::warn!(backend = %self.backend, new = %copy.volume_id, "relocation: deleting a stale copy: {e:?}");
            }
        }
    }
}

/// The answer of a task already known for `volume_id`, if any: its
/// progress, or its outcome (then forgotten, so the next call starts over).
fn follow(
    tasks: &mut HashMap<String, Task>,
    volume_id: &str,
    zone: &str,
) -> Option<Result<Relocation, BackendError>> {
    let task = tasks.get(volume_id)?;
    let progress = task.progress.lock().unwrap().clone();
    let same_zone = task.zone == zone;
    let answer = match progress {
        Progress::Running(phase, percent) if same_zone => {
            return Some(Ok(Relocation::Running((phase.into(), percent))));
        }
        Progress::Running(..) => {
            return Some(Err(BackendError::Conflict(format!(
                "relocate: {volume_id} is being relocated to {}, not {zone}",
                task.zone
            ))));
        }
        Progress::Done(new) if same_zone => Some(Ok(Relocation::Done(new))),
        Progress::Failed(e) if same_zone => Some(Err(e)),
        // Finished, but towards another zone: start afresh.
        _ => None,
    };
    tasks.remove(volume_id);
    answer
}

fn set(progress: &Mutex<Progress>, phase: &'static str, percent: u8) {
    *progress.lock().unwrap() = Progress::Running(phase, percent);
}

/// The new volume's CreateVolume token: the same for every attempt (and
/// every host) relocating `old_id` to `zone`.
pub fn client_token(old_id: &str, zone: &str) -> String {
    let digest = hex::encode(Sha256::digest(format!("{old_id}{zone}").as_bytes()));
    let mut token = format!("ballast-reloc-{digest}");
    token.truncate(64);
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_token_is_stable_and_fits_ec2s_limit() {
        let token = client_token("vol-0123456789abcdef0", "us-east-1b");
        assert_eq!(token.len(), 64);
        assert!(token.starts_with("ballast-reloc-"));
        assert_eq!(token, client_token("vol-0123456789abcdef0", "us-east-1b"));
        assert_ne!(token, client_token("vol-0123456789abcdef0", "us-east-1c"));
    }
}
