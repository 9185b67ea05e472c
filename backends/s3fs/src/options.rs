//! The filesystem options of a volume: what the host's FUSE filesystem is
//! told at mount (owner, modes, `allow_other`, read-only, metadata TTL,
//! upload part size). They come from `docker volume create --opt`, from
//! the `S3FS_OPTIONS` setting (s3fs-fuse's comma list, e.g.
//! `allow_other,uid=1000,gid=1000,umask=022`), and from the volume's
//! marker; [`FsOptions::over`] merges them (the later source wins).
//!
//! Pure. Values are checked here with the host's limits, so a bad value is
//! refused at create, before anything exists.

use ballast_sdk::{Error, Options, Result, parse_bool};
use serde::{Deserialize, Serialize};

/// The option keys, exactly as the host's filesystem reads them.
pub const KEYS: [&str; 9] = [
    "uid",
    "gid",
    "umask",
    "file_mode",
    "dir_mode",
    "allow_other",
    "ro",
    "ttl",
    "part_size",
];

/// Longest metadata TTL in seconds, and the upload part size range in MiB
/// (S3's multipart limits), as the host accepts them.
const MAX_TTL_SECS: u64 = 86_400;
const PART_MIB: (u64, u64) = (5, 5 * 1024);

/// Filesystem options; `None` is "not given" (the host's default, or an
/// earlier source's value when merged).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub umask: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_mode: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir_mode: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_other: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ro: Option<bool>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    /// MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_size: Option<u64>,
}

/// What `create` reads from its options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateOptions {
    pub fs: FsOptions,
    /// `bucket=`: keep this volume as a prefix in that bucket.
    pub bucket: Option<String>,
}

impl CreateOptions {
    /// Take every known option, then refuse the rest (`invalid-argument`
    /// naming the known ones).
    pub fn from_options(mut options: Options) -> Result<CreateOptions> {
        let bucket = options.take(&["bucket"])?;
        let mut fs = FsOptions::default();
        for key in KEYS {
            if let Some(value) = options.take(&[key])? {
                fs.set(key, &value)
                    .map_err(|why| Error::invalid_argument(format!("option {key:?}: {why}")))?;
            }
        }
        options.finish()?;
        let bucket = match bucket.map(|b| b.trim().to_owned()) {
            Some(b) if b.is_empty() => {
                return Err(Error::invalid_argument(
                    "option \"bucket\" is empty; leave it out or name a bucket",
                ));
            }
            other => other,
        };
        if let Some(bucket) = &bucket {
            crate::names::check_bucket("option bucket", bucket)?;
        }
        Ok(CreateOptions { fs, bucket })
    }
}

