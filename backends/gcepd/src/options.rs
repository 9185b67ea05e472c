//! Volume options (`docker volume create --opt k=v`), REX-Ray's names, any
//! case: `size` (GB), `type`/`volumetype`, `iops` (pd-extreme), `zone`,
//! `snapshot`, `fstype`. Pure.

use ballast_sdk::{Error, Options, Result};

use crate::settings::Config;

/// Persistent disk types, with their minimum size in GB.
pub const DISK_TYPES: [&str; 4] = ["pd-standard", "pd-balanced", "pd-ssd", "pd-extreme"];
/// Filesystems the host can make.
pub const FS_TYPES: [&str; 2] = ["ext4", "xfs"];
/// The largest zonal persistent disk, GB.
pub const MAX_GB: u64 = 65_536;
/// pd-extreme's provisioned IOPS range.
pub const EXTREME_IOPS: (u64, u64) = (2_500, 120_000);

const GIB: u64 = 1 << 30;

/// Smallest disk of `disk_type`, GB.
pub fn min_size_gb(disk_type: &str) -> u64 {
    match disk_type {
        "pd-extreme" => 500,
        _ => 10,
    }
}

/// Bytes to whole GB (Compute Engine's GB are GiB), rounded up.
pub fn gb_of(bytes: u64) -> u64 {
    bytes.div_ceil(GIB)
}

/// A new disk, complete and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// GB; `None` with a snapshot: the snapshot's size.
    pub size_gb: Option<u64>,
    pub disk_type: String,
    pub iops: Option<u64>,
    /// None: the configured zone, else this instance's.
    pub zone: Option<String>,
    pub snapshot: Option<String>,
    pub fs_type: String,
    /// Which of size, type and fstype the options named (an existing
    /// volume is compared on those only, as EBS and EFS volumes are).
    pub given: Given,
}

/// The options a create named, besides defaults the settings filled in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Given {
    pub size: bool,
    pub disk_type: bool,
    pub fs_type: bool,
}

impl Spec {
    pub fn from_options(config: &Config, mut options: Options) -> Result<Spec> {
        let size = options.take_size(&["size"])?;
        let disk_type = options.take_one_of(&["volumetype", "type"], &DISK_TYPES)?;
        let iops = options.take_u64(&["iops"])?;
        let zone = options.take_non_empty(&["zone", "availabilityzone"])?;
        let snapshot = options.take_non_empty(&["snapshot", "snapshotid"])?;
        let fs_type = options.take_one_of(&["fstype"], &FS_TYPES)?;
        options.finish()?;
        let given = Given {
            size: size.is_some(),
            disk_type: disk_type.is_some(),
            fs_type: fs_type.is_some(),
        };

        let disk_type = disk_type.unwrap_or_else(|| config.default_type.clone());
        let size_gb = match (size.map(gb_of), &snapshot) {
            (Some(gb), _) => Some(gb),
            (None, Some(_)) => None,
            (None, None) => Some(config.default_size_gb.max(min_size_gb(&disk_type))),
        };
        if let Some(gb) = size_gb {
            let minimum = min_size_gb(&disk_type);
            if gb < minimum || gb > MAX_GB {
                return Err(Error::invalid_argument(format!(
                    "option size: {disk_type} disks are {minimum}-{MAX_GB} GB (asked {gb} GB)"
                )));
            }
        }
        match (disk_type.as_str(), iops) {
            ("pd-extreme", Some(n)) if !(EXTREME_IOPS.0..=EXTREME_IOPS.1).contains(&n) => {
                return Err(Error::invalid_argument(format!(
                    "option iops: pd-extreme takes {}-{} (asked {n})",
                    EXTREME_IOPS.0, EXTREME_IOPS.1
                )));
            }
            ("pd-extreme", _) | (_, None) => {}
            (other, Some(_)) => {
                return Err(Error::invalid_argument(format!(
                    "option iops: only pd-extreme disks take provisioned IOPS, not {other}"
                )));
            }
        }
        Ok(Spec {
            size_gb,
            disk_type,
            iops,
            zone: zone.or_else(|| config.zone.clone()),
            snapshot,
            fs_type: fs_type.unwrap_or_else(|| config.fs_type.clone()),
            given,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_sdk::Settings;

    fn spec(settings: &[(&str, &str)], options: &[(&str, &str)]) -> Result<Spec> {
        let config = Config::from_settings(Settings::settings(settings.iter().copied())).unwrap();
        Spec::from_options(&config, Options::options(options.iter().copied()))
    }

    #[test]
    fn defaults_come_from_the_settings() {
        let s = spec(&[("GCEPD_ZONE", "us-central1-b")], &[]).unwrap();
        assert_eq!(
            s,
            Spec {
                size_gb: Some(16),
                disk_type: "pd-ssd".into(),
                iops: None,
                zone: Some("us-central1-b".into()),
                snapshot: None,
                fs_type: "ext4".into(),
                given: Given::default(),
            }
        );
        // The type's minimum when no size is given.
        assert_eq!(
            spec(&[], &[("type", "pd-extreme")]).unwrap().size_gb,
            Some(500)
        );
        // A snapshot's own size.
        assert_eq!(spec(&[], &[("snapshot", "snap-1")]).unwrap().size_gb, None);
    }

    #[test]
    fn every_option_is_read() {
        let s = spec(
            &[],
            &[
                ("Size", "600"),
                ("volumetype", "pd-extreme"),
                ("iops", "3000"),
                ("zone", "us-central1-c"),
                ("snapshot", "base"),
                ("fstype", "xfs"),
            ],
        )
        .unwrap();
        assert_eq!(s.size_gb, Some(600));
        assert_eq!(s.disk_type, "pd-extreme");
        assert_eq!(s.iops, Some(3000));
        assert_eq!(s.zone.as_deref(), Some("us-central1-c"));
        assert_eq!(s.snapshot.as_deref(), Some("base"));
        assert_eq!(s.fs_type, "xfs");
        assert_eq!(
            s.given,
            Given {
                size: true,
                disk_type: true,
                fs_type: true
            }
        );
        let small = spec(&[], &[("size", "10GiB")]).unwrap();
        assert_eq!(small.size_gb, Some(10));
    }

    #[test]
    fn bad_options_are_refused() {
        for (options, says) in [
            (&[("size", "9")][..], "10-65536 GB (asked 9 GB)"),
            (
                &[("size", "100"), ("type", "pd-extreme")][..],
                "asked 100 GB",
            ),
            (&[("size", "70000")][..], "65536"),
            (&[("type", "pd-fast")][..], "pd-fast"),
            (&[("iops", "3000")][..], "only pd-extreme"),
            (&[("type", "pd-extreme"), ("iops", "10")][..], "2500-120000"),
            (&[("fstype", "btrfs")][..], "btrfs"),
            (&[("encrypted", "true")][..], "encrypted"),
        ] {
            let err = spec(&[], options).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{options:?}");
            assert!(err.message().contains(says), "{options:?}: {err}");
        }
    }
}
