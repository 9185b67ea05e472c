//! The host's `efs` capability driven directly (no guest): its core `Efs`
//! against cloudsim (strict: creation and client tokens, one mount target
//! per zone, creating → available delays, instance metadata, faults) and,
//! as a second opinion, moto.

use std::path::Path;

use ballast::capabilities::ec2::Ec2;
use ballast::capabilities::efs::Efs;
use ballast::config::{AwsConfig, BackendConfig};
use ballast::runtime::bindings::BackendError;
use ballast::runtime::bindings::ballast::backend::efs::{
    CreateAccessPointRequest, CreateFileSystemRequest, CreationInfo, FileSystem, LifeCycleState,
    PosixUser, RootDirectory, WaitFor, WaitPolicy,
};
use ballast::storage::nfs;
use ballast_tests::cloud::{ACCESS_KEY, SECRET_KEY, efs_backend_config, file_system_request};
use cloudsim::moto::Moto;
use cloudsim::{Running, SimConfig};

/// Asserts that a `BackendError` (or a result) matches a pattern, with an
/// optional guard, showing it when it does not.
macro_rules! assert_err {
    ($err:expr, $($pattern:tt)+) => {{
        let err = &$err;
        assert!(matches!(err, $($pattern)+), "{err:?}");
    }};
}

/// A running simulator and an `Efs` configured against it.
struct Sim {
    running: Running,
    efs: Efs,
    /// The simulator's data and the capability's scratch dir.
    dir: tempfile::TempDir,
}

/// A fast simulator (no hypervisor) with `i-a`, `i-b` in us-east-1a and
/// `i-c` in us-east-1b, and an `Efs` acting as instance `machine` (its
/// metadata), adjusted by `adjust`.
async fn sim(machine: &str, adjust: impl FnOnce(&mut SimConfig)) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SimConfig::fast(dir.path().join("sim")).with_test_instances();
    adjust(&mut config);
    let running = cloudsim::start(config).await.unwrap();
    let metadata = running.instance(machine).metadata_url;
    let config = efs_backend_config(&running.api_url, Some(&metadata), None);
    let efs = efs_from(&config, dir.path());
    Sim { running, efs, dir }
}

fn efs_from(config: &BackendConfig, dir: &Path) -> Efs {
    Efs::from_config("efs", config)
        .unwrap()
        .with_scratch_dir(dir.join("scratch"))
}

/// Install a fault plan in-process (cloudsim's own tests cover its HTTP form).
fn set_faults(running: &Running, plan: serde_json::Value) {
    let plan = serde_json::from_value(plan).expect("a valid fault plan");
    cloudsim::admin::apply_faults(&running.sim, plan).expect("fault plan accepted");
}

fn counter(running: &Running, action: &str) -> u64 {
    let counters = running.sim.faults.counters();
    counters.get(&format!("efs:{action}")).copied().unwrap_or(0)
}

fn access_point_request(file_system_id: &str, token: &str) -> CreateAccessPointRequest {
    CreateAccessPointRequest {
        file_system_id: file_system_id.into(),
        client_token: token.into(),
        posix_user: Some(PosixUser {
            uid: 1000,
            gid: 1000,
            secondary_gids: vec![27, 100],
        }),
        root_directory: RootDirectory {
            path: format!("/ballast/{token}"),
            creation_info: Some(CreationInfo {
                owner_uid: 1000,
                owner_gid: 1000,
                permissions: "750".into(),
            }),
        },
        tags: vec![("Name".into(), token.into())],
    }
}

fn policy(initial_delay_ms: u32, max_attempts: u32) -> WaitPolicy {
    WaitPolicy {
        initial_delay_ms,
        max_attempts,
        timeout_ms: 30_000,
    }
}

/// A file system with default options, waited for until available.
async fn available_file_system(efs: &Efs, token: &str) -> FileSystem {
    let created = efs
        .create_file_system(&file_system_request(token))
        .await
        .unwrap();
    efs.wait_file_system(
        &created.file_system_id,
        WaitFor::Available,
        &policy(10, 200),
    )
    .await
    .unwrap()
}

