//! EC2's Query API, the subset the EBS backend uses: `POST /` with a form
//! body `Action=…`. Every call is authenticated (SigV4), counted and
//! offered to the fault plan, checked against the policy of allowed
//! actions (which also decides what `DryRun=true` answers), then handled.
//!
//! - `query`: form parameters, lists, filters, pagination
//! - `xml`: response and error documents
//! - `model`: the resources and EBS's per-type rules
//! - `volumes`, `attachments`, `snapshots`, `tags`, `modify`, `instances`: the actions

mod attachments;
mod instances;
pub mod model;
mod modify;
pub mod query;
mod snapshots;
mod tags;
mod volumes;
pub mod xml;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

pub use model::Ec2State;
use query::Params;
use xml::Ec2Error;

use crate::auth;
use crate::faults::Injected;
use crate::world::SharedSim;

/// The actions this simulator answers.
pub const ACTIONS: &[&str] = &[
    "DescribeAvailabilityZones",
    "DescribeInstances",
    "CreateVolume",
    "DescribeVolumes",
    "AttachVolume",
    "DetachVolume",
    "DeleteVolume",
    "CreateTags",
    "DeleteTags",
    "CreateSnapshot",
    "DescribeSnapshots",
    "DeleteSnapshot",
    "ModifyVolume",
    "DescribeVolumesModifications",
];

pub fn router() -> Router<SharedSim> {
    Router::new().route("/", post(handle))
}

async fn handle(
    State(sim): State<SharedSim>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match call(&sim, &method, &uri, &headers, &body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn call(
    sim: &SharedSim,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Ec2Error> {
    auth::check_aws(sim, method, uri, headers, body).map_err(|e| {
        let status = if e.code == "RequestExpired" { 400 } else { 401 };
        Ec2Error::new(status, e.code, e.message)
    })?;
    let params = Params::parse(body)?;
    let action = params
        .get("Action")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            Ec2Error::bad(
                "MissingAction",
                "The request must contain the parameter Action",
            )
        })?
        .to_string();
    if !ACTIONS.contains(&action.as_str()) {
        return Err(Ec2Error::bad(
            "InvalidAction",
            format!("The action {action} is not valid for this web service."),
        ));
    }
    match sim.faults.before("ec2", &action).await {
        Some(Injected::Throttle) => return Err(Ec2Error::throttled()),
        Some(Injected::Fail { code, status }) => {
            return Err(Ec2Error::new(
                status,
                code,
                format!("Injected failure of {action}."),
            ));
        }
        None => {}
    }
    let allowed = is_allowed(sim.config.allowed_actions.as_deref(), &action);
    if params.bool("DryRun", false)? {
        return Err(if allowed {
            Ec2Error::dry_run()
        } else {
            Ec2Error::unauthorized(&action)
        });
    }
    if !allowed {
        return Err(Ec2Error::unauthorized(&action));
    }
    match action.as_str() {
        "DescribeAvailabilityZones" => instances::describe_availability_zones(sim, &params),
        "DescribeInstances" => instances::describe_instances(sim, &params),
        "CreateVolume" => volumes::create(sim, &params),
        "DescribeVolumes" => volumes::describe(sim, &params),
        "DeleteVolume" => volumes::delete(sim, &params),
        "AttachVolume" => attachments::attach(sim, &params),
        "DetachVolume" => attachments::detach(sim, &params),
        "CreateTags" => tags::create(sim, &params),
        "DeleteTags" => tags::delete(sim, &params),
        "CreateSnapshot" => snapshots::create(sim, &params),
        "DescribeSnapshots" => snapshots::describe(sim, &params),
        "DeleteSnapshot" => snapshots::delete(sim, &params),
        "ModifyVolume" => modify::modify(sim, &params),
        "DescribeVolumesModifications" => modify::describe(sim, &params),
        _ => unreachable!("{action} is in ACTIONS"),
    }
}

/// The policy: `None` allows everything; otherwise an entry names the
/// action (`CreateVolume` or `ec2:CreateVolume`) or all of EC2 (`ec2:*`, `*`).
fn is_allowed(allowed: Option<&[String]>, action: &str) -> bool {
    let Some(allowed) = allowed else { return true };
    allowed.iter().any(|entry| {
        let entry = entry.trim();
        entry == "*"
            || entry == "ec2:*"
            || entry == action
            || entry.strip_prefix("ec2:") == Some(action)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn policy_entries() {
        let allowed = vec![
            "ec2:CreateVolume".to_string(),
            "DescribeVolumes".to_string(),
        ];
        assert!(super::is_allowed(None, "DeleteVolume"));
        assert!(super::is_allowed(Some(&allowed), "CreateVolume"));
        assert!(super::is_allowed(Some(&allowed), "DescribeVolumes"));
        assert!(!super::is_allowed(Some(&allowed), "DeleteVolume"));
        assert!(super::is_allowed(
            Some(&["ec2:*".to_string()]),
            "DeleteVolume"
        ));
    }
}
