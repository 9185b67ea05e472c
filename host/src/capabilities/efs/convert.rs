//! The SDK's EFS types to the contract's records and back. Pure functions,
//! no calls. Times become milliseconds since the Unix epoch; unknown life
//! cycle states read as `error` rather than a state a guest would act on;
//! EFS's signed numbers (uids, sizes) become the contract's unsigned ones.

use aws_sdk_efs::operation::create_access_point::CreateAccessPointOutput;
use aws_sdk_efs::operation::create_file_system::CreateFileSystemOutput;
use aws_sdk_efs::operation::create_mount_target::CreateMountTargetOutput;
use aws_sdk_efs::primitives::DateTime;
use aws_sdk_efs::types as sdk;

use crate::capabilities::aws::{millis, sdk_view};
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::efs as wit;

sdk_view!(FileSystemView for [sdk::FileSystemDescription, CreateFileSystemOutput] {
    fn file_system_id -> &str;
    fn creation_token -> &str;
    fn name -> Option<&str>;
    fn life_cycle_state -> &sdk::LifeCycleState;
    fn performance_mode -> &sdk::PerformanceMode;
    fn throughput_mode -> Option<&sdk::ThroughputMode>;
    fn provisioned_throughput_in_mibps -> Option<f64>;
    fn encrypted -> Option<bool>;
    fn kms_key_id -> Option<&str>;
    fn availability_zone_name -> Option<&str>;
    fn number_of_mount_targets -> i32;
    fn size_in_bytes -> Option<&sdk::FileSystemSize>;
    fn creation_time -> &DateTime;
    fn tags -> &[sdk::Tag];
});

sdk_view!(MountTargetView for [sdk::MountTargetDescription, CreateMountTargetOutput] {
    fn mount_target_id -> &str;
    fn file_system_id -> &str;
    fn subnet_id -> &str;
    fn availability_zone_name -> Option<&str>;
    fn ip_address -> Option<&str>;
    fn life_cycle_state -> &sdk::LifeCycleState;
});

sdk_view!(AccessPointView for [sdk::AccessPointDescription, CreateAccessPointOutput] {
    fn access_point_id -> Option<&str>;
    fn file_system_id -> Option<&str>;
    fn client_token -> Option<&str>;
    fn name -> Option<&str>;
    fn life_cycle_state -> Option<&sdk::LifeCycleState>;
    fn posix_user -> Option<&sdk::PosixUser>;
    fn root_directory -> Option<&sdk::RootDirectory>;
    fn tags -> &[sdk::Tag];
});

pub fn file_system(f: &impl FileSystemView) -> wit::FileSystem {
    wit::FileSystem {
        file_system_id: f.file_system_id().into(),
        creation_token: f.creation_token().into(),
        name: f.name().filter(|n| !n.is_empty()).map(String::from),
        life_cycle_state: life_cycle_state(Some(f.life_cycle_state())),
        performance_mode: f.performance_mode().as_str().into(),
        // EFS leaves it out for file systems made before the field existed.
        throughput_mode: f
            .throughput_mode()
            .map_or("bursting", |m| m.as_str())
            .into(),
        provisioned_throughput_mibps: f
            .provisioned_throughput_in_mibps()
            .filter(|t| t.is_finite() && *t >= 0.0)
            .map(|t| t.round().min(f64::from(u32::MAX)) as u32),
        encrypted: f.encrypted().unwrap_or(false),
        kms_key_id: f.kms_key_id().filter(|k| !k.is_empty()).map(String::from),
        availability_zone: f
            .availability_zone_name()
            .filter(|z| !z.is_empty())
            .map(String::from),
        number_of_mount_targets: u32::try_from(f.number_of_mount_targets()).unwrap_or(0),
        size_bytes: f
            .size_in_bytes()
            .map_or(0, |s| u64::try_from(s.value()).unwrap_or(0)),
        creation_time_ms: millis(Some(f.creation_time())),
        tags: tags(f.tags()),
    }
}

