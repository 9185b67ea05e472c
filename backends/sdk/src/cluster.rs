//! What every cloud backend's volumes share across the hosts of a cluster:
//! the cluster scope (REX-Ray's `<PREFIX>_TAG` setting, e.g. `EBS_TAG`),
//! the tags that make a cloud resource a Ballast volume, the display name,
//! and idempotency tokens that every host derives alike.
//!
//! Tags are the only cluster-wide state a backend has: what is decided
//! from them must come out the same on every host. Pure, except
//! [`unix_now`], which reads the clock.

use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::{Error, Result, VolumeName};

/// The cluster scope when the `<PREFIX>_TAG` setting is not set.
pub const DEFAULT_CLUSTER: &str = "ballast";

/// Longest cluster tag: it prefixes the `Name` tag (at most 256 characters)
/// of volumes whose names may be 200 long.
pub const MAX_CLUSTER_LEN: usize = 50;

/// The provider's display name: the volume name, or `<tag>/<name>` (REX-Ray).
pub const NAME_TAG: &str = "Name";
/// The Docker volume name.
pub const VOLUME_TAG: &str = "ballast.volume";
/// The cluster scope.
pub const CLUSTER_TAG: &str = "ballast.cluster";

/// Seconds an idempotency token lasts. Long enough for every creator of one
/// Swarm rollout, short enough that `docker volume rm x; docker volume
/// create x` later is not handed the deleted volume again.
pub const TOKEN_WINDOW_SECS: u64 = 600;

/// Hex digits of the hash kept in a token ("ballast-" + 40 = 48 of the 64
/// characters EC2 and EFS allow).
const TOKEN_HASH_DIGITS: usize = 40;

/// A backend's cluster scope, from its `<PREFIX>_TAG` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// The `ballast.cluster` tag value: the setting, or "ballast".
    pub tag: String,
    /// True when the setting was given: the `Name` tag is then
    /// `<tag>/<name>`, as REX-Ray wrote it.
    pub in_name: bool,
}

impl Cluster {
    /// The scope the setting `key` (e.g. "EBS_TAG") gives: `value` must be
    /// 1–50 letters, digits, '_', '.', '-' (it becomes a tag value and a
    /// `Name` prefix); none is the default scope.
    pub fn from_setting(key: &str, value: Option<String>) -> Result<Cluster> {
        let Some(tag) = value else {
            return Ok(Cluster {
                tag: DEFAULT_CLUSTER.into(),
                in_name: false,
            });
        };
        let ok = !tag.is_empty()
            && tag.len() <= MAX_CLUSTER_LEN
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !ok {
            return Err(Error::invalid_argument(format!(
                "setting {key} {tag:?}: use 1-{MAX_CLUSTER_LEN} letters, digits, '_', '.', '-'"
            )));
        }
        Ok(Cluster { tag, in_name: true })
    }

    /// The `Name` tag of volume `name`.
    pub fn display_name(&self, name: &VolumeName) -> String {
        if self.in_name {
            format!("{}/{name}", self.tag)
        } else {
            name.to_string()
        }
    }

    /// The tags that make a resource volume `name` of this cluster:
    /// `Name`, `ballast.volume`, `ballast.cluster`.
    pub fn tags(&self, name: &VolumeName) -> Vec<(String, String)> {
        vec![
            (NAME_TAG.to_owned(), self.display_name(name)),
            (VOLUME_TAG.to_owned(), name.to_string()),
            (CLUSTER_TAG.to_owned(), self.tag.clone()),
        ]
    }

    /// Whether `tags` make a resource a volume of this cluster; its name
    /// when they do (and it is a valid volume name).
    pub fn volume_of(&self, tags: &[(String, String)]) -> Option<VolumeName> {
        if find_tag(tags, CLUSTER_TAG) != Some(self.tag.as_str()) {
            return None;
        }
        VolumeName::new(find_tag(tags, VOLUME_TAG)?).ok()
    }
}

/// The value of tag `key` in `tags` (EC2 and EFS tag keys are
/// case-sensitive).
pub fn find_tag<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(k, _)| k == key)
        .map(|(_, value)| value.as_str())
}

/// An idempotency token (EC2's ClientToken, EFS's CreationToken and
/// ClientToken) for `parts` at `unix_secs`: the same on every host within
/// one 10-minute window, different in the next. "ballast-" and 40 hex
/// digits of SHA-256 over the parts and the window, each followed by a NUL:
/// 48 characters.
pub fn window_token(parts: &[&str], unix_secs: u64) -> String {
    let window = unix_secs / TOKEN_WINDOW_SECS;
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.update(window.to_string().as_bytes());
    let hex: String = hash
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("ballast-{}", &hex[..TOKEN_HASH_DIGITS])
}

