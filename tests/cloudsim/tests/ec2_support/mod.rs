//! Helpers shared by the EC2 tests: an SDK client without retries, the
//! SDK-visible error code and HTTP status of a failed call, polling, and
//! the requests many tests repeat (create, attach, detach, snapshot,
//! describe), so that each test shows only what it checks.
#![allow(dead_code)] // each test file uses a different part

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::operation::attach_volume::AttachVolumeOutput;
use aws_sdk_ec2::operation::attach_volume::builders::AttachVolumeFluentBuilder;
use aws_sdk_ec2::operation::create_volume::CreateVolumeOutput;
use aws_sdk_ec2::operation::create_volume::builders::CreateVolumeFluentBuilder;
use aws_sdk_ec2::operation::detach_volume::builders::DetachVolumeFluentBuilder;
use aws_sdk_ec2::types::{Instance, ResourceType, Tag, TagSpecification, Volume, VolumeType};

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

/// A new io2 volume in us-east-1a, Multi-Attach if `multi_attach` (only
/// io1 and io2 allow it).
pub async fn io2(
    ec2: &aws_sdk_ec2::Client,
    size: i32,
    iops: i32,
    multi_attach: bool,
) -> CreateVolumeOutput {
    ec2.create_volume()
        .availability_zone("us-east-1a")
        .size(size)
        .volume_type(VolumeType::Io2)
        .iops(iops)
        .multi_attach_enabled(multi_attach)
        .send()
        .await
        .expect("CreateVolume io2")
}

/// A snapshot of `volume`; its id.
pub async fn snapshot(ec2: &aws_sdk_ec2::Client, volume: &str) -> String {
    let out = ec2
        .create_snapshot()
        .volume_id(volume)
        .send()
        .await
        .expect("CreateSnapshot");
    out.snapshot_id().unwrap().to_string()
}

/// CreateVolume from `snapshot` in `zone`, unsent: the tests add a size,
/// send it, and look at the answer or at the error.
pub fn restore(ec2: &aws_sdk_ec2::Client, zone: &str, snapshot: &str) -> CreateVolumeFluentBuilder {
    ec2.create_volume()
        .availability_zone(zone)
        .snapshot_id(snapshot)
}

/// AttachVolume of `volume` to `instance` at `device`, unsent: the tests
/// send it to look at the answer or at the error.
pub fn attach_request(
    ec2: &aws_sdk_ec2::Client,
    volume: &str,
    instance: &str,
    device: &str,
) -> AttachVolumeFluentBuilder {
    ec2.attach_volume()
        .volume_id(volume)
        .instance_id(instance)
        .device(device)
}

/// Attach `volume` to `instance` at `device`; the call must succeed.
pub async fn attach(
    ec2: &aws_sdk_ec2::Client,
    volume: &str,
    instance: &str,
    device: &str,
) -> AttachVolumeOutput {
    attach_request(ec2, volume, instance, device)
        .send()
        .await
        .unwrap_or_else(|e| panic!("AttachVolume {volume} to {instance}: {e:?}"))
}

/// The error code of an attach that must fail.
pub async fn attach_code(
    ec2: &aws_sdk_ec2::Client,
    volume: &str,
    instance: &str,
    device: &str,
) -> String {
    code(attach_request(ec2, volume, instance, device).send().await)
}

/// DetachVolume of `volume`, unsent: the tests name the instance or the
/// device, or force it, as they need.
pub fn detach_request(ec2: &aws_sdk_ec2::Client, volume: &str) -> DetachVolumeFluentBuilder {
    ec2.detach_volume().volume_id(volume)
}

/// The error code of a plain DetachVolume (no instance, device or force)
/// that must fail.
pub async fn detach_code(ec2: &aws_sdk_ec2::Client, volume: &str) -> String {
    code(detach_request(ec2, volume).send().await)
}

/// The error code of a DeleteVolume that must fail.
pub async fn delete_code(ec2: &aws_sdk_ec2::Client, volume: &str) -> String {
    code(ec2.delete_volume().volume_id(volume).send().await)
}

/// The instance as DescribeInstances reports it.
pub async fn describe_instance(ec2: &aws_sdk_ec2::Client, id: &str) -> Instance {
    let out = ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .expect("DescribeInstances");
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .next()
        .cloned()
        .unwrap_or_else(|| panic!("{id} is not described"))
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

/// How long the tests wait for a delayed transition.
pub const SETTLE: Duration = Duration::from_secs(10);

/// Wait until the volume's state is `wanted`.
pub async fn wait_state(ec2: &aws_sdk_ec2::Client, id: &str, wanted: &str) {
    eventually(SETTLE, || async {
        (state(ec2, id).await == wanted).then_some(())
    })
    .await;
}

/// Wait until the volume's attachment to `instance` is `wanted`.
pub async fn wait_attachment(ec2: &aws_sdk_ec2::Client, id: &str, instance: &str, wanted: &str) {
    eventually(SETTLE, || async {
        (attachment_state(ec2, id, instance).await == wanted).then_some(())
    })
    .await;
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