/// An EC2 client at `endpoint` (the host's, from an `ec2` capability), to
/// see what EC2 says about instances and subnets.
async fn ec2_at(endpoint: &str) -> aws_sdk_ec2::Client {
    let config = BackendConfig {
        aws: AwsConfig {
            region: Some("us-east-1".into()),
            endpoint: Some(endpoint.into()),
            access_key: Some(ACCESS_KEY.into()),
            secret_key: Some(SECRET_KEY.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Ec2::from_config("ebs", &config)
        .unwrap()
        .client()
        .await
        .clone()
}

fn subnet(zone: &str) -> String {
    cloudsim::ids::subnet_for_zone(zone)
}

#[tokio::test]
async fn file_systems_are_created_with_their_options_described_and_deleted() {
    let Sim { efs, .. } = &sim("i-a", |_| {}).await;
    let regional = efs
        .create_file_system(&CreateFileSystemRequest {
            performance_mode: Some("maxIO".into()),
            throughput_mode: Some("provisioned".into()),
            provisioned_throughput_mibps: Some(128),
            encrypted: true,
            kms_key_id: Some("alias/ballast".into()),
            ..file_system_request("regional")
        })
        .await
        .unwrap();
    assert!(regional.file_system_id.starts_with("fs-"));
    assert_eq!(regional.creation_token, "regional");
    assert_eq!(regional.name.as_deref(), Some("regional"));
    assert_eq!(regional.performance_mode, "maxIO");
    assert_eq!(regional.throughput_mode, "provisioned");
    assert_eq!(regional.provisioned_throughput_mibps, Some(128));
    assert!(regional.encrypted);
    assert!(
        regional
            .kms_key_id
            .as_deref()
            .unwrap()
            .ends_with(":alias/ballast"),
        "{:?}",
        regional.kms_key_id
    );
    assert_eq!(regional.availability_zone, None);
    assert!(regional.creation_time_ms > 0);

    let one_zone = efs
        .create_file_system(&CreateFileSystemRequest {
            throughput_mode: Some("elastic".into()),
            availability_zone: Some("us-east-1b".into()),
            ..file_system_request("one-zone")
        })
        .await
        .unwrap();
    assert_eq!(one_zone.availability_zone.as_deref(), Some("us-east-1b"));
    assert_eq!(one_zone.performance_mode, "generalPurpose");
    assert_eq!(one_zone.throughput_mode, "elastic");
    assert!(!one_zone.encrypted);

    // Described by id, by creation token, and among all of them.
    let by_id = efs
        .describe_file_systems(Some(&regional.file_system_id), None)
        .await
        .unwrap();
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0].life_cycle_state, LifeCycleState::Available);
    assert_eq!(by_id[0].provisioned_throughput_mibps, Some(128));
    let by_token = efs
        .describe_file_systems(None, Some("one-zone"))
        .await
        .unwrap();
    assert_eq!(by_token.len(), 1);
    assert_eq!(by_token[0].file_system_id, one_zone.file_system_id);
    assert!(
        efs.describe_file_systems(None, Some("no-such-token"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        efs.describe_file_systems(None, None).await.unwrap().len(),
        2
    );

    // A One Zone file system takes no mount target outside its zone.
    let err = efs
        .create_mount_target(&one_zone.file_system_id, &subnet("us-east-1a"), &[])
        .await
        .unwrap_err();
    assert_err!(err, BackendError::InvalidArgument(m) if m.starts_with("CreateMountTarget: AvailabilityZonesMismatch:"));
    // A rejected option is invalid-argument.
    let err = efs
        .create_file_system(&CreateFileSystemRequest {
            performance_mode: Some("maxIO".into()),
            availability_zone: Some("us-east-1a".into()),
            ..file_system_request("bad")
        })
        .await
        .unwrap_err();
    assert_err!(err, BackendError::InvalidArgument(m) if m.starts_with("CreateFileSystem: BadRequest:"));

    for fs in [&regional, &one_zone] {
        efs.delete_file_system(&fs.file_system_id).await.unwrap();
        let gone = efs
            .wait_file_system(&fs.file_system_id, WaitFor::Deleted, &policy(10, 100))
            .await
            .unwrap();
        assert_eq!(gone.life_cycle_state, LifeCycleState::Deleted);
        assert_eq!(gone.file_system_id, fs.file_system_id);
    }
    assert!(
        efs.describe_file_systems(None, None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_reused_creation_token_returns_the_first_file_system() {
    let Sim { efs, running, .. } = &sim("i-a", |c| {
        c.delays.efs = std::time::Duration::from_millis(300)
    })
    .await;
    let first = efs
        .create_file_system(&file_system_request("pgdata"))
        .await
        .unwrap();
    let again = efs
        .create_file_system(&file_system_request("pgdata"))
        .await
        .unwrap();
    assert_eq!(again.file_system_id, first.file_system_id);
    assert_eq!(again.creation_token, "pgdata");
    assert_eq!(
        counter(running, "CreateFileSystem"),
        2,
        "EFS was asked twice"
    );
    let all = efs.describe_file_systems(None, None).await.unwrap();
    assert_eq!(all.len(), 1, "one file system, not two");

    // Once it is being deleted, the token names a file system that is
    // going: a conflict, not that file system.
    efs.wait_file_system(&first.file_system_id, WaitFor::Available, &policy(20, 100))
        .await
        .unwrap();
    efs.delete_file_system(&first.file_system_id).await.unwrap();
    let err = efs
        .create_file_system(&file_system_request("pgdata"))
        .await
        .unwrap_err();
    assert_err!(err, BackendError::Conflict(m)
        if m.starts_with("CreateFileSystem: FileSystemAlreadyExists:")
            && m.contains(&first.file_system_id)
            && m.contains("deleted file system"));
}

#[tokio::test]
async fn one_mount_target_per_zone_with_an_address_in_its_subnet() {
    let Sim { efs, .. } = &sim("i-a", |_| {}).await;
    let fs = available_file_system(efs, "targets").await;
    let id = &fs.file_system_id;
    let group = cloudsim::ids::default_security_group("us-east-1");
    let a = efs
        .create_mount_target(id, &subnet("us-east-1a"), std::slice::from_ref(&group))
        .await
        .unwrap();
    assert!(a.mount_target_id.starts_with("fsmt-"));
    assert_eq!(a.file_system_id, *id);
    assert_eq!(a.subnet_id, subnet("us-east-1a"));
    assert_eq!(a.availability_zone, "us-east-1a");
    // us-east-1a is the first zone: 10.0.0.0/24.
    assert!(a.ip_address.starts_with("10.0.0."), "{}", a.ip_address);
    let b = efs
        .create_mount_target(id, &subnet("us-east-1b"), &[])
        .await
        .unwrap();
    assert!(b.ip_address.starts_with("10.0.1."), "{}", b.ip_address);

    let err = efs
        .create_mount_target(id, &subnet("us-east-1a"), &[])
        .await
        .unwrap_err();
    assert_err!(err, BackendError::Conflict(m) if m.starts_with("CreateMountTarget: MountTargetConflict:") && m.contains("us-east-1a"));
    let err = efs
        .create_mount_target(id, "subnet-00000000000000000", &[])
        .await
        .unwrap_err();
    assert_err!(err, BackendError::InvalidArgument(m) if m.starts_with("CreateMountTarget: SubnetNotFound:"));

    let targets = efs.describe_mount_targets(id).await.unwrap();
    let zones: Vec<&str> = targets
        .iter()
        .map(|t| t.availability_zone.as_str())
        .collect();
    assert_eq!(zones, ["us-east-1a", "us-east-1b"]);
    let described = efs.describe_file_systems(Some(id), None).await.unwrap();
    assert_eq!(described[0].number_of_mount_targets, 2);

    // No delete while mount targets remain.
    let err = efs.delete_file_system(id).await.unwrap_err();
    assert_err!(err, BackendError::Conflict(m) if m.starts_with("DeleteFileSystem: FileSystemInUse:"));
    for target in &targets {
        efs.delete_mount_target(&target.mount_target_id)
            .await
            .unwrap();
        let gone = efs
            .wait_mount_target(&target.mount_target_id, WaitFor::Deleted, &policy(10, 100))
            .await
            .unwrap();
        assert_eq!(gone.life_cycle_state, LifeCycleState::Deleted);
    }
    efs.delete_file_system(id).await.unwrap();
}

#[tokio::test]
async fn access_points_keep_their_root_directory_user_and_token() {
    let Sim { efs, running, .. } = &sim("i-a", |_| {}).await;
    let fs = available_file_system(efs, "points").await;
    let request = access_point_request(&fs.file_system_id, "pgdata");
    let created = efs.create_access_point(&request).await.unwrap();
    assert!(created.access_point_id.starts_with("fsap-"));
    assert_eq!(created.file_system_id, fs.file_system_id);
    assert_eq!(created.client_token, "pgdata");
    assert_eq!(created.name.as_deref(), Some("pgdata"));
    assert_eq!(created.posix_user, request.posix_user);
    assert_eq!(created.root_directory, request.root_directory);
    let ready = efs
        .wait_access_point(
            &created.access_point_id,
            WaitFor::Available,
            &policy(10, 100),
        )
        .await
        .unwrap();
    assert_eq!(ready.life_cycle_state, LifeCycleState::Available);

    // The same client token: the same access point.
    let again = efs.create_access_point(&request).await.unwrap();
    assert_eq!(again.access_point_id, created.access_point_id);
    assert_eq!(counter(running, "CreateAccessPoint"), 2);
    let other = efs
        .create_access_point(&access_point_request(&fs.file_system_id, "other"))
        .await
        .unwrap();

    let of_fs = efs
        .describe_access_points(Some(&fs.file_system_id), None)
        .await
        .unwrap();
    assert_eq!(of_fs.len(), 2);
    let one = efs
        .describe_access_points(None, Some(&other.access_point_id))
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].root_directory.path, "/ballast/other");
    let elsewhere = efs
        .describe_access_points(Some("fs-00000000000000000"), Some(&other.access_point_id))
        .await
        .unwrap();
    assert!(
        elsewhere.is_empty(),
        "not an access point of that file system"
    );

    // Tags on access points and file systems.
    let id = &created.access_point_id;
    efs.tag_resource(id, &[("ballast.volume".into(), "pgdata".into())])
        .await
        .unwrap();
    let tagged = efs.describe_access_points(None, Some(id)).await.unwrap();
    assert!(
        tagged[0]
            .tags
            .contains(&("ballast.volume".into(), "pgdata".into()))
    );
    efs.untag_resource(id, &["ballast.volume".into()])
        .await
        .unwrap();
    let untagged = efs.describe_access_points(None, Some(id)).await.unwrap();
    assert_eq!(
        untagged[0].tags,
        [("Name".to_string(), "pgdata".to_string())]
    );
    efs.tag_resource(&fs.file_system_id, &[("team".into(), "db".into())])
        .await
        .unwrap();
    let fs_now = efs
        .describe_file_systems(Some(&fs.file_system_id), None)
        .await
        .unwrap();
    assert!(fs_now[0].tags.contains(&("team".into(), "db".into())));

    efs.delete_access_point(id).await.unwrap();
    let gone = efs
        .wait_access_point(id, WaitFor::Deleted, &policy(10, 100))
        .await
        .unwrap();
    assert_eq!(gone.access_point_id, *id);
    assert_eq!(gone.life_cycle_state, LifeCycleState::Deleted);
}

#[tokio::test]
async fn waits_follow_the_policy_and_say_what_they_last_saw() {
    let Sim { efs, .. } = &sim("i-a", |c| {
        c.delays.efs = std::time::Duration::from_millis(400);
    })
    .await;
    let created = efs
        .create_file_system(&file_system_request("slow"))
        .await
        .unwrap();
    assert_eq!(created.life_cycle_state, LifeCycleState::Creating);
    let id = &created.file_system_id;

    // One quick poll is not enough: unavailable, saying what it saw.
    let err = efs
        .wait_file_system(id, WaitFor::Available, &policy(10, 1))
        .await
        .unwrap_err();
    assert_err!(err, BackendError::Unavailable(m)
        if m.contains(&format!("file system {id} to be available"))
            && m.ends_with("last seen: state creating"));
    let err = efs
        .wait_file_system(
            id,
            WaitFor::Available,
            &WaitPolicy {
                initial_delay_ms: 10,
                max_attempts: 0,
                timeout_ms: 50,
            },
        )
        .await
        .unwrap_err();
    assert_err!(err, BackendError::Unavailable(m) if m.contains("last seen: state creating"));

    // A policy long enough sees it become available.
    let ready = efs
        .wait_file_system(id, WaitFor::Available, &policy(20, 100))
        .await
        .unwrap();
    assert_eq!(ready.life_cycle_state, LifeCycleState::Available);

    // The mount target goes through creating the same way.
    let target = efs
        .create_mount_target(id, &subnet("us-east-1a"), &[])
        .await
        .unwrap();
    assert_eq!(target.life_cycle_state, LifeCycleState::Creating);
    let ready = efs
        .wait_mount_target(
            &target.mount_target_id,
            WaitFor::Available,
            &policy(20, 100),
        )
        .await
        .unwrap();
    assert_eq!(ready.life_cycle_state, LifeCycleState::Available);

    // Deleted: answered as last seen (deleting) before it went.
    efs.delete_mount_target(&target.mount_target_id)
        .await
        .unwrap();
    let gone = efs
        .wait_mount_target(&target.mount_target_id, WaitFor::Deleted, &policy(20, 100))
        .await
        .unwrap();
    assert_eq!(gone.life_cycle_state, LifeCycleState::Deleted);
    assert_eq!(gone.availability_zone, "us-east-1a", "as last seen");
    assert_eq!(gone.ip_address, target.ip_address);
}

#[tokio::test]
async fn missing_resources_are_not_found() {
    let Sim { efs, .. } = &sim("i-a", |_| {}).await;
    let fs = "fs-00000000000000000";
    let err = efs.describe_file_systems(Some(fs), None).await.unwrap_err();
    assert_err!(err, BackendError::NotFound(m) if m.starts_with("DescribeFileSystems: FileSystemNotFound:"));
    assert_eq!(efs.describe_file_system(fs).await, Ok(None));
    let err = efs.delete_file_system(fs).await.unwrap_err();
    assert_err!(err, BackendError::NotFound(m) if m.starts_with("DeleteFileSystem: FileSystemNotFound:"));
    let err = efs.describe_mount_targets(fs).await.unwrap_err();
    assert_err!(err, BackendError::NotFound(_));
    let err = efs
        .delete_mount_target("fsmt-00000000000000000")
        .await
        .unwrap_err();
    assert_err!(err, BackendError::NotFound(m) if m.starts_with("DeleteMountTarget: MountTargetNotFound:"));
    let err = efs
        .describe_access_points(None, Some("fsap-00000000000000000"))
        .await
        .unwrap_err();
    assert_err!(err, BackendError::NotFound(m) if m.starts_with("DescribeAccessPoints: AccessPointNotFound:"));
    let err = efs
        .delete_access_point("fsap-00000000000000000")
        .await
        .unwrap_err();
    assert_err!(err, BackendError::NotFound(_));
    let err = efs
        .create_access_point(&access_point_request(fs, "orphan"))
        .await
        .unwrap_err();
    assert_err!(err, BackendError::NotFound(m) if m.starts_with("CreateAccessPoint: FileSystemNotFound:"));
    let err = efs.describe_access_points(None, None).await.unwrap_err();
    assert_err!(err, BackendError::InvalidArgument(_));

    // Waiting for something already gone to be deleted is done at once;
    // waiting for it to become available is not.
    let gone = efs
        .wait_file_system(fs, WaitFor::Deleted, &policy(10, 3))
        .await
        .unwrap();
    assert_eq!(gone.file_system_id, fs);
    assert_eq!(gone.life_cycle_state, LifeCycleState::Deleted);
    let err = efs
        .wait_mount_target("fsmt-00000000000000000", WaitFor::Available, &policy(10, 3))
        .await
        .unwrap_err();
    assert_err!(err, BackendError::Unavailable(m) if m.contains("is not described yet"));
}

#[tokio::test]
async fn throttled_creates_succeed_through_sdk_retries() {
    let Sim { efs, running, .. } = &sim("i-a", |_| {}).await;
    let fs = available_file_system(efs, "throttled").await;
    set_faults(
        running,
        serde_json::json!({
            "fail_next": [{ "action": "CreateAccessPoint", "count": 2, "code": "ThrottlingException", "status": 429 }]
        }),
    );
    let point = efs
        .create_access_point(&access_point_request(&fs.file_system_id, "throttled"))
        .await
        .unwrap();
    assert!(point.access_point_id.starts_with("fsap-"));
    assert_eq!(
        counter(running, "CreateAccessPoint"),
        3,
        "two throttled tries, then the one that worked"
    );
    assert_eq!(
        efs.describe_access_points(Some(&fs.file_system_id), None)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn persistent_throttling_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig::fast(dir.path().join("sim")).with_test_instances();
    let running = cloudsim::start(config).await.unwrap();
    let mut config = efs_backend_config(&running.api_url, None, None);
    config.aws.max_attempts = 2;
    let efs = efs_from(&config, dir.path());
    set_faults(&running, serde_json::json!({ "throttle_share": 1.0 }));
    let err = efs.describe_file_systems(None, None).await.unwrap_err();
    assert_err!(err, BackendError::Unavailable(m) if m.starts_with("DescribeFileSystems: ThrottlingException:"));
    assert_eq!(
        counter(&running, "DescribeFileSystems"),
        2,
        "max_attempts = 2"
    );
    // Transient trouble is never "no such file system".
    let err = efs
        .describe_file_system("fs-00000000000000000")
        .await
        .unwrap_err();
    assert_err!(err, BackendError::Unavailable(_));
}

#[tokio::test]
async fn the_instance_network_comes_from_metadata_and_takes_a_mount_target() {
    let Sim { efs, running, dir } = &sim("i-c", |_| {}).await;
    let network = efs.instance_network().await.unwrap();

    // The subnet and VPC DescribeInstances reports for i-c.
    let described = ec2_at(&running.api_url)
        .await
        .describe_instances()
        .instance_ids("i-c")
        .send()
        .await
        .unwrap();
    let instance = &described.reservations()[0].instances()[0];
    assert_eq!(Some(network.subnet_id.as_str()), instance.subnet_id());
    assert_eq!(network.vpc_id.as_deref(), instance.vpc_id());
    assert_eq!(network.subnet_id, subnet("us-east-1b"));
    assert!(!network.security_groups.is_empty());

    // Kept: a machine's network does not change, so it is read once.
    cloudsim::admin::kill_instance(&running.sim, "i-c");
    assert_eq!(efs.instance_network().await.unwrap(), network);

    // Its subnet and groups take this machine's mount target.
    let fs = available_file_system(efs, "network").await;
    let target = efs
        .create_mount_target(
            &fs.file_system_id,
            &network.subnet_id,
            &network.security_groups,
        )
        .await
        .unwrap();
    assert_eq!(target.availability_zone, "us-east-1b");

    // A static identity has no metadata to read; a machine whose metadata
    // does not answer is unavailable, not a made-up network.
    let static_efs = efs_from(
        &efs_backend_config(&running.api_url, None, None),
        dir.path(),
    );
    let err = static_efs.instance_network().await.unwrap_err();
    assert_err!(err, BackendError::NotFound(m) if m.contains("static") && m.contains("EFS_SUBNETID"));
    let dead = running.instance("i-c").metadata_url;
    let dead_efs = efs_from(
        &efs_backend_config(&running.api_url, Some(&dead), None),
        dir.path(),
    );
    let err = dead_efs.instance_network().await.unwrap_err();
    assert_err!(err, BackendError::Unavailable(m) if m.contains("instance metadata mac"));
}

#[tokio::test]
async fn purge_directory_checks_its_path_and_the_mount_target_of_this_zone() {
    let Sim { efs, dir, .. } = &sim("i-a", |c| {
        c.delays.efs = std::time::Duration::from_millis(300);
    })
    .await;
    let fs = available_file_system(efs, "purge").await;
    let id = &fs.file_system_id;
    for bad in ["", "/", "relative", "/a/../b", "/a//b", "/a/"] {
        let err = efs.purge_directory(id, bad).await.unwrap_err();
        assert_err!(err, BackendError::InvalidArgument(m) if m.starts_with("purge-directory: path"));
    }
    // i-a is in us-east-1a: a mount target elsewhere does not help.
    let b = efs
        .create_mount_target(id, &subnet("us-east-1b"), &[])
        .await
        .unwrap();
    let err = efs.purge_directory(id, "/ballast/x").await.unwrap_err();
    assert_err!(err, BackendError::Conflict(m) if m.contains("no mount target in us-east-1a"));
    let a = efs
        .create_mount_target(id, &subnet("us-east-1a"), &[])
        .await
        .unwrap();
    let err = efs.purge_directory(id, "/ballast/x").await.unwrap_err();
    assert_err!(err, BackendError::Conflict(m) if m.contains(&a.mount_target_id) && m.contains("is creating"));
    for target in [&a, &b] {
        efs.wait_mount_target(
            &target.mount_target_id,
            WaitFor::Available,
            &policy(20, 100),
        )
        .await
        .unwrap();
    }
    let err = efs
        .purge_directory("fs-00000000000000000", "/ballast/x")
        .await
        .unwrap_err();
    assert_err!(err, BackendError::NotFound(_));

    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if nfs::kernel_has_nfs4(&filesystems) {
        eprintln!(
            "SKIPPED the rest of purge_directory_checks_its_path_and_the_mount_target_of_this_zone: \
             this kernel has an NFS client, and no NFS server answers at the simulated mount \
             target's address"
        );
        return;
    }
    let err = efs.purge_directory(id, "/ballast/x").await.unwrap_err();
    assert_err!(err, BackendError::Internal(m)
        if m.contains("kernel has no NFS client") && m.contains("nothing was deleted"));
    // Its temporary mount directory is gone again.
    let scratch = dir.path().join("scratch");
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[tokio::test]
async fn moto_agrees_on_the_basic_calls() {
    let Some(moto) = Moto::start_if_installed("moto_agrees_on_the_basic_calls") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let efs = efs_from(&efs_backend_config(&moto.url, None, None), dir.path());
    // A subnet of moto's default VPC, found through EC2.
    let subnets = ec2_at(&moto.url).await.describe_subnets().send().await;
    let subnets = subnets.unwrap();
    let subnet = &subnets.subnets()[0];
    let (subnet_id, zone) = (
        subnet.subnet_id().unwrap().to_string(),
        subnet.availability_zone().unwrap().to_string(),
    );

    let fs = efs
        .create_file_system(&CreateFileSystemRequest {
            encrypted: true,
            ..file_system_request("moto")
        })
        .await
        .unwrap();
    assert!(fs.encrypted);
    // moto's FileSystemAlreadyExists carries no id: found by the token.
    let again = efs
        .create_file_system(&file_system_request("moto"))
        .await
        .unwrap();
    assert_eq!(again.file_system_id, fs.file_system_id);
    let id = &fs.file_system_id;
    let ready = efs
        .wait_file_system(id, WaitFor::Available, &policy(10, 50))
        .await
        .unwrap();
    assert_eq!(ready.name.as_deref(), Some("moto"));

    let target = efs.create_mount_target(id, &subnet_id, &[]).await.unwrap();
    assert_eq!(target.availability_zone, zone);
    assert!(!target.ip_address.is_empty());
    let targets = efs.describe_mount_targets(id).await.unwrap();
    assert_eq!(targets.len(), 1);
    let err = efs.delete_file_system(id).await.unwrap_err();
    assert_err!(err, BackendError::Conflict(m) if m.starts_with("DeleteFileSystem: FileSystemInUse:"));

    let point = efs
        .create_access_point(&access_point_request(id, "moto"))
        .await
        .unwrap();
    let points = efs.describe_access_points(Some(id), None).await.unwrap();
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].root_directory.path, "/ballast/moto");
    efs.tag_resource(&point.access_point_id, &[("k".into(), "v".into())])
        .await
        .unwrap();
    efs.untag_resource(&point.access_point_id, &["k".into()])
        .await
        .unwrap();
    efs.delete_access_point(&point.access_point_id)
        .await
        .unwrap();

    efs.delete_mount_target(&target.mount_target_id)
        .await
        .unwrap();
    efs.delete_file_system(id).await.unwrap();
    let gone = efs
        .wait_file_system(id, WaitFor::Deleted, &policy(10, 50))
        .await
        .unwrap();
    assert_eq!(gone.life_cycle_state, LifeCycleState::Deleted);
    let err = efs.describe_file_systems(Some(id), None).await.unwrap_err();
    assert_err!(err, BackendError::NotFound(_));
}
