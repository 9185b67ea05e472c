//! Who may call EC2, through the real aws-sdk-ec2 client: DryRun on every
//! mutating call answers DryRunOperation or UnauthorizedOperation by the
//! configured policy and changes nothing; real calls to disallowed actions
//! are refused; SigV4 is required and, when configured, verified (right
//! keys, wrong secret, wrong key, session tokens, tampered bodies, stale
//! dates).

mod ec2_support;
mod support;

use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_ec2::config::http::HttpRequest;
use aws_sdk_ec2::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_ec2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ec2::error::BoxError;
use ec2_support::{attach, failure, snapshot, volume};

/// Every mutating call with DryRun, each answering `expected` (code, status).
async fn dry_run_everything(
    ec2: &aws_sdk_ec2::Client,
    vol: &str,
    snap: &str,
    expected: (&str, u16),
) {
    for (action, (code, status)) in dry_runs(ec2, vol, snap).await {
        assert_eq!((code.as_str(), status), expected, "DryRun {action}");
    }
}

/// Every mutating call with DryRun: the action and its (code, status).
async fn dry_runs(
    ec2: &aws_sdk_ec2::Client,
    vol: &str,
    snap: &str,
) -> [(&'static str, (String, u16)); 9] {
    let t = ec2_support::tag("k", "v");
    [
        (
            "CreateVolume",
            failure(
                ec2.create_volume()
                    .dry_run(true)
                    .availability_zone("us-east-1a")
                    .size(1)
                    .send()
                    .await,
            ),
        ),
        (
            "AttachVolume",
            failure(
                ec2.attach_volume()
                    .dry_run(true)
                    .volume_id(vol)
                    .instance_id("i-a")
                    .device("/dev/sdf")
                    .send()
                    .await,
            ),
        ),
        (
            "DetachVolume",
            failure(
                ec2.detach_volume()
                    .dry_run(true)
                    .volume_id(vol)
                    .send()
                    .await,
            ),
        ),
        (
            "DeleteVolume",
            failure(
                ec2.delete_volume()
                    .dry_run(true)
                    .volume_id(vol)
                    .send()
                    .await,
            ),
        ),
        (
            "CreateTags",
            failure(
                ec2.create_tags()
                    .dry_run(true)
                    .resources(vol)
                    .tags(t.clone())
                    .send()
                    .await,
            ),
        ),
        (
            "DeleteTags",
            failure(
                ec2.delete_tags()
                    .dry_run(true)
                    .resources(vol)
                    .tags(t)
                    .send()
                    .await,
            ),
        ),
        (
            "CreateSnapshot",
            failure(
                ec2.create_snapshot()
                    .dry_run(true)
                    .volume_id(vol)
                    .send()
                    .await,
            ),
        ),
        (
            "DeleteSnapshot",
            failure(
                ec2.delete_snapshot()
                    .dry_run(true)
                    .snapshot_id(snap)
                    .send()
                    .await,
            ),
        ),
        (
            "ModifyVolume",
            failure(
                ec2.modify_volume()
                    .dry_run(true)
                    .volume_id(vol)
                    .size(2)
                    .send()
                    .await,
            ),
        ),
    ]
}

#[tokio::test]
async fn dry_run_answers_by_policy_and_changes_nothing() {
    // No policy: everything is allowed.
    let (_dir, running) = support::sim(|_| {}).await;
    let ec2 = support::ec2(&running.api_url).await;
    let vol = volume(&ec2, "us-east-1a", 1).await;
    let snap = snapshot(&ec2, &vol).await;
    dry_run_everything(&ec2, &vol, &snap, ("DryRunOperation", 412)).await;
    let (code, status) = failure(ec2.describe_volumes().dry_run(true).send().await);
    assert_eq!(
        (code.as_str(), status),
        ("DryRunOperation", 412),
        "describes honour DryRun too"
    );

    let volumes = ec2.describe_volumes().send().await.unwrap();
    assert_eq!(volumes.volumes().len(), 1, "no volume created");
    let v = &volumes.volumes()[0];
    assert!(
        v.attachments().is_empty() && v.tags().is_empty() && v.size() == Some(1),
        "volume unchanged: {v:?}"
    );
    assert_eq!(
        ec2.describe_snapshots()
            .send()
            .await
            .unwrap()
            .snapshots()
            .len(),
        1,
        "snapshot kept, none added"
    );
}

#[tokio::test]
async fn a_policy_refuses_what_it_does_not_allow() {
    let (_dir, running) = support::sim(|c| {
        c.allowed_actions = Some(
            [
                "CreateVolume",
                "ec2:DescribeVolumes",
                "AttachVolume",
                "CreateSnapshot",
            ]
            .map(String::from)
            .to_vec(),
        );
    })
    .await;
    let ec2 = support::ec2(&running.api_url).await;
    let vol = volume(&ec2, "us-east-1a", 1).await;
    let snap = snapshot(&ec2, &vol).await;

    // Dry runs answer by the policy: DryRunOperation for what it allows.
    let allowed = ["CreateVolume", "AttachVolume", "CreateSnapshot"];
    for (action, (code, status)) in dry_runs(&ec2, &vol, &snap).await {
        let expected = if allowed.contains(&action) {
            ("DryRunOperation", 412)
        } else {
            ("UnauthorizedOperation", 403)
        };
        assert_eq!((code.as_str(), status), expected, "DryRun {action}");
    }

    // Real calls: refused the same way, and nothing happens.
    let (code, status) = failure(ec2.delete_volume().volume_id(&vol).send().await);
    assert_eq!((code.as_str(), status), ("UnauthorizedOperation", 403));
    let (code, _) = failure(ec2.describe_instances().send().await);
    assert_eq!(
        code, "UnauthorizedOperation",
        "describes need permission as well"
    );
    assert_eq!(
        ec2.describe_volumes()
            .volume_ids(&vol)
            .send()
            .await
            .unwrap()
            .volumes()
            .len(),
        1,
        "still there"
    );
    // Allowed by the policy.
    attach(&ec2, &vol, "i-a", "/dev/sdf").await;
}

/// A client signing with `credentials`, without retries.
async fn client_with(endpoint: &str, credentials: Credentials) -> aws_sdk_ec2::Client {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials);
    let config = aws_sdk_ec2::config::Builder::from(&loader.load().await)
        .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_ec2::Client::from_conf(config)
}

