//! Amazon EFS control calls (the `efs` capability, WIT 0.1.3): file
//! systems, mount targets, access points and tags, made for the backend by
//! the AWS SDK in the host with the host's credentials, region, endpoint
//! and retries. The guest never sees a credential, and never moves file
//! data: `attach` answers an `nfs` mount source (see [`nfs_source`]) and the
//! host mounts it with the kernel's NFS client.
//!
//! Thin wrappers over the generated imports, plus small pure helpers for
//! reading what they return (tags, states as EFS spells them) and for the
//! mount source. Errors follow the interface's docs: throttling, timeouts
//! and 5xx come back (after the host's retries) as `unavailable`; a missing
//! file system, mount target or access point as `not-found`; a state that
//! forbids the call (`FileSystemInUse`, `MountTargetConflict`, a quota) as
//! `conflict`; every message starts with the action and EFS's error code.
//! Calling any of the functions makes the component import `efs`; the
//! helpers alone do not.

use crate::bindings::ballast::backend::efs as raw;
use crate::cluster::find_tag;
use crate::{MountSource, NfsSource, Result};

pub use raw::{
    AccessPoint, CreateAccessPointRequest, CreateFileSystemRequest, CreationInfo, FileSystem,
    InstanceNetwork, LifeCycleState, MountTarget, PosixUser, RootDirectory, Tag, WaitFor,
    WaitPolicy,
};

/// The NFS options efs-utils (`mount -t efs`) mounts with, and AWS's docs
/// recommend for a plain NFS mount of EFS.
pub const MOUNT_OPTIONS: [&str; 7] = [
    "nfsvers=4.1",
    "rsize=1048576",
    "wsize=1048576",
    "hard",
    "timeo=600",
    "retrans=2",
    "noresvport",
];

/// DescribeFileSystems, every page: the one with this id, the one with this
/// creation token, or (both none) all of them.
pub fn describe_file_systems(
    file_system_id: Option<&str>,
    creation_token: Option<&str>,
) -> Result<Vec<FileSystem>> {
    raw::describe_file_systems(file_system_id, creation_token)
}

/// CreateFileSystem. A reused creation token answers the file system it
/// names, whatever its parameters: compare them with the request.
pub fn create_file_system(request: &CreateFileSystemRequest) -> Result<FileSystem> {
    raw::create_file_system(request)
}

/// DeleteFileSystem; `conflict` while it has mount targets.
pub fn delete_file_system(file_system_id: &str) -> Result<()> {
    raw::delete_file_system(file_system_id)
}

/// DescribeMountTargets of one file system, every page.
pub fn describe_mount_targets(file_system_id: &str) -> Result<Vec<MountTarget>> {
    raw::describe_mount_targets(file_system_id)
}

/// CreateMountTarget in `subnet_id` with these security groups (none: the
/// VPC's default group). A second one in a zone is `conflict`.
pub fn create_mount_target(
    file_system_id: &str,
    subnet_id: &str,
    security_groups: &[String],
) -> Result<MountTarget> {
    raw::create_mount_target(file_system_id, subnet_id, security_groups)
}

/// DeleteMountTarget.
pub fn delete_mount_target(mount_target_id: &str) -> Result<()> {
    raw::delete_mount_target(mount_target_id)
}

/// DescribeAccessPoints, every page: the one with this id, or those of this
/// file system (give at least one).
pub fn describe_access_points(
    file_system_id: Option<&str>,
    access_point_id: Option<&str>,
) -> Result<Vec<AccessPoint>> {
    raw::describe_access_points(file_system_id, access_point_id)
}

/// CreateAccessPoint. A reused client token answers the access point it
/// names, whatever its parameters: compare them with the request.
pub fn create_access_point(request: &CreateAccessPointRequest) -> Result<AccessPoint> {
    raw::create_access_point(request)
}

/// DeleteAccessPoint (its root directory stays).
pub fn delete_access_point(access_point_id: &str) -> Result<()> {
    raw::delete_access_point(access_point_id)
}

