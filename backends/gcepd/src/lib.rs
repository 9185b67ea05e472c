//! `gcepd`: Docker volumes as Google Compute Engine persistent disks,
//! shared by the hosts of a cluster (REX-Ray `gcepd` settings accepted).
//!
//! Imports `log`, `instance` and `http`: Compute Engine's REST API is
//! called through the host's `http` capability, with the credential the
//! host adds by name (`GCEPD_CREDENTIAL`, default "gce"); the guest never
//! sees a token. Nothing is kept between calls but the disks' labels
//! (`ballast-cluster`, `ballast-fstype`) and descriptions (the Docker name).
//!
//! Modules: [`settings`] and [`options`] read the input, [`names`] maps
//! Docker names to disk names, [`api`] is the REST layer (errors, disks,
//! operations), [`disks`] the operations.

mod api;
mod disks;
mod names;
mod options;
mod settings;

use ballast_sdk::{
    AttachOptions, Backend, BackendInfo, Error, MountSource, Options, Result, Scope, Settings,
    Volume, VolumeKind, VolumeName,
};

use settings::Config;

struct Gcepd {
    config: Config,
}

impl Backend for Gcepd {
    fn init(settings: Settings) -> Result<(Self, BackendInfo)> {
        let config = Config::from_settings(settings)?;
        let info = BackendInfo {
            name: "gcepd".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: VolumeKind::Block,
            scope: Scope::Global,
            description: "Google Compute Engine persistent disks, shared cluster-wide \
                          (REX-Ray gcepd compatible)"
                .into(),
        };
        Ok((Gcepd { config }, info))
    }

    fn create(&self, name: &VolumeName, options: Options) -> Result<Volume> {
        disks::create(&self.config, name, options)
    }

    fn get(&self, name: &VolumeName) -> Result<Option<Volume>> {
        let place = disks::Place::resolve(&self.config)?;
        Ok(disks::find(&self.config, &place, name)?.map(|d| disks::to_volume(name, &d)))
    }

    fn list(&self) -> Result<Vec<Volume>> {
        let place = disks::Place::resolve(&self.config)?;
        disks::list(&self.config, &place)
    }

    fn remove(&self, name: &VolumeName, force: bool) -> Result<()> {
        disks::remove(&self.config, name, force)
    }

    fn resize(&self, name: &VolumeName, _size_bytes: u64) -> Result<Volume> {
        Err(Error::invalid_argument(format!(
            "volume {name}: resizing Compute Engine disks is not supported yet"
        )))
    }

    fn attach(&self, name: &VolumeName, options: AttachOptions) -> Result<MountSource> {
        disks::attach(&self.config, name, options)
    }

    fn detach(&self, name: &VolumeName) -> Result<()> {
        disks::detach(&self.config, name)
    }
}

ballast_sdk::export_backend!(Gcepd);
