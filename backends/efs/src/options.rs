//! Volume options (`docker volume create --opt k=v`) in the spellings of
//! REX-Ray's efs driver, Cloudstor and the EFS CSI driver, any case: which
//! of the two kinds of volume to make ([`Mode`]), what it is made with, and
//! whether an existing volume is what was asked for.
//!
//! Pure: no capability is called. Everything is checked before anything is
//! created (unknown options, bad values, options of the other mode), so a
//! bad option leaves nothing behind.

use ballast_sdk::efs::{CreateFileSystemRequest, FileSystem, Tag};
use ballast_sdk::{Error, Options, Result, VolumeName, kms};

use crate::names;
use crate::settings::Config;
use crate::volume::EfsVolume;

/// Performance modes, as EFS spells them.
pub const PERFORMANCE_MODES: [&str; 2] = ["generalPurpose", "maxIO"];
/// Throughput modes, as EFS spells them.
pub const THROUGHPUT_MODES: [&str; 3] = ["bursting", "provisioned", "elastic"];
/// An access point's root directory mode when `permissions` is not given.
pub const DEFAULT_PERMISSIONS: u16 = 0o755;
/// The only `backing` Cloudstor users may ask for here (its EFS volumes),
/// and why.
const BACKING: &str = "shared";
const BACKING_WHY: &str = "every EFS volume is shared (mounted by any number of hosts at once); \
     for relocatable volumes use the ebs backend";

/// The two kinds of volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// An access point (and its directory) in a shared file system: the EFS
    /// CSI driver's way.
    AccessPoint,
    /// A file system of its own: REX-Ray's and Cloudstor's way.
    FileSystem,
}

impl Mode {
    /// The `mode` option's spelling, also shown in the volume's status.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::AccessPoint => "accesspoint",
            Mode::FileSystem => "filesystem",
        }
    }
}

/// What the options asked of an access point volume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApOptions {
    /// The file system to put it in: `filesystemid`, else `EFS_FILESYSTEMID`.
    pub file_system_id: String,
    /// True when `filesystemid` named it (then it must match).
    pub file_system_given: bool,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub permissions: Option<u16>,
    pub purge: Option<bool>,
}

/// What the options asked of a file system volume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FsOptions {
    pub performance_mode: Option<String>,
    pub throughput_mode: Option<String>,
    pub provisioned_mibps: Option<u32>,
    /// `encrypted`, or true when a key was given.
    pub encrypted: Option<bool>,
    pub kms_key_id: Option<String>,
    /// One Zone: the zone it lives in.
    pub zone: Option<String>,
}

/// The options of one mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    AccessPoint(ApOptions),
    FileSystem(FsOptions),
}

/// What `create` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub kind: Kind,
    /// True when the options chose the mode (`mode=`, `filesystemid=`):
    /// an existing volume of the other mode then conflicts.
    pub mode_given: bool,
    /// True when an option of the mode was given (beyond choosing it).
    pub options_given: bool,
}

/// A new access point volume, complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApSpec {
    pub file_system_id: String,
    pub root_path: String,
    pub uid: u32,
    pub gid: u32,
    pub permissions: u16,
    /// Enforced on every request through the access point when `uid` or
    /// `gid` was given (as the EFS CSI driver does).
    pub posix_user: Option<(u32, u32)>,
    pub purge: bool,
}

/// Option keys as taken (first spelling), by the mode they belong to.
const AP_KEYS: [&str; 4] = ["uid", "gid", "permissions", "purge"];
const FS_KEYS: [&str; 6] = [
    "perfmode",
    "throughputmode",
    "provisionedthroughput",
    "encrypted",
    "kmskeyid",
    "zone",
];

