//! What a simulated cloud is made of: region, zones, instances, delays,
//! policy. Built from the command line or by tests.

use std::path::PathBuf;

use crate::delays::Delays;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Aws,
    Gce,
}

/// One simulated machine.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct InstanceSpec {
    /// `i-…` for AWS (generated when empty), the instance name for GCE.
    pub id: String,
    pub provider: Provider,
    /// e.g. "us-east-1a" or "us-central1-a".
    pub zone: String,
    /// e.g. "m5.large" (Nitro: NVMe names) or "t2.micro" (Xen: xvd names); "n2-standard-2" on GCE.
    pub instance_type: String,
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where the API listens; port 0 picks one.
    pub listen: std::net::SocketAddr,
    pub region: String,
    pub zones: Vec<String>,
    pub instances: Vec<InstanceSpec>,
    pub delays: Delays,
    /// Volume backing files, snapshots, and each instance's device directory.
    pub data_dir: PathBuf,
    /// Actions a caller may perform (for DryRun and real calls); `None`: all.
    pub allowed_actions: Option<Vec<String>>,
    /// When set, SigV4 signatures are verified against these keys.
    pub verify_keys: Option<(String, String)>,
    /// GCE project id.
    pub gce_project: String,
    /// Really loop-attach volumes (needs root); off, attachments are only recorded.
    pub hypervisor: bool,
    /// Service accounts the OAuth2 token endpoint (`POST /token`) knows:
    /// client email and RSA public key (PEM) checking their JWTs.
    pub service_accounts: Vec<(String, String)>,
    /// `expires_in` of the access tokens `POST /token` issues.
    pub oauth_token_secs: u64,
}

impl SimConfig {
    /// A fast simulator in `data_dir`: one region, three zones, no delays.
    pub fn fast(data_dir: PathBuf) -> SimConfig {
        SimConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            region: "us-east-1".into(),
            zones: vec![
                "us-east-1a".into(),
                "us-east-1b".into(),
                "us-east-1c".into(),
            ],
            instances: Vec::new(),
            delays: Delays::zero(),
            data_dir,
            allowed_actions: None,
            verify_keys: None,
            gce_project: "ballast-sim".into(),
            hypervisor: false,
            service_accounts: Vec::new(),
            oauth_token_secs: 3600,
        }
    }

    pub fn with_instance(
        mut self,
        provider: Provider,
        id: &str,
        zone: &str,
        instance_type: &str,
    ) -> SimConfig {
        self.instances.push(InstanceSpec {
            id: id.into(),
            provider,
            zone: zone.into(),
            instance_type: instance_type.into(),
        });
        self
    }

    /// The AWS instances the tests share: `i-a` (m5.large, Nitro) and
    /// `i-b` (t2.micro, Xen) in us-east-1a, `i-c` (m5.large) in us-east-1b.
    pub fn with_test_instances(self) -> SimConfig {
        self.with_instance(Provider::Aws, "i-a", "us-east-1a", "m5.large")
            .with_instance(Provider::Aws, "i-b", "us-east-1a", "t2.micro")
            .with_instance(Provider::Aws, "i-c", "us-east-1b", "m5.large")
    }
}
