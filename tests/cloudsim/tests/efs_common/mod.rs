//! Shared by the EFS tests: a simulator with its client, clients with
//! chosen retry behaviour, the SDK-visible code and status of an error,
//! and one helper per call the tests make again and again (create,
//! describe, delete; the state polls), so each test reads as its steps.
#![allow(dead_code)] // each test file uses a different part

use std::fmt::Debug;
use std::time::{Duration, Instant};

use aws_sdk_efs::Client;
use aws_sdk_efs::config::http::HttpResponse;
use aws_sdk_efs::config::retry::RetryConfig;
use aws_sdk_efs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_efs::operation::create_mount_target::builders::CreateMountTargetFluentBuilder;
use aws_sdk_efs::operation::create_mount_target::{
    CreateMountTargetError, CreateMountTargetOutput,
};
use aws_sdk_efs::operation::describe_access_points::{
    DescribeAccessPointsError, DescribeAccessPointsOutput,
};
use aws_sdk_efs::operation::describe_file_systems::{
    DescribeFileSystemsError, DescribeFileSystemsOutput,
};
use aws_sdk_efs::operation::describe_mount_targets::{
    DescribeMountTargetsError, DescribeMountTargetsOutput,
};
use aws_sdk_efs::types::{
    CreationInfo, FileSystemDescription, LifeCycleState, MountTargetDescription, PosixUser,
    RootDirectory, Tag,
};
use cloudsim::{Running, SimConfig};
use tempfile::TempDir;

use crate::support;

/// Ids of the right form that name nothing, for the not-found paths.
pub const MISSING_FS: &str = "fs-0123456789abcdef0";
pub const MISSING_MT: &str = "fsmt-0123456789abcdef0";
pub const MISSING_AP: &str = "fsap-0123456789abcdef0";

/// A simulator (`adjust` may change its config) and a client with the
/// SDK's default retries; keep the directory alive for the test's length.
pub async fn efs_sim_with(adjust: impl FnOnce(&mut SimConfig)) -> (TempDir, Running, Client) {
    let (dir, running) = support::sim(adjust).await;
    let efs = support::efs(&running.api_url).await;
    (dir, running, efs)
}

/// A fast simulator: EFS resources change state at once.
pub async fn efs_sim() -> (TempDir, Running, Client) {
    efs_sim_with(|_| {}).await
}

/// EFS resources stay `creating` / `deleting` for `delay`, so the tests
/// can see those states.
pub async fn slow_efs_sim(delay: Duration) -> (TempDir, Running, Client) {
    efs_sim_with(|c| c.delays.efs = delay).await
}

/// A client that never retries: every fault reaches the caller.
pub async fn efs_no_retries(endpoint: &str) -> Client {
    let config = support::sdk_config(endpoint).await;
    Client::from_conf(
        aws_sdk_efs::config::Builder::from(&config)
            .retry_config(RetryConfig::disabled())
            .build(),
    )
}

/// A client with the SDK's standard retries, `attempts` in all, backing
/// off from 5 ms so the tests stay quick.
pub async fn efs_with_retries(endpoint: &str, attempts: u32) -> Client {
    let config = support::sdk_config(endpoint).await;
    let retry = RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(50));
    Client::from_conf(
        aws_sdk_efs::config::Builder::from(&config)
            .retry_config(retry)
            .build(),
    )
}

/// The error code the SDK read and the HTTP status, of a failed call.
pub fn code_and_status<E: ProvideErrorMetadata + Debug>(
    error: &SdkError<E, HttpResponse>,
) -> (String, u16) {
    let status = error
        .raw_response()
        .map(|r| r.status().as_u16())
        .unwrap_or_default();
    let code = error
        .as_service_error()
        .and_then(|e| e.code())
        .unwrap_or_default()
        .to_string();
    (code, status)
}

/// Assert a call failed with `code` and `status`; return the service error.
#[track_caller]
pub fn expect_error<T: Debug, E: ProvideErrorMetadata + Debug>(
    result: Result<T, SdkError<E, HttpResponse>>,
    code: &str,
    status: u16,
) -> E {
    let error = result.expect_err(&format!("expected {code}"));
    assert_eq!(
        code_and_status(&error),
        (code.to_string(), status),
        "{error:?}"
    );
    match error {
        SdkError::ServiceError(service) => service.into_err(),
        other => panic!("expected a service error, got {other:?}"),
    }
}

/// Assert a call failed with `code` and 404, and that the SDK read it as
/// that modeled error (`is` is the error's `is_…_not_found`).
#[track_caller]
pub fn expect_not_found<T: Debug, E: ProvideErrorMetadata + Debug>(
    result: Result<T, SdkError<E, HttpResponse>>,
    code: &str,
    is: impl FnOnce(&E) -> bool,
) {
    let error = expect_error(result, code, 404);
    assert!(is(&error), "{error:?}");
}

pub fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().unwrap()
}

/// A POSIX user whose uid and gid are both `id`.
pub fn posix_user_of(id: i64, secondary_gids: &[i64]) -> PosixUser {
    PosixUser::builder()
        .uid(id)
        .gid(id)
        .set_secondary_gids(Some(secondary_gids.to_vec()))
        .build()
        .unwrap()
}

/// A root directory at `path`, made (if missing) for `owner` (uid and gid)
/// with `permissions`.
pub fn root_directory_of(path: &str, owner: i64, permissions: &str) -> RootDirectory {
    let creation_info = CreationInfo::builder()
        .owner_uid(owner)
        .owner_gid(owner)
        .permissions(permissions)
        .build()
        .unwrap();
    RootDirectory::builder()
        .path(path)
        .creation_info(creation_info)
        .build()
}

