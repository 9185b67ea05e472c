//! The backend's settings (the `settings` table of its host config), read
//! in `init` before every call: REX-Ray's names (`EBS_REGION`,
//! `REXRAY_PREEMPT` ...) and Ballast's own (`default_size` ...), any case.
//!
//! Pure: no capability is called, so `init` stays cheap. Credentials may be
//! listed (REX-Ray configs carry them) but the host strips them before the
//! guest sees settings; if one arrives anyway it is dropped here, never
//! stored or logged.

use ballast_sdk::ec2::WaitPolicy;
use ballast_sdk::{Error, Result, Settings};

use crate::rules::{self, GIB};

/// Filesystems the host can make on a volume.
pub const FS_TYPES: [&str; 2] = ["ext4", "xfs"];

/// The cluster tag when `EBS_TAG` is not set.
const DEFAULT_CLUSTER: &str = "ballast";

/// Longest `EBS_TAG`: it prefixes the `Name` tag (at most 256 characters)
/// of volumes whose names may be 200 long.
const MAX_CLUSTER_LEN: usize = 50;

/// The host waits at most this long between two polls (see `wait-policy`).
const MAX_POLL_GAP_MS: u64 = 2_000;

/// Everything `init` learned from the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The cluster scope (`ballast.cluster` tag): `EBS_TAG`, or "ballast".
    pub cluster: String,
    /// True when `EBS_TAG` was set: the `Name` tag is then `<tag>/<name>`,
    /// as REX-Ray wrote it.
    pub cluster_in_name: bool,
    /// `EBS_KMSKEYID`: new volumes are encrypted with this key by default.
    pub kms_key_id: Option<String>,
    /// `REXRAY_PREEMPT`: take volumes over from other instances on attach.
    pub preempt: bool,
    /// `REXRAY_FSTYPE`: the filesystem of new volumes.
    pub fs_type: String,
    /// `default_size` in GiB.
    pub default_size_gib: u32,
    /// `default_type`.
    pub default_type: String,
    /// `EBS_STATUS*`: how long to wait for a volume to change state.
    pub status: WaitPolicy,
    /// `attach_timeout`: how long an attachment may stay in `attaching`.
    pub attach_timeout_ms: u32,
}

impl Config {
    /// Read every setting this backend knows; anything else is refused
    /// (`invalid-argument` listing the known names) so a typo is not silently
    /// ignored.
    pub fn from_settings(mut settings: Settings) -> Result<Config> {
        // Used by the host's AWS client; accepted here so REX-Ray configs
        // load unchanged.
        settings.take(&["EBS_REGION"])?;
        settings.take(&["EBS_ENDPOINT"])?;
        // Normally stripped by the host; dropped unread if not.
        settings.take(&["EBS_ACCESSKEY"])?;
        settings.take(&["EBS_SECRETKEY"])?;

        let kms_key_id = non_empty(settings.take(&["EBS_KMSKEYID"])?, "EBS_KMSKEYID")?;
        let tag = settings.take(&["EBS_TAG"])?;
        let max_attempts = settings.take_u64(&["EBS_STATUSMAXATTEMPTS"])?;
        let initial_delay = settings.take(&["EBS_STATUSINITIALDELAY"])?;
        let timeout = settings.take(&["EBS_STATUSTIMEOUT"])?;
        let preempt = settings.take_bool(&["REXRAY_PREEMPT"])?.unwrap_or(false);
        let fs_type = settings
            .take_one_of(&["REXRAY_FSTYPE"], &FS_TYPES)?
            .unwrap_or_else(|| "ext4".into());
        let default_size = settings.take_size(&["default_size"])?;
        let default_type = settings.take_one_of(&["default_type"], &rules::VOLUME_TYPES)?;
        let attach_timeout = settings.take(&["attach_timeout"])?;
        settings.finish()?;

        let cluster_in_name = tag.is_some();
        let cluster = match tag {
            Some(tag) => check_cluster(&tag)?,
            None => DEFAULT_CLUSTER.into(),
        };
        let status = WaitPolicy {
            initial_delay_ms: millis("EBS_STATUSINITIALDELAY", initial_delay, "100ms", Bare::Ms)?,
            max_attempts: attempts(max_attempts)?,
            timeout_ms: millis("EBS_STATUSTIMEOUT", timeout, "2m", Bare::Refused)?,
        };
        let attach_timeout_ms = millis("attach_timeout", attach_timeout, "60s", Bare::Refused)?;
        let default_type = default_type.unwrap_or_else(|| "gp3".into());
        let default_size_gib = default_size_gib(default_size, &default_type)?;
        Ok(Config {
            cluster,
            cluster_in_name,
            kms_key_id,
            preempt,
            fs_type,
            default_size_gib,
            default_type,
            status,
            attach_timeout_ms,
        })
    }

