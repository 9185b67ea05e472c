//! Waiting for EC2 state changes: the volume conditions of `wait-volume`,
//! polled with the AWS capabilities' shared bounded backoff
//! ([`crate::capabilities::aws::wait`]).

pub use crate::capabilities::aws::wait::{Backoff, Waiter};

use super::Ec2;
use super::convert::{attachment_state_name, volume_state_name};
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::ec2::{
    AttachmentState, EbsVolume, VolumeCondition, VolumeState, WaitPolicy,
};

impl Ec2 {
    /// Wait until `volume_id` meets `condition`; see the WIT's `wait-volume`.
    pub async fn wait_volume(
        &self,
        volume_id: &str,
        condition: &VolumeCondition,
        policy: &WaitPolicy,
    ) -> Result<EbsVolume, BackendError> {
        let mut waiter = Waiter::new(
            Backoff::from_policy(
                policy.initial_delay_ms,
                policy.max_attempts,
                policy.timeout_ms,
            ),
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
