//! Volume options (`docker volume create --opt k=v`) in REX-Ray's and
//! Cloudstor's spellings, any case: parsed into a [`Request`], turned into
//! the [`Spec`] of a new volume (defaults from the settings, EBS's rules
//! checked), or compared with a volume that exists already.
//!
//! Pure: no capability is called. Everything is checked before anything is
//! created, so a bad option leaves nothing behind.

use ballast_sdk::ec2::EbsVolume;
use ballast_sdk::{Error, Options, Result, VolumeName, kms};

use crate::rules;
use crate::settings::{Config, FS_TYPES, gib_of};
use crate::tags;

/// The only `backing` Cloudstor users may ask for, and why.
const BACKING: &str = "relocatable";
const BACKING_WHY: &str =
    "every ballast EBS volume is relocatable (it follows its container to another zone)";

/// What the options asked for; `None` where they said nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// GiB, rounded up from the size given.
    pub size_gib: Option<u32>,
    pub volume_type: Option<String>,
    pub iops: Option<u32>,
    pub throughput: Option<u32>,
    /// `encrypted`, or true when a key was given.
    pub encrypted: Option<bool>,
    pub kms_key_id: Option<String>,
    pub zone: Option<String>,
    /// A `snap-…` id or a snapshot's `Name` tag.
    pub snapshot: Option<String>,
    pub fs_type: Option<String>,
    pub preempt: Option<bool>,
}

/// A new volume, complete and checked against EBS's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// GiB; `None` to take the snapshot's size.
    pub size_gib: Option<u32>,
    pub volume_type: String,
    pub iops: Option<u32>,
    pub throughput: Option<u32>,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    pub fs_type: String,
    /// Recorded as a tag only when the options said so.
    pub preempt: Option<bool>,
}

impl Request {
    /// Read every option this backend knows; unknown ones, malformed values
    /// and contradictions are `invalid-argument`.
    pub fn from_options(mut options: Options) -> Result<Request> {
        let size = options.take_size(&["size"])?;
        let volume_type =
            options.take_one_of(&["volumetype", "type", "ebstype"], &rules::VOLUME_TYPES)?;
        let iops = options.take_u64(&["iops"])?;
        let throughput = options.take_u64(&["throughput"])?;
        let encrypted = options.take_bool(&["encrypted"])?;
        let kms_key_id = options.take_non_empty(&["encryptionkey", "kmskeyid"])?;
        let zone = options.take_non_empty(&["availabilityzone", "zone"])?;
        let snapshot = options.take_non_empty(&["snapshot"])?;
        let fs_type = options.take_one_of(&["fstype"], &FS_TYPES)?;
        let preempt = options.take_bool(&["preempt"])?;
        options.take_only(&["backing"], BACKING, BACKING_WHY)?;
        options.finish()?;

        if kms_key_id.is_some() && encrypted == Some(false) {
            return Err(Error::invalid_argument(
                "encryptionkey needs an encrypted volume; drop encrypted=false",
            ));
        }
        Ok(Request {
            size_gib: size.map(|bytes| gib_of("option size", bytes)).transpose()?,
            volume_type,
            iops: iops.map(|n| small("iops", n)).transpose()?,
            throughput: throughput.map(|n| small("throughput", n)).transpose()?,
            encrypted: encrypted.or(kms_key_id.as_ref().map(|_| true)),
            kms_key_id,
            zone,
            snapshot,
            fs_type,
            preempt,
        })
    }

    /// The new volume these options describe, with the settings' defaults,
    /// checked against EBS's rules. `snapshot_gib` is the size of the
    /// snapshot it is made from, if any: the size then defaults to it and
    /// may not be smaller.
    pub fn spec(&self, config: &Config, snapshot_gib: Option<u32>) -> Result<Spec> {
        let volume_type = self
            .volume_type
            .clone()
            .unwrap_or_else(|| config.default_type.clone());
        let (size_gib, effective) = match snapshot_gib {
            Some(snapshot) => {
                if let Some(asked) = self.size_gib.filter(|asked| *asked < snapshot) {
                    return Err(Error::invalid_argument(format!(
                        "the snapshot is {snapshot} GiB; size must be at least that (asked {asked} GiB)"
                    )));
                }
                (self.size_gib, self.size_gib.unwrap_or(snapshot))
            }
            None => {
                let size = self.size_gib.unwrap_or(config.default_size_gib);
                (Some(size), size)
            }
        };
        rules::check(&volume_type, effective, self.iops, self.throughput)?;
        // An explicit `encrypted` wins over the settings' default key.
        let encrypted = self.encrypted.unwrap_or(config.kms_key_id.is_some());
        let kms_key_id = match (&self.kms_key_id, encrypted) {
            (Some(key), _) => Some(key.clone()),
            (None, true) => config.kms_key_id.clone(),
            (None, false) => None,
        };
        Ok(Spec {
            size_gib,
            volume_type,
            iops: self.iops,
            throughput: self.throughput,
            encrypted,
            kms_key_id,
            fs_type: self
                .fs_type
                .clone()
                .unwrap_or_else(|| config.fs_type.clone()),
            preempt: self.preempt,
        })
    }

