//! Docker volume names ↔ Compute Engine disk names, and the labels and
//! description that make a disk a volume of this cluster.
//!
//! A disk name is `[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63 characters. A
//! Docker name that already is one (and has no "--") is used as is, so
//! REX-Ray's disks keep their names. Any other name is mapped: lowercased,
//! other characters to '-', a "v" in front when it does not start with a
//! letter, cut to fit, then "--" and 12 hex digits of the SHA-256 of the
//! whole Docker name. Names used as is never contain "--" and mapped ones
//! always end in "--<hash>", so the two never meet, and mapped names differ
//! whenever their hashes do. The Docker name is also kept in the disk's
//! description, and a disk whose description names another volume is never
//! taken for this one.
//!
//! Underscores are refused unless `GCEPD_CONVERTUNDERSCORES` is set (as in
//! REX-Ray); then they become '-' and the name is mapped (hash suffix), so
//! `my_data` and `my-data` are two disks, never one.

use ballast_sdk::{Error, Result, VolumeName};
use sha2::{Digest, Sha256};

/// Longest disk name.
pub const DISK_NAME_MAX: usize = 63;
/// Longest label value.
pub const LABEL_VALUE_MAX: usize = 63;
/// Hex digits of the hash suffix of a mapped name.
const HASH_DIGITS: usize = 12;

/// The cluster label: `ballast-cluster=<GCEPD_TAG or ballast>`.
pub const CLUSTER_LABEL: &str = "ballast-cluster";
/// The filesystem the volume is to be formatted with.
pub const FS_LABEL: &str = "ballast-fstype";
/// Descriptions of volumes start with this, then the Docker name.
pub const DESCRIPTION_PREFIX: &str = "ballast volume: ";

/// The disk name of volume `name`.
pub fn disk_name(name: &VolumeName, convert_underscores: bool) -> Result<String> {
    let text = name.as_str();
    if text.contains('_') && !convert_underscores {
        return Err(Error::invalid_argument(format!(
            "volume name {name:?}: Compute Engine disk names cannot contain '_'; \
             rename the volume or set GCEPD_CONVERTUNDERSCORES=true (then '_' becomes '-')"
        )));
    }
    if is_plain(text) {
        return Ok(text.to_string());
    }
    let mut body: String = text
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .collect();
    if !body.starts_with(|c: char| c.is_ascii_lowercase()) {
        body.insert(0, 'v');
    }
    body.truncate(DISK_NAME_MAX - 2 - HASH_DIGITS);
    let digest = Sha256::digest(name.as_str().as_bytes());
    let hash: String = digest
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .take(HASH_DIGITS)
        .map(|n| char::from_digit(n.into(), 16).unwrap())
        .collect();
    Ok(format!("{body}--{hash}"))
}

/// A valid disk name without "--": used unchanged.
fn is_plain(text: &str) -> bool {
    is_disk_name(text) && !text.contains("--")
}

/// `[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn is_disk_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= DISK_NAME_MAX
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// The description of volume `name`'s disk.
pub fn description(name: &VolumeName) -> String {
    format!("{DESCRIPTION_PREFIX}{name}")
}

/// The Docker name a disk's description gives, if it is a volume's.
pub fn volume_of_description(description: Option<&str>) -> Option<VolumeName> {
    VolumeName::new(description?.strip_prefix(DESCRIPTION_PREFIX)?).ok()
}

/// The labels of a new disk.
pub fn labels(cluster: &str, fs_type: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut labels = serde_json::Map::new();
    labels.insert(CLUSTER_LABEL.into(), cluster.into());
    labels.insert(FS_LABEL.into(), fs_type.into());
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> VolumeName {
        VolumeName::new(text).unwrap()
    }

    #[test]
    fn valid_names_are_used_as_is() {
        for text in ["pgdata", "a", "web-1", "x0"] {
            assert_eq!(disk_name(&name(text), false).unwrap(), text);
        }
    }

    #[test]
    fn other_names_are_mapped_to_valid_distinct_disk_names() {
        let anonymous = "3f7c0d6b8e1a4c2d9f0e5b6a7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f809";
        let texts = [
            "PgData",
            "pgdata.v2",
            "pg.data",
            "pg-data.",
            "1abc",
            "ends-",
            "a--b",
            "pgdata--0123456789ab",
            anonymous,
            &anonymous.replace('3', "4"),
            &"a".repeat(64),
            &"a".repeat(65),
            &"A".repeat(200),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for text in texts {
            let disk = disk_name(&name(text), false).unwrap();
            assert!(is_disk_name(&disk), "{text} → {disk}");
            assert!(seen.insert(disk.clone()), "{text} → {disk} collides");
            // Stable: every host maps alike.
            assert_eq!(disk_name(&name(text), false).unwrap(), disk);
        }
        assert!(seen.iter().any(|d| d.starts_with("v3f7c0d6b")));
        // A plain name that looks like a mapped one is mapped itself.
        assert_ne!(
            disk_name(&name("pgdata--0123456789ab"), false).unwrap(),
            "pgdata--0123456789ab"
        );
        assert!(
            disk_name(&name("PgData"), false)
                .unwrap()
                .starts_with("pgdata--")
        );
    }

    #[test]
    fn underscores_need_the_setting() {
        let err = disk_name(&name("my_vol"), false).unwrap_err();
        assert_eq!(err.kind(), "invalid-argument");
        assert!(err.message().contains("GCEPD_CONVERTUNDERSCORES"), "{err}");
        let converted = disk_name(&name("my_vol"), true).unwrap();
        assert!(converted.starts_with("my-vol--"), "{converted}");
        assert_ne!(converted, disk_name(&name("my-vol"), true).unwrap());
        assert_ne!(converted, disk_name(&name("my__vol"), true).unwrap());
        let mapped = disk_name(&name("My_Vol"), true).unwrap();
        assert!(mapped.starts_with("my-vol--"), "{mapped}");
        assert_ne!(mapped, converted);
    }

    #[test]
    fn descriptions_name_the_volume() {
        let n = name("Pg.Data");
        assert_eq!(volume_of_description(Some(&description(&n))), Some(n));
        assert_eq!(volume_of_description(Some("boot disk")), None);
        assert_eq!(volume_of_description(None), None);
    }

    #[test]
    fn labels_carry_cluster_and_filesystem() {
        let labels = labels("prod-1", "xfs");
        assert_eq!(labels[CLUSTER_LABEL], "prod-1");
        assert_eq!(labels[FS_LABEL], "xfs");
    }
}
