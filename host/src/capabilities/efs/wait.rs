//! `wait-file-system`, `wait-mount-target`, `wait-access-point`: one poll
//! loop over the three resources (they share EFS's life cycle states),
//! paced by the AWS capabilities' shared backoff.
//!
//! Bounds: the guest's policy, and never longer than the configured
//! relocation timeout (the longest the host waits for AWS at all); each
//! poll is one describe, bounded by the SDK's operation timeout.
//! `deleted` is reached when the describe answers not-found; a resource
//! never described yet counts as a transient miss (a create's answer may
//! come before the describe sees it); state `error` ends the wait at once
//! as `internal`.

use super::Efs;
use super::convert::life_cycle_state_name;
use super::resource::Resource;
use crate::capabilities::aws::wait::{Backoff, Waiter};
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::efs::{
    AccessPoint, FileSystem, LifeCycleState, MountTarget, WaitFor, WaitPolicy,
};

impl Efs {
    pub async fn wait_file_system(
        &self,
        file_system_id: &str,
        condition: WaitFor,
        policy: &WaitPolicy,
    ) -> Result<FileSystem, BackendError> {
        self.wait(file_system_id, condition, policy).await
    }

    pub async fn wait_mount_target(
        &self,
        mount_target_id: &str,
        condition: WaitFor,
        policy: &WaitPolicy,
    ) -> Result<MountTarget, BackendError> {
        self.wait(mount_target_id, condition, policy).await
    }

    pub async fn wait_access_point(
        &self,
        access_point_id: &str,
        condition: WaitFor,
        policy: &WaitPolicy,
    ) -> Result<AccessPoint, BackendError> {
        self.wait(access_point_id, condition, policy).await
    }

    /// Poll `id` until it meets `condition`; see the module's comment.
    async fn wait<T: Resource>(
        &self,
        id: &str,
        condition: WaitFor,
        policy: &WaitPolicy,
    ) -> Result<T, BackendError> {
        let backoff = Backoff::from_policy(
            policy.initial_delay_ms,
            policy.max_attempts,
            policy.timeout_ms,
        )
        .at_most(self.settings().relocation_timeout);
        let awaited = awaited::<T>(id, condition);
        let mut waiter = Waiter::new(backoff, awaited.clone());
        let mut last: Option<T> = None;
        loop {
            waiter.poll().await;
            let found = match T::describe(self, id).await {
                Ok(found) => found,
                Err(e) => {
                    waiter.absorb(e)?;
                    continue;
                }
            };
            let Some(item) = found else {
                match missing(id, condition, last.take(), &awaited) {
                    Ok(deleted) => return Ok(deleted),
                    // Not described yet goes on; no longer there ends it.
                    Err(e) => {
                        waiter.absorb(e)?;
                        continue;
                    }
                }
            };
            if met(&item, id, condition, &awaited)? {
                return Ok(item);
            }
            waiter.pending(format!("state {}", life_cycle_state_name(item.state())))?;
            last = Some(item);
        }
    }
}

/// "file system fs-1 to be available" — what a wait waits for.
fn awaited<T: Resource>(id: &str, condition: WaitFor) -> String {
    let goal = match condition {
        WaitFor::Available => "to be available",
        WaitFor::Deleted => "to be deleted",
    };
    format!("{} {id} {goal}", T::KIND)
}

/// The describe found nothing: that is `deleted` (answered as `last`
/// seen); for `available`, a resource never seen is not described yet
/// (`unavailable`: poll again) and one seen before is gone (`not-found`).
fn missing<T: Resource>(
    id: &str,
    condition: WaitFor,
    last: Option<T>,
    awaited: &str,
) -> Result<T, BackendError> {
    match (condition, last) {
        (WaitFor::Deleted, last) => {
            let mut item = last.unwrap_or_else(|| T::gone(id));
            item.set_state(LifeCycleState::Deleted);
            Ok(item)
        }
        (WaitFor::Available, None) => Err(BackendError::Unavailable(format!(
            "{} {id} is not described yet",
            T::KIND
        ))),
        (WaitFor::Available, Some(_)) => Err(BackendError::NotFound(format!(
            "waiting for {awaited}: the {} no longer exists",
            T::KIND
        ))),
    }
}

/// Whether `item` meets `condition`; one in state `error` never will.
fn met<T: Resource>(
    item: &T,
    id: &str,
    condition: WaitFor,
    awaited: &str,
) -> Result<bool, BackendError> {
    match (item.state(), condition) {
        (LifeCycleState::Error, _) => Err(BackendError::Internal(format!(
            "waiting for {awaited}: {} {id} is in state error",
            T::KIND
        ))),
        (state, WaitFor::Available) => Ok(state == LifeCycleState::Available),
        (state, WaitFor::Deleted) => Ok(state == LifeCycleState::Deleted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(state: LifeCycleState) -> MountTarget {
        MountTarget {
            life_cycle_state: state,
            ..MountTarget::gone("fsmt-1")
        }
    }

    #[test]
    fn conditions_and_the_error_state() {
        let awaited = awaited::<MountTarget>("fsmt-1", WaitFor::Available);
        assert_eq!(awaited, "mount target fsmt-1 to be available");
        let check = |state, condition| met(&target(state), "fsmt-1", condition, &awaited);
        assert_eq!(
            check(LifeCycleState::Creating, WaitFor::Available),
            Ok(false)
        );
        assert_eq!(
            check(LifeCycleState::Available, WaitFor::Available),
            Ok(true)
        );
        assert_eq!(check(LifeCycleState::Deleting, WaitFor::Deleted), Ok(false));
        assert_eq!(check(LifeCycleState::Deleted, WaitFor::Deleted), Ok(true));
        let err = check(LifeCycleState::Error, WaitFor::Deleted).unwrap_err();
        assert!(
            matches!(&err, BackendError::Internal(m) if m.contains("fsmt-1 is in state error")),
            "{err:?}"
        );
    }

    #[test]
    fn a_vanished_resource_is_deleted_or_gone() {
        let awaited = "mount target fsmt-1 to be available";
        let seen = target(LifeCycleState::Deleting);
        let deleted = missing("fsmt-1", WaitFor::Deleted, Some(seen.clone()), awaited).unwrap();
        assert_eq!(deleted.life_cycle_state, LifeCycleState::Deleted);
        let never_seen = missing::<MountTarget>("fsmt-1", WaitFor::Available, None, awaited);
        assert!(matches!(never_seen, Err(BackendError::Unavailable(_))));
        let gone = missing("fsmt-1", WaitFor::Available, Some(seen), awaited);
        assert!(
            matches!(&gone, Err(BackendError::NotFound(m)) if m.contains("no longer exists")),
            "{gone:?}"
        );
    }
}