impl Request {
    /// Read every option this backend knows and decide the mode; unknown
    /// options, malformed values, options of the other mode and
    /// contradictions are `invalid-argument`.
    pub fn from_options(config: &Config, mut options: Options) -> Result<Request> {
        let mode = options.take_one_of(
            &["mode"],
            &[Mode::AccessPoint.as_str(), Mode::FileSystem.as_str()],
        )?;
        let file_system_id = options.take(&["filesystemid"])?;
        let uid = options.take_u64(&["uid"])?;
        let gid = options.take_u64(&["gid"])?;
        let permissions = options.take(&["permissions", "directoryperms"])?;
        let purge = options.take_bool(&["purge"])?;
        let performance_mode = options.take_one_of(
            &["perfmode", "performancemode", "volumetype"],
            &PERFORMANCE_MODES,
        )?;
        let throughput_mode = options.take_one_of(&["throughputmode"], &THROUGHPUT_MODES)?;
        let provisioned =
            options.take_u64(&["provisionedthroughput", "provisionedthroughputinmibps"])?;
        let encrypted = options.take_bool(&["encrypted"])?;
        let kms_key_id = options.take_non_empty(&["kmskeyid", "encryptionkey"])?;
        let zone = options.take_non_empty(&["zone", "availabilityzone"])?;
        options.take_only(&["backing"], BACKING, BACKING_WHY)?;
        options.finish()?;

        let ap_given: Vec<&str> = AP_KEYS
            .iter()
            .zip([
                uid.is_some(),
                gid.is_some(),
                permissions.is_some(),
                purge.is_some(),
            ])
            .filter_map(|(key, given)| given.then_some(*key))
            .collect();
        let fs_given: Vec<&str> = FS_KEYS
            .iter()
            .zip([
                performance_mode.is_some(),
                throughput_mode.is_some(),
                provisioned.is_some(),
                encrypted.is_some(),
                kms_key_id.is_some(),
                zone.is_some(),
            ])
            .filter_map(|(key, given)| given.then_some(*key))
            .collect();

        let file_system_id = file_system_id
            .map(|id| names::check_file_system_id("option filesystemid", &id))
            .transpose()?;
        let mode_given = mode.is_some() || file_system_id.is_some();
        let chosen = choose_mode(config, mode.as_deref(), file_system_id)?;
        let kind = match chosen {
            Some((file_system_id, file_system_given)) => {
                refuse_others(&fs_given, || {
                    let how = if file_system_given {
                        "leave out filesystemid"
                    } else {
                        "give mode=filesystem"
                    };
                    format!(
                        "this volume would be an access point in {file_system_id}; {how} to \
                         make it a file system of its own"
                    )
                })?;
                Kind::AccessPoint(ApOptions {
                    file_system_id,
                    file_system_given,
                    uid: uid.map(|v| id("uid", v)).transpose()?,
                    gid: gid.map(|v| id("gid", v)).transpose()?,
                    permissions: permissions.as_deref().map(parse_permissions).transpose()?,
                    purge,
                })
            }
            None => {
                refuse_others(&ap_given, || {
                    "this volume would be a file system of its own; set EFS_FILESYSTEMID or give \
                     filesystemid=fs-… to make it an access point in a shared file system"
                        .to_owned()
                })?;
                Kind::FileSystem(fs_options(
                    performance_mode,
                    throughput_mode,
                    provisioned,
                    encrypted,
                    kms_key_id,
                    zone,
                )?)
            }
        };
        Ok(Request {
            kind,
            mode_given,
            options_given: !ap_given.is_empty() || !fs_given.is_empty(),
        })
    }

    /// The mode asked for.
    pub fn mode(&self) -> Mode {
        match self.kind {
            Kind::AccessPoint(_) => Mode::AccessPoint,
            Kind::FileSystem(_) => Mode::FileSystem,
        }
    }

    /// `conflict` naming every difference between these options and the
    /// volume `name` already is; options not given never conflict.
    pub fn check_matches(&self, name: &VolumeName, volume: &EfsVolume) -> Result<()> {
        let differences = self.differences(volume);
        if differences.is_empty() {
            return Ok(());
        }
        Err(Error::conflict(format!(
            "volume {name} ({}) exists with other options: {}; leave the options out to use \
             it as it is, or pick another name",
            volume.id(),
            differences.join("; ")
        )))
    }

