//! `efs`: Docker volumes on Amazon EFS, mounted over NFS by the host. Every
//! host of a cluster sees the same volumes, and any number of containers on
//! any number of hosts mount one volume at once. REX-Ray's efs settings,
//! Cloudstor's "shared" volumes and the EFS CSI driver's options are
//! accepted.
//!
//! Two kinds of volume (see [`options::Mode`]): an access point (and its
//! directory `<EFS_BASEPATH>/<name>`) in a shared file system, the default
//! when `EFS_FILESYSTEMID` is set or `--opt filesystemid=` is given; or a
//! file system of its own, as REX-Ray made them.
//!
//! Imports exactly `log`, `instance` and `efs`: every cloud call is
//! made by the host's AWS SDK with the host's credentials, and no file data
//! passes through here (`attach` answers an `nfs` mount source). Nothing is
//! kept between calls but EFS's tags (what a volume is; see [`lookup`]).
//!
//! Modules: [`settings`] and [`options`] read the input, [`names`] holds
//! EFS's naming rules, the tags and tokens, [`lookup`] finds volumes,
//! [`create`], [`attach`] and [`remove`] are the operations, [`volume`]
//! how a volume is shown.

mod attach;
mod create;
mod lookup;
mod names;
mod options;
mod remove;
mod settings;
mod volume;

use ballast_sdk::{
    AttachOptions, Backend, BackendInfo, Error, MountSource, Options, Result, Scope, Settings,
    Volume, VolumeKind, VolumeName,
};

use settings::Config;

/// The backend, configured by its settings.
struct Efs {
    config: Config,
}

impl Backend for Efs {
    fn init(settings: Settings) -> Result<(Self, BackendInfo)> {
        let config = Config::from_settings(settings)?;
        let info = BackendInfo {
            name: "efs".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: VolumeKind::Nfs,
            // Every host sees the same volumes and may mount them at once.
            scope: Scope::Global,
            description: "Amazon EFS access points or file systems, shared by every host and \
                          container at once, mounted over NFS (REX-Ray efs / Cloudstor shared / \
                          EFS CSI compatible)"
                .into(),
        };
        Ok((Efs { config }, info))
    }

    fn create(&self, name: &VolumeName, options: Options) -> Result<Volume> {
        create::create(&self.config, name, options)
    }

    fn get(&self, name: &VolumeName) -> Result<Option<Volume>> {
        let Some(found) = lookup::lookup(&self.config, name)?.survivor else {
            return Ok(None);
        };
        let zones = attach::mount_zones(&found.file_system);
        Ok(Some(volume::to_volume(name, &found, zones)))
    }

    fn list(&self) -> Result<Vec<Volume>> {
        Ok(lookup::list(&self.config)?
            .iter()
            .map(|(name, found)| volume::to_volume(name, found, None))
            .collect())
    }

    fn remove(&self, name: &VolumeName, force: bool) -> Result<()> {
        remove::remove(&self.config, name, force)
    }

    fn resize(&self, name: &VolumeName, _size_bytes: u64) -> Result<Volume> {
        Err(Error::invalid_argument(format!(
            "volume {name} is on EFS, which has no size to change: it grows and shrinks with \
             what is stored"
        )))
    }

    fn attach(&self, name: &VolumeName, options: AttachOptions) -> Result<MountSource> {
        attach::attach(&self.config, name, options)
    }

    fn detach(&self, _name: &VolumeName) -> Result<()> {
        // Nothing is held for this host: the mount target serves every host
        // of its zone, and the host's NFS mount is the attachment.
        Ok(())
    }
}

ballast_sdk::export_backend!(Efs);
