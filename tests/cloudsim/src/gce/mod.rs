//! Compute Engine's REST API, the subset the GCE persistent-disk backend
//! uses, under `/compute/v1/projects/{project}/…`:
//!
//! - `disks`: insert, get, list, aggregatedList, delete, setLabels, resize, createSnapshot
//! - `instances`: get, list, attachDisk (forceAttach), detachDisk
//! - `operations`: zoneOperations and globalOperations get and wait
//! - `snapshots`: insert, get, list, delete (global)
//! - `filter`: the `filter=` expressions of list calls
//! - `errors`: GCE's error document
//!
//! Every call needs a Bearer token a simulated GCE metadata server issued
//! (else 401), is counted and offered to the fault plan (`gce`,
//! `disks.insert`, …: Throttle → 429 rateLimitExceeded, Fail → the given
//! status, reason = the given code), and is checked against the configured
//! policy of allowed actions (`gce:disks.insert`, `gce:*`, `*`; else 403).
//!
//! Every mutating call returns an Operation that is RUNNING until
//! `delays.gce_operation` has passed; the change takes effect when it
//! turns DONE (a disk exists as CREATING from the insert call on, so its
//! name is taken at once). Errors found only when the change is applied
//! (e.g. two attachments racing for one device name) go in
//! `operation.error`. While an operation that changes a disk
//! (attach, detach, resize, delete) is RUNNING, other such calls on that
//! disk answer 400 resourceNotReady, as GCE does. The fault plan's
//! `stuck_attaching` leaves attachDisk operations RUNNING for ever (they
//! never take effect and do not hold the disk). `?requestId=` (a UUID)
//! makes a retried mutating call return the first call's operation.
//!
//! Zones: us-central1-a, -b and -c, plus every zone a simulated GCE
//! instance is in; any other zone answers 400 "Unknown zone". The project
//! is `SimConfig::gce_project` (or its number, as the metadata server
//! reports it); any other answers 404.
//!
//! Links (`selfLink`, `zone`, `targetLink`, `users`, …) point at this
//! simulator (`http://<Host>/compute/v1/projects/…`), so a client may
//! follow them; as input, full URLs (any host), partial URLs
//! (`projects/p/zones/z/disks/d`, `zones/z/disks/d`) and, for a disk
//! type or a snapshot, a bare name are accepted. Request bodies with a
//! field the resource does not have are refused (400), as GCE does, so a
//! misspelt `sizeGB` does not pass silently. List filters compare URL
//! fields (`zone`, `type`, `sourceSnapshot`) by name.
//!
//! Each GCE instance has a boot disk named like the instance (10 GB,
//! pd-balanced, device name `persistent-disk-0`), as on GCE.
//!
//! Known differences from Compute Engine: `forceAttach=true` moves a zonal
//! disk (GCE itself only force-attaches regional disks and refuses zonal
//! ones; set `GceState::real_force_attach` to get that refusal); no images,
//! regional disks, or encryption keys; lists sort by name only; tokens do
//! not expire.

pub mod disks;
pub mod errors;
pub mod filter;
pub mod instances;
pub mod operations;
mod snapshots;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

pub use errors::{GceError, GceResult};

use crate::auth;
use crate::config::Provider;
use crate::faults::Injected;
use crate::world::{SharedSim, World};

/// Zones every simulator has, besides those of its GCE instances.
pub const DEFAULT_ZONES: &[&str] = &["us-central1-a", "us-central1-b", "us-central1-c"];

/// A zonal disk's key: (zone, name).
pub type DiskKey = (String, String);