    /// The policy for waiting out an attachment: `attach_timeout`, with
    /// enough polls to last that long whatever `EBS_STATUSMAXATTEMPTS` says
    /// (the timeout is what decides an attachment is stuck).
    pub fn attach_policy(&self) -> WaitPolicy {
        let needed = polls_to_cover(self.status.initial_delay_ms, self.attach_timeout_ms);
        WaitPolicy {
            initial_delay_ms: self.status.initial_delay_ms,
            max_attempts: self.status.max_attempts.max(needed),
            timeout_ms: self.attach_timeout_ms,
        }
    }
}

/// `EBS_TAG` becomes a tag value and a `Name` prefix: keep it to the
/// characters volume names use.
fn check_cluster(tag: &str) -> Result<String> {
    let ok = !tag.is_empty()
        && tag.len() <= MAX_CLUSTER_LEN
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(tag.to_owned())
    } else {
        Err(Error::invalid_argument(format!(
            "setting EBS_TAG {tag:?}: use 1-{MAX_CLUSTER_LEN} letters, digits, '_', '.', '-'"
        )))
    }
}

fn non_empty(value: Option<String>, key: &str) -> Result<Option<String>> {
    match value.map(|v| v.trim().to_owned()) {
        Some(v) if v.is_empty() => Err(Error::invalid_argument(format!(
            "setting {key} is empty; leave it out or give a value"
        ))),
        other => Ok(other),
    }
}

fn attempts(value: Option<u64>) -> Result<u32> {
    match value {
        None => Ok(10),
        Some(n @ 1..=10_000) => Ok(n as u32),
        Some(n) => Err(Error::invalid_argument(format!(
            "setting EBS_STATUSMAXATTEMPTS: {n} is out of range 1-10000"
        ))),
    }
}

/// `default_size` (bare number = GiB, rounded up to whole GiB) must suit
/// `default_type`, or every create without a size would fail.
fn default_size_gib(bytes: Option<u64>, volume_type: &str) -> Result<u32> {
    let gib = match bytes {
        Some(bytes) => gib_of("setting default_size", bytes)?,
        // REX-Ray's default; raised to the type's minimum (st1, sc1) only
        // when the operator did not pick a size.
        None => 16.max(rules::size_range(volume_type).0),
    };
    rules::check_size(volume_type, gib).map_err(|err| {
        Error::invalid_argument(format!(
            "setting default_size does not suit default_type {volume_type}: {}",
            err.message()
        ))
    })?;
    Ok(gib)
}

/// Bytes to whole GiB, rounded up; `invalid-argument` past what EBS has.
pub fn gib_of(what: &str, bytes: u64) -> Result<u32> {
    u32::try_from(bytes.div_ceil(GIB)).map_err(|_| {
        Error::invalid_argument(format!("{what}: {} GiB is too large", bytes.div_ceil(GIB)))
    })
}

/// What a number without a unit means in a duration setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bare {
    /// Milliseconds (`EBS_STATUSINITIALDELAY=100`, as REX-Ray docs show).
    Ms,
    /// Refused: say the unit (`2m`, `60s`), so `attach_timeout=60` is never
    /// read as 60 ms.
    Refused,
}

/// A duration setting in milliseconds, or `default` when absent. Positive,
/// at most u32::MAX ms (the wait policy's field).
fn millis(key: &str, value: Option<String>, default: &str, bare: Bare) -> Result<u32> {
    let text = value.as_deref().unwrap_or(default);
    let ms = parse_duration(text, bare)
        .map_err(|why| Error::invalid_argument(format!("setting {key} {text:?}: {why}")))?;
    match u32::try_from(ms) {
        Ok(0) => Err(Error::invalid_argument(format!(
            "setting {key} {text:?}: must be above zero"
        ))),
        Ok(ms) => Ok(ms),
        Err(_) => Err(Error::invalid_argument(format!(
            "setting {key} {text:?}: too long (at most 49 days)"
        ))),
    }
}

