//! Where a volume lives: its bucket and root prefix, by mode.
//!
//! - *bucket per volume* (REX-Ray's behaviour, no `S3FS_BUCKET`): the
//!   bucket is named like the volume; the root is "".
//! - *prefix in one bucket* (`S3FS_BUCKET`, or `--opt bucket=` at create):
//!   the root is `<S3FS_PREFIX><name>/` in that bucket.
//!
//! A volume created with `bucket=` while the backend is in bucket mode is
//! remembered in this host's kv (`bucket/<name>` = bucket), since nothing
//! else points at it; Swarm's Create on every node records it on each.

use ballast_sdk::{Result, VolumeName, kv, s3};

use crate::marker::MARKER;
use crate::names;
use crate::settings::Config;

/// How volumes map to buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Bucket,
    Prefix,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Bucket => "bucket",
            Mode::Prefix => "prefix",
        }
    }
}

/// A volume's place in S3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub bucket: String,
    /// "" (bucket mode) or "<base><name>/".
    pub root: String,
    pub mode: Mode,
}

impl Location {
    /// The volume's own bucket; `invalid-argument` when the name cannot be one.
    pub fn own_bucket(name: &VolumeName) -> Result<Location> {
        names::check_volume_bucket(name)?;
        Ok(Location {
            bucket: name.to_string(),
            root: String::new(),
            mode: Mode::Bucket,
        })
    }

    /// The prefix of `name` under `base` in `bucket`.
    pub fn prefix(bucket: &str, base: &str, name: &VolumeName) -> Location {
        Location {
            bucket: bucket.to_owned(),
            root: s3::join_key(base, &format!("{name}/")),
            mode: Mode::Prefix,
        }
    }

    pub fn marker_key(&self) -> String {
        s3::join_key(&self.root, MARKER)
    }

    /// "s3://bucket/root", the volume's id.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.root)
    }
}

/// Where `create` puts `name`, given its `bucket=` option.
pub fn for_create(config: &Config, name: &VolumeName, bucket: Option<&str>) -> Result<Location> {
    match bucket.or(config.bucket.as_deref()) {
        Some(bucket) => Ok(Location::prefix(bucket, &config.prefix, name)),
        None => Location::own_bucket(name),
    }
}

/// Where an existing `name` lives: the bucket this host recorded for it,
/// else the settings' mode. `None` in bucket mode when the name cannot be
/// a bucket (so there is certainly no such volume).
pub fn find(config: &Config, name: &VolumeName) -> Result<Option<Location>> {
    if let Some(bucket) = recorded_bucket(name)? {
        return Ok(Some(Location::prefix(&bucket, &config.prefix, name)));
    }
    match &config.bucket {
        Some(bucket) => Ok(Some(Location::prefix(bucket, &config.prefix, name))),
        None => Ok(Location::own_bucket(name).ok()),
    }
}

fn key(name: &VolumeName) -> String {
    format!("bucket/{name}")
}

/// The bucket recorded for a volume created with `bucket=`.
pub fn recorded_bucket(name: &VolumeName) -> Result<Option<String>> {
    Ok(kv::get(&key(name))?.and_then(|b| String::from_utf8(b).ok()))
}

/// Remember (or, with `None`, forget) the bucket of a `bucket=` volume.
/// Only needed when it differs from what the settings say.
pub fn record(config: &Config, name: &VolumeName, location: &Location) -> Result<()> {
    if location.mode == Mode::Prefix && config.bucket.as_deref() != Some(&location.bucket) {
        kv::set(&key(name), location.bucket.as_bytes())
    } else {
        Ok(())
    }
}

pub fn forget(name: &VolumeName) -> Result<()> {
    kv::delete(&key(name)).map(drop)
}

/// Every (name, bucket) recorded on this host.
pub fn recorded() -> Result<Vec<(VolumeName, String)>> {
    let mut found = Vec::new();
    for key in kv::list_keys("bucket/")? {
        let Ok(name) = VolumeName::new(key.trim_start_matches("bucket/")) else {
            continue;
        };
        if let Some(bucket) = recorded_bucket(&name)? {
            found.push((name, bucket));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_sdk::Settings;

    fn name(n: &str) -> VolumeName {
        VolumeName::new(n).unwrap()
    }

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::from_settings(Settings::settings(pairs.iter().copied())).unwrap()
    }

    #[test]
    fn bucket_mode_uses_the_name_as_bucket() {
        let l = for_create(&config(&[]), &name("pgdata"), None).unwrap();
        assert_eq!((l.bucket.as_str(), l.root.as_str()), ("pgdata", ""));
        assert_eq!(l.mode, Mode::Bucket);
        assert_eq!(l.marker_key(), ".ballast-volume.json");
        assert_eq!(l.url(), "s3://pgdata/");
        let err = for_create(&config(&[]), &name("Pg_Data"), None).unwrap_err();
        assert!(err.message().contains("S3FS_BUCKET"), "{err}");
    }

    #[test]
    fn prefix_mode_by_setting_or_option() {
        let c = config(&[("S3FS_BUCKET", "shared"), ("S3FS_PREFIX", "docker")]);
        let l = for_create(&c, &name("Pg_Data"), None).unwrap();
        assert_eq!(
            (l.bucket.as_str(), l.root.as_str()),
            ("shared", "docker/Pg_Data/")
        );
        assert_eq!(l.marker_key(), "docker/Pg_Data/.ballast-volume.json");
        let l = for_create(&config(&[]), &name("x"), Some("other")).unwrap();
        assert_eq!(
            (l.bucket.as_str(), l.root.as_str(), l.mode),
            ("other", "x/", Mode::Prefix)
        );
    }
}