    /// `conflict` naming every difference between these options and the
    /// volume `name` already is; options not given never conflict.
    pub fn check_matches(&self, name: &VolumeName, volume: &EbsVolume) -> Result<()> {
        let differences = self.differences(volume);
        if differences.is_empty() {
            return Ok(());
        }
        Err(Error::conflict(format!(
            "volume {name} ({}) exists with other options: {}; \
             leave the options out to use it as it is, or pick another name",
            volume.volume_id,
            differences.join("; ")
        )))
    }

    fn differences(&self, volume: &EbsVolume) -> Vec<String> {
        let mut found = Vec::new();
        let mut differs = |what: &str, is: String, asked: String| {
            if is != asked {
                found.push(format!("{what} is {is} (asked {asked})"));
            }
        };
        let show = |value: Option<u32>| value.map_or_else(|| "none".into(), |v| v.to_string());
        if let Some(size) = self.size_gib {
            differs(
                "size",
                format!("{} GiB", volume.size_gib),
                format!("{size} GiB"),
            );
        }
        if let Some(volume_type) = &self.volume_type {
            differs(
                "volumetype",
                volume.volume_type.clone(),
                volume_type.clone(),
            );
        }
        if let Some(iops) = self.iops {
            differs("iops", show(volume.iops), iops.to_string());
        }
        if let Some(throughput) = self.throughput {
            differs(
                "throughput",
                show(volume.throughput),
                throughput.to_string(),
            );
        }
        if let Some(encrypted) = self.encrypted {
            differs(
                "encrypted",
                volume.encrypted.to_string(),
                encrypted.to_string(),
            );
        }
        if let Some(key) = &self.kms_key_id
            && !kms::same_key(key, volume.kms_key_id.as_deref())
        {
            let is = volume.kms_key_id.clone().unwrap_or_else(|| "none".into());
            differs("encryptionkey", is, key.clone());
        }
        // A relocated volume is where its data went: the zone it was first
        // made in no longer describes it, and Swarm repeats the first options.
        if let Some(zone) = &self.zone
            && volume.tag(tags::RELOCATED_FROM).is_none()
        {
            differs("availabilityzone", volume.zone.clone(), zone.clone());
        }
        if let (Some(fs_type), Some(tagged)) = (&self.fs_type, volume.tag(tags::FSTYPE)) {
            differs("fstype", tagged.to_owned(), fs_type.clone());
        }
        found
    }
}

/// A count option as EBS takes it (32 bits).
fn small(option: &str, value: u64) -> Result<u32> {
    u32::try_from(value)
        .map_err(|_| Error::invalid_argument(format!("option {option}: {value} is too large")))
}

#[cfg(test)]
pub mod tests {
    use ballast_sdk::Settings;
    use ballast_sdk::ec2::VolumeState;

    use super::*;

    /// The spec of a volume asked for with no options under default settings.
    pub fn default_spec() -> Spec {
        Spec {
            size_gib: Some(16),
            volume_type: "gp3".into(),
            iops: None,
            throughput: None,
            encrypted: false,
            kms_key_id: None,
            fs_type: "ext4".into(),
            preempt: None,
        }
    }

