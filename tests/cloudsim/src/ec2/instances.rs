//! DescribeInstances (the simulated AWS instances: type, zone, state,
//! subnet, private address, and their current attachments as block device
//! mappings, from which the EBS backend picks free device names) and
//! DescribeAvailabilityZones (the configured zones).

use std::collections::BTreeMap;

use axum::response::Response;
use sha2::Digest;

use super::attachments::ROOT_DEVICE;
use super::model::{self, ACCOUNT, Attachment};
use super::query::{self, Page, Params};
use super::xml::{Ec2Error, Xml};
use crate::config::{Provider, SimConfig};
use crate::world::{Instance, SharedSim};
use crate::{hypervisor, ids};

/// One instance as DescribeInstances reports it.
struct Described<'a> {
    instance: &'a Instance,
    private_ip: String,
    /// (volume id, attachment).
    mappings: Vec<(&'a str, &'a Attachment)>,
    tags: &'a BTreeMap<String, String>,
    region: &'a str,
}

pub fn describe_instances(sim: &SharedSim, params: &Params) -> Result<Response, Ec2Error> {
    let ids = params.list("InstanceId");
    let filters = params.filters()?;
    let page = Page::parse(params, 5, 1000, !ids.is_empty(), "instanceIds")?;
    let world = sim.world();
    let aws: Vec<&Instance> = world
        .instances
        .values()
        .filter(|i| i.spec.provider == Provider::Aws)
        .collect();
    for id in &ids {
        if !aws.iter().any(|i| &i.spec.id == id) {
            return Err(Ec2Error::instance_not_found(id));
        }
    }
    let no_tags = BTreeMap::new();
    let mut matching = Vec::new();
    for instance in &aws {
        let spec = &instance.spec;
        let nth_in_zone = aws
            .iter()
            .filter(|i| i.spec.zone == spec.zone)
            .position(|i| i.spec.id == spec.id)
            .unwrap_or(0);
        let zone_index = sim
            .config
            .zones
            .iter()
            .position(|z| *z == spec.zone)
            .unwrap_or(0);
        let mut mappings: Vec<(&str, &Attachment)> = world
            .ec2
            .volumes
            .values()
            .flat_map(|v| v.attachments.iter().map(move |a| (v.id.as_str(), a)))
            .filter(|(_, a)| a.instance_id == spec.id)
            .collect();
        mappings.sort_by(|a, b| a.1.device.cmp(&b.1.device));
        let described = Described {
            instance,
            private_ip: ids::private_ip(zone_index, nth_in_zone),
            mappings,
            tags: world.ec2.instance_tags.get(&spec.id).unwrap_or(&no_tags),
            region: &sim.config.region,
        };
        if query::selected(&ids, &spec.id, &filters, described.tags, |name| {
            filter_values(&described, name)
        })? {
            matching.push(described);
        }
    }
    Ok(page.respond(
        "DescribeInstances",
        "reservationSet",
        matching,
        |d| d.instance.spec.id.clone(),
        |x, d| write_reservation(x, &sim.config, &d),
    ))
}

fn state(instance: &Instance) -> (u32, &'static str) {
    if instance.running {
        (16, "running")
    } else {
        (80, "stopped")
    }
}

fn filter_values(d: &Described, name: &str) -> Option<Vec<String>> {
    let spec = &d.instance.spec;
    Some(match name {
        "instance-id" => vec![spec.id.clone()],
        "availability-zone" => vec![spec.zone.clone()],
        "instance-type" => vec![spec.instance_type.clone()],
        "instance-state-name" => vec![state(d.instance).1.to_string()],
        "instance-state-code" => vec![state(d.instance).0.to_string()],
        "private-ip-address" => vec![d.private_ip.clone()],
        "subnet-id" => vec![ids::subnet_for_zone(&spec.zone)],
        "vpc-id" => vec![ids::vpc_id(d.region)],
        "instance.group-id" | "group-id" => vec![ids::default_security_group(d.region)],
        "block-device-mapping.volume-id" => d.mappings.iter().map(|(v, _)| v.to_string()).collect(),
        "block-device-mapping.device-name" => {
            d.mappings.iter().map(|(_, a)| a.device.clone()).collect()
        }
        "block-device-mapping.status" => d
            .mappings
            .iter()
            .map(|(_, a)| a.state.as_str().to_string())
            .collect(),
        _ => return None,
    })
}

