//! CreateMountTarget, DescribeMountTargets, DeleteMountTarget, and the
//! mount target's security groups. Each zone has one subnet
//! (`ids::subnet_for_zone`); a file system has at most one mount target per
//! zone, with an address in that zone's subnet.

use std::net::Ipv4Addr;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::SECURITY_GROUPS_PER_MOUNT_TARGET;
use super::call::{Call, Reply, Transition, empty_response, json_response, paginate};
use super::errors::EfsError;
use super::model::{self, MountTarget, MountTargetDescription};
use crate::ids;
use crate::world::Sim;

/// Mount targets take addresses from here up in their subnet
/// (`ids::private_ip(zone, n)`), clear of the instances' low addresses.
const FIRST_ADDRESS: usize = 100;
/// `ids::private_ip(zone, LAST_ADDRESS)` is the subnet's last usable one (.254).
const LAST_ADDRESS: usize = 244;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateMountTargetInput {
    file_system_id: Option<String>,
    subnet_id: Option<String>,
    ip_address: Option<String>,
    ip_address_type: Option<String>,
    ipv6_address: Option<String>,
    security_groups: Option<Vec<String>>,
}

pub fn create_mount_target(sim: &Sim, call: &Call) -> Result<Reply, EfsError> {
    let input: CreateMountTargetInput = call.json()?;
    let Some(file_system_id) = input.file_system_id.as_deref().map(model::resource_id) else {
        return Err(EfsError::bad_request("FileSystemId is required."));
    };
    let Some(subnet_id) = input.subnet_id else {
        return Err(EfsError::bad_request("SubnetId is required."));
    };
    match input.ip_address_type.as_deref() {
        None | Some("IPV4_ONLY") => {}
        Some("DUAL_STACK" | "IPV6_ONLY") => {
            return Err(EfsError::bad_request(format!(
                "Subnet '{subnet_id}' has no IPv6 CIDR block."
            )));
        }
        Some(other) => {
            return Err(EfsError::bad_request(format!(
                "Invalid IpAddressType '{other}'."
            )));
        }
    }
    if input.ipv6_address.is_some() {
        return Err(EfsError::bad_request(format!(
            "Subnet '{subnet_id}' has no IPv6 CIDR block."
        )));
    }

    let mut world = sim.world();
    let efs = &mut world.efs;
    let Some(file_system) = efs.file_systems.get(file_system_id) else {
        return Err(EfsError::file_system_not_found(file_system_id));
    };
    let Some((zone, zone_index)) = model::zone_of_subnet(&sim.config, &subnet_id) else {
        return Err(EfsError::new(
            400,
            "SubnetNotFound",
            format!("The subnet ID '{subnet_id}' does not exist"),
        ));
    };
    if file_system.life_cycle_state != "available" {
        return Err(EfsError::incorrect_file_system_state(
            file_system_id,
            &file_system.life_cycle_state,
        ));
    }
    if let Some(fs_zone) = &file_system.availability_zone_name
        && *fs_zone != zone
    {
        return Err(EfsError::new(
            400,
            "AvailabilityZonesMismatch",
            format!(
                "File system '{file_system_id}' is in {fs_zone}; subnet '{subnet_id}' is in {zone}."
            ),
        ));
    }
    let security_groups = check_security_groups(input.security_groups)?
        .unwrap_or_else(|| vec![model::default_security_group(&sim.config.region)]);
    if let Some(existing) = efs
        .mount_targets_of(file_system_id)
        .into_iter()
        .find(|m| m.zone == zone)
    {
        return Err(EfsError::mount_target_conflict(format!(
            "File system '{file_system_id}' already has mount target '{}' in availability zone {zone}.",
            existing.id
        )));
    }
    let in_use = |ip: &str| efs.mount_targets.values().any(|m| m.ip_address == ip);
    let ip_address = match input.ip_address {
        Some(ip) => {
            let subnet_base = ids::private_ip(zone_index, 0);
            let prefix = subnet_base
                .rsplit_once('.')
                .map(|(p, _)| p)
                .unwrap_or_default();
            let host = ip
                .parse::<Ipv4Addr>()
                .ok()
                .filter(|addr| addr.to_string().rsplit_once('.').map(|(p, _)| p) == Some(prefix))
                .map(|addr| addr.octets()[3]);
            if !host.is_some_and(|h| (4..=254).contains(&h)) {
                return Err(EfsError::bad_request(format!(
                    "IP address '{ip}' does not fall within the address range of subnet '{subnet_id}' ({prefix}.0/24)."
                )));
            }
            if in_use(&ip) {
                return Err(EfsError::new(
                    409,
                    "IpAddressInUse",
                    format!("IP address '{ip}' is already in use."),
                ));
            }
            ip
        }
        None => (FIRST_ADDRESS..=LAST_ADDRESS)
            .map(|n| ids::private_ip(zone_index, n))
            .find(|ip| !in_use(ip))
            .ok_or_else(|| {
                EfsError::new(
                    409,
                    "NoFreeAddressesInSubnet",
                    format!("Subnet '{subnet_id}' has no free addresses."),
                )
            })?,
    };
    let mount_target = MountTarget {
        seq: efs.next_seq(),
        id: ids::aws("fsmt"),
        file_system_id: file_system_id.to_string(),
        subnet_id,
        zone,
        ip_address,
        network_interface_id: ids::aws("eni"),
        security_groups,
        life_cycle_state: "creating".into(),
    };
    let description = mount_target.describe(&sim.config);
    let id = mount_target.id.clone();
    efs.mount_targets.insert(id.clone(), mount_target);
    Ok(Reply::new(json_response(StatusCode::OK, &description))
        .then(Transition::MountTargetAvailable(id)))
}