    fn differences(&self, volume: &EfsVolume) -> Vec<String> {
        match (&self.kind, &volume.access_point) {
            (Kind::AccessPoint(asked), Some(point)) => {
                let mut found = Vec::new();
                let mut differs = |what: &str, is: String, asked: String| {
                    if is != asked {
                        found.push(format!("{what} is {is} (asked {asked})"));
                    }
                };
                if asked.file_system_given {
                    differs(
                        "filesystemid",
                        point.file_system_id.clone(),
                        asked.file_system_id.clone(),
                    );
                }
                let info = point.root_directory.creation_info.as_ref();
                let show = |v: Option<String>| v.unwrap_or_else(|| "none".into());
                if let Some(uid) = asked.uid {
                    differs(
                        "uid",
                        show(info.map(|i| i.owner_uid.to_string())),
                        uid.to_string(),
                    );
                }
                if let Some(gid) = asked.gid {
                    differs(
                        "gid",
                        show(info.map(|i| i.owner_gid.to_string())),
                        gid.to_string(),
                    );
                }
                if let Some(mode) = asked.permissions {
                    let is = info.map(|i| i.permissions.clone());
                    let same = is.as_deref().and_then(|p| parse_permissions(p).ok()) == Some(mode);
                    if !same {
                        differs("permissions", show(is), octal(mode));
                    }
                }
                if let Some(purge) = asked.purge {
                    let is = point.tag(names::PURGE_TAG) == Some("true");
                    differs("purge", is.to_string(), purge.to_string());
                }
                found
            }
            (Kind::FileSystem(asked), None) => fs_differences(asked, &volume.file_system),
            _ if self.mode_given || self.options_given => vec![format!(
                "mode is {} (asked {})",
                volume.describe_mode(),
                self.mode().as_str()
            )],
            _ => Vec::new(),
        }
    }
}

impl ApOptions {
    /// The new access point for volume `name`, with the defaults (owner
    /// 0:0, mode 755) and its directory under `EFS_BASEPATH`.
    pub fn spec(&self, config: &Config, name: &VolumeName) -> Result<ApSpec> {
        let posix_user = (self.uid.is_some() || self.gid.is_some())
            .then(|| (self.uid.unwrap_or(0), self.gid.unwrap_or(0)));
        Ok(ApSpec {
            file_system_id: self.file_system_id.clone(),
            root_path: names::root_path(&config.base_path, name)?,
            uid: self.uid.unwrap_or(0),
            gid: self.gid.unwrap_or(0),
            permissions: self.permissions.unwrap_or(DEFAULT_PERMISSIONS),
            posix_user,
            purge: self.purge.unwrap_or(false),
        })
    }
}

impl FsOptions {
    /// CreateFileSystem for these options (EFS's defaults where none).
    pub fn request(&self, creation_token: String, tags: Vec<Tag>) -> CreateFileSystemRequest {
        CreateFileSystemRequest {
            creation_token,
            performance_mode: self.performance_mode.clone(),
            throughput_mode: self.throughput_mode.clone(),
            provisioned_throughput_mibps: self.provisioned_mibps,
            encrypted: self.encrypted.unwrap_or(false),
            kms_key_id: self.kms_key_id.clone(),
            availability_zone: self.zone.clone(),
            tags,
        }
    }
}

/// `Some((file system, named by an option))` for an access point volume,
/// `None` for a file system of its own.
fn choose_mode(
    config: &Config,
    mode: Option<&str>,
    option_id: Option<String>,
) -> Result<Option<(String, bool)>> {
    let file_system = "filesystem";
    match (mode, option_id, &config.file_system_id) {
        (Some(m), Some(id), _) if m == file_system => Err(Error::invalid_argument(format!(
            "filesystemid={id} puts the volume in that file system as an access point, but \
             mode=filesystem makes it a file system of its own; give one of them"
        ))),
        (Some(m), None, _) if m == file_system => Ok(None),
        (_, Some(id), _) => Ok(Some((id, true))),
        (_, None, Some(id)) => Ok(Some((id.clone(), false))),
        (Some(_), None, None) => Err(Error::invalid_argument(
            "mode=accesspoint needs a file system to put the access point in: give \
             filesystemid=fs-… or set EFS_FILESYSTEMID",
        )),
        (None, None, None) => Ok(None),
    }
}

/// `invalid-argument` naming the options of the other mode that were given.
fn refuse_others(given: &[&str], why: impl FnOnce() -> String) -> Result<()> {
    if given.is_empty() {
        return Ok(());
    }
    let (noun, verb) = if given.len() == 1 {
        ("option", "does")
    } else {
        ("options", "do")
    };
    Err(Error::invalid_argument(format!(
        "{noun} {} {verb} not apply: {}",
        given.join(", "),
        why()
    )))
}