fn write_reservation(x: &mut Xml, config: &SimConfig, d: &Described) {
    let spec = &d.instance.spec;
    let (code, name) = state(d.instance);
    x.field("reservationId", format!("r-{}", short_hash(&spec.id)))
        .field("ownerId", ACCOUNT)
        .el("groupSet", |_| {})
        .list("instancesSet", [d], |x, d| {
            x.field("instanceId", &spec.id)
                .field("imageId", format!("ami-{}", short_hash("cloudsim-image")))
                .el("instanceState", |x| {
                    x.field("code", code).field("name", name);
                })
                .field(
                    "privateDnsName",
                    format!("ip-{}.ec2.internal", d.private_ip.replace('.', "-")),
                )
                .field("dnsName", "")
                .field("amiLaunchIndex", 0)
                .field("instanceType", &spec.instance_type)
                .field("launchTime", "2024-01-01T00:00:00.000Z")
                .el("placement", |x| {
                    x.field("availabilityZone", &spec.zone)
                        .opt(
                            "availabilityZoneId",
                            model::zone_id(&config.region, &config.zones, &spec.zone),
                        )
                        .field("groupName", "")
                        .field("tenancy", "default");
                })
                .el("monitoring", |x| {
                    x.field("state", "disabled");
                })
                .list(
                    "groupSet",
                    [ids::default_security_group(&config.region)],
                    |x, group| {
                        x.field("groupId", group).field("groupName", "default");
                    },
                )
                .field("subnetId", ids::subnet_for_zone(&spec.zone))
                .field("vpcId", ids::vpc_id(&config.region))
                .field("privateIpAddress", &d.private_ip)
                .field("architecture", "x86_64")
                .field("rootDeviceType", "ebs")
                .field("rootDeviceName", ROOT_DEVICE)
                .list("blockDeviceMapping", &d.mappings, |x, (volume_id, a)| {
                    x.field("deviceName", &a.device).el("ebs", |x| {
                        x.field("volumeId", volume_id)
                            .field("status", a.state.as_str())
                            .field("attachTime", &a.attach_time)
                            .field("deleteOnTermination", false);
                    });
                })
                .field("virtualizationType", "hvm")
                .field(
                    "hypervisor",
                    if hypervisor::is_nitro(&spec.instance_type) {
                        "nitro"
                    } else {
                        "xen"
                    },
                )
                .tags(d.tags)
                .field("ebsOptimized", false)
                .field("enaSupport", true);
        });
}

/// 17 hex digits derived from `text` (stable ids).
fn short_hash(text: &str) -> String {
    hex::encode(sha2::Sha256::digest(text.as_bytes()))[..17].to_string()
}

pub fn describe_availability_zones(sim: &SharedSim, params: &Params) -> Result<Response, Ec2Error> {
    let config = &sim.config;
    let names = params.list("ZoneName");
    let zone_ids = params.list("ZoneId");
    let filters = params.filters()?;
    for name in &names {
        if !config.zones.contains(name) {
            return Err(Ec2Error::invalid(format!(
                "Invalid availability zone: [{name}]"
            )));
        }
    }
    let no_tags = BTreeMap::new();
    let mut zones = Vec::new();
    for zone in &config.zones {
        let zone_id = model::zone_id(&config.region, &config.zones, zone).unwrap_or_default();
        let values = |name: &str| -> Option<Vec<String>> {
            Some(vec![match name {
                "zone-name" => zone.clone(),
                "zone-id" => zone_id.clone(),
                "state" => "available".into(),
                "region-name" => config.region.clone(),
                "zone-type" => "availability-zone".into(),
                "opt-in-status" => "opt-in-not-required".into(),
                "group-name" | "network-border-group" => config.region.clone(),
                _ => return None,
            }])
        };
        let named = (names.is_empty() && zone_ids.is_empty())
            || names.contains(zone)
            || zone_ids.contains(&zone_id);
        if named && query::all_match(&filters, &no_tags, values)? {
            zones.push((zone, zone_id));
        }
    }
    let mut x = Xml::response("DescribeAvailabilityZones");
    x.list("availabilityZoneInfo", zones, |x, (zone, zone_id)| {
        x.field("zoneName", zone)
            .field("zoneState", "available")
            .field("regionName", &config.region)
            .field("zoneId", zone_id)
            .field("optInStatus", "opt-in-not-required")
            .el("messageSet", |_| {})
            .field("groupName", &config.region)
            .field("networkBorderGroup", &config.region)
            .field("zoneType", "availability-zone");
    });
    Ok(x.finish())
}
