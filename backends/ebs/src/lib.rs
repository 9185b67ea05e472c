//! `ebs`: Docker volumes as Amazon EBS volumes, shared by every host of a
//! cluster and following the container to whichever instance (and zone)
//! mounts it. REX-Ray and Cloudstor settings and options are accepted.
//!
//! Imports exactly `log`, `kv`, `instance` and `ec2`: every cloud call is
//! made by the host's AWS SDK with the host's credentials. Nothing is kept
//! between calls but EC2's tags (what a volume is; see [`tags`]) and, per
//! host, short-lived device-name reservations in kv (see [`devices`]).
//!
//! Modules: [`settings`] and [`options`] read the input, [`rules`] holds
//! EBS's limits, [`tags`] the tag scheme and lookup, [`create`], [`attach`]
//! (with detach), [`remove`] and [`resize`] the operations, [`volume`] how a
//! volume is shown.

mod attach;
mod create;
mod devices;
mod options;
mod remove;
mod resize;
mod rules;
mod settings;
mod tags;
mod volume;

use ballast_sdk::{
    AttachOptions, Backend, BackendInfo, MountSource, Options, Result, Scope, Settings, Volume,
    VolumeKind, VolumeName,
};

use settings::Config;

/// The backend, configured by its settings.
struct Ebs {
    config: Config,
}

impl Backend for Ebs {
    fn init(settings: Settings) -> Result<(Self, BackendInfo)> {
        let config = Config::from_settings(settings)?;
        let info = BackendInfo {
            name: "ebs".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: VolumeKind::Block,
            scope: Scope::Global,
            description: "Amazon EBS volumes, shared cluster-wide, that follow the container \
                          (REX-Ray/Cloudstor compatible)"
                .into(),
        };
        Ok((Ebs { config }, info))
    }

    fn create(&self, name: &VolumeName, options: Options) -> Result<Volume> {
        create::create(&self.config, name, options)
    }

    fn get(&self, name: &VolumeName) -> Result<Option<Volume>> {
        let Some(found) = tags::lookup(&self.config, name)?.survivor else {
            return Ok(None);
        };
        let relocation = volume::relocation(&found);
        Ok(Some(volume::to_volume(name, &found, relocation)))
    }

    fn list(&self) -> Result<Vec<Volume>> {
        Ok(tags::list(&self.config)?
            .iter()
            .map(|(name, found)| volume::to_volume(name, found, None))
            .collect())
    }

    fn remove(&self, name: &VolumeName, force: bool) -> Result<()> {
        remove::remove(&self.config, name, force)
    }

    fn resize(&self, name: &VolumeName, size_bytes: u64) -> Result<Volume> {
        resize::resize(&self.config, name, size_bytes)
    }

    fn attach(&self, name: &VolumeName, options: AttachOptions) -> Result<MountSource> {
        attach::attach(&self.config, name, options)
    }

    fn detach(&self, name: &VolumeName) -> Result<()> {
        attach::detach(&self.config, name)
    }
}

ballast_sdk::export_backend!(Ebs);
