//! Instance metadata, one listener per simulated instance: AWS IMDSv2 (PUT
//! a token, then GET with it; identity, placement, role credentials and the
//! primary interface's network: MAC, subnet, VPC, security groups) and the
//! GCE metadata server (`Metadata-Flavor: Google` both ways). Each answers only for its own provider's instances
//! (404 otherwise). A killed instance is powered off: every request gets
//! 503. Like the real servers, both refuse requests carrying
//! `X-Forwarded-For` (a proxy must not reach them).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};

use crate::config::Provider;
use crate::world::SharedSim;

/// The IAM role of simulated AWS instances.
pub const AWS_ROLE: &str = "ballast-sim-role";

/// Per-listener state: which instance it serves, and its IMDSv2 tokens.
#[derive(Clone)]
pub struct Served {
    pub sim: SharedSim,
    pub instance: String,
    tokens: Arc<std::sync::Mutex<Vec<(String, Instant)>>>,
}

pub fn router(sim: SharedSim, instance: String) -> Router {
    let served = Served {
        sim,
        instance,
        tokens: Default::default(),
    };
    Router::new()
        .route("/", get(gce_root))
        .route("/latest/api/token", put(imds_token))
        .route("/latest/meta-data", get(imds_root))
        .route("/latest/meta-data/", get(imds_root))
        .route("/latest/meta-data/{*path}", get(imds_get))
        .route("/computeMetadata/v1/{*path}", get(gce_get))
        .with_state(served)
}

