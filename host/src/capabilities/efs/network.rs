//! `get-instance-network`: this machine's subnet, VPC and security groups,
//! where its zone's mount target goes when there is none yet. Read from
//! AWS instance metadata (IMDSv2, through the backend's `instance` table)
//! on the primary interface: `mac`, then
//! `network/interfaces/macs/<mac>/{subnet-id,vpc-id,security-group-ids}`.
//! Kept once read: a machine's network does not change while the host runs.

use super::Efs;
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::efs::InstanceNetwork;

impl Efs {
    /// This machine's network; `not-found` with a static identity (there
    /// is no metadata to read), `unavailable` when metadata does not answer.
    pub async fn instance_network(&self) -> Result<InstanceNetwork, BackendError> {
        self.network
            .get_or_try_init(|| self.read_network())
            .await
            .cloned()
    }

    async fn read_network(&self) -> Result<InstanceNetwork, BackendError> {
        let mac = self.metadata("mac").await?;
        let interface = format!("network/interfaces/macs/{mac}");
        let subnet_id = self.metadata(&format!("{interface}/subnet-id")).await?;
        let vpc_id = self.metadata(&format!("{interface}/vpc-id")).await?;
        let groups = self
            .metadata(&format!("{interface}/security-group-ids"))
            .await?;
        Ok(InstanceNetwork {
            subnet_id,
            vpc_id: Some(vpc_id).filter(|v| !v.is_empty()),
            security_groups: lines(&groups),
        })
    }

    /// One metadata value, trimmed.
    async fn metadata(&self, path: &str) -> Result<String, BackendError> {
        match self.machine.aws_metadata(path).await {
            Some(value) => value.map(|v| v.trim().to_string()),
            None => Err(BackendError::NotFound(format!(
                "get-instance-network: this host's identity for backend {backend} is static \
                 ([backends.{backend}.instance] has no `source = \"aws-imds\"`), so there is no \
                 instance metadata to read the network from: set EFS_SUBNETID in the backend's \
                 settings",
                backend = self.backend
            ))),
        }
    }
}

/// A newline-separated metadata list, without blanks.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::aws::AwsSettings;
    use crate::capabilities::instance;
    use crate::config::{AwsConfig, InstanceConfig};

    #[test]
    fn security_groups_are_one_a_line() {
        assert_eq!(lines("sg-1\nsg-2\n\n"), ["sg-1", "sg-2"]);
        assert!(lines("").is_empty());
    }

    #[tokio::test]
    async fn a_static_identity_has_no_network_to_read() {
        let settings =
            AwsSettings::resolve(&AwsConfig::default(), &Default::default(), "EFS").unwrap();
        let machine = instance::Source::new(&InstanceConfig::default()).unwrap();
        let efs = Efs::new("efs", settings, machine);
        let err = efs.instance_network().await.unwrap_err();
        let BackendError::NotFound(message) = &err else {
            panic!("{err:?}")
        };
        assert!(message.contains("static"), "{message}");
        assert!(message.contains("EFS_SUBNETID"), "{message}");
    }
}
