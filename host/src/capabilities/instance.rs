//! `instance`: who this machine is. Static here (from config, else the
//! machine id); the AWS and GCE metadata sources come with their backends.

use super::{Capability, not_granted};
use crate::config::InstanceConfig;
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::instance::{Host, Identity};
use crate::runtime::store::HostState;

/// The identity served to guests, filled from the config with this
/// machine's id and `local` as the provider where it says nothing.
pub fn identity(config: &InstanceConfig) -> Identity {
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
        let identity = self
            .caps
            .instance
            .clone()
            .ok_or_else(|| not_granted(Capability::Instance))?;
        Ok(Ok(identity))
    }
}
