//! `remove`: delete a volume's objects (and, in bucket mode, its bucket).
//! Refuses a volume that holds anything besides its marker unless forced,
//! saying how much and how to force.

use ballast_sdk::{Error, Result, VolumeName, log, s3};

use crate::location::{self, Mode};
use crate::marker;
use crate::settings::Config;

/// Objects counted before a refusal ("10000+" beyond).
const COUNT_LIMIT: u64 = 10_000;

pub fn remove(config: &Config, name: &VolumeName, force: bool) -> Result<()> {
    let Some(location) = location::find(config, name)? else {
        return Err(Error::not_found(format!("no volume named {name}")));
    };
    let marker = marker::read(&location)?;
    match location.mode {
        Mode::Bucket => {
            // A bucket is a volume with or without marker.
            if let Err(err) = s3::head_bucket(&location.bucket) {
                return Err(match err.kind() {
                    "not-found" => Error::not_found(format!("no bucket named {name}")),
                    _ => err,
                });
            }
        }
        Mode::Prefix if marker.is_none() => {
            location::forget(name)?;
            return Err(Error::not_found(format!(
                "no volume named {name} in bucket {} (no {})",
                location.bucket,
                location.marker_key()
            )));
        }
        Mode::Prefix => {}
    }
    if !force {
        let usage = s3::usage(&location.bucket, &location.root, COUNT_LIMIT + 1)?;
        let objects = usage.objects - u64::from(marker.is_some()).min(usage.objects);
        if objects > 0 {
            let count = if usage.truncated {
                format!("{COUNT_LIMIT}+")
            } else {
                objects.to_string()
            };
            return Err(Error::conflict(format!(
                "volume {name} is not empty: {count} objects in {}; delete them, or remove \
                 the volume and its data with `ballast volume rm --force {name}`",
                location.url()
            )));
        }
    }
    let deleted = s3::delete_prefix(&location.bucket, &location.root)?;
    if location.mode == Mode::Bucket {
        s3::delete_bucket(&location.bucket)?;
    }
    location::forget(name)?;
    log::info(
        "removed volume",
        &[
            ("volume", name.as_str()),
            ("location", &location.url()),
            ("objects", &deleted.to_string()),
        ],
    );
    Ok(())
}