/// Compute Engine's resources.
#[derive(Debug)]
pub struct GceState {
    pub disks: BTreeMap<DiskKey, disks::Disk>,
    pub snapshots: BTreeMap<String, snapshots::Snapshot>,
    /// Every operation ever started, by name.
    pub operations: BTreeMap<String, operations::Operation>,
    /// Instance name → its attached disks, in attachment order.
    pub attachments: BTreeMap<String, Vec<instances::Attachment>>,
    /// `requestId` → the operation it started (a retry gets that one back).
    request_ids: HashMap<String, String>,
    /// Boot disks made for the GCE instances.
    prepared: bool,
    /// How long `operations/{op}/wait` blocks at most (GCE: about 2 minutes).
    pub wait_limit: Duration,
    /// Refuse `forceAttach` of a zonal disk, as GCE does (off: it moves the disk).
    pub real_force_attach: bool,
    /// Woken whenever an operation turns DONE.
    done: Arc<tokio::sync::Notify>,
}

impl Default for GceState {
    fn default() -> GceState {
        GceState {
            disks: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            operations: BTreeMap::new(),
            attachments: BTreeMap::new(),
            request_ids: HashMap::new(),
            prepared: false,
            wait_limit: Duration::from_secs(120),
            real_force_attach: false,
            done: Default::default(),
        }
    }
}

pub fn router() -> Router<SharedSim> {
    const P: &str = "/compute/v1/projects/{project}";
    let zone = |rest: &str| format!("{P}/zones/{{zone}}/{rest}");
    Router::new()
        .route(&zone("disks"), get(disks::list).post(disks::insert))
        .route(&zone("disks/{disk}"), get(disks::get).delete(disks::delete))
        .route(&zone("disks/{disk}/setLabels"), post(disks::set_labels))
        .route(&zone("disks/{disk}/resize"), post(disks::resize))
        .route(
            &zone("disks/{disk}/createSnapshot"),
            post(snapshots::create_from_disk),
        )
        .route(
            &format!("{P}/aggregated/disks"),
            get(disks::aggregated_list),
        )
        .route(&zone("instances"), get(instances::list))
        .route(&zone("instances/{instance}"), get(instances::get))
        .route(
            &zone("instances/{instance}/attachDisk"),
            post(instances::attach_disk),
        )
        .route(
            &zone("instances/{instance}/detachDisk"),
            post(instances::detach_disk),
        )
        .route(&zone("operations/{operation}"), get(operations::get))
        .route(&zone("operations/{operation}/wait"), post(operations::wait))
        .route(
            &format!("{P}/global/operations/{{operation}}"),
            get(operations::get),
        )
        .route(
            &format!("{P}/global/operations/{{operation}}/wait"),
            post(operations::wait),
        )
        .route(
            &format!("{P}/global/snapshots"),
            get(snapshots::list).post(snapshots::insert),
        )
        .route(
            &format!("{P}/global/snapshots/{{snapshot}}"),
            get(snapshots::get).delete(snapshots::delete),
        )
        .route("/compute/v1/{*rest}", axum::routing::any(unknown))
}

async fn unknown() -> Response {
    GceError::new(
        404,
        "notFound",
        "The requested URL was not found on this server.",
    )
    .into_response()
}

/// One authenticated call: where links point and which project it is.
#[derive(Debug, Clone)]
pub struct Call {
    /// `http://<Host>`: links in answers point here.
    base: String,
    /// The configured project's name (the path may have used its number).
    pub project: String,
    /// `?requestId=`: a retry with the same id gets the first operation back.
    pub request_id: Option<String>,
}

impl Call {
    /// A full URL for a resource path (`projects/p/zones/z/disks/d`).
    pub fn link(&self, path: &str) -> String {
        format!("{}/compute/v1/{path}", self.base)
    }

    pub fn zone_path(&self, zone: &str) -> String {
        format!("projects/{}/zones/{zone}", self.project)
    }

    pub fn disk_path(&self, zone: &str, disk: &str) -> String {
        format!("projects/{}/zones/{zone}/disks/{disk}", self.project)
    }

    pub fn instance_path(&self, zone: &str, instance: &str) -> String {
        format!(
            "projects/{}/zones/{zone}/instances/{instance}",
            self.project
        )
    }

