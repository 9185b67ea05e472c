//! The backend's settings (the `settings` table of its host config), read
//! in `init` before every call: REX-Ray's names (`EBS_REGION`,
//! `REXRAY_PREEMPT` ...) and Ballast's own (`default_size` ...), any case.
//!
//! Pure: no capability is called, so `init` stays cheap. Credentials may be
//! listed (REX-Ray configs carry them) but the host strips them before the
//! guest sees settings; if one arrives anyway it is dropped here, never
//! stored or logged.

use ballast_sdk::cluster::Cluster;
use ballast_sdk::ec2::WaitPolicy;
use ballast_sdk::wait::{Bare, StatusPolicy, take_duration_ms};
use ballast_sdk::{Error, Result, Settings};

use crate::rules::{self, GIB};

/// Filesystems the host can make on a volume.
pub const FS_TYPES: [&str; 2] = ["ext4", "xfs"];

/// Everything `init` learned from the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The cluster scope (`ballast.cluster` tag): `EBS_TAG`, or "ballast".
    pub cluster: String,
    /// True when `EBS_TAG` was set: the `Name` tag is then `<tag>/<name>`,
    /// as REX-Ray wrote it.
    pub cluster_in_name: bool,
    /// `EBS_KMSKEYID`: new volumes are encrypted with this key by default.
    pub kms_key_id: Option<String>,
    /// `REXRAY_PREEMPT`: take volumes over from other instances on attach.
    pub preempt: bool,
    /// `REXRAY_FSTYPE`: the filesystem of new volumes.
    pub fs_type: String,
    /// `default_size` in GiB.
    pub default_size_gib: u32,
    /// `default_type`.
    pub default_type: String,
    /// `EBS_STATUS*`: how long to wait for a volume to change state.
    pub status: WaitPolicy,
    /// `attach_timeout`: how long an attachment may stay in `attaching`.
    pub attach_timeout_ms: u32,
}

impl Config {
    /// Read every setting this backend knows; anything else is refused
    /// (`invalid-argument` listing the known names) so a typo is not silently
    /// ignored.
    pub fn from_settings(mut settings: Settings) -> Result<Config> {
        // Used by the host's AWS client; accepted here so REX-Ray configs
        // load unchanged.
        settings.take(&["EBS_REGION"])?;
        settings.take(&["EBS_ENDPOINT"])?;
        // Normally stripped by the host; dropped unread if not.
        settings.take(&["EBS_ACCESSKEY"])?;
        settings.take(&["EBS_SECRETKEY"])?;

        let kms_key_id = settings.take_non_empty(&["EBS_KMSKEYID"])?;
        let cluster = Cluster::from_setting("EBS_TAG", settings.take(&["EBS_TAG"])?)?;
        let status = StatusPolicy::take(&mut settings, "EBS")?;
        let preempt = settings.take_bool(&["REXRAY_PREEMPT"])?.unwrap_or(false);
        let fs_type = settings
            .take_one_of(&["REXRAY_FSTYPE"], &FS_TYPES)?
            .unwrap_or_else(|| "ext4".into());
        let default_size = settings.take_size(&["default_size"])?;
        let default_type = settings.take_one_of(&["default_type"], &rules::VOLUME_TYPES)?;
        let attach_timeout_ms =
            take_duration_ms(&mut settings, "attach_timeout", "60s", Bare::Refused)?;
        settings.finish()?;

        let default_type = default_type.unwrap_or_else(|| "gp3".into());
        let default_size_gib = default_size_gib(default_size, &default_type)?;
        Ok(Config {
            cluster: cluster.tag,
            cluster_in_name: cluster.in_name,
            kms_key_id,
            preempt,
            fs_type,
            default_size_gib,
            default_type,
            status: status.into(),
            attach_timeout_ms,
        })
    }

    /// The policy for waiting out an attachment: `attach_timeout`, with
    /// enough polls to last that long whatever `EBS_STATUSMAXATTEMPTS` says
    /// (the timeout is what decides an attachment is stuck).
    pub fn attach_policy(&self) -> WaitPolicy {
        StatusPolicy::from(self.status)
            .lasting(self.attach_timeout_ms)
            .into()
    }
}

/// `default_size` (bare number = GiB, rounded up to whole GiB) must suit
/// `default_type`, or every create without a size would fail.
fn default_size_gib(bytes: Option<u64>, volume_type: &str) -> Result<u32> {
    let gib = match bytes {
        Some(bytes) => gib_of("setting default_size", bytes)?,
        // REX-Ray's default; raised to the type's minimum (st1, sc1) only
        // when the operator did not pick a size.
        None => 16.max(rules::size_range(volume_type).0),
    };
    rules::check_size(volume_type, gib).map_err(|err| {
        Error::invalid_argument(format!(
            "setting default_size does not suit default_type {volume_type}: {}",
            err.message()
        ))
    })?;
    Ok(gib)
}

