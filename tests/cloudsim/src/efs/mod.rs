//! EFS's REST-JSON API (the subset the EFS backend uses), strict where it
//! matters: CreationToken / ClientToken idempotency the way EFS does it
//! (a reused token answers `…AlreadyExists` carrying the existing id), one
//! mount target per zone, file systems and mount targets that are
//! `creating` until `delays.efs` has passed, deletes refused while mount
//! targets remain.
//!
//! Every action passes [`call::Call::serve`]: SigV4 authentication first
//! (as EC2 does), then fault injection and call counting, then the action,
//! which works on the world under its lock and may schedule state
//! transitions that run after the lock is released.

mod access_points;
mod call;
mod errors;
mod file_systems;
mod model;
mod mount_targets;
mod tags;

use std::collections::BTreeMap;

use axum::Router;
use axum::routing::{delete, get};

pub use errors::EfsError;
pub use model::{AccessPoint, FileSystem, MountTarget, Tag};

use crate::world::SharedSim;

/// Access points a file system may have (AWS's long-standing quota; the
/// docs now quote 10,000 for newer accounts).
pub const ACCESS_POINTS_PER_FILE_SYSTEM: usize = 1000;

/// Security groups a mount target may have.
pub const SECURITY_GROUPS_PER_MOUNT_TARGET: usize = 5;

/// The simulated account that owns every resource.
pub const ACCOUNT_ID: &str = "123456789012";

/// EFS's resources, by id.
#[derive(Debug, Clone, Default)]
pub struct EfsState {
    pub file_systems: BTreeMap<String, FileSystem>,
    pub mount_targets: BTreeMap<String, MountTarget>,
    pub access_points: BTreeMap<String, AccessPoint>,
    /// Creation order, for stable listings and pagination markers.
    next_seq: u64,
}

impl EfsState {
    fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// The mount targets of one file system, in creation order.
    pub fn mount_targets_of(&self, file_system_id: &str) -> Vec<&MountTarget> {
        let mut targets: Vec<_> = self
            .mount_targets
            .values()
            .filter(|m| m.file_system_id == file_system_id)
            .collect();
        targets.sort_by_key(|m| m.seq);
        targets
    }
}

pub fn router() -> Router<SharedSim> {
    Router::new()
        .route(
            "/2015-02-01/file-systems",
            get(file_systems::describe).post(file_systems::create),
        )
        .route(
            "/2015-02-01/file-systems/{id}",
            delete(file_systems::delete),
        )
        .route(
            "/2015-02-01/mount-targets",
            get(mount_targets::describe).post(mount_targets::create),
        )
        .route(
            "/2015-02-01/mount-targets/{id}",
            delete(mount_targets::delete),
        )
        .route(
            "/2015-02-01/mount-targets/{id}/security-groups",
            get(mount_targets::describe_security_groups).put(mount_targets::modify_security_groups),
        )
        .route(
            "/2015-02-01/access-points",
            get(access_points::describe).post(access_points::create),
        )
        .route(
            "/2015-02-01/access-points/{id}",
            delete(access_points::delete),
        )
        .route(
            "/2015-02-01/resource-tags/{id}",
            get(tags::list_tags_for_resource)
                .post(tags::tag_resource)
                .delete(tags::untag_resource),
        )
}
