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
use axum::routing::MethodFilter;

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

/// Each route with the EFS actions it answers, by method.
pub fn router() -> Router<SharedSim> {
    use MethodFilter as M;
    use call::{action, action_on};
    Router::new()
        .route(
            "/2015-02-01/file-systems",
            action(
                M::GET,
                "DescribeFileSystems",
                file_systems::describe_file_systems,
            )
            .merge(action(
                M::POST,
                "CreateFileSystem",
                file_systems::create_file_system,
            )),
        )
        .route(
            "/2015-02-01/file-systems/{id}",
            action_on(
                M::DELETE,
                "DeleteFileSystem",
                file_systems::delete_file_system,
            ),
        )
        .route(
            "/2015-02-01/mount-targets",
            action(
                M::GET,
                "DescribeMountTargets",
                mount_targets::describe_mount_targets,
            )
            .merge(action(
                M::POST,
                "CreateMountTarget",
                mount_targets::create_mount_target,
            )),
        )
        .route(
            "/2015-02-01/mount-targets/{id}",
            action_on(
                M::DELETE,
                "DeleteMountTarget",
                mount_targets::delete_mount_target,
            ),
        )
        .route(
            "/2015-02-01/mount-targets/{id}/security-groups",
            action_on(
                M::GET,
                "DescribeMountTargetSecurityGroups",
                mount_targets::describe_security_groups,
            )
            .merge(action_on(
                M::PUT,
                "ModifyMountTargetSecurityGroups",
                mount_targets::modify_security_groups,
            )),
        )
        .route(
            "/2015-02-01/access-points",
            action(
                M::GET,
                "DescribeAccessPoints",
                access_points::describe_access_points,
            )
            .merge(action(
                M::POST,
                "CreateAccessPoint",
                access_points::create_access_point,
            )),
        )
        .route(
            "/2015-02-01/access-points/{id}",
            action_on(
                M::DELETE,
                "DeleteAccessPoint",
                access_points::delete_access_point,
            ),
        )
        .route(
            "/2015-02-01/resource-tags/{id}",
            action_on(M::GET, "ListTagsForResource", tags::list)
                .merge(action_on(M::POST, "TagResource", tags::tag))
                .merge(action_on(M::DELETE, "UntagResource", tags::untag)),
        )
}
