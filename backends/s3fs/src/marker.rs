//! The volume marker: `.ballast-volume.json` at the volume root, holding
//! the filesystem options the volume was created with and who created it
//! when. In prefix mode it is what makes a prefix a volume; in bucket mode
//! it records the options (a bucket without one is still a volume, as
//! REX-Ray listed every bucket). The host's filesystem hides this key.

use ballast_sdk::{Error, Result, s3};
use serde::{Deserialize, Serialize};

use crate::location::Location;
use crate::options::FsOptions;

/// The marker's key, relative to the volume root.
pub const MARKER: &str = ".ballast-volume.json";

/// The marker's format version.
const VERSION: u32 = 1;

/// What the marker holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub version: u32,
    /// The Docker volume name.
    pub name: String,
    /// The filesystem options given at create (not `S3FS_OPTIONS`: the
    /// setting applies to every volume as it is at mount time).
    #[serde(default)]
    pub options: FsOptions,
    /// e.g. "ballast-s3fs 0.1.0".
    pub created_by: String,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    /// Bytes the marker object takes in S3 (when read from there).
    #[serde(skip)]
    pub stored_size: u64,
}

impl Marker {
    pub fn new(name: &str, options: FsOptions, created_at: u64) -> Marker {
        Marker {
            version: VERSION,
            name: name.to_owned(),
            options,
            created_by: format!("ballast-s3fs {}", env!("CARGO_PKG_VERSION")),
            created_at,
            stored_size: 0,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain fields cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Parse a marker; `internal` naming the key when it is not one.
    pub fn from_json(key: &str, bytes: &[u8]) -> Result<Marker> {
        serde_json::from_slice(bytes).map_err(|e| {
            Error::internal(format!(
                "volume marker {key:?} is not valid JSON of a Ballast volume ({e}); \
                 delete it to adopt the data again"
            ))
        })
    }
}

/// The marker of the volume at `location`, `None` when the key (or, in
/// prefix mode, the bucket) is absent.
pub fn read(location: &Location) -> Result<Option<Marker>> {
    let key = location.marker_key();
    match s3::get_object_if_exists(&location.bucket, &key) {
        Ok(Some(bytes)) => {
            let mut marker = Marker::from_json(&key, &bytes)?;
            marker.stored_size = bytes.len() as u64;
            Ok(Some(marker))
        }
        Ok(None) => Ok(None),
        Err(err) if err.kind() == "not-found" => Ok(None),
        Err(err) => Err(err),
    }
}

/// Write the marker of the volume at `location`.
pub fn write(location: &Location, marker: &Marker) -> Result<()> {
    s3::put_object(&location.bucket, &location.marker_key(), &marker.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_leave_out_unset_options() {
        let options = FsOptions::parse_list("uid=1000,umask=022").unwrap();
        let marker = Marker::new("pgdata", options, 1_700_000_000);
        let json = String::from_utf8(marker.to_json()).unwrap();
        assert!(json.contains("\"uid\": 1000"), "{json}");
        assert!(json.contains("\"umask\": 18"), "{json}");
        assert!(!json.contains("gid"), "{json}");
        assert!(json.contains("\"created_by\": \"ballast-s3fs "), "{json}");
        assert_eq!(Marker::from_json("k", json.as_bytes()).unwrap(), marker);
    }

    #[test]
    fn a_marker_without_options_reads_as_defaults() {
        let m = Marker::from_json(
            "k",
            br#"{"version":1,"name":"a","created_by":"x","created_at":0}"#,
        )
        .unwrap();
        assert_eq!(m.options, FsOptions::default());
        let err = Marker::from_json("vol/.ballast-volume.json", b"not json").unwrap_err();
        assert_eq!(err.kind(), "internal");
        assert!(err.message().contains("vol/.ballast-volume.json"), "{err}");
    }
}