    pub fn snapshot_path(&self, snapshot: &str) -> String {
        format!("projects/{}/global/snapshots/{snapshot}", self.project)
    }

    /// The operation an earlier call with this `requestId` started, if any.
    pub fn replayed(&self, world: &World) -> Option<Value> {
        let name = world.gce.request_ids.get(self.request_id.as_ref()?)?;
        world
            .gce
            .operations
            .get(name)
            .map(|op| operations::render(self, op))
    }
}

/// Authenticate, count, inject faults, check the policy and the project.
pub async fn begin(
    sim: &SharedSim,
    headers: &HeaderMap,
    project: &str,
    method: &str,
    query: &HashMap<String, String>,
) -> GceResult<Call> {
    auth::check_gce(sim, headers).map_err(|_| GceError::unauthenticated())?;
    match sim.faults.before("gce", method).await {
        Some(Injected::Throttle) => return Err(GceError::rate_limited()),
        Some(Injected::Fail { code, status }) => {
            // The fault plan's default code is AWS's; GCE calls that backendError.
            let reason = if code == "InternalError" {
                "backendError".to_string()
            } else {
                code
            };
            return Err(GceError::new(
                status,
                reason,
                format!("Injected failure of {method}."),
            ));
        }
        None => {}
    }
    let configured = &sim.config.gce_project;
    if project != configured && project != crate::metadata::numeric_id(configured).to_string() {
        return Err(GceError::not_found(&format!("projects/{project}")));
    }
    if !is_allowed(sim.config.allowed_actions.as_deref(), method) {
        return Err(GceError::forbidden(
            &permission(method),
            &format!("projects/{configured}"),
        ));
    }
    let request_id = match query.get("requestId").filter(|id| !id.is_empty()) {
        Some(id) => {
            let uuid = uuid::Uuid::parse_str(id)
                .ok()
                .filter(|u| !u.is_nil())
                .ok_or_else(|| {
                    GceError::invalid_field("requestId", id, "Must be a valid non-zero UUID.")
                })?;
            Some(uuid.hyphenated().to_string())
        }
        None => None,
    };
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    Ok(Call {
        base: format!("http://{host}"),
        project: configured.clone(),
        request_id,
    })
}

/// `None` allows everything; else an entry names the method
/// (`disks.insert` or `gce:disks.insert`) or all of GCE (`gce:*`, `*`).
fn is_allowed(allowed: Option<&[String]>, method: &str) -> bool {
    let Some(allowed) = allowed else { return true };
    allowed.iter().any(|entry| {
        let entry = entry.trim();
        entry == "*"
            || entry == "gce:*"
            || entry == method
            || entry.strip_prefix("gce:") == Some(method)
    })
}

/// The IAM permission a method needs: `disks.insert` → `compute.disks.create`.
fn permission(method: &str) -> String {
    let (resource, verb) = method.split_once('.').unwrap_or((method, ""));
    let verb = match verb {
        "insert" => "create",
        "aggregatedList" => "list",
        "wait" => "get",
        other => other,
    };
    format!("compute.{resource}.{verb}")
}

/// Answer a handler's result: the JSON document, or GCE's error document.
pub fn reply(result: GceResult<Value>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(error) => error.into_response(),
    }
}

/// Create the GCE instances' boot disks on first use.
pub fn prepare(sim: &crate::world::Sim, world: &mut World) {
    if world.gce.prepared {
        return;
    }
    world.gce.prepared = true;
    let instances: Vec<_> = world
        .instances
        .values()
        .filter(|i| i.spec.provider == Provider::Gce)
        .map(|i| i.spec.clone())
        .collect();
    for spec in instances {
        let disk = disks::Disk::boot(&spec.id, &spec.zone);
        let _ = sim.hypervisor.create(&disk.backing(), disk.size_gb << 30);
        world.gce.attachments.insert(
            spec.id.clone(),
            vec![instances::Attachment::boot(&spec.zone, &spec.id)],
        );
        world
            .gce
            .disks
            .insert((spec.zone.clone(), spec.id.clone()), disk);
    }
}