fn fs_options(
    performance_mode: Option<String>,
    throughput_mode: Option<String>,
    provisioned: Option<u64>,
    encrypted: Option<bool>,
    kms_key_id: Option<String>,
    zone: Option<String>,
) -> Result<FsOptions> {
    if kms_key_id.is_some() && encrypted == Some(false) {
        return Err(Error::invalid_argument(
            "kmskeyid needs an encrypted file system; drop encrypted=false",
        ));
    }
    let provisioned = provisioned
        .map(|mibps| match u32::try_from(mibps) {
            Ok(mibps) if mibps >= 1 => Ok(mibps),
            _ => Err(Error::invalid_argument(format!(
                "option provisionedthroughput: {mibps} MiB/s is out of range (at least 1)"
            ))),
        })
        .transpose()?;
    // A provisioned throughput implies the provisioned mode.
    let throughput_mode = throughput_mode.or(provisioned.map(|_| "provisioned".to_owned()));
    match (throughput_mode.as_deref(), provisioned) {
        (Some("provisioned"), None) => {
            return Err(Error::invalid_argument(
                "throughputmode=provisioned needs provisionedthroughput=<MiB/s>",
            ));
        }
        (Some(mode), Some(_)) if mode != "provisioned" => {
            return Err(Error::invalid_argument(format!(
                "provisionedthroughput is only for throughputmode=provisioned (asked {mode})"
            )));
        }
        _ => {}
    }
    if performance_mode.as_deref() == Some("maxIO") {
        if throughput_mode.as_deref() == Some("elastic") {
            return Err(Error::invalid_argument(
                "perfmode=maxIO does not go with throughputmode=elastic (EFS refuses it); \
                 use generalPurpose or another throughput mode",
            ));
        }
        if let Some(zone) = &zone {
            return Err(Error::invalid_argument(format!(
                "perfmode=maxIO is not available for One Zone file systems (zone={zone}); \
                 use generalPurpose or leave out zone"
            )));
        }
    }
    Ok(FsOptions {
        performance_mode,
        throughput_mode,
        provisioned_mibps: provisioned,
        encrypted: encrypted.or(kms_key_id.as_ref().map(|_| true)),
        kms_key_id,
        zone,
    })
}

fn fs_differences(asked: &FsOptions, fs: &FileSystem) -> Vec<String> {
    let mut found = Vec::new();
    let mut differs = |what: &str, is: String, asked: String| {
        if is != asked {
            found.push(format!("{what} is {is} (asked {asked})"));
        }
    };
    if let Some(mode) = &asked.performance_mode {
        differs("perfmode", fs.performance_mode.clone(), mode.clone());
    }
    if let Some(mode) = &asked.throughput_mode {
        differs("throughputmode", fs.throughput_mode.clone(), mode.clone());
    }
    if let Some(mibps) = asked.provisioned_mibps {
        let is = fs
            .provisioned_throughput_mibps
            .map_or_else(|| "none".into(), |v| v.to_string());
        differs("provisionedthroughput", is, mibps.to_string());
    }
    if let Some(encrypted) = asked.encrypted {
        differs("encrypted", fs.encrypted.to_string(), encrypted.to_string());
    }
    if let Some(key) = &asked.kms_key_id
        && !kms::same_key(key, fs.kms_key_id.as_deref())
    {
        let is = fs.kms_key_id.clone().unwrap_or_else(|| "none".into());
        differs("kmskeyid", is, key.clone());
    }
    if let Some(zone) = &asked.zone {
        let is = fs
            .availability_zone
            .clone()
            .unwrap_or_else(|| "none (Regional)".into());
        differs("zone", is, zone.clone());
    }
    found
}

/// A POSIX id as EFS takes it (32 bits).
fn id(option: &str, value: u64) -> Result<u32> {
    u32::try_from(value).map_err(|_| {
        Error::invalid_argument(format!(
            "option {option}: {value} is too large (at most 4294967295)"
        ))
    })
}

/// A directory mode as EFS takes it: 3 or 4 octal digits, e.g. 755, 0750,
/// 2770.
pub fn parse_permissions(text: &str) -> Result<u16> {
    let digits = text.trim();
    let ok = (3..=4).contains(&digits.len()) && digits.bytes().all(|b| (b'0'..=b'7').contains(&b));
    if !ok {
        return Err(Error::invalid_argument(format!(
            "option permissions {text:?}: expected an octal mode of 3 or 4 digits, e.g. 755 or 0750"
        )));
    }
    u16::from_str_radix(digits, 8).map_err(|_| Error::internal("octal digits did not parse"))
}