pub fn subnet(zone: &str) -> String {
    cloudsim::ids::subnet_for_zone(zone)
}

/// Create a file system with `token`; its id.
pub async fn file_system(client: &Client, token: &str) -> String {
    client
        .create_file_system()
        .creation_token(token)
        .send()
        .await
        .unwrap()
        .file_system_id
}

/// Create a file system and wait until it is available; its id.
pub async fn available_file_system(client: &Client, token: &str) -> String {
    let id = file_system(client, token).await;
    wait_for_file_system(client, &id, LifeCycleState::Available).await;
    id
}

/// DescribeFileSystems of one file system, by id or ARN.
pub async fn describe_file_system(
    client: &Client,
    id: &str,
) -> Result<DescribeFileSystemsOutput, SdkError<DescribeFileSystemsError, HttpResponse>> {
    client
        .describe_file_systems()
        .file_system_id(id)
        .send()
        .await
}

/// The file systems made with creation token `token` (none or one).
pub async fn file_systems_with_token(client: &Client, token: &str) -> Vec<FileSystemDescription> {
    let out = client
        .describe_file_systems()
        .creation_token(token)
        .send()
        .await
        .unwrap();
    out.file_systems().to_vec()
}

/// The first page of all file systems.
pub async fn all_file_systems(client: &Client) -> Vec<FileSystemDescription> {
    let out = client.describe_file_systems().send().await.unwrap();
    out.file_systems().to_vec()
}

pub async fn file_system_state(client: &Client, id: &str) -> LifeCycleState {
    let out = describe_file_system(client, id).await.unwrap();
    out.file_systems()[0].life_cycle_state.clone()
}

pub async fn wait_for_file_system(client: &Client, id: &str, state: LifeCycleState) {
    let never = format!("file system {id} never became {state:?}");
    poll_until(Duration::from_secs(10), &never, async || {
        file_system_state(client, id).await == state
    })
    .await;
}

/// Ask `done` every 20 ms until it answers true; fail with `never` once
/// `limit` has passed (the simulator's transitions run on timers, so the
/// tests poll as a real caller would).
pub async fn poll_until(limit: Duration, never: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "{never}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The tags of a file system or access point (first page).
pub async fn tags_of(client: &Client, resource: &str) -> Vec<Tag> {
    let out = client
        .list_tags_for_resource()
        .resource_id(resource)
        .send()
        .await
        .unwrap();
    out.tags().to_vec()
}

pub async fn delete_file_system(client: &Client, id: &str) {
    client
        .delete_file_system()
        .file_system_id(id)
        .send()
        .await
        .unwrap();
}

/// A CreateMountTarget call for `fs` in `zone`'s subnet, for the caller
/// to add to and send.
pub fn create_mount_target(
    client: &Client,
    fs: &str,
    zone: &str,
) -> CreateMountTargetFluentBuilder {
    client
        .create_mount_target()
        .file_system_id(fs)
        .subnet_id(subnet(zone))
}

/// Try to create a mount target for `fs` in `zone`'s subnet.
pub async fn try_mount_target(
    client: &Client,
    fs: &str,
    zone: &str,
) -> Result<CreateMountTargetOutput, SdkError<CreateMountTargetError, HttpResponse>> {
    create_mount_target(client, fs, zone).send().await
}

/// Create a mount target for `fs` in `zone`'s subnet.
pub async fn mount_target(client: &Client, fs: &str, zone: &str) -> CreateMountTargetOutput {
    try_mount_target(client, fs, zone).await.unwrap()
}

pub async fn describe_mount_target(
    client: &Client,
    id: &str,
) -> Result<DescribeMountTargetsOutput, SdkError<DescribeMountTargetsError, HttpResponse>> {
    client
        .describe_mount_targets()
        .mount_target_id(id)
        .send()
        .await
}

/// The mount targets of file system `fs`, in creation order.
pub async fn mount_targets_of(client: &Client, fs: &str) -> Vec<MountTargetDescription> {
    client
        .describe_mount_targets()
        .file_system_id(fs)
        .send()
        .await
        .unwrap()
        .mount_targets()
        .to_vec()
}

pub async fn delete_mount_target(client: &Client, id: &str) {
    client
        .delete_mount_target()
        .mount_target_id(id)
        .send()
        .await
        .unwrap();
}

/// Create an access point on `fs` with nothing but the SDK's defaults; its id.
pub async fn access_point(client: &Client, fs: &str) -> String {
    client
        .create_access_point()
        .file_system_id(fs)
        .send()
        .await
        .unwrap()
        .access_point_id
        .unwrap()
}

pub async fn describe_access_point(
    client: &Client,
    id: &str,
) -> Result<DescribeAccessPointsOutput, SdkError<DescribeAccessPointsError, HttpResponse>> {
    client
        .describe_access_points()
        .access_point_id(id)
        .send()
        .await
}

/// The first page of the access points of file system `fs`.
pub async fn access_points_of(client: &Client, fs: &str) -> DescribeAccessPointsOutput {
    client
        .describe_access_points()
        .file_system_id(fs)
        .send()
        .await
        .unwrap()
}

pub async fn access_point_state(client: &Client, id: &str) -> LifeCycleState {
    let out = describe_access_point(client, id).await.unwrap();
    out.access_points()[0].life_cycle_state().cloned().unwrap()
}

pub async fn delete_access_point(client: &Client, id: &str) {
    client
        .delete_access_point()
        .access_point_id(id)
        .send()
        .await
        .unwrap();
}

pub async fn mount_target_state(client: &Client, id: &str) -> LifeCycleState {
    let out = describe_mount_target(client, id).await.unwrap();
    out.mount_targets()[0].life_cycle_state.clone()
}