/// Why a metadata request is not answered.
type Refusal = (StatusCode, &'static str);

/// The instance, or the answer for a killed or unknown one.
fn instance(served: &Served) -> Result<crate::world::Instance, Refusal> {
    match served.sim.world().instances.get(&served.instance) {
        Some(instance) if instance.running => Ok(instance.clone()),
        Some(_) => Err((StatusCode::SERVICE_UNAVAILABLE, "instance is powered off")),
        None => Err((StatusCode::NOT_FOUND, "")),
    }
}

fn forwarded(headers: &HeaderMap) -> bool {
    headers.contains_key("x-forwarded-for")
}

async fn imds_token(State(served): State<Served>, headers: HeaderMap) -> Response {
    let instance = match instance(&served) {
        Ok(instance) => instance,
        Err(refusal) => return refusal.into_response(),
    };
    if instance.spec.provider != Provider::Aws {
        return StatusCode::NOT_FOUND.into_response();
    }
    if forwarded(&headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Some(ttl) = headers
        .get("x-aws-ec2-metadata-token-ttl-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|ttl| (1..=21600).contains(ttl))
    else {
        return (
            StatusCode::BAD_REQUEST,
            "missing or invalid X-aws-ec2-metadata-token-ttl-seconds",
        )
            .into_response();
    };
    let token = uuid::Uuid::new_v4().simple().to_string();
    let mut tokens = served.tokens.lock().unwrap();
    let now = Instant::now();
    tokens.retain(|(_, until)| now < *until);
    tokens.push((token.clone(), now + Duration::from_secs(ttl)));
    (
        [("x-aws-ec2-metadata-token-ttl-seconds", ttl.to_string())],
        token,
    )
        .into_response()
}

/// The instance if the request carries a live IMDSv2 token, else the answer.
fn imds_instance(served: &Served, headers: &HeaderMap) -> Result<crate::world::Instance, Refusal> {
    let instance = instance(served)?;
    if instance.spec.provider != Provider::Aws {
        return Err((StatusCode::NOT_FOUND, ""));
    }
    let token = headers
        .get("x-aws-ec2-metadata-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let valid = served
        .tokens
        .lock()
        .unwrap()
        .iter()
        .any(|(t, until)| t == token && Instant::now() < *until);
    if !valid {
        return Err((StatusCode::UNAUTHORIZED, ""));
    }
    Ok(instance)
}

async fn imds_root(State(served): State<Served>, headers: HeaderMap) -> Response {
    match imds_instance(&served, &headers) {
        Ok(_) => "iam/\ninstance-id\ninstance-type\nmac\nnetwork/\nplacement/".into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn imds_get(
    State(served): State<Served>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let instance = match imds_instance(&served, &headers) {
        Ok(instance) => instance,
        Err(refusal) => return refusal.into_response(),
    };
    let config = &served.sim.config;
    let region = config.region.clone();
    let mac = crate::ids::mac_for_instance(&instance.spec.id);
    let body = match path.trim_end_matches('/') {
        "mac" => mac,
        "network" => "interfaces/".to_string(),
        "network/interfaces" => "macs/".to_string(),
        "network/interfaces/macs" => format!("{mac}/"),
        p if p.starts_with("network/interfaces/macs/") => {
            let rest = &p["network/interfaces/macs/".len()..];
            match interface_value(config, &instance, &mac, rest) {
                Some(value) => value,
                None => return StatusCode::NOT_FOUND.into_response(),
            }
        }
        "instance-id" => instance.spec.id,
        "instance-type" => instance.spec.instance_type,
        "placement" => "availability-zone\nregion".to_string(),
        "placement/availability-zone" => instance.spec.zone,
        "placement/region" => region,
        "iam" => "info\nsecurity-credentials/".to_string(),
        "iam/security-credentials" => AWS_ROLE.to_string(),
        p if p == format!("iam/security-credentials/{AWS_ROLE}") => serde_json::json!({
            "Code": "Success",
            "Type": "AWS-HMAC",
            "AccessKeyId": "ASIASIMULATED0000001",
            "SecretAccessKey": "simulated-secret",
            "Token": "simulated-session-token",
            "Expiration": "2099-01-01T00:00:00Z",
            "LastUpdated": crate::ids::now_rfc3339(),
        })
        .to_string(),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    body.into_response()
}

/// `network/interfaces/macs/<rest>` for the instance's one (primary)
/// interface: in its zone's subnet (the one DescribeInstances reports),
/// in the region's VPC, with the VPC's default security group.
fn interface_value(
    config: &crate::config::SimConfig,
    instance: &crate::world::Instance,
    mac: &str,
    rest: &str,
) -> Option<String> {
    let (asked, leaf) = rest.split_once('/').unwrap_or((rest, ""));
    if asked != mac {
        return None;
    }
    let zone = &instance.spec.zone;
    let zone_index = config.zones.iter().position(|z| z == zone).unwrap_or(0);
    Some(match leaf {
        "" => "device-number\nmac\nsecurity-group-ids\nsecurity-groups\nsubnet-id\n\
               subnet-ipv4-cidr-block\nvpc-id\nvpc-ipv4-cidr-block"
            .to_string(),
        "device-number" => "0".to_string(),
        "mac" => mac.to_string(),
        "subnet-id" => crate::ids::subnet_for_zone(zone),
        "subnet-ipv4-cidr-block" => format!("10.0.{zone_index}.0/24"),
        "vpc-id" => crate::ids::vpc_id(&config.region),
        "vpc-ipv4-cidr-block" => "10.0.0.0/16".to_string(),
        "security-group-ids" => crate::ids::default_security_group(&config.region),
        "security-groups" => "default".to_string(),
        _ => return None,
    })
}

/// The GCE instance if the request is a proper metadata request, else the answer.
fn gce_instance(served: &Served, headers: &HeaderMap) -> Result<crate::world::Instance, Refusal> {
    let instance = instance(served)?;
    if instance.spec.provider != Provider::Gce {
        return Err((StatusCode::NOT_FOUND, ""));
    }
    let flavor = headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) == Some("Google")
        || headers
            .get("x-google-metadata-request")
            .and_then(|v| v.to_str().ok())
            == Some("True");
    if !flavor || forwarded(headers) {
        return Err((
            StatusCode::FORBIDDEN,
            "Missing Metadata-Flavor:Google header.",
        ));
    }
    Ok(instance)
}

/// `GET /`: how client libraries detect GCE (the answer's header).
async fn gce_root(State(served): State<Served>, headers: HeaderMap) -> Response {
    match gce_instance(&served, &headers) {
        Ok(_) => ([("metadata-flavor", "Google")], "computeMetadata/\n").into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn gce_get(
    State(served): State<Served>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let instance = match gce_instance(&served, &headers) {
        Ok(instance) => instance,
        Err(refusal) => return refusal.into_response(),
    };
    let project = served.sim.config.gce_project.clone();
    let number = numeric_id(&project);
    let email = crate::gce::service_account(&project);
    let mut content_type = "application/text";
    let body = match path.trim_end_matches('/') {
        "instance/id" => numeric_id(&instance.spec.id).to_string(),
        "instance/name" => instance.spec.id.clone(),
        "instance/hostname" => format!(
            "{}.{}.c.{project}.internal",
            instance.spec.id, instance.spec.zone
        ),
        "instance/zone" => format!("projects/{number}/zones/{}", instance.spec.zone),
        "instance/machine-type" => format!(
            "projects/{number}/machineTypes/{}",
            instance.spec.instance_type
        ),
        "project/project-id" => project,
        "project/numeric-project-id" => number.to_string(),
        "instance/service-accounts" => format!("default/\n{email}/\n"),
        p if is_account(p, &email, "email") => email,
        p if is_account(p, &email, "scopes") => {
            "https://www.googleapis.com/auth/cloud-platform\n".to_string()
        }
        p if is_account(p, &email, "token") => {
            let token = format!("ya29.sim-{}", uuid::Uuid::new_v4().simple());
            served.sim.world().gce_tokens.insert(token.clone());
            content_type = "application/json";
            serde_json::json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})
                .to_string()
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            ("metadata-flavor", "Google"),
            (header::CONTENT_TYPE.as_str(), content_type),
        ],
        body,
    )
        .into_response()
}

/// `instance/service-accounts/{default|<email>}/<leaf>`.
fn is_account(path: &str, email: &str, leaf: &str) -> bool {
    path.strip_prefix("instance/service-accounts/")
        .and_then(|rest| rest.strip_suffix(leaf))
        .and_then(|account| account.strip_suffix('/'))
        .is_some_and(|account| account == "default" || account == email)
}

/// A stable number for a name (GCE ids are numeric).
pub fn numeric_id(name: &str) -> u64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(name.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().unwrap()) >> 1
}
