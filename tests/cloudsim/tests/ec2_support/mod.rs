//! Helpers shared by the EC2 tests: an SDK client without retries, the
//! SDK-visible error code and HTTP status of a failed call, polling.
#![allow(dead_code)] // each test file uses a different part

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification, Volume};

use crate::support;

/// An EC2 client for `endpoint` that never retries, so each call is one request.
pub async fn ec2_no_retry(endpoint: &str) -> aws_sdk_ec2::Client {
    let config = aws_sdk_ec2::config::Builder::from(&support::sdk_config(endpoint).await)
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_ec2::Client::from_conf(config)
}

/// The error code and HTTP status the SDK saw for a call that must fail.
pub fn failure<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, SdkError<E, aws_sdk_ec2::config::http::HttpResponse>>,
) -> (String, u16) {
    let err = result.expect_err("the call should have failed");
    let status = err
        .raw_response()
        .map(|r| r.status().as_u16())
        .unwrap_or_default();
    let code = err
        .code()
        .unwrap_or_else(|| panic!("no error code in {err:?}"))
        .to_string();
    (code, status)
}

/// Just the error code of a call that must fail.
pub fn code<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, SdkError<E, aws_sdk_ec2::config::http::HttpResponse>>,
) -> String {
    failure(result).0
}

/// Poll `check` until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    limit: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "condition not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

pub fn tag_spec(resource: ResourceType, tags: &[(&str, &str)]) -> TagSpecification {
    let mut spec = TagSpecification::builder().resource_type(resource);
    for (k, v) in tags {
        spec = spec.tags(tag(k, v));
    }
    spec.build()
}

/// A new gp3 volume of `size` GiB in `zone`; its id.
pub async fn volume(ec2: &aws_sdk_ec2::Client, zone: &str, size: i32) -> String {
    let out = ec2
        .create_volume()
        .availability_zone(zone)
        .size(size)
        .volume_type("gp3".into())
        .send()
        .await
        .expect("CreateVolume");
    out.volume_id().unwrap().to_string()
}

/// The volume as DescribeVolumes reports it.
pub async fn describe(ec2: &aws_sdk_ec2::Client, id: &str) -> Volume {
    let out = ec2
        .describe_volumes()
        .volume_ids(id)
        .send()
        .await
        .expect("DescribeVolumes");
    out.volumes()
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("{id} is not described"))
}

/// The volume's state name.
pub async fn state(ec2: &aws_sdk_ec2::Client, id: &str) -> String {
    describe(ec2, id)
        .await
        .state()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// The state of the volume's attachment to `instance` ("" when none).
pub async fn attachment_state(ec2: &aws_sdk_ec2::Client, id: &str, instance: &str) -> String {
    describe(ec2, id)
        .await
        .attachments()
        .iter()
        .find(|a| a.instance_id() == Some(instance))
        .and_then(|a| a.state())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// Power an instance off through the admin API.
pub async fn kill(running: &cloudsim::Running, instance: &str) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/_sim/instances/{instance}/kill",
            running.api_url
        ))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "killing {instance}: {}",
        response.status()
    );
}
