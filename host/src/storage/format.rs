//! SafeFormat: the one place that decides whether mkfs runs on a device.
//!
//! Owns data safety rule 1 (DESIGN.md): mkfs runs only on a device where
//! `blkid -p` found no signature at all. An existing filesystem is kept as
//! it is, even when it is not the type asked for; a partition table or any
//! other signature is refused. It also owns the allow-list of mkfs options a
//! backend may pass.
//!
//! Never: format a device that is not `Probe::Blank`, pass options that are
//! not on the allow-list, or call mkfs from anywhere else in the host.

use std::ffi::OsString;
use std::path::Path;

use super::probe::{Probe, probe};
use super::{Result, StorageError, tools};

/// What `ensure_filesystem` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Formatted {
    /// The device was blank; a new filesystem was made.
    Created,
    /// A filesystem was there already and was kept.
    Existing,
}

/// Make sure `device` holds a filesystem, creating a `fs_type` one only if
/// the device is blank. Returns what happened and the filesystem type
/// actually on the device (mount it as that).
pub fn ensure_filesystem(
    device: &Path,
    fs_type: &str,
    mkfs_options: &[String],
) -> Result<(Formatted, String)> {
    // 1. Decide what mkfs would run before looking at the device, so an
    //    unsupported type or a disallowed option fails having touched nothing.
    let (tool, mut args) = mkfs_command(fs_type, mkfs_options)?;

    // 2. Probe. Only `Probe::Blank` (blkid exit 2 on a readable device) lets
    //    us go on; a probe error is returned as is, never read as blank.
    match probe(device)? {
        Probe::Blank => {}
        // 3. A filesystem is there: keep it, whatever type was asked for.
        //    Reformatting because of a type mismatch would destroy the data
        //    of a volume created elsewhere or by an older configuration.
        Probe::Filesystem { fs_type: found } => {
            if found != fs_type {
                tracing::warn!(
                    device = %device.display(), expected = fs_type, found = %found,
                    "device holds another filesystem type than asked; keeping it and mounting it as {found}"
                );
            }
            return Ok((Formatted::Existing, found));
        }
        // 4. A partition table, LVM, RAID, swap, LUKS...: someone's data. Refuse.
        other => {
            return Err(StorageError::SignaturePresent {
                device: device.to_path_buf(),
                found: other.to_string(),
            });
        }
    }

    // 5. Blank: format. (mkfs.xfs runs without -f, so it also refuses by
    //    itself should a signature have appeared since the probe.)
    tracing::info!(device = %device.display(), fs_type, "device is blank; creating filesystem");
    args.push(device.into());
    tools::run(tool, &args)?;

    // 6. Confirm: the device must now probe as exactly the filesystem we made.
    match probe(device)? {
        Probe::Filesystem { fs_type: found } if found == fs_type => Ok((Formatted::Created, found)),
        other => Err(StorageError::FormatUnconfirmed {
            device: device.to_path_buf(),
            expected: fs_type.into(),
            found: other.to_string(),
        }),
    }
}

/// The mkfs program and its arguments (without the device) for `fs_type`,
/// with the backend's options checked against the allow-list.
fn mkfs_command(fs_type: &str, options: &[String]) -> Result<(&'static str, Vec<OsString>)> {
    let (tool, base, allowed, help): (_, &[&str], _, _) = match fs_type {
        // -F: no questions. mke2fs is no second guard either way: without a
        // terminal it formats over a partition table even without -F, so
        // the probe above is what protects data. Lazy init: a large volume
        // is usable at once; the kernel zeroes inode tables in the background.
        "ext4" => (
            "mkfs.ext4",
            &[
                "-F",
                "-m0",
                "-E",
                "lazy_itable_init=1,lazy_journal_init=1",
                "-q",
            ],
            EXT4_OPTIONS,
            EXT4_HELP,
        ),
        "xfs" => ("mkfs.xfs", &["-q"], XFS_OPTIONS, XFS_HELP),
        other => {
            return Err(StorageError::UnsupportedFs {
                found: other.into(),
                expected: "ext4, xfs",
            });
        }
    };
    let mut args: Vec<OsString> = base.iter().map(OsString::from).collect();
    args.extend(
        checked_options(tool, options, allowed, help)?
            .into_iter()
            .map(OsString::from),
    );
    Ok((tool, args))
}

