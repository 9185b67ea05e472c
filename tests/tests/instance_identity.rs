//! The `instance` capability's sources: static, and AWS IMDSv2 read through
//! the AWS SDK's IMDS client from a simulated instance's metadata server.

use ballast::capabilities::instance::Source;
use ballast::config::{InstanceConfig, InstanceSource};
use ballast::runtime::bindings::BackendError;
use cloudsim::{Provider, SimConfig};

/// A simulator with one AWS instance `id`, and an `aws-imds` source reading
/// that instance's metadata server.
async fn imds_source(dir: &std::path::Path, id: &str, zone: &str) -> (cloudsim::Running, Source) {
    let config = SimConfig::fast(dir.to_owned()).with_instance(Provider::Aws, id, zone, "m5.large");
    let sim = cloudsim::start(config).await.unwrap();
    let source = Source::new(&InstanceConfig {
        source: InstanceSource::AwsImds,
        metadata_endpoint: Some(sim.instance(id).metadata_url),
        ..Default::default()
    })
    .unwrap();
    (sim, source)
}

async fn kill(sim: &cloudsim::Running, id: &str) {
    let url = format!("{}/_sim/instances/{id}/kill", sim.api_url);
    let response = reqwest::Client::new().post(url).send().await.unwrap();
    assert!(response.status().is_success());
}

#[tokio::test]
async fn aws_imds_identity_is_read_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, source) = imds_source(dir.path(), "i-0ballast", "us-east-1b").await;

    let identity = source.identity().await.unwrap();
    assert_eq!(identity.provider, "aws");
    assert_eq!(identity.instance_id, "i-0ballast");
    assert_eq!(identity.zone.as_deref(), Some("us-east-1b"));
    assert_eq!(identity.region.as_deref(), Some("us-east-1"));
    assert_eq!(identity.instance_type.as_deref(), Some("m5.large"));

    // Once known, the identity no longer depends on the metadata service.
    kill(&sim, "i-0ballast").await;
    assert_eq!(source.identity().await.unwrap(), identity);
}

#[tokio::test]
async fn metadata_trouble_is_unavailable_not_a_made_up_identity() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, source) = imds_source(dir.path(), "i-dead", "us-east-1a").await;
    kill(&sim, "i-dead").await;
    let err = source.identity().await.unwrap_err();
    assert!(
        matches!(&err, BackendError::Unavailable(m) if m.contains("instance metadata")),
        "{err:?}"
    );
}

#[tokio::test]
async fn static_identity_comes_from_config_or_the_machine() {
    let configured = InstanceConfig {
        instance_id: Some("node-7".into()),
        zone: Some("rack-2".into()),
        ..Default::default()
    };
    let identity = Source::new(&configured).unwrap().identity().await.unwrap();
    assert_eq!(
        (identity.provider.as_str(), identity.instance_id.as_str()),
        ("local", "node-7")
    );
    assert_eq!(identity.zone.as_deref(), Some("rack-2"));
    let machine = Source::new(&InstanceConfig::default())
        .unwrap()
        .identity()
        .await
        .unwrap();
    assert!(!machine.instance_id.is_empty());
}

#[test]
fn a_bad_endpoint_is_refused_when_the_config_is_read() {
    let config = InstanceConfig {
        source: InstanceSource::AwsImds,
        metadata_endpoint: Some("not a url".into()),
        ..Default::default()
    };
    let err = Source::new(&config).err().expect("refused").to_string();
    assert!(
        err.contains("instance metadata endpoint \"not a url\""),
        "{err}"
    );
}

/// A simulator with one GCE instance `name`, and a `gce-metadata` source
/// reading that instance's metadata server.
async fn gce_source(dir: &std::path::Path, name: &str, zone: &str) -> (cloudsim::Running, Source) {
    let config =
        SimConfig::fast(dir.to_owned()).with_instance(Provider::Gce, name, zone, "n2-standard-2");
    let sim = cloudsim::start(config).await.unwrap();
    let source = Source::new(&InstanceConfig {
        source: InstanceSource::GceMetadata,
        metadata_endpoint: Some(sim.instance(name).metadata_url),
        ..Default::default()
    })
    .unwrap();
    (sim, source)
}

#[tokio::test]
async fn gce_metadata_identity_and_details_are_read_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, source) = gce_source(dir.path(), "node-1", "us-central1-a").await;

    let identity = source.identity().await.unwrap();
    assert_eq!(identity.provider, "gce");
    assert_eq!(
        identity.instance_id,
        cloudsim::metadata::numeric_id("node-1").to_string()
    );
    assert_eq!(identity.zone.as_deref(), Some("us-central1-a"));
    assert_eq!(identity.region.as_deref(), Some("us-central1"));
    assert_eq!(identity.instance_type.as_deref(), Some("n2-standard-2"));
    let details = source.details().await.unwrap();
    assert_eq!(details.name.as_deref(), Some("node-1"));
    assert_eq!(details.project.as_deref(), Some("ballast-sim"));

    kill(&sim, "node-1").await;
    assert_eq!(source.identity().await.unwrap(), identity);
    assert_eq!(source.details().await.unwrap(), details);
}

#[tokio::test]
async fn gce_metadata_trouble_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, source) = gce_source(dir.path(), "node-dead", "us-central1-b").await;
    kill(&sim, "node-dead").await;
    let err = source.details().await.unwrap_err();
    assert!(
        matches!(&err, BackendError::Unavailable(m) if m.contains("instance metadata")),
        "{err:?}"
    );
    // A static source has no details, and that is not an error.
    let details = Source::new(&InstanceConfig::default())
        .unwrap()
        .details()
        .await
        .unwrap();
    assert_eq!((details.name, details.project), (None, None));
}
