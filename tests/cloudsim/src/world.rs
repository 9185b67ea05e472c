//! The simulated cloud's state: instances and each API's resources, behind
//! one lock (calls are short; transitions after delays take it again).

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::config::{InstanceSpec, SimConfig};
use crate::faults::Faults;
use crate::hypervisor::Hypervisor;
use crate::{ec2, efs, gce};

/// Everything a handler needs.
pub struct Sim {
    pub config: SimConfig,
    pub faults: Faults,
    pub hypervisor: Hypervisor,
    world: Mutex<World>,
}

pub type SharedSim = Arc<Sim>;

/// A simulated machine as the cloud sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Instance {
    pub spec: InstanceSpec,
    /// Base URL of its metadata server (IMDS or GCE metadata).
    pub metadata_url: String,
    /// Its `/dev/disk/by-id`: links to attached volumes' loop devices.
    pub device_dir: PathBuf,
    /// False after the admin API "killed" it: a dead node keeps its
    /// attachments until someone force-detaches them.
    pub running: bool,
}

#[derive(Default)]
pub struct World {
    pub instances: BTreeMap<String, Instance>,
    pub ec2: ec2::Ec2State,
    pub efs: efs::EfsState,
    pub gce: gce::GceState,
    /// Bearer tokens the GCE metadata servers issued.
    pub gce_tokens: HashSet<String>,
    /// While set, DescribeVolumes answers from this frozen copy (eventual
    /// consistency), until the instant passes.
    pub stale_ec2: Option<(Instant, ec2::Ec2State)>,
}

impl World {
    /// What DescribeVolumes should see now: the stale copy while a fault
    /// asks for one, else the live state.
    pub fn ec2_view(&self) -> &ec2::Ec2State {
        match &self.stale_ec2 {
            Some((until, frozen)) if Instant::now() < *until => frozen,
            _ => &self.ec2,
        }
    }
}

impl Sim {
    pub fn new(config: SimConfig, instances: BTreeMap<String, Instance>) -> SharedSim {
        let hypervisor = Hypervisor::new(config.data_dir.clone(), config.hypervisor);
        let world = World {
            instances,
            ..Default::default()
        };
        Arc::new(Sim {
            config,
            faults: Faults::default(),
            hypervisor,
            world: Mutex::new(world),
        })
    }

    /// The world, locked. Never hold it across an `.await`.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