impl FsOptions {
    /// s3fs-fuse's comma list (`allow_other,uid=1000,umask=022`): a key
    /// without `=` is a flag set to true. Unknown keys are refused.
    pub fn parse_list(text: &str) -> Result<FsOptions> {
        let mut fs = FsOptions::default();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k.trim(), v.trim()),
                None => (item, ""),
            };
            let key = key.to_ascii_lowercase();
            fs.set(&key, value)
                .map_err(|why| Error::invalid_argument(format!("setting S3FS_OPTIONS: {why}")))?;
        }
        Ok(fs)
    }

    /// Set `key` (one of [`KEYS`]) from text.
    fn set(&mut self, key: &str, value: &str) -> core::result::Result<(), String> {
        let value = value.trim();
        match key {
            "uid" => self.uid = Some(id(key, value)?),
            "gid" => self.gid = Some(id(key, value)?),
            "umask" => self.umask = Some(mode(key, value)?),
            "file_mode" => self.file_mode = Some(mode(key, value)?),
            "dir_mode" => self.dir_mode = Some(mode(key, value)?),
            "allow_other" => self.allow_other = Some(flag(key, value)?),
            "ro" => self.ro = Some(flag(key, value)?),
            "ttl" => {
                self.ttl = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|s| *s <= MAX_TTL_SECS)
                        .ok_or_else(|| {
                            format!(
                                "ttl={value:?}: expected whole seconds from 0 to {MAX_TTL_SECS}"
                            )
                        })?,
                )
            }
            "part_size" => {
                self.part_size = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|m| (PART_MIB.0..=PART_MIB.1).contains(m))
                        .ok_or_else(|| {
                            format!(
                                "part_size={value:?}: expected MiB from {} to {}",
                                PART_MIB.0, PART_MIB.1
                            )
                        })?,
                )
            }
            _ => {
                return Err(format!(
                    "unknown option {key:?}; known: {}",
                    KEYS.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// `self` with every option `top` gives replacing this one's.
    pub fn over(&self, top: &FsOptions) -> FsOptions {
        FsOptions {
            uid: top.uid.or(self.uid),
            gid: top.gid.or(self.gid),
            umask: top.umask.or(self.umask),
            file_mode: top.file_mode.or(self.file_mode),
            dir_mode: top.dir_mode.or(self.dir_mode),
            allow_other: top.allow_other.or(self.allow_other),
            ro: top.ro.or(self.ro),
            ttl: top.ttl.or(self.ttl),
            part_size: top.part_size.or(self.part_size),
        }
    }

    /// The options given, as the host's filesystem reads them: modes in
    /// octal ("022"), flags "true"/"false", in [`KEYS`] order.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let octal = |m: Option<u16>| m.map(|m| format!("{m:03o}"));
        let values = [
            self.uid.map(|v| v.to_string()),
            self.gid.map(|v| v.to_string()),
            octal(self.umask),
            octal(self.file_mode),
            octal(self.dir_mode),
            self.allow_other.map(|v| v.to_string()),
            self.ro.map(|v| v.to_string()),
            self.ttl.map(|v| v.to_string()),
            self.part_size.map(|v| v.to_string()),
        ];
        KEYS.iter()
            .zip(values)
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect()
    }

    /// "uid=1000,umask=022" (or "defaults"), for messages and status.
    pub fn describe(&self) -> String {
        let pairs = self.pairs();
        if pairs.is_empty() {
            return "defaults".into();
        }
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn id(key: &str, value: &str) -> core::result::Result<u32, String> {
    value
        .parse()
        .map_err(|_| format!("{key}={value:?}: expected a numeric id (0 to 4294967295)"))
}

fn mode(key: &str, value: &str) -> core::result::Result<u16, String> {
    let digits = value.strip_prefix("0o").unwrap_or(value);
    u16::from_str_radix(digits, 8)
        .ok()
        .filter(|m| !digits.is_empty() && *m <= 0o777)
        .ok_or_else(|| format!("{key}={value:?}: expected an octal mode from 000 to 777"))
}

/// A flag: no value means true (s3fs-fuse's `allow_other`).
fn flag(key: &str, value: &str) -> core::result::Result<bool, String> {
    if value.is_empty() {
        return Ok(true);
    }
    parse_bool(value).map_err(|_| format!("{key}={value:?}: expected no value, true or false"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(pairs: &[(&str, &str)]) -> Result<CreateOptions> {
        CreateOptions::from_options(Options::options(pairs.iter().copied()))
    }

    #[test]
    fn s3fs_fuse_lists_parse() {
        let fs =
            FsOptions::parse_list("allow_other, uid=1000,gid=1000,umask=022,ro=false").unwrap();
        assert_eq!(fs.uid, Some(1000));
        assert_eq!(fs.gid, Some(1000));
        assert_eq!(fs.umask, Some(0o022));
        assert_eq!(fs.allow_other, Some(true));
        assert_eq!(fs.ro, Some(false));
        assert_eq!(
            fs.pairs(),
            [
                ("uid", "1000"),
                ("gid", "1000"),
                ("umask", "022"),
                ("allow_other", "true"),
                ("ro", "false")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!(FsOptions::parse_list("").unwrap(), FsOptions::default());
        let err = FsOptions::parse_list("use_cache=/tmp").unwrap_err();
        assert!(err.message().contains("S3FS_OPTIONS"), "{err}");
        assert!(err.message().contains("part_size"), "{err}");
    }

    #[test]
    fn create_options_are_checked_before_anything() {
        let o = create(&[
            ("UID", "1000"),
            ("file_mode", "0640"),
            ("dir_mode", "0o750"),
            ("ttl", "5"),
            ("part_size", "16"),
            ("bucket", "shared-vols"),
        ])
        .unwrap();
        assert_eq!(o.bucket.as_deref(), Some("shared-vols"));
        assert_eq!(o.fs.file_mode, Some(0o640));
        assert_eq!(o.fs.dir_mode, Some(0o750));
        assert_eq!(
            o.fs.describe(),
            "uid=1000,file_mode=640,dir_mode=750,ttl=5,part_size=16"
        );

        let err = create(&[("size", "10")]).unwrap_err();
        assert_eq!(err.kind(), "invalid-argument");
        for known in ["bucket", "uid", "umask", "allow_other", "part_size"] {
            assert!(err.message().contains(known), "{known}: {err}");
        }
        for (pairs, says) in [
            (&[("uid", "-1")][..], "uid"),
            (&[("umask", "999")][..], "umask"),
            (&[("ttl", "100000")][..], "ttl"),
            (&[("part_size", "1")][..], "part_size"),
            (&[("ro", "maybe")][..], "ro"),
            (&[("bucket", "Bad_Bucket")][..], "bucket"),
            (&[("bucket", " ")][..], "bucket"),
        ] {
            let err = create(pairs).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{pairs:?}");
            assert!(err.message().contains(says), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn later_sources_win() {
        let base = FsOptions::parse_list("uid=1,gid=2,allow_other").unwrap();
        let top = FsOptions::parse_list("uid=3,ro").unwrap();
        let merged = base.over(&top);
        assert_eq!(merged.describe(), "uid=3,gid=2,allow_other=true,ro=true");
    }
}