pub fn mount_target(m: &impl MountTargetView) -> wit::MountTarget {
    wit::MountTarget {
        mount_target_id: m.mount_target_id().into(),
        file_system_id: m.file_system_id().into(),
        subnet_id: m.subnet_id().into(),
        availability_zone: m.availability_zone_name().unwrap_or_default().into(),
        ip_address: m.ip_address().unwrap_or_default().into(),
        life_cycle_state: life_cycle_state(Some(m.life_cycle_state())),
    }
}

pub fn access_point(a: &impl AccessPointView) -> wit::AccessPoint {
    let root = a.root_directory();
    wit::AccessPoint {
        access_point_id: a.access_point_id().unwrap_or_default().into(),
        file_system_id: a.file_system_id().unwrap_or_default().into(),
        client_token: a.client_token().unwrap_or_default().into(),
        name: a.name().filter(|n| !n.is_empty()).map(String::from),
        life_cycle_state: life_cycle_state(a.life_cycle_state()),
        posix_user: a.posix_user().map(|p| wit::PosixUser {
            uid: id(p.uid()),
            gid: id(p.gid()),
            secondary_gids: p.secondary_gids().iter().map(|g| id(*g)).collect(),
        }),
        root_directory: wit::RootDirectory {
            // EFS reports "/" for an access point made without one.
            path: root.and_then(|r| r.path()).unwrap_or("/").into(),
            creation_info: root
                .and_then(|r| r.creation_info())
                .map(|c| wit::CreationInfo {
                    owner_uid: id(c.owner_uid()),
                    owner_gid: id(c.owner_gid()),
                    permissions: c.permissions().into(),
                }),
        },
        tags: tags(a.tags()),
    }
}

fn life_cycle_state(state: Option<&sdk::LifeCycleState>) -> wit::LifeCycleState {
    use sdk::LifeCycleState as S;
    match state {
        Some(S::Creating) => wit::LifeCycleState::Creating,
        Some(S::Available) => wit::LifeCycleState::Available,
        Some(S::Updating) => wit::LifeCycleState::Updating,
        Some(S::Deleting) => wit::LifeCycleState::Deleting,
        Some(S::Deleted) => wit::LifeCycleState::Deleted,
        _ => wit::LifeCycleState::Error,
    }
}

pub fn life_cycle_state_name(state: wit::LifeCycleState) -> &'static str {
    match state {
        wit::LifeCycleState::Creating => "creating",
        wit::LifeCycleState::Available => "available",
        wit::LifeCycleState::Updating => "updating",
        wit::LifeCycleState::Deleting => "deleting",
        wit::LifeCycleState::Deleted => "deleted",
        wit::LifeCycleState::Error => "error",
    }
}

pub fn tags(tags: &[sdk::Tag]) -> Vec<wit::Tag> {
    tags.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// The contract's tags as the SDK's.
pub fn sdk_tags(action: &str, tags: &[wit::Tag]) -> Result<Vec<sdk::Tag>, BackendError> {
    tags.iter()
        .map(|(key, value)| {
            sdk::Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| invalid(action, "tag", e))
        })
        .collect()
}

pub fn sdk_posix_user(action: &str, user: &wit::PosixUser) -> Result<sdk::PosixUser, BackendError> {
    sdk::PosixUser::builder()
        .uid(user.uid.into())
        .gid(user.gid.into())
        .set_secondary_gids(
            (!user.secondary_gids.is_empty())
                .then(|| user.secondary_gids.iter().map(|g| i64::from(*g)).collect()),
        )
        .build()
        .map_err(|e| invalid(action, "posix-user", e))
}

pub fn sdk_root_directory(
    action: &str,
    root: &wit::RootDirectory,
) -> Result<sdk::RootDirectory, BackendError> {
    let creation_info = root
        .creation_info
        .as_ref()
        .map(|c| {
            sdk::CreationInfo::builder()
                .owner_uid(c.owner_uid.into())
                .owner_gid(c.owner_gid.into())
                .permissions(&c.permissions)
                .build()
                .map_err(|e| invalid(action, "creation-info", e))
        })
        .transpose()?;
    Ok(sdk::RootDirectory::builder()
        .path(&root.path)
        .set_creation_info(creation_info)
        .build())
}

