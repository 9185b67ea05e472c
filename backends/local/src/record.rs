//! A volume's metadata, kept in `kv` as JSON under `volume/<name>`, and the
//! `Volume` the host sees, built from the record and the image file.
//!
//! The image file holds the data and its size; the record holds what the
//! file cannot say: the filesystem, whether the volume is attached, when it
//! was made. The record is what makes a volume exist for this backend.

use std::time::{SystemTime, UNIX_EPOCH};

use ballast_sdk::local_disk::Image;
use ballast_sdk::{Result, Volume, VolumeName, format_size, kv};
use serde::{Deserialize, Serialize};

const PREFIX: &str = "volume/";

/// What `kv` keeps for one volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub size_bytes: u64,
    pub fs_type: String,
    #[serde(default)]
    pub attached: bool,
    /// Seconds since the Unix epoch; absent when the clock could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<u64>,
    /// The image's path when recorded, so the volume keeps its id even if
    /// the file vanishes.
    #[serde(default)]
    pub image_path: String,
}

impl Record {
    /// A record for a volume made (or adopted) now from `image`.
    pub fn new(image: &Image, fs_type: &str) -> Record {
        Record {
            size_bytes: image.size_bytes,
            fs_type: fs_type.to_owned(),
            attached: false,
            created_at: now(),
            image_path: image.path.clone(),
        }
    }
}

fn now() -> Option<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

fn key(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// The record of `name`, if the volume exists.
pub fn load(name: &str) -> Result<Option<Record>> {
    kv::get_json(&key(name))
}

/// Write the record of `name`. A plain write is enough: the host
/// serializes the calls for one volume name.
pub fn save(name: &str, record: &Record) -> Result<()> {
    kv::set_json(&key(name), record)
}

/// Forget `name`.
pub fn delete(name: &str) -> Result<()> {
    kv::delete(&key(name)).map(drop)
}

/// Names of every recorded volume, sorted.
pub fn names() -> Result<Vec<String>> {
    let keys = kv::list_keys(PREFIX)?;
    Ok(keys
        .iter()
        .filter_map(|k| k.strip_prefix(PREFIX))
        .map(str::to_owned)
        .collect())
}

/// The volume as the host sees it; `image` is `None` when the file is gone.
pub fn to_volume(name: &VolumeName, record: &Record, image: Option<&Image>) -> Volume {
    let path = image.map_or(record.image_path.as_str(), |i| i.path.as_str());
    let size_bytes = image.map_or(record.size_bytes, |i| i.size_bytes);
    let mut status = vec![
        ("size".to_owned(), format_size(size_bytes)),
        ("fstype".to_owned(), record.fs_type.clone()),
        ("image".to_owned(), path.to_owned()),
    ];
    match image {
        Some(image) => status.push(("allocated_bytes".into(), image.allocated_bytes.to_string())),
        None => status.push(("state".into(), "image file missing".into())),
    }
    if let Some(secs) = record.created_at {
        status.push(("created_at".into(), rfc3339(secs)));
    }
    Volume {
        name: name.to_string(),
        id: path.to_owned(),
        size_bytes,
        zone: None,
        attached_to: if record.attached {
            vec!["local".into()]
        } else {
            Vec::new()
        },
        status,
    }
}

/// `secs` since the epoch as an RFC 3339 UTC time (no date crate for one
/// line of status). Days to a civil date: Howard Hinnant's algorithm.
fn rfc3339(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> Image {
        Image {
            name: "pgdata".into(),
            path: "/var/lib/ballast/local/pgdata.img".into(),
            size_bytes: 64 << 20,
            allocated_bytes: 4096,
        }
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn volume_shows_size_fstype_image_and_attachment() {
        let name = VolumeName::new("pgdata").unwrap();
        let mut record = Record::new(&image(), "xfs");
        record.created_at = Some(0);
        record.attached = true;
        let volume = to_volume(&name, &record, Some(&image()));
        assert_eq!(volume.id, "/var/lib/ballast/local/pgdata.img");
        assert_eq!(volume.size_bytes, 64 << 20);
        assert_eq!(volume.attached_to, ["local"]);
        let status: Vec<(&str, &str)> = volume
            .status
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            status,
            [
                ("size", "64 MiB"),
                ("fstype", "xfs"),
                ("image", "/var/lib/ballast/local/pgdata.img"),
                ("allocated_bytes", "4096"),
                ("created_at", "1970-01-01T00:00:00Z"),
            ]
        );
    }

    #[test]
    fn a_vanished_image_is_reported_not_hidden() {
        let name = VolumeName::new("pgdata").unwrap();
        let record = Record::new(&image(), "ext4");
        let volume = to_volume(&name, &record, None);
        assert_eq!(volume.id, "/var/lib/ballast/local/pgdata.img");
        assert!(volume.attached_to.is_empty());
        assert!(
            volume
                .status
                .contains(&("state".into(), "image file missing".into()))
        );
    }

    #[test]
    fn records_read_back_what_older_writers_left_out() {
        let record: Record =
            serde_json::from_str(r#"{"size_bytes": 10, "fs_type": "ext4"}"#).unwrap();
        assert!(!record.attached);
        assert_eq!(record.created_at, None);
    }
}
