//! Fault injection on EFS through the admin API, seen by the real
//! aws-sdk-efs client: throttling (with retries off, and with the SDK's
//! standard retries), failing the next calls of an action, latency, a
//! mount target still `creating`, and the call counters.

mod efs_common;
mod support;

use std::time::{Duration, Instant};

use aws_sdk_efs::types::LifeCycleState;
use efs_common::*;
use serde_json::json;

#[tokio::test]
async fn throttled_create_access_point_reaches_a_caller_without_retries() {
    let (_dir, running) = support::sim(|_| {}).await;
    let efs = efs_no_retries(&running.api_url).await;
    let fs = available_file_system(&efs, "fs").await;

    support::set_faults(&running, json!({"throttle_share": 1.0})).await;
    let throttled = expect_error(
        efs.create_access_point()
            .client_token("t")
            .file_system_id(&fs)
            .send()
            .await,
        "ThrottlingException",
        429,
    );
    assert!(
        throttled.is_throttling_exception(),
        "the SDK's modeled throttling error"
    );
    // Other actions are throttled the same way (an unmodeled error there).
    expect_error(
        efs.describe_file_systems().send().await,
        "ThrottlingException",
        429,
    );

    let counters = support::counters(&running).await;
    assert_eq!(counters["efs:CreateAccessPoint"], 1);
    assert!(
        running.sim.world().efs.access_points.is_empty(),
        "a throttled call changes nothing"
    );
}

#[tokio::test]
async fn standard_retries_get_through_partial_throttling() {
    let (_dir, running) = support::sim(|_| {}).await;
    let efs = efs_with_retries(&running.api_url, 30).await;
    let fs = available_file_system(&efs, "fs").await;

    support::set_faults(&running, json!({"throttle_share": 0.6})).await;
    let mut attempts_seen = 0;
    for i in 0..5 {
        efs.create_access_point()
            .client_token(format!("t{i}"))
            .file_system_id(&fs)
            .send()
            .await
            .unwrap();
        attempts_seen = support::counters(&running).await["efs:CreateAccessPoint"];
    }
    support::set_faults(&running, json!({})).await;
    assert_eq!(
        running.sim.world().efs.access_points.len(),
        5,
        "each create made one access point"
    );
    assert!(attempts_seen >= 5, "{attempts_seen}");
    eprintln!(
        "5 access points took {attempts_seen} CreateAccessPoint attempts at a 60% throttle share"
    );
}

#[tokio::test]
async fn retries_absorb_a_known_number_of_throttles() {
    let (_dir, running) = support::sim(|_| {}).await;
    let efs = efs_with_retries(&running.api_url, 3).await;
    let fs = available_file_system(&efs, "fs").await;

    let throttle_twice = json!({"fail_next": [{"action": "CreateAccessPoint", "count": 2, "code": "ThrottlingException", "status": 429}]});
    support::set_faults(&running, throttle_twice.clone()).await;
    efs.create_access_point()
        .client_token("t")
        .file_system_id(&fs)
        .send()
        .await
        .unwrap();
    assert_eq!(
        support::counters(&running).await["efs:CreateAccessPoint"],
        3,
        "two throttled attempts, then success"
    );

    // Three throttles exhaust three attempts: the caller sees the throttling error.
    support::set_faults(&running, json!({"fail_next": [{"action": "CreateAccessPoint", "count": 3, "code": "ThrottlingException", "status": 429}]})).await;
    let throttled = expect_error(
        efs.create_access_point()
            .client_token("u")
            .file_system_id(&fs)
            .send()
            .await,
        "ThrottlingException",
        429,
    );
    assert!(throttled.is_throttling_exception());
    assert_eq!(
        support::counters(&running).await["efs:CreateAccessPoint"],
        6
    );
}

#[tokio::test]
async fn fail_next_create_mount_target() {
    let (_dir, running) = support::sim(|_| {}).await;
    let efs = efs_no_retries(&running.api_url).await;
    let fs = available_file_system(&efs, "fs").await;
    let create = || {
        efs.create_mount_target()
            .file_system_id(&fs)
            .subnet_id(subnet("us-east-1a"))
    };

    // The plan's default failure is EFS's InternalServerError, 500.
    support::set_faults(
        &running,
        json!({"fail_next": [{"action": "CreateMountTarget", "count": 1}]}),
    )
    .await;
    let failed = expect_error(create().send().await, "InternalServerError", 500);
    assert!(failed.is_internal_server_error());
    assert!(running.sim.world().efs.mount_targets.is_empty());

    // Any other code and status, as asked.
    support::set_faults(
        &running,
        json!({"fail_next": [{"action": "CreateMountTarget", "count": 1, "code": "NetworkInterfaceLimitExceeded", "status": 409}]}),
    )
    .await;
    let failed = expect_error(create().send().await, "NetworkInterfaceLimitExceeded", 409);
    assert!(failed.is_network_interface_limit_exceeded());

    // Other actions are untouched, and the fault is spent.
    efs.describe_mount_targets()
        .file_system_id(&fs)
        .send()
        .await
        .unwrap();
    let target = create().send().await.unwrap();
    assert_eq!(target.availability_zone_name(), Some("us-east-1a"));

    let counters = support::counters(&running).await;
    assert_eq!(counters["efs:CreateMountTarget"], 3);
    assert_eq!(counters["efs:DescribeMountTargets"], 1);
}

