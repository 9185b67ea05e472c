//! What is on a device, as `blkid -p` (low-level probing, no cache) says.
//!
//! Owns the one reading of blkid's answer that the format decision rests on:
//! exit code 2 ("nothing found") on a readable, non-empty block device is the
//! ONLY way to get `Blank`. blkid also exits 2 for a path that does not exist
//! or is a directory, so the device is opened and measured first.
//!
//! Never: turn an error, an unknown exit code or output it cannot read into
//! `Blank`; write to the device.

use std::fmt;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use super::{Result, StorageError, tools};

/// What blkid found on a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// No signature at all: the only state in which mkfs may run.
    Blank,
    /// A filesystem (`TYPE=`, `USAGE=filesystem`).
    Filesystem { fs_type: String },
    /// A partition table (`PTTYPE=`) and no filesystem over it.
    PartitionTable { kind: String },
    /// Anything else: swap, LVM, RAID, LUKS, or a mix of signatures.
    Other { what: String },
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Blank => write!(f, "no signature (blank)"),
            Probe::Filesystem { fs_type } => write!(f, "an {fs_type} filesystem"),
            Probe::PartitionTable { kind } => write!(f, "a {kind} partition table"),
            Probe::Other { what } => write!(f, "{what}"),
        }
    }
}

/// Probe `device` with `blkid -p`.
pub fn probe(device: &Path) -> Result<Probe> {
    require_readable_block_device(device)?;
    let args = [
        "-p".as_ref(),
        "-o".as_ref(),
        "export".as_ref(),
        device.as_os_str(),
    ];
    let out = tools::output("blkid", &args)?;
    match out.status.code() {
        // 2: "the specified token was not found, or no (specified) devices could be identified".
        Some(2) => Ok(Probe::Blank),
        Some(0) => Ok(read_export(&String::from_utf8_lossy(&out.stdout))),
        // 4: usage or other error, 8: ambivalent result (several signatures),
        // killed by a signal: none of these says the device is blank.
        _ => Err(tools::failed("blkid", &args, &out)),
    }
}

/// Open `device` read-only and check it is a block device holding data:
/// blkid answers "nothing found" for a missing path, a directory, or a
/// detached loop device (size 0) alike.
fn require_readable_block_device(device: &Path) -> Result<()> {
    let not_block = |found: String| StorageError::NotABlockDevice {
        path: device.to_path_buf(),
        found,
    };
    let meta = device
        .metadata()
        .map_err(|e| not_block(format!("nothing usable ({e})")))?;
    if !meta.file_type().is_block_device() {
        return Err(not_block("another kind of file".into()));
    }
    if device_size(device)? == 0 {
        return Err(not_block(
            "a device of size 0 (a detached loop device?)".into(),
        ));
    }
    Ok(())
}

/// Size of a block device in bytes (opened read-only).
pub(super) fn device_size(device: &Path) -> Result<u64> {
    let mut file = File::open(device).map_err(|e| StorageError::io("opening device", device, e))?;
    file.seek(SeekFrom::End(0))
        .map_err(|e| StorageError::io("measuring device", device, e))
}

/// Read `blkid -o export` output (KEY=value lines) into a `Probe`.
fn read_export(text: &str) -> Probe {
    let get = |key: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    };
    match (get("TYPE"), get("USAGE"), get("PTTYPE")) {
        (Some(fs_type), usage, None) if usage.as_deref().is_none_or(|u| u == "filesystem") => {
            Probe::Filesystem { fs_type }
        }
        (Some(kind), usage, pt) => Probe::Other {
            what: format!(
                "a {kind} signature (usage {}){}",
                usage.as_deref().unwrap_or("unknown"),
                pt.map(|p| format!(" with a {p} partition table"))
                    .unwrap_or_default()
            ),
        },
        (None, _, Some(kind)) => Probe::PartitionTable { kind },
        (None, _, None) => Probe::Other {
            what: format!(
                "a signature blkid could not name ({})",
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testutil::{require_loop, sh};

    #[test]
    fn blkid_export_output_is_read_conservatively() {
        let fs = "DEVNAME=/dev/loop0\nUUID=x\nBLOCK_SIZE=512\nTYPE=xfs\nUSAGE=filesystem\n";
        assert_eq!(
            read_export(fs),
            Probe::Filesystem {
                fs_type: "xfs".into()
            }
        );
        let pt = "DEVNAME=/dev/loop0\nPTUUID=c4dbd6ca\nPTTYPE=dos\n";
        assert_eq!(
            read_export(pt),
            Probe::PartitionTable { kind: "dos".into() }
        );
        let swap = "DEVNAME=/dev/loop0\nVERSION=1\nTYPE=swap\nUSAGE=other\n";
        assert!(matches!(read_export(swap), Probe::Other { what } if what.contains("swap")));
        let hybrid = "TYPE=iso9660\nUSAGE=filesystem\nPTTYPE=dos\n";
        assert!(matches!(read_export(hybrid), Probe::Other { what } if what.contains("dos")));
        let odd = "DEVNAME=/dev/loop0\nSOMETHING=1\n";
        assert!(matches!(read_export(odd), Probe::Other { .. }));
    }

    #[test]
    fn nonexistent_device_is_an_error_not_blank() {
        let err = probe(Path::new("/dev/ballast-no-such-device")).unwrap_err();
        assert!(matches!(err, StorageError::NotABlockDevice { .. }), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let err = probe(dir.path()).unwrap_err();
        assert!(err.to_string().contains("another kind of file"), "{err}");
    }

    #[test]
    fn blank_loop_device_probes_blank_and_swap_probes_other() {
        let Some(scratch) = require_loop("blank_loop_device_probes_blank_and_swap_probes_other")
        else {
            return;
        };
        let dev = scratch.loop_image("blank.img", 16);
        assert_eq!(probe(&dev.path).unwrap(), Probe::Blank);
        sh("mkswap", &["-q".as_ref(), dev.path.as_os_str()]);
        assert!(
            matches!(probe(&dev.path).unwrap(), Probe::Other { what } if what.contains("swap"))
        );
    }
}
