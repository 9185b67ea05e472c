//! TagResource, UntagResource, ListTagsForResource, for file systems and
//! access points (by id or ARN).

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::EfsState;
use super::call::{Call, Reply, json_response, paginate};
use super::errors::EfsError;
use super::model::{self, Tag};
use crate::world::Sim;

/// The tags of a file system or access point.
fn tags_of<'a>(efs: &'a mut EfsState, resource: &str) -> Result<&'a mut Vec<Tag>, EfsError> {
    let id = model::resource_id(resource);
    if id.starts_with("fsap-") {
        efs.access_points
            .get_mut(id)
            .map(|ap| &mut ap.tags)
            .ok_or_else(|| EfsError::access_point_not_found(id))
    } else if id.starts_with("fs-") {
        efs.file_systems
            .get_mut(id)
            .map(|fs| &mut fs.tags)
            .ok_or_else(|| EfsError::file_system_not_found(id))
    } else {
        Err(EfsError::bad_request(format!(
            "Invalid resource id '{resource}': expected a file system or access point."
        )))
    }
}

/// EFS answers a tag change with an empty JSON object.
fn tags_changed() -> Reply {
    Reply::new(json_response(StatusCode::OK, &serde_json::json!({})))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagResourceInput {
    tags: Option<Vec<Tag>>,
}

pub fn tag(sim: &Sim, call: &Call, resource: &str) -> Result<Reply, EfsError> {
    let input: TagResourceInput = call.json()?;
    let new = input
        .tags
        .filter(|t| !t.is_empty())
        .ok_or_else(|| EfsError::bad_request("Tags is required."))?;
    model::check_tags(&new)?;
    let mut world = sim.world();
    let tags = tags_of(&mut world.efs, resource)?;
    let mut merged = tags.clone();
    model::merge_tags(&mut merged, new);
    model::check_tags(&merged)?;
    *tags = merged;
    Ok(tags_changed())
}

pub fn untag(sim: &Sim, call: &Call, resource: &str) -> Result<Reply, EfsError> {
    let keys: Vec<String> = call
        .query()?
        .into_iter()
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v)
        .collect();
    if keys.is_empty() {
        return Err(EfsError::bad_request("tagKeys is required."));
    }
    let mut world = sim.world();
    let tags = tags_of(&mut world.efs, resource)?;
    tags.retain(|t| !keys.contains(&t.key));
    Ok(tags_changed())
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListTagsForResourceOutput {
    tags: Vec<Tag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub fn list(sim: &Sim, call: &Call, resource: &str) -> Result<Reply, EfsError> {
    let page = call.page_size("MaxResults", 100)?;
    let next_token = call.query_param("NextToken")?;
    let mut world = sim.world();
    let tags = tags_of(&mut world.efs, resource)?;
    let items = tags
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, t)| (i as u64, t))
        .collect();
    let (tags, next_token) = paginate(items, next_token.as_deref(), page, "NextToken")?;
    Ok(Reply::new(json_response(
        StatusCode::OK,
        &ListTagsForResourceOutput { tags, next_token },
    )))
}
