//! The backend's settings, in REX-Ray's `GCEPD_*` names (any case), plus
//! Ballast's own `GCEPD_PROJECT`, `GCEPD_ENDPOINT` and `GCEPD_CREDENTIAL`.
//!
//! Pure: `init` stays cheap; the project and zone default to the
//! instance's (`instance` capability) when an operation needs them.

use ballast_sdk::wait::StatusPolicy;
use ballast_sdk::{Error, Result, Settings, cluster};

use crate::names::LABEL_VALUE_MAX;
use crate::options::{DISK_TYPES, FS_TYPES, min_size_gb};

/// Compute Engine's API root.
pub const DEFAULT_ENDPOINT: &str = "https://compute.googleapis.com/compute/v1";

/// The host's credential name used when `GCEPD_CREDENTIAL` is not set.
pub const DEFAULT_CREDENTIAL: &str = "gce";

/// REX-Ray's default volume size, GB.
pub const DEFAULT_SIZE_GB: u64 = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `GCEPD_TAG`, else "ballast": the `ballast-cluster` label's value.
    pub cluster: String,
    /// `GCEPD_ZONE`: where new disks go (else this instance's zone), and
    /// the zone looked in first (volumes are found in every zone).
    pub zone: Option<String>,
    /// `GCEPD_PROJECT`, else the instance's project.
    pub project: Option<String>,
    /// `GCEPD_ENDPOINT`, without a trailing '/'.
    pub endpoint: String,
    /// `GCEPD_CREDENTIAL`: the host's credential name for the API.
    pub credential: String,
    /// `GCEPD_DEFAULTDISKTYPE` (REX-Ray: pd-ssd).
    pub default_type: String,
    /// `GCEPD_CONVERTUNDERSCORES`: '_' in volume names becomes '-' (REX-Ray
    /// default false: such names are refused).
    pub convert_underscores: bool,
    /// `GCEPD_STATUS*`: how long to wait for an operation.
    pub status: StatusPolicy,
    /// `REXRAY_PREEMPT`.
    pub preempt: bool,
    /// `REXRAY_FSTYPE` (ext4).
    pub fs_type: String,
    /// `default_size`, GB (16, raised to the default type's minimum).
    pub default_size_gb: u64,
    /// Tries of an API call answered 429, 5xx or not at all:
    /// `GCEPD_MAXRETRIES` (default 4) + 1.
    pub tries: u32,
}

/// How long an operation is waited for when `GCEPD_STATUSTIMEOUT` is unset.
pub const DEFAULT_STATUS_TIMEOUT_MS: u32 = 60_000;

/// Retries of a throttled or failed API call when `GCEPD_MAXRETRIES` is unset.
pub const DEFAULT_RETRIES: u32 = 4;

impl Config {
    pub fn from_settings(mut settings: Settings) -> Result<Config> {
        // The key file is the host's business (its credential config);
        // accepted so REX-Ray configs load, never read.
        settings.take(&["GCEPD_KEYFILE"])?;
        let cluster = match settings.take(&["GCEPD_TAG"])? {
            None => cluster::DEFAULT_CLUSTER.to_string(),
            Some(tag) => check_tag(tag)?,
        };
        let zone = settings.take_non_empty(&["GCEPD_ZONE"])?;
        let project = settings.take_non_empty(&["GCEPD_PROJECT"])?;
        let endpoint = settings
            .take_non_empty(&["GCEPD_ENDPOINT"])?
            .unwrap_or_else(|| DEFAULT_ENDPOINT.into());
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(Error::invalid_argument(format!(
                "setting GCEPD_ENDPOINT {endpoint:?}: give an http(s):// URL"
            )));
        }
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let credential = settings
            .take_non_empty(&["GCEPD_CREDENTIAL"])?
            .unwrap_or_else(|| DEFAULT_CREDENTIAL.into());
        let default_type = settings
            .take_one_of(&["GCEPD_DEFAULTDISKTYPE"], &DISK_TYPES)?
            .unwrap_or_else(|| "pd-ssd".into());
        let convert_underscores = settings
            .take_bool(&["GCEPD_CONVERTUNDERSCORES"])?
            .unwrap_or(false);
        let timeout_given = settings
            .remaining_keys()
            .any(|k| k.eq_ignore_ascii_case("GCEPD_STATUSTIMEOUT"));
        let mut status = StatusPolicy::take(&mut settings, "GCEPD")?;
        if !timeout_given {
            // Inside the host's 90 s call timeout, so a stuck operation ends
            // with this backend's error naming it, not the host's.
            status.timeout_ms = DEFAULT_STATUS_TIMEOUT_MS;
        }
        let preempt = settings.take_bool(&["REXRAY_PREEMPT"])?.unwrap_or(false);
        let fs_type = settings
            .take_one_of(&["REXRAY_FSTYPE"], &FS_TYPES)?
            .unwrap_or_else(|| "ext4".into());
        let default_size = settings.take_size(&["default_size"])?;
        let retries = match settings.take_non_empty(&["GCEPD_MAXRETRIES"])? {
            None => DEFAULT_RETRIES,
            Some(text) => text
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= 20)
                .ok_or_else(|| {
                    Error::invalid_argument(format!(
                        "setting GCEPD_MAXRETRIES {text:?}: give a whole number from 0 to 20"
                    ))
                })?,
        };
        settings.finish()?;

        let minimum = min_size_gb(&default_type);
        let default_size_gb = match default_size {
            None => DEFAULT_SIZE_GB.max(minimum),
            Some(bytes) => {
                let gb = crate::options::gb_of(bytes);
                if gb < minimum {
                    return Err(Error::invalid_argument(format!(
                        "setting default_size: {default_type} disks must be at least \
                         {minimum} GB (asked {gb} GB)"
                    )));
                }
                gb
            }
        };
        Ok(Config {
            cluster,
            zone,
            project,
            endpoint,
            credential,
            default_type,
            convert_underscores,
            status,
            preempt,
            fs_type,
            default_size_gb,
            tries: retries + 1,
        })
    }
}

