//! EC2's resources as the simulator keeps them (volumes, attachments,
//! snapshots, volume modifications), how they read back in XML, and EBS's
//! per-type rules for sizes, IOPS and throughput.

use std::collections::BTreeMap;

use super::xml::{Ec2Error, Xml};

/// The account every simulated resource belongs to.
pub const ACCOUNT: &str = "123456789012";

/// EC2's state. Cloned whole for the stale-DescribeVolumes fault.
#[derive(Debug, Clone, Default)]
pub struct Ec2State {
    pub volumes: BTreeMap<String, Volume>,
    pub snapshots: BTreeMap<String, Snapshot>,
    /// The latest modification of each volume.
    pub modifications: BTreeMap<String, Modification>,
    /// CreateVolume ClientTokens: token → (parameters fingerprint, volume id).
    pub client_tokens: BTreeMap<String, (String, String)>,
    /// Tags of instances (the instances themselves live in the world).
    pub instance_tags: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone)]
pub struct Volume {
    pub id: String,
    pub size_gib: u64,
    pub volume_type: String,
    /// As reported (gp2's is derived from its size; none for st1/sc1/standard).
    pub iops: Option<u64>,
    pub throughput: Option<u64>,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    pub snapshot_id: Option<String>,
    pub zone: String,
    /// False while `creating`.
    pub created: bool,
    pub create_time: String,
    pub tags: BTreeMap<String, String>,
    pub attachments: Vec<Attachment>,
    pub multi_attach: bool,
}