/// TagResource on a file system or access point.
pub fn tag_resource(resource_id: &str, tags: &[Tag]) -> Result<()> {
    raw::tag_resource(resource_id, tags)
}

/// UntagResource: remove the tags with these keys.
pub fn untag_resource(resource_id: &str, keys: &[String]) -> Result<()> {
    raw::untag_resource(resource_id, keys)
}

/// Wait (in the host, costing no CPU budget) until the file system is
/// `available` or gone; it as last described. `unavailable` when the policy
/// runs out first, `internal` when it reaches `error`.
pub fn wait_file_system(
    file_system_id: &str,
    condition: WaitFor,
    policy: WaitPolicy,
) -> Result<FileSystem> {
    raw::wait_file_system(file_system_id, condition, policy)
}

/// Wait until the mount target is `available` or gone.
pub fn wait_mount_target(
    mount_target_id: &str,
    condition: WaitFor,
    policy: WaitPolicy,
) -> Result<MountTarget> {
    raw::wait_mount_target(mount_target_id, condition, policy)
}

/// Wait until the access point is `available` or gone.
pub fn wait_access_point(
    access_point_id: &str,
    condition: WaitFor,
    policy: WaitPolicy,
) -> Result<AccessPoint> {
    raw::wait_access_point(access_point_id, condition, policy)
}

/// This machine's subnet and security groups; `not-found` when the host's
/// identity is static (the subnet must then come from settings).
pub fn get_instance_network() -> Result<InstanceNetwork> {
    raw::get_instance_network()
}

/// Delete directory `path` (absolute, not "/") of the file system and
/// everything in it, through a temporary mount the host makes over the
/// mount target in this machine's zone (which must exist and be
/// available). How many entries were deleted; a missing directory, none.
pub fn purge_directory(file_system_id: &str, path: &str) -> Result<u64> {
    raw::purge_directory(file_system_id, path)
}

/// `ballast-mkdir=<uid>:<gid>:<octal mode>`: the host creates the export
/// path with this owner and mode when the file system lacks it, as EFS does
/// for an access point's root directory on the first mount through it.
pub fn mkdir_option(uid: u32, gid: u32, permissions: &str) -> String {
    format!("ballast-mkdir={uid}:{gid}:{permissions}")
}

/// The `nfs` mount source for `export_path` on `server` (a mount target's
/// address), with [`MOUNT_OPTIONS`] followed by `extra`.
pub fn nfs_source(server: &str, export_path: &str, extra: &[String]) -> MountSource {
    let options = MOUNT_OPTIONS
        .iter()
        .map(|o| o.to_string())
        .chain(extra.iter().cloned())
        .collect();
    MountSource::Nfs(NfsSource {
        server: server.to_owned(),
        export_path: export_path.to_owned(),
        options,
    })
}

crate::wait::convert_wait_policy!(WaitPolicy);

impl LifeCycleState {
    /// The state as EFS spells it, e.g. `"available"`.
    pub fn as_str(self) -> &'static str {
        match self {
            LifeCycleState::Creating => "creating",
            LifeCycleState::Available => "available",
            LifeCycleState::Updating => "updating",
            LifeCycleState::Deleting => "deleting",
            LifeCycleState::Deleted => "deleted",
            LifeCycleState::Error => "error",
        }
    }

    /// Gone or going (`deleting`, `deleted`).
    pub fn is_gone(self) -> bool {
        matches!(self, LifeCycleState::Deleting | LifeCycleState::Deleted)
    }
}

impl FileSystem {
    /// A Regional, general purpose, bursting, unencrypted file system with
    /// no mount targets or tags: a starting point for tests, which override
    /// the fields they care about.
    pub fn sample(file_system_id: &str, state: LifeCycleState) -> FileSystem {
        FileSystem {
            file_system_id: file_system_id.into(),
            creation_token: format!("token-{file_system_id}"),
            name: None,
            life_cycle_state: state,
            performance_mode: "generalPurpose".into(),
            throughput_mode: "bursting".into(),
            provisioned_throughput_mibps: None,
            encrypted: false,
            kms_key_id: None,
            availability_zone: None,
            number_of_mount_targets: 0,
            size_bytes: 6144,
            creation_time_ms: 0,
            tags: vec![],
        }
    }

