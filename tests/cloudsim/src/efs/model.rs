//! EFS's resources as the simulator keeps them, how EFS describes them in
//! JSON, and the naming rules shared by the actions (ARNs, zones, the VPC).

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::ACCOUNT_ID;
use super::errors::EfsError;
use crate::config::SimConfig;
use crate::ids;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct FileSystem {
    pub seq: u64,
    pub id: String,
    pub creation_token: String,
    /// Seconds since the epoch.
    pub creation_time: f64,
    /// creating → available → deleting.
    pub life_cycle_state: String,
    pub performance_mode: String,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    pub throughput_mode: String,
    pub provisioned_throughput_in_mibps: Option<f64>,
    /// One Zone file systems only.
    pub availability_zone_name: Option<String>,
    pub backup: bool,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone)]
pub struct MountTarget {
    pub seq: u64,
    pub id: String,
    pub file_system_id: String,
    pub subnet_id: String,
    pub zone: String,
    pub ip_address: String,
    pub network_interface_id: String,
    pub security_groups: Vec<String>,
    /// creating → available → deleting.
    pub life_cycle_state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PosixUser {
    pub uid: i64,
    pub gid: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_gids: Option<Vec<i64>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreationInfo {
    pub owner_uid: i64,
    pub owner_gid: i64,
    pub permissions: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootDirectory {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_info: Option<CreationInfo>,
}

#[derive(Debug, Clone)]
pub struct AccessPoint {
    pub seq: u64,
    pub id: String,
    pub client_token: String,
    pub file_system_id: String,
    pub posix_user: Option<PosixUser>,
    pub root_directory: RootDirectory,
    pub tags: Vec<Tag>,
    /// creating → available → deleting.
    pub life_cycle_state: String,
}

/// The value of the `Name` tag, which EFS reports as the resource's name.
fn name_of(tags: &[Tag]) -> Option<String> {
    tags.iter()
        .find(|t| t.key == "Name")
        .map(|t| t.value.clone())
}

pub fn file_system_arn(region: &str, id: &str) -> String {
    format!("arn:aws:elasticfilesystem:{region}:{ACCOUNT_ID}:file-system/{id}")
}

pub fn access_point_arn(region: &str, id: &str) -> String {
    format!("arn:aws:elasticfilesystem:{region}:{ACCOUNT_ID}:access-point/{id}")
}

/// An id given as itself or as its ARN (`…:file-system/fs-…`).
pub fn resource_id(given: &str) -> &str {
    if given.starts_with("arn:") {
        given.rsplit('/').next().unwrap_or(given)
    } else {
        given
    }
}

/// The KMS key EFS reports: an ARN as given, a key id or alias as an ARN,
/// and without a key the account's default `aws/elasticfilesystem` key.
pub fn kms_key_arn(region: &str, given: Option<&str>) -> String {
    match given {
        Some(arn) if arn.starts_with("arn:") => arn.to_string(),
        Some(alias) if alias.starts_with("alias/") => {
            format!("arn:aws:kms:{region}:{ACCOUNT_ID}:{alias}")
        }
        Some(key) => format!("arn:aws:kms:{region}:{ACCOUNT_ID}:key/{key}"),
        None => {
            let digest = hex::encode(sha2::Sha256::digest(format!(
                "aws/elasticfilesystem/{region}"
            )));
            let uuid = format!(
                "{}-{}-{}-{}-{}",
                &digest[..8],
                &digest[8..12],
                &digest[12..16],
                &digest[16..20],
                &digest[20..32]
            );
            format!("arn:aws:kms:{region}:{ACCOUNT_ID}:key/{uuid}")
        }
    }
}

/// The simulated region's one VPC (holding every zone's subnet) and its
/// default security group, as EC2 and instance metadata name them too.
pub use crate::ids::{default_security_group, vpc_id};

/// AWS's zone id for the `index`th configured zone: `use1-az1`, `euw2-az3`,
/// `apse1-az2`…
pub fn zone_id(region: &str, index: usize) -> String {
    let mut parts = region.split('-');
    let area = parts.next().unwrap_or_default();
    let direction: String = parts
        .next()
        .unwrap_or_default()
        .replace("north", "n")
        .replace("south", "s")
        .replace("east", "e")
        .replace("west", "w")
        .replace("central", "c");
    let number = parts.next().unwrap_or_default();
    format!("{area}{direction}{number}-az{}", index + 1)
}

/// The zone (name, index) whose subnet is `subnet_id`.
pub fn zone_of_subnet(config: &SimConfig, subnet_id: &str) -> Option<(String, usize)> {
    config
        .zones
        .iter()
        .enumerate()
        .find(|(_, zone)| ids::subnet_for_zone(zone) == subnet_id)
        .map(|(i, z)| (z.clone(), i))
}

pub fn zone_index(config: &SimConfig, zone: &str) -> Option<usize> {
    config.zones.iter().position(|z| z == zone)
}

/// EFS's tag rules: at most 50, keys 1–128 characters, values up to 256.
pub fn check_tags(tags: &[Tag]) -> Result<(), EfsError> {
    if tags.len() > 50 {
        return Err(EfsError::bad_request(
            "A resource can have at most 50 tags.",
        ));
    }
    for tag in tags {
        if tag.key.is_empty() || tag.key.chars().count() > 128 {
            return Err(EfsError::bad_request(format!(
                "Tag key '{}' must be 1 to 128 characters long.",
                tag.key
            )));
        }
        if tag.value.chars().count() > 256 {
            return Err(EfsError::bad_request(format!(
                "The value of tag '{}' is longer than 256 characters.",
                tag.key
            )));
        }
        if tag.key.starts_with("aws:") {
            return Err(EfsError::bad_request(
                "Tag keys starting with 'aws:' are reserved.",
            ));
        }
    }
    Ok(())
}

/// `tags` with `new` merged in: a key already present takes the new value
/// in place, new keys come last.
pub fn merge_tags(tags: &mut Vec<Tag>, new: Vec<Tag>) {
    for tag in new {
        match tags.iter_mut().find(|t| t.key == tag.key) {
            Some(existing) => existing.value = tag.value,
            None => tags.push(tag),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileSystemSize {
    value: u64,
    #[serde(rename = "ValueInIA")]
    value_in_i_a: u64,
    value_in_standard: u64,
    value_in_archive: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileSystemProtection {
    replication_overwrite_protection: &'static str,
}

/// `FileSystemDescription` as EFS sends it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileSystemDescription {
    owner_id: &'static str,
    creation_token: String,
    file_system_id: String,
    file_system_arn: String,
    creation_time: f64,
    life_cycle_state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    number_of_mount_targets: usize,
    size_in_bytes: FileSystemSize,
    performance_mode: String,
    encrypted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
    throughput_mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    provisioned_throughput_in_mibps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    availability_zone_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    availability_zone_id: Option<String>,
    tags: Vec<Tag>,
    file_system_protection: FileSystemProtection,
}

impl FileSystem {
    pub fn describe(
        &self,
        config: &SimConfig,
        number_of_mount_targets: usize,
    ) -> FileSystemDescription {
        // An empty EFS file system meters 6 KiB of metadata.
        let size = 6144;
        FileSystemDescription {
            owner_id: ACCOUNT_ID,
            creation_token: self.creation_token.clone(),
            file_system_id: self.id.clone(),
            file_system_arn: file_system_arn(&config.region, &self.id),
            creation_time: self.creation_time,
            life_cycle_state: self.life_cycle_state.clone(),
            name: name_of(&self.tags),
            number_of_mount_targets,
            size_in_bytes: FileSystemSize {
                value: size,
                value_in_i_a: 0,
                value_in_standard: size,
                value_in_archive: 0,
            },
            performance_mode: self.performance_mode.clone(),
            encrypted: self.encrypted,
            kms_key_id: self.kms_key_id.clone(),
            throughput_mode: self.throughput_mode.clone(),
            provisioned_throughput_in_mibps: self.provisioned_throughput_in_mibps,
            availability_zone_name: self.availability_zone_name.clone(),
            availability_zone_id: self
                .availability_zone_name
                .as_deref()
                .and_then(|zone| zone_index(config, zone))
                .map(|i| zone_id(&config.region, i)),
            tags: self.tags.clone(),
            file_system_protection: FileSystemProtection {
                replication_overwrite_protection: "ENABLED",
            },
        }
    }
}

/// `MountTargetDescription` as EFS sends it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountTargetDescription {
    owner_id: &'static str,
    mount_target_id: String,
    file_system_id: String,
    subnet_id: String,
    life_cycle_state: String,
    ip_address: String,
    network_interface_id: String,
    availability_zone_id: String,
    availability_zone_name: String,
    vpc_id: String,
}

impl MountTarget {
    pub fn describe(&self, config: &SimConfig) -> MountTargetDescription {
        MountTargetDescription {
            owner_id: ACCOUNT_ID,
            mount_target_id: self.id.clone(),
            file_system_id: self.file_system_id.clone(),
            subnet_id: self.subnet_id.clone(),
            life_cycle_state: self.life_cycle_state.clone(),
            ip_address: self.ip_address.clone(),
            network_interface_id: self.network_interface_id.clone(),
            availability_zone_id: zone_id(
                &config.region,
                zone_index(config, &self.zone).unwrap_or_default(),
            ),
            availability_zone_name: self.zone.clone(),
            vpc_id: vpc_id(&config.region),
        }
    }
}

/// `AccessPointDescription` as EFS sends it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessPointDescription {
    client_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    tags: Vec<Tag>,
    access_point_id: String,
    access_point_arn: String,
    file_system_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    posix_user: Option<PosixUser>,
    root_directory: RootDirectory,
    owner_id: &'static str,
    life_cycle_state: String,
}

impl AccessPoint {
    pub fn describe(&self, config: &SimConfig) -> AccessPointDescription {
        AccessPointDescription {
            client_token: self.client_token.clone(),
            name: name_of(&self.tags),
            tags: self.tags.clone(),
            access_point_id: self.id.clone(),
            access_point_arn: access_point_arn(&config.region, &self.id),
            file_system_id: self.file_system_id.clone(),
            posix_user: self.posix_user.clone(),
            root_directory: self.root_directory.clone(),
            owner_id: ACCOUNT_ID,
            life_cycle_state: self.life_cycle_state.clone(),
        }
    }
}

/// Seconds since the epoch, with milliseconds.
pub fn now_epoch_seconds() -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (now.as_millis() as f64) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_ids_follow_aws_naming() {
        assert_eq!(zone_id("us-east-1", 0), "use1-az1");
        assert_eq!(zone_id("eu-west-2", 2), "euw2-az3");
        assert_eq!(zone_id("ap-southeast-1", 1), "apse1-az2");
        assert_eq!(zone_id("ca-central-1", 0), "cac1-az1");
    }

    #[test]
    fn ids_and_arns() {
        assert_eq!(
            resource_id("arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-0123"),
            "fs-0123"
        );
        assert_eq!(resource_id("fsap-1"), "fsap-1");
        assert!(vpc_id("us-east-1").starts_with("vpc-"));
        assert_eq!(vpc_id("us-east-1").len(), 4 + 17);
        assert!(
            kms_key_arn("us-east-1", None).starts_with("arn:aws:kms:us-east-1:123456789012:key/")
        );
        assert_eq!(
            kms_key_arn("us-east-1", Some("k1")),
            "arn:aws:kms:us-east-1:123456789012:key/k1"
        );
    }
}
