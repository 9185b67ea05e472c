//! The backend's settings (the `settings` table of its host config), read
//! in `init` before every call: REX-Ray's s3fs names (`S3FS_REGION`,
//! `S3FS_ENDPOINT`, `S3FS_DISABLEPATHSTYLE`, `S3FS_OPTIONS`) and Ballast's
//! own (`S3FS_BUCKET`, `S3FS_PREFIX`), any case.
//!
//! Pure: no capability is called, so `init` stays cheap. Credentials may be
//! listed (REX-Ray configs carry them) but the host strips them before the
//! guest sees settings; if one arrives anyway it is dropped unread.

use ballast_sdk::{Error, Result, Settings, s3};

use crate::names;
use crate::options::FsOptions;

/// Everything `init` learned from the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `S3FS_REGION`: the region new buckets go to and mounts name; none:
    /// the bucket's own (HeadBucket) or the host client's.
    pub region: Option<String>,
    /// `S3FS_ENDPOINT`: an S3-compatible server, handed to the host's
    /// filesystem at mount.
    pub endpoint: Option<String>,
    /// `S3FS_OPTIONS`: filesystem options of every volume (a volume's own
    /// options win).
    pub defaults: FsOptions,
    /// `S3FS_BUCKET`: prefix mode, every volume a prefix in this bucket.
    pub bucket: Option<String>,
    /// `S3FS_PREFIX`: the base key prefix in that bucket, "" or ending in "/".
    pub prefix: String,
}

impl Config {
    /// Read every setting this backend knows; anything else is refused
    /// (`invalid-argument` listing the known names).
    pub fn from_settings(mut settings: Settings) -> Result<Config> {
        let region = non_empty(settings.take(&["S3FS_REGION"])?);
        let endpoint = non_empty(settings.take(&["S3FS_ENDPOINT"])?);
        // Read by the host's S3 client; checked here so a typo is caught.
        settings.take_bool(&["S3FS_DISABLEPATHSTYLE"])?;
        // Normally stripped by the host; dropped unread if not.
        settings.take(&["S3FS_ACCESSKEY"])?;
        settings.take(&["S3FS_SECRETKEY"])?;
        let options = settings.take(&["S3FS_OPTIONS"])?;
        let bucket = non_empty(settings.take(&["S3FS_BUCKET"])?);
        let prefix = settings.take(&["S3FS_PREFIX"])?;
        settings.finish()?;

        let defaults = FsOptions::parse_list(options.as_deref().unwrap_or(""))?;
        if let Some(bucket) = &bucket {
            names::check_bucket("setting S3FS_BUCKET", bucket)?;
        }
        let prefix = check_prefix(prefix.as_deref().unwrap_or(""))?;
        Ok(Config {
            region,
            endpoint,
            defaults,
            bucket,
            prefix,
        })
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `S3FS_PREFIX` normalised to "" or "<path>/": no leading "/", no empty
/// or "." / ".." segments (they would make keys no filesystem can show).
fn check_prefix(text: &str) -> Result<String> {
    let prefix = s3::dir_prefix(text.trim().trim_start_matches('/'));
    let bad = prefix
        .trim_end_matches('/')
        .split('/')
        .any(|seg| matches!(seg, "" | "." | ".."))
        && !prefix.is_empty();
    if bad || prefix.len() > 512 {
        return Err(Error::invalid_argument(format!(
            "setting S3FS_PREFIX {text:?}: expected a key prefix such as \"docker/volumes\" \
             (no empty, \".\" or \"..\" parts; at most 512 characters)"
        )));
    }
    Ok(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config> {
        Config::from_settings(Settings::settings(pairs.iter().copied()))
    }

    #[test]
    fn defaults_are_bucket_per_volume() {
        let c = config(&[]).unwrap();
        assert_eq!(c.bucket, None);
        assert_eq!(c.prefix, "");
        assert_eq!(c.region, None);
        assert_eq!(c.defaults, FsOptions::default());
    }

    #[test]
    fn every_setting_is_read_in_any_case() {
        let c = config(&[
            ("s3fs_region", "eu-west-1"),
            ("S3FS_Endpoint", "http://127.0.0.1:9000"),
            ("S3FS_DISABLEPATHSTYLE", "false"),
            ("S3FS_ACCESSKEY", "AKIA"),
            ("s3fs_secretkey", "secret"),
            ("S3FS_OPTIONS", "allow_other,uid=1000,gid=1000,umask=022"),
            ("s3fs_bucket", "shared-vols"),
            ("S3FS_PREFIX", "/docker/volumes"),
        ])
        .unwrap();
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(c.bucket.as_deref(), Some("shared-vols"));
        assert_eq!(c.prefix, "docker/volumes/");
        assert_eq!(c.defaults.uid, Some(1000));
        assert_eq!(c.defaults.umask, Some(0o022));
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn bad_settings_are_refused_by_name() {
        for (pairs, says) in [
            (&[("S3FS_REGOIN", "x")][..], "S3FS_REGION"),
            (&[("S3FS_BUCKET", "Not_A_Bucket")][..], "S3FS_BUCKET"),
            (&[("S3FS_PREFIX", "a//b")][..], "S3FS_PREFIX"),
            (&[("S3FS_PREFIX", "a/../b")][..], "S3FS_PREFIX"),
            (&[("S3FS_OPTIONS", "uid=x")][..], "S3FS_OPTIONS"),
            (
                &[("S3FS_DISABLEPATHSTYLE", "perhaps")][..],
                "S3FS_DISABLEPATHSTYLE",
            ),
        ] {
            let err = config(pairs).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{pairs:?}");
            assert!(err.message().contains(says), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn prefixes_are_normalised() {
        assert_eq!(check_prefix("").unwrap(), "");
        assert_eq!(check_prefix("/").unwrap(), "");
        assert_eq!(check_prefix("vols").unwrap(), "vols/");
        assert_eq!(check_prefix("a/b/").unwrap(), "a/b/");
    }
}
