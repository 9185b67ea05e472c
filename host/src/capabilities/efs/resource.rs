//! What the three EFS resources (file systems, mount targets, access
//! points) have in common as the contract describes them: an id and a life
//! cycle state, and a describe of one by id. Waits and token adoption work
//! on any of them through [`Resource`].

use std::future::Future;

use super::Efs;
use crate::runtime::bindings::BackendError;
use crate::runtime::bindings::ballast::backend::efs::{
    AccessPoint, FileSystem, LifeCycleState, MountTarget, RootDirectory,
};

pub trait Resource: Sized {
    /// "file system", for messages.
    const KIND: &'static str;
    fn id(&self) -> &str;
    fn state(&self) -> LifeCycleState;
    fn set_state(&mut self, state: LifeCycleState);
    /// One that is gone before anything was seen of it: only its id is known.
    fn gone(id: &str) -> Self;
    /// The resource now; `None` when EFS says it does not exist.
    fn describe<'a>(
        efs: &'a Efs,
        id: &'a str,
    ) -> impl Future<Output = Result<Option<Self>, BackendError>> + Send + 'a;
}

/// `Resource` for a record with an `$id` and a `life_cycle_state` field,
/// described by `Efs::$describe` and made up by `$gone`.
macro_rules! resource {
    ($ty:ty, $kind:literal, $id:ident, $describe:ident, $gone:ident) => {
        impl Resource for $ty {
            const KIND: &'static str = $kind;

            fn id(&self) -> &str {
                &self.$id
            }

            fn state(&self) -> LifeCycleState {
                self.life_cycle_state
            }

            fn set_state(&mut self, state: LifeCycleState) {
                self.life_cycle_state = state;
            }

            fn gone(id: &str) -> Self {
                $gone(id)
            }

            fn describe<'a>(
                efs: &'a Efs,
                id: &'a str,
            ) -> impl Future<Output = Result<Option<Self>, BackendError>> + Send + 'a {
                efs.$describe(id)
            }
        }
    };
}

resource!(
    FileSystem,
    "file system",
    file_system_id,
    describe_file_system,
    gone_file_system
);
resource!(
    MountTarget,
    "mount target",
    mount_target_id,
    describe_mount_target,
    gone_mount_target
);
resource!(
    AccessPoint,
    "access point",
    access_point_id,
    describe_access_point,
    gone_access_point
);

/// Being deleted or deleted: nothing to hand back as live.
pub fn is_going(state: LifeCycleState) -> bool {
    matches!(state, LifeCycleState::Deleting | LifeCycleState::Deleted)
}

fn gone_file_system(id: &str) -> FileSystem {
    FileSystem {
        file_system_id: id.into(),
        creation_token: String::new(),
        name: None,
        life_cycle_state: LifeCycleState::Deleted,
        performance_mode: String::new(),
        throughput_mode: String::new(),
        provisioned_throughput_mibps: None,
        encrypted: false,
        kms_key_id: None,
        availability_zone: None,
        number_of_mount_targets: 0,
        size_bytes: 0,
        creation_time_ms: 0,
        tags: Vec::new(),
    }
}

fn gone_mount_target(id: &str) -> MountTarget {
    MountTarget {
        mount_target_id: id.into(),
        file_system_id: String::new(),
        subnet_id: String::new(),
        availability_zone: String::new(),
        ip_address: String::new(),
        life_cycle_state: LifeCycleState::Deleted,
    }
}

fn gone_access_point(id: &str) -> AccessPoint {
    AccessPoint {
        access_point_id: id.into(),
        file_system_id: String::new(),
        client_token: String::new(),
        name: None,
        life_cycle_state: LifeCycleState::Deleted,
        posix_user: None,
        root_directory: RootDirectory {
            path: String::new(),
            creation_info: None,
        },
        tags: Vec::new(),
    }
}
