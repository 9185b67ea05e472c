//! `local`: Ballast's embedded default backend. A volume is a sparse image
//! file of fixed size (its size is its quota) made by the host's
//! `local-disk` capability; the host loop-attaches it, formats it when
//! blank and mounts it. Metadata lives in `kv` (see [`record`]).
//!
//! Imports exactly `log`, `kv` and `local-disk`. Every operation is
//! idempotent, and ordered so that a crash between two steps leaves
//! something the next call can finish: create writes the image, then the
//! record; remove deletes the image, then the record.

mod config;
mod record;

use ballast_sdk::local_disk::{self, Image};
use ballast_sdk::{
    AttachOptions, Backend, BackendInfo, BlockSource, Error, MountSource, Options, Result, Scope,
    Settings, Volume, VolumeKind, VolumeName, format_size, log,
};

use config::{Defaults, Request};
use record::Record;

/// The backend, configured by its settings.
struct Local {
    defaults: Defaults,
}

impl Backend for Local {
    fn init(settings: Settings) -> Result<(Self, BackendInfo)> {
        let defaults = Defaults::from_settings(settings)?;
        let info = BackendInfo {
            name: "local".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: VolumeKind::Block,
            scope: Scope::Local,
            description: "Volumes as sparse image files on this host, one filesystem each".into(),
        };
        Ok((Local { defaults }, info))
    }

    fn create(&self, name: &VolumeName, options: Options) -> Result<Volume> {
        let request = Request::from_options(options, &self.defaults)?;
        if let Some(record) = record::load(name)? {
            check_compatible(name, &request, &record)?;
            return Ok(record::to_volume(
                name,
                &record,
                local_disk::get(name)?.as_ref(),
            ));
        }
        match local_disk::get(name)? {
            Some(image) => adopt(name, &request, image),
            None => create_new(name, &request),
        }
    }

    fn get(&self, name: &VolumeName) -> Result<Option<Volume>> {
        let Some(record) = record::load(name)? else {
            return Ok(None);
        };
        Ok(Some(record::to_volume(
            name,
            &record,
            local_disk::get(name)?.as_ref(),
        )))
    }

    fn list(&self) -> Result<Vec<Volume>> {
        let images = local_disk::list()?;
        let mut volumes = Vec::new();
        for name in record::names()? {
            // A key that is not a valid name was not written by us; skip it.
            let Ok(name) = VolumeName::new(&name) else {
                continue;
            };
            // Removed since the keys were listed.
            let Some(record) = record::load(&name)? else {
                continue;
            };
            let image = images.iter().find(|i| i.name == name.as_str());
            volumes.push(record::to_volume(&name, &record, image));
        }
        Ok(volumes)
    }

    fn remove(&self, name: &VolumeName, force: bool) -> Result<()> {
        let record = load_existing(name)?;
        if record.attached && !force {
            return Err(Error::conflict(format!(
                "volume {name} is attached; unmount it first or remove with force"
            )));
        }
        // Image first: a record without its image still shows up (and can be
        // removed again); an image without a record would be adopted later.
        local_disk::remove(name)?;
        record::delete(name)?;
        log::info("removed volume", &[("volume", name.as_str())]);
        Ok(())
    }

    fn resize(&self, name: &VolumeName, size_bytes: u64) -> Result<Volume> {
        let mut record = load_existing(name)?;
        let size_bytes = config::checked_size(size_bytes, &record.fs_type)?;
        if size_bytes < record.size_bytes {
            return Err(Error::invalid_argument(format!(
                "volume {name} is {}; the new size {} must not be smaller (shrinking would cut the filesystem)",
                format_size(record.size_bytes),
                format_size(size_bytes)
            )));
        }
        let image = existing_image(name)?;
        // A retry after a crash between the two writes finds the image grown.
        let image = if image.size_bytes < size_bytes {
            local_disk::resize(name, size_bytes)?
        } else {
            image
        };
        record.size_bytes = image.size_bytes;
        record::save(name, &record)?;
        log::info(
            "resized volume",
            &[
                ("volume", name.as_str()),
                ("size", &format_size(image.size_bytes)),
            ],
        );
        Ok(record::to_volume(name, &record, Some(&image)))
    }

