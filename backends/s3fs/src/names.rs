//! S3's bucket naming rules, checked before any call so a bad name is
//! refused with the rule it breaks (and, for names that can never be
//! buckets, the way out: prefix mode with `S3FS_BUCKET`).
//!
//! Pure. The rules are AWS's general purpose bucket rules:
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>.

use ballast_sdk::{Error, Result};

/// Shortest and longest bucket names.
pub const MIN_LEN: usize = 3;
pub const MAX_LEN: usize = 63;

/// Which rule a bucket name breaks, or `None` when it is a valid name.
pub fn broken_rule(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    if !(MIN_LEN..=MAX_LEN).contains(&bytes.len()) {
        return Some(format!(
            "bucket names are {MIN_LEN}-{MAX_LEN} characters long (this one has {})",
            name.chars().count()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-')))
    {
        let what = if bad.is_ascii_uppercase() {
            "capital letters".to_string()
        } else {
            format!("{bad:?}")
        };
        return Some(format!(
            "bucket names hold only lowercase letters, digits, '.' and '-' (found {what})"
        ));
    }
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(&bytes[0]) || !alnum(&bytes[bytes.len() - 1]) {
        return Some("bucket names start and end with a letter or digit".into());
    }
    if name.contains("..") {
        return Some("bucket names never hold two adjacent dots".into());
    }
    if looks_like_ip(name) {
        return Some("bucket names are never formatted as IP addresses".into());
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Some(format!("bucket names never start with {prefix:?}"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return Some(format!("bucket names never end with {suffix:?}"));
        }
    }
    None
}

/// `name` as a bucket for a volume of the same name; `invalid-argument`
/// naming the broken rule and pointing at prefix mode otherwise.
pub fn check_volume_bucket(name: &str) -> Result<()> {
    match broken_rule(name) {
        None => Ok(()),
        Some(rule) => Err(Error::invalid_argument(format!(
            "volume name {name:?} cannot be an S3 bucket name: {rule}. Each volume is its own \
             bucket unless a bucket is named: set S3FS_BUCKET (or create with --opt \
             bucket=<bucket>) to keep volumes as prefixes in one bucket, where any volume name \
             works (Docker's anonymous 64-hex names, capitals, '_')"
        ))),
    }
}

/// A bucket named in a setting or option; `invalid-argument` naming `what`.
pub fn check_bucket(what: &str, name: &str) -> Result<()> {
    match broken_rule(name) {
        None => Ok(()),
        Some(rule) => Err(Error::invalid_argument(format!(
            "{what} {name:?} is not a valid S3 bucket name: {rule}"
        ))),
    }
}

/// Four dot-separated decimal numbers, as in 192.168.5.4.
fn looks_like_ip(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names_pass() {
        for name in [
            "abc",
            "my-bucket.data",
            "a1b",
            "pgdata",
            &"a".repeat(63),
            "1.2.3",
        ] {
            assert_eq!(broken_rule(name), None, "{name}");
        }
    }

    #[test]
    fn each_rule_is_named() {
        for (name, says) in [
            ("ab", "3-63 characters"),
            (&"a".repeat(64)[..], "3-63 characters"),
            ("MyBucket", "capital letters"),
            ("my_bucket", "'_'"),
            ("-abc", "start and end"),
            ("abc.", "start and end"),
            ("a..b", "two adjacent dots"),
            ("192.168.5.4", "IP addresses"),
            ("xn--abc", "\"xn--\""),
            ("sthree-abc", "\"sthree-\""),
            ("abc-s3alias", "\"-s3alias\""),
            ("abc--ol-s3", "\"--ol-s3\""),
        ] {
            let rule = broken_rule(name).unwrap_or_else(|| panic!("{name} passed"));
            assert!(rule.contains(says), "{name}: {rule}");
        }
    }

    #[test]
    fn docker_anonymous_names_point_at_prefix_mode() {
        let anonymous = "0f3c1a9e".repeat(8);
        let err = check_volume_bucket(&anonymous).unwrap_err();
        assert_eq!(err.kind(), "invalid-argument");
        assert!(err.message().contains("3-63 characters"), "{err}");
        assert!(err.message().contains("S3FS_BUCKET"), "{err}");
        let err = check_volume_bucket("Data_1").unwrap_err();
        assert!(err.message().contains("capital letters"), "{err}");
        assert!(check_volume_bucket("data-1").is_ok());
    }
}