/// An allowed mkfs flag and the check its value must pass.
type Allowed = (&'static str, fn(&str) -> bool);

const EXT4_OPTIONS: &[Allowed] = &[
    ("-L", |v| label(v, 16)),
    ("-b", |v| matches!(v, "1024" | "2048" | "4096")),
    ("-i", |v| number_in(v, 1024, 64 << 20)),
    ("-m", |v| number_in(v, 0, 50)),
];
const EXT4_HELP: &str = "-L <label up to 16 chars>, -b <1024|2048|4096>, -i <bytes-per-inode>, -m <reserved percent 0-50>";

const XFS_OPTIONS: &[Allowed] = &[
    ("-L", |v| label(v, 12)),
    ("-b", |v| {
        v.strip_prefix("size=").is_some_and(|n| {
            n.parse::<u32>()
                .is_ok_and(|n| n.is_power_of_two() && (512..=65536).contains(&n))
        })
    }),
];
const XFS_HELP: &str = "-L <label up to 12 chars>, -b size=<512-65536, a power of two>";

/// Check `options` (flag, value pairs; an element may also hold "-L data")
/// against `allowed`, returning them as separate arguments.
fn checked_options(
    tool: &'static str,
    options: &[String],
    allowed: &[Allowed],
    help: &'static str,
) -> Result<Vec<String>> {
    let refuse = |option: String| StorageError::OptionNotAllowed {
        kind: tool,
        option,
        allowed: help,
    };
    let mut tokens = options.iter().flat_map(|o| o.split_whitespace());
    let mut out = Vec::new();
    while let Some(flag) = tokens.next() {
        let Some((_, valid)) = allowed.iter().find(|(f, _)| *f == flag) else {
            return Err(refuse(flag.into()));
        };
        match tokens.next() {
            Some(value) if valid(value) => out.extend([flag.to_string(), value.to_string()]),
            Some(value) => return Err(refuse(format!("{flag} {value}"))),
            None => return Err(refuse(format!("{flag} (without a value)"))),
        }
    }
    Ok(out)
}

fn label(v: &str, max: usize) -> bool {
    !v.is_empty()
        && v.len() <= max
        && !v.starts_with('-')
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn number_in(v: &str, min: u64, max: u64) -> bool {
    v.bytes().all(|b| b.is_ascii_digit())
        && v.parse::<u64>().is_ok_and(|n| (min..=max).contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testutil::{read_all, require_loop, sh};
    use crate::storage::{mount, unmount};

    /// `sfdisk` a DOS label with one Linux partition onto `device`.
    fn write_dos_label(device: &Path) {
        use std::io::Write;
        let mut child = std::process::Command::new("sfdisk")
            .args(["-q".as_ref(), device.as_os_str()])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("sfdisk (package fdisk) is needed; tests/setup installs it");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"label: dos\n,,L\n")
            .unwrap();
        assert!(
            child.wait().unwrap().success(),
            "sfdisk failed on {}",
            device.display()
        );
        assert!(matches!(
            probe(device).unwrap(),
            Probe::PartitionTable { .. }
        ));
    }

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn mkfs_options_are_checked_against_the_allow_list() {
        let ok = mkfs_command(
            "ext4",
            &opts(&["-L", "pgdata", "-m 1", "-b", "4096", "-i", "16384"]),
        )
        .unwrap();
        assert_eq!(ok.0, "mkfs.ext4");
        assert!(ok.1.ends_with(
            &["-L", "pgdata", "-m", "1", "-b", "4096", "-i", "16384"].map(OsString::from)
        ));
        let ok = mkfs_command("xfs", &opts(&["-L", "logs", "-b", "size=4096"])).unwrap();
        assert_eq!(
            ok.1,
            ["-q", "-L", "logs", "-b", "size=4096"].map(OsString::from)
        );
        let refused: &[(&str, &[&str])] = &[
            ("ext4", &["-O", "^has_journal"]),
            ("ext4", &["-L"]),
            ("ext4", &["-L", "a;rm -rf"]),
            ("ext4", &["-L", "-F"]),
            ("ext4", &["-L", "seventeen-chars-x"]),
            ("ext4", &["-b", "512"]),
            ("ext4", &["-m", "60"]),
            ("ext4", &["-i", "1k"]),
            ("ext4", &["-F"]),
            ("xfs", &["-f"]),
            ("xfs", &["-b", "4096"]),
            ("xfs", &["-b", "size=3000"]),
            ("xfs", &["-m", "1"]),
        ];
        for (fs, options) in refused {
            let err = mkfs_command(fs, &opts(options)).unwrap_err();
            assert!(
                matches!(err, StorageError::OptionNotAllowed { .. }),
                "{fs} {options:?}: {err}"
            );
        }
        let err = mkfs_command("btrfs", &[]).unwrap_err();
        assert!(matches!(err, StorageError::UnsupportedFs { .. }), "{err}");
    }

    #[test]
    fn options_and_type_are_checked_before_the_device_is_looked_at() {
        let missing = Path::new("/dev/ballast-no-such-device");
        let err = ensure_filesystem(missing, "ext4", &opts(&["-E", "nodiscard"])).unwrap_err();
        assert!(
            matches!(err, StorageError::OptionNotAllowed { .. }),
            "{err}"
        );
        let err = ensure_filesystem(missing, "vfat", &[]).unwrap_err();
        assert!(matches!(err, StorageError::UnsupportedFs { .. }), "{err}");
        // And a device that cannot be probed is an error, never "blank".
        let err = ensure_filesystem(missing, "ext4", &[]).unwrap_err();
        assert!(matches!(err, StorageError::NotABlockDevice { .. }), "{err}");
    }

    #[test]
    fn a_blank_device_is_formatted_once_and_its_data_survives_remounts() {
        let Some(scratch) =
            require_loop("a_blank_device_is_formatted_once_and_its_data_survives_remounts")
        else {
            return;
        };
        let dev = scratch.loop_image("data.img", 64);
        let mnt = scratch.mount_point("mnt");
        let label = opts(&["-L", "pgdata"]);
        assert_eq!(
            ensure_filesystem(&dev.path, "ext4", &label).unwrap(),
            (Formatted::Created, "ext4".into())
        );
        let blkid = sh(
            "blkid",
            &[
                "-p".as_ref(),
                "-s".as_ref(),
                "LABEL".as_ref(),
                dev.path.as_os_str(),
            ],
        );
        assert!(blkid.contains("LABEL=\"pgdata\""), "{blkid}");
        assert_eq!(
            ensure_filesystem(&dev.path, "ext4", &[]).unwrap(),
            (Formatted::Existing, "ext4".into())
        );

        mount(&dev.path, &mnt, "ext4", &[], false).unwrap();
        std::fs::write(mnt.join("keep.txt"), b"precious").unwrap();
        unmount(&mnt).unwrap();
        assert_eq!(
            ensure_filesystem(&dev.path, "ext4", &[]).unwrap(),
            (Formatted::Existing, "ext4".into())
        );
        mount(&dev.path, &mnt, "ext4", &[], false).unwrap();
        assert_eq!(std::fs::read(mnt.join("keep.txt")).unwrap(), b"precious");
        unmount(&mnt).unwrap();
    }

    #[test]
    fn a_blank_device_gets_xfs_once() {
        let Some(scratch) = require_loop("a_blank_device_gets_xfs_once") else {
            return;
        };
        let dev = scratch.loop_image("xfs.img", 320);
        assert_eq!(
            ensure_filesystem(&dev.path, "xfs", &[]).unwrap(),
            (Formatted::Created, "xfs".into())
        );
        assert_eq!(
            ensure_filesystem(&dev.path, "xfs", &[]).unwrap(),
            (Formatted::Existing, "xfs".into())
        );
    }

    #[test]
    fn a_partition_table_is_refused_and_left_untouched() {
        let Some(scratch) = require_loop("a_partition_table_is_refused_and_left_untouched") else {
            return;
        };
        let dev = scratch.loop_image("parted.img", 16);
        write_dos_label(&dev.path);
        let image = dev.loop_of.clone().unwrap();
        let before = read_all(&image);
        for fs in ["ext4", "xfs"] {
            let err = ensure_filesystem(&dev.path, fs, &[]).unwrap_err();
            assert!(
                matches!(&err, StorageError::SignaturePresent { found, .. } if found.contains("dos")),
                "{err}"
            );
        }
        assert!(
            read_all(&image) == before,
            "the partitioned device was written to"
        );
    }

    #[test]
    fn an_existing_filesystem_of_another_type_is_kept() {
        let Some(scratch) = require_loop("an_existing_filesystem_of_another_type_is_kept") else {
            return;
        };
        let dev = scratch.loop_image("other.img", 32);
        assert_eq!(
            ensure_filesystem(&dev.path, "ext4", &[]).unwrap().0,
            Formatted::Created
        );
        let image = dev.loop_of.clone().unwrap();
        let before = read_all(&image);
        assert_eq!(
            ensure_filesystem(&dev.path, "xfs", &[]).unwrap(),
            (Formatted::Existing, "ext4".into())
        );
        assert!(
            read_all(&image) == before,
            "the existing filesystem was written to"
        );
    }
}