/// Wall-clock seconds since the Unix epoch (WASI's clock on wasip2). A
/// clock before 1970 reads as 0.
pub fn unix_now() -> u64 {
    unix_now_ms() / 1000
}

/// Wall-clock milliseconds since the Unix epoch; 0 before 1970.
pub fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> VolumeName {
        VolumeName::new(n).unwrap()
    }

    #[test]
    fn the_default_scope_keeps_names_bare() {
        let c = Cluster::from_setting("EFS_TAG", None).unwrap();
        assert_eq!((c.tag.as_str(), c.in_name), ("ballast", false));
        assert_eq!(c.display_name(&name("pgdata")), "pgdata");
        let c = Cluster::from_setting("EFS_TAG", Some("prod-1".into())).unwrap();
        assert_eq!((c.tag.as_str(), c.in_name), ("prod-1", true));
        assert_eq!(c.display_name(&name("pgdata")), "prod-1/pgdata");
    }

    #[test]
    fn bad_cluster_tags_are_refused_naming_the_setting() {
        for bad in ["", "a/b", "sp ace", &"x".repeat(51)] {
            let err = Cluster::from_setting("EBS_TAG", Some(bad.into())).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{bad:?}");
            assert!(err.message().starts_with("setting EBS_TAG"), "{err}");
        }
        assert!(Cluster::from_setting("EBS_TAG", Some("x".repeat(50))).is_ok());
    }

    #[test]
    fn tags_make_a_volume_of_one_cluster() {
        let prod = Cluster::from_setting("EFS_TAG", Some("prod".into())).unwrap();
        let tags = prod.tags(&name("pgdata"));
        let expect = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            tags,
            [
                expect("Name", "prod/pgdata"),
                expect("ballast.volume", "pgdata"),
                expect("ballast.cluster", "prod"),
            ]
        );
        assert_eq!(prod.volume_of(&tags), Some(name("pgdata")));
        let other = Cluster::from_setting("EFS_TAG", None).unwrap();
        assert_eq!(other.volume_of(&tags), None, "another cluster's volume");
        let bad = [expect(CLUSTER_TAG, "prod"), expect(VOLUME_TAG, "../etc")];
        assert_eq!(prod.volume_of(&bad), None, "not a volume name");
        assert_eq!(prod.volume_of(&[expect(CLUSTER_TAG, "prod")]), None);
        assert_eq!(find_tag(&tags, "name"), None, "keys are case-sensitive");
    }

    #[test]
    fn the_token_is_shared_within_a_window_and_changes_after() {
        let t = 1_700_000_400; // the start of a window
        let token = window_token(&["ballast", "pgdata"], t);
        assert_eq!(window_token(&["ballast", "pgdata"], t + 599), token);
        assert_ne!(window_token(&["ballast", "pgdata"], t + 600), token);
        assert_ne!(window_token(&["ballast", "pgdata"], t - 1), token);
    }

    #[test]
    fn the_token_depends_on_every_part() {
        let t = 1_700_000_400;
        let token = window_token(&["ballast", "pgdata"], t);
        assert_ne!(window_token(&["prod", "pgdata"], t), token);
        assert_ne!(window_token(&["ballast", "pgdata2"], t), token);
        assert_ne!(window_token(&["ballast", "pgdata", "fs-1"], t), token);
        // The separator keeps ("a", "bc") and ("ab", "c") apart.
        assert_ne!(window_token(&["a", "bc"], t), window_token(&["ab", "c"], t));
    }

    #[test]
    fn the_token_fits_the_providers_limit_and_is_stable() {
        let long = "x".repeat(200);
        let token = window_token(&[&"c".repeat(50), &long], u64::MAX);
        assert_eq!(token.len(), 48);
        assert!(token.starts_with("ballast-"));
        assert!(
            token[8..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        // Known values (sha256 of "ballast\0pgdata\0<window>"), so a change to
        // the derivation is noticed: hosts on old and new versions would
        // create twice in one window.
        assert_eq!(
            window_token(&["ballast", "pgdata"], 599),
            "ballast-4ada14ad5c6970593771ec63e19f5bcda7508033"
        );
        assert_eq!(
            window_token(&["ballast", "pgdata"], 1_700_000_400),
            "ballast-4fcad9d232bc3f71ea956299c559003de09c5a01"
        );
    }

    #[test]
    fn the_clock_reads_after_2020() {
        assert!(unix_now() > 1_577_836_800);
        assert!(unix_now_ms() / 1000 >= unix_now() - 1);
    }
}