/// Bytes to whole GiB, rounded up; `invalid-argument` past what EBS has.
pub fn gib_of(what: &str, bytes: u64) -> Result<u32> {
    u32::try_from(bytes.div_ceil(GIB)).map_err(|_| {
        Error::invalid_argument(format!("{what}: {} GiB is too large", bytes.div_ceil(GIB)))
    })
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
        assert!(!c.cluster_in_name);
        assert_eq!(c.kms_key_id, None);
        assert!(!c.preempt);
        assert_eq!(c.fs_type, "ext4");
        assert_eq!((c.default_size_gib, c.default_type.as_str()), (16, "gp3"));
        assert_eq!(
            c.status,
            WaitPolicy {
                initial_delay_ms: 100,
                max_attempts: 10,
                timeout_ms: 120_000
            }
        );
        assert_eq!(c.attach_timeout_ms, 60_000);
    }

    #[test]
    fn every_setting_is_read_in_any_case() {
        let c = config(&[
            ("ebs_region", "eu-west-1"),
            ("EBS_Endpoint", "http://127.0.0.1:1"),
            ("EBS_ACCESSKEY", "AKIA..."),
            ("ebs_secretkey", "secret"),
            ("EBS_KMSKEYID", "alias/prod"),
            ("EBS_TAG", "prod-1"),
            ("EBS_STATUSMAXATTEMPTS", "20"),
            ("EBS_STATUSINITIALDELAY", "250"),
            ("EBS_STATUSTIMEOUT", "1m30s"),
            ("REXRAY_PREEMPT", "yes"),
            ("rexray_fstype", "XFS"),
            ("DEFAULT_SIZE", "100"),
            ("default_type", "gp2"),
            ("attach_timeout", "90s"),
        ])
        .unwrap();
        assert_eq!(c.cluster, "prod-1");
        assert!(c.cluster_in_name);
        assert_eq!(c.kms_key_id.as_deref(), Some("alias/prod"));
        assert!(c.preempt);
        assert_eq!(c.fs_type, "xfs");
        assert_eq!((c.default_size_gib, c.default_type.as_str()), (100, "gp2"));
        assert_eq!(
            c.status,
            WaitPolicy {
                initial_delay_ms: 250,
                max_attempts: 20,
                timeout_ms: 90_000
            }
        );
        assert_eq!(c.attach_timeout_ms, 90_000);
        // Credentials are accepted and not kept anywhere.
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn unknown_settings_name_the_known_ones() {
        let err = config(&[("EBS_REGOIN", "x")]).unwrap_err();
        assert_eq!(err.kind(), "invalid-argument");
        let message = err.message();
        assert!(
            message.starts_with("unknown setting \"EBS_REGOIN\""),
            "{message}"
        );
        for known in [
            "EBS_REGION",
            "EBS_TAG",
            "REXRAY_PREEMPT",
            "REXRAY_FSTYPE",
            "default_size",
            "default_type",
            "attach_timeout",
        ] {
            assert!(message.contains(known), "{known} missing: {message}");
        }
    }

    #[test]
    fn malformed_settings_are_refused_by_name() {
        for (pairs, says) in [
            (&[("EBS_TAG", "a/b")][..], "EBS_TAG"),
            (&[("EBS_TAG", "")][..], "EBS_TAG"),
            (&[("EBS_KMSKEYID", " ")][..], "EBS_KMSKEYID"),
            (
                &[("EBS_STATUSMAXATTEMPTS", "0")][..],
                "EBS_STATUSMAXATTEMPTS",
            ),
            (
                &[("EBS_STATUSINITIALDELAY", "soon")][..],
                "EBS_STATUSINITIALDELAY",
            ),
            (&[("EBS_STATUSTIMEOUT", "120")][..], "give a unit"),
            (&[("EBS_STATUSTIMEOUT", "0s")][..], "above zero"),
            (&[("attach_timeout", "60")][..], "attach_timeout"),
            (&[("REXRAY_PREEMPT", "maybe")][..], "REXRAY_PREEMPT"),
            (&[("REXRAY_FSTYPE", "btrfs")][..], "REXRAY_FSTYPE"),
            (&[("default_type", "gp9")][..], "gp9"),
            (&[("default_size", "abc")][..], "default_size"),
            (&[("default_size", "20000")][..], "at most 16384 GiB"),
            (
                &[("default_type", "st1"), ("default_size", "10")][..],
                "st1 volumes must be at least 125 GiB (asked 10 GiB)",
            ),
        ] {
            let err = config(pairs).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{pairs:?}");
            assert!(err.message().contains(says), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn default_size_rounds_up_and_follows_the_type_minimum() {
        assert_eq!(
            config(&[("default_size", "1500MiB")])
                .unwrap()
                .default_size_gib,
            2
        );
        assert_eq!(
            config(&[("default_type", "sc1")]).unwrap().default_size_gib,
            125
        );
    }

    #[test]
    fn the_attach_policy_polls_long_enough_for_its_timeout() {
        let c = config(&[("attach_timeout", "3s")]).unwrap();
        assert_eq!(
            c.attach_policy(),
            WaitPolicy {
                initial_delay_ms: 100,
                max_attempts: 10,
                timeout_ms: 3_000
            }
        );
        assert_eq!(config(&[]).unwrap().attach_policy().max_attempts, 34);
    }
}