/// Go-style durations as REX-Ray read them: `100ms`, `2s`, `2m`, `1h`,
/// and sums like `1m30s`; a bare number per `bare`.
fn parse_duration(text: &str, bare: Bare) -> core::result::Result<u64, String> {
    const HELP: &str = "expected a duration such as 100ms, 2s, 2m or 1m30s";
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match bare {
            Bare::Ms => text.parse().map_err(|_| "too long".to_owned()),
            Bare::Refused => Err(format!("give a unit, e.g. {text}s ({HELP})")),
        };
    }
    let mut rest = text;
    let mut total: u64 = 0;
    if rest.is_empty() {
        return Err(HELP.into());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let letters = rest[digits..]
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        let (number, unit) = (&rest[..digits], &rest[digits..digits + letters]);
        let scale = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(HELP.into()),
        };
        let value: u64 = number.parse().map_err(|_| HELP.to_owned())?;
        total = value
            .checked_mul(scale)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| "too long".to_owned())?;
        rest = &rest[digits + letters..];
    }
    Ok(total)
}

/// How many polls the host makes within `timeout_ms` when they start after
/// `initial_ms` and double up to 2 s apart.
fn polls_to_cover(initial_ms: u32, timeout_ms: u32) -> u32 {
    let (mut gap, mut elapsed, mut polls) = (u64::from(initial_ms.max(1)), 0u64, 0u32);
    while elapsed < u64::from(timeout_ms) && polls < 100_000 {
        elapsed += gap;
        polls += 1;
        gap = (gap * 2).min(MAX_POLL_GAP_MS);
    }
    polls
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config> {
        Config::from_settings(Settings::settings(pairs.iter().copied()))
    }

    #[test]
    fn defaults_are_rexrays() {
        let c = config(&[]).unwrap();
        assert_eq!(c.cluster, "ballast");
        assert!(!c.cluster_in_name);
        assert_eq!(c.kms_key_id, None);
        assert!(!c.preempt);
        assert_eq!(c.fs_type, "ext4");
        assert_eq!((c.default_size_gib, c.default_type.as_str()), (16, "gp3"));
        assert_eq!(
            c.status,
            WaitPolicy {
                initial_delay_ms: 100,
                max_attempts: 10,
                timeout_ms: 120_000
            }
        );
        assert_eq!(c.attach_timeout_ms, 60_000);
    }

    #[test]
    fn every_setting_is_read_in_any_case() {
        let c = config(&[
            ("ebs_region", "eu-west-1"),
            ("EBS_Endpoint", "http://127.0.0.1:1"),
            ("EBS_ACCESSKEY", "AKIA..."),
            ("ebs_secretkey", "secret"),
            ("EBS_KMSKEYID", "alias/prod"),
            ("EBS_TAG", "prod-1"),
            ("EBS_STATUSMAXATTEMPTS", "20"),
            ("EBS_STATUSINITIALDELAY", "250"),
            ("EBS_STATUSTIMEOUT", "1m30s"),
            ("REXRAY_PREEMPT", "yes"),
            ("rexray_fstype", "XFS"),
            ("DEFAULT_SIZE", "100"),
            ("default_type", "gp2"),
            ("attach_timeout", "90s"),
        ])
        .unwrap();
        assert_eq!(c.cluster, "prod-1");
        assert!(c.cluster_in_name);
        assert_eq!(c.kms_key_id.as_deref(), Some("alias/prod"));
        assert!(c.preempt);
        assert_eq!(c.fs_type, "xfs");
        assert_eq!((c.default_size_gib, c.default_type.as_str()), (100, "gp2"));
        assert_eq!(
            c.status,
            WaitPolicy {
                initial_delay_ms: 250,
                max_attempts: 20,
                timeout_ms: 90_000
            }
        );
        assert_eq!(c.attach_timeout_ms, 90_000);
        // Credentials are accepted and not kept anywhere.
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn unknown_settings_name_the_known_ones() {
        let err = config(&[("EBS_REGOIN", "x")]).unwrap_err();
        assert_eq!(err.kind(), "invalid-argument");
        let message = err.message();
        assert!(
            message.starts_with("unknown setting \"EBS_REGOIN\""),
            "{message}"
        );
        for known in [
            "EBS_REGION",
            "EBS_TAG",
            "REXRAY_PREEMPT",
            "REXRAY_FSTYPE",
            "default_size",
            "default_type",
            "attach_timeout",
        ] {
            assert!(message.contains(known), "{known} missing: {message}");
        }
    }

    #[test]
    fn malformed_settings_are_refused_by_name() {
        for (pairs, says) in [
            (&[("EBS_TAG", "a/b")][..], "EBS_TAG"),
            (&[("EBS_TAG", "")][..], "EBS_TAG"),
            (&[("EBS_KMSKEYID", " ")][..], "EBS_KMSKEYID"),
            (
                &[("EBS_STATUSMAXATTEMPTS", "0")][..],
                "EBS_STATUSMAXATTEMPTS",
            ),
            (
                &[("EBS_STATUSINITIALDELAY", "soon")][..],
                "EBS_STATUSINITIALDELAY",
            ),
            (&[("EBS_STATUSTIMEOUT", "120")][..], "give a unit"),
            (&[("EBS_STATUSTIMEOUT", "0s")][..], "above zero"),
            (&[("attach_timeout", "60")][..], "attach_timeout"),
            (&[("REXRAY_PREEMPT", "maybe")][..], "REXRAY_PREEMPT"),
            (&[("REXRAY_FSTYPE", "btrfs")][..], "REXRAY_FSTYPE"),
            (&[("default_type", "gp9")][..], "gp9"),
            (&[("default_size", "abc")][..], "default_size"),
            (&[("default_size", "20000")][..], "at most 16384 GiB"),
            (
                &[("default_type", "st1"), ("default_size", "10")][..],
                "st1 volumes must be at least 125 GiB (asked 10 GiB)",
            ),
        ] {
            let err = config(pairs).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{pairs:?}");
            assert!(err.message().contains(says), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn default_size_rounds_up_and_follows_the_type_minimum() {
        assert_eq!(
            config(&[("default_size", "1500MiB")])
                .unwrap()
                .default_size_gib,
            2
        );
        assert_eq!(
            config(&[("default_type", "sc1")]).unwrap().default_size_gib,
            125
        );
    }

    #[test]
    fn durations_in_go_style() {
        assert_eq!(parse_duration("100ms", Bare::Refused), Ok(100));
        assert_eq!(parse_duration("2s", Bare::Refused), Ok(2_000));
        assert_eq!(parse_duration("2m", Bare::Refused), Ok(120_000));
        assert_eq!(parse_duration("1h", Bare::Refused), Ok(3_600_000));
        assert_eq!(parse_duration("1m30s", Bare::Refused), Ok(90_000));
        assert_eq!(parse_duration(" 150 ", Bare::Ms), Ok(150));
        for bad in [
            "",
            "s",
            "1.5s",
            "10x",
            "1 s",
            "-1s",
            "99999999999999999999h",
        ] {
            assert!(parse_duration(bad, Bare::Ms).is_err(), "{bad:?}");
        }
        assert!(
            parse_duration("60", Bare::Refused)
                .unwrap_err()
                .contains("60s")
        );
    }

    #[test]
    fn the_attach_policy_polls_long_enough_for_its_timeout() {
        // 100 ms doubling to 2 s: 0.1+0.2+0.4+0.8+1.6 = 3.1 s, then 2 s each.
        assert_eq!(polls_to_cover(100, 3_100), 5);
        assert_eq!(polls_to_cover(100, 60_000), 5 + 29);
        let c = config(&[("attach_timeout", "3s")]).unwrap();
        assert_eq!(
            c.attach_policy(),
            WaitPolicy {
                initial_delay_ms: 100,
                max_attempts: 10,
                timeout_ms: 3_000
            }
        );
        assert_eq!(config(&[]).unwrap().attach_policy().max_attempts, 34);
    }
}
