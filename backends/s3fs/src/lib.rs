//! `s3fs`: Docker volumes in Amazon S3 (or an S3-compatible store), mounted
//! by the host's FUSE filesystem. REX-Ray's s3fs settings are accepted.
//!
//! Two modes (see [`location`]): a bucket per volume, as REX-Ray did, or
//! with `S3FS_BUCKET` (or `--opt bucket=`) a prefix per volume in one
//! bucket. A marker object at the volume root ([`marker`]) records the
//! options a volume was created with.
//!
//! Imports exactly `log`, `kv` and `s3`: every call to S3 is made by the
//! host's AWS SDK with the host's credentials, and the data never passes
//! through here (`attach` answers an `object` mount source).
//!
//! Modules: [`settings`] and [`options`] read the input, [`names`] holds
//! S3's bucket naming rules, [`location`] and [`marker`] where a volume is
//! and what it records, [`create`], [`remove`] the operations, [`volume`]
//! how a volume is found and shown.

mod create;
mod location;
mod marker;
mod names;
mod options;
mod remove;
mod settings;
mod volume;

use ballast_sdk::{
    AttachOptions, Backend, BackendInfo, Error, MountSource, Options, Result, Scope, Settings,
    Volume, VolumeKind, VolumeName, s3,
};

use options::FsOptions;
use settings::Config;

/// The backend, configured by its settings.
struct S3fs {
    config: Config,
}

impl Backend for S3fs {
    fn init(settings: Settings) -> Result<(Self, BackendInfo)> {
        let config = Config::from_settings(settings)?;
        let info = BackendInfo {
            name: "s3fs".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: VolumeKind::Object,
            // Every host sees the same bucket.
            scope: Scope::Global,
            description: "Amazon S3 buckets or prefixes as volumes, mounted through the host's \
                          FUSE filesystem (REX-Ray s3fs compatible)"
                .into(),
        };
        Ok((S3fs { config }, info))
    }

    fn create(&self, name: &VolumeName, options: Options) -> Result<Volume> {
        create::create(&self.config, name, options)
    }

    fn get(&self, name: &VolumeName) -> Result<Option<Volume>> {
        volume::get(&self.config, name)
    }

    fn list(&self) -> Result<Vec<Volume>> {
        volume::list(&self.config)
    }

    fn remove(&self, name: &VolumeName, force: bool) -> Result<()> {
        remove::remove(&self.config, name, force)
    }

    fn resize(&self, name: &VolumeName, _size_bytes: u64) -> Result<Volume> {
        Err(Error::invalid_argument(format!(
            "volume {name} is in S3, which has no size to change"
        )))
    }

    fn attach(&self, name: &VolumeName, options: AttachOptions) -> Result<MountSource> {
        let not_found = || Error::not_found(format!("no volume named {name}"));
        let location = location::find(&self.config, name)?.ok_or_else(not_found)?;
        let (marker, region) = volume::lookup(&self.config, &location)?.ok_or_else(not_found)?;
        let mut fs = self
            .config
            .defaults
            .over(&marker.map(|m| m.options).unwrap_or_default());
        if options.read_only {
            fs = fs.over(&FsOptions {
                ro: Some(true),
                ..FsOptions::default()
            });
        }
        Ok(s3::object_source(
            &location.bucket,
            &location.root,
            &region,
            self.config.endpoint.as_deref(),
            fs.pairs(),
        ))
    }

    fn detach(&self, _name: &VolumeName) -> Result<()> {
        // Nothing is held: the host's filesystem session is the mount.
        Ok(())
    }
}

ballast_sdk::export_backend!(S3fs);
