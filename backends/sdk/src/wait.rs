//! How long a backend lets the host wait for a cloud resource to change
//! state: REX-Ray's `<PREFIX>_STATUSMAXATTEMPTS`, `<PREFIX>_STATUSINITIALDELAY`
//! and `<PREFIX>_STATUSTIMEOUT` settings (`EBS_…`, `EFS_…`), and the
//! Go-style durations REX-Ray read them as (`100ms`, `2m`, `1m30s`).
//!
//! The host does the waiting (see the capabilities' `wait-policy`): polls
//! start after the initial delay and double, up to 2 s apart, until the
//! state is reached, the attempts are spent or the timeout passes.
//! [`StatusPolicy`] converts into each capability's own `WaitPolicy`.
//! Pure: no capability is called.

use crate::{Error, Result, Settings};

/// The host waits at most this long between two polls (see `wait-policy`).
pub const MAX_POLL_GAP_MS: u64 = 2_000;

/// Most polls a setting may ask for.
const MAX_ATTEMPTS: u64 = 10_000;

/// A wait as the host runs it; converts into `ec2::WaitPolicy` and
/// `efs::WaitPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusPolicy {
    pub initial_delay_ms: u32,
    pub max_attempts: u32,
    pub timeout_ms: u32,
}

impl StatusPolicy {
    /// REX-Ray's defaults: first poll after 100 ms, at most 10 polls, 2 min.
    pub const DEFAULT: StatusPolicy = StatusPolicy {
        initial_delay_ms: 100,
        max_attempts: 10,
        timeout_ms: 120_000,
    };

    /// Take `<prefix>_STATUSMAXATTEMPTS` (1–10000), `<prefix>_STATUSINITIALDELAY`
    /// (a duration; a bare number is milliseconds, as REX-Ray's docs show)
    /// and `<prefix>_STATUSTIMEOUT` (a duration with its unit) out of the
    /// settings; [`StatusPolicy::DEFAULT`] for what is absent.
    pub fn take(settings: &mut Settings, prefix: &str) -> Result<StatusPolicy> {
        let attempts_key = format!("{prefix}_STATUSMAXATTEMPTS");
        let max_attempts = match settings.take_u64(&[&attempts_key])? {
            None => StatusPolicy::DEFAULT.max_attempts,
            Some(n @ 1..=MAX_ATTEMPTS) => n as u32,
            Some(n) => {
                return Err(Error::invalid_argument(format!(
                    "setting {attempts_key}: {n} is out of range 1-{MAX_ATTEMPTS}"
                )));
            }
        };
        let initial_delay_ms = take_duration_ms(
            settings,
            &format!("{prefix}_STATUSINITIALDELAY"),
            "100ms",
            Bare::Ms,
        )?;
        let timeout_ms = take_duration_ms(
            settings,
            &format!("{prefix}_STATUSTIMEOUT"),
            "2m",
            Bare::Refused,
        )?;
        Ok(StatusPolicy {
            initial_delay_ms,
            max_attempts,
            timeout_ms,
        })
    }

    /// The same start, lasting `timeout_ms`, with enough polls to last that
    /// long whatever the attempts setting says (the timeout then decides).
    pub fn lasting(self, timeout_ms: u32) -> StatusPolicy {
        let needed = polls_to_cover(self.initial_delay_ms, timeout_ms);
        StatusPolicy {
            initial_delay_ms: self.initial_delay_ms,
            max_attempts: self.max_attempts.max(needed),
            timeout_ms,
        }
    }
}

/// `From` both ways between [`StatusPolicy`] and a capability's own
/// `WaitPolicy` record (each interface has one, with the same fields).
macro_rules! convert_wait_policy {
    ($policy:ty) => {
        impl From<$crate::wait::StatusPolicy> for $policy {
            fn from(policy: $crate::wait::StatusPolicy) -> $policy {
                Self {
                    initial_delay_ms: policy.initial_delay_ms,
                    max_attempts: policy.max_attempts,
                    timeout_ms: policy.timeout_ms,
                }
            }
        }

        impl From<$policy> for $crate::wait::StatusPolicy {
            fn from(policy: $policy) -> $crate::wait::StatusPolicy {
                Self {
                    initial_delay_ms: policy.initial_delay_ms,
                    max_attempts: policy.max_attempts,
                    timeout_ms: policy.timeout_ms,
                }
            }
        }
    };
}
pub(crate) use convert_wait_policy;