#[tokio::test]
async fn standard_retries_get_past_transient_server_errors() {
    let (_dir, running) = support::sim(|_| {}).await;
    let efs = efs_with_retries(&running.api_url, 3).await;
    let fs = available_file_system(&efs, "fs").await;

    support::set_faults(
        &running,
        json!({"fail_next": [{"action": "CreateMountTarget", "count": 2}]}),
    )
    .await;
    efs.create_mount_target()
        .file_system_id(&fs)
        .subnet_id(subnet("us-east-1a"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        support::counters(&running).await["efs:CreateMountTarget"],
        3
    );
    assert_eq!(running.sim.world().efs.mount_targets.len(), 1);
}

#[tokio::test]
async fn a_mount_target_still_creating_then_available() {
    let (_dir, running) = support::sim(|c| c.delays.efs = Duration::from_millis(500)).await;
    let efs = support::efs(&running.api_url).await;
    let fs = available_file_system(&efs, "fs").await;

    let started = Instant::now();
    let target = efs
        .create_mount_target()
        .file_system_id(&fs)
        .subnet_id(subnet("us-east-1a"))
        .send()
        .await
        .unwrap();
    let mut polls = 0;
    let mut states = Vec::new();
    loop {
        let state = mount_target_state(&efs, target.mount_target_id()).await;
        polls += 1;
        if states.last() != Some(&state) {
            states.push(state.clone());
        }
        if state == LifeCycleState::Available {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        states,
        [LifeCycleState::Creating, LifeCycleState::Available]
    );
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "{:?}",
        started.elapsed()
    );
    let counters = support::counters(&running).await;
    assert_eq!(counters["efs:DescribeMountTargets"], polls);
    assert_eq!(counters["efs:CreateMountTarget"], 1);
}

#[tokio::test]
async fn latency_is_added_to_every_call() {
    let (_dir, running) = support::sim(|_| {}).await;
    let efs = support::efs(&running.api_url).await;
    support::set_faults(&running, json!({"latency_ms": 200})).await;
    let started = Instant::now();
    efs.describe_file_systems().send().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn counters_count_every_efs_call() {
    let (_dir, running) = support::sim(|_| {}).await;
    let efs = support::efs(&running.api_url).await;

    let fs = file_system(&efs, "fs").await;
    let _ = efs.create_file_system().creation_token("fs").send().await; // FileSystemAlreadyExists: still a call
    let target = efs
        .create_mount_target()
        .file_system_id(&fs)
        .subnet_id(subnet("us-east-1a"))
        .send()
        .await
        .unwrap();
    efs.describe_mount_targets()
        .file_system_id(&fs)
        .send()
        .await
        .unwrap();
    let ap = efs
        .create_access_point()
        .file_system_id(&fs)
        .send()
        .await
        .unwrap()
        .access_point_id
        .unwrap();
    efs.describe_access_points()
        .file_system_id(&fs)
        .send()
        .await
        .unwrap();
    efs.tag_resource()
        .resource_id(&fs)
        .tags(tag("k", "v"))
        .send()
        .await
        .unwrap();
    efs.list_tags_for_resource()
        .resource_id(&fs)
        .send()
        .await
        .unwrap();
    efs.delete_access_point()
        .access_point_id(ap)
        .send()
        .await
        .unwrap();
    efs.delete_mount_target()
        .mount_target_id(target.mount_target_id())
        .send()
        .await
        .unwrap();
    efs.delete_file_system()
        .file_system_id(&fs)
        .send()
        .await
        .unwrap();
    let _ = efs.describe_file_systems().file_system_id(&fs).send().await; // FileSystemNotFound

    let counters: Vec<(String, u64)> = support::counters(&running)
        .await
        .into_iter()
        .filter(|(k, _)| k.starts_with("efs:"))
        .collect();
    let expected = [
        ("efs:CreateAccessPoint", 1),
        ("efs:CreateFileSystem", 2),
        ("efs:CreateMountTarget", 1),
        ("efs:DeleteAccessPoint", 1),
        ("efs:DeleteFileSystem", 1),
        ("efs:DeleteMountTarget", 1),
        ("efs:DescribeAccessPoints", 1),
        ("efs:DescribeFileSystems", 1),
        ("efs:DescribeMountTargets", 1),
        ("efs:ListTagsForResource", 1),
        ("efs:TagResource", 1),
    ];
    assert_eq!(counters, expected.map(|(k, v)| (k.to_string(), v)));
}