/// At most five `sg-…` ids (there are no other security groups to check
/// them against: the simulated VPC accepts any well-formed id).
fn check_security_groups(groups: Option<Vec<String>>) -> Result<Option<Vec<String>>, EfsError> {
    let Some(groups) = groups else {
        return Ok(None);
    };
    if groups.len() > SECURITY_GROUPS_PER_MOUNT_TARGET {
        return Err(EfsError::new(
            400,
            "SecurityGroupLimitExceeded",
            format!(
                "A mount target can have at most {SECURITY_GROUPS_PER_MOUNT_TARGET} security groups."
            ),
        ));
    }
    if let Some(bad) = groups.iter().find(|g| !is_security_group_id(g)) {
        return Err(EfsError::new(
            400,
            "SecurityGroupNotFound",
            format!("The security group '{bad}' does not exist."),
        ));
    }
    Ok(Some(groups))
}

fn is_security_group_id(id: &str) -> bool {
    id.strip_prefix("sg-").is_some_and(|hex| {
        (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit())
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeMountTargetsOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
    mount_targets: Vec<MountTargetDescription>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

pub fn describe_mount_targets(sim: &Sim, call: &Call) -> Result<Reply, EfsError> {
    // EFS answers at most 10 mount targets a page.
    let page = call.page_size("MaxItems", 10)?;
    let marker = call.query_param("Marker")?;
    let file_system_id = call.query_param("FileSystemId")?;
    let mount_target_id = call.query_param("MountTargetId")?;
    let access_point_id = call.query_param("AccessPointId")?;
    let given = [&file_system_id, &mount_target_id, &access_point_id]
        .iter()
        .filter(|p| p.is_some())
        .count();
    if given != 1 {
        return Err(EfsError::bad_request(
            "Specify exactly one of FileSystemId, MountTargetId or AccessPointId.",
        ));
    }

    let world = sim.world();
    let efs = &world.efs;
    let targets: Vec<&MountTarget> = if let Some(id) = &mount_target_id {
        vec![
            efs.mount_targets
                .get(id.as_str())
                .ok_or_else(|| EfsError::mount_target_not_found(id))?,
        ]
    } else {
        let file_system_id = match (&file_system_id, &access_point_id) {
            (Some(id), _) => model::resource_id(id).to_string(),
            (None, Some(id)) => {
                let id = model::resource_id(id);
                efs.access_points
                    .get(id)
                    .ok_or_else(|| EfsError::access_point_not_found(id))?
                    .file_system_id
                    .clone()
            }
            (None, None) => unreachable!("exactly one parameter was given"),
        };
        if !efs.file_systems.contains_key(&file_system_id) {
            return Err(EfsError::file_system_not_found(&file_system_id));
        }
        efs.mount_targets_of(&file_system_id)
    };
    let items = targets
        .into_iter()
        .map(|m| (m.seq, m.describe(&sim.config)))
        .collect();
    let (mount_targets, next_marker) = paginate(items, marker.as_deref(), page, "Marker")?;
    let output = DescribeMountTargetsOutput {
        marker,
        mount_targets,
        next_marker,
    };
    Ok(Reply::new(json_response(StatusCode::OK, &output)))
}

pub fn delete_mount_target(sim: &Sim, _: &Call, id: &str) -> Result<Reply, EfsError> {
    let mut world = sim.world();
    let Some(mount_target) = world.efs.mount_targets.get_mut(id) else {
        return Err(EfsError::mount_target_not_found(id));
    };
    mount_target.life_cycle_state = "deleting".into();
    Ok(Reply::new(empty_response(StatusCode::NO_CONTENT))
        .then(Transition::MountTargetGone(id.to_string())))
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SecurityGroups {
    security_groups: Option<Vec<String>>,
}

pub fn describe_security_groups(sim: &Sim, _: &Call, id: &str) -> Result<Reply, EfsError> {
    let world = sim.world();
    let mount_target = world
        .efs
        .mount_targets
        .get(id)
        .ok_or_else(|| EfsError::mount_target_not_found(id))?;
    let output = SecurityGroups {
        security_groups: Some(mount_target.security_groups.clone()),
    };
    Ok(Reply::new(json_response(StatusCode::OK, &output)))
}

/// Replace the groups; none given means the VPC's default group.
pub fn modify_security_groups(sim: &Sim, call: &Call, id: &str) -> Result<Reply, EfsError> {
    let input: SecurityGroups = call.json()?;
    let groups = check_security_groups(input.security_groups)?.unwrap_or_default();
    let mut world = sim.world();
    let mount_target = world
        .efs
        .mount_targets
        .get_mut(id)
        .ok_or_else(|| EfsError::mount_target_not_found(id))?;
    if mount_target.life_cycle_state != "available" {
        return Err(EfsError::new(
            409,
            "IncorrectMountTargetState",
            format!(
                "Mount target '{id}' is in state '{}'; it must be 'available'.",
                mount_target.life_cycle_state
            ),
        ));
    }
    mount_target.security_groups = if groups.is_empty() {
        vec![model::default_security_group(&sim.config.region)]
    } else {
        groups
    };
    Ok(Reply::new(empty_response(StatusCode::NO_CONTENT)))
}