/// A POSIX id as the contract's u32 (EFS allows 0–4294967295).
fn id(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn invalid(action: &str, what: &str, err: impl std::fmt::Display) -> BackendError {
    BackendError::InvalidArgument(format!("{action}: BadRequest: {what}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_described_file_system_becomes_the_contracts_record() {
        let f = sdk::FileSystemDescription::builder()
            .owner_id("123456789012")
            .creation_token("ballast-pgdata")
            .file_system_id("fs-1")
            .creation_time(DateTime::from_millis(1_700_000_000_123))
            .life_cycle_state(sdk::LifeCycleState::Available)
            .name("pgdata")
            .number_of_mount_targets(2)
            .size_in_bytes(sdk::FileSystemSize::builder().value(6144).build())
            .performance_mode(sdk::PerformanceMode::MaxIo)
            .encrypted(true)
            .kms_key_id("arn:aws:kms:us-east-1:1:key/k")
            .throughput_mode(sdk::ThroughputMode::Provisioned)
            .provisioned_throughput_in_mibps(128.0)
            .availability_zone_name("us-east-1a")
            .tags(
                sdk::Tag::builder()
                    .key("Name")
                    .value("pgdata")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let f = file_system(&f);
        assert_eq!(f.file_system_id, "fs-1");
        assert_eq!(f.name.as_deref(), Some("pgdata"));
        assert_eq!(f.life_cycle_state, wit::LifeCycleState::Available);
        assert_eq!(f.performance_mode, "maxIO");
        assert_eq!(f.throughput_mode, "provisioned");
        assert_eq!(f.provisioned_throughput_mibps, Some(128));
        assert!(f.encrypted);
        assert_eq!(f.availability_zone.as_deref(), Some("us-east-1a"));
        assert_eq!(f.number_of_mount_targets, 2);
        assert_eq!(f.size_bytes, 6144);
        assert_eq!(f.creation_time_ms, 1_700_000_000_123);
        assert_eq!(f.tags, [("Name".to_string(), "pgdata".to_string())]);
    }

    #[test]
    fn an_access_point_without_root_directory_is_rooted_at_slash() {
        let a = sdk::AccessPointDescription::builder()
            .access_point_id("fsap-1")
            .file_system_id("fs-1")
            .life_cycle_state(sdk::LifeCycleState::from("somethingNew"))
            .posix_user(
                sdk::PosixUser::builder()
                    .uid(1000)
                    .gid(1000)
                    .secondary_gids(4)
                    .build()
                    .unwrap(),
            )
            .build();
        let a = access_point(&a);
        assert_eq!(a.root_directory.path, "/");
        assert_eq!(a.root_directory.creation_info, None);
        assert_eq!(a.life_cycle_state, wit::LifeCycleState::Error, "unknown");
        let user = a.posix_user.unwrap();
        assert_eq!(
            (user.uid, user.gid, user.secondary_gids),
            (1000, 1000, vec![4])
        );
    }

    #[test]
    fn contract_values_become_sdk_values() {
        let root = sdk_root_directory(
            "CreateAccessPoint",
            &wit::RootDirectory {
                path: "/ballast/pgdata".into(),
                creation_info: Some(wit::CreationInfo {
                    owner_uid: 999,
                    owner_gid: 999,
                    permissions: "750".into(),
                }),
            },
        )
        .unwrap();
        assert_eq!(root.path(), Some("/ballast/pgdata"));
        assert_eq!(root.creation_info().unwrap().permissions(), "750");
        let user = wit::PosixUser {
            uid: u32::MAX,
            gid: 0,
            secondary_gids: vec![],
        };
        let user = sdk_posix_user("CreateAccessPoint", &user).unwrap();
        assert_eq!(user.uid(), 4_294_967_295);
        assert!(user.secondary_gids().is_empty());
        let tags = sdk_tags("TagResource", &[("k".into(), "v".into())]).unwrap();
        assert_eq!((tags[0].key(), tags[0].value()), ("k", "v"));
    }
}