    fn request(pairs: &[(&str, &str)]) -> Result<Request> {
        Request::from_options(Options::options(pairs.iter().copied()))
    }

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::from_settings(Settings::settings(pairs.iter().copied())).unwrap()
    }

    fn spec(pairs: &[(&str, &str)]) -> Result<Spec> {
        request(pairs)?.spec(&config(&[]), None)
    }

    fn volume() -> EbsVolume {
        EbsVolume {
            encrypted: true,
            kms_key_id: Some("arn:aws:kms:us-east-1:123456789012:key/k-1".into()),
            tags: vec![(tags::FSTYPE.into(), "ext4".into())],
            ..EbsVolume::sample("vol-1", "us-east-1a", VolumeState::Available)
        }
    }

    #[test]
    fn every_spelling_of_every_option() {
        let r = request(&[
            ("Size", "20"),
            ("VolumeType", "io2"),
            ("IOPS", "1000"),
            ("encrypted", "true"),
            ("KmsKeyId", "alias/x"),
            ("AvailabilityZone", "eu-west-1b"),
            ("snapshot", "nightly"),
            ("fstype", "XFS"),
            ("preempt", "1"),
            ("backing", "Relocatable"),
        ])
        .unwrap();
        assert_eq!(
            r,
            Request {
                size_gib: Some(20),
                volume_type: Some("io2".into()),
                iops: Some(1000),
                throughput: None,
                encrypted: Some(true),
                kms_key_id: Some("alias/x".into()),
                zone: Some("eu-west-1b".into()),
                snapshot: Some("nightly".into()),
                fs_type: Some("xfs".into()),
                preempt: Some(true),
            }
        );
        let r = request(&[
            ("type", "gp3"),
            ("throughput", "250"),
            ("zone", "z"),
            ("encryptionkey", "k"),
        ])
        .unwrap();
        assert_eq!(r.volume_type.as_deref(), Some("gp3"));
        assert_eq!((r.throughput, r.zone.as_deref()), (Some(250), Some("z")));
        assert_eq!(r.encrypted, Some(true), "a key implies encryption");
        assert_eq!(
            request(&[("ebstype", "sc1")])
                .unwrap()
                .volume_type
                .as_deref(),
            Some("sc1")
        );
        assert_eq!(request(&[]).unwrap(), Request::default());
    }

    #[test]
    fn sizes_are_whole_gib_rounded_up() {
        assert_eq!(request(&[("size", "10")]).unwrap().size_gib, Some(10));
        assert_eq!(request(&[("size", "1500MiB")]).unwrap().size_gib, Some(2));
        assert_eq!(request(&[("size", "1B")]).unwrap().size_gib, Some(1));
        assert_eq!(request(&[("size", "1TiB")]).unwrap().size_gib, Some(1024));
    }

    #[test]
    fn malformed_options_are_invalid_arguments() {
        for (pairs, says) in [
            (&[("type", "gp9")][..], "gp9"),
            (&[("iops", "many")][..], "iops"),
            (&[("iops", "99999999999")][..], "iops"),
            (&[("size", "-1")][..], "size"),
            (&[("encrypted", "perhaps")][..], "encrypted"),
            (
                &[("encrypted", "false"), ("kmskeyid", "k")][..],
                "encryptionkey needs an encrypted volume",
            ),
            (&[("fstype", "ntfs")][..], "fstype"),
            (
                &[("backing", "shared")][..],
                "backing=shared is not supported",
            ),
            (&[("zone", " ")][..], "availabilityzone is empty"),
            (&[("colour", "blue")][..], "colour"),
            (&[("type", "gp2"), ("volumetype", "gp3")][..], "given twice"),
        ] {
            let err = request(pairs).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{pairs:?}");
            assert!(err.message().contains(says), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn a_new_volume_takes_the_settings_defaults() {
        let s = spec(&[]).unwrap();
        assert_eq!(s, default_spec());
        let c = config(&[
            ("EBS_KMSKEYID", "k-default"),
            ("REXRAY_FSTYPE", "xfs"),
            ("default_type", "gp2"),
            ("default_size", "8"),
        ]);
        let s = request(&[]).unwrap().spec(&c, None).unwrap();
        assert_eq!((s.size_gib, s.volume_type.as_str()), (Some(8), "gp2"));
        assert_eq!(
            (s.encrypted, s.kms_key_id.as_deref()),
            (true, Some("k-default"))
        );
        assert_eq!(s.fs_type, "xfs");
        // Explicit options win over the defaults.
        let s = request(&[("encrypted", "false")])
            .unwrap()
            .spec(&c, None)
            .unwrap();
        assert_eq!((s.encrypted, s.kms_key_id), (false, None));
        let s = request(&[("kmskeyid", "mine")])
            .unwrap()
            .spec(&c, None)
            .unwrap();
        assert_eq!(s.kms_key_id.as_deref(), Some("mine"));
        let s = request(&[("encrypted", "true")])
            .unwrap()
            .spec(&config(&[]), None)
            .unwrap();
        assert_eq!(
            (s.encrypted, s.kms_key_id),
            (true, None),
            "the account's default key"
        );
    }

    #[test]
    fn a_new_volume_follows_ebs_rules() {
        for (pairs, says) in [
            (
                &[("type", "gp2"), ("iops", "3000")][..],
                "iops is not supported for gp2 volumes",
            ),
            (
                &[("type", "io1"), ("size", "10")][..],
                "io1 volumes need iops",
            ),
            (
                &[("type", "st1"), ("size", "10")][..],
                "st1 volumes must be at least 125 GiB (asked 10 GiB)",
            ),
            (
                &[("type", "st1")][..],
                "st1 volumes must be at least 125 GiB (asked 16 GiB)",
            ),
            (
                &[("throughput", "500"), ("type", "io2"), ("iops", "1000")][..],
                "throughput is only supported for gp3",
            ),
            (
                &[("throughput", "1000")][..],
                "throughput may be at most iops/4",
            ),
            (
                &[("iops", "8000"), ("size", "10")][..],
                "10 GiB allows 5000",
            ),
            (&[("size", "20000")][..], "at most 16384 GiB"),
        ] {
            let err = spec(pairs).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{pairs:?}");
            assert!(err.message().contains(says), "{pairs:?}: {err}");
        }
        let s = spec(&[("type", "io1"), ("iops", "400"), ("size", "10")]).unwrap();
        assert_eq!((s.volume_type.as_str(), s.iops), ("io1", Some(400)));
    }

    #[test]
    fn a_volume_from_a_snapshot_defaults_to_its_size() {
        let c = config(&[]);
        let s = request(&[("snapshot", "snap-1")])
            .unwrap()
            .spec(&c, Some(40))
            .unwrap();
        assert_eq!(s.size_gib, None, "the snapshot's size");
        let s = request(&[("size", "50")])
            .unwrap()
            .spec(&c, Some(40))
            .unwrap();
        assert_eq!(s.size_gib, Some(50));
        let err = request(&[("size", "10")])
            .unwrap()
            .spec(&c, Some(40))
            .unwrap_err();
        assert_eq!(
            err.message(),
            "the snapshot is 40 GiB; size must be at least that (asked 10 GiB)"
        );
        // The rules see the snapshot's size.
        let err = request(&[("type", "st1")])
            .unwrap()
            .spec(&c, Some(40))
            .unwrap_err();
        assert!(err.message().contains("(asked 40 GiB)"), "{err}");
    }

    #[test]
    fn an_existing_volume_matches_unless_an_option_differs() {
        let name = VolumeName::new("pgdata").unwrap();
        let v = volume();
        for pairs in [
            &[][..],
            &[
                ("size", "16"),
                ("type", "gp3"),
                ("iops", "3000"),
                ("throughput", "125"),
            ],
            &[
                ("encrypted", "true"),
                ("kmskeyid", "k-1"),
                ("zone", "us-east-1a"),
            ],
            &[("kmskeyid", "arn:aws:kms:us-east-1:123456789012:key/k-1")],
            &[
                ("kmskeyid", "alias/whatever"),
                ("fstype", "ext4"),
                ("preempt", "true"),
            ],
            &[("snapshot", "snap-other")],
        ] {
            request(pairs).unwrap().check_matches(&name, &v).unwrap();
        }
        let err = request(&[
            ("size", "20"),
            ("type", "io1"),
            ("iops", "100"),
            ("fstype", "xfs"),
        ])
        .unwrap()
        .check_matches(&name, &v)
        .unwrap_err();
        assert_eq!(err.kind(), "conflict");
        assert_eq!(
            err.message(),
            "volume pgdata (vol-1) exists with other options: size is 16 GiB (asked 20 GiB); \
             volumetype is gp3 (asked io1); iops is 3000 (asked 100); fstype is ext4 (asked xfs); \
             leave the options out to use it as it is, or pick another name"
        );
        for (pairs, says) in [
            (
                &[("throughput", "250")][..],
                "throughput is 125 (asked 250)",
            ),
            (
                &[("encrypted", "false")][..],
                "encrypted is true (asked false)",
            ),
            (
                &[("kmskeyid", "k-2")][..],
                "encryptionkey is arn:aws:kms:us-east-1:123456789012:key/k-1 (asked k-2)",
            ),
            (
                &[("zone", "us-east-1b")][..],
                "availabilityzone is us-east-1a (asked us-east-1b)",
            ),
        ] {
            let err = request(pairs)
                .unwrap()
                .check_matches(&name, &v)
                .unwrap_err();
            assert!(err.message().contains(says), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn a_relocated_volume_does_not_conflict_on_its_first_zone() {
        let name = VolumeName::new("pgdata").unwrap();
        let mut v = volume();
        v.tags.push((tags::RELOCATED_FROM.into(), "vol-0".into()));
        request(&[("zone", "us-east-1b")])
            .unwrap()
            .check_matches(&name, &v)
            .unwrap();
    }
}
