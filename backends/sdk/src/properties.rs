//! Volume options (`docker volume create --opt k=v`) and backend settings
//! (the `settings` table of the host config), read by taking keys out.
//!
//! Keys ignore ASCII case (REX-Ray accepts any case) and every lookup names
//! all the spellings it accepts, so REX-Ray's aliases keep working:
//! `options.take(&["volumetype", "type", "ebstype"])`. A key taken is gone;
//! [`Properties::finish`] then refuses whatever nobody took, naming it and
//! the keys the backend knows. A key given twice under different spellings
//! with different values is refused rather than guessed at.
//!
//! Options must be finished: a typo in `--opt` must not be ignored.
//! Settings need not be: a backend that may receive settings meant for
//! others can leave them; one that wants typos caught calls `finish` too.

use crate::size::{parse_bool, parse_size};
use crate::{Error, Result};

/// Volume options handed to `create`.
pub type Options = Properties;

/// Backend settings handed to `init`.
pub type Settings = Properties;

/// Key/value pairs read by taking keys out. See the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Properties {
    /// "option" or "setting", for messages.
    what: &'static str,
    /// Pairs not taken yet, in the order given.
    left: Vec<(String, String)>,
    /// The first spelling of each key asked for, for the "accepts" list.
    known: Vec<String>,
}