/// 400 "Unknown zone" unless `zone` is one of the simulator's GCE zones.
pub fn check_zone(world: &World, zone: &str) -> GceResult<()> {
    let known = DEFAULT_ZONES.contains(&zone)
        || world
            .instances
            .values()
            .any(|i| i.spec.provider == Provider::Gce && i.spec.zone == zone);
    if known {
        Ok(())
    } else {
        Err(GceError::invalid_field("zone", zone, "Unknown zone."))
    }
}

/// GCE's resource name rule: `^[a-z]([-a-z0-9]*[a-z0-9])?$`, at most 63 characters.
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[bytes.len() - 1] != b'-'
}

pub fn check_name(field: &str, name: &str) -> GceResult<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(GceError::invalid_field(
            field,
            name,
            "Must be a match of regex '[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?'",
        ))
    }
}

/// A reference to another resource, from a full URL, a partial URL or a name.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub project: Option<String>,
    /// The segments after the project: `["zones", z, "disks", d]`.
    pub segments: Vec<String>,
}

impl Reference {
    pub fn parse(raw: &str) -> Reference {
        let mut path = raw;
        if let Some((_, rest)) = path.split_once("://") {
            path = rest.split_once('/').map_or("", |(_, p)| p);
        }
        let path = path.trim_start_matches('/');
        let path = ["compute/v1/", "compute/beta/", "compute/alpha/"]
            .iter()
            .find_map(|prefix| path.strip_prefix(prefix))
            .unwrap_or(path);
        let mut segments: Vec<String> = path.split('/').map(str::to_string).collect();
        let mut project = None;
        if segments.len() >= 2 && segments[0] == "projects" {
            project = Some(segments[1].clone());
            segments.drain(..2);
        }
        Reference { project, segments }
    }

    /// `zones/{z}/{collection}/{name}` → (z, name).
    pub fn zonal(&self, collection: &str) -> Option<(String, String)> {
        match &self.segments[..] {
            [zones, zone, c, name] if zones == "zones" && c == collection && !name.is_empty() => {
                Some((zone.clone(), name.clone()))
            }
            _ => None,
        }
    }

    /// `global/{collection}/{name}` → name.
    pub fn global(&self, collection: &str) -> Option<String> {
        match &self.segments[..] {
            [global, c, name] if global == "global" && c == collection && !name.is_empty() => {
                Some(name.clone())
            }
            _ => None,
        }
    }

    /// The reference names a resource of another project.
    pub fn foreign(&self, call: &Call) -> bool {
        self.project.as_ref().is_some_and(|p| {
            *p != call.project && *p != crate::metadata::numeric_id(&call.project).to_string()
        })
    }
}

/// A request body as a JSON object whose fields are all known to `resource`
/// (GCE answers 400 for an unknown field, which catches misspellings).
pub fn parse_body(body: &[u8], known: &[&str], resource: &str) -> GceResult<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| GceError::bad_request(format!("Invalid JSON payload received. {e}")))?;
    let Value::Object(map) = value else {
        return Err(GceError::bad_request(format!(
            "Invalid JSON payload received. Expected an object for '{resource}'."
        )));
    };
    if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(GceError::bad_request(format!(
            "Invalid JSON payload received. Unknown name \"{unknown}\" at '{resource}': Cannot find field."
        )));
    }
    Ok(map)
}

/// A string field (absent or null: `None`).
pub fn string_field(map: &Map<String, Value>, key: &str, field: &str) -> GceResult<Option<String>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(GceError::bad_request(format!(
            "Invalid value at '{field}' (TYPE_STRING), {other}"
        ))),
    }
}

