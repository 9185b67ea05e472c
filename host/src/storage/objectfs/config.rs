//! Settings of one object mount: defaults, and the s3fs-fuse style options a
//! volume's object mount source may carry. Parsing only; nothing here touches
//! S3 or the kernel. An unknown key or a bad value is refused with a message
//! naming the key and what is allowed, never silently ignored.

use std::path::{Path, PathBuf};
use std::time::Duration;

const MIB: usize = 1024 * 1024;
/// S3 refuses multipart parts below 5 MiB (except the last) and above 5 GiB.
const MIN_PART_MIB: usize = 5;
const MAX_PART_MIB: usize = 5 * 1024;
/// How long what S3 said about a name (stat, listing, absence) is trusted
/// before asking again. Changes made through this mount are seen by it at
/// once whatever the TTL; the TTL only bounds how late changes made by
/// other hosts show up. mountpoint-s3 uses 1 s, which makes `ls -l` then
/// `stat` of a large directory repeat requests; s3fs-fuse caches stat for
/// 900 s, which hides other hosts' writes for a quarter of an hour. A few
/// seconds keeps one `ls -l`/`find` pass served from its own listing while
/// other hosts' changes still appear quickly.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5);

/// What one FUSE object mount serves and how it bounds itself.
#[derive(Debug, Clone)]
pub struct ObjectFsConfig {
    pub bucket: String,
    /// "" (whole bucket) or "a/b/" (always ends with '/' when non-empty).
    pub prefix: String,
    pub uid: u32,
    pub gid: u32,
    pub file_mode: u16,
    pub dir_mode: u16,
    pub allow_other: bool,
    pub read_only: bool,
    /// stat/readdir cache lifetime, also the kernel's entry/attr TTL
    /// (default `DEFAULT_TTL`).
    pub metadata_ttl: Duration,
    /// Multipart part size and sequential read chunk.
    pub part_size: usize,
    pub upload_concurrency: usize,
    pub read_concurrency: usize,
    /// Per-handle prefetch window cap (bytes).
    pub read_window_max: usize,
    /// Total bytes of read and write buffers across all handles.
    pub memory_limit: usize,
    pub staging_dir: PathBuf,
    /// Total bytes of local staging files; beyond it writes fail with ENOSPC.
    pub staging_limit: u64,
    /// Open file handles; beyond it open/create fail with ENFILE.
    pub max_handles: usize,
    /// Bound of every single S3 request; on expiry the FUSE request gets EIO.
    pub request_timeout: Duration,
}

impl ObjectFsConfig {
    /// Defaults for `bucket`/`prefix`/`staging_dir`, then `options` (keys:
    /// uid, gid, umask, file_mode, dir_mode, allow_other, ro, ttl, part_size).
    pub fn new(
        bucket: &str,
        prefix: &str,
        staging_dir: &Path,
        options: &[(String, String)],
    ) -> Result<Self, String> {
        if bucket.is_empty() {
            return Err("bucket: expected a bucket name, found an empty string".into());
        }
        let mut config = Self::defaults(bucket, prefix, staging_dir);
        for (key, value) in options {
            config.apply(key, value)?;
        }
        Ok(config)
    }

    fn defaults(bucket: &str, prefix: &str, staging_dir: &Path) -> Self {
        ObjectFsConfig {
            bucket: bucket.to_string(),
            prefix: normalise_prefix(prefix),
            uid: 0,
            gid: 0,
            file_mode: 0o644,
            dir_mode: 0o755,
            allow_other: true,
            read_only: false,
            metadata_ttl: DEFAULT_TTL,
            part_size: 8 * MIB,
            upload_concurrency: 8,
            read_concurrency: 8,
            read_window_max: 64 * MIB,
            memory_limit: 512 * MIB,
            staging_dir: staging_dir.to_path_buf(),
            staging_limit: 4 * 1024 * MIB as u64,
            max_handles: 4096,
            request_timeout: Duration::from_secs(60),
        }
    }

