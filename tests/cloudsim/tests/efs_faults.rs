//! Fault injection on EFS through the admin API, seen by the real
//! aws-sdk-efs client: throttling (with retries off, and with the SDK's
//! standard retries), failing the next calls of an action, latency, a
//! mount target still `creating`, and the call counters.

mod efs_common;
mod support;

use std::time::{Duration, Instant};

use aws_sdk_efs::Client;
use aws_sdk_efs::config::http::HttpResponse;
use aws_sdk_efs::error::SdkError;
use aws_sdk_efs::operation::create_access_point::{
    CreateAccessPointError, CreateAccessPointOutput,
};
use aws_sdk_efs::types::LifeCycleState;
use cloudsim::Running;
use efs_common::*;
use serde_json::json;

/// CreateAccessPoint with a chosen client token, so each call in a test is
/// a new access point while the SDK's retries of one call share it.
async fn create_access_point(
    efs: &Client,
    fs: &str,
    token: impl Into<String>,
) -> Result<CreateAccessPointOutput, SdkError<CreateAccessPointError, HttpResponse>> {
    efs.create_access_point()
        .client_token(token)
        .file_system_id(fs)
        .send()
        .await
}

/// A fault plan that fails the next `count` calls of `action` with
/// `code` and `status`.
fn fail_next(action: &str, count: u32, code: &str, status: u16) -> serde_json::Value {
    json!({"fail_next": [{"action": action, "count": count, "code": code, "status": status}]})
}

/// How many `action` calls the simulator has counted.
async fn calls(running: &Running, action: &str) -> u64 {
    support::counters(running).await[&format!("efs:{action}")]
}

#[tokio::test]
async fn throttled_create_access_point_reaches_a_caller_without_retries() {
    let (_dir, running) = support::sim(|_| {}).await;
    let efs = efs_no_retries(&running.api_url).await;
    let fs = available_file_system(&efs, "fs").await;

    support::set_faults(&running, json!({"throttle_share": 1.0})).await;
    let throttled = expect_error(
        create_access_point(&efs, &fs, "t").await,
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
        create_access_point(&efs, &fs, format!("t{i}"))
            .await
            .unwrap();
        attempts_seen = calls(&running, "CreateAccessPoint").await;
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

    let throttle_twice = fail_next("CreateAccessPoint", 2, "ThrottlingException", 429);
    support::set_faults(&running, throttle_twice).await;
    create_access_point(&efs, &fs, "t").await.unwrap();
    assert_eq!(
        calls(&running, "CreateAccessPoint").await,
        3,
        "two throttled attempts, then success"
    );

    // Three throttles exhaust three attempts: the caller sees the throttling error.
    let throttle_thrice = fail_next("CreateAccessPoint", 3, "ThrottlingException", 429);
    support::set_faults(&running, throttle_thrice).await;
    let throttled = expect_error(
        create_access_point(&efs, &fs, "u").await,
        "ThrottlingException",
        429,
    );
    assert!(throttled.is_throttling_exception());
    assert_eq!(calls(&running, "CreateAccessPoint").await, 6);
}

#[tokio::test]
async fn fail_next_create_mount_target() {
    let (_dir, running) = support::sim(|_| {}).await;
    let efs = efs_no_retries(&running.api_url).await;
    let fs = available_file_system(&efs, "fs").await;

    // The plan's default failure is EFS's InternalServerError, 500.
    support::set_faults(
        &running,
        json!({"fail_next": [{"action": "CreateMountTarget", "count": 1}]}),
    )
    .await;
    let failed = expect_error(
        try_mount_target(&efs, &fs, "us-east-1a").await,
        "InternalServerError",
        500,
    );
    assert!(failed.is_internal_server_error());
    assert!(running.sim.world().efs.mount_targets.is_empty());

    // Any other code and status, as asked.
    let plan = fail_next("CreateMountTarget", 1, "NetworkInterfaceLimitExceeded", 409);
    support::set_faults(&running, plan).await;
    let failed = expect_error(
        try_mount_target(&efs, &fs, "us-east-1a").await,
        "NetworkInterfaceLimitExceeded",
        409,
    );
    assert!(failed.is_network_interface_limit_exceeded());

    // Other actions are untouched, and the fault is spent.
    mount_targets_of(&efs, &fs).await;
    let target = mount_target(&efs, &fs, "us-east-1a").await;
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
    mount_target(&efs, &fs, "us-east-1a").await;
    assert_eq!(calls(&running, "CreateMountTarget").await, 3);
    assert_eq!(running.sim.world().efs.mount_targets.len(), 1);
}

#[tokio::test]
async fn a_mount_target_still_creating_then_available() {
    let (_dir, running, efs) = slow_efs_sim(Duration::from_millis(500)).await;
    let fs = available_file_system(&efs, "fs").await;

    let started = Instant::now();
    let target = mount_target(&efs, &fs, "us-east-1a").await;
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
    let (_dir, running, efs) = efs_sim().await;
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
    let (_dir, running, efs) = efs_sim().await;

    let fs = file_system(&efs, "fs").await;
    let _ = efs.create_file_system().creation_token("fs").send().await; // FileSystemAlreadyExists: still a call
    let target = mount_target(&efs, &fs, "us-east-1a").await;
    mount_targets_of(&efs, &fs).await;
    let ap = access_point(&efs, &fs).await;
    access_points_of(&efs, &fs).await;
    efs.tag_resource()
        .resource_id(&fs)
        .tags(tag("k", "v"))
        .send()
        .await
        .unwrap();
    tags_of(&efs, &fs).await;
    delete_access_point(&efs, &ap).await;
    delete_mount_target(&efs, target.mount_target_id()).await;
    delete_file_system(&efs, &fs).await;
    let _ = describe_file_system(&efs, &fs).await; // FileSystemNotFound

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
