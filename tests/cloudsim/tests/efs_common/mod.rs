//! Shared by the EFS tests: clients with chosen retry behaviour, the
//! SDK-visible code and status of an error, small set-up steps.
#![allow(dead_code)] // each test file uses a different part

use std::fmt::Debug;
use std::time::{Duration, Instant};

use aws_sdk_efs::Client;
use aws_sdk_efs::config::http::HttpResponse;
use aws_sdk_efs::config::retry::RetryConfig;
use aws_sdk_efs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_efs::types::{LifeCycleState, Tag};

use crate::support;

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

pub fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().unwrap()
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

pub async fn file_system_state(client: &Client, id: &str) -> LifeCycleState {
    let out = client
        .describe_file_systems()
        .file_system_id(id)
        .send()
        .await
        .unwrap();
    out.file_systems()[0].life_cycle_state.clone()
}

pub async fn wait_for_file_system(client: &Client, id: &str, state: LifeCycleState) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while file_system_state(client, id).await != state {
        assert!(
            Instant::now() < deadline,
            "file system {id} never became {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn mount_target_state(client: &Client, id: &str) -> LifeCycleState {
    let out = client
        .describe_mount_targets()
        .mount_target_id(id)
        .send()
        .await
        .unwrap();
    out.mount_targets()[0].life_cycle_state.clone()
}
