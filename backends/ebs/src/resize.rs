//! `resize`: grow a volume with ModifyVolume and wait until the new size is
//! usable; the host grows the filesystem afterwards. Never shrinks.

use ballast_sdk::ec2::{self, ModifyVolumeRequest, VolumeCondition};
use ballast_sdk::{Error, Result, Volume, VolumeName, log};

use crate::rules;
use crate::settings::{Config, gib_of};
use crate::tags;
use crate::volume::to_volume;

/// Grow volume `name` to `size_bytes` (whole GiB, rounded up) and wait
/// until the new size is usable; the host then grows the filesystem.
pub fn resize(config: &Config, name: &VolumeName, size_bytes: u64) -> Result<Volume> {
    let size_gib = gib_of("size", size_bytes)?;
    let volume = tags::lookup(config, name)?.survivor.ok_or_else(|| {
        Error::not_found(format!(
            "no EBS volume named {name} in cluster {}",
            config.cluster
        ))
    })?;
    check_growth(name, volume.size_gib, size_gib)?;
    if size_gib == volume.size_gib {
        return Ok(to_volume(name, &volume, None));
    }
    rules::check_size(&volume.volume_type, size_gib)?;
    let request = ModifyVolumeRequest {
        size_gib: Some(size_gib),
        volume_type: None,
        iops: None,
        throughput: None,
    };
    ec2::modify_volume(&volume.volume_id, &request)?;
    log::info(
        "resizing volume",
        &[
            ("volume", name.as_str()),
            ("volume_id", &volume.volume_id),
            ("from", &format!("{}GiB", volume.size_gib)),
            ("to", &format!("{size_gib}GiB")),
        ],
    );
    let grown = ec2::wait_volume(&volume.volume_id, &VolumeCondition::Modified, config.status)?;
    Ok(to_volume(name, &grown, None))
}

/// EBS volumes never shrink (and a filesystem cut short loses data).
fn check_growth(name: &VolumeName, current_gib: u32, asked_gib: u32) -> Result<()> {
    if asked_gib < current_gib {
        return Err(Error::invalid_argument(format!(
            "volume {name} is {current_gib} GiB; the new size {asked_gib} GiB is smaller \
             (EBS volumes cannot shrink)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_only_grow() {
        let name = VolumeName::new("pgdata").unwrap();
        check_growth(&name, 16, 16).unwrap();
        check_growth(&name, 16, 17).unwrap();
        let err = check_growth(&name, 16, 10).unwrap_err();
        assert_eq!(err.kind(), "invalid-argument");
        assert_eq!(
            err.message(),
            "volume pgdata is 16 GiB; the new size 10 GiB is smaller (EBS volumes cannot shrink)"
        );
    }
}