impl Volume {
    /// `creating`, `in-use` (any attachment, whatever its state) or `available`.
    pub fn state(&self) -> &'static str {
        if !self.created {
            "creating"
        } else if self.attachments.is_empty() {
            "available"
        } else {
            "in-use"
        }
    }

    /// The volume's members (as in CreateVolumeResponse and each DescribeVolumes item).
    pub fn write(&self, x: &mut Xml, region: &str, zones: &[String]) {
        x.field("volumeId", &self.id)
            .field("size", self.size_gib)
            .field(
                "snapshotId",
                self.snapshot_id.as_deref().unwrap_or_default(),
            )
            .field("availabilityZone", &self.zone)
            .opt("availabilityZoneId", zone_id(region, zones, &self.zone))
            .field("status", self.state())
            .field("createTime", &self.create_time)
            .list("attachmentSet", &self.attachments, |x, a| {
                a.write(x, &self.id)
            })
            .tags(&self.tags)
            .field("volumeType", &self.volume_type)
            .opt("iops", self.iops)
            .opt("throughput", self.throughput)
            .field("encrypted", self.encrypted)
            .opt("kmsKeyId", self.kms_key_id.as_deref())
            .field("multiAttachEnabled", self.multi_attach)
            .field("fastRestored", false);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachState {
    Attaching,
    Attached,
    Detaching,
}

impl AttachState {
    pub fn as_str(self) -> &'static str {
        match self {
            AttachState::Attaching => "attaching",
            AttachState::Attached => "attached",
            AttachState::Detaching => "detaching",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Attachment {
    /// Tells this attachment from a later one of the same volume and
    /// instance (pending transitions check it).
    pub serial: String,
    pub instance_id: String,
    pub device: String,
    pub state: AttachState,
    pub attach_time: String,
    /// The volume is plugged into the instance (links and loop device).
    pub plugged: bool,
}

impl Attachment {
    pub fn write(&self, x: &mut Xml, volume_id: &str) {
        x.field("volumeId", volume_id)
            .field("instanceId", &self.instance_id)
            .field("device", &self.device)
            .field("status", self.state.as_str())
            .field("attachTime", &self.attach_time)
            .field("deleteOnTermination", false);
    }
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub id: String,
    pub volume_id: String,
    pub volume_size: u64,
    pub description: String,
    pub completed: bool,
    pub start_time: String,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl Snapshot {
    pub fn state(&self) -> &'static str {
        if self.completed {
            "completed"
        } else {
            "pending"
        }
    }

    pub fn progress(&self) -> &'static str {
        if self.completed { "100%" } else { "0%" }
    }

    pub fn write(&self, x: &mut Xml) {
        x.field("snapshotId", &self.id)
            .field("volumeId", &self.volume_id)
            .field("status", self.state())
            .field("startTime", &self.start_time)
            .field("progress", self.progress())
            .field("ownerId", ACCOUNT)
            .field("volumeSize", self.volume_size)
            .field("description", &self.description)
            .field("encrypted", self.encrypted)
            .opt("kmsKeyId", self.kms_key_id.as_deref())
            .tags(&self.tags)
            .field("storageTier", "standard");
    }
}

#[derive(Debug, Clone)]
pub struct Modification {
    pub volume_id: String,
    /// modifying → optimizing → completed.
    pub state: &'static str,
    pub serial: String,
    pub original: Shape,
    pub target: Shape,
    pub start_time: String,
    pub end_time: Option<String>,
}

impl Modification {
    pub fn progress(&self) -> u64 {
        match self.state {
            "modifying" => 0,
            "optimizing" => 50,
            _ => 100,
        }
    }

    pub fn write(&self, x: &mut Xml) {
        x.field("volumeId", &self.volume_id)
            .field("modificationState", self.state)
            .field("targetSize", self.target.size_gib)
            .opt("targetIops", self.target.iops)
            .field("targetVolumeType", &self.target.volume_type)
            .opt("targetThroughput", self.target.throughput)
            .field("targetMultiAttachEnabled", self.target.multi_attach)
            .field("originalSize", self.original.size_gib)
            .opt("originalIops", self.original.iops)
            .field("originalVolumeType", &self.original.volume_type)
            .opt("originalThroughput", self.original.throughput)
            .field("originalMultiAttachEnabled", self.original.multi_attach)
            .field("progress", self.progress())
            .field("startTime", &self.start_time)
            .opt("endTime", self.end_time.as_deref());
    }
}

/// What ModifyVolume can change.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub size_gib: u64,
    pub volume_type: String,
    pub iops: Option<u64>,
    pub throughput: Option<u64>,
    pub multi_attach: bool,
}

impl Shape {
    pub fn of(volume: &Volume) -> Shape {
        Shape {
            size_gib: volume.size_gib,
            volume_type: volume.volume_type.clone(),
            iops: volume.iops,
            throughput: volume.throughput,
            multi_attach: volume.multi_attach,
        }
    }
}

pub const VOLUME_TYPES: &[&str] = &["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"];

/// A volume type must be one EBS knows.
pub fn check_type(volume_type: &str) -> Result<(), Ec2Error> {
    if VOLUME_TYPES.contains(&volume_type) {
        Ok(())
    } else {
        Err(Ec2Error::invalid(format!(
            "Value ({volume_type}) for parameter volumeType is invalid. Valid values are: {}",
            VOLUME_TYPES.join(", ")
        )))
    }
}

/// Size limits (GiB) of each type.
pub fn check_size(volume_type: &str, size_gib: i64) -> Result<(), Ec2Error> {
    let (min, max) = match volume_type {
        "io1" => (4, 16384),
        "io2" => (4, 65536),
        "st1" | "sc1" => (125, 16384),
        "standard" => (1, 1024),
        _ => (1, 16384),
    };
    if size_gib < min {
        return Err(Ec2Error::invalid(format!(
            "Volume of {size_gib}GiB is too small; minimum is {min}GiB."
        )));
    }
    if size_gib > max {
        return Err(Ec2Error::invalid(format!(
            "Volume of {size_gib}GiB is too large; maximum is {max}GiB."
        )));
    }
    Ok(())
}

/// The IOPS a volume of this type and size gets, given what was asked:
/// required for io1/io2, optional for gp3 (3000 by default), refused for
/// the others (gp2 derives 3 IOPS per GiB, 100–16000).
pub fn resolve_iops(
    volume_type: &str,
    size_gib: u64,
    asked: Option<i64>,
) -> Result<Option<u64>, Ec2Error> {
    let (min, max, per_gib) = match volume_type {
        "gp3" => (3000, 16000, 500),
        "io1" => (100, 64000, 50),
        "io2" => (100, 256000, 1000),
        other => {
            if asked.is_some() {
                return Err(Ec2Error::combination(format!(
                    "The parameter iops is not supported for {other} volumes."
                )));
            }
            return Ok((other == "gp2").then(|| (3 * size_gib).clamp(100, 16000)));
        }
    };
    let iops = match (asked, volume_type) {
        (Some(iops), _) => iops,
        (None, "gp3") => 3000,
        (None, _) => return Err(super::query::missing("iops")),
    };
    if !(min..=max).contains(&iops) {
        return Err(Ec2Error::invalid(format!(
            "Volume iops of {iops} is outside the range {min}-{max} for {volume_type} volumes."
        )));
    }
    let baseline = if volume_type == "gp3" { 3000 } else { 0 };
    if iops > baseline && iops as u64 > per_gib * size_gib {
        return Err(Ec2Error::invalid(format!(
            "Iops to volume size ratio of {:.6} is too high; maximum is {per_gib}.000000",
            iops as f64 / size_gib as f64
        )));
    }
    Ok(Some(iops as u64))
}

/// Throughput (MiB/s): gp3 only, 125–1000 (125 by default), at most a
/// quarter of the IOPS.
pub fn resolve_throughput(
    volume_type: &str,
    iops: Option<u64>,
    asked: Option<i64>,
) -> Result<Option<u64>, Ec2Error> {
    if volume_type != "gp3" {
        return match asked {
            Some(_) => Err(Ec2Error::combination(format!(
                "The parameter throughput is not supported for {volume_type} volumes."
            ))),
            None => Ok(None),
        };
    }
    let throughput = asked.unwrap_or(125);
    if !(125..=1000).contains(&throughput) {
        return Err(Ec2Error::invalid(format!(
            "Throughput of {throughput} MiBps is outside the range 125-1000 for gp3 volumes."
        )));
    }
    let iops = iops.unwrap_or(3000);
    if throughput as u64 * 4 > iops {
        return Err(Ec2Error::invalid(format!(
            "Throughput (MiBps) to iops ratio of {:.6} is too high; maximum is 0.250000 MiBps per iops.",
            throughput as f64 / iops as f64
        )));
    }
    Ok(Some(throughput as u64))
}

/// Multi-Attach is for io1/io2 only.
pub fn check_multi_attach(volume_type: &str, multi_attach: bool) -> Result<(), Ec2Error> {
    if multi_attach && !matches!(volume_type, "io1" | "io2") {
        return Err(Ec2Error::combination(format!(
            "Multi-Attach is supported only for io1 and io2 volumes, not {volume_type}."
        )));
    }
    Ok(())
}

/// A zone's id, `use1-az1` style (position in the configured zones).
pub fn zone_id(region: &str, zones: &[String], zone: &str) -> Option<String> {
    let index = zones.iter().position(|z| z == zone)?;
    let parts: Vec<&str> = region.split('-').collect();
    let short = match parts[..] {
        [geo, direction, number] => {
            format!("{geo}{}{number}", direction.chars().next().unwrap_or('x'))
        }
        _ => region.replace('-', ""),
    };
    Some(format!("{short}-az{}", index + 1))
}

/// The default EBS KMS key of the region, as an ARN.
pub fn default_kms_key(region: &str) -> String {
    format!("arn:aws:kms:{region}:{ACCOUNT}:key/0e0b5d3f-8c1a-4e6b-9a47-ebsdefa17c0d")
}

/// A KmsKeyId as EC2 reports it: an ARN.
pub fn kms_arn(region: &str, key: &str) -> String {
    if key.starts_with("arn:") {
        key.to_string()
    } else if key.starts_with("alias/") {
        format!("arn:aws:kms:{region}:{ACCOUNT}:{key}")
    } else {
        format!("arn:aws:kms:{region}:{ACCOUNT}:key/{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_rules() {
        assert_eq!(resolve_iops("gp2", 10, None).unwrap(), Some(100));
        assert_eq!(resolve_iops("gp2", 1000, None).unwrap(), Some(3000));
        assert_eq!(resolve_iops("gp3", 1, None).unwrap(), Some(3000));
        assert_eq!(resolve_iops("st1", 500, None).unwrap(), None);
        assert_eq!(
            resolve_iops("gp2", 10, Some(300)).unwrap_err().code,
            "InvalidParameterCombination"
        );
        assert_eq!(
            resolve_iops("io1", 10, None).unwrap_err().code,
            "MissingParameter"
        );
        assert_eq!(
            resolve_iops("io1", 10, Some(1000)).unwrap_err().code,
            "InvalidParameterValue"
        );
        assert_eq!(resolve_iops("io2", 10, Some(1000)).unwrap(), Some(1000));
        assert_eq!(
            resolve_throughput("gp3", Some(3000), None).unwrap(),
            Some(125)
        );
        assert_eq!(
            resolve_throughput("gp3", Some(3000), Some(1000))
                .unwrap_err()
                .code,
            "InvalidParameterValue"
        );
        assert_eq!(
            resolve_throughput("gp2", None, Some(125)).unwrap_err().code,
            "InvalidParameterCombination"
        );
        assert!(check_size("st1", 100).is_err());
        assert!(check_size("standard", 1025).is_err());
        assert!(check_size("gp3", 16384).is_ok());
    }

    #[test]
    fn zone_ids() {
        let zones = vec!["us-east-1a".to_string(), "us-east-1b".to_string()];
        assert_eq!(
            zone_id("us-east-1", &zones, "us-east-1b").as_deref(),
            Some("use1-az2")
        );
        assert_eq!(zone_id("us-east-1", &zones, "us-west-2a"), None);
    }
}