fn creds(key: &str, secret: &str, token: Option<&str>) -> Credentials {
    Credentials::new(
        key,
        secret,
        token.map(String::from),
        None,
        "ec2-policy-test",
    )
}

/// Alters a request after the SDK signed it, as `change` says.
#[derive(Debug)]
struct AfterSigning {
    name: &'static str,
    change: fn(&mut HttpRequest) -> Result<(), BoxError>,
}

impl Intercept for AfterSigning {
    fn name(&self) -> &'static str {
        self.name
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        (self.change)(context.request_mut())
    }
}

/// Removes the Authorization header.
const DROP_AUTHORIZATION: AfterSigning = AfterSigning {
    name: "DropAuthorization",
    change: drop_authorization,
};

fn drop_authorization(request: &mut HttpRequest) -> Result<(), BoxError> {
    request.headers_mut().remove("authorization");
    Ok(())
}

/// Changes one byte of the body (same length).
const TAMPER_BODY: AfterSigning = AfterSigning {
    name: "TamperBody",
    change: tamper_body,
};

fn tamper_body(request: &mut HttpRequest) -> Result<(), BoxError> {
    let body = request.body_mut();
    let text = String::from_utf8(body.bytes().expect("an in-memory body").to_vec())?;
    *body = aws_smithy_types::body::SdkBody::from(text.replace("us-east-1a", "us-east-1b"));
    Ok(())
}

/// A client with the test keys, without retries, whose requests `alter`
/// changes after signing.
async fn client_altered(url: &str, alter: AfterSigning) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&support::sdk_config(url).await)
            .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
            .interceptor(alter)
            .build(),
    )
}

#[tokio::test]
async fn sigv4_is_required_and_verified() {
    let (_dir, running) = support::sim(|c| {
        c.verify_keys = Some((support::ACCESS_KEY.into(), support::SECRET_KEY.into()));
    })
    .await;
    let url = running.api_url.as_str();

    let good = client_with(url, creds(support::ACCESS_KEY, support::SECRET_KEY, None)).await;
    good.describe_availability_zones()
        .send()
        .await
        .expect("correctly signed");
    let id = volume(&good, "us-east-1a", 1).await;
    good.describe_volumes()
        .volume_ids(&id)
        .send()
        .await
        .expect("correctly signed, with a body");

    let with_token = client_with(
        url,
        creds(
            support::ACCESS_KEY,
            support::SECRET_KEY,
            Some("session-token"),
        ),
    )
    .await;
    with_token
        .describe_volumes()
        .send()
        .await
        .expect("a session token is part of the signature");

    let wrong_secret = client_with(url, creds(support::ACCESS_KEY, "not-the-secret", None)).await;
    let (code, status) = failure(wrong_secret.describe_volumes().send().await);
    assert_eq!(
        (code.as_str(), status),
        ("AuthFailure", 401),
        "wrong secret"
    );

    let wrong_key = client_with(
        url,
        creds("AKIDSOMEONEELSE00000", support::SECRET_KEY, None),
    )
    .await;
    let (code, status) = failure(wrong_key.describe_volumes().send().await);
    assert_eq!(
        (code.as_str(), status),
        ("AuthFailure", 401),
        "wrong access key"
    );

    let unsigned = client_altered(url, DROP_AUTHORIZATION).await;
    let (code, status) = failure(unsigned.describe_volumes().send().await);
    assert_eq!((code.as_str(), status), ("MissingAuthenticationToken", 401));

    let tampered = client_altered(url, TAMPER_BODY).await;
    let (code, _) = failure(
        tampered
            .create_volume()
            .availability_zone("us-east-1a")
            .size(1)
            .send()
            .await,
    );
    assert_eq!(code, "AuthFailure", "the body is signed");

    let stale = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&support::sdk_config(url).await)
            .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
            .time_source(aws_smithy_async::time::StaticTimeSource::new(
                SystemTime::now() - Duration::from_secs(3600),
            ))
            .build(),
    );
    let (code, status) = failure(stale.describe_volumes().send().await);
    assert_eq!((code.as_str(), status), ("RequestExpired", 400));

    assert_eq!(
        good.describe_volumes()
            .send()
            .await
            .unwrap()
            .volumes()
            .len(),
        1,
        "refused calls changed nothing"
    );
}

#[tokio::test]
async fn without_verification_any_signed_request_passes() {
    let (_dir, running) = support::sim(|_| {}).await;
    let url = running.api_url.as_str();
    let other = client_with(url, creds("AKIDANYONE0000000000", "any-secret", None)).await;
    other
        .describe_volumes()
        .send()
        .await
        .expect("signature not verified");
    let unsigned = client_altered(url, DROP_AUTHORIZATION).await;
    let (code, _) = failure(unsigned.describe_volumes().send().await);
    assert_eq!(
        code, "MissingAuthenticationToken",
        "a SigV4 header is always required"
    );
}
