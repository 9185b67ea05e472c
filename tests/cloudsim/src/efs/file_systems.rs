//! CreateFileSystem, DescribeFileSystems, DeleteFileSystem.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::call::{Call, Reply, Transition, empty_response, json_response, paginate};
use super::errors::EfsError;
use super::model::{self, FileSystem, FileSystemDescription, Tag};
use crate::ids;
use crate::world::Sim;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateFileSystemInput {
    creation_token: Option<String>,
    performance_mode: Option<String>,
    encrypted: Option<bool>,
    kms_key_id: Option<String>,
    throughput_mode: Option<String>,
    provisioned_throughput_in_mibps: Option<f64>,
    availability_zone_name: Option<String>,
    backup: Option<bool>,
    #[serde(default)]
    tags: Vec<Tag>,
}

pub fn create_file_system(sim: &Sim, call: &Call) -> Result<Reply, EfsError> {
    let input: CreateFileSystemInput = call.json()?;
    let token = input.creation_token.unwrap_or_default();
    if token.is_empty() || token.chars().count() > 64 {
        return Err(EfsError::bad_request(
            "CreationToken must be 1 to 64 characters long.",
        ));
    }
    let performance_mode = input
        .performance_mode
        .unwrap_or_else(|| "generalPurpose".into());
    if !["generalPurpose", "maxIO"].contains(&performance_mode.as_str()) {
        return Err(EfsError::bad_request(format!(
            "Invalid PerformanceMode '{performance_mode}': use generalPurpose or maxIO."
        )));
    }
    let throughput_mode = input.throughput_mode.unwrap_or_else(|| "bursting".into());
    if !["bursting", "provisioned", "elastic"].contains(&throughput_mode.as_str()) {
        return Err(EfsError::bad_request(format!(
            "Invalid ThroughputMode '{throughput_mode}': use bursting, provisioned or elastic."
        )));
    }
    match (
        throughput_mode.as_str(),
        input.provisioned_throughput_in_mibps,
    ) {
        ("provisioned", None) => {
            return Err(EfsError::bad_request(
                "ProvisionedThroughputInMibps is required with ThroughputMode provisioned.",
            ));
        }
        ("provisioned", Some(mibps)) if mibps < 1.0 => {
            return Err(EfsError::bad_request(
                "ProvisionedThroughputInMibps must be at least 1.0.",
            ));
        }
        ("provisioned", _) | (_, None) => {}
        (_, Some(_)) => {
            return Err(EfsError::bad_request(
                "ProvisionedThroughputInMibps is only valid with ThroughputMode provisioned.",
            ));
        }
    }
    if performance_mode == "maxIO" && throughput_mode == "elastic" {
        return Err(EfsError::bad_request(
            "Performance mode maxIO is not supported with throughput mode elastic.",
        ));
    }
    let encrypted = input.encrypted.unwrap_or(false);
    if input.kms_key_id.is_some() && !encrypted {
        return Err(EfsError::bad_request(
            "KmsKeyId requires Encrypted to be true.",
        ));
    }
    if let Some(zone) = &input.availability_zone_name {
        if model::zone_index(&sim.config, zone).is_none() {
            return Err(EfsError::new(
                400,
                "UnsupportedAvailabilityZone",
                format!("Availability zone '{zone}' is not supported."),
            ));
        }
        if performance_mode == "maxIO" {
            return Err(EfsError::bad_request(
                "One Zone file systems do not support performance mode maxIO.",
            ));
        }
    }
    model::check_tags(&input.tags)?;

    let mut world = sim.world();
    let efs = &mut world.efs;
    if let Some(existing) = efs
        .file_systems
        .values()
        .find(|fs| fs.creation_token == token)
    {
        return Err(EfsError::file_system_already_exists(&existing.id, &token));
    }
    let file_system = FileSystem {
        seq: efs.next_seq(),
        id: ids::aws("fs"),
        creation_token: token,
        creation_time: model::now_epoch_seconds(),
        life_cycle_state: "creating".into(),
        performance_mode,
        encrypted,
        kms_key_id: encrypted
            .then(|| model::kms_key_arn(&sim.config.region, input.kms_key_id.as_deref())),
        throughput_mode,
        provisioned_throughput_in_mibps: input.provisioned_throughput_in_mibps,
        backup: input
            .backup
            .unwrap_or(input.availability_zone_name.is_some()),
        availability_zone_name: input.availability_zone_name,
        tags: input.tags,
    };
    let description = file_system.describe(&sim.config, 0);
    let id = file_system.id.clone();
    efs.file_systems.insert(id.clone(), file_system);
    Ok(Reply::new(json_response(StatusCode::CREATED, &description))
        .then(Transition::FileSystemAvailable(id)))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeFileSystemsOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
    file_systems: Vec<FileSystemDescription>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

pub fn describe_file_systems(sim: &Sim, call: &Call) -> Result<Reply, EfsError> {
    let page = call.page_size("MaxItems", 100)?;
    let marker = call.query_param("Marker")?;
    let token = call.query_param("CreationToken")?;
    let wanted = call.query_param("FileSystemId")?;
    let wanted = wanted.as_deref().map(model::resource_id);

    let world = sim.world();
    let efs = &world.efs;
    if let Some(id) = wanted
        && !efs.file_systems.contains_key(id)
    {
        return Err(EfsError::file_system_not_found(id));
    }
    let mut matching: Vec<&FileSystem> = efs
        .file_systems
        .values()
        .filter(|fs| wanted.is_none_or(|id| fs.id == id))
        .filter(|fs| token.as_deref().is_none_or(|t| fs.creation_token == t))
        .collect();
    matching.sort_by_key(|fs| fs.seq);
    let items = matching
        .into_iter()
        .map(|fs| {
            (
                fs.seq,
                fs.describe(&sim.config, efs.mount_targets_of(&fs.id).len()),
            )
        })
        .collect();
    let (file_systems, next_marker) = paginate(items, marker.as_deref(), page, "Marker")?;
    let output = DescribeFileSystemsOutput {
        marker,
        file_systems,
        next_marker,
    };
    Ok(Reply::new(json_response(StatusCode::OK, &output)))
}

/// `id` may be the file system's ARN.
pub fn delete_file_system(sim: &Sim, _: &Call, id: &str) -> Result<Reply, EfsError> {
    let id = model::resource_id(id);
    let mut world = sim.world();
    let efs = &mut world.efs;
    if !efs.file_systems.contains_key(id) {
        return Err(EfsError::file_system_not_found(id));
    }
    if !efs.mount_targets_of(id).is_empty() {
        return Err(EfsError::file_system_in_use(id));
    }
    if let Some(fs) = efs.file_systems.get_mut(id) {
        fs.life_cycle_state = "deleting".into();
    }
    Ok(Reply::new(empty_response(StatusCode::NO_CONTENT))
        .then(Transition::FileSystemGone(id.to_string())))
}