    fn apply(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "uid" => self.uid = parse_id(key, value)?,
            "gid" => self.gid = parse_id(key, value)?,
            "umask" => {
                let mask = parse_mode(key, value)?;
                self.file_mode = 0o666 & !mask;
                self.dir_mode = 0o777 & !mask;
            }
            "file_mode" => self.file_mode = parse_mode(key, value)?,
            "dir_mode" => self.dir_mode = parse_mode(key, value)?,
            "allow_other" => self.allow_other = parse_flag(key, value)?,
            "ro" => self.read_only = parse_flag(key, value)?,
            "ttl" => self.metadata_ttl = Duration::from_secs(parse_ttl(key, value)?),
            "part_size" => self.part_size = parse_part_size(key, value)?,
            _ => {
                return Err(format!(
                    "unknown object mount option {key:?}: expected one of uid, gid, umask, \
                     file_mode, dir_mode, allow_other, ro, ttl, part_size"
                ));
            }
        }
        Ok(())
    }
}

/// "" stays ""; "a/b" and "/a/b/" become "a/b/".
fn normalise_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}/")
    }
}

fn parse_id(key: &str, value: &str) -> Result<u32, String> {
    value
        .parse()
        .map_err(|_| format!("{key}={value:?}: expected a numeric id (0..=4294967295)"))
}

fn parse_mode(key: &str, value: &str) -> Result<u16, String> {
    u16::from_str_radix(value.trim_start_matches("0o"), 8)
        .ok()
        .filter(|mode| *mode <= 0o777)
        .ok_or_else(|| format!("{key}={value:?}: expected an octal mode from 0 to 777"))
}

/// A flag is present with no value (`allow_other`) or spelled true/false.
fn parse_flag(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "" | "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!(
            "{key}={value:?}: expected no value (a flag), true or false"
        )),
    }
}

fn parse_ttl(key: &str, value: &str) -> Result<u64, String> {
    value
        .parse()
        .ok()
        .filter(|secs| *secs <= 86_400)
        .ok_or_else(|| format!("{key}={value:?}: expected whole seconds from 0 to 86400"))
}

fn parse_part_size(key: &str, value: &str) -> Result<usize, String> {
    value
        .parse::<usize>()
        .ok()
        .filter(|mib| (MIN_PART_MIB..=MAX_PART_MIB).contains(mib))
        .map(|mib| mib * MIB)
        .ok_or_else(|| {
            format!("{key}={value:?}: expected MiB from {MIN_PART_MIB} to {MAX_PART_MIB}")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_prefix_normalised() {
        let c = ObjectFsConfig::new("b", "vols/a", Path::new("/tmp"), &[]).unwrap();
        assert_eq!(c.prefix, "vols/a/");
        assert_eq!((c.file_mode, c.dir_mode), (0o644, 0o755));
        let c = ObjectFsConfig::new("b", "/", Path::new("/tmp"), &[]).unwrap();
        assert_eq!(c.prefix, "");
    }

    #[test]
    fn s3fs_options_apply() {
        let o = opts(&[("uid", "1000"), ("umask", "027"), ("ro", ""), ("ttl", "5")]);
        let c = ObjectFsConfig::new("b", "", Path::new("/tmp"), &o).unwrap();
        assert_eq!(c.uid, 1000);
        assert_eq!((c.file_mode, c.dir_mode), (0o640, 0o750));
        assert!(c.read_only);
        assert_eq!(c.metadata_ttl, Duration::from_secs(5));
    }

    #[test]
    fn bad_options_name_the_key() {
        let err = ObjectFsConfig::new("b", "", Path::new("/t"), &opts(&[("bogus", "1")]));
        assert!(err.unwrap_err().contains("bogus"));
        let err = ObjectFsConfig::new("b", "", Path::new("/t"), &opts(&[("umask", "999")]));
        assert!(err.unwrap_err().contains("umask"));
        let err = ObjectFsConfig::new("b", "", Path::new("/t"), &opts(&[("part_size", "1")]));
        assert!(err.unwrap_err().contains("part_size"));
    }
}
