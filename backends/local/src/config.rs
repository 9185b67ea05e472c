//! The local backend's settings, its volume options and the size limits.
//!
//! Everything here is checked before anything is created, so a bad option
//! never leaves an image behind. Pure: no capability is called.

use ballast_sdk::{Error, Options, Result, Settings, format_size};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Largest volume: far more than a local disk holds, small enough that a
/// typo (`1PiB`) is caught here rather than by the host.
const MAX_SIZE: u64 = 16 << 40;

/// Filesystems the host can create on a volume.
const FS_TYPES: [&str; 2] = ["ext4", "xfs"];

/// Smallest volume `fs_type` can be made on: mkfs.xfs refuses anything
/// under 300 MiB; ext4 works much smaller, 16 MiB keeps it useful.
fn min_size(fs_type: &str) -> u64 {
    match fs_type {
        "xfs" => 300 * MIB,
        _ => 16 * MIB,
    }
}

/// `size_bytes` rounded up to a whole MiB, as the host rounds images (so
/// sizes compare like with like); `invalid-argument` unless it suits
/// `fs_type`.
pub fn checked_size(size_bytes: u64, fs_type: &str) -> Result<u64> {
    let min = min_size(fs_type);
    if size_bytes < min {
        return Err(Error::invalid_argument(format!(
            "size {} is too small for {fs_type}: the minimum is {}",
            format_size(size_bytes),
            format_size(min)
        )));
    }
    if size_bytes > MAX_SIZE {
        return Err(Error::invalid_argument(format!(
            "size {} is over the maximum of {}",
            format_size(size_bytes),
            format_size(MAX_SIZE)
        )));
    }
    Ok(size_bytes.div_ceil(MIB) * MIB)
}

/// What a volume gets when `create` does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    pub size_bytes: u64,
    pub fs_type: String,
}

impl Defaults {
    /// Read `default_size` (1 GiB) and `default_fstype` (ext4). Unknown
    /// settings are refused, as the contract asks: the host passes this
    /// backend only its own settings table.
    pub fn from_settings(mut settings: Settings) -> Result<Defaults> {
        let size_bytes = settings.take_size(&["default_size"])?.unwrap_or(GIB);
        let fs_type = settings
            .take_one_of(&["default_fstype"], &FS_TYPES)?
            .unwrap_or_else(|| "ext4".into());
        settings.finish()?;
        let size_bytes = checked_size(size_bytes, &fs_type).map_err(|err| {
            Error::invalid_argument(format!("setting default_size: {}", err.message()))
        })?;
        Ok(Defaults {
            size_bytes,
            fs_type,
        })
    }
}

/// The options `create` was given, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Explicit `size` (rounded up to a whole MiB), if given.
    pub size_bytes: Option<u64>,
    /// Explicit `fstype`, if given.
    pub fs_type: Option<String>,
    /// Size for a new volume: the explicit one or the default.
    pub new_size: u64,
    /// Filesystem for a new volume: the explicit one or the default.
    pub new_fs_type: String,
}

impl Request {
    /// Read `size` and `fstype`; refuse unknown options and sizes the
    /// filesystem cannot have.
    pub fn from_options(mut options: Options, defaults: &Defaults) -> Result<Request> {
        let size_bytes = options.take_size(&["size"])?;
        let fs_type = options.take_one_of(&["fstype"], &FS_TYPES)?;
        options.finish()?;
        let new_fs_type = fs_type.clone().unwrap_or_else(|| defaults.fs_type.clone());
        let new_size = checked_size(size_bytes.unwrap_or(defaults.size_bytes), &new_fs_type)?;
        // An explicit size is what new_size was made from.
        let size_bytes = size_bytes.map(|_| new_size);
        Ok(Request {
            size_bytes,
            fs_type,
            new_size,
            new_fs_type,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults {
            size_bytes: GIB,
            fs_type: "ext4".into(),
        }
    }

    fn request(pairs: &[(&str, &str)]) -> Result<Request> {
        Request::from_options(Options::options(pairs.iter().copied()), &defaults())
    }

    #[test]
    fn settings_have_defaults_and_are_checked() {
        assert_eq!(
            Defaults::from_settings(Settings::settings(Vec::<(String, String)>::new())).unwrap(),
            defaults()
        );
        let custom = Defaults::from_settings(Settings::settings([
            ("DEFAULT_SIZE", "2GiB"),
            ("default_fstype", "xfs"),
        ]))
        .unwrap();
        assert_eq!(
            custom,
            Defaults {
                size_bytes: 2 * GIB,
                fs_type: "xfs".into()
            }
        );
        for bad in [
            [("default_size", "abc")],
            [("default_sise", "1")],
            [("default_fstype", "ntfs")],
            [("default_size", "1MiB")],
        ] {
            let err = Defaults::from_settings(Settings::settings(bad)).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{bad:?}");
        }
        let err = Defaults::from_settings(Settings::settings([
            ("default_size", "100MiB"),
            ("default_fstype", "xfs"),
        ]))
        .unwrap_err();
        assert!(err.message().contains("too small for xfs"), "{err}");
    }

    #[test]
    fn options_fall_back_to_defaults() {
        let req = request(&[]).unwrap();
        assert_eq!((req.size_bytes, req.fs_type.as_deref()), (None, None));
        assert_eq!((req.new_size, req.new_fs_type.as_str()), (GIB, "ext4"));
        let req = request(&[("size", "64MiB"), ("FsType", "XFS")]);
        assert!(
            req.unwrap_err()
                .message()
                .contains("too small for xfs: the minimum is 300 MiB")
        );
        let req = request(&[("size", "100000000B")]).unwrap();
        assert_eq!(
            (req.size_bytes, req.new_size),
            (Some(96 * MIB), 96 * MIB),
            "rounded up to MiB"
        );
        let req = request(&[("size", "20"), ("fstype", "xfs")]).unwrap();
        assert_eq!(
            (req.size_bytes, req.new_fs_type.as_str()),
            (Some(20 * GIB), "xfs")
        );
    }

    #[test]
    fn bad_options_are_invalid_arguments() {
        for pairs in [
            &[("size", "-1")][..],
            &[("size", "abc")],
            &[("size", "1PiB")],
            &[("size", "15MiB")],
            &[("fstype", "ntfs")],
            &[("sise", "10")],
        ] {
            assert_eq!(
                request(pairs).unwrap_err().kind(),
                "invalid-argument",
                "{pairs:?}"
            );
        }
        let err = request(&[("size", "1PiB")]).unwrap_err();
        assert_eq!(err.message(), "size 1 PiB is over the maximum of 16 TiB");
    }
}