    /// The value of tag `key`, if the file system has it.
    pub fn tag(&self, key: &str) -> Option<&str> {
        find_tag(&self.tags, key)
    }
}

impl AccessPoint {
    /// An access point of `file_system_id` rooted at `path`, with no POSIX
    /// user, creation info or tags: a starting point for tests.
    pub fn sample(
        access_point_id: &str,
        file_system_id: &str,
        path: &str,
        state: LifeCycleState,
    ) -> AccessPoint {
        AccessPoint {
            access_point_id: access_point_id.into(),
            file_system_id: file_system_id.into(),
            client_token: format!("token-{access_point_id}"),
            name: None,
            life_cycle_state: state,
            posix_user: None,
            root_directory: RootDirectory {
                path: path.into(),
                creation_info: None,
            },
            tags: vec![],
        }
    }

    /// The value of tag `key`, if the access point has it.
    pub fn tag(&self, key: &str) -> Option<&str> {
        find_tag(&self.tags, key)
    }
}

impl MountTarget {
    /// A mount target of `file_system_id` in `zone`: a starting point for
    /// tests.
    pub fn sample(
        mount_target_id: &str,
        file_system_id: &str,
        zone: &str,
        state: LifeCycleState,
    ) -> MountTarget {
        MountTarget {
            mount_target_id: mount_target_id.into(),
            file_system_id: file_system_id.into(),
            subnet_id: format!("subnet-{zone}"),
            availability_zone: zone.into(),
            ip_address: "10.0.0.100".into(),
            life_cycle_state: state,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The pure helpers only; the imports are never called natively.
    use super::*;

    #[test]
    fn nfs_sources_carry_efs_utils_defaults_then_the_extras() {
        let MountSource::Nfs(source) = nfs_source(
            "10.0.1.100",
            "/ballast/pgdata",
            &[mkdir_option(1000, 50, "750")],
        ) else {
            panic!("not an nfs source");
        };
        assert_eq!(source.server, "10.0.1.100");
        assert_eq!(source.export_path, "/ballast/pgdata");
        assert_eq!(
            source.options,
            [
                "nfsvers=4.1",
                "rsize=1048576",
                "wsize=1048576",
                "hard",
                "timeo=600",
                "retrans=2",
                "noresvport",
                "ballast-mkdir=1000:50:750",
            ]
        );
        let MountSource::Nfs(plain) = nfs_source("10.0.1.100", "/", &[]) else {
            panic!("not an nfs source");
        };
        assert_eq!(plain.options.len(), MOUNT_OPTIONS.len());
    }

    #[test]
    fn states_tags_and_policies() {
        assert_eq!(LifeCycleState::Available.as_str(), "available");
        assert_eq!(LifeCycleState::Updating.as_str(), "updating");
        assert!(LifeCycleState::Deleting.is_gone());
        assert!(LifeCycleState::Deleted.is_gone());
        assert!(!LifeCycleState::Error.is_gone());
        let mut fs = FileSystem::sample("fs-1", LifeCycleState::Available);
        fs.tags.push(("ballast.volume".into(), "pgdata".into()));
        assert_eq!(fs.tag("ballast.volume"), Some("pgdata"));
        assert_eq!(fs.tag("Ballast.volume"), None);
        let ap = AccessPoint::sample("fsap-1", "fs-1", "/b/x", LifeCycleState::Creating);
        assert_eq!(ap.tag("Name"), None);
        let policy = WaitPolicy::from(crate::wait::StatusPolicy::DEFAULT);
        assert_eq!(
            (
                policy.initial_delay_ms,
                policy.max_attempts,
                policy.timeout_ms
            ),
            (100, 10, 120_000)
        );
        assert_eq!(
            crate::wait::StatusPolicy::from(policy),
            crate::wait::StatusPolicy::DEFAULT
        );
    }
}
