//! `instance`: who this machine is. Static (config, else the machine id)
//! or read once from AWS instance metadata (IMDSv2, through the AWS SDK's
//! IMDS client) and kept: a machine's identity does not change while the
//! host runs. Metadata trouble is `unavailable`, never a made-up identity.

use aws_config::imds;
use tokio::sync::OnceCell;

use super::{Capability, granted};
use crate::config::{InstanceConfig, InstanceSource};
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::instance::{Details, Host, Identity};
use crate::runtime::store::HostState;

/// Where identities come from, for one backend.
pub enum Source {
    Static(Identity),
    AwsImds {
        client: imds::Client,
        endpoint: String,
        known: OnceCell<Identity>,
    },
}

impl Source {
    pub fn new(config: &InstanceConfig) -> anyhow::Result<Source> {
        Ok(match config.source {
            InstanceSource::Static => Source::Static(static_identity(config)),
            InstanceSource::AwsImds => {
                let endpoint = config
                    .metadata_endpoint
                    .clone()
                    .unwrap_or_else(|| "http://169.254.169.254".into());
                let client = imds::Client::builder()
                    .endpoint(&endpoint)
                    .map_err(|e| anyhow::anyhow!("instance metadata endpoint {endpoint:?}: {e}"))?
                    .build();
                Source::AwsImds {
                    client,
                    endpoint,
                    known: OnceCell::new(),
                }
            }
        })
    }

    /// This machine's identity.
    pub async fn identity(&self) -> Result<Identity, BackendError> {
        match self {
            Source::Static(identity) => Ok(identity.clone()),
            Source::AwsImds {
                client,
                endpoint,
                known,
            } => known
                .get_or_try_init(|| aws_identity(client, endpoint))
                .await
                .cloned(),
        }
    }

    /// The AWS instance metadata value at `path` (under
    /// `/latest/meta-data/`, e.g. "mac"), read each time it is asked for;
    /// `None` when the identity is static.
    pub async fn aws_metadata(&self, path: &str) -> Option<Result<String, BackendError>> {
        match self {
            Source::Static(_) => None,
            Source::AwsImds {
                client, endpoint, ..
            } => Some(imds_get(client, endpoint, path).await),
        }
    }
}

async fn aws_identity(client: &imds::Client, endpoint: &str) -> Result<Identity, BackendError> {
    let get = |path| imds_get(client, endpoint, path);
    Ok(Identity {
        provider: "aws".into(),
        instance_id: get("instance-id").await?,
        region: Some(get("placement/region").await?),
        zone: Some(get("placement/availability-zone").await?),
        instance_type: Some(get("instance-type").await?),
    })
}

/// One metadata value; any trouble is `unavailable` (never a made-up value).
async fn imds_get(
    client: &imds::Client,
    endpoint: &str,
    path: &str,
) -> Result<String, BackendError> {
    client
        .get(format!("/latest/meta-data/{path}"))
        .await
        .map(|v| v.as_ref().to_string())
        .map_err(|e| {
            BackendError::Unavailable(format!("instance metadata {path} from {endpoint}: {e}"))
        })
}

/// The configured identity, with this machine's id and `local` as the
/// provider where it says nothing.
fn static_identity(config: &InstanceConfig) -> Identity {
    Identity {
        provider: config.provider.clone().unwrap_or_else(|| "local".into()),
        instance_id: config.instance_id.clone().unwrap_or_else(machine_id),
        region: config.region.clone(),
        zone: config.zone.clone(),
        instance_type: config.instance_type.clone(),
    }
}

fn machine_id() -> String {
    ["/etc/machine-id", "/proc/sys/kernel/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

impl Host for HostState {
    async fn get_identity(&mut self) -> wasmtime::Result<Result<Identity, BackendError>> {
        let source = granted(&self.caps.instance, Capability::Instance)?;
        Ok(source.identity().await)
    }

    async fn get_details(&mut self) -> wasmtime::Result<Result<Details, BackendError>> {
        let _source = granted(&self.caps.instance, Capability::Instance)?;
        // Neither the static nor the AWS source knows a name or project.
        Ok(Ok(Details {
            name: None,
            project: None,
        }))
    }
}
