//! What is mounted where, read from `/proc/self/mountinfo` (proc(5)).
//!
//! Owns the parsing, including the kernel's octal escapes (`\040` for a
//! space, `\011` tab, `\012` newline, `\134` backslash) in paths and sources,
//! and non-UTF-8 mount points (kept as raw bytes in the `PathBuf`).
//!
//! Never: cache the table (mounts change under us), or change anything.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use super::{Result, StorageError};

const MOUNTINFO: &str = "/proc/self/mountinfo";

/// One mount, as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// The mount source: a device path for block filesystems.
    pub source: String,
    /// The mount point.
    pub target: PathBuf,
    pub fs_type: String,
    /// `st_dev` of files on the mount, "major:minor".
    pub major_minor: String,
}

/// Every mount visible to this process, in mount order.
pub fn mounts() -> Result<Vec<MountEntry>> {
    let bytes = std::fs::read(MOUNTINFO).map_err(|e| StorageError::io("reading", MOUNTINFO, e))?;
    parse(&bytes)
}

/// The mount on top at `target` (symlinks in `target` resolved), if any.
/// A `target` that does not exist has nothing mounted on it.
pub fn mounted_at(target: &Path) -> Result<Option<MountEntry>> {
    let target = match target.canonicalize() {
        Ok(path) => path,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io("resolving mount point", target, e)),
    };
    Ok(mounts()?.into_iter().rev().find(|m| m.target == target))
}

fn parse(bytes: &[u8]) -> Result<Vec<MountEntry>> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(parse_line)
        .collect()
}

/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
/// : id, parent, major:minor, root, mount point, options, optional fields
/// up to "-", then fs type, source, superblock options.
fn parse_line(line: &[u8]) -> Result<MountEntry> {
    let fields: Vec<&[u8]> = line.split(|b| *b == b' ').collect();
    let dash = fields
        .iter()
        .skip(6)
        .position(|f| *f == b"-")
        .map(|i| i + 6);
    let (Some(dash), Some(major_minor), Some(target)) = (dash, fields.get(2), fields.get(4)) else {
        return Err(bad_line(line));
    };
    let (Some(fs_type), Some(source)) = (fields.get(dash + 1), fields.get(dash + 2)) else {
        return Err(bad_line(line));
    };
    let text = |b: &[u8]| String::from_utf8_lossy(&unescape(b)).into_owned();
    Ok(MountEntry {
        source: text(source),
        target: PathBuf::from(OsString::from_vec(unescape(target))),
        fs_type: text(fs_type),
        major_minor: text(major_minor),
    })
}

fn bad_line(line: &[u8]) -> StorageError {
    StorageError::Parse {
        what: MOUNTINFO,
        expected: "id parent major:minor root mount-point options [optional...] - type source options",
        found: String::from_utf8_lossy(line).into_owned(),
    }
}

/// Undo the kernel's `\ooo` octal escapes.
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = field.get(i + 1..i + 4).filter(|d| {
            field[i] == b'\\' && d[0] <= b'3' && d.iter().all(|c| (b'0'..=b'7').contains(c))
        });
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(field[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_escaped_paths_and_optional_fields() {
        let text = b"22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
            36 35 7:3 / /mnt/my\\040vol\\134x rw,noatime shared:1 master:2 - ext4 /dev/loop3 rw\n\
            37 35 0:50 / /srv/none rw - tmpfs none rw\n";
        let entries = parse(text).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(
            entries[1],
            MountEntry {
                source: "/dev/loop3".into(),
                target: PathBuf::from("/mnt/my vol\\x"),
                fs_type: "ext4".into(),
                major_minor: "7:3".into(),
            }
        );
        assert_eq!(entries[2].fs_type, "tmpfs");
    }

    #[test]
    fn non_utf8_mount_points_survive() {
        let entries = parse(b"1 0 8:1 / /data/\xff\\011t rw - xfs /dev/sda1 rw\n").unwrap();
        assert_eq!(
            entries[0].target,
            PathBuf::from(OsString::from_vec(b"/data/\xff\tt".to_vec()))
        );
    }

    #[test]
    fn a_truncated_line_is_an_error() {
        let err = parse(b"36 35 7:3 / /mnt rw shared:1\n").unwrap_err();
        assert!(err.to_string().contains("/proc/self/mountinfo"), "{err}");
    }

    #[test]
    fn this_process_sees_its_root_mount() {
        let all = mounts().unwrap();
        assert!(all.iter().any(|m| m.target == Path::new("/")), "{all:?}");
        assert!(
            mounted_at(Path::new("/no/such/dir/ballast"))
                .unwrap()
                .is_none()
        );
    }
}
