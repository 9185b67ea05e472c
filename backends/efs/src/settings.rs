//! The backend's settings (the `settings` table of its host config), read
//! in `init` before every call: REX-Ray's efs names (`EFS_TAG`,
//! `EFS_SECURITYGROUPS`, `EFS_STATUS*` ...) and Ballast's own
//! (`EFS_FILESYSTEMID`, `EFS_BASEPATH`, `EFS_SUBNETID`, `EFS_PURGEONREMOVE`),
//! any case.
//!
//! Pure: no capability is called, so `init` stays cheap. `EFS_REGION`,
//! `EFS_ENDPOINT` and the credentials are the host's (its AWS client reads
//! them); they are accepted here so REX-Ray configs load unchanged, and a
//! credential that reaches the guest anyway is dropped unread.

use ballast_sdk::cluster::Cluster;
use ballast_sdk::efs::WaitPolicy;
use ballast_sdk::wait::StatusPolicy;
use ballast_sdk::{Result, Settings};

use crate::names::{self, DEFAULT_BASE_PATH};

/// Everything `init` learned from the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `EFS_TAG`: the cluster scope (`ballast.cluster` tag), "ballast" when
    /// unset.
    pub cluster: Cluster,
    /// `EFS_SECURITYGROUPS`: the groups of new mount targets; none: this
    /// host's own (`efs.get-instance-network`).
    pub security_groups: Option<Vec<String>>,
    /// `EFS_STATUS*`: how long to wait for a file system, mount target or
    /// access point to change state.
    pub status: StatusPolicy,
    /// `EFS_FILESYSTEMID`: volumes are access points in this file system
    /// (unless `--opt mode=filesystem`).
    pub file_system_id: Option<String>,
    /// `EFS_BASEPATH`: the directory access point volumes go under.
    pub base_path: String,
    /// `EFS_SUBNETID`: where new mount targets go; none: this host's subnet.
    pub subnet_id: Option<String>,
    /// `EFS_PURGEONREMOVE`: removing an access point volume deletes its
    /// directory too.
    pub purge_on_remove: bool,
}

impl Config {
    /// Read every setting this backend knows; anything else is refused
    /// (`invalid-argument` listing the known names) so a typo is not
    /// silently ignored.
    pub fn from_settings(mut settings: Settings) -> Result<Config> {
        // The host's AWS client reads these; accepted so REX-Ray configs load.
        settings.take(&["EFS_REGION"])?;
        settings.take(&["EFS_ENDPOINT"])?;
        // Normally stripped by the host; dropped unread if not.
        settings.take(&["EFS_ACCESSKEY"])?;
        settings.take(&["EFS_SECRETKEY"])?;
        // REX-Ray's; there is no session to cache here.
        settings.take(&["EFS_DISABLESESSIONCACHE"])?;

        let cluster = Cluster::from_setting("EFS_TAG", settings.take(&["EFS_TAG"])?)?;
        let security_groups = settings.take(&["EFS_SECURITYGROUPS"])?;
        let status = StatusPolicy::take(&mut settings, "EFS")?;
        let file_system_id = settings.take(&["EFS_FILESYSTEMID"])?;
        let base_path = settings.take(&["EFS_BASEPATH"])?;
        let subnet_id = settings.take(&["EFS_SUBNETID"])?;
        let purge_on_remove = settings.take_bool(&["EFS_PURGEONREMOVE"])?.unwrap_or(false);
        settings.finish()?;

        Ok(Config {
            cluster,
            security_groups: security_groups
                .as_deref()
                .map(names::parse_security_groups)
                .transpose()?,
            status,
            file_system_id: file_system_id
                .map(|id| names::check_file_system_id("setting EFS_FILESYSTEMID", &id))
                .transpose()?,
            base_path: names::check_base_path(base_path.as_deref().unwrap_or(DEFAULT_BASE_PATH))?,
            subnet_id: subnet_id
                .map(|id| names::check_subnet_id("setting EFS_SUBNETID", &id))
                .transpose()?,
            purge_on_remove,
        })
    }

    /// How long to wait for a file system or access point (`EFS_STATUS*`).
    pub fn policy(&self) -> WaitPolicy {
        self.status.into()
    }