/// What a number without a unit means in a duration setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bare {
    /// Milliseconds (`EBS_STATUSINITIALDELAY=100`, as REX-Ray docs show).
    Ms,
    /// Refused: say the unit (`2m`, `60s`), so `attach_timeout=60` is never
    /// read as 60 ms.
    Refused,
}

/// Take the duration setting `key` in milliseconds, or `default` when
/// absent. Positive, at most u32::MAX ms (a wait policy's field).
pub fn take_duration_ms(
    settings: &mut Settings,
    key: &str,
    default: &str,
    bare: Bare,
) -> Result<u32> {
    let value = settings.take(&[key])?;
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
pub fn parse_duration(text: &str, bare: Bare) -> core::result::Result<u64, String> {
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
pub fn polls_to_cover(initial_ms: u32, timeout_ms: u32) -> u32 {
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

    fn policy(pairs: &[(&str, &str)]) -> Result<StatusPolicy> {
        let mut settings = Settings::settings(pairs.iter().copied());
        let policy = StatusPolicy::take(&mut settings, "EFS")?;
        assert!(settings.is_empty(), "every status setting is taken");
        Ok(policy)
    }

    #[test]
    fn defaults_are_rexrays() {
        assert_eq!(policy(&[]).unwrap(), StatusPolicy::DEFAULT);
        assert_eq!(
            StatusPolicy::DEFAULT,
            StatusPolicy {
                initial_delay_ms: 100,
                max_attempts: 10,
                timeout_ms: 120_000
            }
        );
    }

    #[test]
    fn the_prefix_names_the_settings_in_any_case() {
        let p = policy(&[
            ("efs_statusmaxattempts", "20"),
            ("EFS_StatusInitialDelay", "250"),
            ("EFS_STATUSTIMEOUT", "1m30s"),
        ])
        .unwrap();
        assert_eq!(
            p,
            StatusPolicy {
                initial_delay_ms: 250,
                max_attempts: 20,
                timeout_ms: 90_000
            }
        );
        // Another prefix's settings are not this one's.
        let mut settings = Settings::settings([("EBS_STATUSTIMEOUT", "5s")]);
        assert_eq!(
            StatusPolicy::take(&mut settings, "EFS").unwrap(),
            StatusPolicy::DEFAULT
        );
        assert_eq!(
            settings.remaining_keys().collect::<Vec<_>>(),
            ["EBS_STATUSTIMEOUT"]
        );
    }

    #[test]
    fn malformed_status_settings_are_refused_by_name() {
        for (pairs, says) in [
            (
                &[("EFS_STATUSMAXATTEMPTS", "0")][..],
                "setting EFS_STATUSMAXATTEMPTS: 0 is out of range 1-10000",
            ),
            (&[("EFS_STATUSMAXATTEMPTS", "10001")][..], "out of range"),
            (
                &[("EFS_STATUSMAXATTEMPTS", "x")][..],
                "EFS_STATUSMAXATTEMPTS",
            ),
            (
                &[("EFS_STATUSINITIALDELAY", "soon")][..],
                "setting EFS_STATUSINITIALDELAY \"soon\": expected a duration",
            ),
            (
                &[("EFS_STATUSTIMEOUT", "120")][..],
                "give a unit, e.g. 120s",
            ),
            (&[("EFS_STATUSTIMEOUT", "0s")][..], "must be above zero"),
            (&[("EFS_STATUSTIMEOUT", "1200h")][..], "too long"),
        ] {
            let err = policy(pairs).unwrap_err();
            assert_eq!(err.kind(), "invalid-argument", "{pairs:?}");
            assert!(err.message().contains(says), "{pairs:?}: {err}");
        }
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
    fn a_lasting_policy_polls_long_enough_for_its_timeout() {
        // 100 ms doubling to 2 s: 0.1+0.2+0.4+0.8+1.6 = 3.1 s, then 2 s each.
        assert_eq!(polls_to_cover(100, 3_100), 5);
        assert_eq!(polls_to_cover(100, 60_000), 5 + 29);
        assert_eq!(
            StatusPolicy::DEFAULT.lasting(3_000),
            StatusPolicy {
                initial_delay_ms: 100,
                max_attempts: 10,
                timeout_ms: 3_000
            }
        );
        assert_eq!(StatusPolicy::DEFAULT.lasting(60_000).max_attempts, 34);
    }
}