/// An int64 field: GCE writes int64 as a JSON string and accepts both.
pub fn int64_field(map: &Map<String, Value>, key: &str, field: &str) -> GceResult<Option<u64>> {
    let bad =
        |v: &Value| GceError::bad_request(format!("Invalid value at '{field}' (TYPE_INT64), {v}"));
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|_| bad(&map[key])),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| bad(&map[key])),
        Some(other) => Err(bad(other)),
    }
}

pub fn bool_field(map: &Map<String, Value>, key: &str, field: &str) -> GceResult<Option<bool>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(GceError::bad_request(format!(
            "Invalid value at '{field}' (TYPE_BOOL), {other}"
        ))),
    }
}

/// `labels`: at most 64; keys 1–63 characters, values 0–63, lowercase
/// letters, digits, `_` and `-`, keys starting with a letter.
pub fn labels_field(
    map: &Map<String, Value>,
    key: &str,
    field: &str,
) -> GceResult<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    let object = match map.get(key) {
        None | Some(Value::Null) => return Ok(labels),
        Some(Value::Object(object)) => object,
        Some(other) => {
            return Err(GceError::bad_request(format!(
                "Invalid value at '{field}' (type.googleapis.com/map), {other}"
            )));
        }
    };
    if object.len() > 64 {
        return Err(GceError::invalid_field(
            field,
            "",
            "A resource can have at most 64 labels.",
        ));
    }
    let allowed = |c: char| c.is_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    for (k, v) in object {
        let Value::String(v) = v else {
            return Err(GceError::bad_request(format!(
                "Invalid value at '{field}[{k}]' (TYPE_STRING), {v}"
            )));
        };
        let key_ok = (1..=63).contains(&k.chars().count())
            && k.chars().next().is_some_and(char::is_lowercase)
            && k.chars().all(allowed);
        if !key_ok {
            return Err(GceError::invalid_field(
                field,
                k,
                "Label keys must start with a lowercase letter, be 1-63 characters long, and contain only \
                 lowercase letters, digits, underscores and dashes.",
            ));
        }
        if v.chars().count() > 63 || !v.chars().all(allowed) {
            return Err(GceError::invalid_field(
                field,
                v,
                "Label values must be at most 63 characters long and contain only lowercase letters, digits, \
                 underscores and dashes.",
            ));
        }
        labels.insert(k.clone(), v.clone());
    }
    Ok(labels)
}

/// `labelFingerprint`: a hash of the labels, base64 as GCE prints it.
pub fn label_fingerprint(labels: &BTreeMap<String, String>) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for (k, v) in labels {
        hasher.update(k.as_bytes());
        hasher.update([0]);
        hasher.update(v.as_bytes());
        hasher.update([0]);
    }
    base64(&hasher.finalize()[..8])
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A new numeric resource id (GCE ids are uint64, printed as strings).
pub fn new_id() -> u64 {
    use rand::Rng;
    rand::rng().random::<u64>() >> 1
}

/// `true`/`false` query parameters.
pub fn query_bool(query: &HashMap<String, String>, key: &str) -> GceResult<bool> {
    match query.get(key).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(GceError::invalid_field(
            key,
            other,
            "Must be true or false.",
        )),
    }
}

/// The service account operations name as their `user`.
pub fn service_account(project: &str) -> String {
    format!(
        "{}-compute@developer.gserviceaccount.com",
        crate::metadata::numeric_id(project)
    )
}

