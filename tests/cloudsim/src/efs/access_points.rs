//! CreateAccessPoint, DescribeAccessPoints, DeleteAccessPoint. A client
//! token names at most one access point in the region while it exists;
//! reusing it answers `AccessPointAlreadyExists` with that access point's
//! id, as EFS does (whatever the other parameters).

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::ACCESS_POINTS_PER_FILE_SYSTEM;
use super::call::{Call, Reply, Transition, empty_response, json_response, paginate};
use super::errors::EfsError;
use super::model::{self, AccessPoint, AccessPointDescription, PosixUser, RootDirectory, Tag};
use crate::ids;
use crate::world::Sim;

const MAX_ID: i64 = 4_294_967_295;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateAccessPointInput {
    client_token: Option<String>,
    file_system_id: Option<String>,
    posix_user: Option<PosixUser>,
    root_directory: Option<RootDirectory>,
    #[serde(default)]
    tags: Vec<Tag>,
}

fn check_id(what: &str, id: i64) -> Result<(), EfsError> {
    if (0..=MAX_ID).contains(&id) {
        Ok(())
    } else {
        Err(EfsError::bad_request(format!(
            "{what} must be between 0 and {MAX_ID}."
        )))
    }
}

fn check_posix_user(user: &PosixUser) -> Result<(), EfsError> {
    check_id("PosixUser.Uid", user.uid)?;
    check_id("PosixUser.Gid", user.gid)?;
    let secondary = user.secondary_gids.as_deref().unwrap_or_default();
    if secondary.len() > 16 {
        return Err(EfsError::bad_request(
            "PosixUser.SecondaryGids can have at most 16 entries.",
        ));
    }
    secondary
        .iter()
        .try_for_each(|gid| check_id("PosixUser.SecondaryGids", *gid))
}

/// The root directory as EFS records it: `/` when none is given.
fn check_root_directory(root: Option<RootDirectory>) -> Result<RootDirectory, EfsError> {
    let mut root = root.unwrap_or(RootDirectory {
        path: None,
        creation_info: None,
    });
    let path = root.path.get_or_insert_with(|| "/".into());
    if !path.starts_with('/') || path.chars().count() > 100 {
        return Err(EfsError::bad_request(format!(
            "RootDirectory.Path '{path}' must be an absolute path of at most 100 characters."
        )));
    }
    if let Some(info) = &root.creation_info {
        check_id("CreationInfo.OwnerUid", info.owner_uid)?;
        check_id("CreationInfo.OwnerGid", info.owner_gid)?;
        let p = &info.permissions;
        if !(3..=4).contains(&p.len()) || !p.chars().all(|c| ('0'..='7').contains(&c)) {
            return Err(EfsError::bad_request(format!(
                "CreationInfo.Permissions '{p}' must be 3 or 4 octal digits, e.g. 0755."
            )));
        }
    }
    Ok(root)
}

pub fn create_access_point(sim: &Sim, call: &Call) -> Result<Reply, EfsError> {
    let input: CreateAccessPointInput = call.json()?;
    let token = input.client_token.unwrap_or_default();
    if token.is_empty() || token.chars().count() > 64 {
        return Err(EfsError::bad_request(
            "ClientToken must be 1 to 64 characters long.",
        ));
    }
    let Some(file_system_id) = input.file_system_id.as_deref().map(model::resource_id) else {
        return Err(EfsError::bad_request("FileSystemId is required."));
    };
    if let Some(user) = &input.posix_user {
        check_posix_user(user)?;
    }
    let root_directory = check_root_directory(input.root_directory)?;
    model::check_tags(&input.tags)?;

    let mut world = sim.world();
    let efs = &mut world.efs;
    let Some(file_system) = efs.file_systems.get(file_system_id) else {
        return Err(EfsError::file_system_not_found(file_system_id));
    };
    if let Some(existing) = efs
        .access_points
        .values()
        .find(|ap| ap.client_token == token)
    {
        return Err(EfsError::access_point_already_exists(&existing.id, &token));
    }
    if file_system.life_cycle_state != "available" {
        return Err(EfsError::incorrect_file_system_state(
            file_system_id,
            &file_system.life_cycle_state,
        ));
    }
    if efs
        .access_points
        .values()
        .filter(|ap| ap.file_system_id == file_system_id)
        .count()
        >= ACCESS_POINTS_PER_FILE_SYSTEM
    {
        return Err(EfsError::new(
            403,
            "AccessPointLimitExceeded",
            format!(
                "File system '{file_system_id}' already has {ACCESS_POINTS_PER_FILE_SYSTEM} access points."
            ),
        ));
    }
    let access_point = AccessPoint {
        seq: efs.next_seq(),
        id: ids::aws("fsap"),
        client_token: token,
        file_system_id: file_system_id.to_string(),
        posix_user: input.posix_user,
        root_directory,
        tags: input.tags,
        life_cycle_state: "creating".into(),
    };
    let description = access_point.describe(&sim.config);
    let id = access_point.id.clone();
    efs.access_points.insert(id.clone(), access_point);
    Ok(Reply::new(json_response(StatusCode::OK, &description))
        .then(Transition::AccessPointAvailable(id)))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeAccessPointsOutput {
    access_points: Vec<AccessPointDescription>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub fn describe_access_points(sim: &Sim, call: &Call) -> Result<Reply, EfsError> {
    let page = call.page_size("MaxResults", 100)?;
    let next_token = call.query_param("NextToken")?;
    let access_point_id = call.query_param("AccessPointId")?;
    let file_system_id = call.query_param("FileSystemId")?;
    if access_point_id.is_some() && file_system_id.is_some() {
        return Err(EfsError::bad_request(
            "Specify either AccessPointId or FileSystemId, not both.",
        ));
    }

    let world = sim.world();
    let efs = &world.efs;
    let mut points: Vec<&AccessPoint> = match (&access_point_id, &file_system_id) {
        (Some(id), _) => {
            let id = model::resource_id(id);
            vec![
                efs.access_points
                    .get(id)
                    .ok_or_else(|| EfsError::access_point_not_found(id))?,
            ]
        }
        (None, Some(id)) => {
            let id = model::resource_id(id);
            if !efs.file_systems.contains_key(id) {
                return Err(EfsError::file_system_not_found(id));
            }
            efs.access_points
                .values()
                .filter(|ap| ap.file_system_id == id)
                .collect()
        }
        (None, None) => efs.access_points.values().collect(),
    };
    points.sort_by_key(|ap| ap.seq);
    let items = points
        .into_iter()
        .map(|ap| (ap.seq, ap.describe(&sim.config)))
        .collect();
    let (access_points, next_token) = paginate(items, next_token.as_deref(), page, "NextToken")?;
    let output = DescribeAccessPointsOutput {
        access_points,
        next_token,
    };
    Ok(Reply::new(json_response(StatusCode::OK, &output)))
}

/// `id` may be the access point's ARN.
pub fn delete_access_point(sim: &Sim, _: &Call, id: &str) -> Result<Reply, EfsError> {
    let id = model::resource_id(id);
    let mut world = sim.world();
    let Some(access_point) = world.efs.access_points.get_mut(id) else {
        return Err(EfsError::access_point_not_found(id));
    };
    access_point.life_cycle_state = "deleting".into();
    Ok(Reply::new(empty_response(StatusCode::NO_CONTENT))
        .then(Transition::AccessPointGone(id.to_string())))
}