impl Properties {
    /// Volume options from pairs (what the host passes to `create`).
    pub fn options<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Properties::new("option", pairs)
    }

    /// Backend settings from pairs (what the host passes to `init`).
    pub fn settings<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Properties::new("setting", pairs)
    }

    fn new<K: Into<String>, V: Into<String>>(
        what: &'static str,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let left = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Properties {
            what,
            left,
            known: Vec::new(),
        }
    }

    /// Take the value given under any of `keys` (any case). `None` when
    /// absent; `invalid-argument` when given twice with different values.
    pub fn take(&mut self, keys: &[&str]) -> Result<Option<String>> {
        Ok(self.take_entry(keys)?.map(|(_, value)| value))
    }

    /// Take a value, trimmed; one that is empty or blank is `invalid-argument`
    /// ("option zone is empty; leave it out or give a value").
    pub fn take_non_empty(&mut self, keys: &[&str]) -> Result<Option<String>> {
        match self.take(keys)?.map(|value| value.trim().to_owned()) {
            Some(value) if value.is_empty() => Err(Error::invalid_argument(format!(
                "{} {} is empty; leave it out or give a value",
                self.what,
                keys.first().copied().unwrap_or_default()
            ))),
            other => Ok(other),
        }
    }

    /// Take a key whose only accepted value is `only` (any case), as
    /// Cloudstor's `backing`: anything else is `invalid-argument` saying
    /// `why` and how to put it right.
    pub fn take_only(&mut self, keys: &[&str], only: &str, why: &str) -> Result<()> {
        match self.take(keys)? {
            Some(value) if !value.trim().eq_ignore_ascii_case(only) => {
                let key = keys.first().copied().unwrap_or_default();
                Err(Error::invalid_argument(format!(
                    "{key}={value} is not supported: {why}; use {key}={only} or leave it out"
                )))
            }
            _ => Ok(()),
        }
    }

    /// Take a size (see [`parse_size`]): a bare number is GiB.
    pub fn take_size(&mut self, keys: &[&str]) -> Result<Option<u64>> {
        self.take_parsed(keys, parse_size)
    }

    /// Take a boolean (see [`parse_bool`]).
    pub fn take_bool(&mut self, keys: &[&str]) -> Result<Option<bool>> {
        self.take_parsed(keys, parse_bool)
    }

    /// Take a whole number (no unit).
    pub fn take_u64(&mut self, keys: &[&str]) -> Result<Option<u64>> {
        self.take_parsed(keys, |value| {
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| Error::invalid_argument(format!("{value:?} is not a whole number")))
        })
    }

    /// Take a value that must be one of `allowed` (any case); returns the
    /// spelling from `allowed`.
    pub fn take_one_of(&mut self, keys: &[&str], allowed: &[&str]) -> Result<Option<String>> {
        self.take_parsed(keys, |value| {
            allowed
                .iter()
                .find(|a| a.eq_ignore_ascii_case(value.trim()))
                .map(|a| a.to_string())
                .ok_or_else(|| {
                    Error::invalid_argument(format!(
                        "{value:?} is not one of {}",
                        allowed.join(", ")
                    ))
                })
        })
    }

    /// True when every pair has been taken.
    pub fn is_empty(&self) -> bool {
        self.left.is_empty()
    }

    /// Keys nobody has taken yet, as given.
    pub fn remaining_keys(&self) -> impl Iterator<Item = &str> {
        self.left.iter().map(|(key, _)| key.as_str())
    }

    /// Refuse the pairs nobody took: `invalid-argument` naming each unknown
    /// key and the keys taken so far ("unknown option \"sise\"; this backend
    /// accepts: size, fstype"). Call it after taking every key you know.
    pub fn finish(self) -> Result<()> {
        if self.left.is_empty() {
            return Ok(());
        }
        let unknown: Vec<String> = self
            .left
            .iter()
            .map(|(key, _)| format!("{key:?}"))
            .collect();
        let plural = if unknown.len() == 1 { "" } else { "s" };
        let accepts = if self.known.is_empty() {
            "nothing".to_owned()
        } else {
            self.known.join(", ")
        };
        Err(Error::invalid_argument(format!(
            "unknown {}{plural} {}; this backend accepts: {accepts}",
            self.what,
            unknown.join(", ")
        )))
    }

    /// Take a value and parse it; a parse error names the key as given.
    fn take_parsed<T>(
        &mut self,
        keys: &[&str],
        parse: impl FnOnce(&str) -> Result<T>,
    ) -> Result<Option<T>> {
        let Some((key, value)) = self.take_entry(keys)? else {
            return Ok(None);
        };
        parse(&value).map(Some).map_err(|err| {
            Error::invalid_argument(format!("{} {key:?}: {}", self.what, err.message()))
        })
    }

    /// Remove every pair whose key matches one of `keys`; return the key as
    /// given and the value.
    fn take_entry(&mut self, keys: &[&str]) -> Result<Option<(String, String)>> {
        debug_assert!(!keys.is_empty(), "take needs at least one key");
        if let Some(first) = keys.first()
            && !self.known.iter().any(|k| k.eq_ignore_ascii_case(first))
        {
            self.known.push(first.to_string());
        }
        let matches = |key: &str| keys.iter().any(|k| k.eq_ignore_ascii_case(key));
        let (taken, left): (Vec<_>, Vec<_>) =
            self.left.drain(..).partition(|(key, _)| matches(key));
        self.left = left;
        let mut taken = taken.into_iter();
        let Some(first) = taken.next() else {
            return Ok(None);
        };
        if let Some(other) = taken.find(|(_, value)| *value != first.1) {
            return Err(Error::invalid_argument(format!(
                "{} given twice with different values: {:?}={:?} and {:?}={:?}; give it once",
                self.what, first.0, first.1, other.0, other.1
            )));
        }
        Ok(Some(first))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> Options {
        Properties::options(pairs.iter().copied())
    }

    #[test]
    fn keys_ignore_case_and_accept_aliases() {
        let mut opts = options(&[("VolumeType", "gp3"), ("SIZE", "10")]);
        assert_eq!(
            opts.take(&["volumetype", "type", "ebstype"])
                .unwrap()
                .as_deref(),
            Some("gp3")
        );
        assert_eq!(opts.take_size(&["size"]).unwrap(), Some(10 << 30));
        opts.finish().unwrap();

        let mut opts = options(&[("EBSType", "io2")]);
        assert_eq!(
            opts.take(&["volumetype", "type", "ebstype"])
                .unwrap()
                .as_deref(),
            Some("io2")
        );
    }

    #[test]
    fn absent_keys_are_none() {
        let mut opts = options(&[]);
        assert_eq!(opts.take(&["size"]).unwrap(), None);
        assert_eq!(opts.take_size(&["size"]).unwrap(), None);
        assert_eq!(opts.take_bool(&["encrypted"]).unwrap(), None);
        opts.finish().unwrap();
    }

    #[test]
    fn a_key_given_twice_with_different_values_is_refused() {
        let mut opts = options(&[("size", "10"), ("Size", "20")]);
        let err = opts.take(&["size"]).unwrap_err();
        assert_eq!(err.kind(), "invalid-argument");
        assert!(
            err.message().contains(r#""size"="10" and "Size"="20""#),
            "{err}"
        );

        let mut opts = options(&[("type", "gp2"), ("volumetype", "gp3")]);
        assert!(opts.take(&["volumetype", "type"]).is_err());

        // The same value twice is not ambiguous.
        let mut opts = options(&[("size", "10"), ("SIZE", "10")]);
        assert_eq!(opts.take(&["size"]).unwrap().as_deref(), Some("10"));
        opts.finish().unwrap();
    }

    #[test]
    fn finish_names_unknown_keys_and_known_ones() {
        let mut opts = options(&[("sise", "10"), ("fstype", "xfs")]);
        opts.take_size(&["size"]).unwrap();
        opts.take(&["fstype", "fs"]).unwrap();
        let err = opts.finish().unwrap_err();
        assert_eq!(err.kind(), "invalid-argument");
        assert_eq!(
            err.message(),
            r#"unknown option "sise"; this backend accepts: size, fstype"#
        );

        let opts = options(&[("a", "1"), ("b", "2")]);
        let err = opts.finish().unwrap_err();
        assert_eq!(
            err.message(),
            r#"unknown options "a", "b"; this backend accepts: nothing"#
        );
    }

    #[test]
    fn settings_say_setting_and_may_keep_leftovers() {
        let mut settings = Properties::settings([("default_size", "2"), ("PATH", "/bin")]);
        assert_eq!(
            settings.take_size(&["default_size"]).unwrap(),
            Some(2 << 30)
        );
        assert_eq!(settings.remaining_keys().collect::<Vec<_>>(), ["PATH"]);
        let err = settings.finish().unwrap_err();
        assert!(
            err.message().starts_with(r#"unknown setting "PATH""#),
            "{err}"
        );
    }

    #[test]
    fn typed_getters_name_the_key_in_errors() {
        let mut opts = options(&[("Size", "abc")]);
        let err = opts.take_size(&["size"]).unwrap_err();
        assert_eq!(err.kind(), "invalid-argument");
        assert!(
            err.message()
                .starts_with(r#"option "Size": invalid size "abc""#),
            "{err}"
        );

        let mut opts = options(&[("encrypted", "maybe")]);
        let err = opts.take_bool(&["encrypted"]).unwrap_err();
        assert!(
            err.message()
                .starts_with(r#"option "encrypted": invalid boolean"#),
            "{err}"
        );

        let mut opts = options(&[("iops", "3000"), ("throughput", "fast")]);
        assert_eq!(opts.take_u64(&["iops"]).unwrap(), Some(3000));
        let err = opts.take_u64(&["throughput"]).unwrap_err();
        assert_eq!(
            err.message(),
            r#"option "throughput": "fast" is not a whole number"#
        );
    }

    #[test]
    fn empty_values_and_other_values_of_a_fixed_key_are_refused() {
        let mut opts = options(&[("Zone", " us-east-1a "), ("kmskeyid", "  ")]);
        assert_eq!(
            opts.take_non_empty(&["availabilityzone", "zone"])
                .unwrap()
                .as_deref(),
            Some("us-east-1a")
        );
        let err = opts
            .take_non_empty(&["encryptionkey", "kmskeyid"])
            .unwrap_err();
        assert_eq!(
            err.message(),
            "option encryptionkey is empty; leave it out or give a value"
        );
        let mut settings = Properties::settings([("EBS_KMSKEYID", "")]);
        let err = settings.take_non_empty(&["EBS_KMSKEYID"]).unwrap_err();
        assert!(
            err.message().starts_with("setting EBS_KMSKEYID is empty"),
            "{err}"
        );

        let why = "every volume here is shared";
        let mut opts = options(&[("Backing", " SHARED ")]);
        opts.take_only(&["backing"], "shared", why).unwrap();
        opts.finish().unwrap();
        options(&[]).take_only(&["backing"], "shared", why).unwrap();
        let err = options(&[("backing", "relocatable")])
            .take_only(&["backing"], "shared", why)
            .unwrap_err();
        assert_eq!(err.kind(), "invalid-argument");
        assert_eq!(
            err.message(),
            "backing=relocatable is not supported: every volume here is shared; \
             use backing=shared or leave it out"
        );
    }

    #[test]
    fn one_of_returns_the_canonical_spelling() {
        let mut opts = options(&[("fstype", "XFS")]);
        assert_eq!(
            opts.take_one_of(&["fstype"], &["ext4", "xfs"])
                .unwrap()
                .as_deref(),
            Some("xfs")
        );

        let mut opts = options(&[("fstype", "ntfs")]);
        let err = opts.take_one_of(&["fstype"], &["ext4", "xfs"]).unwrap_err();
        assert_eq!(
            err.message(),
            r#"option "fstype": "ntfs" is not one of ext4, xfs"#
        );
    }

    #[test]
    fn negative_and_zero_sizes_are_refused() {
        for bad in ["-1", "0", "1PB!"] {
            let mut opts = options(&[("size", bad)]);
            assert_eq!(
                opts.take_size(&["size"]).unwrap_err().kind(),
                "invalid-argument",
                "{bad}"
            );
        }
    }
}