    fn attach(&self, name: &VolumeName, options: AttachOptions) -> Result<MountSource> {
        // `preempt` has nothing to take over: the image only exists here.
        let mut record = load_existing(name)?;
        let image = existing_image(name)?;
        if !record.attached {
            record.attached = true;
            record::save(name, &record)?;
        }
        let mount_options = if options.read_only {
            vec!["ro".to_owned()]
        } else {
            Vec::new()
        };
        Ok(MountSource::Block(BlockSource {
            serial: None,
            by_id: Vec::new(),
            device_hint: None,
            image_file: Some(image.path),
            fs_type: record.fs_type,
            mkfs_options: Vec::new(),
            mount_options,
        }))
    }

    fn detach(&self, name: &VolumeName) -> Result<()> {
        match record::load(name)? {
            Some(mut record) if record.attached => {
                record.attached = false;
                record::save(name, &record)
            }
            _ => Ok(()),
        }
    }
}

ballast_sdk::export_backend!(Local);

/// An existing record matches unless an explicit option says otherwise.
fn check_compatible(name: &VolumeName, request: &Request, record: &Record) -> Result<()> {
    if let Some(size) = request.size_bytes.filter(|s| *s != record.size_bytes) {
        return Err(Error::conflict(format!(
            "volume {name} exists with size {}; asked for {}",
            format_size(record.size_bytes),
            format_size(size)
        )));
    }
    if let Some(fs_type) = request.fs_type.as_ref().filter(|f| **f != record.fs_type) {
        return Err(Error::conflict(format!(
            "volume {name} exists with fstype {}; asked for {fs_type}",
            record.fs_type
        )));
    }
    Ok(())
}

/// Record an image that has no record: left by a crash between create's two
/// steps, or put there by an operator to register it. Its real size wins.
fn adopt(name: &VolumeName, request: &Request, image: Image) -> Result<Volume> {
    if let Some(size) = request.size_bytes.filter(|s| *s != image.size_bytes) {
        return Err(Error::conflict(format!(
            "an image file for volume {name} already exists with size {}; asked for {}",
            format_size(image.size_bytes),
            format_size(size)
        )));
    }
    let record = Record::new(&image, &request.new_fs_type);
    // Not ours to delete if this fails: the image was there before.
    record::save(name, &record)?;
    log::info(
        "adopted existing image",
        &[("volume", name.as_str()), ("image", &image.path)],
    );
    Ok(record::to_volume(name, &record, Some(&image)))
}

/// Make the image, then the record; undo the image if the record fails, so
/// a failed create leaves nothing behind.
fn create_new(name: &VolumeName, request: &Request) -> Result<Volume> {
    let image = local_disk::create(name, request.new_size)?;
    let record = Record::new(&image, &request.new_fs_type);
    if let Err(err) = record::save(name, &record) {
        if let Err(undo) = local_disk::remove(name) {
            log::error(
                "could not remove the image after failing to record it",
                &[("volume", name.as_str()), ("error", undo.message())],
            );
        }
        return Err(err);
    }
    log::info(
        "created volume",
        &[
            ("volume", name.as_str()),
            ("size", &format_size(image.size_bytes)),
            ("fstype", &record.fs_type),
        ],
    );
    Ok(record::to_volume(name, &record, Some(&image)))
}

/// The record of `name`, or `not-found`.
fn load_existing(name: &VolumeName) -> Result<Record> {
    record::load(name)?.ok_or_else(|| Error::not_found(format!("no volume named {name}")))
}

/// The image of a recorded volume, or `not-found` saying it vanished.
fn existing_image(name: &VolumeName) -> Result<Image> {
    local_disk::get(name)?.ok_or_else(|| {
        Error::not_found(format!(
            "the image file of volume {name} is missing; remove the volume and create it again"
        ))
    })
}