/// A mode as EFS's CreationInfo and the host's `ballast-mkdir` take it:
/// at least three octal digits ("755", "2770").
pub fn octal(mode: u16) -> String {
    format!("{mode:03o}")
}

#[cfg(test)]
mod tests {
    use ballast_sdk::efs::{AccessPoint, CreationInfo, LifeCycleState};

    use super::*;
    use crate::settings::tests::config;

    const FS: &str = "fs-0123456789abcdef0";

    fn request(settings: &[(&str, &str)], pairs: &[(&str, &str)]) -> Result<Request> {
        Request::from_options(
            &config(settings).unwrap(),
            Options::options(pairs.iter().copied()),
        )
    }

    fn ap(settings: &[(&str, &str)], pairs: &[(&str, &str)]) -> ApOptions {
        match request(settings, pairs).unwrap().kind {
            Kind::AccessPoint(ap) => ap,
            other => panic!("not an access point: {other:?}"),
        }
    }

    fn fs(pairs: &[(&str, &str)]) -> Result<FsOptions> {
        match request(&[], pairs)?.kind {
            Kind::FileSystem(fs) => Ok(fs),
            other => panic!("not a file system: {other:?}"),
        }
    }

    fn name() -> VolumeName {
        VolumeName::new("pgdata").unwrap()
    }

    #[test]
    fn the_mode_follows_the_settings_and_the_options() {
        let with_fs = [("EFS_FILESYSTEMID", FS)];
        for (settings, pairs, mode, given) in [
            (&[][..], &[][..], Mode::FileSystem, false),
            (&with_fs[..], &[][..], Mode::AccessPoint, false),
            (
                &[][..],
                &[("FileSystemId", FS)][..],
                Mode::AccessPoint,
                true,
            ),
            (
                &with_fs[..],
                &[("mode", "FileSystem")][..],
                Mode::FileSystem,
                true,
            ),
            (
                &with_fs[..],
                &[("mode", "accesspoint")][..],
                Mode::AccessPoint,
                true,
            ),
            (
                &[][..],
                &[("mode", "filesystem")][..],
                Mode::FileSystem,
                true,
            ),
        ] {
            let r = request(settings, pairs).unwrap();
            assert_eq!(
                (r.mode(), r.mode_given),
                (mode, given),
                "{settings:?} {pairs:?}"
            );
        }
        // An option's file system wins over the settings'.
        let other = "fs-00000000000000001";
        let a = ap(&with_fs, &[("filesystemid", other)]);
        assert_eq!(
            (a.file_system_id.as_str(), a.file_system_given),
            (other, true)
        );
        let a = ap(&with_fs, &[]);
        assert_eq!(
            (a.file_system_id.as_str(), a.file_system_given),
            (FS, false)
        );
    }

