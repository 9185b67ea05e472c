//! Shared by cloudsim's tests: a simulator in a temp dir, real SDK clients
//! pointed at it, and the admin API (moto is `cloudsim::moto`).
#![allow(dead_code)] // each test file uses a different part

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use cloudsim::faults::FaultPlan;
use cloudsim::{Provider, Running, SimConfig};

pub const ACCESS_KEY: &str = "AKIDSIMULATED0000001";
pub const SECRET_KEY: &str = "simulated-secret-key";

/// A fast simulator (no delays) with two AWS instances in us-east-1a
/// (`i-a` Nitro, `i-b` Xen) and one in us-east-1b (`i-c`), plus GCE
/// instances `gce-a` (us-central1-a) and `gce-b` (us-central1-b).
/// `adjust` may change the config first.
pub async fn sim(adjust: impl FnOnce(&mut SimConfig)) -> (tempfile::TempDir, Running) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SimConfig::fast(dir.path().to_owned())
        .with_test_instances()
        .with_instance(Provider::Gce, "gce-a", "us-central1-a", "n2-standard-2")
        .with_instance(Provider::Gce, "gce-b", "us-central1-b", "n2-standard-2");
    adjust(&mut config);
    let running = cloudsim::start(config).await.unwrap();
    (dir, running)
}

/// True when the tests may loop-attach (root and /dev/loop-control); prints why not.
pub fn can_plug(test: &str) -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    let ok = root && std::path::Path::new("/dev/loop-control").exists();
    if !ok {
        eprintln!("SKIPPED {test}: needs root and /dev/loop-control");
    }
    ok
}

/// SDK configuration for `endpoint` with static keys, the way a host would
/// point the AWS SDK at a custom endpoint.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            ACCESS_KEY,
            SECRET_KEY,
            None,
            None,
            "cloudsim-tests",
        ))
        .load()
        .await
}

pub async fn ec2(endpoint: &str) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&sdk_config(endpoint).await)
}

pub async fn efs(endpoint: &str) -> aws_sdk_efs::Client {
    aws_sdk_efs::Client::new(&sdk_config(endpoint).await)
}

/// Set a fault plan through the admin API.
pub async fn set_faults(running: &Running, plan: serde_json::Value) {
    let _: FaultPlan = serde_json::from_value(plan.clone()).expect("a valid fault plan");
    let response = reqwest::Client::new()
        .post(format!("{}/_sim/faults", running.api_url))
        .json(&plan)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "setting faults: {}",
        response.status()
    );
}

/// Calls per "service:Action" so far, from the admin API.
pub async fn counters(running: &Running) -> std::collections::BTreeMap<String, u64> {
    reqwest::get(format!("{}/_sim/counters", running.api_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
