//! CreateTags and DeleteTags on volumes, snapshots and instances. All
//! resources must exist before any is changed.

use std::collections::BTreeMap;

use axum::response::Response;

use super::query::{self, Params};
use super::xml::{Ec2Error, Xml};
use crate::config::Provider;
use crate::world::{SharedSim, World};

pub fn create(sim: &SharedSim, params: &Params) -> Result<Response, Ec2Error> {
    let resources = resource_ids(params)?;
    let tags = params.tags("Tag")?;
    if tags.is_empty() {
        return Err(query::missing("Tag"));
    }
    for (key, value) in &tags {
        query::check_tag(key, value.as_deref().unwrap_or_default())?;
    }
    let mut world = sim.world();
    for id in &resources {
        let mut merged = tags_of(&mut world, id)?.clone();
        merged.extend(
            tags.iter()
                .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default())),
        );
        query::check_tag_count(merged.len())?;
    }
    for id in &resources {
        let current = tags_of(&mut world, id)?;
        current.extend(
            tags.iter()
                .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default())),
        );
    }
    Ok(Xml::returns_true("CreateTags"))
}

pub fn delete(sim: &SharedSim, params: &Params) -> Result<Response, Ec2Error> {
    let resources = resource_ids(params)?;
    let tags = params.tags("Tag")?;
    let mut world = sim.world();
    for id in &resources {
        tags_of(&mut world, id)?;
    }
    for id in &resources {
        let current = tags_of(&mut world, id)?;
        if tags.is_empty() {
            current.clear();
        }
        for (key, value) in &tags {
            // With a value, only a tag holding that value goes.
            if value.as_ref().is_none_or(|v| current.get(key) == Some(v)) {
                current.remove(key);
            }
        }
    }
    Ok(Xml::returns_true("DeleteTags"))
}

fn resource_ids(params: &Params) -> Result<Vec<String>, Ec2Error> {
    let ids = params.list("ResourceId");
    if ids.is_empty() {
        return Err(query::missing("resourceIdSet"));
    }
    Ok(ids)
}

/// The tags of resource `id`, or EC2's error for a resource that does not exist.
fn tags_of<'w>(
    world: &'w mut World,
    id: &str,
) -> Result<&'w mut BTreeMap<String, String>, Ec2Error> {
    let World { instances, ec2, .. } = world;
    if id.starts_with("vol-") {
        ec2.volumes
            .get_mut(id)
            .map(|v| &mut v.tags)
            .ok_or_else(|| Ec2Error::volume_not_found(id))
    } else if id.starts_with("snap-") {
        ec2.snapshots
            .get_mut(id)
            .map(|s| &mut s.tags)
            .ok_or_else(|| Ec2Error::snapshot_not_found(id))
    } else if id.starts_with("i-") {
        if !instances
            .get(id)
            .is_some_and(|i| i.spec.provider == Provider::Aws)
        {
            return Err(Ec2Error::instance_not_found(id));
        }
        Ok(ec2.instance_tags.entry(id.to_string()).or_default())
    } else {
        Err(Ec2Error::bad(
            "InvalidID",
            format!("The ID '{id}' is not valid"),
        ))
    }
}
