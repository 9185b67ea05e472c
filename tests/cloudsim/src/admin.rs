//! The admin API under `/_sim`: instances, call counters, faults, and
//! killing an instance. For tests and demos; not part of any cloud.

use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::faults::FaultPlan;
use crate::world::SharedSim;

pub fn router() -> Router<SharedSim> {
    Router::new()
        .route("/_sim/instances", get(instances))
        .route("/_sim/instances/{id}/kill", post(kill))
        .route("/_sim/counters", get(counters))
        .route(
            "/_sim/faults",
            get(faults).post(set_faults).delete(reset_faults),
        )
}

async fn instances(State(sim): State<SharedSim>) -> Response {
    let instances: Vec<_> = sim.world().instances.values().cloned().collect();
    Json(instances).into_response()
}

/// Power the instance off: its metadata stops answering; its attachments
/// stay until force-detached, as with a dead node.
async fn kill(State(sim): State<SharedSim>, Path(id): Path<String>) -> Response {
    if kill_instance(&sim, &id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (StatusCode::NOT_FOUND, format!("no instance {id}")).into_response()
    }
}

/// What `POST /_sim/instances/{id}/kill` does, for in-process callers.
/// False when there is no such instance.
pub fn kill_instance(sim: &SharedSim, id: &str) -> bool {
    match sim.world().instances.get_mut(id) {
        Some(instance) => {
            instance.running = false;
            true
        }
        None => false,
    }
}

async fn counters(State(sim): State<SharedSim>) -> Response {
    Json(sim.faults.counters()).into_response()
}

async fn faults(State(sim): State<SharedSim>) -> Response {
    Json(sim.faults.plan()).into_response()
}

async fn set_faults(State(sim): State<SharedSim>, Json(plan): Json<FaultPlan>) -> Response {
    match apply_faults(&sim, plan) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => (StatusCode::BAD_REQUEST, message).into_response(),
    }
}

/// What `POST /_sim/faults` does, for in-process callers.
pub fn apply_faults(sim: &SharedSim, plan: FaultPlan) -> Result<(), &'static str> {
    if !(0.0..=1.0).contains(&plan.throttle_share) {
        return Err("throttle_share must be within 0.0..=1.0");
    }
    if plan.stale_describe_ms > 0 {
        let mut world = sim.world();
        let frozen = world.ec2.clone();
        world.stale_ec2 = Some((
            Instant::now() + Duration::from_millis(plan.stale_describe_ms),
            frozen,
        ));
    }
    sim.faults.set(plan);
    Ok(())
}

async fn reset_faults(State(sim): State<SharedSim>) -> Response {
    sim.faults.reset();
    sim.world().stale_ec2 = None;
    StatusCode::NO_CONTENT.into_response()
}
