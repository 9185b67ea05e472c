//! Waiting for EC2 state changes: a bounded exponential backoff (first
//! poll after the initial delay, doubling, at most 2 s between polls,
//! stopping at a number of polls or a time limit) and the volume
//! conditions of `wait-volume`.
//!
//! Waiting sleeps on tokio, so a guest blocked here spends none of its CPU
//! budget. A transient error from one poll is remembered, not fatal; any
//! other error ends the wait. Giving up is `unavailable`, naming what was
//! awaited and what was last seen.

use std::time::Duration;

use tokio::time::Instant;

use super::Ec2;
use super::convert::{attachment_state_name, volume_state_name};
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::ec2::{
    AttachmentState, EbsVolume, VolumeCondition, VolumeState, WaitPolicy,
};

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
    /// The guest's policy; a zero `max-attempts` or `timeout-ms` sets no
    /// limit of that kind.
    pub fn from_policy(policy: &WaitPolicy) -> Backoff {
        Backoff {
            initial: Duration::from_millis(policy.initial_delay_ms.into()),
            max_attempts: (policy.max_attempts > 0).then_some(policy.max_attempts),
            timeout: (policy.timeout_ms > 0)
                .then(|| Duration::from_millis(policy.timeout_ms.into())),
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

impl Ec2 {
    /// Wait until `volume_id` meets `condition`; see the WIT's `wait-volume`.
    pub async fn wait_volume(
        &self,
        volume_id: &str,
        condition: &VolumeCondition,
        policy: &WaitPolicy,
    ) -> Result<EbsVolume, BackendError> {
        let mut waiter = Waiter::new(
            Backoff::from_policy(policy),
            format!("{volume_id} {}", describe_condition(condition)),
        );
        let mut last: Option<EbsVolume> = None;
        loop {
            waiter.poll().await;
            let volume = match self.describe_volume(volume_id).await {
                Ok(volume) => volume,
                Err(e) => {
                    waiter.absorb(e)?;
                    continue;
                }
            };
            let Some(volume) = volume else {
                if *condition == VolumeCondition::Deleted {
                    return Ok(last.map_or_else(|| gone(volume_id), mark_deleted));
                }
                if last.is_none() {
                    // Never seen yet: EC2's reads are eventually consistent,
                    // so a volume just created may not be described for a while.
                    waiter.absorb(BackendError::Unavailable(format!(
                        "{volume_id} is not described yet"
                    )))?;
                    continue;
                }
                return Err(BackendError::NotFound(format!(
                    "waiting for {volume_id} {}: the volume no longer exists",
                    describe_condition(condition)
                )));
            };
            let (met, seen) = match condition {
                VolumeCondition::Modified => match self.modification_state(volume_id).await {
                    Ok(state) => (modification_met(volume_id, state.as_ref())?, {
                        let state = state.map_or("none recorded yet".into(), |(s, _)| s);
                        format!("{}, modification {state}", seen(&volume))
                    }),
                    Err(e) => {
                        waiter.absorb(e)?;
                        continue;
                    }
                },
                other => (meets(other, &volume)?, seen(&volume)),
            };
            if met {
                return Ok(volume);
            }
            waiter.pending(seen)?;
            last = Some(volume);
        }
    }
}

/// Whether `volume` meets `condition` (all but `modified`, which needs
/// another call). A volume in `error` never will.
pub fn meets(condition: &VolumeCondition, volume: &EbsVolume) -> Result<bool, BackendError> {
    if volume.state == VolumeState::Error {
        return Err(BackendError::Internal(format!(
            "{} is in state error: it will not become {}",
            volume.volume_id,
            describe_condition(condition).trim_start_matches("to be ")
        )));
    }
    let attachment = |instance: &str| {
        volume
            .attachments
            .iter()
            .find(|a| a.instance_id == instance)
            .map(|a| a.state)
    };
    Ok(match condition {
        VolumeCondition::Available => volume.state == VolumeState::Available,
        VolumeCondition::AttachedTo(i) => attachment(i) == Some(AttachmentState::Attached),
        VolumeCondition::DetachedFrom(i) => {
            matches!(attachment(i), None | Some(AttachmentState::Detached))
        }
        VolumeCondition::Deleted => volume.state == VolumeState::Deleted,
        VolumeCondition::Modified => false,
    })
}

/// Whether the latest modification (its state and status message, if
/// any) makes the new size usable; a failed one never will.
pub fn modification_met(
    volume_id: &str,
    modification: Option<&(String, Option<String>)>,
) -> Result<bool, BackendError> {
    match modification {
        Some((state, _)) if state == "optimizing" || state == "completed" => Ok(true),
        Some((state, message)) if state == "failed" => Err(BackendError::Conflict(format!(
            "ModifyVolume: the modification of {volume_id} failed: {}",
            message.as_deref().unwrap_or("no reason given")
        ))),
        _ => Ok(false),
    }
}

pub fn describe_condition(condition: &VolumeCondition) -> String {
    match condition {
        VolumeCondition::Available => "to be available".into(),
        VolumeCondition::AttachedTo(i) => format!("to be attached to {i}"),
        VolumeCondition::DetachedFrom(i) => format!("to be detached from {i}"),
        VolumeCondition::Deleted => "to be deleted".into(),
        VolumeCondition::Modified => "to finish its modification".into(),
    }
}

/// "state in-use, attachments: i-1 attaching" — what a poll saw.
pub fn seen(volume: &EbsVolume) -> String {
    let attachments: Vec<String> = volume
        .attachments
        .iter()
        .map(|a| format!("{} {}", a.instance_id, attachment_state_name(a.state)))
        .collect();
    match attachments.is_empty() {
        true => format!("state {}, no attachments", volume_state_name(volume.state)),
        false => format!(
            "state {}, attachments: {}",
            volume_state_name(volume.state),
            attachments.join(", ")
        ),
    }
}

fn mark_deleted(mut volume: EbsVolume) -> EbsVolume {
    volume.state = VolumeState::Deleted;
    volume.attachments.clear();
    volume
}

/// A volume that was already gone at the first look: only its id is known.
fn gone(volume_id: &str) -> EbsVolume {
    EbsVolume {
        volume_id: volume_id.into(),
        size_gib: 0,
        volume_type: String::new(),
        iops: None,
        throughput: None,
        encrypted: false,
        kms_key_id: None,
        zone: String::new(),
        state: VolumeState::Deleted,
        snapshot_id: None,
        create_time_ms: 0,
        multi_attach: false,
        attachments: Vec::new(),
        tags: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::ballast::backend::ec2::Attachment;

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

    #[tokio::test(start_paused = true)]
    async fn a_waiter_stops_at_its_poll_limit_and_says_what_it_saw() {
        let policy = WaitPolicy {
            initial_delay_ms: 100,
            max_attempts: 3,
            timeout_ms: 0,
        };
        let mut waiter = Waiter::new(Backoff::from_policy(&policy), "vol-1 to be available");
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

    fn volume(state: VolumeState, attachments: &[(&str, AttachmentState)]) -> EbsVolume {
        EbsVolume {
            state,
            attachments: attachments
                .iter()
                .map(|(i, s)| Attachment {
                    instance_id: i.to_string(),
                    device: "/dev/xvdf".into(),
                    state: *s,
                })
                .collect(),
            ..gone("vol-1")
        }
    }

    #[test]
    fn conditions() {
        let attaching = volume(VolumeState::InUse, &[("i-1", AttachmentState::Attaching)]);
        let attached = volume(VolumeState::InUse, &[("i-1", AttachmentState::Attached)]);
        let free = volume(VolumeState::Available, &[]);
        let to = |i: &str| VolumeCondition::AttachedTo(i.into());
        let from = |i: &str| VolumeCondition::DetachedFrom(i.into());
        assert!(!meets(&to("i-1"), &attaching).unwrap());
        assert!(meets(&to("i-1"), &attached).unwrap());
        assert!(!meets(&to("i-2"), &attached).unwrap());
        assert!(!meets(&from("i-1"), &attached).unwrap());
        assert!(meets(&from("i-2"), &attached).unwrap());
        assert!(meets(&from("i-1"), &free).unwrap());
        assert!(meets(&VolumeCondition::Available, &free).unwrap());
        assert!(!meets(&VolumeCondition::Available, &attached).unwrap());
        assert!(matches!(
            meets(
                &VolumeCondition::Available,
                &volume(VolumeState::Error, &[])
            ),
            Err(BackendError::Internal(_))
        ));
        assert_eq!(seen(&attaching), "state in-use, attachments: i-1 attaching");
    }
}