/// A page of `items` (sorted by key): `maxResults` (≤ 500) and `pageToken`.
/// Returns the page and the next page's token.
pub fn paginate<T>(
    items: Vec<(String, T)>,
    query: &HashMap<String, String>,
) -> GceResult<(Vec<T>, Option<String>)> {
    let max = match query.get("maxResults") {
        None => 500,
        Some(raw) => match raw.parse::<usize>() {
            Ok(0) => 500,
            Ok(n) if n <= 500 => n,
            _ => {
                return Err(GceError::invalid_field(
                    "maxResults",
                    raw,
                    "Must be between 0 and 500.",
                ));
            }
        },
    };
    if let Some(order) = query.get("orderBy").filter(|o| o.as_str() != "name") {
        return Err(GceError::invalid_field(
            "orderBy",
            order,
            "cloudsim sorts by name only.",
        ));
    }
    let after = match query.get("pageToken").filter(|t| !t.is_empty()) {
        None => None,
        Some(token) => Some(
            hex::decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    GceError::invalid_field("pageToken", token, "Invalid page token.")
                })?,
        ),
    };
    let mut rest: Vec<(String, T)> = items
        .into_iter()
        .filter(|(key, _)| after.as_ref().is_none_or(|a| key > a))
        .collect();
    let next = (rest.len() > max).then(|| hex::encode(rest[max - 1].0.as_bytes()));
    rest.truncate(max);
    Ok((rest.into_iter().map(|(_, item)| item).collect(), next))
}

/// A list call's answer: `kind`, the collection's `path` as id and link,
/// the page's `items` (left out when empty, as GCE does) and `nextPageToken`.
pub fn list_response(
    call: &Call,
    kind: &str,
    path: &str,
    items: Vec<Value>,
    next: Option<String>,
) -> Value {
    let mut value = json!({"kind": kind, "id": path, "selfLink": call.link(path)});
    put(
        &mut value,
        "items",
        (!items.is_empty()).then(|| json!(items)),
    );
    put(&mut value, "nextPageToken", next.map(|t| json!(t)));
    value
}

/// The list call's `filter=`, checked against the resource's `fields`.
pub fn parse_filter(
    query: &HashMap<String, String>,
    fields: &[&str],
) -> GceResult<Option<filter::Filter>> {
    match query.get("filter") {
        Some(raw) => filter::Filter::parse(raw, fields),
        None => Ok(None),
    }
}

/// The world, locked, for a call in `zone`: boot disks made, the zone checked.
pub fn zonal_world<'s>(
    sim: &'s SharedSim,
    zone: &str,
) -> GceResult<std::sync::MutexGuard<'s, World>> {
    let mut world = sim.world();
    prepare(sim, &mut world);
    check_zone(&world, zone)?;
    Ok(world)
}

/// Insert `value` under `key` unless it is `None`.
pub fn put(object: &mut Value, key: &str, value: Option<Value>) {
    if let (Some(value), Value::Object(map)) = (value, object) {
        map.insert(key.to_string(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rule() {
        assert!(valid_name("a"));
        assert!(valid_name("data-1"));
        assert!(valid_name(&"a".repeat(63)));
        assert!(!valid_name(&"a".repeat(64)));
        assert!(!valid_name("Data"));
        assert!(!valid_name("data-"));
        assert!(!valid_name("1data"));
        assert!(!valid_name("da_ta"));
        assert!(!valid_name(""));
    }

    #[test]
    fn references() {
        let r =
            Reference::parse("https://www.googleapis.com/compute/v1/projects/p/zones/z/disks/d");
        assert_eq!(r.project.as_deref(), Some("p"));
        assert_eq!(r.zonal("disks"), Some(("z".into(), "d".into())));
        assert_eq!(
            Reference::parse("zones/z/disks/d").zonal("disks"),
            Some(("z".into(), "d".into()))
        );
        assert_eq!(
            Reference::parse("projects/p/global/snapshots/s").global("snapshots"),
            Some("s".into())
        );
        assert_eq!(Reference::parse("d").zonal("disks"), None);
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fooba"), "Zm9vYmE=");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }

    #[test]
    fn permissions() {
        assert_eq!(permission("disks.insert"), "compute.disks.create");
        assert_eq!(
            permission("instances.attachDisk"),
            "compute.instances.attachDisk"
        );
    }
}