    /// How long to wait for a mount target, which takes a minute or two to
    /// come and go: until `EFS_STATUSTIMEOUT`, with as many polls as that
    /// takes whatever `EFS_STATUSMAXATTEMPTS` says.
    pub fn mount_target_policy(&self) -> WaitPolicy {
        self.status.lasting(self.status.timeout_ms).into()
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn config(pairs: &[(&str, &str)]) -> Result<Config> {
        Config::from_settings(Settings::settings(pairs.iter().copied()))
    }

    #[test]
    fn defaults_are_file_systems_per_volume_in_the_default_scope() {
        let c = config(&[]).unwrap();
        assert_eq!(c.cluster.tag, "ballast");
        assert!(!c.cluster.in_name);
        assert_eq!(c.security_groups, None);
        assert_eq!(c.status, StatusPolicy::DEFAULT);
        assert_eq!(c.file_system_id, None);
        assert_eq!(c.base_path, "/ballast");
        assert_eq!(c.subnet_id, None);
        assert!(!c.purge_on_remove);
        assert_eq!(c.policy().max_attempts, 10);
        // 100 ms doubling to 2 s, then 2 s apart: 64 polls fill 2 minutes.
        let slow = c.mount_target_policy();
        assert_eq!((slow.timeout_ms, slow.max_attempts), (120_000, 64));
    }

    #[test]
    fn every_setting_is_read_in_any_case() {
        let c = config(&[
            ("efs_region", "eu-west-1"),
            ("EFS_Endpoint", "http://127.0.0.1:1"),
            ("EFS_ACCESSKEY", "AKIA..."),
            ("efs_secretkey", "secret"),
            ("EFS_DisableSessionCache", "true"),
            ("EFS_TAG", "prod"),
            ("efs_securitygroups", "sg-0000000a,sg-0000000b"),
            ("EFS_STATUSMAXATTEMPTS", "30"),
            ("EFS_STATUSINITIALDELAY", "500ms"),
            ("EFS_STATUSTIMEOUT", "5m"),
            ("EFS_FileSystemId", "fs-0123456789abcdef0"),
            ("EFS_BASEPATH", "/docker/volumes/"),
            ("EFS_SUBNETID", "subnet-0000000a"),
            ("EFS_PURGEONREMOVE", "yes"),
        ])
        .unwrap();
        assert_eq!(c.cluster.tag, "prod");
        assert!(c.cluster.in_name);
        assert_eq!(
            c.security_groups.as_deref(),
            Some(&["sg-0000000a".to_string(), "sg-0000000b".to_string()][..])
        );
        assert_eq!(
            c.status,
            StatusPolicy {
                initial_delay_ms: 500,
                max_attempts: 30,
                timeout_ms: 300_000
            }
        );
        assert_eq!(c.file_system_id.as_deref(), Some("fs-0123456789abcdef0"));
        assert_eq!(c.base_path, "/docker/volumes");
        assert_eq!(c.subnet_id.as_deref(), Some("subnet-0000000a"));
        assert!(c.purge_on_remove);
        // Credentials are accepted and not kept anywhere.
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn unknown_settings_name_the_known_ones() {
        let err = config(&[("EFS_FILESYSTEM", "fs-0000000a")]).unwrap_err();
        assert_eq!(err.kind(), "invalid-argument");
        let message = err.message();
        assert!(
            message.starts_with("unknown setting \"EFS_FILESYSTEM\""),
            "{message}"
        );
        for known in [
            "EFS_REGION",
            "EFS_ENDPOINT",
            "EFS_TAG",
            "EFS_SECURITYGROUPS",
            "EFS_STATUSMAXATTEMPTS",
            "EFS_STATUSINITIALDELAY",
            "EFS_STATUSTIMEOUT",
            "EFS_FILESYSTEMID",
            "EFS_BASEPATH",
            "EFS_SUBNETID",
            "EFS_DISABLESESSIONCACHE",
            "EFS_PURGEONREMOVE",
        ] {
            assert!(message.contains(known), "{known} missing: {message}");
        }
        // Another backend's settings are not this one's.
        assert!(config(&[("EBS_TAG", "x")]).is_err());
    }

    #[test]
    fn malformed_settings_are_refused_by_name() {
        for (pairs, says) in [
            (&[("EFS_TAG", "a/b")][..], "EFS_TAG"),
            (&[("EFS_SECURITYGROUPS", "web")][..], "EFS_SECURITYGROUPS"),
            (&[("EFS_SECURITYGROUPS", "")][..], "EFS_SECURITYGROUPS"),
            (
                &[("EFS_STATUSMAXATTEMPTS", "0")][..],
                "EFS_STATUSMAXATTEMPTS",
            ),
            (&[("EFS_STATUSTIMEOUT", "120")][..], "give a unit"),
            (&[("EFS_FILESYSTEMID", "my-fs")][..], "EFS_FILESYSTEMID"),
            (&[("EFS_BASEPATH", "relative")][..], "EFS_BASEPATH"),
            (&[("EFS_SUBNETID", "sn-1")][..], "EFS_SUBNETID"),
            (&[("EFS_PURGEONREMOVE", "maybe")][..], "EFS_PURGEONREMOVE"),
        ] {
            let err = config(pairs).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{pairs:?}");
            assert!(err.message().contains(says), "{pairs:?}: {err}");
        }
    }
}