    #[test]
    fn contradictory_modes_are_refused() {
        for (settings, pairs, says) in [
            (
                &[][..],
                &[("mode", "filesystem"), ("filesystemid", FS)][..],
                "give one of them",
            ),
            (
                &[][..],
                &[("mode", "accesspoint")][..],
                "needs a file system",
            ),
            (
                &[][..],
                &[("mode", "shared")][..],
                "not one of accesspoint, filesystem",
            ),
            (
                &[][..],
                &[("filesystemid", "efs-1")][..],
                "option filesystemid",
            ),
        ] {
            let err = request(settings, pairs).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{pairs:?}");
            assert!(err.message().contains(says), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn access_point_options_in_every_spelling() {
        let a = ap(
            &[("EFS_FILESYSTEMID", FS)],
            &[
                ("UID", "1000"),
                ("gid", "50"),
                ("DirectoryPerms", "0750"),
                ("purge", "yes"),
            ],
        );
        assert_eq!(
            a,
            ApOptions {
                file_system_id: FS.into(),
                file_system_given: false,
                uid: Some(1000),
                gid: Some(50),
                permissions: Some(0o750),
                purge: Some(true),
            }
        );
        let a = ap(&[("EFS_FILESYSTEMID", FS)], &[("permissions", "2770")]);
        assert_eq!(a.permissions, Some(0o2770));
    }

    #[test]
    fn an_access_point_spec_takes_the_defaults() {
        let c = config(&[("EFS_FILESYSTEMID", FS), ("EFS_BASEPATH", "/vols")]).unwrap();
        let s = ap(&[("EFS_FILESYSTEMID", FS)], &[])
            .spec(&c, &name())
            .unwrap();
        assert_eq!(
            s,
            ApSpec {
                file_system_id: FS.into(),
                root_path: "/vols/pgdata".into(),
                uid: 0,
                gid: 0,
                permissions: 0o755,
                posix_user: None,
                purge: false,
            }
        );
        // A uid or gid makes a POSIX user too, as the EFS CSI driver does.
        let s = ap(&[("EFS_FILESYSTEMID", FS)], &[("uid", "1000")])
            .spec(&c, &name())
            .unwrap();
        assert_eq!((s.uid, s.gid, s.posix_user), (1000, 0, Some((1000, 0))));
        let s = ap(&[("EFS_FILESYSTEMID", FS)], &[("gid", "50")])
            .spec(&c, &name())
            .unwrap();
        assert_eq!(s.posix_user, Some((0, 50)));
        let long = VolumeName::new(&"x".repeat(100)).unwrap();
        let err = ap(&[("EFS_FILESYSTEMID", FS)], &[])
            .spec(&c, &long)
            .unwrap_err();
        assert!(err.message().contains("at most 100"), "{err}");
    }

    #[test]
    fn file_system_options_in_every_spelling() {
        let f = fs(&[
            ("PerfMode", "maxio"),
            ("ThroughputMode", "Provisioned"),
            ("ProvisionedThroughput", "128"),
            ("encrypted", "true"),
            ("KmsKeyId", "alias/efs"),
        ])
        .unwrap();
        assert_eq!(
            f,
            FsOptions {
                performance_mode: Some("maxIO".into()),
                throughput_mode: Some("provisioned".into()),
                provisioned_mibps: Some(128),
                encrypted: Some(true),
                kms_key_id: Some("alias/efs".into()),
                zone: None,
            }
        );
        // REX-Ray's volumetype; Cloudstor's encryptionkey; a key implies encryption.
        let f = fs(&[
            ("volumetype", "GeneralPurpose"),
            ("encryptionkey", "k-1"),
            ("availabilityzone", "us-east-1a"),
        ])
        .unwrap();
        assert_eq!(f.performance_mode.as_deref(), Some("generalPurpose"));
        assert_eq!(
            (f.encrypted, f.kms_key_id.as_deref()),
            (Some(true), Some("k-1"))
        );
        assert_eq!(f.zone.as_deref(), Some("us-east-1a"));
        // Cloudstor's shared volumes: backing=shared, perfmode=maxio.
        let f = fs(&[("backing", "Shared"), ("perfmode", "maxio")]).unwrap();
        assert_eq!(f.performance_mode.as_deref(), Some("maxIO"));
        // A provisioned throughput implies the provisioned mode.
        let f = fs(&[("provisionedthroughput", "64")]).unwrap();
        assert_eq!(f.throughput_mode.as_deref(), Some("provisioned"));
        assert_eq!(fs(&[]).unwrap(), FsOptions::default());
        let r = fs(&[("throughputmode", "elastic")])
            .unwrap()
            .request("t".into(), vec![]);
        assert_eq!(
            (
                r.throughput_mode.as_deref(),
                r.encrypted,
                r.performance_mode
            ),
            (Some("elastic"), false, None)
        );
    }

    #[test]
    fn bad_file_system_options_name_the_option() {
        for (pairs, says) in [
            (&[("perfmode", "fast")][..], "perfmode"),
            (&[("throughputmode", "burst")][..], "throughputmode"),
            (
                &[("throughputmode", "provisioned")][..],
                "needs provisionedthroughput",
            ),
            (
                &[
                    ("throughputmode", "elastic"),
                    ("provisionedthroughput", "10"),
                ][..],
                "only for throughputmode=provisioned (asked elastic)",
            ),
            (
                &[("provisionedthroughput", "0")][..],
                "provisionedthroughput",
            ),
            (
                &[("provisionedthroughput", "lots")][..],
                "provisionedthroughput",
            ),
            (&[("encrypted", "perhaps")][..], "encrypted"),
            (
                &[("encrypted", "false"), ("kmskeyid", "k")][..],
                "kmskeyid needs an encrypted",
            ),
            (
                &[("perfmode", "maxIO"), ("throughputmode", "elastic")][..],
                "maxIO does not go",
            ),
            (
                &[("perfmode", "maxIO"), ("zone", "us-east-1a")][..],
                "One Zone",
            ),
            (&[("zone", " ")][..], "option zone is empty"),
            (&[("size", "10")][..], "unknown option \"size\""),
            (&[("backing", "relocatable")][..], "use backing=shared"),
        ] {
            let err = fs(pairs).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{pairs:?}");
            assert!(err.message().contains(says), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn options_of_the_other_mode_are_refused_by_name() {
        let err = request(&[], &[("uid", "1000"), ("purge", "true")]).unwrap_err();
        assert_eq!(err.kind(), "invalid-argument");
        assert!(
            err.message().starts_with("options uid, purge do not apply"),
            "{err}"
        );
        assert!(err.message().contains("EFS_FILESYSTEMID"), "{err}");
        let err = request(&[("EFS_FILESYSTEMID", FS)], &[("perfmode", "maxIO")]).unwrap_err();
        assert!(
            err.message().starts_with("option perfmode does not apply"),
            "{err}"
        );
        assert!(err.message().contains("give mode=filesystem"), "{err}");
        let err = request(&[], &[("filesystemid", FS), ("encrypted", "true")]).unwrap_err();
        assert!(err.message().contains("leave out filesystemid"), "{err}");
        // The unknown-option message lists both modes' options.
        let err = request(&[], &[("colour", "blue")]).unwrap_err();
        for known in [
            "mode",
            "filesystemid",
            "uid",
            "permissions",
            "perfmode",
            "zone",
        ] {
            assert!(err.message().contains(known), "{known}: {err}");
        }
    }

    #[test]
    fn bad_access_point_options_name_the_option() {
        let with_fs = [("EFS_FILESYSTEMID", FS)];
        for (pairs, says) in [
            (&[("uid", "-1")][..], "uid"),
            (
                &[("gid", "4294967296")][..],
                "option gid: 4294967296 is too large",
            ),
            (&[("permissions", "999")][..], "octal mode of 3 or 4 digits"),
            (&[("permissions", "75")][..], "octal"),
            (&[("directoryperms", "07555")][..], "octal"),
            (&[("purge", "sometimes")][..], "purge"),
        ] {
            let err = request(&with_fs, pairs).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{pairs:?}");
            assert!(err.message().contains(says), "{pairs:?}: {err}");
        }
    }

    fn point(uid: u32, gid: u32, permissions: &str) -> EfsVolume {
        let mut point =
            AccessPoint::sample("fsap-1", FS, "/ballast/pgdata", LifeCycleState::Available);
        point.root_directory.creation_info = Some(CreationInfo {
            owner_uid: uid,
            owner_gid: gid,
            permissions: permissions.into(),
        });
        EfsVolume {
            file_system: FileSystem::sample(FS, LifeCycleState::Available),
            access_point: Some(point),
        }
    }

    fn own(fs: FileSystem) -> EfsVolume {
        EfsVolume {
            file_system: fs,
            access_point: None,
        }
    }

    #[test]
    fn an_existing_access_point_matches_unless_an_option_differs() {
        let with_fs = [("EFS_FILESYSTEMID", FS)];
        let v = point(1000, 50, "0750");
        for pairs in [
            &[][..],
            &[("uid", "1000"), ("gid", "50"), ("permissions", "750")],
            &[
                ("permissions", "0750"),
                ("purge", "false"),
                ("filesystemid", FS),
            ],
        ] {
            request(&with_fs, pairs)
                .unwrap()
                .check_matches(&name(), &v)
                .unwrap();
        }
        let err = request(
            &with_fs,
            &[("uid", "0"), ("permissions", "700"), ("purge", "true")],
        )
        .unwrap()
        .check_matches(&name(), &v)
        .unwrap_err();
        assert_eq!(err.kind(), "conflict");
        assert_eq!(
            err.message(),
            "volume pgdata (fsap-1) exists with other options: uid is 1000 (asked 0); \
             permissions is 0750 (asked 700); purge is false (asked true); leave the options \
             out to use it as it is, or pick another name"
        );
        let err = request(&[], &[("filesystemid", "fs-00000000000000001")])
            .unwrap()
            .check_matches(&name(), &v)
            .unwrap_err();
        assert!(
            err.message().contains(&format!(
                "filesystemid is {FS} (asked fs-00000000000000001)"
            )),
            "{err}"
        );
        // Tagged purge matches purge=true.
        let mut tagged = point(0, 0, "755");
        tagged
            .access_point
            .as_mut()
            .unwrap()
            .tags
            .push((names::PURGE_TAG.into(), "true".into()));
        request(&with_fs, &[("purge", "true")])
            .unwrap()
            .check_matches(&name(), &tagged)
            .unwrap();
    }

    #[test]
    fn an_existing_file_system_matches_unless_an_option_differs() {
        let mut f = FileSystem::sample(FS, LifeCycleState::Available);
        f.encrypted = true;
        f.kms_key_id = Some("arn:aws:kms:us-east-1:123456789012:key/k-1".into());
        f.throughput_mode = "provisioned".into();
        f.provisioned_throughput_mibps = Some(64);
        let v = own(f);
        for pairs in [
            &[][..],
            &[
                ("perfmode", "generalpurpose"),
                ("encrypted", "true"),
                ("kmskeyid", "k-1"),
            ],
            &[("provisionedthroughput", "64"), ("kmskeyid", "alias/any")],
        ] {
            request(&[], pairs)
                .unwrap()
                .check_matches(&name(), &v)
                .unwrap();
        }
        let err = request(
            &[],
            &[
                ("perfmode", "maxIO"),
                ("provisionedthroughput", "128"),
                ("encrypted", "false"),
            ],
        )
        .unwrap()
        .check_matches(&name(), &v)
        .unwrap_err();
        assert_eq!(err.kind(), "conflict");
        assert_eq!(
            err.message(),
            format!(
                "volume pgdata ({FS}) exists with other options: perfmode is generalPurpose \
                 (asked maxIO); provisionedthroughput is 64 (asked 128); encrypted is true \
                 (asked false); leave the options out to use it as it is, or pick another name"
            )
        );
        let err = request(&[], &[("zone", "us-east-1a")])
            .unwrap()
            .check_matches(&name(), &v)
            .unwrap_err();
        assert!(
            err.message()
                .contains("zone is none (Regional) (asked us-east-1a)"),
            "{err}"
        );
        let err = request(&[], &[("kmskeyid", "k-2")])
            .unwrap()
            .check_matches(&name(), &v)
            .unwrap_err();
        assert!(err.message().contains("kmskeyid is arn:aws:kms"), "{err}");
    }

    #[test]
    fn a_volume_of_the_other_mode_conflicts_only_when_asked_for() {
        let with_fs = [("EFS_FILESYSTEMID", FS)];
        let own_fs = own(FileSystem::sample(
            "fs-00000000000000002",
            LifeCycleState::Available,
        ));
        // The settings changed since the volume was made: no options, no conflict.
        request(&with_fs, &[])
            .unwrap()
            .check_matches(&name(), &own_fs)
            .unwrap();
        request(&[], &[])
            .unwrap()
            .check_matches(&name(), &point(0, 0, "755"))
            .unwrap();
        let err = request(&with_fs, &[("uid", "1")])
            .unwrap()
            .check_matches(&name(), &own_fs)
            .unwrap_err();
        assert!(
            err.message()
                .contains("mode is filesystem (asked accesspoint)"),
            "{err}"
        );
        let err = request(&with_fs, &[("mode", "filesystem")])
            .unwrap()
            .check_matches(&name(), &point(0, 0, "755"))
            .unwrap_err();
        assert!(
            err.message()
                .contains(&format!("mode is accesspoint in {FS} (asked filesystem)")),
            "{err}"
        );
    }

    #[test]
    fn modes_print_as_efs_and_the_host_read_them() {
        assert_eq!(octal(0o755), "755");
        assert_eq!(octal(0o2770), "2770");
        assert_eq!(octal(0o7), "007");
        assert_eq!(parse_permissions(" 0755 ").unwrap(), 0o755);
        assert_eq!(parse_permissions("7777").unwrap(), 0o7777);
    }
}
