//! Waiting for AWS state changes, shared by the AWS capabilities (EC2's
//! volumes, EFS's file systems, mount targets and access points): a
//! bounded exponential backoff (first poll after the initial delay,
//! doubling, at most 2 s between polls, stopping at a number of polls or a
//! time limit).
//!
//! Waiting sleeps on tokio, so a guest blocked here spends none of its CPU
//! budget. A transient error from one poll is remembered, not fatal; any
//! other error ends the wait. Giving up is `unavailable`, naming what was
//! awaited and what was last seen.

use std::time::Duration;

use tokio::time::Instant;

use crate::runtime::bindings::BackendError;

/// Longest pause between two polls.
pub const MAX_DELAY: Duration = Duration::from_secs(2);
/// Shortest pause after the first poll (so a zero initial delay cannot spin).
const MIN_DELAY: Duration = Duration::from_millis(10);

/// How long to wait and how often to look.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    /// None: no limit on the number of polls.
    pub max_attempts: Option<u32>,
    /// None: no time limit (the guest call's own deadline still applies).
    pub timeout: Option<Duration>,
}

impl Backoff {
    /// A guest's `wait-policy` (each capability's WIT has its own record
    /// with these three fields); a zero `max_attempts` or `timeout_ms` sets
    /// no limit of that kind.
    pub fn from_policy(initial_delay_ms: u32, max_attempts: u32, timeout_ms: u32) -> Backoff {
        Backoff {
            initial: Duration::from_millis(initial_delay_ms.into()),
            max_attempts: (max_attempts > 0).then_some(max_attempts),
            timeout: (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms.into())),
        }
    }

    /// Poll every ≤2 s until `timeout` (the host's own long waits).
    pub fn for_at_most(timeout: Duration) -> Backoff {
        Backoff {
            initial: Duration::from_millis(250),
            max_attempts: None,
            timeout: Some(timeout),
        }
    }

    /// The same, but never longer than `limit`: a guest's policy without a
    /// time limit (or a longer one) still ends at the host's.
    pub fn at_most(self, limit: Duration) -> Backoff {
        Backoff {
            timeout: Some(self.timeout.map_or(limit, |t| t.min(limit))),
            ..self
        }
    }
}

/// The pause after `delay`: doubled, at least `MIN_DELAY`, at most `MAX_DELAY`.
pub fn next_delay(delay: Duration) -> Duration {
    (delay * 2).clamp(MIN_DELAY, MAX_DELAY)
}

/// One wait in progress: call `poll` before each look, then `pending` or
/// `absorb` when the look did not finish the wait.
pub struct Waiter {
    backoff: Backoff,
    what: String,
    started: Instant,
    polls: u32,
    delay: Duration,
    last_seen: String,
}

impl Waiter {
    /// `what` completes "waiting for …", e.g. "vol-1 to be available".
    pub fn new(backoff: Backoff, what: impl Into<String>) -> Waiter {
        Waiter {
            backoff,
            what: what.into(),
            started: Instant::now(),
            polls: 0,
            delay: backoff.initial.min(MAX_DELAY),
            last_seen: "nothing yet".into(),
        }
    }

    /// Sleep until the next look is due (never past the time limit).
    pub async fn poll(&mut self) {
        let pause = match self.backoff.timeout {
            Some(limit) => self.delay.min(limit.saturating_sub(self.started.elapsed())),
            None => self.delay,
        };
        tokio::time::sleep(pause).await;
        self.polls += 1;
        self.delay = next_delay(self.delay);
    }

    /// The look found `seen`, not the awaited state: go on, unless the
    /// bounds are used up.
    pub fn pending(&mut self, seen: impl Into<String>) -> Result<(), BackendError> {
        self.last_seen = seen.into();
        let no_polls_left = self.backoff.max_attempts.is_some_and(|m| self.polls >= m);
        let no_time_left = self
            .backoff
            .timeout
            .is_some_and(|t| self.started.elapsed() >= t);
        if no_polls_left || no_time_left {
            return Err(self.gave_up());
        }
        Ok(())
    }

    /// The look failed: transient trouble counts as a pending look, any
    /// other error ends the wait.
    pub fn absorb(&mut self, err: BackendError) -> Result<(), BackendError> {
        match err {
            BackendError::Unavailable(m) => self.pending(format!("a transient error ({m})")),
            other => Err(other),
        }
    }

    fn gave_up(&self) -> BackendError {
        BackendError::Unavailable(format!(
            "waiting for {}: gave up after {} polls in {} ms; last seen: {}",
            self.what,
            self.polls,
            self.started.elapsed().as_millis(),
            self.last_seen
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_two_seconds() {
        let mut delay = Duration::from_millis(300);
        let mut seen = vec![delay];
        for _ in 0..5 {
            delay = next_delay(delay);
            seen.push(delay);
        }
        let ms: Vec<u128> = seen.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [300, 600, 1200, 2000, 2000, 2000]);
        assert_eq!(next_delay(Duration::ZERO), MIN_DELAY, "never spins");
    }

    #[test]
    fn a_policy_of_zeros_sets_no_limits_until_the_host_caps_it() {
        let open = Backoff::from_policy(0, 0, 0);
        assert_eq!(open.max_attempts, None);
        assert_eq!(open.timeout, None);
        let hour = Duration::from_secs(3600);
        assert_eq!(open.at_most(hour).timeout, Some(hour));
        let short = Backoff::from_policy(5, 3, 1000).at_most(hour);
        assert_eq!(short.timeout, Some(Duration::from_secs(1)));
        assert_eq!(short.max_attempts, Some(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_stops_at_its_poll_limit_and_says_what_it_saw() {
        let mut waiter = Waiter::new(Backoff::from_policy(100, 3, 0), "vol-1 to be available");
        let start = Instant::now();
        waiter.poll().await;
        assert_eq!(start.elapsed(), Duration::from_millis(100));
        waiter.pending("state creating").unwrap();
        waiter.poll().await;
        waiter
            .absorb(BackendError::Unavailable("throttled".into()))
            .unwrap();
        waiter.poll().await;
        assert_eq!(start.elapsed(), Duration::from_millis(100 + 200 + 400));
        let err = waiter.pending("state creating").unwrap_err();
        let BackendError::Unavailable(message) = err else {
            panic!("{err:?}")
        };
        assert!(
            message.starts_with("waiting for vol-1 to be available: gave up after 3 polls"),
            "{message}"
        );
        assert!(message.ends_with("last seen: state creating"), "{message}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_stops_at_its_time_limit_and_never_sleeps_past_it() {
        let backoff = Backoff {
            initial: Duration::from_millis(1500),
            max_attempts: None,
            timeout: Some(Duration::from_millis(2000)),
        };
        let mut waiter = Waiter::new(backoff, "x");
        let start = Instant::now();
        waiter.poll().await;
        waiter.pending("a").unwrap();
        waiter.poll().await;
        assert_eq!(start.elapsed(), Duration::from_millis(2000));
        assert!(waiter.pending("b").is_err());
    }

    #[test]
    fn other_errors_end_a_wait() {
        let mut waiter = Waiter::new(Backoff::for_at_most(Duration::from_secs(1)), "x");
        let err = BackendError::PermissionDenied("no".into());
        assert_eq!(waiter.absorb(err.clone()), Err(err));
    }
}