/// `GCEPD_TAG` becomes a label value: 1-63 lowercase letters, digits, '_'
/// and '-'.
fn check_tag(tag: String) -> Result<String> {
    let ok = !tag.is_empty()
        && tag.len() <= LABEL_VALUE_MAX
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(tag)
    } else {
        Err(Error::invalid_argument(format!(
            "setting GCEPD_TAG {tag:?}: it becomes a disk label, so use 1-{LABEL_VALUE_MAX} \
             lowercase letters, digits, '_' and '-'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config> {
        Config::from_settings(Settings::settings(pairs.iter().copied()))
    }

    #[test]
    fn defaults_are_rexrays() {
        let c = config(&[]).unwrap();
        assert_eq!(c.cluster, "ballast");
        assert_eq!((c.zone, c.project), (None, None));
        assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(c.credential, "gce");
        assert_eq!(c.default_type, "pd-ssd");
        assert!(!c.convert_underscores);
        assert_eq!(
            c.status,
            StatusPolicy {
                timeout_ms: DEFAULT_STATUS_TIMEOUT_MS,
                ..StatusPolicy::DEFAULT
            }
        );
        assert!(!c.preempt);
        assert_eq!(c.fs_type, "ext4");
        assert_eq!(c.default_size_gb, 16);
        assert_eq!(c.tries, 5);
    }

    #[test]
    fn every_setting_is_read_in_any_case() {
        let c = config(&[
            ("gcepd_tag", "prod-1"),
            ("GCEPD_ZONE", "europe-west1-b"),
            ("GCEPD_PROJECT", "my-proj"),
            ("GCEPD_ENDPOINT", "http://127.0.0.1:9/compute/v1/"),
            ("GCEPD_CREDENTIAL", "sa"),
            ("GCEPD_DEFAULTDISKTYPE", "pd-extreme"),
            ("GCEPD_CONVERTUNDERSCORES", "true"),
            ("GCEPD_STATUSMAXATTEMPTS", "5"),
            ("GCEPD_STATUSINITIALDELAY", "50"),
            ("GCEPD_STATUSTIMEOUT", "30s"),
            ("GCEPD_KEYFILE", "/etc/key.json"),
            ("REXRAY_PREEMPT", "true"),
            ("REXRAY_FSTYPE", "xfs"),
            ("GCEPD_MAXRETRIES", "0"),
        ])
        .unwrap();
        assert_eq!(c.cluster, "prod-1");
        assert_eq!(c.zone.as_deref(), Some("europe-west1-b"));
        assert_eq!(c.project.as_deref(), Some("my-proj"));
        assert_eq!(c.endpoint, "http://127.0.0.1:9/compute/v1");
        assert_eq!(c.credential, "sa");
        assert_eq!(c.default_type, "pd-extreme");
        assert!(c.convert_underscores);
        assert_eq!(
            c.status,
            StatusPolicy {
                initial_delay_ms: 50,
                max_attempts: 5,
                timeout_ms: 30_000
            }
        );
        assert!(c.preempt);
        assert_eq!(c.fs_type, "xfs");
        // pd-extreme's minimum.
        assert_eq!(c.default_size_gb, 500);
        assert_eq!(c.tries, 1);
        assert!(!format!("{c:?}").contains("key.json"));
    }

    #[test]
    fn bad_settings_are_refused_by_name() {
        for (pairs, says) in [
            (&[("GCEPD_TAG", "Prod")][..], "GCEPD_TAG"),
            (&[("GCEPD_TAG", "a.b")][..], "GCEPD_TAG"),
            (&[("GCEPD_DEFAULTDISKTYPE", "pd-fast")][..], "pd-fast"),
            (&[("GCEPD_ENDPOINT", "compute")][..], "GCEPD_ENDPOINT"),
            (
                &[("GCEPD_CONVERTUNDERSCORES", "maybe")][..],
                "GCEPD_CONVERTUNDERSCORES",
            ),
            (&[("default_size", "5")][..], "at least 10 GB"),
            (&[("GCEPD_MAXRETRIES", "many")][..], "GCEPD_MAXRETRIES"),
            (&[("GCEPD_REGOIN", "x")][..], "GCEPD_ZONE"),
        ] {
            let err = config(pairs).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{pairs:?}");
            assert!(err.message().contains(says), "{pairs:?}: {err}");
        }
    }
}
