//! Start a simulator: the API listener (every cloud API + admin) and one
//! metadata listener per instance. Dropping `Running` stops it all and
//! unplugs every volume from the host.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{Provider, SimConfig};
use crate::world::{Instance, SharedSim, Sim};
use crate::{admin, ec2, efs, gce, ids, metadata, oauth};

pub struct Running {
    /// `http://127.0.0.1:<port>`: point the AWS SDK's endpoint and the GCE
    /// client here.
    pub api_url: String,
    pub sim: SharedSim,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// A simulated instance, by id.
    pub fn instance(&self, id: &str) -> Instance {
        self.sim
            .world()
            .instances
            .get(id)
            .cloned()
            .unwrap_or_else(|| panic!("no instance {id}"))
    }

    pub fn instances(&self) -> Vec<Instance> {
        self.sim.world().instances.values().cloned().collect()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.sim.hypervisor.unplug_everything();
    }
}

pub async fn start(config: SimConfig) -> anyhow::Result<Running> {
    let mut tasks = Vec::new();
    let mut instances = BTreeMap::new();
    let mut metadata_listeners = Vec::new();
    for spec in &config.instances {
        let mut spec = spec.clone();
        if spec.id.is_empty() {
            spec.id = match spec.provider {
                Provider::Aws => ids::aws("i"),
                Provider::Gce => format!("instance-{}", instances.len() + 1),
            };
        }
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let device_dir = config
            .data_dir
            .join("instances")
            .join(&spec.id)
            .join("by-id");
        std::fs::create_dir_all(&device_dir)?;
        metadata_listeners.push((spec.id.clone(), listener));
        instances.insert(
            spec.id.clone(),
            Instance {
                spec,
                metadata_url: url,
                device_dir,
                running: true,
            },
        );
    }
    let sim = Sim::new(config.clone(), instances);
    for (id, listener) in metadata_listeners {
        let app = metadata::router(sim.clone(), id);
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }
    let listener = TcpListener::bind(config.listen).await?;
    let addr: SocketAddr = listener.local_addr()?;
    let app = api_router(sim.clone());
    tasks.push(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }));
    Ok(Running {
        api_url: format!("http://{addr}"),
        sim,
        tasks,
    })
}

/// EC2's Query API at `POST /`, EFS under `/2015-02-01`, Compute Engine
/// under `/compute/v1`, Google's OAuth2 token endpoint at `POST /token`,
/// the admin API under `/_sim`.
fn api_router(sim: SharedSim) -> Router {
    Router::new()
        .merge(admin::router())
        .merge(efs::router())
        .merge(gce::router())
        .merge(oauth::router())
        .merge(ec2::router())
        .with_state(sim)
}
