//! `create`: make (or find, or adopt) a volume. Idempotent cluster-wide:
//! the same name gives the same bucket or prefix from any host; a second
//! create with other options is a `conflict` naming both. Options are
//! checked before any call, so a bad one leaves nothing behind.

use ballast_sdk::{Error, Options, Result, Volume, VolumeName, log, s3};

use crate::location::{self, Location, Mode};
use crate::marker::{self, Marker};
use crate::options::{CreateOptions, FsOptions};
use crate::settings::Config;
use crate::volume;

pub fn create(config: &Config, name: &VolumeName, options: Options) -> Result<Volume> {
    let asked = CreateOptions::from_options(options)?;
    let location = location::for_create(config, name, asked.bucket.as_deref())?;
    ensure_bucket(config, &location)?;
    match marker::read(&location)? {
        Some(existing) => {
            same_options(name, &existing.options, &asked.fs)?;
        }
        None => {
            let marker = Marker::new(name, asked.fs.clone(), ballast_sdk::cluster::unix_now());
            marker::write(&location, &marker)?;
            log::info(
                "created volume",
                &[
                    ("volume", name.as_str()),
                    ("location", &location.url()),
                    ("options", &asked.fs.describe()),
                ],
            );
        }
    }
    location::record(config, name, &location)?;
    Ok(volume::summary(name, &location, config.region.as_deref()))
}

/// The bucket exists and is ours, creating it if needed. In bucket mode a
/// name another account owns is `already-exists`, saying what to do.
fn ensure_bucket(config: &Config, location: &Location) -> Result<()> {
    match s3::create_bucket(&location.bucket, config.region.as_deref()) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == "already-exists" => {
            let hint = match location.mode {
                Mode::Bucket => {
                    "bucket names are global across AWS accounts: pick another volume name, \
                     or set S3FS_BUCKET to keep volumes as prefixes in a bucket you own"
                }
                Mode::Prefix => "name a bucket these credentials own",
            };
            Err(Error::already_exists(format!(
                "bucket {} belongs to someone else ({}); {hint}",
                location.bucket,
                err.message()
            )))
        }
        Err(err) => Err(err),
    }
}

/// An existing volume's options must be the ones asked for.
fn same_options(name: &VolumeName, existing: &FsOptions, asked: &FsOptions) -> Result<()> {
    if existing == asked {
        return Ok(());
    }
    Err(Error::conflict(format!(
        "volume {name} exists with options {}; asked for {}. Remove it first or create it \
         with the same options",
        existing.describe(),
        asked.describe()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_options_name_both() {
        let name = VolumeName::new("v").unwrap();
        let a = FsOptions::parse_list("uid=1").unwrap();
        let b = FsOptions::parse_list("uid=2,ro").unwrap();
        assert!(same_options(&name, &a, &a).is_ok());
        let err = same_options(&name, &a, &b).unwrap_err();
        assert_eq!(err.kind(), "conflict");
        assert!(err.message().contains("uid=1;"), "{err}");
        assert!(err.message().contains("uid=2,ro=true"), "{err}");
        let err = same_options(&name, &FsOptions::default(), &a).unwrap_err();
        assert!(err.message().contains("with options defaults"), "{err}");
    }
}
